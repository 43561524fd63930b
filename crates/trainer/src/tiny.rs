//! Network shapes for training from random weights: the tiny configuration that CI trains, and
//! the conversion of a shape plus a vocabulary into a model configuration.

use agentune_model::{Architecture, ModelConfig};
use serde::{Deserialize, Serialize};

/// The shape of a Llama-family network trained from random weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Whether the output projection is the embedding.
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
    /// RoPE base frequency.
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
}

fn yes() -> bool {
    true
}

fn default_theta() -> f64 {
    10_000.0
}

impl Shape {
    /// The tiny shape: 2 layers, width 32, 4 query and 2 key/value heads.
    pub fn tiny() -> Self {
        Self {
            hidden_size: 32,
            intermediate_size: 64,
            num_layers: 2,
            num_heads: 4,
            num_kv_heads: 2,
            tie_word_embeddings: true,
            rope_theta: 10_000.0,
        }
    }

    /// The model configuration for a vocabulary of `vocab_size` and rows of at most
    /// `max_len` tokens.
    pub fn to_config(&self, vocab_size: usize, max_len: usize) -> ModelConfig {
        ModelConfig {
            architecture: Architecture::Llama,
            vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_layers,
            num_heads: self.num_heads,
            num_kv_heads: self.num_kv_heads,
            head_dim: self.hidden_size / self.num_heads.max(1),
            rms_norm_eps: 1e-5,
            rope_theta: self.rope_theta,
            rope_scaling: None,
            max_position_embeddings: max_len.max(1),
            tie_word_embeddings: self.tie_word_embeddings,
            qkv_bias: false,
            o_bias: false,
            bos_token_id: None,
            eos_token_ids: Vec::new(),
        }
    }
}

/// The tiny configuration with `vocab_size` tokens (for tests).
pub fn tiny_config(vocab_size: usize) -> ModelConfig {
    Shape::tiny().to_config(vocab_size, 512)
}
