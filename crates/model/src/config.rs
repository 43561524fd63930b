//! The network configuration of the Llama family (Llama 2/3, SmolLM2, Mistral, Qwen2), read from
//! a Hugging Face `config.json` or from GGUF metadata, and written back as `config.json`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Which member of the Llama family a network is; they differ only in details
/// (Qwen2 has q/k/v biases; Mistral names its GQA configuration the Llama way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `LlamaForCausalLM` (Llama 2, Llama 3, SmolLM2, ...).
    Llama,
    /// `MistralForCausalLM`.
    Mistral,
    /// `Qwen2ForCausalLM` (Qwen2, Qwen2.5).
    Qwen2,
}

impl Architecture {
    /// The `architectures[0]` name in `config.json`.
    pub fn hf_class(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Mistral => "MistralForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
        }
    }

    /// The `model_type` in `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Mistral => "mistral",
            Self::Qwen2 => "qwen2",
        }
    }

    const SUPPORTED: &'static str =
        "llama, mistral, qwen2 (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)";

    fn from_name(source: &str, name: &str) -> Result<Self> {
        match name {
            "llama" | "LlamaForCausalLM" => Ok(Self::Llama),
            "mistral" | "MistralForCausalLM" => Ok(Self::Mistral),
            "qwen2" | "Qwen2ForCausalLM" => Ok(Self::Qwen2),
            other => Err(Error::UnsupportedArchitecture {
                source_name: source.to_owned(),
                architecture: other.to_owned(),
                supported: Self::SUPPORTED.to_owned(),
            }),
        }
    }
}

/// How rotary position frequencies are rescaled for long contexts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Positions divided by `factor`.
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.x frequency-dependent scaling.
    Llama3 {
        /// Overall scale.
        factor: f64,
        /// Wavelength threshold factor for the low frequencies.
        low_freq_factor: f64,
        /// Wavelength threshold factor for the high frequencies.
        high_freq_factor: f64,
        /// The pretraining context length.
        original_max_position_embeddings: usize,
    },
}

/// A Llama-family network's shape and constants.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Family member.
    pub architecture: Architecture,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (GQA when fewer than `num_heads`).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// RoPE scaling, if any.
    pub rope_scaling: Option<RopeScaling>,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
    /// Whether the output projection is the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Whether q/k/v projections have biases (Qwen2; Llama with `attention_bias`).
    pub qkv_bias: bool,
    /// Whether the output projection of attention has a bias (Llama with `attention_bias`).
    pub o_bias: bool,
    /// Beginning-of-sequence token id.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token ids.
    pub eos_token_ids: Vec<u32>,
}

fn default_rope_theta() -> f64 {
    10_000.0
}
fn default_eps() -> f64 {
    1e-6
}
fn default_max_pos() -> usize {
    2048
}

/// The fields of an HF `config.json` this crate reads (others are ignored: HF configs carry
/// many fields irrelevant to the network).
#[derive(Debug, Deserialize)]
struct HfConfig {
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    rope_theta: f64,
    #[serde(default)]
    rope_scaling: Option<Value>,
    #[serde(default = "default_max_pos")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: Option<bool>,
    #[serde(default)]
    attention_bias: Option<bool>,
    #[serde(default)]
    mlp_bias: Option<bool>,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    bos_token_id: Option<Value>,
    #[serde(default)]
    eos_token_id: Option<Value>,
}

/// Reads a token id or a list of token ids (`eos_token_id` may be either).
pub(crate) fn token_ids(value: Option<&Value>) -> Vec<u32> {
    match value {
        Some(Value::Number(n)) => n.as_u64().map(|v| vec![v as u32]).unwrap_or_default(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_u64)
            .map(|v| v as u32)
            .collect(),
        _ => Vec::new(),
    }
}

