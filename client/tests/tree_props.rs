//! Property and grow-the-tree tests for `tree`, `compact` and `tiles`.
//!
//! Every root and proof is checked against three other implementations: a reference
//! written here from the recursive definitions of RFC 6962 §2.1 (`MTH`, `PATH`,
//! `SUBPROOF`), `rs_merkle` with our RFC 6962 hasher, and `tlog_tiles`'
//! `check_record` / `check_tree` (the Go algorithm), and every tampered proof must fail.

use proptest::prelude::*;
use rs_merkle::{MerkleProof, MerkleTree};
use urne_client::compact::CompactRange;
use urne_client::tiles::{decode_entry_bundle, encode_entry_bundle, TileId, TileKind, TILE_WIDTH};
use urne_client::tree::{
    node_hash, prove_consistency, prove_inclusion, record_hash, tree_hash, verify_consistency,
    verify_inclusion, Hash, MemoryHashStore, ProofError, Rfc6962Hasher, EMPTY_HASH,
};

// ---- Reference implementation, straight from RFC 6962 §2.1 ----

/// The largest power of two strictly below `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over leaf hashes (RFC 6962 §2.1).
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_HASH,
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) (RFC 6962 §2.1.1).
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b) (RFC 6962 §2.1.2).
fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { vec![] } else { vec![mth(leaves)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// PROOF(m, D[n]) (RFC 6962 §2.1.2); empty for m = 0 by RFC 9162's convention.
fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if m == 0 {
        return vec![];
    }
    subproof(m, leaves, true)
}

// ---- Helpers ----

fn leaf_hashes(n: usize, seed: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| record_hash(format!("entry {seed} {i}").as_bytes()))
        .collect()
}

fn store_of(leaves: &[Hash]) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for &h in leaves {
        s.append_record_hash(h);
    }
    s
}

fn rs_root(leaves: &[Hash]) -> Hash {
    let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    let tree = MerkleTree::<Rfc6962Hasher>::from_leaves(&raw);
    tree.root().map(Hash).unwrap_or(EMPTY_HASH)
}

fn flip(p: &[Hash], i: usize, bit: u8) -> Vec<Hash> {
    let mut q = p.to_vec();
    q[i].0[(bit / 8) as usize % 32] ^= 1 << (bit % 8);
    q
}

/// Checks an honest inclusion proof and that every tampered variant fails.
fn check_inclusion_tampering(i: u64, n: u64, leaf: &Hash, p: &[Hash], root: &Hash) {
    verify_inclusion(i, n, leaf, p, root).unwrap();
    tlog_tiles::check_record(&p.to_vec(), n, *root, i, *leaf).unwrap();
    let fails = |i2: u64, n2: u64, leaf2: &Hash, p2: &[Hash], root2: &Hash, what: &str| {
        let ours = verify_inclusion(i2, n2, leaf2, p2, root2);
        assert!(ours.is_err(), "{what}: i={i} n={n} accepted");
        // tlog_tiles agrees (it panics on no input we give it: i2 < n2 is checked).
        if i2 < n2 {
            assert!(
                tlog_tiles::check_record(&p2.to_vec(), n2, *root2, i2, *leaf2).is_err(),
                "{what}: tlog_tiles accepted"
            );
        }
    };
    for k in 0..p.len() {
        fails(
            i,
            n,
            leaf,
            &flip(p, k, (k * 37 % 256) as u8),
            root,
            "bit flip",
        );
        let mut short = p.to_vec();
        short.remove(k);
        fails(i, n, leaf, &short, root, "missing hash");
    }
    let mut longer = p.to_vec();
    longer.push(*root);
    fails(i, n, leaf, &longer, root, "extra hash at end");
    let mut longer = vec![EMPTY_HASH];
    longer.extend_from_slice(p);
    fails(i, n, leaf, &longer, root, "extra hash at front");
    let wrong_leaf = record_hash(b"not the leaf");
    fails(i, n, &wrong_leaf, p, root, "wrong leaf");
    fails(i, n, leaf, p, &EMPTY_HASH, "wrong root");
    if i > 0 {
        fails(i - 1, n, leaf, p, root, "index - 1");
    }
    fails(i + 1, n, leaf, p, root, "index + 1");
    if i ^ 2 != i {
        fails(i ^ 2, n, leaf, p, root, "index ^ 2");
    }
    fails(i, n * 2, leaf, p, root, "size * 2");
    fails(i, n / 2, leaf, p, root, "size / 2");
    assert!(matches!(
        verify_inclusion(n, n, leaf, p, root),
        Err(ProofError::IndexOutOfRange { .. })
    ));
}

