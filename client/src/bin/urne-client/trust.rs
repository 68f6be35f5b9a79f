//! What the user trusts: the log key, the witness policy, and the checkpoints
//! remembered from earlier runs.
//!
//! Owns: opening checkpoints against `--key`/`--witness`/`--quorum` or a C2SP
//! tlog-policy file, the XDG state directory where `verify` and `alerts` remember the
//! latest checkpoint of each log, and fetching the consistency proofs the decision
//! needs. Does not own: the decision itself (is a new checkpoint consistent, a
//! rollback, a fork: `urne_client::consistency::decide`, the one every party runs),
//! the proof algorithms (`urne_client::tree`).

use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use clap::Args;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use urne_client::checkpoint::{SignedCheckpoint, WitnessKey, WitnessPolicy};
use urne_client::consistency::{
    decide, Conflict, DecideError, Decision, Quorum, Shown, TrustPolicy,
};
use urne_client::note::VerifierKey;
use urne_client::tree::Hash;

/// The log to talk to and how to trust it.
#[derive(Args, Clone, Debug)]
pub struct LogArgs {
    /// Base URL of the log, e.g. https://urne.example/log (required but with
    /// `verify --offline`).
    #[arg(long, env = "URNE_LOG", value_name = "URL")]
    pub log: Option<String>,
    /// The log's verifier key (`<name>+<hex id>+<base64>`), as published by its
    /// operator. Not needed with --policy.
    #[arg(long, env = "URNE_LOG_KEY", value_name = "LOGKEY")]
    pub key: Option<String>,
    /// A witness verifier key whose cosignature counts (repeatable).
    #[arg(long = "witness", value_name = "KEY")]
    pub witnesses: Vec<String>,
    /// Cosignatures needed from the --witness keys [default: all of them].
    #[arg(long, value_name = "K")]
    pub quorum: Option<usize>,
    /// A C2SP tlog-policy file (log key, witnesses, groups, quorum) instead of
    /// --key/--witness/--quorum.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["witnesses", "quorum"])]
    pub policy: Option<PathBuf>,
    /// A mirror, witness or monitor whose `/v1/gossip` checkpoints of this log are
    /// checked against the one shown here (repeatable): a split view, where the log
    /// shows another history to someone else, fails with exit code 4.
    #[arg(long = "peer", value_name = "URL")]
    pub peers: Vec<String>,
}

/// The parsed trust settings of a command.
pub struct Trust {
    /// The log key.
    pub log_key: VerifierKey,
    /// The log key and the witness quorum, as the library's decision takes them.
    pub policy: TrustPolicy,
}

impl LogArgs {
    /// The log's base URL (`main` refuses a command that needs one without it).
    pub fn url(&self) -> &str {
        self.log.as_deref().unwrap_or_default()
    }

    /// Parses the keys and the policy.
    ///
    /// # Errors
    /// [`Kind::Other`] for a malformed key or policy file, or a missing --key.
    pub fn trust(&self) -> Res<Trust> {
        if let Some(p) = &self.policy {
            let text = std::fs::read_to_string(p)
                .map_err(ctx(Kind::Other, format!("reading policy {}", p.display())))?;
            let pol = WitnessPolicy::parse(&text)
                .map_err(ctx(Kind::Other, format!("policy {}", p.display())))?;
            let log_key = match &self.key {
                Some(k) => VerifierKey::parse(k).map_err(ctx(Kind::Other, "--key"))?,
                None => match pol.logs.as_slice() {
                    [one] => one.key.clone(),
                    _ => {
                        return Err(Fail::new(
                            Kind::Other,
                            "the policy lists several logs: pass --key to say which one",
                        ))
                    }
                },
            };
            return Ok(Trust {
                policy: TrustPolicy {
                    log_key: log_key.clone(),
                    quorum: Quorum::File(pol),
                },
                log_key,
            });
        }
        let key = self.key.as_deref().ok_or_else(|| {
            Fail::new(
                Kind::Other,
                "--key LOGKEY (or --policy FILE) is required: the log's verifier key",
            )
        })?;
        let log_key = VerifierKey::parse(key).map_err(ctx(Kind::Other, "--key"))?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| WitnessKey::parse(w).map_err(ctx(Kind::Other, format!("--witness {w}"))))
            .collect::<Res<Vec<_>>>()?;
        let quorum = self.quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(Fail::new(
                Kind::Other,
                format!(
                    "--quorum {quorum} is more than the {} --witness keys given",
                    witnesses.len()
                ),
            ));
        }
        Ok(Trust {
            policy: TrustPolicy {
                log_key: log_key.clone(),
                quorum: Quorum::Simple(WitnessPolicy::k_of_n(witnesses, quorum)),
            },
            log_key,
        })
    }
}

