//! PostgreSQL tables of the side records (schema version 2, created by
//! [`super::postgres`]'s migrations): a witness's notes and the equivocation
//! evidence, kept in the log's database so that every instance of a log sees the
//! same, and a log on PostgreSQL keeps nothing of its own on a local disk but its key
//! and its high-water mark.
//!
//! Owns: the SQL of [`NoteStore`], [`EvidenceStore`] and [`CosignedStore`] (the
//! latest cosigned checkpoint, which followers serve) on [`PgStore`]. Each write is
//! one statement in its own transaction, acknowledged by PostgreSQL after its commit
//! (durable as the log's batches are). Records are checksummed ([`super::frame`]).

use super::cosigned::CosignedStore;
use super::evidence::{EvidenceStore, EVIDENCE_KEY};
use super::notes::{self, NoteStore};
use super::{frame, PgStore, StorageError};

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
