//! The storage contract ([`urne::storage::contract`]) against every store: memory,
//! RocksDB on disk, and PostgreSQL started by the test (see `common/postgres.rs`).
//! Plus what only PostgreSQL has: the versioned schema and the lease's fence. And the
//! side records' contracts (a witness's notes, the equivocation evidence) on the same
//! three, with a flipped byte in a stored record as the attacker.

mod common;

use common::postgres::Postgres;
use std::time::Duration;
use urne::storage::{
    contract, Commit, EvidenceStore as _, MemoryStore, NoteStore as _, PgStore, RocksStore, SideDb,
    StorageError, Store,
};

#[test]
fn contract_memory() {
    contract::check(&MemoryStore::new());
}

#[test]
fn contract_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    contract::check(&RocksStore::open(dir.path(), 8 << 20).unwrap());
}

#[test]
fn contract_postgres() {
    let pg = Postgres::start_new();
    let url = pg.create_db("contract");
    contract::check(&PgStore::open(&url).unwrap());
    // Reopening finds the schema at its version and the data in place.
    let again = PgStore::open(&url).unwrap();
    assert_eq!(
        again.schema_version().unwrap(),
        urne::storage::postgres::SCHEMA_VERSION
    );
    assert_eq!(again.head().unwrap().map(|h| h.size), Some(5));
}

