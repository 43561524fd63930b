//! `cargo xtask data synth`, `data render` and the strict-format check of `data clean`, end to
//! end with the real binary: reproducible output, scenario and language selection, rendering
//! under shipped and file templates with weights, and malformed samples dropped by cleaning.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{lines, ok, s, xtask};

#[test]
fn synth_is_reproducible_and_follows_scenarios_and_languages() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let err = ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "40",
        "--seed",
        "3",
        "--out",
        s(&a),
    ]));
    assert!(err.contains("synthesised 40 trajectories"), "{err}");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "40",
        "--seed",
        "3",
        "--output",
        s(&b),
    ]));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let records = lines(&a);
    assert_eq!(records.len(), 40);
    let langs: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r["meta"]["language"].as_str().unwrap())
        .collect();
    assert_eq!(langs.len(), 2);

    let c = dir.path().join("c.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "20",
        "--seed",
        "9",
        "--scenarios",
        "weather,chain",
        "--lang",
        "zh",
        "--out",
        s(&c),
    ]));
    for r in lines(&c) {
        assert_eq!(r["meta"]["language"], "zh");
        let sc = r["meta"]["scenario"].as_str().unwrap();
        assert!(sc == "weather" || sc == "chain", "{sc}");
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["check"] == "execution" && c["passed"] == true)
        );
    }

    let bad = xtask(&[
        "data",
        "synth",
        "--count",
        "2",
        "--scenarios",
        "stocks",
        "--out",
        s(&dir.path().join("x.jsonl")),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scenario `stocks`"));
}

#[test]
fn render_then_clean_keeps_valid_samples_and_drops_malformed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("t.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "30",
        "--seed",
        "5",
        "--out",
        s(&traj),
    ]));
    // A template file, as a meta-agent would write one.
    let react = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/templates/react.toml");
    let text = std::fs::read_to_string(react)
        .unwrap()
        .replace("id = \"react\"", "id = \"react_generated\"");
    let gen_dir = dir.path().join("generated");
    std::fs::create_dir(&gen_dir).unwrap();
    std::fs::write(gen_dir.join("react_generated.toml"), text).unwrap();
    let pattern = format!("{}/*.toml", gen_dir.display());

    let samples = dir.path().join("s.jsonl");
    let err = ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&samples),
        "--templates",
        &format!("hermes,openai,{pattern}"),
        "--weights",
        "1,1,2",
        "--per-record",
        "2",
    ]));
    assert!(err.contains("rendered 30 trajectories"), "{err}");
    let rendered = lines(&samples);
    assert_eq!(rendered.len(), 60, "{err}");
    let ids: std::collections::BTreeSet<&str> = rendered
        .iter()
        .map(|r| r["template_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains("react_generated"), "{ids:?}");
    assert!(
        ids.iter()
            .all(|i| ["hermes", "openai", "react_generated"].contains(i))
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.render.json")).unwrap())
            .unwrap();
    assert_eq!(report["samples"], 60);

    // Break one assistant turn of a react_generated sample, then clean.
    let mut broken = rendered.clone();
    let victim = broken
        .iter_mut()
        .find(|r| r["template_id"] == "react_generated")
        .unwrap();
    let msgs = victim["messages"].as_array_mut().unwrap();
    let reply = msgs.iter_mut().find(|m| m["role"] == "assistant").unwrap();
    reply["content"] = serde_json::json!("Thought maybe I call something");
    let victim_id = victim["id"].as_str().unwrap().to_owned();
    let input = dir.path().join("broken.jsonl");
    let text: String = broken.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&input, text).unwrap();

    let out = dir.path().join("clean.jsonl");
    let rejected = dir.path().join("rejected.jsonl");
    ok(&xtask(&[
        "data",
        "clean",
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--rejected",
        s(&rejected),
        "--no-near-dedup",
        "--strict-templates",
        &pattern,
    ]));
    let dropped = lines(&rejected);
    let strict: Vec<_> = dropped
        .iter()
        .filter(|d| d["reason"] == "strict_format")
        .collect();
    assert_eq!(strict.len(), 1, "{dropped:?}");
    assert_eq!(strict[0]["id"], victim_id.as_str());

    // Without the generated template the check cannot read those samples and leaves them.
    let out2 = dir.path().join("clean2.jsonl");
    let rejected2 = dir.path().join("rejected2.jsonl");
    ok(&xtask(&[
        "data",
        "clean",
        "--input",
        s(&input),
        "--output",
        s(&out2),
        "--rejected",
        s(&rejected2),
        "--no-near-dedup",
    ]));
    assert!(
        lines(&rejected2)
            .iter()
            .all(|d| d["reason"] != "strict_format")
    );
}
