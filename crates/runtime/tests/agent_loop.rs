//! The agent loop against a scripted model that replays gold replies: a correct run, a tool
//! error followed by recovery, an unreadable reply followed by a correction, give-up and
//! restart (ToolLLaMA), the restart bound, a plain give-up, the step limit, and native
//! structured tool calls (openai template).

#![allow(clippy::unwrap_used)]

use agentune_runtime::model::ScriptedModel;
use agentune_runtime::tools::{Clock, ToolRegistry};
use agentune_runtime::{Agent, AgentConfig, Template};
use agentune_schema::{Message, Outcome, Role, Step, ToolCall};
use serde_json::json;

fn registry(dir: &std::path::Path) -> ToolRegistry {
    ToolRegistry::builtin_with_clock(dir, Clock::fixed("2026-03-14T09:30:00Z").unwrap()).unwrap()
}

#[test]
fn react_run_calls_a_tool_then_answers() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let model = ScriptedModel::from_texts([
        "Thought: I should compute this exactly.\nAction: calculator\nAction Input: {\"expression\": \"17 * 23\"}",
        "Thought: I have what I need.\nFinal Answer: 17 times 23 is 391.",
    ]);
    let t = Agent::new(&template, &tools, &model)
        .run("What is 17 times 23?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Answered);
    assert_eq!(t.steps.len(), 2);
    assert_eq!(t.final_answer(), Some("17 times 23 is 391."));
    let obs = &t.steps[0].observations;
    assert_eq!(obs.len(), 1);
    assert!(!obs[0].is_error, "{obs:?}");
    assert!(obs[0].content.contains("391"), "{}", obs[0].content);
    assert_eq!(t.template_id.as_deref(), Some("react"));
    assert!(t.problems().is_empty(), "{:?}", t.problems());
    // Every step records the prompt it saw and the raw reply.
    assert!(
        t.steps
            .iter()
            .all(|s| s.prompt.is_some() && s.reply.is_some())
    );

    // The second request carries the first reply and its observation; both stop before the
    // model could invent an observation.
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].stop, vec!["\nObservation:".to_owned()]);
    let second: Vec<&str> = requests[1]
        .messages
        .iter()
        .map(|m| m.content_str())
        .collect();
    assert!(
        second.iter().any(|c| c.contains("Action: calculator")),
        "{second:?}"
    );
    assert!(
        second
            .iter()
            .any(|c| c.starts_with("Observation: ") && c.contains("391")),
        "{second:?}"
    );
    assert!(
        requests[0].tools.is_none(),
        "text templates list tools in the prompt"
    );
}

#[test]
fn a_bad_call_becomes_an_error_observation_and_the_model_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let model = ScriptedModel::from_texts([
        "Thought: Look up the weather.\nAction: get_weather\nAction Input: {\"town\": \"Beijing\"}",
        "Thought: The argument is called city.\nAction: get_weather\nAction Input: {\"city\": \"Beijing\", \"date\": \"2026-03-15\"}",
        "Thought: I have what I need.\nFinal Answer: Here is tomorrow's (simulated) weather in Beijing.",
    ]);
    let t = Agent::new(&template, &tools, &model)
        .run("What's the weather in Beijing tomorrow?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Answered);
    assert_eq!(t.steps.len(), 3);
    let first = &t.steps[0].observations[0];
    assert!(first.is_error);
    assert!(first.content.contains("city"), "{}", first.content);
    let second = &t.steps[1].observations[0];
    assert!(!second.is_error, "{}", second.content);
    // The model saw the error text.
    let requests = model.requests();
    assert!(
        requests[1]
            .messages
            .iter()
            .any(|m| m.content_str().contains(&first.content))
    );
}

#[test]
fn an_unreadable_reply_is_shown_back_and_corrected() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let model = ScriptedModel::from_texts([
        "I think the answer is probably 4.",
        "Thought: I can answer directly.\nFinal Answer: 2 + 2 = 4.",
    ]);
    let t = Agent::new(&template, &tools, &model)
        .run("What is 2 + 2?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Answered);
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.checks.len(), 1);
    assert_eq!(t.checks[0].check, "format");
    assert!(!t.checks[0].passed);
    let retry = &model.requests()[1].messages;
    let n = retry.len();
    assert_eq!(
        retry[n - 2].content_str(),
        "I think the answer is probably 4."
    );
    assert!(retry[n - 1].content_str().contains("could not be read"));
}

#[test]
fn too_many_unreadable_replies_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let model = ScriptedModel::from_texts(["hmm", "hmm", "hmm", "never asked"]);
    let t = Agent::new(&template, &tools, &model)
        .run("What is 2 + 2?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Failed);
    assert!(t.steps.is_empty());
    assert_eq!(t.checks.iter().filter(|c| c.check == "format").count(), 3);
    assert_eq!(model.remaining(), 1);
}

