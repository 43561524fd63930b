//! Text generation: sampling (greedy, temperature, top-k, top-p, repetition penalty, seeded),
//! stop tokens and stop strings, streaming of decoded text deltas that never split a UTF-8
//! character or show a partial stop string, and batched generation of several prompts at once.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, Result};
use crate::model::{KvCache, Llama};
use crate::tokenizer::ModelTokenizer;

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (None: all).
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probability reaches `p` (None: all).
    pub top_p: Option<f32>,
    /// Divides positive (multiplies negative) logits of tokens already in the prompt or the
    /// output; 1 disables it.
    pub repetition_penalty: f32,
    /// Seed of the random generator (same seed, same prompt, same output).
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        Self::default()
    }

    fn validate(&self) -> Result<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(Error::Generation(format!(
                "temperature must be a finite number >= 0, got {}",
                self.temperature
            )));
        }
        if let Some(p) = self.top_p
            && (p.is_nan() || p <= 0.0 || p > 1.0)
        {
            return Err(Error::Generation(format!(
                "top_p must be in (0, 1], got {p}"
            )));
        }
        if self.top_k == Some(0) {
            return Err(Error::Generation("top_k must be at least 1".into()));
        }
        if !self.repetition_penalty.is_finite() || self.repetition_penalty <= 0.0 {
            return Err(Error::Generation(format!(
                "repetition_penalty must be a finite number > 0, got {}",
                self.repetition_penalty
            )));
        }
        Ok(())
    }
}

/// What to generate and when to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Sampling.
    pub sampling: SamplingParams,
    /// Generation stops before any of these strings (which are not part of the output).
    pub stop_strings: Vec<String>,
    /// Generation stops at any of these tokens, in addition to the model's end-of-sequence
    /// tokens (not part of the output).
    pub stop_tokens: Vec<u32>,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            max_new_tokens: 256,
            sampling: SamplingParams::default(),
            stop_strings: Vec::new(),
            stop_tokens: Vec::new(),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// An end-of-sequence token, a stop token or a stop string.
    Stop,
    /// `max_new_tokens` reached.
    Length,
}

/// The result of generating from one prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text (without the stop string or stop token).
    pub text: String,
    /// The generated token ids (without a final stop token).
    pub tokens: Vec<u32>,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Number of prompt tokens.
    pub prompt_tokens: usize,
}

/// Chooses tokens from logits.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
}

impl Sampler {
    /// A sampler; fails on invalid parameters.
    pub fn new(params: SamplingParams) -> Result<Self> {
        params.validate()?;
        let rng = StdRng::seed_from_u64(params.seed);
        Ok(Self { params, rng })
    }

    /// The next token given the logits and the tokens seen so far (prompt and output).
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(Error::Generation("empty logits".into()));
        }
        let mut logits = logits.to_vec();
        if self.params.repetition_penalty != 1.0 {
            let mut seen = std::collections::HashSet::new();
            for &t in history {
                if seen.insert(t)
                    && let Some(l) = logits.get_mut(t as usize)
                {
                    *l = if *l > 0.0 {
                        *l / self.params.repetition_penalty
                    } else {
                        *l * self.params.repetition_penalty
                    };
                }
            }
        }
        if self.params.temperature == 0.0 {
            return Ok(argmax(&logits));
        }
        let t = self.params.temperature;
        let mut cand: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l / t))
            .filter(|(_, l)| !l.is_nan())
            .collect();
        cand.sort_by(|a, b| b.1.total_cmp(&a.1));
        if let Some(k) = self.params.top_k {
            cand.truncate(k.max(1));
        }
        let max = cand.first().map(|c| c.1).unwrap_or(0.0);
        let mut probs: Vec<f32> = cand.iter().map(|c| (c.1 - max).exp()).collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        if let Some(top_p) = self.params.top_p {
            let mut acc = 0.0;
            let mut keep = probs.len();
            for (i, p) in probs.iter().enumerate() {
                acc += p;
                if acc >= top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            cand.truncate(keep);
        }
        let total: f32 = probs.iter().sum();
        let mut r = self.rng.random::<f32>() * total;
        for (c, p) in cand.iter().zip(&probs) {
            if r < *p {
                return Ok(c.0);
            }
            r -= p;
        }
        Ok(cand.last().map(|c| c.0).unwrap_or(0))
    }
}

fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Turns generated tokens into text deltas: never splits a UTF-8 character, and holds back
/// text that might be the start of a stop string.
#[derive(Debug, Clone)]
pub struct TextStream {
    ids: Vec<u32>,
    prefix: usize,
    read: usize,
    text: String,
    emitted: usize,
    stop_strings: Vec<String>,
    stopped: bool,
}

