//! `cargo xtask eval judge`: ToolEval-style LLM judging of `eval episodes` outputs through
//! an OpenAI-compatible judge (or a model run in-process): the pass rate of a checkpoint's
//! answers and, with `--versus`, the win rate of another checkpoint's answers over them; each
//! item judged `--k` times, rates reported as mean and standard deviation over the rounds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use agentune_eval::judge::{self, JudgeItem};
use agentune_runtime::model::ChatRequest;
use agentune_schema::{EvalRecord, JsonlReader};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// Options of `cargo xtask eval judge`.
#[derive(Debug, clap::Args)]
pub struct JudgeArgs {
    /// The checkpoint's `episodes.jsonl` (written by `eval episodes`).
    episodes: PathBuf,
    /// Another checkpoint's `episodes.jsonl`: its win rate over the first is judged too.
    #[arg(long)]
    versus: Option<PathBuf>,
    /// The judge: `--endpoint URL --model NAME` (an OpenAI-compatible API) or `--local MODEL`
    /// (in-process).
    #[command(flatten)]
    judge: crate::replies::ModelArgs,
    /// Judgements per item (rounds, each with its own sampling seed).
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// The judge's sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    temperature: f64,
    /// Seed of the rounds' sampling and of the order answers are shown in.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Do not show the gold answer to the judge.
    #[arg(long)]
    no_reference: bool,
    /// Only the first N items.
    #[arg(long)]
    limit: Option<usize>,
    /// Output folder for judgements.jsonl and judge_summary.json.
    #[arg(long)]
    out: PathBuf,
}

