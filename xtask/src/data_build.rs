//! `cargo xtask data build`: with `--in`, rendered samples to packed, loss-masked training
//! shards for a model (its tokenizer and chat template), with an index the trainer reads;
//! without `--in`, the whole data chain from the data config (see `data::pipeline`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use agentune_data::Record;
use agentune_data::render::TemplateMix;
use agentune_data::shards::{
    ShardIndex, ShardMeta, count_agent_templates, pack, template_id, tokenize_sample,
    write_agent_templates, write_shards,
};
use agentune_model::ModelText;
use agentune_runtime::Template;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `data build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Rendered samples (JSONL) to turn into shards, and nothing else; trajectories in it are
    /// skipped with a count. Without it, the whole chain of the data config runs
    /// (synth, import, clean, render, validate, mix, split, leakage, stats, shards).
    #[arg(long = "in")]
    pub(crate) input: Option<PathBuf>,
    /// The model whose tokenizer and chat template to use: `smollm2`, a GGUF file or an HF
    /// folder (overrides shards.model).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Output folder: the shards and `index.json` with `--in`, else the whole build
    /// (overrides build.output_dir).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Longest packed row in tokens; longer samples are dropped and counted (overrides
    /// shards.max_len).
    #[arg(long)]
    pub(crate) max_len: Option<usize>,
    /// Shuffle seed (default: the data config's seed).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Rows per shard file (overrides shards.rows_per_shard).
    #[arg(long)]
    pub(crate) rows_per_shard: Option<usize>,
    /// Run every stage of the chain, even those whose outputs are up to date.
    #[arg(long)]
    pub(crate) force: bool,
    /// Agent template files (or folders, patterns) the samples were rendered with, so their
    /// specs are saved with the shards and then in every checkpoint trained on them; shipped
    /// templates are found without it (default: render.templates of the data config).
    #[arg(long, value_delimiter = ',')]
    pub(crate) templates: Vec<String>,
}

/// Shard settings resolved from the config and the flags.
#[derive(Debug, Clone)]
pub(crate) struct ShardJob {
    /// The model id written into the index.
    pub model: String,
    pub max_len: usize,
    pub seed: u64,
    pub rows_per_shard: usize,
    /// Template specs beyond the shipped ones that samples may name (see `--templates`).
    pub templates: Vec<String>,
}

pub(crate) fn build_cmd(cfg: &agentune_data::DataConfig, a: &BuildArgs) -> Result<()> {
    let Some(input) = &a.input else {
        return crate::data::pipeline::run(cfg, a);
    };
    let out = a
        .out
        .as_ref()
        .context("--out is required with --in (the shard folder to write)")?;
    let job = ShardJob {
        model: a.model.clone().unwrap_or_else(|| cfg.shards.model.clone()),
        max_len: a.max_len.unwrap_or(cfg.shards.max_len),
        seed: a.seed.unwrap_or(cfg.seed),
        rows_per_shard: a.rows_per_shard.unwrap_or(cfg.shards.rows_per_shard),
        templates: if a.templates.is_empty() {
            cfg.render.templates.clone()
        } else {
            a.templates.clone()
        },
    };
    let text = load_model_text(&job.model)?;
    let (index, trajectories) = build_shards(&text, &job, input, out)?;
    println!(
        "wrote {} rows ({} samples, {} tokens, {} trained) in {} shard(s) to {}",
        index.rows,
        index.samples,
        index.tokens,
        index.trained_tokens,
        index.shards.len(),
        out.display()
    );
    let d = &index.dropped;
    if d.dropped_too_long + d.dropped_untrained + trajectories > 0 {
        eprintln!(
            "dropped {} sample(s) longer than {} tokens, {} without trained tokens; skipped {} trajectory record(s)",
            d.dropped_too_long, job.max_len, d.dropped_untrained, trajectories
        );
    }
    Ok(())
}

/// Loads a model's tokenizer and chat template only (no weights).
pub(crate) fn load_model_text(model: &str) -> Result<ModelText> {
    ModelText::load(model).with_context(|| format!("loading the tokenizer of model {model}"))
}

/// Tokenizes the samples of `input` and writes shards into `out`; returns the index and how
/// many trajectory records were skipped. Shard files of an earlier run that the new index
/// does not list are removed.
pub(crate) fn build_shards(
    text: &ModelText,
    job: &ShardJob,
    input: &Path,
    out: &Path,
) -> Result<(ShardIndex, usize)> {
    let template = text
        .template()
        .context("reading the model's chat template")?;
    let records = crate::data::read_records(input)?;
    let pb = ProgressBar::new(records.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("tokenizing [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    let mut docs = Vec::with_capacity(records.len());
    let mut trajectories = 0usize;
    let agent_templates = count_agent_templates(records.iter().filter_map(|r| match r {
        Record::Sample(s) => Some(&**s),
        Record::Trajectory(_) => None,
    }));
    for r in &records {
        match r {
            Record::Sample(s) => docs.push(
                tokenize_sample(&text.tokenizer, &template, s)
                    .with_context(|| format!("{}", input.display()))?,
            ),
            Record::Trajectory(_) => trajectories += 1,
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let (rows, report) = pack(docs, job.max_len, job.seed)?;
    let meta = ShardMeta {
        model: job.model.clone(),
        vocab_size: text.tokenizer.vocab_size(),
        chat_template: template_id(&template),
        max_len: job.max_len,
        seed: job.seed,
        rows_per_shard: job.rows_per_shard,
        agent_templates,
    };
    save_agent_templates(out, &meta.agent_templates, &job.templates)?;
    let index = write_shards(out, &rows, &report, &meta)?;
    remove_stale_shards(out, &index)?;
    Ok((index, trajectories))
}

/// Saves the spec of every agent template the samples name into the shard folder; a template
/// that cannot be found is reported (the trainer then needs `model.agent_template`).
fn save_agent_templates(
    out: &Path,
    counts: &std::collections::BTreeMap<String, usize>,
    specs: &[String],
) -> Result<()> {
    if counts.is_empty() {
        return Ok(());
    }
    let extra = if specs.is_empty() {
        None
    } else {
        Some(TemplateMix::from_specs(specs, &[]).context("reading the agent templates")?)
    };
    let mut found = Vec::new();
    for id in counts.keys() {
        let t = extra
            .as_ref()
            .and_then(|m| m.get(id).cloned())
            .or_else(|| Template::builtin(id).ok());
        match t {
            Some(t) => found.push(t),
            None => tracing::warn!(
                template = %id,
                "samples name an agent template that is neither shipped nor given with --templates; its spec is not saved with the shards"
            ),
        }
    }
    write_agent_templates(out, &found)?;
    Ok(())
}

fn remove_stale_shards(dir: &Path, index: &ShardIndex) -> Result<()> {
    let listed: std::collections::BTreeSet<&str> =
        index.shards.iter().map(|s| s.file.as_str()).collect();
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("shard-") && name.ends_with(".bin") && !listed.contains(name.as_str()) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("removing the stale shard {}", e.path().display()))?;
        }
    }
    Ok(())
}
