//! `cargo xtask bench model`: prefill and decode speed of the model crate on SmolLM2-135M
//! (Q4_1 as shipped, and dequantized to f32), median of several runs; `cargo xtask bench
//! train`: a training step against PyTorch (see `bench_train.rs`); `--write` records the
//! table in docs/benchmarks.md.

use std::time::Instant;

use agentune_model::{
    ChatTemplate, GenerateParams, KvCache, Llama, Mode, Pretrained, WeightFormat, generate_batch,
};
use agentune_schema::Message;
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    target: BenchTarget,
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Tokens decoded per run.
    #[arg(long, default_value_t = 64)]
    decode_tokens: usize,
    /// Sequences decoded together in the batched measurement.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Record the results in docs/benchmarks.md.
    #[arg(long)]
    write: bool,
    /// `bench serve`: build llama.cpp's server (llama-cpp-python) into .venv-llamacpp/ when
    /// it is missing.
    #[arg(long)]
    install_llamacpp: bool,
    /// Training: measured steps per process (after a warm-up step).
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Training: sequence lengths to measure.
    #[arg(long, value_delimiter = ',', default_value = "256,1024")]
    lengths: Vec<usize>,
    /// Training: skip the PyTorch reference.
    #[arg(long)]
    no_python: bool,
    /// Training: the Python that creates the reference's venv.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Internal: measure our training step on this token file and print JSON.
    #[arg(long, hide = true)]
    child_tokens: Option<std::path::PathBuf>,
    /// Internal: the measured step recomputes each layer in the backward pass.
    #[arg(long, hide = true)]
    child_checkpointing: bool,
}

/// Benchmarks that `cargo xtask bench` knows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchTarget {
    /// The model crate: prefill and decode tokens/s.
    Model,
    /// The HTTP server next to llama.cpp's: TTFT, decode tokens/s, aggregate with 1/4/16
    /// streams.
    Serve,
    /// BFCL AST checking against BFCL's own Python checker: agreement and speed.
    Eval,
    /// A full-parameter training step of SmolLM2-135M against PyTorch: s/step, peak RSS.
    Train,
}

const MARK_START: &str = "<!-- model-bench -->";
const MARK_END: &str = "<!-- /model-bench -->";

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Row {
    format: &'static str,
    engine: &'static str,
    prompt_tokens: usize,
    prefill: f64,
    decode: f64,
    batched: f64,
}

/// Times prefill (the whole prompt in one pass) and greedy decode (one token per pass).
fn measure(net: &Llama, prompt: &[u32], decode_tokens: usize) -> Result<(f64, f64)> {
    let mut cache: KvCache = net.new_cache();
    let start = Instant::now();
    let logits = net.forward_step(prompt, &mut cache)?;
    let prefill = start.elapsed().as_secs_f64();
    let mut next = logits.argmax(0)?.to_scalar::<u32>()?;
    let start = Instant::now();
    for _ in 0..decode_tokens {
        let logits = net.forward_step(&[next], &mut cache)?;
        next = logits.argmax(0)?.to_scalar::<u32>()?;
    }
    let decode = start.elapsed().as_secs_f64();
    Ok((prompt.len() as f64 / prefill, decode_tokens as f64 / decode))
}

/// The same measurement with candle-transformers' `quantized_llama` on the GGUF file: the
/// side-by-side anchor (its figures move with the machine's load exactly like ours).
fn measure_reference(
    path: &std::path::Path,
    prompt: &[u32],
    decode_tokens: usize,
) -> Result<(f64, f64)> {
    use candle_core::{Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, &Device::Cpu)?;
    let start = Instant::now();
    let input = Tensor::new(prompt, &Device::Cpu)?.unsqueeze(0)?;
    let logits = model.forward(&input, 0)?;
    let prefill = start.elapsed().as_secs_f64();
    let mut next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
    let start = Instant::now();
    for i in 0..decode_tokens {
        let input = Tensor::new(&[next], &Device::Cpu)?.unsqueeze(0)?;
        let logits = model.forward(&input, prompt.len() + i)?;
        next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
    }
    let decode = start.elapsed().as_secs_f64();
    Ok((prompt.len() as f64 / prefill, decode_tokens as f64 / decode))
}

pub fn run(args: &BenchArgs) -> Result<()> {
    match args.target {
        BenchTarget::Model => bench_model(args),
        BenchTarget::Serve => crate::bench_serve::run(&crate::bench_serve::ServeBenchArgs {
            runs: args.runs,
            decode_tokens: args.decode_tokens,
            install_llamacpp: args.install_llamacpp,
            write: args.write,
        }),
        BenchTarget::Eval => crate::eval_bench::run(&crate::eval_bench::EvalBenchOptions {
            runs: args.runs,
            write: args.write,
            data: None,
            python: "python3".into(),
        }),
        BenchTarget::Train => match &args.child_tokens {
            Some(tokens) => crate::bench_train::child(tokens, args.steps, args.child_checkpointing),
            None => crate::bench_train::run(&crate::bench_train::TrainBench {
                steps: args.steps,
                lengths: &args.lengths,
                runs: args.runs,
                no_python: args.no_python,
                python: &args.python,
                write: args.write,
            }),
        },
    }
}

