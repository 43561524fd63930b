//! Ratio-controlled mixing: positive : hard negative, simple : complex and agent : general are
//! knobs, enforced by sampling from the pool and reported as achieved against target. Within
//! each class the draw is balanced across (scenario, template) cells by water-filling: every
//! cell gets the same share until it runs out. Deterministic for a seed. Eval-only records
//! never enter a mix.

use std::collections::BTreeMap;

use agentune_schema::{Complexity, QueryKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::Record;
use crate::rng::Rng;

/// The ratio knobs and the mix size. Built from the `[mix]` section of the data config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MixSettings {
    /// Positive records per hard negative (4 means 4 : 1).
    pub positive_to_hard_negative: f64,
    /// Simple positive records per complex one.
    pub simple_to_complex: f64,
    /// Agent records (positive and hard negative) per general record.
    pub agent_to_general: f64,
    /// Records wanted; 0 means as many as the pool allows at the target ratios.
    pub size: usize,
    /// Balance each class across scenarios and templates (else draw uniformly).
    pub balance: bool,
}

impl Default for MixSettings {
    fn default() -> Self {
        Self {
            positive_to_hard_negative: 4.0,
            simple_to_complex: 6.0,
            agent_to_general: 5.0,
            size: 0,
            balance: true,
        }
    }
}

impl MixSettings {
    /// Checks the knobs.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            (
                "mix.positive_to_hard_negative",
                self.positive_to_hard_negative,
            ),
            ("mix.simple_to_complex", self.simple_to_complex),
            ("mix.agent_to_general", self.agent_to_general),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Config {
                    path: None,
                    message: format!("{name} must be a positive number, got {v}"),
                });
            }
        }
        Ok(())
    }
}

/// The four classes the ratios are defined over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Positive, simple.
    PositiveSimple,
    /// Positive, complex.
    PositiveComplex,
    /// Hard negative.
    HardNegative,
    /// General SFT data.
    General,
}

impl Class {
    /// The class of a record (labels inferred when absent).
    pub fn of(r: &Record) -> Self {
        let m = r.meta_or_inferred();
        match (m.kind, m.complexity) {
            (QueryKind::General, _) => Self::General,
            (QueryKind::HardNegative, _) => Self::HardNegative,
            (QueryKind::Positive, Complexity::Simple) => Self::PositiveSimple,
            (QueryKind::Positive, Complexity::Complex) => Self::PositiveComplex,
        }
    }

    const ALL: [Self; 4] = [
        Self::PositiveSimple,
        Self::PositiveComplex,
        Self::HardNegative,
        Self::General,
    ];
}

/// One ratio, target against achieved, also as the share of its minority side in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioReport {
    /// `positive : hard_negative`, ...
    pub name: String,
    /// The target ratio (majority per minority).
    pub target: f64,
    /// The achieved ratio (`null` when the minority side is empty).
    pub achieved: Option<f64>,
    /// Target share of the minority side, in percent.
    pub target_share_pct: f64,
    /// Achieved share of the minority side, in percent.
    pub achieved_share_pct: f64,
    /// Majority and minority counts.
    pub counts: (usize, usize),
}

impl RatioReport {
    fn new(name: &str, target: f64, major: usize, minor: usize) -> Self {
        let total = major + minor;
        Self {
            name: name.to_owned(),
            target,
            achieved: (minor > 0).then(|| major as f64 / minor as f64),
            target_share_pct: 100.0 / (1.0 + target),
            achieved_share_pct: if total == 0 {
                0.0
            } else {
                100.0 * minor as f64 / total as f64
            },
            counts: (major, minor),
        }
    }

    /// How far the achieved share is from the target, in percentage points.
    pub fn gap_points(&self) -> f64 {
        (self.achieved_share_pct - self.target_share_pct).abs()
    }
}

/// The three ratios of a set of records against the settings' targets. Simple : complex is
/// counted over positive records (hard negatives need no steps, so they are all simple).
pub fn ratios(records: &[Record], s: &MixSettings) -> Vec<RatioReport> {
    let mut n: BTreeMap<Class, usize> = BTreeMap::new();
    for r in records {
        *n.entry(Class::of(r)).or_default() += 1;
    }
    ratios_from_counts(&n, s)
}

