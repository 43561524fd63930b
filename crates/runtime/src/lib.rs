//! agentune-runtime: agent prompt templates as data (render and parse), tools and the agent loop.
//!
//! # Example
//!
//! Render the prompt of a shipped template for some tools and a query, then parse a model
//! reply into a step, strictly (the reply must be exactly what the template renders):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentune_runtime::{ParseMode, Template};
//! use agentune_schema::{Step, ToolSpec};
//! use serde_json::json;
//!
//! let template = Template::builtin("react")?;
//! let params = json!({"type": "object", "properties": {"city": {"type": "string"}}});
//! let tools = [ToolSpec::new("get_weather", "Current weather of a city.", params)];
//! let query = "Is it raining in Paris?";
//! let messages = template.render_prompt(&tools, query, &[], &[], &[], None)?;
//! println!("{}", messages[0].content_str()); // the system prompt, listing the tools
//!
//! let reply = r#"Thought: I need the weather.
//! Action: get_weather
//! Action Input: {"city": "Paris"}"#;
//! if let Step::ToolCalls { calls, .. } = template.parse(reply, ParseMode::Strict)? {
//!     println!("call {} with {:?}", calls[0].name, calls[0].arguments);
//! }
//! # Ok(())
//! # }
//! ```

pub mod agent;
pub mod cache;
mod error;
pub mod model;
pub mod template;
pub mod tools;
pub mod validate;

pub use agent::{Agent, AgentConfig};
pub use error::{Error, Result};
pub use template::{ParseError, ParseMode, StreamEvent, StreamParser, Template};
