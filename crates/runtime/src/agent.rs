//! The agent loop: render the prompt, ask the model, parse its reply, run the tools, feed the
//! observations back, until a final answer, a give-up, or a limit; restarts carry the failed
//! attempts into the next prompt. Returns a schema [`Trajectory`] with everything recorded.

use std::time::Instant;

use agentune_schema::{
    Check, Message, Outcome, Provenance, Step, ToolSpec, Trajectory, TrajectoryStep,
};

use crate::Result;
use crate::model::{ChatModel, ChatRequest};
use crate::template::{ParseMode, Template};
use crate::tools::ToolRegistry;

/// Limits and sampling settings of one agent run.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// Most model calls in the whole run (all attempts together).
    pub max_steps: usize,
    /// Most restarts (`give_up_and_restart`) honoured; a further one ends the run.
    pub max_restarts: usize,
    /// Unparseable replies tolerated in a row; each one is shown to the model with the
    /// reason so it can correct itself.
    pub max_format_errors: usize,
    /// How replies are read: lenient for inference, strict to check a model's format.
    pub parse_mode: ParseMode,
    /// Sampling temperature sent with every request.
    pub temperature: Option<f64>,
    /// Token limit per reply.
    pub max_tokens: Option<u32>,
    /// Sampling seed sent with every request.
    pub seed: Option<u64>,
    /// The date shown in prompts that have a `{date}` placeholder.
    pub date: Option<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_steps: 10,
            max_restarts: 2,
            max_format_errors: 2,
            parse_mode: ParseMode::Lenient,
            temperature: None,
            max_tokens: Some(512),
            seed: None,
            date: None,
        }
    }
}

/// An agent: a template, the tools it may call and the model that decides.
pub struct Agent<'a, M: ChatModel + ?Sized> {
    template: &'a Template,
    tools: &'a ToolRegistry,
    model: &'a M,
    config: AgentConfig,
}

impl<M: ChatModel + ?Sized> std::fmt::Debug for Agent<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("template", &self.template.id())
            .field("tools", &self.tools.names())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'a, M: ChatModel + ?Sized> Agent<'a, M> {
    /// An agent with the default limits.
    pub fn new(template: &'a Template, tools: &'a ToolRegistry, model: &'a M) -> Self {
        Self {
            template,
            tools,
            model,
            config: AgentConfig::default(),
        }
    }

    /// The same agent with these limits.
    pub fn with_config(mut self, config: AgentConfig) -> Self {
        self.config = config;
        self
    }

    /// The limits in use.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Runs one episode for `query` (after the conversation `history`, if any).
    ///
    /// Model failures (the endpoint is down, returns garbage) are errors; everything the model
    /// does wrong (unparseable replies, bad calls, give-ups, running out of steps) is recorded
    /// in the trajectory, whose `outcome` and `checks` say how it ended.
    pub fn run(&self, query: &str, history: &[Message]) -> Result<Trajectory> {
        let specs: Vec<ToolSpec> = self.tools.specs();
        let stop = self.template.stop_sequences();
        let mut steps: Vec<TrajectoryStep> = Vec::new();
        let mut attempt_start = 0usize;
        let mut failed: Vec<Vec<TrajectoryStep>> = Vec::new();
        let mut checks: Vec<Check> = Vec::new();
        let mut format_errors = 0usize;
        let mut correction: Option<(Message, String)> = None;
        let mut outcome = Outcome::Failed;
        let mut calls_made = 0usize;

        for call_index in 0..self.config.max_steps {
            let started = Instant::now();
            let mut messages = self.template.render_prompt(
                &specs,
                query,
                history,
                &steps[attempt_start..],
                &failed,
                self.config.date.as_deref(),
            )?;
            if let Some((bad_reply, reason)) = &correction {
                messages.push(bad_reply.clone());
                messages.push(Message::user(format!(
                    "Your last reply could not be read ({reason}). Reply again, exactly in \
                     the format described above."
                )));
            }
            let mut request = ChatRequest::new(messages.clone());
            if self.template.native_tools() && !specs.is_empty() {
                request.tools = Some(specs.clone());
            }
            request.temperature = self.config.temperature;
            request.max_tokens = self.config.max_tokens;
            request.seed = self.config.seed;
            request.stop = stop.clone();
            let response = self.model.chat(&request)?;
            let reply = response.message;
            let reply_text = reply_record(&reply);
            let step = match self.template.parse_message(&reply, self.config.parse_mode) {
                Ok(step) => step,
                Err(e) => {
                    format_errors += 1;
                    tracing::debug!(step = call_index, error = %e, "unreadable reply");
                    checks.push(Check {
                        check: "format".into(),
                        passed: false,
                        step: Some(steps.len()),
                        message: Some(format!("model call {call_index}: {e}")),
                    });
                    if format_errors > self.config.max_format_errors {
                        outcome = Outcome::Failed;
                        break;
                    }
                    correction = Some((reply, e.to_string()));
                    continue;
                }
            };
            format_errors = 0;
            correction = None;
            let mut record = TrajectoryStep::new(step.clone());
            record.prompt = Some(messages);
            record.reply = Some(reply_text);
            match &step {
                Step::ToolCalls { calls, .. } => {
                    let mut observations = self.tools.execute_all(calls);
                    for (k, (obs, call)) in observations.iter_mut().zip(calls).enumerate() {
                        if obs.tool_call_id.is_none() {
                            obs.tool_call_id = Some(
                                call.id
                                    .clone()
                                    .unwrap_or_else(|| format!("call_{}", calls_made + k)),
                            );
                        }
                    }
                    calls_made += calls.len();
                    record.observations = observations;
                    record.elapsed_ms = Some(elapsed_ms(started));
                    steps.push(record);
                }
                Step::FinalAnswer { .. } => {
                    record.elapsed_ms = Some(elapsed_ms(started));
                    steps.push(record);
                    outcome = Outcome::Answered;
                    break;
                }
                Step::GiveUp { restart, .. } => {
                    record.elapsed_ms = Some(elapsed_ms(started));
                    steps.push(record);
                    if !*restart {
                        outcome = Outcome::GaveUp;
                        break;
                    }
                    if failed.len() >= self.config.max_restarts {
                        outcome = Outcome::Restarted;
                        break;
                    }
                    failed.push(steps[attempt_start..].to_vec());
                    attempt_start = steps.len();
                }
            }
        }
        if outcome == Outcome::Failed && format_errors <= self.config.max_format_errors {
            checks.push(Check {
                check: "step_limit".into(),
                passed: false,
                step: None,
                message: Some(format!(
                    "no final answer within {} model calls",
                    self.config.max_steps
                )),
            });
        }
        Ok(Trajectory {
            schema_version: Default::default(),
            id: String::new(),
            query: query.to_owned(),
            history: history.to_vec(),
            tools: specs,
            steps,
            outcome,
            template_id: Some(self.template.id().to_owned()),
            meta: None,
            provenance: Provenance::source("agent"),
            checks,
        })
    }
}

/// The raw reply as recorded: its text, or its structured calls as JSON when it has no text.
fn reply_record(reply: &Message) -> String {
    let text = reply.content_str();
    if reply.tool_calls.is_empty() {
        return text.to_owned();
    }
    let calls = serde_json::to_string(&reply.tool_calls).unwrap_or_default();
    if text.is_empty() {
        calls
    } else {
        format!("{text}\n{calls}")
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
