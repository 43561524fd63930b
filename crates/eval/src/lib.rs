//! agentune-eval: evaluation of agent models. BFCL's single-turn AST categories with a
//! checker that follows BFCL's rules ([`bfcl`]), held-out step metrics ([`step`]), episodes
//! of the agent loop scored against gold answers ([`episode`]), checkpoint comparison
//! reports with paired bootstrap intervals ([`report`]), and a forgetting check of base vs
//! tuned model on general data ([`forgetting`]), LLM-judged pass and win rates ([`judge`]),
//! KAgentBench-style scoring of planning, tool use, reflection, concluding and profile
//! ([`kagent`]);
//! replies come from any OpenAI-compatible
//! endpoint or from a model run in-process ([`local`]).
//!
//! # Example
//!
//! Score a file of model responses on BFCL (text replies are decoded with an agent
//! template) and print the accuracy per category:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use agentune_eval::bfcl::{self, CheckOptions};
//! use agentune_runtime::Template;
//!
//! let entries = bfcl::load(Path::new("data/cache/bfcl/data"), None)?;
//! let template = Template::builtin("hermes")?;
//! let responses = bfcl::read_responses(Path::new("responses.jsonl"), Some(&template))?;
//! let report = bfcl::score(&entries, &responses, CheckOptions::default());
//! for (category, s) in &report.summary.categories {
//!     println!("{category}: {:.3} ({} of {})", s.accuracy, s.correct, s.total);
//! }
//! bfcl::write_report(Path::new("runs/bfcl"), &report)?;
//! # Ok(())
//! # }
//! ```

pub mod bfcl;
pub mod bootstrap;
pub mod chart;
pub mod episode;
mod error;
pub mod forgetting;
pub mod generate;
pub mod judge;
pub mod kagent;
pub mod local;
pub mod report;
pub mod step;
pub mod text;

pub use error::{Error, Result};
