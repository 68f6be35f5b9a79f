//! The rule state an audit replays, in memory or on disk.
//!
//! Owns: [`RuleState`] (what the auditor reads and writes: the shared rules' typed
//! keys and values), [`DiskState`] (the monitor's: a `redb` database in its state
//! directory, `monitor.redb`, holding the rule state and, in the same transaction,
//! the monitor's resume point and the alerts of the batch being delivered), and the
//! bounded memory that goes with it: the writes of the batches audited since the
//! last commit in a buffer, the committed state read through redb's page cache of
//! [`CACHE_BYTES`], and the absence filter (`absent.rs`) that answers the lookups of
//! keys the store does not hold without reading it.
//! Does not own: what the resume point holds (`monitor.rs`), the rules
//! (`urne_client::rules`), the audit (`engine.rs`).
//!
//! # Why redb
//!
//! Voters and union delegates install `urne-client` alone, often on a laptop: the
//! store must build with the Rust toolchain only (no C++ as RocksDB needs), be a
//! single file, and be crash-safe by design. redb is a pure-Rust, copy-on-write
//! B-tree with ACID transactions, a stable file format since 1.0, checksummed pages,
//! a page cache of a fixed size, and one writer: a transaction commits the rule
//! state of a batch and the resume point together or not at all, so a monitor killed
//! at any instant resumes exactly where its last commit left it. (sled is still a
//! beta without a stable format; an LSM such as fjall writes less on random keys but
//! is younger; SQLite needs a C compiler and a schema for what is a key-value map.)
//!
//! # File
//!
//! `monitor.redb`: table `rule_state` (encoded [`StateKey`] → encoded
//! [`StateValue`], the encodings of `urne_client::rules`, as the log's RocksDB
//! holds them) and table `meta` (`format` → [`FORMAT`] as 4 bytes big-endian,
//! `header` → the monitor's JSON header, `outbox` → the alerts of the last batch
//! while they are being delivered).

use crate::absent::Absent;
use redb::{Database, ReadOnlyTable, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use urne_client::rules::{ElectionState, MemoryState, StateError, StateKey, StateValue, StateView};

/// The rule state table.
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("rule_state");
/// The monitor's own records.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The layout version of `monitor.redb`; a file of another version is refused.
pub const FORMAT: u32 = 2;

/// redb's page cache: the committed state's hot pages (the B-tree's upper levels,
/// the elections). Memory does not grow with the electorate past this.
pub const CACHE_BYTES: usize = 96 << 20;

/// The name of the database in a state directory.
pub const DB_FILE: &str = "monitor.redb";

/// At most this many commits in a row without waiting for the disk (see
/// [`DiskState::commit`]). redb reuses the pages a commit replaced only after the
/// next durable one: the file grows by what the commits between two durable ones
/// rewrote, up to a chunk of 32,768 entries each (`monitor.rs`).
const DURABLE_EVERY: u32 = 8;

fn backend(e: impl std::fmt::Display) -> StateError {
    StateError::Backend(e.to_string())
}

/// The rule state of an auditor: in memory (`verify`, a one-off check) or on disk
/// (`monitor`).
pub enum RuleState {
    /// The whole state in memory.
    Memory(MemoryState),
    /// The monitor's store.
    Disk(Box<DiskState>),
}

impl Default for RuleState {
    fn default() -> Self {
        RuleState::Memory(MemoryState::new())
    }
}

impl StateView for RuleState {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        match self {
            RuleState::Memory(m) => Ok(m.get(key).cloned()),
            RuleState::Disk(d) => d.get(key),
        }
    }
}

impl RuleState {
    /// Applies the writes of an accepted statement (on disk: to the batch's buffer,
    /// committed with the resume point by [`DiskState::commit`]).
    pub fn put(&mut self, writes: Vec<(StateKey, StateValue)>) {
        match self {
            RuleState::Memory(m) => m.extend(writes),
            RuleState::Disk(d) => d.pending.extend(writes),
        }
    }

    /// Returns every election's state (elections are few: a scan of their keys).
    ///
    /// # Errors
    /// Backend failures.
    pub fn elections(&self) -> Result<Vec<ElectionState>, StateError> {
        match self {
            RuleState::Memory(m) => Ok(m
                .values()
                .filter_map(|v| match v {
                    StateValue::Election(e) => Some((**e).clone()),
                    _ => None,
                })
                .collect()),
            RuleState::Disk(d) => d.elections(),
        }
    }
}

