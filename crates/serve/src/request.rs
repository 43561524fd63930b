//! Reading and checking request bodies of `/v1/chat/completions` and `/v1/completions`: every
//! field the server honours is type- and range-checked, and each failure is an [`ApiError`]
//! naming the field (`messages[2].tool_call_id`, `temperature`, ...).

use std::collections::HashSet;

use agentune_schema::{Message, Role, ToolSpec};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// How the model may use the offered tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// Tools are not shown; the model answers in text.
    None,
    /// The model decides.
    Auto,
    /// The model must call at least one tool.
    Required,
    /// The model must call this tool.
    Named(String),
}

/// Sampling and stopping fields shared by both endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0..=2; 0 is greedy. Default 1 (as OpenAI).
    pub temperature: f32,
    /// (0, 1].
    pub top_p: Option<f32>,
    /// At least 1 (extension).
    pub top_k: Option<usize>,
    /// > 0 (extension); 1 disables it.
    pub repetition_penalty: f32,
    /// Seed of the sampler; absent: a fresh one per request.
    pub seed: Option<u64>,
    /// Most tokens to generate (absent: up to the context).
    pub max_tokens: Option<usize>,
    /// Up to 4 stop strings.
    pub stop: Vec<String>,
    /// Keep generating past end-of-sequence tokens (extension, for benchmarks).
    pub ignore_eos: bool,
}

/// A checked chat-completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatParams {
    /// The requested model name.
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Offered tools.
    pub tools: Vec<ToolSpec>,
    /// How tools may be used.
    pub tool_choice: ToolChoice,
    /// Sampling.
    pub sampling: Sampling,
    /// Server-sent events instead of one body.
    pub stream: bool,
    /// Send a final chunk with usage when streaming.
    pub include_usage: bool,
}

/// A legacy completions prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Text, tokenized by the server.
    Text(String),
    /// Token ids.
    Tokens(Vec<u32>),
}

/// A checked completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionParams {
    /// The requested model name.
    pub model: String,
    /// The prompt.
    pub prompt: Prompt,
    /// Sampling (max_tokens defaults to 16, as OpenAI).
    pub sampling: Sampling,
    /// Server-sent events.
    pub stream: bool,
    /// Final usage chunk when streaming.
    pub include_usage: bool,
    /// Prefix the completion with the prompt.
    pub echo: bool,
}

/// Parses a body as a JSON object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_body(format!(
            "the request body is not valid JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Object(o) => Ok(o),
        other => Err(ApiError::bad_body(format!(
            "the request body must be a JSON object, found {}",
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The field, with `null` read as absent.
fn field<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

fn opt_bool(o: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match field(o, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(ApiError::invalid(
            key,
            format!("`{key}` must be a boolean, found {}", kind(v)),
        )),
    }
}

fn opt_number(
    o: &Map<String, Value>,
    key: &str,
    ok: impl Fn(f64) -> bool,
    range: &str,
) -> Result<Option<f64>, ApiError> {
    match field(o, key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if ok(x) => Ok(Some(x)),
            Some(x) => Err(ApiError::invalid(
                key,
                format!("`{key}` must be {range}, got {x}"),
            )),
            None => Err(ApiError::invalid(
                key,
                format!("`{key}` must be a number, found {}", kind(v)),
            )),
        },
    }
}

fn opt_uint(
    o: &Map<String, Value>,
    key: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ApiError> {
    match field(o, key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(x) if (min..=max).contains(&x) => Ok(Some(x)),
            _ => Err(ApiError::invalid(
                key,
                format!("`{key}` must be an integer from {min} to {max}, got {v}"),
            )),
        },
    }
}

fn model_name(o: &Map<String, Value>) -> Result<String, ApiError> {
    match o.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::invalid("model", "`model` is empty")),
        None | Some(Value::Null) => Err(ApiError::invalid("model", "`model` is required")),
        Some(v) => Err(ApiError::invalid(
            "model",
            format!("`model` must be a string, found {}", kind(v)),
        )),
    }
}

/// `n` may only be 1: the server returns one choice.
fn check_n(o: &Map<String, Value>) -> Result<(), ApiError> {
    match field(o, "n") {
        None => Ok(()),
        Some(v) if v.as_u64() == Some(1) => Ok(()),
        Some(v) => Err(ApiError::invalid(
            "n",
            format!("only n = 1 is supported, got {v}"),
        )),
    }
}

