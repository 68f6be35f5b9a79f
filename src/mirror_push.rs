//! A mirror receiving its log by push (`urne mirror --push-key FILE`): the mirror side
//! of C2SP tlog-mirror.
//!
//! Owns: `POST /add-checkpoint` (the witness's body and checks, updating the *pending
//! checkpoint*, answered 200 with an empty body: the mirror signs nothing there),
//! `POST /add-entries` (the streamed body read package by package, each package's
//! entries authenticated by its subtree consistency proof against the pending
//! checkpoint of `upload_end`, re-checked against the election rules, and stored ahead
//! of the head; once every entry up to `upload_end` is held, the head moves to that
//! checkpoint and the answer is the mirror's cosignature), the pending checkpoints
//! kept (the last [`PENDING_KEPT`], durable in the mirror's small database), and the
//! mirror's cosignature on the checkpoint it serves.
//! Does not own: the wire format and subtree proofs (`urne_client::tlog_mirror`,
//! `urne_client::subtree`), the copy's storage and the election rules re-run
//! ([`crate::mirror`], [`crate::append`]), the add-checkpoint body parser
//! ([`crate::witness::parse_add_checkpoint`]).
//!
//! Which logs may push: exactly the log whose key the mirror was started with
//! (`--key`); any other origin is 404, a checkpoint not signed by that key 403.
//!
//! Status codes (C2SP tlog-mirror and tlog-witness), each refusal's body starting with
//! a stable code:
//! - `add-checkpoint`: 400 `malformed` (or `old` above the size); 404
//!   `unknown_origin`; 403 `bad_signature`; 409 `text/x.tlog.size` (the pending size)
//!   when `old` is not it, or same size and another root; 422 `inconsistent` when the
//!   consistency proof does not verify; 200 (empty) otherwise.
//! - `add-entries`: 400 `malformed` / `entry_too_large` / `truncated` when no package
//!   was saved; 404 `unknown_origin`; 409 `text/x.tlog.mirror-info` when `upload_end`
//!   is not a pending checkpoint held (or is below the mirror's checkpoint), or
//!   `upload_start` is past the next entry or before the bundle that holds it (a
//!   replay); 415 `unsupported_encoding`; 422 `proof_mismatch` (a package whose
//!   entries do not hash to the pending checkpoint) or `rules_violation` (authentic
//!   entries that break the election rules: the log misbehaved); 202 mirror-info when
//!   some packages were saved but the body ended, broke, paused longer than the idle
//!   bound or was malformed after them; 200 with the mirror's cosignature line.
//!
//! A refused package changes nothing: it is verified whole before anything of it is
//! stored, and a package is stored in one commit. Packages are stored one at a time
//! under the copy's writer lock, taken only once a package is read whole, so a client
//! that pauses mid-stream does not hold up another.

use crate::mirror::Mirror;
use crate::storage::SideDb;
use crate::storage::{Store, TreeHead};
use crate::witness::{parse_add_checkpoint, verified_note, AddOutcome, AddRequest};
use anyhow::{Context as _, Result};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use urne_client::checkpoint::{
    add_cosignatures, open_checkpoint, CheckpointError, CosignerKey, WitnessPolicy,
};
use urne_client::note::VerifierKey;
use urne_client::statement::MAX_ENTRY_SIZE;
use urne_client::subtree;
use urne_client::tlog_mirror::{
    self, max_package_bytes, MirrorInfo, Package, PackageRange, MIRROR_INFO_TYPE,
};
use urne_client::tree::{self, Hash};

/// How long an `add-entries` body may pause before the mirror stops reading it.
pub const DEFAULT_IDLE: Duration = Duration::from_secs(30);

/// Pending checkpoints kept: any of them is accepted as `upload_end`.
pub const PENDING_KEPT: usize = 16;

/// The most bytes of an add-checkpoint body.
pub const MAX_CHECKPOINT_BODY: usize = 64 * 1024;

/// The key of the pending checkpoints in the mirror's small database (a NUL byte: no
/// origin starts with one).
const PENDING_KEY: &str = "\u{0}mirror-pending";

/// The most bytes of an `add-entries` header (two 16-bit lengths and their bytes).
const MAX_HEADER_BYTES: usize = 2 + 0xffff + 16 + 2 + 0xffff;

/// Compressed bytes fed to the gzip decoder at once: bounds what one step inflates.
const INFLATE_STEP: usize = 1024;

