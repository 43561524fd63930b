//! The engine: one scheduler thread owns the network and runs every admitted sequence with
//! continuous batching. Requests arrive over a channel and wait in a bounded queue; between
//! two forward passes finished or abandoned sequences leave and waiting ones join while their
//! KV cache fits the memory budget. A long prompt is prefilled in chunks next to the running
//! decodes, so it never stalls them. A sequence whose client went away is dropped before the
//! next pass.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::Instant;

use agentune_model::{
    FinishReason, KvCache, Llama, ModelTokenizer, Sampler, SamplingParams, TextStream,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::ApiError;
use crate::guide::{Guide, GuideSpec};
use crate::metrics::Metrics;

/// What the engine sends back for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// New text (never a partial UTF-8 character or a partial stop string).
    Text(String),
    /// Generation ended.
    Done {
        /// Why.
        finish: FinishReason,
        /// Prompt tokens.
        prompt_tokens: usize,
        /// Generated tokens.
        completion_tokens: usize,
    },
    /// The engine failed on this sequence.
    Failed(String),
}

/// One generation job.
#[derive(Debug)]
pub struct Job {
    /// Prompt token ids (not empty).
    pub prompt: Vec<u32>,
    /// Most tokens to generate (at least 1).
    pub max_new: usize,
    /// Sampling parameters.
    pub sampling: SamplingParams,
    /// Generation stops before any of these strings.
    pub stop_strings: Vec<String>,
    /// Keep generating past end-of-sequence tokens.
    pub ignore_eos: bool,
    /// Generate exactly one JSON value of this schema, then this suffix, then stop.
    pub guide: Option<GuideSpec>,
    /// Where events go; when the receiver is dropped the sequence is abandoned.
    pub events: UnboundedSender<Event>,
    /// When the request arrived (for the time to first token).
    pub arrived: Instant,
}

/// Limits of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// Most sequences in one batch.
    pub max_batch: usize,
    /// Most requests waiting for a slot; more are refused.
    pub max_queue: usize,
    /// Token positions all KV caches together may hold.
    pub kv_budget_tokens: usize,
    /// Most prompt tokens fed in one pass (over all prefilling sequences).
    pub prefill_chunk: usize,
    /// Seconds a refused client is told to wait.
    pub retry_after_s: u64,
}

/// The handle requests use to reach the engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Job>,
    metrics: Arc<Metrics>,
    limits: EngineLimits,
    context: usize,
}

/// KV cache grows in chunks of this many positions (as the model crate allocates it).
const CACHE_CHUNK: usize = 256;

impl EngineHandle {
    /// Starts the scheduler thread owning `model`.
    pub fn start(
        model: Llama,
        tokenizer: ModelTokenizer,
        limits: EngineLimits,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let context = model.config().max_position_embeddings;
        let m = metrics.clone();
        // Each token's text, for guided decoding (ids the tokenizer lacks have none).
        let texts: Vec<String> = (0..model.config().vocab_size as u32)
            .map(|id| tokenizer.decode(&[id], false).unwrap_or_default())
            .collect();
        std::thread::Builder::new()
            .name("agentune-engine".into())
            .spawn(move || {
                Scheduler {
                    model,
                    tokenizer,
                    texts,
                    limits,
                    metrics: m,
                    waiting: VecDeque::new(),
                    running: Vec::new(),
                    reserved: 0,
                }
                .run(&rx)
            })?;
        Ok(Self {
            tx,
            metrics,
            limits,
            context,
        })
    }

    /// The model's context length.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The limits.
    pub fn limits(&self) -> EngineLimits {
        self.limits
    }

    /// KV positions a job holds at most.
    pub fn reservation(&self, prompt: usize, max_new: usize) -> usize {
        reservation(prompt, max_new, self.context)
    }

    /// Queues a job; a full queue is a 429, a job that could never fit the KV budget a 400.
    pub fn submit(&self, job: Job) -> Result<(), ApiError> {
        let need = self.reservation(job.prompt.len(), job.max_new);
        if need > self.limits.kv_budget_tokens {
            return Err(ApiError::invalid(
                "max_tokens",
                format!(
                    "the prompt ({} tokens) plus max_tokens ({}) needs {need} cache positions, \
                     more than the server's KV budget of {}; lower max_tokens",
                    job.prompt.len(),
                    job.max_new,
                    self.limits.kv_budget_tokens
                ),
            ));
        }
        let max = self.limits.max_queue;
        let admitted = self
            .metrics
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q < max).then_some(q + 1)
            });
        if admitted.is_err() {
            self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::overloaded(max, self.limits.retry_after_s));
        }
        if self.tx.send(job).is_err() {
            self.metrics.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::unavailable("the engine has stopped"));
        }
        Ok(())
    }
}

