//! `urne-client monitor`: a union's auditor of the whole log.
//!
//! Owns: the monitor's state directory (`monitor.lsm/`: rule state, tree, report
//! data and resume point, see `store.rs`; `monitor.state`: a copy of the header for
//! readers such as `report`; `alerts.jsonl`: every alert raised; `evidence.jsonl`:
//! every rollback, fork and split view found, see `evidence.rs`), catch-up with a
//! progress bar, the follow loop (each new checkpoint checked against the previous:
//! rollback, fork, stale log; the same conflict is alerted once, a new one again),
//! and delivering alerts.
//! Does not own: the checks themselves (`engine.rs`, the `urne_client` library), the
//! store (`store.rs`).
//!
//! # State directory
//!
//! Entries are audited in batches (up to 16 entry bundles, 4,096 entries): the
//! signatures of the next batches are checked on every core while the rules judge
//! this one in log order (`engine.rs`). A chunk of batches (one batch at first, up to
//! two, 8,192 entries, as the state grows: [`commit_every`]), and every batch that
//! raised an alert, is committed in one atomic write batch: the rule state it wrote,
//! the resume point ([`Header`]: log key, compact range, last verified checkpoint,
//! report data, detector windows) and the alerts it raised (the outbox). The alerts
//! are delivered after the commit and the outbox cleared; a monitor killed at any
//! point resumes from its last commit, cuts `alerts.jsonl` back to its length before
//! the undelivered batch and delivers it again: the same state and the same alert
//! lines as a run never killed (a webhook or `--exec` may see that batch's alerts
//! twice). A commit with alerts, and at least every 8th, waits for the disk; the
//! others do not (a power cut takes the monitor back to the last that did, and what
//! it audits again raised no alert).
//!
//! `monitor.state` = 8-byte big-endian length of the JSON header, the header
//! (version 3). A version-1 file (the header, then the whole rule state as
//! length-prefixed key/value pairs) is migrated into `monitor.lsm/` on first start.
//! A version-2 directory (the rule state in `monitor.redb`, the B-tree store of
//! earlier releases) keeps the checkpoint it holds and is audited again from entry
//! 0 into `monitor.lsm/`; `monitor.redb` is then removed.

use crate::engine::{
    stream_prepared, Alert, Auditor, Detectors, ElectionReport, HelpdeskIssue, ReissueWindow,
};
use crate::evidence::{self, Evidence};
use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use crate::notify::Sinks;
use crate::store::{DiskState, RuleState, DB_FILE};
use crate::trust::{conflict_fail, LogArgs, Trust};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use urne_client::checkpoint::SignedCheckpoint;
use urne_client::compact::CompactRange;
use urne_client::consistency::{ConflictKind, Decision, ForkKey, Shown};
use urne_client::gossip::Equivocation;
use urne_client::rules::{StateKey, StateValue};

/// Arguments of `monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// State directory (created if needed): resume point, rule state, alerts.jsonl.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Catch up, report, and exit instead of following the log.
    #[arg(long)]
    pub once: bool,
    /// Seconds between two polls of the checkpoint when following.
    #[arg(long, default_value_t = 10)]
    pub interval: u64,
    /// Raise `stale_log` when the checkpoint has not changed (or the log has not
    /// answered) for this many seconds while an election is open.
    #[arg(long, default_value_t = 600)]
    pub stale_after: u64,
    /// Raise `reissue_burst` when an election has more credential reissues than this
    /// within 60 minutes (a sliding window over statement times).
    #[arg(long, default_value_t = urne_client::thresholds::REISSUE_BURST_PER_HOUR)]
    pub burst_per_hour: u64,
    /// Raise `reissue_then_vote` when a ballot comes this many minutes or less after
    /// a helpdesk issue or a reissue (but a batch one) of its credential.
    #[arg(long, default_value_t = urne_client::thresholds::REISSUE_THEN_VOTE_MINUTES)]
    pub reissue_vote_minutes: i64,
    /// Tolerated clock skew between statements, seconds, when re-checking the rules
    /// of elections sealed before tolerances were (rules 1); an election that sealed
    /// its tolerance is judged by it [default: the log's, as its /v1/log announces;
    /// 300 if it does not say].
    #[arg(long, value_name = "SECS")]
    pub tolerance: Option<i64>,
    /// POST every alert as JSON to this URL.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Run this shell command per alert (alert JSON in $URNE_ALERT and on stdin).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Verify each signature alone, as the log and the browsers do, instead of in
    /// batches of 1,024 (the audit then takes about 1.75 times the CPU). A batch can let through, at random,
    /// a signature its own authority made malformed on purpose (a small-order point
    /// in R: valid for RFC 8032's cofactored check, not for the log's); never one of
    /// anyone else, and never an altered statement. See the README's monitor section.
    #[arg(long)]
    pub verify_each: bool,
    /// Serve the latest checkpoint this monitor verified at `GET /v1/gossip`, and the
    /// equivocation evidence it found at `GET /v1/gossip/equivocations`, on this
    /// address (e.g. 127.0.0.1:8090), for mirrors, witnesses and other monitors to
    /// compare with (their `--peer`).
    #[arg(long, value_name = "ADDR")]
    pub gossip: Option<String>,
}

