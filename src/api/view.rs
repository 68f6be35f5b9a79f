//! The read view: what every read endpoint needs, and nothing that writes.
//!
//! Owns: [`ReadView`] (the store, the served head, the log's key, the cosigned head,
//! gossip, the web page's files, and what the sequencer's status pages show) and the
//! choice of the checkpoint a read is answered against.
//! Does not own: the write side (the sequencer handle, the board allow-list, see
//! [`super::AppState`]). A log instance is a read view plus a sequencer or, as a
//! follower, a forwarder; a mirror is a read view plus a copier ([`crate::mirror`]).

use crate::sequencer::SequencerStatus;
use crate::storage::{Store, TreeHead};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use urne_client::note::VerifierKey;

/// State shared by the read handlers (tiles, JSON lookups, proofs, statistics, the
/// web page), of a log or a mirror.
#[derive(Clone)]
pub struct ReadView {
    /// The log's storage (a mirror's copy).
    pub store: Arc<dyn Store>,
    /// The latest committed tree head (a mirror's: the latest it verified).
    pub head: watch::Receiver<Arc<TreeHead>>,
    /// The tolerance the rules apply to statements' times (a mirror's: the one it
    /// re-checks the log's entries with, learnt from the log); `None` when unknown.
    pub time_tolerance_secs: Option<Arc<AtomicI64>>,
    /// The log's verifier key.
    pub log_key: VerifierKey,
    /// Start time of the process.
    pub started: Instant,
    /// The web page's files.
    pub web: Arc<crate::web::Web>,
    /// Witness cosignatures gathered for the checkpoints ([`crate::cosign`]).
    pub cosign: Arc<crate::cosign::Cosigning>,
    /// The mirrors the log pushes to and their cosignatures ([`crate::push`]).
    pub mirrors: Arc<crate::push::Pushing>,
    /// Checkpoint gossip with peers and the equivocation evidence it found
    /// ([`crate::gossip`]): counted in `/metrics`.
    pub gossip: Arc<crate::gossip::Gossiper>,
    /// The sequencer's counters and whether it stopped, for `/v1/stats` and
    /// `/metrics`: `None` for a mirror, which has no sequencer.
    pub sequencer: Option<SequencerStatus>,
    /// With several instances on one database: this instance's role (whether it
    /// leads, and who does). `None`: the only instance, or a mirror.
    pub role: Option<Arc<crate::leader::Role>>,
}

impl ReadView {
    /// Runs `f`, which reads the store, where that costs least: in place when the
    /// store answers from memory and local disk (RocksDB: measured faster than a
    /// hand-off, see `json::inclusion`), on tokio's blocking pool when each read waits
    /// for a round trip ([`Store::remote`]: PostgreSQL), so that it never holds one of
    /// the runtime's workers (one per core) while other requests wait.
    ///
    /// # Errors
    /// 500 if the blocking task panicked.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadView) -> T + Send + 'static,
    ) -> Result<T, super::ApiError> {
        if !self.store.remote() {
            return Ok(f(self));
        }
        let view = self.clone();
        tokio::task::spawn_blocking(move || f(&view))
            .await
            .map_err(|e| super::ApiError::internal(format!("read task: {e}")))
    }

    /// Returns the latest committed tree head.
    pub fn head(&self) -> Arc<TreeHead> {
        self.head.borrow().clone()
    }

    /// Returns the time tolerance the rules apply, if known.
    pub fn time_tolerance_secs(&self) -> Option<i64> {
        self.time_tolerance_secs
            .as_ref()
            .map(|t| t.load(Ordering::Relaxed))
    }

    /// Whether this instance sequences: a log alone always does, an instance on a
    /// shared database while it holds the lease, a mirror never.
    pub fn leading(&self) -> bool {
        self.sequencer.is_some() && self.role.as_ref().is_none_or(|r| r.is_leader())
    }

    /// Returns the checkpoint to serve at `/checkpoint`.
    /// With witnesses, that is the latest checkpoint that gathered a quorum of
    /// cosignatures (the newest log-signed one until the first does).
    pub fn served_checkpoint(&self) -> String {
        match self.cosign.served() {
            Some(s) => s.1.clone(),
            None => self.head().checkpoint.clone(),
        }
    }

    /// The checkpoint to prove entry `index` against, as (size, signed note): the
    /// served (witnessed) checkpoint if it covers the entry, else the latest one (its
    /// cosignatures are still being gathered).
    pub fn checkpoint_covering(&self, index: u64) -> (u64, String) {
        match self.cosign.served() {
            Some(s) if index < s.0 => (s.0, s.1.clone()),
            _ => {
                let h = self.head();
                (h.size, h.checkpoint.clone())
            }
        }
    }
}
