//! Which storage the tests' logs run on: RocksDB in their temporary directory (the
//! default), or PostgreSQL when `URNE_TEST_BACKEND=postgres` (`scripts/test.sh` runs
//! the API and crash tests both ways).
//!
//! On PostgreSQL, one cluster per test binary (started at the first use by
//! [`super::postgres`], stopped when the binary exits) and one database per log
//! directory: its connection string is kept in the directory (`pg-url`), so a log
//! restarted on the same directory finds the same database, as on RocksDB.
#![allow(dead_code)]

use super::postgres::Postgres;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use urne::storage::{Commit, StorageError, Store, TreeHead};
use urne_client::tree::Hash;

/// Whether the tests' logs run on PostgreSQL.
pub fn postgres() -> bool {
    std::env::var("URNE_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

// The binary's cluster. A static is never dropped: it is stopped at exit instead.
static CLUSTER: OnceLock<Mutex<Option<Postgres>>> = OnceLock::new();

extern "C" fn stop_cluster() {
    if let Some(m) = CLUSTER.get() {
        // Drop guard: `pg_ctl stop -m immediate`, then its directory is removed.
        drop(m.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

fn cluster() -> &'static Mutex<Option<Postgres>> {
    CLUSTER.get_or_init(|| {
        let pg = Postgres::start_new();
        // SAFETY: registers a plain function, run once by libc's exit().
        unsafe {
            libc::atexit(stop_cluster);
        }
        Mutex::new(Some(pg))
    })
}

/// The database of the log in `dir`: created at the first call for `dir`, the same
/// one afterwards.
pub fn database_for(dir: &Path) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let file = dir.join("pg-url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    let g = cluster().lock().unwrap_or_else(|p| p.into_inner());
    let pg = g.as_ref().expect("the cluster runs until exit");
    let name = format!(
        "urne_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let url = pg.create_db(&name);
    std::fs::write(&file, &url).unwrap();
    url
}

/// Opens the store of the log in `dir` on the tests' backend.
pub fn open_store(dir: &Path) -> AnyStore {
    AnyStore(if postgres() {
        Arc::new(urne::storage::PgStore::open(&database_for(dir)).unwrap())
    } else {
        Arc::new(urne::storage::RocksStore::open(&dir.join("db"), 8 << 20).unwrap())
    })
}

/// Any store, as a [`Store`] (so that a [`super::faulty::FaultyStore`] wraps either).
pub struct AnyStore(pub Arc<dyn Store>);

impl Store for AnyStore {
    fn head(&self) -> Result<Option<TreeHead>, StorageError> {
        self.0.head()
    }
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        self.0.read_hashes(indexes)
    }
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        self.0.entries(start, end)
    }
    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError> {
        self.0.leaf_index(leaf)
    }
    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        self.0.leaf_indexes(leaves)
    }
    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.state(key)
    }
    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        self.0.states(keys)
    }
    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError> {
        self.0.lookup(subject, from, limit)
    }
    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.0.stats(election)
    }
    fn elections(&self) -> Result<Vec<String>, StorageError> {
        self.0.elections()
    }
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        self.0.checkpoint_at(size)
    }
    fn staged(&self) -> Result<Option<u64>, StorageError> {
        self.0.staged()
    }
    fn commit(&self, commit: Commit) -> Result<(), StorageError> {
        self.0.commit(commit)
    }
    fn disk_usage(&self) -> u64 {
        self.0.disk_usage()
    }
    fn remote(&self) -> bool {
        self.0.remote()
    }
}