/// The JSON header of `monitor.state`.
#[derive(Serialize, Deserialize)]
pub struct Header {
    /// Format version.
    pub version: u32,
    /// The log key the state belongs to.
    pub log_key: String,
    /// The tree verified so far.
    pub compact: CompactRange,
    /// The last checkpoint verified (signed note), consistent with `compact`.
    pub checkpoint: Option<String>,
    /// Unix seconds when the checkpoint last changed.
    pub last_change: i64,
    /// Report data per election.
    pub reports: BTreeMap<String, ElectionReport>,
    /// Recent helpdesk issues, for reissue-then-vote.
    pub helpdesk: Vec<HelpdeskIssue>,
    /// The reissues of the last hour per election, for reissue bursts.
    #[serde(default)]
    pub reissue_windows: BTreeMap<String, ReissueWindow>,
    /// Detector settings of the last run (shown in the report).
    pub detectors: Option<Detectors>,
    /// Whether a stale-log alert is raised and not yet cleared.
    #[serde(default)]
    pub stale_raised: bool,
}

/// How many entries the monitor audits between two commits of its state, once
/// `audited` entries are: an eighth of them, between 4,096 (one batch) and 8,192.
/// Larger chunks made each commit cheaper per entry when the store was a B-tree
/// (a commit rewrote the pages its random keys landed on); in the log-structured
/// store a commit costs per key, and the writes of a chunk wait in memory until it
/// is committed (a map of keys and values, and their encoded copies while it is
/// committed): chunks of up to 32,768 entries took some 20 MiB more at the peak
/// (BENCHMARKS.md). A monitor killed re-audits at most one chunk.
fn commit_every(audited: u64) -> u64 {
    (audited / 8).clamp(4_096, 8_192)
}

fn now_unix() -> i64 {
    urne_client::statement::Time::now().0
}

/// The version of [`Header`] this monitor writes: 3, the rule state and the header in
/// `monitor.lsm/`, `monitor.state` a copy of the header for readers. Version 1 was
/// `monitor.state` alone, the rule state after the header: it is migrated. Version 2
/// was the same in `monitor.redb`: audited again (see the module's header).
pub const HEADER_VERSION: u32 = 3;

/// The store of version-2 state directories.
const REDB_FILE: &str = "monitor.redb";

/// The alerts of a batch, committed with it and delivered after: a monitor killed
/// while delivering them delivers them again on restart, and `alerts.jsonl` is first
/// cut back to `alerts_len`, its length before them, so that each is there once.
#[derive(Serialize, Deserialize)]
struct Outbox {
    alerts_len: u64,
    alerts: Vec<Alert>,
}

fn damaged(path: &Path, m: &str) -> Fail {
    Fail::new(Kind::Other, format!("{} is damaged: {m}", path.display()))
}

/// Reads the header at the start of `monitor.state` (both versions), leaving `r` at
/// the rule state of a version-1 file.
fn read_header_from(r: &mut impl std::io::Read, path: &Path) -> Res<Header> {
    let mut len8 = [0u8; 8];
    r.read_exact(&mut len8)
        .map_err(|_| damaged(path, "short"))?;
    let hl =
        usize::try_from(u64::from_be_bytes(len8)).map_err(|_| damaged(path, "header length"))?;
    if hl > 1 << 30 {
        return Err(damaged(path, "header length"));
    }
    let mut head = vec![0u8; hl];
    r.read_exact(&mut head)
        .map_err(|_| damaged(path, "header"))?;
    serde_json::from_slice(&head).map_err(|e| damaged(path, &e.to_string()))
}

/// Reads the header of `DIR/monitor.state` (what `report` shows; readable while a
/// monitor runs on DIR); `None` if absent.
///
/// # Errors
/// [`Kind::Other`] if it is unreadable or damaged.
pub fn read_header(dir: &Path) -> Res<Option<Header>> {
    let path = dir.join("monitor.state");
    match std::fs::File::open(&path) {
        Ok(f) => read_header_from(&mut std::io::BufReader::new(f), &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Fail::new(
            Kind::Other,
            format!("reading {}: {e}", path.display()),
        )),
    }
}

