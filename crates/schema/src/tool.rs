//! Tool specifications (name, description, JSON-Schema parameters) and their conversion to and
//! from the OpenAI `tools` and legacy `functions` JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result, from_value};

/// A function the model may call: what the OpenAI API calls a function definition.
///
/// Serialized, a `ToolSpec` is exactly an OpenAI function object
/// (`{"name", "description", "parameters", "strict"}`), so a `functions` array reads directly;
/// [`ToolSpec::to_openai_tool`] wraps it as an entry of a `tools` array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// The function name the model must emit (`get_weather`, `math.factorial`, ...).
    pub name: String,
    /// What the function does, shown to the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments object (normally `{"type": "object", "properties": ...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// OpenAI structured-output strictness flag, kept so specs round-trip unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// One entry of an OpenAI `tools` array (a plain struct rather than a tagged enum, so errors
/// inside `function` keep their field path).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenAiTool {
    #[serde(rename = "type")]
    kind: String,
    function: ToolSpec,
}

impl ToolSpec {
    /// A spec with a name, a description and a parameters schema.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: Some(description.into()),
            parameters: Some(parameters),
            strict: None,
        }
    }

    /// The description, or an empty string when there is none.
    pub fn description(&self) -> &str {
        self.description.as_deref().unwrap_or("")
    }

    /// The parameters schema, or the schema of an empty object when the spec has none.
    pub fn parameters_schema(&self) -> Value {
        self.parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}))
    }

    /// The names of the parameters the schema marks `required`, in schema order.
    pub fn required_parameters(&self) -> Vec<&str> {
        self.parameters
            .as_ref()
            .and_then(|p| p.get("required"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Checks what every consumer relies on: a non-empty name without whitespace, and a
    /// parameters schema that is a JSON object describing an object.
    pub fn validate(&self) -> Result<()> {
        const WHAT: &str = "tool spec";
        if self.name.trim().is_empty() {
            return Err(Error::invalid(WHAT, "name", "must not be empty"));
        }
        if self.name.chars().any(char::is_whitespace) {
            return Err(Error::invalid(
                WHAT,
                "name",
                format!("`{}` contains whitespace", self.name),
            ));
        }
        if let Some(params) = &self.parameters {
            let Some(obj) = params.as_object() else {
                return Err(Error::invalid(
                    WHAT,
                    "parameters",
                    "must be a JSON Schema object",
                ));
            };
            if let Some(t) = obj.get("type")
                && t != "object"
                && t != "dict"
            {
                return Err(Error::invalid(
                    WHAT,
                    "parameters.type",
                    format!("must be \"object\", found {t}"),
                ));
            }
            if let Some(props) = obj.get("properties")
                && !props.is_object()
            {
                return Err(Error::invalid(
                    WHAT,
                    "parameters.properties",
                    "must be an object",
                ));
            }
            if let Some(req) = obj.get("required") {
                let ok = req
                    .as_array()
                    .is_some_and(|r| r.iter().all(Value::is_string));
                if !ok {
                    return Err(Error::invalid(
                        WHAT,
                        "parameters.required",
                        "must be an array of strings",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads one OpenAI `tools` entry: `{"type": "function", "function": {...}}`.
    pub fn from_openai_tool(value: &Value) -> Result<Self> {
        let tool: OpenAiTool = from_value("OpenAI tool", value)?;
        if tool.kind != "function" {
            return Err(Error::invalid(
                "OpenAI tool",
                "type",
                format!("expected \"function\", found \"{}\"", tool.kind),
            ));
        }
        tool.function.validate().map_err(|e| match e {
            Error::Invalid {
                what,
                location,
                message,
            } => Error::Invalid {
                what,
                location: crate::error::FieldPath::new(format!("function.{}", location.0)),
                message,
            },
            other => other,
        })?;
        Ok(tool.function)
    }

    /// Reads one legacy OpenAI `functions` entry: `{"name", "description", "parameters"}`.
    pub fn from_openai_function(value: &Value) -> Result<Self> {
        let spec: Self = from_value("OpenAI function", value)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads either form: a `tools` entry when the value has a `type` field, else a function.
    pub fn from_openai(value: &Value) -> Result<Self> {
        if value.get("type").is_some() {
            Self::from_openai_tool(value)
        } else {
            Self::from_openai_function(value)
        }
    }

    /// This spec as an OpenAI `tools` entry.
    pub fn to_openai_tool(&self) -> Value {
        // Serializing a plain struct of strings and JSON values cannot fail.
        serde_json::to_value(OpenAiTool {
            kind: "function".into(),
            function: self.clone(),
        })
        .unwrap_or(Value::Null)
    }

    /// This spec as a legacy OpenAI `functions` entry.
    pub fn to_openai_function(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Reads a tool list in any of the shapes tools are usually stored in: an array of `tools`
/// entries, an array of `functions` entries (the two may mix), or an object holding such an
/// array under `tools` or `functions`. Errors name the offending entry.
pub fn tools_from_openai_json(value: &Value) -> Result<Vec<ToolSpec>> {
    let (list, key) = match value {
        Value::Array(list) => (list, ""),
        Value::Object(obj) => match (obj.get("tools"), obj.get("functions")) {
            (Some(Value::Array(list)), _) => (list, "tools"),
            (None, Some(Value::Array(list))) => (list, "functions"),
            _ => {
                return Err(Error::invalid(
                    "tool list",
                    "",
                    "expected an array, or an object with a `tools` or `functions` array",
                ));
            }
        },
        _ => {
            return Err(Error::invalid(
                "tool list",
                "",
                "expected an array of tools",
            ));
        }
    };
    let mut specs = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let spec = ToolSpec::from_openai(entry).map_err(|e| prefix_location(e, key, i))?;
        if specs.iter().any(|s: &ToolSpec| s.name == spec.name) {
            let field = if key.is_empty() {
                format!("[{i}]")
            } else {
                format!("{key}[{i}]")
            };
            return Err(Error::invalid(
                "tool list",
                &field,
                format!("duplicate tool name `{}`", spec.name),
            ));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// A tool list as an OpenAI `tools` array.
pub fn tools_to_openai_json(tools: &[ToolSpec]) -> Value {
    Value::Array(tools.iter().map(ToolSpec::to_openai_tool).collect())
}

fn prefix_location(err: Error, key: &str, index: usize) -> Error {
    match err {
        Error::Invalid {
            what,
            location,
            message,
        } => {
            let head = if key.is_empty() {
                format!("[{index}]")
            } else {
                format!("{key}[{index}]")
            };
            let path = if location.0.is_empty() {
                head
            } else {
                format!("{head}.{}", location.0)
            };
            Error::Invalid {
                what,
                location: crate::error::FieldPath::new(path),
                message,
            }
        }
        other => other,
    }
}