/// What is read and dropped of an `add-entries` body after the answer is decided
/// ([`drain`]), and for how long at most.
const DRAIN_BYTES: usize = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
struct Pending {
    size: u64,
    root: Hash,
    note: String,
}

/// The push side of a mirror: its cosigner key and pending checkpoints.
pub struct Push {
    key: CosignerKey,
    pub(crate) idle: Duration,
    // Ascending sizes, each consistent with the one before; a std mutex: held for one
    // check-and-update, never across an await.
    pending: Mutex<Vec<Pending>>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn text_of(note: &str) -> &str {
    note.find("\n\n").map_or(note, |i| &note[..i + 1])
}

impl Push {
    /// The push side with `key`, and the pending checkpoints kept in `meta` (each
    /// verified again with `log_key`; one that does not verify is dropped).
    ///
    /// # Errors
    /// If `meta` cannot be read or holds something else than a list of notes.
    pub(crate) fn open(key: CosignerKey, meta: &SideDb, log_key: &VerifierKey) -> Result<Self> {
        let mut pending = Vec::new();
        if let Some(json) = meta.get(PENDING_KEY)? {
            let notes: Vec<String> =
                serde_json::from_str(&json).context("the pending checkpoints kept")?;
            for note in notes {
                match open_checkpoint(note.as_bytes(), log_key, &WitnessPolicy::none()) {
                    Ok(c) => pending.push(Pending {
                        size: c.checkpoint.size,
                        root: c.checkpoint.root,
                        note,
                    }),
                    Err(e) => tracing::warn!("a kept pending checkpoint does not verify: {e}"),
                }
            }
        }
        Ok(Push {
            key,
            idle: DEFAULT_IDLE,
            pending: Mutex::new(pending),
        })
    }

    /// Returns `note` with the mirror's cosignature, timestamped now: it holds every
    /// entry of that tree.
    pub(crate) fn cosigned(&self, note: &str) -> String {
        let line = self.key.cosign(text_of(note), now_secs());
        add_cosignatures(note, &[line]).unwrap_or_else(|_| note.to_string())
    }

    fn find(&self, size: u64) -> Option<Pending> {
        let p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.iter().rev().find(|c| c.size == size).cloned()
    }

