//! Generation for evaluation: many chat requests sent concurrently to any [`ChatModel`] (our
//! server, vLLM, a hosted API through the runtime's `OpenAiClient`), with a response cache
//! keyed by (model, prompt, parameters) so re-scoring and re-runs cost nothing.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentune_runtime::model::{ChatModel, ChatRequest, ChatResponse};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The cache key of a request to `model`: SHA-256 of the model name and the full request body
/// (messages, tools, sampling parameters), lowercase hex.
pub fn cache_key(model: &str, request: &ChatRequest) -> String {
    let body = serde_json::json!({"model": model, "request": request.to_openai(model)});
    Sha256::digest(body.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A JSONL file of `{"key", "response"}` lines; new responses are appended as they arrive.
#[derive(Debug)]
pub struct ResponseCache {
    path: PathBuf,
    entries: Mutex<HashMap<String, ChatResponse>>,
    file: Mutex<Option<std::fs::File>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CacheLine {
    key: String,
    response: ChatResponse,
}

impl ResponseCache {
    /// Opens (or starts) the cache at `path`. A torn last line (an interrupted run) is
    /// skipped with a warning; any other bad line is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let mut entries = HashMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<CacheLine>(line) {
                    Ok(c) => {
                        entries.insert(c.key, c.response);
                    }
                    Err(e) if i + 1 == lines.len() && !text.ends_with('\n') => {
                        tracing::warn!(path = %path.display(), error = %e, "skipping a torn last cache line");
                    }
                    Err(e) => {
                        return Err(Error::input(path, Some(i + 1), "", e.to_string()));
                    }
                }
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries: Mutex::new(entries),
            file: Mutex::new(None),
        })
    }

    /// Cached responses.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached response for `key`.
    pub fn get(&self, key: &str) -> Option<ChatResponse> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Stores a response and appends it to the file.
    pub fn put(&self, key: &str, response: &ChatResponse) -> Result<()> {
        let line = serde_json::to_string(&CacheLine {
            key: key.to_owned(),
            response: response.clone(),
        })
        .map_err(|e| Error::Invalid(format!("cannot encode a cached response: {e}")))?;
        {
            let mut file = self
                .file
                .lock()
                .map_err(|_| Error::Invalid("the cache file lock is poisoned".into()))?;
            if file.is_none() {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
                }
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| Error::io("open", &self.path, e))?;
                *file = Some(f);
            }
            if let Some(f) = file.as_mut() {
                f.write_all(format!("{line}\n").as_bytes())
                    .and_then(|()| f.flush())
                    .map_err(|e| Error::io("append to", &self.path, e))?;
            }
        }
        if let Ok(mut e) = self.entries.lock() {
            e.insert(key.to_owned(), response.clone());
        }
        Ok(())
    }
}

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
pub fn generate_all<M: ChatModel + Sync>(
    model: &M,
    model_name: &str,
    requests: &[ChatRequest],
    concurrency: usize,
    cache: Option<&ResponseCache>,
    progress: &(dyn Fn() + Sync),
) -> (
    Vec<std::result::Result<ChatResponse, String>>,
    GenerateStats,
) {
    let results: Vec<Mutex<Option<std::result::Result<ChatResponse, String>>>> =
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
                        if let Some(c) = cache {
                            if let Err(e) = c.put(&key, &r) {
                                tracing::warn!(error = %e, "cannot store a response in the cache");
                            }
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
    fn cache_keys_depend_on_model_prompt_and_params() {
        let a = ChatRequest::new(vec![Message::user("hi")]);
        let mut b = a.clone();
        b.temperature = Some(0.5);
        assert_eq!(cache_key("m", &a), cache_key("m", &a.clone()));
        assert_ne!(cache_key("m", &a), cache_key("n", &a));
        assert_ne!(cache_key("m", &a), cache_key("m", &b));
        let c = ChatRequest::new(vec![Message::user("hello")]);
        assert_ne!(cache_key("m", &a), cache_key("m", &c));
    }

    #[test]
    fn second_run_is_answered_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let requests: Vec<ChatRequest> = (0..5)
            .map(|i| ChatRequest::new(vec![Message::user(format!("q{i}"))]))
            .collect();
        let model = ScriptedModel::from_texts((0..5).map(|i| format!("a{i}")));
        let cache = ResponseCache::open(&path).unwrap();
        let (out, stats) = generate_all(&model, "m", &requests, 3, Some(&cache), &|| {});
        assert_eq!(stats.generated, 5);
        assert!(out.iter().all(Result::is_ok));
        // A fresh cache from the file answers everything; the scripted model has no reply left.
        let cache = ResponseCache::open(&path).unwrap();
        assert_eq!(cache.len(), 5);
        let (again, stats) = generate_all(&model, "m", &requests, 2, Some(&cache), &|| {});
        assert_eq!(stats.cached, 5);
        assert_eq!(stats.generated, 0);
        let texts = |v: &[std::result::Result<ChatResponse, String>]| -> Vec<String> {
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
