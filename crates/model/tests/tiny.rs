//! Tests on small random networks: HF save/load round trips, load errors, agreement of the
//! training and inference paths, ragged batches and the KV cache, and gradients reaching every
//! parameter on the training path.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use agentune_model::{
    Architecture, GenerateParams, Llama, Mode, ModelConfig, ModelTokenizer, Pretrained,
    RopeScaling, WeightFormat, Weights, generate_batch, load_hf, save_hf,
};
use candle_core::quantized::gguf_file::Value as G;
use candle_core::{D, Device, Tensor};

/// A byte-level BPE tokenizer: the 256 byte symbols, a few merges, two control tokens.
fn tiny_tokenizer() -> ModelTokenizer {
    let mut alphabet: Vec<char> = tokenizers::pre_tokenizers::byte_level::ByteLevel::alphabet()
        .into_iter()
        .collect();
    alphabet.sort();
    let mut tokens: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    tokens.push("he".into());
    tokens.push("ll".into());
    tokens.push("<|im_start|>".into());
    tokens.push("<|im_end|>".into());
    let n = tokens.len();
    let mut types = vec![G::I32(1); n];
    types[n - 2] = G::I32(3);
    types[n - 1] = G::I32(3);
    let md: HashMap<String, G> = [
        ("tokenizer.ggml.model", G::String("gpt2".into())),
        ("tokenizer.ggml.pre", G::String("smollm".into())),
        (
            "tokenizer.ggml.tokens",
            G::Array(tokens.into_iter().map(G::String).collect()),
        ),
        ("tokenizer.ggml.token_type", G::Array(types)),
        (
            "tokenizer.ggml.merges",
            G::Array(vec![G::String("h e".into()), G::String("l l".into())]),
        ),
        ("tokenizer.ggml.bos_token_id", G::U32(n as u32 - 2)),
        ("tokenizer.ggml.eos_token_id", G::U32(n as u32 - 1)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    ModelTokenizer::from_gguf(&md).unwrap()
}

fn tiny_config(architecture: Architecture) -> ModelConfig {
    ModelConfig {
        architecture,
        vocab_size: 260,
        hidden_size: 64,
        intermediate_size: 96,
        num_layers: 2,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: 16,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: None,
        max_position_embeddings: 128,
        tie_word_embeddings: architecture == Architecture::Llama,
        qkv_bias: architecture == Architecture::Qwen2,
        o_bias: false,
        bos_token_id: Some(258),
        eos_token_ids: vec![259],
    }
}

fn tiny(architecture: Architecture) -> Pretrained {
    let config = tiny_config(architecture);
    Pretrained {
        weights: Weights::random(&config, 0.2, 42).unwrap(),
        config,
        tokenizer: tiny_tokenizer(),
        chat_template: Some(
            "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                .into(),
        ),
        generation_config: None,
        source: "tiny".into(),
    }
}

fn ids() -> Tensor {
    Tensor::new(&[[3u32, 17, 99, 4, 250, 7, 7, 1]], &Device::Cpu).unwrap()
}

fn logits(m: &Pretrained, mode: Mode) -> Vec<Vec<f32>> {
    let net = Llama::new(&m.config, &m.weights, mode).unwrap();
    net.forward(&ids())
        .unwrap()
        .squeeze(0)
        .unwrap()
        .to_vec2()
        .unwrap()
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn hf_save_and_load_give_identical_logits() {
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        let m = tiny(arch);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        m.save_hf(&out).unwrap();
        let st =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
        assert_eq!(
            st.contains_key("lm_head.weight"),
            arch == Architecture::Qwen2
        );
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["tie_word_embeddings"], arch == Architecture::Llama);
        assert_eq!(config["torch_dtype"], "float32");
        let back = load_hf(&out, WeightFormat::F32).unwrap();
        assert_eq!(back.config, m.config);
        assert_eq!(logits(&back, Mode::Infer), logits(&m, Mode::Infer));
        assert_eq!(back.chat_template, m.chat_template);
        assert_eq!(back.tokenizer.bos_id(), Some(258));
        assert_eq!(back.tokenizer.eos_ids(), &[259]);
        let text = "hello <|im_start|>x<|im_end|> 42";
        let a = m.tokenizer.encode(text, false).unwrap();
        assert_eq!(back.tokenizer.encode(text, false).unwrap(), a);
        assert_eq!(back.tokenizer.decode(&a, false).unwrap(), text);
        // Saving again over an existing folder replaces it.
        back.save_hf(&out).unwrap();
        assert!(load_hf(&out, WeightFormat::F32).is_ok());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary folders left behind");
    }
}

#[test]
fn load_errors_name_the_problem() {
    let m = tiny(Architecture::Llama);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    m.save_hf(&out).unwrap();

    // A missing tensor.
    let mut weights = m.weights.clone();
    weights.remove("model.layers.1.mlp.up_proj.weight");
    let err = Llama::new(&m.config, &weights, Mode::Infer)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.layers.1.mlp.up_proj.weight") && err.contains("missing"),
        "{err}"
    );
    let err = save_hf(
        &dir.path().join("x"),
        &m.config,
        &weights,
        &m.tokenizer,
        None,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("up_proj"), "{err}");

    // A misshaped tensor (the config says another MLP width).
    let cfg_path = out.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).unwrap();
    std::fs::write(
        &cfg_path,
        text.replace("\"intermediate_size\": 96", "\"intermediate_size\": 80"),
    )
    .unwrap();
    let err = load_hf(&out, WeightFormat::F32).unwrap_err().to_string();
    assert!(
        err.contains("gate_proj") && err.contains("[80, 64]") && err.contains("[96, 64]"),
        "{err}"
    );

    // An unsupported architecture.
    std::fs::write(
        &cfg_path,
        text.replace("LlamaForCausalLM", "GPT2LMHeadModel"),
    )
    .unwrap();
    let err = load_hf(&out, WeightFormat::F32).unwrap_err().to_string();
    assert!(
        err.contains("GPT2LMHeadModel") && err.contains("config.json"),
        "{err}"
    );

    // No weights at all.
    std::fs::write(&cfg_path, &text).unwrap();
    std::fs::remove_file(out.join("model.safetensors")).unwrap();
    let err = load_hf(&out, WeightFormat::F32).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn training_and_inference_paths_agree() {
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        let m = tiny(arch);
        let d = max_abs_diff(&logits(&m, Mode::Train), &logits(&m, Mode::Infer));
        assert!(d < 1e-4, "{arch:?}: {d}");
    }
}

