//! KAgentBench-style scoring: items in the KAgentBench layout (planning and tool use,
//! reflection, concluding, profile), replies read from `{"id", "text"}` JSONL (or the
//! benchmark's own `model_predict` files), each ability scored with ROUGE-L F1 over
//! [`crate::text::tokens`] (Chinese per character) and tool-name exact match, and the
//! weighted overall score.
//!
//! Scoring, per item and reply (an item with several replies, e.g. one per prompt template,
//! takes their mean; an item without a reply scores 0):
//!
//! - the reply is read as a step: a thought, a tool name and the tool's arguments, from a
//!   JSON object (`command.name` / `command.args`, thought from `task_name`,
//!   `thoughts.text` or `thought`), a `<|startofthink|>` block (`api_name` / `parameters`)
//!   or `Action:` / `Action Input:` lines (a non-JSON input goes to the tool's first
//!   parameter);
//! - **planning**: the best over the gold steps of `ROUGE-L(thought) × [same tool name]`;
//! - **tool use**: the best over the gold steps of `[same tool name] × argument similarity`,
//!   where argument similarity is the mean over the gold arguments of the ROUGE-L of the
//!   predicted value of the same key (0 when the key is missing); no argument on both sides
//!   is 1, predicted arguments where the gold has none (or none where it has some) is 0;
//! - **reflection**: the best over the gold steps of
//!   `[same tool name] × (0.3 × ROUGE-L(thought) + 0.7 × argument similarity)`, and 0 when
//!   the reply repeats the last (failed) task of the memory, same tool and same arguments;
//! - **concluding** and **profile**: the best ROUGE-L of the answer against the references.
//!
//! Gold steps whose tool name (or, for planning and reflection, thought) is `None` are not
//! scored against. The overall score is `0.25 planning + 0.35 tool use + 0.10 reflection +
//! 0.20 concluding + 0.10 profile`, the weights renormalised over the abilities present.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::text::rouge_l;

/// The suite name in eval records.
pub const SUITE: &str = "kagent";

/// The five abilities scored, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ability {
    /// Choosing the next task and its tool (plan-and-tool-use items).
    Planning,
    /// Choosing the tool and filling its arguments (plan-and-tool-use items).
    ToolUse,
    /// Choosing a new step after a failed one.
    Reflection,
    /// Answering from the gathered knowledge.
    Concluding,
    /// Answering in a given persona.
    Profile,
}

impl Ability {
    /// Every ability, in report order.
    pub const ALL: [Ability; 5] = [
        Ability::Planning,
        Ability::ToolUse,
        Ability::Reflection,
        Ability::Concluding,
        Ability::Profile,
    ];

    /// The name in records and summaries (`planning`, `tool_use`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Ability::Planning => "planning",
            Ability::ToolUse => "tool_use",
            Ability::Reflection => "reflection",
            Ability::Concluding => "concluding",
            Ability::Profile => "profile",
        }
    }

    /// The ability's weight in the overall score.
    pub fn weight(self) -> f64 {
        match self {
            Ability::Planning => 0.25,
            Ability::ToolUse => 0.35,
            Ability::Reflection => 0.10,
            Ability::Concluding => 0.20,
            Ability::Profile => 0.10,
        }
    }
}

/// An item's type (the benchmark's `type` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// `plantooluse`: scored for planning and for tool use.
    PlanToolUse,
    /// `reflextion`.
    Reflection,
    /// `conclusion`.
    Concluding,
    /// `profile`.
    Profile,
}

impl ItemKind {
    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plantooluse" | "plan_tooluse" | "plan_tool_use" | "planning" | "tool_use" => {
                Some(Self::PlanToolUse)
            }
            "reflextion" | "reflection" => Some(Self::Reflection),
            "conclusion" | "concluding" => Some(Self::Concluding),
            "profile" => Some(Self::Profile),
            _ => None,
        }
    }

    /// The abilities an item of this kind is scored for.
    pub fn abilities(self) -> &'static [Ability] {
        match self {
            Self::PlanToolUse => &[Ability::Planning, Ability::ToolUse],
            Self::Reflection => &[Ability::Reflection],
            Self::Concluding => &[Ability::Concluding],
            Self::Profile => &[Ability::Profile],
        }
    }
}

/// One gold step: a thought (the task named), a tool and its arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GoldStep {
    /// The thought or task name (`None` in the data: not scored for planning/reflection).
    pub thought: String,
    /// The tool name (`None` in the data: not scored at all).
    pub tool_name: String,
    /// The tool's arguments.
    pub tool_args: Map<String, Value>,
}

/// The references of an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Golden {
    /// Gold steps (plan-and-tool-use and reflection items).
    Steps(Vec<GoldStep>),
    /// Reference answers (concluding and profile items).
    Answers(Vec<String>),
}

