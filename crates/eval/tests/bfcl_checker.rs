//! BFCL checker per category on the checked-in fixture files (BFCL's own file format):
//! correct calls pass, and subtly wrong ones (wrong type, missing required parameter, extra
//! parameter, wrong count, unnormalised strings, optional parameters) get BFCL's verdict.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::path::{Path, PathBuf};

use agentune_eval::bfcl::{self, CheckOptions, Decoded, Entry, Response};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bfcl")
}

fn entry(id: &str) -> Entry {
    bfcl::load(&fixtures(), None)
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no fixture {id}"))
}

/// The verdict on `calls` (a JSON list of {"name", "arguments"}) for test case `id`:
/// (valid, error type).
fn verdict(id: &str, calls: Value) -> (bool, String) {
    let calls: Vec<agentune_schema::ToolCall> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            agentune_schema::ToolCall::new(
                c["name"].as_str().unwrap(),
                c["arguments"].as_object().unwrap().clone(),
            )
        })
        .collect();
    let decoded = Decoded::Calls(bfcl::model_calls(&calls));
    let v = bfcl::score_entry(&entry(id), Some(&decoded), CheckOptions::default());
    (v.valid, v.error_type.unwrap_or_default())
}

fn call(name: &str, args: Value) -> Value {
    json!([{"name": name, "arguments": args}])
}

fn passes(id: &str, calls: Value) {
    let (ok, why) = verdict(id, calls.clone());
    assert!(ok, "{id} should pass {calls}: {why}");
}

fn fails(id: &str, calls: Value, error_type: &str) {
    let (ok, why) = verdict(id, calls.clone());
    assert!(!ok, "{id} should fail {calls}");
    assert_eq!(why, error_type, "{id}: {calls}");
}

#[test]
fn simple_python() {
    let id = "simple_python_0";
    // Int widened to float; optional parameters omitted.
    passes(id, call("calc_area", json!({"base": 10, "height": 5})));
    passes(
        id,
        call(
            "calc_area",
            json!({"base": 10, "height": 5.0, "unit": "cm"}),
        ),
    );
    // Normalised strings: case, spaces and `-` do not count.
    passes(
        id,
        call(
            "calc_area",
            json!({"base": 10, "height": 5, "unit": "Centi-Meters"}),
        ),
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 10, "height": 5, "unit": "inch"}),
        ),
        "value_error:string",
    );
    // Wrong types: a string, a float or a bool for an integer.
    fails(
        id,
        call("calc_area", json!({"base": "10", "height": 5})),
        "type_error:simple",
    );
    fails(
        id,
        call("calc_area", json!({"base": 10.0, "height": 5})),
        "type_error:simple",
    );
    fails(
        id,
        call("calc_area", json!({"base": true, "height": 5})),
        "type_error:simple",
    );
    fails(
        id,
        call("calc_area", json!({"base": 10, "height": 6})),
        "value_error:others",
    );
    fails(
        id,
        call("calc_area", json!({"base": 10})),
        "simple_function_checker:missing_required",
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 10, "height": 5, "color": "red"}),
        ),
        "simple_function_checker:unexpected_param",
    );
    // An optional parameter given a value the possible answer does not list.
    fails(
        id,
        call("calc_area", json!({"base": 10, "height": 5, "tags": ["x"]})),
        "value_error:list/tuple",
    );
    fails(
        id,
        call("area", json!({"base": 10, "height": 5})),
        "simple_function_checker:wrong_func_name",
    );
    let two = json!([
        {"name": "calc_area", "arguments": {"base": 10, "height": 5}},
        {"name": "calc_area", "arguments": {"base": 10, "height": 5}}
    ]);
    fails(id, two, "simple_function_checker:wrong_count");
    fails(id, json!([]), "simple_function_checker:wrong_count");
}

