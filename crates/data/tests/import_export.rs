//! Importers on realistic fixture files written from each format's documentation, and
//! exporters round-tripped through the schema.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::path::PathBuf;

use agentune_data::export::{self, ExportFormat};
use agentune_data::import::{Format, ImportOptions, import_path};
use agentune_data::{Error, Record};
use agentune_schema::{Complexity, Outcome, QueryKind, Role, Step};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn import(format: Format, name: &str) -> agentune_data::import::Imported {
    import_path(format, &fixture(name), &ImportOptions::default()).unwrap()
}

fn traj(r: &Record) -> &agentune_schema::Trajectory {
    match r {
        Record::Trajectory(t) => t,
        Record::Sample(s) => panic!("expected a trajectory, got sample {}", s.id),
    }
}

fn sample(r: &Record) -> &agentune_schema::Sample {
    match r {
        Record::Sample(s) => s,
        Record::Trajectory(t) => panic!("expected a sample, got trajectory {}", t.id),
    }
}

#[test]
fn toolbench_answer_folder() {
    let out = import(Format::ToolBench, "toolbench_answers");
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
    assert!(out.skipped[0].contains("valid_data is false"));
    let t = traj(&out.records[0]);
    assert_eq!(t.id, "toolbench-10061_DFS_woFilter_w2");
    assert!(t.query.starts_with("I am travelling to Shanghai"));
    assert_eq!(t.tools.len(), 2, "Finish is not a real tool");
    assert_eq!(t.steps.len(), 3);
    assert_eq!(
        t.steps[0].step.calls()[0].name,
        "latest_rates_for_currency_api"
    );
    assert_eq!(t.steps[1].step.calls()[0].arguments["amount"], 250);
    assert!(t.steps[1].observations[0].content.contains("1780"));
    assert!(
        matches!(&t.steps[2].step, Step::FinalAnswer { answer, .. } if answer.contains("1780 CNY"))
    );
    assert_eq!(t.outcome, Outcome::Answered);
    assert!(t.problems().is_empty(), "{:?}", t.problems());
    let m = t.meta.as_ref().unwrap();
    assert_eq!(
        (m.kind, m.complexity),
        (QueryKind::Positive, Complexity::Complex)
    );
}

#[test]
fn toolbench_conversations_with_python_repr_api_list() {
    let out = import(
        Format::ToolBenchConversations,
        "toolbench_conversations.json",
    );
    assert_eq!(out.records.len(), 2);
    let t = traj(&out.records[0]);
    assert_eq!(
        t.query,
        "I'd like to know the weather in Hangzhou tomorrow and whether I need an umbrella."
    );
    assert_eq!(t.tools.len(), 1);
    assert_eq!(t.tools[0].name, "forecast_for_weatherapi");
    assert_eq!(t.steps.len(), 2);
    assert_eq!(
        t.steps[0].step.thought(),
        Some("I need tomorrow's forecast for Hangzhou.")
    );
    assert_eq!(t.steps[0].step.calls()[0].arguments["city"], "Hangzhou");
    assert!(
        matches!(&t.steps[1].step, Step::FinalAnswer { answer, .. } if answer.contains("umbrella"))
    );
    let t2 = traj(&out.records[1]);
    assert_eq!(t2.outcome, Outcome::Restarted);
    assert!(matches!(
        t2.steps[1].step,
        Step::GiveUp { restart: true, .. }
    ));
}

#[test]
fn agentinstruct_keeps_loss_flags_and_task() {
    let out = import(Format::AgentInstruct, "agentinstruct.jsonl");
    assert_eq!(out.records.len(), 2);
    let s = sample(&out.records[0]);
    assert_eq!(s.id, "os_0");
    assert_eq!(s.meta.scenario, "agentinstruct/os");
    assert_eq!(s.meta.complexity, Complexity::Complex);
    assert_eq!(s.messages[1].role, Role::Assistant);
    assert_eq!(
        s.messages[1].loss_weight(),
        0.0,
        "the `Okay.` turn is not trained on"
    );
    assert_eq!(s.messages[3].loss_weight(), 1.0);
    assert_eq!(
        sample(&out.records[1]).meta.scenario,
        "agentinstruct/webshop"
    );
}

