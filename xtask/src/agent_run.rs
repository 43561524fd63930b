//! `cargo xtask agent run`: runs the agent loop for one query against any OpenAI-compatible
//! endpoint with the built-in tools, and prints the trajectory (readable, or JSONL).

use std::path::PathBuf;
use std::time::Duration;

use agentune_runtime::model::OpenAiClient;
use agentune_runtime::{Agent, AgentConfig, ParseMode, Template};
use agentune_schema::{Outcome, Step, Trajectory};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask agent run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The user's query.
    query: String,
    /// A built-in template id (see `agent templates`) or a template file.
    #[arg(long, default_value = "react")]
    template: String,
    /// Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1.
    #[arg(long)]
    endpoint: String,
    /// The model name sent with each request.
    #[arg(long)]
    model: String,
    /// Environment variable holding the API key (the key is never printed).
    #[arg(long)]
    api_key_env: Option<String>,
    /// Only offer these tools (comma-separated; built-in or from `--catalog`). Default: all.
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// Tool catalogs (from `data tools synth|import`) whose functions are offered as
    /// simulated tools (comma-separated); their observations are made up from the schema.
    #[arg(long, value_delimiter = ',')]
    catalog: Vec<PathBuf>,
    /// Most model calls in the run, restarts included.
    #[arg(long, default_value_t = 10)]
    max_steps: usize,
    /// Most restarts honoured (templates with give_up_and_restart).
    #[arg(long, default_value_t = 2)]
    max_restarts: usize,
    /// Sampling temperature.
    #[arg(long)]
    temperature: Option<f64>,
    /// Token limit per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling seed, for endpoints that honour it.
    #[arg(long)]
    seed: Option<u64>,
    /// Read replies strictly (every deviation from the template is a format error).
    #[arg(long)]
    strict: bool,
    /// Fix "now" for the date and weather tools and the prompt's date (e.g.
    /// 2026-03-14T09:30:00Z). Default: the system clock.
    #[arg(long)]
    now: Option<String>,
    /// Folder of the note store. Default: data/cache/notes in the workspace.
    #[arg(long, env = "AGENTUNE_NOTES_DIR")]
    notes_dir: Option<PathBuf>,
    /// Seconds to wait for one model reply.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Print the trajectory as one JSON line (a schema `Trajectory` record).
    #[arg(long)]
    json: bool,
}

/// `cargo xtask agent run`.
pub fn run(args: &RunArgs) -> Result<()> {
    let template = Template::resolve(&args.template)
        .with_context(|| format!("loading template `{}`", args.template))?;
    let notes_dir = args
        .notes_dir
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("data/cache/notes"));
    let mut tools = crate::agent_tools::registry(&notes_dir, args.now.as_deref())?;
    crate::agent_tools::add_catalogs(&mut tools, &args.catalog, args.seed.unwrap_or(0))?;
    if !args.tools.is_empty() {
        for name in &args.tools {
            if tools.get(name).is_none() {
                bail!(
                    "--tools: no tool `{name}`; available: {}",
                    tools.names().join(", ")
                );
            }
        }
        let names: Vec<&str> = args.tools.iter().map(String::as_str).collect();
        tools.retain(&names);
    }
    let mut client = OpenAiClient::new(args.endpoint.clone(), args.model.clone())
        .with_timeout(Duration::from_secs(args.timeout_secs));
    if let Some(var) = &args.api_key_env {
        client = client
            .with_api_key_env(var)
            .with_context(|| format!("--api-key-env {var}"))?;
    }
    let date = args
        .now
        .as_deref()
        .map(|n| n.get(..10).unwrap_or(n).to_owned());
    let config = AgentConfig {
        max_steps: args.max_steps,
        max_restarts: args.max_restarts,
        parse_mode: if args.strict {
            ParseMode::Strict
        } else {
            ParseMode::Lenient
        },
        temperature: args.temperature,
        max_tokens: Some(args.max_tokens),
        seed: args.seed,
        date,
        ..AgentConfig::default()
    };
    let trajectory = Agent::new(&template, &tools, &client)
        .with_config(config)
        .run(&args.query, &[])
        .with_context(|| format!("running the agent against {}", args.endpoint))?;
    if args.json {
        crate::print_stdout(&serde_json::to_string(&trajectory)?)?;
    } else {
        crate::print_stdout(&pretty(&trajectory))?;
    }
    Ok(())
}

/// A readable account of a trajectory: each step, its calls and observations, the outcome.
fn pretty(t: &Trajectory) -> String {
    let mut out = format!(
        "query: {}\ntemplate: {}\n",
        t.query,
        t.template_id.as_deref().unwrap_or("-")
    );
    for (i, s) in t.steps.iter().enumerate() {
        let ms = s
            .elapsed_ms
            .map(|m| format!(" ({m} ms)"))
            .unwrap_or_default();
        out.push_str(&format!("\nstep {}{ms}\n", i + 1));
        if let Some(thought) = s.step.thought() {
            out.push_str(&format!("  thought: {thought}\n"));
        }
        match &s.step {
            Step::ToolCalls { calls, .. } => {
                for (call, obs) in calls.iter().zip(&s.observations) {
                    let args = serde_json::Value::Object(call.arguments.clone());
                    out.push_str(&format!("  call: {}({args})\n", call.name));
                    let tag = if obs.is_error { "error" } else { "result" };
                    out.push_str(&format!("  {tag}: {}\n", obs.content));
                }
            }
            Step::FinalAnswer { answer, .. } => out.push_str(&format!("  answer: {answer}\n")),
            Step::GiveUp { restart, .. } => {
                out.push_str(if *restart {
                    "  gave up, restarting\n"
                } else {
                    "  gave up\n"
                });
            }
        }
    }
    for c in t.checks.iter().filter(|c| !c.passed) {
        out.push_str(&format!(
            "\n{}: {}",
            c.check,
            c.message.as_deref().unwrap_or("failed")
        ));
    }
    let outcome = match t.outcome {
        Outcome::Answered => "answered",
        Outcome::GaveUp => "gave up",
        Outcome::Failed => "failed",
        Outcome::Restarted => "restarts exhausted",
    };
    out.push_str(&format!("\noutcome: {outcome}"));
    out
}
