//! The absence filter of the monitor's rule state: a Bloom filter of a fixed size
//! over the keys the store holds, so that a key it does not hold is answered without
//! reading the store.
//!
//! Owns: [`Absent`] (insert a key, ask whether a key may be present) and its size
//! ([`FILTER_BYTES`]). Does not own: the keys (`urne_client::rules::StateKey`'s
//! encoding), when keys enter it (`store.rs`).
//!
//! # Why
//!
//! Most of the lookups an audit makes are of keys that are not there: every statement
//! asks whether its text was seen before, a ballot whether its receipt was used and
//! its voter voted, a credential whether its tag was issued and its voter known. In a
//! store on disk each of these reads a page of a B-tree whose keys are hashes, so a
//! random page: the filter answers them from memory. A key the filter has never seen
//! is certainly absent; a key it has seen, or one of its false positives, is read
//! from the store, so an answer is never wrong, only sometimes slower.
//!
//! # Bounded
//!
//! Its size is fixed whatever the log holds: 32 MiB, one bit set in each of
//! [`PROBES`] 64-bit words of a 512-bit block per key. At 10 million entries (about
//! 30 million keys, 9 bits a key) about 2 % of absent keys are read anyway; at 20
//! million, about a quarter: the filter thins out, it does not grow. It is rebuilt from the store when the monitor starts (a scan
//! of the keys), so nothing of it is written to disk and it cannot disagree with the
//! store after a crash: it holds every committed key, and perhaps keys of a batch that
//! was never committed (false positives, nothing more).

/// The filter's size in bytes.
pub const FILTER_BYTES: usize = 32 << 20;

/// Bits set per key, one in each of this many words of the key's block.
const PROBES: usize = 8;

/// Words per block (a 64-byte cache line: one memory read per question).
const BLOCK_WORDS: usize = 8;

/// A Bloom filter of [`FILTER_BYTES`] over encoded keys.
pub struct Absent {
    words: Vec<u64>,
}

impl Default for Absent {
    fn default() -> Self {
        Absent::new()
    }
}

/// SplitMix64's finaliser: a good 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Two 64-bit hashes of `key` (FNV-1a over 8-byte words, then mixed): the keys are
/// mostly random tags already, and nothing here is adversarial beyond making a
/// lookup read the store.
fn hashes(key: &[u8]) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(23);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let a = mix(h);
    (a, mix(a ^ 0x9e37_79b9_7f4a_7c15))
}

/// Asks the kernel to back `words` with transparent huge pages (before they are
/// first touched: a fresh allocation of this size is untouched zero pages). Every
/// question reads one random block of 32 MiB: on 4 KiB pages that is a TLB miss and a
/// page walk each time (nested ones on a virtual machine), which cost more than the
/// rest of the lookup (BENCHMARKS.md, "The monitor near the signature bound"). Only
/// advice: where huge pages are off, nothing changes.
fn huge_pages(words: &mut [u64]) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = words.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(words);
        let (a, b) = (start.div_ceil(PAGE) * PAGE, end / PAGE * PAGE);
        if b > a {
            // SAFETY: [a, b) lies inside `words`, which the filter owns; the advice
            // changes how the kernel backs these pages, not their contents.
            unsafe {
                libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = words;
}

impl Absent {
    /// An empty filter.
    pub fn new() -> Self {
        let mut words = vec![0u64; FILTER_BYTES / 8];
        huge_pages(&mut words);
        Absent { words }
    }

    /// The block of `key` and the bit in each of its words.
    fn probe(&self, key: &[u8]) -> (usize, [u64; PROBES]) {
        let (a, b) = hashes(key);
        let blocks = self.words.len() / BLOCK_WORDS;
        let block = ((a as u128 * blocks as u128) >> 64) as usize * BLOCK_WORDS;
        let mut bits = [0u64; PROBES];
        for (i, bit) in bits.iter_mut().enumerate() {
            *bit = 1u64 << ((b >> (6 * i)) & 63);
        }
        (block, bits)
    }

    /// Adds `key` (an encoded state key).
    pub fn insert(&mut self, key: &[u8]) {
        let (block, bits) = self.probe(key);
        for (w, bit) in self.words[block..block + BLOCK_WORDS].iter_mut().zip(bits) {
            *w |= bit;
        }
    }

    /// Reports whether `key` may have been added (`false`: it certainly was not).
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let (block, bits) = self.probe(key);
        self.words[block..block + BLOCK_WORDS]
            .iter()
            .zip(bits)
            .all(|(w, bit)| w & bit != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::Absent;

    #[test]
    fn every_key_added_is_found_and_few_others_are() {
        let mut f = Absent::new();
        let key = |i: u32| {
            let mut k = b"Velection-1".to_vec();
            k.extend_from_slice(&urne_client::tree::record_hash(&i.to_be_bytes()).0);
            k
        };
        for i in 0..200_000 {
            f.insert(&key(i));
        }
        assert!(
            (0..200_000).all(|i| f.may_contain(&key(i))),
            "no false negative"
        );
        let false_positives = (200_000..400_000)
            .filter(|&i| f.may_contain(&key(i)))
            .count();
        // 200,000 keys in 32 MiB: a false positive is about one in a million.
        assert!(false_positives < 20, "{false_positives} false positives");
        assert!(
            !Absent::new().may_contain(b"E"),
            "an empty filter holds nothing"
        );
    }
}
