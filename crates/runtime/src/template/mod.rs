//! Agent prompt templates as data: loading and checking a [`TemplateSpec`], rendering prompts,
//! steps, observations and whole training conversations, and parsing model replies back into
//! [`Step`]s, strictly (training-data validation) or leniently (inference).
//!
//! The shipped templates live in `configs/templates/*.toml` and are embedded in the crate;
//! any other template is a TOML or JSON file with the same fields.

mod error;
mod json;
mod labeled;
mod render;
mod stream;
mod structured;
mod tagged;
mod text;

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use agentune_schema::{
    ArgumentEncoding, Message, Observation, Role, Step, StepSyntax, TemplateSpec, ToolSpec,
    Trajectory, TrajectoryStep,
};

pub use error::ParseError;
pub use stream::{StreamEvent, StreamParser};

use crate::error::{Error, Result};

/// How forgiving parsing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseMode {
    /// The reply must be exactly what [`Template::render_step`] produces for the step it
    /// encodes; any deviation is an error saying what and where. For validating training data.
    Strict,
    /// Takes what models write in practice: code fences, stray whitespace, full-width colons,
    /// label case, single-quoted or trailing-comma JSON, text after the action, invented
    /// observations. For inference.
    Lenient,
}

/// The built-in templates: id and TOML text, embedded from `configs/templates/`.
const BUILTIN: &[(&str, &str)] = &[
    (
        "react",
        include_str!("../../../../configs/templates/react.toml"),
    ),
    (
        "react_zh",
        include_str!("../../../../configs/templates/react_zh.toml"),
    ),
    (
        "modelscope",
        include_str!("../../../../configs/templates/modelscope.toml"),
    ),
    (
        "autogpt",
        include_str!("../../../../configs/templates/autogpt.toml"),
    ),
    (
        "toolllama",
        include_str!("../../../../configs/templates/toolllama.toml"),
    ),
    (
        "toolllama_zh",
        include_str!("../../../../configs/templates/toolllama_zh.toml"),
    ),
    (
        "hermes",
        include_str!("../../../../configs/templates/hermes.toml"),
    ),
    (
        "openai",
        include_str!("../../../../configs/templates/openai.toml"),
    ),
];

const BUILTIN_IDS: &[&str] = &[
    "react",
    "react_zh",
    "modelscope",
    "autogpt",
    "toolllama",
    "toolllama_zh",
    "hermes",
    "openai",
];

/// Placeholders each prompt field may use.
const PROMPT_VARS: &[&str] = &["tools", "tool_names", "query", "history", "date"];
const TOOL_VARS: &[&str] = &[
    "name",
    "description",
    "parameters",
    "function",
    "openai",
    "index",
];
const OBSERVATION_VARS: &[&str] = &["observation", "name", "call_id"];
const RESTART_VARS: &[&str] = &["attempts", "count"];
const ATTEMPT_VARS: &[&str] = &["n", "steps"];
const FINAL_USER_VARS: &[&str] = &["query", "results", "date", "history", "tools", "tool_names"];
const RESULT_VARS: &[&str] = &["n", "name", "arguments", "observation", "thought"];

/// A checked agent template, ready to render prompts and parse replies.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    spec: TemplateSpec,
    /// Labeled syntax: the labels, longest first, for matching.
    labels: Vec<(labeled::Label, String)>,
}

impl Template {
    /// A built-in template by id; an unknown id is an error listing the known ones.
    pub fn builtin(id: &str) -> Result<Template> {
        static CACHE: OnceLock<Mutex<Vec<Template>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        if let Ok(done) = cache.lock()
            && let Some(t) = done.iter().find(|t| t.id() == id)
        {
            return Ok(t.clone());
        }
        let Some((_, text)) = BUILTIN.iter().find(|(b, _)| *b == id) else {
            return Err(Error::UnknownTemplate {
                id: id.to_owned(),
                known: BUILTIN_IDS.join(", "),
            });
        };
        let spec: TemplateSpec = toml::from_str(text).map_err(|e| Error::TemplateFile {
            path: format!("configs/templates/{id}.toml").into(),
            message: toml_message(text, &e),
        })?;
        let t = Self::from_spec(spec)?;
        if let Ok(mut done) = cache.lock() {
            done.push(t.clone());
        }
        Ok(t)
    }

