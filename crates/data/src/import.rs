//! Importers: public agent data sets into [`Record`]s. Each format's reader names the file,
//! line (JSONL) or record index (JSON arrays) and field of anything it cannot read.
//!
//! | format | reads | becomes |
//! |---|---|---|
//! | `toolbench` | DFSDT answer files (`answer_generation.train_messages`), one JSON object per file or a folder of them | trajectories |
//! | `toolbench-conversations` | the preprocessed `conversations` form (Thought / Action / Action Input text, `Finish`) | trajectories |
//! | `agentinstruct` | AgentInstruct `conversations` with `from` human/gpt and `loss` | samples |
//! | `kagentinstruct` | KAgentInstruct entries (`query`, `functions`, `llm_prompt_response`) | one sample per step |
//! | `sharegpt` | LLaMA-Factory ShareGPT (`function_call` / `observation` turns, `tools` column) | trajectories when the conversation is one episode with tools, else samples |
//! | `openai` | OpenAI chat `messages` with `tools` (or `functions`) | same rule |
//! | `bfcl` | BFCL question files (`question`, `function`) | eval-only samples |

use std::path::{Path, PathBuf};
use std::str::FromStr;

use agentune_schema::{
    Complexity, Message, Provenance, QueryKind, QueryMeta, Role, Sample, ToolCall, ToolSpec,
    Trajectory, tools_from_openai_json,
};
use serde_json::{Map, Value};

use crate::convert::{self, FINISH};
use crate::error::{Error, Result};
use crate::record::{Record, detect_language, infer_meta};

/// The formats [`import_path`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ToolBench DFSDT answer files.
    ToolBench,
    /// ToolBench's preprocessed `conversations` form.
    ToolBenchConversations,
    /// AgentInstruct (AgentTuning).
    AgentInstruct,
    /// KAgentInstruct (KwaiAgents).
    KAgentInstruct,
    /// ShareGPT as LLaMA-Factory reads it.
    ShareGpt,
    /// OpenAI chat messages with tools.
    OpenAi,
    /// Alpaca instruction data (`instruction`, `input`, `output`, `system`, `history`), general
    /// SFT data.
    Alpaca,
    /// BFCL questions (evaluation only).
    Bfcl,
}

impl Format {
    /// Every format, in documentation order.
    pub const ALL: [Self; 8] = [
        Self::ToolBench,
        Self::ToolBenchConversations,
        Self::AgentInstruct,
        Self::KAgentInstruct,
        Self::ShareGpt,
        Self::OpenAi,
        Self::Alpaca,
        Self::Bfcl,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ToolBench => "toolbench",
            Self::ToolBenchConversations => "toolbench-conversations",
            Self::AgentInstruct => "agentinstruct",
            Self::KAgentInstruct => "kagentinstruct",
            Self::ShareGpt => "sharegpt",
            Self::OpenAi => "openai",
            Self::Alpaca => "alpaca",
            Self::Bfcl => "bfcl",
        }
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                Error::Invalid(format!(
                    "unknown import format `{s}` (expected one of: {})",
                    names.join(", ")
                ))
            })
    }
}

/// Import options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Scenario label for records whose format does not give one (default: the format's
    /// data set name).
    pub scenario: Option<String>,
    /// Skip records that cannot be read (each is reported) instead of stopping at the first.
    pub skip_invalid: bool,
}

/// What an import produced.
#[derive(Debug, Default)]
pub struct Imported {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Records left out, with the reason (invalid records when skipping, or records the data
    /// set itself marks unusable).
    pub skipped: Vec<String>,
}

/// Where a raw item came from, for error messages.
#[derive(Debug, Clone)]
pub struct Loc {
    /// The file.
    pub path: PathBuf,
    /// The 1-based JSONL line, when the file is JSONL.
    pub line: Option<usize>,
    /// The 0-based index in a JSON array, when the file is one.
    pub index: Option<usize>,
}

impl Loc {
    fn err(&self, field: &str, message: impl Into<String>) -> Error {
        let field = match self.index {
            Some(i) if field.is_empty() => format!("[{i}]"),
            Some(i) => format!("[{i}].{field}"),
            None if field.is_empty() => "record".to_owned(),
            None => field.to_owned(),
        };
        Error::input(self.path.clone(), self.line, field, message)
    }

    fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn fallback_id(&self, prefix: &str) -> String {
        match (self.line, self.index) {
            (Some(l), _) => format!("{prefix}-{}-{l}", self.stem()),
            (_, Some(i)) => format!("{prefix}-{}-{i}", self.stem()),
            _ => format!("{prefix}-{}", self.stem()),
        }
    }
}

/// Reads every item of a file (a JSON array, one JSON object, or JSONL) or of every `.json`
/// / `.jsonl` file under a folder (sorted by path).
pub fn read_items(path: &Path) -> Result<Vec<(Loc, Value)>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        files.sort();
        let mut out = Vec::new();
        for f in files {
            out.extend(read_file_items(&f)?);
        }
        return Ok(out);
    }
    read_file_items(path)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))? {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let p = entry.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "jsonl")
        ) {
            out.push(p);
        }
    }
    Ok(())
}

fn read_file_items(path: &Path) -> Result<Vec<(Loc, Value)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let trimmed = text.trim_start();
    let whole = |v: Value| {
        let loc = Loc {
            path: path.to_path_buf(),
            line: None,
            index: None,
        };
        (loc, v)
    };
    if trimmed.starts_with('[') {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            Error::input(path, Some(e.line()), "", format!("not a JSON array: {e}"))
        })?;
        let Value::Array(items) = v else {
            return Err(Error::input(path, None, "", "expected a JSON array"));
        };
        return Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let loc = Loc {
                    path: path.to_path_buf(),
                    line: None,
                    index: Some(i),
                };
                (loc, v)
            })
            .collect());
    }
    // One pretty-printed object per file (ToolBench answers), or JSONL.
    if trimmed.starts_with('{')
        && text.lines().filter(|l| !l.trim().is_empty()).count() > 1
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return Ok(vec![whole(v)]);
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            Error::input(
                path,
                Some(n + 1),
                format!("column {}", e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let loc = Loc {
            path: path.to_path_buf(),
            line: Some(n + 1),
            index: None,
        };
        out.push((loc, v));
    }
    Ok(out)
}

/// Imports a file or folder in `format`.
pub fn import_path(format: Format, path: &Path, opts: &ImportOptions) -> Result<Imported> {
    let items = read_items(path)?;
    let mut out = Imported::default();
    for (loc, value) in items {
        match import_value(format, &value, &loc, opts) {
            Ok(Converted::Records(rs)) => out.records.extend(rs),
            Ok(Converted::Skip(why)) => out.skipped.push(why),
            Err(e) if opts.skip_invalid => out.skipped.push(e.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// What one raw item became.
#[derive(Debug)]
pub enum Converted {
    /// Records (several for formats that hold one step per record).
    Records(Vec<Record>),
    /// Nothing: the data set marks the item unusable; the text says why.
    Skip(String),
}

/// Imports one raw item.
pub fn import_value(
    format: Format,
    v: &Value,
    loc: &Loc,
    opts: &ImportOptions,
) -> Result<Converted> {
    let obj = v
        .as_object()
        .ok_or_else(|| loc.err("", "expected a JSON object"))?;
    let scenario = |default: &str| opts.scenario.clone().unwrap_or_else(|| default.to_owned());
    match format {
        Format::ToolBench => toolbench_answer(obj, loc, &scenario("toolbench")),
        Format::ToolBenchConversations => {
            toolbench_conversations(obj, loc, &scenario("toolbench")).map(one)
        }
        Format::AgentInstruct => agentinstruct(obj, loc, opts.scenario.as_deref()).map(one),
        Format::KAgentInstruct => kagentinstruct(obj, loc, &scenario("kagentinstruct")),
        Format::ShareGpt => sharegpt(obj, loc, &scenario("sharegpt")).map(one),
        Format::OpenAi => openai(obj, loc, &scenario("openai")).map(one),
        Format::Alpaca => alpaca(obj, loc, &scenario("alpaca")).map(one),
        Format::Bfcl => bfcl(obj, loc).map(one),
    }
}

fn one(r: Record) -> Converted {
    Converted::Records(vec![r])
}

fn get_str<'a>(obj: &'a Map<String, Value>, key: &str, loc: &Loc, prefix: &str) -> Result<&'a str> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| loc.err(&join(prefix, key), "missing or not a string"))
}

fn get_array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    loc: &Loc,
    prefix: &str,
) -> Result<&'a Vec<Value>> {
    obj.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| loc.err(&join(prefix, key), "missing or not an array"))
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn id_of(obj: &Map<String, Value>, loc: &Loc, prefix: &str) -> String {
    match obj.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => loc.fallback_id(prefix),
    }
}

