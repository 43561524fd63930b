//! Teacher trajectories: for each (query, tools, template) the teacher acts through the
//! runtime's agent loop against the real tools. A failed attempt is retried with the failed
//! attempts shown to the teacher (ToolBench's DFSDT idea, bounded by attempts and a model-call
//! budget). Every trajectory must pass three checks before it is kept:
//!
//! - **format**: every reply the teacher wrote parses strictly under the template;
//! - **execution**: every call is valid against its tool's schema and ran without error, or
//!   the error was handled (a later step of the attempt calls again);
//! - **semantic**: the final answer matches the gold answer when the query has one
//!   (normalised containment, or equal numbers), else a judge prompt through the teacher says
//!   YES.
//!
//! Rejections are kept with their reason; the model is meant to be wrapped in a
//! `agentune_runtime::cache::CachedModel`, so a rerun resumes without asking twice.

use std::sync::Mutex;

use agentune_data::hash::hash_str;
use agentune_runtime::model::{ChatModel, ChatRequest};
use agentune_runtime::tools::ToolRegistry;
use agentune_runtime::{Agent, AgentConfig, ParseMode, Template};
use agentune_schema::{Check, Message, Outcome, Provenance, Step, Trajectory};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query::SeedQuery;

/// Limits and prompts of teacher trajectories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrajectorySettings {
    /// Attempts per query (the first plus retries that see the failed ones).
    pub attempts: usize,
    /// Model calls per attempt.
    pub max_steps: usize,
    /// Model calls per query, all attempts and the judge together.
    pub call_budget: usize,
    /// Sampling temperature of the teacher.
    pub temperature: Option<f64>,
    /// Token limit per reply.
    pub max_tokens: Option<u32>,
    /// Date shown in prompts.
    pub date: Option<String>,
    /// Judge system prompt.
    pub judge_system: String,
    /// Judge user prompt: `{query}`, `{results}`, `{answer}`.
    pub judge_user: String,
}

impl Default for TrajectorySettings {
    fn default() -> Self {
        Self {
            attempts: 3,
            max_steps: 8,
            call_budget: 24,
            temperature: Some(0.2),
            max_tokens: Some(1024),
            date: Some("2026-05-04".into()),
            judge_system: "You check whether an agent's final answer is correct and complete, given the user's query and the tool results the agent saw. Reply with YES or NO on the first line, then one sentence of reason.".into(),
            judge_user: "Query: {query}\n\nTool results:\n{results}\n\nFinal answer: {answer}\n\nIs the final answer correct, complete and supported by the results? Reply YES or NO first.".into(),
        }
    }
}

/// Why a trajectory was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrajectoryReason {
    /// The teacher could not be reached.
    Request,
    /// The episode ended without a final answer (gave up, step limit, unreadable replies).
    NoAnswer,
    /// A reply does not parse strictly under the template.
    Format,
    /// A call is invalid or failed and the error was not handled.
    Execution,
    /// The answer does not match the gold answer, or the judge said no.
    Semantic,
}

impl TrajectoryReason {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::NoAnswer => "no_answer",
            Self::Format => "format",
            Self::Execution => "execution",
            Self::Semantic => "semantic",
        }
    }
}

/// A failed attempt or a refused query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryRejection {
    /// The query's id.
    pub query_id: String,
    /// The template used.
    pub template: String,
    /// Which attempt (0-based).
    pub attempt: usize,
    /// The check it failed.
    pub reason: TrajectoryReason,
    /// What exactly failed.
    pub message: String,
    /// The trajectory, when the teacher produced one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<Trajectory>,
}

/// The result of one query: the kept trajectory (if any) and every failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The template the query ran under.
    pub template: String,
    /// The kept trajectory.
    pub kept: Option<Trajectory>,
    /// Every failed attempt, with its reason.
    pub rejections: Vec<TrajectoryRejection>,
}

/// Kept and tried queries of one template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCounts {
    /// Queries run under the template.
    pub queries: usize,
    /// Trajectories kept.
    pub kept: usize,
}

