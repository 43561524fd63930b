//! End to end: `cargo xtask pipeline` with the tiny config (a random two-layer network with
//! SmolLM2's tokenizer) runs every stage, writes well-formed artifacts and a report comparing
//! base and tuned, skips everything on a re-run, restarts from a named stage, and the tuned
//! checkpoint it leaves is served and answers a tool-calling request through the official
//! `openai` Python SDK. Needs the SmolLM2 files (`cargo xtask fetch-model smollm2`, which CI
//! runs first) for the tokenizer.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{lines, s};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `xtask pipeline` from the workspace root (the config's paths are relative to it).
fn pipeline(extra: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("pipeline")
        .args(extra)
        .current_dir(workspace())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "pipeline failed:\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn json(p: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// The venv's python with `openai` installed (shared with the serve tests), or None when
/// python3 or its venv module is missing.
fn sdk_python() -> Option<PathBuf> {
    let venv = workspace().join(".venv-openai");
    let py = venv.join("bin/python");
    if !py.is_file() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("SKIPPED the SDK check: `python3 -m venv` is not available");
            return None;
        }
    }
    let has = Command::new(&py)
        .args(["-c", "import openai"])
        .status()
        .unwrap();
    if !has.success() {
        let ok = Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "openai>=1.40"])
            .status()
            .unwrap();
        assert!(ok.success(), "pip could not install the openai SDK");
    }
    Some(py)
}

#[test]
fn tiny_pipeline_runs_end_to_end_resumes_and_serves_the_tuned_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("tiny");
    let cfg = workspace().join("configs/pipeline/tiny.toml");
    let base_args = ["--config", s(&cfg), "--out", s(&run)];

    // First run: every stage.
    let (stdout, stderr) = pipeline(&base_args);
    assert!(stdout.contains("report:"), "{stdout}");
    assert!(stdout.contains("cargo xtask serve --model"), "{stdout}");
    let manifest = json(&run.join("pipeline.json"));
    for stage in [
        "model",
        "general",
        "templates",
        "data",
        "eval-sets",
        "eval-base",
        "train",
        "eval-tuned",
        "report",
    ] {
        let r = &manifest["stages"][stage];
        assert!(
            r["seconds"].as_f64().is_some(),
            "stage {stage} not recorded: {manifest}"
        );
        let log = run.join(r["log"].as_str().unwrap());
        assert!(log.is_file(), "no log for {stage}");
    }
    assert!(!stderr.contains("skipped"), "{stderr}");

    // Artifacts.
    let general = lines(&run.join("general/general.jsonl"));
    assert!(!general.is_empty());
    assert_eq!(general[0]["messages"][1]["role"], "assistant");
    let split = json(&run.join("templates/split.json"));
    assert_eq!(split["held_out"].as_array().unwrap().len(), 1);
    assert!(split["train"].as_array().unwrap().len() >= 2);
    let index = json(&run.join("data/build/shards/train/index.json"));
    assert!(index["rows"].as_u64().unwrap() > 0);
    let heldout = lines(&run.join("eval/sets/heldout.jsonl"));
    assert!(!heldout.is_empty() && heldout.len() <= 6);
    let unseen = lines(&run.join("eval/sets/unseen.jsonl"));
    let held = split["held_out"][0].as_str().unwrap();
    let held_id = Path::new(held)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for u in &unseen {
        let t = u["template_id"].as_str().unwrap();
        assert!(
            held_id.contains(t) || t.contains(&held_id) || held.contains(t),
            "{t} vs {held}"
        );
    }
    // The same items for both models.
    let base_steps = lines(&run.join("eval/base/heldout/steps.jsonl"));
    let tuned_steps = lines(&run.join("eval/tuned/heldout/steps.jsonl"));
    let ids = |v: &[serde_json::Value]| {
        let mut x: Vec<String> = v
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        x.sort();
        x
    };
    assert_eq!(ids(&base_steps), ids(&tuned_steps));
    assert!(run.join("eval/forgetting/forgetting.json").is_file());

    // The report: base against tuned, loss fell, stage table.
    let report = json(&run.join("report.json"));
    let rows = report["suites"]["heldout/steps"].as_array().unwrap();
    let strict = rows.iter().find(|r| r["metric"] == "strict_valid").unwrap();
    assert!(strict["base"].as_f64().is_some() && strict["tuned"].as_f64().is_some());
    assert_eq!(
        report["training"]["loss_fell"], true,
        "{}",
        report["training"]
    );
    assert_eq!(report["training"]["steps"], 20);
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    for needle in [
        "| metric | base | tuned |",
        "## Training",
        "## Stages",
        "| train |",
        "Forgetting",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle}:\n{md}");
    }
    assert!(run.join("report/heldout/report.md").is_file());
    assert!(run.join("report/loss.png").is_file());
    let tuned = PathBuf::from(report["tuned"].as_str().unwrap());
    let saved = std::fs::read_to_string(tuned.join("agent_template.toml")).unwrap();
    assert!(saved.contains("hermes"), "{saved}");

    // A re-run skips every stage.
    let (_, stderr) = pipeline(&base_args);
    assert_eq!(stderr.matches("up to date, skipped").count(), 9, "{stderr}");

    // --from restarts from a stage: the tuned evaluation and the report run again.
    let mut from = base_args.to_vec();
    from.extend(["--from", "eval-tuned"]);
    let (_, stderr) = pipeline(&from);
    assert_eq!(stderr.matches("up to date, skipped").count(), 7, "{stderr}");

    // The tuned checkpoint, served, answers a tool-calling request through the SDK.
    let Some(py) = sdk_python() else { return };
    let server = common::serve(&["--model", s(&tuned), "--served-model-name", "tuned"]);
    let script = workspace().join("tests/pipeline_sdk.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(format!("http://{}/v1", server.addr))
        .arg("tuned")
        .output()
        .unwrap();
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && so.contains("all checks passed"),
        "SDK check failed:\n{so}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_configs_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    let tiny = std::fs::read_to_string(workspace().join("configs/pipeline/tiny.toml")).unwrap();
    // Writes the config, runs the pipeline on it, returns its error output.
    let run_with = |text: &str| {
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["pipeline", "--config", s(&cfg), "--out"])
            .arg(dir.path().join("run"))
            .current_dir(workspace())
            .output()
            .unwrap();
        common::fails(&out)
    };
    let err = run_with(&tiny.replace("held_out = 1", "held_out = 9"));
    assert!(
        err.contains("bad.toml") && err.contains("templates.held_out"),
        "{err}"
    );
    assert!(!dir.path().join("run/pipeline.json").exists());
    let err = run_with(&tiny.replace("[eval]", "[eval]\nbogus = 1"));
    assert!(err.contains("bogus"), "{err}");
}
