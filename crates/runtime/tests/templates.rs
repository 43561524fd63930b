//! Template loading and checking, rendering details (history, call ids, observations, restarts,
//! the final-answer prompt), render errors, and where strict parse errors point.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_runtime::{ParseMode, Template};
use agentune_schema::{
    Message, Observation, Outcome, Provenance, Role, Step, ToolCall, ToolSpec, Trajectory,
    TrajectoryStep,
};
use serde_json::json;

fn call(name: &str, args: serde_json::Value) -> ToolCall {
    ToolCall::new(name, args.as_object().cloned().unwrap())
}

fn obs(name: &str, content: &str) -> Observation {
    Observation {
        tool_call_id: None,
        name: name.into(),
        content: content.into(),
        is_error: false,
    }
}

fn weather_tool() -> ToolSpec {
    ToolSpec::new(
        "get_weather",
        "Weather forecast.",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    )
}

#[test]
fn a_builtin_spec_round_trips_through_json_and_toml_files() {
    let dir = tempfile::tempdir().unwrap();
    for id in Template::builtin_ids() {
        let t = Template::builtin(id).unwrap();
        let json_path = dir.path().join(format!("{id}.json"));
        std::fs::write(&json_path, serde_json::to_string_pretty(t.spec()).unwrap()).unwrap();
        assert_eq!(Template::load(&json_path).unwrap(), t, "{id} via JSON");
        let toml_path = dir.path().join(format!("{id}.toml"));
        std::fs::write(&toml_path, toml::to_string(t.spec()).unwrap()).unwrap();
        assert_eq!(Template::load(&toml_path).unwrap(), t, "{id} via TOML");
        let resolved = Template::resolve(toml_path.to_str().unwrap()).unwrap();
        assert_eq!(resolved.id(), *id);
    }
}

#[test]
fn bad_files_name_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::write(
        &p,
        "{\n  \"id\": \"x\",\n  \"family\": \"react\",\n  \"system\": \"{query}\",\n  \"syntax\": {\"kind\": \"native\", \"parallel\": \"yes\"},\n  \"observation\": {\"role\": \"tool\"}\n}",
    )
    .unwrap();
    let e = Template::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.json") && e.contains("line 5"), "{e}");
    assert!(e.contains("syntax"), "{e}");

    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "id = \"x\"\nfamily = \"react\"\nsystem = \"{query}\"\n\n[syntax]\nkind = \"native\"\n\n[observation]\nrole = \"robot\"\n",
    )
    .unwrap();
    let e = Template::load(&p).unwrap_err().to_string();
    assert!(e.contains("bad.toml") && e.contains("line 9"), "{e}");
    assert!(e.contains("robot"), "{e}");

    // A file that reads but does not check names the field.
    let p = dir.path().join("typo.toml");
    std::fs::write(
        &p,
        "id = \"x\"\nfamily = \"custom\"\nsystem = \"Tools: {tool}\"\nuser = \"{query}\"\n[syntax]\nkind = \"native\"\n[observation]\nrole = \"tool\"\n",
    )
    .unwrap();
    let e = Template::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("typo.toml") && e.contains("`system`") && e.contains("{tool}"),
        "{e}"
    );

    let e = Template::load(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn specs_that_cannot_work_are_refused() {
    let base = Template::builtin("hermes").unwrap().spec().clone();
    let mut s = base.clone();
    s.user = "hello".into();
    s.system = "no query here".into();
    assert!(
        Template::from_spec(s)
            .unwrap_err()
            .to_string()
            .contains("{query}")
    );
    let mut s = base.clone();
    if let agentune_schema::StepSyntax::Tagged(t) = &mut s.syntax {
        t.close = t.open.clone();
    }
    assert!(Template::from_spec(s).is_err());
    let mut s = base;
    s.observation.format = "done".into();
    assert!(
        Template::from_spec(s)
            .unwrap_err()
            .to_string()
            .contains("observation.format")
    );
    let mut s = Template::builtin("toolllama").unwrap().spec().clone();
    if let agentune_schema::StepSyntax::Labeled(l) = &mut s.syntax {
        l.final_answer = Some("Final Answer".into());
    }
    assert!(
        Template::from_spec(s)
            .unwrap_err()
            .to_string()
            .contains("not both")
    );
}

#[test]
fn history_goes_into_the_placeholder_or_before_the_query() {
    let history = vec![
        Message::user("I live in Oslo."),
        Message::assistant("Noted."),
    ];
    let react = Template::builtin("react").unwrap();
    let msgs = react
        .render_prompt(&[], "Weather?", &history, &[], &[], None)
        .unwrap();
    let roles: Vec<Role> = msgs.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::System, Role::User, Role::Assistant, Role::User]
    );
    let mut spec = react.spec().clone();
    spec.system.push_str("\nConversation so far:\n{history}");
    let t = Template::from_spec(spec).unwrap();
    let msgs = t
        .render_prompt(&[], "Weather?", &history, &[], &[], Some("2026-01-01"))
        .unwrap();
    assert_eq!(msgs.len(), 2);
    let system = msgs[0].content_str();
    assert!(
        system.ends_with("Conversation so far:\nUser: I live in Oslo.\nAssistant: Noted."),
        "{system}"
    );
    assert!(system.contains("Today's date: 2026-01-01"));
}

