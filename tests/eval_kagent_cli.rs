//! `cargo xtask eval kagent` end to end: the real binary scores the checked-in fixture in
//! the KAgentBench layout (every ability, English and Chinese) from a replies file and from a
//! real OpenAI-compatible HTTP server on a local port (a small scripted server here), and
//! `eval report` reads the records it writes.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use common::{fails, fixture, lines, ok, ok_stdout, s, xtask};
use serde_json::{Value, json};

fn data() -> String {
    fixture("eval/kagent/benchmark_eval.jsonl")
}

fn summary(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("kagent_summary.json")).unwrap())
        .unwrap()
}

fn close(v: &Value, want: f64) {
    let got = v.as_f64().unwrap_or(f64::NAN);
    assert!((got - want).abs() < 1e-9, "{got} != {want}");
}

// Scores of the fixture replies, by hand (tokens: lower-cased words, CJK characters alone,
// punctuation dropped):
// - planning: pt-zh-1 exact (1); pt-en-1 "look up france population" vs "search the
//   population of france" with the same tool: LCS 1, P 1/4, R 1/5, F1 2/9 -> mean 11/18;
// - tool use: pt-zh-1 exact (1); pt-en-1 "france population" vs "population of france":
//   LCS 1, P 1/2, R 1/3, F1 2/5 -> mean 7/10;
// - reflection: rf-zh-1 repeats the failed last task (0); rf-en-1 exact (1) -> 1/2;
// - concluding: cc-zh-1 one character off in 12 tokens (11/12); cc-en-1's final_answer has
//   5 of the 7 reference words (P 1, R 5/7, F1 5/6) -> mean 7/8;
// - profile: pf-zh-1 exact (1); pf-en-1 has no reply (0) -> 1/2.
const PLANNING: f64 = 11.0 / 18.0;
const TOOL_USE: f64 = 0.7;
const REFLECTION: f64 = 0.5;
const CONCLUDING: f64 = 0.875;
const PROFILE: f64 = 0.5;

fn overall() -> f64 {
    0.25 * PLANNING + 0.35 * TOOL_USE + 0.10 * REFLECTION + 0.20 * CONCLUDING + 0.10 * PROFILE
}

#[test]
fn eval_kagent_scores_the_fixture_replies() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run-a");
    let table = ok_stdout(&xtask(&[
        "eval",
        "kagent",
        "--data",
        &data(),
        "--responses",
        &fixture("eval/kagent/responses.jsonl"),
        "--out",
        s(&out),
    ]));
    let sum = summary(&out);
    let a = &sum["abilities"];
    close(&a["planning"]["score"], PLANNING);
    close(&a["tool_use"]["score"], TOOL_USE);
    close(&a["reflection"]["score"], REFLECTION);
    close(&a["concluding"]["score"], CONCLUDING);
    close(&a["profile"]["score"], PROFILE);
    close(&a["tool_use"]["weight"], 0.35);
    assert_eq!(a["planning"]["items"], 2);
    assert_eq!(a["profile"]["missing"], 1);
    close(&sum["overall"], overall());
    assert_eq!(sum["items"], 8);
    assert_eq!(sum["missing"], 1);
    assert_eq!(sum["unknown_ids"], 1);
    assert!(
        table.contains(&format!("| **overall** | {:.2} |", 100.0 * overall())),
        "{table}"
    );
    assert!(
        table.contains("| planning | 61.11 | 2 | 0 | 0.25 |"),
        "{table}"
    );

    // Records: one per item and ability, plan-and-tool-use items split in two.
    let records = lines(&out.join("kagent.jsonl"));
    assert_eq!(records.len(), 10);
    let by_id: HashMap<&str, &Value> = records
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let r = by_id["pt-en-1#tool_use"];
    assert_eq!(r["suite"], "kagent");
    assert_eq!(r["category"], "tool_use");
    close(&r["metrics"]["score"], 0.4);
    let r = by_id["cc-zh-1"];
    assert_eq!(r["category"], "concluding");
    close(&r["metrics"]["score"], 11.0 / 12.0);
    assert_eq!(by_id["pf-en-1"]["error"], "no response");
    close(&by_id["pf-en-1"]["metrics"]["score"], 0.0);

    // A second run with every reply exact, compared by `eval report`.
    let better = dir.path().join("better.jsonl");
    let mut rows: Vec<Value> = lines(Path::new(&fixture("eval/kagent/responses.jsonl")));
    rows.retain(|r| r["id"] != "not-an-item");
    for r in &mut rows {
        match r["id"].as_str().unwrap() {
            "pt-en-1" => r["text"] = json!("Thought: search the population of France\nAction: web_search\nAction Input: {\"query\": \"population of France\"}"),
            "rf-zh-1" => r["text"] = json!(json!({"task_name": "换用英文关键词搜索", "command": {"name": "web_search", "args": {"query": "Beijing air quality today"}}}).to_string()),
            "cc-zh-1" => r["text"] = json!("2022年中，6月是全球最高气温。"),
            "cc-en-1" => r["text"] = json!("June was the hottest month of 2022."),
            _ => {}
        }
    }
    rows.push(json!({"id": "pf-en-1", "text": "I help you plan trips!"}));
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&better, body).unwrap();
    let out_b = dir.path().join("run-b");
    ok(&xtask(&[
        "eval",
        "kagent",
        "--data",
        &data(),
        "--responses",
        s(&better),
        "--out",
        s(&out_b),
    ]));
    let sum = summary(&out_b);
    for ability in [
        "planning",
        "tool_use",
        "reflection",
        "concluding",
        "profile",
    ] {
        close(&sum["abilities"][ability]["score"], 1.0);
    }
    close(&sum["overall"], 1.0);
    let report = dir.path().join("report");
    ok(&xtask(&[
        "eval",
        "report",
        s(&out),
        s(&out_b),
        "--out",
        s(&report),
    ]));
    let rep: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let suite = rep["suites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["suite"] == "kagent")
        .unwrap();
    assert_eq!(suite["main_metric"], "score");
    let cats: Vec<&str> = suite["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cats,
        [
            "concluding",
            "planning",
            "profile",
            "reflection",
            "tool_use"
        ]
    );
    let planning = &suite["categories"][1]["values"];
    close(&planning[0]["mean"], PLANNING);
    close(&planning[1]["mean"], 1.0);
}

