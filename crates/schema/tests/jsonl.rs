//! JSONL record files: round trips, errors naming file/line/field, versioning, atomic writes.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_schema::{
    Check, Complexity, Error, EvalRecord, JsonlReader, JsonlWriter, Message, Observation, Outcome,
    Provenance, QueryKind, QueryMeta, Sample, SchemaVersion, Split, Step, ToolCall, ToolSpec,
    Trajectory, TrajectoryStep, read_jsonl, write_jsonl,
};
use serde_json::json;

fn call(id: &str, city: &str) -> ToolCall {
    let args = json!({"city": city, "date": "2026-05-01"});
    ToolCall::new("get_weather", args.as_object().unwrap().clone()).with_id(id)
}

fn obs(id: &str, content: &str) -> Observation {
    Observation {
        tool_call_id: Some(id.into()),
        name: "get_weather".into(),
        content: content.into(),
        is_error: false,
    }
}

/// A ToolLLaMA-style episode: a failed attempt (tool error), a restart, then parallel calls and
/// a final answer.
fn restarted_trajectory() -> Trajectory {
    let weather = ToolSpec::new(
        "get_weather",
        "Weather forecast",
        json!({"type": "object", "properties": {"city": {"type": "string"}, "date": {"type": "string"}}, "required": ["city", "date"]}),
    );
    let steps = vec![
        TrajectoryStep::new(Step::ToolCalls {
            thought: Some("Check Beijing first.".into()),
            calls: vec![call("c0", "Bejing")],
        })
        .with_observations(vec![Observation {
            is_error: true,
            ..obs("c0", "unknown city `Bejing`")
        }]),
        TrajectoryStep::new(Step::GiveUp {
            thought: Some("I misspelled the city; start over.".into()),
            restart: true,
        }),
        TrajectoryStep::new(Step::ToolCalls {
            thought: None,
            calls: vec![call("c1", "Beijing"), call("c2", "上海")],
        })
        .with_observations(vec![obs("c1", "sunny, 24°C"), obs("c2", "小雨, 21°C")]),
        TrajectoryStep {
            reply: Some("Thought: done\nFinal Answer: Beijing sunny, Shanghai rainy.".into()),
            elapsed_ms: Some(812),
            ..TrajectoryStep::new(Step::FinalAnswer {
                thought: Some("Both forecasts are in.".into()),
                answer: "Beijing: sunny 24°C. Shanghai: light rain 21°C. 🌦".into(),
            })
        },
    ];
    Trajectory {
        schema_version: SchemaVersion::CURRENT,
        id: "traj-0001".into(),
        query: "Weather in Beijing and Shanghai on May 1st?\nThanks!".into(),
        history: vec![
            Message::user("hi"),
            Message::assistant("Hello! How can I help?"),
        ],
        tools: vec![weather],
        steps,
        outcome: Outcome::Answered,
        template_id: Some("toolllama".into()),
        meta: Some(QueryMeta::new(
            "weather",
            QueryKind::Positive,
            Complexity::Complex,
            "en",
        )),
        provenance: Provenance {
            teacher: Some("scripted".into()),
            seed: Some(7),
            ..Provenance::source("scenario/weather")
        },
        checks: vec![Check {
            check: "format".into(),
            passed: true,
            step: None,
            message: None,
        }],
    }
}

#[test]
fn trajectory_with_parallel_calls_restart_and_answer_survives_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/out/traj.jsonl");
    let t = restarted_trajectory();
    assert!(t.problems().is_empty(), "{:?}", t.problems());
    let mut second = t.clone();
    second.id = "traj-0002".into();
    assert_eq!(write_jsonl(&path, [&t, &second]).unwrap(), 2);

    let back: Vec<Trajectory> = read_jsonl(&path).unwrap();
    assert_eq!(back, vec![t.clone(), second]);
    assert_eq!(back[0].restarts(), 1);
    assert_eq!(back[0].attempts().len(), 2);
    assert_eq!(back[0].attempts()[1].len(), 2);
    assert_eq!(back[0].call_count(), 3);
    assert_eq!(
        back[0].final_answer(),
        Some("Beijing: sunny 24°C. Shanghai: light rain 21°C. 🌦")
    );

    // Exactly one record per line, with the version written out.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.lines()
            .all(|l| l.starts_with("{\"schema_version\":1,"))
    );
}

#[test]
fn problems_are_found() {
    let mut t = restarted_trajectory();
    t.steps[2].observations.pop();
    t.outcome = Outcome::GaveUp;
    t.steps[0].step = Step::ToolCalls {
        thought: None,
        calls: vec![ToolCall::new("rm_rf", Default::default())],
    };
    let fields: Vec<String> = t.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        vec![
            "steps[0].step.calls[0].name",
            "steps[2].observations",
            "outcome"
        ]
    );
}

fn write_lines(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    (dir, path)
}

fn record_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    lines: &[String],
) -> (usize, String, String) {
    let (_dir, path) = write_lines(lines);
    match read_jsonl::<T>(&path) {
        Err(e @ Error::Record { .. }) => {
            let text = e.to_string();
            let Error::Record { line, location, .. } = e else {
                unreachable!()
            };
            assert!(text.starts_with(&path.display().to_string()), "{text}");
            (line, location.0, text)
        }
        other => panic!("expected a record error, got {other:?}"),
    }
}

