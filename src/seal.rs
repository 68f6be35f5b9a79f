//! The seals the log recorded: for each election sealed automatically (R.211-572),
//! the first cosigned checkpoint it served that seals it.
//!
//! Owns: watching the cosigned checkpoints the log serves, recording each election's
//! seal once (kept in `DATA/seals.json`, written atomically), and answering it for
//! `/v1/elections/<id>`. Does not own: the decision "this checkpoint seals this
//! election" (`urne_client::seal::check`, which monitors run too), the rule that
//! refuses statements after the seal (`urne_client::rules`), gathering cosignatures
//! ([`crate::cosign`]).
//!
//! A seal is recorded when a cosigned checkpoint is published whose every witness
//! timestamp is at or after the election's seal instant (close + grace) and which
//! covers its close: so the seal is the first such checkpoint, give or take one
//! cosigning round. A log without witnesses records none (no one attests the time).

use crate::storage::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use urne_client::checkpoint::{open_checkpoint, WitnessKey, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::rules::{Phase, StateKey, StateValue, StateView};
use urne_client::seal::Seal;

/// The file of the data directory holding the recorded seals.
pub const SEALS_FILE: &str = "seals.json";

/// The recorded seals, by election id.
#[derive(Default)]
pub struct Seals {
    inner: Mutex<Inner>,
    setup: OnceLock<(PathBuf, VerifierKey)>,
}

#[derive(Default)]
struct Inner {
    seals: BTreeMap<String, Seal>,
    // The last cosigned checkpoint looked at: each is looked at once (a check-in
    // brings the same size with fresh cosignatures).
    seen: String,
}

impl Seals {
    /// Reads the seals kept in `dir` and keeps every new one there; `log_key` opens
    /// the checkpoints. A file that does not parse is set aside with a warning (the
    /// seals are found again from the next cosigned checkpoints, later ones).
    pub fn open(&self, dir: &std::path::Path, log_key: &VerifierKey) {
        let path = dir.join(SEALS_FILE);
        let _ = self.setup.set((path.clone(), log_key.clone()));
        match std::fs::read(&path) {
            Ok(b) => match serde_json::from_slice::<BTreeMap<String, Seal>>(&b) {
                Ok(m) => self.lock().seals = m,
                Err(e) => tracing::warn!("{} does not parse, ignored: {e}", path.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("reading {}: {e}", path.display()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns the seal recorded for `election`.
    pub fn get(&self, election: &str) -> Option<Seal> {
        self.lock().seals.get(election).cloned()
    }

    /// Looks at the cosigned checkpoint `note` (tree `size`) the log now serves,
    /// opened with the witnesses `witnesses` and `quorum`, and records it as the seal
    /// of every closed election it seals that has none yet.
    pub fn observe(
        &self,
        store: &dyn Store,
        size: u64,
        note: &str,
        witnesses: &[WitnessKey],
        quorum: usize,
    ) {
        let Some((path, log_key)) = self.setup.get() else {
            return;
        };
        {
            let mut g = self.lock();
            if g.seen == note {
                return;
            }
            g.seen = note.to_string();
        }
        let policy = WitnessPolicy::k_of_n(witnesses.to_vec(), quorum);
        let cp = match open_checkpoint(note.as_bytes(), log_key, &policy) {
            Ok(cp) => cp,
            Err(e) => {
                tracing::warn!("the served checkpoint of {size} entries does not open: {e}");
                return;
            }
        };
        let ids = match store.elections() {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("listing elections for their seals: {e}");
                return;
            }
        };
        let view = crate::sequencer::StoreStateView(store);
        let mut added = false;
        for id in ids {
            if self.lock().seals.contains_key(&id) {
                continue;
            }
            let Ok(Some(StateValue::Election(es))) = view.get(&StateKey::Election(id.clone()))
            else {
                continue;
            };
            if es.phase != Phase::Closed {
                continue;
            }
            if let Ok(seal) = urne_client::seal::check(&es, &cp) {
                tracing::info!(
                    election = %id,
                    size,
                    "election sealed: the checkpoint of {size} entries, cosigned after {}, is its seal",
                    seal.sealed_after
                );
                self.lock().seals.insert(id, seal);
                added = true;
            }
        }
        if added {
            let bytes = match serde_json::to_vec_pretty(&self.lock().seals) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("serialising the seals: {e}");
                    return;
                }
            };
            if let Err(e) = crate::atomic_file::write_atomic(path, &bytes) {
                tracing::error!("keeping the seals in {}: {e:#}", path.display());
            }
        }
    }
}