/// Chooses a trajectory when the conversation is one agent episode with tools, else a sample.
fn record_from_messages(
    id: String,
    messages: Vec<Message>,
    tools: Vec<ToolSpec>,
    provenance: Provenance,
    scenario: &str,
) -> Record {
    if !tools.is_empty()
        && let Some(mut t) =
            convert::trajectory_from_messages(&id, &messages, tools.clone(), provenance.clone())
    {
        t.meta = Some(traj_meta(&t, scenario));
        return Record::from(t);
    }
    let calls: Vec<&str> = messages
        .iter()
        .flat_map(|m| m.tool_calls.iter().map(|c| c.name.as_str()))
        .collect();
    let steps = messages.iter().filter(|m| !m.tool_calls.is_empty()).count();
    let query = messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(Message::content_str)
        .unwrap_or("");
    let meta = infer_meta(scenario, query, !tools.is_empty(), &calls, steps);
    Record::from(Sample {
        schema_version: Default::default(),
        id,
        messages,
        tools,
        template_id: None,
        meta,
        split: None,
        group: None,
        provenance: Some(provenance),
    })
}

fn traj_meta(t: &Trajectory, scenario: &str) -> QueryMeta {
    let calls: Vec<&str> = t
        .steps
        .iter()
        .flat_map(|s| s.step.calls().iter().map(|c| c.name.as_str()))
        .collect();
    let steps = t
        .steps
        .iter()
        .filter(|s| !s.step.calls().is_empty())
        .count();
    infer_meta(scenario, &t.query, !t.tools.is_empty(), &calls, steps)
}

fn tools_without_finish(list: &Value, loc: &Loc, field: &str) -> Result<Vec<ToolSpec>> {
    let Value::Array(items) = list else {
        return Err(loc.err(field, "expected an array of functions"));
    };
    let kept: Vec<Value> = items
        .iter()
        .filter(|f| f.get("name").and_then(Value::as_str) != Some(FINISH))
        .cloned()
        .collect();
    tools_from_openai_json(&Value::Array(kept)).map_err(|e| loc.err(field, e.to_string()))
}

// ---- ToolBench DFSDT answers -------------------------------------------------------------

fn toolbench_answer(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Converted> {
    let ag = obj
        .get("answer_generation")
        .and_then(Value::as_object)
        .ok_or_else(|| loc.err("answer_generation", "missing or not an object"))?;
    const P: &str = "answer_generation";
    if ag.get("valid_data") == Some(&Value::Bool(false)) {
        return Ok(Converted::Skip(format!(
            "{}: answer_generation.valid_data is false",
            loc.path.display()
        )));
    }
    let query = get_str(ag, "query", loc, P)?;
    let tools = tools_without_finish(
        ag.get("function").unwrap_or(&Value::Array(vec![])),
        loc,
        "answer_generation.function",
    )?;
    let tm = get_array(ag, "train_messages", loc, P)?;
    // Each entry is the conversation up to one assistant turn; the last one is complete.
    let Some((k, last)) = tm.iter().enumerate().next_back() else {
        return Ok(Converted::Skip(format!(
            "{}: answer_generation.train_messages is empty",
            loc.path.display()
        )));
    };
    let field = format!("answer_generation.train_messages[{k}]");
    let list = last
        .as_array()
        .ok_or_else(|| loc.err(&field, "expected an array of messages"))?;
    let mut messages = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        messages.push(
            Message::from_openai(m)
                .map_err(|e| loc.err(&format!("{field}[{i}]"), e.to_string()))?,
        );
    }
    let id = match obj.get("query_id").or_else(|| ag.get("query_id")) {
        Some(Value::Number(n)) => format!("toolbench-{n}"),
        Some(Value::String(s)) => format!("toolbench-{s}"),
        _ => format!("toolbench-{}", loc.stem()),
    };
    let provenance = Provenance {
        original_id: Some(loc.stem()),
        ..Provenance::source("toolbench")
    };
    let mut t =
        convert::trajectory_from_messages(&id, &messages, tools, provenance).ok_or_else(|| {
            loc.err(
                &field,
                "not a single agent episode (query, then assistant and function turns)",
            )
        })?;
    // The user turn wraps the query in the template ("\n<query>\nBegin!\n").
    t.query = query.trim().to_owned();
    t.template_id = Some("toolllama".into());
    t.meta = Some(traj_meta(&t, scenario));
    Ok(one(Record::from(t)))
}

