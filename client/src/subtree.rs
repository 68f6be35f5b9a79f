//! Subtrees of a Merkle tree and their consistency proofs, as C2SP tlog-mirror's
//! `add-entries` packages carry them (draft-ietf-plants-merkle-tree-certs-02, §4.1
//! "Definition of a Subtree", §4.4 "Subtree Consistency Proofs").
//!
//! Owns: whether `[start, end)` is a subtree ([`is_subtree`]), the hash of a subtree
//! from its leaf hashes ([`hash_leaves`]) or from stored hashes ([`subtree_hash`]),
//! the proof that a subtree sits at those positions in a tree of size `n`
//! ([`prove_subtree`], the draft's `SUBTREE_PROOF`), and its verification
//! ([`verify_subtree`]).
//! Does not own: leaf and node hashing and the stored-hash layout ([`crate::tree`]),
//! the tlog-mirror wire format ([`crate::tlog_mirror`]).
//!
//! A subtree is `[start, end)` with `start < end` and `start` a multiple of the
//! smallest power of two at least `end - start`: a node of the tree, or the left part
//! of one (a right edge still growing). `[0, m)` is always one, and its proof in a tree
//! of `n` is the RFC 6962 consistency proof from `m` to `n` (tested below).
//!
//! Verification replays the generation: the draft's `SUBTREE_SUBPROOF` recursion walked
//! with the proof's hashes in the order it emits them, rebuilding at once the hash of
//! each node on the path (up to the root) and the hash of the subtree, which must equal
//! the root and the subtree hash given. The draft's iterative verifier accepts exactly
//! the proofs that generation makes; so does this one, and the tests check it against
//! generation over every subtree of trees up to 70 leaves, and against the RFC 6962
//! proofs for prefixes.

use crate::tree::{node_hash, stored_hash_index, Hash, HashReader, ProofError, MAX_TREE_SIZE};

/// Reports whether `[start, end)` is a subtree (draft §4.1).
pub fn is_subtree(start: u64, end: u64) -> bool {
    if start >= end || end > MAX_TREE_SIZE {
        return false;
    }
    let ceil = (end - start).next_power_of_two();
    start.is_multiple_of(ceil)
}

/// Where the node `[start, end)` (more than one leaf) splits: after the largest power
/// of two smaller than its width (RFC 6962 §2.1).
fn split(start: u64, end: u64) -> u64 {
    let width = end - start;
    debug_assert!(width > 1);
    start + (width.next_power_of_two() >> 1)
}

/// Returns the Merkle tree hash of consecutive leaves given by their leaf hashes
/// (MTH of RFC 6962 §2.1 over the leaves, which is the subtree hash when they are a
/// subtree); the empty hash for none.
pub fn hash_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => crate::tree::EMPTY_HASH,
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() >> 1;
            node_hash(&hash_leaves(&leaves[..k]), &hash_leaves(&leaves[k..]))
        }
    }
}

/// Returns the hash of the node `[start, end)` of a tree whose stored hashes `r` holds
/// (a perfect node is one stored hash; a right edge is combined from its parts).
///
/// # Errors
/// [`ProofError::Storage`] when `r` fails; [`ProofError::IndexOutOfRange`] when
/// `[start, end)` is not a subtree.
pub fn subtree_hash<R: HashReader>(start: u64, end: u64, r: &R) -> Result<Hash, ProofError> {
    if !is_subtree(start, end) {
        return Err(ProofError::IndexOutOfRange {
            leaf_index: start,
            tree_size: end,
        });
    }
    node(start, end, r)
}

fn node<R: HashReader>(start: u64, end: u64, r: &R) -> Result<Hash, ProofError> {
    let width = end - start;
    if width.is_power_of_two() {
        let level = u8::try_from(width.trailing_zeros()).unwrap_or(u8::MAX);
        let i = stored_hash_index(level, start >> level);
        let h = r
            .read_hashes(&[i])
            .map_err(|e| ProofError::Storage(e.to_string()))?;
        return h
            .first()
            .copied()
            .ok_or_else(|| ProofError::Storage(format!("stored hash {i} missing")));
    }
    let mid = split(start, end);
    Ok(node_hash(&node(start, mid, r)?, &node(mid, end, r)?))
}

