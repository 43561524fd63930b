//! `cargo xtask data distill`: general SFT data by self-distillation. A model (the base model,
//! before tuning) answers a set of general prompts; its answers become general records in
//! OpenAI message form, which `data import --format openai` (or a data config's `[[import]]`)
//! reads. Mixed into tuning, they replay the model's own general behaviour.

use std::path::PathBuf;

use agentune_runtime::model::ChatRequest;
use agentune_schema::Message;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::json;

/// Options of `cargo xtask data distill`.
#[derive(Debug, clap::Args)]
pub struct DistillArgs {
    /// General prompts: JSONL of `{"id", "prompt"}` (optionally `"system"`), e.g.
    /// data/general/prompts.jsonl.
    #[arg(long)]
    prompts: PathBuf,
    /// The model that answers (the base model, before tuning).
    #[command(flatten)]
    model: crate::replies::ModelArgs,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    /// Sampling seed (with a temperature above 0).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// Keep answers cut off at --max-tokens as they are (by default they are cut back to their
    /// last complete sentence, and dropped when they have none: a cut answer would teach the
    /// model to stop mid-sentence).
    #[arg(long)]
    keep_truncated: bool,
    /// The records to write (JSONL, OpenAI messages).
    #[arg(long)]
    out: PathBuf,
}

/// One line of the prompts file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Prompt {
    id: String,
    prompt: String,
    #[serde(default)]
    system: Option<String>,
    /// Free labels (`lang`, `topic`), kept for the reader.
    #[serde(default)]
    #[allow(dead_code)]
    lang: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    topic: Option<String>,
}

fn read_prompts(path: &std::path::Path) -> Result<Vec<Prompt>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the prompts {}", path.display()))?;
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: Prompt = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a prompt record", path.display(), i + 1))?;
        if p.prompt.trim().is_empty() {
            bail!("{}:{}: prompt: empty", path.display(), i + 1);
        }
        if !seen.insert(p.id.clone()) {
            bail!("{}:{}: id `{}` repeats", path.display(), i + 1, p.id);
        }
        out.push(p);
    }
    if out.is_empty() {
        bail!("{} holds no prompt", path.display());
    }
    Ok(out)
}

pub fn run(a: &DistillArgs) -> Result<()> {
    let mut prompts = read_prompts(&a.prompts)?;
    if let Some(n) = a.limit {
        prompts.truncate(n);
    }
    let backend = a
        .model
        .backend()?
        .context("give --endpoint URL --model NAME or --local MODEL")?;
    let requests: Vec<ChatRequest> = prompts
        .iter()
        .map(|p| {
            let mut messages = Vec::new();
            if let Some(s) = &p.system {
                messages.push(Message::system(s.clone()));
            }
            messages.push(Message::user(p.prompt.clone()));
            let mut r = ChatRequest::new(messages);
            r.temperature = Some(a.temperature);
            if a.temperature > 0.0 {
                r.seed = Some(a.seed);
            }
            r.max_tokens = Some(a.max_tokens);
            r
        })
        .collect();
    let (results, stats) = a.model.answer_all(&backend, &requests, "answers")?;
    let mut records = Vec::new();
    let (mut truncated, mut trimmed, mut empty, mut failed) = (0usize, 0usize, 0usize, 0usize);
    for (p, r) in prompts.iter().zip(results) {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(id = %p.id, "no answer: {e}");
                failed += 1;
                continue;
            }
        };
        let mut answer = r.message.content_str().trim().to_owned();
        if answer.is_empty() {
            empty += 1;
            continue;
        }
        if r.finish_reason.as_deref() == Some("length") && !a.keep_truncated {
            match last_sentence_end(&answer) {
                Some(end) => {
                    answer.truncate(end);
                    trimmed += 1;
                }
                None => {
                    truncated += 1;
                    continue;
                }
            }
        }
        let mut messages = Vec::new();
        if let Some(s) = &p.system {
            messages.push(json!({"role": "system", "content": s}));
        }
        messages.push(json!({"role": "user", "content": p.prompt}));
        messages.push(json!({"role": "assistant", "content": answer}));
        records.push(json!({"id": format!("general.{}", p.id), "messages": messages}));
    }
    if records.is_empty() {
        bail!(
            "no usable answer: {failed} failed, {empty} empty, {truncated} cut off at --max-tokens {} without a complete sentence (raise it or pass --keep-truncated)",
            a.max_tokens
        );
    }
    if let Some(parent) = a.out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    agentune_schema::write_jsonl(&a.out, &records)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    crate::print_stdout(&format!(
        "distilled {} general records from {} prompts into {} ({} generated, {} cached; {trimmed} cut off at --max-tokens and trimmed to their last sentence; dropped {truncated} cut off without a complete sentence, {empty} empty, {failed} failed)",
        records.len(),
        prompts.len(),
        a.out.display(),
        stats.generated,
        stats.cached
    ))
}

/// The byte offset just after the last complete sentence of a cut-off answer (a sentence or
/// line end past a fifth of the text, trailing space left out), or None.
fn last_sentence_end(text: &str) -> Option<usize> {
    let min = text.len() / 5;
    let mut best = None;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        let boundary = match c {
            '。' | '！' | '？' | '\n' => true,
            // Not after a digit: `2.` starts a list item, `3.5` is a number.
            '.' | '!' | '?' => {
                text[end..].chars().next().is_none_or(char::is_whitespace)
                    && !text[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|p| p.is_ascii_digit())
            }
            _ => false,
        };
        if boundary && end > min {
            best = Some(end);
        }
    }
    best.map(|e| text[..e].trim_end().len())
}

#[cfg(test)]
mod tests {
    use super::last_sentence_end;

    #[test]
    fn cut_answers_end_at_their_last_sentence() {
        let t = "First point. Second point is longer. Third is cut mid";
        let end = last_sentence_end(t).unwrap_or_default();
        assert_eq!(&t[..end], "First point. Second point is longer.");
        let zh = "第一点。第二点比较长！第三点被截";
        let end = last_sentence_end(zh).unwrap_or_default();
        assert_eq!(&zh[..end], "第一点。第二点比较长！");
        // A decimal point is no sentence end; nothing complete means nothing kept.
        assert_eq!(last_sentence_end("The value 3.5 is cut"), None);
        assert_eq!(last_sentence_end("1. an item\n2. another"), Some(10));
    }
}
