//! The Llama-family network: one definition for training and inference.
//!
//! [`Mode::Train`] builds every step from operations with a backward pass (the fused CPU
//! operations of [`crate::ops`]: RMSNorm, RoPE, attention with a causal or block-diagonal
//! mask, SwiGLU), so every parameter receives a gradient. [`Mode::Infer`] uses candle's fused
//! kernels for the same steps (they have no backward pass) and accepts quantized weights. Weights are in Hugging Face layout (rotate-half RoPE), whatever file
//! they came from.
//!
//! Batches are ragged: [`Llama::forward_batch`] runs several sequences, each with its own
//! [`KvCache`] and its own number of new tokens, through one pass. The projections and the
//! MLP see all tokens of all sequences stacked; only attention is done per sequence.

use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::ops::{self, CausalMask};
use crate::qmatmul::QuantMatrix;
use crate::weights::{Weight, Weights};

/// Which implementation of the shared steps the network uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Differentiable composed operations only; dense weights only.
    Train,
    /// Fused kernels without backward; dense or quantized weights.
    Infer,
}

#[derive(Debug, Clone)]
enum Linear {
    Dense {
        w: Tensor,
        b: Option<Tensor>,
    },
    /// candle's quantized product (formats without a kernel of ours).
    Quant {
        w: QMatMul,
        b: Option<Tensor>,
    },
    /// Q4_1 / Q8_0 weights with the batched kernels of [`crate::qmatmul`].
    Packed {
        w: Arc<QuantMatrix>,
        b: Option<Tensor>,
    },
}

impl Linear {
    /// `x` is `(n, in)`; the result `(n, out)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (y, b) = match self {
            Self::Dense { w, b } => (x.matmul(&w.t()?)?, b),
            Self::Quant { w, b } => (w.forward(x)?, b),
            Self::Packed { w, b } => (w.forward(x)?, b),
        };
        Ok(match b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        })
    }
}

#[derive(Debug, Clone)]
enum Embedding {
    Dense(Tensor),
    Quant(Arc<QTensor>),
}

#[derive(Debug, Clone)]
struct Layer {
    input_norm: Tensor,
    post_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// One decoder layer's weights held outside a [`Llama`] (see [`Llama::layer`]).
#[derive(Debug, Clone)]
pub struct DecoderLayer(Layer);

/// The network.
#[derive(Debug, Clone)]
pub struct Llama {
    config: ModelConfig,
    mode: Mode,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Linear,
    inv_freq: Vec<f32>,
}

/// The keys and values of one sequence's past tokens, for every layer.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
    capacity: usize,
}

const CACHE_CHUNK: usize = 256;

impl KvCache {
    /// An empty cache for a network of `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![None; num_layers],
            len: 0,
            capacity: 0,
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|l| *l = None);
        self.len = 0;
        self.capacity = 0;
    }

    /// Forgets positions from `len` on (to reuse a common prompt prefix).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `k`, `v` (`(1, kv_heads, t, d)`) for `layer` at position `self.len` and returns
    /// views of all keys and values so far.
    fn append(&mut self, layer: usize, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let t = k.dim(2)?;
        let need = self.len + t;
        let slot = self
            .layers
            .get_mut(layer)
            .ok_or_else(|| Error::Generation(format!("cache has no layer {layer}")))?;
        let grow = match slot {
            Some((ck, _)) => ck.dim(2)? < need,
            None => true,
        };
        if grow {
            let cap = need.div_ceil(CACHE_CHUNK) * CACHE_CHUNK;
            let (b, h, _, d) = k.dims4()?;
            let nk = Tensor::zeros((b, h, cap, d), k.dtype(), k.device())?;
            let nv = Tensor::zeros((b, h, cap, d), v.dtype(), v.device())?;
            if let Some((ck, cv)) = slot.as_ref()
                && self.len > 0
            {
                nk.slice_set(&ck.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
                nv.slice_set(&cv.narrow(2, 0, self.len)?.contiguous()?, 2, 0)?;
            }
            *slot = Some((nk, nv));
            self.capacity = self.capacity.max(cap);
        }
        let (ck, cv) = slot
            .as_ref()
            .ok_or_else(|| Error::Generation("cache slot missing".into()))?;
        ck.slice_set(&k.contiguous()?, 2, self.len)?;
        cv.slice_set(&v.contiguous()?, 2, self.len)?;
        Ok((ck.narrow(2, 0, need)?, cv.narrow(2, 0, need)?))
    }
}

