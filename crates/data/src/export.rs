//! Exporters: records out to the formats training stacks read. OpenAI messages JSONL,
//! LLaMA-Factory ShareGPT with its `dataset_info.json` entry, and ToolBench conversations.
//! Each is read back by the matching importer (the round trip is tested).

use std::path::Path;
use std::str::FromStr;

use agentune_schema::{
    Message, Role, Step, ToolSpec, Trajectory, messages_to_openai, tools_to_openai_json,
    write_atomic,
};
use serde_json::{Map, Value, json};

use crate::convert::{FINISH, trajectory_to_messages};
use crate::error::{Error, Result};
use crate::record::Record;

/// The formats [`export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `{"messages": [...], "tools": [...]}` per line.
    OpenAi,
    /// LLaMA-Factory ShareGPT (`conversations`, `system`, `tools`), plus `dataset_info.json`.
    ShareGpt,
    /// ToolBench `conversations` (ToolLLaMA's Thought / Action / Action Input text).
    ToolBench,
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [Self; 3] = [Self::OpenAi, Self::ShareGpt, Self::ToolBench];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::ShareGpt => "sharegpt",
            Self::ToolBench => "toolbench",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown export format `{s}` (expected openai, sharegpt or toolbench)"
                ))
            })
    }
}

/// The messages and tools of a record, whatever its kind.
pub fn record_messages(r: &Record) -> (Vec<Message>, Vec<ToolSpec>) {
    match r {
        Record::Trajectory(t) => (trajectory_to_messages(t), t.tools.clone()),
        Record::Sample(s) => (s.messages.clone(), s.tools.clone()),
    }
}

/// One record as an OpenAI fine-tuning line.
pub fn to_openai(r: &Record) -> Value {
    let (messages, tools) = record_messages(r);
    let mut obj = Map::new();
    obj.insert(
        "messages".into(),
        Value::Array(messages_to_openai(&messages)),
    );
    if !tools.is_empty() {
        obj.insert("tools".into(), tools_to_openai_json(&tools));
    }
    Value::Object(obj)
}

/// One record as a LLaMA-Factory ShareGPT entry. Human and observation turns must sit at odd
/// positions and gpt and function_call turns at even ones, so a thought written before a call
/// is not carried (ShareGPT has no place for it); parallel calls are one `function_call` turn
/// holding a JSON array, answered by one `observation` turn holding a JSON array.
pub fn to_sharegpt(r: &Record) -> Result<Value> {
    let (messages, tools) = record_messages(r);
    let mut system: Option<String> = None;
    let mut convs: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        i += 1;
        match m.role {
            Role::System if convs.is_empty() && system.is_none() => {
                system = Some(m.content_str().to_owned());
            }
            Role::System => {
                return Err(Error::Invalid(format!(
                    "record {}: ShareGPT has no place for a system message after the first turn",
                    r.id()
                )));
            }
            Role::User => convs.push(json!({"from": "human", "value": m.content_str()})),
            Role::Assistant if m.tool_calls.is_empty() => {
                convs.push(json!({"from": "gpt", "value": m.content_str()}));
            }
            Role::Assistant => {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"name": c.name, "arguments": Value::Object(c.arguments.clone())}))
                    .collect();
                let value = if calls.len() == 1 {
                    calls[0].to_string()
                } else {
                    Value::Array(calls).to_string()
                };
                convs.push(json!({"from": "function_call", "value": value}));
                let mut obs = Vec::new();
                while i < messages.len() && messages[i].role == Role::Tool {
                    obs.push(messages[i].content_str().to_owned());
                    i += 1;
                }
                let is_finish = m.tool_calls.len() == 1 && m.tool_calls[0].name == FINISH;
                match obs.len() {
                    0 if is_finish => {}
                    0 => {
                        return Err(Error::Invalid(format!(
                            "record {}: a call without an observation cannot be written as ShareGPT",
                            r.id()
                        )));
                    }
                    1 => convs.push(json!({"from": "observation", "value": obs[0]})),
                    _ => convs.push(
                        json!({"from": "observation", "value": Value::from(obs).to_string()}),
                    ),
                }
            }
            Role::Tool => {
                return Err(Error::Invalid(format!(
                    "record {}: a tool message without a call before it",
                    r.id()
                )));
            }
        }
    }
    let mut obj = Map::new();
    obj.insert("id".into(), json!(r.id()));
    obj.insert("conversations".into(), Value::Array(convs));
    if let Some(s) = system {
        obj.insert("system".into(), json!(s));
    }
    if !tools.is_empty() {
        let fns: Vec<Value> = tools.iter().map(ToolSpec::to_openai_function).collect();
        obj.insert("tools".into(), json!(Value::Array(fns).to_string()));
    }
    Ok(Value::Object(obj))
}

/// The `dataset_info.json` entry LLaMA-Factory needs to load a ShareGPT file.
pub fn dataset_info_entry(file_name: &str, with_tools: bool) -> Value {
    let mut columns = json!({"messages": "conversations", "system": "system"});
    if with_tools {
        columns["tools"] = json!("tools");
    }
    json!({
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": columns,
    })
}

/// The opening of the system prompt written with ToolBench conversations.
const TOOLBENCH_SYSTEM: &str = "You are an agent that solves the user's task by calling functions. \
At each step write your Thought, then the Action (a function name) and the Action Input (a JSON \
object of arguments). When you have the answer, call Finish with return_type \"give_answer\" and \
the final_answer; if the task cannot be done from here, call Finish with return_type \
\"give_up_and_restart\". Specifically, you have access to the following APIs: ";

