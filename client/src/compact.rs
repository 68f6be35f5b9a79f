//! Compact ranges: the root of a growing tree in O(log n) memory.
//!
//! A monitor that downloads millions of entries does not keep every stored hash: it
//! keeps one hash per complete subtree on the left border of the tree (one per set bit
//! of the size, largest first), appends leaf hashes, and compares the root with each
//! checkpoint. This is the "compact range" of transparency-dev/merkle's `compact`
//! package and the hashes [`tlog_tiles::sub_tree_index`] names.
//!
//! This module owns [`CompactRange`] and its byte and serde encodings. It does not own
//! hashing or proofs ([`crate::tree`]), fetching entries ([`crate::tiles`]), or the
//! monitor's persistence (the caller stores [`CompactRange::to_bytes`]).

use serde::{Deserialize, Serialize};

use crate::tree::{node_hash, Hash, HashReader, ProofError, EMPTY_HASH, HASH_SIZE, MAX_TREE_SIZE};

/// The hashes of the maximal complete subtrees of a tree, left to right.
///
/// For a tree of `size` leaves, writing `size = 2^a + 2^b + …` with `a > b > …`, the
/// range holds `MTH(D[0:2^a])`, `MTH(D[2^a:2^a+2^b])`, … (RFC 6962 §2.1): exactly one
/// hash per set bit of `size`. The root folds them right to left with [`node_hash`],
/// which is RFC 6962's split at the largest power of two below the size.
///
/// Serde encodes it as `{"size": n, "hashes": [base64, …]}` and checks the hash count
/// when decoding.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "CompactRangeRepr", into = "CompactRangeRepr")]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

// tlog_tiles::Hash implements PartialEq only; its bytes are plain data, so equality is
// an equivalence relation.
impl Eq for CompactRange {}

/// The serde form of a [`CompactRange`]: base64 hashes, as in checkpoints.
#[derive(Serialize, Deserialize)]
struct CompactRangeRepr {
    size: u64,
    hashes: Vec<String>,
}

impl From<CompactRange> for CompactRangeRepr {
    fn from(c: CompactRange) -> Self {
        CompactRangeRepr {
            size: c.size,
            hashes: c.hashes.iter().map(crate::tree::hash_to_base64).collect(),
        }
    }
}

impl TryFrom<CompactRangeRepr> for CompactRange {
    type Error = ProofError;

    fn try_from(r: CompactRangeRepr) -> Result<Self, ProofError> {
        let hashes = r
            .hashes
            .iter()
            .map(|s| crate::tree::hash_from_base64(s))
            .collect::<Result<Vec<_>, _>>()?;
        CompactRange::from_parts(r.size, hashes)
    }
}

impl CompactRange {
    /// Returns the range of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of leaves appended so far (the tree size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the subtree hashes, largest (leftmost) subtree first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf given by its record hash (`SHA-256(0x00 ‖ entry)`, see
    /// [`crate::tree::record_hash`]).
    ///
    /// Each trailing set bit of the old size is a subtree of the same size as the one
    /// being built, so they merge: `h = HASH(0x01 ‖ left ‖ h)` (RFC 6962 §2.1).
    ///
    /// # Panics
    ///
    /// Never in practice: the size is capped at [`MAX_TREE_SIZE`] on every way in, and
    /// appending `2^62` leaves one by one is out of reach.
    pub fn append(&mut self, leaf_hash: Hash) {
        let mut h = leaf_hash;
        let mut s = self.size;
        while s & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                debug_assert!(false, "one hash per set bit of size");
                break;
            };
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// Returns the root `MTH(D[0:size])` (RFC 6962 §2.1): [`EMPTY_HASH`] for an empty
    /// tree, otherwise the subtree hashes folded right to left with [`node_hash`].
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return EMPTY_HASH;
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// Builds a range from its size and hashes, as returned by [`CompactRange::size`]
    /// and [`CompactRange::hashes`].
    ///
    /// # Errors
    ///
    /// [`ProofError::MalformedCompactRange`] unless there is exactly one hash per set
    /// bit of `size`, [`ProofError::TreeTooLarge`] above [`MAX_TREE_SIZE`].
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, ProofError> {
        if size > MAX_TREE_SIZE {
            return Err(ProofError::TreeTooLarge(size));
        }
        if hashes.len() != size.count_ones() as usize {
            return Err(ProofError::MalformedCompactRange(format!(
                "size {size} needs {} hashes, got {}",
                size.count_ones(),
                hashes.len()
            )));
        }
        Ok(CompactRange { size, hashes })
    }

