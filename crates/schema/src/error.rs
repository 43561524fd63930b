//! The schema crate's one error type: I/O, bad records (with file, line and field), bad values.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong reading, writing or converting schema records.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done ("open", "write", "rename into place", ...).
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// One line of a JSONL file is not a valid record.
    #[error("{}:{line}{}: {location}: {message}", path.display(), column.map(|c| format!(":{c}")).unwrap_or_default())]
    Record {
        /// The file holding the record.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column, when the JSON parser reports one.
        column: Option<usize>,
        /// The field at fault, as a path like `steps[1].step.calls[0].arguments`.
        location: FieldPath,
        /// What is wrong with it.
        message: String,
    },
    /// An in-memory JSON value is not of the expected shape.
    #[error("invalid {what}: {location}: {message}")]
    Invalid {
        /// What was being converted ("OpenAI tool", "tool call", ...).
        what: &'static str,
        /// The field at fault.
        location: FieldPath,
        /// What is wrong with it.
        message: String,
    },
}

/// The path of a field inside a record, as JSON access syntax (`a.b[2].c`); empty for the
/// record itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub String);

impl FieldPath {
    /// The whole record.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// A field path from its textual form.
    pub fn new(path: impl Into<String>) -> Self {
        Self(path.into())
    }

    /// Converts a `serde_path_to_error` path, mapping its root (`.`) to the empty path.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        let text = path.to_string();
        if text == "." {
            Self::root()
        } else {
            Self(text)
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("record")
        } else {
            write!(f, "field `{}`", self.0)
        }
    }
}

impl Error {
    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(what: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            location: FieldPath::new(field),
            message: message.into(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Deserializes a record from a JSON value, reporting the path of the offending field.
pub fn from_value<T: serde::de::DeserializeOwned>(
    what: &'static str,
    value: &serde_json::Value,
) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| Error::Invalid {
        what,
        location: FieldPath::from_serde(e.path()),
        message: e.into_inner().to_string(),
    })
}
