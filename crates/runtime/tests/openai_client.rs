//! The OpenAI-compatible client against a real local HTTP server: the request body it sends
//! (messages, tools, sampling options, auth header) and the responses it reads, including tool
//! calls with JSON-string arguments and every kind of failure. Also the scripted model.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agentune_runtime::Error;
use agentune_runtime::model::{ChatModel, ChatRequest, OpenAiClient, ScriptedModel};
use agentune_schema::{Message, Role, ToolCall, ToolSpec};
use common::{Reply, closed_port_url, serve};
use serde_json::{Value, json};

const TOOL_CALL_RESPONSE: &str = r#"{
  "id": "chatcmpl-1",
  "object": "chat.completion",
  "model": "tiny",
  "choices": [{
    "index": 0,
    "finish_reason": "tool_calls",
    "message": {
      "role": "assistant",
      "content": null,
      "tool_calls": [
        {"id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\": \"北京\", \"unit\": \"celsius\"}"}},
        {"id": "call_b", "type": "function",
         "function": {"name": "calculator", "arguments": "{\"expression\": \"2+2\"}"}}
      ]
    }
  }],
  "usage": {"prompt_tokens": 120, "completion_tokens": 31, "total_tokens": 151}
}"#;

fn weather_spec() -> ToolSpec {
    ToolSpec::new(
        "get_weather",
        "Weather of a city.",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

fn request() -> ChatRequest {
    let mut req = ChatRequest::new(vec![
        Message::system("You are helpful."),
        Message::user("北京天气怎么样？"),
        Message::assistant_calls(
            None,
            vec![
                ToolCall::new(
                    "get_weather",
                    json!({"city": "北京"}).as_object().unwrap().clone(),
                )
                .with_id("call_0"),
            ],
        ),
        Message::tool("call_0", "get_weather", "{\"condition\": \"sunny\"}"),
    ]);
    req.tools = Some(vec![weather_spec()]);
    req.temperature = Some(0.2);
    req.max_tokens = Some(256);
    req.stop = vec!["Observation:".into()];
    req.seed = Some(7);
    req
}

#[test]
fn sends_the_openai_request_and_reads_tool_calls() {
    let (base, requests) = serve(vec![Reply::json(200, TOOL_CALL_RESPONSE)]);
    let client = OpenAiClient::new(format!("{base}/v1/"), "tiny").with_api_key("sk-test-secret");
    let resp = client.chat(&request()).unwrap();

    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(got.header("authorization"), Some("Bearer sk-test-secret"));
    assert!(
        got.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = got.json();
    assert_eq!(body["model"], "tiny");
    assert_eq!(body["temperature"], json!(0.2));
    assert!(got.body.contains("\"temperature\":0.2,"), "{}", got.body);
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["stop"], json!(["Observation:"]));
    assert_eq!(body["seed"], 7);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "You are helpful."})
    );
    assert_eq!(messages[1]["content"], "北京天气怎么样？");
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(call["id"], "call_0");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "北京"}));
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_0");
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "Weather of a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}])
    );

    assert_eq!(resp.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(resp.message.role, Role::Assistant);
    assert_eq!(resp.message.content, None);
    assert_eq!(resp.message.tool_calls.len(), 2);
    let first = &resp.message.tool_calls[0];
    assert_eq!(first.id.as_deref(), Some("call_a"));
    assert_eq!(first.name, "get_weather");
    assert_eq!(
        Value::Object(first.arguments.clone()),
        json!({"city": "北京", "unit": "celsius"})
    );
    assert_eq!(resp.message.tool_calls[1].arguments["expression"], "2+2");
    let usage = resp.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (120, 31));
}

#[test]
fn plain_text_reply_without_tools_or_key() {
    let (base, requests) = serve(vec![Reply::json(
        200,
        r#"{"choices":[{"message":{"content":"Thought: done\nFinal Answer: 4"},"finish_reason":"stop"}]}"#,
    )]);
    let client = OpenAiClient::new(&base, "m");
    let resp = client
        .chat(&ChatRequest::new(vec![Message::user("2+2?")]))
        .unwrap();
    assert_eq!(
        resp.message.content.as_deref(),
        Some("Thought: done\nFinal Answer: 4")
    );
    assert!(resp.usage.is_none());
    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /chat/completions HTTP/1.1");
    assert_eq!(got.header("authorization"), None);
    let body = got.json();
    assert!(
        body.get("tools").is_none() && body.get("stop").is_none() && body.get("seed").is_none()
    );
}

#[test]
fn http_errors_are_reported_with_the_api_message() {
    let (base, _rx) = serve(vec![
        Reply::json(
            401,
            r#"{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}"#,
        ),
        Reply::text(502, "Bad Gateway"),
    ]);
    let client = OpenAiClient::new(&base, "m");
    let req = ChatRequest::new(vec![Message::user("hi")]);
    match client.chat(&req).unwrap_err() {
        Error::HttpStatus { status, body, .. } => {
            assert_eq!(status, 401);
            assert_eq!(body, "Incorrect API key provided");
        }
        other => panic!("{other}"),
    }
    let err = client.chat(&req).unwrap_err();
    assert!(
        matches!(&err, Error::HttpStatus { status: 502, body, .. } if body == "Bad Gateway"),
        "{err}"
    );
}