    fn latest_size(&self) -> Option<u64> {
        let p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.last().map(|c| c.size)
    }
}

fn refused(code: u16, why: impl Into<String>) -> AddOutcome {
    AddOutcome::Refused(code, why.into())
}

/// Handles one add-checkpoint body: updates the pending checkpoint.
pub(crate) fn add_checkpoint(m: &Mirror, body: &[u8]) -> AddOutcome {
    let Some(push) = &m.push else {
        return refused(404, "not_a_push_mirror: this mirror takes no pushes");
    };
    let AddRequest {
        old,
        proof,
        note,
        text,
        checkpoint: cp,
    } = match parse_add_checkpoint(body) {
        Ok(r) => r,
        Err(AddOutcome::Refused(code, why)) => return refused(code, format!("malformed: {why}")),
        Err(other) => return other,
    };
    let log_key = m.log_key();
    if cp.origin != log_key.name() {
        return refused(
            404,
            format!(
                "unknown_origin: {:?} is not the log this mirror copies",
                cp.origin
            ),
        );
    }
    match open_checkpoint(note.as_bytes(), log_key, &WitnessPolicy::none()) {
        Ok(_) => {}
        Err(CheckpointError::BadLogSignature) => {
            return refused(403, "bad_signature: no valid signature by the log key")
        }
        Err(e) => return refused(400, format!("malformed: checkpoint: {e}")),
    }
    if old > cp.size {
        return refused(
            400,
            format!(
                "malformed: old size {old} exceeds checkpoint size {}",
                cp.size
            ),
        );
    }
    let mut pending = push.pending.lock().unwrap_or_else(|p| p.into_inner());
    // The pending checkpoint is at or ahead of the mirror's own.
    let head = m.head();
    let base: Option<(u64, Hash)> = match (pending.last(), &head) {
        (Some(p), Some(h)) if h.size > p.size => Some((h.size, h.root)),
        (Some(p), _) => Some((p.size, p.root)),
        (None, Some(h)) => Some((h.size, h.root)),
        (None, None) => None,
    };
    let base_size = base.map_or(0, |b| b.0);
    if old != base_size {
        return AddOutcome::Conflict(base_size);
    }
    match base {
        None if !proof.is_empty() => {
            return refused(422, "inconsistent: the proof from size 0 must be empty")
        }
        None => {}
        // The same size: the same root, and no proof (else another tree of that size).
        Some((size, root)) if size == cp.size && (root != cp.root || !proof.is_empty()) => {
            return AddOutcome::Conflict(base_size);
        }
        Some((size, _)) if size == cp.size => {}
        Some((size, root)) => {
            if let Err(e) = tree::verify_consistency(size, cp.size, &root, &cp.root, &proof) {
                tracing::error!(origin = %cp.origin, held = size, shown = cp.size,
                    "add-checkpoint: the consistency proof does not verify: {e}");
                return refused(
                    422,
                    format!("inconsistent: consistency proof {size}→{}: {e}", cp.size),
                );
            }
        }
    }
    // Kept: the log's signature, and the cosignatures of the log's witnesses the
    // mirror knows that verify; nothing else the request carried.
    let Some(mut kept) = verified_note(text, note, log_key) else {
        return refused(403, "bad_signature: no valid signature by the log key");
    };
    let witnesses = m.witness_keys();
    let lines: Vec<String> = note[text.len() + 1..]
        .lines()
        .filter(|line| {
            signed_note::Signature::from_bytes(line.as_bytes()).is_ok_and(|sig| {
                witnesses.iter().any(|w| {
                    w.name() == sig.name()
                        && w.key_id() == sig.id()
                        && w.verify_cosignature(text, sig.signature()).is_some()
                })
            })
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if !lines.is_empty() {
        if let Ok(n) = add_cosignatures(&kept, &lines) {
            kept = n;
        }
    }
    if pending.last().is_some_and(|p| p.size == cp.size) {
        return AddOutcome::Cosigned(String::new());
    }
    let mut next = pending.clone();
    next.push(Pending {
        size: cp.size,
        root: cp.root,
        note: kept,
    });
    if next.len() > PENDING_KEPT {
        next.drain(..next.len() - PENDING_KEPT);
    }
    let notes: Vec<&str> = next.iter().map(|p| p.note.as_str()).collect();
    let json = serde_json::to_string(&notes).unwrap_or_default();
    // Durable before the answer (C2SP tlog-witness: persist, then respond).
    if let Err(e) = m.meta.set(PENDING_KEY, &json) {
        return refused(500, format!("storage: {e:#}"));
    }
    *pending = next;
    AddOutcome::Cosigned(String::new())
}

async fn add_checkpoint_handler(
    State(m): State<Arc<Mirror>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match crate::http::body::read_limited(&headers, body, MAX_CHECKPOINT_BODY).await {
        Ok(b) => b,
        Err(crate::http::body::BodyError::TooLarge { .. }) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                [(header::CONNECTION, HeaderValue::from_static("close"))],
                format!("too_large: request body exceeds {MAX_CHECKPOINT_BODY} bytes\n"),
            )
                .into_response()
        }
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("malformed: reading the body: {e:?}\n"),
            )
                .into_response()
        }
    };
    let m2 = m.clone();
    let out = tokio::task::spawn_blocking(move || add_checkpoint(&m2, &body))
        .await
        .unwrap_or_else(|e| refused(500, format!("mirror task: {e}")));
    match out {
        AddOutcome::Cosigned(lines) => (StatusCode::OK, lines).into_response(),
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
            tracing::info!(%status, "mirror add-checkpoint refused: {why}");
            (status, format!("{why}\n")).into_response()
        }
    }
}

/// The body of an `add-entries` request as it arrives: decompressed if it is gzip,
/// read with a bound on each pause.
struct Input<'a> {
    stream: &'a mut axum::body::BodyDataStream,
    gzip: Option<flate2::write::GzDecoder<Vec<u8>>>,
    // Compressed bytes not yet inflated.
    raw: Bytes,
    buf: Vec<u8>,
    idle: Duration,
    ended: bool,
}

