//! The witness mode (`urne witness`): C2SP tlog-witness `POST /add-checkpoint`.
//!
//! Owns: the witness's durable record of the latest checkpoint it cosigned per log
//! origin (RocksDB in its own directory), the atomic check-and-update of that record,
//! the add-checkpoint request parser and its status codes, and `GET /v1/gossip` (the
//! checkpoints the witness holds).
//! Does not own: checkpoint, cosignature and proof formats (`urne_client`), asking
//! witnesses for cosignatures ([`crate::cosign`]).
//!
//! Status codes follow C2SP tlog-witness: 400 malformed body or `old` larger than the
//! checkpoint; 404 unknown origin (the spec's code; the log key is what a witness
//! trusts, so an unknown origin is "not found" rather than "forbidden"); 403 no valid
//! signature by the log key; 409 (`text/x.tlog.size`, the witness's size) when `old`
//! is not the size it holds, or the sizes are equal and the roots differ; 422 when the
//! consistency proof does not verify; 200 with one `cosignature/v1` line otherwise.
//!
//! Gossip: `--peer URL` makes the witness pull peers' `/v1/gossip`; a log-signed
//! checkpoint of the size it holds with another root is stored as evidence and served
//! at `/v1/gossip/equivocations`.

use crate::mirror::{Equivocation, Gossip};
use anyhow::{Context as _, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rocksdb::{Options, WriteOptions, DB};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use urne_client::checkpoint::{
    open_checkpoint, Checkpoint, CheckpointError, CosignerKey, WitnessPolicy,
};
use urne_client::note::VerifierKey;
use urne_client::tree;

/// The most consistency-proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The largest add-checkpoint body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The durable per-origin record of the latest cosigned checkpoint.
///
/// Contract: [`WitnessStore::latest`] returns exactly what the last successful
/// [`WitnessStore::put`] wrote for that origin, across restarts (writes are synced).
/// Check-and-update atomicity is the caller's: [`Witness`] holds one mutex over both.
pub struct WitnessStore {
    db: DB,
}

impl WitnessStore {
    /// Opens (creating if needed) the witness database in `dir`.
    ///
    /// # Errors
    /// The engine's error (locked by another process, unreadable, corrupt).
    pub fn open(dir: &Path) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        let db = DB::open(&opts, dir)
            .with_context(|| format!("opening witness RocksDB in {}", dir.display()))?;
        Ok(WitnessStore { db })
    }

    /// Returns the signed note of the latest cosigned checkpoint of `origin`.
    ///
    /// # Errors
    /// Engine failures; a stored value that is not UTF-8.
    pub fn latest(&self, origin: &str) -> Result<Option<String>> {
        let v = self
            .db
            .get(origin.as_bytes())
            .with_context(|| format!("reading the checkpoint of {origin}"))?;
        v.map(|b| String::from_utf8(b).context("stored checkpoint is not UTF-8"))
            .transpose()
    }

    /// Records `note` as the latest cosigned checkpoint of `origin`, durably (synced).
    ///
    /// # Errors
    /// Engine failures.
    pub fn put(&self, origin: &str, note: &str) -> Result<()> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db
            .put_opt(origin.as_bytes(), note.as_bytes(), &wo)
            .with_context(|| format!("writing the checkpoint of {origin}"))
    }
}

impl WitnessStore {
    /// Returns every value whose key starts with `prefix`, in key order.
    ///
    /// # Errors
    /// Engine failures; a value that is not UTF-8.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for kv in self.db.prefix_iterator(prefix.as_bytes()) {
            let (k, v) = kv.context("reading the store")?;
            if !k.starts_with(prefix.as_bytes()) {
                break;
            }
            out.push(String::from_utf8(v.to_vec()).context("stored value is not UTF-8")?);
        }
        Ok(out)
    }
}

/// A witness: its key, the logs it follows, its store.
pub struct Witness {
    key: CosignerKey,
    logs: Vec<VerifierKey>,
    store: WitnessStore,
    // Serialises "compare with the stored size" and "store the new checkpoint" so two
    // concurrent requests can never roll the record back (tlog-witness, last section).
    update: Mutex<()>,
    peers: Vec<String>,
    // Equivocations seen through gossip, also kept in `store` under EVIDENCE_PREFIX.
    evidence: Mutex<Vec<Equivocation>>,
}

/// The key prefix of equivocation evidence in the witness store (a NUL byte: no
/// origin starts with one).
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

