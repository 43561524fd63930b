//! Validation of candidate templates, whatever wrote them (the grammar, a teacher, a person):
//! the text parses as a `TemplateSpec`; the runtime accepts it; it keeps the required
//! placeholders and declares its output format in the prompt; it renders with the real tools
//! and queries (first prompt, a prompt with a step and its observation, a restart prompt, the
//! final-answer prompt); gold steps built from the real tools' schemas round-trip through
//! render then strict parse; and it is not a near-duplicate of a template accepted before.
//! Every refusal carries its rule and a message.

use std::fmt;

use agentune_data::minhash::{MinHashParams, MinHasher, Signature, similar};
use agentune_runtime::validate::validate_arguments;
use agentune_runtime::{ParseMode, Template};
use agentune_schema::{
    Observation, Step, StepSyntax, TemplateSpec, ToolCall, ToolSpec, TrajectoryStep,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Why a candidate was refused: the rule it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The teacher's call failed (the endpoint is down, answered an error).
    Request,
    /// The reply holds no JSON object to read as a template.
    NoTemplate,
    /// The text is not a `TemplateSpec` (syntax error, missing or unknown field).
    Parse,
    /// The runtime refuses the spec (bad placeholder, label clash, a format that does not
    /// read back).
    Spec,
    /// A required placeholder (`{query}`, `{tools}`) is missing.
    Placeholders,
    /// The prompt never shows the output format the parser expects.
    UndeclaredFormat,
    /// Rendering a prompt with the real tools and queries failed, or lost the query or a tool.
    Render,
    /// A gold step does not come back unchanged through render then strict parse.
    RoundTrip,
    /// Too similar to a template accepted before.
    NearDuplicate,
}

impl Reason {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::NoTemplate => "no_template",
            Self::Parse => "parse",
            Self::Spec => "spec",
            Self::Placeholders => "placeholders",
            Self::UndeclaredFormat => "undeclared_format",
            Self::Render => "render",
            Self::RoundTrip => "round_trip",
            Self::NearDuplicate => "near_duplicate",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// Where the candidate came from (`grammar`, `teacher:set-003#1`, a file name).
    pub source: String,
    /// The template's id, when it got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rule it broke.
    pub reason: Reason,
    /// What exactly is wrong.
    pub message: String,
    /// The candidate's text (teacher replies), kept for inspection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Validation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationSettings {
    /// Estimated Jaccard similarity (character 5-grams) at or above which a candidate is a
    /// near-duplicate of an accepted template.
    pub near_duplicate: f64,
    /// Queries each candidate is rendered with.
    pub render_queries: usize,
    /// Date shown in rendered prompts.
    pub date: String,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        Self {
            near_duplicate: 0.9,
            render_queries: 3,
            date: "2026-05-04".into(),
        }
    }
}

/// A candidate that passed every rule but the near-duplicate check.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The runtime's template.
    pub template: Template,
    /// Its MinHash signature.
    pub signature: Signature,
}

/// Checks candidates against real tools and queries, remembering what it accepted.
#[derive(Debug)]
pub struct Validator {
    tools: Vec<ToolSpec>,
    queries: Vec<String>,
    gold: Vec<Step>,
    settings: ValidationSettings,
    hasher: MinHasher,
    accepted: Vec<Checked>,
}

