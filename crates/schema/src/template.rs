//! Agent prompt templates as data: the system prompt with its placeholders, the syntax of one
//! step (labeled text, a JSON object, tagged blocks or native tool calls), how observations
//! come back, give-up/restart, and an optional separate final-answer prompt.
//!
//! A `TemplateSpec` is loaded from TOML or JSON; the runtime crate validates it and renders and
//! parses replies with it. Placeholders are written `{name}`; only the names listed on each
//! field are replaced, every other brace is literal text (so JSON examples need no escaping).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One agent prompt template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Stable id (`react`, `toolllama_zh`, `meta/travel-0042`, ...).
    pub id: String,
    /// The family the template belongs to.
    pub family: TemplateFamily,
    /// Language of the prompt text and labels (`en`, `zh`, ...).
    #[serde(default = "default_language")]
    pub language: String,
    /// One line saying what the template is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// System prompt. Placeholders: `{tools}`, `{tool_names}`, `{query}`, `{history}`,
    /// `{date}`. A line holding `{date}` is dropped when no date is given.
    pub system: String,
    /// First user message. Placeholders as in `system`. Default: `{query}`.
    #[serde(default = "default_user")]
    pub user: String,
    /// How each tool is written into `{tools}`.
    #[serde(default)]
    pub tools: ToolListing,
    /// How earlier conversation is written into `{history}` (when a prompt uses it; otherwise
    /// history messages are sent as chat turns before the user message).
    #[serde(default)]
    pub history: HistoryFormat,
    /// The syntax of one assistant step.
    pub syntax: StepSyntax,
    /// How tool results go back to the model.
    pub observation: ObservationFormat,
    /// Restarting after a give-up: the text added to the user message of a new attempt,
    /// carrying the failed attempts. Absent: the template has no restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPrompt>,
    /// A separate prompt for writing the final answer from the results gathered (AutoGPT
    /// style). Absent: the final answer is a step like any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer_prompt: Option<FinalAnswerPrompt>,
}

fn default_language() -> String {
    "en".into()
}

fn default_user() -> String {
    "{query}".into()
}

/// The template families agentune knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateFamily {
    /// Thought / Action / Action Input / Observation / Final Answer text.
    React,
    /// ModelScope-Agent: calls in `<|startofthink|>` blocks, results in `<|startofexec|>`.
    Modelscope,
    /// AutoGPT: a strict JSON reply with thoughts and one command; a final-answer prompt.
    Autogpt,
    /// ToolLLaMA: ReAct-like text with a `Finish` action that can give up and restart.
    Toolllama,
    /// Hermes / Qwen: `<tool_call>` blocks holding JSON, several per turn.
    Hermes,
    /// OpenAI structured `tool_calls` messages; tools travel in the request.
    Openai,
    /// Written by the meta-agent or by hand, following one of the syntaxes.
    Custom,
}

impl TemplateFamily {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::React => "react",
            Self::Modelscope => "modelscope",
            Self::Autogpt => "autogpt",
            Self::Toolllama => "toolllama",
            Self::Hermes => "hermes",
            Self::Openai => "openai",
            Self::Custom => "custom",
        }
    }
}

/// How each tool is written into the `{tools}` placeholder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolListing {
    /// One tool. Placeholders: `{name}`, `{description}`, `{parameters}` (the JSON Schema,
    /// one line), `{function}` (the whole function object, one line), `{openai}` (the OpenAI
    /// `tools` entry, one line), `{index}` (1-based).
    #[serde(default = "default_tool_line")]
    pub line: String,
    /// Between two tools.
    #[serde(default = "default_newline")]
    pub separator: String,
}

fn default_tool_line() -> String {
    "{name}: {description} Parameters: {parameters}".into()
}

fn default_newline() -> String {
    "\n".into()
}

impl Default for ToolListing {
    fn default() -> Self {
        Self {
            line: default_tool_line(),
            separator: default_newline(),
        }
    }
}

/// How earlier conversation is written into the `{history}` placeholder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryFormat {
    /// Prefix of a user turn.
    #[serde(default = "default_user_label")]
    pub user: String,
    /// Prefix of an assistant turn.
    #[serde(default = "default_assistant_label")]
    pub assistant: String,
    /// Written when there is no history.
    #[serde(default)]
    pub empty: String,
}

fn default_user_label() -> String {
    "User: ".into()
}

fn default_assistant_label() -> String {
    "Assistant: ".into()
}

impl Default for HistoryFormat {
    fn default() -> Self {
        Self {
            user: default_user_label(),
            assistant: default_assistant_label(),
            empty: String::new(),
        }
    }
}

/// The syntax of one assistant step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSyntax {
    /// Labeled lines: `Thought: ...`, `Action: name`, `Action Input: {...}`, `Final Answer: ...`.
    Labeled(LabeledSyntax),
    /// One JSON object per reply with thoughts and a command (AutoGPT).
    Json(JsonSyntax),
    /// Calls as JSON inside tagged blocks after optional free text (Hermes, ModelScope).
    Tagged(TaggedSyntax),
    /// OpenAI structured `tool_calls`; text content is the thought or the answer.
    Native(NativeSyntax),
}

