//! `cargo xtask plan` end to end: the reference runs of the product brief (7B, 14B and 72B
//! on A100-80G) reproduce their published costs from flags and from the shipped configs, a
//! Hugging Face config.json is accepted as the model, and bad inputs are named.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn brief_reference_runs_cost_what_the_brief_says() {
    let text = stdout_ok(&xtask(&[
        "plan",
        "--model",
        "7b",
        "--gpu",
        "A100-80G",
        "--gpus",
        "4",
        "--tokens",
        "470M",
        "--epochs",
        "5",
        "--hours-per-epoch",
        "25",
        "--price",
        "34.742",
    ]));
    assert!(text.contains("cost: 17,371.0"), "{text}");
    assert!(text.contains("500.0 GPU-hours"), "{text}");
    assert!(text.contains("implied MFU: "), "{text}");
    for stage in ["ZeRO-0", "ZeRO-1", "ZeRO-2", "ZeRO-3"] {
        assert!(text.contains(stage), "{text}");
    }
    for (config, cost) in [
        ("7b-a100.toml", "17,371.0"),
        ("14b-a100.toml", "26,681.9"),
        ("72b-a100.toml", "88,939.5"),
    ] {
        let path = root().join("configs/plan").join(config);
        let text = stdout_ok(&xtask(&["plan", "--config", path.to_str().unwrap()]));
        assert!(text.contains(&format!("cost: {cost}")), "{config}: {text}");
    }
}

#[test]
fn flags_override_the_config_and_json_is_machine_readable() {
    let path = root().join("configs/plan/7b-a100.toml");
    let out = xtask(&[
        "plan",
        "--config",
        path.to_str().unwrap(),
        "--mfu",
        "40%",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).unwrap();
    let mfu = v["mfu"].as_f64().unwrap();
    assert!((mfu - 0.4).abs() < 1e-9, "{mfu}");
    assert_eq!(v["zero"].as_array().unwrap().len(), 4);
    assert_eq!(v["input"]["gpus"], 4);
}

#[test]
fn a_hugging_face_config_is_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": 49152,
        "hidden_size": 576,
        "intermediate_size": 1536,
        "num_hidden_layers": 30,
        "num_attention_heads": 9,
        "num_key_value_heads": 3,
        "rms_norm_eps": 1e-5,
        "rope_theta": 100000.0,
        "max_position_embeddings": 8192,
        "tie_word_embeddings": true
    });
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let text = stdout_ok(&xtask(&[
        "plan",
        "--model",
        dir.path().to_str().unwrap(),
        "--gpu",
        "rtx4090-24g",
        "--tokens",
        "10M",
        "--tokens-per-sec",
        "5000",
        "--price",
        "1",
    ]));
    assert!(text.contains("(0.13B parameters)"), "{text}");
    // 10M tokens at 5000 tokens/s on one GPU: 2000 s.
    assert!(text.contains("0.6 h per epoch"), "{text}");
}

#[test]
fn bad_inputs_are_named() {
    let out = xtask(&["plan", "--model", "7b", "--tokens", "lots"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokens"));
    let out = xtask(&["plan", "--model", "7b", "--tokens", "1M", "--gpu", "v100"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("v100"));
    let out = xtask(&[
        "plan",
        "--model",
        "7b",
        "--tokens",
        "1M",
        "--mfu",
        "0.3",
        "--hours-per-epoch",
        "2",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only one"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("plan.toml");
    std::fs::write(&bad, "model = \"7b\"\ntokens = \"1M\"\ngpus_count = 3\n").unwrap();
    let out = xtask(&["plan", "--config", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("plan.toml") && err.contains("gpus_count"),
        "{err}"
    );
}
