//! The data configuration (`configs/data/*.toml`): one file with a section per stage, read
//! with unknown fields refused and validated once into [`DataConfig`].

use std::path::{Path, PathBuf};

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

/// Scenario synthesis settings (`data synth`, and the first stage of `data build`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Trajectories to generate (0 = no synthesis in `data build`).
    pub count: usize,
    /// Seed of the synthesis; absent = the top-level `seed`.
    pub seed: Option<u64>,
    /// Relative scenario weights (`weather = 2.0`); a scenario not listed weighs 1.
    pub weights: std::collections::BTreeMap<String, f64>,
    /// Share of positive queries whose trajectory starts with a failed attempt, a give-up
    /// and a restart (rendered by templates that can restart: `toolllama`, `toolllama_zh`).
    pub restart_share: f64,
    /// Scenarios to draw from (`weather`, `travel`, ...); empty = all.
    pub scenarios: Vec<String>,
    /// Query languages (`en`, `zh`); empty = both.
    pub languages: Vec<String>,
    /// Positive : hard-negative ratio; absent = `mix.positive_to_hard_negative`.
    pub positive_to_hard_negative: Option<f64>,
    /// Simple : complex ratio of positives; absent = `mix.simple_to_complex`.
    pub simple_to_complex: Option<f64>,
    /// Most distractor tools offered beside the needed ones.
    pub max_distractors: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            count: 1000,
            seed: None,
            weights: std::collections::BTreeMap::new(),
            restart_share: 0.05,
            scenarios: Vec::new(),
            languages: Vec::new(),
            positive_to_hard_negative: None,
            simple_to_complex: None,
            max_distractors: 3,
        }
    }
}

/// Shares of the positive function-calling kinds (`[fc.shares]`, relative weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcSharesConfig {
    /// One function offered, one call.
    pub simple: f64,
    /// Several offered, one called.
    pub multiple: f64,
    /// Several calls of one function.
    pub parallel: f64,
    /// Calls of several functions.
    pub parallel_multiple: f64,
}

impl Default for FcSharesConfig {
    fn default() -> Self {
        let d = crate::fc::FcShares::default();
        Self {
            simple: d.simple,
            multiple: d.multiple,
            parallel: d.parallel,
            parallel_multiple: d.parallel_multiple,
        }
    }
}

impl FcSharesConfig {
    /// As the synthesiser's shares.
    pub fn shares(&self) -> crate::fc::FcShares {
        crate::fc::FcShares {
            simple: self.simple,
            multiple: self.multiple,
            parallel: self.parallel,
            parallel_multiple: self.parallel_multiple,
        }
    }
}

/// Function-calling synthesis settings (`data synth --fc`, `data tools synth`, and a stage of
/// `data build`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FcConfig {
    /// Function-calling trajectories (0 = none in `data build`).
    pub count: usize,
    /// Seed; absent = the top-level `seed`.
    pub seed: Option<u64>,
    /// Synthetic tool specs generated as the catalog (0 = only `catalogs`).
    pub tools: usize,
    /// Tool catalog files (JSONL or JSON lists of OpenAI functions) used as well.
    pub catalogs: Vec<PathBuf>,
    /// Share of synthetic tool descriptions written in Chinese.
    pub zh_share: f64,
    /// Query languages (`en`, `zh`); empty = both.
    pub languages: Vec<String>,
    /// Positive : irrelevance ratio.
    pub positive_to_irrelevance: f64,
    /// Most functions offered in one record.
    pub max_offered: usize,
    /// Chance that a query gives an optional parameter.
    pub optional_given: f64,
    /// BFCL data folder to check synthetic functions against (skipped when absent).
    pub bfcl_data: PathBuf,
    /// Functions at least this similar to a BFCL function document are left out.
    pub overlap_threshold: f64,
    /// Shares of the positive kinds.
    pub shares: FcSharesConfig,
}

impl Default for FcConfig {
    fn default() -> Self {
        Self {
            count: 0,
            seed: None,
            tools: 400,
            catalogs: Vec::new(),
            zh_share: 0.3,
            languages: Vec::new(),
            positive_to_irrelevance: 4.0,
            max_offered: 4,
            optional_given: 0.4,
            bfcl_data: PathBuf::from("data/cache/bfcl/data"),
            overlap_threshold: 0.7,
            shares: FcSharesConfig::default(),
        }
    }
}

/// Rendering settings: the agent-template mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    /// Template specs (shipped ids, files, folders, patterns); empty = every shipped template.
    pub templates: Vec<String>,
    /// One weight per template; empty = equal.
    pub weights: Vec<f64>,
    /// Templates each trajectory is rendered under.
    pub per_record: usize,
    /// Try the templates in the query's language first (zh queries get `react_zh`,
    /// `toolllama_zh` when the mix has them).
    pub match_language: bool,
}

impl Default for RenderConfig {
    fn default() -> Self {
        Self {
            templates: Vec::new(),
            weights: Vec::new(),
            per_record: 2,
            match_language: true,
        }
    }
}

/// One user file imported by `data build` (`[[import]]`): a public agent data set or general
/// SFT data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSource {
    /// The file or folder (relative paths are relative to the current directory).
    pub path: PathBuf,
    /// Its format (`toolbench`, `sharegpt`, `openai`, ...; see `data import`).
    pub format: String,
    /// Scenario label for records whose format gives none.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Skip unreadable records (reported) instead of failing.
    #[serde(default)]
    pub skip_invalid: bool,
}

/// Training shard settings (`data build`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShardsConfig {
    /// The model whose tokenizer and chat template to use: a known name (`smollm2`), a GGUF
    /// file or an HF folder. Empty = no shards.
    pub model: String,
    /// Longest packed row in tokens.
    pub max_len: usize,
    /// Rows per shard file.
    pub rows_per_shard: usize,
}

