//! Inclusion proofs of a whole batch with one read: the proofs the sequencer hands
//! back with the acknowledgements of the entries it just committed.
//!
//! Owns: collecting the stored hashes every proof of the batch needs, reading those
//! the batch did not just write in one [`Store::read_hashes`] (one query on
//! PostgreSQL, instead of one per statement in the HTTP handlers), and building each
//! proof with `urne_client::tree::prove_inclusion`, the proof code every party runs.
//! Does not own: the proof format and its verification (`urne_client::tree`).

use crate::storage::{StorageError, Store, StoreHashReader};
use std::cell::RefCell;
use std::collections::HashMap;
use urne_client::tree::{self, Hash, HashReader};

/// Records the indexes a proof reads, answering placeholders (building a proof does
/// not depend on the hashes' values, only their count).
struct Recorder(RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tree::EMPTY_HASH; indexes.len()])
    }
}

/// Answers from the hashes gathered.
struct Gathered<'a>(&'a HashMap<u64, Hash>);

impl HashReader for Gathered<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

/// Returns the inclusion proof of each entry in `leaves` in the tree of `size`
/// entries held by `store`, `fresh` holding stored hashes known already (the batch's
/// own, just committed): the others are read in one call.
///
/// # Errors
/// The store cannot be read, or lacks a hash of the tree.
pub fn prove_all(
    store: &dyn Store,
    fresh: &HashMap<u64, Hash>,
    size: u64,
    leaves: std::ops::Range<u64>,
) -> Result<Vec<Vec<Hash>>, StorageError> {
    let corrupt = |e: tree::ProofError| StorageError::Corrupt {
        what: format!("the inclusion proofs in a tree of {size} entries"),
        detail: e.to_string(),
    };
    let rec = Recorder(RefCell::new(Vec::new()));
    for i in leaves.clone() {
        tree::prove_inclusion(i, size, &rec).map_err(corrupt)?;
    }
    let mut want = rec.0.into_inner();
    want.sort_unstable();
    want.dedup();
    want.retain(|i| !fresh.contains_key(i));
    let mut known = fresh.clone();
    if !want.is_empty() {
        let read = StoreHashReader(store)
            .read_hashes(&want)
            .map_err(|e| StorageError::Engine(format!("reading proof hashes: {e}")))?;
        known.extend(want.into_iter().zip(read));
    }
    leaves
        .map(|i| tree::prove_inclusion(i, size, &Gathered(&known)).map_err(corrupt))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Commit, MemoryStore, StoredHashIndex, TreeHead};

    /// The batch's proofs equal the ones read one by one from the store, whichever
    /// hashes are given as fresh, and each verifies against the root.
    #[test]
    fn batch_proofs_equal_single_proofs() {
        let store = MemoryStore::new();
        let n = 37u64;
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let mem = tree::MemoryHashStore::from_entries(entries.iter().map(Vec::as_slice));
        let hashes = mem.stored().to_vec();
        let root = mem.root();
        let leaves: Vec<Hash> = entries.iter().map(|e| tree::record_hash(e)).collect();
        store
            .commit(Commit {
                hashes: hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (StoredHashIndex(i as u64), *h))
                    .collect(),
                head: Some(TreeHead {
                    size: n,
                    root,
                    checkpoint: String::new(),
                }),
                ..Commit::default()
            })
            .unwrap();
        let fresh: HashMap<u64, Hash> = hashes
            .iter()
            .enumerate()
            .skip(hashes.len() / 2)
            .map(|(i, h)| (i as u64, *h))
            .collect();
        let proofs = prove_all(&store, &fresh, n, 20..n).unwrap();
        for (i, p) in (20..n).zip(&proofs) {
            let single = tree::prove_inclusion(i, n, &StoreHashReader(&store)).unwrap();
            assert_eq!(p, &single, "entry {i}");
            tree::verify_inclusion(i, n, &leaves[i as usize], p, &root).unwrap();
        }
    }
}