#[test]
fn kagentinstruct_gives_one_sample_per_step() {
    let out = import(Format::KAgentInstruct, "kagentinstruct.jsonl");
    assert_eq!(out.records.len(), 3);
    let s = sample(&out.records[0]);
    assert_eq!(s.id, "kagent-000417#0");
    assert_eq!(s.meta.language, "zh");
    assert_eq!(s.tools[0].name, "get_weather");
    assert_eq!(s.template_id.as_deref(), Some("react"));
    assert_eq!(s.group.as_deref(), Some("query:明天上海的天气适合跑步吗?"));
    assert_eq!(
        s.provenance.as_ref().unwrap().teacher.as_deref(),
        Some("gpt4")
    );
    let neg = sample(&out.records[2]);
    assert_eq!(neg.meta.kind, QueryKind::HardNegative);
    assert!(neg.tools.is_empty(), "meta-agent functions are free text");
}

#[test]
fn sharegpt_tool_calls_parallel_calls_and_general_chat() {
    let out = import(Format::ShareGpt, "sharegpt_toolcall.json");
    assert_eq!(out.records.len(), 3);
    let t = traj(&out.records[0]);
    assert_eq!(
        t.history.len(),
        0,
        "the system prompt belongs to the template"
    );
    assert_eq!(
        t.steps[0].step.calls()[0].arguments["expression"],
        "2480 * 0.15"
    );
    assert_eq!(t.final_answer(), Some("15% of 2480 is 372."));
    let p = traj(&out.records[1]);
    assert_eq!(p.steps[0].step.calls().len(), 2);
    assert_eq!(p.steps[0].observations.len(), 2);
    assert_eq!(p.steps[0].observations[1].content, "{\"temp_c\": 13}");
    assert!(p.problems().is_empty(), "{:?}", p.problems());
    let g = sample(&out.records[2]);
    assert_eq!(g.meta.kind, QueryKind::General);
    assert_eq!(g.messages.len(), 4);
}

#[test]
fn openai_messages_positive_hard_negative_and_general() {
    let out = import(Format::OpenAi, "openai_tools.jsonl");
    assert_eq!(out.records.len(), 3);
    let t = traj(&out.records[0]);
    assert_eq!(t.steps.len(), 3);
    assert_eq!(t.meta.as_ref().unwrap().complexity, Complexity::Complex);
    assert_eq!(
        t.steps[0].observations[0].tool_call_id.as_deref(),
        Some("call_a1")
    );
    let hn = traj(&out.records[1]);
    assert_eq!(hn.meta.as_ref().unwrap().kind, QueryKind::HardNegative);
    assert_eq!(sample(&out.records[2]).meta.kind, QueryKind::General);
}

#[test]
fn bfcl_items_are_eval_only() {
    let out = import(Format::Bfcl, "bfcl_questions.jsonl");
    assert_eq!(out.records.len(), 3);
    assert!(out.records.iter().all(Record::eval_only));
    let s = sample(&out.records[1]);
    assert_eq!(s.meta.scenario, "bfcl/parallel_multiple");
    assert_eq!(s.meta.complexity, Complexity::Complex);
    assert_eq!(s.tools.len(), 2);
    assert_eq!(sample(&out.records[2]).meta.kind, QueryKind::HardNegative);
}

