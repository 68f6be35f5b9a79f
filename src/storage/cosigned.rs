//! The cosigned head shared by the instances of a log: the latest checkpoint a
//! quorum of its witnesses cosigned, as the leader gathered it, for every instance to
//! serve at `/checkpoint` ([`crate::cosign`]).
//!
//! Owns: the [`CosignedStore`] contract and its memory implementation; the PostgreSQL
//! one is [`super::PgStore`] (table `urne_cosigned`). A log on RocksDB is one
//! instance and keeps its cosigned checkpoint in a file of its data directory instead
//! ([`crate::cosign::COSIGNED_FILE`]).
//! Does not own: whether a note is cosigned enough (each instance checks it with the
//! log key, its witness policy and its own tree before serving it).
//!
//! # Contract
//!
//! - [`CosignedStore::set_cosigned`] keeps the note of the larger size: a slower
//!   writer never replaces a larger cosigned head by a smaller one; one of the same
//!   size replaces it (more cosignatures gathered late).
//! - [`CosignedStore::cosigned`] returns the note kept, or `None`.

use super::StorageError;
use std::sync::Mutex;

/// Where the instances of a log share its latest cosigned checkpoint.
pub trait CosignedStore: Send + Sync + 'static {
    /// Returns the latest cosigned checkpoint kept, with its size.
    ///
    /// # Errors
    /// Engine failures.
    fn cosigned(&self) -> Result<Option<(u64, String)>, StorageError>;
    /// Keeps `note` (of tree size `size`) unless a larger one is kept.
    ///
    /// # Errors
    /// Engine failures.
    fn set_cosigned(&self, size: u64, note: &str) -> Result<(), StorageError>;
}

/// The cosigned head in memory (tests).
#[derive(Default)]
pub struct MemoryCosigned(Mutex<Option<(u64, String)>>);

impl CosignedStore for MemoryCosigned {
    fn cosigned(&self) -> Result<Option<(u64, String)>, StorageError> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn set_cosigned(&self, size: u64, note: &str) -> Result<(), StorageError> {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|(s, _)| *s <= size) {
            *g = Some((size, note.to_string()));
        }
        Ok(())
    }
}