impl Validator {
    /// A validator for these tools (at least one) and queries (at least one; a Chinese and an
    /// English query are added when missing, so every template meets both scripts).
    pub fn new(
        tools: Vec<ToolSpec>,
        queries: &[String],
        settings: ValidationSettings,
    ) -> Result<Self> {
        if tools.is_empty() {
            return Err(Error::Invalid("validation needs at least one tool".into()));
        }
        if !(settings.near_duplicate > 0.0 && settings.near_duplicate <= 1.0) {
            return Err(Error::Invalid(format!(
                "near_duplicate must be in (0, 1], got {}",
                settings.near_duplicate
            )));
        }
        let mut qs: Vec<String> = queries
            .iter()
            .take(settings.render_queries.max(1))
            .cloned()
            .collect();
        if !qs.iter().any(|q| agentune_data::detect_language(q) == "zh") {
            qs.push("明天北京会下雨吗？需要带伞吗".into());
        }
        if !qs.iter().any(|q| agentune_data::detect_language(q) == "en") {
            qs.push("What is 2 + 2, and \"why\"? {not a placeholder}".into());
        }
        let gold = gold_steps(&tools)?;
        let hasher = MinHasher::new(MinHashParams {
            num_perm: 128,
            bands: 16,
            ngram: 5,
            threshold: settings.near_duplicate,
            seed: 17,
        });
        Ok(Self {
            tools,
            queries: qs,
            gold,
            settings,
            hasher,
            accepted: Vec::new(),
        })
    }

    /// The tools candidates are rendered with.
    pub fn tools(&self) -> &[ToolSpec] {
        &self.tools
    }

    /// The gold steps candidates must round-trip.
    pub fn gold_steps(&self) -> &[Step] {
        &self.gold
    }

    /// The templates accepted so far, in order.
    pub fn accepted(&self) -> impl Iterator<Item = &Checked> {
        self.accepted.iter()
    }

    /// Number of templates accepted so far.
    pub fn accepted_len(&self) -> usize {
        self.accepted.len()
    }

    /// Checks a candidate given as text (a teacher reply, a file): the first JSON object in it
    /// (code fences and prose around it are ignored) or, for text that is no JSON, TOML. When
    /// `id` is given it replaces the candidate's id. Accepted: remembered and returned.
    pub fn check_text(
        &mut self,
        text: &str,
        source: &str,
        id: Option<&str>,
    ) -> std::result::Result<Template, Rejection> {
        let reject = |reason: Reason, message: String| Rejection {
            source: source.to_owned(),
            id: id.map(str::to_owned),
            reason,
            message,
            text: Some(text.to_owned()),
        };
        // TOML templates hold `{placeholders}` and JSON examples, so a brace does not make
        // JSON: a text that does not open with JSON (or a code fence) and has TOML keys is
        // read as TOML.
        let opening = text.trim_start();
        let json_first = opening.starts_with('{') || opening.starts_with("```");
        let mut spec = if !json_first && looks_like_toml(text) {
            toml::from_str::<TemplateSpec>(text)
                .map_err(|e| reject(Reason::Parse, toml_error(text, &e)))?
        } else {
            match extract_json(text) {
                Some(json) => parse_json_spec(json).map_err(|m| reject(Reason::Parse, m))?,
                None => {
                    return Err(reject(
                        Reason::NoTemplate,
                        "the text holds no JSON object".into(),
                    ));
                }
            }
        };
        if let Some(id) = id {
            spec.id = id.to_owned();
        }
        self.check_spec(spec, source).map_err(|mut r| {
            r.text = Some(text.to_owned());
            r
        })
    }

    /// Checks a spec with every rule; accepted: remembered and returned.
    pub fn check_spec(
        &mut self,
        spec: TemplateSpec,
        source: &str,
    ) -> std::result::Result<Template, Rejection> {
        let checked = self.check_quality(spec, source)?;
        if let Some(other) = self.accepted.iter().find(|a| {
            similar(
                &a.signature,
                &checked.signature,
                self.settings.near_duplicate,
            )
        }) {
            return Err(Rejection {
                source: source.to_owned(),
                id: Some(checked.template.id().to_owned()),
                reason: Reason::NearDuplicate,
                message: format!(
                    "near-duplicate of `{}` (estimated similarity {:.2} >= {})",
                    other.template.id(),
                    agentune_data::minhash::similarity(&other.signature, &checked.signature),
                    self.settings.near_duplicate
                ),
                text: None,
            });
        }
        let t = checked.template.clone();
        self.accepted.push(checked);
        Ok(t)
    }

