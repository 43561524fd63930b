//! `cargo xtask eval ...`: evaluation commands. `eval bfcl` scores responses to BFCL's
//! single-turn categories with our AST checker and writes per-case verdicts and a summary.

use std::path::PathBuf;

use agentune_eval::bfcl::{self, CheckOptions};
use agentune_runtime::Template;
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: EvalCommand,
}

#[derive(Debug, clap::Subcommand)]
enum EvalCommand {
    /// Score responses to BFCL's single-turn categories (AST checking, irrelevance, relevance).
    Bfcl(BfclArgs),
    /// Held-out step metrics (teacher forcing) of replies to a test split's assistant turns.
    Steps(StepsArgs),
    /// Compare eval outputs of several checkpoints: Markdown, JSON and PNG charts, with paired
    /// bootstrap intervals of every difference from the first.
    Report(crate::eval_report::ReportArgs),
    /// Episode metrics: the agent loop with the built-in tools over held-out records, final
    /// answers scored against the gold ones.
    Episodes(crate::eval_episodes::EpisodesArgs),
    /// Forgetting check: perplexity of general-data reference answers and similarity of the
    /// models' own answers, base vs tuned, in-process; flags a regression.
    Forgetting(crate::eval_forgetting::ForgettingArgs),
    /// LLM-judged pass rate of episode answers and win rate against another checkpoint's,
    /// each item judged k times (mean and standard deviation).
    Judge(crate::eval_judge::JudgeArgs),
    /// KAgentBench-style scoring: planning, tool use, reflection, concluding and profile
    /// (ROUGE-L F1, Chinese per character) and the weighted overall score.
    Kagent(crate::eval_kagent::KagentArgs),
}

#[derive(Debug, clap::Args)]
struct StepsArgs {
    /// Held-out samples (JSONL of samples, e.g. the test split the data commands wrote).
    #[arg(long)]
    samples: PathBuf,
    /// Replies: JSONL of {"id": "<sample id>#<turn>", "text"} or {"id", "message"}.
    #[arg(
        long,
        required_unless_present_any = ["endpoint", "local"],
        conflicts_with_all = ["endpoint", "local"]
    )]
    responses: Option<PathBuf>,
    #[command(flatten)]
    model: crate::replies::ModelArgs,
    /// Most tokens generated per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Template for every sample (default: each sample's own `template_id`).
    #[arg(long)]
    template: Option<String>,
    /// Template files, folders or patterns whose ids the samples may name besides the shipped
    /// ones (e.g. templates a meta-agent wrote), comma-separated.
    #[arg(long, value_delimiter = ',')]
    templates: Vec<String>,
    /// Output folder for steps.jsonl (one eval record per item) and steps_summary.json.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct BfclArgs {
    /// The BFCL data folder (`BFCL_v4_<category>.json` and `possible_answer/`); default:
    /// data/cache/bfcl/data, filled by scripts/fetch_bfcl.sh.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Responses to score: JSONL of {"id", "calls": [{"name", "arguments"}]} or {"id", "text"}.
    /// Without it, the responses are generated first (`--endpoint` or `--local`) and written
    /// to OUTDIR/responses.jsonl.
    #[arg(
        long,
        required_unless_present_any = ["endpoint", "local"],
        conflicts_with_all = ["endpoint", "local"]
    )]
    responses: Option<PathBuf>,
    #[command(flatten)]
    model: crate::replies::ModelArgs,
    /// Sampling temperature sent with each request.
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Most tokens generated per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Only the first N test cases of each category (quick looks).
    #[arg(long)]
    limit: Option<usize>,
    /// The template that decodes `text` responses (built-in id or template file); when the
    /// responses are generated, also the one the prompts are rendered with (default there:
    /// openai, native tool calls; a model run with --local wants its agent template).
    #[arg(long)]
    template: Option<String>,
    /// Only these categories (comma-separated; default: every category with a response).
    #[arg(long, value_delimiter = ',')]
    categories: Option<Vec<String>>,
    /// Write `.` in function names as `_`, in the tools offered and in the names expected (for
    /// endpoints that forbid dots in names).
    #[arg(long)]
    dots_as_underscores: bool,
    /// Output folder for verdicts.jsonl and summary.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    match &args.command {
        EvalCommand::Bfcl(a) => bfcl_cmd(a),
        EvalCommand::Steps(a) => steps_cmd(a),
        EvalCommand::Report(a) => crate::eval_report::run(a),
        EvalCommand::Episodes(a) => crate::eval_episodes::run(a),
        EvalCommand::Forgetting(a) => crate::eval_forgetting::run(a),
        EvalCommand::Judge(a) => crate::eval_judge::run(a),
        EvalCommand::Kagent(a) => crate::eval_kagent::run(a),
    }
}

