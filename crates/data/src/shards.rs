//! Training shards: samples rendered with the model's chat template, tokenized with per-token
//! loss weights (assistant turns only, honouring each message's `loss`), packed into rows of at
//! most `max_len` tokens with document boundaries, shuffled by seed, and written as binary
//! shard files plus a JSON index. [`ShardReader`] reads them back. The byte layout is
//! documented in `docs/formats.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentune_model::{ChatTemplate, ModelTokenizer};
use agentune_schema::{Sample, write_atomic};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::hash_str;
use crate::rng::Rng;

/// The 8 bytes every shard file starts with.
pub const SHARD_MAGIC: &[u8; 8] = b"AGTSHRD1";
/// The shard format version written after the magic.
pub const SHARD_VERSION: u32 = 1;
/// The index file name inside a shard folder.
pub const INDEX_FILE: &str = "index.json";

/// One tokenized sample.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenizedSample {
    /// The sample's id.
    pub id: String,
    /// Token ids of the rendered conversation.
    pub tokens: Vec<u32>,
    /// Loss weight of each token (0 = not trained on).
    pub weights: Vec<f32>,
}

/// One packed row: several whole samples back to back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackedRow {
    /// Token ids.
    pub tokens: Vec<u32>,
    /// Loss weight per token.
    pub weights: Vec<f32>,
    /// Offset of the first token of each sample in the row (the first is 0); attention must
    /// not cross from one sample into another.
    pub starts: Vec<u32>,
}

impl PackedRow {
    /// The token range of each sample in the row.
    pub fn documents(&self) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::with_capacity(self.starts.len());
        for (i, &s) in self.starts.iter().enumerate() {
            let end = self
                .starts
                .get(i + 1)
                .map_or(self.tokens.len(), |&e| e as usize);
            out.push(s as usize..end);
        }
        out
    }
}

/// Renders and tokenizes one sample: the token ids and each token's loss weight. Only the
/// messages with a non-zero loss weight (by default the assistant's turns: thoughts, calls,
/// answers, with the tokens ending the turn) get weight; system, user and tool turns get 0.
pub fn tokenize_sample(
    tokenizer: &ModelTokenizer,
    template: &ChatTemplate,
    sample: &Sample,
) -> Result<TokenizedSample> {
    let text = template
        .render_training(&sample.messages, &sample.tools)
        .map_err(|e| Error::Invalid(format!("sample {}: {e}", sample.id)))?;
    let (tokens, weights) = tokenizer
        .encode_training(&text)
        .map_err(|e| Error::Invalid(format!("sample {}: {e}", sample.id)))?;
    Ok(TokenizedSample {
        id: sample.id.clone(),
        tokens,
        weights,
    })
}

/// What packing did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackReport {
    /// Samples packed.
    pub samples: usize,
    /// Samples dropped because they are longer than `max_len`.
    pub dropped_too_long: usize,
    /// Samples dropped because no token of theirs is trained on.
    pub dropped_untrained: usize,
}

/// Shuffles the samples deterministically by `seed`, then packs them in that order into rows
/// of at most `max_len` tokens (a sample goes into the first open row with room, among the
/// last few rows, else starts a new row). Samples longer than `max_len` and samples without
/// trained tokens are dropped and counted; no sample is ever split or truncated.
pub fn pack(
    mut docs: Vec<TokenizedSample>,
    max_len: usize,
    seed: u64,
) -> Result<(Vec<PackedRow>, PackReport)> {
    if max_len == 0 || max_len > u32::MAX as usize {
        return Err(Error::Invalid(format!(
            "max_len must be between 1 and {}, got {max_len}",
            u32::MAX
        )));
    }
    let mut report = PackReport::default();
    docs.retain(|d| {
        if d.tokens.len() > max_len {
            report.dropped_too_long += 1;
            false
        } else if !d.weights.iter().any(|&w| w > 0.0) {
            report.dropped_untrained += 1;
            false
        } else {
            true
        }
    });
    // Sort by id first so the result does not depend on the input order, then shuffle.
    docs.sort_by(|a, b| a.id.cmp(&b.id));
    Rng::new(seed).shuffle(&mut docs);
    const OPEN_ROWS: usize = 8;
    let mut rows: Vec<PackedRow> = Vec::new();
    for d in docs {
        report.samples += 1;
        let first_open = rows.len().saturating_sub(OPEN_ROWS);
        let slot =
            (first_open..rows.len()).find(|&i| rows[i].tokens.len() + d.tokens.len() <= max_len);
        let row = match slot {
            Some(i) => &mut rows[i],
            None => {
                rows.push(PackedRow::default());
                let last = rows.len() - 1;
                &mut rows[last]
            }
        };
        row.starts.push(row.tokens.len() as u32);
        row.tokens.extend_from_slice(&d.tokens);
        row.weights.extend_from_slice(&d.weights);
    }
    Ok((rows, report))
}

