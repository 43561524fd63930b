//! Checkpoint comparison reports: several eval output folders (one per checkpoint) read side
//! by side, each metric's mean per checkpoint, per-category means of each suite's main
//! metric, the confusion of chosen vs gold tools, and every difference from the baseline (the
//! first checkpoint) with a paired bootstrap interval over the items both scored.
//!
//! A run folder holds, directly or in its subfolders one level down, the per-item files the
//! eval commands write:
//!
//! | suite | file | per-item scores |
//! |---|---|---|
//! | `bfcl` | `verdicts.jsonl` (`eval bfcl`) | `accuracy` = `valid` as 0/1, category = BFCL category; aggregates from `summary.json` beside it |
//! | `steps` | `steps.jsonl` (`eval steps`) | every `metrics` entry of the eval record, category = scenario; chosen vs gold tools from `parsed` and `expected` |
//! | `episodes` | `episodes.jsonl` (`eval episodes`) | every `metrics` entry, category = scenario |
//! | `forgetting` | `forgetting.jsonl` (`eval forgetting`, the checkpoint as `--tuned`) | every `metrics` entry, category = scenario |
//!
//! Items are paired by id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{EvalRecord, JsonlReader, Message};
use serde::Serialize;
use serde_json::Value;

use crate::bootstrap::{BootstrapSettings, PairedDiff, paired_bootstrap};
use crate::chart;
use crate::error::{Error, Result};

/// The suites a report reads, each with its per-item file name.
pub const SUITE_FILES: [(&str, &str); 5] = [
    ("bfcl", "verdicts.jsonl"),
    ("steps", "steps.jsonl"),
    ("episodes", "episodes.jsonl"),
    ("forgetting", "forgetting.jsonl"),
    ("kagent", "kagent.jsonl"),
];

/// The label of "no call" in the confusion of tools.
pub const NO_CALL: &str = "(none)";

/// One scored item of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The item's id (paired across runs).
    pub id: String,
    /// Its category (BFCL category, scenario).
    pub category: Option<String>,
    /// Metric name to score.
    pub metrics: BTreeMap<String, f64>,
    /// `(gold, chosen)` tool names, where known.
    pub tools: Option<(Vec<String>, Vec<String>)>,
}

/// One checkpoint's eval outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The checkpoint's name in the report.
    pub name: String,
    /// The folder read.
    pub dir: PathBuf,
    /// Suite name to its items.
    pub suites: BTreeMap<String, Vec<Item>>,
    /// Suite name to summary aggregates (BFCL's `summary.json` `aggregates`).
    pub aggregates: BTreeMap<String, BTreeMap<String, f64>>,
}

/// Finds each suite's per-item file in `dir` or its subfolders (one level down). Two files of
/// one suite in one run are an error.
pub fn find_suite_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a folder of eval outputs",
            dir.display()
        )));
    }
    let mut folders = vec![dir.to_path_buf()];
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("list", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    folders.extend(subs);
    let mut out: BTreeMap<String, PathBuf> = BTreeMap::new();
    for folder in &folders {
        for (suite, file) in SUITE_FILES {
            let path = folder.join(file);
            if path.is_file() {
                if let Some(prev) = out.get(suite) {
                    return Err(Error::Invalid(format!(
                        "{} has two `{suite}` outputs: {} and {}; give each its own run folder",
                        dir.display(),
                        prev.display(),
                        path.display()
                    )));
                }
                out.insert(suite.to_owned(), path);
            }
        }
    }
    Ok(out)
}

/// Reads one run folder.
pub fn load_run(dir: &Path, name: &str) -> Result<Run> {
    let files = find_suite_files(dir)?;
    if files.is_empty() {
        let names: Vec<&str> = SUITE_FILES.iter().map(|(_, f)| *f).collect();
        return Err(Error::Invalid(format!(
            "{} holds none of {} (in it or one folder down)",
            dir.display(),
            names.join(", ")
        )));
    }
    let mut run = Run {
        name: name.to_owned(),
        dir: dir.to_path_buf(),
        suites: BTreeMap::new(),
        aggregates: BTreeMap::new(),
    };
    let mut templates = TemplateCache::default();
    for (suite, path) in &files {
        let items = if suite == "bfcl" {
            let summary = path.with_file_name("summary.json");
            if summary.is_file() {
                run.aggregates
                    .insert(suite.clone(), read_aggregates(&summary)?);
            }
            read_verdicts(path)?
        } else {
            read_records(path, &mut templates)?
        };
        run.suites.insert(suite.clone(), items);
    }
    Ok(run)
}

