//! The cost planner: memory per GPU under ZeRO stages 0-3, and the hours and price of a
//! full-parameter training run, before any GPU is rented.
//!
//! Memory follows the mixed-precision accounting of the ZeRO paper: 16-bit parameters and
//! gradients (2 bytes each per parameter) and 12 bytes of fp32 optimizer state per parameter
//! (master copy, AdamW first and second moments). In f32 training the parameters are the
//! master copy: 4 + 4 + 8 bytes. Stage 1 shards the optimizer state over the GPUs, stage 2
//! also the gradients, stage 3 also the parameters (plus a working buffer holding the
//! largest gathered unit, twice for prefetching). Activations are not sharded; they are
//! counted per micro-batch of one sequence with fused (flash) attention, with and without
//! activation checkpointing (which keeps each layer's input and recomputes one layer at a
//! time), plus the logits and their gradient in fp32.
//!
//! Time is either given per epoch (as in a measured reference run), derived from a measured
//! throughput, or derived from an assumed model FLOPs utilisation (MFU) using 6 FLOPs per
//! parameter per token (forward 2, backward 4). Whatever the source, the plan reports the MFU
//! its hours imply, which is the number to sanity-check.

use serde::Serialize;

use crate::error::{Error, Result};

/// The shape of a decoder-only transformer, enough to count parameters and activations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    /// A name for reports.
    pub name: String,
    /// Total parameters; when `None`, counted from the shape.
    pub params: Option<f64>,
    /// Number of layers.
    pub layers: usize,
    /// Hidden size.
    pub hidden: usize,
    /// MLP inner size (SwiGLU).
    pub ffn: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Whether the output projection shares the embedding.
    pub tied_embeddings: bool,
}

impl ModelShape {
    /// Known shapes by name: `7b`, `14b`, `72b` (the Qwen2.5 dense shapes, the usual agent
    /// tuning bases at those sizes) and `smollm2-135m`.
    pub fn preset(name: &str) -> Option<Self> {
        let s = |name: &str, layers, hidden, ffn, heads, kv_heads, vocab, tied| ModelShape {
            name: name.into(),
            params: None,
            layers,
            hidden,
            ffn,
            heads,
            kv_heads,
            vocab,
            tied_embeddings: tied,
        };
        Some(match name.to_ascii_lowercase().as_str() {
            "7b" | "qwen2.5-7b" => s("7B", 28, 3584, 18944, 28, 4, 152_064, false),
            "14b" | "qwen2.5-14b" => s("14B", 48, 5120, 13824, 40, 8, 152_064, false),
            "72b" | "qwen2.5-72b" => s("72B", 80, 8192, 29568, 64, 8, 152_064, false),
            "smollm2-135m" | "135m" => s("SmolLM2-135M", 30, 576, 1536, 9, 3, 49_152, true),
            _ => return None,
        })
    }

