//! The witness's note store: per log origin, the latest checkpoint note the witness
//! cosigned ([`crate::witness`]).
//!
//! Owns: the [`NoteStore`] contract and its memory implementation. The RocksDB one is
//! [`super::SideDb`], the PostgreSQL one [`super::PgStore`] (table
//! `urne_witness_notes`); `tests/storage.rs` runs the same checks
//! ([`super::contract::check_notes`]) on all three.
//! Does not own: the check-and-update of the record (the witness holds one lock over
//! both), nor what a note means (the witness opens it with the log's key at load).
//!
//! # Contract
//!
//! - [`NoteStore::latest`] returns exactly what the last successful
//!   [`NoteStore::put`] wrote for that origin, across restarts: `put` returns once the
//!   write is durable (synced), and only then is the cosignature handed out.
//! - A stored record that was damaged or edited is [`StorageError::Corrupt`] at load
//!   (each record is checksummed, [`super::frame`]), never a note believed.
//! - An origin never written is `Ok(None)`.

use super::{frame, StorageError};
use std::collections::HashMap;
use std::sync::Mutex;

/// Where a witness keeps the latest checkpoint it cosigned per log origin.
pub trait NoteStore: Send + Sync + 'static {
    /// Returns the note last written for `origin`.
    ///
    /// # Errors
    /// Engine failures; a damaged record ([`StorageError::Corrupt`]).
    fn latest(&self, origin: &str) -> Result<Option<String>, StorageError>;
    /// Records `note` as the latest of `origin`, durably.
    ///
    /// # Errors
    /// Engine failures: nothing may be handed out on the strength of this write.
    fn put(&self, origin: &str, note: &str) -> Result<(), StorageError>;
}

/// The record's name in errors.
pub(crate) fn what(origin: &str) -> String {
    format!("the witness's note of {origin:?}")
}

/// Notes in memory (tests; a witness that forgets at exit).
#[derive(Default)]
pub struct MemoryNotes {
    // Framed records, as a disk would hold them (so damage is checked the same way).
    notes: Mutex<HashMap<String, Vec<u8>>>,
}

impl MemoryNotes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Test only: flips one byte of the record of `origin` (the contract's attacker).
    #[doc(hidden)]
    pub fn flip_byte(&self, origin: &str, at: usize) {
        let mut g = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = g.get_mut(origin) {
            let i = at % v.len();
            v[i] ^= 0x20;
        }
    }
}

impl NoteStore for MemoryNotes {
    fn latest(&self, origin: &str) -> Result<Option<String>, StorageError> {
        let g = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        g.get(origin)
            .map(|v| frame::open_text(&what(origin), origin.as_bytes(), v))
            .transpose()
    }

    fn put(&self, origin: &str, note: &str) -> Result<(), StorageError> {
        let v = frame::seal(origin.as_bytes(), note.as_bytes());
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(origin.to_string(), v);
        Ok(())
    }
}
