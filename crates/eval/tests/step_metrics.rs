//! Held-out step metrics on hand-made samples and replies, with the runtime's real templates.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_eval::step::{StepReport, score_step, step_items};
use agentune_runtime::Template;
use agentune_schema::{Complexity, Message, QueryKind, QueryMeta, Sample, Step, ToolCall};
use serde_json::{Value, json};

fn tc(name: &str, args: Value) -> ToolCall {
    ToolCall::new(name, args.as_object().cloned().unwrap())
}

fn calls(cs: Vec<ToolCall>) -> Step {
    Step::ToolCalls {
        thought: None,
        calls: cs,
    }
}

fn answer(text: &str) -> Step {
    Step::FinalAnswer {
        thought: None,
        answer: text.into(),
    }
}

fn sample(template: &Template, id: &str, kind: QueryKind, gold: &Step) -> Sample {
    Sample {
        schema_version: Default::default(),
        id: id.into(),
        messages: vec![
            Message::system("tools..."),
            Message::user("query"),
            template.render_step(gold).unwrap(),
        ],
        tools: Vec::new(),
        template_id: Some(template.id().into()),
        meta: QueryMeta::new("weather", kind, Complexity::Simple, "en"),
        split: None,
        group: None,
        provenance: None,
    }
}

fn metric(template: &Template, s: &Sample, reply: &str, name: &str) -> Option<f64> {
    let item = &step_items(s)[0];
    let scores = score_step(template, item, &Message::assistant(reply)).unwrap();
    scores.metrics.get(name).copied()
}

#[test]
fn items_are_assistant_turns_with_gold_history() {
    let t = Template::builtin("hermes").unwrap();
    let s = sample(
        &t,
        "s1",
        QueryKind::Positive,
        &calls(vec![tc("w", json!({"city": "Paris"}))]),
    );
    let items = step_items(&s);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id, "s1#2");
    assert_eq!(items[0].prompt.len(), 2);
}

#[test]
fn exact_reply_scores_full_marks() {
    let t = Template::builtin("hermes").unwrap();
    let gold = calls(vec![tc("get_weather", json!({"city": "Paris", "days": 3}))]);
    let s = sample(&t, "s", QueryKind::Positive, &gold);
    let reply = t.render_step_text(&gold).unwrap();
    for m in [
        "strict_valid",
        "lenient_valid",
        "tool_name_acc",
        "arg_exact",
        "arg_f1",
        "called",
    ] {
        assert_eq!(metric(&t, &s, &reply, m), Some(1.0), "{m}");
    }
    assert_eq!(metric(&t, &s, &reply, "gave_up"), Some(0.0));
    // Not a hard negative and not parallel: these do not apply.
    assert_eq!(metric(&t, &s, &reply, "abstained"), None);
    assert_eq!(metric(&t, &s, &reply, "parallel_set_match"), None);
}

#[test]
fn lenient_only_and_wrong_arguments() {
    let t = Template::builtin("hermes").unwrap();
    let gold = calls(vec![tc("get_weather", json!({"city": "Paris", "days": 3}))]);
    let s = sample(&t, "s", QueryKind::Positive, &gold);
    // Single quotes and a trailing comma: only the lenient parser takes it.
    let sloppy = "<tool_call>\n{'name': 'get_weather', 'arguments': {'city': 'Paris', 'days': 3},}\n</tool_call>";
    assert_eq!(metric(&t, &s, sloppy, "strict_valid"), Some(0.0));
    assert_eq!(metric(&t, &s, sloppy, "lenient_valid"), Some(1.0));
    assert_eq!(metric(&t, &s, sloppy, "arg_exact"), Some(1.0));
    let wrong = t
        .render_step_text(&calls(vec![tc(
            "get_weather",
            json!({"city": "Paris", "days": 4}),
        )]))
        .unwrap();
    assert_eq!(metric(&t, &s, &wrong, "tool_name_acc"), Some(1.0));
    assert_eq!(metric(&t, &s, &wrong, "arg_exact"), Some(0.0));
    assert_eq!(metric(&t, &s, &wrong, "arg_f1"), Some(0.5));
    // A direct answer where a call was needed.
    assert_eq!(metric(&t, &s, "It is sunny.", "called"), Some(0.0));
    assert_eq!(metric(&t, &s, "It is sunny.", "tool_name_acc"), Some(0.0));
}

