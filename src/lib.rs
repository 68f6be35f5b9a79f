//! # urne: the log server
//!
//! An append-only Merkle-tree log for elections: it records signed statements (ballot
//! receipts, credential issues, reissues and revocations, suspensions of the ballot…),
//! enforces the election's rules before it appends, and publishes signed checkpoints
//! and C2SP tiles so that voters, unions, mirrors and witnesses can check everything.
//! Every format and rule comes from the `urne-client` crate, the same code monitors
//! run.
//!
//! # Layout
//!
//! From the foundations up: a module uses only modules listed above it
//! (`python3 scripts/layers.py` checks it). One small knot remains, named as known by
//! the script, which fails on any other circle or upward use: [`mirror_push`] shares
//! the mirror's state and chunk check with [`mirror`].
//!
//! - [`storage`]: the storage contract; RocksDB ([`storage::RocksStore`]), PostgreSQL
//!   ([`storage::PgStore`]) and memory; and the side records: a witness's notes and
//!   the equivocation evidence ([`storage::NoteStore`], [`storage::EvidenceStore`]),
//!   and the halt the instances of a log on PostgreSQL share ([`storage::halt`]).
//! - [`keys`]: the log's signing key file (created on first start, mode 0600).
//! - [`serve`]: the HTTP server loop: connection caps, header and body deadlines,
//!   graceful stop with a deadline, the descriptor budget.
//! - [`peer_body`]: reading what a peer sends (gossip, tiles, witness answers) up to a
//!   bound, whatever the transfer encoding.
//! - [`atomic_file`]: writing a small file atomically (cosigned checkpoint, seals).
//! - [`memory`]: the process's resident set and the allocator's figures (`/metrics`).
//! - [`watermark`]: the largest checkpoint the log signed (or, an instance on
//!   PostgreSQL, saw committed), kept outside the database, and the halt marker: the
//!   log never signs below what it signed.
//! - [`config`]: the `Config` of `urne serve` and the `WitnessConfig` of `urne
//!   witness`, their defaults, validation and TOML file.
//! - [`stats`]: per-election statistics for the dashboard.
//! - [`append`]: the one append path: accepted entries become a storage commit (used by
//!   the sequencer, the mirror's copy and the binary's test-only `forge-append`).
//! - [`batch_proofs`]: the inclusion proofs of a committed batch, with one read of
//!   stored hashes (what the sequencer hands back with its acknowledgements).
//! - [`sequencer`]: the single writer: batches, rules, hashes, checkpoint, one durable
//!   commit per batch.
//! - [`seal`]: the elections' automatic seals (R.211-572) found among the cosigned
//!   checkpoints.
//! - [`cosign`]: the log asking its witnesses for cosignatures.
//! - [`push`]: the log pushing its entries to mirrors (C2SP tlog-mirror client) and
//!   keeping their cosignatures.
//! - [`http`]: what every HTTP handler shares below the routers: the error type with
//!   its stable codes ([`http::ApiError`]) and the bounded read of a request body.
//! - [`gossip`]: checkpoint gossip for the log, mirrors and witnesses: peers'
//!   checkpoints checked against the one held, equivocation evidence.
//! - [`web`]: the web page served at `/`.
//! - [`leader`]: several instances on one PostgreSQL database: the lease, exactly
//!   one sequencer, takeover, followers forwarding writes.
//! - [`witness`]: the witness mode (C2SP tlog-witness `add-checkpoint`).
//! - [`api`]: the HTTP API (C2SP tlog-tiles, the write endpoint, JSON lookups); the
//!   read endpoints need only its read view ([`api::ReadView`]), which a mirror serves
//!   on its own copy.
//! - [`mirror`]: the mirror mode: copying a log through its tiles and serving it.
//! - [`mirror_push`]: the mirror receiving a log by push (C2SP tlog-mirror
//!   `add-checkpoint`, `add-entries`) and cosigning what it holds.
//!
//! # Where a statement goes
//!
//! - **Parsed** and **judged** by `urne-client` (`urne_client::statement`,
//!   `urne_client::rules::check`): the same code every monitor runs.
//! - **Received** by [`api`] (`POST /v1/statements`), which parses it and checks its
//!   signatures, then hands it to the [`sequencer`], which judges it against the rule
//!   state in order.
//! - **Appended** by [`append`] (hashes, lookup rows, statistics: one storage commit
//!   per batch), committed by [`storage`], then the sequencer signs the checkpoint.
//! - **Proved** by [`api`] (inclusion and consistency proofs, C2SP tiles) from the
//!   stored hashes, with `urne_client::tree`.
//! - **Served** by [`serve`] (the HTTP loop) with the [`api`] router and [`web`].
//!
//! The binary (`src/main.rs`) only parses flags, sets up tracing and binds; tests
//! start the same [`run`] with their own listener and shutdown future.
//!
//! # What lives elsewhere
//!
//! - `urne demo` and `urne load`: the crate `urne-demo` (`demo/`), a client of the log
//!   over HTTP that the binary runs; nothing in this library uses it.
//! - `urne forge-append` (test only: appends an entry bypassing the rules, a
//!   compromised operator): a module of the binary (`src/forge.rs`), not of this
//!   library.
//! - The authority keys and statement builders of test elections:
//!   `urne_client::test_kit` (cargo feature `test-kit`), shared by every test suite.

