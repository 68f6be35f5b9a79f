//! The sequencer: the single writer that turns queued statements into committed,
//! signed log entries.
//!
//! Owns: the submission queue, batching, the order of entries, checking the election
//! rules for a batch (including conflicts inside the batch), computing stored hashes,
//! the root and the signed checkpoint, and the one durable commit per batch.
//! Does not own: parsing and signature checks (done by the HTTP handler before
//! queueing, without any lock), the rules themselves (`urne_client::rules`), I/O
//! details (`storage`).
//!
//! # Durability contract
//!
//! [`SequencerHandle::submit`] resolves `Ok(Ack)` only after the batch holding the
//! statement was committed by [`Store::commit`] (one atomic, fsynced write holding the
//! entries, their hashes, lookups, rule state and the checkpoint that covers them).
//! A refused statement changes nothing. If a commit fails the sequencer stops: every
//! statement of that batch and every later one gets [`SubmitError::Storage`] and the
//! process must be restarted, which resumes from the last committed batch (possibly
//! including the failed one, if it reached the disk: its submitters were told it
//! failed, and a retry finds it as a duplicate).
//!
//! With a [`Watermark`] (a log on RocksDB or PostgreSQL), each committed head is also recorded
//! there, synced, before anything of the batch is acknowledged or served: the log
//! never hands out a checkpoint its high-water mark does not cover. A failure to
//! record it stops the sequencer as a failed commit does.
//!
//! # Halt
//!
//! [`SequencerHandle::halt`] stops sequencing for good (until an operator restarts the
//! log, which the halt marker then refuses, see [`crate::watermark`]): on proof that
//! the log lost entries it signed, going on would fork. Submissions then get
//! [`SubmitError::Halted`] with the reason. A log on PostgreSQL also records the halt
//! in the database ([`SequencerHandle::share_halts`], [`crate::storage::halt`]), so
//! that every instance halts: an instance that reads it there halts itself
//! ([`SequencerHandle::halt_seen`]), and a commit refused because the database says
//! halted ([`StorageError::Halted`]) halts the sequencer rather than failing it.

use crate::storage::{Commit, StorageError, Store, TreeHead};
use crate::watermark::Watermark;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use urne_client::checkpoint::Checkpoint;
use urne_client::note::SignerKey;
use urne_client::rules::{
    Context, Overlay, Refusal, RefusalCode, StateError, StateKey, StateValue, StateView, Subject,
    Verified,
};
use urne_client::statement::{SignedStatement, Time};
use urne_client::tree::{self, Hash};

/// Why a submission was not appended.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// The election rules refused it (stable code inside).
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// The queue is full: try again later (HTTP 503 + Retry-After).
    #[error("queue full")]
    Pushback,
    /// Storage failed; the sequencer has stopped.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The log halted on proof that it lost signed entries (the reason inside).
    #[error("log halted: {0}")]
    Halted(String),
    /// This instance is a follower (several instances on one database): the leader
    /// sequences (the HTTP layer forwards to it, see [`crate::leader`]).
    #[error("this instance is not the sequencer")]
    NotLeader,
}

/// The acknowledgement of an appended statement.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Leaf index of the entry.
    pub index: u64,
    /// RFC 6962 leaf hash of the entry.
    pub leaf_hash: Hash,
    /// The committed tree head covering the entry.
    pub head: Arc<TreeHead>,
    /// True if this statement was already in the log: the same signed text, whatever
    /// its signature lines (the earlier index, and that entry's leaf hash, are given).
    pub duplicate: bool,
    /// The entry's inclusion proof in `head`, built for the whole batch with one read
    /// ([`crate::batch_proofs`]); `None` for a duplicate, or if that read failed (the
    /// caller then proves it itself: the entry is committed either way).
    pub inclusion_proof: Option<Vec<Hash>>,
}

struct Submission {
    stmt: SignedStatement,
    verified: Option<Verified>,
    reply: oneshot::Sender<Result<Ack, SubmitError>>,
}

/// Counters the sequencer publishes (for `/v1/stats` and `/metrics`).
#[derive(Default, Debug)]
pub struct SequencerMetrics {
    /// Statements appended since start.
    pub appended: AtomicU64,
    /// Statements refused by the rules since start.
    pub refused: AtomicU64,
    /// Statements refused with 503 because the queue was full.
    pub pushback: AtomicU64,
    /// Batches committed since start.
    pub batches: AtomicU64,
    /// Statements waiting in the queue.
    pub queue_depth: AtomicUsize,
    /// Total microseconds spent in commits (fsync included).
    pub commit_micros: AtomicU64,
}

