//! The equivocation evidence store: the pieces of evidence a log, mirror or witness
//! found through gossip ([`crate::gossip::Evidence`]), kept across restarts.
//!
//! Owns: the [`EvidenceStore`] contract and its memory implementation. The RocksDB
//! one is [`super::SideDb`] (under a key prefix), the PostgreSQL one [`super::PgStore`]
//! (table `urne_evidence`, shared by every instance of a log on that database);
//! `tests/storage.rs` runs the same checks ([`super::contract::check_evidence`]) on
//! all three.
//! Does not own: the evidence's JSON shape (`urne_client::gossip::Equivocation`),
//! deduplication, the cap, nor checking a piece with the log key (gossip does each at
//! load).
//!
//! # Contract
//!
//! - [`EvidenceStore::load_evidence`] returns every piece added, oldest first, across
//!   restarts ([`EvidenceStore::add_evidence`] returns once the write is durable).
//! - A stored piece that was damaged or edited is [`StorageError::Corrupt`] at load
//!   (each record is checksummed, [`super::frame`]), never evidence believed.
//! - Several writers may add at once (instances of one log on PostgreSQL): nothing
//!   added is lost, the order between them is the store's.

use super::{frame, StorageError};
use std::sync::Mutex;

/// The key every piece of evidence is checksummed under by the stores that do not
/// name a piece by its position (memory, PostgreSQL).
pub(crate) const EVIDENCE_KEY: &[u8] = b"equivocation";

/// Where a party keeps the equivocation evidence it found, as JSON text.
pub trait EvidenceStore: Send + Sync + 'static {
    /// Returns every piece added, oldest first.
    ///
    /// # Errors
    /// Engine failures; a damaged record ([`StorageError::Corrupt`]).
    fn load_evidence(&self) -> Result<Vec<String>, StorageError>;
    /// Adds one piece after the others, durably.
    ///
    /// # Errors
    /// Engine failures.
    fn add_evidence(&self, json: &str) -> Result<(), StorageError>;
}

/// Evidence in memory (tests, a log over the memory store).
#[derive(Default)]
pub struct MemoryEvidence {
    // Framed records, as a disk would hold them.
    pieces: Mutex<Vec<Vec<u8>>>,
}

impl MemoryEvidence {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Test only: flips one byte of the `n`th piece (the contract's attacker).
    #[doc(hidden)]
    pub fn flip_byte(&self, n: usize, at: usize) {
        let mut g = self.pieces.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = g.get_mut(n) {
            let i = at % v.len();
            v[i] ^= 0x20;
        }
    }
}

impl EvidenceStore for MemoryEvidence {
    fn load_evidence(&self) -> Result<Vec<String>, StorageError> {
        let g = self.pieces.lock().unwrap_or_else(|p| p.into_inner());
        g.iter()
            .enumerate()
            .map(|(n, v)| frame::open_text(&format!("equivocation evidence #{n}"), EVIDENCE_KEY, v))
            .collect()
    }

    fn add_evidence(&self, json: &str) -> Result<(), StorageError> {
        self.pieces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(frame::seal(EVIDENCE_KEY, json.as_bytes()));
        Ok(())
    }
}