#![warn(missing_docs)]

pub mod api;
pub mod append;
pub mod atomic_file;
pub mod batch_proofs;
pub mod config;
pub mod cosign;
pub mod gossip;
pub mod http;
pub mod keys;
pub mod leader;
pub mod memory;
pub mod mirror;
pub mod mirror_push;
pub mod peer_body;
pub mod push;
pub mod seal;
pub mod sequencer;
pub mod serve;
pub mod stats;
pub mod storage;
pub mod watermark;
pub mod web;
pub mod witness;

use anyhow::Context as _;
use config::Config;
use std::future::Future;
use std::sync::Arc;
use storage::{RocksStore, Store};
use urne_client::note::{SignerKey, VerifierKey};

/// A log ready to serve: storage opened, key loaded, sequencer running.
pub struct Log {
    /// The state every handler shares.
    pub state: api::AppState,
    /// Whether the log key was generated by this start (a new log).
    pub new_key: bool,
    /// The HTTP server's connection caps and deadlines.
    pub limits: serve::Limits,
    // A log on PostgreSQL: what its lease loop needs (started by [`run`]).
    ha: Option<Ha>,
}

/// An instance of a log on PostgreSQL before it serves: a follower until the lease
/// loop promotes its standby sequencer.
struct Ha {
    store: Arc<storage::PgStore>,
    standby: sequencer::Standby,
    role: Arc<leader::Role>,
    url: Option<String>,
}

impl Log {
    /// Opens the log described by `config`: RocksDB in `config.data` (created if
    /// needed), the log key (generated on first start), the sequencer.
    ///
    /// # Errors
    /// Invalid configuration, unreadable data directory, a key of another origin;
    /// storage damage (a corrupt write-ahead log, a database behind the high-water
    /// mark, a halted log): the message says what happened and what to do.
    pub fn open(config: &Config) -> anyhow::Result<Log> {
        let allow = config.validate()?;
        serve::raise_nofile_limit();
        if let Some(url) = &config.database {
            return Self::open_postgres(config, url, allow);
        }
        let (key, new_key) = keys::load_or_create(&config.data, &config.origin)?;
        // The mark first: a halted log does not even open its database.
        let (mark, held) = watermark::Watermark::open(&config.data, key.verifier())?;
        let db_dir = config.data.join("db");
        let store = RocksStore::open_with_files(
            &db_dir,
            config.cache_mib << 20,
            config.rocksdb_files(),
        )
        .with_context(|| {
            format!(
                "opening RocksDB in {} (a \"Corruption\" error means the data is damaged and the log \
                 refuses to start rather than lose what it signed). {}",
                db_dir.display(),
                watermark::RECOVERY_HINT
            )
        })?;
        if let Some(m) = &held {
            watermark::check_store(m, &store)?;
        }
        // Evidence about its own key, kept in its own small database beside the log's.
        let side = config.data.join("gossip-db");
        let evidence_db = Arc::new(
            storage::SideDb::open(&side, "equivocation/")
                .with_context(|| format!("opening the evidence database in {}", side.display()))?,
        );
        let evidence = gossip::Evidence::open(evidence_db)?;
        let mark = Arc::new(mark);
        let store: Arc<dyn Store> = Arc::new(store);
        sequencer::init_log(&*store, &key)?;
        let seq = sequencer::start_with_watermark(
            store.clone(),
            key.clone(),
            Self::sequencer_config(config),
            Some(mark.clone()),
        )?;
        let mut log = Self::build(store, key, config, allow, evidence, seq, None)?;
        // The last checkpoint the witnesses cosigned, served again after a restart
        // (never the bare head while witnesses are down).
        log.state
            .cosign
            .restore(&config.data, &log.state.log_key, &*log.state.store)?;
        if held.is_none() {
            // A new log, or one from before the mark existed: start the mark here.
            mark.record(&log.state.seq.head())?;
        }
        log.new_key = new_key;
        Ok(log)
    }

