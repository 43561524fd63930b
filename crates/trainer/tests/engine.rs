//! The training engine on the tiny configuration: every parameter gets a gradient, gradients
//! match finite differences and a one-graph reference, activation checkpointing and ZeRO-3
//! sharding over 1, 2 and 4 thread ranks change nothing, and packed documents do not see
//! each other.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use agentune_data::shards::PackedRow;
use agentune_model::{Llama, Mode, ModelConfig, Weights, expected_tensors};
use agentune_trainer::engine::reference_loss_and_grads;
use agentune_trainer::params::Layout;
use agentune_trainer::tiny::tiny_config;
use agentune_trainer::{AdamWParams, Communicator, Engine, EngineOptions, ThreadComm};
use candle_core::{Device, Tensor};

const VOCAB: usize = 48;

/// A small deterministic generator for test data.
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

/// Rows of 2-3 documents each, loss weights 0 on the first few tokens of each document.
fn rows(count: usize, seed: u64) -> Vec<PackedRow> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            let mut row = PackedRow::default();
            let docs = 2 + (lcg(&mut s) % 2) as usize;
            for _ in 0..docs {
                let len = 5 + (lcg(&mut s) % 8) as usize;
                row.starts.push(row.tokens.len() as u32);
                for j in 0..len {
                    row.tokens.push((lcg(&mut s) % VOCAB as u64) as u32);
                    row.weights.push(if j < 2 {
                        0.0
                    } else if lcg(&mut s).is_multiple_of(5) {
                        0.5
                    } else {
                        1.0
                    });
                }
            }
            row
        })
        .collect()
}

fn opts(checkpointing: bool) -> EngineOptions {
    EngineOptions {
        activation_checkpointing: checkpointing,
        adamw: AdamWParams {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        },
        grad_clip: Some(1.0),
    }
}

