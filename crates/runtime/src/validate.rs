//! Checks tool-call arguments against a tool's JSON Schema (the subset tool specs use), with
//! errors that name the JSON path of the offending value, so a model (or a data check) can see
//! exactly what is wrong: `arguments.unit: expected one of ["celsius", "fahrenheit"], got
//! "kelvinn"`.
//!
//! Supported keywords: `type` (a name or a list; `integer` vs `number`, and the BFCL aliases
//! `dict`, `float`, `tuple`, `any`), `nullable`, `enum`, `const`, `properties`, `required`,
//! `additionalProperties` (boolean or schema), `minProperties`/`maxProperties`, `items`,
//! `minItems`/`maxItems`, `uniqueItems`, `minimum`/`maximum`, `exclusiveMinimum`/
//! `exclusiveMaximum` (number or draft-4 boolean), `multipleOf`, `minLength`/`maxLength`
//! (counted in characters), `pattern` (an unanchored regular-expression search, as JSON Schema
//! defines it), `anyOf`, `oneOf`, `allOf`, `not`, and local `$ref`s (`#/$defs/...`). Other
//! keywords (`format`, descriptions, defaults) are accepted and not enforced.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

/// One way a value fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// Where: `arguments`, `arguments.unit`, `arguments.stops[2].city`.
    pub path: String,
    /// What is wrong, e.g. `expected integer, got string "3"`.
    pub message: String,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Joins errors into one line, `; `-separated, for an observation or a report.
