//! agentune-model: the Llama-family network on candle (one definition for training and
//! inference), Hugging Face and GGUF loading and saving, the tokenizer, chat templates,
//! sampling and generation.
//!
//! # Example
//!
//! Load SmolLM2 (downloaded once into the cache), render a chat with the model's own
//! template and stream a greedy reply:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use agentune_model::{GenerateParams, Llama, Mode, Pretrained, WeightFormat, generate};
//! use agentune_schema::Message;
//!
//! let m = Pretrained::load("smollm2", WeightFormat::AsStored)?;
//! let net = Llama::new(&m.config, &m.weights, Mode::Infer)?;
//! let text = m.template()?.render(&[Message::user("What is 2 + 2?")], &[], true)?;
//! let ids = m.tokenizer.encode(&text, false)?;
//! let params = GenerateParams { max_new_tokens: 64, ..GenerateParams::default() };
//! let out = generate(&net, &m.tokenizer, &ids, &params, &mut |delta| print!("{delta}"))?;
//! println!("\n({} tokens, {:?})", out.tokens.len(), out.finish_reason);
//! # Ok(())
//! # }
//! ```

pub mod chat;
pub mod config;
mod error;
pub mod fetch;
mod gemm;
pub mod generate;
pub mod model;
pub mod ops;
pub mod pretrained;
pub mod qmatmul;
pub mod tokenizer;
pub mod weights;

pub use chat::{ChatTemplate, JinjaTemplate, TrainingText};
pub use config::{Architecture, ModelConfig, RopeScaling};
pub use error::{Error, Result};
pub use generate::{
    FinishReason, GenerateParams, Generation, Sampler, SamplingParams, TextStream, generate,
    generate_batch,
};
pub use model::{DecoderLayer, KvCache, Llama, Mode};
pub use pretrained::{
    ModelText, Pretrained, WeightFormat, load_gguf, load_hf, save_hf, save_hf_as,
};
pub use tokenizer::ModelTokenizer;
pub use weights::{Weight, Weights, expected_tensors};
