//! The mirror mode (`urne mirror --of URL`) and checkpoint gossip.
//!
//! Owns: copying a log through its C2SP tiles into the mirror's own RocksDB, with every
//! entry parsed as a signed statement and the whole tree recomputed from the entries
//! (a new checkpoint is stored and served only once the root computed from the
//! mirror's own entries equals its signed root, which also proves it consistent with
//! every checkpoint held before); the mirror's read API (`/checkpoint`, tiles); gossip
//! (`/v1/gossip`, pulling `--peer`s) and equivocation evidence
//! (`/v1/gossip/equivocations`), kept durably.
//! Does not own: formats, proofs and tile arithmetic (`urne_client`), the storage
//! engine ([`crate::storage`]), the log's own JSON API.
//!
//! Evidence is self-contained, as Go's checksum-database client presents it: two
//! checkpoints signed by the log key, and either the same size with two roots, or a
//! consistency proof from the smaller size to the larger checkpoint that verifies
//! against the larger root but leads to an old root other than the smaller
//! checkpoint's (`old_root_from_proof`). Anyone with the log key can check it.

use crate::sequencer::StoreStateView;
use crate::stats::ElectionStats;
use crate::storage::{Commit, RocksStore, Store, StoreHashReader, TreeHead};
use crate::witness::WitnessStore;
use anyhow::{bail, Context as _, Result};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use urne_client::checkpoint::{open_checkpoint, SignedCheckpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::rules::{Context, Overlay, Subject};
use urne_client::statement::SignedStatement;
use urne_client::tiles::{self, TileId, TileKind, TILE_WIDTH};
use urne_client::tree::{self, Hash, HashReader};

/// How often the mirror polls the log and its peers.
pub const POLL: Duration = Duration::from_millis(200);

/// The time tolerance the mirror applies between entries of one election (the log's
/// default; the log's clock itself is not re-checked).
pub const RULES_TOLERANCE_SECS: i64 = 300;

pub use urne_client::gossip::{Equivocation, Gossip, GossipCheckpoint};

/// A mirror: its store, the log it copies, its peers and evidence.
pub struct Mirror {
    /// The mirror's copy of the log.
    pub store: Arc<dyn Store>,
    log_key: VerifierKey,
    of: String,
    peers: Vec<String>,
    // The verified head served; replaced whole after each durable commit.
    head: RwLock<Option<TreeHead>>,
    // Evidence store (RocksDB, synced writes) and its in-memory copy.
    evidence_db: WitnessStore,
    evidence: Mutex<Vec<Equivocation>>,
    http: reqwest::Client,
    // Feeds the read-only sequencer handle of the log's router with verified heads.
    head_tx: tokio::sync::watch::Sender<Arc<TreeHead>>,
}

/// Stored hashes of the entries being added, in front of the committed ones.
struct Pending<'a> {
    store: &'a dyn Store,
    pending: HashMap<u64, Hash>,
}

impl HashReader for Pending<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| match self.pending.get(i) {
                Some(h) => Ok(*h),
                None => StoreHashReader(self.store)
                    .read_hashes(&[*i])?
                    .pop()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree),
            })
            .collect()
    }
}

