//! `cargo xtask data build`: rendered samples to packed, loss-masked training shards for a
//! model (its tokenizer and chat template), with an index the trainer reads.

use std::path::PathBuf;
use std::time::Duration;

use agentune_data::Record;
use agentune_data::shards::{ShardMeta, pack, template_id, tokenize_sample, write_shards};
use agentune_model::{Pretrained, WeightFormat};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

/// Arguments of `data build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Rendered samples (JSONL); trajectories in it are skipped with a count.
    #[arg(long = "in")]
    input: PathBuf,
    /// The model whose tokenizer and chat template to use: `smollm2`, a GGUF file or an HF
    /// folder.
    #[arg(long, default_value = "smollm2")]
    model: String,
    /// Output folder for the shards and `index.json`.
    #[arg(long)]
    out: PathBuf,
    /// Longest packed row in tokens; longer samples are dropped and counted.
    #[arg(long, default_value_t = 2048)]
    max_len: usize,
    /// Shuffle seed (default: the data config's seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Rows per shard file.
    #[arg(long, default_value_t = 1024)]
    rows_per_shard: usize,
}

pub(crate) fn build_cmd(cfg: &agentune_data::DataConfig, a: &BuildArgs) -> Result<()> {
    let seed = a.seed.unwrap_or(cfg.seed);
    let model = Pretrained::load(&a.model, WeightFormat::AsStored)
        .with_context(|| format!("loading model {}", a.model))?;
    let template = model
        .template()
        .context("reading the model's chat template")?;
    let records = crate::data::read_records(&a.input)?;
    let pb = ProgressBar::new(records.len() as u64);
    pb.set_style(
        ProgressStyle::with_template("tokenizing [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    let mut docs = Vec::with_capacity(records.len());
    let mut trajectories = 0usize;
    for r in &records {
        match r {
            Record::Sample(s) => docs.push(
                tokenize_sample(&model.tokenizer, &template, s)
                    .with_context(|| format!("{}", a.input.display()))?,
            ),
            Record::Trajectory(_) => trajectories += 1,
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let (rows, report) = pack(docs, a.max_len, seed)?;
    let meta = ShardMeta {
        model: a.model.clone(),
        vocab_size: model.tokenizer.vocab_size(),
        chat_template: template_id(&template),
        max_len: a.max_len,
        seed,
        rows_per_shard: a.rows_per_shard,
    };
    let index = write_shards(&a.out, &rows, &report, &meta)?;
    println!(
        "wrote {} rows ({} samples, {} tokens, {} trained) in {} shard(s) to {}",
        index.rows,
        index.samples,
        index.tokens,
        index.trained_tokens,
        index.shards.len(),
        a.out.display()
    );
    if report.dropped_too_long + report.dropped_untrained + trajectories > 0 {
        eprintln!(
            "dropped {} sample(s) longer than {} tokens, {} without trained tokens; skipped {} trajectory record(s)",
            report.dropped_too_long, a.max_len, report.dropped_untrained, trajectories
        );
    }
    Ok(())
}
