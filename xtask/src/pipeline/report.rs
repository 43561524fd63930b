//! The pipeline's report: `report.md` and `report.json` in the run folder, base against tuned
//! on every evaluated metric (with paired bootstrap intervals from `eval report`), the data and
//! training figures, and the time and memory of every stage; plus the closing text that says
//! how to serve the tuned model.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::runner::{StageCtx, StageRecord};
use super::{Paths, PipelineConfig, args, s};

/// The eval suites the pipeline compares, with their folder and a title.
const SUITES: [(&str, &str); 3] = [
    (
        "heldout",
        "Held-out test split (step level, teacher forcing)",
    ),
    (
        "unseen",
        "Unseen templates (test trajectories under held-out templates)",
    ),
    ("bfcl", "BFCL subsets (AST checking)"),
];

/// The metrics shown first, in this order, when a suite reports them.
const HEADLINE: [&str; 9] = [
    "strict_valid",
    "lenient_valid",
    "tool_name_acc",
    "arg_exact",
    "arg_f1",
    "abstained",
    "no_call",
    "called",
    "valid",
];

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// One metric, base against tuned.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    metric: String,
    base: Option<f64>,
    tuned: Option<f64>,
    n: Option<u64>,
    delta: Option<f64>,
    lo: Option<f64>,
    hi: Option<f64>,
    significant: bool,
}

/// The metric rows of an `eval report` report.json (two checkpoints).
fn rows_of(report: &Value) -> Vec<(String, Vec<Row>)> {
    let mut out = Vec::new();
    for suite in report["suites"].as_array().into_iter().flatten() {
        let name = suite["suite"].as_str().unwrap_or("suite").to_owned();
        let mut rows = Vec::new();
        for m in suite["metrics"].as_array().into_iter().flatten() {
            let values = &m["values"];
            let d = &m["vs_baseline"][1];
            rows.push(Row {
                metric: m["name"].as_str().unwrap_or("?").to_owned(),
                base: values[0]["mean"].as_f64(),
                tuned: values[1]["mean"].as_f64(),
                n: values[1]["n"].as_u64().or_else(|| values[0]["n"].as_u64()),
                delta: d["delta"].as_f64(),
                lo: d["lo"].as_f64(),
                hi: d["hi"].as_f64(),
                significant: d["significant"].as_bool().unwrap_or(false),
            });
        }
        rows.sort_by_key(|r| {
            HEADLINE
                .iter()
                .position(|h| *h == r.metric)
                .unwrap_or(HEADLINE.len())
        });
        out.push((name, rows));
    }
    out
}

fn f(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| metric | base | tuned | tuned - base | 95% interval | items |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let mark = if r.significant { " *" } else { "" };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {}{mark} | {} | {} |",
            r.metric,
            f(r.base),
            f(r.tuned),
            r.delta.map_or_else(|| "-".into(), |d| format!("{d:+.3}")),
            match (r.lo, r.hi) {
                (Some(lo), Some(hi)) => format!("[{lo:+.3}, {hi:+.3}]"),
                _ => "-".into(),
            },
            r.n.map_or_else(|| "-".into(), |n| n.to_string())
        );
    }
    t
}

/// The training curve's figures from the trainer's metrics.
fn training(paths: &Paths) -> Result<Value> {
    let run = paths.train().join("run");
    let m = agentune_trainer::metrics::read_metrics(&run.join("metrics.jsonl"))
        .context("cannot read the training metrics")?;
    let k = m.len().clamp(1, 5);
    let mean = |xs: &[agentune_trainer::metrics::StepMetrics]| {
        (!xs.is_empty()).then(|| xs.iter().map(|x| x.loss).sum::<f64>() / xs.len() as f64)
    };
    let first = mean(&m[..k.min(m.len())]);
    let last = mean(&m[m.len().saturating_sub(k)..]);
    let seconds: f64 = m.iter().map(|x| x.step_s).sum();
    let tokens: usize = m.iter().map(|x| x.tokens).sum();
    let peak = m.iter().filter_map(|x| x.peak_rss_mib).fold(0.0, f64::max);
    Ok(json!({
        "steps": m.len(),
        "first_loss": first,
        "last_loss": last,
        "loss_fell": matches!((first, last), (Some(a), Some(b)) if b < a),
        "window": k,
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": if seconds > 0.0 { tokens as f64 / seconds } else { 0.0 },
        "peak_rss_mib": peak,
        "loss": m.iter().map(|x| x.loss).collect::<Vec<_>>(),
    }))
}

