//! Held-out step-level metrics (teacher forcing: the gold history is the prompt, the model
//! predicts the next step). Each assistant turn of a held-out [`Sample`] is one item; the
//! model's reply to it is parsed with the sample's template and compared with the gold step:
//!
//! - `strict_valid` / `lenient_valid`: the reply parses with the runtime's strict / lenient
//!   parser;
//! - `tool_name_acc` (gold calls tools): matched names (as multisets) over the larger of the
//!   gold and predicted call counts;
//! - `arg_exact` (gold calls tools): every call matches a gold call with equal name and equal
//!   arguments (numbers compared by value), none extra;
//! - `arg_f1` (gold calls tools): F1 over `(tool, key, value)` triples, as multisets;
//! - `parallel_set_match` (gold makes two or more calls): the calls equal the gold calls in
//!   any order;
//! - `abstained` (hard negatives whose gold step makes no call): the reply answers in the
//!   template's format (it parses, leniently) and makes no call. A reply that does not parse is
//!   a format failure, not an answer: counting it would credit a model that never learned the
//!   format with perfect abstention;
//! - `no_call` (the same items): the reply makes no call, parsed or not (BFCL's irrelevance
//!   rule);
//! - `called` (gold calls tools): the reply calls a tool (the converse of abstention);
//! - `gave_up`: the reply gives up.
//!
//! Metrics are averaged over the items they apply to, overall and per template, scenario,
//! kind and complexity.

use std::collections::BTreeMap;

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Message, QueryMeta, Role, Sample, Step, ToolCall, ToolSpec};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// One held-out step: the prompt (gold history) and the gold reply.
#[derive(Debug, Clone)]
pub struct StepItem {
    /// `<sample id>#<assistant turn index>`.
    pub id: String,
    /// The sample's template.
    pub template_id: Option<String>,
    /// The sample's labels.
    pub meta: QueryMeta,
    /// The messages before the gold reply.
    pub prompt: Vec<Message>,
    /// Tools offered natively (empty for templates that list tools in the prompt).
    pub tools: Vec<ToolSpec>,
    /// The gold reply.
    pub gold: Message,
}

/// The held-out steps of one sample: one item per assistant message with a positive loss
/// weight (turns kept only as context are skipped).
pub fn step_items(sample: &Sample) -> Vec<StepItem> {
    sample
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == Role::Assistant && m.loss_weight() > 0.0)
        .map(|(k, m)| StepItem {
            id: format!("{}#{k}", sample.id),
            template_id: sample.template_id.clone(),
            meta: sample.meta.clone(),
            prompt: sample.messages[..k].to_vec(),
            tools: sample.tools.clone(),
            gold: m.clone(),
        })
        .collect()
}

/// The scores of one step item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepScores {
    /// Metric name to value (booleans as 0/1); absent metrics do not apply to the item.
    pub metrics: BTreeMap<&'static str, f64>,
    /// The reply parsed leniently, when it parsed.
    pub parsed: Option<Step>,
    /// Why the reply did not parse leniently.
    pub error: Option<String>,
}

/// Canonical JSON text of a value: object keys sorted, integral floats written as integers,
/// so `1` and `1.0` compare equal.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&o[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                format!("{}", f as i64)
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn call_key(c: &ToolCall) -> String {
    format!(
        "{}({})",
        c.name,
        canonical(&Value::Object(c.arguments.clone()))
    )
}

/// How many items two multisets share.
fn multiset_overlap(a: &[String], b: &[String]) -> usize {
    let mut counts: BTreeMap<&str, isize> = BTreeMap::new();
    for x in a {
        *counts.entry(x.as_str()).or_default() += 1;
    }
    let mut n = 0;
    for y in b {
        if let Some(c) = counts.get_mut(y.as_str()).filter(|c| **c > 0) {
            *c -= 1;
            n += 1;
        }
    }
    n
}

/// Tool-name accuracy of predicted calls against gold calls.
pub fn tool_name_accuracy(pred: &[ToolCall], gold: &[ToolCall]) -> f64 {
    let denom = pred.len().max(gold.len());
    if denom == 0 {
        return 1.0;
    }
    let p: Vec<String> = pred.iter().map(|c| c.name.clone()).collect();
    let g: Vec<String> = gold.iter().map(|c| c.name.clone()).collect();
    multiset_overlap(&p, &g) as f64 / denom as f64
}

/// Whether the predicted calls equal the gold calls, names and arguments, in any order.
pub fn calls_match(pred: &[ToolCall], gold: &[ToolCall]) -> bool {
    let p: Vec<String> = pred.iter().map(call_key).collect();
    let g: Vec<String> = gold.iter().map(call_key).collect();
    p.len() == g.len() && multiset_overlap(&p, &g) == g.len()
}

