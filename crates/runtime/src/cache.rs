//! A response cache for chat models: a JSONL file of `{"key", "response"}` lines keyed by
//! SHA-256 of the model name and the full request (messages, tools, sampling parameters),
//! appended as responses arrive, so re-scoring, reruns and interrupted runs ask nothing twice.
//! [`CachedModel`] wraps any [`ChatModel`] with it and retries transient failures. Used by
//! evaluation, the meta-agent's teacher calls and the general-data distillation alike.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{ChatModel, ChatRequest, ChatResponse};

/// The cache key of a request to `model`: SHA-256 of the model name and the request as it
/// would be sent (OpenAI form), lowercase hex.
pub fn cache_key(model: &str, request: &ChatRequest) -> String {
    let body = serde_json::json!({"model": model, "request": request.to_openai(model)});
    Sha256::digest(body.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    response: ChatResponse,
}

/// Cached chat responses, backed by an append-only JSONL file.
#[derive(Debug)]
pub struct ChatCache {
    path: PathBuf,
    entries: Mutex<HashMap<String, ChatResponse>>,
    file: Mutex<Option<std::fs::File>>,
}

impl ChatCache {
    /// Opens (or starts) the cache at `path`. A torn last line (an interrupted run) is skipped
    /// with a warning; any other bad line is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let mut entries = HashMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Line>(line) {
                    Ok(l) => {
                        entries.insert(l.key, l.response);
                    }
                    Err(e) if i + 1 == lines.len() && !text.ends_with('\n') => {
                        tracing::warn!(path = %path.display(), error = %e, "skipping a torn last cache line");
                    }
                    Err(e) => {
                        return Err(Error::Data {
                            file: path.display().to_string(),
                            line: i + 1,
                            message: format!("not a cached response: {e}"),
                        });
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

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached response for `key`.
    pub fn get(&self, key: &str) -> Option<ChatResponse> {
        self.entries.lock().ok()?.get(key).cloned()
    }

    /// Stores a response and appends it to the file.
    pub fn put(&self, key: &str, response: &ChatResponse) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        let line = serde_json::to_string(&Line {
            key: key.to_owned(),
            response: response.clone(),
        })
        .map_err(|e| io(std::io::Error::other(e)))?;
        {
            let mut file = self
                .file
                .lock()
                .map_err(|_| io(std::io::Error::other("the cache file lock is poisoned")))?;
            if file.is_none() {
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(io)?;
                *file = Some(f);
            }
            if let Some(f) = file.as_mut() {
                f.write_all(format!("{line}\n").as_bytes())
                    .and_then(|()| f.flush())
                    .map_err(io)?;
            }
        }
        if let Ok(mut e) = self.entries.lock() {
            e.insert(key.to_owned(), response.clone());
        }
        Ok(())
    }
}

/// Whether a failed call is worth trying again: the request did not complete (connection,
/// timeout) or the server was busy or failing (408, 429, 5xx). A refusal of the request
/// itself (400, 401, 404, ...) would fail the same way again.
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::Http { .. } => true,
        Error::HttpStatus { status, .. } => matches!(status, 408 | 429) || *status >= 500,
        _ => false,
    }
}

/// A model whose answers are cached: a request seen before is answered from the cache.
/// Failed calls are retried with exponential backoff when the failure is transient
/// ([`is_transient`]) before the error is returned.
#[derive(Debug)]
pub struct CachedModel<'a, M: ChatModel + ?Sized> {
    inner: &'a M,
    model: String,
    cache: Option<&'a ChatCache>,
    retries: usize,
    backoff_ms: u64,
    hits: AtomicUsize,
    calls: AtomicUsize,
}