    /// Every rule but the near-duplicate one; remembers nothing.
    pub fn check_quality(
        &self,
        spec: TemplateSpec,
        source: &str,
    ) -> std::result::Result<Checked, Rejection> {
        let id = spec.id.clone();
        let reject = |reason: Reason, message: String| Rejection {
            source: source.to_owned(),
            id: Some(id.clone()),
            reason,
            message,
            text: None,
        };
        check_placeholders(&spec).map_err(|m| reject(Reason::Placeholders, m))?;
        let template =
            Template::from_spec(spec).map_err(|e| reject(Reason::Spec, e.to_string()))?;
        check_declared(&template).map_err(|m| reject(Reason::UndeclaredFormat, m))?;
        self.check_render(&template)
            .map_err(|m| reject(Reason::Render, m))?;
        self.check_round_trip(&template)
            .map_err(|m| reject(Reason::RoundTrip, m))?;
        self.check_render_after_steps(&template)
            .map_err(|m| reject(Reason::Render, m))?;
        let signature = self.hasher.signature(&similarity_text(template.spec()));
        Ok(Checked {
            template,
            signature,
        })
    }

    fn check_render(&self, t: &Template) -> std::result::Result<(), String> {
        let date = Some(self.settings.date.as_str());
        for query in &self.queries {
            let messages = t
                .render_prompt(&self.tools, query, &[], &[], &[], date)
                .map_err(|e| format!("query {query:?}: {e}"))?;
            let text: String = messages
                .iter()
                .map(|m| m.content_str())
                .collect::<Vec<_>>()
                .join("\n");
            if !text.contains(query.as_str()) {
                return Err(format!(
                    "the prompt for {query:?} does not contain the query"
                ));
            }
            if !t.native_tools()
                && let Some(missing) = self.tools.iter().find(|s| !text.contains(&s.name))
            {
                return Err(format!(
                    "the prompt does not name the tool `{}`",
                    missing.name
                ));
            }
            if messages
                .iter()
                .any(|m| m.content_str().trim().is_empty() && m.tool_calls.is_empty())
            {
                return Err("the prompt has an empty message".into());
            }
        }
        Ok(())
    }

    /// A prompt after one step with its observation, a restart prompt, the final prompt.
    fn check_render_after_steps(&self, t: &Template) -> std::result::Result<(), String> {
        let date = Some(self.settings.date.as_str());
        let Some(call_step) = self
            .gold
            .iter()
            .find(|s| matches!(s, Step::ToolCalls { .. }))
        else {
            return Ok(());
        };
        let done = TrajectoryStep::new(call_step.clone()).with_observations(
            call_step
                .calls()
                .iter()
                .map(|c| Observation {
                    tool_call_id: None,
                    name: c.name.clone(),
                    content: "{\"ok\": true, \"value\": \"6 °C\"}".into(),
                    is_error: false,
                })
                .collect(),
        );
        let query = &self.queries[0];
        t.render_prompt(
            &self.tools,
            query,
            &[],
            std::slice::from_ref(&done),
            &[],
            date,
        )
        .map_err(|e| format!("prompt after one step: {e}"))?;
        if t.can_give_up(true) && t.spec().restart.is_some() {
            let gave_up = TrajectoryStep::new(Step::GiveUp {
                thought: Some("Stuck.".into()),
                restart: true,
            });
            let messages = t
                .render_prompt(
                    &self.tools,
                    query,
                    &[],
                    &[],
                    &[vec![done.clone(), gave_up]],
                    date,
                )
                .map_err(|e| format!("restart prompt: {e}"))?;
            let text: String = messages.iter().map(|m| m.content_str()).collect();
            if !text.contains(&call_step.calls()[0].name) {
                return Err("the restart prompt does not show the failed attempt".into());
            }
        }
        if t.has_final_answer_prompt() {
            let messages = t
                .render_final_answer_prompt(&self.tools, query, &[], &[done], date)
                .map_err(|e| format!("final-answer prompt: {e}"))?;
            let text: String = messages.iter().map(|m| m.content_str()).collect();
            if !text.contains("6 °C") {
                return Err("the final-answer prompt does not show the results".into());
            }
        }
        Ok(())
    }

