//! Cleaning: per-record rules (pluggable through [`Rule`]), exact duplicates, conflicts and
//! near duplicates, with every loss counted by reason in a [`CleanReport`].
//!
//! Order: rules (fix or drop each record) -> exact duplicates (hash of the normalised input and
//! output) -> conflicts (same normalised input, different outputs, resolved by
//! [`ConflictPolicy`]) -> near duplicates (MinHash + LSH over character n-grams). The first of
//! several duplicates, in input order, is kept.

pub mod pii;
mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::hash::{HashMapU64, hash_str};
use crate::minhash::{
    LshIndex, MinHashParams, MinHasher, min_hits, parallel_map, similar, similarity,
};
use crate::record::{Record, normalize};

pub use rules::{EmptyAnswerRule, OverLengthRule, PiiRule, StructureRule, UnknownToolRule};

/// Measures the length of a text, for the over-length rule and length statistics. Characters
/// by default; a tokenizer-backed measure plugs in here.
pub trait LengthMeasure: Send + Sync + std::fmt::Debug {
    /// The unit, for reports (`chars`, `tokens`).
    fn unit(&self) -> &str;
    /// The length of `text` in that unit.
    fn measure(&self, text: &str) -> usize;
}

/// Length in Unicode scalar values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chars;

impl LengthMeasure for Chars {
    fn unit(&self) -> &str {
        "chars"
    }

    fn measure(&self, text: &str) -> usize {
        text.chars().count()
    }
}

/// What a rule decided about one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing to do.
    Keep,
    /// The rule changed the record; the list says what, with counts (e.g. `("email", 2)`).
    Fixed(Vec<(String, usize)>),
    /// The record must go; the text says why (shown in reports).
    Drop(String),
}

/// A per-record cleaning rule: it may leave a record alone, fix it in place, or drop it. The
/// built-in rules check unknown tools, empty answers, over-length records and trajectory
/// structure, and anonymise PII; a strict-format rule (every assistant turn parsed by the
/// runtime's strict parser, every call checked against its tool's JSON Schema) plugs in the
/// same way.
pub trait Rule: Send + Sync + std::fmt::Debug {
    /// The rule's name: the loss reason in reports.
    fn name(&self) -> &str;
    /// Applies the rule to one record.
    fn apply(&self, record: &mut Record) -> Verdict;
}

/// How conflicting records (same normalised input, different outputs) are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Keep the execution-verified record when exactly one output among the conflicting ones
    /// is verified (`Check { check: "execution", passed: true }`); otherwise drop them all.
    #[default]
    KeepVerified,
    /// Drop every record of a conflict.
    DropAll,
}

/// What cleaning does. Built from the `[clean]` section of the data config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanSettings {
    /// Remove exact duplicates.
    pub exact_dedup: bool,
    /// Remove near duplicates (MinHash + LSH, `[minhash]` parameters).
    pub near_dedup: bool,
    /// Detect conflicts and resolve them by this policy.
    pub conflict_policy: ConflictPolicy,
    /// Drop records calling tools that are not among their tools.
    pub unknown_tools: bool,
    /// Drop records with an empty or missing final answer.
    pub empty_answers: bool,
    /// Drop trajectories that break the schema's invariants (calls without observations, a
    /// final answer before the last step, an outcome that does not match).
    pub structure: bool,
    /// Drop records longer than this (in the length measure's unit); 0 means no limit.
    pub max_length: usize,
    /// Anonymise PII.
    pub pii: bool,
}

impl Default for CleanSettings {
    fn default() -> Self {
        Self {
            exact_dedup: true,
            near_dedup: true,
            conflict_policy: ConflictPolicy::KeepVerified,
            unknown_tools: true,
            empty_answers: true,
            structure: true,
            max_length: 32_000,
            pii: true,
        }
    }
}

/// A dropped record and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    /// The record id.
    pub id: String,
    /// The loss reason (a rule name, `exact_duplicate`, `conflict`, `near_duplicate`).
    pub reason: String,
    /// Details: the rule's message, or how the record relates to the one kept.
    pub detail: String,
    /// The record kept instead (duplicates, and conflicts resolved by verification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// What cleaning did, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CleanReport {
    /// Records read.
    pub input: usize,
    /// Records kept.
    pub kept: usize,
    /// Records dropped, by reason.
    pub dropped_by_reason: BTreeMap<String, usize>,
    /// Fixes made, by rule and what (`pii.email`, ...).
    pub fixed: BTreeMap<String, usize>,
    /// Groups of conflicting records found.
    pub conflict_groups: usize,
    /// Conflict groups resolved by keeping the execution-verified record.
    pub conflicts_resolved_by_verification: usize,
    /// Up to five examples per reason.
    pub examples: BTreeMap<String, Vec<Dropped>>,
    /// The unit lengths were measured in.
    pub length_unit: String,
}

