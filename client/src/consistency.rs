//! The one decision every party makes about a new checkpoint of a log: does it extend
//! what this party already holds, or does it contradict it?
//!
//! Owns: [`TrustPolicy`] (the log key and the witness quorum, simple or C2SP
//! tlog-policy), [`decide`] (held checkpoint + new signed checkpoint + a source of
//! consistency proofs → [`Decision`]: consistent, quorum not met, or a [`Conflict`]
//! that is a rollback, a fork or an equivocation), the evidence of a conflict (one
//! format, the library's [`Equivocation`]: both notes, the proof, the reason), its
//! dedup key ([`ForkKey`]), and the size-0 rule ([`empty_tree_root_is_valid`]).
//! Does not own: fetching checkpoints or proofs (the caller passes a closure, so this
//! stays pure), the proof algorithm ([`crate::tree::verify_consistency`]), the check
//! of evidence by a third party ([`Equivocation::verify`]).
//!
//! # Why consistency comes before the quorum
//!
//! A checkpoint that lacks the witnesses' cosignatures is not to be *trusted* as the
//! log's state, but it is still *signed by the log*: if it contradicts a checkpoint
//! the log signed before, the log has lied, whatever the witnesses say. A rolled-back
//! log is exactly the case where witnesses refuse to cosign, so a party that checks
//! the quorum first only ever sees "quorum not met" and misses the rollback. [`decide`]
//! therefore opens the new checkpoint with the log key alone, judges consistency, and
//! only then asks the quorum.
//!
//! # The size-0 rule (decided here only)
//!
//! A tree of size 0 has exactly one root, SHA-256 of nothing (RFC 9162 §2.1.1), and it
//! is a prefix of every tree: a checkpoint of size 0 with that root is consistent with
//! every checkpoint (with an empty proof) and is never evidence. A checkpoint of size
//! 0 with any other root is a tree that cannot exist: the log that signed it
//! contradicts itself, so it is a fork on its own, whatever it is paired with.
//! [`Equivocation::verify`] and the web page's `verifyEquivocation` apply the same
//! rule; the shared cases of `testdata/consistency/` pin it for both.

use crate::checkpoint::{
    open_checkpoint, open_checkpoint_with_policy, Checkpoint, CheckpointError, SignedCheckpoint,
    WitnessPolicy,
};
// `ConflictKind` is defined with the evidence that carries it (`gossip`), so that
// `gossip` does not import this module back; it is named here, with the decision.
pub use crate::gossip::ConflictKind;
use crate::gossip::Equivocation;
use crate::note::VerifierKey;
use crate::tree::{self, Hash};

/// How many witnesses must cosign a checkpoint for a party to trust it.
#[derive(Clone, Debug)]
pub enum Quorum {
    /// "k of these n witness keys" (`--witness`, `--quorum`).
    Simple(WitnessPolicy),
    /// A C2SP tlog-policy file.
    File(WitnessPolicy),
}

/// What a party trusts: the log key and the witness quorum.
#[derive(Clone, Debug)]
pub struct TrustPolicy {
    /// The log's verifier key; its name is the log's origin.
    pub log_key: VerifierKey,
    /// The witnesses and how many must cosign.
    pub quorum: Quorum,
}

impl TrustPolicy {
    /// Returns the policy that trusts the log key alone (no witness).
    pub fn log_only(log_key: VerifierKey) -> Self {
        TrustPolicy {
            log_key,
            quorum: Quorum::Simple(WitnessPolicy::none()),
        }
    }

    /// Opens a checkpoint with the log key alone: signature and origin, cosignatures
    /// ignored.
    ///
    /// # Errors
    /// [`CheckpointError`] if the log did not sign it.
    pub fn open_log_signed(&self, note: &str) -> Result<SignedCheckpoint, CheckpointError> {
        open_checkpoint(note.as_bytes(), &self.log_key, &WitnessPolicy::none())
    }

    /// Opens a checkpoint with the log key and the witness quorum.
    ///
    /// # Errors
    /// [`CheckpointError`]: not signed by the log, a bad cosignature, quorum not met.
    pub fn open(&self, note: &str) -> Result<SignedCheckpoint, CheckpointError> {
        match &self.quorum {
            Quorum::Simple(p) => open_checkpoint(note.as_bytes(), &self.log_key, p),
            Quorum::File(p) => open_checkpoint_with_policy(note.as_bytes(), p).and_then(|s| {
                // A policy may list several logs: only this one's checkpoints count.
                if s.checkpoint.origin == self.log_key.name() {
                    Ok(s)
                } else {
                    Err(CheckpointError::WrongOrigin {
                        origin: s.checkpoint.origin,
                        expected: self.log_key.name().to_string(),
                    })
                }
            }),
        }
    }
}

