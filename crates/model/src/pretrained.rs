//! A pretrained model on disk: loading from a GGUF file or a Hugging Face folder, and saving
//! as a Hugging Face folder that `transformers`' `from_pretrained` can load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::{QStorage, QTensor, gguf_file};
use candle_core::{DType, Device, Tensor};
use serde_json::{Value, json};

use crate::config::{Architecture, ModelConfig, RopeScaling, token_ids};
use crate::error::{Error, Result};
use crate::tokenizer::ModelTokenizer;
use crate::weights::{Weight, Weights};

/// How to hold the weights once loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// As stored: GGUF-quantized tensors stay quantized (inference only).
    AsStored,
    /// Everything dense f32 (training, or exact inference).
    F32,
}

/// A model with everything needed to run it: configuration, weights, tokenizer, chat template.
#[derive(Debug, Clone)]
pub struct Pretrained {
    /// The network's configuration.
    pub config: ModelConfig,
    /// The weights, in HF names and layout.
    pub weights: Weights,
    /// The tokenizer with the model's special tokens.
    pub tokenizer: ModelTokenizer,
    /// The Jinja chat template shipped with the model, if any.
    pub chat_template: Option<String>,
    /// The `generation_config.json` object, if any (kept for saving).
    pub generation_config: Option<Value>,
    /// Where it was loaded from.
    pub source: PathBuf,
}

impl Pretrained {
    /// Loads a GGUF file, an HF folder, or a known model name (`smollm2`) from the cache.
    pub fn load(spec: &str, format: WeightFormat) -> Result<Self> {
        match resolve(spec)? {
            Located::HfFolder(dir) => load_hf(&dir, format),
            Located::Gguf(file) => load_gguf(&file, format),
        }
    }

    /// The model's chat template (its Jinja template, or ChatML when it ships none), with its
    /// BOS and EOS token texts.
    pub fn template(&self) -> Result<crate::chat::ChatTemplate> {
        template_of(&self.tokenizer, self.chat_template.as_deref())
    }

    /// Saves as an HF folder with f32 weights (see [`save_hf`]).
    pub fn save_hf(&self, dir: &Path) -> Result<()> {
        self.save_hf_as(dir, DType::F32)
    }

    /// Saves as an HF folder with weights of `dtype` (F32, BF16 or F16).
    pub fn save_hf_as(&self, dir: &Path, dtype: DType) -> Result<()> {
        save_hf_as(
            dir,
            &self.config,
            &self.weights,
            &self.tokenizer,
            self.chat_template.as_deref(),
            self.generation_config.as_ref(),
            dtype,
        )
    }
}

/// Where a model spec points.
enum Located {
    HfFolder(PathBuf),
    Gguf(PathBuf),
}

/// Resolves a model spec: an HF folder, a GGUF file, or a known model name in the cache.
fn resolve(spec: &str) -> Result<Located> {
    let path = Path::new(spec);
    if path.is_dir() {
        return Ok(Located::HfFolder(path.to_path_buf()));
    }
    if path.is_file() {
        return Ok(Located::Gguf(path.to_path_buf()));
    }
    if crate::fetch::known_model(spec).is_ok() {
        return match crate::fetch::cached_model(spec) {
            Some(p) => Ok(Located::Gguf(p)),
            None => Err(Error::fetch(
                spec,
                "not in the model cache; run `cargo xtask fetch-model` first",
            )),
        };
    }
    Err(Error::io(
        "find the model",
        path,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a GGUF file, an HF folder or a known model name",
        ),
    ))
}

fn template_of(
    tokenizer: &ModelTokenizer,
    jinja: Option<&str>,
) -> Result<crate::chat::ChatTemplate> {
    let text = |id: Option<u32>| id.and_then(|i| tokenizer.token(i)).unwrap_or_default();
    crate::chat::ChatTemplate::for_model(
        jinja,
        &text(tokenizer.bos_id()),
        &text(tokenizer.eos_ids().first().copied()),
    )
}

