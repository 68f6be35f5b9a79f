//! Leadership among several `urne serve` on one PostgreSQL database: exactly one
//! sequencer, the others follow, and one of them takes over by itself.
//!
//! Owns: the instance's role (follower or leader), the lease loop that decides it,
//! and the forwarding of `POST /v1/statements` from a follower to the leader.
//! Does not own: the lease row and the fenced commit ([`crate::storage::postgres`]),
//! sequencing ([`crate::sequencer`]).
//!
//! # Why a lease, not an advisory lock
//!
//! A PostgreSQL advisory lock belongs to a session: a leader that is paused
//! (`SIGSTOP`, a long GC-like stall, a VM frozen) or cut off behind a half-open TCP
//! connection keeps its session, hence its lock, and nobody takes over until the
//! kernel's keepalive gives up, minutes later. A lease row with an expiry by the
//! database's own clock (`clock_timestamp()`, so the instances' clocks do not matter)
//! is free again `lease_ms` after its holder's last renewal, whatever became of it.
//! Each takeover increments the row's **epoch**, and every commit locks that row and
//! checks its epoch in the same transaction ([`crate::storage::PgStore::set_fence`]),
//! besides the head's compare-and-swap: a former leader that wakes up after a
//! takeover cannot append anything, not even one batch. (Sunlight does the same
//! with a compare-and-swap on its checkpoint; Tessera on Spanner with a lease.)
//!
//! # Why the shared records are polled, not notified
//!
//! The halt and the evidence are read on the lease loop's tick (one query each,
//! every `lease / 6` while following, `lease / 3` while leading) rather than pushed with `LISTEN`/`NOTIFY`: a notification sent
//! while an instance is reconnecting (a failover, a restarted server) is lost, a
//! pooler in transaction mode (pgbouncer) does not carry `LISTEN`, and the tick
//! already bounds how late a follower learns anything (its head too). A halt never
//! waits for the tick where it matters: the fenced commit checks it.
//!
//! # Roles
//!
//! - **Follower**: every `lease / 6`, tries to take the lease; otherwise learns the
//!   leader's URL and publishes the database's newer head to its read view, and
//!   forwards writes to the leader, relaying its answer.
//! - **Leader**: promoted once (rereads the head, starts the sequencer, whose rule
//!   state is read from the database), renews the lease every `lease / 3`.
//! - **Both**, at every tick: read the database's halt ([`crate::storage::halt`]) and
//!   halt this instance if another recorded one (a halted instance never takes the
//!   lease, and its writes are refused `log_halted`; the fenced commit checks the
//!   halt too, so a leader cannot append after it even between two ticks), and read
//!   the equivocation evidence other instances added ([`crate::gossip::Evidence::refresh`]).
//! - **Losing the lead is crash-only**: when the lease is taken over, cannot be
//!   renewed within its length, or a commit fails (fenced, connection lost mid-commit:
//!   outcome unknown), the process exits with status [`EXIT_LOST_LEAD`], and its
//!   supervisor (systemd, Kubernetes) restarts it as a follower. Nothing of a failed
//!   batch was acknowledged; a clean stop (SIGTERM) releases the lease so that a
//!   follower takes over at once.

use crate::gossip::Gossiper;
use crate::sequencer::{SequencerHandle, Standby};
use crate::storage::{PgStore, StorageError};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// The exit status of an instance that lost the lead (see "Roles").
pub const EXIT_LOST_LEAD: i32 = 75;

/// The header a follower sets on a forwarded statement: an instance that is not the
/// leader does not forward it again (no loops while the lead changes hands).
pub const FORWARDED: &str = "urne-forwarded";

/// This instance's role, read by the API.
pub struct Role {
    /// This instance's id (random at each start), as written in the lease.
    pub instance: String,
    /// The lease's length.
    pub lease: Duration,
    url: OnceLock<String>,
    leading: AtomicBool,
    epoch: AtomicU64,
    led_from: AtomicU64,
    leader_url: RwLock<Option<String>>,
    http: reqwest::Client,
}

