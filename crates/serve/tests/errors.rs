//! Every bad request gets a 4xx with an OpenAI error body naming the field; a full queue gets
//! 429 with `Retry-After`; a client that hangs up frees its batch slot at once.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn user(content: &str) -> Value {
    json!([{"role": "user", "content": content}])
}

fn with(mut body: Value, key: &str, v: Value) -> Value {
    body[key] = v;
    body
}

/// Checks the status, the body shape and the named field.
fn expect(r: &Resp, status: u16, param: Option<&str>, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.body);
    let v = r.json();
    let e = &v["error"];
    for key in ["message", "type", "param", "code"] {
        assert!(e.get(key).is_some(), "{what}: no error.{key} in {v}");
    }
    assert!(!e["message"].as_str().unwrap().is_empty());
    assert_eq!(e["param"].as_str(), param, "{what}: {v}");
}

#[test]
fn every_validation_error_names_its_field() {
    let server = start(settings());
    let addr = server.addr();
    let base = chat_body("hi", 4);
    let call =
        json!([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]);
    let tool =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        (
            "unknown model",
            with(base.clone(), "model", json!("gpt-9")),
            404,
            Some("model"),
        ),
        (
            "missing model",
            {
                let mut b = base.clone();
                b.as_object_mut().unwrap().remove("model");
                b
            },
            400,
            Some("model"),
        ),
        (
            "empty messages",
            with(base.clone(), "messages", json!([])),
            400,
            Some("messages"),
        ),
        (
            "messages not an array",
            with(base.clone(), "messages", json!("hi")),
            400,
            Some("messages"),
        ),
        (
            "bad role",
            with(
                base.clone(),
                "messages",
                json!([{"role": "wizard", "content": "x"}]),
            ),
            400,
            Some("messages[0].role"),
        ),
        (
            "user without content",
            with(base.clone(), "messages", json!([{"role": "user"}])),
            400,
            Some("messages[0].content"),
        ),
        (
            "tool result without a call",
            with(
                base.clone(),
                "messages",
                json!([{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c9", "content": "1"}]),
            ),
            400,
            Some("messages[1].tool_call_id"),
        ),
        (
            "tool result for another call",
            with(
                base.clone(),
                "messages",
                json!([{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": call},
                   {"role": "tool", "tool_call_id": "c2", "content": "1"}]),
            ),
            400,
            Some("messages[2].tool_call_id"),
        ),
        (
            "temperature too high",
            with(base.clone(), "temperature", json!(2.5)),
            400,
            Some("temperature"),
        ),
        (
            "temperature not a number",
            with(base.clone(), "temperature", json!("hot")),
            400,
            Some("temperature"),
        ),
        (
            "top_p zero",
            with(base.clone(), "top_p", json!(0)),
            400,
            Some("top_p"),
        ),
        (
            "max_tokens zero",
            with(base.clone(), "max_tokens", json!(0)),
            400,
            Some("max_tokens"),
        ),
        (
            "max_tokens negative",
            with(base.clone(), "max_completion_tokens", json!(-3)),
            400,
            Some("max_completion_tokens"),
        ),
        (
            "max_tokens past the context",
            with(base.clone(), "max_tokens", json!(5000)),
            400,
            Some("max_tokens"),
        ),
        ("n > 1", with(base.clone(), "n", json!(3)), 400, Some("n")),
        (
            "stream not a bool",
            with(base.clone(), "stream", json!("yes")),
            400,
            Some("stream"),
        ),
        (
            "too many stops",
            with(base.clone(), "stop", json!(["a", "b", "c", "d", "e"])),
            400,
            Some("stop"),
        ),
        (
            "seed not an integer",
            with(base.clone(), "seed", json!(1.5)),
            400,
            Some("seed"),
        ),
        (
            "tools malformed",
            with(
                base.clone(),
                "tools",
                json!([{"type": "function", "function": {"description": "no name"}}]),
            ),
            400,
            Some("tools[0].function.name"),
        ),
        (
            "tool_choice unknown",
            with(
                with(base.clone(), "tools", tool.clone()),
                "tool_choice",
                json!({"type": "function", "function": {"name": "g"}}),
            ),
            400,
            Some("tool_choice.function.name"),
        ),
        (
            "tool_choice required without tools",
            with(base.clone(), "tool_choice", json!("required")),
            400,
            Some("tool_choice"),
        ),
        (
            "prompt longer than the context",
            with(base.clone(), "messages", user(&"word ".repeat(400))),
            400,
            Some("messages"),
        ),
    ];
    for (what, body, status, param) in cases {
        let r = post(addr, "/v1/chat/completions", &body);
        expect(&r, status, param, what);
        if what == "prompt longer than the context" || what == "max_tokens past the context" {
            assert_eq!(
                r.json()["error"]["code"],
                "context_length_exceeded",
                "{what}"
            );
        }
        if what == "unknown model" {
            assert_eq!(r.json()["error"]["code"], "model_not_found");
        }
    }
    // A field path inside a tool definition is named exactly.
    let r = post(
        addr,
        "/v1/chat/completions",
        &with(
            base.clone(),
            "tools",
            json!([{"type": "function", "function": {"description": "no name"}}]),
        ),
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tools[0]")
    );
}

#[test]
fn malformed_oversized_and_misrouted_requests_get_openai_errors() {
    let server = start(settings());
    let addr = server.addr();
    let r = raw(
        addr,
        "POST",
        "/v1/chat/completions",
        b"{\"model\": \"tiny\", ",
        &[],
    );
    expect(&r, 400, None, "malformed JSON");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    expect(
        &raw(addr, "POST", "/v1/chat/completions", b"[1, 2]", &[]),
        400,
        None,
        "not an object",
    );
    let big = json!({"model": MODEL, "messages": user(&"x".repeat(100_000))});
    let r = post(addr, "/v1/chat/completions", &big);
    expect(&r, 413, None, "oversized body");
    expect(&get(addr, "/v1/nothing"), 404, None, "unknown route");
    expect(
        &get(addr, "/v1/chat/completions"),
        405,
        None,
        "wrong method",
    );
    expect(
        &post(addr, "/v1/completions", &json!({"model": MODEL})),
        400,
        Some("prompt"),
        "no prompt",
    );
    expect(
        &post(
            addr,
            "/v1/completions",
            &json!({"model": MODEL, "prompt": [999999]}),
        ),
        400,
        Some("prompt"),
        "token out of vocabulary",
    );
    expect(
        &get(addr, "/v1/models/other"),
        404,
        Some("model"),
        "unknown model card",
    );
    // The server still works after all of that.
    assert_eq!(
        post(addr, "/v1/chat/completions", &chat_body("ok", 2)).status,
        200
    );
    let m = get(addr, "/metrics").body;
    assert!(
        m.contains("endpoint=\"/v1/chat/completions\",status=\"413\"} 1"),
        "{m}"
    );
}

#[test]
fn api_key_is_required_when_set() {
    let mut s = settings();
    s.api_key = Some("k-123".into());
    let server = start(s);
    let addr = server.addr();
    let r = post(addr, "/v1/chat/completions", &chat_body("hi", 2));
    expect(&r, 401, None, "no key");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let body = chat_body("hi", 2).to_string();
    let wrong = raw(
        addr,
        "POST",
        "/v1/chat/completions",
        body.as_bytes(),
        &[("Authorization", "Bearer nope")],
    );
    expect(&wrong, 401, None, "wrong key");
    let ok = raw(
        addr,
        "POST",
        "/v1/chat/completions",
        body.as_bytes(),
        &[("Authorization", "Bearer k-123")],
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(get(addr, "/health").status, 200, "health stays open");
}

fn long_stream() -> Value {
    let mut b = chat_body("go on", 3000);
    b["ignore_eos"] = json!(true);
    b["stream"] = json!(true);
    b
}

fn wait_for(addr: std::net::SocketAddr, line: &str, value: f64) {
    let start = Instant::now();
    while metric(addr, line) != value {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{line} never reached {value}: {}",
            get(addr, "/metrics").body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A model slow enough that 3000 tokens take seconds.
fn slow_server(max_batch: usize, max_queue: usize) -> agentune_serve::RunningServer {
    let mut s = settings();
    s.max_batch = max_batch;
    s.max_queue = max_queue;
    start_model(tiny_model(128, 4, 4096), s)
}

#[test]
fn a_full_queue_gets_429_with_retry_after() {
    let server = slow_server(1, 1);
    let addr = server.addr();
    let mut running = EventStream::open(addr, &long_stream());
    assert_eq!(running.status, 200);
    running.next_event().unwrap();
    wait_for(addr, "agentune_running_sequences", 1.0);
    // The second request waits in the queue (its response head comes at once).
    let waiting = EventStream::open(addr, &long_stream());
    assert_eq!(waiting.status, 200);
    wait_for(addr, "agentune_queue_depth", 1.0);
    let r = post(addr, "/v1/chat/completions", &chat_body("one more", 2));
    expect(&r, 429, None, "queue full");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(metric(addr, "agentune_rejected_total"), 1.0);
    drop(running);
    drop(waiting);
    wait_for(addr, "agentune_running_sequences", 0.0);
    wait_for(addr, "agentune_queue_depth", 0.0);
    assert_eq!(
        post(addr, "/v1/chat/completions", &chat_body("now", 2)).status,
        200
    );
}

#[test]
fn a_disconnecting_client_frees_its_slot_at_once() {
    let server = slow_server(1, 4);
    let addr = server.addr();
    let mut s = EventStream::open(addr, &long_stream());
    s.next_event().unwrap();
    s.next_event().unwrap();
    wait_for(addr, "agentune_running_sequences", 1.0);
    drop(s);
    wait_for(addr, "agentune_running_sequences", 0.0);
    assert_eq!(metric(addr, "agentune_cancelled_total"), 1.0);
    let generated = metric(addr, "agentune_generated_tokens_total");
    assert!(
        generated < 3000.0,
        "the sequence ran on after the client left: {generated}"
    );
    // A non-streaming client that hangs up is dropped too.
    let mut body = long_stream();
    body["stream"] = json!(false);
    {
        use std::io::Write;
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        let b = body.to_string();
        write!(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()).unwrap();
        wait_for(addr, "agentune_running_sequences", 1.0);
    }
    wait_for(addr, "agentune_running_sequences", 0.0);
    assert_eq!(metric(addr, "agentune_cancelled_total"), 2.0);
    // The freed slot serves the next request.
    assert_eq!(
        post(addr, "/v1/chat/completions", &chat_body("next", 3)).status,
        200
    );
}