#[test]
fn malformed_lines_name_line_and_field() {
    let good = serde_json::to_string(&restarted_trajectory()).unwrap();
    let mut bad_outcome = serde_json::to_value(restarted_trajectory()).unwrap();
    bad_outcome["outcome"] = json!("won");
    let (line, field, text) =
        record_error::<Trajectory>(&[good.clone(), String::new(), bad_outcome.to_string()]);
    assert_eq!((line, field.as_str()), (3, "outcome"), "{text}");
    assert!(text.contains("won"), "{text}");

    let mut bad_args = serde_json::to_value(restarted_trajectory()).unwrap();
    bad_args["steps"][2]["step"]["calls"][1]["arguments"] = json!("city=Shanghai");
    let (line, field, text) = record_error::<Trajectory>(&[good.clone(), bad_args.to_string()]);
    assert_eq!(line, 2);
    assert!(field.starts_with("steps[2].step"), "{text}");
    assert!(
        text.contains("arguments") || field.contains("arguments"),
        "{text}"
    );

    let mut typo = serde_json::to_value(restarted_trajectory()).unwrap();
    typo["steps"][0]["observation"] = json!([]);
    let (_, field, text) = record_error::<Trajectory>(&[typo.to_string()]);
    assert_eq!(field, "steps[0].observation", "{text}");
    assert!(text.contains("unknown field"), "{text}");

    let mut missing = serde_json::to_value(restarted_trajectory()).unwrap();
    missing.as_object_mut().unwrap().remove("query");
    let (_, _, text) = record_error::<Trajectory>(&[missing.to_string()]);
    assert!(text.contains("missing field `query`"), "{text}");

    let (line, _, text) = record_error::<Trajectory>(&[good.clone(), good[..40].to_owned()]);
    assert_eq!(line, 2, "{text}");
    assert!(text.contains(":2:"), "{text}");

    let (_, _, text) = record_error::<Trajectory>(&[format!("{good} {good}")]);
    assert!(text.contains("trailing characters"), "{text}");
}

#[test]
fn reader_goes_on_past_a_bad_line() {
    let good = serde_json::to_string(&restarted_trajectory()).unwrap();
    let (_dir, path) = write_lines(&[good.clone(), "{oops".into(), good]);
    let results: Vec<_> = JsonlReader::<Trajectory>::open(&path).unwrap().collect();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
}

#[test]
fn invalid_utf8_and_missing_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.jsonl");
    std::fs::write(&path, b"{\"a\":\"\xff\xfe\"}\n").unwrap();
    let err = read_jsonl::<serde_json::Value>(&path).unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
    let err = read_jsonl::<serde_json::Value>(dir.path().join("absent.jsonl")).unwrap_err();
    assert!(err.to_string().starts_with("cannot open"), "{err}");
}

#[test]
fn schema_version_is_checked() {
    let mut v = serde_json::to_value(restarted_trajectory()).unwrap();
    v["schema_version"] = json!(99);
    let (_, field, text) = record_error::<Trajectory>(&[v.to_string()]);
    assert_eq!(field, "schema_version", "{text}");
    assert!(text.contains("unsupported schema_version 99"), "{text}");
    // Absent means the current version.
    v.as_object_mut().unwrap().remove("schema_version");
    let t: Trajectory = serde_json::from_value(v).unwrap();
    assert_eq!(t.schema_version, SchemaVersion::CURRENT);
}

#[test]
fn an_unfinished_write_leaves_the_old_file_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    std::fs::write(&path, "old\n").unwrap();
    {
        let mut w = JsonlWriter::create(&path).unwrap();
        w.write(&restarted_trajectory()).unwrap();
        // Dropped without finish(): as if the process died mid-write.
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("samples.jsonl")]);
}

#[test]
fn samples_and_eval_records_round_trip() {
    let sample = Sample {
        schema_version: SchemaVersion::CURRENT,
        id: "s1".into(),
        messages: vec![
            Message::system("You are an agent."),
            Message::user("What is 5!?"),
            Message {
                loss: Some(0.0),
                ..Message::assistant("Thought: wrong turn kept as context")
            },
            Message::assistant("Final Answer: 120"),
        ],
        tools: vec![],
        template_id: Some("react".into()),
        meta: QueryMeta::new("math", QueryKind::Positive, Complexity::Simple, "en"),
        split: Some(Split::Test),
        group: Some("g17".into()),
        provenance: Some(Provenance {
            eval_only: true,
            ..Provenance::source("bfcl")
        }),
    };
    assert!(!sample.trainable());
    assert!(sample.has_trainable_tokens());
    assert_eq!(sample.query(), Some("What is 5!?"));
    let record = EvalRecord {
        schema_version: SchemaVersion::CURRENT,
        id: "simple_python_0".into(),
        suite: "bfcl".into(),
        category: Some("simple_python".into()),
        model: "smollm2-tuned".into(),
        template_id: None,
        meta: None,
        response: Some("[math.factorial(n=5)]".into()),
        parsed: Some(Step::ToolCalls {
            thought: None,
            calls: vec![ToolCall::new(
                "math.factorial",
                json!({"n": 5}).as_object().unwrap().clone(),
            )],
        }),
        expected: Some(json!([{"math.factorial": {"n": [5]}}])),
        metrics: [("ast_match".to_string(), 1.0)].into(),
        passed: Some(true),
        error: None,
        latency_ms: Some(40),
    };
    let dir = tempfile::tempdir().unwrap();
    write_jsonl(dir.path().join("s.jsonl"), [&sample]).unwrap();
    write_jsonl(dir.path().join("e.jsonl"), [&record]).unwrap();
    assert_eq!(
        read_jsonl::<Sample>(dir.path().join("s.jsonl")).unwrap(),
        vec![sample]
    );
    assert_eq!(
        read_jsonl::<EvalRecord>(dir.path().join("e.jsonl")).unwrap(),
        vec![record]
    );
    // Split aliases used by other tools are accepted.
    let s: Split = serde_json::from_value(json!("val")).unwrap();
    assert_eq!(s, Split::Validation);
}