/// Where the new checkpoint was shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown<'a> {
    /// By the log itself, as its current state (its `/checkpoint`): a smaller tree
    /// than one it signed before is a rollback.
    ByLog(&'a str),
    /// Elsewhere (a peer's gossip, a receipt, a mirror): an older checkpoint is
    /// expected; it must only be consistent, in whichever direction.
    Elsewhere(&'a str),
}

impl Shown<'_> {
    fn source(&self) -> &str {
        match self {
            Shown::ByLog(s) | Shown::Elsewhere(s) => s,
        }
    }
}

/// The dedup key of a conflict: its kind and the checkpoint this party held that the
/// log contradicted. A forked or rolled-back log goes on signing new checkpoints, each one
/// contradicting the same held checkpoint: they are one incident, alerted and
/// recorded once (a mirror once stored 42 records for one fork).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ForkKey {
    /// The kind: a rollback and the fork that may follow it (the restored log grows
    /// past the old size) are two incidents, the second one provable by anyone.
    pub kind: ConflictKind,
    /// The log's origin.
    pub origin: String,
    /// The held checkpoint's tree size.
    pub size: u64,
    /// The held checkpoint's root.
    pub root: [u8; 32],
}

impl ForkKey {
    /// Returns the key of a conflict of `kind` about a held checkpoint.
    pub fn of(kind: ConflictKind, held: &Checkpoint) -> Self {
        ForkKey {
            kind,
            origin: held.origin.clone(),
            size: held.size,
            root: held.root.0,
        }
    }
}

/// Two checkpoints signed by the log that cannot both be true, as decided.
#[derive(Clone, Debug)]
pub struct Conflict {
    /// Rollback, fork or equivocation.
    pub kind: ConflictKind,
    /// One sentence naming it, for people (starts with `ROLLBACK`, `FORK` or
    /// `EQUIVOCATION`).
    pub message: String,
    /// Both notes, the proof (if any), the reason: the one evidence format.
    pub evidence: Equivocation,
    /// Whether anyone holding the log key alone can check `evidence`
    /// ([`Equivocation::verify`]). A rollback to a prefix of the held tree is not:
    /// both checkpoints can be true, only their order is the lie.
    pub verifiable: bool,
    /// The dedup key: the held checkpoint contradicted.
    pub key: ForkKey,
}

/// The decision about a new checkpoint.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Decision {
    /// The new checkpoint extends (or equals) the held one and meets the quorum: the
    /// party may hold it from now on. `proof` is the consistency proof checked (empty
    /// when none was needed).
    Consistent {
        /// The new checkpoint, opened with the quorum.
        checkpoint: SignedCheckpoint,
        /// The consistency proof checked.
        proof: Vec<Hash>,
    },
    /// The new checkpoint is signed by the log and contradicts nothing held, but the
    /// witness quorum is not met: not to be held or believed, and no one was lied to.
    QuorumNotMet {
        /// The new checkpoint, opened with the log key alone.
        checkpoint: SignedCheckpoint,
        /// Why the quorum check failed.
        why: CheckpointError,
    },
    /// The log contradicted itself: evidence attached.
    Conflict(Box<Conflict>),
}

/// Why no decision could be made.
#[derive(Debug, thiserror::Error)]
pub enum DecideError<E> {
    /// The new checkpoint is not signed by the log (or is malformed): it says nothing
    /// about the log.
    #[error("the checkpoint is not signed by the log: {0}")]
    NotSigned(CheckpointError),
    /// The consistency proof could not be obtained (the caller's error).
    #[error("{0}")]
    Proof(E),
}

/// Reports whether a checkpoint respects the size-0 rule: a tree of size 0 must have
/// the empty-tree root (RFC 9162 §2.1.1). Every other size passes.
pub fn empty_tree_root_is_valid(cp: &Checkpoint) -> bool {
    cp.size != 0 || cp.root == tree::EMPTY_HASH
}

/// Returns the consistency proof [`decide`] will ask for, as `(old, new)` sizes, or
/// `None` if it needs none: for callers that must fetch it beforehand (an async
/// server fetching tiles). Same sizes, the empty tree, a rollback shown by the log and
/// the size-0 rule need no proof.
pub fn proof_needed(held: &Checkpoint, new: &Checkpoint, shown: Shown<'_>) -> Option<(u64, u64)> {
    if !empty_tree_root_is_valid(new) || new.size == held.size {
        return None;
    }
    if new.size < held.size && matches!(shown, Shown::ByLog(_)) {
        return None;
    }
    let (small, large) = if new.size < held.size {
        (new.size, held.size)
    } else {
        (held.size, new.size)
    };
    (small > 0).then_some((small, large))
}