/// The summary of a trajectories run, written next to the trajectories.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryReport {
    /// Queries run.
    pub queries: usize,
    /// Trajectories kept (at most one per query).
    pub kept: usize,
    /// Attempts made, failed ones included.
    pub attempts: usize,
    /// Failed attempts by reason (`request`, `no_answer`, `format`, `execution`, `semantic`).
    pub rejected: std::collections::BTreeMap<String, usize>,
    /// Kept trajectories by the attempt that produced them (`1`: the first).
    pub kept_on_attempt: std::collections::BTreeMap<usize, usize>,
    /// Queries and kept trajectories per template.
    pub templates: std::collections::BTreeMap<String, TemplateCounts>,
    /// Teacher requests answered from the response cache.
    pub cache_hits: usize,
    /// Teacher requests sent.
    pub requests: usize,
}

impl TrajectoryReport {
    /// Counts the results of a run; `cache_hits` and `requests` come from the cached model.
    pub fn new(results: &[QueryResult], cache_hits: usize, requests: usize) -> Self {
        let mut r = Self {
            queries: results.len(),
            cache_hits,
            requests,
            ..Default::default()
        };
        for q in results {
            let t = r.templates.entry(q.template.clone()).or_default();
            t.queries += 1;
            r.attempts += q.rejections.len();
            for rej in &q.rejections {
                *r.rejected
                    .entry(rej.reason.as_str().to_owned())
                    .or_insert(0) += 1;
            }
            if q.kept.is_some() {
                t.kept += 1;
                r.kept += 1;
                r.attempts += 1;
                *r.kept_on_attempt.entry(q.rejections.len() + 1).or_insert(0) += 1;
            }
        }
        r
    }

    /// Failed attempts, all reasons together.
    pub fn failed_attempts(&self) -> usize {
        self.rejected.values().sum()
    }
}

/// A model that counts its calls against a budget.
struct Budgeted<'a, M: ChatModel + ?Sized> {
    inner: &'a M,
    left: Mutex<usize>,
}

impl<M: ChatModel + ?Sized> ChatModel for Budgeted<'_, M> {
    fn chat(
        &self,
        request: &ChatRequest,
    ) -> agentune_runtime::Result<agentune_runtime::model::ChatResponse> {
        {
            let mut left = self
                .left
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *left == 0 {
                return Err(agentune_runtime::Error::Http {
                    url: "(teacher)".into(),
                    message: "the call budget of this query is spent".into(),
                });
            }
            *left -= 1;
        }
        self.inner.chat(request)
    }
}

impl<M: ChatModel + ?Sized> Budgeted<'_, M> {
    fn left(&self) -> usize {
        *self
            .left
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Format check: every recorded reply parses strictly into the step it was read as.
pub fn check_format(t: &Template, traj: &Trajectory) -> std::result::Result<(), String> {
    for (i, s) in traj.steps.iter().enumerate() {
        let Some(reply) = &s.reply else {
            return Err(format!("step {i} has no recorded reply"));
        };
        if t.native_tools() {
            continue;
        }
        let got = t
            .parse(reply, ParseMode::Strict)
            .map_err(|e| format!("step {i}: {e}"))?;
        let want = t.canonical(&s.step).map_err(|e| format!("step {i}: {e}"))?;
        if got != want {
            return Err(format!("step {i}: the reply reads as another step"));
        }
    }
    if let Some(c) = traj
        .checks
        .iter()
        .find(|c| c.check == "format" && !c.passed)
    {
        return Err(c
            .message
            .clone()
            .unwrap_or_else(|| "an unreadable reply".into()));
    }
    Ok(())
}

/// Execution check: every call valid against its schema and executed without error, or the
/// error handled by a later calling step of the same attempt.
pub fn check_execution(tools: &ToolRegistry, traj: &Trajectory) -> std::result::Result<(), String> {
    for attempt in traj.attempts() {
        for (i, s) in attempt.iter().enumerate() {
            for (call, obs) in s.step.calls().iter().zip(&s.observations) {
                if let Err(e) = tools.check_call(call) {
                    return Err(format!("call `{}`: {e}", call.name));
                }
                if obs.is_error {
                    let handled = attempt[i + 1..]
                        .iter()
                        .any(|later| !later.step.calls().is_empty());
                    if !handled {
                        return Err(format!(
                            "call `{}` failed ({}) and the error was not handled",
                            call.name, obs.content
                        ));
                    }
                }
            }
            if s.step.calls().len() != s.observations.len() {
                return Err(format!("step {i}: calls and observations do not pair up"));
            }
        }
    }
    Ok(())
}

fn normalise(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || *c == '.' || *c == '-')
        .collect()
}