#[test]
fn simple_python_lists_and_dicts() {
    let id = "simple_python_1";
    let ok = json!({"base": 3, "height": 2.5, "tags": ["new york"], "opts": {"precise": true}});
    passes(id, call("calc_area", ok));
    passes(
        id,
        call(
            "calc_area",
            json!({"base": 3, "height": 2.5, "tags": ["NYC"], "opts": {"precise": true}}),
        ),
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 3, "height": 2.5, "tags": ["NYC", "LA"], "opts": {"precise": true}}),
        ),
        "value_error:list/tuple",
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 3, "height": 2.5, "tags": ["NYC"], "opts": {"precise": false}}),
        ),
        "value_error:dict_value",
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 3, "height": 2.5, "tags": ["NYC"], "opts": {"precise": true, "fast": 1}}),
        ),
        "value_error:dict_key",
    );
    fails(
        id,
        call(
            "calc_area",
            json!({"base": 3, "height": 2.5, "tags": [3], "opts": {"precise": true}}),
        ),
        "type_error:nested",
    );
    // `tags` and `opts` are required by the possible answer (no "" among their values).
    fails(
        id,
        call("calc_area", json!({"base": 3, "height": 2.5})),
        "simple_function_checker:missing_optional",
    );
}

#[test]
fn simple_java() {
    let id = "simple_java_0";
    let good = json!({
        "path": "data.csv",
        "limit": "50L",
        "strict": "true",
        "ids": "new ArrayList<>(Arrays.asList(1, 2))",
        "ratio": "0.5f"
    });
    passes(id, call("DataLoader.load", good.clone()));
    let mut no_ratio = good.clone();
    no_ratio.as_object_mut().unwrap().remove("ratio");
    passes(id, call("DataLoader.load", no_ratio));
    let mut upper = good.clone();
    upper["path"] = json!("DATA.CSV");
    passes(id, call("DataLoader.load", upper));
    // A long without its `L` stays the string "50"; a JSON number is not Java source text.
    let mut bad = good.clone();
    bad["limit"] = json!("50");
    fails(id, call("DataLoader.load", bad), "type_error:simple");
    let mut bad = good.clone();
    bad["limit"] = json!(50);
    fails(id, call("DataLoader.load", bad), "type_error:java");
    let mut bad = good.clone();
    bad["ratio"] = json!("0.5");
    fails(id, call("DataLoader.load", bad), "type_error:simple");
    let mut bad = good.clone();
    bad["ids"] = json!("new ArrayList<>(Arrays.asList(2, 1))");
    fails(id, call("DataLoader.load", bad), "value_error:list/tuple");
    // The dotted name must be written as is, unless dots are expected as underscores.
    fails(
        id,
        call("DataLoader_load", good.clone()),
        "simple_function_checker:wrong_func_name",
    );
    let calls = vec![agentune_schema::ToolCall::new(
        "DataLoader_load",
        good.as_object().unwrap().clone(),
    )];
    let decoded = Decoded::Calls(bfcl::model_calls(&calls));
    let opts = CheckOptions {
        dots_as_underscores: true,
    };
    assert!(bfcl::score_entry(&entry(id), Some(&decoded), opts).valid);
}

#[test]
fn simple_javascript() {
    let id = "simple_javascript_0";
    let good = json!({
        "title": "'Sales'",
        "values": "[1.5, 2]",
        "animate": "true",
        "style": "{color: 'red'}",
        "elem": "chartDiv"
    });
    passes(id, call("renderChart", good.clone()));
    passes(
        id,
        call(
            "renderChart",
            json!({"title": "Sales", "values": "[1.5, 2.0]"}),
        ),
    );
    let mut bad = good.clone();
    bad["values"] = json!("[1.5, 'x']");
    fails(id, call("renderChart", bad), "type_error:nested");
    let mut bad = good.clone();
    bad["style"] = json!("{color: 'blue'}");
    fails(id, call("renderChart", bad), "value_error:dict_value");
    let mut bad = good.clone();
    bad["animate"] = json!(true);
    fails(id, call("renderChart", bad), "type_error:js");
}

#[test]
fn multiple() {
    let id = "multiple_0";
    passes(
        id,
        call("get_weather", json!({"city": "paris, france", "days": 3})),
    );
    fails(
        id,
        call("get_stock", json!({"symbol": "PAR"})),
        "simple_function_checker:wrong_func_name",
    );
    fails(
        id,
        call("get_weather", json!({"city": "Paris"})),
        "simple_function_checker:missing_optional",
    );
}