/// Decides whether `new_note` extends what this party holds.
///
/// `held` is the largest checkpoint this party verified (`None` the first time: the
/// new one is then only checked against the size-0 rule and the quorum). `prove(old,
/// new)` returns the consistency proof from tree size `old` to `new` (`old < new`,
/// `old > 0`), `Ok(None)` if the source refuses to prove sizes the log signed, or the
/// caller's error if it cannot be reached; it is called at most once, only when a
/// proof is needed.
///
/// Consistency is judged on the log's signature first (see the module doc), then the
/// quorum. Shown by the log, a smaller tree than held is a rollback; shown elsewhere,
/// it must be a prefix of the held one, proved.
///
/// # Errors
/// [`DecideError::NotSigned`] if the log did not sign `new_note`;
/// [`DecideError::Proof`] if a needed proof could not be obtained.
pub fn decide<E>(
    policy: &TrustPolicy,
    held: Option<&SignedCheckpoint>,
    new_note: &str,
    shown: Shown<'_>,
    prove: impl FnOnce(u64, u64) -> Result<Option<Vec<Hash>>, E>,
) -> Result<Decision, DecideError<E>> {
    let new = policy
        .open_log_signed(new_note)
        .map_err(DecideError::NotSigned)?;
    let conflict = |kind: ConflictKind,
                    message: String,
                    a: &SignedCheckpoint,
                    b: &SignedCheckpoint,
                    proof: &[Hash],
                    old_root: Option<Hash>,
                    key: ForkKey| {
        let (a, b) = if a.checkpoint.size <= b.checkpoint.size {
            (a, b)
        } else {
            (b, a)
        };
        let evidence = Equivocation {
            origin: a.checkpoint.origin.clone(),
            reason: message.clone(),
            note_a: a.note.clone(),
            note_b: b.note.clone(),
            proof: proof.iter().map(tree::hash_to_base64).collect(),
            old_root_from_proof: old_root.map(|h| tree::hash_to_base64(&h)),
            source: shown.source().to_string(),
            kind: Some(kind),
        };
        let verifiable = evidence.verify(&policy.log_key).is_ok();
        Ok(Decision::Conflict(Box::new(Conflict {
            kind,
            message,
            evidence,
            verifiable,
            key,
        })))
    };
    let elsewhere = matches!(shown, Shown::Elsewhere(_));
    let (fork_kind, rollback_kind) = if elsewhere {
        (ConflictKind::Equivocation, ConflictKind::Equivocation)
    } else {
        (ConflictKind::Fork, ConflictKind::Rollback)
    };
    let n = &new.checkpoint;
    // The size-0 rule: a signed empty tree with another root is a fork on its own.
    if !empty_tree_root_is_valid(n) {
        let key = ForkKey::of(fork_kind, held.map_or(n, |h| &h.checkpoint));
        let other = held.unwrap_or(&new);
        return conflict(
            fork_kind,
            format!(
                "{}: the log signed a tree of 0 entries whose root is not the empty tree's",
                label(fork_kind)
            ),
            &new,
            other,
            &[],
            None,
            key,
        );
    }
    let mut proof = Vec::new();
    if let Some(h) = held {
        let o = &h.checkpoint;
        let key = ForkKey::of(fork_kind, o);
        if n.size == o.size {
            if n.root != o.root {
                return conflict(
                    fork_kind,
                    format!(
                        "{}: the log signed two roots for tree size {}",
                        label(fork_kind),
                        n.size
                    ),
                    h,
                    &new,
                    &[],
                    None,
                    key,
                );
            }
        } else if n.size < o.size && !elsewhere {
            return conflict(
                rollback_kind,
                format!(
                    "ROLLBACK: the log now shows {} entries but it signed a checkpoint of {} entries before; entries were removed",
                    n.size, o.size
                ),
                h,
                &new,
                &[],
                None,
                ForkKey::of(rollback_kind, o),
            );
        } else {
            let (small, large) = if n.size < o.size { (n, o) } else { (o, n) };
            // The empty tree is a prefix of every tree: nothing to prove. Asked as
            // `proof_needed` says, so that callers fetching beforehand fetch the same.
            if proof_needed(o, n, shown).is_some() {
                match prove(small.size, large.size).map_err(DecideError::Proof)? {
                    None => {
                        return conflict(
                            fork_kind,
                            format!(
                                "{}: the log refuses to prove that its tree of {} entries extends the tree of {} entries it signed",
                                label(fork_kind),
                                large.size,
                                small.size
                            ),
                            h,
                            &new,
                            &[],
                            None,
                            key,
                        )
                    }
                    Some(p) => {
                        if let Err(e) = tree::verify_consistency(
                            small.size,
                            large.size,
                            &small.root,
                            &large.root,
                            &p,
                        ) {
                            return conflict(
                                fork_kind,
                                format!(
                                    "{}: the log's tree of {} entries does not extend the tree of {} entries it signed ({e})",
                                    label(fork_kind),
                                    large.size,
                                    small.size
                                ),
                                h,
                                &new,
                                &p,
                                None,
                                key,
                            );
                        }
                        proof = p;
                    }
                }
            }
        }
    }
    match policy.open(new_note) {
        Ok(checkpoint) => Ok(Decision::Consistent { checkpoint, proof }),
        Err(why) => Ok(Decision::QuorumNotMet {
            checkpoint: new,
            why,
        }),
    }
}

fn label(kind: ConflictKind) -> &'static str {
    match kind {
        ConflictKind::Rollback => "ROLLBACK",
        ConflictKind::Fork => "FORK",
        ConflictKind::Equivocation => "EQUIVOCATION",
    }
}
