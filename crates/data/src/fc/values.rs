//! Argument values and how a query says them: a value drawn for a parameter (from its concept
//! when the spec was synthesised here, else from its JSON Schema) together with the words a
//! user would write for it: dates as `March 14, 2025` for `2025-03-14`, times as `3:30 PM`,
//! durations as `1 hour 30 minutes` for `90`, rates as `5%` for `0.05`, lists as `A, B and C`.

use serde_json::{Map, Value};

use super::library::{Concept, Kind, concept};
use crate::rng::Rng;
use crate::synth::{Lang, fmt_num};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A drawn argument: the JSON value and the phrase of the query that gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drawn {
    pub value: Value,
    pub phrase: String,
}

fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len())]
}

/// `A, B and C` / `A、B和C`.
pub(crate) fn join_list(items: &[String], lang: Lang) -> String {
    match (lang, items) {
        (_, []) => String::new(),
        (_, [one]) => one.clone(),
        (Lang::En, [init @ .., last]) => format!("{} and {last}", init.join(", ")),
        (Lang::Zh, [init @ .., last]) => format!("{}和{last}", init.join("、")),
    }
}

/// A date between 2025-01-01 and 2026-12-28 as (value, words).
fn date(rng: &mut Rng, lang: Lang) -> (String, String) {
    let y = 2025 + rng.below(2) as i32;
    let m = 1 + rng.below(12);
    let d = 1 + rng.below(28);
    let value = format!("{y:04}-{m:02}-{d:02}");
    let words = match (lang, rng.below(3)) {
        (_, 0) => value.clone(),
        (Lang::En, 1) => format!("{} {d}, {y}", MONTHS[m - 1]),
        (Lang::En, _) => format!("{d} {} {y}", MONTHS[m - 1]),
        (Lang::Zh, _) => format!("{y}年{m}月{d}日"),
    };
    (value, words)
}

/// A time of day as (value `HH:MM`, words).
fn time(rng: &mut Rng, lang: Lang) -> (String, String) {
    let h = 6 + rng.below(17);
    let m = 15 * rng.below(4);
    let value = format!("{h:02}:{m:02}");
    let h12 = if h > 12 { h - 12 } else { h };
    let words = match (lang, rng.below(2)) {
        (_, 0) => value.clone(),
        (Lang::En, _) => {
            let ampm = if h >= 12 { "PM" } else { "AM" };
            if m == 0 {
                format!("{h12} {ampm}")
            } else {
                format!("{h12}:{m:02} {ampm}")
            }
        }
        (Lang::Zh, _) => {
            let part = match h {
                0..=11 => "上午",
                12..=17 => "下午",
                _ => "晚上",
            };
            if m == 0 {
                format!("{part}{h12}点")
            } else {
                format!("{part}{h12}点{m}分")
            }
        }
    };
    (value, words)
}

/// Minutes as words: `90 minutes`, `1 hour 30 minutes`, `2 hours`.
fn minutes_words(total: i64, lang: Lang, plain: bool) -> String {
    let (h, m) = (total / 60, total % 60);
    match lang {
        Lang::En if plain || h == 0 => format!("{total} minutes"),
        Lang::En => {
            let hours = if h == 1 {
                "1 hour".to_owned()
            } else {
                format!("{h} hours")
            };
            if m == 0 {
                hours
            } else {
                format!("{hours} {m} minutes")
            }
        }
        Lang::Zh if plain || h == 0 => format!("{total}分钟"),
        Lang::Zh => {
            if m == 0 {
                format!("{h}小时")
            } else {
                format!("{h}小时{m}分钟")
            }
        }
    }
}

