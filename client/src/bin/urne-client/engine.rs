//! The audit engine shared by `monitor` and `verify`: downloads entries through the
//! C2SP tiles, authenticates them against a checkpoint, recomputes the tree, verifies
//! every signature and re-runs every election rule, and derives alerts and charts.
//!
//! Owns: [`stream_entries`] (entry bundles checked leaf by leaf against level-0 hash
//! tiles that [`TileHashVerifier`] authenticates against the checkpoint's root),
//! [`Preparer`] (parsing and signatures, on every core, in batches
//! (`urne_client::signature_batch`, or each alone: [`Auditor::mode`]), ahead of the rules:
//! [`stream_prepared`] runs it on the download's thread while the rules judge the
//! batch before), and
//! [`Auditor`] (the rule state, a [`CompactRange`] for the root in O(log n) memory,
//! the per-election statistics of the report, the pattern detectors: reissue bursts
//! over a sliding hour, reissue-then-vote, suspensions). Does not own: what is valid
//! (the shared rules engine `urne_client::rules`, with `now: None`: history is
//! re-checked without the log's clock), persistence (`monitor.rs`), HTTP (`http.rs`).

use crate::fail::{Fail, Kind, Res};
use crate::http::{HttpTiles, Log};
use crate::store::RuleState;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use urne_client::api::EventFacts;
use urne_client::checkpoint::Checkpoint;
use urne_client::compact::CompactRange;
use urne_client::note::VerifierKey;
use urne_client::rules::{self, Context, Refusal, RefusalCode, StateKey, StateValue, Verified};
use urne_client::signature_batch::{self, Mode, StatementCheck};
use urne_client::statement::{Body, Role, SignedStatement, Tag, Time};
use urne_client::tiles::{decode_entry_bundle_for, TileHashVerifier, TileId, TileKind, TILE_WIDTH};
use urne_client::tree::{self, Hash};

/// An alert: printed, appended to `alerts.jsonl`, posted to a webhook.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Alert {
    /// Stable kind: `rollback`, `fork`, `equivocation`, `stale_log`, `rule_violation`,
    /// `reissue_burst`, `reissue_then_vote`, `suspension`, `resumption`, `bad_tiles`.
    pub kind: String,
    /// `critical` (the log lied or broke a rule), `warning` (a pattern to look at),
    /// `info`.
    pub severity: String,
    /// When the monitor raised it.
    pub detected: String,
    /// The election concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub election: Option<String>,
    /// The leaf index concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<u64>,
    /// The time of the entry concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub time: Option<String>,
    /// One sentence.
    pub message: String,
    /// Evidence (signed checkpoints, proof, the entry).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub evidence: Option<serde_json::Value>,
}

impl Alert {
    /// Builds an alert detected now.
    pub fn new(kind: &str, severity: &str, message: impl Into<String>) -> Self {
        Alert {
            kind: kind.into(),
            severity: severity.into(),
            detected: Time::now().to_string(),
            election: None,
            index: None,
            time: None,
            message: message.into(),
            evidence: None,
        }
    }

    fn at(mut self, election: &str, index: u64, time: Time) -> Self {
        self.election = Some(election.to_string());
        self.index = Some(index);
        self.time = Some(time.to_string());
        self
    }
}

/// A lifecycle event of an election, for the timeline of the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Leaf index.
    pub index: u64,
    /// Statement time (Unix seconds).
    pub time: i64,
    /// Statement type.
    pub kind: String,
    /// Reason or detail.
    pub detail: String,
    /// The statement's fields, for a report to word in its reader's language
    /// (`detail` is English).
    #[serde(default, skip_serializing_if = "EventFacts::is_empty")]
    pub facts: EventFacts,
}

/// One burst of reissues: from the reissue that crossed the bound to the last one
/// while the sliding hour stayed above it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Burst {
    /// Leaf index of the reissue that crossed the bound (the alert's).
    pub index: u64,
    /// Time of the first reissue in the window at the crossing (Unix seconds).
    pub from: i64,
    /// Time of the last reissue of the burst.
    pub to: i64,
    /// Reissues in the burst: those in the window at the crossing and every one after
    /// while the window stayed above the bound.
    pub count: u64,
}

/// What the monitor counted about one election (the report's data).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ElectionReport {
    /// Title from the `election` statement.
    pub title: String,
    /// Accepted entries per statement type.
    pub counts: BTreeMap<String, u64>,
    /// Ballots per hour (hour = Unix seconds / 3600).
    pub ballots_per_hour: BTreeMap<i64, u64>,
    /// Reissues per channel, per hour.
    pub reissues_per_hour: BTreeMap<String, BTreeMap<i64, u64>>,
    /// Lifecycle events, in log order.
    pub timeline: Vec<TimelineEvent>,
    /// Ballots per scrutin.
    #[serde(default)]
    pub ballots_per_scrutin: BTreeMap<String, u64>,
    /// The voter count of the roll the election sealed, if any (turnout, burst share).
    #[serde(default)]
    pub electorate: Option<u64>,
    /// Reissues per channel and stated reason.
    #[serde(default)]
    pub reissues_by_reason: BTreeMap<String, BTreeMap<String, u64>>,
    /// The bursts of reissues, in log order.
    #[serde(default)]
    pub bursts: Vec<Burst>,
    /// Hours (starts, Unix seconds) the ballot-rate alarm was raised for.
    #[serde(default)]
    pub rate_alerted: Vec<i64>,
    /// Entries the rules refuse.
    pub violations: u64,
}

