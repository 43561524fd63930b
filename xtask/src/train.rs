//! `cargo xtask train --config configs/train/<name>.toml`: full-parameter SFT on shards built
//! by `cargo xtask data build`, with flags that override the config's fields.

use std::path::PathBuf;

use agentune_trainer::TrainConfig;
use anyhow::{Context, Result};

/// Options of `cargo xtask train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The training config (TOML; see configs/train/).
    #[arg(long)]
    config: PathBuf,
    /// Continue from the newest checkpoint in the run folder.
    #[arg(long)]
    resume: bool,
    /// Ranks sharding the parameters, gradients and optimizer state (threads on CPU).
    #[arg(long)]
    world_size: Option<usize>,
    /// Overrides `data.shards`.
    #[arg(long)]
    shards: Option<PathBuf>,
    /// Overrides `output.dir`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overrides `train.steps` (and clears `train.epochs`).
    #[arg(long)]
    steps: Option<u64>,
    /// Overrides `train.lr`.
    #[arg(long)]
    lr: Option<f64>,
    /// Overrides `train.rows_per_step`.
    #[arg(long)]
    rows_per_step: Option<usize>,
    /// Overrides `output.checkpoint_every`.
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Overrides `train.activation_checkpointing`.
    #[arg(long)]
    activation_checkpointing: Option<bool>,
    /// Stop after this step with a checkpoint, as a pre-empted job would (`--resume` goes on).
    #[arg(long)]
    stop_after: Option<u64>,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let mut cfg = TrainConfig::load(&args.config)?;
    if let Some(w) = args.world_size {
        cfg.train.world_size = w;
    }
    if let Some(s) = &args.shards {
        cfg.data.shards = s.clone();
    }
    if let Some(o) = &args.out {
        cfg.output.dir = o.clone();
    }
    if let Some(s) = args.steps {
        cfg.train.steps = Some(s);
        cfg.train.epochs = None;
    }
    if let Some(lr) = args.lr {
        cfg.train.lr = lr;
        cfg.train.min_lr = cfg.train.min_lr.min(lr);
    }
    if let Some(r) = args.rows_per_step {
        cfg.train.rows_per_step = r;
    }
    if let Some(c) = args.checkpoint_every {
        cfg.output.checkpoint_every = c;
    }
    if let Some(a) = args.activation_checkpointing {
        cfg.train.activation_checkpointing = a;
    }
    let mut settings = cfg.validate(Some(&args.config))?;
    settings.resume = args.resume;
    settings.stop_after = args.stop_after;
    settings.progress = !args.quiet;
    let summary = agentune_trainer::train(&settings)
        .with_context(|| format!("training with {}", args.config.display()))?;
    let fmt = |l: Option<f64>| l.map_or_else(|| "-".to_owned(), |l| format!("{l:.4}"));
    crate::print_stdout(&format!(
        "trained steps {}..{} of {} ({} parameters): loss {} -> {}, {:.0} tokens/s",
        summary.start_step + 1,
        summary.last_step,
        summary.total_steps,
        summary.num_parameters,
        fmt(summary.first_loss),
        fmt(summary.last_loss),
        summary.tokens_per_s
    ))?;
    if let Some(c) = &summary.checkpoint {
        crate::print_stdout(&format!("checkpoint: {}", c.display()))?;
    }
    crate::print_stdout(&format!("metrics: {}", summary.metrics.display()))?;
    if let Some(p) = &summary.loss_chart {
        crate::print_stdout(&format!("loss chart: {}", p.display()))?;
    }
    Ok(())
}
