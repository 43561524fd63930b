//! Scenario synthesis, rendering under every shipped template, and the strict-format rule:
//! observations are real (re-executed), calls validate, labels match the trajectories, runs are
//! reproducible, and the rule catches malformed turns, bad arguments and unknown tools.
#![allow(clippy::unwrap_used)]

use agentune_data::render::{
    RenderReport, RenderSettings, Renderer, TemplateMix, render_sample, render_samples,
};
use agentune_data::synth::{Lang, Scenario, SynthSettings, Synthesizer, verify_execution};
use agentune_data::validate::StrictFormatRule;
use agentune_data::{Record, Rule, Verdict, detect_language};
use agentune_runtime::Template;
use agentune_schema::{Complexity, QueryKind, Role, Step, Trajectory};
use serde_json::json;

fn synth(scenarios: Vec<Scenario>, count: usize, seed: u64) -> Vec<Trajectory> {
    let s = Synthesizer::new(SynthSettings {
        count,
        seed,
        scenarios,
        ..SynthSettings::default()
    })
    .unwrap();
    s.generate_all(|| {}).unwrap()
}

#[test]
fn every_scenario_produces_verified_valid_trajectories() {
    let rule = StrictFormatRule::new().unwrap();
    for sc in Scenario::ALL {
        // Ratios 1:1 so that a small run holds every class.
        let s = Synthesizer::new(SynthSettings {
            count: 24,
            seed: 7,
            scenarios: vec![sc],
            positive_to_hard_negative: 2.0,
            simple_to_complex: 1.0,
            ..SynthSettings::default()
        })
        .unwrap();
        let all = s.generate_all(|| {}).unwrap();
        assert_eq!(all.len(), 24);
        let mut langs = std::collections::BTreeSet::new();
        let mut kinds = std::collections::BTreeSet::new();
        for t in &all {
            let meta = t.meta.as_ref().unwrap();
            assert!(t.problems().is_empty(), "{}: {:?}", t.id, t.problems());
            assert!(
                t.final_answer().is_some_and(|a| !a.trim().is_empty()),
                "{}",
                t.id
            );
            assert!(
                t.checks.iter().any(|c| c.check == "execution" && c.passed),
                "{}",
                t.id
            );
            verify_execution(t).unwrap();
            let problems = rule.problems(&Record::from(t.clone()));
            assert!(problems.is_empty(), "{}: {problems:?}", t.id);
            assert_eq!(detect_language(&t.query), meta.language, "{}", t.query);
            langs.insert(meta.language.clone());
            kinds.insert((meta.kind, meta.complexity));
            let calls = t.call_count();
            match (meta.kind, meta.complexity) {
                (QueryKind::HardNegative, _) => {
                    assert_eq!(calls, 0, "{}", t.id);
                    assert_eq!(t.steps.len(), 1);
                    assert!(!t.tools.is_empty(), "hard negatives are offered tools");
                }
                (QueryKind::Positive, Complexity::Complex) => {
                    assert!(calls >= 2, "{} has {calls} call(s)", t.id)
                }
                (QueryKind::Positive, Complexity::Simple) => assert_eq!(calls, 1, "{}", t.id),
                other => panic!("unexpected labels {other:?}"),
            }
            // Every call's tool is offered, plus distractors.
            for s in &t.steps {
                for c in s.step.calls() {
                    assert!(t.tools.iter().any(|x| x.name == c.name));
                }
            }
            assert_eq!(meta.scenario, sc.name());
        }
        assert_eq!(langs.len(), 2, "{sc:?} covers both languages");
        if sc.has_simple() {
            assert!(kinds.contains(&(QueryKind::HardNegative, Complexity::Simple)));
            assert!(kinds.contains(&(QueryKind::Positive, Complexity::Simple)));
        }
        assert!(kinds.contains(&(QueryKind::Positive, Complexity::Complex)));
    }
}

#[test]
fn observations_are_real_tool_results() {
    let mut all = synth(vec![Scenario::Weather, Scenario::Chain], 12, 3);
    let t = all
        .iter_mut()
        .find(|t| t.call_count() > 0)
        .expect("a trajectory with calls");
    verify_execution(t).unwrap();
    let step = t
        .steps
        .iter_mut()
        .find(|s| !s.observations.is_empty())
        .unwrap();
    step.observations[0].content = step.observations[0].content.replace('1', "2");
    step.observations[0].content.push(' ');
    let err = verify_execution(t).unwrap_err().to_string();
    assert!(err.contains("re-executed"), "{err}");
}

