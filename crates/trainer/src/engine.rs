//! One rank's training engine: the forward and backward pass over packed rows, layer by layer,
//! with ZeRO-3 sharded parameters, optional activation checkpointing, gradient accumulation,
//! global-norm clipping and the AdamW step.
//!
//! The pass always runs one decoder layer at a time: each layer's parameters are all-gathered
//! just before its forward (and, with checkpointing, again before its recompute) and dropped
//! after; the backward pass feeds the upstream gradient `g` through a layer as the gradient of
//! `sum(out * g)`, so each layer's gradient is reduce-scattered onto the ranks' shards as soon
//! as it exists. With checkpointing only each layer's input is kept between the passes;
//! without it each layer's graph is kept from the forward pass.

use std::collections::BTreeSet;
use std::ops::Range;

use agentune_data::shards::PackedRow;
use agentune_model::{Llama, Mode, ModelConfig, Weights};
use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, Tensor, Var};

use crate::comm::Communicator;
use crate::error::{Error, Result};
use crate::optim::{AdamWParams, Moments, adamw_step};
use crate::params::{HEAD_GROUP, Layout};

const EMBED: &str = "model.embed_tokens.weight";
const NORM: &str = "model.norm.weight";
const LM_HEAD: &str = "lm_head.weight";

/// How the engine trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineOptions {
    /// Keep only each layer's input in the forward pass and recompute the layer in the
    /// backward pass.
    pub activation_checkpointing: bool,
    /// AdamW's hyper-parameters.
    pub adamw: AdamWParams,
    /// Clip the global gradient norm to this value, if set.
    pub grad_clip: Option<f64>,
}

/// The optimizer state of one rank: its parameter shards (fp32 master weights), moments and
/// the number of steps taken.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardState {
    /// Parameter shard per group.
    pub params: Vec<Vec<f32>>,
    /// Moments per group.
    pub moments: Vec<Moments>,
    /// Optimizer steps taken.
    pub step: u64,
}

/// What one optimizer step did, summed over all ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Weighted mean cross-entropy over the trained tokens of the window.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens fed through the network.
    pub tokens: usize,
    /// Sum of the loss weights (trained tokens when weights are 0/1).
    pub trained_weight: f64,
}

/// The positions a row is trained on: for each position `j` predicting token `j + 1` of the
/// same document with a positive loss weight, `(j, token, weight)`.
pub fn loss_targets(row: &PackedRow) -> Vec<(u32, u32, f32)> {
    let n = row.tokens.len();
    let mut starts = vec![false; n + 1];
    for &s in &row.starts {
        if let Some(x) = starts.get_mut(s as usize) {
            *x = true;
        }
    }
    (1..n)
        .filter(|&t| !starts[t] && row.weights[t] > 0.0)
        .map(|t| ((t - 1) as u32, row.tokens[t], row.weights[t]))
        .collect()
}

/// The sum of a row's loss weights over the positions it is trained on.
pub fn trained_weight(row: &PackedRow) -> f64 {
    loss_targets(row).iter().map(|t| f64::from(t.2)).sum()
}

// One document spanning the row is meant: a list of ranges with one element.
#[allow(clippy::single_range_in_vec_init)]
fn documents(row: &PackedRow) -> Vec<Range<usize>> {
    if row.starts.is_empty() {
        vec![0..row.tokens.len()]
    } else {
        row.documents()
    }
}

enum Saved {
    /// The layer's input (checkpointing: recompute in the backward pass).
    Input(Tensor),
    /// The layer's graph from the forward pass.
    Graph {
        input: Var,
        vars: Vec<Var>,
        out: Tensor,
    },
}

/// One rank's engine.
#[derive(Debug)]
pub struct Engine<C: Communicator> {
    comm: C,
    layout: Layout,
    net: Llama,
    config: ModelConfig,
    opts: EngineOptions,
    params: Vec<Vec<f32>>,
    grads: Vec<Vec<f32>>,
    moments: Vec<Moments>,
    decay: Vec<Vec<(Range<usize>, bool)>>,
    step: u64,
    with_grad: BTreeSet<String>,
}