/// Draws a value of a concept and its words (before they go into the concept's phrase).
fn concept_value(c: &Concept, lang: Lang, rng: &mut Rng) -> Option<(Value, String)> {
    let form = |p: (&str, &str)| match lang {
        Lang::En => p.0.to_owned(),
        Lang::Zh => p.1.to_owned(),
    };
    Some(match c.kind {
        Kind::Text(pool) => {
            let v = form(pick(rng, pool));
            (Value::from(v.clone()), v)
        }
        Kind::Int { min, max, step } => {
            let steps = ((max - min) / step.max(1)) as usize + 1;
            let v = min + step.max(1) * rng.below(steps) as i64;
            (Value::from(v), v.to_string())
        }
        Kind::Num { min, max, step } => {
            let steps = ((max - min) / step).floor() as usize + 1;
            let v = min + step * rng.below(steps) as f64;
            let v = (v * 10_000.0).round() / 10_000.0;
            (Value::from(v), fmt_num(v))
        }
        Kind::Bool => (Value::Bool(true), String::new()),
        Kind::Enum(values) => {
            let (v, en, zh) = pick(rng, values);
            let label = if lang == Lang::En { en } else { zh };
            (Value::from(v), label.to_owned())
        }
        Kind::Date => {
            let (v, w) = date(rng, lang);
            (Value::from(v), w)
        }
        Kind::Time => {
            let (v, w) = time(rng, lang);
            (Value::from(v), w)
        }
        Kind::Minutes { min, max } => {
            let steps = ((max - min) / 15) as usize + 1;
            let v = min + 15 * rng.below(steps) as i64;
            let plain = rng.below(3) == 0;
            (Value::from(v), minutes_words(v, lang, plain))
        }
        Kind::Percent { min, max } => {
            let halves = ((max - min) * 2) as usize + 1;
            let pct = min as f64 + 0.5 * rng.below(halves) as f64;
            let v = (pct * 100.0).round() / 10_000.0;
            (Value::from(v), format!("{}%", fmt_num(pct)))
        }
        Kind::List(pool) => {
            let n = 2 + rng.below(3.min(pool.len().saturating_sub(1)).max(1));
            let mut idx: Vec<usize> = (0..pool.len()).collect();
            rng.shuffle(&mut idx);
            let items: Vec<String> = idx.iter().take(n).map(|&i| form(pool[i])).collect();
            let words = join_list(&items, lang);
            (Value::from(items), words)
        }
        Kind::IntList { min, max } => {
            let n = 3 + rng.below(4);
            let span = (max - min + 1) as usize;
            let items: Vec<i64> = (0..n).map(|_| min + rng.below(span) as i64).collect();
            let words: Vec<String> = items.iter().map(ToString::to_string).collect();
            (Value::from(items), join_list(&words, lang))
        }
        Kind::Object(fields) => {
            let mut obj = Map::new();
            let mut phrase = match lang {
                Lang::En => c.say.0.to_owned(),
                Lang::Zh => c.say.1.to_owned(),
            };
            for f in fields {
                let fc = concept(f)?;
                let (v, w) = concept_value(fc, lang, rng)?;
                obj.insert(fc.names[0].to_owned(), v);
                phrase = phrase.replace(&format!("{{{f}}}"), &w);
            }
            (Value::Object(obj), phrase)
        }
    })
}

/// A value of a concept with its phrase in the query.
pub(crate) fn draw_concept(c: &Concept, lang: Lang, rng: &mut Rng) -> Option<Drawn> {
    let (value, words) = concept_value(c, lang, rng)?;
    let phrase = match c.kind {
        Kind::Object(_) => words,
        _ => {
            let say = match lang {
                Lang::En => c.say.0,
                Lang::Zh => c.say.1,
            };
            say.replace("{v}", &words)
        }
    };
    Some(Drawn { value, phrase })
}

/// Words of an identifier: `max_price` -> `max price`.
pub(crate) fn name_words(name: &str) -> String {
    agentune_runtime::tools::words(name).join(" ")
}

/// A value for a parameter known only by its schema (imported specs), with a phrase naming
/// the parameter: `with max price 50` / `max_price为50`.
pub(crate) fn draw_generic(name: &str, schema: &Value, lang: Lang, rng: &mut Rng) -> Option<Drawn> {
    let (value, words) = generic_value(name, schema, lang, rng, 0)?;
    let phrase = match lang {
        Lang::En => format!("with {} {words}", name_words(name)),
        Lang::Zh => format!("{name}为{words}"),
    };
    Some(Drawn { value, phrase })
}

