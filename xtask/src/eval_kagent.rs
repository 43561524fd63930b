//! `cargo xtask eval kagent`: KAgentBench-style scoring. Reads items in the KAgentBench
//! layout and replies (a `{"id", "text"}` JSONL file, or generated first through an
//! OpenAI-compatible endpoint or in-process, cached), scores planning, tool use, reflection, concluding and
//! profile, and writes per-item eval records, a summary with the weighted overall score and
//! a table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use agentune_eval::kagent::{self, Ability};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval kagent`.
#[derive(Debug, clap::Args)]
pub struct KagentArgs {
    /// The benchmark items (JSONL as `benchmark_eval.jsonl`, or a JSON array).
    #[arg(long)]
    data: PathBuf,
    /// Replies: JSONL of {"id", "text"}, or the benchmark's own inference output (lines with
    /// `model_predict`; one item's replies to several prompt templates are averaged). Without
    /// it, the replies are generated first (`--endpoint` or `--local`) and written to
    /// OUTDIR/responses.jsonl.
    #[arg(
        long,
        required_unless_present_any = ["endpoint", "local"],
        conflicts_with_all = ["endpoint", "local"]
    )]
    responses: Option<PathBuf>,
    #[command(flatten)]
    model: crate::replies::ModelArgs,
    /// Which of an item's rendered prompts (`prompt_input`) is sent: KuaiAgent, ReACT,
    /// AutoGPT, ToolLlama or ModelScope (profile items have only one).
    #[arg(long, default_value = "KuaiAgent")]
    prompt_key: String,
    /// Most tokens generated per reply.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Only the first N items (quick looks).
    #[arg(long)]
    limit: Option<usize>,
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
    let (replies, model) = match (&a.responses, a.model.backend()?) {
        (Some(path), _) => (
            kagent::read_responses(path)
                .with_context(|| format!("cannot read replies {}", path.display()))?,
            a.model.model.clone().unwrap_or_else(|| "responses".into()),
        ),
        (None, Some(backend)) => (generate(a, &backend, &items)?, backend.1),
        (None, None) => {
            bail!("give --responses FILE, --endpoint URL --model NAME or --local MODEL")
        }
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

/// Sends every item's prompt (one user message) to the model, cached, writes the replies to
/// OUTDIR/responses.jsonl and returns them by item id.
fn generate(
    a: &KagentArgs,
    backend: &crate::replies::Backend,
    items: &[kagent::KagentItem],
) -> Result<BTreeMap<String, Vec<String>>> {
    use agentune_runtime::model::ChatRequest;
    use agentune_schema::Message;
    let requests: Vec<ChatRequest> = items
        .iter()
        .map(|item| {
            let mut r = ChatRequest::new(vec![Message::user(item.prompt(&a.prompt_key))]);
            r.temperature = Some(0.0);
            r.max_tokens = Some(a.max_tokens);
            r
        })
        .collect();
    let (results, stats) = a.model.answer_all(backend, &requests, "replies")?;
    if stats.failed == requests.len() {
        bail!("every request to `{}` failed", backend.1);
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
