//! The log asks witnesses for cosignatures (`urne serve --witness URL=WITNESSKEY`).
//!
//! Owns: the background task that follows new tree heads, sends each witness a C2SP
//! tlog-witness add-checkpoint request with the consistency proof from that witness's
//! size (learnt from 409 answers), verifies the cosignatures it gets back, and keeps
//! the latest checkpoint that gathered a quorum of them (what `/checkpoint` serves);
//! each witness's status for `/v1/log`.
//! Does not own: the sequencer (it never waits for witnesses: this task only reads
//! committed heads), the witness side ([`crate::witness`]).
//!
//! A round targets the latest head: requests go to every idle witness in parallel; the
//! round ends when all answered, or a quorum answered and a short grace passed, or the
//! timeout struck. A witness still busy (slow or dead) is skipped by the next rounds
//! until its request ends, so it never delays the others, and the sequencer never
//! waits for any of this. While a round gathers, the previous cosigned checkpoint is
//! served (C2SP tlog-witness: the log serves the last checkpoint with cosignatures).
//! A round that misses the quorum (witnesses down or restarting) is retried with a
//! backoff from [`RETRY_MIN`] to [`RETRY_MAX`] until the latest head is cosigned, so a
//! head is cosigned once its witnesses are back even if nothing is appended after it.
//!
//! The latest cosigned checkpoint is also kept in `DATA/cosigned-checkpoint` (written
//! atomically: temporary file, fsync, rename), and read back at start
//! ([`Cosigning::restore`]) once checked against the log key, the witness policy and
//! the store: so a
//! log restarted while its witnesses are down serves its last cosigned head, never a
//! bare one (which every witness-checking client would refuse). Only a log that never
//! met its quorum serves its bare head, and `/v1/log` says so ([`Cosigning::serving`]).
//!
//! Several instances of a log on PostgreSQL ([`crate::leader`]): only the leader asks
//! the witnesses, and it shares each cosigned checkpoint in the database
//! ([`crate::storage::CosignedStore`]); a follower serves that one once checked
//! ([`Cosigning::share_through`]). A follower never asks: its head may lag the one
//! the witnesses hold, and a witness takes a smaller checkpoint for a rollback (and
//! the log would halt on its 409). After a takeover the new leader goes on from the
//! witnesses' sizes (their 409 answers), so they keep cosigning, each checkpoint
//! consistent with the last.
//!
//! A mirror has a [`Cosigning`] too, in relay mode: it asks no witness but announces
//! the witnesses and quorum its log announces (learnt from the log's `/v1/log`), so
//! that voters and the web page reading the mirror know whose cosignatures to check.

use crate::sequencer::SequencerHandle;
use crate::storage::{CosignedStore, Store, StoreHashReader, TreeHead};
use anyhow::{bail, Context as _, Result};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use urne_client::checkpoint::{add_cosignatures, WitnessKey};
use urne_client::tree;

/// How long one add-checkpoint request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a round waits for stragglers once a quorum has answered.
pub const GRACE: Duration = Duration::from_millis(30);

/// The first wait before a round that missed the quorum is tried again; each miss
/// doubles it up to [`RETRY_MAX`], and a new head resets it.
pub const RETRY_MIN: Duration = Duration::from_millis(250);

/// The longest wait between two tries to cosign the same head.
pub const RETRY_MAX: Duration = Duration::from_secs(4);

/// One configured witness.
#[derive(Debug, Clone)]
pub struct WitnessPeer {
    /// Submission prefix: `add-checkpoint` is appended.
    pub url: String,
    /// Its cosignature key.
    pub key: WitnessKey,
}

/// Parses `URL=WITNESSVKEY`.
///
/// # Errors
/// No `=`, or a malformed witness key.
pub fn parse_witness_arg(s: &str) -> Result<WitnessPeer> {
    // The URL may hold '=' (query) but the key never does (base64 of 33 bytes has no
    // padding), so split at the last one.
    let (url, vkey) = s
        .rsplit_once('=')
        .with_context(|| format!("witness {s:?}: expected URL=WITNESSKEY"))?;
    let key = WitnessKey::parse(vkey).map_err(|e| anyhow::anyhow!("witness key {vkey:?}: {e}"))?;
    Ok(WitnessPeer {
        url: url.trim_end_matches('/').to_string(),
        key,
    })
}

/// What `/v1/log` says about one witness (typed in `urne_client::api`).
pub use urne_client::api::WitnessStatus;