fn reservation(prompt: usize, max_new: usize, context: usize) -> usize {
    (prompt + max_new)
        .min(context)
        .div_ceil(CACHE_CHUNK)
        .saturating_mul(CACHE_CHUNK)
}

/// A sequence in the batch.
struct Seq {
    job: Job,
    cache: KvCache,
    /// Tokens not yet fed (the prompt, then each sampled token).
    pending: Vec<u32>,
    history: Vec<u32>,
    generated: usize,
    sampler: Sampler,
    stream: TextStream,
    stops: Vec<u32>,
    reserved: usize,
    last_token: Option<Instant>,
    guide: Option<(Guide, String)>,
}

struct Scheduler {
    model: Llama,
    tokenizer: ModelTokenizer,
    texts: Vec<String>,
    limits: EngineLimits,
    metrics: Arc<Metrics>,
    waiting: VecDeque<Job>,
    running: Vec<Seq>,
    reserved: usize,
}

impl Scheduler {
    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        loop {
            if self.running.is_empty() && self.waiting.is_empty() {
                match rx.recv() {
                    Ok(job) => self.waiting.push_back(job),
                    Err(_) => return,
                }
            }
            while let Ok(job) = rx.try_recv() {
                self.waiting.push_back(job);
            }
            self.drop_abandoned();
            self.admit();
            if self.running.is_empty() {
                continue;
            }
            self.step();
        }
    }

    fn drop_abandoned(&mut self) {
        let before = self.waiting.len();
        self.waiting.retain(|j| !j.events.is_closed());
        let gone = before - self.waiting.len();
        if gone > 0 {
            self.metrics.queued.fetch_sub(gone, Ordering::SeqCst);
            self.metrics
                .cancelled
                .fetch_add(gone as u64, Ordering::Relaxed);
        }
        let mut i = 0;
        while i < self.running.len() {
            if self.running[i].job.events.is_closed() {
                let s = self.running.swap_remove(i);
                self.release(&s);
                self.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(generated = s.generated, "client left; sequence dropped");
            } else {
                i += 1;
            }
        }
    }

    fn release(&mut self, s: &Seq) {
        self.reserved -= s.reserved;
        self.metrics.running.fetch_sub(1, Ordering::SeqCst);
        self.metrics
            .kv_tokens
            .fetch_sub(s.reserved, Ordering::Relaxed);
    }

    fn admit(&mut self) {
        let context = self.model.config().max_position_embeddings;
        while self.running.len() < self.limits.max_batch {
            let Some(job) = self.waiting.front() else {
                break;
            };
            let need = reservation(job.prompt.len(), job.max_new, context);
            if self.reserved + need > self.limits.kv_budget_tokens && !self.running.is_empty() {
                break;
            }
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            self.metrics.queued.fetch_sub(1, Ordering::SeqCst);
            let sampler = match Sampler::new(job.sampling.clone()) {
                Ok(s) => s,
                Err(e) => {
                    let _ = job.events.send(Event::Failed(e.to_string()));
                    continue;
                }
            };
            let mut stops = if job.ignore_eos {
                Vec::new()
            } else {
                self.tokenizer.eos_ids().to_vec()
            };
            stops.sort_unstable();
            stops.dedup();
            self.reserved += need;
            self.metrics.running.fetch_add(1, Ordering::SeqCst);
            self.metrics.kv_tokens.fetch_add(need, Ordering::Relaxed);
            self.metrics
                .prompt_tokens
                .fetch_add(job.prompt.len() as u64, Ordering::Relaxed);
            self.running.push(Seq {
                cache: self.model.new_cache(),
                pending: job.prompt.clone(),
                history: job.prompt.clone(),
                generated: 0,
                sampler,
                stream: TextStream::new(job.stop_strings.clone()),
                stops,
                reserved: need,
                last_token: None,
                guide: job
                    .guide
                    .as_ref()
                    .map(|g| (Guide::new(&g.schema), g.suffix.clone())),
                job,
            });
        }
    }

    /// One forward pass over the batch, then sampling for every sequence whose pending
    /// tokens are all fed.
    fn step(&mut self) {
        let mut budget = self.limits.prefill_chunk.max(1);
        // How many pending tokens each sequence feeds this pass (0: waits for a later pass).
        let take: Vec<usize> = self
            .running
            .iter()
            .map(|s| {
                if s.pending.len() <= 1 {
                    s.pending.len()
                } else {
                    let n = s.pending.len().min(budget);
                    budget -= n;
                    n
                }
            })
            .collect();
        let logits = {
            let mut batch: Vec<(&[u32], &mut KvCache)> = self
                .running
                .iter_mut()
                .zip(&take)
                .filter(|(_, n)| **n > 0)
                .map(|(s, n)| (&s.pending[..*n], &mut s.cache))
                .collect();
            if batch.is_empty() {
                return;
            }
            self.model
                .forward_batch(&mut batch)
                .and_then(|l| Ok(l.to_vec2::<f32>()?))
        };
        let logits = match logits {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("forward pass failed: {e}");
                let failed: Vec<Seq> = self.running.drain(..).collect();
                for s in &failed {
                    let _ = s.job.events.send(Event::Failed(e.to_string()));
                    self.release(s);
                }
                return;
            }
        };
        let now = Instant::now();
        let mut row = 0;
        let mut finished = Vec::new();
        for (i, (s, &n)) in self.running.iter_mut().zip(&take).enumerate() {
            if n == 0 {
                continue;
            }
            let logit_row = &logits[row];
            row += 1;
            s.pending.drain(..n);
            if !s.pending.is_empty() {
                continue;
            }
            match s.advance(logit_row, &self.tokenizer, &self.texts, &self.metrics, now) {
                Ok(None) => {}
                Ok(Some(finish)) => {
                    let _ = s.job.events.send(Event::Done {
                        finish,
                        prompt_tokens: s.job.prompt.len(),
                        completion_tokens: s.generated,
                    });
                    finished.push(i);
                }
                Err(e) => {
                    let _ = s.job.events.send(Event::Failed(e.to_string()));
                    finished.push(i);
                }
            }
        }
        for &i in finished.iter().rev() {
            let s = self.running.swap_remove(i);
            self.release(&s);
        }
    }
}