/// The text side of a model without its weights: the tokenizer with the model's special
/// tokens and the chat template, read from GGUF metadata (tensor data is never read) or from
/// an HF folder's `config.json`, `tokenizer.json` and `tokenizer_config.json`. Token ids are
/// the same as those of [`Pretrained::load`] on the same spec.
#[derive(Debug, Clone)]
pub struct ModelText {
    /// The tokenizer with the model's special tokens.
    pub tokenizer: ModelTokenizer,
    /// The Jinja chat template shipped with the model, if any.
    pub chat_template: Option<String>,
    /// Where it was loaded from.
    pub source: PathBuf,
}

impl ModelText {
    /// Loads the tokenizer and chat template of a GGUF file, an HF folder, or a known model
    /// name (`smollm2`) from the cache.
    pub fn load(spec: &str) -> Result<Self> {
        match resolve(spec)? {
            Located::HfFolder(dir) => {
                let config = ModelConfig::from_hf_file(&dir.join("config.json"))?;
                let (tokenizer, chat_template, _) = hf_text(&dir, &config)?;
                Ok(Self {
                    tokenizer,
                    chat_template,
                    source: dir,
                })
            }
            Located::Gguf(file) => {
                let mut f = std::fs::File::open(&file).map_err(|e| Error::io("open", &file, e))?;
                let content = gguf_file::Content::read(&mut f).map_err(|e| Error::Json {
                    path: file.clone(),
                    message: format!("not a readable GGUF file: {e}"),
                })?;
                let config = config_from_gguf(&content, &file.display().to_string())?;
                let (tokenizer, chat_template) = gguf_text(&content.metadata, &config)?;
                Ok(Self {
                    tokenizer,
                    chat_template,
                    source: file,
                })
            }
        }
    }

    /// The chat template, as [`Pretrained::template`] gives it.
    pub fn template(&self) -> Result<crate::chat::ChatTemplate> {
        template_of(&self.tokenizer, self.chat_template.as_deref())
    }
}

// ---------------------------------------------------------------------------------------------
// GGUF

/// A numeric GGUF metadata value of any stored type, as f64.
pub(crate) fn gguf_number(v: &gguf_file::Value) -> Option<f64> {
    use gguf_file::Value as V;
    Some(match v {
        V::U8(x) => f64::from(*x),
        V::I8(x) => f64::from(*x),
        V::U16(x) => f64::from(*x),
        V::I16(x) => f64::from(*x),
        V::U32(x) => f64::from(*x),
        V::I32(x) => f64::from(*x),
        V::U64(x) => *x as f64,
        V::I64(x) => *x as f64,
        // Through the shortest decimal form, so 1e-5 stored as f32 reads back as 1e-5.
        V::F32(x) => x.to_string().parse().unwrap_or(f64::from(*x)),
        V::F64(x) => *x,
        V::Bool(x) => f64::from(u8::from(*x)),
        _ => return None,
    })
}

/// A non-negative integral GGUF metadata value of any stored integer type.
pub(crate) fn gguf_uint(v: &gguf_file::Value) -> Option<u64> {
    use gguf_file::Value as V;
    match v {
        V::F32(_) | V::F64(_) => None,
        other => gguf_number(other).filter(|x| *x >= 0.0).map(|x| x as u64),
    }
}

fn md_u64(md: &HashMap<String, gguf_file::Value>, key: &str) -> Option<u64> {
    md.get(key).and_then(gguf_uint)
}

fn md_f64(md: &HashMap<String, gguf_file::Value>, key: &str) -> Option<f64> {
    md.get(key).and_then(gguf_number)
}