/// Writes `DIR/monitor.state`, the copy of the header for readers (replaced
/// atomically; the store is what a monitor resumes from).
fn export_header(dir: &Path, head: &[u8]) -> Res<()> {
    let path = dir.join("monitor.state");
    let tmp = dir.join("monitor.state.tmp");
    let mut b = Vec::with_capacity(8 + head.len());
    b.extend_from_slice(&(head.len() as u64).to_be_bytes());
    b.extend_from_slice(head);
    std::fs::write(&tmp, &b).map_err(ctx(Kind::Other, format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &path)
        .map_err(ctx(Kind::Other, format!("renaming to {}", path.display())))
}

/// Migrates a version-1 `DIR/monitor.state` (header and rule state in one file) to
/// `DIR/monitor.lsm/`: the state streamed into a new store beside it, its header
/// committed last and durably, renamed into place; then `monitor.state` becomes the
/// header copy. Killed at any point, it is either not done (done again) or done.
fn migrate(dir: &Path) -> Res<()> {
    use std::io::Read;
    let path = dir.join("monitor.state");
    let f = std::fs::File::open(&path)
        .map_err(ctx(Kind::Other, format!("reading {}", path.display())))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, f);
    let mut header = read_header_from(&mut r, &path)?;
    header.version = HEADER_VERSION;
    let head = serde_json::to_vec(&header).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
    let tmp = dir.join("monitor.lsm.tmp");
    match std::fs::remove_dir_all(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Fail::new(
                Kind::Other,
                format!("removing {}: {e}", tmp.display()),
            ))
        }
    }
    let mut opened = DiskState::open(&tmp).map_err(|m| Fail::new(Kind::Other, m))?;
    // Each pair is checked as it is read: a damaged file migrates nothing.
    let read_field = |r: &mut std::io::BufReader<std::fs::File>,
                      first: bool|
     -> Result<Option<Vec<u8>>, String> {
        let mut len4 = [0u8; 4];
        match r.read_exact(&mut len4) {
            Ok(()) => {}
            Err(e) if first && e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(_) => return Err("truncated state".into()),
        }
        let n = u32::from_be_bytes(len4) as usize;
        if n > 1 << 24 {
            return Err("state field length".into());
        }
        let mut buf = vec![0u8; n];
        r.read_exact(&mut buf)
            .map_err(|_| "truncated state".to_string())?;
        Ok(Some(buf))
    };
    let mut pairs = std::iter::from_fn(|| {
        let k = match read_field(&mut r, true) {
            Ok(Some(k)) => k,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        let v = match read_field(&mut r, false) {
            Ok(Some(v)) => v,
            Ok(None) => return Some(Err("truncated state".into())),
            Err(e) => return Some(Err(e)),
        };
        if let Err(e) = StateKey::decode(&k) {
            return Some(Err(e.to_string()));
        }
        if let Err(e) = StateValue::decode(&v) {
            return Some(Err(e.to_string()));
        }
        Some(Ok((k, v)))
    });
    let n = match opened.state.import(&mut pairs, &head) {
        Ok(n) => n,
        Err(m) => {
            drop(opened);
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(damaged(&path, &m));
        }
    };
    drop(opened);
    let db = dir.join(DB_FILE);
    std::fs::rename(&tmp, &db)
        .map_err(ctx(Kind::Other, format!("renaming to {}", db.display())))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    export_header(dir, &head)?;
    eprintln!(
        "urne-client: {} migrated to {} ({n} rule state records)",
        path.display(),
        db.display()
    );
    Ok(())
}

