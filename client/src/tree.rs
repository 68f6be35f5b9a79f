//! RFC 6962 Merkle tree hashing, inclusion and consistency proofs (RFC 9162 §2.1), and
//! the stored-hash index arithmetic.
//!
//! This module owns:
//! - the hash functions ([`record_hash`], [`node_hash`]) and an [`rs_merkle::Hasher`]
//!   with exactly the RFC 6962 roots ([`Rfc6962Hasher`]);
//! - proof generation over a [`HashReader`] ([`prove_inclusion`], [`prove_consistency`]),
//!   which wraps `tlog_tiles` (Cloudflare's port of Go's `golang.org/x/mod/sumdb/tlog`);
//! - proof verification ([`verify_inclusion`], [`verify_consistency`]) written from the
//!   RFC 9162 algorithms, independently of `tlog_tiles::check_record` / `check_tree`, so
//!   the tests can cross-check two implementations;
//! - hash text encodings (base64 as in checkpoints, hex) and [`MemoryHashStore`], an
//!   in-memory [`HashReader`] for tests and small trees.
//!
//! It does not own storage (the server's store implements [`HashReader`]), tile paths
//! and entry bundles ([`crate::tiles`]), the incremental root of a monitor
//! ([`crate::compact`]), or checkpoints ([`crate::checkpoint`]).
//!
//! Stored-hash layout: level `L`'s `n`-th hash lives at [`stored_hash_index`]`(L, n)`,
//! the dense order of Crosby and Wallach ("Efficient Data Structures for Tamper-Evident
//! Logging", §3.3) that Go's sumdb and `tlog_tiles` use; a tree of `n` records holds
//! [`stored_hash_count`]`(n)` hashes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

pub use tlog_tiles::{
    split_stored_hash_index, stored_hash_count, stored_hash_index, stored_hashes, tree_hash, Hash,
    HashReader, EMPTY_HASH,
};

/// The size in bytes of a SHA-256 hash, the only hash RFC 6962 trees use here.
pub const HASH_SIZE: usize = 32;

/// The largest tree size this module accepts when it computes stored-hash indexes.
///
/// [`stored_hash_index`] is about twice the leaf index, so `2^62` leaves keeps every
/// index below `2^63` with room for the level term; no real log comes near it, and a
/// larger size in a request or a checkpoint is refused instead of overflowing.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// An error from building or checking a proof, or from parsing a hash.
///
/// Malformed input (an index outside the tree, sizes out of order, a proof of the wrong
/// length, a bad encoding) is kept apart from [`ProofError::Mismatch`], a well-formed
/// proof that does not verify: see [`ProofError::is_mismatch`].
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {leaf_index} is not below tree size {tree_size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        leaf_index: u64,
        /// The size of the tree.
        tree_size: u64,
    },
    /// The old tree is larger than the new tree.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The size of the older tree.
        old_size: u64,
        /// The size of the newer tree.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes and index.
    #[error("proof has {got} hashes, expected {expected}")]
    WrongProofLength {
        /// The number of hashes RFC 9162 requires here.
        expected: usize,
        /// The number of hashes given.
        got: usize,
    },
    /// The tree size is above [`MAX_TREE_SIZE`].
    #[error("tree size {0} is above the supported maximum")]
    TreeTooLarge(u64),
    /// A hash is not 32 bytes in canonical base64 or hex.
    #[error("malformed hash: {0}")]
    MalformedHash(String),
    /// A serialized compact range is malformed.
    #[error("malformed compact range: {0}")]
    MalformedCompactRange(String),
    /// The hash store failed to return the hashes asked for.
    #[error("hash storage: {0}")]
    Storage(String),
    /// The proof is well formed but does not lead to the given root(s).
    #[error("proof does not verify")]
    Mismatch,
}

impl ProofError {
    /// Returns true when the input was well formed but the proof did not verify.
    ///
    /// A verifier facing a log treats a mismatch as evidence of misbehaviour and any
    /// other error as a malformed request or response.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, ProofError::Mismatch)
    }
}

fn storage_error(e: tlog_tiles::Error) -> ProofError {
    ProofError::Storage(e.to_string())
}