fn finish_spec() -> Value {
    json!({
        "name": FINISH,
        "description": "Finish the attempt: give the final answer, or give up and restart.",
        "parameters": {
            "type": "object",
            "properties": {
                "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
                "final_answer": {"type": "string", "description": "The answer shown to the user."}
            },
            "required": ["return_type"]
        }
    })
}

/// One trajectory as a ToolBench `conversations` entry. Only trajectories (one call per step,
/// no history) can be written: ToolLLaMA text has one action per turn.
pub fn to_toolbench(r: &Record) -> Result<Value> {
    let Record::Trajectory(t) = r else {
        return Err(Error::Invalid(format!(
            "record {}: only trajectories can be written as ToolBench conversations",
            r.id()
        )));
    };
    toolbench_trajectory(t)
}

fn toolbench_trajectory(t: &Trajectory) -> Result<Value> {
    if !t.history.is_empty() {
        return Err(Error::Invalid(format!(
            "record {}: ToolBench conversations have no place for history",
            t.id
        )));
    }
    let mut fns: Vec<Value> = t.tools.iter().map(ToolSpec::to_openai_function).collect();
    fns.push(finish_spec());
    let mut convs = vec![
        json!({"from": "system", "value": format!("{TOOLBENCH_SYSTEM}{}", Value::Array(fns))}),
        json!({"from": "user", "value": format!("\n{}\nBegin!\n", t.query)}),
    ];
    let react = |thought: Option<&str>, action: &str, input: &Value| {
        format!(
            "\nThought: {}\nAction: {action}\nAction Input: {input}",
            thought.unwrap_or("")
        )
    };
    for s in &t.steps {
        match &s.step {
            Step::ToolCalls { thought, calls } => {
                if calls.len() != 1 {
                    return Err(Error::Invalid(format!(
                        "record {}: ToolBench conversations hold one call per step, found {}",
                        t.id,
                        calls.len()
                    )));
                }
                let c = &calls[0];
                convs.push(json!({"from": "assistant", "value": react(thought.as_deref(), &c.name, &Value::Object(c.arguments.clone()))}));
                for o in &s.observations {
                    convs.push(json!({"from": "function", "value": o.content}));
                }
            }
            Step::FinalAnswer { thought, answer } => {
                let input = json!({"return_type": "give_answer", "final_answer": answer});
                convs.push(json!({"from": "assistant", "value": react(thought.as_deref(), FINISH, &input)}));
            }
            Step::GiveUp { thought, restart } => {
                let kind = if *restart {
                    "give_up_and_restart"
                } else {
                    "give_up"
                };
                let input = json!({"return_type": kind});
                convs.push(json!({"from": "assistant", "value": react(thought.as_deref(), FINISH, &input)}));
            }
        }
    }
    Ok(json!({"id": t.id, "conversations": convs}))
}

/// Converts one record to `format`.
pub fn export_record(format: ExportFormat, r: &Record) -> Result<Value> {
    match format {
        ExportFormat::OpenAi => Ok(to_openai(r)),
        ExportFormat::ShareGpt => to_sharegpt(r),
        ExportFormat::ToolBench => to_toolbench(r),
    }
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    /// Records written.
    pub written: usize,
    /// Records that the format cannot hold, with the reason.
    pub skipped: Vec<String>,
}

/// Writes `records` to `path` in `format` (JSONL, or a JSON array when the path ends in
/// `.json`), atomically. Records the format cannot hold are skipped and reported; eval-only
/// records are never exported for training formats. For ShareGPT a `dataset_info.json` naming
/// the file as `dataset_name` is written beside it.
pub fn export(
    format: ExportFormat,
    records: &[Record],
    path: &Path,
    dataset_name: &str,
) -> Result<Exported> {
    let mut out = Exported::default();
    let mut values = Vec::with_capacity(records.len());
    let mut with_tools = false;
    for r in records {
        if r.eval_only() {
            out.skipped.push(format!("{}: eval-only record", r.id()));
            continue;
        }
        match export_record(format, r) {
            Ok(v) => {
                with_tools |= !r.tools().is_empty();
                values.push(v);
            }
            Err(e) => out.skipped.push(e.to_string()),
        }
    }
    let as_array = path.extension().is_some_and(|e| e == "json");
    let mut text = String::new();
    if as_array {
        text = serde_json::to_string_pretty(&Value::Array(values.clone()))
            .map_err(|e| Error::Invalid(e.to_string()))?;
        text.push('\n');
    } else {
        for v in &values {
            text.push_str(&v.to_string());
            text.push('\n');
        }
    }
    write_atomic(path, text.as_bytes())?;
    out.written = values.len();
    if format == ExportFormat::ShareGpt {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let info_path = dir.join("dataset_info.json");
        // Merge into an existing dataset_info.json rather than replacing other entries.
        let mut info = match std::fs::read_to_string(&info_path) {
            Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
                Error::input(
                    &info_path,
                    Some(e.line()),
                    "",
                    format!("not valid JSON: {e}"),
                )
            })?,
            Err(_) => json!({}),
        };
        let Some(obj) = info.as_object_mut() else {
            return Err(Error::input(&info_path, None, "", "expected a JSON object"));
        };
        obj.insert(
            dataset_name.to_owned(),
            dataset_info_entry(&file_name, with_tools),
        );
        let mut text =
            serde_json::to_string_pretty(&info).map_err(|e| Error::Invalid(e.to_string()))?;
        text.push('\n');
        write_atomic(&info_path, text.as_bytes())?;
    }
    Ok(out)
}