#[test]
fn alpaca_is_general_data_with_input_system_and_history() {
    let out = import(Format::Alpaca, "alpaca.json");
    assert_eq!(out.records.len(), 3);
    for r in &out.records {
        let s = sample(r);
        assert_eq!(s.meta.kind, QueryKind::General, "{}", s.id);
        assert_eq!(s.meta.scenario, "alpaca");
        assert!(s.tools.is_empty());
        assert_eq!(s.messages.last().unwrap().role, Role::Assistant);
    }
    let second = sample(&out.records[1]);
    let roles: Vec<Role> = second.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant]);
    assert_eq!(
        second.messages[1].content_str(),
        "Translate the sentence into French.\nThe weather is lovely today."
    );
    let third = sample(&out.records[2]);
    assert_eq!(third.messages.len(), 4);
    assert_eq!(
        third.messages[0].content_str(),
        "保持健康的第一个建议是什么？"
    );
    assert_eq!(third.meta.language, "zh");
    // A malformed history names its field.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(
        &p,
        "{\"instruction\": \"a\", \"output\": \"b\", \"history\": [[\"q\"]]}\n",
    )
    .unwrap();
    let text = import_path(Format::Alpaca, &p, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("bad.jsonl:1") && text.contains("history[0]"),
        "{text}"
    );
}

#[test]
fn bad_records_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(
        &p,
        "{\"conversations\": [{\"from\": \"human\", \"value\": \"hi\"}]}\n{\"conversations\": [{\"from\": \"human\", \"value\": 3}]}\n",
    )
    .unwrap();
    let err = import_path(Format::AgentInstruct, &p, &ImportOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Input { line: Some(2), .. }), "{text}");
    assert!(
        text.contains("bad.jsonl:2") && text.contains("conversations[0].value"),
        "{text}"
    );
    let skipped = import_path(
        Format::AgentInstruct,
        &p,
        &ImportOptions {
            skip_invalid: true,
            ..ImportOptions::default()
        },
    )
    .unwrap();
    assert_eq!((skipped.records.len(), skipped.skipped.len()), (1, 1));
    // Not JSON at all.
    std::fs::write(&p, "{\"messages\": [}\n").unwrap();
    let text = import_path(Format::OpenAi, &p, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("bad.jsonl:1") && text.contains("invalid JSON"),
        "{text}"
    );
}

/// Reads an exported file back with the matching importer.
fn round_trip(format: ExportFormat, import_as: Format, records: &[Record]) -> Vec<Record> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let written = export::export(format, records, &path, "agentune").unwrap();
    assert!(written.skipped.is_empty(), "{:?}", written.skipped);
    import_path(import_as, &path, &ImportOptions::default())
        .unwrap()
        .records
}

fn without_final_thoughts_and_ids(r: &Record) -> Record {
    let mut r = r.clone();
    if let Record::Trajectory(t) = &mut r {
        t.id.clear();
        t.provenance = Default::default();
        t.template_id = None;
        for s in &mut t.steps {
            if let Step::FinalAnswer { thought, .. } = &mut s.step {
                *thought = None;
            }
        }
    }
    r
}

#[test]
fn openai_export_round_trips() {
    let mut records = import(Format::OpenAi, "openai_tools.jsonl").records;
    records.extend(import(Format::ShareGpt, "sharegpt_toolcall.json").records);
    let back = round_trip(ExportFormat::OpenAi, Format::OpenAi, &records);
    assert_eq!(back.len(), records.len());
    for (a, b) in records.iter().zip(&back) {
        match (a, b) {
            (Record::Trajectory(x), Record::Trajectory(y)) => {
                assert_eq!(x.query, y.query);
                assert_eq!(x.tools, y.tools);
                assert_eq!(x.steps.len(), y.steps.len());
                for (s, t) in x.steps.iter().zip(&y.steps) {
                    assert_eq!(
                        s.step
                            .calls()
                            .iter()
                            .map(|c| (&c.name, &c.arguments))
                            .collect::<Vec<_>>(),
                        t.step
                            .calls()
                            .iter()
                            .map(|c| (&c.name, &c.arguments))
                            .collect::<Vec<_>>()
                    );
                    assert_eq!(
                        s.observations
                            .iter()
                            .map(|o| &o.content)
                            .collect::<Vec<_>>(),
                        t.observations
                            .iter()
                            .map(|o| &o.content)
                            .collect::<Vec<_>>()
                    );
                }
                assert_eq!(x.final_answer(), y.final_answer());
            }
            (Record::Sample(x), Record::Sample(y)) => {
                assert_eq!(x.messages.len(), y.messages.len());
                for (m, n) in x.messages.iter().zip(&y.messages) {
                    assert_eq!((m.role, m.content_str()), (n.role, n.content_str()));
                }
            }
            _ => panic!("kind changed for {}", a.id()),
        }
    }
}

