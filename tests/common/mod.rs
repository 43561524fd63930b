//! Helpers shared by the end-to-end CLI tests: run the real `xtask` binary, check it
//! succeeded, and read its JSONL outputs.

#![allow(dead_code)] // Each test file uses a subset.
#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `xtask` with `args`.
pub fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

/// Asserts that the command succeeded (printing both streams when not); returns its stderr,
/// where the commands report what they did.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// As [`ok`], returning stdout.
pub fn ok_stdout(out: &Output) -> String {
    ok(out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts that the command failed (printing stdout when not); returns its stderr.
pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "succeeded unexpectedly:\nstdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every line of a JSONL file, parsed.
pub fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A fixture file of the data crate.
pub fn data_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/data/tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A fixture file of the top-level tests.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A running `xtask serve`, killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `xtask serve` with `args` on a free port and waits for its "serving on" line.
pub fn serve(args: &[&str]) -> Server {
    spawn_listening("serve", args, &[])
}

/// Starts `xtask SUBCOMMAND ARGS --port 0` (with the variables `env_remove` unset) and waits
/// for the line that gives its `http://` address.
pub fn spawn_listening(subcommand: &str, args: &[&str], env_remove: &[&str]) -> Server {
    use std::io::BufRead;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg(subcommand)
        .args(args)
        .args(["--port", "0"])
        .env("AGENTUNE_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    for v in env_remove {
        cmd.env_remove(v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("xtask {subcommand} ended before listening"))
            .unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// A byte-level tokenizer of 258 tokens (the 256 bytes, `<|im_start|>`, `<|im_end|>`).
pub fn tiny_tokenizer() -> agentune_model::ModelTokenizer {
    use candle_core::quantized::gguf_file::Value as G;
    // GPT-2's byte-to-character map: the 256 characters byte-level BPE writes bytes as.
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
    let mut chars: Vec<char> = chars.into_iter().filter_map(char::from_u32).collect();
    chars.sort();
    let mut tokens: Vec<String> = chars.iter().map(|c| c.to_string()).collect();
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let n = tokens.len();
    let mut types = vec![G::I32(1); n];
    types[n - 2] = G::I32(3);
    types[n - 1] = G::I32(3);
    let md: std::collections::HashMap<String, G> = [
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
    agentune_model::ModelTokenizer::from_gguf(&md).unwrap()
}

/// A checkpoint folder: a tiny random Llama (seeded; 8192 positions, room for agent prompts
/// at one token per byte) as HF files plus the ReAct agent template it was "tuned" with.
pub fn tiny_checkpoint(dir: &Path, seed: u64) {
    tiny_checkpoint_with(dir, seed, 0.2);
}

/// [`tiny_checkpoint`] with random weights of standard deviation `std` (larger: sharper, more
/// confidently wrong predictions).
pub fn tiny_checkpoint_with(dir: &Path, seed: u64, std: f32) {
    use agentune_model::{Architecture, ModelConfig, Weights, save_hf};
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
        max_position_embeddings: 8192,
        tie_word_embeddings: true,
        qkv_bias: false,
        o_bias: false,
        bos_token_id: Some(256),
        eos_token_ids: vec![257],
    };
    let weights = Weights::random(&config, std, seed).unwrap();
    save_hf(dir, &config, &weights, &tiny_tokenizer(), None, None).unwrap();
    let react = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/templates/react.toml");
    std::fs::copy(react, dir.join("agent_template.toml")).unwrap();
}