/// Returns the leaf hash of an entry: `SHA-256(0x00 ‖ entry)` (RFC 6962 §2.1).
pub fn record_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// Returns the hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// Hashes `rs_merkle` trees the RFC 6962 way.
///
/// [`rs_merkle::Hasher::hash`] is plain SHA-256 of the bytes given: callers insert
/// leaves already hashed with [`record_hash`] (`SHA-256(0x00 ‖ entry)`), and never ask
/// `rs_merkle` to hash an entry itself. [`rs_merkle::Hasher::concat_and_hash`] is
/// [`node_hash`] (`SHA-256(0x01 ‖ l ‖ r)`, RFC 6962 §2.1), and a lone left node is
/// promoted unchanged, as `rs_merkle` does by default. Building layers bottom-up with
/// that promotion splits every range at its largest power of two below the size, which
/// is RFC 6962's `MTH(D[n]) = HASH(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))`: the roots are
/// identical for every size (checked in `tests/tree_props.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc6962Hasher;

impl rs_merkle::Hasher for Rfc6962Hasher {
    type Hash = [u8; HASH_SIZE];

    fn hash(data: &[u8]) -> Self::Hash {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &Self::Hash, right: Option<&Self::Hash>) -> Self::Hash {
        match right {
            Some(right) => node_hash(&Hash(*left), &Hash(*right)).0,
            None => *left,
        }
    }
}

/// Splits an inclusion path into its `(inner, border)` lengths (RFC 9162 §2.1.3.2).
///
/// The path from leaf `index` in a tree of `size` leaves has one hash for each level
/// below the point where the paths to `index` and to `size - 1` meet (`inner`, the bit
/// length of `index XOR (size - 1)`), then one per set bit of `index` above it
/// (`border`, where the leaf's subtree is a left child of the right border).
fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    debug_assert!(index < size, "callers check index < size");
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = index.checked_shr(inner as u32).unwrap_or(0).count_ones() as usize;
    (inner, border)
}

/// Returns the number of hashes of an inclusion proof for `leaf_index` in a tree of
/// `tree_size` leaves (RFC 9162 §2.1.3).
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] if `leaf_index >= tree_size`.
pub fn inclusion_proof_len(leaf_index: u64, tree_size: u64) -> Result<usize, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    let (inner, border) = decompose_inclusion(leaf_index, tree_size);
    Ok(inner + border)
}

/// Returns the number of hashes of a consistency proof from `old_size` to `new_size`
/// (RFC 9162 §2.1.4).
///
/// The proof is the inclusion path of leaf `old_size - 1` in the new tree, started at
/// the level of the largest complete subtree ending there (`2^shift` leaves, `shift` the
/// trailing zero bits of `old_size`), plus that subtree's hash first unless it is the
/// whole old tree. It is empty when `old_size` is 0 or equal to `new_size`.
///
/// # Errors
///
/// [`ProofError::SizeOrder`] if `old_size > new_size`.
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> Result<usize, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(0);
    }
    let (inner, border) = decompose_inclusion(old_size - 1, new_size);
    let shift = old_size.trailing_zeros() as usize;
    let seed = usize::from(!old_size.is_power_of_two());
    // shift < inner because old_size < new_size: the paths to old_size - 1 and
    // new_size - 1 part above the complete subtree of 2^shift leaves.
    Ok(seed + inner.saturating_sub(shift) + border)
}

