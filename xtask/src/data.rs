//! `cargo xtask data ...`: the training-data commands. Each reads and writes JSONL (written
//! atomically), shows progress on long work, and reports bad input by file, line and field.
//! Settings come from `configs/data/default.toml` (or `--config`), and flags override them.

mod bench;
pub(crate) mod pipeline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agentune_data::export::{self, ExportFormat};
use agentune_data::import::{self, Format, ImportOptions};
use agentune_data::shards::TokenCount;
use agentune_data::{
    Chars, Cleaner, ConflictPolicy, DataConfig, LengthMeasure, Record, mix, split, stats,
};
use agentune_schema::{JsonlWriter, Split, write_atomic};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Options of `cargo xtask data`.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// The data config (default: configs/data/default.toml in the workspace).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Seed of every random choice (overrides `seed`).
    #[arg(long, global = true)]
    seed: Option<u64>,
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Debug, clap::Subcommand)]
enum DataCommand {
    /// Synthesise scenario trajectories whose observations come from running the built-in tools.
    Synth(crate::data_synth::SynthArgs),
    /// Tool catalogs: synthesise tool schemas, or import ToolBench / OpenAI / MCP tool lists.
    Tools(crate::data_tools::ToolsArgs),
    /// Render trajectories into training samples under a weighted mix of agent templates.
    Render(crate::data_synth::RenderArgs),
    /// Tokenize rendered samples for a model into packed, loss-masked training shards.
    Build(crate::data_build::BuildArgs),
    /// Import a data set (ToolBench, AgentInstruct, KAgentInstruct, ShareGPT, OpenAI, Alpaca, BFCL).
    Import(ImportArgs),
    /// Clean: rules, PII anonymisation, exact and near duplicates, conflicts.
    Clean(CleanArgs),
    /// Mix agent and general records at the configured ratios.
    Mix(MixArgs),
    /// Split into train / validation / test by near-duplicate group.
    Split(SplitArgs),
    /// Report the highest train-test query similarity; fail above the threshold.
    Leakage(LeakageArgs),
    /// Statistics: counts, lengths, ratios, cleaning losses (Markdown, JSON, PNG charts).
    Stats(StatsArgs),
    /// Export to OpenAI messages, LLaMA-Factory ShareGPT or ToolBench conversations.
    Export(ExportArgs),
    /// General SFT data by self-distillation: a model answers general prompts (OpenAI records).
    Distill(crate::data_distill::DistillArgs),
    /// Benchmark clean + dedup + split on synthetic records against a Python reference.
    Bench(bench::BenchArgs),
    /// Write the reviewed dataset: the records accepted in `cargo xtask review`, with edits.
    ApplyReview(crate::review::ApplyReviewArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// toolbench, toolbench-conversations, agentinstruct, kagentinstruct, sharegpt, openai,
    /// alpaca, bfcl.
    #[arg(long)]
    format: String,
    /// A file (JSON array, JSON object or JSONL) or a folder of them.
    #[arg(long)]
    input: PathBuf,
    /// The JSONL file to write.
    #[arg(long)]
    output: PathBuf,
    /// Scenario label for records whose format gives none.
    #[arg(long)]
    scenario: Option<String>,
    /// Skip unreadable records (each is reported) instead of stopping at the first.
    #[arg(long)]
    skip_invalid: bool,
}

#[derive(Debug, clap::Args)]
struct CleanArgs {
    /// Records to clean (JSONL, one or more files).
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Cleaned records (JSONL).
    #[arg(long)]
    output: PathBuf,
    /// The cleaning report (default: <output>.report.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Also write every dropped record's id, reason and detail here (JSONL).
    #[arg(long)]
    rejected: Option<PathBuf>,
    /// Near-duplicate similarity threshold (overrides minhash.threshold).
    #[arg(long)]
    threshold: Option<f64>,
    /// Longest record kept, in characters (in tokens with `--tokenizer`); 0 = no limit
    /// (overrides clean.max_length).
    #[arg(long)]
    max_length: Option<usize>,
    /// Measure lengths in this model's tokens instead of characters: `smollm2`, a GGUF file or
    /// an HF folder (only its tokenizer is read).
    #[arg(long)]
    tokenizer: Option<String>,
    /// keep_verified or drop_all (overrides clean.conflict_policy).
    #[arg(long)]
    conflict_policy: Option<String>,
    /// Do not anonymise PII.
    #[arg(long)]
    no_pii: bool,
    /// Do not remove near duplicates.
    #[arg(long)]
    no_near_dedup: bool,
    #[command(flatten)]
    strict: crate::data_synth::StrictArgs,
}

#[derive(Debug, clap::Args)]
struct MixArgs {
    /// Pools to draw from (agent records, general records, ...), JSONL.
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// The mix (JSONL).
    #[arg(long)]
    output: PathBuf,
    /// The mix report (default: <output>.report.json).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Records wanted; 0 = as many as the ratios allow (overrides mix.size).
    #[arg(long)]
    size: Option<usize>,
    /// Positives per hard negative (overrides mix.positive_to_hard_negative).
    #[arg(long)]
    positive_to_hard_negative: Option<f64>,
    /// Simple per complex positive (overrides mix.simple_to_complex).
    #[arg(long)]
    simple_to_complex: Option<f64>,
    /// Agent per general record (overrides mix.agent_to_general).
    #[arg(long)]
    agent_to_general: Option<f64>,
}

#[derive(Debug, clap::Args)]
struct SplitArgs {
    /// Records to split (JSONL).
    #[arg(long)]
    input: PathBuf,
    /// Folder for train.jsonl, validation.jsonl, test.jsonl and split_report.json.
    #[arg(long)]
    output_dir: PathBuf,
    /// Validation share (overrides split.validation).
    #[arg(long)]
    validation: Option<f64>,
    /// Test share (overrides split.test).
    #[arg(long)]
    test: Option<f64>,
    /// Grouping similarity (overrides split.similarity).
    #[arg(long)]
    similarity: Option<f64>,
}

#[derive(Debug, clap::Args)]
struct LeakageArgs {
    /// Training records (JSONL).
    #[arg(long)]
    train: PathBuf,
    /// Held-out records (JSONL).
    #[arg(long)]
    test: PathBuf,
    /// Fail above this similarity (overrides leakage.max_similarity).
    #[arg(long)]
    max_similarity: Option<f64>,
    /// Also write the report here (JSON).
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct StatsArgs {
    /// Record files (JSONL). A file named train/validation/test gives its records that split.
    #[arg(long, required = true, num_args = 1..)]
    input: Vec<PathBuf>,
    /// Folder for stats.json, stats.md and the charts.
    #[arg(long)]
    output_dir: PathBuf,
    /// A cleaning report to include (losses by reason).
    #[arg(long)]
    clean_report: Option<PathBuf>,
    /// Do not draw charts.
    #[arg(long)]
    no_charts: bool,
    /// Length histograms in this model's tokens instead of characters: `smollm2`, a GGUF file
    /// or an HF folder (only its tokenizer is read).
    #[arg(long)]
    tokenizer: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// openai, sharegpt or toolbench.
    #[arg(long)]
    format: String,
    /// Records (JSONL).
    #[arg(long)]
    input: PathBuf,
    /// The file to write (JSONL; a `.json` name writes a JSON array).
    #[arg(long)]
    output: PathBuf,
    /// The data set's name in LLaMA-Factory's dataset_info.json (sharegpt).
    #[arg(long, default_value = "agentune")]
    dataset_name: String,
}

pub fn run(args: DataArgs) -> Result<()> {
    let mut cfg = load_config(args.config.as_deref())?;
    if let Some(seed) = args.seed {
        cfg.seed = seed;
        cfg.synth.seed = None;
        cfg.fc.seed = None;
    }
    match args.command {
        DataCommand::Synth(a) => crate::data_synth::synth_cmd(&cfg, &a),
        DataCommand::Tools(a) => crate::data_tools::run(&cfg, &a),
        DataCommand::Render(a) => crate::data_synth::render_cmd(&cfg, &a),
        DataCommand::Build(a) => crate::data_build::build_cmd(&cfg, &a),
        DataCommand::Import(a) => import_cmd(&a),
        DataCommand::Clean(a) => clean_cmd(cfg, &a),
        DataCommand::Mix(a) => mix_cmd(cfg, &a),
        DataCommand::Split(a) => split_cmd(cfg, &a),
        DataCommand::Leakage(a) => leakage_cmd(&cfg, &a),
        DataCommand::Stats(a) => stats_cmd(&cfg, &a),
        DataCommand::Export(a) => export_cmd(&a),
        DataCommand::Bench(a) => bench::run(&cfg, &a),
        DataCommand::Distill(a) => crate::data_distill::run(&a),
        DataCommand::ApplyReview(a) => crate::review::apply_cmd(&a),
    }
}

fn load_config(path: Option<&Path>) -> Result<DataConfig> {
    let default = crate::workspace_root().join("configs/data/default.toml");
    let cfg = match path {
        Some(p) => DataConfig::load(p)?,
        None if default.exists() => DataConfig::load(&default)?,
        None => DataConfig::default(),
    };
    Ok(cfg)
}

/// Characters, or the tokens of a model's tokenizer.
fn length_measure(tokenizer: Option<&str>) -> Result<Arc<dyn LengthMeasure>> {
    Ok(match tokenizer {
        None => Arc::new(Chars),
        Some(model) => Arc::new(TokenCount(
            crate::data_build::load_model_text(model)?.tokenizer,
        )),
    })
}

fn spinner(msg: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

fn bar(len: usize, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(msg.to_owned());
    pb
}

/// Reads every record of a JSONL file, with a progress spinner; a bad line is an error naming
/// the file, line and field.
pub(crate) fn read_records(path: &Path) -> Result<Vec<Record>> {
    let pb = spinner(&format!("reading {}", path.display()));
    let out = agentune_data::io::read_records(path, || pb.inc(1))?;
    pb.finish_and_clear();
    Ok(out)
}

/// Writes records to a JSONL file atomically, with a progress bar.
pub(crate) fn write_records<'a>(
    path: &Path,
    records: impl ExactSizeIterator<Item = &'a Record>,
) -> Result<usize> {
    let pb = bar(records.len(), &format!("writing {}", path.display()));
    let mut w = JsonlWriter::<Record>::create(path)?;
    for r in records {
        w.write(r)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(w.finish()?)
}

pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serializing a report")?;
    text.push('\n');
    write_atomic(path, text.as_bytes())?;
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    path.with_file_name(format!("{stem}{suffix}"))
}

fn import_cmd(a: &ImportArgs) -> Result<()> {
    let format: Format = a.format.parse()?;
    let opts = ImportOptions {
        scenario: a.scenario.clone(),
        skip_invalid: a.skip_invalid,
    };
    let pb = spinner(&format!("importing {}", a.input.display()));
    let out = import::import_path(format, &a.input, &opts)
        .with_context(|| format!("importing {} as {}", a.input.display(), format.name()))?;
    pb.finish_and_clear();
    for s in &out.skipped {
        tracing::warn!("skipped: {s}");
    }
    let n = write_records(&a.output, out.records.iter())?;
    eprintln!(
        "imported {n} records from {} ({}), skipped {}; wrote {}",
        a.input.display(),
        format.name(),
        out.skipped.len(),
        a.output.display()
    );
    Ok(())
}

fn clean_cmd(mut cfg: DataConfig, a: &CleanArgs) -> Result<()> {
    if let Some(t) = a.threshold {
        cfg.minhash.threshold = t;
    }
    if let Some(m) = a.max_length {
        cfg.clean.max_length = m;
    }
    if let Some(p) = &a.conflict_policy {
        cfg.clean.conflict_policy = match p.as_str() {
            "keep_verified" => ConflictPolicy::KeepVerified,
            "drop_all" => ConflictPolicy::DropAll,
            other => {
                bail!("unknown conflict policy `{other}` (expected keep_verified or drop_all)")
            }
        };
    }
    if a.no_pii {
        cfg.clean.pii = false;
    }
    if a.no_near_dedup {
        cfg.clean.near_dedup = false;
    }
    cfg.validate()?;
    let mut records = Vec::new();
    for p in &a.input {
        records.extend(read_records(p)?);
    }
    let measure = length_measure(a.tokenizer.as_deref())?;
    let pb = spinner("cleaning");
    let mut cleaner = Cleaner::with_length_measure(cfg.clean.clone(), cfg.minhash, measure);
    crate::data_synth::add_strict_rule(&mut cleaner, &a.strict)?;
    let out = cleaner.clean(records);
    pb.finish_and_clear();
    write_records(&a.output, out.kept.iter())?;
    let report_path = a
        .report
        .clone()
        .unwrap_or_else(|| sibling(&a.output, ".report.json"));
    write_json(&report_path, &out.report)?;
    if let Some(rej) = &a.rejected {
        let mut w = JsonlWriter::create(rej)?;
        for d in &out.dropped {
            w.write(d)?;
        }
        w.finish()?;
    }
    let r = &out.report;
    let losses: Vec<String> = r
        .dropped_by_reason
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let inputs: Vec<String> = a.input.iter().map(|p| p.display().to_string()).collect();
    eprintln!(
        "cleaned {}: kept {} of {}; dropped {} ({}); report {}",
        inputs.join(", "),
        r.kept,
        r.input,
        r.dropped(),
        if losses.is_empty() {
            "none".into()
        } else {
            losses.join(", ")
        },
        report_path.display()
    );
    Ok(())
}

fn mix_cmd(mut cfg: DataConfig, a: &MixArgs) -> Result<()> {
    if let Some(v) = a.size {
        cfg.mix.size = v;
    }
    if let Some(v) = a.positive_to_hard_negative {
        cfg.mix.positive_to_hard_negative = v;
    }
    if let Some(v) = a.simple_to_complex {
        cfg.mix.simple_to_complex = v;
    }
    if let Some(v) = a.agent_to_general {
        cfg.mix.agent_to_general = v;
    }
    cfg.validate()?;
    let mut pool = Vec::new();
    for p in &a.input {
        pool.extend(read_records(p)?);
    }
    let (mixed, report) = mix::mix(pool, &cfg.mix, cfg.seed)?;
    write_records(&a.output, mixed.iter())?;
    let report_path = a
        .report
        .clone()
        .unwrap_or_else(|| sibling(&a.output, ".report.json"));
    write_json(&report_path, &report)?;
    for n in &report.notes {
        tracing::warn!("{n}");
    }
    let ratios: Vec<String> = report
        .ratios
        .iter()
        .map(|r| {
            format!(
                "{} {} (target {:.2})",
                r.name,
                r.achieved
                    .map_or_else(|| "n/a".into(), |x| format!("{x:.2}")),
                r.target
            )
        })
        .collect();
    eprintln!(
        "mixed {} of {} records (eval-only left out: {}); {}; report {}",
        report.selected,
        report.input,
        report.eval_only_excluded,
        ratios.join("; "),
        report_path.display()
    );
    Ok(())
}

fn split_cmd(mut cfg: DataConfig, a: &SplitArgs) -> Result<()> {
    if let Some(v) = a.validation {
        cfg.split.validation = v;
    }
    if let Some(v) = a.test {
        cfg.split.test = v;
    }
    if let Some(v) = a.similarity {
        cfg.split.similarity = v;
    }
    cfg.validate()?;
    let mut records = read_records(&a.input)?;
    let pb = spinner("grouping");
    let assignment = split::assign(&records, &cfg.split, &cfg.minhash, cfg.seed)?;
    pb.finish_and_clear();
    for ((r, s), g) in records
        .iter_mut()
        .zip(&assignment.splits)
        .zip(&assignment.groups)
    {
        r.set_split(*s, g);
    }
    for (split, name) in [
        (Split::Train, "train.jsonl"),
        (Split::Validation, "validation.jsonl"),
        (Split::Test, "test.jsonl"),
    ] {
        let part: Vec<&Record> = records
            .iter()
            .zip(&assignment.splits)
            .filter(|(_, s)| **s == split)
            .map(|(r, _)| r)
            .collect();
        write_records(&a.output_dir.join(name), part.into_iter())?;
    }
    // The group of every record (trajectories carry no group field).
    let mut groups = JsonlWriter::create(a.output_dir.join("groups.jsonl"))?;
    for ((r, s), g) in records
        .iter()
        .zip(&assignment.splits)
        .zip(&assignment.groups)
    {
        groups.write(&json!({"id": r.id(), "split": s, "group": g}))?;
    }
    groups.finish()?;
    write_json(&a.output_dir.join("split_report.json"), &assignment.report)?;
    let c = |s: Split| assignment.report.records.get(&s).copied().unwrap_or(0);
    eprintln!(
        "split {} records in {} groups: train {}, validation {}, test {} (eval-only groups in test: {}); wrote {}",
        records.len(),
        assignment.report.total_groups,
        c(Split::Train),
        c(Split::Validation),
        c(Split::Test),
        assignment.report.eval_only_groups_in_test,
        a.output_dir.display()
    );
    Ok(())
}

fn leakage_cmd(cfg: &DataConfig, a: &LeakageArgs) -> Result<()> {
    leakage_check(cfg, a, true)
}

/// The leakage check; `print` also writes the report to stdout.
fn leakage_check(cfg: &DataConfig, a: &LeakageArgs, print: bool) -> Result<()> {
    let threshold = a.max_similarity.unwrap_or(cfg.leakage.max_similarity);
    let train = read_records(&a.train)?;
    let test = read_records(&a.test)?;
    let report = split::leakage(&train, &test, &cfg.minhash, threshold)?;
    if let Some(p) = &a.report {
        write_json(p, &report)?;
    }
    if print {
        crate::print_stdout(&serde_json::to_string_pretty(&report)?)?;
    }
    let pair = report
        .pair
        .as_ref()
        .map(|(t, r)| format!(" (test {t} vs train {r})"))
        .unwrap_or_default();
    if report.failed() {
        bail!(
            "leakage: highest train-test query similarity {:.3}{pair} is above {threshold}; {} test record(s) at or above it",
            report.max_similarity,
            report.leaked
        );
    }
    eprintln!(
        "no leakage: highest train-test query similarity {:.3}{pair} <= {threshold}",
        report.max_similarity
    );
    Ok(())
}

fn stats_cmd(cfg: &DataConfig, a: &StatsArgs) -> Result<()> {
    let mut all = Vec::new();
    for p in &a.input {
        let split = match p.file_stem().and_then(|s| s.to_str()) {
            Some("train") => Some(Split::Train),
            Some("validation" | "valid" | "val" | "dev") => Some(Split::Validation),
            Some("test") => Some(Split::Test),
            _ => None,
        };
        all.extend(read_records(p)?.into_iter().map(|r| (r, split)));
    }
    let measure = length_measure(a.tokenizer.as_deref())?;
    let mut s = stats::compute(&all, &*measure, &cfg.mix, cfg.stats.histogram_bins);
    if let Some(p) = &a.clean_report {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        s.cleaning = Some(
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a cleaning report", p.display()))?,
        );
    }
    std::fs::create_dir_all(&a.output_dir)
        .with_context(|| format!("creating {}", a.output_dir.display()))?;
    let charts = if cfg.stats.charts && !a.no_charts {
        s.write_charts(&a.output_dir)?
    } else {
        Vec::new()
    };
    write_json(&a.output_dir.join("stats.json"), &s)?;
    write_atomic(
        a.output_dir.join("stats.md"),
        s.to_markdown(&charts).as_bytes(),
    )?;
    eprintln!(
        "stats of {} records: {} scenarios, {} templates, {} chart(s); wrote {}",
        s.total,
        s.by_scenario.len(),
        s.by_template.len(),
        charts.len(),
        a.output_dir.display()
    );
    Ok(())
}

fn export_cmd(a: &ExportArgs) -> Result<()> {
    let format: ExportFormat = a.format.parse()?;
    let records = read_records(&a.input)?;
    let out = export::export(format, &records, &a.output, &a.dataset_name)?;
    for s in &out.skipped {
        tracing::warn!("not exported: {s}");
    }
    eprintln!(
        "exported {} records as {} to {} ({} not exportable)",
        out.written,
        format.name(),
        a.output.display(),
        out.skipped.len()
    );
    Ok(())
}
