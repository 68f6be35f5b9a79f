//! `urne-client verify`: a voter's check of a ballot receipt.
//!
//! Owns: reading the receipt (a receipt code, the JSON answer of `POST /v1/statements`
//! or `GET /v1/receipts/<code>`, or a C2SP tlog-proof file), proving the ballot is in
//! the log, that the log still shows a tree that extends the one the voter saw before,
//! and (unless `--no-audit`) that the election rules allowed the ballot when it was
//! appended. Does not own: the proofs (library), the remembered checkpoints
//! (`trust.rs`), the rule replay (`engine.rs`), `--offline` (`offline.rs`).

use crate::engine::{stream_entries, stream_leaves, Auditor, Detectors};
use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use crate::store::Scratch;
use crate::trust::{check_consistent, LogArgs, Trust};
use clap::Args;
use urne_client::api::{hashes_from_base64, InclusionAnswer, ReceiptAnswer, SubmitAnswer};
use urne_client::checkpoint::{SignedCheckpoint, TlogProof, TLOG_PROOF_HEADER};
use urne_client::consistency::Shown;
use urne_client::statement::{Body, SignedStatement, Tag};
use urne_client::tree::{self, Hash};

/// Arguments of `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub log: LogArgs,
    /// The receipt code you were given: 64 hex digits, or the voting system's base64
    /// tracker (Belenios: 43 characters, may start with `/`). Anything that reads as
    /// a code is a code, never a file name; give a file with `--file`. (A receipt file
    /// given here, not reading as a code, is still read, as before.)
    #[arg(required_unless_present = "file")]
    pub receipt: Option<String>,
    /// A receipt file: the JSON answer of the log, or a C2SP tlog-proof
    /// (`c2sp.org/tlog-proof@v1`).
    #[arg(long, value_name = "PATH", conflicts_with = "receipt")]
    pub file: Option<std::path::PathBuf>,
    /// Skip re-checking the election rules for the entries up to your ballot (faster
    /// on a large log; you then trust the log to have applied them).
    #[arg(long)]
    pub no_audit: bool,
    /// Tolerated clock skew between statements, seconds, when re-checking the rules
    /// [default: the log's, as its /v1/log announces; 300 if it does not say].
    #[arg(long, value_name = "SECS")]
    pub tolerance: Option<i64>,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    pub json: bool,
    /// Check a receipt file (C2SP tlog-proof carrying its entry) with no network: the
    /// log's signature, the witness policy given, the inclusion proof, the ballot.
    /// Says what it could not check without the log. --log is not needed.
    #[arg(long)]
    pub offline: bool,
}

/// What a receipt gives before anything is checked.
struct Claim {
    code: Option<Tag>,
    index: u64,
    entry: Option<Vec<u8>>,
    leaf_hash: Option<Hash>,
    proof: Vec<Hash>,
    checkpoint: String,
    /// The log's answer about a later ballot superseding this one (`revote last`),
    /// when the claim is the log's live answer; checked before it is believed.
    superseded_by: Option<Option<serde_json::Value>>,
}

