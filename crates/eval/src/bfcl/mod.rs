//! BFCL (Berkeley Function-Calling Leaderboard), single-turn AST categories: loading the test
//! cases and possible answers shipped in the `bfcl-eval` package, reading a model's responses
//! (decoded calls, or text decoded with one of our templates), checking them with an AST
//! checker that follows BFCL's rules ([`checker`]), and the per-category accuracies with
//! BFCL's summary aggregates.

pub mod checker;
pub mod gold;
pub mod java;
pub mod js;
pub mod prompt;
pub mod pyvalue;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use agentune_runtime::{ParseMode, Template};
use agentune_schema::Step;
use serde::Serialize;
use serde_json::{Map, Value};

pub use checker::{Check, CheckOptions, GoldCall, Language, ModelCall, Shape, check_calls};
pub use pyvalue::Py;

use crate::error::{Error, Result};

/// The single-turn categories this module scores, in BFCL's order.
pub const CATEGORIES: &[&str] = &[
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
];

/// How a category is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The calls are checked against possible answers.
    Ast(Shape),
    /// Passing means making no call.
    Irrelevance,
    /// Passing means making at least one call (any call).
    Relevance,
}

/// How category `name` is scored (BFCL decides by the name).
pub fn kind_of(category: &str) -> Kind {
    if category.contains("irrelevance") {
        Kind::Irrelevance
    } else if category.contains("relevance") {
        Kind::Relevance
    } else {
        Kind::Ast(Shape::of_category(category))
    }
}

/// The language of category `name`'s functions.
pub fn language_of(category: &str) -> Language {
    if category.contains("java") && !category.contains("javascript") {
        Language::Java
    } else if category.contains("javascript") {
        Language::JavaScript
    } else {
        Language::Python
    }
}

/// One test case.
#[derive(Debug, Clone)]
pub struct Entry {
    /// BFCL's id (`simple_python_0`, `live_multiple_12-4-0`).
    pub id: String,
    /// The category (`simple_python`).
    pub category: String,
    /// The conversation turns (`question`), as shipped: a list of turns, each a list of
    /// `{role, content}` messages.
    pub question: Value,
    /// The function documents offered (BFCL's `function` field, BFCL's type names).
    pub functions: Vec<Value>,
    /// The possible answers (AST categories only).
    pub answers: Option<Vec<GoldCall>>,
}

/// The data files found for one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryFiles {
    /// The category.
    pub category: String,
    /// The test cases.
    pub questions: PathBuf,
    /// The possible answers (AST categories).
    pub answers: Option<PathBuf>,
}

/// Finds `BFCL_v<N>_<category>.json` (highest `N`) in `dir` and its `possible_answer/`
/// folder for every known category present. `dir` is the package's `bfcl_eval/data` folder
/// or a folder laid out the same way.
pub fn find_files(dir: &Path) -> Result<Vec<CategoryFiles>> {
    let latest = |d: &Path| -> Result<HashMap<String, (u32, PathBuf)>> {
        let mut found: HashMap<String, (u32, PathBuf)> = HashMap::new();
        let rd = match std::fs::read_dir(d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && d != dir => return Ok(found),
            Err(e) => return Err(Error::io("list", d, e)),
        };
        for item in rd {
            let item = item.map_err(|e| Error::io("list", d, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix("BFCL_v")
                .and_then(|r| r.strip_suffix(".json"))
            else {
                continue;
            };
            let Some((version, category)) = rest.split_once('_') else {
                continue;
            };
            let Ok(version) = version.parse::<u32>() else {
                continue;
            };
            if !CATEGORIES.contains(&category) {
                continue;
            }
            let keep = found.get(category).is_none_or(|(v, _)| *v < version);
            if keep {
                found.insert(category.to_owned(), (version, item.path()));
            }
        }
        Ok(found)
    };
    let questions = latest(dir)?;
    let answers = latest(&dir.join("possible_answer"))?;
    let mut out = Vec::new();
    for category in CATEGORIES {
        let Some((_, q)) = questions.get(*category) else {
            continue;
        };
        let a = answers.get(*category).map(|(_, p)| p.clone());
        if matches!(kind_of(category), Kind::Ast(_)) && a.is_none() {
            return Err(Error::Invalid(format!(
                "{}: no possible-answer file for category {category} in {}",
                q.display(),
                dir.join("possible_answer").display()
            )));
        }
        out.push(CategoryFiles {
            category: (*category).to_owned(),
            questions: q.clone(),
            answers: a,
        });
    }
    if out.is_empty() {
        return Err(Error::Invalid(format!(
            "no BFCL data files (BFCL_v<N>_<category>.json) in {}",
            dir.display()
        )));
    }
    Ok(out)
}

/// Loads every test case of the categories found in `dir` (all of them, or only those named
/// in `only`).
pub fn load(dir: &Path, only: Option<&[String]>) -> Result<Vec<Entry>> {
    let files = find_files(dir)?;
    if let Some(only) = only {
        for c in only {
            if !files.iter().any(|f| &f.category == c) {
                return Err(Error::Invalid(format!(
                    "category {c} not found in {} (known: {})",
                    dir.display(),
                    CATEGORIES.join(", ")
                )));
            }
        }
    }
    let files: Vec<CategoryFiles> = files
        .into_iter()
        .filter(|f| only.is_none_or(|o| o.contains(&f.category)))
        .collect();
    // Categories load on as many threads as the machine has cores, in BFCL's order.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<Result<Vec<Entry>>>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    let r = load_category(f);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let mut out = Vec::new();
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(r) => out.extend(r?),
            None => return Err(Error::Invalid("a loading thread failed".into())),
        }
    }
    Ok(out)
}

