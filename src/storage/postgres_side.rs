//! PostgreSQL tables of the side records (schema version 2, created by
//! [`super::postgres`]'s migrations): a witness's notes and the equivocation
//! evidence, kept in the log's database so that every instance of a log sees the
//! same, and a log on PostgreSQL keeps nothing of its own on a local disk but its key
//! and its high-water mark.
//!
//! Owns: the SQL of [`NoteStore`], [`EvidenceStore`] and [`CosignedStore`] (the
//! latest cosigned checkpoint, which followers serve) on [`PgStore`], and of the
//! shared halt ([`super::halt`], schema version 3). Each write is
//! one statement in its own transaction, acknowledged by PostgreSQL after its commit
//! (durable as the log's batches are). Records are checksummed ([`super::frame`]).

use super::cosigned::CosignedStore;
use super::evidence::{EvidenceStore, EVIDENCE_KEY};
use super::halt::{Halt, HaltState};
use super::notes::{self, NoteStore};
use super::{frame, PgStore, StorageError};

impl PgStore {
    /// Records `halt` in the database, durably, with the lease row's flag in the same
    /// statement: from its commit on, no instance commits a batch or takes the lease
    /// ([`super::halt`]). A commit holding the lease row is waited for.
    ///
    /// # Errors
    /// If the database cannot be reached (the caller keeps its own halt anyway).
    pub fn record_halt(&self, halt: &Halt) -> Result<(), StorageError> {
        self.query(
            "recording the halt",
            "WITH r AS (INSERT INTO urne_halts (value) VALUES ($1)) \
             INSERT INTO urne_leader (one, holder, url, epoch, expires, halted) \
             VALUES (true, '', '', 0, '-infinity', true) \
             ON CONFLICT (one) DO UPDATE SET halted = true",
            &[&halt.seal()],
        )?;
        Ok(())
    }

    /// Returns the database's halt state, each record checked (one round trip).
    ///
    /// # Errors
    /// If the database cannot be reached; [`StorageError::Corrupt`] if a halt record
    /// was damaged or edited (never read as no halt).
    pub fn halt_state(&self) -> Result<HaltState, StorageError> {
        let rows = self.query(
            "reading the halt",
            "SELECT coalesce((SELECT halted FROM urne_leader), false), \
                    (SELECT array_agg(value ORDER BY n) FROM urne_halts)",
            &[],
        )?;
        let Some(row) = rows.first() else {
            return Ok(HaltState::default());
        };
        let flag: bool = row.get(0);
        let values: Option<Vec<Vec<u8>>> = row.get(1);
        let records = values
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, v)| Halt::open(&format!("the halt record #{i} in urne_halts"), v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HaltState { records, flag })
    }
}

impl NoteStore for PgStore {
    fn latest(&self, origin: &str) -> Result<Option<String>, StorageError> {
        let rows = self.query(
            "reading a witness note",
            "SELECT value FROM urne_witness_notes WHERE origin = $1",
            &[&origin],
        )?;
        rows.first()
            .map(|r| frame::open_text(&notes::what(origin), origin.as_bytes(), r.get(0)))
            .transpose()
    }

    fn put(&self, origin: &str, note: &str) -> Result<(), StorageError> {
        let value = frame::seal(origin.as_bytes(), note.as_bytes());
        self.query(
            "writing a witness note",
            "INSERT INTO urne_witness_notes (origin, value) VALUES ($1, $2) \
             ON CONFLICT (origin) DO UPDATE SET value = excluded.value",
            &[&origin, &value],
        )?;
        Ok(())
    }
}

impl EvidenceStore for PgStore {
    fn load_evidence(&self) -> Result<Vec<String>, StorageError> {
        let rows = self.query(
            "reading equivocation evidence",
            "SELECT n, value FROM urne_evidence ORDER BY n",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.get(0);
                frame::open_text(
                    &format!("equivocation evidence row {n}"),
                    EVIDENCE_KEY,
                    r.get(1),
                )
            })
            .collect()
    }

    fn add_evidence(&self, json: &str) -> Result<(), StorageError> {
        let value = frame::seal(EVIDENCE_KEY, json.as_bytes());
        self.query(
            "writing equivocation evidence",
            "INSERT INTO urne_evidence (value) VALUES ($1)",
            &[&value],
        )?;
        Ok(())
    }
}

impl CosignedStore for PgStore {
    fn cosigned(&self) -> Result<Option<(u64, String)>, StorageError> {
        let rows = self.query(
            "reading the cosigned checkpoint",
            "SELECT size, note FROM urne_cosigned",
            &[],
        )?;
        rows.first()
            .map(|r| {
                let size: i64 = r.get(0);
                let size = u64::try_from(size).map_err(|_| StorageError::Corrupt {
                    what: "the cosigned checkpoint".into(),
                    detail: format!("negative size {size}"),
                })?;
                Ok((size, r.get(1)))
            })
            .transpose()
    }

    fn set_cosigned(&self, size: u64, note: &str) -> Result<(), StorageError> {
        let size =
            i64::try_from(size).map_err(|_| StorageError::Engine("size too large".into()))?;
        self.query(
            "writing the cosigned checkpoint",
            "INSERT INTO urne_cosigned (one, size, note) VALUES (true, $1, $2) \
             ON CONFLICT (one) DO UPDATE SET size = excluded.size, note = excluded.note \
             WHERE urne_cosigned.size <= excluded.size",
            &[&size, &note],
        )?;
        Ok(())
    }
}