/// Tunables of the sequencer.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// Maximum statements per batch.
    pub batch_max: usize,
    /// Maximum wait for a batch to fill after its first statement.
    pub batch_timeout: Duration,
    /// Queue capacity.
    pub queue: usize,
    /// The largest time tolerance (seconds) an `election` statement may seal; the
    /// elections' sealed tolerances judge their statements.
    pub time_tolerance_secs: i64,
}

/// What the read side may know of the sequencer: its counters and whether it
/// stopped (see [`SequencerHandle::status`]). It cannot submit anything.
#[derive(Clone)]
pub struct SequencerStatus {
    metrics: Arc<SequencerMetrics>,
    failed: Arc<AtomicBool>,
    halted: Arc<std::sync::OnceLock<String>>,
}

impl SequencerStatus {
    /// Returns the sequencer's counters.
    pub fn metrics(&self) -> &SequencerMetrics {
        &self.metrics
    }

    /// Reports whether the sequencer stopped after a storage failure.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Returns why the log halted, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.get().map(String::as_str)
    }
}

/// The handle HTTP handlers use to submit statements. Cheap to clone.
#[derive(Clone)]
pub struct SequencerHandle {
    // Set when the sequencer runs: at start, or when a standby is promoted.
    tx: Arc<std::sync::OnceLock<SyncSender<Submission>>>,
    metrics: Arc<SequencerMetrics>,
    failed: Arc<AtomicBool>,
    head: watch::Receiver<Arc<TreeHead>>,
    // The tolerance the rules apply (a mirror's: the one it re-checks the log's
    // entries with, learnt from the log).
    time_tolerance_secs: Option<Arc<std::sync::atomic::AtomicI64>>,
    // The sequencer thread, for the one who shuts the log down to join (none for a
    // read-only handle).
    thread: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
    // Why the log halted (set once, never cleared), shared with the sequencer thread.
    halted: Arc<std::sync::OnceLock<String>>,
    // Where the halt is recorded to survive a restart (the log on RocksDB).
    watermark: Option<Arc<Watermark>>,
    // Where else the halt is recorded: the database every instance of the log reads
    // (set by `share_halts`, a log on PostgreSQL).
    share: Arc<std::sync::OnceLock<HaltSink>>,
}

/// Records a halt's reason where the other instances of the log see it.
pub type HaltSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Marks the log halted in this process (first reason kept) and in the data
/// directory's `HALTED`; returns whether it was new.
fn halt_here(halted: &std::sync::OnceLock<String>, w: Option<&Watermark>, reason: &str) -> bool {
    if halted.set(reason.to_string()).is_err() {
        return false;
    }
    tracing::error!(reason = %reason, "CRITICAL: the log halts: it stops sequencing so as never to sign a fork; an operator must investigate (README \"Storage damage\")");
    if let Some(w) = w {
        if let Err(e) = w.halt(reason) {
            tracing::error!("recording the halt: {e:#}");
        }
    }
    true
}

