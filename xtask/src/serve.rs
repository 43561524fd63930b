//! `cargo xtask serve --model <gguf | HF folder | smollm2>`: the OpenAI-compatible server
//! (chat and completions, tool calling, streaming, continuous batching) until Ctrl-C.

use std::path::PathBuf;

use agentune_serve::{ServeConfig, ServeSettings, Server, default_model_name, load_model};
use anyhow::{Context, Result};

/// Options of `cargo xtask serve`; flags override the config file.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A GGUF file, a Hugging Face model folder (a trainer checkpoint included), or a known
    /// model name (`smollm2`). Default: the config's `model`, else `smollm2`.
    #[arg(long)]
    model: Option<String>,
    /// A TOML config (see configs/serve.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The name clients send as `model` (default: the model's file or folder name).
    #[arg(long)]
    served_model_name: Option<String>,
    /// Listening address.
    #[arg(long)]
    host: Option<String>,
    /// Listening port.
    #[arg(long)]
    port: Option<u16>,
    /// Require `Authorization: Bearer <key>` on /v1/*.
    #[arg(long, env = "AGENTUNE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Agent template for tools: a built-in id or a template file (default: the checkpoint's
    /// agent_template.toml, else hermes).
    #[arg(long)]
    template: Option<String>,
    /// Dequantize GGUF weights to f32.
    #[arg(long)]
    f32: bool,
    /// Most sequences decoded together.
    #[arg(long)]
    max_batch: Option<usize>,
    /// Most requests waiting for a slot before 429.
    #[arg(long)]
    max_queue: Option<usize>,
    /// Memory for KV caches, MiB.
    #[arg(long)]
    kv_cache_mib: Option<usize>,
    /// Most prompt tokens fed per forward pass (chunked prefill).
    #[arg(long)]
    prefill_chunk: Option<usize>,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let config = match &args.config {
        Some(p) => ServeConfig::load(p)?,
        None => ServeConfig::default(),
    };
    let overrides = ServeConfig {
        served_model_name: args.served_model_name.clone(),
        host: args.host.clone(),
        port: args.port,
        max_batch: args.max_batch,
        max_queue: args.max_queue,
        kv_cache_mib: args.kv_cache_mib,
        prefill_chunk: args.prefill_chunk,
        ..ServeConfig::default()
    };
    let spec = args
        .model
        .clone()
        .or_else(|| config.model.clone())
        .unwrap_or_else(|| "smollm2".into());
    let mut settings = ServeSettings {
        served_model_name: default_model_name(&spec),
        ..ServeSettings::default()
    };
    settings.apply(&config);
    settings.apply(&overrides);
    settings.api_key = args.api_key.clone().filter(|k| !k.trim().is_empty());
    settings.validate()?;
    let template = args.template.clone().or_else(|| config.template.clone());
    let f32 = args.f32 || config.f32.unwrap_or(false);
    let (model, agent) = load_model(&spec, f32, template.as_deref())
        .with_context(|| format!("cannot load `{spec}`"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let name = settings.served_model_name.clone();
        let auth = settings.api_key.is_some();
        let server = Server::bind(model, agent.clone(), settings).await?;
        let addr = server.local_addr()?;
        tracing::info!(
            model = %name,
            agent_template = agent.id(),
            auth,
            "serving on http://{addr}/v1 (Ctrl-C stops)"
        );
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("stopping");
            })
            .await?;
        Ok(())
    })
}