/// One benchmark item.
#[derive(Debug, Clone, PartialEq)]
pub struct KagentItem {
    /// The item's id.
    pub id: String,
    /// Its type.
    pub kind: ItemKind,
    /// The user's query.
    pub query: String,
    /// The references.
    pub golden: Golden,
    /// The functions offered (`{"name", "parameters": {"properties": ...}}`).
    pub funcs: Vec<Value>,
    /// The rendered prompts, by prompt template (`KuaiAgent`, `ReACT`, ... or `prompt`).
    pub prompt_input: BTreeMap<String, String>,
    /// The memory (knowledge, conversation or task history) given to the model.
    pub memory: String,
    /// The last task of the memory (reflection items): tool name and arguments.
    pub last_task: Option<(String, Map<String, Value>)>,
}

impl KagentItem {
    /// The prompt sent for this item: the prompt rendered for `key` (case-insensitive), else
    /// the only or the `prompt` one, else the memory followed by the query.
    pub fn prompt(&self, key: &str) -> String {
        let find = |k: &str| {
            self.prompt_input
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, p)| p.clone())
        };
        if let Some(p) = find(key).or_else(|| find("prompt")) {
            return p;
        }
        if let Some(p) = self.prompt_input.values().next() {
            return p.clone();
        }
        if self.memory.trim().is_empty() {
            self.query.clone()
        } else {
            format!("{}\n\n{}", self.memory, self.query)
        }
    }
}

fn field_str(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    }
}

/// Tool arguments as given in the data: an object, an object in a JSON string, or nothing.
fn args_value(v: Option<&Value>) -> std::result::Result<Map<String, Value>, String> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t == "None" || t == "{}" {
                return Ok(Map::new());
            }
            match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(o)) => Ok(o),
                _ => Err(format!("expected an object of arguments, got {s:?}")),
            }
        }
        Some(other) => Err(format!("expected an object of arguments, got {other}")),
    }
}

/// A reference answer: a string or `{"golden_result": ...}` (nested as the data nests it).
fn answer_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("golden_result").and_then(answer_of),
        _ => None,
    }
}

fn parse_item(v: &Value, path: &Path, line: Option<usize>) -> Result<KagentItem> {
    let err = |field: &str, msg: String| Error::input(path, line, field, msg);
    let obj = v
        .as_object()
        .ok_or_else(|| err("", "expected a JSON object".into()))?;
    let id = match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(err("id", "expected a non-empty string".into())),
    };
    let type_text = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| err("type", "expected a string".into()))?;
    let kind = ItemKind::parse(type_text).ok_or_else(|| {
        err(
            "type",
            format!(
                "unknown type `{type_text}` (expected plantooluse, reflextion, conclusion or profile)"
            ),
        )
    })?;
    let list = obj
        .get("golden_result_list")
        .and_then(Value::as_array)
        .ok_or_else(|| err("golden_result_list", "expected an array".into()))?;
    if list.is_empty() {
        return Err(err("golden_result_list", "is empty".into()));
    }
    let golden = match kind {
        ItemKind::PlanToolUse | ItemKind::Reflection => {
            let mut steps = Vec::with_capacity(list.len());
            for (k, g) in list.iter().enumerate() {
                let field = format!("golden_result_list[{k}]");
                let o = g
                    .as_object()
                    .ok_or_else(|| err(&field, "expected an object".into()))?;
                let tool_name = field_str(o, "tool_name")
                    .ok_or_else(|| err(&format!("{field}.tool_name"), "missing".into()))?;
                let tool_args = args_value(o.get("tool_args"))
                    .map_err(|m| err(&format!("{field}.tool_args"), m))?;
                steps.push(GoldStep {
                    thought: field_str(o, "thought").unwrap_or_else(|| "None".into()),
                    tool_name,
                    tool_args,
                });
            }
            Golden::Steps(steps)
        }
        ItemKind::Concluding | ItemKind::Profile => {
            let mut answers = Vec::with_capacity(list.len());
            for (k, g) in list.iter().enumerate() {
                answers.push(answer_of(g).ok_or_else(|| {
                    err(
                        &format!("golden_result_list[{k}]"),
                        "expected a string or {\"golden_result\": string}".into(),
                    )
                })?);
            }
            Golden::Answers(answers)
        }
    };
    let funcs = match obj.get("funcs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(err("funcs", "expected an array".into())),
    };
    let mut prompt_input = BTreeMap::new();
    match obj.get("prompt_input") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            prompt_input.insert("prompt".to_owned(), s.clone());
        }
        Some(Value::Object(o)) => {
            for (k, p) in o {
                match p {
                    Value::String(s) => {
                        prompt_input.insert(k.clone(), s.clone());
                    }
                    Value::Null => {}
                    _ => {
                        return Err(err(
                            &format!("prompt_input.{k}"),
                            "expected a string".into(),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(err("prompt_input", "expected an object of prompts".into()));
        }
    }
    let last_task = match obj.get("memory_last_task") {
        Some(Value::Object(o)) => match field_str(o, "tool_name") {
            Some(name) => {
                let args = args_value(o.get("tool_args"))
                    .map_err(|m| err("memory_last_task.tool_args", m))?;
                Some((name, args))
            }
            None => None,
        },
        _ => None,
    };
    Ok(KagentItem {
        id,
        kind,
        query: field_str(obj, "query").unwrap_or_default(),
        golden,
        funcs,
        prompt_input,
        memory: field_str(obj, "memory").unwrap_or_default(),
        last_task,
    })
}

/// The JSON values of a file: a JSON array, or one value per non-blank line (with its line).
fn read_values(path: &Path) -> Result<Vec<(Option<usize>, Value)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    if text.trim_start().starts_with('[') {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::input(path, Some(e.line()), "", e.to_string()))?;
        return match v {
            Value::Array(a) => Ok(a.into_iter().map(|x| (None, x)).collect()),
            _ => Err(Error::input(path, None, "", "expected an array")),
        };
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| Error::input(path, Some(i + 1), "", e.to_string()))?;
        out.push((Some(i + 1), v));
    }
    Ok(out)
}