/// Settings of the pattern detectors.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detectors {
    /// Tolerated clock skew between statements, seconds, for elections sealed before
    /// tolerances were (rules 1; must match the log's); the others are judged with
    /// the tolerance they sealed.
    pub tolerance_secs: i64,
    /// Alert when an election has more reissues than this within any 60 minutes
    /// (a sliding window, not the calendar hour).
    pub burst_per_hour: u64,
    /// Alert on a ballot cast this many minutes or less after a helpdesk reissue.
    pub reissue_vote_minutes: i64,
}

/// A recent helpdesk issue of a credential.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HelpdeskIssue {
    /// The election (credential tags are per election).
    #[serde(default)]
    pub election: String,
    /// The credential.
    pub credential: Tag,
    /// Its voter.
    pub voter: Tag,
    /// Time of issue (Unix seconds).
    pub time: i64,
    /// Leaf index of the issue.
    pub index: u64,
}

/// Length of the burst detector's sliding window, seconds.
const BURST_WINDOW_SECS: i64 = 3600;

/// The reissues of one election in the last 60 minutes of statement time, for the
/// burst detector: a window that slides with each reissue, so that a burst across two
/// calendar hours counts as one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ReissueWindow {
    /// (statement time, reissues at that second), sorted by time, all within the
    /// hour ending at the latest one: at most 3,600 items however large the burst.
    times: VecDeque<(i64, u64)>,
    /// The number of reissues in `times`.
    count: u64,
}

impl ReissueWindow {
    /// Adds a reissue at time `t` and returns (reissues in the window before, after).
    /// The window is the 60 minutes ending at the latest reissue time seen (times may
    /// go back by the rules' tolerance; a reissue older than the window is not
    /// counted).
    fn add(&mut self, t: i64) -> (u64, u64) {
        let latest = self.times.back().map_or(t, |&(b, _)| b.max(t));
        let floor = latest - BURST_WINDOW_SECS;
        while let Some(&(f, n)) = self.times.front() {
            if f > floor {
                break;
            }
            self.times.pop_front();
            self.count -= n;
        }
        let before = self.count;
        if t > floor {
            let at = self.times.partition_point(|&(x, _)| x < t);
            match self.times.get_mut(at) {
                Some((x, n)) if *x == t => *n += 1,
                _ => self.times.insert(at, (t, 1)),
            }
            self.count += 1;
        }
        (before, self.count)
    }

    /// The earliest reissue time in the window.
    fn first(&self) -> Option<i64> {
        self.times.front().map(|&(t, _)| t)
    }
}

/// An election's signing keys, board quorum and rules version, as its `election`
/// statement sets them.
type Keys = (Vec<(Role, VerifierKey)>, u32, u32);

/// The auditor's state: everything needed to go on from `compact.size()`.
#[derive(Default)]
pub struct Auditor {
    /// The rule state (in memory for `verify`, on disk for `monitor`).
    pub state: RuleState,
    /// The tree so far.
    pub compact: CompactRange,
    /// Per-election report data.
    pub reports: BTreeMap<String, ElectionReport>,
    /// Recent helpdesk issues by (election, credential), for reissue-then-vote;
    /// pruned once no ballot can come within the window after them.
    pub helpdesk: HashMap<(String, Tag), HelpdeskIssue>,
    /// The reissues of the last hour, per election (burst detector).
    pub bursts: BTreeMap<String, ReissueWindow>,
    /// Statements checked in this process (for speed figures).
    pub checked: u64,
    /// How signatures are checked: in batches (the default), or each alone
    /// (`monitor --verify-each`).
    pub mode: Mode,
    /// Keys of every election whose seal the rules **accepted** (a cache of the rule
    /// state, for checking signatures in parallel). A refused seal never enters it:
    /// it would make the keys of a forged seal check the statements of a real
    /// election sealed later with the same id.
    authorities: HashMap<String, Keys>,
    /// The leaf index of every seal the rules accepted in this process, by election:
    /// a signature checked ahead with a seal's keys before the rules judged that
    /// seal counts only if it is this one ([`Preparer`]).
    sealed: HashMap<String, u64>,
}

/// Rebuilds the authorities cache from the rule state.
fn authorities_of(state: &RuleState) -> Res<HashMap<String, Keys>> {
    Ok(state
        .elections()
        .map_err(|e| Fail::new(Kind::Other, format!("reading the rule state: {e}")))?
        .into_iter()
        .map(|e| (e.id.clone(), (e.authorities, e.quorum, e.rules)))
        .collect())
}

/// Parse and signature outcome of one entry, computed in parallel.
enum Pre {
    Malformed(String),
    /// The statement, its signature check (`None`: left to the rules), and, when that
    /// check used the keys of a seal the rules had not judged yet, the index of that
    /// seal.
    Parsed(
        Box<SignedStatement>,
        Option<Result<Verified, Refusal>>,
        Option<u64>,
    ),
}