/// The objects of a JSONL file with their 1-based line numbers (blank lines skipped).
fn read_lines(path: &Path) -> Result<Vec<(usize, Map<String, Value>)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = if line == 1 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(o)) => out.push((line, o)),
            Ok(_) => return Err(Error::input(path, Some(line), "", "expected a JSON object")),
            Err(e) => {
                return Err(Error::input(
                    path,
                    Some(line),
                    "",
                    format!("invalid JSON: {e}"),
                ));
            }
        }
    }
    Ok(out)
}

fn id_of(path: &Path, line: usize, o: &Map<String, Value>) -> Result<String> {
    o.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::input(path, Some(line), "id", "missing or not a string"))
}

/// Reads one category's test cases and possible answers, joined by id.
pub fn load_category(files: &CategoryFiles) -> Result<Vec<Entry>> {
    let qpath = &files.questions;
    let mut answers: HashMap<String, Vec<GoldCall>> = HashMap::new();
    if let Some(apath) = &files.answers {
        for (line, o) in read_lines(apath)? {
            let id = id_of(apath, line, &o)?;
            let gt = o
                .get("ground_truth")
                .ok_or_else(|| Error::input(apath, Some(line), "ground_truth", "missing"))?;
            let calls = gold_calls(gt)
                .map_err(|(field, msg)| Error::input(apath, Some(line), field, msg))?;
            answers.insert(id, calls);
        }
    }
    let ast = matches!(kind_of(&files.category), Kind::Ast(_));
    let mut out = Vec::new();
    for (line, mut o) in read_lines(qpath)? {
        let id = id_of(qpath, line, &o)?;
        let functions = match o.remove("function") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(Error::input(
                    qpath,
                    Some(line),
                    "function",
                    "missing or not a list",
                ));
            }
        };
        for (i, f) in functions.iter().enumerate() {
            if f.get("name").and_then(Value::as_str).is_none() {
                return Err(Error::input(
                    qpath,
                    Some(line),
                    format!("function[{i}].name"),
                    "missing or not a string",
                ));
            }
        }
        let question = o.remove("question").unwrap_or(Value::Null);
        let entry_answers = if ast {
            let a = answers.remove(&id).ok_or_else(|| {
                Error::input(
                    qpath,
                    Some(line),
                    "id",
                    format!(
                        "no possible answer for {id} in {}",
                        files.answers.as_deref().unwrap_or(Path::new("?")).display()
                    ),
                )
            })?;
            Some(a)
        } else {
            None
        };
        out.push(Entry {
            id,
            category: files.category.clone(),
            question,
            functions,
            answers: entry_answers,
        });
    }
    Ok(out)
}

