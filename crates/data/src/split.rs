//! Train / validation / test splits without leakage: records are grouped by near-duplicate
//! query (MinHash clusters, merged with union-find), and whole groups are assigned to splits,
//! never single records. A group holding an eval-only record goes to test as a whole, so
//! benchmark items and their near duplicates never reach training. The leakage check measures
//! the highest query similarity between two splits.

use std::collections::BTreeMap;

use agentune_schema::Split;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::{HashMapU64, hash_bytes, hash_str};
use crate::import::QUERY_GROUP_PREFIX;
use crate::minhash::{
    LshIndex, MinHashParams, MinHasher, cluster_banded, jaccard, parallel_map, shingles,
};
use crate::record::{Record, normalize};

/// Split fractions and the grouping similarity. Built from the `[split]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitSettings {
    /// Share of records for validation.
    pub validation: f64,
    /// Share of records for test.
    pub test: f64,
    /// Query similarity at or above which two records share a group.
    pub similarity: f64,
    /// LSH bands for grouping. More, shorter bands find more of the pairs near the
    /// similarity threshold, and cost more.
    pub bands: usize,
    /// Rows per band; `bands * rows` must not exceed `minhash.num_perm` (the first positions
    /// of the signature are banded; all of them are compared).
    pub rows: usize,
}

impl Default for SplitSettings {
    fn default() -> Self {
        Self {
            validation: 0.05,
            test: 0.05,
            similarity: 0.7,
            bands: 20,
            rows: 6,
        }
    }
}

impl SplitSettings {
    /// Checks the fractions.
    pub fn validate(&self) -> Result<()> {
        let ok = |v: f64| (0.0..1.0).contains(&v);
        if !ok(self.validation) || !ok(self.test) || self.validation + self.test >= 1.0 {
            return Err(Error::Config {
                path: None,
                message: format!(
                    "split.validation ({}) and split.test ({}) must be in [0, 1) and sum below 1",
                    self.validation, self.test
                ),
            });
        }
        if self.bands == 0 || self.rows == 0 {
            return Err(Error::Config {
                path: None,
                message: "split.bands and split.rows must be at least 1".into(),
            });
        }
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(Error::Config {
                path: None,
                message: format!(
                    "split.similarity must be in (0, 1], got {}",
                    self.similarity
                ),
            });
        }
        Ok(())
    }
}

/// The text a record is grouped by: its query (for a sample whose group names its query, that
/// query), normalised.
pub fn split_text(r: &Record) -> String {
    if let Record::Sample(s) = r
        && let Some(q) = s
            .group
            .as_deref()
            .and_then(|g| g.strip_prefix(QUERY_GROUP_PREFIX))
    {
        return normalize(q);
    }
    normalize(r.query())
}

/// Joins the near-duplicate clusters (`reps`: the representative of each record) of records
/// that name the same `group` (a sample's explicit group, such as every rendering of one
/// query), so a named group never straddles splits. Representatives stay the smallest member.
fn merge_named_groups(records: &[Record], reps: &[u32]) -> Vec<u32> {
    let mut uf = crate::minhash::UnionFind::new(records.len());
    let mut first: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for (i, r) in records.iter().enumerate() {
        uf.union(i as u32, reps[i]);
        if let Record::Sample(sample) = r
            && let Some(g) = sample.group.as_deref().filter(|g| !g.is_empty())
        {
            let j = *first.entry(g).or_insert(i as u32);
            uf.union(i as u32, j);
        }
    }
    let mut smallest: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
    let roots: Vec<u32> = (0..records.len() as u32).map(|i| uf.find(i)).collect();
    for (i, &r) in roots.iter().enumerate() {
        smallest.entry(r).or_insert(i as u32);
    }
    roots
        .iter()
        .map(|r| smallest.get(r).copied().unwrap_or(*r))
        .collect()
}

/// Per-split totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitReport {
    /// Records per split.
    pub records: BTreeMap<Split, usize>,
    /// Groups per split.
    pub groups: BTreeMap<Split, usize>,
    /// Groups in total.
    pub total_groups: usize,
    /// The largest group's size.
    pub largest_group: usize,
    /// Records forced into test because their group holds eval-only data.
    pub eval_only_groups_in_test: usize,
    /// The seed used.
    pub seed: u64,
}

/// The split and group of every record, in input order.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Split per record.
    pub splits: Vec<Split>,
    /// Group id per record (`g` + 16 hex digits).
    pub groups: Vec<String>,
    /// Totals.
    pub report: SplitReport,
}