impl<C: Communicator> Engine<C> {
    /// An engine for `comm`'s rank, holding its shards of `weights` (every rank passes the
    /// same full weights).
    pub fn new(
        comm: C,
        config: &ModelConfig,
        weights: &Weights,
        opts: EngineOptions,
    ) -> Result<Self> {
        let world = comm.world_size();
        let rank = comm.rank();
        let layout = Layout::new(config, world)?;
        weights.check(config)?;
        let mut params = Vec::with_capacity(layout.groups.len());
        for (g, group) in layout.groups.iter().enumerate() {
            let flat = layout.flatten(g, weights)?;
            params.push(flat[group.shard_range(rank)].to_vec());
        }
        let grads = layout
            .groups
            .iter()
            .map(|g| vec![0.0; g.shard_len])
            .collect();
        let moments = layout
            .groups
            .iter()
            .map(|g| Moments::zeros(g.shard_len))
            .collect();
        let decay = (0..layout.groups.len())
            .map(|g| layout.decay_runs(g, rank))
            .collect();
        Ok(Self {
            net: Llama::without_weights(config, Mode::Train)?,
            config: config.clone(),
            comm,
            layout,
            opts,
            params,
            grads,
            moments,
            decay,
            step: 0,
            with_grad: BTreeSet::new(),
        })
    }

    /// The communicator.
    pub fn comm(&self) -> &C {
        &self.comm
    }

    /// The parameter layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Optimizer steps taken.
    pub fn step(&self) -> u64 {
        self.step
    }

    fn gather(&self, g: usize) -> Result<Vec<f32>> {
        let mut flat = vec![0f32; self.layout.groups[g].padded_len(self.layout.world)];
        self.comm.all_gather(&self.params[g], &mut flat)?;
        Ok(flat)
    }

    fn scatter_grad(&mut self, g: usize, flat: &[f32]) -> Result<()> {
        let mut part = vec![0f32; self.layout.groups[g].shard_len];
        self.comm.reduce_scatter(flat, &mut part)?;
        for (a, b) in self.grads[g].iter_mut().zip(&part) {
            *a += b;
        }
        Ok(())
    }

    /// The gradients of `vars` (group `g`'s tensors in slot order) as a padded flat vector.
    fn flat_grad(&mut self, g: usize, vars: &[Var], grads: &GradStore) -> Result<Vec<f32>> {
        let group = &self.layout.groups[g];
        let mut flat = vec![0f32; group.padded_len(self.layout.world)];
        for (slot, var) in group.slots.iter().zip(vars) {
            if let Some(gr) = grads.get(var.as_tensor()) {
                let v = gr.flatten_all()?.to_vec1::<f32>()?;
                flat[slot.offset..slot.offset + slot.len].copy_from_slice(&v);
                self.with_grad.insert(slot.name.clone());
            }
        }
        Ok(flat)
    }