impl TextStream {
    /// A stream that stops before any of `stop_strings`.
    pub fn new(stop_strings: Vec<String>) -> Self {
        Self {
            ids: Vec::new(),
            prefix: 0,
            read: 0,
            text: String::new(),
            emitted: 0,
            stop_strings: stop_strings.into_iter().filter(|s| !s.is_empty()).collect(),
            stopped: false,
        }
    }

    /// Adds a token; returns the text that can be shown now, and whether a stop string ended
    /// the text.
    pub fn push(&mut self, tok: &ModelTokenizer, id: u32) -> Result<(String, bool)> {
        if self.stopped {
            return Ok((String::new(), true));
        }
        self.ids.push(id);
        let before = tok.decode(&self.ids[self.prefix..self.read], true)?;
        let after = tok.decode(&self.ids[self.prefix..], true)?;
        if after.len() > before.len()
            && !after.ends_with('\u{FFFD}')
            && let Some(delta) = after.get(before.len()..)
        {
            self.text.push_str(delta);
            self.prefix = self.read;
            self.read = self.ids.len();
        }
        Ok(self.release(false))
    }

    /// Text not yet shown (at the end of generation).
    pub fn finish(&mut self) -> String {
        self.release(true).0
    }

    /// The full text so far (cut at a stop string once one appeared).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn release(&mut self, at_end: bool) -> (String, bool) {
        let longest = self.stop_strings.iter().map(String::len).max().unwrap_or(0);
        let search_from = floor_char(&self.text, self.emitted.saturating_sub(longest));
        let mut hit: Option<usize> = None;
        for s in &self.stop_strings {
            if let Some(p) = self.text[search_from..].find(s.as_str()) {
                let p = search_from + p;
                hit = Some(hit.map_or(p, |h: usize| h.min(p)));
            }
        }
        if let Some(p) = hit {
            self.text.truncate(p);
            self.stopped = true;
            let out = self.text.get(self.emitted..).unwrap_or("").to_owned();
            self.emitted = self.text.len();
            return (out, true);
        }
        let mut end = self.text.len();
        if !at_end {
            // Hold back the longest suffix that is a prefix of a stop string.
            for s in &self.stop_strings {
                for k in (1..s.len().min(self.text.len() + 1)).rev() {
                    if s.is_char_boundary(k)
                        && self.text.len() >= k
                        && self.text.is_char_boundary(self.text.len() - k)
                        && self.text.ends_with(&s[..k])
                    {
                        end = end.min(self.text.len() - k);
                        break;
                    }
                }
            }
        }
        let end = end.max(self.emitted);
        let out = self.text.get(self.emitted..end).unwrap_or("").to_owned();
        self.emitted = end;
        (out, false)
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Generates from one prompt (token ids), calling `on_text` with each new piece of text.
pub fn generate(
    model: &Llama,
    tokenizer: &ModelTokenizer,
    prompt: &[u32],
    params: &GenerateParams,
    on_text: &mut dyn FnMut(&str),
) -> Result<Generation> {
    let mut out = generate_batch(
        model,
        tokenizer,
        &[prompt.to_vec()],
        std::slice::from_ref(params),
        &mut |_, s| on_text(s),
    )?;
    out.pop()
        .ok_or_else(|| Error::Generation("no output".into()))
}

struct Running {
    sampler: Sampler,
    stream: TextStream,
    cache: KvCache,
    history: Vec<u32>,
    generated: Vec<u32>,
    next: Vec<u32>,
    finish: Option<FinishReason>,
    stops: Vec<u32>,
    max_new: usize,
    prompt_len: usize,
}

/// Generates from several prompts at once (one pass per step over all unfinished sequences);
/// `params` holds one entry per prompt, or one for all. `on_text(i, delta)` streams the text
/// of prompt `i`.
pub fn generate_batch(
    model: &Llama,
    tokenizer: &ModelTokenizer,
    prompts: &[Vec<u32>],
    params: &[GenerateParams],
    on_text: &mut dyn FnMut(usize, &str),
) -> Result<Vec<Generation>> {
    if params.len() != prompts.len() && params.len() != 1 {
        return Err(Error::Generation(format!(
            "{} prompts but {} parameter sets (give one per prompt, or one for all)",
            prompts.len(),
            params.len()
        )));
    }
    let mut seqs = Vec::with_capacity(prompts.len());
    for (i, prompt) in prompts.iter().enumerate() {
        if prompt.is_empty() {
            return Err(Error::Generation(format!("prompt {i} is empty")));
        }
        let p = &params[if params.len() == 1 { 0 } else { i }];
        let mut stops = tokenizer.eos_ids().to_vec();
        stops.extend_from_slice(&p.stop_tokens);
        let limit = model.config().max_position_embeddings;
        if prompt.len() >= limit {
            return Err(Error::Generation(format!(
                "prompt {i} has {} tokens; the model's context is {limit}",
                prompt.len()
            )));
        }
        seqs.push(Running {
            sampler: Sampler::new(p.sampling.clone())?,
            stream: TextStream::new(p.stop_strings.clone()),
            cache: model.new_cache(),
            history: prompt.clone(),
            generated: Vec::new(),
            next: prompt.clone(),
            finish: (p.max_new_tokens == 0).then_some(FinishReason::Length),
            stops,
            max_new: p.max_new_tokens.min(limit - prompt.len()),
            prompt_len: prompt.len(),
        });
    }
    loop {
        let active: Vec<usize> = (0..seqs.len())
            .filter(|&i| seqs[i].finish.is_none())
            .collect();
        if active.is_empty() {
            break;
        }
        let logits = {
            let mut batch: Vec<(&[u32], &mut KvCache)> = seqs
                .iter_mut()
                .filter(|s| s.finish.is_none())
                .map(|s| (s.next.as_slice(), &mut s.cache))
                .collect();
            model.forward_batch(&mut batch)?.to_vec2::<f32>()?
        };
        for (row, &i) in active.iter().enumerate() {
            let s = &mut seqs[i];
            let id = s.sampler.sample(&logits[row], &s.history)?;
            if s.stops.contains(&id) {
                s.finish = Some(FinishReason::Stop);
            } else {
                s.generated.push(id);
                s.history.push(id);
                s.next = vec![id];
                let (delta, stopped) = s.stream.push(tokenizer, id)?;
                if !delta.is_empty() {
                    on_text(i, &delta);
                }
                if stopped {
                    s.finish = Some(FinishReason::Stop);
                } else if s.generated.len() >= s.max_new {
                    s.finish = Some(FinishReason::Length);
                }
            }
            if s.finish.is_some() {
                let rest = s.stream.finish();
                if !rest.is_empty() {
                    on_text(i, &rest);
                }
            }
        }
    }
    Ok(seqs
        .into_iter()
        .map(|s| Generation {
            text: s.stream.text().to_owned(),
            tokens: s.generated,
            finish_reason: s.finish.unwrap_or(FinishReason::Length),
            prompt_tokens: s.prompt_len,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn greedy_is_argmax_and_penalty_applies() {
        let mut s = Sampler::new(SamplingParams::greedy()).unwrap();
        assert_eq!(s.sample(&[0.1, 2.0, 1.9], &[]).unwrap(), 1);
        let mut p = Sampler::new(SamplingParams {
            repetition_penalty: 2.0,
            ..SamplingParams::greedy()
        })
        .unwrap();
        assert_eq!(p.sample(&[0.1, 2.0, 1.9], &[1]).unwrap(), 2);
    }

    #[test]
    fn seeded_sampling_repeats_and_top_k_restricts() {
        let params = SamplingParams {
            temperature: 1.0,
            top_k: Some(2),
            seed: 7,
            ..SamplingParams::default()
        };
        let logits = [1.0, 1.2, 0.9, 1.1, -3.0];
        let draw = |params: &SamplingParams| {
            let mut s = Sampler::new(params.clone()).unwrap();
            (0..50)
                .map(|_| s.sample(&logits, &[]).unwrap())
                .collect::<Vec<_>>()
        };
        let a = draw(&params);
        assert_eq!(a, draw(&params));
        assert!(a.iter().all(|&t| t == 1 || t == 3), "{a:?}");
        assert!(a.contains(&1) && a.contains(&3));
        let narrow = SamplingParams {
            top_k: None,
            top_p: Some(0.01),
            ..params
        };
        assert!(draw(&narrow).iter().all(|&t| t == 1));
    }

    #[test]
    fn invalid_params_are_rejected() {
        for bad in [
            SamplingParams {
                temperature: -1.0,
                ..SamplingParams::default()
            },
            SamplingParams {
                top_p: Some(1.5),
                ..SamplingParams::default()
            },
            SamplingParams {
                top_k: Some(0),
                ..SamplingParams::default()
            },
        ] {
            assert!(Sampler::new(bad).is_err());
        }
    }
}
