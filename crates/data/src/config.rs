//! The data configuration (`configs/data/*.toml`): one file with a section per stage, read
//! with unknown fields refused and validated once into [`DataConfig`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clean::CleanSettings;
use crate::error::{Error, Result};
use crate::minhash::MinHashParams;
use crate::mix::MixSettings;
use crate::split::SplitSettings;

/// Leakage check settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeakageSettings {
    /// The check fails when a held-out query is more similar than this to a training query.
    pub max_similarity: f64,
}

impl Default for LeakageSettings {
    fn default() -> Self {
        Self {
            max_similarity: 0.8,
        }
    }
}

/// Statistics settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatsSettings {
    /// Bins of the length histogram.
    pub histogram_bins: usize,
    /// Draw PNG charts.
    pub charts: bool,
}

impl Default for StatsSettings {
    fn default() -> Self {
        Self {
            histogram_bins: 20,
            charts: true,
        }
    }
}

/// Every setting of the data stage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// The seed of every random choice (sampling, shuffling, split order).
    pub seed: u64,
    /// MinHash / LSH parameters for near duplicates and grouping.
    pub minhash: MinHashParams,
    /// Cleaning.
    pub clean: CleanSettings,
    /// Mixing ratios.
    pub mix: MixSettings,
    /// Splits.
    pub split: SplitSettings,
    /// Leakage check.
    pub leakage: LeakageSettings,
    /// Statistics.
    pub stats: StatsSettings,
}

impl DataConfig {
    /// Reads and validates a TOML file. Errors name the file, and the line and field for
    /// syntax errors and unknown fields.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config { message, .. } => Error::Config {
                path: Some(path.to_path_buf()),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let cfg: Self = toml::from_str(text).map_err(|e| Error::Config {
            path: None,
            message: e.to_string().trim_end().to_owned(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every section.
    pub fn validate(&self) -> Result<()> {
        self.minhash.validate()?;
        self.mix.validate()?;
        self.split.validate()?;
        let t = self.leakage.max_similarity;
        if !(t > 0.0 && t <= 1.0) {
            return Err(Error::Config {
                path: None,
                message: format!("leakage.max_similarity must be in (0, 1], got {t}"),
            });
        }
        if self.stats.histogram_bins == 0 || self.stats.histogram_bins > 1000 {
            return Err(Error::Config {
                path: None,
                message: format!(
                    "stats.histogram_bins must be in 1..=1000, got {}",
                    self.stats.histogram_bins
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/data/default.toml");
        let cfg = DataConfig::load(&path).map_err(|e| e.to_string());
        assert!(cfg.is_ok(), "{cfg:?}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let e = DataConfig::parse("[minhash]\nnum_perms = 64\n").map_err(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_err_and(|m| m.contains("num_perms") && m.contains("line 2")),
            "{e:?}"
        );
        let e =
            DataConfig::parse("[split]\nvalidation = 0.6\ntest = 0.5\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("sum below 1")));
        let e = DataConfig::parse("[mix]\nsimple_to_complex = -1\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("positive number")));
        assert_eq!(DataConfig::parse("").ok(), Some(DataConfig::default()));
    }
}
