//! agentune-eval: evaluation of agent models. BFCL's single-turn AST categories with a
//! checker that follows BFCL's rules ([`bfcl`]), held-out step metrics ([`step`]), episodes
//! of the agent loop scored against gold answers ([`episode`]), checkpoint comparison
//! reports with paired bootstrap intervals ([`report`]), and a forgetting check of base vs
//! tuned model on general data ([`forgetting`]), LLM-judged pass and win rates ([`judge`]),
//! KAgentBench-style scoring of planning, tool use, reflection, concluding and profile
//! ([`kagent`]);
//! replies come from any OpenAI-compatible
//! endpoint or from a model run in-process ([`local`]).

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