#[test]
fn same_seed_same_bytes_other_seed_other_records() {
    let a = synth(Vec::new(), 40, 11);
    let b = synth(Vec::new(), 40, 11);
    let c = synth(Vec::new(), 40, 12);
    let text = |v: &[Trajectory]| serde_json::to_string(v).unwrap();
    assert_eq!(text(&a), text(&b));
    assert_ne!(text(&a), text(&c));
}

#[test]
fn ratios_and_languages_follow_the_settings() {
    let s = Synthesizer::new(SynthSettings {
        count: 700,
        seed: 5,
        languages: vec![Lang::Zh],
        ..SynthSettings::default()
    })
    .unwrap();
    let all = s.generate_all(|| {}).unwrap();
    let hn = all
        .iter()
        .filter(|t| t.meta.as_ref().unwrap().kind == QueryKind::HardNegative)
        .count();
    let cx = all
        .iter()
        .filter(|t| t.meta.as_ref().unwrap().complexity == Complexity::Complex)
        .count();
    assert_eq!(hn, 140, "4 : 1 of 700");
    assert_eq!(cx, 80, "6 : 1 of 560 positives");
    assert!(
        all.iter()
            .all(|t| t.meta.as_ref().unwrap().language == "zh")
    );
    let distinct: std::collections::BTreeSet<&str> = all.iter().map(|t| t.query.as_str()).collect();
    assert!(
        distinct.len() > 450,
        "only {} distinct queries",
        distinct.len()
    );
}

#[test]
fn rendered_samples_pass_strict_validation_under_every_template() {
    let trajectories = synth(Vec::new(), 90, 21);
    let rule = StrictFormatRule::new().unwrap();
    let mut skipped_parallel = 0;
    for id in Template::builtin_ids() {
        let template = Template::builtin(id).unwrap();
        let mut rendered = 0;
        for t in &trajectories {
            match render_sample(t, &template) {
                Ok(s) => {
                    rendered += 1;
                    assert_eq!(s.template_id.as_deref(), Some(*id));
                    let mut r = Record::from(s);
                    assert_eq!(rule.apply(&mut r), Verdict::Keep, "{id}: {}", t.id);
                }
                Err(e) => {
                    assert!(!template.parallel_calls(), "{id}: {e:?}");
                    assert_eq!(e.reason(), "parallel_calls");
                    skipped_parallel += 1;
                }
            }
        }
        assert!(rendered > 80, "{id}: only {rendered} rendered");
    }
    assert!(
        skipped_parallel > 0,
        "some trajectories have parallel calls"
    );
}

#[test]
fn renderer_draws_templates_and_counts_skips() {
    let trajectories = synth(Vec::new(), 60, 2);
    let r = Renderer::new(
        TemplateMix::builtin().unwrap(),
        RenderSettings {
            per_record: 3,
            seed: 1,
            match_language: true,
        },
    )
    .unwrap();
    let mut report = RenderReport::default();
    let mut ids = std::collections::BTreeSet::new();
    let mut total = 0;
    for t in &trajectories {
        let samples = r.render(t, &mut report);
        let can = Template::builtin_ids()
            .iter()
            .filter(|id| render_sample(t, &Template::builtin(id).unwrap()).is_ok())
            .count();
        assert_eq!(samples.len(), can.min(3), "{}", t.id);
        total += samples.len();
        let group = samples[0].group.clone();
        assert!(samples.iter().all(|s| s.group == group));
        for s in samples {
            assert!(ids.insert(s.id.clone()), "duplicate id {}", s.id);
        }
    }
    assert_eq!(report.samples, total);
    assert!(total > 150);
    assert!(
        report.skipped_total() > 0,
        "parallel calls skip one-call templates"
    );
    assert!(report.by_template.len() >= 6, "{:?}", report.by_template);
    // Rendering again gives the same draws.
    let mut again = RenderReport::default();
    let first: Vec<_> = trajectories
        .iter()
        .flat_map(|t| r.render(t, &mut again))
        .collect();
    assert_eq!(again, report);
    assert!(first.iter().all(|s| ids.contains(&s.id)));
}

