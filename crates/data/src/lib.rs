//! agentune-data: the training data of agent tuning. Importers and exporters of the public
//! agent data sets (ToolBench, AgentInstruct, KAgentInstruct, ShareGPT, OpenAI messages,
//! BFCL) and of general SFT data (Alpaca), synthetic tool schemas and function-calling samples,
//! tool catalogs, ratio-controlled mixing, cleaning (rules, PII anonymisation, exact and near
//! duplicates, conflicts), leakage-free splits by near-duplicate group, and statistics.
//!
//! Records are [`Record`]s: template-independent trajectories or rendered samples, read and
//! written as JSONL with the schema crate's atomic writers.
//!
//! # Example
//!
//! Import a ShareGPT file, clean it (rules, PII, duplicates) and assign leakage-free splits
//! with the settings of a data config, then write the records:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use agentune_data::import::{Format, ImportOptions, import_path};
//! use agentune_data::{Cleaner, DataConfig, split};
//!
//! let cfg = DataConfig::load(Path::new("configs/data/default.toml"))?;
//! let opts = ImportOptions::default();
//! let imported = import_path(Format::ShareGpt, Path::new("sharegpt.json"), &opts)?;
//! let cleaned = Cleaner::new(cfg.clean.clone(), cfg.minhash).clean(imported.records);
//! println!("kept {} of {}", cleaned.report.kept, cleaned.report.input);
//! let mut records = cleaned.kept;
//! let assignment = split::assign(&records, &cfg.split, &cfg.minhash, cfg.seed)?;
//! for (i, r) in records.iter_mut().enumerate() {
//!     r.set_split(assignment.splits[i], &assignment.groups[i]);
//! }
//! agentune_schema::write_jsonl("clean.jsonl", &records)?;
//! # Ok(())
//! # }
//! ```

pub mod clean;
pub mod config;
pub mod convert;
mod error;
pub mod export;
pub mod fc;
pub mod hash;
pub mod import;
pub mod io;
pub mod minhash;
pub mod mix;
pub mod pixfont;
mod pylit;
mod record;
pub mod render;
pub mod review;
pub mod rng;
pub mod shards;
pub mod split;
pub mod stats;
pub mod synth;
pub mod synthetic;
pub mod validate;

pub use clean::{
    Chars, CleanOutput, CleanReport, CleanSettings, Cleaner, ConflictPolicy, Dropped,
    LengthMeasure, Rule, Verdict,
};
pub use config::{DataConfig, LeakageSettings, StatsSettings};
pub use error::{Error, Result};
pub use minhash::MinHashParams;
pub use record::{Record, detect_language, infer_meta, is_cjk, normalize};
