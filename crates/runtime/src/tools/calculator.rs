//! The `calculator` tool: a small, safe arithmetic language with its own parser (no code is
//! ever evaluated). Numbers, `+ - * / % ^` (also `**`, `×`, `÷`), parentheses, the constants
//! `pi` and `e`, and the functions sqrt, cbrt, abs, round, floor, ceil, min, max, log, log2,
//! ln, exp, sin, cos, tan, asin, acos, atan (radians). Division by zero, results too large to
//! represent and math-domain errors are reported as errors.

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::{Tool, ToolError, ordered, str_arg};

/// Longest expression accepted.
const MAX_LEN: usize = 500;
/// Deepest nesting of parentheses and operators (the parser recurses).
const MAX_DEPTH: usize = 64;

/// The `calculator` tool.
#[derive(Debug)]
pub struct Calculator {
    spec: ToolSpec,
}

impl Default for Calculator {
    fn default() -> Self {
        Self::new()
    }
}

impl Calculator {
    /// The tool with its spec.
    pub fn new() -> Self {
        Self {
            spec: ToolSpec::new(
                "calculator",
                "Evaluate an arithmetic expression exactly as written and return the number. \
                 Supports + - * / % (remainder) ^ (power), parentheses, the constants pi and e, \
                 and the functions sqrt, cbrt, abs, round(x) or round(x, digits), floor, ceil, \
                 min(a, b, ...), max(a, b, ...), log (base 10) or log(x, base), log2, ln, exp, \
                 sin, cos, tan, asin, acos, atan (angles in radians). Use it for any \
                 calculation instead of computing in your head.",
                json!({
                    "type": "object",
                    "properties": {
                        "expression": {
                            "type": "string",
                            "description": "The expression, e.g. \"(3.5 + 4) * 12 / 100\" or \"sqrt(2) ^ 3\".",
                            "minLength": 1,
                            "maxLength": MAX_LEN
                        }
                    },
                    "required": ["expression"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

impl Tool for Calculator {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let expression = str_arg(args, "expression")?;
        let result = evaluate(expression).map_err(ToolError::Failed)?;
        ordered(vec![
            ("expression", json!(expression)),
            ("result", json!(number_value(result))),
        ])
    }
}

/// A finite result as JSON: integral values print as integers, others keep 12 significant
/// digits (so 0.1 + 0.2 reads 0.3).
fn number_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        return json!(x as i64);
    }
    let magnitude = x.abs().log10().floor() as i32;
    let digits = (11 - magnitude).clamp(0, 300);
    let rounded = if digits <= 15 {
        let scale = 10f64.powi(digits);
        let r = (x * scale).round() / scale;
        if r.is_finite() { r } else { x }
    } else {
        x
    };
    json!(rounded)
}

/// Evaluates an expression; the error says what is wrong and where.
pub fn evaluate(expression: &str) -> Result<f64, String> {
    if expression.chars().count() > MAX_LEN {
        return Err(format!("expression is longer than {MAX_LEN} characters"));
    }
    let tokens = lex(expression)?;
    if tokens.is_empty() {
        return Err("the expression is empty".into());
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let value = parser.expr(0)?;
    if let Some(tok) = parser.tokens.get(parser.pos) {
        let hint = if tok.kind == Kind::Comma {
            " (commas only separate function arguments; write 1000, not 1,000)"
        } else {
            ""
        };
        return Err(format!(
            "unexpected {} at position {}{hint}",
            tok.kind.describe(),
            tok.at + 1
        ));
    }
    finite(value)
}

fn finite(x: f64) -> Result<f64, String> {
    if x.is_nan() {
        Err("the result is not a number (a math domain error)".into())
    } else if x.is_infinite() {
        Err("the result is too large to represent (overflow)".into())
    } else {
        Ok(x)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Num(f64),
    Ident(String),
    Op(char),
    LParen,
    RParen,
    Comma,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Self::Num(n) => format!("number {n}"),
            Self::Ident(s) => format!("name `{s}`"),
            Self::Op(c) => format!("operator `{c}`"),
            Self::LParen => "`(`".into(),
            Self::RParen => "`)`".into(),
            Self::Comma => "`,`".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Character offset, for error messages.
    at: usize,
}

fn lex(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
                {
                    i += 1;
                }
                // Exponent: 1e5, 2.5E-3.
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().filter(|c| **c != '_').collect();
                let n: f64 = text
                    .parse()
                    .map_err(|_| format!("malformed number `{text}` at position {}", start + 1))?;
                out.push(Token {
                    kind: Kind::Num(n),
                    at,
                });
            }
            // Thousands separators inside numbers are not supported: `1,000` reads as two
            // arguments, so a bare comma outside a call is reported by the parser.
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect::<String>().to_lowercase();
                out.push(Token {
                    kind: Kind::Ident(name),
                    at,
                });
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push(Token {
                    kind: Kind::Op('^'),
                    at,
                });
                i += 2;
            }
            '+' | '-' | '*' | '/' | '%' | '^' => {
                out.push(Token {
                    kind: Kind::Op(c),
                    at,
                });
                i += 1;
            }
            '×' | '·' => {
                out.push(Token {
                    kind: Kind::Op('*'),
                    at,
                });
                i += 1;
            }
            '÷' => {
                out.push(Token {
                    kind: Kind::Op('/'),
                    at,
                });
                i += 1;
            }
            '−' => {
                out.push(Token {
                    kind: Kind::Op('-'),
                    at,
                });
                i += 1;
            }
            '(' | '（' | '[' => {
                out.push(Token {
                    kind: Kind::LParen,
                    at,
                });
                i += 1;
            }
            ')' | '）' | ']' => {
                out.push(Token {
                    kind: Kind::RParen,
                    at,
                });
                i += 1;
            }
            ',' | '，' => {
                out.push(Token {
                    kind: Kind::Comma,
                    at,
                });
                i += 1;
            }
            other => {
                return Err(format!(
                    "unexpected character `{other}` at position {} (only numbers, + - * / % ^, parentheses and function names are allowed)",
                    at + 1
                ));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn position(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or_else(|| self.tokens.last().map_or(1, |t| t.at + 2), |t| t.at + 1)
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(format!(
                "the expression nests more than {MAX_DEPTH} levels deep"
            ))
        } else {
            Ok(())
        }
    }

    /// Precedence climbing. Binding powers: + - 1, * / % 2, unary minus 3, ^ 4 (right).
    fn expr(&mut self, min_bp: u8) -> Result<f64, String> {
        self.enter()?;
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Kind::Op(op)) => *op,
                // Implicit multiplication: 2(3+4), 2pi.
                Some(Kind::LParen | Kind::Ident(_)) => '*',
                _ => break,
            };
            let (bp, right_assoc) = match op {
                '+' | '-' => (1, false),
                '*' | '/' | '%' => (2, false),
                '^' => (4, true),
                _ => break,
            };
            if bp < min_bp {
                break;
            }
            let implicit = !matches!(self.peek(), Some(Kind::Op(_)));
            let at = self.position();
            if !implicit {
                self.pos += 1;
            }
            let rhs = self.expr(if right_assoc { bp } else { bp + 1 })?;
            lhs = apply(op, lhs, rhs, at)?;
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(Kind::Op('-')) => {
                self.pos += 1;
                self.enter()?;
                // Unary minus binds looser than ^: -2^2 = -4.
                let v = self.expr(3)?;
                self.depth -= 1;
                Ok(-v)
            }
            Some(Kind::Op('+')) => {
                self.pos += 1;
                self.enter()?;
                let v = self.expr(3)?;
                self.depth -= 1;
                Ok(v)
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<f64, String> {
        let at = self.position();
        let Some(tok) = self.tokens.get(self.pos).cloned() else {
            return Err("the expression ends too early (a number or `(` is missing)".into());
        };
        self.pos += 1;
        match tok.kind {
            Kind::Num(n) => Ok(n),
            Kind::LParen => {
                let v = self.expr(0)?;
                self.expect_rparen(at)?;
                Ok(v)
            }
            Kind::Ident(name) => {
                if self.peek() == Some(&Kind::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() != Some(&Kind::RParen) {
                        loop {
                            args.push(self.expr(0)?);
                            if self.peek() == Some(&Kind::Comma) {
                                self.pos += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect_rparen(at)?;
                    call_function(&name, &args)
                } else {
                    match name.as_str() {
                        "pi" | "π" => Ok(std::f64::consts::PI),
                        "e" => Ok(std::f64::consts::E),
                        "tau" => Ok(std::f64::consts::TAU),
                        _ if FUNCTIONS.contains(&name.as_str()) => Err(format!(
                            "function `{name}` at position {at} needs parentheses, e.g. {name}(2)"
                        )),
                        _ => Err(format!(
                            "unknown name `{name}` at position {at} (constants: pi, e; functions: {})",
                            FUNCTIONS.join(", ")
                        )),
                    }
                }
            }
            other => Err(format!("unexpected {} at position {at}", other.describe())),
        }
    }

    fn expect_rparen(&mut self, opened_at: usize) -> Result<(), String> {
        match self.peek() {
            Some(Kind::RParen) => {
                self.pos += 1;
                Ok(())
            }
            Some(other) => Err(format!(
                "expected `)` at position {} but found {}",
                self.position(),
                other.describe()
            )),
            None => Err(format!("`(` at position {opened_at} is never closed")),
        }
    }
}

const FUNCTIONS: &[&str] = &[
    "sqrt", "cbrt", "abs", "round", "floor", "ceil", "min", "max", "log", "log2", "log10", "ln",
    "exp", "sin", "cos", "tan", "asin", "acos", "atan",
];

fn apply(op: char, a: f64, b: f64, at: usize) -> Result<f64, String> {
    let v = match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        '/' => {
            if b == 0.0 {
                return Err(format!("division by zero (the `/` at position {at})"));
            }
            a / b
        }
        '%' => {
            if b == 0.0 {
                return Err(format!("remainder by zero (the `%` at position {at})"));
            }
            a % b
        }
        '^' => {
            if a == 0.0 && b < 0.0 {
                return Err("zero cannot be raised to a negative power".into());
            }
            if a < 0.0 && b.fract() != 0.0 {
                return Err(format!(
                    "a negative number cannot be raised to the fractional power {b}"
                ));
            }
            a.powf(b)
        }
        _ => return Err(format!("unknown operator `{op}`")),
    };
    finite(v)
}

fn call_function(name: &str, args: &[f64]) -> Result<f64, String> {
    let arity = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name}() takes {n} argument{}, got {}",
                if n == 1 { "" } else { "s" },
                args.len()
            ))
        }
    };
    let one = |f: fn(f64) -> f64| -> Result<f64, String> {
        arity(1)?;
        finite(f(args[0]))
    };
    match name {
        "sqrt" => {
            arity(1)?;
            if args[0] < 0.0 {
                return Err(format!("sqrt of a negative number ({})", args[0]));
            }
            Ok(args[0].sqrt())
        }
        "cbrt" => one(f64::cbrt),
        "abs" => one(f64::abs),
        "floor" => one(f64::floor),
        "ceil" => one(f64::ceil),
        "exp" => one(f64::exp),
        "sin" => one(f64::sin),
        "cos" => one(f64::cos),
        "tan" => one(f64::tan),
        "atan" => one(f64::atan),
        "asin" | "acos" => {
            arity(1)?;
            if !(-1.0..=1.0).contains(&args[0]) {
                return Err(format!(
                    "{name} needs a value between -1 and 1, got {}",
                    args[0]
                ));
            }
            Ok(if name == "asin" {
                args[0].asin()
            } else {
                args[0].acos()
            })
        }
        "round" => match args {
            [x] => Ok(x.round()),
            [x, d] => {
                if d.fract() != 0.0 || !(0.0..=15.0).contains(d) {
                    return Err("round(x, digits) needs whole digits between 0 and 15".into());
                }
                let scale = 10f64.powi(*d as i32);
                finite((x * scale).round() / scale)
            }
            _ => Err(format!(
                "round() takes 1 or 2 arguments, got {}",
                args.len()
            )),
        },
        "min" | "max" => {
            if args.is_empty() {
                return Err(format!("{name}() needs at least one argument"));
            }
            let init = if name == "min" {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            Ok(args.iter().copied().fold(init, |acc, x| {
                if name == "min" {
                    acc.min(x)
                } else {
                    acc.max(x)
                }
            }))
        }
        "ln" | "log" | "log2" | "log10" => {
            let (x, base) = match (name, args) {
                ("ln", [x]) => (*x, std::f64::consts::E),
                ("log" | "log10", [x]) => (*x, 10.0),
                ("log2", [x]) => (*x, 2.0),
                ("log", [x, b]) => (*x, *b),
                _ => {
                    return Err(format!(
                        "{name}() takes {} argument(s), got {}",
                        if name == "log" { "1 or 2" } else { "1" },
                        args.len()
                    ));
                }
            };
            if x <= 0.0 {
                return Err(format!("{name} of a number that is not positive ({x})"));
            }
            if base <= 0.0 || base == 1.0 {
                return Err(format!("log base must be positive and not 1, got {base}"));
            }
            finite(x.ln() / base.ln())
        }
        _ => Err(format!(
            "unknown function `{name}` (functions: {})",
            FUNCTIONS.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ev(s: &str) -> f64 {
        evaluate(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(ev("1 + 2 * 3"), 7.0);
        assert_eq!(ev("(1 + 2) * 3"), 9.0);
        assert_eq!(ev("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(ev("-2 ^ 2"), -4.0);
        assert_eq!(ev("(-2) ^ 2"), 4.0);
        assert_eq!(ev("10 - 4 - 3"), 3.0);
        assert_eq!(ev("100 / 10 / 5"), 2.0);
        assert_eq!(ev("17 % 5"), 2.0);
        assert_eq!(ev("2 ** 10"), 1024.0);
        assert_eq!(ev("3 × 4 ÷ 2"), 6.0);
        assert_eq!(ev("2(3 + 4)"), 14.0);
        assert_eq!(ev("1.5e3 + 2E-1"), 1500.2);
        assert_eq!(ev("--3"), 3.0);
        assert_eq!(ev("（1+1）*2"), 4.0);
    }

    #[test]
    fn functions_and_constants() {
        assert_eq!(ev("sqrt(16) + abs(-3)"), 7.0);
        assert_eq!(ev("round(2.71828, 2)"), 2.72);
        assert_eq!(ev("round(2.5)"), 3.0);
        assert_eq!(ev("min(4, 2, 8) + max(1, 9)"), 11.0);
        assert!((ev("log(1000)") - 3.0).abs() < 1e-12);
        assert!((ev("log(8, 2)") - 3.0).abs() < 1e-12);
        assert!((ev("ln(e)") - 1.0).abs() < 1e-12);
        assert!((ev("sin(pi / 2)") - 1.0).abs() < 1e-12);
        assert!((ev("cos(0)") - 1.0).abs() < 1e-12);
        assert_eq!(ev("floor(2.7) + ceil(2.1)"), 5.0);
        assert_eq!(ev("SQRT(9)"), 3.0);
    }

    #[test]
    fn errors_are_clear() {
        let err = |s: &str| evaluate(s).unwrap_err();
        assert!(
            err("1 / 0").contains("division by zero"),
            "{}",
            err("1 / 0")
        );
        assert!(err("5 % 0").contains("remainder by zero"));
        assert!(err("10 ^ 400").contains("overflow"));
        assert!(err("exp(1000)").contains("overflow"));
        assert!(err("sqrt(-1)").contains("negative"));
        assert!(err("ln(0)").contains("not positive"));
        assert!(err("(-8) ^ 0.5").contains("fractional power"));
        assert!(err("1 +").contains("ends too early"));
        assert!(err("(1 + 2").contains("never closed"));
        assert!(err("1 + 2)").contains("unexpected `)`"));
        assert!(err("foo(2)").contains("unknown function `foo`"));
        assert!(err("x + 1").contains("unknown name `x`"));
        assert!(err("sqrt").contains("needs parentheses"));
        assert!(err("import os").contains("unknown name"));
        assert!(err("2; rm -rf /").contains("unexpected character `;`"));
        assert!(err("max()").contains("at least one"));
        assert!(
            err("1,000 * 2").contains("not 1,000"),
            "{}",
            err("1,000 * 2")
        );
        assert!(err("sqrt(1, 2)").contains("takes 1 argument"));
        assert!(err("").contains("empty"));
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(err(&deep).contains("nests"), "{}", err(&deep));
        assert!(err(&"1+".repeat(300)).contains("longer than"));
    }

    #[test]
    fn tool_output_is_json_with_clean_numbers() {
        let tool = Calculator::new();
        let mut args = Map::new();
        args.insert("expression".into(), json!("0.1 + 0.2"));
        let out: Value = serde_json::from_str(&tool.call(&args).unwrap()).unwrap();
        assert_eq!(out["result"], json!(0.3));
        args.insert("expression".into(), json!("2^10"));
        let out: Value = serde_json::from_str(&tool.call(&args).unwrap()).unwrap();
        assert_eq!(out["result"], json!(1024));
        args.insert("expression".into(), json!("1/3"));
        let out: Value = serde_json::from_str(&tool.call(&args).unwrap()).unwrap();
        assert_eq!(out["result"], json!(0.333333333333));
        args.insert("expression".into(), json!("1/0"));
        assert!(matches!(tool.call(&args), Err(ToolError::Failed(_))));
    }
}
