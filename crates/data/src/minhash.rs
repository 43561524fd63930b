//! MinHash signatures over character n-grams and banded locality-sensitive hashing (LSH):
//! the near-duplicate machinery shared by cleaning, splitting and the leakage check. Character
//! n-grams (not words) make it work for Chinese, which has no spaces.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::{HashMapU64, hash_bytes, mix64};
use crate::rng::Rng;

/// MinHash and LSH parameters. `num_perm` must equal `bands * rows`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinHashParams {
    /// Number of hash permutations (signature length).
    pub num_perm: usize,
    /// Number of LSH bands.
    pub bands: usize,
    /// Character n-gram length.
    pub ngram: usize,
    /// Estimated Jaccard similarity at or above which two texts are near duplicates.
    pub threshold: f64,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for MinHashParams {
    fn default() -> Self {
        Self {
            num_perm: 128,
            bands: 16,
            ngram: 5,
            threshold: 0.8,
            seed: 1,
        }
    }
}

impl MinHashParams {
    /// Rows per band.
    pub fn rows(&self) -> usize {
        self.num_perm / self.bands.max(1)
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| {
            Err(Error::Config {
                path: None,
                message: m,
            })
        };
        if self.num_perm == 0 || self.num_perm > 1024 {
            return bad(format!(
                "minhash.num_perm must be in 1..=1024, got {}",
                self.num_perm
            ));
        }
        if self.bands == 0 || !self.num_perm.is_multiple_of(self.bands) {
            return bad(format!(
                "minhash.bands ({}) must divide minhash.num_perm ({})",
                self.bands, self.num_perm
            ));
        }
        if self.ngram == 0 || self.ngram > 64 {
            return bad(format!(
                "minhash.ngram must be in 1..=64, got {}",
                self.ngram
            ));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(format!(
                "minhash.threshold must be in (0, 1], got {}",
                self.threshold
            ));
        }
        Ok(())
    }
}

/// The hash of every character n-gram of `text` (which should be normalised first). A text
/// shorter than `n` characters is one n-gram; an empty text has none.
pub fn shingles(text: &str, n: usize, out: &mut Vec<u64>) {
    out.clear();
    if text.is_empty() {
        return;
    }
    let bytes = text.as_bytes();
    // Byte offsets of char starts, plus the end.
    let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    starts.push(bytes.len());
    let chars = starts.len() - 1;
    if chars <= n {
        out.push(hash_bytes(bytes, 0));
        return;
    }
    for i in 0..=chars - n {
        out.push(hash_bytes(&bytes[starts[i]..starts[i + n]], 0));
    }
    out.sort_unstable();
    out.dedup();
}

/// A MinHash signature.
pub type Signature = Vec<u32>;

/// Computes signatures with fixed random permutations `h_i(x) = (a_i * x + b_i) >> 32`
/// (multiply-shift hashing of the 64-bit shingle hash, `a_i` odd).
#[derive(Debug, Clone)]
pub struct MinHasher {
    params: MinHashParams,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// A hasher for the parameters (validated by the caller).
    pub fn new(params: MinHashParams) -> Self {
        let mut rng = Rng::new(params.seed);
        let a = (0..params.num_perm).map(|_| rng.next_u64() | 1).collect();
        let b = (0..params.num_perm).map(|_| rng.next_u64()).collect();
        Self { params, a, b }
    }

    /// The parameters.
    pub fn params(&self) -> &MinHashParams {
        &self.params
    }

    /// The signature of an already normalised text. An empty text gets the all-max signature.
    pub fn signature(&self, text: &str) -> Signature {
        let mut sh = Vec::new();
        shingles(text, self.params.ngram, &mut sh);
        self.signature_of_shingles(&sh)
    }

    /// The signature of a set of shingle hashes.
    pub fn signature_of_shingles(&self, shingles: &[u64]) -> Signature {
        let mut sig = vec![u32::MAX; self.params.num_perm];
        for &x in shingles {
            for ((s, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
                let h = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                if h < *s {
                    *s = h;
                }
            }
        }
        sig
    }

    /// Signatures of the texts `text` extracts from `items` (already normalised), on every core.
    pub fn signatures<T: Sync>(
        &self,
        items: &[T],
        text: impl Fn(&T) -> String + Sync,
    ) -> Vec<Signature> {
        parallel_map(items, |item| self.signature(&text(item)))
    }
}

/// The estimated Jaccard similarity of two signatures: the share of equal positions.
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    same_positions(a, b) as f64 / a.len() as f64
}