// ---- ToolBench conversations --------------------------------------------------------------

/// The marker before the API list in ToolBench's system prompt.
const API_MARKER: &str = "following APIs:";

fn toolbench_conversations(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Record> {
    let convs = get_array(obj, "conversations", loc, "")?;
    let id = id_of(obj, loc, "toolbench");
    let mut tools = Vec::new();
    let mut query: Option<String> = None;
    let mut steps = Vec::new();
    let mut call_no = 0usize;
    for (i, turn) in convs.iter().enumerate() {
        let field = format!("conversations[{i}]");
        let t = turn
            .as_object()
            .ok_or_else(|| loc.err(&field, "expected an object"))?;
        let from = get_str(t, "from", loc, &field)?;
        let value = get_str(t, "value", loc, &field)?;
        match from {
            "system" => {
                if let Some(pos) = value.find(API_MARKER) {
                    let list = parse_api_list(&value[pos + API_MARKER.len()..]).map_err(|e| {
                        loc.err(&format!("{field}.value"), format!("API list: {e}"))
                    })?;
                    tools = tools_without_finish(&list, loc, &format!("{field}.value"))?;
                }
            }
            "user" => {
                let q = value.trim();
                let q = q.strip_suffix("Begin!").unwrap_or(q).trim();
                query = Some(q.to_owned());
            }
            "assistant" => {
                let (thought, action, input) =
                    parse_react(value).map_err(|e| loc.err(&format!("{field}.value"), e))?;
                let args = parse_action_input(&input)
                    .map_err(|e| loc.err(&format!("{field}.value"), e))?;
                let call = ToolCall::new(action, args);
                if let Some(step) = convert::finish_step(&call, thought.clone()) {
                    steps.push(agentune_schema::TrajectoryStep::new(step));
                } else {
                    let call = call.with_id(format!("call_{call_no}"));
                    call_no += 1;
                    steps.push(agentune_schema::TrajectoryStep::new(
                        agentune_schema::Step::ToolCalls {
                            thought,
                            calls: vec![call],
                        },
                    ));
                }
            }
            "function" | "observation" | "tool" => {
                let Some(last) = steps.last_mut() else {
                    return Err(loc.err(&field, "a function turn before any assistant turn"));
                };
                let call = last.step.calls().first().cloned();
                match call {
                    Some(c) if last.observations.is_empty() => {
                        last.observations.push(agentune_schema::Observation {
                            tool_call_id: c.id.clone(),
                            name: c.name.clone(),
                            content: value.to_owned(),
                            is_error: false,
                        });
                    }
                    // The answer to a Finish call carries nothing for the model.
                    _ if last.step.calls().is_empty() => {}
                    _ => return Err(loc.err(&field, "two function turns for one call")),
                }
            }
            other => {
                return Err(loc.err(
                    &format!("{field}.from"),
                    format!(
                        "unknown speaker `{other}` (expected system, user, assistant or function)"
                    ),
                ));
            }
        }
    }
    let query = query.ok_or_else(|| loc.err("conversations", "no user turn"))?;
    let outcome = match steps
        .last()
        .map(|s: &agentune_schema::TrajectoryStep| &s.step)
    {
        Some(agentune_schema::Step::FinalAnswer { .. }) => agentune_schema::Outcome::Answered,
        Some(agentune_schema::Step::GiveUp { restart: true, .. }) => {
            agentune_schema::Outcome::Restarted
        }
        Some(agentune_schema::Step::GiveUp { restart: false, .. }) => {
            agentune_schema::Outcome::GaveUp
        }
        _ => agentune_schema::Outcome::Failed,
    };
    let mut t = Trajectory {
        schema_version: Default::default(),
        id: id.clone(),
        query,
        history: Vec::new(),
        tools,
        steps,
        outcome,
        template_id: Some("toolllama".into()),
        meta: None,
        provenance: Provenance {
            original_id: Some(id),
            ..Provenance::source("toolbench")
        },
        checks: Vec::new(),
    };
    t.meta = Some(traj_meta(&t, scenario));
    Ok(Record::from(t))
}

/// Reads the API list after the marker: JSON, or the Python repr ToolBench writes.
fn parse_api_list(text: &str) -> std::result::Result<Value, String> {
    let text = text.trim_start();
    let mut de = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    if let Some(Ok(v)) = de.next() {
        return Ok(v);
    }
    crate::pylit::parse_prefix(text).map(|(v, _)| v)
}

/// Splits a ToolLLaMA reply into thought, action and action input.
pub fn parse_react(text: &str) -> std::result::Result<(Option<String>, String, String), String> {
    let a = text
        .find("Action:")
        .ok_or("no `Action:` line in the assistant turn")?;
    let thought = text[..a].trim();
    let thought = thought.strip_prefix("Thought:").unwrap_or(thought).trim();
    let after = &text[a + "Action:".len()..];
    let (action, input) = match after.find("Action Input:") {
        Some(i) => (&after[..i], &after[i + "Action Input:".len()..]),
        None => (after, ""),
    };
    let action = action.trim();
    if action.is_empty() || action.contains('\n') {
        return Err(format!("bad action name `{action}`"));
    }
    Ok((
        (!thought.is_empty()).then(|| thought.to_owned()),
        action.to_owned(),
        input.trim().to_owned(),
    ))
}

fn parse_action_input(input: &str) -> std::result::Result<Map<String, Value>, String> {
    if input.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(input) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("Action Input is not a JSON object".into()),
        Err(e) => match crate::pylit::parse_prefix(input) {
            Ok((Value::Object(m), _)) => Ok(m),
            _ => Err(format!("Action Input is not valid JSON: {e}")),
        },
    }
}

