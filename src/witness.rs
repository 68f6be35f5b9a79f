//! The witness mode (`urne witness`): C2SP tlog-witness `POST /add-checkpoint`.
//!
//! Owns: the atomic check-and-update of the witness's durable record of the latest
//! checkpoint it cosigned per log origin (kept by a [`NoteStore`]: RocksDB in its own
//! directory by default, PostgreSQL with `--database`, checked with the log's key at
//! load),
//! the add-checkpoint request parser and its status codes, `GET /v1/gossip` (the
//! checkpoints the witness holds) and `GET /metrics`.
//! Does not own: checkpoint, cosignature and proof formats (`urne_client`), asking
//! witnesses for cosignatures ([`crate::cosign`]), comparing peers' checkpoints and the
//! evidence ([`crate::gossip`]).
//!
//! Status codes follow C2SP tlog-witness: 400 malformed body or `old` larger than
//! the checkpoint; 404 unknown origin; 403 no valid signature by the log key, with a
//! body naming which; 409 (`text/x.tlog.size`, the witness's size) when
//! `old` is not the size it holds, or the sizes are equal and the roots differ; 422 when
//! the consistency proof does not verify; 200 with one `cosignature/v1` line otherwise.
//!
//! Monitoring (the read side C2SP tlog-witness leaves to be designed, "TBD Monitor
//! Retrieval Mechanism"): `GET /checkpoint/<origin>` answers the latest checkpoint the
//! witness cosigned for that log, with the log's signature and a cosignature of the
//! witness timestamped now (it still holds that tree: the same answer a same-size
//! `add-checkpoint` would give), so a monitor can get the witness's view without the
//! log; 404 for an origin it does not follow or never cosigned.
//!
//! Evidence of its own: a log that asks to cosign two roots for one size leaves both
//! log-signed notes here (served at `/v1/gossip/equivocations`, counted as
//! `urne_equivocations`); one that asks to cosign a smaller tree than held (a restored
//! backup) is counted (`urne_witness_rollback_attempts`), its latest such checkpoint
//! shown in `/v1/gossip` (`rollback_attempts`), and logged as ROLLBACK. Consistency is
//! judged by the one decision of `urne_client::consistency`.
//!
//! Gossip: `--peer URL` makes the witness pull peers' `/v1/gossip` and compare each
//! checkpoint of a log it follows with the one it holds ([`crate::gossip`]: proofs for
//! other sizes come from the tiles of the logs and mirrors among its peers); evidence
//! is stored with the checkpoints and served at `/v1/gossip/equivocations`.

use crate::gossip::{Equivocation, Evidence, Gossip, GossipCheckpoint, Gossiper, Held};
use crate::storage::{EvidenceStore, NoteStore, SideDb};
use anyhow::{Context as _, Result};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use urne_client::checkpoint::{
    open_checkpoint, Checkpoint, CheckpointError, CosignerKey, WitnessPolicy,
};
use urne_client::consistency::{decide, Decision, Shown, TrustPolicy};
use urne_client::note::VerifierKey;
use urne_client::tree;

/// The most consistency-proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The largest add-checkpoint body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Table files a witness (or evidence) database keeps open: they are small.
pub const WITNESS_MAX_OPEN_FILES: i32 = crate::storage::side::SIDE_MAX_OPEN_FILES;

/// A witness: its key, the logs it follows, its store, its gossip.
pub struct Witness {
    key: CosignerKey,
    logs: Vec<VerifierKey>,
    store: Arc<dyn NoteStore>,
    // The store of the evidence found (gossip is rebuilt around it by `with_peers`).
    evidence: Arc<dyn EvidenceStore>,
    // Serialises "compare with the stored size" and "store the new checkpoint" so two
    // concurrent requests can never roll the record back (tlog-witness, last section).
    update: Mutex<()>,
    // Peers pulled and equivocations found (kept in `evidence`).
    gossip: Arc<Gossiper>,
    // Rollback attempts per origin since start (a std mutex: held for one update).
    rollbacks: Mutex<std::collections::BTreeMap<String, RollbackAttempts>>,
}

