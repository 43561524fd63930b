//! `cargo xtask pipeline`: the whole lifecycle on one model, end to end. Fetch the model,
//! distil general data from it, generate templates, build the data, evaluate the base model,
//! train, evaluate the tuned model, write the report. Each stage runs this binary's own
//! subcommands as child processes with a log per stage; a re-run skips the stages whose inputs
//! and settings are unchanged, and `--from STAGE` forces one stage and every later one.

mod config;
mod report;
mod runner;
mod sets;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

pub use config::PipelineConfig;
use runner::{Runner, Stage, StageCtx};

/// The stages in order (names for `--from`).
pub const STAGES: [&str; 9] = [
    "model",
    "general",
    "templates",
    "data",
    "eval-sets",
    "eval-base",
    "train",
    "eval-tuned",
    "report",
];

/// Request timeout of the generation stages: a CPU with a full batch of long prompts takes
/// minutes per request, and a timed-out request is wasted work.
const TIMEOUT_S: &str = "3600";

/// Options of `cargo xtask pipeline`; flags override the config's fields.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// The pipeline config (TOML).
    #[arg(long, default_value = "configs/pipeline/default.toml")]
    config: PathBuf,
    /// The run folder (default: runs/<name from the config>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run this stage and every later one even if unchanged (model, general, templates,
    /// data, eval-sets, eval-base, train, eval-tuned, report).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STAGES))]
    from: Option<String>,
    /// Overrides `train.steps`.
    #[arg(long)]
    steps: Option<u64>,
    /// Overrides `train.lr`.
    #[arg(long)]
    lr: Option<f64>,
    /// Overrides `model.base`.
    #[arg(long)]
    model: Option<String>,
    /// Overrides `data.fc` (function-calling trajectories over synthetic tools; 0 = none).
    #[arg(long)]
    fc: Option<usize>,
}

/// Where every stage reads and writes, under the run folder.
pub(crate) struct Paths {
    pub root: PathBuf,
}