/// The judgeable items of an episodes file (failed episodes left out), and its model name.
fn read_items(path: &Path, reference: bool) -> Result<(Vec<JudgeItem>, String)> {
    let mut reader = JsonlReader::<EvalRecord>::open(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut items = Vec::new();
    let mut model = String::new();
    while let Some(r) = reader.next() {
        let line = reader.line();
        let r = r?;
        if r.error
            .as_deref()
            .is_some_and(|e| !e.starts_with("episode ended"))
        {
            continue;
        }
        let expected = r.expected.as_ref();
        let query = expected
            .and_then(|e| e.get("query"))
            .and_then(Value::as_str)
            .with_context(|| {
                format!(
                    "{}:{line}: expected.query: missing (an episodes file of `eval episodes` \
                     names the query of each item)",
                    path.display()
                )
            })?;
        model.clone_from(&r.model);
        items.push(JudgeItem {
            id: r.id,
            query: query.to_owned(),
            answer: r.response.filter(|a| !a.trim().is_empty()),
            reference: expected
                .and_then(|e| e.get("answer"))
                .and_then(Value::as_str)
                .filter(|_| reference)
                .map(str::to_owned),
        });
    }
    Ok((items, model))
}

/// What one request is for.
enum Ask {
    /// Pass verdict of item `i` of set `set` (0: episodes, 1: versus).
    Pass { set: usize, i: usize },
    /// Pairwise judgement of item `i` of the episodes against its versus twin.
    Pair { i: usize, challenger_first: bool },
}

/// `cargo xtask eval judge`.
pub fn run(a: &JudgeArgs) -> Result<()> {
    if a.k == 0 {
        bail!("--k must be at least 1");
    }
    let (mut base, base_name) = read_items(&a.episodes, !a.no_reference)?;
    if let Some(n) = a.limit {
        base.truncate(n);
    }
    if base.is_empty() {
        bail!("{} has no episode to judge", a.episodes.display());
    }
    let versus = a
        .versus
        .as_deref()
        .map(|p| read_items(p, !a.no_reference))
        .transpose()?;
    let challenger: HashMap<&str, &JudgeItem> = versus
        .as_ref()
        .map(|(items, _)| items.iter().map(|i| (i.id.as_str(), i)).collect())
        .unwrap_or_default();
    let challenger_items: Vec<JudgeItem> = base
        .iter()
        .filter_map(|i| challenger.get(i.id.as_str()).map(|c| (*c).clone()))
        .collect();
    let sets: Vec<&[JudgeItem]> = if versus.is_some() {
        vec![&base, &challenger_items]
    } else {
        vec![&base]
    };

    let backend = a
        .judge
        .backend()?
        .context("give --endpoint URL --model NAME, or --local MODEL")?;

    // Every question of every round; a pair where only one side answered is decided without
    // asking (an answer beats none), one where neither did is left out.
    let mut requests: Vec<ChatRequest> = Vec::new();
    let mut asks: Vec<(usize, Ask)> = Vec::new();
    let mut decided: Vec<Vec<Option<f64>>> = vec![vec![None; base.len()]; a.k];
    for (round, decided) in decided.iter_mut().enumerate() {
        let seed = a.seed.wrapping_add(round as u64);
        for (set, items) in sets.iter().enumerate() {
            for (i, item) in items.iter().enumerate() {
                // No answer is unsolved without asking.
                if item.answer.is_some() {
                    requests.push(judge::pass_request(item, seed, a.temperature));
                    asks.push((round, Ask::Pass { set, i }));
                }
            }
        }
        if versus.is_none() {
            continue;
        }
        for (i, item) in base.iter().enumerate() {
            let Some(c) = challenger.get(item.id.as_str()) else {
                continue;
            };
            match (&item.answer, &c.answer) {
                (Some(x), Some(y)) => {
                    let first = judge::challenger_first(a.seed, round, i);
                    let (sa, sb) = if first { (y, x) } else { (x, y) };
                    requests.push(judge::pair_request(
                        &item.query,
                        item.reference.as_deref(),
                        sa,
                        sb,
                        seed,
                        a.temperature,
                    ));
                    asks.push((
                        round,
                        Ask::Pair {
                            i,
                            challenger_first: first,
                        },
                    ));
                }
                (None, Some(_)) => decided[i] = Some(1.0),
                (Some(_), None) => decided[i] = Some(0.0),
                (None, None) => {}
            }
        }
    }

    let (results, stats) = a.judge.answer_all(&backend, &requests, "judgements")?;
    let judge_name = &backend.1;
    if !requests.is_empty() && stats.failed == requests.len() {
        let first = results
            .iter()
            .find_map(|r| r.as_ref().err().cloned())
            .unwrap_or_default();
        bail!("every judgement failed: {first}");
    }

    let mut pass: Vec<Vec<Vec<Option<f64>>>> = sets
        .iter()
        .map(|items| {
            let unanswered: Vec<Option<f64>> = items
                .iter()
                .map(|i| i.answer.is_none().then_some(0.0))
                .collect();
            vec![unanswered; a.k]
        })
        .collect();
    let mut pair: Vec<Vec<Option<f64>>> = decided;
    let mut rows: Vec<Value> = Vec::with_capacity(requests.len());
    for ((round, ask), result) in asks.iter().zip(&results) {
        let reply = match result {
            Ok(r) => r.message.content.clone().unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "judgement failed");
                String::new()
            }
        };
        match ask {
            Ask::Pass { set, i } => {
                let verdict = judge::parse_pass(&reply);
                pass[*set][*round][*i] = verdict.map(|v| if v { 1.0 } else { 0.0 });
                rows.push(json!({
                    "id": sets[*set][*i].id, "round": round,
                    "kind": if *set == 0 { "pass" } else { "pass_versus" },
                    "solved": verdict, "reply": reply, "error": result.as_ref().err(),
                }));
            }
            Ask::Pair {
                i,
                challenger_first,
            } => {
                let preference = judge::parse_preference(&reply);
                pair[*round][*i] =
                    preference.map(|p| judge::challenger_score(p, *challenger_first));
                rows.push(json!({
                    "id": base[*i].id, "round": round, "kind": "pair",
                    "challenger_first": challenger_first, "preferred": preference,
                    "challenger_score": pair[*round][*i], "reply": reply,
                    "error": result.as_ref().err(),
                }));
            }
        }
    }
    let mut pass_rates = serde_json::Map::new();
    pass_rates.insert(base_name.clone(), json!(judge::judged_rate(&pass[0])));
    let mut summary = json!({
        "judge": judge_name,
        "k": a.k,
        "temperature": a.temperature,
        "seed": a.seed,
        "reference_shown": !a.no_reference,
        "items": base.len(),
        "replies": {"cached": stats.cached, "generated": stats.generated, "failed": stats.failed},
    });
    let mut text = format!(
        "judge {judge_name}, {} items x {} rounds ({} replies cached, {} generated, {} failed)\n",
        base.len(),
        a.k,
        stats.cached,
        stats.generated,
        stats.failed
    );
    let describe = |r: &Option<judge::JudgedRate>| match r {
        Some(r) => format!(
            "{:.3} +- {:.3} ({} judged, {} unreadable)",
            r.mean, r.std, r.judged, r.unreadable
        ),
        None => "no readable judgement".to_owned(),
    };
    text.push_str(&format!(
        "pass rate {base_name}: {}\n",
        describe(&judge::judged_rate(&pass[0]))
    ));
    if let Some((_, versus_name)) = &versus {
        let rate = judge::judged_rate(&pass[1]);
        text.push_str(&format!("pass rate {versus_name}: {}\n", describe(&rate)));
        pass_rates.insert(versus_name.clone(), json!(rate));
        let win = judge::judged_rate(&pair);
        text.push_str(&format!(
            "win rate of {versus_name} over {base_name}: {}\n",
            describe(&win)
        ));
        summary["versus"] = json!(versus_name);
        summary["paired_items"] = json!(challenger_items.len());
        summary["win_rate"] = json!(win);
    }
    summary["pass_rate"] = Value::Object(pass_rates);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("judgements.jsonl"), &rows)?;
    let mut body = serde_json::to_string_pretty(&summary)?;
    body.push('\n');
    agentune_schema::write_atomic(a.out.join("judge_summary.json"), body.as_bytes())?;
    crate::print_stdout(text.trim_end())
}
