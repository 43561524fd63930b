//! Whole runs of the tiny model on shards written to a temporary folder: a run stopped
//! mid-way and resumed equals the uninterrupted run bit for bit; checkpoints are complete,
//! pruned to the number kept, and load as a model; resuming with another world size continues
//! the same curve.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::path::Path;

use agentune_data::shards::{PackReport, PackedRow, ShardMeta, write_shards};
use agentune_trainer::checkpoint::list_checkpoints;
use agentune_trainer::metrics::read_metrics;
use agentune_trainer::{TrainConfig, TrainSettings, train};

const VOCAB: usize = 64;

fn write_data(dir: &Path) {
    write_data_with(dir, &[]);
}

fn write_data_with(dir: &Path, templates: &[(&str, usize)]) {
    let mut seed = 5u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    // A learnable pattern: each document counts up from a random start.
    let rows: Vec<PackedRow> = (0..10)
        .map(|_| {
            let mut row = PackedRow::default();
            for _ in 0..2 {
                let start = next() % VOCAB as u64;
                let len = 8 + (next() % 6) as usize;
                row.starts.push(row.tokens.len() as u32);
                for j in 0..len {
                    row.tokens.push(((start + j as u64) % VOCAB as u64) as u32);
                    row.weights.push(if j < 3 { 0.0 } else { 1.0 });
                }
            }
            row
        })
        .collect();
    let meta = ShardMeta {
        model: "test".into(),
        vocab_size: VOCAB,
        chat_template: "chatml".into(),
        max_len: 32,
        seed: 1,
        rows_per_shard: 4,
        agent_templates: templates
            .iter()
            .map(|(id, n)| (id.to_string(), *n))
            .collect(),
    };
    write_shards(dir, &rows, &PackReport::default(), &meta).unwrap();
}

fn settings(shards: &Path, out: &Path, world: usize) -> TrainSettings {
    let text = format!(
        r#"
[model]
init = "random"
shape = {{ hidden_size = 32, intermediate_size = 64, num_layers = 2, num_heads = 4, num_kv_heads = 2 }}
init_std = 0.1

[data]
shards = "{}"

[train]
steps = 8
rows_per_step = 4
lr = 3e-3
min_lr = 3e-4
warmup_steps = 2
weight_decay = 0.01
world_size = {world}
seed = 7

[output]
dir = "{}"
checkpoint_every = 2
keep_checkpoints = 2
"#,
        shards.display(),
        out.display()
    );
    let mut s = TrainConfig::parse(&text, None)
        .unwrap()
        .validate(None)
        .unwrap();
    s.progress = false;
    s
}

fn losses(out: &Path) -> Vec<f64> {
    read_metrics(&out.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| m.loss)
        .collect()
}

fn final_weights(out: &Path) -> Vec<u8> {
    std::fs::read(out.join("checkpoints/step-00000008/model/model.safetensors")).unwrap()
}

