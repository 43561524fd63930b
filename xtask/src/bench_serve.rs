//! `cargo xtask bench serve`: the server on SmolLM2-135M Q4_1 next to llama.cpp's server
//! (llama-cpp-python) on the same GGUF, in one run: single-stream time to first token and
//! decode tokens/s, and aggregate tokens/s with 1, 4 and 16 concurrent streams. The llama.cpp
//! server is installed from PyPI into `.venv-llamacpp/` (git-ignored) with
//! `--install-llamacpp`; without it the comparison is skipped and the table says so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentune_serve::{RunningServer, ServeSettings, load_model};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const PROMPT: &str = "Write a short poem about the sea, the wind and a small boat.\n";
const MARK_START: &str = "<!-- serve-bench -->";
const MARK_END: &str = "<!-- /serve-bench -->";
const LLAMACPP_VERSION: &str = "0.3.36";

/// Options of the serve benchmark (from `cargo xtask bench serve ...`).
#[derive(Debug, Clone)]
pub struct ServeBenchArgs {
    pub runs: usize,
    pub decode_tokens: usize,
    pub install_llamacpp: bool,
    pub write: bool,
}

/// One engine's figures.
struct Figures {
    engine: String,
    ttft_ms: f64,
    decode: f64,
    aggregate: Vec<(usize, f64)>,
}

const CONCURRENCY: [usize; 3] = [1, 4, 16];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let s = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    Ok(s)
}

fn send(addr: SocketAddr, path: &str, body: &Value) -> Result<BufReader<TcpStream>> {
    let mut s = connect(addr)?;
    let b = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )?;
    Ok(BufReader::new(s))
}

/// Reads the status line and headers; returns (status, chunked).
fn head(r: &mut impl BufRead) -> Result<(u16, bool)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut chunked = false;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
    }
    Ok((status, chunked))
}

/// Reads the whole body.
fn body(r: &mut impl BufRead, chunked: bool) -> Result<String> {
    let mut out = Vec::new();
    if chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut buf = vec![0; n + 2];
            r.read_exact(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
        }
    } else {
        r.read_to_end(&mut out)?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn completion_body(model: &str, tokens: usize, llamacpp: bool, stream: bool) -> Value {
    let mut b = json!({
        "model": model, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0,
        "stream": stream,
    });
    // Both engines must generate exactly `tokens` tokens: no end-of-sequence.
    if llamacpp {
        b["logit_bias"] = json!({"2": -100.0});
    } else {
        b["ignore_eos"] = json!(true);
    }
    b
}

/// One streamed completion: (time to first token, decode tokens/s after it).
fn single_stream(
    addr: SocketAddr,
    model: &str,
    tokens: usize,
    llamacpp: bool,
) -> Result<(f64, f64)> {
    let start = Instant::now();
    let mut r = send(
        addr,
        "/v1/completions",
        &completion_body(model, tokens, llamacpp, true),
    )?;
    let (status, chunked) = head(&mut r)?;
    if status != 200 {
        bail!("status {status}: {}", body(&mut r, chunked)?);
    }
    let mut first: Option<Instant> = None;
    let mut last = start;
    let mut finish = String::new();
    // Server-sent events, read line by line through the chunked framing.
    {
        let mut pending = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            let mut buf = vec![0; n + 2];
            r.read_exact(&mut buf)?;
            pending.push_str(&String::from_utf8_lossy(&buf[..n]));
            while let Some(k) = pending.find('\n') {
                let l: String = pending.drain(..=k).collect();
                let Some(data) = l.trim().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    continue;
                }
                let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                let t = v["choices"][0]["text"].as_str().unwrap_or("");
                if !t.is_empty() {
                    let now = Instant::now();
                    first.get_or_insert(now);
                    last = now;
                }
                if let Some(f) = v["choices"][0]["finish_reason"].as_str() {
                    finish = f.to_owned();
                }
            }
        }
    }
    let first = first.context("the stream carried no text")?;
    if finish != "length" {
        tracing::warn!(finish, "the stream ended before max_tokens");
    }
    let ttft = first.duration_since(start).as_secs_f64();
    let decode = (tokens.saturating_sub(1)) as f64 / last.duration_since(first).as_secs_f64();
    Ok((ttft, decode))
}