    /// Opens an instance of the log in the PostgreSQL database at `url`: a follower
    /// until [`run`]'s lease loop makes it the leader ([`leader`]). The data
    /// directory holds the log key, which every instance of the log shares, and this
    /// instance's high-water mark ([`watermark`]); everything else, the equivocation
    /// evidence included, is in the database.
    fn open_postgres(config: &Config, url: &str, allow: Vec<VerifierKey>) -> anyhow::Result<Log> {
        let (key, new_key) = keys::load_or_create(&config.data, &config.origin)?;
        // This instance's own mark: the largest tree it saw committed (see
        // `watermark`, "Several instances"). A halted instance starts halted: it
        // serves reads and never leads (see below).
        let (mark, held, halted_here) =
            watermark::Watermark::open_even_halted(&config.data, key.verifier())?;
        let pg = Arc::new(open_database(url, "the log's")?);
        let role = Arc::new(leader::Role::new(std::time::Duration::from_millis(
            config.lease_ms,
        )));
        let store: Arc<dyn Store> = pg.clone();
        // An instance with another key must never lead this log: it would sign its
        // tree under another name.
        if let Some(h) = store.head()? {
            urne_client::checkpoint::open_checkpoint(
                h.checkpoint.as_bytes(),
                key.verifier(),
                &urne_client::checkpoint::WitnessPolicy::none(),
            )
            .map_err(|e| {
                anyhow::anyhow!(
                    "the log in this database is not signed by the key in {} ({e}): every \
                     instance of a log needs the same log key file",
                    config.data.display()
                )
            })?;
        }
        if let Some(m) = &held {
            // Before anything is written: a database restored from an older copy is
            // refused by every instance that saw a larger tree.
            if let Err(e) = watermark::check_store(m, &*store) {
                // Proof that the database lost what the log signed: halt every
                // instance, those without a mark to tell included.
                let halt = storage::Halt {
                    reason: format!("{e:#}"),
                    instance: role.instance.clone(),
                    tree_size: m.checkpoint.size,
                };
                if let Err(r) = pg.record_halt(&halt) {
                    tracing::error!("recording the halt in the database: {r}");
                }
                return Err(e).with_context(|| {
                    format!(
                        "checking the PostgreSQL database against this instance's high-water mark \
                         ({})",
                        config.data.join(watermark::MARK_FILE).display()
                    )
                });
            }
        }
        // The halt another instance recorded: a damaged record refuses the start (it
        // is never read as no halt, nor as another reason).
        let shared_halt = pg.halt_state().context(
            "reading the log's halt in the database (storage::halt): a halt record that does \
             not check was damaged or edited; find out by whom before anything else",
        )?;
        sequencer::init_log(&*store, &key)?;
        // Evidence in the database, shared by every instance of the log.
        let evidence = gossip::Evidence::open(pg.clone())?;
        let mark = Arc::new(mark);
        // The head it is about to serve, if larger than its mark (a new instance, one
        // from before its mark existed, or one that was down while others appended).
        if let Some(h) = store.head()? {
            if held.as_ref().is_none_or(|m| m.checkpoint.size < h.size) {
                mark.record(&h)?;
            }
        }
        let (seq, standby) = sequencer::standby(
            store.clone(),
            key.clone(),
            Self::sequencer_config(config),
            Some(mark),
        )?;
        // Each halt of this instance goes to the database, for every instance.
        let (sink, id, head) = (pg.clone(), role.instance.clone(), seq.subscribe());
        seq.share_halts(Arc::new(move |reason: &str| {
            let halt = storage::Halt {
                reason: reason.to_string(),
                instance: id.clone(),
                tree_size: head.borrow().size,
            };
            if let Err(e) = sink.record_halt(&halt) {
                tracing::error!(
                    "CRITICAL: recording the halt in the database, where the other instances \
                     see it, failed ({e}); they halt when they read it or when their commit is \
                     refused"
                );
            }
        }));
        match (shared_halt.reason(), halted_here) {
            (Some(why), _) => seq.halt_seen(&why),
            // Halted here but not in the database (its record failed, or was removed):
            // recorded there again.
            (None, Some(why)) => seq.halt(why),
            (None, None) => {}
        }
        let mut log = Self::build(store, key, config, allow, evidence, seq, Some(role.clone()))?;
        log.state
            .cosign
            .restore(&config.data, &log.state.log_key, &*log.state.store)?;
        // The leader shares each cosigned checkpoint there; followers serve it.
        log.state
            .cosign
            .share_through(pg.clone(), log.state.log_key.clone());
        log.ha = Some(Ha {
            store: pg,
            standby,
            role,
            url: config.instance_url.clone(),
        });
        log.new_key = new_key;
        Ok(log)
    }

