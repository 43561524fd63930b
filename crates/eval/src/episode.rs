//! Episode-level held-out metrics: the runtime's agent loop runs each held-out query with the
//! real built-in tools (under the record's own fixed clock, with a fresh note store), and the
//! final answer is compared with the gold one.
//!
//! Items come from trajectories (gold = their final answer) or rendered samples (query from
//! their `query:` group, gold = the last assistant turn parsed with the sample's template).
//! Per episode:
//!
//! - `success`: the episode ended with an answer that matches the gold answer (normalised
//!   exact match, or ROUGE-L F1 at least the threshold; Chinese scored per character);
//! - `answered`, `exact_match`, `rouge_l` (0 without an answer);
//! - `steps` (decisions taken, restarts included), `restarts`, `tool_calls`, `format_errors`;
//! - `gave_up`: the episode ended in a give-up (or ran out of restarts);
//! - `abstained` (hard negatives): no tool was called; `called` (gold calls a tool): a tool
//!   was called.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use agentune_data::Record;
use agentune_data::import::QUERY_GROUP_PREFIX;
use agentune_runtime::model::ChatModel;
use agentune_runtime::tools::{Clock, ToolRegistry};
use agentune_runtime::{Agent, AgentConfig, ParseMode, Template};
use agentune_schema::{
    EvalRecord, Message, Outcome, QueryKind, QueryMeta, Role, Step, ToolSpec, Trajectory,
};
use serde_json::json;

use crate::error::{Error, Result};
use crate::text;

/// One held-out episode: a query, the tools offered, and the gold answer.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeItem {
    /// The record's id.
    pub id: String,
    /// The user's query.
    pub query: String,
    /// Conversation before the query.
    pub history: Vec<Message>,
    /// The tools offered (all built in).
    pub tools: Vec<ToolSpec>,
    /// The record's template, when it names one.
    pub template_id: Option<String>,
    /// The record's labels.
    pub meta: QueryMeta,
    /// The gold final answer.
    pub gold_answer: String,
    /// Decisions of the gold episode's last attempt.
    pub gold_steps: usize,
    /// Tools the gold episode calls, in order.
    pub gold_calls: Vec<String>,
    /// The fixed clock of a synthesised record (its `provenance.seed`), so dates and weather
    /// match the gold episode.
    pub clock: Option<Clock>,
}

/// Why records were not turned into episodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// No gold final answer (general data without a template, a give-up attempt, ...).
    pub no_gold_answer: usize,
    /// A tool offered is not a built-in one, so the episode cannot run here.
    pub unknown_tools: usize,
}

fn gold_from_steps(steps: &[agentune_schema::TrajectoryStep]) -> (usize, Vec<String>) {
    let calls = steps
        .iter()
        .flat_map(|s| s.step.calls().iter().map(|c| c.name.clone()))
        .collect();
    (steps.len(), calls)
}

fn clock_of(p: Option<&agentune_schema::Provenance>) -> Option<Clock> {
    let p = p?;
    if p.source.starts_with("synth") {
        p.seed.map(agentune_data::synth::record_clock)
    } else {
        None
    }
}