/// The requests of one log to cosign a smaller tree than the witness holds (typed in
/// `urne_client::gossip`).
pub use urne_client::gossip::RollbackAttempts;

/// The key prefix of equivocation evidence in the witness's side database (a NUL
/// byte: no origin starts with one).
const EVIDENCE_PREFIX: &str = "\u{0}equivocation/";

/// The answer of the witness to one add-checkpoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// 200: the cosignature line(s).
    Cosigned(String),
    /// 409: the size the witness holds.
    Conflict(u64),
    /// Any other refusal: status code and reason.
    Refused(u16, String),
}

fn refused(code: u16, why: impl Into<String>) -> AddOutcome {
    AddOutcome::Refused(code, why.into())
}

/// Parses a decimal with no leading zero (unless `0`), as tlog-witness requires.
fn parse_size(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses a log argument `ORIGIN=VKEY` or a bare `VKEY` (the origin is the key name).
///
/// # Errors
/// A malformed key, or an origin that differs from the key name.
pub fn parse_log_arg(s: &str) -> Result<VerifierKey> {
    let (origin, vkey) = match s.split_once('=') {
        Some((o, k)) if !o.contains('+') => (Some(o), k),
        _ => (None, s),
    };
    let key = VerifierKey::parse(vkey).map_err(|e| anyhow::anyhow!("log key {vkey:?}: {e}"))?;
    if let Some(o) = origin {
        anyhow::ensure!(
            o == key.name(),
            "log origin {o:?} is not the key name {:?}",
            key.name()
        );
    }
    Ok(key)
}

/// An add-checkpoint request body, parsed (C2SP tlog-witness; a mirror's
/// add-checkpoint takes the same body, C2SP tlog-mirror).
pub struct AddRequest<'a> {
    /// The size the sender believes the receiver holds.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint.
    pub proof: Vec<tree::Hash>,
    /// The signed checkpoint, as sent.
    pub note: &'a str,
    /// Its text (up to and including the blank line's newline).
    pub text: &'a str,
    /// The checkpoint parsed (not yet verified).
    pub checkpoint: Checkpoint,
}

/// Parses an add-checkpoint body; a malformed one is refused with 400.
///
/// # Errors
/// The refusal to answer ([`AddOutcome::Refused`] with 400).
pub fn parse_add_checkpoint(body: &[u8]) -> Result<AddRequest<'_>, AddOutcome> {
    let Ok(body) = std::str::from_utf8(body) else {
        return Err(refused(400, "body is not UTF-8"));
    };
    let Some((first, mut rest)) = body.split_once('\n') else {
        return Err(refused(400, "no old size line"));
    };
    let Some(old) = first.strip_prefix("old ").and_then(parse_size) else {
        return Err(refused(400, format!("bad old size line {first:?}")));
    };
    let mut proof = Vec::new();
    loop {
        let Some((line, r)) = rest.split_once('\n') else {
            return Err(refused(400, "no blank line before the checkpoint"));
        };
        rest = r;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(refused(400, "more than 63 consistency proof lines"));
        }
        match tree::hash_from_base64(line) {
            Ok(h) => proof.push(h),
            Err(e) => return Err(refused(400, format!("bad proof line {line:?}: {e}"))),
        }
    }
    let note = rest;
    let Ok(parsed) = signed_note::Note::from_bytes(note.as_bytes()) else {
        return Err(refused(400, "the checkpoint is not a signed note"));
    };
    let Ok(text) = std::str::from_utf8(parsed.text()) else {
        return Err(refused(400, "the checkpoint is not UTF-8"));
    };
    let checkpoint = match Checkpoint::parse_text(text) {
        Ok(c) => c,
        Err(e) => return Err(refused(400, format!("checkpoint: {e}"))),
    };
    // The text is a prefix of the note (the signed-note format), borrowed from it.
    let text = &note[..text.len()];
    Ok(AddRequest {
        old,
        proof,
        note,
        text,
        checkpoint,
    })
}