impl SequencerHandle {
    /// Takes the sequencer thread's handle (once; `None` afterwards and for a
    /// read-only handle). The thread ends when every handle is dropped: joining it
    /// then makes sure its last use of the store, and its thread-local destructors,
    /// are over before the process exits.
    pub fn take_thread(&self) -> Option<std::thread::JoinHandle<()>> {
        self.thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Queues a statement and waits until it is durably appended or refused.
    ///
    /// `verified` is the result of checking its signatures against its election's
    /// keys (done by the caller, in parallel, without locks); `None` makes the
    /// sequencer check them itself (the election is not known yet, e.g. sealed in the
    /// same batch).
    ///
    /// # Errors
    /// See [`SubmitError`].
    pub async fn submit(
        &self,
        stmt: SignedStatement,
        verified: Option<Verified>,
    ) -> Result<Ack, SubmitError> {
        if let Some(why) = self.halted.get() {
            return Err(SubmitError::Halted(why.clone()));
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(SubmitError::Storage(
                "the sequencer stopped after a storage failure".into(),
            ));
        }
        let Some(tx) = self.tx.get() else {
            return Err(SubmitError::NotLeader);
        };
        let (reply, rx) = oneshot::channel();
        // Count the statement in before it can be taken out: the sequencer may receive
        // it and subtract before `try_send` even returns here. The channel orders the
        // two updates, so the gauge never goes below zero (it may over-count by the
        // submissions being refused right now).
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let sent = tx.try_send(Submission {
            stmt,
            verified,
            reply,
        });
        if let Err(e) = sent {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                TrySendError::Full(_) => {
                    self.metrics.pushback.fetch_add(1, Ordering::Relaxed);
                    SubmitError::Pushback
                }
                TrySendError::Disconnected(_) => {
                    SubmitError::Storage("the sequencer is not running".into())
                }
            });
        }
        rx.await
            .unwrap_or_else(|_| Err(SubmitError::Storage("the sequencer stopped".into())))
    }

    /// Returns the latest committed tree head.
    pub fn head(&self) -> Arc<TreeHead> {
        self.head.borrow().clone()
    }

    /// Returns a receiver that sees every new tree head.
    pub fn subscribe(&self) -> watch::Receiver<Arc<TreeHead>> {
        self.head.clone()
    }

    /// Returns the sequencer's counters.
    pub fn metrics(&self) -> &SequencerMetrics {
        &self.metrics
    }

    /// Returns the read-only view of the sequencer's counters and state, for the
    /// read endpoints ([`crate::api::ReadView`]).
    pub fn status(&self) -> SequencerStatus {
        SequencerStatus {
            metrics: self.metrics.clone(),
            failed: self.failed.clone(),
            halted: self.halted.clone(),
        }
    }

    /// Returns the shared time tolerance (for the read view's `/v1/log`).
    pub fn time_tolerance(&self) -> Option<Arc<std::sync::atomic::AtomicI64>> {
        self.time_tolerance_secs.clone()
    }

    /// Returns the time tolerance the rules apply to statements: the log's, or the
    /// one a mirror re-checks the log's entries with (`None` when unknown).
    pub fn time_tolerance_secs(&self) -> Option<i64> {
        self.time_tolerance_secs
            .as_ref()
            .map(|t| t.load(Ordering::Relaxed))
    }

    /// Reports whether the sequencer stopped after a storage failure.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Reports whether this handle's sequencer runs (false for a standby not yet
    /// promoted and for a read-only handle).
    pub fn is_running(&self) -> bool {
        self.tx.get().is_some()
    }

    /// Halts sequencing for good on proof that the log lost entries it signed (see
    /// "Halt"): records `reason` in the halt marker, raises the critical alert, and
    /// refuses every submission from now on. The first reason is kept.
    pub fn halt(&self, reason: String) {
        if !halt_here(&self.halted, self.watermark.as_deref(), &reason) {
            return;
        }
        if let Some(share) = self.share.get() {
            share(&reason);
        }
    }

    /// Halts this instance on a halt another instance recorded (read from the
    /// database): as [`Self::halt`], without recording it there again.
    pub fn halt_seen(&self, reason: &str) {
        halt_here(&self.halted, self.watermark.as_deref(), reason);
    }

    /// Records every later [`Self::halt`] through `sink` too (once; a log on
    /// PostgreSQL: its database, which every instance checks).
    pub fn share_halts(&self, sink: HaltSink) {
        let _ = self.share.set(sink);
    }

    /// Returns why the log halted, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.get().map(String::as_str)
    }
}

/// Reads the rule state from the store.
pub struct StoreStateView<'a>(pub &'a dyn Store);

/// Reads the rule state from the store, with the sequencer's cache of election
/// states in front: every statement reads its election's state (keys included), and
/// only the sequencer writes it, so the cache is exact.
struct CachedStateView<'a> {
    store: &'a dyn Store,
    elections: &'a std::cell::RefCell<HashMap<String, StateValue>>,
}

impl StateView for CachedStateView<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        if let StateKey::Election(id) = key {
            if let Some(v) = self.elections.borrow().get(id) {
                return Ok(Some(v.clone()));
            }
            let v = StoreStateView(self.store).get(key)?;
            if let Some(v) = &v {
                self.elections.borrow_mut().insert(id.clone(), v.clone());
            }
            return Ok(v);
        }
        StoreStateView(self.store).get(key)
    }
}

/// How many rounds of batched state reads judging a batch may take before falling
/// back to point reads. The rules read at most three keys deep today (a ballot's
/// credential, then its voter's earlier ballot, then that ballot's receipt).
const PREFETCH_ROUNDS: usize = 4;

/// What judging decided for one statement of a batch.
enum Verdict {
    /// Appended, filed under these subjects; a reissue or not.
    Accept(Vec<Subject>, bool),
    /// Already in the log at this index.
    Duplicate(u64),
    /// Refused by the rules.
    Refuse(Refusal),
}

/// The rule state as one batch reads it: every key it needs fetched together, one
/// [`Store::states`] query per round, in front of the election cache. A speculative
/// round answers a key not fetched yet as absent and records it; the batch is judged
/// again once those keys are fetched, until a round reads nothing it lacks. That
/// round read only stored values, so its judgement is exact; the rules are pure, so
/// the earlier rounds leave nothing behind. On PostgreSQL this turns a round trip per
/// key into a round trip per level of the rules' reads (three).
struct BatchView<'a> {
    base: CachedStateView<'a>,
    fetched: std::cell::RefCell<HashMap<StateKey, Result<Option<StateValue>, StateError>>>,
    misses: std::cell::RefCell<Vec<StateKey>>,
    speculative: std::cell::Cell<bool>,
}