fn read_aggregates(path: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(path, Some(e.line()), "", e.to_string()))?;
    let mut out = BTreeMap::new();
    if let Some(a) = v.get("aggregates") {
        let obj = a
            .as_object()
            .ok_or_else(|| Error::input(path, None, "aggregates", "expected an object"))?;
        for (k, x) in obj {
            let f = x.as_f64().ok_or_else(|| {
                Error::input(path, None, format!("aggregates.{k}"), "expected a number")
            })?;
            out.insert(k.clone(), f);
        }
    }
    Ok(out)
}

fn check_unique(
    seen: &mut HashMap<String, usize>,
    id: &str,
    path: &Path,
    line: usize,
) -> Result<()> {
    if let Some(first) = seen.insert(id.to_owned(), line) {
        return Err(Error::input(
            path,
            Some(line),
            "id",
            format!("`{id}` already scored on line {first}"),
        ));
    }
    Ok(())
}

/// Reads `eval bfcl`'s `verdicts.jsonl`: `{"id", "category", "valid", ...}` per line.
pub fn read_verdicts(path: &Path) -> Result<Vec<Item>> {
    let mut reader = JsonlReader::<Value>::open(path)?;
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    while let Some(v) = reader.next() {
        let line = reader.line();
        let v = v?;
        let field =
            |name: &str| Error::input(path, Some(line), name, "missing or of the wrong type");
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| field("id"))?;
        let category = v
            .get("category")
            .and_then(Value::as_str)
            .ok_or_else(|| field("category"))?;
        let valid = v
            .get("valid")
            .and_then(Value::as_bool)
            .ok_or_else(|| field("valid"))?;
        check_unique(&mut seen, id, path, line)?;
        out.push(Item {
            id: id.to_owned(),
            category: Some(category.to_owned()),
            metrics: BTreeMap::from([("accuracy".to_owned(), f64::from(u8::from(valid)))]),
            tools: None,
        });
    }
    Ok(out)
}

/// Templates loaded by id (once each) to parse gold steps; a template that does not load is
/// remembered as missing.
#[derive(Debug, Default)]
pub struct TemplateCache(HashMap<String, Option<Template>>);

impl TemplateCache {
    fn get(&mut self, id: &str) -> Option<&Template> {
        self.0
            .entry(id.to_owned())
            .or_insert_with(|| match Template::resolve(id) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(template = id, error = %e, "cannot load the template; its items get no tool confusion");
                    None
                }
            })
            .as_ref()
    }
}

/// The tool names a gold step calls: the `expected` message's structured calls, or its text
/// parsed with the record's template.
fn gold_tools(record: &EvalRecord, templates: &mut TemplateCache) -> Option<Vec<String>> {
    let message: Message = serde_json::from_value(record.expected.clone()?).ok()?;
    if !message.tool_calls.is_empty() {
        return Some(message.tool_calls.iter().map(|c| c.name.clone()).collect());
    }
    let template = templates.get(record.template_id.as_deref()?)?;
    let step = template
        .parse_message(&message, ParseMode::Strict)
        .or_else(|_| template.parse_message(&message, ParseMode::Lenient))
        .ok()?;
    Some(step.calls().iter().map(|c| c.name.clone()).collect())
}

/// Reads eval records (`steps.jsonl`, `episodes.jsonl`, `forgetting.jsonl`).
pub fn read_records(path: &Path, templates: &mut TemplateCache) -> Result<Vec<Item>> {
    let mut reader = JsonlReader::<EvalRecord>::open(path)?;
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    while let Some(r) = reader.next() {
        let line = reader.line();
        let r = r?;
        check_unique(&mut seen, &r.id, path, line)?;
        let tools = if r.suite == "heldout_step" {
            gold_tools(&r, templates).map(|gold| {
                let chosen = r
                    .parsed
                    .as_ref()
                    .map(|s| s.calls().iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default();
                (gold, chosen)
            })
        } else {
            None
        };
        let category = r
            .category
            .clone()
            .or_else(|| r.meta.as_ref().map(|m| m.scenario.clone()));
        out.push(Item {
            id: r.id,
            category,
            metrics: r.metrics,
            tools,
        });
    }
    Ok(out)
}

/// A metric's mean over one checkpoint's items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    /// The mean.
    pub mean: f64,
    /// Items averaged.
    pub n: usize,
}