/// Assigns records to splits by near-duplicate group.
pub fn assign(
    records: &[Record],
    s: &SplitSettings,
    minhash: &MinHashParams,
    seed: u64,
) -> Result<Assignment> {
    s.validate()?;
    let params = MinHashParams {
        threshold: s.similarity,
        ..*minhash
    };
    params.validate()?;
    if s.bands * s.rows > params.num_perm {
        return Err(Error::Config {
            path: None,
            message: format!(
                "split.bands x split.rows ({} x {}) exceeds minhash.num_perm ({})",
                s.bands, s.rows, params.num_perm
            ),
        });
    }
    let texts: Vec<String> = parallel_map(records, split_text);
    let hasher = MinHasher::new(params);
    let sigs = parallel_map(&texts, |t| hasher.signature(t));
    let reps = merge_named_groups(
        records,
        &cluster_banded(&sigs, s.bands, s.rows, s.similarity),
    );
    // Group members and properties.
    let mut members: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &r) in reps.iter().enumerate() {
        members.entry(r).or_default().push(i);
    }
    let group_id = |rep: u32| format!("g{:016x}", hash_str(&texts[rep as usize]));
    let n = records.len();
    let test_n = (n as f64 * s.test).round() as usize;
    let val_n = (n as f64 * s.validation).round() as usize;
    let mut splits = vec![Split::Train; n];
    let mut report = SplitReport {
        total_groups: members.len(),
        largest_group: members.values().map(Vec::len).max().unwrap_or(0),
        seed,
        ..SplitReport::default()
    };
    let mut counts: BTreeMap<Split, usize> = BTreeMap::new();
    let mut free: Vec<(u64, u32)> = Vec::new();
    for (&rep, ids) in &members {
        if ids.iter().any(|&i| records[i].eval_only()) {
            for &i in ids {
                splits[i] = Split::Test;
            }
            *counts.entry(Split::Test).or_default() += ids.len();
            *report.groups.entry(Split::Test).or_default() += 1;
            report.eval_only_groups_in_test += 1;
        } else {
            let key = hash_bytes(texts[rep as usize].as_bytes(), seed ^ 0xA5A5_5A5A);
            free.push((key, rep));
        }
    }
    // A seeded order of the groups; fill test, then validation, rest is train.
    free.sort_unstable();
    for (_, rep) in free {
        let ids = &members[&rep];
        let have = |c: &BTreeMap<Split, usize>, sp| c.get(&sp).copied().unwrap_or(0);
        let split = if have(&counts, Split::Test) < test_n {
            Split::Test
        } else if have(&counts, Split::Validation) < val_n {
            Split::Validation
        } else {
            Split::Train
        };
        for &i in ids {
            splits[i] = split;
        }
        *counts.entry(split).or_default() += ids.len();
        *report.groups.entry(split).or_default() += 1;
    }
    report.records = counts;
    let groups = reps.iter().map(|&r| group_id(r)).collect();
    Ok(Assignment {
        splits,
        groups,
        report,
    })
}

/// The most similar query pair across two record sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakageReport {
    /// Records in the training set.
    pub train: usize,
    /// Records in the held-out set.
    pub test: usize,
    /// The highest Jaccard similarity of character n-gram sets between a held-out query and a
    /// training query (0 when no pair shares a bucket).
    pub max_similarity: f64,
    /// The held-out and training ids of that pair.
    pub pair: Option<(String, String)>,
    /// Held-out records with a training query at or above the threshold.
    pub leaked: usize,
    /// The threshold.
    pub threshold: f64,
}

impl LeakageReport {
    /// Whether the highest similarity is above the threshold.
    pub fn failed(&self) -> bool {
        self.max_similarity > self.threshold
    }
}

/// Measures train/test query similarity. Candidates come from an LSH index with two rows per
/// band (it finds pairs down to a similarity of about 0.3 with high probability); each
/// candidate's exact Jaccard similarity is computed.
pub fn leakage(
    train: &[Record],
    test: &[Record],
    minhash: &MinHashParams,
    threshold: f64,
) -> Result<LeakageReport> {
    minhash.validate()?;
    let rows = 2usize;
    let params = MinHashParams {
        bands: minhash.num_perm / rows,
        num_perm: (minhash.num_perm / rows) * rows,
        ..*minhash
    };
    let hasher = MinHasher::new(params);
    let prep = |r: &Record| {
        let t = split_text(r);
        let mut sh = Vec::new();
        shingles(&t, params.ngram, &mut sh);
        let sig = hasher.signature_of_shingles(&sh);
        (sh, sig)
    };
    let tr = parallel_map(train, prep);
    let te = parallel_map(test, prep);
    let mut index = LshIndex::new(params.bands, rows);
    // Identical shingle sets share one index entry (common in templated data).
    let mut seen: HashMapU64<u32> = HashMapU64::default();
    let mut reps: Vec<usize> = Vec::new();
    for (i, (sh, sig)) in tr.iter().enumerate() {
        let key = sh.iter().fold(0u64, |h, &x| crate::hash::mix64(h ^ x));
        if let std::collections::hash_map::Entry::Vacant(e) = seen.entry(key) {
            e.insert(reps.len() as u32);
            index.insert(reps.len() as u32, sig);
            reps.push(i);
        }
    }
    let mut best = 0.0f64;
    let mut pair = None;
    let mut leaked = 0;
    let mut cands = Vec::new();
    for (j, (sh, sig)) in te.iter().enumerate() {
        index.candidates(sig, &mut cands);
        let mut local = 0.0f64;
        let mut local_i = None;
        for &c in &cands {
            let i = reps[c as usize];
            let sim = jaccard(sh, &tr[i].0);
            if sim > local {
                local = sim;
                local_i = Some(i);
            }
        }
        if local >= threshold && local_i.is_some() {
            leaked += 1;
        }
        if local > best {
            best = local;
            pair = local_i.map(|i| (test[j].id().to_owned(), train[i].id().to_owned()));
        }
    }
    Ok(LeakageReport {
        train: train.len(),
        test: test.len(),
        max_similarity: best,
        pair,
        leaked,
        threshold,
    })
}
