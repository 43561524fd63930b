//! `Record`: one line of a data file, either a template-independent [`Trajectory`] (agent
//! episodes) or a rendered [`Sample`] (conversations, general SFT data), with the views every
//! stage needs: query, input and output text, tools, calls, labels, verification.

use agentune_schema::{
    Complexity, Message, QueryKind, QueryMeta, Role, Sample, Split, Step, ToolSpec, Trajectory,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One record of a data file. A line holding `steps` is a trajectory; one holding `messages`
/// is a sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An agent episode.
    Trajectory(Box<Trajectory>),
    /// A conversation.
    Sample(Box<Sample>),
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Trajectory(t) => t.serialize(s),
            Self::Sample(x) => x.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

impl From<Trajectory> for Record {
    fn from(t: Trajectory) -> Self {
        Self::Trajectory(Box::new(t))
    }
}

impl From<Sample> for Record {
    fn from(s: Sample) -> Self {
        Self::Sample(Box::new(s))
    }
}

impl Record {
    /// Reads a record from JSON, naming the offending field on error.
    pub fn from_json(value: &Value) -> Result<Self, agentune_schema::Error> {
        let obj = value.as_object().ok_or_else(|| {
            agentune_schema::Error::invalid("record", "", "expected a JSON object")
        })?;
        if obj.contains_key("steps") {
            Ok(Self::from(agentune_schema::from_value::<Trajectory>(
                "trajectory",
                value,
            )?))
        } else if obj.contains_key("messages") {
            Ok(Self::from(agentune_schema::from_value::<Sample>(
                "sample", value,
            )?))
        } else {
            Err(agentune_schema::Error::invalid(
                "record",
                "",
                "neither a trajectory (no `steps`) nor a sample (no `messages`)",
            ))
        }
    }

    /// The record id.
    pub fn id(&self) -> &str {
        match self {
            Self::Trajectory(t) => &t.id,
            Self::Sample(s) => &s.id,
        }
    }

    /// The labels, when the record has them.
    pub fn meta(&self) -> Option<&QueryMeta> {
        match self {
            Self::Trajectory(t) => t.meta.as_ref(),
            Self::Sample(s) => Some(&s.meta),
        }
    }

    /// The labels, inferred from the record when it carries none.
    pub fn meta_or_inferred(&self) -> QueryMeta {
        match self.meta() {
            Some(m) => m.clone(),
            None => infer_meta(
                self.source().unwrap_or("unknown"),
                self.query(),
                !self.tools().is_empty(),
                &self.call_names(),
                self.call_steps(),
            ),
        }
    }

    /// The user's query (for a sample, its first user message).
    pub fn query(&self) -> &str {
        match self {
            Self::Trajectory(t) => &t.query,
            Self::Sample(s) => s.query().unwrap_or(""),
        }
    }

    /// The tools offered.
    pub fn tools(&self) -> &[ToolSpec] {
        match self {
            Self::Trajectory(t) => &t.tools,
            Self::Sample(s) => &s.tools,
        }
    }

    /// The names of every tool called, in order.
    pub fn call_names(&self) -> Vec<&str> {
        match self {
            Self::Trajectory(t) => t
                .steps
                .iter()
                .flat_map(|s| s.step.calls().iter().map(|c| c.name.as_str()))
                .collect(),
            Self::Sample(s) => s
                .messages
                .iter()
                .flat_map(|m| m.tool_calls.iter().map(|c| c.name.as_str()))
                .collect(),
        }
    }

    /// How many steps (assistant turns) call tools.
    pub fn call_steps(&self) -> usize {
        match self {
            Self::Trajectory(t) => t
                .steps
                .iter()
                .filter(|s| !s.step.calls().is_empty())
                .count(),
            Self::Sample(s) => s
                .messages
                .iter()
                .filter(|m| !m.tool_calls.is_empty())
                .count(),
        }
    }

    /// The agent template, when known.
    pub fn template_id(&self) -> Option<&str> {
        match self {
            Self::Trajectory(t) => t.template_id.as_deref(),
            Self::Sample(s) => s.template_id.as_deref(),
        }
    }

    /// The source dataset or generator.
    pub fn source(&self) -> Option<&str> {
        match self {
            Self::Trajectory(t) => Some(t.provenance.source.as_str()),
            Self::Sample(s) => s.provenance.as_ref().map(|p| p.source.as_str()),
        }
    }

    /// Whether the record is benchmark data that must never be trained on.
    pub fn eval_only(&self) -> bool {
        match self {
            Self::Trajectory(t) => t.provenance.eval_only,
            Self::Sample(s) => !s.trainable(),
        }
    }

    /// Whether an execution check passed on the record (and none failed).
    pub fn execution_verified(&self) -> bool {
        match self {
            Self::Trajectory(t) => {
                let exec: Vec<_> = t.checks.iter().filter(|c| c.check == "execution").collect();
                !exec.is_empty() && exec.iter().all(|c| c.passed)
            }
            Self::Sample(_) => false,
        }
    }

    /// The split stored on the record (samples only; trajectories are split into files).
    pub fn split(&self) -> Option<Split> {
        match self {
            Self::Trajectory(_) => None,
            Self::Sample(s) => s.split,
        }
    }

    /// Records the split, and the near-duplicate group unless the sample already names one
    /// (a `query:` group keeps the query that splitting and the leakage check compare; the
    /// split keeps every record of a named group together). Trajectories carry neither.
    pub fn set_split(&mut self, split: Split, group: &str) {
        if let Self::Sample(s) = self {
            s.split = Some(split);
            if s.group.as_deref().is_none_or(str::is_empty) {
                s.group = Some(group.to_owned());
            }
        }
    }

    /// The final answers the model gives: a trajectory's final answer, or each assistant
    /// message of a sample that calls no tool. `None` inside means an answer that is missing.
    pub fn answers(&self) -> Vec<Option<&str>> {
        match self {
            Self::Trajectory(t) => match t.steps.last().map(|s| &s.step) {
                Some(Step::FinalAnswer { answer, .. }) => vec![Some(answer.as_str())],
                Some(Step::GiveUp { .. }) | Some(Step::ToolCalls { .. }) => Vec::new(),
                None => vec![None],
            },
            Self::Sample(s) => {
                let assistants: Vec<&Message> = s
                    .messages
                    .iter()
                    .filter(|m| m.role == Role::Assistant && m.tool_calls.is_empty())
                    .collect();
                if assistants.is_empty() && !s.messages.iter().any(|m| m.role == Role::Assistant) {
                    return vec![None];
                }
                assistants.iter().map(|m| m.content.as_deref()).collect()
            }
        }
    }

    /// The input the model sees, as text: history, query and the names of the tools offered.
    pub fn input_text(&self) -> String {
        let mut out = String::new();
        let mut tools: Vec<&str> = self.tools().iter().map(|t| t.name.as_str()).collect();
        tools.sort_unstable();
        for t in tools {
            out.push_str(t);
            out.push('\n');
        }
        match self {
            Self::Trajectory(t) => {
                for m in &t.history {
                    push_message(&mut out, m);
                }
                out.push_str(&t.query);
            }
            Self::Sample(s) => {
                // Everything up to the first assistant message is input.
                for m in s.messages.iter().take_while(|m| m.role != Role::Assistant) {
                    push_message(&mut out, m);
                }
            }
        }
        out
    }

    /// What the model must produce, as text: thoughts, calls and answers (tool observations
    /// are left out: they are not the model's).
    pub fn output_text(&self) -> String {
        let mut out = String::new();
        match self {
            Self::Trajectory(t) => {
                for s in &t.steps {
                    if let Some(th) = s.step.thought() {
                        out.push_str(th);
                        out.push('\n');
                    }
                    for c in s.step.calls() {
                        out.push_str(&c.name);
                        out.push_str(&Value::Object(c.arguments.clone()).to_string());
                        out.push('\n');
                    }
                    match &s.step {
                        Step::FinalAnswer { answer, .. } => out.push_str(answer),
                        Step::GiveUp { restart, .. } => {
                            out.push_str(if *restart { "<restart>" } else { "<give up>" });
                        }
                        Step::ToolCalls { .. } => {}
                    }
                }
            }
            Self::Sample(s) => {
                let first = s
                    .messages
                    .iter()
                    .position(|m| m.role == Role::Assistant)
                    .unwrap_or(s.messages.len());
                for m in &s.messages[first..] {
                    push_message(&mut out, m);
                }
            }
        }
        out
    }

    /// Input and output together: what exact and near-duplicate detection compare.
    pub fn full_text(&self) -> String {
        let mut t = self.input_text();
        t.push('\n');
        t.push_str(&self.output_text());
        t
    }

    /// Every text of the record, for measuring its length: prompt-side and model-side text,
    /// tool observations and tool descriptions.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        for t in self.tools() {
            out.push_str(&t.name);
            out.push(' ');
            out.push_str(t.description());
            if let Some(p) = &t.parameters {
                out.push_str(&p.to_string());
            }
            out.push('\n');
        }
        match self {
            Self::Trajectory(t) => {
                for m in &t.history {
                    push_message(&mut out, m);
                }
                out.push_str(&t.query);
                out.push('\n');
                for s in &t.steps {
                    for o in &s.observations {
                        out.push_str(&o.content);
                        out.push('\n');
                    }
                }
                out.push_str(&self.output_text());
            }
            Self::Sample(s) => {
                for m in &s.messages {
                    push_message(&mut out, m);
                }
            }
        }
        out
    }

    /// Calls `f` on every free text of the record: query, history, thoughts, string values of
    /// call arguments, observations, answers, message contents. Ids, names and labels are
    /// left alone.
    pub fn for_each_text_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        fn message(m: &mut Message, f: &mut dyn FnMut(&mut String)) {
            if let Some(c) = m.content.as_mut() {
                f(c);
            }
            for call in &mut m.tool_calls {
                for v in call.arguments.values_mut() {
                    json_strings(v, f);
                }
            }
        }
        match self {
            Self::Trajectory(t) => {
                f(&mut t.query);
                for m in &mut t.history {
                    message(m, f);
                }
                for s in &mut t.steps {
                    match &mut s.step {
                        Step::ToolCalls { thought, calls } => {
                            if let Some(th) = thought.as_mut() {
                                f(th);
                            }
                            for c in calls {
                                for v in c.arguments.values_mut() {
                                    json_strings(v, f);
                                }
                            }
                        }
                        Step::FinalAnswer { thought, answer } => {
                            if let Some(th) = thought.as_mut() {
                                f(th);
                            }
                            f(answer);
                        }
                        Step::GiveUp { thought, .. } => {
                            if let Some(th) = thought.as_mut() {
                                f(th);
                            }
                        }
                    }
                    for o in &mut s.observations {
                        f(&mut o.content);
                    }
                    if let Some(r) = s.reply.as_mut() {
                        f(r);
                    }
                    if let Some(p) = s.prompt.as_mut() {
                        for m in p {
                            message(m, f);
                        }
                    }
                }
            }
            Self::Sample(s) => {
                for m in &mut s.messages {
                    message(m, f);
                }
            }
        }
    }
}

