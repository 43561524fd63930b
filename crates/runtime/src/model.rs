//! Talking to a model: the [`ChatModel`] trait, an OpenAI-compatible HTTP client
//! ([`OpenAiClient`], for our own server, vLLM, llama.cpp or a hosted API) and a
//! [`ScriptedModel`] that replays fixed replies (tests of the agent loop, dry runs).

use std::sync::Mutex;
use std::time::Duration;

use agentune_schema::{Message, Role, ToolSpec, messages_to_openai, tools_to_openai_json};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Error, Result};

/// One chat-completion request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools offered to the model; sent as an OpenAI `tools` array when present (templates
    /// that describe tools in the prompt text leave this empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolSpec>>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Strings that end generation (ReAct templates stop before `Observation:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Sampling seed, for endpoints that honour it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl ChatRequest {
    /// A request with these messages and nothing else set.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            tools: None,
            temperature: None,
            max_tokens: None,
            stop: Vec::new(),
            seed: None,
        }
    }

    /// The OpenAI chat-completions body for `model`.
    pub fn to_openai(&self, model: &str) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(model));
        body.insert(
            "messages".into(),
            Value::Array(messages_to_openai(&self.messages)),
        );
        if let Some(tools) = self.tools.as_ref().filter(|t| !t.is_empty()) {
            body.insert("tools".into(), tools_to_openai_json(tools));
        }
        if let Some(t) = self.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(n) = self.max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if !self.stop.is_empty() {
            body.insert("stop".into(), json!(self.stop));
        }
        if let Some(s) = self.seed {
            body.insert("seed".into(), json!(s));
        }
        Value::Object(body)
    }
}

/// Token counts reported by the endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant message: text and/or tool calls.
    pub message: Message,
    /// Why generation stopped (`stop`, `length`, `tool_calls`), when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Token counts, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Anything that answers chat requests.
pub trait ChatModel {
    /// Generates the next assistant message.
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse>;
}

impl<T: ChatModel + ?Sized> ChatModel for &T {
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).chat(request)
    }
}

impl<T: ChatModel + ?Sized> ChatModel for Box<T> {
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        (**self).chat(request)
    }
}

/// The default limit on one request to a model.
pub const DEFAULT_MODEL_TIMEOUT: Duration = Duration::from_secs(120);

/// Largest response body read from an endpoint.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

/// An OpenAI-compatible chat-completions client: `POST {base_url}/chat/completions`.
///
/// The API key is read from an environment variable named by the user, kept only in memory,
/// sent only in the `Authorization` header, and never printed (`Debug` hides it).
pub struct OpenAiClient {
    base_url: String,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client for `model` at `base_url` (e.g. `http://127.0.0.1:8000/v1`), without a key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            base_url,
            model: model.into(),
            api_key: None,
            timeout: DEFAULT_MODEL_TIMEOUT,
            agent: http_agent(DEFAULT_MODEL_TIMEOUT),
        }
    }

    /// The same client sending the key held in environment variable `var`; an unset or
    /// empty variable is an error.
    pub fn with_api_key_env(mut self, var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => {
                self.api_key = Some(key.trim().to_owned());
                Ok(self)
            }
            _ => Err(Error::MissingApiKey {
                var: var.to_owned(),
            }),
        }
    }

    /// The same client sending this key (for callers that hold it already; prefer
    /// [`OpenAiClient::with_api_key_env`] so keys stay out of files and command lines).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.api_key = Some(key.trim().to_owned()).filter(|k| !k.is_empty());
        self
    }

    /// The same client with another request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.agent = http_agent(timeout);
        self
    }

    /// The model name sent with each request.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The endpoint requests go to.
    pub fn url(&self) -> String {
        format!("{}/chat/completions", self.base_url)
    }
}

impl ChatModel for OpenAiClient {
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let url = self.url();
        let body = request.to_openai(&self.model);
        let auth = self.api_key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        tracing::debug!(%url, model = %self.model, messages = request.messages.len(), "chat request");
        let reply =
            post_json(&self.agent, &url, &headers, &body, MAX_BODY_BYTES).map_err(|message| {
                Error::Http {
                    url: url.clone(),
                    message,
                }
            })?;
        if !(200..300).contains(&reply.status) {
            return Err(Error::HttpStatus {
                url,
                status: reply.status,
                body: error_message(&reply.body),
            });
        }
        parse_chat_response(&reply.body).map_err(|message| Error::BadResponse { url, message })
    }
}

/// The API's error message from an error body (`{"error": {"message": ...}}`), or the start
/// of the body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    message.unwrap_or_else(|| snippet(body, 300))
}

/// The first `max` characters of a text, marked when cut.
pub(crate) fn snippet(text: &str, max: usize) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() <= max {
        trimmed.to_owned()
    } else {
        let cut: String = trimmed.chars().take(max).collect();
        format!("{cut}... ({} bytes in all)", trimmed.len())
    }
}