impl Input<'_> {
    /// Reads more bytes into `buf`: `Ok(false)` at the end of the body.
    async fn more(&mut self) -> Result<bool, String> {
        loop {
            if let Some(dec) = &mut self.gzip {
                if !self.raw.is_empty() {
                    let n = self.raw.len().min(INFLATE_STEP);
                    let chunk = self.raw.split_to(n);
                    dec.write_all(&chunk).map_err(|e| format!("gzip: {e}"))?;
                    let out = std::mem::take(dec.get_mut());
                    if out.is_empty() {
                        continue;
                    }
                    self.buf.extend_from_slice(&out);
                    return Ok(true);
                }
            }
            if self.ended {
                return Ok(false);
            }
            let next = tokio::time::timeout(self.idle, self.stream.next())
                .await
                .map_err(|_| format!("the body paused for more than {:?}", self.idle))?;
            match next {
                None => {
                    self.ended = true;
                    if let Some(dec) = &mut self.gzip {
                        dec.try_finish().map_err(|e| format!("gzip: {e}"))?;
                        let out = std::mem::take(dec.get_mut());
                        if !out.is_empty() {
                            self.buf.extend_from_slice(&out);
                            return Ok(true);
                        }
                    }
                    return Ok(false);
                }
                Some(Err(e)) => return Err(format!("the body broke off: {e}")),
                Some(Ok(chunk)) => {
                    if self.gzip.is_some() {
                        self.raw = chunk;
                    } else {
                        self.buf.extend_from_slice(&chunk);
                        return Ok(true);
                    }
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (status, format!("{body}\n")).into_response()
}

fn mirror_info(status: StatusCode, info: MirrorInfo) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(MIRROR_INFO_TYPE),
            ),
            (header::ACCEPT_ENCODING, HeaderValue::from_static("gzip")),
        ],
        info.to_text(),
    )
        .into_response()
}

/// The first entry the mirror does not hold (its head, or what it stored ahead).
fn next_entry(store: &dyn Store) -> Result<u64> {
    let head = store.head()?.map_or(0, |h| h.size);
    Ok(store.staged()?.map_or(head, |s| s.max(head)))
}

async fn next_entry_of(m: &Arc<Mirror>) -> Result<u64> {
    let store = m.store.clone();
    tokio::task::spawn_blocking(move || next_entry(&*store))
        .await
        .context("mirror task")?
}

/// Why a package was not stored.
enum PackageError {
    Proof(String),
    Rules(String),
    Gap(u64),
    Internal(String),
}

/// Verifies one package against the pending checkpoint and stores its new entries.
async fn store_package(
    m: &Arc<Mirror>,
    range: PackageRange,
    pkg: Package,
    pending: &Pending,
) -> Result<(), PackageError> {
    let _writer = m.writer.lock().await;
    let (m2, pending) = (m.clone(), pending.clone());
    tokio::task::spawn_blocking(move || {
        let store = &*m2.store;
        let next = next_entry(store).map_err(|e| PackageError::Internal(format!("{e:#}")))?;
        if next < range.start {
            return Err(PackageError::Gap(next));
        }
        // The subtree [proof_start, end): the entries held before `start`, then the
        // ones sent.
        let mut leaves = Vec::with_capacity((range.end - range.proof_start) as usize);
        if range.proof_start < range.start {
            let idx: Vec<u64> = (range.proof_start..range.start)
                .map(|i| tree::stored_hash_index(0, i))
                .collect();
            leaves.extend(
                store
                    .read_hashes(&idx)
                    .map_err(|e| PackageError::Internal(format!("reading held leaves: {e}")))?,
            );
        }
        leaves.extend(pkg.entries.iter().map(|e| tree::record_hash(e)));
        let sub = subtree::hash_leaves(&leaves);
        subtree::verify_subtree(range.proof_start, range.end, pending.size, &pkg.proof, &sub, &pending.root)
            .map_err(|e| {
                PackageError::Proof(format!(
                    "proof_mismatch: the entries [{}, {}) do not hash to the checkpoint of size {} with this subtree consistency proof: {e}",
                    range.start, range.end, pending.size
                ))
            })?;
        if next >= range.end {
            return Ok(()); // held already (a concurrent upload, a retry)
        }
        let skip = (next - range.start) as usize;
        let entries = pkg.entries[skip..].to_vec();
        let (mut commit, _) = crate::mirror::apply_chunk(store, next, entries, m2.time_tolerance_secs())
            .map_err(|e| PackageError::Rules(format!("rules_violation: {e:#}")))?;
        commit.staged = Some(range.end);
        store
            .commit(commit)
            .map_err(|e| PackageError::Internal(format!("storing the package: {e}")))
    })
    .await
    .map_err(|e| PackageError::Internal(format!("mirror task: {e}")))?
}

