//! One append path: entries the election rules accepted, in order, become one storage
//! [`Commit`].
//!
//! Owns: for each entry, its stored hashes (from its leaf hash, computed once by the
//! caller, which also uses it for duplicates and acknowledgements), its lookup rows
//! (from the subjects the rules name), its leaf index row, its election's statistics;
//! then the root of the tree they end. The sequencer, the mirror's chunk copy and the
//! test-only forge all build their commits here.
//! Does not own: judging entries (`urne_client::rules`), the rule state's writes (the
//! caller's overlay), signing the checkpoint, committing ([`crate::storage`]).

use crate::stats::ElectionStats;
use crate::storage::{Commit, LeafIndex, StorageError, Store, StoreHashReader, StoredHashIndex};
use std::collections::HashMap;
use urne_client::rules::Subject;
use urne_client::statement::Statement;
use urne_client::tree::{self, Hash, HashReader};

/// Builds the commit that appends entries after a tree of `size` entries.
pub struct Appender<'a> {
    store: &'a dyn Store,
    size: u64,
    // The new stored hashes, and the committed tree's frontier once read.
    pending: HashMap<u64, Hash>,
    frontier_read: bool,
    stats: HashMap<String, ElectionStats>,
    commit: Commit,
}

/// The stored-hash indexes of the complete subtrees a tree of `size` entries splits
/// into (its frontier, left to right): all that appending after it reads.
fn frontier(size: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if size & (1u64 << level) != 0 {
            out.push(tree::stored_hash_index(level, start >> level));
            start += 1u64 << level;
        }
    }
    out
}

/// Stored hashes of the entries being appended, in front of the committed ones
/// (the committed tree's frontier is read once, in one multi-get, at the first push:
/// every later entry and the root need only it and the new hashes).
struct PendingHashes<'a, 'b>(&'b Appender<'a>);

impl HashReader for PendingHashes<'_, '_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let pending = &self.0.pending;
        let missing: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|i| !pending.contains_key(i))
            .collect();
        let from_store = if missing.is_empty() {
            Vec::new()
        } else {
            StoreHashReader(self.0.store).read_hashes(&missing)?
        };
        let mut it = from_store.into_iter();
        indexes
            .iter()
            .map(|i| match pending.get(i) {
                Some(h) => Ok(*h),
                None => it.next().ok_or(tlog_tiles::Error::IndexesNotInTree),
            })
            .collect()
    }
}

impl<'a> Appender<'a> {
    /// Starts a commit appending after the first `size` entries of `store`.
    pub fn new(store: &'a dyn Store, size: u64) -> Self {
        Appender {
            store,
            size,
            pending: HashMap::new(),
            frontier_read: false,
            stats: HashMap::new(),
            commit: Commit::default(),
        }
    }

    /// The tree size after the entries pushed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `bytes` (whose RFC 6962 leaf hash is `leaf`, the statement `statement`)
    /// at the next index, filed under `subjects` (as the rules named them; the
    /// election itself is not a lookup), `reissue` as the rules said. Returns its
    /// index.
    ///
    /// # Errors
    /// If an earlier stored hash cannot be read, or the statistics do not decode.
    pub fn push(
        &mut self,
        bytes: Vec<u8>,
        leaf: Hash,
        statement: &Statement,
        subjects: &[Subject],
        reissue: bool,
    ) -> Result<u64, StorageError> {
        let index = self.size;
        if !self.frontier_read {
            // One read for the whole batch, rather than one per entry that needs it.
            let want = frontier(self.size);
            let got = self.store.read_hashes(&want)?;
            self.pending.extend(want.into_iter().zip(got));
            self.frontier_read = true;
        }
        let new = tlog_tiles::stored_hashes_for_record_hash(index, leaf, &PendingHashes(self))
            .map_err(|e| StorageError::Corrupt {
                what: format!("stored hashes for entry {index}"),
                detail: e.to_string(),
            })?;
        let first = tree::stored_hash_index(0, index);
        for (j, h) in new.into_iter().enumerate() {
            self.pending.insert(first + j as u64, h);
            self.commit
                .hashes
                .push((StoredHashIndex(first + j as u64), h));
        }
        for s in subjects {
            if !matches!(s, Subject::Election(_)) {
                self.commit.lookups.push((subject_key(s), LeafIndex(index)));
            }
        }
        let election = &statement.election;
        if !self.stats.contains_key(election) {
            let old = match self.store.stats(election)? {
                Some(b) => ElectionStats::decode(&b).map_err(|e| StorageError::Corrupt {
                    what: format!("statistics of {election}"),
                    detail: e.to_string(),
                })?,
                None => ElectionStats::default(),
            };
            self.stats.insert(election.clone(), old);
        }
        if let Some(s) = self.stats.get_mut(election) {
            s.record(index, statement, reissue);
        }
        self.commit.leaves.push((leaf, LeafIndex(index)));
        self.commit.entries.push((LeafIndex(index), bytes));
        self.size += 1;
        Ok(index)
    }

