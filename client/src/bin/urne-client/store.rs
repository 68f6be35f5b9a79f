//! The rule state an audit replays, in memory or on disk.
//!
//! Owns: [`RuleState`] (what the auditor reads and writes: the shared rules' typed
//! keys and values), [`DiskState`] (the monitor's: a log-structured store in its state
//! directory, `monitor.lsm/`, holding the rule state and, in the same atomic batch,
//! the monitor's resume point and the alerts of the batch being delivered), and the
//! bounded memory that goes with it: the writes of the batches audited since the
//! last commit in a buffer, the store's memtables ([`MEMTABLE_BYTES`] each) and block
//! cache ([`CACHE_BYTES`]), and the absence filter (`absent.rs`) that answers the
//! lookups of keys the store does not hold without reading it.
//! Does not own: what the resume point holds (`monitor.rs`), the rules
//! (`urne_client::rules`), the audit (`engine.rs`).
//!
//! # Why fjall
//!
//! Voters and union delegates install `urne-client` alone, often on a laptop: the
//! store must build with the Rust toolchain only (no C++ as RocksDB needs), and a
//! monitor killed at any instant must resume exactly where its last commit left it.
//! The keys are hashes (credential tags, voters, receipts): random. The first store,
//! redb (a copy-on-write B-tree), rewrote about one 4 KiB page per key inserted once
//! the tree was larger than its cache: 11 KB written per entry and 294 µs of CPU per
//! entry at 1 million entries, a third of it in the kernel (BENCHMARKS.md). fjall is
//! a pure-Rust log-structured merge tree (maintained, stable format within a major
//! version): a commit appends its batch to a journal, memtables are written out as
//! sorted runs and merged in the background, so an insert costs a journal append and
//! a share of sequential merges whatever the size of the state. Its write batches
//! are atomic across partitions and a torn batch at the journal's tail is dropped on
//! recovery: the rule state of a chunk, the resume point and the outbox are
//! committed together or not at all. (sled is still a beta without a stable format;
//! a store of our own — sorted runs and a manifest — would have to earn the same
//! crash-exactness from scratch.)
//!
//! # Files
//!
//! `monitor.lsm/`: fjall's keyspace, partition `rule_state` (encoded [`StateKey`] →
//! encoded [`StateValue`], the encodings of `urne_client::rules`, as the log's
//! RocksDB holds them) and partition `meta` (`format` → [`FORMAT`] as 4 bytes
//! big-endian, `header` → the monitor's JSON header, `outbox` → the alerts of the
//! last batch while they are being delivered); `monitor.lsm/urne.lock`, held (an
//! advisory `flock`) by the one process that has the store open.

use crate::absent::Absent;
use fjall::{Batch, Config, Keyspace, PartitionCreateOptions, PartitionHandle, PersistMode};
use std::collections::HashMap;
use std::path::Path;
use urne_client::rules::{ElectionState, MemoryState, StateError, StateKey, StateValue, StateView};

/// The rule state partition.
const STATE: &str = "rule_state";
/// The monitor's own records.
const META: &str = "meta";

/// The layout version of `monitor.lsm`; a store of another version is refused.
pub const FORMAT: u32 = 3;

/// fjall's block cache: the committed state's hot blocks (the elections' keys and
/// the upper index blocks). Not larger: past a few million entries the keys a ballot
/// looks up (its credential) are random in gigabytes of state, so a cache of 32 MiB
/// hit as rarely as one of 8, and cost some 50 MiB more of resident memory (fjall
/// holds a cached block decoded, one allocation per item, well above its size on
/// disk): 305 against 263 MiB at the peak of a 10 million-entry audit, at the same
/// CPU per entry (BENCHMARKS.md, "The monitor at ten million entries, measured
/// again").
pub const CACHE_BYTES: u64 = 8 << 20;

/// Each partition's memtable bound: past it the memtable is written out as a sorted
/// run (two partitions; `meta` stays small).
pub const MEMTABLE_BYTES: u32 = 8 << 20;

/// Bits per key of the Bloom filters of fjall's levels past the second (its first
/// two build theirs at a fixed false-positive rate). fjall holds them in memory,
/// outside its cache, so they grow with the state (30 million keys at ten million
/// entries). Six bits and not fjall's ten: a key the absence filter (`absent.rs`)
/// does not rule out is mostly a key that exists, in the last level, where a filter
/// says yes anyway; a level above it wrongly answers maybe for about 6 % of the
/// lookups (one block read more) instead of 1 %. Measured over ten million entries:
/// a peak of 225 MiB against 258, and less CPU (smaller filters to build in the
/// merges and to probe). fjall writes a partition's settings when it creates it: a
/// store created before keeps its ten bits.
const BLOOM_BITS: u8 = 6;

