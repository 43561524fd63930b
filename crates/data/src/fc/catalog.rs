//! Tool catalogs: lists of [`ToolSpec`]s read from ToolBench tool files (`toolenv` JSON:
//! `tool_name`, `api_list` with `required_parameters` / `optional_parameters`), OpenAI
//! `tools` / `functions` lists, MCP `tools/list` results, and our own catalog files (JSONL,
//! one OpenAI function object per line, as `data tools synth|import` write them). Catalog
//! specs feed the function-calling synthesiser and the runtime's simulated executor.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use agentune_schema::{JsonlWriter, ToolSpec, tools_from_openai_json};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The tool-list formats `data tools import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    /// ToolBench `toolenv` tool files: one JSON object per file, or a folder tree of them.
    ToolBench,
    /// An OpenAI `tools` or `functions` array (or an object holding one).
    OpenAi,
    /// An MCP `tools/list` result (`{"tools": [{"name", "description", "inputSchema"}]}`).
    Mcp,
    /// A catalog file: JSONL of OpenAI function objects.
    Catalog,
}

impl CatalogFormat {
    /// Every format.
    pub const ALL: [CatalogFormat; 4] = [Self::ToolBench, Self::OpenAi, Self::Mcp, Self::Catalog];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ToolBench => "toolbench",
            Self::OpenAi => "openai",
            Self::Mcp => "mcp",
            Self::Catalog => "catalog",
        }
    }
}

impl FromStr for CatalogFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        let key = match key.as_str() {
            "toolenv" | "rapidapi" => "toolbench",
            "functions" | "tools" => "openai",
            "jsonl" => "catalog",
            other => other,
        };
        Self::ALL
            .iter()
            .copied()
            .find(|f| f.name() == key)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown tool catalog format `{s}`; known: {}",
                    Self::ALL.map(CatalogFormat::name).join(", ")
                ))
            })
    }
}

/// What an import produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CatalogImport {
    /// The specs, in file order, names unique.
    pub specs: Vec<ToolSpec>,
    /// Files read.
    pub files: usize,
    /// Specs dropped because an earlier one had the same name.
    pub duplicates: usize,
}

/// A ToolBench-style identifier: lower case, runs of other characters as one `_`, not
/// starting with a digit.
pub fn standardize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{out}")
    } else {
        out
    }
}

/// The JSON Schema of one ToolBench parameter type (`STRING`, `NUMBER`, `BOOLEAN`, `ENUM`,
/// `ARRAY`, `OBJECT`, `DATE (YYYY-MM-DD)`, `TIME (24-hour HH:MM)`, `GEOPOINT ...`, ...).
fn toolbench_type(ty: &str) -> Value {
    let upper = ty.trim().to_ascii_uppercase();
    let head = upper.split([' ', '(']).next().unwrap_or("");
    match head {
        "NUMBER" | "INTEGER" | "INT" | "FLOAT" | "DOUBLE" => {
            if matches!(head, "INTEGER" | "INT") {
                json!({"type": "integer"})
            } else {
                json!({"type": "number"})
            }
        }
        "BOOLEAN" | "BOOL" => json!({"type": "boolean"}),
        "ARRAY" | "LIST" => json!({"type": "array"}),
        "OBJECT" | "JSON" => json!({"type": "object"}),
        "DATE" => json!({"type": "string", "format": "date"}),
        "TIME" => json!({"type": "string", "format": "time"}),
        _ => json!({"type": "string"}),
    }
}

