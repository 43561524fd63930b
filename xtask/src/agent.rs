//! `cargo xtask agent`: agents from the command line: parse a model reply into a step
//! (`parse`), render a prompt (`render`), list the built-in templates (`templates`) and tools
//! (`tools`), call a tool (`call`), run the agent loop against an endpoint (`run`).

use std::io::Read;
use std::path::PathBuf;

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Message, Step, ToolSpec, Trajectory};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Map, Value};

/// The `agent` subcommands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Parse one assistant reply (stdin or --file) into a step, printed as one JSON line.
    Parse(ParseArgs),
    /// Render the prompt messages for a query and a tool list (or a trajectory's whole
    /// conversation), printed as JSON.
    Render(RenderArgs),
    /// List the built-in templates: id, family, language, description.
    Templates,
    /// List the built-in tools with their arguments (`--json`: as an OpenAI tools array).
    Tools(crate::agent_tools::ToolsArgs),
    /// Run one built-in tool call and print its observation as JSON.
    Call(crate::agent_tools::CallArgs),
    /// Run the agent loop for one query against an OpenAI-compatible endpoint with the
    /// built-in tools, and print the trajectory.
    Run(crate::agent_run::RunArgs),
}

/// Options of `cargo xtask agent parse`.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// A built-in template id (see `agent templates`) or a template file (.toml or .json).
    #[arg(long)]
    template: String,
    /// Strict mode: the reply must be exactly the template's form (for validating training
    /// data). Default: lenient, as at inference.
    #[arg(long)]
    strict: bool,
    /// Read the reply from this file instead of stdin. For the openai template the reply may
    /// be an OpenAI assistant message object (with `tool_calls`).
    #[arg(long)]
    file: Option<PathBuf>,
}

/// Options of `cargo xtask agent render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A built-in template id or a template file (.toml or .json).
    #[arg(long)]
    template: String,
    /// Tools in OpenAI format: an array of `tools` or `functions` entries, or an object
    /// holding one under `tools` or `functions`.
    #[arg(long)]
    tools: Option<PathBuf>,
    /// The user's query.
    #[arg(long, required_unless_present = "trajectory")]
    query: Option<String>,
    /// Instead of a query: a trajectory (JSON) to render as its whole training conversation;
    /// its tools and history are used unless --tools / --history are given.
    #[arg(long, conflicts_with = "query")]
    trajectory: Option<PathBuf>,
    /// Earlier conversation: a JSON array of messages (OpenAI format).
    #[arg(long)]
    history: Option<PathBuf>,
    /// Today's date for the prompt's date line (dropped when absent).
    #[arg(long)]
    date: Option<String>,
    /// Print an OpenAI chat-completions request body (`messages`, and `tools` for the
    /// openai template) instead of the bare message list.
    #[arg(long)]
    openai: bool,
}

pub fn run(command: &AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Parse(args) => parse(args),
        AgentCommand::Render(args) => render(args),
        AgentCommand::Templates => templates(),
        AgentCommand::Tools(args) => crate::agent_tools::tools(args),
        AgentCommand::Call(args) => crate::agent_tools::call(args),
        AgentCommand::Run(args) => crate::agent_run::run(args),
    }
}

fn load(template: &str) -> Result<Template> {
    Template::resolve(template).with_context(|| format!("loading template `{template}`"))
}

/// The step as printed: `type` first, `thought` always present (null when absent).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Printed {
    ToolCalls {
        thought: Option<String>,
        calls: Vec<PrintedCall>,
    },
    FinalAnswer {
        thought: Option<String>,
        answer: String,
    },
    GiveUp {
        restart: bool,
        thought: Option<String>,
    },
}

#[derive(Serialize)]
struct PrintedCall {
    name: String,
    arguments: Map<String, Value>,
}

