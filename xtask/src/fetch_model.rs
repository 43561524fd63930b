//! `cargo xtask fetch-model <name>`: downloads a known pretrained model into `data/models/`
//! (idempotent; checked against a recorded SHA-256).

use agentune_model::fetch::{FetchOutcome, KNOWN_MODELS, fetch_model};
use anyhow::{Context, Result};

/// Options of `cargo xtask fetch-model`.
#[derive(Debug, clap::Args)]
pub struct FetchModelArgs {
    /// The model's short name (`smollm2`), or `list` to show the known ones.
    name: String,
    /// The cache folder (default: data/models/ of the workspace).
    #[arg(long, env = "AGENTUNE_MODELS_DIR")]
    models_dir: Option<std::path::PathBuf>,
}

pub fn run(args: &FetchModelArgs) -> Result<()> {
    if args.name == "list" {
        for m in KNOWN_MODELS {
            crate::print_stdout(&format!(
                "{}\t{}\t({})",
                m.name, m.description, m.requirement
            ))?;
        }
        return Ok(());
    }
    let dir = args
        .models_dir
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("data").join("models"));
    let outcome = fetch_model(&args.name, &dir)
        .with_context(|| format!("cannot fetch model `{}`", args.name))?;
    match &outcome {
        FetchOutcome::AlreadyCached(p) => {
            tracing::info!(path = %p.display(), "already cached, checksum ok");
        }
        FetchOutcome::Downloaded(p) => tracing::info!(path = %p.display(), "downloaded"),
    }
    crate::print_stdout(&outcome.path().display().to_string())
}