fn ratios_from_counts(n: &BTreeMap<Class, usize>, s: &MixSettings) -> Vec<RatioReport> {
    let get = |c| n.get(&c).copied().unwrap_or(0);
    let pos = get(Class::PositiveSimple) + get(Class::PositiveComplex);
    let hn = get(Class::HardNegative);
    vec![
        RatioReport::new(
            "positive : hard_negative",
            s.positive_to_hard_negative,
            pos,
            hn,
        ),
        RatioReport::new(
            "simple : complex",
            s.simple_to_complex,
            get(Class::PositiveSimple),
            get(Class::PositiveComplex),
        ),
        RatioReport::new(
            "agent : general",
            s.agent_to_general,
            pos + hn,
            get(Class::General),
        ),
    ]
}

/// What a mix did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixReport {
    /// Records offered (agent pool and general pool together).
    pub input: usize,
    /// Eval-only records left out.
    pub eval_only_excluded: usize,
    /// Records selected.
    pub selected: usize,
    /// Per class: available and selected.
    pub classes: BTreeMap<Class, (usize, usize)>,
    /// The ratios achieved against their targets.
    pub ratios: Vec<RatioReport>,
    /// Selected records per scenario.
    pub by_scenario: BTreeMap<String, usize>,
    /// Selected records per template.
    pub by_template: BTreeMap<String, usize>,
    /// What could not be met and why.
    pub notes: Vec<String>,
    /// The seed used.
    pub seed: u64,
}

/// Draws a mix from `pool` at the settings' ratios. Returns the selected records (in a
/// seeded shuffled order) and the report.
pub fn mix(pool: Vec<Record>, s: &MixSettings, seed: u64) -> Result<(Vec<Record>, MixReport)> {
    s.validate()?;
    let input = pool.len();
    let mut eval_only = 0;
    let mut by_class: BTreeMap<Class, Vec<Record>> = BTreeMap::new();
    for r in pool {
        if r.eval_only() {
            eval_only += 1;
            continue;
        }
        by_class.entry(Class::of(&r)).or_default().push(r);
    }
    let avail = |c: Class| by_class.get(&c).map_or(0, Vec::len);
    let mut notes = Vec::new();
    // Target shares; a class with nothing available drops out, and the note says so.
    let mut g = 1.0 / (1.0 + s.agent_to_general);
    let mut h = 1.0 / (1.0 + s.positive_to_hard_negative);
    let mut c = 1.0 / (1.0 + s.simple_to_complex);
    if avail(Class::General) == 0 {
        g = 0.0;
        notes.push("no general records: agent : general cannot be met".into());
    }
    if avail(Class::HardNegative) == 0 {
        h = 0.0;
        notes.push("no hard negatives: positive : hard_negative cannot be met".into());
    }
    if avail(Class::PositiveComplex) == 0 {
        c = 0.0;
        notes.push("no complex positives: simple : complex cannot be met".into());
    }
    if avail(Class::PositiveSimple) == 0 {
        c = 1.0;
        notes.push("no simple positives: simple : complex cannot be met".into());
    }
    let share = |cl: Class| -> f64 {
        let agent = 1.0 - g;
        match cl {
            Class::General => g,
            Class::HardNegative => agent * h,
            Class::PositiveComplex => agent * (1.0 - h) * c,
            Class::PositiveSimple => agent * (1.0 - h) * (1.0 - c),
        }
    };
    let feasible = Class::ALL
        .iter()
        .filter(|&&cl| share(cl) > 0.0)
        .map(|&cl| (avail(cl) as f64 / share(cl)).floor() as usize)
        .min()
        .unwrap_or(0);
    let size = if s.size == 0 {
        feasible
    } else if s.size > feasible {
        notes.push(format!(
            "asked for {} records; the pool allows {feasible} at these ratios",
            s.size
        ));
        feasible
    } else {
        s.size
    };
    if size == 0 {
        return Err(Error::Invalid(
            "nothing to mix: the pool has no trainable records in the needed classes".into(),
        ));
    }
    // Counts per class: the agent total first, so the ratios round consistently.
    let general_n = (size as f64 * g).round() as usize;
    let agent_n = size - general_n;
    let hn_n = (agent_n as f64 * h).round() as usize;
    let pos_n = agent_n - hn_n;
    let complex_n = (pos_n as f64 * c).round() as usize;
    let mut want: BTreeMap<Class, usize> = BTreeMap::new();
    want.insert(Class::General, general_n.min(avail(Class::General)));
    want.insert(Class::HardNegative, hn_n.min(avail(Class::HardNegative)));
    want.insert(
        Class::PositiveComplex,
        complex_n.min(avail(Class::PositiveComplex)),
    );
    want.insert(
        Class::PositiveSimple,
        (pos_n - complex_n).min(avail(Class::PositiveSimple)),
    );
    let mut rng = Rng::new(seed);
    let mut selected = Vec::with_capacity(size);
    let mut classes = BTreeMap::new();
    for cl in Class::ALL {
        let records = by_class.remove(&cl).unwrap_or_default();
        let n = want.get(&cl).copied().unwrap_or(0);
        classes.insert(cl, (records.len(), n));
        selected.extend(draw(records, n, s.balance, &mut rng));
    }
    rng.shuffle(&mut selected);
    let mut by_scenario = BTreeMap::new();
    let mut by_template = BTreeMap::new();
    for r in &selected {
        *by_scenario
            .entry(r.meta_or_inferred().scenario)
            .or_insert(0) += 1;
        *by_template
            .entry(r.template_id().unwrap_or("-").to_owned())
            .or_insert(0) += 1;
    }
    let report = MixReport {
        input,
        eval_only_excluded: eval_only,
        selected: selected.len(),
        classes,
        ratios: ratios(&selected, s),
        by_scenario,
        by_template,
        notes,
        seed,
    };
    Ok((selected, report))
}

