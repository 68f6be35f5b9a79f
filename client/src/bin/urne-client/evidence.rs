//! Evidence of the rollbacks and forks a monitor found, kept in its state directory.
//!
//! Owns: building an [`Equivocation`] record (the library's format, the one mirrors
//! and witnesses serve) from two checkpoints signed by the log that contradict each
//! other, with a consistency proof this monitor computes itself from authenticated
//! tiles of the larger tree (never the proof the log offered: that is the one that
//! failed); `DIR/evidence.jsonl`, one record per line, appended once per incident
//! (the library's `ForkKey`: the held checkpoint contradicted) and read back at start (so an alert is raised once, across restarts);
//! and the list served at `GET /v1/gossip/equivocations`.
//!
//! What anyone can check: a fork (two roots for one size, or a smaller checkpoint
//! that is not a prefix of a larger one) passes [`Equivocation::verify`] with the log
//! key alone, and only such records are served. A rollback to a *prefix* of the tree
//! (a restored backup) is recorded too, with the proof that the smaller tree is a
//! prefix, but it does not pass `verify` and is not served: both checkpoints can be
//! true, only their order is the lie, and a signed checkpoint carries no time. It
//! becomes a verifiable fork as soon as the rolled-back log signs a new tree of the
//! old size or more. Does not own: detecting the conflicts (`monitor.rs`,
//! `trust::check_consistent`, `peers.rs`), the proof algorithms (library).

use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::{HttpTiles, Log};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use urne_client::checkpoint::{Checkpoint, SignedCheckpoint};
use urne_client::consistency::{ConflictKind, ForkKey};
use urne_client::gossip::Equivocation;
use urne_client::note::VerifierKey;
use urne_client::tiles::TileHashVerifier;
use urne_client::tree;

#[derive(Default)]
struct Held {
    records: Vec<Equivocation>,
    /// The dedup keys ([`ForkKey`]) of both checkpoints of every record: a record
    /// does not say which of its two the monitor held, and a later conflict about
    /// either is the same incident.
    keys: HashSet<ForkKey>,
}

/// The evidence file of a state directory, shared with the gossip server.
#[derive(Clone)]
pub struct Evidence {
    path: PathBuf,
    log_key: VerifierKey,
    held: Arc<Mutex<Held>>,
}

