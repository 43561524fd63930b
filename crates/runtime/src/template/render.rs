//! Rendering: prompts (system, history, user, steps so far), one step's assistant message,
//! observation messages, the restart text carrying failed attempts, and the separate
//! final-answer prompt.

use agentune_schema::{
    Message, Observation, ObservationRole, Role, Step, StepSyntax, ToolCall, ToolSpec,
    TrajectoryStep,
};
use serde_json::Value;

use super::text::{drop_lines_with, fill};
use super::{Template, json, labeled, structured, tagged};
use crate::error::{Error, Result};

/// The text of one step (for the native family: the text content).
pub(crate) fn step_text(t: &Template, step: &Step) -> Result<String> {
    match &t.spec.syntax {
        StepSyntax::Labeled(l) => labeled::render(t, l, step),
        StepSyntax::Json(j) => structured::render_json(t, j, step),
        StepSyntax::Tagged(s) => tagged::render(t, s, step),
        StepSyntax::Native(_) => match step {
            Step::ToolCalls { thought, .. } => Ok(thought.clone().unwrap_or_default()),
            Step::FinalAnswer { answer, .. } => Ok(answer.clone()),
            Step::GiveUp { .. } => Err(Error::Render {
                template: t.id().to_owned(),
                message: "the template has no give-up".into(),
            }),
        },
    }
}

/// The id of call `k` of a conversation when the call has none.
fn call_id(call: Option<&ToolCall>, k: usize) -> String {
    call.and_then(|c| c.id.clone())
        .unwrap_or_else(|| format!("call_{k}"))
}

/// The assistant message of one step; calls without ids get `call_{first_call + i}`.
pub(crate) fn step_message(t: &Template, step: &Step, first_call: usize) -> Result<Message> {
    let step = t.canonical(step)?;
    if t.native_tools()
        && let Step::ToolCalls { thought, calls } = &step
    {
        let calls = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c.id = Some(call_id(Some(&c), first_call + i));
                c
            })
            .collect();
        return Ok(Message::assistant_calls(thought.clone(), calls));
    }
    Ok(Message::assistant(step_text(t, &step)?))
}

/// The observation messages of one step; calls without ids are numbered from `first_call`.
pub(crate) fn observation_messages(
    t: &Template,
    step: &Step,
    observations: &[Observation],
    first_call: usize,
) -> Vec<Message> {
    let f = &t.spec.observation;
    let calls = step.calls();
    let one = |i: usize, o: &Observation| -> (String, String) {
        let id = o
            .tool_call_id
            .clone()
            .unwrap_or_else(|| call_id(calls.get(i), first_call + i));
        let text = fill(
            &f.format,
            &[
                ("observation", o.content.as_str()),
                ("name", o.name.as_str()),
                ("call_id", id.as_str()),
            ],
        );
        (id, text)
    };
    match f.role {
        ObservationRole::Tool => observations
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let (id, text) = one(i, o);
                Message::tool(id, o.name.clone(), text)
            })
            .collect(),
        ObservationRole::User => {
            if observations.is_empty() {
                return Vec::new();
            }
            let text = observations
                .iter()
                .enumerate()
                .map(|(i, o)| one(i, o).1)
                .collect::<Vec<_>>()
                .join(&f.separator);
            vec![Message::user(text)]
        }
    }
}