impl Trust {
    /// Opens a signed checkpoint: log signature, origin, witness policy.
    ///
    /// # Errors
    /// [`Kind::ProofFailed`] naming what does not verify.
    pub fn open(&self, note: &str) -> Res<SignedCheckpoint> {
        self.policy.open(note).map_err(|e| {
            Fail::new(
                Kind::ProofFailed,
                format!("the log's checkpoint does not verify: {e}"),
            )
        })
    }

    /// Opens a checkpoint checking only the log signature (for checkpoints remembered
    /// earlier, whose witnesses may have changed since).
    ///
    /// # Errors
    /// [`Kind::ProofFailed`].
    pub fn open_log_only(&self, note: &str) -> Res<SignedCheckpoint> {
        self.policy.open_log_signed(note).map_err(|e| {
            Fail::new(
                Kind::ProofFailed,
                format!("checkpoint does not verify under the log key: {e}"),
            )
        })
    }

    /// Runs the one decision of the library (`urne_client::consistency::decide`) on
    /// `note` against `held`, with consistency proofs fetched from `prover`.
    ///
    /// # Errors
    /// [`Kind::ProofFailed`] if the log did not sign `note`; [`Kind::Network`] if a
    /// needed proof cannot be fetched.
    pub fn decide(
        &self,
        prover: &Log,
        held: Option<&SignedCheckpoint>,
        note: &str,
        shown: Shown<'_>,
    ) -> Res<Decision> {
        decide(&self.policy, held, note, shown, |old, new| {
            fetch_consistency(prover, old, new)
        })
        .map_err(|e| match e {
            DecideError::NotSigned(e) => Fail::new(
                Kind::ProofFailed,
                format!("the log's checkpoint does not verify: {e}"),
            ),
            DecideError::Proof(f) => f,
        })
    }
}

/// Makes a conflict's evidence checkable by anyone when it can: a fork between two
/// sizes proved wrong by the log's own proof is not (the proof is the log's word),
/// but the root at the smaller size read out of the larger tree's tiles, authenticated
/// against its signed root, is (`evidence::build`, as the monitor records it). A
/// rollback to a prefix stays as it is: only the order of the two is the lie.
fn strengthen(prover: &Log, trust: &Trust, mut c: Box<Conflict>) -> Box<Conflict> {
    if c.verifiable {
        return c;
    }
    let (Ok(a), Ok(b)) = (
        trust.open_log_only(&c.evidence.note_a),
        trust.open_log_only(&c.evidence.note_b),
    ) else {
        return c;
    };
    if a.checkpoint.size == b.checkpoint.size {
        return c;
    }
    let e = crate::evidence::build(c.kind, &a, &b, &c.evidence.source, &[prover]);
    if e.verify(&trust.log_key).is_ok() {
        c.evidence = e;
        c.verifiable = true;
    }
    c
}

/// Turns a conflict into the failure every command reports: exit code 4, its
/// sentence, and the evidence (the library's format) under `equivocation`.
pub fn conflict_fail(c: &Conflict) -> Fail {
    Fail::new(Kind::Inconsistent, c.message.clone()).with_evidence(serde_json::json!({
        "kind": c.kind.as_str(),
        "equivocation": c.evidence,
        "verifiable_by_anyone": c.verifiable,
    }))
}