/// A default as the type wants it (`"10"` for a number becomes `10`); unusable ones dropped.
fn typed_default(schema: &Value, default: &Value) -> Option<Value> {
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("string");
    match (ty, default) {
        (_, Value::Null) => None,
        (_, Value::String(s)) if s.trim().is_empty() => None,
        ("integer", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        ("number", Value::String(s)) => s.trim().parse::<f64>().ok().map(Value::from),
        ("boolean", Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        ("string", Value::Number(n)) => Some(Value::from(n.to_string())),
        ("string", Value::String(_))
        | ("integer", Value::Number(_))
        | ("number", Value::Number(_))
        | ("boolean", Value::Bool(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_)) => Some(default.clone()),
        _ => None,
    }
}

/// The specs of one ToolBench tool file: one per entry of `api_list`, named
/// `<api>_for_<tool>` as ToolBench's own prompts name them.
pub fn toolbench_tool(value: &Value, path: &Path) -> Result<Vec<ToolSpec>> {
    let bad = |field: &str, message: &str| Error::input(path, None, field, message);
    let obj = value
        .as_object()
        .ok_or_else(|| bad("", "expected a JSON object (a ToolBench tool file)"))?;
    let tool_name = obj
        .get("tool_name")
        .or_else(|| obj.get("standardized_name"))
        .or_else(|| obj.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("tool_name", "missing or not a string"))?;
    let tool_desc = obj
        .get("tool_description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let apis = obj
        .get("api_list")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("api_list", "missing or not an array"))?;
    let tool = standardize(tool_name);
    if tool.is_empty() {
        return Err(bad("tool_name", "has no letters or digits"));
    }
    let mut out = Vec::with_capacity(apis.len());
    for (i, api) in apis.iter().enumerate() {
        let at = |f: &str| format!("api_list[{i}]{}{f}", if f.is_empty() { "" } else { "." });
        let api = api
            .as_object()
            .ok_or_else(|| bad(&at(""), "expected an object"))?;
        let api_name = api
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&at("name"), "missing or not a string"))?;
        let short = standardize(api_name);
        if short.is_empty() {
            return Err(bad(&at("name"), "has no letters or digits"));
        }
        let mut props = Map::new();
        let mut required = Vec::new();
        for (key, is_required) in [
            ("required_parameters", true),
            ("optional_parameters", false),
        ] {
            let Some(list) = api.get(key) else { continue };
            let list = list
                .as_array()
                .ok_or_else(|| bad(&at(key), "expected an array"))?;
            for (j, p) in list.iter().enumerate() {
                let pat = |f: &str| at(&format!("{key}[{j}].{f}"));
                let pname = p
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(&pat("name"), "missing or not a string"))?;
                if pname.trim().is_empty() {
                    return Err(bad(&pat("name"), "must not be empty"));
                }
                let ty = p.get("type").and_then(Value::as_str).unwrap_or("STRING");
                let mut schema = toolbench_type(ty);
                if let Some(obj) = schema.as_object_mut() {
                    let d = p
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .trim();
                    if !d.is_empty() {
                        obj.insert("description".into(), Value::from(d));
                    }
                }
                if !is_required
                    && let Some(d) = p.get("default").and_then(|d| typed_default(&schema, d))
                    && let Some(obj) = schema.as_object_mut()
                {
                    obj.insert("default".into(), d);
                }
                if props.insert(pname.to_owned(), schema).is_some() {
                    return Err(bad(
                        &pat("name"),
                        &format!("parameter `{pname}` is listed twice"),
                    ));
                }
                if is_required {
                    required.push(Value::from(pname));
                }
            }
        }
        let desc = api
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        let desc = if desc.is_empty() { tool_desc } else { desc };
        let spec = ToolSpec::new(
            format!("{short}_for_{tool}"),
            desc,
            json!({"type": "object", "properties": props, "required": required}),
        );
        spec.validate().map_err(|e| bad(&at(""), &e.to_string()))?;
        out.push(spec);
    }
    Ok(out)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        Error::input(
            path,
            Some(e.line()),
            format!("column {}", e.column()),
            format!("invalid JSON: {e}"),
        )
    })
}

/// Every `*.json` file under a folder, sorted (a file is itself).
fn json_files(path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Error::Invalid(format!("{} does not exist", path.display())));
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io("list", &dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a catalog file (JSONL of function objects, or a JSON array / `tools` object).
pub fn read_catalog(path: &Path) -> Result<Vec<ToolSpec>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let text = text.trim_start_matches('\u{feff}');
    // A whole JSON document: a list, or one function.
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let one_list = v.is_array() || v.get("tools").is_some() || v.get("functions").is_some();
        return if one_list {
            tools_from_openai_json(&v).map_err(|e| Error::input(path, None, "tools", e.to_string()))
        } else {
            ToolSpec::from_openai(&v)
                .map(|s| vec![s])
                .map_err(|e| Error::input(path, Some(1), "tool", e.to_string()))
        };
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            Error::input(
                path,
                Some(i + 1),
                format!("column {}", e.column()),
                format!("invalid JSON: {e}"),
            )
        })?;
        let spec = ToolSpec::from_openai(&v)
            .map_err(|e| Error::input(path, Some(i + 1), "tool", e.to_string()))?;
        out.push(spec);
    }
    Ok(out)
}

