//! agentune-runtime: agent prompt templates as data (render and parse), tools and the agent loop.

pub mod agent;
mod error;
pub mod model;
pub mod template;
pub mod tools;
pub mod validate;

pub use agent::{Agent, AgentConfig};
pub use error::{Error, Result};
pub use template::{ParseError, ParseMode, StreamEvent, StreamParser, Template};