/// What a mirror relays: its log's announced witnesses and quorum.
type Relayed = (Vec<WitnessStatus>, usize);

/// The cosigning state shared with the HTTP handlers.
#[derive(Default)]
pub struct Cosigning {
    peers: Vec<WitnessPeer>,
    quorum: usize,
    // Per-witness status; a std mutex because it is held only for field updates.
    status: Vec<Mutex<WitnessStatus>>,
    // The latest cosigned note, replaced whole (readers clone the Arc).
    served: RwLock<Option<Arc<(u64, String)>>>,
    // Relay mode (a mirror): the log it mirrors, and the witnesses and quorum that log
    // announces, replaced whole at each sync.
    mirror_of: Option<String>,
    relayed: RwLock<Option<Arc<Relayed>>>,
    // Where the cosigned checkpoint is kept across restarts (a log with witnesses);
    // set once at start, before the cosigning task runs.
    persist: std::sync::OnceLock<std::path::PathBuf>,
    // Instances of a log on PostgreSQL: where the leader shares each cosigned
    // checkpoint and followers read it, and the log key they check it with.
    shared: std::sync::OnceLock<(Arc<dyn CosignedStore>, urne_client::note::VerifierKey)>,
    /// The elections' automatic seals found among the cosigned checkpoints
    /// ([`crate::seal`]).
    pub seals: crate::seal::Seals,
    /// How long an idle log waits before it asks its witnesses to cosign its current
    /// checkpoint again (fresh timestamps: the check-in of the witness network, and
    /// the seal of an election closed while nothing is appended).
    checkin: Duration,
    /// The least time between two rounds of requests (the log's add-checkpoint rate:
    /// a public witness network bounds it per day).
    min_interval: Duration,
}

/// The default check-in interval of an idle log ([`Cosigning::with_checkin`]).
pub const DEFAULT_CHECKIN: Duration = Duration::from_secs(60);

/// The file of the data directory holding the latest cosigned checkpoint.
pub const COSIGNED_FILE: &str = "cosigned-checkpoint";

impl Cosigning {
    /// Builds the state for `peers`, requiring `quorum` cosignatures (clamped to
    /// 1..=peers) before a checkpoint is served as cosigned.
    pub fn new(peers: Vec<WitnessPeer>, quorum: usize) -> Self {
        let status = peers
            .iter()
            .map(|p| {
                Mutex::new(WitnessStatus {
                    name: p.key.name().to_string(),
                    vkey: p.key.to_string(),
                    url: p.url.clone(),
                    ..Default::default()
                })
            })
            .collect();
        let quorum = quorum.clamp(1, peers.len().max(1));
        Cosigning {
            peers,
            quorum,
            status,
            served: RwLock::new(None),
            mirror_of: None,
            relayed: RwLock::new(None),
            persist: std::sync::OnceLock::new(),
            shared: std::sync::OnceLock::new(),
            seals: crate::seal::Seals::default(),
            checkin: DEFAULT_CHECKIN,
            min_interval: Duration::ZERO,
        }
    }

    /// Sets the least time between two rounds: at most one add-checkpoint request
    /// per witness per `every` (0: one per new checkpoint, as fast as they answer;
    /// whole seconds count for the daily rate).
    pub fn with_min_interval(mut self, every: Duration) -> Self {
        self.min_interval = every;
        self
    }

    /// Returns the add-checkpoint requests this log may send each witness per day at
    /// most (the `qpd` of a witness network's log list), `None` when unbounded.
    pub fn requests_per_day(&self) -> Option<u64> {
        let every = self.min_interval.as_secs();
        (every > 0).then(|| 86_400 / every)
    }

    /// Sets the check-in interval: an idle log asks its witnesses to cosign its
    /// current checkpoint again after this long (at least one second).
    pub fn with_checkin(mut self, every: Duration) -> Self {
        self.checkin = every.max(Duration::from_secs(1));
        self
    }

    /// Returns the check-in interval.
    pub fn checkin(&self) -> Duration {
        self.checkin
    }