/// Opens the state directory: its store (migrating a version-1 state file first),
/// the saved header (`None`: a new directory), and the alerts of the last batch if
/// their delivery was not recorded.
///
/// A header copy without its store (a `monitor.state` copied alone to another
/// directory, a store deleted) keeps what the monitor has seen the log sign (the
/// checkpoint held: rollbacks and forks are still caught against it) and audits the
/// log again from entry 0 to rebuild the rule state and the report.
///
/// # Errors
/// [`Kind::Other`], with a sentence: the store is in use, damaged, or of another
/// version.
fn open_store(dir: &Path) -> Res<(DiskState, Option<Header>, Option<Outbox>)> {
    let db = dir.join(DB_FILE);
    let mut orphan = None;
    if !db.exists() {
        if let Some(h) = read_header(dir)? {
            if h.version == 1 {
                migrate(dir)?;
            } else if h.version == HEADER_VERSION || h.version == 2 {
                if h.version == 2 {
                    eprintln!(
                        "urne-client: {} is the store of an earlier urne-client: the checkpoint held is kept, and the log is audited again from entry 0 into {}",
                        dir.join(REDB_FILE).display(),
                        db.display()
                    );
                } else {
                    eprintln!(
                        "urne-client: {} is missing: the checkpoint held is kept, and the log is audited again from entry 0 to rebuild the rule state",
                        db.display()
                    );
                }
                orphan = Some(Header {
                    version: HEADER_VERSION,
                    compact: Default::default(),
                    reports: BTreeMap::new(),
                    helpdesk: Vec::new(),
                    reissue_windows: BTreeMap::new(),
                    ..h
                });
            } else {
                return Err(Fail::new(
                    Kind::Other,
                    format!(
                        "{} is a monitor state of version {}, this urne-client reads versions 1 and {HEADER_VERSION}: use the urne-client that wrote it, or a new state directory",
                        dir.join("monitor.state").display(),
                        h.version
                    ),
                ));
            }
        }
    }
    let mut opened = DiskState::open(&db).map_err(|m| Fail::new(Kind::Other, m))?;
    if let Some(h) = orphan {
        // Committed at once: killed before its first batch, it still holds the
        // checkpoint.
        let head = serde_json::to_vec(&h).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        opened
            .state
            .commit(&head, None, true)
            .map_err(|e| Fail::new(Kind::Other, format!("{}: {e}", db.display())))?;
        export_header(dir, &head)?;
        // What it held is rebuilt from the log: the old store is only disk used.
        let old = dir.join(REDB_FILE);
        if old.exists() {
            std::fs::remove_file(&old)
                .map_err(ctx(Kind::Other, format!("removing {}", old.display())))?;
        }
        return Ok((opened.state, Some(h), None));
    }
    let header = match &opened.header {
        None => None,
        Some(b) => {
            let h: Header = serde_json::from_slice(b).map_err(|e| damaged(&db, &e.to_string()))?;
            if h.version != HEADER_VERSION {
                return Err(Fail::new(
                    Kind::Other,
                    format!(
                        "{} holds a monitor state of version {}, this urne-client reads version {HEADER_VERSION}",
                        db.display(),
                        h.version
                    ),
                ));
            }
            Some(h)
        }
    };
    let outbox = match &opened.outbox {
        None => None,
        Some(b) => Some(serde_json::from_slice(b).map_err(|e| damaged(&db, &e.to_string()))?),
    };
    Ok((opened.state, header, outbox))
}

/// The running monitor.
struct Monitor<'a> {
    args: &'a MonitorArgs,
    trust: Trust,
    log: Log,
    det: Detectors,
    sinks: Sinks,
    aud: Auditor,
    checkpoint: Option<SignedCheckpoint>,
    last_change: i64,
    stale_raised: bool,
    /// The worst failure kind found in this run (exit code of --once), alerted now or
    /// in an earlier run.
    worst: Option<Kind>,
    /// Rollbacks, forks and split views found (in this run or before), each alerted
    /// once; the verifiable ones are served by `--gossip`.
    evidence: Evidence,
    /// Tile failures already alerted in this run (message), so that following a log
    /// that keeps serving bad tiles does not repeat the alert at every poll.
    bad_tiles: HashSet<String>,
    /// What `--gossip` serves.
    latest: crate::peers::Latest,
    /// The elections' automatic seals re-checked ([`crate::seals`]).
    seals: crate::seals::Seals,
}

