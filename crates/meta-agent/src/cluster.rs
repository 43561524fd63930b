//! Query sets: seed queries grouped by similarity, so that a teacher can write a template
//! fitted to one kind of query. Queries become character n-gram TF-IDF vectors (n-grams need
//! no word boundaries, so Chinese works as well as English), grouped by seeded spherical
//! k-means; sets over the size limit are split again, sets under the minimum are merged into
//! their nearest neighbour when it has room.

use std::collections::HashMap;

use agentune_data::detect_language;
use agentune_data::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::query::SeedQuery;

/// How queries are grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// Wished size of a set; the number of sets is `queries / set_size` unless `sets` is given.
    pub set_size: usize,
    /// Number of sets (before splitting and merging); 0: from `set_size`.
    pub sets: usize,
    /// Largest set: bigger ones are split again.
    pub max_size: usize,
    /// Smallest set: smaller ones are merged into the nearest set that has room.
    pub min_size: usize,
    /// Shortest character n-gram.
    pub ngram_min: usize,
    /// Longest character n-gram.
    pub ngram_max: usize,
    /// Most k-means rounds.
    pub iterations: usize,
    /// Seed of the initial centres.
    pub seed: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            set_size: 8,
            sets: 0,
            max_size: 16,
            min_size: 2,
            ngram_min: 2,
            ngram_max: 3,
            iterations: 30,
            seed: 1,
        }
    }
}

impl ClusterSettings {
    /// Checks the settings, naming the one at fault.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Invalid(format!("query clustering: {m}")));
        if self.set_size == 0 {
            return bad("set_size must be at least 1");
        }
        if self.max_size < self.set_size {
            return bad("max_size must be at least set_size");
        }
        if self.min_size > self.set_size {
            return bad("min_size must be at most set_size");
        }
        if self.ngram_min == 0 || self.ngram_max < self.ngram_min || self.ngram_max > 8 {
            return bad("n-gram lengths must satisfy 1 <= ngram_min <= ngram_max <= 8");
        }
        Ok(())
    }
}

/// A group of similar queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuerySet {
    /// `set-000`, `set-001`, ... in order of the sets' first query.
    pub id: String,
    /// Majority language of the queries (`en`, `zh`).
    pub language: String,
    /// The heaviest n-grams of the set's centre: what the set is about, at a glance.
    pub keywords: Vec<String>,
    /// Mean cosine similarity of the queries to their centre (1: all alike).
    pub cohesion: f64,
    /// The queries, in file order.
    pub queries: Vec<SeedQuery>,
}

/// A sparse unit vector: (feature, weight), sorted by feature.
type Sparse = Vec<(u32, f32)>;

/// TF-IDF vectors of texts over character n-grams.
#[derive(Debug)]
struct Vectors {
    rows: Vec<Sparse>,
    vocab: Vec<String>,
}

fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut space = false;
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_whitespace() || (ch.is_ascii_punctuation() && ch != '+' && ch != '-') {
            space = true;
            continue;
        }
        if space && !out.ends_with(' ') {
            out.push(' ');
        }
        space = false;
        out.push(ch);
    }
    out.push(' ');
    out
}

fn vectorise(texts: &[&str], s: &ClusterSettings) -> Vectors {
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut vocab: Vec<String> = Vec::new();
    let mut counts: Vec<HashMap<u32, f32>> = Vec::with_capacity(texts.len());
    for t in texts {
        let chars: Vec<char> = normalise(t).chars().collect();
        let mut c: HashMap<u32, f32> = HashMap::new();
        for n in s.ngram_min..=s.ngram_max {
            if chars.len() < n {
                continue;
            }
            for w in chars.windows(n) {
                if w.iter().all(|c| *c == ' ') {
                    continue;
                }
                let g: String = w.iter().collect();
                let id = *index.entry(g.clone()).or_insert_with(|| {
                    vocab.push(g);
                    (vocab.len() - 1) as u32
                });
                *c.entry(id).or_insert(0.0) += 1.0;
            }
        }
        counts.push(c);
    }
    let mut df = vec![0u32; vocab.len()];
    for c in &counts {
        for k in c.keys() {
            df[*k as usize] += 1;
        }
    }
    let n = texts.len() as f32;
    let rows = counts
        .into_iter()
        .map(|c| {
            let mut row: Sparse = c
                .into_iter()
                .map(|(k, tf)| {
                    let idf = ((1.0 + n) / (1.0 + df[k as usize] as f32)).ln() + 1.0;
                    (k, (1.0 + tf.ln()) * idf)
                })
                .collect();
            row.sort_unstable_by_key(|(k, _)| *k);
            let norm = row.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                for (_, w) in &mut row {
                    *w /= norm;
                }
            }
            row
        })
        .collect();
    Vectors { rows, vocab }
}