impl Role {
    /// A follower with a new random instance id.
    pub fn new(lease: Duration) -> Role {
        let id: [u8; 8] = rand::random();
        Role {
            instance: hex::encode(id),
            lease,
            url: OnceLock::new(),
            leading: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            led_from: AtomicU64::new(0),
            leader_url: RwLock::new(None),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Whether this instance is the sequencer.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::Acquire)
    }

    /// The leader's URL as last read from the lease (this instance's own if it leads).
    pub fn leader_url(&self) -> Option<String> {
        self.leader_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The URL this instance's API is reached at (set when it starts serving).
    pub fn url(&self) -> Option<&str> {
        self.url.get().map(String::as_str)
    }

    /// The lease epoch this instance holds (0 while it follows).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The tree size this instance took the lead at (0 while it follows): its own
    /// entries start there.
    pub fn led_from(&self) -> u64 {
        self.led_from.load(Ordering::Acquire)
    }

    fn set_leader_url(&self, url: Option<String>) {
        *self.leader_url.write().unwrap_or_else(|p| p.into_inner()) = url;
    }
}

/// Runs the lease loop of an instance reached at `url` (see "Roles"). Returns only
/// when the instance lost the lead, with why; the caller exits.
pub async fn run(
    role: Arc<Role>,
    store: Arc<PgStore>,
    standby: Standby,
    seq: SequencerHandle,
    gossip: Arc<Gossiper>,
    url: String,
) -> String {
    let _ = role.url.set(url.clone());
    let poll = (role.lease / 6).max(Duration::from_millis(20));
    let mut standby = Some(standby);
    let epoch = loop {
        let (s, r, u) = (store.clone(), role.clone(), url.clone());
        let (q, g) = (seq.clone(), gossip.clone());
        let sb = standby.take();
        let outcome = tokio::task::spawn_blocking(move || {
            let res = (|| {
                follow_shared(&s, &q, &g);
                // A halted instance never leads (taking the lease checks the halt
                // in the database too).
                if q.halted().is_none() {
                    if let Some(epoch) = s.try_lead(&r.instance, &u, r.lease)? {
                        return Ok(Some(epoch));
                    }
                }
                r.set_leader_url(s.leader()?.map(|l| l.url));
                if let Some(sb) = &sb {
                    sb.refresh()?;
                }
                Ok::<_, crate::storage::StorageError>(None)
            })();
            (res, sb)
        })
        .await;
        let (res, sb) = match outcome {
            Ok(v) => v,
            Err(e) => return format!("the lease task failed: {e}"),
        };
        standby = sb;
        match res {
            Ok(Some(epoch)) => break epoch,
            Ok(None) => {}
            Err(e) => tracing::warn!("follower: the database is not answering: {e}"),
        }
        tokio::time::sleep(poll).await;
    };
    // The lead: fence every commit with the epoch, then start sequencing from the
    // head as it is now (a former leader's last commit is in it, or fenced out).
    let taken = Instant::now();
    store.set_fence(epoch);
    let Some(sb) = standby else {
        return "no standby sequencer to promote".into();
    };
    let promoted = tokio::task::spawn_blocking(move || sb.promote()).await;
    match promoted {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return format!("starting the sequencer: {e}"),
        Err(e) => return format!("starting the sequencer: {e}"),
    }
    role.epoch.store(epoch, Ordering::Release);
    role.led_from.store(seq.head().size, Ordering::Release);
    role.set_leader_url(Some(url));
    role.leading.store(true, Ordering::Release);
    tracing::warn!(
        epoch,
        tree_size = seq.head().size,
        "this instance leads: it is the sequencer"
    );
    let mut renewed = taken;
    loop {
        tokio::time::sleep((role.lease / 3).max(Duration::from_millis(10))).await;
        if seq.failed() {
            return "a commit failed (fenced, or its outcome is unknown)".into();
        }
        let sent = Instant::now();
        let (s, lease) = (store.clone(), role.lease);
        let (q, g) = (seq.clone(), gossip.clone());
        let renewed_now = tokio::task::spawn_blocking(move || {
            follow_shared(&s, &q, &g);
            s.renew_lead(epoch, lease)
        });
        match renewed_now.await {
            Ok(Ok(true)) => renewed = sent,
            Ok(Ok(false)) => {
                return format!("another instance took the lease over (epoch {epoch} is gone)")
            }
            Ok(Err(e)) if renewed.elapsed() > role.lease => {
                return format!("the lease could not be renewed within its length: {e}")
            }
            Ok(Err(e)) => tracing::warn!("renewing the lease: {e}"),
            Err(e) => return format!("the lease task failed: {e}"),
        }
    }
}

/// What every instance reads from the database at each tick, leader or follower:
/// the halt (this instance halts if another recorded one) and the equivocation
/// evidence other instances added.
fn follow_shared(store: &PgStore, seq: &SequencerHandle, gossip: &Gossiper) {
    if seq.halted().is_none() {
        match store.halt_state() {
            Ok(h) => {
                if let Some(why) = h.reason() {
                    seq.halt_seen(&why);
                }
            }
            // A damaged record is a halt whose reason cannot be read: never no halt.
            Err(e @ StorageError::Corrupt { .. }) => seq.halt_seen(&format!(
                "the database holds a halt record that does not check (damaged or edited): {e}"
            )),
            Err(e) => tracing::warn!("reading the halt: {e}"),
        }
    }
    if let Err(e) = gossip.refresh_evidence() {
        tracing::warn!("reading the equivocation evidence other instances added: {e:#}");
    }
}

/// Releases the lease on a clean stop, so that a follower takes over at once.
pub fn release(role: &Role, store: &PgStore) {
    let epoch = role.epoch();
    if epoch != 0 {
        if let Err(e) = store.release_lead(epoch) {
            tracing::warn!("releasing the lease: {e}");
        }
    }
}

fn unavailable(code: &'static str, detail: String) -> Response {
    let mut r =
        crate::http::ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, detail).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    r
}