/// Reads a model configuration from GGUF metadata and tensor list.
pub fn config_from_gguf(content: &gguf_file::Content, source: &str) -> Result<ModelConfig> {
    let md = &content.metadata;
    let arch = md
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .ok_or_else(|| Error::config(source, "general.architecture", "missing"))?;
    let architecture = match arch.as_str() {
        "llama" => Architecture::Llama,
        "qwen2" => Architecture::Qwen2,
        other => {
            return Err(Error::UnsupportedArchitecture {
                source_name: source.to_owned(),
                architecture: other.to_owned(),
                supported: "llama, qwen2".to_owned(),
            });
        }
    };
    let need = |key: &str| {
        md_u64(md, &format!("{arch}.{key}"))
            .map(|v| v as usize)
            .ok_or_else(|| Error::config(source, format!("{arch}.{key}"), "missing"))
    };
    let hidden = need("embedding_length")?;
    let heads = need("attention.head_count")?;
    let kv_heads = md_u64(md, &format!("{arch}.attention.head_count_kv"))
        .map(|v| v as usize)
        .unwrap_or(heads);
    let head_dim = md_u64(md, &format!("{arch}.attention.key_length"))
        .map(|v| v as usize)
        .unwrap_or(hidden.checked_div(heads).unwrap_or(0));
    if content.tensor_infos.contains_key("rope_freqs.weight") {
        return Err(Error::config(
            source,
            "rope_freqs.weight",
            "per-frequency RoPE factors (Llama 3.1 GGUF) are not supported; load the HF folder",
        ));
    }
    let rope_scaling = match md
        .get(&format!("{arch}.rope.scaling.type"))
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
    {
        None | Some("none") => None,
        Some("linear") => Some(RopeScaling::Linear {
            factor: md_f64(md, &format!("{arch}.rope.scaling.factor")).unwrap_or(1.0),
        }),
        Some(other) => {
            return Err(Error::config(
                source,
                format!("{arch}.rope.scaling.type"),
                format!("`{other}` is not supported (linear)"),
            ));
        }
    };
    let vocab_size = match content.tensor_infos.get("token_embd.weight") {
        Some(info) => info.shape.dims().first().copied().unwrap_or(0),
        None => return Err(Error::tensor(source, "token_embd.weight", "missing")),
    };
    let config = ModelConfig {
        architecture,
        vocab_size,
        hidden_size: hidden,
        intermediate_size: need("feed_forward_length")?,
        num_layers: need("block_count")?,
        num_heads: heads,
        num_kv_heads: kv_heads,
        head_dim,
        rms_norm_eps: md_f64(md, &format!("{arch}.attention.layer_norm_rms_epsilon"))
            .unwrap_or(1e-5),
        rope_theta: md_f64(md, &format!("{arch}.rope.freq_base")).unwrap_or(10_000.0),
        rope_scaling,
        max_position_embeddings: md_u64(md, &format!("{arch}.context_length"))
            .map(|v| v as usize)
            .unwrap_or(2048),
        tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
        qkv_bias: content.tensor_infos.contains_key("blk.0.attn_q.bias"),
        o_bias: content.tensor_infos.contains_key("blk.0.attn_output.bias"),
        bos_token_id: md_u64(md, "tokenizer.ggml.bos_token_id").map(|v| v as u32),
        eos_token_ids: md_u64(md, "tokenizer.ggml.eos_token_id")
            .map(|v| vec![v as u32])
            .unwrap_or_default(),
    };
    config.validate(source)?;
    Ok(config)
}