    fn check_round_trip(&self, t: &Template) -> std::result::Result<(), String> {
        for (i, step) in self.gold.iter().enumerate() {
            let want = match t.canonical(step) {
                Ok(w) => w,
                // Steps the template cannot express (a give-up, parallel calls) are skipped;
                // the gold set holds them only for templates that can.
                Err(_) if !expressible(t, step) => continue,
                Err(e) => return Err(format!("gold step {i}: {e}")),
            };
            let message = t
                .render_step(step)
                .map_err(|e| format!("gold step {i} does not render: {e}"))?;
            let got = t.parse_message(&message, ParseMode::Strict).map_err(|e| {
                format!(
                    "gold step {i} does not parse back strictly: {e}; the reply was {:?}",
                    message.content_str()
                )
            })?;
            if strip_ids(got) != strip_ids(want) {
                return Err(format!(
                    "gold step {i} parses back as a different step; the reply was {:?}",
                    message.content_str()
                ));
            }
        }
        Ok(())
    }
}

fn strip_ids(mut step: Step) -> Step {
    if let Step::ToolCalls { calls, .. } = &mut step {
        for c in calls {
            c.id = None;
        }
    }
    step
}

/// Whether the template can carry the step at all (else the gold step is skipped).
fn expressible(t: &Template, step: &Step) -> bool {
    match step {
        Step::ToolCalls { calls, .. } => calls.len() <= 1 || t.parallel_calls(),
        Step::FinalAnswer { .. } => true,
        Step::GiveUp { restart, .. } => t.can_give_up(*restart),
    }
}

/// `{query}` in the system or user prompt, and `{tools}` unless tools travel in the request.
fn check_placeholders(spec: &TemplateSpec) -> std::result::Result<(), String> {
    let prompt = format!("{}\n{}", spec.system, spec.user);
    if !prompt.contains("{query}") {
        return Err("neither `system` nor `user` holds `{query}`".into());
    }
    let native = matches!(spec.syntax, StepSyntax::Native(_));
    if !native && !prompt.contains("{tools}") {
        return Err(
            "neither `system` nor `user` holds `{tools}`: the model would never see the tools"
                .into(),
        );
    }
    Ok(())
}

/// The prompt must show the markers the parser looks for.
fn check_declared(t: &Template) -> std::result::Result<(), String> {
    let spec = t.spec();
    let prompt = format!("{}\n{}", spec.system, spec.user);
    let need: Vec<String> = match &spec.syntax {
        StepSyntax::Labeled(l) => {
            let mut v = vec![l.action.clone(), l.action_input.clone()];
            if let Some(f) = &l.final_answer {
                v.push(f.clone());
            }
            if let Some(f) = &l.finish {
                v.push(f.name.clone());
            }
            v
        }
        StepSyntax::Json(j) => vec![
            format!("\"{}\"", j.command_key),
            format!("\"{}\"", j.name_key),
            format!("\"{}\"", j.args_key),
        ],
        StepSyntax::Tagged(tg) => vec![tg.open.clone(), tg.close.clone()],
        StepSyntax::Native(_) => Vec::new(),
    };
    match need.iter().find(|n| !prompt.contains(n.as_str())) {
        Some(n) => Err(format!(
            "the prompt never shows `{n}`, which the reply format requires"
        )),
        None => Ok(()),
    }
}

/// The text two templates are compared by: prompts, tool line, observation and the syntax.
pub fn similarity_text(spec: &TemplateSpec) -> String {
    let syntax = serde_json::to_string(&spec.syntax).unwrap_or_default();
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    format!(
        "{}\n{}\n{}\n{}\n{}",
        norm(&spec.system),
        norm(&spec.user),
        spec.tools.line,
        spec.observation.format,
        syntax
    )
}

/// A TOML error as one line, with the line it is on.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text.get(..span.start).unwrap_or(text).matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn looks_like_toml(text: &str) -> bool {
    text.lines()
        .any(|l| l.trim_start().starts_with("id") && l.contains('='))
}

