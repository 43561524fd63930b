//! Shared helpers of the server's integration tests: a tiny random model (byte-level
//! tokenizer, ChatML template), starting a server on a free loopback port, and a small raw
//! HTTP/1.1 client that can send malformed bodies, read server-sent events and hang up.

#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use agentune_model::{Architecture, ModelConfig, ModelTokenizer, Pretrained, Weights};
use agentune_runtime::template::Template;
use agentune_serve::{RunningServer, ServeSettings};
use candle_core::quantized::gguf_file::Value as G;
use serde_json::Value;

pub const MODEL: &str = "tiny";

/// A byte-level BPE tokenizer: the 256 byte symbols, two merges, two control tokens.
pub fn tiny_tokenizer() -> ModelTokenizer {
    let mut alphabet: Vec<char> = tokenizers_alphabet();
    alphabet.sort();
    let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    tokens.push("he".into());
    tokens.push("ll".into());
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
        (
            "tokenizer.ggml.merges",
            G::Array(vec![G::String("h e".into()), G::String("l l".into())]),
        ),
        ("tokenizer.ggml.bos_token_id", G::U32(n as u32 - 2)),
        ("tokenizer.ggml.eos_token_id", G::U32(n as u32 - 1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    ModelTokenizer::from_gguf(&md).unwrap()
}

/// GPT-2's byte-to-character map: the 256 characters byte-level BPE writes bytes as.
fn tokenizers_alphabet() -> Vec<char> {
    let mut bytes: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = bytes.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bytes.contains(&b) {
            bytes.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    chars.into_iter().filter_map(char::from_u32).collect()
}

/// A random Llama with a 260-token vocabulary and a ChatML template.
pub fn tiny_model(hidden: usize, layers: usize, context: usize) -> Pretrained {
    let config = ModelConfig {
        architecture: Architecture::Llama,
        vocab_size: 260,
        hidden_size: hidden,
        intermediate_size: hidden * 3 / 2,
        num_layers: layers,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: hidden / 4,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: None,
        max_position_embeddings: context,
        tie_word_embeddings: true,
        qkv_bias: false,
        o_bias: false,
        bos_token_id: Some(258),
        eos_token_ids: vec![259],
    };
    Pretrained {
        weights: Weights::random(&config, 0.2, 42).unwrap(),
        config,
        tokenizer: tiny_tokenizer(),
        chat_template: None,
        generation_config: None,
        source: "tiny".into(),
    }
}

pub fn settings() -> ServeSettings {
    ServeSettings {
        served_model_name: MODEL.into(),
        port: 0,
        max_body_bytes: 64 * 1024,
        ..ServeSettings::default()
    }
}

pub fn start(settings: ServeSettings) -> RunningServer {
    start_model(tiny_model(64, 2, 1024), settings)
}

pub fn start_model(model: Pretrained, settings: ServeSettings) -> RunningServer {
    RunningServer::start(model, Template::builtin("hermes").unwrap(), settings).unwrap()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `data:` payloads of a server-sent-event body.
    pub fn events(&self) -> Vec<String> {
        self.body
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s
}

fn head(method: &str, path: &str, extra: &[(&str, &str)], len: usize) -> String {
    let mut h = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n"
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Sends a request with a raw body and reads the whole response.
pub fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &[(&str, &str)],
) -> Resp {
    let mut s = connect(addr);
    s.write_all(head(method, path, extra, body.len()).as_bytes())
        .unwrap();
    // A server may answer (413) before the whole body is sent and close: ignore write errors.
    let _ = s.write_all(body);
    let mut r = BufReader::new(s);
    read_response(&mut r)
}

pub fn post(addr: SocketAddr, path: &str, body: &Value) -> Resp {
    raw(addr, "POST", path, body.to_string().as_bytes(), &[])
}

pub fn get(addr: SocketAddr, path: &str) -> Resp {
    raw(addr, "GET", path, b"", &[])
}

fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad status line {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    (status, headers)
}

fn read_response(r: &mut impl BufRead) -> Resp {
    let (status, headers) = read_head(r);
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        while let Some(c) = read_chunk(r) {
            body.extend(c);
        }
    } else {
        r.read_to_end(&mut body).unwrap();
    }
    Resp {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// One chunk of a chunked body (None at the end).
fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim(), 16).ok()?;
    if size == 0 {
        return None;
    }
    let mut buf = vec![0; size + 2];
    r.read_exact(&mut buf).ok()?;
    buf.truncate(size);
    Some(buf)
}

/// An open streaming response read event by event.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    pending: String,
    pub status: u16,
}

impl EventStream {
    pub fn open(addr: SocketAddr, body: &Value) -> Self {
        let mut s = connect(addr);
        let b = body.to_string();
        s.write_all(head("POST", "/v1/chat/completions", &[], b.len()).as_bytes())
            .unwrap();
        s.write_all(b.as_bytes()).unwrap();
        let mut reader = BufReader::new(s);
        let (status, _) = read_head(&mut reader);
        Self {
            reader,
            pending: String::new(),
            status,
        }
    }

    /// The next `data:` payload.
    pub fn next_event(&mut self) -> Option<String> {
        loop {
            if let Some(k) = self.pending.find("\n\n") {
                let ev: String = self.pending.drain(..k + 2).collect();
                if let Some(d) = ev.trim_end().strip_prefix("data: ") {
                    return Some(d.to_owned());
                }
                continue;
            }
            let c = read_chunk(&mut self.reader)?;
            self.pending.push_str(&String::from_utf8(c).unwrap());
        }
    }
}

/// Reads `/metrics` and returns the value of a sample line.
pub fn metric(addr: SocketAddr, line_start: &str) -> f64 {
    let m = get(addr, "/metrics");
    m.body
        .lines()
        .find_map(|l| {
            l.strip_prefix(line_start)
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0.0)
}

/// A chat body for the tiny model.
pub fn chat_body(content: &str, max_tokens: usize) -> Value {
    serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_tokens": max_tokens,
    })
}
