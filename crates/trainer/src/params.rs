//! The parameters as ZeRO-3 sees them: grouped (one group per decoder layer, one for the
//! embedding, final norm and output projection), each group flattened into one f32 vector
//! padded to a multiple of the world size and split into equal contiguous shards, one per rank.
//! A rank holds only its shards; [`Layout::materialize`] turns a gathered group back into
//! named trainable tensors.

use std::ops::Range;

use agentune_model::{ModelConfig, Weight, Weights, expected_tensors};
use candle_core::{Device, Tensor, Var};

use crate::error::{Error, Result};

/// Index of the group holding the embedding, final norm and (untied) output projection.
pub const HEAD_GROUP: usize = 0;

/// One tensor's place in its group's flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// HF tensor name.
    pub name: String,
    /// Its dimensions.
    pub dims: Vec<usize>,
    /// Offset in the group's flat vector.
    pub offset: usize,
    /// Number of values.
    pub len: usize,
    /// Whether weight decay applies (not to norm weights and biases).
    pub decay: bool,
}

/// One group of parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `head` or `layers.{i}`.
    pub name: String,
    /// Its tensors in order.
    pub slots: Vec<Slot>,
    /// Values without padding.
    pub len: usize,
    /// Values per rank's shard (`len` rounded up to the world size, divided by it).
    pub shard_len: usize,
}

impl Group {
    /// The padded flat length (`shard_len * world`).
    pub fn padded_len(&self, world: usize) -> usize {
        self.shard_len * world
    }

    /// The range of the flat vector that `rank` owns.
    pub fn shard_range(&self, rank: usize) -> Range<usize> {
        rank * self.shard_len..(rank + 1) * self.shard_len
    }
}

/// Whether weight decay applies to the tensor `name`: everything but norm weights and biases.
pub fn decays(name: &str) -> bool {
    !(name.ends_with("norm.weight") || name.ends_with(".bias"))
}

/// How the network's parameters are grouped, flattened and sharded over `world` ranks.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Group [`HEAD_GROUP`] then one per decoder layer, in order.
    pub groups: Vec<Group>,
    /// Number of ranks.
    pub world: usize,
}