/// Labeled text steps (ReAct, ToolLLaMA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabeledSyntax {
    /// Label of the reasoning (`Thought`).
    pub thought: String,
    /// Label of the tool name (`Action`).
    pub action: String,
    /// Label of the arguments (`Action Input`).
    pub action_input: String,
    /// Label of a tool result (`Observation`); used in observations and restart prompts, and
    /// a reply that invents one is cut there.
    pub observation: String,
    /// Label of the final answer (`Final Answer`). Absent when the template finishes
    /// through a finish action instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer: Option<String>,
    /// What follows a label: `": "` in English, `"："` in Chinese.
    #[serde(default = "default_colon")]
    pub colon: String,
    /// How the arguments are written.
    #[serde(default)]
    pub arguments: ArgumentEncoding,
    /// Several Action / Action Input pairs in one reply.
    #[serde(default)]
    pub parallel: bool,
    /// The finish action (ToolLLaMA `Finish`), when the answer or a give-up is a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<FinishAction>,
}

fn default_colon() -> String {
    ": ".into()
}

/// How a call's arguments are written in labeled text.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArgumentEncoding {
    /// A JSON object on one line.
    #[default]
    Json,
    /// The raw string value of one argument (`Action Input: Beijing`).
    Raw {
        /// The argument the string is bound to.
        key: String,
    },
}

/// A pseudo-tool that ends the attempt (ToolLLaMA `Finish`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishAction {
    /// The action name (`Finish`).
    pub name: String,
    /// Argument naming what kind of finish it is (`return_type`).
    pub type_key: String,
    /// Argument holding the answer (`final_answer`).
    pub answer_key: String,
    /// `type_key` value of an answer (`give_answer`).
    pub answer_value: String,
    /// `type_key` value of a give-up that asks for a new attempt (`give_up_and_restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_value: Option<String>,
    /// `type_key` value of a plain give-up without restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up_value: Option<String>,
}

/// One JSON object per reply (AutoGPT).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonSyntax {
    /// Key of the thoughts object (`thoughts`).
    pub thoughts_key: String,
    /// The string fields of the thoughts object, in order; the first is the main text
    /// (`text`, `reasoning`, `plan`, `criticism`, `speak`).
    pub thought_fields: Vec<String>,
    /// Key of the command object (`command`).
    pub command_key: String,
    /// Key of the command name (`name`).
    pub name_key: String,
    /// Key of the command arguments (`args`).
    pub args_key: String,
    /// The command that delivers the final answer (`finish`).
    pub finish_command: String,
    /// Its argument holding the answer (`response`).
    pub answer_arg: String,
    /// The command that gives up without restart, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up_command: Option<String>,
}

/// Calls in tagged blocks after optional free text (Hermes, ModelScope).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaggedSyntax {
    /// Opening tag (`<tool_call>`).
    pub open: String,
    /// Closing tag (`</tool_call>`).
    pub close: String,
    /// A code-fence line written inside the block around the JSON (```` ```JSON ````).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<String>,
    /// Key of the tool name in the JSON (`name`, `api_name`).
    pub name_key: String,
    /// Key of the arguments in the JSON (`arguments`, `parameters`).
    pub args_key: String,
    /// Between the thought text and the first block.
    #[serde(default = "default_newline")]
    pub thought_separator: String,
    /// Between two blocks.
    #[serde(default = "default_newline")]
    pub block_separator: String,
    /// Several blocks in one reply.
    #[serde(default)]
    pub parallel: bool,
}

/// OpenAI structured tool calls.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeSyntax {
    /// Several calls in one reply.
    #[serde(default = "default_true")]
    pub parallel: bool,
}

fn default_true() -> bool {
    true
}

/// Who carries tool results back, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObservationFormat {
    /// `tool`: one tool message per call; `user`: one user message holding all results.
    pub role: ObservationRole,
    /// One result. Placeholders: `{observation}`, `{name}`, `{call_id}`.
    #[serde(default = "default_observation")]
    pub format: String,
    /// Between results in one user message.
    #[serde(default = "default_newline")]
    pub separator: String,
}

fn default_observation() -> String {
    "{observation}".into()
}

/// The role of observation messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObservationRole {
    /// One `tool` message per call, linked by call id.
    Tool,
    /// One `user` message holding every result of the step.
    User,
}

/// The text that starts a new attempt after a give-up, carrying the failed attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartPrompt {
    /// Added after the user message. Placeholders: `{attempts}`, `{count}`.
    pub text: String,
    /// One failed attempt. Placeholders: `{n}` (1-based), `{steps}` (its steps and results as
    /// the model wrote and saw them).
    pub attempt: String,
    /// Between two attempts.
    #[serde(default = "default_blank_line")]
    pub separator: String,
}

fn default_blank_line() -> String {
    "\n\n".into()
}

/// A separate prompt asking for the final answer once the tool calls are done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FinalAnswerPrompt {
    /// System prompt. Placeholders as in the main system prompt.
    pub system: String,
    /// User message. Placeholders: `{query}`, `{results}`, `{date}`, `{history}`.
    pub user: String,
    /// One executed call in `{results}`. Placeholders: `{n}`, `{name}`, `{arguments}`,
    /// `{observation}`, `{thought}`.
    pub result: String,
    /// Between two results.
    #[serde(default = "default_newline")]
    pub separator: String,
    /// Written as `{results}` when no tool was called.
    #[serde(default)]
    pub no_results: String,
}
