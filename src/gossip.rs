//! Checkpoint gossip, the same for the log (`urne serve --peer`), its mirrors and its
//! witnesses: pulling peers' `GET /v1/gossip`, checking each checkpoint of a followed
//! log against the one held, and keeping the equivocation evidence found.
//!
//! Owns: [`Gossiper`] (peers, the comparison, proof sources), [`Evidence`] (durable,
//! deduplicated, each new piece raised as an error-level alert that carries it), the
//! HTTP tile fetcher that reads consistency proofs from any log or mirror, and the route
//! `GET /v1/gossip/equivocations`.
//! Does not own: the JSON shapes and [`Equivocation::verify`] (`urne_client::gossip`),
//! proofs and the authentication of tiles (`urne_client::tree`, `urne_client::tiles`),
//! what each party holds (the caller passes a [`Held`]).
//!
//! A peer's checkpoint and the one held, both signed by the log key, are compared by
//! the one decision of `urne_client::consistency` (shown elsewhere: any size, proved
//! either way; the size-0 rule), with the proof fetched beforehand so:
//! - same size: another root is evidence by itself;
//! - other sizes: the root at the smaller size is read out of the larger tree, from the
//!   party's own tree when it holds the larger one, else from the tiles of any source
//!   (the peer first, then the log and the other peers). The tiles are authenticated
//!   against the larger checkpoint's signed root, so no source needs to be trusted, and
//!   a source that cannot serve them (down, another history, a witness: no tiles) is
//!   skipped. A root other than the smaller checkpoint's is evidence, with the
//!   consistency proof that leads to it (Go's checksum-database client presents forks
//!   so). No proof available is never evidence: it only leaves the question open.

use crate::storage::{EvidenceStore, Store, StoreHashReader};
use anyhow::{anyhow, Context as _, Result};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::consistency::{decide, proof_needed, Decision, Shown, TrustPolicy};
use urne_client::note::VerifierKey;
use urne_client::tiles::{TileError, TileFetcher, TileHashVerifier, TileId};
use urne_client::tree::{self, Hash};

pub use urne_client::gossip::{Equivocation, Gossip, GossipCheckpoint};

/// How often peers are pulled (and a mirror polls its log).
pub const POLL: Duration = Duration::from_millis(200);

/// The most pieces of evidence kept: one proves the equivocation; a split view that
/// goes on yields a new pair at every checkpoint, which must not fill the disk.
pub const MAX_EVIDENCE: usize = 256;

/// How many consistent pairs are remembered (so that each is fetched and checked once).
const MEMO: usize = 4096;

/// Two checkpoints' (size, root) pairs, the smaller first.
type Pair = (u64, [u8; 32], u64, [u8; 32]);

/// The largest tile body read from a source (a full hash tile).
pub use urne_client::gossip::MAX_GOSSIP_CHECKPOINTS;

/// Equivocation evidence found: kept durably (when given a store), deduplicated,
/// capped at [`MAX_EVIDENCE`], each new piece raised as an alert.
pub struct Evidence {
    db: Option<Arc<dyn EvidenceStore>>,
    // How many records the store held at the last read (see `refresh`).
    read: AtomicUsize,
    // The evidence in finding order; a std mutex, held only to compare and push.
    found: Mutex<Vec<Equivocation>>,
}

impl Evidence {
    /// Keeps evidence in `db` ([`crate::storage::evidence`]), and loads what is there
    /// already: one record per incident (instances of one log on PostgreSQL may each
    /// have added the same incident). [`Gossiper::new`] checks each with the log key.
    ///
    /// # Errors
    /// If the stored evidence cannot be read, or a record is damaged or not evidence.
    pub fn open(db: Arc<dyn EvidenceStore>) -> Result<Self> {
        let mut found: Vec<Equivocation> = Vec::new();
        for (n, v) in db.load_evidence()?.into_iter().enumerate() {
            let e: Equivocation = serde_json::from_str(&v)
                .with_context(|| format!("stored equivocation evidence #{n} is not evidence"))?;
            if !found.iter().any(|x| x.same_incident(&e)) {
                found.push(e);
            }
        }
        Ok(Evidence {
            db: Some(db),
            read: AtomicUsize::new(0),
            found: Mutex::new(found),
        })
    }

