//! `cargo xtask eval forgetting` end to end: the general records of a held-out set (imported
//! ShareGPT conversations mixed with rendered agent samples) are scored in-process by a tiny
//! base checkpoint and two "tuned" ones (a copy, and one with much sharper random weights):
//! perplexity of the reference answers and ROUGE-L of each model's own greedy answers, with
//! the regression flag and its exit status for CI gates.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

mod common;

use std::path::Path;

use common::{
    fails, fixture, lines, ok, ok_stdout, s, tiny_checkpoint, tiny_checkpoint_with, xtask,
};
use serde_json::Value;

fn forgetting(
    samples: &Path,
    base: &Path,
    tuned: &Path,
    out: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec![
        "eval",
        "forgetting",
        "--samples",
        s(samples),
        "--base",
        s(base),
        "--tuned",
        s(tuned),
        "--max-new-tokens",
        "8",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    xtask(&args)
}

fn report(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("forgetting.json")).unwrap()).unwrap()
}

#[test]
fn forgetting_flags_a_sharper_random_model_and_not_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let traj = dir.path().join("t.jsonl");
    ok(&xtask(&[
        "data",
        "synth",
        "--count",
        "16",
        "--seed",
        "5",
        "--out",
        s(&traj),
    ]));
    let agent = dir.path().join("agent.jsonl");
    ok(&xtask(&[
        "data",
        "render",
        "--in",
        s(&traj),
        "--out",
        s(&agent),
        "--templates",
        "react",
    ]));
    let imported = dir.path().join("general.jsonl");
    ok(&xtask(&[
        "data",
        "import",
        "--format",
        "sharegpt",
        "--input",
        &fixture("data/general_sharegpt.jsonl"),
        "--output",
        s(&imported),
    ]));
    // The holdout mixes agent samples and general ones; only the general ones are scored.
    let samples = dir.path().join("test.jsonl");
    let mixed =
        std::fs::read_to_string(&agent).unwrap() + &std::fs::read_to_string(&imported).unwrap();
    std::fs::write(&samples, mixed).unwrap();
    let general = lines(&samples)
        .iter()
        .filter(|r| r["meta"]["kind"] == "general")
        .count();
    assert_eq!(general, 12);
    let base = dir.path().join("base");
    let copy = dir.path().join("copy");
    let sharp = dir.path().join("sharp");
    tiny_checkpoint(&base, 7);
    tiny_checkpoint(&copy, 7);
    tiny_checkpoint_with(&sharp, 7, 2.0);

    // The same weights: identical scores, no regression.
    let same = dir.path().join("same");
    let text = ok_stdout(&forgetting(
        &samples,
        &base,
        &copy,
        &same,
        &["--fail-on-regression"],
    ));
    assert!(text.contains("no regression"), "{text}");
    let r = report(&same);
    assert_eq!(r["samples"], general);
    assert!(
        (r["perplexity_ratio"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{r}"
    );
    // A random model spreads its probability: perplexity near the 258-token vocabulary.
    let ppl = r["base"]["perplexity"].as_f64().unwrap();
    assert!(ppl > 50.0 && ppl < 2000.0, "{r}");
    assert_eq!(r["regressed"], false);
    let sim = &r["similarity"];
    assert_eq!(sim["samples"], general);
    assert_eq!(sim["base_rouge_l"], sim["tuned_rouge_l"]);
    assert_eq!(sim["regressed"], false);
    let rows = lines(&same.join("forgetting.jsonl"));
    assert_eq!(rows.len(), general);
    for row in &rows {
        assert_eq!(row["suite"], "forgetting");
        assert_eq!(row["meta"]["kind"], "general");
        assert_eq!(row["metrics"]["nll_increase"], 0.0);
        assert_eq!(row["metrics"]["rouge_l_change"], 0.0);
        assert!(row["metrics"]["tokens"].as_f64().unwrap() > 0.0);
        assert!(
            row["expected"]["answer"]
                .as_str()
                .is_some_and(|a| !a.is_empty())
        );
        assert!(row["response"].is_string());
    }

    // Sharper random weights: confidently wrong, far higher perplexity: flagged.
    let worse = dir.path().join("worse");
    let text = ok_stdout(&forgetting(
        &samples,
        &base,
        &sharp,
        &worse,
        &["--no-similarity"],
    ));
    assert!(text.contains("REGRESSION"), "{text}");
    let r = report(&worse);
    assert!(r["perplexity_ratio"].as_f64().unwrap() > 1.1, "{r}");
    assert_eq!(r["perplexity_regressed"], true);
    assert_eq!(r["regressed"], true);
    assert!(r["nll_diff"]["significant"].as_bool().unwrap());
    assert!(r["similarity"].is_null());
    // As a CI gate it fails; the outputs are written all the same.
    let gate = dir.path().join("gate");
    let err = fails(&forgetting(
        &samples,
        &base,
        &sharp,
        &gate,
        &["--no-similarity", "--fail-on-regression"],
    ));
    assert!(err.contains("forgot"), "{err}");
    assert!(gate.join("forgetting.json").is_file());
    // The two checkpoints side by side in a comparison report: the sharper one's answer NLL
    // is significantly higher.
    let cmp = dir.path().join("report");
    let text = ok_stdout(&xtask(&[
        "eval",
        "report",
        s(&same),
        s(&worse),
        "--names",
        "copy,sharp",
        "--out",
        s(&cmp),
    ]));
    assert!(
        text.contains("significant: forgetting nll_tuned: sharp +"),
        "{text}"
    );
    let md = std::fs::read_to_string(cmp.join("report.md")).unwrap();
    assert!(md.contains("## forgetting"), "{md}");
    assert!(cmp.join("counts_forgetting.png").is_file());

    // The other way round it is an improvement, not a regression.
    let better = dir.path().join("better");
    let text = ok_stdout(&forgetting(
        &samples,
        &sharp,
        &base,
        &better,
        &["--no-similarity"],
    ));
    assert!(text.contains("no regression"), "{text}");

    // A holdout without samples of the kinds asked for, and an unknown kind, are errors that
    // say so.
    let none = dir.path().join("none");
    let err = fails(&forgetting(&traj, &base, &copy, &none, &[]));
    assert!(err.contains("has no sample of kind general"), "{err}");
    let err = fails(&forgetting(
        &samples,
        &base,
        &copy,
        &none,
        &["--kinds", "generl"],
    ));
    assert!(err.contains("generl"), "{err}");
}