impl Seq {
    /// Samples the next token; returns the finish reason once the sequence is done.
    fn advance(
        &mut self,
        logits: &[f32],
        tokenizer: &ModelTokenizer,
        texts: &[String],
        metrics: &Metrics,
        now: Instant,
    ) -> agentune_model::Result<Option<FinishReason>> {
        let mut id = self.sampler.sample(logits, &self.history)?;
        let text_of = |id: u32| texts.get(id as usize).map_or("", String::as_str);
        if let Some((g, _)) = &self.guide {
            // While the value is incomplete, a stop token (or any token without text) would end
            // the reply mid-value: only a token that extends the value is acceptable.
            let stops = &self.stops;
            let ok = |t: u32| {
                let text = text_of(t);
                !text.is_empty() && stops.binary_search(&t).is_err() && g.accepts(text)
            };
            if !ok(id) {
                // The most likely token that keeps the value valid.
                let mut order: Vec<u32> = (0..logits.len() as u32).collect();
                order.sort_unstable_by(|a, b| logits[*b as usize].total_cmp(&logits[*a as usize]));
                id = order.into_iter().find(|&t| ok(t)).ok_or_else(|| {
                    agentune_model::Error::Generation(
                        "no token can continue the guided JSON value".into(),
                    )
                })?;
            }
        }
        match self.last_token {
            None => metrics
                .ttft
                .observe(now.duration_since(self.job.arrived).as_secs_f64()),
            Some(t) => metrics
                .inter_token
                .observe(now.duration_since(t).as_secs_f64()),
        }
        self.last_token = Some(now);
        let mut finish = None;
        if self.stops.binary_search(&id).is_ok() {
            finish = Some(FinishReason::Stop);
        } else {
            self.generated += 1;
            metrics.completion_tokens.fetch_add(1, Ordering::Relaxed);
            self.history.push(id);
            self.pending.push(id);
            let (delta, stopped) = self.stream.push(tokenizer, id)?;
            if !delta.is_empty() {
                let _ = self.job.events.send(Event::Text(delta));
            }
            let guided_done = match &mut self.guide {
                Some((g, _)) => g.feed(text_of(id)) && g.is_done(),
                None => false,
            };
            if stopped || guided_done {
                finish = Some(FinishReason::Stop);
            } else if self.generated >= self.job.max_new {
                finish = Some(FinishReason::Length);
            }
        }
        if finish.is_some() {
            let rest = self.stream.finish();
            if !rest.is_empty() {
                let _ = self.job.events.send(Event::Text(rest));
            }
            if let Some((g, suffix)) = &self.guide
                && g.is_done()
                && !suffix.is_empty()
            {
                let _ = self.job.events.send(Event::Text(suffix.clone()));
            }
        }
        Ok(finish)
    }
}
