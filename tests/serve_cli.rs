//! `cargo xtask serve` runs for real: a trainer-style checkpoint folder (a tiny random model
//! saved as an HF folder next to its agent template) is served with that template, bearer
//! auth guards /v1, a chat request is answered; a missing model is a clear error.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agentune_model::{Architecture, ModelConfig, ModelTokenizer, Weights, save_hf};
use candle_core::quantized::gguf_file::Value as G;
use serde_json::{Value, json};

/// GPT-2's byte-to-character map: the 256 characters byte-level BPE writes bytes as.
fn byte_chars() -> Vec<char> {
    let mut bytes: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars = bytes.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bytes.contains(&b) {
            bytes.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    let mut c: Vec<char> = chars.into_iter().filter_map(char::from_u32).collect();
    c.sort();
    c
}

fn tiny_tokenizer() -> ModelTokenizer {
    let mut tokens: Vec<String> = byte_chars().iter().map(|c| c.to_string()).collect();
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let n = tokens.len();
    let mut types = vec![G::I32(1); n];
    types[n - 2] = G::I32(3);
    types[n - 1] = G::I32(3);
    let md: HashMap<String, G> = [
        ("tokenizer.ggml.model", G::String("gpt2".into())),
        ("tokenizer.ggml.pre", G::String("smollm".into())),
        (
            "tokenizer.ggml.tokens",
            G::Array(tokens.into_iter().map(G::String).collect()),
        ),
        ("tokenizer.ggml.token_type", G::Array(types)),
        ("tokenizer.ggml.merges", G::Array(Vec::new())),
        ("tokenizer.ggml.bos_token_id", G::U32(n as u32 - 2)),
        ("tokenizer.ggml.eos_token_id", G::U32(n as u32 - 1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    ModelTokenizer::from_gguf(&md).unwrap()
}

/// A checkpoint folder: a tiny random Llama as HF files plus the agent template it was
/// "tuned" with (ReAct).
fn checkpoint(dir: &std::path::Path) {
    let config = ModelConfig {
        architecture: Architecture::Llama,
        vocab_size: 258,
        hidden_size: 32,
        intermediate_size: 48,
        num_layers: 2,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: 8,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: None,
        max_position_embeddings: 512,
        tie_word_embeddings: true,
        qkv_bias: false,
        o_bias: false,
        bos_token_id: Some(256),
        eos_token_ids: vec![257],
    };
    let weights = Weights::random(&config, 0.2, 7).unwrap();
    save_hf(dir, &config, &weights, &tiny_tokenizer(), None, None).unwrap();
    let react =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/templates/react.toml");
    std::fs::copy(react, dir.join("agent_template.toml")).unwrap();
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `xtask serve` on a free port and waits for its "serving on" line.
fn serve(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
        .env("AGENTUNE_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("xtask serve ended before listening")
            .unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

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
    checkpoint(&ckpt);
    let server = serve(&[
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
