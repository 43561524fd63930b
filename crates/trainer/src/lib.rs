//! agentune-trainer: full-parameter supervised fine-tuning of the model crate's network on
//! the data crate's shards: a layer-by-layer training step with activation checkpointing,
//! ZeRO-3 sharding behind a [`Communicator`], AdamW with fp32 master weights, checkpoints with
//! exact resume, and per-step metrics.
//!
//! # Example
//!
//! Fine-tune as a training config says (shards built by the data crate), for 20 steps:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use agentune_trainer::{TrainConfig, train};
//!
//! let path = Path::new("configs/train/tiny.toml");
//! let mut cfg = TrainConfig::load(path)?;
//! cfg.train.steps = Some(20);
//! cfg.train.epochs = None;
//! let settings = cfg.validate(Some(path))?;
//! let summary = train(&settings)?;
//! println!("loss {:?} -> {:?}", summary.first_loss, summary.last_loss);
//! println!("checkpoint {:?}, metrics {}", summary.checkpoint, summary.metrics.display());
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod comm;
pub mod config;
pub mod engine;
mod error;
pub mod metrics;
pub mod optim;
pub mod params;
pub mod plan;
pub mod run;
pub mod stream;
pub mod tiny;

pub use comm::{Communicator, ThreadComm};
pub use config::{TrainConfig, TrainSettings};
pub use engine::{Engine, EngineOptions, ShardState, StepOutcome};
pub use error::{Error, Result};
pub use optim::AdamWParams;
pub use run::{RunSummary, train};
