//! `cargo xtask generate --model <gguf | HF folder | smollm2> "prompt"`: renders the prompt with
//! the model's chat template and streams the reply to stdout.

use std::io::Write;

use agentune_model::{
    GenerateParams, Llama, Mode, Pretrained, SamplingParams, WeightFormat, generate,
};
use agentune_schema::Message;
use anyhow::{Context, Result};

/// Options of `cargo xtask generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A GGUF file, a Hugging Face model folder, or a known model name (`smollm2`).
    #[arg(long, default_value = "smollm2")]
    model: String,
    /// The user message.
    prompt: String,
    /// A system message.
    #[arg(long)]
    system: Option<String>,
    /// Use f32 weights (dequantizing GGUF) instead of the stored quantized ones.
    #[arg(long)]
    f32: bool,
    /// Send the prompt as is, without the chat template.
    #[arg(long)]
    raw: bool,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 256)]
    max_new_tokens: usize,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
    /// Nucleus sampling threshold.
    #[arg(long)]
    top_p: Option<f32>,
    /// Sample among the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Repetition penalty (1: none).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop before this string (repeatable).
    #[arg(long)]
    stop: Vec<String>,
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let format = if args.f32 {
        WeightFormat::F32
    } else {
        WeightFormat::AsStored
    };
    let m = Pretrained::load(&args.model, format)
        .with_context(|| format!("cannot load model `{}`", args.model))?;
    let net = Llama::new(&m.config, &m.weights, Mode::Infer)?;
    let text = if args.raw {
        args.prompt.clone()
    } else {
        let template = m.template()?;
        let mut messages = Vec::new();
        if let Some(s) = &args.system {
            messages.push(Message::system(s.clone()));
        }
        messages.push(Message::user(args.prompt.clone()));
        template.render(&messages, &[], true)?
    };
    let ids = m.tokenizer.encode(&text, false)?;
    let params = GenerateParams {
        max_new_tokens: args.max_new_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            seed: args.seed,
        },
        stop_strings: args.stop.clone(),
        stop_tokens: Vec::new(),
    };
    let mut out = std::io::stdout().lock();
    let mut write_error = None;
    let result = generate(&net, &m.tokenizer, &ids, &params, &mut |delta| {
        if write_error.is_none()
            && let Err(e) = out.write_all(delta.as_bytes()).and_then(|()| out.flush())
        {
            write_error = Some(e);
        }
    })?;
    match write_error {
        Some(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("cannot write to stdout");
        }
        _ => {}
    }
    let _ = writeln!(out);
    tracing::info!(
        prompt_tokens = result.prompt_tokens,
        generated_tokens = result.tokens.len(),
        finish_reason = ?result.finish_reason,
        "done"
    );
    Ok(())
}
