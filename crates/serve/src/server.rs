//! The HTTP side: model loading, the router (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/models`, `/health`, `/metrics`), bearer auth, request counting, JSON and
//! server-sent-event responses, and starting and stopping the server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use agentune_model::{
    FinishReason, Llama, Mode, ModelTokenizer, Pretrained, SamplingParams, WeightFormat,
};
use agentune_runtime::template::{StreamParser, Template};
use agentune_schema::ToolCall;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::engine::{EngineHandle, EngineLimits, Event, Job};
use crate::error::{ApiError, Error, Result};
use crate::metrics::Metrics;
use crate::prompt::{Prompter, split_events};
use crate::request::{self, Prompt, Sampling};
use crate::settings::ServeSettings;

/// The file a checkpoint folder keeps its agent template in ("one template everywhere": the
/// server renders tools the way the model was tuned on them).
pub const CHECKPOINT_TEMPLATE_FILES: &[&str] = &["agent_template.toml", "agent_template.json"];

/// Loads a model (GGUF file, HF folder, or known name) and its agent template: `template`
/// when given (a built-in id or a file), else the checkpoint's own template file, else
/// `hermes`.
pub fn load_model(spec: &str, f32: bool, template: Option<&str>) -> Result<(Pretrained, Template)> {
    let format = if f32 {
        WeightFormat::F32
    } else {
        WeightFormat::AsStored
    };
    let model = Pretrained::load(spec, format).map_err(|source| Error::Model {
        spec: spec.to_owned(),
        source,
    })?;
    let agent = match template {
        Some(t) => Template::resolve(t).map_err(|source| Error::Template {
            spec: t.to_owned(),
            source: Box::new(source),
        })?,
        None => checkpoint_template(Path::new(spec))?.map_or_else(
            || {
                Template::builtin("hermes").map_err(|source| Error::Template {
                    spec: "hermes".into(),
                    source: Box::new(source),
                })
            },
            Ok,
        )?,
    };
    Ok((model, agent))
}

/// The agent template saved in a checkpoint folder, if it has one.
pub fn checkpoint_template(dir: &Path) -> Result<Option<Template>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    for name in CHECKPOINT_TEMPLATE_FILES {
        let path = dir.join(name);
        if path.is_file() {
            let t = Template::load(&path).map_err(|source| Error::Template {
                spec: path.display().to_string(),
                source: Box::new(source),
            })?;
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The default served name of a model spec: the file stem or folder name.
pub fn default_model_name(spec: &str) -> String {
    let p = Path::new(spec.trim_end_matches('/'));
    p.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| spec.to_owned())
}

struct AppState {
    name: String,
    engine: EngineHandle,
    tokenizer: ModelTokenizer,
    prompter: Prompter,
    metrics: Arc<Metrics>,
    api_key: Option<String>,
    max_body: usize,
    next_id: AtomicU64,
    started: Instant,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AppState {
    fn check_model(&self, asked: &str) -> Result<(), ApiError> {
        if asked == self.name {
            Ok(())
        } else {
            Err(ApiError::unknown_model(asked, &self.name))
        }
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Tokens to generate: what was asked, within the context; absent, up to the context.
    fn max_new(
        &self,
        prompt_len: usize,
        asked: Option<usize>,
        prompt_field: &str,
    ) -> Result<usize, ApiError> {
        let ctx = self.engine.context();
        if prompt_len == 0 {
            return Err(ApiError::invalid(prompt_field, "the prompt is empty"));
        }
        if prompt_len >= ctx {
            return Err(ApiError::invalid(
                prompt_field,
                format!(
                    "the prompt has {prompt_len} tokens; the model's context is {ctx} tokens \
                     (including the reply)"
                ),
            )
            .with_code("context_length_exceeded"));
        }
        let room = ctx - prompt_len;
        match asked {
            Some(n) if n > room => Err(ApiError::invalid(
                "max_tokens",
                format!(
                    "max_tokens is {n}, but the prompt ({prompt_len} tokens) leaves room for \
                     {room} tokens in the model's context of {ctx}"
                ),
            )
            .with_code("context_length_exceeded")),
            Some(n) => Ok(n),
            None => {
                let budget = self.engine.limits().kv_budget_tokens;
                Ok(room.min(budget.saturating_sub(prompt_len)).max(1))
            }
        }
    }

    fn sampling(&self, s: &Sampling, id: u64) -> SamplingParams {
        let seed = s.seed.unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0);
            id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ nanos
        });
        SamplingParams {
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            repetition_penalty: s.repetition_penalty,
            seed,
        }
    }

    /// Queues the job `make` builds around an event sender; returns the event receiver.
    fn submit(
        &self,
        make: impl FnOnce(tokio::sync::mpsc::UnboundedSender<Event>) -> Job,
    ) -> Result<UnboundedReceiver<Event>, ApiError> {
        let (tx, rx) = unbounded_channel();
        self.engine.submit(make(tx))?;
        Ok(rx)
    }
}

fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn json_response(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn read_body(
    body: std::result::Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_body(format!("cannot read the request body: {}", r.body_text()))
        }
    })
}

fn tool_call_json(c: &ToolCall, id: &str) -> Value {
    json!({
        "id": id,
        "type": "function",
        "function": {"name": c.name, "arguments": Value::Object(c.arguments.clone()).to_string()},
    })
}

/// The SSE body of a stream of `data:` payloads read from `rx`.
fn sse(rx: UnboundedReceiver<String>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = rx.recv().await?;
        Some((
            Ok::<_, Infallible>(Bytes::from(format!("data: {line}\n\n"))),
            rx,
        ))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// Forwards engine events to SSE payloads through `convert` until the stream ends or the
/// client leaves (then dropping the engine receiver frees the sequence's slot).
fn spawn_stream<F>(mut events: UnboundedReceiver<Event>, mut convert: F) -> Response
where
    F: FnMut(Event) -> Vec<String> + Send + 'static,
{
    let (tx, rx) = unbounded_channel::<String>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else {
                        let _ = tx.send(ApiError::internal("the engine stopped").body().to_string());
                        let _ = tx.send("[DONE]".into());
                        return;
                    };
                    let end = !matches!(ev, Event::Text(_));
                    for line in convert(ev) {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                    if end {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    sse(rx)
}

async fn chat_endpoint(
    State(st): State<Arc<AppState>>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    match chat_inner(st, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn chat_inner(
    st: Arc<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = read_body(body, st.max_body)?;
    let o = request::json_object(&body)?;
    let p = request::chat(&o)?;
    st.check_model(&p.model)?;
    let rendered = st.prompter.render(&p)?;
    let prompt = st
        .tokenizer
        .encode(&rendered.text, false)
        .map_err(|e| ApiError::invalid("messages", format!("cannot tokenize the prompt: {e}")))?;
    let max_new = st.max_new(prompt.len(), p.sampling.max_tokens, "messages")?;
    let rid = st.next_id();
    let mut stop = p.sampling.stop.clone();
    stop.extend(rendered.stop.iter().cloned());
    let prompt_len = prompt.len();
    let sampling = st.sampling(&p.sampling, rid);
    let rx = st.submit(|events| Job {
        prompt,
        max_new,
        sampling,
        stop_strings: stop,
        ignore_eos: p.sampling.ignore_eos,
        guide: rendered.guide.clone(),
        events,
        arrived,
    })?;
    let id = format!("chatcmpl-{rid:08x}{:08x}", unix_now() & 0xffff_ffff);
    let created = unix_now();
    let model = st.name.clone();
    let call_id = move |k: usize| format!("call_{rid:x}_{k}");
    if p.stream {
        let mut parser: Option<StreamParser> = rendered
            .tools_active
            .then(|| st.prompter.stream(&rendered.forced));
        let mut generated = String::new();
        let mut sent_calls = 0usize;
        let include_usage = p.include_usage;
        let st2 = st.clone();
        let chunk = move |delta: Value, finish: Option<&str>| {
            let mut v = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": null,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            });
            if include_usage {
                v["usage"] = Value::Null;
            }
            v
        };
        let mut first = vec![chunk(json!({"role": "assistant", "content": ""}), None).to_string()];
        let forced = rendered.forced.clone();
        let tools_active = rendered.tools_active;
        let convert = move |ev: Event| -> Vec<String> {
            let mut out = std::mem::take(&mut first);
            // As OpenAI streams a call: a delta with its index, id, type and name, then its
            // arguments (a JSON string) in the next delta.
            let calls_deltas = |calls: &[ToolCall], from: usize| -> Vec<Value> {
                let mut out = Vec::new();
                for (i, c) in calls.iter().enumerate() {
                    let k = from + i;
                    out.push(json!({"tool_calls": [{
                        "index": k, "id": call_id(k), "type": "function",
                        "function": {"name": c.name, "arguments": ""},
                    }]}));
                    out.push(json!({"tool_calls": [{
                        "index": k,
                        "function": {"arguments": Value::Object(c.arguments.clone()).to_string()},
                    }]}));
                }
                out
            };
            match ev {
                Event::Text(t) => {
                    generated.push_str(&t);
                    let (text, calls) = match parser.as_mut() {
                        Some(p) => split_events(p.push(&t)),
                        None => (t, Vec::new()),
                    };
                    if !text.is_empty() {
                        out.push(chunk(json!({"content": text}), None).to_string());
                    }
                    if !calls.is_empty() {
                        for d in calls_deltas(&calls, sent_calls) {
                            out.push(chunk(d, None).to_string());
                        }
                        sent_calls += calls.len();
                    }
                }
                Event::Done {
                    finish,
                    prompt_tokens,
                    completion_tokens,
                } => {
                    if tools_active {
                        // Calls the incremental reader could not close (a reply cut by the
                        // end of generation) are still read by the lenient parser.
                        let reply = st2.prompter.parse(&format!("{forced}{generated}"), true);
                        if reply.calls.len() > sent_calls {
                            let extra = &reply.calls[sent_calls..];
                            for d in calls_deltas(extra, sent_calls) {
                                out.push(chunk(d, None).to_string());
                            }
                            sent_calls = reply.calls.len();
                        }
                    }
                    let reason = if sent_calls > 0 {
                        "tool_calls"
                    } else {
                        finish_str(finish)
                    };
                    out.push(chunk(json!({}), Some(reason)).to_string());
                    if include_usage {
                        let mut u = chunk(json!({}), None);
                        u["choices"] = json!([]);
                        u["usage"] = usage(prompt_tokens, completion_tokens);
                        out.push(u.to_string());
                    }
                    out.push("[DONE]".into());
                }
                Event::Failed(m) => {
                    out.push(ApiError::internal(m).body().to_string());
                    out.push("[DONE]".into());
                }
            }
            out
        };
        return Ok(spawn_stream(rx, convert));
    }
    let (text, finish, completion_tokens) = collect(rx).await?;
    let full = format!("{}{text}", rendered.forced);
    let reply = st.prompter.parse(&full, rendered.tools_active);
    let mut message = json!({"role": "assistant", "content": reply.content});
    let reason = if reply.calls.is_empty() {
        finish_str(finish)
    } else {
        let calls: Vec<Value> = reply
            .calls
            .iter()
            .enumerate()
            .map(|(k, c)| tool_call_json(c, &call_id(k)))
            .collect();
        message["tool_calls"] = Value::Array(calls);
        if reply
            .content
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            message["content"] = Value::Null;
        }
        "tool_calls"
    };
    Ok(json_response(&json!({
        "id": id, "object": "chat.completion", "created": created, "model": st.name,
        "system_fingerprint": null,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": reason}],
        "usage": usage(prompt_len, completion_tokens),
    })))
}

/// Waits for a whole generation.
async fn collect(
    mut rx: UnboundedReceiver<Event>,
) -> Result<(String, FinishReason, usize), ApiError> {
    let mut text = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Text(t) => text.push_str(&t),
            Event::Done {
                finish,
                completion_tokens,
                ..
            } => return Ok((text, finish, completion_tokens)),
            Event::Failed(m) => return Err(ApiError::internal(m)),
        }
    }
    Err(ApiError::internal(
        "the engine stopped before the reply was complete",
    ))
}

async fn completions(
    State(st): State<Arc<AppState>>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    match completions_inner(st, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn completions_inner(
    st: Arc<AppState>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let body = read_body(body, st.max_body)?;
    let o = request::json_object(&body)?;
    let p = request::completion(&o)?;
    st.check_model(&p.model)?;
    let (prompt, prompt_text) = match &p.prompt {
        Prompt::Text(t) => (
            st.tokenizer
                .encode(t, true)
                .map_err(|e| ApiError::invalid("prompt", format!("cannot tokenize: {e}")))?,
            t.clone(),
        ),
        Prompt::Tokens(ids) => {
            let vocab = st.tokenizer.vocab_size();
            if let Some(bad) = ids.iter().find(|&&t| t as usize >= vocab) {
                return Err(ApiError::invalid(
                    "prompt",
                    format!("token id {bad} is outside the vocabulary ({vocab} tokens)"),
                ));
            }
            let text = st
                .tokenizer
                .decode(ids, false)
                .map_err(|e| ApiError::invalid("prompt", format!("cannot decode: {e}")))?;
            (ids.clone(), text)
        }
    };
    let max_new = st.max_new(prompt.len(), p.sampling.max_tokens, "prompt")?;
    let rid = st.next_id();
    let prompt_len = prompt.len();
    let sampling = st.sampling(&p.sampling, rid);
    let rx = st.submit(|events| Job {
        prompt,
        max_new,
        sampling,
        stop_strings: p.sampling.stop.clone(),
        ignore_eos: p.sampling.ignore_eos,
        guide: None,
        events,
        arrived,
    })?;
    let id = format!("cmpl-{rid:08x}{:08x}", unix_now() & 0xffff_ffff);
    let created = unix_now();
    let model = st.name.clone();
    let echo = p.echo.then_some(prompt_text);
    if p.stream {
        let include_usage = p.include_usage;
        let chunk = move |text: &str, finish: Option<&str>| {
            let mut v = json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}],
            });
            if include_usage {
                v["usage"] = Value::Null;
            }
            v
        };
        let mut first: Vec<String> = echo.iter().map(|t| chunk(t, None).to_string()).collect();
        let convert = move |ev: Event| -> Vec<String> {
            let mut out = std::mem::take(&mut first);
            match ev {
                Event::Text(t) => out.push(chunk(&t, None).to_string()),
                Event::Done {
                    finish,
                    prompt_tokens,
                    completion_tokens,
                } => {
                    out.push(chunk("", Some(finish_str(finish))).to_string());
                    if include_usage {
                        let mut u = chunk("", None);
                        u["choices"] = json!([]);
                        u["usage"] = usage(prompt_tokens, completion_tokens);
                        out.push(u.to_string());
                    }
                    out.push("[DONE]".into());
                }
                Event::Failed(m) => {
                    out.push(ApiError::internal(m).body().to_string());
                    out.push("[DONE]".into());
                }
            }
            out
        };
        return Ok(spawn_stream(rx, convert));
    }
    let (text, finish, completion_tokens) = collect(rx).await?;
    let text = match echo {
        Some(e) => format!("{e}{text}"),
        None => text,
    };
    Ok(json_response(&json!({
        "id": id, "object": "text_completion", "created": created, "model": st.name,
        "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish_str(finish)}],
        "usage": usage(prompt_len, completion_tokens),
    })))
}

