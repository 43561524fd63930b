//! The BFCL AST checker: decides whether a model's decoded calls match a test case's possible
//! answers, following the rules of BFCL's published checker (gorilla `ast_checker.py`):
//!
//! - the function name must match (optionally with `.` written as `_`, as BFCL does for
//!   endpoints that forbid dots in names);
//! - every required parameter must be present, and every given parameter must be both
//!   declared and listed in the possible answer;
//! - each value must have the declared type (Python `bool` is not `int`; an `int` is widened
//!   to `float` for Python functions; Java and JavaScript values are strings in that
//!   language's syntax, converted by the declared type first); a value of the possible
//!   answer's own type counts as a variable name and is compared as is;
//! - strings, and strings inside lists and dicts, are compared after normalisation (spaces and
//!   `,./-_*^` removed, lower case, `'` as `"`);
//! - a parameter left out must have `""` among its possible values (optional);
//! - parallel calls match in any order (each possible answer, in order, takes the first
//!   unmatched call that passes), and the number of calls must match.

use serde_json::Value;

use super::java;
use super::js;
use super::pyvalue::{Py, PyType};

/// The language a test case's functions are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python (and every live category).
    Python,
    /// Java: values are Java source strings.
    Java,
    /// JavaScript: values are JavaScript source strings.
    #[serde(rename = "javascript")]
    JavaScript,
}

/// One decoded call of the model: the function name and its arguments in the order given.
#[derive(Debug, Clone)]
pub struct ModelCall {
    /// The function called.
    pub name: String,
    /// Argument name and value.
    pub args: Vec<(String, Py)>,
}

/// One call of a possible answer: the function and, per parameter, the list of accepted
/// values (`""` among them marks the parameter optional).
#[derive(Debug, Clone)]
pub struct GoldCall {
    /// The function expected.
    pub name: String,
    /// Parameter name and its accepted values (a list, as BFCL writes it).
    pub params: Vec<(String, Py)>,
}

impl GoldCall {
    fn get(&self, param: &str) -> Option<&Py> {
        self.params.iter().find(|(k, _)| k == param).map(|(_, v)| v)
    }
}

/// Options that change how names are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Expect `.` in function names written as `_` (BFCL's `underscore_to_dot` models, whose
    /// APIs allow only `[a-zA-Z0-9_-]` in names).
    pub dots_as_underscores: bool,
}

/// The checker's decision on one test case.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// Whether the calls pass.
    pub valid: bool,
    /// BFCL's error class (`simple_function_checker:missing_required`, `type_error:simple`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_type: String,
    /// What is wrong, in words (empty when valid).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl Check {
    /// A pass.
    pub fn pass() -> Self {
        Self {
            valid: true,
            error_type: String::new(),
            error: String::new(),
        }
    }

    /// A failure of class `error_type`.
    pub fn fail(error_type: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            valid: false,
            error_type: error_type.into(),
            error: error.into(),
        }
    }
}

/// The kind of checking a category gets, from its name as BFCL decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Exactly one call to the one function.
    Simple,
    /// One call, chosen among several functions.
    Multiple,
    /// Several calls, in any order.
    Parallel,
}

impl Shape {
    /// BFCL's dispatch: `parallel` in the name first, then `multiple`, else simple.
    pub fn of_category(category: &str) -> Shape {
        if category.contains("parallel") {
            Shape::Parallel
        } else if category.contains("multiple") {
            Shape::Multiple
        } else {
            Shape::Simple
        }
    }
}

/// Checks the decoded `calls` of one test case against its possible `answers`, given the
/// function documents offered (`functions`, BFCL's `function` field).
pub fn check_calls(
    functions: &[Value],
    calls: &[ModelCall],
    answers: &[GoldCall],
    language: Language,
    shape: Shape,
    options: CheckOptions,
) -> Check {
    match shape {
        Shape::Parallel => parallel_no_order(functions, calls, answers, language, options),
        Shape::Multiple => {
            if calls.len() != answers.len() {
                return Check::fail(
                    "multiple_function_checker:wrong_count",
                    "Wrong number of functions.",
                );
            }
            let Some(expected) = answers.first() else {
                return Check::pass();
            };
            match find_description(functions, &expected.name) {
                Some(doc) => simple(doc, &calls[0], expected, language, options),
                None => no_description(&expected.name),
            }
        }
        Shape::Simple => {
            if calls.len() != 1 {
                return Check::fail(
                    "simple_function_checker:wrong_count",
                    "Wrong number of functions.",
                );
            }
            match (functions.first(), answers.first()) {
                (Some(doc), Some(expected)) => simple(doc, &calls[0], expected, language, options),
                _ => Check::fail(
                    "checker:bad_test_case",
                    "the test case has no function or no possible answer",
                ),
            }
        }
    }
}

