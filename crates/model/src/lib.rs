//! agentune-model: the Llama-family network on candle (one definition for training and
//! inference), Hugging Face and GGUF loading and saving, the tokenizer, chat templates,
//! sampling and generation.

pub mod chat;
pub mod config;
mod error;
pub mod fetch;
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
