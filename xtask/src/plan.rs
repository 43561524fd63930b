//! `cargo xtask plan`: memory per GPU under ZeRO-0/1/2/3 and the hours and cost of a
//! full-parameter training run, from a model (preset or config), tokens, epochs, GPUs, price
//! and a speed (hours per epoch, measured tokens/s or an assumed MFU).

use std::path::{Path, PathBuf};

use agentune_trainer::plan::{Gpu, ModelShape, Plan, PlanInput, Precision, Speed};
use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Options of `cargo xtask plan` (each overrides the same field of `--config`).
#[derive(Debug, Default, clap::Args)]
pub struct PlanArgs {
    /// TOML file with the fields below (configs/plan/*.toml); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Model: a preset (7b, 14b, 72b, smollm2-135m), a Hugging Face config.json or a folder
    /// holding one.
    #[arg(long)]
    model: Option<String>,
    /// Total parameters (e.g. 7.6B), instead of the count implied by the model's shape.
    #[arg(long)]
    params: Option<String>,
    /// GPU type (a100-40g, a100-80g, h100-80g, h200-141g, l40s-48g, a10-24g, rtx4090-24g).
    #[arg(long)]
    gpu: Option<String>,
    /// Number of GPUs.
    #[arg(long)]
    gpus: Option<usize>,
    /// Training tokens per epoch (e.g. 470M).
    #[arg(long)]
    tokens: Option<String>,
    /// Number of epochs.
    #[arg(long)]
    epochs: Option<f64>,
    /// Price per GPU-hour.
    #[arg(long)]
    price: Option<f64>,
    /// Wall-clock hours per epoch (from a reference run).
    #[arg(long)]
    hours_per_epoch: Option<f64>,
    /// Measured training throughput per GPU, tokens/s.
    #[arg(long)]
    tokens_per_sec: Option<f64>,
    /// Assumed model FLOPs utilisation, a fraction (0.4) or a percentage (40%).
    #[arg(long)]
    mfu: Option<String>,
    /// Maximum sequence length (tokens per micro-batch).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Precision: bf16 (with fp32 master weights) or f32.
    #[arg(long)]
    precision: Option<String>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

/// The `--config` file: the same fields as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    model: Option<String>,
    params: Option<String>,
    gpu: Option<String>,
    gpus: Option<usize>,
    tokens: Option<String>,
    epochs: Option<f64>,
    price: Option<f64>,
    hours_per_epoch: Option<f64>,
    tokens_per_sec: Option<f64>,
    mfu: Option<String>,
    seq_len: Option<usize>,
    precision: Option<String>,
}

/// `470M`, `7.6B`, `1.5e9`, `12k`, `470000000`.
fn parse_count(s: &str, what: &str) -> Result<f64> {
    let t = s.trim().replace(['_', ','], "");
    let (num, mul) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('b') | Some('g') => (&t[..t.len() - 1], 1e9),
        Some('t') => (&t[..t.len() - 1], 1e12),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num
        .parse()
        .with_context(|| format!("{what}: cannot read {s:?} as a count (e.g. 470M, 7.6B)"))?;
    if !(v.is_finite() && v > 0.0) {
        bail!("{what}: {s:?} must be positive");
    }
    Ok(v * mul)
}

fn parse_mfu(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, div) = match t.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .with_context(|| format!("--mfu: cannot read {s:?} (e.g. 0.4 or 40%)"))?;
    Ok(v / div)
}

fn load_model(spec: &str) -> Result<ModelShape> {
    if let Some(m) = ModelShape::preset(spec) {
        return Ok(m);
    }
    let path = Path::new(spec);
    let file = if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    };
    if !file.is_file() {
        bail!(
            "model {spec:?} is neither a preset ({}) nor a config.json or folder holding one",
            ModelShape::PRESETS.join(", ")
        );
    }
    let config = agentune_model::ModelConfig::from_hf_file(&file)
        .with_context(|| format!("reading model config {}", file.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.to_owned());
    Ok(ModelShape::from_config(&name, &config))
}

fn input(args: &PlanArgs) -> Result<PlanInput> {
    let file: PlanFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => PlanFile::default(),
    };
    let model = args
        .model
        .clone()
        .or(file.model)
        .context("--model is required (a preset such as 7b, or a config.json)")?;
    let mut model = load_model(&model)?;
    if let Some(p) = args.params.as_ref().or(file.params.as_ref()) {
        model.params = Some(parse_count(p, "params")?);
    }
    let gpu = Gpu::by_name(
        args.gpu
            .as_deref()
            .or(file.gpu.as_deref())
            .unwrap_or("a100-80g"),
    )?;
    let tokens = args
        .tokens
        .as_ref()
        .or(file.tokens.as_ref())
        .context("--tokens is required (training tokens per epoch, e.g. 470M)")?;
    let speeds = [
        args.hours_per_epoch
            .or(file.hours_per_epoch)
            .map(Speed::HoursPerEpoch),
        args.tokens_per_sec
            .or(file.tokens_per_sec)
            .map(Speed::TokensPerSecPerGpu),
        match args.mfu.as_ref().or(file.mfu.as_ref()) {
            Some(m) => Some(Speed::Mfu(parse_mfu(m)?)),
            None => None,
        },
    ];
    // A flag's speed wins over the file's; among flags (or the file) only one may be given.
    let flag_speeds = [
        args.hours_per_epoch.is_some(),
        args.tokens_per_sec.is_some(),
        args.mfu.is_some(),
    ];
    let chosen: Vec<Speed> = if flag_speeds.iter().any(|&b| b) {
        speeds
            .iter()
            .zip(flag_speeds)
            .filter(|(_, f)| *f)
            .filter_map(|(s, _)| *s)
            .collect()
    } else {
        speeds.iter().filter_map(|s| *s).collect()
    };
    let speed = match chosen.as_slice() {
        [one] => *one,
        [] => Speed::Mfu(0.4),
        _ => bail!("give only one of --hours-per-epoch, --tokens-per-sec and --mfu"),
    };
    let precision = match args
        .precision
        .as_deref()
        .or(file.precision.as_deref())
        .unwrap_or("bf16")
    {
        "bf16" => Precision::Bf16,
        "f32" => Precision::F32,
        other => bail!("--precision: {other:?} is not bf16 or f32"),
    };
    Ok(PlanInput {
        model,
        gpu,
        gpus: args.gpus.or(file.gpus).unwrap_or(1),
        tokens: parse_count(tokens, "tokens")?,
        epochs: args.epochs.or(file.epochs).unwrap_or(1.0),
        price_per_gpu_hour: args.price.or(file.price).unwrap_or(0.0),
        speed,
        seq_len: args.seq_len.or(file.seq_len).unwrap_or(4096),
        precision,
    })
}

/// Runs `cargo xtask plan`.
pub fn run(args: &PlanArgs) -> Result<()> {
    let plan: Plan = input(args)?.plan()?;
    if args.json {
        crate::print_stdout(&serde_json::to_string_pretty(&plan)?)
    } else {
        crate::print_stdout(plan.report().trim_end())
    }
}
