//! `cargo xtask meta-agent` end to end: the grammar writes templates the data crate loads,
//! with a report; our own server (`xtask serve`, a tiny random model) is the teacher: every
//! reply is validated, what fails is recorded with its reason, and a rerun is answered from
//! the response cache; a teacher that writes a valid template gets it accepted; hand-made bad
//! templates are refused by `validate`; `cluster` groups the seed queries.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use agentune_model::{Architecture, ModelConfig, Weights, save_hf};
use common::{fixture, lines, ok, s, xtask};
use serde_json::{Value, json};

fn meta_fixture(name: &str) -> String {
    fixture(&format!("meta_agent/{name}"))
}

fn report_file(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn report(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn grammar_templates_are_written_validated_and_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gen");
    let err = ok(&xtask(&[
        "meta-agent",
        "templates",
        "--grammar",
        "--count",
        "40",
        "--seed",
        "5",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--out",
        s(&out),
    ]));
    assert!(err.contains("40 accepted"), "{err}");
    let r = report(&out);
    assert_eq!(r["accepted"], 40);
    assert_eq!(r["source"], "grammar");
    assert_eq!(r["similarity"]["pairs"], 40 * 39 / 2);
    assert!(r["similarity"]["max"].as_f64().unwrap() < 0.9);
    assert!(r["coverage"]["language"]["zh"].as_u64().unwrap() > 0);
    let files = std::fs::read_dir(out.join("templates")).unwrap().count();
    assert_eq!(files, 40);
    // Same seed, same templates.
    let again = dir.path().join("again");
    ok(&xtask(&[
        "meta-agent",
        "templates",
        "--count",
        "40",
        "--seed",
        "5",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--out",
        s(&again),
    ]));
    let a = std::fs::read_to_string(out.join("templates/grammar-00000.toml")).unwrap();
    let b = std::fs::read_to_string(again.join("templates/grammar-00000.toml")).unwrap();
    assert_eq!(a, b);
    // The templates render prompts through the agent commands.
    let first = out.join("templates/grammar-00001.toml");
    let stdout = common::ok_stdout(&xtask(&[
        "agent",
        "render",
        "--template",
        s(&first),
        "--query",
        "Will it rain in Oslo?",
    ]));
    assert!(stdout.contains("Will it rain in Oslo?"), "{stdout}");
    // Every accepted file passes `validate` again (near-duplicates of each other they are not).
    let check = dir.path().join("check");
    let err = ok(&xtask(&[
        "meta-agent",
        "validate",
        s(&out.join("templates")),
        "--out",
        s(&check),
    ]));
    assert!(err.contains("40 accepted"), "{err}");
}

#[test]
fn validate_refuses_hand_made_bad_templates_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(
        &bad_json,
        "{\"id\": \"x\", \"family\": \"react\", \"system\": 3}",
    )
    .unwrap();
    let out = dir.path().join("v");
    let err = ok(&xtask(&[
        "meta-agent",
        "validate",
        &meta_fixture("bad_template.toml"),
        s(&bad_json),
        &fixture("../../configs/templates/react.toml"),
        "--out",
        s(&out),
    ]));
    assert!(
        err.contains("placeholders") && err.contains("{tools}"),
        "{err}"
    );
    assert!(
        err.contains("parse") && err.contains("field `system`"),
        "{err}"
    );
    let rejected = lines(&out.join("rejected.jsonl"));
    let reasons: Vec<&str> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["placeholders", "parse"]);
    assert_eq!(report(&out)["accepted"], 1);
}

