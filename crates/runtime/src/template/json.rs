//! A JSON reader for model replies (strict JSON, or relaxed: single quotes, trailing commas,
//! unquoted keys, Python's True/False/None) that reports byte offsets, and the one-line JSON
//! writer every template renders arguments with (`{"city": "Paris", "days": 3}`).

use serde_json::{Map, Value};

use super::ParseError;

/// Reads one JSON value starting at byte `start` of `text` (leading whitespace skipped).
/// Returns the value and the offset just after it. Offsets in errors are into `text`.
pub(crate) fn read_value(
    text: &str,
    start: usize,
    relaxed: bool,
) -> Result<(Value, usize), ParseError> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: start,
        relaxed,
        depth: 0,
    };
    r.skip_ws();
    let v = r.value()?;
    Ok((v, r.pos))
}

/// Reads `text[start..end]` as exactly one JSON value, nothing but whitespace around it
/// (none at all when strict).
pub(crate) fn read_exact(
    text: &str,
    start: usize,
    end: usize,
    relaxed: bool,
) -> Result<Value, ParseError> {
    let slice = &text[..end];
    if !relaxed && slice[start..].starts_with(char::is_whitespace) {
        return Err(ParseError::at(
            text,
            start,
            "whitespace before the JSON value",
        ));
    }
    let (v, after) = read_value(slice, start, relaxed)?;
    let rest = &slice[after..];
    let trimmed = rest.trim_start();
    if !trimmed.is_empty() || (!relaxed && !rest.is_empty()) {
        let at = if trimmed.is_empty() {
            after
        } else {
            end - trimmed.len()
        };
        return Err(ParseError::at(text, at, "text after the JSON value").expected(text, "nothing"));
    }
    Ok(v)
}

const MAX_DEPTH: usize = 128;

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    relaxed: bool,
    depth: usize,
}

impl Reader<'_> {
    fn err(&self, message: &str, expected: &str) -> ParseError {
        ParseError::at(self.text, self.pos, message).expected(self.text, expected)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.err("the JSON value is cut short", "a JSON value")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string(b'"')?)),
            Some(b'\'') if self.relaxed => Ok(Value::String(self.string(b'\'')?)),
            Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let word = self.word();
                let v = match word {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    "null" => Some(Value::Null),
                    "True" if self.relaxed => Some(Value::Bool(true)),
                    "False" if self.relaxed => Some(Value::Bool(false)),
                    "None" if self.relaxed => Some(Value::Null),
                    _ => None,
                };
                match v {
                    Some(v) => {
                        self.pos += word.len();
                        Ok(v)
                    }
                    None => Err(self.err("not a JSON value", "a JSON value")),
                }
            }
        }
    }

    /// The identifier-like word at the cursor (not consumed).
    fn word(&self) -> &str {
        let rest = &self.text[self.pos..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("JSON nested too deeply", "at most 128 levels"));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        self.pos += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            let key = match self.peek() {
                Some(b'"') => self.string(b'"')?,
                Some(b'\'') if self.relaxed => self.string(b'\'')?,
                Some(b'}') if self.relaxed && !map.is_empty() => {
                    // Trailing comma.
                    self.pos += 1;
                    break;
                }
                Some(c) if self.relaxed && (c.is_ascii_alphabetic() || c == b'_') => {
                    let w = self.word().to_owned();
                    self.pos += w.len();
                    w
                }
                _ => return Err(self.err("bad object key", "a quoted key")),
            };
            self.skip_ws();
            if self.peek() == Some(b':') {
                self.pos += 1;
            } else if self.relaxed && self.text[self.pos..].starts_with('：') {
                // The full-width colon of Chinese text.
                self.pos += '：'.len_utf8();
            } else {
                return Err(self.err("missing `:` after an object key", "`:`"));
            }
            self.skip_ws();
            let v = self.value()?;
            if map.contains_key(&key) && !self.relaxed {
                return Err(self.err(&format!("duplicate key `{key}`"), "unique keys"));
            }
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("the JSON object is not closed", "`,` or `}`")),
                _ => return Err(self.err("bad JSON object", "`,` or `}`")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    fn array(&mut self) -> Result<Value, ParseError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            if self.relaxed && self.peek() == Some(b']') && !items.is_empty() {
                self.pos += 1;
                break;
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.err("the JSON array is not closed", "`,` or `]`")),
                _ => return Err(self.err("bad JSON array", "`,` or `]`")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        let slice = &self.text[start..self.pos];
        match serde_json::from_str::<Value>(slice) {
            Ok(v @ Value::Number(_)) => Ok(v),
            _ => {
                self.pos = start;
                Err(self.err("bad JSON number", "a number"))
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                self.pos = open;
                return Err(self.err("the JSON string is not closed", "a closing quote"));
            };
            match c {
                c if c as u32 == quote as u32 => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    self.pos += 1;
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        return Err(self.err("the JSON string is not closed", "an escape"));
                    };
                    self.pos += e.len_utf8();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '\'' if self.relaxed => out.push('\''),
                        'u' => out.push(self.unicode_escape()?),
                        _ => {
                            self.pos -= e.len_utf8() + 1;
                            return Err(self.err("bad escape in a JSON string", "a JSON escape"));
                        }
                    }
                }
                c if (c as u32) < 0x20 && !self.relaxed => {
                    return Err(self.err(
                        "raw control character in a JSON string",
                        "an escaped character",
                    ));
                }
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + 4).unwrap_or("");
        match u32::from_str_radix(digits, 16) {
            Ok(v) if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) => {
                self.pos += 4;
                Ok(v)
            }
            _ => Err(self.err("bad \\u escape", "four hex digits")),
        }
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.text[self.pos..].starts_with("\\u") {
                self.pos += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return char::from_u32(c)
                        .ok_or_else(|| self.err("bad surrogate pair", "a character"));
                }
            }
            return Err(self.err("unpaired surrogate in \\u escape", "a low surrogate"));
        }
        char::from_u32(hi).ok_or_else(|| self.err("bad \\u escape", "a character"))
    }
}

