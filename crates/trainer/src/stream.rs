//! The order rows are trained in: an endless stream over the shard rows, epoch after epoch.
//! The first epoch keeps the shards' order (already shuffled when they were built); each later
//! epoch is a fresh permutation drawn from the run's seed and the epoch number, so the stream
//! is a pure function of (seed, position) and a run resumes from a single cursor.

use std::sync::Arc;

use agentune_data::rng::Rng;
use agentune_data::shards::PackedRow;

use crate::error::{Error, Result};

/// Rows in training order.
#[derive(Debug, Clone)]
pub struct RowStream {
    rows: Arc<Vec<PackedRow>>,
    seed: u64,
    epoch: u64,
    order: Vec<usize>,
}

impl RowStream {
    /// A stream over `rows` (at least one).
    pub fn new(rows: Arc<Vec<PackedRow>>, seed: u64) -> Result<Self> {
        if rows.is_empty() {
            return Err(Error::Training("the shards hold no rows".into()));
        }
        let order = (0..rows.len()).collect();
        Ok(Self {
            rows,
            seed,
            epoch: 0,
            order,
        })
    }

    /// Rows per epoch.
    pub fn epoch_len(&self) -> usize {
        self.rows.len()
    }

    /// The permutation of epoch `epoch`.
    fn order_of(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        if epoch > 0 {
            Rng::new(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)).shuffle(&mut order);
        }
        order
    }

    /// The rows at stream positions `start..start + count`.
    pub fn window(&mut self, start: u64, count: usize) -> Vec<&PackedRow> {
        let n = self.rows.len() as u64;
        let mut idx = Vec::with_capacity(count);
        for p in start..start + count as u64 {
            let epoch = p / n;
            if epoch != self.epoch {
                self.order = self.order_of(epoch);
                self.epoch = epoch;
            }
            idx.push(self.order[(p % n) as usize]);
        }
        idx.into_iter().map(|i| &self.rows[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn epochs_cover_every_row_and_positions_are_reproducible() {
        let rows: Vec<PackedRow> = (0..5)
            .map(|i| PackedRow {
                tokens: vec![i],
                weights: vec![1.0],
                starts: vec![0],
            })
            .collect();
        let mut s = RowStream::new(Arc::new(rows.clone()), 3).unwrap();
        let first: Vec<u32> = s.window(0, 5).iter().map(|r| r.tokens[0]).collect();
        assert_eq!(first, vec![0, 1, 2, 3, 4]);
        let mut second: Vec<u32> = s.window(5, 5).iter().map(|r| r.tokens[0]).collect();
        let again: Vec<u32> = s.window(5, 5).iter().map(|r| r.tokens[0]).collect();
        assert_eq!(second, again);
        second.sort();
        assert_eq!(second, vec![0, 1, 2, 3, 4]);
        // A fresh stream jumping straight to a position sees the same rows.
        let mut t = RowStream::new(Arc::new(rows), 3).unwrap();
        let a: Vec<u32> = t.window(7, 4).iter().map(|r| r.tokens[0]).collect();
        let b: Vec<u32> = s.window(7, 4).iter().map(|r| r.tokens[0]).collect();
        assert_eq!(a, b);
        assert!(RowStream::new(Arc::new(Vec::new()), 0).is_err());
    }
}