impl ModelConfig {
    /// Reads an HF `config.json`.
    pub fn from_hf_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::from_hf_json(&text, &path.display().to_string())
    }

    /// Parses the text of an HF `config.json`; `source` names it in errors.
    pub fn from_hf_json(text: &str, source: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let hf: HfConfig = serde_path_to_error::deserialize(de).map_err(|e| Error::Json {
            path: source.into(),
            message: format!("{}: {}", e.path(), e.inner()),
        })?;
        let arch_name = hf
            .architectures
            .first()
            .cloned()
            .or(hf.model_type.clone())
            .ok_or_else(|| {
                Error::config(
                    source,
                    "architectures",
                    "missing (and no model_type either)",
                )
            })?;
        let architecture = Architecture::from_name(source, &arch_name)?;
        if hf.mlp_bias == Some(true) {
            return Err(Error::config(
                source,
                "mlp_bias",
                "MLP biases are not supported",
            ));
        }
        if let Some(act) = &hf.hidden_act
            && act != "silu"
        {
            return Err(Error::config(
                source,
                "hidden_act",
                format!("`{act}` is not supported (only silu)"),
            ));
        }
        let rope_scaling = match &hf.rope_scaling {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_rope_scaling(source, v)?),
        };
        let attention_bias = hf.attention_bias.unwrap_or(false);
        let (qkv_bias, o_bias) = match architecture {
            Architecture::Qwen2 => (true, false),
            _ => (attention_bias, attention_bias),
        };
        let num_kv_heads = hf.num_key_value_heads.unwrap_or(hf.num_attention_heads);
        let head_dim = hf
            .head_dim
            .or(hf.hidden_size.checked_div(hf.num_attention_heads))
            .unwrap_or(0);
        let config = Self {
            architecture,
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            intermediate_size: hf.intermediate_size,
            num_layers: hf.num_hidden_layers,
            num_heads: hf.num_attention_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: hf.rms_norm_eps,
            rope_theta: hf.rope_theta,
            rope_scaling,
            max_position_embeddings: hf.max_position_embeddings,
            // Absent means untied, as in `transformers`' own defaults.
            tie_word_embeddings: hf.tie_word_embeddings.unwrap_or(false),
            qkv_bias,
            o_bias,
            bos_token_id: token_ids(hf.bos_token_id.as_ref()).first().copied(),
            eos_token_ids: token_ids(hf.eos_token_id.as_ref()),
        };
        config.validate(source)?;
        Ok(config)
    }

    /// Checks the shape constants are consistent; `source` names the origin in errors.
    pub fn validate(&self, source: &str) -> Result<()> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_layers),
            ("num_attention_heads", self.num_heads),
            ("num_key_value_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(Error::config(source, field, "must be positive"));
            }
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(Error::config(
                source,
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.num_kv_heads, self.num_heads
                ),
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(Error::config(source, "head_dim", "must be even for RoPE"));
        }
        if self.rms_norm_eps.is_nan() || self.rms_norm_eps <= 0.0 {
            return Err(Error::config(source, "rms_norm_eps", "must be positive"));
        }
        if self.rope_theta.is_nan() || self.rope_theta <= 0.0 {
            return Err(Error::config(source, "rope_theta", "must be positive"));
        }
        Ok(())
    }

    /// The HF `config.json` for this network, weights stored as `torch_dtype`.
    pub fn to_hf_json(&self, torch_dtype: &str) -> Value {
        let mut v = json!({
            "architectures": [self.architecture.hf_class()],
            "model_type": self.architecture.model_type(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "torch_dtype": torch_dtype,
            "use_cache": true,
            "initializer_range": 0.02,
        });
        if let Value::Object(m) = &mut v {
            if self.architecture != Architecture::Qwen2 {
                m.insert("attention_bias".into(), json!(self.qkv_bias));
                m.insert("mlp_bias".into(), json!(false));
            }
            if let Some(bos) = self.bos_token_id {
                m.insert("bos_token_id".into(), json!(bos));
            }
            match self.eos_token_ids.as_slice() {
                [] => {}
                [one] => {
                    m.insert("eos_token_id".into(), json!(one));
                }
                many => {
                    m.insert("eos_token_id".into(), json!(many));
                }
            }
            let scaling = match self.rope_scaling {
                None => Value::Null,
                Some(RopeScaling::Linear { factor }) => {
                    json!({"rope_type": "linear", "factor": factor})
                }
                Some(RopeScaling::Llama3 {
                    factor,
                    low_freq_factor,
                    high_freq_factor,
                    original_max_position_embeddings,
                }) => json!({
                    "rope_type": "llama3",
                    "factor": factor,
                    "low_freq_factor": low_freq_factor,
                    "high_freq_factor": high_freq_factor,
                    "original_max_position_embeddings": original_max_position_embeddings,
                }),
            };
            m.insert("rope_scaling".into(), scaling);
        }
        v
    }

    /// The inverse RoPE frequencies (`head_dim / 2` of them), with scaling applied.
    pub fn rope_inv_freq(&self) -> Vec<f64> {
        let d = self.head_dim as f64;
        let base: Vec<f64> = (0..self.head_dim / 2)
            .map(|i| 1.0 / self.rope_theta.powf(2.0 * i as f64 / d))
            .collect();
        match self.rope_scaling {
            None => base,
            Some(RopeScaling::Linear { factor }) => base.iter().map(|f| f / factor).collect(),
            Some(RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            }) => {
                let old = original_max_position_embeddings as f64;
                let low_wavelen = old / low_freq_factor;
                let high_wavelen = old / high_freq_factor;
                base.iter()
                    .map(|&f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (old / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        }
    }

    /// Query heads per key/value head.
    pub fn kv_groups(&self) -> usize {
        self.num_heads / self.num_kv_heads
    }
}

fn parse_rope_scaling(source: &str, v: &Value) -> Result<RopeScaling> {
    let field = |name: &str| v.get(name).and_then(Value::as_f64);
    let kind = v
        .get("rope_type")
        .or_else(|| v.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let factor = field("factor")
        .ok_or_else(|| Error::config(source, "rope_scaling.factor", "missing or not a number"))?;
    match kind {
        "linear" => Ok(RopeScaling::Linear { factor }),
        "llama3" => {
            let get = |name: &str| {
                field(name).ok_or_else(|| {
                    Error::config(
                        source,
                        format!("rope_scaling.{name}"),
                        "missing or not a number",
                    )
                })
            };
            Ok(RopeScaling::Llama3 {
                factor,
                low_freq_factor: get("low_freq_factor")?,
                high_freq_factor: get("high_freq_factor")?,
                original_max_position_embeddings: get("original_max_position_embeddings")? as usize,
            })
        }
        other => Err(Error::config(
            source,
            "rope_scaling.rope_type",
            format!("`{other}` is not supported (linear, llama3)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SMOL: &str = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":576,
      "intermediate_size":1536,"num_hidden_layers":30,"num_attention_heads":9,
      "num_key_value_heads":3,"rms_norm_eps":1e-5,"rope_theta":100000,"vocab_size":49152,
      "max_position_embeddings":8192,"tie_word_embeddings":true,"bos_token_id":1,
      "eos_token_id":2,"hidden_act":"silu","torch_dtype":"bfloat16"}"#;

    #[test]
    fn reads_and_writes_hf_config() {
        let c = ModelConfig::from_hf_json(SMOL, "config.json").unwrap();
        assert_eq!(c.head_dim, 64);
        assert_eq!(c.kv_groups(), 3);
        assert!(c.tie_word_embeddings);
        assert_eq!(c.eos_token_ids, vec![2]);
        let back = ModelConfig::from_hf_json(&c.to_hf_json("float32").to_string(), "x").unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unsupported_architecture_is_named() {
        let text = SMOL.replace("LlamaForCausalLM", "GPTNeoXForCausalLM");
        let err = ModelConfig::from_hf_json(&text, "config.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GPTNeoXForCausalLM") && err.contains("config.json"),
            "{err}"
        );
    }

    #[test]
    fn missing_field_is_named() {
        let text = SMOL.replace("\"hidden_size\":576,", "");
        let err = ModelConfig::from_hf_json(&text, "config.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hidden_size"), "{err}");
    }

    #[test]
    fn llama3_scaling_keeps_high_frequencies() {
        let text = SMOL.replace(
            "\"tie_word_embeddings\":true,",
            r#""tie_word_embeddings":true,"rope_scaling":{"rope_type":"llama3","factor":8.0,
            "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},"#,
        );
        let c = ModelConfig::from_hf_json(&text, "config.json").unwrap();
        let plain = ModelConfig {
            rope_scaling: None,
            ..c.clone()
        };
        let (a, b) = (c.rope_inv_freq(), plain.rope_inv_freq());
        assert_eq!(a[0], b[0]);
        assert!((a[31] - b[31] / 8.0).abs() < 1e-12);
    }
}