fn numbers(text: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '.' && !cur.is_empty()) || (c == '-' && cur.is_empty()) {
            cur.push(c);
        } else if c == ',' && !cur.is_empty() {
            continue;
        } else {
            if let Ok(x) = cur.trim_end_matches('.').parse::<f64>() {
                out.push(x);
            }
            cur.clear();
        }
    }
    out
}

/// Whether an answer matches a gold answer: the normalised gold text is contained in the
/// answer, or every number of the gold answer appears in it.
pub fn matches_gold(answer: &str, gold: &str) -> bool {
    let (a, g) = (normalise(answer), normalise(gold));
    if !g.is_empty() && a.contains(&g) {
        return true;
    }
    let gold_numbers = numbers(gold);
    let answer_numbers = numbers(answer);
    !gold_numbers.is_empty()
        && gold_numbers.iter().all(|g| {
            answer_numbers
                .iter()
                .any(|a| (a - g).abs() <= 1e-6 * g.abs().max(1.0))
        })
}

/// Semantic check: the gold answer when there is one, else the judge.
pub fn check_semantic<M: ChatModel + ?Sized>(
    judge: &M,
    settings: &TrajectorySettings,
    traj: &Trajectory,
    gold: Option<&str>,
) -> std::result::Result<(), String> {
    let Some(answer) = traj.final_answer() else {
        return Err("no final answer".into());
    };
    if let Some(gold) = gold {
        return if matches_gold(answer, gold) {
            Ok(())
        } else {
            Err(format!(
                "the answer {answer:?} does not match the gold answer {gold:?}"
            ))
        };
    }
    let results: Vec<String> = traj
        .steps
        .iter()
        .flat_map(|s| {
            s.step.calls().iter().zip(&s.observations).map(|(c, o)| {
                format!(
                    "- {}({}) -> {}",
                    c.name,
                    serde_json::Value::Object(c.arguments.clone()),
                    o.content
                )
            })
        })
        .collect();
    let results = if results.is_empty() {
        "(no tool was called)".to_owned()
    } else {
        results.join("\n")
    };
    let user = settings
        .judge_user
        .replace("{query}", &traj.query)
        .replace("{results}", &results)
        .replace("{answer}", answer);
    let mut request = ChatRequest::new(vec![
        Message::system(settings.judge_system.clone()),
        Message::user(user),
    ]);
    request.temperature = Some(0.0);
    request.max_tokens = Some(128);
    let reply = judge
        .chat(&request)
        .map_err(|e| format!("the judge could not be asked: {e}"))?;
    let text = reply.message.content_str().trim().to_owned();
    let first: String = text
        .chars()
        .skip_while(|c| !c.is_alphanumeric())
        .take_while(|c| c.is_alphanumeric())
        .collect();
    match first.to_ascii_uppercase().as_str() {
        "YES" => Ok(()),
        "NO" => Err(format!("the judge said no: {text}")),
        _ => Err(format!("the judge's reply is neither YES nor NO: {text:?}")),
    }
}

/// A short account of a failed attempt for the next one.
fn failure_note(traj: &Trajectory, reason: &str) -> String {
    let mut lines = vec![format!(
        "An earlier attempt at this task failed ({reason}). What it did:"
    )];
    for s in &traj.steps {
        match &s.step {
            Step::ToolCalls { calls, .. } => {
                for (c, o) in calls.iter().zip(&s.observations) {
                    lines.push(format!(
                        "- called {}({}) -> {}",
                        c.name,
                        serde_json::Value::Object(c.arguments.clone()),
                        o.content.chars().take(200).collect::<String>()
                    ));
                }
            }
            Step::FinalAnswer { answer, .. } => lines.push(format!("- answered: {answer}")),
            Step::GiveUp { .. } => lines.push("- gave up".into()),
        }
    }
    lines.push("Avoid what went wrong and solve the task again from the start.".into());
    lines.join("\n")
}