/// `c` concurrent plain completions: total generated tokens per second of wall time.
fn aggregate(
    addr: SocketAddr,
    model: &str,
    tokens: usize,
    llamacpp: bool,
    c: usize,
) -> Result<f64> {
    let start = Instant::now();
    let counts: Vec<Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..c)
            .map(|_| {
                s.spawn(move || -> Result<u64> {
                    let mut r = send(
                        addr,
                        "/v1/completions",
                        &completion_body(model, tokens, llamacpp, false),
                    )?;
                    let (status, chunked) = head(&mut r)?;
                    let b = body(&mut r, chunked)?;
                    if status != 200 {
                        bail!("status {status}: {b}");
                    }
                    let v: Value = serde_json::from_str(&b)?;
                    v["usage"]["completion_tokens"]
                        .as_u64()
                        .context("no usage.completion_tokens")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("client thread panicked")))
            })
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut total = 0;
    for c in counts {
        total += c?;
    }
    Ok(total as f64 / secs)
}

fn measure(
    engine: &str,
    addr: SocketAddr,
    model: &str,
    args: &ServeBenchArgs,
    llamacpp: bool,
) -> Result<Figures> {
    // Warm-up.
    single_stream(addr, model, 4, llamacpp)?;
    let (mut ttft, mut decode) = (Vec::new(), Vec::new());
    for run in 0..args.runs {
        let (t, d) = single_stream(addr, model, args.decode_tokens, llamacpp)?;
        tracing::info!(engine, run, ttft_ms = t * 1e3, decode = d, "single stream");
        ttft.push(t * 1e3);
        decode.push(d);
    }
    let mut agg = Vec::new();
    for c in CONCURRENCY {
        let mut v = Vec::new();
        for run in 0..args.runs {
            let a = aggregate(addr, model, args.decode_tokens, llamacpp, c)?;
            tracing::info!(engine, run, streams = c, tokens_per_s = a, "aggregate");
            v.push(a);
        }
        agg.push((c, median(v)));
    }
    Ok(Figures {
        engine: engine.to_owned(),
        ttft_ms: median(ttft),
        decode: median(decode),
        aggregate: agg,
    })
}

fn llamacpp_python(root: &Path) -> PathBuf {
    root.join(".venv-llamacpp").join("bin").join("python")
}

