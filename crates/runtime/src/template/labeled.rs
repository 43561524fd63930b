//! Labeled text steps (ReAct, ToolLLaMA): `Thought: ...`, `Action: name`,
//! `Action Input: {...}`, `Final Answer: ...`, or a finish action (`Action: Finish`).

use agentune_schema::{ArgumentEncoding, LabeledSyntax, Step, ToolCall};
use serde_json::{Map, Value};

use super::text::{match_label_loose, trim_range, unfence};
use super::{ParseError, ParseMode, Template, json};
use crate::error::{Error, Result};

/// The labels of the syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Thought,
    Action,
    ActionInput,
    Observation,
    FinalAnswer,
}

/// The labels with their text, longest first (so `Action Input` wins over `Action`).
pub(crate) fn label_table(l: &LabeledSyntax) -> Vec<(Label, String)> {
    let mut out = vec![
        (Label::Thought, l.thought.clone()),
        (Label::Action, l.action.clone()),
        (Label::ActionInput, l.action_input.clone()),
        (Label::Observation, l.observation.clone()),
    ];
    if let Some(f) = &l.final_answer {
        out.push((Label::FinalAnswer, f.clone()));
    }
    out.sort_by_key(|(_, s)| std::cmp::Reverse(s.chars().count()));
    out
}