/// Parses entries and checks their signatures ahead of the rules, on every core,
/// possibly on another thread while the rules judge the batch before (the monitor's
/// pipeline: the signatures are most of an audit's work, the rules run in log order
/// on one core).
///
/// It knows the keys of every election the rules had accepted when it was made, and
/// the first seal it has seen since of each other election, a *candidate*: a
/// statement checked with a candidate's keys carries that seal's index, and
/// [`Auditor::apply`] keeps the check only if the rules accepted that very seal
/// (otherwise the rules check the signatures themselves, against the keys they hold).
pub struct Preparer {
    /// Election id → (the candidate seal's index, `None` for keys the rules had
    /// accepted; the keys).
    known: HashMap<String, (Option<u64>, Keys)>,
    /// Signatures in batches, or each alone.
    mode: Mode,
}

/// A batch of authenticated entries, parsed and with their signatures checked, ready
/// for [`Auditor::apply`].
pub struct Prepared {
    /// Leaf index of the first entry.
    pub first: u64,
    /// The entries.
    pub entries: Vec<Vec<u8>>,
    /// Their record hashes (computed once, by the download that authenticated them).
    pub leaves: Vec<Hash>,
    pres: Vec<Pre>,
}

impl Preparer {
    /// Parses `entries` (leaves `first..`) and checks their signatures.
    fn prepare(&mut self, first: u64, entries: &[Vec<u8>]) -> Vec<Pre> {
        let parsed: Vec<Result<SignedStatement, String>> = par_map(entries, |b| {
            SignedStatement::parse(b).map_err(|e| format!("{}: {e}", e.code()))
        });
        // The first seal of each election not known yet whose signatures verify (the
        // one the rules accept, unless they refuse it for another reason) becomes its
        // candidate. Seals are few: checked here, and again below with the others.
        for (i, r) in parsed.iter().enumerate() {
            if let Ok(
                s @ SignedStatement {
                    statement:
                        urne_client::statement::Statement {
                            election,
                            body: Body::Election(e),
                            ..
                        },
                    ..
                },
            ) = r
            {
                if self.known.contains_key(election) {
                    continue;
                }
                let keys = (e.authorities.clone(), e.quorum, rules::rules_of(e));
                if rules::verify_signatures_under(s, &keys.0, keys.1, keys.2).is_ok() {
                    self.known
                        .insert(election.clone(), (Some(first + i as u64), keys));
                }
            }
        }
        let known = &self.known;
        let mode = self.mode;
        // Each core takes a run of statements and checks their signatures together
        // (`signature_batch`: one multiscalar multiplication per batch, the verdict of
        // the single verification for each).
        par_chunks_owned(parsed, |chunk| {
            // Per statement: the keys it is checked with now, and the candidate seal
            // they come from.
            let mut from: Vec<Option<u64>> = vec![None; chunk.len()];
            let mut checks: Vec<StatementCheck<'_>> = Vec::with_capacity(chunk.len());
            let mut slot: Vec<usize> = Vec::with_capacity(chunk.len());
            for (i, r) in chunk.iter().enumerate() {
                let Ok(s) = r else { continue };
                let keys = match &s.statement.body {
                    // A seal is signed by the keys it seals.
                    Body::Election(e) => Some((&e.authorities[..], e.quorum, rules::rules_of(e))),
                    _ => known
                        .get(s.statement.election.as_str())
                        .map(|(f, (a, q, r))| {
                            from[i] = *f;
                            (&a[..], *q, *r)
                        }),
                };
                if let Some((authorities, quorum, rules)) = keys {
                    checks.push(StatementCheck {
                        statement: s,
                        authorities,
                        quorum,
                        rules,
                    });
                    slot.push(i);
                }
            }
            let mut verdicts: Vec<Option<Result<Verified, Refusal>>> = vec![None; chunk.len()];
            for (v, i) in signature_batch::verify_statements(&checks, mode)
                .into_iter()
                .zip(slot)
            {
                verdicts[i] = Some(v);
            }
            drop(checks);
            chunk
                .into_iter()
                .zip(verdicts)
                .zip(from)
                .map(|((r, v), from)| match r {
                    Err(m) => Pre::Malformed(m),
                    Ok(s) => Pre::Parsed(Box::new(s), v, from),
                })
                .collect()
        })
    }

    /// Parses and checks a downloaded batch.
    pub fn prepared(&mut self, first: u64, entries: Vec<Vec<u8>>, leaves: Vec<Hash>) -> Prepared {
        let pres = self.prepare(first, &entries);
        Prepared {
            first,
            entries,
            leaves,
            pres,
        }
    }
}

impl Auditor {
    /// Returns an auditor resuming from saved parts.
    ///
    /// # Errors
    /// [`Kind::Other`] if the rule state cannot be read.
    pub fn resume(
        state: RuleState,
        compact: CompactRange,
        reports: BTreeMap<String, ElectionReport>,
        helpdesk: Vec<HelpdeskIssue>,
        bursts: BTreeMap<String, ReissueWindow>,
    ) -> Res<Self> {
        let authorities = authorities_of(&state)?;
        Ok(Auditor {
            state,
            compact,
            reports,
            helpdesk: helpdesk
                .into_iter()
                .map(|h| ((h.election.clone(), h.credential), h))
                .collect(),
            bursts,
            checked: 0,
            mode: Mode::default(),
            authorities,
            sealed: HashMap::new(),
        })
    }

