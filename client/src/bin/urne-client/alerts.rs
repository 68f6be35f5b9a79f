//! `urne-client alerts`: every entry about a voter tag, each proved in the log.
//!
//! Owns: the voter's view: credentials issued (channel, reason), revocations, ballots
//! cast with any of the voter's credentials, each verified by its inclusion proof in a
//! checkpoint consistent with what was seen before, each with its meaning (a helpdesk,
//! batch or other reissue, a revocation, a ballot soon after a reissue are warnings,
//! worded as the web page words them: [`urne_client::voter`]); `--follow` polls and
//! delivers each new entry. Does not own: the HTTP lookups' trust (nothing the log
//! says is believed unproved).

use crate::fail::{Fail, Kind, Res};
use crate::http::Log;
use crate::notify::Sinks;
use crate::trust::{check_consistent, LogArgs};
use clap::Args;
use std::collections::HashSet;
use std::time::Duration;
use urne_client::api::{hashes_from_base64, VoterPage};
use urne_client::checkpoint::SignedCheckpoint;
use urne_client::consistency::Shown;
use urne_client::statement::{Body, SignedStatement, Tag};
use urne_client::tree;
use urne_client::voter::{self, HistoryEntry, Read, What};

/// Arguments of `alerts`.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// Your voter tag (64 hex digits), as the registrar gave it to you.
    #[arg(long)]
    pub voter: Tag,
    /// Keep watching and report each new entry as it appears.
    #[arg(long)]
    pub follow: bool,
    /// Seconds between two polls with --follow.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// With --follow, run this shell command per new entry (alert JSON in $URNE_ALERT
    /// and on standard input).
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// With --follow, POST each new entry as JSON to this URL.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Print JSON lines instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// Only entries of this election (default: every election of the log).
    #[arg(long)]
    pub election: Option<String>,
}

/// One proved entry about the voter; `reissue`: a credential for a voter who already
/// had one in that election (said as such whatever its stated reason).
fn describe(index: u64, s: &SignedStatement, reissue: bool) -> String {
    let st = &s.statement;
    let what = match &st.body {
        Body::Credential {
            credential,
            channel,
            reason,
            ..
        } => {
            let labelled_initial = *reason == urne_client::statement::CredentialReason::Initial;
            match (reissue, labelled_initial) {
                (true, true) => format!(
                    "credential {credential} REISSUED via {channel} (labelled initial: the voter already had one)"
                ),
                (true, false) => format!("credential {credential} reissued via {channel} ({reason})"),
                (false, _) => format!("credential {credential} issued via {channel} ({reason})"),
            }
        }
        Body::Revoke { credential, reason } => {
            format!("credential {credential} revoked ({reason})")
        }
        Body::Ballot {
            scrutin,
            credential,
            receipt,
        } => format!(
            "ballot cast in scrutin {scrutin} with credential {credential} (receipt {receipt})"
        ),
        _ => format!("{} statement", st.statement_type()),
    };
    format!("{} #{index} [{}] {what}", st.time, st.election)
}

/// A proved entry about the voter: its index, the statement, and whether it is a
/// reissue (a credential for a voter who already had one in that election).
type Proved = (u64, SignedStatement, bool);

