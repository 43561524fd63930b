//! The tool registry with the built-in tools: every spec is valid and every tool answers a
//! realistic call; unknown tools, bad arguments, tool errors, timeouts and panics all become
//! error observations the model can read, never a crash.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use agentune_runtime::tools::{Clock, Tool, ToolError, ToolRegistry};
use agentune_schema::{ToolCall, ToolSpec};
use serde_json::{Map, Value, json};

fn registry(dir: &std::path::Path) -> ToolRegistry {
    ToolRegistry::builtin_with_clock(dir, Clock::fixed("2026-03-14T09:30:00Z").unwrap()).unwrap()
}

fn call(name: &str, args: Value) -> ToolCall {
    ToolCall::new(name, args.as_object().unwrap().clone()).with_id("call_7")
}

const BUILTINS: &[&str] = &[
    "calculator",
    "convert_units",
    "currency_convert",
    "current_datetime",
    "date_add",
    "date_diff",
    "weekday",
    "get_weather",
    "get_forecast",
    "search_places",
    "lookup_knowledge",
    "write_note",
    "read_note",
    "list_notes",
    "delete_note",
];

#[test]
fn builtins_have_valid_described_specs() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    assert_eq!(reg.names(), BUILTINS);
    assert_eq!(ToolRegistry::builtin_specs().unwrap(), reg.specs());
    for spec in reg.specs() {
        spec.validate().unwrap();
        assert!(
            spec.description().len() > 30,
            "{} needs a real description",
            spec.name
        );
        let params = spec.parameters_schema();
        assert_eq!(params["additionalProperties"], false, "{}", spec.name);
        for (name, prop) in params["properties"].as_object().unwrap() {
            assert!(
                prop.get("description").is_some() || prop.get("enum").is_some(),
                "{}.{name} lacks a description",
                spec.name
            );
        }
        // Specs survive the OpenAI tools round trip.
        assert_eq!(ToolSpec::from_openai(&spec.to_openai_tool()).unwrap(), spec);
    }
}

#[test]
fn every_builtin_answers_a_good_call() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let calls = [
        call("calculator", json!({"expression": "(12.5 + 7.5) * 3"})),
        call(
            "convert_units",
            json!({"value": 26.2, "from_unit": "mi", "to_unit": "km"}),
        ),
        call(
            "currency_convert",
            json!({"amount": 250, "from_currency": "EUR", "to_currency": "CNY"}),
        ),
        call("current_datetime", json!({"timezone": "Asia/Shanghai-ish"})),
        call("current_datetime", json!({})),
        call("date_add", json!({"date": "2026-03-14", "days": 10})),
        call(
            "date_diff",
            json!({"start_date": "2026-03-14", "end_date": "2026-05-01"}),
        ),
        call("weekday", json!({"date": "2026-05-01"})),
        call("get_weather", json!({"city": "Chengdu"})),
        call(
            "get_forecast",
            json!({"city": "上海", "days": 3, "unit": "fahrenheit"}),
        ),
        call(
            "search_places",
            json!({"query": "hot pot", "city": "Chongqing"}),
        ),
        call(
            "lookup_knowledge",
            json!({"query": "boiling point of water at altitude"}),
        ),
        call(
            "write_note",
            json!({"name": "trip.md", "content": "Pack an umbrella."}),
        ),
        call("read_note", json!({"name": "trip.md"})),
        call("list_notes", json!({})),
        call("delete_note", json!({"name": "trip.md"})),
    ];
    let expect_error = ["current_datetime"];
    for (i, c) in calls.iter().enumerate() {
        let obs = reg.execute(c);
        assert_eq!(obs.tool_call_id.as_deref(), Some("call_7"));
        assert_eq!(obs.name, c.name);
        // The one bad time zone (an IANA-style name) is an error the model can fix.
        if i == 3 {
            assert!(
                obs.is_error && obs.content.contains("neither a UTC offset"),
                "{obs:?}"
            );
            assert!(expect_error.contains(&c.name.as_str()));
            continue;
        }
        assert!(!obs.is_error, "{} failed: {}", c.name, obs.content);
        let parsed: Value = serde_json::from_str(&obs.content).unwrap();
        assert!(parsed.is_object(), "{}", obs.content);
    }
    let read = reg.execute(&call("read_note", json!({"name": "trip.md"})));
    assert!(read.is_error, "deleted note is gone: {}", read.content);
}