    /// Reads the cosigned checkpoint kept in `dir` (if any), and keeps every later
    /// one there. It is served again only if it is signed by `log_key`, meets this
    /// log's witness policy, and is a tree of `store` (same root at its size): a file
    /// from another log, another witness set or a restored store is ignored, with a
    /// warning, and the next quorum replaces it.
    ///
    /// # Errors
    /// If the file exists but cannot be read.
    pub fn restore(
        &self,
        dir: &std::path::Path,
        log_key: &urne_client::note::VerifierKey,
        store: &dyn Store,
    ) -> Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        self.seals.open(dir, log_key);
        let path = dir.join(COSIGNED_FILE);
        let _ = self.persist.set(path.clone());
        let note = match std::fs::read_to_string(&path) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let policy = urne_client::checkpoint::WitnessPolicy::k_of_n(
            self.peers.iter().map(|p| p.key.clone()).collect(),
            self.quorum,
        );
        let checked = urne_client::checkpoint::open_checkpoint(note.as_bytes(), log_key, &policy)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|cp| {
                let c = cp.checkpoint;
                let root = tree::root_from_store(c.size, &crate::storage::StoreHashReader(store))
                    .map_err(|e| {
                    anyhow::anyhow!("the store has no tree of size {}: {e}", c.size)
                })?;
                if root != c.root {
                    bail!("the store's root at size {} is another one", c.size);
                }
                Ok(c.size)
            });
        match checked {
            Ok(size) => {
                *self.served.write().unwrap_or_else(|p| p.into_inner()) =
                    Some(Arc::new((size, note)));
            }
            Err(e) => tracing::warn!(
                "{} is not served again: {e:#}; the next checkpoint the witnesses cosign replaces it",
                path.display()
            ),
        }
        Ok(())
    }

    /// Makes the instances of a log share their cosigned checkpoint through `db` (a
    /// log on PostgreSQL): the leader writes each one it gathers, a follower does not
    /// ask the witnesses (its head may lag theirs, which they would rightly take for
    /// a rollback) but serves what the leader's witnesses cosigned, once checked with
    /// `log_key`, the witness policy and its own tree.
    pub fn share_through(
        &self,
        db: Arc<dyn CosignedStore>,
        log_key: urne_client::note::VerifierKey,
    ) {
        let _ = self.shared.set((db, log_key));
    }

    /// Says what `/checkpoint` serves and why, for `/v1/log`: `cosigned` (the latest
    /// checkpoint a quorum cosigned), `uncosigned_never_witnessed` (a log with
    /// witnesses that never met its quorum: its bare head), `uncosigned_no_witness`.
    pub fn serving(&self) -> (&'static str, String) {
        // A mirror has witnesses if its log announces some.
        let witnessed = self.enabled() || self.relayed().is_some_and(|r| !r.0.is_empty());
        match (self.served(), witnessed) {
            (_, false) => (
                "uncosigned_no_witness",
                "no witness is configured: the log's own head".into(),
            ),
            (Some(s), true) => (
                "cosigned",
                format!(
                    "the latest checkpoint that {} of the witnesses cosigned (size {}), kept across restarts",
                    self.quorum(),
                    s.0
                ),
            ),
            (None, true) => (
                "uncosigned_never_witnessed",
                "no checkpoint has met the witness quorum yet: the log's own head, without cosignatures".into(),
            ),
        }
    }

    /// Publishes a cosigned note (unless a larger one is served) and keeps it in the
    /// data directory; returns whether it is now served.
    fn publish(&self, size: u64, note: String, replace_same_size: bool) -> bool {
        {
            let mut w = self.served.write().unwrap_or_else(|p| p.into_inner());
            let newer = w
                .as_ref()
                .is_none_or(|s| s.0 < size || (replace_same_size && s.0 == size));
            if !newer {
                return false;
            }
            *w = Some(Arc::new((size, note.clone())));
        }
        if let Some(path) = self.persist.get() {
            // A small synchronous write on the cosigning task: once per cosigned head,
            // far rarer than appends, and the sequencer never waits for it. A failure
            // only costs the head served after a restart, so it is logged, not fatal.
            if let Err(e) = crate::atomic_file::write_atomic(path, note.as_bytes()) {
                tracing::error!(
                    "keeping the cosigned checkpoint in {}: {e:#}",
                    path.display()
                );
            }
        }
        true
    }

    /// Builds the relay state of a mirror of the log at `mirror_of`: no witness is
    /// asked; [`Cosigning::relay`] sets what the log announces.
    pub fn mirror_of(mirror_of: &str) -> Self {
        Cosigning {
            mirror_of: Some(mirror_of.to_string()),
            ..Cosigning::default()
        }
    }

    /// Returns the log this state relays, for a mirror.
    pub fn mirrored_log(&self) -> Option<&str> {
        self.mirror_of.as_deref()
    }

    /// Sets the witnesses and quorum the mirrored log announces.
    pub fn relay(&self, witnesses: Vec<WitnessStatus>, quorum: usize) {
        *self.relayed.write().unwrap_or_else(|p| p.into_inner()) =
            Some(Arc::new((witnesses, quorum)));
    }

    /// Publishes a mirrored checkpoint as the cosigned one (the caller checked that it
    /// meets the announced quorum); an older one never replaces a newer.
    pub fn publish_relayed(&self, size: u64, note: String) {
        let mut w = self.served.write().unwrap_or_else(|p| p.into_inner());
        if w.as_ref().is_none_or(|s| s.0 <= size) {
            *w = Some(Arc::new((size, note)));
        }
    }

    fn relayed(&self) -> Option<Arc<Relayed>> {
        self.relayed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reports whether any witness is configured.
    pub fn enabled(&self) -> bool {
        !self.peers.is_empty()
    }

    /// Returns the latest cosigned checkpoint note and its size, if any.
    pub fn served(&self) -> Option<Arc<(u64, String)>> {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Returns each witness's status (for a mirror, as its log announces them).
    pub fn statuses(&self) -> Vec<WitnessStatus> {
        if let Some(r) = self.relayed() {
            return r.0.clone();
        }
        self.status
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }

    /// Returns the quorum required (for a mirror, as its log announces it).
    pub fn quorum(&self) -> usize {
        match self.relayed() {
            Some(r) => r.1,
            None => self.quorum,
        }
    }

    fn with_status<T>(&self, i: usize, f: impl FnOnce(&mut WitnessStatus) -> T) -> T {
        f(&mut self.status[i].lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Sends `head` to witness `i`: first from its known size, then once more from the
/// size a 409 reports. Returns the verified cosignature line.
async fn ask(
    http: &reqwest::Client,
    cos: &Cosigning,
    store: &Arc<dyn Store>,
    seq: &SequencerHandle,
    i: usize,
    head: &TreeHead,
) -> Result<String> {
    let peer = &cos.peers[i];
    let text_end = head
        .checkpoint
        .find("\n\n")
        .context("log checkpoint has no blank line")?;
    let text = &head.checkpoint[..text_end + 1];
    let mut old = cos.with_status(i, |s| s.last_size).unwrap_or(0);
    for _attempt in 0..2 {
        if old > head.size {
            // Learnt from its earlier 409: still a refusal, not silence.
            return Err(Refused {
                status: 409,
                why: format!(
                    "witness holds size {old}, larger than the log's {}",
                    head.size
                ),
            }
            .into());
        }
        let proof = {
            let store = store.clone();
            let new = head.size;
            tokio::task::spawn_blocking(move || {
                tree::prove_consistency(old, new, &StoreHashReader(&*store))
            })
            .await
            .context("proof task")?
            .map_err(|e| anyhow::anyhow!("consistency proof {old}→{}: {e}", head.size))?
        };
        let mut body = format!("old {old}\n");
        for h in &proof {
            body.push_str(&tree::hash_to_base64(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&head.checkpoint);
        let r = http
            .post(format!("{}/add-checkpoint", peer.url))
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {}/add-checkpoint", peer.url))?;
        let status = r.status().as_u16();
        let answer = crate::peer_body::text_capped(r, crate::peer_body::MAX_WITNESS_ANSWER_BYTES)
            .await
            .context("reading the witness answer")?;
        match status {
            200 => {
                // One signature check per answer, whatever the witness sends: the first
                // line by its key (name and key ID) must verify.
                let line = answer.lines().find(|line| {
                    signed_note::Signature::from_bytes(line.as_bytes()).is_ok_and(|sig| {
                        sig.name() == peer.key.name() && sig.id() == peer.key.key_id()
                    })
                });
                if let Some(line) = line {
                    if let Ok(sig) = signed_note::Signature::from_bytes(line.as_bytes()) {
                        if peer.key.verify_cosignature(text, sig.signature()).is_some() {
                            cos.with_status(i, |s| s.last_size = Some(head.size));
                            return Ok(format!("{line}\n"));
                        }
                    }
                }
                bail!("no valid cosignature by {} in the answer", peer.key.name());
            }
            409 => {
                let size: u64 = answer
                    .trim_end_matches('\n')
                    .parse()
                    .with_context(|| format!("409 with a bad size {answer:?}"))?;
                cos.with_status(i, |s| s.last_size = Some(size));
                // The witness holds a checkpoint this log signed (it verifies the log
                // signature before storing one) of a size the log no longer has: the
                // log lost entries it signed (a damaged or restored database). Going
                // on would sign other roots for those sizes: halt instead.
                let own = seq.head().size;
                if size > own {
                    // Named ROLLBACK, as every client names it: the operator reading
                    // the log's own lines must not take it for a slow witness.
                    seq.halt(format!(
                        "ROLLBACK: witness {} ({}) holds a checkpoint of this log of size {size}, larger than \
                         the log's own tree of size {own}: the log lost entries it signed (damaged \
                         storage or a restored backup)",
                        peer.key.name(),
                        peer.url
                    ));
                    return Err(Refused {
                        status,
                        why: format!(
                            "ROLLBACK: witness holds size {size}, larger than the log's {own}: log halted"
                        ),
                    }
                    .into());
                }
                if size == old {
                    return Err(Refused {
                        status,
                        why: format!(
                            "witness refused size {} (409 at its own size: fork?)",
                            head.size
                        ),
                    }
                    .into());
                }
                old = size;
            }
            400..=499 => {
                return Err(Refused {
                    status,
                    why: format!("witness answered {status}: {}", answer.trim()),
                }
                .into())
            }
            _ => bail!("witness answered {status}: {}", answer.trim()),
        }
    }
    bail!("witness size kept changing")
}

/// A witness that answered and said no (HTTP 4xx): it is up, and refuses this
/// checkpoint (a 409 names the size it holds), unlike one that does not answer.
#[derive(Debug)]
struct Refused {
    status: u16,
    why: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for Refused {}

/// Follows the sequencer's heads and gathers cosignatures until the sequencer stops.
pub async fn run(cos: Arc<Cosigning>, seq: SequencerHandle, store: Arc<dyn Store>) {
    if !cos.enabled() {
        return;
    }
    let http = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("witness HTTP client: {e}");
            return;
        }
    };
    let mut rx = seq.subscribe();
    let mut backoff = RETRY_MIN;
    let mut last_round: Option<tokio::time::Instant> = None;
    let mut shared_size: Option<u64> = None;
    loop {
        if cos.shared.get().is_some() && !seq.is_running() {
            // A follower (see `share_through`): the leader's cosigned checkpoint.
            follow_cosigned(&cos, &store).await;
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
            continue;
        }
        share_cosigned(&cos, &mut shared_size).await;
        // The configured rate: never two rounds closer than `min_interval`.
        if let Some(t) = last_round {
            tokio::time::sleep_until(t + cos.min_interval).await;
        }
        last_round = Some(tokio::time::Instant::now());
        let head = rx.borrow_and_update().clone();
        let behind = |cos: &Cosigning| cos.served().is_none_or(|s| s.0 < head.size);
        if behind(&cos) {
            round(&http, &cos, &store, &seq, head.clone(), false).await;
        }
        share_cosigned(&cos, &mut shared_size).await;
        if let Some(s) = cos.served() {
            let keys: Vec<_> = cos.peers.iter().map(|p| p.key.clone()).collect();
            cos.seals.observe(&*store, s.0, &s.1, &keys, cos.quorum);
        }
        if behind(&cos) {
            // Missed the quorum: try this head again later unless a new one comes.
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    backoff = RETRY_MIN;
                }
                () = tokio::time::sleep(backoff) => {
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        } else {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    backoff = RETRY_MIN;
                }
                // Idle: the same head again, for fresh timestamps (check-in).
                () = tokio::time::sleep(cos.checkin) => {
                    round(&http, &cos, &store, &seq, head.clone(), true).await;
                }
            }
        }
    }
}

/// How often a follower reads the cosigned checkpoint its leader shares.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// The leader: writes the cosigned checkpoint served, if newer than the one written
/// (`written`: its size), where the followers read it. A failure is retried at the
/// next round; it only delays what followers serve.
async fn share_cosigned(cos: &Arc<Cosigning>, written: &mut Option<u64>) {
    let (Some((db, _)), Some(s)) = (cos.shared.get(), cos.served()) else {
        return;
    };
    if written.is_some_and(|w| w >= s.0) {
        return;
    }
    let db = db.clone();
    let size = s.0;
    let done = tokio::task::spawn_blocking(move || db.set_cosigned(s.0, &s.1)).await;
    match done {
        Ok(Ok(())) => *written = Some(size),
        Ok(Err(e)) => tracing::warn!("sharing the cosigned checkpoint: {e}"),
        Err(e) => tracing::warn!("sharing the cosigned checkpoint: {e}"),
    }
}

/// A follower: serves the cosigned checkpoint the leader shared, if it is larger
/// than the one served and checks out (log key, witness policy, same root in this
/// instance's tree).
async fn follow_cosigned(cos: &Arc<Cosigning>, store: &Arc<dyn Store>) {
    let Some((db, log_key)) = cos.shared.get() else {
        return;
    };
    let served = cos.served().map(|s| s.0);
    let (db, log_key, store) = (db.clone(), log_key.clone(), store.clone());
    let policy = urne_client::checkpoint::WitnessPolicy::k_of_n(
        cos.peers.iter().map(|p| p.key.clone()).collect(),
        cos.quorum,
    );
    let checked = tokio::task::spawn_blocking(move || -> Result<Option<(u64, String)>> {
        let Some((size, note)) = db.cosigned()? else {
            return Ok(None);
        };
        if served.is_some_and(|s| s >= size) {
            return Ok(None);
        }
        let c = urne_client::checkpoint::open_checkpoint(note.as_bytes(), &log_key, &policy)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .checkpoint;
        let root = tree::root_from_store(c.size, &crate::storage::StoreHashReader(&*store))
            .map_err(|e| anyhow::anyhow!("the store has no tree of size {}: {e}", c.size))?;
        if root != c.root || c.size != size {
            bail!("the store's root at size {} is another one", c.size);
        }
        Ok(Some((size, note)))
    })
    .await;
    match checked {
        Ok(Ok(Some((size, note)))) => {
            cos.publish(size, note, false);
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            tracing::warn!("the cosigned checkpoint shared in the database is not served: {e:#}")
        }
        Err(e) => tracing::warn!("reading the shared cosigned checkpoint: {e}"),
    }
}

/// Sends one head to every idle witness and publishes it once a quorum cosigned.
async fn round(
    http: &reqwest::Client,
    cos: &Arc<Cosigning>,
    store: &Arc<dyn Store>,
    seq: &SequencerHandle,
    head: Arc<TreeHead>,
    refresh: bool,
) {
    let (tx, mut results) = tokio::sync::mpsc::unbounded_channel();
    let mut sent = 0;
    for i in 0..cos.peers.len() {
        if cos.with_status(i, |s| std::mem::replace(&mut s.busy, true)) {
            continue;
        }
        sent += 1;
        let (http, cos, store, seq, head, tx) = (
            http.clone(),
            cos.clone(),
            store.clone(),
            seq.clone(),
            head.clone(),
            tx.clone(),
        );
        tokio::spawn(async move {
            let r = ask(&http, &cos, &store, &seq, i, &head).await;
            cos.with_status(i, |s| {
                s.busy = false;
                match &r {
                    Ok(_) => {
                        s.last_error = None;
                        s.refused = None;
                    }
                    Err(e) => {
                        s.last_error = Some(format!("{e:#}"));
                        s.refused = e.downcast_ref::<Refused>().map(|r| r.status);
                    }
                }
            });
            if let Err(e) = &r {
                tracing::warn!(witness = %cos.peers[i].key.name(), "cosignature: {e:#}");
            }
            // A late answer still counts if this head is the one served.
            if let Ok(line) = &r {
                publish_late(&cos, &head, line);
            }
            let _ = tx.send(r);
        });
    }
    drop(tx);
    let mut lines = Vec::new();
    let mut answered = 0;
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT + Duration::from_secs(1);
    let mut grace_end: Option<tokio::time::Instant> = None;
    while answered < sent {
        let until = grace_end.map_or(deadline, |g| g.min(deadline));
        match tokio::time::timeout_at(until, results.recv()).await {
            Ok(Some(r)) => {
                answered += 1;
                if let Ok(l) = r {
                    lines.push(l);
                    if lines.len() >= cos.quorum && grace_end.is_none() {
                        grace_end = Some(tokio::time::Instant::now() + GRACE);
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    if lines.len() >= cos.quorum {
        match add_cosignatures(&head.checkpoint, &lines) {
            Ok(note) => {
                cos.publish(head.size, note, refresh);
            }
            Err(e) => tracing::error!("adding cosignatures: {e}"),
        }
    }
}

/// Appends a cosignature that arrived after its round ended, if its head is served.
fn publish_late(cos: &Cosigning, head: &TreeHead, line: &str) {
    let Some(cur) = cos.served() else { return };
    // The served note is `head.checkpoint` followed by cosignature lines.
    if cur.0 != head.size || !cur.1.starts_with(head.checkpoint.as_str()) {
        return;
    }
    if let Ok(note) = add_cosignatures(&cur.1, &[line.to_string()]) {
        cos.publish(cur.0, note, true);
    }
}
