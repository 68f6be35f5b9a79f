//! A store that fails on demand, around the real RocksDB store: to drive the log
//! through storage failures over HTTP (`storage_failure`, `state_unavailable`) and
//! check what it acknowledges, what it refuses and what a restart finds on disk.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use urne::storage::{Commit, StorageError, Store, TreeHead};
use urne_client::tree::Hash;

/// What the next commit does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CommitFault {
    /// Commits normally.
    None = 0,
    /// Fails without writing anything (the disk refused the write).
    Lost = 1,
    /// Writes the batch, then reports a failure (the write reached the disk but the
    /// fsync's answer was lost): the log must not acknowledge it, and a retry after
    /// the restart must find it.
    Written = 2,
}

/// A [`Store`] over another one that fails commits or state reads when armed.
pub struct FaultyStore<S> {
    inner: S,
    commit_fault: AtomicU8,
    fail_state_reads: AtomicBool,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            commit_fault: AtomicU8::new(CommitFault::None as u8),
            fail_state_reads: AtomicBool::new(false),
        }
    }

    /// Arms `fault` for the next commit only.
    pub fn fail_next_commit(&self, fault: CommitFault) {
        self.commit_fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Makes every election-rule state read fail (or succeed again).
    pub fn fail_state_reads(&self, on: bool) {
        self.fail_state_reads.store(on, Ordering::SeqCst);
    }
}

fn injected(what: &str) -> StorageError {
    StorageError::Engine(format!("injected failure: {what}"))
}

impl<S: Store> Store for FaultyStore<S> {
    fn head(&self) -> Result<Option<TreeHead>, StorageError> {
        self.inner.head()
    }
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        self.inner.read_hashes(indexes)
    }
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        self.inner.entries(start, end)
    }
    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError> {
        self.inner.leaf_index(leaf)
    }
    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        self.inner.leaf_indexes(leaves)
    }
    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        if self.fail_state_reads.load(Ordering::SeqCst) {
            return Err(injected("state read"));
        }
        self.inner.states(keys)
    }
    fn staged(&self) -> Result<Option<u64>, StorageError> {
        self.inner.staged()
    }
    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if self.fail_state_reads.load(Ordering::SeqCst) {
            return Err(injected("state read"));
        }
        self.inner.state(key)
    }
    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError> {
        self.inner.lookup(subject, from, limit)
    }
    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.stats(election)
    }
    fn elections(&self) -> Result<Vec<String>, StorageError> {
        self.inner.elections()
    }
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.inner.checkpoint_at(size)
    }
    fn commit(&self, commit: Commit) -> Result<(), StorageError> {
        let fault = self
            .commit_fault
            .swap(CommitFault::None as u8, Ordering::SeqCst);
        match fault {
            f if f == CommitFault::Lost as u8 => Err(injected("commit (nothing written)")),
            f if f == CommitFault::Written as u8 => {
                self.inner.commit(commit)?;
                Err(injected("commit (written, answer lost)"))
            }
            _ => self.inner.commit(commit),
        }
    }
    fn disk_usage(&self) -> u64 {
        self.inner.disk_usage()
    }
}