impl Mirror {
    /// Opens a mirror of the log at `of` with its RocksDB under `data`.
    ///
    /// # Errors
    /// If a database cannot be opened or holds garbage.
    pub fn open(
        data: &std::path::Path,
        of: &str,
        log_key: VerifierKey,
        peers: Vec<String>,
    ) -> Result<Self> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("creating data directory {}", data.display()))?;
        let store = RocksStore::open(&data.join("db"), 32 << 20)
            .with_context(|| format!("opening the mirror RocksDB in {}", data.display()))?;
        let head = store.head().context("reading the mirror head")?;
        let evidence_db = WitnessStore::open(&data.join("gossip-db"))?;
        let (head_tx, _) =
            tokio::sync::watch::channel(Arc::new(head.clone().unwrap_or(TreeHead {
                size: 0,
                root: tree::EMPTY_HASH,
                checkpoint: String::new(),
            })));
        let evidence = evidence_db
            .list("equivocation/")?
            .into_iter()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect();
        Ok(Mirror {
            store: Arc::new(store),
            log_key,
            of: of.trim_end_matches('/').to_string(),
            peers: peers
                .into_iter()
                .map(|p| p.trim_end_matches('/').to_string())
                .collect(),
            head: RwLock::new(head),
            evidence_db,
            evidence: Mutex::new(evidence),
            head_tx,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("HTTP client")?,
        })
    }

    /// Returns the verified head served, if any.
    pub fn head(&self) -> Option<TreeHead> {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Returns the equivocations found.
    pub fn equivocations(&self) -> Vec<Equivocation> {
        self.evidence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn open_note(&self, note: &str) -> Result<SignedCheckpoint> {
        open_checkpoint(note.as_bytes(), &self.log_key, &WitnessPolicy::none())
            .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))
    }

    /// Records evidence durably (once) and raises the alert.
    fn record(&self, e: Equivocation) {
        let mut ev = self.evidence.lock().unwrap_or_else(|p| p.into_inner());
        if ev
            .iter()
            .any(|x| x.note_a == e.note_a && x.note_b == e.note_b)
        {
            return;
        }
        tracing::error!(origin = %e.origin, reason = %e.reason, source = %e.source,
            "ALERT: equivocation: the log signed two conflicting checkpoints");
        let key = format!("equivocation/{:08}", ev.len());
        match serde_json::to_string(&e) {
            Ok(json) => {
                if let Err(err) = self.evidence_db.put(&key, &json) {
                    tracing::error!("storing equivocation evidence: {err:#}");
                }
            }
            Err(err) => tracing::error!("encoding equivocation evidence: {err}"),
        }
        ev.push(e);
    }

    /// Checks a signed checkpoint from anywhere against the mirror's verified tree.
    /// Larger ones are left to the copy loop (or to the peer holding them).
    ///
    /// # Errors
    /// If the note is not a checkpoint signed by the log, or storage fails.
    pub fn check_foreign(&self, note: &str, source: &str) -> Result<()> {
        let theirs = self.open_note(note)?.checkpoint;
        let Some(ours) = self.head() else {
            return Ok(());
        };
        if theirs.size > ours.size {
            return Ok(());
        }
        if theirs.size == ours.size {
            if theirs.root != ours.root {
                self.record(Equivocation {
                    origin: theirs.origin,
                    reason: format!("two roots for tree size {}", ours.size),
                    note_a: note.to_string(),
                    note_b: ours.checkpoint.clone(),
                    proof: vec![],
                    old_root_from_proof: None,
                    source: source.to_string(),
                });
            }
            return Ok(());
        }
        let r = StoreHashReader(&*self.store);
        let root_at = tree::root_from_store(theirs.size, &r)
            .map_err(|e| anyhow::anyhow!("root at {}: {e}", theirs.size))?;
        if root_at != theirs.root {
            let proof = tree::prove_consistency(theirs.size, ours.size, &r)
                .map_err(|e| anyhow::anyhow!("consistency proof: {e}"))?;
            self.record(Equivocation {
                origin: theirs.origin,
                reason: format!(
                    "checkpoint of size {} is not a prefix of the checkpoint of size {}",
                    theirs.size, ours.size
                ),
                note_a: note.to_string(),
                note_b: ours.checkpoint.clone(),
                proof: proof.iter().map(tree::hash_to_base64).collect(),
                old_root_from_proof: Some(tree::hash_to_base64(&root_at)),
                source: source.to_string(),
            });
        }
        Ok(())
    }

    async fn get(&self, url: String) -> Result<reqwest::Response> {
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !r.status().is_success() {
            bail!("GET {url}: {}", r.status());
        }
        Ok(r)
    }

    /// Copies the log up to its current checkpoint, verifying everything first.
    ///
    /// # Errors
    /// Network failures, invalid data, or a checkpoint that does not match the
    /// entries (then nothing is stored).
    pub async fn sync_once(&self) -> Result<u64> {
        let note = self
            .get(format!("{}/checkpoint", self.of))
            .await?
            .text()
            .await
            .context("reading the checkpoint")?;
        let cp = self.open_note(&note)?.checkpoint;
        let held = self.head().map_or(0, |h| h.size);
        if cp.size <= held && self.head().is_some() {
            self.check_foreign(&note, &self.of)?;
            return Ok(held);
        }
        // Fetch the entries held..cp.size through entry bundles.
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut k = held / TILE_WIDTH;
        while k * TILE_WIDTH < cp.size {
            let width = (cp.size - k * TILE_WIDTH).min(TILE_WIDTH) as u16;
            let id = TileId::new(TileKind::Entries, k, width)
                .map_err(|e| anyhow::anyhow!("tile {k}: {e}"))?;
            let bytes = self
                .get(format!("{}/{}", self.of, id.path()))
                .await?
                .bytes()
                .await?;
            let bundle = tiles::decode_entry_bundle_for(id, &bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", id.path()))?;
            let skip = held.saturating_sub(k * TILE_WIDTH) as usize;
            entries.extend(bundle.into_iter().skip(skip));
            k += 1;
        }
        let store = self.store.clone();
        let head = tokio::task::spawn_blocking(move || -> Result<TreeHead> {
            let view = StoreStateView(&*store);
            let mut overlay = Overlay::new(&view);
            let mut stats: HashMap<String, ElectionStats> = HashMap::new();
            let mut commit = Commit::default();
            let mut pending = Pending {
                store: &*store,
                pending: HashMap::new(),
            };
            for (i, e) in entries.iter().enumerate() {
                let index = held + i as u64;
                let stmt = SignedStatement::parse(e)
                    .map_err(|err| anyhow::anyhow!("entry {index} is not a statement: {err}"))?;
                // The election rules again, as the log ran them (without its clock).
                let ctx = Context {
                    index,
                    now: None,
                    tolerance_secs: RULES_TOLERANCE_SECS,
                };
                let effects = overlay.check_and_apply(&stmt, None, &ctx).map_err(|r| {
                    anyhow::anyhow!("ALERT: entry {index} breaks the election rules: {r:?}")
                })?;
                for s in &effects.subjects {
                    if !matches!(s, Subject::Election(_)) {
                        commit.lookups.push((crate::sequencer::subject_key(s), index));
                    }
                }
                let election = &stmt.statement.election;
                if !stats.contains_key(election) {
                    let old = match store.stats(election)? {
                        Some(b) => ElectionStats::decode(&b)
                            .with_context(|| format!("statistics of {election}"))?,
                        None => ElectionStats::default(),
                    };
                    stats.insert(election.clone(), old);
                }
                if let Some(s) = stats.get_mut(election) {
                    s.record(index, &stmt.statement);
                }
                let new = tree::stored_hashes(index, e, &pending)
                    .map_err(|err| anyhow::anyhow!("hashes of entry {index}: {err}"))?;
                let first = tree::stored_hash_index(0, index);
                for (j, h) in new.into_iter().enumerate() {
                    pending.pending.insert(first + j as u64, h);
                    commit.hashes.push((first + j as u64, h));
                }
                commit.leaves.push((tree::record_hash(e), index));
                commit.entries.push((index, e.clone()));
            }
            commit.state = overlay
                .into_writes()
                .iter()
                .map(|(k, v)| (k.encode(), v.encode()))
                .collect();
            commit.stats = stats.into_iter().map(|(k, v)| (k, v.encode())).collect();
            let root = tree::root_from_store(cp.size, &pending)
                .map_err(|e| anyhow::anyhow!("root: {e}"))?;
            if root != cp.root {
                bail!(
                    "the log's entries do not hash to its checkpoint of size {} (or fork from the {held} entries held)",
                    cp.size
                );
            }
            let head = TreeHead {
                size: cp.size,
                root,
                checkpoint: note,
            };
            commit.head = Some(head.clone());
            store.commit(commit).context("storing the mirrored entries")?;
            Ok(head)
        })
        .await
        .context("mirror task")??;
        let size = head.size;
        self.head_tx.send_replace(Arc::new(head.clone()));
        *self.head.write().unwrap_or_else(|p| p.into_inner()) = Some(head);
        Ok(size)
    }

    /// Pulls each peer's `/v1/gossip` and checks the checkpoints of this log.
    pub async fn pull_peers(&self) {
        for p in &self.peers {
            let r = async {
                let g: Gossip = self.get(format!("{p}/v1/gossip")).await?.json().await?;
                for c in g.checkpoints {
                    if c.origin == self.log_key.name() {
                        self.check_foreign(&c.checkpoint, p)?;
                    }
                }
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = r {
                tracing::debug!(peer = %p, "gossip: {e:#}");
            }
        }
    }
}

/// Runs the copy and gossip loop forever.
pub async fn follow(m: Arc<Mirror>) {
    let mut last_err = String::new();
    loop {
        match m.sync_once().await {
            Ok(_) => last_err.clear(),
            Err(e) => {
                let s = format!("{e:#}");
                if s != last_err {
                    tracing::warn!("mirror: {s}");
                    last_err = s;
                }
            }
        }
        m.pull_peers().await;
        tokio::time::sleep(POLL).await;
    }
}

async fn checkpoint(State(m): State<Arc<Mirror>>) -> Response {
    match m.head() {
        Some(h) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            h.checkpoint,
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "nothing mirrored yet\n").into_response(),
    }
}