impl CleanReport {
    /// Records dropped in total.
    pub fn dropped(&self) -> usize {
        self.dropped_by_reason.values().sum()
    }

    fn drop(&mut self, d: Dropped) {
        *self.dropped_by_reason.entry(d.reason.clone()).or_default() += 1;
        let ex = self.examples.entry(d.reason.clone()).or_default();
        if ex.len() < 5 {
            ex.push(d);
        }
    }
}

/// The result of cleaning.
#[derive(Debug)]
pub struct CleanOutput {
    /// The records kept, in input order.
    pub kept: Vec<Record>,
    /// Every dropped record's id and reason.
    pub dropped: Vec<Dropped>,
    /// Totals.
    pub report: CleanReport,
}

/// Runs the rules and the deduplication stages over a data set.
#[derive(Debug)]
pub struct Cleaner {
    settings: CleanSettings,
    minhash: MinHashParams,
    rules: Vec<Box<dyn Rule>>,
    measure: Arc<dyn LengthMeasure>,
}

impl Cleaner {
    /// A cleaner with the built-in rules the settings enable, measuring length in characters.
    pub fn new(settings: CleanSettings, minhash: MinHashParams) -> Self {
        Self::with_length_measure(settings, minhash, Arc::new(Chars))
    }

    /// A cleaner measuring length with `measure` (e.g. a tokenizer).
    pub fn with_length_measure(
        settings: CleanSettings,
        minhash: MinHashParams,
        measure: Arc<dyn LengthMeasure>,
    ) -> Self {
        let mut rules: Vec<Box<dyn Rule>> = Vec::new();
        if settings.pii {
            rules.push(Box::new(PiiRule::new()));
        }
        if settings.unknown_tools {
            rules.push(Box::new(UnknownToolRule));
        }
        if settings.structure {
            rules.push(Box::new(StructureRule));
        }
        if settings.empty_answers {
            rules.push(Box::new(EmptyAnswerRule));
        }
        if settings.max_length > 0 {
            rules.push(Box::new(OverLengthRule::new(
                settings.max_length,
                Arc::clone(&measure),
            )));
        }
        Self {
            settings,
            minhash,
            rules,
            measure,
        }
    }

    /// Adds a rule, run after the built-in ones.
    pub fn push_rule(&mut self, rule: Box<dyn Rule>) {
        self.rules.push(rule);
    }