#[test]
fn native_calls_and_tool_messages_share_ids() {
    let t = Template::builtin("openai").unwrap();
    let steps = vec![
        TrajectoryStep::new(Step::ToolCalls {
            thought: None,
            calls: vec![
                call("get_weather", json!({"city": "Oslo"})),
                call("get_weather", json!({"city": "Bergen"})),
            ],
        })
        .with_observations(vec![obs("get_weather", "snow"), obs("get_weather", "rain")]),
        TrajectoryStep::new(Step::ToolCalls {
            thought: Some("One more.".into()),
            calls: vec![call("get_weather", json!({"city": "Tromsø"}))],
        })
        .with_observations(vec![obs("get_weather", "dark")]),
    ];
    let msgs = t
        .render_prompt(&[weather_tool()], "q", &[], &steps, &[], None)
        .unwrap();
    let ids: Vec<_> = msgs
        .iter()
        .flat_map(|m| m.tool_calls.iter().map(|c| c.id.clone().unwrap()))
        .collect();
    assert_eq!(ids, ["call_0", "call_1", "call_2"]);
    let answered: Vec<_> = msgs
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.tool_call_id.clone().unwrap())
        .collect();
    assert_eq!(answered, ids);
    assert_eq!(msgs[5].content.as_deref(), Some("One more."));
    assert!(t.native_tools() && !Template::builtin("hermes").unwrap().native_tools());
}

#[test]
fn user_role_observations_are_joined_in_one_message() {
    let t = Template::builtin("react").unwrap();
    let step = Step::ToolCalls {
        thought: None,
        calls: vec![call("a", json!({}))],
    };
    let msgs = t
        .render_observations(&step, &[obs("a", "one"), obs("a", "two")])
        .unwrap();
    assert_eq!(msgs, [Message::user("Observation: one\nObservation: two")]);
    let h = Template::builtin("hermes").unwrap();
    let msgs = h.render_observations(&step, &[obs("a", "one")]).unwrap();
    assert_eq!(msgs[0].role, Role::Tool);
    assert_eq!(
        msgs[0].content_str(),
        "<tool_response>\none\n</tool_response>"
    );
}

