//! Round trip of every shipped template: for any step the template can express,
//! `parse(render_step(step)) == canonical(step)`, strictly and leniently.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Step, StepSyntax, ToolCall};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Free text as models write it: several scripts, emoji, punctuation, inner newlines; no
/// colons, angle brackets or backticks, which the syntaxes reserve.
fn prose() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.?!'\"(){}\\[\\]/\\\\_=+%&;é东京天气查询下雨😀\u{3000}\n-]{1,60}"
        .prop_map(|s| s.trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

/// Prose that may hold what the syntaxes reserve: labels at line starts, tags, fences.
fn tricky_prose() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        prose(),
        Just("\nAction: x".to_owned()),
        Just("\nobservation: y".to_owned()),
        Just("\n最终答案：z".to_owned()),
        Just("\nFinal Answer: w".to_owned()),
        Just("<tool_call>".to_owned()),
        Just("<|endofthink|>".to_owned()),
        Just("\nplan: p".to_owned()),
        Just(": ".to_owned()),
    ];
    prop::collection::vec(pieces, 1..5)
        .prop_map(|v| v.concat().trim().to_owned())
        .prop_filter("non-empty", |s| !s.is_empty())
}

fn tool_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,12}(\\.[a-z][a-z0-9_]{0,8})?"
        .prop_filter("not a reserved name", |n| n != "finish")
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arguments() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_]{1,10}|\\PC{1,6}", json_value(), 0..4)
        .prop_map(|m| m.into_iter().collect())
}

fn call(with_id: bool) -> impl Strategy<Value = ToolCall> {
    (tool_name(), arguments(), 0u32..1000).prop_map(move |(n, a, id)| {
        let c = ToolCall::new(n, a);
        if with_id {
            c.with_id(format!("call_{id}"))
        } else {
            c
        }
    })
}

/// Thoughts for the JSON family: text, optionally with marked fields (`plan: ...`).
fn autogpt_thought() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        proptest::option::of(prose()),
        (
            proptest::option::of(prose()),
            proptest::option::of(prose()),
            proptest::option::of(prose()),
            proptest::option::of(prose()),
            proptest::option::of(prose()),
        )
            .prop_map(|(text, reasoning, plan, criticism, speak)| {
                let mut out = text.unwrap_or_default();
                for (k, v) in [
                    ("reasoning", reasoning),
                    ("plan", plan),
                    ("criticism", criticism),
                    ("speak", speak),
                ] {
                    if let Some(v) = v {
                        out.push_str(&format!("\n{k}: {v}"));
                    }
                }
                let out = out.trim_start_matches('\n').to_owned();
                (!out.is_empty()).then_some(out)
            }),
    ]
}

fn steps(t: &Template) -> BoxedStrategy<Step> {
    let max_calls = if t.parallel_calls() { 4 } else { 2 };
    let native = t.native_tools();
    let thought = if matches!(t.spec().syntax, StepSyntax::Json(_)) {
        autogpt_thought().boxed()
    } else {
        proptest::option::of(prose()).boxed()
    };
    let mut kinds: Vec<BoxedStrategy<Step>> = vec![
        (
            thought.clone(),
            prop::collection::vec(call(native), 1..max_calls),
        )
            .prop_map(|(thought, calls)| Step::ToolCalls { thought, calls })
            .boxed(),
        (thought.clone(), prose())
            .prop_map(|(thought, answer)| Step::FinalAnswer { thought, answer })
            .boxed(),
    ];
    for restart in [true, false] {
        if t.can_give_up(restart) {
            kinds.push(
                thought
                    .clone()
                    .prop_map(move |thought| Step::GiveUp { thought, restart })
                    .boxed(),
            );
        }
    }
    proptest::strategy::Union::new(kinds).boxed()
}