/// Runs the teacher on one query under one template, with retries.
pub fn teach_one<M: ChatModel + ?Sized>(
    model: &M,
    teacher_name: &str,
    tools: &ToolRegistry,
    template: &Template,
    query: &SeedQuery,
    settings: &TrajectorySettings,
) -> QueryResult {
    let budget = Budgeted {
        inner: model,
        left: Mutex::new(settings.call_budget),
    };
    let mut rejections = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for attempt in 0..settings.attempts.max(1) {
        if budget.left() == 0 {
            break;
        }
        let config = AgentConfig {
            max_steps: settings.max_steps.min(budget.left()),
            max_restarts: 0,
            max_format_errors: 1,
            parse_mode: ParseMode::Lenient,
            temperature: settings.temperature,
            max_tokens: settings.max_tokens,
            seed: Some(hash_str(&format!("{}#{attempt}", query.id)) >> 1),
            date: settings.date.clone(),
        };
        // Failed attempts reach the teacher as earlier conversation; the kept trajectory
        // does not carry them.
        let history: Vec<Message> = notes
            .iter()
            .flat_map(|n| {
                [
                    Message::user(n.clone()),
                    Message::assistant("Understood. I will try a different approach."),
                ]
            })
            .collect();
        let reject = |reason: TrajectoryReason, message: String, t: Option<Trajectory>| {
            TrajectoryRejection {
                query_id: query.id.clone(),
                template: template.id().to_owned(),
                attempt,
                reason,
                message,
                trajectory: t,
            }
        };
        let agent = Agent::new(template, tools, &budget).with_config(config);
        let mut traj = match agent.run(&query.query, &history) {
            Ok(t) => t,
            Err(e) => {
                let reason = if budget.left() == 0 {
                    TrajectoryReason::NoAnswer
                } else {
                    TrajectoryReason::Request
                };
                rejections.push(reject(reason, e.to_string(), None));
                break;
            }
        };
        traj.history.clear();
        traj.id = format!("{}-{}", query.id, template.id());
        traj.provenance = Provenance {
            source: "meta-agent/teacher".into(),
            teacher: Some(teacher_name.to_owned()),
            original_id: Some(query.id.clone()),
            seed: None,
            eval_only: false,
        };
        let verdict = if traj.outcome != Outcome::Answered {
            Err((
                TrajectoryReason::NoAnswer,
                format!("the episode ended as {:?}", traj.outcome),
            ))
        } else if let Err(m) = check_format(template, &traj) {
            Err((TrajectoryReason::Format, m))
        } else if let Err(m) = check_execution(tools, &traj) {
            Err((TrajectoryReason::Execution, m))
        } else if let Err(m) = check_semantic(&budget, settings, &traj, query.answer.as_deref()) {
            Err((TrajectoryReason::Semantic, m))
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                for check in ["format", "execution", "semantic"] {
                    traj.checks.push(Check {
                        check: check.into(),
                        passed: true,
                        step: None,
                        message: None,
                    });
                }
                return QueryResult {
                    template: template.id().to_owned(),
                    kept: Some(traj),
                    rejections,
                };
            }
            Err((reason, message)) => {
                notes.push(failure_note(&traj, &message));
                traj.checks.push(Check {
                    check: reason.as_str().into(),
                    passed: false,
                    step: None,
                    message: Some(message.clone()),
                });
                rejections.push(reject(reason, message, Some(traj)));
            }
        }
    }
    QueryResult {
        template: template.id().to_owned(),
        kept: None,
        rejections,
    }
}