    /// Returns a [`Preparer`] for the entries after those judged so far.
    pub fn preparer(&self) -> Preparer {
        Preparer {
            known: self
                .authorities
                .iter()
                .map(|(id, keys)| (id.clone(), (None, keys.clone())))
                .collect(),
            mode: self.mode,
        }
    }

    /// Reports whether some election is open (for the stale-log alert).
    ///
    /// # Errors
    /// [`Kind::Other`] if the rule state cannot be read.
    pub fn any_open(&self) -> Res<bool> {
        Ok(self
            .state
            .elections()
            .map_err(|e| Fail::new(Kind::Other, format!("reading the rule state: {e}")))?
            .iter()
            .any(|e| e.phase == rules::Phase::Open))
    }

    /// Checks a batch of consecutive entries starting at leaf `first` (already
    /// authenticated against a checkpoint; `leaves`: their record hashes when the
    /// download computed them, so that each entry is hashed once) and returns the
    /// alerts they raise. Parsing and signatures run on every core; rules are
    /// applied in log order.
    ///
    /// # Errors
    /// [`Kind::Other`] if the rule state cannot be read: a failing disk is not a
    /// rule violation of the log, and the batch must be audited again.
    pub fn process(
        &mut self,
        first: u64,
        entries: &[Vec<u8>],
        leaves: Option<&[Hash]>,
        det: &Detectors,
    ) -> Res<Vec<Alert>> {
        let leaves = match leaves {
            Some(l) => l.to_vec(),
            None => par_map(entries, |b| tree::record_hash(b)),
        };
        let pres = self.preparer().prepare(first, entries);
        self.judge(first, entries, &leaves, pres, det)
    }

    /// Judges a batch a [`Preparer`] made (the rules, in log order, and the tree) and
    /// returns the alerts it raises.
    ///
    /// # Errors
    /// As [`Auditor::process`].
    pub fn apply(&mut self, p: Prepared, det: &Detectors) -> Res<Vec<Alert>> {
        self.judge(p.first, &p.entries, &p.leaves, p.pres, det)
    }

    fn judge(
        &mut self,
        first: u64,
        entries: &[Vec<u8>],
        leaves: &[Hash],
        pres: Vec<Pre>,
        det: &Detectors,
    ) -> Res<Vec<Alert>> {
        // In order: the tree and the rules.
        let mut alerts = Vec::new();
        for (i, (pre, bytes)) in pres.into_iter().zip(entries).enumerate() {
            let index = first + i as u64;
            self.compact.append(leaves[i]);
            self.checked += 1;
            match pre {
                Pre::Malformed(m) => {
                    let mut a = Alert::new(
                        "rule_violation",
                        "critical",
                        format!("entry {index} is not a valid signed statement ({m}): the log should have refused it"),
                    );
                    a.index = Some(index);
                    a.evidence = Some(serde_json::json!({
                        "entry": String::from_utf8_lossy(bytes),
                        "code": m.split(':').next().unwrap_or("malformed"),
                    }));
                    alerts.push(a);
                }
                Pre::Parsed(s, v, from) => {
                    // A check made with a candidate seal's keys counts only if the
                    // rules accepted that very seal; otherwise the rules check the
                    // signatures themselves against the keys they hold.
                    let v = match from {
                        Some(seal) if self.sealed.get(&s.statement.election) != Some(&seal) => None,
                        _ => v,
                    };
                    let ctx = Context {
                        index,
                        now: None,
                        tolerance_secs: det.tolerance_secs,
                        max_tolerance_secs: None,
                    };
                    let res = match &v {
                        Some(Err(r)) => Err(r.clone()),
                        Some(Ok(ver)) => rules::check(&self.state, &s, Some(ver), &ctx),
                        None => rules::check(&self.state, &s, None, &ctx),
                    };
                    match res {
                        Err(r) if r.code == RefusalCode::StateUnavailable => {
                            return Err(Fail::new(
                                Kind::Other,
                                format!("entry {index}: the monitor's rule state: {}", r.detail),
                            ));
                        }
                        Ok(effects) => {
                            let reissue = effects.reissue;
                            self.state.put(effects.writes);
                            if let Body::Election(e) = &s.statement.body {
                                let id = &s.statement.election;
                                self.authorities.insert(
                                    id.clone(),
                                    (e.authorities.clone(), e.quorum, rules::rules_of(e)),
                                );
                                self.sealed.insert(id.clone(), index);
                            }
                            self.observe(index, &s, det, reissue, &mut alerts);
                        }
                        Err(r) => {
                            let st = &s.statement;
                            self.reports
                                .entry(st.election.clone())
                                .or_default()
                                .violations += 1;
                            let mut a = Alert::new(
                                "rule_violation",
                                "critical",
                                format!(
                                    "entry {index} ({} of {}) breaks the election rules: {} ({}); the log should have refused it",
                                    st.statement_type(),
                                    st.election,
                                    r.code.as_str(),
                                    r.detail
                                ),
                            )
                            .at(&st.election, index, st.time);
                            a.evidence = Some(serde_json::json!({
                                "code": r.code.as_str(),
                                "detail": r.detail,
                                "entry": String::from_utf8_lossy(bytes),
                            }));
                            alerts.push(a);
                        }
                    }
                }
            }
        }
        self.prune_helpdesk(det);
        Ok(alerts)
    }