fn check(t: &Template, step: &Step) -> Result<(), TestCaseError> {
    let canonical = t.canonical(step).unwrap();
    let message = t.render_step(step).unwrap();
    let mut expected = canonical.clone();
    // Calls without ids get numbered ones in a native message.
    if let Step::ToolCalls { calls, .. } = &mut expected
        && t.native_tools()
    {
        for (i, c) in calls.iter_mut().enumerate() {
            if c.id.is_none() {
                c.id = Some(format!("call_{i}"));
            }
        }
    }
    for mode in [ParseMode::Strict, ParseMode::Lenient] {
        let parsed = t
            .parse_message(&message, mode)
            .map_err(|e| TestCaseError::fail(format!("{} {mode:?}: {e}\n{message:?}", t.id())))?;
        prop_assert_eq!(&parsed, &expected, "{} {:?}\n{:?}", t.id(), mode, message);
    }
    if !t.native_tools() {
        // The text alone parses to the same step.
        let parsed = t.parse(message.content_str(), ParseMode::Strict).unwrap();
        prop_assert_eq!(&parsed, &expected);
    }
    Ok(())
}

macro_rules! roundtrip {
    ($($name:ident => $id:literal),* $(,)?) => {$(
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn $name(step in steps(&Template::builtin($id).unwrap())) {
                check(&Template::builtin($id).unwrap(), &step)?;
            }
        }
    )*};
}

roundtrip! {
    react => "react",
    react_zh => "react_zh",
    modelscope => "modelscope",
    autogpt => "autogpt",
    toolllama => "toolllama",
    toolllama_zh => "toolllama_zh",
    hermes => "hermes",
    openai => "openai",
}

#[test]
fn every_shipped_template_is_covered() {
    assert_eq!(Template::builtin_ids().len(), 8);
}

/// Text made of the pieces replies are built from, so that mutations hit the parsers' corners.
fn replyish() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("Thought: ".to_owned()),
        Just("Action: ".to_owned()),
        Just("Action Input: ".to_owned()),
        Just("Final Answer: ".to_owned()),
        Just("Observation: ".to_owned()),
        Just("思考：".to_owned()),
        Just("行动输入：".to_owned()),
        Just("<tool_call>".to_owned()),
        Just("</tool_call>".to_owned()),
        Just("<|startofthink|>".to_owned()),
        Just("<|endofthink|>".to_owned()),
        Just("```JSON\n".to_owned()),
        Just("```".to_owned()),
        Just("Finish".to_owned()),
        Just("{\"return_type\": \"give_answer\", \"final_answer\": ".to_owned()),
        Just("{\"name\": \"a\", \"arguments\": {".to_owned()),
        Just("{\"thoughts\": {\"text\": ".to_owned()),
        Just("\"command\": {\"name\": \"finish\", \"args\": ".to_owned()),
        "[{}\\[\\]\"':,：\n \\\\a-z0-9é😀]{0,6}",
    ];
    prop::collection::vec(pieces, 0..14).prop_map(|v| v.concat())
}

