//! JSON-object steps (AutoGPT: thoughts plus one command), native OpenAI `tool_calls`, and
//! plain-text answers.

use agentune_schema::{JsonSyntax, Message, Step, TaggedSyntax, ToolCall};
use serde_json::{Map, Value};

use super::labeled::lenient_object;
use super::text::{split_think, unfence};
use super::{ParseError, ParseMode, Template, json, tagged};
use crate::error::{Error, Result};

/// Splits a thought into the thoughts object's fields: the first field is the text up to the
/// first `\n<field>: ` marker of a later field, each later field its marked paragraph.
pub(crate) fn thought_fields(j: &JsonSyntax, thought: Option<&str>) -> Vec<String> {
    let mut out = vec![String::new(); j.thought_fields.len()];
    let Some(thought) = thought else {
        return out;
    };
    let text = format!("\n{thought}");
    // (field index, marker start, value start)
    let mut marks = Vec::new();
    let mut from = 0;
    for (k, f) in j.thought_fields.iter().enumerate().skip(1) {
        let marker = format!("\n{f}: ");
        if let Some(p) = text[from..].find(&marker) {
            let at = from + p;
            marks.push((k, at, at + marker.len()));
            from = at + marker.len();
        }
    }
    let first_end = marks.first().map_or(text.len(), |m| m.1);
    out[0] = text[1..first_end.max(1)].to_owned();
    for (n, &(k, _, value_start)) in marks.iter().enumerate() {
        let value_end = marks.get(n + 1).map_or(text.len(), |m| m.1);
        out[k] = text[value_start..value_end].to_owned();
    }
    out
}

/// The thought made of the thoughts object's fields (the inverse of [`thought_fields`]).
fn join_thought(j: &JsonSyntax, values: &[String]) -> Option<String> {
    let mut out = values.first().cloned().unwrap_or_default();
    for (f, v) in j.thought_fields.iter().zip(values).skip(1) {
        if !v.is_empty() {
            out.push('\n');
            out.push_str(f);
            out.push_str(": ");
            out.push_str(v);
        }
    }
    let out = out.strip_prefix('\n').map(str::to_owned).unwrap_or(out);
    (!out.is_empty()).then_some(out)
}

/// The JSON reply of one step, keys in the template's order, four-space indentation.
pub(crate) fn render_json(t: &Template, j: &JsonSyntax, step: &Step) -> Result<String> {
    let (name, args) = match step {
        Step::ToolCalls { calls, .. } => {
            let [c] = calls.as_slice() else {
                return Err(Error::Render {
                    template: t.id().to_owned(),
                    message: "one command per reply".into(),
                });
            };
            if c.name == j.finish_command || j.give_up_command.as_deref() == Some(c.name.as_str()) {
                return Err(Error::Render {
                    template: t.id().to_owned(),
                    message: format!("`{}` is a reserved command", c.name),
                });
            }
            (c.name.clone(), Value::Object(c.arguments.clone()))
        }
        Step::FinalAnswer { answer, .. } => {
            let mut m = Map::new();
            m.insert(j.answer_arg.clone(), Value::String(answer.clone()));
            (j.finish_command.clone(), Value::Object(m))
        }
        Step::GiveUp { restart: false, .. } if j.give_up_command.is_some() => (
            j.give_up_command.clone().unwrap_or_default(),
            Value::Object(Map::new()),
        ),
        Step::GiveUp { .. } => {
            return Err(Error::Render {
                template: t.id().to_owned(),
                message: "the template cannot write this give-up".into(),
            });
        }
    };
    let fields = thought_fields(j, step.thought());
    let mut out = String::from("{\n");
    out.push_str(&format!("    {}: {{\n", json::quote(&j.thoughts_key)));
    for (k, (f, v)) in j.thought_fields.iter().zip(&fields).enumerate() {
        let comma = if k + 1 < fields.len() { "," } else { "" };
        out.push_str(&format!(
            "        {}: {}{comma}\n",
            json::quote(f),
            json::quote(v)
        ));
    }
    out.push_str("    },\n");
    out.push_str(&format!("    {}: {{\n", json::quote(&j.command_key)));
    out.push_str(&format!(
        "        {}: {},\n",
        json::quote(&j.name_key),
        json::quote(&name)
    ));
    out.push_str(&format!(
        "        {}: {}\n",
        json::quote(&j.args_key),
        json::inline(&args)
    ));
    out.push_str("    }\n}");
    Ok(out)
}

fn key_at(text: &str, key: &str) -> usize {
    text.find(&json::quote(key)).unwrap_or(0)
}

