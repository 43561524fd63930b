//! `cargo xtask review --data F.jsonl`: the review console, a small web app (axum, one static
//! page with plain JavaScript, no build step) where people accept, fix or reject generated
//! trajectories before training. Decisions go to the review log beside the data file (see
//! `agentune_data::review`); `cargo xtask data apply-review` writes the reviewed dataset.
//!
//! Safety: it listens on loopback unless told otherwise, and any other host needs a token that
//! every request must carry (header, `?token=` or the cookie set when the page is opened with
//! it). The page builds its DOM with `textContent` only and a Content-Security-Policy forbids
//! inline scripts, so record text (model and tool output) always shows as text.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agentune_data::Error as DataError;
use agentune_data::review::{Edit, REJECT_REASONS, ReviewSession, Summary, default_log_path};
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

const PAGE: &str = include_str!("review/page.html");
const SCRIPT: &str = include_str!("review/app.js");
const STYLE: &str = include_str!("review/app.css");
const COOKIE: &str = "agentune_review_token";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Options of `cargo xtask review`.
#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    /// The records to review (JSONL trajectories or samples, as `data synth` or the meta-agent
    /// writes them).
    #[arg(long)]
    data: PathBuf,
    /// The review log (default: <data>.review.jsonl beside the data file).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Listening address; anything but loopback needs `--token`.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Listening port (0 picks a free one).
    #[arg(long, default_value_t = 8420)]
    port: u16,
    /// A secret every request must carry (header `X-Review-Token`, `?token=`, or the cookie
    /// the page sets); required off loopback.
    #[arg(long, env = "AGENTUNE_REVIEW_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Options of `cargo xtask data apply-review`.
#[derive(Debug, clap::Args)]
pub struct ApplyReviewArgs {
    /// The reviewed data file.
    #[arg(long)]
    data: PathBuf,
    /// The review log (default: <data>.review.jsonl beside the data file).
    #[arg(long)]
    log: Option<PathBuf>,
    /// The reviewed dataset to write (JSONL).
    #[arg(long)]
    output: PathBuf,
    /// Also write the rejected records here, each with its reason as a failed `review` check.
    #[arg(long)]
    rejected: Option<PathBuf>,
    /// Keep records nobody decided on yet (default: only accepted records are written).
    #[arg(long)]
    keep_pending: bool,
}

/// `cargo xtask data apply-review`: the accepted records, with their edits, in file order.
pub fn apply_cmd(a: &ApplyReviewArgs) -> Result<()> {
    let log = a.log.clone().unwrap_or_else(|| default_log_path(&a.data));
    let report = agentune_data::review::apply_review(
        &a.data,
        &log,
        &a.output,
        a.rejected.as_deref(),
        agentune_data::review::ApplySettings {
            keep_pending: a.keep_pending,
        },
    )
    .with_context(|| format!("cannot apply {} to {}", log.display(), a.data.display()))?;
    tracing::info!(
        records = report.records,
        accepted = report.accepted,
        accepted_edited = report.accepted_edited,
        rejected = report.rejected,
        pending = report.pending,
        written = report.written,
        "wrote {}",
        a.output.display()
    );
    crate::print_stdout(&serde_json::to_string_pretty(&report)?)
}

struct AppState {
    session: Mutex<ReviewSession>,
    token: Option<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub fn run(args: &ReviewArgs) -> Result<()> {
    let token = args.token.clone().filter(|t| !t.trim().is_empty());
    if !is_loopback(&args.host) && token.is_none() {
        bail!(
            "--host {} is not loopback: set --token (or AGENTUNE_REVIEW_TOKEN) so only people with the token can review",
            args.host
        );
    }
    let log = args
        .log
        .clone()
        .unwrap_or_else(|| default_log_path(&args.data));
    let session = ReviewSession::open(&args.data, &log)
        .with_context(|| format!("cannot open {} for review", args.data.display()))?;
    tracing::info!(
        records = session.len(),
        resumed = session.resumed(),
        log = %log.display(),
        "review session open"
    );
    let state = Arc::new(AppState {
        session: Mutex::new(session),
        token,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let addr = format!("{}:{}", args.host, args.port);
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let auth = state.token.is_some();
        tracing::info!(auth, "review console on http://{local}/ (Ctrl-C stops)");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("stopping");
            })
            .await
            .context("the review server failed")?;
        Ok(())
    })
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route("/api/records", get(queue))
        .route("/api/records/{id}", get(detail))
        .route("/api/records/{id}/{action}", post(decide))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not found", None) })
        .layer(axum::extract::DefaultBodyLimit::max(4 << 20))
        .layer(from_fn_with_state(state.clone(), guard))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Token check (when one is set), otherwise a Host check against DNS rebinding; POSTs must
