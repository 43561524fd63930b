//! `schema_version`: the format version every record carries, checked when a record is read.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

/// The record format version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The format version of one record. Records written without one are read as version 1;
/// a version newer than [`SCHEMA_VERSION`] is refused with a clear error instead of being
/// misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SchemaVersion(u32);

impl SchemaVersion {
    /// The version this build writes.
    pub const CURRENT: Self = Self(SCHEMA_VERSION);

    /// The version number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for SchemaVersion {
    fn default() -> Self {
        Self::CURRENT
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(deserializer)?;
        if v == 0 || v > SCHEMA_VERSION {
            return Err(serde::de::Error::custom(format!(
                "unsupported schema_version {v}: this build reads versions 1 to {SCHEMA_VERSION}"
            )));
        }
        Ok(Self(v))
    }
}

impl JsonSchema for SchemaVersion {
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Record format version; absent means 1.",
            "type": "integer",
            "minimum": 1,
            "maximum": SCHEMA_VERSION,
        })
    }
}
