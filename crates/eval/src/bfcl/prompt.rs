//! Prompting a model with a BFCL test case through one of our agent templates: BFCL's function
//! documents as JSON-Schema tools (its type names mapped to JSON Schema, Java and JavaScript
//! parameters as strings in that language's syntax, as BFCL's function-calling handlers do),
//! the conversation's last user message as the query, earlier messages as history.

use agentune_runtime::Template;
use agentune_runtime::model::ChatRequest;
use agentune_schema::{Message, Role, ToolSpec};
use serde_json::{Map, Value, json};

use super::{Entry, Language, language_of};
use crate::error::{Error, Result};

/// BFCL's type name as a JSON Schema type.
fn schema_type(t: &str) -> &str {
    match t {
        "dict" => "object",
        "float" => "number",
        "tuple" => "array",
        "any" => "string",
        other => other,
    }
}

/// One property of a Python function, BFCL's types mapped to JSON Schema (recursively).
fn python_property(p: &Value) -> Value {
    let Value::Object(o) = p else {
        return p.clone();
    };
    let mut out = Map::new();
    for (k, v) in o {
        let mapped = match (k.as_str(), v) {
            ("type", Value::String(t)) => Value::String(schema_type(t).to_owned()),
            ("items", item) => python_property(item),
            ("properties", Value::Object(props)) => Value::Object(
                props
                    .iter()
                    .map(|(n, x)| (n.clone(), python_property(x)))
                    .collect(),
            ),
            _ => v.clone(),
        };
        out.insert(k.clone(), mapped);
    }
    Value::Object(out)
}

/// One property of a Java or JavaScript function: a string in the language's syntax.
fn source_property(p: &Value, language: &str) -> Value {
    let t = p.get("type").and_then(Value::as_str).unwrap_or("any");
    let mut description = p
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if t == "any" {
        description.push_str(&format!(
            " This parameter can be of any type of {language} object in string representation."
        ));
    } else {
        description.push_str(&format!(
            " This is {language} {t} type parameter in string representation."
        ));
    }
    if let Some(item) = p.pointer("/items/type").and_then(Value::as_str) {
        description.push_str(&format!(
            " The list elements are of type {item}; they are not in string representation."
        ));
    }
    json!({"type": "string", "description": description.trim()})
}

/// The test case's functions as tools.
pub fn tools(entry: &Entry) -> Vec<ToolSpec> {
    let language = language_of(&entry.category);
    entry
        .functions
        .iter()
        .map(|f| {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let description = f
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let params = f.get("parameters").cloned().unwrap_or(json!({}));
            let props = params
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let converted: Map<String, Value> = props
                .iter()
                .map(|(k, p)| {
                    let v = match language {
                        Language::Python => python_property(p),
                        Language::Java => source_property(p, "Java"),
                        Language::JavaScript => source_property(p, "JavaScript"),
                    };
                    (k.clone(), v)
                })
                .collect();
            let mut schema = json!({"type": "object", "properties": converted});
            if let Some(r) = params.get("required") {
                schema["required"] = r.clone();
            }
            ToolSpec::new(name, description, schema)
        })
        .collect()
}

/// The first turn's messages of the test case.
pub fn messages(entry: &Entry) -> Result<Vec<Message>> {
    let first = match &entry.question {
        Value::Array(turns) => turns.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    let list = match first {
        Value::Array(ms) => ms,
        Value::Null => Vec::new(),
        other => vec![other],
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            Message::from_openai(m)
                .map_err(|e| Error::Invalid(format!("{}: question[0][{i}]: {e}", entry.id)))
        })
        .collect()
}

/// The chat request for one test case under `template`: tools sent natively for the native
/// family, otherwise rendered into the prompt by the template.
pub fn request(
    entry: &Entry,
    template: &Template,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
) -> Result<ChatRequest> {
    let msgs = messages(entry)?;
    let tools = tools(entry);
    let last_user = msgs.iter().rposition(|m| m.role == Role::User);
    let (history, query) = match last_user {
        Some(i) => (msgs[..i].to_vec(), msgs[i].content_str().to_owned()),
        None => {
            return Err(Error::Invalid(format!(
                "{}: the question has no user message",
                entry.id
            )));
        }
    };
    let rendered = template
        .render_prompt(&tools, &query, &history, &[], &[], None)
        .map_err(Error::Runtime)?;
    let mut req = ChatRequest::new(rendered);
    if template.native_tools() {
        req.tools = Some(tools);
    }
    req.temperature = temperature;
    req.max_tokens = max_tokens;
    req.stop = template.stop_sequences();
    Ok(req)
}