#[test]
fn strict_rule_catches_malformed_turns_bad_arguments_and_unknown_tools() {
    let trajectories = synth(vec![Scenario::Weather], 10, 4);
    let t = trajectories
        .iter()
        .find(|t| t.call_count() == 1)
        .expect("a one-call trajectory");
    let rule = StrictFormatRule::new().unwrap();
    for id in [
        "react",
        "hermes",
        "openai",
        "autogpt",
        "modelscope",
        "toolllama",
    ] {
        let template = Template::builtin(id).unwrap();
        let sample = render_sample(t, &template).unwrap();
        let first_reply = sample
            .messages
            .iter()
            .position(|m| m.role == Role::Assistant)
            .unwrap();

        // A malformed turn: text the template would never write (native tool calls carry
        // free text beside the structured calls, so only text families are concerned).
        if !template.native_tools() {
            let mut s = sample.clone();
            let m = &mut s.messages[first_reply];
            m.content = Some(format!("{}  trailing words", m.content_str()));
            let v = rule.apply(&mut Record::from(s));
            assert!(
                matches!(&v, Verdict::Drop(d) if d.contains("exact format")),
                "{id}: {v:?}"
            );
        }

        // Bad arguments and an unknown tool, written in the template's own format.
        let Step::ToolCalls { thought, calls } = &t.steps[0].step else {
            panic!("first step calls a tool");
        };
        let mut bad = calls.clone();
        bad[0].arguments = json!({"city": 42}).as_object().unwrap().clone();
        let mut unknown = calls.clone();
        unknown[0].name = "get_stock_price".into();
        for (calls, want) in [(bad, "invalid arguments"), (unknown, "unknown tool")] {
            let step = Step::ToolCalls {
                thought: thought.clone(),
                calls,
            };
            let mut s = sample.clone();
            s.messages[first_reply] = template.render_step(&step).unwrap();
            let v = rule.apply(&mut Record::from(s));
            assert!(
                matches!(&v, Verdict::Drop(d) if d.contains(want)),
                "{id}: {v:?}"
            );
        }
    }
}