    /// Forgets the helpdesk issues no ballot can still follow within the
    /// reissue-then-vote window: the rules accept a statement of an election only if
    /// it is at most `tolerance` seconds before the latest one, so a later ballot is at
    /// least `last_time - tolerance`. Keeps the monitor's memory bounded by the issues
    /// of the last window, not by every reissue of the election.
    fn prune_helpdesk(&mut self, det: &Detectors) {
        let window = det.reissue_vote_minutes.max(0).saturating_mul(60);
        let state = &self.state;
        // Per election: its latest time, and how far back a statement of it may be
        // dated (its sealed tolerance, or the one given for rules-1 elections).
        let mut last: HashMap<String, Option<(i64, i64)>> = HashMap::new();
        self.helpdesk.retain(|(election, _), h| {
            let latest = *last.entry(election.clone()).or_insert_with(|| {
                match rules::StateView::get(state, &StateKey::Election(election.clone())) {
                    Ok(Some(StateValue::Election(e))) => Some((
                        e.last_time.0,
                        window.saturating_add(e.tolerance(det.tolerance_secs).max(0)),
                    )),
                    // Unreadable now: kept (the next batch fails on the same read).
                    Err(_) => Some((i64::MIN, 0)),
                    _ => None,
                }
            });
            // No such election: no ballot of it can ever be accepted.
            latest.is_some_and(|(l, reach)| h.time >= l.saturating_sub(reach))
        });
    }

    /// Counts an accepted statement and runs the pattern detectors on it. `reissue` is
    /// the rules' verdict (a credential for a voter who had one): the detectors count
    /// facts, never the statement's own label.
    fn observe(
        &mut self,
        index: u64,
        s: &SignedStatement,
        det: &Detectors,
        reissue: bool,
        out: &mut Vec<Alert>,
    ) {
        let st = &s.statement;
        let id = &st.election;
        let ty = st.statement_type().as_str();
        let t = st.time.0;
        let hour = t.div_euclid(3600);
        let rep = self.reports.entry(id.clone()).or_default();
        *rep.counts.entry(ty.to_string()).or_default() += 1;
        let event = |detail: String, facts: EventFacts, rep: &mut ElectionReport| {
            rep.timeline.push(TimelineEvent {
                index,
                time: t,
                kind: ty.to_string(),
                detail,
                facts,
            })
        };
        let said = |reason: &str| EventFacts {
            reason: Some(reason.to_string()),
            ..EventFacts::default()
        };
        match &st.body {
            Body::Election(e) => {
                rep.title = e.title.clone();
                rep.electorate = e.roll.as_ref().map(|(_, n)| *n);
                event(e.title.clone(), EventFacts::default(), rep);
            }
            Body::Open | Body::Close => event(String::new(), EventFacts::default(), rep),
            Body::Suspend { reason } | Body::Resume { reason } => {
                event(reason.clone(), said(reason), rep);
                let (kind, verb) = if matches!(st.body, Body::Suspend { .. }) {
                    ("suspension", "suspended")
                } else {
                    ("resumption", "resumed")
                };
                out.push(
                    Alert::new(
                        kind,
                        "info",
                        format!("election {id} {verb} at {}: {reason}", st.time),
                    )
                    .at(id, index, st.time),
                );
            }
            Body::Results {
                scrutin, ballots, ..
            } => event(
                format!("{scrutin}: {ballots} ballots"),
                EventFacts {
                    scrutin: Some(scrutin.clone()),
                    ballots: Some(*ballots),
                    ..EventFacts::default()
                },
                rep,
            ),
            Body::Intervention {
                actor,
                action,
                reason,
                reissues,
            } => event(
                match reissues {
                    Some(n) => format!("{actor}: {action} ({reason}; announces {n} reissues)"),
                    None => format!("{actor}: {action} ({reason})"),
                },
                EventFacts {
                    reason: Some(reason.clone()),
                    actor: Some(actor.clone()),
                    action: Some(action.clone()),
                    reissues: *reissues,
                    ..EventFacts::default()
                },
                rep,
            ),
            Body::Void { reason, .. } => event(reason.clone(), said(reason), rep),
            // A protocol's own event (a Belenios archive's): counted by type above;
            // only the setup and the result enter the timeline.
            Body::Event {
                protocol, event: e, ..
            } => {
                if matches!(e.as_str(), "Setup" | "Result") {
                    let what = format!("{protocol} {e}");
                    event(what.clone(), said(&what), rep);
                }
            }
            Body::Revoke { .. } => {}
            Body::Credential {
                voter,
                credential,
                channel,
                reason,
            } => {
                // Watched for a ballot soon after: a helpdesk issue, and any reissue
                // but the board-announced batch ones, whatever its label says.
                if det.reissue_vote_minutes >= 0
                    && urne_client::voter::watched_before_vote(*channel, *reason, reissue)
                {
                    self.helpdesk.insert(
                        (id.clone(), *credential),
                        HelpdeskIssue {
                            election: id.clone(),
                            credential: *credential,
                            voter: *voter,
                            time: t,
                            index,
                        },
                    );
                }
                if reissue {
                    *rep.reissues_per_hour
                        .entry(channel.as_str().to_string())
                        .or_default()
                        .entry(hour)
                        .or_default() += 1;
                    *rep.reissues_by_reason
                        .entry(channel.as_str().to_string())
                        .or_default()
                        .entry(reason.as_str().to_string())
                        .or_default() += 1;
                    let window = self.bursts.entry(id.clone()).or_default();
                    let (before, after) = window.add(t);
                    if before > det.burst_per_hour && after > det.burst_per_hour {
                        // Still within the burst alerted: counted in it.
                        if let Some(b) = rep.bursts.last_mut() {
                            b.to = t;
                            b.count += 1;
                        }
                    }
                    // Raised when the count crosses the bound; again only after the
                    // window has fallen back under it (a new burst).
                    if before <= det.burst_per_hour && after > det.burst_per_hour {
                        rep.bursts.push(Burst {
                            index,
                            from: window.first().unwrap_or(t),
                            to: t,
                            count: after,
                        });
                        out.push(
                            Alert::new(
                                "reissue_burst",
                                "warning",
                                format!(
                                    "election {id}: {after} credential reissues within one hour ({} to {}), more than {} (latest via {channel}, {reason})",
                                    Time(window.first().unwrap_or(t)),
                                    st.time,
                                    det.burst_per_hour,
                                ),
                            )
                            .at(id, index, st.time),
                        );
                    }
                }
            }
            Body::Ballot {
                scrutin,
                credential,
                receipt,
            } => {
                *rep.ballots_per_hour.entry(hour).or_default() += 1;
                *rep.ballots_per_scrutin.entry(scrutin.clone()).or_default() += 1;
                if let Some(h) = self.helpdesk.get(&(id.clone(), *credential)) {
                    let gap = t - h.time;
                    if gap <= det.reissue_vote_minutes * 60 {
                        out.push(
                            Alert::new(
                                "reissue_then_vote",
                                "warning",
                                format!(
                                    "election {id}: voter {} got a credential from the helpdesk at {} (entry {}) and it voted {} min later (entry {index}, receipt {receipt})",
                                    h.voter,
                                    Time(h.time),
                                    h.index,
                                    gap / 60
                                ),
                            )
                            .at(id, index, st.time),
                        );
                    }
                }
            }
        }
    }
}