/// Parses an AutoGPT-style JSON reply.
pub(crate) fn parse_json(j: &JsonSyntax, text: &str, mode: ParseMode) -> Result<Step, ParseError> {
    let strict = mode == ParseMode::Strict;
    let value = if strict {
        json::read_exact(text, 0, text.len(), false)?
    } else {
        let (s, e) = unfence(text, 0, text.len());
        let region = &text[..e];
        let Some(k) = region[s..].find('{') else {
            return Err(
                ParseError::at(text, s, "the reply holds no JSON object").expected(text, "`{`")
            );
        };
        json::read_value(region, s + k, true)?.0
    };
    let Value::Object(top) = value else {
        return Err(ParseError::at(text, 0, "the reply is not a JSON object").expected(text, "`{`"));
    };
    if strict
        && let Some(k) = top
            .keys()
            .find(|k| **k != j.thoughts_key && **k != j.command_key)
    {
        return Err(
            ParseError::at(text, key_at(text, k), format!("unexpected key `{k}`")).expected(
                text,
                format!("only `{}` and `{}`", j.thoughts_key, j.command_key),
            ),
        );
    }
    // Thoughts.
    let mut values = vec![String::new(); j.thought_fields.len()];
    match top.get(&j.thoughts_key) {
        Some(Value::Object(th)) => {
            for (k, f) in j.thought_fields.iter().enumerate() {
                match th.get(f) {
                    Some(Value::String(s)) => values[k] = s.clone(),
                    Some(other) if !strict => values[k] = json::inline(other),
                    Some(_) => {
                        return Err(ParseError::at(
                            text,
                            key_at(text, f),
                            format!("field `{}.{f}` must be a string", j.thoughts_key),
                        ));
                    }
                    None if strict => {
                        return Err(ParseError::at(
                            text,
                            key_at(text, &j.thoughts_key),
                            format!("field `{}.{f}` is missing", j.thoughts_key),
                        ));
                    }
                    None => {}
                }
            }
            if strict {
                if let Some(k) = th.keys().find(|k| !j.thought_fields.contains(k)) {
                    return Err(ParseError::at(
                        text,
                        key_at(text, k),
                        format!("unexpected field `{}.{k}`", j.thoughts_key),
                    ));
                }
            } else {
                for v in &mut values {
                    *v = v.trim().to_owned();
                }
            }
        }
        Some(Value::String(s)) if !strict => values[0] = s.trim().to_owned(),
        None if !strict => {}
        _ => {
            return Err(ParseError::at(
                text,
                key_at(text, &j.thoughts_key),
                format!("field `{}` must be an object of strings", j.thoughts_key),
            ));
        }
    }
    let thought = join_thought(j, &values);
    // Command.
    let (name, args) = match top.get(&j.command_key) {
        Some(Value::Object(cmd)) => {
            if strict && let Some(k) = cmd.keys().find(|k| **k != j.name_key && **k != j.args_key) {
                return Err(ParseError::at(
                    text,
                    key_at(text, k),
                    format!("unexpected field `{}.{k}`", j.command_key),
                ));
            }
            let name = match cmd.get(&j.name_key) {
                Some(Value::String(s)) if !s.is_empty() => {
                    if strict {
                        s.clone()
                    } else {
                        s.trim().to_owned()
                    }
                }
                _ => {
                    return Err(ParseError::at(
                        text,
                        key_at(text, &j.command_key),
                        format!(
                            "field `{}.{}` must be a non-empty string",
                            j.command_key, j.name_key
                        ),
                    ));
                }
            };
            let args = cmd.get(&j.args_key).or_else(|| {
                if strict {
                    None
                } else {
                    cmd.get("arguments").or_else(|| cmd.get("parameters"))
                }
            });
            let args = match args {
                Some(Value::Object(m)) => m.clone(),
                None | Some(Value::Null) if !strict => Map::new(),
                Some(Value::String(s)) if !strict => lenient_object(s, 0, s.len())?,
                _ => {
                    return Err(ParseError::at(
                        text,
                        key_at(text, &j.args_key),
                        format!("field `{}.{}` must be an object", j.command_key, j.args_key),
                    ));
                }
            };
            (name, args)
        }
        Some(Value::String(s)) if !strict && !s.trim().is_empty() => {
            (s.trim().to_owned(), Map::new())
        }
        _ => {
            return Err(ParseError::at(
                text,
                key_at(text, &j.command_key),
                format!("the reply needs a `{}` object", j.command_key),
            ));
        }
    };
    if strict && (name.chars().any(char::is_whitespace)) {
        return Err(ParseError::at(
            text,
            key_at(text, &j.name_key),
            "the command name has whitespace",
        ));
    }
    let is = |a: &str, b: &str| {
        if strict {
            a == b
        } else {
            a.eq_ignore_ascii_case(b)
        }
    };
    if is(&name, &j.finish_command) {
        let answer = match args.get(&j.answer_arg) {
            Some(Value::String(s)) if strict && args.len() == 1 => s.clone(),
            Some(Value::String(s)) if !strict => s.trim().to_owned(),
            Some(other) if !strict => json::inline(other),
            None if !strict && args.len() == 1 => match args.values().next() {
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(other) => json::inline(other),
                None => String::new(),
            },
            _ => {
                return Err(ParseError::at(
                    text,
                    key_at(text, &j.args_key),
                    format!(
                        "`{}` takes exactly one string argument `{}`",
                        j.finish_command, j.answer_arg
                    ),
                ));
            }
        };
        return Ok(Step::FinalAnswer { thought, answer });
    }
    if j.give_up_command.as_deref().is_some_and(|g| is(&name, g)) {
        return Ok(Step::GiveUp {
            thought,
            restart: false,
        });
    }
    Ok(Step::ToolCalls {
        thought,
        calls: vec![ToolCall::new(name, args)],
    })
}