fn read_claim(arg: &str, log: &Log, file: bool) -> Res<Claim> {
    if let (false, Ok((code, _))) = (file, urne_client::receipt::parse(arg)) {
        let v = log
            .get_json(&format!("v1/receipts/{code}"))?
            .ok_or_else(|| {
                Fail::new(
                    Kind::NotFound,
                    format!(
                        "NOT FOUND: the log {} holds no ballot with receipt {code}",
                        log.base()
                    ),
                )
            })?;
        let a: ReceiptAnswer = serde_json::from_value(v).map_err(|e| {
            Fail::new(
                Kind::ProofFailed,
                format!("the log's receipt answer is malformed: {e}"),
            )
        })?;
        // Under `revote last`, the log names the ballot that supersedes this one.
        let next = a
            .superseded_by
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Fail::new(Kind::Other, format!("superseded_by: {e}")))?;
        let mut c = claim_from_receipt(a, Some(code))?;
        c.superseded_by = Some(next);
        return Ok(c);
    }
    let bytes = std::fs::read(arg).map_err(ctx(
        Kind::Other,
        format!("{arg:?} is neither a receipt code (64 hex digits or a base64 tracker) nor a readable file"),
    ))?;
    if bytes.starts_with(TLOG_PROOF_HEADER.as_bytes()) {
        let p = TlogProof::parse(&bytes).map_err(ctx(Kind::ProofFailed, arg.to_string()))?;
        return Ok(Claim {
            code: None,
            index: p.index,
            entry: p.entry().map(<[u8]>::to_vec),
            leaf_hash: None,
            proof: p.proof,
            checkpoint: p.checkpoint,
            superseded_by: None,
        });
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(ctx(
        Kind::Other,
        format!("{arg} is neither JSON nor a C2SP tlog-proof"),
    ))?;
    // The JSON answer of `GET /v1/receipts/<code>`, or of `POST /v1/statements`.
    if let Ok(a) = serde_json::from_value::<ReceiptAnswer>(v.clone()) {
        let code = a.receipt.parse::<Tag>().ok();
        return claim_from_receipt(a, code);
    }
    let a: SubmitAnswer = serde_json::from_value(v).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!("receipt {arg}: neither the log's receipt nor its answer to a ballot: {e}"),
        )
    })?;
    Ok(Claim {
        code: None,
        index: a.index,
        entry: None,
        leaf_hash: Some(leaf_hash(&a.leaf_hash)?),
        proof: proof_hashes(&a.inclusion_proof)?,
        checkpoint: a.checkpoint,
        superseded_by: None,
    })
}

fn bad_receipt(m: &str) -> Fail {
    Fail::new(Kind::ProofFailed, format!("receipt: {m}"))
}

fn leaf_hash(h: &str) -> Res<Hash> {
    tree::hash_from_hex(h).map_err(|e| bad_receipt(&format!("leaf_hash: {e}")))
}

fn proof_hashes(p: &[String]) -> Res<Vec<Hash>> {
    hashes_from_base64(p).map_err(|m| bad_receipt(&format!("inclusion_proof: {m}")))
}

fn claim_from_receipt(a: ReceiptAnswer, code: Option<Tag>) -> Res<Claim> {
    Ok(Claim {
        code,
        index: a.entry.index,
        leaf_hash: Some(leaf_hash(&a.entry.leaf_hash)?),
        proof: proof_hashes(&a.entry.inclusion_proof)?,
        entry: Some(a.entry.entry.into_bytes()),
        checkpoint: a.checkpoint,
        superseded_by: None,
    })
}

/// A later ballot of the same voter that supersedes the one verified (`revote last`).
struct Superseding {
    index: u64,
    receipt: Tag,
    time: String,
    same_credential: bool,
}

/// Checks the log's word that the ballot at `index` was superseded: the later entry
/// is proved in the witnessed checkpoint `current`, is a ballot of the same election
/// and scrutin, after it. `answer` is the log's `superseded_by` (fetched here when
/// the receipt came from a file).
fn check_superseded(
    log: &Log,
    current: &SignedCheckpoint,
    index: u64,
    ballot: &urne_client::statement::Statement,
    answer: Option<Option<serde_json::Value>>,
) -> Res<Option<Superseding>> {
    let Body::Ballot {
        scrutin,
        credential,
        receipt,
    } = &ballot.body
    else {
        return Ok(None);
    };
    let answer = match answer {
        Some(a) => a,
        None => match log.get_json(&format!("v1/receipts/{receipt}"))? {
            Some(v) => v.get("superseded_by").filter(|x| !x.is_null()).cloned(),
            None => None,
        },
    };
    let Some(v) = answer else { return Ok(None) };
    let bad = |m: String| {
        Fail::new(
            Kind::ProofFailed,
            format!("PROOF FAILED: the log says a later ballot supersedes yours, but {m}"),
        )
    };
    let later = v["index"]
        .as_u64()
        .ok_or_else(|| bad("its answer has no index".into()))?;
    let entry = v["entry"]
        .as_str()
        .ok_or_else(|| bad("its answer has no entry".into()))?;
    let stmt = SignedStatement::parse(entry.as_bytes())
        .map_err(|e| bad(format!("entry {later} is not a signed statement ({e})")))?;
    let st = &stmt.statement;
    let Body::Ballot {
        scrutin: s2,
        credential: c2,
        receipt: r2,
    } = &st.body
    else {
        return Err(bad(format!("entry {later} is not a ballot")));
    };
    if st.election != ballot.election || s2 != scrutin || later <= index {
        return Err(bad(format!(
            "entry {later} is not a later ballot of election {} scrutin {scrutin}",
            ballot.election
        )));
    }
    prove_in_current(log, current, later, &tree::record_hash(entry.as_bytes()))?;
    Ok(Some(Superseding {
        index: later,
        receipt: *r2,
        time: st.time.to_string(),
        same_credential: c2 == credential,
    }))
}