    /// The names [`ModelShape::preset`] knows.
    pub const PRESETS: &'static [&'static str] = &["7b", "14b", "72b", "smollm2-135m"];

    /// The shape of a model crate configuration.
    pub fn from_config(name: &str, c: &agentune_model::ModelConfig) -> Self {
        Self {
            name: name.into(),
            params: None,
            layers: c.num_layers,
            hidden: c.hidden_size,
            ffn: c.intermediate_size,
            heads: c.num_heads,
            kv_heads: c.num_kv_heads,
            vocab: c.vocab_size,
            tied_embeddings: c.tie_word_embeddings,
        }
    }

    fn head_dim(&self) -> usize {
        self.hidden / self.heads.max(1)
    }

    fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    /// Parameters of one layer (projections, MLP, two norms; biases ignored).
    pub fn layer_params(&self) -> f64 {
        let (h, kv, f) = (self.hidden as f64, self.kv_dim() as f64, self.ffn as f64);
        2.0 * h * h + 2.0 * h * kv + 3.0 * h * f + 2.0 * h
    }

    /// Parameters of the embedding (and of the output projection if it is separate).
    pub fn embedding_params(&self) -> f64 {
        let e = self.vocab as f64 * self.hidden as f64;
        if self.tied_embeddings { e } else { 2.0 * e }
    }

    /// Total parameters: the given count, or the one implied by the shape.
    pub fn total_params(&self) -> f64 {
        self.params.unwrap_or_else(|| {
            self.layers as f64 * self.layer_params() + self.embedding_params() + self.hidden as f64
        })
    }

    /// Activation elements one layer keeps per token for its backward pass with fused
    /// attention: the inputs of both norms and of the four attention projections' outputs
    /// used later (q, k, v after RoPE, the attention output), the normalised inputs of the
    /// projections and MLP, gate, up and their product.
    pub fn layer_activation_elems_per_token(&self) -> f64 {
        let (h, kv, f) = (self.hidden as f64, self.kv_dim() as f64, self.ffn as f64);
        // x, norm(x), q, attention out, x + attn, norm(x + attn): 6h; k and v: 2kv;
        // gate, up, silu(gate) * up: 3f; the per-head softmax statistics are negligible.
        6.0 * h + 2.0 * kv + 3.0 * f
    }

    fn validate(&self) -> Result<()> {
        if self.layers == 0 || self.hidden == 0 || self.heads == 0 || self.vocab == 0 {
            return Err(config(format!(
                "model {}: layers, hidden size, heads and vocabulary must be positive",
                self.name
            )));
        }
        if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            return Err(config(format!(
                "model {}: {} heads are not a multiple of {} key/value heads",
                self.name, self.heads, self.kv_heads
            )));
        }
        if let Some(p) = self.params
            && !(p.is_finite() && p > 0.0)
        {
            return Err(config(format!("model {}: parameter count {p}", self.name)));
        }
        Ok(())
    }
}

/// An accelerator type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    /// Its name.
    pub name: &'static str,
    /// Memory in GB (10^9 bytes).
    pub memory_gb: f64,
    /// Dense bf16 peak in TFLOP/s.
    pub peak_tflops: f64,
}

impl Gpu {
    /// The GPUs the planner knows (dense bf16 tensor-core peaks, without sparsity).
    pub const KNOWN: &'static [Gpu] = &[
        Gpu {
            name: "a100-40g",
            memory_gb: 40.0,
            peak_tflops: 312.0,
        },
        Gpu {
            name: "a100-80g",
            memory_gb: 80.0,
            peak_tflops: 312.0,
        },
        Gpu {
            name: "h100-80g",
            memory_gb: 80.0,
            peak_tflops: 989.0,
        },
        Gpu {
            name: "h200-141g",
            memory_gb: 141.0,
            peak_tflops: 989.0,
        },
        Gpu {
            name: "l40s-48g",
            memory_gb: 48.0,
            peak_tflops: 362.0,
        },
        Gpu {
            name: "a10-24g",
            memory_gb: 24.0,
            peak_tflops: 125.0,
        },
        Gpu {
            name: "rtx4090-24g",
            memory_gb: 24.0,
            peak_tflops: 165.0,
        },
    ];

    /// Looks a GPU up by name (case-insensitive; `A100-80G` and `a100-80g` are the same).
    pub fn by_name(name: &str) -> Result<Gpu> {
        let want = name.to_ascii_lowercase();
        Self::KNOWN
            .iter()
            .find(|g| g.name == want)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = Self::KNOWN.iter().map(|g| g.name).collect();
                config(format!(
                    "unknown GPU type {name:?}; known: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Numeric precision of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 16-bit parameters, gradients and activations, fp32 master weights and moments.
    Bf16,
    /// Everything in f32 (the parameters are the master copy).
    F32,
}

impl Precision {
    /// Bytes per parameter of (parameters, gradients, optimizer state).
    pub fn bytes_per_param(self) -> (f64, f64, f64) {
        match self {
            Self::Bf16 => (2.0, 2.0, 12.0),
            Self::F32 => (4.0, 4.0, 8.0),
        }
    }

    /// Bytes per activation element.
    pub fn activation_bytes(self) -> f64 {
        match self {
            Self::Bf16 => 2.0,
            Self::F32 => 4.0,
        }
    }
}

/// Where the run's duration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Speed {
    /// Hours per epoch of the whole cluster, e.g. from a reference run.
    HoursPerEpoch(f64),
    /// Measured training throughput per GPU, tokens per second.
    TokensPerSecPerGpu(f64),
    /// Assumed model FLOPs utilisation (0-1].
    Mfu(f64),
}

/// What a plan is asked about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanInput {
    /// The model.
    pub model: ModelShape,
    /// The accelerator type.
    pub gpu: Gpu,
    /// Number of accelerators.
    pub gpus: usize,
    /// Training tokens per epoch.
    pub tokens: f64,
    /// Number of epochs.
    pub epochs: f64,
    /// Price per GPU-hour (any currency).
    pub price_per_gpu_hour: f64,
    /// Where the duration comes from.
    pub speed: Speed,
    /// Tokens per micro-batch sequence (max length).
    pub seq_len: usize,
    /// Numeric precision.
    pub precision: Precision,
}