/// Checks that `proof` shows leaf `leaf_index` with hash `leaf_hash` is in the tree of
/// `tree_size` leaves with root `root` (RFC 9162 §2.1.3.2).
///
/// Written from the RFC's algorithm, independently of `tlog_tiles::check_record`.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`] if `leaf_index >= tree_size`,
/// [`ProofError::WrongProofLength`] if the proof does not have the length the RFC
/// algorithm consumes exactly, [`ProofError::Mismatch`] if it does not lead to `root`.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    // Step 1: the index must be in the tree.
    let expected = inclusion_proof_len(leaf_index, tree_size)?;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    // Step 2: fn is the leaf's position, sn the last position, at the current level.
    let mut f_n = leaf_index;
    let mut s_n = tree_size - 1;
    // Step 3.
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        // 4a: a proof longer than the path; unreachable after the length check.
        if s_n == 0 {
            return Err(ProofError::Mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            // 4b: r is a right child (or the last node of its level, promoted until it
            // becomes one): r = HASH(0x01 ‖ p ‖ r).
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            // r is a left child: r = HASH(0x01 ‖ r ‖ p).
            r = node_hash(&r, p);
        }
        // 4c.
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Checks that `proof` shows the tree of `old_size` leaves with root `old_root` is a
/// prefix of the tree of `new_size` leaves with root `new_root` (RFC 9162 §2.1.4.2).
///
/// When `old_size` is 0 the proof must be empty and any roots are consistent (the empty
/// tree is a prefix of every tree); when the sizes are equal the proof must be empty and
/// the roots equal. Written from the RFC's algorithm, independently of
/// `tlog_tiles::check_tree`.
///
/// # Errors
///
/// [`ProofError::SizeOrder`] if `old_size > new_size`,
/// [`ProofError::WrongProofLength`] for a proof of the wrong length,
/// [`ProofError::Mismatch`] if it does not lead to both roots.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_proof_len(old_size, new_size)?;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if old_size == 0 {
        return Ok(());
    }
    // Step 1 (empty path) is covered by the length check: old < new needs a hash.
    // Step 2: if old_size is a power of two, the old root is the seed.
    let mut path = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    // Step 3.
    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    // Step 4: skip the levels inside the complete subtree that ends the old tree.
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::Mismatch);
    };
    let mut f_r = *first;
    let mut s_r = *first;
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::Mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            // c is a left sibling in both trees.
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            // c is a right sibling that only the new tree has.
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if f_r == *old_root && s_r == *new_root && s_n == 0 {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

fn check_tree_size(tree_size: u64) -> Result<(), ProofError> {
    if tree_size > MAX_TREE_SIZE {
        Err(ProofError::TreeTooLarge(tree_size))
    } else {
        Ok(())
    }
}

/// Builds the inclusion proof (RFC 9162 §2.1.3.1, RFC 6962 §2.1.1 `PATH`) of leaf
/// `leaf_index` in the tree of `tree_size` leaves, reading stored hashes from `r`.
///
/// Wraps `tlog_tiles::prove_record`, which makes one batched
/// [`HashReader::read_hashes`] call.
///
/// # Errors
///
/// [`ProofError::IndexOutOfRange`], [`ProofError::TreeTooLarge`], or
/// [`ProofError::Storage`] when `r` fails.
///
/// # Panics
///
/// Panics (inside `tlog_tiles`) if `r` returns a number of hashes other than the number
/// asked for, which breaks the [`HashReader`] contract.
pub fn prove_inclusion<R: HashReader>(
    leaf_index: u64,
    tree_size: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            leaf_index,
            tree_size,
        });
    }
    check_tree_size(tree_size)?;
    tlog_tiles::prove_record(tree_size, leaf_index, r).map_err(storage_error)
}

/// Builds the consistency proof (RFC 9162 §2.1.4.1, RFC 6962 §2.1.2 `PROOF`) from the
/// tree of `old_size` leaves to the tree of `new_size` leaves, reading stored hashes
/// from `r`. The proof is empty when `old_size` is 0 or equal to `new_size`.
///
/// Wraps `tlog_tiles::prove_tree`.
///
/// # Errors
///
/// [`ProofError::SizeOrder`], [`ProofError::TreeTooLarge`], or [`ProofError::Storage`].
///
/// # Panics
///
/// Panics (inside `tlog_tiles`) if `r` breaks the [`HashReader`] contract.
pub fn prove_consistency<R: HashReader>(
    old_size: u64,
    new_size: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    check_tree_size(new_size)?;
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    tlog_tiles::prove_tree(new_size, old_size, r).map_err(storage_error)
}

/// Computes the root of the tree of `tree_size` leaves from stored hashes, like
/// [`tree_hash`] but with this module's errors.
///
/// # Errors
///
/// [`ProofError::TreeTooLarge`] or [`ProofError::Storage`].
pub fn root_from_store<R: HashReader>(tree_size: u64, r: &R) -> Result<Hash, ProofError> {
    check_tree_size(tree_size)?;
    tree_hash(tree_size, r).map_err(storage_error)
}

/// Parses a hash in standard, padded base64 (as in checkpoints and proofs, C2SP
/// tlog-checkpoint).
///
/// # Errors
///
/// [`ProofError::MalformedHash`] unless the text is canonical base64 of 32 bytes.
pub fn hash_from_base64(s: &str) -> Result<Hash, ProofError> {
    let bytes = BASE64
        .decode(s)
        .map_err(|e| ProofError::MalformedHash(e.to_string()))?;
    hash_from_slice(&bytes)
}

/// Encodes a hash in standard, padded base64 (44 characters).
pub fn hash_to_base64(h: &Hash) -> String {
    BASE64.encode(h.0)
}

/// Parses a hash in hexadecimal (64 digits, either case).
///
/// # Errors
///
/// [`ProofError::MalformedHash`] unless the text is 64 hex digits.
pub fn hash_from_hex(s: &str) -> Result<Hash, ProofError> {
    let bytes = hex::decode(s).map_err(|e| ProofError::MalformedHash(e.to_string()))?;
    hash_from_slice(&bytes)
}