fn default_data_dir() -> PathBuf {
    crate::workspace_root()
        .join("data")
        .join("cache")
        .join("bfcl")
        .join("data")
}

fn bfcl_cmd(a: &BfclArgs) -> Result<()> {
    let data = a.data.clone().unwrap_or_else(default_data_dir);
    if !data.is_dir() {
        bail!(
            "BFCL data folder {} not found (run scripts/fetch_bfcl.sh, or pass --data)",
            data.display()
        );
    }
    let template = a
        .template
        .as_deref()
        .map(|t| Template::resolve(t).with_context(|| format!("cannot load template `{t}`")))
        .transpose()?;
    let mut entries = bfcl::load(&data, a.categories.as_deref())
        .with_context(|| format!("cannot load BFCL data from {}", data.display()))?;
    if let Some(n) = a.limit {
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        entries.retain(|e| {
            let k = seen.entry(e.category.clone()).or_default();
            *k += 1;
            *k <= n
        });
    }
    let (responses, source) = match (&a.responses, a.model.backend()?) {
        (Some(path), _) => (
            bfcl::read_responses(path, template.as_ref())
                .with_context(|| format!("cannot read responses {}", path.display()))?,
            path.clone(),
        ),
        (None, Some(backend)) => {
            let template = match template {
                Some(t) => t,
                None => Template::builtin("openai")?,
            };
            (
                generate(a, &backend, &template, &entries)?,
                a.out.join("responses.jsonl"),
            )
        }
        (None, None) => {
            bail!("give --responses FILE, --endpoint URL --model NAME or --local MODEL")
        }
    };
    let options = CheckOptions {
        dots_as_underscores: a.dots_as_underscores,
    };
    let report = bfcl::score(&entries, &responses, options);
    if report.summary.unknown_ids > 0 {
        tracing::warn!(
            count = report.summary.unknown_ids,
            "responses with ids that are not test cases of the data were ignored"
        );
    }
    if report.verdicts.is_empty() {
        bail!(
            "no response in {} answers a test case of {}",
            source.display(),
            data.display()
        );
    }
    bfcl::write_report(&a.out, &report)
        .with_context(|| format!("cannot write the report into {}", a.out.display()))?;
    print_summary(&report.summary)
}

/// Generates a reply to every test case (cached), writes them to OUTDIR/responses.jsonl
/// (calls, or the text when there are none) and decodes them.
fn generate(
    a: &BfclArgs,
    backend: &crate::replies::Backend,
    template: &Template,
    entries: &[bfcl::Entry],
) -> Result<Vec<bfcl::Response>> {
    let requests = entries
        .iter()
        .map(|e| {
            bfcl::prompt::request(
                e,
                template,
                Some(a.temperature),
                Some(a.max_tokens),
                a.dots_as_underscores,
            )
            .with_context(|| format!("cannot build the prompt of {}", e.id))
        })
        .collect::<Result<Vec<_>>>()?;
    let (results, stats) = a.model.answer_all(backend, &requests, "replies")?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut responses = Vec::with_capacity(entries.len());
    for (e, r) in entries.iter().zip(results) {
        match r {
            Ok(resp) => {
                let m = &resp.message;
                rows.push(if m.tool_calls.is_empty() {
                    serde_json::json!({"id": e.id, "text": m.content_str()})
                } else {
                    let calls: Vec<serde_json::Value> = m
                        .tool_calls
                        .iter()
                        .map(|c| serde_json::json!({"name": c.name, "arguments": c.arguments}))
                        .collect();
                    serde_json::json!({"id": e.id, "calls": calls})
                });
                responses.push(bfcl::Response {
                    id: e.id.clone(),
                    decoded: bfcl::decode_message(template, m),
                });
            }
            Err(err) => tracing::warn!(id = %e.id, error = %err, "no reply"),
        }
    }
    if stats.failed == requests.len() && !requests.is_empty() {
        bail!(
            "every request to `{}` failed (see the warnings above)",
            backend.1
        );
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("responses.jsonl"), &rows)
        .context("cannot write the responses")?;
    Ok(responses)
}