fn assert_parse_is_sound(t: &Template, text: &str) -> Result<(), TestCaseError> {
    let _ = t.parse(text, ParseMode::Lenient);
    if let Ok(step) = t.parse(text, ParseMode::Strict) {
        // Whatever strict mode accepts is exactly the rendering of what it parsed.
        let rendered = t.render_step_text(&step).unwrap();
        prop_assert_eq!(&rendered, text, "{}", t.id());
        prop_assert_eq!(t.canonical(&step).unwrap(), step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsing_any_text_never_panics_and_strict_accepts_only_exact_forms(
        text in prop_oneof![replyish(), any::<String>()],
    ) {
        for id in Template::builtin_ids() {
            assert_parse_is_sound(&Template::builtin(id).unwrap(), &text)?;
        }
    }

    #[test]
    fn damaged_renderings_never_panic(
        k in 0usize..8,
        step_seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
        insert in any::<prop::sample::Index>(),
        piece in "[{}\"':\n ：<>`]{0,3}",
    ) {
        let id = Template::builtin_ids()[k];
        let t = Template::builtin(id).unwrap();
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig::default(),
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &{
                    let mut seed = [0u8; 32];
                    seed[..8].copy_from_slice(&step_seed.to_le_bytes());
                    seed
                },
            ),
        );
        let step = steps(&t).new_tree(&mut runner).unwrap().current();
        let text = t.render_step(&step).unwrap().content.unwrap_or_default();
        let chars: Vec<char> = text.chars().collect();
        let at = if chars.is_empty() { 0 } else { cut.index(chars.len()) };
        let truncated: String = chars[..at].iter().collect();
        assert_parse_is_sound(&t, &truncated)?;
        let at = if chars.is_empty() { 0 } else { insert.index(chars.len()) };
        let mut damaged: String = chars[..at].iter().collect();
        damaged.push_str(&piece);
        damaged.extend(&chars[at..]);
        assert_parse_is_sound(&t, &damaged)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Streaming a rendered step in random pieces reports its calls (each once, complete), its
    /// visible text, and ends with the same step as parsing the whole reply.
    #[test]
    fn streamed_replies_report_calls_and_text(
        k in 0usize..8,
        step_seed in any::<u64>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let id = Template::builtin_ids()[k];
        let t = Template::builtin(id).unwrap();
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig::default(),
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &{
                    let mut seed = [0u8; 32];
                    seed[..8].copy_from_slice(&step_seed.to_le_bytes());
                    seed
                },
            ),
        );
        let step = t.canonical(&steps(&t).new_tree(&mut runner).unwrap().current()).unwrap();
        if t.native_tools() && matches!(step, Step::ToolCalls { .. }) {
            return Ok(()); // Native calls do not stream as text.
        }
        let text = t.render_step_text(&step).unwrap();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut bounds: Vec<usize> = cuts
            .iter()
            .filter(|_| !chars.is_empty())
            .map(|c| chars[c.index(chars.len())].0)
            .collect();
        bounds.push(0);
        bounds.push(text.len());
        bounds.sort_unstable();
        bounds.dedup();
        let mut parser = t.stream();
        let mut shown = String::new();
        let mut calls = Vec::new();
        for w in bounds.windows(2) {
            for event in parser.push(&text[w[0]..w[1]]) {
                match event {
                    agentune_runtime::StreamEvent::Text(s) => shown.push_str(&s),
                    agentune_runtime::StreamEvent::Call(c) => calls.push(c),
                }
            }
        }
        prop_assert_eq!(parser.text(), text.as_str());
        match &step {
            Step::ToolCalls { calls: want, thought } => {
                prop_assert_eq!(&calls, want, "{}", id);
                if matches!(t.spec().syntax, StepSyntax::Tagged(_)) {
                    prop_assert_eq!(shown.trim(), thought.as_deref().unwrap_or(""));
                }
            }
            Step::FinalAnswer { answer, .. } => {
                prop_assert!(calls.is_empty());
                let finish_action = matches!(&t.spec().syntax, StepSyntax::Labeled(l) if l.finish.is_some());
                if !finish_action {
                    prop_assert_eq!(shown.trim(), answer.as_str(), "{}", id);
                }
            }
            Step::GiveUp { .. } => prop_assert!(calls.is_empty()),
        }
        prop_assert_eq!(parser.finish(ParseMode::Strict).unwrap(), step);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Text holding labels or tags either renders to something that parses back to the same
    /// step, or is refused at render time: never a reply that reads differently.
    #[test]
    fn ambiguous_text_is_refused_or_round_trips(
        k in 0usize..8,
        thought in proptest::option::of(tricky_prose()),
        answer in tricky_prose(),
        with_call in any::<bool>(),
    ) {
        let t = Template::builtin(Template::builtin_ids()[k]).unwrap();
        let step = if with_call {
            Step::ToolCalls { thought, calls: vec![ToolCall::new("get_weather", Map::new())] }
        } else {
            Step::FinalAnswer { thought, answer }
        };
        if let Ok(message) = t.render_step(&step) {
            let parsed = t.parse_message(&message, ParseMode::Strict);
            prop_assert!(parsed.is_ok(), "{}: {:?} -> {:?}", t.id(), message, parsed);
            let mut want = t.canonical(&step).unwrap();
            if let Step::ToolCalls { calls, .. } = &mut want
                && t.native_tools() {
                    calls[0].id = Some("call_0".into());
                }
            prop_assert_eq!(parsed.unwrap(), want);
        }
    }
}