// ---- AgentInstruct --------------------------------------------------------------------------

fn from_value_turns(
    convs: &[Value],
    loc: &Loc,
    keep_loss: bool,
) -> Result<(Vec<Message>, Option<String>)> {
    let mut messages = Vec::with_capacity(convs.len());
    let mut system = None;
    let mut pending: Vec<String> = Vec::new();
    let mut call_no = 0usize;
    for (i, turn) in convs.iter().enumerate() {
        let field = format!("conversations[{i}]");
        let t = turn
            .as_object()
            .ok_or_else(|| loc.err(&field, "expected an object"))?;
        let from = t
            .get("from")
            .or_else(|| t.get("role"))
            .and_then(Value::as_str)
            .ok_or_else(|| loc.err(&format!("{field}.from"), "missing or not a string"))?;
        let value = t
            .get("value")
            .or_else(|| t.get("content"))
            .and_then(Value::as_str)
            .ok_or_else(|| loc.err(&format!("{field}.value"), "missing or not a string"))?;
        let mut msg = match from {
            "human" | "user" => Message::user(value),
            "gpt" | "assistant" | "model" => Message::assistant(value),
            "system" => {
                if messages.is_empty() && system.is_none() {
                    system = Some(value.to_owned());
                    continue;
                }
                Message::system(value)
            }
            "function_call" => {
                let calls = parse_function_call(value)
                    .map_err(|e| loc.err(&format!("{field}.value"), e))?;
                let calls: Vec<ToolCall> = calls
                    .into_iter()
                    .map(|c| {
                        let c = c.with_id(format!("call_{call_no}"));
                        call_no += 1;
                        c
                    })
                    .collect();
                pending = calls.iter().filter_map(|c| c.id.clone()).collect();
                messages.push(Message::assistant_calls(None, calls));
                continue;
            }
            "observation" | "function" | "tool" => {
                let prev_calls: Vec<ToolCall> = messages
                    .iter()
                    .rev()
                    .find(|m: &&Message| m.role == Role::Assistant)
                    .map(|m| m.tool_calls.clone())
                    .unwrap_or_default();
                // A parallel call's observations may come as one JSON array.
                let parts: Vec<String> = match serde_json::from_str::<Value>(value) {
                    Ok(Value::Array(items))
                        if prev_calls.len() > 1 && items.len() == prev_calls.len() =>
                    {
                        items
                            .into_iter()
                            .map(|v| match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            })
                            .collect()
                    }
                    _ => vec![value.to_owned()],
                };
                for part in parts {
                    let id = if pending.is_empty() {
                        String::new()
                    } else {
                        pending.remove(0)
                    };
                    let name = prev_calls
                        .iter()
                        .find(|c| c.id.as_deref() == Some(id.as_str()))
                        .map(|c| c.name.clone())
                        .unwrap_or_default();
                    messages.push(Message::tool(id, name, part));
                }
                continue;
            }
            other => {
                return Err(loc.err(
                    &format!("{field}.from"),
                    format!("unknown speaker `{other}`"),
                ));
            }
        };
        if keep_loss {
            match t.get("loss") {
                None | Some(Value::Null) => {}
                Some(Value::Bool(b)) => msg.loss = Some(if *b { 1.0 } else { 0.0 }),
                Some(v) => match v.as_f64() {
                    Some(w) if w.is_finite() && w >= 0.0 => msg.loss = Some(w as f32),
                    _ => {
                        return Err(loc.err(
                            &format!("{field}.loss"),
                            "must be a boolean or a number >= 0",
                        ));
                    }
                },
            }
        }
        messages.push(msg);
    }
    Ok((messages, system))
}

