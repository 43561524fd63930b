//! `cargo xtask eval episodes` and `eval report` end to end: synthesised held-out records
//! rendered with ReAct, episodes run by the agent loop with the real built-in tools against our
//! own server (a tiny random checkpoint) and in-process (the same decisions), a rerun answered
//! from the cache with the server gone, held-out steps generated both ways, and checkpoint
//! comparison reports (Markdown, JSON, PNG charts, bootstrap intervals).

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{lines, ok, ok_stdout, s, serve, tiny_checkpoint, xtask};
use serde_json::{Value, json};

fn write_jsonl(path: &Path, rows: &[Value]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let body: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, body).unwrap();
}

fn without_latency(mut rows: Vec<Value>) -> Vec<Value> {
    for r in &mut rows {
        r.as_object_mut().unwrap().remove("latency_ms");
    }
    rows
}

#[test]
fn episodes_run_against_our_server_and_rerun_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("t.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "4",
        "--seed",
        "11",
        "--restart-share",
        "0",
        "--out",
        s(&traj),
    ]));
    let samples = dir.path().join("test.jsonl");
    ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&samples),
        "--templates",
        "react",
    ]));
    let ckpt = dir.path().join("ckpt");
    tiny_checkpoint(&ckpt, 7);
    let server = serve(&["--model", s(&ckpt), "--served-model-name", "agent"]);
    let url = format!("http://{}/v1", server.addr);
    let cache = dir.path().join("cache.jsonl");
    let run = |out: &Path| {
        xtask(&[
            "eval",
            "episodes",
            "--samples",
            s(&samples),
            "--endpoint",
            &url,
            "--model",
            "agent",
            "--max-steps",
            "3",
            "--max-tokens",
            "16",
            "--concurrency",
            "2",
            "--cache",
            s(&cache),
            "--out",
            s(out),
        ])
    };
    let first = dir.path().join("ckpt-a");
    let table = ok_stdout(&run(&first));
    assert!(table.contains("| success |"), "{table}");
    let records = lines(&first.join("episodes.jsonl"));
    assert_eq!(records.len(), 4);
    for r in &records {
        assert_eq!(r["suite"], "heldout_episode");
        assert_eq!(r["template_id"], "react");
        assert!(
            r["expected"]["answer"]
                .as_str()
                .is_some_and(|a| !a.is_empty())
        );
        for m in [
            "success",
            "steps",
            "restarts",
            "rouge_l",
            "tool_calls",
            "format_errors",
        ] {
            assert!(r["metrics"][m].is_number(), "{m} missing in {r}");
        }
        // A random model cannot produce the gold answer.
        assert_eq!(r["metrics"]["success"], 0.0, "{r}");
        assert!(r["metrics"]["steps"].as_f64().unwrap() <= 3.0);
    }
    assert_eq!(lines(&first.join("trajectories.jsonl")).len(), 4);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(first.join("episodes_summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["summary"]["overall"]["items"], 4);
    assert_eq!(summary["summary"]["by_template"]["react"]["items"], 4);
    assert!(summary["replies"]["generated"].as_u64().unwrap() > 0);
    let cache_lines = lines(&cache).len();

    // The same checkpoint run in-process (a cache of its own) takes the same greedy decisions.
    let local = dir.path().join("ckpt-local");
    let table = ok_stdout(&xtask(&[
        "eval",
        "episodes",
        "--samples",
        s(&samples),
        "--local",
        s(&ckpt),
        "--model",
        "agent",
        "--max-steps",
        "3",
        "--max-tokens",
        "16",
        "--concurrency",
        "2",
        "--cache",
        s(&dir.path().join("local-cache.jsonl")),
        "--out",
        s(&local),
    ]));
    assert!(table.contains("0 cached"), "{table}");
    assert_eq!(
        without_latency(lines(&local.join("episodes.jsonl"))),
        without_latency(records.clone())
    );

    // The server is gone: the rerun is answered entirely from the cache, with the same results.
    drop(server);
    let second = dir.path().join("ckpt-b");
    let table = ok_stdout(&run(&second));
    assert!(table.contains("0 generated"), "{table}");
    assert_eq!(lines(&cache).len(), cache_lines);
    assert_eq!(
        without_latency(lines(&second.join("episodes.jsonl"))),
        without_latency(records)
    );

    // The two runs compared: identical, so nothing is significant.
    let report = dir.path().join("report");
    let out = ok_stdout(&xtask(&[
        "eval",
        "report",
        s(&first),
        s(&second),
        "--out",
        s(&report),
    ]));
    assert!(!out.contains("significant:"), "{out}");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("## episodes"), "{md}");
    assert!(md.contains("| metric | ckpt-a | ckpt-b |"), "{md}");
    assert!(md.contains("No significant difference"), "{md}");
    for f in [
        "report.json",
        "metrics_episodes.png",
        "categories_episodes.png",
    ] {
        assert!(report.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn report_marks_a_significant_gain_across_suites() {
    let dir = tempfile::tempdir().unwrap();
    let verdicts = |ok_every: usize| -> Vec<Value> {
        (0..60)
            .map(|i| {
                let cat = if i < 30 { "simple_python" } else { "irrelevance" };
                json!({"id": format!("{cat}_{i}"), "category": cat, "valid": i % ok_every == 0, "error": null})
            })
            .collect()
    };
    let base = dir.path().join("base");
    let tuned = dir.path().join("tuned");
    write_jsonl(&base.join("bfcl/verdicts.jsonl"), &verdicts(4));
    write_jsonl(&tuned.join("bfcl/verdicts.jsonl"), &verdicts(1));
    let step = |id: &str, chosen: &str, acc: f64| {
        json!({
            "id": id, "suite": "heldout_step", "category": "weather", "model": "m",
            "template_id": "hermes",
            "meta": {"scenario": "weather", "kind": "positive", "complexity": "simple", "language": "en"},
            "parsed": {"type": "tool_calls", "calls": [{"name": chosen, "arguments": {}}]},
            "expected": {"role": "assistant", "content": "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"},
            "metrics": {"tool_name_acc": acc}
        })
    };
    write_jsonl(
        &base.join("steps/steps.jsonl"),
        &[
            step("a#2", "calculator", 0.0),
            step("b#2", "get_weather", 1.0),
        ],
    );
    write_jsonl(
        &tuned.join("steps/steps.jsonl"),
        &[
            step("a#2", "get_weather", 1.0),
            step("b#2", "get_weather", 1.0),
        ],
    );
    let report = dir.path().join("report");
    let args = [
        "eval",
        "report",
        s(&base),
        s(&tuned),
        "--names",
        "step-100,step-200",
        "--seed",
        "3",
        "--out",
        s(&report),
    ];
    let out = ok_stdout(&xtask(&args));
    assert!(
        out.contains("significant: bfcl accuracy: step-200 +0.7"),
        "{out}"
    );
    assert!(
        out.contains("significant: bfcl category simple_python"),
        "{out}"
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| metric | step-100 | step-200 |"), "{md}");
    assert!(
        md.contains("### Tools chosen vs gold: step-100 (1 of 2 agree)"),
        "{md}"
    );
    assert!(
        md.contains("![bfcl by checkpoint](metrics_bfcl.png)"),
        "{md}"
    );
    for f in [
        "metrics_bfcl.png",
        "categories_bfcl.png",
        "metrics_steps.png",
        "confusion_steps_0_step-100.png",
        "confusion_steps_1_step-200.png",
    ] {
        assert!(report.join(f).is_file(), "{f} missing");
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let acc = &json["suites"][0]["metrics"][0];
    assert_eq!(acc["name"], "accuracy");
    assert_eq!(acc["vs_baseline"][1]["significant"], true);
    // The same seed gives the same report, byte for byte.
    let again = std::fs::read(report.join("report.json")).unwrap();
    ok(&xtask(&args));
    assert_eq!(std::fs::read(report.join("report.json")).unwrap(), again);
    // A folder without eval outputs is an error naming it.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = xtask(&["eval", "report", s(&base), s(&empty), "--out", s(&report)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("empty") && err.contains("verdicts.jsonl"),
        "{err}"
    );
}

#[test]
fn steps_of_a_local_model_match_the_served_ones() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("t.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "3",
        "--seed",
        "4",
        "--out",
        s(&traj),
    ]));
    let samples = dir.path().join("test.jsonl");
    ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&samples),
        "--templates",
        "react",
    ]));
    let ckpt = dir.path().join("ckpt");
    tiny_checkpoint(&ckpt, 3);
    let steps = |backend: &[&str], out: &Path, cache: &str| {
        let mut args = vec!["eval", "steps", "--samples", s(&samples)];
        args.extend_from_slice(backend);
        args.extend_from_slice(&[
            "--model",
            "agent",
            "--max-tokens",
            "8",
            "--cache",
            cache,
            "--out",
            s(out),
        ]);
        ok(&xtask(&args));
        lines(&out.join("steps.jsonl"))
    };
    let local = steps(
        &["--local", s(&ckpt)],
        &dir.path().join("local"),
        s(&dir.path().join("c1.jsonl")),
    );
    assert!(!local.is_empty());
    for r in &local {
        assert_eq!(r["model"], "agent");
        assert!(r["response"].is_string(), "{r}");
        assert!(r["metrics"]["lenient_valid"].is_number(), "{r}");
    }
    let server = serve(&["--model", s(&ckpt), "--served-model-name", "agent"]);
    let url = format!("http://{}/v1", server.addr);
    let served = steps(
        &["--endpoint", &url],
        &dir.path().join("served"),
        s(&dir.path().join("c2.jsonl")),
    );
    assert_eq!(without_latency(local), without_latency(served));
    // Neither backend, or both, is refused.
    let err = String::from_utf8_lossy(
        &xtask(&[
            "eval",
            "steps",
            "--samples",
            s(&samples),
            "--local",
            s(&ckpt),
            "--endpoint",
            &url,
            "--model",
            "m",
            "--out",
            s(&dir.path().join("x")),
        ])
        .stderr,
    )
    .into_owned();
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn judge_asks_k_times_and_rereads_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let episode = |id: &str, answer: Option<&str>| {
        json!({
            "id": id, "suite": "heldout_episode", "category": "math", "model": "m",
            "response": answer,
            "expected": {"query": format!("question {id}"), "answer": "42", "steps": 1, "calls": 0},
            "metrics": {"success": 0.0}
        })
    };
    let base = dir.path().join("base.jsonl");
    let tuned = dir.path().join("tuned.jsonl");
    write_jsonl(
        &base,
        &[
            episode("e1", Some("41")),
            episode("e2", None),
            episode("e3", Some("42")),
        ],
    );
    write_jsonl(
        &tuned,
        &[
            episode("e1", Some("42")),
            episode("e2", Some("42")),
            episode("e3", None),
        ],
    );
    let ckpt = dir.path().join("judge");
    tiny_checkpoint(&ckpt, 5);
    let server = serve(&["--model", s(&ckpt), "--served-model-name", "judge"]);
    let url = format!("http://{}/v1", server.addr);
    let cache = dir.path().join("cache.jsonl");
    let judge = |out: &Path| {
        ok_stdout(&xtask(&[
            "eval",
            "judge",
            s(&base),
            "--versus",
            s(&tuned),
            "--endpoint",
            &url,
            "--model",
            "judge",
            "--k",
            "2",
            "--cache",
            s(&cache),
            "--out",
            s(out),
        ]))
    };
    let first = dir.path().join("j1");
    let text = judge(&first);
    assert!(text.contains("3 items x 2 rounds"), "{text}");
    let rows = lines(&first.join("judgements.jsonl"));
    // Per round: 2 answered base items and 2 answered tuned ones asked for a verdict, and one
    // pair (e1) with both answers; e2 and e3 are decided without asking.
    assert_eq!(rows.len(), 2 * (2 + 2 + 1));
    assert_eq!(rows.iter().filter(|r| r["kind"] == "pair").count(), 2);
    for r in &rows {
        assert!(r["reply"].is_string(), "{r}");
        assert!(r["error"].is_null(), "{r}");
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("judge_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["k"], 2);
    assert_eq!(summary["replies"]["generated"], 10);
    assert_eq!(summary["paired_items"], 3);
    // Whatever the random judge says, the decided pairs count: e2 won, e3 lost, every round.
    let win = &summary["win_rate"];
    assert!(win["judged"].as_u64().unwrap() >= 4, "{win}");
    // The rerun asks nothing and reads the same judgements.
    drop(server);
    let second = dir.path().join("j2");
    let text = judge(&second);
    assert!(text.contains("10 replies cached, 0 generated"), "{text}");
    assert_eq!(lines(&second.join("judgements.jsonl")), rows);
}