fn print_summary(s: &bfcl::Summary) -> Result<()> {
    let mut text = String::from("| category | accuracy | correct | total |\n|---|---|---|---|\n");
    for c in bfcl::CATEGORIES {
        if let Some(x) = s.categories.get(*c) {
            text.push_str(&format!(
                "| {c} | {:.2}% | {} | {} |\n",
                100.0 * x.accuracy,
                x.correct,
                x.total
            ));
        }
    }
    for (k, v) in &s.aggregates {
        text.push_str(&format!("| **{k}** | {:.2}% | | |\n", 100.0 * v));
    }
    crate::print_stdout(text.trim_end())
}

fn steps_cmd(a: &StepsArgs) -> Result<()> {
    use agentune_eval::step;
    use std::collections::HashMap;
    let items = step::load_items(&a.samples)
        .with_context(|| format!("cannot read samples {}", a.samples.display()))?;
    if items.is_empty() {
        bail!("{} has no assistant turn to score", a.samples.display());
    }
    let extra = if a.templates.is_empty() {
        None
    } else {
        Some(
            agentune_data::render::TemplateMix::from_specs(&a.templates, &[])
                .context("reading --templates")?,
        )
    };
    let mut templates: HashMap<String, Template> = HashMap::new();
    let mut template_of = |item: &step::StepItem| -> Result<Template> {
        let id = a
            .template
            .clone()
            .or_else(|| item.template_id.clone())
            .with_context(|| {
                format!("{}: the sample names no template; pass --template", item.id)
            })?;
        if let Some(t) = templates.get(&id) {
            return Ok(t.clone());
        }
        if let Some(t) = extra.as_ref().and_then(|m| m.get(&id)) {
            templates.insert(id, t.clone());
            return Ok(t.clone());
        }
        let t = Template::resolve(&id).with_context(|| format!("cannot load template `{id}`"))?;
        templates.insert(id, t.clone());
        Ok(t)
    };
    let backend = match &a.responses {
        Some(_) => None,
        None => Some(
            a.model
                .backend()?
                .context("give --responses FILE, --endpoint URL --model NAME or --local MODEL")?,
        ),
    };
    let replies = match (&a.responses, &backend) {
        (Some(path), _) => step::read_replies(path)
            .with_context(|| format!("cannot read replies {}", path.display()))?,
        (None, Some(backend)) => {
            use agentune_runtime::model::ChatRequest;
            let mut requests = Vec::with_capacity(items.len());
            for item in &items {
                let t = template_of(item)?;
                let mut r = ChatRequest::new(item.prompt.clone());
                if !item.tools.is_empty() {
                    r.tools = Some(item.tools.clone());
                }
                r.temperature = Some(0.0);
                r.max_tokens = Some(a.max_tokens);
                r.stop = t.stop_sequences();
                requests.push(r);
            }
            let (results, _) = a.model.answer_all(backend, &requests, "replies")?;
            items
                .iter()
                .zip(results)
                .filter_map(|(i, r)| r.ok().map(|r| (i.id.clone(), r.message)))
                .collect()
        }
        (None, None) => {
            bail!("give --responses FILE, --endpoint URL --model NAME or --local MODEL")
        }
    };
    let model = match &backend {
        Some((_, name)) => name.clone(),
        None => a.model.model.clone().unwrap_or_else(|| "responses".into()),
    };
    let mut report = step::StepReport::default();
    let mut records = Vec::new();
    let mut missing = 0usize;
    for item in &items {
        let Some(reply) = replies.get(&item.id) else {
            missing += 1;
            continue;
        };
        let t = template_of(item)?;
        let scores = step::score_step(&t, item, reply)?;
        report.add(item, &scores);
        records.push(agentune_schema::EvalRecord {
            schema_version: Default::default(),
            id: item.id.clone(),
            suite: "heldout_step".into(),
            category: Some(item.meta.scenario.clone()),
            model: model.clone(),
            template_id: Some(t.id().to_owned()),
            meta: Some(item.meta.clone()),
            response: Some(reply.content_str().to_owned()),
            parsed: scores.parsed.clone(),
            expected: serde_json::to_value(&item.gold).ok(),
            metrics: scores
                .metrics
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            passed: None,
            error: scores.error.clone(),
            latency_ms: None,
        });
    }
    if records.is_empty() {
        bail!("no reply answers an item of {}", a.samples.display());
    }
    if missing > 0 {
        tracing::warn!(missing, "items without a reply were skipped");
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("steps.jsonl"), &records)?;
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    agentune_schema::write_atomic(a.out.join("steps_summary.json"), text.as_bytes())?;
    let mut table = String::from("| metric | mean | items |\n|---|---|---|\n");
    for (k, m) in &report.overall.metrics {
        table.push_str(&format!("| {k} | {:.4} | {} |\n", m.mean, m.n));
    }
    crate::print_stdout(table.trim_end())
}
