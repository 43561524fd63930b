//! Cleaning rules, conflicts, duplicates, the ratio sampler, group splits and the leakage
//! check, on hand-made and synthetic records.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use agentune_data::mix::{self, Class, MixSettings};
use agentune_data::split::{self, SplitSettings};
use agentune_data::synthetic::{self, SyntheticSpec};
use agentune_data::{
    CleanSettings, Cleaner, ConflictPolicy, LengthMeasure, MinHashParams, Record, Rule, Verdict,
};
use agentune_schema::{
    Check, Complexity, Message, Observation, Outcome, Provenance, QueryKind, QueryMeta, Sample,
    Split, Step, ToolCall, ToolSpec, Trajectory, TrajectoryStep,
};
use serde_json::json;

fn traj(id: &str, query: &str, call: Option<&str>, answer: &str, verified: bool) -> Record {
    let mut steps = Vec::new();
    if let Some(name) = call {
        steps.push(
            TrajectoryStep::new(Step::ToolCalls {
                thought: None,
                calls: vec![
                    ToolCall::new(
                        name,
                        json!({"city": "Beijing"}).as_object().unwrap().clone(),
                    )
                    .with_id("c0"),
                ],
            })
            .with_observations(vec![Observation {
                tool_call_id: Some("c0".into()),
                name: name.into(),
                content: "sunny".into(),
                is_error: false,
            }]),
        );
    }
    steps.push(TrajectoryStep::new(Step::FinalAnswer {
        thought: None,
        answer: answer.into(),
    }));
    Record::from(Trajectory {
        schema_version: Default::default(),
        id: id.into(),
        query: query.into(),
        history: vec![],
        tools: vec![ToolSpec::new(
            "weather",
            "forecast",
            json!({"type": "object"}),
        )],
        steps,
        outcome: Outcome::Answered,
        template_id: Some("react".into()),
        meta: None,
        provenance: Provenance::source("test"),
        checks: if verified {
            vec![Check {
                check: "execution".into(),
                passed: true,
                step: None,
                message: None,
            }]
        } else {
            vec![]
        },
    })
}

fn settings() -> CleanSettings {
    CleanSettings::default()
}

fn clean(records: Vec<Record>, s: CleanSettings) -> agentune_data::CleanOutput {
    Cleaner::new(
        s,
        MinHashParams {
            bands: 32,
            ..MinHashParams::default()
        },
    )
    .clean(records)
}

fn reasons(out: &agentune_data::CleanOutput) -> BTreeMap<String, usize> {
    out.report.dropped_by_reason.clone()
}

#[test]
fn unknown_tools_are_dropped() {
    let out = clean(
        vec![
            traj("a", "weather in Beijing?", Some("weather"), "Sunny.", true),
            traj(
                "b",
                "stock price of ACME?",
                Some("stock_price"),
                "42.",
                true,
            ),
        ],
        settings(),
    );
    assert_eq!(out.kept.len(), 1);
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("unknown_tool".to_owned(), 1)])
    );
    assert!(out.dropped[0].detail.contains("stock_price"));
}

#[test]
fn empty_answers_are_dropped_but_eval_items_without_answers_are_not() {
    let mut bfcl = Sample {
        schema_version: Default::default(),
        id: "bfcl-1".into(),
        messages: vec![Message::user(
            "area of a triangle with base 10 and height 5",
        )],
        tools: vec![],
        template_id: None,
        meta: QueryMeta::new("bfcl/simple", QueryKind::Positive, Complexity::Simple, "en"),
        split: None,
        group: None,
        provenance: Some(Provenance {
            eval_only: true,
            ..Provenance::source("bfcl")
        }),
    };
    let out = clean(
        vec![
            traj("a", "weather in Beijing?", Some("weather"), "  ", true),
            traj("b", "weather in Paris?", Some("weather"), "Rain.", true),
            Record::from(bfcl.clone()),
        ],
        settings(),
    );
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("empty_answer".to_owned(), 1)])
    );
    assert_eq!(out.kept.len(), 2);
    // A trainable sample with no assistant turn at all is dropped.
    bfcl.provenance = None;
    let out = clean(vec![Record::from(bfcl)], settings());
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("empty_answer".to_owned(), 1)])
    );
}