/// Runs the teacher on every query, `concurrency` at a time; query `i` uses template
/// `templates[hash(query id) % len]`. `progress` is called after each query.
#[allow(clippy::too_many_arguments)]
pub fn teach_all<M: ChatModel + Sync + ?Sized>(
    model: &M,
    teacher_name: &str,
    tools: &ToolRegistry,
    templates: &[Template],
    queries: &[SeedQuery],
    settings: &TrajectorySettings,
    concurrency: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<QueryResult>> {
    if templates.is_empty() {
        return Err(Error::Invalid(
            "no template to run the teacher under".into(),
        ));
    }
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<QueryResult>>> = Mutex::new(vec![None; queries.len()]);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, queries.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let Ok(mut n) = next.lock() else { return };
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(q) = queries.get(i) else { return };
                    let t = &templates[(hash_str(&q.id) % templates.len() as u64) as usize];
                    let r = teach_one(model, teacher_name, tools, t, q, settings);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                    progress();
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::Invalid("a teacher worker panicked".into()))?;
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentune_runtime::model::ScriptedModel;
    use agentune_schema::{Observation, ToolCall, TrajectoryStep};

    fn registry() -> (tempfile::TempDir, ToolRegistry) {
        let dir = tempfile::tempdir().unwrap();
        let reg = ToolRegistry::builtin(dir.path()).unwrap();
        (dir, reg)
    }

    fn q(id: &str, text: &str, answer: Option<&str>) -> SeedQuery {
        SeedQuery {
            id: id.into(),
            query: text.into(),
            answer: answer.map(str::to_owned),
        }
    }

    const CALC: &str =
        "Thought: Compute it.\nAction: calculator\nAction Input: {\"expression\": \"17 * 23 + 4\"}";

    #[test]
    fn a_correct_run_is_kept_with_its_checks() {
        let (_d, tools) = registry();
        let t = Template::builtin("react").unwrap();
        let model =
            ScriptedModel::from_texts([CALC, "Thought: Done.\nFinal Answer: 17 * 23 + 4 = 395."]);
        let r = teach_one(
            &model,
            "teacher",
            &tools,
            &t,
            &q("m1", "Compute 17 * 23 + 4", Some("395")),
            &TrajectorySettings::default(),
        );
        let kept = r.kept.unwrap();
        assert!(r.rejections.is_empty());
        assert_eq!(kept.final_answer(), Some("17 * 23 + 4 = 395."));
        assert!(
            kept.steps[0].observations[0].content.contains("395"),
            "{}",
            kept.steps[0].observations[0].content
        );
        assert_eq!(kept.checks.iter().filter(|c| c.passed).count(), 3);
        assert_eq!(kept.provenance.teacher.as_deref(), Some("teacher"));
        assert!(kept.history.is_empty());
    }

    #[test]
    fn a_wrong_answer_is_retried_with_the_failure_shown_and_rejections_kept() {
        let (_d, tools) = registry();
        let t = Template::builtin("react").unwrap();
        let model = ScriptedModel::from_texts([
            CALC,
            "Thought: Done.\nFinal Answer: It is 400.",
            CALC,
            "Thought: Done.\nFinal Answer: 395",
        ]);
        let r = teach_one(
            &model,
            "t",
            &tools,
            &t,
            &q("m1", "Compute 17 * 23 + 4", Some("395")),
            &TrajectorySettings::default(),
        );
        assert!(r.kept.is_some());
        assert_eq!(r.rejections.len(), 1);
        assert_eq!(r.rejections[0].reason, TrajectoryReason::Semantic);
        // The retry's prompt shows the failed attempt.
        let third = &model.requests()[2];
        let text: String = third.messages.iter().map(|m| m.content_str()).collect();
        assert!(
            text.contains("An earlier attempt") && text.contains("It is 400"),
            "{text}"
        );
    }

    #[test]
    fn the_report_counts_attempts_reasons_and_templates() {
        let (_d, tools) = registry();
        let t = Template::builtin("react").unwrap();
        let model = ScriptedModel::from_texts([
            CALC,
            "Thought: Done.\nFinal Answer: It is 400.",
            CALC,
            "Thought: Done.\nFinal Answer: 395",
            "no format at all",
            "still nothing",
            "no format at all",
            "still nothing",
        ]);
        let settings = TrajectorySettings {
            attempts: 2,
            ..Default::default()
        };
        let results = vec![
            teach_one(
                &model,
                "t",
                &tools,
                &t,
                &q("a", "Compute 17 * 23 + 4", Some("395")),
                &settings,
            ),
            teach_one(&model, "t", &tools, &t, &q("b", "hi", Some("x")), &settings),
        ];
        let r = TrajectoryReport::new(&results, 1, 6);
        assert_eq!((r.queries, r.kept, r.attempts), (2, 1, 4));
        assert_eq!(r.rejected.get("semantic"), Some(&1));
        assert_eq!(r.rejected.get("no_answer"), Some(&2), "{:?}", r.rejected);
        assert_eq!(r.failed_attempts(), 3);
        assert_eq!(r.kept_on_attempt.get(&2), Some(&1));
        assert_eq!(
            r.templates.get("react"),
            Some(&TemplateCounts {
                queries: 2,
                kept: 1
            })
        );
        assert_eq!((r.cache_hits, r.requests), (1, 6));
    }

    #[test]
    fn the_budget_bounds_the_retries() {
        let (_d, tools) = registry();
        let t = Template::builtin("react").unwrap();
        let model = ScriptedModel::from_texts(["garbage"; 40]);
        let settings = TrajectorySettings {
            attempts: 5,
            call_budget: 6,
            ..Default::default()
        };
        let r = teach_one(&model, "t", &tools, &t, &q("x", "hi", None), &settings);
        assert!(r.kept.is_none());
        assert!(model.requests().len() <= 6, "{}", model.requests().len());
        assert!(
            r.rejections
                .iter()
                .all(|x| x.reason == TrajectoryReason::NoAnswer)
        );
    }

    fn traj(steps: Vec<TrajectoryStep>) -> Trajectory {
        Trajectory {
            schema_version: Default::default(),
            id: "t".into(),
            query: "q".into(),
            history: Vec::new(),
            tools: Vec::new(),
            steps,
            outcome: Outcome::Answered,
            template_id: None,
            meta: None,
            provenance: Provenance::source("test"),
            checks: Vec::new(),
        }
    }

    fn call(name: &str, args: serde_json::Value) -> ToolCall {
        ToolCall::new(name, args.as_object().cloned().unwrap())
    }

    fn obs(content: &str, is_error: bool) -> Observation {
        Observation {
            tool_call_id: None,
            name: "calculator".into(),
            content: content.into(),
            is_error,
        }
    }

    fn answer(text: &str) -> TrajectoryStep {
        let mut s = TrajectoryStep::new(Step::FinalAnswer {
            thought: Some("Done.".into()),
            answer: text.into(),
        });
        s.reply = Some(format!("Thought: Done.\nFinal Answer: {text}"));
        s
    }

    #[test]
    fn the_format_check_reads_every_reply_strictly() {
        let t = Template::builtin("react").unwrap();
        let good = traj(vec![answer("4")]);
        assert!(check_format(&t, &good).is_ok());
        let mut sloppy = good.clone();
        sloppy.steps[0].reply = Some("thought: Done.\nfinal answer: 4".into());
        assert!(check_format(&t, &sloppy).unwrap_err().contains("step 0"));
        let mut none = good;
        none.steps[0].reply = None;
        assert!(check_format(&t, &none).is_err());
    }

    #[test]
    fn the_execution_check_wants_valid_calls_and_handled_errors() {
        let (_d, tools) = registry();
        let ok_call = TrajectoryStep::new(Step::ToolCalls {
            thought: None,
            calls: vec![call("calculator", serde_json::json!({"expression": "2+2"}))],
        })
        .with_observations(vec![obs("4", false)]);
        assert!(check_execution(&tools, &traj(vec![ok_call.clone(), answer("4")])).is_ok());
        let bad_args = TrajectoryStep::new(Step::ToolCalls {
            thought: None,
            calls: vec![call("calculator", serde_json::json!({"expr": "2+2"}))],
        })
        .with_observations(vec![obs("error: invalid arguments", true)]);
        let e = check_execution(
            &tools,
            &traj(vec![bad_args.clone(), ok_call.clone(), answer("4")]),
        )
        .unwrap_err();
        assert!(e.contains("invalid arguments"), "{e}");
        let failed = TrajectoryStep::new(Step::ToolCalls {
            thought: None,
            calls: vec![call("calculator", serde_json::json!({"expression": "1/0"}))],
        })
        .with_observations(vec![obs("error: division by zero", true)]);
        assert!(
            check_execution(&tools, &traj(vec![failed.clone(), answer("oops")]))
                .unwrap_err()
                .contains("not handled")
        );
        assert!(check_execution(&tools, &traj(vec![failed, ok_call, answer("4")])).is_ok());
    }

    #[test]
    fn the_semantic_check_uses_the_gold_answer_or_the_judge() {
        assert!(matches_gold("The result is 1,003.", "1003"));
        assert!(matches_gold("Paris, France", "paris"));
        assert!(!matches_gold("It is 400", "395"));
        assert!(!matches_gold("no numbers", "395"));
        let s = TrajectorySettings::default();
        let t = traj(vec![answer("Light rain in Paris.")]);
        let nobody = ScriptedModel::from_texts(Vec::<String>::new());
        assert!(check_semantic(&nobody, &s, &t, Some("light rain")).is_ok());
        let yes = ScriptedModel::from_texts(["YES. It matches the forecast."]);
        assert!(check_semantic(&yes, &s, &t, None).is_ok());
        assert!(
            yes.requests()[0].messages[1]
                .content_str()
                .contains("Light rain in Paris.")
        );
        let no = ScriptedModel::from_texts(["**NO** - it ignores the date."]);
        assert!(
            check_semantic(&no, &s, &t, None)
                .unwrap_err()
                .contains("judge said no")
        );
        let vague = ScriptedModel::from_texts(["Maybe."]);
        assert!(
            check_semantic(&vague, &s, &t, None)
                .unwrap_err()
                .contains("neither")
        );
    }
}
