//! agentune-runtime: agent prompt templates as data (render and parse), tools and the agent loop.

mod error;
pub mod template;

pub use error::{Error, Result};
pub use template::{ParseError, ParseMode, StreamEvent, StreamParser, Template};