/// Reads KAgentBench items (JSONL, as `benchmark_eval.jsonl`, or a JSON array). Ids must be
/// unique; fields the scoring does not use are ignored.
pub fn load_items(path: &Path) -> Result<Vec<KagentItem>> {
    let mut out = Vec::new();
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    for (line, v) in read_values(path)? {
        let item = parse_item(&v, path, line)?;
        if let Some(first) = seen.insert(item.id.clone(), line) {
            return Err(Error::input(
                path,
                line,
                "id",
                format!(
                    "`{}` repeats an earlier item{}",
                    item.id,
                    first.map(|l| format!(" (line {l})")).unwrap_or_default()
                ),
            ));
        }
        out.push(item);
    }
    Ok(out)
}

/// Replies by item id. A `{"id", "text"}` line gives one reply; a line with the benchmark's
/// `model_predict` (a string, or one reply per prompt template) gives all of its replies.
pub fn read_responses(path: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    for (line, v) in read_values(path)? {
        let err = |field: &str, msg: &str| Error::input(path, line, field, msg);
        let obj = v
            .as_object()
            .ok_or_else(|| err("", "expected a JSON object"))?;
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(err("id", "expected a non-empty string")),
        };
        if let Some(first) = seen.insert(id.clone(), line) {
            return Err(Error::input(
                path,
                line,
                "id",
                format!(
                    "`{id}` already answered{}",
                    first.map(|l| format!(" on line {l}")).unwrap_or_default()
                ),
            ));
        }
        let texts = match (obj.get("text"), obj.get("model_predict")) {
            (Some(Value::String(t)), _) => vec![t.clone()],
            (Some(Value::Null), _) => vec![String::new()],
            (Some(_), _) => return Err(err("text", "expected a string")),
            (None, Some(Value::String(t))) => vec![t.clone()],
            (None, Some(Value::Object(o))) => {
                let mut texts = Vec::with_capacity(o.len());
                for (k, t) in o {
                    match t {
                        Value::String(s) => texts.push(s.clone()),
                        Value::Null => texts.push(String::new()),
                        _ => {
                            return Err(err(&format!("model_predict.{k}"), "expected a string"));
                        }
                    }
                }
                texts
            }
            (None, Some(_)) => {
                return Err(err(
                    "model_predict",
                    "expected a string or an object of strings",
                ));
            }
            (None, None) => return Err(err("text", "missing")),
        };
        out.insert(id, texts);
    }
    Ok(out)
}

/// A reply read as one agent step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PredictedStep {
    /// The thought or task name (empty when none was found).
    pub thought: String,
    /// The tool called (empty when none).
    pub tool_name: String,
    /// The tool's arguments.
    pub tool_args: Map<String, Value>,
}

/// The outermost JSON object in `text` (from its first `{` to a matching last `}`), closing
/// up to a few unclosed braces.
fn json_object_in(text: &str) -> Option<Map<String, Value>> {
    let start = text.find('{')?;
    let body = &text[start..];
    let mut candidates: Vec<String> = Vec::new();
    if let Some(end) = body.rfind('}') {
        candidates.push(body[..=end].to_owned());
    }
    let open = body.matches('{').count();
    let close = body.matches('}').count();
    if open > close && open - close <= 5 {
        let mut s = body.trim_end().to_owned();
        s.push_str(&"}".repeat(open - close));
        candidates.push(s);
    }
    candidates
        .iter()
        .find_map(|c| match serde_json::from_str::<Value>(c) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        })
}

