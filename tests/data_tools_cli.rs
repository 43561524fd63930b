//! `cargo xtask data tools synth|import`, `data synth --fc` and the function-calling stage of
//! `data build`, end to end with the real binary: reproducible catalogs, BFCL near duplicates
//! reported and left out, ToolBench / OpenAI / MCP imports, function-calling trajectories at
//! their configured shares rendered into samples, and the chain carrying them into the splits.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::collections::BTreeMap;

use common::{data_fixture, lines, ok, ok_stdout, s, xtask};

#[test]
fn tools_synth_is_reproducible_and_leaves_out_bfcl_near_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-bfcl");
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    for out in [&a, &b] {
        let err = ok(&xtask(&[
            "data",
            "tools",
            "synth",
            "--count",
            "300",
            "--seed",
            "7",
            "--bfcl",
            s(&missing),
            "--out",
            s(out),
        ]));
        assert!(err.contains("synthesised 300 tool specs"), "{err}");
        assert!(err.contains("overlap check skipped"), "{err}");
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let specs = lines(&a);
    let names: std::collections::BTreeSet<&str> =
        specs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 300);
    assert!(names.iter().any(|n| n.contains('.')));
    assert!(
        names
            .iter()
            .any(|n| n.chars().any(|c| c.is_ascii_uppercase()))
    );

    // A BFCL document equal to one of ours: reported, and left out of the catalog.
    let bfcl = dir.path().join("bfcl");
    std::fs::create_dir(&bfcl).unwrap();
    let first = &specs[0];
    let doc = serde_json::json!({"id": "simple_0", "question": [], "function": [
        {"name": first["name"], "description": first["description"], "parameters": {}}
    ]});
    std::fs::write(bfcl.join("BFCL_v4_simple_python.json"), format!("{doc}\n")).unwrap();
    let c = dir.path().join("c.jsonl");
    let err = ok(&xtask(&[
        "data",
        "tools",
        "synth",
        "--count",
        "300",
        "--seed",
        "7",
        "--bfcl",
        s(&bfcl),
        "--out",
        s(&c),
    ]));
    assert!(err.contains("BFCL overlap"), "{err}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("c.bfcl_overlap.json")).unwrap(),
    )
    .unwrap();
    let flagged: Vec<&str> = report["near_duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["tool"].as_str().unwrap())
        .collect();
    assert!(
        flagged.contains(&first["name"].as_str().unwrap()),
        "{report}"
    );
    assert!(err.contains("drew others in their place"), "{err}");
    // Left-out functions are replaced: still 300, the others as before, then further draws.
    let kept = lines(&c);
    assert_eq!(kept.len(), 300);
    assert!(kept.iter().all(|k| k["name"] != first["name"]));
    let unflagged: Vec<&serde_json::Value> = specs
        .iter()
        .filter(|x| !flagged.contains(&x["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kept[..unflagged.len()].iter().collect::<Vec<_>>(),
        unflagged
    );
}

#[test]
fn tools_import_and_fc_synth_render_samples_at_their_shares() {
    let dir = tempfile::tempdir().unwrap();
    let tb = dir.path().join("toolbench.jsonl");
    let err = ok(&xtask(&[
        "data",
        "tools",
        "import",
        "--format",
        "toolbench",
        "--input",
        &data_fixture("tools/toolenv"),
        "--out",
        s(&tb),
    ]));
    assert!(
        err.contains("imported 3 tool spec(s) from 2 file(s)"),
        "{err}"
    );
    let mcp = dir.path().join("mcp.jsonl");
    ok(&xtask(&[
        "data",
        "tools",
        "import",
        "--format",
        "mcp",
        "--input",
        &data_fixture("tools/mcp_tools.json"),
        "--out",
        s(&mcp),
    ]));
    assert_eq!(lines(&mcp).len(), 2);
    let bad = ok_or_err(&xtask(&[
        "data",
        "tools",
        "import",
        "--format",
        "toolbench",
        "--input",
        &data_fixture("tools/openai_tools.json"),
        "--out",
        s(&dir.path().join("x.jsonl")),
    ]));
    assert!(
        bad.contains("openai_tools.json") && bad.contains("tool_name"),
        "{bad}"
    );

    let fc = dir.path().join("fc.jsonl");
    let samples = dir.path().join("fc_samples.jsonl");
    let tools = format!("{},{}", s(&tb), s(&mcp));
    let err = ok(&xtask(&[
        "data",
        "synth",
        "--fc",
        "--count",
        "100",
        "--seed",
        "3",
        "--tool-count",
        "200",
        "--tools",
        &tools,
        "--out",
        s(&fc),
        "--render-output",
        s(&samples),
    ]));
    assert!(
        err.contains("synthesised 100 function-calling trajectories"),
        "{err}"
    );
    let records = lines(&fc);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        *kinds
            .entry(r["meta"]["scenario"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    // Default shares: positive : irrelevance 4 : 1, positives 0.4 / 0.3 / 0.15 / 0.15.
    assert_eq!(kinds["fc_irrelevance"], 20, "{kinds:?}");
    assert_eq!(kinds["fc_simple"], 32, "{kinds:?}");
    assert_eq!(kinds["fc_multiple"], 24, "{kinds:?}");
    assert_eq!(kinds["fc_parallel"], 12, "{kinds:?}");
    assert_eq!(kinds["fc_parallel_multiple"], 12, "{kinds:?}");
    let rendered = lines(&samples);
    assert!(rendered.len() >= 150, "{}", rendered.len());
    let templates: std::collections::BTreeSet<&str> = rendered
        .iter()
        .map(|r| r["template_id"].as_str().unwrap())
        .collect();
    assert!(templates.len() >= 4, "{templates:?}");

    // Only the catalogs: imported tools alone.
    let only = dir.path().join("only.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--fc",
        "--count",
        "10",
        "--tool-count",
        "0",
        "--lang",
        "en",
        "--tools",
        &tools,
        "--out",
        s(&only),
    ]));
    let names: std::collections::BTreeSet<String> = lines(&only)
        .iter()
        .flat_map(|r| r["tools"].as_array().unwrap().clone())
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.contains("_for_") || n == "search_issues" || n == "read_page"),
        "{names:?}"
    );
}