fn parse_function_call(value: &str) -> std::result::Result<Vec<ToolCall>, String> {
    let v: Value =
        serde_json::from_str(value).map_err(|e| format!("function_call is not JSON: {e}"))?;
    let one = |v: &Value| -> std::result::Result<ToolCall, String> {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("function_call lacks a `name`")?;
        let args = agentune_schema::parse_arguments(v.get("arguments"))
            .map_err(|e| format!("function_call arguments {e}"))?;
        Ok(ToolCall::new(name, args))
    };
    match &v {
        Value::Array(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(&v)?]),
    }
}

fn agentinstruct(obj: &Map<String, Value>, loc: &Loc, scenario: Option<&str>) -> Result<Record> {
    let convs = get_array(obj, "conversations", loc, "")?;
    let id = id_of(obj, loc, "agentinstruct");
    let (mut messages, system) = from_value_turns(convs, loc, true)?;
    if let Some(s) = system {
        messages.insert(0, Message::system(s));
    }
    // Task from the id (`os_12`, `webshop_3`, `alfworld_7`, ...).
    let task = id
        .rsplit_once('_')
        .map(|(t, _)| t.to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "agentinstruct".into());
    let trained_turns = messages
        .iter()
        .filter(|m| m.role == Role::Assistant && m.loss_weight() > 0.0)
        .count();
    let query = messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(Message::content_str)
        .unwrap_or("");
    let meta = QueryMeta::new(
        scenario.map_or_else(|| format!("agentinstruct/{task}"), str::to_owned),
        QueryKind::Positive,
        if trained_turns > 1 {
            Complexity::Complex
        } else {
            Complexity::Simple
        },
        detect_language(query),
    );
    Ok(Record::from(Sample {
        schema_version: Default::default(),
        id: id.clone(),
        messages,
        tools: Vec::new(),
        template_id: Some(format!("agentinstruct/{task}")),
        meta,
        split: None,
        group: None,
        provenance: Some(Provenance {
            original_id: Some(id),
            ..Provenance::source("agentinstruct")
        }),
    }))
}

// ---- KAgentInstruct -------------------------------------------------------------------------

/// The prefix of a sample `group` that carries the query it belongs to, for splitting by query
/// when the first user message is a whole rendered prompt.
pub const QUERY_GROUP_PREFIX: &str = "query:";

