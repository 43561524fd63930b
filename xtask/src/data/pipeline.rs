//! `cargo xtask data build` without `--in`: the whole data chain from one data config, into
//! one output folder. Each stage is the matching `data` command run on the previous stage's
//! files; a stage whose outputs are newer than its inputs and whose settings are unchanged
//! (recorded in `build.json`) is skipped, so an interrupted or repeated build resumes where
//! it stopped. `--force` runs every stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use agentune_data::DataConfig;
use agentune_data::hash::hash_str;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CleanArgs, LeakageArgs, MixArgs, SplitArgs, StatsArgs};
use crate::data_build::{BuildArgs, ShardJob};
use crate::data_synth::{RenderArgs, StrictArgs, SynthArgs, TemplateOpts};

/// The record of finished stages, `build.json` in the output folder.
const MANIFEST: &str = "build.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Per stage: the fingerprint of the settings it ran with.
    stages: BTreeMap<String, StageRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StageRecord {
    fingerprint: String,
    seconds: f64,
}

/// One stage of the chain.
struct Stage {
    name: String,
    inputs: Vec<PathBuf>,
    outputs: Vec<PathBuf>,
    /// Everything that changes the stage's outputs besides its input files.
    settings: serde_json::Value,
}

impl Stage {
    fn new(name: impl Into<String>, settings: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            settings,
        }
    }

    fn inputs(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.inputs.extend(paths);
        self
    }

    fn outputs(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.outputs.extend(paths);
        self
    }

    fn fingerprint(&self) -> String {
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let text = json!({"settings": self.settings, "inputs": inputs}).to_string();
        format!("{:016x}", hash_str(&text))
    }
}

/// The latest modification time of a file, or of the files in a folder (one level deep).
fn modified(path: &Path) -> Result<SystemTime> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let mut latest = meta
        .modified()
        .with_context(|| format!("reading the time of {}", path.display()))?;
    if meta.is_dir() {
        let entries =
            std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("listing {}", path.display()))?;
            if let Ok(t) = e.metadata().and_then(|m| m.modified()) {
                latest = latest.max(t);
            }
        }
    }
    Ok(latest)
}