#[test]
fn answers_are_reproducible_with_a_fixed_clock() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let (a, b) = (registry(d1.path()), registry(d2.path()));
    for c in [
        call("get_forecast", json!({"city": "Harbin", "days": 7})),
        call("current_datetime", json!({"timezone": "Tokyo"})),
        call("search_places", json!({"query": "camping near a lake"})),
    ] {
        assert_eq!(a.execute(&c), b.execute(&c));
    }
    let now = a.execute(&call("current_datetime", json!({"timezone": "Tokyo"})));
    assert!(
        now.content.contains("2026-03-14T18:30:00+09:00"),
        "{}",
        now.content
    );
}

#[test]
fn bad_calls_become_error_observations_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let cases = [
        (
            call("get_wether", json!({"city": "Paris"})),
            "unknown tool `get_wether`",
        ),
        (call("get_wether", json!({})), "did you mean `get_weather`?"),
        (
            call("get_weather", json!({})),
            "arguments: missing required property \"city\"",
        ),
        (
            call("get_weather", json!({"city": "Paris", "unit": "kelvinn"})),
            "arguments.unit: expected one of [\"celsius\", \"fahrenheit\"], got \"kelvinn\"",
        ),
        (
            call("get_forecast", json!({"city": "Paris", "days": "3"})),
            "arguments.days: expected integer, got string \"3\"",
        ),
        (
            call("get_forecast", json!({"city": "Paris", "days": 10})),
            "arguments.days: expected at most 7, got 10",
        ),
        (
            call("calculator", json!({"expr": "1+1"})),
            "arguments.expr: unknown property",
        ),
        (
            call("calculator", json!({"expression": "1/0"})),
            "division by zero",
        ),
        (
            call("calculator", json!({"expression": "__import__('os')"})),
            "unexpected character",
        ),
        (
            call(
                "convert_units",
                json!({"value": 1, "from_unit": "kg", "to_unit": "km"}),
            ),
            "cannot convert mass",
        ),
        (
            call(
                "currency_convert",
                json!({"amount": -5, "from_currency": "USD", "to_currency": "CNY"}),
            ),
            "expected at least 0",
        ),
        (
            call(
                "currency_convert",
                json!({"amount": 5, "from_currency": "usd", "to_currency": "CNY"}),
            ),
            "did you mean \"USD\"?",
        ),
        (
            call("date_add", json!({"date": "2026-02-30", "days": 1})),
            "has no day 30",
        ),
        (
            call(
                "date_diff",
                json!({"start_date": "yesterday", "end_date": "2026-01-01"}),
            ),
            "arguments.start_date: expected text matching the pattern",
        ),
        (
            call("weekday", json!({"date": 20260314})),
            "arguments.date: expected string",
        ),
        (
            call("get_weather", json!({"city": "Gotham"})),
            "unknown city `Gotham`",
        ),
        (
            call("search_places", json!({"query": "park", "category": "zoo"})),
            "arguments.category: expected one of",
        ),
        (
            call("lookup_knowledge", json!({"query": ""})),
            "arguments.query: must not be empty",
        ),
        (
            call("read_note", json!({"name": "../etc/passwd"})),
            "goes outside the note store",
        ),
        (
            call("read_note", json!({"name": "missing.md"})),
            "no note named `missing.md`",
        ),
        (
            call("list_notes", json!({"all": true})),
            "this tool takes no arguments",
        ),
    ];
    for (c, needle) in cases {
        let obs = reg.execute(&c);
        assert!(
            obs.is_error,
            "{} {:?} should fail: {}",
            c.name, c.arguments, obs.content
        );
        assert!(obs.content.starts_with("Error: "), "{}", obs.content);
        assert!(
            obs.content.contains(needle),
            "{} lacks `{needle}`",
            obs.content
        );
        assert_eq!(obs.tool_call_id.as_deref(), Some("call_7"));
    }
}