#[test]
fn stopped_and_resumed_run_equals_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_data(&shards);

    let full = dir.path().join("full");
    let summary = train(&settings(&shards, &full, 1)).unwrap();
    assert_eq!(summary.last_step, 8);
    let curve = losses(&full);
    assert_eq!(curve.len(), 8);
    assert!(curve[7] < curve[0] - 0.2, "loss should fall: {curve:?}");
    assert!(summary.loss_chart.unwrap().is_file());
    // Kept: the last two of the checkpoints at steps 2, 4, 6, 8; each complete.
    let kept: Vec<u64> = list_checkpoints(&full.join("checkpoints"))
        .unwrap()
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(kept, vec![6, 8]);
    let ckpt = full.join("checkpoints/step-00000008");
    assert!(
        ckpt.join("optimizer/rank-00000-of-00001.safetensors")
            .is_file()
    );
    // No tokenizer in this run: the folder has config.json and the weights only.
    let config =
        agentune_model::ModelConfig::from_hf_file(&ckpt.join("model/config.json")).unwrap();
    let tensors = candle_core::safetensors::load(
        ckpt.join("model/model.safetensors"),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert_eq!(
        tensors.len(),
        agentune_model::expected_tensors(&config).len()
    );

    // Stopped after step 3 (a checkpoint is written on stopping), then resumed.
    let parted = dir.path().join("parted");
    let mut s = settings(&shards, &parted, 1);
    s.stop_after = Some(3);
    let first = train(&s).unwrap();
    assert_eq!(first.last_step, 3);
    assert!(first.loss_chart.is_none());
    // A crash while writing a checkpoint leaves a temporary folder or one without its state
    // file: neither counts as a checkpoint.
    let root = parted.join("checkpoints");
    std::fs::create_dir_all(root.join(".step-00000005.tmp/optimizer")).unwrap();
    std::fs::create_dir_all(root.join("step-00000006/model")).unwrap();
    let found: Vec<u64> = list_checkpoints(&root)
        .unwrap()
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(found, vec![2, 3]);
    std::fs::remove_dir_all(root.join("step-00000006")).unwrap();
    let mut s = settings(&shards, &parted, 1);
    s.resume = true;
    let second = train(&s).unwrap();
    assert_eq!((second.start_step, second.last_step), (3, 8));
    assert_eq!(losses(&parted), curve, "loss curves differ");
    assert!(
        final_weights(&parted) == final_weights(&full),
        "final weights differ"
    );

    // Resuming on two ranks re-shards the optimizer state and continues the same curve.
    let resharded = dir.path().join("resharded");
    let mut s = settings(&shards, &resharded, 1);
    s.stop_after = Some(4);
    train(&s).unwrap();
    let mut s = settings(&shards, &resharded, 2);
    s.resume = true;
    train(&s).unwrap();
    let other = losses(&resharded);
    for (a, b) in curve.iter().zip(&other) {
        assert!((a - b).abs() < 1e-5, "{curve:?} vs {other:?}");
    }

    // Nothing to resume from is a clear error.
    let mut s = settings(&shards, &dir.path().join("empty"), 1);
    s.resume = true;
    let err = train(&s).unwrap_err().to_string();
    assert!(err.contains("no complete checkpoint"), "{err}");
}

#[test]
fn checkpoints_carry_the_agent_template_the_shards_were_rendered_with() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_data_with(&shards, &[("react_custom", 3), ("hermes", 1)]);
    // A template that is not shipped: its spec travels with the shards.
    let mut spec = agentune_runtime::Template::builtin("react")
        .unwrap()
        .spec()
        .clone();
    spec.id = "react_custom".into();
    let custom = agentune_runtime::Template::from_spec(spec).unwrap();
    agentune_data::shards::write_agent_templates(&shards, std::slice::from_ref(&custom)).unwrap();

    let out = dir.path().join("run");
    train(&settings(&shards, &out, 1)).unwrap();
    let saved = out.join("checkpoints/step-00000008/model/agent_template.toml");
    let loaded = agentune_runtime::Template::load(&saved).unwrap();
    assert_eq!(loaded.spec(), custom.spec());

    // The config overrides the shards' choice.
    let out2 = dir.path().join("run2");
    let mut s = settings(&shards, &out2, 1);
    s.config.model.agent_template = Some("hermes".into());
    train(&s).unwrap();
    let saved = out2.join("checkpoints/step-00000008/model/agent_template.toml");
    assert_eq!(
        agentune_runtime::Template::load(&saved).unwrap().id(),
        "hermes"
    );

    // A template the trainer cannot find is an error that says what to set.
    let lost = dir.path().join("lost");
    write_data_with(&lost, &[("nowhere", 2)]);
    let err = train(&settings(&lost, &dir.path().join("run3"), 1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nowhere") && err.contains("model.agent_template"),
        "{err}"
    );
}
