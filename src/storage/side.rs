//! The side database: a small RocksDB beside a party's main store, holding a
//! witness's notes ([`super::NoteStore`]), the equivocation evidence of a log, mirror
//! or witness ([`super::EvidenceStore`], under a key prefix), and a mirror's pending
//! checkpoints.
//!
//! Owns: opening it (the same refusal of damage as the log's own RocksDB, few files),
//! its synced writes, its keys (a note under its origin, evidence under
//! `prefix ‖ n` with `n` on 8 digits), and the one-time upgrade of records written
//! before records were checksummed ([`super::frame`]).
//! Does not own: what the records mean.
//!
//! # Upgrade
//!
//! urne before records were checksummed stored bare values. At its first open by this
//! version the database is upgraded once: every bare value is framed, and the marker
//! key [`FORMAT_KEY`] written, in one synced batch. From then on a record without its
//! frame is damage, like a record whose checksum does not match.

use super::evidence::EvidenceStore;
use super::notes::{self, NoteStore};
use super::{frame, StorageError};
use rocksdb::{Options, WriteBatch, WriteOptions, DB};
use std::path::Path;
use std::sync::Mutex;

/// Table files a side database keeps open: it is small.
pub const SIDE_MAX_OPEN_FILES: i32 = 16;

/// The key marking a database whose every record is checksummed (see "Upgrade").
pub const FORMAT_KEY: &[u8] = b"\0urne-side-format";
const FORMAT: &[u8] = b"1";

fn engine(what: &str, e: rocksdb::Error) -> StorageError {
    StorageError::Engine(format!("RocksDB side database, {what}: {e}"))
}

/// A side database in its own directory. See the module documentation.
pub struct SideDb {
    db: DB,
    evidence_prefix: String,
    // Serialises "count the pieces" and "write the next one".
    adding: Mutex<()>,
}

impl SideDb {
    /// Opens (creating if needed) the side database in `dir`, whose evidence lives
    /// under keys starting with `evidence_prefix`, upgrading it if it predates
    /// checksummed records.
    ///
    /// # Errors
    /// The engine's error (locked by another process, unreadable, corrupt).
    pub fn open(dir: &Path, evidence_prefix: &str) -> Result<Self, StorageError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        // A witness whose record silently rolled back would cosign a fork: damage is
        // refused as for the log's own database; its few files stay few.
        super::rocks::strict(&mut opts, SIDE_MAX_OPEN_FILES);
        let db =
            DB::open(&opts, dir).map_err(|e| engine(&format!("opening {}", dir.display()), e))?;
        let side = SideDb {
            db,
            evidence_prefix: evidence_prefix.to_string(),
            adding: Mutex::new(()),
        };
        side.upgrade()?;
        Ok(side)
    }

    fn synced() -> WriteOptions {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        wo
    }

    /// Frames every bare record once (see "Upgrade").
    fn upgrade(&self) -> Result<(), StorageError> {
        if self
            .db
            .get(FORMAT_KEY)
            .map_err(|e| engine("reading the format", e))?
            .is_some()
        {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for kv in self.db.iterator(rocksdb::IteratorMode::Start) {
            let (k, v) = kv.map_err(|e| engine("upgrading the records", e))?;
            if !v.starts_with(frame::MAGIC) {
                batch.put(&k, frame::seal(&k, &v));
            }
        }
        batch.put(FORMAT_KEY, FORMAT);
        self.db
            .write_opt(batch, &Self::synced())
            .map_err(|e| engine("upgrading the records", e))
    }

    /// Returns the text record under `key` (`what` names it in errors).
    ///
    /// # Errors
    /// Engine failures; a damaged record.
    pub fn get(&self, key: &str) -> Result<Option<String>, StorageError> {
        let v = self
            .db
            .get(key.as_bytes())
            .map_err(|e| engine(&format!("reading {key:?}"), e))?;
        v.map(|b| frame::open_text(&format!("side record {key:?}"), key.as_bytes(), &b))
            .transpose()
    }

    /// Writes the text record under `key`, durably (synced).
    ///
    /// # Errors
    /// Engine failures.
    pub fn set(&self, key: &str, value: &str) -> Result<(), StorageError> {
        self.db
            .put_opt(
                key.as_bytes(),
                frame::seal(key.as_bytes(), value.as_bytes()),
                &Self::synced(),
            )
            .map_err(|e| engine(&format!("writing {key:?}"), e))
    }

    /// Test only: flips one byte of the stored record under `key` (the contract's
    /// attacker, as a damaged disk or a hand edit would).
    #[doc(hidden)]
    pub fn flip_byte(&self, key: &[u8], at: usize) {
        if let Ok(Some(mut v)) = self.db.get(key) {
            let i = at % v.len();
            v[i] ^= 0x20;
            let _ = self.db.put_opt(key, v, &Self::synced());
        }
    }

    /// The evidence keys, in order.
    fn evidence_keys(&self) -> Result<Vec<Box<[u8]>>, StorageError> {
        let prefix = self.evidence_prefix.as_bytes();
        let mut out = Vec::new();
        for kv in self.db.prefix_iterator(prefix) {
            let (k, _) = kv.map_err(|e| engine("listing evidence", e))?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(k);
        }
        Ok(out)
    }

    /// Test only: the key of the `n`th piece of evidence.
    #[doc(hidden)]
    pub fn evidence_key(&self, n: usize) -> Vec<u8> {
        format!("{}{n:08}", self.evidence_prefix).into_bytes()
    }
}

impl NoteStore for SideDb {
    fn latest(&self, origin: &str) -> Result<Option<String>, StorageError> {
        let v = self
            .db
            .get(origin.as_bytes())
            .map_err(|e| engine(&format!("reading the note of {origin:?}"), e))?;
        v.map(|b| frame::open_text(&notes::what(origin), origin.as_bytes(), &b))
            .transpose()
    }

    fn put(&self, origin: &str, note: &str) -> Result<(), StorageError> {
        self.set(origin, note)
    }
}

impl EvidenceStore for SideDb {
    fn load_evidence(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        for k in self.evidence_keys()? {
            let v = self
                .db
                .get(&k)
                .map_err(|e| engine("reading evidence", e))?
                .ok_or_else(|| StorageError::Corrupt {
                    what: "equivocation evidence".into(),
                    detail: "listed but missing".into(),
                })?;
            out.push(frame::open_text(
                &format!("equivocation evidence {:?}", String::from_utf8_lossy(&k)),
                &k,
                &v,
            )?);
        }
        Ok(out)
    }

    fn add_evidence(&self, json: &str) -> Result<(), StorageError> {
        let _g = self.adding.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.evidence_keys()?.len();
        let key = format!("{}{n:08}", self.evidence_prefix);
        self.set(&key, json)
    }
}