#[test]
fn inexpressible_steps_are_render_errors() {
    let react = Template::builtin("react").unwrap();
    let two = Step::ToolCalls {
        thought: None,
        calls: vec![call("a", json!({})), call("b", json!({}))],
    };
    let e = react.render_step(&two).unwrap_err().to_string();
    assert!(e.contains("one call per step"), "{e}");
    let give_up = Step::GiveUp {
        thought: None,
        restart: true,
    };
    assert!(react.render_step(&give_up).is_err());
    let failed = vec![vec![TrajectoryStep::new(give_up.clone())]];
    let e = react
        .render_prompt(&[], "q", &[], &[], &failed, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no restart prompt"), "{e}");
    let e = Template::builtin("toolllama")
        .unwrap()
        .render_step(&Step::ToolCalls {
            thought: None,
            calls: vec![call("Finish", json!({}))],
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("finish action"), "{e}");
    let e = Template::builtin("hermes")
        .unwrap()
        .render_step(&Step::ToolCalls {
            thought: None,
            calls: vec![call("get weather", json!({}))],
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("whitespace"), "{e}");
    assert!(
        Template::builtin("react")
            .unwrap()
            .render_final_answer_prompt(&[], "q", &[], &[], None)
            .is_err()
    );
    let e = react
        .render_step(&Step::FinalAnswer {
            thought: Some("Step one.\nAction: guess".into()),
            answer: "x".into(),
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("label `Action`"), "{e}");
    let e = Template::builtin("hermes")
        .unwrap()
        .render_step(&Step::FinalAnswer {
            thought: None,
            answer: "Write <tool_call> to call.".into(),
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("<tool_call>"), "{e}");
}

#[test]
fn restarts_render_one_conversation_per_attempt() {
    let t = Template::builtin("toolllama_zh").unwrap();
    let give_up = |th: &str| {
        TrajectoryStep::new(Step::GiveUp {
            thought: Some(th.into()),
            restart: true,
        })
    };
    let traj = Trajectory {
        schema_version: Default::default(),
        id: "r".into(),
        query: "查天气".into(),
        history: Vec::new(),
        tools: vec![weather_tool()],
        steps: vec![
            give_up("第一次失败"),
            give_up("第二次失败"),
            TrajectoryStep::new(Step::FinalAnswer {
                thought: None,
                answer: "晴".into(),
            }),
        ],
        outcome: Outcome::Answered,
        template_id: None,
        meta: None,
        provenance: Provenance::source("test"),
        checks: Vec::new(),
    };
    let all = t.render_attempts(&traj).unwrap();
    assert_eq!(all.len(), 3);
    assert!(!all[0][1].content_str().contains("失败的尝试"));
    let last_user = all[2][1].content_str();
    assert!(
        last_user.contains("之前已经尝试过 2 次")
            && last_user.contains("失败的尝试 1：\n思考：第一次失败")
            && last_user.contains("失败的尝试 2：\n思考：第二次失败"),
        "{last_user}"
    );
    assert_eq!(t.render_conversation(&traj).unwrap(), all[2]);
    assert_eq!(
        all[2].last().unwrap().content_str(),
        "行动：Finish\n行动输入：{\"return_type\": \"give_answer\", \"final_answer\": \"晴\"}"
    );
}

#[test]
fn the_final_answer_prompt_lists_results_or_says_there_are_none() {
    let t = Template::builtin("autogpt").unwrap();
    let msgs = t
        .render_final_answer_prompt(&[], "Say hi", &[], &[], None)
        .unwrap();
    assert!(msgs[1].content_str().contains("(no command was run)"));
    assert!(!msgs[0].content_str().contains("{date}"));
    let step = t
        .parse_final_answer("  Hi there!\n", ParseMode::Lenient)
        .unwrap();
    assert_eq!(
        step,
        Step::FinalAnswer {
            thought: None,
            answer: "Hi there!".into()
        }
    );
    assert!(
        t.parse_final_answer("  Hi there!\n", ParseMode::Strict)
            .is_err()
    );
}

#[test]
fn strict_errors_point_at_the_deviation() {
    let t = Template::builtin("toolllama").unwrap();
    let text = "Thought: ok\nAction: get_weather\nAction Input: {\"city\":\"Oslo\"}";
    let e = t.parse(text, ParseMode::Strict).unwrap_err();
    assert_eq!((e.line, e.column), (3, 23), "{e}");
    assert!(e.to_string().contains("exact form"), "{e}");
    assert_eq!(e.expected.as_deref(), Some("\" \\\"Oslo\\\"}\""));

    let text = "Thought: ok\nAction: get_weather\nAction Input: {\"city\": \"Oslo\"}\n";
    let e = t.parse(text, ParseMode::Strict).unwrap_err();
    assert_eq!((e.line, e.column), (3, 31), "{e}");

    let text = "Thought: ok\nAction: get_weather";
    let e = t.parse(text, ParseMode::Strict).unwrap_err();
    assert!(e.to_string().contains("no input"), "{e}");
    assert_eq!(e.line, 2);

    let text = "Thought: ok\nAction: get_weather\nAction Input: {}\nObservation: sunny";
    let e = t.parse(text, ParseMode::Strict).unwrap_err();
    assert_eq!(e.line, 4);
    let lenient = t.parse(text, ParseMode::Lenient).unwrap();
    assert_eq!(lenient.calls()[0].name, "get_weather");

    let h = Template::builtin("hermes").unwrap();
    let e = h
        .parse(
            "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n",
            ParseMode::Strict,
        )
        .unwrap_err();
    assert!(e.to_string().contains("not closed"), "{e}");
    assert_eq!((e.line, e.column), (1, 1));
}

#[test]
fn structured_calls_are_only_lenient_for_text_templates() {
    let t = Template::builtin("react").unwrap();
    let m = Message::assistant_calls(
        Some("thinking".into()),
        vec![call("get_weather", json!({"city": "Oslo"})).with_id("c1")],
    );
    assert!(t.parse_message(&m, ParseMode::Strict).is_err());
    let step = t.parse_message(&m, ParseMode::Lenient).unwrap();
    assert_eq!(
        step,
        Step::ToolCalls {
            thought: Some("thinking".into()),
            calls: vec![call("get_weather", json!({"city": "Oslo"}))],
        }
    );
    let user = Message::user("Final Answer: x");
    assert!(t.parse_message(&user, ParseMode::Strict).is_err());
}

#[test]
fn raw_string_arguments_round_trip() {
    let mut spec = Template::builtin("react").unwrap().spec().clone();
    spec.id = "react_raw".into();
    if let agentune_schema::StepSyntax::Labeled(l) = &mut spec.syntax {
        l.arguments = agentune_schema::ArgumentEncoding::Raw {
            key: "query".into(),
        };
    }
    let t = Template::from_spec(spec).unwrap();
    let step = Step::ToolCalls {
        thought: Some("search".into()),
        calls: vec![call("search", json!({"query": "rain in Paris"}))],
    };
    let text = t.render_step_text(&step).unwrap();
    assert_eq!(
        text,
        "Thought: search\nAction: search\nAction Input: rain in Paris"
    );
    assert_eq!(t.parse(&text, ParseMode::Strict).unwrap(), step);
    assert_eq!(
        t.parse(
            "Action: search\nAction Input: \"rain in Paris\"\n",
            ParseMode::Lenient
        )
        .unwrap(),
        Step::ToolCalls {
            thought: None,
            calls: vec![call("search", json!({"query": "rain in Paris"}))],
        }
    );
    // Two arguments cannot be written as one raw string.
    assert!(
        t.render_step(&Step::ToolCalls {
            thought: None,
            calls: vec![call("search", json!({"query": "a", "n": 2}))],
        })
        .is_err()
    );
}
