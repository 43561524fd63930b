//! `cargo xtask data synth` (scenario trajectories verified by execution), `data render`
//! (trajectories to training samples under a weighted mix of agent templates), and the
//! strict-format rule options of `data clean`. `data synth --fc` is in `data_tools`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agentune_data::render::{RenderReport, RenderSettings, Renderer, TemplateMix};
use agentune_data::synth::{Lang, Scenario, SynthSettings, Synthesizer};
use agentune_data::validate::StrictFormatRule;
use agentune_data::{Cleaner, DataConfig, Record};
use agentune_schema::{JsonlWriter, Sample, Trajectory, write_atomic};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// Template choice for rendering.
#[derive(Debug, Clone, clap::Args)]
pub struct TemplateOpts {
    /// Templates to draw from: shipped ids, template files, folders or patterns such as
    /// `generated/*.toml` (comma-separated). Default: render.templates of the config, else
    /// every shipped template.
    #[arg(long, value_delimiter = ',')]
    pub(crate) templates: Vec<String>,
    /// One sampling weight per `--templates` entry (comma-separated). Default: equal.
    #[arg(long, value_delimiter = ',')]
    pub(crate) weights: Vec<f64>,
    /// Templates each trajectory is rendered under, fewer when fewer can express it
    /// (default: render.per_record of the config).
    #[arg(long)]
    pub(crate) per_record: Option<usize>,
    /// Draw templates regardless of the query's language (by default templates in the
    /// query's language are tried first; overrides render.match_language).
    #[arg(long)]
    pub(crate) any_language: bool,
}

/// Options of `cargo xtask data synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Trajectories to generate (default: synth.count of the config).
    #[arg(long)]
    pub(crate) count: Option<usize>,
    /// The trajectories (JSONL).
    #[arg(long, visible_alias = "out")]
    pub(crate) output: PathBuf,
    /// Scenarios (comma-separated): weather, travel, math, units, currency, dates, knowledge,
    /// notes, chain. Default: synth.scenarios of the config, else all.
    #[arg(long, value_delimiter = ',')]
    pub(crate) scenarios: Vec<String>,
    /// Query languages (comma-separated): en, zh. Default: synth.languages, else both.
    #[arg(long, value_delimiter = ',')]
    pub(crate) lang: Vec<String>,
    /// Positive : hard-negative ratio (default: synth.positive_to_hard_negative, else
    /// mix.positive_to_hard_negative of the config).
    #[arg(long)]
    pub(crate) positive_to_hard_negative: Option<f64>,
    /// Simple : complex ratio of positives (default: synth.simple_to_complex, else
    /// mix.simple_to_complex of the config).
    #[arg(long)]
    pub(crate) simple_to_complex: Option<f64>,
    /// Most distractor tools offered beside the needed ones (default: synth.max_distractors).
    #[arg(long)]
    pub(crate) max_distractors: Option<usize>,
    /// Share of positive queries with a failed first attempt, a give-up and a restart
    /// (default: synth.restart_share).
    #[arg(long)]
    pub(crate) restart_share: Option<f64>,
    /// Also render the trajectories into training samples here (JSONL), as `data render`.
    #[arg(long)]
    pub(crate) render_output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) templates: TemplateOpts,
    /// Function-calling trajectories (simple, multiple, parallel, parallel-multiple,
    /// irrelevance) over synthetic or imported tools instead of scenarios; `--count` defaults
    /// to fc.count, `--positive-to-hard-negative` is the positive : irrelevance ratio.
    #[arg(long)]
    pub(crate) fc: bool,
    /// With `--fc`: tool catalogs to draw functions from (comma-separated; default:
    /// fc.catalogs of the config).
    #[arg(long, value_delimiter = ',', requires = "fc")]
    pub(crate) tools: Vec<PathBuf>,
    /// With `--fc`: synthetic tool specs added to the catalogs (default: fc.tools; 0 = none).
    #[arg(long, requires = "fc")]
    pub(crate) tool_count: Option<usize>,
}

