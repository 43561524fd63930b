//! The ChatML template written into checkpoints as Jinja renders, under Hugging Face's
//! conventions (Python `jinja2` with `transformers`' `tojson`), the very text our ChatML
//! renders: tools, calls, results and the default system prompt.

#![allow(clippy::unwrap_used)]

use std::process::Command;

use agentune_model::ChatTemplate;
use agentune_model::chat::chatml_jinja;
use agentune_schema::{Message, ToolCall, ToolSpec};
use serde_json::{Value, json};

/// Renders like `transformers`' `apply_chat_template`: a sandboxed environment with
/// `trim_blocks`, `lstrip_blocks`, loop controls and `tojson` over `json.dumps`.
const RENDER_PY: &str = r#"
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

spec = json.load(open(sys.argv[1], encoding="utf-8"))
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
env.filters["tojson"] = tojson
template = env.from_string(spec["template"])
out = [template.render(messages=c["messages"], tools=c["tools"], add_generation_prompt=c["add_generation_prompt"]) for c in spec["cases"]]
json.dump(out, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
"#;

fn python_with_jinja2() -> bool {
    Command::new("python3")
        .args(["-c", "import jinja2"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn call(name: &str, args: Value) -> ToolCall {
    let mut c = ToolCall::new(name, args.as_object().unwrap().clone());
    c.id = Some(format!("call_{name}"));
    c
}

/// A message as a `transformers` user passes it: OpenAI shape, arguments as objects.
fn hf_message(m: &Message) -> Value {
    let mut v = json!({"role": m.role.as_str(), "content": m.content});
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function",
                       "function": {"name": c.name, "arguments": c.arguments}})
            })
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

#[test]
fn the_checkpoint_jinja_renders_like_our_chatml_under_transformers_conventions() {
    if !python_with_jinja2() {
        eprintln!("skipped: python3 with jinja2 is not available");
        return;
    }
    let tools = [
        ToolSpec::new(
            "get_weather",
            "Weather of a city <now> & later; 天气",
            json!({"type": "object", "properties": {"city": {"type": "string"},
                   "unit": {"enum": ["c", "f"]}}, "required": ["city"]}),
        ),
        ToolSpec::new(
            "calculator",
            "Exact \"arithmetic\"",
            json!({"type": "object"}),
        ),
    ];
    let conversation = vec![
        Message::system("Be brief.\nUse tools."),
        Message::user("Weather in Paris and 2+2? Also 深圳."),
        Message::assistant_calls(
            Some("Two calls.".into()),
            vec![
                call("get_weather", json!({"unit": "c", "city": "Paris \"FR\""})),
                call("calculator", json!({"expression": "2+2", "digits": 1.5})),
            ],
        ),
        Message::tool("call_get_weather", "get_weather", "{\"temp\": 21}"),
        Message::tool("call_calculator", "calculator", "4"),
        Message::assistant_calls(None, vec![call("get_weather", json!({"city": "深圳"}))]),
        Message::tool("call_get_weather", "get_weather", "晴"),
        Message::assistant("Paris 21 °C, 2+2 = 4, 深圳 is sunny."),
        Message::user("Thanks!"),
    ];
    let defaults = [None, Some("You are a helpful assistant.")];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for default in defaults {
        let ours = ChatTemplate::ChatMl {
            default_system: default.map(str::to_owned),
        };
        for (msgs, tools) in [
            (&conversation[..], &tools[..]),
            (&conversation[1..], &tools[..]),
            (&conversation[1..2], &[][..]),
            (&conversation[..2], &[][..]),
        ] {
            for generation in [false, true] {
                cases.push(json!({
                    "messages": msgs.iter().map(hf_message).collect::<Vec<_>>(),
                    "tools": if tools.is_empty() { Value::Null } else {
                        tools.iter().map(ToolSpec::to_openai_tool).collect() },
                    "add_generation_prompt": generation,
                }));
                expected.push(ours.render(msgs, tools, generation).unwrap());
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("render.py");
    std::fs::write(&script, RENDER_PY).unwrap();
    for (default, chunk) in defaults.iter().zip(cases.chunks(cases.len() / 2)) {
        let spec = json!({
            "template": chatml_jinja(*default),
            "cases": chunk,
        });
        let input = dir.path().join("spec.json");
        let output = dir.path().join("out.json");
        std::fs::write(&input, spec.to_string()).unwrap();
        let run = Command::new("python3")
            .arg(&script)
            .arg(&input)
            .arg(&output)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let rendered: Vec<String> =
            serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
        let start = if default.is_none() { 0 } else { chunk.len() };
        for (i, text) in rendered.iter().enumerate() {
            assert_eq!(
                text,
                &expected[start + i],
                "default system {default:?}, case {i}"
            );
        }
    }
}