fn kagentinstruct(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Converted> {
    let id = id_of(obj, loc, "kagent");
    let query = get_str(obj, "query", loc, "")?;
    let source = obj
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or("kagentinstruct");
    let mut tools = Vec::new();
    if let Some(Value::Array(fs)) = obj.get("functions") {
        for (i, f) in fs.iter().enumerate() {
            let field = format!("functions[{i}]");
            let parsed = match f {
                Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => v,
                    // Meta-agent entries hold free text, not JSON: no structured tool.
                    Err(_) => continue,
                },
                other => other.clone(),
            };
            if parsed.get("name").is_none() {
                continue;
            }
            let spec =
                ToolSpec::from_openai(&parsed).map_err(|e| loc.err(&field, e.to_string()))?;
            if !tools.iter().any(|t: &ToolSpec| t.name == spec.name) {
                tools.push(spec);
            }
        }
    }
    let steps = get_array(obj, "llm_prompt_response", loc, "")?;
    let complexity = if steps.len() > 2 {
        Complexity::Complex
    } else {
        Complexity::Simple
    };
    let kind = if tools.is_empty()
        && obj
            .get("function_names")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        QueryKind::HardNegative
    } else {
        QueryKind::Positive
    };
    let meta = QueryMeta::new(scenario, kind, complexity, detect_language(query));
    let mut out = Vec::with_capacity(steps.len());
    for (k, step) in steps.iter().enumerate() {
        let field = format!("llm_prompt_response[{k}]");
        let s = step
            .as_object()
            .ok_or_else(|| loc.err(&field, "expected an object"))?;
        let instruction = get_str(s, "instruction", loc, &field)?;
        let input = s.get("input").and_then(Value::as_str).unwrap_or("");
        let output = get_str(s, "output", loc, &field)?;
        let mut prompt = instruction.to_owned();
        if !input.is_empty() {
            prompt.push('\n');
            prompt.push_str(input);
        }
        let teacher = s.get("llm_name").and_then(Value::as_str).map(str::to_owned);
        out.push(Record::from(Sample {
            schema_version: Default::default(),
            id: format!("{id}#{k}"),
            messages: vec![Message::user(prompt), Message::assistant(output)],
            tools: tools.clone(),
            template_id: Some(source.to_owned()),
            meta: meta.clone(),
            split: None,
            group: Some(format!("{QUERY_GROUP_PREFIX}{query}")),
            provenance: Some(Provenance {
                teacher,
                original_id: Some(id.clone()),
                ..Provenance::source("kagentinstruct")
            }),
        }));
    }
    Ok(Converted::Records(out))
}

// ---- ShareGPT (LLaMA-Factory) ----------------------------------------------------------------

fn sharegpt(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Record> {
    let convs = obj
        .get("conversations")
        .or_else(|| obj.get("messages"))
        .and_then(Value::as_array)
        .ok_or_else(|| loc.err("conversations", "missing or not an array"))?;
    let id = id_of(obj, loc, "sharegpt");
    let (mut messages, inline_system) = from_value_turns(convs, loc, false)?;
    let system = obj
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or(inline_system);
    let tools = match obj.get("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
        Some(Value::String(s)) => {
            let v: Value = serde_json::from_str(s)
                .map_err(|e| loc.err("tools", format!("not a JSON string of tools: {e}")))?;
            tools_from_openai_json(&v).map_err(|e| loc.err("tools", e.to_string()))?
        }
        Some(v) => tools_from_openai_json(v).map_err(|e| loc.err("tools", e.to_string()))?,
    };
    if let Some(s) = system {
        messages.insert(0, Message::system(s));
    }
    let provenance = Provenance {
        original_id: obj.get("id").map(|_| id.clone()),
        ..Provenance::source("sharegpt")
    };
    Ok(record_from_messages(
        id, messages, tools, provenance, scenario,
    ))
}

// ---- OpenAI messages -------------------------------------------------------------------------

fn openai(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Record> {
    let msgs = get_array(obj, "messages", loc, "")?;
    let id = id_of(obj, loc, "openai");
    let mut messages = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        messages.push(
            Message::from_openai(m)
                .map_err(|e| loc.err(&format!("messages[{i}]"), e.to_string()))?,
        );
    }
    let tools = match (obj.get("tools"), obj.get("functions")) {
        (Some(t), _) if !t.is_null() => {
            tools_from_openai_json(t).map_err(|e| loc.err("tools", e.to_string()))?
        }
        (_, Some(f)) if !f.is_null() => {
            tools_from_openai_json(f).map_err(|e| loc.err("functions", e.to_string()))?
        }
        _ => Vec::new(),
    };
    let provenance = Provenance {
        original_id: obj.get("id").map(|_| id.clone()),
        ..Provenance::source("openai")
    };
    Ok(record_from_messages(
        id, messages, tools, provenance, scenario,
    ))
}

// ---- Alpaca ----------------------------------------------------------------------------------

/// Alpaca as LLaMA-Factory reads it: the user turn is `instruction`, then `input` on a new line
/// when present; `output` is the answer; `system` and `history` (`[[query, answer], ...]`)
/// are optional.
fn alpaca(obj: &Map<String, Value>, loc: &Loc, scenario: &str) -> Result<Record> {
    let instruction = get_str(obj, "instruction", loc, "")?;
    let output = get_str(obj, "output", loc, "")?;
    let input = match obj.get("input") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(loc.err("input", "not a string")),
    };
    let mut messages = Vec::new();
    match obj.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.trim().is_empty() => {}
        Some(Value::String(s)) => messages.push(Message::system(s.clone())),
        Some(_) => return Err(loc.err("system", "not a string")),
    }
    match obj.get("history") {
        None | Some(Value::Null) => {}
        Some(Value::Array(turns)) => {
            for (i, t) in turns.iter().enumerate() {
                let pair = t
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .and_then(|p| Some((p[0].as_str()?, p[1].as_str()?)))
                    .ok_or_else(|| {
                        loc.err(&format!("history[{i}]"), "expected [query, answer] strings")
                    })?;
                messages.push(Message::user(pair.0));
                messages.push(Message::assistant(pair.1));
            }
        }
        Some(_) => return Err(loc.err("history", "not an array")),
    }
    let user = if input.trim().is_empty() {
        instruction.to_owned()
    } else {
        format!("{instruction}\n{input}")
    };
    messages.push(Message::user(user));
    messages.push(Message::assistant(output));
    let id = id_of(obj, loc, "alpaca");
    let provenance = Provenance {
        original_id: obj.get("id").map(|_| id.clone()),
        ..Provenance::source("alpaca")
    };
    Ok(record_from_messages(
        id,
        messages,
        Vec::new(),
        provenance,
        scenario,
    ))
}