/// F1 over `(tool, key, value)` triples of the predicted and gold calls.
pub fn argument_f1(pred: &[ToolCall], gold: &[ToolCall]) -> f64 {
    let triples = |calls: &[ToolCall]| -> Vec<String> {
        calls
            .iter()
            .flat_map(|c| {
                c.arguments
                    .iter()
                    .map(move |(k, v)| format!("{}\u{1f}{k}\u{1f}{}", c.name, canonical(v)))
            })
            .collect()
    };
    let p = triples(pred);
    let g = triples(gold);
    if p.is_empty() && g.is_empty() {
        // Calls without arguments: right exactly when the names are.
        return tool_name_accuracy(pred, gold);
    }
    if p.is_empty() || g.is_empty() {
        return 0.0;
    }
    let hit = multiset_overlap(&p, &g) as f64;
    if hit == 0.0 {
        return 0.0;
    }
    let precision = hit / p.len() as f64;
    let recall = hit / g.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Scores a reply to one step item under `template`.
pub fn score_step(template: &Template, item: &StepItem, reply: &Message) -> Result<StepScores> {
    let gold = template
        .parse_message(&item.gold, ParseMode::Strict)
        .or_else(|_| template.parse_message(&item.gold, ParseMode::Lenient))
        .map_err(|e| {
            Error::Invalid(format!(
                "{}: the gold reply does not parse with template `{}`: {e}",
                item.id,
                template.id()
            ))
        })?;
    let strict = template.parse_message(reply, ParseMode::Strict).is_ok();
    let lenient = template.parse_message(reply, ParseMode::Lenient);
    let mut m: BTreeMap<&'static str, f64> = BTreeMap::new();
    m.insert("strict_valid", flag(strict));
    m.insert("lenient_valid", flag(lenient.is_ok()));
    let (parsed, error) = match lenient {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let pred_calls: &[ToolCall] = parsed.as_ref().map_or(&[], Step::calls);
    let gold_calls = gold.calls();
    m.insert("gave_up", flag(matches!(parsed, Some(Step::GiveUp { .. }))));
    if gold_calls.is_empty() {
        if item.meta.kind == agentune_schema::QueryKind::HardNegative {
            m.insert("abstained", flag(parsed.is_some() && pred_calls.is_empty()));
            m.insert("no_call", flag(pred_calls.is_empty()));
        }
    } else {
        m.insert("called", flag(!pred_calls.is_empty()));
        m.insert("tool_name_acc", tool_name_accuracy(pred_calls, gold_calls));
        m.insert("arg_exact", flag(calls_match(pred_calls, gold_calls)));
        m.insert("arg_f1", argument_f1(pred_calls, gold_calls));
        if gold_calls.len() >= 2 {
            m.insert(
                "parallel_set_match",
                flag(calls_match(pred_calls, gold_calls)),
            );
        }
    }
    Ok(StepScores {
        metrics: m,
        parsed,
        error,
    })
}

/// Mean of each metric over the items it applies to, with the item count.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricMeans {
    /// Items in the group.
    pub items: usize,
    /// Metric name to (mean, number of items it applies to).
    pub metrics: BTreeMap<String, Mean>,
}

/// A mean over `n` items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Mean {
    /// The mean.
    pub mean: f64,
    /// Items averaged.
    pub n: usize,
}

impl MetricMeans {
    fn add(&mut self, metrics: &BTreeMap<&'static str, f64>) {
        self.items += 1;
        for (k, v) in metrics {
            let e = self.metrics.entry((*k).to_owned()).or_default();
            // Running mean keeps the struct self-contained.
            e.n += 1;
            e.mean += (v - e.mean) / e.n as f64;
        }
    }
}

/// Step metrics overall and per slice.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepReport {
    /// Over every item.
    pub overall: MetricMeans,
    /// Per template id.
    pub by_template: BTreeMap<String, MetricMeans>,
    /// Per scenario.
    pub by_scenario: BTreeMap<String, MetricMeans>,
    /// Per kind (positive, hard_negative, general).
    pub by_kind: BTreeMap<String, MetricMeans>,
    /// Per complexity (simple, complex).
    pub by_complexity: BTreeMap<String, MetricMeans>,
}

fn label<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

impl StepReport {
    /// Adds one scored item.
    pub fn add(&mut self, item: &StepItem, scores: &StepScores) {
        self.add_labeled(item.template_id.as_deref(), &item.meta, &scores.metrics);
    }