fn stream_fields(o: &Map<String, Value>) -> Result<(bool, bool), ApiError> {
    let stream = opt_bool(o, "stream")?.unwrap_or(false);
    let include_usage = match field(o, "stream_options") {
        None => false,
        Some(Value::Object(so)) => {
            if !stream {
                return Err(ApiError::invalid(
                    "stream_options",
                    "`stream_options` is only allowed when `stream` is true",
                ));
            }
            match field(so, "include_usage") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(v) => {
                    return Err(ApiError::invalid(
                        "stream_options.include_usage",
                        format!("must be a boolean, found {}", kind(v)),
                    ));
                }
            }
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "stream_options",
                format!("`stream_options` must be an object, found {}", kind(v)),
            ));
        }
    };
    Ok((stream, include_usage))
}

fn sampling(o: &Map<String, Value>, max_key_default: Option<usize>) -> Result<Sampling, ApiError> {
    let temperature = opt_number(
        o,
        "temperature",
        |x| (0.0..=2.0).contains(&x),
        "from 0 to 2",
    )?;
    let top_p = opt_number(o, "top_p", |x| x > 0.0 && x <= 1.0, "in (0, 1]")?;
    let top_k = match field(o, "top_k") {
        // vLLM's convention: -1 (or 0) means no top-k.
        Some(v) if v.as_i64() == Some(-1) || v.as_i64() == Some(0) => None,
        _ => opt_uint(o, "top_k", 1, 1_000_000)?,
    };
    let repetition_penalty = opt_number(
        o,
        "repetition_penalty",
        |x| x > 0.0 && x <= 10.0,
        "in (0, 10]",
    )?;
    for key in ["presence_penalty", "frequency_penalty"] {
        opt_number(o, key, |x| (-2.0..=2.0).contains(&x), "from -2 to 2")?;
    }
    let seed = match field(o, "seed") {
        None => None,
        Some(v) => match (v.as_u64(), v.as_i64()) {
            (Some(s), _) => Some(s),
            (None, Some(s)) => Some(s as u64),
            _ => {
                return Err(ApiError::invalid(
                    "seed",
                    format!("`seed` must be an integer, got {v}"),
                ));
            }
        },
    };
    let max_completion = opt_uint(o, "max_completion_tokens", 1, u32::MAX as u64)?;
    let max_tokens = opt_uint(o, "max_tokens", 1, u32::MAX as u64)?;
    let max_tokens = max_completion
        .or(max_tokens)
        .map(|x| x as usize)
        .or(max_key_default);
    let stop = match field(o, "stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => {
            if a.len() > 4 {
                return Err(ApiError::invalid(
                    "stop",
                    format!("`stop` may hold at most 4 strings, got {}", a.len()),
                ));
            }
            let mut out = Vec::new();
            for (i, s) in a.iter().enumerate() {
                match s {
                    Value::String(s) => out.push(s.clone()),
                    v => {
                        return Err(ApiError::invalid(
                            format!("stop[{i}]"),
                            format!("must be a string, found {}", kind(v)),
                        ));
                    }
                }
            }
            out
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "stop",
                format!(
                    "`stop` must be a string or an array of strings, found {}",
                    kind(v)
                ),
            ));
        }
    };
    if let Some(i) = stop.iter().position(String::is_empty) {
        return Err(ApiError::invalid(
            format!("stop[{i}]"),
            "stop strings must not be empty",
        ));
    }
    Ok(Sampling {
        temperature: temperature.unwrap_or(1.0) as f32,
        top_p: top_p.map(|p| p as f32),
        top_k: top_k.map(|k| k as usize),
        repetition_penalty: repetition_penalty.unwrap_or(1.0) as f32,
        seed,
        max_tokens,
        stop,
        ignore_eos: opt_bool(o, "ignore_eos")?.unwrap_or(false),
    })
}

/// Reads the schema error's field path into a request path under `prefix`.
fn schema_error(prefix: &str, e: agentune_schema::Error) -> ApiError {
    match e {
        agentune_schema::Error::Invalid {
            location, message, ..
        } => {
            let mut param = if location.0.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", location.0)
            };
            // serde names a missing field only in its message: name it in the path too.
            if let Some(missing) = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next())
            {
                param = format!("{param}.{missing}");
            }
            ApiError::invalid(param.clone(), format!("{param}: {message}"))
        }
        other => ApiError::invalid(prefix, format!("{prefix}: {other}")),
    }
}