#[test]
fn cached_steps_and_ragged_batches_match_the_full_forward() {
    let mut m = tiny(Architecture::Llama);
    m.config.rope_scaling = Some(RopeScaling::Llama3 {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_position_embeddings: 16,
    });
    let net = Llama::new(&m.config, &m.weights, Mode::Infer).unwrap();
    let seqs: [&[u32]; 3] = [&[5, 6, 7, 8, 9, 10, 11], &[200], &[1, 2, 3, 4]];
    let full: Vec<Vec<Vec<f32>>> = seqs
        .iter()
        .map(|s| {
            let t = Tensor::new(*s, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            net.forward(&t)
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2()
                .unwrap()
        })
        .collect();
    // Token by token with a cache.
    for (s, f) in seqs.iter().zip(&full) {
        let mut cache = net.new_cache();
        for (i, &tok) in s.iter().enumerate() {
            let l: Vec<f32> = net
                .forward_step(&[tok], &mut cache)
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(max_abs_diff(&[l], &[f[i].clone()]) < 1e-4);
        }
    }
    // Ragged: prefixes of different lengths together, then the remaining tokens together.
    let mut caches: Vec<_> = seqs.iter().map(|_| net.new_cache()).collect();
    let split = [3, 1, 2];
    let mut batch: Vec<(&[u32], &mut agentune_model::KvCache)> = seqs
        .iter()
        .zip(caches.iter_mut())
        .zip(split)
        .map(|((s, c), k)| (&s[..k], c))
        .collect();
    let first: Vec<Vec<f32>> = net.forward_batch(&mut batch).unwrap().to_vec2().unwrap();
    for (i, k) in split.iter().enumerate() {
        assert!(max_abs_diff(&[first[i].clone()], &[full[i][k - 1].clone()]) < 1e-4);
    }
    let mut batch: Vec<(&[u32], &mut agentune_model::KvCache)> = seqs
        .iter()
        .zip(caches.iter_mut())
        .zip(split)
        .filter(|((s, _), k)| s.len() > *k)
        .map(|((s, c), k)| (&s[k..], c))
        .collect();
    let second: Vec<Vec<f32>> = net.forward_batch(&mut batch).unwrap().to_vec2().unwrap();
    assert_eq!(second.len(), 2);
    assert!(max_abs_diff(&[second[0].clone()], &[full[0][6].clone()]) < 1e-4);
    assert!(max_abs_diff(&[second[1].clone()], &[full[2][3].clone()]) < 1e-4);
}

#[test]
fn batched_generation_equals_one_at_a_time() {
    let m = tiny(Architecture::Llama);
    let net = Llama::new(&m.config, &m.weights, Mode::Infer).unwrap();
    let prompts = vec![
        vec![5u32, 6, 7],
        vec![9u32],
        vec![100u32, 101, 102, 103, 104],
    ];
    let params = GenerateParams {
        max_new_tokens: 6,
        ..GenerateParams::default()
    };
    let mut streamed = vec![String::new(); 3];
    let together = generate_batch(
        &net,
        &m.tokenizer,
        &prompts,
        std::slice::from_ref(&params),
        &mut |i, s| streamed[i].push_str(s),
    )
    .unwrap();
    for (i, p) in prompts.iter().enumerate() {
        let alone = generate_batch(
            &net,
            &m.tokenizer,
            std::slice::from_ref(p),
            std::slice::from_ref(&params),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(alone[0].tokens, together[i].tokens);
        assert_eq!(streamed[i], together[i].text);
    }
}

#[test]
fn every_parameter_gets_a_gradient_on_the_training_path() {
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        let m = tiny(arch);
        let (weights, vars) = m.weights.to_vars().unwrap();
        let net = Llama::new(&m.config, &weights, Mode::Train).unwrap();
        let input = Tensor::new(
            &[[3u32, 17, 99, 4, 250, 7], [1, 2, 3, 4, 5, 6]],
            &Device::Cpu,
        )
        .unwrap();
        let targets = Tensor::new(
            &[[17u32, 99, 4, 250, 7, 1], [2, 3, 4, 5, 6, 7]],
            &Device::Cpu,
        )
        .unwrap();
        let logits = net
            .forward(&input)
            .unwrap()
            .reshape((12, m.config.vocab_size))
            .unwrap();
        // Cross-entropy from composed operations.
        let max = logits.max_keepdim(D::Minus1).unwrap().detach();
        let shifted = logits.broadcast_sub(&max).unwrap();
        let lse = shifted
            .exp()
            .unwrap()
            .sum_keepdim(D::Minus1)
            .unwrap()
            .log()
            .unwrap();
        let logp = shifted.broadcast_sub(&lse).unwrap();
        let picked = logp.gather(&targets.reshape((12, 1)).unwrap(), 1).unwrap();
        let loss = picked.mean_all().unwrap().neg().unwrap();
        let grads = loss.backward().unwrap();
        let mut missing = Vec::new();
        for (name, var) in &vars {
            match grads.get(var.as_tensor()) {
                Some(g)
                    if g.sqr()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap()
                        > 0.0 => {}
                _ => missing.push(name.clone()),
            }
        }
        assert!(missing.is_empty(), "{arch:?}: no gradient for {missing:?}");
        assert_eq!(
            vars.len(),
            agentune_model::expected_tensors(&m.config).len()
        );
    }
}

#[test]
fn training_mode_rejects_quantized_weights() {
    let m = tiny(Architecture::Llama);
    let mut weights = m.weights.clone();
    let w = weights
        .get("model.layers.0.mlp.up_proj.weight")
        .unwrap()
        .to_f32()
        .unwrap();
    let q = candle_core::quantized::QTensor::quantize(&w, candle_core::quantized::GgmlDType::Q8_0)
        .unwrap();
    weights.insert(
        "model.layers.0.mlp.up_proj.weight",
        agentune_model::Weight::Quantized(std::sync::Arc::new(q)),
    );
    let err = Llama::new(&m.config, &weights, Mode::Train)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("quantized") && err.contains("up_proj"),
        "{err}"
    );
    assert!(Llama::new(&m.config, &weights, Mode::Infer).is_ok());
}

