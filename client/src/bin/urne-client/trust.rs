//! What the user trusts: the log key, the witness policy, and the checkpoints
//! remembered from earlier runs.
//!
//! Owns: opening checkpoints against `--key`/`--witness`/`--quorum` or a C2SP
//! tlog-policy file, the XDG state directory where `verify` and `alerts` remember the
//! latest checkpoint of each log, and the consistency check between a remembered
//! checkpoint and a new one (the check that catches a rollback or a fork shown to this
//! user). Does not own: the proof algorithms (`urne_client::tree`).

use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use clap::Args;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use urne_client::checkpoint::{
    open_checkpoint, open_checkpoint_with_policy, SignedCheckpoint, TlogPolicy, WitnessKey,
    WitnessPolicy,
};
use urne_client::note::VerifierKey;
use urne_client::tree::{self, Hash};

/// The log to talk to and how to trust it.
#[derive(Args, Clone, Debug)]
pub struct LogArgs {
    /// Base URL of the log, e.g. https://urne.example/log.
    #[arg(long, env = "URNE_LOG", value_name = "URL")]
    pub log: String,
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
    policy: Policy,
}

enum Policy {
    Simple(WitnessPolicy),
    File(TlogPolicy),
}

impl LogArgs {
    /// Parses the keys and the policy.
    ///
    /// # Errors
    /// [`Kind::Other`] for a malformed key or policy file, or a missing --key.
    pub fn trust(&self) -> Res<Trust> {
        if let Some(p) = &self.policy {
            let text = std::fs::read_to_string(p)
                .map_err(ctx(Kind::Other, format!("reading policy {}", p.display())))?;
            let pol = TlogPolicy::parse(&text)
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
                log_key,
                policy: Policy::File(pol),
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
            log_key,
            policy: Policy::Simple(WitnessPolicy { witnesses, quorum }),
        })
    }
}

impl Trust {
    /// Opens a signed checkpoint: log signature, origin, witness policy.
    ///
    /// # Errors
    /// [`Kind::ProofFailed`] naming what does not verify.
    pub fn open(&self, note: &str) -> Res<SignedCheckpoint> {
        let r = match &self.policy {
            Policy::Simple(p) => open_checkpoint(note.as_bytes(), &self.log_key, p),
            Policy::File(p) => open_checkpoint_with_policy(note.as_bytes(), p).and_then(|s| {
                if s.checkpoint.origin == self.log_key.name() {
                    Ok(s)
                } else {
                    Err(urne_client::checkpoint::CheckpointError::WrongOrigin {
                        origin: s.checkpoint.origin,
                        expected: self.log_key.name().to_string(),
                    })
                }
            }),
        };
        r.map_err(|e| {
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
        open_checkpoint(note.as_bytes(), &self.log_key, &WitnessPolicy::none()).map_err(|e| {
            Fail::new(
                Kind::ProofFailed,
                format!("checkpoint does not verify under the log key: {e}"),
            )
        })
    }
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

/// Checks that `new` is consistent with the checkpoint remembered for this log (a
/// consistency proof fetched from the log when it grew), then remembers `new` if it is
/// larger. The first run only remembers.
///
/// # Errors
/// [`Kind::Inconsistent`] for a rollback (smaller tree), a fork (same size, another
/// root, or a consistency proof that does not verify), with both checkpoints as
/// evidence; [`Kind::Network`] if the proof cannot be fetched.
pub fn check_and_remember(log: &Log, trust: &Trust, new: &SignedCheckpoint) -> Res<Continuity> {
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
    let Some(old) = previous else {
        remember(&path, &new.note)?;
        return Ok(Continuity { previous: None });
    };
    check_consistent(log, &old, new)?;
    if new.checkpoint.size > old.checkpoint.size {
        remember(&path, &new.note)?;
    }
    Ok(Continuity {
        previous: Some(old.checkpoint.size),
    })
}

/// Checks that `new` extends `old`: equal roots at equal size, or a verified
/// consistency proof from the log.
///
/// # Errors
/// [`Kind::Inconsistent`] with both notes as evidence; [`Kind::Network`].
pub fn check_consistent(log: &Log, old: &SignedCheckpoint, new: &SignedCheckpoint) -> Res<()> {
    let (o, n) = (&old.checkpoint, &new.checkpoint);
    let evidence = |proof: &[String]| {
        serde_json::json!({
            "old_checkpoint": old.note,
            "new_checkpoint": new.note,
            "consistency_proof": proof,
        })
    };
    if n.size < o.size {
        return Err(Fail::new(
            Kind::Inconsistent,
            format!(
                "ROLLBACK: the log now shows {} entries but it signed a checkpoint of {} entries before; entries were removed",
                n.size, o.size
            ),
        )
        .with_evidence(evidence(&[])));
    }
    if n.size == o.size {
        if n.root != o.root {
            return Err(Fail::new(
                Kind::Inconsistent,
                format!(
                    "FORK: the log signed two different trees of {} entries",
                    n.size
                ),
            )
            .with_evidence(evidence(&[])));
        }
        return Ok(());
    }
    let proof = fetch_consistency(log, o.size, n.size)?;
    let hashes: Vec<String> = proof.iter().map(tree::hash_to_base64).collect();
    tree::verify_consistency(o.size, n.size, &o.root, &n.root, &proof).map_err(|e| {
        Fail::new(
            Kind::Inconsistent,
            format!(
                "FORK: the log's tree of {} entries does not extend the tree of {} entries it signed before ({e})",
                n.size, o.size
            ),
        )
        .with_evidence(evidence(&hashes))
    })
}

/// Fetches a consistency proof between two sizes.
///
/// # Errors
/// [`Kind::Network`] if unavailable; [`Kind::Inconsistent`] if the log refuses to
/// prove a size it signed.
pub fn fetch_consistency(log: &Log, old: u64, new: u64) -> Res<Vec<Hash>> {
    if old == 0 {
        return Ok(Vec::new());
    }
    let path = format!("v1/proof/consistency?old={old}&new={new}");
    let a = log.get(&path)?;
    if a.status == 400 {
        return Err(Fail::new(
            Kind::Inconsistent,
            format!(
                "the log refuses to prove that its tree of {new} entries extends the one of {old} entries it signed before"
            ),
        ));
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
    parse_hashes(&v["consistency_proof"])
        .map_err(|m| Fail::new(Kind::ProofFailed, format!("consistency proof: {m}")))
}

/// Parses a JSON array of base64 hashes.
///
/// # Errors
/// A message if it is not an array of 32-byte base64 hashes.
pub fn parse_hashes(v: &serde_json::Value) -> Result<Vec<Hash>, String> {
    let arr = v.as_array().ok_or("not a list of hashes")?;
    arr.iter()
        .map(|h| {
            h.as_str()
                .ok_or_else(|| "a hash is not a string".to_string())
                .and_then(|s| tree::hash_from_base64(s).map_err(|e| e.to_string()))
        })
        .collect()
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