/// Reads BFCL's `ground_truth`: a list of `{function_name: {param: [accepted values]}}`.
pub fn gold_calls(gt: &Value) -> std::result::Result<Vec<GoldCall>, (String, String)> {
    let Value::Array(items) = gt else {
        return Err(("ground_truth".into(), "expected a list".into()));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("ground_truth[{i}]");
        let Some(obj) = item.as_object().filter(|o| o.len() == 1) else {
            return Err((field, "expected an object with one function name".into()));
        };
        let Some((name, params)) = obj.iter().next() else {
            return Err((field, "empty object".into()));
        };
        let Value::Object(params) = params else {
            return Err((
                format!("{field}.{name}"),
                "expected an object of parameters".into(),
            ));
        };
        out.push(GoldCall {
            name: name.clone(),
            params: params
                .iter()
                .map(|(k, v)| (k.clone(), Py::from_json(v)))
                .collect(),
        });
    }
    Ok(out)
}

/// What a response decodes to.
#[derive(Debug, Clone)]
pub enum Decoded {
    /// Calls (possibly none: an answer in words, or an empty list).
    Calls(Vec<ModelCall>),
    /// The text could not be decoded into a step (BFCL: "failed to decode AST").
    DecodeError(String),
}

/// One model response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The test case answered.
    pub id: String,
    /// Its decoded content.
    pub decoded: Decoded,
}

/// Turns our calls into the checker's form.
pub fn model_calls(calls: &[agentune_schema::ToolCall]) -> Vec<ModelCall> {
    calls
        .iter()
        .map(|c| ModelCall {
            name: c.name.clone(),
            args: c
                .arguments
                .iter()
                .map(|(k, v)| (k.clone(), Py::from_json(v)))
                .collect(),
        })
        .collect()
}

/// Decodes a reply text with `template`, leniently: its calls, no calls for an answer or a
/// give-up, or the parse error.
pub fn decode_text(template: &Template, text: &str) -> Decoded {
    match template.parse(text, ParseMode::Lenient) {
        Ok(Step::ToolCalls { calls, .. }) => Decoded::Calls(model_calls(&calls)),
        Ok(_) => Decoded::Calls(Vec::new()),
        Err(e) => Decoded::DecodeError(e.to_string()),
    }
}

/// Decodes a generated assistant message with `template`, leniently: its structured
/// `tool_calls` when it has them, else its text.
pub fn decode_message(template: &Template, message: &agentune_schema::Message) -> Decoded {
    match template.parse_message(message, ParseMode::Lenient) {
        Ok(Step::ToolCalls { calls, .. }) => Decoded::Calls(model_calls(&calls)),
        Ok(_) => Decoded::Calls(Vec::new()),
        Err(e) => Decoded::DecodeError(e.to_string()),
    }
}

/// Reads a responses file: JSONL of `{"id", "calls": [{"name", "arguments"}]}` or
/// `{"id", "text"}` (decoded with `template`, required then). Arguments may also be a JSON
/// string holding an object, as OpenAI sends them.
pub fn read_responses(path: &Path, template: Option<&Template>) -> Result<Vec<Response>> {
    let mut out = Vec::new();
    for (line, o) in read_lines(path)? {
        let id = id_of(path, line, &o)?;
        let bad = |field: String, msg: &str| Error::input(path, Some(line), field, msg);
        let decoded = match (o.get("calls"), o.get("text")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "calls".into(),
                    "give either `calls` or `text`, not both",
                ));
            }
            (Some(Value::Array(calls)), None) => {
                let mut parsed = Vec::with_capacity(calls.len());
                for (i, c) in calls.iter().enumerate() {
                    let name = c.get("name").and_then(Value::as_str).ok_or_else(|| {
                        bad(format!("calls[{i}].name"), "missing or not a string")
                    })?;
                    let arguments = agentune_schema::parse_arguments(c.get("arguments"))
                        .map_err(|m| bad(format!("calls[{i}].arguments"), &m))?;
                    parsed.push(agentune_schema::ToolCall::new(name, arguments));
                }
                Decoded::Calls(model_calls(&parsed))
            }
            (Some(_), None) => return Err(bad("calls".into(), "expected a list")),
            (None, Some(Value::String(text))) => match template {
                Some(t) => decode_text(t, text),
                None => {
                    return Err(bad(
                        "text".into(),
                        "a text response needs --template to decode it",
                    ));
                }
            },
            (None, Some(_)) => return Err(bad("text".into(), "expected a string")),
            (None, None) => return Err(bad("calls".into(), "missing: give `calls` or `text`")),
        };
        out.push(Response { id, decoded });
    }
    Ok(out)
}

