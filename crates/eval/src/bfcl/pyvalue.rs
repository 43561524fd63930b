//! Values with Python's semantics, as BFCL's checker sees them after `json.loads`: the exact
//! type of a value (`bool` is not `int`), equality across numbers (`True == 1 == 1.0`),
//! order-free dict equality, and Python's `int()` / `float()` parsing of literals.

use std::fmt;

use serde_json::Value;

/// A decoded value: what Python's `json.loads` (or BFCL's Java/JavaScript converters) yields.
#[derive(Debug, Clone)]
pub enum Py {
    /// `None` (JSON `null`).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`.
    Int(i128),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<Py>),
    /// A `dict`, keys in insertion order (equality ignores order).
    Dict(Vec<(String, Py)>),
}

/// The Python type of a value (`type(value)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PyType {
    /// `NoneType`.
    NoneType,
    /// `bool`.
    Bool,
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `str`.
    Str,
    /// `list`.
    List,
    /// `dict`.
    Dict,
}

impl PyType {
    /// The Python name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoneType => "NoneType",
            Self::Bool => "bool",
            Self::Int => "int",
            Self::Float => "float",
            Self::Str => "str",
            Self::List => "list",
            Self::Dict => "dict",
        }
    }
}

impl Py {
    /// `type(self)`.
    pub fn ty(&self) -> PyType {
        match self {
            Self::None => PyType::NoneType,
            Self::Bool(_) => PyType::Bool,
            Self::Int(_) => PyType::Int,
            Self::Float(_) => PyType::Float,
            Self::Str(_) => PyType::Str,
            Self::List(_) => PyType::List,
            Self::Dict(_) => PyType::Dict,
        }
    }