#[test]
fn parallel_in_any_order() {
    let id = "parallel_0";
    let paris = json!({"name": "get_weather", "arguments": {"city": "Paris"}});
    let rome = json!({"name": "get_weather", "arguments": {"city": "Rome"}});
    passes(id, json!([paris, rome]));
    passes(id, json!([rome, paris]));
    fails(
        id,
        json!([paris]),
        "parallel_function_checker_no_order:wrong_count",
    );
    fails(
        id,
        json!([paris, paris]),
        "parallel_function_checker_no_order:cannot_find_match",
    );
    let pm = "parallel_multiple_0";
    let oslo = json!({"name": "get_weather", "arguments": {"city": "Oslo"}});
    let aapl = json!({"name": "get_stock", "arguments": {"symbol": "aapl"}});
    passes(pm, json!([aapl, oslo]));
    passes(pm, json!([oslo, aapl]));
    fails(
        pm,
        json!([oslo, oslo]),
        "parallel_function_checker_no_order:cannot_find_match",
    );
}

#[test]
fn live_simple() {
    passes(
        "live_simple_0-0-0",
        call("get_weather", json!({"city": "Berlin"})),
    );
    fails(
        "live_simple_0-0-0",
        call("get_weather", json!({"city": "Berlin", "days": "2"})),
        "type_error:simple",
    );
}

#[test]
fn irrelevance_passes_without_a_call() {
    for id in ["irrelevance_0", "live_irrelevance_0-0-0"] {
        passes(id, json!([]));
        fails(
            id,
            call("get_weather", json!({"city": "x"})),
            "irrelevance_error:decoder_success",
        );
        let v = bfcl::score_entry(
            &entry(id),
            Some(&Decoded::DecodeError("no action".into())),
            CheckOptions::default(),
        );
        assert!(v.valid, "an undecodable reply makes no call");
    }
}

#[test]
fn relevance_passes_with_any_call() {
    let id = "live_relevance_0-0-0";
    // Any call counts, even one with wrong arguments.
    passes(
        id,
        call("get_weather", json!({"city": "Somewhere else", "bogus": 1})),
    );
    fails(id, json!([]), "relevance_error:decoder_failed");
}

#[test]
fn text_responses_decode_with_a_template() {
    let template = agentune_runtime::Template::builtin("hermes").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    let call = r#"<tool_call>
{"name": "get_weather", "arguments": {"city": "Berlin"}}
</tool_call>"#;
    let lines = [
        json!({"id": "live_simple_0-0-0", "text": call}),
        json!({"id": "irrelevance_0", "text": "What a nice day indeed."}),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, body).unwrap();
    let responses: Vec<Response> = bfcl::read_responses(&path, Some(&template)).unwrap();
    let entries = bfcl::load(&fixtures(), None).unwrap();
    let report = bfcl::score(&entries, &responses, CheckOptions::default());
    assert_eq!(
        report.verdicts.len(),
        2,
        "only answered categories are scored"
    );
    assert!(
        report.verdicts.iter().all(|v| v.valid),
        "{:?}",
        report.verdicts
    );
    // Without a template a text response is an error naming the line and field.
    let err = bfcl::read_responses(&path, None).unwrap_err().to_string();
    assert!(err.contains("r.jsonl:1") && err.contains("text"), "{err}");
}

#[test]
fn summary_aggregates_follow_bfcl() {
    let entries = bfcl::load(&fixtures(), None).unwrap();
    // Answer everything with no call: only the irrelevance categories pass.
    let responses: Vec<Response> = entries
        .iter()
        .map(|e| Response {
            id: e.id.clone(),
            decoded: Decoded::Calls(Vec::new()),
        })
        .collect();
    let report = bfcl::score(&entries, &responses, CheckOptions::default());
    let s = &report.summary;
    assert_eq!(s.categories.len(), 10);
    assert_eq!(s.categories["irrelevance"].accuracy, 1.0);
    assert_eq!(s.categories["simple_python"].accuracy, 0.0);
    assert_eq!(s.aggregates["irrelevance"], 1.0);
    assert_eq!(s.aggregates["relevance"], 0.0);
    // live AST categories are incomplete in the fixtures: no `live` aggregate.
    assert!(!s.aggregates.contains_key("live"));
    assert_eq!(s.aggregates["non_live"], 0.0);
}