/// Memory per GPU under one ZeRO stage, in bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZeroMemory {
    /// The stage (0-3).
    pub stage: u8,
    /// Parameters (resident share; stage 3 adds the gathered working buffer here).
    pub params: f64,
    /// Gradients.
    pub grads: f64,
    /// Optimizer state (master weights and moments).
    pub optimizer: f64,
    /// Model states plus activations with checkpointing.
    pub total_checkpointed: f64,
    /// Model states plus activations without checkpointing.
    pub total_full: f64,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The question.
    pub input: PlanInput,
    /// Parameters of the model.
    pub params: f64,
    /// Activation bytes per GPU without checkpointing.
    pub activations_full: f64,
    /// Activation bytes per GPU with checkpointing.
    pub activations_checkpointed: f64,
    /// Logits and their gradient (fp32), included in both activation figures.
    pub logits: f64,
    /// ZeRO stages 0-3.
    pub zero: Vec<ZeroMemory>,
    /// Wall-clock hours per epoch.
    pub hours_per_epoch: f64,
    /// Wall-clock hours of the run.
    pub wall_hours: f64,
    /// GPU-hours of the run.
    pub gpu_hours: f64,
    /// Price of the run.
    pub cost: f64,
    /// Training FLOPs of the run (6 per parameter per token).
    pub flops: f64,
    /// The model FLOPs utilisation the hours imply.
    pub mfu: f64,
    /// Tokens per second per GPU the hours imply.
    pub tokens_per_sec_per_gpu: f64,
}

fn config(message: String) -> Error {
    Error::Config {
        path: None,
        message,
    }
}

fn positive(v: f64, what: &str) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(config(format!("{what} must be a positive number, got {v}")))
    }
}

