//! `cargo xtask agent tools` and `cargo xtask agent call`, run for real.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn xtask(args: &[&str], notes: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("AGENTUNE_NOTES_DIR", notes)
        .output()
        .expect("the xtask binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn tools_lists_every_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&["agent", "tools"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for name in [
        "calculator",
        "get_weather",
        "search_places",
        "write_note",
        "currency_convert",
    ] {
        assert!(text.lines().any(|l| l == name), "{name} missing:\n{text}");
    }
    assert!(
        text.contains("  - unit (celsius|fahrenheit, optional)"),
        "{text}"
    );

    let out = xtask(&["agent", "tools", "--json"], dir.path());
    assert!(out.status.success());
    let tools: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tools = tools.as_array().unwrap();
    assert_eq!(tools.len(), 15);
    assert!(tools.iter().all(|t| t["type"] == "function"));
    let weather = tools
        .iter()
        .find(|t| t["function"]["name"] == "get_weather")
        .unwrap();
    assert_eq!(
        weather["function"]["parameters"]["required"],
        json!(["city"])
    );
    assert!(
        weather["function"]["description"]
            .as_str()
            .unwrap()
            .contains("SIMULATED")
    );
}

#[test]
fn call_prints_the_observation() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "agent",
            "call",
            "calculator",
            r#"{"expression": "sqrt(144) + 2^3"}"#,
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obs: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(obs["name"], "calculator");
    assert!(obs.get("is_error").is_none());
    let content: Value = serde_json::from_str(obs["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["result"], 20);

    let out = xtask(
        &[
            "agent",
            "call",
            "get_forecast",
            r#"{"city": "杭州", "days": 2}"#,
            "--now",
            "2026-03-14T09:30:00Z",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let obs: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let content: Value = serde_json::from_str(obs["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["days"][0]["date"], "2026-03-14");
    assert_eq!(content["city"], "Hangzhou");
    let again = xtask(
        &[
            "agent",
            "call",
            "get_forecast",
            r#"{"city": "Hangzhou", "days": 2}"#,
            "--now",
            "2026-03-14T09:30:00Z",
        ],
        dir.path(),
    );
    assert_eq!(
        stdout(&out),
        stdout(&again),
        "a fixed clock gives the same forecast"
    );
}

#[test]
fn notes_persist_in_the_given_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "agent",
            "call",
            "write_note",
            r#"{"name": "list.md", "content": "milk"}"#,
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("list.md")).unwrap(),
        "milk"
    );
    let out = xtask(&["agent", "call", "list_notes"], dir.path());
    assert!(out.status.success());
    assert!(stdout(&out).contains("list.md"));
}

#[test]
fn failing_calls_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(
        &[
            "agent",
            "call",
            "get_weather",
            r#"{"city": "Paris", "unit": "kelvinn"}"#,
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    let obs: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(obs["is_error"], true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("arguments.unit: expected one of"), "{err}");

    let out = xtask(&["agent", "call", "calculator", "{not json"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));

    let out = xtask(&["agent", "call", "calculator", "[1, 2]"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be a JSON object"));

    for bad in ["0", "-1", "1e300", "NaN"] {
        let out = xtask(
            &[
                "agent",
                "call",
                "calculator",
                r#"{"expression": "1"}"#,
                &format!("--timeout-secs={bad}"),
            ],
            dir.path(),
        );
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--timeout-secs"),
            "{bad}"
        );
    }

    let out = xtask(&["agent", "call", "teleport", "{}"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tool `teleport`"));

    let out = xtask(
        &[
            "agent",
            "call",
            "weekday",
            r#"{"date": "2026-01-01"}"#,
            "--now",
            "soon",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}