impl BatchView<'_> {
    /// Fetches `keys` in one query. A failed read is kept as each key's answer, so
    /// the statements that read them are refused (`state_unavailable`), as a point
    /// read's failure would have them.
    fn fetch(&self, mut keys: Vec<StateKey>) {
        keys.sort();
        keys.dedup();
        let encoded: Vec<Vec<u8>> = keys.iter().map(StateKey::encode).collect();
        let mut fetched = self.fetched.borrow_mut();
        match self.base.store.states(&encoded) {
            Ok(values) => {
                for (k, v) in keys.into_iter().zip(values) {
                    fetched.insert(k, v.map(|b| StateValue::decode(&b)).transpose());
                }
            }
            Err(e) => {
                for k in keys {
                    fetched.insert(k, Err(StateError::Backend(e.to_string())));
                }
            }
        }
    }
}

impl StateView for BatchView<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        if let Some(v) = self.fetched.borrow().get(key) {
            return v.clone();
        }
        if matches!(key, StateKey::Election(_)) {
            // Elections come from the sequencer's cache (an unknown one is read once
            // per batch, not once per statement naming it).
            let v = self.base.get(key);
            self.fetched.borrow_mut().insert(key.clone(), v.clone());
            return v;
        }
        if self.speculative.get() {
            self.misses.borrow_mut().push(key.clone());
            return Ok(None);
        }
        let v = StoreStateView(self.base.store).get(key);
        self.fetched.borrow_mut().insert(key.clone(), v.clone());
        v
    }
}

impl StateView for StoreStateView<'_> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        match self.0.state(&key.encode()) {
            Ok(Some(b)) => StateValue::decode(&b).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(StateError::Backend(e.to_string())),
        }
    }
}

// The lookup rows' key is the append path's: named here too for the API's readers.
pub use crate::append::subject_key;

/// Starts the sequencer thread on `store`, which must hold a tree head (see
/// [`init_log`]).
///
/// # Errors
/// If the store cannot be read.
pub fn start(
    store: Arc<dyn Store>,
    key: SignerKey,
    cfg: SequencerConfig,
) -> Result<SequencerHandle, StorageError> {
    start_with_watermark(store, key, cfg, None)
}

/// [`start`], recording every committed head in `watermark` before it is served (see
/// the durability contract).
///
/// # Errors
/// If the store cannot be read.
pub fn start_with_watermark(
    store: Arc<dyn Store>,
    key: SignerKey,
    cfg: SequencerConfig,
    watermark: Option<Arc<Watermark>>,
) -> Result<SequencerHandle, StorageError> {
    let (handle, standby) = standby(store, key, cfg, watermark)?;
    standby.promote()?;
    Ok(handle)
}

/// A sequencer that does not run yet: the handle serves the heads it is given
/// ([`Standby::refresh`]) and answers submissions with [`SubmitError::NotLeader`],
/// until [`Standby::promote`] starts the sequencer from the store's head. A follower
/// of a log on PostgreSQL holds one ([`crate::leader`]).
pub struct Standby {
    store: Arc<dyn Store>,
    key: SignerKey,
    cfg: SequencerConfig,
    head_tx: Arc<watch::Sender<Arc<TreeHead>>>,
    handle: SequencerHandle,
}

/// Builds a [`Standby`] on `store`, which must hold a tree head (see [`init_log`]),
/// and the handle that will submit to it once promoted.
///
/// # Errors
/// If the store cannot be read.
pub fn standby(
    store: Arc<dyn Store>,
    key: SignerKey,
    cfg: SequencerConfig,
    watermark: Option<Arc<Watermark>>,
) -> Result<(SequencerHandle, Standby), StorageError> {
    let head = store.head()?.ok_or_else(|| StorageError::Corrupt {
        what: "tree head".into(),
        detail: "log not initialised".into(),
    })?;
    let time_tolerance_secs = Some(Arc::new(std::sync::atomic::AtomicI64::new(
        cfg.time_tolerance_secs,
    )));
    let (head_tx, head_rx) = watch::channel(Arc::new(head));
    let handle = SequencerHandle {
        tx: Arc::default(),
        metrics: Arc::new(SequencerMetrics::default()),
        failed: Arc::new(AtomicBool::new(false)),
        head: head_rx,
        time_tolerance_secs,
        thread: Arc::default(),
        halted: Arc::default(),
        watermark,
        share: Arc::default(),
    };
    let standby = Standby {
        store,
        key,
        cfg,
        head_tx: Arc::new(head_tx),
        handle: handle.clone(),
    };
    Ok((handle, standby))
}