/// Every entry up to the pending checkpoint is held: makes it the mirror's checkpoint
/// (unless one as large is already) and answers with the mirror's cosignature.
async fn finish(m: &Arc<Mirror>, pending: &Pending) -> Response {
    let Some(push) = &m.push else {
        return text(StatusCode::NOT_FOUND, "not_a_push_mirror".into());
    };
    let _writer = m.writer.lock().await;
    let head = m.head();
    if let Some(h) = &head {
        if pending.size < h.size {
            let next = next_entry_of(m).await.unwrap_or(h.size);
            return mirror_info(
                StatusCode::CONFLICT,
                MirrorInfo {
                    pending_size: push.latest_size().unwrap_or(h.size).max(h.size),
                    next_entry: next,
                    ticket: Vec::new(),
                },
            );
        }
    }
    if head.as_ref().is_none_or(|h| h.size < pending.size) {
        let (m2, p) = (m.clone(), pending.clone());
        let committed = tokio::task::spawn_blocking(move || -> Result<TreeHead> {
            let store = &*m2.store;
            let next = next_entry(store)?;
            anyhow::ensure!(
                next >= p.size,
                "entries up to {} are not all held ({next})",
                p.size
            );
            let (mut commit, root) =
                crate::mirror::apply_chunk(store, p.size, Vec::new(), m2.time_tolerance_secs())?;
            anyhow::ensure!(
                root == p.root,
                "ALERT: the entries held do not hash to the checkpoint of size {}",
                p.size
            );
            let head = TreeHead {
                size: p.size,
                root,
                checkpoint: p.note.clone(),
            };
            commit.head = Some(head.clone());
            store.commit(commit)?;
            Ok(head)
        })
        .await;
        match committed {
            Ok(Ok(h)) => m.serve(h),
            Ok(Err(e)) => {
                return text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e:#}"))
            }
            Err(e) => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("mirror task: {e}"),
                )
            }
        }
    }
    let line = push.key.cosign(text_of(&pending.note), now_secs());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        line,
    )
        .into_response()
}

async fn add_entries(State(m): State<Arc<Mirror>>, headers: HeaderMap, body: Body) -> Response {
    let mut stream = body.into_data_stream();
    let answer = add_entries_from(&m, &headers, &mut stream).await;
    drain(&mut stream).await;
    answer
}

/// Reads and drops what is left of the body once the answer is decided (a refusal
/// sent before the body's end), at most [`DRAIN_BYTES`] within [`DRAIN_TIME`]. A
/// server that answers and closes while the client is still sending leaves unread
/// bytes in its socket, and the kernel then resets the connection, which can destroy
/// the answer before the client reads it: the pushing log would see a broken
/// connection instead of the refusal and its code. The bounds keep a peer that never
/// stops sending from holding the handler.
async fn drain(stream: &mut axum::body::BodyDataStream) {
    let deadline = tokio::time::Instant::now() + DRAIN_TIME;
    let mut n = 0;
    while n < DRAIN_BYTES {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(chunk))) => n += chunk.len(),
            _ => break,
        }
    }
}