impl Paths {
    fn p(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    pub fn random_base(&self) -> PathBuf {
        self.p("base")
    }
    pub fn general(&self) -> PathBuf {
        self.p("general/general.jsonl")
    }
    pub fn templates(&self) -> PathBuf {
        self.p("templates")
    }
    pub fn template_split(&self) -> PathBuf {
        self.p("templates/split.json")
    }
    pub fn data_config(&self) -> PathBuf {
        self.p("data/data.toml")
    }
    pub fn build(&self) -> PathBuf {
        self.p("data/build")
    }
    pub fn sets(&self) -> PathBuf {
        self.p("eval/sets")
    }
    pub fn eval(&self, who: &str) -> PathBuf {
        self.p(&format!("eval/{who}"))
    }
    pub fn forgetting(&self) -> PathBuf {
        self.p("eval/forgetting")
    }
    pub fn train(&self) -> PathBuf {
        self.p("train")
    }
    pub fn cache(&self) -> PathBuf {
        self.p("cache/responses.jsonl")
    }
    pub fn report_dir(&self) -> PathBuf {
        self.p("report")
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn args(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The base model as the later stages name it: a random folder, or the configured model.
fn base_spec(cfg: &PipelineConfig, paths: &Paths) -> String {
    if cfg.model.random.is_some() {
        s(&paths.random_base())
    } else {
        cfg.model.base.clone()
    }
}

/// Writes a random model of the configured shape with the base model's tokenizer.
fn write_random_base(
    cfg: &PipelineConfig,
    shape: &agentune_trainer::tiny::Shape,
    dir: &Path,
) -> Result<()> {
    use agentune_model::{Pretrained, WeightFormat, Weights};
    let mut p = Pretrained::load(&cfg.model.base, WeightFormat::AsStored)
        .with_context(|| format!("cannot load the tokenizer of `{}`", cfg.model.base))?;
    let mut config = shape.to_config(p.tokenizer.vocab_size(), cfg.model.max_positions);
    config.bos_token_id = p.tokenizer.bos_id();
    config.eos_token_ids = p.tokenizer.eos_ids().to_vec();
    p.weights = Weights::random(&config, cfg.model.init_std, cfg.seed)
        .context("cannot draw random weights")?;
    p.config = config;
    p.generation_config = None;
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    p.save_hf(&tmp)
        .with_context(|| format!("cannot write the random model into {}", tmp.display()))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::rename(&tmp, dir).with_context(|| format!("cannot move {} into place", tmp.display()))
}

/// Whether `spec` names a model the `fetch-model` command knows.
fn fetchable(spec: &str) -> bool {
    spec == "smollm2"
}

/// The templates trained on and held out, as files or shipped ids.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct TemplateSplit {
    pub train: Vec<String>,
    pub held_out: Vec<String>,
}

fn read_template_split(paths: &Paths) -> Result<TemplateSplit> {
    let p = paths.template_split();
    let text =
        std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a template split", p.display()))
}

/// The effective data config: the configured file with the pipeline's counts, templates,
/// general data and model.
fn data_config(
    cfg: &PipelineConfig,
    paths: &Paths,
    base: &str,
    split: &TemplateSplit,
) -> Result<agentune_data::DataConfig> {
    let mut d = agentune_data::DataConfig::load(&cfg.data.config)
        .with_context(|| format!("cannot read the data config {}", cfg.data.config.display()))?;
    d.seed = cfg.seed;
    d.synth.count = cfg.data.synth;
    if let Some(n) = cfg.data.max_distractors {
        d.synth.max_distractors = n;
    }
    d.synth.seed = None;
    d.fc.count = cfg.data.fc;
    d.fc.seed = None;
    d.render.templates.clone_from(&split.train);
    d.render.weights = Vec::new();
    d.render.per_record = cfg.data.per_record;
    d.import.extend(cfg.data.import.iter().cloned());
    d.import.push(agentune_data::config::ImportSource {
        path: paths.general(),
        format: "openai".into(),
        scenario: Some("general".into()),
        skip_invalid: false,
    });
    d.shards.model = base.to_owned();
    d.shards.max_len = cfg.data.max_len;
    if let Some(share) = cfg.data.test {
        d.split.test = share;
    }
    if let Some(r) = cfg.data.positive_to_hard_negative {
        d.mix.positive_to_hard_negative = r;
        d.synth.positive_to_hard_negative = None;
        d.fc.positive_to_irrelevance = r;
    }
    d.build.output_dir = paths.build();
    d.validate().context("the effective data config")?;
    Ok(d)
}

/// `cargo xtask pipeline`.
pub fn run(a: &PipelineArgs) -> Result<()> {
    let mut cfg = PipelineConfig::load(&a.config)?;
    if let Some(n) = a.steps {
        cfg.train.steps = Some(n);
        cfg.train.epochs = None;
    }
    if let Some(lr) = a.lr {
        cfg.train.lr = lr;
        cfg.train.min_lr = cfg.train.min_lr.min(lr);
    }
    if let Some(m) = &a.model {
        cfg.model.base.clone_from(m);
    }
    if let Some(n) = a.fc {
        cfg.data.fc = n;
    }
    cfg.validate()?;
    let root = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&cfg.name));
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let paths = Paths { root: root.clone() };
    let mut text = toml::to_string_pretty(&cfg).context("cannot write the config back")?;
    text.insert_str(0, "# The settings this run used (flags applied).\n");
    agentune_schema::write_atomic(root.join("config.toml"), text.as_bytes())?;
    eprintln!(
        "pipeline `{}` into {} (logs in {})",
        cfg.name,
        root.display(),
        root.join("logs").display()
    );
    let started = std::time::Instant::now();
    let mut runner = Runner::new(&root, STAGES.len(), a.from.clone())?;
    let base = base_spec(&cfg, &paths);

    // 1. The base model.
    runner.stage(Stage {
        name: "model",
        settings: json!({"model": cfg.model, "seed": cfg.seed}),
        external: if fetchable(&cfg.model.base) {
            Vec::new()
        } else {
            vec![PathBuf::from(&cfg.model.base)]
        },
        outputs: if cfg.model.random.is_some() {
            vec![paths.random_base()]
        } else {
            Vec::new()
        },
        run: Box::new(|ctx: &mut StageCtx| {
            if fetchable(&cfg.model.base) {
                ctx.xtask(&args(&["fetch-model", &cfg.model.base]))?;
            }
            if let Some(shape) = &cfg.model.random {
                write_random_base(&cfg, shape, &paths.random_base())?;
                ctx.note(&format!(
                    "random base model written to {}",
                    paths.random_base().display()
                ))?;
            } else {
                agentune_model::Pretrained::load(
                    &cfg.model.base,
                    agentune_model::WeightFormat::AsStored,
                )
                .with_context(|| format!("cannot load the base model `{}`", cfg.model.base))?;
            }
            Ok(())
        }),
    })?;

    // 2. General data: the base model answers the bundled general prompts.
    runner.stage(Stage {
        name: "general",
        settings: json!({"general": cfg.general, "serve": cfg.serve}),
        external: vec![cfg.general.prompts.clone()],
        outputs: vec![paths.general()],
        run: Box::new(|ctx: &mut StageCtx| {
            // The cache is keyed by model name: name the model by what it is, so an
            // interrupted stage goes on from the answers it has.
            let name = model_name(&base, "base");
            let server = ctx.serve(&base, &name, cfg.serve.max_batch)?;
            let mut v = args(&[
                "data",
                "distill",
                "--prompts",
                &s(&cfg.general.prompts),
                "--endpoint",
                &server.url,
                "--model",
                &name,
                "--max-tokens",
                &cfg.general.max_tokens.to_string(),
                "--concurrency",
                &cfg.eval.concurrency.to_string(),
                "--timeout-s",
                TIMEOUT_S,
                "--cache",
                &s(&paths.p("general/cache.jsonl")),
                "--out",
                &s(&paths.general()),
            ]);
            if cfg.general.temperature > 0.0 {
                v.extend(args(&[
                    "--temperature",
                    &cfg.general.temperature.to_string(),
                    "--seed",
                    &cfg.seed.to_string(),
                ]));
            }
            if cfg.general.keep_truncated {
                v.push("--keep-truncated".into());
            }
            if cfg.general.limit > 0 {
                v.extend(args(&["--limit", &cfg.general.limit.to_string()]));
            }
            ctx.xtask(&v)?;
            ctx.sample(&server);
            Ok(())
        }),
    })?;

    // 3. Templates: generated ones, some held out entirely.
    runner.stage(Stage {
        name: "templates",
        settings: json!({"templates": cfg.templates, "seed": cfg.seed}),
        external: cfg.templates.teacher_queries.iter().cloned().collect(),
        outputs: vec![paths.template_split()],
        run: Box::new(|ctx: &mut StageCtx| {
            let t = &cfg.templates;
            let mut files = Vec::new();
            if t.generate > 0 {
                let out = paths.templates();
                let mut v = args(&["meta-agent", "templates", "--out", &s(&out)]);
                match (&t.teacher_endpoint, &t.teacher_model, &t.teacher_queries) {
                    (Some(url), Some(model), Some(q)) => v.extend(args(&[
                        "--endpoint",
                        url,
                        "--model",
                        model,
                        "--queries",
                        &s(q),
                        "--count",
                        &t.generate.to_string(),
                    ])),
                    _ => v.extend(args(&[
                        "--grammar",
                        "--count",
                        &t.generate.to_string(),
                        "--seed",
                        &cfg.seed.to_string(),
                    ])),
                }
                ctx.xtask(&v)?;
                files = template_files(&out.join("templates"))?;
                if files.len() <= t.held_out && t.shipped.is_empty() {
                    bail!(
                        "the meta-agent accepted {} template(s), not more than the {} to hold out",
                        files.len(),
                        t.held_out
                    );
                }
            }
            let cut = files.len().saturating_sub(t.held_out);
            let held_out = files.split_off(cut);
            let mut train = t.shipped.clone();
            train.extend(files);
            let split = TemplateSplit { train, held_out };
            ctx.note(&format!(
                "trained on: {:?}\nheld out: {:?}",
                split.train, split.held_out
            ))?;
            let mut text = serde_json::to_string_pretty(&split)?;
            text.push('\n');
            agentune_schema::write_atomic(paths.template_split(), text.as_bytes())?;
            Ok(())
        }),
    })?;

    // 4. The data build: synthesis, general data, rendering, cleaning, mixing, splits, shards.
    runner.stage(Stage {
        name: "data",
        settings: json!({"data": cfg.data, "seed": cfg.seed, "base": base}),
        external: std::iter::once(cfg.data.config.clone())
            .chain(cfg.data.import.iter().map(|i| i.path.clone()))
            .collect(),
        outputs: vec![
            paths.build().join("split/test.jsonl"),
            paths.build().join("shards/train/index.json"),
        ],
        run: Box::new(|ctx: &mut StageCtx| {
            let split = read_template_split(&paths)?;
            let d = data_config(&cfg, &paths, &base, &split)?;
            let mut text = toml::to_string_pretty(&d).context("cannot write the data config")?;
            text.insert_str(0, "# Written by `cargo xtask pipeline` from its config.\n");
            agentune_schema::write_atomic(paths.data_config(), text.as_bytes())?;
            ctx.xtask(&args(&[
                "data",
                "--config",
                &s(&paths.data_config()),
                "build",
            ]))
        }),
    })?;

    // 5. Evaluation sets: a sample of the test split, the unseen-template renderings, the
    // general holdout of the forgetting check.
    runner.stage(Stage {
        name: "eval-sets",
        settings: json!({"eval": cfg.eval, "seed": cfg.seed}),
        external: Vec::new(),
        outputs: vec![paths.sets().join("heldout.jsonl")],
        run: Box::new(|ctx: &mut StageCtx| sets::write(ctx, &cfg, &paths)),
    })?;

    // 6. The base model, evaluated.
    runner.stage(Stage {
        name: "eval-base",
        settings: json!({"eval": cfg.eval, "serve": cfg.serve}),
        external: Vec::new(),
        outputs: vec![paths.eval("base").join("heldout/steps.jsonl")],
        run: Box::new(|ctx: &mut StageCtx| evaluate(ctx, &cfg, &paths, &base, "base")),
    })?;

    // 7. Training.
    let train_cfg = paths.train().join("train.toml");
    runner.stage(Stage {
        name: "train",
        settings: json!({"train": cfg.train, "checkpoint_every": cfg.checkpoint_every}),
        external: Vec::new(),
        outputs: vec![paths.train().join("run/metrics.jsonl")],
        run: Box::new(|ctx: &mut StageCtx| train(ctx, &cfg, &paths, &base, &train_cfg)),
    })?;
    let tuned = tuned_checkpoint(&paths)?;

    // 8. The tuned model, evaluated the same way, and the forgetting check.
    runner.stage(Stage {
        name: "eval-tuned",
        settings: json!({"eval": cfg.eval, "serve": cfg.serve, "tuned": s(&tuned)}),
        external: Vec::new(),
        outputs: vec![paths.eval("tuned").join("heldout/steps.jsonl")],
        run: Box::new(|ctx: &mut StageCtx| {
            evaluate(ctx, &cfg, &paths, &s(&tuned), "tuned")?;
            let general = paths.sets().join("general.jsonl");
            if cfg.eval.forgetting > 0 && has_lines(&general) {
                ctx.xtask(&args(&[
                    "eval",
                    "forgetting",
                    "--samples",
                    &s(&general),
                    "--base",
                    &base,
                    "--tuned",
                    &s(&tuned),
                    "--max-len",
                    &cfg.data.max_len.to_string(),
                    "--max-new-tokens",
                    &cfg.eval.max_tokens.to_string(),
                    "--out",
                    &s(&paths.forgetting()),
                ]))?;
            }
            Ok(())
        }),
    })?;

    // 9. The report.
    let manifest_stages = runner.manifest().stages.clone();
    runner.stage(Stage {
        name: "report",
        // Every earlier stage's fingerprint is in the chain already; their run times change
        // whenever one ran again, even with the same settings.
        settings: json!({
            "ran": manifest_stages
                .iter()
                .filter(|(k, _)| k.as_str() != "report")
                .map(|(k, v)| (k.clone(), v.seconds))
                .collect::<std::collections::BTreeMap<_, _>>()
        }),
        external: Vec::new(),
        outputs: vec![root.join("report.md"), root.join("report.json")],
        run: Box::new(|ctx: &mut StageCtx| {
            report::write(ctx, &cfg, &paths, &base, &tuned, &manifest_stages)
        }),
    })?;
    runner.finish();
    let elapsed = started.elapsed().as_secs_f64();
    crate::print_stdout(&report::closing_text(&cfg, &paths, &tuned, elapsed)?)?;
    Ok(())
}

/// Whether a file exists and holds a non-empty line.
pub(crate) fn has_lines(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().any(|l| !l.trim().is_empty()))
}