/// Reads and checks the conversation: roles, contents, and every tool result answering an
/// earlier, not yet answered call.
fn messages(o: &Map<String, Value>) -> Result<Vec<Message>, ApiError> {
    let list = match o.get("messages") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid("messages", "`messages` is required"));
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "messages",
                format!("`messages` must be an array, found {}", kind(v)),
            ));
        }
    };
    if list.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "`messages` must hold at least one message",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    // Calls made by the latest assistant message that no tool message answered yet.
    let mut open_calls: Vec<String> = Vec::new();
    let mut seen_ids: HashSet<String> = HashSet::new();
    for (i, v) in list.iter().enumerate() {
        let at = format!("messages[{i}]");
        if let Some(Value::String(role)) = v.get("role")
            && ![
                "system",
                "developer",
                "user",
                "assistant",
                "tool",
                "function",
            ]
            .contains(&role.as_str())
        {
            return Err(ApiError::invalid(
                format!("{at}.role"),
                format!(
                    "{at}.role: unknown role `{role}` (expected system, developer, user, assistant or tool)"
                ),
            ));
        }
        let m = Message::from_openai(v).map_err(|e| schema_error(&at, e))?;
        match m.role {
            Role::System | Role::User => {
                if m.content.is_none() {
                    return Err(ApiError::invalid(
                        format!("{at}.content"),
                        format!("{at}.content: a {} message needs content", m.role.as_str()),
                    ));
                }
            }
            Role::Assistant => {
                if m.content.is_none() && m.tool_calls.is_empty() {
                    return Err(ApiError::invalid(
                        format!("{at}.content"),
                        format!("{at}: an assistant message needs content or tool_calls"),
                    ));
                }
                open_calls.clear();
                for (k, c) in m.tool_calls.iter().enumerate() {
                    let Some(id) = &c.id else {
                        return Err(ApiError::invalid(
                            format!("{at}.tool_calls[{k}].id"),
                            format!("{at}.tool_calls[{k}]: a tool call needs an id"),
                        ));
                    };
                    if !seen_ids.insert(id.clone()) {
                        return Err(ApiError::invalid(
                            format!("{at}.tool_calls[{k}].id"),
                            format!("{at}.tool_calls[{k}]: the call id `{id}` is used twice"),
                        ));
                    }
                    open_calls.push(id.clone());
                }
            }
            Role::Tool => {
                let Some(id) = &m.tool_call_id else {
                    return Err(ApiError::invalid(
                        format!("{at}.tool_call_id"),
                        format!("{at}: a tool message needs `tool_call_id`"),
                    ));
                };
                match open_calls.iter().position(|c| c == id) {
                    Some(k) => {
                        open_calls.remove(k);
                    }
                    None => {
                        return Err(ApiError::invalid(
                            format!("{at}.tool_call_id"),
                            format!(
                                "{at}.tool_call_id: `{id}` answers no tool call of the assistant message before it"
                            ),
                        ));
                    }
                }
                if m.content.is_none() {
                    return Err(ApiError::invalid(
                        format!("{at}.content"),
                        format!("{at}.content: a tool message needs content"),
                    ));
                }
            }
        }
        out.push(m);
    }
    Ok(out)
}

