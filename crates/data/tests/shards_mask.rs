//! The loss mask of training shards with the real SmolLM2 tokenizer and chat template: the
//! tokens with weight above 0, decoded, are exactly the assistant turns (each with the token
//! that ends it), never the system, user or tool turns, and a turn with `loss: 0` is never
//! trained on. Skips (with the reason printed) when the model is not cached.

#![allow(clippy::unwrap_used)]

use agentune_data::shards::{pack, tokenize_sample};
use agentune_model::{Pretrained, WeightFormat};
use agentune_schema::{Message, QueryMeta, Sample};

fn sample() -> Sample {
    let mut flawed = Message::assistant("I guess it is sunny everywhere.");
    flawed.loss = Some(0.0);
    let mut half = Message::assistant("Thought: check Paris.\nAction: weather(city=\"Paris\")");
    half.loss = Some(0.5);
    let messages = vec![
        Message::system("You are a weather agent. SYSTEMTEXT"),
        Message::user("What is the weather in Paris? USERTEXT"),
        flawed,
        Message::user("Please use the tool. USERTEXT2"),
        half,
        Message::tool("call_1", "weather", "{\"temp_c\": 18} TOOLTEXT"),
        Message::assistant("It is 18 degrees in Paris."),
    ];
    let meta: QueryMeta = serde_json::from_value(serde_json::json!({
        "scenario": "weather", "kind": "positive", "complexity": "simple", "language": "en"
    }))
    .unwrap();
    serde_json::from_value(serde_json::json!({
        "id": "s1", "messages": messages, "meta": meta
    }))
    .unwrap()
}

#[test]
fn masked_tokens_are_exactly_the_assistant_turns() {
    if agentune_model::fetch::cached_model("smollm2").is_none() {
        println!("skipped: smollm2 is not cached (run `cargo xtask fetch-model`)");
        return;
    }
    let model = Pretrained::load("smollm2", WeightFormat::AsStored).unwrap();
    let template = model.template().unwrap();
    let tok = &model.tokenizer;
    let s = sample();
    let t = tokenize_sample(tok, &template, &s).unwrap();
    assert_eq!(t.tokens.len(), t.weights.len());
    // Runs of consecutive tokens with the same non-zero weight.
    let mut runs: Vec<(f32, Vec<u32>)> = Vec::new();
    let mut prev = 0.0f32;
    for (&id, &w) in t.tokens.iter().zip(&t.weights) {
        if w > 0.0 {
            if prev == w {
                runs.last_mut().unwrap().1.push(id);
            } else {
                runs.push((w, vec![id]));
            }
        }
        prev = w;
    }
    let decoded: Vec<(f32, String)> = runs
        .iter()
        .map(|(w, ids)| (*w, tok.decode(ids, false).unwrap()))
        .collect();
    let strip = |s: &str| s.trim_end_matches('\n').to_owned();
    assert_eq!(
        decoded
            .iter()
            .map(|(w, s)| (*w, strip(s)))
            .collect::<Vec<_>>(),
        vec![
            (
                0.5,
                "Thought: check Paris.\nAction: weather(city=\"Paris\")<|im_end|>".to_owned()
            ),
            (1.0, "It is 18 degrees in Paris.<|im_end|>".to_owned()),
        ],
        "{decoded:?}"
    );
    let all = tok.decode(&t.tokens, false).unwrap();
    for context in ["SYSTEMTEXT", "USERTEXT", "TOOLTEXT", "sunny everywhere"] {
        assert!(all.contains(context), "{context} missing from {all}");
    }
    // The whole conversation is one packed document.
    let (rows, _) = pack(vec![t.clone()], 4096, 1).unwrap();
    assert_eq!(rows[0].tokens, t.tokens);
    assert_eq!(rows[0].starts, vec![0]);
}
