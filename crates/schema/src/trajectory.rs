//! Agent trajectories: a query, the tools offered, the ordered steps (thoughts, calls,
//! observations, final answer, give-ups and restarts), how it ended, and where it came from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::message::{Message, ToolCall};
use crate::meta::QueryMeta;
use crate::tool::ToolSpec;
use crate::version::SchemaVersion;

/// One decision of the agent: what a model reply parses into.
// Reading goes through a flat form (`StepRepr`) so that an error deep inside a call names its
// full field path (`steps[2].step.calls[1].arguments`), which serde's tagged enums lose.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Call one tool, or several in parallel.
    ToolCalls {
        /// The reasoning before the calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thought: Option<String>,
        /// The calls, in the order the model wrote them.
        calls: Vec<ToolCall>,
    },
    /// Answer the user and stop.
    FinalAnswer {
        /// The reasoning before the answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thought: Option<String>,
        /// The answer text.
        answer: String,
    },
    /// Give up. With `restart`, the attempt is abandoned and a new one begins whose prompt
    /// shows the failed attempts (ToolLLaMA's `give_up_and_restart`).
    GiveUp {
        /// The reasoning before giving up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thought: Option<String>,
        /// Whether a new attempt is requested.
        restart: bool,
    },
}

/// The kinds of [`Step`], as written in its `type` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StepKind {
    ToolCalls,
    FinalAnswer,
    GiveUp,
}

/// The flat, untagged form a [`Step`] is read through.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRepr {
    #[serde(rename = "type")]
    kind: StepKind,
    #[serde(default)]
    thought: Option<String>,
    #[serde(default)]
    calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    restart: Option<bool>,
}

impl TryFrom<StepRepr> for Step {
    type Error = String;

    fn try_from(r: StepRepr) -> Result<Self, String> {
        let stray = |field: &str, kind: &str| {
            Err(format!("field `{field}` does not belong to a {kind} step"))
        };
        match r.kind {
            StepKind::ToolCalls => {
                if r.answer.is_some() {
                    return stray("answer", "tool_calls");
                }
                if r.restart.is_some() {
                    return stray("restart", "tool_calls");
                }
                let calls = r
                    .calls
                    .ok_or("missing field `calls` of a tool_calls step")?;
                Ok(Self::ToolCalls {
                    thought: r.thought,
                    calls,
                })
            }
            StepKind::FinalAnswer => {
                if r.calls.is_some() {
                    return stray("calls", "final_answer");
                }
                if r.restart.is_some() {
                    return stray("restart", "final_answer");
                }
                let answer = r
                    .answer
                    .ok_or("missing field `answer` of a final_answer step")?;
                Ok(Self::FinalAnswer {
                    thought: r.thought,
                    answer,
                })
            }
            StepKind::GiveUp => {
                if r.calls.is_some() {
                    return stray("calls", "give_up");
                }
                if r.answer.is_some() {
                    return stray("answer", "give_up");
                }
                let restart = r
                    .restart
                    .ok_or("missing field `restart` of a give_up step")?;
                Ok(Self::GiveUp {
                    thought: r.thought,
                    restart,
                })
            }
        }
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::try_from(StepRepr::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl Step {
    /// The thought accompanying the step, if any.
    pub fn thought(&self) -> Option<&str> {
        match self {
            Self::ToolCalls { thought, .. }
            | Self::FinalAnswer { thought, .. }
            | Self::GiveUp { thought, .. } => thought.as_deref(),
        }
    }

    /// The tool calls of the step (empty unless it is a `ToolCalls` step).
    pub fn calls(&self) -> &[ToolCall] {
        match self {
            Self::ToolCalls { calls, .. } => calls,
            _ => &[],
        }
    }
}

/// What a tool returned for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observation {
    /// The id of the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The observation text shown to the model (tool output, or the error message).
    pub content: String,
    /// True when the call failed (bad arguments, unknown tool, timeout, tool error); the
    /// content then explains why, so the model can reflect on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

/// One step of a trajectory with what happened around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrajectoryStep {
    /// The decision.
    pub step: Step,
    /// One observation per call of a `ToolCalls` step, in call order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observations: Vec<Observation>,
    /// The prompt the model saw for this step, when recorded (agent runs record it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Vec<Message>>,
    /// The model's raw reply text, when the step was generated rather than constructed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Wall time of the step (generation plus tool execution), in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elapsed_ms: Option<u64>,
}

impl TrajectoryStep {
    /// A step with nothing recorded around it.
    pub fn new(step: Step) -> Self {
        Self {
            step,
            observations: Vec::new(),
            prompt: None,
            reply: None,
            elapsed_ms: None,
        }
    }

    /// The same step with its observations.
    pub fn with_observations(mut self, observations: Vec<Observation>) -> Self {
        self.observations = observations;
        self
    }
}

/// How a trajectory ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A final answer was given.
    Answered,
    /// The agent gave up without asking for a restart.
    GaveUp,
    /// The run broke off: step limit, unparseable replies, model or tool failure.
    Failed,
    /// The last attempt asked for a restart but no attempt was left.
    Restarted,
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The dataset or generator: `scenario/weather`, `toolbench`, `agentinstruct`, `bfcl`, ...
    pub source: String,
    /// The teacher model that produced the trajectory, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    /// The record's id in its source dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// The seed that reproduces a generated record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Benchmark data that must never enter a training split (BFCL and the like).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eval_only: bool,
}

impl Provenance {
    /// Provenance naming only the source.
    pub fn source(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }
}

/// The result of one quality check on a record (strict format, schema, execution, semantic,
/// human review), kept with the record so reviewers and filters can see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The check's name: `format`, `schema`, `execution`, `semantic`, `review`, ...
    pub check: String,
    /// Whether the record passed.
    pub passed: bool,
    /// The index of the step concerned, when the finding is about one step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// What was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A complete agent episode, template-independent: the same trajectory renders under any
/// agent template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trajectory {
    /// Record format version.
    #[serde(default)]
    pub schema_version: SchemaVersion,
    /// Stable record id.
    pub id: String,
    /// The user's query.
    pub query: String,
    /// Earlier conversation (memory) shown before the query, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// The tools offered to the agent.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// The steps, in order. A `GiveUp { restart: true }` step ends one attempt; the steps
    /// after it belong to the next.
    pub steps: Vec<TrajectoryStep>,
    /// How the episode ended.
    pub outcome: Outcome,
    /// The agent template the trajectory was produced under, when it was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Scenario, kind, complexity and language of the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<QueryMeta>,
    /// Where the record came from.
    pub provenance: Provenance,
    /// Quality-check results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
}