fn model_card(st: &AppState) -> Value {
    json!({
        "id": st.name, "object": "model", "created": unix_now() - st.started.elapsed().as_secs(),
        "owned_by": "agentune", "max_model_len": st.engine.context(),
        "agent_template": st.prompter.agent_id(),
    })
}

async fn models(State(st): State<Arc<AppState>>) -> Response {
    json_response(&json!({"object": "list", "data": [model_card(&st)]}))
}

async fn model_one(State(st): State<Arc<AppState>>, UrlPath(id): UrlPath<String>) -> Response {
    match st.check_model(&id) {
        Ok(()) => json_response(&model_card(&st)),
        Err(e) => e.into_response(),
    }
}

async fn health(State(st): State<Arc<AppState>>) -> Response {
    json_response(&json!({
        "status": "ok",
        "model": st.name,
        "running": st.metrics.running.load(Ordering::Relaxed),
        "queued": st.metrics.queued.load(Ordering::Relaxed),
    }))
}

async fn metrics_endpoint(State(st): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

async fn not_found(req: Request) -> Response {
    ApiError::not_found(req.uri().path()).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}

/// Bearer auth on `/v1/*` when a key is set (`/health` and `/metrics` stay open).
async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if let Some(key) = &st.api_key
        && req.uri().path().starts_with("/v1/")
    {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), key.as_bytes()) => {}
            Some(_) => {
                return ApiError::unauthorized("the API key is not valid").into_response();
            }
            None => {
                return ApiError::unauthorized(
                    "missing API key: send `Authorization: Bearer <key>`",
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Counts every response by endpoint and status.
async fn count(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    const KNOWN: &[&str] = &[
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
        "/health",
        "/metrics",
    ];
    let path = req.uri().path();
    let endpoint =
        KNOWN
            .iter()
            .find(|k| path == **k)
            .copied()
            .unwrap_or(if path.starts_with("/v1/models/") {
                "/v1/models"
            } else {
                "other"
            });
    let resp = next.run(req).await;
    st.metrics.record_request(endpoint, resp.status().as_u16());
    resp
}

/// A bound server, ready to run.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    router: Router,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("name", &self.name)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Builds the network, starts the engine and binds the listening socket.
    pub async fn bind(model: Pretrained, agent: Template, settings: ServeSettings) -> Result<Self> {
        settings.validate()?;
        let chat = model.template().map_err(|source| Error::Model {
            spec: model.source.display().to_string(),
            source,
        })?;
        let net = Llama::new(&model.config, &model.weights, Mode::Infer).map_err(|source| {
            Error::Model {
                spec: model.source.display().to_string(),
                source,
            }
        })?;
        let c = &model.config;
        let bytes_per_token = 2 * c.num_layers * c.num_kv_heads * c.head_dim * 4;
        let kv_budget_tokens = (settings.kv_cache_mib << 20) / bytes_per_token.max(1);
        let limits = EngineLimits {
            max_batch: settings.max_batch,
            max_queue: settings.max_queue,
            kv_budget_tokens,
            prefill_chunk: settings.prefill_chunk,
            retry_after_s: settings.retry_after_s,
        };
        let metrics = Arc::new(Metrics::default());
        let prompter = Prompter::new(chat, agent).map_err(|source| Error::Template {
            spec: "hermes".into(),
            source: Box::new(source),
        })?;
        let engine = EngineHandle::start(net, model.tokenizer.clone(), limits, metrics.clone())
            .map_err(|e| Error::Engine(e.to_string()))?;
        let state = Arc::new(AppState {
            name: settings.served_model_name.clone(),
            engine,
            tokenizer: model.tokenizer,
            prompter,
            metrics: metrics.clone(),
            api_key: settings.api_key.clone(),
            max_body: settings.max_body_bytes,
            next_id: AtomicU64::new(1),
            started: Instant::now(),
        });
        let limit = settings.max_body_bytes;
        let router = Router::new()
            .route("/v1/chat/completions", post(chat_endpoint))
            .route("/v1/completions", post(completions))
            .route("/v1/models", get(models))
            .route("/v1/models/{id}", get(model_one))
            .route("/health", get(health))
            .route("/metrics", get(metrics_endpoint))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(limit))
            .layer(from_fn_with_state(state.clone(), auth))
            .layer(from_fn_with_state(state.clone(), count))
            .layer(axum::middleware::map_response(
                move |r: Response| async move { too_large_json(r, limit) },
            ))
            .with_state(state);
        let addr = format!("{}:{}", settings.host, settings.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        Ok(Self {
            listener,
            router,
            metrics,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The server's metrics.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        Ok(())
    }
}

/// A 413 produced below the handlers (body limit) gets the OpenAI error body too.
fn too_large_json(r: Response, limit: usize) -> Response {
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::too_large(limit).into_response();
    }
    r
}

/// A server running on its own thread and runtime (tests, benchmarks, embedding); stopped
/// when dropped.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl RunningServer {
    /// Starts a server; returns once it listens.
    pub fn start(model: Pretrained, agent: Template, settings: ServeSettings) -> Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("agentune-serve".into())
            .spawn(move || -> Result<()> {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(async move {
                    let server = match Server::bind(model, agent, settings).await {
                        Ok(s) => s,
                        Err(e) => {
                            let msg = e.to_string();
                            let _ = ready_tx.send(Err(e));
                            return Err(Error::Engine(msg));
                        }
                    };
                    let addr = server.local_addr()?;
                    let _ = ready_tx.send(Ok((addr, server.metrics())));
                    server
                        .run(async move {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })?;
        match ready_rx.recv() {
            Ok(Ok((addr, metrics))) => Ok(Self {
                addr,
                metrics,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(Error::Engine(
                "the server thread ended before listening".into(),
            )),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
