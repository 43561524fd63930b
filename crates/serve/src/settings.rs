//! Server settings: the TOML config (`configs/serve.toml`, every field optional, unknown
//! fields rejected) and the checked [`ServeSettings`] the server runs with.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The `[serve]`-less TOML config file: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Model: a GGUF file, an HF folder (a trainer checkpoint included) or a known name.
    pub model: Option<String>,
    /// The name clients use in `model` (default: the model's file or folder name).
    pub served_model_name: Option<String>,
    /// Listening address.
    pub host: Option<String>,
    /// Listening port.
    pub port: Option<u16>,
    /// Agent template for tools: a built-in id or a template file (default: the checkpoint's
    /// `agent_template.toml`, else `hermes`).
    pub template: Option<String>,
    /// Dequantize GGUF weights to f32.
    pub f32: Option<bool>,
    /// Most sequences decoded together.
    pub max_batch: Option<usize>,
    /// Most requests waiting for a slot before 429.
    pub max_queue: Option<usize>,
    /// Memory for KV caches, MiB.
    pub kv_cache_mib: Option<usize>,
    /// Most prompt tokens fed per forward pass.
    pub prefill_chunk: Option<usize>,
    /// Largest request body, bytes.
    pub max_body_bytes: Option<usize>,
    /// Seconds in `Retry-After` of a 429.
    pub retry_after_s: Option<u64>,
}

impl ServeConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| Error::Config {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// Checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    /// Name clients send as `model`.
    pub served_model_name: String,
    /// Listening address.
    pub host: String,
    /// Listening port (0: any free port).
    pub port: u16,
    /// Bearer token clients must send (none: no auth).
    pub api_key: Option<String>,
    /// Most sequences decoded together.
    pub max_batch: usize,
    /// Most requests waiting for a slot.
    pub max_queue: usize,
    /// Memory for KV caches, MiB.
    pub kv_cache_mib: usize,
    /// Most prompt tokens per pass.
    pub prefill_chunk: usize,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Seconds in `Retry-After`.
    pub retry_after_s: u64,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            served_model_name: "model".into(),
            host: "127.0.0.1".into(),
            port: 8000,
            api_key: None,
            max_batch: 16,
            max_queue: 64,
            kv_cache_mib: 2048,
            prefill_chunk: 256,
            max_body_bytes: 4 << 20,
            retry_after_s: 1,
        }
    }
}

impl ServeSettings {
    /// Applies the config's fields over these settings.
    pub fn apply(&mut self, c: &ServeConfig) {
        if let Some(v) = &c.served_model_name {
            self.served_model_name = v.clone();
        }
        if let Some(v) = &c.host {
            self.host = v.clone();
        }
        if let Some(v) = c.port {
            self.port = v;
        }
        if let Some(v) = c.max_batch {
            self.max_batch = v;
        }
        if let Some(v) = c.max_queue {
            self.max_queue = v;
        }
        if let Some(v) = c.kv_cache_mib {
            self.kv_cache_mib = v;
        }
        if let Some(v) = c.prefill_chunk {
            self.prefill_chunk = v;
        }
        if let Some(v) = c.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = c.retry_after_s {
            self.retry_after_s = v;
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, message: &str| {
            Err(Error::Setting {
                field,
                message: message.to_owned(),
            })
        };
        if self.served_model_name.trim().is_empty() {
            return bad("served_model_name", "must not be empty");
        }
        if self.max_batch == 0 {
            return bad("max_batch", "must be at least 1");
        }
        if self.kv_cache_mib == 0 {
            return bad("kv_cache_mib", "must be at least 1");
        }
        if self.prefill_chunk == 0 {
            return bad("prefill_chunk", "must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes", "must be at least 1024");
        }
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return bad("api_key", "must not be empty when given");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(toml::from_str::<ServeConfig>("max_batchh = 3").is_err());
        let c: ServeConfig = toml::from_str("max_batch = 0\nport = 9000").unwrap();
        let mut s = ServeSettings::default();
        s.apply(&c);
        assert_eq!(s.port, 9000);
        assert!(s.validate().unwrap_err().to_string().contains("max_batch"));
    }
}