// ---- BFCL ------------------------------------------------------------------------------------

fn bfcl(obj: &Map<String, Value>, loc: &Loc) -> Result<Record> {
    let id = get_str(obj, "id", loc, "")?.to_owned();
    let category = id
        .rsplit_once('_')
        .map(|(c, _)| c.to_owned())
        .unwrap_or_else(|| id.clone());
    let mut messages = Vec::new();
    match obj.get("question") {
        Some(Value::String(q)) => messages.push(Message::user(q.clone())),
        Some(Value::Array(turns)) => {
            for (t, turn) in turns.iter().enumerate() {
                let list: Vec<&Value> = match turn {
                    Value::Array(ms) => ms.iter().collect(),
                    other => vec![other],
                };
                for (i, m) in list.into_iter().enumerate() {
                    messages.push(
                        Message::from_openai(m)
                            .map_err(|e| loc.err(&format!("question[{t}][{i}]"), e.to_string()))?,
                    );
                }
            }
        }
        _ => return Err(loc.err("question", "missing, or not a string or an array of turns")),
    }
    let tools = match obj.get("function") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => {
            let list = match v {
                Value::Array(_) => v.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            tools_from_openai_json(&list).map_err(|e| loc.err("function", e.to_string()))?
        }
    };
    let query = messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(Message::content_str)
        .unwrap_or("");
    let kind = if category.contains("irrelevance") {
        QueryKind::HardNegative
    } else {
        QueryKind::Positive
    };
    let complexity = if category.contains("multiple")
        || category.contains("parallel")
        || category.contains("multi_turn")
    {
        Complexity::Complex
    } else {
        Complexity::Simple
    };
    let meta = QueryMeta::new(
        format!("bfcl/{category}"),
        kind,
        complexity,
        detect_language(query),
    );
    Ok(Record::from(Sample {
        schema_version: Default::default(),
        id: format!("bfcl-{id}"),
        messages,
        tools,
        template_id: None,
        meta,
        split: None,
        group: None,
        provenance: Some(Provenance {
            original_id: Some(id),
            eval_only: true,
            ..Provenance::source("bfcl")
        }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn react_text_is_split() {
        let (t, a, i) =
            parse_react("\nThought: I need x.\nAction: get_x\nAction Input: {\"q\": 1}").unwrap();
        assert_eq!(t.as_deref(), Some("I need x."));
        assert_eq!(a, "get_x");
        assert_eq!(i, "{\"q\": 1}");
        assert!(parse_react("just text").is_err());
        let (t, a, i) = parse_react("Action: Finish\nAction Input: {}").unwrap();
        assert_eq!((t, a.as_str(), i.as_str()), (None, "Finish", "{}"));
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!(
            "csv"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("toolbench")
        );
    }
}