/// One sequence of a ragged batch: its new tokens (`b` rows of `t`), the positions already
/// cached, in inference its cache, and in training optionally the lengths of the documents
/// packed into it.
struct Segment<'a> {
    b: usize,
    t: usize,
    offset: usize,
    cache: Option<&'a mut KvCache>,
    docs: Option<&'a [usize]>,
}

fn dense(weights: &Weights, name: &str, dims: &[usize], mode: Mode) -> Result<Tensor> {
    match weights.require(name, dims)? {
        Weight::Dense(t) => Ok(if t.dtype() == DType::F32 {
            t.clone()
        } else {
            t.to_dtype(DType::F32)?
        }),
        Weight::Quantized(q) => {
            if mode == Mode::Train {
                return Err(Error::tensor(
                    weights.source(),
                    name,
                    "quantized weights cannot be trained; dequantize them first (Weights::to_f32)",
                ));
            }
            Ok(q.dequantize(&Device::Cpu)?)
        }
    }
}

/// A quantized projection: our batched kernels where they cover the format, else candle's.
fn quant_linear(q: &Arc<QTensor>, b: Option<Tensor>) -> Result<Linear> {
    Ok(match QuantMatrix::from_qtensor(q)? {
        Some(m) => Linear::Packed { w: Arc::new(m), b },
        None => Linear::Quant {
            w: QMatMul::from_arc(q.clone())?,
            b,
        },
    })
}

fn linear(
    weights: &Weights,
    prefix: &str,
    out_in: (usize, usize),
    bias: bool,
    mode: Mode,
) -> Result<Linear> {
    let name = format!("{prefix}.weight");
    let b = if bias {
        Some(dense(
            weights,
            &format!("{prefix}.bias"),
            &[out_in.0],
            mode,
        )?)
    } else {
        None
    };
    match weights.require(&name, &[out_in.0, out_in.1])? {
        Weight::Quantized(q) if mode == Mode::Infer => quant_linear(q, b),
        _ => Ok(Linear::Dense {
            w: dense(weights, &name, &[out_in.0, out_in.1], mode)?,
            b,
        }),
    }
}

/// Reads decoder layer `i` from `weights` (HF names `model.layers.{i}.*`).
fn load_layer(config: &ModelConfig, weights: &Weights, i: usize, mode: Mode) -> Result<Layer> {
    let (h, d) = (config.hidden_size, config.head_dim);
    let (qd, kvd, m) = (
        config.num_heads * d,
        config.num_kv_heads * d,
        config.intermediate_size,
    );
    let p = format!("model.layers.{i}");
    let a = format!("{p}.self_attn");
    Ok(Layer {
        input_norm: dense(weights, &format!("{p}.input_layernorm.weight"), &[h], mode)?,
        post_norm: dense(
            weights,
            &format!("{p}.post_attention_layernorm.weight"),
            &[h],
            mode,
        )?,
        q: linear(
            weights,
            &format!("{a}.q_proj"),
            (qd, h),
            config.qkv_bias,
            mode,
        )?,
        k: linear(
            weights,
            &format!("{a}.k_proj"),
            (kvd, h),
            config.qkv_bias,
            mode,
        )?,
        v: linear(
            weights,
            &format!("{a}.v_proj"),
            (kvd, h),
            config.qkv_bias,
            mode,
        )?,
        o: linear(
            weights,
            &format!("{a}.o_proj"),
            (h, qd),
            config.o_bias,
            mode,
        )?,
        gate: linear(weights, &format!("{p}.mlp.gate_proj"), (m, h), false, mode)?,
        up: linear(weights, &format!("{p}.mlp.up_proj"), (m, h), false, mode)?,
        down: linear(weights, &format!("{p}.mlp.down_proj"), (h, m), false, mode)?,
    })
}