    /// Reads the range of the tree of `size` leaves from stored hashes: the hashes at
    /// `tlog_tiles::sub_tree_index(0, size)`. Lets a monitor resume from a tree it
    /// trusts (for example through [`crate::tiles::TileHashVerifier`]).
    ///
    /// # Errors
    ///
    /// [`ProofError::TreeTooLarge`], or [`ProofError::Storage`] when `r` fails or
    /// returns the wrong number of hashes.
    pub fn from_hash_reader<R: HashReader>(size: u64, r: &R) -> Result<Self, ProofError> {
        if size > MAX_TREE_SIZE {
            return Err(ProofError::TreeTooLarge(size));
        }
        let indexes = tlog_tiles::sub_tree_index(0, size, Vec::new());
        let hashes = r
            .read_hashes(&indexes)
            .map_err(|e| ProofError::Storage(e.to_string()))?;
        if hashes.len() != indexes.len() {
            return Err(ProofError::Storage(format!(
                "asked for {} hashes, got {}",
                indexes.len(),
                hashes.len()
            )));
        }
        Self::from_parts(size, hashes)
    }

    /// Encodes the range as the 8-byte big-endian size followed by the hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + HASH_SIZE * self.hashes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Decodes the encoding of [`CompactRange::to_bytes`], strictly.
    ///
    /// # Errors
    ///
    /// [`ProofError::MalformedCompactRange`] if the bytes are truncated, too long, or
    /// hold the wrong number of hashes for the size; [`ProofError::TreeTooLarge`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProofError> {
        let Some((size, rest)) = bytes.split_first_chunk::<8>() else {
            return Err(ProofError::MalformedCompactRange(
                "shorter than the 8-byte size".into(),
            ));
        };
        let size = u64::from_be_bytes(*size);
        if rest.len() % HASH_SIZE != 0 {
            return Err(ProofError::MalformedCompactRange(format!(
                "{} bytes of hashes is not a multiple of {HASH_SIZE}",
                rest.len()
            )));
        }
        let hashes = rest
            .chunks_exact(HASH_SIZE)
            .map(crate::tree::hash_from_slice)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_parts(size, hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{hash_from_hex, record_hash, MemoryHashStore};

    fn h(s: &str) -> Hash {
        hash_from_hex(s).unwrap()
    }

    /// transparency-dev/merkle `testonly/constants.go`: the compact ranges of the trees
    /// of the RFC 6962 test leaves.
    #[test]
    fn known_compact_ranges() {
        let leaves = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let l0_2 = h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7");
        let l0_4 = h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
        let l0_6 = h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f");
        let l1_0 = h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
        let l1_2 = h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a");
        let l2_0 = h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
        let l3_0 = h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
        let want: [&[Hash]; 8] = [
            &[h(
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            )],
            &[l1_0],
            &[l1_0, l0_2],
            &[l2_0],
            &[l2_0, l0_4],
            &[l2_0, l1_2],
            &[l2_0, l1_2, l0_6],
            &[l3_0],
        ];
        let mut c = CompactRange::new();
        assert_eq!(c.root(), EMPTY_HASH);
        let mut store = MemoryHashStore::new();
        for (leaf, want) in leaves.iter().zip(want) {
            let leaf = hex::decode(leaf).unwrap();
            c.append(record_hash(&leaf));
            store.append(&leaf);
            assert_eq!(c.hashes(), want);
            assert_eq!(c.root(), store.root());
            assert_eq!(
                CompactRange::from_hash_reader(store.size(), &store).unwrap(),
                c
            );
        }
    }

    #[test]
    fn encodings_round_trip_and_reject() {
        let mut c = CompactRange::new();
        for i in 0u32..300 {
            let bytes = c.to_bytes();
            assert_eq!(CompactRange::from_bytes(&bytes).unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<CompactRange>(&json).unwrap(), c);
            // Every truncation and any extra byte is rejected.
            for n in 0..bytes.len() {
                assert!(CompactRange::from_bytes(&bytes[..n]).is_err());
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(CompactRange::from_bytes(&longer).is_err());
            c.append(record_hash(&i.to_be_bytes()));
        }
        // A size whose popcount disagrees with the hashes.
        let mut bytes = c.to_bytes();
        bytes[7] ^= 1;
        assert!(matches!(
            CompactRange::from_bytes(&bytes),
            Err(ProofError::MalformedCompactRange(_))
        ));
        assert!(matches!(
            CompactRange::from_parts(u64::MAX, vec![EMPTY_HASH; 64]),
            Err(ProofError::TreeTooLarge(_))
        ));
        assert!(serde_json::from_str::<CompactRange>(r#"{"size":1,"hashes":[]}"#).is_err());
        assert!(serde_json::from_str::<CompactRange>(r#"{"size":1,"hashes":["AA=="]}"#).is_err());
    }
}
