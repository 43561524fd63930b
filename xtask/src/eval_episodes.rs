//! `cargo xtask eval episodes`: runs the agent loop with the real built-in tools over held-out
//! records (trajectories or rendered samples with gold final answers) against an
//! OpenAI-compatible endpoint, scores each final answer against the gold one, and writes
//! per-episode records, the trajectories and a per-slice summary. `--local` runs the model
//! in-process instead. Replies are cached, so a rerun sends nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use agentune_eval::episode::{self, EpisodeSettings};
use agentune_runtime::cache::CachedModel;
use agentune_runtime::tools::Clock;
use agentune_runtime::{AgentConfig, ParseMode, Template};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval episodes`.
#[derive(Debug, clap::Args)]
pub struct EpisodesArgs {
    /// Held-out records: JSONL of trajectories or rendered samples (e.g. the test split).
    #[arg(long)]
    samples: PathBuf,
    /// The model the agent loop asks (its name is the checkpoint named in the records).
    #[command(flatten)]
    model: crate::replies::ModelArgs,
    /// Template for every episode (default: each record's own `template_id`).
    #[arg(long)]
    template: Option<String>,
    /// Most model calls per episode, restarts included.
    #[arg(long, default_value_t = 10)]
    max_steps: usize,
    /// Most restarts honoured (templates with give_up_and_restart).
    #[arg(long, default_value_t = 2)]
    max_restarts: usize,
    /// Token limit per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Read replies strictly (every deviation from the template is a format error).
    #[arg(long)]
    strict: bool,
    /// ROUGE-L F1 at or above which an answer matches the gold one.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// "Now" for records without a clock of their own (synthesised records carry theirs),
    /// e.g. 2026-03-14T09:30:00Z. Default: the system clock.
    #[arg(long)]
    now: Option<String>,
    /// Only the first N episodes.
    #[arg(long)]
    limit: Option<usize>,
    /// Output folder for episodes.jsonl, trajectories.jsonl and episodes_summary.json.
    #[arg(long)]
    out: PathBuf,
}

/// `cargo xtask eval episodes`.
pub fn run(a: &EpisodesArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.threshold) {
        bail!("--threshold must lie between 0 and 1");
    }
    let records = episode::read_records(&a.samples)
        .with_context(|| format!("cannot read records {}", a.samples.display()))?;
    let forced = a
        .template
        .as_deref()
        .map(|t| Template::resolve(t).with_context(|| format!("cannot load template `{t}`")))
        .transpose()?;
    let (mut items, skipped) = episode::items(&records, forced.as_ref())?;
    if skipped.no_gold_answer + skipped.unknown_tools > 0 {
        tracing::warn!(
            no_gold_answer = skipped.no_gold_answer,
            unknown_tools = skipped.unknown_tools,
            "records skipped"
        );
    }
    if let Some(n) = a.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!(
            "{} has no record with a gold final answer and only built-in tools",
            a.samples.display()
        );
    }
    // Each item's template, loaded once per id.
    let mut template_ids: Vec<String> = Vec::with_capacity(items.len());
    let mut templates: HashMap<String, Template> = HashMap::new();
    for item in &items {
        let id = match (&a.template, &item.template_id) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => bail!("{}: the record names no template; pass --template", item.id),
        };
        if !templates.contains_key(&id) {
            let t =
                Template::resolve(&id).with_context(|| format!("cannot load template `{id}`"))?;
            templates.insert(id.clone(), t);
        }
        template_ids.push(id);
    }
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(k, i)| (i.id.as_str(), k))
        .collect();
    let template_of = |item: &episode::EpisodeItem| -> agentune_eval::Result<Template> {
        index
            .get(item.id.as_str())
            .and_then(|k| templates.get(&template_ids[*k]))
            .cloned()
            .ok_or_else(|| agentune_eval::Error::Invalid(format!("{}: no template", item.id)))
    };
    let clock = match &a.now {
        Some(t) => Clock::fixed(t)
            .map_err(anyhow::Error::msg)
            .context("--now")?,
        None => Clock::System,
    };
    let settings = EpisodeSettings {
        agent: AgentConfig {
            max_steps: a.max_steps,
            max_restarts: a.max_restarts,
            parse_mode: if a.strict {
                ParseMode::Strict
            } else {
                ParseMode::Lenient
            },
            temperature: Some(a.temperature),
            max_tokens: Some(a.max_tokens),
            ..AgentConfig::default()
        },
        threshold: a.threshold,
        clock,
    };
    let (backend, name) = a
        .model
        .backend()?
        .context("give --endpoint URL --model NAME, or --local MODEL")?;
    let source = match (&a.model.endpoint, &a.model.local) {
        (Some(url), _) => url.clone(),
        (None, spec) => format!("the local model {}", spec.as_deref().unwrap_or_default()),
    };
    let cache = a.model.open_cache()?;
    let model = CachedModel::new(&backend, &name, Some(&cache));
    let bar = indicatif::ProgressBar::new(items.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} episodes ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let results = episode::run_all(
        &items,
        &template_of,
        &model,
        &settings,
        a.model.concurrency,
        &|| bar.inc(1),
    );
    bar.finish_and_clear();
    let cached = model.hits();
    let generated = model.calls();
    let failed = results.iter().filter(|r| r.is_err()).count();
    tracing::info!(cached, generated, failed, "episodes run");
    if failed == results.len() {
        let first = results
            .iter()
            .find_map(|r| r.as_ref().err().cloned())
            .unwrap_or_default();
        bail!("every episode failed against {source}: {first}");
    }
    let mut records = Vec::with_capacity(items.len());
    let mut trajectories = Vec::new();
    let mut summary = agentune_eval::step::StepReport::default();
    for ((item, tid), r) in items.iter().zip(&template_ids).zip(&results) {
        records.push(episode::record(item, &name, tid, r));
        match r {
            Ok(o) => {
                summary.add_labeled(Some(tid), &item.meta, &o.metrics);
                trajectories.push(o.trajectory.clone());
            }
            Err(e) => tracing::warn!(id = %item.id, error = %e, "episode failed"),
        }
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("episodes.jsonl"), &records)?;
    agentune_schema::write_jsonl(a.out.join("trajectories.jsonl"), &trajectories)?;
    let body = serde_json::json!({
        "model": name,
        "episodes": records.len(),
        "failed": failed,
        "skipped": skipped,
        "replies": {"cached": cached, "generated": generated},
        "threshold": a.threshold,
        "summary": summary,
    });
    let mut text = serde_json::to_string_pretty(&body)?;
    text.push('\n');
    agentune_schema::write_atomic(a.out.join("episodes_summary.json"), text.as_bytes())?;
    let mut table = format!(
        "episodes: {} ({} failed; replies: {cached} cached, {generated} generated)\n| metric | mean | items |\n|---|---|---|\n",
        records.len(),
        failed
    );
    for (k, m) in &summary.overall.metrics {
        table.push_str(&format!("| {k} | {:.4} | {} |\n", m.mean, m.n));
    }
    crate::print_stdout(table.trim_end())
}