fn json_strings(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| json_strings(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| json_strings(x, f)),
        _ => {}
    }
}

fn push_message(out: &mut String, m: &Message) {
    out.push_str(m.role.as_str());
    out.push_str(": ");
    out.push_str(m.content_str());
    for c in &m.tool_calls {
        out.push(' ');
        out.push_str(&c.name);
        out.push_str(&Value::Object(c.arguments.clone()).to_string());
    }
    out.push('\n');
}

/// Normalises text for hashing: lowercase, full-width ASCII folded to ASCII, the ideographic
/// space and every run of whitespace collapsed to one space, trimmed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for ch in text.chars() {
        let ch = match ch {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(ch as u32 - 0xFEE0).unwrap_or(ch),
            '\u{3000}' => ' ',
            c => c,
        };
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    out
}

/// Whether `c` is a CJK ideograph (Chinese characters, including extension A).
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

/// A coarse language tag: `zh` when at least a fifth of the letters are CJK ideographs, else
/// `en`.
pub fn detect_language(text: &str) -> &'static str {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
            letters += 1;
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    if letters > 0 && cjk * 5 >= letters {
        "zh"
    } else {
        "en"
    }
}

/// Labels for a record that carries none: kind from the tools offered and called (calls:
/// positive; tools but no call: hard negative; no tools: general), complexity from the number
/// of calling steps and distinct tools, language from the query.
pub fn infer_meta(
    scenario: &str,
    query: &str,
    has_tools: bool,
    calls: &[&str],
    call_steps: usize,
) -> QueryMeta {
    let kind = if !calls.is_empty() {
        QueryKind::Positive
    } else if has_tools {
        QueryKind::HardNegative
    } else {
        QueryKind::General
    };
    let mut distinct: Vec<&str> = calls.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let complexity = if call_steps > 1 || distinct.len() > 1 {
        Complexity::Complex
    } else {
        Complexity::Simple
    };
    QueryMeta::new(scenario, kind, complexity, detect_language(query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_case_width_and_space() {
        assert_eq!(normalize("  Hello\t\n WORLD  "), "hello world");
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize("北京\u{3000}天气"), "北京 天气");
    }

    #[test]
    fn language_detection() {
        assert_eq!(detect_language("明天北京会下雨吗?"), "zh");
        assert_eq!(detect_language("Will it rain in Beijing tomorrow?"), "en");
        assert_eq!(detect_language("Beijing 明天的天气"), "zh");
        assert_eq!(detect_language("12345"), "en");
    }

    #[test]
    fn infer_kind_and_complexity() {
        let m = infer_meta("w", "rain?", true, &["weather"], 1);
        assert_eq!(
            (m.kind, m.complexity),
            (QueryKind::Positive, Complexity::Simple)
        );
        let m = infer_meta("w", "rain?", true, &["weather", "places"], 1);
        assert_eq!(m.complexity, Complexity::Complex);
        let m = infer_meta("w", "nice day", true, &[], 0);
        assert_eq!(m.kind, QueryKind::HardNegative);
        let m = infer_meta("g", "poem", false, &[], 0);
        assert_eq!(m.kind, QueryKind::General);
    }
}