    /// A tensor of group `g` from its gathered flat vector, without gradient tracking.
    fn frozen(&self, g: usize, flat: &[f32], name: &str) -> Result<Tensor> {
        let slot = self.layout.groups[g]
            .slots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::Training(format!("no tensor {name} in the layout")))?;
        Ok(Tensor::from_slice(
            &flat[slot.offset..slot.offset + slot.len],
            slot.dims.as_slice(),
            &Device::Cpu,
        )?)
    }

    fn layer_weights_frozen(&self, g: usize, flat: &[f32]) -> Result<Weights> {
        let mut w = Weights::new(format!("parameter group {}", self.layout.groups[g].name));
        for s in &self.layout.groups[g].slots {
            w.insert(
                s.name.clone(),
                agentune_model::Weight::Dense(self.frozen(g, flat, &s.name)?),
            );
        }
        Ok(w)
    }

    /// Forward and backward of one packed row; its gradient (scaled by `1 / denom`, the loss
    /// weight of the whole accumulation window over all ranks) is added to this rank's
    /// gradient shards. Returns the row's weighted loss sum (not divided).
    pub fn micro_step(&mut self, row: &PackedRow, denom: f64) -> Result<f64> {
        let n = row.tokens.len();
        if n == 0 || row.weights.len() != n {
            return Err(Error::Training(format!(
                "a row has {} tokens and {} loss weights",
                n,
                row.weights.len()
            )));
        }
        if let Some(&bad) = row
            .tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(Error::Training(format!(
                "token id {bad} is outside the model's vocabulary ({}); were the shards built for another model?",
                self.config.vocab_size
            )));
        }
        let docs = documents(row);
        let num_layers = self.config.num_layers;

        // Forward: embedding, then the layers one at a time. The rows are read straight
        // from the gathered flat vector (no tensor of the whole table).
        let embed = self.embed_slot()?;
        let hidden_size = embed.dims.get(1).copied().unwrap_or(0);
        let mut x = {
            let head = self.gather(HEAD_GROUP)?;
            let table = &head[embed.offset..embed.offset + embed.len];
            let mut rows = Vec::with_capacity(n * hidden_size);
            for &t in &row.tokens {
                let at = t as usize * hidden_size;
                rows.extend_from_slice(&table[at..at + hidden_size]);
            }
            Tensor::from_vec(rows, (n, hidden_size), &Device::Cpu)?
        };
        let mut saved = Vec::with_capacity(num_layers);
        for i in 0..num_layers {
            let g = Layout::layer_group(i);
            let flat = self.gather(g)?;
            if self.opts.activation_checkpointing {
                let w = self.layer_weights_frozen(g, &flat)?;
                drop(flat);
                let layer = self.net.layer(&w, i)?;
                let out = self.net.layer_forward(&layer, &x, &docs)?;
                saved.push(Saved::Input(x));
                x = out;
            } else {
                let (w, vars) = self.layout.materialize(g, &flat)?;
                drop(flat);
                let layer = self.net.layer(&w, i)?;
                let input = Var::from_tensor(&x)?;
                let out = self.net.layer_forward(&layer, input.as_tensor(), &docs)?;
                x = out.detach();
                saved.push(Saved::Graph { input, vars, out });
            }
        }

        // Loss: final norm, output projection on the trained positions, cross-entropy.
        let targets = loss_targets(row);
        let hidden = Var::from_tensor(&x)?;
        drop(x);
        let head = self.gather(HEAD_GROUP)?;
        let (hw, hvars) = self.layout.materialize(HEAD_GROUP, &head)?;
        drop(head);
        let (loss_sum, mut g) = if targets.is_empty() {
            let flat = vec![0f32; self.layout.groups[HEAD_GROUP].padded_len(self.layout.world)];
            self.scatter_grad(HEAD_GROUP, &flat)?;
            (0.0, hidden.as_tensor().zeros_like()?)
        } else {
            let dense = |name: &str| -> Result<Tensor> {
                hw.get(name)
                    .ok_or_else(|| Error::Training(format!("no tensor {name}")))?
                    .to_f32()
                    .map_err(Error::from)
            };
            let norm_w = dense(NORM)?;
            let lm_w = if self.config.tie_word_embeddings {
                dense(EMBED)?
            } else {
                dense(LM_HEAD)?
            };
            let m = targets.len();
            let pos = Tensor::from_vec(targets.iter().map(|t| t.0).collect(), m, &Device::Cpu)?;
            let tgt: Vec<u32> = targets.iter().map(|t| t.1).collect();
            let wts: Vec<f32> = targets.iter().map(|t| t.2).collect();
            let normed = self.net.norm_with(hidden.as_tensor(), &norm_w)?;
            let logits = normed.index_select(&pos, 0)?.matmul(&lm_w.t()?)?;
            // The fused weighted cross-entropy: no (tokens x vocabulary) intermediates beyond
            // the logits and their gradient.
            let loss = agentune_model::ops::cross_entropy(&logits, &tgt, &wts)?;
            let loss_sum = f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
            let grads = loss.affine(1.0 / denom, 0.0)?.backward()?;
            let flat = self.flat_grad(HEAD_GROUP, &hvars, &grads)?;
            self.scatter_grad(HEAD_GROUP, &flat)?;
            let g = match grads.get(hidden.as_tensor()) {
                Some(g) => g.clone(),
                None => hidden.as_tensor().zeros_like()?,
            };
            (loss_sum, g)
        };
        drop((hw, hvars, hidden));

        // Backward through the layers, last first.
        for i in (0..num_layers).rev() {
            let gi = Layout::layer_group(i);
            let (input, vars, out) = match saved.pop() {
                Some(Saved::Input(x)) => {
                    let flat = self.gather(gi)?;
                    let (w, vars) = self.layout.materialize(gi, &flat)?;
                    drop(flat);
                    let layer = self.net.layer(&w, i)?;
                    let input = Var::from_tensor(&x)?;
                    let out = self.net.layer_forward(&layer, input.as_tensor(), &docs)?;
                    (input, vars, out)
                }
                Some(Saved::Graph { input, vars, out }) => (input, vars, out),
                None => return Err(Error::Training("layer inputs out of step".into())),
            };
            let grads = (out * &g)?.sum_all()?.backward()?;
            let flat = self.flat_grad(gi, &vars, &grads)?;
            self.scatter_grad(gi, &flat)?;
            g = match grads.get(input.as_tensor()) {
                Some(x) => x.clone(),
                None => input.as_tensor().zeros_like()?,
            };
        }

        // Embedding: add the rows' gradients into the rows of the table, in place in the flat
        // vector that is reduce-scattered.
        let g = g.to_vec2::<f32>()?;
        let mut flat = vec![0f32; self.layout.groups[HEAD_GROUP].padded_len(self.layout.world)];
        let table = &mut flat[embed.offset..embed.offset + embed.len];
        for (&t, grad) in row.tokens.iter().zip(&g) {
            let at = t as usize * hidden_size;
            for (a, b) in table[at..at + hidden_size].iter_mut().zip(grad) {
                *a += b;
            }
        }
        self.with_grad.insert(embed.name.clone());
        self.scatter_grad(HEAD_GROUP, &flat)?;
        Ok(loss_sum)
    }

    /// The embedding table's slot in the head group.
    fn embed_slot(&self) -> Result<crate::params::Slot> {
        self.layout.groups[HEAD_GROUP]
            .slots
            .iter()
            .find(|s| s.name == EMBED)
            .cloned()
            .ok_or_else(|| Error::Training("no embedding in the layout".into()))
    }

    /// The global gradient norm over all ranks' shards.
    pub fn grad_norm(&self) -> Result<f64> {
        let local: f64 = self
            .grads
            .iter()
            .flat_map(|g| g.iter())
            .map(|&x| f64::from(x) * f64::from(x))
            .sum();
        let mut buf = [local as f32];
        self.comm.all_reduce(&mut buf)?;
        Ok(f64::from(buf[0]).sqrt())
    }

    /// Clips, takes one AdamW step with learning rate `lr` on this rank's shards and zeroes
    /// the gradients. Returns the gradient norm before clipping.
    pub fn apply(&mut self, lr: f64) -> Result<f64> {
        let norm = self.grad_norm()?;
        if !norm.is_finite() {
            return Err(Error::Training(format!(
                "the gradient norm is {norm} at step {}",
                self.step + 1
            )));
        }
        let scale = match self.opts.grad_clip {
            Some(c) if norm > c => (c / (norm + 1e-6)) as f32,
            _ => 1.0,
        };
        self.step += 1;
        for g in 0..self.layout.groups.len() {
            adamw_step(
                &self.opts.adamw,
                lr,
                self.step,
                scale,
                &mut self.params[g],
                &self.grads[g],
                &mut self.moments[g],
                &self.decay[g],
            );
            self.grads[g].iter_mut().for_each(|x| *x = 0.0);
        }
        Ok(norm)
    }

    /// One optimizer step over the window `rows` (all ranks pass the same rows; rank `r`
    /// trains rows `r, r + world, ...`). The number of rows must be a multiple of the world
    /// size.
    pub fn train_step(&mut self, rows: &[&PackedRow], lr: f64) -> Result<StepOutcome> {
        let world = self.layout.world;
        if rows.is_empty() || !rows.len().is_multiple_of(world) {
            return Err(Error::Training(format!(
                "a step needs a positive multiple of {world} rows, got {}",
                rows.len()
            )));
        }
        let total: f64 = rows.iter().map(|r| trained_weight(r)).sum();
        let denom = if total > 0.0 { total } else { 1.0 };
        let mut local = 0.0f64;
        for r in rows.iter().skip(self.comm.rank()).step_by(world) {
            local += self.micro_step(r, denom)?;
        }
        let mut buf = [local as f32];
        self.comm.all_reduce(&mut buf)?;
        let loss = f64::from(buf[0]) / denom;
        if !loss.is_finite() {
            return Err(Error::Training(format!(
                "the loss is {loss} at step {}",
                self.step + 1
            )));
        }
        let grad_norm = self.apply(lr)?;
        Ok(StepOutcome {
            loss,
            grad_norm,
            tokens: rows.iter().map(|r| r.tokens.len()).sum(),
            trained_weight: total,
        })
    }

    /// The accumulated gradient of every group as full flat vectors (unpadded), without
    /// stepping (collective: every rank calls it). For tests and diagnostics.
    pub fn gathered_grads(&self) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(self.grads.len());
        for (g, group) in self.layout.groups.iter().enumerate() {
            let mut flat = vec![0f32; group.padded_len(self.layout.world)];
            self.comm.all_gather(&self.grads[g], &mut flat)?;
            flat.truncate(group.len);
            out.push(flat);
        }
        Ok(out)
    }

    /// Zeroes the accumulated gradients.
    pub fn zero_grad(&mut self) {
        for g in &mut self.grads {
            g.iter_mut().for_each(|x| *x = 0.0);
        }
    }

    /// The tensors that received a gradient since the engine was made.
    pub fn tensors_with_gradient(&self) -> &BTreeSet<String> {
        &self.with_grad
    }

    /// Every group's full flat vector, unpadded (collective).
    pub fn gathered_params(&self) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(self.params.len());
        for (g, group) in self.layout.groups.iter().enumerate() {
            let mut flat = self.gather(g)?;
            flat.truncate(group.len);
            out.push(flat);
        }
        Ok(out)
    }

    /// The full current weights (collective: every rank calls it; all get them).
    pub fn full_weights(&self, source: &str) -> Result<Weights> {
        let flats = self.gathered_params()?;
        self.layout.unflatten(&flats, source)
    }

    /// This rank's optimizer state.
    pub fn shard_state(&self) -> ShardState {
        ShardState {
            params: self.params.clone(),
            moments: self.moments.clone(),
            step: self.step,
        }
    }

    /// Replaces this rank's optimizer state (shapes must match the layout).
    pub fn load_shard_state(&mut self, state: ShardState) -> Result<()> {
        let ok = state.params.len() == self.layout.groups.len()
            && state.moments.len() == self.layout.groups.len()
            && self.layout.groups.iter().enumerate().all(|(g, grp)| {
                state.params[g].len() == grp.shard_len
                    && state.moments[g].exp_avg.len() == grp.shard_len
                    && state.moments[g].exp_avg_sq.len() == grp.shard_len
            });
        if !ok {
            return Err(Error::Training(
                "the optimizer state does not fit this model and world size".into(),
            ));
        }
        self.params = state.params;
        self.moments = state.moments;
        self.step = state.step;
        self.zero_grad();
        Ok(())
    }
}