impl PlanInput {
    /// Computes the plan.
    pub fn plan(&self) -> Result<Plan> {
        self.model.validate()?;
        if self.gpus == 0 {
            return Err(config("the number of GPUs must be at least 1".into()));
        }
        if self.seq_len == 0 {
            return Err(config("the sequence length must be at least 1".into()));
        }
        positive(self.tokens, "tokens")?;
        positive(self.epochs, "epochs")?;
        positive(self.gpu.peak_tflops, "GPU peak")?;
        if !(self.price_per_gpu_hour.is_finite() && self.price_per_gpu_hour >= 0.0) {
            return Err(config(format!(
                "price per GPU-hour must not be negative, got {}",
                self.price_per_gpu_hour
            )));
        }
        let m = &self.model;
        let n = self.gpus as f64;
        let params = m.total_params();
        let (bp, bg, bo) = self.precision.bytes_per_param();
        let ab = self.precision.activation_bytes();
        let s = self.seq_len as f64;

        let per_layer = m.layer_activation_elems_per_token() * s * ab;
        let layer_inputs = m.hidden as f64 * s * ab;
        let logits = 2.0 * s * m.vocab as f64 * 4.0;
        let final_norm = 2.0 * m.hidden as f64 * s * ab;
        let activations_full = m.layers as f64 * per_layer + final_norm + logits;
        // Checkpointing keeps every layer's input, and one layer's activations while that
        // layer is recomputed and back-propagated.
        let activations_checkpointed =
            m.layers as f64 * layer_inputs + per_layer + final_norm + logits;

        // ZeRO-3 gathers one unit at a time (a layer, or an embedding matrix) and prefetches the
        // next: two of the largest unit, in the parameter precision.
        let largest = m.layer_params().max(m.vocab as f64 * m.hidden as f64);
        let gathered = 2.0 * largest * bp;
        let zero = (0u8..=3)
            .map(|stage| {
                let st = stage as usize;
                let optimizer = if st >= 1 {
                    bo * params / n
                } else {
                    bo * params
                };
                let grads = if st >= 2 {
                    bg * params / n
                } else {
                    bg * params
                };
                let p = if st >= 3 {
                    bp * params / n + gathered
                } else {
                    bp * params
                };
                let states = p + grads + optimizer;
                ZeroMemory {
                    stage,
                    params: p,
                    grads,
                    optimizer,
                    total_checkpointed: states + activations_checkpointed,
                    total_full: states + activations_full,
                }
            })
            .collect();

        let flops_per_epoch = 6.0 * params * self.tokens;
        let cluster_peak = n * self.gpu.peak_tflops * 1e12;
        let hours_per_epoch = match self.speed {
            Speed::HoursPerEpoch(h) => {
                positive(h, "hours per epoch")?;
                h
            }
            Speed::TokensPerSecPerGpu(tps) => {
                positive(tps, "tokens per second")?;
                self.tokens / (tps * n) / 3600.0
            }
            Speed::Mfu(mfu) => {
                if !(mfu.is_finite() && mfu > 0.0 && mfu <= 1.0) {
                    return Err(config(format!("MFU must be in (0, 1], got {mfu}")));
                }
                flops_per_epoch / (cluster_peak * mfu) / 3600.0
            }
        };
        let wall_hours = hours_per_epoch * self.epochs;
        let gpu_hours = wall_hours * n;
        let cost = gpu_hours * self.price_per_gpu_hour;
        let flops = flops_per_epoch * self.epochs;
        let mfu = flops_per_epoch / (hours_per_epoch * 3600.0 * cluster_peak);
        let tokens_per_sec_per_gpu = self.tokens / (hours_per_epoch * 3600.0 * n);
        Ok(Plan {
            input: self.clone(),
            params,
            activations_full,
            activations_checkpointed,
            logits,
            zero,
            hours_per_epoch,
            wall_hours,
            gpu_hours,
            cost,
            flops,
            mfu,
            tokens_per_sec_per_gpu,
        })
    }
}

/// `1234567.89` as `1,234,567.9` (one decimal, thousands separated).
pub fn format_money(v: f64) -> String {
    let s = format!("{:.1}", v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "0"));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{}{out}.{frac}", if v < 0.0 { "-" } else { "" })
}

fn gb(bytes: f64) -> String {
    format!("{:.1}", bytes / 1e9)
}

