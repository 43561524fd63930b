//! HTTP tools against a real local server: the arguments arrive as a JSON POST, the response
//! text becomes the observation, and error statuses, timeouts and refused connections become
//! error observations. Also the MCP-style tool list import.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agentune_runtime::tools::{HttpTool, ToolRegistry, tools_from_mcp_list};
use agentune_schema::{ToolCall, ToolSpec};
use common::{Reply, closed_port_url, serve};
use serde_json::json;

fn stock_spec() -> ToolSpec {
    ToolSpec::new(
        "stock_price",
        "Latest price of a stock ticker.",
        json!({
            "type": "object",
            "properties": {"ticker": {"type": "string", "minLength": 1}},
            "required": ["ticker"],
            "additionalProperties": false
        }),
    )
}

fn call(args: serde_json::Value) -> ToolCall {
    ToolCall::new("stock_price", args.as_object().unwrap().clone()).with_id("c1")
}

#[test]
fn posts_arguments_and_returns_the_body() {
    let (base, requests) = serve(vec![Reply::json(
        200,
        r#"{"ticker": "ACME", "price": 12.5}"#,
    )]);
    let tool = HttpTool::new(stock_spec(), format!("{base}/tools/stock"))
        .unwrap()
        .with_header("X-Api-Key", "k-123");
    assert!(
        !format!("{tool:?}").contains("k-123"),
        "header values stay out of Debug"
    );
    let mut reg = ToolRegistry::new();
    reg.register(tool).unwrap();
    let obs = reg.execute(&call(json!({"ticker": "ACME"})));
    assert!(!obs.is_error, "{}", obs.content);
    assert_eq!(obs.content, r#"{"ticker": "ACME", "price": 12.5}"#);
    assert_eq!(obs.tool_call_id.as_deref(), Some("c1"));
    let got = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(got.request_line, "POST /tools/stock HTTP/1.1");
    assert_eq!(got.header("x-api-key"), Some("k-123"));
    assert_eq!(got.json(), json!({"ticker": "ACME"}));
}

#[test]
fn bad_arguments_never_reach_the_service() {
    let (base, requests) = serve(vec![Reply::json(200, "{}")]);
    let mut reg = ToolRegistry::new();
    reg.register(HttpTool::new(stock_spec(), base).unwrap())
        .unwrap();
    let obs = reg.execute(&call(json!({"symbol": "ACME"})));
    assert!(obs.is_error);
    assert!(
        obs.content.contains("missing required property \"ticker\""),
        "{}",
        obs.content
    );
    assert!(
        requests.recv_timeout(Duration::from_millis(300)).is_err(),
        "no request was sent"
    );
}

#[test]
fn failures_become_error_observations() {
    let (base, _rx) = serve(vec![
        Reply::text(503, "service down for maintenance"),
        Reply::json(200, "{}").after(Duration::from_secs(3)),
    ]);
    let mut reg = ToolRegistry::new();
    reg.register(
        HttpTool::new(stock_spec(), &base)
            .unwrap()
            .with_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let obs = reg.execute(&call(json!({"ticker": "ACME"})));
    assert!(obs.is_error);
    assert!(
        obs.content
            .contains("HTTP 503: service down for maintenance"),
        "{}",
        obs.content
    );
    let obs = reg.execute(&call(json!({"ticker": "ACME"})));
    assert!(obs.is_error);
    assert!(obs.content.contains("timed out"), "{}", obs.content);

    let mut reg = ToolRegistry::new();
    reg.register(HttpTool::new(stock_spec(), closed_port_url()).unwrap())
        .unwrap();
    let obs = reg.execute(&call(json!({"ticker": "ACME"})));
    assert!(obs.is_error);
    assert!(obs.content.contains("did not answer"), "{}", obs.content);
}

#[test]
fn the_registry_timeout_also_bounds_http_tools() {
    let (base, _rx) = serve(vec![Reply::json(200, "{}").after(Duration::from_secs(3))]);
    let mut reg = ToolRegistry::new().with_timeout(Duration::from_millis(200));
    reg.register(HttpTool::new(stock_spec(), base).unwrap())
        .unwrap();
    let obs = reg.execute(&call(json!({"ticker": "ACME"})));
    assert!(obs.is_error);
    assert!(
        obs.content.contains("timed out after 200 ms"),
        "{}",
        obs.content
    );
}

#[test]
fn long_bodies_are_cut() {
    let long = "a".repeat(20_000);
    let (base, _rx) = serve(vec![Reply::text(200, &long)]);
    let tool = HttpTool::new(stock_spec(), base).unwrap();
    let out =
        agentune_runtime::tools::Tool::call(&tool, json!({"ticker": "A"}).as_object().unwrap())
            .unwrap();
    assert!(
        out.ends_with("[response cut at 8000 characters]"),
        "{}",
        &out[out.len() - 60..]
    );
    assert!(out.len() < 8_100);
}

#[test]
fn urls_are_checked_at_setup() {
    let err = HttpTool::new(stock_spec(), "file:///etc/passwd").unwrap_err();
    assert!(err.to_string().contains("must start with http://"), "{err}");
    if !cfg!(feature = "tls") {
        let err = HttpTool::new(stock_spec(), "https://example.com/x").unwrap_err();
        assert!(err.to_string().contains("tls"), "{err}");
    }
}

#[test]
fn mcp_tool_lists_import() {
    let list = json!({"tools": [
        {"name": "get_issue", "description": "Read an issue.",
         "inputSchema": {"type": "object", "properties": {"number": {"type": "integer"}}, "required": ["number"]}},
        {"name": "ping"}
    ]});
    let specs = tools_from_mcp_list(&list).unwrap();
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].name, "get_issue");
    assert_eq!(specs[0].required_parameters(), ["number"]);
    assert_eq!(specs[1].parameters, None);

    let err = tools_from_mcp_list(&json!({"tools": [{"description": "no name"}]})).unwrap_err();
    assert!(err.to_string().contains("tools[0]"), "{err}");
    let err = tools_from_mcp_list(&json!({"tools": [{"name": "a"}, {"name": "a"}]})).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    let err =
        tools_from_mcp_list(&json!({"tools": [{"name": "a", "inputSchema": {"type": "string"}}]}))
            .unwrap_err();
    assert!(err.to_string().contains("parameters.type"), "{err}");
    assert!(tools_from_mcp_list(&json!("nope")).is_err());
}
