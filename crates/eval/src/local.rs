//! In-process generation: a model the model crate loads (`smollm2`, a GGUF file, an HF folder
//! or a trainer checkpoint) answering chat requests on the CPU, so the eval commands can run
//! without a server. Each request is rendered with the model's own chat template (tools the
//! request offers included), generated with its sampling settings and stop strings, and
//! returned as a text reply for the agent template to parse.

use agentune_model::{
    ChatTemplate, FinishReason, GenerateParams, Llama, Mode, ModelTokenizer, Pretrained,
    SamplingParams, WeightFormat,
};
use agentune_runtime::model::{ChatModel, ChatRequest, ChatResponse, Usage};
use agentune_schema::{Message, Role};

use crate::error::Result;

/// Most tokens generated when a request names no limit.
pub const DEFAULT_MAX_TOKENS: usize = 512;

/// A model answering chat requests in-process.
pub struct LocalModel {
    spec: String,
    net: Llama,
    tokenizer: ModelTokenizer,
    template: ChatTemplate,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Loads `spec` (as `Pretrained::load` resolves it) with f32 weights.
    pub fn load(spec: &str) -> Result<Self> {
        let m = Pretrained::load(spec, WeightFormat::F32)?;
        let net = Llama::new(&m.config, &m.weights, Mode::Infer)?;
        let template = m.template()?;
        Ok(Self {
            spec: spec.to_owned(),
            net,
            tokenizer: m.tokenizer,
            template,
        })
    }

    /// The model as it was named.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    fn failure(&self, message: impl std::fmt::Display) -> agentune_runtime::Error {
        agentune_runtime::Error::BadResponse {
            url: format!("local model {}", self.spec),
            message: message.to_string(),
        }
    }
}

/// The generation settings of a request.
pub fn params_of(request: &ChatRequest) -> GenerateParams {
    GenerateParams {
        max_new_tokens: request
            .max_tokens
            .map_or(DEFAULT_MAX_TOKENS, |n| n as usize),
        sampling: SamplingParams {
            temperature: request.temperature.unwrap_or(0.0).max(0.0) as f32,
            seed: request.seed.unwrap_or(0),
            ..SamplingParams::default()
        },
        stop_strings: request.stop.clone(),
        stop_tokens: Vec::new(),
    }
}

impl ChatModel for LocalModel {
    fn chat(&self, request: &ChatRequest) -> agentune_runtime::Result<ChatResponse> {
        let tools = request.tools.clone().unwrap_or_default();
        let prompt = self
            .template
            .render(&request.messages, &tools, true)
            .map_err(|e| self.failure(e))?;
        let ids = self
            .tokenizer
            .encode(&prompt, false)
            .map_err(|e| self.failure(e))?;
        let out = agentune_model::generate(
            &self.net,
            &self.tokenizer,
            &ids,
            &params_of(request),
            &mut |_| {},
        )
        .map_err(|e| self.failure(e))?;
        Ok(ChatResponse {
            message: Message::text(Role::Assistant, out.text),
            finish_reason: Some(
                match out.finish_reason {
                    FinishReason::Stop => "stop",
                    FinishReason::Length => "length",
                }
                .to_owned(),
            ),
            usage: Some(Usage {
                prompt_tokens: out.prompt_tokens as u64,
                completion_tokens: out.tokens.len() as u64,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn request_settings_become_generation_settings() {
        let mut r = ChatRequest::new(vec![Message::user("hi")]);
        let p = params_of(&r);
        assert_eq!(p.max_new_tokens, DEFAULT_MAX_TOKENS);
        assert_eq!(p.sampling.temperature, 0.0);
        assert!(p.stop_strings.is_empty());
        r.max_tokens = Some(7);
        r.temperature = Some(0.7);
        r.seed = Some(3);
        r.stop = vec!["Observation:".into()];
        let p = params_of(&r);
        assert_eq!(p.max_new_tokens, 7);
        assert!((p.sampling.temperature - 0.7).abs() < 1e-6);
        assert_eq!(p.sampling.seed, 3);
        assert_eq!(p.stop_strings, vec!["Observation:".to_owned()]);
        r.temperature = Some(-1.0);
        assert_eq!(params_of(&r).sampling.temperature, 0.0);
    }

    #[test]
    fn a_missing_model_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = LocalModel::load(missing.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
