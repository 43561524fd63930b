//! BFCL's reading of Java argument strings: a model answers a Java function with string
//! values in Java syntax (`"5L"`, `"new ArrayList<>(Arrays.asList(1, 2))"`), and the checker
//! converts them by the parameter's declared Java type before comparing. Values that do not
//! fit the type's syntax stay strings (and then usually fail the type check), as in BFCL.
//!
//! Digits are ASCII digits here (Python's `\d` also takes other Unicode decimal digits).

use std::sync::OnceLock;

use regex::Regex;

use super::pyvalue::{Py, py_float, py_int};

/// Compiles a fixed pattern once.
macro_rules! re {
    ($pat:expr) => {{
        static RE: OnceLock<Regex> = OnceLock::new();
        RE.get_or_init(|| Regex::new($pat).unwrap_or_else(|e| panic!("bad built-in pattern: {e}")))
    }};
}

/// The Java types BFCL knows, with the Python type each converts to.
pub fn java_type(name: &str) -> Option<super::pyvalue::PyType> {
    use super::pyvalue::PyType as T;
    Some(match name {
        "byte" | "short" | "integer" | "long" => T::Int,
        "float" | "double" => T::Float,
        "boolean" => T::Bool,
        "char" | "String" | "any" => T::Str,
        "Array" | "ArrayList" | "Queue" | "Stack" => T::List,
        "HashMap" | "Hashtable" => T::Dict,
        // `Set` maps to Python's `set`, which no decoded value ever has.
        "Set" => return None,
        _ => return None,
    })
}

/// Python's `s[1:-1]`.
pub(crate) fn inner(s: &str) -> String {
    let n = s.chars().count();
    if n < 2 {
        return String::new();
    }
    s.chars().skip(1).take(n - 2).collect()
}