/// glibc's allocator arenas: at most this many for the monitor's process. The store
/// writes its sorted runs on background threads and the signatures are checked on
/// every core; with glibc's default (eight per core) each thread's arena keeps the
/// memory it freed, and the peak grows with what every thread ever held at once.
const ARENAS: i32 = 2;

/// Caps glibc's arenas (see [`ARENAS`]); called before the monitor starts its
/// threads. Elsewhere, nothing.
pub fn cap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets a tunable of the allocator; M_ARENA_MAX takes a count.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// The name of the store in a state directory.
pub const DB_FILE: &str = "monitor.lsm";

/// The lock file inside the store (one process at a time).
const LOCK_FILE: &str = "urne.lock";

/// At most this many commits in a row without waiting for the disk (see
/// [`DiskState::commit`]).
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

/// The monitor's rule state on disk: the last committed state and the writes of the
/// batches audited since.
pub struct DiskState {
    // Field order is drop order: the partitions before their keyspace (which waits
    // for its background workers), the lock last.
    rules: PartitionHandle,
    meta: PartitionHandle,
    keyspace: Keyspace,
    /// Writes since the last commit (a few audited batches: at most some tens of
    /// thousands of entries).
    pending: HashMap<StateKey, StateValue>,
    /// Every committed key (and perhaps a few more): a key it does not hold is not
    /// read from the store.
    absent: Absent,
    /// Commits since the last durable one.
    since_durable: u32,
    _lock: std::fs::File,
}

/// What a state directory's store holds when it is opened.
pub struct Opened {
    /// The store.
    pub state: DiskState,
    /// The saved header (`None`: nothing was committed yet).
    pub header: Option<Vec<u8>>,
    /// Alerts committed with the last batch and perhaps not delivered yet.
    pub outbox: Option<Vec<u8>>,
}

/// Takes the store's lock file, or says that another process holds it.
fn lock(path: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let file = path.join(LOCK_FILE);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file)
        .map_err(|e| format!("opening {}: {e}", file.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        // SAFETY: flock on a descriptor this function owns; released when it closes.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            return Err(format!(
                "{} is in use by another monitor (one monitor per state directory)",
                path.display()
            ));
        }
    }
    Ok(f)
}

impl DiskState {
    /// Opens (or creates) the store at `path` (a directory).
    ///
    /// # Errors
    /// A sentence saying why: another process holds it, it is not a store of this
    /// kind, it is of another format version, or the disk failed.
    pub fn open(path: &Path) -> Result<Opened, String> {
        let at = |e: fjall::Error| format!("opening {}: {e}", path.display());
        let lock = lock(path)?;
        let keyspace = Config::new(path)
            .cache_size(CACHE_BYTES)
            // Not fjall's keyspace-wide write buffer bound: after a restart that
            // recovered its journals, its count stayed above the bound and halted
            // every write for good (fjall 2.11). The memtables are bounded per
            // partition instead (`max_memtable_size`).
            .max_write_buffer_size(u64::MAX)
            // fjall's default journal bound (512 MiB of disk, not memory). A bound of
            // 64 MiB (two of its 32 MiB journal files) halted every write for good
            // once a restart after kill -9 had recovered three journals.
            // The audit's signature checks have the cores: one of each kind.
            .flush_workers(1)
            .compaction_workers(1)
            .open()
            .map_err(at)?;
        let options = || {
            PartitionCreateOptions::default()
                .max_memtable_size(MEMTABLE_BYTES)
                .block_size(4096)
                .bloom_filter_bits(Some(BLOOM_BITS))
        };
        let rules = keyspace.open_partition(STATE, options()).map_err(at)?;
        let meta = keyspace.open_partition(META, options()).map_err(at)?;
        let format = match meta.get("format").map_err(at)? {
            None => {
                let mut b = keyspace.batch().durability(Some(PersistMode::SyncAll));
                b.insert(&meta, "format", FORMAT.to_be_bytes().to_vec());
                b.commit().map_err(at)?;
                FORMAT
            }
            Some(b) => <[u8; 4]>::try_from(&b[..])
                .map(u32::from_be_bytes)
                .map_err(|_| format!("{}: damaged format record", path.display()))?,
        };
        if format != FORMAT {
            return Err(format!(
                "{} is a monitor state of format {format}, this urne-client reads format {FORMAT}: use the urne-client that wrote it, or a new state directory",
                path.display()
            ));
        }
        // Every committed key into the absence filter (a scan of the keys, in order).
        let mut absent = Absent::new();
        for k in rules.keys() {
            let k = k.map_err(|e| format!("reading {}: {e}", path.display()))?;
            absent.insert(&k);
        }
        let get = |k: &str| -> Result<Option<Vec<u8>>, String> {
            Ok(meta.get(k).map_err(at)?.map(|v| v.to_vec()))
        };
        let (header, outbox) = (get("header")?, get("outbox")?);
        Ok(Opened {
            state: DiskState {
                rules,
                meta,
                keyspace,
                pending: HashMap::new(),
                absent,
                since_durable: 0,
                _lock: lock,
            },
            header,
            outbox,
        })
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
        match self.rules.get(&k).map_err(backend)? {
            Some(v) => StateValue::decode(&v).map(Some),
            None => Ok(None),
        }
    }

