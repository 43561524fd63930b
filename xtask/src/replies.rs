//! What every command that asks a model for replies shares: the flags naming the model (an
//! OpenAI-compatible endpoint or a model run in-process), its name in the cache, the requests
//! in flight, the timeout and the response cache; and the one loop that answers a batch of
//! requests through the cache behind a progress bar.

use std::path::PathBuf;

use agentune_eval::generate::{GenerateStats, generate_all};
use agentune_runtime::cache::ChatCache;
use agentune_runtime::model::{ChatModel, ChatRequest, ChatResponse, OpenAiClient};
use anyhow::{Context, Result};

/// The model that answers: `--endpoint URL --model NAME`, or `--local MODEL`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Generate the replies with this OpenAI-compatible endpoint (`http://127.0.0.1:8000/v1`).
    #[arg(long, requires = "model", conflicts_with = "local")]
    pub endpoint: Option<String>,
    /// Generate the replies with this model run in-process instead (`smollm2`, a GGUF file, an
    /// HF folder or a checkpoint), on the CPU.
    #[arg(long)]
    pub local: Option<String>,
    /// The model name sent to the endpoint; with --local, the name in the records and the
    /// cache (default: the model as given).
    #[arg(long)]
    pub model: Option<String>,
    /// Environment variable holding the endpoint's API key, if it needs one.
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Seconds to wait for one reply from the endpoint.
    #[arg(long, default_value_t = 300)]
    pub timeout_s: u64,
    /// The response cache, keyed by (model, request) (default: data/cache/eval/responses.jsonl).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// A model to ask, and its name in cache keys and records.
pub type Backend = (Box<dyn ChatModel + Sync>, String);

impl ModelArgs {
    /// The model the flags name, or None when neither `--endpoint` nor `--local` is given.
    pub fn backend(&self) -> Result<Option<Backend>> {
        if let Some(url) = &self.endpoint {
            let name = self.model.clone().context("--endpoint needs --model")?;
            let mut client = OpenAiClient::new(url, &name)
                .with_timeout(std::time::Duration::from_secs(self.timeout_s));
            if let Some(var) = &self.api_key_env {
                client = client.with_api_key_env(var)?;
            }
            return Ok(Some((Box::new(client), name)));
        }
        if let Some(spec) = &self.local {
            let local = agentune_eval::local::LocalModel::load(spec)
                .with_context(|| format!("cannot load model `{spec}`"))?;
            let name = self.model.clone().unwrap_or_else(|| spec.clone());
            return Ok(Some((Box::new(local), name)));
        }
        Ok(None)
    }

    /// The response cache (`--cache`, default data/cache/eval/responses.jsonl).
    pub fn open_cache(&self) -> Result<ChatCache> {
        let path = self
            .cache
            .clone()
            .unwrap_or_else(|| crate::workspace_root().join("data/cache/eval/responses.jsonl"));
        ChatCache::open(&path)
            .with_context(|| format!("cannot open the response cache {}", path.display()))
    }

    /// Answers every request with `backend`, `--concurrency` at a time, cached replies first,
    /// behind a progress bar counting `what`. Results are in request order; a failed request
    /// gives its error text.
    pub fn answer_all(
        &self,
        backend: &Backend,
        requests: &[ChatRequest],
        what: &str,
    ) -> Result<(Vec<Result<ChatResponse, String>>, GenerateStats)> {
        let cache = self.open_cache()?;
        let bar = indicatif::ProgressBar::new(requests.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{bar:40}} {{pos}}/{{len}} {what} ({{eta}})"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let (model, name) = backend;
        let (results, stats) = generate_all(
            model.as_ref(),
            name,
            requests,
            self.concurrency,
            Some(&cache),
            &|| bar.inc(1),
        );
        bar.finish_and_clear();
        tracing::info!(
            cached = stats.cached,
            generated = stats.generated,
            failed = stats.failed,
            "{what}"
        );
        Ok((results, stats))
    }
}
