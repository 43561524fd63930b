//! `cargo xtask bench train`: seconds per training step and peak RSS of full-parameter
//! training of SmolLM2-135M on CPU (f32, one sequence per step) by the trainer's engine, with
//! and without activation checkpointing, side by side with a PyTorch eager reference doing the
//! same step on the same weights and tokens (forward, weighted cross-entropy, backward,
//! AdamW). Each measurement runs in its own process so peak RSS belongs to one configuration;
//! `--write` records the table in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use agentune_data::shards::PackedRow;
use agentune_model::{Pretrained, WeightFormat};
use agentune_trainer::{AdamWParams, Engine, EngineOptions, ThreadComm};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

const MARK_START: &str = "<!-- train-bench -->";
const MARK_END: &str = "<!-- /train-bench -->";
const VENV: &str = ".venv-train-bench";

/// The tokens of one benchmark step, shared with the Python reference.
#[derive(Debug, Serialize, Deserialize)]
struct Batch {
    ids: Vec<u32>,
    targets: Vec<u32>,
    weights: Vec<f32>,
}

/// What one measuring process reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    seconds_per_step: f64,
    step_seconds: Vec<f64>,
    peak_rss_bytes: f64,
    first_loss: f64,
}

/// A deterministic step of `len` tokens: a "prompt" quarter without loss, then trained tokens
/// whose targets are the next ids, weighted to a mean.
fn batch(len: usize, vocab: usize) -> Batch {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    let ids: Vec<u32> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % vocab as u64) as u32
        })
        .collect();
    let mut targets: Vec<u32> = ids.iter().skip(1).copied().collect();
    targets.push(0);
    let trained = |i: usize| i >= len / 4 && i + 1 < len;
    let count = (0..len).filter(|&i| trained(i)).count().max(1);
    let weights = (0..len)
        .map(|i| if trained(i) { 1.0 / count as f32 } else { 0.0 })
        .collect();
    Batch {
        ids,
        targets,
        weights,
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb * 1024.0)
}

/// The measuring process for our side: `steps` measured steps after one warm-up step of the
/// trainer's own engine (one rank, fused AdamW on f32 master weights), with or without
/// activation checkpointing.
pub fn child(tokens: &Path, steps: usize, checkpointing: bool) -> Result<()> {
    let batch: Batch = serde_json::from_str(
        &std::fs::read_to_string(tokens)
            .with_context(|| format!("reading {}", tokens.display()))?,
    )
    .with_context(|| format!("parsing {}", tokens.display()))?;
    let m = Pretrained::load("smollm2", WeightFormat::F32)
        .context("SmolLM2 is needed; run `cargo xtask fetch-model smollm2`")?;
    // A packed row weighs the token it predicts: position i's weight moves to token i + 1.
    let mut weights = vec![0.0f32; batch.ids.len()];
    for (i, w) in batch.weights.iter().enumerate() {
        if let Some(x) = weights.get_mut(i + 1) {
            *x = *w;
        }
    }
    let row = PackedRow {
        tokens: batch.ids.clone(),
        weights,
        starts: vec![0],
    };
    let opts = EngineOptions {
        activation_checkpointing: checkpointing,
        adamw: AdamWParams {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        },
        grad_clip: None,
    };
    let comm = ThreadComm::group(1)?
        .pop()
        .context("a group of one has one rank")?;
    let mut engine = Engine::new(comm, &m.config, &m.weights, opts)?;
    drop(m);
    let mut times = Vec::new();
    let mut first_loss = f64::NAN;
    for step in 0..=steps {
        let start = Instant::now();
        let out = engine.train_step(&[&row], 1e-5)?;
        let secs = start.elapsed().as_secs_f64();
        tracing::info!(step, loss = out.loss, secs, "train step");
        if step == 0 {
            first_loss = out.loss;
        } else {
            times.push(secs);
        }
    }
    let out = Measured {
        seconds_per_step: crate::bench::median(times.clone()),
        step_seconds: times,
        peak_rss_bytes: peak_rss(),
        first_loss,
    };
    crate::print_stdout(&serde_json::to_string(&out)?)
}