/// The checker's verdict on one test case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The test case.
    pub id: String,
    /// Its category.
    pub category: String,
    /// Whether the response passes.
    pub valid: bool,
    /// What is wrong (absent when valid).
    pub error: Option<String>,
    /// BFCL's error class (absent when valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// Scores one test case given its decoded response (`None`: no response).
pub fn score_entry(entry: &Entry, decoded: Option<&Decoded>, options: CheckOptions) -> Verdict {
    let check = match decoded {
        None => Check::fail("missing_response", "no response for this test case"),
        Some(d) => check_decoded(entry, d, options),
    };
    Verdict {
        id: entry.id.clone(),
        category: entry.category.clone(),
        valid: check.valid,
        error: (!check.valid).then_some(check.error),
        error_type: (!check.valid).then_some(check.error_type),
    }
}

/// BFCL's rule for "made a call": the decoding succeeded and produced at least one call.
fn made_call(decoded: &Decoded) -> bool {
    matches!(decoded, Decoded::Calls(c) if !c.is_empty())
}

fn check_decoded(entry: &Entry, decoded: &Decoded, options: CheckOptions) -> Check {
    match kind_of(&entry.category) {
        Kind::Irrelevance => {
            if made_call(decoded) {
                Check::fail(
                    "irrelevance_error:decoder_success",
                    "Valid syntax. Successfully decode AST when it should not.",
                )
            } else {
                Check::pass()
            }
        }
        Kind::Relevance => {
            if made_call(decoded) {
                Check::pass()
            } else {
                let why = match decoded {
                    Decoded::DecodeError(e) => e.clone(),
                    Decoded::Calls(_) => "no call".into(),
                };
                Check::fail(
                    "relevance_error:decoder_failed",
                    format!("Invalid syntax. Failed to decode AST when it should have. {why}"),
                )
            }
        }
        Kind::Ast(shape) => match decoded {
            Decoded::DecodeError(e) => Check::fail(
                "ast_decoder:decoder_failed",
                format!("Invalid syntax. Failed to decode AST. {e}"),
            ),
            Decoded::Calls(calls) => check_calls(
                &entry.functions,
                calls,
                entry.answers.as_deref().unwrap_or(&[]),
                language_of(&entry.category),
                shape,
                options,
            ),
        },
    }
}

/// Accuracy of one category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CategoryScore {
    /// Fraction of test cases passed.
    pub accuracy: f64,
    /// Test cases passed.
    pub correct: usize,
    /// Test cases scored.
    pub total: usize,
    /// Test cases without a response (counted as failed).
    pub missing: usize,
}

/// Per-category accuracies and BFCL's aggregates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Accuracy per category, in BFCL's order.
    pub categories: BTreeMap<String, CategoryScore>,
    /// BFCL's summary columns, each present when all its categories were scored:
    /// `non_live_simple` (unweighted mean of the three simple languages), `non_live`
    /// (unweighted mean of simple, multiple, parallel, parallel_multiple), `live` (mean over
    /// the live AST categories weighted by their sizes), `irrelevance` (unweighted mean of
    /// irrelevance and live_irrelevance), `relevance` (live_relevance), and
    /// `single_turn_overall` (the mean of non_live, live and irrelevance: BFCL's weights
    /// 10:10:10 for these three parts of its overall score).
    pub aggregates: BTreeMap<String, f64>,
    /// Test cases scored in all.
    pub total: usize,
    /// Passed in all.
    pub correct: usize,
    /// Responses whose id is not a test case of the data (ignored).
    pub unknown_ids: usize,
}

/// The result of scoring a responses file.
#[derive(Debug, Clone)]
pub struct Report {
    /// One verdict per scored test case, in data order.
    pub verdicts: Vec<Verdict>,
    /// The summary.
    pub summary: Summary,
}