impl Witness {
    /// Opens a witness with its RocksDB in `data/witness-db`, and the evidence found
    /// before.
    ///
    /// # Errors
    /// If the database cannot be opened, or a record in it is damaged or does not
    /// verify (see [`Witness::with_stores`]).
    pub fn open(data: &Path, key: CosignerKey, logs: Vec<VerifierKey>) -> Result<Self> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating data directory {}", data.display()))?;
        let dir = data.join("witness-db");
        let db = Arc::new(
            SideDb::open(&dir, EVIDENCE_PREFIX)
                .with_context(|| format!("opening the witness database in {}", dir.display()))?,
        );
        Self::with_stores(db.clone(), db, key, logs)
    }

    /// Opens a witness whose notes and evidence are in the PostgreSQL database at
    /// `url` (`urne witness --database`; the schema created or migrated by urne, as
    /// for a log), with nothing of its own on a local disk but its key.
    ///
    /// # Errors
    /// As [`crate::open_database`] and [`Witness::with_stores`].
    pub fn open_postgres(url: &str, key: CosignerKey, logs: Vec<VerifierKey>) -> Result<Self> {
        let pg = Arc::new(crate::open_database(url, "the witness's")?);
        Self::with_stores(pg.clone(), pg, key, logs)
    }

    /// Opens a witness on the stores given (RocksDB, PostgreSQL or memory), and the
    /// evidence found before. Every note held for a log it follows is loaded and
    /// checked with that log's key first: a witness whose record was damaged or edited
    /// refuses to start rather than cosign from a size it never cosigned.
    ///
    /// # Errors
    /// A store that cannot be read; a damaged record; a note that does not verify.
    pub fn with_stores(
        notes: Arc<dyn NoteStore>,
        evidence: Arc<dyn EvidenceStore>,
        key: CosignerKey,
        logs: Vec<VerifierKey>,
    ) -> Result<Self> {
        let gossip = Gossiper::new(
            logs.clone(),
            Vec::new(),
            Vec::new(),
            Evidence::open(evidence.clone())?,
        )?;
        let w = Witness {
            key,
            logs,
            store: notes,
            evidence,
            update: Mutex::new(()),
            gossip: Arc::new(gossip),
            rollbacks: Mutex::new(Default::default()),
        };
        for k in &w.logs {
            w.held_note(k.name()).with_context(|| {
                format!(
                    "the witness's record of {} cannot be trusted; it refuses to start. \
                     Restore the record from the log's witnesses' and mirrors' view, never \
                     from an older copy (that would let the log roll back)",
                    k.name()
                )
            })?;
        }
        Ok(w)
    }

    /// Sets the peers (mirrors, logs, witnesses) whose `/v1/gossip` this witness pulls;
    /// the logs and mirrors among them also serve the tiles that prove checkpoints of
    /// other sizes consistent.
    ///
    /// # Errors
    /// If the stored evidence cannot be read.
    pub fn with_peers(mut self, peers: Vec<String>) -> Result<Self> {
        self.gossip = Arc::new(Gossiper::new(
            self.logs.clone(),
            peers,
            Vec::new(),
            Evidence::open(self.evidence.clone())?,
        )?);
        Ok(self)
    }

    /// Returns the equivocations seen through gossip.
    pub fn equivocations(&self) -> Vec<Equivocation> {
        self.gossip.equivocations()
    }

    /// Returns the witness's gossip (peers, evidence).
    pub fn gossiper(&self) -> &Arc<Gossiper> {
        &self.gossip
    }

    /// Returns what the witness holds for `origin`, to compare peers' checkpoints with.
    ///
    /// # Errors
    /// If the store cannot be read.
    pub fn held(&self, origin: &str) -> Result<Option<Held>> {
        Ok(self.held_note(origin)?.map(|(note, _)| Held {
            note,
            tree: None,
            signer: false,
        }))
    }

    /// Returns the witness's cosigner name and verifier key.
    pub fn verifier(&self) -> urne_client::checkpoint::WitnessKey {
        self.key.verifier()
    }

    /// Handles one add-checkpoint body (C2SP tlog-witness) and returns the answer.
    /// A checkpoint is persisted before its cosignature is returned.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> AddOutcome {
        let AddRequest {
            old,
            proof,
            note,
            text,
            checkpoint: cp,
        } = match parse_add_checkpoint(body) {
            Ok(r) => r,
            Err(refusal) => return refusal,
        };
        let Some(log_key) = self.logs.iter().find(|k| k.name() == cp.origin) else {
            // C2SP tlog-witness: "If the checkpoint origin is unknown, the witness MUST
            // respond with a 404 Not Found".
            return refused(
                404,
                format!(
                    "unknown log origin {:?}: not a log this witness follows",
                    cp.origin
                ),
            );
        };
        match open_checkpoint(note.as_bytes(), log_key, &WitnessPolicy::none()) {
            Ok(_) => {}
            Err(CheckpointError::BadLogSignature) => {
                return refused(403, "no valid signature by the log key")
            }
            Err(e) => return refused(400, format!("checkpoint: {e}")),
        }
        if old > cp.size {
            // A log restored from a backup asks from the size it learnt from a 409:
            // that request is a rollback attempt too.
            if let Ok(Some(h)) = self.held_checkpoint(&cp.origin) {
                if cp.size < h.size {
                    self.rollback_attempt(&cp.origin, h.size, cp.size, note);
                }
            }
            return refused(
                400,
                format!("old size {old} exceeds checkpoint size {}", cp.size),
            );
        }
        let _guard = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let held = match self.held_checkpoint(&cp.origin) {
            Ok(h) => h,
            Err(e) => return refused(500, format!("{e:#}")),
        };
        let held_size = held.as_ref().map_or(0, |h| h.size);
        if cp.size < held_size {
            // The log asks to cosign a smaller tree than one it signed before: a
            // rollback (a restored backup). Counted and kept, served and alerted.
            self.rollback_attempt(&cp.origin, held_size, cp.size, note);
        }
        if old != held_size {
            return AddOutcome::Conflict(held_size);
        }
        match &held {
            None => {
                if !proof.is_empty() {
                    return refused(422, "the proof from size 0 must be empty");
                }
            }
            Some(h) if h.size == cp.size && h.root == cp.root => {
                if !proof.is_empty() {
                    return AddOutcome::Conflict(held_size);
                }
            }
            Some(_) => {
                // The one decision of urne-client, on the log's signatures: the
                // witness holds its last cosigned note, the request brings the proof.
                let Ok(Some(held_note)) = self.store.latest(&cp.origin) else {
                    return refused(500, "the held checkpoint cannot be read");
                };
                let trust = TrustPolicy::log_only(log_key.clone());
                let Ok(held_cp) = trust.open_log_signed(&held_note) else {
                    return refused(500, "the held checkpoint does not verify");
                };
                let Some(kept) = verified_note(text, note, log_key) else {
                    return refused(403, "no valid signature by the log key");
                };
                let decided = decide(
                    &trust,
                    Some(&held_cp),
                    &kept,
                    Shown::ByLog("add-checkpoint"),
                    |_, _| Ok::<_, std::convert::Infallible>(Some(proof.clone())),
                );
                match decided {
                    Ok(Decision::Consistent { .. } | Decision::QuorumNotMet { .. }) => {}
                    Ok(Decision::Conflict(c)) => {
                        tracing::error!(origin = %cp.origin, held = held_size, shown = cp.size,
                            "{} (this witness keeps the evidence)", c.message);
                        let same_size = cp.size == held_size;
                        if c.verifiable && self.gossip.evidence().record(c.evidence.clone()) {
                            tracing::info!(origin = %cp.origin, "equivocation evidence kept");
                        }
                        return if same_size {
                            AddOutcome::Conflict(held_size)
                        } else {
                            refused(422, format!("consistency proof: {}", c.message))
                        };
                    }
                    Err(e) => return refused(403, format!("{e}")),
                }
            }
        }
        // Only the log's signature line that verified is kept: whatever else the
        // request carried (junk lines, up to the body limit) is not the witness's to
        // store or to gossip.
        let Some(kept) = verified_note(text, note, log_key) else {
            return refused(403, "no valid signature by the log key");
        };
        if let Err(e) = self.store.put(&cp.origin, &kept) {
            return refused(500, format!("{e:#}"));
        }
        AddOutcome::Cosigned(self.key.cosign(text, now))
    }

    /// Counts and keeps a request to cosign a smaller tree than held, and says it.
    fn rollback_attempt(&self, origin: &str, held_size: u64, shown_size: u64, note: &str) {
        let mut r = self.rollbacks.lock().unwrap_or_else(|p| p.into_inner());
        let a = r
            .entry(origin.to_string())
            .or_insert_with(|| RollbackAttempts {
                origin: origin.to_string(),
                count: 0,
                held_size,
                shown_size,
                checkpoint: String::new(),
            });
        a.count += 1;
        a.held_size = held_size;
        a.shown_size = shown_size;
        a.checkpoint = note.to_string();
        if a.count == 1 || a.count.is_power_of_two() {
            // Said at the first request and then more and more rarely: the log retries.
            tracing::error!(origin, held_size, shown_size, attempts = a.count,
                "ROLLBACK: the log asks to cosign a tree of {shown_size} entries after this witness cosigned {held_size}; refused");
        }
    }

    /// Returns the rollback attempts seen since start, per origin.
    pub fn rollback_attempts(&self) -> Vec<RollbackAttempts> {
        self.rollbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Returns the latest checkpoint cosigned for `origin` (a log it follows), with
    /// the log's signature and a cosignature timestamped `now`: the monitoring read.
    ///
    /// # Errors
    /// The store cannot be read, or holds a note that does not parse.
    pub fn monitoring(&self, origin: &str, now: u64) -> Result<Option<String>> {
        if !self.logs.iter().any(|k| k.name() == origin) {
            return Ok(None);
        }
        let Some((note, _)) = self.held_note(origin)? else {
            return Ok(None);
        };
        let parsed = signed_note::Note::from_bytes(note.as_bytes())
            .map_err(|e| anyhow::anyhow!("stored note of {origin}: {e:?}"))?;
        let text = std::str::from_utf8(parsed.text()).context("stored checkpoint text")?;
        Ok(Some(format!("{note}{}", self.key.cosign(text, now))))
    }

    /// Returns the note held for `origin` and its checkpoint, checked with the log's
    /// key: a note that does not verify (damaged, edited) is an error, never a size
    /// the witness believes it cosigned.
    fn held_note(&self, origin: &str) -> Result<Option<(String, Checkpoint)>> {
        let Some(note) = self.store.latest(origin)? else {
            return Ok(None);
        };
        let key = self
            .logs
            .iter()
            .find(|k| k.name() == origin)
            .with_context(|| format!("a note held for {origin:?}, a log not followed"))?;
        let opened =
            open_checkpoint(note.as_bytes(), key, &WitnessPolicy::none()).map_err(|e| {
                anyhow::anyhow!("the note held for {origin} does not verify with the log key: {e}")
            })?;
        Ok(Some((note, opened.checkpoint)))
    }

    fn held_checkpoint(&self, origin: &str) -> Result<Option<Checkpoint>> {
        Ok(self.held_note(origin)?.map(|(_, c)| c))
    }

    /// Returns the latest checkpoint held for each followed log (for gossip).
    pub fn gossip(&self) -> Vec<GossipCheckpoint> {
        self.logs
            .iter()
            .filter_map(|k| {
                let (note, cp) = self.held_note(k.name()).ok().flatten()?;
                Some(GossipCheckpoint {
                    origin: k.name().to_string(),
                    size: cp.size,
                    checkpoint: note,
                })
            })
            .collect()
    }
}

