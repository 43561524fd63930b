//! `cargo xtask serve` runs for real: a trainer-style checkpoint folder (a tiny random model
//! saved as an HF folder next to its agent template) is served with that template, bearer
//! auth guards /v1, a chat request is answered; a missing model is a clear error.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    key: Option<&str>,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let b = body.map(Value::to_string).unwrap_or_default();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn serve_uses_the_checkpoint_template_and_answers_chat() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    common::tiny_checkpoint(&ckpt, 7);
    let server = common::serve(&[
        "--model",
        ckpt.to_str().unwrap(),
        "--served-model-name",
        "agent",
        "--api-key",
        "k1",
        "--max-batch",
        "4",
    ]);
    let (status, body) = request(&server.addr, "GET", "/v1/models", None, None);
    assert_eq!(status, 401, "{body}");
    let (status, models) = request(&server.addr, "GET", "/v1/models", None, Some("k1"));
    assert_eq!(status, 200);
    assert_eq!(models["data"][0]["id"], "agent");
    assert_eq!(models["data"][0]["agent_template"], "react");
    let chat = json!({"model": "agent", "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5, "temperature": 0});
    let (status, reply) = request(
        &server.addr,
        "POST",
        "/v1/chat/completions",
        Some(&chat),
        Some("k1"),
    );
    assert_eq!(status, 200, "{reply}");
    assert!(reply["usage"]["completion_tokens"].as_u64().unwrap() <= 5);
    let (status, health) = request(&server.addr, "GET", "/health", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
}

#[test]
fn serve_reports_a_missing_model_and_a_bad_config() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--model", "no-such-dir/model.gguf"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir/model.gguf"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, "max_batch = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_batch"));
    std::fs::write(&cfg, "max_batchh = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_batchh"));
}