fn dense_dot(centre: &[f32], row: &[(u32, f32)]) -> f32 {
    row.iter().map(|(k, w)| centre[*k as usize] * w).sum()
}

/// The unit-length mean of some rows (dense).
fn centre(rows: &[Sparse], members: &[usize], dim: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; dim];
    for &m in members {
        for (k, w) in &rows[m] {
            c[*k as usize] += w;
        }
    }
    let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut c {
            *x /= norm;
        }
    }
    c
}

/// k-means++ seedings tried; the grouping with the highest total similarity to its centres
/// wins (one seeding can land in a poor local optimum).
const RESTARTS: usize = 8;

/// Spherical k-means over `members` (indices into `rows`), k-means++ seeding, best of
/// [`RESTARTS`] runs. Returns the groups (non-empty), each sorted.
fn kmeans(
    rows: &[Sparse],
    members: &[usize],
    k: usize,
    dim: usize,
    iterations: usize,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let k = k.clamp(1, members.len().max(1));
    if k == 1 || members.len() <= 1 {
        return vec![members.to_vec()];
    }
    let mut best: Option<(f32, Vec<Vec<usize>>)> = None;
    for _ in 0..RESTARTS {
        let groups = kmeans_once(rows, members, k, dim, iterations, rng);
        let score: f32 = groups
            .iter()
            .map(|g| {
                let c = centre(rows, g, dim);
                g.iter().map(|&m| dense_dot(&c, &rows[m])).sum::<f32>()
            })
            .sum();
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, groups));
        }
    }
    best.map(|(_, g)| g)
        .unwrap_or_else(|| vec![members.to_vec()])
}