/// Returns `text` signed by its first signature line by `log_key` that verifies, and
/// no other line; `note` is `text`, a blank line, then signature lines.
pub(crate) fn verified_note(text: &str, note: &str, log_key: &VerifierKey) -> Option<String> {
    let sigs = note.get(text.len() + 1..)?;
    sigs.lines().find_map(|line| {
        let sig = signed_note::Signature::from_bytes(line.as_bytes()).ok()?;
        (sig.name() == log_key.name()
            && sig.id() == log_key.key_id()
            && log_key.verify(text.as_bytes(), sig.signature()))
        .then(|| format!("{text}\n{line}\n"))
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// POST /add-checkpoint.
async fn add_checkpoint(
    State(w): State<Arc<Witness>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Response {
    // Read to the limit ourselves so that a too-large request still gets its answer
    // (see `http::body`).
    let body = match crate::http::body::read_limited(&headers, body, MAX_BODY).await {
        Ok(b) => b,
        Err(crate::http::body::BodyError::TooLarge { .. }) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONNECTION, HeaderValue::from_static("close"))],
                format!("request body exceeds {MAX_BODY} bytes\n"),
            )
                .into_response()
        }
        Err(crate::http::body::BodyError::TimedOut(why)) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                [(header::CONNECTION, HeaderValue::from_static("close"))],
                format!("{why}\n"),
            )
                .into_response()
        }
        Err(crate::http::body::BodyError::Broken(why)) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("reading the body: {why}\n"),
            )
                .into_response()
        }
    };
    let w2 = w.clone();
    let out = tokio::task::spawn_blocking(move || w2.add_checkpoint(&body, now_secs()))
        .await
        .unwrap_or_else(|e| refused(500, format!("witness task: {e}")));
    match out {
        AddOutcome::Cosigned(lines) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            lines,
        )
            .into_response(),
        AddOutcome::Conflict(size) => (
            StatusCode::CONFLICT,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/x.tlog.size"),
            )],
            format!("{size}\n"),
        )
            .into_response(),
        AddOutcome::Refused(code, why) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            tracing::info!(%status, "add-checkpoint refused: {why}");
            (status, format!("{why}\n")).into_response()
        }
    }
}

