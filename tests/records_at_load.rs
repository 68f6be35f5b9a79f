//! The side records are checked when loaded, not only checksummed: what a witness
//! holds and the equivocation evidence a party kept are believed only if the log's
//! key says so. The attacker rewrites the store consistently (checksum included),
//! or flips a byte; either way the party refuses to start, with a clear error, and
//! never cosigns from, or serves, what it did not verify.

use std::sync::Arc;
use urne::gossip::{Evidence, Gossiper};
use urne::storage::{EvidenceStore as _, MemoryEvidence, SideDb};
use urne::witness::{AddOutcome, Witness};
use urne_client::checkpoint::{Checkpoint, CosignerKey};
use urne_client::note::SignerKey;
use urne_client::tree::Hash;

const ORIGIN: &str = "trust.test/log";

fn signed(key: &SignerKey, size: u64, root: u8) -> String {
    Checkpoint {
        origin: ORIGIN.into(),
        size,
        root: Hash([root; 32]),
        extensions: vec![],
    }
    .sign(key)
}

fn witness_key() -> CosignerKey {
    CosignerKey::from_seed("w.trust.test", [5; 32]).unwrap()
}

fn open_error(dir: &std::path::Path, log: &SignerKey) -> String {
    match Witness::open(dir, witness_key(), vec![log.verifier().clone()]) {
        Ok(_) => panic!("the witness started on a record it cannot trust"),
        Err(e) => format!("{e:#}"),
    }
}

/// A witness whose note was replaced by one the log did not sign (checksum made to
/// match), or damaged by a flipped byte, refuses to start; the genuine note starts.
#[test]
fn a_witness_refuses_a_note_it_cannot_verify() {
    let log = SignerKey::from_seed(ORIGIN, [1; 32]).unwrap();
    let forger = SignerKey::from_seed(ORIGIN, [2; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let w = Witness::open(dir.path(), witness_key(), vec![log.verifier().clone()]).unwrap();
        let body = format!("old 0\n\n{}", signed(&log, 3, 7));
        assert!(matches!(
            w.add_checkpoint(body.as_bytes(), 1),
            AddOutcome::Cosigned(_)
        ));
    }
    let db = dir.path().join("witness-db");
    let genuine = {
        let side = SideDb::open(&db, "\0equivocation/").unwrap();
        let genuine = side.get(ORIGIN).unwrap().unwrap();
        // A larger tree, with a consistent checksum, signed by another key.
        side.set(ORIGIN, &signed(&forger, 1000, 9)).unwrap();
        genuine
    };
    let err = open_error(dir.path(), &log);
    assert!(
        err.contains("cannot be trusted") && err.contains("does not verify"),
        "{err}"
    );
    {
        let side = SideDb::open(&db, "\0equivocation/").unwrap();
        side.set(ORIGIN, &genuine).unwrap();
        side.flip_byte(ORIGIN.as_bytes(), 40);
    }
    let err = open_error(dir.path(), &log);
    assert!(err.contains("not trusted"), "{err}");
    {
        let side = SideDb::open(&db, "\0equivocation/").unwrap();
        side.set(ORIGIN, &genuine).unwrap();
    }
    let w = Witness::open(dir.path(), witness_key(), vec![log.verifier().clone()]).unwrap();
    assert_eq!(w.gossip()[0].size, 3);
}

fn piece(a: &str, b: &str) -> String {
    serde_json::json!({
        "origin": ORIGIN,
        "reason": "two roots for one size",
        "note_a": a,
        "note_b": b,
        "proof": [],
        "old_root_from_proof": null,
        "source": "test",
    })
    .to_string()
}

/// Evidence is served only if it proves an equivocation with the log key: a planted
/// piece (notes the log never signed) makes the party refuse to start; a genuine one
/// (two log-signed roots for one size) is loaded and served.
#[test]
fn planted_evidence_is_refused_genuine_evidence_is_kept() {
    let log = SignerKey::from_seed(ORIGIN, [1; 32]).unwrap();
    let forger = SignerKey::from_seed(ORIGIN, [2; 32]).unwrap();
    let gossip = |store: Arc<MemoryEvidence>| {
        Gossiper::new(
            vec![log.verifier().clone()],
            vec![],
            vec![],
            Evidence::open(store)?,
        )
    };
    let planted = Arc::new(MemoryEvidence::new());
    planted
        .add_evidence(&piece(&signed(&forger, 4, 1), &signed(&forger, 4, 2)))
        .unwrap();
    let err = format!("{:#}", gossip(planted).err().expect("refused"));
    assert!(err.contains("does not verify"), "{err}");

    let genuine = Arc::new(MemoryEvidence::new());
    genuine
        .add_evidence(&piece(&signed(&log, 4, 1), &signed(&log, 4, 2)))
        .unwrap();
    let g = gossip(genuine.clone()).unwrap();
    assert_eq!(g.equivocations().len(), 1);
    // The same incident added again by another instance is one record.
    genuine
        .add_evidence(&piece(&signed(&log, 4, 1), &signed(&log, 4, 2)))
        .unwrap();
    assert_eq!(gossip(genuine).unwrap().equivocations().len(), 1);
}