impl Default for ShardsConfig {
    fn default() -> Self {
        Self {
            model: "smollm2".into(),
            max_len: 2048,
            rows_per_shard: 1024,
        }
    }
}

/// `data build` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// The output folder (relative to the current directory).
    pub output_dir: PathBuf,
}

impl Default for BuildConfig {
    fn default() -> Self {
        Self {
            output_dir: PathBuf::from("data/build"),
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
    /// Scenario synthesis.
    pub synth: SynthConfig,
    /// Function-calling synthesis over synthetic or imported tools.
    pub fc: FcConfig,
    /// Rendering under agent templates.
    pub render: RenderConfig,
    /// User files imported by `data build`.
    pub import: Vec<ImportSource>,
    /// Training shards.
    pub shards: ShardsConfig,
    /// `data build`.
    pub build: BuildConfig,
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
        let bad = |message: String| Error::Config {
            path: None,
            message,
        };
        for sc in &self.synth.scenarios {
            sc.parse::<crate::synth::Scenario>()
                .map_err(|e| bad(format!("synth.scenarios: {e}")))?;
        }
        for (sc, w) in &self.synth.weights {
            sc.parse::<crate::synth::Scenario>()
                .map_err(|e| bad(format!("synth.weights: {e}")))?;
            if !w.is_finite() || *w < 0.0 {
                return Err(bad(format!(
                    "synth.weights.{sc} must be a finite number >= 0, got {w}"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.synth.restart_share) {
            return Err(bad(format!(
                "synth.restart_share must be between 0 and 1, got {}",
                self.synth.restart_share
            )));
        }
        for l in &self.synth.languages {
            l.parse::<crate::synth::Lang>()
                .map_err(|e| bad(format!("synth.languages: {e}")))?;
        }
        for (name, v) in [
            (
                "synth.positive_to_hard_negative",
                self.synth.positive_to_hard_negative,
            ),
            ("synth.simple_to_complex", self.synth.simple_to_complex),
        ] {
            if let Some(v) = v.filter(|v| !v.is_finite() || *v < 0.0) {
                return Err(bad(format!("{name} must be a finite number >= 0, got {v}")));
            }
        }
        for l in &self.fc.languages {
            l.parse::<crate::synth::Lang>()
                .map_err(|e| bad(format!("fc.languages: {e}")))?;
        }
        for (name, x) in [
            ("fc.zh_share", self.fc.zh_share),
            ("fc.optional_given", self.fc.optional_given),
            ("fc.overlap_threshold", self.fc.overlap_threshold),
        ] {
            if !(0.0..=1.0).contains(&x) {
                return Err(bad(format!("{name} must be between 0 and 1, got {x}")));
            }
        }
        let sh = &self.fc.shares;
        for (name, x) in [
            (
                "fc.positive_to_irrelevance",
                self.fc.positive_to_irrelevance,
            ),
            ("fc.shares.simple", sh.simple),
            ("fc.shares.multiple", sh.multiple),
            ("fc.shares.parallel", sh.parallel),
            ("fc.shares.parallel_multiple", sh.parallel_multiple),
        ] {
            if !x.is_finite() || x < 0.0 {
                return Err(bad(format!("{name} must be a finite number >= 0, got {x}")));
            }
        }
        if self.fc.max_offered < 2 {
            return Err(bad(format!(
                "fc.max_offered must be at least 2, got {}",
                self.fc.max_offered
            )));
        }
        if self.render.per_record == 0 {
            return Err(bad("render.per_record must be at least 1".into()));
        }
        if !self.render.weights.is_empty()
            && self.render.weights.len() != self.render.templates.len()
        {
            return Err(bad(format!(
                "render.weights has {} entries for {} templates (one weight per template)",
                self.render.weights.len(),
                self.render.templates.len()
            )));
        }
        for (i, src) in self.import.iter().enumerate() {
            src.format
                .parse::<crate::import::Format>()
                .map_err(|e| bad(format!("import[{i}].format: {e}")))?;
        }
        if self.shards.max_len == 0 || self.shards.max_len > u32::MAX as usize {
            return Err(bad(format!(
                "shards.max_len must be between 1 and {}, got {}",
                u32::MAX,
                self.shards.max_len
            )));
        }
        if self.shards.rows_per_shard == 0 {
            return Err(bad("shards.rows_per_shard must be at least 1".into()));
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
        let e =
            DataConfig::parse("[synth]\ncount = 5\nrestarts = 0.1\n").map_err(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_err_and(|m| m.contains("restarts") && m.contains("line 3")),
            "{e:?}"
        );
        let e = DataConfig::parse("[fc.shares]\nparallel = -1\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("fc.shares.parallel")));
        let e = DataConfig::parse("[fc]\nlanguages = [\"fr\"]\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("fc.languages")));
        let e = DataConfig::parse("[synth.weights]\nstocks = 2.0\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("stocks")));
        let e = DataConfig::parse("[synth]\nrestart_share = 1.5\n").map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("restart_share")));
        let e = DataConfig::parse("[[import]]\npath = \"x\"\nformat = \"csv\"\n")
            .map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("import[0].format")));
        let cfg = DataConfig::parse(
            "[synth]\ncount = 7\nseed = 3\n[synth.weights]\nweather = 2.5\n[[import]]\npath = \"g.jsonl\"\nformat = \"sharegpt\"\n",
        )
        .map_err(|e| e.to_string());
        assert!(
            cfg.as_ref().is_ok_and(|c| c.synth.count == 7
                && c.synth.seed == Some(3)
                && c.synth.weights.get("weather") == Some(&2.5)
                && c.import.len() == 1),
            "{cfg:?}"
        );
    }
}
