//! Collective communication between the ranks of a sharded run: the [`Communicator`] trait
//! (all-gather, reduce-scatter, all-reduce, broadcast, barrier) and its in-process backend,
//! [`ThreadComm`], where each rank is a thread and buffers meet in shared memory.
//!
//! Reductions add the ranks' buffers in rank order, so a result does not depend on which
//! thread arrives first: runs are bit-reproducible.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// The collectives ZeRO-3 needs. Every rank calls the same collectives in the same order with
/// buffers of the same sizes; a call returns when every rank has made it.
pub trait Communicator: Send {
    /// This rank, `0..world_size`.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn world_size(&self) -> usize;
    /// Concatenates every rank's `shard` in rank order into `out`
    /// (`out.len() == shard.len() * world_size`).
    fn all_gather(&self, shard: &[f32], out: &mut [f32]) -> Result<()>;
    /// Sums the ranks' `input` buffers element-wise and gives rank `r` the `r`-th slice of the
    /// sum (`input.len() == out.len() * world_size`).
    fn reduce_scatter(&self, input: &[f32], out: &mut [f32]) -> Result<()>;
    /// Replaces `buf` on every rank by the element-wise sum over ranks.
    fn all_reduce(&self, buf: &mut [f32]) -> Result<()>;
    /// Copies rank `root`'s `buf` into every rank's `buf`.
    fn broadcast(&self, buf: &mut [f32], root: usize) -> Result<()>;
    /// Returns when every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// Tells the other ranks this one has failed, so their pending and later collectives
    /// return an error instead of waiting forever. The default does nothing.
    fn abort(&self) {}
}

#[derive(Debug)]
struct State {
    arrived: usize,
    generation: u64,
    aborted: bool,
    slots: Vec<Vec<f32>>,
}

#[derive(Debug)]
struct Shared {
    world: usize,
    state: Mutex<State>,
    turn: Condvar,
}

/// One rank of an in-process group: ranks are threads sharing memory.
#[derive(Debug, Clone)]
pub struct ThreadComm {
    rank: usize,
    shared: Arc<Shared>,
}

fn aborted() -> Error {
    Error::Comm("another rank failed; this rank stops".into())
}

impl ThreadComm {
    /// The `world` ranks of a new group, rank 0 first; hand one to each thread.
    pub fn group(world: usize) -> Result<Vec<ThreadComm>> {
        if world == 0 {
            return Err(Error::Comm("a group needs at least one rank".into()));
        }
        let shared = Arc::new(Shared {
            world,
            state: Mutex::new(State {
                arrived: 0,
                generation: 0,
                aborted: false,
                slots: vec![Vec::new(); world],
            }),
            turn: Condvar::new(),
        });
        Ok((0..world)
            .map(|rank| ThreadComm {
                rank,
                shared: shared.clone(),
            })
            .collect())
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.shared
            .state
            .lock()
            .map_err(|_| Error::Comm("a rank panicked while communicating".into()))
    }

    /// Waits until every rank has arrived; returns the lock held at release.
    fn wait<'a>(&'a self, mut s: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        if s.aborted {
            return Err(aborted());
        }
        let generation = s.generation;
        s.arrived += 1;
        if s.arrived == self.shared.world {
            s.arrived = 0;
            s.generation += 1;
            self.shared.turn.notify_all();
            return Ok(s);
        }
        while s.generation == generation && !s.aborted {
            s = self
                .shared
                .turn
                .wait(s)
                .map_err(|_| Error::Comm("a rank panicked while communicating".into()))?;
        }
        if s.generation == generation {
            return Err(aborted());
        }
        Ok(s)
    }

    /// Posts `data` in this rank's slot, waits for all, runs `read` over all slots, waits
    /// again so no slot is overwritten while another rank still reads it.
    fn exchange<T>(&self, data: Option<&[f32]>, read: impl FnOnce(&[Vec<f32>]) -> T) -> Result<T> {
        {
            let mut s = self.lock()?;
            let slot = &mut s.slots[self.rank];
            slot.clear();
            if let Some(d) = data {
                slot.extend_from_slice(d);
            }
        }
        let s = self.wait(self.lock()?)?;
        let out = read(&s.slots);
        drop(s);
        let mut s = self.wait(self.lock()?)?;
        // Nobody reads this slot until this rank posts again: free its memory.
        s.slots[self.rank] = Vec::new();
        Ok(out)
    }

    fn check_len(&self, what: &str, slots: &[Vec<f32>], len: usize) -> Result<()> {
        if let Some((r, s)) = slots.iter().enumerate().find(|(_, s)| s.len() != len) {
            return Err(Error::Comm(format!(
                "{what}: rank {r} sent {} values, rank {} expected {len}",
                s.len(),
                self.rank
            )));
        }
        Ok(())
    }
}