impl From<Step> for Printed {
    fn from(step: Step) -> Self {
        match step {
            Step::ToolCalls { thought, calls } => Self::ToolCalls {
                thought,
                calls: calls
                    .into_iter()
                    .map(|c| PrintedCall {
                        name: c.name,
                        arguments: c.arguments,
                    })
                    .collect(),
            },
            Step::FinalAnswer { thought, answer } => Self::FinalAnswer { thought, answer },
            Step::GiveUp { thought, restart } => Self::GiveUp { restart, thought },
        }
    }
}

fn parse(args: &ParseArgs) -> Result<()> {
    let template = load(&args.template)?;
    let (text, source) = match &args.file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the reply from stdin")?;
            (s, "stdin".to_owned())
        }
    };
    let mode = if args.strict {
        ParseMode::Strict
    } else {
        ParseMode::Lenient
    };
    let step = match native_message(&template, &text)? {
        Some(message) => template.parse_message(&message, mode),
        None => template.parse(&text, mode),
    };
    let step = match step {
        Ok(s) => s,
        Err(e) => bail!(
            "{source}: not a valid {} reply for template `{}`: {e}",
            if args.strict { "strict" } else { "lenient" },
            template.id()
        ),
    };
    crate::print_stdout(&serde_json::to_string(&Printed::from(step))?)
}

/// For the openai template, a reply given as an OpenAI assistant message object.
fn native_message(template: &Template, text: &str) -> Result<Option<Message>> {
    if !template.native_tools() || !text.trim_start().starts_with('{') {
        return Ok(None);
    }
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Ok(None);
    };
    if value.get("role").is_none() {
        return Ok(None);
    }
    Ok(Some(
        Message::from_openai(&value).context("reading the reply as an OpenAI message")?,
    ))
}

fn read_json(path: &PathBuf, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

fn render(args: &RenderArgs) -> Result<()> {
    let template = load(&args.template)?;
    let tools: Vec<ToolSpec> = match &args.tools {
        Some(path) => agentune_schema::tools_from_openai_json(&read_json(path, "tools")?)
            .with_context(|| format!("{}: not an OpenAI tool list", path.display()))?,
        None => Vec::new(),
    };
    let history: Vec<Message> = match &args.history {
        Some(path) => {
            let value = read_json(path, "history")?;
            let Some(items) = value.as_array() else {
                bail!("{}: expected a JSON array of messages", path.display());
            };
            items
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    Message::from_openai(m)
                        .with_context(|| format!("{}: message [{i}]", path.display()))
                })
                .collect::<Result<_>>()?
        }
        None => Vec::new(),
    };
    let (messages, tools) = match &args.trajectory {
        Some(path) => {
            let mut traj: Trajectory =
                agentune_schema::from_value("trajectory", &read_json(path, "trajectory")?)
                    .with_context(|| format!("{}: not a trajectory", path.display()))?;
            if args.tools.is_some() {
                traj.tools = tools;
            }
            if args.history.is_some() {
                traj.history = history;
            }
            let messages = template
                .render_conversation(&traj)
                .with_context(|| format!("rendering template `{}`", template.id()))?;
            (messages, traj.tools)
        }
        None => {
            let query = args.query.as_deref().unwrap_or_default();
            let messages = template
                .render_prompt(&tools, query, &history, &[], &[], args.date.as_deref())
                .with_context(|| format!("rendering template `{}`", template.id()))?;
            (messages, tools)
        }
    };
    let out = if args.openai {
        let mut body = Map::new();
        body.insert(
            "messages".into(),
            Value::Array(agentune_schema::messages_to_openai(&messages)),
        );
        if template.native_tools() && !tools.is_empty() {
            body.insert(
                "tools".into(),
                agentune_schema::tools_to_openai_json(&tools),
            );
        }
        Value::Object(body)
    } else {
        serde_json::to_value(&messages)?
    };
    crate::print_stdout(&serde_json::to_string_pretty(&out)?)
}

fn templates() -> Result<()> {
    for id in Template::builtin_ids() {
        let t = load(id)?;
        let spec = t.spec();
        crate::print_stdout(&format!(
            "{id}\t{}\t{}\t{}",
            spec.family.as_str(),
            spec.language,
            spec.description.as_deref().unwrap_or("")
        ))?;
    }
    Ok(())
}