#[test]
fn sharded_safetensors_with_an_index_load() {
    let m = tiny(Architecture::Qwen2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sharded");
    m.save_hf(&out).unwrap();
    let all = candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    std::fs::remove_file(out.join("model.safetensors")).unwrap();
    let mut names: Vec<&String> = all.keys().collect();
    names.sort();
    let (a, b) = names.split_at(names.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (file, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        let shard: HashMap<String, Tensor> = part
            .iter()
            .map(|n| ((*n).clone(), all[*n].clone()))
            .collect();
        candle_core::safetensors::save(&shard, out.join(file)).unwrap();
        for n in part {
            weight_map.insert((*n).clone(), serde_json::json!(file));
        }
    }
    std::fs::write(
        out.join("model.safetensors.index.json"),
        serde_json::json!({"metadata": {}, "weight_map": weight_map}).to_string(),
    )
    .unwrap();
    let back = load_hf(&out, WeightFormat::F32).unwrap();
    assert_eq!(logits(&back, Mode::Infer), logits(&m, Mode::Infer));
}

#[test]
fn text_stream_stops_before_stop_strings_and_keeps_characters_whole() {
    let tok = tiny_tokenizer();
    // No merges cover these bytes, so multi-byte characters arrive one byte per token.
    let ids = tok.encode("é🤖 hello STOP more", false).unwrap();
    let mut stream = agentune_model::TextStream::new(vec!["STOP".into(), "xyz".into()]);
    let mut deltas = Vec::new();
    let mut stopped = false;
    for &id in &ids {
        let (delta, stop) = stream.push(&tok, id).unwrap();
        if !delta.is_empty() {
            deltas.push(delta);
        }
        if stop {
            stopped = true;
            break;
        }
    }
    assert!(stopped);
    assert_eq!(deltas.concat(), "é🤖 hello ");
    assert_eq!(stream.text(), "é🤖 hello ");
    assert!(deltas.iter().all(|d| !d.contains('\u{FFFD}')), "{deltas:?}");
    assert!(
        deltas.iter().all(|d| !d.contains('S')),
        "partial stop string shown: {deltas:?}"
    );
    // A partial match that never completes is released at the end.
    let mut stream = agentune_model::TextStream::new(vec!["STOP".into()]);
    let mut shown = String::new();
    for &id in &tok.encode("ab ST", false).unwrap() {
        shown.push_str(&stream.push(&tok, id).unwrap().0);
    }
    assert_eq!(shown, "ab ");
    shown.push_str(&stream.finish());
    assert_eq!(shown, "ab ST");
}

#[test]
fn jinja_templates_see_tools_and_calls() {
    // A template in the style of tool-calling models: tools as JSON, calls with object
    // arguments, tool results by name.
    let src = r#"{%- if tools %}<tools>{% for t in tools %}{{ t.function.name }}:{{ t.function.parameters | tojson }};{% endfor %}</tools>
{% endif %}
{%- for m in messages %}
{%- if m.role == 'assistant' and m.tool_calls %}
{%- for c in m.tool_calls %}CALL {{ c.function.name }} {{ c.function.arguments.city }}
{% endfor %}
{%- elif m.role == 'tool' %}RESULT {{ m.name }}={{ m.content }}
{% else %}{{ m.role | upper }}: {{ m.content }}
{% endif %}
{%- endfor %}
{%- if add_generation_prompt %}ASSISTANT:{% endif %}"#;
    let t = agentune_model::ChatTemplate::for_model(Some(src), "<s>", "</s>").unwrap();
    let call = agentune_schema::ToolCall::new(
        "weather",
        serde_json::json!({"city": "Oslo"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let msgs = [
        agentune_schema::Message::user("Weather in Oslo?"),
        agentune_schema::Message::assistant_calls(None, vec![call]),
        agentune_schema::Message::tool("call_0", "weather", "rain"),
    ];
    let tools = [agentune_schema::ToolSpec::new(
        "weather",
        "Weather of a city",
        serde_json::json!({"type": "object"}),
    )];
    let out = t.render(&msgs, &tools, true).unwrap();
    assert_eq!(
        out,
        "<tools>weather:{\"type\":\"object\"};</tools>\nUSER: Weather in Oslo?\nCALL weather Oslo\nRESULT weather=rain\nASSISTANT:"
    );
}

#[test]
fn networks_and_caches_can_move_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Llama>();
    shareable::<agentune_model::KvCache>();
    shareable::<Pretrained>();
}

#[test]
fn bf16_export_loads_back_close_to_f32() {
    let m = tiny(Architecture::Llama);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bf16");
    m.save_hf_as(&out, candle_core::DType::BF16).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["torch_dtype"], "bfloat16");
    let st = candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu).unwrap();
    assert!(st.values().all(|t| t.dtype() == candle_core::DType::BF16));
    let back = load_hf(&out, WeightFormat::AsStored).unwrap();
    let d = max_abs_diff(&logits(&back, Mode::Infer), &logits(&m, Mode::Infer));
    assert!(d > 0.0 && d < 0.1, "{d}");
    let err = m
        .save_hf_as(&dir.path().join("u8"), candle_core::DType::U8)
        .unwrap_err();
    assert!(err.to_string().contains("U8"), "{err}");
}

#[test]
fn a_batch_of_rows_equals_each_row_alone() {
    let m = tiny(Architecture::Qwen2);
    for mode in [Mode::Train, Mode::Infer] {
        let net = Llama::new(&m.config, &m.weights, mode).unwrap();
        let rows = [[3u32, 17, 99, 4, 250], [1, 2, 3, 4, 5]];
        let both: Vec<Vec<Vec<f32>>> = net
            .forward(&Tensor::new(&rows, &Device::Cpu).unwrap())
            .unwrap()
            .to_vec3()
            .unwrap();
        for (i, row) in rows.iter().enumerate() {
            let alone: Vec<Vec<f32>> = net
                .forward(&Tensor::new(&[*row], &Device::Cpu).unwrap())
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2()
                .unwrap();
            assert!(max_abs_diff(&alone, &both[i]) < 1e-5, "{mode:?} row {i}");
        }
    }
}

#[test]
fn training_spans_cover_calls_and_answers_but_not_observations() {
    use agentune_schema::{Message, ToolCall, ToolSpec};
    let call = ToolCall::new(
        "weather",
        serde_json::json!({"city": "Oslo"})
            .as_object()
            .unwrap()
            .clone(),
    );
    let msgs = [
        Message::system("You are an agent."),
        Message::user("Weather in Oslo?"),
        Message::assistant_calls(None, vec![call]),
        Message::tool("call_0", "weather", "rain"),
        Message::assistant("It rains in Oslo."),
    ];
    let tools = [ToolSpec::new(
        "weather",
        "Weather of a city",
        serde_json::json!({"type": "object"}),
    )];
    for template in [
        agentune_model::ChatTemplate::builtin("chatml").unwrap(),
        agentune_model::ChatTemplate::Llama3,
    ] {
        let t = template.render_training(&msgs, &tools).unwrap();
        let spans: Vec<&str> = t.spans.iter().map(|(r, _)| &t.text[r.clone()]).collect();
        assert_eq!(spans.len(), 2, "{spans:?}");
        assert!(
            spans[0].contains("\"city\":\"Oslo\"") && !spans[0].contains("rain"),
            "{spans:?}"
        );
        assert!(spans[1].starts_with("It rains in Oslo."), "{spans:?}");
        assert!(!spans.iter().any(|s| s.contains("Weather in Oslo?")));
    }
}

/// Weighted cross-entropy of the next token over the whole row, through the fused operation.
fn packed_loss(net: &Llama, ids: &[u32], docs: &[usize], vocab: usize) -> Tensor {
    let n = ids.len();
    let input = Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .reshape((1, n))
        .unwrap();
    let hidden = net
        .forward_hidden_packed(&input, docs)
        .unwrap()
        .reshape((n, net.config().hidden_size))
        .unwrap();
    let logits = net.lm_head(&hidden).unwrap();
    assert_eq!(logits.dims(), [n, vocab]);
    let mut targets: Vec<u32> = ids[1..].to_vec();
    targets.push(0);
    // No loss across a document boundary or on the last token.
    let mut weights = vec![1.0 / n as f32; n];
    let mut end = 0;
    for &d in docs {
        end += d;
        weights[end - 1] = 0.0;
    }
    agentune_model::ops::cross_entropy(&logits, &targets, &weights).unwrap()
}

#[test]
fn every_parameter_gets_a_gradient_with_fused_ops_and_packed_documents() {
    for arch in [Architecture::Llama, Architecture::Qwen2] {
        let m = tiny(arch);
        let (weights, vars) = m.weights.to_vars().unwrap();
        let net = Llama::new(&m.config, &weights, Mode::Train).unwrap();
        let ids = [3u32, 17, 99, 4, 250, 7, 1, 2, 3, 4, 5];
        let loss = packed_loss(&net, &ids, &[4, 5, 2], m.config.vocab_size);
        let grads = loss.backward().unwrap();
        let mut missing = Vec::new();
        for (name, var) in &vars {
            match grads.get(var.as_tensor()) {
                Some(g)
                    if g.abs()
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap()
                        > 0.0 => {}
                _ => missing.push(name.clone()),
            }
        }
        assert!(missing.is_empty(), "{arch:?}: no gradient for {missing:?}");
        assert_eq!(
            vars.len(),
            agentune_model::expected_tensors(&m.config).len()
        );
    }
}

#[test]
fn packed_documents_equal_each_document_alone() {
    let m = tiny(Architecture::Llama);
    let docs: [&[u32]; 3] = [&[3, 17, 99, 4], &[250, 7, 1, 2, 3], &[9]];
    let all: Vec<u32> = docs.iter().flat_map(|d| d.iter().copied()).collect();
    let lens: Vec<usize> = docs.iter().map(|d| d.len()).collect();
    for mode in [Mode::Train, Mode::Infer] {
        let net = Llama::new(&m.config, &m.weights, mode).unwrap();
        let n = all.len();
        let packed = net
            .forward_hidden_packed(
                &Tensor::new(all.as_slice(), &Device::Cpu)
                    .unwrap()
                    .reshape((1, n))
                    .unwrap(),
                &lens,
            )
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let mut row = 0;
        for d in docs {
            let alone = net
                .forward_hidden(
                    &Tensor::new(d, &Device::Cpu)
                        .unwrap()
                        .reshape((1, d.len()))
                        .unwrap(),
                )
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let diff = max_abs_diff(&alone, &packed[row..row + d.len()]);
            assert!(diff < 1e-4, "{mode:?}: document at {row} differs by {diff}");
            row += d.len();
        }
    }
    let net = Llama::new(&m.config, &m.weights, Mode::Train).unwrap();
    let ids = Tensor::new(&[[1u32, 2, 3]], &Device::Cpu).unwrap();
    let err = net
        .forward_hidden_packed(&ids, &[1, 1])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sum to the 3 tokens"), "{err}");
}

#[test]
fn fused_training_gradients_match_finite_differences() {
    let m = tiny(Architecture::Llama);
    let ids = [3u32, 17, 99, 4, 250, 7, 1, 2];
    let docs = [5, 3];
    let vocab = m.config.vocab_size;
    let (weights, vars) = m.weights.to_vars().unwrap();
    let net = Llama::new(&m.config, &weights, Mode::Train).unwrap();
    let grads = packed_loss(&net, &ids, &docs, vocab).backward().unwrap();
    for name in [
        "model.layers.0.input_layernorm.weight",
        "model.layers.1.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.layers.1.mlp.gate_proj.weight",
        "model.norm.weight",
        "model.embed_tokens.weight",
    ] {
        let var = &vars[name];
        let g = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // The entry with the largest gradient, where the difference quotient is well conditioned.
        let (i, &gi) = g
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap();
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let eps = 1e-2f32;
        let at = |delta: f32| {
            let mut p = base.clone();
            p[i] += delta;
            var.set(&Tensor::from_vec(p, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            let l = packed_loss(&net, &ids, &docs, vocab)
                .to_scalar::<f32>()
                .unwrap();
            var.set(&Tensor::from_vec(base.clone(), var.shape(), &Device::Cpu).unwrap())
                .unwrap();
            l
        };
        let fd = (at(eps) - at(-eps)) / (2.0 * eps);
        assert!(
            (fd - gi).abs() <= 2e-2 * gi.abs().max(1e-3),
            "{name}[{i}]: autograd {gi}, finite difference {fd}"
        );
    }
}
