//! agentune-serve: an OpenAI-compatible HTTP server for the model crate's networks, with tool
//! calling through agent templates, streaming (server-sent events) and continuous batching.
//!
//! - [`engine`]: one scheduler thread owns the network; requests join and leave the batch
//!   between forward passes, each with its own KV cache under a memory budget; prefill is
//!   chunked; a bounded queue refuses work with 429; a client that leaves frees its slot.
//! - [`guide`]: guided decoding of one JSON value (enforced `tool_choice`).
//! - [`request`]: request bodies read and checked field by field.
//! - [`prompt`]: tools and tool history rendered with an agent template, replies parsed back
//!   into OpenAI `tool_calls`.
//! - [`server`]: the router, auth, responses and startup; [`error::ApiError`] is the one
//!   place where failures become HTTP statuses and OpenAI error bodies.
//!
//! # Example
//!
//! Start the server in-process on a free port and ask it for a chat completion with the
//! runtime's OpenAI-compatible client; dropping the server stops it:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentune_runtime::model::{ChatModel, ChatRequest, OpenAiClient};
//! use agentune_schema::Message;
//! use agentune_serve::{RunningServer, ServeSettings, load_model};
//!
//! let (model, agent) = load_model("smollm2", false, Some("hermes"))?;
//! let name = "smollm2".to_owned();
//! let settings = ServeSettings { served_model_name: name.clone(), port: 0, ..Default::default() };
//! let server = RunningServer::start(model, agent, settings)?;
//! let client = OpenAiClient::new(server.base_url(), name);
//! let reply = client.chat(&ChatRequest::new(vec![Message::user("Say hello.")]))?;
//! println!("{}", reply.message.content_str());
//! # Ok(())
//! # }
//! ```

pub mod engine;
pub mod error;
pub mod guide;
pub mod metrics;
pub mod prompt;
pub mod request;
pub mod server;
pub mod settings;

pub use error::{ApiError, Error, Result};
pub use server::{RunningServer, Server, checkpoint_template, default_model_name, load_model};
pub use settings::{ServeConfig, ServeSettings};