impl Standby {
    /// Publishes the store's head if it is larger than the one served (a follower
    /// following the leader's commits).
    ///
    /// # Errors
    /// If the store cannot be read.
    ///
    /// A head is served only if it is signed by the log key, and only once this
    /// instance's high-water mark records it ([`crate::watermark`], "Several
    /// instances"). A head smaller than the one served is never served: the database
    /// went back (a restored backup, a failover that lost commits); it is said, and
    /// [`Standby::promote`] will refuse to sequence over it.
    pub fn refresh(&self) -> Result<(), StorageError> {
        let Some(h) = self.store.head()? else {
            return Ok(());
        };
        let served = self.head_tx.borrow().clone();
        if h.size < served.size {
            tracing::error!(
                served = served.size,
                database = h.size,
                "ROLLBACK: the database's tree head is smaller than one this instance served: \
                 it was restored from an older copy or failed over to a standby that missed \
                 commits; this instance will not lead over it"
            );
            return Ok(());
        }
        if h.size == served.size {
            return Ok(());
        }
        if let Err(e) = urne_client::checkpoint::open_checkpoint(
            h.checkpoint.as_bytes(),
            self.key.verifier(),
            &urne_client::checkpoint::WitnessPolicy::none(),
        ) {
            tracing::error!(
                size = h.size,
                "the database's tree head is not signed by this log's key, not served: {e}"
            );
            return Ok(());
        }
        if let Some(w) = &self.handle.watermark {
            w.record(&h)
                .map_err(|e| StorageError::Engine(format!("{e:#}")))?;
        }
        self.head_tx.send_replace(Arc::new(h));
        Ok(())
    }

    /// Starts the sequencer: rereads the head from the store (the caller holds the
    /// lead, so nothing moves it any more but this sequencer), serves it, and opens
    /// the handle to submissions. The rule state is read from the store as needed
    /// (the sequencer's cache starts empty).
    ///
    /// # Errors
    /// If the store cannot be read or the thread cannot start.
    pub fn promote(self) -> Result<(), StorageError> {
        let head = self.store.head()?.ok_or_else(|| StorageError::Corrupt {
            what: "tree head".into(),
            detail: "log not initialised".into(),
        })?;
        // Never sequence over a store that lost what this instance's mark holds (see
        // `crate::watermark`): the next commit would sign a second root for a size.
        if let Some((size, root)) = self.handle.watermark.as_ref().and_then(|w| w.held()) {
            if let Err(e) = crate::watermark::check_head(size, &root, &*self.store) {
                // Proof that the database lost what this log signed: every instance
                // must stop, those without a mark to tell included.
                self.handle.halt(format!("{e:#}"));
                return Err(StorageError::Corrupt {
                    what: "the store, against the high-water mark".into(),
                    detail: format!("{e:#}"),
                });
            }
        }
        self.head_tx.send_replace(Arc::new(head));
        let (tx, rx) = sync_channel(self.cfg.queue);
        let h = &self.handle;
        let seq = Sequencer {
            store: self.store,
            key: self.key,
            cfg: self.cfg,
            head_tx: self.head_tx,
            metrics: h.metrics.clone(),
            failed: h.failed.clone(),
            elections: Default::default(),
            watermark: h.watermark.clone(),
            halted: h.halted.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || seq.run(rx))
            .map_err(|e| StorageError::Engine(format!("spawning sequencer: {e}")))?;
        *h.thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(thread);
        let _ = h.tx.set(tx);
        Ok(())
    }
}

/// Writes the empty tree's signed checkpoint into a new store; does nothing to a
/// store that has a tree head already.
///
/// # Errors
/// If the store cannot be read or written.
pub fn init_log(store: &dyn Store, key: &SignerKey) -> Result<TreeHead, StorageError> {
    if let Some(h) = store.head()? {
        return Ok(h);
    }
    let root = tree::EMPTY_HASH;
    let checkpoint = Checkpoint {
        origin: key.name().to_string(),
        size: 0,
        root,
        extensions: vec![],
    }
    .sign(key);
    let head = TreeHead {
        size: 0,
        root,
        checkpoint,
    };
    store.commit(Commit {
        head: Some(head.clone()),
        ..Commit::default()
    })?;
    Ok(head)
}