impl Monitor<'_> {
    fn raise(&mut self, a: Alert, kind: Option<Kind>) -> Res<()> {
        let v = serde_json::to_value(&a).map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let path = self.args.state.join("alerts.jsonl");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(ctx(Kind::Other, format!("opening {}", path.display())))?;
        writeln!(f, "{v}").map_err(ctx(Kind::Other, format!("writing {}", path.display())))?;
        println!("ALERT [{}] {}: {}", a.severity, a.kind, a.message);
        self.sinks.deliver(&v);
        if let Some(k) = kind {
            self.found(k);
        }
        Ok(())
    }

    /// Counts a failure for the exit code, whether or not it is alerted again.
    fn found(&mut self, k: Kind) {
        let rank = |k: Kind| match k {
            Kind::Inconsistent => 3,
            Kind::RuleViolation => 2,
            _ => 1,
        };
        if self.worst.is_none_or(|w| rank(k) > rank(w)) {
            self.worst = Some(k);
        }
    }

    /// Handles two checkpoints of the log that contradict each other (`f` says how):
    /// records the evidence in DIR and raises `kind` (critical), unless this very
    /// pair was found before (then it is only counted for the exit code).
    fn conflict(
        &mut self,
        kind: ConflictKind,
        ours: &SignedCheckpoint,
        theirs: &SignedCheckpoint,
        source: &str,
        servers: &[&Log],
        f: &Fail,
    ) -> Res<()> {
        self.found(Kind::Inconsistent);
        // One incident per held checkpoint contradicted (the library's `ForkKey`): a
        // forked log goes on signing checkpoints that all contradict the same one.
        if self.evidence.holds(&ForkKey::of(kind, &ours.checkpoint)) {
            eprintln!("urne-client: {} already alerted: {}", kind.as_str(), f.msg);
            return Ok(());
        }
        let ev = evidence::build(kind, ours, theirs, source, servers);
        let verifiable = ev.verify(&self.trust.log_key).is_ok();
        self.evidence.record(&ev)?;
        let mut a = Alert::new(kind.as_str(), "critical", f.msg.clone());
        let mut detail = match f.evidence.clone() {
            Some(serde_json::Value::Object(m)) => m,
            Some(other) => {
                let mut m = serde_json::Map::new();
                m.insert("detail".into(), other);
                m
            }
            None => serde_json::Map::new(),
        };
        detail.insert(
            "equivocation".into(),
            serde_json::to_value(&ev).unwrap_or_default(),
        );
        detail.insert("verifiable_by_anyone".into(), verifiable.into());
        a.evidence = Some(serde_json::Value::Object(detail));
        self.raise(a, Some(Kind::Inconsistent))
    }

    /// Raises `bad_tiles` once per message in this run.
    fn bad_tiles(&mut self, f: &Fail, checkpoint: &str) -> Res<()> {
        self.found(Kind::ProofFailed);
        if !self.bad_tiles.insert(f.msg.clone()) {
            return Ok(());
        }
        let mut a = Alert::new("bad_tiles", "critical", f.msg.clone());
        a.evidence = Some(serde_json::json!({"checkpoint": checkpoint}));
        self.raise(a, Some(Kind::ProofFailed))
    }

    fn header(&self) -> Header {
        Header {
            version: HEADER_VERSION,
            log_key: self.trust.log_key.to_string(),
            compact: self.aud.compact.clone(),
            checkpoint: self.checkpoint.as_ref().map(|c| c.note.clone()),
            last_change: self.last_change,
            reports: self.aud.reports.clone(),
            helpdesk: {
                // In log order: the same state gives the same header.
                let mut h: Vec<HelpdeskIssue> = self.aud.helpdesk.values().cloned().collect();
                h.sort_by_key(|h| h.index);
                h
            },
            reissue_windows: self.aud.bursts.clone(),
            detectors: Some(self.det.clone()),
            stale_raised: self.stale_raised,
        }
    }

    /// Commits the rule state written since the last commit with the resume point
    /// (the header) and `outbox`, in one transaction (`durable`: waiting for the
    /// disk, see `DiskState::commit`); then refreshes the header copy.
    fn commit(&mut self, outbox: Option<&Outbox>, durable: bool) -> Res<()> {
        let head = serde_json::to_vec(&self.header())
            .map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let ob = outbox
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let dir = &self.args.state;
        let RuleState::Disk(d) = &mut self.aud.state else {
            return Err(Fail::new(
                Kind::Other,
                "the monitor's rule state is not on disk",
            ));
        };
        d.commit(&head, ob.as_deref(), durable).map_err(|e| {
            Fail::new(
                Kind::Other,
                format!("saving the monitor state in {}: {e}", dir.display()),
            )
        })?;
        export_header(dir, &head)
    }

    fn save(&mut self) -> Res<()> {
        self.commit(None, true)
    }

    /// Commits an audited batch with its alerts, then delivers them.
    fn commit_batch(&mut self, alerts: Vec<Alert>) -> Res<()> {
        if alerts.is_empty() {
            return self.commit(None, false);
        }
        let path = self.args.state.join("alerts.jsonl");
        let alerts_len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => {
                return Err(Fail::new(
                    Kind::Other,
                    format!("reading {}: {e}", path.display()),
                ))
            }
        };
        let o = Outbox { alerts_len, alerts };
        self.commit(Some(&o), true)?;
        self.deliver(o)
    }

    /// Raises the alerts of a committed batch, then records them delivered (after
    /// `alerts.jsonl` is on disk).
    fn deliver(&mut self, o: Outbox) -> Res<()> {
        for a in o.alerts {
            let k = (a.kind == "rule_violation").then_some(Kind::RuleViolation);
            self.raise(a, k)?;
        }
        let path = self.args.state.join("alerts.jsonl");
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|f| f.sync_data())
            .map_err(ctx(Kind::Other, format!("writing {}", path.display())))?;
        let RuleState::Disk(d) = &mut self.aud.state else {
            return Ok(());
        };
        d.clear_outbox().map_err(|e| {
            Fail::new(
                Kind::Other,
                format!(
                    "saving the monitor state in {}: {e}",
                    self.args.state.display()
                ),
            )
        })
    }

    /// Delivers the alerts of the last batch committed before a crash: cuts
    /// `alerts.jsonl` back to its length before them (a delivery cut short), then
    /// raises them.
    fn redeliver(&mut self, o: Outbox) -> Res<()> {
        let path = self.args.state.join("alerts.jsonl");
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(f) => {
                let len = f
                    .metadata()
                    .map_err(ctx(Kind::Other, format!("reading {}", path.display())))?
                    .len();
                if len > o.alerts_len {
                    f.set_len(o.alerts_len)
                        .map_err(ctx(Kind::Other, format!("truncating {}", path.display())))?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Fail::new(
                    Kind::Other,
                    format!("opening {}: {e}", path.display()),
                ))
            }
        }
        self.deliver(o)
    }

    /// Catches up to a new checkpoint, which [`Monitor::poll`] decided consistent
    /// with the last one verified and witnessed.
    fn step(&mut self, new: SignedCheckpoint) -> Res<()> {
        if self.aud.compact.size() == new.checkpoint.size
            && self
                .checkpoint
                .as_ref()
                .is_some_and(|old| old.note == new.note || old.checkpoint == new.checkpoint)
        {
            return Ok(());
        }
        let cp = new.checkpoint.clone();
        let start = self.aud.compact.size();
        if cp.size > start {
            let bar = if self.args.quiet || cp.size - start < 1024 {
                ProgressBar::hidden()
            } else {
                let b = ProgressBar::new(cp.size - start);
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} catch-up [{bar:40}] {pos}/{len} entries  {per_sec}  eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                b
            };
            let t0 = Instant::now();
            let log = Log::new(self.log.base());
            let prep = self.aud.preparer();
            // Entries judged since the last commit.
            let mut uncommitted = 0u64;
            let res = stream_prepared(&log, &cp, start, cp.size, 16, prep, |p| {
                let n = p.entries.len() as u64;
                let alerts = self.aud.apply(p, &self.det)?;
                bar.inc(n);
                uncommitted += n;
                // A resume point per chunk of batches, with its rule state and its
                // alerts: the tree and state cover exactly these entries, and the
                // checkpoint is the last fully verified one. A batch with alerts is
                // committed at once (its alerts are delivered after).
                if alerts.is_empty() && uncommitted < commit_every(self.aud.compact.size()) {
                    return Ok(());
                }
                uncommitted = 0;
                self.commit_batch(alerts)
            });
            bar.finish_and_clear();
            if let Err(f) = res {
                // Every batch audited whole is committed; a batch cut short (a tile
                // that does not verify, the network) is not, and is audited again
                // from the last commit. A failure of the rule state or of a commit
                // (`Kind::Other`) may have left a batch judged in part: nothing more
                // is committed then.
                if uncommitted > 0 && matches!(f.kind, Kind::ProofFailed | Kind::Network) {
                    self.commit(None, true)?;
                }
                if f.kind == Kind::ProofFailed {
                    self.bad_tiles(&f, &new.note)?;
                }
                return Err(f);
            }
            if self.aud.compact.root() != cp.root {
                let f = Fail::new(
                    Kind::ProofFailed,
                    format!(
                        "the entries served do not hash to the signed root of {} entries",
                        cp.size
                    ),
                );
                self.bad_tiles(&f, &new.note)?;
                return Err(f);
            }
            let secs = t0.elapsed().as_secs_f64();
            if !self.args.quiet {
                eprintln!(
                    "verified entries {start}..{} in {secs:.2} s ({:.0} statements/s: signatures, rules, tree)",
                    cp.size,
                    (cp.size - start) as f64 / secs.max(1e-9)
                );
            }
        } else if self.aud.compact.size() == cp.size && self.aud.compact.root() != cp.root {
            let f = Fail::new(
                Kind::Inconsistent,
                format!("FORK: the log signed a tree of {} entries with another root than the one this monitor verified", cp.size),
            );
            self.raise(
                Alert::new("fork", "critical", f.msg.clone()),
                Some(Kind::Inconsistent),
            )?;
            return Err(f);
        }
        // The ballot rate of every election, judged now (the shared rule).
        for a in crate::rate::new_alerts(&mut self.aud.reports, now_unix()) {
            self.raise(a, None)?;
        }
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((new.note.clone(), new.checkpoint.size));
        let sealed = self
            .seals
            .check(&self.log, &self.trust, &self.aud.state, &new)?;
        for a in sealed {
            let k = (a.severity == "critical").then_some(Kind::RuleViolation);
            self.raise(a, k)?;
        }
        self.checkpoint = Some(new);
        self.last_change = now_unix();
        if self.stale_raised {
            self.stale_raised = false;
        }
        self.save()
    }

    /// Fetches the log's checkpoint and runs the one decision of the library against
    /// the last one verified: consistent and witnessed, it is caught up to; a
    /// rollback or fork is alerted (critical, once per held checkpoint), whatever the
    /// witnesses say; consistent but not witnessed, it is reported and waited on.
    /// Returns why the log would be stale if it stays so (`None`: it lied, and the
    /// critical alert says more than a stale one would).
    ///
    /// # Errors
    /// As [`Monitor::step`]; [`Kind::Inconsistent`] after alerting a conflict.
    fn poll(&mut self) -> Res<Option<&'static str>> {
        let note = match self.log.checkpoint() {
            Ok(n) => n,
            Err(f) if f.kind == Kind::Network && !self.args.once => {
                eprintln!("urne-client: {f}");
                return Ok(Some("the log has not answered"));
            }
            Err(f) => return Err(f),
        };
        let held = self.checkpoint.clone();
        let base = self.log.base().to_string();
        match self
            .trust
            .decide(&self.log, held.as_ref(), &note, Shown::ByLog(&base))?
        {
            Decision::Consistent { checkpoint, .. } => {
                self.step(checkpoint)?;
                self.check_peers()?;
                Ok(Some("the log has signed no new checkpoint"))
            }
            Decision::QuorumNotMet { checkpoint, why } => {
                eprintln!(
                    "urne-client: the log's checkpoint of {} entries is consistent with the one verified here but not witnessed ({why}); waiting for the witnesses",
                    checkpoint.checkpoint.size
                );
                self.check_peers()?;
                Ok(Some(
                    "the log has shown no checkpoint the witness quorum cosigned",
                ))
            }
            Decision::Conflict(c) => {
                let f = conflict_fail(&c);
                let Some(ours) = held else {
                    // Nothing held: the size-0 rule alone (an impossible empty tree).
                    self.found(Kind::Inconsistent);
                    let mut a = Alert::new(c.kind.as_str(), "critical", f.msg.clone());
                    a.evidence = f.evidence.clone();
                    self.raise(a, Some(Kind::Inconsistent))?;
                    return Err(f);
                };
                let theirs = self.trust.open_log_only(&note)?;
                let log = Log::new(&base);
                self.conflict(c.kind, &ours, &theirs, &base, &[&log], &f)?;
                Err(f)
            }
        }
    }

    /// Compares the verified checkpoint with what each `--peer` holds; a split view
    /// raises `equivocation` (critical), once per pair of checkpoints.
    fn check_peers(&mut self) -> Res<()> {
        let Some(cp) = self.checkpoint.clone() else {
            return Ok(());
        };
        match crate::peers::check(&self.log, &self.trust, &cp, &self.args.log.peers) {
            Ok(seen) => {
                for p in seen.iter().filter(|p| p.unreachable.is_some()) {
                    eprintln!(
                        "urne-client: peer {} not checked: {}",
                        p.peer,
                        p.unreachable.as_deref().unwrap_or_default()
                    );
                }
                Ok(())
            }
            Err(f) if f.kind == Kind::Inconsistent => {
                self.peer_conflict(&cp, &f)?;
                Err(f)
            }
            Err(f) => Err(f),
        }
    }

    /// Records and alerts (once) a split view a peer showed: either the peer's own
    /// verified evidence, or the peer's checkpoint against the one verified here.
    fn peer_conflict(&mut self, cp: &SignedCheckpoint, f: &Fail) -> Res<()> {
        let ev = f.evidence.clone().unwrap_or_default();
        if let Ok(e) = serde_json::from_value::<Equivocation>(ev.clone()) {
            // Evidence the peer held, already verified with the log key.
            let a = self.trust.open_log_only(&e.note_a)?;
            let b = self.trust.open_log_only(&e.note_b)?;
            self.found(Kind::Inconsistent);
            let k = ConflictKind::Equivocation;
            if self.evidence.holds(&ForkKey::of(k, &a.checkpoint))
                || self.evidence.holds(&ForkKey::of(k, &b.checkpoint))
            {
                return Ok(());
            }
            // Recorded as what this monitor decided: a split view shown by a peer.
            let mut e = e;
            e.kind = Some(k);
            if !self.evidence.record(&e)? {
                return Ok(());
            }
            let mut al = Alert::new(k.as_str(), "critical", f.msg.clone());
            al.evidence = Some(ev);
            return self.raise(al, Some(Kind::Inconsistent));
        }
        let (Some(peer), Some(note)) = (ev["peer"].as_str(), ev["peer_checkpoint"].as_str()) else {
            // Nothing to record (`peers.rs` always gives one or the other): still said.
            let mut al = Alert::new("equivocation", "critical", f.msg.clone());
            al.evidence = f.evidence.clone();
            return self.raise(al, Some(Kind::Inconsistent));
        };
        let theirs = self.trust.open_log_only(note)?;
        let (log, peer_log) = (Log::new(self.log.base()), Log::new(peer));
        self.conflict(
            ConflictKind::Equivocation,
            cp,
            &theirs,
            peer,
            &[&log, &peer_log],
            f,
        )
    }

    fn check_stale(&mut self, why: &str) -> Res<()> {
        let idle = now_unix() - self.last_change;
        if !self.stale_raised && idle >= self.args.stale_after as i64 && self.aud.any_open()? {
            self.stale_raised = true;
            self.raise(
                Alert::new(
                    "stale_log",
                    "warning",
                    format!("STALE LOG: {why} for {idle} s while an election is open"),
                ),
                None,
            )?;
            self.save()?;
        }
        Ok(())
    }
}