fn bench_model(args: &BenchArgs) -> Result<()> {
    if args.runs == 0 || args.decode_tokens == 0 || args.batch == 0 {
        bail!("--runs, --decode-tokens and --batch must be at least 1");
    }
    let mut rows = Vec::new();
    for (format, wf) in [("Q4_1", WeightFormat::AsStored), ("f32", WeightFormat::F32)] {
        let m = Pretrained::load("smollm2", wf)
            .context("SmolLM2 is needed; run `cargo xtask fetch-model smollm2`")?;
        let net = Llama::new(&m.config, &m.weights, Mode::Infer)?;
        let template = ChatTemplate::for_model(m.chat_template.as_deref(), "", "")?;
        let prompt = template.render(
            &[Message::user(
                "Write a short poem about the sea, the wind and a small boat.",
            )],
            &[],
            true,
        )?;
        let ids = m.tokenizer.encode(&prompt, false)?;
        // One warm-up run, then the measured ones.
        measure(&net, &ids, 4)?;
        let (mut prefill, mut decode, mut batched) = (Vec::new(), Vec::new(), Vec::new());
        let (mut ref_prefill, mut ref_decode) = (Vec::new(), Vec::new());
        for run in 0..args.runs {
            if wf == WeightFormat::AsStored {
                let (p, d) = measure_reference(&m.source, &ids, args.decode_tokens)?;
                tracing::info!(run, prefill = p, decode = d, "quantized_llama tokens/s");
                ref_prefill.push(p);
                ref_decode.push(d);
            }
            let (p, d) = measure(&net, &ids, args.decode_tokens)?;
            tracing::info!(format, run, prefill = p, decode = d, "tokens/s");
            prefill.push(p);
            decode.push(d);
            // Several sequences at once: aggregate decode throughput (prefill included).
            let prompts = vec![ids.clone(); args.batch];
            let params = GenerateParams {
                max_new_tokens: args.decode_tokens,
                stop_tokens: Vec::new(),
                ..GenerateParams::default()
            };
            let start = Instant::now();
            let out = generate_batch(&net, &m.tokenizer, &prompts, &[params], &mut |_, _| {})?;
            let secs = start.elapsed().as_secs_f64();
            let tokens: usize = out.iter().map(|g| g.tokens.len()).sum();
            batched.push(tokens as f64 / secs);
        }
        if !ref_prefill.is_empty() {
            rows.push(Row {
                format,
                engine: "candle-transformers quantized_llama",
                prompt_tokens: ids.len(),
                prefill: median(ref_prefill),
                decode: median(ref_decode),
                batched: f64::NAN,
            });
        }
        rows.push(Row {
            format,
            engine: "agentune-model",
            prompt_tokens: ids.len(),
            prefill: median(prefill),
            decode: median(decode),
            batched: median(batched),
        });
    }
    let table = render(&rows, args);
    crate::print_stdout(&table)?;
    if args.write {
        write_section(&table, MARK_START, MARK_END)?;
    }
    Ok(())
}

/// Replaces the text between `start` and `end` in docs/benchmarks.md with `table` (appending
/// a new marked section when the markers are absent).
pub(crate) fn write_section(table: &str, start: &str, end: &str) -> Result<()> {
    let path = crate::workspace_root().join("docs").join("benchmarks.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nMeasured with `cargo xtask bench <target> --write`.\n".to_owned()
    });
    let updated = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a < b => format!("{}{start}\n{table}{}", &text[..a], &text[b..]),
        (None, None) => format!(
            "{}\n{start}\n{table}{end}\n",
            text.trim_end_matches('\n').to_owned() + "\n"
        ),
        _ => bail!("{} has a broken {start} ... {end} section", path.display()),
    };
    agentune_schema::write_atomic(&path, updated.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "recorded");
    Ok(())
}

fn render(rows: &[Row], args: &BenchArgs) -> String {
    let mut s = String::from("## Model: SmolLM2-135M-Instruct inference (CPU)\n\n");
    s.push_str(&format!(
        "`cargo xtask bench model` (median of {} runs; greedy; {} decoded tokens; candle CPU \
         kernels built with `target-cpu=native`; {} threads).\n\n",
        args.runs,
        args.decode_tokens,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    s.push_str(&format!(
        "| engine | weights | prompt tokens | prefill tok/s | decode tok/s (1 sequence) | \
         generate tok/s (batch of {}, total) |\n|---|---|---|---|---|---|\n",
        args.batch
    ));
    for r in rows {
        let batched = if r.batched.is_nan() {
            "-".to_owned()
        } else {
            format!("{:.1}", r.batched)
        };
        s.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.1} | {batched} |\n",
            r.engine, r.format, r.prompt_tokens, r.prefill, r.decode
        ));
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    s.push_str(&format!(
        "\nLoad average (1 min) when the run ended: {load}. candle's CPU kernels slow down sharply \
         when other processes compete for the cores, so compare rows of one run, not runs.\n\n\
         Anchors measured earlier on an idle machine of this type: llama.cpp (2 threads, \
         `-march=native`) 204 tok/s prefill and 106 tok/s decode on a 29-token prompt; \
         candle-transformers `quantized_llama` Q4_1 82 / 53.8; candle f32 (dequantized) \
         205-218 / 17-19.\n\n"
    ));
    s
}