    fn elections(&self) -> Result<Vec<ElectionState>, StateError> {
        let mut out: HashMap<String, ElectionState> = HashMap::new();
        // Election keys are the type byte `E` and a length-prefixed id.
        for item in self.rules.range(&b"E"[..]..&b"F"[..]) {
            let (_, v) = item.map_err(backend)?;
            if let StateValue::Election(e) = StateValue::decode(&v)? {
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

    /// A write batch, waiting for the disk (fsync) when `durable`; else handed to
    /// the operating system when it commits, so that a process killed after the
    /// commit keeps it.
    fn batch(&self, durable: bool) -> Batch {
        self.keyspace.batch().durability(Some(if durable {
            PersistMode::SyncAll
        } else {
            PersistMode::Buffer
        }))
    }

    /// Commits the batch's writes, the resume point `header` and the batch's alerts
    /// (`outbox`, `None`: no alert to deliver) in one atomic write batch.
    ///
    /// The batch waits for the disk (fsync) when `durable`, when it carries alerts,
    /// and at least every [`DURABLE_EVERY`] commits; the others are atomic and in the
    /// operating system's hands when this returns (a killed process keeps them) but
    /// not flushed, so a machine that loses power comes back to the last durable
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
        let durable = durable || outbox.is_some() || self.since_durable + 1 >= DURABLE_EVERY;
        let mut batch = self.batch(durable);
        let mut writes: Vec<(Vec<u8>, StateValue)> =
            self.pending.drain().map(|(k, v)| (k.encode(), v)).collect();
        // In key order: the store's memtable is a skip list, and each insert walks it
        // from the top; keys in order walk the nodes the one before just warmed (in
        // hash order, most steps of most inserts missed the CPU's caches).
        writes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in writes {
            // Into the filter first: a key committed is a key it holds.
            self.absent.insert(&k);
            batch.insert(&self.rules, k, v.encode());
        }
        batch.insert(&self.meta, "header", header);
        match outbox {
            Some(o) => batch.insert(&self.meta, "outbox", o),
            None => batch.remove(&self.meta, "outbox"),
        }
        batch.commit().map_err(backend)?;
        self.since_durable = if durable { 0 } else { self.since_durable + 1 };
        Ok(())
    }

    /// Records that the outbox was delivered (durably: alerts raised after it are
    /// appended to the same file, and a restart must not cut them off).
    ///
    /// # Errors
    /// Backend failures.
    pub fn clear_outbox(&mut self) -> Result<(), StateError> {
        let mut batch = self.batch(true);
        batch.remove(&self.meta, "outbox");
        batch.commit().map_err(backend)
    }

    /// Writes a whole state at once (migration of a state file of format 1) with
    /// its header, durably; the header last, in the last batch, so that a store
    /// without a header is one whose import did not finish.
    ///
    /// # Errors
    /// Backend failures.
    pub fn import(
        &mut self,
        pairs: &mut dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), String>>,
        header: &[u8],
    ) -> Result<u64, String> {
        let mut n = 0;
        let mut batch = self.batch(false);
        for p in pairs {
            let (k, v) = p?;
            self.absent.insert(&k);
            batch.insert(&self.rules, k, v);
            n += 1;
            if batch.len() >= 65_536 {
                let full = std::mem::replace(&mut batch, self.batch(false));
                full.commit().map_err(|e| e.to_string())?;
            }
        }
        let mut last = batch.durability(Some(PersistMode::SyncAll));
        last.insert(&self.meta, "header", header);
        last.commit().map_err(|e| e.to_string())?;
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
