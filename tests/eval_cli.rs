//! `cargo xtask eval bfcl` end to end: the real binary on the eval crate's BFCL fixture files,
//! with decoded-call responses and with text responses decoded through a template.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/eval/tests/fixtures/bfcl")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_jsonl(path: &Path, rows: &[Value]) {
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, body).unwrap();
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn eval_bfcl_scores_call_responses() {
    let dir = tempfile::tempdir().unwrap();
    let responses = dir.path().join("responses.jsonl");
    write_jsonl(
        &responses,
        &[
            json!({"id": "simple_python_0", "calls": [{"name": "calc_area", "arguments": {"base": 10, "height": 5}}]}),
            json!({"id": "simple_python_1", "calls": [{"name": "calc_area", "arguments": {"base": "3", "height": 2.5}}]}),
            json!({"id": "parallel_0", "calls": [
                {"name": "get_weather", "arguments": {"city": "Rome"}},
                {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}
            ]}),
            json!({"id": "irrelevance_0", "calls": []}),
            json!({"id": "live_relevance_0-0-0", "calls": []}),
        ],
    );
    let out = dir.path().join("out");
    let o = xtask(&[
        "eval",
        "bfcl",
        "--data",
        s(&fixtures()),
        "--responses",
        s(&responses),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verdicts = read_jsonl(&out.join("verdicts.jsonl"));
    let by_id = |id: &str| verdicts.iter().find(|v| v["id"] == id).unwrap().clone();
    assert_eq!(by_id("simple_python_0")["valid"], true);
    assert_eq!(by_id("simple_python_0")["category"], "simple_python");
    assert_eq!(by_id("simple_python_1")["valid"], false);
    assert!(
        by_id("simple_python_1")["error"]
            .as_str()
            .unwrap()
            .contains("base")
    );
    assert_eq!(by_id("parallel_0")["valid"], true);
    assert_eq!(by_id("irrelevance_0")["valid"], true);
    assert_eq!(by_id("live_relevance_0-0-0")["valid"], false);
    // Only the answered categories are scored.
    assert_eq!(verdicts.len(), 5);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["categories"]["simple_python"]["accuracy"], 0.5);
    assert_eq!(summary["categories"]["parallel"]["accuracy"], 1.0);
    assert_eq!(summary["aggregates"]["relevance"], 0.0);
    assert_eq!(summary["error_types"]["type_error:simple"], 1);
    assert_eq!(summary["error_types"]["relevance_error:decoder_failed"], 1);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("| simple_python | 50.00% | 1 | 2 |"),
        "{table}"
    );
}

