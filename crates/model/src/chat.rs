//! Chat templates: rendering a conversation (with tools) into the prompt text a model was
//! trained on. ChatML (SmolLM2, Qwen), Llama 3 and Mistral are built in; any other model's
//! Jinja template (from `tokenizer_config.json` or GGUF) runs on minijinja with the helpers
//! Hugging Face templates expect (`raise_exception`, `strftime_now`, `tojson`, Python string
//! methods).

use agentune_schema::{Message, Role, ToolSpec};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// A way to turn messages into a prompt.
#[derive(Debug, Clone)]
pub enum ChatTemplate {
    /// `<|im_start|>role\ncontent<|im_end|>\n`; tools in the system turn as `<tools>` JSON,
    /// calls as `<tool_call>` JSON, results as `<tool_response>` in a user turn.
    ChatMl {
        /// System prompt used when the conversation has none (SmolLM2 has one).
        default_system: Option<String>,
    },
    /// Llama 3 headers (`<|start_header_id|>role<|end_header_id|>`), `<|eot_id|>` ends turns;
    /// tool results in `ipython` turns.
    Llama3,
    /// Mistral `[INST] ... [/INST]` with `[AVAILABLE_TOOLS]`, `[TOOL_CALLS]`, `[TOOL_RESULTS]`.
    Mistral,
    /// A Jinja template.
    Jinja(JinjaTemplate),
}

/// A Jinja chat template with the special tokens it may reference.
#[derive(Debug, Clone)]
pub struct JinjaTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
}

impl JinjaTemplate {
    /// A template from its source; checks that it parses.
    pub fn new(source: impl Into<String>, bos_token: &str, eos_token: &str) -> Result<Self> {
        let t = Self {
            source: source.into(),
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        };
        t.environment()?;
        Ok(t)
    }

    /// The template source.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn environment(&self) -> Result<minijinja::Environment<'static>> {
        let mut env = minijinja::Environment::new();
        // Hugging Face renders chat templates with these two whitespace options on.
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned("chat", self.source.clone())
            .map_err(|e| Error::Template(format!("cannot parse: {e:#}")))?;
        Ok(env)
    }

    /// Renders `messages` with `tools` (OpenAI `tools` entries).
    pub fn render(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String> {
        let env = self.environment()?;
        let tmpl = env
            .get_template("chat")
            .map_err(|e| Error::Template(e.to_string()))?;
        let msgs: Vec<Value> = messages.iter().map(jinja_message).collect();
        let tools_v: Option<Vec<Value>> = if tools.is_empty() {
            None
        } else {
            Some(tools.iter().map(ToolSpec::to_openai_tool).collect())
        };
        let ctx = minijinja::context! {
            messages => msgs,
            tools => tools_v,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.clone(),
            eos_token => self.eos_token.clone(),
        };
        tmpl.render(ctx)
            .map_err(|e| Error::Template(format!("cannot render: {e:#}")))
    }
}

/// A message as chat templates see it: OpenAI shape, content always a string, call arguments
/// as objects.
fn jinja_message(m: &Message) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("role".into(), json!(m.role.as_str()));
    obj.insert("content".into(), json!(m.content_str()));
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({
                    "id": c.id.clone().unwrap_or_else(|| format!("call_{i}")),
                    "type": "function",
                    "function": {"name": c.name, "arguments": Value::Object(c.arguments.clone())},
                })
            })
            .collect();
        obj.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        obj.insert("tool_call_id".into(), json!(id));
    }
    if let Some(name) = &m.name {
        obj.insert("name".into(), json!(name));
    }
    Value::Object(obj)
}

fn raise_exception(message: String) -> std::result::Result<String, minijinja::Error> {
    Err(minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        format!("the template raised: {message}"),
    ))
}

