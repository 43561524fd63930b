//! The official `openai` Python SDK against the server: plain chat, streaming, completions,
//! errors, and with SmolLM2 (when it is in the model cache) a tool-call round trip. The SDK is
//! installed into a git-ignored venv (`.venv-openai/` at the workspace root) on first use.
//! Skips, saying why, only when python3 or its venv module is missing.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use agentune_serve::{RunningServer, ServeSettings};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python with `openai` installed, or None when python3/venv is unavailable.
fn sdk_python() -> Option<PathBuf> {
    let python = std::env::var("AGENTUNE_PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = workspace().join(".venv-openai");
    let py = venv.join("bin/python");
    if !py.is_file() {
        let probe = Command::new(&python)
            .args(["-m", "venv", "--help"])
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "SKIPPED: `{python} -m venv` is not available; install python3 with venv to run the openai SDK test"
            );
            return None;
        }
        let made = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .unwrap();
        if !made.success() {
            eprintln!("SKIPPED: `{python} -m venv` failed (is python3-venv installed?)");
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
        assert!(
            ok.success(),
            "pip could not install the openai SDK into {}",
            venv.display()
        );
    }
    Some(py)
}

fn run_script(py: &Path, server: &RunningServer, model: &str, tools: bool) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_sdk.py");
    let mut cmd = Command::new(py);
    cmd.arg(&script).arg(server.base_url()).arg(model);
    if tools {
        cmd.arg("--tools");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the SDK script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"));
}

#[test]
fn the_openai_python_sdk_drives_the_server() {
    let Some(py) = sdk_python() else {
        return;
    };
    let server = common::start(common::settings());
    run_script(&py, &server, common::MODEL, false);
    drop(server);
    match agentune_model::fetch::cached_model("smollm2") {
        Some(path) => {
            let (model, agent) =
                agentune_serve::load_model(path.to_str().unwrap(), false, None).unwrap();
            let server = RunningServer::start(
                model,
                agent,
                ServeSettings {
                    served_model_name: "smollm2".into(),
                    port: 0,
                    ..ServeSettings::default()
                },
            )
            .unwrap();
            run_script(&py, &server, "smollm2", false);
        }
        None => eprintln!(
            "SmolLM2 is not cached (cargo xtask fetch-model): the tool-call round trip ran only on the tiny model's checks"
        ),
    }
}
