//! Generation for evaluation: many chat requests sent concurrently to any [`ChatModel`] (our
//! server, vLLM, a hosted API through the runtime's `OpenAiClient`), with the runtime's
//! response cache keyed by (model, prompt, parameters) so re-scoring and re-runs cost nothing.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentune_runtime::cache::{ChatCache, cache_key};
use agentune_runtime::model::{ChatModel, ChatRequest, ChatResponse};

/// What [`generate_all`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    /// Answered from the cache.
    pub cached: usize,
    /// Sent to the model.
    pub generated: usize,
    /// Failed (the error is in the result).
    pub failed: usize,
}

/// Answers every request with `model` (named `model_name` in cache keys), `concurrency`
/// requests at a time, cached responses first. Results are in request order; a failed
/// request gives its error text. `progress` is called after each request.
pub fn generate_all<M: ChatModel + Sync + ?Sized>(
    model: &M,
    model_name: &str,
    requests: &[ChatRequest],
    concurrency: usize,
    cache: Option<&ChatCache>,
    progress: &(dyn Fn() + Sync),
) -> (Vec<Result<ChatResponse, String>>, GenerateStats) {
    let results: Vec<Mutex<Option<Result<ChatResponse, String>>>> =
        requests.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let cached = AtomicUsize::new(0);
    let generated = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(request) = requests.get(i) else {
                break;
            };
            let key = cache_key(model_name, request);
            let result = match cache.and_then(|c| c.get(&key)) {
                Some(r) => {
                    cached.fetch_add(1, Ordering::Relaxed);
                    Ok(r)
                }
                None => match model.chat(request) {
                    Ok(r) => {
                        generated.fetch_add(1, Ordering::Relaxed);
                        if let Some(c) = cache
                            && let Err(e) = c.put(&key, &r)
                        {
                            tracing::warn!(error = %e, "cannot store a response in the cache");
                        }
                        Ok(r)
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        Err(e.to_string())
                    }
                },
            };
            if let Ok(mut slot) = results[i].lock() {
                *slot = Some(result);
            }
            progress();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1).min(requests.len().max(1)) {
            s.spawn(worker);
        }
    });
    let out = results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("no result".into()))
        })
        .collect();
    let stats = GenerateStats {
        cached: cached.into_inner(),
        generated: generated.into_inner(),
        failed: failed.into_inner(),
    };
    (out, stats)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use agentune_runtime::model::ScriptedModel;
    use agentune_schema::Message;

    #[test]
    fn second_run_is_answered_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let requests: Vec<ChatRequest> = (0..5)
            .map(|i| ChatRequest::new(vec![Message::user(format!("q{i}"))]))
            .collect();
        let model = ScriptedModel::from_texts((0..5).map(|i| format!("a{i}")));
        let cache = ChatCache::open(&path).unwrap();
        let (out, stats) = generate_all(&model, "m", &requests, 3, Some(&cache), &|| {});
        assert_eq!(stats.generated, 5);
        assert!(out.iter().all(Result::is_ok));
        // A fresh cache from the file answers everything; the scripted model has no reply left.
        let cache = ChatCache::open(&path).unwrap();
        assert_eq!(cache.len(), 5);
        let (again, stats) = generate_all(&model, "m", &requests, 2, Some(&cache), &|| {});
        assert_eq!(stats.cached, 5);
        assert_eq!(stats.generated, 0);
        let texts = |v: &[Result<ChatResponse, String>]| -> Vec<String> {
            v.iter()
                .map(|r| r.as_ref().unwrap().message.content_str().to_owned())
                .collect()
        };
        assert_eq!(texts(&out), texts(&again));
        // Another model name misses the cache, and the exhausted script reports errors.
        let (_, stats) = generate_all(&model, "other", &requests[..1], 1, Some(&cache), &|| {});
        assert_eq!(stats.failed, 1);
    }
}