    fn sequencer_config(config: &Config) -> sequencer::SequencerConfig {
        sequencer::SequencerConfig {
            batch_max: config.batch_max,
            batch_timeout: config.batch_timeout(),
            queue: config.queue,
            time_tolerance_secs: config.time_tolerance_secs,
        }
    }

    /// Builds a log over any store (tests and benchmarks use the memory store).
    ///
    /// # Errors
    /// If the store cannot be read or initialised.
    pub fn with_store(
        store: Arc<dyn Store>,
        key: SignerKey,
        config: &Config,
        allow_board: Vec<VerifierKey>,
    ) -> anyhow::Result<Log> {
        sequencer::init_log(&*store, &key)?;
        let seq = sequencer::start(store.clone(), key.clone(), Self::sequencer_config(config))?;
        Self::build(
            store,
            key,
            config,
            allow_board,
            gossip::Evidence::memory(),
            seq,
            None,
        )
    }

    fn build(
        store: Arc<dyn Store>,
        key: SignerKey,
        config: &Config,
        allow_board: Vec<VerifierKey>,
        evidence: gossip::Evidence,
        seq: sequencer::SequencerHandle,
        role: Option<Arc<leader::Role>>,
    ) -> anyhow::Result<Log> {
        let peers = config
            .witnesses
            .iter()
            .map(|w| cosign::parse_witness_arg(w))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let quorum = config.witness_quorum.unwrap_or(peers.len() / 2 + 1);
        let gossip = Arc::new(gossip::Gossiper::new(
            vec![key.verifier().clone()],
            config.peers.clone(),
            Vec::new(),
            evidence,
        )?);
        let read = api::ReadView {
            cosign: Arc::new(
                cosign::Cosigning::new(peers, quorum)
                    .with_checkin(std::time::Duration::from_secs(config.witness_checkin_secs))
                    .with_min_interval(std::time::Duration::from_secs(
                        config.witness_interval_secs,
                    )),
            ),
            mirrors: Arc::new(push::Pushing::new(
                config
                    .mirrors
                    .iter()
                    .map(|m| push::parse_mirror_arg(m))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            )),
            store,
            head: seq.subscribe(),
            time_tolerance_secs: seq.time_tolerance(),
            log_key: key.verifier().clone(),
            started: std::time::Instant::now(),
            web: Arc::new(web::Web::new(config.web_dir.clone())),
            gossip,
            sequencer: Some(seq.status()),
            role,
        };
        let state = api::AppState {
            read,
            seq,
            allow_board: Arc::new(allow_board),
            authorities: Default::default(),
        };
        Ok(Log {
            state,
            new_key: false,
            limits: config.limits(),
            ha: None,
        })
    }

    /// Returns the log's verifier key (what voters and monitors pin).
    pub fn verifier_key(&self) -> &VerifierKey {
        &self.state.log_key
    }

    /// Gossip with `config.peers`: checkpoints signed with this log's key that its
    /// peers hold, checked against its own tree ([`gossip`]).
    pub fn gossip(&self) -> &Arc<gossip::Gossiper> {
        &self.state.gossip
    }

    /// Returns the router serving this log: its API and `/v1/gossip/equivocations`.
    pub fn router(&self) -> axum::Router {
        api::router(self.state.clone()).merge(gossip::router(self.gossip().clone()))
    }

    /// Returns what the log holds for `origin` (its own head and tree), for gossip.
    fn held(state: &api::AppState, origin: &str) -> Option<gossip::Held> {
        (origin == state.log_key.name()).then(|| gossip::Held {
            note: state.seq.head().checkpoint.clone(),
            tree: Some(state.store.clone()),
            signer: true,
        })
    }
}

/// Opens `whose` PostgreSQL database at `url` (`--database` of `urne serve` and
/// `urne witness`): the connection string parsed, the schema created or migrated
/// ([`storage::PgStore::open`]); errors name the database without its password.
///
/// # Errors
/// An unparseable connection string, an unreachable server, a schema newer than
/// this urne.
pub fn open_database(url: &str, whose: &str) -> anyhow::Result<storage::PgStore> {
    storage::PgStore::open(url)
        .with_context(|| format!("opening {whose} PostgreSQL database ({})", redact(url)))
}