/// Number of worker threads for signature checks.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16)
}

/// Maps `f` over `items` on every core, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = workers();
    if n == 1 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(n);
    std::thread::scope(|sc| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                let f = &f;
                sc.spawn(move || c.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Splits `items` into one run per core, maps each run with `f` on its own core and
/// concatenates the results, keeping the order.
fn par_chunks_owned<T: Send, R: Send>(
    items: Vec<T>,
    f: impl Fn(Vec<T>) -> Vec<R> + Sync,
) -> Vec<R> {
    let n = workers();
    if n == 1 || items.len() < 64 {
        return f(items);
    }
    let chunk = items.len().div_ceil(n);
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut it = items.into_iter().peekable();
    while it.peek().is_some() {
        parts.push(it.by_ref().take(chunk).collect());
    }
    std::thread::scope(|sc| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|c| {
                let f = &f;
                sc.spawn(move || f(c))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Downloads entries `start..end` of the tree of checkpoint `cp` through the entry
/// bundles, authenticates each one (its leaf hash must equal the one in the level-0
/// hash tile, itself verified up to `cp.root`), and hands them to `f` in batches of up
/// to `batch` bundles as `(first index, entries)`.
///
/// Downloading runs on its own thread, one batch ahead of `f`, so that the network
/// and the checks overlap.
///
/// # Errors
/// [`Kind::Network`] for transport errors; [`Kind::ProofFailed`] if a tile or an entry
/// does not match the checkpoint; `f`'s errors.
pub fn stream_entries(
    log: &Log,
    cp: &Checkpoint,
    start: u64,
    end: u64,
    batch: usize,
    mut f: impl FnMut(u64, Vec<Vec<u8>>) -> Res<()>,
) -> Res<()> {
    stream_leaves(log, cp, start, end, batch, |first, es, _| f(first, es))
}

/// [`stream_entries`], also handing `f` the record hash of each entry (computed once,
/// on every core, to authenticate it: the auditor's tree reuses it).
///
/// # Errors
/// As [`stream_entries`].
pub fn stream_leaves(
    log: &Log,
    cp: &Checkpoint,
    start: u64,
    end: u64,
    batch: usize,
    mut f: impl FnMut(u64, Vec<Vec<u8>>, Vec<Hash>) -> Res<()>,
) -> Res<()> {
    stream_mapped(
        log,
        cp,
        start,
        end,
        batch,
        |first, es, hs| (first, es, hs),
        |(first, es, hs)| f(first, es, hs),
    )
}

/// [`stream_leaves`], each batch also parsed and its signatures checked by `prep`
/// on the download's side, so that the signatures of the next batches are checked
/// while `f` judges this one ([`Auditor::apply`]).
///
/// # Errors
/// As [`stream_entries`].
pub fn stream_prepared(
    log: &Log,
    cp: &Checkpoint,
    start: u64,
    end: u64,
    batch: usize,
    mut prep: Preparer,
    f: impl FnMut(Prepared) -> Res<()>,
) -> Res<()> {
    stream_mapped(
        log,
        cp,
        start,
        end,
        batch,
        move |first, es, hs| prep.prepared(first, es, hs),
        f,
    )
}

/// Downloads and authenticates batches on a thread of their own, maps each with `map`
/// there, and hands the results to `f` in order on the calling thread.
fn stream_mapped<T: Send>(
    log: &Log,
    cp: &Checkpoint,
    start: u64,
    end: u64,
    batch: usize,
    mut map: impl FnMut(u64, Vec<Vec<u8>>, Vec<Hash>) -> T + Send,
    mut f: impl FnMut(T) -> Res<()>,
) -> Res<()> {
    std::thread::scope(|sc| {
        // Two batches in flight at most: bounded memory, and the producer stops at
        // its next send once the consumer has returned (the receiver is dropped).
        let (tx, rx) = std::sync::mpsc::sync_channel::<Res<T>>(2);
        sc.spawn(move || {
            let r = produce(log, cp, start, end, batch, |first, es, hs| {
                tx.send(Ok(map(first, es, hs)))
                    .map_err(|_| Fail::new(Kind::Other, "download stopped"))
            });
            if let Err(e) = r {
                let _ = tx.send(Err(e));
            }
        });
        for item in rx {
            f(item?)?;
        }
        Ok(())
    })
}

/// Fetches and authenticates entries for [`stream_entries`], on the calling thread.
fn produce(
    log: &Log,
    cp: &Checkpoint,
    start: u64,
    end: u64,
    batch: usize,
    mut f: impl FnMut(u64, Vec<Vec<u8>>, Vec<Hash>) -> Res<()>,
) -> Res<()> {
    if start >= end {
        return Ok(());
    }
    let fetcher = HttpTiles::new(log);
    let verifier = TileHashVerifier::new(cp.size, cp.root, &fetcher)
        .map_err(|e| Fail::new(Kind::ProofFailed, format!("tree of size {}: {e}", cp.size)))?;
    let first_bundle = start / TILE_WIDTH;
    let last_bundle = (end - 1) / TILE_WIDTH;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    // The leaf hash each pending entry must have, from the verified hash tiles.
    let mut want: Vec<Hash> = Vec::new();
    let mut pending_first = start;
    for k in first_bundle..=last_bundle {
        let width = (cp.size - k * TILE_WIDTH).min(TILE_WIDTH) as u16;
        let bundle = TileId::new(TileKind::Entries, k, width)
            .map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let bytes = log.tile(bundle)?;
        let entries = decode_entry_bundle_for(bundle, &bytes).map_err(|e| {
            Fail::new(
                Kind::ProofFailed,
                format!("entry bundle {}: {e}", bundle.path()),
            )
        })?;
        let leaf_tile = TileId::new(TileKind::Hash { level: 0 }, k, width)
            .map_err(|e| Fail::new(Kind::Other, e.to_string()))?;
        let leaves = verifier.verified_tile(leaf_tile).map_err(|e| {
            let kind = if fetcher.last_error.borrow().is_some() {
                Kind::Network
            } else {
                Kind::ProofFailed
            };
            Fail::new(
                kind,
                format!(
                    "hash tile {} does not verify against the checkpoint of size {}: {e}",
                    leaf_tile.path(),
                    cp.size
                ),
            )
        })?;
        for (j, e) in entries.into_iter().enumerate() {
            let index = k * TILE_WIDTH + j as u64;
            if index < start || index >= end {
                continue;
            }
            let mut h = [0u8; 32];
            h.copy_from_slice(leaves.get(j * 32..j * 32 + 32).ok_or_else(|| {
                Fail::new(
                    Kind::ProofFailed,
                    format!("hash tile {} is short", leaf_tile.path()),
                )
            })?);
            want.push(Hash(h));
            pending.push(e);
        }
        if ((k - first_bundle + 1) as usize).is_multiple_of(batch) || k == last_bundle {
            // Hashed on every core, once: the auditor appends these to its tree.
            let got = par_map(&pending, |e| tree::record_hash(e));
            if let Some(j) = (0..got.len()).find(|&j| got[j] != want[j]) {
                return Err(Fail::new(
                    Kind::ProofFailed,
                    format!(
                        "entry {} served by the log is not the one its checkpoint of size {} commits to",
                        pending_first + j as u64,
                        cp.size
                    ),
                ));
            }
            want.clear();
            let n = pending.len() as u64;
            f(pending_first, std::mem::take(&mut pending), got)?;
            pending_first += n;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Auditor, Detectors, ReissueWindow};
    use urne_client::note::SignerKey;
    use urne_client::statement::{
        Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
    };

    /// The monitor's pipeline prepares the next batches (signatures checked with the
    /// keys of a seal the rules have not judged yet) before the rules judge the one
    /// before: its verdicts must be those of an audit that judges each batch before
    /// preparing the next.
    #[test]
    fn signatures_checked_ahead_give_the_verdicts_of_a_sequential_audit() {
        let k = |n: &str, b: u8| SignerKey::from_seed(n, [b; 32]).unwrap();
        let board = [k("president", 1), k("delegue-a", 2)];
        let registrar = k("registrar", 4);
        // The registrar's name, another key.
        let outsider = k("registrar", 9);
        let t0 = 1_796_119_203;
        let st = |dt: i64, body: Body| Statement {
            election: "cse".into(),
            time: Time(t0 + dt),
            body,
        };
        let seal = st(
            0,
            Body::Election(ElectionBody {
                title: "CSE".into(),
                scrutins: vec!["s1".into()],
                authorities: vec![
                    (Role::Board, board[0].verifier().clone()),
                    (Role::Board, board[1].verifier().clone()),
                    (Role::Registrar, registrar.verifier().clone()),
                ],
                quorum: 2,
                opens: Time(t0),
                closes: Time(t0 + 10_000),
                tolerance: Some(300),
                grace: None,
                revote: Default::default(),
                roll: None,
            }),
        )
        .sign(&[&board[0], &board[1]])
        .unwrap();
        let cred = |dt: i64, v: u8, by: &SignerKey| {
            st(
                dt,
                Body::Credential {
                    voter: Tag([v; 32]),
                    credential: Tag([v; 32]),
                    channel: Channel::Mail,
                    reason: CredentialReason::Initial,
                },
            )
            .sign(&[by])
            .unwrap()
            .into_bytes()
        };
        let batches: Vec<Vec<Vec<u8>>> = vec![
            vec![seal.into_bytes(), cred(1, 1, &registrar)],
            vec![
                cred(2, 2, &registrar),
                cred(3, 3, &outsider),
                cred(4, 3, &registrar),
                b"not a statement".to_vec(),
            ],
        ];
        let det = Detectors {
            tolerance_secs: 300,
            burst_per_hour: u64::MAX,
            reissue_vote_minutes: -1,
        };
        let verdicts = |alerts: Vec<super::Alert>| -> Vec<(Option<u64>, String)> {
            alerts
                .into_iter()
                .map(|a| (a.index, format!("{}: {}", a.kind, a.message)))
                .collect()
        };
        // Sequential: each batch judged before the next is parsed.
        let mut seq = Auditor::default();
        let mut want = Vec::new();
        let mut first = 0;
        for b in &batches {
            want.extend(verdicts(seq.process(first, b, None, &det).unwrap()));
            first += b.len() as u64;
        }
        // Pipelined: both batches prepared before the rules judge the first.
        let mut piped = Auditor::default();
        let mut prep = piped.preparer();
        let leaves = |b: &[Vec<u8>]| -> Vec<_> {
            b.iter()
                .map(|e| urne_client::tree::record_hash(e))
                .collect()
        };
        let p1 = prep.prepared(0, batches[0].clone(), leaves(&batches[0]));
        let p2 = prep.prepared(2, batches[1].clone(), leaves(&batches[1]));
        let mut got = verdicts(piped.apply(p1, &det).unwrap());
        got.extend(verdicts(piped.apply(p2, &det).unwrap()));
        // The outsider's credential and the junk are refused, nothing else.
        assert_eq!(
            got.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [Some(3), Some(5)],
            "{got:?}"
        );
        assert!(got[0].1.contains("breaks the election rules"), "{got:?}");
        assert_eq!(got, want);
        assert_eq!(piped.compact.root(), seq.compact.root());
        let state = |a: &Auditor| match &a.state {
            crate::store::RuleState::Memory(m) => m.clone(),
            crate::store::RuleState::Disk(_) => unreachable!("in memory"),
        };
        assert_eq!(state(&piped), state(&seq));
        assert_eq!(
            state(&piped).len(),
            2 + 3 * 3,
            "election and its seal, 3 credentials"
        );
    }

    #[test]
    fn reissue_window_slides_over_sixty_minutes() {
        let mut w = ReissueWindow::default();
        assert_eq!(w.add(1_000), (0, 1));
        assert_eq!(w.add(1_000), (1, 2), "same second, counted twice");
        assert_eq!(w.add(4_599), (2, 3), "3,599 s later: same window");
        // 3,600 s after the first ones: they leave the window.
        assert_eq!(w.add(4_600), (1, 2));
        assert_eq!(w.first(), Some(4_599));
        // A time that goes back (within the rules' tolerance) still counts…
        assert_eq!(w.add(4_500), (2, 3));
        assert_eq!(w.first(), Some(4_500));
        // …but not one older than the window.
        assert_eq!(w.add(900), (3, 3));
        assert_eq!(w.add(20_000), (0, 1), "a new hour, a new count");
    }
}
