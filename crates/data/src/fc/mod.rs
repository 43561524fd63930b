//! Tool diversity for function calling: synthetic tool schemas across many domains
//! ([`specs`]), function-calling trajectories over any tool catalog in the BFCL kinds, with
//! observations from the runtime's simulated executor ([`samples`]), tool catalogs imported
//! from ToolBench, OpenAI and MCP lists ([`catalog`]), and the check that no synthesised
//! function is a near duplicate of a BFCL function document ([`overlap`]).

pub mod catalog;
mod library;
pub mod overlap;
pub mod samples;
pub mod specs;
mod values;

pub use catalog::{CatalogFormat, CatalogImport, import_catalog, read_catalog, write_catalog};
pub use overlap::{BfclFunction, OverlapReport, check_overlap, read_bfcl_functions};
pub use samples::{FcKind, FcSettings, FcShares, FcSynthesizer};
pub use specs::{NameStyle, SynthTool, ToolSynthSettings, synthesize_tools};