fn tools(o: &Map<String, Value>) -> Result<Vec<ToolSpec>, ApiError> {
    let list = match field(o, "tools") {
        None => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(ApiError::invalid(
                "tools",
                format!("`tools` must be an array, found {}", kind(v)),
            ));
        }
    };
    let mut out: Vec<ToolSpec> = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let at = format!("tools[{i}]");
        if t.get("type").is_none() {
            return Err(ApiError::invalid(
                format!("{at}.type"),
                format!("{at}.type: required (\"function\")"),
            ));
        }
        let spec = ToolSpec::from_openai_tool(t).map_err(|e| schema_error(&at, e))?;
        if out.iter().any(|s| s.name == spec.name) {
            return Err(ApiError::invalid(
                format!("{at}.function.name"),
                format!("{at}: the tool name `{}` appears twice", spec.name),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

fn tool_choice(o: &Map<String, Value>, tools: &[ToolSpec]) -> Result<ToolChoice, ApiError> {
    let choice = match field(o, "tool_choice") {
        None => ToolChoice::Auto,
        Some(Value::String(s)) => match s.as_str() {
            "none" => ToolChoice::None,
            "auto" => ToolChoice::Auto,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::invalid(
                    "tool_choice",
                    format!(
                        "`tool_choice` must be \"none\", \"auto\", \"required\" or a function object, got \"{other}\""
                    ),
                ));
            }
        },
        Some(Value::Object(c)) => {
            let name = c
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            match (c.get("type").and_then(Value::as_str), name) {
                (Some("function"), Some(n)) => ToolChoice::Named(n.to_owned()),
                _ => {
                    return Err(ApiError::invalid(
                        "tool_choice",
                        "`tool_choice` as an object must be {\"type\": \"function\", \"function\": {\"name\": ...}}",
                    ));
                }
            }
        }
        Some(v) => {
            return Err(ApiError::invalid(
                "tool_choice",
                format!(
                    "`tool_choice` must be a string or an object, found {}",
                    kind(v)
                ),
            ));
        }
    };
    match &choice {
        ToolChoice::Required if tools.is_empty() => Err(ApiError::invalid(
            "tool_choice",
            "`tool_choice` is \"required\" but no `tools` are given",
        )),
        ToolChoice::Named(n) if !tools.iter().any(|t| &t.name == n) => Err(ApiError::invalid(
            "tool_choice.function.name",
            format!("`tool_choice` names `{n}`, which is not among `tools`"),
        )),
        _ => Ok(choice),
    }
}

/// Reads a chat-completions body.
pub fn chat(o: &Map<String, Value>) -> Result<ChatParams, ApiError> {
    let model = model_name(o)?;
    let messages = messages(o)?;
    let tools = tools(o)?;
    let tool_choice = tool_choice(o, &tools)?;
    check_n(o)?;
    let (stream, include_usage) = stream_fields(o)?;
    if opt_bool(o, "logprobs")? == Some(true) {
        return Err(ApiError::invalid("logprobs", "`logprobs` is not supported"));
    }
    Ok(ChatParams {
        model,
        messages,
        tools,
        tool_choice,
        sampling: sampling(o, None)?,
        stream,
        include_usage,
    })
}

/// Reads a completions body.
pub fn completion(o: &Map<String, Value>) -> Result<CompletionParams, ApiError> {
    let model = model_name(o)?;
    let bad = |m: String| ApiError::invalid("prompt", m);
    let prompt = match o.get("prompt") {
        None | Some(Value::Null) => return Err(bad("`prompt` is required".into())),
        Some(Value::String(s)) => Prompt::Text(s.clone()),
        Some(Value::Array(a)) => match a.as_slice() {
            [Value::String(s)] => Prompt::Text(s.clone()),
            [] => return Err(bad("`prompt` is empty".into())),
            items if items.iter().all(Value::is_u64) => Prompt::Tokens(
                items
                    .iter()
                    .filter_map(Value::as_u64)
                    .map(|t| u32::try_from(t).unwrap_or(u32::MAX))
                    .collect(),
            ),
            _ => {
                return Err(bad(
                    "`prompt` must be a string, one string in an array, or an array of token ids"
                        .into(),
                ));
            }
        },
        Some(v) => {
            return Err(bad(format!(
                "`prompt` must be a string or an array, found {}",
                kind(v)
            )));
        }
    };
    if field(o, "suffix").is_some() {
        return Err(ApiError::invalid("suffix", "`suffix` is not supported"));
    }
    if field(o, "best_of").is_some_and(|v| v.as_u64() != Some(1)) {
        return Err(ApiError::invalid(
            "best_of",
            "only best_of = 1 is supported",
        ));
    }
    if field(o, "logprobs").is_some() {
        return Err(ApiError::invalid("logprobs", "`logprobs` is not supported"));
    }
    check_n(o)?;
    let (stream, include_usage) = stream_fields(o)?;
    Ok(CompletionParams {
        model,
        prompt,
        sampling: sampling(o, Some(16))?,
        stream,
        include_usage,
        echo: opt_bool(o, "echo")?.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn tool_results_must_answer_an_open_call() {
        let calls =
            json!([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
        let ok = obj(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ]}));
        assert_eq!(chat(&ok).unwrap().messages.len(), 3);
        let bad = obj(json!({"model": "m", "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": null, "tool_calls": calls},
            {"role": "tool", "tool_call_id": "c2", "content": "42"},
        ]}));
        let e = chat(&bad).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[2].tool_call_id"));
    }

    #[test]
    fn ranges_and_types_name_the_field() {
        for (body, param) in [
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}),
                "temperature",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 0}),
                "top_p",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}),
                "max_tokens",
            ),
            (
                json!({"model": "m", "messages": [{"role": "robot", "content": "x"}]}),
                "messages[0].role",
            ),
            (json!({"model": "m", "messages": []}), "messages"),
            (
                json!({"messages": [{"role": "user", "content": "x"}]}),
                "model",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}),
                "stop[0]",
            ),
            (
                json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}),
                "tool_choice",
            ),
        ] {
            let e = chat(&obj(body)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{e}");
        }
    }

    #[test]
    fn max_completion_tokens_wins_and_completions_default_to_16() {
        let c = chat(&obj(
            json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 5, "max_completion_tokens": 7}),
        ))
        .unwrap();
        assert_eq!(c.sampling.max_tokens, Some(7));
        let p = completion(&obj(json!({"model": "m", "prompt": "x"}))).unwrap();
        assert_eq!(p.sampling.max_tokens, Some(16));
        assert!(json_object(b"{not json").is_err());
    }
}
