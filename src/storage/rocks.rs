//! RocksDB storage: the only module that knows RocksDB.
//!
//! Owns: the column families and key layout on disk, the durable atomic commit.
//! Does not own: what is written (see [`super::Commit`]).
//!
//! Column families (all keys big-endian so that they sort by number):
//! - `entries`: leaf index (8) → entry bytes
//! - `hashes`: stored-hash index (8) → 32-byte hash
//! - `lookups`: subject ‖ leaf index (8) → empty (a prefix scan lists a subject's entries)
//! - `state`: encoded `StateKey` → encoded `StateValue` (election rules)
//! - `stats`: election id → per-election statistics (JSON)
//! - `checkpoints`: tree size (8) → signed checkpoint (every one ever issued, so any
//!   old checkpoint can be shown consistent with a new one)
//! - `leaves`: leaf hash (32) → leaf index (8), to answer a resubmission with the
//!   earlier index (a point read, so the bloom filters make misses cheap)
//! - `meta`: `head` → tree head; `staged` → size (8) of the entries a mirror stored
//!   ahead of its head (see `Commit::staged`)
//!
//! Recovery is RocksDB's own write-ahead log: a commit is one `WriteBatch` written with
//! `sync = true`, so after `kill -9` the database holds exactly the committed batches.
//! Never restore a log from a backup: that forks the tree.
//!
//! # Damage is refused, never repaired silently
//!
//! RocksDB's default WAL recovery (point in time) stops replaying at the first bad
//! record and opens the database as it was before it: one flipped byte in the middle
//! of the WAL after a `kill -9` made a log restart at 1,002 entries instead of 2,002,
//! and re-sign sizes it had signed with other roots. Here the WAL is replayed in
//! *tolerate corrupted tail records* mode and every read is checked
//! (`paranoid_checks`): a record whose checksum fails makes [`RocksStore::open`] fail
//! with RocksDB's "Corruption" error, and the log refuses to start. Only a record cut
//! short at the very end of the WAL is dropped: the one a `kill -9` interrupted while
//! RocksDB was writing it, whose commit had not returned, so nothing acknowledged.
//! (Absolute consistency refused to start after such a crash, about one `kill -9` in
//! twenty.) If a torn end ever held an acknowledged batch, the database would be
//! behind what the log signed, and [`crate::watermark`], the second guard (which also
//! catches a database restored from a backup), refuses to start. Regression tests:
//! `tests/adversarial_peers.rs`, `flipped_wal_byte_never_forks` and
//! `torn_wal_tail_of_an_unacknowledged_batch_restarts`.
//!
//! # Descriptors
//!
//! RocksDB keeps at most [`RocksStore::open_with_files`]' `max_open_files` table files
//! open (the default, -1, keeps every SST open and grows with the log). The caller
//! reserves that many descriptors, and the HTTP server never accepts sockets into the
//! reserve ([`crate::serve`]), so exhausting sockets cannot fail a commit.

use super::{be, decode_head, encode_head, from_be, Commit, StorageError, Store, TreeHead};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBRecoveryMode, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};
use std::path::{Path, PathBuf};
use urne_client::tree::Hash;

const CF_ENTRIES: &str = "entries";
const CF_HASHES: &str = "hashes";
const CF_LOOKUPS: &str = "lookups";
const CF_STATE: &str = "state";
const CF_STATS: &str = "stats";
const CF_CHECKPOINTS: &str = "checkpoints";
const CF_META: &str = "meta";
const CF_LEAVES: &str = "leaves";
const ALL_CFS: [&str; 8] = [
    CF_LEAVES,
    CF_ENTRIES,
    CF_HASHES,
    CF_LOOKUPS,
    CF_STATE,
    CF_STATS,
    CF_CHECKPOINTS,
    CF_META,
];
const KEY_HEAD: &[u8] = b"head";
/// Table files kept open by [`RocksStore::open`] (see "Descriptors").
pub const DEFAULT_MAX_OPEN_FILES: i32 = 256;
/// Descriptors RocksDB uses beyond its table files: WAL, MANIFEST, LOCK, info log,
/// files being written by flushes and compactions, with room to spare.
pub const ENGINE_FILES: u64 = 32;
const KEY_STAGED: &[u8] = b"staged";

/// A log stored in RocksDB in one directory.
pub struct RocksStore {
    db: DB,
    path: PathBuf,
    cache: Cache,
}

fn engine(e: rocksdb::Error) -> StorageError {
    StorageError::Engine(e.to_string())
}

/// Sets what every urne RocksDB (log, mirror, witness, evidence) needs to refuse
/// damage instead of repairing it silently, and to keep its descriptors bounded (see
/// the module documentation).
pub fn strict(opts: &mut Options, max_open_files: i32) {
    opts.set_wal_recovery_mode(DBRecoveryMode::TolerateCorruptedTailRecords);
    opts.set_paranoid_checks(true);
    opts.set_max_open_files(max_open_files.max(16));
}