/// Imports a file or folder in `format`. Names stay unique: a later spec with a name already
/// seen is dropped and counted.
pub fn import_catalog(format: CatalogFormat, path: &Path) -> Result<CatalogImport> {
    let mut out = CatalogImport::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut push = |specs: Vec<ToolSpec>, out: &mut CatalogImport| {
        for s in specs {
            if seen.insert(s.name.clone()) {
                out.specs.push(s);
            } else {
                out.duplicates += 1;
            }
        }
    };
    match format {
        CatalogFormat::ToolBench => {
            for f in json_files(path)? {
                let v = read_json(&f)?;
                // A file may hold one tool or an array of tools.
                let tools = match v {
                    Value::Array(list) => list,
                    other => vec![other],
                };
                for t in &tools {
                    push(toolbench_tool(t, &f)?, &mut out);
                }
                out.files += 1;
            }
        }
        CatalogFormat::OpenAi | CatalogFormat::Mcp => {
            for f in json_files(path)? {
                let v = read_json(&f)?;
                let specs = if format == CatalogFormat::OpenAi {
                    tools_from_openai_json(&v)
                        .map_err(|e| Error::input(&f, None, "tools", e.to_string()))?
                } else {
                    agentune_runtime::tools::tools_from_mcp_list(&v)
                        .map_err(|e| Error::input(&f, None, "tools", e.to_string()))?
                };
                push(specs, &mut out);
                out.files += 1;
            }
        }
        CatalogFormat::Catalog => {
            push(read_catalog(path)?, &mut out);
            out.files = 1;
        }
    }
    Ok(out)
}

/// Writes a catalog file atomically: one OpenAI function object per line.
pub fn write_catalog(path: &Path, specs: &[ToolSpec]) -> Result<usize> {
    let mut w = JsonlWriter::<ToolSpec>::create(path)?;
    for s in specs {
        w.write(s)?;
    }
    Ok(w.finish()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_standardized_like_toolbench() {
        assert_eq!(standardize("Weather API v2!"), "weather_api_v2");
        assert_eq!(standardize("  --Get  Quote-- "), "get_quote");
        assert_eq!(standardize("4chan"), "n4chan");
        assert_eq!(standardize("天气"), "");
    }

    #[test]
    fn toolbench_parameters_become_a_schema() {
        let v = json!({
            "tool_name": "Stock Data",
            "tool_description": "Quotes.",
            "api_list": [{
                "name": "Get Quote",
                "description": "Latest quote of a symbol.",
                "required_parameters": [{"name": "symbol", "type": "STRING", "description": "Ticker", "default": "AAPL"}],
                "optional_parameters": [
                    {"name": "limit", "type": "NUMBER", "description": "", "default": "10"},
                    {"name": "from", "type": "DATE (YYYY-MM-DD)", "description": "Start", "default": ""},
                    {"name": "adjusted", "type": "BOOLEAN", "description": "", "default": "true"}
                ]
            }]
        });
        let specs = toolbench_tool(&v, Path::new("t.json")).unwrap();
        assert_eq!(specs.len(), 1);
        let s = &specs[0];
        assert_eq!(s.name, "get_quote_for_stock_data");
        assert_eq!(s.description(), "Latest quote of a symbol.");
        assert_eq!(s.required_parameters(), ["symbol"]);
        let p = s.parameters.as_ref().unwrap();
        assert_eq!(
            p["properties"]["limit"],
            json!({"type": "number", "default": 10.0})
        );
        assert_eq!(p["properties"]["from"]["format"], "date");
        assert_eq!(p["properties"]["adjusted"]["default"], true);
        assert!(p["properties"]["symbol"].get("default").is_none());
        let err = toolbench_tool(&json!({"tool_name": "x", "api_list": [{"name": "a", "required_parameters": [{"type": "STRING"}]}]}), Path::new("bad.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.json") && err.contains("api_list[0].required_parameters[0].name"),
            "{err}"
        );
    }
}
