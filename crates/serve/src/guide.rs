//! Guided decoding of one JSON value: a character-level checker that says whether a piece of
//! text can continue the value so far, under a JSON Schema subset (object `properties` and
//! `required`, `type`, `enum` of strings, array `items`). The engine uses it to enforce
//! `tool_choice` (`required` or a named function): among the tokens the model ranks highest
//! it takes the first that keeps the arguments valid, and the value ends generation once it
//! is complete.

use std::sync::Arc;

use serde_json::Value;

/// What generation must produce, and the text that follows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideSpec {
    /// The schema of the value (a JSON Schema subset; `{}` allows any JSON).
    pub schema: Value,
    /// Text appended after the value is complete (closing a call block).
    pub suffix: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Frame {
    /// Inside an object; `expect` is what comes next.
    Object {
        schema: Option<Arc<Value>>,
        used: Vec<String>,
        key: Option<String>,
        expect: ObjExpect,
    },
    /// Inside an array.
    Array {
        items: Option<Arc<Value>>,
        expect: ArrExpect,
    },
    /// Inside a string (a key when `key`).
    Str {
        buf: String,
        escape: u8,
        allowed: Option<Vec<String>>,
        key: bool,
    },
    /// Inside a number.
    Num { buf: String, integer: bool },
    /// Inside `true`, `false` or `null`: the characters still to come.
    Lit { rest: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjExpect {
    KeyOrClose,
    Key,
    Colon,
    Value,
    CommaOrClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrExpect {
    ValueOrClose,
    Value,
    CommaOrClose,
}

/// The checker's state; cheap to clone.
#[derive(Debug, Clone, PartialEq)]
pub struct Guide {
    stack: Vec<Frame>,
    root: Option<Arc<Value>>,
    started: bool,
    done: bool,
    spaces: u8,
}

const MAX_NUMBER: usize = 24;

fn kinds(schema: Option<&Value>) -> Vec<&str> {
    match schema.and_then(|s| s.get("type")) {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn sub(schema: Option<&Value>, path: &[&str]) -> Option<Arc<Value>> {
    let mut v = schema?;
    for p in path {
        v = v.get(*p)?;
    }
    v.is_object().then(|| Arc::new(v.clone()))
}

impl Guide {
    /// A checker for one value of `schema`.
    pub fn new(schema: &Value) -> Self {
        Self {
            stack: Vec::new(),
            root: schema.is_object().then(|| Arc::new(schema.clone())),
            started: false,
            done: false,
            spaces: 0,
        }
    }

    /// Whether the value is complete.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether `text` can follow (without changing the state).
    pub fn accepts(&self, text: &str) -> bool {
        if text.is_empty() {
            return false;
        }
        let mut g = self.clone();
        g.feed(text)
    }

    /// Feeds `text`; false (state unspecified) when it cannot follow.
    pub fn feed(&mut self, text: &str) -> bool {
        text.chars().all(|c| self.push(c))
    }

    fn push(&mut self, c: char) -> bool {
        if self.done {
            return false;
        }
        let Some(top) = self.stack.last_mut() else {
            if self.started {
                return false;
            }
            if c == ' ' {
                return self.space();
            }
            self.started = true;
            let root = self.root.clone();
            return self.open_value(c, root.as_deref());
        };
        match top {
            Frame::Str {
                buf,
                escape,
                allowed,
                key,
            } => {
                if *escape > 0 {
                    let ok = if *escape == 1 {
                        if c == 'u' {
                            *escape = 5;
                            true
                        } else {
                            *escape = 0;
                            "\"\\/bfnrt".contains(c)
                        }
                    } else {
                        *escape -= 1;
                        if *escape == 1 {
                            *escape = 0;
                        }
                        c.is_ascii_hexdigit()
                    };
                    buf.push(c);
                    return ok && allowed.is_none();
                }
                match c {
                    '"' => {
                        if let Some(a) = allowed
                            && !a.iter().any(|x| x == buf)
                        {
                            return false;
                        }
                        let (text, is_key) = (std::mem::take(buf), *key);
                        self.stack.pop();
                        if is_key {
                            if let Some(Frame::Object { key, expect, .. }) = self.stack.last_mut() {
                                *key = Some(text);
                                *expect = ObjExpect::Colon;
                            }
                            true
                        } else {
                            self.value_done()
                        }
                    }
                    '\\' => {
                        *escape = 1;
                        buf.push(c);
                        allowed.is_none()
                    }
                    c if (c as u32) < 0x20 => false,
                    c => {
                        buf.push(c);
                        match allowed {
                            Some(a) => a.iter().any(|x| x.starts_with(buf.as_str())),
                            None => true,
                        }
                    }
                }
            }
            Frame::Num { buf, integer } => {
                let numeric = c.is_ascii_digit() || "+-.eE".contains(c);
                if numeric {
                    buf.push(c);
                    return buf.len() <= MAX_NUMBER && number_prefix(buf, *integer);
                }
                if !number_complete(buf, *integer) {
                    return false;
                }
                self.stack.pop();
                self.value_done() && self.push(c)
            }
            Frame::Lit { rest } => {
                if !rest.starts_with(c) {
                    return false;
                }
                *rest = &rest[c.len_utf8()..];
                if rest.is_empty() {
                    self.stack.pop();
                    return self.value_done();
                }
                true
            }
            Frame::Object {
                schema,
                used,
                key,
                expect,
            } => {
                if c == ' ' {
                    return self.space();
                }
                self.spaces = 0;
                match (*expect, c) {
                    (ObjExpect::KeyOrClose | ObjExpect::Key, '"') => {
                        let props = schema
                            .as_deref()
                            .and_then(|s| s.get("properties"))
                            .and_then(Value::as_object);
                        let allowed = props.map(|p| {
                            p.keys()
                                .filter(|k| !used.contains(k))
                                .cloned()
                                .collect::<Vec<_>>()
                        });
                        if allowed.as_ref().is_some_and(Vec::is_empty) {
                            return false;
                        }
                        self.stack.push(Frame::Str {
                            buf: String::new(),
                            escape: 0,
                            allowed,
                            key: true,
                        });
                        true
                    }
                    (ObjExpect::KeyOrClose | ObjExpect::CommaOrClose, '}') => {
                        let required: Vec<&str> = schema
                            .as_deref()
                            .and_then(|s| s.get("required"))
                            .and_then(Value::as_array)
                            .map(|r| r.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        if !required.iter().all(|r| used.iter().any(|u| u == r)) {
                            return false;
                        }
                        self.stack.pop();
                        self.value_done()
                    }
                    (ObjExpect::Colon, ':') => {
                        *expect = ObjExpect::Value;
                        true
                    }
                    (ObjExpect::CommaOrClose, ',') => {
                        let props = schema
                            .as_deref()
                            .and_then(|s| s.get("properties"))
                            .and_then(Value::as_object);
                        if props.is_some_and(|p| p.keys().all(|k| used.contains(k))) {
                            return false;
                        }
                        *expect = ObjExpect::Key;
                        true
                    }
                    (ObjExpect::Value, c) => {
                        let k = key.take().unwrap_or_default();
                        let child = schema
                            .as_deref()
                            .and_then(|s| s.get("properties"))
                            .and_then(|p| p.get(&k))
                            .filter(|v| v.is_object())
                            .map(|v| Arc::new(v.clone()));
                        used.push(k);
                        *expect = ObjExpect::CommaOrClose;
                        self.open_value(c, child.as_deref())
                    }
                    _ => false,
                }
            }
            Frame::Array { items, expect } => {
                if c == ' ' {
                    return self.space();
                }
                self.spaces = 0;
                match (*expect, c) {
                    (ArrExpect::ValueOrClose | ArrExpect::CommaOrClose, ']') => {
                        self.stack.pop();
                        self.value_done()
                    }
                    (ArrExpect::CommaOrClose, ',') => {
                        *expect = ArrExpect::Value;
                        true
                    }
                    (ArrExpect::ValueOrClose | ArrExpect::Value, c) => {
                        let child = items.clone();
                        *expect = ArrExpect::CommaOrClose;
                        self.open_value(c, child.as_deref())
                    }
                    _ => false,
                }
            }
        }
    }

    /// One space between tokens of the structure; never two in a row.
    fn space(&mut self) -> bool {
        self.spaces += 1;
        self.spaces <= 1
    }

    /// A value finished: the enclosing container goes on, or the whole value is done.
    fn value_done(&mut self) -> bool {
        if self.stack.is_empty() {
            self.done = true;
        }
        true
    }

    /// Starts a value of `schema` with `c`.
    fn open_value(&mut self, c: char, schema: Option<&Value>) -> bool {
        self.spaces = 0;
        let ks = kinds(schema);
        let any = ks.is_empty();
        let allows = |k: &str| any || ks.contains(&k);
        let enum_strings: Option<Vec<String>> = schema
            .and_then(|s| s.get("enum"))
            .and_then(Value::as_array)
            .and_then(|e| e.iter().map(|v| v.as_str().map(str::to_owned)).collect());
        match c {
            '"' if allows("string") || enum_strings.is_some() => {
                self.stack.push(Frame::Str {
                    buf: String::new(),
                    escape: 0,
                    allowed: enum_strings,
                    key: false,
                });
                true
            }
            _ if enum_strings.is_some() => false,
            '{' if allows("object") => {
                self.stack.push(Frame::Object {
                    schema: schema.map(|s| Arc::new(s.clone())),
                    used: Vec::new(),
                    key: None,
                    expect: ObjExpect::KeyOrClose,
                });
                true
            }
            '[' if allows("array") => {
                self.stack.push(Frame::Array {
                    items: sub(schema, &["items"]),
                    expect: ArrExpect::ValueOrClose,
                });
                true
            }
            '-' | '0'..='9' if allows("number") || allows("integer") => {
                let integer = !any && !ks.contains(&"number");
                self.stack.push(Frame::Num {
                    buf: c.to_string(),
                    integer,
                });
                true
            }
            't' | 'f' if allows("boolean") => {
                self.stack.push(Frame::Lit {
                    rest: if c == 't' { "rue" } else { "alse" },
                });
                true
            }
            'n' if allows("null") => {
                self.stack.push(Frame::Lit { rest: "ull" });
                true
            }
            _ => false,
        }
    }
}

/// Whether `s` can begin a JSON number (an integer when `integer`).
fn number_prefix(s: &str, integer: bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i = 1;
    }
    if i == b.len() {
        return true;
    }
    if b[i] == b'0' {
        i += 1;
    } else if b[i].is_ascii_digit() {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    } else {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if b[i] == b'.' {
        if integer {
            return false;
        }
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == b.len() {
            return true;
        }
        if i == start {
            return false;
        }
    }
    if b[i] == b'e' || b[i] == b'E' {
        if integer {
            return false;
        }
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    i == b.len()
}

/// Whether `s` is a whole JSON number.
fn number_complete(s: &str, integer: bool) -> bool {
    number_prefix(s, integer)
        && s.as_bytes().last().is_some_and(u8::is_ascii_digit)
        && serde_json::from_str::<Value>(s).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn weather() -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
            "unit": {"enum": ["c", "f"]}}, "required": ["city"]})
    }

    #[test]
    fn valid_arguments_pass_whatever_the_token_cuts() {
        let text = r#"{"city": "Oslo \"N\"", "days": 3, "unit": "c"}"#;
        for cut in 1..text.len() {
            let mut g = Guide::new(&weather());
            assert!(g.feed(&text[..cut]), "{}", &text[..cut]);
            assert!(!g.is_done());
            assert!(g.feed(&text[cut..]));
            assert!(g.is_done());
            assert!(!g.accepts("x"), "nothing may follow the value");
        }
    }

    #[test]
    fn the_schema_limits_keys_types_enums_and_required() {
        let g = Guide::new(&weather());
        assert!(!g.accepts("{\"type\""), "unknown key");
        assert!(!g.accepts("{}"), "city is required");
        assert!(!g.accepts("{\"city\": 3"), "city is a string");
        assert!(
            !g.accepts("{\"city\": \"a\", \"days\": 1.5"),
            "days is an integer"
        );
        assert!(
            !g.accepts("{\"city\": \"a\", \"unit\": \"k"),
            "unit is c or f"
        );
        assert!(!g.accepts("{\"city\": \"a\", \"city\""), "keys once");
        assert!(!g.accepts("{  \"city\""), "one space at most");
        assert!(g.accepts("{\"city\": \"a\"}"));
        let any = Guide::new(&json!({}));
        let mut g = any.clone();
        assert!(g.feed(r#"{"a": [1, -2.5e3, true, null, {"b": "c"}], "d": false}"#));
        assert!(g.is_done());
        assert!(!any.accepts("{\"a\": 01"));
        assert!(!any.accepts("{\"a\": \"x\ny\"}"), "raw newline in a string");
    }
}