impl Evidence {
    /// Reads `DIR/evidence.jsonl` (absent: nothing found yet).
    ///
    /// # Errors
    /// [`Kind::Other`] if it cannot be read or a line is not a record signed by this
    /// log (a state directory of another log, or a damaged file).
    pub fn load(dir: &Path, log_key: &VerifierKey) -> Res<Self> {
        let path = dir.join("evidence.jsonl");
        let mut held = Held::default();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
                    let damaged = |m: String| {
                        Fail::new(
                            Kind::Other,
                            format!("{} line {} is damaged: {m}", path.display(), n + 1),
                        )
                    };
                    let e: Equivocation =
                        serde_json::from_str(line).map_err(|e| damaged(e.to_string()))?;
                    let a = open(&e.note_a, log_key).map_err(&damaged)?;
                    let b = open(&e.note_b, log_key).map_err(&damaged)?;
                    let kind = kind_of(&e, log_key);
                    held.keys.insert(ForkKey::of(kind, &a));
                    held.keys.insert(ForkKey::of(kind, &b));
                    held.records.push(e);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Fail::new(
                    Kind::Other,
                    format!("reading {}: {e}", path.display()),
                ))
            }
        }
        Ok(Evidence {
            path,
            log_key: log_key.clone(),
            held: Arc::new(Mutex::new(held)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports whether a record about this held checkpoint (the library's dedup key
    /// of a conflict) is held.
    pub fn holds(&self, key: &ForkKey) -> bool {
        self.lock().keys.contains(key)
    }

    /// Appends `e` to the file (fsynced) unless a record about either of its
    /// checkpoints is held; returns whether it was new.
    ///
    /// # Errors
    /// [`Kind::Other`] if the record's notes are not signed by the log or the file
    /// cannot be written.
    pub fn record(&self, e: &Equivocation) -> Res<bool> {
        let a = open(&e.note_a, &self.log_key).map_err(|m| Fail::new(Kind::Other, m))?;
        let b = open(&e.note_b, &self.log_key).map_err(|m| Fail::new(Kind::Other, m))?;
        let mut held = self.lock();
        let kind = kind_of(e, &self.log_key);
        let (ka, kb) = (ForkKey::of(kind, &a), ForkKey::of(kind, &b));
        if held.keys.contains(&ka) || held.keys.contains(&kb) {
            return Ok(false);
        }
        held.keys.insert(ka);
        held.keys.insert(kb);
        let line = serde_json::to_string(e).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(ctx(Kind::Other, format!("opening {}", self.path.display())))?;
        writeln!(f, "{line}")
            .and_then(|()| f.sync_all())
            .map_err(ctx(Kind::Other, format!("writing {}", self.path.display())))?;
        held.records.push(e.clone());
        Ok(true)
    }

    /// The records anyone holding the log key can check ([`Equivocation::verify`]),
    /// as served at `GET /v1/gossip/equivocations`.
    pub fn verifiable(&self) -> Vec<Equivocation> {
        self.lock()
            .records
            .iter()
            .filter(|e| e.verify(&self.log_key).is_ok())
            .cloned()
            .collect()
    }
}

/// The kind a record is about: as it says, or (records written before it said) a
/// rollback if it does not prove a fork.
fn kind_of(e: &Equivocation, log_key: &VerifierKey) -> ConflictKind {
    e.kind.unwrap_or_else(|| {
        if e.verify(log_key).is_ok() {
            ConflictKind::Fork
        } else {
            ConflictKind::Rollback
        }
    })
}

/// Opens a note under the log key alone.
fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, String> {
    urne_client::checkpoint::open_checkpoint(
        note.as_bytes(),
        key,
        &urne_client::checkpoint::WitnessPolicy::none(),
    )
    .map(|s| s.checkpoint)
    .map_err(|e| format!("not a checkpoint signed by the log: {e}"))
}

/// Builds the record of two conflicting checkpoints of one log. `source` says where
/// the conflicting one was shown. For different sizes, the consistency proof from the
/// smaller size is computed from tiles of the larger tree, authenticated against its
/// signed root, fetched from the first of `servers` that serves them (the log, a
/// mirror); if none does, the record holds both notes and no proof.
pub fn build(
    kind: ConflictKind,
    x: &SignedCheckpoint,
    y: &SignedCheckpoint,
    source: &str,
    servers: &[&Log],
) -> Equivocation {
    let (a, b) = if x.checkpoint.size <= y.checkpoint.size {
        (x, y)
    } else {
        (y, x)
    };
    let (ca, cb) = (&a.checkpoint, &b.checkpoint);
    let mut e = Equivocation {
        origin: ca.origin.clone(),
        reason: String::new(),
        note_a: a.note.clone(),
        note_b: b.note.clone(),
        proof: Vec::new(),
        old_root_from_proof: None,
        source: source.to_string(),
        kind: Some(kind),
    };
    if ca.size == cb.size {
        e.reason = format!("two roots for tree size {}", ca.size);
        return e;
    }
    for log in servers {
        let fetcher = HttpTiles::new(log);
        let Ok(verifier) = TileHashVerifier::new(cb.size, cb.root, &fetcher) else {
            break;
        };
        let proved = tree::root_from_store(ca.size, &verifier).and_then(|root| {
            tree::prove_consistency(ca.size, cb.size, &verifier).map(|p| (root, p))
        });
        let Ok((root_at, proof)) = proved else {
            continue;
        };
        e.proof = proof.iter().map(tree::hash_to_base64).collect();
        e.old_root_from_proof = Some(tree::hash_to_base64(&root_at));
        e.reason = if root_at == ca.root {
            format!(
                "rollback: the log showed its tree of {} entries after signing one of {} entries; it is a prefix (proof from {}), so only the order proves the rollback",
                ca.size,
                cb.size,
                log.base()
            )
        } else {
            format!(
                "checkpoint of size {} is not a prefix of the checkpoint of size {}",
                ca.size, cb.size
            )
        };
        return e;
    }
    e.reason = format!(
        "the log showed checkpoints of sizes {} and {} that it cannot prove consistent; no server reachable here holds the tree of {} entries to prove which entries differ",
        ca.size, cb.size, cb.size
    );
    e
}
