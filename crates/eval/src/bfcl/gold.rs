//! Calls built from a test case's possible answers: for each parameter the first accepted
//! value (parameters whose only accepted value is `""` are left out), written the way a model
//! must write it: JSON values for Python functions, source text for Java and JavaScript
//! functions. Used to check the checker on real data and as the reference responses of the
//! benchmark.

use serde_json::Value;

use super::checker::{GoldCall, Language, ModelCall};
use super::pyvalue::Py;
use super::{Entry, language_of};

/// The first accepted value of a parameter (not the optional marker `""`).
fn first(accepted: &Py) -> Option<Py> {
    match accepted {
        Py::List(items) => items.iter().find(|v| !v.is_empty_str()).cloned(),
        _ => None,
    }
}

/// A possible-answer dict (`{key: [accepted...]}`) collapsed to one value per key.
fn collapse(dict: &Py) -> Py {
    match dict {
        Py::Dict(entries) => Py::Dict(
            entries
                .iter()
                .filter_map(|(k, v)| first(v).map(|x| (k.clone(), x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn doc_type<'a>(doc: Option<&'a Value>, param: &str) -> (Option<&'a str>, Option<&'a str>) {
    let detail = doc
        .and_then(|d| d.pointer("/parameters/properties"))
        .and_then(|p| p.get(param));
    let ty = detail.and_then(|d| d.get("type")).and_then(Value::as_str);
    let items = detail
        .and_then(|d| d.pointer("/items/type"))
        .and_then(Value::as_str);
    (ty, items)
}

/// The calls of the possible answers of `entry` (none for categories without answers).
pub fn first_choice_calls(entry: &Entry) -> Vec<ModelCall> {
    let language = language_of(&entry.category);
    entry
        .answers
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|g| gold_call(entry, g, language))
        .collect()
}

fn gold_call(entry: &Entry, gold: &GoldCall, language: Language) -> ModelCall {
    let doc = entry
        .functions
        .iter()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(gold.name.as_str()));
    let mut args = Vec::new();
    for (param, accepted) in &gold.params {
        let Some(value) = first(accepted) else {
            continue;
        };
        let (ty, items) = doc_type(doc, param);
        let value = match language {
            Language::Python => match (ty, &value) {
                (Some("dict"), Py::Dict(_)) => collapse(&value),
                (Some("array"), Py::List(l)) if items == Some("dict") => {
                    Py::List(l.iter().map(collapse).collect())
                }
                _ => value,
            },
            Language::Java => Py::Str(java_source(&value, ty.unwrap_or("any"), items)),
            Language::JavaScript => Py::Str(js_source(&value, ty.unwrap_or("any"), items)),
        };
        args.push((param.clone(), value));
    }
    ModelCall {
        name: gold.name.clone(),
        args,
    }
}

fn plain(v: &Py) -> String {
    match v {
        Py::Str(s) => s.clone(),
        Py::Bool(b) => b.to_string(),
        Py::Int(i) => i.to_string(),
        // Python's spelling (`30.0`, not `30`), which BFCL's possible answers use.
        Py::Float(_) => v.to_string(),
        Py::None => "null".into(),
        other => other.to_json().to_string(),
    }
}

fn java_literal(v: &Py) -> String {
    match v {
        Py::Str(s) => format!("\"{s}\""),
        other => plain(other),
    }
}

/// Java source text for a value of declared type `ty`.
pub fn java_source(v: &Py, ty: &str, items: Option<&str>) -> String {
    match (ty, v) {
        ("long", Py::Int(i)) => format!("{i}L"),
        ("float", Py::Int(_) | Py::Float(_)) => format!("{}f", plain(v)),
        ("Array", Py::List(l)) => {
            let t = items.unwrap_or("any");
            let parts: Vec<String> = l.iter().map(|x| java_source(x, t, None)).collect();
            format!("new {}[]{{{}}}", java_array_type(t), parts.join(", "))
        }
        ("ArrayList", Py::List(l)) => {
            if l.is_empty() {
                return "new ArrayList<>()".into();
            }
            let t = items.unwrap_or("any");
            let parts: Vec<String> = l
                .iter()
                .map(|x| match t {
                    "String" | "char" => format!("\"{}\"", plain(x)),
                    _ => java_source(x, t, None),
                })
                .collect();
            format!("new ArrayList<>(Arrays.asList({}))", parts.join(", "))
        }
        ("HashMap", Py::Dict(d)) => {
            let puts: Vec<String> = d
                .iter()
                .filter_map(|(k, accepted)| {
                    first(accepted).map(|x| format!("put(\"{k}\", {});", java_literal(&x)))
                })
                .collect();
            format!("new HashMap<String, Object>() {{{{ {} }}}}", puts.join(" "))
        }
        _ => plain(v),
    }
}

fn java_array_type(t: &str) -> &str {
    match t {
        "integer" => "int",
        "boolean" => "boolean",
        "double" => "double",
        "float" => "float",
        "long" => "long",
        "String" => "String",
        _ => "Object",
    }
}

fn js_literal(v: &Py) -> String {
    match v {
        Py::Str(s) => format!("'{s}'"),
        other => plain(other),
    }
}

/// JavaScript source text for a value of declared type `ty`.
pub fn js_source(v: &Py, ty: &str, items: Option<&str>) -> String {
    match (ty, v) {
        ("Bigint", Py::Int(i)) => format!("{i}n"),
        ("array", Py::List(l)) => {
            let parts: Vec<String> = l
                .iter()
                .map(|x| match (items, x) {
                    (Some("String") | None, Py::Str(_)) => js_literal(x),
                    (Some(t), _) => js_source(x, t, None),
                    (None, _) => js_literal(x),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        ("dict", Py::Dict(d)) => {
            let pairs: Vec<String> = d
                .iter()
                .filter_map(|(k, accepted)| {
                    first(accepted).map(|x| format!("{k}: {}", js_literal(&x)))
                })
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
        _ => plain(v),
    }
}

/// Calls for a relevance or irrelevance test case: none, or one call of the first function
/// with no arguments.
pub fn relevance_calls(entry: &Entry, call: bool) -> Vec<ModelCall> {
    let name = entry
        .functions
        .first()
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str);
    match (call, name) {
        (true, Some(n)) => vec![ModelCall {
            name: n.to_owned(),
            args: Vec::new(),
        }],
        _ => Vec::new(),
    }
}

/// The number of perturbations [`perturb`] knows.
pub const PERTURBATIONS: usize = 14;

/// A subtly changed copy of `calls` (perturbation `kind` modulo [`PERTURBATIONS`]): some
/// changes must fail (a wrong type, a missing or extra parameter, a wrong name, a wrong
/// count), others must still pass (reordered parallel calls, re-cased strings, an integer
/// where a float is declared); the checker decides.
pub fn perturb(calls: &[ModelCall], kind: usize) -> Vec<ModelCall> {
    let mut out = calls.to_vec();
    let Some(first) = out.first_mut() else {
        return out;
    };
    match kind % PERTURBATIONS {
        0 => {
            // Numbers change kind: int to float, integral float to int.
            if let Some((_, v)) = first
                .args
                .iter_mut()
                .find(|(_, v)| matches!(v, Py::Int(_) | Py::Float(_)))
            {
                let changed = match &*v {
                    Py::Int(i) => Py::Float(*i as f64),
                    Py::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Py::Int(*f as i128),
                    Py::Float(f) => Py::Float(*f + 1.0),
                    other => other.clone(),
                };
                *v = changed;
            }
        }
        1 => {
            first.args.pop();
        }
        2 => first.args.push(("unexpected_param".into(), Py::Int(1))),
        3 => first.name.push_str("_v2"),
        4 => out.reverse(),
        5 => out.clear(),
        6 => {
            // A value as a string of its JSON.
            if let Some((_, v)) = first.args.first_mut()
                && !matches!(v, Py::Str(_))
            {
                *v = Py::Str(v.to_json().to_string());
            }
        }
        7 => {
            // Strings re-cased and punctuated: BFCL's normalisation accepts these.
            for (_, v) in &mut first.args {
                if let Py::Str(s) = v {
                    *v = Py::Str(format!("{} ", s.to_uppercase()));
                }
            }
        }
        8 => {
            // A list shortened by one, a bool flipped.
            for (_, v) in &mut first.args {
                match v {
                    Py::List(l) if !l.is_empty() => {
                        l.pop();
                        break;
                    }
                    Py::Bool(b) => {
                        *b = !*b;
                        break;
                    }
                    _ => {}
                }
            }
        }
        9 => {
            // Source-text slips: a literal's suffix (`L`, `f`, `n`) dropped, quotes dropped,
            // or quotes added.
            if let Some((_, Py::Str(s))) = first.args.first_mut() {
                let suffixed = s.len() > 1
                    && s.ends_with(['L', 'l', 'f', 'F', 'n'])
                    && s[..s.len() - 1].ends_with(|c: char| c.is_ascii_digit());
                *s = if suffixed {
                    s[..s.len() - 1].to_owned()
                } else if s.len() >= 2 && (s.starts_with('\'') || s.starts_with('"')) {
                    s[1..s.len() - 1].to_owned()
                } else {
                    format!("\"{s}\"")
                };
            }
        }
        10 => {
            // Booleans in the wrong spelling or type.
            for (_, v) in &mut first.args {
                let changed = match v {
                    Py::Bool(b) => Some(Py::Str(b.to_string())),
                    Py::Str(s) if s == "true" => Some(Py::Str("True".into())),
                    Py::Str(s) if s == "false" => Some(Py::Bool(false)),
                    _ => None,
                };
                if let Some(c) = changed {
                    *v = c;
                    break;
                }
            }
        }
        11 => {
            // The values of the first two arguments swapped.
            if first.args.len() >= 2 {
                let a = first.args[0].1.clone();
                first.args[0].1 = first.args[1].1.clone();
                first.args[1].1 = a;
            }
        }
        12 => {
            // Dicts: a key added; lists of dicts: the first dict emptied.
            for (_, v) in &mut first.args {
                match v {
                    Py::Dict(d) => {
                        d.push(("extra_key".into(), Py::Int(1)));
                        break;
                    }
                    Py::List(l) if matches!(l.first(), Some(Py::Dict(_))) => {
                        l[0] = Py::Dict(Vec::new());
                        break;
                    }
                    _ => {}
                }
            }
        }
        _ => {
            // Numbers nudged: a float truncated, an int incremented, a bool as 1/0.
            for (_, v) in &mut first.args {
                let changed = match v {
                    Py::Float(f) => Some(Py::Float(f.trunc())),
                    Py::Int(i) => Some(Py::Int(*i + 1)),
                    Py::Bool(b) => Some(Py::Int(i128::from(*b))),
                    _ => None,
                };
                if let Some(c) = changed {
                    *v = c;
                    break;
                }
            }
        }
    }
    out
}