/// A plain-text answer (the native family's text replies, final-answer prompts).
pub(crate) fn plain_answer(text: &str, mode: ParseMode) -> Result<Step, ParseError> {
    let answer = match mode {
        ParseMode::Strict => {
            if text.trim().is_empty() {
                return Err(ParseError::at(text, 0, "the answer is empty").expected(text, "text"));
            }
            let lead = text.len() - text.trim_start().len();
            if lead > 0 {
                return Err(ParseError::at(text, 0, "whitespace before the answer"));
            }
            if text.trim_end().len() < text.len() {
                return Err(ParseError::at(
                    text,
                    text.trim_end().len(),
                    "whitespace after the answer",
                )
                .expected(text, "end of reply"));
            }
            text.to_owned()
        }
        ParseMode::Lenient => {
            let t = text.trim();
            if t.is_empty() {
                return Err(ParseError::at(text, 0, "the answer is empty").expected(text, "text"));
            }
            t.to_owned()
        }
    };
    Ok(Step::FinalAnswer {
        thought: None,
        answer,
    })
}

/// The native family's text reply: an answer. Leniently, `<tool_call>` blocks written into the
/// text (a model served without a tool-call parser) are read as calls.
pub(crate) fn parse_native_text(text: &str, mode: ParseMode) -> Result<Step, ParseError> {
    if mode == ParseMode::Lenient && text.contains("<tool_call>") {
        let hermes = TaggedSyntax {
            open: "<tool_call>".into(),
            close: "</tool_call>".into(),
            fence: None,
            name_key: "name".into(),
            args_key: "arguments".into(),
            thought_separator: "\n".into(),
            block_separator: "\n".into(),
            parallel: true,
        };
        return tagged::parse(&hermes, text, mode);
    }
    if mode == ParseMode::Lenient
        && let Some((inner, rest)) = split_think(text)
    {
        return match plain_answer(rest, mode)? {
            Step::FinalAnswer { answer, .. } => Ok(Step::FinalAnswer {
                thought: (!inner.is_empty()).then_some(inner),
                answer,
            }),
            other => Ok(other),
        };
    }
    plain_answer(text, mode)
}

/// Structured `tool_calls` of an assistant message.
pub(crate) fn native_calls(
    t: &Template,
    message: &Message,
    mode: ParseMode,
) -> Result<Step, ParseError> {
    let text = message.content_str();
    let strict = mode == ParseMode::Strict;
    let thought = message
        .content
        .as_deref()
        .map(|c| {
            if strict {
                c.to_owned()
            } else {
                c.trim().to_owned()
            }
        })
        .filter(|c| !c.is_empty());
    if strict {
        if let Some(th) = &thought
            && th.trim() != th
        {
            return Err(ParseError::at(
                text,
                0,
                "whitespace around the text of a tool-calling message",
            ));
        }
        if message.tool_calls.len() > 1 && !t.parallel_calls() {
            return Err(
                ParseError::at(text, 0, "the template allows one call per step")
                    .found(format!("{} calls", message.tool_calls.len())),
            );
        }
    }
    let mut calls = Vec::new();
    for (i, c) in message.tool_calls.iter().enumerate() {
        let name = if strict {
            c.name.clone()
        } else {
            c.name.trim().to_owned()
        };
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(
                ParseError::at(text, 0, format!("tool_calls[{i}]: bad tool name"))
                    .found(format!("{:?}", c.name)),
            );
        }
        let mut call = c.clone();
        call.name = name;
        if !t.native_tools() {
            call.id = None;
        }
        calls.push(call);
        if !strict && !t.parallel_calls() {
            break;
        }
    }
    Ok(Step::ToolCalls { thought, calls })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax() -> JsonSyntax {
        JsonSyntax {
            thoughts_key: "thoughts".into(),
            thought_fields: ["text", "reasoning", "plan", "criticism", "speak"]
                .map(String::from)
                .to_vec(),
            command_key: "command".into(),
            name_key: "name".into(),
            args_key: "args".into(),
            finish_command: "finish".into(),
            answer_arg: "response".into(),
            give_up_command: None,
        }
    }

    #[test]
    fn thoughts_split_and_join() {
        let j = syntax();
        let t = "Look it up.\nplan: - search\n- answer\nspeak: One moment.";
        let f = thought_fields(&j, Some(t));
        assert_eq!(
            f,
            ["Look it up.", "", "- search\n- answer", "", "One moment."]
        );
        assert_eq!(join_thought(&j, &f).as_deref(), Some(t));
        let f = thought_fields(&j, Some("reasoning: only this"));
        assert_eq!(f[0], "");
        assert_eq!(f[1], "only this");
        assert_eq!(
            join_thought(&j, &f).as_deref(),
            Some("reasoning: only this")
        );
        assert_eq!(join_thought(&j, &thought_fields(&j, None)), None);
    }
}