pub fn format_errors(errors: &[ArgError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks a call's arguments object against the tool's parameters schema. Every error is
/// reported (not just the first), each with its path rooted at `arguments`.
pub fn validate_arguments(schema: &Value, args: &Map<String, Value>) -> Result<(), Vec<ArgError>> {
    // The arguments are cloned into a Value once so that the object rules apply uniformly.
    validate_value(schema, &Value::Object(args.clone()), "arguments")
}

/// Checks any JSON value against a schema; `path` names the value in errors.
pub fn validate_value(schema: &Value, value: &Value, path: &str) -> Result<(), Vec<ArgError>> {
    let mut errors = Vec::new();
    BUDGET.with(|b| b.set(MAX_STEPS));
    check(schema, schema, value, path, &mut errors, 0);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Schemas nest; a hostile schema could nest without end.
const MAX_DEPTH: usize = 64;

/// Most schema nodes visited for one value: alternatives over self-references could
/// otherwise branch exponentially.
const MAX_STEPS: usize = 200_000;

thread_local! {
    static BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(MAX_STEPS) };
}

fn push(errors: &mut Vec<ArgError>, path: &str, message: impl Into<String>) {
    errors.push(ArgError {
        path: path.to_owned(),
        message: message.into(),
    });
}

fn check(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<ArgError>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        push(errors, path, "schema nests too deeply to check");
        return;
    }
    let left = BUDGET.with(|b| {
        let left = b.get().saturating_sub(1);
        b.set(left);
        left
    });
    if left == 0 {
        if !errors
            .iter()
            .any(|e| e.message.starts_with("schema is too complex"))
        {
            push(errors, path, "schema is too complex to check");
        }
        return;
    }
    let obj = match schema {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            push(errors, path, "no value is allowed here");
            return;
        }
        Value::Object(obj) => obj,
        // A malformed schema constrains nothing; ToolSpec::validate reports it elsewhere.
        _ => return,
    };

    // Local references (`#/$defs/Unit`, `#/definitions/Unit`), as generated schemas use them.
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        match reference.strip_prefix('#').and_then(|p| root.pointer(p)) {
            Some(target) => check(root, target, value, path, errors, depth + 1),
            None => tracing::debug!(reference, "unresolvable $ref ignored"),
        }
    }

    let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
    if value.is_null() && nullable {
        return;
    }

    if let Some(t) = obj.get("type") {
        let names: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|n| type_matches(n, value)) {
            let expected = if names.len() == 1 {
                display_type(names[0]).to_owned()
            } else {
                format!(
                    "one of the types {}",
                    names
                        .iter()
                        .map(|n| display_type(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            push(
                errors,
                path,
                format!("expected {expected}, got {}", describe(value)),
            );
            // The other keywords are about the right type; they would only add noise.
            return;
        }
    }

    if let Some(Value::Array(options)) = obj.get("enum")
        && !options.iter().any(|o| json_eq(o, value))
    {
        let list = options
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut message = format!("expected one of [{list}], got {}", short(value));
        if let Some(s) = value.as_str() {
            let names = options.iter().filter_map(Value::as_str);
            if let Some(best) = closest(s, names) {
                message.push_str(&format!(" (did you mean \"{best}\"?)"));
            }
        }
        push(errors, path, message);
    }
    if let Some(c) = obj.get("const")
        && !json_eq(c, value)
    {
        push(
            errors,
            path,
            format!("expected exactly {c}, got {}", short(value)),
        );
    }

    match value {
        Value::Object(map) => check_object(root, obj, map, path, errors, depth),
        Value::Array(items) => check_array(root, obj, items, path, errors, depth),
        Value::String(s) => check_string(obj, s, path, errors),
        Value::Number(_) => check_number(obj, value, path, errors),
        _ => {}
    }

    if let Some(Value::Array(all)) = obj.get("allOf") {
        for sub in all {
            check(root, sub, value, path, errors, depth + 1);
        }
    }
    if let Some(Value::Array(any)) = obj.get("anyOf") {
        check_alternatives(root, any, value, path, errors, depth, false);
    }
    if let Some(Value::Array(one)) = obj.get("oneOf") {
        check_alternatives(root, one, value, path, errors, depth, true);
    }
    if let Some(not) = obj.get("not") {
        let mut sub = Vec::new();
        check(root, not, value, path, &mut sub, depth + 1);
        if sub.is_empty() {
            push(errors, path, "matches a schema it must not match");
        }
    }
}

fn check_alternatives(
    root: &Value,
    options: &[Value],
    value: &Value,
    path: &str,
    errors: &mut Vec<ArgError>,
    depth: usize,
    exactly_one: bool,
) {
    let mut failures = Vec::new();
    let mut matched = 0usize;
    for option in options {
        let mut sub = Vec::new();
        check(root, option, value, path, &mut sub, depth + 1);
        if sub.is_empty() {
            matched += 1;
        } else {
            failures.push(format_errors(&sub));
        }
    }
    if matched == 0 {
        let keyword = if exactly_one { "oneOf" } else { "anyOf" };
        push(
            errors,
            path,
            format!(
                "matches none of the {} alternatives ({keyword}): {}",
                options.len(),
                failures.join(" | ")
            ),
        );
    } else if exactly_one && matched > 1 {
        push(
            errors,
            path,
            format!("matches {matched} alternatives of a oneOf, expected exactly one"),
        );
    }
}

fn check_object(
    root: &Value,
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<ArgError>,
    depth: usize,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                push(
                    errors,
                    path,
                    format!("missing required property \"{name}\""),
                );
            }
        }
    }
    for (key, value) in map {
        let child = format!("{path}.{key}");
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => check(root, sub, value, &child, errors, depth + 1),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let allowed: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let mut message = if allowed.is_empty() {
                        "unknown property (this tool takes no arguments)".to_owned()
                    } else {
                        format!("unknown property (allowed: {})", allowed.join(", "))
                    };
                    if let Some(best) = closest(key, allowed.iter().copied()) {
                        message.push_str(&format!("; did you mean \"{best}\"?"));
                    }
                    push(errors, &child, message);
                }
                Some(sub @ Value::Object(_)) => check(root, sub, value, &child, errors, depth + 1),
                _ => {}
            },
        }
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && (map.len() as u64) < min
    {
        push(
            errors,
            path,
            format!("expected at least {min} properties, got {}", map.len()),
        );
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && (map.len() as u64) > max
    {
        push(
            errors,
            path,
            format!("expected at most {max} properties, got {}", map.len()),
        );
    }
}