/// Python's `s[:-1]`.
pub(crate) fn drop_last(s: &str) -> &str {
    match s.char_indices().last() {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn to_int(s: &str) -> Py {
    match py_int(s) {
        Some(i) => Py::Int(i),
        None => py_float(s).map_or_else(|| Py::Str(s.to_owned()), Py::Float),
    }
}

/// `java_type_converter(value, expected_type, nested_type)`. `Err` where BFCL raises (an
/// unknown type, or `Set`/`Hashtable`/`Queue`/`Stack`, which it does not implement).
pub fn convert(value: &str, expected: &str, nested: Option<&str>) -> Result<Py, String> {
    Ok(match expected {
        "byte" | "short" | "integer" => {
            if re!(r"^-?[0-9]+\n?$").is_match(value) {
                to_int(value)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "float" => {
            if re!(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?[fF]\n?$").is_match(value) {
                let stripped = re!(r"[fF](\n?)$").replace(value, "$1");
                py_float(&stripped).map_or_else(|| Py::Str(value.to_owned()), Py::Float)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "double" => {
            if re!(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\n?$").is_match(value) {
                py_float(value).map_or_else(|| Py::Str(value.to_owned()), Py::Float)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "long" => {
            if re!(r"^-?[0-9]+[lL]\n?$").is_match(value) {
                let stripped = re!(r"[lL](\n?)$").replace(value, "$1");
                to_int(&stripped)
            } else {
                Py::Str(value.to_owned())
            }
        }
        "boolean" => match value {
            "true" => Py::Bool(true),
            "false" => Py::Bool(false),
            _ => Py::Str(value.to_owned()),
        },
        // BFCL's char pattern can never match, so a char stays the string given.
        "char" | "String" | "any" => Py::Str(value.to_owned()),
        "Array" => parse_array(value, nested)?,
        "ArrayList" => parse_arraylist(value, nested)?,
        "HashMap" => parse_hashmap(value),
        "Set" | "Hashtable" | "Queue" | "Stack" => {
            return Err(format!("{expected} conversion is not implemented"));
        }
        other => return Err(format!("Unsupported type: {other}")),
    })
}

/// One element of an `ArrayList`: quotes dropped for `char`/`String`, else converted.
fn list_element(s: &str, nested: Option<&str>) -> Result<Py, String> {
    Ok(match nested {
        Some("char") | Some("String") => Py::Str(inner(s)),
        Some(t) => convert(s, t, None)?,
        None => parse_value(s),
    })
}

fn parse_arraylist(input: &str, nested: Option<&str>) -> Result<Py, String> {
    if let Some(c) = re!(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)").captures(input) {
        let body = c.get(1).map_or("", |m| m.as_str());
        let items = body
            .split(',')
            .map(|e| list_element(e.trim(), nested))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Py::List(items));
    }
    if let Some(c) = re!(r"(?s)new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}").captures(input) {
        let adds = c.get(1).map_or("", |m| m.as_str());
        let items = re!(r"add\((.+?)\)")
            .captures_iter(adds)
            .map(|m| list_element(m.get(1).map_or("", |g| g.as_str()).trim(), nested))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Py::List(items));
    }
    if re!(r"new\s+ArrayList<\w*>\(\)").is_match(input) {
        return Ok(Py::List(Vec::new()));
    }
    Ok(Py::Str(input.to_owned()))
}

fn parse_array(input: &str, nested: Option<&str>) -> Result<Py, String> {
    let Some(c) = re!(r"new\s+\w+\[\]\s*\{(.*?)\}").captures(input) else {
        return Ok(Py::Str(input.to_owned()));
    };
    let body = c.get(1).map_or("", |m| m.as_str());
    let items = body
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| match nested {
            Some(t) => convert(x, t, None),
            None => Ok(parse_value(x)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Py::List(items))
}

fn parse_hashmap(input: &str) -> Py {
    if let Some(c) =
        re!(r"(?s)new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}").captures(input)
    {
        let puts = c.get(1).map_or("", |m| m.as_str());
        let mut out: Vec<(String, Py)> = Vec::new();
        if !puts.trim().is_empty() {
            for m in re!(r#"put\("(.*?)",\s*(.*?)\)"#).captures_iter(puts) {
                let key = m.get(1).map_or("", |g| g.as_str()).to_owned();
                let value = parse_value(m.get(2).map_or("", |g| g.as_str()).trim());
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => out.push((key, value)),
                }
            }
        }
        return Py::Dict(out);
    }
    if re!(r"new\s+HashMap<.*?>\s*\(\)").is_match(input) {
        return Py::Dict(Vec::new());
    }
    Py::Str(input.to_owned())
}

/// `parse_java_value`: a Java literal without a declared type.
fn parse_value(s: &str) -> Py {
    if s == "true" {
        return Py::Bool(true);
    }
    if s == "false" {
        return Py::Bool(false);
    }
    if s.starts_with('"') && s.ends_with('"') {
        return Py::Str(inner(s));
    }
    if re!(r"^-?[0-9]+[lL]\n?$").is_match(s) {
        return py_int(drop_last(s)).map_or_else(|| Py::Str(s.to_owned()), Py::Int);
    }
    if re!(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?[fF]\n?$").is_match(s) {
        let stripped = re!(r"[fF](\n?)$").replace(s, "$1");
        return py_float(&stripped).map_or_else(|| Py::Str(s.to_owned()), Py::Float);
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

    fn eq(a: &Py, b: &Py) -> bool {
        py_eq(a, b) && a.ty() == b.ty()
    }

    #[test]
    fn scalars() {
        assert!(eq(&conv("true", "boolean", None), &Py::Bool(true)));
        assert!(eq(&conv("-123", "integer", None), &Py::Int(-123)));
        assert!(eq(&conv("2.5f", "float", None), &Py::Float(2.5)));
        assert!(eq(&conv("3e3F", "float", None), &Py::Float(3000.0)));
        assert!(eq(&conv("3.14e-2", "double", None), &Py::Float(0.0314)));
        assert!(eq(&conv("123L", "long", None), &Py::Int(123)));
        assert!(eq(&conv("abc", "String", None), &Py::Str("abc".into())));
        // Outside the type's syntax a value stays a string.
        assert!(eq(&conv("3.14", "float", None), &Py::Str("3.14".into())));
        assert!(eq(&conv("12", "long", None), &Py::Str("12".into())));
        assert!(eq(&conv("'a'", "char", None), &Py::Str("'a'".into())));
        assert!(convert("x", "Set", None).is_err());
    }

    #[test]
    fn collections() {
        let ints = Py::List(vec![Py::Int(1), Py::Int(2), Py::Int(3)]);
        assert!(eq(
            &conv("new int[] { 1, 2, 3 }", "Array", Some("integer")),
            &ints
        ));
        assert!(eq(
            &conv("new int[]{}", "Array", Some("integer")),
            &Py::List(vec![])
        ));
        let mixed = conv("new long[]{1L, 2, 3L}", "Array", Some("long"));
        assert!(eq(
            &mixed,
            &Py::List(vec![Py::Int(1), Py::Str("2".into()), Py::Int(3)])
        ));
        let strs = conv(
            r#"new ArrayList<>(Arrays.asList("a", "b"))"#,
            "ArrayList",
            Some("String"),
        );
        assert!(eq(
            &strs,
            &Py::List(vec![Py::Str("a".into()), Py::Str("b".into())])
        ));
        let chars = conv(
            "new ArrayList<Character>() {{ add('a'); add('b'); }}",
            "ArrayList",
            Some("char"),
        );
        assert!(eq(
            &chars,
            &Py::List(vec![Py::Str("a".into()), Py::Str("b".into())])
        ));
        assert!(eq(
            &conv("new ArrayList<>()", "ArrayList", Some("integer")),
            &Py::List(vec![])
        ));
        let map = conv(
            r#"new HashMap<String, Object>() {{ put("key1", 123); put("key2", true); }}"#,
            "HashMap",
            None,
        );
        let want = Py::Dict(vec![
            ("key1".into(), Py::Int(123)),
            ("key2".into(), Py::Bool(true)),
        ]);
        assert!(eq(&map, &want));
        assert!(eq(
            &conv("new HashMap<>() {{ }}", "HashMap", None),
            &Py::Dict(vec![])
        ));
        assert!(eq(
            &conv("myMap", "HashMap", None),
            &Py::Str("myMap".into())
        ));
    }
}