/// GET /v1/gossip: the checkpoints this witness holds.
async fn gossip(State(w): State<Arc<Witness>>) -> Json<Gossip> {
    Json(Gossip {
        checkpoints: w.gossip(),
        rollback_attempts: Some(w.rollback_attempts()),
    })
}

/// `GET /checkpoint/<origin>`: the latest checkpoint cosigned for a log, cosigned
/// again now (see the module documentation).
async fn monitoring(
    State(w): State<Arc<Witness>>,
    axum::extract::Path(origin): axum::extract::Path<String>,
) -> Response {
    match w.monitoring(&origin, now_secs()) {
        Ok(Some(note)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            note,
        )
            .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            format!(
                "no checkpoint of {origin:?}: not a log this witness follows, or never cosigned\n"
            ),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}\n")).into_response(),
    }
}

/// GET /metrics: the witness's gauges (Prometheus text).
async fn metrics(State(w): State<Arc<Witness>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        format!(
            "{}# HELP urne_witness_rollback_attempts Requests to cosign a smaller tree than held, since start.\n# TYPE urne_witness_rollback_attempts counter\nurne_witness_rollback_attempts {}\n",
            w.gossip.metrics_text(),
            w.rollback_attempts().iter().map(|a| a.count).sum::<u64>()
        ),
    )
        .into_response()
}

