//! Property test: any trajectory built from arbitrary text survives a JSONL write and read.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_schema::{
    Observation, Outcome, Provenance, SchemaVersion, Step, ToolCall, Trajectory, TrajectoryStep,
    read_jsonl, write_jsonl,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_call() -> impl Strategy<Value = ToolCall> {
    (
        "[a-zA-Z_.]{1,12}",
        prop::collection::btree_map("[a-z_]{1,8}", arb_value(), 0..4),
    )
        .prop_map(|(name, args)| ToolCall::new(name, args.into_iter().collect::<Map<_, _>>()))
}

fn arb_step() -> impl Strategy<Value = TrajectoryStep> {
    prop_oneof![
        (
            proptest::option::of(".*"),
            prop::collection::vec(arb_call(), 1..4),
            ".*"
        )
            .prop_map(|(thought, calls, content)| {
                let obs = calls
                    .iter()
                    .map(|c| Observation {
                        tool_call_id: None,
                        name: c.name.clone(),
                        content: content.clone(),
                        is_error: false,
                    })
                    .collect();
                TrajectoryStep::new(Step::ToolCalls { thought, calls }).with_observations(obs)
            }),
        (proptest::option::of(".*"), any::<bool>())
            .prop_map(|(thought, restart)| TrajectoryStep::new(Step::GiveUp { thought, restart })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_trajectories_round_trip(query in ".*", steps in prop::collection::vec(arb_step(), 0..5), answer in ".*") {
        let mut steps = steps;
        steps.push(TrajectoryStep::new(Step::FinalAnswer { thought: None, answer }));
        let t = Trajectory {
            schema_version: SchemaVersion::CURRENT,
            id: "p".into(),
            query,
            history: vec![],
            tools: vec![],
            steps,
            outcome: Outcome::Answered,
            template_id: None,
            meta: None,
            provenance: Provenance::source("proptest"),
            checks: vec![],
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        write_jsonl(&path, [&t]).unwrap();
        let back: Vec<Trajectory> = read_jsonl(&path).unwrap();
        prop_assert_eq!(back, vec![t]);
    }
}