/// Options of `cargo xtask data render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Trajectories (JSONL, one or more files); samples in them are passed through unchanged.
    #[arg(long, visible_alias = "in", required = true, num_args = 1..)]
    pub(crate) input: Vec<PathBuf>,
    /// The samples (JSONL).
    #[arg(long, visible_alias = "out")]
    pub(crate) output: PathBuf,
    /// The rendering report (default: <output>.render.json).
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) templates: TemplateOpts,
}

/// Strict-format options of `cargo xtask data clean`.
#[derive(Debug, Clone, clap::Args)]
pub struct StrictArgs {
    /// Do not check rendered samples against their template's strict parser and their calls
    /// against the tools' JSON Schemas (the check runs by default on samples whose template
    /// is known: the shipped ones plus `--strict-templates`).
    #[arg(long)]
    pub(crate) no_strict_format: bool,
    /// Extra templates the strict check knows (files, folders or patterns, comma-separated),
    /// e.g. ones a meta-agent wrote.
    #[arg(long, value_delimiter = ',')]
    pub(crate) strict_templates: Vec<String>,
}

/// Adds the strict-format rule to a cleaner unless disabled.
pub(crate) fn add_strict_rule(cleaner: &mut Cleaner, a: &StrictArgs) -> Result<()> {
    if a.no_strict_format {
        return Ok(());
    }
    let mut rule = StrictFormatRule::new().context("setting up the strict-format rule")?;
    if !a.strict_templates.is_empty() {
        let mix = TemplateMix::from_specs(&a.strict_templates, &[])
            .context("loading --strict-templates")?;
        for t in mix.templates() {
            rule = rule.with_template(t.clone());
        }
    }
    cleaner.push_rule(Box::new(rule));
    Ok(())
}