#[test]
fn bad_files_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("possible_answer")).unwrap();
    std::fs::write(
        dir.path().join("BFCL_v4_simple_python.json"),
        "{\"id\": \"simple_python_0\", \"function\": [{\"name\": \"f\"}]}\n{\"id\": 3}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path()
            .join("possible_answer/BFCL_v4_simple_python.json"),
        "{\"id\": \"simple_python_0\", \"ground_truth\": [{\"f\": {}}]}\n",
    )
    .unwrap();
    let err = bfcl::load(dir.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("BFCL_v4_simple_python.json:2") && err.contains("id"),
        "{err}"
    );
    let responses = dir.path().join("r.jsonl");
    std::fs::write(
        &responses,
        "{\"id\": \"x\", \"calls\": [{\"name\": \"f\", \"arguments\": 5}]}\n",
    )
    .unwrap();
    let err = bfcl::read_responses(&responses, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("r.jsonl:1") && err.contains("calls[0].arguments"),
        "{err}"
    );
}

/// Scores the possible answers themselves (first accepted value of each parameter) on the real
/// BFCL data, when scripts/fetch_bfcl.sh has filled the cache.
#[test]
fn real_bfcl_gold_calls_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/cache/bfcl/data");
    if !dir.is_dir() {
        eprintln!(
            "skipped: no BFCL cache at {} (run scripts/fetch_bfcl.sh)",
            dir.display()
        );
        return;
    }
    let only: Vec<String> = [
        "simple_python",
        "multiple",
        "parallel",
        "parallel_multiple",
        "live_simple",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let entries = bfcl::load(&dir, Some(&only)).unwrap();
    let responses: Vec<Response> = entries
        .iter()
        .map(|e| Response {
            id: e.id.clone(),
            decoded: Decoded::Calls(bfcl::gold::first_choice_calls(e)),
        })
        .collect();
    let report = bfcl::score(&entries, &responses, CheckOptions::default());
    // Four possible answers of bfcl-eval 2026.3.23 contradict their own function documents
    // (a required parameter absent from the answer, or an answer parameter the document does
    // not declare); BFCL's checker rejects them too.
    let known = [
        "parallel_multiple_12",
        "parallel_multiple_26",
        "live_simple_106-63-0",
        "live_simple_112-68-0",
    ];
    let failed: Vec<_> = report.verdicts.iter().filter(|v| !v.valid).collect();
    for f in &failed {
        assert!(known.contains(&f.id.as_str()), "gold call fails: {f:?}");
    }
    assert_eq!(report.verdicts.len(), 400 + 200 + 200 + 200 + 258);
}

#[test]
fn prompts_carry_the_functions_as_tools() {
    let e = entry("simple_python_0");
    let tools = bfcl::prompt::tools(&e);
    let schema = tools[0].parameters.clone().unwrap();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["height"]["type"], "number");
    assert_eq!(schema["properties"]["opts"]["type"], "object");
    assert_eq!(schema["required"], json!(["base", "height"]));
    // Java parameters are strings in Java syntax, their type named in the description.
    let j = bfcl::prompt::tools(&entry("simple_java_0"));
    let limit = &j[0].parameters.as_ref().unwrap()["properties"]["limit"];
    assert_eq!(limit["type"], "string");
    assert!(limit["description"].as_str().unwrap().contains("Java long"));
    // Native templates send the tools with the request; text templates render them.
    let native = agentune_runtime::Template::builtin("openai").unwrap();
    let r = bfcl::prompt::request(&e, &native, Some(0.0), Some(64)).unwrap();
    assert_eq!(r.tools.as_ref().map(Vec::len), Some(1));
    let hermes = agentune_runtime::Template::builtin("hermes").unwrap();
    let r = bfcl::prompt::request(&e, &hermes, None, None).unwrap();
    assert!(r.tools.is_none());
    let text: String = r.messages.iter().map(|m| m.content_str()).collect();
    assert!(
        text.contains("calc_area") && text.contains("base 10"),
        "{text}"
    );
}
