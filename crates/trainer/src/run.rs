//! A whole training run from validated settings: load the shards and the initial weights,
//! start one engine per rank (threads sharing memory), step through the schedule with a
//! progress bar and per-step metrics, checkpoint every N steps and at the end, resume from the
//! newest checkpoint, and draw the loss curve.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentune_data::shards::{AGENT_TEMPLATE_DIR, PackedRow, ShardIndex, ShardReader};
use agentune_model::{ModelConfig, Pretrained, WeightFormat, Weights};
use agentune_runtime::Template;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::{
    self, CHECKPOINT_VERSION, ModelFiles, TrainerState, latest_checkpoint, load_shard, load_state,
};
use crate::comm::{Communicator, ThreadComm};
use crate::config::{Init, TrainSettings, lr_at};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::metrics::{MetricsLog, StepMetrics, peak_rss_mib, plot_loss, read_metrics};
use crate::params::Layout;
use crate::stream::RowStream;

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// The step the run started after (0 unless resumed).
    pub start_step: u64,
    /// The last step taken.
    pub last_step: u64,
    /// Steps the run is planned for.
    pub total_steps: u64,
    /// Loss of the first step of the whole run (from the metrics, across resumes).
    pub first_loss: Option<f64>,
    /// Loss of the last step.
    pub last_loss: Option<f64>,
    /// Parameters trained.
    pub num_parameters: usize,
    /// The newest checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// `metrics.jsonl`.
    pub metrics: PathBuf,
    /// The loss chart (written when the run reaches its last step).
    pub loss_chart: Option<PathBuf>,
    /// Mean tokens per second over the steps of this invocation.
    pub tokens_per_s: f64,
}

/// The model a run starts from.
#[derive(Debug)]
struct Start {
    config: ModelConfig,
    files: ModelFiles,
}

fn load_start(settings: &TrainSettings, vocab: usize, max_len: usize) -> Result<(Start, Weights)> {
    let m = &settings.config.model;
    match m.init {
        Init::Pretrained => {
            let source = m.source.as_deref().unwrap_or_default();
            let p = Pretrained::load(source, WeightFormat::F32)?;
            if vocab > p.config.vocab_size {
                return Err(Error::config(
                    None,
                    format!(
                        "the shards use a vocabulary of {vocab} tokens, model {source} has {}",
                        p.config.vocab_size
                    ),
                ));
            }
            Ok((
                Start {
                    config: p.config,
                    files: ModelFiles {
                        tokenizer: Some(p.tokenizer),
                        chat_template: p.chat_template,
                        generation_config: p.generation_config,
                        agent_template: None,
                    },
                },
                p.weights,
            ))
        }
        Init::Random => {
            let shape = m
                .shape
                .as_ref()
                .ok_or_else(|| Error::config(None, "model.shape: missing"))?;
            let mut config = shape.to_config(vocab, max_len);
            let files = match &m.source {
                Some(src) => {
                    let p = Pretrained::load(src, WeightFormat::AsStored)?;
                    config.bos_token_id = p.tokenizer.bos_id();
                    config.eos_token_ids = p.tokenizer.eos_ids().to_vec();
                    ModelFiles {
                        tokenizer: Some(p.tokenizer),
                        chat_template: p.chat_template,
                        generation_config: None,
                        agent_template: None,
                    }
                }
                None => ModelFiles::default(),
            };
            let weights = Weights::random(&config, m.init_std, settings.config.train.seed)?;
            Ok((Start { config, files }, weights))
        }
    }
}

/// The agent template to save with checkpoints, as TOML: `model.agent_template` when set, else
/// the template most samples in the shards were rendered with (its spec saved with the shards,
/// or a shipped one); `None` when the samples name no agent template.
fn agent_template(settings: &TrainSettings, index: &ShardIndex) -> Result<Option<String>> {
    let template = match &settings.config.model.agent_template {
        Some(spec) => Template::resolve(spec)
            .map_err(|e| Error::config(None, format!("model.agent_template: {e}")))?,
        None => {
            let Some(id) = index.main_agent_template() else {
                tracing::info!("the shards name no agent template; checkpoints carry none");
                return Ok(None);
            };
            let saved = settings
                .config
                .data
                .shards
                .join(AGENT_TEMPLATE_DIR)
                .join(format!("{id}.toml"));
            if saved.is_file() {
                Template::load(&saved).map_err(|e| Error::config(Some(&saved), e.to_string()))?
            } else {
                Template::builtin(id).map_err(|_| {
                    Error::config(
                        None,
                        format!(
                            "the shards were rendered mostly with agent template `{id}`, whose spec is neither in {} nor shipped; set model.agent_template to its file",
                            saved.display()
                        ),
                    )
                })?
            }
        }
    };
    let text = toml::to_string_pretty(template.spec()).map_err(|e| {
        Error::Training(format!(
            "cannot serialise agent template `{}`: {e}",
            template.id()
        ))
    })?;
    Ok(Some(text))
}