/// Checks an honest consistency proof and that every tampered variant fails.
fn check_consistency_tampering(m: u64, n: u64, old: &Hash, new: &Hash, p: &[Hash]) {
    verify_consistency(m, n, old, new, p).unwrap();
    if m > 0 {
        tlog_tiles::check_tree(&p.to_vec(), n, *new, m, *old).unwrap();
    }
    if m > n {
        unreachable!();
    }
    assert!(matches!(
        verify_consistency(n + 1, n, old, new, p),
        Err(ProofError::SizeOrder { .. })
    ));
    // Trivial proofs (old size 0, or equal sizes) have nothing to tamper with.
    if p.is_empty() {
        if m == n && m > 0 {
            assert!(verify_consistency(m, n, old, &EMPTY_HASH, p).is_err());
        }
        return;
    }
    let fails = |m2: u64, n2: u64, old2: &Hash, new2: &Hash, p2: &[Hash], what: &str| {
        assert!(
            verify_consistency(m2, n2, old2, new2, p2).is_err(),
            "{what}: m={m} n={n} accepted"
        );
        if (1..=n2).contains(&m2) {
            assert!(
                tlog_tiles::check_tree(&p2.to_vec(), n2, *new2, m2, *old2).is_err(),
                "{what}: tlog_tiles accepted"
            );
        }
    };
    for k in 0..p.len() {
        fails(
            m,
            n,
            old,
            new,
            &flip(p, k, (k * 53 % 256) as u8),
            "bit flip",
        );
        let mut short = p.to_vec();
        short.remove(k);
        fails(m, n, old, new, &short, "missing hash");
    }
    let mut longer = p.to_vec();
    longer.push(*new);
    fails(m, n, old, new, &longer, "extra hash at end");
    let mut longer = vec![p[0]];
    longer.extend_from_slice(p);
    fails(m, n, old, new, &longer, "extra hash at front");
    fails(m, n, old, new, &[], "empty proof");
    fails(m, n, new, old, p, "swapped roots");
    fails(m, n, &EMPTY_HASH, new, p, "wrong old root");
    fails(m, n, old, &EMPTY_HASH, p, "wrong new root");
    fails(m - 1, n, old, new, p, "old size - 1");
    fails(m + 1, n, old, new, p, "old size + 1");
    if m ^ 2 != m {
        fails(m ^ 2, n, old, new, p, "old size ^ 2");
    }
    fails(m, n * 2, old, new, p, "new size * 2");
    fails(m, n / 2, old, new, p, "new size / 2");
}

/// Checks everything about one tree of `leaves`, one leaf index and one old size.
fn check_tree(leaves: &[Hash], store: &MemoryHashStore, index: u64, old: u64) {
    let n = leaves.len() as u64;
    let root = mth(leaves);
    assert_eq!(tree_hash(n, store).unwrap(), root);
    assert_eq!(rs_root(leaves), root);

    // Inclusion: the reference PATH, ours, tlog_tiles' and rs_merkle's agree.
    let want = path(index as usize, leaves);
    let got = prove_inclusion(index, n, store).unwrap();
    assert_eq!(got, want, "inclusion {index} in {n}");
    check_inclusion_tampering(index, n, &leaves[index as usize], &got, &root);
    let raw: Vec<[u8; 32]> = leaves.iter().map(|h| h.0).collect();
    let tree = MerkleTree::<Rfc6962Hasher>::from_leaves(&raw);
    let rs_proof = tree.proof(&[index as usize]);
    assert!(rs_proof.verify(root.0, &[index as usize], &[raw[index as usize]], raw.len()));
    let ours_in_rs = MerkleProof::<Rfc6962Hasher>::new(got.iter().map(|h| h.0).collect());
    assert!(ours_in_rs.verify(root.0, &[index as usize], &[raw[index as usize]], raw.len()));

    // Consistency: the reference PROOF and ours agree.
    let old_root = mth(&leaves[..old as usize]);
    let want = proof(old as usize, leaves);
    let got = prove_consistency(old, n, store).unwrap();
    assert_eq!(got, want, "consistency {old} -> {n}");
    check_consistency_tampering(old, n, &old_root, &root, &got);
}

