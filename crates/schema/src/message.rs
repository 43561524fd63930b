//! Chat messages and tool calls, with conversion to and from OpenAI chat-completions JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, FieldPath, Result};

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions: the agent template's system prompt.
    System,
    /// The user: queries and follow-ups.
    User,
    /// The model: thoughts, tool calls, answers. The only role trained on by default.
    Assistant,
    /// A tool's observation, answering one call.
    Tool,
}

impl Role {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }
}

/// One call of a tool by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Call id linking the call to its tool message (`call_0`, ...). Absent on a call parsed
    /// from text before ids are assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments, as a JSON object (not the string OpenAI puts on the wire).
    #[serde(default)]
    pub arguments: Map<String, Value>,
}

impl ToolCall {
    /// A call without an id.
    pub fn new(name: impl Into<String>, arguments: Map<String, Value>) -> Self {
        Self {
            id: None,
            name: name.into(),
            arguments,
        }
    }

    /// The same call carrying an id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// This call as an OpenAI `tool_calls` entry; `fallback_id` is used when the call has no id.
    pub fn to_openai(&self, fallback_id: &str) -> Value {
        json!({
            "id": self.id.as_deref().unwrap_or(fallback_id),
            "type": "function",
            "function": {
                "name": self.name,
                "arguments": Value::Object(self.arguments.clone()).to_string(),
            },
        })
    }

    /// Reads an OpenAI `tool_calls` entry. Arguments may be the JSON string OpenAI sends or
    /// an object; an empty string means no arguments.
    pub fn from_openai(value: &Value) -> Result<Self> {
        const WHAT: &str = "OpenAI tool call";
        let obj = value
            .as_object()
            .ok_or_else(|| Error::invalid(WHAT, "", "expected an object"))?;
        if let Some(t) = obj.get("type")
            && t != "function"
        {
            return Err(Error::invalid(
                WHAT,
                "type",
                format!("expected \"function\", found {t}"),
            ));
        }
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(Error::invalid(WHAT, "id", "expected a string")),
        };
        let function = obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::invalid(WHAT, "function", "missing or not an object"))?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                Error::invalid(WHAT, "function.name", "missing or not a non-empty string")
            })?;
        let arguments = parse_arguments(function.get("arguments"))
            .map_err(|message| Error::invalid(WHAT, "function.arguments", message))?;
        Ok(Self {
            id,
            name: name.to_owned(),
            arguments,
        })
    }
}