fn ok_or_err(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn data_build_carries_fc_trajectories_into_the_splits() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("data.toml");
    std::fs::write(
        &cfg,
        format!(
            "seed = 5\n[synth]\ncount = 30\n[fc]\ncount = 60\ntools = 120\nbfcl_data = \"{}\"\n[stats]\ncharts = false\n[shards]\nmodel = \"\"\n",
            s(&dir.path().join("no-bfcl"))
        ),
    )
    .unwrap();
    let out = dir.path().join("build");
    let stdout = ok_stdout(&xtask(&[
        "data",
        "build",
        "--config",
        s(&cfg),
        "--out",
        s(&out),
    ]));
    assert!(stdout.contains("stage(s) run"), "{stdout}");
    assert_eq!(lines(&out.join("fc_trajectories.jsonl")).len(), 60);
    let mut fc = 0;
    for split in ["train", "validation", "test"] {
        for r in lines(&out.join("split").join(format!("{split}.jsonl"))) {
            fc += usize::from(r["meta"]["scenario"].as_str().unwrap().starts_with("fc_"));
        }
    }
    assert!(fc >= 60, "{fc} function-calling samples in the splits");
    // A rerun skips every stage.
    let again = ok_stdout(&xtask(&[
        "data",
        "build",
        "--config",
        s(&cfg),
        "--out",
        s(&out),
    ]));
    assert!(again.contains("0 stage(s) run"), "{again}");
}

#[test]
fn agent_call_and_tools_answer_catalog_functions_by_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    let cat = dir.path().join("mcp.jsonl");
    ok(&xtask(&[
        "data",
        "tools",
        "import",
        "--format",
        "mcp",
        "--input",
        &data_fixture("tools/mcp_tools.json"),
        "--out",
        s(&cat),
    ]));
    let listed = ok_stdout(&xtask(&["agent", "tools", "--catalog", s(&cat)]));
    assert!(
        listed.lines().any(|l| l == "search_issues") && listed.lines().any(|l| l == "calculator"),
        "{listed}"
    );
    let call = |args: &str, seed: &str| {
        xtask(&[
            "agent",
            "call",
            "--notes-dir",
            s(&notes),
            "--catalog",
            s(&cat),
            "--sim-seed",
            seed,
            "search_issues",
            args,
        ])
    };
    let a = ok_stdout(&call(
        r#"{"text": "panic on empty input", "limit": 3}"#,
        "1",
    ));
    let b = ok_stdout(&call(
        r#"{"text": "panic on empty input", "limit": 3}"#,
        "1",
    ));
    assert_eq!(a, b, "the same call gets the same simulated answer");
    let obs: serde_json::Value = serde_json::from_str(a.trim()).unwrap();
    assert!(obs.get("is_error").is_none(), "{obs}");
    let content: serde_json::Value =
        serde_json::from_str(obs["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["status"], "success", "{content}");
    assert!(content["result"]["items"].is_array(), "{content}");
    // Arguments are validated against the catalog's schema.
    let bad = call(r#"{"limit": 3}"#, "1");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("text"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // A catalog function may not shadow a built-in tool.
    let clash = dir.path().join("clash.jsonl");
    std::fs::write(
        &clash,
        "{\"name\": \"calculator\", \"description\": \"x\", \"parameters\": {\"type\": \"object\"}}\n",
    )
    .unwrap();
    let out = xtask(&["agent", "tools", "--catalog", s(&clash)]);
    assert!(out.status.success(), "listing only reads the catalog");
    let out = xtask(&[
        "agent",
        "call",
        "--notes-dir",
        s(&notes),
        "--catalog",
        s(&clash),
        "calculator",
        r#"{"expression": "1+1"}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("clash.jsonl") && err.contains("calculator"),
        "{err}"
    );
}
