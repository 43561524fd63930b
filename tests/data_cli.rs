//! `cargo xtask data ...` end to end: the real binary on the data crate's fixture files.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::PathBuf;

use common::{data_fixture as fixture, lines, ok, s, xtask};

#[test]
fn help_lists_the_data_commands() {
    let out = xtask(&["data", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "import", "clean", "mix", "split", "leakage", "stats", "export", "bench",
    ] {
        assert!(
            text.lines().any(|l| l.trim_start().starts_with(cmd)),
            "data --help lacks `{cmd}`:\n{text}"
        );
    }
}

#[test]
fn import_clean_mix_split_leakage_stats_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |n: &str| -> PathBuf { d.join(n) };
    // Import every format.
    for (format, input, out) in [
        ("toolbench", "toolbench_answers", "tb.jsonl"),
        (
            "toolbench-conversations",
            "toolbench_conversations.json",
            "tbc.jsonl",
        ),
        ("agentinstruct", "agentinstruct.jsonl", "ai.jsonl"),
        ("kagentinstruct", "kagentinstruct.jsonl", "ka.jsonl"),
        ("sharegpt", "sharegpt_toolcall.json", "sg.jsonl"),
        ("openai", "openai_tools.jsonl", "oa.jsonl"),
        ("bfcl", "bfcl_questions.jsonl", "bfcl.jsonl"),
    ] {
        let err = ok(&xtask(&[
            "data",
            "import",
            "--format",
            format,
            "--input",
            &fixture(input),
            "--output",
            s(&path(out)),
        ]));
        assert!(err.contains("imported"), "{err}");
        assert!(!lines(&path(out)).is_empty(), "{format} wrote nothing");
    }
    // Put everything in one pool, with a duplicate and a PII-bearing record.
    let mut pool = String::new();
    for f in ["tb", "tbc", "ai", "ka", "sg", "oa", "bfcl", "oa"] {
        pool.push_str(&std::fs::read_to_string(path(&format!("{f}.jsonl"))).unwrap());
    }
    pool.push_str(
        r#"{"id":"pii-1","query":"Call me at 13812345678 about the weather","tools":[{"name":"get_forecast","parameters":{"type":"object"}}],"steps":[{"step":{"type":"final_answer","answer":"I will call 13812345678."}}],"outcome":"answered","provenance":{"source":"test"}}"#,
    );
    pool.push('\n');
    std::fs::write(path("pool.jsonl"), pool).unwrap();
    let err = ok(&xtask(&[
        "data",
        "clean",
        "--input",
        s(&path("pool.jsonl")),
        "--output",
        s(&path("clean.jsonl")),
        "--rejected",
        s(&path("rejected.jsonl")),
    ]));
    assert!(err.contains("exact_duplicate 3"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("clean.report.json")).unwrap()).unwrap();
    assert_eq!(report["dropped_by_reason"]["exact_duplicate"], 3);
    assert_eq!(report["fixed"]["pii.phone"], 2);
    let cleaned = lines(&path("clean.jsonl"));
    let pii = cleaned.iter().find(|r| r["id"] == "pii-1").unwrap();
    assert_eq!(pii["query"], "Call me at <PHONE_1> about the weather");
    assert_eq!(lines(&path("rejected.jsonl")).len(), 3);

    // Mix: eval-only BFCL items stay out.
    let err = ok(&xtask(&[
        "data",
        "mix",
        "--input",
        s(&path("clean.jsonl")),
        "--output",
        s(&path("mix.jsonl")),
    ]));
    assert!(err.contains("eval-only left out: 3"), "{err}");
    assert!(
        lines(&path("mix.jsonl"))
            .iter()
            .all(|r| r["id"].as_str().is_none_or(|i| !i.starts_with("bfcl")))
    );

    // Split: BFCL goes to test; every record lands in exactly one split.
    let split_dir = path("split");
    let err = ok(&xtask(&[
        "data",
        "split",
        "--input",
        s(&path("clean.jsonl")),
        "--output-dir",
        s(&split_dir),
        "--validation",
        "0.1",
        "--test",
        "0.2",
    ]));
    assert!(err.contains("eval-only groups in test: 3"), "{err}");
    let train = lines(&split_dir.join("train.jsonl"));
    let val = lines(&split_dir.join("validation.jsonl"));
    let test = lines(&split_dir.join("test.jsonl"));
    assert_eq!(train.len() + val.len() + test.len(), cleaned.len());
    assert!(
        train
            .iter()
            .all(|r| !r["id"].as_str().unwrap().starts_with("bfcl"))
    );
    assert_eq!(lines(&split_dir.join("groups.jsonl")).len(), cleaned.len());

    // Leakage between our own splits passes; a planted copy fails with exit 1.
    let out = xtask(&[
        "data",
        "leakage",
        "--train",
        s(&split_dir.join("train.jsonl")),
        "--test",
        s(&split_dir.join("test.jsonl")),
    ]);
    ok(&out);
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rep["max_similarity"].as_f64().unwrap() <= 0.8, "{rep}");
    let mut leaky = std::fs::read_to_string(split_dir.join("test.jsonl")).unwrap();
    leaky.push_str(
        &std::fs::read_to_string(split_dir.join("train.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .replace("\"id\":\"", "\"id\":\"copy-"),
    );
    leaky.push('\n');
    std::fs::write(path("leaky_test.jsonl"), leaky).unwrap();
    let out = xtask(&[
        "data",
        "leakage",
        "--train",
        s(&split_dir.join("train.jsonl")),
        "--test",
        s(&path("leaky_test.jsonl")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("leakage: highest train-test query similarity 1.000"),
        "{err}"
    );

    // Stats with charts and the cleaning losses.
    let stats_dir = path("stats");
    ok(&xtask(&[
        "data",
        "stats",
        "--input",
        s(&split_dir.join("train.jsonl")),
        s(&split_dir.join("validation.jsonl")),
        s(&split_dir.join("test.jsonl")),
        "--output-dir",
        s(&stats_dir),
        "--clean-report",
        s(&path("clean.report.json")),
    ]));
    let st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stats_dir.join("stats.json")).unwrap())
            .unwrap();
    assert_eq!(st["total"], cleaned.len());
    assert_eq!(st["by_split"]["test"], test.len());
    assert_eq!(st["cleaning"]["dropped_by_reason"]["exact_duplicate"], 3);
    let md = std::fs::read_to_string(stats_dir.join("stats.md")).unwrap();
    assert!(
        md.contains("## Cleaning losses") && md.contains("| exact_duplicate | 3 |"),
        "{md}"
    );
    assert!(
        std::fs::read(stats_dir.join("lengths.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );

    // Export to the three formats.
    for (format, out) in [
        ("openai", "o.jsonl"),
        ("sharegpt", "sg.json"),
        ("toolbench", "t.jsonl"),
    ] {
        ok(&xtask(&[
            "data",
            "export",
            "--format",
            format,
            "--input",
            s(&split_dir.join("train.jsonl")),
            "--output",
            s(&path(out)),
        ]));
        assert!(path(out).exists());
    }
    assert!(path("dataset_info.json").exists());
}

#[test]
fn bad_input_and_bad_config_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"meta\":{\"scenario\":\"x\",\"kind\":\"positive\",\"complexity\":\"simple\",\"language\":\"en\"}}\n{\"id\":\"b\",\"messages\":[{\"role\":\"robot\"}]}\n").unwrap();
    let out = xtask(&[
        "data",
        "clean",
        "--input",
        s(&bad),
        "--output",
        s(&dir.path().join("o.jsonl")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.jsonl:2") && err.contains("messages[0].role"),
        "{err}"
    );
    assert!(!dir.path().join("o.jsonl").exists(), "no output on failure");

    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, "seed = 1\n[mix]\npositive_to_hard_negatives = 4\n").unwrap();
    let out = xtask(&[
        "data",
        "--config",
        s(&cfg),
        "stats",
        "--input",
        s(&bad),
        "--output-dir",
        s(dir.path()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cfg.toml") && err.contains("positive_to_hard_negatives"),
        "{err}"
    );

    let out = xtask(&[
        "data",
        "import",
        "--format",
        "csv",
        "--input",
        s(&bad),
        "--output",
        s(&bad),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown import format `csv`"));
}

#[test]
fn bench_runs_small_without_python() {
    let dir = tempfile::tempdir().unwrap();
    let out = xtask(&[
        "data",
        "bench",
        "--records",
        "2000",
        "--repeats",
        "1",
        "--no-python",
        "--no-write",
        "--workdir",
        s(dir.path()),
    ]);
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("<!-- data-bench -->") && text.contains("| agentune (Rust) |"),
        "{text}"
    );
    assert!(dir.path().join("rust/train.jsonl").exists());
}
