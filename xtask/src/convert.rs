//! `cargo xtask convert --model <gguf | HF folder | smollm2> --out <dir>`: writes a model as a
//! Hugging Face folder (f32 safetensors, config, tokenizer, chat template), e.g. to train or
//! publish a GGUF-only model.

use agentune_model::{Pretrained, WeightFormat};
use anyhow::{Context, Result};

/// Options of `cargo xtask convert`.
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// A GGUF file, a Hugging Face model folder, or a known model name (`smollm2`).
    #[arg(long)]
    model: String,
    /// The folder to write (replaced atomically if it exists).
    #[arg(long)]
    out: std::path::PathBuf,
}

pub fn run(args: &ConvertArgs) -> Result<()> {
    let m = Pretrained::load(&args.model, WeightFormat::F32)
        .with_context(|| format!("cannot load model `{}`", args.model))?;
    m.save_hf(&args.out)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    tracing::info!(
        out = %args.out.display(),
        parameters = m.weights.num_parameters(),
        "written as a Hugging Face folder"
    );
    crate::print_stdout(&args.out.display().to_string())
}
