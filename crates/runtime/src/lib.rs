//! agentune-runtime: agent prompt templates as data (render and parse), tools and the agent loop.

mod error;

pub use error::{Error, Result};
