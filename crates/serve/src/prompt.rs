//! From a chat request to prompt text, and from generated text back to an OpenAI reply.
//!
//! Tools are written into the prompt by an agent template (`hermes` by default, or the
//! template a checkpoint was tuned with), in the shape the template trained the model on:
//! its system prompt lists the tools, earlier assistant calls are rendered as the template
//! writes steps, tool results as it writes observations. The conversation is then rendered
//! with the model's chat template. The reply is parsed back with the same template into
//! OpenAI `tool_calls`. `tool_choice` `required` and a named function are enforced for tagged
//! templates by starting the reply with the opening of a call block.

use agentune_model::ChatTemplate;
use agentune_runtime::template::{ParseMode, StreamEvent, StreamParser, Template};
use agentune_schema::{Message, Observation, Role, Step, StepSyntax, ToolCall, ToolSpec};
use serde_json::Value;

use crate::error::ApiError;
use crate::guide::GuideSpec;
use crate::request::{ChatParams, ToolChoice};

/// How prompts are built and replies read.
#[derive(Debug, Clone)]
pub struct Prompter {
    chat: ChatTemplate,
    agent: Template,
    /// The template replies are parsed with (for native agent templates: `hermes`, the
    /// format chat-template models write calls in).
    parser: Template,
}

/// A rendered chat prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The prompt text, ending with `forced`.
    pub text: String,
    /// The start of the reply written by the server (tool-choice enforcement), part of the
    /// reply when it is parsed.
    pub forced: String,
    /// Whether replies are parsed for tool calls.
    pub tools_active: bool,
    /// Stop strings the template needs (the start of an invented tool result).
    pub stop: Vec<String>,
    /// The JSON the reply must continue with (enforced tool choice).
    pub guide: Option<GuideSpec>,
}

/// A parsed reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The text shown to the user (the thought before calls, or the answer).
    pub content: Option<String>,
    /// The calls.
    pub calls: Vec<ToolCall>,
}

impl Prompter {
    /// A prompter with the model's chat template and an agent template.
    pub fn new(chat: ChatTemplate, agent: Template) -> Result<Self, agentune_runtime::Error> {
        let parser = if agent.native_tools() {
            Template::builtin("hermes")?
        } else {
            agent.clone()
        };
        Ok(Self {
            chat,
            agent,
            parser,
        })
    }

    /// The agent template's id.
    pub fn agent_id(&self) -> &str {
        self.agent.id()
    }

    /// Renders the request's conversation into the prompt text.
    pub fn render(&self, p: &ChatParams) -> Result<Rendered, ApiError> {
        let show_tools = !p.tools.is_empty() && p.tool_choice != ToolChoice::None;
        let has_tool_history = p
            .messages
            .iter()
            .any(|m| m.role == Role::Tool || !m.tool_calls.is_empty());
        let render_err = |e: agentune_model::Error| {
            ApiError::invalid("messages", format!("the chat template cannot render: {e}"))
        };
        let mut text = if self.agent.native_tools() || !(show_tools || has_tool_history) {
            let tools: &[ToolSpec] = if show_tools { &p.tools } else { &[] };
            self.chat
                .render(&p.messages, tools, true)
                .map_err(render_err)?
        } else {
            let msgs = self.agent_messages(&p.messages, &p.tools, show_tools)?;
            self.chat.render(&msgs, &[], true).map_err(render_err)?
        };
        let (forced, guide) = if show_tools {
            self.forced_start(&p.tool_choice, &p.tools)
        } else {
            (String::new(), None)
        };
        text.push_str(&forced);
        Ok(Rendered {
            text,
            forced,
            tools_active: show_tools,
            stop: if show_tools {
                self.parser.stop_sequences()
            } else {
                Vec::new()
            },
            guide,
        })
    }