#[test]
fn over_length_uses_the_length_measure() {
    #[derive(Debug)]
    struct Words;
    impl LengthMeasure for Words {
        fn unit(&self) -> &str {
            "words"
        }
        fn measure(&self, text: &str) -> usize {
            text.split_whitespace().count()
        }
    }
    let long = "word ".repeat(500);
    let records = vec![
        traj("a", &long, None, "ok", true),
        traj("b", "short question", None, "ok", true),
    ];
    let s = CleanSettings {
        max_length: 300,
        ..settings()
    };
    let out = clean(records.clone(), s.clone());
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("over_length".to_owned(), 1)])
    );
    assert!(out.dropped[0].detail.contains("chars"));
    let out =
        Cleaner::with_length_measure(s, MinHashParams::default(), Arc::new(Words)).clean(records);
    assert_eq!(out.report.length_unit, "words");
    assert!(
        out.dropped[0].detail.contains("words > 300"),
        "{:?}",
        out.dropped
    );
}

#[test]
fn broken_structure_is_dropped() {
    let mut r = traj("a", "weather in Beijing?", Some("weather"), "Sunny.", true);
    if let Record::Trajectory(t) = &mut r {
        t.steps[0].observations.clear();
    }
    let out = clean(vec![r], settings());
    assert_eq!(reasons(&out), BTreeMap::from([("structure".to_owned(), 1)]));
}

#[test]
fn exact_duplicates_ignore_case_width_and_spacing() {
    let out = clean(
        vec![
            traj("a", "Weather in  Beijing?", Some("weather"), "Sunny.", true),
            traj("b", "weather in beijing?", Some("weather"), "sunny.", true),
            traj("c", "Ｗeather in Beijing?", Some("weather"), "Sunny.", true),
        ],
        settings(),
    );
    assert_eq!(out.kept.len(), 1);
    assert_eq!(out.kept[0].id(), "a");
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("exact_duplicate".to_owned(), 2)])
    );
    assert_eq!(out.dropped[0].detail, "same as a");
}

#[test]
fn near_duplicates_are_removed_in_english_and_chinese() {
    let out = clean(
        vec![
            traj(
                "en1",
                "Will it rain in Beijing tomorrow afternoon? I want to go hiking in the western hills with my family.",
                Some("weather"),
                "Light rain is expected, so take an umbrella and waterproof shoes.",
                true,
            ),
            traj(
                "en2",
                "Will it rain in Beijing tomorrow afternoon? I want to go hiking in the western hills with my family!",
                Some("weather"),
                "Light rain is expected, so take an umbrella and waterproof shoes.",
                true,
            ),
            traj(
                "zh1",
                "明天下午北京会下雨吗?我想和家人一起去西山爬山,需要准备什么?",
                Some("weather"),
                "明天下午有小雨,建议带伞并穿防水鞋。",
                true,
            ),
            traj(
                "zh2",
                "明天下午北京会下雨吗?我想和家人一起去西山爬山,需要准备什么呢?",
                Some("weather"),
                "明天下午有小雨,建议带伞并穿防水鞋。",
                true,
            ),
            traj(
                "other",
                "Convert 100 US dollars to euros at today's rate, please.",
                Some("weather"),
                "About 92 euros.",
                true,
            ),
        ],
        settings(),
    );
    let kept: Vec<&str> = out.kept.iter().map(Record::id).collect();
    assert_eq!(kept, vec!["en1", "zh1", "other"]);
    assert_eq!(
        reasons(&out),
        BTreeMap::from([("near_duplicate".to_owned(), 2)])
    );
    // With near dedup off, both stay.
    let out = clean(
        vec![
            traj(
                "zh1",
                "明天下午北京会下雨吗?我想和家人一起去西山爬山,需要准备什么?",
                None,
                "带伞。",
                true,
            ),
            traj(
                "zh2",
                "明天下午北京会下雨吗?我想和家人一起去西山爬山,需要准备什么呢?",
                None,
                "带伞。",
                true,
            ),
        ],
        CleanSettings {
            near_dedup: false,
            ..settings()
        },
    );
    assert_eq!(out.kept.len(), 2);
}

