//! `urne-client statement submit` and `statement batch`: statements posted to a log,
//! each answer verified before it counts.
//!
//! Owns: posting, retrying what a log asks to retry (503 pushback, a dropped
//! connection), the receipt files, the batch journal (signed statements written to
//! disk before any is sent, so that a batch resumed after a crash re-sends the same
//! texts: duplicates, never second copies), the progress bar and the summary.
//! Does not own: what a valid answer is: the receipt is a C2SP tlog-proof opened with
//! the library ([`TlogProof::verify`]: log signature, origin, RFC 9162 inclusion),
//! and an answer "already logged" is proved by reading the earlier entry through the
//! tiles and comparing its signed text (`SignedStatement::text_hash`).

use crate::author::read_statement_file;
use crate::engine::stream_entries;
use crate::fail::{Fail, Kind, Res};
use crate::http::Log;
use crate::trust::{LogArgs, Trust};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;
use urne_client::api::{ErrorBody, SubmitAnswer};
use urne_client::checkpoint::{TlogProof, WitnessPolicy};
use urne_client::rules::Refusal;
use urne_client::statement::SignedStatement;
use urne_client::tree;

/// What the log answered, once verified.
#[derive(Debug)]
pub enum Outcome {
    /// Appended now at `index`.
    Appended(u64, TlogProof),
    /// Its signed text was already entry `index`.
    Duplicate(u64, TlogProof),
    /// Refused, with the stable code and detail.
    Refused(u16, String, String),
}

/// How many times a statement is sent again after pushback or a transport error.
const RETRIES: u32 = 5;

/// Posts one statement and verifies the answer. Retries 503 (pushback, storage
/// briefly unavailable) and transport errors with a growing pause: a statement sent
/// twice is the same statement, answered as a duplicate.
///
/// # Errors
/// [`Kind::ProofFailed`] if an answer does not verify; [`Kind::Network`] when the
/// retries are spent.
pub fn submit_one(log: &Log, trust: &Trust, stmt: &SignedStatement) -> Res<Outcome> {
    let mut pause = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = log.post_statement(&stmt.bytes);
        let retry = match &r {
            Err(f) if f.kind == Kind::Network => true,
            Ok(a) => a.status == 503,
            Err(_) => false,
        };
        if retry && attempt <= RETRIES {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(5));
            continue;
        }
        let a = r?;
        return check_answer(log, trust, stmt, a.status, &a.body);
    }
}

/// Verifies one answer of `POST /v1/statements`.
fn check_answer(
    log: &Log,
    trust: &Trust,
    stmt: &SignedStatement,
    status: u16,
    body: &[u8],
) -> Res<Outcome> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        Fail::new(
            Kind::Network,
            format!(
                "the log answered HTTP {status} without JSON: {}",
                String::from_utf8_lossy(body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ),
        )
    })?;
    if !(200..300).contains(&status) {
        let ErrorBody {
            error: code,
            detail,
        } = serde_json::from_value(v).unwrap_or_else(|_| ErrorBody {
            error: "unknown".into(),
            detail: String::new(),
        });
        // A 5xx judged nothing (queue full, state or storage unavailable): not a
        // refusal to record, a failure to retry later with the same bytes.
        if status >= 500 {
            return Err(Fail::new(
                Kind::Network,
                format!("the log answered HTTP {status} {code}: {detail} (still, after retries)"),
            ));
        }
        return Ok(Outcome::Refused(status, code, detail));
    }
    let bad = |m: String| Fail::new(Kind::ProofFailed, format!("PROOF FAILED: {m}"));
    let answer: SubmitAnswer =
        serde_json::from_value(v).map_err(|e| bad(format!("the answer is malformed: {e}")))?;
    let proof = TlogProof::parse(answer.tlog_proof.as_bytes())
        .map_err(|e| bad(format!("tlog_proof: {e}")))?;
    if answer.index != proof.index {
        return Err(bad("the answer's index is not its receipt's".into()));
    }
    let duplicate = answer.duplicate;
    // A duplicate's entry is the earlier copy, whose signature lines may differ:
    // read it through the tiles (authenticated against the receipt's checkpoint) and
    // compare signed texts.
    let entry = if duplicate {
        let cp = trust.open_log_only(&proof.checkpoint)?;
        let mut e = None;
        stream_entries(
            log,
            &cp.checkpoint,
            proof.index,
            proof.index + 1,
            1,
            |_, mut es| {
                e = es.pop();
                Ok(())
            },
        )?;
        let e = e.ok_or_else(|| bad(format!("entry {} missing", proof.index)))?;
        let logged = SignedStatement::parse(&e)
            .map_err(|err| bad(format!("entry {} is not a statement: {err}", proof.index)))?;
        if logged.text_hash() != stmt.text_hash() {
            return Err(bad(format!(
                "the log says this statement is entry {}, which holds another text",
                proof.index
            )));
        }
        e
    } else {
        stmt.bytes.clone()
    };
    // Log signature, origin and inclusion, with the library's verifier. Witness
    // cosignatures come later (a receipt is handed out once durable): `verify` checks
    // them against a later checkpoint.
    proof
        .verify(
            &tree::record_hash(&entry),
            &trust.log_key,
            &WitnessPolicy::none(),
        )
        .map_err(|e| {
            bad(format!(
                "the receipt of entry {} does not verify: {e}",
                proof.index
            ))
        })?;
    Ok(if duplicate {
        Outcome::Duplicate(proof.index, proof)
    } else {
        Outcome::Appended(proof.index, proof)
    })
}