impl<'a, M: ChatModel + ?Sized> CachedModel<'a, M> {
    /// Wraps `inner` (named `model` in cache keys); `cache` may be absent. Two retries of
    /// transient failures, after 0.5 s and 1 s.
    pub fn new(inner: &'a M, model: &str, cache: Option<&'a ChatCache>) -> Self {
        Self {
            inner,
            model: model.to_owned(),
            cache,
            retries: 2,
            backoff_ms: 500,
            hits: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    /// The same wrapper with `retries` extra tries, waiting `backoff_ms`, then twice that, ...
    pub fn with_retries(mut self, retries: usize, backoff_ms: u64) -> Self {
        self.retries = retries;
        self.backoff_ms = backoff_ms;
        self
    }

    /// Requests answered from the cache.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// Requests sent to the model (retries included).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<M: ChatModel + ?Sized> ChatModel for CachedModel<'_, M> {
    fn chat(&self, request: &ChatRequest) -> Result<ChatResponse> {
        let key = cache_key(&self.model, request);
        if let Some(hit) = self.cache.and_then(|c| c.get(&key)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        let mut wait = self.backoff_ms;
        let mut tries = 0;
        let response = loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            match self.inner.chat(request) {
                Ok(r) => break r,
                Err(e) if tries < self.retries && is_transient(&e) => {
                    tracing::warn!(error = %e, retry_in_ms = wait, "model call failed; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(wait));
                    wait = wait.saturating_mul(2);
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        };
        if let Some(c) = self.cache
            && let Err(e) = c.put(&key, &response)
        {
            tracing::warn!(error = %e, "cannot write the response cache");
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::ScriptedModel;
    use agentune_schema::Message;

    /// Fails with the given statuses (0: connection failure) in turn, then answers.
    struct Flaky {
        statuses: Mutex<Vec<u16>>,
    }

    impl ChatModel for Flaky {
        fn chat(&self, _: &ChatRequest) -> Result<ChatResponse> {
            let next = self.statuses.lock().unwrap().pop();
            let url = "http://teacher".to_owned();
            match next {
                Some(0) => Err(Error::Http {
                    url,
                    message: "connection refused".into(),
                }),
                Some(status) => Err(Error::HttpStatus {
                    url,
                    status,
                    body: "no".into(),
                }),
                None => ScriptedModel::from_texts(["ok"]).chat(&ChatRequest::new(Vec::new())),
            }
        }
    }

    fn flaky(statuses: &[u16]) -> Flaky {
        let mut s = statuses.to_vec();
        s.reverse();
        Flaky {
            statuses: Mutex::new(s),
        }
    }

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
    fn only_transient_failures_are_retried() {
        let request = ChatRequest::new(vec![Message::user("hi")]);
        let busy = flaky(&[0, 503, 429]);
        let m = CachedModel::new(&busy, "t", None).with_retries(3, 1);
        assert_eq!(m.chat(&request).unwrap().message.content_str(), "ok");
        assert_eq!(m.calls(), 4);
        let refused = flaky(&[400]);
        let m = CachedModel::new(&refused, "t", None).with_retries(3, 1);
        assert!(m.chat(&request).unwrap_err().to_string().contains("400"));
        assert_eq!(m.calls(), 1);
        let down = flaky(&[502, 502, 502]);
        let m = CachedModel::new(&down, "t", None).with_retries(2, 1);
        assert!(m.chat(&request).is_err());
        assert_eq!(m.calls(), 3);
    }

    #[test]
    fn a_rerun_is_answered_from_the_cache_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.jsonl");
        let request = ChatRequest::new(vec![Message::user("write a template")]);
        {
            let cache = ChatCache::open(&path).unwrap();
            let model = ScriptedModel::from_texts(["first"]);
            let m = CachedModel::new(&model, "teacher", Some(&cache));
            assert_eq!(m.chat(&request).unwrap().message.content_str(), "first");
            assert_eq!((m.calls(), m.hits()), (1, 0));
        }
        let cache = ChatCache::open(&path).unwrap();
        assert_eq!(cache.len(), 1);
        let model = ScriptedModel::from_texts(Vec::<String>::new());
        let m = CachedModel::new(&model, "teacher", Some(&cache));
        assert_eq!(m.chat(&request).unwrap().message.content_str(), "first");
        assert_eq!((m.calls(), m.hits()), (0, 1));
        // Another model name is another key: the empty script's error is not transient, so
        // it is not retried.
        let other = CachedModel::new(&model, "other", Some(&cache)).with_retries(1, 1);
        assert!(other.chat(&request).is_err());
        assert_eq!(other.calls(), 1);
        // A torn last line is skipped, a bad middle line is an error naming the line.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}{{\"key\": \"x\", \"resp")).unwrap();
        assert_eq!(ChatCache::open(&path).unwrap().len(), 1);
        std::fs::write(&path, format!("garbage\n{text}")).unwrap();
        let e = ChatCache::open(&path).unwrap_err().to_string();
        assert!(e.contains("cache.jsonl:1"), "{e}");
    }
}