    /// The ids of the built-in templates.
    pub fn builtin_ids() -> &'static [&'static str] {
        BUILTIN_IDS
    }

    /// Loads a template file: JSON when the name ends in `.json`, TOML otherwise. Errors
    /// name the file, and the line and field at fault.
    pub fn load(path: &Path) -> Result<Template> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let spec: TemplateSpec = if is_json {
            let de = &mut serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let field = e.path().to_string();
                let inner = e.into_inner();
                let (line, column) = (inner.line(), inner.column());
                let text = inner.to_string();
                let suffix = format!(" at line {line} column {column}");
                let message = text.strip_suffix(&suffix).unwrap_or(&text);
                Error::TemplateFile {
                    path: path.to_path_buf(),
                    message: format!("line {line}, column {column}: field `{field}`: {message}"),
                }
            })?
        } else {
            toml::from_str(&text).map_err(|e| Error::TemplateFile {
                path: path.to_path_buf(),
                message: toml_message(&text, &e),
            })?
        };
        Self::from_spec(spec).map_err(|e| match e {
            Error::InvalidTemplate { id, field, message } => Error::TemplateFile {
                path: path.to_path_buf(),
                message: format!("template `{id}`: field `{field}`: {message}"),
            },
            other => other,
        })
    }

    /// A built-in template when `id_or_path` names one, else the template file at that path.
    pub fn resolve(id_or_path: &str) -> Result<Template> {
        if BUILTIN_IDS.contains(&id_or_path) {
            return Self::builtin(id_or_path);
        }
        let path = Path::new(id_or_path);
        if path.exists() {
            return Self::load(path);
        }
        Err(Error::UnknownTemplate {
            id: id_or_path.to_owned(),
            known: BUILTIN_IDS.join(", "),
        })
    }

    /// Checks a spec (placeholders, labels, keys, give-up settings) and prepares it.
    pub fn from_spec(spec: TemplateSpec) -> Result<Template> {
        validate(&spec)?;
        let labels = match &spec.syntax {
            StepSyntax::Labeled(l) => labeled::label_table(l),
            _ => Vec::new(),
        };
        let t = Template { spec, labels };
        t.self_check()?;
        Ok(t)
    }

    /// Renders sample steps of every kind the template can express and parses them back in
    /// both modes: a spec whose output format does not read back is refused (a generated
    /// template, say, whose labels collide).
    fn self_check(&self) -> Result<()> {
        let args = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let weather = agentune_schema::ToolCall::new(
            "get_weather",
            args(
                serde_json::json!({"city": "Zürich", "days": 2, "opts": {"units": ["c"], "x": null}}),
            ),
        );
        let time = agentune_schema::ToolCall::new("get_time", args(serde_json::json!({})));
        let mut samples = vec![
            Step::ToolCalls {
                thought: Some("Check the forecast.\nThen answer.".into()),
                calls: vec![weather.clone()],
            },
            Step::ToolCalls {
                thought: None,
                calls: vec![time.clone()],
            },
            Step::FinalAnswer {
                thought: Some("Done.".into()),
                answer: "Light rain, 6 °C.\nTake an umbrella.".into(),
            },
        ];
        if self.parallel_calls() {
            samples.push(Step::ToolCalls {
                thought: Some("Both.".into()),
                calls: vec![weather, time],
            });
        }
        for restart in [true, false] {
            if self.can_give_up(restart) {
                samples.push(Step::GiveUp {
                    thought: Some("Stuck.".into()),
                    restart,
                });
            }
        }
        if let StepSyntax::Labeled(l) = &self.spec.syntax
            && let ArgumentEncoding::Raw { key } = &l.arguments
        {
            let raw = agentune_schema::ToolCall::new(
                "search",
                args(serde_json::json!({ key.as_str(): "rain in Zürich" })),
            );
            for s in &mut samples {
                if let Step::ToolCalls { calls, .. } = s {
                    *calls = vec![raw.clone()];
                }
            }
        }
        for sample in &samples {
            let fail = |message: String| Error::InvalidTemplate {
                id: self.spec.id.clone(),
                field: "syntax".into(),
                message,
            };
            let want = self.canonical(sample).map_err(|e| fail(e.to_string()))?;
            let message = render::step_message(self, sample, 0).map_err(|e| fail(e.to_string()))?;
            for mode in [ParseMode::Strict, ParseMode::Lenient] {
                let got = self.parse_message(&message, mode).map_err(|e| {
                    fail(format!(
                        "a rendered step does not parse back ({mode:?}): {e}; the reply was {:?}",
                        message.content_str()
                    ))
                })?;
                if strip_ids(got) != strip_ids(want.clone()) {
                    return Err(fail(format!(
                        "a rendered step parses back as a different step ({mode:?}); the reply was {:?}",
                        message.content_str()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The spec the template was built from.
    pub fn spec(&self) -> &TemplateSpec {
        &self.spec
    }

    /// The template's id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// Whether tools travel in the request and replies are structured `tool_calls` messages
    /// (the OpenAI family) rather than text.
    pub fn native_tools(&self) -> bool {
        matches!(self.spec.syntax, StepSyntax::Native(_))
    }

    /// Strings at which generation should stop because the model started writing what the
    /// runtime supplies (an observation): `\nObservation:` for ReAct, `<tool_response>` for
    /// Hermes, `<|startofexec|>` for ModelScope. Empty for the JSON and native families.
    pub fn stop_sequences(&self) -> Vec<String> {
        let prefix = |format: &str| {
            let head = format.split("{observation}").next().unwrap_or("").trim();
            let head = head.lines().next().unwrap_or("").trim();
            // Stop at the tag itself, before any fence that follows it.
            let head = head.split("```").next().unwrap_or("").trim();
            (!head.is_empty()).then(|| head.to_owned())
        };
        match &self.spec.syntax {
            StepSyntax::Labeled(l) => {
                vec![format!("\n{}{}", l.observation, l.colon.trim_end())]
            }
            StepSyntax::Tagged(_) => prefix(&self.spec.observation.format).into_iter().collect(),
            StepSyntax::Json(_) | StepSyntax::Native(_) => Vec::new(),
        }
    }

    /// Whether one step may call several tools.
    pub fn parallel_calls(&self) -> bool {
        match &self.spec.syntax {
            StepSyntax::Labeled(l) => l.parallel,
            StepSyntax::Json(_) => false,
            StepSyntax::Tagged(t) => t.parallel,
            StepSyntax::Native(n) => n.parallel,
        }
    }

    /// Whether the template can express a give-up (`restart`: one that asks for a new
    /// attempt).
    pub fn can_give_up(&self, restart: bool) -> bool {
        match &self.spec.syntax {
            StepSyntax::Labeled(l) => l.finish.as_ref().is_some_and(|f| {
                if restart {
                    f.restart_value.is_some()
                } else {
                    f.give_up_value.is_some()
                }
            }),
            StepSyntax::Json(j) => !restart && j.give_up_command.is_some(),
            _ => false,
        }
    }

    /// Whether a final answer carries the step's thought (families that put the answer in
    /// plain text have no place for one, and drop it).
    pub fn answer_has_thought(&self) -> bool {
        matches!(
            self.spec.syntax,
            StepSyntax::Labeled(_) | StepSyntax::Json(_)
        )
    }

    /// The step as this template can carry it: thoughts and answers trimmed (an empty thought
    /// is none), call ids dropped by text families, a final answer's thought dropped by
    /// families without a place for it. `parse(render_step(s)) == canonical(s)`. An
    /// inexpressible step (too many calls, an unsupported give-up) is an error.
    pub fn canonical(&self, step: &Step) -> Result<Step> {
        let thought = |t: &Option<String>| {
            t.as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        };
        let out = match step {
            Step::ToolCalls { thought: t, calls } => {
                if calls.is_empty() {
                    return Err(self.render_error("a tool_calls step needs at least one call"));
                }
                if calls.len() > 1 && !self.parallel_calls() {
                    return Err(self.render_error(format!(
                        "the template allows one call per step, the step has {}",
                        calls.len()
                    )));
                }
                let calls = calls
                    .iter()
                    .map(|c| {
                        let mut c = c.clone();
                        if !self.native_tools() {
                            c.id = None;
                        }
                        c
                    })
                    .collect();
                Step::ToolCalls {
                    thought: thought(t),
                    calls,
                }
            }
            Step::FinalAnswer { thought: t, answer } => Step::FinalAnswer {
                thought: if self.answer_has_thought() {
                    thought(t)
                } else {
                    None
                },
                answer: answer.trim().to_owned(),
            },
            Step::GiveUp {
                thought: t,
                restart,
            } => {
                if !self.can_give_up(*restart) {
                    return Err(self.render_error(if *restart {
                        "the template has no give-up with restart"
                    } else {
                        "the template has no give-up without restart"
                    }));
                }
                Step::GiveUp {
                    thought: thought(t),
                    restart: *restart,
                }
            }
        };
        Ok(out)
    }

    /// Messages for one model call: the system prompt, earlier conversation, the user
    /// message (with the restart text carrying `failed_attempts`, if any), then the steps so
    /// far, each as the assistant message and the observation message(s) this family uses.
    /// A line of the prompt holding `{date}` is dropped when `date` is `None`.
    pub fn render_prompt(
        &self,
        tools: &[ToolSpec],
        query: &str,
        history: &[Message],
        steps: &[TrajectoryStep],
        failed_attempts: &[Vec<TrajectoryStep>],
        date: Option<&str>,
    ) -> Result<Vec<Message>> {
        render::prompt(self, tools, query, history, steps, failed_attempts, date)
    }

    /// The exact assistant message the model must produce for this step: text content for
    /// text families, `tool_calls` for the native family.
    pub fn render_step(&self, step: &Step) -> Result<Message> {
        render::step_message(self, step, 0)
    }

    /// The text of a step for text families (the content of [`Template::render_step`]).
    pub fn render_step_text(&self, step: &Step) -> Result<String> {
        render::step_text(self, step)
    }

    /// The message(s) carrying the observations of `step` back to the model.
    pub fn render_observations(
        &self,
        step: &Step,
        observations: &[Observation],
    ) -> Result<Vec<Message>> {
        Ok(render::observation_messages(self, step, observations, 0))
    }

    /// A whole trajectory as one training conversation: the conversation of its last attempt,
    /// whose user message carries the earlier (failed) attempts when there are any.
    pub fn render_conversation(&self, trajectory: &Trajectory) -> Result<Vec<Message>> {
        let mut all = self.render_attempts(trajectory)?;
        all.pop()
            .ok_or_else(|| self.render_error("the trajectory has no attempt"))
    }

    /// One conversation per attempt of the trajectory: attempt `k` shows attempts `0..k` as
    /// failed attempts in its restart prompt.
    pub fn render_attempts(&self, trajectory: &Trajectory) -> Result<Vec<Vec<Message>>> {
        let attempts = trajectory.attempts();
        let mut out = Vec::with_capacity(attempts.len());
        for (k, attempt) in attempts.iter().enumerate() {
            let failed: Vec<Vec<TrajectoryStep>> =
                attempts[..k].iter().map(|a| a.to_vec()).collect();
            out.push(self.render_prompt(
                &trajectory.tools,
                &trajectory.query,
                &trajectory.history,
                attempt,
                &failed,
                None,
            )?);
        }
        Ok(out)
    }

    /// Whether the template has a separate final-answer prompt (AutoGPT).
    pub fn has_final_answer_prompt(&self) -> bool {
        self.spec.final_answer_prompt.is_some()
    }

    /// Messages of the separate final-answer call (AutoGPT): the final-answer system prompt
    /// and a user message with the query and every executed call with its result. The reply
    /// is plain text, read with [`Template::parse_final_answer`].
    pub fn render_final_answer_prompt(
        &self,
        tools: &[ToolSpec],
        query: &str,
        history: &[Message],
        steps: &[TrajectoryStep],
        date: Option<&str>,
    ) -> Result<Vec<Message>> {
        render::final_answer_prompt(self, tools, query, history, steps, date)
    }

    /// Reads the reply to the final-answer prompt: its text is the answer.
    pub fn parse_final_answer(&self, text: &str, mode: ParseMode) -> Result<Step, ParseError> {
        structured::plain_answer(text, mode)
    }

    /// A reader for one reply that streams in (see [`StreamParser`]).
    pub fn stream(&self) -> StreamParser {
        StreamParser::new(self)
    }

    /// Parses one assistant reply into a step.
    pub fn parse(&self, text: &str, mode: ParseMode) -> Result<Step, ParseError> {
        let step = match &self.spec.syntax {
            StepSyntax::Labeled(l) => labeled::parse(self, l, text, mode)?,
            StepSyntax::Json(j) => structured::parse_json(j, text, mode)?,
            StepSyntax::Tagged(t) => tagged::parse(t, text, mode)?,
            StepSyntax::Native(_) => structured::parse_native_text(text, mode)?,
        };
        if mode == ParseMode::Strict {
            self.check_canonical(text, &step)?;
        }
        Ok(step)
    }

    /// Parses an assistant message: its structured `tool_calls` when it has them (the
    /// native family; other families accept them only in lenient mode), else its text.
    pub fn parse_message(&self, message: &Message, mode: ParseMode) -> Result<Step, ParseError> {
        let text = message.content_str();
        if mode == ParseMode::Strict && message.role != Role::Assistant {
            return Err(ParseError::at(text, 0, "not an assistant message")
                .found(format!("a {} message", message.role.as_str())));
        }
        if message.tool_calls.is_empty() {
            return self.parse(text, mode);
        }
        if !self.native_tools() && mode == ParseMode::Strict {
            return Err(ParseError::at(
                text,
                0,
                format!(
                    "template `{}` writes calls in the text, not as structured tool_calls",
                    self.id()
                ),
            ));
        }
        structured::native_calls(self, message, mode)
    }

    /// Strict mode's last check: the reply must be byte for byte the rendering of the step
    /// it parsed into.
    fn check_canonical(&self, text: &str, step: &Step) -> Result<(), ParseError> {
        let rendered = match self
            .canonical(step)
            .and_then(|s| render::step_text(self, &s))
        {
            Ok(r) => r,
            Err(e) => return Err(ParseError::at(text, 0, e.to_string())),
        };
        if rendered == text {
            return Ok(());
        }
        let at = rendered
            .char_indices()
            .zip(text.char_indices())
            .find(|((_, a), (_, b))| a != b)
            .map_or(rendered.len().min(text.len()), |((i, _), _)| i);
        Err(
            ParseError::at(text, at, "the reply differs from the template's exact form")
                .expected(text, error::excerpt(&rendered, at)),
        )
    }

    fn render_error(&self, message: impl Into<String>) -> Error {
        Error::Render {
            template: self.spec.id.clone(),
            message: message.into(),
        }
    }
}

/// The step without call ids (native messages number their calls).
fn strip_ids(mut step: Step) -> Step {
    if let Step::ToolCalls { calls, .. } = &mut step {
        for c in calls {
            c.id = None;
        }
    }
    step
}

/// A TOML error on one line: `line L, column C: message`.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let at = ParseError::at(text, span.start, "");
            format!("line {}, column {}: {message}", at.line, at.column)
        }
        None => message,
    }
}

/// Checks a spec once, naming the field at fault.
fn validate(spec: &TemplateSpec) -> Result<()> {
    let bad = |field: &str, message: String| Error::InvalidTemplate {
        id: spec.id.clone(),
        field: field.to_owned(),
        message,
    };
    if spec.id.trim().is_empty() || spec.id.chars().any(char::is_whitespace) {
        return Err(bad("id", "must be non-empty without whitespace".into()));
    }
    if spec.language.trim().is_empty() {
        return Err(bad("language", "must not be empty".into()));
    }
    let check_vars = |field: &str, text: &str, allowed: &[&str]| -> Result<()> {
        for (name, _) in text::placeholders(text) {
            if !allowed.contains(&name) {
                return Err(bad(
                    field,
                    format!(
                        "unknown placeholder `{{{name}}}`; this field knows {}",
                        allowed
                            .iter()
                            .map(|a| format!("{{{a}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        Ok(())
    };
    check_vars("system", &spec.system, PROMPT_VARS)?;
    check_vars("user", &spec.user, PROMPT_VARS)?;
    if !spec.user.contains("{query}") && !spec.system.contains("{query}") {
        return Err(bad(
            "user",
            "neither `system` nor `user` holds `{query}`".into(),
        ));
    }
    check_vars("tools.line", &spec.tools.line, TOOL_VARS)?;
    check_vars(
        "observation.format",
        &spec.observation.format,
        OBSERVATION_VARS,
    )?;
    if !spec.observation.format.contains("{observation}") {
        return Err(bad(
            "observation.format",
            "must hold `{observation}`".into(),
        ));
    }
    if let Some(r) = &spec.restart {
        check_vars("restart.text", &r.text, RESTART_VARS)?;
        check_vars("restart.attempt", &r.attempt, ATTEMPT_VARS)?;
        if !r.text.contains("{attempts}") {
            return Err(bad("restart.text", "must hold `{attempts}`".into()));
        }
    }
    if let Some(f) = &spec.final_answer_prompt {
        check_vars("final_answer_prompt.system", &f.system, PROMPT_VARS)?;
        check_vars("final_answer_prompt.user", &f.user, FINAL_USER_VARS)?;
        check_vars("final_answer_prompt.result", &f.result, RESULT_VARS)?;
        if !f.user.contains("{results}") {
            return Err(bad(
                "final_answer_prompt.user",
                "must hold `{results}`".into(),
            ));
        }
    }
    let nonempty = |field: &str, v: &str| -> Result<()> {
        if v.trim().is_empty() {
            Err(bad(field, "must not be empty".into()))
        } else {
            Ok(())
        }
    };
    match &spec.syntax {
        StepSyntax::Labeled(l) => {
            let mut labels = vec![
                ("syntax.thought", l.thought.as_str()),
                ("syntax.action", l.action.as_str()),
                ("syntax.action_input", l.action_input.as_str()),
                ("syntax.observation", l.observation.as_str()),
            ];
            if let Some(f) = &l.final_answer {
                labels.push(("syntax.final_answer", f.as_str()));
            }
            for (field, label) in &labels {
                nonempty(field, label)?;
                if label.contains('\n') || label.contains(':') || label.contains('：') {
                    return Err(bad(field, "a label holds no newline or colon".into()));
                }
            }
            for (i, (fa, a)) in labels.iter().enumerate() {
                for (_, b) in &labels[i + 1..] {
                    if labeled::loose_key(a) == labeled::loose_key(b) {
                        return Err(bad(fa, format!("label `{a}` is used twice")));
                    }
                }
            }
            if l.colon.is_empty() || l.colon.contains('\n') {
                return Err(bad("syntax.colon", "must be non-empty, on one line".into()));
            }
            if !l.colon.trim_start().starts_with([':', '：']) {
                return Err(bad("syntax.colon", "must start with `:` or `：`".into()));
            }
            if let ArgumentEncoding::Raw { key } = &l.arguments {
                nonempty("syntax.arguments.key", key)?;
            }
            match (&l.final_answer, &l.finish) {
                (None, None) => {
                    return Err(bad(
                        "syntax",
                        "a labeled template needs `final_answer` or `finish`".into(),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(bad(
                        "syntax",
                        "give `final_answer` or `finish`, not both".into(),
                    ));
                }
                _ => {}
            }
            if let Some(f) = &l.finish {
                for (field, v) in [
                    ("syntax.finish.name", &f.name),
                    ("syntax.finish.type_key", &f.type_key),
                    ("syntax.finish.answer_key", &f.answer_key),
                    ("syntax.finish.answer_value", &f.answer_value),
                ] {
                    nonempty(field, v)?;
                }
                if f.type_key == f.answer_key {
                    return Err(bad(
                        "syntax.finish.answer_key",
                        "must differ from type_key".into(),
                    ));
                }
                let values: Vec<&str> = [
                    Some(&f.answer_value),
                    f.restart_value.as_ref(),
                    f.give_up_value.as_ref(),
                ]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
                for (i, v) in values.iter().enumerate() {
                    if values[i + 1..].contains(v) {
                        return Err(bad(
                            "syntax.finish",
                            format!("return value `{v}` is used twice"),
                        ));
                    }
                }
            }
        }
        StepSyntax::Json(j) => {
            for (field, v) in [
                ("syntax.thoughts_key", &j.thoughts_key),
                ("syntax.command_key", &j.command_key),
                ("syntax.name_key", &j.name_key),
                ("syntax.args_key", &j.args_key),
                ("syntax.finish_command", &j.finish_command),
                ("syntax.answer_arg", &j.answer_arg),
            ] {
                nonempty(field, v)?;
            }
            if j.thought_fields.is_empty() {
                return Err(bad(
                    "syntax.thought_fields",
                    "needs at least one field".into(),
                ));
            }
            if j.thoughts_key == j.command_key || j.name_key == j.args_key {
                return Err(bad("syntax", "keys must differ".into()));
            }
            if j.give_up_command.as_deref() == Some(j.finish_command.as_str()) {
                return Err(bad(
                    "syntax.give_up_command",
                    "must differ from finish_command".into(),
                ));
            }
        }
        StepSyntax::Tagged(t) => {
            nonempty("syntax.open", &t.open)?;
            nonempty("syntax.close", &t.close)?;
            nonempty("syntax.name_key", &t.name_key)?;
            nonempty("syntax.args_key", &t.args_key)?;
            if t.open == t.close || t.open.contains(&t.close) || t.close.contains(&t.open) {
                return Err(bad(
                    "syntax.close",
                    "opening and closing tags must differ".into(),
                ));
            }
            if t.name_key == t.args_key {
                return Err(bad("syntax.args_key", "must differ from name_key".into()));
            }
            if let Some(f) = &t.fence
                && (!f.starts_with("```") || f.contains('\n'))
            {
                return Err(bad(
                    "syntax.fence",
                    "must be one line starting with ```".into(),
                ));
            }
        }
        StepSyntax::Native(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads() {
        for id in Template::builtin_ids() {
            let t = Template::builtin(id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(t.id(), *id);
        }
        assert_eq!(BUILTIN.len(), BUILTIN_IDS.len());
    }

    #[test]
    fn stop_sequences_follow_the_observation_format() {
        let stops = |id: &str| Template::builtin(id).unwrap().stop_sequences();
        assert_eq!(stops("react"), ["\nObservation:"]);
        assert_eq!(stops("react_zh"), ["\n观察："]);
        assert_eq!(stops("toolllama"), ["\nObservation:"]);
        assert_eq!(stops("hermes"), ["<tool_response>"]);
        assert_eq!(stops("modelscope"), ["<|startofexec|>"]);
        assert!(stops("autogpt").is_empty() && stops("openai").is_empty());
    }

    #[test]
    fn unknown_builtin_lists_known_ids() {
        let e = Template::builtin("reactt").unwrap_err().to_string();
        assert!(e.contains("reactt") && e.contains("toolllama_zh"), "{e}");
        let e = Template::resolve("no/such/file.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no/such/file.toml") && e.contains("hermes"),
            "{e}"
        );
    }

    #[test]
    fn unknown_placeholders_are_refused() {
        let mut spec = Template::builtin("react").unwrap().spec().clone();
        spec.system.push_str("\n{tool}");
        let e = Template::from_spec(spec).unwrap_err().to_string();
        assert!(e.contains("`{tool}`") && e.contains("system"), "{e}");
    }

    #[test]
    fn formats_that_do_not_read_back_are_refused() {
        // Unusual but unambiguous labels read back and are accepted.
        let mut spec = Template::builtin("react").unwrap().spec().clone();
        if let StepSyntax::Labeled(l) = &mut spec.syntax {
            l.final_answer = Some("Answer".into());
            l.thought = "Answer Draft".into();
            l.colon = ":".into();
        }
        assert!(Template::from_spec(spec).is_ok());
        // A closing tag that occurs inside the call's JSON cuts every call short.
        let mut spec = Template::builtin("hermes").unwrap().spec().clone();
        if let StepSyntax::Tagged(t) = &mut spec.syntax {
            t.open = "CALL".into();
            t.close = "\"".into();
        }
        let e = Template::from_spec(spec).unwrap_err().to_string();
        assert!(e.contains("does not parse back"), "{e}");
    }

    #[test]
    fn duplicate_labels_are_refused() {
        let mut spec = Template::builtin("react").unwrap().spec().clone();
        if let StepSyntax::Labeled(l) = &mut spec.syntax {
            l.action_input = "action".into();
        }
        let e = Template::from_spec(spec).unwrap_err().to_string();
        assert!(e.contains("used twice"), "{e}");
    }
}
