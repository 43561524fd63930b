//! External tools: [`HttpTool`] calls any HTTP endpoint described by a `ToolSpec` (the
//! arguments are POSTed as a JSON object; the response text is the observation), and
//! [`tools_from_mcp_list`] reads an MCP-style tool list (`{"tools": [{"name", "description",
//! "inputSchema"}]}`) into specs.

use std::time::Duration;

use agentune_schema::{Error as SchemaError, ToolSpec};
use serde_json::{Map, Value};

use super::{Tool, ToolError};
use crate::model::{http_agent, post_json, snippet};
use crate::{Error, Result};

/// Default limit on one HTTP tool call.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest response text passed on as an observation; longer bodies are cut (and say so).
pub const MAX_OBSERVATION_CHARS: usize = 8_000;

/// A tool served by an HTTP endpoint: `POST url` with the arguments as a JSON object.
/// A 2xx answer's body is the observation; other statuses, timeouts and connection failures
/// are tool errors that name the status and the start of the body.
pub struct HttpTool {
    spec: ToolSpec,
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl std::fmt::Debug for HttpTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may hold credentials: only their names are shown.
        f.debug_struct("HttpTool")
            .field("name", &self.spec.name)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpTool {
    /// A tool with this spec served at `url` (http://, or https:// with the `tls` feature).
    pub fn new(spec: ToolSpec, url: impl Into<String>) -> Result<Self> {
        spec.validate().map_err(|e| Error::ToolSetup {
            name: spec.name.clone(),
            message: e.to_string(),
        })?;
        let url = url.into();
        let lower = url.to_ascii_lowercase();
        let ok = lower.starts_with("http://")
            || (lower.starts_with("https://") && cfg!(feature = "tls"));
        if !ok {
            return Err(Error::ToolSetup {
                name: spec.name.clone(),
                message: format!(
                    "URL `{url}` must start with http://{}",
                    if cfg!(feature = "tls") {
                        " or https://"
                    } else {
                        " (https needs the `tls` feature)"
                    }
                ),
            });
        }
        Ok(Self {
            spec,
            url,
            headers: Vec::new(),
            timeout: DEFAULT_HTTP_TIMEOUT,
            agent: http_agent(DEFAULT_HTTP_TIMEOUT),
        })
    }

    /// The same tool sending an extra header with every call (e.g. an API key).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The same tool with another HTTP timeout. (The registry's own timeout also applies.)
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.agent = http_agent(timeout);
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Tool for HttpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = Value::Object(args.clone());
        let reply = post_json(&self.agent, &self.url, &headers, &body, 4 * 1024 * 1024)
            .map_err(|e| ToolError::Failed(format!("the service did not answer: {e}")))?;
        if !(200..300).contains(&reply.status) {
            return Err(ToolError::Failed(format!(
                "the service answered HTTP {}: {}",
                reply.status,
                snippet(&reply.body, 500)
            )));
        }
        let text = reply.body.trim();
        if text.chars().count() > MAX_OBSERVATION_CHARS {
            let cut: String = text.chars().take(MAX_OBSERVATION_CHARS).collect();
            return Ok(format!(
                "{cut}\n[response cut at {MAX_OBSERVATION_CHARS} characters]"
            ));
        }
        Ok(text.to_owned())
    }
}

/// Reads an MCP-style tool list: `{"tools": [{"name", "description", "inputSchema"}]}` (a
/// bare array of such entries is accepted too). Errors name the entry and field, e.g.
/// `invalid MCP tool list: tools[2].inputSchema: ...`.
pub fn tools_from_mcp_list(value: &Value) -> Result<Vec<ToolSpec>> {
    const WHAT: &str = "MCP tool list";
    let (list, key) = match value {
        Value::Array(list) => (list, ""),
        Value::Object(obj) => match obj.get("tools") {
            Some(Value::Array(list)) => (list, "tools"),
            _ => {
                return Err(
                    SchemaError::invalid(WHAT, "tools", "expected an array of tools").into(),
                );
            }
        },
        _ => {
            return Err(
                SchemaError::invalid(WHAT, "", "expected an object with a `tools` array").into(),
            );
        }
    };
    let mut specs: Vec<ToolSpec> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let at = |field: &str| {
            let head = if key.is_empty() {
                format!("[{i}]")
            } else {
                format!("{key}[{i}]")
            };
            if field.is_empty() {
                head
            } else {
                format!("{head}.{field}")
            }
        };
        let name = entry
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SchemaError::invalid(WHAT, &at("name"), "missing or not a string"))?;
        let description = match entry.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(
                    SchemaError::invalid(WHAT, &at("description"), "must be a string").into(),
                );
            }
        };
        let schema = match entry
            .get("inputSchema")
            .or_else(|| entry.get("input_schema"))
        {
            None | Some(Value::Null) => None,
            Some(s @ Value::Object(_)) => Some(s.clone()),
            Some(_) => {
                return Err(
                    SchemaError::invalid(WHAT, &at("inputSchema"), "must be an object").into(),
                );
            }
        };
        let spec = ToolSpec {
            name: name.to_owned(),
            description,
            parameters: schema,
            strict: None,
        };
        spec.validate()
            .map_err(|e| SchemaError::invalid(WHAT, &at(""), format!("tool `{name}`: {e}")))?;
        if specs.iter().any(|s| s.name == spec.name) {
            return Err(SchemaError::invalid(
                WHAT,
                &at("name"),
                format!("duplicate tool name `{name}`"),
            )
            .into());
        }
        specs.push(spec);
    }
    Ok(specs)
}