#[derive(Debug)]
struct Slow(ToolSpec);

impl Tool for Slow {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn call(&self, _args: &Map<String, Value>) -> Result<String, ToolError> {
        std::thread::sleep(Duration::from_secs(5));
        Ok("too late".into())
    }
}

#[derive(Debug)]
struct Panics(ToolSpec);

impl Tool for Panics {
    fn spec(&self) -> &ToolSpec {
        &self.0
    }
    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let v: Vec<u8> = Vec::new();
        // An out-of-bounds index: a bug inside a tool.
        Ok(v[args.len() + 3].to_string())
    }
}

fn empty_spec(name: &str) -> ToolSpec {
    ToolSpec::new(
        name,
        "A test tool.",
        json!({"type": "object", "properties": {}}),
    )
}

#[test]
fn timeouts_and_panics_are_contained() {
    let mut reg = ToolRegistry::new().with_timeout(Duration::from_millis(100));
    reg.register(Slow(empty_spec("slow"))).unwrap();
    let started = std::time::Instant::now();
    let obs = reg.execute(&call("slow", json!({})));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the registry did not wait for the tool"
    );
    assert!(obs.is_error);
    assert!(
        obs.content.contains("timed out after 100 ms"),
        "{}",
        obs.content
    );
    // Printing a panic (and its backtrace) takes time of its own: a generous limit here.
    let mut buggy = ToolRegistry::new().with_timeout(Duration::from_secs(30));
    buggy.register(Panics(empty_spec("buggy"))).unwrap();
    let obs = buggy.execute(&call("buggy", json!({})));
    assert!(obs.is_error);
    assert!(
        obs.content.contains("tool `buggy` crashed"),
        "{}",
        obs.content
    );
    assert!(
        obs.content.contains("index out of bounds"),
        "{}",
        obs.content
    );
    // An enormous limit is "no limit", not an overflow.
    let patient = ToolRegistry::new().with_timeout(Duration::MAX);
    let obs = patient.execute(&call("nothing", json!({})));
    assert!(obs.is_error && obs.content.contains("unknown tool"));
    // The registry still works after both.
    reg.register(Slow(empty_spec("other"))).unwrap();
    assert_eq!(reg.len(), 2);
    assert!(!buggy.execute(&call("buggy", json!({}))).content.is_empty());
}

/// A built-in tool on a slow machine: the same tool, answering late.
#[derive(Debug)]
struct Late<T: Tool>(T, Duration);

impl<T: Tool> Tool for Late<T> {
    fn spec(&self) -> &ToolSpec {
        self.0.spec()
    }
    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        std::thread::sleep(self.1);
        self.0.call(args)
    }
}

#[test]
fn builtin_tools_are_held_to_the_timeout() {
    use agentune_runtime::tools::GetForecast;
    let clock = Clock::fixed("2026-03-14T09:30:00Z").unwrap();
    let mut reg = ToolRegistry::new().with_timeout(Duration::from_millis(200));
    reg.register(Late(
        GetForecast::new(clock.clone()).unwrap(),
        Duration::from_secs(3),
    ))
    .unwrap();
    let c = call("get_forecast", json!({"city": "Beijing", "days": 7}));
    let obs = reg.execute(&c);
    assert!(obs.is_error);
    assert_eq!(
        obs.content,
        "Error: tool `get_forecast` timed out after 200 ms; try again later or with a smaller request"
    );
    // Within the limit the same tool answers normally.
    let mut reg = ToolRegistry::new().with_timeout(Duration::from_secs(20));
    reg.register(Late(
        GetForecast::new(clock).unwrap(),
        Duration::from_millis(10),
    ))
    .unwrap();
    let obs = reg.execute(&c);
    assert!(!obs.is_error, "{}", obs.content);
}