/// Reads call arguments given as a JSON object, a JSON string holding an object, or nothing.
pub fn parse_arguments(value: Option<&Value>) -> std::result::Result<Map<String, Value>, String> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(format!(
                "must encode a JSON object, found {}",
                json_kind(&other)
            )),
            Err(e) => Err(format!("is not valid JSON: {e}")),
        },
        Some(other) => Err(format!(
            "must be an object or a JSON string, found {}",
            json_kind(other)
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// The text. May be absent on an assistant message that only calls tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tool calls made by an assistant message (several for parallel calls).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a tool message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// On a tool message: the tool's name (some chat templates print it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Training weight of this message's tokens. Absent: 1 for assistant messages and 0 for
    /// every other role. 0 means never trained on (e.g. a flawed teacher turn kept as context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f32>,
}

impl Message {
    /// A message with text content and nothing else.
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            loss: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::text(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::text(Role::User, content)
    }

    /// An assistant message with text only.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::text(Role::Assistant, content)
    }

    /// An assistant message calling tools, with optional accompanying text.
    pub fn assistant_calls(content: Option<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            content,
            ..Self::text(Role::Assistant, "")
        }
    }

    /// A tool message answering the call with id `call_id`.
    pub fn tool(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            name: Some(name.into()),
            ..Self::text(Role::Tool, content)
        }
    }

    /// The text content, or "" when there is none.
    pub fn content_str(&self) -> &str {
        self.content.as_deref().unwrap_or("")
    }

    /// The effective training weight: the explicit `loss`, else 1 for assistant messages and
    /// 0 for the others.
    pub fn loss_weight(&self) -> f32 {
        self.loss.unwrap_or(if self.role == Role::Assistant {
            1.0
        } else {
            0.0
        })
    }

    /// This message as an OpenAI chat-completions message. Calls without ids get
    /// `call_{index}` ids numbered from `first_call_index`.
    pub fn to_openai(&self, first_call_index: usize) -> Value {
        let mut obj = Map::new();
        obj.insert("role".into(), Value::String(self.role.as_str().into()));
        let content = match &self.content {
            Some(c) => Value::String(c.clone()),
            None => Value::Null,
        };
        obj.insert("content".into(), content);
        if !self.tool_calls.is_empty() {
            let calls = self
                .tool_calls
                .iter()
                .enumerate()
                .map(|(i, c)| c.to_openai(&format!("call_{}", first_call_index + i)))
                .collect();
            obj.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(id) = &self.tool_call_id {
            obj.insert("tool_call_id".into(), Value::String(id.clone()));
        }
        if let Some(name) = &self.name {
            obj.insert("name".into(), Value::String(name.clone()));
        }
        Value::Object(obj)
    }

    /// Reads an OpenAI chat message. Accepts the forms found in the wild: content as a string,
    /// null, or an array of `{"type": "text", "text": ...}` parts; the `developer` role (read as
    /// system); the legacy `function` role and `function_call` field (read as tool message and
    /// tool call). A per-message `loss` weight is kept when present.
    pub fn from_openai(value: &Value) -> Result<Self> {
        const WHAT: &str = "OpenAI message";
        let obj = value
            .as_object()
            .ok_or_else(|| Error::invalid(WHAT, "", "expected an object"))?;
        let role_str = obj
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid(WHAT, "role", "missing or not a string"))?;
        let role = match role_str {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            "tool" | "function" => Role::Tool,
            other => {
                return Err(Error::invalid(
                    WHAT,
                    "role",
                    format!(
                        "unknown role `{other}` (expected system, developer, user, assistant, tool or function)"
                    ),
                ));
            }
        };
        let content = match obj.get("content") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(parts)) => {
                let mut text = String::new();
                for (i, part) in parts.iter().enumerate() {
                    match (
                        part.get("type").and_then(Value::as_str),
                        part.get("text").and_then(Value::as_str),
                    ) {
                        (Some("text"), Some(t)) => text.push_str(t),
                        (kind, _) => {
                            return Err(Error::invalid(
                                WHAT,
                                &format!("content[{i}]"),
                                format!("only text parts are supported, found type {kind:?}"),
                            ));
                        }
                    }
                }
                Some(text)
            }
            Some(_) => {
                return Err(Error::invalid(
                    WHAT,
                    "content",
                    "must be a string, null or an array of parts",
                ));
            }
        };
        let mut tool_calls = Vec::new();
        match obj.get("tool_calls") {
            None | Some(Value::Null) => {}
            Some(Value::Array(calls)) => {
                for (i, c) in calls.iter().enumerate() {
                    tool_calls.push(
                        ToolCall::from_openai(c)
                            .map_err(|e| nest(e, &format!("tool_calls[{i}]")))?,
                    );
                }
            }
            Some(_) => return Err(Error::invalid(WHAT, "tool_calls", "must be an array")),
        }
        if let Some(fc) = obj.get("function_call").filter(|v| !v.is_null()) {
            let wrapped = json!({"type": "function", "function": fc});
            tool_calls.push(ToolCall::from_openai(&wrapped).map_err(|e| nest(e, "function_call"))?);
        }
        if !tool_calls.is_empty() && role != Role::Assistant {
            return Err(Error::invalid(
                WHAT,
                "tool_calls",
                format!("only assistant messages call tools, not {role_str}"),
            ));
        }
        let opt_str = |key: &str| -> Result<Option<String>> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid(WHAT, key, "must be a string")),
            }
        };
        let loss = match obj.get("loss") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(if *b { 1.0 } else { 0.0 }),
            Some(v) => match v.as_f64() {
                Some(w) if w.is_finite() && w >= 0.0 => Some(w as f32),
                _ => {
                    return Err(Error::invalid(
                        WHAT,
                        "loss",
                        "must be a finite number >= 0 or a boolean",
                    ));
                }
            },
        };
        Ok(Self {
            role,
            content,
            tool_calls,
            tool_call_id: opt_str("tool_call_id")?,
            name: opt_str("name")?,
            loss,
        })
    }
}

fn nest(err: Error, prefix: &str) -> Error {
    match err {
        Error::Invalid {
            location, message, ..
        } => {
            let path = if location.0.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", location.0)
            };
            Error::Invalid {
                what: "OpenAI message",
                location: FieldPath::new(path),
                message,
            }
        }
        other => other,
    }
}

/// Converts a conversation to OpenAI messages, numbering id-less calls across the whole
/// conversation and pointing id-less tool messages at the calls they answer, in order.
pub fn messages_to_openai(messages: &[Message]) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len());
    let mut next_call = 0usize;
    let mut pending: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    for m in messages {
        let mut v = m.to_openai(next_call);
        if let Some(calls) = v.get("tool_calls").and_then(Value::as_array) {
            pending.clear();
            pending.extend(
                calls
                    .iter()
                    .filter_map(|c| c.get("id").and_then(Value::as_str).map(str::to_owned)),
            );
        }
        next_call += m.tool_calls.len();
        if m.role == Role::Tool {
            match &m.tool_call_id {
                Some(id) => pending.retain(|p| p != id),
                None => {
                    if let (Some(id), Some(obj)) = (pending.pop_front(), v.as_object_mut()) {
                        obj.insert("tool_call_id".into(), Value::String(id));
                    }
                }
            }
        }
        out.push(v);
    }
    out
}