/// How many positions of two signatures are equal (a branch-free loop the compiler
/// vectorises).
#[inline]
pub fn same_positions(a: &[u32], b: &[u32]) -> usize {
    let mut same = 0u32;
    for (x, y) in a.iter().zip(b) {
        same += u32::from(x == y);
    }
    same as usize
}

/// Whether the estimated similarity reaches `threshold`, stopping early once it cannot.
#[inline]
pub fn similar(a: &[u32], b: &[u32], threshold: f64) -> bool {
    let n = a.len().min(b.len());
    if n == 0 {
        return threshold <= 0.0;
    }
    let need = (threshold * n as f64 - 1e-9).ceil().max(0.0) as usize;
    let mut same = 0usize;
    let mut done = 0usize;
    for (x, y) in a[..n].chunks(32).zip(b[..n].chunks(32)) {
        same += same_positions(x, y);
        done += x.len();
        if same + (n - done) < need {
            return false;
        }
    }
    same >= need
}

/// Exact Jaccard similarity of two sorted, deduplicated shingle sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// A banded LSH index: items whose signatures agree on every row of at least one band share
/// a bucket and become candidates of each other.
#[derive(Debug)]
pub struct LshIndex {
    bands: usize,
    rows: usize,
    buckets: Vec<HashMapU64<Vec<u32>>>,
    /// Per item: the query stamp it was last seen in and its bucket hits in that query.
    seen: Vec<(u32, u32)>,
    stamp: u32,
}

impl LshIndex {
    /// An empty index with `bands` bands of `rows` rows.
    pub fn new(bands: usize, rows: usize) -> Self {
        Self {
            bands,
            rows,
            buckets: (0..bands).map(|_| HashMapU64::default()).collect(),
            seen: Vec::new(),
            stamp: 0,
        }
    }

    fn band_key(&self, sig: &[u32], band: usize) -> u64 {
        let mut h = band as u64;
        for &v in &sig[band * self.rows..(band + 1) * self.rows] {
            h = mix64(h ^ u64::from(v)).wrapping_add(0x9E37_79B9_7F4A_7C15);
        }
        h
    }

    /// Adds item `id` with its signature.
    pub fn insert(&mut self, id: u32, sig: &[u32]) {
        for band in 0..self.bands {
            let key = self.band_key(sig, band);
            self.buckets[band].entry(key).or_default().push(id);
        }
    }

    /// The items sharing at least one bucket with `sig`, each once, in order of first
    /// discovery.
    pub fn candidates(&mut self, sig: &[u32], out: &mut Vec<u32>) {
        self.candidates_min_hits(sig, 1, out);
    }

    /// The items sharing at least `min_hits` buckets with `sig`. With many short bands, two
    /// hits filter out most unrelated pairs that share boilerplate, at a tiny loss of recall
    /// (with 32 bands of 4 rows, a pair at similarity 0.7 has two hits with probability
    /// 0.998).
    pub fn candidates_min_hits(&mut self, sig: &[u32], min_hits: u32, out: &mut Vec<u32>) {
        out.clear();
        let min_hits = min_hits.max(1);
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = (0, 0));
            self.stamp = 1;
        }
        for band in 0..self.bands {
            let key = self.band_key(sig, band);
            if let Some(ids) = self.buckets[band].get(&key) {
                for &id in ids {
                    let i = id as usize;
                    if i >= self.seen.len() {
                        self.seen.resize(i + 1, (0, 0));
                    }
                    let slot = &mut self.seen[i];
                    if slot.0 != self.stamp {
                        *slot = (self.stamp, 0);
                    }
                    slot.1 += 1;
                    if slot.1 == min_hits {
                        out.push(id);
                    }
                }
            }
        }
    }
}

/// Union-find over `0..n` with path halving and union by size.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = self.parent[x as usize];
        }
        x
    }

    /// Merges the sets of `a` and `b`; returns whether they were apart.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        true
    }
}

/// The bucket hits a candidate needs: two with 24 bands or more (short bands collide often
/// on shared boilerplate), else one.
pub fn min_hits(bands: usize) -> u32 {
    if bands >= 24 { 2 } else { 1 }
}

