//! Tagged steps (Hermes `<tool_call>{json}</tool_call>`, ModelScope
//! `<|startofthink|>```JSON {json} ```<|endofthink|>`): optional free text, then one block per
//! call; a reply without blocks is the final answer.

use agentune_schema::{Step, TaggedSyntax, ToolCall};
use serde_json::{Map, Value};

use super::labeled::lenient_object;
use super::structured::plain_answer;
use super::text::{split_think, trim_range, unfence};
use super::{ParseError, ParseMode, Template, json};
use crate::error::{Error, Result};

/// The text of one step.
pub(crate) fn render(t: &Template, s: &TaggedSyntax, step: &Step) -> Result<String> {
    // Free text holding a tag would parse as (part of) a call.
    let text = match step {
        Step::ToolCalls { thought, .. } => thought.as_deref(),
        Step::FinalAnswer { answer, .. } => Some(answer.as_str()),
        Step::GiveUp { .. } => None,
    };
    if let Some(text) = text
        && let Some(tag) = [&s.open, &s.close]
            .into_iter()
            .find(|tag| text.contains(tag.as_str()))
    {
        return Err(Error::Render {
            template: t.id().to_owned(),
            message: format!("the text holds the tag `{tag}`"),
        });
    }
    match step {
        Step::ToolCalls { thought, calls } => {
            let mut out = String::new();
            if let Some(th) = thought {
                out.push_str(th);
                out.push_str(&s.thought_separator);
            }
            for (i, c) in calls.iter().enumerate() {
                if c.name.is_empty() || c.name.chars().any(char::is_whitespace) {
                    return Err(Error::Render {
                        template: t.id().to_owned(),
                        message: format!("tool name `{}` is empty or has whitespace", c.name),
                    });
                }
                if i > 0 {
                    out.push_str(&s.block_separator);
                }
                out.push_str(&s.open);
                let body = json::inline_pairs(&[
                    (&s.name_key, Value::String(c.name.clone())),
                    (&s.args_key, Value::Object(c.arguments.clone())),
                ]);
                match &s.fence {
                    Some(f) => {
                        out.push_str(f);
                        out.push('\n');
                        out.push_str(&body);
                        out.push_str("\n```");
                    }
                    None => {
                        out.push('\n');
                        out.push_str(&body);
                        out.push('\n');
                    }
                }
                out.push_str(&s.close);
            }
            Ok(out)
        }
        Step::FinalAnswer { answer, .. } => Ok(answer.clone()),
        Step::GiveUp { .. } => Err(Error::Render {
            template: t.id().to_owned(),
            message: "the template has no give-up".into(),
        }),
    }
}

/// Parses a tagged reply.
pub(crate) fn parse(s: &TaggedSyntax, text: &str, mode: ParseMode) -> Result<Step, ParseError> {
    let strict = mode == ParseMode::Strict;
    let (start, end) = if strict {
        (0, text.len())
    } else if text.trim_start().starts_with("```") && !text.contains(&s.open) {
        unfence(text, 0, text.len())
    } else {
        trim_range(text, 0, text.len())
    };
    let Some(first) = text[start..end].find(&s.open).map(|k| start + k) else {
        if let Some(c) = text[start..end].find(&s.close) {
            if strict {
                return Err(ParseError::at(
                    text,
                    start + c,
                    format!("`{}` without `{}` before it", s.close, s.open),
                ));
            }
            // The opening tag was forgotten: read the call before the closing tag.
            let call = block_call(s, text, start, start + c, false)?;
            return Ok(Step::ToolCalls {
                thought: None,
                calls: vec![call],
            });
        }
        if !strict {
            // A bare call object without its tags.
            let (us, ue) = unfence(text, start, end);
            if text[us..ue].starts_with('{')
                && let Ok(call) = block_call(s, text, us, ue, false)
            {
                return Ok(Step::ToolCalls {
                    thought: None,
                    calls: vec![call],
                });
            }
        }
        if !strict && let Some((inner, rest)) = split_think(&text[start..end]) {
            return match plain_answer(rest, mode) {
                Ok(Step::FinalAnswer { answer, .. }) => Ok(Step::FinalAnswer {
                    thought: (!inner.is_empty()).then_some(inner),
                    answer,
                }),
                other => other,
            };
        }
        return plain_answer(&text[start..end], mode).map_err(|mut e| {
            e.offset += start;
            e
        });
    };
    let thought = if strict {
        if first == 0 {
            None
        } else {
            let prefix = &text[..first];
            let Some(th) = prefix.strip_suffix(s.thought_separator.as_str()) else {
                return Err(
                    ParseError::at(text, first, "bad separator between text and call")
                        .expected(text, format!("{:?}", s.thought_separator)),
                );
            };
            if th.is_empty() {
                return Err(ParseError::at(
                    text,
                    0,
                    "separator without text before the call",
                ));
            }
            Some(th.to_owned())
        }
    } else {
        let (a, b) = trim_range(text, start, first);
        match split_think(&text[a..b]) {
            Some((inner, rest)) => {
                let joined = [inner.as_str(), rest]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
                (!joined.is_empty()).then_some(joined)
            }
            None => (b > a).then(|| text[a..b].to_owned()),
        }
    };
    let mut calls = Vec::new();
    let mut at = first;
    loop {
        let inner_start = at + s.open.len();
        let (inner_end, after) = match text[inner_start..end].find(&s.close) {
            Some(k) => (inner_start + k, inner_start + k + s.close.len()),
            None if strict => {
                return Err(
                    ParseError::at(text, at, format!("`{}` is not closed", s.open))
                        .expected(text, format!("`{}`", s.close)),
                );
            }
            None => {
                let stop = text[inner_start..end]
                    .find(&s.open)
                    .map_or(end, |k| inner_start + k);
                (stop, stop)
            }
        };
        calls.push(block_call(s, text, inner_start, inner_end, strict)?);
        if strict {
            if after == end {
                break;
            }
            let next = after + s.block_separator.len();
            if text[after..].starts_with(&s.block_separator) && text[next..].starts_with(&s.open) {
                if !s.parallel {
                    return Err(ParseError::at(
                        text,
                        next,
                        "the template allows one call per reply",
                    )
                    .expected(text, "end of reply"));
                }
                at = next;
                continue;
            }
            return Err(
                ParseError::at(text, after, "text after the call").expected(text, "end of reply")
            );
        }
        match text[after..end].find(&s.open) {
            Some(k) if s.parallel => at = after + k,
            _ => break,
        }
    }
    Ok(Step::ToolCalls { thought, calls })
}