/// The template files in a folder, sorted.
fn template_files(dir: &Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| s(&p))
        .collect();
    out.sort();
    Ok(out)
}

/// The evaluation of one model: held-out steps and the unseen-template set in-process (the
/// samples' text rendered with the model's own chat template, exactly as training tokenized
/// it), BFCL through the model served (when its data is cached).
fn evaluate(
    ctx: &mut StageCtx,
    cfg: &PipelineConfig,
    paths: &Paths,
    model: &str,
    who: &str,
) -> Result<()> {
    let out = paths.eval(who);
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("removing {}", out.display()))?;
    }
    // The cache is keyed by model name: name each model by what it is.
    let name = model_name(model, who);
    let split = read_template_split(paths)?;
    let files: Vec<String> = split
        .train
        .iter()
        .chain(&split.held_out)
        .filter(|t| t.ends_with(".toml"))
        .cloned()
        .collect();
    let steps = |samples: &Path, dest: &Path| {
        let mut v = args(&[
            "eval",
            "steps",
            "--samples",
            &s(samples),
            "--local",
            model,
            "--model",
            &format!("{name}-local"),
            "--concurrency",
            "1",
            "--max-tokens",
            &cfg.eval.max_tokens.to_string(),
            "--cache",
            &s(&paths.cache()),
            "--out",
            &s(dest),
        ]);
        if !files.is_empty() {
            v.push("--templates".into());
            v.push(files.join(","));
        }
        v
    };
    ctx.xtask(&steps(
        &paths.sets().join("heldout.jsonl"),
        &out.join("heldout"),
    ))?;
    let unseen = paths.sets().join("unseen.jsonl");
    if has_lines(&unseen) {
        ctx.xtask(&steps(&unseen, &out.join("unseen")))?;
    }
    if cfg.eval.bfcl_categories.is_empty() {
        return Ok(());
    }
    if !cfg.eval.bfcl_data.is_dir() {
        return ctx.note(&format!(
            "BFCL skipped: {} is not there (scripts/fetch_bfcl.sh fetches it)",
            cfg.eval.bfcl_data.display()
        ));
    }
    let server = ctx.serve(model, &name, cfg.serve.max_batch)?;
    let template = cfg
        .eval
        .bfcl_template
        .clone()
        .or_else(|| cfg.templates.shipped.first().cloned())
        .unwrap_or_else(|| "hermes".into());
    ctx.xtask(&args(&[
        "eval",
        "bfcl",
        "--data",
        &s(&cfg.eval.bfcl_data),
        "--template",
        &template,
        "--categories",
        &cfg.eval.bfcl_categories.join(","),
        "--limit",
        &cfg.eval.bfcl_limit.to_string(),
        "--out",
        &s(&out.join("bfcl")),
        "--endpoint",
        &server.url,
        "--model",
        &name,
        "--concurrency",
        &cfg.eval.concurrency.to_string(),
        "--max-tokens",
        &cfg.eval.max_tokens.to_string(),
        "--timeout-s",
        TIMEOUT_S,
        "--cache",
        &s(&paths.cache()),
    ]))?;
    ctx.sample(&server);
    Ok(())
}