/// One metric (or one category of the main metric) across checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The metric or category name.
    pub name: String,
    /// Per checkpoint, its mean (absent where the checkpoint has no such item).
    pub values: Vec<Option<Cell>>,
    /// Per checkpoint, its difference from the baseline over the paired items (absent for
    /// the baseline and where no item pairs).
    pub vs_baseline: Vec<Option<PairedDiff>>,
}

/// Gold tools (rows) against chosen tools (columns) of one checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confusion {
    /// The checkpoint.
    pub checkpoint: String,
    /// Row labels: gold tool names, then [`NO_CALL`].
    pub gold: Vec<String>,
    /// Column labels: chosen tool names, then [`NO_CALL`].
    pub chosen: Vec<String>,
    /// `counts[gold][chosen]`.
    pub counts: Vec<Vec<usize>>,
    /// Calls (or missing calls) counted.
    pub total: usize,
    /// Of which the chosen tool is the gold one.
    pub agree: usize,
}

/// One suite across checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuiteReport {
    /// `bfcl`, `steps`, `episodes`, `forgetting`, `kagent`.
    pub suite: String,
    /// The metric shown per category.
    pub main_metric: String,
    /// Every metric.
    pub metrics: Vec<Row>,
    /// The main metric per category.
    pub categories: Vec<Row>,
    /// Summary aggregates per name, one value per checkpoint (BFCL's columns).
    pub aggregates: BTreeMap<String, Vec<Option<f64>>>,
    /// Chosen vs gold tools, per checkpoint that has any.
    pub confusion: Vec<Confusion>,
}

/// A checkpoint of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    /// Its name.
    pub name: String,
    /// The folder read.
    pub dir: String,
}

/// The comparison of several checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The checkpoints, baseline first.
    pub checkpoints: Vec<Checkpoint>,
    /// The bootstrap behind every interval.
    pub bootstrap: BootstrapSettings,
    /// Per suite found in any run.
    pub suites: Vec<SuiteReport>,
}

fn main_metric(suite: &str, metrics: &BTreeSet<String>) -> String {
    let preferred = match suite {
        "bfcl" => "accuracy",
        "steps" => "tool_name_acc",
        "episodes" => "success",
        "forgetting" => "nll_tuned",
        "kagent" => "score",
        _ => "",
    };
    if metrics.contains(preferred) {
        preferred.to_owned()
    } else {
        metrics.iter().next().cloned().unwrap_or_default()
    }
}

/// One row: `value(item)` picks the score of an item (None: not counted).
fn row(
    name: &str,
    runs: &[&[Item]],
    value: &dyn Fn(&Item) -> Option<f64>,
    settings: BootstrapSettings,
) -> Row {
    let scores: Vec<HashMap<&str, f64>> = runs
        .iter()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| value(i).map(|v| (i.id.as_str(), v)))
                .collect()
        })
        .collect();
    let values = scores
        .iter()
        .map(|m| {
            (!m.is_empty()).then(|| Cell {
                mean: m.values().sum::<f64>() / m.len() as f64,
                n: m.len(),
            })
        })
        .collect();
    let base = &scores[0];
    let vs_baseline = scores
        .iter()
        .enumerate()
        .map(|(k, m)| {
            if k == 0 {
                return None;
            }
            // Paired in the baseline's item order, so the result does not depend on hashing.
            let mut ids: Vec<&str> = base
                .keys()
                .filter(|id| m.contains_key(*id))
                .copied()
                .collect();
            ids.sort_unstable();
            let a: Vec<f64> = ids.iter().map(|id| base[id]).collect();
            let b: Vec<f64> = ids.iter().map(|id| m[id]).collect();
            paired_bootstrap(&a, &b, settings)
        })
        .collect();
    Row {
        name: name.to_owned(),
        values,
        vs_baseline,
    }
}