fn generic_value(
    name: &str,
    schema: &Value,
    lang: Lang,
    rng: &mut Rng,
    depth: usize,
) -> Option<(Value, String)> {
    if depth > 3 {
        return None;
    }
    let obj = schema.as_object()?;
    if let Some(Value::Array(options)) = obj.get("enum") {
        let v = options.get(rng.below(options.len().max(1)))?.clone();
        let words = match &v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return Some((v, words));
    }
    let ty = match obj.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")?
            .to_ascii_lowercase(),
        _ => "string".into(),
    };
    let lo = |d: f64| obj.get("minimum").and_then(Value::as_f64).unwrap_or(d);
    let hi = |d: f64| obj.get("maximum").and_then(Value::as_f64).unwrap_or(d);
    match ty.as_str() {
        "integer" => {
            let (a, b) = (lo(1.0).ceil() as i64, hi(lo(1.0) + 99.0).floor() as i64);
            if b < a {
                return None;
            }
            let span = ((b - a) as usize).min(1000) + 1;
            let v = a + rng.below(span) as i64;
            Some((Value::from(v), v.to_string()))
        }
        "number" | "float" => {
            let (a, b) = (lo(1.0), hi(lo(1.0) + 99.0));
            if b < a {
                return None;
            }
            let v = ((a + rng.unit() * (b - a)) * 10.0).round() / 10.0;
            let v = v.clamp(a, b);
            Some((Value::from(v), fmt_num(v)))
        }
        "boolean" | "bool" => Some((Value::Bool(true), "true".into())),
        "array" | "tuple" => {
            let items = obj.get("items").cloned().unwrap_or(Value::Null);
            let items = if items.is_object() {
                items
            } else {
                serde_json::json!({"type": "string"})
            };
            let n = 2 + rng.below(2);
            let mut values = Vec::with_capacity(n);
            let mut words = Vec::with_capacity(n);
            for _ in 0..n {
                let (v, w) = generic_value(name, &items, lang, rng, depth + 1)?;
                values.push(v);
                words.push(w);
            }
            Some((Value::from(values), join_list(&words, lang)))
        }
        "object" | "dict" => {
            let props = obj.get("properties").and_then(Value::as_object)?;
            let required: Vec<&str> = obj
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            let mut words = Vec::new();
            for (k, p) in props {
                if !required.contains(&k.as_str()) {
                    continue;
                }
                let (v, w) = generic_value(k, p, lang, rng, depth + 1)?;
                out.insert(k.clone(), v);
                words.push(format!("{} {w}", name_words(k)));
            }
            Some((Value::Object(out), words.join(", ")))
        }
        _ => {
            let fmt = obj.get("format").and_then(Value::as_str).unwrap_or("");
            let key = name.to_ascii_lowercase();
            if fmt == "date" || key.contains("date") {
                let (v, w) = date(rng, lang);
                return Some((Value::from(v), w));
            }
            if fmt == "time" || key.ends_with("time") {
                let (v, w) = time(rng, lang);
                return Some((Value::from(v), w));
            }
            let by_key: &[(&str, &str)] = &[
                ("city", "city"),
                ("location", "city"),
                ("country", "country"),
                ("email", "email"),
                ("name", "person"),
                ("symbol", "ticker"),
                ("ticker", "ticker"),
                ("url", "url"),
                ("path", "file_path"),
                ("file", "file_path"),
                ("text", "text"),
            ];
            let cid = by_key
                .iter()
                .find(|(k, _)| key.contains(k))
                .map_or("keyword", |(_, c)| c);
            let c = concept(cid)?;
            let (v, w) = concept_value(c, lang, rng)?;
            let max = obj
                .get("maxLength")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            if w.chars().count() as u64 > max {
                return None;
            }
            Some((v, w))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fc::library::CONCEPTS;
    use crate::fc::specs::concept_schema;
    use agentune_runtime::validate::validate_value;

    #[test]
    fn every_concept_draws_values_that_fit_its_schema_and_appear_in_the_query() {
        let mut rng = Rng::new(5);
        for c in CONCEPTS {
            for lang in [Lang::En, Lang::Zh] {
                for _ in 0..20 {
                    let d = draw_concept(c, lang, &mut rng).unwrap();
                    let schema = concept_schema(c, lang == Lang::Zh, false);
                    validate_value(&schema, &d.value, c.id)
                        .unwrap_or_else(|e| panic!("{}: {:?}: {e:?}", c.id, d.value));
                    assert!(!d.phrase.contains('{'), "{}: {}", c.id, d.phrase);
                    if let Kind::Text(_) = c.kind {
                        assert!(d.phrase.contains(d.value.as_str().unwrap()), "{}", c.id);
                    }
                }
            }
        }
    }

    #[test]
    fn words_read_like_people_write_them() {
        assert_eq!(minutes_words(90, Lang::En, false), "1 hour 30 minutes");
        assert_eq!(minutes_words(120, Lang::En, false), "2 hours");
        assert_eq!(minutes_words(45, Lang::Zh, false), "45分钟");
        assert_eq!(minutes_words(90, Lang::Zh, false), "1小时30分钟");
        let items = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(join_list(&items, Lang::En), "a, b and c");
        assert_eq!(join_list(&items, Lang::Zh), "a、b和c");
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let (v, w) = date(&mut rng, Lang::En);
            assert_eq!(v.len(), 10);
            assert!(w.contains(&v[..4]));
        }
    }

    #[test]
    fn generic_values_fit_their_schema() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "count": {"type": "integer", "minimum": 2, "maximum": 5},
                "ratio": {"type": "number", "minimum": 0, "maximum": 1},
                "when": {"type": "string", "format": "date"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "ids": {"type": "array", "items": {"type": "integer"}},
                "flag": {"type": "boolean"},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]}
            }
        });
        let mut rng = Rng::new(2);
        for (k, s) in schema["properties"].as_object().unwrap() {
            for lang in [Lang::En, Lang::Zh] {
                let d = draw_generic(k, s, lang, &mut rng).unwrap();
                validate_value(s, &d.value, k).unwrap_or_else(|e| panic!("{k}: {e:?}"));
            }
        }
    }
}
