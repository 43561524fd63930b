//! The server over real HTTP on a loopback port with a tiny random model: models, health and
//! metrics; chat and completions, plain and streamed, deterministic under greedy decoding and
//! identical whether requests run alone or batched together; our own OpenAI client against it.

#![allow(clippy::unwrap_used)]

mod common;

use agentune_runtime::model::{ChatModel, ChatRequest, OpenAiClient};
use agentune_schema::Message;
use common::*;
use serde_json::json;

#[test]
fn models_health_and_metrics_answer() {
    let server = start(settings());
    let addr = server.addr();
    let m = get(addr, "/v1/models");
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.json()["data"][0]["id"], MODEL);
    assert_eq!(get(addr, "/v1/models/tiny").json()["id"], MODEL);
    assert_eq!(get(addr, "/health").json()["status"], "ok");
    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    for name in [
        "agentune_requests_total{endpoint=\"/v1/models\",status=\"200\"} 2",
        "agentune_queue_depth 0",
        "agentune_running_sequences 0",
        "agentune_time_to_first_token_seconds_bucket",
        "agentune_inter_token_latency_seconds_count",
        "agentune_generated_tokens_total",
    ] {
        assert!(
            metrics.body.contains(name),
            "{name} missing:\n{}",
            metrics.body
        );
    }
}

#[test]
fn chat_replies_are_deterministic_and_counted() {
    let server = start(settings());
    let addr = server.addr();
    let a = post(addr, "/v1/chat/completions", &chat_body("hello there", 12));
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], MODEL);
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    let finish = v["choices"][0]["finish_reason"].as_str().unwrap();
    assert!(finish == "stop" || finish == "length", "{finish}");
    let usage = &v["usage"];
    let completion = usage["completion_tokens"].as_u64().unwrap();
    assert!(completion <= 12 && (finish == "stop" || completion == 12));
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 5);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + completion
    );
    let b = post(addr, "/v1/chat/completions", &chat_body("hello there", 12));
    assert_eq!(a.json()["choices"], b.json()["choices"]);
    // Seeded sampling repeats too.
    let mut seeded = chat_body("hello there", 12);
    seeded["temperature"] = json!(1.0);
    seeded["seed"] = json!(7);
    let s1 = post(addr, "/v1/chat/completions", &seeded).json();
    let s2 = post(addr, "/v1/chat/completions", &seeded).json();
    assert_eq!(s1["choices"], s2["choices"]);
    assert!(metric(addr, "agentune_generated_tokens_total") >= completion as f64);
    assert!(metric(addr, "agentune_time_to_first_token_seconds_count") >= 4.0);
}

#[test]
fn max_tokens_is_honoured_with_ignore_eos() {
    let server = start(settings());
    let mut body = chat_body("count", 20);
    body["ignore_eos"] = json!(true);
    body["max_completion_tokens"] = json!(9);
    let v = post(server.addr(), "/v1/chat/completions", &body).json();
    assert_eq!(v["usage"]["completion_tokens"], 9, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
}

#[test]
fn streaming_matches_the_plain_reply_and_ends_with_done() {
    let server = start(settings());
    let addr = server.addr();
    let plain = post(addr, "/v1/chat/completions", &chat_body("stream me", 16)).json();
    let mut body = chat_body("stream me", 16);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = post(addr, "/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = r.events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        text,
        plain["choices"][0]["message"]["content"].as_str().unwrap()
    );
    let finish_chunk = &chunks[chunks.len() - 2];
    assert_eq!(
        finish_chunk["choices"][0]["finish_reason"],
        plain["choices"][0]["finish_reason"]
    );
    let usage_chunk = chunks.last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"], plain["usage"]);
}

#[test]
fn batched_requests_give_the_same_replies_as_solo_ones() {
    let server = start(settings());
    let addr = server.addr();
    let prompts = [
        "one",
        "a longer second prompt",
        "3",
        "the fourth, different again",
    ];
    let solo: Vec<serde_json::Value> = prompts
        .iter()
        .map(|p| {
            let mut b = chat_body(p, 24);
            b["ignore_eos"] = json!(true);
            post(addr, "/v1/chat/completions", &b).json()["choices"].clone()
        })
        .collect();
    let together: Vec<serde_json::Value> = std::thread::scope(|s| {
        let handles: Vec<_> = prompts
            .iter()
            .map(|p| {
                s.spawn(move || {
                    let mut b = chat_body(p, 24);
                    b["ignore_eos"] = json!(true);
                    post(addr, "/v1/chat/completions", &b).json()["choices"].clone()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(solo, together);
}

#[test]
fn completions_plain_streamed_and_echoed() {
    let server = start(settings());
    let addr = server.addr();
    let body = json!({"model": MODEL, "prompt": "hello", "max_tokens": 6, "temperature": 0, "ignore_eos": true});
    let v = post(addr, "/v1/completions", &body).json();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["usage"]["completion_tokens"], 6);
    let text = v["choices"][0]["text"].as_str().unwrap().to_owned();
    let mut echo = body.clone();
    echo["echo"] = json!(true);
    let e = post(addr, "/v1/completions", &echo).json();
    assert_eq!(
        e["choices"][0]["text"].as_str().unwrap(),
        format!("hello{text}")
    );
    let mut stream = body.clone();
    stream["stream"] = json!(true);
    let events = post(addr, "/v1/completions", &stream).events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let streamed: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(streamed, text);
    let tokens =
        json!({"model": MODEL, "prompt": [104, 101, 108], "max_tokens": 3, "temperature": 0});
    assert_eq!(post(addr, "/v1/completions", &tokens).status, 200);
}

#[test]
fn our_openai_client_talks_to_the_server() {
    let mut s = settings();
    s.api_key = Some("sesame".into());
    let server = start(s);
    let client = OpenAiClient::new(server.base_url(), MODEL).with_api_key("sesame");
    let mut req = ChatRequest::new(vec![Message::user("hi")]);
    req.max_tokens = Some(5);
    req.temperature = Some(0.0);
    let reply = client.chat(&req).unwrap();
    assert_eq!(reply.message.role, agentune_schema::Role::Assistant);
    assert!(reply.usage.unwrap().completion_tokens <= 5);
    let anonymous = OpenAiClient::new(server.base_url(), MODEL);
    let err = anonymous.chat(&req).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("API key"), "{err}");
}