/// Pairs gold and chosen tool names of one item: shared names on the diagonal, the rest in
/// order, unmatched ones against [`NO_CALL`].
fn align(gold: &[String], chosen: &[String]) -> Vec<(String, String)> {
    let mut rest_chosen: Vec<&String> = chosen.iter().collect();
    let mut rest_gold = Vec::new();
    let mut out = Vec::new();
    for g in gold {
        if let Some(pos) = rest_chosen.iter().position(|c| *c == g) {
            rest_chosen.remove(pos);
            out.push((g.clone(), g.clone()));
        } else {
            rest_gold.push(g);
        }
    }
    let mut chosen_iter = rest_chosen.into_iter();
    for g in rest_gold {
        let c = chosen_iter
            .next()
            .cloned()
            .unwrap_or_else(|| NO_CALL.to_owned());
        out.push((g.clone(), c));
    }
    for c in chosen_iter {
        out.push((NO_CALL.to_owned(), c.clone()));
    }
    out
}

fn confusion_of(checkpoint: &str, items: &[Item]) -> Option<Confusion> {
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    for item in items {
        if let Some((gold, chosen)) = &item.tools {
            for p in align(gold, chosen) {
                *pairs.entry(p).or_default() += 1;
            }
        }
    }
    if pairs.is_empty() {
        return None;
    }
    let labels = |pick: &dyn Fn(&(String, String)) -> &String| -> Vec<String> {
        let mut l: Vec<String> = pairs
            .keys()
            .map(pick)
            .filter(|s| *s != NO_CALL)
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        l.push(NO_CALL.to_owned());
        l
    };
    let gold = labels(&|p| &p.0);
    let chosen = labels(&|p| &p.1);
    let mut counts = vec![vec![0usize; chosen.len()]; gold.len()];
    let mut total = 0;
    let mut agree = 0;
    for ((g, c), n) in &pairs {
        let r = gold.iter().position(|x| x == g).unwrap_or(gold.len() - 1);
        let k = chosen
            .iter()
            .position(|x| x == c)
            .unwrap_or(chosen.len() - 1);
        counts[r][k] += n;
        total += n;
        if g == c {
            agree += n;
        }
    }
    Some(Confusion {
        checkpoint: checkpoint.to_owned(),
        gold,
        chosen,
        counts,
        total,
        agree,
    })
}

/// Compares `runs` (the first is the baseline) suite by suite.
pub fn compare(runs: &[Run], settings: BootstrapSettings) -> Result<Report> {
    if runs.is_empty() {
        return Err(Error::Invalid("no run to report on".into()));
    }
    let suites: BTreeSet<&String> = runs.iter().flat_map(|r| r.suites.keys()).collect();
    let mut out = Vec::new();
    for suite in SUITE_FILES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| suites.iter().any(|x| x.as_str() == *s))
    {
        let empty: Vec<Item> = Vec::new();
        let items: Vec<&[Item]> = runs
            .iter()
            .map(|r| r.suites.get(suite).map_or(&empty[..], Vec::as_slice))
            .collect();
        let metric_names: BTreeSet<String> = items
            .iter()
            .flat_map(|i| i.iter().flat_map(|x| x.metrics.keys().cloned()))
            .collect();
        let main = main_metric(suite, &metric_names);
        let metrics = metric_names
            .iter()
            .map(|m| row(m, &items, &|i: &Item| i.metrics.get(m).copied(), settings))
            .collect();
        let categories: BTreeSet<String> = items
            .iter()
            .flat_map(|i| i.iter().filter_map(|x| x.category.clone()))
            .collect();
        let categories = categories
            .iter()
            .map(|c| {
                row(
                    c,
                    &items,
                    &|i: &Item| {
                        (i.category.as_deref() == Some(c.as_str()))
                            .then(|| i.metrics.get(&main).copied())
                            .flatten()
                    },
                    settings,
                )
            })
            .collect();
        let mut aggregates: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        for (k, run) in runs.iter().enumerate() {
            if let Some(a) = run.aggregates.get(suite) {
                for (name, v) in a {
                    aggregates
                        .entry(name.clone())
                        .or_insert_with(|| vec![None; runs.len()])[k] = Some(*v);
                }
            }
        }
        let confusion = runs
            .iter()
            .zip(&items)
            .filter_map(|(r, i)| confusion_of(&r.name, i))
            .collect();
        out.push(SuiteReport {
            suite: suite.to_owned(),
            main_metric: main,
            metrics,
            categories,
            aggregates,
            confusion,
        });
    }
    Ok(Report {
        checkpoints: runs
            .iter()
            .map(|r| Checkpoint {
                name: r.name.clone(),
                dir: r.dir.display().to_string(),
            })
            .collect(),
        bootstrap: settings,
        suites: out,
    })
}

