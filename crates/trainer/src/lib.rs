//! agentune-trainer: full-parameter supervised fine-tuning of the model crate's network on
//! the data crate's shards, and the cost planner that sizes a run before it starts.

mod error;
pub mod plan;

pub use error::{Error, Result};
