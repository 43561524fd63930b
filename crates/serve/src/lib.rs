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