impl Plan {
    /// A plain-text report: inputs, memory per GPU by ZeRO stage, time and cost.
    pub fn report(&self) -> String {
        use std::fmt::Write;
        let i = &self.input;
        let mut r = String::new();
        let _ = writeln!(
            r,
            "model {} ({:.2}B parameters), {} x {}, {:.0}M tokens x {} epochs, max length {}, {}",
            i.model.name,
            self.params / 1e9,
            i.gpus,
            i.gpu.name,
            i.tokens / 1e6,
            i.epochs,
            i.seq_len,
            match i.precision {
                Precision::Bf16 => "bf16 with fp32 master weights",
                Precision::F32 => "f32",
            }
        );
        let _ = writeln!(
            r,
            "\nmemory per GPU (GB; {:.0} GB available):",
            i.gpu.memory_gb
        );
        let _ = writeln!(
            r,
            "{:<7} {:>9} {:>9} {:>10} {:>16} {:>13}",
            "stage", "params", "grads", "optimizer", "total (ckpt)", "total (full)"
        );
        for z in &self.zero {
            let fits = |b: f64| if b <= i.gpu.memory_gb * 1e9 { "" } else { "!" };
            let _ = writeln!(
                r,
                "{:<7} {:>9} {:>9} {:>10} {:>15}{:1} {:>12}{:1}",
                format!("ZeRO-{}", z.stage),
                gb(z.params),
                gb(z.grads),
                gb(z.optimizer),
                gb(z.total_checkpointed),
                fits(z.total_checkpointed),
                gb(z.total_full),
                fits(z.total_full),
            );
        }
        let _ = writeln!(
            r,
            "activations per sequence: {} GB with checkpointing, {} GB without (logits and their gradient {} GB); ! = does not fit",
            gb(self.activations_checkpointed),
            gb(self.activations_full),
            gb(self.logits)
        );
        let _ = writeln!(
            r,
            "\ntime: {:.1} h per epoch, {:.1} h wall clock, {:.1} GPU-hours",
            self.hours_per_epoch, self.wall_hours, self.gpu_hours
        );
        let _ = writeln!(
            r,
            "implied throughput: {:.0} tokens/s per GPU; implied MFU: {:.1}% (6 x {:.2}B x {:.0}M tokens per epoch over {:.0} TFLOP/s peak)",
            self.tokens_per_sec_per_gpu,
            self.mfu * 100.0,
            self.params / 1e9,
            i.tokens / 1e6,
            i.gpu.peak_tflops
        );
        let _ = writeln!(
            r,
            "cost: {} ({:.1} GPU-hours x {} per GPU-hour)",
            format_money(self.cost),
            self.gpu_hours,
            i.price_per_gpu_hour
        );
        r
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn brief(model: &str, gpus: usize, epochs: f64, hours: f64) -> Plan {
        PlanInput {
            model: ModelShape::preset(model).unwrap(),
            gpu: Gpu::by_name("A100-80G").unwrap(),
            gpus,
            tokens: 470e6,
            epochs,
            price_per_gpu_hour: 34.742,
            speed: Speed::HoursPerEpoch(hours),
            seq_len: 4096,
            precision: Precision::Bf16,
        }
        .plan()
        .unwrap()
    }

    #[test]
    fn reproduces_the_reference_costs() {
        assert_eq!(format_money(brief("7b", 4, 5.0, 25.0).cost), "17,371.0");
        assert_eq!(format_money(brief("14b", 8, 4.0, 24.0).cost), "26,681.9");
        assert_eq!(format_money(brief("72b", 32, 2.0, 40.0).cost), "88,939.5");
        let p = brief("7b", 4, 5.0, 25.0);
        assert_eq!(p.gpu_hours, 500.0);
        assert_eq!(p.wall_hours, 125.0);
    }

    #[test]
    fn implied_mfu_follows_6n() {
        let p = brief("7b", 4, 5.0, 25.0);
        let want = 6.0 * p.params * 470e6 / (25.0 * 3600.0 * 4.0 * 312e12);
        assert!((p.mfu - want).abs() < 1e-12);
        assert!(p.mfu > 0.05 && p.mfu < 0.5, "{}", p.mfu);
        // Feeding the implied MFU back gives the same hours.
        let mut input = p.input.clone();
        input.speed = Speed::Mfu(p.mfu);
        let q = input.plan().unwrap();
        assert!((q.hours_per_epoch - 25.0).abs() < 1e-9);
        input.speed = Speed::TokensPerSecPerGpu(p.tokens_per_sec_per_gpu);
        let q = input.plan().unwrap();
        assert!((q.hours_per_epoch - 25.0).abs() < 1e-9);
    }

    #[test]
    fn preset_parameter_counts_match_the_published_sizes() {
        let count = |m: &str| ModelShape::preset(m).unwrap().total_params() / 1e9;
        // Qwen2.5 7B / 14B / 72B: 7.61B / 14.7B / 72.7B (biases of q, k, v aside).
        assert!((count("7b") - 7.61).abs() < 0.02, "{}", count("7b"));
        assert!((count("14b") - 14.7).abs() < 0.1, "{}", count("14b"));
        assert!((count("72b") - 72.7).abs() < 0.1, "{}", count("72b"));
        // SmolLM2-135M: 134.5M.
        assert!((count("smollm2-135m") - 0.1345).abs() < 0.0005);
    }

    #[test]
    fn zero_stages_shard_what_they_should() {
        let p = brief("7b", 4, 5.0, 25.0);
        let psi = p.params;
        let z = &p.zero;
        // Stage 0: 2 + 2 + 12 bytes per parameter, nothing sharded.
        assert_eq!(z[0].params, 2.0 * psi);
        assert_eq!(z[0].grads, 2.0 * psi);
        assert_eq!(z[0].optimizer, 12.0 * psi);
        // Stage 1 shards the optimizer state, 2 the gradients, 3 the parameters.
        assert_eq!(z[1].optimizer, 3.0 * psi);
        assert_eq!(z[1].grads, 2.0 * psi);
        assert_eq!(z[2].grads, 0.5 * psi);
        assert_eq!(z[2].params, 2.0 * psi);
        // Stage 3: a quarter of the 16-bit parameters plus two gathered units, here the
        // embedding (152064 x 3584), the largest.
        let unit = 152_064.0 * 3584.0;
        assert_eq!(z[3].params, 0.5 * psi + 2.0 * unit * 2.0);
        assert_eq!(z[3].optimizer, 3.0 * psi);
        for w in z.windows(2) {
            assert!(w[1].total_checkpointed < w[0].total_checkpointed);
        }
        // ZeRO-3 with checkpointing fits a 7B model on 4 x 80 GB; ZeRO-0 does not.
        assert!(z[3].total_checkpointed < 80e9);
        assert!(z[0].total_checkpointed > 80e9);
        assert!(p.activations_checkpointed < p.activations_full);
    }

    #[test]
    fn activation_formula_counts_elements() {
        let m = ModelShape::preset("smollm2-135m").unwrap();
        // 6 x 576 + 2 x 192 + 3 x 1536.
        assert_eq!(m.layer_activation_elems_per_token(), 8448.0);
        let p = PlanInput {
            model: m,
            gpu: Gpu::by_name("a100-80g").unwrap(),
            gpus: 1,
            tokens: 1e6,
            epochs: 1.0,
            price_per_gpu_hour: 1.0,
            speed: Speed::Mfu(0.4),
            seq_len: 1024,
            precision: Precision::F32,
        }
        .plan()
        .unwrap();
        let logits = 2.0 * 1024.0 * 49152.0 * 4.0;
        assert_eq!(p.logits, logits);
        let want = 30.0 * 8448.0 * 1024.0 * 4.0 + 2.0 * 576.0 * 1024.0 * 4.0 + logits;
        assert_eq!(p.activations_full, want);
        // f32: 4 + 4 + 8 bytes per parameter.
        assert_eq!(
            p.zero[0].params + p.zero[0].grads + p.zero[0].optimizer,
            16.0 * p.params
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let mut input = brief("7b", 4, 5.0, 25.0).input;
        input.gpus = 0;
        assert!(input.plan().unwrap_err().to_string().contains("GPUs"));
        input.gpus = 4;
        input.speed = Speed::Mfu(1.5);
        assert!(input.plan().unwrap_err().to_string().contains("MFU"));
        input.speed = Speed::HoursPerEpoch(-1.0);
        assert!(
            input
                .plan()
                .unwrap_err()
                .to_string()
                .contains("hours per epoch")
        );
        let err = Gpu::by_name("v100").unwrap_err().to_string();
        assert!(err.contains("v100") && err.contains("a100-80g"), "{err}");
        input.model.kv_heads = 5;
        assert!(input.plan().unwrap_err().to_string().contains("key/value"));
    }

    #[test]
    fn money_is_formatted_with_separators() {
        assert_eq!(format_money(0.04), "0.0");
        assert_eq!(format_money(999.95), "1,000.0");
        assert_eq!(format_money(1234567.84), "1,234,567.8");
        assert_eq!(format_money(-12.0), "-12.0");
    }
}