/// Builds the witness router (`/v1/gossip/equivocations` from [`crate::gossip`]).
pub fn router(w: Arc<Witness>) -> Router {
    let evidence = crate::gossip::router(w.gossip.clone());
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/v1/gossip", get(gossip))
        .route("/checkpoint/{*origin}", get(monitoring))
        .route("/metrics", get(metrics))
        .with_state(w)
        .merge(evidence)
}

/// Serves the witness on `listener` until `shutdown` resolves.
///
/// # Errors
/// If the server fails.
pub async fn run(
    listener: tokio::net::TcpListener,
    w: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let puller = if w.gossip.peers().is_empty() {
        None
    } else {
        let held = w.clone();
        Some(tokio::spawn(crate::gossip::follow_peers(
            w.gossip.clone(),
            move |origin| held.held(origin),
        )))
    };
    let limits = crate::serve::Limits::with_reserve(
        WITNESS_MAX_OPEN_FILES as u64
            + crate::storage::rocks::ENGINE_FILES
            + crate::serve::PROCESS_FILES,
    );
    let r = crate::serve::serve(listener, router(w), limits, shutdown)
        .await
        .context("witness HTTP server");
    if let Some(p) = puller {
        p.abort();
        // Wait until it is gone: it holds the witness (and its RocksDB lock).
        let _ = p.await;
    }
    r
}
