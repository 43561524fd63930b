//! Forgetting check: how well the base and the tuned model predict the reference answers of
//! a general-data holdout, in-process through the model crate. Each sample is rendered with
//! the model's chat template and tokenized as for training; the negative log-likelihood of its
//! answer tokens (the tokens training puts loss on) gives a per-sample and an overall
//! perplexity. A tuned model whose perplexity exceeds the base's by more than a threshold has
//! forgotten general ability; a paired bootstrap over samples says whether the change is more
//! than noise. Answer similarity is the second view: each model answers the sample's last user
//! turn (greedy, in-process) and its answer is scored against the reference by ROUGE-L F1; a
//! significant drop beyond a threshold is flagged too.

use agentune_data::shards::tokenize_sample;
use agentune_model::{ChatTemplate, GenerateParams, Llama, ModelTokenizer};
use agentune_schema::{Role, Sample};
use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::bootstrap::{BootstrapSettings, PairedDiff, paired_bootstrap};
use crate::error::{Error, Result};

/// The answer-token likelihood of one sample under one model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AnswerNll {
    /// Answer tokens scored.
    pub tokens: usize,
    /// Their summed negative log-likelihood (nats).
    pub nll: f64,
}

impl AnswerNll {
    /// Mean negative log-likelihood per answer token.
    pub fn mean(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.nll / self.tokens as f64
        }
    }
}

fn model_err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("model: {e}"))
}

/// The negative log-likelihood of each target token `targets[i]` under `logits` row `i`
/// (`log-sum-exp(row) - row[target]`), summed over rows with a positive `weights[i]`.
pub fn weighted_nll(logits: &[Vec<f32>], targets: &[u32], weights: &[f32]) -> AnswerNll {
    let mut out = AnswerNll {
        tokens: 0,
        nll: 0.0,
    };
    for ((row, &t), &w) in logits.iter().zip(targets).zip(weights) {
        if w <= 0.0 {
            continue;
        }
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = max
            + row
                .iter()
                .map(|&x| (x as f64 - max).exp())
                .sum::<f64>()
                .ln();
        let target = row.get(t as usize).copied().unwrap_or(f32::NEG_INFINITY) as f64;
        out.nll += lse - target;
        out.tokens += 1;
    }
    out
}

/// The answer-token likelihood of `sample` under `net`, its first `max_len` tokens at most.
/// `None` when no answer token falls within them.
pub fn answer_nll(
    net: &Llama,
    tokenizer: &ModelTokenizer,
    template: &ChatTemplate,
    sample: &Sample,
    max_len: usize,
) -> Result<Option<AnswerNll>> {
    let tokenized = tokenize_sample(tokenizer, template, sample)?;
    let n = tokenized.tokens.len().min(max_len);
    if n < 2 {
        return Ok(None);
    }
    let input = &tokenized.tokens[..n - 1];
    let targets = &tokenized.tokens[1..n];
    let weights = &tokenized.weights[1..n];
    if !weights.iter().any(|w| *w > 0.0) {
        return Ok(None);
    }
    let ids = Tensor::new(input, &Device::Cpu)
        .and_then(|t| t.unsqueeze(0))
        .map_err(model_err)?;
    let logits = net.forward(&ids).map_err(model_err)?;
    let rows: Vec<Vec<f32>> = logits
        .squeeze(0)
        .and_then(|t| t.to_dtype(candle_core::DType::F32))
        .and_then(|t| t.to_vec2())
        .map_err(model_err)?;
    Ok(Some(weighted_nll(&rows, targets, weights)))
}

/// The sample's reference answer: its last assistant message, when that message is text
/// without tool calls. Returns the message's index (the prompt is everything before it) and
/// its text.
pub fn reference_answer(sample: &Sample) -> Option<(usize, &str)> {
    let (i, m) = sample
        .messages
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.role == Role::Assistant)?;
    let text = m.content.as_deref()?.trim();
    if !m.tool_calls.is_empty() || text.is_empty() {
        return None;
    }
    Some((i, text))
}

/// The model's greedy answer to the sample's prompt (every message before the reference
/// answer), at most `max_new_tokens` tokens. `None` when the sample has no reference answer or
/// its prompt exceeds `max_len` tokens.
pub fn generate_answer(
    net: &Llama,
    tokenizer: &ModelTokenizer,
    template: &ChatTemplate,
    sample: &Sample,
    max_len: usize,
    max_new_tokens: usize,
) -> Result<Option<String>> {
    let Some((i, _)) = reference_answer(sample) else {
        return Ok(None);
    };
    let prompt = template.render(&sample.messages[..i], &sample.tools, true)?;
    let ids = tokenizer.encode(&prompt, false)?;
    if ids.is_empty() || ids.len() > max_len {
        return Ok(None);
    }
    let params = GenerateParams {
        max_new_tokens,
        ..GenerateParams::default()
    };
    let out = agentune_model::generate::generate(net, tokenizer, &ids, &params, &mut |_| {})?;
    Ok(Some(out.text.trim().to_owned()))
}