impl Communicator for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.shared.world
    }

    fn all_gather(&self, shard: &[f32], out: &mut [f32]) -> Result<()> {
        let n = shard.len();
        if out.len() != n * self.shared.world {
            return Err(Error::Comm(format!(
                "all_gather: output holds {} values, needs {}",
                out.len(),
                n * self.shared.world
            )));
        }
        if self.shared.world == 1 {
            out.copy_from_slice(shard);
            return Ok(());
        }
        self.exchange(Some(shard), |slots| {
            self.check_len("all_gather", slots, n)?;
            for (r, s) in slots.iter().enumerate() {
                out[r * n..(r + 1) * n].copy_from_slice(s);
            }
            Ok(())
        })?
    }

    fn reduce_scatter(&self, input: &[f32], out: &mut [f32]) -> Result<()> {
        let n = out.len();
        if input.len() != n * self.shared.world {
            return Err(Error::Comm(format!(
                "reduce_scatter: input holds {} values, needs {}",
                input.len(),
                n * self.shared.world
            )));
        }
        if self.shared.world == 1 {
            out.copy_from_slice(input);
            return Ok(());
        }
        let lo = self.rank * n;
        self.exchange(Some(input), |slots| {
            self.check_len("reduce_scatter", slots, input.len())?;
            out.copy_from_slice(&slots[0][lo..lo + n]);
            for s in &slots[1..] {
                for (o, x) in out.iter_mut().zip(&s[lo..lo + n]) {
                    *o += x;
                }
            }
            Ok(())
        })?
    }

    fn all_reduce(&self, buf: &mut [f32]) -> Result<()> {
        let n = buf.len();
        if self.shared.world == 1 {
            return Ok(());
        }
        // The buffer is read into the slot and then overwritten: post a copy.
        let mine = buf.to_vec();
        self.exchange(Some(&mine), |slots| {
            self.check_len("all_reduce", slots, n)?;
            buf.copy_from_slice(&slots[0]);
            for s in &slots[1..] {
                for (o, x) in buf.iter_mut().zip(s) {
                    *o += x;
                }
            }
            Ok(())
        })?
    }

    fn broadcast(&self, buf: &mut [f32], root: usize) -> Result<()> {
        if root >= self.shared.world {
            return Err(Error::Comm(format!(
                "broadcast: root {root} is not a rank of {}",
                self.shared.world
            )));
        }
        if self.shared.world == 1 {
            return Ok(());
        }
        let mine = (self.rank == root).then(|| buf.to_vec());
        self.exchange(mine.as_deref(), |slots| {
            let src = &slots[root];
            if src.len() != buf.len() {
                return Err(Error::Comm(format!(
                    "broadcast: root sent {} values, rank {} expected {}",
                    src.len(),
                    self.rank,
                    buf.len()
                )));
            }
            buf.copy_from_slice(src);
            Ok(())
        })?
    }

    fn barrier(&self) -> Result<()> {
        self.wait(self.lock()?).map(drop)
    }

    fn abort(&self) {
        // A poisoned lock still holds the flag we need to set.
        let mut s = match self.shared.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        s.aborted = true;
        self.shared.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn on_ranks<T: Send>(world: usize, f: impl Fn(ThreadComm) -> T + Sync) -> Vec<T> {
        let comms = ThreadComm::group(world).unwrap();
        std::thread::scope(|s| {
            let handles: Vec<_> = comms
                .into_iter()
                .map(|c| {
                    let f = &f;
                    s.spawn(move || f(c))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn collectives_agree_with_their_definitions() {
        let out = on_ranks(3, |c| {
            let r = c.rank() as f32;
            let mut gathered = vec![0.0; 6];
            c.all_gather(&[r, r + 0.5], &mut gathered).unwrap();
            let input: Vec<f32> = (0..6).map(|i| i as f32 * (r + 1.0)).collect();
            let mut part = vec![0.0; 2];
            c.reduce_scatter(&input, &mut part).unwrap();
            let mut sum = vec![r, 1.0];
            c.all_reduce(&mut sum).unwrap();
            let mut b = vec![r; 2];
            c.broadcast(&mut b, 2).unwrap();
            c.barrier().unwrap();
            (gathered, part, sum, b)
        });
        for (r, (gathered, part, sum, b)) in out.into_iter().enumerate() {
            assert_eq!(gathered, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
            // Sum over ranks of i * (r + 1) = i * 6 for i in this rank's slice.
            let lo = r * 2;
            assert_eq!(part, vec![lo as f32 * 6.0, (lo + 1) as f32 * 6.0]);
            assert_eq!(sum, vec![3.0, 3.0]);
            assert_eq!(b, vec![2.0, 2.0]);
        }
    }

    #[test]
    fn mismatched_sizes_and_aborts_are_errors_not_hangs() {
        let out = on_ranks(2, |c| {
            let mut o = vec![0.0; 2 * (c.rank() + 1)];
            c.all_gather(&vec![1.0; c.rank() + 1], &mut o).is_err()
        });
        assert_eq!(out, vec![true, true]);
        let out = on_ranks(2, |c| {
            if c.rank() == 0 {
                c.abort();
                true
            } else {
                c.barrier().is_err()
            }
        });
        assert_eq!(out, vec![true, true]);
    }
}