#[test]
fn cluster_groups_queries_by_topic_and_language() {
    let out = common::ok_stdout(&xtask(&[
        "meta-agent",
        "cluster",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--set-size",
        "4",
        "--max-set-size",
        "5",
    ]));
    let sets: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let set_of = |id: &str| {
        sets.iter()
            .position(|s| {
                s["queries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["id"] == id)
            })
            .unwrap()
    };
    assert_eq!(set_of("w1"), set_of("w4"));
    assert_eq!(set_of("m1"), set_of("m3"));
    assert_eq!(set_of("z1"), set_of("z4"));
    assert_ne!(set_of("w1"), set_of("z1"));
    assert_eq!(sets[set_of("z2")]["language"], "zh");
}

/// An embeddings endpoint that knows two meanings, weather (in English and Chinese) and
/// arithmetic; answers `requests` requests.
fn scripted_embeddings(requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for _ in 0..requests {
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
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let request: Value = serde_json::from_slice(&body).unwrap();
            let data: Vec<Value> = request["input"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = t.as_str().unwrap().to_lowercase();
                    let weather = ["weather", "rain", "天气", "下雨"]
                        .iter()
                        .any(|w| t.contains(w));
                    let v = if weather { [1.0, 0.1] } else { [0.1, 1.0] };
                    json!({"object": "embedding", "index": i, "embedding": v})
                })
                .collect();
            let payload = json!({"object": "list", "data": data}).to_string();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                payload.len()
            )
            .unwrap();
        }
    });
    url
}