/// Clusters signatures: items whose estimated similarity reaches `threshold` (found through
/// LSH candidates) end in one group. Returns the group representative of each item (the
/// smallest index of its group).
pub fn cluster(sigs: &[Signature], params: &MinHashParams) -> Vec<u32> {
    cluster_banded(sigs, params.bands, params.rows(), params.threshold)
}

/// [`cluster`] with explicit banding: `bands` bands of `rows` rows over the first
/// `bands * rows` signature positions; similarity is estimated over all positions.
pub fn cluster_banded(sigs: &[Signature], bands: usize, rows: usize, threshold: f64) -> Vec<u32> {
    let mut index = LshIndex::new(bands, rows);
    let mut uf = UnionFind::new(sigs.len());
    let mut cands = Vec::new();
    let hits = min_hits(bands);
    for (i, sig) in sigs.iter().enumerate() {
        index.candidates_min_hits(sig, hits, &mut cands);
        for &c in &cands {
            if uf.find(c) != uf.find(i as u32) && similar(sig, &sigs[c as usize], threshold) {
                uf.union(c, i as u32);
            }
        }
        index.insert(i as u32, sig);
    }
    // Representative: smallest member index.
    let mut smallest: HashMapU64<u32> = HashMapU64::default();
    let roots: Vec<u32> = (0..sigs.len() as u32).map(|i| uf.find(i)).collect();
    for (i, &r) in roots.iter().enumerate() {
        smallest.entry(u64::from(r)).or_insert(i as u32);
    }
    roots
        .iter()
        .map(|r| smallest.get(&u64::from(*r)).copied().unwrap_or(*r))
        .collect()
}

/// Maps `f` over `items` on every available core, keeping order.
pub fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads <= 1 || items.len() < 256 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::normalize;

    fn params(threshold: f64) -> MinHashParams {
        MinHashParams {
            threshold,
            ..MinHashParams::default()
        }
    }

    #[test]
    fn shingles_of_chinese_are_character_based() {
        let mut out = Vec::new();
        shingles("明天北京会下雨吗", 3, &mut out);
        assert_eq!(out.len(), 6);
        shingles("雨", 3, &mut out);
        assert_eq!(out.len(), 1);
        shingles("", 3, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn estimate_tracks_exact_jaccard() {
        let h = MinHasher::new(MinHashParams {
            num_perm: 256,
            bands: 32,
            ..params(0.8)
        });
        let a = normalize("Will it rain in Beijing tomorrow afternoon? I want to go hiking.");
        let b = normalize("Will it rain in Beijing tomorrow morning? I want to go hiking.");
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        shingles(&a, 5, &mut sa);
        shingles(&b, 5, &mut sb);
        let exact = jaccard(&sa, &sb);
        let est = similarity(&h.signature(&a), &h.signature(&b));
        assert!((exact - est).abs() < 0.1, "exact {exact} est {est}");
        assert_eq!(similarity(&h.signature(&a), &h.signature(&a)), 1.0);
    }

    #[test]
    fn clusters_group_near_duplicates_and_chinese() {
        let p = MinHashParams {
            ngram: 3,
            ..params(0.5)
        };
        let h = MinHasher::new(p);
        let texts = [
            "明天北京会下雨吗?我想去爬山",
            "明天北京会下雨吗?我想去爬山。",
            "How do I convert 100 dollars to euros today?",
            "How do I convert 100 dollars into euros today?",
            "完全不同的一句话,讲的是数学题",
        ];
        let sigs: Vec<_> = texts.iter().map(|t| h.signature(&normalize(t))).collect();
        let groups = cluster(&sigs, &p);
        assert_eq!(groups, vec![0, 0, 2, 2, 4]);
    }

    #[test]
    fn params_are_validated() {
        assert!(MinHashParams::default().validate().is_ok());
        let bad = MinHashParams {
            bands: 7,
            ..MinHashParams::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("must divide")
        );
        let bad = MinHashParams {
            threshold: 1.5,
            ..MinHashParams::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn union_find_merges() {
        let mut uf = UnionFind::new(4);
        assert!(uf.union(0, 1));
        assert!(!uf.union(1, 0));
        assert!(uf.union(2, 3));
        assert_ne!(uf.find(0), uf.find(2));
        uf.union(1, 3);
        assert_eq!(uf.find(0), uf.find(2));
    }
}
