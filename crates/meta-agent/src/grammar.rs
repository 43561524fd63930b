//! The grammar generator: agent prompt templates composed from interchangeable parts, with no
//! teacher. A template is drawn part by part from a seeded generator: the step syntax (labeled
//! text answering with a label or with a finish action that can give up and restart, one JSON
//! object per reply, tagged call blocks with several key and tag vocabularies, native tool
//! calls), label vocabularies in English and Chinese, colons and letter case, tool listing
//! lines, observation formats, the instruction style, which optional sections appear
//! (constraints, best practices, tool names, date) and in which order, heading style, user
//! message and history labels. The format section shows examples rendered by the runtime from
//! the drawn syntax itself, so the prompt always describes exactly what the parser reads.
//!
//! Every drawn spec is checked by the runtime ([`Template::from_spec`], which renders and
//! parses sample steps) and exact repeats are skipped, so `generate` returns distinct, valid
//! templates, the same ones for the same seed.

use std::collections::HashSet;

use agentune_data::hash::hash_str;
use agentune_data::rng::Rng;
use agentune_runtime::Template;
use agentune_schema::{
    ArgumentEncoding, FinalAnswerPrompt, FinishAction, HistoryFormat, JsonSyntax, LabeledSyntax,
    Message, NativeSyntax, Observation, ObservationFormat, ObservationRole, RestartPrompt, Step,
    StepSyntax, TaggedSyntax, TemplateFamily, TemplateSpec, ToolCall, ToolListing,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What the generator draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrammarSettings {
    /// Number of distinct templates.
    pub count: usize,
    /// Seed: the same seed gives the same templates.
    pub seed: u64,
    /// Languages to draw from (`en`, `zh`).
    pub languages: Vec<String>,
    /// Relative weights of the step syntaxes: labeled with a final-answer label, labeled with
    /// a finish action, JSON, tagged, native.
    pub syntax_weights: [f64; 5],
    /// Template ids are `{id_prefix}-{n}`.
    pub id_prefix: String,
    /// Most draws per template wanted before giving up (repeats and refused drafts count).
    pub max_draws_per_template: usize,
}

impl Default for GrammarSettings {
    fn default() -> Self {
        Self {
            count: 100,
            seed: 1,
            languages: vec!["en".into(), "zh".into()],
            syntax_weights: [3.0, 2.0, 1.5, 3.0, 0.5],
            id_prefix: "grammar".into(),
            max_draws_per_template: 50,
        }
    }
}

/// The syntax kinds the generator draws, in the order of `syntax_weights`.
const SYNTAXES: [&str; 5] = ["labeled", "labeled_finish", "json", "tagged", "native"];

/// Checks the settings, naming the one at fault.
fn check_settings(settings: &GrammarSettings) -> Result<()> {
    if settings.languages.is_empty() {
        return Err(Error::Invalid("grammar: languages is empty".into()));
    }
    for l in &settings.languages {
        if l != "en" && l != "zh" {
            return Err(Error::Invalid(format!(
                "grammar: language `{l}` has no vocabulary (known: en, zh)"
            )));
        }
    }
    if settings
        .syntax_weights
        .iter()
        .any(|w| !w.is_finite() || *w < 0.0)
        || settings.syntax_weights.iter().sum::<f64>() <= 0.0
    {
        return Err(Error::Invalid(
            "grammar: syntax_weights must be non-negative with a positive sum".into(),
        ));
    }
    Ok(())
}

/// An endless seeded stream of distinct templates the runtime accepts.
#[derive(Debug)]
pub struct Grammar {
    settings: GrammarSettings,
    rng: Rng,
    seen: HashSet<u64>,
    produced: usize,
    refused: usize,
}

impl Grammar {
    /// A stream for these settings (`count` is not used here).
    pub fn new(settings: GrammarSettings) -> Result<Self> {
        check_settings(&settings)?;
        let rng = Rng::new(settings.seed);
        Ok(Self {
            settings,
            rng,
            seen: HashSet::new(),
            produced: 0,
            refused: 0,
        })
    }

    /// Drafts the runtime refused so far (drawn again).
    pub fn refused(&self) -> usize {
        self.refused
    }

    /// The next distinct template; refused drafts and repeats are drawn again, up to
    /// `max_draws_per_template` times.
    pub fn next_spec(&mut self) -> Result<TemplateSpec> {
        let id = format!("{}-{:05}", self.settings.id_prefix, self.produced);
        for _ in 0..self.settings.max_draws_per_template.max(1) {
            match draw(&mut self.rng, &self.settings, &id) {
                Ok(spec) => {
                    if self.seen.insert(fingerprint(&spec)) {
                        self.produced += 1;
                        return Ok(spec);
                    }
                }
                Err(e) => {
                    self.refused += 1;
                    tracing::debug!(error = %e, "grammar draft refused");
                }
            }
        }
        Err(Error::Invalid(format!(
            "grammar: no new distinct template in {} draws after {} templates ({} drafts refused by the runtime)",
            self.settings.max_draws_per_template, self.produced, self.refused
        )))
    }
}

/// Draws `settings.count` distinct templates that the runtime accepts (see [`Grammar`]).
pub fn generate(settings: &GrammarSettings) -> Result<Vec<TemplateSpec>> {
    let mut g = Grammar::new(settings.clone())?;
    (0..settings.count).map(|_| g.next_spec()).collect()
}

/// A hash of everything but the id and description: equal fingerprints, equal templates.
pub fn fingerprint(spec: &TemplateSpec) -> u64 {
    let mut s = spec.clone();
    s.id = String::new();
    s.description = None;
    hash_str(&serde_json::to_string(&s).unwrap_or_default())
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

fn chance(rng: &mut Rng, p: f64) -> bool {
    rng.unit() < p
}

fn weighted(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.unit() * total;
    for (i, w) in weights.iter().enumerate() {
        x -= w;
        if x < 0.0 {
            return i;
        }
    }
    weights.len() - 1
}

/// Texts by language: `(en, zh)`.
struct Vocab {
    zh: bool,
}

impl Vocab {
    fn t<'a>(&self, en: &'a [&'a str], zh: &'a [&'a str]) -> &'a [&'a str] {
        if self.zh { zh } else { en }
    }
}

/// Letter case applied to English labels.
fn cased(rng_case: usize, label: &str) -> String {
    match rng_case {
        1 => label.to_uppercase(),
        2 => {
            let mut c = label.chars();
            c.next()
                .map(|f| {
                    f.to_uppercase()
                        .chain(c.flat_map(char::to_lowercase))
                        .collect()
                })
                .unwrap_or_default()
        }
        _ => label.to_owned(),
    }
}

/// Section heading in one of the heading styles.
fn heading(style: usize, zh: bool, title: &str) -> String {
    match (style, zh) {
        (1, _) => format!("## {title}"),
        (2, false) => format!("[{title}]"),
        (2, true) => format!("【{title}】"),
        (3, false) => format!("{}:", title.to_uppercase()),
        (_, true) => format!("{title}："),
        _ => format!("{title}:"),
    }
}

fn numbered(items: &[&str], bullets: bool) -> String {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if bullets {
                format!("- {s}")
            } else {
                format!("{}. {s}", i + 1)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Draws one spec and checks it with the runtime.
fn draw(rng: &mut Rng, settings: &GrammarSettings, id: &str) -> Result<TemplateSpec> {
    let lang = pick(rng, &settings.languages).clone();
    let zh = lang == "zh";
    let v = Vocab { zh };
    let kind = weighted(rng, &settings.syntax_weights);
    let (syntax, observation) = draw_syntax(rng, &v, kind);
    let tools = draw_tool_listing(rng, &v);
    let history = if zh {
        let (u, a) = *pick(
            rng,
            &[("用户：", "助手："), ("用户: ", "助手: "), ("问：", "答：")],
        );
        HistoryFormat {
            user: u.into(),
            assistant: a.into(),
            empty: String::new(),
        }
    } else {
        let (u, a) = *pick(
            rng,
            &[
                ("User: ", "Assistant: "),
                ("Human: ", "AI: "),
                ("Q: ", "A: "),
                ("user> ", "agent> "),
            ],
        );
        HistoryFormat {
            user: u.into(),
            assistant: a.into(),
            empty: String::new(),
        }
    };
    let user = pick(
        rng,
        v.t(
            &[
                "{query}",
                "Question: {query}",
                "Task: {query}",
                "User request: {query}\nBegin!",
                "{query}\nStart!",
                "Here is the task:\n{query}",
            ],
            &[
                "{query}",
                "问题：{query}",
                "任务：{query}",
                "{query}\n开始！",
                "用户请求：{query}",
            ],
        ),
    )
    .to_string();
    let restart = match &syntax {
        StepSyntax::Labeled(LabeledSyntax {
            finish:
                Some(FinishAction {
                    restart_value: Some(_),
                    ..
                }),
            ..
        }) => Some(draw_restart(rng, &v)),
        _ => None,
    };
    let final_answer_prompt = match &syntax {
        StepSyntax::Json(_) if chance(rng, 0.6) => Some(draw_final_prompt(rng, &v)),
        _ => None,
    };
    // A first spec with a bare prompt, to render the format examples with the runtime.
    let mut spec = TemplateSpec {
        id: id.to_owned(),
        family: TemplateFamily::Custom,
        language: lang.clone(),
        description: None,
        system: "{tools}".into(),
        user,
        tools,
        history,
        syntax,
        observation,
        restart,
        final_answer_prompt,
    };
    let draft = Template::from_spec(spec.clone())?;
    let format = format_section(rng, &v, &draft)?;
    spec.system = system_prompt(rng, &v, &draft, &format);
    spec.description = Some(describe(&spec, SYNTAXES[kind]));
    Template::from_spec(spec.clone())?;
    Ok(spec)
}

fn draw_syntax(rng: &mut Rng, v: &Vocab, kind: usize) -> (StepSyntax, ObservationFormat) {
    match kind {
        0 | 1 => {
            let case = if v.zh {
                0
            } else {
                weighted(rng, &[6.0, 1.0, 1.0])
            };
            let thought = pick(
                rng,
                v.t(
                    &[
                        "Thought",
                        "Reasoning",
                        "Think",
                        "Analysis",
                        "Reflection",
                        "Plan",
                    ],
                    &["思考", "分析", "推理", "想法", "思路"],
                ),
            );
            let action = pick(
                rng,
                v.t(
                    &["Action", "Tool", "Call", "Function", "Use"],
                    &["行动", "工具", "调用", "动作"],
                ),
            );
            let input = pick(
                rng,
                v.t(
                    &[
                        "Action Input",
                        "Tool Input",
                        "Arguments",
                        "Parameters",
                        "Input",
                        "Args",
                    ],
                    &["行动输入", "工具参数", "参数", "输入"],
                ),
            );
            let obs = pick(
                rng,
                v.t(
                    &["Observation", "Result", "Tool Output", "Output", "Response"],
                    &["观察", "结果", "工具返回", "反馈"],
                ),
            );
            let colon = if v.zh {
                pick(rng, &["：", ": "])
            } else {
                pick(rng, &[": ", ": ", ":"])
            };
            let (final_answer, finish) = if kind == 0 {
                let f = pick(
                    rng,
                    v.t(
                        &["Final Answer", "Answer", "Final Response", "Reply"],
                        &["最终答案", "回答", "最终回复", "答复"],
                    ),
                );
                (Some(cased(case, f)), None)
            } else {
                let name = *pick(rng, &["Finish", "finish", "Done", "Stop"]);
                let type_key = *pick(rng, &["return_type", "status", "kind"]);
                let answer_key = *pick(rng, &["final_answer", "answer", "response"]);
                let answer_value = *pick(rng, &["give_answer", "answer", "success"]);
                let restart_value = chance(rng, 0.8)
                    .then(|| *pick(rng, &["give_up_and_restart", "restart", "retry"]));
                let give_up_value = chance(rng, 0.35).then(|| *pick(rng, &["give_up", "abort"]));
                (
                    None,
                    Some(FinishAction {
                        name: name.into(),
                        type_key: type_key.into(),
                        answer_key: answer_key.into(),
                        answer_value: answer_value.into(),
                        restart_value: restart_value.map(str::to_owned),
                        give_up_value: give_up_value.map(str::to_owned),
                    }),
                )
            };
            let obs_label = cased(case, obs);
            let role = if chance(rng, 0.5) {
                ObservationRole::User
            } else {
                ObservationRole::Tool
            };
            let format = if role == ObservationRole::User || chance(rng, 0.5) {
                format!("{obs_label}{colon}{{observation}}")
            } else {
                "{observation}".to_owned()
            };
            (
                StepSyntax::Labeled(LabeledSyntax {
                    thought: cased(case, thought),
                    action: cased(case, action),
                    action_input: cased(case, input),
                    observation: obs_label,
                    final_answer,
                    colon: (*colon).to_owned(),
                    arguments: ArgumentEncoding::Json,
                    parallel: chance(rng, 0.25),
                    finish,
                }),
                ObservationFormat {
                    role,
                    format,
                    separator: "\n".into(),
                },
            )
        }
        2 => {
            let first = *pick(rng, &["text", "thought"]);
            let mut fields = vec![first.to_owned()];
            for f in ["reasoning", "plan", "criticism", "speak"] {
                if chance(rng, 0.6) {
                    fields.push(f.to_owned());
                }
            }
            let (name_key, args_key) = *pick(
                rng,
                &[
                    ("name", "args"),
                    ("name", "arguments"),
                    ("tool", "input"),
                    ("tool", "args"),
                ],
            );
            let format = pick(
                rng,
                v.t(
                    &[
                        "Command {name} returned: {observation}",
                        "Result of {name}: {observation}",
                        "{observation}",
                        "SYSTEM: {name} -> {observation}",
                    ],
                    &[
                        "命令 {name} 返回：{observation}",
                        "{name} 的结果：{observation}",
                        "{observation}",
                    ],
                ),
            );
            (
                StepSyntax::Json(JsonSyntax {
                    thoughts_key: (*pick(rng, &["thoughts", "thinking", "analysis"])).into(),
                    thought_fields: fields,
                    command_key: (*pick(rng, &["command", "action", "tool_call"])).into(),
                    name_key: name_key.into(),
                    args_key: args_key.into(),
                    finish_command: (*pick(rng, &["finish", "final_answer", "task_complete"]))
                        .into(),
                    answer_arg: (*pick(rng, &["response", "answer", "result"])).into(),
                    give_up_command: chance(rng, 0.3)
                        .then(|| (*pick(rng, &["give_up", "abort_task"])).to_owned()),
                }),
                ObservationFormat {
                    role: ObservationRole::User,
                    format: (*format).to_owned(),
                    separator: "\n".into(),
                },
            )
        }
        3 => {
            let (open, close) = *pick(
                rng,
                &[
                    ("<tool_call>", "</tool_call>"),
                    ("<call>", "</call>"),
                    ("<function_call>", "</function_call>"),
                    ("<|action_start|>", "<|action_end|>"),
                    ("[TOOL_CALLS]", "[/TOOL_CALLS]"),
                    ("<invoke>", "</invoke>"),
                    ("<|startofthink|>", "<|endofthink|>"),
                    ("<api>", "</api>"),
                ],
            );
            let fence = match weighted(rng, &[3.0, 1.0, 1.0]) {
                1 => Some("```json".to_owned()),
                2 => Some("```JSON".to_owned()),
                _ => None,
            };
            let (name_key, args_key) = *pick(
                rng,
                &[
                    ("name", "arguments"),
                    ("api_name", "parameters"),
                    ("tool", "args"),
                    ("function", "parameters"),
                    ("tool_name", "input"),
                    ("name", "params"),
                ],
            );
            let format = *pick(
                rng,
                v.t(
                    &[
                        "<tool_response>\n{observation}\n</tool_response>",
                        "<result>{observation}</result>",
                        "<|observation|>{observation}",
                        "[TOOL_RESULT] {observation} [/TOOL_RESULT]",
                        "<output name=\"{name}\">\n{observation}\n</output>",
                    ],
                    &[
                        "<tool_response>\n{observation}\n</tool_response>",
                        "<结果>{observation}</结果>",
                        "<|observation|>{observation}",
                        "<output name=\"{name}\">\n{observation}\n</output>",
                    ],
                ),
            );
            (
                StepSyntax::Tagged(TaggedSyntax {
                    open: open.into(),
                    close: close.into(),
                    fence,
                    name_key: name_key.into(),
                    args_key: args_key.into(),
                    thought_separator: (*pick(rng, &["\n", "\n\n"])).into(),
                    block_separator: (*pick(rng, &["\n", "\n\n"])).into(),
                    parallel: chance(rng, 0.5),
                }),
                ObservationFormat {
                    role: if chance(rng, 0.6) {
                        ObservationRole::Tool
                    } else {
                        ObservationRole::User
                    },
                    format: format.into(),
                    separator: "\n".into(),
                },
            )
        }
        _ => (
            StepSyntax::Native(NativeSyntax {
                parallel: chance(rng, 0.7),
            }),
            ObservationFormat {
                role: ObservationRole::Tool,
                format: "{observation}".into(),
                separator: "\n".into(),
            },
        ),
    }
}

fn draw_tool_listing(rng: &mut Rng, v: &Vocab) -> ToolListing {
    let line = *pick(
        rng,
        v.t(
            &[
                "{name}: {description} Parameters: {parameters}",
                "{index}. {name}: {description}\n   Arguments (JSON Schema): {parameters}",
                "- {name}: {description} Args: {parameters}",
                "{function}",
                "{openai}",
                "### {name}\n{description}\nParameters: {parameters}",
                "{name}({parameters}): {description}",
            ],
            &[
                "{name}：{description} 参数：{parameters}",
                "{index}. {name}：{description}\n   参数（JSON Schema）：{parameters}",
                "{function}",
                "{openai}",
                "- {name}：{description}，参数：{parameters}",
                "### {name}\n{description}\n参数：{parameters}",
            ],
        ),
    );
    let separator = if line.contains('\n') { "\n\n" } else { "\n" };
    ToolListing {
        line: line.into(),
        separator: separator.into(),
    }
}

fn draw_restart(rng: &mut Rng, v: &Vocab) -> RestartPrompt {
    let options: Vec<(&str, &str)> = v
        .t(
            &[
                "This task was tried {count} time(s) before and given up. The failed attempts follow; try a different approach this time.\n\n{attempts}",
                "Earlier attempts that failed ({count}):\n{attempts}\nDo not repeat them.",
                "Previous attempts, all abandoned:\n\n{attempts}\n\nStart over with a new plan.",
            ],
            &[
                "这个任务之前已经尝试过 {count} 次，都放弃了。下面是失败的尝试，这一次请换一种做法。\n\n{attempts}",
                "之前失败的尝试（共 {count} 次）：\n{attempts}\n请不要重复这些做法。",
            ],
        )
        .iter()
        .map(|t| {
            let attempt = if t.contains("尝试") {
                "失败的尝试 {n}：\n{steps}"
            } else {
                "Failed attempt {n}:\n{steps}"
            };
            (*t, attempt)
        })
        .collect();
    let (text, attempt) = *pick(rng, &options);
    RestartPrompt {
        text: text.into(),
        attempt: attempt.into(),
        separator: "\n\n".into(),
    }
}

fn draw_final_prompt(rng: &mut Rng, v: &Vocab) -> FinalAnswerPrompt {
    let system = *pick(
        rng,
        v.t(
            &[
                "You write the final answer to a user's task from the results of the commands an agent ran for it. Say plainly what could not be found.\nToday's date: {date}",
                "Summarise the results below into a clear, correct answer for the user. Do not invent results.",
            ],
            &[
                "你根据智能体执行命令得到的结果，为用户写出最终答案。找不到的信息要如实说明。\n今天的日期：{date}",
                "请把下面的结果整理成给用户的清晰、准确的回答，不要编造结果。",
            ],
        ),
    );
    let user = *pick(
        rng,
        v.t(
            &[
                "Task: {query}\n\nCommands run and their results:\n{results}\n\nWrite the final answer in plain text.",
                "Question: {query}\nResults:\n{results}\nAnswer:",
            ],
            &[
                "任务：{query}\n\n执行的命令及结果：\n{results}\n\n请用纯文本写出最终答案。",
                "问题：{query}\n结果：\n{results}\n回答：",
            ],
        ),
    );
    let result = *pick(
        rng,
        &[
            "{n}. {name} {arguments} -> {observation}",
            "- {name}({arguments}): {observation}",
        ],
    );
    FinalAnswerPrompt {
        system: system.into(),
        user: user.into(),
        result: result.into(),
        separator: "\n".into(),
        no_results: if v.zh {
            "（没有执行命令）".into()
        } else {
            "(no command was run)".into()
        },
    }
}

/// The format section: what to write, with examples rendered by the runtime.
fn format_section(rng: &mut Rng, v: &Vocab, t: &Template) -> Result<String> {
    let zh = v.zh;
    let mut args = serde_json::Map::new();
    args.insert(
        if zh { "参数" } else { "argument" }.into(),
        serde_json::Value::String(if zh { "值" } else { "value" }.into()),
    );
    let call = ToolCall::new(if zh { "工具名称" } else { "tool_name" }, args);
    let thought = if zh {
        "你对当前情况的分析，以及下一步的打算"
    } else {
        *pick(
            rng,
            &[
                "what you know so far and what to do next",
                "your reasoning about the next step",
                "why this step helps",
            ],
        )
    };
    let call_step = Step::ToolCalls {
        thought: Some(thought.into()),
        calls: vec![call.clone()],
    };
    let answer_step = Step::FinalAnswer {
        thought: Some(
            if zh {
                "我已经知道答案了。"
            } else {
                "I have what I need."
            }
            .into(),
        ),
        answer: if zh {
            "给用户的完整答案"
        } else {
            "the complete answer for the user"
        }
        .into(),
    };
    let mut out = Vec::new();
    if t.native_tools() {
        out.push(
            if zh {
                "需要工具时，直接调用函数（可以同时调用多个）；工具的结果会作为工具消息返回。不需要工具时，直接用文字回答用户。"
            } else {
                *pick(
                    rng,
                    &[
                        "Call the functions directly when you need them (several at once if they are independent); their results come back as tool messages. When no call is needed, answer the user in plain text.",
                        "Use function calls for anything the tools can do; answer in plain text once you are done.",
                    ],
                )
            }
            .to_owned(),
        );
        return Ok(out.join("\n"));
    }
    let call_text = t.render_step_text(&call_step)?;
    out.push(
        if zh {
            "需要调用工具时，这样回复："
        } else {
            *pick(
                rng,
                &[
                    "To use a tool, reply like this:",
                    "Each reply that calls a tool looks like this:",
                    "Call a tool with:",
                ],
            )
        }
        .to_owned(),
    );
    out.push(call_text);
    let obs = t.render_observations(
        &call_step,
        &[Observation {
            tool_call_id: None,
            name: call.name.clone(),
            content: if zh {
                "工具的结果"
            } else {
                "the tool's result"
            }
            .into(),
            is_error: false,
        }],
    )?;
    let obs_text: Vec<&str> = obs.iter().map(Message::content_str).collect();
    out.push(
        if zh {
            "然后停下。工具的结果会这样返回给你："
        } else {
            *pick(
                rng,
                &[
                    "Then stop. The result comes back to you as:",
                    "Stop there; you will receive:",
                ],
            )
        }
        .to_owned(),
    );
    out.push(obs_text.join("\n"));
    if t.parallel_calls() {
        out.push(
            if zh {
                "多个互不依赖的调用可以写在同一个回复里。"
            } else {
                "Independent calls may go in the same reply, one after the other."
            }
            .into(),
        );
    } else {
        out.push(
            if zh {
                "每个回复只调用一个工具。"
            } else {
                "Use one tool per reply."
            }
            .into(),
        );
    }
    out.push(
        if zh {
            "可以回答时，这样回复："
        } else {
            *pick(
                rng,
                &[
                    "Once you can answer, reply instead with:",
                    "When you are done, write:",
                ],
            )
        }
        .to_owned(),
    );
    out.push(t.render_step_text(&answer_step)?);
    if t.can_give_up(true) {
        out.push(
            if zh {
                "如果陷入困境、认为重新开始会更好，就放弃本次尝试："
            } else {
                "If you are stuck and a fresh start would do better, give up this attempt with:"
            }
            .into(),
        );
        out.push(
            t.render_step_text(&Step::GiveUp {
                thought: Some(
                    if zh {
                        "这条路走不通。"
                    } else {
                        "This approach does not work."
                    }
                    .into(),
                ),
                restart: true,
            })?,
        );
    }
    if t.can_give_up(false) {
        out.push(
            if zh {
                "如果任务无法完成，就这样放弃："
            } else {
                "If the task cannot be done at all, give up with:"
            }
            .into(),
        );
        out.push(
            t.render_step_text(&Step::GiveUp {
                thought: Some(
                    if zh {
                        "无法完成。"
                    } else {
                        "It cannot be done."
                    }
                    .into(),
                ),
                restart: false,
            })?,
        );
    }
    Ok(out.join("\n"))
}

fn system_prompt(rng: &mut Rng, v: &Vocab, t: &Template, format: &str) -> String {
    let zh = v.zh;
    let style = weighted(rng, &[3.0, 2.0, 1.0, if zh { 0.0 } else { 1.0 }]);
    let bullets = chance(rng, 0.4);
    let intro = *pick(
        rng,
        v.t(
            &[
                "You are a helpful assistant who works through the user's request step by step and uses tools when they help.",
                "You are an autonomous agent. You complete the user's task on your own by choosing one action at a time; nobody will answer questions from you.",
                "You are a careful problem solver with access to tools. Think before each call and check every result.",
                "You are an expert assistant for everyday questions: weather, travel, numbers, dates and facts. You have tools for the parts you cannot know.",
                "You are a function-calling assistant. Decide when a tool is needed, call it with correct arguments, and answer from its results.",
                "Act as a concise operator: call tools when needed, never guess what a tool would return, and keep answers short.",
            ],
            &[
                "你是一个会使用工具的助手。你会收到一个任务和一组工具，需要一步一步地完成任务。",
                "你是一个自主的智能体，独立完成用户的任务，每次选择一个行动，没有人会回答你的问题。",
                "你是一个细心的问题解决者，可以使用工具。每次调用前先思考，并检查每个结果。",
                "你是一个日常问题专家：天气、出行、计算、日期和常识。你不知道的部分可以用工具查询。",
                "你是一个函数调用助手：判断何时需要工具，用正确的参数调用，并根据结果回答。",
            ],
        ),
    );
    let date = chance(rng, 0.8).then(|| {
        (*pick(
            rng,
            v.t(
                &[
                    "Today's date: {date}",
                    "Current date: {date}",
                    "Date: {date}",
                ],
                &["今天的日期：{date}", "当前日期：{date}"],
            ),
        ))
        .to_owned()
    });
    let tools_title = *pick(
        rng,
        v.t(
            &["Tools", "Available tools", "Tools you can use", "Tool list"],
            &["工具", "可用工具", "工具列表"],
        ),
    );
    let mut tools = if t.native_tools() {
        String::new()
    } else {
        let wrap = chance(rng, 0.25);
        let body = if wrap {
            "<tools>\n{tools}\n</tools>".to_owned()
        } else {
            "{tools}".to_owned()
        };
        format!("{}\n{body}", heading(style, zh, tools_title))
    };
    if chance(rng, 0.4) {
        let names = *pick(
            rng,
            v.t(
                &[
                    "Tool names: [{tool_names}]",
                    "You may only call: {tool_names}",
                ],
                &["工具名称：[{tool_names}]", "只能调用：{tool_names}"],
            ),
        );
        if tools.is_empty() {
            tools = names.to_owned();
        } else {
            tools.push('\n');
            tools.push_str(names);
        }
    }
    let format_title = *pick(
        rng,
        v.t(
            &["Reply format", "Output format", "How to reply", "Format"],
            &["回复格式", "输出格式", "回复方式"],
        ),
    );
    let format = format!("{}\n{format}", heading(style, zh, format_title));
    let constraints = chance(rng, 0.5).then(|| {
        let mut items: Vec<&str> = v
            .t(
                &[
                    "You cannot ask the user for help or clarification; decide with what you have.",
                    "Use only the tools listed, with exactly the argument names they declare.",
                    "Never invent a tool result; wait for it.",
                    "Do not call a tool when you already know the answer.",
                    "Keep every argument value exactly as the user gave it (names, numbers, units).",
                    "If a tool fails, read the error and fix the call instead of repeating it.",
                    "Answer in the language of the user's question.",
                ],
                &[
                    "不能向用户求助或要求澄清，用已有的信息做决定。",
                    "只使用列出的工具，参数名与声明的完全一致。",
                    "不要编造工具的结果，等待它返回。",
                    "已经知道答案时不要调用工具。",
                    "参数值要与用户给出的完全一致（名称、数字、单位）。",
                    "工具出错时，阅读错误信息并修正调用，而不是重复调用。",
                    "用用户提问的语言回答。",
                ],
            )
            .to_vec();
        rng.shuffle(&mut items);
        let n = 2 + rng.below(3);
        let title = *pick(rng, v.t(&["Constraints", "Rules"], &["约束", "规则"]));
        format!("{}\n{}", heading(style, zh, title), numbered(&items[..n], bullets))
    });
    let practices = chance(rng, 0.4).then(|| {
        let mut items: Vec<&str> = v
            .t(
                &[
                    "Every tool call costs time and money: call as few as you can and never repeat a call with the same arguments.",
                    "Review your earlier results critically and change your approach when something fails.",
                    "Finish as soon as you have what the task needs.",
                    "Break a complex request into small steps and solve them in order.",
                    "Prefer the most specific tool for each step.",
                ],
                &[
                    "每次调用工具都有成本：尽量少调用，不要用相同的参数重复调用。",
                    "批判性地检查之前的结果，失败时换一种做法。",
                    "一旦得到任务需要的信息就立即结束。",
                    "把复杂的请求拆成小步骤，按顺序解决。",
                    "每一步优先使用最合适的工具。",
                ],
            )
            .to_vec();
        rng.shuffle(&mut items);
        let n = 2 + rng.below(2);
        let title = *pick(rng, v.t(&["Best practices", "Tips"], &["最佳实践", "建议"]));
        format!("{}\n{}", heading(style, zh, title), numbered(&items[..n], bullets))
    });
    let closing = chance(rng, 0.5).then(|| {
        (*pick(
            rng,
            v.t(
                &[
                    "Never write a tool result yourself.",
                    "Begin!",
                    "Follow the format exactly; replies in any other shape cannot be read.",
                ],
                &[
                    "不要自己编写工具的结果。",
                    "开始吧！",
                    "严格遵守格式，其他形式的回复无法被读取。",
                ],
            ),
        ))
        .to_owned()
    });
    let mut body: Vec<String> = [
        Some(tools).filter(|s| !s.is_empty()),
        Some(format),
        constraints,
        practices,
    ]
    .into_iter()
    .flatten()
    .collect();
    rng.shuffle(&mut body);
    let mut parts = vec![intro.to_owned()];
    let date_last = chance(rng, 0.3);
    if let (Some(d), false) = (&date, date_last) {
        parts[0] = format!("{intro}\n{d}");
    }
    parts.extend(body);
    if let (Some(d), true) = (&date, date_last) {
        parts.push(d.clone());
    }
    parts.extend(closing);
    parts.join("\n\n")
}

fn describe(spec: &TemplateSpec, kind: &str) -> String {
    let detail = match &spec.syntax {
        StepSyntax::Labeled(l) => format!(
            "labels {} / {} / {}",
            l.thought,
            l.action,
            l.final_answer
                .clone()
                .or_else(|| l.finish.as_ref().map(|f| f.name.clone()))
                .unwrap_or_default()
        ),
        StepSyntax::Json(j) => format!("keys {} / {}", j.thoughts_key, j.command_key),
        StepSyntax::Tagged(t) => format!("tags {} {}", t.open, t.name_key),
        StepSyntax::Native(_) => "native tool calls".into(),
    };
    format!(
        "Grammar-generated: {kind} syntax, {}, {detail}.",
        spec.language
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_distinct_valid_templates_from_a_seed() {
        let s = GrammarSettings {
            count: 2000,
            seed: 7,
            ..Default::default()
        };
        let specs = generate(&s).unwrap();
        assert_eq!(specs.len(), 2000);
        let prints: HashSet<u64> = specs.iter().map(fingerprint).collect();
        assert_eq!(prints.len(), 2000);
        let systems: HashSet<&str> = specs.iter().map(|s| s.system.as_str()).collect();
        assert!(systems.len() > 1900, "{}", systems.len());
        for spec in specs.iter().step_by(97) {
            let t = Template::from_spec(spec.clone()).unwrap();
            // The runtime reads every spec back from its TOML file form.
            let text = toml::to_string(spec).unwrap();
            let back: TemplateSpec = toml::from_str(&text).unwrap();
            assert_eq!(&back, t.spec());
        }
        // Every part shows up.
        let kinds: HashSet<&str> = specs
            .iter()
            .map(|s| match &s.syntax {
                StepSyntax::Labeled(l) if l.finish.is_some() => "finish",
                StepSyntax::Labeled(_) => "labeled",
                StepSyntax::Json(_) => "json",
                StepSyntax::Tagged(_) => "tagged",
                StepSyntax::Native(_) => "native",
            })
            .collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        assert!(
            specs.iter().any(|s| s.language == "zh") && specs.iter().any(|s| s.language == "en")
        );
        assert!(specs.iter().any(|s| s.restart.is_some()));
        assert!(specs.iter().any(|s| s.final_answer_prompt.is_some()));
        assert!(
            specs
                .iter()
                .any(|s| s.system.contains("思考") || s.system.contains("分析"))
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_templates_and_another_seed_others() {
        let a = generate(&GrammarSettings {
            count: 50,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let b = generate(&GrammarSettings {
            count: 50,
            seed: 3,
            ..Default::default()
        })
        .unwrap();
        let c = generate(&GrammarSettings {
            count: 50,
            seed: 4,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a[0].id, "grammar-00000");
    }

    #[test]
    fn languages_and_weights_are_honoured_and_checked() {
        let zh = generate(&GrammarSettings {
            count: 30,
            languages: vec!["zh".into()],
            syntax_weights: [0.0, 1.0, 0.0, 0.0, 0.0],
            ..Default::default()
        })
        .unwrap();
        assert!(zh.iter().all(|s| s.language == "zh"
            && matches!(&s.syntax, StepSyntax::Labeled(l) if l.finish.is_some())));
        let e = generate(&GrammarSettings {
            languages: vec!["fr".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("`fr`"), "{e}");
        let e = generate(&GrammarSettings {
            syntax_weights: [0.0; 5],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("syntax_weights"), "{e}");
    }

    #[test]
    fn the_format_section_shows_the_exact_syntax() {
        for spec in generate(&GrammarSettings {
            count: 40,
            seed: 11,
            ..Default::default()
        })
        .unwrap()
        {
            match &spec.syntax {
                StepSyntax::Labeled(l) => {
                    assert!(
                        spec.system.contains(&format!("{}{}", l.action, l.colon)),
                        "{}",
                        spec.system
                    );
                }
                StepSyntax::Tagged(t) => assert!(spec.system.contains(&t.open)),
                StepSyntax::Json(j) => {
                    assert!(spec.system.contains(&format!("\"{}\"", j.command_key)))
                }
                StepSyntax::Native(_) => assert!(!spec.system.contains("{tools}")),
            }
        }
    }
}
