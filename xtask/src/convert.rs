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
    /// The stored weight type.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
}

/// Weight types an HF folder can hold.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Dtype {
    /// 32-bit floats.
    F32,
    /// bfloat16.
    Bf16,
    /// IEEE half precision.
    F16,
}

pub fn run(args: &ConvertArgs) -> Result<()> {
    let m = Pretrained::load(&args.model, WeightFormat::F32)
        .with_context(|| format!("cannot load model `{}`", args.model))?;
    let dtype = match args.dtype {
        Dtype::F32 => candle_core::DType::F32,
        Dtype::Bf16 => candle_core::DType::BF16,
        Dtype::F16 => candle_core::DType::F16,
    };
    m.save_hf_as(&args.out, dtype)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    tracing::info!(
        out = %args.out.display(),
        parameters = m.weights.num_parameters(),
        "written as a Hugging Face folder"
    );
    crate::print_stdout(&args.out.display().to_string())
}
