//! A reader for Python literals (dicts, lists, tuples, strings in either quote, numbers,
//! `True`/`False`/`None`), which some data sets embed where JSON was meant (ToolBench writes
//! its API list into the system prompt with Python's `str()`).

use serde_json::{Map, Number, Value};

/// Parses one Python literal at the start of `text`; returns the value and the bytes used.
pub fn parse_prefix(text: &str) -> Result<(Value, usize), String> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
    };
    let v = p.value(0)?;
    Ok((v, p.i))
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > 128 {
            return self.err("nesting too deep");
        }
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(map));
                    }
                    let key = match self.value(depth + 1)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.err("expected `:`");
                    }
                    self.i += 1;
                    let v = self.value(depth + 1)?;
                    map.insert(key, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return self.err("expected `,` or `}`"),
                    }
                }
            }
            Some(&open @ (b'[' | b'(')) => {
                let close = if open == b'[' { b']' } else { b')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(c) if *c == close => {}
                        _ => return self.err("expected `,` or a closing bracket"),
                    }
                }
            }
            Some(&q @ (b'\'' | b'"')) => self.string(q).map(Value::String),
            Some(_) => self.atom(),
            None => self.err("unexpected end"),
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        let mut run = self.i;
        while self.i < self.s.len() {
            let c = self.s[self.i];
            if c == quote {
                out.push_str(&self.src[run..self.i]);
                self.i += 1;
                return Ok(out);
            }
            if c == b'\\' {
                out.push_str(&self.src[run..self.i]);
                self.i += 1;
                let Some(&e) = self.s.get(self.i) else {
                    return self.err("unfinished escape");
                };
                self.i += 1;
                match e {
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'0' => out.push('\0'),
                    b'x' | b'u' | b'U' => {
                        let n = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex = self.src.get(self.i..self.i + n).unwrap_or("");
                        let ch = u32::from_str_radix(hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                format!("bad \\{} escape at byte {}", e as char, self.i)
                            })?;
                        out.push(ch);
                        self.i += n;
                    }
                    b'\n' => {}
                    other => {
                        // \\, \', \" and unknown escapes (kept with their backslash, as Python does).
                        if !matches!(other, b'\\' | b'\'' | b'"') {
                            out.push('\\');
                        }
                        // The escaped byte may start a multi-byte character.
                        let start = self.i - 1;
                        let mut end = self.i;
                        while end < self.s.len() && !self.src.is_char_boundary(end) {
                            end += 1;
                        }
                        out.push_str(&self.src[start..end]);
                        self.i = end;
                    }
                }
                run = self.i;
                continue;
            }
            self.i += 1;
        }
        self.err("unterminated string")
    }

    fn atom(&mut self) -> Result<Value, String> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric()
                || matches!(self.s[self.i], b'.' | b'-' | b'+' | b'_'))
        {
            self.i += 1;
        }
        let word = &self.src[start..self.i];
        match word {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "None" | "null" => Ok(Value::Null),
            "" => self.err("unexpected character"),
            _ => {
                if let Ok(n) = word.parse::<i64>() {
                    return Ok(Value::Number(n.into()));
                }
                word.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("`{word}` is not a literal at byte {start}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_python_reprs() {
        let (v, used) = parse_prefix(
            r#"[{'name': 'get_x', 'description': "it's \"x\"\n", 'n': -1.5, 'ok': True, 'none': None, 't': (1, 2)}] trailing"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!([{"name": "get_x", "description": "it's \"x\"\n", "n": -1.5, "ok": true, "none": null, "t": [1, 2]}])
        );
        assert!(used < 120);
        assert_eq!(parse_prefix("'天气\\u4e2d'").unwrap().0, json!("天气中"));
        assert!(parse_prefix("[1, 2").is_err());
        assert!(parse_prefix("{'a' 1}").is_err());
    }
}
