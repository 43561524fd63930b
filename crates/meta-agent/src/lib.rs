//! agentune-meta-agent: new agent prompt templates for tuning data. Seed queries are grouped
//! into sets of similar queries ([`cluster`]); templates come from a grammar of
//! interchangeable parts ([`grammar`], no teacher needed) or from a teacher model shown one
//! query set, the tools and the `TemplateSpec` format ([`teacher`]); every candidate passes
//! the same validation ([`validate`]) and a run writes the accepted templates as files the
//! data crate samples from, the rejections with their reasons, and a diversity report
//! ([`report`], [`run`]).

pub mod cache;
pub mod cluster;
pub mod embed;
mod error;
pub mod grammar;
pub mod query;
pub mod report;
pub mod run;
pub mod teacher;
pub mod trajectories;
pub mod validate;

pub use cluster::{ClusterSettings, QuerySet, cluster_embedded, cluster_queries};
pub use embed::EmbeddingClient;
pub use error::{Error, Result};
pub use grammar::{GrammarSettings, generate};
pub use query::{SeedQuery, read_queries};
pub use report::Report;
pub use teacher::MetaPrompt;
pub use validate::{Reason, Rejection, ValidationSettings, Validator};