/// Scores `responses` against `entries`. A category is scored when at least one of its test
/// cases has a response; its test cases without one count as failures.
pub fn score(entries: &[Entry], responses: &[Response], options: CheckOptions) -> Report {
    let by_id: HashMap<&str, &Decoded> = responses
        .iter()
        .map(|r| (r.id.as_str(), &r.decoded))
        .collect();
    let known: std::collections::HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    let unknown_ids = by_id.keys().filter(|id| !known.contains(*id)).count();
    let answered: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| by_id.contains_key(e.id.as_str()))
        .map(|e| e.category.as_str())
        .collect();
    let verdicts: Vec<Verdict> = entries
        .iter()
        .filter(|e| answered.contains(e.category.as_str()))
        .map(|e| score_entry(e, by_id.get(e.id.as_str()).copied(), options))
        .collect();
    let summary = summarize(&verdicts, unknown_ids);
    Report { verdicts, summary }
}

/// Per-category accuracies and the aggregates of a set of verdicts.
pub fn summarize(verdicts: &[Verdict], unknown_ids: usize) -> Summary {
    let mut categories: BTreeMap<String, CategoryScore> = BTreeMap::new();
    for v in verdicts {
        let s = categories
            .entry(v.category.clone())
            .or_insert(CategoryScore {
                accuracy: 0.0,
                correct: 0,
                total: 0,
                missing: 0,
            });
        s.total += 1;
        s.correct += usize::from(v.valid);
        s.missing += usize::from(v.error_type.as_deref() == Some("missing_response"));
    }
    for s in categories.values_mut() {
        s.accuracy = s.correct as f64 / s.total.max(1) as f64;
    }
    let aggregates = aggregates(&categories);
    Summary {
        total: verdicts.len(),
        correct: verdicts.iter().filter(|v| v.valid).count(),
        categories,
        aggregates,
        unknown_ids,
    }
}

fn aggregates(c: &BTreeMap<String, CategoryScore>) -> BTreeMap<String, f64> {
    let acc = |names: &[&str]| -> Option<Vec<CategoryScore>> {
        names.iter().map(|n| c.get(*n).copied()).collect()
    };
    let unweighted = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let mut out = BTreeMap::new();
    let simple = acc(&["simple_python", "simple_java", "simple_javascript"])
        .map(|s| unweighted(&s.iter().map(|x| x.accuracy).collect::<Vec<_>>()));
    if let Some(v) = simple {
        out.insert("non_live_simple".to_owned(), v);
    }
    let rest = acc(&["multiple", "parallel", "parallel_multiple"]);
    let non_live = simple.zip(rest).map(|(s, r)| {
        let mut xs = vec![s];
        xs.extend(r.iter().map(|x| x.accuracy));
        unweighted(&xs)
    });
    if let Some(v) = non_live {
        out.insert("non_live".to_owned(), v);
    }
    let live = acc(&[
        "live_simple",
        "live_multiple",
        "live_parallel",
        "live_parallel_multiple",
    ])
    .and_then(|s| {
        let n: usize = s.iter().map(|x| x.total).sum();
        (n > 0).then(|| s.iter().map(|x| x.accuracy * x.total as f64).sum::<f64>() / n as f64)
    });
    if let Some(v) = live {
        out.insert("live".to_owned(), v);
    }
    let irrelevance = acc(&["irrelevance", "live_irrelevance"])
        .map(|s| unweighted(&s.iter().map(|x| x.accuracy).collect::<Vec<_>>()));
    if let Some(v) = irrelevance {
        out.insert("irrelevance".to_owned(), v);
    }
    if let Some(r) = c.get("live_relevance") {
        out.insert("relevance".to_owned(), r.accuracy);
    }
    if let (Some(a), Some(b), Some(i)) = (non_live, live, irrelevance) {
        out.insert("single_turn_overall".to_owned(), (a + b + i) / 3.0);
    }
    out
}

/// Writes `verdicts.jsonl` and `summary.json` into `out_dir` (created if needed), each
/// atomically.
pub fn write_report(out_dir: &Path, report: &Report) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io("create", out_dir, e))?;
    agentune_schema::write_jsonl(out_dir.join("verdicts.jsonl"), &report.verdicts)?;
    let mut text = serde_json::to_string_pretty(&report.summary)
        .map_err(|e| Error::Invalid(format!("cannot encode the summary: {e}")))?;
    text.push('\n');
    agentune_schema::write_atomic(out_dir.join("summary.json"), text.as_bytes())?;
    Ok(())
}