/// One model's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelScore {
    /// The model as named on the command line.
    pub model: String,
    /// Answer tokens scored.
    pub tokens: usize,
    /// Mean negative log-likelihood per answer token.
    pub mean_nll: f64,
    /// `exp(mean_nll)`.
    pub perplexity: f64,
}

fn totals(model: &str, scores: &[AnswerNll]) -> ModelScore {
    let tokens: usize = scores.iter().map(|s| s.tokens).sum();
    let nll: f64 = scores.iter().map(|s| s.nll).sum();
    let mean_nll = if tokens == 0 {
        0.0
    } else {
        nll / tokens as f64
    };
    ModelScore {
        model: model.to_owned(),
        tokens,
        mean_nll,
        perplexity: mean_nll.exp(),
    }
}

/// The comparison of base and tuned over the same samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForgettingReport {
    /// Samples scored by both models.
    pub samples: usize,
    /// The base model.
    pub base: ModelScore,
    /// The tuned model.
    pub tuned: ModelScore,
    /// `tuned.perplexity / base.perplexity`.
    pub perplexity_ratio: f64,
    /// The largest ratio tolerated is `1 + threshold`.
    pub threshold: f64,
    /// Tuned minus base per-sample mean NLL, with its paired bootstrap interval.
    pub nll_diff: Option<PairedDiff>,
    /// The ratio exceeds `1 + threshold` and the NLL increase is significant.
    pub perplexity_regressed: bool,
    /// Answer similarity of both models against the references, when generated.
    pub similarity: Option<SimilarityCheck>,
    /// Perplexity or answer similarity regressed.
    pub regressed: bool,
}

/// Answer similarity (ROUGE-L F1 against the reference answers) of base and tuned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarityCheck {
    /// Samples answered by both models.
    pub samples: usize,
    /// The base model's mean ROUGE-L F1.
    pub base_rouge_l: f64,
    /// The tuned model's mean ROUGE-L F1.
    pub tuned_rouge_l: f64,
    /// The largest tolerated drop of the mean (absolute, 0.05 = five points).
    pub max_drop: f64,
    /// Tuned minus base per-sample ROUGE-L, with its paired bootstrap interval.
    pub diff: Option<PairedDiff>,
    /// The mean dropped by more than `max_drop` and the drop is significant.
    pub regressed: bool,
}

/// Compares per-sample ROUGE-L F1 of base and tuned (paired by position).
pub fn compare_similarity(
    base: &[f64],
    tuned: &[f64],
    max_drop: f64,
    settings: BootstrapSettings,
) -> Result<SimilarityCheck> {
    if base.len() != tuned.len() {
        return Err(Error::Invalid(format!(
            "{} base answers against {} tuned answers",
            base.len(),
            tuned.len()
        )));
    }
    let mean = |xs: &[f64]| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().sum::<f64>() / xs.len() as f64
        }
    };
    let diff = paired_bootstrap(base, tuned, settings);
    let (b, t) = (mean(base), mean(tuned));
    let regressed = b - t > max_drop && diff.is_some_and(|d| d.significant && d.delta < 0.0);
    Ok(SimilarityCheck {
        samples: base.len(),
        base_rouge_l: b,
        tuned_rouge_l: t,
        max_drop,
        diff,
        regressed,
    })
}

/// Compares per-sample scores of base and tuned (paired by position).
pub fn compare(
    base_name: &str,
    base: &[AnswerNll],
    tuned_name: &str,
    tuned: &[AnswerNll],
    threshold: f64,
    settings: BootstrapSettings,
) -> Result<ForgettingReport> {
    if base.len() != tuned.len() {
        return Err(Error::Invalid(format!(
            "{} base scores against {} tuned scores",
            base.len(),
            tuned.len()
        )));
    }
    let b = totals(base_name, base);
    let t = totals(tuned_name, tuned);
    let ratio = if b.perplexity > 0.0 {
        t.perplexity / b.perplexity
    } else {
        f64::INFINITY
    };
    let a: Vec<f64> = base.iter().map(AnswerNll::mean).collect();
    let c: Vec<f64> = tuned.iter().map(AnswerNll::mean).collect();
    let diff = paired_bootstrap(&a, &c, settings);
    let regressed = ratio > 1.0 + threshold && diff.is_some_and(|d| d.significant && d.delta > 0.0);
    Ok(ForgettingReport {
        samples: base.len(),
        base: b,
        tuned: t,
        perplexity_ratio: ratio,
        threshold,
        nll_diff: diff,
        perplexity_regressed: regressed,
        similarity: None,
        regressed,
    })
}