/// The first balanced JSON object in a text (after stripping code fences), if any.
pub fn extract_json(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut start = text.find('{')?;
    loop {
        let mut depth = 0usize;
        let mut in_str = false;
        let mut escaped = false;
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if in_str {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_str = false;
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        let candidate = &text[start..=i];
                        if serde_json::from_str::<Value>(candidate).is_ok() {
                            return Some(candidate);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        // Not valid JSON from here: try the next opening brace, else hand the first one to
        // the parser so its error says what is wrong.
        match text[start + 1..].find('{') {
            Some(next) => start = start + 1 + next,
            None => return text.find('{').map(|s| &text[s..]),
        }
    }
}

/// Parses a JSON `TemplateSpec`, naming the field and position of an error.
pub fn parse_json_spec(text: &str) -> std::result::Result<TemplateSpec, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        format!(
            "line {}, column {}: field `{field}`: {inner}",
            inner.line(),
            inner.column()
        )
    })
}

/// Gold steps from the tools' schemas: one call per tool with arguments built from its
/// schema (strings with quotes and non-ASCII letters, to stress escaping), a parallel step
/// with two tools, final answers in English and Chinese, and give-ups with and without
/// restart.
pub fn gold_steps(tools: &[ToolSpec]) -> Result<Vec<Step>> {
    let mut calls = Vec::new();
    for tool in tools {
        let schema = tool.parameters_schema();
        let args = [true, false]
            .into_iter()
            .map(|fancy| example_arguments(&schema, fancy))
            .find(|a| validate_arguments(&schema, a).is_ok());
        match args {
            Some(args) => calls.push(ToolCall::new(tool.name.clone(), args)),
            None => {
                tracing::warn!(tool = %tool.name, "no example arguments satisfy the schema; the tool has no gold step");
            }
        }
    }
    if calls.is_empty() {
        return Err(Error::Invalid(
            "no tool has arguments the validator can build from its schema".into(),
        ));
    }
    let mut steps: Vec<Step> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| Step::ToolCalls {
            thought: (i % 2 == 0).then(|| format!("Call {} for the facts.\nThen answer.", c.name)),
            calls: vec![c.clone()],
        })
        .collect();
    if calls.len() >= 2 {
        steps.push(Step::ToolCalls {
            thought: Some("Both at once.".into()),
            calls: calls[..2].to_vec(),
        });
    }
    steps.extend([
        Step::FinalAnswer {
            thought: Some("I have what I need.".into()),
            answer: "It will be 6 °C with light rain: take an \"umbrella\".\nSee you.".into(),
        },
        Step::FinalAnswer {
            thought: None,
            answer: "明天北京有小雨，气温 6 °C，记得带伞。".into(),
        },
        Step::GiveUp {
            thought: Some("The tool keeps failing.".into()),
            restart: true,
        },
        Step::GiveUp {
            thought: Some("It cannot be done.".into()),
            restart: false,
        },
    ]);
    Ok(steps)
}

/// Arguments for a parameters schema: every required property (and the first optional one)
/// with a value of its type.
fn example_arguments(schema: &Value, fancy: bool) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return out;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut optional_added = false;
    for (name, prop) in props {
        let needed = required.contains(&name.as_str());
        if !needed && optional_added {
            continue;
        }
        if !needed {
            optional_added = true;
        }
        out.insert(name.clone(), example_value(prop, fancy, 0));
    }
    out
}

/// Common string shapes tried when a string property has a pattern or length limits.
const STRING_SHAPES: &[&str] = &[
    "2026-05-04",
    "12:30",
    "2026-05-04T12:30:00Z",
    "notes.txt",
    "abc123",
    "x",
];