/// The episode of one record, or why it has none. `template` overrides the record's own
/// (used to read a sample's gold answer).
fn item_of(
    record: &Record,
    template: Option<&Template>,
    builtin: &[String],
) -> std::result::Result<EpisodeItem, &'static str> {
    let meta = record.meta_or_inferred();
    let item = match record {
        Record::Trajectory(t) => {
            let gold = t.final_answer().ok_or("no_gold_answer")?;
            let attempts = t.attempts();
            let last = attempts.last().copied().unwrap_or(&t.steps[..]);
            let (gold_steps, gold_calls) = gold_from_steps(last);
            EpisodeItem {
                id: t.id.clone(),
                query: t.query.clone(),
                history: t.history.clone(),
                tools: t.tools.clone(),
                template_id: t.template_id.clone(),
                meta,
                gold_answer: gold.to_owned(),
                gold_steps,
                gold_calls,
                clock: clock_of(Some(&t.provenance)),
            }
        }
        Record::Sample(s) => {
            let resolved;
            let template = match (template, s.template_id.as_deref()) {
                (Some(t), _) => t,
                (None, Some(id)) => {
                    resolved = Template::resolve(id).map_err(|_| "no_gold_answer")?;
                    &resolved
                }
                (None, None) => return Err("no_gold_answer"),
            };
            let last = s
                .messages
                .iter()
                .rev()
                .find(|m| m.role == Role::Assistant)
                .ok_or("no_gold_answer")?;
            let step = template
                .parse_message(last, ParseMode::Strict)
                .or_else(|_| template.parse_message(last, ParseMode::Lenient))
                .map_err(|_| "no_gold_answer")?;
            let Step::FinalAnswer { answer, .. } = step else {
                return Err("no_gold_answer");
            };
            let query = s
                .group
                .as_deref()
                .and_then(|g| g.strip_prefix(QUERY_GROUP_PREFIX))
                .or_else(|| s.query())
                .ok_or("no_gold_answer")?;
            let mut gold_steps = 0;
            let mut gold_calls = Vec::new();
            for m in s
                .messages
                .iter()
                .filter(|m| m.role == Role::Assistant && m.loss_weight() > 0.0)
            {
                gold_steps += 1;
                if let Ok(st) = template.parse_message(m, ParseMode::Lenient) {
                    gold_calls.extend(st.calls().iter().map(|c| c.name.clone()));
                }
            }
            EpisodeItem {
                id: s.id.clone(),
                query: query.to_owned(),
                history: Vec::new(),
                tools: s.tools.clone(),
                template_id: s.template_id.clone(),
                meta,
                gold_answer: answer,
                gold_steps,
                gold_calls,
                clock: clock_of(s.provenance.as_ref()),
            }
        }
    };
    if item.tools.iter().any(|t| !builtin.contains(&t.name)) {
        return Err("unknown_tools");
    }
    Ok(item)
}

/// The episodes of held-out records (trajectories or samples), with counts of the records
/// skipped. `template` overrides each record's own template.
pub fn items(
    records: &[Record],
    template: Option<&Template>,
) -> Result<(Vec<EpisodeItem>, Skipped)> {
    let builtin: Vec<String> = ToolRegistry::builtin_specs()?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut out = Vec::new();
    let mut skipped = Skipped::default();
    for r in records {
        match item_of(r, template, &builtin) {
            Ok(i) => out.push(i),
            Err("unknown_tools") => skipped.unknown_tools += 1,
            Err(_) => skipped.no_gold_answer += 1,
        }
    }
    Ok((out, skipped))
}

/// Limits and scoring settings of the episodes.
#[derive(Debug, Clone)]
pub struct EpisodeSettings {
    /// The agent loop's limits and sampling (its `date` is left as it is).
    pub agent: AgentConfig,
    /// ROUGE-L F1 at or above which an answer counts as matching.
    pub threshold: f64,
    /// The clock of records without one of their own.
    pub clock: Clock,
}

impl Default for EpisodeSettings {
    fn default() -> Self {
        Self {
            agent: AgentConfig {
                temperature: Some(0.0),
                ..AgentConfig::default()
            },
            threshold: 0.5,
            clock: Clock::System,
        }
    }
}

/// One episode run and scored.
#[derive(Debug, Clone)]
pub struct EpisodeOutcome {
    /// The trajectory the agent produced (id and labels of the item).
    pub trajectory: Trajectory,
    /// Metric name to value (booleans as 0/1).
    pub metrics: BTreeMap<&'static str, f64>,
    /// Wall time of the episode in milliseconds.
    pub elapsed_ms: u64,
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Scores a finished trajectory against an item's gold answer.
pub fn score(item: &EpisodeItem, t: &Trajectory, threshold: f64) -> BTreeMap<&'static str, f64> {
    let answer = t.final_answer();
    let mut m = BTreeMap::new();
    let rouge = answer.map_or(0.0, |a| text::rouge_l(a, &item.gold_answer));
    let exact = answer.is_some_and(|a| text::normalized_match(a, &item.gold_answer));
    m.insert("answered", flag(t.outcome == Outcome::Answered));
    m.insert("exact_match", flag(exact));
    m.insert("rouge_l", rouge);
    m.insert(
        "success",
        flag(t.outcome == Outcome::Answered && (exact || rouge >= threshold)),
    );
    m.insert("steps", t.steps.len() as f64);
    m.insert("restarts", t.restarts() as f64);
    m.insert("tool_calls", t.call_count() as f64);
    m.insert(
        "format_errors",
        t.checks.iter().filter(|c| c.check == "format").count() as f64,
    );
    m.insert(
        "gave_up",
        flag(matches!(t.outcome, Outcome::GaveUp | Outcome::Restarted)),
    );
    if item.gold_calls.is_empty() {
        if item.meta.kind == QueryKind::HardNegative {
            m.insert("abstained", flag(t.call_count() == 0));
        }
    } else {
        m.insert("called", flag(t.call_count() > 0));
    }
    m
}