/// Fetches entry `index` through the tiles, authenticated against `cp`.
fn fetch_entry(log: &Log, cp: &SignedCheckpoint, index: u64) -> Res<Vec<u8>> {
    let mut out = None;
    stream_entries(log, &cp.checkpoint, index, index + 1, 1, |_, mut es| {
        out = es.pop();
        Ok(())
    })?;
    out.ok_or_else(|| Fail::new(Kind::NotFound, format!("entry {index} is not in the log")))
}

/// Proves leaf `index` (hash `leaf`) in the current checkpoint, with a proof fetched
/// from the log and checked here.
///
/// # Errors
/// [`Kind::ProofFailed`] if the current checkpoint does not cover the entry yet or the
/// proof does not verify; [`Kind::Network`].
fn prove_in_current(log: &Log, current: &SignedCheckpoint, index: u64, leaf: &Hash) -> Res<()> {
    let size = current.checkpoint.size;
    if index >= size {
        return Err(Fail::new(
            Kind::ProofFailed,
            format!(
                "NOT YET WITNESSED: your receipt's checkpoint lacks the witnesses' cosignatures, and the latest cosigned checkpoint ({size} entries) does not cover entry {index} yet; try again in a minute"
            ),
        ));
    }
    let v = log
        .get_json(&format!("v1/proof/inclusion?index={index}&size={size}"))?
        .ok_or_else(|| {
            Fail::new(
                Kind::ProofFailed,
                format!("the log has no inclusion proof for entry {index} in its tree of {size} entries"),
            )
        })?;
    let a: InclusionAnswer = serde_json::from_value(v).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!("the log's inclusion proof answer is malformed: {e}"),
        )
    })?;
    let proof = hashes_from_base64(&a.inclusion_proof)
        .map_err(|m| Fail::new(Kind::ProofFailed, format!("inclusion proof: {m}")))?;
    tree::verify_inclusion(index, size, leaf, &proof, &current.checkpoint.root).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!(
                "PROOF FAILED: the inclusion proof of entry {index} does not lead to the witnessed root of the tree of {size} entries ({e})"
            ),
        )
    })
}