/// One run of spherical k-means from one k-means++ seeding.
fn kmeans_once(
    rows: &[Sparse],
    members: &[usize],
    k: usize,
    dim: usize,
    iterations: usize,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    // k-means++: the first centre at random, then far points more likely.
    let mut centres: Vec<Vec<f32>> = vec![centre(rows, &[members[rng.below(members.len())]], dim)];
    let mut best = vec![f32::NEG_INFINITY; members.len()];
    while centres.len() < k {
        let last = centres.last().map(Vec::as_slice).unwrap_or(&[]);
        for (b, &m) in best.iter_mut().zip(members) {
            *b = b.max(dense_dot(last, &rows[m]));
        }
        let dist: Vec<f64> = best.iter().map(|b| f64::from((1.0 - b).max(0.0))).collect();
        let total: f64 = dist.iter().sum();
        let pick = if total <= 0.0 {
            rng.below(members.len())
        } else {
            let mut x = rng.unit() * total;
            let mut pick = members.len() - 1;
            for (i, d) in dist.iter().enumerate() {
                x -= d;
                if x < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        centres.push(centre(rows, &[members[pick]], dim));
    }
    let mut assign = vec![usize::MAX; members.len()];
    for _ in 0..iterations.max(1) {
        let mut changed = false;
        for (a, &m) in assign.iter_mut().zip(members) {
            let mut top = (0usize, f32::NEG_INFINITY);
            for (c, cv) in centres.iter().enumerate() {
                let s = dense_dot(cv, &rows[m]);
                if s > top.1 {
                    top = (c, s);
                }
            }
            if *a != top.0 {
                *a = top.0;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        for (c, cv) in centres.iter_mut().enumerate() {
            let group: Vec<usize> = members
                .iter()
                .zip(&assign)
                .filter(|(_, a)| **a == c)
                .map(|(m, _)| *m)
                .collect();
            if !group.is_empty() {
                *cv = centre(rows, &group, dim);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); centres.len()];
    for (&m, &a) in members.iter().zip(&assign) {
        groups[a].push(m);
    }
    groups.retain(|g| !g.is_empty());
    // Degenerate data (identical texts) can leave one group: split it evenly instead.
    if groups.len() == 1 && k > 1 {
        let size = members.len().div_ceil(k);
        return members.chunks(size).map(<[usize]>::to_vec).collect();
    }
    groups
}

/// Groups `queries` into sets of similar queries (see the module docs).
pub fn cluster_queries(queries: &[SeedQuery], s: &ClusterSettings) -> Result<Vec<QuerySet>> {
    s.validate()?;
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let texts: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
    let v = vectorise(&texts, s);
    let dim = v.vocab.len();
    Ok(group(queries, s, &v.rows, dim, &v))
}

/// As [`cluster_queries`], but the queries are grouped by the given embeddings (one vector
/// per query, all of one length, e.g. from an [`crate::EmbeddingClient`]) under cosine
/// similarity; keywords still come from the character n-grams.
pub fn cluster_embedded(
    queries: &[SeedQuery],
    embeddings: &[Vec<f32>],
    s: &ClusterSettings,
) -> Result<Vec<QuerySet>> {
    s.validate()?;
    if embeddings.len() != queries.len() {
        return Err(Error::Invalid(format!(
            "{} embeddings for {} queries",
            embeddings.len(),
            queries.len()
        )));
    }
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let dim = embeddings[0].len();
    if let Some(i) = embeddings
        .iter()
        .position(|e| e.len() != dim || e.iter().any(|x| !x.is_finite()))
    {
        return Err(Error::Invalid(format!(
            "the embedding of query {} ({}) has {} numbers or a non-finite one; the first has {dim}",
            i + 1,
            queries[i].id,
            embeddings[i].len()
        )));
    }
    let rows: Vec<Sparse> = embeddings
        .iter()
        .map(|e| {
            let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt();
            let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            e.iter()
                .enumerate()
                .map(|(k, x)| (k as u32, x * scale))
                .collect()
        })
        .collect();
    let texts: Vec<&str> = queries.iter().map(|q| q.query.as_str()).collect();
    let v = vectorise(&texts, s);
    Ok(group(queries, s, &rows, dim, &v))
}

/// Groups by `rows` (unit vectors of `dim` features); keywords from the n-gram vectors `v`.
fn group(
    queries: &[SeedQuery],
    s: &ClusterSettings,
    rows: &[Sparse],
    dim: usize,
    v: &Vectors,
) -> Vec<QuerySet> {
    let mut rng = Rng::new(s.seed);
    let all: Vec<usize> = (0..queries.len()).collect();
    let k = if s.sets > 0 {
        s.sets
    } else {
        queries.len().div_ceil(s.set_size)
    };
    let mut groups = kmeans(rows, &all, k, dim, s.iterations, &mut rng);
    // Split what is too big.
    let mut done = Vec::new();
    while let Some(g) = groups.pop() {
        if g.len() <= s.max_size {
            done.push(g);
            continue;
        }
        let parts = g.len().div_ceil(s.set_size).max(2);
        groups.extend(kmeans(rows, &g, parts, dim, s.iterations, &mut rng));
    }
    // Merge what is too small into the nearest set with room, smallest first.
    done.sort_by_key(|g| (g.len(), g.first().copied()));
    let mut i = 0;
    while i < done.len() {
        if done[i].len() >= s.min_size || done.len() == 1 {
            i += 1;
            continue;
        }
        let c = centre(rows, &done[i], dim);
        let mut target: Option<(usize, f32)> = None;
        for (j, other) in done.iter().enumerate() {
            if j == i || other.len() + done[i].len() > s.max_size {
                continue;
            }
            let sim =
                other.iter().map(|&m| dense_dot(&c, &rows[m])).sum::<f32>() / other.len() as f32;
            if target.is_none_or(|(_, best)| sim > best) {
                target = Some((j, sim));
            }
        }
        match target {
            Some((j, _)) => {
                let moved = done.remove(i);
                let j = if j > i { j - 1 } else { j };
                done[j].extend(moved);
                done[j].sort_unstable();
                i = 0;
                done.sort_by_key(|g| (g.len(), g.first().copied()));
            }
            None => i += 1,
        }
    }
    for g in &mut done {
        g.sort_unstable();
    }
    done.sort_by_key(|g| g.first().copied());
    done.into_iter()
        .enumerate()
        .map(|(n, g)| {
            let c = centre(rows, &g, dim);
            let cohesion = g
                .iter()
                .map(|&m| f64::from(dense_dot(&c, &rows[m])))
                .sum::<f64>()
                / g.len() as f64;
            let mut weights: Vec<(usize, f32)> = centre(&v.rows, &g, v.vocab.len())
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, w)| *w > 0.0)
                .collect();
            weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut keywords: Vec<String> = Vec::new();
            for (k, _) in weights {
                let kw = v.vocab[k].trim().to_owned();
                if kw.chars().count() < 2
                    || keywords
                        .iter()
                        .any(|o| o.contains(&kw) || kw.contains(o.as_str()))
                {
                    continue;
                }
                keywords.push(kw);
                if keywords.len() == 5 {
                    break;
                }
            }
            let zh = g
                .iter()
                .filter(|&&m| detect_language(&queries[m].query) == "zh")
                .count();
            QuerySet {
                id: format!("set-{n:03}"),
                language: if zh * 2 > g.len() { "zh" } else { "en" }.into(),
                keywords,
                cohesion,
                queries: g.iter().map(|&m| queries[m].clone()).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(texts: &[&str]) -> Vec<SeedQuery> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| SeedQuery {
                id: format!("q{i}"),
                query: (*t).to_owned(),
                answer: None,
            })
            .collect()
    }

    const WEATHER: &[&str] = &[
        "What is the weather in Paris tomorrow?",
        "Will it rain in Berlin this weekend?",
        "weather forecast for Tokyo on Friday",
        "Is it going to rain in London tomorrow?",
        "What's the weather like in Rome today?",
    ];
    const MATH: &[&str] = &[
        "Compute 17 * 23 + 4",
        "what is 2^10 - 7 * 3",
        "calculate (45 + 12) / 3",
        "Compute the square root of 144 plus 9",
        "calculate 3.5 * 12 - 8",
    ];
    const ZH: &[&str] = &[
        "北京明天会下雨吗？",
        "上海今天天气怎么样？",
        "广州这周末会下雨吗？",
        "深圳明天的天气预报",
        "杭州今天会下雨吗？",
    ];

    fn group_of(sets: &[QuerySet], text: &str) -> usize {
        sets.iter()
            .position(|s| s.queries.iter().any(|q| q.query == text))
            .unwrap()
    }

    #[test]
    fn embeddings_decide_the_sets_when_given() {
        // Lexically, the pairs share words across topics; the vectors say otherwise.
        let texts = [
            "will it rain in Paris tomorrow",
            "is 17 a prime number in Paris",
            "do I need an umbrella tomorrow",
            "is 91 a prime number",
        ];
        let queries = q(&texts);
        let vectors = vec![
            vec![1.0, 0.1, 0.0],
            vec![0.0, 1.0, 0.2],
            vec![0.9, 0.0, 0.1],
            vec![0.1, 0.8, 0.0],
        ];
        let s = ClusterSettings {
            set_size: 2,
            max_size: 2,
            min_size: 1,
            ..Default::default()
        };
        let sets = cluster_embedded(&queries, &vectors, &s).unwrap();
        let ids: Vec<Vec<&str>> = sets
            .iter()
            .map(|s| s.queries.iter().map(|q| q.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [["q0", "q2"], ["q1", "q3"]]);
        assert!(sets.iter().all(|s| s.cohesion > 0.9), "{sets:?}");
        assert!(!sets[0].keywords.is_empty());
        let e = cluster_embedded(&queries, &vectors[..3], &s).unwrap_err();
        assert!(e.to_string().contains("3 embeddings for 4 queries"), "{e}");
        let mut ragged = vectors.clone();
        ragged[2].push(1.0);
        let e = cluster_embedded(&queries, &ragged, &s).unwrap_err();
        assert!(e.to_string().contains("query 3 (q2)"), "{e}");
    }

    #[test]
    fn english_and_chinese_topics_fall_into_their_own_sets() {
        let mut texts: Vec<&str> = Vec::new();
        for i in 0..5 {
            texts.extend([WEATHER[i], MATH[i], ZH[i]]);
        }
        let queries = q(&texts);
        let s = ClusterSettings {
            set_size: 5,
            max_size: 6,
            min_size: 2,
            ..Default::default()
        };
        let sets = cluster_queries(&queries, &s).unwrap();
        assert_eq!(sets.iter().map(|s| s.queries.len()).sum::<usize>(), 15);
        for topic in [WEATHER, MATH, ZH] {
            let g = group_of(&sets, topic[0]);
            for t in topic {
                assert_eq!(
                    group_of(&sets, t),
                    g,
                    "{t} is apart from {}: {sets:#?}",
                    topic[0]
                );
            }
        }
        let zh = &sets[group_of(&sets, ZH[0])];
        assert_eq!(zh.language, "zh");
        assert!(
            zh.keywords
                .iter()
                .any(|k| k.contains("下雨") || k.contains("天")),
            "{:?}",
            zh.keywords
        );
        assert!(
            sets.iter()
                .all(|s| s.cohesion > 0.0 && s.cohesion <= 1.0 + 1e-6)
        );
        // Same seed, same sets.
        assert_eq!(cluster_queries(&queries, &s).unwrap(), sets);
    }

    #[test]
    fn sizes_are_bounded_and_sets_count_is_honoured() {
        let texts: Vec<String> = (0..40)
            .map(|i| format!("weather in city number {i} on day {}", i % 7))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let queries = q(&refs);
        let s = ClusterSettings {
            set_size: 6,
            max_size: 8,
            min_size: 3,
            ..Default::default()
        };
        let sets = cluster_queries(&queries, &s).unwrap();
        assert!(
            sets.iter().all(|s| s.queries.len() <= 8),
            "{:?}",
            sets.iter().map(|s| s.queries.len()).collect::<Vec<_>>()
        );
        assert_eq!(sets.iter().map(|s| s.queries.len()).sum::<usize>(), 40);
        assert!(sets.len() >= 5);
        let ids: Vec<&str> = sets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids[0], "set-000");
        let two = ClusterSettings {
            sets: 2,
            set_size: 20,
            max_size: 40,
            min_size: 1,
            ..Default::default()
        };
        assert_eq!(cluster_queries(&queries, &two).unwrap().len(), 2);
        // Identical queries still split to the size limit.
        let same = q(&["same"; 10]);
        let sets = cluster_queries(
            &same,
            &ClusterSettings {
                set_size: 3,
                max_size: 4,
                min_size: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(sets.iter().all(|s| s.queries.len() <= 4) && sets.len() >= 3);
    }

    #[test]
    fn bad_settings_are_named() {
        let e = ClusterSettings {
            set_size: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("set_size"), "{e}");
        let e = ClusterSettings {
            max_size: 2,
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("max_size"), "{e}");
        assert!(
            cluster_queries(&[], &ClusterSettings::default())
                .unwrap()
                .is_empty()
        );
    }
}
