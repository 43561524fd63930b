//! agentune-meta-agent: new agent prompt templates for tuning data. Seed queries are grouped
//! into sets of similar queries ([`cluster`]); templates come from a grammar of
//! interchangeable parts ([`grammar`], no teacher needed) or from a teacher model shown one
//! query set, the tools and the `TemplateSpec` format ([`teacher`]); every candidate passes
//! the same validation ([`validate`]) and a run writes the accepted templates as files the
//! data crate samples from, the rejections with their reasons, and a diversity report
//! ([`report`], [`run`]).
//!
//! # Example
//!
//! Draw templates from the grammar, validate each against the built-in tools, and write the
//! accepted ones (with the rejections and a diversity report) as a run folder:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//!
//! use agentune_meta_agent::{GrammarSettings, ValidationSettings, Validator, generate, run};
//! use agentune_runtime::tools::ToolRegistry;
//!
//! let tools = ToolRegistry::builtin_specs()?;
//! let queries = vec!["What is 15% of 240?".to_owned()];
//! let settings = ValidationSettings::default();
//! let mut validator = Validator::new(tools, &queries, settings.clone())?;
//! let mut rejections = Vec::new();
//! for spec in generate(&GrammarSettings { count: 10, ..GrammarSettings::default() })? {
//!     match validator.check_spec(spec, "grammar") {
//!         Ok(template) => println!("accepted {}", template.id()),
//!         Err(rejection) => rejections.push(rejection),
//!     }
//! }
//! let (dir, near) = (Path::new("runs/templates"), settings.near_duplicate);
//! let out = run::write_run(dir, "grammar", &validator, rejections, None, near)?;
//! println!("{} of {} accepted", out.report.accepted, out.report.candidates);
//! # Ok(())
//! # }
//! ```

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