#[test]
fn conflicts_keep_the_verified_output_or_drop_all() {
    let records = vec![
        traj(
            "a",
            "weather in Beijing?",
            Some("weather"),
            "Sunny and 25 C.",
            false,
        ),
        traj(
            "b",
            "weather in Beijing?",
            Some("weather"),
            "Sunny, 25 degrees, light wind.",
            true,
        ),
        traj(
            "c",
            "weather in Beijing?",
            Some("weather"),
            "I think it might snow.",
            false,
        ),
        traj("d", "weather in Paris?", Some("weather"), "Rain.", false),
        traj("e", "weather in Paris?", Some("weather"), "Sunny.", false),
        traj("f", "weather in Oslo?", Some("weather"), "Snow.", false),
    ];
    let s = CleanSettings {
        near_dedup: false,
        ..settings()
    };
    let out = clean(records.clone(), s.clone());
    let kept: Vec<&str> = out.kept.iter().map(Record::id).collect();
    assert_eq!(kept, vec!["b", "f"]);
    assert_eq!(out.report.conflict_groups, 2);
    assert_eq!(out.report.conflicts_resolved_by_verification, 1);
    assert_eq!(reasons(&out), BTreeMap::from([("conflict".to_owned(), 4)]));
    let out = clean(
        records,
        CleanSettings {
            conflict_policy: ConflictPolicy::DropAll,
            ..s
        },
    );
    let kept: Vec<&str> = out.kept.iter().map(Record::id).collect();
    assert_eq!(kept, vec!["f"]);
}

#[test]
fn pii_is_anonymised_consistently_across_a_record() {
    let mut r = traj(
        "a",
        "Text 13812345678 about the trip, or mail li@example.com",
        Some("weather"),
        "I texted 13812345678 as asked.",
        true,
    );
    if let Record::Trajectory(t) = &mut r {
        t.steps[0].step = Step::ToolCalls {
            thought: Some("notify li@example.com".into()),
            calls: vec![
                ToolCall::new(
                    "weather",
                    json!({"contact": "13812345678"})
                        .as_object()
                        .unwrap()
                        .clone(),
                )
                .with_id("c0"),
            ],
        };
    }
    let out = clean(vec![r], settings());
    assert_eq!(out.report.fixed.get("pii.phone"), Some(&3));
    assert_eq!(out.report.fixed.get("pii.email"), Some(&2));
    let Record::Trajectory(t) = &out.kept[0] else {
        panic!()
    };
    assert_eq!(t.query, "Text <PHONE_1> about the trip, or mail <EMAIL_1>");
    assert_eq!(t.steps[0].step.calls()[0].arguments["contact"], "<PHONE_1>");
    assert_eq!(t.final_answer(), Some("I texted <PHONE_1> as asked."));
    // Without the rule, nothing changes.
    let out = clean(
        vec![traj("b", "call 13812345678", None, "ok", true)],
        CleanSettings {
            pii: false,
            ..settings()
        },
    );
    assert_eq!(out.kept[0].query(), "call 13812345678");
}

#[test]
fn custom_rules_plug_in() {
    /// Stands in for the strict-format rule: drops answers that are not one sentence.
    #[derive(Debug)]
    struct OneSentence;
    impl Rule for OneSentence {
        fn name(&self) -> &str {
            "format"
        }
        fn apply(&self, record: &mut Record) -> Verdict {
            match record.answers().first() {
                Some(Some(a)) if a.matches('.').count() > 1 => {
                    Verdict::Drop("more than one sentence".into())
                }
                _ => Verdict::Keep,
            }
        }
    }
    let mut cleaner = Cleaner::new(settings(), MinHashParams::default());
    cleaner.push_rule(Box::new(OneSentence));
    assert_eq!(cleaner.rule_names().last(), Some(&"format"));
    let out = cleaner.clean(vec![
        traj("a", "q1 about the weather", None, "One. Two.", true),
        traj("b", "q2 about the stock market", None, "One.", true),
    ]);
    assert_eq!(reasons(&out), BTreeMap::from([("format".to_owned(), 1)]));
}

