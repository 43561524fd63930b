//! `cargo xtask agent tools` and `cargo xtask agent call`: list the built-in tools (or print
//! them as an OpenAI `tools` array) and run one tool call from the command line; with
//! `--catalog`, the functions of a tool catalog are added as simulated tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentune_runtime::tools::{Clock, ResponseCache, SimulatedTool, ToolRegistry};
use agentune_schema::{ToolCall, ToolSpec, tools_to_openai_json};
use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Options of `cargo xtask agent tools`.
#[derive(Debug, clap::Args)]
pub struct ToolsArgs {
    /// Print the tools as an OpenAI `tools` JSON array instead of a readable list.
    #[arg(long)]
    json: bool,
    /// Tool catalogs (JSONL of OpenAI functions, from `data tools synth|import`) whose
    /// functions are added as simulated tools (comma-separated).
    #[arg(long, value_delimiter = ',')]
    catalog: Vec<PathBuf>,
}

/// Options of `cargo xtask agent call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The tool's name (see `cargo xtask agent tools`).
    tool: String,
    /// The arguments as a JSON object, e.g. '{"city": "Beijing"}'. Default: {}.
    args: Option<String>,
    /// Folder of the note store used by the note tools. Default: data/cache/notes in the
    /// workspace.
    #[arg(long, env = "AGENTUNE_NOTES_DIR")]
    notes_dir: Option<PathBuf>,
    /// Fix "now" for the date and weather tools (e.g. 2026-03-14T09:30:00Z), for
    /// reproducible answers. Default: the system clock.
    #[arg(long)]
    now: Option<String>,
    /// Give up on the call after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout_secs: f64,
    /// Tool catalogs whose functions are added as simulated tools (comma-separated): their
    /// answers are made up from the schema, deterministic for a call and `--sim-seed`.
    #[arg(long, value_delimiter = ',')]
    catalog: Vec<PathBuf>,
    /// Seed of the simulated responses.
    #[arg(long, default_value_t = 0)]
    sim_seed: u64,
}

pub(crate) fn registry(notes_dir: &Path, now: Option<&str>) -> Result<ToolRegistry> {
    let clock = match now {
        Some(text) => Clock::fixed(text)
            .map_err(anyhow::Error::msg)
            .context("--now")?,
        None => Clock::System,
    };
    ToolRegistry::builtin_with_clock(notes_dir, clock).with_context(|| {
        format!(
            "cannot set up the built-in tools (notes in {})",
            notes_dir.display()
        )
    })
}

/// Adds the functions of `catalogs` to `reg` as simulated tools sharing one response cache.
pub(crate) fn add_catalogs(reg: &mut ToolRegistry, catalogs: &[PathBuf], seed: u64) -> Result<()> {
    let cache = Arc::new(ResponseCache::new());
    for path in catalogs {
        for spec in read_catalog(path)? {
            let name = spec.name.clone();
            reg.register(SimulatedTool::with_cache(spec, seed, Arc::clone(&cache)))
                .with_context(|| format!("{}: function `{name}`", path.display()))?;
        }
    }
    Ok(())
}

fn read_catalog(path: &Path) -> Result<Vec<ToolSpec>> {
    agentune_data::fc::read_catalog(path)
        .with_context(|| format!("reading tool catalog {}", path.display()))
}

/// `cargo xtask agent tools`.
pub fn tools(args: &ToolsArgs) -> Result<()> {
    let mut specs = ToolRegistry::builtin_specs().context("cannot load the built-in tools")?;
    for path in &args.catalog {
        specs.extend(read_catalog(path)?);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&tools_to_openai_json(&specs))?;
        return crate::print_stdout(&text);
    }
    let mut out = String::new();
    for spec in &specs {
        out.push_str(&describe(spec));
        out.push('\n');
    }
    crate::print_stdout(out.trim_end())
}

/// A readable block for one tool: name, description, and one line per parameter.
fn describe(spec: &ToolSpec) -> String {
    let mut text = format!("{}\n  {}\n", spec.name, spec.description());
    let schema = spec.parameters_schema();
    let required = spec.required_parameters();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let kind = match (prop.get("type"), prop.get("enum")) {
                (_, Some(Value::Array(options))) => options
                    .iter()
                    .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("|"),
                (Some(Value::String(t)), None) => t.clone(),
                _ => "any".into(),
            };
            let need = if required.contains(&name.as_str()) {
                "required"
            } else {
                "optional"
            };
            let about = prop
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            text.push_str(&format!("  - {name} ({kind}, {need}) {about}\n"));
        }
    }
    text
}

/// `cargo xtask agent call`: prints the observation as one JSON line; exits with an error
/// when the observation is an error.
pub fn call(args: &CallArgs) -> Result<()> {
    let arguments = match args.args.as_deref().map(str::trim) {
        None | Some("") => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text)
            .with_context(|| format!("the arguments are not valid JSON: {text}"))?
        {
            Value::Object(map) => map,
            other => bail!("the arguments must be a JSON object, got {other}"),
        },
    };
    let timeout = Duration::try_from_secs_f64(args.timeout_secs)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| {
            format!(
                "--timeout-secs must be a positive number of seconds, got {}",
                args.timeout_secs
            )
        })?;
    let notes_dir = args
        .notes_dir
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("data/cache/notes"));
    let mut reg = registry(&notes_dir, args.now.as_deref())?.with_timeout(timeout);
    add_catalogs(&mut reg, &args.catalog, args.sim_seed)?;
    let observation = reg.execute(&ToolCall::new(args.tool.clone(), arguments));
    crate::print_stdout(&serde_json::to_string(&observation)?)?;
    if observation.is_error {
        bail!("{}", observation.content.trim_start_matches("Error: "));
    }
    Ok(())
}
