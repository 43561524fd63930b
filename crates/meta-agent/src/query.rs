//! Seed queries: a JSONL file whose lines are objects with a `query` string (trajectories,
//! samples and plain `{"query": ...}` lines all qualify) or bare JSON strings; an optional
//! `id` and gold `answer` are kept.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// One seed query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedQuery {
    /// The line's `id`, or `q<line>`.
    pub id: String,
    /// The query text.
    pub query: String,
    /// The gold final answer, when the line has one (`answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// Reads seed queries from a JSONL file. A bad line is an error naming the file, line and
/// field; blank lines are skipped; an empty file is an error.
pub fn read_queries(path: &Path) -> Result<Vec<SeedQuery>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let out = parse_queries(path, &text)?;
    if out.is_empty() {
        return Err(Error::input(path, None, "query", "the file holds no query"));
    }
    Ok(out)
}

/// Parses the text of a queries file (see [`read_queries`]); `path` names it in errors.
pub fn parse_queries(path: &Path, text: &str) -> Result<Vec<SeedQuery>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|e| Error::input(path, Some(n), "", format!("not JSON: {e}")))?;
        let (query, id, answer) = match &value {
            Value::String(s) => (s.clone(), None, None),
            Value::Object(map) => {
                let query = match map.get("query") {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => {
                        return Err(Error::input(
                            path,
                            Some(n),
                            "query",
                            format!("expected a string, found {other}"),
                        ));
                    }
                    None => {
                        return Err(Error::input(path, Some(n), "query", "missing"));
                    }
                };
                let id = match map.get("id") {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(x)) => Some(x.to_string()),
                    _ => None,
                };
                let answer = map.get("answer").and_then(Value::as_str).map(str::to_owned);
                (query, id, answer)
            }
            other => {
                return Err(Error::input(
                    path,
                    Some(n),
                    "",
                    format!("expected an object with `query` or a string, found {other}"),
                ));
            }
        };
        if query.trim().is_empty() {
            return Err(Error::input(path, Some(n), "query", "empty"));
        }
        out.push(SeedQuery {
            id: id.unwrap_or_else(|| format!("q{n}")),
            query,
            answer,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_strings_and_errors_with_line_and_field() {
        let p = Path::new("q.jsonl");
        let text = "{\"query\": \"Weather in Paris?\", \"id\": \"w1\"}\n\n\"北京明天下雨吗？\"\n{\"query\": \"2+2\", \"answer\": \"4\", \"extra\": 1}\n";
        let q = parse_queries(p, text).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0].id, "w1");
        assert_eq!(q[1].id, "q3");
        assert_eq!(q[2].answer.as_deref(), Some("4"));
        let e = parse_queries(p, "{\"query\": 3}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("q.jsonl:1: query"), "{e}");
        let e = parse_queries(p, "{}\n{\"q\": 1}").unwrap_err().to_string();
        assert!(e.contains("q.jsonl:1: query: missing"), "{e}");
        let e = parse_queries(p, "\"a\"\n[1]\n").unwrap_err().to_string();
        assert!(e.contains("q.jsonl:2"), "{e}");
    }
}