/// The largest tree size the property tests cover.
const MAX_N: usize = 2000;

/// Tree sizes where the shape of a tree changes: 1, 2, 3, every power of two and its
/// neighbours up to [`MAX_N`], and [`MAX_N`] itself.
fn edge_sizes() -> Vec<usize> {
    let mut v = vec![1, 2, 3, MAX_N - 1, MAX_N];
    let mut p = 2;
    while p <= MAX_N {
        v.extend([p - 1, p, p + 1]);
        p *= 2;
    }
    v.retain(|&n| (1..=MAX_N).contains(&n));
    v.sort_unstable();
    v.dedup();
    v
}

/// Every size 1…[`MAX_N`], grown one leaf at a time: our stored-hash root, the
/// compact range and rs_merkle (with the RFC 6962 hasher, leaves committed one by one)
/// agree, and rs_merkle built from scratch agrees at the edge sizes.
#[test]
fn roots_agree_with_rs_merkle_at_every_size() {
    let leaves = leaf_hashes(MAX_N, 11);
    let edges = edge_sizes();
    let mut store = MemoryHashStore::new();
    let mut compact = CompactRange::new();
    let mut rs = MerkleTree::<Rfc6962Hasher>::new();
    for (i, &leaf) in leaves.iter().enumerate() {
        let n = i + 1;
        store.append_record_hash(leaf);
        compact.append(leaf);
        rs.insert(leaf.0).commit();
        let root = tree_hash(n as u64, &store).unwrap();
        assert_eq!(
            rs.root().map(Hash),
            Some(root),
            "rs_merkle root at size {n}"
        );
        assert_eq!(store.root(), root, "store root at size {n}");
        assert_eq!(compact.root(), root, "compact range root at size {n}");
        if edges.contains(&n) {
            assert_eq!(rs_root(&leaves[..n]), root, "rs_merkle from leaves at {n}");
            assert_eq!(mth(&leaves[..n]), root, "RFC 6962 MTH at {n}");
        }
    }
    assert_eq!(rs.leaves_len(), MAX_N);
}

