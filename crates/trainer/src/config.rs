//! The training configuration: the TOML file (`configs/train/*.toml`, unknown fields
//! rejected), validated once into [`TrainSettings`], and the learning-rate schedule.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optim::AdamWParams;
use crate::tiny::Shape;

/// Where the initial weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// A pretrained model: `source` is a known name, a GGUF file or an HF folder.
    Pretrained,
    /// Random weights of `shape`; the tokenizer (for saving) comes from `source` if given.
    Random,
}

/// `[model]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Pretrained or random.
    pub init: Init,
    /// Known model name, GGUF file or HF folder (pretrained: the model; random: the tokenizer
    /// and chat template saved with checkpoints).
    #[serde(default)]
    pub source: Option<String>,
    /// Shape of a random model.
    #[serde(default)]
    pub shape: Option<Shape>,
    /// Standard deviation of random weights.
    #[serde(default = "default_init_std")]
    pub init_std: f32,
    /// The agent template saved into every checkpoint as `agent_template.toml` (a shipped id
    /// or a template file), which serve, eval and the agent runtime then use by default.
    /// Default: the template most training samples were rendered with, from the shards.
    #[serde(default)]
    pub agent_template: Option<String>,
}

fn default_init_std() -> f32 {
    0.02
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// A shard folder written by `cargo xtask data build`.
    pub shards: PathBuf,
}

/// The learning-rate decay after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Half a cosine from `lr` down to `min_lr`.
    Cosine,
    /// A straight line from `lr` down to `min_lr`.
    Linear,
    /// `lr` throughout.
    Constant,
}

/// Where the tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The CPU, f32 (ranks are threads).
    Cpu,
    /// NVIDIA GPUs, bf16 with fp32 master weights (ranks are processes over NCCL). Not in this
    /// build: see `docs/gpu.md`.
    Cuda,
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Optimizer steps in the run (give this or `epochs`).
    #[serde(default)]
    pub steps: Option<u64>,
    /// Passes over the data (give this or `steps`).
    #[serde(default)]
    pub epochs: Option<f64>,
    /// Packed rows per optimizer step, over all ranks (the gradient-accumulation window;
    /// each rank runs `rows_per_step / world_size` rows of one sequence each).
    pub rows_per_step: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Learning rate at the end of the decay.
    #[serde(default)]
    pub min_lr: f64,
    /// Steps of linear warm-up from 0.
    #[serde(default)]
    pub warmup_steps: u64,
    /// Decay after warm-up.
    #[serde(default = "default_schedule")]
    pub schedule: Schedule,
    /// Decoupled weight decay (not applied to norms and biases).
    #[serde(default)]
    pub weight_decay: f64,
    /// AdamW beta1.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// AdamW beta2.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// AdamW epsilon.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Global gradient-norm clip (0 = off).
    #[serde(default = "default_clip")]
    pub grad_clip: f64,
    /// Recompute each layer in the backward pass instead of keeping its activations.
    #[serde(default = "yes")]
    pub activation_checkpointing: bool,
    /// Ranks (threads on CPU) sharding parameters, gradients and optimizer state (ZeRO-3).
    #[serde(default = "one")]
    pub world_size: usize,
    /// Seed of random weights and of the data order after the first epoch.
    #[serde(default)]
    pub seed: u64,
    /// Where to train.
    #[serde(default = "cpu")]
    pub device: DeviceKind,
}

fn cpu() -> DeviceKind {
    DeviceKind::Cpu
}

fn default_schedule() -> Schedule {
    Schedule::Cosine
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.95
}
fn default_eps() -> f64 {
    1e-8
}
fn default_clip() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

/// `[output]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Run folder: `metrics.jsonl`, `loss.png`, `checkpoints/`.
    pub dir: PathBuf,
    /// Write a checkpoint every this many steps (0 = only at the end).
    #[serde(default)]
    pub checkpoint_every: u64,
    /// Checkpoints kept (the oldest are removed).
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
    /// Peak FLOP/s of the hardware (all ranks), for the MFU estimate; 0 = not reported.
    #[serde(default)]
    pub peak_flops: f64,
}