/// Writes the report (running `eval report` for each suite both models were scored on).
pub(super) fn write(
    ctx: &mut StageCtx,
    cfg: &PipelineConfig,
    paths: &Paths,
    base: &str,
    tuned: &Path,
    stages: &BTreeMap<String, StageRecord>,
) -> Result<()> {
    let root = &paths.root;
    let out = paths.report_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut md = String::new();
    let _ = writeln!(md, "# Pipeline `{}`: base vs tuned\n", cfg.name);
    let _ = writeln!(
        md,
        "Base model: `{base}`. Tuned checkpoint: `{}`. Settings: `config.toml`; stage logs: `logs/`.\n",
        tuned.display()
    );
    let _ = writeln!(
        md,
        "Differences marked * have a paired bootstrap interval that excludes zero.\n"
    );
    let mut suites_json = serde_json::Map::new();
    for (suite, title) in SUITES {
        let (b, t) = (
            paths.eval("base").join(suite),
            paths.eval("tuned").join(suite),
        );
        if !(b.is_dir() && t.is_dir()) {
            continue;
        }
        let dest = out.join(suite);
        ctx.xtask(&args(&[
            "eval",
            "report",
            &s(&b),
            &s(&t),
            "--names",
            "base,tuned",
            "--out",
            &s(&dest),
        ]))?;
        let report = read_json(&dest.join("report.json"))?;
        let _ = writeln!(md, "## {title}\n");
        for (name, rows) in rows_of(&report) {
            let _ = writeln!(md, "Suite `{name}`:\n\n{}", table(&rows));
            suites_json.insert(format!("{suite}/{name}"), serde_json::to_value(&rows)?);
        }
        let _ = writeln!(
            md,
            "Per category, confusion matrices and charts: [report/{suite}/report.md](report/{suite}/report.md).\n"
        );
    }
    let forgetting = paths.forgetting().join("forgetting.json");
    let forgetting = if forgetting.is_file() {
        let v = read_json(&forgetting)?;
        let _ = writeln!(md, "## Forgetting (general holdout)\n");
        let _ = writeln!(
            md,
            "| measure | base | tuned |\n|---|---|---|\n| answer perplexity | {} | {} |",
            f(v["base"]["perplexity"].as_f64()),
            f(v["tuned"]["perplexity"].as_f64())
        );
        if v["similarity"].is_object() {
            let _ = writeln!(
                md,
                "| ROUGE-L of own answers to the references | {} | {} |",
                f(v["similarity"]["base_rouge_l"].as_f64()),
                f(v["similarity"]["tuned_rouge_l"].as_f64())
            );
        }
        let _ = writeln!(
            md,
            "\n{} samples; verdict: {}.\n",
            v["samples"],
            if v["regressed"].as_bool().unwrap_or(false) {
                "regression"
            } else {
                "no regression"
            }
        );
        v
    } else {
        Value::Null
    };
    // Data.
    let index = read_json(&paths.build().join("shards/train/index.json"))?;
    let _ = writeln!(md, "## Data\n");
    let _ = writeln!(
        md,
        "Training shards: {} rows of at most {} tokens, {} samples, {} tokens ({} trained on). Counts, lengths and ratios of every split: [data/build/stats/stats.md](data/build/stats/stats.md).\n",
        index["rows"], index["max_len"], index["samples"], index["tokens"], index["trained_tokens"]
    );
    let split = super::read_template_split(paths)?;
    let _ = writeln!(
        md,
        "Templates trained on: {}. Held out: {}.\n",
        split.train.len(),
        split.held_out.len()
    );
    // Training.
    let train = training(paths)?;
    let png = paths.train().join("run/loss.png");
    let chart = if png.is_file() {
        std::fs::copy(&png, out.join("loss.png"))
            .with_context(|| format!("cannot copy {}", png.display()))?;
        "\n\n![training loss](report/loss.png)"
    } else {
        ""
    };
    let _ = writeln!(md, "## Training\n");
    let _ = writeln!(
        md,
        "{} steps; loss (mean of the first and last {} steps) {} -> {}; {:.0} tokens/s; peak memory {:.2} GB.{chart}\n",
        train["steps"],
        train["window"],
        f(train["first_loss"].as_f64()),
        f(train["last_loss"].as_f64()),
        train["tokens_per_s"].as_f64().unwrap_or(0.0),
        train["peak_rss_mib"].as_f64().unwrap_or(0.0) / 1024.0
    );
    // Stages.
    let _ = writeln!(md, "## Stages\n");
    let _ = writeln!(
        md,
        "| stage | wall time (s) | peak memory (GB) | log |\n|---|---|---|---|"
    );
    let mut total = 0.0;
    for name in super::STAGES {
        if let Some(r) = stages.get(name) {
            total += r.seconds;
            let _ = writeln!(
                md,
                "| {name} | {:.1} | {} | `{}` |",
                r.seconds,
                if r.peak_rss > 0 {
                    format!("{:.2}", r.peak_rss as f64 / 1e9)
                } else {
                    "-".into()
                },
                r.log
            );
        }
    }
    let _ = writeln!(
        md,
        "\nStages before the report: {total:.0} s in all (when each last ran).\n"
    );
    let _ = writeln!(md, "## Next\n\n```sh\n{}\n```", next_commands(tuned));
    agentune_schema::write_atomic(root.join("report.md"), md.as_bytes())?;
    let j = json!({
        "name": cfg.name,
        "base": base,
        "tuned": s(tuned),
        "suites": suites_json,
        "forgetting": forgetting,
        "data": {"train_shards": index},
        "templates": {"train": split.train, "held_out": split.held_out},
        "training": train,
        "stages": stages,
    });
    let mut text = serde_json::to_string_pretty(&j)?;
    text.push('\n');
    agentune_schema::write_atomic(root.join("report.json"), text.as_bytes())?;
    Ok(())
}

