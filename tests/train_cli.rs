//! `cargo xtask train` end to end with the real binary: shards built by `cargo xtask data
//! build` with the SmolLM2 tokenizer, the tiny config trained a few steps, stopped, resumed,
//! and the outputs (metrics, loss chart, checkpoint loadable as a model) checked. Skips the
//! training part (with the reason printed) when the model is not cached.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{ok, ok_stdout, s};

/// Runs `xtask` with `args`, from the repository root so the shipped configs resolve.
fn xtask(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn bad_config_is_an_error_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/train/tiny.toml"),
    )
    .unwrap()
    .replace("rows_per_step = 2", "rows_per_step = 2\nrow_per_step = 3");
    std::fs::write(&cfg, text).unwrap();
    let out = xtask(&["train", "--config", s(&cfg)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("row_per_step"),
        "{err}"
    );
    let out = xtask(&[
        "train",
        "--config",
        "configs/train/tiny.toml",
        "--world-size",
        "3",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rows_per_step"), "{err}");
}

#[test]
fn tiny_model_trains_stops_and_resumes_from_built_shards() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        println!("skipped: smollm2 is not cached (run `cargo xtask fetch-model`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("traj.jsonl");
    let samples = dir.path().join("samples.jsonl");
    let shards = dir.path().join("shards");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "12",
        "--seed",
        "3",
        "--out",
        s(&traj),
    ]));
    ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&samples),
    ]));
    ok(&xtask(&[
        "data",
        "build",
        "--in",
        s(&samples),
        "--model",
        "smollm2",
        "--out",
        s(&shards),
        // Samples carry their tool lists (about 1000 tokens for the median one).
        "--max-len",
        "1024",
    ]));
    let run = dir.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--config",
            "configs/train/tiny.toml",
            "--shards",
            s(&shards),
            "--out",
            s(&run),
            "--steps",
            "4",
            "--checkpoint-every",
            "2",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        ok_stdout(&xtask(&args))
    };
    let first = train(&["--stop-after", "3", "--world-size", "2"]);
    assert!(first.contains("trained steps 1..3 of 4"), "{first}");
    let second = train(&["--resume"]);
    assert!(second.contains("trained steps 4..4 of 4"), "{second}");
    assert!(second.contains("loss chart"), "{second}");

    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for (i, m) in lines.iter().enumerate() {
        assert_eq!(m["step"], i + 1);
        for key in ["loss", "lr", "grad_norm", "tokens_per_s"] {
            assert!(m[key].as_f64().unwrap().is_finite(), "{key} in {m}");
        }
    }
    assert!(run.join("loss.png").is_file());
    // The final checkpoint is a complete HF folder with the tokenizer, loadable as a model.
    let model = run.join("checkpoints/step-00000004/model");
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(model.join(f).is_file(), "{f} missing");
    }
    let loaded =
        agentune_model::Pretrained::load(s(&model), agentune_model::WeightFormat::F32).unwrap();
    assert_eq!(loaded.config.num_layers, 2);
    assert_eq!(loaded.config.hidden_size, 32);
    // One template everywhere: the shards record the agent templates their samples were
    // rendered with, and the checkpoint carries the main one for serve, eval and the runtime.
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shards.join("index.json")).unwrap()).unwrap();
    let counts = index["agent_templates"].as_object().unwrap();
    assert!(!counts.is_empty(), "{index}");
    let best = counts
        .iter()
        .max_by(|a, b| a.1.as_u64().cmp(&b.1.as_u64()).then(b.0.cmp(a.0)))
        .unwrap()
        .0;
    for id in counts.keys() {
        assert!(
            shards.join(format!("agent_templates/{id}.toml")).is_file(),
            "{id}"
        );
    }
    let saved = agentune_runtime::Template::load(&model.join("agent_template.toml")).unwrap();
    assert_eq!(saved.id(), best);
}
