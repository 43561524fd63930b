//! `cargo xtask data tools synth|import` (tool catalogs: synthetic tool schemas, ToolBench /
//! OpenAI / MCP tool lists) and `cargo xtask data synth --fc` (function-calling trajectories
//! over a catalog, observations from the simulated executor, checked against BFCL).

use std::path::{Path, PathBuf};
use std::time::Instant;

use agentune_data::DataConfig;
use agentune_data::fc::{
    BfclFunction, CatalogFormat, FcSettings, FcSynthesizer, OverlapReport, ToolSynthSettings,
    check_overlap, import_catalog, read_bfcl_functions, read_catalog, synthesize_tools,
    write_catalog,
};
use agentune_data::render::RenderReport;
use agentune_data::synth::Lang;
use agentune_schema::{JsonlWriter, Sample, ToolSpec, Trajectory};
use anyhow::{Context, Result, bail};

use crate::data_synth::SynthArgs;

/// Options of `cargo xtask data tools`.
#[derive(Debug, clap::Args)]
pub struct ToolsArgs {
    #[command(subcommand)]
    command: ToolsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ToolsCommand {
    /// Synthesise tool schemas across many domains into a catalog (JSONL of OpenAI functions).
    Synth(ToolSynthArgs),
    /// Import a tool list (ToolBench toolenv, OpenAI tools, MCP tools/list) into a catalog.
    Import(ToolImportArgs),
}

#[derive(Debug, clap::Args)]
struct ToolSynthArgs {
    /// Specs to synthesise (default: fc.tools of the config).
    #[arg(long)]
    count: Option<usize>,
    /// The catalog (JSONL, one OpenAI function object per line).
    #[arg(long, visible_alias = "out")]
    output: PathBuf,
    /// Share of descriptions in Chinese (default: fc.zh_share).
    #[arg(long)]
    zh_share: Option<f64>,
    /// BFCL data folder to check against (default: fc.bfcl_data, skipped when absent).
    #[arg(long)]
    bfcl: Option<PathBuf>,
    /// Near-duplicate threshold against BFCL (default: fc.overlap_threshold).
    #[arg(long)]
    overlap_threshold: Option<f64>,
    /// Keep functions that are near duplicates of BFCL documents (they are reported either way).
    #[arg(long)]
    keep_overlap: bool,
}

#[derive(Debug, clap::Args)]
struct ToolImportArgs {
    /// toolbench (toolenv tool files), openai (tools/functions list), mcp (tools/list), catalog.
    #[arg(long)]
    format: String,
    /// A file, or a folder searched for *.json files.
    #[arg(long, visible_alias = "in")]
    input: PathBuf,
    /// The catalog (JSONL).
    #[arg(long, visible_alias = "out")]
    output: PathBuf,
    /// Also report near duplicates of BFCL function documents (default: fc.bfcl_data when present).
    #[arg(long)]
    bfcl: Option<PathBuf>,
}

pub(crate) fn run(cfg: &DataConfig, a: &ToolsArgs) -> Result<()> {
    match &a.command {
        ToolsCommand::Synth(a) => tools_synth_cmd(cfg, a),
        ToolsCommand::Import(a) => tools_import_cmd(cfg, a),
    }
}

fn seed(cfg: &DataConfig) -> u64 {
    cfg.fc.seed.unwrap_or(cfg.seed)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    path.with_file_name(format!("{stem}{suffix}"))
}

/// The BFCL function documents when the BFCL data is there (None, with a note, when not).
fn load_bfcl(dir: &Path) -> Result<Option<Vec<BfclFunction>>> {
    if !dir.is_dir() {
        eprintln!(
            "BFCL data not found at {} (scripts/fetch_bfcl.sh fetches it); overlap check skipped",
            dir.display()
        );
        return Ok(None);
    }
    Ok(Some(read_bfcl_functions(dir)?))
}

/// Writes the overlap report and says what it found.
fn write_overlap(report: &OverlapReport, report_path: &Path) -> Result<()> {
    crate::data::write_json(report_path, report)?;
    eprintln!(
        "BFCL overlap: {} of {} function(s) at similarity >= {} to one of {} BFCL function docs (highest {}); report in {}",
        report.near_duplicates.len(),
        report.checked,
        report.threshold,
        report.bfcl_functions,
        report.max_similarity,
        report_path.display()
    );
    Ok(())
}

/// The BFCL overlap of `specs` when the BFCL data is there (None, with a note, when not).
fn overlap(
    specs: &[ToolSpec],
    dir: &Path,
    threshold: f64,
    report_path: &Path,
) -> Result<Option<OverlapReport>> {
    let Some(bfcl) = load_bfcl(dir)? else {
        return Ok(None);
    };
    let report = check_overlap(specs, &bfcl, threshold)?;
    write_overlap(&report, report_path)?;
    Ok(Some(report))
}

/// `count` synthesised specs without the BFCL near duplicates (unless kept). Left-out
/// functions are replaced by further draws: the synthesiser's output for a larger count
/// starts with its output for a smaller one, so asking for more keeps the earlier specs.
fn synth_specs(
    cfg: &DataConfig,
    count: usize,
    zh_share: f64,
    bfcl_dir: &Path,
    threshold: f64,
    keep_overlap: bool,
    report_path: &Path,
) -> Result<Vec<ToolSpec>> {
    let bfcl = load_bfcl(bfcl_dir)?;
    let mut ask = count;
    loop {
        let tools = synthesize_tools(&ToolSynthSettings {
            count: ask,
            seed: seed(cfg),
            zh_share,
            ..ToolSynthSettings::default()
        })?;
        let mut specs: Vec<ToolSpec> = tools.into_iter().map(|t| t.spec).collect();
        let exhausted = specs.len() < ask;
        let Some(bfcl) = &bfcl else {
            note_exhausted(specs.len(), count);
            return Ok(specs);
        };
        let report = check_overlap(&specs, bfcl, threshold)?;
        let flagged = report.flagged();
        if !keep_overlap && !exhausted && specs.len() - flagged.len() < count {
            ask = count + flagged.len();
            continue;
        }
        write_overlap(&report, report_path)?;
        if !keep_overlap {
            let before = specs.len();
            specs.retain(|s| !flagged.contains(s.name.as_str()));
            if before > specs.len() {
                eprintln!(
                    "left out {} function(s) too close to BFCL (never train on the benchmark){}",
                    before - specs.len(),
                    if exhausted {
                        ""
                    } else {
                        "; drew others in their place"
                    }
                );
            }
        }
        specs.truncate(count);
        note_exhausted(specs.len(), count);
        return Ok(specs);
    }
}

fn note_exhausted(made: usize, count: usize) {
    if made < count {
        eprintln!(
            "note: the domain tables give {made} usable distinct functions, fewer than the {count} asked for"
        );
    }
}

fn tools_synth_cmd(cfg: &DataConfig, a: &ToolSynthArgs) -> Result<()> {
    let start = Instant::now();
    let count = a.count.unwrap_or(cfg.fc.tools);
    let specs = synth_specs(
        cfg,
        count,
        a.zh_share.unwrap_or(cfg.fc.zh_share),
        a.bfcl.as_deref().unwrap_or(&cfg.fc.bfcl_data),
        a.overlap_threshold.unwrap_or(cfg.fc.overlap_threshold),
        a.keep_overlap,
        &sibling(&a.output, ".bfcl_overlap.json"),
    )?;
    let n = write_catalog(&a.output, &specs)?;
    eprintln!(
        "synthesised {n} tool specs in {:.2} s; wrote {}",
        start.elapsed().as_secs_f64(),
        a.output.display()
    );
    Ok(())
}

fn tools_import_cmd(cfg: &DataConfig, a: &ToolImportArgs) -> Result<()> {
    let format: CatalogFormat = a.format.parse()?;
    let out = import_catalog(format, &a.input)
        .with_context(|| format!("importing {} as {}", a.input.display(), format.name()))?;
    if out.specs.is_empty() {
        bail!("{} holds no tools", a.input.display());
    }
    overlap(
        &out.specs,
        a.bfcl.as_deref().unwrap_or(&cfg.fc.bfcl_data),
        cfg.fc.overlap_threshold,
        &sibling(&a.output, ".bfcl_overlap.json"),
    )?;
    let n = write_catalog(&a.output, &out.specs)?;
    eprintln!(
        "imported {n} tool spec(s) from {} file(s) ({} duplicate name(s) dropped); wrote {}",
        out.files,
        out.duplicates,
        a.output.display()
    );
    Ok(())
}

/// The catalog of `data synth --fc`: synthetic specs (`--tool-count`, else fc.tools) plus the
/// catalogs named by `--tools` (else fc.catalogs).
fn fc_catalog(cfg: &DataConfig, a: &SynthArgs) -> Result<Vec<ToolSpec>> {
    let count = a.tool_count.unwrap_or(cfg.fc.tools);
    let mut specs = if count > 0 {
        synth_specs(
            cfg,
            count,
            cfg.fc.zh_share,
            &cfg.fc.bfcl_data,
            cfg.fc.overlap_threshold,
            false,
            &sibling(&a.output, ".bfcl_overlap.json"),
        )?
    } else {
        Vec::new()
    };
    let catalogs = if a.tools.is_empty() {
        &cfg.fc.catalogs
    } else {
        &a.tools
    };
    for p in catalogs {
        let more =
            read_catalog(p).with_context(|| format!("reading tool catalog {}", p.display()))?;
        eprintln!("tool catalog {}: {} spec(s)", p.display(), more.len());
        specs.extend(more);
    }
    if specs.is_empty() {
        bail!("no tools: fc.tools is 0 and no catalog is given (--tools or fc.catalogs)");
    }
    Ok(specs)
}

/// `data synth --fc`.
pub(crate) fn fc_synth_cmd(cfg: &DataConfig, a: &SynthArgs) -> Result<()> {
    let start = Instant::now();
    let specs = fc_catalog(cfg, a)?;
    let langs = if a.lang.iter().any(|s| !s.trim().is_empty()) {
        &a.lang
    } else {
        &cfg.fc.languages
    };
    let languages = langs
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Lang>())
        .collect::<Result<Vec<_>, _>>()?;
    let settings = FcSettings {
        count: a.count.unwrap_or(cfg.fc.count),
        seed: seed(cfg),
        shares: cfg.fc.shares.shares(),
        positive_to_irrelevance: a
            .positive_to_hard_negative
            .unwrap_or(cfg.fc.positive_to_irrelevance),
        languages,
        max_offered: a.max_distractors.map_or(cfg.fc.max_offered, |d| d + 1),
        optional_given: cfg.fc.optional_given,
    };
    let synth = FcSynthesizer::new(settings, &specs)?;
    let pb = crate::data_synth::bar(synth.len(), "synthesising function calls");
    let trajectories = synth.generate_all(|| pb.inc(1))?;
    pb.finish_and_clear();
    let mut w = JsonlWriter::<Trajectory>::create(&a.output)?;
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for t in &trajectories {
        if let Some(m) = &t.meta {
            *by_kind.entry(m.scenario.clone()).or_default() += 1;
        }
        w.write(t)?;
    }
    let n = w.finish()?;
    let kinds: Vec<String> = by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "synthesised {n} function-calling trajectories over {} tools in {:.2} s ({}); wrote {}",
        synth.usable_tools(),
        start.elapsed().as_secs_f64(),
        kinds.join(", "),
        a.output.display()
    );
    if let Some(p) = &a.render_output {
        let renderer = crate::data_synth::mix_from(cfg, &a.templates)?;
        let mut report = RenderReport::default();
        let mut sw = JsonlWriter::<Sample>::create(p)?;
        for t in &trajectories {
            for s in renderer.render(t, &mut report) {
                sw.write(&s)?;
            }
        }
        let m = sw.finish()?;
        crate::data_synth::print_render(&report, m, p);
        crate::data_synth::write_report(&sibling(p, ".render.json"), &report)?;
    }
    Ok(())
}