/// Runs `verify`; returns the success sentence and JSON.
///
/// # Errors
/// A [`Fail`] whose kind gives the exit code.
pub fn run(a: &VerifyArgs) -> Res<(String, serde_json::Value)> {
    if a.offline {
        return crate::offline::run(a);
    }
    let trust: Trust = a.log.trust()?;
    let log = Log::new(a.log.url());
    // The log's current checkpoint first, decided on the log's signature against the
    // one remembered: a rollback must be reported as such (exit 4), even when it
    // removed the very receipt asked for, and even when the witnesses refused to
    // cosign the rolled-back tree (they do: that is their job).
    let now = crate::trust::current(&log, &trust)?;
    let continuity = &now.continuity;
    let peers = crate::peers::check(&log, &trust, &now.checkpoint, &a.log.peers)?;
    let claim = match (&a.file, &a.receipt) {
        (Some(f), _) => read_claim(&f.to_string_lossy(), &log, true)?,
        (None, Some(r)) => read_claim(r, &log, false)?,
        (None, None) => return Err(Fail::new(Kind::Other, "a receipt code or --file PATH")),
    };
    // A receipt is handed out the moment its batch is durable, before witnesses
    // cosign: its checkpoint must be signed by the log, and the witness policy is then
    // met by a later checkpoint that includes the ballot (proved below).
    let (receipt_cp, receipt_cosigned) = match trust.open(&claim.checkpoint) {
        Ok(cp) => (cp, true),
        Err(f) => match trust.open_log_only(&claim.checkpoint) {
            Ok(cp) => (cp, false),
            Err(_) => return Err(f),
        },
    };
    // The receipt's checkpoint is one the voter held, and the two must be one
    // history. Not `ByLog`: the log's served checkpoint (the last one the witnesses
    // cosigned) may lag behind a fresh receipt's, so a smaller one must be proved a
    // prefix, which a rolled-back log cannot do.
    check_consistent(
        &log,
        &trust,
        &receipt_cp,
        &now.checkpoint,
        Shown::Elsewhere(log.base()),
    )?;
    // Only now the quorum: consistency is the log's own word, the quorum is trust.
    let current = now.witnessed()?.clone();
    let newer = if receipt_cp.checkpoint.size <= current.checkpoint.size {
        &current
    } else {
        &receipt_cp
    };
    let cp = &receipt_cp.checkpoint;
    if claim.index >= cp.size {
        return Err(Fail::new(
            Kind::ProofFailed,
            format!(
                "receipt index {} is beyond its checkpoint of {} entries",
                claim.index, cp.size
            ),
        ));
    }
    let entry = match claim.entry {
        Some(e) => e,
        None => fetch_entry(&log, &receipt_cp, claim.index)?,
    };
    let leaf = tree::record_hash(&entry);
    if let Some(h) = claim.leaf_hash {
        if h != leaf {
            return Err(Fail::new(
                Kind::ProofFailed,
                format!(
                    "PROOF FAILED: the entry's hash is not the leaf hash {} of the receipt",
                    tree::hash_to_hex(&h)
                ),
            ));
        }
    }
    tree::verify_inclusion(claim.index, cp.size, &leaf, &claim.proof, &cp.root).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!(
                "PROOF FAILED: the inclusion proof of entry {} does not lead to the signed root of the tree of {} entries ({e})",
                claim.index, cp.size
            ),
        )
    })?;
    // The checkpoint the proof is reported against: the receipt's own, or (when that
    // one lacks the witnesses' cosignatures) the current one, which met the policy.
    let proved_cp = if receipt_cosigned {
        &receipt_cp
    } else {
        prove_in_current(&log, &current, claim.index, &leaf)?;
        &current
    };
    let stmt = SignedStatement::parse(&entry).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!(
                "PROOF FAILED: entry {} is not a signed statement: {e}",
                claim.index
            ),
        )
    })?;
    let st = &stmt.statement;
    let Body::Ballot {
        scrutin, receipt, ..
    } = &st.body
    else {
        return Err(Fail::new(
            Kind::ProofFailed,
            format!(
                "PROOF FAILED: entry {} is a {} statement, not a ballot",
                claim.index,
                st.statement_type()
            ),
        ));
    };
    if let Some(code) = claim.code {
        if code != *receipt {
            return Err(Fail::new(
                Kind::ProofFailed,
                format!(
                    "PROOF FAILED: entry {} is the ballot with receipt {receipt}, not {code}",
                    claim.index
                ),
            ));
        }
    }
    let mut audited = None;
    if !a.no_audit {
        let det = Detectors {
            tolerance_secs: log.rules_tolerance(a.tolerance),
            burst_per_hour: u64::MAX,
            reissue_vote_minutes: -1,
        };
        let mut aud = Auditor::default();
        // The rule state goes to a scratch store on disk (removed after): a voter's
        // laptop checks a national log in bounded memory. In memory if the system's
        // temporary directory cannot hold it.
        let _scratch = match Scratch::open() {
            Some((scratch, state)) => {
                aud.state = state;
                Some(scratch)
            }
            None => None,
        };
        let mut own = None;
        stream_leaves(
            &log,
            &newer.checkpoint,
            0,
            claim.index + 1,
            16,
            |first, es, hs| {
                for al in aud.process(first, &es, Some(&hs), &det)? {
                    if al.kind == "rule_violation" && al.index == Some(claim.index) {
                        own = Some(al);
                    }
                }
                aud.state.flush().map_err(|e| {
                    Fail::new(Kind::Other, format!("the audit's scratch rule state: {e}"))
                })
            },
        )?;
        if let Some(al) = own {
            let ev = al.evidence.clone().unwrap_or_default();
            return Err(Fail::new(
                Kind::RuleViolation,
                format!(
                    "RULE VIOLATION: your ballot (receipt {receipt}) is in the log at index {}, but the election rules forbid it: {} ({}). The log should have refused it; tell the electoral board.",
                    claim.index,
                    ev["code"].as_str().unwrap_or("?"),
                    ev["detail"].as_str().unwrap_or("?"),
                ),
            )
            .with_evidence(serde_json::json!({"alert": al})));
        }
        audited = Some(aud.checked);
    }
    let superseded = check_superseded(&log, &current, claim.index, st, claim.superseded_by)?;
    let witnesses = proved_cp.cosigners.len();
    let mut s = String::new();
    if let Some(sup) = &superseded {
        s.push_str(&format!(
            "SUPERSEDED: a later ballot (receipt {}, cast {}, entry {}{}) supersedes this one: under this election's `revote last` the later ballot counts, this one stays in the log, not counted; if you did not vote again, tell the electoral board. ",
            sup.receipt,
            sup.time,
            sup.index,
            if sup.same_credential { "" } else { ", with another credential of the same voter" }
        ));
    }
    s.push_str(&format!(
        "OK: your ballot with receipt {receipt} is in the log {} at index {} (election {}, scrutin {scrutin}, cast {}): its inclusion proof verifies against the checkpoint of {} entries signed by the log",
        trust.log_key.name(), claim.index, st.election, st.time, proved_cp.checkpoint.size
    ));
    if witnesses > 0 {
        s.push_str(&format!(" and cosigned by {witnesses} witness(es)"));
    }
    match continuity.previous {
        Some(p) => s.push_str(&format!(
            ", and the log's current tree of {} entries extends the tree of {p} entries you saw before",
            current.checkpoint.size
        )),
        None => s.push_str(&format!(
            "; first run for this log: its checkpoint of {} entries is remembered",
            current.checkpoint.size
        )),
    }
    if let Some(n) = audited {
        s.push_str(&format!(
            "; the election rules were re-checked on all {n} entries up to yours"
        ));
    }
    if !peers.is_empty() {
        let agree = peers.iter().filter(|p| p.unreachable.is_none()).count();
        s.push_str(&format!(
            "; {agree} of {} peer(s) hold checkpoints of this log consistent with it",
            peers.len()
        ));
        for p in peers.iter().filter(|p| p.unreachable.is_some()) {
            s.push_str(&format!(
                " ({} could not be checked: {})",
                p.peer,
                p.unreachable.as_deref().unwrap_or_default()
            ));
        }
    }
    s.push('.');
    let json = serde_json::json!({
        "ok": true,
        "receipt": receipt.to_string(),
        "index": claim.index,
        "election": st.election,
        "scrutin": scrutin,
        "time": st.time.to_string(),
        "tree_size": proved_cp.checkpoint.size,
        "current_tree_size": current.checkpoint.size,
        "previous_tree_size": continuity.previous,
        "cosignatures": witnesses,
        "audited_entries": audited,
        "checkpoint": proved_cp.note,
        "peers": peers,
        "superseded_by": superseded.as_ref().map(|s| serde_json::json!({
            "index": s.index,
            "receipt": s.receipt.to_string(),
            "time": s.time,
            "same_credential": s.same_credential,
        })),
    });
    Ok((s, json))
}