#[test]
fn cluster_by_embeddings_groups_meanings_across_languages() {
    let url = scripted_embeddings(1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sets.jsonl");
    let err = ok(&xtask(&[
        "meta-agent",
        "cluster",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--sets",
        "2",
        "--set-size",
        "6",
        "--max-set-size",
        "8",
        "--embed-endpoint",
        &url,
        "--embed-model",
        "emb",
        "--out",
        s(&out),
    ]));
    assert!(err.contains("12 queries in 2 sets"), "{err}");
    let sets = lines(&out);
    let ids = |s: &Value| -> Vec<String> {
        s["queries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // English and Chinese weather queries share a set; the arithmetic ones have their own.
    assert_eq!(
        ids(&sets[0]),
        ["w1", "w2", "w3", "w4", "z1", "z2", "z3", "z4"]
    );
    assert_eq!(ids(&sets[1]), ["m1", "m2", "m3", "m4"]);
    // A dead endpoint is a clear error naming it.
    let out = xtask(&[
        "meta-agent",
        "cluster",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--embed-endpoint",
        "http://127.0.0.1:9/v1",
        "--embed-model",
        "emb",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("127.0.0.1:9/v1/embeddings"), "{err}");
}

/// A tiny random Llama saved as an HF folder (no agent template: the server renders tools
/// with its default).
fn tiny_checkpoint(dir: &std::path::Path) {
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
    let weights = Weights::random(&config, 0.2, 7).unwrap();
    save_hf(
        dir,
        &config,
        &weights,
        &common::tiny_tokenizer(),
        None,
        None,
    )
    .unwrap();
}

/// Starts `xtask serve` on the checkpoint as model `teacher`; returns it and its base URL.
fn serve(model: &std::path::Path) -> (common::Server, String) {
    let server = common::serve(&["--model", s(model), "--served-model-name", "teacher"]);
    let url = format!("http://{}/v1", server.addr);
    (server, url)
}

#[test]
fn our_server_as_teacher_every_reply_is_validated_and_a_rerun_hits_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    tiny_checkpoint(&ckpt);
    let (_server, url) = serve(&ckpt);
    let out = dir.path().join("teacher");
    let args = [
        "meta-agent",
        "templates",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--endpoint",
        &url,
        "--model",
        "teacher",
        "--config",
        &meta_fixture("short_prompt.toml"),
        "--set-size",
        "4",
        "--max-set-size",
        "5",
        "--concurrency",
        "2",
        "--out",
        s(&out),
    ];
    let err = ok(&xtask(&args));
    let r = report(&out);
    let sets = lines(&out.join("query_sets.jsonl"));
    assert!(sets.len() >= 3, "{sets:?}");
    // Two templates asked per set, every one accounted for.
    assert_eq!(
        r["candidates"].as_u64().unwrap(),
        2 * sets.len() as u64,
        "{err}"
    );
    let rejected = lines(&out.join("rejected.jsonl"));
    assert_eq!(
        r["accepted"].as_u64().unwrap() + rejected.len() as u64,
        r["candidates"].as_u64().unwrap()
    );
    assert!(
        !rejected.is_empty(),
        "a random tiny model wrote a valid template: {err}"
    );
    for rej in &rejected {
        assert!(
            rej["source"].as_str().unwrap().starts_with("teacher:set-"),
            "{rej}"
        );
        assert!(!rej["message"].as_str().unwrap().is_empty(), "{rej}");
        // The teacher answered: the reply text is kept, the refusal is a validation rule.
        assert_ne!(rej["reason"], "request", "{rej}");
        assert!(rej["text"].is_string(), "{rej}");
    }
    let counted: u64 = r["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, rejected.len() as u64);
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("rejected because")
    );
    let cached = std::fs::read_to_string(out.join("cache.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(cached as u64, r["candidates"].as_u64().unwrap());
    // A rerun asks nothing: same report, cache unchanged.
    let err = ok(&xtask(&args));
    assert!(
        err.contains(&format!(
            "teacher: {cached} replies from the cache, 0 requested"
        )),
        "{err}"
    );
    assert_eq!(report(&out), r);
    assert_eq!(
        std::fs::read_to_string(out.join("cache.jsonl"))
            .unwrap()
            .lines()
            .count(),
        cached
    );
}

/// Serves `replies` in turn (cycling) as chat completions, on a local port.
fn scripted_teacher(replies: Vec<String>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for k in 0..requests {
            let content = &replies[k % replies.len()];
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
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let payload = json!({
                "id": "x", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
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
    url
}

#[test]
fn a_valid_teacher_template_is_accepted_once_and_its_copies_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(fixture("../../configs/templates/toolllama.toml")).unwrap();
    let spec: agentune_schema::TemplateSpec = toml::from_str(&spec).unwrap();
    let reply = format!(
        "Here is the template:\n```json\n{}\n```",
        serde_json::to_string_pretty(&spec).unwrap()
    );
    let url = scripted_teacher(vec![reply], 8);
    let out = dir.path().join("t");
    let err = ok(&xtask(&[
        "meta-agent",
        "templates",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--endpoint",
        &url,
        "--model",
        "gpt-x",
        "--set-size",
        "4",
        "--max-set-size",
        "5",
        "--concurrency",
        "1",
        "--out",
        s(&out),
    ]));
    let r = report(&out);
    assert_eq!(r["accepted"], 1, "{err}");
    let n = r["candidates"].as_u64().unwrap();
    assert_eq!(r["rejected"]["near_duplicate"].as_u64().unwrap(), n - 1);
    let files: Vec<String> = std::fs::read_dir(out.join("templates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files, ["meta-set-000-0.toml"]);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&[
        "meta-agent",
        "templates",
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--out",
        s(dir.path()),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--queries"));
    let out = xtask(&[
        "meta-agent",
        "templates",
        "--queries",
        "no/such.jsonl",
        "--out",
        s(dir.path()),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such.jsonl"));
}

#[test]
fn trajectories_are_kept_only_when_every_check_holds() {
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("q.jsonl");
    std::fs::write(
        &queries,
        "{\"id\": \"m1\", \"query\": \"Compute 17 * 23 + 4\", \"answer\": \"395\"}\n",
    )
    .unwrap();
    let calc =
        "Thought: Compute it.\nAction: calculator\nAction Input: {\"expression\": \"17 * 23 + 4\"}";
    // The first attempt answers wrongly; the retry (shown the failure) answers right.
    let url = scripted_teacher(
        vec![
            calc.into(),
            "Thought: Done.\nFinal Answer: 400".into(),
            calc.into(),
            "Thought: Done.\nFinal Answer: 17 * 23 + 4 = 395".into(),
        ],
        4,
    );
    let out = dir.path().join("traj.jsonl");
    let err = ok(&xtask(&[
        "meta-agent",
        "trajectories",
        "--queries",
        s(&queries),
        "--templates",
        "react",
        "--endpoint",
        &url,
        "--model",
        "gpt-x",
        "--concurrency",
        "1",
        "--out",
        s(&out),
    ]));
    assert!(
        err.contains("1 trajectories kept, 1 failed attempts (semantic 1)"),
        "{err}"
    );
    let kept = lines(&out);
    assert_eq!(kept.len(), 1);
    let observed = kept[0]["steps"][0]["observations"][0]["content"]
        .as_str()
        .unwrap();
    assert!(observed.contains("395"), "{observed}");
    let rejected = lines(&dir.path().join("traj.rejected.jsonl"));
    assert_eq!(rejected[0]["reason"], "semantic");
    assert!(rejected[0]["message"].as_str().unwrap().contains("400"));
    let r = report_file(&dir.path().join("traj.report.json"));
    assert_eq!(
        (r["queries"].as_u64(), r["kept"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(r["attempts"], 2);
    assert_eq!(r["rejected"], json!({"semantic": 1}));
    assert_eq!(r["kept_on_attempt"], json!({"2": 1}));
    assert_eq!(r["templates"]["react"], json!({"queries": 1, "kept": 1}));
    assert_eq!(
        (r["requests"].as_u64(), r["cache_hits"].as_u64()),
        (Some(4), Some(0))
    );
    // A rerun is answered from the cache (the scripted server is gone).
    let err = ok(&xtask(&[
        "meta-agent",
        "trajectories",
        "--queries",
        s(&queries),
        "--templates",
        "react",
        "--endpoint",
        &url,
        "--model",
        "gpt-x",
        "--concurrency",
        "1",
        "--out",
        s(&out),
    ]));
    assert!(err.contains("1 trajectories kept"), "{err}");
    assert!(
        err.contains("teacher: 4 replies from the cache, 0 requested"),
        "{err}"
    );
    let r = report_file(&dir.path().join("traj.report.json"));
    assert_eq!(
        (r["requests"].as_u64(), r["cache_hits"].as_u64()),
        (Some(0), Some(4))
    );
}

#[test]
fn our_server_as_teacher_for_trajectories_records_every_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    tiny_checkpoint(&ckpt);
    let (_server, url) = serve(&ckpt);
    let config = dir.path().join("t.toml");
    std::fs::write(
        &config,
        "attempts = 2\nmax_steps = 2\ncall_budget = 4\nmax_tokens = 16\n",
    )
    .unwrap();
    let out = dir.path().join("traj.jsonl");
    let err = ok(&xtask(&[
        "meta-agent",
        "trajectories",
        "--queries",
        &meta_fixture("queries.jsonl"),
        "--templates",
        "react,hermes",
        "--tools",
        "calculator,get_weather",
        "--endpoint",
        &url,
        "--model",
        "teacher",
        "--config",
        s(&config),
        "--concurrency",
        "2",
        "--out",
        s(&out),
    ]));
    assert!(err.contains("12 queries"), "{err}");
    let rejected = lines(&dir.path().join("traj.rejected.jsonl"));
    assert!(!rejected.is_empty());
    let kept = lines(&out);
    let r = report_file(&dir.path().join("traj.report.json"));
    assert_eq!(r["queries"], 12);
    assert_eq!(r["kept"].as_u64().unwrap(), kept.len() as u64);
    let counted: u64 = r["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, rejected.len() as u64);
    let per_template: u64 = r["templates"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["queries"].as_u64().unwrap())
        .sum();
    assert_eq!(per_template, 12);
    // Every kept trajectory passed the three checks.
    for t in &kept {
        let passed: Vec<&str> = t["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["passed"] == true)
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert_eq!(passed, ["format", "execution", "semantic"], "{t}");
    }
    for r in &rejected {
        assert!(
            ["no_answer", "format", "execution", "semantic"]
                .contains(&r["reason"].as_str().unwrap()),
            "{r}"
        );
        assert!(r["attempt"].as_u64().unwrap() < 2);
    }
}
