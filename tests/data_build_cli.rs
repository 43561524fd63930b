//! `cargo xtask data build` end to end with the real binary: `--in` tokenizes rendered
//! samples with the cached SmolLM2 tokenizer into shards the reader accepts, reproducibly for
//! one seed; `--config` runs the whole chain into one folder (shards from train and
//! validation only, never test) and skips finished stages on a rerun. Tests needing the model
//! skip (with the reason printed) when it is not cached.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use agentune_data::shards::ShardReader;
use common::{fixture, ok, ok_stdout, s, xtask};

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
        ok_stdout(&xtask(&[
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
    // SmolLM2's own template drops tools, so the shards use the ChatML that renders them.
    assert_eq!(index.chat_template, "chatml");
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

/// A small build config: 80 synthesised trajectories, general SFT data and a public set
/// imported, rendered under four templates, 15 % validation and 15 % test.
fn small_config(dir: &Path, rows_per_shard: usize) -> std::path::PathBuf {
    let general = fixture("data/general_sharegpt.jsonl");
    let agent = common::data_fixture("sharegpt_toolcall.json");
    let out = dir.join("build");
    let text = format!(
        r#"seed = 7

[synth]
count = 80

[render]
templates = ["react", "react_zh", "hermes", "toolllama", "toolllama_zh"]
per_record = 2

[[import]]
path = {general:?}
format = "sharegpt"

[[import]]
path = {agent:?}
format = "sharegpt"
scenario = "imported"

[split]
validation = 0.15
test = 0.15

[stats]
charts = false

[shards]
model = "smollm2"
max_len = 2048
rows_per_shard = {rows_per_shard}

[build]
output_dir = {out:?}
"#
    );
    let path = dir.join("build.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The user's own query of a record: the one its `query:` group names (rendered samples),
/// else its first user message.
fn query(r: &agentune_data::Record) -> &str {
    match r {
        agentune_data::Record::Sample(s) => s
            .group
            .as_deref()
            .and_then(|g| g.strip_prefix("query:"))
            .unwrap_or_else(|| r.query()),
        agentune_data::Record::Trajectory(t) => &t.query,
    }
    .trim()
}

fn decoded_rows(dir: &Path, tok: &agentune_model::ModelTokenizer) -> Vec<String> {
    let reader = ShardReader::open(dir).unwrap();
    reader
        .read_all()
        .unwrap()
        .iter()
        .map(|r| tok.decode(&r.tokens, false).unwrap())
        .collect()
}

#[test]
fn build_from_config_runs_the_chain_keeps_test_out_of_shards_and_resumes() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        println!("skipped: smollm2 is not cached (run `cargo xtask fetch-model`)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = small_config(tmp.path(), 8);
    let out = tmp.path().join("build");
    let first = xtask(&["data", "build", "--config", s(&config)]);
    let err = ok(&first);
    for stage in [
        "synth",
        "import",
        "render",
        "clean",
        "validate",
        "mix",
        "split",
        "leakage",
        "stats",
        "shards train",
        "shards validation",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("] {stage}")) && l.contains(": done in")),
            "no stage {stage}:\n{err}"
        );
    }
    assert!(err.contains("[12/12] shards validation: running"), "{err}");
    // The folder layout.
    for f in [
        "build.json",
        "trajectories.jsonl",
        "imported/00-general_sharegpt.jsonl",
        "imported/01-sharegpt_toolcall.jsonl",
        "samples.jsonl",
        "samples.render.json",
        "clean.jsonl",
        "clean.report.json",
        "clean.rejected.jsonl",
        "valid.jsonl",
        "valid.report.json",
        "valid.rejected.jsonl",
        "mix.jsonl",
        "mix.report.json",
        "split/train.jsonl",
        "split/validation.jsonl",
        "split/test.jsonl",
        "split/groups.jsonl",
        "split/split_report.json",
        "leakage.json",
        "stats/stats.json",
        "stats/stats.md",
        "shards/train/index.json",
        "shards/validation/index.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    assert!(!out.join("shards/test").exists());
    let read = |f: &str| agentune_data::io::read_records(&out.join(f), || {}).unwrap();
    let (train, validation, test) = (
        read("split/train.jsonl"),
        read("split/validation.jsonl"),
        read("split/test.jsonl"),
    );
    assert!(!test.is_empty() && !validation.is_empty() && train.len() > test.len());
    // General SFT data was mixed in.
    let mix: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("mix.report.json")).unwrap())
            .unwrap();
    assert!(mix["selected"].as_u64().unwrap() > 0, "{mix}");
    let stats = std::fs::read_to_string(out.join("stats/stats.md")).unwrap();
    assert!(stats.contains("general"), "{stats}");

    // Shards: the train split's samples in the train shards, the validation split's in the
    // validation shards, and no test query in either.
    let text = agentune_model::ModelText::load("smollm2").unwrap();
    let train_rows = decoded_rows(&out.join("shards/train"), &text.tokenizer).join("\n");
    let val_rows = decoded_rows(&out.join("shards/validation"), &text.tokenizer).join("\n");
    let index = ShardReader::open(out.join("shards/train"))
        .unwrap()
        .index()
        .clone();
    assert_eq!(
        index.samples + index.dropped.dropped_too_long + index.dropped.dropped_untrained,
        train.len()
    );
    assert!(index.shards.len() > 1, "{index:?}");
    // Every packed sample's query is in the train shards.
    let found = train
        .iter()
        .filter(|r| train_rows.contains(query(r)))
        .count();
    assert!(
        found >= index.samples && index.samples > 0,
        "{found} {index:?}"
    );
    for r in &validation {
        assert!(!train_rows.contains(query(r)), "{}", query(r));
    }
    for r in &test {
        let q = query(r);
        assert!(!train_rows.contains(q), "test query in train shards: {q}");
        assert!(
            !val_rows.contains(q),
            "test query in validation shards: {q}"
        );
    }

    // A rerun skips every stage and leaves the files alone.
    let stamp = |f: &str| std::fs::metadata(out.join(f)).unwrap().modified().unwrap();
    let before = (stamp("clean.jsonl"), stamp("shards/train/index.json"));
    let second = xtask(&["data", "build", "--config", s(&config)]);
    let stdout = ok_stdout(&second);
    assert!(stdout.contains("0 stage(s) run, 12 up to date"), "{stdout}");
    assert_eq!(
        before,
        (stamp("clean.jsonl"), stamp("shards/train/index.json"))
    );
    // A changed shard setting reruns the shard stages only.
    let config = small_config(tmp.path(), 4);
    let third = xtask(&["data", "build", "--config", s(&config)]);
    let err = ok(&third);
    assert!(err.contains("clean: up to date, skipped"), "{err}");
    assert!(err.contains("shards train: running"), "{err}");
    assert!(ok_stdout(&third).contains("2 stage(s) run, 10 up to date"));
    assert_eq!(before.0, stamp("clean.jsonl"));
    // A newer input reruns its stage and everything after it.
    std::fs::write(
        out.join("mix.jsonl"),
        std::fs::read(out.join("mix.jsonl")).unwrap(),
    )
    .unwrap();
    let err = ok(&xtask(&["data", "build", "--config", s(&config)]));
    assert!(err.contains("mix: up to date, skipped"), "{err}");
    assert!(err.contains("split: running"), "{err}");
    // --force runs everything.
    let err = ok(&xtask(&[
        "data",
        "build",
        "--config",
        s(&config),
        "--force",
    ]));
    assert!(!err.contains("up to date"), "{err}");
}

#[test]
fn build_config_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[synth]\ncount = 5\nscenario = \"weather\"\n").unwrap();
    let out = xtask(&["data", "build", "--config", s(&bad)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("scenario") && err.contains("line 3"),
        "{err}"
    );
    std::fs::write(
        &bad,
        "[synth]\ncount = 5\n[[import]]\npath = \"no/such/file.jsonl\"\nformat = \"sharegpt\"\n",
    )
    .unwrap();
    let out = xtask(&["data", "build", "--config", s(&bad)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/file.jsonl"), "{err}");
}

#[test]
fn clean_and_stats_measure_lengths_in_model_tokens() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        println!("skipped: smollm2 is not cached (run `cargo xtask fetch-model`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let traj = d.join("traj.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "30",
        "--seed",
        "2",
        "--out",
        s(&traj),
    ]));
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    // Lengths in characters and in tokens over the same records.
    let stats = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "data",
            "stats",
            "--input",
            s(&traj),
            "--output-dir",
            s(dir),
            "--no-charts",
        ];
        args.extend_from_slice(extra);
        ok(&xtask(&args));
        json(&dir.join("stats.json"))["length"].clone()
    };
    let chars = stats(&d.join("sc"), &[]);
    let tokens = stats(&d.join("st"), &["--tokenizer", "smollm2"]);
    assert_eq!(chars["unit"], "chars");
    assert_eq!(tokens["unit"], "tokens");
    let (cmax, tmax) = (
        chars["max"].as_u64().unwrap(),
        tokens["max"].as_u64().unwrap(),
    );
    // Byte-level BPE: a few characters per English token, about one per Chinese character.
    assert!(tmax > 0 && tmax < cmax, "tokens {tmax}, chars {cmax}");
    let md = std::fs::read_to_string(d.join("st/stats.md")).unwrap();
    assert!(md.contains("tokens"), "{md}");
    // A limit between the median and the longest record, in tokens: some records go.
    let limit = (tokens["p50"].as_u64().unwrap() + tmax) / 2;
    let clean = |extra: &[&str]| {
        let out = d.join("clean.jsonl");
        let mut args = vec![
            "data",
            "clean",
            "--input",
            s(&traj),
            "--output",
            s(&out),
            "--no-near-dedup",
        ];
        args.extend_from_slice(extra);
        ok(&xtask(&args));
        json(&d.join("clean.report.json"))
    };
    let limit = limit.to_string();
    let r = clean(&["--tokenizer", "smollm2", "--max-length", &limit]);
    assert_eq!(r["length_unit"], "tokens");
    let dropped = r["dropped_by_reason"]["over_length"].as_u64().unwrap_or(0);
    assert!(dropped > 0 && dropped < 30, "{r}");
    // The same number as a character limit drops more (records are longer in characters).
    let r = clean(&["--max-length", &limit]);
    assert_eq!(r["length_unit"], "chars");
    assert!(
        r["dropped_by_reason"]["over_length"].as_u64().unwrap_or(0) > dropped,
        "{r}"
    );
    // An unknown model is a clear error.
    let out = xtask(&[
        "data",
        "clean",
        "--input",
        s(&traj),
        "--output",
        s(&d.join("x.jsonl")),
        "--tokenizer",
        "no-such-model",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-model"));
}
