//! A witness's `add-checkpoint` requests as the tests write them (C2SP tlog-witness):
//! a tree of test entries, its checkpoint signed by a log key, the consistency proof
//! from an older size, and the request body.

use urne_client::checkpoint::Checkpoint;
use urne_client::note::SignerKey;
use urne_client::tree::{self, MemoryHashStore};

/// A tree of `n` entries tagged `tag`.
pub fn tree_of(n: usize, tag: &str) -> MemoryHashStore {
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("{tag} {i}").into_bytes()).collect();
    MemoryHashStore::from_entries(entries.iter().map(|e| e.as_slice()))
}

/// The checkpoint of `t` signed by `key`.
pub fn signed(key: &SignerKey, t: &MemoryHashStore) -> String {
    Checkpoint {
        origin: key.name().to_string(),
        size: t.size(),
        root: t.root(),
        extensions: vec![],
    }
    .sign(key)
}

/// An `add-checkpoint` body: `old`, the proof, a blank line, the note.
pub fn body(old: u64, proof: &[tree::Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&tree::hash_to_base64(h));
        b.push('\n');
    }
    b.push('\n');
    b.push_str(note);
    b
}

/// The proof from `old` to the whole of `t`.
pub fn proof(t: &MemoryHashStore, old: u64) -> Vec<tree::Hash> {
    tree::prove_consistency(old, t.size(), t).unwrap()
}
