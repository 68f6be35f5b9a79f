//! In-memory storage, for tests and in-process benchmarks.
//!
//! Owns: a [`Store`] over ordered maps behind one lock, with the same contract as
//! RocksDB except durability (nothing survives the process).

use super::{Commit, StorageError, Store, TreeHead};
use std::collections::BTreeMap;
use std::sync::RwLock;
use urne_client::tree::Hash;

#[derive(Default)]
struct Inner {
    head: Option<TreeHead>,
    entries: BTreeMap<u64, Vec<u8>>,
    hashes: BTreeMap<u64, Hash>,
    lookups: BTreeMap<(Vec<u8>, u64), ()>,
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    leaves: BTreeMap<[u8; 32], u64>,
    stats: BTreeMap<String, Vec<u8>>,
    checkpoints: BTreeMap<u64, String>,
    staged: Option<u64>,
}

/// A [`Store`] in RAM. The one lock makes every commit atomic for readers.
#[derive(Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A poisoned lock means a panic in a commit; the maps are still consistent
        // because commit only inserts after validation.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }
}

fn missing(what: String) -> StorageError {
    StorageError::Corrupt {
        what,
        detail: "missing".into(),
    }
}

impl Store for MemoryStore {
    fn head(&self) -> Result<Option<TreeHead>, StorageError> {
        Ok(self.read().head.clone())
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        let g = self.read();
        indexes
            .iter()
            .map(|i| {
                g.hashes
                    .get(i)
                    .copied()
                    .ok_or_else(|| missing(format!("stored hash {i}")))
            })
            .collect()
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let g = self.read();
        (start..end)
            .map(|i| {
                g.entries
                    .get(&i)
                    .cloned()
                    .ok_or_else(|| missing(format!("entry {i}")))
            })
            .collect()
    }

    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.read().state.get(key).cloned())
    }

    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError> {
        Ok(self.read().leaves.get(&leaf.0).copied())
    }

    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        let g = self.read();
        Ok(leaves.iter().map(|l| g.leaves.get(&l.0).copied()).collect())
    }

    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let g = self.read();
        Ok(keys.iter().map(|k| g.state.get(k).cloned()).collect())
    }

    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError> {
        let g = self.read();
        Ok(g.lookups
            .range((subject.to_vec(), from)..=(subject.to_vec(), u64::MAX))
            .take(limit)
            .map(|((_, i), _)| *i)
            .collect())
    }

    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.read().stats.get(election).cloned())
    }

    fn elections(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.read().stats.keys().cloned().collect())
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        Ok(self.read().checkpoints.get(&size).cloned())
    }

    fn staged(&self) -> Result<Option<u64>, StorageError> {
        Ok(self.read().staged)
    }

    fn commit(&self, c: Commit) -> Result<(), StorageError> {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        super::check_extends(&c, g.head.as_ref())?;
        if c.staged.is_some() {
            g.staged = c.staged;
        }
        g.entries
            .extend(c.entries.into_iter().map(|(i, e)| (i.0, e)));
        g.hashes.extend(c.hashes.into_iter().map(|(i, h)| (i.0, h)));
        g.lookups
            .extend(c.lookups.into_iter().map(|(s, i)| ((s, i.0), ())));
        g.state.extend(c.state);
        g.leaves
            .extend(c.leaves.into_iter().map(|(h, i)| (h.0, i.0)));
        g.stats.extend(c.stats);
        if let Some(h) = c.head {
            g.checkpoints.insert(h.size, h.checkpoint.clone());
            g.head = Some(h);
        }
        Ok(())
    }
}