/// Encodes a hash in lowercase hexadecimal (64 digits).
pub fn hash_to_hex(h: &Hash) -> String {
    hex::encode(h.0)
}

/// Reads a hash from exactly 32 bytes.
///
/// # Errors
///
/// [`ProofError::MalformedHash`] if `bytes` is not 32 bytes long.
pub fn hash_from_slice(bytes: &[u8]) -> Result<Hash, ProofError> {
    <[u8; HASH_SIZE]>::try_from(bytes)
        .map(Hash)
        .map_err(|_| ProofError::MalformedHash(format!("{} bytes, want {HASH_SIZE}", bytes.len())))
}

/// Holds every stored hash of a tree in memory, in [`stored_hash_index`] order.
///
/// For tests, tools and small trees; the server keeps the same hashes in its store.
#[derive(Clone, Debug, Default)]
pub struct MemoryHashStore {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryHashStore {
    /// Returns an empty store (a tree of size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns a store holding the tree of these entries.
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut store = Self::new();
        for entry in entries {
            store.append(entry);
        }
        store
    }

    /// Returns the number of records (the tree size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the stored hashes, in [`stored_hash_index`] order.
    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends an entry (hashed with [`record_hash`]) and returns its leaf index.
    pub fn append(&mut self, entry: &[u8]) -> u64 {
        self.append_record_hash(record_hash(entry))
    }

    /// Appends a leaf given by its record hash and returns its leaf index.
    ///
    /// Adds the leaf hash and the hash of every subtree the leaf completes, computed by
    /// `tlog_tiles::stored_hashes_for_record_hash`.
    ///
    /// # Panics
    ///
    /// Never in practice: the store always holds the earlier hashes that computation
    /// reads, and a tree cannot reach [`MAX_TREE_SIZE`] in memory.
    pub fn append_record_hash(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.size;
        let new = tlog_tiles::stored_hashes_for_record_hash(index, leaf_hash, self)
            .expect("a MemoryHashStore holds every earlier stored hash");
        debug_assert_eq!(self.hashes.len() as u64, stored_hash_index(0, index));
        self.hashes.extend(new);
        self.size += 1;
        index
    }

    /// Returns the root of the whole tree ([`EMPTY_HASH`] when empty).
    ///
    /// # Panics
    ///
    /// Never in practice: the store holds every hash of its own tree.
    pub fn root(&self) -> Hash {
        tree_hash(self.size, self).expect("a MemoryHashStore holds every hash of its tree")
    }
}