fn example_value(schema: &Value, fancy: bool, depth: usize) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(d) = schema.get("default") {
        return d.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string"),
        _ => "string",
    };
    match ty {
        "integer" => json!(
            schema
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(3)
                .max(3)
        ),
        "number" => json!(
            schema
                .get("minimum")
                .and_then(Value::as_f64)
                .unwrap_or(2.5)
                .max(2.5)
        ),
        "boolean" => json!(true),
        "array" if depth < 3 => {
            let item = schema
                .get("items")
                .map_or(json!("x"), |i| example_value(i, fancy, depth + 1));
            json!([item])
        }
        "object" if depth < 3 => Value::Object(example_arguments(schema, fancy)),
        _ => {
            if schema.get("format").and_then(Value::as_str) == Some("date") {
                return json!("2026-05-04");
            }
            // The first candidate the property's own constraints (pattern, lengths) accept.
            let wrapper = json!({"type": "object", "properties": {"v": schema}, "required": ["v"]});
            let candidates: &[&str] = if fancy {
                &["Zürich \"Altstadt\"", "Zurich"]
            } else {
                &["Zurich"]
            };
            candidates
                .iter()
                .chain(STRING_SHAPES)
                .map(|c| json!(c))
                .find(|v| {
                    let mut args = Map::new();
                    args.insert("v".into(), v.clone());
                    validate_arguments(&wrapper, &args).is_ok()
                })
                .unwrap_or_else(|| json!("Zurich"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentune_runtime::tools::ToolRegistry;

    fn validator() -> Validator {
        let tools = ToolRegistry::builtin_specs().unwrap();
        Validator::new(
            tools,
            &["What's the weather in Paris tomorrow?".to_owned()],
            ValidationSettings::default(),
        )
        .unwrap()
    }

    fn builtin(id: &str) -> TemplateSpec {
        Template::builtin(id).unwrap().spec().clone()
    }

    fn reason(v: &mut Validator, spec: TemplateSpec) -> Reason {
        v.check_spec(spec, "test").unwrap_err().reason
    }

    #[test]
    fn every_builtin_template_passes() {
        let mut v = validator();
        assert!(v.gold_steps().len() > 8);
        for id in Template::builtin_ids() {
            v.check_spec(builtin(id), "builtin")
                .unwrap_or_else(|r| panic!("{id}: {} {}", r.reason, r.message));
        }
        assert_eq!(v.accepted_len(), Template::builtin_ids().len());
    }

    #[test]
    fn unparseable_and_non_template_texts_are_refused() {
        let mut v = validator();
        let r = v
            .check_text("Sure! Here is a nice template.", "t", None)
            .unwrap_err();
        assert_eq!(r.reason, Reason::NoTemplate);
        let r = v
            .check_text(
                "```json\n{\"id\": \"x\", \"family\": \"react\"}\n```",
                "t",
                None,
            )
            .unwrap_err();
        assert_eq!(r.reason, Reason::Parse);
        assert!(r.message.contains("missing field"), "{}", r.message);
        let r = v
            .check_text(
                "{\"id\": \"x\", \"family\": \"nope\", \"system\": \"\"}",
                "t",
                None,
            )
            .unwrap_err();
        assert!(
            r.reason == Reason::Parse && r.message.contains("field `family`"),
            "{}",
            r.message
        );
        // A valid spec inside prose and fences is found, and gets the id asked for.
        let json = serde_json::to_string(&builtin("hermes")).unwrap();
        let t = v
            .check_text(
                &format!("Here you go:\n```json\n{json}\n```\nEnjoy {{:)"),
                "t",
                Some("meta-1"),
            )
            .unwrap();
        assert_eq!(t.id(), "meta-1");
        // TOML works too.
        let toml_text = toml::to_string(&builtin("react_zh")).unwrap();
        assert!(v.check_text(&toml_text, "t", None).is_ok());
    }

    #[test]
    fn runtime_refusals_are_spec_errors() {
        let mut v = validator();
        let mut spec = builtin("react");
        spec.system.push_str("\n{tool}");
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::Spec);
        assert!(r.message.contains("{tool}"), "{}", r.message);
        let mut spec = builtin("react");
        if let StepSyntax::Labeled(l) = &mut spec.syntax {
            l.action_input = "Action".into();
        }
        assert_eq!(reason(&mut v, spec), Reason::Spec);
    }

    #[test]
    fn missing_placeholders_are_refused() {
        let mut v = validator();
        let mut spec = builtin("react");
        spec.system = spec.system.replace("{tools}", "(see the manual)");
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::Placeholders);
        assert!(r.message.contains("{tools}"), "{}", r.message);
        let mut spec = builtin("hermes");
        spec.user = "Help me.".into();
        assert_eq!(reason(&mut v, spec), Reason::Placeholders);
        // Native templates send tools in the request: no `{tools}` needed.
        assert!(v.check_spec(builtin("openai"), "t").is_ok());
    }

    #[test]
    fn a_prompt_that_never_shows_its_format_is_refused() {
        let mut v = validator();
        let mut spec = builtin("hermes");
        spec.system = "You are helpful. Tools:\n{tools}".into();
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::UndeclaredFormat);
        assert!(r.message.contains("<tool_call>"), "{}", r.message);
        let mut spec = builtin("react");
        spec.system = spec.system.replace("Final Answer", "final reply");
        assert_eq!(reason(&mut v, spec), Reason::UndeclaredFormat);
    }

    #[test]
    fn a_prompt_that_loses_the_tools_or_the_query_is_refused() {
        let mut v = validator();
        // The tool line shows only the index: tool names never reach the model.
        let mut spec = builtin("react");
        spec.tools.line = "tool #{index}".into();
        spec.system = spec.system.replace("{tool_names}", "the listed tools");
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::Render);
        assert!(
            r.message.contains("does not name the tool"),
            "{}",
            r.message
        );
        // An empty user message.
        let mut spec = builtin("react");
        spec.system.push_str("\nQuestion: {query}");
        spec.user = "{history}".into();
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::Render, "{}", r.message);
    }

    #[test]
    fn gold_steps_that_do_not_round_trip_are_refused() {
        // A raw-string argument encoding cannot carry the real tools' object arguments.
        let mut v = validator();
        let mut spec = builtin("react");
        if let StepSyntax::Labeled(l) = &mut spec.syntax {
            l.arguments = agentune_schema::ArgumentEncoding::Raw {
                key: "query".into(),
            };
        }
        let r = v.check_spec(spec, "t").unwrap_err();
        assert_eq!(r.reason, Reason::RoundTrip, "{}", r.message);
        assert!(r.message.contains("gold step 0"), "{}", r.message);
    }

    #[test]
    fn near_duplicates_are_dropped_and_name_the_original() {
        let mut v = validator();
        assert!(v.check_spec(builtin("react"), "a").is_ok());
        let mut copy = builtin("react");
        copy.id = "react_copy".into();
        copy.system = copy.system.replace("step by step", "one step at a time");
        let r = v.check_spec(copy, "b").unwrap_err();
        assert_eq!(r.reason, Reason::NearDuplicate);
        assert!(r.message.contains("`react`"), "{}", r.message);
        // The same template passes the other rules.
        let mut copy = builtin("react");
        copy.id = "react_copy".into();
        assert!(v.check_quality(copy, "b").is_ok());
    }

    #[test]
    fn example_arguments_satisfy_the_schemas() {
        let tools = ToolRegistry::builtin_specs().unwrap();
        let steps = gold_steps(&tools).unwrap();
        let calls: Vec<&ToolCall> = steps.iter().flat_map(Step::calls).collect();
        assert!(calls.len() >= tools.len());
        let schema = json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 5},
            "unit": {"enum": ["c", "f"]}, "tags": {"type": "array", "items": {"type": "string"}}},
            "required": ["n", "unit", "tags"]});
        let args = example_arguments(&schema, true);
        assert!(validate_arguments(&schema, &args).is_ok(), "{args:?}");
        assert!(Validator::new(Vec::new(), &[], ValidationSettings::default()).is_err());
    }
}
