//! `urne-client verify --offline`: a receipt file checked with no network at all.
//!
//! Owns: what an urne receipt (a C2SP tlog-proof whose `extra` line is the entry
//! itself) proves without the log: the checkpoint is signed by the log key (and
//! cosigned as the witness policy asks), the entry is at its index in that tree, it is
//! a ballot with that receipt code; and it is not contradicted by the checkpoint this
//! machine remembers for the log, when that needs no proof (same size: two roots for
//! one size is a fork, exit 4). Says what it could not check without the log:
//! consistency with later checkpoints (a rollback or fork after the receipt), that the
//! ballot's signer is an authority of the election, the election rules.
//! Does not own: the formats (library: [`TlogProof`], [`urne_client::consistency`]).

use crate::fail::{ctx, Fail, Kind, Res};
use crate::trust::{conflict_fail, remembered};
use crate::verify::VerifyArgs;
use urne_client::checkpoint::{TlogProof, TLOG_PROOF_HEADER};
use urne_client::consistency::{self, Decision, Shown};
use urne_client::statement::{Body, SignedStatement};
use urne_client::tree;

/// What an offline check cannot establish, as named in `--json` (`not_checked`).
const NOT_CHECKED: [(&str, &str); 3] = [
    (
        "consistency_with_later_checkpoints",
        "that the log still shows a tree extending this one (a later rollback or fork would erase the ballot: run `verify` online, with --peer, to check)",
    ),
    (
        "authority_signature",
        "that the ballot is signed by the voting platform of the election (its keys are in the election statement, in the log)",
    ),
    (
        "election_rules",
        "that the election rules allowed the ballot when it was appended",
    ),
];

/// Runs `verify --offline FILE`; returns the sentence and JSON.
///
/// # Errors
/// [`Kind::ProofFailed`] for a receipt that does not verify (not signed by the log
/// key, witness policy not met, proof or entry altered, not a ballot, no entry);
/// [`Kind::Inconsistent`] if it contradicts the remembered checkpoint;
/// [`Kind::Other`] for a file that is not a tlog-proof or options that need the log.
pub fn run(a: &VerifyArgs) -> Res<(String, serde_json::Value)> {
    if !a.log.peers.is_empty() {
        return Err(Fail::new(
            Kind::Other,
            "--offline asks no one: --peer needs the network",
        ));
    }
    let trust = a.log.trust()?;
    // Offline, only a file can be checked: the positional argument is its path (as
    // `--file`), since a bare code needs the log to find its ballot.
    let Some(path) = a.file.clone().or_else(|| a.receipt.clone().map(Into::into)) else {
        return Err(Fail::new(Kind::Other, "--offline takes a receipt file"));
    };
    let shown = path.display().to_string();
    let bytes = std::fs::read(&path).map_err(ctx(
        Kind::Other,
        format!(
            "--offline takes a receipt file (C2SP tlog-proof); reading {:?}",
            shown
        ),
    ))?;
    if !bytes.starts_with(TLOG_PROOF_HEADER.as_bytes()) {
        return Err(Fail::new(
            Kind::Other,
            format!(
                "{} is not a C2SP tlog-proof (first line {TLOG_PROOF_HEADER}): only such a receipt is checked offline",
                shown
            ),
        ));
    }
    let bad = |m: String| Fail::new(Kind::ProofFailed, format!("PROOF FAILED: {m}"));
    let p = TlogProof::parse(&bytes).map_err(|e| bad(format!("{}: {e}", shown)))?;
    let entry = p.entry().ok_or_else(|| {
        bad(format!(
            "{} carries no entry (no `extra` line): which entry it proves can only be learnt from the log; verify it online",
            shown
        ))
    })?;
    // The log's signature first: a receipt the log did not sign proves nothing.
    let cp = trust.open_log_only(&p.checkpoint)?;
    let size = cp.checkpoint.size;
    tree::verify_inclusion(
        p.index,
        size,
        &tree::record_hash(entry),
        &p.proof,
        &cp.checkpoint.root,
    )
    .map_err(|e| {
        bad(format!(
            "the receipt's entry is not at index {} of the tree of {size} entries the log signed ({e}): the receipt was altered",
            p.index
        ))
    })?;
    let stmt = SignedStatement::parse(entry).map_err(|e| {
        bad(format!(
            "the receipt's entry is not a signed statement: {e}"
        ))
    })?;
    let st = &stmt.statement;
    let Body::Ballot {
        scrutin, receipt, ..
    } = &st.body
    else {
        return Err(bad(format!(
            "the receipt's entry is a {} statement, not a ballot",
            st.statement_type()
        )));
    };
    // What this machine remembers of the log: a contradiction that needs no proof
    // (two roots for one size, the size-0 rule) is decided here, by the one decision.
    let (_, held) = remembered(&trust)?;
    let mut checked_against = None;
    if let Some(h) = &held {
        let source = format!("receipt {}", shown);
        let shown = Shown::Elsewhere(&source);
        if consistency::proof_needed(&h.checkpoint, &cp.checkpoint, shown).is_none() {
            let d = consistency::decide(&trust.policy, Some(h), &p.checkpoint, shown, |_, _| {
                Ok::<_, Fail>(None)
            })
            .map_err(|e| bad(e.to_string()))?;
            if let Decision::Conflict(c) = d {
                return Err(conflict_fail(&c));
            }
            checked_against = Some(h.checkpoint.size);
        }
    }
    // Then the witnesses, as the policy given asks.
    let cosigned = match trust.open(&p.checkpoint) {
        Ok(w) => w.cosigners.len(),
        Err(f) => {
            return Err(Fail::new(
                Kind::ProofFailed,
                format!(
                    "NOT WITNESSED: the ballot is in the tree of {size} entries signed by the log, but this receipt's checkpoint does not meet the witness policy you gave ({}); verify online to prove it in a checkpoint the witnesses cosigned",
                    f.msg
                ),
            ))
        }
    };
    let mut s = format!(
        "OK (offline, nothing asked to anyone): your ballot with receipt {receipt} is entry {} of the log {} (election {}, scrutin {scrutin}, cast {}): its inclusion proof verifies against the checkpoint of {size} entries signed by the log",
        p.index,
        trust.log_key.name(),
        st.election,
        st.time
    );
    if cosigned > 0 {
        s.push_str(&format!(" and cosigned by {cosigned} witness(es)"));
    }
    match (checked_against, &held) {
        (Some(n), _) => s.push_str(&format!(
            ", which agrees with the checkpoint of {n} entries remembered on this machine"
        )),
        (None, Some(h)) => s.push_str(&format!(
            "; its consistency with the checkpoint of {} entries remembered on this machine needs a proof from the log",
            h.checkpoint.size
        )),
        (None, None) => {}
    }
    s.push_str(". Not checked without the log: ");
    s.push_str(
        &NOT_CHECKED
            .iter()
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join("; "),
    );
    s.push('.');
    let json = serde_json::json!({
        "ok": true,
        "offline": true,
        "receipt": receipt.to_string(),
        "index": p.index,
        "election": st.election,
        "scrutin": scrutin,
        "time": st.time.to_string(),
        "tree_size": size,
        "cosignatures": cosigned,
        "remembered_tree_size": held.as_ref().map(|h| h.checkpoint.size),
        "consistent_with_remembered": checked_against.is_some(),
        "checkpoint": p.checkpoint,
        "not_checked": NOT_CHECKED.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
    });
    Ok((s, json))
}