fn next_commands(tuned: &Path) -> String {
    format!(
        "cargo xtask serve --model {0} --served-model-name tuned --port 8000\ncargo xtask agent run --endpoint http://127.0.0.1:8000/v1 --model tuned \"Will it rain in Beijing tomorrow?\"",
        tuned.display()
    )
}

/// What the pipeline prints at the end: the report, the headline figures, what to run next.
pub(super) fn closing_text(
    cfg: &PipelineConfig,
    paths: &Paths,
    tuned: &Path,
    seconds: f64,
) -> Result<String> {
    let mut t = format!(
        "pipeline `{}` finished in {seconds:.0} s\nreport: {}\n",
        cfg.name,
        paths.root.join("report.md").display()
    );
    let report = read_json(&paths.root.join("report.json"))?;
    let heldout = report["suites"]
        .as_object()
        .and_then(|m| m.iter().find(|(k, _)| k.starts_with("heldout/")))
        .and_then(|(_, v)| v.as_array());
    if let Some(rows) = heldout {
        t.push_str("held-out test split, base -> tuned:\n");
        for r in rows {
            let name = r["metric"].as_str().unwrap_or("?");
            if HEADLINE.contains(&name) {
                let _ = writeln!(
                    t,
                    "  {name:<14} {} -> {}",
                    f(r["base"].as_f64()),
                    f(r["tuned"].as_f64())
                );
            }
        }
    }
    let _ = write!(
        t,
        "serve the tuned model and run the agent against it:\n{}",
        next_commands(tuned)
    );
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_out_headline_first_with_intervals() {
        let report = json!({"suites": [{"suite": "heldout_step", "metrics": [
            {"name": "gave_up", "values": [{"mean": 0.0, "n": 4}, {"mean": 0.0, "n": 4}], "vs_baseline": [null, {"delta": 0.0, "lo": 0.0, "hi": 0.0, "significant": false}]},
            {"name": "strict_valid", "values": [{"mean": 0.25, "n": 4}, {"mean": 1.0, "n": 4}], "vs_baseline": [null, {"delta": 0.75, "lo": 0.5, "hi": 1.0, "significant": true}]}
        ]}]});
        let rows = rows_of(&report);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1[0].metric, "strict_valid");
        assert_eq!(rows[0].1[0].tuned, Some(1.0));
        let md = table(&rows[0].1);
        assert!(
            md.contains("| strict_valid | 0.250 | 1.000 | +0.750 * | [+0.500, +1.000] | 4 |"),
            "{md}"
        );
    }
}
