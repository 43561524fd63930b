//! BFCL's reading of JavaScript argument strings: a model answers a JavaScript function with
//! string values in JavaScript syntax (`"'abc'"`, `"[1, 2]"`, `"{key: 'v'}"`, `"10n"`), and the
//! checker converts them by the parameter's declared type. Values that do not fit stay
//! strings, as in BFCL.

use std::sync::OnceLock;

use regex::Regex;

use super::java::{drop_last, inner};
use super::pyvalue::{Py, PyType, py_float, py_int};

macro_rules! re {
    ($pat:expr) => {{
        static RE: OnceLock<Regex> = OnceLock::new();
        RE.get_or_init(|| Regex::new($pat).unwrap_or_else(|e| panic!("bad built-in pattern: {e}")))
    }};
}

/// The JavaScript types BFCL knows, with the Python type each converts to.
pub fn js_type(name: &str) -> Option<PyType> {
    Some(match name {
        "String" | "any" => PyType::Str,
        "integer" | "Bigint" => PyType::Int,
        "float" => PyType::Float,
        "Boolean" => PyType::Bool,
        "dict" => PyType::Dict,
        "array" => PyType::List,
        _ => return None,
    })
}

/// `js_type_converter(value, expected_type, nested_type)`; `Err` for an unknown type.
pub fn convert(value: &str, expected: &str, nested: Option<&str>) -> Result<Py, String> {
    Ok(match expected {
        "String" => {
            let quoted = (value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\''));
            Py::Str(if quoted {
                inner(value)
            } else {
                value.to_owned()
            })
        }
        "integer" => {
            if re!(r"^-?[0-9]+\n?$").is_match(value) {
                py_int(value).map_or_else(|| Py::Str(value.to_owned()), Py::Int)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "float" => {
            if re!(r"^-?[0-9]+(\.[0-9]+)?\n?$").is_match(value) {
                py_float(value).map_or_else(|| Py::Str(value.to_owned()), Py::Float)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "Bigint" => {
            if re!(r"^-?[0-9]+n\n?$").is_match(value) {
                py_int(drop_last(value)).map_or_else(|| Py::Str(value.to_owned()), Py::Int)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "Boolean" => match value {
            "true" => Py::Bool(true),
            "false" => Py::Bool(false),
            _ => Py::Str(value.to_owned()),
        },
        "dict" => parse_dict(value.trim()),
        "array" => parse_array(value.trim(), nested),
        "any" => Py::Str(value.to_owned()),
        other => return Err(format!("Unsupported type: {other}")),
    })
}

/// `parse_js_collection(code, "array", nested)`; any failure inside returns the code itself.
fn parse_array(code: &str, nested: Option<&str>) -> Py {
    let two_d = re!(
        r"^(?:\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\))"
    );
    if let Some(m) = two_d.find(code) {
        let mut rows = Vec::new();
        for (idx, c) in re!(r"\[(.*?)\]").captures_iter(m.as_str()).enumerate() {
            let mut row = c.get(1).map_or("", |g| g.as_str()).trim();
            if idx == 0 && row.starts_with('[') {
                row = &row[1..];
            }
            rows.push(Py::List(
                row.split(',').map(|e| parse_value(e.trim())).collect(),
            ));
        }
        return Py::List(rows);
    }
    let Some(c) = re!(r"^(?:\[(.*?)\]|\bnew\s+Array\((.*?)\))").captures(code) else {
        return Py::Str(code.to_owned());
    };
    let body = c
        .get(1)
        .or_else(|| c.get(2))
        .map_or("", |g| g.as_str())
        .trim();
    let elements: Vec<&str> = if body.is_empty() {
        Vec::new()
    } else {
        body.split(',').collect()
    };
    let mut out = Vec::with_capacity(elements.len());
    for e in elements {
        let e = e.trim();
        let item = match nested {
            Some(t) => {
                let quoted = e.starts_with('\'') || e.starts_with('"');
                match convert(e, t, quoted.then_some("String")) {
                    Ok(v) => v,
                    // BFCL catches every exception here and keeps the code as a string.
                    Err(_) => return Py::Str(code.to_owned()),
                }
            }
            None => parse_value(e),
        };
        out.push(item);
    }
    Py::List(out)
}

/// `parse_js_collection(code, "dict")`: `{key: value, ...}` with BFCL's pair pattern
/// `([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)` (implemented by hand: it needs a lookahead).
fn parse_dict(code: &str) -> Py {
    if code == "{}" {
        return Py::Dict(Vec::new());
    }
    let Some(c) = re!(r"^\{(.*?)\}").captures(code) else {
        return Py::Str(code.to_owned());
    };
    let content = c.get(1).map_or("", |g| g.as_str());
    let mut out: Vec<(String, Py)> = Vec::new();
    for (key, value) in find_pairs(content) {
        let key = key.trim().trim_matches(['\'', '"']).to_owned();
        let value = value.trim();
        let parsed = if value.starts_with('[') && value.ends_with(']') {
            parse_array(value, None)
        } else if value.starts_with('{') && value.ends_with('}') {
            parse_dict(value)
        } else {
            parse_value(value.trim_matches(['\'', '"']))
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = parsed,
            None => out.push((key, parsed)),
        }
    }
    Py::Dict(out)
}

/// `re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", text)` over characters.
fn find_pairs(text: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let s = |a: usize, b: usize| chars[a..b].iter().collect::<String>();
    // `,\s*(?=[^,]+:)` at `e`: returns where the match ends.
    let separator = |e: usize| -> Option<usize> {
        if chars.get(e) != Some(&',') {
            return None;
        }
        let rest = e + 1;
        let mut ws = rest;
        while ws < n && chars[ws].is_whitespace() {
            ws += 1;
        }
        let first_comma = (rest..n).find(|&j| chars[j] == ',').unwrap_or(n);
        // The lookahead needs at least one non-comma before a colon. Greedy `\s*` takes all
        // the whitespace unless the colon directly follows it; then it gives one back.
        (ws..first_comma)
            .find(|&j| chars[j] == ':')
            .and_then(|colon| {
                if colon > ws {
                    Some(ws)
                } else if ws > rest {
                    Some(ws - 1)
                } else {
                    None
                }
            })
    };
    let at_end = |e: usize| e == n || (e + 1 == n && chars[e] == '\n');
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < n {
        let Some(colon) = (pos..n).find(|&j| chars[j] == ':') else {
            break;
        };
        if colon == pos {
            pos += 1;
            continue;
        }
        let mut v = colon + 1;
        while v < n && chars[v].is_whitespace() {
            v += 1;
        }
        let mut found = None;
        let mut e = v;
        loop {
            if let Some(end) = separator(e) {
                found = Some((e, end));
                break;
            }
            if at_end(e) {
                found = Some((e, e));
                break;
            }
            if e >= n || chars[e] == '\n' {
                break;
            }
            e += 1;
        }
        match found {
            Some((value_end, match_end)) => {
                out.push((s(pos, colon), s(v, value_end)));
                pos = match_end.max(pos + 1);
            }
            None => pos += 1,
        }
    }
    out
}

/// `parse_js_value`: a JavaScript literal without a declared type.
fn parse_value(s: &str) -> Py {
    let s = s.trim();
    if s == "true" {
        return Py::Bool(true);
    }
    if s == "false" {
        return Py::Bool(false);
    }
    if (s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')) {
        return Py::Str(inner(s));
    }
    if let Some(i) = py_int(s) {
        return Py::Int(i);
    }
    if let Some(f) = py_float(s) {
        return Py::Float(f);
    }
    Py::Str(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfcl::pyvalue::py_eq;

    fn conv(v: &str, t: &str, n: Option<&str>) -> Py {
        convert(v, t, n).unwrap_or_else(|e| panic!("{e}"))
    }

    fn same(a: &Py, b: &Py) -> bool {
        py_eq(a, b) && a.ty() == b.ty()
    }

    #[test]
    fn scalars() {
        assert!(same(&conv("true", "Boolean", None), &Py::Bool(true)));
        assert!(same(&conv("123", "integer", None), &Py::Int(123)));
        assert!(same(&conv("-2.5", "float", None), &Py::Float(-2.5)));
        assert!(same(&conv("123n", "Bigint", None), &Py::Int(123)));
        assert!(same(&conv("'abc'", "String", None), &Py::Str("abc".into())));
        assert!(same(&conv("abc", "String", None), &Py::Str("abc".into())));
        assert!(same(&conv("1e3", "float", None), &Py::Str("1e3".into())));
        assert!(convert("1", "Number", None).is_err());
    }

    #[test]
    fn arrays() {
        let v = conv("[1, 'two', true]", "array", None);
        let want = Py::List(vec![Py::Int(1), Py::Str("two".into()), Py::Bool(true)]);
        assert!(same(&v, &want));
        assert!(same(
            &conv("new Array(1, 2, 3)", "array", None),
            &conv("[1,2,3]", "array", None)
        ));
        assert!(same(&conv("[]", "array", None), &Py::List(vec![])));
        let typed = conv("['a', \"b\"]", "array", Some("String"));
        assert!(same(
            &typed,
            &Py::List(vec![Py::Str("a".into()), Py::Str("b".into())])
        ));
        let grid = conv("[[1, 2], [3, 4]]", "array", None);
        let want = Py::List(vec![
            Py::List(vec![Py::Int(1), Py::Int(2)]),
            Py::List(vec![Py::Int(3), Py::Int(4)]),
        ]);
        assert!(same(&grid, &want));
        assert!(same(
            &conv("items", "array", None),
            &Py::Str("items".into())
        ));
    }

    #[test]
    fn dicts() {
        let v = conv(
            "{'key1': 123, 'key2': 'value', 'key3': false}",
            "dict",
            None,
        );
        let want = Py::Dict(vec![
            ("key1".into(), Py::Int(123)),
            ("key2".into(), Py::Str("value".into())),
            ("key3".into(), Py::Bool(false)),
        ]);
        assert!(same(&v, &want));
        assert!(same(&conv("{}", "dict", None), &Py::Dict(vec![])));
        // A comma inside a value that is not followed by another `key:` stays in the value.
        let v = conv("{name: 'a, b', n: 2}", "dict", None);
        let want = Py::Dict(vec![
            ("name".into(), Py::Str("a, b".into())),
            ("n".into(), Py::Int(2)),
        ]);
        assert!(same(&v, &want), "{v}");
    }
}
