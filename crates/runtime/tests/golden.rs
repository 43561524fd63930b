//! Golden tests: each shipped template's rendered prompt (tools, history, steps with
//! observations, restarts, the final-answer prompt) against checked-in files under
//! `tests/golden/`. `AGENTUNE_UPDATE_GOLDEN=1 cargo test -p agentune-runtime --test golden`
//! rewrites them; review the diff before committing.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::PathBuf;

use agentune_runtime::Template;
use agentune_schema::{
    Message, Observation, Outcome, Provenance, Step, ToolCall, ToolSpec, Trajectory, TrajectoryStep,
};
use serde_json::{Value, json};

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new(
            "get_weather",
            "Weather forecast for a city on a date.",
            json!({"type": "object", "properties": {"city": {"type": "string"}, "date": {"type": "string", "description": "YYYY-MM-DD"}}, "required": ["city"]}),
        ),
        ToolSpec::new(
            "calculator",
            "Evaluates an arithmetic expression.",
            json!({"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
        ),
    ]
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn obs(name: &str, content: &str) -> Observation {
    Observation {
        tool_call_id: None,
        name: name.into(),
        content: content.into(),
        is_error: false,
    }
}

/// English or Chinese text, following the template's language.
fn tr(t: &Template, en: &'static str, zh: &'static str) -> String {
    if t.spec().language == "zh" { zh } else { en }.to_owned()
}

/// Two calls in one step where the template allows it, else one.
fn steps(t: &Template) -> Vec<TrajectoryStep> {
    let weather = ToolCall::new(
        "get_weather",
        args(json!({"city": "Hangzhou", "date": "2026-12-02"})),
    );
    let calc = ToolCall::new("calculator", args(json!({"expression": "(18 + 9) / 2"})));
    let mut out = Vec::new();
    if t.parallel_calls() {
        out.push(
            TrajectoryStep::new(Step::ToolCalls {
                thought: Some(tr(
                    t,
                    "I need the forecast and the mean temperature.",
                    "我需要天气预报和平均气温。",
                )),
                calls: vec![weather, calc],
            })
            .with_observations(vec![
                obs(
                    "get_weather",
                    r#"{"high": 18, "low": 9, "sky": "light rain"}"#,
                ),
                obs("calculator", "13.5"),
            ]),
        );
    } else {
        out.push(
            TrajectoryStep::new(Step::ToolCalls {
                thought: Some(tr(t, "I need the forecast first.", "先查天气预报。")),
                calls: vec![weather],
            })
            .with_observations(vec![obs(
                "get_weather",
                r#"{"high": 18, "low": 9, "sky": "light rain"}"#,
            )]),
        );
        out.push(
            TrajectoryStep::new(Step::ToolCalls {
                thought: Some(tr(t, "Now the mean temperature.", "再算平均气温。")),
                calls: vec![calc],
            })
            .with_observations(vec![obs("calculator", "13.5")]),
        );
    }
    out.push(TrajectoryStep::new(Step::FinalAnswer {
        thought: Some(tr(t, "I have what I need.", "信息已经齐全。")),
        answer: tr(
            t,
            "Light rain in Hangzhou tomorrow, 9 to 18 °C (mean 13.5 °C): take an umbrella.",
            "杭州明天有小雨，气温9到18摄氏度（平均13.5摄氏度），记得带伞。",
        ),
    }));
    out
}

fn render_all(t: &Template) -> Value {
    let tools = tools();
    let query = &tr(
        t,
        "Will it rain in Hangzhou tomorrow, and what is the mean temperature?",
        "杭州明天会下雨吗？平均气温是多少？",
    );
    let history = vec![
        Message::user(tr(
            t,
            "Hi, I am planning a trip to Hangzhou.",
            "你好，我打算去杭州旅行。",
        )),
        Message::assistant(tr(
            t,
            "Happy to help with your trip.",
            "很高兴帮你规划行程。",
        )),
    ];
    let steps = steps(t);
    let mut doc = serde_json::Map::new();
    let prompt = t
        .render_prompt(&tools, query, &history, &steps, &[], Some("2026-12-01"))
        .unwrap();
    doc.insert("prompt".into(), serde_json::to_value(&prompt).unwrap());
    let first_call = t.render_prompt(&tools, query, &[], &[], &[], None).unwrap();
    doc.insert(
        "first_call_without_date".into(),
        serde_json::to_value(&first_call).unwrap(),
    );
    if t.can_give_up(true) {
        let failed = vec![
            TrajectoryStep::new(Step::ToolCalls {
                thought: Some(tr(t, "Try the forecast.", "试试天气预报。")),
                calls: vec![ToolCall::new(
                    "get_weather",
                    args(json!({"city": "Hangzhou"})),
                )],
            })
            .with_observations(vec![Observation {
                tool_call_id: None,
                name: "get_weather".into(),
                content: tr(
                    t,
                    "error: the weather service timed out",
                    "错误：天气服务超时",
                ),
                is_error: true,
            }]),
            TrajectoryStep::new(Step::GiveUp {
                thought: Some(tr(
                    t,
                    "The service keeps failing; start over.",
                    "服务一直失败，重新开始。",
                )),
                restart: true,
            }),
        ];
        let mut all = failed.clone();
        all.extend(steps.clone());
        let traj = Trajectory {
            schema_version: Default::default(),
            id: "golden-1".into(),
            query: query.into(),
            history: Vec::new(),
            tools: tools.clone(),
            steps: all,
            outcome: Outcome::Answered,
            template_id: Some(t.id().into()),
            meta: None,
            provenance: Provenance::source("golden"),
            checks: Vec::new(),
        };
        assert!(traj.problems().is_empty(), "{:?}", traj.problems());
        let conv = t.render_conversation(&traj).unwrap();
        doc.insert(
            "restart_conversation".into(),
            serde_json::to_value(&conv).unwrap(),
        );
    }
    if t.has_final_answer_prompt() {
        let fin = t
            .render_final_answer_prompt(&tools, query, &[], &steps, Some("2026-12-01"))
            .unwrap();
        doc.insert(
            "final_answer_prompt".into(),
            serde_json::to_value(&fin).unwrap(),
        );
    }
    Value::Object(doc)
}

#[test]
fn rendered_prompts_match_the_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("AGENTUNE_UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for id in Template::builtin_ids() {
        let t = Template::builtin(id).unwrap();
        let mut text = serde_json::to_string_pretty(&render_all(&t)).unwrap();
        text.push('\n');
        let path = dir.join(format!("{id}.json"));
        if update {
            agentune_schema::write_atomic(&path, text.as_bytes()).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            stale.push(id.to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "rendered prompts differ from tests/golden for {stale:?}; if the change is intended, \
         run `AGENTUNE_UPDATE_GOLDEN=1 cargo test -p agentune-runtime --test golden` and review the diff"
    );
}

#[test]
fn every_rendered_step_parses_back_strictly() {
    // The assistant turns of the golden conversations are exactly what strict parsing takes.
    for id in Template::builtin_ids() {
        let t = Template::builtin(id).unwrap();
        for s in steps(&t) {
            let m = t.render_step(&s.step).unwrap();
            let parsed = t
                .parse_message(&m, agentune_runtime::ParseMode::Strict)
                .unwrap_or_else(|e| panic!("{id}: {e}\n{m:?}"));
            assert_eq!(parsed.calls().len(), s.step.calls().len(), "{id}");
        }
    }
}
