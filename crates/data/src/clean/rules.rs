//! The built-in cleaning rules: PII anonymisation, unknown tools, trajectory structure, empty
//! answers and over-length records.

use std::sync::Arc;

use super::pii::{PiiDetector, PiiState};
use super::{LengthMeasure, Rule, Verdict};
use crate::record::Record;

/// Anonymises PII in every free text of the record (a fixing rule; it never drops).
#[derive(Debug, Default)]
pub struct PiiRule {
    detector: PiiDetector,
}

impl PiiRule {
    /// The rule with all detectors.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Rule for PiiRule {
    fn name(&self) -> &str {
        "pii"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        let mut state = PiiState::default();
        let detector = &self.detector;
        record.for_each_text_mut(&mut |text| {
            detector.anonymize(text, &mut state);
        });
        if state.replaced.is_empty() {
            return Verdict::Keep;
        }
        let mut what: Vec<(String, usize)> = state
            .replaced
            .iter()
            .map(|(k, n)| (k.name().to_owned(), *n))
            .collect();
        what.sort();
        Verdict::Fixed(what)
    }
}

/// Drops records that call a tool not among their tools (when tools are listed at all: an
/// imported conversation without a tool list cannot be checked).
#[derive(Debug, Clone, Copy, Default)]
pub struct UnknownToolRule;

impl Rule for UnknownToolRule {
    fn name(&self) -> &str {
        "unknown_tool"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        let tools = record.tools();
        if tools.is_empty() {
            return Verdict::Keep;
        }
        for name in record.call_names() {
            if !tools.iter().any(|t| t.name == name) {
                return Verdict::Drop(format!("calls `{name}`, which is not among its tools"));
            }
        }
        Verdict::Keep
    }
}

/// Drops trajectories that break the schema's invariants: a call without its observation, a
/// final answer before the last step, an outcome that does not match the last step.
#[derive(Debug, Clone, Copy, Default)]
pub struct StructureRule;

impl Rule for StructureRule {
    fn name(&self) -> &str {
        "structure"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        match record {
            Record::Trajectory(t) => match t.problems().into_iter().next() {
                Some((field, message)) => Verdict::Drop(format!("{field}: {message}")),
                None if t.steps.is_empty() => Verdict::Drop("no steps".into()),
                None => Verdict::Keep,
            },
            Record::Sample(s) => {
                if s.messages.is_empty() {
                    Verdict::Drop("no messages".into())
                } else {
                    Verdict::Keep
                }
            }
        }
    }
}

/// Drops records whose final answer is missing or blank (an answer is what the model is
/// trained to give; an empty one teaches silence).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyAnswerRule;

impl Rule for EmptyAnswerRule {
    fn name(&self) -> &str {
        "empty_answer"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        // Benchmark items carry questions only; their answers live with the benchmark.
        if record.eval_only() {
            return Verdict::Keep;
        }
        for a in record.answers() {
            match a {
                None => return Verdict::Drop("no answer".into()),
                Some(t) if t.trim().is_empty() => return Verdict::Drop("blank answer".into()),
                Some(_) => {}
            }
        }
        Verdict::Keep
    }
}

/// Drops records longer than a limit, measured over all their text (tools, prompt,
/// observations, outputs).
#[derive(Debug, Clone)]
pub struct OverLengthRule {
    max: usize,
    measure: Arc<dyn LengthMeasure>,
}

impl OverLengthRule {
    /// Records longer than `max` units of `measure` are dropped.
    pub fn new(max: usize, measure: Arc<dyn LengthMeasure>) -> Self {
        Self { max, measure }
    }
}

impl Rule for OverLengthRule {
    fn name(&self) -> &str {
        "over_length"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        let n = self.measure.measure(&record.all_text());
        if n > self.max {
            Verdict::Drop(format!("{n} {} > {}", self.measure.unit(), self.max))
        } else {
            Verdict::Keep
        }
    }
}
