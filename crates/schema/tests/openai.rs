//! Conversion tests between our schema and the OpenAI `tools` / chat-messages JSON.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use agentune_schema::{
    Error, Message, Role, ToolCall, ToolSpec, messages_to_openai, tools_from_openai_json,
    tools_to_openai_json,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn openai_tools_round_trip_unchanged() {
    let input = fixture("openai_tools.json");
    let specs = tools_from_openai_json(&input).unwrap();
    assert_eq!(specs.len(), 4);
    assert_eq!(specs[0].name, "get_weather");
    assert_eq!(specs[0].required_parameters(), vec!["city", "date"]);
    assert_eq!(specs[0].strict, Some(true));
    assert_eq!(specs[2].description, None);
    assert_eq!(specs[3].parameters, None);
    assert_eq!(tools_to_openai_json(&specs), input);
}

#[test]
fn legacy_functions_round_trip_unchanged() {
    let tools = fixture("openai_tools.json");
    let functions: Vec<Value> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"].clone())
        .collect();
    let wrapped = json!({ "functions": functions });
    let specs = tools_from_openai_json(&wrapped).unwrap();
    let back: Vec<Value> = specs.iter().map(ToolSpec::to_openai_function).collect();
    assert_eq!(Value::Array(back), Value::Array(functions.clone()));
    // And a ToolSpec serialises to exactly the function object.
    assert_eq!(serde_json::to_value(&specs[1]).unwrap(), functions[1]);
}

#[test]
fn bad_tools_name_the_entry_and_field() {
    let cases = [
        (
            json!([{"type": "function", "function": {"name": "ok"}}, {"type": "function", "function": {"description": "x"}}]),
            "[1].function",
        ),
        (json!([{"type": "retrieval"}]), "[0]"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": "nope"}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!([{"name": "f", "parameters": {"type": "string"}}]),
            "[0].parameters.type",
        ),
        (json!([{"name": "f"}, {"name": "f"}]), "[1]"),
        (
            json!([{"name": "f", "parameters": {"type": "object", "required": "x"}}]),
            "[0].parameters.required",
        ),
        (json!([{"name": "has space"}]), "[0].name"),
    ];
    for (input, field) in cases {
        let err = tools_from_openai_json(&input).unwrap_err();
        match &err {
            Error::Invalid { location, .. } => assert_eq!(location.0, field, "{input}: {err}"),
            other => panic!("unexpected error {other}"),
        }
    }
    let err = tools_from_openai_json(&json!("tools")).unwrap_err();
    assert!(err.to_string().contains("array"), "{err}");
}

#[test]
fn openai_conversation_round_trip() {
    let input = fixture("openai_conversation.json");
    let messages: Vec<Message> = input
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Message::from_openai(m).unwrap())
        .collect();
    assert_eq!(messages[2].tool_calls.len(), 2);
    assert_eq!(messages[2].tool_calls[1].arguments["city"], "Shanghai");
    assert_eq!(messages[3].role, Role::Tool);
    assert_eq!(messages[2].loss_weight(), 1.0);
    assert_eq!(messages[1].loss_weight(), 0.0);

    let output = messages_to_openai(&messages);
    assert_eq!(output.len(), 6);
    for (a, b) in input.as_array().unwrap().iter().zip(&output) {
        assert_eq!(normalise_arguments(a), normalise_arguments(b));
    }
}

/// Tool-call arguments travel as JSON strings whose spacing may differ; compare them parsed.
fn normalise_arguments(message: &Value) -> Value {
    let mut m = message.clone();
    if let Some(calls) = m.get_mut("tool_calls").and_then(Value::as_array_mut) {
        for c in calls {
            let parsed: Value =
                serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
            c["function"]["arguments"] = parsed;
        }
    }
    m
}

#[test]
fn missing_call_ids_are_assigned_and_linked() {
    let mut args = serde_json::Map::new();
    args.insert("n".into(), json!(5));
    let messages = vec![
        Message::user("5! and 6!?"),
        Message::assistant_calls(
            None,
            vec![
                ToolCall::new("math.factorial", args.clone()),
                ToolCall::new("math.factorial", args),
            ],
        ),
        Message {
            tool_call_id: None,
            ..Message::tool("", "math.factorial", "120")
        },
        Message {
            tool_call_id: None,
            ..Message::tool("", "math.factorial", "720")
        },
    ];
    let out = messages_to_openai(&messages);
    assert_eq!(out[1]["tool_calls"][0]["id"], "call_0");
    assert_eq!(out[1]["tool_calls"][1]["id"], "call_1");
    assert_eq!(out[2]["tool_call_id"], "call_0");
    assert_eq!(out[3]["tool_call_id"], "call_1");
    assert_eq!(
        out[1]["tool_calls"][0]["function"]["arguments"],
        "{\"n\":5}"
    );
}

#[test]
fn openai_message_variants() {
    let m = Message::from_openai(&json!({"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]})).unwrap();
    assert_eq!((m.role, m.content_str()), (Role::System, "Be brief."));

    let m = Message::from_openai(&json!({"role": "assistant", "content": null, "function_call": {"name": "f", "arguments": ""}})).unwrap();
    assert_eq!(
        m.tool_calls,
        vec![ToolCall::new("f", serde_json::Map::new())]
    );

    let m = Message::from_openai(&json!({"role": "assistant", "content": "ok", "loss": false}))
        .unwrap();
    assert_eq!(m.loss_weight(), 0.0);

    let bad = [
        (json!({"role": "robot", "content": "x"}), "role"),
        (json!({"role": "user", "content": 3}), "content"),
        (
            json!({"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{not json"}}]}),
            "tool_calls[0].function.arguments",
        ),
        (
            json!({"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "[1]"}}]}),
            "tool_calls[0].function.arguments",
        ),
        (
            json!({"role": "user", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}),
            "tool_calls",
        ),
        (
            json!({"role": "assistant", "content": "x", "loss": -1}),
            "loss",
        ),
        (
            json!({"role": "tool", "content": "x", "tool_call_id": 7}),
            "tool_call_id",
        ),
    ];
    for (input, field) in bad {
        match Message::from_openai(&input) {
            Err(Error::Invalid { location, .. }) => assert_eq!(location.0, field, "{input}"),
            other => panic!("{input}: expected an error at {field}, got {other:?}"),
        }
    }
}
