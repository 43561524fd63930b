//! The tokenizer: a `tokenizers::Tokenizer` loaded from `tokenizer.json` or built from GGUF
//! metadata (byte-level BPE with the model's pre-tokenizer and its control tokens as special
//! added tokens), with the model's special token ids.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::error::{Error, Result};

/// Llama 3's pre-tokenizer pattern (numbers in groups of up to three digits).
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2's pre-tokenizer pattern (single digits).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A tokenizer with the model's special tokens.
#[derive(Debug, Clone)]
pub struct ModelTokenizer {
    inner: Tokenizer,
    bos: Option<u32>,
    eos: Vec<u32>,
    pad: Option<u32>,
}

fn tok_err(e: impl std::fmt::Display) -> Error {
    Error::Tokenizer(e.to_string())
}

fn md_str<'a>(md: &'a HashMap<String, gguf_file::Value>, key: &str) -> Option<&'a str> {
    md.get(key)
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
}

fn md_u32(md: &HashMap<String, gguf_file::Value>, key: &str) -> Option<u32> {
    md.get(key)
        .and_then(crate::pretrained::gguf_uint)
        .and_then(|v| u32::try_from(v).ok())
}

impl ModelTokenizer {
    /// Wraps a tokenizer; special ids as given.
    pub fn new(inner: Tokenizer, bos: Option<u32>, eos: Vec<u32>, pad: Option<u32>) -> Self {
        Self {
            inner,
            bos,
            eos,
            pad,
        }
    }