/// Draws `n` records, balanced across (scenario, template) cells when `balance` is set.
fn draw(records: Vec<Record>, n: usize, balance: bool, rng: &mut Rng) -> Vec<Record> {
    if n >= records.len() {
        return records;
    }
    if !balance {
        let mut idx: Vec<usize> = (0..records.len()).collect();
        rng.shuffle(&mut idx);
        idx.truncate(n);
        idx.sort_unstable();
        return take(records, &idx);
    }
    // Cells in a stable order (by key), members in input order.
    let mut cells: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        let key = (
            r.meta_or_inferred().scenario,
            r.template_id().unwrap_or("").to_owned(),
        );
        cells.entry(key).or_default().push(i);
    }
    let mut cells: Vec<Vec<usize>> = cells.into_values().collect();
    let quota = water_fill(&cells.iter().map(Vec::len).collect::<Vec<_>>(), n, rng);
    let mut chosen = Vec::with_capacity(n);
    for (cell, q) in cells.iter_mut().zip(quota) {
        rng.shuffle(cell);
        chosen.extend_from_slice(&cell[..q]);
    }
    chosen.sort_unstable();
    take(records, &chosen)
}

fn take(records: Vec<Record>, sorted_idx: &[usize]) -> Vec<Record> {
    let mut out = Vec::with_capacity(sorted_idx.len());
    let mut k = 0;
    for (i, r) in records.into_iter().enumerate() {
        if k < sorted_idx.len() && sorted_idx[k] == i {
            out.push(r);
            k += 1;
        }
    }
    out
}

/// Splits `n` over cells of the given capacities as evenly as they allow: every cell gets
/// `min(capacity, level)`, and the remainder goes one each to randomly chosen cells that still
/// have room.
pub fn water_fill(caps: &[usize], n: usize, rng: &mut Rng) -> Vec<usize> {
    let total: usize = caps.iter().sum();
    if n >= total {
        return caps.to_vec();
    }
    // Largest level with sum(min(cap, level)) <= n.
    let (mut lo, mut hi) = (0usize, caps.iter().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let used: usize = caps.iter().map(|&c| c.min(mid)).sum();
        if used <= n {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let mut quota: Vec<usize> = caps.iter().map(|&c| c.min(lo)).collect();
    let mut left = n - quota.iter().sum::<usize>();
    let mut open: Vec<usize> = (0..caps.len()).filter(|&i| caps[i] > lo).collect();
    rng.shuffle(&mut open);
    for i in open {
        if left == 0 {
            break;
        }
        quota[i] += 1;
        left -= 1;
    }
    quota
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_fill_is_even_and_respects_capacity() {
        let mut rng = Rng::new(1);
        assert_eq!(water_fill(&[10, 10, 10], 9, &mut rng), vec![3, 3, 3]);
        assert_eq!(water_fill(&[1, 10, 10], 9, &mut rng), vec![1, 4, 4]);
        let q = water_fill(&[5, 5, 5], 10, &mut rng);
        assert_eq!(q.iter().sum::<usize>(), 10);
        assert!(q.iter().all(|&x| x == 3 || x == 4));
        assert_eq!(water_fill(&[2, 3], 100, &mut rng), vec![2, 3]);
    }
}