impl Witness {
    /// Opens a witness with its RocksDB in `data/witness-db`.
    ///
    /// # Errors
    /// If the database cannot be opened.
    pub fn open(data: &Path, key: CosignerKey, logs: Vec<VerifierKey>) -> Result<Self> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating data directory {}", data.display()))?;
        Ok(Witness {
            key,
            logs,
            store: WitnessStore::open(&data.join("witness-db"))?,
            update: Mutex::new(()),
            peers: Vec::new(),
            evidence: Mutex::new(Vec::new()),
        })
    }

    /// Sets the peers whose `/v1/gossip` this witness pulls, and loads the evidence
    /// found before.
    ///
    /// # Errors
    /// If the stored evidence cannot be read.
    pub fn with_peers(mut self, peers: Vec<String>) -> Result<Self> {
        self.peers = peers
            .into_iter()
            .map(|p| p.trim_end_matches('/').to_string())
            .collect();
        let found: Vec<Equivocation> = self
            .store
            .list(EVIDENCE_PREFIX)?
            .into_iter()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect();
        *self.evidence.lock().unwrap_or_else(|p| p.into_inner()) = found;
        Ok(self)
    }

    /// Returns the equivocations seen through gossip.
    pub fn equivocations(&self) -> Vec<Equivocation> {
        self.evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Checks a peer's checkpoint against the one held: a log-signed checkpoint of the
    /// same size with another root is equivocation evidence, stored and alerted.
    /// (Other sizes need a tree to compare with: mirrors check those.)
    fn check_peer(&self, note: &str, source: &str) -> Result<()> {
        let parsed = signed_note::Note::from_bytes(note.as_bytes())
            .map_err(|e| anyhow::anyhow!("peer note: {e:?}"))?;
        let text = std::str::from_utf8(parsed.text()).context("peer note text")?;
        let cp = Checkpoint::parse_text(text).context("peer checkpoint")?;
        let Some(key) = self.logs.iter().find(|k| k.name() == cp.origin) else {
            return Ok(());
        };
        open_checkpoint(note.as_bytes(), key, &WitnessPolicy::none())
            .map_err(|e| anyhow::anyhow!("peer checkpoint: {e}"))?;
        let Some(held_note) = self.store.latest(&cp.origin)? else {
            return Ok(());
        };
        let Some(held) = self.held(&cp.origin)? else {
            return Ok(());
        };
        if held.size != cp.size || held.root == cp.root {
            return Ok(());
        }
        let mut ev = self.evidence.lock().unwrap_or_else(|p| p.into_inner());
        if ev.iter().any(|e| e.note_a == note && e.note_b == held_note) {
            return Ok(());
        }
        let e = Equivocation {
            origin: cp.origin.clone(),
            reason: format!("two roots for tree size {}", cp.size),
            note_a: note.to_string(),
            note_b: held_note,
            proof: vec![],
            old_root_from_proof: None,
            source: source.to_string(),
        };
        tracing::error!(origin = %cp.origin, %source,
            "ALERT: equivocation: the log signed two roots for one size");
        self.store.put(
            &format!("{EVIDENCE_PREFIX}{:08}", ev.len()),
            &serde_json::to_string(&e).context("encoding evidence")?,
        )?;
        ev.push(e);
        Ok(())
    }

    /// Pulls each peer's `/v1/gossip` once and checks what it holds.
    pub async fn pull_peers(self: &Arc<Self>, http: &reqwest::Client) {
        for p in &self.peers {
            let r = async {
                let g: Gossip = http
                    .get(format!("{p}/v1/gossip"))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                for c in g.checkpoints {
                    let (w, note, src) = (self.clone(), c.checkpoint, p.clone());
                    tokio::task::spawn_blocking(move || w.check_peer(&note, &src)).await??;
                }
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = r {
                tracing::debug!(peer = %p, "gossip: {e:#}");
            }
        }
    }

    /// Returns the witness's cosigner name and verifier key.
    pub fn verifier(&self) -> urne_client::checkpoint::WitnessKey {
        self.key.verifier()
    }

    /// Handles one add-checkpoint body (C2SP tlog-witness) and returns the answer.
    /// A checkpoint is persisted before its cosignature is returned.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> AddOutcome {
        let Ok(body) = std::str::from_utf8(body) else {
            return refused(400, "body is not UTF-8");
        };
        let Some((first, mut rest)) = body.split_once('\n') else {
            return refused(400, "no old size line");
        };
        let Some(old) = first.strip_prefix("old ").and_then(parse_size) else {
            return refused(400, format!("bad old size line {first:?}"));
        };
        let mut proof = Vec::new();
        loop {
            let Some((line, r)) = rest.split_once('\n') else {
                return refused(400, "no blank line before the checkpoint");
            };
            rest = r;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return refused(400, "more than 63 consistency proof lines");
            }
            match tree::hash_from_base64(line) {
                Ok(h) => proof.push(h),
                Err(e) => return refused(400, format!("bad proof line {line:?}: {e}")),
            }
        }
        let note = rest;
        let Ok(parsed) = signed_note::Note::from_bytes(note.as_bytes()) else {
            return refused(400, "the checkpoint is not a signed note");
        };
        let Ok(text) = std::str::from_utf8(parsed.text()) else {
            return refused(400, "the checkpoint is not UTF-8");
        };
        let cp = match Checkpoint::parse_text(text) {
            Ok(c) => c,
            Err(e) => return refused(400, format!("checkpoint: {e}")),
        };
        let Some(log_key) = self.logs.iter().find(|k| k.name() == cp.origin) else {
            return refused(404, format!("unknown log origin {:?}", cp.origin));
        };
        match open_checkpoint(note.as_bytes(), log_key, &WitnessPolicy::none()) {
            Ok(_) => {}
            Err(CheckpointError::BadLogSignature) => {
                return refused(403, "no valid signature by the log key")
            }
            Err(e) => return refused(400, format!("checkpoint: {e}")),
        }
        if old > cp.size {
            return refused(
                400,
                format!("old size {old} exceeds checkpoint size {}", cp.size),
            );
        }
        let _guard = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let held = match self.held(&cp.origin) {
            Ok(h) => h,
            Err(e) => return refused(500, format!("{e:#}")),
        };
        let held_size = held.as_ref().map_or(0, |h| h.size);
        if old != held_size {
            return AddOutcome::Conflict(held_size);
        }
        match &held {
            None => {
                if !proof.is_empty() {
                    return refused(422, "the proof from size 0 must be empty");
                }
            }
            Some(h) if h.size == cp.size => {
                if h.root != cp.root || !proof.is_empty() {
                    tracing::warn!(origin = %cp.origin, size = cp.size,
                        "ALERT: log signed two roots for one size (equivocation)");
                    return AddOutcome::Conflict(held_size);
                }
            }
            Some(h) => {
                if let Err(e) = tree::verify_consistency(h.size, cp.size, &h.root, &cp.root, &proof)
                {
                    tracing::warn!(origin = %cp.origin, old = h.size, new = cp.size,
                        "ALERT: inconsistent checkpoint refused: {e}");
                    return refused(422, format!("consistency proof: {e}"));
                }
            }
        }
        if let Err(e) = self.store.put(&cp.origin, note) {
            return refused(500, format!("{e:#}"));
        }
        AddOutcome::Cosigned(self.key.cosign(text, now))
    }

    fn held(&self, origin: &str) -> Result<Option<Checkpoint>> {
        let Some(note) = self.store.latest(origin)? else {
            return Ok(None);
        };
        let parsed = signed_note::Note::from_bytes(note.as_bytes())
            .map_err(|e| anyhow::anyhow!("stored note of {origin}: {e:?}"))?;
        let text = std::str::from_utf8(parsed.text()).context("stored checkpoint text")?;
        Ok(Some(
            Checkpoint::parse_text(text).context("stored checkpoint")?,
        ))
    }

    /// Returns the latest checkpoint held for each followed log (for gossip).
    pub fn gossip(&self) -> Vec<serde_json::Value> {
        self.logs
            .iter()
            .filter_map(|k| {
                let note = self.store.latest(k.name()).ok().flatten()?;
                let cp = self.held(k.name()).ok().flatten()?;
                Some(serde_json::json!({
                    "origin": k.name(),
                    "size": cp.size,
                    "checkpoint": note,
                }))
            })
            .collect()
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// POST /add-checkpoint.
async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
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
async fn gossip(State(w): State<Arc<Witness>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "checkpoints": w.gossip() }))
}

/// GET /v1/gossip/equivocations: the evidence this witness found.
async fn equivocations(State(w): State<Arc<Witness>>) -> Json<Vec<Equivocation>> {
    Json(w.equivocations())
}

/// Builds the witness router.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/v1/gossip", get(gossip))
        .route("/v1/gossip/equivocations", get(equivocations))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(w)
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
    let puller = if w.peers.is_empty() {
        None
    } else {
        let w = w.clone();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("HTTP client")?;
        Some(tokio::spawn(async move {
            loop {
                w.pull_peers(&http).await;
                tokio::time::sleep(crate::mirror::POLL).await;
            }
        }))
    };
    let r = axum::serve(listener, router(w))
        .with_graceful_shutdown(shutdown)
        .await
        .context("witness HTTP server");
    if let Some(p) = puller {
        p.abort();
    }
    r
}