impl Trajectory {
    /// The steps split into attempts: each attempt but the last ends with a restart request.
    pub fn attempts(&self) -> Vec<&[TrajectoryStep]> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, s) in self.steps.iter().enumerate() {
            if matches!(s.step, Step::GiveUp { restart: true, .. }) {
                out.push(&self.steps[start..=i]);
                start = i + 1;
            }
        }
        if start < self.steps.len() || out.is_empty() {
            out.push(&self.steps[start..]);
        }
        out
    }

    /// How many restarts the episode contains.
    pub fn restarts(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.step, Step::GiveUp { restart: true, .. }))
            .count()
    }

    /// The final answer, when the episode ended with one.
    pub fn final_answer(&self) -> Option<&str> {
        match self.steps.last().map(|s| &s.step) {
            Some(Step::FinalAnswer { answer, .. }) => Some(answer),
            _ => None,
        }
    }

    /// Total number of tool calls made.
    pub fn call_count(&self) -> usize {
        self.steps.iter().map(|s| s.step.calls().len()).sum()
    }

    /// Checks the invariants every consumer relies on, returning each violation as
    /// `(field path, message)`: every call has one observation, a tool name offered (when
    /// tools are listed), a final answer only as last step, and an outcome that matches the
    /// last step.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let offered =
            |name: &str| self.tools.is_empty() || self.tools.iter().any(|t| t.name == name);
        for (i, s) in self.steps.iter().enumerate() {
            let calls = s.step.calls();
            if let Step::ToolCalls { calls, .. } = &s.step
                && calls.is_empty()
            {
                out.push((
                    format!("steps[{i}].step.calls"),
                    "a tool_calls step needs at least one call".into(),
                ));
            }
            if s.observations.len() != calls.len() {
                out.push((
                    format!("steps[{i}].observations"),
                    format!(
                        "{} call(s) but {} observation(s)",
                        calls.len(),
                        s.observations.len()
                    ),
                ));
            }
            for (j, c) in calls.iter().enumerate() {
                if !offered(&c.name) {
                    out.push((
                        format!("steps[{i}].step.calls[{j}].name"),
                        format!("tool `{}` is not offered", c.name),
                    ));
                }
            }
            if matches!(s.step, Step::FinalAnswer { .. }) && i + 1 != self.steps.len() {
                out.push((
                    format!("steps[{i}]"),
                    "a final answer must be the last step".into(),
                ));
            }
        }
        let last = self.steps.last().map(|s| &s.step);
        let consistent = match self.outcome {
            Outcome::Answered => matches!(last, Some(Step::FinalAnswer { .. })),
            Outcome::GaveUp => matches!(last, Some(Step::GiveUp { restart: false, .. })),
            Outcome::Restarted => matches!(last, Some(Step::GiveUp { restart: true, .. })),
            Outcome::Failed => true,
        };
        if !consistent {
            out.push((
                "outcome".into(),
                format!("{:?} does not match the last step", self.outcome),
            ));
        }
        out
    }
}
