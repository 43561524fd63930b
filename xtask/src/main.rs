//! `cargo xtask`: the one orchestrating binary of agentune. Each lifecycle stage adds its
//! subcommands here; this file only parses the command line and dispatches.

mod agent;
mod agent_run;
mod agent_tools;
mod bench;
mod bench_serve;
mod bench_train;
mod ci;
mod convert;
mod data;
mod data_build;
mod data_distill;
mod data_synth;
mod data_tools;
mod eval;
mod eval_bench;
mod eval_episodes;
mod eval_forgetting;
mod eval_judge;
mod eval_kagent;
mod eval_report;
mod fetch_model;
mod generate;
mod meta_agent;
mod pipeline;
mod plan;
mod replies;
mod review;
mod schema;
mod serve;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    version,
    about = "agentune: tune small open LLMs into reliable tool-using agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Agents: parse a model reply, render a prompt, list templates and tools, call a tool.
    Agent {
        #[command(subcommand)]
        command: agent::AgentCommand,
    },
    /// Run what CI runs: format check, clippy with -D warnings, and every test.
    Ci(ci::CiArgs),
    /// Generate a chat reply from a model, streamed to stdout.
    Generate(generate::GenerateArgs),
    /// Measure speed next to the peers (`bench model`: prefill and decode tokens/s; `bench
    /// serve`: the HTTP server next to llama.cpp's; `bench train`: a training step against
    /// PyTorch; `bench eval`: BFCL checking against BFCL's own checker).
    Bench(bench::BenchArgs),
    /// Write a model (GGUF, HF folder or known name) as a Hugging Face folder.
    Convert(convert::ConvertArgs),
    /// Evaluation: score BFCL responses with the AST checker.
    Eval(eval::EvalArgs),
    /// Download a known pretrained model (`smollm2`) into data/models/ (idempotent).
    FetchModel(fetch_model::FetchModelArgs),
    /// Print (or write to docs/schema/) the JSON Schemas of the record types.
    Schema(schema::SchemaArgs),
    /// Serve a model over an OpenAI-compatible HTTP API (tools, streaming, batching).
    Serve(serve::ServeArgs),
    /// Training data: import, clean, mix, split, check leakage, report stats, export, bench.
    Data(data::DataArgs),
    /// Full-parameter SFT on data shards (ZeRO-3 over threads, checkpoints, exact resume).
    Train(train::TrainArgs),
    /// Size a training run: memory per GPU under ZeRO-0/1/2/3, hours, cost and implied MFU.
    Plan(plan::PlanArgs),
    /// The whole lifecycle end to end: model, general data, templates, data, base eval,
    /// training, tuned eval, report (resumable; see docs/pipeline.md).
    Pipeline(pipeline::PipelineArgs),
    /// Review console: accept, fix or reject generated trajectories in a local web page.
    Review(review::ReviewArgs),
    /// Meta-agent: new agent prompt templates (grammar or teacher), validated, with a report.
    MetaAgent {
        #[command(subcommand)]
        command: meta_agent::MetaAgentCommand,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGENTUNE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Agent { command } => agent::run(&command),
        Command::Ci(args) => ci::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Data(args) => data::run(args),
        Command::Eval(args) => eval::run(&args),
        Command::FetchModel(args) => fetch_model::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::MetaAgent { command } => meta_agent::run(&command),
        Command::Pipeline(args) => pipeline::run(&args),
        Command::Review(args) => review::run(&args),
    }
}

/// The workspace root (the parent of this package's directory).
pub(crate) fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Prints `text` and a newline to stdout; a closed pipe (`| head`) ends the output quietly.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