fn cell_text(row: &Row, k: usize) -> String {
    let Some(v) = row.values.get(k).copied().flatten() else {
        return "-".into();
    };
    let mut s = format!("{:.4} (n={})", v.mean, v.n);
    if let Some(d) = row.vs_baseline.get(k).copied().flatten() {
        s.push_str(&format!(
            "<br>{:+.4} [{:+.4}, {:+.4}]{}",
            d.delta,
            d.lo,
            d.hi,
            if d.significant { " **\\***" } else { "" }
        ));
    }
    s
}

fn table(out: &mut String, first: &str, report: &Report, rows: &[Row]) {
    out.push_str(&format!("| {first} |"));
    for c in &report.checkpoints {
        out.push_str(&format!(" {} |", c.name));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(report.checkpoints.len()));
    out.push('\n');
    for r in rows {
        out.push_str(&format!("| {} |", r.name));
        for k in 0..report.checkpoints.len() {
            out.push_str(&format!(" {} |", cell_text(r, k)));
        }
        out.push('\n');
    }
    out.push('\n');
}

impl Report {
    /// Differences from the baseline whose interval excludes zero: `(suite, metric or
    /// category, checkpoint, difference)`.
    pub fn significant(&self) -> Vec<(String, String, String, PairedDiff)> {
        let mut out = Vec::new();
        for s in &self.suites {
            for (kind, rows) in [("", &s.metrics), ("category ", &s.categories)] {
                for r in rows {
                    for (k, d) in r.vs_baseline.iter().enumerate() {
                        if let Some(d) = d.filter(|d| d.significant) {
                            out.push((
                                s.suite.clone(),
                                format!("{kind}{}", r.name),
                                self.checkpoints[k].name.clone(),
                                d,
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// The report as Markdown; `charts` are `(suite, file name, caption)` to embed.
    pub fn to_markdown(&self, charts: &[(String, String, String)]) -> String {
        let names: Vec<&str> = self.checkpoints.iter().map(|c| c.name.as_str()).collect();
        let mut out = String::from("# Checkpoint comparison\n\n");
        out.push_str(&format!(
            "Checkpoints: {} (baseline: **{}**).\n\n",
            names.join(", "),
            names.first().copied().unwrap_or("-")
        ));
        out.push_str(&format!(
            "Each cell: the mean over the checkpoint's items (n), then its difference from the \
             baseline over the items both scored, with a {:.0}% paired bootstrap interval \
             ({} resamples of items, seed {}). **\\*** marks a difference whose interval \
             excludes zero.\n\n",
            100.0 * self.bootstrap.confidence,
            self.bootstrap.resamples,
            self.bootstrap.seed
        ));
        let sig = self.significant();
        if sig.is_empty() {
            out.push_str("No significant difference from the baseline.\n\n");
        } else {
            out.push_str("Significant differences from the baseline:\n\n");
            for (suite, what, ckpt, d) in &sig {
                out.push_str(&format!(
                    "- {suite} {what}: {ckpt} {:+.4} [{:+.4}, {:+.4}] over {} items\n",
                    d.delta, d.lo, d.hi, d.n
                ));
            }
            out.push('\n');
        }
        for s in &self.suites {
            out.push_str(&format!("## {}\n\n", s.suite));
            table(&mut out, "metric", self, &s.metrics);
            if !s.aggregates.is_empty() {
                out.push_str("Summary aggregates (from `summary.json`):\n\n| aggregate |");
                for n in &names {
                    out.push_str(&format!(" {n} |"));
                }
                out.push_str("\n|---|");
                out.push_str(&"---|".repeat(names.len()));
                out.push('\n');
                for (a, vs) in &s.aggregates {
                    out.push_str(&format!("| {a} |"));
                    for v in vs {
                        match v {
                            Some(v) => out.push_str(&format!(" {v:.4} |")),
                            None => out.push_str(" - |"),
                        }
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
            if !s.categories.is_empty() {
                out.push_str(&format!("### `{}` per category\n\n", s.main_metric));
                table(&mut out, "category", self, &s.categories);
            }
            for c in &s.confusion {
                out.push_str(&format!(
                    "### Tools chosen vs gold: {} ({} of {} agree)\n\nRows: gold tool; columns: chosen tool.\n\n| gold \\ chosen |",
                    c.checkpoint, c.agree, c.total
                ));
                for l in &c.chosen {
                    out.push_str(&format!(" {l} |"));
                }
                out.push_str("\n|---|");
                out.push_str(&"---|".repeat(c.chosen.len()));
                out.push('\n');
                for (g, row) in c.gold.iter().zip(&c.counts) {
                    out.push_str(&format!("| {g} |"));
                    for n in row {
                        out.push_str(&format!(" {n} |"));
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
            for (_, file, caption) in charts.iter().filter(|c| c.0 == s.suite) {
                out.push_str(&format!("![{caption}]({file})\n\n"));
            }
        }
        out
    }

    /// Draws the charts into `dir`; returns `(suite, file name, caption)` per chart.
    pub fn write_charts(&self, dir: &Path) -> Result<Vec<(String, String, String)>> {
        let series: Vec<String> = self.checkpoints.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::new();
        for s in &self.suites {
            let is_rate = |r: &Row| {
                r.values
                    .iter()
                    .flatten()
                    .all(|c| (0.0..=1.0).contains(&c.mean))
            };
            let rates: Vec<&Row> = s.metrics.iter().filter(|r| is_rate(r)).collect();
            let counts: Vec<&Row> = s.metrics.iter().filter(|r| !is_rate(r)).collect();
            let groups: [(&str, &str, Vec<&Row>); 3] = [
                ("metrics", "by checkpoint", rates),
                ("counts", "counts by checkpoint", counts),
                ("categories", "per category", s.categories.iter().collect()),
            ];
            for (kind, what, rows) in groups {
                if rows.is_empty() {
                    continue;
                }
                let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
                let values: Vec<Vec<Option<f64>>> = (0..series.len())
                    .map(|k| rows.iter().map(|r| r.values[k].map(|c| c.mean)).collect())
                    .collect();
                let marks: Vec<Vec<bool>> = (0..series.len())
                    .map(|k| {
                        rows.iter()
                            .map(|r| r.vs_baseline[k].is_some_and(|d| d.significant))
                            .collect()
                    })
                    .collect();
                let title = if kind == "categories" {
                    format!("{} {} {what}", s.suite, s.main_metric)
                } else {
                    format!("{} {what}", s.suite)
                };
                let file = format!("{kind}_{}.png", s.suite);
                chart::grouped_bars(
                    &dir.join(&file),
                    &chart::GroupedBars {
                        title: &title,
                        groups: &names,
                        series: &series,
                        values: &values,
                        marks: &marks,
                    },
                )?;
                out.push((s.suite.clone(), file, title));
            }
            for (k, c) in s.confusion.iter().enumerate() {
                let file = format!("confusion_{}_{k}_{}.png", s.suite, file_safe(&c.checkpoint));
                let title = format!("{} tools: {}", s.suite, c.checkpoint);
                chart::confusion(&dir.join(&file), &title, &c.gold, &c.chosen, &c.counts)?;
                out.push((s.suite.clone(), file, title));
            }
        }
        Ok(out)
    }

    /// Writes `report.json`, the charts (when `charts`) and `report.md` into `dir`, each
    /// atomically; returns the Markdown.
    pub fn write(&self, dir: &Path, charts: bool) -> Result<String> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let mut json = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Invalid(format!("cannot encode the report: {e}")))?;
        json.push('\n');
        agentune_schema::write_atomic(dir.join("report.json"), json.as_bytes())?;
        let drawn = if charts {
            self.write_charts(dir)?
        } else {
            Vec::new()
        };
        let md = self.to_markdown(&drawn);
        agentune_schema::write_atomic(dir.join("report.md"), md.as_bytes())?;
        Ok(md)
    }
}

/// A name usable in a file name: letters, digits, `-`, `_` and `.` kept, the rest `_`.
pub fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(id: usize, category: &str, metric: &str, v: f64) -> Item {
        Item {
            id: format!("i{id}"),
            category: Some(category.into()),
            metrics: BTreeMap::from([(metric.to_owned(), v)]),
            tools: None,
        }
    }

    fn run(name: &str, suite: &str, items: Vec<Item>) -> Run {
        Run {
            name: name.into(),
            dir: PathBuf::from(name),
            suites: BTreeMap::from([(suite.to_owned(), items)]),
            aggregates: BTreeMap::new(),
        }
    }

    #[test]
    fn align_pairs_shared_names_then_the_rest() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            align(&s(&["a", "b"]), &s(&["b", "c"])),
            vec![p("b", "b"), p("a", "c")]
        );
        assert_eq!(align(&s(&["a"]), &s(&[])), vec![p("a", NO_CALL)]);
        assert_eq!(
            align(&s(&[]), &s(&["x", "x"])),
            vec![p(NO_CALL, "x"), p(NO_CALL, "x")]
        );
    }

    #[test]
    fn compare_marks_a_clear_gain_and_not_a_tie() {
        // Baseline passes 1 item in 5 of category "simple", the tuned run 5 in 5; category
        // "multiple" is the same in both.
        let base: Vec<Item> = (0..100)
            .map(|i| {
                let cat = if i < 50 { "simple" } else { "multiple" };
                let v = if i < 50 {
                    f64::from(u8::from(i % 5 == 0))
                } else {
                    f64::from(i % 2)
                };
                item(i as usize, cat, "accuracy", v)
            })
            .collect();
        let tuned: Vec<Item> = base
            .iter()
            .map(|x| {
                let mut y = x.clone();
                if x.category.as_deref() == Some("simple") {
                    y.metrics.insert("accuracy".into(), 1.0);
                }
                y
            })
            .collect();
        let runs = vec![
            run("base", "bfcl", base.clone()),
            run("tuned", "bfcl", tuned),
            run("same", "bfcl", base),
        ];
        let report = compare(&runs, BootstrapSettings::default()).unwrap();
        let s = &report.suites[0];
        assert_eq!(s.suite, "bfcl");
        assert_eq!(s.main_metric, "accuracy");
        let acc = &s.metrics[0];
        assert_eq!(acc.values[0].unwrap().n, 100);
        assert!((acc.values[0].unwrap().mean - 0.35).abs() < 1e-12);
        assert!((acc.values[1].unwrap().mean - 0.75).abs() < 1e-12);
        assert!(acc.vs_baseline[0].is_none());
        assert!(acc.vs_baseline[1].unwrap().significant);
        assert!(!acc.vs_baseline[2].unwrap().significant);
        let cat = |name: &str| s.categories.iter().find(|r| r.name == name).unwrap();
        assert!(cat("simple").vs_baseline[1].unwrap().significant);
        assert!(!cat("multiple").vs_baseline[1].unwrap().significant);
        assert_eq!(cat("multiple").values[1].unwrap().n, 50);
        let sig = report.significant();
        assert_eq!(sig.len(), 2, "{sig:?}");
        assert!(
            sig.iter()
                .all(|(_, _, ckpt, d)| ckpt == "tuned" && d.delta > 0.0)
        );
        let md = report.to_markdown(&[]);
        assert!(md.contains("| metric | base | tuned | same |"), "{md}");
        assert!(md.contains("0.3500 (n=100)"), "{md}");
        assert!(md.contains("0.7500 (n=100)<br>+0.4000 ["), "{md}");
        assert!(md.contains("- bfcl category simple: tuned +0.8000"), "{md}");
        // Same inputs, same report.
        assert_eq!(
            compare(&runs, BootstrapSettings::default()).unwrap(),
            report
        );
    }

    #[test]
    fn items_pair_by_id_and_missing_ones_are_left_out() {
        let a = vec![
            item(1, "x", "m", 1.0),
            item(2, "x", "m", 0.0),
            item(3, "x", "m", 1.0),
        ];
        let b = vec![item(3, "x", "m", 1.0), item(2, "x", "m", 1.0)];
        let report = compare(
            &[run("a", "steps", a), run("b", "steps", b)],
            BootstrapSettings::default(),
        )
        .unwrap();
        let r = &report.suites[0].metrics[0];
        let d = r.vs_baseline[1].unwrap();
        assert_eq!(d.n, 2);
        assert_eq!((d.mean_a, d.mean_b), (0.5, 1.0));
        assert_eq!(r.values[1].unwrap().n, 2);
    }

    #[test]
    fn confusion_counts_gold_against_chosen() {
        let names = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
        let cases: Vec<(Vec<String>, Vec<String>)> = vec![
            (names(&["weather"]), names(&["weather"])),
            (names(&["weather"]), names(&["calculator"])),
            (names(&["calculator"]), names(&[])),
            (names(&[]), names(&["calculator"])),
        ];
        let items: Vec<Item> = cases
            .into_iter()
            .enumerate()
            .map(|(k, tools)| {
                let mut i = item(k, "x", "tool_name_acc", 0.0);
                i.tools = Some(tools);
                i
            })
            .collect();
        let c = confusion_of("ck", &items).unwrap();
        assert_eq!(c.gold, ["calculator", "weather", NO_CALL]);
        assert_eq!(c.chosen, ["calculator", "weather", NO_CALL]);
        assert_eq!(c.counts, vec![vec![0, 0, 1], vec![1, 1, 0], vec![1, 0, 0]]);
        assert_eq!((c.total, c.agree), (4, 1));
    }

    #[test]
    fn reads_run_folders_and_writes_the_report() {
        let dir = tempfile::tempdir().unwrap();
        let write = |p: &Path, text: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        for (name, valid) in [
            ("base", [true, false, false]),
            ("tuned", [true, true, true]),
        ] {
            let mut v = String::new();
            for (i, ok) in valid.iter().enumerate() {
                v.push_str(&format!(
                    "{{\"id\": \"simple_python_{i}\", \"category\": \"simple_python\", \"valid\": {ok}, \"error\": null}}\n"
                ));
            }
            write(&dir.path().join(name).join("bfcl/verdicts.jsonl"), &v);
            write(
                &dir.path().join(name).join("bfcl/summary.json"),
                "{\"aggregates\": {\"non_live\": 0.5}}",
            );
        }
        let steps = concat!(
            r#"{"id":"s#2","suite":"heldout_step","category":"weather","model":"m","template_id":"hermes","#,
            r#""parsed":{"type":"tool_calls","calls":[{"name":"calculator","arguments":{}}]},"#,
            r#""expected":{"role":"assistant","content":"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"},"#,
            r#""metrics":{"tool_name_acc":0.0}}"#,
            "\n"
        );
        write(&dir.path().join("base/steps/steps.jsonl"), steps);
        let base = load_run(&dir.path().join("base"), "base").unwrap();
        assert_eq!(base.suites["bfcl"].len(), 3);
        assert_eq!(base.aggregates["bfcl"]["non_live"], 0.5);
        assert_eq!(
            base.suites["steps"][0].tools,
            Some((
                vec!["get_weather".to_owned()],
                vec!["calculator".to_owned()]
            ))
        );
        let tuned = load_run(&dir.path().join("tuned"), "tuned").unwrap();
        let report = compare(&[base, tuned], BootstrapSettings::default()).unwrap();
        let out = dir.path().join("report");
        let md = report.write(&out, true).unwrap();
        for f in [
            "report.json",
            "report.md",
            "metrics_bfcl.png",
            "categories_bfcl.png",
            "metrics_steps.png",
            "confusion_steps_0_base.png",
        ] {
            assert!(out.join(f).is_file(), "{f} missing");
        }
        assert!(
            md.contains("![bfcl by checkpoint](metrics_bfcl.png)"),
            "{md}"
        );
        assert!(md.contains("| non_live | 0.5000 | 0.5000 |"), "{md}");
        assert!(md.contains("| get_weather | 1 | 0 |"), "{md}");
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(json["checkpoints"][1]["name"], "tuned");
        assert_eq!(json["suites"][0]["metrics"][0]["values"][1]["mean"], 1.0);
        // A duplicate id is an error naming file, line and field.
        write(
            &dir.path().join("dup/verdicts.jsonl"),
            "{\"id\":\"a\",\"category\":\"c\",\"valid\":true}\n{\"id\":\"a\",\"category\":\"c\",\"valid\":true}\n",
        );
        let err = load_run(&dir.path().join("dup"), "dup")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("verdicts.jsonl:2") && err.contains("id"),
            "{err}"
        );
        let err = load_run(&dir.path().join("nothing"), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nothing"), "{err}");
    }
}