/// Fetches and proves every entry about `voter` against checkpoints consistent with
/// `current`, following the log's pages (`next`) to the end; returns (the largest
/// checkpoint seen, entries with the rules' reissue fact). A log that does not say
/// where its list ends, or whose pages go backwards, fails: a partial history is
/// never shown as complete.
fn fetch(
    log: &Log,
    a: &AlertsArgs,
    trust: &crate::trust::Trust,
    current: &SignedCheckpoint,
) -> Res<(SignedCheckpoint, Vec<Proved>)> {
    let bad = |m: String| Fail::new(Kind::ProofFailed, format!("PROOF FAILED: {m}"));
    let incomplete = |m: String| {
        Fail::new(
            Kind::ProofFailed,
            format!("INCOMPLETE: {m}: the voter's history cannot be shown as complete"),
        )
    };
    let mut creds: HashSet<Tag> = HashSet::new();
    // Voters with a credential, per election: a second credential is a reissue,
    // whatever its stated reason (the rules' own definition).
    let mut issued: HashSet<(String, Tag)> = HashSet::new();
    let mut out = Vec::new();
    let mut best = current.clone();
    let mut cursor: u64 = 0;
    loop {
        let mut path = format!("v1/voters/{}?cursor={cursor}", a.voter);
        if let Some(e) = &a.election {
            path.push_str(&format!("&election={e}"));
        }
        let page: VoterPage = match log.get_json(&path)? {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| bad(format!("the log's page of entries is malformed: {e}")))?,
            None => VoterPage {
                tree_size: current.checkpoint.size,
                checkpoint: current.note.clone(),
                election: a.election.clone(),
                entries: Vec::new(),
                next: Some(None),
            },
        };
        // Consistency first, on the log's signature: a page's checkpoint that
        // contradicts the one held is the log's lie whatever the witnesses say.
        let cp = trust.open_log_only(&page.checkpoint)?;
        check_consistent(log, trust, &best, &cp, Shown::Elsewhere(log.base()))?;
        let cp = trust.open(&page.checkpoint)?;
        for e in &page.entries {
            let index = e.index;
            if index < cursor || out.last().is_some_and(|(i, _, _)| *i >= index) {
                return Err(incomplete(format!(
                    "the log lists entry {index} out of order (page from {cursor})"
                )));
            }
            let bytes = e.entry.as_bytes();
            let proof = hashes_from_base64(&e.inclusion_proof)
                .map_err(|m| bad(format!("entry {index}: {m}")))?;
            tree::verify_inclusion(
                index,
                cp.checkpoint.size,
                &tree::record_hash(bytes),
                &proof,
                &cp.checkpoint.root,
            )
            .map_err(|err| {
                bad(format!(
                    "the inclusion proof of entry {index} does not verify ({err})"
                ))
            })?;
            let s = SignedStatement::parse(bytes)
                .map_err(|err| bad(format!("entry {index}: {err}")))?;
            if a.election
                .as_ref()
                .is_some_and(|e| *e != s.statement.election)
            {
                return Err(bad(format!(
                    "the log lists entry {index} of election {} for election {}",
                    s.statement.election,
                    a.election.as_deref().unwrap_or_default()
                )));
            }
            let mut reissue = false;
            let about = match &s.statement.body {
                Body::Credential {
                    voter, credential, ..
                } if *voter == a.voter => {
                    creds.insert(*credential);
                    reissue = !issued.insert((s.statement.election.clone(), *voter));
                    true
                }
                Body::Revoke { credential, .. } | Body::Ballot { credential, .. } => {
                    creds.contains(credential)
                }
                _ => false,
            };
            if !about {
                return Err(bad(format!(
                    "the log lists entry {index}, which is not about voter {}",
                    a.voter
                )));
            }
            out.push((index, s, reissue));
        }
        if cp.checkpoint.size > best.checkpoint.size {
            best = cp;
        }
        match page.next {
            Some(None) => return Ok((best, out)),
            Some(Some(next)) => {
                if next <= cursor {
                    return Err(incomplete(format!(
                        "the log's next page ({next}) does not move past {cursor}"
                    )));
                }
                cursor = next;
            }
            None => {
                return Err(incomplete(
                    "the log does not say whether its list of entries is complete (no `next`)"
                        .into(),
                ))
            }
        }
    }
}

/// The part of a proved entry its meaning is read from (`None`: not a voter's entry).
fn history_entry(index: u64, s: &SignedStatement, reissue: bool) -> Option<HistoryEntry> {
    let what = match &s.statement.body {
        Body::Credential {
            credential,
            channel,
            reason,
            ..
        } => What::Credential {
            credential: *credential,
            channel: *channel,
            reason: *reason,
            reissue,
        },
        Body::Revoke { credential, reason } => What::Revoke {
            credential: *credential,
            reason: reason.clone(),
        },
        Body::Ballot {
            scrutin,
            credential,
            ..
        } => What::Ballot {
            credential: *credential,
            scrutin: scrutin.clone(),
        },
        _ => return None,
    };
    Some(HistoryEntry {
        index,
        time: s.statement.time,
        what,
    })
}

/// Reads the voter's history (in log order): each entry's meaning and, for a warning,
/// its French words.
fn meanings(entries: &[Proved]) -> Vec<Option<(Read, Option<String>)>> {
    let history: Vec<HistoryEntry> = entries
        .iter()
        .filter_map(|(i, s, r)| history_entry(*i, s, *r))
        .collect();
    let reads = voter::read(&history);
    entries
        .iter()
        .map(|(i, _, _)| {
            let at = history.iter().position(|h| h.index == *i)?;
            let words = reads[at].french(&history[at]);
            Some((reads[at].clone(), words))
        })
        .collect()
}

fn entry_json(
    index: u64,
    s: &SignedStatement,
    reissue: bool,
    voter: &Tag,
    meaning: Option<&(Read, Option<String>)>,
) -> serde_json::Value {
    let st = &s.statement;
    let (kind, severity) = meaning.map_or(("voter_entry", "info"), |(r, _)| {
        (r.meaning.as_str(), r.meaning.severity())
    });
    let mut v = serde_json::json!({
        "kind": kind,
        "severity": severity,
        "voter": voter.to_string(),
        "index": index,
        "type": st.statement_type().as_str(),
        "election": st.election,
        "time": st.time.to_string(),
        "message": describe(index, s, reissue),
    });
    if let Some((r, words)) = meaning {
        if let Some(w) = words {
            v["warning"] = w.clone().into();
        }
        if let (Some(m), Some(a)) = (r.minutes, r.after) {
            v["minutes"] = m.into();
            v["after"] = a.into();
        }
    }
    match &st.body {
        Body::Credential {
            credential,
            channel,
            reason,
            ..
        } => {
            v["credential"] = credential.to_string().into();
            v["channel"] = channel.as_str().into();
            v["reason"] = reason.as_str().into();
            v["reissue"] = reissue.into();
        }
        Body::Revoke { credential, reason } => {
            v["credential"] = credential.to_string().into();
            v["reason"] = reason.clone().into();
        }
        Body::Ballot {
            scrutin,
            credential,
            receipt,
        } => {
            v["credential"] = credential.to_string().into();
            v["scrutin"] = scrutin.clone().into();
            v["receipt"] = receipt.to_string().into();
        }
        _ => {}
    }
    v
}

