//! `cargo xtask agent run` end to end: the real binary runs the agent loop against a real
//! OpenAI-compatible HTTP server on a local port (a small scripted server in this test), with
//! the real built-in tools, and prints the trajectory.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::thread;

use serde_json::{Value, json};

/// Serves one canned chat-completion per connection, in order, and sends each request body
/// back over the channel.
fn serve(replies: Vec<Value>) -> (String, mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for reply in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            tx.send(serde_json::from_slice(&body).unwrap()).unwrap();
            let payload = json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5}
            })
            .to_string();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            )
            .unwrap();
        }
    });
    (url, rx)
}

fn text(content: &str) -> Value {
    json!({"role": "assistant", "content": content})
}

#[test]
fn agent_run_executes_tools_and_prints_the_trajectory() {
    let (url, requests) = serve(vec![
        text(
            "Thought: Compute it.\nAction: calculator\nAction Input: {\"expression\": \"(3 + 4) * 6\"}",
        ),
        text("Thought: I have what I need.\nFinal Answer: The result is 42."),
    ]);
    let notes = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "agent",
            "run",
            "--template",
            "react",
            "--endpoint",
            &url,
            "--model",
            "test-model",
            "--now",
            "2026-03-14T09:30:00Z",
            "--json",
            "What is (3 + 4) * 6?",
        ])
        .env("AGENTUNE_NOTES_DIR", notes.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let t: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(t["outcome"], "answered");
    assert_eq!(t["template_id"], "react");
    assert_eq!(t["steps"][0]["observations"][0]["name"], "calculator");
    assert!(
        t["steps"][0]["observations"][0]["content"]
            .as_str()
            .unwrap()
            .contains("42")
    );
    // The record is a valid schema trajectory.
    let _: agentune_schema::Trajectory = serde_json::from_str(stdout.trim()).unwrap();

    let first = requests.recv().unwrap();
    assert_eq!(first["model"], "test-model");
    let system = first["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("calculator"), "{system}");
    assert!(system.contains("2026-03-14"), "{system}");
    let second = requests.recv().unwrap();
    let all = second["messages"].to_string();
    assert!(all.contains("Observation: "), "{all}");
}

#[test]
fn agent_run_pretty_output_and_tool_filter() {
    let (url, _requests) = serve(vec![text(
        "Thought: Nothing to look up.\nFinal Answer: Hello!",
    )]);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "agent",
            "run",
            "--endpoint",
            &url,
            "--model",
            "m",
            "--tools",
            "calculator",
            "Hi",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("answer: Hello!"), "{stdout}");
    assert!(stdout.contains("outcome: answered"), "{stdout}");

    let bad = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "agent",
            "run",
            "--endpoint",
            &url,
            "--model",
            "m",
            "--tools",
            "no_such_tool",
            "Hi",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no_such_tool"));
}

#[test]
fn agent_run_reports_an_unreachable_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["agent", "run", "--endpoint", &url, "--model", "m", "Hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&url), "{stderr}");
}