/// Builds the subtree consistency proof of `[start, end)` in the tree of `n` leaves
/// (draft §4.4.1 `SUBTREE_PROOF`), reading stored hashes from `r`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `[start, end)` is not a subtree of a tree of
/// `n`; [`ProofError::Storage`] when `r` fails.
pub fn prove_subtree<R: HashReader>(
    start: u64,
    end: u64,
    n: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError> {
    if !is_subtree(start, end) || end > n {
        return Err(ProofError::IndexOutOfRange {
            leaf_index: start,
            tree_size: n,
        });
    }
    let mut proof = Vec::new();
    subproof(start, end, 0, n, true, r, &mut proof)?;
    Ok(proof)
}

/// `SUBTREE_SUBPROOF`: the subtree `[start, end)` inside the node `[ws, we)`; `known`
/// is the draft's `b` (whether the verifier knows the node's hash).
fn subproof<R: HashReader>(
    start: u64,
    end: u64,
    ws: u64,
    we: u64,
    known: bool,
    r: &R,
    proof: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    if start == ws && end == we {
        if !known {
            proof.push(node(ws, we, r)?);
        }
        return Ok(());
    }
    let mid = split(ws, we);
    let sibling = if end <= mid {
        subproof(start, end, ws, mid, known, r, proof)?;
        (mid, we)
    } else if mid <= start {
        subproof(start, end, mid, we, known, r, proof)?;
        (ws, mid)
    } else {
        // Straddling the split: a subtree does so only from the node's first leaf;
        // its right part is a node the verifier does not know.
        subproof(mid, end, mid, we, false, r, proof)?;
        (ws, mid)
    };
    proof.push(node(sibling.0, sibling.1, r)?);
    Ok(())
}

/// Verifies that `proof` shows the subtree `[start, end)` of hash `subtree` inside
/// the tree of `n` leaves whose root is `root` (draft §4.4.3).
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `[start, end)` is not a subtree of a tree of
/// `n`; [`ProofError::WrongProofLength`] when the proof has too few or too many
/// hashes; [`ProofError::Mismatch`] when it does not lead to both hashes.
pub fn verify_subtree(
    start: u64,
    end: u64,
    n: u64,
    proof: &[Hash],
    subtree: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    if !is_subtree(start, end) || end > n {
        return Err(ProofError::IndexOutOfRange {
            leaf_index: start,
            tree_size: n,
        });
    }
    let mut it = proof.iter();
    let (whole, sub) =
        replay(start, end, 0, n, true, &mut it, subtree).ok_or(ProofError::WrongProofLength {
            expected: proof.len() + 1,
            got: proof.len(),
        })?;
    let left = it.len();
    if left > 0 {
        return Err(ProofError::WrongProofLength {
            expected: proof.len() - left,
            got: proof.len(),
        });
    }
    if whole == *root && sub == *subtree {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Walks `SUBTREE_SUBPROOF` consuming proof hashes in emission order; returns the hash
/// of the node `[ws, we)` and of the part of the subtree inside it, or `None` when the
/// proof runs out.
fn replay(
    start: u64,
    end: u64,
    ws: u64,
    we: u64,
    known: bool,
    proof: &mut std::slice::Iter<'_, Hash>,
    subtree: &Hash,
) -> Option<(Hash, Hash)> {
    if start == ws && end == we {
        let h = if known { *subtree } else { *proof.next()? };
        return Some((h, h));
    }
    let mid = split(ws, we);
    if end <= mid {
        let (l, s) = replay(start, end, ws, mid, known, proof, subtree)?;
        let r = proof.next()?;
        Some((node_hash(&l, r), s))
    } else if mid <= start {
        let (r, s) = replay(start, end, mid, we, known, proof, subtree)?;
        let l = proof.next()?;
        Some((node_hash(l, &r), s))
    } else {
        let (r, s) = replay(mid, end, mid, we, false, proof, subtree)?;
        let l = proof.next()?;
        Some((node_hash(l, &r), node_hash(l, &s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{prove_consistency, record_hash, MemoryHashStore};

    fn tree(n: u64) -> (MemoryHashStore, Vec<Hash>) {
        let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        let store = MemoryHashStore::from_entries(entries.iter().map(Vec::as_slice));
        let leaves = entries.iter().map(|e| record_hash(e)).collect();
        (store, leaves)
    }

    #[test]
    fn subtrees_are_aligned_to_their_width() {
        assert!(is_subtree(0, 7));
        assert!(is_subtree(4, 6));
        assert!(is_subtree(4, 8));
        assert!(is_subtree(256, 300));
        assert!(!is_subtree(5, 8));
        assert!(!is_subtree(4, 9));
        assert!(!is_subtree(3, 3));
        assert!(!is_subtree(8, 4));
    }

    /// Every subtree of every tree up to 70 leaves: the proof verifies, the subtree
    /// hash equals MTH over its leaves, and any flipped hash, missing or extra hash,
    /// or other subtree hash is refused.
    #[test]
    fn every_subtree_proof_verifies_and_no_altered_one_does() {
        for n in 1..=70u64 {
            let (store, leaves) = tree(n);
            let root = store.root();
            for start in 0..n {
                for end in start + 1..=n {
                    if !is_subtree(start, end) {
                        assert!(prove_subtree(start, end, n, &store).is_err());
                        continue;
                    }
                    let sub = hash_leaves(&leaves[start as usize..end as usize]);
                    assert_eq!(subtree_hash(start, end, &store).unwrap(), sub);
                    let proof = prove_subtree(start, end, n, &store).unwrap();
                    assert!(proof.len() <= 63);
                    verify_subtree(start, end, n, &proof, &sub, &root)
                        .unwrap_or_else(|e| panic!("[{start},{end}) of {n}: {e}"));
                    let mut wrong = sub;
                    wrong.0[0] ^= 1;
                    assert!(verify_subtree(start, end, n, &proof, &wrong, &root).is_err());
                    for i in 0..proof.len() {
                        let mut p = proof.clone();
                        p[i].0[31] ^= 0x80;
                        assert!(verify_subtree(start, end, n, &p, &sub, &root).is_err());
                        let mut short = proof.clone();
                        short.remove(i);
                        assert!(verify_subtree(start, end, n, &short, &sub, &root).is_err());
                    }
                    let mut long = proof.clone();
                    long.push(root);
                    assert!(verify_subtree(start, end, n, &long, &sub, &root).is_err());
                }
            }
        }
    }

    /// A prefix `[0, m)` is a subtree whose proof is RFC 6962's consistency proof
    /// from `m` to `n` (an independent implementation: `tlog_tiles`, Go's sumdb port).
    #[test]
    fn a_prefix_proof_is_the_rfc6962_consistency_proof() {
        for n in 1..=70u64 {
            let (store, _) = tree(n);
            for m in 1..n {
                assert_eq!(
                    prove_subtree(0, m, n, &store).unwrap(),
                    prove_consistency(m, n, &store).unwrap(),
                    "{m} → {n}"
                );
            }
        }
    }

    /// The C2SP merkle-tree example: in the tree of 7 entries, `[4, 6)` is the node
    /// `j`, proven by `[g, k]`; `[4, 7)` is the root's right child `l`, proven by `[k]`.
    #[test]
    fn spec_example_tree_of_seven() {
        let (store, leaves) = tree(7);
        let k = hash_leaves(&leaves[0..4]);
        let g = leaves[6];
        assert_eq!(prove_subtree(4, 6, 7, &store).unwrap(), vec![g, k]);
        assert_eq!(prove_subtree(4, 7, 7, &store).unwrap(), vec![k]);
    }
}