struct Sequencer {
    store: Arc<dyn Store>,
    key: SignerKey,
    cfg: SequencerConfig,
    head_tx: Arc<watch::Sender<Arc<TreeHead>>>,
    metrics: Arc<SequencerMetrics>,
    failed: Arc<AtomicBool>,
    /// Election states as last committed (see [`CachedStateView`]).
    elections: std::cell::RefCell<HashMap<String, StateValue>>,
    /// The high-water mark each committed head is recorded in before it is served.
    watermark: Option<Arc<Watermark>>,
    /// Set by [`SequencerHandle::halt`]: nothing is committed after it.
    halted: Arc<std::sync::OnceLock<String>>,
}

impl Sequencer {
    fn run(self, rx: Receiver<Submission>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.cfg.batch_timeout;
            // Group commit: take what is queued; wait for more only until the batch
            // deadline, so a lone statement is not held longer than batch_timeout.
            while batch.len() < self.cfg.batch_max {
                match rx.try_recv() {
                    Ok(s) => batch.push(s),
                    Err(_) => {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        match rx.recv_timeout(deadline - now) {
                            Ok(s) => batch.push(s),
                            Err(RecvTimeoutError::Timeout)
                            | Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                }
            }
            self.metrics
                .queue_depth
                .fetch_sub(batch.len(), Ordering::Relaxed);
            if let Some(why) = self.halted.get() {
                for s in batch {
                    let _ = s.reply.send(Err(SubmitError::Halted(why.clone())));
                }
                continue;
            }
            if let Err(e) = self.process(batch) {
                if let StorageError::Halted(why) = &e {
                    // Another instance halted the log: this one halts too (its batch
                    // was answered `log_halted`), it has not failed.
                    halt_here(&self.halted, self.watermark.as_deref(), why);
                    continue;
                }
                tracing::error!(error = %e, "commit failed: the sequencer stops; restart the log");
                self.failed.store(true, Ordering::Release);
                // Refuse everything still queued and everything to come.
                while let Ok(s) = rx.try_recv() {
                    self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                    let _ = s.reply.send(Err(SubmitError::Storage(format!(
                        "the sequencer stopped after a storage failure: {e}"
                    ))));
                }
                return;
            }
        }
    }

    /// Judges `batch` in order against `view` (through an overlay, so later
    /// statements see earlier ones): a verdict per statement and the rule-state
    /// writes of the accepted ones. `leaves` are the statements' leaf hashes and
    /// `known` the indexes of those already in the log. Pure: judging a batch twice on
    /// the same state gives the same answer (see [`BatchView`]).
    fn judge<S: StateView>(
        &self,
        view: &S,
        batch: &[Submission],
        leaves: &[Hash],
        known: &[Option<u64>],
        size: u64,
        now: Time,
    ) -> (Vec<Verdict>, Vec<(StateKey, StateValue)>) {
        let mut overlay = Overlay::new(view);
        let mut verdicts = Vec::with_capacity(batch.len());
        let mut batch_leaves: HashMap<[u8; 32], u64> = HashMap::new();
        let mut next = size;
        for ((sub, leaf), known) in batch.iter().zip(leaves).zip(known) {
            // A statement already in the log (a retry after a lost answer, or a
            // replay with other signature lines): answer with the earlier index
            // instead of refusing, as Tessera does, and append nothing. Its identity
            // is its signed text, kept in the rule state (so this batch's statements
            // count too); the exact bytes are looked up as well, for entries of
            // elections sealed before texts were indexed.
            let text_key = StateKey::Statement(sub.stmt.text_hash());
            match overlay.get(&text_key) {
                Ok(Some(StateValue::Statement { index })) => {
                    verdicts.push(Verdict::Duplicate(index));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    verdicts.push(Verdict::Refuse(Refusal {
                        code: RefusalCode::StateUnavailable,
                        detail: format!("reading the statement's identity: {e}"),
                    }));
                    continue;
                }
            }
            if let Some(i) = batch_leaves.get(&leaf.0).copied().or(*known) {
                verdicts.push(Verdict::Duplicate(i));
                continue;
            }
            let ctx = Context {
                index: next,
                now: Some(now),
                tolerance_secs: self.cfg.time_tolerance_secs,
                max_tolerance_secs: Some(self.cfg.time_tolerance_secs),
            };
            match overlay.check_and_apply(&sub.stmt, sub.verified.as_ref(), &ctx) {
                Ok(effects) => {
                    batch_leaves.insert(leaf.0, next);
                    next += 1;
                    verdicts.push(Verdict::Accept(effects.subjects, effects.reissue));
                }
                Err(refusal) => verdicts.push(Verdict::Refuse(refusal)),
            }
        }
        (verdicts, overlay.into_writes())
    }

    fn process(&self, batch: Vec<Submission>) -> Result<(), StorageError> {
        let head = self.head_tx.borrow().clone();
        let store: &dyn Store = &*self.store;
        let now = Time::now();
        // Each statement's leaf hash, computed once, and whether the log holds it
        // already: one read for the whole batch.
        let leaves: Vec<Hash> = batch
            .iter()
            .map(|s| tree::record_hash(&s.stmt.bytes))
            .collect();
        let known = store.leaf_indexes(&leaves)?;
        // The rule state the batch reads, fetched a round at a time (one query each,
        // see BatchView) until judging the batch finds every key it reads.
        let view = BatchView {
            base: CachedStateView {
                store,
                elections: &self.elections,
            },
            fetched: Default::default(),
            misses: Default::default(),
            speculative: std::cell::Cell::new(true),
        };
        let mut rounds = 0;
        let (verdicts, writes) = loop {
            let judged = self.judge(&view, &batch, &leaves, &known, head.size, now);
            let misses = view.misses.take();
            if misses.is_empty() || !view.speculative.get() {
                break judged;
            }
            rounds += 1;
            if rounds > PREFETCH_ROUNDS {
                // A chain of reads deeper than the rules have today: finish with
                // point reads rather than loop.
                view.speculative.set(false);
                continue;
            }
            view.fetch(misses);
        };

        let mut accepted: Vec<(Submission, Hash, Vec<Subject>, bool)> =
            Vec::with_capacity(batch.len());
        let mut duplicates: Vec<(Submission, u64)> = Vec::new();
        for ((sub, leaf), verdict) in batch.into_iter().zip(leaves).zip(verdicts) {
            match verdict {
                Verdict::Accept(subjects, reissue) => accepted.push((sub, leaf, subjects, reissue)),
                Verdict::Duplicate(index) => duplicates.push((sub, index)),
                Verdict::Refuse(refusal) => {
                    self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                    let _ = sub.reply.send(Err(SubmitError::Refused(refusal)));
                }
            }
        }
        if accepted.is_empty() {
            self.answer_duplicates(duplicates, &head);
            return Ok(());
        }

        // One append path (crate::append): hashes, lookups, statistics, root.
        let mut appender = crate::append::Appender::new(store, head.size);
        for (sub, leaf, subjects, reissue) in &accepted {
            appender.push(
                sub.stmt.bytes.clone(),
                *leaf,
                &sub.stmt.statement,
                subjects,
                *reissue,
            )?;
        }
        let size = appender.size();
        let root = appender.root()?;
        let mut commit = appender.into_commit(
            writes
                .iter()
                .map(|(k, v)| (k.encode(), v.encode()))
                .collect(),
        );
        let checkpoint = Checkpoint {
            origin: self.key.name().to_string(),
            size,
            root,
            extensions: vec![],
        }
        .sign(&self.key);
        let new_head = Arc::new(TreeHead {
            size,
            root,
            checkpoint,
        });
        commit.head = Some((*new_head).clone());
        // The fence: this batch applies only on the head it was built on.
        commit.extends = Some((head.size, head.root));
        // The batch's own stored hashes, for its acknowledgements' proofs.
        let fresh: HashMap<u64, Hash> = commit.hashes.iter().map(|(i, h)| (i.0, *h)).collect();

        let t = Instant::now();
        let committed = self
            .store
            .commit(commit)
            .and_then(|()| match &self.watermark {
                // The batch is durable but not acknowledged: a restart finds it, and the
                // high-water mark one batch behind, which is safe (nothing of it was served).
                Some(w) => w
                    .record(&new_head)
                    .map_err(|e| StorageError::Engine(format!("{e:#}"))),
                None => Ok(()),
            });
        if let Err(e) = committed {
            // What reached the disk is unknown: forget the cache, the restart rereads.
            self.elections.borrow_mut().clear();
            let answer = match &e {
                StorageError::Halted(why) => SubmitError::Halted(why.clone()),
                e => SubmitError::Storage(format!(
                    "durable commit failed, nothing of this batch is acknowledged: {e}"
                )),
            };
            for (sub, _, _, _) in accepted {
                let _ = sub.reply.send(Err(answer.clone()));
            }
            for (sub, _) in duplicates {
                let _ = sub.reply.send(Err(answer.clone()));
            }
            return Err(e);
        }
        {
            let mut cache = self.elections.borrow_mut();
            for (k, v) in &writes {
                if let StateKey::Election(id) = k {
                    cache.insert(id.clone(), v.clone());
                }
            }
        }
        self.metrics
            .commit_micros
            .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.metrics.batches.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .appended
            .fetch_add(accepted.len() as u64, Ordering::Relaxed);
        self.head_tx.send_replace(new_head.clone());

        // Every acknowledgement's inclusion proof, with one read for the batch (not one
        // per statement in the HTTP handlers). The batch is committed: a failure here
        // only leaves the proofs to the handlers.
        let proofs: Vec<Option<Vec<Hash>>> =
            match crate::batch_proofs::prove_all(store, &fresh, size, head.size..size) {
                Ok(p) => p.into_iter().map(Some).collect(),
                Err(e) => {
                    tracing::warn!("the batch's inclusion proofs: {e}");
                    Vec::new()
                }
            };
        let mut proofs = proofs.into_iter();
        for (i, (sub, leaf_hash, _, _)) in accepted.into_iter().enumerate() {
            let _ = sub.reply.send(Ok(Ack {
                index: head.size + i as u64,
                leaf_hash,
                head: new_head.clone(),
                duplicate: false,
                inclusion_proof: proofs.next().flatten(),
            }));
        }
        self.answer_duplicates(duplicates, &new_head);
        Ok(())
    }

    /// Answers duplicates with the earlier entry's index and leaf hash (read from the
    /// store: a replay's own bytes differ from the entry's), under `head`, which
    /// covers them all.
    fn answer_duplicates(&self, duplicates: Vec<(Submission, u64)>, head: &Arc<TreeHead>) {
        for (sub, index) in duplicates {
            let leaf = self
                .store
                .read_hashes(&[tree::stored_hash_index(0, index)])
                .map_err(|e| e.to_string())
                .and_then(|mut h| h.pop().ok_or_else(|| format!("leaf hash {index} missing")));
            let _ = sub.reply.send(match leaf {
                Ok(leaf_hash) => Ok(Ack {
                    index,
                    leaf_hash,
                    head: head.clone(),
                    duplicate: true,
                    inclusion_proof: None,
                }),
                Err(e) => Err(SubmitError::Storage(format!(
                    "reading the earlier entry {index}: {e}"
                ))),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStore;
    use urne_client::statement::Body;

    /// The queue gauge counts a statement in before the sequencer can take it out, so
    /// a reader never sees it below zero (which, unsigned, wraps to 2^64 - 1), even
    /// when the sequencer takes statements as fast as they come.
    #[test]
    fn queue_depth_never_wraps() {
        let store = Arc::new(MemoryStore::new());
        let key = SignerKey::from_seed("queue.test/log", [7; 32]).unwrap();
        init_log(&*store, &key).unwrap();
        let queue = 16;
        let seq = start(
            store,
            key.clone(),
            SequencerConfig {
                batch_max: 1,
                batch_timeout: Duration::ZERO,
                queue,
                time_tolerance_secs: 300,
            },
        )
        .unwrap();
        // A statement of an election the log does not know: refused by the sequencer
        // at once, nothing committed, so the loop runs at the queue's own speed.
        let text = urne_client::statement::Statement {
            election: "nowhere".into(),
            time: Time::now(),
            body: Body::Open,
        }
        .sign(&[&key])
        .unwrap();
        let stmt = SignedStatement::parse(text.as_bytes()).unwrap();
        let submitters = 4;
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (seq, stop) = (seq.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut max = 0;
                while !stop.load(Ordering::Relaxed) {
                    max = max.max(seq.metrics().queue_depth.load(Ordering::Relaxed));
                }
                max
            })
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let (refused, pushed_back) = rt.block_on(async {
            let tasks: Vec<_> = (0..submitters)
                .map(|_| {
                    let (seq, stmt) = (seq.clone(), stmt.clone());
                    tokio::spawn(async move {
                        let (mut refused, mut pushed_back) = (0u64, 0u64);
                        for _ in 0..20_000 {
                            match seq.submit(stmt.clone(), None).await {
                                Err(SubmitError::Refused(_)) => refused += 1,
                                Err(SubmitError::Pushback) => pushed_back += 1,
                                other => panic!("unexpected {other:?}"),
                            }
                        }
                        (refused, pushed_back)
                    })
                })
                .collect();
            let mut sum = (0, 0);
            for t in tasks {
                let (r, p) = t.await.unwrap();
                sum = (sum.0 + r, sum.1 + p);
            }
            sum
        });
        stop.store(true, Ordering::Relaxed);
        let max = sampler.join().unwrap();
        assert_eq!(refused + pushed_back, submitters as u64 * 20_000);
        // At most the queue, plus the submissions counted in while being refused.
        assert!(
            max <= queue + submitters,
            "queue_depth reached {max} with a queue of {queue}"
        );
        assert_eq!(seq.metrics().queue_depth.load(Ordering::Relaxed), 0);
    }
}
