//! The reply corpus: for every shipped template, realistic replies (correct, slightly and badly
//! malformed) from `tests/corpus/<template>.jsonl`, each parsed in strict and lenient mode and
//! compared with the expected step or error. `tests/corpus/generate.py` writes the files.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Message, Step};
use serde_json::Value;

fn check_one(t: &Template, rec: &Value, mode: ParseMode, key: &str) -> Result<(), String> {
    let result = match (rec.get("reply"), rec.get("message")) {
        (Some(Value::String(reply)), _) => t.parse(reply, mode).map_err(|e| e.to_string()),
        (_, Some(m)) => match Message::from_openai(m) {
            Ok(msg) => t.parse_message(&msg, mode).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        _ => return Err("record has neither `reply` nor `message`".into()),
    };
    let expected = &rec[key];
    match (expected.get("error"), result) {
        (Some(want), Err(e)) => {
            let want = want.as_str().unwrap_or_default();
            if e.contains(want) {
                Ok(())
            } else {
                Err(format!("error `{e}` lacks `{want}`"))
            }
        }
        (Some(_), Ok(step)) => Err(format!(
            "expected an error, parsed {}",
            serde_json::to_string(&step).unwrap()
        )),
        (None, Err(e)) => Err(format!("expected a step, got error: {e}")),
        (None, Ok(step)) => {
            let want: Step = serde_json::from_value(expected.clone())
                .map_err(|e| format!("bad expected step: {e}"))?;
            if step == want {
                Ok(())
            } else {
                Err(format!(
                    "got {}, expected {}",
                    serde_json::to_string(&step).unwrap(),
                    serde_json::to_string(&want).unwrap()
                ))
            }
        }
    }
}

#[test]
fn every_corpus_reply_parses_as_expected_in_both_modes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut failures = Vec::new();
    for id in Template::builtin_ids() {
        let t = Template::builtin(id).unwrap();
        let path = dir.join(format!("{id}.jsonl"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut total = 0;
        for (n, line) in text.lines().enumerate() {
            let rec: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), n + 1));
            total += 1;
            *kinds
                .entry(rec["kind"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
            for (mode, key) in [
                (ParseMode::Strict, "strict"),
                (ParseMode::Lenient, "lenient"),
            ] {
                if let Err(e) = check_one(&t, &rec, mode, key) {
                    failures.push(format!(
                        "{}:{} ({}, {}) {key}: {e}",
                        path.file_name().unwrap().to_string_lossy(),
                        n + 1,
                        rec["id"].as_str().unwrap_or("?"),
                        rec["note"].as_str().unwrap_or("?"),
                    ));
                }
            }
        }
        assert!(total >= 60, "{id}: only {total} corpus replies");
        for kind in ["correct", "slight", "bad"] {
            assert!(
                kinds.get(kind).copied().unwrap_or(0) >= 4,
                "{id}: too few `{kind}` replies: {kinds:?}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