/// Runs `monitor`.
///
/// # Errors
/// A [`Fail`] whose kind gives the exit code: with `--once`, the worst alert of the
/// run (4 rollback or fork, 6 rule violation, 3 tiles not matching the checkpoint).
pub fn run(args: &MonitorArgs) -> Res<String> {
    crate::store::cap_arenas();
    let trust = args.log.trust()?;
    std::fs::create_dir_all(&args.state).map_err(ctx(
        Kind::Other,
        format!("creating {}", args.state.display()),
    ))?;
    let det = Detectors {
        tolerance_secs: Log::new(args.log.url()).rules_tolerance(args.tolerance),
        burst_per_hour: args.burst_per_hour,
        reissue_vote_minutes: args.reissue_vote_minutes,
    };
    let (store, header, outbox) = open_store(&args.state)?;
    let state = RuleState::Disk(Box::new(store));
    let (aud, checkpoint, last_change, stale_raised) = match header {
        Some(h) => {
            if h.log_key != trust.log_key.to_string() {
                return Err(Fail::new(
                    Kind::Other,
                    format!(
                        "{} holds the state of another log ({})",
                        args.state.display(),
                        h.log_key
                    ),
                ));
            }
            let cp = match &h.checkpoint {
                Some(n) => Some(trust.open_log_only(n)?),
                None => None,
            };
            (
                Auditor::resume(state, h.compact, h.reports, h.helpdesk, h.reissue_windows)?,
                cp,
                h.last_change,
                h.stale_raised,
            )
        }
        None => (
            Auditor::resume(
                state,
                Default::default(),
                BTreeMap::new(),
                Vec::new(),
                BTreeMap::new(),
            )?,
            None,
            now_unix(),
            false,
        ),
    };
    let mut aud = aud;
    if args.verify_each {
        aud.mode = urne_client::signature_batch::Mode::Each;
    }
    let evidence = Evidence::load(&args.state, &trust.log_key)?;
    let mut m = Monitor {
        args,
        log: Log::new(args.log.url()),
        trust,
        det,
        sinks: Sinks {
            exec: args.exec.clone(),
            webhook: args.webhook.clone(),
        },
        aud,
        checkpoint,
        last_change,
        stale_raised,
        worst: None,
        evidence,
        bad_tiles: HashSet::new(),
        latest: Default::default(),
        seals: Default::default(),
    };
    if let Some(o) = outbox {
        m.redeliver(o)?;
    }
    if let Some(cp) = &m.checkpoint {
        *m.latest.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((cp.note.clone(), cp.checkpoint.size));
    }
    if let Some(addr) = &args.gossip {
        let bound = crate::peers::serve(
            addr,
            m.trust.log_key.name().to_string(),
            m.latest.clone(),
            m.evidence.clone(),
        )?;
        eprintln!(
            "urne-client: serving gossip on http://{bound}/v1/gossip and /v1/gossip/equivocations"
        );
    }
    loop {
        let stale = match m.poll() {
            Ok(why) => why,
            Err(f) if args.once => return Err(f),
            Err(f) if f.kind == Kind::Network => {
                eprintln!("urne-client: {f}");
                Some("the log has not answered")
            }
            Err(f) if f.kind == Kind::Inconsistent => {
                // Keep watching from the last good state: the alert is raised, and a
                // log that answers with lies is not "stale".
                eprintln!("urne-client: {f}");
                None
            }
            Err(f) if f.kind == Kind::ProofFailed => {
                // Bad tiles (alerted in `step`) or a checkpoint the log did not sign:
                // the log answered, wrongly; polled again.
                eprintln!("urne-client: {f}");
                Some("the log has shown no checkpoint that verifies")
            }
            Err(f) => return Err(f),
        };
        if args.once {
            break;
        }
        if let Some(why) = stale {
            m.check_stale(why)?;
        }
        std::thread::sleep(Duration::from_secs(args.interval));
    }
    let size = m.aud.compact.size();
    let msg = format!(
        "monitor: {size} entries of the log {} verified (signatures, election rules, tree root); {} elections; state in {}",
        m.trust.log_key.name(),
        m.aud.reports.len(),
        args.state.display()
    );
    if let Some(k) = m.worst {
        return Err(Fail::new(
            k,
            format!(
                "{msg}; ALERTS raised, see {}",
                args.state.join("alerts.jsonl").display()
            ),
        ));
    }
    Ok(msg)
}
