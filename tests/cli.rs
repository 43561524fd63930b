//! The `xtask` binary's command line, run for real.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::process::Command;

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

#[test]
fn help_lists_the_commands() {
    let out = xtask(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["agent", "ci", "schema"] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(cmd)),
            "--help lacks `{cmd}`:\n{text}"
        );
    }
}

#[test]
fn schema_prints_every_record_type() {
    let out = xtask(&["schema"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in [
        "tool_spec",
        "message",
        "trajectory",
        "sample",
        "eval_record",
    ] {
        assert_eq!(all[name]["type"], "object", "{name}");
    }
    let out = xtask(&["schema", "trajectory"]);
    let one: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["title"], "Trajectory");
    assert!(
        one["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "steps")
    );
}

#[test]
fn unknown_schema_name_is_a_clear_error() {
    let out = xtask(&["schema", "trajectories"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown record type `trajectories`") && err.contains("trajectory"),
        "{err}"
    );
}