fn venv_python(root: &Path, python: &str) -> Result<PathBuf> {
    let venv = root.join(VENV);
    let bin = venv.join("bin").join("python");
    if !bin.is_file() {
        eprintln!("creating {} ...", venv.display());
        let st = Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run `{python} -m venv`"))?;
        if !st.success() {
            bail!("`{python} -m venv {}` failed ({st})", venv.display());
        }
    }
    let has_torch = Command::new(&bin)
        .args(["-c", "import torch"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_torch {
        eprintln!("installing torch into {} ...", venv.display());
        let st = Command::new(&bin)
            .args(["-m", "pip", "install", "--quiet", "torch"])
            .status()
            .context("cannot run pip")?;
        if !st.success() {
            bail!("pip install torch failed ({st})");
        }
    }
    Ok(bin)
}

fn parse_measured(out: std::process::Output, what: &str) -> Result<Measured> {
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no result: {text}"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed {line:?}"))
}

/// Options of `cargo xtask bench train`.
#[derive(Debug)]
pub struct TrainBench<'a> {
    /// Measured steps per process (after one warm-up step).
    pub steps: usize,
    /// Sequence lengths.
    pub lengths: &'a [usize],
    /// Times each measurement is repeated (the median is reported).
    pub runs: usize,
    /// Skip the PyTorch reference.
    pub no_python: bool,
    /// Python used to create the venv.
    pub python: &'a str,
    /// Record the table.
    pub write: bool,
}

struct Row {
    len: usize,
    ours: Measured,
    ours_ckpt: Measured,
    torch: Option<Measured>,
}

fn median_of(runs: &[Measured]) -> Measured {
    let mut by_time = runs.to_vec();
    by_time.sort_by(|a, b| a.seconds_per_step.total_cmp(&b.seconds_per_step));
    let mut m = by_time[by_time.len() / 2].clone();
    m.peak_rss_bytes =
        crate::bench::median(runs.iter().map(|r| r.peak_rss_bytes).collect::<Vec<_>>());
    m
}

fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Runs `cargo xtask bench train`.
pub fn run(a: &TrainBench<'_>) -> Result<()> {
    if a.steps == 0 || a.runs == 0 || a.lengths.is_empty() || a.lengths.contains(&0) {
        bail!("--steps, --runs and every --lengths value must be at least 1");
    }
    let root = crate::workspace_root();
    let work = root.join("data/cache/bench-train");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let m = Pretrained::load("smollm2", WeightFormat::F32)
        .context("SmolLM2 is needed; run `cargo xtask fetch-model smollm2`")?;
    let vocab = m.config.vocab_size;
    let python = if a.no_python {
        None
    } else {
        let hf = work.join("smollm2-f32");
        if !hf.join("model.safetensors").is_file() {
            eprintln!(
                "writing the f32 weights for the reference to {} ...",
                hf.display()
            );
            m.save_hf(&hf)?;
        }
        Some((venv_python(&root, a.python)?, hf))
    };
    drop(m);
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_start = load_avg();
    let mut rows = Vec::new();
    for &len in a.lengths {
        let tokens = work.join(format!("tokens-{len}.json"));
        agentune_schema::write_atomic(
            &tokens,
            serde_json::to_string(&batch(len, vocab))?.as_bytes(),
        )
        .with_context(|| format!("writing {}", tokens.display()))?;
        let (mut ours, mut ours_ckpt, mut torch) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..a.runs {
            // Alternate the sides so all see the same background load.
            for checkpointing in [false, true] {
                let mut cmd = Command::new(&exe);
                cmd.args(["bench", "train", "--child-tokens"])
                    .arg(&tokens)
                    .args(["--steps", &a.steps.to_string()]);
                if checkpointing {
                    cmd.arg("--child-checkpointing");
                }
                let out = cmd.output().context("cannot run the measuring process")?;
                let r = parse_measured(out, "agentune step")?;
                tracing::info!(
                    len,
                    run,
                    checkpointing,
                    secs = r.seconds_per_step,
                    rss = r.peak_rss_bytes,
                    loss = r.first_loss,
                    "agentune"
                );
                if checkpointing {
                    ours_ckpt.push(r);
                } else {
                    ours.push(r);
                }
            }
            if let Some((py, hf)) = &python {
                let out = Command::new(py)
                    .arg(root.join("xtask/bench/train_reference.py"))
                    .arg("--model")
                    .arg(hf)
                    .arg("--tokens")
                    .arg(&tokens)
                    .args(["--steps", &a.steps.to_string()])
                    .args(["--threads", &threads.to_string()])
                    .output()
                    .context("cannot run the PyTorch reference")?;
                let r = parse_measured(out, "PyTorch reference")?;
                tracing::info!(
                    len,
                    run,
                    secs = r.seconds_per_step,
                    rss = r.peak_rss_bytes,
                    loss = r.first_loss,
                    "pytorch"
                );
                torch.push(r);
            }
        }
        rows.push(Row {
            len,
            ours: median_of(&ours),
            ours_ckpt: median_of(&ours_ckpt),
            torch: (!torch.is_empty()).then(|| median_of(&torch)),
        });
    }
    let table = render(&rows, a, threads, &load_start, &load_avg());
    crate::print_stdout(&table)?;
    if a.write {
        crate::bench::write_section(&table, MARK_START, MARK_END)?;
    }
    Ok(())
}

