//! `cargo xtask eval kagent`: KAgentBench-style scoring. Reads items in the KAgentBench
//! layout and replies (a `{"id", "text"}` JSONL file, or generated first through an
//! OpenAI-compatible endpoint, cached), scores planning, tool use, reflection, concluding and
//! profile, and writes per-item eval records, a summary with the weighted overall score and
//! a table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agentune_eval::kagent::{self, Ability};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval kagent`.
#[derive(Debug, clap::Args)]
pub struct KagentArgs {
    /// The benchmark items (JSONL as `benchmark_eval.jsonl`, or a JSON array).
    #[arg(long)]
    data: PathBuf,
    /// Replies: JSONL of {"id", "text"}, or the benchmark's own inference output (lines with
    /// `model_predict`; one item's replies to several prompt templates are averaged).
    #[arg(
        long,
        required_unless_present = "endpoint",
        conflicts_with = "endpoint"
    )]
    responses: Option<PathBuf>,
    /// Generate the replies first with this OpenAI-compatible endpoint; they are written to
    /// OUTDIR/responses.jsonl.
    #[arg(long, requires = "model")]
    endpoint: Option<String>,
    /// The model name sent to the endpoint (and the model named in the records).
    #[arg(long)]
    model: Option<String>,
    /// Environment variable holding the endpoint's API key, if it needs one.
    #[arg(long)]
    api_key_env: Option<String>,
    /// Which of an item's rendered prompts (`prompt_input`) is sent: KuaiAgent, ReACT,
    /// AutoGPT, ToolLlama or ModelScope (profile items have only one).
    #[arg(long, default_value = "KuaiAgent")]
    prompt_key: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Most tokens generated per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Request timeout in seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Only the first N items (quick looks).
    #[arg(long)]
    limit: Option<usize>,
    /// The response cache (default: data/cache/eval/responses.jsonl).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Output folder for kagent.jsonl (eval records) and kagent_summary.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: &KagentArgs) -> Result<()> {
    let mut items = kagent::load_items(&a.data)
        .with_context(|| format!("cannot read KAgentBench items {}", a.data.display()))?;
    if let Some(n) = a.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!("{} has no item", a.data.display());
    }
    let (replies, model) = match (&a.responses, &a.endpoint) {
        (Some(path), _) => (
            kagent::read_responses(path)
                .with_context(|| format!("cannot read replies {}", path.display()))?,
            a.model.clone().unwrap_or_else(|| "responses".into()),
        ),
        (None, Some(url)) => {
            let name = a.model.clone().context("--endpoint needs --model")?;
            (generate(a, url, &name, &items)?, name)
        }
        (None, None) => bail!("give --responses FILE or --endpoint URL --model NAME"),
    };
    let (scored, summary) = kagent::score_all(&items, &replies);
    if summary.missing == items.len() {
        bail!("no reply answers an item of {}", a.data.display());
    }
    if summary.missing > 0 {
        tracing::warn!(
            missing = summary.missing,
            "items without a reply were scored 0"
        );
    }
    if summary.unknown_ids > 0 {
        tracing::warn!(
            count = summary.unknown_ids,
            "replies with ids that are not items of the data were ignored"
        );
    }
    let records: Vec<agentune_schema::EvalRecord> = scored
        .iter()
        .flat_map(|s| kagent::records(&items[s.index], s, &model))
        .collect();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("kagent.jsonl"), &records)
        .context("cannot write kagent.jsonl")?;
    let mut text = serde_json::to_string_pretty(&summary)?;
    text.push('\n');
    agentune_schema::write_atomic(a.out.join("kagent_summary.json"), text.as_bytes())
        .context("cannot write kagent_summary.json")?;
    let mut table =
        String::from("| ability | score | items | missing | weight |\n|---|---|---|---|---|\n");
    for ability in Ability::ALL {
        if let Some(s) = summary.abilities.get(ability.name()) {
            table.push_str(&format!(
                "| {} | {:.2} | {} | {} | {:.2} |\n",
                ability.name(),
                100.0 * s.score,
                s.items,
                s.missing,
                s.weight
            ));
        }
    }
    table.push_str(&format!(
        "| **overall** | {:.2} | {} | {} | |\n",
        100.0 * summary.overall,
        summary.items,
        summary.missing
    ));
    crate::print_stdout(table.trim_end())
}

/// Sends every item's prompt (one user message) to the endpoint, cached, writes the replies
/// to OUTDIR/responses.jsonl and returns them by item id.
fn generate(
    a: &KagentArgs,
    url: &str,
    name: &str,
    items: &[kagent::KagentItem],
) -> Result<BTreeMap<String, Vec<String>>> {
    use agentune_eval::generate::{ResponseCache, generate_all};
    use agentune_runtime::model::{ChatRequest, OpenAiClient};
    use agentune_schema::Message;
    let mut client = OpenAiClient::new(url, name).with_timeout(Duration::from_secs(a.timeout_s));
    if let Some(var) = &a.api_key_env {
        client = client.with_api_key_env(var)?;
    }
    let requests: Vec<ChatRequest> = items
        .iter()
        .map(|item| {
            let mut r = ChatRequest::new(vec![Message::user(item.prompt(&a.prompt_key))]);
            r.temperature = Some(0.0);
            r.max_tokens = Some(a.max_tokens);
            r
        })
        .collect();
    let cache_path = a
        .cache
        .clone()
        .unwrap_or_else(|| crate::workspace_root().join("data/cache/eval/responses.jsonl"));
    let cache = ResponseCache::open(&cache_path)
        .with_context(|| format!("cannot open the response cache {}", cache_path.display()))?;
    let bar = indicatif::ProgressBar::new(requests.len() as u64);
    let (results, stats) = generate_all(
        &client,
        name,
        &requests,
        a.concurrency,
        Some(&cache),
        &|| bar.inc(1),
    );
    bar.finish_and_clear();
    tracing::info!(
        cached = stats.cached,
        generated = stats.generated,
        failed = stats.failed,
        "replies"
    );
    if stats.failed == requests.len() {
        bail!("every request to {url} failed");
    }
    let mut replies = BTreeMap::new();
    let mut rows = Vec::new();
    for (item, r) in items.iter().zip(results) {
        match r {
            Ok(resp) => {
                let text = resp.message.content_str().to_owned();
                rows.push(serde_json::json!({"id": item.id, "text": text}));
                replies.insert(item.id.clone(), vec![text]);
            }
            Err(e) => tracing::warn!(id = %item.id, error = %e, "no reply"),
        }
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("responses.jsonl"), &rows)
        .context("cannot write the replies")?;
    Ok(replies)
}