fn check_array(
    root: &Value,
    schema: &Map<String, Value>,
    items: &[Value],
    path: &str,
    errors: &mut Vec<ArgError>,
    depth: usize,
) {
    match schema.get("items") {
        Some(sub @ (Value::Object(_) | Value::Bool(_))) => {
            for (i, item) in items.iter().enumerate() {
                check(root, sub, item, &format!("{path}[{i}]"), errors, depth + 1);
            }
        }
        // Draft-4 tuple form: one schema per position.
        Some(Value::Array(subs)) => {
            for (i, (sub, item)) in subs.iter().zip(items).enumerate() {
                check(root, sub, item, &format!("{path}[{i}]"), errors, depth + 1);
            }
        }
        _ => {}
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && (items.len() as u64) < min
    {
        push(
            errors,
            path,
            format!("expected at least {min} items, got {}", items.len()),
        );
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && (items.len() as u64) > max
    {
        push(
            errors,
            path,
            format!("expected at most {max} items, got {}", items.len()),
        );
    }
    if schema.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|earlier| json_eq(earlier, item)) {
                push(
                    errors,
                    &format!("{path}[{i}]"),
                    format!("duplicate item {}", short(item)),
                );
            }
        }
    }
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, errors: &mut Vec<ArgError>) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        let message = if len == 0 {
            "must not be empty".to_owned()
        } else {
            format!("expected at least {min} characters, got {len}")
        };
        push(errors, path, message);
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        push(
            errors,
            path,
            format!("expected at most {max} characters, got {len}"),
        );
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && matches_pattern(pattern, s) == Some(false)
    {
        push(
            errors,
            path,
            format!(
                "expected text matching the pattern {pattern}, got {}",
                short(&Value::String(s.to_owned()))
            ),
        );
    }
}

/// Whether `text` contains a match of `pattern`; None when the pattern does not compile (a
/// schema problem, which constrains nothing rather than rejecting every call).
fn matches_pattern(pattern: &str, text: &str) -> Option<bool> {
    thread_local! {
        static CACHE: RefCell<HashMap<String, Option<regex_lite::Regex>>> =
            RefCell::new(HashMap::new());
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 512 {
            cache.clear();
        }
        let compiled = cache.entry(pattern.to_owned()).or_insert_with(|| {
            regex_lite::Regex::new(pattern)
                .map_err(|e| tracing::debug!(pattern, error = %e, "schema pattern ignored"))
                .ok()
        });
        compiled.as_ref().map(|re| re.is_match(text))
    })
}