/// Total optimizer steps of the run.
pub fn total_steps(settings: &TrainSettings, rows: usize) -> u64 {
    let t = &settings.config.train;
    match (t.steps, t.epochs) {
        (Some(s), _) => s,
        (None, Some(e)) => ((e * rows as f64) / t.rows_per_step as f64).ceil().max(1.0) as u64,
        (None, None) => 1,
    }
}

/// Runs training as the settings say. Blocks until done.
pub fn train(settings: &TrainSettings) -> Result<RunSummary> {
    let cfg = &settings.config;
    let reader = ShardReader::open(&cfg.data.shards)?;
    let index = reader.index().clone();
    let rows = reader.read_all()?;
    let total = total_steps(settings, rows.len());
    let (mut start, weights) = load_start(settings, index.vocab_size, index.max_len)?;
    start.files.agent_template = agent_template(settings, &index)?;
    let num_parameters = weights.num_parameters();
    let out = &cfg.output.dir;
    std::fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    let ckpt_root = out.join("checkpoints");
    let resume = if settings.resume {
        let dir = latest_checkpoint(&ckpt_root)?.ok_or_else(|| {
            Error::checkpoint(
                &ckpt_root,
                "--resume: no complete checkpoint to resume from",
            )
        })?;
        let state = load_state(&dir)?;
        let mismatch = |what: &str, saved: String, now: String| {
            Err(Error::checkpoint(
                &dir,
                format!("{what} was {saved} in the checkpoint, is {now} now"),
            ))
        };
        if state.num_parameters != num_parameters {
            return mismatch(
                "the parameter count",
                state.num_parameters.to_string(),
                num_parameters.to_string(),
            );
        }
        if state.rows_per_step != cfg.train.rows_per_step {
            return mismatch(
                "train.rows_per_step",
                state.rows_per_step.to_string(),
                cfg.train.rows_per_step.to_string(),
            );
        }
        if state.data_rows != rows.len() {
            return mismatch(
                "the number of shard rows",
                state.data_rows.to_string(),
                rows.len().to_string(),
            );
        }
        if state.data_seed != cfg.train.seed {
            return mismatch(
                "train.seed",
                state.data_seed.to_string(),
                cfg.train.seed.to_string(),
            );
        }
        if state.total_steps != total {
            return mismatch(
                "the total number of steps",
                state.total_steps.to_string(),
                total.to_string(),
            );
        }
        tracing::info!(checkpoint = %dir.display(), step = state.step, "resuming");
        Some((dir, state))
    } else {
        None
    };
    let start_step = resume.as_ref().map_or(0, |r| r.1.step);
    let metrics_path = out.join("metrics.jsonl");
    let log = MetricsLog::open(&metrics_path, start_step)?;
    tracing::info!(
        parameters = num_parameters,
        rows = rows.len(),
        steps = total,
        world_size = cfg.train.world_size,
        checkpointing = cfg.train.activation_checkpointing,
        "training"
    );
    let world = cfg.train.world_size;
    let shared = Shared {
        settings,
        start: &start,
        weights: std::sync::Mutex::new(Some(weights)),
        rows: Arc::new(rows),
        total,
        start_step,
        resume: resume.as_ref(),
        ckpt_root: &ckpt_root,
        log: std::sync::Mutex::new(log),
        num_parameters,
    };
    let comms = ThreadComm::group(world)?;
    let results: Vec<Result<RankOutcome>> = std::thread::scope(|s| {
        let handles: Vec<_> = comms
            .into_iter()
            .map(|comm| {
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("rank-{}", comm.rank()))
                    .spawn_scoped(s, move || {
                        let abort = comm.clone();
                        let r = rank_main(comm, shared);
                        if r.is_err() {
                            abort.abort();
                        }
                        r
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(Error::Training("a rank panicked".into()))),
                Err(e) => Err(Error::io("start a rank thread", PathBuf::new(), e)),
            })
            .collect()
    });
    // Report the first real failure rather than another rank's "a rank failed".
    let mut outcome = None;
    let mut first_err: Option<Error> = None;
    for r in results {
        match r {
            Ok(o) => outcome = outcome.or(Some(o)),
            Err(e) => {
                let secondary = matches!(&e, Error::Comm(m) if m.contains("another rank failed"));
                if first_err.is_none() || (!secondary && matches!(first_err, Some(Error::Comm(_))))
                {
                    first_err = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let o = outcome.ok_or_else(|| Error::Training("no rank finished".into()))?;
    let history = read_metrics(&metrics_path)?;
    let loss_chart = if o.last_step >= total {
        let png = out.join("loss.png");
        let points: Vec<(u64, f64)> = history.iter().map(|m| (m.step, m.loss)).collect();
        plot_loss(&png, "training loss", &points)?;
        Some(png)
    } else {
        None
    };
    Ok(RunSummary {
        start_step,
        last_step: o.last_step,
        total_steps: total,
        first_loss: history.first().map(|m| m.loss),
        last_loss: history.last().map(|m| m.loss),
        num_parameters,
        checkpoint: o.checkpoint,
        metrics: metrics_path,
        loss_chart,
        tokens_per_s: o.tokens_per_s,
    })
}

struct Shared<'a> {
    settings: &'a TrainSettings,
    start: &'a Start,
    weights: std::sync::Mutex<Option<Weights>>,
    rows: Arc<Vec<PackedRow>>,
    total: u64,
    start_step: u64,
    resume: Option<&'a (PathBuf, TrainerState)>,
    ckpt_root: &'a Path,
    log: std::sync::Mutex<MetricsLog>,
    num_parameters: usize,
}

struct RankOutcome {
    last_step: u64,
    checkpoint: Option<PathBuf>,
    tokens_per_s: f64,
}

fn rank_main(comm: ThreadComm, sh: &Shared<'_>) -> Result<RankOutcome> {
    let cfg = &sh.settings.config;
    let t = &cfg.train;
    let rank = comm.rank();
    let world = comm.world_size();
    let opts = EngineOptions {
        activation_checkpointing: t.activation_checkpointing,
        adamw: sh.settings.adamw,
        grad_clip: sh.settings.grad_clip,
    };
    let mut engine = {
        let guard = sh
            .weights
            .lock()
            .map_err(|_| Error::Training("the initial weights are poisoned".into()))?;
        let weights = guard
            .as_ref()
            .ok_or_else(|| Error::Training("the initial weights are gone".into()))?;
        Engine::new(comm, &sh.start.config, weights, opts)?
    };
    // Every rank holds its shards now: the full initial weights are no longer needed.
    engine.comm().barrier()?;
    if rank == 0
        && let Ok(mut w) = sh.weights.lock()
    {
        w.take();
    }
    if let Some((dir, state)) = sh.resume {
        let layout = Layout::new(&sh.start.config, world)?;
        engine.load_shard_state(load_shard(dir, state, &layout, rank)?)?;
    }
    let mut stream = RowStream::new(sh.rows.clone(), t.seed)?;
    let bar = if rank == 0 && sh.settings.progress {
        let pb = ProgressBar::with_draw_target(Some(sh.total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template("train [{bar:30}] step {pos}/{len} {msg} (ETA {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.set_position(sh.start_step);
        pb.enable_steady_tick(Duration::from_millis(500));
        pb
    } else {
        ProgressBar::hidden()
    };
    let stop = sh.settings.stop_after.unwrap_or(sh.total).min(sh.total);
    let every = cfg.output.checkpoint_every;
    let mut checkpoint = None;
    let (mut tokens_done, mut secs) = (0usize, 0f64);
    let mut step = sh.start_step;
    while step < stop {
        step += 1;
        let began = Instant::now();
        let lr = lr_at(t, step, sh.total);
        let first_row = (step - 1) * t.rows_per_step as u64;
        let window = stream.window(first_row, t.rows_per_step);
        let o = engine.train_step(&window, lr)?;
        let step_s = began.elapsed().as_secs_f64();
        tokens_done += o.tokens;
        secs += step_s;
        if rank == 0 {
            let tokens_per_s = o.tokens as f64 / step_s.max(1e-9);
            let mfu = (cfg.output.peak_flops > 0.0)
                .then(|| 6.0 * sh.num_parameters as f64 * tokens_per_s / cfg.output.peak_flops);
            let m = StepMetrics {
                step,
                loss: o.loss,
                lr,
                grad_norm: o.grad_norm,
                tokens: o.tokens,
                trained_tokens: o.trained_weight,
                tokens_per_s,
                mfu,
                peak_rss_mib: peak_rss_mib(),
                step_s,
            };
            sh.log
                .lock()
                .map_err(|_| Error::Training("the metrics log is poisoned".into()))?
                .push(&m)?;
            tracing::debug!(
                step,
                loss = o.loss,
                lr,
                grad_norm = o.grad_norm,
                tokens_per_s,
                "step"
            );
            bar.set_message(format!(
                "loss {:.4} lr {lr:.2e} {tokens_per_s:.0} tok/s",
                o.loss
            ));
            bar.set_position(step);
        }
        if (every > 0 && step.is_multiple_of(every)) || step == stop {
            let state = TrainerState {
                version: CHECKPOINT_VERSION,
                step,
                total_steps: sh.total,
                rows_consumed: step * t.rows_per_step as u64,
                rows_per_step: t.rows_per_step,
                data_seed: t.seed,
                data_epoch: step * t.rows_per_step as u64 / stream.epoch_len() as u64,
                world_size: world,
                num_parameters: sh.num_parameters,
                data_rows: stream.epoch_len(),
            };
            let dir = checkpoint::save(
                &engine,
                sh.ckpt_root,
                &state,
                &sh.start.config,
                &sh.start.files,
                cfg.output.keep_checkpoints,
            )?;
            if rank == 0 {
                bar.suspend(
                    || tracing::info!(step, checkpoint = %dir.display(), "checkpoint written"),
                );
            }
            checkpoint = Some(dir);
        }
    }
    bar.finish_and_clear();
    Ok(RankOutcome {
        last_step: step,
        checkpoint,
        tokens_per_s: if secs > 0.0 {
            tokens_done as f64 / secs
        } else {
            0.0
        },
    })
}