/// The lease: one holder at a time; a commit fenced with an old epoch writes nothing,
/// even when it extends the right head (a paused former leader, resumed).
#[test]
fn postgres_lease_fences_a_former_leader() {
    let pg = Postgres::start_new();
    let url = pg.create_db("lease");
    let a = PgStore::open(&url).unwrap();
    let b = PgStore::open(&url).unwrap();
    let lease = Duration::from_millis(300);
    let ea = a
        .try_lead("a", "http://a", lease)
        .unwrap()
        .expect("free lease");
    assert_eq!(b.try_lead("b", "http://b", lease).unwrap(), None, "held");
    assert!(a.renew_lead(ea, lease).unwrap());
    let row = b.leader().unwrap().unwrap();
    assert_eq!((row.holder.as_str(), row.url.as_str()), ("a", "http://a"));
    a.set_fence(ea);
    a.commit(Commit {
        head: Some(urne::storage::TreeHead {
            size: 0,
            root: urne_client::tree::EMPTY_HASH,
            checkpoint: "c0".into(),
        }),
        ..Commit::default()
    })
    .unwrap();
    // a stops renewing; after the expiry b takes over (polling, no deadline).
    let eb = loop {
        if let Some(e) = b
            .try_lead("b", "http://b", Duration::from_secs(60))
            .unwrap()
        {
            break e;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(eb > ea);
    assert!(!a.renew_lead(ea, lease).unwrap(), "a lost the lease");
    // a, resumed, commits on the head it knew: fenced, nothing written.
    let stale = Commit {
        entries: vec![(urne::storage::LeafIndex(0), b"from a".to_vec())],
        head: Some(urne::storage::TreeHead {
            size: 1,
            root: urne_client::tree::Hash([1; 32]),
            checkpoint: "c1-a".into(),
        }),
        extends: Some((0, urne_client::tree::EMPTY_HASH)),
        ..Commit::default()
    };
    assert!(matches!(a.commit(stale), Err(StorageError::Fenced(_))));
    assert_eq!(b.head().unwrap().unwrap().size, 0);
    assert!(b.entries(0, 1).is_err());
    assert_eq!(b.checkpoint_at(1).unwrap(), None);
    // b, fenced with its own epoch, appends.
    b.set_fence(eb);
    b.commit(Commit {
        entries: vec![(urne::storage::LeafIndex(0), b"from b".to_vec())],
        head: Some(urne::storage::TreeHead {
            size: 1,
            root: urne_client::tree::Hash([2; 32]),
            checkpoint: "c1-b".into(),
        }),
        extends: Some((0, urne_client::tree::EMPTY_HASH)),
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(a.entries(0, 1).unwrap(), vec![b"from b".to_vec()]);
    // A second checkpoint for a signed size is refused by the database itself, even
    // without a fence (the primary key of urne_checkpoints).
    b.set_fence(0);
    let fork = Commit {
        head: Some(urne::storage::TreeHead {
            size: 1,
            root: urne_client::tree::Hash([3; 32]),
            checkpoint: "c1-fork".into(),
        }),
        extends: Some((1, urne_client::tree::Hash([2; 32]))),
        ..Commit::default()
    };
    assert!(b.commit(fork).is_err());
    assert_eq!(a.checkpoint_at(1).unwrap().as_deref(), Some("c1-b"));
}

/// The shared halt (`urne::storage::halt`): recorded by one instance, it refuses the
/// leader's next commit (`Halted`, with the reason, nothing written), and the lease
/// to anyone once it expired; every record is read back checked, a flipped byte is
/// `Corrupt`, and a flag without a record is still a halt.
#[test]
fn postgres_halt_stops_commits_and_the_lease() {
    use urne::storage::Halt;
    let pg = Postgres::start_new();
    let url = pg.create_db("halt");
    let a = PgStore::open(&url).unwrap();
    let b = PgStore::open(&url).unwrap();
    assert_eq!(b.halt_state().unwrap().reason(), None);
    let lease = Duration::from_millis(300);
    let ea = a.try_lead("a", "http://a", lease).unwrap().unwrap();
    a.set_fence(ea);
    let head = |size: u64, root: u8| urne::storage::TreeHead {
        size,
        root: urne_client::tree::Hash([root; 32]),
        checkpoint: format!("c{size}"),
    };
    a.commit(Commit {
        head: Some(head(0, 0)),
        ..Commit::default()
    })
    .unwrap();
    let halt = Halt {
        reason: "ROLLBACK: test".into(),
        instance: "b".into(),
        tree_size: 0,
    };
    b.record_halt(&halt).unwrap();
    let batch = Commit {
        entries: vec![(urne::storage::LeafIndex(0), b"after".to_vec())],
        head: Some(head(1, 1)),
        extends: Some((0, urne_client::tree::Hash([0; 32]))),
        ..Commit::default()
    };
    match a.commit(batch) {
        Err(StorageError::Halted(why)) => assert!(why.contains("ROLLBACK: test"), "{why}"),
        other => panic!("a commit after the halt: {other:?}"),
    }
    assert_eq!(b.head().unwrap().unwrap().size, 0);
    assert!(b.entries(0, 1).is_err());
    // The lease expires and nobody takes it (polled past its expiry).
    a.release_lead(ea).unwrap();
    for _ in 0..10 {
        assert_eq!(b.try_lead("b", "http://b", lease).unwrap(), None);
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = b.halt_state().unwrap();
    assert_eq!(state.records, vec![halt.clone()]);
    assert!(state.flag);
    // A flipped byte: Corrupt, never no halt.
    pg.psql("halt", &format!("UPDATE urne_halts SET value = {FLIP_SQL}"));
    assert!(matches!(b.halt_state(), Err(StorageError::Corrupt { .. })));
    // The records deleted by hand: the flag alone still halts.
    pg.psql("halt", "DELETE FROM urne_halts");
    assert!(b
        .halt_state()
        .unwrap()
        .reason()
        .unwrap()
        .contains("removed"));
}

/// A database written by a newer urne is refused, not written over.
#[test]
fn postgres_newer_schema_is_refused() {
    let pg = Postgres::start_new();
    let url = pg.create_db("newer");
    drop(PgStore::open(&url).unwrap());
    pg.psql("newer", "INSERT INTO urne_schema (version) VALUES (999)");
    let err = PgStore::open(&url).err().expect("refused");
    assert!(err.to_string().contains("999"), "{err}");
}

/// Flips a byte inside the body of a record stored by PostgreSQL (past the record's
/// header and checksum), as a hand edit of the table would.
const FLIP_SQL: &str = "set_byte(value, 40, get_byte(value, 40) # 32)";

#[test]
fn notes_and_evidence_memory() {
    let notes = urne::storage::MemoryNotes::new();
    contract::check_notes(&notes, &|origin| notes.flip_byte(origin, 40));
    let ev = urne::storage::MemoryEvidence::new();
    contract::check_evidence(&ev, &|n| ev.flip_byte(n, 40));
}

#[test]
fn notes_and_evidence_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let side = SideDb::open(dir.path(), "\0equivocation/").unwrap();
    contract::check_notes(&side, &|origin| side.flip_byte(origin.as_bytes(), 40));
    let ev_dir = tempfile::tempdir().unwrap();
    let ev = SideDb::open(ev_dir.path(), "equivocation/").unwrap();
    contract::check_evidence(&ev, &|n| ev.flip_byte(&ev.evidence_key(n), 40));
    // Across a restart: the records, damage included, are as they were.
    drop(side);
    let side = SideDb::open(dir.path(), "\0equivocation/").unwrap();
    assert!(side.latest("contract.test/b").unwrap().is_some());
}

#[test]
fn notes_and_evidence_postgres() {
    let pg = Postgres::start_new();
    let url = pg.create_db("side");
    let store = PgStore::open(&url).unwrap();
    contract::check_notes(&store, &|origin| {
        pg.psql(
            "side",
            &format!("UPDATE urne_witness_notes SET value = {FLIP_SQL} WHERE origin = '{origin}'"),
        );
    });
    contract::check_evidence(&store, &|n| {
        pg.psql(
            "side",
            &format!(
                "UPDATE urne_evidence SET value = {FLIP_SQL} \
                 WHERE n = (SELECT n FROM urne_evidence ORDER BY n OFFSET {n} LIMIT 1)"
            ),
        );
    });
    // Another instance on the same database sees the same records.
    let other = PgStore::open(&url).unwrap();
    assert!(other.latest("contract.test/b").unwrap().is_some());
    assert!(other.load_evidence().is_err(), "the damage is seen by all");
}

/// A side database written before records were checksummed is upgraded once at
/// open (its bare values framed); from then on a bare value is damage.
#[test]
fn side_database_upgrade_then_bare_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rocksdb::DB::open_default(dir.path()).unwrap();
        db.put(b"old.test/log", b"an old note\n").unwrap();
        db.put(b"\0equivocation/00000000", b"{\"old\":1}").unwrap();
    }
    let side = SideDb::open(dir.path(), "\0equivocation/").unwrap();
    assert_eq!(
        side.latest("old.test/log").unwrap().as_deref(),
        Some("an old note\n")
    );
    assert_eq!(
        side.load_evidence().unwrap(),
        vec!["{\"old\":1}".to_string()]
    );
    drop(side);
    {
        let db = rocksdb::DB::open_default(dir.path()).unwrap();
        db.put(b"old.test/log", b"a bare note written later\n")
            .unwrap();
    }
    let side = SideDb::open(dir.path(), "\0equivocation/").unwrap();
    assert!(matches!(
        side.latest("old.test/log"),
        Err(StorageError::Corrupt { .. })
    ));
}