async fn tile(State(m): State<Arc<Mirror>>, Path(path): Path<String>) -> Response {
    let not_found = |why: String| (StatusCode::NOT_FOUND, why).into_response();
    let Ok(id) = TileId::parse_path(&format!("tile/{path}")) else {
        return (StatusCode::BAD_REQUEST, "bad tile path\n").into_response();
    };
    let size = m.head().map_or(0, |h| h.size);
    let store = m.store.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        match id.kind {
            TileKind::Entries => {
                let start = id.index.checked_mul(TILE_WIDTH).context("beyond")?;
                let end = start + u64::from(id.width);
                anyhow::ensure!(end <= size, "beyond the tree size {size}");
                let entries = store.entries(start, end)?;
                tiles::encode_entry_bundle(entries.iter().map(Vec::as_slice))
                    .map_err(|e| anyhow::anyhow!("{e}"))
            }
            TileKind::Hash { .. } => tiles::read_hash_tile(id, size, &StoreHashReader(&*store))
                .map_err(|e| anyhow::anyhow!("{e}")),
        }
    })
    .await;
    match body {
        Ok(Ok(b)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )],
            b,
        )
            .into_response(),
        Ok(Err(e)) => not_found(format!("tile {path}: {e:#}\n")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn gossip(State(m): State<Arc<Mirror>>) -> Json<Gossip> {
    Json(Gossip {
        checkpoints: m
            .head()
            .map(|h| GossipCheckpoint {
                origin: m.log_key.name().to_string(),
                size: h.size,
                checkpoint: h.checkpoint,
            })
            .into_iter()
            .collect(),
    })
}

async fn equivocations(State(m): State<Arc<Mirror>>) -> Json<Vec<Equivocation>> {
    Json(m.equivocations())
}

/// Builds the mirror's router: C2SP tiles read API and gossip, then the log's JSON
/// lookups over the mirror's store (the write endpoint answers 503 there).
pub fn router(m: Arc<Mirror>) -> Router {
    let app = crate::api::AppState {
        store: m.store.clone(),
        seq: crate::sequencer::read_only(m.head_tx.subscribe()),
        log_key: m.log_key.clone(),
        allow_board: Arc::new(Vec::new()),
        authorities: Default::default(),
        started: std::time::Instant::now(),
        web: Arc::new(crate::web::Web::new(None)),
        cosign: Arc::new(crate::cosign::Cosigning::default()),
    };
    let own = Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/v1/gossip", get(gossip))
        .route("/v1/gossip/equivocations", get(equivocations))
        .with_state(m);
    own.merge(crate::api::json_router(app))
}

/// Follows the log and serves the mirror on `listener` until `shutdown` resolves.
///
/// # Errors
/// If the server fails.
pub async fn run(
    listener: tokio::net::TcpListener,
    m: Arc<Mirror>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let follower = tokio::spawn(follow(m.clone()));
    let r = axum::serve(listener, router(m))
        .with_graceful_shutdown(shutdown)
        .await
        .context("mirror HTTP server");
    follower.abort();
    r
}