/// `{tools}`: every tool written with the template's tool line.
pub(crate) fn tool_list(t: &Template, tools: &[ToolSpec]) -> String {
    let listing = &t.spec.tools;
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            let params = json::inline(&tool.parameters_schema());
            let mut function = serde_json::Map::new();
            function.insert("name".into(), Value::String(tool.name.clone()));
            function.insert(
                "description".into(),
                Value::String(tool.description().to_owned()),
            );
            function.insert("parameters".into(), tool.parameters_schema());
            let function_json = json::inline_pairs(&[
                ("name", Value::String(tool.name.clone())),
                ("description", Value::String(tool.description().to_owned())),
                ("parameters", tool.parameters_schema()),
            ]);
            let openai = json::inline_pairs(&[
                ("type", Value::String("function".into())),
                ("function", Value::Object(function)),
            ]);
            let index = (i + 1).to_string();
            fill(
                &listing.line,
                &[
                    ("name", tool.name.as_str()),
                    ("description", tool.description()),
                    ("parameters", params.as_str()),
                    ("function", function_json.as_str()),
                    ("openai", openai.as_str()),
                    ("index", index.as_str()),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join(&listing.separator)
}

/// `{history}`: earlier turns as text.
fn history_text(t: &Template, history: &[Message]) -> String {
    let h = &t.spec.history;
    if history.is_empty() {
        return h.empty.clone();
    }
    history
        .iter()
        .filter_map(|m| match m.role {
            Role::User => Some(format!("{}{}", h.user, m.content_str())),
            Role::Assistant => Some(format!("{}{}", h.assistant, m.content_str())),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fills a prompt field.
fn fill_prompt(text: &str, vars: &[(&str, &str)], date: Option<&str>) -> String {
    let text = if date.is_none() {
        drop_lines_with(text, "date")
    } else {
        text.to_owned()
    };
    fill(&text, vars)
}

/// The steps of one attempt as text: each step as written, then its results.
fn attempt_text(t: &Template, steps: &[TrajectoryStep]) -> Result<String> {
    let mut parts = Vec::new();
    let mut k = 0;
    for s in steps {
        let msg = step_message(t, &s.step, k)?;
        let mut text = msg.content_str().to_owned();
        if !msg.tool_calls.is_empty() {
            for c in &msg.tool_calls {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!(
                    "{}({})",
                    c.name,
                    json::inline(&Value::Object(c.arguments.clone()))
                ));
            }
        }
        parts.push(text);
        for m in observation_messages(t, &s.step, &s.observations, k) {
            let content = m.content_str();
            match (&t.spec.syntax, m.role) {
                (StepSyntax::Labeled(l), Role::Tool) => {
                    parts.push(format!("{}{}{}", l.observation, l.colon, content));
                }
                _ => parts.push(content.to_owned()),
            }
        }
        k += s.step.calls().len();
    }
    Ok(parts.join("\n"))
}

/// The prompt of one model call.
pub(crate) fn prompt(
    t: &Template,
    tools: &[ToolSpec],
    query: &str,
    history: &[Message],
    steps: &[TrajectoryStep],
    failed_attempts: &[Vec<TrajectoryStep>],
    date: Option<&str>,
) -> Result<Vec<Message>> {
    let spec = &t.spec;
    let tools_text = tool_list(t, tools);
    let names = tools
        .iter()
        .map(|x| x.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let history_in_text = spec.system.contains("{history}") || spec.user.contains("{history}");
    let hist = history_text(t, history);
    let vars = [
        ("tools", tools_text.as_str()),
        ("tool_names", names.as_str()),
        ("query", query),
        ("history", hist.as_str()),
        ("date", date.unwrap_or("")),
    ];
    let mut out = Vec::new();
    let system = fill_prompt(&spec.system, &vars, date);
    if !system.is_empty() {
        out.push(Message::system(system));
    }
    if !history_in_text {
        out.extend(history.iter().cloned());
    }
    let mut user = fill_prompt(&spec.user, &vars, date);
    if !failed_attempts.is_empty() {
        let Some(r) = &spec.restart else {
            return Err(Error::Render {
                template: t.id().to_owned(),
                message: "failed attempts given, but the template has no restart prompt".into(),
            });
        };
        let mut attempts = Vec::new();
        for (n, a) in failed_attempts.iter().enumerate() {
            let steps_text = attempt_text(t, a)?;
            let n = (n + 1).to_string();
            attempts.push(fill(&r.attempt, &[("n", &n), ("steps", &steps_text)]));
        }
        let count = failed_attempts.len().to_string();
        let restart = fill(
            &r.text,
            &[
                ("attempts", &attempts.join(&r.separator)),
                ("count", &count),
            ],
        );
        user.push_str("\n\n");
        user.push_str(&restart);
    }
    out.push(Message::user(user));
    let mut k = 0;
    for s in steps {
        out.push(step_message(t, &s.step, k)?);
        out.extend(observation_messages(t, &s.step, &s.observations, k));
        k += s.step.calls().len();
    }
    Ok(out)
}

/// The separate final-answer prompt.
pub(crate) fn final_answer_prompt(
    t: &Template,
    tools: &[ToolSpec],
    query: &str,
    history: &[Message],
    steps: &[TrajectoryStep],
    date: Option<&str>,
) -> Result<Vec<Message>> {
    let Some(f) = &t.spec.final_answer_prompt else {
        return Err(Error::Render {
            template: t.id().to_owned(),
            message: "the template has no final-answer prompt".into(),
        });
    };
    let mut results = Vec::new();
    for s in steps {
        for (i, c) in s.step.calls().iter().enumerate() {
            let obs = s.observations.get(i).map_or("", |o| o.content.as_str());
            let n = (results.len() + 1).to_string();
            let args = json::inline(&Value::Object(c.arguments.clone()));
            results.push(fill(
                &f.result,
                &[
                    ("n", &n),
                    ("name", &c.name),
                    ("arguments", &args),
                    ("observation", obs),
                    ("thought", s.step.thought().unwrap_or("")),
                ],
            ));
        }
    }
    let results = if results.is_empty() {
        f.no_results.clone()
    } else {
        results.join(&f.separator)
    };
    let tools_text = tool_list(t, tools);
    let names = tools
        .iter()
        .map(|x| x.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let hist = history_text(t, history);
    let vars = [
        ("tools", tools_text.as_str()),
        ("tool_names", names.as_str()),
        ("query", query),
        ("history", hist.as_str()),
        ("date", date.unwrap_or("")),
        ("results", results.as_str()),
    ];
    let mut out = Vec::new();
    let system = fill_prompt(&f.system, &vars, date);
    if !system.is_empty() {
        out.push(Message::system(system));
    }
    out.push(Message::user(fill_prompt(&f.user, &vars, date)));
    Ok(out)
}