/// A name for a model in the response caches: `who` and a hash of its weights' stamp.
fn model_name(model: &str, who: &str) -> String {
    format!(
        "{who}-{:016x}",
        agentune_data::hash::hash_str(&weights_stamp(model))
    )
}

/// Identifies a model's weights: its path with the size and time of its files.
fn weights_stamp(model: &str) -> String {
    let p = Path::new(model);
    let mut parts = vec![model.to_owned()];
    if let Ok(entries) = std::fs::read_dir(p) {
        let mut v: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                let t = m
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?;
                Some(format!(
                    "{} {} {}",
                    e.file_name().to_string_lossy(),
                    m.len(),
                    t.as_nanos()
                ))
            })
            .collect();
        v.sort();
        parts.extend(v);
    }
    parts.join("\n")
}

/// Full-parameter training from the base model on the built shards; an interrupted run with
/// the same settings resumes from its newest checkpoint.
fn train(
    ctx: &mut StageCtx,
    cfg: &PipelineConfig,
    paths: &Paths,
    base: &str,
    config_path: &Path,
) -> Result<()> {
    use agentune_trainer::config::{DataSection, Init, ModelSection, OutputSection, TrainConfig};
    let run_dir = paths.train().join("run");
    let tc = TrainConfig {
        model: ModelSection {
            init: Init::Pretrained,
            source: Some(base.to_owned()),
            shape: None,
            init_std: cfg.model.init_std,
            // The first shipped template is the one the tuned model is served with.
            agent_template: cfg.templates.shipped.first().cloned(),
        },
        data: DataSection {
            shards: paths.build().join("shards/train"),
        },
        train: cfg.train.clone(),
        output: OutputSection {
            dir: run_dir.clone(),
            checkpoint_every: cfg.checkpoint_every,
            keep_checkpoints: 2,
            peak_flops: 0.0,
        },
    };
    let text = toml::to_string_pretty(&tc).context("cannot write the training config")?;
    let same = std::fs::read_to_string(config_path).is_ok_and(|old| old == text);
    let resumable = same
        && agentune_trainer::checkpoint::latest_checkpoint(&run_dir.join("checkpoints"))
            .ok()
            .flatten()
            .is_some();
    if !resumable && run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)
            .with_context(|| format!("removing the stale run {}", run_dir.display()))?;
    }
    std::fs::create_dir_all(paths.train())
        .with_context(|| format!("cannot create {}", paths.train().display()))?;
    agentune_schema::write_atomic(config_path, text.as_bytes())?;
    let mut v = args(&["train", "--config", &s(config_path), "--quiet"]);
    if resumable {
        ctx.note("resuming from the newest checkpoint")?;
        v.push("--resume".into());
    }
    ctx.xtask(&v)
}

/// The model folder of the training run's newest checkpoint (the tuned model).
fn tuned_checkpoint(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.train().join("run/checkpoints");
    let newest = agentune_trainer::checkpoint::latest_checkpoint(&dir)
        .with_context(|| format!("cannot list the checkpoints in {}", dir.display()))?
        .with_context(|| format!("training left no checkpoint in {}", dir.display()))?;
    Ok(newest.join("model"))
}