/// Forwards a statement a follower received to the leader and relays its answer
/// (status, body, content type, `Retry-After`). 503 `not_leader` with `Retry-After`
/// when no leader is known or reachable, or for a statement that was forwarded to
/// this instance already.
pub async fn forward(role: &Role, headers: &HeaderMap, body: Bytes) -> Response {
    if headers.contains_key(FORWARDED) {
        return unavailable(
            "not_leader",
            "forwarded to an instance that no longer leads: retry".into(),
        );
    }
    let Some(leader) = role.leader_url() else {
        return unavailable("not_leader", "no leader is known yet: retry".into());
    };
    let mut req = role
        .http
        .post(format!("{}/v1/statements", leader.trim_end_matches('/')))
        .header(FORWARDED, role.instance.as_str())
        .body(body);
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        req = req.header(header::CONTENT_TYPE, ct.clone());
    }
    let answer = match req.send().await {
        Ok(a) => a,
        Err(e) => {
            return unavailable(
                "not_leader",
                format!("the leader at {leader} did not answer ({e}): retry"),
            )
        }
    };
    let status = answer.status();
    let mut out = HeaderMap::new();
    for h in [header::CONTENT_TYPE, header::RETRY_AFTER] {
        if let Some(v) = answer.headers().get(&h) {
            out.insert(h, v.clone());
        }
    }
    match answer.bytes().await {
        Ok(b) => (status, out, b).into_response(),
        // The leader may have appended it: the retry finds it as a duplicate.
        Err(e) => unavailable(
            "not_leader",
            format!("the leader's answer was cut ({e}): retry"),
        ),
    }
}