fn no_description(name: &str) -> Check {
    Check::fail(
        "checker:bad_test_case",
        format!("no function document named {name:?} in the test case"),
    )
}

fn find_description<'a>(functions: &'a [Value], name: &str) -> Option<&'a Value> {
    functions
        .iter()
        .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
}

fn parallel_no_order(
    functions: &[Value],
    calls: &[ModelCall],
    answers: &[GoldCall],
    language: Language,
    options: CheckOptions,
) -> Check {
    if calls.len() != answers.len() {
        return Check::fail(
            "parallel_function_checker_no_order:wrong_count",
            "Wrong number of functions.",
        );
    }
    let mut matched = vec![false; calls.len()];
    for (i, expected) in answers.iter().enumerate() {
        let Some(doc) = find_description(functions, &expected.name) else {
            return no_description(&expected.name);
        };
        let mut errors = Vec::new();
        let mut found = false;
        for (index, call) in calls.iter().enumerate() {
            if matched[index] {
                continue;
            }
            let result = simple(doc, call, expected, language, options);
            if result.valid {
                matched[index] = true;
                found = true;
                break;
            }
            errors.push(format!("model call {index}: {}", result.error));
        }
        if !found {
            let open: Vec<usize> = (0..calls.len()).filter(|&k| !matched[k]).collect();
            return Check::fail(
                "parallel_function_checker_no_order:cannot_find_match",
                format!(
                    "Could not find a matching function among index {open:?} of model output for index {i} of possible answers. {}",
                    errors.join(" ")
                ),
            );
        }
    }
    Check::pass()
}

/// BFCL's `standardize_string`: drop spaces and `,./-_*^`, lower-case, `'` to `"`.
pub fn standardize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

fn standardize_py(v: &Py) -> Py {
    match v {
        Py::Str(s) => Py::Str(standardize(s)),
        other => other.clone(),
    }
}

fn py_type_of_python(desc: &str) -> Option<PyType> {
    Some(match desc {
        "string" | "any" => PyType::Str,
        "integer" => PyType::Int,
        "float" => PyType::Float,
        "boolean" => PyType::Bool,
        "array" | "tuple" => PyType::List,
        "dict" => PyType::Dict,
        _ => return None,
    })
}

fn type_name(t: PyType) -> &'static str {
    t.name()
}