fn llamacpp_ready(py: &Path) -> bool {
    py.is_file()
        && Command::new(py)
            .args(["-c", "import llama_cpp.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Installs llama-cpp-python's server into the venv (built from source, native CPU flags).
fn install_llamacpp(root: &Path) -> Result<f64> {
    let venv = root.join(".venv-llamacpp");
    let start = Instant::now();
    if !llamacpp_python(root).is_file() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()?;
        if !ok.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    tracing::info!("building llama-cpp-python {LLAMACPP_VERSION} from PyPI (minutes)");
    let ok = Command::new(llamacpp_python(root))
        .args(["-m", "pip", "install", "--quiet"])
        .arg(format!("llama-cpp-python[server]=={LLAMACPP_VERSION}"))
        .env("CMAKE_ARGS", "-DGGML_NATIVE=ON")
        .env("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        .status()?;
    if !ok.success() {
        bail!("pip could not install llama-cpp-python[server]");
    }
    Ok(start.elapsed().as_secs_f64())
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_llamacpp(py: &Path, gguf: &Path, port: u16) -> Result<KillOnDrop> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let child = Command::new(py)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(gguf)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--n_threads", &threads.to_string(), "--n_ctx", "2048"])
        .args(["--model_alias", "smollm2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start llama_cpp.server")?;
    let guard = KillOnDrop(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let start = Instant::now();
    loop {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = write!(
                s,
                "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut r = BufReader::new(s);
            if head(&mut r).is_ok_and(|(st, _)| st == 200) {
                return Ok(guard);
            }
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("llama_cpp.server did not answer within 120 s");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn run(args: &ServeBenchArgs) -> Result<()> {
    if args.runs == 0 || args.decode_tokens < 2 {
        bail!("--runs must be at least 1 and --decode-tokens at least 2");
    }
    let root = crate::workspace_root();
    let gguf = agentune_model::fetch::cached_model("smollm2")
        .context("SmolLM2 is needed; run `cargo xtask fetch-model smollm2`")?;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    {
        let spec = gguf.to_string_lossy().into_owned();
        let (model, agent) = load_model(&spec, false, None)?;
        let server = RunningServer::start(
            model,
            agent,
            ServeSettings {
                served_model_name: "smollm2".into(),
                port: 0,
                ..ServeSettings::default()
            },
        )?;
        rows.push(measure(
            "agentune-serve",
            server.addr(),
            "smollm2",
            args,
            false,
        )?);
    }
    let py = llamacpp_python(&root);
    if !llamacpp_ready(&py) && args.install_llamacpp {
        match install_llamacpp(&root) {
            Ok(secs) => notes.push(format!(
                "llama-cpp-python {LLAMACPP_VERSION} was built from PyPI for this run in {secs:.0} s."
            )),
            Err(e) => notes.push(format!("llama-cpp-python could not be installed: {e:#}.")),
        }
    }
    if llamacpp_ready(&py) {
        let port = free_port()?;
        let _server = start_llamacpp(&py, &gguf, port)?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        rows.push(measure(
            "llama.cpp server (llama-cpp-python)",
            addr,
            "smollm2",
            args,
            true,
        )?);
    } else {
        notes.push(
            "llama.cpp's server is not installed: run `cargo xtask bench serve --install-llamacpp` \
             (builds llama-cpp-python[server] from PyPI into .venv-llamacpp/)."
                .into(),
        );
    }
    let table = render(&rows, &notes, args);
    crate::print_stdout(&table)?;
    if args.write {
        let path = root.join("docs").join("benchmarks.md");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let updated = match (text.find(MARK_START), text.find(MARK_END)) {
            (Some(a), Some(b)) => format!("{}{MARK_START}\n{table}{}", &text[..a], &text[b..]),
            _ => format!("{}\n{MARK_START}\n{table}{MARK_END}\n", text.trim_end()),
        };
        agentune_schema::write_atomic(&path, updated.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!(path = %path.display(), "recorded");
    }
    Ok(())
}

fn render(rows: &[Figures], notes: &[String], args: &ServeBenchArgs) -> String {
    let mut s = String::from("## Serve: SmolLM2-135M-Instruct Q4_1 over HTTP (CPU)\n\n");
    s.push_str(&format!(
        "`cargo xtask bench serve` (median of {} runs; `/v1/completions`, greedy, {} generated \
         tokens per request with end-of-sequence suppressed; {} cores). Single stream: time to \
         first token and decode tokens/s after it (streamed); aggregate: generated tokens per \
         second of wall time with N concurrent requests (prefill included).\n\n",
        args.runs,
        args.decode_tokens,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    s.push_str("| engine | TTFT ms | decode tok/s (1 stream) |");
    for c in CONCURRENCY {
        s.push_str(&format!(" aggregate tok/s, {c} streams |"));
    }
    s.push_str("\n|---|---|---|");
    for _ in CONCURRENCY {
        s.push_str("---|");
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.0} | {:.1} |",
            r.engine, r.ttft_ms, r.decode
        ));
        for (_, a) in &r.aggregate {
            s.push_str(&format!(" {a:.1} |"));
        }
        s.push('\n');
    }
    if let [ours, theirs] = rows {
        s.push_str(&format!(
            "\nRatios agentune / llama.cpp: decode {:.2}x, TTFT {:.2}x (lower is better)",
            ours.decode / theirs.decode,
            ours.ttft_ms / theirs.ttft_ms
        ));
        for ((c, a), (_, b)) in ours.aggregate.iter().zip(&theirs.aggregate) {
            s.push_str(&format!(", {c} streams {:.2}x", a / b));
        }
        s.push_str(".\n");
    }
    if let Some(ours) = rows.first()
        && let (Some((_, one)), Some((_, sixteen))) =
            (ours.aggregate.first(), ours.aggregate.last())
    {
        s.push_str(&format!(
            "\nagentune-serve with 16 streams: {:.2}x its single-stream aggregate.\n",
            sixteen / one
        ));
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    s.push_str(&format!(
        "\nLoad average (1 min) when the run ended: {load}.\n"
    ));
    for n in notes {
        s.push_str(&format!("\n{n}\n"));
    }
    s.push('\n');
    s
}
