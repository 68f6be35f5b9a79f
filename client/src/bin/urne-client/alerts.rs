//! `urne-client alerts`: every entry about a voter tag, each proved in the log.
//!
//! Owns: the voter's view: credentials issued (channel, reason), revocations, ballots
//! cast with any of the voter's credentials, each verified by its inclusion proof in a
//! checkpoint consistent with what was seen before; `--follow` polls and delivers each
//! new entry. Does not own: the HTTP lookups' trust (nothing the log says is believed
//! unproved).

use crate::fail::{Fail, Kind, Res};
use crate::http::Log;
use crate::notify::Sinks;
use crate::trust::{check_and_remember, check_consistent, parse_hashes, LogArgs};
use clap::Args;
use std::collections::HashSet;
use std::time::Duration;
use urne_client::checkpoint::SignedCheckpoint;
use urne_client::statement::{Body, SignedStatement, Tag};
use urne_client::tree;

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
}

/// One proved entry about the voter.
fn describe(index: u64, s: &SignedStatement) -> String {
    let st = &s.statement;
    let what = match &st.body {
        Body::Credential {
            credential,
            channel,
            reason,
            ..
        } => {
            format!("credential {credential} issued via {channel} ({reason})")
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

/// Fetches and proves every entry about `voter` against a checkpoint consistent with
/// `current`; returns (checkpoint, entries).
fn fetch(
    log: &Log,
    a: &AlertsArgs,
    trust: &crate::trust::Trust,
    current: &SignedCheckpoint,
) -> Res<(SignedCheckpoint, Vec<(u64, SignedStatement)>)> {
    let v = log
        .get_json(&format!("v1/voters/{}", a.voter))?
        .unwrap_or_else(|| serde_json::json!({"entries": [], "checkpoint": current.note}));
    let note = v["checkpoint"]
        .as_str()
        .unwrap_or(&current.note)
        .to_string();
    let cp = trust.open(&note)?;
    if cp.checkpoint.size >= current.checkpoint.size {
        check_consistent(log, current, &cp)?;
    } else {
        check_consistent(log, &cp, current)?;
    }
    let mut creds: HashSet<Tag> = HashSet::new();
    let mut out = Vec::new();
    let empty = Vec::new();
    for e in v["entries"].as_array().unwrap_or(&empty) {
        let bad = |m: String| Fail::new(Kind::ProofFailed, format!("PROOF FAILED: {m}"));
        let index = e["index"]
            .as_u64()
            .ok_or_else(|| bad("an entry has no index".into()))?;
        let bytes = e["entry"]
            .as_str()
            .ok_or_else(|| bad(format!("entry {index} has no bytes")))?
            .as_bytes();
        let proof =
            parse_hashes(&e["inclusion_proof"]).map_err(|m| bad(format!("entry {index}: {m}")))?;
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
        let s =
            SignedStatement::parse(bytes).map_err(|err| bad(format!("entry {index}: {err}")))?;
        let about = match &s.statement.body {
            Body::Credential {
                voter, credential, ..
            } if *voter == a.voter => {
                creds.insert(*credential);
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
        out.push((index, s));
    }
    Ok((cp, out))
}

fn entry_json(index: u64, s: &SignedStatement, voter: &Tag) -> serde_json::Value {
    let st = &s.statement;
    let mut v = serde_json::json!({
        "kind": "voter_entry",
        "voter": voter.to_string(),
        "index": index,
        "type": st.statement_type().as_str(),
        "election": st.election,
        "time": st.time.to_string(),
        "message": describe(index, s),
    });
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

/// Runs `alerts`; returns only on error or (without --follow) when done.
///
/// # Errors
/// A [`Fail`] whose kind gives the exit code; [`Kind::NotFound`] when no entry is
/// about the voter (without --follow).
pub fn run(a: &AlertsArgs) -> Res<()> {
    let trust = a.log.trust()?;
    let log = Log::new(&a.log.log);
    let sinks = Sinks {
        exec: a.exec.clone(),
        webhook: a.webhook.clone(),
    };
    let mut current = trust.open(&log.checkpoint()?)?;
    check_and_remember(&log, &trust, &current)?;
    crate::peers::check(&log, &trust, &current, &a.log.peers)?;
    // The highest index already printed; `None` before the first listing.
    let mut shown: Option<u64> = None;
    loop {
        if shown.is_some() {
            std::thread::sleep(Duration::from_secs(a.interval));
            // A log that cannot be reached is reported and polled again; a log that
            // contradicts itself ends the watch with its evidence.
            let next = match log.checkpoint().and_then(|n| trust.open(&n)) {
                Ok(n) => n,
                Err(f) if f.kind == Kind::Network => {
                    eprintln!("urne-client: {f}");
                    continue;
                }
                Err(f) => return Err(f),
            };
            check_consistent(&log, &current, &next)?;
            check_and_remember(&log, &trust, &next)?;
            crate::peers::check(&log, &trust, &next, &a.log.peers)?;
            current = next;
        }
        let (cp, entries) = match fetch(&log, a, &trust, &current) {
            Ok(x) => x,
            Err(f) if f.kind == Kind::Network && shown.is_some() => {
                eprintln!("urne-client: {f}");
                continue;
            }
            Err(f) => return Err(f),
        };
        for (index, s) in &entries {
            if shown.is_some_and(|m| *index <= m) {
                continue;
            }
            let v = entry_json(*index, s, &a.voter);
            if a.json {
                println!("{v}");
            } else {
                println!("{}", describe(*index, s));
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
        let max = entries.iter().map(|(i, _)| *i).max().unwrap_or(0);
        shown = Some(max.max(shown.unwrap_or(0)));
        if cp.checkpoint.size > current.checkpoint.size {
            current = cp;
        }
    }
}