fn default_keep() -> usize {
    2
}

/// A whole `configs/train/*.toml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// `[model]`.
    pub model: ModelSection,
    /// `[data]`.
    pub data: DataSection,
    /// `[train]`.
    pub train: TrainSection,
    /// `[output]`.
    pub output: OutputSection,
}

impl TrainConfig {
    /// Reads a TOML file; relative paths in it stay relative to the working directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text, Some(path))
    }

    /// Parses TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: Option<&Path>) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::config(path, e.to_string()))
    }

    /// Checks every field once and returns the settings a run uses.
    pub fn validate(&self, path: Option<&Path>) -> Result<TrainSettings> {
        let bad = |field: &str, why: String| Err(Error::config(path, format!("{field}: {why}")));
        let t = &self.train;
        match (&self.model.init, &self.model.source, &self.model.shape) {
            (Init::Pretrained, None, _) => {
                return bad("model.source", "a pretrained model needs a source".into());
            }
            (Init::Pretrained, _, Some(_)) => {
                return bad(
                    "model.shape",
                    "a pretrained model takes its shape from its weights".into(),
                );
            }
            (Init::Random, _, None) => {
                return bad("model.shape", "a random model needs a shape".into());
            }
            _ => {}
        }
        if let Some(s) = &self.model.shape {
            if s.hidden_size == 0
                || s.intermediate_size == 0
                || s.num_layers == 0
                || s.num_heads == 0
                || s.num_kv_heads == 0
            {
                return bad("model.shape", "every size must be positive".into());
            }
            if s.hidden_size % s.num_heads != 0 || s.num_heads % s.num_kv_heads != 0 {
                return bad(
                    "model.shape",
                    "num_heads must divide hidden_size and num_kv_heads must divide num_heads"
                        .into(),
                );
            }
        }
        if !(self.model.init_std.is_finite() && self.model.init_std > 0.0) {
            return bad("model.init_std", "must be positive".into());
        }
        match (t.steps, t.epochs) {
            (Some(0), _) => return bad("train.steps", "must be positive".into()),
            (Some(_), Some(_)) | (None, None) => {
                return bad("train.steps", "give exactly one of steps and epochs".into());
            }
            (None, Some(e)) if !(e.is_finite() && e > 0.0) => {
                return bad("train.epochs", "must be positive".into());
            }
            _ => {}
        }
        if t.device == DeviceKind::Cuda {
            return bad(
                "train.device",
                "cuda: this build has no CUDA backend yet (the NCCL communicator and bf16 \
                 kernels are missing; see docs/gpu.md); use device = \"cpu\""
                    .into(),
            );
        }
        if t.world_size == 0 {
            return bad("train.world_size", "must be at least 1".into());
        }
        if t.rows_per_step == 0 || !t.rows_per_step.is_multiple_of(t.world_size) {
            return bad(
                "train.rows_per_step",
                format!(
                    "{} must be a positive multiple of world_size {}",
                    t.rows_per_step, t.world_size
                ),
            );
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return bad("train.lr", "must be positive".into());
        }
        if !(t.min_lr.is_finite() && t.min_lr >= 0.0 && t.min_lr <= t.lr) {
            return bad("train.min_lr", "must be between 0 and lr".into());
        }
        for (name, b) in [("train.beta1", t.beta1), ("train.beta2", t.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(name, "must be in [0, 1)".into());
            }
        }
        if !(t.eps.is_finite() && t.eps > 0.0) {
            return bad("train.eps", "must be positive".into());
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0 && t.lr * t.weight_decay < 1.0) {
            return bad(
                "train.weight_decay",
                "must be non-negative with lr * weight_decay below 1".into(),
            );
        }
        if !(t.grad_clip.is_finite() && t.grad_clip >= 0.0) {
            return bad("train.grad_clip", "must be 0 (off) or positive".into());
        }
        let o = &self.output;
        if o.keep_checkpoints == 0 {
            return bad("output.keep_checkpoints", "must be at least 1".into());
        }
        if !(o.peak_flops.is_finite() && o.peak_flops >= 0.0) {
            return bad("output.peak_flops", "must be 0 or positive".into());
        }
        Ok(TrainSettings {
            config: self.clone(),
            adamw: AdamWParams {
                beta1: t.beta1,
                beta2: t.beta2,
                eps: t.eps,
                weight_decay: t.weight_decay,
            },
            grad_clip: (t.grad_clip > 0.0).then_some(t.grad_clip),
            stop_after: None,
            resume: false,
            progress: true,
        })
    }
}