#[test]
fn synthetic_data_loses_about_what_was_injected() {
    let spec = SyntheticSpec {
        records: 4000,
        ..SyntheticSpec::default()
    };
    let records = synthetic::generate(&spec);
    let out = clean(records, settings());
    let r = &out.report;
    let exact = r
        .dropped_by_reason
        .get("exact_duplicate")
        .copied()
        .unwrap_or(0);
    let near = r
        .dropped_by_reason
        .get("near_duplicate")
        .copied()
        .unwrap_or(0);
    // 5% exact copies, 5% near copies, 1% conflicts were injected.
    assert!((120..=280).contains(&exact), "{r:?}");
    assert!(near >= 150, "{r:?}");
    assert!(r.conflict_groups >= 15, "{r:?}");
    assert!(
        r.fixed.get("pii.email").copied().unwrap_or(0) >= 100,
        "{r:?}"
    );
    assert_eq!(r.input, r.kept + r.dropped());
}

fn pool(n: usize, seed: u64) -> Vec<Record> {
    // Deliberately off-ratio: far too many complex positives and hard negatives.
    synthetic::generate(&SyntheticSpec {
        records: n,
        seed,
        exact_dup: 0.0,
        near_dup: 0.0,
        conflict: 0.0,
        pii: 0.0,
        hard_negative: 0.3,
        general: 0.3,
        complex: 0.5,
    })
}

#[test]
fn mix_hits_the_target_ratios_within_two_points() {
    let records = pool(30_000, 3);
    let s = MixSettings {
        size: 10_000,
        ..MixSettings::default()
    };
    let (mixed, report) = mix::mix(records, &s, 42).unwrap();
    assert_eq!(mixed.len(), 10_000);
    assert_eq!(report.ratios.len(), 3);
    for r in &report.ratios {
        assert!(r.gap_points() <= 2.0, "{r:?}");
    }
    // Recount independently of the report.
    let again = mix::ratios(&mixed, &s);
    assert_eq!(again, report.ratios);
    let mut classes: HashMap<Class, usize> = HashMap::new();
    for r in &mixed {
        *classes.entry(Class::of(r)).or_default() += 1;
    }
    let hn = classes[&Class::HardNegative] as f64;
    let general = classes[&Class::General] as f64;
    assert!((hn / 10_000.0 - (5.0 / 6.0) * 0.2).abs() < 0.02);
    assert!((general / 10_000.0 - 1.0 / 6.0).abs() < 0.02);
    // Other targets.
    let s = MixSettings {
        positive_to_hard_negative: 9.0,
        simple_to_complex: 3.0,
        agent_to_general: 2.0,
        size: 10_000,
        balance: true,
    };
    let (_, report) = mix::mix(pool(30_000, 4), &s, 1).unwrap();
    for r in &report.ratios {
        assert!(r.gap_points() <= 2.0, "{r:?}");
    }
}

