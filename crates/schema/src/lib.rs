//! agentune-schema: the serde record types every agentune crate shares (tools, messages, tool
//! calls, trajectories, training samples, eval records, agent template specs) and the JSONL files
//! that hold them.
//!
//! Every record type carries a `schema_version`; JSONL reading reports the file, line and
//! field of a bad record; writing is atomic.
//!
//! # Example
//!
//! Read trajectories from a JSONL file (a bad line is an error naming its file, line and
//! field), keep the answered ones and write them back atomically:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentune_schema::{Trajectory, read_jsonl, write_jsonl};
//!
//! let trajectories: Vec<Trajectory> = read_jsonl("trajectories.jsonl")?;
//! let answered = trajectories.iter().filter(|t| t.final_answer().is_some());
//! let n = write_jsonl("answered.jsonl", answered)?;
//! println!("kept {n} of {} trajectories", trajectories.len());
//! # Ok(())
//! # }
//! ```

mod error;
mod eval;
mod io;
mod message;
mod meta;
mod sample;
mod schemas;
mod template;
mod tool;
mod trajectory;
mod version;

pub use error::{Error, FieldPath, Result, from_value};
pub use eval::EvalRecord;
pub use io::{AtomicFile, JsonlReader, JsonlWriter, read_jsonl, write_atomic, write_jsonl};
pub use message::{Message, Role, ToolCall, messages_to_openai, parse_arguments};
pub use meta::{Complexity, QueryKind, QueryMeta, Split};
pub use sample::Sample;
pub use schemas::{record_schemas, render_schema};
pub use template::{
    ArgumentEncoding, FinalAnswerPrompt, FinishAction, HistoryFormat, JsonSyntax, LabeledSyntax,
    NativeSyntax, ObservationFormat, ObservationRole, RestartPrompt, StepSyntax, TaggedSyntax,
    TemplateFamily, TemplateSpec, ToolListing,
};
pub use tool::{ToolSpec, tools_from_openai_json, tools_to_openai_json};
pub use trajectory::{Check, Observation, Outcome, Provenance, Step, Trajectory, TrajectoryStep};
pub use version::{SCHEMA_VERSION, SchemaVersion};
