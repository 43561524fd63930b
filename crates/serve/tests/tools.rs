//! Tool calling end to end with the real SmolLM2 (skipped, saying so, when it is not in the
//! model cache): tools in the prompt through the hermes template, `tool_calls` back with ids
//! and JSON-string arguments, the same call as streamed deltas, the tool result sent back and
//! a final answer; `required` and `none` tool choices.

#![allow(clippy::unwrap_used)]

mod common;

use agentune_serve::{RunningServer, ServeSettings, load_model};
use common::*;
use serde_json::{Value, json};

fn smollm2() -> Option<RunningServer> {
    let Some(path) = agentune_model::fetch::cached_model("smollm2") else {
        eprintln!("SKIPPED: SmolLM2 is not cached; run `cargo xtask fetch-model` first");
        return None;
    };
    let (model, agent) = load_model(path.to_str().unwrap(), false, None).unwrap();
    assert_eq!(agent.id(), "hermes");
    let settings = ServeSettings {
        served_model_name: "smollm2".into(),
        port: 0,
        ..ServeSettings::default()
    };
    Some(RunningServer::start(model, agent, settings).unwrap())
}

fn tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

fn ask(choice: Value) -> Value {
    json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": tools(), "tool_choice": choice, "max_tokens": 48, "temperature": 0,
    })
}

#[test]
fn a_tool_call_round_trip_with_smollm2() {
    let Some(server) = smollm2() else {
        return;
    };
    let addr = server.addr();
    let named = json!({"type": "function", "function": {"name": "get_weather"}});
    let r = post(addr, "/v1/chat/completions", &ask(named.clone()));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args.is_object(), "{args}");

    // Streamed: the same call as tool-call deltas, then finish_reason tool_calls.
    let mut body = ask(named);
    body["stream"] = json!(true);
    let events = post(addr, "/v1/chat/completions", &body).events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(deltas[0]["function"]["name"], "get_weather");
    assert_eq!(deltas[0]["index"], 0);
    let streamed_args: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&streamed_args).unwrap(), args);
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );

    // The tool result goes back; the model answers in text.
    let mut follow = ask(json!("auto"));
    let msgs = follow["messages"].as_array_mut().unwrap();
    msgs.push(choice["message"].clone());
    msgs.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "{\"weather\": \"sunny, 24 C\"}"}));
    let r = post(addr, "/v1/chat/completions", &follow);
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json();
    let fin = answer["choices"][0]["finish_reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(["stop", "length", "tool_calls"].contains(&fin.as_str()));
    assert!(
        answer["usage"]["prompt_tokens"].as_u64().unwrap()
            > v["usage"]["prompt_tokens"].as_u64().unwrap()
    );
}

#[test]
fn required_forces_a_call_and_none_hides_the_tools() {
    let Some(server) = smollm2() else {
        return;
    };
    let addr = server.addr();
    let v = post(addr, "/v1/chat/completions", &ask(json!("required"))).json();
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
    assert!(
        !v["choices"][0]["message"]["tool_calls"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let none = post(addr, "/v1/chat/completions", &ask(json!("none"))).json();
    assert!(
        none["choices"][0]["message"].get("tool_calls").is_none(),
        "{none}"
    );
    assert_ne!(none["choices"][0]["finish_reason"], "tool_calls");
    assert!(
        none["usage"]["prompt_tokens"].as_u64().unwrap()
            < v["usage"]["prompt_tokens"].as_u64().unwrap(),
        "with tool_choice none the tool list is not in the prompt"
    );
}