#[test]
fn unusable_bodies_are_bad_responses() {
    let (base, _rx) = serve(vec![
        Reply::text(200, "<html>proxy login</html>"),
        Reply::json(200, r#"{"choices": []}"#),
        Reply::json(
            200,
            r#"{"choices": [{"message": {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{not json"}}]}}]}"#,
        ),
        Reply::json(200, r#"{"error": {"message": "model overloaded"}}"#),
    ]);
    let client = OpenAiClient::new(&base, "m");
    let req = ChatRequest::new(vec![Message::user("hi")]);
    let expect = |needle: &str| {
        let err = client.chat(&req).unwrap_err();
        assert!(matches!(err, Error::BadResponse { .. }), "{err}");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    };
    expect("not JSON");
    expect("no `choices[0]`");
    expect("function.arguments");
    expect("model overloaded");
}

#[test]
fn connection_failures_and_timeouts_are_http_errors() {
    let client = OpenAiClient::new(closed_port_url(), "m");
    let req = ChatRequest::new(vec![Message::user("hi")]);
    let err = client.chat(&req).unwrap_err();
    assert!(matches!(err, Error::Http { .. }), "{err}");

    let (base, _rx) = serve(vec![
        Reply::json(200, TOOL_CALL_RESPONSE).after(Duration::from_secs(3)),
    ]);
    let client = OpenAiClient::new(&base, "m").with_timeout(Duration::from_millis(300));
    let err = client.chat(&req).unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");

    let client = OpenAiClient::new("ftp://example.invalid", "m");
    assert!(
        client
            .chat(&req)
            .unwrap_err()
            .to_string()
            .contains("http://")
    );
}

#[test]
fn api_key_is_required_when_asked_and_never_printed() {
    let err = OpenAiClient::new("http://127.0.0.1:1", "m")
        .with_api_key_env("AGENTUNE_TEST_KEY_THAT_IS_NOT_SET")
        .unwrap_err();
    assert!(matches!(err, Error::MissingApiKey { .. }));
    assert!(
        err.to_string()
            .contains("AGENTUNE_TEST_KEY_THAT_IS_NOT_SET")
    );
    let client = OpenAiClient::new("http://127.0.0.1:1", "m").with_api_key("sk-very-secret-value");
    let debug = format!("{client:?}");
    assert!(!debug.contains("sk-very-secret-value"), "{debug}");
    assert!(debug.contains("<hidden>"));
}

#[test]
fn api_key_is_read_from_the_named_variable() {
    // Setting a variable is unsafe in a multi-threaded test process, so this reads one that is
    // always set: PATH. Its value travels as the bearer token to the local server.
    let path = std::env::var("PATH").unwrap();
    let (base, requests) = serve(vec![Reply::json(200, TOOL_CALL_RESPONSE)]);
    let client = OpenAiClient::new(&base, "m")
        .with_api_key_env("PATH")
        .unwrap();
    client
        .chat(&ChatRequest::new(vec![Message::user("hi")]))
        .unwrap();
    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {path}").as_str())
    );
}

#[test]
fn scripted_model_replays_and_records() {
    let model = ScriptedModel::new(vec![
        Message::assistant_calls(
            None,
            vec![ToolCall::new("calculator", serde_json::Map::new())],
        ),
        Message::assistant("Final Answer: 4"),
    ]);
    let r1 = model
        .chat(&ChatRequest::new(vec![Message::user("a")]))
        .unwrap();
    assert_eq!(r1.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(model.remaining(), 1);
    let r2 = model
        .chat(&ChatRequest::new(vec![Message::user("b")]))
        .unwrap();
    assert_eq!(r2.message.content.as_deref(), Some("Final Answer: 4"));
    let err = model
        .chat(&ChatRequest::new(vec![Message::user("c")]))
        .unwrap_err();
    assert!(
        matches!(err, Error::ScriptExhausted { replies: 2 }),
        "{err}"
    );
    let seen: Vec<String> = model
        .requests()
        .iter()
        .map(|r| r.messages[0].content_str().to_owned())
        .collect();
    assert_eq!(seen, ["a", "b", "c"]);
    let texts = ScriptedModel::from_texts(["x"]);
    assert_eq!(
        texts
            .chat(&ChatRequest::new(vec![]))
            .unwrap()
            .message
            .content_str(),
        "x"
    );
}

#[test]
fn scripts_load_from_jsonl_with_line_numbered_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.jsonl");
    std::fs::write(
        &path,
        concat!(
            "\"Thought: I need the weather.\\nAction: get_weather\"\n",
            "\n",
            r#"{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}"#,
            "\n",
        ),
    )
    .unwrap();
    let model = ScriptedModel::load(&path).unwrap();
    assert_eq!(model.remaining(), 2);
    let r1 = model.chat(&ChatRequest::new(vec![])).unwrap();
    assert!(
        r1.message
            .content_str()
            .starts_with("Thought: I need the weather.\nAction")
    );
    let r2 = model.chat(&ChatRequest::new(vec![])).unwrap();
    assert_eq!(r2.message.tool_calls[0].arguments["city"], "Paris");

    std::fs::write(&path, "\"ok\"\n{\"role\": \"user\", \"content\": \"hi\"}\n").unwrap();
    let err = ScriptedModel::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("script.jsonl:2: a scripted reply must be an assistant message"),
        "{err}"
    );
    std::fs::write(&path, "{oops\n").unwrap();
    let err = ScriptedModel::load(&path).unwrap_err().to_string();
    assert!(err.contains("script.jsonl:1: not JSON"), "{err}");
    assert!(ScriptedModel::load(dir.path().join("missing.jsonl")).is_err());
}