fn render(rows: &[Row], a: &TrainBench<'_>, threads: usize, load0: &str, load1: &str) -> String {
    let gb = |b: f64| format!("{:.2}", b / 1e9);
    let mut s = String::from("## Training: SmolLM2-135M full-parameter step (CPU)\n\n");
    s.push_str(&format!(
        "`cargo xtask bench train` (f32, batch 1; one step of the trainer's engine = forward, \
         weighted cross-entropy over the last three quarters of the tokens, backward, AdamW on \
         f32 master weights; PyTorch eager does the same step with `torch.optim.AdamW`; median \
         of {} measured steps after a warm-up step, median of {} process(es) per side; \
         {threads} threads; each configuration in its own process for peak RSS). \
         \"ckpt\": activation checkpointing (each layer recomputed in the backward pass).\n\n",
        a.steps, a.runs
    ));
    s.push_str("| tokens | agentune s/step | agentune ckpt s/step | PyTorch s/step | time ratio (PyTorch / agentune) | agentune peak RSS GB | agentune ckpt peak RSS GB | PyTorch peak RSS GB | memory ratio (agentune / PyTorch) | first-step loss agentune / PyTorch |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let (ts, tm, ratio_t, ratio_m, tl) = match &r.torch {
            Some(t) => (
                format!("{:.2}", t.seconds_per_step),
                gb(t.peak_rss_bytes),
                format!("{:.2}x", t.seconds_per_step / r.ours.seconds_per_step),
                format!("{:.2}", r.ours.peak_rss_bytes / t.peak_rss_bytes),
                format!("{:.4}", t.first_loss),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
        };
        s.push_str(&format!(
            "| {} | {:.2} | {:.2} | {ts} | {ratio_t} | {} | {} | {tm} | {ratio_m} | {:.4} / {tl} |\n",
            r.len,
            r.ours.seconds_per_step,
            r.ours_ckpt.seconds_per_step,
            gb(r.ours.peak_rss_bytes),
            gb(r.ours_ckpt.peak_rss_bytes),
            r.ours.first_loss,
        ));
    }
    s.push_str(&format!(
        "\nLoad average (1 min) at the start and the end: {load0} / {load1}; other work on the \
         machine slows both sides.\n"
    ));
    s
}
