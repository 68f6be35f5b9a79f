//! The mirror mode (`urne mirror --of URL`).
//!
//! Owns: copying a log through its C2SP tiles into the mirror's own RocksDB, with every
//! entry parsed as a signed statement, the election rules run again and the whole tree
//! recomputed from the entries; the mirror's `/checkpoint` and `/v1/gossip`; relaying
//! the witnesses and quorum its log announces (learnt from the log's `/v1/log` at each
//! sync, served in the mirror's own `/v1/log` with `mirror_of`). The tiles and JSON
//! lookups are the log's handlers ([`crate::api`]) over the mirror's store.
//! Does not own: formats, proofs and tile arithmetic (`urne_client`), the storage
//! engine ([`crate::storage`]), gossip and equivocation evidence ([`crate::gossip`]).
//!
//! The served head moves only to a checkpoint verified in full: signed by the log key,
//! and the root recomputed from the mirror's own entries equal to its signed root
//! (which also proves it consistent with every checkpoint held before). Copying goes in
//! chunks of at most [`CHUNK_TILES`] entry bundles, each one durable commit, so memory
//! and write batches stay bounded however far behind the mirror is. A chunk before the
//! last is committed only once the root of every entry up to its end equals the root
//! at that size read from the log's hash tiles, authenticated against the target
//! checkpoint's signed root (as a voter's client reads them): its entries are then
//! *staged* ([`crate::storage::Commit::staged`]): stored with their lookups, rule
//! state and statistics, never served as tiles, proofs or checkpoint before the head
//! covers them, and a restart resumes after them rather than running the election
//! rules over them twice.