    /// The start of the reply that makes the model call a tool (tagged templates), and the
    /// JSON the model must then write: the named tool's arguments, or a call of one of the
    /// tools.
    fn forced_start(&self, choice: &ToolChoice, tools: &[ToolSpec]) -> (String, Option<GuideSpec>) {
        let StepSyntax::Tagged(t) = &self.parser.spec().syntax else {
            return (String::new(), None);
        };
        match choice {
            ToolChoice::Required => {
                let names: Vec<Value> = tools
                    .iter()
                    .map(|x| Value::String(x.name.clone()))
                    .collect();
                let schema = serde_json::json!({
                    "type": "object",
                    "properties": {
                        t.name_key.as_str(): {"enum": names},
                        t.args_key.as_str(): {"type": "object"},
                    },
                    "required": [t.name_key, t.args_key],
                });
                (
                    format!("{}\n", t.open),
                    Some(GuideSpec {
                        schema,
                        suffix: format!("\n{}", t.close),
                    }),
                )
            }
            ToolChoice::Named(name) => {
                let schema = tools
                    .iter()
                    .find(|x| &x.name == name)
                    .map(ToolSpec::parameters_schema)
                    .unwrap_or_else(|| serde_json::json!({"type": "object"}));
                (
                    format!(
                        "{}\n{{{}: {}, {}: ",
                        t.open,
                        Value::String(t.name_key.clone()),
                        Value::String(name.clone()),
                        Value::String(t.args_key.clone())
                    ),
                    Some(GuideSpec {
                        schema,
                        suffix: format!("}}\n{}", t.close),
                    }),
                )
            }
            ToolChoice::None | ToolChoice::Auto => (String::new(), None),
        }
    }

    /// The conversation as the agent template writes it.
    fn agent_messages(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        show_tools: bool,
    ) -> Result<Vec<Message>, ApiError> {
        let t = &self.agent;
        let tools: &[ToolSpec] = if show_tools { tools } else { &[] };
        let fail = |at: String, e: agentune_runtime::Error| {
            ApiError::invalid(
                at.clone(),
                format!("{at}: cannot render with template `{}`: {e}", t.id()),
            )
        };
        // The template's own system prompt (it lists the tools).
        let base = t
            .render_prompt(tools, "", &[], &[], &[], None)
            .map_err(|e| fail("tools".into(), e))?;
        let template_system = base
            .iter()
            .find(|m| m.role == Role::System)
            .map(|m| m.content_str().to_owned())
            .filter(|s| !s.trim().is_empty() && show_tools);
        let mut out = Vec::new();
        let lead = messages
            .iter()
            .take_while(|m| m.role == Role::System)
            .count();
        let mut system: Vec<String> = messages[..lead]
            .iter()
            .map(|m| m.content_str().to_owned())
            .collect();
        system.extend(template_system);
        if !system.is_empty() {
            out.push(Message::system(system.join("\n\n")));
        }
        let mut step: Option<Step> = None;
        let mut observations: Vec<Observation> = Vec::new();
        let flush = |out: &mut Vec<Message>,
                     step: &Option<Step>,
                     obs: &mut Vec<Observation>,
                     at: usize|
         -> Result<(), ApiError> {
            if obs.is_empty() {
                return Ok(());
            }
            let Some(s) = step else {
                return Ok(());
            };
            let msgs = t
                .render_observations(s, obs)
                .map_err(|e| fail(format!("messages[{at}]"), e))?;
            out.extend(msgs);
            obs.clear();
            Ok(())
        };
        for (i, m) in messages.iter().enumerate().skip(lead) {
            if m.role == Role::Tool {
                let id = m.tool_call_id.clone();
                let name = step
                    .as_ref()
                    .and_then(|s| {
                        s.calls()
                            .iter()
                            .find(|c| c.id == id)
                            .map(|c| c.name.clone())
                    })
                    .or_else(|| m.name.clone())
                    .unwrap_or_default();
                observations.push(Observation {
                    tool_call_id: id,
                    name,
                    content: m.content_str().to_owned(),
                    is_error: false,
                });
                continue;
            }
            flush(&mut out, &step, &mut observations, i)?;
            match m.role {
                Role::Assistant if !m.tool_calls.is_empty() => {
                    let s = Step::ToolCalls {
                        thought: m.content.clone().filter(|c| !c.trim().is_empty()),
                        calls: m.tool_calls.clone(),
                    };
                    let text = t
                        .render_step_text(&s)
                        .map_err(|e| fail(format!("messages[{i}].tool_calls"), e))?;
                    out.push(Message::assistant(text));
                    step = Some(s);
                }
                Role::User => {
                    let rendered = t
                        .render_prompt(tools, m.content_str(), &[], &[], &[], None)
                        .map_err(|e| fail(format!("messages[{i}]"), e))?;
                    let text = rendered
                        .iter()
                        .rev()
                        .find(|x| x.role == Role::User)
                        .map(|x| x.content_str().to_owned())
                        .unwrap_or_else(|| m.content_str().to_owned());
                    out.push(Message::user(text));
                }
                _ => out.push(Message::text(m.role, m.content_str())),
            }
        }
        flush(&mut out, &step, &mut observations, messages.len())?;
        Ok(out)
    }