    /// The root of the tree the pushed entries end.
    ///
    /// # Errors
    /// If a stored hash cannot be read.
    pub fn root(&self) -> Result<Hash, StorageError> {
        if self.size == 0 {
            return Ok(tree::EMPTY_HASH);
        }
        tree::tree_hash(self.size, &PendingHashes(self)).map_err(|e| StorageError::Corrupt {
            what: format!("root of tree size {}", self.size),
            detail: e.to_string(),
        })
    }

    /// The commit: the entries and everything derived from them, with `state` (the
    /// encoded rule-state writes), without a head (the caller signs and sets it).
    pub fn into_commit(self, state: Vec<(Vec<u8>, Vec<u8>)>) -> Commit {
        let mut commit = self.commit;
        commit.state = state;
        commit.stats = self
            .stats
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        commit
    }
}

/// Encodes a lookup subject as a key prefix: one type byte, then the tag or id.
pub fn subject_key(s: &Subject) -> Vec<u8> {
    match s {
        Subject::Voter(t) => [b"v".as_slice(), &t.0].concat(),
        Subject::Credential(t) => [b"c".as_slice(), &t.0].concat(),
        Subject::Receipt(t) => [b"r".as_slice(), &t.0].concat(),
        Subject::Election(id) => [b"e".as_slice(), id.as_bytes(), b"\0"].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urne_client::tree::MemoryHashStore;

    /// The frontier is exactly what appending and the root read: a store holding
    /// only the frontier of a tree of `n` entries lets the appender extend it, and
    /// the stored hashes and root equal those of the whole tree built in memory.
    #[test]
    fn frontier_is_all_an_append_reads() {
        let leaf = |i: u64| tree::record_hash(format!("entry {i}").as_bytes());
        for n in [0u64, 1, 2, 3, 5, 8, 13, 64, 100, 255] {
            let mut all = MemoryHashStore::default();
            for i in 0..n + 7 {
                all.append_record_hash(leaf(i));
            }
            let store = crate::storage::MemoryStore::new();
            let want = frontier(n);
            let hashes = all.read_hashes(&want).unwrap();
            store
                .commit(Commit {
                    hashes: want.into_iter().map(StoredHashIndex).zip(hashes).collect(),
                    ..Commit::default()
                })
                .unwrap();
            let mut a = Appender::new(&store, n);
            let statement = Statement {
                election: "e".into(),
                time: urne_client::statement::Time::now(),
                body: urne_client::statement::Body::Open,
            };
            for i in n..n + 7 {
                a.push(vec![], leaf(i), &statement, &[], false).unwrap();
            }
            assert_eq!(a.root().unwrap(), all.root(), "size {n}");
            for (i, h) in &a.commit.hashes {
                assert_eq!(all.read_hashes(&[i.0]).unwrap(), vec![*h], "size {n}");
            }
        }
    }
}