use crate::cosign::Cosigning;
use crate::gossip::{Evidence, Gossiper, Held};
use crate::sequencer::StoreStateView;
use crate::storage::SideDb;
use crate::storage::{Commit, RocksStore, Store, TreeHead};
use anyhow::{bail, Context as _, Result};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::{StreamExt as _, TryStreamExt as _};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use urne_client::api::LogInfo;
use urne_client::checkpoint::{open_checkpoint, SignedCheckpoint, WitnessKey, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::rules::{Context, Overlay};
use urne_client::statement::SignedStatement;
use urne_client::tiles::{self, TileId, TileKind, TILE_WIDTH};
use urne_client::tree::{self, Hash};

pub use crate::gossip::{Equivocation, Gossip, GossipCheckpoint, POLL};

/// The time tolerance the mirror applies between entries of an election sealed before
/// tolerances were (rules 1) until it learns the one the log announces
/// (`time_tolerance_secs` of its `/v1/log`): the log's default. An election that
/// sealed its tolerance is judged by it. The log's clock itself is not re-checked.
pub const RULES_TOLERANCE_SECS: i64 = 300;

/// The most entry bundles (of 256 entries) copied in one commit.
pub const CHUNK_TILES: u64 = 64;

/// Entry bundles fetched at once.
const FETCH_CONCURRENCY: usize = 4;

/// A mirror: its store, the log it copies, its gossip.
pub struct Mirror {
    /// The mirror's copy of the log.
    pub store: Arc<dyn Store>,
    log_key: VerifierKey,
    of: String,
    // The verified head served; replaced whole after each durable commit.
    head: RwLock<Option<TreeHead>>,
    gossip: Arc<Gossiper>,
    http: reqwest::Client,
    // Feeds the read-only sequencer handle of the log's router with verified heads.
    head_tx: tokio::sync::watch::Sender<Arc<TreeHead>>,
    // The witnesses and quorum the log announces, relayed in `/v1/log`.
    cosign: Arc<Cosigning>,
    // The same as a policy, to count the cosignatures of a checkpoint; replaced whole.
    policy: RwLock<Option<WitnessPolicy>>,
    chunk_tiles: u64,
    // The time tolerance the rules are re-run with: the log's announced one, unless
    // the operator fixed it (`--time-tolerance`). A mirror re-checks the rules the
    // log says it applies; a union that finds the announced tolerance too lax says so
    // with its monitor's own `--tolerance`.
    tolerance_secs: Arc<std::sync::atomic::AtomicI64>,
    tolerance_fixed: bool,
    // Serialises what writes the copy (a pull sync, a pushed package, a pushed head):
    // each reads where the copy ends and commits after it.
    pub(crate) writer: tokio::sync::Mutex<()>,
    // The small database beside the copy (gossip evidence, pushed pending checkpoints).
    pub(crate) meta: Arc<SideDb>,
    // Push mode (C2SP tlog-mirror): the mirror's cosigner key and pending checkpoints.
    pub(crate) push: Option<crate::mirror_push::Push>,
}

/// Runs the election rules over `entries` (leaves `from..`) on top of the store, and
/// computes their stored hashes: the commit that adds them (without a head), and the
/// root of the tree they end.
pub(crate) fn apply_chunk(
    store: &dyn Store,
    from: u64,
    entries: Vec<Vec<u8>>,
    tolerance_secs: i64,
) -> Result<(Commit, Hash)> {
    let view = StoreStateView(store);
    let mut overlay = Overlay::new(&view);
    // One append path (crate::append), as the log's sequencer builds its commits.
    let mut appender = crate::append::Appender::new(store, from);
    for (i, e) in entries.into_iter().enumerate() {
        let index = from + i as u64;
        let stmt = SignedStatement::parse(&e)
            .map_err(|err| anyhow::anyhow!("entry {index} is not a statement: {err}"))?;
        // The election rules again, as the log ran them (without its clock).
        let ctx = Context {
            index,
            now: None,
            tolerance_secs,
            max_tolerance_secs: None,
        };
        let effects = overlay.check_and_apply(&stmt, None, &ctx).map_err(|r| {
            anyhow::anyhow!("ALERT: entry {index} breaks the election rules: {r:?}")
        })?;
        let leaf = tree::record_hash(&e);
        appender
            .push(e, leaf, &stmt.statement, &effects.subjects, effects.reissue)
            .with_context(|| format!("entry {index}"))?;
    }
    let root = appender.root()?;
    let commit = appender.into_commit(
        overlay
            .into_writes()
            .iter()
            .map(|(k, v)| (k.encode(), v.encode()))
            .collect(),
    );
    Ok((commit, root))
}

impl Mirror {
    /// Opens a mirror of the log at `of` with its RocksDB under `data`, gossiping with
    /// `peers`.
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
        crate::serve::raise_nofile_limit();
        let files = crate::serve::rocksdb_files(
            crate::serve::nofile_limit(),
            crate::storage::rocks::DEFAULT_MAX_OPEN_FILES,
        );
        let store = RocksStore::open_with_files(&data.join("db"), 32 << 20, files)
            .with_context(|| format!("opening the mirror RocksDB in {}", data.display()))?;
        let head = store.head().context("reading the mirror head")?;
        let side = data.join("gossip-db");
        let evidence_db = Arc::new(SideDb::open(&side, "equivocation/").with_context(|| {
            format!("opening the mirror's side database in {}", side.display())
        })?);
        let (head_tx, _) =
            tokio::sync::watch::channel(Arc::new(head.clone().unwrap_or(TreeHead {
                size: 0,
                root: tree::EMPTY_HASH,
                checkpoint: String::new(),
            })));
        let of = of.trim_end_matches('/').to_string();
        let gossip = Gossiper::new(
            vec![log_key.clone()],
            peers,
            if of.is_empty() {
                Vec::new()
            } else {
                vec![of.clone()]
            },
            Evidence::open(evidence_db.clone())?,
        )?;
        // The elections' seals, found among the cosigned checkpoints it copies (each
        // re-checked with the library's decision, as the log does). A mirror the log
        // only pushes to names the log by its origin.
        let cosign = Cosigning::mirror_of(if of.is_empty() { log_key.name() } else { &of });
        cosign.seals.open(data, &log_key);
        Ok(Mirror {
            store: Arc::new(store),
            log_key,
            cosign: Arc::new(cosign),
            of,
            head: RwLock::new(head),
            gossip: Arc::new(gossip),
            head_tx,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("HTTP client")?,
            policy: RwLock::new(None),
            chunk_tiles: CHUNK_TILES,
            tolerance_secs: Arc::new(std::sync::atomic::AtomicI64::new(RULES_TOLERANCE_SECS)),
            tolerance_fixed: false,
            writer: tokio::sync::Mutex::new(()),
            meta: evidence_db,
            push: None,
        })
    }

    /// Makes this mirror accept the log by push (C2SP tlog-mirror `add-checkpoint`
    /// and `add-entries`), cosigning with `key` what it holds.
    ///
    /// # Errors
    /// If the pending checkpoints kept from before cannot be read.
    pub fn with_push(mut self, key: urne_client::checkpoint::CosignerKey) -> Result<Self> {
        self.push = Some(crate::mirror_push::Push::open(
            key,
            &self.meta,
            &self.log_key,
        )?);
        Ok(self)
    }

    /// Sets how long an `add-entries` body may pause before the mirror stops reading
    /// it and keeps the packages it verified (default
    /// [`crate::mirror_push::DEFAULT_IDLE`]).
    pub fn with_push_idle(mut self, idle: Duration) -> Self {
        if let Some(p) = &mut self.push {
            p.idle = idle;
        }
        self
    }

    /// Returns the log's verifier key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// Returns the log witnesses' keys the mirror knows (announced by the log it pulls
    /// from), to keep their cosignatures on a pushed checkpoint.
    pub(crate) fn witness_keys(&self) -> Vec<WitnessKey> {
        self.policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|p| p.witness_keys())
            .unwrap_or_default()
    }

    /// Fixes the time tolerance the election rules are re-run with, instead of the
    /// one the log announces.
    pub fn with_time_tolerance(mut self, secs: i64) -> Self {
        self.tolerance_secs = Arc::new(std::sync::atomic::AtomicI64::new(secs.max(0)));
        self.tolerance_fixed = true;
        self
    }

    /// Returns the time tolerance (seconds) the election rules are re-run with.
    pub fn time_tolerance_secs(&self) -> i64 {
        self.tolerance_secs
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets how many entry bundles one commit copies at most (default
    /// [`CHUNK_TILES`]; at least 1).
    pub fn with_chunk_tiles(mut self, n: u64) -> Self {
        self.chunk_tiles = n.max(1);
        self
    }

    /// Returns the verified head served, if any.
    pub fn head(&self) -> Option<TreeHead> {
        self.head.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Returns the equivocations found.
    pub fn equivocations(&self) -> Vec<Equivocation> {
        self.gossip.equivocations()
    }

    /// Returns the mirror's gossip (peers, evidence).
    pub fn gossiper(&self) -> &Arc<Gossiper> {
        &self.gossip
    }

    /// Returns what the mirror holds, to compare peers' checkpoints with.
    pub fn held(&self) -> Option<Held> {
        self.head().map(|h| Held {
            note: h.checkpoint,
            tree: Some(self.store.clone()),
            signer: false,
        })
    }

    fn open_note(&self, note: &str) -> Result<SignedCheckpoint> {
        open_checkpoint(note.as_bytes(), &self.log_key, &WitnessPolicy::none())
            .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))
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

    /// Learns the witnesses and quorum the log announces in its `/v1/log`, keeping
    /// only entries whose key parses and carries the announced name.
    async fn learn_witnesses(&self) -> Result<()> {
        let info: LogInfo = crate::peer_body::json_capped(
            self.get(format!("{}/v1/log", self.of)).await?,
            crate::peer_body::MAX_LOG_INFO_BYTES,
        )
        .await
        .context("the log's /v1/log")?;
        let mut keys = Vec::new();
        let mut announced = Vec::new();
        for w in info.witnesses {
            match WitnessKey::parse(&w.vkey) {
                Ok(k) if k.name() == w.name => {
                    keys.push(k);
                    announced.push(w);
                }
                _ => tracing::warn!(name = %w.name, vkey = %w.vkey,
                    "the log announces a malformed witness key: not relayed"),
            }
        }
        if let (false, Some(t)) = (self.tolerance_fixed, info.time_tolerance_secs) {
            if t >= 0 && t != self.time_tolerance_secs() {
                tracing::info!(
                    secs = t,
                    "mirror: re-running the rules with the time tolerance the log announces"
                );
                self.tolerance_secs
                    .store(t, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.cosign.relay(announced, info.witness_quorum);
        *self.policy.write().unwrap_or_else(|p| p.into_inner()) =
            Some(WitnessPolicy::k_of_n(keys, info.witness_quorum));
        // The head held (after a restart, say) may be the cosigned one to announce.
        if let Some(h) = self.head() {
            self.serve(h);
        }
        Ok(())
    }

    /// Counts the announced witnesses whose cosignature on `note` verifies; `None`
    /// when none are known or a cosignature is bad.
    fn cosignatures(&self, note: &str) -> Option<usize> {
        let policy = self.policy.read().unwrap_or_else(|p| p.into_inner());
        let policy = policy.as_ref().filter(|p| !p.witnesses.is_empty())?;
        let count_all = WitnessPolicy::k_of_n(policy.witness_keys(), 0);
        open_checkpoint(note.as_bytes(), &self.log_key, &count_all)
            .ok()
            .map(|c| c.cosigners.len())
    }

    /// Makes `head` the one served, and the cosigned one of `/v1/log` if it meets the
    /// quorum the log announces.
    pub(crate) fn serve(&self, head: TreeHead) {
        let policy = self
            .policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let (Some(n), Some(p)) = (self.cosignatures(&head.checkpoint), policy) {
            if n >= p.min_cosigners().max(1) {
                self.cosign
                    .publish_relayed(head.size, head.checkpoint.clone());
                self.cosign.seals.observe(
                    &*self.store,
                    head.size,
                    &head.checkpoint,
                    &p.witness_keys(),
                    p.min_cosigners(),
                );
            }
        }
        self.head_tx.send_replace(Arc::new(head.clone()));
        *self.head.write().unwrap_or_else(|p| p.into_inner()) = Some(head);
    }

    /// Fetches entries `from..to` of the tree of `tree_size` entries through its entry
    /// bundles.
    async fn fetch_entries(&self, from: u64, to: u64, tree_size: u64) -> Result<Vec<Vec<u8>>> {
        let first = from / TILE_WIDTH;
        let bundles: Vec<Vec<Vec<u8>>> = futures::stream::iter(first..to.div_ceil(TILE_WIDTH))
            .map(|k| async move {
                let width = (tree_size - k * TILE_WIDTH).min(TILE_WIDTH) as u16;
                let id = TileId::new(TileKind::Entries, k, width)
                    .map_err(|e| anyhow::anyhow!("entry bundle {k}: {e}"))?;
                // A bundle of `width` statements, each with its 2-byte length: read no
                // more, whatever the transfer encoding.
                let max = usize::from(width) * (2 + urne_client::statement::MAX_ENTRY_SIZE);
                let bytes = crate::peer_body::read_capped(
                    self.get(format!("{}/{}", self.of, id.path())).await?,
                    max,
                )
                .await
                .with_context(|| format!("reading {}", id.path()))?;
                tiles::decode_entry_bundle_for(id, &bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", id.path()))
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let skip = (from - first * TILE_WIDTH) as usize;
        let want = (to - from) as usize;
        Ok(bundles
            .into_iter()
            .flatten()
            .skip(skip)
            .take(want)
            .collect())
    }

    /// Copies the log up to its current checkpoint, verifying everything first.
    ///
    /// # Errors
    /// Network failures, invalid data, entries that break the election rules, or a
    /// checkpoint that does not match the entries: then the head does not move (and
    /// the evidence is recorded if the log forked from what the mirror holds).
    pub async fn sync_once(&self) -> Result<u64> {
        if self.of.is_empty() {
            bail!("this mirror only receives pushes (no --of)");
        }
        let _writer = self.writer.lock().await;
        let note = crate::peer_body::text_capped(
            self.get(format!("{}/checkpoint", self.of)).await?,
            crate::peer_body::MAX_CHECKPOINT_BYTES,
        )
        .await
        .context("reading the checkpoint")?;
        let cp = self.open_note(&note)?.checkpoint;
        let head = self.head();
        let learnt = self
            .policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if !learnt || head.as_ref().is_none_or(|h| h.checkpoint != note) {
            if let Err(e) = self.learn_witnesses().await {
                tracing::debug!("mirror: witnesses of the log: {e:#}");
            }
        }
        let held = head.as_ref().map_or(0, |h| h.size);
        if let (Some(h), Some(ours)) = (&head, self.held()) {
            if cp.size <= h.size {
                // Nothing to copy; the log's checkpoint must still fit ours.
                self.gossip.check(&ours, &note, &self.of).await?;
                if cp.size == h.size && cp.root == h.root && note != h.checkpoint {
                    self.take_cosignatures(h, note).await?;
                }
                if cp.size < h.size {
                    // A prefix of the copy (gossip found no fork): the log took back
                    // entries it signed. Said as such; the mirror keeps its copy.
                    bail!(
                        "ROLLBACK: the log now shows {} entries after this mirror copied {} entries it signed; the mirror keeps serving its copy",
                        cp.size,
                        h.size
                    );
                }
                return Ok(h.size);
            }
        }
        // Entries stored ahead of the head by an interrupted copy are resumed after.
        let store = self.store.clone();
        let staged = tokio::task::spawn_blocking(move || store.staged())
            .await
            .context("mirror task")??
            .filter(|&s| s > held);
        let mut done = staged.unwrap_or(held);
        if done > cp.size {
            bail!(
                "{done} entries are copied already but the log's checkpoint has size {}: has it rolled back?",
                cp.size
            );
        }
        // The last chunk always runs, even empty (a new log, or a copy staged exactly up
        // to this checkpoint): it is what checks the signed root and commits the head.
        loop {
            let end = cp
                .size
                .min((done / TILE_WIDTH + self.chunk_tiles) * TILE_WIDTH);
            let entries = if end > done {
                self.fetch_entries(done, end, cp.size).await?
            } else {
                Vec::new()
            };
            let store = self.store.clone();
            let tolerance = self.time_tolerance_secs();
            let applied =
                tokio::task::spawn_blocking(move || apply_chunk(&*store, done, entries, tolerance))
                    .await
                    .context("mirror task")?;
            let (mut commit, root) = match applied {
                Ok(x) => x,
                Err(e) => {
                    // Entries that break the rules on top of the copy may be another
                    // history (a restored log reusing an erased election's id): compared
                    // as gossip would, the evidence recorded if it is a fork.
                    self.fork_check(&note).await;
                    return Err(e);
                }
            };
            let last = end == cp.size;
            let want = if last {
                cp.root
            } else {
                crate::gossip::root_from_tiles(&self.http, &self.of, end, cp.size, cp.root)
                    .await
                    .context("the log's tiles")?
            };
            if root != want {
                self.fork_check(&note).await;
                bail!(
                    "the log's entries up to {end} do not hash to its checkpoint of size {} (or fork from the {held} entries held)",
                    cp.size
                );
            }
            if last {
                commit.head = Some(TreeHead {
                    size: cp.size,
                    root,
                    checkpoint: note.clone(),
                });
            } else {
                commit.staged = Some(end);
            }
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.commit(commit))
                .await
                .context("mirror task")?
                .context("storing the mirrored entries")?;
            if last {
                break;
            }
            done = end;
        }
        self.serve(TreeHead {
            size: cp.size,
            root: cp.root,
            checkpoint: note,
        });
        Ok(cp.size)
    }

    /// Serves the log's note for the head held when it carries at least as many valid
    /// cosignatures by the announced witnesses (the log adds late ones to the same
    /// checkpoint).
    async fn take_cosignatures(&self, h: &TreeHead, note: String) -> Result<()> {
        let (old, new) = (
            self.cosignatures(&h.checkpoint).unwrap_or(0),
            self.cosignatures(&note),
        );
        if new.is_none_or(|n| n < old) {
            return Ok(());
        }
        let head = TreeHead {
            size: h.size,
            root: h.root,
            checkpoint: note,
        };
        let (store, commit) = (
            self.store.clone(),
            Commit {
                head: Some(head.clone()),
                ..Commit::default()
            },
        );
        tokio::task::spawn_blocking(move || store.commit(commit))
            .await
            .context("mirror task")?
            .context("storing the cosigned checkpoint")?;
        self.serve(head);
        Ok(())
    }

    /// After the log's entries failed to match its checkpoint: records the evidence if
    /// the checkpoint does not extend the one held (a fork), as gossip would.
    async fn fork_check(&self, note: &str) {
        if let Some(ours) = self.held() {
            if let Err(e) = self.gossip.check(&ours, note, &self.of).await {
                tracing::debug!("mirror: comparing the log's checkpoint: {e:#}");
            }
        }
    }

    /// Pulls each peer's `/v1/gossip` and checks the checkpoints of this log.
    pub async fn pull_peers(&self) {
        let name = self.log_key.name().to_string();
        self.gossip
            .pull_peers(|origin| Ok(if origin == name { self.held() } else { None }))
            .await;
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
                    if s.starts_with("ROLLBACK") {
                        tracing::error!("mirror: {s}");
                    } else {
                        tracing::warn!("mirror: {s}");
                    }
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
        Some(h) => {
            // A push mirror adds its own cosignature: it holds every entry of this
            // tree (C2SP tlog-mirror: the checkpoint it serves carries it).
            let note = match &m.push {
                Some(p) => p.cosigned(&h.checkpoint),
                None => h.checkpoint,
            };
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                ],
                note,
            )
                .into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "nothing mirrored yet\n").into_response(),
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
        rollback_attempts: None,
    })
}

/// Builds the mirror's router: its checkpoint and gossip, the evidence
/// ([`crate::gossip`]), then the log's own tile handler (full tiles immutable) and
/// JSON lookups over the mirror's store, on a read view (no write endpoint).
pub fn router(m: Arc<Mirror>) -> Router {
    // A read view of the mirror's copy: no sequencer, no write endpoint.
    let view = crate::api::ReadView {
        store: m.store.clone(),
        head: m.head_tx.subscribe(),
        time_tolerance_secs: Some(m.tolerance_secs.clone()),
        log_key: m.log_key.clone(),
        started: std::time::Instant::now(),
        web: Arc::new(crate::web::Web::new(None)),
        cosign: m.cosign.clone(),
        mirrors: Arc::default(),
        gossip: m.gossip.clone(),
        sequencer: None,
        role: None,
    };
    let tiles = Router::new()
        .route("/tile/{*path}", get(crate::api::tiles::tile))
        .with_state(view.clone());
    let evidence = crate::gossip::router(m.gossip.clone());
    // The copy as C2SP tlog-mirror names it too: under the SHA-256 of the origin.
    let copy = Router::new()
        .route("/checkpoint", get(checkpoint))
        .with_state(m.clone())
        .merge(tiles);
    let prefix = format!(
        "/{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(m.log_key.name()))
    );
    let push = m
        .push
        .is_some()
        .then(|| crate::mirror_push::router(m.clone()));
    let r = Router::new()
        .route("/v1/gossip", get(gossip))
        .with_state(m)
        .nest(&prefix, copy.clone())
        .merge(copy)
        .merge(evidence)
        .merge(crate::api::read_router(view));
    match push {
        Some(p) => r.merge(p),
        None => r,
    }
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
    // A mirror the log only pushes to pulls nothing (but still its gossip peers).
    let follower = if m.of.is_empty() {
        let m = m.clone();
        tokio::spawn(async move {
            loop {
                m.pull_peers().await;
                tokio::time::sleep(POLL).await;
            }
        })
    } else {
        tokio::spawn(follow(m.clone()))
    };
    let limits = crate::serve::Limits::with_reserve(
        crate::serve::rocksdb_files(
            crate::serve::nofile_limit(),
            crate::storage::rocks::DEFAULT_MAX_OPEN_FILES,
        ) as u64
            + crate::storage::rocks::ENGINE_FILES
            + crate::serve::PROCESS_FILES,
    );
    let r = crate::serve::serve(listener, router(m), limits, shutdown)
        .await
        .context("mirror HTTP server");
    follower.abort();
    // Wait until it is gone: it holds the mirror (and its RocksDB locks).
    let _ = follower.await;
    r
}