/// A validated configuration plus the choices of one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    /// The configuration as validated.
    pub config: TrainConfig,
    /// AdamW's hyper-parameters.
    pub adamw: AdamWParams,
    /// Gradient clip, if on.
    pub grad_clip: Option<f64>,
    /// Stop (with a checkpoint) after this step, as a pre-empted job would; `--resume` goes on.
    pub stop_after: Option<u64>,
    /// Continue from the newest checkpoint in the run folder.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl TrainSettings {
    /// The learning rate of optimizer step `step` (counted from 1) of `total`.
    pub fn lr_at(&self, step: u64, total: u64) -> f64 {
        lr_at(&self.config.train, step, total)
    }
}

/// The learning rate of optimizer step `step` (from 1) of `total`: linear warm-up over
/// `warmup_steps`, then the schedule's decay to `min_lr` at the last step.
pub fn lr_at(t: &TrainSection, step: u64, total: u64) -> f64 {
    if step <= t.warmup_steps {
        return t.lr * step as f64 / t.warmup_steps.max(1) as f64;
    }
    let span = total.saturating_sub(t.warmup_steps).max(1) as f64;
    let progress = ((step - t.warmup_steps) as f64 / span).clamp(0.0, 1.0);
    let frac = match t.schedule {
        Schedule::Constant => 1.0,
        Schedule::Linear => 1.0 - progress,
        Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
    };
    t.min_lr + (t.lr - t.min_lr) * frac
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TINY: &str = r#"
[model]
init = "random"
shape = { hidden_size = 32, intermediate_size = 64, num_layers = 2, num_heads = 4, num_kv_heads = 2 }

[data]
shards = "shards"

[train]
steps = 10
rows_per_step = 4
lr = 1e-3
min_lr = 1e-4
warmup_steps = 2

[output]
dir = "runs/tiny"
"#;

    #[test]
    fn parses_validates_and_rejects_bad_fields() {
        let cfg = TrainConfig::parse(TINY, None).unwrap();
        let s = cfg.validate(None).unwrap();
        assert_eq!(s.grad_clip, Some(1.0));
        assert!(cfg.train.activation_checkpointing);
        let err = TrainConfig::parse(&TINY.replace("lr = 1e-3", "lr = 1e-3\nlr_x = 2"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lr_x"), "{err}");
        let mut bad = cfg.clone();
        bad.train.world_size = 3;
        let err = bad
            .validate(Some(Path::new("t.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml") && err.contains("rows_per_step"),
            "{err}"
        );
        let mut bad = cfg.clone();
        bad.train.epochs = Some(1.0);
        assert!(bad.validate(None).is_err());
        let mut bad = cfg;
        bad.model.init = Init::Pretrained;
        assert!(bad.validate(None).is_err());
    }

    #[test]
    fn schedule_warms_up_then_decays_to_min_lr() {
        let t = TrainConfig::parse(TINY, None).unwrap().train;
        assert!((lr_at(&t, 1, 10) - 5e-4).abs() < 1e-12);
        assert!((lr_at(&t, 2, 10) - 1e-3).abs() < 1e-12);
        assert!((lr_at(&t, 10, 10) - 1e-4).abs() < 1e-12);
        let mid = lr_at(&t, 6, 10);
        assert!((mid - 5.5e-4).abs() < 1e-12, "{mid}");
        let mut lin = t.clone();
        lin.schedule = Schedule::Linear;
        assert!((lr_at(&lin, 6, 10) - 5.5e-4).abs() < 1e-12);
        lin.schedule = Schedule::Constant;
        assert_eq!(lr_at(&lin, 9, 10), 1e-3);
    }
}