#[test]
fn mix_is_balanced_deterministic_and_excludes_eval_data() {
    let mut records = pool(6000, 5);
    // Make one scenario rare.
    records.retain(|r| r.meta_or_inferred().scenario != "math" || r.id().ends_with('0'));
    let s = MixSettings {
        size: 1000,
        ..MixSettings::default()
    };
    let (a, ra) = mix::mix(records.clone(), &s, 9).unwrap();
    let (b, _) = mix::mix(records.clone(), &s, 9).unwrap();
    let (c, _) = mix::mix(records.clone(), &s, 10).unwrap();
    let ids = |v: &[Record]| v.iter().map(|r| r.id().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    // Balance: positive simple records are spread evenly over (scenario, template) cells
    // that have enough; no cell with spare records has fewer than a full one.
    let mut cells: HashMap<(String, String), usize> = HashMap::new();
    for r in a.iter().filter(|r| Class::of(r) == Class::PositiveSimple) {
        *cells
            .entry((
                r.meta_or_inferred().scenario,
                r.template_id().unwrap_or("").to_owned(),
            ))
            .or_default() += 1;
    }
    let mut avail: HashMap<(String, String), usize> = HashMap::new();
    for r in records
        .iter()
        .filter(|r| Class::of(r) == Class::PositiveSimple)
    {
        *avail
            .entry((
                r.meta_or_inferred().scenario,
                r.template_id().unwrap_or("").to_owned(),
            ))
            .or_default() += 1;
    }
    let full: Vec<usize> = cells
        .iter()
        .filter(|(k, v)| avail[*k] > **v)
        .map(|(_, v)| *v)
        .collect();
    let (lo, hi) = (full.iter().min().unwrap(), full.iter().max().unwrap());
    assert!(hi - lo <= 1, "unbalanced: {cells:?}");
    assert!(ra.by_scenario.contains_key("math"));
    // Eval-only records never enter a mix.
    let mut with_eval = records;
    if let Record::Trajectory(t) = &mut with_eval[0] {
        t.provenance.eval_only = true;
    }
    let (m, r) = mix::mix(with_eval.clone(), &MixSettings::default(), 1).unwrap();
    assert_eq!(r.eval_only_excluded, 1);
    assert!(!m.iter().any(|x| x.id() == with_eval[0].id()));
}

#[test]
fn groups_never_straddle_splits_and_eval_groups_go_to_test() {
    let mut records = synthetic::generate(&SyntheticSpec {
        records: 3000,
        near_dup: 0.2,
        exact_dup: 0.1,
        ..SyntheticSpec::default()
    });
    // A benchmark item and a training-looking near duplicate of it.
    let mut bench = traj(
        "bench-1",
        "What is the area of a triangle with base 10 and height 5 units?",
        None,
        "25.",
        false,
    );
    if let Record::Trajectory(t) = &mut bench {
        t.provenance.eval_only = true;
    }
    records.push(bench);
    records.push(traj(
        "train-copy",
        "What is the area of a triangle with base 10 and height 5 units??",
        None,
        "25.",
        false,
    ));
    let s = SplitSettings {
        validation: 0.1,
        test: 0.1,
        ..SplitSettings::default()
    };
    let p = MinHashParams {
        bands: 32,
        ..MinHashParams::default()
    };
    let a = split::assign(&records, &s, &p, 7).unwrap();
    let mut group_split: HashMap<&str, Split> = HashMap::new();
    for (g, sp) in a.groups.iter().zip(&a.splits) {
        if let Some(prev) = group_split.insert(g, *sp) {
            assert_eq!(prev, *sp, "group {g} straddles splits");
        }
    }
    assert!(
        a.report.total_groups < records.len(),
        "near duplicates were grouped"
    );
    let n = records.len() as f64;
    let share = |sp: Split| a.splits.iter().filter(|&&x| x == sp).count() as f64 / n;
    assert!((share(Split::Test) - 0.1).abs() < 0.02, "{:?}", a.report);
    assert!(
        (share(Split::Validation) - 0.1).abs() < 0.02,
        "{:?}",
        a.report
    );
    let last = records.len() - 1;
    assert_eq!(
        a.splits[last - 1],
        Split::Test,
        "eval-only items are test data"
    );
    assert_eq!(
        a.splits[last],
        Split::Test,
        "and so are their near duplicates"
    );
    assert_eq!(a.groups[last - 1], a.groups[last]);
    // Deterministic.
    let b = split::assign(&records, &s, &p, 7).unwrap();
    assert_eq!(a.splits, b.splits);
    // Leakage between the produced splits stays below the grouping similarity.
    let pick = |sp: Split| {
        records
            .iter()
            .zip(&a.splits)
            .filter(|(_, x)| **x == sp)
            .map(|(r, _)| r.clone())
            .collect::<Vec<_>>()
    };
    let leak = split::leakage(&pick(Split::Train), &pick(Split::Test), &p, 0.8).unwrap();
    assert!(leak.max_similarity < 0.8, "{leak:?}");
    assert!(!leak.failed());
}

#[test]
fn leakage_finds_a_planted_near_duplicate() {
    let train = vec![
        traj(
            "t1",
            "Will it rain in Beijing tomorrow afternoon?",
            None,
            "a",
            false,
        ),
        traj("t2", "Convert 100 dollars to euros", None, "b", false),
    ];
    let test = vec![
        traj(
            "x1",
            "Will it rain in Beijing tomorrow afternoon??",
            None,
            "a",
            false,
        ),
        traj("x2", "Plan a picnic for Saturday", None, "c", false),
    ];
    let leak = split::leakage(&train, &test, &MinHashParams::default(), 0.8).unwrap();
    assert!(leak.max_similarity > 0.9, "{leak:?}");
    assert_eq!(leak.pair, Some(("x1".to_owned(), "t1".to_owned())));
    assert_eq!(leak.leaked, 1);
    assert!(leak.failed());
    let clean = split::leakage(&train, &test[1..], &MinHashParams::default(), 0.8).unwrap();
    assert!(!clean.failed(), "{clean:?}");
}
