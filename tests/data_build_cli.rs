//! `cargo xtask data build` end to end with the real binary: synthesised trajectories are
//! rendered, then tokenized with the cached SmolLM2 tokenizer into shards the reader accepts,
//! reproducibly for one seed. Skips (with the reason printed) when the model is not cached.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::Path;
use std::process::{Command, Output};

use agentune_data::shards::ShardReader;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn build_writes_readable_reproducible_shards() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        println!("skipped: smollm2 is not cached (run `cargo xtask fetch-model`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("traj.jsonl");
    let samples = dir.path().join("samples.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "12",
        "--seed",
        "4",
        "--out",
        s(&traj),
    ]));
    ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&samples),
    ]));
    let build = |out: &Path| {
        ok(&xtask(&[
            "data",
            "build",
            "--in",
            s(&samples),
            "--model",
            "smollm2",
            "--out",
            s(out),
            "--max-len",
            "1024",
            "--seed",
            "5",
            "--rows-per-shard",
            "3",
        ]))
    };
    let a = dir.path().join("a");
    let stdout = build(&a);
    assert!(stdout.contains("rows"), "{stdout}");
    let reader = ShardReader::open(&a).unwrap();
    let index = reader.index().clone();
    let rows = reader.read_all().unwrap();
    assert_eq!(rows.len(), index.rows);
    assert!(index.samples > 0 && index.trained_tokens > 0);
    assert!(index.trained_tokens < index.tokens);
    assert_eq!(index.chat_template.split('-').next(), Some("jinja"));
    for r in &rows {
        assert!(r.tokens.len() <= 1024);
        assert!(r.tokens.iter().all(|&t| (t as usize) < index.vocab_size));
    }
    let b = dir.path().join("b");
    build(&b);
    assert_eq!(ShardReader::open(&b).unwrap().read_all().unwrap(), rows);

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{not json\n").unwrap();
    let out = xtask(&[
        "data",
        "build",
        "--in",
        s(&bad),
        "--out",
        s(&dir.path().join("c")),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.jsonl"));
}