/// The HF name of a GGUF tensor, or None for tensors the network does not use.
fn hf_name(gguf: &str) -> Option<String> {
    let simple = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(s) = simple {
        return Some(s.to_owned());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (part, kind) = rest.rsplit_once('.')?;
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{kind}"))
}

/// For each HF row, the GGUF row holding it. GGUF (llama.cpp's converter) interleaves the two
/// halves of every head's rows for its interleaved RoPE; HF layout keeps them apart.
fn unpermute_rows(rows: usize, heads: usize) -> Vec<usize> {
    let d = rows / heads;
    let half = d / 2;
    let mut src = Vec::with_capacity(rows);
    for h in 0..heads {
        for j in 0..2 {
            for i in 0..half {
                src.push(h * d + i * 2 + j);
            }
        }
    }
    src
}

fn permute_dense(t: &Tensor, heads: usize) -> Result<Tensor> {
    let rows = t.dim(0)?;
    let idx: Vec<u32> = unpermute_rows(rows, heads)
        .into_iter()
        .map(|r| r as u32)
        .collect();
    let idx = Tensor::from_vec(idx, rows, t.device())?;
    Ok(t.index_select(&idx, 0)?)
}

fn permute_quantized(q: &QTensor, heads: usize) -> Result<QTensor> {
    let (rows, _) = q.shape().dims2()?;
    let data = q.data()?;
    let row_bytes = data.len() / rows;
    let mut out = Vec::with_capacity(data.len());
    for src in unpermute_rows(rows, heads) {
        out.extend_from_slice(&data[src * row_bytes..(src + 1) * row_bytes]);
    }
    let storage = QStorage::from_data(std::borrow::Cow::Owned(out), &Device::Cpu, q.dtype())?;
    Ok(QTensor::new(storage, q.shape().clone())?)
}

/// The tokenizer (with the model's special tokens) and chat template of GGUF metadata.
fn gguf_text(
    md: &HashMap<String, gguf_file::Value>,
    config: &ModelConfig,
) -> Result<(ModelTokenizer, Option<String>)> {
    let mut tokenizer = ModelTokenizer::from_gguf(md)?;
    if tokenizer.bos_id().is_none() {
        tokenizer.set_bos(config.bos_token_id);
    }
    tokenizer.add_eos(&config.eos_token_ids);
    let chat_template = md
        .get("tokenizer.chat_template")
        .and_then(|v| v.to_string().ok())
        .cloned();
    Ok((tokenizer, chat_template))
}

/// Loads a GGUF file: configuration, weights (HF names and layout), tokenizer, chat template.
pub fn load_gguf(path: &Path, format: WeightFormat) -> Result<Pretrained> {
    let source = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        message: format!("not a readable GGUF file: {e}"),
    })?;
    let config = config_from_gguf(&content, &source)?;
    // llama.cpp permutes Q/K rows only for the architectures it runs with interleaved RoPE.
    let permuted = config.architecture == Architecture::Llama;
    let mut weights = Weights::new(source.clone());
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let Some(hf) = hf_name(name) else {
            tracing::debug!(tensor = %name, "ignoring GGUF tensor");
            continue;
        };
        let q = content
            .tensor(&mut file, name, &Device::Cpu)
            .map_err(|e| Error::tensor(&source, name.as_str(), e.to_string()))?;
        let heads = if hf.contains("q_proj") {
            Some(config.num_heads)
        } else if hf.contains("k_proj") {
            Some(config.num_kv_heads)
        } else {
            None
        };
        let keep_quantized = format == WeightFormat::AsStored
            && q.shape().rank() == 2
            && !matches!(
                q.dtype(),
                candle_core::quantized::GgmlDType::F32
                    | candle_core::quantized::GgmlDType::F16
                    | candle_core::quantized::GgmlDType::BF16
            );
        let weight = match (keep_quantized, heads.filter(|_| permuted)) {
            (true, Some(h)) => Weight::Quantized(Arc::new(permute_quantized(&q, h)?)),
            (true, None) => Weight::Quantized(Arc::new(q)),
            (false, Some(h)) => Weight::Dense(permute_dense(&q.dequantize(&Device::Cpu)?, h)?),
            (false, None) => Weight::Dense(q.dequantize(&Device::Cpu)?),
        };
        weights.insert(hf, weight);
    }
    weights.check(&config)?;
    let (tokenizer, chat_template) = gguf_text(&content.metadata, &config)?;
    let mut generation = serde_json::Map::new();
    if let Some(bos) = tokenizer.bos_id() {
        generation.insert("bos_token_id".into(), json!(bos));
    }
    if !tokenizer.eos_ids().is_empty() {
        generation.insert("eos_token_id".into(), json!(tokenizer.eos_ids()));
    }
    if let Some(pad) = tokenizer.pad_id() {
        generation.insert("pad_token_id".into(), json!(pad));
    }
    Ok(Pretrained {
        config,
        weights,
        tokenizer,
        chat_template,
        generation_config: Some(Value::Object(generation)),
        source: path.to_path_buf(),
    })
}