impl RocksStore {
    /// Opens (creating if needed) the database in `dir`, with a block cache of
    /// `cache_bytes` shared by all column families: the only memory that grows with
    /// use, and it is bounded.
    ///
    /// # Errors
    /// The engine's error if the directory cannot be opened (locked by another
    /// process, unreadable, corrupt).
    pub fn open(dir: &Path, cache_bytes: usize) -> Result<Self, StorageError> {
        Self::open_with_files(dir, cache_bytes, DEFAULT_MAX_OPEN_FILES)
    }

    /// [`RocksStore::open`], keeping at most `max_open_files` table files open (at
    /// least 16): the descriptors the caller reserves for it, plus [`ENGINE_FILES`].
    ///
    /// # Errors
    /// As [`RocksStore::open`]; a damaged write-ahead log is an error (see "Damage").
    pub fn open_with_files(
        dir: &Path,
        cache_bytes: usize,
        max_open_files: i32,
    ) -> Result<Self, StorageError> {
        let cache = Cache::new_lru_cache(cache_bytes);
        // Index and filter blocks live in the one bounded block cache: memory stays
        // flat as the log grows.
        let mut plain = BlockBasedOptions::default();
        plain.set_block_cache(&cache);
        plain.set_bloom_filter(10.0, false);
        plain.set_cache_index_and_filter_blocks(true);
        // The rule checks are point lookups of keys that mostly do not exist yet (a
        // new leaf hash, receipt, credential or voter), answered by the filter alone.
        // With one whole-file filter per SST, a log of millions of entries had its
        // multi-megabyte filters evicted by data blocks, then read back and
        // checksummed for every lookup: appends fell from ~10,000/s at 1 million
        // entries to ~2,300/s at 3 million. Those column families get partitioned
        // filters and indexes, loaded one small block at a time, with their top level
        // pinned. The others (entries, stored hashes, checkpoints: integer keys
        // written in order and read where they exist) keep the plain layout, whose
        // single index block is cheaper for the proofs' reads.
        let mut partitioned = BlockBasedOptions::default();
        partitioned.set_block_cache(&cache);
        partitioned.set_bloom_filter(10.0, false);
        partitioned.set_cache_index_and_filter_blocks(true);
        partitioned.set_pin_l0_filter_and_index_blocks_in_cache(true);
        partitioned.set_partition_filters(true);
        partitioned.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
        partitioned.set_metadata_block_size(4096);
        partitioned.set_pin_top_level_index_and_filter(true);
        let cf_opts = |name: &str| {
            let mut o = Options::default();
            if [CF_LEAVES, CF_LOOKUPS, CF_STATE].contains(&name) {
                o.set_block_based_table_factory(&partitioned);
            } else {
                o.set_block_based_table_factory(&plain);
            }
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            o
        };
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        // Bound memtables so RAM does not follow the write rate.
        db_opts.set_db_write_buffer_size(32 << 20);
        // A small write-ahead log bounds the replay after a crash: restart stays fast.
        db_opts.set_max_total_wal_size(64 << 20);
        strict(&mut db_opts, max_open_files);
        let cfs = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_opts(name)));
        let db = DB::open_cf_descriptors(&db_opts, dir, cfs).map_err(engine)?;
        Ok(RocksStore {
            db,
            path: dir.to_path_buf(),
            cache,
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        // The column families are created at open, so a missing one is a bug.
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn get(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db.get_cf(self.cf(cf), key).map_err(engine)
    }
}

impl Store for RocksStore {
    fn head(&self) -> Result<Option<TreeHead>, StorageError> {
        self.get(CF_META, KEY_HEAD)?
            .map(|b| decode_head(&b))
            .transpose()
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        let cf = self.cf(CF_HASHES);
        let keys: Vec<_> = indexes.iter().map(|i| (cf, be(*i))).collect();
        let mut out = Vec::with_capacity(indexes.len());
        for (i, r) in self.db.multi_get_cf(keys).into_iter().enumerate() {
            let v = r.map_err(engine)?.ok_or_else(|| StorageError::Corrupt {
                what: format!("stored hash {}", indexes[i]),
                detail: "missing".into(),
            })?;
            let arr: [u8; 32] = v.as_slice().try_into().map_err(|_| StorageError::Corrupt {
                what: format!("stored hash {}", indexes[i]),
                detail: format!("{} bytes", v.len()),
            })?;
            out.push(Hash(arr));
        }
        Ok(out)
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
        let iter = self.db.iterator_cf(
            self.cf(CF_ENTRIES),
            IteratorMode::From(&be(start), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(engine)?;
            let i = from_be("entry key", &k)?;
            if i >= end {
                break;
            }
            if i != start + out.len() as u64 {
                return Err(StorageError::Corrupt {
                    what: format!("entry {}", start + out.len() as u64),
                    detail: "missing".into(),
                });
            }
            out.push(v.to_vec());
        }
        if (out.len() as u64) < end.saturating_sub(start) {
            return Err(StorageError::Corrupt {
                what: format!("entry {}", start + out.len() as u64),
                detail: "missing".into(),
            });
        }
        Ok(out)
    }

    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.get(CF_STATE, key)
    }

    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError> {
        self.get(CF_LEAVES, &leaf.0)?
            .map(|b| from_be("leaf index", &b))
            .transpose()
    }

    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        let cf = self.cf(CF_LEAVES);
        self.db
            .multi_get_cf(leaves.iter().map(|l| (cf, l.0)))
            .into_iter()
            .map(|r| {
                r.map_err(engine)?
                    .map(|b| from_be("leaf index", &b))
                    .transpose()
            })
            .collect()
    }

    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let cf = self.cf(CF_STATE);
        self.db
            .multi_get_cf(keys.iter().map(|k| (cf, k.as_slice())))
            .into_iter()
            .map(|r| r.map_err(engine))
            .collect()
    }

    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError> {
        let mut out = Vec::new();
        // Keys are subject ‖ be(index): start at the first index of the page.
        let start = [subject, &be(from)].concat();
        let iter = self.db.iterator_cf(
            self.cf(CF_LOOKUPS),
            IteratorMode::From(&start, Direction::Forward),
        );
        for item in iter {
            let (k, _) = item.map_err(engine)?;
            if k.len() != subject.len() + 8 || !k.starts_with(subject) {
                break;
            }
            out.push(from_be("lookup key", &k[subject.len()..])?);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.get(CF_STATS, election.as_bytes())
    }

    fn elections(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_STATS), IteratorMode::Start) {
            let (k, _) = item.map_err(engine)?;
            out.push(String::from_utf8_lossy(&k).into_owned());
        }
        Ok(out)
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        Ok(self
            .get(CF_CHECKPOINTS, &be(size))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn staged(&self) -> Result<Option<u64>, StorageError> {
        self.get(CF_META, KEY_STAGED)?
            .map(|b| from_be("staged size", &b))
            .transpose()
    }

    fn commit(&self, c: Commit) -> Result<(), StorageError> {
        // One writer per directory (RocksDB's lock) and per process (the sequencer):
        // reading the head here is the compare of the compare-and-swap.
        super::check_extends(&c, self.head()?.as_ref())?;
        let mut wb = WriteBatch::default();
        if let Some(n) = c.staged {
            wb.put_cf(self.cf(CF_META), KEY_STAGED, be(n));
        }
        for (i, e) in &c.entries {
            wb.put_cf(self.cf(CF_ENTRIES), be(i.0), e);
        }
        for (i, h) in &c.hashes {
            wb.put_cf(self.cf(CF_HASHES), be(i.0), h.0);
        }
        for (subject, i) in &c.lookups {
            let mut k = Vec::with_capacity(subject.len() + 8);
            k.extend_from_slice(subject);
            k.extend_from_slice(&be(i.0));
            wb.put_cf(self.cf(CF_LOOKUPS), k, []);
        }
        for (k, v) in &c.state {
            wb.put_cf(self.cf(CF_STATE), k, v);
        }
        for (h, i) in &c.leaves {
            wb.put_cf(self.cf(CF_LEAVES), h.0, be(i.0));
        }
        for (id, v) in &c.stats {
            wb.put_cf(self.cf(CF_STATS), id.as_bytes(), v);
        }
        if let Some(head) = &c.head {
            wb.put_cf(
                self.cf(CF_CHECKPOINTS),
                be(head.size),
                head.checkpoint.as_bytes(),
            );
            wb.put_cf(self.cf(CF_META), KEY_HEAD, encode_head(head));
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo).map_err(engine)
    }

    fn memory(&self) -> Vec<(&'static str, u64)> {
        // Summed over the column families: RocksDB reports these per family.
        let sum = |property: &str| -> u64 {
            ALL_CFS
                .iter()
                .filter_map(|n| self.db.property_int_value_cf(self.cf(n), property).ok())
                .flatten()
                .sum()
        };
        vec![
            // Data, index and filter blocks (all of them: `cache_index_and_filter_blocks`),
            // bounded by `cache_bytes`; the pinned part is included.
            ("block_cache", self.cache.get_usage() as u64),
            ("block_cache_pinned", self.cache.get_pinned_usage() as u64),
            // Active and immutable memtables not yet flushed (bounded by the
            // database-wide write buffer size).
            ("memtables", sum("rocksdb.size-all-mem-tables")),
            // Table readers outside the block cache (one per open table file, at most
            // `max_open_files`).
            ("table_readers", sum("rocksdb.estimate-table-readers-mem")),
        ]
    }

    fn disk_usage(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => walk(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        walk(&self.path)
    }
}