    /// The rules, in the order they run.
    pub fn rule_names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name()).collect()
    }

    /// Cleans `records`.
    pub fn clean(&self, mut records: Vec<Record>) -> CleanOutput {
        let mut report = CleanReport {
            input: records.len(),
            length_unit: self.measure.unit().to_owned(),
            ..CleanReport::default()
        };
        let mut dropped = Vec::new();
        // 1. Rules, in parallel over chunks of records.
        let verdicts = self.apply_rules(&mut records);
        let mut alive: Vec<(Record, bool)> = Vec::with_capacity(records.len());
        for (rec, (drop, fixes)) in records.into_iter().zip(verdicts) {
            for (what, n) in fixes {
                *report.fixed.entry(what).or_default() += n;
            }
            match drop {
                Some((reason, detail)) => {
                    let d = Dropped {
                        id: rec.id().to_owned(),
                        reason,
                        detail,
                        kept: None,
                    };
                    report.drop(d.clone());
                    dropped.push(d);
                }
                None => alive.push((rec, true)),
            }
        }
        // Normalised texts, computed once.
        let texts: Vec<(String, String)> = parallel_map(&alive, |(r, _)| {
            (normalize(&r.input_text()), normalize(&r.output_text()))
        });
        let kill = |report: &mut CleanReport,
                    dropped: &mut Vec<Dropped>,
                    alive: &mut Vec<(Record, bool)>,
                    i: usize,
                    reason: &str,
                    detail: String,
                    kept: Option<usize>| {
            alive[i].1 = false;
            let d = Dropped {
                id: alive[i].0.id().to_owned(),
                reason: reason.to_owned(),
                detail,
                kept: kept.map(|k| alive[k].0.id().to_owned()),
            };
            report.drop(d.clone());
            dropped.push(d);
        };
        // 2. Exact duplicates.
        if self.settings.exact_dedup {
            let mut first: HashMapU64<usize> = HashMapU64::default();
            for i in 0..alive.len() {
                let key = hash_str(&texts[i].0) ^ hash_str(&texts[i].1).rotate_left(17);
                match first.get(&key) {
                    Some(&j) if texts[j] == texts[i] => {
                        let detail = format!("same as {}", alive[j].0.id());
                        kill(
                            &mut report,
                            &mut dropped,
                            &mut alive,
                            i,
                            "exact_duplicate",
                            detail,
                            Some(j),
                        );
                    }
                    Some(_) => {}
                    None => {
                        first.insert(key, i);
                    }
                }
            }
        }
        // 3. Conflicts: same input, different outputs.
        let mut groups: HashMapU64<Vec<usize>> = HashMapU64::default();
        for (i, (_, live)) in alive.iter().enumerate() {
            if *live {
                groups.entry(hash_str(&texts[i].0)).or_default().push(i);
            }
        }
        let mut conflict_sets: Vec<Vec<usize>> = groups
            .into_values()
            .filter(|g| g.len() > 1 && g.iter().any(|&i| texts[i].1 != texts[g[0]].1))
            .collect();
        conflict_sets.sort_unstable();
        for group in conflict_sets {
            report.conflict_groups += 1;
            let verified: Vec<usize> = group
                .iter()
                .copied()
                .filter(|&i| alive[i].0.execution_verified())
                .collect();
            let one_output = verified.iter().all(|&i| texts[i].1 == texts[verified[0]].1);
            let keep = match self.settings.conflict_policy {
                ConflictPolicy::KeepVerified if !verified.is_empty() && one_output => {
                    report.conflicts_resolved_by_verification += 1;
                    Some(verified[0])
                }
                _ => None,
            };
            for &i in &group {
                if Some(i) == keep {
                    continue;
                }
                let detail = match keep {
                    Some(k) => format!("conflicts with verified {}", alive[k].0.id()),
                    None => format!(
                        "{} records share this input with different outputs and {} verified",
                        group.len(),
                        if verified.is_empty() {
                            "none is"
                        } else {
                            "several are"
                        }
                    ),
                };
                kill(
                    &mut report,
                    &mut dropped,
                    &mut alive,
                    i,
                    "conflict",
                    detail,
                    keep,
                );
            }
        }
        // 4. Near duplicates.
        if self.settings.near_dedup {
            let hasher = MinHasher::new(self.minhash);
            let live: Vec<usize> = (0..alive.len()).filter(|&i| alive[i].1).collect();
            let sigs = parallel_map(&live, |&i| {
                let mut t = String::with_capacity(texts[i].0.len() + texts[i].1.len() + 1);
                t.push_str(&texts[i].0);
                t.push(' ');
                t.push_str(&texts[i].1);
                hasher.signature(&t)
            });
            let mut index = LshIndex::new(self.minhash.bands, self.minhash.rows());
            let mut cands = Vec::new();
            let hits = min_hits(self.minhash.bands);
            for (k, sig) in sigs.iter().enumerate() {
                index.candidates_min_hits(sig, hits, &mut cands);
                let hit = cands
                    .iter()
                    .find(|&&c| similar(sig, &sigs[c as usize], self.minhash.threshold));
                match hit {
                    Some(&c) => {
                        let detail = format!(
                            "similar ({:.2}) to {}",
                            similarity(sig, &sigs[c as usize]),
                            alive[live[c as usize]].0.id()
                        );
                        kill(
                            &mut report,
                            &mut dropped,
                            &mut alive,
                            live[k],
                            "near_duplicate",
                            detail,
                            Some(live[c as usize]),
                        );
                    }
                    None => index.insert(k as u32, sig),
                }
            }
        }
        let kept: Vec<Record> = alive
            .into_iter()
            .filter_map(|(r, live)| live.then_some(r))
            .collect();
        report.kept = kept.len();
        CleanOutput {
            kept,
            dropped,
            report,
        }
    }

    /// Runs every rule on every record; per record, the first drop (reason, detail) and the
    /// fixes made.
    #[allow(clippy::type_complexity)]
    fn apply_rules(
        &self,
        records: &mut [Record],
    ) -> Vec<(Option<(String, String)>, Vec<(String, usize)>)> {
        let run = |rec: &mut Record| {
            let mut fixes = Vec::new();
            for rule in &self.rules {
                match rule.apply(rec) {
                    Verdict::Keep => {}
                    Verdict::Fixed(what) => {
                        for (w, n) in what {
                            fixes.push((format!("{}.{w}", rule.name()), n));
                        }
                    }
                    Verdict::Drop(detail) => {
                        return (Some((rule.name().to_owned(), detail)), fixes);
                    }
                }
            }
            (None, fixes)
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads <= 1 || records.len() < 256 {
            return records.iter_mut().map(run).collect();
        }
        let chunk = records.len().div_ceil(threads);
        let total = records.len();
        let run = &run;
        std::thread::scope(|scope| {
            let handles: Vec<_> = records
                .chunks_mut(chunk)
                .map(|part| scope.spawn(move || part.iter_mut().map(run).collect::<Vec<_>>()))
                .collect();
            let mut out = Vec::with_capacity(total);
            for h in handles {
                match h.join() {
                    Ok(part) => out.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    }
}