// ---------------------------------------------------------------------------------------------
// Hugging Face folders

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn read_json_opt(path: &Path) -> Result<Option<Value>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// A special token named in tokenizer_config.json: a string or `{"content": ...}`.
fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// The chat template of tokenizer_config.json: a string, or a list of named templates (the
/// one named `default` is used).
fn chat_template_of(cfg: &Value, path: &Path) -> Result<Option<String>> {
    match cfg.get("chat_template") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(list)) => {
            let pick = list
                .iter()
                .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
                .or_else(|| list.first());
            Ok(pick
                .and_then(|t| t.get("template"))
                .and_then(Value::as_str)
                .map(str::to_owned))
        }
        Some(_) => Err(Error::Json {
            path: path.to_path_buf(),
            message: "chat_template: expected a string or a list of {name, template}".into(),
        }),
    }
}

/// The safetensors files of a folder: `model.safetensors`, or those named by
/// `model.safetensors.index.json`.
fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let v = read_json(&index)?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::Json {
                path: index.clone(),
                message: "weight_map: missing or not an object".into(),
            })?;
        let mut files: Vec<String> = map
            .values()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        files.sort();
        files.dedup();
        return Ok(files.into_iter().map(|f| dir.join(f)).collect());
    }
    let what = if dir.join("pytorch_model.bin").is_file() {
        "only pytorch_model.bin found; convert it to safetensors first"
    } else {
        "no model.safetensors or model.safetensors.index.json"
    };
    Err(Error::io(
        "find the weights in",
        dir,
        std::io::Error::new(std::io::ErrorKind::NotFound, what),
    ))
}

/// The tokenizer (with the special tokens of `tokenizer_config.json`, `config.json` and
/// `generation_config.json`), the chat template and the generation config of an HF folder.
fn hf_text(
    dir: &Path,
    config: &ModelConfig,
) -> Result<(ModelTokenizer, Option<String>, Option<Value>)> {
    let mut tokenizer = ModelTokenizer::from_file(&dir.join("tokenizer.json"))?;
    let tc_path = dir.join("tokenizer_config.json");
    let tc = read_json_opt(&tc_path)?;
    let gen_cfg = read_json_opt(&dir.join("generation_config.json"))?;
    let mut chat_template = match &tc {
        Some(tc) => chat_template_of(tc, &tc_path)?,
        None => None,
    };
    if chat_template.is_none() {
        let jinja = dir.join("chat_template.jinja");
        if jinja.is_file() {
            chat_template =
                Some(std::fs::read_to_string(&jinja).map_err(|e| Error::io("read", &jinja, e))?);
        }
    }
    let by_name = |key: &str| {
        tc.as_ref()
            .and_then(|tc| token_text(tc.get(key)))
            .and_then(|t| tokenizer.token_id(&t))
    };
    let bos = by_name("bos_token").or(config.bos_token_id);
    let eos = by_name("eos_token");
    let pad = by_name("pad_token");
    tokenizer.set_bos(bos);
    tokenizer.set_pad(pad);
    if let Some(eos) = eos {
        tokenizer.add_eos(&[eos]);
    }
    tokenizer.add_eos(&config.eos_token_ids);
    if let Some(g) = &gen_cfg {
        tokenizer.add_eos(&token_ids(g.get("eos_token_id")));
    }
    Ok((tokenizer, chat_template, gen_cfg))
}