pub(crate) fn bar(len: usize, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(msg.to_owned());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

pub(crate) fn mix_from(cfg: &DataConfig, opts: &TemplateOpts) -> Result<Renderer> {
    let mix = if !opts.templates.is_empty() {
        TemplateMix::from_specs(&opts.templates, &opts.weights).context("reading --templates")?
    } else if !opts.weights.is_empty() {
        bail!("--weights needs --templates (one weight per template)");
    } else if !cfg.render.templates.is_empty() {
        TemplateMix::from_specs(&cfg.render.templates, &cfg.render.weights)
            .context("reading render.templates of the data config")?
    } else {
        TemplateMix::builtin()?
    };
    Ok(Renderer::new(
        mix,
        RenderSettings {
            per_record: opts.per_record.unwrap_or(cfg.render.per_record),
            seed: cfg.seed,
            match_language: cfg.render.match_language && !opts.any_language,
        },
    )?)
}

/// The names of a list flag, else of the config's list.
fn names_or<'a>(flag: &'a [String], config: &'a [String]) -> impl Iterator<Item = &'a String> {
    let list = if flag.iter().any(|s| !s.trim().is_empty()) {
        flag
    } else {
        config
    };
    list.iter().filter(|s| !s.trim().is_empty())
}

pub(crate) fn synth_cmd(cfg: &DataConfig, a: &SynthArgs) -> Result<()> {
    if a.fc {
        return crate::data_tools::fc_synth_cmd(cfg, a);
    }
    let sc = &cfg.synth;
    let scenarios = names_or(&a.scenarios, &sc.scenarios)
        .map(|s| s.parse::<Scenario>())
        .collect::<Result<Vec<_>, _>>()?;
    let languages = names_or(&a.lang, &sc.languages)
        .map(|s| s.parse::<Lang>())
        .collect::<Result<Vec<_>, _>>()?;
    let scenario_weights = sc
        .weights
        .iter()
        .map(|(name, w)| Ok((name.parse::<Scenario>()?, *w)))
        .collect::<Result<Vec<_>, agentune_data::Error>>()?;
    let settings = SynthSettings {
        count: a.count.unwrap_or(sc.count),
        seed: sc.seed.unwrap_or(cfg.seed),
        scenario_weights,
        restart_share: a.restart_share.unwrap_or(sc.restart_share),
        scenarios,
        languages,
        positive_to_hard_negative: a
            .positive_to_hard_negative
            .or(sc.positive_to_hard_negative)
            .unwrap_or(cfg.mix.positive_to_hard_negative),
        simple_to_complex: a
            .simple_to_complex
            .or(sc.simple_to_complex)
            .unwrap_or(cfg.mix.simple_to_complex),
        max_distractors: a.max_distractors.unwrap_or(sc.max_distractors),
    };
    let renderer = match &a.render_output {
        Some(_) => Some(mix_from(cfg, &a.templates)?),
        None => None,
    };
    let synth = Synthesizer::new(settings)?;
    let start = Instant::now();
    let pb = bar(synth.len(), "synthesising");
    let mut w = JsonlWriter::<Trajectory>::create(&a.output)?;
    let mut samples = match &a.render_output {
        Some(p) => Some(JsonlWriter::<Sample>::create(p)?),
        None => None,
    };
    let mut report = RenderReport::default();
    let (mut hard_negatives, mut complex, mut zh) = (0usize, 0usize, 0usize);
    for i in 0..synth.len() {
        let t = synth.generate(i)?;
        if let Some(m) = &t.meta {
            hard_negatives += usize::from(m.kind == agentune_schema::QueryKind::HardNegative);
            complex += usize::from(m.complexity == agentune_schema::Complexity::Complex);
            zh += usize::from(m.language == "zh");
        }
        if let (Some(r), Some(sw)) = (&renderer, samples.as_mut()) {
            for s in r.render(&t, &mut report) {
                sw.write(&s)?;
            }
        }
        w.write(&t)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    let n = w.finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "synthesised {n} trajectories in {secs:.2} s ({:.0} records/s): {hard_negatives} hard negatives, {complex} complex, {zh} Chinese; wrote {}",
        n as f64 / secs.max(1e-9),
        a.output.display()
    );
    if let (Some(sw), Some(p)) = (samples, &a.render_output) {
        let m = sw.finish()?;
        print_render(&report, m, p);
        write_report(&sibling(p, ".render.json"), &report)?;
    }
    Ok(())
}

pub(crate) fn render_cmd(cfg: &DataConfig, a: &RenderArgs) -> Result<()> {
    let renderer = mix_from(cfg, &a.templates)?;
    let mut records = Vec::new();
    for p in &a.input {
        records.extend(crate::data::read_records(p)?);
    }
    let pb = bar(records.len(), "rendering");
    let mut report = RenderReport::default();
    let mut w = JsonlWriter::<Record>::create(&a.output)?;
    let mut passed = 0usize;
    for r in &records {
        match r {
            Record::Trajectory(t) => {
                for s in renderer.render(t, &mut report) {
                    w.write(&Record::from(s))?;
                }
            }
            Record::Sample(_) => {
                passed += 1;
                w.write(r)?;
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let n = w.finish()?;
    print_render(&report, n - passed, &a.output);
    if passed > 0 {
        eprintln!("passed {passed} sample(s) of the input through unchanged");
    }
    let report_path = a
        .report
        .clone()
        .unwrap_or_else(|| sibling(&a.output, ".render.json"));
    write_report(&report_path, &report)
}

pub(crate) fn print_render(report: &RenderReport, written: usize, path: &Path) {
    let by: Vec<String> = report
        .by_template
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    eprintln!(
        "rendered {} trajectories into {written} samples ({}); skipped {} rendering(s){}; {} trajectory(ies) fit no template; wrote {}",
        report.trajectories,
        by.join(", "),
        report.skipped_total(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join(", "))
        },
        report.unrendered,
        path.display()
    );
}

pub(crate) fn write_report(path: &Path, report: &RenderReport) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report).context("serializing the report")?;
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