/// Runs `f` on each rank of a thread group with its own engine; returns rank 0's result.
fn on_ranks<T: Send>(
    world: usize,
    config: &ModelConfig,
    weights: &Weights,
    o: EngineOptions,
    f: impl Fn(&mut Engine<ThreadComm>) -> T + Sync,
) -> T {
    let comms = ThreadComm::group(world).unwrap();
    let mut out = std::thread::scope(|s| {
        let hs: Vec<_> = comms
            .into_iter()
            .map(|c| {
                let f = &f;
                s.spawn(move || {
                    let mut e = Engine::new(c, config, weights, o).unwrap();
                    f(&mut e)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    out.swap_remove(0)
}

/// The accumulated gradients after one window of `rows` (no optimizer step).
fn engine_grads(
    world: usize,
    config: &ModelConfig,
    weights: &Weights,
    rows: &[PackedRow],
    checkpointing: bool,
) -> Vec<Vec<f32>> {
    let refs: Vec<&PackedRow> = rows.iter().collect();
    let total: f64 = refs
        .iter()
        .map(|r| agentune_trainer::engine::trained_weight(r))
        .sum();
    on_ranks(world, config, weights, opts(checkpointing), |e| {
        for r in refs.iter().skip(e.comm().rank()).step_by(world) {
            e.micro_step(r, total).unwrap();
        }
        e.gathered_grads().unwrap()
    })
}

fn flat_reference(config: &ModelConfig, weights: &Weights, rows: &[PackedRow]) -> Vec<Vec<f32>> {
    let refs: Vec<&PackedRow> = rows.iter().collect();
    let (_, grads) = reference_loss_and_grads(config, weights, &refs).unwrap();
    let layout = Layout::new(config, 1).unwrap();
    layout
        .groups
        .iter()
        .map(|g| {
            let mut flat = vec![0f32; g.len];
            for s in &g.slots {
                let v = grads[&s.name]
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                flat[s.offset..s.offset + s.len].copy_from_slice(&v);
            }
            flat
        })
        .collect()
}

fn max_rel_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    let scale = a
        .iter()
        .flatten()
        .fold(0f32, |m, x| m.max(x.abs()))
        .max(1e-12);
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn every_parameter_receives_a_gradient() {
    let mut config = tiny_config(VOCAB);
    for (tie, bias) in [(true, false), (false, true)] {
        config.tie_word_embeddings = tie;
        config.qkv_bias = bias;
        config.o_bias = bias;
        let weights = Weights::random(&config, 0.2, 1).unwrap();
        let data = rows(2, 9);
        let (names, grads) = on_ranks(1, &config, &weights, opts(true), |e| {
            let total: f64 = data
                .iter()
                .map(agentune_trainer::engine::trained_weight)
                .sum();
            for r in &data {
                e.micro_step(r, total).unwrap();
            }
            (
                e.tensors_with_gradient().clone(),
                e.gathered_grads().unwrap(),
            )
        });
        let expected: Vec<String> = expected_tensors(&config)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for n in &expected {
            assert!(names.contains(n), "{n} got no gradient (tie={tie})");
        }
        let layout = Layout::new(&config, 1).unwrap();
        for (g, group) in layout.groups.iter().enumerate() {
            for s in &group.slots {
                let norm: f32 = grads[g][s.offset..s.offset + s.len]
                    .iter()
                    .map(|x| x * x)
                    .sum();
                assert!(norm > 0.0, "{} has an all-zero gradient", s.name);
            }
        }
    }
}

#[test]
fn checkpointing_and_sharding_give_the_reference_gradients() {
    let config = tiny_config(VOCAB);
    let weights = Weights::random(&config, 0.2, 2).unwrap();
    let data = rows(4, 3);
    let reference = flat_reference(&config, &weights, &data);
    let plain = engine_grads(1, &config, &weights, &data, false);
    let ckpt = engine_grads(1, &config, &weights, &data, true);
    let d = max_rel_diff(&reference, &plain);
    assert!(d < 1e-5, "layer-wise vs one graph: {d}");
    let d = max_rel_diff(&plain, &ckpt);
    assert!(d < 1e-6, "checkpointing on vs off: {d}");
    for world in [2, 4] {
        let sharded = engine_grads(world, &config, &weights, &data, true);
        let d = max_rel_diff(&plain, &sharded);
        assert!(d < 1e-5, "world {world}: {d}");
    }
}

#[test]
fn gradients_match_finite_differences() {
    let config = tiny_config(VOCAB);
    let weights = Weights::random(&config, 0.3, 4).unwrap();
    let data = rows(2, 5);
    let refs: Vec<&PackedRow> = data.iter().collect();
    let grads = engine_grads(1, &config, &weights, &data, true);
    let layout = Layout::new(&config, 1).unwrap();
    let loss_at = |w: &Weights| -> f64 {
        // The loss in f64 from the f32 network: accurate enough for differences of 1e-2.
        reference_loss_and_grads(&config, w, &refs).unwrap().0
    };
    let h = 1e-2f32;
    let mut seed = 11u64;
    let mut checked = 0;
    for (g, group) in layout.groups.iter().enumerate() {
        for s in &group.slots {
            // The largest gradient entry of each tensor, plus one at random.
            let part = &grads[g][s.offset..s.offset + s.len];
            let big = (0..s.len)
                .max_by(|&a, &b| part[a].abs().total_cmp(&part[b].abs()))
                .unwrap();
            for idx in [big, (lcg(&mut seed) as usize) % s.len] {
                let perturbed = |delta: f32| {
                    let mut w = weights.clone();
                    let t = w.get(&s.name).unwrap().to_f32().unwrap();
                    let mut v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    v[idx] += delta;
                    w.insert(
                        s.name.clone(),
                        agentune_model::Weight::Dense(
                            Tensor::from_vec(v, s.dims.as_slice(), &Device::Cpu).unwrap(),
                        ),
                    );
                    loss_at(&w)
                };
                let fd = (perturbed(h) - perturbed(-h)) / (2.0 * f64::from(h));
                let an = f64::from(part[idx]);
                let tol = 2e-3 + 2e-2 * an.abs();
                assert!(
                    (fd - an).abs() < tol,
                    "{}[{idx}]: analytic {an}, finite difference {fd}",
                    s.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * expected_tensors(&config).len());
}

#[test]
fn world_sizes_give_the_same_loss_curve_and_weights() {
    let config = tiny_config(VOCAB);
    let weights = Weights::random(&config, 0.2, 6).unwrap();
    let data = rows(16, 7);
    let curve = |world: usize| {
        on_ranks(world, &config, &weights, opts(true), |e| {
            let mut losses = Vec::new();
            for step in 0..4 {
                let window: Vec<&PackedRow> = data[step * 4..step * 4 + 4].iter().collect();
                losses.push(e.train_step(&window, 5e-3).unwrap().loss);
            }
            (losses, e.gathered_params().unwrap())
        })
    };
    let (l1, p1) = curve(1);
    assert!(l1[3] < l1[0], "loss should fall: {l1:?}");
    for world in [2, 4] {
        let (l, p) = curve(world);
        for (a, b) in l1.iter().zip(&l) {
            assert!((a - b).abs() < 1e-5, "world {world}: {l1:?} vs {l:?}");
        }
        let d = p1
            .iter()
            .flatten()
            .zip(p.iter().flatten())
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(d < 1e-5, "world {world}: weights differ by {d}");
    }
}

#[test]
fn packed_documents_do_not_attend_to_each_other() {
    let config = tiny_config(VOCAB);
    let weights = Weights::random(&config, 0.3, 8).unwrap();
    let full = Llama::new(&config, &weights, Mode::Train).unwrap();
    let net = Llama::without_weights(&config, Mode::Train).unwrap();
    let row = &rows(1, 10)[0];
    let docs = row.documents();
    let ids = Tensor::from_slice(&row.tokens, row.tokens.len(), &Device::Cpu).unwrap();
    let emb = weights
        .get("model.embed_tokens.weight")
        .unwrap()
        .to_f32()
        .unwrap();
    let mut x = emb.index_select(&ids, 0).unwrap();
    for i in 0..config.num_layers {
        let layer = net.layer(&weights, i).unwrap();
        x = net.layer_forward(&layer, &x, &docs).unwrap();
    }
    let norm = weights.get("model.norm.weight").unwrap().to_f32().unwrap();
    let packed = net.norm_with(&x, &norm).unwrap();
    for d in docs {
        let alone = Tensor::from_slice(&row.tokens[d.clone()], (1, d.len()), &Device::Cpu).unwrap();
        let alone = full.forward_hidden(&alone).unwrap().squeeze(0).unwrap();
        let part = packed.narrow(0, d.start, d.len()).unwrap();
        let diff = (alone - part)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "document {d:?} differs by {diff}");
    }
}