fn check_number(
    schema: &Map<String, Value>,
    value: &Value,
    path: &str,
    errors: &mut Vec<ArgError>,
) {
    let Some(x) = value.as_f64() else { return };
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let exclusive_flag = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
    if let Some(min) = bound("minimum") {
        if exclusive_flag("exclusiveMinimum") {
            if x <= min {
                push(errors, path, format!("expected more than {min}, got {x}"));
            }
        } else if x < min {
            push(errors, path, format!("expected at least {min}, got {x}"));
        }
    }
    if let Some(max) = bound("maximum") {
        if exclusive_flag("exclusiveMaximum") {
            if x >= max {
                push(errors, path, format!("expected less than {max}, got {x}"));
            }
        } else if x > max {
            push(errors, path, format!("expected at most {max}, got {x}"));
        }
    }
    if let Some(min) = bound("exclusiveMinimum")
        && x <= min
    {
        push(errors, path, format!("expected more than {min}, got {x}"));
    }
    if let Some(max) = bound("exclusiveMaximum")
        && x >= max
    {
        push(errors, path, format!("expected less than {max}, got {x}"));
    }
    if let Some(step) = bound("multipleOf").filter(|s| *s > 0.0) {
        let q = x / step;
        if (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
            push(
                errors,
                path,
                format!("expected a multiple of {step}, got {x}"),
            );
        }
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    // Hand-written specs sometimes capitalise type names ("String", "Integer").
    match name.to_ascii_lowercase().as_str() {
        "object" | "dict" => value.is_object(),
        "array" | "tuple" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" | "float" => value.is_number(),
        "integer" => is_integer(value),
        "any" => true,
        // An unknown type name constrains nothing rather than rejecting every call.
        _ => true,
    }
}

fn display_type(name: &str) -> &str {
    match name {
        "dict" => "object",
        "float" => "number",
        "tuple" => "array",
        other => other,
    }
}

/// JSON Schema counts 3.0 as an integer; so do we.
fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// Equality as JSON Schema defines it: numbers compare by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// "string \"3\"", "number 2.5", "an array", for type errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => {
            if is_integer(value) {
                format!("integer {n}")
            } else {
                format!("number {n}")
            }
        }
        Value::String(_) => format!("string {}", short(value)),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// The value as JSON, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_lowercase();
    candidates
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 4) && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn errs(schema: Value, value: Value) -> Vec<String> {
        match validate_arguments(&schema, &args(value)) {
            Ok(()) => Vec::new(),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn weather() -> Value {
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"],
            "additionalProperties": false
        })
    }

    #[test]
    fn a_good_call_passes() {
        assert!(
            errs(
                weather(),
                json!({"city": "Paris", "days": 3, "unit": "celsius"})
            )
            .is_empty()
        );
        assert!(errs(weather(), json!({"city": "Paris", "days": 3.0})).is_empty());
    }

    #[test]
    fn enum_errors_name_the_path_and_suggest() {
        let e = errs(weather(), json!({"city": "Paris", "unit": "kelvinn"}));
        assert_eq!(
            e,
            vec![
                "arguments.unit: expected one of [\"celsius\", \"fahrenheit\"], got \"kelvinn\""
                    .to_owned()
            ]
        );
        let e = errs(weather(), json!({"city": "Paris", "unit": "celsus"}));
        assert!(e[0].ends_with("(did you mean \"celsius\"?)"), "{e:?}");
    }

    #[test]
    fn every_error_is_reported() {
        let e = errs(
            weather(),
            json!({"days": "3", "unit": "celsius", "citty": "Paris"}),
        );
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e.contains(&"arguments: missing required property \"city\"".to_owned()));
        assert!(e.contains(&"arguments.days: expected integer, got string \"3\"".to_owned()));
        assert!(
            e.contains(
                &"arguments.citty: unknown property (allowed: city, days, unit); did you mean \"city\"?"
                    .to_owned()
            ),
            "{e:?}"
        );
    }

    #[test]
    fn integer_is_not_number_and_bounds_hold() {
        let e = errs(weather(), json!({"city": "x", "days": 2.5}));
        assert_eq!(e, vec!["arguments.days: expected integer, got number 2.5"]);
        let e = errs(weather(), json!({"city": "x", "days": 0}));
        assert_eq!(e, vec!["arguments.days: expected at least 1, got 0"]);
        let e = errs(weather(), json!({"city": "x", "days": 9}));
        assert_eq!(e, vec!["arguments.days: expected at most 7, got 9"]);
        let e = errs(weather(), json!({"city": ""}));
        assert_eq!(e, vec!["arguments.city: must not be empty"]);
    }

    #[test]
    fn nested_arrays_and_objects_have_paths() {
        let schema = json!({
            "type": "object",
            "properties": {
                "stops": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}, "nights": {"type": "integer"}},
                        "required": ["city"]
                    }
                }
            }
        });
        let e = errs(
            schema.clone(),
            json!({"stops": [{"city": "Rome"}, {"nights": 2}, {"city": 5}]}),
        );
        assert_eq!(
            e,
            vec![
                "arguments.stops[1]: missing required property \"city\"",
                "arguments.stops[2].city: expected string, got integer 5",
            ]
        );
        let e = errs(schema, json!({"stops": []}));
        assert_eq!(e, vec!["arguments.stops: expected at least 1 items, got 0"]);
    }

    #[test]
    fn nullable_const_any_of_and_type_lists() {
        let schema = json!({
            "type": "object",
            "properties": {
                "note": {"type": "string", "nullable": true},
                "version": {"const": 2},
                "limit": {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["all"]}]},
                "id": {"type": ["string", "integer"]},
                "mode": {"oneOf": [{"type": "number", "minimum": 0}, {"type": "number", "maximum": 10}]}
            }
        });
        assert!(
            errs(
                schema.clone(),
                json!({"note": null, "version": 2.0, "limit": "all", "id": 4})
            )
            .is_empty()
        );
        let e = errs(schema.clone(), json!({"version": 3}));
        assert_eq!(e, vec!["arguments.version: expected exactly 2, got 3"]);
        let e = errs(schema.clone(), json!({"limit": "some"}));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("arguments.limit: matches none of the 2 alternatives (anyOf)"),
            "{e:?}"
        );
        let e = errs(schema.clone(), json!({"id": true}));
        assert_eq!(
            e,
            vec!["arguments.id: expected one of the types string, integer, got boolean true"]
        );
        let e = errs(schema, json!({"mode": 5}));
        assert_eq!(
            e,
            vec!["arguments.mode: matches 2 alternatives of a oneOf, expected exactly one"]
        );
    }

    #[test]
    fn local_references_resolve() {
        // The shape pydantic generates: $defs, $ref, and Optional as anyOf with null.
        let schema = json!({
            "$defs": {
                "Unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "Stop": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            },
            "type": "object",
            "properties": {
                "unit": {"$ref": "#/$defs/Unit"},
                "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "loop": {"$ref": "#"},
                "lost": {"$ref": "#/$defs/Missing"}
            }
        });
        assert!(
            errs(
                schema.clone(),
                json!({"unit": "celsius", "stops": [{"city": "Rome"}], "note": null, "lost": 1})
            )
            .is_empty()
        );
        assert_eq!(
            errs(schema.clone(), json!({"unit": "kelvin", "stops": [{}]})),
            vec![
                "arguments.stops[0]: missing required property \"city\"",
                "arguments.unit: expected one of [\"celsius\", \"fahrenheit\"], got \"kelvin\"",
            ]
        );
        // A self-reference recurses only as deep as the value does.
        assert!(
            errs(
                schema.clone(),
                json!({"loop": {"loop": {"unit": "celsius"}}})
            )
            .is_empty()
        );
        assert_eq!(errs(schema, json!({"loop": {"unit": 5}})).len(), 1);
        // Alternatives over self-references would branch without end; the budget stops them.
        let hostile = json!({"anyOf": [{"$ref": "#"}, {"$ref": "#"}]});
        let e = errs(hostile, json!({"a": 1}));
        assert!(!e.is_empty() && e.len() <= 2, "{e:?}");
    }

    #[test]
    fn bfcl_type_aliases() {
        let schema = json!({
            "type": "dict",
            "properties": {"x": {"type": "float"}, "xs": {"type": "tuple", "items": {"type": "integer"}}, "y": {"type": "any"}},
            "required": ["x"]
        });
        assert!(errs(schema.clone(), json!({"x": 1, "xs": [1, 2], "y": [null]})).is_empty());
        let e = errs(schema, json!({"x": "1", "xs": [1, "2"]}));
        assert_eq!(
            e,
            vec![
                "arguments.x: expected number, got string \"1\"",
                "arguments.xs[1]: expected integer, got string \"2\"",
            ]
        );
    }

    #[test]
    fn strings_count_characters_not_bytes() {
        let schema =
            json!({"type": "object", "properties": {"c": {"type": "string", "maxLength": 2}}});
        assert!(errs(schema.clone(), json!({"c": "北京"})).is_empty());
        assert_eq!(
            errs(schema, json!({"c": "北京市"})),
            vec!["arguments.c: expected at most 2 characters, got 3"]
        );
    }

    #[test]
    fn patterns_are_searched_and_bad_patterns_ignored() {
        let schema = json!({"type": "object", "properties": {
            "date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
            "code": {"type": "string", "pattern": "[A-Z]{3}"},
            "odd": {"type": "string", "pattern": "(unclosed"}
        }});
        assert!(
            errs(
                schema.clone(),
                json!({"date": "2026-03-14", "code": "xUSDx", "odd": "z"})
            )
            .is_empty()
        );
        assert_eq!(
            errs(schema.clone(), json!({"date": "2026/03/14"})),
            vec![
                "arguments.date: expected text matching the pattern ^\\d{4}-\\d{2}-\\d{2}$, got \"2026/03/14\""
            ]
        );
        assert_eq!(errs(schema, json!({"code": "usd"})).len(), 1);
    }

    #[test]
    fn edit_distance_and_closest() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("celsus", ["celsius", "fahrenheit"].into_iter()),
            Some("celsius")
        );
        assert_eq!(closest("zzz", ["celsius", "fahrenheit"].into_iter()), None);
    }
}