const GIVE_UP: &str = "Thought: This path is not working.\nAction: Finish\nAction Input: {\"return_type\": \"give_up_and_restart\"}";

#[test]
fn toolllama_give_up_and_restart_carries_the_failed_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("toolllama").unwrap();
    let model = ScriptedModel::from_texts([
        "Thought: Try the knowledge base.\nAction: lookup_knowledge\nAction Input: {\"query\": \"zzzz qqqq\"}",
        GIVE_UP,
        "Thought: Compute it instead.\nAction: calculator\nAction Input: {\"expression\": \"2^10\"}",
        "Thought: Done.\nAction: Finish\nAction Input: {\"return_type\": \"give_answer\", \"final_answer\": \"2^10 = 1024\"}",
    ]);
    let t = Agent::new(&template, &tools, &model)
        .run("What is 2 to the 10th?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Answered);
    assert_eq!(t.restarts(), 1);
    assert_eq!(t.attempts().len(), 2);
    assert_eq!(t.final_answer(), Some("2^10 = 1024"));
    // The third request (first of attempt 2) starts over, showing the failed attempt.
    let requests = model.requests();
    let fresh = &requests[2].messages;
    assert!(
        !fresh.iter().any(|m| m.role == Role::Assistant),
        "the new attempt starts from the prompt: {fresh:?}"
    );
    let all: String = fresh.iter().map(|m| m.content_str()).collect();
    assert!(
        all.contains("lookup_knowledge"),
        "failed attempt missing: {all}"
    );
    assert!(t.problems().is_empty(), "{:?}", t.problems());
}

#[test]
fn restarts_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("toolllama").unwrap();
    let model = ScriptedModel::from_texts([GIVE_UP, GIVE_UP, GIVE_UP, GIVE_UP]);
    let config = AgentConfig {
        max_restarts: 1,
        ..AgentConfig::default()
    };
    let t = Agent::new(&template, &tools, &model)
        .with_config(config)
        .run("Impossible task", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Restarted);
    assert_eq!(t.steps.len(), 2);
    assert_eq!(model.remaining(), 2);
}

#[test]
fn the_step_limit_ends_a_run_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let call = "Thought: Again.\nAction: calculator\nAction Input: {\"expression\": \"1 + 1\"}";
    let model = ScriptedModel::from_texts([call; 6]);
    let config = AgentConfig {
        max_steps: 4,
        ..AgentConfig::default()
    };
    let t = Agent::new(&template, &tools, &model)
        .with_config(config)
        .run("Loop forever", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Failed);
    assert_eq!(t.steps.len(), 4);
    assert!(t.checks.iter().any(|c| c.check == "step_limit"));
    assert_eq!(model.remaining(), 2);
}

#[test]
fn openai_template_sends_tools_and_reads_structured_calls() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("openai").unwrap();
    let call = ToolCall::new(
        "convert_units",
        json!({"value": 10, "from_unit": "km", "to_unit": "mi"})
            .as_object()
            .unwrap()
            .clone(),
    )
    .with_id("call_abc");
    let model = ScriptedModel::new(vec![
        Message::assistant_calls(None, vec![call]),
        Message::assistant("10 km is about 6.21 miles."),
    ]);
    let t = Agent::new(&template, &tools, &model)
        .run("How many miles is 10 km?", &[])
        .unwrap();
    assert_eq!(t.outcome, Outcome::Answered, "{:?}", t.checks);
    let Step::ToolCalls { calls, .. } = &t.steps[0].step else {
        panic!("expected calls: {:?}", t.steps[0].step);
    };
    assert_eq!(calls[0].name, "convert_units");
    let obs = &t.steps[0].observations[0];
    assert!(!obs.is_error, "{}", obs.content);
    assert_eq!(obs.tool_call_id.as_deref(), Some("call_abc"));
    let requests = model.requests();
    let offered = requests[0].tools.as_ref().unwrap();
    assert!(offered.iter().any(|s| s.name == "convert_units"));
    // The tool result goes back as a `tool` message answering the call id.
    let back = requests[1]
        .messages
        .iter()
        .find(|m| m.role == Role::Tool)
        .unwrap();
    assert_eq!(back.tool_call_id.as_deref(), Some("call_abc"));
}

#[test]
fn a_model_failure_is_an_error_not_a_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let tools = registry(dir.path());
    let template = Template::builtin("react").unwrap();
    let model = ScriptedModel::from_texts(Vec::<String>::new());
    assert!(
        Agent::new(&template, &tools, &model)
            .run("hi", &[])
            .is_err()
    );
}