/// `strftime_now(format)`: the current UTC time formatted with the common strftime fields
/// (`%Y %m %d %B %b %H %M %S %A %a %j %%`).
fn strftime_now(format: String) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_time(secs, &format)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Civil date of a day count since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn format_time(secs: i64, format: &str) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday.
    let (jan1, _, _) = (civil_days(y, 1, 1), 0, 0);
    let yday = days - jan1 + 1;
    let month = MONTHS[(m - 1) as usize];
    let day = DAYS[weekday];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('-') => match chars.next() {
                Some('d') => out.push_str(&d.to_string()),
                Some('m') => out.push_str(&m.to_string()),
                Some(o) => {
                    out.push_str("%-");
                    out.push(o);
                }
                None => out.push_str("%-"),
            },
            Some('B') => out.push_str(month),
            Some('b') => out.push_str(&month[..3]),
            Some('A') => out.push_str(day),
            Some('a') => out.push_str(&day[..3]),
            Some('H') => out.push_str(&format!("{:02}", sod / 3600)),
            Some('M') => out.push_str(&format!("{:02}", sod / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", sod % 60)),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Days since 1970-01-01 of a civil date.
fn civil_days(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn call_json(call: &agentune_schema::ToolCall, args_key: &str) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("name".into(), json!(call.name));
    obj.insert(args_key.into(), Value::Object(call.arguments.clone()));
    Value::Object(obj).to_string()
}

fn tools_lines(tools: &[ToolSpec]) -> String {
    tools
        .iter()
        .map(|t| t.to_openai_tool().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl ChatTemplate {
    /// The template a model ships with (Jinja), or ChatML when it has none.
    pub fn for_model(jinja: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self> {
        match jinja {
            Some(src) => Ok(Self::Jinja(JinjaTemplate::new(src, bos_token, eos_token)?)),
            None => Ok(Self::ChatMl {
                default_system: None,
            }),
        }
    }

    /// A built-in template by name: `chatml`, `llama3`, `mistral`.
    pub fn builtin(name: &str) -> Result<Self> {
        match name {
            "chatml" => Ok(Self::ChatMl {
                default_system: None,
            }),
            "llama3" => Ok(Self::Llama3),
            "mistral" => Ok(Self::Mistral),
            other => Err(Error::Template(format!(
                "unknown built-in template `{other}` (chatml, llama3, mistral)"
            ))),
        }
    }

    /// Renders the conversation; with `add_generation_prompt` the text ends where the
    /// assistant's reply begins.
    pub fn render(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String> {
        match self {
            Self::ChatMl { default_system } => Ok(render_chatml(
                messages,
                tools,
                add_generation_prompt,
                default_system.as_deref(),
            )),
            Self::Llama3 => Ok(render_llama3(messages, tools, add_generation_prompt)),
            Self::Mistral => render_mistral(messages, tools, add_generation_prompt),
            Self::Jinja(t) => t.render(messages, tools, add_generation_prompt),
        }
    }
}

/// A rendered conversation with the byte ranges of the text the model is trained to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingText {
    /// The whole conversation as the template renders it.
    pub text: String,
    /// Byte ranges of `text` with their loss weight: each message with a non-zero
    /// [`Message::loss_weight`] (by default, the assistant's turns), including the tokens that
    /// end its turn, so the model learns to stop.
    pub spans: Vec<(std::ops::Range<usize>, f32)>,
}

impl ChatTemplate {
    /// Renders a conversation for training and locates each trained message's text: message
    /// `i` spans from the end of the render of the messages before it (with the generation
    /// prompt, for an assistant turn) to the end of the render up to and including it. Fails
    /// when the template does not render conversations as growing prefixes of each other
    /// (then the span of a message cannot be located).
    pub fn render_training(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
    ) -> Result<TrainingText> {
        let text = self.render(messages, tools, false)?;
        let mut spans = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let weight = m.loss_weight();
            if weight == 0.0 {
                continue;
            }
            let before = self.render(&messages[..i], tools, m.role == Role::Assistant)?;
            let upto = self.render(&messages[..=i], tools, false)?;
            if !upto.starts_with(&before) || !text.starts_with(&upto) {
                return Err(Error::Template(format!(
                    "message {i} ({}): the template does not render the conversation as \
                     growing prefixes, so the trained text cannot be located",
                    m.role.as_str()
                )));
            }
            spans.push((before.len()..upto.len(), weight));
        }
        Ok(TrainingText { text, spans })
    }
}

const TOOLS_INTRO: &str = "# Tools\n\nYou can call the functions described in the <tools></tools> tags below, one JSON signature per line.\n<tools>\n";
const TOOLS_OUTRO: &str = "\n</tools>\n\nTo call a function, reply with a JSON object holding its name and arguments inside <tool_call></tool_call> tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";

fn render_chatml(
    messages: &[Message],
    tools: &[ToolSpec],
    add_generation_prompt: bool,
    default_system: Option<&str>,
) -> String {
    let mut out = String::new();
    let has_system = messages.first().is_some_and(|m| m.role == Role::System);
    let first_system = if has_system {
        Some(messages[0].content_str())
    } else {
        default_system
    };
    if first_system.is_some() || !tools.is_empty() {
        out.push_str("<|im_start|>system\n");
        if let Some(s) = first_system {
            out.push_str(s);
        }
        if !tools.is_empty() {
            if first_system.is_some() {
                out.push_str("\n\n");
            }
            out.push_str(TOOLS_INTRO);
            out.push_str(&tools_lines(tools));
            out.push_str(TOOLS_OUTRO);
        }
        out.push_str("<|im_end|>\n");
    }
    let rest = if has_system { &messages[1..] } else { messages };
    let mut i = 0;
    while i < rest.len() {
        let m = &rest[i];
        match m.role {
            Role::Tool => {
                out.push_str("<|im_start|>user");
                while i < rest.len() && rest[i].role == Role::Tool {
                    out.push_str("\n<tool_response>\n");
                    out.push_str(rest[i].content_str());
                    out.push_str("\n</tool_response>");
                    i += 1;
                }
                out.push_str("<|im_end|>\n");
                continue;
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                out.push_str("<|im_start|>assistant");
                if !m.content_str().is_empty() {
                    out.push('\n');
                    out.push_str(m.content_str());
                }
                for c in &m.tool_calls {
                    out.push_str("\n<tool_call>\n");
                    out.push_str(&call_json(c, "arguments"));
                    out.push_str("\n</tool_call>");
                }
                out.push_str("<|im_end|>\n");
            }
            role => {
                out.push_str("<|im_start|>");
                out.push_str(role.as_str());
                out.push('\n');
                out.push_str(m.content_str());
                out.push_str("<|im_end|>\n");
            }
        }
        i += 1;
    }
    if add_generation_prompt {
        out.push_str("<|im_start|>assistant\n");
    }
    out
}

fn render_llama3(messages: &[Message], tools: &[ToolSpec], add_generation_prompt: bool) -> String {
    let header = |out: &mut String, role: &str| {
        out.push_str("<|start_header_id|>");
        out.push_str(role);
        out.push_str("<|end_header_id|>\n\n");
    };
    let mut out = String::from("<|begin_of_text|>");
    let has_system = messages.first().is_some_and(|m| m.role == Role::System);
    if has_system || !tools.is_empty() {
        header(&mut out, "system");
        if !tools.is_empty() {
            out.push_str("Environment: ipython\n\n");
        }
        if has_system {
            out.push_str(messages[0].content_str());
        }
        if !tools.is_empty() {
            if has_system {
                out.push_str("\n\n");
            }
            out.push_str(
                "You have access to the functions below. To call one, reply with only a JSON \
                 object of the form {\"name\": function name, \"parameters\": dictionary of \
                 argument name and value}.\n\n",
            );
            for t in tools {
                out.push_str(
                    &serde_json::to_string_pretty(&t.to_openai_tool()).unwrap_or_default(),
                );
                out.push_str("\n\n");
            }
        }
        out.push_str("<|eot_id|>");
    }
    let rest = if has_system { &messages[1..] } else { messages };
    for m in rest {
        match m.role {
            Role::Tool => {
                header(&mut out, "ipython");
                out.push_str(m.content_str());
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                header(&mut out, "assistant");
                let calls: Vec<String> = m
                    .tool_calls
                    .iter()
                    .map(|c| call_json(c, "parameters"))
                    .collect();
                out.push_str(&calls.join("; "));
            }
            role => {
                header(&mut out, role.as_str());
                out.push_str(m.content_str());
            }
        }
        out.push_str("<|eot_id|>");
    }
    if add_generation_prompt {
        header(&mut out, "assistant");
    }
    out
}

fn render_mistral(
    messages: &[Message],
    tools: &[ToolSpec],
    add_generation_prompt: bool,
) -> Result<String> {
    let has_system = messages.first().is_some_and(|m| m.role == Role::System);
    let system = has_system.then(|| messages[0].content_str());
    let rest = if has_system { &messages[1..] } else { messages };
    let last_user = rest.iter().rposition(|m| m.role == Role::User);
    let mut out = String::from("<s>");
    for (i, m) in rest.iter().enumerate() {
        match m.role {
            Role::User => {
                if Some(i) == last_user && !tools.is_empty() {
                    out.push_str("[AVAILABLE_TOOLS] ");
                    let list: Vec<Value> = tools.iter().map(ToolSpec::to_openai_tool).collect();
                    out.push_str(&Value::Array(list).to_string());
                    out.push_str("[/AVAILABLE_TOOLS]");
                }
                out.push_str("[INST] ");
                if let (Some(s), true) = (system, Some(i) == last_user) {
                    out.push_str(s);
                    out.push_str("\n\n");
                }
                out.push_str(m.content_str());
                out.push_str("[/INST]");
            }
            Role::Assistant if !m.tool_calls.is_empty() => {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"name": c.name, "arguments": Value::Object(c.arguments.clone())}))
                    .collect();
                out.push_str("[TOOL_CALLS] ");
                out.push_str(&Value::Array(calls).to_string());
                out.push_str("</s>");
            }
            Role::Assistant => {
                out.push(' ');
                out.push_str(m.content_str());
                out.push_str("</s>");
            }
            Role::Tool => {
                out.push_str("[TOOL_RESULTS] ");
                out.push_str(&json!({"content": m.content_str()}).to_string());
                out.push_str("[/TOOL_RESULTS]");
            }
            Role::System => {
                return Err(Error::Template(
                    "Mistral's format has no place for a system message after the first".into(),
                ));
            }
        }
    }
    let _ = add_generation_prompt; // Mistral's prompt ends with [/INST] either way.
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_format_like_strftime() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        let secs = 1_709_211_909;
        assert_eq!(
            format_time(secs, "%Y-%m-%d %H:%M:%S %A %b %j %-d %%"),
            "2024-02-29 13:05:09 Thursday Feb 060 29 %"
        );
        assert_eq!(civil_days(1970, 1, 1), 0);
    }

    #[test]
    fn jinja_helpers_work() {
        let t = JinjaTemplate::new(
            "{% for m in messages %}{{ m.content.strip() | upper }}{% endfor %}{{ tools | tojson }}{% if false %}{{ raise_exception('x') }}{% endif %}",
            "<s>",
            "</s>",
        )
        .unwrap();
        let out = t
            .render(
                &[Message::user("  hi  ")],
                &[ToolSpec::new("f", "d", json!({}))],
                true,
            )
            .unwrap();
        assert!(out.starts_with("HI["), "{out}");
        let bad = JinjaTemplate::new("{{ raise_exception('no tools') }}", "", "").unwrap();
        let err = bad.render(&[], &[], true).unwrap_err().to_string();
        assert!(err.contains("no tools"), "{err}");
    }

    #[test]
    fn chatml_renders_tools_calls_and_results() {
        let call = agentune_schema::ToolCall::new(
            "get_weather",
            json!({"city": "Paris"}).as_object().unwrap().clone(),
        );
        let msgs = vec![
            Message::user("Weather in Paris?"),
            Message::assistant_calls(None, vec![call]),
            Message::tool("call_0", "get_weather", "sunny"),
        ];
        let tools = [ToolSpec::new(
            "get_weather",
            "Weather of a city",
            json!({"type": "object"}),
        )];
        let out = ChatTemplate::builtin("chatml")
            .unwrap()
            .render(&msgs, &tools, true)
            .unwrap();
        assert!(out.starts_with("<|im_start|>system\n# Tools"), "{out}");
        assert!(out.contains("<tool_call>\n{\"arguments\":{\"city\":\"Paris\"},\"name\":\"get_weather\"}\n</tool_call><|im_end|>") || out.contains("<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n</tool_call><|im_end|>"), "{out}");
        assert!(
            out.contains("<|im_start|>user\n<tool_response>\nsunny\n</tool_response><|im_end|>\n")
        );
        assert!(out.ends_with("<|im_start|>assistant\n"));
    }

    #[test]
    fn llama3_and_mistral_shapes() {
        let msgs = vec![Message::system("Be brief."), Message::user("Hi")];
        let l = ChatTemplate::Llama3.render(&msgs, &[], true).unwrap();
        assert_eq!(
            l,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        );
        let m = ChatTemplate::Mistral.render(&msgs, &[], true).unwrap();
        assert_eq!(m, "<s>[INST] Be brief.\n\nHi[/INST]");
    }
}