/// A label compared the lenient way: lowercase, without spaces and underscores.
pub(crate) fn loose_key(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn label_text(l: &LabeledSyntax, label: Label) -> &str {
    match label {
        Label::Thought => &l.thought,
        Label::Action => &l.action,
        Label::ActionInput => &l.action_input,
        Label::Observation => &l.observation,
        Label::FinalAnswer => l.final_answer.as_deref().unwrap_or(""),
    }
}

fn shown(l: &LabeledSyntax, label: Label) -> String {
    format!("`{}{}`", label_text(l, label), l.colon.trim_end())
}

/// The text of one step.
pub(crate) fn render(t: &Template, l: &LabeledSyntax, step: &Step) -> Result<String> {
    let err = |m: String| Error::Render {
        template: t.id().to_owned(),
        message: m,
    };
    let lab = |label: &str| format!("{label}{}", l.colon);
    // Free text must not hold a line that reads as a label: the reply would parse differently.
    let ambiguous = |what: &str, text: &str| -> Result<()> {
        for line in text.lines().skip(1) {
            if let Some((_, label)) = t
                .labels
                .iter()
                .find(|(_, name)| match_label_loose(line, name).is_some())
            {
                return Err(err(format!(
                    "the {what} has a line starting with the label `{label}`: {line:?}"
                )));
            }
        }
        Ok(())
    };
    if let Some(th) = step.thought() {
        ambiguous("thought", th)?;
    }
    if let Step::FinalAnswer { answer, .. } = step
        && l.final_answer.is_some()
    {
        ambiguous("answer", answer)?;
    }
    let mut out = String::new();
    if let Some(th) = step.thought() {
        out.push_str(&lab(&l.thought));
        out.push_str(th);
        out.push('\n');
    }
    let finish_call = |pairs: &[(&str, Value)]| {
        format!(
            "{}{}\n{}{}",
            lab(&l.action),
            l.finish.as_ref().map_or("", |f| f.name.as_str()),
            lab(&l.action_input),
            json::inline_pairs(pairs)
        )
    };
    match step {
        Step::ToolCalls { calls, .. } => {
            for (i, c) in calls.iter().enumerate() {
                if c.name.is_empty() || c.name.chars().any(char::is_whitespace) {
                    return Err(err(format!(
                        "tool name `{}` is empty or has whitespace",
                        c.name
                    )));
                }
                if l.finish.as_ref().is_some_and(|f| f.name == c.name) {
                    return Err(err(format!("`{}` is the template's finish action", c.name)));
                }
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&lab(&l.action));
                out.push_str(&c.name);
                out.push('\n');
                out.push_str(&lab(&l.action_input));
                match &l.arguments {
                    ArgumentEncoding::Json => {
                        out.push_str(&json::inline(&Value::Object(c.arguments.clone())));
                    }
                    ArgumentEncoding::Raw { key } => match c.arguments.get(key) {
                        Some(Value::String(s)) if c.arguments.len() == 1 => out.push_str(s),
                        _ => {
                            return Err(err(format!(
                                "raw-string arguments need exactly one string argument `{key}`"
                            )));
                        }
                    },
                }
            }
        }
        Step::FinalAnswer { answer, .. } => match (&l.final_answer, &l.finish) {
            (Some(label), _) => {
                out.push_str(&lab(label));
                out.push_str(answer);
            }
            (None, Some(f)) => out.push_str(&finish_call(&[
                (&f.type_key, Value::String(f.answer_value.clone())),
                (&f.answer_key, Value::String(answer.clone())),
            ])),
            (None, None) => return Err(err("no way to write a final answer".into())),
        },
        Step::GiveUp { restart, .. } => {
            let value = l.finish.as_ref().and_then(|f| {
                if *restart {
                    f.restart_value.clone()
                } else {
                    f.give_up_value.clone()
                }
            });
            match (&l.finish, value) {
                (Some(f), Some(v)) => {
                    out.push_str(&finish_call(&[(&f.type_key, Value::String(v))]));
                }
                _ => return Err(err("the template cannot write this give-up".into())),
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
struct Seg {
    label: Label,
    /// Offset of the label's line.
    at: usize,
    /// Offset of the content after the label.
    content: usize,
}

/// Parses a labeled reply.
pub(crate) fn parse(
    t: &Template,
    l: &LabeledSyntax,
    text: &str,
    mode: ParseMode,
) -> Result<Step, ParseError> {
    let strict = mode == ParseMode::Strict;
    let (start, mut end) = if strict {
        (0, text.len())
    } else {
        unfence(text, 0, text.len())
    };
    if strict
        && !t
            .labels
            .iter()
            .any(|(_, name)| text.starts_with(&format!("{name}{}", l.colon)))
    {
        return Err(
            ParseError::at(text, 0, "the reply must start with a label").expected(
                text,
                format!("`{}{}` or another label", l.thought, l.colon.trim_end()),
            ),
        );
    }
    let mut segs = scan(t, l, text, start, end, strict)?;
    if let Some(k) = segs.iter().position(|s| s.label == Label::Observation) {
        if strict {
            return Err(ParseError::at(
                text,
                segs[k].at,
                format!(
                    "the reply must stop before {}: the tool's result is not the model's to write",
                    shown(l, Label::Observation)
                ),
            ));
        }
        end = segs[k].at;
        segs.truncate(k);
    }
    let content = |i: usize| -> (usize, usize) {
        let s = segs[i].content;
        let e = segs
            .get(i + 1)
            .map_or(end, |n| n.at.saturating_sub(1).max(s));
        if strict {
            (s, e)
        } else {
            trim_range(text, s, e)
        }
    };
    let expected_start = match &l.final_answer {
        Some(_) => format!(
            "{}, {} or {}",
            shown(l, Label::Thought),
            shown(l, Label::Action),
            shown(l, Label::FinalAnswer)
        ),
        None => format!(
            "{} or {}",
            shown(l, Label::Thought),
            shown(l, Label::Action)
        ),
    };
    let Some(first) = segs.first().copied() else {
        return Err(ParseError::at(text, start, "no label found").expected(text, expected_start));
    };
    let preamble = trim_range(text, start, first.at);
    if strict && first.at > start {
        return Err(ParseError::at(text, start, "text before the first label")
            .expected(text, expected_start));
    }

    let mut i = 0;
    let mut thought = None;
    if first.label == Label::Thought {
        let (s, e) = content(0);
        thought = Some(text[s..e].to_owned());
        i = 1;
    } else if !strict && preamble.1 > preamble.0 {
        thought = Some(text[preamble.0..preamble.1].to_owned());
    }
    if !strict {
        thought = thought.filter(|t| !t.is_empty());
        // Skip anything before the first action or answer (a second thought, say).
        while i < segs.len() && !matches!(segs[i].label, Label::Action | Label::FinalAnswer) {
            if segs[i].label == Label::ActionInput {
                return Err(ParseError::at(
                    text,
                    segs[i].at,
                    format!(
                        "{} without {} before it",
                        shown(l, Label::ActionInput),
                        shown(l, Label::Action)
                    ),
                ));
            }
            i += 1;
        }
    }
    let Some(seg) = segs.get(i).copied() else {
        let after = match &l.final_answer {
            Some(_) => format!(
                "{} or {}",
                shown(l, Label::Action),
                shown(l, Label::FinalAnswer)
            ),
            None => shown(l, Label::Action),
        };
        return Err(ParseError::at(text, end, "the reply has no action").expected(text, after));
    };
    match seg.label {
        Label::FinalAnswer => {
            if strict && let Some(next) = segs.get(i + 1) {
                return Err(
                    ParseError::at(text, next.at, "nothing may follow the final answer")
                        .expected(text, "end of reply"),
                );
            }
            let (s, e) = content(i);
            if s == e {
                return Err(ParseError::at(text, s, "the final answer is empty"));
            }
            Ok(Step::FinalAnswer {
                thought,
                answer: text[s..e].to_owned(),
            })
        }
        Label::Action => {
            let mut calls = Vec::new();
            loop {
                let (ns, ne) = content(i);
                let name = action_name(text, ns, ne, strict)?;
                let has_input = segs
                    .get(i + 1)
                    .is_some_and(|s| s.label == Label::ActionInput);
                let args = if has_input {
                    let (s, e) = content(i + 1);
                    i += 2;
                    arguments(l, text, s, e, strict)?
                } else if strict {
                    let at = segs.get(i + 1).map_or(end, |s| s.at);
                    return Err(ParseError::at(text, at, "the action has no input")
                        .expected(text, shown(l, Label::ActionInput)));
                } else {
                    i += 1;
                    Map::new()
                };
                if let Some(f) = &l.finish {
                    let is_finish = if strict {
                        name == f.name
                    } else {
                        name.eq_ignore_ascii_case(&f.name)
                    };
                    if is_finish {
                        if !calls.is_empty() {
                            return Err(ParseError::at(
                                text,
                                ns,
                                format!("`{}` cannot follow other actions", f.name),
                            ));
                        }
                        if strict && let Some(next) = segs.get(i) {
                            return Err(ParseError::at(
                                text,
                                next.at,
                                format!("nothing may follow `{}`", f.name),
                            )
                            .expected(text, "end of reply"));
                        }
                        return finish(l, text, ns, args, thought, strict);
                    }
                }
                calls.push(ToolCall::new(name, args));
                match segs.get(i) {
                    None => break,
                    Some(next) if !strict && (!l.parallel || next.label != Label::Action) => break,
                    Some(next) if next.label == Label::Action && l.parallel => {}
                    Some(next) => {
                        let message = if next.label == Label::Action {
                            "the template allows one action per reply"
                        } else {
                            "unexpected label after the action"
                        };
                        return Err(
                            ParseError::at(text, next.at, message).expected(text, "end of reply")
                        );
                    }
                }
            }
            Ok(Step::ToolCalls { thought, calls })
        }
        Label::ActionInput => Err(ParseError::at(
            text,
            seg.at,
            format!("{} before any action", shown(l, Label::ActionInput)),
        )
        .expected(text, shown(l, Label::Action))),
        Label::Thought | Label::Observation => {
            Err(
                ParseError::at(text, seg.at, "a second thought before the action")
                    .expected(text, shown(l, Label::Action)),
            )
        }
    }
}

/// Finds the label at the start of each line of `text[start..end]`.
fn scan(
    t: &Template,
    l: &LabeledSyntax,
    text: &str,
    start: usize,
    end: usize,
    strict: bool,
) -> Result<Vec<Seg>, ParseError> {
    let mut segs = Vec::new();
    let mut line_start = start;
    while line_start < end {
        let line_end = text[line_start..end]
            .find('\n')
            .map_or(end, |k| line_start + k);
        let line = &text[line_start..line_end];
        for (label, name) in &t.labels {
            let exact = format!("{name}{}", l.colon);
            if line.starts_with(&exact) {
                segs.push(Seg {
                    label: *label,
                    at: line_start,
                    content: line_start + exact.len(),
                });
                break;
            }
            if let Some(n) = match_label_loose(line, name) {
                if strict {
                    return Err(ParseError::at(
                        text,
                        line_start,
                        format!("label not written exactly as `{exact}`"),
                    )
                    .expected(text, format!("{exact:?}")));
                }
                segs.push(Seg {
                    label: *label,
                    at: line_start,
                    content: line_start + n,
                });
                break;
            }
        }
        line_start = line_end + 1;
    }
    Ok(segs)
}

pub(crate) fn action_name(
    text: &str,
    s: usize,
    e: usize,
    strict: bool,
) -> Result<String, ParseError> {
    let raw = &text[s..e];
    if strict {
        if raw.is_empty() || raw.chars().any(char::is_whitespace) {
            return Err(ParseError::at(text, s, "the action is not one tool name")
                .expected(text, "a tool name"));
        }
        return Ok(raw.to_owned());
    }
    let first = raw.lines().next().unwrap_or("").trim();
    let first = first.split('(').next().unwrap_or("").trim();
    let name = first.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | '*' | '[' | ']'));
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(
            ParseError::at(text, s, "the action is not a tool name").expected(text, "a tool name")
        );
    }
    Ok(name.to_owned())
}

/// The arguments in `text[s..e]`.
fn arguments(
    l: &LabeledSyntax,
    text: &str,
    s: usize,
    e: usize,
    strict: bool,
) -> Result<Map<String, Value>, ParseError> {
    if let ArgumentEncoding::Raw { key } = &l.arguments {
        let mut raw = &text[s..e];
        if !strict {
            let (us, ue) = unfence(text, s, e);
            raw = text[us..ue].trim_matches(|c| c == '"' || c == '\'');
        }
        let mut map = Map::new();
        map.insert(key.clone(), Value::String(raw.to_owned()));
        return Ok(map);
    }
    if strict {
        let v = json::read_exact(text, s, e, false)?;
        return match v {
            Value::Object(m) => Ok(m),
            _ => Err(
                ParseError::at(text, s, "the action input is not a JSON object")
                    .expected(text, "`{`"),
            ),
        };
    }
    lenient_object(text, s, e)
}

/// A JSON object somewhere in `text[s..e]`, read the relaxed way; an empty range is `{}`.
pub(crate) fn lenient_object(
    text: &str,
    s: usize,
    e: usize,
) -> Result<Map<String, Value>, ParseError> {
    let (us, ue) = unfence(text, s, e);
    if us == ue {
        return Ok(Map::new());
    }
    let region = &text[..ue];
    match region[us..].find('{') {
        Some(k) => match json::read_value(region, us + k, true)?.0 {
            Value::Object(m) => Ok(m),
            _ => Err(ParseError::at(text, us + k, "not a JSON object")),
        },
        None => {
            // A JSON string holding the object, as some models write it.
            if region[us..].starts_with('"')
                && let Ok((Value::String(inner), _)) = json::read_value(region, us, true)
                && let Ok((Value::Object(m), _)) = json::read_value(&inner, 0, true)
            {
                return Ok(m);
            }
            Err(
                ParseError::at(text, us, "the action input is not a JSON object")
                    .expected(text, "`{`"),
            )
        }
    }
}

fn finish(
    l: &LabeledSyntax,
    text: &str,
    at: usize,
    args: Map<String, Value>,
    thought: Option<String>,
    strict: bool,
) -> Result<Step, ParseError> {
    let Some(f) = &l.finish else {
        return Err(ParseError::at(text, at, "no finish action"));
    };
    let kind = args.get(&f.type_key).and_then(Value::as_str);
    let answer = args.get(&f.answer_key);
    let values = [
        Some(&f.answer_value),
        f.restart_value.as_ref(),
        f.give_up_value.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|v| format!("`{v}`"))
    .collect::<Vec<_>>()
    .join(", ");
    let bad_kind = || {
        ParseError::at(text, at, format!("`{}` needs `{}`", f.name, f.type_key))
            .expected(text, format!("one of {values}"))
    };
    let kind = match kind {
        Some(k) => k,
        None if !strict && answer.is_some() => f.answer_value.as_str(),
        None => return Err(bad_kind()),
    };
    let extra = |allowed: &[&str]| {
        args.keys()
            .find(|k| !allowed.contains(&k.as_str()))
            .cloned()
    };
    if kind == f.answer_value {
        if strict && let Some(k) = extra(&[&f.type_key, &f.answer_key]) {
            return Err(ParseError::at(
                text,
                at,
                format!("unexpected argument `{k}` of `{}`", f.name),
            ));
        }
        let answer = match answer {
            Some(Value::String(s)) => s
                .trim_matches(|c: char| !strict && c.is_whitespace())
                .to_owned(),
            Some(other) if !strict => json::inline(other),
            _ => {
                return Err(ParseError::at(
                    text,
                    at,
                    format!(
                        "`{}` gives an answer without `{}` (a string)",
                        f.name, f.answer_key
                    ),
                ));
            }
        };
        return Ok(Step::FinalAnswer { thought, answer });
    }
    let restart = if f.restart_value.as_deref() == Some(kind) {
        true
    } else if f.give_up_value.as_deref() == Some(kind) {
        false
    } else {
        return Err(bad_kind().found(format!("`{kind}`")));
    };
    if strict && let Some(k) = extra(&[&f.type_key]) {
        return Err(ParseError::at(
            text,
            at,
            format!("unexpected argument `{k}` of `{}`", f.name),
        ));
    }
    Ok(Step::GiveUp { thought, restart })
}