/// Per-row cross-entropy of `logits` `(m, vocab)` against `targets` `(m, 1)` (u32): `(m,)`,
/// composed from candle's ops for the reference below (the engine uses the fused
/// `ops::cross_entropy`).
fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = shifted.gather(targets, D::Minus1)?;
    Ok((lse - picked)?.squeeze(D::Minus1)?)
}

/// The weighted mean loss of `rows` under full `weights`, built as one graph through the
/// whole network (no sharding, no checkpointing), and the gradient of every tensor by name.
/// The reference the engine is tested against.
pub fn reference_loss_and_grads(
    config: &ModelConfig,
    weights: &Weights,
    rows: &[&PackedRow],
) -> Result<(f64, std::collections::BTreeMap<String, Tensor>)> {
    let (w, vars) = weights.to_vars()?;
    let net = Llama::without_weights(config, Mode::Train)?;
    let layers = (0..config.num_layers)
        .map(|i| net.layer(&w, i))
        .collect::<Result<Vec<_>, _>>()?;
    let get = |name: &str| -> Result<Tensor> {
        Ok(vars
            .get(name)
            .ok_or_else(|| Error::Training(format!("no tensor {name}")))?
            .as_tensor()
            .clone())
    };
    let embed = get(EMBED)?;
    let norm = get(NORM)?;
    let lm = if config.tie_word_embeddings {
        embed.clone()
    } else {
        get(LM_HEAD)?
    };
    let total: f64 = rows.iter().map(|r| trained_weight(r)).sum();
    let mut sum: Option<Tensor> = None;
    for row in rows {
        let n = row.tokens.len();
        let ids = Tensor::from_slice(&row.tokens, n, &Device::Cpu)?;
        let docs = documents(row);
        let mut x = embed.index_select(&ids, 0)?;
        for layer in &layers {
            x = net.layer_forward(layer, &x, &docs)?;
        }
        let targets = loss_targets(row);
        if targets.is_empty() {
            continue;
        }
        let m = targets.len();
        let pos = Tensor::from_vec(targets.iter().map(|t| t.0).collect(), m, &Device::Cpu)?;
        let tgt = Tensor::from_vec(targets.iter().map(|t| t.1).collect(), (m, 1), &Device::Cpu)?;
        let wts = Tensor::from_vec(targets.iter().map(|t| t.2).collect(), m, &Device::Cpu)?;
        let logits = net
            .norm_with(&x, &norm)?
            .index_select(&pos, 0)?
            .matmul(&lm.t()?)?;
        let l = (cross_entropy(&logits, &tgt)? * wts)?.sum_all()?;
        sum = Some(match sum {
            Some(s) => (s + l)?,
            None => l,
        });
    }
    let loss = sum
        .ok_or_else(|| Error::Training("no trained tokens".into()))?
        .affine(1.0 / total, 0.0)?;
    let grads = loss.backward()?;
    let mut out = std::collections::BTreeMap::new();
    for (name, var) in &vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            out.insert(name.clone(), g.clone());
        }
    }
    Ok((f64::from(loss.to_scalar::<f32>()?), out))
}