fn simple(
    doc: &Value,
    call: &ModelCall,
    expected: &GoldCall,
    language: Language,
    options: CheckOptions,
) -> Check {
    let Some(mut func_name) = doc.get("name").and_then(Value::as_str).map(str::to_owned) else {
        return Check::fail("checker:bad_test_case", "a function document has no name");
    };
    if options.dots_as_underscores {
        func_name = func_name.replace('.', "_");
    }
    if call.name != func_name {
        return Check::fail(
            "simple_function_checker:wrong_func_name",
            format!(
                "Function name {} not found in model output.",
                Py::Str(func_name)
            ),
        );
    }
    let empty = serde_json::Map::new();
    let params = doc.get("parameters");
    let details = params
        .and_then(|p| p.get("properties"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = params
        .and_then(|p| p.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let given = |p: &str| call.args.iter().any(|(k, _)| k == p);

    for p in &required {
        if !given(p) {
            return Check::fail(
                "simple_function_checker:missing_required",
                format!("Missing required parameter: {}.", Py::Str((*p).to_owned())),
            );
        }
    }

    for (param, value) in &call.args {
        let (Some(detail), Some(possible)) = (details.get(param), expected.get(param)) else {
            return Check::fail(
                "simple_function_checker:unexpected_param",
                format!("Unexpected parameter: {}.", Py::Str(param.clone())),
            );
        };
        let Some(desc) = detail.get("type").and_then(Value::as_str) else {
            return Check::fail(
                "checker:bad_test_case",
                format!("parameter {param:?} has no type in the function document"),
            );
        };
        let item_type = || {
            detail
                .get("items")
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
        };
        let mut value = value.clone();
        let expected_type: PyType;
        let mut nested_type: Option<PyType> = None;
        match language {
            Language::Java | Language::JavaScript => {
                let (lookup, tag): (fn(&str) -> Option<PyType>, &str) = match language {
                    Language::Java => (java::java_type, "java"),
                    _ => (js::js_type, "js"),
                };
                let Some(t) = lookup(desc) else {
                    return unsupported(desc);
                };
                expected_type = t;
                let Py::Str(text) = &value else {
                    return Check::fail(
                        format!("type_error:{tag}"),
                        format!(
                            "Incorrect type for parameter {}. Expected type String, got {}. Parameter value: {value}.",
                            Py::Str(param.clone()),
                            value.ty().name()
                        ),
                    );
                };
                let nested_list = match language {
                    Language::Java => matches!(desc, "Array" | "ArrayList"),
                    _ => desc == "array",
                };
                let converted = if nested_list {
                    let Some(nested) = item_type() else {
                        return Check::fail(
                            "checker:bad_test_case",
                            format!("list parameter {param:?} has no item type"),
                        );
                    };
                    let Some(nt) = lookup(nested) else {
                        return unsupported(nested);
                    };
                    nested_type = Some(nt);
                    match language {
                        Language::Java => java::convert(text, desc, Some(nested)),
                        _ => js::convert(text, desc, Some(nested)),
                    }
                } else {
                    match language {
                        Language::Java => java::convert(text, desc, None),
                        _ => js::convert(text, desc, None),
                    }
                };
                match converted {
                    Ok(v) => value = v,
                    Err(e) => return Check::fail("checker:unsupported_type", e),
                }
            }
            Language::Python => {
                let Some(t) = py_type_of_python(desc) else {
                    return unsupported(desc);
                };
                expected_type = t;
                if matches!(desc, "array" | "tuple") {
                    let Some(nested) = item_type() else {
                        return Check::fail(
                            "checker:bad_test_case",
                            format!("list parameter {param:?} has no item type"),
                        );
                    };
                    let Some(nt) = py_type_of_python(nested) else {
                        return unsupported(nested);
                    };
                    nested_type = Some(nt);
                }
                // Python widens an int to a float.
                if desc == "float"
                    && let Py::Int(i) = value
                {
                    value = Py::Float(i as f64);
                }
            }
        }

        let tc = type_checker(param, &value, possible, desc, expected_type, nested_type);
        if !tc.check.valid {
            return tc.check;
        }
        if !tc.is_variable {
            let special = match (expected_type, &value) {
                (PyType::Dict, Py::Dict(d)) => Some(dict_checker(d, possible)),
                (PyType::List, Py::List(l)) if nested_type == Some(PyType::Dict) => {
                    Some(list_dict_checker(l, possible))
                }
                (PyType::Str, Py::Str(s)) => Some(string_checker(param, s, possible)),
                (PyType::List, Py::List(l)) => Some(list_checker(param, l, possible)),
                _ => None,
            };
            if let Some(result) = special {
                if !result.valid {
                    return result;
                }
                continue;
            }
        }
        if !possible.contains(&value) {
            return Check::fail(
                "value_error:others",
                format!(
                    "Invalid value for parameter {}: {value}. Expected one of {possible}.",
                    Py::Str(param.clone())
                ),
            );
        }
    }

    for (param, possible) in &expected.params {
        if !given(param) && !possible.contains(&Py::Str(String::new())) {
            return Check::fail(
                "simple_function_checker:missing_optional",
                format!(
                    "Optional parameter {} not provided and not marked as optional.",
                    Py::Str(param.clone())
                ),
            );
        }
    }
    Check::pass()
}

fn unsupported(desc: &str) -> Check {
    Check::fail(
        "checker:unsupported_type",
        format!("Unsupported type: {desc}"),
    )
}

struct TypeCheck {
    check: Check,
    is_variable: bool,
}

/// The type of the first possible value that is not `""` (optional marker).
fn possible_answer_type(possible: &Py) -> Option<PyType> {
    possible
        .iter_items()?
        .iter()
        .find(|a| !a.is_empty_str())
        .map(|a| a.ty())
}

fn type_checker(
    param: &str,
    value: &Py,
    possible: &Py,
    desc: &str,
    expected: PyType,
    nested: Option<PyType>,
) -> TypeCheck {
    let pa_type = possible_answer_type(possible);
    let is_variable = pa_type.is_some_and(|t| t != expected);
    let mut failure: Option<Check> = None;
    if value.ty() == expected {
        let Some(nested) = nested else {
            return TypeCheck {
                check: Check::pass(),
                is_variable,
            };
        };
        for item in possible.iter_items().unwrap_or_default().iter() {
            let mut ok = true;
            if let (Py::List(_), Py::List(values)) = (item, value) {
                for v in values {
                    let inner = type_checker(param, v, item, type_name(nested), nested, None);
                    if !inner.check.valid {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                return TypeCheck {
                    check: Check::pass(),
                    is_variable,
                };
            }
        }
        failure = Some(Check::fail(
            "type_error:nested",
            format!(
                "Nested type checking failed for parameter {}. Expected outer type {desc} with inner type {}. Parameter value: {value}.",
                Py::Str(param.to_owned()),
                type_name(nested)
            ),
        ));
    }
    if pa_type == Some(value.ty()) {
        // A value of the possible answer's own type is taken as a variable name (after a
        // failed nested check, BFCL keeps the failure).
        return TypeCheck {
            check: failure.unwrap_or_else(Check::pass),
            is_variable: true,
        };
    }
    TypeCheck {
        check: failure.unwrap_or_else(|| {
            Check::fail(
                "type_error:simple",
                format!(
                    "Incorrect type for parameter {}. Expected type {desc}, got {}. Parameter value: {value}.",
                    Py::Str(param.to_owned()),
                    value.ty().name()
                ),
            )
        }),
        is_variable: false,
    }
}

fn string_checker(param: &str, value: &str, possible: &Py) -> Check {
    let wanted = standardize(value);
    let ok = possible
        .iter_items()
        .unwrap_or_default()
        .iter()
        .any(|a| a.as_str().is_some_and(|s| standardize(s) == wanted));
    if ok {
        Check::pass()
    } else {
        Check::fail(
            "value_error:string",
            format!(
                "Invalid value for parameter {}: {}. Expected one of {possible}. Case insensitive.",
                Py::Str(param.to_owned()),
                Py::Str(value.to_owned())
            ),
        )
    }
}

fn list_checker(param: &str, value: &[Py], possible: &Py) -> Check {
    let model = Py::List(value.iter().map(standardize_py).collect());
    let ok = possible.iter_items().unwrap_or_default().iter().any(|a| {
        a.iter_items().is_some_and(|items| {
            super::pyvalue::py_eq(
                &model,
                &Py::List(items.iter().map(standardize_py).collect()),
            )
        })
    });
    if ok {
        Check::pass()
    } else {
        Check::fail(
            "value_error:list/tuple",
            format!(
                "Invalid value for parameter {}: {}. Expected one of {possible}.",
                Py::Str(param.to_owned()),
                Py::List(value.to_vec())
            ),
        )
    }
}

fn dict_checker(value: &[(String, Py)], possibles: &Py) -> Check {
    let mut result = Check::fail("dict_checker:unclear", "");
    for answer in possibles.iter_items().unwrap_or_default().iter() {
        if answer.is_empty_str() {
            continue;
        }
        result = Check::fail("dict_checker:unclear", "");
        let mut ok = true;
        for (key, v) in value {
            if !answer.contains(&Py::Str(key.clone())) {
                result = Check::fail(
                    "value_error:dict_key",
                    format!("Unexpected dict key parameter: '{key}'."),
                );
                ok = false;
                break;
            }
            let accepted: Vec<Py> = answer
                .get(key)
                .and_then(Py::iter_items)
                .unwrap_or_default()
                .iter()
                .map(standardize_py)
                .collect();
            let sv = standardize_py(v);
            if !accepted.iter().any(|a| super::pyvalue::py_eq(a, &sv)) {
                result = Check::fail(
                    "value_error:dict_value",
                    format!(
                        "Invalid value for parameter {}: {v}. Expected one of {}.",
                        Py::Str(key.clone()),
                        Py::List(accepted)
                    ),
                );
                ok = false;
                break;
            }
        }
        match answer {
            Py::Dict(entries) => {
                for (key, accepted) in entries {
                    let present = value.iter().any(|(k, _)| k == key);
                    if !present && !accepted.contains(&Py::Str(String::new())) {
                        result = Check::fail(
                            "value_error:dict_key",
                            format!("Missing dict key parameter: '{key}'."),
                        );
                        ok = false;
                        break;
                    }
                }
            }
            _ => {
                result = Check::fail("dict_checker:unclear", "the possible answer is not a dict");
                ok = false;
            }
        }
        if ok {
            return Check::pass();
        }
    }
    result
}

fn list_dict_checker(value: &[Py], possibles: &Py) -> Check {
    let mut result = Check::fail("list_dict_checker:unclear", "");
    for answer in possibles.iter_items().unwrap_or_default().iter() {
        let mut ok = true;
        let Some(n) = answer.py_len() else {
            result = Check::fail(
                "list_dict_checker:unclear",
                "the possible answer is not a list",
            );
            continue;
        };
        if value.len() != n {
            result = Check::fail(
                "value_error:list_dict_count",
                "Wrong number of dictionaries in the list.",
            );
            continue;
        }
        let items = answer.iter_items().unwrap_or_default();
        for (v, a) in value.iter().zip(items.iter()) {
            result = match v {
                Py::Dict(d) => dict_checker(d, &Py::List(vec![a.clone()])),
                _ => Check::fail("value_error:dict_value", format!("{v} is not a dict")),
            };
            if !result.valid {
                ok = false;
                break;
            }
        }
        if ok {
            return Check::pass();
        }
    }
    result
}
