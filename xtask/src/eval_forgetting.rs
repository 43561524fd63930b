//! `cargo xtask eval forgetting`: perplexity of a general-data holdout's reference answers
//! under the base and the tuned model, and the similarity of each model's own answers to them,
//! in-process; flags a regression beyond a threshold.

use std::path::PathBuf;

use agentune_data::Record;
use agentune_eval::bootstrap::BootstrapSettings;
use agentune_eval::forgetting::{self, AnswerNll};
use agentune_eval::text;
use agentune_model::{Llama, Mode, Pretrained, WeightFormat};
use agentune_schema::{EvalRecord, QueryKind, Sample};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval forgetting`.
#[derive(Debug, clap::Args)]
pub struct ForgettingArgs {
    /// Held-out records (JSONL); the samples among them of the kinds in --kinds are scored.
    #[arg(long)]
    samples: PathBuf,
    /// The base model: `smollm2`, a GGUF file or an HF folder.
    #[arg(long)]
    base: String,
    /// The tuned model (a checkpoint folder, ...).
    #[arg(long)]
    tuned: String,
    /// Query kinds scored (comma-separated: general, positive, hard_negative).
    #[arg(long, value_delimiter = ',', default_value = "general")]
    kinds: Vec<String>,
    /// Largest tolerated perplexity increase, as a fraction of the base's (0.1 = 10%).
    #[arg(long, default_value_t = 0.1)]
    threshold: f64,
    /// Largest tolerated drop of the mean answer ROUGE-L F1 (absolute: 0.05 = five points).
    #[arg(long, default_value_t = 0.05)]
    max_similarity_drop: f64,
    /// Tokens per sample at most (longer ones are cut; longer prompts are not answered).
    #[arg(long, default_value_t = 1024)]
    max_len: usize,
    /// Tokens per generated answer at most.
    #[arg(long, default_value_t = 128)]
    max_new_tokens: usize,
    /// Perplexity only: do not generate answers.
    #[arg(long)]
    no_similarity: bool,
    /// Only the first N samples.
    #[arg(long)]
    limit: Option<usize>,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Exit with an error when a regression is flagged (for CI gates).
    #[arg(long)]
    fail_on_regression: bool,
    /// Output folder for forgetting.jsonl (per sample) and forgetting.json.
    #[arg(long)]
    out: PathBuf,
}

/// One model's scores of one sample.
struct Scored {
    nll: Option<AnswerNll>,
    answer: Option<String>,
}

fn score_all(spec: &str, samples: &[Sample], a: &ForgettingArgs) -> Result<Vec<Scored>> {
    let m = Pretrained::load(spec, WeightFormat::F32)
        .with_context(|| format!("cannot load model `{spec}`"))?;
    let net = Llama::new(&m.config, &m.weights, Mode::Infer)
        .with_context(|| format!("cannot build model `{spec}`"))?;
    let template = m
        .template()
        .with_context(|| format!("model `{spec}` has no usable chat template"))?;
    let bar = indicatif::ProgressBar::new(samples.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} samples ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(spec.to_owned());
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let nll = forgetting::answer_nll(&net, &m.tokenizer, &template, s, a.max_len)
            .with_context(|| format!("{spec}: sample {}", s.id))?;
        let answer = if a.no_similarity {
            None
        } else {
            forgetting::generate_answer(
                &net,
                &m.tokenizer,
                &template,
                s,
                a.max_len,
                a.max_new_tokens,
            )
            .with_context(|| format!("{spec}: answering sample {}", s.id))?
        };
        out.push(Scored { nll, answer });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

/// `cargo xtask eval forgetting`.
pub fn run(a: &ForgettingArgs) -> Result<()> {
    if a.threshold.is_nan() || a.threshold < 0.0 {
        bail!("--threshold must be at least 0");
    }
    if !(0.0..=1.0).contains(&a.max_similarity_drop) {
        bail!("--max-similarity-drop must lie between 0 and 1");
    }
    if a.max_len < 2 {
        bail!("--max-len must be at least 2");
    }
    let records = agentune_eval::episode::read_records(&a.samples)
        .with_context(|| format!("cannot read records {}", a.samples.display()))?;
    let kinds: Vec<QueryKind> = a
        .kinds
        .iter()
        .map(|k| {
            serde_json::from_value(serde_json::Value::String(k.clone())).map_err(|_| {
                anyhow::anyhow!("--kinds: unknown kind `{k}` (general, positive, hard_negative)")
            })
        })
        .collect::<Result<_>>()?;
    let mut samples: Vec<Sample> = records
        .into_iter()
        .filter_map(|r| match r {
            Record::Sample(s) => Some(*s),
            Record::Trajectory(_) => None,
        })
        .filter(|s| kinds.contains(&s.meta.kind))
        .collect();
    if let Some(n) = a.limit {
        samples.truncate(n);
    }
    if samples.is_empty() {
        bail!(
            "{} has no sample of kind {}",
            a.samples.display(),
            a.kinds.join(", ")
        );
    }
    let base = score_all(&a.base, &samples, a)?;
    let tuned = score_all(&a.tuned, &samples, a)?;
    let mut pb = Vec::new();
    let mut pt = Vec::new();
    let mut sb = Vec::new();
    let mut st = Vec::new();
    let mut rows = Vec::new();
    for ((s, b), t) in samples.iter().zip(&base).zip(&tuned) {
        let mut metrics = std::collections::BTreeMap::new();
        if let (Some(b), Some(t)) = (b.nll, t.nll) {
            pb.push(b);
            pt.push(t);
            metrics.insert("tokens".to_owned(), t.tokens as f64);
            metrics.insert("nll_base".to_owned(), b.mean());
            metrics.insert("nll_tuned".to_owned(), t.mean());
            metrics.insert("nll_increase".to_owned(), t.mean() - b.mean());
        }
        let reference = forgetting::reference_answer(s).map(|(_, r)| r);
        if let (Some(r), Some(ab), Some(at)) = (reference, &b.answer, &t.answer) {
            let (rb, rt) = (text::rouge_l(ab, r), text::rouge_l(at, r));
            sb.push(rb);
            st.push(rt);
            metrics.insert("rouge_l_base".to_owned(), rb);
            metrics.insert("rouge_l_tuned".to_owned(), rt);
            metrics.insert("rouge_l_change".to_owned(), rt - rb);
        }
        if metrics.is_empty() {
            continue;
        }
        rows.push(EvalRecord {
            schema_version: Default::default(),
            id: s.id.clone(),
            suite: "forgetting".into(),
            category: Some(s.meta.scenario.clone()),
            model: a.tuned.clone(),
            template_id: s.template_id.clone(),
            meta: Some(s.meta.clone()),
            response: t.answer.clone(),
            parsed: None,
            expected: reference.map(|r| serde_json::json!({"answer": r, "base_answer": b.answer})),
            metrics,
            passed: None,
            error: None,
            latency_ms: None,
        });
    }
    if pb.is_empty() {
        bail!(
            "no sample has an answer token within --max-len {}",
            a.max_len
        );
    }
    let settings = BootstrapSettings {
        seed: a.seed,
        ..BootstrapSettings::default()
    };
    let mut report = forgetting::compare(&a.base, &pb, &a.tuned, &pt, a.threshold, settings)?;
    if !a.no_similarity {
        if sb.is_empty() {
            tracing::warn!(
                "no sample was answered (no text reference answer, or prompts over --max-len)"
            );
        } else {
            report = report.with_similarity(forgetting::compare_similarity(
                &sb,
                &st,
                a.max_similarity_drop,
                settings,
            )?);
        }
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    agentune_schema::write_jsonl(a.out.join("forgetting.jsonl"), &rows)?;
    let mut text = serde_json::to_string_pretty(&report)?;
    text.push('\n');
    agentune_schema::write_atomic(a.out.join("forgetting.json"), text.as_bytes())?;
    let verdict = if report.regressed {
        "REGRESSION"
    } else {
        "no regression"
    };
    let mut out = format!(
        "{} samples, {} answer tokens: perplexity base {:.3}, tuned {:.3} (x{:.3}, threshold x{:.3}){}\n",
        report.samples,
        report.tuned.tokens,
        report.base.perplexity,
        report.tuned.perplexity,
        report.perplexity_ratio,
        1.0 + report.threshold,
        if report.perplexity_regressed {
            ": regressed"
        } else {
            ""
        }
    );
    if let Some(c) = &report.similarity {
        out.push_str(&format!(
            "{} answers: ROUGE-L base {:.3}, tuned {:.3} (largest drop tolerated {:.3}){}\n",
            c.samples,
            c.base_rouge_l,
            c.tuned_rouge_l,
            c.max_drop,
            if c.regressed { ": regressed" } else { "" }
        ));
    }
    out.push_str(verdict);
    crate::print_stdout(&out)?;
    if report.regressed && a.fail_on_regression {
        bail!(
            "the tuned model forgot: perplexity x{:.3}{}",
            report.perplexity_ratio,
            report
                .similarity
                .as_ref()
                .map(|c| format!(", ROUGE-L {:.3} -> {:.3}", c.base_rouge_l, c.tuned_rouge_l))
                .unwrap_or_default()
        );
    }
    Ok(())
}
