//! The `currency_convert` tool over a fixed, dated table of reference rates. The rates never
//! change at run time, so generated training data and evaluations stay reproducible; the tool's
//! description says so, and every answer carries the table's date.

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::{Tool, ToolError, num, num_arg, ordered, round_to, str_arg};

/// The date the reference rates are taken to hold on.
pub const RATE_DATE: &str = "2025-01-02";

/// Units of each currency per one US dollar (approximate mid-market levels around
/// [`RATE_DATE`], rounded; fixed for reproducibility, not live quotes).
const USD_RATES: &[(&str, &str, f64)] = &[
    ("USD", "US dollar", 1.0),
    ("CNY", "Chinese yuan (renminbi)", 7.30),
    ("EUR", "euro", 0.965),
    ("GBP", "British pound", 0.800),
    ("JPY", "Japanese yen", 157.0),
    ("KRW", "South Korean won", 1470.0),
    ("HKD", "Hong Kong dollar", 7.77),
    ("TWD", "New Taiwan dollar", 32.9),
    ("SGD", "Singapore dollar", 1.365),
    ("AUD", "Australian dollar", 1.61),
    ("NZD", "New Zealand dollar", 1.78),
    ("CAD", "Canadian dollar", 1.44),
    ("CHF", "Swiss franc", 0.905),
    ("SEK", "Swedish krona", 11.0),
    ("NOK", "Norwegian krone", 11.35),
    ("DKK", "Danish krone", 7.20),
    ("INR", "Indian rupee", 85.7),
    ("THB", "Thai baht", 34.3),
    ("MYR", "Malaysian ringgit", 4.47),
    ("IDR", "Indonesian rupiah", 16_200.0),
    ("VND", "Vietnamese dong", 25_450.0),
    ("PHP", "Philippine peso", 58.0),
    ("AED", "UAE dirham", 3.6725),
    ("SAR", "Saudi riyal", 3.75),
    ("TRY", "Turkish lira", 35.4),
    ("BRL", "Brazilian real", 6.18),
    ("MXN", "Mexican peso", 20.6),
    ("ZAR", "South African rand", 18.8),
    ("RUB", "Russian ruble", 110.0),
    ("EGP", "Egyptian pound", 50.8),
];

/// The rate table: (ISO 4217 code, name, units per US dollar).
pub fn usd_rates() -> &'static [(&'static str, &'static str, f64)] {
    USD_RATES
}

fn rate(code: &str) -> Option<f64> {
    USD_RATES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, r)| *r)
}

/// The `currency_convert` tool.
#[derive(Debug)]
pub struct CurrencyConvert {
    spec: ToolSpec,
}

impl Default for CurrencyConvert {
    fn default() -> Self {
        Self::new()
    }
}

impl CurrencyConvert {
    /// The tool with its spec.
    pub fn new() -> Self {
        let codes: Vec<&str> = USD_RATES.iter().map(|(c, _, _)| *c).collect();
        Self {
            spec: ToolSpec::new(
                "currency_convert",
                format!(
                    "Convert an amount of money between currencies using a fixed table of \
                     reference exchange rates dated {RATE_DATE} (not live market rates; the \
                     answer states the rate and its date). Currencies are ISO 4217 codes: {}.",
                    codes.join(", ")
                ),
                json!({
                    "type": "object",
                    "properties": {
                        "amount": {"type": "number", "minimum": 0, "description": "The amount in the source currency."},
                        "from_currency": {"type": "string", "enum": codes, "description": "ISO 4217 code of the source currency, e.g. \"USD\"."},
                        "to_currency": {"type": "string", "enum": codes, "description": "ISO 4217 code of the target currency, e.g. \"CNY\"."}
                    },
                    "required": ["amount", "from_currency", "to_currency"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

impl Tool for CurrencyConvert {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let amount = num_arg(args, "amount")?;
        let from = str_arg(args, "from_currency")?;
        let to = str_arg(args, "to_currency")?;
        let unknown = |arg: &str, code: &str| {
            ToolError::invalid(
                arg,
                format!("unknown currency `{code}`; use an ISO 4217 code from the table"),
            )
        };
        let from_rate = rate(from).ok_or_else(|| unknown("from_currency", from))?;
        let to_rate = rate(to).ok_or_else(|| unknown("to_currency", to))?;
        let cross = to_rate / from_rate;
        let result = amount * cross;
        if !result.is_finite() {
            return Err(ToolError::Failed(
                "the amount is too large to convert".into(),
            ));
        }
        ordered(vec![
            ("amount", num(amount)),
            ("from_currency", json!(from)),
            ("to_currency", json!(to)),
            ("rate", num(round_to(cross, 6))),
            ("result", num(round_to(result, 2))),
            ("rate_date", json!(RATE_DATE)),
            ("note", json!("fixed reference rate, not a live quote")),
        ])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn call(amount: f64, from: &str, to: &str) -> Result<Value, ToolError> {
        let mut args = Map::new();
        args.insert("amount".into(), json!(amount));
        args.insert("from_currency".into(), json!(from));
        args.insert("to_currency".into(), json!(to));
        CurrencyConvert::new()
            .call(&args)
            .map(|s| serde_json::from_str(&s).unwrap())
    }

    #[test]
    fn converts_through_the_dollar() {
        let out = call(100.0, "USD", "CNY").unwrap();
        assert_eq!(out["result"], json!(730));
        assert_eq!(out["rate_date"], RATE_DATE);
        let out = call(730.0, "CNY", "USD").unwrap();
        assert_eq!(out["result"], json!(100));
        let out = call(100.0, "EUR", "JPY").unwrap();
        assert_eq!(out["result"], json!(16269.43));
        let out = call(0.0, "GBP", "EUR").unwrap();
        assert_eq!(out["result"], json!(0));
    }

    #[test]
    fn unknown_codes_are_errors() {
        let err = call(1.0, "XYZ", "USD").unwrap_err();
        assert!(err.to_string().contains("unknown currency `XYZ`"));
    }

    #[test]
    fn table_is_sane() {
        let mut codes: Vec<&str> = USD_RATES.iter().map(|(c, _, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), USD_RATES.len(), "duplicate codes");
        assert!(USD_RATES.iter().all(|(c, _, r)| c.len() == 3 && *r > 0.0));
    }
}