/// A short id of a chat template: its kind, and for Jinja templates a hash of the source.
pub fn template_id(template: &ChatTemplate) -> String {
    match template {
        ChatTemplate::ChatMl { .. } => "chatml".into(),
        ChatTemplate::Llama3 => "llama3".into(),
        ChatTemplate::Mistral => "mistral".into(),
        ChatTemplate::Jinja(j) => format!("jinja-{:016x}", hash_str(j.source())),
    }
}

/// One shard file in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardEntry {
    /// File name, relative to the index.
    pub file: String,
    /// Rows in the file.
    pub rows: usize,
    /// Tokens in the file.
    pub tokens: usize,
}

/// The `index.json` of a shard folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardIndex {
    /// Format version ([`SHARD_VERSION`]).
    pub version: u32,
    /// The shard files, in order.
    pub shards: Vec<ShardEntry>,
    /// Rows in all shards.
    pub rows: usize,
    /// Samples packed.
    pub samples: usize,
    /// Tokens in all shards.
    pub tokens: usize,
    /// Tokens with a loss weight above 0.
    pub trained_tokens: usize,
    /// The longest a row may be.
    pub max_len: usize,
    /// The model (and so tokenizer) the ids belong to.
    pub model: String,
    /// Vocabulary size of the tokenizer.
    pub vocab_size: usize,
    /// The chat template the samples were rendered with ([`template_id`]).
    pub chat_template: String,
    /// The shuffle seed.
    pub seed: u64,
    /// Samples dropped, and why.
    pub dropped: PackReport,
    /// Samples per agent template (the samples' `template_id`). The trainer saves the most
    /// used one into its checkpoints, so serve and eval prompt the tuned model the same way.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agent_templates: BTreeMap<String, usize>,
}

impl ShardIndex {
    /// The agent template most samples were rendered with (ties: the first id in order).
    pub fn main_agent_template(&self) -> Option<&str> {
        let mut best: Option<(&str, usize)> = None;
        for (id, &n) in &self.agent_templates {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((id, n));
            }
        }
        best.map(|(id, _)| id)
    }
}

/// Describes the data written by [`write_shards`].
#[derive(Debug, Clone)]
pub struct ShardMeta {
    /// The model id recorded in the index.
    pub model: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Chat template id.
    pub chat_template: String,
    /// Row length limit.
    pub max_len: usize,
    /// Shuffle seed.
    pub seed: u64,
    /// Rows per shard file.
    pub rows_per_shard: usize,
    /// Samples per agent template id ([`count_agent_templates`]).
    pub agent_templates: BTreeMap<String, usize>,
}

/// Folder inside a shard folder holding the spec (TOML) of every agent template the samples
/// were rendered with, as `<id>.toml`.
pub const AGENT_TEMPLATE_DIR: &str = "agent_templates";