/// The connection string without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &url[s + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Serves `log` on `listener` until `shutdown` resolves, then stops: returns once the
/// sequencer thread has ended and the store is closed (so the directory can be
/// reopened and the process can exit). A caller that holds a handle on the store of
/// its own must drop it first, or this waits up to 30 s for it, then returns with the
/// store still open.
///
/// # Errors
/// If the server fails.
pub async fn run(
    listener: tokio::net::TcpListener,
    log: Log,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // One handle on the store and the sequencer thread, kept to the end: see below.
    let store = log.state.store.clone();
    let mut log = log;
    // A log on PostgreSQL: the lease loop decides whether this instance sequences.
    // Losing the lead ends the process (crash-only, see `leader`).
    let lease = log.ha.take().map(|ha| {
        let url = ha
            .url
            .clone()
            .unwrap_or_else(|| match listener.local_addr() {
                Ok(a) => format!("http://{a}"),
                Err(_) => String::new(),
            });
        let task = tokio::spawn(leader::run(
            ha.role.clone(),
            ha.store.clone(),
            ha.standby,
            log.state.seq.clone(),
            log.gossip().clone(),
            url,
        ));
        (task, ha.role, ha.store)
    });
    let lost = lease
        .as_ref()
        .map(|(task, role, store)| (task.abort_handle(), role.clone(), store.clone()));
    let lease_task = lease.map(|(task, _, _)| {
        tokio::spawn(async move {
            if let Ok(why) = task.await {
                tracing::error!(
                    "this instance lost the lead and exits so that its supervisor restarts it as a follower: {why}"
                );
                std::process::exit(leader::EXIT_LOST_LEAD);
            }
        })
    });
    let sequencer = log.state.seq.take_thread();
    // The cosigning task only reads committed heads; it is stopped with the server.
    let cosigner = tokio::spawn(cosign::run(
        log.state.cosign.clone(),
        log.state.seq.clone(),
        log.state.store.clone(),
    ));
    // Pushing to mirrors only reads committed heads too; it is stopped with the server.
    let pusher = tokio::spawn(push::run(
        log.state.mirrors.clone(),
        log.state.cosign.clone(),
        log.state.seq.clone(),
        log.state.store.clone(),
    ));
    // Pulling peers' checkpoints only reads committed heads too; it ends with the server.
    let puller = (!log.gossip().peers().is_empty()).then(|| {
        let state = log.state.clone();
        tokio::spawn(gossip::follow_peers(log.gossip().clone(), move |origin| {
            Ok(Log::held(&state, origin))
        }))
    });
    // Freed memory given back to the system; stopped with the server.
    let trimmer = tokio::spawn(memory::trim_freed_memory());
    let r = serve::serve(listener, log.router(), log.limits.clone(), shutdown)
        .await
        .context("HTTP server");
    trimmer.abort();
    let _ = trimmer.await;
    if let Some(p) = puller {
        p.abort();
        // Wait until it is gone, so its handles on the log are dropped on return.
        let _ = p.await;
    }
    cosigner.abort();
    let _ = cosigner.await;
    pusher.abort();
    let _ = pusher.await;
    if let Some(t) = lease_task {
        t.abort();
        let _ = t.await;
    }
    if let Some((lease_loop, role, pg)) = lost {
        // The lease loop itself, not only its watcher: a stopped log must not renew
        // its lease (in this process, which may open the log again).
        lease_loop.abort();
        // A clean stop: hand over at once rather than after the lease.
        let _ = tokio::task::spawn_blocking(move || leader::release(&role, &pg)).await;
    }
    // A standby promoted while serving: its thread is joined like the one at start.
    let sequencer = sequencer.or_else(|| log.state.seq.take_thread());
    // With every other handle gone, the sequencer thread finishes its batch and exits;
    // join it, then close RocksDB here, before returning. A process that exits while
    // another thread is closing RocksDB, or running its thread-local destructors, can
    // abort in C++ static destructors ("pthread lock: Invalid argument"), and a caller
    // may reopen the directory. (Waiting for a weak handle's strong count to reach zero
    // is not enough: it does so *before* the last holder runs the destructor.)
    drop(log);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let busy = |sequencer: &Option<std::thread::JoinHandle<()>>, store: &Arc<dyn Store>| {
        sequencer.as_ref().is_some_and(|t| !t.is_finished()) || Arc::strong_count(store) > 1
    };
    while busy(&sequencer, &store) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    if busy(&sequencer, &store) {
        tracing::warn!("the sequencer or the store is still in use 30 s after the server stopped");
    } else if let Some(t) = sequencer {
        if t.join().is_err() {
            tracing::error!("the sequencer thread panicked");
        }
    }
    let _ = tokio::task::spawn_blocking(move || drop(store)).await;
    r
}