/// Delivers a rollback, fork or split view to the `--follow` hooks (`--exec`,
/// `--webhook`) as a critical alert, before the run ends with it (exit 4). Any
/// other failure is returned untouched.
fn hook(sinks: &Sinks, a: &AlertsArgs, f: Fail) -> Fail {
    if f.kind == Kind::Inconsistent && a.follow {
        let kind = f
            .evidence
            .as_ref()
            .and_then(|e| e["kind"].as_str())
            .unwrap_or("equivocation")
            .to_string();
        let v = serde_json::json!({
            "kind": kind,
            "severity": "critical",
            "voter": a.voter.to_string(),
            "message": f.msg,
            "evidence": f.evidence,
        });
        if a.json {
            println!("{v}");
        }
        sinks.deliver(&v);
    }
    f
}

/// Runs `alerts`; returns only on error or (without --follow) when done.
///
/// # Errors
/// A [`Fail`] whose kind gives the exit code; [`Kind::NotFound`] when no entry is
/// about the voter (without --follow).
pub fn run(a: &AlertsArgs) -> Res<()> {
    let trust = a.log.trust()?;
    let log = Log::new(a.log.url());
    let sinks = Sinks {
        exec: a.exec.clone(),
        webhook: a.webhook.clone(),
    };
    // A rollback or fork is decided before the quorum (`trust::current`), so that it
    // ends the run with exit 4 and its evidence, not a "quorum not met".
    let first = crate::trust::current(&log, &trust).map_err(|f| hook(&sinks, a, f))?;
    let mut current = first.witnessed()?.clone();
    crate::peers::check(&log, &trust, &current, &a.log.peers).map_err(|f| hook(&sinks, a, f))?;
    // The highest index already printed; `None` before the first listing.
    let mut shown: Option<u64> = None;
    loop {
        if shown.is_some() {
            std::thread::sleep(Duration::from_secs(a.interval));
            // A log that cannot be reached, or whose new checkpoint lacks the witness
            // quorum, is reported and polled again; a log that contradicts itself runs
            // the hooks and ends the watch with its evidence (exit 4).
            let next = match crate::trust::current(&log, &trust) {
                Ok(n) => n,
                Err(f) if f.kind == Kind::Network => {
                    eprintln!("urne-client: {f}");
                    continue;
                }
                Err(f) => return Err(hook(&sinks, a, f)),
            };
            let next = match next.witnessed() {
                Ok(n) => n.clone(),
                Err(f) => {
                    eprintln!("urne-client: {f}");
                    continue;
                }
            };
            check_consistent(&log, &trust, &current, &next, Shown::ByLog(log.base()))
                .map_err(|f| hook(&sinks, a, f))?;
            crate::peers::check(&log, &trust, &next, &a.log.peers)
                .map_err(|f| hook(&sinks, a, f))?;
            current = next;
        }
        let (cp, entries) = match fetch(&log, a, &trust, &current) {
            Ok(x) => x,
            Err(f) if f.kind == Kind::Network && shown.is_some() => {
                eprintln!("urne-client: {f}");
                continue;
            }
            Err(f) => return Err(hook(&sinks, a, f)),
        };
        let read = meanings(&entries);
        for ((index, s, reissue), m) in entries.iter().zip(&read) {
            if shown.is_some_and(|m| *index <= m) {
                continue;
            }
            let v = entry_json(*index, s, *reissue, &a.voter, m.as_ref());
            if a.json {
                println!("{v}");
            } else {
                println!("{}", describe(*index, s, *reissue));
                if let Some((r, Some(w))) = m {
                    println!("  WARNING ({}): {w}", r.meaning.as_str());
                }
            }
            // The first listing is history; each later entry is news.
            if shown.is_some() {
                sinks.deliver(&v);
            }
        }
        if shown.is_none() && !a.json {
            println!(
                "{} entries about voter {}, each proved in the log {} (checkpoint of {} entries).",
                entries.len(),
                a.voter,
                trust.log_key.name(),
                cp.checkpoint.size
            );
        }
        if !a.follow {
            if entries.is_empty() {
                return Err(Fail::new(
                    Kind::NotFound,
                    format!("NOT FOUND: no entry about voter {} in the log", a.voter),
                ));
            }
            return Ok(());
        }
        // Entry 0 is always an `election` statement, never about a voter, so 0 is a
        // safe "nothing yet".
        let max = entries.iter().map(|(i, _, _)| *i).max().unwrap_or(0);
        shown = Some(max.max(shown.unwrap_or(0)));
        if cp.checkpoint.size > current.checkpoint.size {
            current = cp;
        }
    }
}
