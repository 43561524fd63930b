//! Building one gold episode: tool calls are executed with the real registry as they are
//! added, so the steps record real observations, and generators read the observed values
//! back to decide the next step and to write the answer.

use std::str::FromStr;

use agentune_runtime::tools::ToolRegistry;
use agentune_schema::{Observation, Step, ToolCall, TrajectoryStep};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The language of a query and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The BCP-47 code written in `meta.language`.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }

    /// `en` or `zh` list.
    pub fn pick_list<'a, T>(self, en: &'a [T], zh: &'a [T]) -> &'a [T] {
        match self {
            Self::En => en,
            Self::Zh => zh,
        }
    }

    /// `en` or `zh` text.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Self::En => en,
            Self::Zh => zh,
        }
    }
}

impl FromStr for Lang {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Ok(Self::En),
            "zh" | "cn" | "chinese" | "zh-cn" => Ok(Self::Zh),
            other => Err(Error::Invalid(format!(
                "unknown language `{other}` (expected en or zh)"
            ))),
        }
    }
}

/// A number as a person writes it: integers without decimals, others with at most two.
pub fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let r = (x * 100.0).round() / 100.0;
    if r == 0.0 && x != 0.0 {
        // Tiny values keep their significant digits.
        return format!("{x:.4}");
    }
    let s = format!("{r:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// A JSON number field as text (`?` when absent).
pub(crate) fn num(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_f64)
        .map_or_else(|| "?".into(), fmt_num)
}

/// A JSON number field.
pub(crate) fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A JSON string field ("" when absent).
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Arguments from a `json!` object.
pub(crate) fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// One phrasing of a list, chosen by the generator.
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

/// Fills `{name}` slots.
pub(crate) fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in slots {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// An episode being built: the registry that runs calls, the steps so far, the language.
pub(crate) struct Episode<'a> {
    pub reg: &'a ToolRegistry,
    pub lang: Lang,
    pub rng: &'a mut Rng,
    pub steps: Vec<TrajectoryStep>,
    calls: usize,
}

impl<'a> Episode<'a> {
    pub fn new(reg: &'a ToolRegistry, lang: Lang, rng: &'a mut Rng) -> Self {
        Self {
            reg,
            lang,
            rng,
            steps: Vec::new(),
            calls: 0,
        }
    }

    /// One step calling `calls` (in parallel when several), executed now; returns each
    /// observation parsed as JSON. A failing call is an error (gold data has no failures).
    pub fn step(
        &mut self,
        thought: String,
        calls: Vec<(&str, Value)>,
    ) -> Result<Vec<Value>, String> {
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .map(|(name, a)| {
                let c = ToolCall::new(name, args(a)).with_id(format!("call_{}", self.calls));
                self.calls += 1;
                c
            })
            .collect();
        // The registry's checks, then the tool itself on this thread: the observation text is
        // what `ToolRegistry::execute` returns for a successful call (`verify_execution`
        // re-runs every call through `execute` and compares), without a worker thread per
        // call. Gold data has no failing calls, so a failure is an error of the draft.
        let mut observations = Vec::with_capacity(calls.len());
        for c in &calls {
            self.reg.check_call(c)?;
            let tool = self
                .reg
                .get(&c.name)
                .ok_or_else(|| format!("unknown tool {}", c.name))?;
            let content = tool
                .call(&c.arguments)
                .map_err(|e| format!("{} failed: {e}", c.name))?;
            observations.push(Observation {
                tool_call_id: c.id.clone(),
                name: c.name.clone(),
                content,
                is_error: false,
            });
        }
        let mut values = Vec::with_capacity(observations.len());
        for o in &observations {
            let v: Value = serde_json::from_str(&o.content)
                .map_err(|e| format!("{} returned non-JSON ({e}): {}", o.name, o.content))?;
            values.push(v);
        }
        let thought = Some(thought).filter(|t| !t.is_empty());
        self.steps.push(
            TrajectoryStep::new(Step::ToolCalls { thought, calls }).with_observations(observations),
        );
        Ok(values)
    }

    /// One call on its own step.
    pub fn call(&mut self, thought: String, name: &str, a: Value) -> Result<Value, String> {
        let mut v = self.step(thought, vec![(name, a)])?;
        v.pop().ok_or_else(|| format!("{name} gave no observation"))
    }

    /// Two independent calls: one parallel step or two steps, as the generator draws.
    pub fn pair(
        &mut self,
        thoughts: (String, String, String),
        a: (&str, Value),
        b: (&str, Value),
    ) -> Result<(Value, Value), String> {
        if self.rng.unit() < 0.5 {
            let mut v = self.step(thoughts.0, vec![a, b])?;
            let second = v.pop().ok_or("missing observation")?;
            let first = v.pop().ok_or("missing observation")?;
            Ok((first, second))
        } else {
            let first = self.call(thoughts.1, a.0, a.1)?;
            let second = self.call(thoughts.2, b.0, b.1)?;
            Ok((first, second))
        }
    }

    /// Ends with a final answer.
    pub fn answer(mut self, query: String, answer: String) -> crate::synth::Draft {
        let thought = if self.steps.is_empty() {
            None
        } else {
            let options: &[&str] = match self.lang {
                Lang::En => &[
                    "I have what I need to answer.",
                    "The results answer the question.",
                    "Now I can answer.",
                    "That is everything the user asked for.",
                ],
                Lang::Zh => &[
                    "信息已经足够，可以回答了。",
                    "根据工具结果可以回答用户。",
                    "现在可以给出答案。",
                    "用户要的信息都有了。",
                ],
            };
            // Chosen by the query, so one query always gets the same output (no conflicts).
            Some(
                options[(crate::hash::hash_str(&query) % options.len() as u64) as usize].to_owned(),
            )
        };
        self.steps
            .push(TrajectoryStep::new(Step::FinalAnswer { thought, answer }));
        crate::synth::Draft {
            query,
            steps: self.steps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_people_write_them() {
        assert_eq!(fmt_num(14.0), "14");
        assert_eq!(fmt_num(-3.0), "-3");
        assert_eq!(fmt_num(3.106855961), "3.11");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(0.001234), "0.0012");
        assert_eq!(fill("{a} and {b}", &[("a", "x"), ("b", "y")]), "x and y");
    }
}