fn string_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The first parameter of function `name` among `funcs`.
fn first_parameter(funcs: &[Value], name: &str) -> Option<String> {
    funcs
        .iter()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
        .and_then(|f| f.pointer("/parameters/properties"))
        .and_then(Value::as_object)
        .and_then(|p| p.keys().next().cloned())
}

/// The text after the first `label` up to the first of `ends` (or the end).
fn section<'a>(text: &'a str, label: &str, ends: &[&str]) -> Option<&'a str> {
    let start = text.find(label)? + label.len();
    let rest = &text[start..];
    let end = ends
        .iter()
        .filter_map(|e| rest.find(e))
        .min()
        .unwrap_or(rest.len());
    Some(rest[..end].trim())
}

/// Reads a reply as a step (see the module docs for the formats understood). `funcs` name
/// the parameter a plain-text `Action Input` fills.
pub fn parse_step(text: &str, funcs: &[Value]) -> PredictedStep {
    let mut out = PredictedStep::default();
    // <|startofthink|>{"api_name", "parameters"}<|endofthink|>
    if let Some(block) = section(text, "<|startofthink|>", &["<|endofthink|>"])
        && let Some(o) = json_object_in(block)
    {
        out.tool_name = string_of(o.get("api_name"));
        if let Some(Value::Object(a)) = o.get("parameters") {
            out.tool_args = a.clone();
        }
        out.thought = text[..text.find("<|startofthink|>").unwrap_or(0)]
            .trim()
            .to_owned();
        return out;
    }
    // Thought / Action / Action Input lines.
    if let Some(action) = section(text, "Action:", &["Action Input:", "\n"]) {
        out.tool_name = action.trim().to_owned();
        let before = &text[..text.find("Action:").unwrap_or(0)];
        let thought = before.trim();
        out.thought = thought
            .strip_prefix("Thought:")
            .unwrap_or(thought)
            .trim()
            .to_owned();
        if let Some(input) = section(text, "Action Input:", &["Observation", "\nThought"]) {
            match json_object_in(input) {
                Some(o) if input.trim_start().starts_with('{') => out.tool_args = o,
                _ => {
                    if let Some(key) = first_parameter(funcs, &out.tool_name)
                        && !input.is_empty()
                    {
                        out.tool_args.insert(key, Value::String(input.to_owned()));
                    }
                }
            }
        }
        return out;
    }
    // A JSON object: {"task_name" | "thoughts": {"text"} | "thought", "command": {"name", "args"}}.
    if let Some(o) = json_object_in(text) {
        out.thought = match (o.get("task_name"), o.get("thoughts"), o.get("thought")) {
            (Some(t), _, _) => string_of(Some(t)),
            (None, Some(Value::Object(th)), _) => string_of(th.get("text")),
            (None, _, t) => string_of(t),
        };
        if let Some(Value::Object(c)) = o.get("command") {
            out.tool_name = string_of(c.get("name"));
            if let Some(Value::Object(a)) = c.get("args") {
                out.tool_args = a.clone();
            }
        } else if let Some(name) = o.get("name").or_else(|| o.get("tool_name")) {
            out.tool_name = string_of(Some(name));
            if let Some(Value::Object(a)) = o.get("arguments").or_else(|| o.get("args")) {
                out.tool_args = a.clone();
            }
        }
        return out;
    }
    out.thought = text.trim().to_owned();
    out
}

/// The answer in a reply to a concluding or profile item: the `final_answer` or
/// `command.args.response` of a JSON reply, the text after `Final Answer:`, a
/// `response="..."` argument, else the whole reply.
pub fn extract_answer(text: &str) -> String {
    if let Some(o) = json_object_in(text).map(Value::Object) {
        if let Some(Value::String(a)) = o.get("final_answer") {
            return a.trim().to_owned();
        }
        if let Some(Value::String(a)) = o.pointer("/command/args/response") {
            return a.trim().to_owned();
        }
        if let Some(Value::String(a)) = o.pointer("/command/args/answer") {
            return a.trim().to_owned();
        }
    }
    if let Some(a) = section(text, "Final Answer:", &[]) {
        return a.to_owned();
    }
    if let Some(a) = section(text, "response=\"", &["\")"]) {
        return a.to_owned();
    }
    text.trim().to_owned()
}

/// An argument value as text: strings as they are, other values as JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Similarity of predicted to gold arguments: the mean over the gold keys of the ROUGE-L F1
/// of the predicted value (0 when the key is missing); 1 when neither side has an argument,
/// 0 when only one side has some.
pub fn argument_similarity(pred: &Map<String, Value>, gold: &Map<String, Value>) -> f64 {
    match (pred.is_empty(), gold.is_empty()) {
        (true, true) => 1.0,
        (true, false) | (false, true) => 0.0,
        (false, false) => {
            let total: f64 = gold
                .iter()
                .map(|(k, v)| {
                    pred.get(k)
                        .map_or(0.0, |p| rouge_l(&value_text(p), &value_text(v)))
                })
                .sum();
            total / gold.len() as f64
        }
    }
}

