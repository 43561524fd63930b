//! `cargo xtask agent parse | render | templates`, run for real against the built binary.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/agent")
        .join(name)
        .display()
        .to_string()
}

fn xtask(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xtask binary runs");
    // A command that fails before reading its input closes the pipe early: not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

/// Runs `agent parse` and returns the one JSON line it prints.
fn parse_ok(args: &[&str], reply: &str) -> Value {
    let mut all = vec!["agent", "parse"];
    all.extend_from_slice(args);
    let out = xtask(&all, reply);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    serde_json::from_str(&text).unwrap()
}

fn parse_err(args: &[&str], reply: &str) -> String {
    let mut all = vec!["agent", "parse"];
    all.extend_from_slice(args);
    let out = xtask(&all, reply);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail");
    assert!(out.stdout.is_empty());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn parse_prints_tool_calls_final_answers_and_give_ups() {
    let v = parse_ok(
        &["--template", "react"],
        "Thought: need weather\nAction: get_weather\nAction Input: {\"city\": \"Paris\"}\n",
    );
    assert_eq!(
        v,
        json!({"type": "tool_calls", "thought": "need weather", "calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
    );
    let v = parse_ok(
        &["--template", "react_zh", "--strict"],
        "思考：知道了\n最终答案：明天有雨。",
    );
    assert_eq!(
        v,
        json!({"type": "final_answer", "thought": "知道了", "answer": "明天有雨。"})
    );
    let v = parse_ok(
        &["--template", "toolllama", "--strict"],
        "Thought: stuck\nAction: Finish\nAction Input: {\"return_type\": \"give_up_and_restart\"}",
    );
    assert_eq!(
        v,
        json!({"type": "give_up", "restart": true, "thought": "stuck"})
    );
    let v = parse_ok(
        &["--template", "hermes"],
        "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": 1}}\n</tool_call>",
    );
    assert_eq!(v["calls"].as_array().unwrap().len(), 2);
    assert_eq!(v["thought"], Value::Null);
    // Key order of the contract: type first.
    let out = xtask(&["agent", "parse", "--template", "hermes"], "Sunny.");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("{\"type\":\"final_answer\""));
}

#[test]
fn parse_reads_a_file_and_openai_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reply.json");
    std::fs::write(
        &path,
        r#"{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]}"#,
    )
    .unwrap();
    let v = parse_ok(
        &[
            "--template",
            "openai",
            "--strict",
            "--file",
            path.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(
        v,
        json!({"type": "tool_calls", "thought": null, "calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]})
    );
}

#[test]
fn strict_and_lenient_differ_on_slightly_malformed_replies() {
    let reply = "```\nthought：check\naction: get_weather\naction input: {'city': 'Rome',}\n```";
    let v = parse_ok(&["--template", "react"], reply);
    assert_eq!(v["calls"][0]["arguments"], json!({"city": "Rome"}));
    let err = parse_err(&["--template", "react", "--strict"], reply);
    assert!(err.contains("line 1, column 1"), "{err}");
    assert!(err.contains("strict") && err.contains("react"), "{err}");
}

#[test]
fn parse_failure_names_what_and_where() {
    let err = parse_err(
        &["--template", "react", "--strict"],
        "Thought: x\nAction: get_weather\nAction Input: {\"city\": }",
    );
    assert!(err.contains("line 3, column 24"), "{err}");
    let err = parse_err(&["--template", "react"], "I think it will rain.");
    assert!(err.contains("no label found"), "{err}");
    let err = parse_err(&["--template", "nosuch"], "x");
    assert!(
        err.contains("unknown template `nosuch`") && err.contains("hermes"),
        "{err}"
    );
}

#[test]
fn render_prints_the_prompt_messages() {
    let out = xtask(
        &[
            "agent",
            "render",
            "--template",
            "react",
            "--tools",
            &fixture("tools.json"),
            "--query",
            "Rain in Paris tomorrow?",
            "--date",
            "2026-12-01",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let msgs = msgs.as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["role"], "system");
    let system = msgs[0]["content"].as_str().unwrap();
    assert!(system.contains("get_weather: Weather forecast"), "{system}");
    assert!(system.contains("[get_weather, calculator]"));
    assert!(system.contains("2026-12-01"));
    assert_eq!(
        msgs[1],
        json!({"role": "user", "content": "Question: Rain in Paris tomorrow?"})
    );
}

#[test]
fn render_openai_request_carries_tools() {
    let out = xtask(
        &[
            "agent",
            "render",
            "--template",
            "openai",
            "--tools",
            &fixture("tools.json"),
            "--query",
            "q",
            "--openai",
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["tools"][1]["function"]["name"], "calculator");
    assert_eq!(body["messages"][1]["content"], "q");
    // No date given: the date line is gone.
    assert!(
        !body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("date")
    );
}

#[test]
fn template_files_work_and_bad_ones_name_the_field() {
    let custom = fixture("custom.toml");
    let v = parse_ok(
        &["--template", &custom, "--strict"],
        "Plan: look it up\nTool: search\nInput: rain in Paris",
    );
    assert_eq!(
        v["calls"][0]["arguments"],
        json!({"input": "rain in Paris"})
    );
    let out = xtask(
        &["agent", "render", "--template", &custom, "--query", "hello"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = parse_err(&["--template", &fixture("bad_field.toml")], "x");
    assert!(err.contains("bad_field.toml"), "{err}");
    assert!(err.contains("sytem") && err.contains("line 4"), "{err}");
}

#[test]
fn templates_lists_the_builtin_ids() {
    let out = xtask(&["agent", "templates"], "");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(
        ids,
        [
            "react",
            "react_zh",
            "modelscope",
            "autogpt",
            "toolllama",
            "toolllama_zh",
            "hermes",
            "openai"
        ]
    );
}

#[test]
fn render_a_trajectory_as_a_training_conversation() {
    let out = xtask(
        &[
            "agent",
            "render",
            "--template",
            "hermes",
            "--trajectory",
            &fixture("trajectory.json"),
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let roles: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "assistant"]);
    assert_eq!(
        msgs[2]["content"],
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
    );
    assert_eq!(msgs[4]["content"], "Light rain, 8 °C.");
    let out = xtask(
        &[
            "agent",
            "render",
            "--template",
            "hermes",
            "--query",
            "q",
            "--trajectory",
            &fixture("trajectory.json"),
        ],
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--query and --trajectory exclude each other"
    );
}