#[test]
fn parallel_calls_match_in_any_order() {
    let t = Template::builtin("hermes").unwrap();
    let a = tc("get_weather", json!({"city": "Paris"}));
    let b = tc("get_weather", json!({"city": "Rome"}));
    let s = sample(
        &t,
        "s",
        QueryKind::Positive,
        &calls(vec![a.clone(), b.clone()]),
    );
    let swapped = t
        .render_step_text(&calls(vec![b.clone(), a.clone()]))
        .unwrap();
    assert_eq!(metric(&t, &s, &swapped, "parallel_set_match"), Some(1.0));
    let one = t.render_step_text(&calls(vec![a])).unwrap();
    assert_eq!(metric(&t, &s, &one, "parallel_set_match"), Some(0.0));
    assert_eq!(metric(&t, &s, &one, "tool_name_acc"), Some(0.5));
}

#[test]
fn hard_negatives_score_abstention() {
    let t = Template::builtin("hermes").unwrap();
    let s = sample(
        &t,
        "s",
        QueryKind::HardNegative,
        &answer("What a nice day indeed!"),
    );
    assert_eq!(
        metric(&t, &s, "Yes, lovely weather.", "abstained"),
        Some(1.0)
    );
    let call = t
        .render_step_text(&calls(vec![tc("get_weather", json!({"city": "Paris"}))]))
        .unwrap();
    assert_eq!(metric(&t, &s, &call, "abstained"), Some(0.0));
    assert_eq!(metric(&t, &s, &call, "no_call"), Some(0.0));
    assert_eq!(metric(&t, &s, &call, "called"), None);
}

#[test]
fn an_unparsed_reply_is_no_abstention() {
    let t = Template::builtin("react").unwrap();
    let s = sample(
        &t,
        "s",
        QueryKind::HardNegative,
        &answer("What a nice day indeed!"),
    );
    let gold = t.render_step_text(&answer("Indeed it is.")).unwrap();
    assert_eq!(metric(&t, &s, &gold, "abstained"), Some(1.0));
    // Format lines copied without content: no call, but no answer either.
    let broken = "Thought:\nAction:\nAction Input:";
    assert_eq!(metric(&t, &s, broken, "lenient_valid"), Some(0.0));
    assert_eq!(metric(&t, &s, broken, "abstained"), Some(0.0));
    assert_eq!(metric(&t, &s, broken, "no_call"), Some(1.0));
}

#[test]
fn give_ups_are_counted() {
    let t = Template::builtin("toolllama").unwrap();
    let gold = calls(vec![tc("get_weather", json!({"city": "Paris"}))]);
    let s = sample(&t, "s", QueryKind::Positive, &gold);
    let give_up = t
        .render_step_text(&Step::GiveUp {
            thought: Some("The tool keeps failing.".into()),
            restart: true,
        })
        .unwrap();
    assert_eq!(metric(&t, &s, &give_up, "gave_up"), Some(1.0));
    assert_eq!(metric(&t, &s, &give_up, "called"), Some(0.0));
}

#[test]
fn report_groups_by_slice() {
    let t = Template::builtin("hermes").unwrap();
    let gold = calls(vec![tc("get_weather", json!({"city": "Paris"}))]);
    let pos = sample(&t, "p", QueryKind::Positive, &gold);
    let neg = sample(&t, "n", QueryKind::HardNegative, &answer("Nice!"));
    let mut report = StepReport::default();
    let right = t.render_step_text(&gold).unwrap();
    for (s, reply) in [(&pos, right.as_str()), (&pos, "no idea"), (&neg, "Indeed.")] {
        let item = &step_items(s)[0];
        let scores = score_step(&t, item, &Message::assistant(reply)).unwrap();
        report.add(item, &scores);
    }
    assert_eq!(report.overall.items, 3);
    let called = report.by_kind["positive"].metrics["called"];
    assert_eq!((called.mean, called.n), (0.5, 2));
    assert_eq!(
        report.by_kind["hard_negative"].metrics["abstained"].mean,
        1.0
    );
    assert_eq!(report.by_template["hermes"].items, 3);
    assert_eq!(report.by_scenario["weather"].metrics["lenient_valid"].n, 3);
    assert_eq!(report.by_complexity["simple"].items, 3);
}