#[test]
fn tools_outside_the_catalogue_are_checked_by_name_from_the_prompt() {
    // An imported trajectory with its own tool, rendered under a text template: the tool is
    // listed in the prompt, so its call is kept; the schema is checked when the sample
    // carries the tools (native template).
    let mut t = synth(vec![Scenario::Math], 10, 8)
        .into_iter()
        .find(|t| t.call_count() == 1)
        .unwrap();
    let spec = agentune_schema::ToolSpec::new(
        "stock_quote",
        "Latest quote of a stock ticker.",
        json!({"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}),
    );
    t.tools = vec![spec];
    let Step::ToolCalls { calls, .. } = &mut t.steps[0].step else {
        panic!("a call step");
    };
    calls[0].name = "stock_quote".into();
    calls[0].arguments = json!({"ticker": "ACME"}).as_object().unwrap().clone();
    t.steps[0].observations[0].name = "stock_quote".into();
    let rule = StrictFormatRule::new().unwrap();
    for id in ["react", "openai"] {
        let s = render_sample(&t, &Template::builtin(id).unwrap()).unwrap();
        assert_eq!(rule.apply(&mut Record::from(s)), Verdict::Keep, "{id}");
    }
    let Step::ToolCalls { calls, .. } = &mut t.steps[0].step else {
        panic!("a call step");
    };
    calls[0].arguments = json!({"ticker": 7}).as_object().unwrap().clone();
    let s = render_sample(&t, &Template::builtin("openai").unwrap()).unwrap();
    assert!(
        matches!(rule.apply(&mut Record::from(s)), Verdict::Drop(d) if d.contains("invalid arguments"))
    );
}

#[test]
fn restart_trajectories_fail_for_real_then_succeed_and_render_under_toolllama() {
    let s = Synthesizer::new(SynthSettings {
        count: 200,
        seed: 11,
        restart_share: 0.3,
        ..SynthSettings::default()
    })
    .unwrap();
    let all = s.generate_all(|| {}).unwrap();
    let rule = StrictFormatRule::new().unwrap();
    let toolllama = Template::builtin("toolllama").unwrap();
    let toolllama_zh = Template::builtin("toolllama_zh").unwrap();
    let react = Template::builtin("react").unwrap();
    let mut restarts = 0;
    let mut positives = 0;
    for t in &all {
        let meta = t.meta.as_ref().unwrap();
        if meta.kind == QueryKind::Positive {
            positives += 1;
        }
        let Some(i) = t
            .steps
            .iter()
            .position(|s| matches!(s.step, Step::GiveUp { restart: true, .. }))
        else {
            continue;
        };
        restarts += 1;
        assert_eq!(meta.kind, QueryKind::Positive);
        // The failed attempt: one call whose observation is the tool's error, then the
        // give-up; the gold attempt follows and ends with the answer.
        assert_eq!(i, 1, "{}", t.id);
        assert!(
            t.steps[0].observations.iter().all(|o| o.is_error),
            "{}",
            t.id
        );
        assert!(t.final_answer().is_some());
        assert!(t.problems().is_empty(), "{}: {:?}", t.id, t.problems());
        verify_execution(t).unwrap();
        let template = if meta.language == "zh" {
            &toolllama_zh
        } else {
            &toolllama
        };
        // One sample per attempt: the first ends in the give-up, the second's prompt carries
        // the failed attempt; both pass the strict check.
        if t.steps.iter().any(|s| s.step.calls().len() > 1) {
            // Parallel calls: no one-call template can express it.
            assert!(render_samples(t, template).is_err());
            continue;
        }
        let samples = render_samples(t, template).unwrap();
        assert_eq!(samples.len(), 2, "{}", t.id);
        for sample in &samples {
            let problems = rule.problems(&Record::from(sample.clone()));
            assert!(problems.is_empty(), "{}: {problems:?}", sample.id);
        }
        let turns = |s: &agentune_schema::Sample, assistant: bool| -> Vec<String> {
            s.messages
                .iter()
                .filter(|m| (m.role == Role::Assistant) == assistant)
                .map(|m| m.content_str().to_owned())
                .collect()
        };
        let first = turns(&samples[0], true);
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(first[1].contains("give_up_and_restart"), "{first:?}");
        // Only the give-up is trained in the failed attempt: the mistyped call is context.
        let weights: Vec<f32> = samples[0]
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .map(|m| m.loss_weight())
            .collect();
        assert_eq!(weights, [0.0, 1.0], "{}", samples[0].id);
        assert!(
            samples[1]
                .messages
                .iter()
                .filter(|m| m.role == Role::Assistant)
                .all(|m| m.loss_weight() == 1.0)
        );
        let second = turns(&samples[1], true);
        assert!(second.iter().all(|a| !a.contains("give_up_and_restart")));
        // The failed call's mistyped argument is in the second prompt, not in its replies.
        let typo = t.steps[0].step.calls()[0]
            .arguments
            .values()
            .filter_map(|v| v.as_str())
            .find(|v| {
                !t.steps[2].step.calls()[0]
                    .arguments
                    .values()
                    .any(|g| g.as_str() == Some(*v))
            })
            .unwrap()
            .to_owned();
        assert!(turns(&samples[1], false).concat().contains(&typo), "{typo}");
        assert!(!second.concat().contains(&typo), "{typo}");
        assert_eq!(render_sample(t, template).unwrap(), samples[1]);
        // Templates without restart cannot express it.
        assert!(render_sample(t, &react).is_err());
    }
    // About 30 % of the positives (chosen by query hash; some calls cannot be made to fail).
    assert!(
        restarts * 100 >= positives * 15 && restarts * 100 <= positives * 45,
        "{restarts} restarts among {positives} positives"
    );
    // Chosen by the query: the same query never appears with and without a restart.
    let mut by_query = std::collections::HashMap::new();
    for t in &all {
        let r = t
            .steps
            .iter()
            .any(|s| matches!(s.step, Step::GiveUp { .. }));
        assert_eq!(
            *by_query.entry(t.query.clone()).or_insert(r),
            r,
            "{}",
            t.query
        );
    }
}

#[test]
fn scenario_weights_set_the_shares() {
    let s = Synthesizer::new(SynthSettings {
        count: 300,
        seed: 5,
        scenarios: vec![Scenario::Weather, Scenario::Math, Scenario::Units],
        scenario_weights: vec![(Scenario::Weather, 4.0), (Scenario::Units, 0.0)],
        ..SynthSettings::default()
    })
    .unwrap();
    let all = s.generate_all(|| {}).unwrap();
    let count = |name: &str| {
        all.iter()
            .filter(|t| t.meta.as_ref().unwrap().scenario == name)
            .count()
    };
    assert_eq!(count("units"), 0);
    let (w, m) = (count("weather"), count("math"));
    assert_eq!(w + m, 300);
    // 4 : 1, within one record per class.
    assert!((236..=244).contains(&w), "weather {w}, math {m}");
    let zh = all
        .iter()
        .filter(|t| t.meta.as_ref().unwrap().language == "zh")
        .count();
    assert!((145..=155).contains(&zh), "{zh} Chinese of 300");
    assert!(
        Synthesizer::new(SynthSettings {
            scenarios: vec![Scenario::Math],
            scenario_weights: vec![(Scenario::Math, 0.0)],
            ..SynthSettings::default()
        })
        .is_err()
    );
}
