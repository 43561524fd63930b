//! agentune-runtime: agent prompt templates as data (render and parse), tools and the agent loop.

mod error;
pub mod model;
pub mod tools;
pub mod validate;

pub use error::{Error, Result};