#[test]
fn eval_bfcl_decodes_text_with_a_template() {
    let dir = tempfile::tempdir().unwrap();
    let responses = dir.path().join("responses.jsonl");
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Berlin\"}}\n</tool_call>";
    write_jsonl(
        &responses,
        &[
            json!({"id": "live_simple_0-0-0", "text": call}),
            json!({"id": "live_irrelevance_0-0-0", "text": "Why did the chicken cross the road?"}),
        ],
    );
    let out = dir.path().join("out");
    let data = fixtures();
    let args = [
        "eval",
        "bfcl",
        "--data",
        s(&data),
        "--responses",
        s(&responses),
        "--out",
        s(&out),
    ];
    let o = xtask(&[&args[..], &["--template", "hermes"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let verdicts = read_jsonl(&out.join("verdicts.jsonl"));
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.iter().all(|v| v["valid"] == true), "{verdicts:?}");
    // Without --template the text responses are refused, naming file, line and field.
    let o = xtask(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("responses.jsonl:1") && err.contains("--template"),
        "{err}"
    );
}

#[test]
fn eval_bfcl_reports_a_missing_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let responses = dir.path().join("r.jsonl");
    write_jsonl(&responses, &[json!({"id": "x", "calls": []})]);
    let missing = dir.path().join("nope");
    let o = xtask(&[
        "eval",
        "bfcl",
        "--data",
        s(&missing),
        "--responses",
        s(&responses),
        "--out",
        s(dir.path()),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("fetch_bfcl.sh"));
}

#[test]
fn eval_steps_scores_replies_per_slice() {
    let dir = tempfile::tempdir().unwrap();
    let call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
    let sample = |id: &str, kind: &str, gold: &str| {
        json!({
            "id": id,
            "messages": [
                {"role": "system", "content": "You may call get_weather."},
                {"role": "user", "content": "query"},
                {"role": "assistant", "content": gold}
            ],
            "template_id": "hermes",
            "meta": {"scenario": "weather", "kind": kind, "complexity": "simple", "language": "en"}
        })
    };
    let samples = dir.path().join("test.jsonl");
    write_jsonl(
        &samples,
        &[
            sample("a", "positive", call),
            sample("b", "positive", call),
            sample("c", "hard_negative", "What a nice day!"),
        ],
    );
    let replies = dir.path().join("replies.jsonl");
    write_jsonl(
        &replies,
        &[
            json!({"id": "a#2", "text": call}),
            json!({"id": "b#2", "message": {"role": "assistant", "content": "It is sunny."}}),
            json!({"id": "c#2", "text": "Indeed it is."}),
        ],
    );
    let out = dir.path().join("out");
    let o = xtask(&[
        "eval",
        "steps",
        "--samples",
        s(&samples),
        "--responses",
        s(&replies),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let records = read_jsonl(&out.join("steps.jsonl"));
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["suite"], "heldout_step");
    assert_eq!(records[0]["metrics"]["arg_exact"], 1.0);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("steps_summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["by_kind"]["positive"]["metrics"]["called"]["mean"],
        0.5
    );
    assert_eq!(
        summary["by_kind"]["hard_negative"]["metrics"]["abstained"]["mean"],
        1.0
    );
    assert_eq!(summary["overall"]["items"], 3);
}

/// A minimal OpenAI-compatible endpoint on a local port for the generating path: it answers
/// a request mentioning Berlin with a `get_weather` tool call and anything else with text, and
/// counts the requests it served.
fn serve_replies(count: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8_lossy(&body);
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let message = if body.contains("Berlin") {
                json!({"role": "assistant", "content": null, "tool_calls": [{
                    "id": "call_0", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\": \"Berlin\"}"}
                }]})
            } else {
                json!({"role": "assistant", "content": "No tool is needed for that."})
            };
            let reply = json!({"id": "r", "object": "chat.completion", "choices": [
                {"index": 0, "message": message, "finish_reason": "stop"}
            ]})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    format!("http://{addr}/v1")
}

#[test]
fn eval_bfcl_generates_through_an_endpoint_with_a_cache() {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let url = serve_replies(count.clone());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cache = dir.path().join("cache.jsonl");
    let data = fixtures();
    let args = [
        "eval",
        "bfcl",
        "--data",
        s(&data),
        "--endpoint",
        &url,
        "--model",
        "test-model",
        "--categories",
        "live_simple,live_irrelevance,live_relevance",
        "--cache",
        s(&cache),
        "--out",
        s(&out),
    ];
    let o = xtask(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    let verdicts = read_jsonl(&out.join("verdicts.jsonl"));
    let valid = |id: &str| verdicts.iter().find(|v| v["id"] == id).unwrap()["valid"].clone();
    assert_eq!(valid("live_simple_0-0-0"), true);
    assert_eq!(valid("live_irrelevance_0-0-0"), true);
    assert_eq!(valid("live_relevance_0-0-0"), false);
    let responses = read_jsonl(&out.join("responses.jsonl"));
    assert_eq!(responses.len(), 3);
    // The second run is answered from the cache: no new request.
    let o = xtask(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    // The written responses re-score offline to the same verdicts.
    let again = dir.path().join("again");
    let o = xtask(&[
        "eval",
        "bfcl",
        "--data",
        s(&data),
        "--responses",
        s(&out.join("responses.jsonl")),
        "--template",
        "openai",
        "--out",
        s(&again),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_jsonl(&again.join("verdicts.jsonl")), verdicts);
}

#[path = "common/mod.rs"]
mod common;

#[test]
fn eval_bfcl_generates_with_a_local_model_and_caches_its_replies() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("tiny");
    common::tiny_checkpoint(&ckpt, 3);
    let cache = dir.path().join("cache.jsonl");
    let run = |out: &Path| {
        xtask(&[
            "eval",
            "bfcl",
            "--data",
            s(&fixtures()),
            "--local",
            s(&ckpt),
            "--template",
            "react",
            "--categories",
            "simple_python,irrelevance",
            "--limit",
            "1",
            "--max-tokens",
            "8",
            "--cache",
            s(&cache),
            "--out",
            s(out),
        ])
    };
    let first = dir.path().join("a");
    let o = run(&first);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let replies = read_jsonl(&first.join("responses.jsonl"));
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(read_jsonl(&cache).len(), 2);
    // The rerun is answered from the cache: the same replies, nothing added.
    let second = dir.path().join("b");
    let o = run(&second);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_jsonl(&second.join("responses.jsonl")), replies);
    assert_eq!(read_jsonl(&cache).len(), 2);
    // A local model and an endpoint together are refused before any work.
    let o = xtask(&[
        "eval",
        "bfcl",
        "--local",
        "x",
        "--endpoint",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--out",
        s(&second),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--local"));
}