    /// The value as `json.loads` would decode this JSON value.
    pub fn from_json(value: &Value) -> Py {
        match value {
            Value::Null => Py::None,
            Value::Bool(b) => Py::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Py::Int(i128::from(i))
                } else if let Some(u) = n.as_u64() {
                    Py::Int(i128::from(u))
                } else {
                    Py::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => Py::Str(s.clone()),
            Value::Array(a) => Py::List(a.iter().map(Py::from_json).collect()),
            Value::Object(o) => Py::Dict(
                o.iter()
                    .map(|(k, v)| (k.clone(), Py::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value as JSON (for verdict files); non-finite floats become `null`.
    pub fn to_json(&self) -> Value {
        match self {
            Py::None => Value::Null,
            Py::Bool(b) => Value::Bool(*b),
            Py::Int(i) => i64::try_from(*i)
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(*i as f64)),
            Py::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Py::Str(s) => Value::String(s.clone()),
            Py::List(l) => Value::Array(l.iter().map(Py::to_json).collect()),
            Py::Dict(d) => Value::Object(d.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }

    /// The string, when this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Py::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `len(self)` for the sized types (`str` counts characters).
    pub fn py_len(&self) -> Option<usize> {
        match self {
            Py::Str(s) => Some(s.chars().count()),
            Py::List(l) => Some(l.len()),
            Py::Dict(d) => Some(d.len()),
            _ => None,
        }
    }

    /// The items `for x in self` visits: list elements (borrowed), or the characters of a
    /// string, or the keys of a dict.
    pub fn iter_items(&self) -> Option<std::borrow::Cow<'_, [Py]>> {
        use std::borrow::Cow;
        match self {
            Py::List(l) => Some(Cow::Borrowed(l.as_slice())),
            Py::Str(s) => Some(Cow::Owned(
                s.chars().map(|c| Py::Str(c.to_string())).collect(),
            )),
            Py::Dict(d) => Some(Cow::Owned(
                d.iter().map(|(k, _)| Py::Str(k.clone())).collect(),
            )),
            _ => None,
        }
    }

    /// `self == ""`.
    pub fn is_empty_str(&self) -> bool {
        matches!(self, Py::Str(s) if s.is_empty())
    }

    /// Looks a key up in a dict.
    pub fn get(&self, key: &str) -> Option<&Py> {
        match self {
            Py::Dict(d) => d.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// `x in self`: list membership by `==`, substring for strings, key for dicts.
    pub fn contains(&self, x: &Py) -> bool {
        match self {
            Py::List(l) => l.iter().any(|v| py_eq(v, x)),
            Py::Str(s) => x.as_str().is_some_and(|sub| s.contains(sub)),
            Py::Dict(d) => x.as_str().is_some_and(|k| d.iter().any(|(dk, _)| dk == k)),
            _ => false,
        }
    }
}

/// A number as Python compares it: bools are 0/1 ints.
enum Num {
    Int(i128),
    Float(f64),
}

fn as_num(v: &Py) -> Option<Num> {
    match v {
        Py::Bool(b) => Some(Num::Int(i128::from(*b))),
        Py::Int(i) => Some(Num::Int(*i)),
        Py::Float(f) => Some(Num::Float(*f)),
        _ => None,
    }
}

fn int_eq_float(i: i128, f: f64) -> bool {
    // Exact comparison, as Python does: the float must be integral and equal.
    f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38 && (f as i128) == i
}

/// Python's `a == b`.
pub fn py_eq(a: &Py, b: &Py) -> bool {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return match (x, y) {
            (Num::Int(x), Num::Int(y)) => x == y,
            (Num::Float(x), Num::Float(y)) => x == y,
            (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => int_eq_float(i, f),
        };
    }
    match (a, b) {
        (Py::None, Py::None) => true,
        (Py::Str(x), Py::Str(y)) => x == y,
        (Py::List(x), Py::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Py::Dict(x), Py::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && py_eq(v, v2)))
        }
        _ => false,
    }
}

/// Python's `repr()`, for error messages.
impl fmt::Display for Py {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Py::None => write!(f, "None"),
            Py::Bool(true) => write!(f, "True"),
            Py::Bool(false) => write!(f, "False"),
            Py::Int(i) => write!(f, "{i}"),
            Py::Float(x) => {
                if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e16 {
                    write!(f, "{x:.1}")
                } else if x.is_nan() {
                    write!(f, "nan")
                } else if x.is_infinite() {
                    write!(f, "{}", if *x > 0.0 { "inf" } else { "-inf" })
                } else {
                    write!(f, "{x}")
                }
            }
            Py::Str(s) => write!(f, "'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Py::List(l) => {
                write!(f, "[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Py::Dict(d) => {
                write!(f, "{{")?;
                for (i, (k, v)) in d.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}: {v}", Py::Str(k.clone()))?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// Digits with single underscores between them (Python's numeric-literal rule for `int()`).
fn strip_underscores(s: &str) -> Option<String> {
    if s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    Some(s.replace('_', ""))
}

/// Python's `int(s)` for a string: surrounding whitespace, an optional sign, decimal digits
/// with single underscores between them. `None` where Python raises `ValueError`.
pub fn py_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        return None;
    }
    let clean = strip_underscores(digits)?;
    if clean.is_empty() || !clean.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: i128 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Python's `float(s)` for a string: surrounding whitespace, sign, decimal or exponent
/// notation, `inf`/`infinity`/`nan` in any case, single underscores between digits.
pub fn py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return t.to_ascii_lowercase().parse::<f64>().ok();
    }
    // Underscores only between digits.
    let chars: Vec<char> = body.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '_' {
            let before = i > 0 && chars[i - 1].is_ascii_digit();
            let after = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if !(before && after) {
                return None;
            }
        } else if !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
            return None;
        }
    }
    let clean = t.replace('_', "");
    // Rust accepts the same decimal grammar (`5.`, `.5`, `1e5`) for finite numbers.
    clean.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_follows_python() {
        assert!(py_eq(&Py::Bool(true), &Py::Int(1)));
        assert!(py_eq(&Py::Int(1), &Py::Float(1.0)));
        assert!(!py_eq(&Py::Int(1), &Py::Float(1.5)));
        assert!(!py_eq(&Py::Str("1".into()), &Py::Int(1)));
        let a = Py::Dict(vec![("a".into(), Py::Int(1)), ("b".into(), Py::Int(2))]);
        let b = Py::Dict(vec![("b".into(), Py::Float(2.0)), ("a".into(), Py::Int(1))]);
        assert!(py_eq(&a, &b));
        assert!(!py_eq(&Py::List(vec![Py::Int(1)]), &Py::List(vec![])));
    }

    #[test]
    fn json_numbers_keep_int_and_float_apart() {
        let v: Value = serde_json::from_str("[1, 1.0, 1e2, -3]").unwrap_or(Value::Null);
        let Py::List(items) = Py::from_json(&v) else {
            panic!("not a list")
        };
        let types: Vec<PyType> = items.iter().map(Py::ty).collect();
        assert_eq!(
            types,
            [PyType::Int, PyType::Float, PyType::Float, PyType::Int]
        );
    }

    #[test]
    fn int_and_float_parsing_follow_python() {
        assert_eq!(py_int(" 42 "), Some(42));
        assert_eq!(py_int("-1_000"), Some(-1000));
        assert_eq!(py_int("+7"), Some(7));
        assert_eq!(py_int("1__0"), None);
        assert_eq!(py_int("4.0"), None);
        assert_eq!(py_int(""), None);
        assert_eq!(py_float("3.5"), Some(3.5));
        assert_eq!(py_float("1e3"), Some(1000.0));
        assert_eq!(py_float(".5"), Some(0.5));
        assert_eq!(py_float("-inf"), Some(f64::NEG_INFINITY));
        assert!(py_float("nan").is_some_and(f64::is_nan));
        assert_eq!(py_float("abc"), None);
        assert_eq!(py_float("1_0.5"), Some(10.5));
    }

    #[test]
    fn repr_looks_like_python() {
        let v = Py::List(vec![
            Py::Str("a".into()),
            Py::Float(2.0),
            Py::Bool(true),
            Py::None,
        ]);
        assert_eq!(v.to_string(), "['a', 2.0, True, None]");
    }
}
