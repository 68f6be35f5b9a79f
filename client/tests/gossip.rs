//! Equivocation evidence: what `Equivocation::verify` accepts with the log key alone.
//! Real Ed25519 log keys, real trees and proofs; every kind of true evidence is
//! accepted, and forged evidence built from honest checkpoints is refused, in
//! particular the empty tree (a consistency proof from size 0 proves nothing).

use urne_client::checkpoint::Checkpoint;
use urne_client::gossip::Equivocation;
use urne_client::note::SignerKey;
use urne_client::tree::{
    hash_to_base64, prove_consistency, record_hash, tree_hash, Hash, MemoryHashStore, EMPTY_HASH,
};

const ORIGIN: &str = "log.example/urne";

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [42; 32]).unwrap()
}

fn store(n: u64, history: &str) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for i in 0..n {
        s.append(format!("{history} entry {i}").as_bytes());
    }
    s
}

/// A checkpoint of `root` at `size`, signed by `key`.
fn signed(key: &SignerKey, size: u64, root: Hash) -> String {
    Checkpoint {
        origin: key.name().to_string(),
        size,
        root,
        extensions: vec![],
    }
    .sign(key)
}

fn evidence(note_a: String, note_b: String, proof: &[Hash], old: Option<Hash>) -> Equivocation {
    Equivocation {
        origin: ORIGIN.into(),
        reason: "test".into(),
        note_a,
        note_b,
        proof: proof.iter().map(hash_to_base64).collect(),
        old_root_from_proof: old.as_ref().map(hash_to_base64),
        source: "test".into(),
        kind: None,
    }
}

#[test]
fn forged_evidence_from_an_honest_empty_checkpoint_is_refused() {
    let key = log_key();
    let vkey = key.verifier().clone();
    let big = store(10, "honest");
    let note_0 = signed(&key, 0, EMPTY_HASH);
    let note_10 = signed(&key, 10, tree_hash(10, &big).unwrap());
    let anything = record_hash(b"a root the log never signed");
    // The attack: verify_consistency(0, n, any root, …) accepts, and the claimed root
    // differs from note_a's root, which is all the general case checks.
    for (what, ev) in [
        (
            "made-up old root",
            evidence(note_0.clone(), note_10.clone(), &[], Some(anything)),
        ),
        (
            "made-up old root and a proof",
            evidence(note_0.clone(), note_10.clone(), &[anything], Some(anything)),
        ),
        (
            "empty-tree root claimed",
            evidence(note_0.clone(), note_10.clone(), &[], Some(EMPTY_HASH)),
        ),
        (
            "no old root",
            evidence(note_0.clone(), note_10.clone(), &[], None),
        ),
    ] {
        let err = ev.verify(&vkey).unwrap_err();
        assert!(
            err.to_string().contains("not equivocation evidence"),
            "{what}"
        );
    }
}

#[test]
fn a_signed_empty_checkpoint_with_another_root_is_evidence() {
    // A log that signs "size 0, root R" with R not the empty-tree hash signed a false
    // statement, contradicting every other checkpoint it signs.
    let key = log_key();
    let vkey = key.verifier().clone();
    let big = store(10, "honest");
    let bogus = record_hash(b"not the empty tree");
    let note_0 = signed(&key, 0, bogus);
    let note_10 = signed(&key, 10, tree_hash(10, &big).unwrap());
    evidence(note_0.clone(), note_10.clone(), &[], Some(EMPTY_HASH))
        .verify(&vkey)
        .unwrap();
    evidence(note_0.clone(), note_10.clone(), &[], None)
        .verify(&vkey)
        .unwrap();
    // But not with a claimed root at size 0 other than the empty-tree hash, nor a proof.
    assert!(evidence(note_0.clone(), note_10.clone(), &[], Some(bogus))
        .verify(&vkey)
        .is_err());
    assert!(
        evidence(note_0.clone(), note_10.clone(), &[bogus], Some(EMPTY_HASH))
            .verify(&vkey)
            .is_err()
    );
    // Two size-0 checkpoints with different roots: same size, two roots.
    let honest_0 = signed(&key, 0, EMPTY_HASH);
    evidence(honest_0.clone(), note_0, &[], None)
        .verify(&vkey)
        .unwrap();
    assert!(evidence(honest_0.clone(), honest_0, &[], None)
        .verify(&vkey)
        .is_err());
}

#[test]
fn a_fork_is_evidence_and_a_prefix_is_not() {
    let key = log_key();
    let vkey = key.verifier().clone();
    let honest = store(10, "honest");
    let fork = store(10, "fork");
    let new_root = tree_hash(10, &honest).unwrap();
    let note_b = signed(&key, 10, new_root);
    for m in 1..10 {
        let proof = prove_consistency(m, 10, &honest).unwrap();
        let honest_root = tree_hash(m, &honest).unwrap();
        let fork_root = tree_hash(m, &fork).unwrap();
        // The log showed the fork at size m: the proof from note_b leads elsewhere.
        evidence(
            signed(&key, m, fork_root),
            note_b.clone(),
            &proof,
            Some(honest_root),
        )
        .verify(&vkey)
        .unwrap_or_else(|e| panic!("fork at {m}: {e}"));
        // An honest prefix is consistent.
        assert!(evidence(
            signed(&key, m, honest_root),
            note_b.clone(),
            &proof,
            Some(honest_root)
        )
        .verify(&vkey)
        .is_err());
        // A made-up old root does not follow from the proof.
        assert!(evidence(
            signed(&key, m, honest_root),
            note_b.clone(),
            &proof,
            Some(fork_root)
        )
        .verify(&vkey)
        .is_err());
        // Larger first is refused.
        assert!(evidence(
            note_b.clone(),
            signed(&key, m, fork_root),
            &proof,
            Some(honest_root)
        )
        .verify(&vkey)
        .is_err());
    }
}

#[test]
fn same_size_two_roots_and_signatures() {
    let key = log_key();
    let vkey = key.verifier().clone();
    let a = signed(&key, 5, tree_hash(5, &store(5, "a")).unwrap());
    let b = signed(&key, 5, tree_hash(5, &store(5, "b")).unwrap());
    evidence(a.clone(), b.clone(), &[], None)
        .verify(&vkey)
        .unwrap();
    assert!(evidence(a.clone(), a.clone(), &[], None)
        .verify(&vkey)
        .is_err());
    // Only what the log key signed counts.
    let other = SignerKey::from_seed(ORIGIN, [7; 32]).unwrap();
    let forged = signed(&other, 5, tree_hash(5, &store(5, "b")).unwrap());
    assert!(evidence(a.clone(), forged.clone(), &[], None)
        .verify(&vkey)
        .is_err());
    assert!(evidence(forged, a, &[], None).verify(&vkey).is_err());
}