/// be JSON, which a cross-site form cannot send.
async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let query = parse_query(req.uri().query().unwrap_or(""));
    let mut set_cookie = None;
    if let Some(token) = &st.token {
        let headers = req.headers();
        let from_header = headers
            .get("x-review-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(|v| v.trim().to_owned())
            });
        let from_query = query
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.clone());
        let from_cookie = cookie(headers, COOKIE);
        let ok = |t: &Option<String>| {
            t.as_deref()
                .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
        };
        if ok(&from_query) {
            set_cookie = Some(format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            ));
        } else if !ok(&from_header) && !ok(&from_cookie) {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong review token: open the page with ?token=<token> or send X-Review-Token",
                None,
            );
        }
    } else {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        };
        if !is_loopback(name) {
            return error(
                StatusCode::FORBIDDEN,
                "this console answers loopback host names only (start it with --host and --token to share it)",
                None,
            );
        }
    }
    if req.method() == axum::http::Method::POST {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send decisions as application/json",
                None,
            );
        }
    }
    let mut resp = next.run(req).await;
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// `a=1&b=x%20y` -> [("a", "1"), ("b", "x y")].
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let digits = &bytes[i + 1..i + 3];
                let hex = digits
                    .iter()
                    .all(u8::is_ascii_hexdigit)
                    .then(|| std::str::from_utf8(digits).ok())
                    .flatten()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn error(status: StatusCode, message: &str, extra: Option<Value>) -> Response {
    let mut body = json!({ "error": message });
    if let (Some(Value::Object(m)), Some(b)) = (extra, body.as_object_mut()) {
        b.extend(m);
    }
    json_response(status, &body)
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

fn data_error(e: &DataError) -> Response {
    match e {
        DataError::Conflict { current, .. } => error(
            StatusCode::CONFLICT,
            &e.to_string(),
            Some(json!({ "current": current })),
        ),
        DataError::LogChanged(_) => error(StatusCode::CONFLICT, &e.to_string(), None),
        DataError::UnknownRecord(_) => error(StatusCode::NOT_FOUND, &e.to_string(), None),
        DataError::InvalidEdit { field, .. } => error(
            StatusCode::BAD_REQUEST,
            &e.to_string(),
            Some(json!({ "field": field })),
        ),
        other => {
            tracing::error!("{other}");
            error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string(), None)
        }
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// Runs `f` on the session off the async threads (edits run tools).
async fn with_session<T: Send + 'static>(
    st: Arc<AppState>,
    f: impl FnOnce(&mut ReviewSession) -> Result<T, DataError> + Send + 'static,
) -> Result<T, Response> {
    let joined = tokio::task::spawn_blocking(move || {
        let mut s = st
            .session
            .lock()
            .map_err(|_| DataError::Invalid("the review session is broken".into()))?;
        f(&mut s)
    })
    .await;
    match joined {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(data_error(&e)),
        Err(e) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the request failed: {e}"),
            None,
        )),
    }
}

fn count_states(items: &[&Summary]) -> Value {
    let mut counts = serde_json::Map::new();
    for s in ["pending", "edited", "accepted", "rejected"] {
        counts.insert(s.into(), json!(0));
    }
    for i in items {
        let k = i.state.as_str();
        let n = counts.get(k).and_then(Value::as_u64).unwrap_or(0);
        counts.insert(k.into(), json!(n + 1));
    }
    Value::Object(counts)
}