/// The monitor's rule state on disk: the last committed state (a read snapshot) and
/// the writes of the batch being audited.
pub struct DiskState {
    db: Database,
    /// The state as of the last commit.
    snapshot: ReadOnlyTable<&'static [u8], &'static [u8]>,
    /// Writes since the last commit (a few audited batches: at most some tens of
    /// thousands of entries).
    pending: HashMap<StateKey, StateValue>,
    /// Every committed key (and perhaps a few more): a key it does not hold is not
    /// read from the store.
    absent: Absent,
    /// Commits since the last durable one.
    since_durable: u32,
}

/// What a state directory's database holds when it is opened.
pub struct Opened {
    /// The store.
    pub state: DiskState,
    /// The saved header (`None`: nothing was committed yet).
    pub header: Option<Vec<u8>>,
    /// Alerts committed with the last batch and perhaps not delivered yet.
    pub outbox: Option<Vec<u8>>,
}

impl DiskState {
    /// Opens (or creates) `path`.
    ///
    /// # Errors
    /// A sentence saying why: another process holds it, it is not a redb file, it
    /// is of another format version, or the disk failed.
    pub fn open(path: &Path) -> Result<Opened, String> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => format!(
                    "{} is in use by another monitor (one monitor per state directory)",
                    path.display()
                ),
                e => format!("opening {}: {e}", path.display()),
            })?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        let format = {
            let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
            txn.open_table(STATE).map_err(|e| e.to_string())?;
            let found = meta
                .get("format")
                .map_err(|e| e.to_string())?
                .map(|v| v.value().to_vec());
            match found {
                None => {
                    meta.insert("format", &FORMAT.to_be_bytes()[..])
                        .map_err(|e| e.to_string())?;
                    FORMAT
                }
                Some(b) => b
                    .as_slice()
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| format!("{}: damaged format record", path.display()))?,
            }
        };
        if format != FORMAT {
            return Err(format!(
                "{} is a monitor state of format {format}, this urne-client reads format {FORMAT}: use the urne-client that wrote it, or a new state directory",
                path.display()
            ));
        }
        txn.commit().map_err(|e| e.to_string())?;
        let snapshot = Self::snapshot(&db).map_err(|e| e.to_string())?;
        // Every committed key into the absence filter (a scan of the keys, in order).
        let mut absent = Absent::new();
        for item in snapshot.iter().map_err(|e| e.to_string())? {
            let (k, _) = item.map_err(|e| format!("reading {}: {e}", path.display()))?;
            absent.insert(k.value());
        }
        let (header, outbox) = {
            let r = db.begin_read().map_err(|e| e.to_string())?;
            let meta = r.open_table(META).map_err(|e| e.to_string())?;
            let get = |k: &str| -> Result<Option<Vec<u8>>, String> {
                Ok(meta
                    .get(k)
                    .map_err(|e| e.to_string())?
                    .map(|v| v.value().to_vec()))
            };
            (get("header")?, get("outbox")?)
        };
        Ok(Opened {
            state: DiskState {
                db,
                snapshot,
                pending: HashMap::new(),
                absent,
                since_durable: 0,
            },
            header,
            outbox,
        })
    }

    fn snapshot(db: &Database) -> Result<ReadOnlyTable<&'static [u8], &'static [u8]>, StateError> {
        db.begin_read()
            .map_err(backend)?
            .open_table(STATE)
            .map_err(backend)
    }

    /// Returns the value at `key`: the batch's writes, else the committed state.
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        if let Some(v) = self.pending.get(key) {
            return Ok(Some(v.clone()));
        }
        let k = key.encode();
        if !self.absent.may_contain(&k) {
            return Ok(None);
        }
        match self.snapshot.get(k.as_slice()).map_err(backend)? {
            Some(v) => StateValue::decode(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn elections(&self) -> Result<Vec<ElectionState>, StateError> {
        let mut out: HashMap<String, ElectionState> = HashMap::new();
        // Election keys are the type byte `E` and a length-prefixed id.
        for item in self.snapshot.range(&b"E"[..]..&b"F"[..]).map_err(backend)? {
            let (_, v) = item.map_err(backend)?;
            if let StateValue::Election(e) = StateValue::decode(v.value())? {
                out.insert(e.id.clone(), *e);
            }
        }
        for v in self.pending.values() {
            if let StateValue::Election(e) = v {
                out.insert(e.id.clone(), (**e).clone());
            }
        }
        Ok(out.into_values().collect())
    }

    /// Commits the batch's writes, the resume point `header` and the batch's alerts
    /// (`outbox`, `None`: no alert to deliver) in one transaction.
    ///
    /// The transaction waits for the disk (fsync) when `durable`, when it carries
    /// alerts, and at least every [`DURABLE_EVERY`] commits; the others are atomic
    /// but not flushed, so a machine that loses power comes back to the last durable
    /// one, and audits the batches after it again. Every alert line in
    /// `alerts.jsonl` is delivered after a durable commit of its batch: what is
    /// audited again raised no alert.
    ///
    /// # Errors
    /// Backend failures: nothing of the batch is committed, the last commit stands.
    pub fn commit(
        &mut self,
        header: &[u8],
        outbox: Option<&[u8]>,
        durable: bool,
    ) -> Result<(), StateError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        let durable = durable || outbox.is_some() || self.since_durable + 1 >= DURABLE_EVERY;
        if !durable {
            txn.set_durability(redb::Durability::None);
        }
        {
            let mut table = txn.open_table(STATE).map_err(backend)?;
            // Sorted by encoded key: neighbouring writes land on the same pages.
            let mut writes: Vec<(Vec<u8>, Vec<u8>)> = self
                .pending
                .drain()
                .map(|(k, v)| (k.encode(), v.encode()))
                .collect();
            writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in &writes {
                // Into the filter first: a key committed is a key it holds.
                self.absent.insert(k);
                table.insert(k.as_slice(), v.as_slice()).map_err(backend)?;
            }
            let mut meta = txn.open_table(META).map_err(backend)?;
            meta.insert("header", header).map_err(backend)?;
            match outbox {
                Some(o) => meta.insert("outbox", o).map(|_| ()),
                None => meta.remove("outbox").map(|_| ()),
            }
            .map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        self.since_durable = if durable { 0 } else { self.since_durable + 1 };
        self.snapshot = Self::snapshot(&self.db)?;
        Ok(())
    }

    /// Records that the outbox was delivered (durably: alerts raised after it are
    /// appended to the same file, and a restart must not cut them off).
    ///
    /// # Errors
    /// Backend failures.
    pub fn clear_outbox(&mut self) -> Result<(), StateError> {
        let txn = self.db.begin_write().map_err(backend)?;
        txn.open_table(META)
            .map_err(backend)?
            .remove("outbox")
            .map_err(backend)?;
        txn.commit().map_err(backend)?;
        self.snapshot = Self::snapshot(&self.db)?;
        Ok(())
    }

    /// Writes a whole state at once (migration of a state file of format 1) with
    /// its header, in one transaction.
    ///
    /// # Errors
    /// Backend failures.
    pub fn import(
        &mut self,
        pairs: &mut dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), String>>,
        header: &[u8],
    ) -> Result<u64, String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let mut n = 0;
        {
            let mut table = txn.open_table(STATE).map_err(|e| e.to_string())?;
            for p in pairs {
                let (k, v) = p?;
                self.absent.insert(&k);
                table
                    .insert(k.as_slice(), v.as_slice())
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
            txn.open_table(META)
                .map_err(|e| e.to_string())?
                .insert("header", header)
                .map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())?;
        self.snapshot = Self::snapshot(&self.db).map_err(|e| e.to_string())?;
        Ok(n)
    }
}

/// A rule state on disk for a one-off audit (`verify` of a ballot deep in a large
/// log), in a directory removed when this is dropped.
pub struct Scratch {
    dir: std::path::PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Scratch {
    /// Opens a new store in a fresh directory under the system's temporary one;
    /// `None` if it cannot be made (the caller audits in memory then).
    pub fn open() -> Option<(Scratch, RuleState)> {
        use rand::RngCore as _;
        let dir = std::env::temp_dir().join(format!(
            "urne-client-audit-{}-{:016x}",
            std::process::id(),
            rand::thread_rng().next_u64()
        ));
        std::fs::create_dir(&dir).ok()?;
        let scratch = Scratch { dir };
        let opened = DiskState::open(&scratch.dir.join(DB_FILE)).ok()?;
        Some((scratch, RuleState::Disk(Box::new(opened.state))))
    }
}

impl RuleState {
    /// Writes the batch's writes of a store on disk to it (nothing in memory).
    ///
    /// # Errors
    /// Backend failures.
    pub fn flush(&mut self) -> Result<(), StateError> {
        match self {
            RuleState::Memory(_) => Ok(()),
            RuleState::Disk(d) => d.commit(b"{}", None, false),
        }
    }
}