/// Runs one episode: fresh built-in tools (those the item offers) under the item's clock with
/// an empty note store, the agent loop with `template` and `model`, then the scores.
pub fn run_episode<M: ChatModel + ?Sized>(
    item: &EpisodeItem,
    template: &Template,
    model: &M,
    settings: &EpisodeSettings,
) -> Result<EpisodeOutcome> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("agentune-episode-")
        .tempdir()
        .map_err(|e| Error::io("create", std::env::temp_dir(), e))?;
    let clock = item.clock.clone().unwrap_or_else(|| settings.clock.clone());
    let mut tools = ToolRegistry::builtin_with_clock(dir.path().join("notes"), clock)?;
    let offered: Vec<&str> = item.tools.iter().map(|t| t.name.as_str()).collect();
    tools.retain(&offered);
    let mut trajectory = Agent::new(template, &tools, model)
        .with_config(settings.agent.clone())
        .run(&item.query, &item.history)?;
    trajectory.id = item.id.clone();
    trajectory.meta = Some(item.meta.clone());
    let metrics = score(item, &trajectory, settings.threshold);
    Ok(EpisodeOutcome {
        trajectory,
        metrics,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Runs every item, `concurrency` episodes at a time, each with the template `template_of`
/// gives it. Results are in item order; an episode whose model calls failed gives the error
/// text. `progress` is called after each episode.
pub fn run_all<M: ChatModel + Sync + ?Sized>(
    items: &[EpisodeItem],
    template_of: &(dyn Fn(&EpisodeItem) -> Result<Template> + Sync),
    model: &M,
    settings: &EpisodeSettings,
    concurrency: usize,
    progress: &(dyn Fn() + Sync),
) -> Vec<std::result::Result<EpisodeOutcome, String>> {
    let results: Vec<Mutex<Option<std::result::Result<EpisodeOutcome, String>>>> =
        items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let r = template_of(item)
                .and_then(|t| run_episode(item, &t, model, settings))
                .map_err(|e| e.to_string());
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(r);
            }
            progress();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1).min(items.len().max(1)) {
            s.spawn(worker);
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("no result".into()))
        })
        .collect()
}

/// The eval record of one episode (suite `heldout_episode`).
pub fn record(
    item: &EpisodeItem,
    model: &str,
    template_id: &str,
    result: &std::result::Result<EpisodeOutcome, String>,
) -> EvalRecord {
    let (response, parsed, metrics, passed, error, latency) = match result {
        Ok(o) => (
            o.trajectory.final_answer().map(str::to_owned),
            o.trajectory.steps.last().map(|s| s.step.clone()),
            o.metrics
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            Some(o.metrics.get("success").copied() == Some(1.0)),
            (o.trajectory.outcome != Outcome::Answered)
                .then(|| format!("episode ended {:?}", o.trajectory.outcome).to_lowercase()),
            Some(o.elapsed_ms),
        ),
        Err(e) => (None, None, BTreeMap::new(), None, Some(e.clone()), None),
    };
    EvalRecord {
        schema_version: Default::default(),
        id: item.id.clone(),
        suite: "heldout_episode".into(),
        category: Some(item.meta.scenario.clone()),
        model: model.to_owned(),
        template_id: Some(template_id.to_owned()),
        meta: Some(item.meta.clone()),
        response,
        parsed,
        expected: Some(json!({
            "query": item.query,
            "answer": item.gold_answer,
            "steps": item.gold_steps,
            "calls": item.gold_calls,
        })),
        metrics,
        passed,
        error,
        latency_ms: latency,
    }
}