    /// Adds the metrics of one item with these labels (template `-` when none).
    pub fn add_labeled(
        &mut self,
        template: Option<&str>,
        meta: &QueryMeta,
        metrics: &BTreeMap<&'static str, f64>,
    ) {
        self.overall.add(metrics);
        self.by_template
            .entry(template.unwrap_or("-").to_owned())
            .or_default()
            .add(metrics);
        self.by_scenario
            .entry(meta.scenario.clone())
            .or_default()
            .add(metrics);
        self.by_kind
            .entry(label(&meta.kind))
            .or_default()
            .add(metrics);
        self.by_complexity
            .entry(label(&meta.complexity))
            .or_default()
            .add(metrics);
    }
}

/// Reads held-out samples (JSONL of [`Sample`]) and returns their step items.
pub fn load_items(path: &std::path::Path) -> Result<Vec<StepItem>> {
    let samples: Vec<Sample> = agentune_schema::read_jsonl(path)?;
    Ok(samples.iter().flat_map(step_items).collect())
}

/// Reads replies to step items: JSONL of `{"id", "text"}` or `{"id", "message"}` (an
/// assistant message with `content` and/or `tool_calls`, OpenAI form or ours).
pub fn read_replies(path: &std::path::Path) -> Result<BTreeMap<String, Message>> {
    let mut reader = agentune_schema::JsonlReader::<Value>::open(path)?;
    let mut out = BTreeMap::new();
    while let Some(v) = reader.next() {
        let line = reader.line();
        let v = v?;
        let bad = |field: &str, msg: String| Error::input(path, Some(line), field, msg);
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("id", "missing or not a string".into()))?
            .to_owned();
        let message = match (v.get("text"), v.get("message")) {
            (Some(Value::String(t)), None) => Message::assistant(t.clone()),
            (None, Some(m)) => Message::from_openai(m)
                .or_else(|_| {
                    serde_json::from_value::<Message>(m.clone()).map_err(|e| e.to_string())
                })
                .map_err(|e| bad("message", e.to_string()))?,
            _ => return Err(bad("text", "give a string `text` or a `message`".into())),
        };
        out.insert(id, message);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tc(name: &str, args: Value) -> ToolCall {
        ToolCall::new(name, args.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn tool_name_accuracy_by_hand() {
        let gold = [tc("a", json!({})), tc("b", json!({}))];
        assert_eq!(
            tool_name_accuracy(&[tc("b", json!({})), tc("a", json!({}))], &gold),
            1.0
        );
        assert_eq!(tool_name_accuracy(&[tc("a", json!({}))], &gold), 0.5);
        assert_eq!(
            tool_name_accuracy(
                &[tc("a", json!({})), tc("a", json!({})), tc("c", json!({}))],
                &gold
            ),
            1.0 / 3.0
        );
        assert_eq!(tool_name_accuracy(&[], &gold), 0.0);
    }

    #[test]
    fn exact_match_ignores_order_and_number_form() {
        let gold = [
            tc("w", json!({"city": "Paris", "days": 3})),
            tc("w", json!({"city": "Rome"})),
        ];
        let pred = [
            tc("w", json!({"city": "Rome"})),
            tc("w", json!({"days": 3.0, "city": "Paris"})),
        ];
        assert!(calls_match(&pred, &gold));
        assert!(!calls_match(&pred[..1], &gold));
        let wrong = [
            tc("w", json!({"city": "rome"})),
            tc("w", json!({"days": 3, "city": "Paris"})),
        ];
        assert!(!calls_match(&wrong, &gold));
    }

    #[test]
    fn argument_f1_by_hand() {
        let gold = [tc("w", json!({"city": "Paris", "days": 3}))];
        // One of two pairs right: P 1/2, R 1/2.
        let f = argument_f1(&[tc("w", json!({"city": "Paris", "days": 4}))], &gold);
        assert!((f - 0.5).abs() < 1e-12);
        // One pair right, nothing extra: P 1, R 1/2 -> 2/3.
        let f = argument_f1(&[tc("w", json!({"city": "Paris"}))], &gold);
        assert!((f - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(argument_f1(&gold, &gold), 1.0);
        // Same pairs under another tool name count for nothing.
        assert_eq!(
            argument_f1(&[tc("v", json!({"city": "Paris", "days": 3}))], &gold),
            0.0
        );
        assert_eq!(
            argument_f1(&[tc("x", json!({}))], &[tc("x", json!({}))]),
            1.0
        );
    }

    #[test]
    fn canonical_sorts_keys_and_folds_integral_floats() {
        assert_eq!(
            canonical(&json!({"b": 1.0, "a": [2, "x"]})),
            r#"{"a":[2,"x"],"b":1}"#
        );
        assert_eq!(canonical(&json!(1.5)), "1.5");
    }
}
