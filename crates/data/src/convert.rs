//! Conversion between trajectories and chat messages (the OpenAI function-calling form most
//! formats reduce to). A give-up and a ToolBench-style final answer travel as calls of the
//! pseudo-tool `Finish` (`return_type` `give_answer` or `give_up_and_restart`) when a format
//! has no other way to say them.

use agentune_schema::{
    Message, Observation, Outcome, Provenance, Role, Step, ToolCall, ToolSpec, Trajectory,
    TrajectoryStep,
};
use serde_json::{Map, Value, json};

/// The pseudo-tool ToolBench uses to end an attempt.
pub const FINISH: &str = "Finish";

/// The messages of a trajectory: history, the query, then per step an assistant message
/// (thought as content, calls as `tool_calls` with ids `call_<n>`) and one tool message per
/// observation. A final answer is an assistant message with the answer as content (its thought,
/// if any, is not carried); a give-up is a `Finish` call with `give_up_and_restart` (or
/// `give_up`).
pub fn trajectory_to_messages(t: &Trajectory) -> Vec<Message> {
    let mut out = t.history.clone();
    out.push(Message::user(t.query.clone()));
    let mut next_id = 0usize;
    for s in &t.steps {
        match &s.step {
            Step::ToolCalls { thought, calls } => {
                let calls: Vec<ToolCall> = calls
                    .iter()
                    .map(|c| {
                        let id = c.id.clone().unwrap_or_else(|| format!("call_{next_id}"));
                        next_id += 1;
                        ToolCall {
                            id: Some(id),
                            ..c.clone()
                        }
                    })
                    .collect();
                out.push(Message::assistant_calls(thought.clone(), calls.clone()));
                for (i, o) in s.observations.iter().enumerate() {
                    let id = o
                        .tool_call_id
                        .clone()
                        .or_else(|| calls.get(i).and_then(|c| c.id.clone()))
                        .unwrap_or_default();
                    out.push(Message::tool(id, o.name.clone(), o.content.clone()));
                }
            }
            Step::FinalAnswer { answer, .. } => out.push(Message::assistant(answer.clone())),
            Step::GiveUp { thought, restart } => {
                let mut args = Map::new();
                let kind = if *restart {
                    "give_up_and_restart"
                } else {
                    "give_up"
                };
                args.insert("return_type".into(), json!(kind));
                let call = ToolCall::new(FINISH, args).with_id(format!("call_{next_id}"));
                next_id += 1;
                out.push(Message::assistant_calls(thought.clone(), vec![call]));
            }
        }
    }
    out
}

/// Reads a `Finish` call: `Some(step)` for a final answer or a give-up, `None` for another
/// call.
pub fn finish_step(call: &ToolCall, thought: Option<String>) -> Option<Step> {
    if call.name != FINISH {
        return None;
    }
    match call.arguments.get("return_type").and_then(Value::as_str) {
        Some("give_answer") => Some(Step::FinalAnswer {
            thought,
            answer: call
                .arguments
                .get("final_answer")
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default(),
        }),
        Some("give_up_and_restart") => Some(Step::GiveUp {
            thought,
            restart: true,
        }),
        Some("give_up") => Some(Step::GiveUp {
            thought,
            restart: false,
        }),
        _ => None,
    }
}

