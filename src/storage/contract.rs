//! The storage contract as executable checks, run against every [`Store`]: memory,
//! RocksDB and PostgreSQL (`tests/storage.rs`).
//!
//! Owns: what every store must answer, after which commits, including the fence.
//! Hidden from the documentation: a test helper shared by the integration tests.

use super::{Commit, LeafIndex, StorageError, Store, StoredHashIndex, TreeHead};
use urne_client::tree::Hash;

fn h(n: u8) -> Hash {
    Hash([n; 32])
}

fn head(size: u64, n: u8) -> TreeHead {
    TreeHead {
        size,
        root: h(n),
        checkpoint: format!("contract.test/log\n{size}\nroot-{n}\n\n— sig\n"),
    }
}

fn batch(from: u64, n: u64, extends: Option<(u64, Hash)>, root: u8) -> Commit {
    let mut c = Commit {
        extends,
        ..Commit::default()
    };
    for i in from..from + n {
        c.entries
            .push((LeafIndex(i), format!("entry {i}").into_bytes()));
        c.hashes.push((StoredHashIndex(i * 2), h(i as u8)));
        c.leaves.push((h(100 + i as u8), LeafIndex(i)));
        c.lookups.push((b"vsubject".to_vec(), LeafIndex(i)));
        c.lookups.push((format!("r{i}").into_bytes(), LeafIndex(i)));
    }
    c.state.push((
        b"state-key".to_vec(),
        format!("after {}", from + n).into_bytes(),
    ));
    c.stats
        .push(("e1".into(), format!("{}", from + n).into_bytes()));
    c.head = Some(head(from + n, root));
    c
}

/// Runs every check on `store`, which must be empty. Panics with the check that
/// failed.
pub fn check(store: &dyn Store) {
    // An empty store: not found is empty, never an error.
    assert_eq!(store.head().unwrap(), None);
    assert!(store.entries(0, 0).unwrap().is_empty());
    assert_eq!(store.leaf_index(&h(1)).unwrap(), None);
    assert_eq!(store.state(b"nothing").unwrap(), None);
    assert_eq!(
        store
            .states(&[b"nothing".to_vec(), b"else".to_vec()])
            .unwrap(),
        vec![None, None]
    );
    assert!(store.states(&[]).unwrap().is_empty());
    assert_eq!(store.leaf_indexes(&[h(1)]).unwrap(), vec![None]);
    assert!(store.leaf_indexes(&[]).unwrap().is_empty());
    assert!(store.lookup(b"vsubject", 0, 10).unwrap().is_empty());
    assert_eq!(store.stats("e1").unwrap(), None);
    assert!(store.elections().unwrap().is_empty());
    assert_eq!(store.checkpoint_at(0).unwrap(), None);
    assert_eq!(store.staged().unwrap(), None);

    // The empty tree, unfenced (a new log).
    let empty = head(0, 0);
    store
        .commit(Commit {
            head: Some(empty.clone()),
            ..Commit::default()
        })
        .unwrap();
    assert_eq!(store.head().unwrap(), Some(empty.clone()));
    assert_eq!(
        store.checkpoint_at(0).unwrap(),
        Some(empty.checkpoint.clone())
    );

    // A batch extending it: everything visible together.
    store.commit(batch(0, 3, Some((0, h(0))), 7)).unwrap();
    let h3 = store.head().unwrap().unwrap();
    assert_eq!((h3.size, h3.root), (3, h(7)));
    assert_eq!(
        store.entries(0, 3).unwrap(),
        vec![
            b"entry 0".to_vec(),
            b"entry 1".to_vec(),
            b"entry 2".to_vec()
        ]
    );
    assert_eq!(store.entries(1, 2).unwrap(), vec![b"entry 1".to_vec()]);
    assert_eq!(
        store.read_hashes(&[4, 0, 2]).unwrap(),
        vec![h(2), h(0), h(1)]
    );
    assert_eq!(store.leaf_index(&h(101)).unwrap(), Some(1));
    // Many at once: in the order asked, absent ones `None`, a repeated one twice.
    assert_eq!(
        store.leaf_indexes(&[h(102), h(1), h(100), h(102)]).unwrap(),
        vec![Some(2), None, Some(0), Some(2)]
    );
    assert_eq!(
        store
            .states(&[
                b"nothing".to_vec(),
                b"state-key".to_vec(),
                b"state-key".to_vec(),
                b"state-ke".to_vec(),
            ])
            .unwrap(),
        vec![
            None,
            Some(b"after 3".to_vec()),
            Some(b"after 3".to_vec()),
            None
        ]
    );
    assert_eq!(store.lookup(b"vsubject", 0, 10).unwrap(), vec![0, 1, 2]);
    // A page: from an index, at most `limit`; a subject that is a prefix of another
    // sees only its own rows.
    assert_eq!(store.lookup(b"vsubject", 1, 1).unwrap(), vec![1]);
    assert_eq!(store.lookup(b"vsub", 0, 10).unwrap(), Vec::<u64>::new());
    assert_eq!(store.lookup(b"r2", 0, 10).unwrap(), vec![2]);
    assert_eq!(
        store.state(b"state-key").unwrap(),
        Some(b"after 3".to_vec())
    );
    assert_eq!(store.stats("e1").unwrap(), Some(b"3".to_vec()));
    assert_eq!(store.elections().unwrap(), vec!["e1".to_string()]);
    assert_eq!(store.checkpoint_at(3).unwrap(), Some(h3.checkpoint.clone()));
    assert_eq!(store.checkpoint_at(0).unwrap(), Some(empty.checkpoint));

    // Missing records are corruption, not "not found".
    assert!(matches!(
        store.entries(2, 5),
        Err(StorageError::Corrupt { .. })
    ));
    assert!(matches!(
        store.read_hashes(&[0, 99]),
        Err(StorageError::Corrupt { .. })
    ));

    // The fence: a batch extending a head that is not the head (a stale size, or the
    // right size with another root) writes nothing at all.
    for stale in [Some((0, h(0))), Some((3, h(8))), Some((2, h(7)))] {
        let r = store.commit(batch(3, 2, stale, 9));
        assert!(
            matches!(r, Err(StorageError::Fenced(_))),
            "extends {stale:?}: {r:?}"
        );
        assert_eq!(store.head().unwrap(), Some(h3.clone()));
        assert_eq!(store.leaf_index(&h(103)).unwrap(), None);
        assert_eq!(store.leaf_indexes(&[h(103)]).unwrap(), vec![None]);
        assert_eq!(store.checkpoint_at(5).unwrap(), None);
        assert_eq!(
            store.state(b"state-key").unwrap(),
            Some(b"after 3".to_vec())
        );
        assert_eq!(store.lookup(b"vsubject", 0, 10).unwrap(), vec![0, 1, 2]);
        assert!(store.entries(3, 4).is_err());
    }

    // The right head: applied; state and statistics are replaced.
    store.commit(batch(3, 2, Some((3, h(7))), 9)).unwrap();
    assert_eq!(store.head().unwrap().map(|h| h.size), Some(5));
    assert_eq!(store.entries(0, 5).unwrap().len(), 5);
    assert_eq!(store.lookup(b"vsubject", 2, 10).unwrap(), vec![2, 3, 4]);
    assert_eq!(
        store.state(b"state-key").unwrap(),
        Some(b"after 5".to_vec())
    );
    assert_eq!(
        store.states(&[b"state-key".to_vec()]).unwrap(),
        vec![Some(b"after 5".to_vec())]
    );
    assert_eq!(store.stats("e1").unwrap(), Some(b"5".to_vec()));

    // A mirror's staged size, without a head.
    store
        .commit(Commit {
            staged: Some(9),
            ..Commit::default()
        })
        .unwrap();
    assert_eq!(store.staged().unwrap(), Some(9));
    assert_eq!(store.head().unwrap().map(|h| h.size), Some(5));
}

