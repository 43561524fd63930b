//! agentune-eval: evaluation of agent models. BFCL's single-turn AST categories with a
//! checker that follows BFCL's rules ([`bfcl`]).

pub mod bfcl;
mod error;
pub mod generate;
pub mod step;
pub mod text;

pub use error::{Error, Result};