    /// Reads a whole reply (`forced` + generated text).
    pub fn parse(&self, text: &str, tools_active: bool) -> Reply {
        if !tools_active {
            return Reply {
                content: Some(text.to_owned()),
                calls: Vec::new(),
            };
        }
        match self.parser.parse(text, ParseMode::Lenient) {
            Ok(Step::ToolCalls { thought, calls }) => Reply {
                content: thought,
                calls,
            },
            Ok(Step::FinalAnswer { answer, .. }) => Reply {
                content: Some(answer),
                calls: Vec::new(),
            },
            _ => Reply {
                content: Some(text.to_owned()),
                calls: Vec::new(),
            },
        }
    }

    /// A streaming reader of one reply, primed with the forced start.
    pub fn stream(&self, forced: &str) -> StreamParser {
        let mut p = self.parser.stream();
        if !forced.is_empty() {
            // The forced start opens a call block: it yields no text.
            let _ = p.push(forced);
        }
        p
    }
}

/// What a streamed reply yields, split into text and calls.
pub fn split_events(events: Vec<StreamEvent>) -> (String, Vec<ToolCall>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for e in events {
        match e {
            StreamEvent::Text(t) => text.push_str(&t),
            StreamEvent::Call(c) => calls.push(c),
        }
    }
    (text, calls)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::request;
    use serde_json::json;

    fn prompter() -> Prompter {
        Prompter::new(
            ChatTemplate::builtin("chatml").unwrap(),
            Template::builtin("hermes").unwrap(),
        )
        .unwrap()
    }

    fn params(v: Value) -> ChatParams {
        request::chat(v.as_object().unwrap()).unwrap()
    }

    fn weather() -> Value {
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    }

    #[test]
    fn tools_go_into_the_system_prompt_and_history_renders_as_the_template_writes_it() {
        let p = params(json!({"model": "m", "tools": weather(), "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "rain, 4 C"},
        ]}));
        let r = prompter().render(&p).unwrap();
        assert!(r.tools_active);
        assert!(
            r.text
                .starts_with("<|im_start|>system\nBe brief.\n\nYou are a function-calling"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("\"name\":\"get_weather\"")
                || r.text.contains("\"name\": \"get_weather\"")
        );
        assert!(r.text.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"), "{}", r.text);
        assert!(
            r.text
                .contains("<tool_response>\nrain, 4 C\n</tool_response>"),
            "{}",
            r.text
        );
        assert!(r.text.ends_with("<|im_start|>assistant\n"));
        assert_eq!(r.stop, vec!["<tool_response>".to_owned()]);
    }

    #[test]
    fn named_choice_forces_the_call_and_parsing_reads_it_back() {
        let p = params(
            json!({"model": "m", "tools": weather(), "messages": [{"role": "user", "content": "Oslo?"}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
        );
        let pr = prompter();
        let r = pr.render(&p).unwrap();
        assert!(
            r.text
                .ends_with("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": ")
        );
        let reply = pr.parse(
            &format!("{}{{\"city\": \"Oslo\"}}}}\n</tool_call>", r.forced),
            true,
        );
        assert_eq!(reply.calls.len(), 1);
        assert_eq!(reply.calls[0].arguments["city"], "Oslo");
        let mut s = pr.stream(&r.forced);
        let (text, calls) = split_events(s.push("{\"city\": \"Oslo\"}}\n</tool_call>"));
        assert_eq!((text.as_str(), calls.len()), ("", 1));
    }

    #[test]
    fn without_tools_the_chat_template_alone_renders() {
        let p = params(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
        let r = prompter().render(&p).unwrap();
        assert_eq!(
            r.text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert!(!r.tools_active && r.forced.is_empty());
        let none = params(
            json!({"model": "m", "tools": weather(), "tool_choice": "none",
            "messages": [{"role": "user", "content": "hi"}]}),
        );
        assert_eq!(prompter().render(&none).unwrap().text, r.text);
    }
}