#[test]
fn sharegpt_export_round_trips_and_writes_dataset_info() {
    let records = import(Format::ShareGpt, "sharegpt_toolcall.json").records;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent_sft.json");
    let written = export::export(ExportFormat::ShareGpt, &records, &path, "agent_sft").unwrap();
    assert_eq!(written.written, 3);
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("dataset_info.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(info["agent_sft"]["file_name"], "agent_sft.json");
    assert_eq!(info["agent_sft"]["formatting"], "sharegpt");
    assert_eq!(info["agent_sft"]["columns"]["tools"], "tools");
    // LLaMA-Factory's alternation rule: human/observation at odd positions, gpt/function_call at even.
    let data: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for entry in &data {
        for (i, turn) in entry["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let from = turn["from"].as_str().unwrap();
            if i % 2 == 0 {
                assert!(matches!(from, "human" | "observation"), "{entry}");
            } else {
                assert!(matches!(from, "gpt" | "function_call"), "{entry}");
            }
        }
    }
    let back = import_path(Format::ShareGpt, &path, &ImportOptions::default())
        .unwrap()
        .records;
    let norm = |rs: &[Record]| {
        rs.iter()
            .map(without_final_thoughts_and_ids)
            .collect::<Vec<_>>()
    };
    let (a, b) = (norm(&records), norm(&back));
    for (x, y) in a.iter().zip(&b) {
        match (x, y) {
            (Record::Trajectory(x), Record::Trajectory(y)) => {
                assert_eq!(x.query, y.query);
                assert_eq!(x.steps.len(), y.steps.len());
                assert_eq!(x.tools, y.tools);
                assert_eq!(x.final_answer(), y.final_answer());
            }
            (Record::Sample(x), Record::Sample(y)) => assert_eq!(x.messages, y.messages),
            _ => panic!("kind changed"),
        }
    }
}

#[test]
fn toolbench_export_round_trips_exactly() {
    let mut records = import(
        Format::ToolBenchConversations,
        "toolbench_conversations.json",
    )
    .records;
    records.extend(import(Format::ToolBench, "toolbench_answers").records);
    let back = round_trip(
        ExportFormat::ToolBench,
        Format::ToolBenchConversations,
        &records,
    );
    assert_eq!(back.len(), records.len());
    for (a, b) in records.iter().zip(&back) {
        let (x, y) = (traj(a), traj(b));
        assert_eq!(x.query, y.query);
        assert_eq!(x.tools, y.tools);
        assert_eq!(x.outcome, y.outcome);
        assert_eq!(x.steps.len(), y.steps.len());
        for (s, t) in x.steps.iter().zip(&y.steps) {
            assert_eq!(s.step.thought(), t.step.thought());
            assert_eq!(
                s.step
                    .calls()
                    .iter()
                    .map(|c| (&c.name, &c.arguments))
                    .collect::<Vec<_>>(),
                t.step
                    .calls()
                    .iter()
                    .map(|c| (&c.name, &c.arguments))
                    .collect::<Vec<_>>()
            );
            assert_eq!(
                s.observations
                    .iter()
                    .map(|o| &o.content)
                    .collect::<Vec<_>>(),
                t.observations
                    .iter()
                    .map(|o| &o.content)
                    .collect::<Vec<_>>()
            );
        }
        assert_eq!(x.final_answer(), y.final_answer());
    }
}

#[test]
fn eval_only_records_are_never_exported() {
    let records = import(Format::Bfcl, "bfcl_questions.jsonl").records;
    let dir = tempfile::tempdir().unwrap();
    let out = export::export(
        ExportFormat::OpenAi,
        &records,
        &dir.path().join("x.jsonl"),
        "x",
    )
    .unwrap();
    assert_eq!(out.written, 0);
    assert_eq!(out.skipped.len(), 3);
}
