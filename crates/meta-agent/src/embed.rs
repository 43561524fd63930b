//! Query embeddings through an OpenAI-compatible `/embeddings` endpoint, an option for query
//! sets: semantic neighbours ("will it rain" and "umbrella tomorrow") group together even when
//! they share few characters. Texts are sent in batches; the reply's vectors are matched to the
//! inputs by their `index`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// Largest reply read from the endpoint.
const MAX_BODY_BYTES: u64 = 256 * 1024 * 1024;

/// A client of an OpenAI-compatible embeddings endpoint.
#[derive(Debug)]
pub struct EmbeddingClient {
    url: String,
    model: String,
    api_key: Option<String>,
    batch: usize,
    agent: ureq::Agent,
}

impl EmbeddingClient {
    /// A client of `base_url` (e.g. `http://127.0.0.1:8000/v1`; `/embeddings` is appended)
    /// for `model`, 64 texts a request, 120 s per request.
    pub fn new(base_url: &str, model: &str) -> Self {
        Self {
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key: None,
            batch: 64,
            agent: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(120)))
                .http_status_as_error(false)
                .build()
                .into(),
        }
    }

    /// The same client sending `Authorization: Bearer KEY`.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The same client sending `batch` texts a request (at least 1).
    pub fn with_batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Invalid(format!("embeddings from {}: {}", self.url, message.into()))
    }

    /// One vector per text, in order; every vector has the same, non-zero length.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch) {
            out.extend(self.embed_batch(chunk)?);
        }
        if let Some(first) = out.first() {
            let dim = first.len();
            if let Some(i) = out.iter().position(|v| v.len() != dim) {
                return Err(self.error(format!(
                    "vector {i} has {} numbers, vector 0 has {dim}",
                    out[i].len()
                )));
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let lower = self.url.to_ascii_lowercase();
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err(self.error("the URL must start with http:// or https://"));
        }
        let body = json!({"model": self.model, "input": texts}).to_string();
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("Authorization", format!("Bearer {key}"));
        }
        let mut resp = req.send(body).map_err(|e| self.error(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| self.error(e.to_string()))?;
        if !(200..300).contains(&status) {
            let start: String = text.chars().take(300).collect();
            return Err(self.error(format!("HTTP {status}: {start}")));
        }
        parse_embeddings(&text, texts.len()).map_err(|m| self.error(m))
    }
}

/// Reads `{"data": [{"index": i, "embedding": [...]}, ...]}` holding `n` vectors.
fn parse_embeddings(text: &str, n: usize) -> std::result::Result<Vec<Vec<f32>>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let data = value
        .get("data")
        .and_then(Value::as_array)
        .ok_or("no `data` array")?;
    if data.len() != n {
        return Err(format!("{} vectors for {n} texts", data.len()));
    }
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    for (pos, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(pos, |i| i as usize);
        let vector = item
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("data[{pos}]: no `embedding` array"))?
            .iter()
            .map(|x| x.as_f64().filter(|f| f.is_finite()).map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| format!("data[{pos}].embedding: not all finite numbers"))?;
        if vector.is_empty() {
            return Err(format!("data[{pos}].embedding is empty"));
        }
        match out.get_mut(index) {
            Some(slot @ None) => *slot = Some(vector),
            Some(Some(_)) => return Err(format!("data[{pos}]: index {index} given twice")),
            None => return Err(format!("data[{pos}]: index {index} is out of range")),
        }
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// Answers one request with `reply` (status, body); returns the URL and the request body.
    fn one_shot(status: u16, reply: String) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .unwrap();
            format!("{head}\n{}", String::from_utf8(body).unwrap())
        });
        (url, handle)
    }

    #[test]
    fn vectors_come_back_in_input_order() {
        let reply = json!({"data": [
            {"index": 1, "embedding": [0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.5]},
        ]})
        .to_string();
        let (url, server) = one_shot(200, reply);
        let client = EmbeddingClient::new(&url, "emb").with_api_key("k");
        let v = client.embed(&["a", "b"]).unwrap();
        assert_eq!(v, vec![vec![1.0, 0.5], vec![0.0, 1.0]]);
        let request = server.join().unwrap();
        assert!(request.contains("POST /v1/embeddings"), "{request}");
        assert!(request.contains("Bearer k"), "{request}");
        assert!(
            request.contains(r#""input":["a","b"]"#) && request.contains(r#""model":"emb""#),
            "{request}"
        );
    }

    #[test]
    fn bad_replies_are_errors_naming_the_endpoint() {
        let (url, _s) = one_shot(404, r#"{"error": "no such route"}"#.into());
        let e = EmbeddingClient::new(&url, "m")
            .embed(&["a"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/v1/embeddings") && e.contains("HTTP 404"),
            "{e}"
        );
        assert!(
            parse_embeddings(r#"{"data": []}"#, 1)
                .unwrap_err()
                .contains("0 vectors")
        );
        assert!(
            parse_embeddings(r#"{"data": [{"embedding": ["x"]}]}"#, 1)
                .unwrap_err()
                .contains("finite")
        );
        assert!(
            parse_embeddings(
                r#"{"data": [{"index": 0, "embedding": [1]}, {"index": 0, "embedding": [2]}]}"#,
                2
            )
            .unwrap_err()
            .contains("twice")
        );
        assert!(
            parse_embeddings("oops", 1)
                .unwrap_err()
                .contains("not JSON")
        );
        let e = EmbeddingClient::new("ftp://x", "m")
            .embed(&["a"])
            .unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
    }
}