/// Reads an OpenAI chat-completions response body.
pub fn parse_chat_response(body: &str) -> std::result::Result<ChatResponse, String> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| format!("the body is not JSON ({e}): {}", snippet(body, 200)))?;
    if let Some(err) = value.get("error").filter(|e| !e.is_null()) {
        return Err(format!(
            "the endpoint reported an error: {}",
            error_message(&err.to_string())
        ));
    }
    let choice = value
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| format!("no `choices[0]` in the response: {}", snippet(body, 200)))?;
    let mut raw = choice
        .get("message")
        .cloned()
        .ok_or_else(|| "`choices[0]` has no `message`".to_owned())?;
    // Some servers leave the role out of the reply; it can only be the assistant's.
    if let Some(obj) = raw.as_object_mut() {
        obj.entry("role").or_insert_with(|| json!("assistant"));
    }
    let mut message = Message::from_openai(&raw).map_err(|e| format!("choices[0].message: {e}"))?;
    if message.role != Role::Assistant {
        return Err(format!(
            "choices[0].message has role `{}`, expected assistant",
            message.role.as_str()
        ));
    }
    // Some servers send "" next to tool calls; keep content absent then.
    if message.content.as_deref() == Some("") && !message.tool_calls.is_empty() {
        message.content = None;
    }
    let finish_reason = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let usage = value.get("usage").filter(|u| u.is_object()).map(|u| Usage {
        prompt_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
        completion_tokens: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    });
    Ok(ChatResponse {
        message,
        finish_reason,
        usage,
    })
}

/// A model that replays a fixed list of replies in order and records every request it got.
#[derive(Debug)]
pub struct ScriptedModel {
    replies: Vec<Message>,
    next: Mutex<usize>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedModel {
    /// Replays these assistant messages.
    pub fn new(replies: Vec<Message>) -> Self {
        Self {
            replies,
            next: Mutex::new(0),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Replays plain-text assistant replies.
    pub fn from_texts<S: Into<String>>(texts: impl IntoIterator<Item = S>) -> Self {
        Self::new(texts.into_iter().map(Message::assistant).collect())
    }

    /// Reads a script from a JSONL file: one reply per line, either a JSON string (a text
    /// reply) or an OpenAI-style assistant message object (`{"role": "assistant", "content":
    /// ..., "tool_calls": [...]}`). Blank lines are skipped; errors name the file and line.
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut replies = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| Error::Data {
                file: path.display().to_string(),
                line: i + 1,
                message,
            };
            let value: Value =
                serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
            let message = match &value {
                Value::String(text) => Message::assistant(text.clone()),
                Value::Object(_) => {
                    let m = Message::from_openai(&value).map_err(|e| bad(e.to_string()))?;
                    if m.role != Role::Assistant {
                        return Err(bad(format!(
                            "a scripted reply must be an assistant message, not {}",
                            m.role.as_str()
                        )));
                    }
                    m
                }
                _ => {
                    return Err(bad(
                        "expected a string or an assistant message object".into()
                    ));
                }
            };
            replies.push(message);
        }
        Ok(Self::new(replies))
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// How many replies are left.
    pub fn remaining(&self) -> usize {
        let next = *self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.replies.len().saturating_sub(next)
    }
}

impl ChatModel for ScriptedModel {
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        self.requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(request.clone());
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let message = self
            .replies
            .get(*next)
            .cloned()
            .ok_or(Error::ScriptExhausted {
                replies: self.replies.len(),
            })?;
        *next += 1;
        let finish_reason = if message.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        Ok(ChatResponse {
            message,
            finish_reason: Some(finish_reason.into()),
            usage: None,
        })
    }
}

/// An HTTP agent that returns error statuses as responses (so their bodies can be reported)
/// and gives up after `timeout`.
pub(crate) fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// An HTTP answer.
pub(crate) struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// POSTs a JSON body; the error is a sentence for the user or the model.
pub(crate) fn post_json(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &Value,
    limit: u64,
) -> std::result::Result<HttpReply, String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") && !cfg!(feature = "tls") {
        return Err("https needs the runtime's `tls` feature (build with --features tls)".into());
    }
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err("the URL must start with http:// or https://".into());
    }
    let mut req = agent.post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    // Compact JSON (ureq's own JSON helper pretty-prints).
    let mut resp = req.send(body.to_string()).map_err(describe_http_error)?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_string()
        .map_err(describe_http_error)?;
    Ok(HttpReply { status, body: text })
}

fn describe_http_error(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
            format!("cannot connect ({e})")
        }
        ureq::Error::BodyExceedsLimit(n) => format!("the response is larger than {n} bytes"),
        other => other.to_string(),
    }
}