/// Loads an HF model folder.
pub fn load_hf(dir: &Path, format: WeightFormat) -> Result<Pretrained> {
    let config = ModelConfig::from_hf_file(&dir.join("config.json"))?;
    let source = dir.display().to_string();
    let mut weights = Weights::new(source);
    for file in safetensors_files(dir)? {
        let tensors =
            candle_core::safetensors::load(&file, &Device::Cpu).map_err(|e| Error::Json {
                path: file.clone(),
                message: format!("not a readable safetensors file: {e}"),
            })?;
        for (name, t) in tensors {
            let t = match (format, t.dtype()) {
                (WeightFormat::F32, d) if d != DType::F32 => t.to_dtype(DType::F32)?,
                _ => t,
            };
            weights.insert(name, Weight::Dense(t));
        }
    }
    weights.check(&config)?;
    let (tokenizer, chat_template, gen_cfg) = hf_text(dir, &config)?;
    Ok(Pretrained {
        config,
        weights,
        tokenizer,
        chat_template,
        generation_config: gen_cfg,
        source: dir.to_path_buf(),
    })
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io("write", path, e))
}

/// Saves an HF folder: `config.json`, `model.safetensors` (f32; no `lm_head.weight` when tied),
/// `tokenizer.json`, `tokenizer_config.json` (with the chat template and special tokens),
/// `special_tokens_map.json`, `generation_config.json`. The folder appears atomically: it is
/// written next to `dir` under a temporary name, then renamed (replacing an older `dir`).
pub fn save_hf(
    dir: &Path,
    config: &ModelConfig,
    weights: &Weights,
    tokenizer: &ModelTokenizer,
    chat_template: Option<&str>,
    generation_config: Option<&Value>,
) -> Result<()> {
    save_hf_as(
        dir,
        config,
        weights,
        tokenizer,
        chat_template,
        generation_config,
        DType::F32,
    )
}