/// Samples per agent template id; samples without one are not counted.
pub fn count_agent_templates<'a>(
    samples: impl IntoIterator<Item = &'a Sample>,
) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for s in samples {
        if let Some(id) = &s.template_id {
            *out.entry(id.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// Writes the spec of each agent template in `templates` into `dir/agent_templates/<id>.toml`
/// (atomically), so the folder carries the exact templates its samples were rendered with.
pub fn write_agent_templates(dir: &Path, templates: &[agentune_runtime::Template]) -> Result<()> {
    let sub = dir.join(AGENT_TEMPLATE_DIR);
    std::fs::create_dir_all(&sub).map_err(|e| Error::Io {
        op: "create",
        path: sub.clone(),
        source: e,
    })?;
    for t in templates {
        let id = t.id();
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(Error::Invalid(format!(
                "agent template id `{id}` cannot be used as a file name"
            )));
        }
        let text = toml::to_string_pretty(t.spec())
            .map_err(|e| Error::Invalid(format!("cannot serialise agent template `{id}`: {e}")))?;
        write_atomic(sub.join(format!("{id}.toml")), text.as_bytes())?;
    }
    Ok(())
}

fn encode_shard(rows: &[PackedRow]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(SHARD_MAGIC);
    out.extend_from_slice(&SHARD_VERSION.to_le_bytes());
    out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    for r in rows {
        out.extend_from_slice(&(r.tokens.len() as u32).to_le_bytes());
        out.extend_from_slice(&(r.starts.len() as u32).to_le_bytes());
        for s in &r.starts {
            out.extend_from_slice(&s.to_le_bytes());
        }
        for t in &r.tokens {
            out.extend_from_slice(&t.to_le_bytes());
        }
        for w in &r.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    out
}

/// Writes `rows` into `dir` as `shard-00000.bin`, ... and `index.json`, each file atomically
/// (the index last, so a folder with an index is complete). Returns the index.
pub fn write_shards(
    dir: &Path,
    rows: &[PackedRow],
    report: &PackReport,
    meta: &ShardMeta,
) -> Result<ShardIndex> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Io {
        op: "create",
        path: dir.to_path_buf(),
        source: e,
    })?;
    let per = meta.rows_per_shard.max(1);
    let mut shards = Vec::new();
    for (i, chunk) in rows.chunks(per).enumerate() {
        let file = format!("shard-{i:05}.bin");
        write_atomic(dir.join(&file), &encode_shard(chunk))?;
        shards.push(ShardEntry {
            file,
            rows: chunk.len(),
            tokens: chunk.iter().map(|r| r.tokens.len()).sum(),
        });
    }
    let index = ShardIndex {
        version: SHARD_VERSION,
        rows: rows.len(),
        samples: report.samples,
        tokens: shards.iter().map(|s| s.tokens).sum(),
        trained_tokens: rows
            .iter()
            .map(|r| r.weights.iter().filter(|&&w| w > 0.0).count())
            .sum(),
        shards,
        max_len: meta.max_len,
        model: meta.model.clone(),
        vocab_size: meta.vocab_size,
        chat_template: meta.chat_template.clone(),
        seed: meta.seed,
        dropped: report.clone(),
        agent_templates: meta.agent_templates.clone(),
    };
    let json = serde_json::to_vec_pretty(&index)
        .map_err(|e| Error::Invalid(format!("cannot serialise the shard index: {e}")))?;
    write_atomic(dir.join(INDEX_FILE), &json)?;
    Ok(index)
}

/// Reads a shard folder written by [`write_shards`].
#[derive(Debug, Clone)]
pub struct ShardReader {
    dir: PathBuf,
    index: ShardIndex,
}

impl ShardReader {
    /// Opens the folder and reads its index.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(INDEX_FILE);
        let text = std::fs::read(&path).map_err(|e| Error::Io {
            op: "read",
            path: path.clone(),
            source: e,
        })?;
        let index: ShardIndex = serde_json::from_slice(&text)
            .map_err(|e| Error::input(&path, None, "index", e.to_string()))?;
        if index.version != SHARD_VERSION {
            return Err(Error::input(
                &path,
                None,
                "version",
                format!("unsupported shard version {}", index.version),
            ));
        }
        Ok(Self { dir, index })
    }

    /// The index.
    pub fn index(&self) -> &ShardIndex {
        &self.index
    }

    /// The rows of shard `i`.
    pub fn read_shard(&self, i: usize) -> Result<Vec<PackedRow>> {
        let entry = self
            .index
            .shards
            .get(i)
            .ok_or_else(|| Error::Invalid(format!("no shard {i}")))?;
        let path = self.dir.join(&entry.file);
        let bytes = std::fs::read(&path).map_err(|e| Error::Io {
            op: "read",
            path: path.clone(),
            source: e,
        })?;
        let rows = decode_shard(&bytes).map_err(|m| Error::input(&path, None, "bytes", m))?;
        if rows.len() != entry.rows {
            return Err(Error::input(
                &path,
                None,
                "rows",
                format!("index says {} rows, file has {}", entry.rows, rows.len()),
            ));
        }
        Ok(rows)
    }

    /// Every row of every shard, in order.
    pub fn read_all(&self) -> Result<Vec<PackedRow>> {
        let mut out = Vec::with_capacity(self.index.rows);
        for i in 0..self.index.shards.len() {
            out.extend(self.read_shard(i)?);
        }
        Ok(out)
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn decode_shard(bytes: &[u8]) -> std::result::Result<Vec<PackedRow>, String> {
    if bytes.get(..8) != Some(SHARD_MAGIC.as_slice()) {
        return Err("not a shard file (bad magic)".into());
    }
    let mut c = Cursor { bytes, pos: 8 };
    let version = c.u32()?;
    if version != SHARD_VERSION {
        return Err(format!("unsupported shard version {version}"));
    }
    let n_rows = c.u32()? as usize;
    let mut rows = Vec::with_capacity(n_rows.min(1 << 20));
    for r in 0..n_rows {
        let n_tok = c.u32()? as usize;
        let n_docs = c.u32()? as usize;
        let need = (n_docs + 2 * n_tok) * 4;
        if bytes.len() - c.pos < need {
            return Err(format!("row {r}: truncated at byte {}", c.pos));
        }
        let starts = (0..n_docs)
            .map(|_| c.u32())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let tokens = (0..n_tok)
            .map(|_| c.u32())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let weights = (0..n_tok)
            .map(|_| c.u32().map(f32::from_bits))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if starts.first().is_some_and(|&s| s != 0)
            || starts.windows(2).any(|w| w[0] >= w[1])
            || starts.last().is_some_and(|&s| s as usize >= n_tok)
        {
            return Err(format!("row {r}: bad document starts"));
        }
        rows.push(PackedRow {
            tokens,
            weights,
            starts,
        });
    }
    if c.pos != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - c.pos));
    }
    Ok(rows)
}