impl HashReader for MemoryHashStore {
    /// Returns the stored hashes at `indexes`; fails with
    /// `tlog_tiles::Error::IndexesNotInTree` if any index is not stored yet.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        hash_from_hex(s).unwrap()
    }

    /// The leaves and roots of the RFC 6962 test vectors (from the original CT code,
    /// as in transparency-dev/merkle `testonly/constants.go`).
    fn vector_leaves() -> Vec<Vec<u8>> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|s| hex::decode(s).unwrap())
        .collect()
    }

    const VECTOR_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    #[test]
    fn empty_tree_hash_is_sha256_of_nothing() {
        assert_eq!(EMPTY_HASH, h(VECTOR_ROOTS[0]));
        assert_eq!(MemoryHashStore::new().root(), EMPTY_HASH);
        assert_eq!(
            hash_to_base64(&EMPTY_HASH),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn known_roots_rfc6962_vectors() {
        let mut store = MemoryHashStore::new();
        for (i, leaf) in vector_leaves().iter().enumerate() {
            store.append(leaf);
            assert_eq!(store.root(), h(VECTOR_ROOTS[i + 1]), "size {}", i + 1);
        }
    }

    #[test]
    fn known_proofs_rfc6962_vectors() {
        let mut store = MemoryHashStore::new();
        let leaves = vector_leaves();
        for leaf in &leaves {
            store.append(leaf);
        }
        let root = |n: usize| h(VECTOR_ROOTS[n]);
        // (leaf index, tree size, path), from transparency-dev/merkle proof/verify_test.go
        // (which numbers leaves from 1).
        let inclusion: &[(u64, u64, &[&str])] = &[
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                3,
                &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
            ),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for &(index, size, path) in inclusion {
            let path: Vec<Hash> = path.iter().map(|s| h(s)).collect();
            let leaf = record_hash(&leaves[index as usize]);
            verify_inclusion(index, size, &leaf, &path, &root(size as usize)).unwrap();
            assert_eq!(prove_inclusion(index, size, &store).unwrap(), path);
        }
        let consistency: &[(u64, u64, &[&str])] = &[
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
            (
                6,
                7,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for &(old, new, path) in consistency {
            let path: Vec<Hash> = path.iter().map(|s| h(s)).collect();
            verify_consistency(old, new, &root(old as usize), &root(new as usize), &path).unwrap();
            assert_eq!(prove_consistency(old, new, &store).unwrap(), path);
        }
    }

    #[test]
    fn consistency_edge_cases() {
        let a = record_hash(b"a");
        let b = record_hash(b"b");
        // The empty tree is a prefix of everything, whatever roots are claimed.
        verify_consistency(0, 0, &a, &a, &[]).unwrap();
        verify_consistency(0, 5, &a, &b, &[]).unwrap();
        assert_eq!(
            verify_consistency(0, 0, &a, &b, &[]),
            Err(ProofError::Mismatch)
        );
        verify_consistency(3, 3, &b, &b, &[]).unwrap();
        assert_eq!(
            verify_consistency(3, 3, &a, &b, &[]),
            Err(ProofError::Mismatch)
        );
        assert!(matches!(
            verify_consistency(3, 3, &a, &a, &[a]),
            Err(ProofError::WrongProofLength { .. })
        ));
        assert!(matches!(
            verify_consistency(0, 1, &a, &a, &[a]),
            Err(ProofError::WrongProofLength { .. })
        ));
        assert!(matches!(
            verify_consistency(1, 2, &a, &b, &[]),
            Err(ProofError::WrongProofLength { .. })
        ));
        assert!(matches!(
            verify_consistency(2, 1, &a, &b, &[]),
            Err(ProofError::SizeOrder { .. })
        ));
        assert!(!ProofError::SizeOrder {
            old_size: 2,
            new_size: 1
        }
        .is_mismatch());
        // Huge sizes do not overflow in verification.
        let _ = verify_consistency(u64::MAX - 1, u64::MAX, &a, &b, &[a; 3]);
        let _ = verify_inclusion(u64::MAX - 1, u64::MAX, &a, &[a; 64], &b);
    }

    #[test]
    fn inclusion_edge_cases() {
        let a = record_hash(b"a");
        verify_inclusion(0, 1, &a, &[], &a).unwrap();
        assert_eq!(
            verify_inclusion(0, 1, &a, &[], &EMPTY_HASH),
            Err(ProofError::Mismatch)
        );
        for (i, n) in [(0, 0), (1, 0), (2, 1), (1, 1)] {
            assert_eq!(
                verify_inclusion(i, n, &a, &[], &a),
                Err(ProofError::IndexOutOfRange {
                    leaf_index: i,
                    tree_size: n
                })
            );
        }
        let store = MemoryHashStore::from_entries([&b"a"[..], b"b"]);
        assert!(matches!(
            prove_inclusion(2, 2, &store),
            Err(ProofError::IndexOutOfRange { .. })
        ));
        assert!(matches!(
            prove_inclusion(0, 3, &store),
            Err(ProofError::Storage(_))
        ));
        assert!(matches!(
            prove_inclusion(0, u64::MAX, &store),
            Err(ProofError::TreeTooLarge(_))
        ));
        assert!(matches!(
            prove_consistency(3, 2, &store),
            Err(ProofError::SizeOrder { .. })
        ));
        assert_eq!(prove_consistency(0, 2, &store).unwrap(), vec![]);
    }

    #[test]
    fn hash_encodings() {
        let x = record_hash(b"x");
        assert_eq!(hash_from_base64(&hash_to_base64(&x)).unwrap(), x);
        assert_eq!(hash_from_hex(&hash_to_hex(&x)).unwrap(), x);
        assert_eq!(hash_from_hex(&hash_to_hex(&x).to_uppercase()).unwrap(), x);
        for bad in [
            "",
            "AAAA",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "!!",
        ] {
            assert!(matches!(
                hash_from_base64(bad),
                Err(ProofError::MalformedHash(_))
            ));
        }
        // Non-canonical trailing bits are rejected.
        assert!(hash_from_base64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=").is_err());
        assert!(hash_from_hex("00").is_err());
        assert!(hash_from_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn node_and_record_hash_match_tlog_tiles() {
        let (a, b) = (record_hash(b"a"), record_hash(b"b"));
        assert_eq!(a, tlog_tiles::record_hash(b"a"));
        assert_eq!(node_hash(&a, &b), tlog_tiles::node_hash(a, b));
    }
}