/// Whether a stage's outputs all exist, are at least as new as every input, and were made
/// with the same settings.
fn up_to_date(stage: &Stage, fingerprint: &str, manifest: &Manifest) -> Result<bool> {
    if manifest
        .stages
        .get(&stage.name)
        .is_none_or(|r| r.fingerprint != fingerprint)
    {
        return Ok(false);
    }
    let mut oldest_output = None::<SystemTime>;
    for o in &stage.outputs {
        if !o.exists() {
            return Ok(false);
        }
        let t = modified(o)?;
        oldest_output = Some(oldest_output.map_or(t, |x| x.min(t)));
    }
    let Some(oldest_output) = oldest_output else {
        return Ok(false);
    };
    for i in &stage.inputs {
        if modified(i)? > oldest_output {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs the stages in order, skipping those that are up to date.
struct Runner {
    dir: PathBuf,
    manifest: Manifest,
    force: bool,
    total: usize,
    done: usize,
    ran: Vec<String>,
    skipped: Vec<String>,
}

impl Runner {
    fn stage(&mut self, stage: Stage, run: impl FnOnce() -> Result<()>) -> Result<()> {
        self.done += 1;
        let fp = stage.fingerprint();
        let tag = format!("[{}/{}] {}", self.done, self.total, stage.name);
        if !self.force && up_to_date(&stage, &fp, &self.manifest)? {
            eprintln!("{tag}: up to date, skipped");
            self.skipped.push(stage.name);
            return Ok(());
        }
        for i in &stage.inputs {
            if !i.exists() {
                bail!("{tag}: input {} does not exist", i.display());
            }
        }
        eprintln!("{tag}: running");
        // Forget the stage first: if it fails half-way, a rerun must not trust its files.
        self.manifest.stages.remove(&stage.name);
        self.save()?;
        let start = Instant::now();
        run().with_context(|| format!("data build: stage `{}` failed", stage.name))?;
        let seconds = start.elapsed().as_secs_f64();
        eprintln!("{tag}: done in {seconds:.1} s");
        self.manifest.stages.insert(
            stage.name.clone(),
            StageRecord {
                fingerprint: fp,
                seconds,
            },
        );
        self.save()?;
        self.ran.push(stage.name);
        Ok(())
    }

    fn save(&self) -> Result<()> {
        super::write_json(&self.dir.join(MANIFEST), &self.manifest)
    }
}

fn load_manifest(path: &Path) -> Result<Manifest> {
    if !path.exists() {
        return Ok(Manifest::default());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // An unreadable record only means that nothing is known to be finished.
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| {
        tracing::warn!("{}: {e}; every stage runs again", path.display());
        Manifest::default()
    }))
}

/// A file name for the import of source `i`.
fn import_name(i: usize, path: &Path) -> String {
    let stem: String = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{i:02}-{stem}.jsonl")
}

pub(crate) fn run(cfg: &DataConfig, a: &BuildArgs) -> Result<()> {
    let mut cfg = cfg.clone();
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    if let Some(m) = &a.model {
        cfg.shards.model.clone_from(m);
    }
    if let Some(v) = a.max_len {
        cfg.shards.max_len = v;
    }
    if let Some(v) = a.rows_per_shard {
        cfg.shards.rows_per_shard = v;
    }
    cfg.validate()?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| cfg.build.output_dir.clone());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for src in &cfg.import {
        if !src.path.exists() {
            bail!(
                "import source {} ({}) does not exist",
                src.path.display(),
                src.format
            );
        }
    }
    if cfg.synth.count == 0 && cfg.import.is_empty() {
        bail!("nothing to build: synth.count is 0 and no [[import]] source is configured");
    }
    // The tokenizer is loaded first, so a missing model fails before any work.
    let model = if cfg.shards.model.is_empty() {
        None
    } else {
        Some(crate::data_build::load_model_text(&cfg.shards.model)?)
    };
    let p = |name: &str| dir.join(name);
    let split_dir = p("split");
    let stats_dir = p("stats");
    let trajectories = p("trajectories.jsonl");
    let imported: Vec<PathBuf> = cfg
        .import
        .iter()
        .enumerate()
        .map(|(i, s)| p("imported").join(import_name(i, &s.path)))
        .collect();
    let samples = p("samples.jsonl");
    let clean = p("clean.jsonl");
    let valid = p("valid.jsonl");
    let mixed = p("mix.jsonl");
    let splits = ["train", "validation", "test"].map(|s| split_dir.join(format!("{s}.jsonl")));
    let [train, validation, test] = splits.clone();
    let synth_on = cfg.synth.count > 0;
    let mut runner = Runner {
        manifest: load_manifest(&p(MANIFEST))?,
        dir: dir.clone(),
        force: a.force,
        total: usize::from(synth_on) + cfg.import.len() + 7 + if model.is_some() { 2 } else { 0 },
        done: 0,
        ran: Vec::new(),
        skipped: Vec::new(),
    };
    let started = Instant::now();

    // 1. Synthesis.
    if synth_on {
        let stage = Stage::new(
            "synth",
            json!({"seed": cfg.seed, "synth": cfg.synth, "mix": cfg.mix}),
        )
        .outputs([trajectories.clone()]);
        runner.stage(stage, || {
            crate::data_synth::synth_cmd(
                &cfg,
                &SynthArgs {
                    count: None,
                    output: trajectories.clone(),
                    scenarios: Vec::new(),
                    lang: Vec::new(),
                    positive_to_hard_negative: None,
                    simple_to_complex: None,
                    max_distractors: None,
                    restart_share: None,
                    render_output: None,
                    templates: no_templates(),
                },
            )
        })?;
    }
    // 2. Imports.
    for (src, out) in cfg.import.iter().zip(&imported) {
        let stage = Stage::new(format!("import {}", src.path.display()), json!(src))
            .inputs([src.path.clone()])
            .outputs([out.clone()]);
        runner.stage(stage, || {
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            super::import_cmd(&super::ImportArgs {
                format: src.format.clone(),
                input: src.path.clone(),
                output: out.clone(),
                scenario: src.scenario.clone(),
                skip_invalid: src.skip_invalid,
            })
        })?;
    }
    // 3. Cleaning of the template-free records: duplicates, near duplicates and conflicts are
    // found on the trajectories themselves (rendered samples would mostly be compared by
    // their long, shared prompts).
    let mut clean_inputs = Vec::new();
    if synth_on {
        clean_inputs.push(trajectories.clone());
    }
    clean_inputs.extend(imported.iter().cloned());
    let stage = Stage::new("clean", json!({"clean": cfg.clean, "minhash": cfg.minhash}))
        .inputs(clean_inputs.clone())
        .outputs([
            clean.clone(),
            p("clean.report.json"),
            p("clean.rejected.jsonl"),
        ]);
    runner.stage(stage, || {
        super::clean_cmd(
            cfg.clone(),
            &clean_args(
                clean_inputs.clone(),
                clean.clone(),
                p("clean.rejected.jsonl"),
            ),
        )
    })?;
    // 4. Rendering under the template mix (imported samples pass through).
    let stage = Stage::new("render", json!({"seed": cfg.seed, "render": cfg.render}))
        .inputs([clean.clone()])
        .outputs([samples.clone(), p("samples.render.json")]);
    runner.stage(stage, || {
        crate::data_synth::render_cmd(
            &cfg,
            &RenderArgs {
                input: vec![clean.clone()],
                output: samples.clone(),
                report: None,
                templates: no_templates(),
            },
        )
    })?;
    // 5. Validation of the rendered samples: each template's strict parser and the tools'
    // JSON Schemas, structure, length, exact duplicates (no near-duplicate pass: done above).
    let stage = Stage::new(
        "validate",
        json!({"clean": cfg.clean, "render": cfg.render}),
    )
    .inputs([samples.clone()])
    .outputs([
        valid.clone(),
        p("valid.report.json"),
        p("valid.rejected.jsonl"),
    ]);
    runner.stage(stage, || {
        let mut a = clean_args(
            vec![samples.clone()],
            valid.clone(),
            p("valid.rejected.jsonl"),
        );
        a.no_near_dedup = true;
        a.no_pii = true;
        a.strict.strict_templates = cfg.render.templates.clone();
        super::clean_cmd(cfg.clone(), &a)
    })?;
    // 5. Mixing at the target ratios.
    let stage = Stage::new("mix", json!({"seed": cfg.seed, "mix": cfg.mix}))
        .inputs([valid.clone()])
        .outputs([mixed.clone(), p("mix.report.json")]);
    runner.stage(stage, || {
        super::mix_cmd(
            cfg.clone(),
            &MixArgs {
                input: vec![valid.clone()],
                output: mixed.clone(),
                report: None,
                size: None,
                positive_to_hard_negative: None,
                simple_to_complex: None,
                agent_to_general: None,
            },
        )
    })?;
    // 6. Splitting by near-duplicate group.
    let stage = Stage::new(
        "split",
        json!({"seed": cfg.seed, "split": cfg.split, "minhash": cfg.minhash}),
    )
    .inputs([mixed.clone()])
    .outputs(splits.iter().cloned().chain([
        split_dir.join("groups.jsonl"),
        split_dir.join("split_report.json"),
    ]));
    runner.stage(stage, || {
        super::split_cmd(
            cfg.clone(),
            &SplitArgs {
                input: mixed.clone(),
                output_dir: split_dir.clone(),
                validation: None,
                test: None,
                similarity: None,
            },
        )
    })?;
    // 7. Leakage check between train and test.
    let stage = Stage::new(
        "leakage",
        json!({"leakage": cfg.leakage, "minhash": cfg.minhash}),
    )
    .inputs([train.clone(), test.clone()])
    .outputs([p("leakage.json")]);
    runner.stage(stage, || {
        super::leakage_check(
            &cfg,
            &LeakageArgs {
                train: train.clone(),
                test: test.clone(),
                max_similarity: None,
                report: Some(p("leakage.json")),
            },
            false,
        )
    })?;
    // 8. Statistics of the three splits.
    let stage = Stage::new(
        "stats",
        json!({"stats": cfg.stats, "mix": cfg.mix, "tokenizer": cfg.shards.model}),
    )
    .inputs(splits.iter().cloned().chain([p("clean.report.json")]))
    .outputs([stats_dir.join("stats.json"), stats_dir.join("stats.md")]);
    runner.stage(stage, || {
        super::stats_cmd(
            &cfg,
            &StatsArgs {
                input: splits.to_vec(),
                output_dir: stats_dir.clone(),
                clean_report: Some(p("clean.report.json")),
                no_charts: false,
                tokenizer: (!cfg.shards.model.is_empty()).then(|| cfg.shards.model.clone()),
            },
        )
    })?;
    // 9. Training shards: train and validation, each on its own; never the test split.
    if let Some(model) = &model {
        let job = ShardJob {
            model: cfg.shards.model.clone(),
            max_len: cfg.shards.max_len,
            seed: cfg.seed,
            rows_per_shard: cfg.shards.rows_per_shard,
            templates: cfg.render.templates.clone(),
        };
        let settings = json!({
            "model": cfg.shards.model,
            "source": model.source.display().to_string(),
            "max_len": job.max_len,
            "seed": job.seed,
            "rows_per_shard": job.rows_per_shard,
            "templates": job.templates,
        });
        for (name, input) in [("train", &train), ("validation", &validation)] {
            let out = p("shards").join(name);
            let stage = Stage::new(format!("shards {name}"), settings.clone())
                .inputs([input.clone()])
                .outputs([out.join(agentune_data::shards::INDEX_FILE)]);
            runner.stage(stage, || {
                let (index, _) = crate::data_build::build_shards(model, &job, input, &out)?;
                eprintln!(
                    "{name} shards: {} rows ({} samples, {} tokens, {} trained; dropped {} too long) in {} file(s)",
                    index.rows,
                    index.samples,
                    index.tokens,
                    index.trained_tokens,
                    index.dropped.dropped_too_long,
                    index.shards.len()
                );
                Ok(())
            })?;
        }
    }
    println!(
        "data build: {} stage(s) run, {} up to date in {:.1} s; output in {}",
        runner.ran.len(),
        runner.skipped.len(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

/// `data clean` arguments with the config's settings: every rule, the strict check.
fn clean_args(input: Vec<PathBuf>, output: PathBuf, rejected: PathBuf) -> CleanArgs {
    CleanArgs {
        input,
        output,
        report: None,
        rejected: Some(rejected),
        threshold: None,
        max_length: None,
        tokenizer: None,
        conflict_policy: None,
        no_pii: false,
        no_near_dedup: false,
        strict: StrictArgs {
            no_strict_format: false,
            strict_templates: Vec::new(),
        },
    }
}

fn no_templates() -> TemplateOpts {
    TemplateOpts {
        templates: Vec::new(),
        weights: Vec::new(),
        per_record: None,
        any_language: false,
    }
}