/// Token counts with a model tokenizer, for length rules and stats.
#[derive(Debug, Clone)]
pub struct TokenCount(pub ModelTokenizer);

impl crate::clean::LengthMeasure for TokenCount {
    fn unit(&self) -> &str {
        "tokens"
    }

    fn measure(&self, text: &str) -> usize {
        // A text the tokenizer rejects is measured in characters rather than failing a rule.
        self.0
            .encode(text, false)
            .map_or_else(|_| text.chars().count(), |ids| ids.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn doc(id: &str, n: usize, base: u32) -> TokenizedSample {
        TokenizedSample {
            id: id.into(),
            tokens: (0..n as u32).map(|i| base + i).collect(),
            weights: (0..n).map(|i| if i % 2 == 0 { 1.0 } else { 0.0 }).collect(),
        }
    }

    fn docs() -> Vec<TokenizedSample> {
        (0..40)
            .map(|i| doc(&format!("s{i:02}"), 3 + (i * 7) % 20, i as u32 * 1000))
            .collect()
    }

    #[test]
    fn packing_keeps_every_token_and_never_crosses_samples() {
        let input = docs();
        let (rows, report) = pack(input.clone(), 32, 7).unwrap();
        assert_eq!(report.samples, 40);
        let mut seen: Vec<TokenizedSample> = Vec::new();
        for r in &rows {
            assert!(r.tokens.len() <= 32);
            assert_eq!(r.tokens.len(), r.weights.len());
            for range in r.documents() {
                let toks = r.tokens[range.clone()].to_vec();
                // Every token of one document comes from one sample (ids share the base).
                let base = toks[0] / 1000;
                assert!(toks.iter().all(|t| t / 1000 == base));
                let orig = input.iter().find(|d| d.tokens == toks).unwrap();
                assert_eq!(orig.weights, r.weights[range].to_vec());
                seen.push(orig.clone());
            }
        }
        seen.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(seen, input);
        let total: usize = input.iter().map(|d| d.tokens.len()).sum();
        assert_eq!(rows.iter().map(|r| r.tokens.len()).sum::<usize>(), total);
    }

    #[test]
    fn too_long_and_untrained_samples_are_dropped_and_counted() {
        let mut input = docs();
        input.push(doc("long", 33, 99_000));
        let mut silent = doc("silent", 4, 98_000);
        silent.weights = vec![0.0; 4];
        input.push(silent);
        let (rows, report) = pack(input, 32, 1).unwrap();
        assert_eq!(report.dropped_too_long, 1);
        assert_eq!(report.dropped_untrained, 1);
        assert!(
            rows.iter()
                .all(|r| !r.tokens.contains(&99_000) && !r.tokens.contains(&98_000))
        );
        assert!(pack(docs(), 0, 1).is_err());
    }

    #[test]
    fn shuffle_is_deterministic_and_seed_dependent() {
        let (a, _) = pack(docs(), 32, 5).unwrap();
        let mut rev = docs();
        rev.reverse();
        let (b, _) = pack(rev, 32, 5).unwrap();
        let (c, _) = pack(docs(), 32, 6).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn reader_round_trip_and_corruption_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (rows, report) = pack(docs(), 32, 3).unwrap();
        let meta = ShardMeta {
            model: "test".into(),
            vocab_size: 100_000,
            chat_template: "chatml".into(),
            max_len: 32,
            seed: 3,
            rows_per_shard: 4,
            agent_templates: BTreeMap::from([("react".into(), 3), ("hermes".into(), 5)]),
        };
        let index = write_shards(dir.path(), &rows, &report, &meta).unwrap();
        assert_eq!(index.shards.len(), rows.len().div_ceil(4));
        let reader = ShardReader::open(dir.path()).unwrap();
        assert_eq!(reader.index(), &index);
        assert_eq!(reader.read_all().unwrap(), rows);
        let trained: usize = rows
            .iter()
            .map(|r| r.weights.iter().filter(|&&w| w > 0.0).count())
            .sum();
        assert_eq!(index.trained_tokens, trained);
        let first = dir.path().join(&index.shards[0].file);
        let bytes = std::fs::read(&first).unwrap();
        std::fs::write(&first, &bytes[..bytes.len() - 3]).unwrap();
        let err = reader.read_shard(0).unwrap_err().to_string();
        assert!(err.contains("shard-00000.bin"), "{err}");
        assert_eq!(index.main_agent_template(), Some("hermes"));
    }

    #[test]
    fn agent_templates_are_counted_and_saved_as_loadable_specs() {
        use agentune_schema::{Complexity, Message, QueryKind, QueryMeta};
        let mk = |id: &str, t: Option<&str>| Sample {
            schema_version: Default::default(),
            id: id.into(),
            messages: vec![Message::user("q"), Message::assistant("a")],
            tools: Vec::new(),
            template_id: t.map(String::from),
            meta: QueryMeta::new("s", QueryKind::Positive, Complexity::Simple, "en"),
            split: None,
            group: None,
            provenance: None,
        };
        let samples = [
            mk("a", Some("react")),
            mk("b", Some("react")),
            mk("c", Some("hermes")),
            mk("d", None),
        ];
        let counts = count_agent_templates(&samples);
        assert_eq!(
            counts,
            BTreeMap::from([("hermes".into(), 1), ("react".into(), 2)])
        );
        let dir = tempfile::tempdir().unwrap();
        let react = agentune_runtime::Template::builtin("react").unwrap();
        write_agent_templates(dir.path(), std::slice::from_ref(&react)).unwrap();
        let back = agentune_runtime::Template::load(
            &dir.path().join(AGENT_TEMPLATE_DIR).join("react.toml"),
        )
        .unwrap();
        assert_eq!(back.spec(), react.spec());
        // An index written before this field existed still reads.
        let old = r#"{"version":1,"shards":[],"rows":0,"samples":0,"tokens":0,"trained_tokens":0,"max_len":8,"model":"m","vocab_size":10,"chat_template":"chatml","seed":0,"dropped":{"samples":0,"dropped_too_long":0,"dropped_untrained":0}}"#;
        let idx: ShardIndex = serde_json::from_str(old).unwrap();
        assert!(idx.agent_templates.is_empty());
        assert_eq!(idx.main_agent_template(), None);
    }
}