/// Every proof check of [`check_tree`] at the edge sizes, for the edge indexes and
/// old sizes (first, middle, last; 0, 1, n − 1, n).
#[test]
fn proofs_agree_with_references_at_edge_sizes() {
    let leaves = leaf_hashes(MAX_N, 13);
    for n in edge_sizes() {
        let store = store_of(&leaves[..n]);
        let n64 = n as u64;
        for (index, old) in [
            (0, 0),
            (0, 1),
            (n64 / 2, n64.saturating_sub(1)),
            (n64 - 1, n64),
            (n64 - 1, n64 / 2),
        ] {
            check_tree(&leaves[..n], &store, index, old);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn roots_and_proofs_agree_with_references(
        // Half the cases at an edge size, half anywhere in 1…2000.
        n in prop_oneof![prop::sample::select(edge_sizes()), 1usize..=MAX_N],
        index_frac in prop_oneof![Just(0.0f64), Just(0.999_999f64), 0.0f64..1.0],
        old_frac in prop_oneof![Just(0.0f64), Just(1.0f64), 0.0f64..=1.0],
        seed in any::<u64>(),
    ) {
        let leaves = leaf_hashes(n, seed);
        let store = store_of(&leaves);
        let index = ((n as f64 * index_frac) as u64).min(n as u64 - 1);
        let old = ((n as f64 * old_frac) as u64).min(n as u64);
        check_tree(&leaves, &store, index, old);
        // The compact range has the same root, and from any stored prefix too.
        let mut c = CompactRange::new();
        for &h in &leaves {
            c.append(h);
        }
        prop_assert_eq!(c.root(), mth(&leaves));
        let prefix = CompactRange::from_hash_reader(old, &store).unwrap();
        prop_assert_eq!(prefix.root(), mth(&leaves[..old as usize]));
        prop_assert_eq!(CompactRange::from_bytes(&c.to_bytes()).unwrap(), c);
    }

    #[test]
    fn tile_paths_round_trip(
        level in 0u8..=63,
        entries in any::<bool>(),
        index in prop_oneof![0u64..2000, any::<u64>()],
        width in 1u16..=256,
    ) {
        let kind = if entries { TileKind::Entries } else { TileKind::Hash { level } };
        let t = TileId { kind, index, width };
        prop_assert_eq!(TileId::parse_path(&t.path()).unwrap(), t);
        prop_assert_eq!(t.is_full(), u64::from(width) == TILE_WIDTH);
    }

    /// Whatever a mangled path parses to, it must print back to exactly that path.
    #[test]
    fn tile_parse_accepts_only_canonical_paths(
        index in any::<u64>(),
        width in 1u16..=256,
        pos in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'0'), Just(b'x'), Just(b'/'), Just(b'.'), Just(b'p'), any::<u8>()],
        op in 0u8..3,
    ) {
        let t = TileId { kind: TileKind::Hash { level: 0 }, index, width };
        let mut bytes = t.path().into_bytes();
        let at = pos.index(bytes.len());
        match op {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => { bytes.remove(at); }
        }
        if let Ok(s) = String::from_utf8(bytes) {
            if let Ok(parsed) = TileId::parse_path(&s) {
                prop_assert_eq!(parsed.path(), s);
            }
        }
    }

    #[test]
    fn bundles_round_trip(entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..=256)) {
        let bytes = encode_entry_bundle(entries.iter().map(Vec::as_slice)).unwrap();
        prop_assert_eq!(decode_entry_bundle(&bytes).unwrap(), entries.clone());
        // Dropping the last byte always breaks the last entry or its length.
        prop_assert!(decode_entry_bundle(&bytes[..bytes.len() - 1]).is_err());
    }
}

/// Grows a tree from 1 to 300 leaves (Go's tlog test style) and, at every size,
/// checks the root, every inclusion proof and every consistency proof from every
/// older size, against our verifier and tlog_tiles'.
#[test]
fn grow_tree_and_check_every_proof() {
    const N: u64 = 300;
    let leaves = leaf_hashes(N as usize, 7);
    let mut store = MemoryHashStore::new();
    let mut compact = CompactRange::new();
    let mut roots = vec![EMPTY_HASH];
    for (i, &leaf) in leaves.iter().enumerate() {
        store.append_record_hash(leaf);
        compact.append(leaf);
        let n = i as u64 + 1;
        let root = tree_hash(n, &store).unwrap();
        assert_eq!(compact.root(), root);
        assert_eq!(rs_root(&leaves[..=i]), root, "rs_merkle root at {n}");
        roots.push(root);
        for index in 0..n {
            let p = prove_inclusion(index, n, &store).unwrap();
            verify_inclusion(index, n, &leaves[index as usize], &p, &root).unwrap();
            tlog_tiles::check_record(&p, n, root, index, leaves[index as usize]).unwrap();
        }
        for old in 0..=n {
            let p = prove_consistency(old, n, &store).unwrap();
            verify_consistency(old, n, &roots[old as usize], &root, &p).unwrap();
            if old > 0 {
                tlog_tiles::check_tree(&p, n, root, old, roots[old as usize]).unwrap();
            }
        }
    }
    // The reference agrees on every proof of a small prefix, tampering included.
    for n in 1..=40usize {
        let small = store_of(&leaves[..n]);
        for index in 0..n as u64 {
            check_tree(&leaves[..n], &small, index, index + 1);
        }
    }
}