/// The call inside one block, `text[s..e]`.
fn block_call(
    syn: &TaggedSyntax,
    text: &str,
    s: usize,
    e: usize,
    strict: bool,
) -> Result<ToolCall, ParseError> {
    let obj = if strict {
        let (js, je) = match &syn.fence {
            Some(f) => {
                let head = format!("{f}\n");
                if !text[s..e].starts_with(&head) {
                    return Err(
                        ParseError::at(text, s, "the block does not open with its fence")
                            .expected(text, format!("{head:?}")),
                    );
                }
                if !text[s..e].ends_with("\n```") || e - s < head.len() + 4 {
                    return Err(
                        ParseError::at(text, e, "the block does not close its fence")
                            .expected(text, "\"\\n```\""),
                    );
                }
                (s + head.len(), e - 4)
            }
            None => {
                if !text[s..e].starts_with('\n') {
                    return Err(
                        ParseError::at(text, s, "the call must start on its own line")
                            .expected(text, "a newline"),
                    );
                }
                if !text[s..e].ends_with('\n') || e - s < 2 {
                    return Err(
                        ParseError::at(text, e, "the closing tag must be on its own line")
                            .expected(text, "a newline"),
                    );
                }
                (s + 1, e - 1)
            }
        };
        match json::read_exact(text, js, je, false)? {
            Value::Object(m) => m,
            _ => {
                return Err(
                    ParseError::at(text, js, "the call is not a JSON object").expected(text, "`{`")
                );
            }
        }
    } else {
        lenient_object(text, s, e)?
    };
    let key_err = |m: String| ParseError::at(text, s, m);
    if strict
        && let Some(k) = obj
            .keys()
            .find(|k| **k != syn.name_key && **k != syn.args_key)
    {
        return Err(key_err(format!("unexpected key `{k}` in the call")));
    }
    let pick = |keys: &[&str]| -> Option<&Value> {
        if strict {
            obj.get(keys[0])
        } else {
            keys.iter().find_map(|k| obj.get(*k))
        }
    };
    let name = match pick(&[&syn.name_key, "name", "api_name", "function", "tool"]) {
        Some(Value::String(n)) => {
            let n = if strict { n.as_str() } else { n.trim() };
            if n.is_empty() || n.chars().any(char::is_whitespace) {
                return Err(key_err(format!("bad tool name {n:?}")));
            }
            n.to_owned()
        }
        _ => {
            return Err(key_err(format!(
                "the call needs `{}` (a string)",
                syn.name_key
            )));
        }
    };
    let args = match pick(&[&syn.args_key, "arguments", "parameters", "args"]) {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) if !strict => Map::new(),
        Some(Value::String(a)) if !strict => lenient_object(a, 0, a.len())
            .map_err(|e| key_err(format!("the arguments string is not a JSON object: {e}")))?,
        _ => {
            return Err(key_err(format!(
                "the call needs `{}` (an object)",
                syn.args_key
            )));
        }
    };
    Ok(ToolCall::new(name, args))
}