/// Answers each chat request by its user message (`replies`: prompt to reply text), for as
/// long as the test runs, and sends each user message back over the channel.
fn serve(replies: HashMap<String, String>) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
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
            let request: Value = serde_json::from_slice(&body).unwrap();
            let prompt = request["messages"][0]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let reply = replies
                .get(&prompt)
                .cloned()
                .unwrap_or_else(|| "Sorry.".to_owned());
            let _ = tx.send(prompt);
            let payload = json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5}
            })
            .to_string();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn eval_kagent_generates_replies_through_an_endpoint() {
    let items = lines(Path::new(&data()));
    let texts: HashMap<String, String> = lines(Path::new(&fixture("eval/kagent/responses.jsonl")))
        .into_iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The KuaiAgent prompt of each item (the profile items' only prompt) gets the fixture reply.
    let mut replies = HashMap::new();
    for item in &items {
        let p = &item["prompt_input"];
        let prompt = p["KuaiAgent"].as_str().or(p["prompt"].as_str()).unwrap();
        if let Some(t) = texts.get(item["id"].as_str().unwrap()) {
            replies.insert(prompt.to_owned(), t.clone());
        }
    }
    let (url, prompts) = serve(replies);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let cache = dir.path().join("cache.jsonl");
    let args = [
        "eval",
        "kagent",
        "--data",
        &data(),
        "--endpoint",
        &url,
        "--model",
        "agent",
        "--concurrency",
        "2",
        "--cache",
        s(&cache),
        "--out",
        s(&out),
    ];
    ok(&xtask(&args));
    let sent: Vec<String> = prompts.try_iter().collect();
    assert_eq!(sent.len(), 8);
    assert!(sent.iter().all(|p| !p.starts_with("[ReACT")), "{sent:?}");
    let sum = summary(&out);
    // pf-en-1 gets "Sorry.": answered, but scored 0, as it is missing in the replies-file run.
    assert_eq!(sum["missing"], 0);
    close(&sum["abilities"]["planning"]["score"], PLANNING);
    close(&sum["abilities"]["concluding"]["score"], CONCLUDING);
    close(&sum["abilities"]["profile"]["score"], PROFILE);
    close(&sum["overall"], overall());
    assert_eq!(lines(&out.join("responses.jsonl")).len(), 8);
    let records = lines(&out.join("kagent.jsonl"));
    assert!(records.iter().all(|r| r["model"] == "agent"));
    // A rerun is answered from the cache: nothing more is sent.
    ok(&xtask(&args));
    assert_eq!(prompts.try_iter().count(), 0);
    close(&summary(&out)["overall"], overall());
}

#[test]
fn eval_kagent_names_the_bad_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"id\": \"a\", \"type\": \"profile\", \"golden_result_list\": [\"x\"]}\n{\"id\": \"b\", \"type\": \"plantooluse\", \"golden_result_list\": [{\"thought\": \"t\", \"tool_name\": \"f\", \"tool_args\": 3}]}\n",
    )
    .unwrap();
    let err = fails(&xtask(&[
        "eval",
        "kagent",
        "--data",
        s(&bad),
        "--responses",
        &fixture("eval/kagent/responses.jsonl"),
        "--out",
        s(&dir.path().join("o")),
    ]));
    assert!(
        err.contains("bad.jsonl:2: golden_result_list[0].tool_args"),
        "{err}"
    );
}