fn is_none(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t == "None"
}

fn same_tool(pred: &str, gold: &str) -> bool {
    !pred.trim().is_empty() && pred.trim() == gold.trim()
}

/// Planning score of a step: the best `ROUGE-L(thought) × [same tool]` over the gold steps
/// with a thought and a tool.
pub fn planning_score(pred: &PredictedStep, gold: &[GoldStep]) -> f64 {
    gold.iter()
        .filter(|g| !is_none(&g.thought) && !is_none(&g.tool_name))
        .map(|g| {
            if same_tool(&pred.tool_name, &g.tool_name) {
                rouge_l(&pred.thought, &g.thought)
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Tool-use score of a step: the best `[same tool] × argument similarity` over the gold
/// steps with a tool.
pub fn tool_use_score(pred: &PredictedStep, gold: &[GoldStep]) -> f64 {
    gold.iter()
        .filter(|g| !is_none(&g.tool_name))
        .map(|g| {
            if same_tool(&pred.tool_name, &g.tool_name) {
                argument_similarity(&pred.tool_args, &g.tool_args)
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Whether two argument objects are equal (numbers by value, key order ignored).
fn args_equal(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    crate::step::canonical(&Value::Object(a.clone()))
        == crate::step::canonical(&Value::Object(b.clone()))
}

/// Reflection score of a step: 0 when it repeats `last_task` (same tool and arguments),
/// else the best `[same tool] × (0.3 ROUGE-L(thought) + 0.7 argument similarity)` over the
/// gold steps with a thought and a tool.
pub fn reflection_score(
    pred: &PredictedStep,
    gold: &[GoldStep],
    last_task: Option<&(String, Map<String, Value>)>,
) -> f64 {
    if let Some((name, args)) = last_task
        && same_tool(&pred.tool_name, name)
        && args_equal(&pred.tool_args, args)
    {
        return 0.0;
    }
    gold.iter()
        .filter(|g| !is_none(&g.thought) && !is_none(&g.tool_name))
        .map(|g| {
            if same_tool(&pred.tool_name, &g.tool_name) {
                0.3 * rouge_l(&pred.thought, &g.thought)
                    + 0.7 * argument_similarity(&pred.tool_args, &g.tool_args)
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Answer score: the best ROUGE-L F1 of the answer against the references (0 for an empty
/// answer).
pub fn answer_score(answer: &str, references: &[String]) -> f64 {
    if crate::text::tokens(answer).is_empty() {
        return 0.0;
    }
    references
        .iter()
        .map(|r| rouge_l(answer, r))
        .fold(0.0, f64::max)
}

/// The scores of one reply to `item`, per ability the item is scored for.
pub fn score_reply(item: &KagentItem, text: &str) -> BTreeMap<Ability, f64> {
    let mut out = BTreeMap::new();
    match (&item.golden, item.kind) {
        (Golden::Steps(gold), ItemKind::PlanToolUse) => {
            let step = parse_step(text, &item.funcs);
            out.insert(Ability::Planning, planning_score(&step, gold));
            out.insert(Ability::ToolUse, tool_use_score(&step, gold));
        }
        (Golden::Steps(gold), _) => {
            let step = parse_step(text, &item.funcs);
            out.insert(
                Ability::Reflection,
                reflection_score(&step, gold, item.last_task.as_ref()),
            );
        }
        (Golden::Answers(refs), kind) => {
            let ability = if kind == ItemKind::Profile {
                Ability::Profile
            } else {
                Ability::Concluding
            };
            out.insert(ability, answer_score(&extract_answer(text), refs));
        }
    }
    out
}

/// The scores of `item` given its replies: per ability, the mean over the replies; 0 when
/// there is none.
pub fn score_item(item: &KagentItem, replies: &[String]) -> BTreeMap<Ability, f64> {
    let mut sums: BTreeMap<Ability, f64> =
        item.kind.abilities().iter().map(|a| (*a, 0.0)).collect();
    for r in replies {
        for (a, s) in score_reply(item, r) {
            *sums.entry(a).or_default() += s;
        }
    }
    if !replies.is_empty() {
        for s in sums.values_mut() {
            *s /= replies.len() as f64;
        }
    }
    sums
}

/// One ability's result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AbilityScore {
    /// Mean score over the ability's items (0..1).
    pub score: f64,
    /// Items scored for the ability.
    pub items: usize,
    /// Of those, items without a reply (scored 0).
    pub missing: usize,
    /// The ability's weight in the overall score, as used (renormalised over the abilities
    /// present).
    pub weight: f64,
}

/// The summary of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KagentSummary {
    /// Per ability present in the data (`planning`, `tool_use`, ...).
    pub abilities: BTreeMap<&'static str, AbilityScore>,
    /// The weighted overall score (0..1).
    pub overall: f64,
    /// Items in the data.
    pub items: usize,
    /// Items without a reply.
    pub missing: usize,
    /// Replies whose id is no item of the data (ignored).
    pub unknown_ids: usize,
}

/// One scored item: its per-ability scores and the replies behind them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredItem {
    /// The item's index in the data.
    pub index: usize,
    /// Per ability.
    pub scores: BTreeMap<Ability, f64>,
    /// The replies scored (empty: missing).
    pub replies: Vec<String>,
}

/// Scores every item and sums up per ability and overall.
pub fn score_all(
    items: &[KagentItem],
    replies: &BTreeMap<String, Vec<String>>,
) -> (Vec<ScoredItem>, KagentSummary) {
    let mut scored = Vec::with_capacity(items.len());
    let mut sums: BTreeMap<Ability, (f64, usize, usize)> = BTreeMap::new();
    let mut missing = 0;
    for (index, item) in items.iter().enumerate() {
        let r: Vec<String> = replies.get(&item.id).cloned().unwrap_or_default();
        if r.is_empty() {
            missing += 1;
        }
        let scores = score_item(item, &r);
        for (a, s) in &scores {
            let e = sums.entry(*a).or_default();
            e.0 += s;
            e.1 += 1;
            if r.is_empty() {
                e.2 += 1;
            }
        }
        scored.push(ScoredItem {
            index,
            scores,
            replies: r,
        });
    }
    let weight_total: f64 = sums.keys().map(|a| a.weight()).sum();
    let known: std::collections::HashSet<&str> = items.iter().map(|i| i.id.as_str()).collect();
    let mut summary = KagentSummary {
        items: items.len(),
        missing,
        unknown_ids: replies
            .keys()
            .filter(|id| !known.contains(id.as_str()))
            .count(),
        ..Default::default()
    };
    for (a, (sum, n, miss)) in sums {
        let score = if n == 0 { 0.0 } else { sum / n as f64 };
        // Every ability present: the weights as they are (no rounding noise from dividing).
        let weight = if (weight_total - 1.0).abs() < 1e-9 {
            a.weight()
        } else if weight_total > 0.0 {
            a.weight() / weight_total
        } else {
            0.0
        };
        summary.overall += weight * score;
        summary.abilities.insert(
            a.name(),
            AbilityScore {
                score,
                items: n,
                missing: miss,
                weight,
            },
        );
    }
    (scored, summary)
}

/// The eval records of one scored item: one per ability (ids of plan-and-tool-use items get
/// `#planning` / `#tool_use`), category the ability, metric `score`.
pub fn records(
    item: &KagentItem,
    scored: &ScoredItem,
    model: &str,
) -> Vec<agentune_schema::EvalRecord> {
    let response = match scored.replies.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => serde_json::to_string(many).ok(),
    };
    let expected = serde_json::to_value(&item.golden).ok();
    let split = scored.scores.len() > 1;
    scored
        .scores
        .iter()
        .map(|(a, s)| agentune_schema::EvalRecord {
            schema_version: Default::default(),
            id: if split {
                format!("{}#{}", item.id, a.name())
            } else {
                item.id.clone()
            },
            suite: SUITE.into(),
            category: Some(a.name().into()),
            model: model.to_owned(),
            template_id: None,
            meta: None,
            response: response.clone(),
            parsed: None,
            expected: expected.clone(),
            metrics: BTreeMap::from([("score".to_owned(), *s)]),
            passed: None,
            error: scored.replies.is_empty().then(|| "no response".to_owned()),
            latency_ms: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    fn item(v: Value) -> KagentItem {
        parse_item(&v, Path::new("data.jsonl"), Some(1)).unwrap()
    }

    fn plan_item() -> KagentItem {
        item(json!({
            "id": "p1", "type": "plantooluse", "query": "北京明天天气",
            "golden_result_list": [
                {"thought": "查询北京明天的天气", "tool_name": "get_weather", "tool_args": {"city": "北京", "date": "明天"}},
                {"thought": "None", "tool_name": "None", "tool_args": {}}
            ],
            "funcs": [{"name": "get_weather", "parameters": {"properties": {"city": {}, "date": {}}}}],
            "prompt_input": {"KuaiAgent": "prompt K", "ReACT": "prompt R"},
            "memory": "", "memory_type": "task", "memory_last_task": {}
        }))
    }

    fn kuai(thought: &str, name: &str, args: Value) -> String {
        json!({"task_name": thought, "command": {"name": name, "args": args}}).to_string()
    }

    #[test]
    fn exact_replies_score_one_per_ability() {
        let p = plan_item();
        let s = score_item(
            &p,
            &[kuai(
                "查询北京明天的天气",
                "get_weather",
                json!({"date": "明天", "city": "北京"}),
            )],
        );
        close(s[&Ability::Planning], 1.0);
        close(s[&Ability::ToolUse], 1.0);
        let r = item(json!({
            "id": "r1", "type": "reflextion",
            "golden_result_list": [{"thought": "search again in English", "tool_name": "web_search", "tool_args": {"query": "Beijing weather"}}],
            "memory_last_task": {"tool_name": "web_search", "tool_args": {"query": "北京天气"}}
        }));
        let s = score_item(
            &r,
            &["Thought: search again in English\nAction: web_search\nAction Input: {\"query\": \"Beijing weather\"}".into()],
        );
        close(s[&Ability::Reflection], 1.0);
        let c = item(json!({
            "id": "c1", "type": "conclusion",
            "golden_result_list": [{"golden_result": "6月最热"}, {"golden_result": {"golden_result": "June was the hottest"}}]
        }));
        close(
            score_item(&c, &["June was the hottest.".into()])[&Ability::Concluding],
            1.0,
        );
        let pr = item(json!({"id": "x", "type": "profile", "golden_result_list": ["我是小助手"]}));
        close(
            score_item(&pr, &["我是小助手。".into()])[&Ability::Profile],
            1.0,
        );
    }

    #[test]
    fn chinese_answer_one_character_off_by_hand() {
        // 6 characters each, 5 shared in order: P = R = 5/6, F1 = 5/6.
        let c =
            item(json!({"id": "c", "type": "conclusion", "golden_result_list": ["北京明天下雨"]}));
        close(
            score_item(&c, &["北京明天下雪".into()])[&Ability::Concluding],
            5.0 / 6.0,
        );
        // Thought one character short (8 characters vs 9): LCS 8, P 1, R 8/9 -> F1 16/17.
        let p = plan_item();
        let s = score_item(
            &p,
            &[kuai(
                "查询北京明天天气",
                "get_weather",
                json!({"city": "北京", "date": "明天"}),
            )],
        );
        close(s[&Ability::Planning], 16.0 / 17.0);
        close(s[&Ability::ToolUse], 1.0);
    }

    #[test]
    fn wrong_tool_name_scores_zero_and_missing_keys_count_zero() {
        let p = plan_item();
        let s = score_item(
            &p,
            &[kuai(
                "查询北京明天的天气",
                "web_search",
                json!({"city": "北京", "date": "明天"}),
            )],
        );
        close(s[&Ability::Planning], 0.0);
        close(s[&Ability::ToolUse], 0.0);
        // Right tool, one of two arguments: (1 + 0) / 2.
        let s = score_item(
            &p,
            &[kuai(
                "查询北京明天的天气",
                "get_weather",
                json!({"city": "北京"}),
            )],
        );
        close(s[&Ability::ToolUse], 0.5);
        // Two replies (two prompt templates) are averaged: (1 + 0) / 2.
        let s = score_item(
            &p,
            &[
                kuai(
                    "查询北京明天的天气",
                    "get_weather",
                    json!({"city": "北京", "date": "明天"}),
                ),
                "no idea".into(),
            ],
        );
        close(s[&Ability::ToolUse], 0.5);
    }

    #[test]
    fn reflection_repeating_the_last_task_scores_zero() {
        let r = item(json!({
            "id": "r", "type": "reflextion",
            "golden_result_list": [{"thought": "search again", "tool_name": "web_search", "tool_args": {"query": "北京天气"}}],
            "memory_last_task": {"tool_name": "web_search", "tool_args": {"query": "北京天气"}}
        }));
        close(
            score_item(
                &r,
                &[kuai(
                    "search again",
                    "web_search",
                    json!({"query": "北京天气"}),
                )],
            )[&Ability::Reflection],
            0.0,
        );
        // Same tool, thought exact, argument 2 of 4 characters shared (北京 vs 北京天气):
        // 0.3 * 1 + 0.7 * (2 * 1 * 0.5 / 1.5).
        close(
            score_item(
                &r,
                &[kuai("search again", "web_search", json!({"query": "北京"}))],
            )[&Ability::Reflection],
            0.3 + 0.7 * (2.0 / 3.0),
        );
    }

    #[test]
    fn missing_reply_scores_zero_and_overall_weights_by_hand() {
        let items = vec![
            plan_item(),
            item(json!({"id": "c", "type": "conclusion", "golden_result_list": ["北京明天下雨"]})),
            item(json!({"id": "f", "type": "profile", "golden_result_list": ["I am a helper"]})),
            item(json!({"id": "r", "type": "reflection",
                "golden_result_list": [{"thought": "t", "tool_name": "a", "tool_args": {}}]})),
        ];
        let replies = BTreeMap::from([
            (
                "p1".to_owned(),
                vec![kuai(
                    "查询北京明天的天气",
                    "get_weather",
                    json!({"city": "北京"}),
                )],
            ),
            ("c".to_owned(), vec!["北京明天下雪".to_owned()]),
            ("ghost".to_owned(), vec!["x".to_owned()]),
        ]);
        let (scored, summary) = score_all(&items, &replies);
        assert_eq!(summary.missing, 2);
        assert_eq!(summary.unknown_ids, 1);
        close(scored[2].scores[&Ability::Profile], 0.0);
        let a = &summary.abilities;
        close(a["planning"].score, 1.0);
        close(a["tool_use"].score, 0.5);
        close(a["concluding"].score, 5.0 / 6.0);
        close(a["profile"].score, 0.0);
        close(a["reflection"].score, 0.0);
        assert_eq!(a["profile"].missing, 1);
        // All five present: the benchmark's weights as they are.
        close(
            summary.overall,
            0.25 * 1.0 + 0.35 * 0.5 + 0.1 * 0.0 + 0.2 * (5.0 / 6.0) + 0.1 * 0.0,
        );
        // Only concluding and profile present: weights 0.2 and 0.1 renormalised to 2/3, 1/3.
        let (_, s) = score_all(&items[1..3], &replies);
        close(s.abilities["concluding"].weight, 2.0 / 3.0);
        close(s.overall, 2.0 / 3.0 * (5.0 / 6.0));
    }

    #[test]
    fn reply_formats_are_read() {
        let funcs =
            vec![json!({"name": "web_search", "parameters": {"properties": {"query": {}}}})];
        let s = parse_step(
            "I should search.\nAction: web_search\nAction Input: weather in Rome\nObservation:",
            &funcs,
        );
        assert_eq!(s.tool_name, "web_search");
        assert_eq!(s.tool_args["query"], "weather in Rome");
        assert_eq!(s.thought, "I should search.");
        let s = parse_step(
            "ok <|startofthink|>```JSON\n{\"api_name\": \"web_search\", \"parameters\": {\"query\": \"x\"}}\n```<|endofthink|>",
            &funcs,
        );
        assert_eq!(s.tool_name, "web_search");
        assert_eq!(s.tool_args["query"], "x");
        let s = parse_step(
            "{\"thoughts\": {\"text\": \"look up\"}, \"command\": {\"name\": \"web_search\", \"args\": {\"query\": \"y\"}}",
            &funcs,
        );
        assert_eq!(
            (s.thought.as_str(), s.tool_name.as_str()),
            ("look up", "web_search")
        );
        assert_eq!(extract_answer("Thought: done\nFinal Answer: 六月"), "六月");
        assert_eq!(
            extract_answer("{\"return_type\": \"give_answer\", \"final_answer\": \"六月\"}"),
            "六月"
        );
        assert_eq!(extract_answer("plain answer "), "plain answer");
    }

    #[test]
    fn bad_items_name_line_and_field() {
        let e = parse_item(
            &json!({"id": "a", "type": "nope", "golden_result_list": ["x"]}),
            Path::new("d.jsonl"),
            Some(3),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("d.jsonl:3: type"), "{e}");
        let e = parse_item(
            &json!({"id": "a", "type": "plantooluse", "golden_result_list": [{"thought": "t"}]}),
            Path::new("d.jsonl"),
            Some(4),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("golden_result_list[0].tool_name"), "{e}");
    }

    #[test]
    fn files_are_read_with_line_numbers_and_duplicates_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.jsonl");
        std::fs::write(
            &data,
            "{\"id\": \"a\", \"type\": \"profile\", \"golden_result_list\": [\"x\"], \"prompt_input\": {\"prompt\": \"Who are you?\"}}\n\n{\"id\": \"a\", \"type\": \"profile\", \"golden_result_list\": [\"y\"]}\n",
        )
        .unwrap();
        let e = load_items(&data).unwrap_err().to_string();
        assert!(e.contains(":3: id"), "{e}");
        let resp = dir.path().join("r.jsonl");
        std::fs::write(
            &resp,
            "{\"id\": \"a\", \"text\": \"hi\"}\n{\"id\": \"b\", \"model_predict\": {\"ReACT\": \"1\", \"KuaiAgent\": \"2\"}}\n",
        )
        .unwrap();
        let r = read_responses(&resp).unwrap();
        assert_eq!(r["a"], ["hi"]);
        assert_eq!(r["b"].len(), 2);
        std::fs::write(&data, "[{\"id\": \"a\", \"type\": \"profile\", \"golden_result_list\": [\"x\"], \"prompt_input\": {\"prompt\": \"Who are you?\"}}]").unwrap();
        let items = load_items(&data).unwrap();
        assert_eq!(items[0].prompt("KuaiAgent"), "Who are you?");
    }
}