impl ForgettingReport {
    /// Adds the answer-similarity check; a regression there flags the report too.
    pub fn with_similarity(mut self, check: SimilarityCheck) -> Self {
        self.regressed = self.perplexity_regressed || check.regressed;
        self.similarity = Some(check);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nll_by_hand() {
        // Uniform logits over 4 tokens: -ln(1/4) per token.
        let rows = vec![vec![0.0f32; 4], vec![0.0; 4], vec![0.0; 4]];
        let s = weighted_nll(&rows, &[1, 2, 3], &[1.0, 0.0, 1.0]);
        assert_eq!(s.tokens, 2);
        assert!((s.mean() - 4f64.ln()).abs() < 1e-9, "{s:?}");
        // A confident right prediction costs almost nothing, a confident wrong one a lot.
        let rows = vec![vec![20.0f32, 0.0, 0.0]];
        assert!(weighted_nll(&rows, &[0], &[1.0]).nll < 1e-6);
        assert!(weighted_nll(&rows, &[1], &[1.0]).nll > 19.0);
    }

    #[test]
    fn regression_is_flagged_only_when_large_and_significant() {
        let s = |m: f64| AnswerNll {
            tokens: 10,
            nll: 10.0 * m,
        };
        let base: Vec<AnswerNll> = (0..40).map(|i| s(1.0 + 0.01 * f64::from(i % 5))).collect();
        let worse: Vec<AnswerNll> = base.iter().map(|x| s(x.mean() + 0.5)).collect();
        let r = compare("b", &base, "t", &worse, 0.1, BootstrapSettings::default()).unwrap();
        assert!(
            r.perplexity_ratio > 1.6 && r.perplexity_ratio < 1.7,
            "{r:?}"
        );
        assert!(r.regressed);
        let same = compare("b", &base, "t", &base, 0.1, BootstrapSettings::default()).unwrap();
        assert!((same.perplexity_ratio - 1.0).abs() < 1e-12);
        assert!(!same.regressed);
        // A small, consistent increase under the threshold is not flagged.
        let slightly: Vec<AnswerNll> = base.iter().map(|x| s(x.mean() + 0.02)).collect();
        let r = compare(
            "b",
            &base,
            "t",
            &slightly,
            0.1,
            BootstrapSettings::default(),
        )
        .unwrap();
        assert!(!r.regressed, "{r:?}");
        assert!(
            compare(
                "b",
                &base,
                "t",
                &base[..3],
                0.1,
                BootstrapSettings::default()
            )
            .is_err()
        );
    }

    #[test]
    fn similarity_drop_is_flagged_only_when_large_and_significant() {
        let base: Vec<f64> = (0..30).map(|i| 0.6 + 0.01 * f64::from(i % 7)).collect();
        let worse: Vec<f64> = base.iter().map(|x| x - 0.2).collect();
        let s = BootstrapSettings::default();
        let c = compare_similarity(&base, &worse, 0.05, s).unwrap();
        assert!(c.regressed, "{c:?}");
        assert!((c.base_rouge_l - c.tuned_rouge_l - 0.2).abs() < 1e-9);
        // Better answers, equal answers and a small drop are not regressions.
        assert!(
            !compare_similarity(&worse, &base, 0.05, s)
                .unwrap()
                .regressed
        );
        assert!(!compare_similarity(&base, &base, 0.05, s).unwrap().regressed);
        let slightly: Vec<f64> = base.iter().map(|x| x - 0.02).collect();
        assert!(
            !compare_similarity(&base, &slightly, 0.05, s)
                .unwrap()
                .regressed
        );
        // A large drop on one noisy sample out of many is not significant.
        let mut one = base.clone();
        one[0] = 0.0;
        let c = compare_similarity(&base[..2], &one[..2], 0.05, s).unwrap();
        assert!(c.base_rouge_l - c.tuned_rouge_l > 0.05);
        assert!(compare_similarity(&base, &base[..3], 0.05, s).is_err());
        // The report carries it and a similarity regression flags the whole report.
        let n = |m: f64| AnswerNll {
            tokens: 4,
            nll: 4.0 * m,
        };
        let nll = vec![n(1.0), n(1.1), n(0.9)];
        let r = compare("b", &nll, "t", &nll, 0.1, s).unwrap();
        assert!(!r.regressed);
        let r = r.with_similarity(compare_similarity(&base, &worse, 0.05, s).unwrap());
        assert!(r.regressed && !r.perplexity_regressed);
    }

    #[test]
    fn reference_answer_is_the_last_text_assistant_turn() {
        use agentune_schema::{Complexity, Message, QueryKind, QueryMeta, ToolCall};
        let mut s = Sample {
            schema_version: Default::default(),
            id: "g1".into(),
            messages: Vec::new(),
            tools: Vec::new(),
            template_id: None,
            meta: QueryMeta::new("general", QueryKind::General, Complexity::Simple, "en"),
            split: None,
            group: None,
            provenance: None,
        };
        assert!(reference_answer(&s).is_none());
        s.messages = vec![
            Message::text(Role::User, "Name a prime."),
            Message::text(Role::Assistant, "  Seven.  "),
        ];
        assert_eq!(reference_answer(&s), Some((1, "Seven.")));
        let mut call = Message::text(Role::Assistant, "");
        call.tool_calls.push(
            serde_json::from_value::<ToolCall>(
                serde_json::json!({"name": "calculator", "arguments": {}}),
            )
            .unwrap(),
        );
        s.messages.push(Message::text(Role::User, "Another?"));
        s.messages.push(call);
        assert!(reference_answer(&s).is_none());
    }
}