#[test]
fn registration_rejects_duplicates_and_invalid_specs() {
    let mut reg = ToolRegistry::new();
    reg.register(Slow(empty_spec("x"))).unwrap();
    let err = reg.register(Slow(empty_spec("x"))).unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
    let err = reg.register(Slow(empty_spec("has space"))).unwrap_err();
    assert!(err.to_string().contains("whitespace"), "{err}");
    assert!(reg.remove("x"));
    assert!(reg.is_empty());
}

#[test]
fn subsets_and_check_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = registry(dir.path());
    reg.retain(&["get_weather", "calculator"]);
    assert_eq!(reg.names(), ["calculator", "get_weather"]);
    assert!(
        reg.check_call(&call("calculator", json!({"expression": "1"})))
            .is_ok()
    );
    let err = reg
        .check_call(&call("search_places", json!({"query": "x"})))
        .unwrap_err();
    assert!(
        err.contains("available tools: calculator, get_weather"),
        "{err}"
    );
}

#[test]
fn parallel_calls_run_concurrently_under_one_deadline() {
    let mut reg = ToolRegistry::new().with_timeout(Duration::from_secs(20));
    let clock = Clock::fixed("2026-03-14T09:30:00Z").unwrap();
    let late = |ms| {
        Late(
            agentune_runtime::tools::GetWeather::new(clock.clone()).unwrap(),
            Duration::from_millis(ms),
        )
    };
    reg.register(late(700)).unwrap();
    let calls: Vec<ToolCall> = ["Paris", "Rome", "Oslo", "Tokyo"]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::new(
                "get_weather",
                json!({"city": c}).as_object().unwrap().clone(),
            )
            .with_id(format!("call_{i}"))
        })
        .collect();
    let started = std::time::Instant::now();
    let obs = reg.execute_all(&calls);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "four 700 ms calls took {took:?}: not concurrent"
    );
    let ids: Vec<_> = obs
        .iter()
        .map(|o| o.tool_call_id.clone().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["call_0", "call_1", "call_2", "call_3"],
        "results keep call order"
    );
    assert!(!obs[0].is_error && !obs[1].is_error && !obs[3].is_error);
    assert!(
        obs[2].is_error && obs[2].content.contains("unknown city `Oslo`"),
        "{}",
        obs[2].content
    );
}

#[test]
fn fn_tools_can_fail_then_recover() {
    use agentune_runtime::tools::FnTool;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A flaky service: the first call fails, later ones answer (the loop's reflection case).
    let calls = AtomicUsize::new(0);
    let spec = ToolSpec::new(
        "flaky",
        "A service that fails once.",
        json!({"type": "object", "properties": {"q": {"type": "String"}}, "required": ["q"]}),
    );
    let mut reg = ToolRegistry::new();
    reg.register(FnTool::new(spec, move |args: &Map<String, Value>| {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(ToolError::Failed("service busy, retry".into()))
        } else {
            Ok(format!("answer for {}", args["q"].as_str().unwrap_or("")))
        }
    }))
    .unwrap();
    let c = ToolCall::new("flaky", json!({"q": "x"}).as_object().unwrap().clone());
    let first = reg.execute(&c);
    assert!(first.is_error);
    assert_eq!(first.content, "Error: service busy, retry");
    let second = reg.execute(&c);
    assert!(!second.is_error);
    assert_eq!(second.content, "answer for x");
    // Capitalised type names in hand-written specs are understood.
    let bad = reg.execute(&ToolCall::new(
        "flaky",
        json!({"q": 1}).as_object().unwrap().clone(),
    ));
    assert!(
        bad.content
            .contains("arguments.q: expected String, got integer 1"),
        "{}",
        bad.content
    );
}