async fn add_entries_from(
    m: &Arc<Mirror>,
    headers: &HeaderMap,
    stream: &mut axum::body::BodyDataStream,
) -> Response {
    let Some(push) = &m.push else {
        return text(StatusCode::NOT_FOUND, "not_a_push_mirror".into());
    };
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                [(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"))],
                format!("unsupported_encoding: {other:?}; send gzip or nothing\n"),
            )
                .into_response()
        }
    };
    let mut input = Input {
        stream,
        gzip: gzip.then(|| flate2::write::GzDecoder::new(Vec::new())),
        raw: Bytes::new(),
        buf: Vec::new(),
        idle: push.idle,
        ended: false,
    };
    let header = loop {
        match tlog_mirror::parse_header(&input.buf) {
            Ok(Some((h, n))) => {
                input.consume(n);
                break h;
            }
            Ok(None) if input.buf.len() > MAX_HEADER_BYTES => {
                return text(StatusCode::BAD_REQUEST, "malformed: header too long".into())
            }
            Ok(None) => match input.more().await {
                Ok(true) => {}
                Ok(false) => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        "truncated: the body ended in the header".into(),
                    )
                }
                Err(e) => return text(StatusCode::BAD_REQUEST, format!("truncated: {e}")),
            },
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("malformed: {e}")),
        }
    };
    if header.origin != m.log_key().name() {
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "unknown_origin: {:?} is not the log this mirror copies",
                header.origin
            ),
        );
    }
    let next = match next_entry_of(m).await {
        Ok(n) => n,
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e:#}")),
    };
    let head = m.head();
    let head_size = head.as_ref().map_or(0, |h| h.size);
    let current = push.latest_size().unwrap_or(head_size).max(head_size);
    // The pending checkpoint of `upload_end`: one kept, or the mirror's own.
    let pending = push.find(header.upload_end).or_else(|| {
        head.as_ref()
            .filter(|h| h.size == header.upload_end)
            .map(|h| Pending {
                size: h.size,
                root: h.root,
                note: h.checkpoint.clone(),
            })
    });
    let Some(pending) = pending.filter(|p| p.size >= head_size) else {
        return mirror_info(
            StatusCode::CONFLICT,
            MirrorInfo {
                pending_size: current,
                next_entry: next,
                ticket: Vec::new(),
            },
        );
    };
    let info = |next_entry| MirrorInfo {
        pending_size: pending.size,
        next_entry,
        ticket: Vec::new(),
    };
    // A start past the next entry leaves a gap; one before the bundle holding it
    // resends what is held (a replay): both are told where the mirror is.
    let floor = next / tlog_mirror::PACKAGE_WIDTH * tlog_mirror::PACKAGE_WIDTH;
    if header.upload_start > header.upload_end
        || header.upload_start > next
        || (header.upload_start < floor && header.upload_start < header.upload_end)
    {
        return mirror_info(StatusCode::CONFLICT, info(next));
    }
    if header.upload_start == header.upload_end && next < pending.size {
        return mirror_info(StatusCode::CONFLICT, info(next));
    }
    let mut saved = false;
    // Answers a body that stopped before the whole sequence: 202 if a package was
    // stored, else 400.
    let stopped = |m: Arc<Mirror>, saved: bool, why: String| async move {
        if saved {
            tracing::info!("add-entries: stopped after some packages: {why}");
            let next = next_entry_of(&m).await.unwrap_or(0);
            mirror_info(
                StatusCode::ACCEPTED,
                MirrorInfo {
                    pending_size: pending.size,
                    next_entry: next,
                    ticket: Vec::new(),
                },
            )
        } else {
            text(StatusCode::BAD_REQUEST, why)
        }
    };
    for range in tlog_mirror::packages(header.upload_start, header.upload_end) {
        let max = max_package_bytes(range.count(), MAX_ENTRY_SIZE);
        let pkg = loop {
            match tlog_mirror::parse_package(&input.buf, range.count(), MAX_ENTRY_SIZE) {
                Ok(Some((p, n))) => {
                    input.consume(n);
                    break p;
                }
                Ok(None) if input.buf.len() > max => {
                    return stopped(m.clone(), saved, "malformed: package too long".into()).await
                }
                Ok(None) => match input.more().await {
                    Ok(true) => {}
                    Ok(false) => {
                        return stopped(
                            m.clone(),
                            saved,
                            format!(
                                "truncated: the body ended in the package [{}, {})",
                                range.start, range.end
                            ),
                        )
                        .await
                    }
                    Err(e) => return stopped(m.clone(), saved, format!("truncated: {e}")).await,
                },
                Err(e) => {
                    let code = match e {
                        tlog_mirror::WireError::EntryTooLarge { .. } => "entry_too_large",
                        tlog_mirror::WireError::Malformed(_) => "malformed",
                    };
                    return stopped(m.clone(), saved, format!("{code}: {e}")).await;
                }
            }
        };
        match store_package(m, range, pkg, &pending).await {
            Ok(()) => saved = true,
            Err(PackageError::Proof(why) | PackageError::Rules(why)) => {
                tracing::warn!("add-entries refused: {why}");
                return text(StatusCode::UNPROCESSABLE_ENTITY, why);
            }
            Err(PackageError::Gap(n)) => return mirror_info(StatusCode::CONFLICT, info(n)),
            Err(PackageError::Internal(why)) => {
                return text(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {why}"))
            }
        }
    }
    finish(m, &pending).await
}

/// The push endpoints (added to the mirror's router when it takes pushes).
pub fn router(m: Arc<Mirror>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint_handler))
        .route("/add-entries", post(add_entries))
        .with_state(m)
}
