//! The model commands of `xtask` run for real: `fetch-model` and `generate` (the latter on
//! the cached SmolLM2, skipped with a printed reason when it has not been fetched).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::process::Command;

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn fetch_model_lists_known_models_and_rejects_unknown_ones() {
    let out = xtask(&["fetch-model", "list"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("smollm2\t"));
    let out = xtask(&["fetch-model", "no-such-model"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-model") && err.contains("smollm2"),
        "{err}"
    );
}

#[test]
fn generate_streams_a_chat_reply() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        eprintln!("SKIPPED: run `cargo xtask fetch-model smollm2` to run this test");
        return;
    }
    let out = xtask(&[
        "generate",
        "--model",
        "smollm2",
        "--f32",
        "--max-new-tokens",
        "24",
        "What is the capital of France?",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Paris"), "{text}");
    let out = xtask(&["generate", "--model", "missing-dir/model.gguf", "hi"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-dir/model.gguf"));
}
