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

    /// Whether the template reads tools or tool calls at all. Many small models ship a
    /// template that renders only `role` and `content` (SmolLM2's does), and would drop the
    /// tool list and every call without a word.
    pub fn supports_tools(&self) -> bool {
        self.source.contains("tool")
    }

    /// Renders `messages` with `tools` (OpenAI `tools` entries). Fails, instead of dropping
    /// them, when there are tools or tool calls and the template has no place for them.
    pub fn render(
        &self,
        messages: &[Message],
        tools: &[ToolSpec],
        add_generation_prompt: bool,
    ) -> Result<String> {
        if !self.supports_tools() {
            let what = if !tools.is_empty() {
                Some("tools")
            } else if messages.iter().any(|m| !m.tool_calls.is_empty()) {
                Some("tool calls")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(Error::Template(format!(
                    "the model's chat template has no place for {what} (it never reads \
                     `tools` or `tool_calls`), so they would be dropped from the prompt; \
                     use an agent template that writes tools as text (e.g. `hermes` or \
                     `react`) or a chat template with tool support"
                )));
            }
        }
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
    /// The text to save as a checkpoint's `chat_template`: the Jinja source, or for ChatML its
    /// Jinja form ([`chatml_jinja`]); `None` for the other built-ins.
    pub fn to_jinja(&self) -> Option<String> {
        match self {
            Self::ChatMl { default_system } => Some(chatml_jinja(default_system.as_deref())),
            Self::Jinja(t) => Some(t.source().to_owned()),
            Self::Llama3 | Self::Mistral => None,
        }
    }

    /// The template a model ships with (Jinja), or ChatML when it has none. A shipped
    /// template that ignores tools but renders plain conversations exactly as ChatML does
    /// (SmolLM2's) is replaced by the built-in ChatML, with the same default system prompt,
    /// which adds the Hermes/Qwen tool format: plain chats render to the same text, and tools
    /// and calls are no longer dropped.
    pub fn for_model(jinja: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self> {
        match jinja {
            Some(src) => {
                let t = JinjaTemplate::new(src, bos_token, eos_token)?;
                if let Some(default_system) = chatml_equivalent(&t) {
                    // Without tool support, or our own ChatML written out as Jinja.
                    if !t.supports_tools() || src == chatml_jinja(default_system.as_deref()) {
                        return Ok(Self::ChatMl { default_system });
                    }
                }
                Ok(Self::Jinja(t))
            }
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

/// When `t` renders plain conversations exactly as ChatML does, the default system prompt it
/// adds to a conversation without one (`Some(None)` when it adds none); `None` when it is not
/// ChatML.
fn chatml_equivalent(t: &JinjaTemplate) -> Option<Option<String>> {
    let probes = [
        vec![
            Message::system("S"),
            Message::user("U1"),
            Message::assistant("A1"),
            Message::user("U2"),
        ],
        vec![Message::user("U1"), Message::assistant("A1")],
        vec![Message::user("U1")],
    ];
    // The default system prompt: whatever the template puts before the first user turn of a
    // conversation without a system message.
    let bare = t.render(&probes[2], &[], true).ok()?;
    let user_turn = render_chatml(&probes[2], &[], true, None);
    let default_system = match bare.strip_suffix(&user_turn)? {
        "" => None,
        head => Some(
            head.strip_prefix("<|im_start|>system\n")?
                .strip_suffix("<|im_end|>\n")?
                .to_owned(),
        ),
    };
    for msgs in &probes {
        for generation in [false, true] {
            let jinja = t.render(msgs, &[], generation).ok()?;
            let chatml = render_chatml(msgs, &[], generation, default_system.as_deref());
            if jinja != chatml {
                return None;
            }
        }
    }
    Some(default_system)
}

/// The Jinja source that renders, under the Hugging Face conventions (`transformers`'
/// `apply_chat_template`, and so vLLM), the same text as [`ChatTemplate::ChatMl`] with
/// `default_system`: tools, calls and results included (JSON written compact with sorted keys,
/// as we write it). A checkpoint saves it as its `chat_template`, so other stacks render tools
/// as the model was tuned with them; [`ChatTemplate::for_model`] reads it back as `ChatMl`.
pub fn chatml_jinja(default_system: Option<&str>) -> String {
    let default = match default_system {
        Some(s) => jinja_string(s),
        None => "none".to_owned(),
    };
    let json = "tojson(separators=(',', ':'), sort_keys=true)";
    [
        "{%- set has_system = messages|length > 0 and messages[0].role == 'system' -%}".to_owned(),
        format!("{{%- set system = messages[0].content if has_system else {default} -%}}"),
        "{%- if system is not none or tools -%}{{- '<|im_start|>system\\n' -}}".to_owned(),
        "{%- if system is not none -%}{{- system -}}{%- if tools -%}{{- '\\n\\n' -}}{%- endif -%}{%- endif -%}".to_owned(),
        format!(
            "{{%- if tools -%}}{{{{- {} -}}}}{{%- for tool in tools -%}}{{%- if not loop.first -%}}{{{{- '\\n' -}}}}{{%- endif -%}}{{{{- tool | {json} -}}}}{{%- endfor -%}}{{{{- {} -}}}}{{%- endif -%}}",
            jinja_string(TOOLS_INTRO),
            jinja_string(TOOLS_OUTRO)
        ),
        "{{- '<|im_end|>\\n' -}}{%- endif -%}".to_owned(),
        "{%- for m in messages[(1 if has_system else 0):] -%}".to_owned(),
        "{%- if m.role == 'tool' -%}".to_owned(),
        "{%- if loop.first or loop.previtem.role != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}".to_owned(),
        "{{- '\\n<tool_response>\\n' ~ m.content ~ '\\n</tool_response>' -}}".to_owned(),
        "{%- if loop.last or loop.nextitem.role != 'tool' -%}{{- '<|im_end|>\\n' -}}{%- endif -%}".to_owned(),
        "{%- elif m.role == 'assistant' and m.tool_calls -%}{{- '<|im_start|>assistant' -}}".to_owned(),
        "{%- if m.content -%}{{- '\\n' ~ m.content -}}{%- endif -%}".to_owned(),
        "{%- for call in m.tool_calls -%}{%- set f = call.function if call.function is defined else call -%}".to_owned(),
        "{{- '\\n<tool_call>\\n{\"arguments\":' -}}".to_owned(),
        format!("{{%- if f.arguments is string -%}}{{{{- f.arguments -}}}}{{%- else -%}}{{{{- f.arguments | {json} -}}}}{{%- endif -%}}"),
        "{{- ',\"name\":' ~ (f.name | tojson) ~ '}\\n</tool_call>' -}}{%- endfor -%}{{- '<|im_end|>\\n' -}}".to_owned(),
        "{%- else -%}{{- '<|im_start|>' ~ m.role ~ '\\n' ~ (m.content if m.content is not none else '') ~ '<|im_end|>\\n' -}}".to_owned(),
        "{%- endif -%}{%- endfor -%}".to_owned(),
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}".to_owned(),
    ]
    .join("\n")
}

/// `s` as a single-quoted Jinja string literal.
fn jinja_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
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

    /// A ChatML template in Jinja that reads only roles and contents, adding a default system
    /// turn when the conversation has none.
    const PLAIN_CHATML: &str = "{% for m in messages %}{% if loop.first and m.role != 'system' %}{{ '<|im_start|>system\\nBe kind.<|im_end|>\\n' }}{% endif %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn a_plain_chatml_jinja_template_becomes_chatml_with_its_default_system() {
        let t = ChatTemplate::for_model(Some(PLAIN_CHATML), "", "<|im_end|>").unwrap();
        let ChatTemplate::ChatMl { default_system } = &t else {
            panic!("expected ChatML, got {t:?}");
        };
        assert_eq!(default_system.as_deref(), Some("Be kind."));
        let call =
            agentune_schema::ToolCall::new("f", json!({"x": 1}).as_object().unwrap().clone());
        let out = t
            .render(
                &[
                    Message::user("hi"),
                    Message::assistant_calls(None, vec![call]),
                ],
                &[ToolSpec::new("f", "d", json!({"type": "object"}))],
                false,
            )
            .unwrap();
        assert!(
            out.starts_with("<|im_start|>system\nBe kind.\n\n# Tools"),
            "{out}"
        );
        assert!(
            out.contains("<tool_call>\n{\"arguments\":{\"x\":1},\"name\":\"f\"}")
                || out.contains("<tool_call>\n{\"name\":\"f\",\"arguments\":{\"x\":1}}"),
            "{out}"
        );
        // Without a default system turn, none is added.
        let bare = PLAIN_CHATML.replace("Be kind.", "").replace(
            "{% if loop.first and m.role != 'system' %}{{ '<|im_start|>system\\n<|im_end|>\\n' }}{% endif %}",
            "",
        );
        let t = ChatTemplate::for_model(Some(&bare), "", "").unwrap();
        assert!(
            matches!(
                t,
                ChatTemplate::ChatMl {
                    default_system: None
                }
            ),
            "{t:?}"
        );
    }

    #[test]
    fn chatml_written_as_jinja_reads_back_as_chatml() {
        for default in [None, Some("Be kind.\nIt's 'quoted' \\ here.")] {
            let src = chatml_jinja(default);
            let t = ChatTemplate::for_model(Some(&src), "", "<|im_end|>").unwrap();
            let ChatTemplate::ChatMl { default_system } = &t else {
                panic!("expected ChatML, got {t:?}");
            };
            assert_eq!(default_system.as_deref(), default);
            assert_eq!(t.to_jinja().as_deref(), Some(src.as_str()));
            // Run by minijinja too, it renders plain chats as ChatML does.
            let jinja = ChatTemplate::Jinja(JinjaTemplate::new(&src, "", "").unwrap());
            let msgs = [Message::user("hi"), Message::assistant("hello")];
            assert_eq!(
                jinja.render(&msgs, &[], true).unwrap(),
                t.render(&msgs, &[], true).unwrap()
            );
        }
    }

    #[test]
    fn a_jinja_template_without_tool_support_refuses_tools_and_calls() {
        // Not ChatML, so it is kept, and it cannot carry tools.
        let src = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}";
        let t = ChatTemplate::for_model(Some(src), "", "").unwrap();
        assert!(matches!(t, ChatTemplate::Jinja(_)), "{t:?}");
        assert_eq!(
            t.render(&[Message::user("hi")], &[], true).unwrap(),
            "[user] hi\n"
        );
        let tools = [ToolSpec::new("f", "d", json!({"type": "object"}))];
        let err = t.render(&[Message::user("hi")], &tools, true).unwrap_err();
        assert!(err.to_string().contains("no place for tools"), "{err}");
        let call = agentune_schema::ToolCall::new("f", serde_json::Map::new());
        let err = t
            .render(&[Message::assistant_calls(None, vec![call])], &[], false)
            .unwrap_err();
        assert!(err.to_string().contains("no place for tool calls"), "{err}");
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