    /// Keeps evidence in memory only (a log over the memory store).
    pub fn memory() -> Self {
        Evidence {
            db: None,
            read: AtomicUsize::new(0),
            found: Mutex::new(Vec::new()),
        }
    }

    /// Returns the evidence found, oldest first.
    pub fn list(&self) -> Vec<Equivocation> {
        self.found.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Returns how many pieces of evidence are held.
    pub fn count(&self) -> usize {
        self.found.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Reads the pieces other writers of the same store added since (the other
    /// instances of a log on PostgreSQL), and holds each new incident after checking
    /// it with `logs`' key of its origin, as [`Gossiper::new`] checks what it loads.
    /// Returns how many were new. Without a store, nothing to read.
    ///
    /// # Errors
    /// The store cannot be read, a record is damaged, or a piece is not evidence or
    /// does not verify with its log's key (never held, never served).
    pub fn refresh(&self, logs: &[VerifierKey]) -> Result<usize> {
        let Some(db) = &self.db else {
            return Ok(0);
        };
        let stored = db.load_evidence()?;
        // Records are never removed: as many as last time, the same ones.
        if self.read.swap(stored.len(), Ordering::Relaxed) == stored.len() {
            return Ok(0);
        }
        let mut new = 0;
        for (n, v) in stored.into_iter().enumerate() {
            let e: Equivocation = serde_json::from_str(&v)
                .with_context(|| format!("stored equivocation evidence #{n} is not evidence"))?;
            let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
            if found.iter().any(|x| x.same_incident(&e)) || found.len() >= MAX_EVIDENCE {
                continue;
            }
            if let Some(k) = logs.iter().find(|k| k.name() == e.origin) {
                e.verify(k).map_err(|err| {
                    anyhow!(
                        "stored equivocation evidence #{n} about {} does not verify with the log key \
                         ({err}): the evidence store was damaged or edited; it is not trusted",
                        e.origin
                    )
                })?;
            }
            tracing::error!(origin = %e.origin, reason = %e.reason, source = %e.source,
                "ALERT: equivocation: evidence found by another instance of this log, now served here too");
            found.push(e);
            new += 1;
        }
        Ok(new)
    }

    /// Records `e` durably unless a record of the same incident is held
    /// ([`Equivocation::same_incident`]), and raises the alert with the
    /// evidence itself (so that the log line alone proves it). Returns whether it was
    /// new.
    pub fn record(&self, e: Equivocation) -> bool {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        // One record per incident: a forked log's every new checkpoint contradicts the
        // same one held (a mirror once kept 42 records of one fork).
        if found.iter().any(|x| x.same_incident(&e)) {
            return false;
        }
        if found.len() >= MAX_EVIDENCE {
            tracing::debug!(origin = %e.origin, "equivocation evidence full: not kept");
            return false;
        }
        let json = match serde_json::to_string(&e) {
            Ok(j) => j,
            Err(err) => {
                tracing::error!("encoding equivocation evidence: {err}");
                return false;
            }
        };
        tracing::error!(origin = %e.origin, reason = %e.reason, source = %e.source,
            evidence = %json,
            "ALERT: equivocation: the log signed two checkpoints that cannot both be true");
        if let Some(db) = &self.db {
            if let Err(err) = db.add_evidence(&json) {
                tracing::error!("storing equivocation evidence: {err:#}");
            }
        }
        found.push(e);
        true
    }
}

/// The checkpoint a party holds for one log, to compare peers' with.
pub struct Held {
    /// The signed note (signed by the log key; cosignatures allowed).
    pub note: String,
    /// The party's own copy of the tree up to at least that size (a log or a mirror),
    /// to prove smaller checkpoints against; `None` for a witness.
    pub tree: Option<Arc<dyn Store>>,
    /// The party is the log itself: it never signed a larger checkpoint, so one is an
    /// alert (a stolen key or a forked copy) even when it extends its tree.
    pub signer: bool,
}

/// What comparing a peer's checkpoint with the one held found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not a log this party follows.
    Unrelated,
    /// Both can be true: same tree, or one extends the other.
    Consistent,
    /// They cannot both be true: the evidence (recorded).
    Equivocation(Box<Equivocation>),
    /// The sizes differ and no source served an authenticated proof yet.
    Unknown(String),
}

/// One party's gossip: the logs it follows, its peers, where it may read proofs, and
/// the evidence it found.
pub struct Gossiper {
    logs: Vec<VerifierKey>,
    peers: Vec<String>,
    sources: Vec<String>,
    evidence: Evidence,
    http: reqwest::Client,
    // Pairs (smaller size, root, larger size, root) found consistent; std mutexes,
    // held only for a lookup or an insert.
    consistent: Mutex<HashSet<Pair>>,
    // Larger checkpoints already alerted on by a log (see `Held::signer`).
    alerted: Mutex<HashSet<String>>,
}

fn trim_urls(urls: Vec<String>) -> Vec<String> {
    urls.into_iter()
        .map(|u| u.trim_end_matches('/').to_string())
        .collect()
}

impl Gossiper {
    /// Builds the gossip of a party following `logs`, pulling `peers`, reading proofs
    /// from the peer that gossiped a checkpoint, then `sources` (a mirror's log), then
    /// the other peers. The evidence loaded is checked with the log key, as anyone
    /// will check it: a stored piece that does not prove an equivocation (damaged,
    /// edited, planted) is refused, never served as evidence.
    ///
    /// # Errors
    /// If the HTTP client cannot be built, or a piece of evidence held for a log
    /// followed does not verify.
    pub fn new(
        logs: Vec<VerifierKey>,
        peers: Vec<String>,
        sources: Vec<String>,
        evidence: Evidence,
    ) -> Result<Self> {
        for (n, e) in evidence.list().iter().enumerate() {
            if let Some(k) = logs.iter().find(|k| k.name() == e.origin) {
                e.verify(k).map_err(|err| {
                    anyhow!(
                        "stored equivocation evidence #{n} about {} does not verify with the log key ({err}): \
                         the evidence store was damaged or edited; it is not trusted",
                        e.origin
                    )
                })?;
            }
        }
        Ok(Gossiper {
            logs,
            peers: trim_urls(peers),
            sources: trim_urls(sources),
            evidence,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("HTTP client")?,
            consistent: Mutex::new(HashSet::new()),
            alerted: Mutex::new(HashSet::new()),
        })
    }

    /// Returns the peers pulled.
    pub fn peers(&self) -> &[String] {
        &self.peers
    }

    /// Returns the evidence found.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Reads the evidence other instances of the log added to the shared store
    /// ([`Evidence::refresh`], checked with the followed logs' keys).
    ///
    /// # Errors
    /// As [`Evidence::refresh`].
    pub fn refresh_evidence(&self) -> Result<usize> {
        self.evidence.refresh(&self.logs)
    }

    /// Returns the evidence found, oldest first.
    pub fn equivocations(&self) -> Vec<Equivocation> {
        self.evidence.list()
    }

    /// Pulls each peer's `/v1/gossip` once and checks every checkpoint of a followed
    /// log against what `held` returns for its origin. Failures are logged (at debug
    /// level: a peer down is ordinary) and do not stop the other peers.
    ///
    /// What a peer costs is bounded: its answer is read up to
    /// [`crate::peer_body::MAX_GOSSIP_BYTES`] whatever the transfer encoding, an answer
    /// of more than [`MAX_GOSSIP_CHECKPOINTS`] is refused whole, and only the first
    /// checkpoint of each origin is checked (an answer holds one per origin).
    pub async fn pull_peers(&self, held: impl Fn(&str) -> Result<Option<Held>>) {
        for p in &self.peers {
            let g: Result<Gossip> = async {
                let r = self
                    .http
                    .get(format!("{p}/v1/gossip"))
                    .send()
                    .await?
                    .error_for_status()?;
                crate::peer_body::json_capped(r, crate::peer_body::MAX_GOSSIP_BYTES).await
            }
            .await;
            let g = match g {
                Ok(g) if g.checkpoints.len() > MAX_GOSSIP_CHECKPOINTS => {
                    tracing::warn!(peer = %p, checkpoints = g.checkpoints.len(),
                        "gossip: answer refused: more than {MAX_GOSSIP_CHECKPOINTS} checkpoints");
                    continue;
                }
                Ok(g) => g,
                Err(e) => {
                    tracing::debug!(peer = %p, "gossip: {e:#}");
                    continue;
                }
            };
            let mut origins = HashSet::new();
            for c in g.checkpoints {
                if !origins.insert(c.origin.clone()) {
                    continue;
                }
                let r = match held(&c.origin) {
                    Ok(Some(h)) => self.check(&h, &c.checkpoint, p).await.map(|_| ()),
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                if let Err(e) = r {
                    tracing::debug!(peer = %p, origin = %c.origin, "gossip: {e:#}");
                }
            }
        }
    }

    /// Checks `note`, gossiped by `from`, against `held` (see the module doc), and
    /// records the evidence if they cannot both be true.
    ///
    /// # Errors
    /// If either note is not a checkpoint signed by the log key, or the party's own
    /// tree cannot be read.
    pub async fn check(&self, held: &Held, note: &str, from: &str) -> Result<Outcome> {
        let Some(key) = self.key_for(note) else {
            return Ok(Outcome::Unrelated);
        };
        // Signature checks run on the blocking pool, not on the async workers that
        // answer clients (a peer chooses how many it sends us).
        let (theirs, ours) = {
            let (k, a, b) = (key.clone(), note.to_string(), held.note.clone());
            tokio::task::spawn_blocking(move || {
                let none = WitnessPolicy::none();
                (
                    open_checkpoint(a.as_bytes(), &k, &none),
                    open_checkpoint(b.as_bytes(), &k, &none),
                )
            })
            .await
            .context("signature check task")?
        };
        let theirs = theirs.map_err(|e| anyhow!("checkpoint from {from}: {e}"))?;
        let ours = match ours {
            Ok(c) => c,
            // Held for another origin: nothing to compare.
            Err(urne_client::checkpoint::CheckpointError::WrongOrigin { .. }) => {
                return Ok(Outcome::Unrelated)
            }
            Err(e) => return Err(anyhow!("held checkpoint: {e}")),
        };
        let (t, o) = (&theirs.checkpoint, &ours.checkpoint);
        if held.signer && t.size > o.size {
            self.alert_beyond(t, o.size, note, from);
        }
        // The one decision of `urne_client::consistency`, on the log's signatures; a
        // peer's checkpoint is shown elsewhere (any size, proved either way). The proof
        // is fetched first (the decision is pure): the root at the smaller size read
        // out of the larger tree, from the party's own tree when it holds the larger
        // one, else from the authenticated tiles of any source.
        let shown = Shown::Elsewhere(from);
        let needed = proof_needed(o, t, shown);
        let mut fetched = None;
        let mut pair = None;
        if let Some((small, _)) = needed {
            let (a, b) = if o.size > t.size { (t, o) } else { (o, t) };
            let p = (a.size, a.root.0, b.size, b.root.0);
            if self.lock_consistent().contains(&p) {
                return Ok(Outcome::Consistent);
            }
            pair = Some(p);
            fetched = match (&held.tree, o.size > t.size) {
                (Some(store), true) => {
                    let (old, proof) = proof_from_store(store.clone(), small, b.size).await?;
                    Some((old, proof, "its own tree".to_string()))
                }
                _ => self.proof_from_sources(small, b, from).await,
            };
            if fetched.is_none() {
                return Ok(Outcome::Unknown(format!(
                    "no source served the tree of size {} to compare with size {}",
                    b.size, small
                )));
            }
        }
        let trust = TrustPolicy::log_only(key.clone());
        let proof = fetched.as_ref().map(|f| f.1.clone());
        let decided = decide(&trust, Some(&ours), note, shown, |_, _| {
            Ok::<_, std::convert::Infallible>(proof)
        })
        .map_err(|e| anyhow!("checkpoint from {from}: {e}"))?;
        match decided {
            Decision::Consistent { .. } | Decision::QuorumNotMet { .. } => {
                if let Some(p) = pair {
                    let mut memo = self.lock_consistent();
                    if memo.len() >= MEMO {
                        memo.clear();
                    }
                    memo.insert(p);
                }
                Ok(Outcome::Consistent)
            }
            Decision::Conflict(c) => {
                let mut e = c.evidence;
                // The proof came from an authenticated larger tree: the root it leads
                // to at the smaller size makes the evidence checkable by anyone.
                if let Some((old, _, src)) = &fetched {
                    e.old_root_from_proof = Some(tree::hash_to_base64(old));
                    e.source = format!("{from} (proof from {src})");
                }
                self.found(key, e)
            }
        }
    }

    fn lock_consistent(&self) -> std::sync::MutexGuard<'_, HashSet<Pair>> {
        self.consistent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Returns the key of the followed log whose name is `note`'s origin.
    fn key_for(&self, note: &str) -> Option<&VerifierKey> {
        let origin = note.split_once('\n')?.0;
        self.logs.iter().find(|k| k.name() == origin)
    }

    /// Checks the evidence with the log key alone, as anyone will, then records it.
    fn found(&self, key: &VerifierKey, e: Equivocation) -> Result<Outcome> {
        e.verify(key)
            .map_err(|err| anyhow!("evidence built from {} does not verify: {err}", e.source))?;
        self.evidence.record(e.clone());
        Ok(Outcome::Equivocation(Box::new(e)))
    }

    /// Raises the log's alert on a checkpoint signed with its key beyond its own tree.
    fn alert_beyond(&self, theirs: &Checkpoint, own: u64, note: &str, from: &str) {
        let mut alerted = self.alerted.lock().unwrap_or_else(|p| p.into_inner());
        if alerted.len() >= MEMO {
            alerted.clear();
        }
        if alerted.insert(note.to_string()) {
            tracing::error!(origin = %theirs.origin, size = theirs.size, own_size = own,
                peer = %from, checkpoint = %note,
                "ALERT: a checkpoint signed with this log's key is beyond its own tree: a stolen key or a forked copy");
        }
    }

    /// Reads the root at `old_size` and the consistency proof to `new` from the first
    /// source whose tiles authenticate against `new`'s root.
    async fn proof_from_sources(
        &self,
        old_size: u64,
        new: &Checkpoint,
        first: &str,
    ) -> Option<(Hash, Vec<Hash>, String)> {
        let mut tried = HashSet::new();
        let order = std::iter::once(first)
            .chain(self.sources.iter().map(String::as_str))
            .chain(self.peers.iter().map(String::as_str));
        for src in order {
            if !tried.insert(src) {
                continue;
            }
            match proof_from_tiles(&self.http, src, old_size, new.size, new.root).await {
                Ok((old, proof)) => return Some((old, proof, src.to_string())),
                Err(e) => tracing::debug!(source = %src,
                    "consistency proof {old_size}→{}: {e:#}", new.size),
            }
        }
        None
    }

    /// Returns the Prometheus text of the gossip gauge.
    pub fn metrics_text(&self) -> String {
        format!(
            "# HELP urne_equivocations Pieces of equivocation evidence held.\n# TYPE urne_equivocations gauge\nurne_equivocations {}\n",
            self.evidence.count()
        )
    }
}

/// Reads the root at `old_size` and the consistency proof to `new_size` from a store
/// holding the tree of `new_size` entries.
async fn proof_from_store(
    store: Arc<dyn Store>,
    old_size: u64,
    new_size: u64,
) -> Result<(Hash, Vec<Hash>)> {
    tokio::task::spawn_blocking(move || {
        let r = StoreHashReader(&*store);
        let old = tree::root_from_store(old_size, &r)
            .map_err(|e| anyhow!("own root at size {old_size}: {e}"))?;
        let proof = tree::prove_consistency(old_size, new_size, &r)
            .map_err(|e| anyhow!("own consistency proof {old_size}→{new_size}: {e}"))?;
        Ok((old, proof))
    })
    .await
    .context("proof task")?
}

/// Fetches tiles from a log or a mirror over HTTP, for a [`TileHashVerifier`] (which
/// trusts nothing it returns until it hashes up to a signed root). Runs on a blocking
/// thread and drives the requests on the runtime through `rt`.
struct HttpTiles {
    http: reqwest::Client,
    base: String,
    rt: tokio::runtime::Handle,
}

impl TileFetcher for HttpTiles {
    fn fetch_tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, TileError> {
        self.rt
            .block_on(futures::future::try_join_all(tiles.iter().map(|t| {
                let url = format!("{}/{}", self.base, t.path());
                async move {
                    let fail = |e: String| TileError::Fetch(format!("GET {url}: {e}"));
                    let r = self
                        .http
                        .get(&url)
                        .send()
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    if !r.status().is_success() {
                        return Err(fail(r.status().to_string()));
                    }
                    // Bounded whatever the transfer encoding (a chunked body has no
                    // length to check up front).
                    crate::peer_body::read_capped(r, urne_client::tiles::MAX_HASH_TILE_BYTES)
                        .await
                        .map_err(|e| fail(format!("{e:#}")))
                }
            })))
    }
}

/// Runs `f` over the tree of (`size`, `root`) read from `source`'s tiles, every hash
/// authenticated against `root` before `f` sees it.
async fn with_tiles<T: Send + 'static>(
    http: &reqwest::Client,
    source: &str,
    size: u64,
    root: Hash,
    f: impl FnOnce(&TileHashVerifier<'_, HttpTiles>) -> Result<T> + Send + 'static,
) -> Result<T> {
    let fetcher = HttpTiles {
        http: http.clone(),
        base: source.trim_end_matches('/').to_string(),
        rt: tokio::runtime::Handle::current(),
    };
    tokio::task::spawn_blocking(move || {
        let v = TileHashVerifier::new(size, root, &fetcher)
            .map_err(|e| anyhow!("tree of size {size}: {e}"))?;
        f(&v)
    })
    .await
    .context("tile task")?
}

/// Reads, from `source`'s tiles authenticated against the tree of (`new_size`,
/// `new_root`), the root of its first `old_size` entries and the consistency proof from
/// there, checked to lead to `new_root`.
///
/// # Errors
/// The source cannot serve the tiles, or they do not hash up to `new_root`.
pub async fn proof_from_tiles(
    http: &reqwest::Client,
    source: &str,
    old_size: u64,
    new_size: u64,
    new_root: Hash,
) -> Result<(Hash, Vec<Hash>)> {
    with_tiles(http, source, new_size, new_root, move |v| {
        let old = tree::root_from_store(old_size, v)
            .map_err(|e| anyhow!("root at size {old_size}: {e}"))?;
        let proof = tree::prove_consistency(old_size, new_size, v)
            .map_err(|e| anyhow!("consistency proof {old_size}→{new_size}: {e}"))?;
        tree::verify_consistency(old_size, new_size, &old, &new_root, &proof)
            .map_err(|e| anyhow!("consistency proof {old_size}→{new_size}: {e}"))?;
        Ok((old, proof))
    })
    .await
}

/// Reads, from `source`'s tiles authenticated against the tree of (`size`, `root`),
/// the root of its first `prefix` entries.
///
/// # Errors
/// The source cannot serve the tiles, or they do not hash up to `root`.
pub async fn root_from_tiles(
    http: &reqwest::Client,
    source: &str,
    prefix: u64,
    size: u64,
    root: Hash,
) -> Result<Hash> {
    with_tiles(http, source, size, root, move |v| {
        tree::root_from_store(prefix, v).map_err(|e| anyhow!("root at size {prefix}: {e}"))
    })
    .await
}

/// Pulls `g`'s peers every [`POLL`] forever (the caller aborts the task to stop it).
pub async fn follow_peers(
    g: Arc<Gossiper>,
    held: impl Fn(&str) -> Result<Option<Held>> + Send + Sync + 'static,
) {
    loop {
        g.pull_peers(&held).await;
        tokio::time::sleep(POLL).await;
    }
}

/// GET /v1/gossip/equivocations: the evidence found, oldest first (an empty list when
/// none).
pub async fn equivocations(State(g): State<Arc<Gossiper>>) -> Json<Vec<Equivocation>> {
    Json(g.equivocations())
}

/// Builds the route `GET /v1/gossip/equivocations` over `g`.
pub fn router(g: Arc<Gossiper>) -> Router {
    Router::new()
        .route("/v1/gossip/equivocations", get(equivocations))
        .with_state(g)
}

#[cfg(test)]
mod tests {
    //! Issue 14: one record per incident, and the size-0 rule of the library, on the
    //! gossip every server party runs (log, mirror, witness).
    use super::*;
    use urne_client::note::SignerKey;

    const ORIGIN: &str = "gossip.test/log";

    fn key() -> SignerKey {
        SignerKey::from_seed(ORIGIN, [3; 32]).expect("seed key")
    }

    fn note(size: u64, root: Hash) -> String {
        Checkpoint {
            origin: ORIGIN.into(),
            size,
            root,
            extensions: vec![],
        }
        .sign(&key())
    }

    fn record(a: &str, b: &str) -> Equivocation {
        Equivocation {
            origin: ORIGIN.into(),
            reason: "test".into(),
            note_a: a.into(),
            note_b: b.into(),
            proof: vec![],
            old_root_from_proof: None,
            source: "test".into(),
            kind: None,
        }
    }

    #[test]
    fn a_forked_log_that_goes_on_signing_is_one_record() {
        let ev = Evidence::memory();
        let held = note(8, tree::record_hash(b"honest"));
        // The forked log's checkpoints, each contradicting the same held one.
        for i in 0..5u8 {
            let fork = note(8 + u64::from(i), tree::record_hash(&[i]));
            ev.record(record(&held, &fork));
        }
        assert_eq!(ev.count(), 1, "{:?}", ev.list());
        // Another incident (nothing in common) is kept.
        let other = note(12, tree::record_hash(b"other honest"));
        ev.record(record(&other, &note(12, tree::record_hash(b"other fork"))));
        assert_eq!(ev.count(), 2);
    }

    #[tokio::test]
    async fn a_signed_empty_tree_with_another_root_is_evidence() {
        let g = Gossiper::new(
            vec![key().verifier().clone()],
            vec![],
            vec![],
            Evidence::memory(),
        )
        .expect("gossiper");
        let held = Held {
            note: note(8, tree::record_hash(b"honest")),
            tree: None,
            signer: false,
        };
        let honest_empty = note(0, tree::EMPTY_HASH);
        assert_eq!(
            g.check(&held, &honest_empty, "peer")
                .await
                .expect("checked"),
            Outcome::Consistent
        );
        let bogus = note(0, tree::record_hash(b"not empty"));
        match g.check(&held, &bogus, "peer").await.expect("checked") {
            Outcome::Equivocation(e) => e.verify(key().verifier()).expect("verifiable"),
            other => panic!("not evidence: {other:?}"),
        }
        assert_eq!(g.equivocations().len(), 1);
    }
}