/// Reads held-out records (trajectories or samples) from a JSONL file.
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    Ok(agentune_data::io::read_records(path, || {})?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use agentune_runtime::cache::{CachedModel, ChatCache};
    use agentune_runtime::model::ScriptedModel;
    use agentune_schema::{Complexity, Provenance, ToolCall, TrajectoryStep};

    fn weather_item() -> EpisodeItem {
        let specs = ToolRegistry::builtin_specs().unwrap();
        EpisodeItem {
            id: "t1".into(),
            query: "What is 2 to the power of 10?".into(),
            history: Vec::new(),
            tools: specs
                .into_iter()
                .filter(|s| s.name == "calculator")
                .collect(),
            template_id: Some("react".into()),
            meta: QueryMeta::new("math", QueryKind::Positive, Complexity::Simple, "en"),
            gold_answer: "2 to the power of 10 is 1024.".into(),
            gold_steps: 2,
            gold_calls: vec!["calculator".into()],
            clock: Some(Clock::Fixed(1_750_000_000)),
        }
    }

    #[test]
    fn a_correct_episode_succeeds_with_real_tools() {
        let item = weather_item();
        let template = Template::builtin("react").unwrap();
        let model = ScriptedModel::from_texts([
            "Thought: I should compute it.\nAction: calculator\nAction Input: {\"expression\": \"2^10\"}",
            "Thought: I know the answer.\nFinal Answer: 2 to the power of 10 is 1024.",
        ]);
        let o = run_episode(&item, &template, &model, &EpisodeSettings::default()).unwrap();
        // The calculator really ran.
        assert!(
            o.trajectory.steps[0].observations[0]
                .content
                .contains("1024")
        );
        assert_eq!(o.metrics["success"], 1.0);
        assert_eq!(o.metrics["exact_match"], 1.0);
        assert_eq!(o.metrics["steps"], 2.0);
        assert_eq!(o.metrics["tool_calls"], 1.0);
        assert_eq!(o.metrics["called"], 1.0);
        assert_eq!(o.metrics["restarts"], 0.0);
        let r = record(&item, "m", "react", &Ok(o));
        assert_eq!(r.passed, Some(true));
        assert_eq!(r.suite, "heldout_episode");
        assert_eq!(r.expected.unwrap()["calls"][0], "calculator");
    }

    #[test]
    fn wrong_or_missing_answers_fail() {
        let item = weather_item();
        let template = Template::builtin("react").unwrap();
        let model = ScriptedModel::from_texts(["Thought: easy.\nFinal Answer: It is 1000."]);
        let o = run_episode(&item, &template, &model, &EpisodeSettings::default()).unwrap();
        assert_eq!(o.metrics["answered"], 1.0);
        assert_eq!(o.metrics["success"], 0.0);
        assert_eq!(o.metrics["called"], 0.0);
        // Unreadable replies until the format-error limit: no answer, no success.
        let model = ScriptedModel::from_texts(["garbage", "more garbage", "still garbage"]);
        let o = run_episode(&item, &template, &model, &EpisodeSettings::default()).unwrap();
        assert_eq!(o.metrics["answered"], 0.0);
        assert_eq!(o.metrics["success"], 0.0);
        assert_eq!(o.metrics["format_errors"], 3.0);
        assert_eq!(o.metrics["rouge_l"], 0.0);
    }

    #[test]
    fn chinese_answers_score_per_character() {
        let mut item = weather_item();
        item.gold_answer = "北京明天有雨，记得带伞。".into();
        let t = |answer: &str| Trajectory {
            schema_version: Default::default(),
            id: "x".into(),
            query: "q".into(),
            history: Vec::new(),
            tools: Vec::new(),
            steps: vec![TrajectoryStep::new(Step::FinalAnswer {
                thought: None,
                answer: answer.into(),
            })],
            outcome: Outcome::Answered,
            template_id: None,
            meta: None,
            provenance: Provenance::source("agent"),
            checks: Vec::new(),
        };
        // 北京明天有雨 of 10 gold characters: LCS 6, P 1, R 0.6 -> F 0.75.
        let m = score(&item, &t("北京明天有雨"), 0.7);
        assert!((m["rouge_l"] - 0.75).abs() < 1e-12, "{m:?}");
        assert_eq!(m["success"], 1.0);
        assert_eq!(score(&item, &t("上海晴"), 0.7)["success"], 0.0);
    }

    #[test]
    fn items_come_from_trajectories_and_samples() {
        let specs = ToolRegistry::builtin_specs().unwrap();
        let calc: Vec<ToolSpec> = specs
            .iter()
            .filter(|s| s.name == "calculator")
            .cloned()
            .collect();
        let mut t = Trajectory {
            schema_version: Default::default(),
            id: "traj".into(),
            query: "2^10?".into(),
            history: Vec::new(),
            tools: calc.clone(),
            steps: vec![
                TrajectoryStep::new(Step::ToolCalls {
                    thought: None,
                    calls: vec![ToolCall::new(
                        "calculator",
                        json!({"expression": "2^10"}).as_object().cloned().unwrap(),
                    )],
                }),
                TrajectoryStep::new(Step::FinalAnswer {
                    thought: None,
                    answer: "1024".into(),
                }),
            ],
            outcome: Outcome::Answered,
            template_id: None,
            meta: Some(QueryMeta::new(
                "math",
                QueryKind::Positive,
                Complexity::Simple,
                "en",
            )),
            provenance: Provenance {
                seed: Some(5),
                ..Provenance::source("synth/math")
            },
            checks: Vec::new(),
        };
        let template = Template::builtin("react").unwrap();
        let messages = template.render_conversation(&t).unwrap();
        let sample = agentune_schema::Sample {
            schema_version: Default::default(),
            id: "traj@react".into(),
            messages,
            tools: Vec::new(),
            template_id: Some("react".into()),
            meta: t.meta.clone().unwrap(),
            split: None,
            group: Some("query:2^10?".into()),
            provenance: Some(t.provenance.clone()),
        };
        let mut sample_calc = sample.clone();
        sample_calc.tools = calc;
        let mut unknown = t.clone();
        unknown.id = "unknown".into();
        unknown.tools[0].name = "stock_price".into();
        let mut no_answer = t.clone();
        no_answer.steps.pop();
        t.id = "traj".into();
        let records: Vec<Record> = vec![
            t.into(),
            sample_calc.into(),
            unknown.into(),
            no_answer.into(),
        ];
        let (items, skipped) = items(&records, None).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            skipped,
            Skipped {
                no_gold_answer: 1,
                unknown_tools: 1
            }
        );
        for i in &items {
            assert_eq!(i.query, "2^10?");
            assert_eq!(i.gold_answer, "1024");
            assert_eq!(i.gold_calls, ["calculator"]);
            assert_eq!(i.gold_steps, 2);
            assert_eq!(i.clock, Some(agentune_data::synth::record_clock(5)));
        }
        assert_eq!(items[1].template_id.as_deref(), Some("react"));
    }

    #[test]
    fn cached_replies_replay_an_episode_without_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ChatCache::open(&dir.path().join("c.jsonl")).unwrap();
        let item = weather_item();
        let template = Template::builtin("react").unwrap();
        let scripted = ScriptedModel::from_texts([
            "Thought: compute.\nAction: calculator\nAction Input: {\"expression\": \"2^10\"}",
            "Final Answer: 2 to the power of 10 is 1024.",
        ]);
        let model = CachedModel::new(&scripted, "m", Some(&cache));
        let first = run_episode(&item, &template, &model, &EpisodeSettings::default()).unwrap();
        assert_eq!(model.calls(), 2);
        // The script is spent: only the cache can answer now.
        let again = CachedModel::new(&scripted, "m", Some(&cache));
        let second = run_episode(&item, &template, &again, &EpisodeSettings::default()).unwrap();
        assert_eq!((again.hits(), again.calls()), (2, 0));
        assert_eq!(first.metrics, second.metrics);
        let results = run_all(
            &[item.clone(), item],
            &|_| Ok(template.clone()),
            &again,
            &EpisodeSettings::default(),
            2,
            &|| {},
        );
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap().metrics["success"] == 1.0)
        );
    }
}