impl Layout {
    /// The layout of a network with `config` over `world` ranks.
    pub fn new(config: &ModelConfig, world: usize) -> Result<Self> {
        if world == 0 {
            return Err(Error::config(None, "world_size must be at least 1"));
        }
        let mut groups: Vec<Group> = Vec::with_capacity(config.num_layers + 1);
        groups.push(Group {
            name: "head".into(),
            slots: Vec::new(),
            len: 0,
            shard_len: 0,
        });
        for i in 0..config.num_layers {
            groups.push(Group {
                name: format!("layers.{i}"),
                slots: Vec::new(),
                len: 0,
                shard_len: 0,
            });
        }
        for (name, dims) in expected_tensors(config) {
            let g = match name.strip_prefix("model.layers.") {
                Some(rest) => {
                    let i: usize = rest
                        .split('.')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| Error::Training(format!("unexpected tensor {name}")))?;
                    i + 1
                }
                None => HEAD_GROUP,
            };
            let group = &mut groups[g];
            let len = dims.iter().product();
            group.slots.push(Slot {
                decay: decays(&name),
                name,
                dims,
                offset: group.len,
                len,
            });
            group.len += len;
        }
        for g in &mut groups {
            g.shard_len = g.len.div_ceil(world);
        }
        Ok(Self { groups, world })
    }

    /// The group of decoder layer `i`.
    pub fn layer_group(i: usize) -> usize {
        i + 1
    }

    /// Parameters in all groups (without padding).
    pub fn num_parameters(&self) -> usize {
        self.groups.iter().map(|g| g.len).sum()
    }

    /// The flat, padded vector of group `g` from full weights.
    pub fn flatten(&self, g: usize, weights: &Weights) -> Result<Vec<f32>> {
        let group = &self.groups[g];
        let mut flat = vec![0f32; group.padded_len(self.world)];
        for s in &group.slots {
            let w = weights
                .get(&s.name)
                .ok_or_else(|| Error::Training(format!("weights lack {}", s.name)))?;
            let t = match w {
                Weight::Dense(t) => t.to_dtype(candle_core::DType::F32)?,
                Weight::Quantized(_) => w.to_f32()?,
            };
            let v = t.flatten_all()?.to_vec1::<f32>()?;
            if v.len() != s.len {
                return Err(Error::Training(format!(
                    "{} has {} values, the layout expects {}",
                    s.name,
                    v.len(),
                    s.len
                )));
            }
            flat[s.offset..s.offset + s.len].copy_from_slice(&v);
        }
        Ok(flat)
    }

    /// Named trainable tensors (one [`Var`] per tensor, in slot order) from a gathered flat
    /// vector of group `g`.
    pub fn materialize(&self, g: usize, flat: &[f32]) -> Result<(Weights, Vec<Var>)> {
        let group = &self.groups[g];
        let mut weights = Weights::new(format!("parameter group {}", group.name));
        let mut vars = Vec::with_capacity(group.slots.len());
        for s in &group.slots {
            let var = Var::from_slice(
                &flat[s.offset..s.offset + s.len],
                s.dims.as_slice(),
                &Device::Cpu,
            )?;
            weights.insert(s.name.clone(), Weight::Dense(var.as_tensor().clone()));
            vars.push(var);
        }
        Ok((weights, vars))
    }

    /// Full weights from every group's flat vector.
    pub fn unflatten(&self, flats: &[Vec<f32>], source: &str) -> Result<Weights> {
        let mut weights = Weights::new(source);
        for (group, flat) in self.groups.iter().zip(flats) {
            for s in &group.slots {
                let t = Tensor::from_slice(
                    &flat[s.offset..s.offset + s.len],
                    s.dims.as_slice(),
                    &Device::Cpu,
                )?;
                weights.insert(s.name.clone(), Weight::Dense(t));
            }
        }
        Ok(weights)
    }

    /// For each element of `rank`'s shard of group `g`: whether decay applies, as runs of
    /// `(range within the shard, decays)`. Padding counts as decaying (it stays 0).
    pub fn decay_runs(&self, g: usize, rank: usize) -> Vec<(Range<usize>, bool)> {
        let group = &self.groups[g];
        let shard = group.shard_range(rank);
        let mut runs = Vec::new();
        let mut covered = shard.start;
        for s in &group.slots {
            let lo = s.offset.max(shard.start);
            let hi = (s.offset + s.len).min(shard.end);
            if lo < hi {
                runs.push((lo - shard.start..hi - shard.start, s.decay));
                covered = hi;
            }
        }
        if covered < shard.end {
            runs.push((covered.max(shard.start) - shard.start..shard.len(), true));
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::tiny::tiny_config;

    #[test]
    fn groups_cover_every_tensor_once_and_shards_tile_them() {
        let cfg = tiny_config(50);
        for world in [1, 2, 3, 4] {
            let layout = Layout::new(&cfg, world).unwrap();
            assert_eq!(layout.groups.len(), cfg.num_layers + 1);
            let names: usize = layout.groups.iter().map(|g| g.slots.len()).sum();
            assert_eq!(names, expected_tensors(&cfg).len());
            let weights = Weights::random(&cfg, 0.1, 3).unwrap();
            assert_eq!(layout.num_parameters(), weights.num_parameters());
            for g in 0..layout.groups.len() {
                let flat = layout.flatten(g, &weights).unwrap();
                assert_eq!(flat.len() % world, 0);
                let (w, vars) = layout.materialize(g, &flat).unwrap();
                assert_eq!(vars.len(), layout.groups[g].slots.len());
                for s in &layout.groups[g].slots {
                    let a = w.get(&s.name).unwrap().to_f32().unwrap();
                    let b = weights.get(&s.name).unwrap().to_f32().unwrap();
                    let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
                    assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
                }
                let mut total = 0;
                for r in 0..world {
                    let runs = layout.decay_runs(g, r);
                    let n: usize = runs.iter().map(|(r, _)| r.len()).sum();
                    assert_eq!(n, layout.groups[g].shard_len);
                    total += n;
                }
                assert_eq!(total, layout.groups[g].padded_len(world));
            }
        }
        assert!(!decays("model.norm.weight"));
        assert!(!decays("model.layers.0.self_attn.q_proj.bias"));
        assert!(decays("model.embed_tokens.weight"));
    }
}