/// One-line JSON with a space after `:` and `,` (`{"a": 1, "b": [true, null]}`), object keys
/// in the map's order; strings keep non-ASCII characters as they are.
pub(crate) fn inline(value: &Value) -> String {
    let mut out = String::new();
    write_inline(value, &mut out);
    out
}

fn write_inline(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push_str(": ");
                write_inline(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_inline(v, out);
            }
            out.push(']');
        }
        Value::String(s) => out.push_str(&quote(s)),
        other => out.push_str(&other.to_string()),
    }
}

/// A JSON string literal.
pub(crate) fn quote(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// One-line JSON of an object given as ordered pairs.
pub(crate) fn inline_pairs(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quote(k));
        out.push_str(": ");
        write_inline(v, &mut out);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict(s: &str) -> Result<Value, ParseError> {
        read_exact(s, 0, s.len(), false)
    }

    fn relaxed(s: &str) -> Result<Value, ParseError> {
        read_exact(s, 0, s.len(), true)
    }

    #[test]
    fn strict_reads_standard_json() {
        let v =
            strict(r#"{"a": [1, 2.5, -3e2], "b": "x\n\u00e9\ud83d\ude00", "c": null, "d": true}"#)
                .unwrap();
        assert_eq!(
            v,
            json!({"a": [1, 2.5, -300.0], "b": "x\né😀", "c": null, "d": true})
        );
        assert_eq!(strict("{}").unwrap(), json!({}));
    }

    #[test]
    fn strict_refuses_relaxed_forms_with_positions() {
        let e = strict("{'a': 1}").unwrap_err();
        assert_eq!(e.offset, 1);
        let e = strict(r#"{"a": 1,}"#).unwrap_err();
        assert_eq!(e.offset, 8, "{e}");
        assert!(strict(r#"{"a": True}"#).is_err());
        assert!(strict(r#"{"a": 1} x"#).is_err());
        assert!(strict(" {}").is_err());
        assert!(strict("{\"a\": \"x\ny\"}").is_err());
        let e = strict(r#"{"a": 1"#).unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
        assert!(strict(r#"{"a": 1, "a": 2}"#).is_err());
    }

    #[test]
    fn relaxed_reads_what_models_write() {
        assert_eq!(
            relaxed("{'a': 'it\\'s', b: [1, 2,], 'c'： None, 'd': True,}").unwrap(),
            json!({"a": "it's", "b": [1, 2], "c": null, "d": true})
        );
        assert_eq!(relaxed("  {\"a\": 1}\n").unwrap(), json!({"a": 1}));
        let (v, end) = read_value("{\"a\": 1} and more", 0, true).unwrap();
        assert_eq!((v, end), (json!({"a": 1}), 8));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "[".repeat(10_000);
        assert!(relaxed(&s).is_err());
    }

    #[test]
    fn inline_writes_python_style_spacing() {
        let v = json!({"b": [1, {"x": null}], "a": "东京 \"q\""});
        assert_eq!(inline(&v), r#"{"a": "东京 \"q\"", "b": [1, {"x": null}]}"#);
        assert_eq!(strict(&inline(&v)).unwrap(), v);
    }
}