// ---------------------------------------------------------------------------------------
// statement submit
// ---------------------------------------------------------------------------------------

/// The log a statement goes to. Only the log key: a receipt is handed out once its
/// statement is durable, before witnesses cosign, so no witness policy applies here
/// (`urne-client verify` checks one later, against a checkpoint that covers it).
#[derive(Args, Debug, Clone)]
pub struct TargetLog {
    /// Base URL of the log, e.g. https://urne.example/log.
    #[arg(long, env = "URNE_LOG", value_name = "URL")]
    pub log: String,
    /// The log's verifier key (`<name>+<hex id>+<base64>`), as published by its
    /// operator: every answer is checked with it.
    #[arg(long, env = "URNE_LOG_KEY", value_name = "LOGKEY")]
    pub key: String,
}

impl TargetLog {
    /// Parses the log key.
    ///
    /// # Errors
    /// [`Kind::Other`] for a malformed key.
    pub fn trust(&self) -> Res<Trust> {
        LogArgs {
            log: Some(self.log.clone()),
            key: Some(self.key.clone()),
            witnesses: Vec::new(),
            quorum: None,
            policy: None,
            peers: Vec::new(),
        }
        .trust()
    }
}

/// Arguments of `statement submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub log: TargetLog,
    /// Directory for the receipts [default: next to each statement, as FILE.proof].
    #[arg(long, value_name = "DIR")]
    pub receipts: Option<PathBuf>,
    /// Signed statement files.
    #[arg(value_name = "STATEMENT", required = true)]
    pub statements: Vec<PathBuf>,
}

fn receipt_path(dir: Option<&Path>, file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "statement".into());
    let mut p = match dir {
        Some(d) => d.join(name),
        None => file.to_path_buf(),
    }
    .into_os_string();
    p.push(".proof");
    PathBuf::from(p)
}

/// Runs `statement submit`: one line per statement on standard output; the exit
/// code is the worst outcome (3 proof failed, 5 network, 7 refused, 1 other).
pub fn submit(a: &SubmitArgs) -> Res<()> {
    let trust = a.log.trust()?;
    let log = Log::new(&a.log.log);
    let mut worst: Option<Fail> = None;
    let rank = |k: Kind| match k {
        Kind::ProofFailed => 4,
        Kind::Network => 3,
        Kind::Refused => 2,
        _ => 1,
    };
    let mut note = |f: Fail| {
        if worst.as_ref().is_none_or(|w| rank(f.kind) > rank(w.kind)) {
            worst = Some(f);
        }
    };
    for file in &a.statements {
        let shown = file.display();
        let bytes = match read_statement_file(file) {
            Ok(b) => b,
            Err(f) => {
                println!("FAILED {shown}: {}", f.msg);
                note(f);
                continue;
            }
        };
        // Refused here exactly as the log would refuse it (same parser), unsent.
        let stmt = match SignedStatement::parse(&bytes) {
            Ok(s) => s,
            Err(e) => {
                let r = Refusal::from(e);
                println!(
                    "REFUSED {shown}: {}: {} (not sent)",
                    r.code.as_str(),
                    r.detail
                );
                note(Fail::new(Kind::Refused, r.to_string()));
                continue;
            }
        };
        match submit_one(&log, &trust, &stmt) {
            Ok(o @ (Outcome::Appended(..) | Outcome::Duplicate(..))) => {
                let (label, i, p) = match o {
                    Outcome::Appended(i, p) => ("APPENDED", i, p),
                    Outcome::Duplicate(i, p) => ("DUPLICATE", i, p),
                    Outcome::Refused(..) => unreachable!("matched above"),
                };
                let rp = receipt_path(a.receipts.as_deref(), file);
                if let Err(e) = std::fs::write(&rp, p.to_text()) {
                    println!(
                        "FAILED {shown}: entry {i}, but writing {}: {e}",
                        rp.display()
                    );
                    note(Fail::new(
                        Kind::Other,
                        format!("writing {}: {e}", rp.display()),
                    ));
                    continue;
                }
                let size = trust
                    .open_log_only(&p.checkpoint)
                    .map(|c| c.checkpoint.size)
                    .unwrap_or_default();
                println!(
                    "{label} {shown}: entry {i}, proved in the log's signed tree of {size} entries; receipt {}",
                    rp.display()
                );
            }
            Ok(Outcome::Refused(status, code, detail)) => {
                println!("REFUSED {shown}: {code}: {detail} (HTTP {status})");
                note(Fail::new(Kind::Refused, format!("{code}: {detail}")));
            }
            Err(f) => {
                println!("FAILED {shown}: {}", f.msg);
                note(f);
            }
        }
    }
    match worst {
        None => Ok(()),
        Some(mut f) => {
            // Every line is printed already: the failure only sets the exit code.
            f.msg = String::new();
            Err(f)
        }
    }
}