impl Llama {
    /// Builds the network from `weights` (HF names and layout). In [`Mode::Train`] the weights
    /// must be dense; pass the tensors of [`Weights::to_vars`] to record gradients.
    pub fn new(config: &ModelConfig, weights: &Weights, mode: Mode) -> Result<Self> {
        config.validate(weights.source())?;
        weights.check(config)?;
        let h = config.hidden_size;
        let embed_name = "model.embed_tokens.weight";
        let embed = match weights.require(embed_name, &[config.vocab_size, h])? {
            Weight::Quantized(q) if mode == Mode::Infer => Embedding::Quant(q.clone()),
            _ => Embedding::Dense(dense(weights, embed_name, &[config.vocab_size, h], mode)?),
        };
        let lm_head = if config.tie_word_embeddings {
            match &embed {
                Embedding::Dense(t) => Linear::Dense {
                    w: t.clone(),
                    b: None,
                },
                Embedding::Quant(q) => quant_linear(q, None)?,
            }
        } else {
            linear(weights, "lm_head", (config.vocab_size, h), false, mode)?
        };
        let layers = (0..config.num_layers)
            .map(|i| load_layer(config, weights, i, mode))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            mode,
            embed,
            layers,
            norm: dense(weights, "model.norm.weight", &[h], mode)?,
            lm_head,
            inv_freq: config.rope_inv_freq().iter().map(|&f| f as f32).collect(),
        })
    }

    /// A network without weights of its own, for the per-layer API ([`Llama::layer`],
    /// [`Llama::layer_forward`], [`Llama::norm_with`]) used by trainers that hold the
    /// parameters themselves (activation checkpointing, sharded parameters). Its whole-network
    /// methods fail on the empty embedding.
    pub fn without_weights(config: &ModelConfig, mode: Mode) -> Result<Self> {
        config.validate("model config")?;
        let empty = Tensor::zeros(0, DType::F32, &Device::Cpu)?;
        Ok(Self {
            config: config.clone(),
            mode,
            embed: Embedding::Dense(empty.clone()),
            layers: Vec::new(),
            norm: empty.clone(),
            lm_head: Linear::Dense { w: empty, b: None },
            inv_freq: config.rope_inv_freq().iter().map(|&f| f as f32).collect(),
        })
    }

    /// Decoder layer `index` built from `weights`, which need only hold that layer's tensors
    /// (HF names `model.layers.{index}.*`); in [`Mode::Train`] gradients flow to them.
    pub fn layer(&self, weights: &Weights, index: usize) -> Result<DecoderLayer> {
        if index >= self.config.num_layers {
            return Err(Error::tensor(
                weights.source(),
                format!("model.layers.{index}"),
                format!("the network has {} layers", self.config.num_layers),
            ));
        }
        Ok(DecoderLayer(load_layer(
            &self.config,
            weights,
            index,
            self.mode,
        )?))
    }

    /// Runs one decoder layer over the rows `x` (`(tokens, hidden)`) of a packed sequence whose
    /// documents are the consecutive token ranges `docs` (covering every row): attention stays
    /// inside each document (block-diagonal causal) and positions restart at 0 in each.
    pub fn layer_forward(
        &self,
        layer: &DecoderLayer,
        x: &Tensor,
        docs: &[std::ops::Range<usize>],
    ) -> Result<Tensor> {
        let n = x.dim(0)?;
        let mut next = 0;
        for d in docs {
            if d.start != next || d.end <= d.start {
                return Err(Error::Generation(format!(
                    "document ranges must be non-empty and consecutive from 0, got {docs:?}"
                )));
            }
            next = d.end;
        }
        if next != n {
            return Err(Error::Generation(format!(
                "document ranges cover {next} rows, the input has {n}"
            )));
        }
        // One segment whose attention is block-diagonal over its documents, with positions
        // restarting at 0 in each.
        let lens: Vec<usize> = docs.iter().map(|d| d.len()).collect();
        let ropes = [self.rope_tables(lens.iter().flat_map(|&l| 0..l), n)?];
        let masks = [CausalMask::documents(&lens)?];
        let mut segs = [Segment {
            b: 1,
            t: n,
            offset: 0,
            cache: None,
            docs: Some(&lens),
        }];
        self.block(0, &layer.0, x, &mut segs, &ropes, &masks)
    }

    /// RMSNorm of the rows `x` with weight `w`, as the network computes it (the final norm
    /// before the output projection, for trainers holding that weight themselves).
    pub fn norm_with(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        self.rms_norm(x, w)
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The mode it was built in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// An empty cache for one sequence.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.config.num_layers)
    }

    /// Logits for every position of `input_ids` (`(batch, seq)` of u32): `(batch, seq, vocab)`.
    /// No cache; rows are causal and independent (right padding is harmless).
    pub fn forward(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        let hidden = self.forward_hidden(input_ids)?;
        let logits = self
            .lm_head
            .forward(&hidden.reshape((b * t, self.config.hidden_size))?)?;
        Ok(logits.reshape((b, t, self.config.vocab_size))?)
    }

    /// The final normalised hidden states for every position (`(batch, seq, hidden)`), for
    /// losses that apply the output projection themselves (see [`Llama::lm_head`]).
    pub fn forward_hidden(&self, input_ids: &Tensor) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        if t == 0 {
            return Err(Error::Generation("empty input".into()));
        }
        let ids = input_ids.flatten_all()?;
        let mut segs = [Segment {
            b,
            t,
            offset: 0,
            cache: None,
            docs: None,
        }];
        let hidden = self.run(&ids, &mut segs)?;
        Ok(hidden.reshape((b, t, self.config.hidden_size))?)
    }

    /// Like [`Llama::forward_hidden`] for one row of documents packed end to end
    /// (`input_ids` of shape `(1, seq)`, `doc_lens` summing to `seq`): each token attends only
    /// to earlier tokens of its own document and positions restart at 0 in every document, so
    /// each document is processed as if it were alone. Returns `(1, seq, hidden)`.
    pub fn forward_hidden_packed(&self, input_ids: &Tensor, doc_lens: &[usize]) -> Result<Tensor> {
        let (b, t) = input_ids.dims2()?;
        if b != 1 {
            return Err(Error::Generation(format!(
                "packed documents go in one row, got a batch of {b}"
            )));
        }
        if t == 0 || doc_lens.contains(&0) || doc_lens.iter().sum::<usize>() != t {
            return Err(Error::Generation(format!(
                "document lengths {doc_lens:?} must be positive and sum to the {t} tokens"
            )));
        }
        let ids = input_ids.flatten_all()?;
        let mut segs = [Segment {
            b,
            t,
            offset: 0,
            cache: None,
            docs: Some(doc_lens),
        }];
        let hidden = self.run(&ids, &mut segs)?;
        Ok(hidden.reshape((b, t, self.config.hidden_size))?)
    }

    /// Applies the output projection to hidden states `(n, hidden)`: `(n, vocab)`.
    pub fn lm_head(&self, hidden: &Tensor) -> Result<Tensor> {
        self.lm_head.forward(hidden)
    }

    /// Feeds `tokens` to one sequence with its cache; returns the logits of the last token
    /// (`(vocab,)`).
    pub fn forward_step(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        let mut batch = [(tokens, cache)];
        let logits = self.forward_batch(&mut batch)?;
        Ok(logits.squeeze(0)?)
    }

    /// Feeds each sequence its new tokens (any number each, at least one), appending to its
    /// cache; returns the last-token logits of each sequence (`(sequences, vocab)`).
    pub fn forward_batch(&self, batch: &mut [(&[u32], &mut KvCache)]) -> Result<Tensor> {
        if batch.is_empty() {
            return Err(Error::Generation("empty batch".into()));
        }
        let mut ids = Vec::new();
        let mut segs = Vec::with_capacity(batch.len());
        for (tokens, cache) in batch.iter_mut() {
            if tokens.is_empty() {
                return Err(Error::Generation(
                    "every sequence of a batch needs at least one new token".into(),
                ));
            }
            if let Some(&bad) = tokens
                .iter()
                .find(|&&t| t as usize >= self.config.vocab_size)
            {
                return Err(Error::Generation(format!(
                    "token id {bad} is outside the vocabulary ({})",
                    self.config.vocab_size
                )));
            }
            if cache.layers.len() != self.config.num_layers {
                return Err(Error::Generation(
                    "the cache belongs to a network with another number of layers".into(),
                ));
            }
            ids.extend_from_slice(tokens);
            segs.push(Segment {
                b: 1,
                t: tokens.len(),
                offset: cache.len,
                cache: Some(&mut **cache),
                docs: None,
            });
        }
        let n = ids.len();
        let ids = Tensor::from_vec(ids, n, &Device::Cpu)?;
        let hidden = self.run(&ids, &mut segs)?;
        let mut last = Vec::with_capacity(segs.len());
        let mut row = 0;
        for seg in &segs {
            row += seg.t;
            last.push(row as u32 - 1);
        }
        let n_last = last.len();
        let last = Tensor::from_vec(last, n_last, &Device::Cpu)?;
        let hidden = hidden.index_select(&last, 0)?;
        for (tokens, cache) in batch.iter_mut() {
            cache.len += tokens.len();
        }
        self.lm_head.forward(&hidden)
    }

    /// The shared body: `ids` are the flattened new tokens of all segments; returns the final
    /// normalised hidden states `(tokens, hidden)`.
    fn run(&self, ids: &Tensor, segs: &mut [Segment<'_>]) -> Result<Tensor> {
        let mut x = match &self.embed {
            Embedding::Dense(w) => w.index_select(ids, 0)?,
            Embedding::Quant(q) => q.embedding(ids)?,
        };
        let ropes = segs
            .iter()
            .map(|s| match s.docs {
                Some(docs) => self.rope_tables(docs.iter().flat_map(|&n| 0..n), s.t),
                None => self.rope_tables(s.offset..s.offset + s.t, s.t),
            })
            .collect::<Result<Vec<_>>>()?;
        let masks = segs
            .iter()
            .map(|s| match s.docs {
                Some(docs) => CausalMask::documents(docs),
                None => Ok(CausalMask::causal(s.t, s.offset)),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for (li, layer) in self.layers.iter().enumerate() {
            x = self.block(li, layer, &x, segs, &ropes, &masks)?;
        }
        self.rms_norm(&x, &self.norm)
    }

    /// One decoder layer over the stacked rows `x` of all segments.
    fn block(
        &self,
        li: usize,
        layer: &Layer,
        x: &Tensor,
        segs: &mut [Segment<'_>],
        ropes: &[(Tensor, Tensor)],
        masks: &[CausalMask],
    ) -> Result<Tensor> {
        {
            let h = self.rms_norm(x, &layer.input_norm)?;
            let q = layer.q.forward(&h)?;
            let k = layer.k.forward(&h)?;
            let v = layer.v.forward(&h)?;
            let mut outs = Vec::with_capacity(segs.len());
            let mut row = 0;
            for ((seg, (cos, sin)), mask) in segs.iter_mut().zip(ropes).zip(masks) {
                let n = seg.b * seg.t;
                let out = self.attention(
                    li,
                    seg,
                    &q.narrow(0, row, n)?,
                    &k.narrow(0, row, n)?,
                    &v.narrow(0, row, n)?,
                    cos,
                    sin,
                    mask,
                )?;
                outs.push(out);
                row += n;
            }
            let attn = if outs.len() == 1 {
                outs.swap_remove(0)
            } else {
                Tensor::cat(&outs, 0)?
            };
            let x = (x + layer.o.forward(&attn)?)?;
            let h = self.rms_norm(&x, &layer.post_norm)?;
            let gate = layer.gate.forward(&h)?;
            let up = layer.up.forward(&h)?;
            let act = match self.mode {
                Mode::Train => ops::swiglu(&gate, &up)?,
                Mode::Infer => (gate.silu()? * up)?,
            };
            Ok((x + layer.down.forward(&act)?)?)
        }
    }

    /// Attention of one segment; `q`, `k`, `v` are its rows `(b*t, heads*d)`.
    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        layer: usize,
        seg: &mut Segment<'_>,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: &CausalMask,
    ) -> Result<Tensor> {
        let c = &self.config;
        let (b, t, d) = (seg.b, seg.t, c.head_dim);
        let (nh, nkv) = (c.num_heads, c.num_kv_heads);
        let q = q.reshape((b, t, nh, d))?.transpose(1, 2)?.contiguous()?;
        let k = k.reshape((b, t, nkv, d))?.transpose(1, 2)?.contiguous()?;
        let v = v.reshape((b, t, nkv, d))?.transpose(1, 2)?.contiguous()?;
        let q = self.rope(&q, cos, sin)?;
        let k = self.rope(&k, cos, sin)?;
        let (k, v) = match seg.cache.as_deref_mut() {
            Some(cache) => cache.append(layer, &k, &v)?,
            None => (k, v),
        };
        let rep = nh / nkv;
        // Query heads sharing a key/value head are stacked along the rows, so keys and values
        // are never copied per query head.
        let q = q.reshape((b, nkv, rep * t, d))?;
        let scale = 1.0 / (d as f64).sqrt();
        let out = match self.mode {
            Mode::Train => ops::attention(&q, &k, &v, scale, mask)?,
            // (b, nkv, rep*t, d), reading the cache in place.
            Mode::Infer => ops::attention_infer(&q, &k, &v, scale, mask)?,
        };
        let out = out
            .reshape((b, nh, t, d))?
            .transpose(1, 2)?
            .reshape((b * t, nh * d))?;
        Ok(out)
    }

    /// cos and sin tables for the `t` given positions, `(t, d/2)` each.
    fn rope_tables(
        &self,
        positions: impl Iterator<Item = usize>,
        t: usize,
    ) -> Result<(Tensor, Tensor)> {
        let half = self.inv_freq.len();
        let mut cos = Vec::with_capacity(t * half);
        let mut sin = Vec::with_capacity(t * half);
        for p in positions {
            for &f in &self.inv_freq {
                let a = p as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Ok((
            Tensor::from_vec(cos, (t, half), &Device::Cpu)?,
            Tensor::from_vec(sin, (t, half), &Device::Cpu)?,
        ))
    }

    /// Rotate-half RoPE on `(b, heads, t, d)`.
    fn rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        match self.mode {
            Mode::Infer => Ok(candle_nn::rotary_emb::rope(x, cos, sin)?),
            Mode::Train => Ok(ops::rope(x, cos, sin)?),
        }
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor) -> Result<Tensor> {
        let eps = self.config.rms_norm_eps;
        match self.mode {
            Mode::Infer => Ok(candle_nn::ops::rms_norm(&x.contiguous()?, w, eps as f32)?),
            Mode::Train => Ok(ops::rms_norm(x, w, eps)?),
        }
    }
}