/// Like [`save_hf`], with the weights stored as `dtype` (F32, BF16 or F16; `torch_dtype` in
/// `config.json` says which).
pub fn save_hf_as(
    dir: &Path,
    config: &ModelConfig,
    weights: &Weights,
    tokenizer: &ModelTokenizer,
    chat_template: Option<&str>,
    generation_config: Option<&Value>,
    dtype: DType,
) -> Result<()> {
    let torch_dtype = match dtype {
        DType::F32 => "float32",
        DType::BF16 => "bfloat16",
        DType::F16 => "float16",
        other => {
            return Err(Error::config(
                dir.display().to_string(),
                "dtype",
                format!("cannot save weights as {other:?} (F32, BF16, F16)"),
            ));
        }
    };
    weights.check(config)?;
    let name = dir
        .file_name()
        .ok_or_else(|| {
            Error::io(
                "save into",
                dir,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "no folder name"),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    let written = write_hf_files(
        &tmp,
        config,
        weights,
        tokenizer,
        chat_template,
        generation_config,
        (dtype, torch_dtype),
    );
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(|e| Error::io("move aside", dir, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        return Err(Error::io("rename into place", dir, e));
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

fn write_hf_files(
    dir: &Path,
    config: &ModelConfig,
    weights: &Weights,
    tokenizer: &ModelTokenizer,
    chat_template: Option<&str>,
    generation_config: Option<&Value>,
    (dtype, torch_dtype): (DType, &str),
) -> Result<()> {
    write_json(&dir.join("config.json"), &config.to_hf_json(torch_dtype))?;
    let known: std::collections::BTreeSet<String> = crate::weights::expected_tensors(config)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (name, w) in weights.iter() {
        if known.contains(name) {
            tensors.insert(name.clone(), w.to_f32()?.to_dtype(dtype)?.contiguous()?);
        }
    }
    let st = dir.join("model.safetensors");
    candle_core::safetensors::save(&tensors, &st)
        .map_err(|e| Error::io("write", &st, std::io::Error::other(e.to_string())))?;
    // The safetensors writer creates a private file; give it the permissions of the others.
    let config_json = dir.join("config.json");
    let permissions = std::fs::metadata(&config_json)
        .map_err(|e| Error::io("read the metadata of", &config_json, e))?
        .permissions();
    std::fs::set_permissions(&st, permissions)
        .map_err(|e| Error::io("set the permissions of", &st, e))?;
    let tj = dir.join("tokenizer.json");
    let text = tokenizer.to_json()?;
    std::fs::write(&tj, text).map_err(|e| Error::io("write", &tj, e))?;

    let name_of = |id: Option<u32>| id.and_then(|id| tokenizer.token(id));
    let bos = name_of(tokenizer.bos_id());
    let eos = name_of(tokenizer.eos_ids().first().copied());
    let pad = name_of(tokenizer.pad_id());
    let mut added = serde_json::Map::new();
    let mut decoder: Vec<(u32, tokenizers::AddedToken)> = tokenizer
        .inner()
        .get_added_tokens_decoder()
        .into_iter()
        .collect();
    decoder.sort_by_key(|(id, _)| *id);
    let mut additional = Vec::new();
    for (id, t) in &decoder {
        added.insert(
            id.to_string(),
            json!({
                "content": t.content,
                "lstrip": t.lstrip,
                "normalized": t.normalized,
                "rstrip": t.rstrip,
                "single_word": t.single_word,
                "special": t.special,
            }),
        );
        if t.special && Some(&t.content) != bos.as_ref() && Some(&t.content) != eos.as_ref() {
            additional.push(t.content.clone());
        }
    }
    let mut tc = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": false,
        "model_max_length": config.max_position_embeddings,
        "added_tokens_decoder": added,
        "additional_special_tokens": additional,
    });
    let mut stm = serde_json::Map::new();
    for (key, v) in [
        ("bos_token", &bos),
        ("eos_token", &eos),
        ("pad_token", &pad),
    ] {
        if let (Some(v), Value::Object(m)) = (v, &mut tc) {
            m.insert(key.into(), json!(v));
            stm.insert(key.into(), json!(v));
        }
    }
    // A shipped template that drops tools is saved as the ChatML that our own stack renders
    // in its place (see `ChatTemplate::for_model`), so `transformers` and vLLM render the
    // tools and calls of the tuned model the way it was trained.
    let effective = chat_template.map(|src| {
        crate::chat::ChatTemplate::for_model(
            Some(src),
            bos.as_deref().unwrap_or_default(),
            eos.as_deref().unwrap_or_default(),
        )
        .ok()
        .and_then(|t| t.to_jinja())
        .unwrap_or_else(|| src.to_owned())
    });
    if let (Some(t), Value::Object(m)) = (effective, &mut tc) {
        m.insert("chat_template".into(), json!(t));
    }
    write_json(&dir.join("tokenizer_config.json"), &tc)?;
    write_json(&dir.join("special_tokens_map.json"), &Value::Object(stm))?;
    let mut generation = match generation_config {
        Some(Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    if let Some(bos) = tokenizer.bos_id() {
        generation.entry("bos_token_id").or_insert(json!(bos));
    }
    if !tokenizer.eos_ids().is_empty() {
        generation
            .entry("eos_token_id")
            .or_insert(json!(tokenizer.eos_ids()));
    }
    write_json(
        &dir.join("generation_config.json"),
        &Value::Object(generation),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_names_map_to_hf() {
        assert_eq!(
            hf_name("blk.12.attn_q.weight").as_deref(),
            Some("model.layers.12.self_attn.q_proj.weight")
        );
        assert_eq!(
            hf_name("token_embd.weight").as_deref(),
            Some("model.embed_tokens.weight")
        );
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }

    #[test]
    fn unpermute_inverts_the_gguf_interleaving() {
        // One head of 4 rows: HF rows [a0 a1 | b0 b1] are stored as [a0 b0 a1 b1].
        assert_eq!(unpermute_rows(4, 1), vec![0, 2, 1, 3]);
        assert_eq!(unpermute_rows(8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