fn facet(items: &[Summary], f: impl Fn(&Summary) -> Vec<String>) -> Vec<String> {
    let mut v: Vec<String> = items.iter().flat_map(f).collect();
    v.sort();
    v.dedup();
    v
}

/// The queue: every record matching the filters, with counts and the filter choices.
async fn queue(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let query = parse_query(req.uri().query().unwrap_or(""));
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let filters = (
        param("scenario"),
        param("template"),
        param("kind"),
        param("complexity"),
        param("validation"),
        param("state"),
    );
    let all = match with_session(st, |s| s.summaries()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (scenario, template, kind, complexity, validation, state) = filters;
    let keep = |s: &Summary| {
        scenario.as_ref().is_none_or(|x| &s.scenario == x)
            && template
                .as_ref()
                .is_none_or(|x| s.template.as_deref().unwrap_or("(none)") == x)
            && kind.as_ref().is_none_or(|x| &s.kind == x)
            && complexity.as_ref().is_none_or(|x| &s.complexity == x)
            && validation.as_ref().is_none_or(|x| match x.as_str() {
                "passed" | "failed" => s.validation == x,
                check => s.failed_checks.iter().any(|c| c == check),
            })
            && state.as_ref().is_none_or(|x| s.state.as_str() == x)
    };
    let shown: Vec<&Summary> = all.iter().filter(|s| keep(s)).collect();
    let everything: Vec<&Summary> = all.iter().collect();
    let items: Vec<Value> = shown
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let Some(q) = v.get_mut("query") {
                let text: String = s.query.chars().take(160).collect();
                *q = Value::String(text);
            }
            v
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "total": all.len(),
            "shown": shown.len(),
            "counts": count_states(&everything),
            "shown_counts": count_states(&shown),
            "facets": {
                "scenario": facet(&all, |s| vec![s.scenario.clone()]),
                "template": facet(&all, |s| vec![s.template.clone().unwrap_or_else(|| "(none)".into())]),
                "kind": facet(&all, |s| vec![s.kind.clone()]),
                "complexity": facet(&all, |s| vec![s.complexity.clone()]),
                "checks": facet(&all, |s| s.failed_checks.clone()),
            },
            "reasons": REJECT_REASONS,
            "items": items,
        }),
    )
}

async fn detail(State(st): State<Arc<AppState>>, UrlPath(id): UrlPath<String>) -> Response {
    match with_session(st, move |s| s.detail(&id)).await {
        Ok(d) => json_response(
            StatusCode::OK,
            &serde_json::to_value(d).unwrap_or(Value::Null),
        ),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// The revision the reviewer saw.
    base: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    edits: Vec<Edit>,
}

async fn decide(
    State(st): State<Arc<AppState>>,
    UrlPath((id, action)): UrlPath<(String, String)>,
    body: Bytes,
) -> Response {
    let body: DecisionBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("bad request body: {e}"),
                None,
            );
        }
    };
    if !matches!(action.as_str(), "accept" | "reject" | "edit") {
        return error(
            StatusCode::NOT_FOUND,
            "unknown action (accept, reject or edit)",
            None,
        );
    }
    let result = with_session(st, move |s| {
        let decision = match action.as_str() {
            "accept" => s.accept(&id, &body.base)?,
            "reject" => s.reject(&id, &body.base, body.reason.as_deref().unwrap_or(""))?,
            _ => s.edit(&id, &body.base, &body.edits)?,
        };
        let detail = s.detail(&id)?;
        Ok((decision, detail))
    })
    .await;
    match result {
        Ok((decision, detail)) => json_response(
            StatusCode::OK,
            &json!({ "decision": decision, "record": detail }),
        ),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_and_hosts_are_classified() {
        assert_eq!(
            parse_query("a=1&b=x%20y+z&c=%3Cscript%3E&d=%zz"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y z".to_owned()),
                ("c".to_owned(), "<script>".to_owned()),
                ("d".to_owned(), "%zz".to_owned()),
            ]
        );
        assert_eq!(percent_decode("%4"), "%4");
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(
            !is_loopback("0.0.0.0") && !is_loopback("192.168.1.2") && !is_loopback("example.org")
        );
    }
}
