//! Named weight tensors in Hugging Face naming (`model.layers.0.self_attn.q_proj.weight`),
//! dense or kept quantized, with the checks that catch missing and misshaped tensors.

use std::collections::BTreeMap;
use std::sync::Arc;

use candle_core::quantized::QTensor;
use candle_core::{DType, Device, Tensor, Var};

use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// One weight tensor.
#[derive(Debug, Clone)]
pub enum Weight {
    /// A dense tensor (f32 on CPU).
    Dense(Tensor),
    /// A GGUF-quantized tensor, used as is by the inference path.
    Quantized(Arc<QTensor>),
}

impl Weight {
    /// The tensor's dimensions.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Self::Dense(t) => t.dims().to_vec(),
            Self::Quantized(q) => q.shape().dims().to_vec(),
        }
    }

    /// The tensor as dense f32.
    pub fn to_f32(&self) -> Result<Tensor> {
        Ok(match self {
            Self::Dense(t) => t.to_dtype(DType::F32)?,
            Self::Quantized(q) => q.dequantize(&Device::Cpu)?,
        })
    }
}

/// The weights of one network, by HF tensor name.
#[derive(Debug, Clone)]
pub struct Weights {
    tensors: BTreeMap<String, Weight>,
    source: String,
}

/// The name and dimensions of every tensor a network with `config` needs.
pub fn expected_tensors(config: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (h, d) = (config.hidden_size, config.head_dim);
    let (q, kv) = (config.num_heads * d, config.num_kv_heads * d);
    let mut out = vec![
        (
            "model.embed_tokens.weight".to_owned(),
            vec![config.vocab_size, h],
        ),
        ("model.norm.weight".to_owned(), vec![h]),
    ];
    if !config.tie_word_embeddings {
        out.push(("lm_head.weight".to_owned(), vec![config.vocab_size, h]));
    }
    for i in 0..config.num_layers {
        let p = format!("model.layers.{i}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h]));
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        out.push((format!("{p}.self_attn.q_proj.weight"), vec![q, h]));
        out.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
        out.push((format!("{p}.self_attn.o_proj.weight"), vec![h, q]));
        if config.qkv_bias {
            out.push((format!("{p}.self_attn.q_proj.bias"), vec![q]));
            out.push((format!("{p}.self_attn.k_proj.bias"), vec![kv]));
            out.push((format!("{p}.self_attn.v_proj.bias"), vec![kv]));
        }
        if config.o_bias {
            out.push((format!("{p}.self_attn.o_proj.bias"), vec![h]));
        }
        let m = config.intermediate_size;
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![m, h]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![m, h]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![h, m]));
    }
    out
}

impl Weights {
    /// An empty set; `source` (a file or folder) names it in errors.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            tensors: BTreeMap::new(),
            source: source.into(),
        }
    }

    /// Random weights for `config` (normal with standard deviation `std` for matrices and
    /// biases, norms around 1), reproducible from `seed`: for tests and from-scratch training.
    pub fn random(config: &ModelConfig, std: f32, seed: u64) -> Result<Self> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut normal = move || {
            // Box-Muller: two uniforms to one standard normal.
            let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
            let u2: f32 = rng.random();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
        };
        let mut out = Self::new("random weights");
        for (name, dims) in expected_tensors(config) {
            let n: usize = dims.iter().product();
            let data: Vec<f32> = if name.ends_with("norm.weight") {
                (0..n).map(|_| 1.0 + 0.1 * normal()).collect()
            } else {
                (0..n).map(|_| std * normal()).collect()
            };
            out.insert(
                name,
                Weight::Dense(Tensor::from_vec(data, dims, &Device::Cpu)?),
            );
        }
        Ok(out)
    }

    /// Where the weights came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Adds or replaces a tensor.
    pub fn insert(&mut self, name: impl Into<String>, weight: Weight) {
        self.tensors.insert(name.into(), weight);
    }

    /// A tensor by name.
    pub fn get(&self, name: &str) -> Option<&Weight> {
        self.tensors.get(name)
    }

    /// Removes a tensor.
    pub fn remove(&mut self, name: &str) -> Option<Weight> {
        self.tensors.remove(name)
    }

    /// All tensors, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Weight)> {
        self.tensors.iter()
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Whether any tensor is quantized.
    pub fn has_quantized(&self) -> bool {
        self.tensors
            .values()
            .any(|w| matches!(w, Weight::Quantized(_)))
    }

    /// Total number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.tensors
            .values()
            .map(|w| w.dims().iter().product::<usize>())
            .sum()
    }

    /// A tensor that must exist with the given dimensions.
    pub fn require(&self, name: &str, dims: &[usize]) -> Result<&Weight> {
        let w = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::tensor(&self.source, name, "missing"))?;
        let found = w.dims();
        if found != dims {
            return Err(Error::tensor(
                &self.source,
                name,
                format!("expected shape {dims:?}, found {found:?}"),
            ));
        }
        Ok(w)
    }

    /// Checks every tensor `config` needs is present with the right shape. Extra tensors are
    /// reported in the log and ignored.
    pub fn check(&self, config: &ModelConfig) -> Result<()> {
        let expected = expected_tensors(config);
        for (name, dims) in &expected {
            self.require(name, dims)?;
        }
        let known: std::collections::BTreeSet<&str> =
            expected.iter().map(|(n, _)| n.as_str()).collect();
        for name in self.tensors.keys() {
            if !known.contains(name.as_str()) {
                tracing::debug!(source = %self.source, tensor = %name, "ignoring unused tensor");
            }
        }
        Ok(())
    }

    /// A copy with every tensor dense f32 (dequantizing quantized ones).
    pub fn to_f32(&self) -> Result<Self> {
        let mut out = Self::new(self.source.clone());
        for (name, w) in &self.tensors {
            out.insert(name.clone(), Weight::Dense(w.to_f32()?));
        }
        Ok(out)
    }

    /// Trainable copies: every tensor becomes a dense f32 [`Var`]. Returns the weights (whose
    /// tensors are the variables, so a network built from them records gradients) and the
    /// variables by name, for an optimizer.
    pub fn to_vars(&self) -> Result<(Self, BTreeMap<String, Var>)> {
        let mut out = Self::new(self.source.clone());
        let mut vars = BTreeMap::new();
        for (name, w) in &self.tensors {
            let var = Var::from_tensor(&w.to_f32()?)?;
            out.insert(name.clone(), Weight::Dense(var.as_tensor().clone()));
            vars.insert(name.clone(), var);
        }
        Ok((out, vars))
    }

    /// Dense tensors by name (quantized ones dequantized), for saving.
    pub fn to_dense_map(&self) -> Result<std::collections::HashMap<String, Tensor>> {
        self.tensors
            .iter()
            .map(|(n, w)| Ok((n.clone(), w.to_f32()?)))
            .collect()
    }
}