/// Returns the state directory of `urne-client`: `$XDG_STATE_HOME/urne-client`, or
/// `~/.local/state/urne-client`.
///
/// # Errors
/// [`Kind::Other`] if neither variable is set.
pub fn state_dir() -> Res<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("urne-client"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| Fail::new(Kind::Other, "neither XDG_STATE_HOME nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".local/state/urne-client"))
}

/// The file remembering the latest checkpoint seen of the log with this key.
fn remembered_path(dir: &Path, key: &VerifierKey) -> PathBuf {
    let h = Sha256::digest(key.to_string().as_bytes());
    let name: String = key
        .name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect();
    dir.join("checkpoints")
        .join(format!("{name}-{}", hex::encode(&h[..6])))
}

/// What the consistency check against the remembered checkpoint found.
pub struct Continuity {
    /// The size of the remembered checkpoint, if any.
    pub previous: Option<u64>,
}

/// The log's current checkpoint, decided against the one remembered for this log.
pub struct Current {
    /// The checkpoint, opened with the log key (and with the quorum if `witnessed`).
    pub checkpoint: SignedCheckpoint,
    /// Whether it met the witness quorum; `Some(why)` if not.
    pub quorum_not_met: Option<String>,
    /// The remembered checkpoint it was compared with.
    pub continuity: Continuity,
}

impl Current {
    /// Returns the checkpoint if it met the witness quorum.
    ///
    /// # Errors
    /// [`Kind::ProofFailed`] naming why the quorum is not met.
    pub fn witnessed(&self) -> Res<&SignedCheckpoint> {
        match &self.quorum_not_met {
            None => Ok(&self.checkpoint),
            Some(why) => Err(Fail::new(
                Kind::ProofFailed,
                format!(
                    "the log's checkpoint of {} entries is signed by the log and consistent with what you saw before, but does not meet the witness policy: {why}",
                    self.checkpoint.checkpoint.size
                ),
            )),
        }
    }
}

/// The checkpoint remembered for this log (the largest one verified with the witness
/// quorum, in the state directory), opened with the log key, and its path. No network.
///
/// # Errors
/// [`Kind::Other`] if it cannot be read or is damaged.
pub fn remembered(trust: &Trust) -> Res<(PathBuf, Option<SignedCheckpoint>)> {
    let dir = state_dir()?;
    let path = remembered_path(&dir, &trust.log_key);
    let previous = match std::fs::read_to_string(&path) {
        Ok(note) => Some(trust.open_log_only(&note).map_err(|e| {
            Fail::new(
                Kind::Other,
                format!(
                    "remembered checkpoint {} is damaged: {}",
                    path.display(),
                    e.msg
                ),
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Fail::new(
                Kind::Other,
                format!("reading {}: {e}", path.display()),
            ))
        }
    };
    Ok((path, previous))
}

/// Fetches the log's checkpoint and decides it against the checkpoint remembered for
/// this log (the largest one verified with the witness quorum, in the state
/// directory); remembers it if it is larger and met the quorum. The first run only
/// remembers. A rollback or fork is decided on the log's signature, before the quorum
/// (a rolled-back log is one the witnesses refuse to cosign).
///
/// # Errors
/// [`Kind::Inconsistent`] for a rollback or fork, with both checkpoints as evidence;
/// [`Kind::Network`]; [`Kind::ProofFailed`] if the log did not sign it.
pub fn current(log: &Log, trust: &Trust) -> Res<Current> {
    let note = log.checkpoint()?;
    let (path, previous) = remembered(trust)?;
    let continuity = Continuity {
        previous: previous.as_ref().map(|p| p.checkpoint.size),
    };
    match trust.decide(log, previous.as_ref(), &note, Shown::ByLog(log.base()))? {
        Decision::Conflict(c) => Err(conflict_fail(&strengthen(log, trust, c))),
        Decision::QuorumNotMet { checkpoint, why } => Ok(Current {
            checkpoint,
            quorum_not_met: Some(why.to_string()),
            continuity,
        }),
        Decision::Consistent { checkpoint, .. } => {
            if previous
                .as_ref()
                .is_none_or(|p| checkpoint.checkpoint.size > p.checkpoint.size)
            {
                remember(&path, &checkpoint.note)?;
            }
            Ok(Current {
                checkpoint,
                quorum_not_met: None,
                continuity,
            })
        }
    }
}

/// Checks that `new` does not contradict `held` (any order of sizes when `shown` is
/// elsewhere; a smaller `new` shown by the log is a rollback), with proofs from
/// `prover`. The witness quorum is not asked: both are judged on the log's signature.
///
/// # Errors
/// [`Kind::Inconsistent`] with the evidence; [`Kind::Network`].
pub fn check_consistent(
    prover: &Log,
    trust: &Trust,
    held: &SignedCheckpoint,
    new: &SignedCheckpoint,
    shown: Shown<'_>,
) -> Res<()> {
    match trust.decide(prover, Some(held), &new.note, shown)? {
        Decision::Conflict(c) => Err(conflict_fail(&strengthen(prover, trust, c))),
        Decision::Consistent { .. } | Decision::QuorumNotMet { .. } => Ok(()),
    }
}

/// Fetches a consistency proof between two sizes; `None` if the log refuses (HTTP
/// 400) to prove sizes it signed.
///
/// # Errors
/// [`Kind::Network`] if unavailable or unreadable.
pub fn fetch_consistency(log: &Log, old: u64, new: u64) -> Res<Option<Vec<Hash>>> {
    let path = format!("v1/proof/consistency?old={old}&new={new}");
    let a = log.get(&path)?;
    if a.status == 400 {
        return Ok(None);
    }
    if a.status != 200 {
        return Err(Fail::new(
            Kind::Network,
            format!("{}/{path} answered HTTP {}", log.base(), a.status),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(ctx(
        Kind::Network,
        format!("{}/{path} is not JSON", log.base()),
    ))?;
    // An answer of another shape, or hashes that do not parse, are the log's answer
    // all the same: an empty proof never verifies between two non-empty sizes, so the
    // decision calls it a fork.
    Ok(Some(
        serde_json::from_value::<urne_client::api::ConsistencyAnswer>(v)
            .ok()
            .and_then(|a| urne_client::api::hashes_from_base64(&a.consistency_proof).ok())
            .unwrap_or_default(),
    ))
}

/// Writes a file atomically (temporary file, then rename).
///
/// # Errors
/// [`Kind::Other`] with the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Res<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(ctx(Kind::Other, format!("creating {}", parent.display())))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(ctx(Kind::Other, format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(ctx(Kind::Other, format!("renaming to {}", path.display())))
}

fn remember(path: &Path, note: &str) -> Res<()> {
    write_atomic(path, note.as_bytes())
}