/// Runs the [`super::NoteStore`] checks on `store`, which must be empty. `flip`
/// flips a byte of the record stored for an origin, as damage or a hand edit would.
pub fn check_notes(store: &dyn super::NoteStore, flip: &dyn Fn(&str)) {
    let a = "contract.test/a";
    let b = "contract.test/b";
    assert_eq!(store.latest(a).unwrap(), None);
    store.put(a, "note a1\n\n— sig\n").unwrap();
    store.put(b, "note b1\n\n— sig\n").unwrap();
    store.put(a, "note a2\n\n— sig\n").unwrap();
    // The last write per origin, and only that origin's.
    assert_eq!(
        store.latest(a).unwrap().as_deref(),
        Some("note a2\n\n— sig\n")
    );
    assert_eq!(
        store.latest(b).unwrap().as_deref(),
        Some("note b1\n\n— sig\n")
    );
    // A flipped byte is damage, refused with a clear error, never a note believed;
    // the other origin's record is unaffected.
    flip(a);
    match store.latest(a) {
        Err(StorageError::Corrupt { what, detail }) => {
            assert!(what.contains(a), "{what}");
            assert!(detail.contains("not trusted"), "{detail}");
        }
        other => panic!("a damaged note was not refused: {other:?}"),
    }
    assert_eq!(
        store.latest(b).unwrap().as_deref(),
        Some("note b1\n\n— sig\n")
    );
    // A new write replaces the damaged record.
    store.put(a, "note a3\n\n— sig\n").unwrap();
    assert_eq!(
        store.latest(a).unwrap().as_deref(),
        Some("note a3\n\n— sig\n")
    );
}

/// Runs the [`super::EvidenceStore`] checks on `store`, which must be empty. `flip`
/// flips a byte of the `n`th piece stored, as damage or a hand edit would.
pub fn check_evidence(store: &dyn super::EvidenceStore, flip: &dyn Fn(usize)) {
    assert!(store.load_evidence().unwrap().is_empty());
    for i in 0..3 {
        store.add_evidence(&format!("{{\"piece\":{i}}}")).unwrap();
    }
    // Oldest first, nothing lost.
    assert_eq!(
        store.load_evidence().unwrap(),
        vec![
            "{\"piece\":0}".to_string(),
            "{\"piece\":1}".into(),
            "{\"piece\":2}".into()
        ]
    );
    flip(1);
    match store.load_evidence() {
        Err(StorageError::Corrupt { detail, .. }) => {
            assert!(detail.contains("not trusted"), "{detail}")
        }
        other => panic!("damaged evidence was not refused: {other:?}"),
    }
}