/// Builds a trajectory from a conversation when it has the shape of one: optional leading
/// system messages (dropped: they belong to the template), earlier turns (kept as history),
/// then one user query followed only by assistant and tool messages, ending in an answer, a
/// give-up, or broken off. Returns `None` for any other shape (e.g. a user turn after the
/// first answer), which callers keep as a [`agentune_schema::Sample`].
pub fn trajectory_from_messages(
    id: &str,
    messages: &[Message],
    tools: Vec<ToolSpec>,
    provenance: Provenance,
) -> Option<Trajectory> {
    let start = messages
        .iter()
        .position(|m| m.role != Role::System)
        .unwrap_or(messages.len());
    let body = &messages[start..];
    let q = body.iter().rposition(|m| m.role == Role::User)?;
    // No assistant turn before the query may be followed by tools the model calls... history
    // is kept as is; what follows the query must be the agent's episode.
    let history = body[..q].to_vec();
    let query = body[q].content_str().to_owned();
    let rest = &body[q + 1..];
    if rest.is_empty() {
        return None;
    }
    let finish_offered = tools.iter().any(|t| t.name == FINISH);
    let mut steps: Vec<TrajectoryStep> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let m = &rest[i];
        if m.role != Role::Assistant {
            return None;
        }
        if matches!(
            steps.last().map(|s| &s.step),
            Some(Step::FinalAnswer { .. })
        ) {
            return None;
        }
        i += 1;
        if m.tool_calls.is_empty() {
            steps.push(TrajectoryStep::new(Step::FinalAnswer {
                thought: None,
                answer: m.content_str().to_owned(),
            }));
            continue;
        }
        let thought = m.content.clone().filter(|c| !c.trim().is_empty());
        if m.tool_calls.len() == 1
            && !finish_offered
            && let Some(step) = finish_step(&m.tool_calls[0], thought.clone())
        {
            // A Finish call may be answered by a tool message; it is not an observation.
            while i < rest.len() && rest[i].role == Role::Tool {
                i += 1;
            }
            steps.push(TrajectoryStep::new(step));
            continue;
        }
        let mut observations = Vec::new();
        while i < rest.len() && rest[i].role == Role::Tool {
            let t = &rest[i];
            let k = observations.len();
            let call = t
                .tool_call_id
                .as_deref()
                .and_then(|id| m.tool_calls.iter().find(|c| c.id.as_deref() == Some(id)))
                .or_else(|| m.tool_calls.get(k));
            observations.push(Observation {
                tool_call_id: t
                    .tool_call_id
                    .clone()
                    .or_else(|| call.and_then(|c| c.id.clone())),
                name: t
                    .name
                    .clone()
                    .or_else(|| call.map(|c| c.name.clone()))
                    .unwrap_or_default(),
                content: t.content_str().to_owned(),
                is_error: false,
            });
            i += 1;
        }
        steps.push(
            TrajectoryStep::new(Step::ToolCalls {
                thought,
                calls: m.tool_calls.clone(),
            })
            .with_observations(observations),
        );
    }
    let outcome = match steps.last().map(|s| &s.step) {
        Some(Step::FinalAnswer { .. }) => Outcome::Answered,
        Some(Step::GiveUp { restart: true, .. }) => Outcome::Restarted,
        Some(Step::GiveUp { restart: false, .. }) => Outcome::GaveUp,
        _ => Outcome::Failed,
    };
    Some(Trajectory {
        schema_version: Default::default(),
        id: id.to_owned(),
        query,
        history,
        tools,
        steps,
        outcome,
        template_id: None,
        meta: None,
        provenance,
        checks: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn sample_trajectory() -> Trajectory {
        Trajectory {
            schema_version: Default::default(),
            id: "t1".into(),
            query: "Weather in Paris?".into(),
            history: vec![],
            tools: vec![ToolSpec::new(
                "weather",
                "forecast",
                json!({"type": "object"}),
            )],
            steps: vec![
                TrajectoryStep::new(Step::ToolCalls {
                    thought: Some("look it up".into()),
                    calls: vec![
                        ToolCall::new("weather", args(json!({"city": "Paris"}))).with_id("call_0"),
                    ],
                })
                .with_observations(vec![Observation {
                    tool_call_id: Some("call_0".into()),
                    name: "weather".into(),
                    content: "sunny".into(),
                    is_error: false,
                }]),
                TrajectoryStep::new(Step::FinalAnswer {
                    thought: None,
                    answer: "Sunny.".into(),
                }),
            ],
            outcome: Outcome::Answered,
            template_id: None,
            meta: None,
            provenance: Provenance::source("test"),
            checks: vec![],
        }
    }

    #[test]
    fn messages_round_trip() {
        let t = sample_trajectory();
        let msgs = trajectory_to_messages(&t);
        assert_eq!(msgs.len(), 4);
        let back =
            trajectory_from_messages("t1", &msgs, t.tools.clone(), Provenance::source("test"))
                .unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn a_user_turn_after_the_answer_is_not_a_trajectory() {
        let msgs = vec![
            Message::user("hi"),
            Message::assistant("hello"),
            Message::user("bye"),
        ];
        // The last user turn has no reply: not an episode.
        assert!(trajectory_from_messages("x", &msgs, vec![], Provenance::default()).is_none());
        let msgs = vec![
            Message::user("hi"),
            Message::assistant("hello"),
            Message::assistant("again"),
        ];
        assert!(trajectory_from_messages("x", &msgs, vec![], Provenance::default()).is_none());
    }

    #[test]
    fn finish_calls_become_answers_and_restarts() {
        let give = ToolCall::new(
            FINISH,
            args(json!({"return_type": "give_answer", "final_answer": "42"})),
        );
        assert!(
            matches!(finish_step(&give, None), Some(Step::FinalAnswer { answer, .. }) if answer == "42")
        );
        let restart = ToolCall::new(FINISH, args(json!({"return_type": "give_up_and_restart"})));
        assert!(matches!(
            finish_step(&restart, None),
            Some(Step::GiveUp { restart: true, .. })
        ));
        assert!(finish_step(&ToolCall::new("weather", Map::new()), None).is_none());
    }
}
