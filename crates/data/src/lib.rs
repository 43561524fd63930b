//! agentune-data: the training data of agent tuning. Importers and exporters of the public
//! agent data sets (ToolBench, AgentInstruct, KAgentInstruct, ShareGPT, OpenAI messages,
//! BFCL) and of general SFT data (Alpaca), synthetic tool schemas and function-calling samples,
//! tool catalogs, ratio-controlled mixing, cleaning (rules, PII anonymisation, exact and near
//! duplicates, conflicts), leakage-free splits by near-duplicate group, and statistics.
//!
//! Records are [`Record`]s: template-independent trajectories or rendered samples, read and
//! written as JSONL with the schema crate's atomic writers.

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