    /// Builds the tokenizer from GGUF metadata (`tokenizer.ggml.*`).
    pub fn from_gguf(md: &HashMap<String, gguf_file::Value>) -> Result<Self> {
        let model = md_str(md, "tokenizer.ggml.model").unwrap_or("gpt2");
        if model != "gpt2" {
            return Err(Error::Tokenizer(format!(
                "GGUF tokenizer model `{model}` is not supported (only byte-level BPE, `gpt2`); \
                 load the model's tokenizer.json from its HF folder instead"
            )));
        }
        let tokens = md
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.to_vec().ok())
            .ok_or_else(|| Error::Tokenizer("GGUF metadata has no tokenizer.ggml.tokens".into()))?;
        let tokens: Vec<String> = tokens
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.to_string().cloned().map_err(|_| {
                    Error::Tokenizer(format!("tokenizer.ggml.tokens[{i}] is not a string"))
                })
            })
            .collect::<Result<_>>()?;
        let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(tok_err)?
                .iter()
                .map(|t| crate::pretrained::gguf_number(t).map_or(1, |x| x as i32))
                .collect(),
            None => vec![1; tokens.len()],
        };
        let merges: Vec<(String, String)> = match md.get("tokenizer.ggml.merges") {
            Some(v) => v
                .to_vec()
                .map_err(tok_err)?
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let s = m.to_string().map_err(|_| {
                        Error::Tokenizer(format!("tokenizer.ggml.merges[{i}] is not a string"))
                    })?;
                    let (a, b) = s.split_once(' ').ok_or_else(|| {
                        Error::Tokenizer(format!(
                            "tokenizer.ggml.merges[{i}] `{s}` is not two tokens separated by a space"
                        ))
                    })?;
                    Ok((a.to_owned(), b.to_owned()))
                })
                .collect::<Result<_>>()?,
            None => Vec::new(),
        };
        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(tok_err)?;
        let mut tok = Tokenizer::new(bpe);
        let pre = md_str(md, "tokenizer.ggml.pre").unwrap_or("default");
        let pre_tokenizer: PreTokenizerWrapper = match pre {
            "default" | "gpt2" | "gpt-2" => ByteLevel::new(false, true, true).into(),
            "smollm" | "starcoder" | "refact" => Sequence::new(vec![
                Digits::new(true).into(),
                ByteLevel::new(false, true, true).into(),
            ])
            .into(),
            "llama-bpe" | "llama3" | "llama-v3" | "smaug-bpe" => split_then_bytes(LLAMA3_PATTERN)?,
            "qwen2" | "deepseek-r1-qwen" => split_then_bytes(QWEN2_PATTERN)?,
            other => {
                return Err(Error::Tokenizer(format!(
                    "GGUF pre-tokenizer `{other}` is not supported (default, gpt2, smollm, \
                     llama-bpe, qwen2)"
                )));
            }
        };
        tok.with_pre_tokenizer(Some(pre_tokenizer));
        tok.with_decoder(Some(ByteLevelDecoder::default()));
        let added: Vec<AddedToken> = tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .filter(|(_, t)| **t == 3 || **t == 4)
            .map(|(s, t)| AddedToken::from(s.clone(), *t == 3).normalized(false))
            .collect();
        let (special, user): (Vec<AddedToken>, Vec<AddedToken>) =
            added.into_iter().partition(|t| t.special);
        tok.add_special_tokens(special).map_err(tok_err)?;
        tok.add_tokens(user).map_err(tok_err)?;
        let bos = md_u32(md, "tokenizer.ggml.bos_token_id");
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.to_bool().ok())
            .unwrap_or(false);
        if let (true, Some(bos)) = (add_bos, bos) {
            let bos_text = tokens.get(bos as usize).cloned().ok_or_else(|| {
                Error::Tokenizer(format!("bos token id {bos} is outside the vocabulary"))
            })?;
            let post = TemplateProcessing::builder()
                .try_single(format!("{bos_text} $A"))
                .map_err(tok_err)?
                .try_pair(format!("{bos_text} $A $B"))
                .map_err(tok_err)?
                .special_tokens(vec![(bos_text, bos)])
                .build()
                .map_err(tok_err)?;
            tok.with_post_processor(Some(post));
        }
        let eos = md_u32(md, "tokenizer.ggml.eos_token_id")
            .into_iter()
            .collect();
        let pad = md_u32(md, "tokenizer.ggml.padding_token_id");
        Ok(Self::new(tok, bos, eos, pad))
    }

    /// Loads `tokenizer.json`; special tokens are given by name (from tokenizer_config.json)
    /// or id (from config.json / generation_config.json).
    pub fn from_file(path: &Path) -> Result<Self> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        Ok(Self::new(inner, None, Vec::new(), None))
    }

    /// The underlying tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// The beginning-of-sequence id.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence ids (generation stops on any).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// The padding id.
    pub fn pad_id(&self) -> Option<u32> {
        self.pad
    }

    /// Sets the beginning-of-sequence id.
    pub fn set_bos(&mut self, bos: Option<u32>) {
        self.bos = bos;
    }

    /// Adds end-of-sequence ids (duplicates ignored).
    pub fn add_eos(&mut self, ids: &[u32]) {
        for &id in ids {
            if !self.eos.contains(&id) {
                self.eos.push(id);
            }
        }
    }

    /// Sets the padding id.
    pub fn set_pad(&mut self, pad: Option<u32>) {
        self.pad = pad;
    }

    /// The text of a token id.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a token's text.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Encodes text; special tokens written in the text (`<|im_start|>`) become their ids.
    /// `add_special` lets the tokenizer's post-processor add BOS where the model wants it.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, add_special).map_err(tok_err)?;
        Ok(enc.get_ids().to_vec())
    }

    /// Tokenizes a rendered training conversation: the ids, and for each token the loss
    /// weight of predicting it (the weight of the span it overlaps, else 0).
    pub fn encode_training(&self, t: &crate::chat::TrainingText) -> Result<(Vec<u32>, Vec<f32>)> {
        let enc = self.inner.encode(t.text.as_str(), false).map_err(tok_err)?;
        let weights = enc
            .get_offsets()
            .iter()
            .map(|&(start, end)| {
                t.spans
                    .iter()
                    .find(|(r, _)| {
                        if start == end {
                            r.contains(&start)
                        } else {
                            start < r.end && end > r.start
                        }
                    })
                    .map_or(0.0, |(_, w)| *w)
            })
            .collect();
        Ok((enc.get_ids().to_vec(), weights))
    }

    /// Decodes ids, keeping special tokens as text unless `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner.decode(ids, skip_special).map_err(tok_err)
    }

    /// The tokenizer as `tokenizer.json` text.
    pub fn to_json(&self) -> Result<String> {
        self.inner.to_string(true).map_err(tok_err)
    }
}

fn split_then_bytes(pattern: &str) -> Result<PreTokenizerWrapper> {
    let split = Split::new(
        SplitPattern::Regex(pattern.to_owned()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(tok_err)?;
    Ok(Sequence::new(vec![
        split.into(),
        ByteLevel::new(false, true, false).into(),
    ])
    .into())
}
