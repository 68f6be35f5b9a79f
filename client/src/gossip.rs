//! Checkpoint gossip: what mirrors, witnesses and monitors exchange, and the
//! equivocation evidence anyone holding the log key can check.
//!
//! Owns: the JSON bodies of `GET /v1/gossip` ([`Gossip`]) and
//! `GET /v1/gossip/equivocations` ([`Equivocation`]), and [`Equivocation::verify`]:
//! two checkpoints signed by one log key that cannot both be true (same size and
//! different roots, a consistency proof from the larger tree that leads to another
//! root at the smaller size, or a checkpoint of the empty tree with another root than
//! the empty-tree hash), and the kinds of contradiction it names ([`ConflictKind`],
//! also named in [`crate::consistency`], which decides them). Does not own: fetching (the server's mirror and
//! witness, the command-line tool), the proof algorithms ([`crate::tree`]).

use crate::checkpoint::{open_checkpoint, WitnessPolicy};
use crate::note::VerifierKey;
use crate::tree;
use serde::{Deserialize, Serialize};

/// The most checkpoints a party reads from one gossip answer: an answer holds the
/// latest checkpoint per origin, and no party follows that many logs. An answer with
/// more is refused whole before any signature is checked (a fake peer's 100,000 junk
/// checkpoints once cost a log 19.6 s of CPU per pull).
pub const MAX_GOSSIP_CHECKPOINTS: usize = 256;

/// One checkpoint in a gossip answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GossipCheckpoint {
    /// Log origin.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// The signed note.
    pub checkpoint: String,
}

/// The body of `GET /v1/gossip` (of a log, mirror, witness or monitor).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gossip {
    /// The latest checkpoint held per origin.
    pub checkpoints: Vec<GossipCheckpoint>,
    /// A witness's: the requests of each log to cosign a smaller tree than held
    /// (absent from the others' gossip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_attempts: Option<Vec<RollbackAttempts>>,
}

/// The requests of one log to cosign a smaller tree than a witness holds (a log
/// restored from a backup), as the witness's `GET /v1/gossip` shows them and its
/// `/metrics` counts them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackAttempts {
    /// The log origin.
    pub origin: String,
    /// How many requests since the witness started.
    pub count: u64,
    /// The size the witness holds (cosigned before).
    pub held_size: u64,
    /// The size of the latest smaller checkpoint the log asked to cosign.
    pub shown_size: u64,
    /// That checkpoint, as the log signed it (anyone can check the signature).
    pub checkpoint: String,
}

/// Two checkpoints signed by one log key that cannot both be true.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Equivocation {
    /// The log origin.
    pub origin: String,
    /// Why they conflict.
    pub reason: String,
    /// The checkpoint of smaller (or equal) size, as signed.
    pub note_a: String,
    /// The other checkpoint, as signed.
    pub note_b: String,
    /// Consistency proof from `note_a`'s size to `note_b` (base64), empty for equal
    /// sizes and for `note_a` of size 0.
    pub proof: Vec<String>,
    /// The root at `note_a`'s size that `proof` leads to (base64), if sizes differ
    /// (for `note_a` of size 0, absent or the empty-tree hash).
    pub old_root_from_proof: Option<String>,
    /// Where the conflicting checkpoint came from (the peer or log that showed it),
    /// and where the proof was read.
    pub source: String,
    /// What the party that found it decided ([`crate::consistency::decide`]); absent
    /// in records written before it was said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ConflictKind>,
}

/// Why a piece of evidence does not prove an equivocation.
#[derive(Debug, thiserror::Error)]
#[error("not equivocation evidence: {0}")]
pub struct EvidenceError(String);

impl Equivocation {
    /// Returns the two checkpoints of the record, parsed and not verified (for
    /// records already verified and kept): the dedup of kept evidence compares them.
    pub fn checkpoints(
        &self,
    ) -> Option<(crate::checkpoint::Checkpoint, crate::checkpoint::Checkpoint)> {
        let parse = |note: &str| {
            let (text, _) = note.split_once("\n\n")?;
            crate::checkpoint::Checkpoint::parse_text(&format!("{text}\n")).ok()
        };
        Some((parse(&self.note_a)?, parse(&self.note_b)?))
    }

    /// Reports whether this record is about the same incident as `other`: the same
    /// log, and a checkpoint (size and root) in common. A forked or rolled-back log
    /// goes on signing checkpoints that contradict the same one a party held: each is
    /// a new pair, but one incident, kept once (the dedup rule of
    /// [`crate::consistency::ForkKey`], for records whose holder is not said).
    pub fn same_incident(&self, other: &Equivocation) -> bool {
        let (Some((a, b)), Some((c, d))) = (self.checkpoints(), other.checkpoints()) else {
            return self.note_a == other.note_a && self.note_b == other.note_b;
        };
        let id = |x: &crate::checkpoint::Checkpoint| (x.origin.clone(), x.size, x.root.0);
        let mine = [id(&a), id(&b)];
        self.origin == other.origin && [id(&c), id(&d)].iter().any(|k| mine.contains(k))
    }

    /// Checks the evidence with the log key alone: both notes are signed by the log,
    /// and either they name two roots for one size, or the consistency proof leads
    /// from `note_b`'s root to a root at `note_a`'s size other than `note_a`'s, or
    /// `note_a` is a checkpoint of the empty tree whose root is not the empty-tree hash
    /// (a tree of size 0 has exactly one root, SHA-256 of nothing: RFC 9162 §2.1.1).
    ///
    /// A consistency proof from size 0 proves nothing (the empty tree is a prefix of
    /// every tree, so RFC 9162 accepts any roots with an empty proof): such evidence
    /// must carry no proof, may claim no other root at size 0, and stands only on
    /// `note_a`'s own root.
    ///
    /// # Errors
    /// [`EvidenceError`] if it does not prove an equivocation.
    pub fn verify(&self, log_key: &VerifierKey) -> Result<(), EvidenceError> {
        let none = WitnessPolicy::none();
        let a = open_checkpoint(self.note_a.as_bytes(), log_key, &none)
            .map_err(|e| EvidenceError(format!("note_a is not signed by the log: {e}")))?
            .checkpoint;
        let b = open_checkpoint(self.note_b.as_bytes(), log_key, &none)
            .map_err(|e| EvidenceError(format!("note_b is not signed by the log: {e}")))?
            .checkpoint;
        // The size-0 rule (crate::consistency): a signed empty tree with another root
        // than the empty tree's is a fork on its own, whatever it is paired with.
        if a.size == 0 && a.root != tree::EMPTY_HASH && self.proof.is_empty() {
            return match &self.old_root_from_proof {
                None => Ok(()),
                Some(c) if tree::hash_from_base64(c).is_ok_and(|c| c == tree::EMPTY_HASH) => Ok(()),
                Some(_) => Err(EvidenceError(
                    "old_root_from_proof: the only root at tree size 0 is the empty-tree hash"
                        .into(),
                )),
            };
        }
        if a.size == b.size {
            if a.root == b.root {
                return Err(EvidenceError("same size and same root".into()));
            }
            return Ok(());
        }
        if a.size > b.size {
            return Err(EvidenceError("note_a must be the smaller".into()));
        }
        let proof = self
            .proof
            .iter()
            .map(|h| tree::hash_from_base64(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EvidenceError(format!("proof hash: {e}")))?;
        if a.size == 0 {
            if !proof.is_empty() {
                return Err(EvidenceError(
                    "a consistency proof from tree size 0 is empty".into(),
                ));
            }
            if let Some(claimed) = &self.old_root_from_proof {
                let claimed = tree::hash_from_base64(claimed)
                    .map_err(|e| EvidenceError(format!("old_root_from_proof: {e}")))?;
                if claimed != tree::EMPTY_HASH {
                    return Err(EvidenceError(
                        "old_root_from_proof: the only root at tree size 0 is the empty-tree hash"
                            .into(),
                    ));
                }
            }
            if a.root == tree::EMPTY_HASH {
                return Err(EvidenceError(
                    "note_a is the empty tree, a prefix of every tree: consistent".into(),
                ));
            }
            return Ok(());
        }
        let old = tree::hash_from_base64(self.old_root_from_proof.as_deref().unwrap_or(""))
            .map_err(|e| EvidenceError(format!("old_root_from_proof: {e}")))?;
        tree::verify_consistency(a.size, b.size, &old, &b.root, &proof)
            .map_err(|e| EvidenceError(format!("the proof does not lead to note_b's root: {e}")))?;
        if old == a.root {
            return Err(EvidenceError(
                "the proof leads to note_a's root: consistent".into(),
            ));
        }
        Ok(())
    }
}

/// What kind of contradiction a conflict is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The log shows a smaller tree than one it signed before: entries were removed.
    Rollback,
    /// The log shows a tree that is not an extension of one it signed before (two
    /// roots for one size, a proof that does not verify, a refused proof, a size-0
    /// tree with another root than the empty tree's).
    Fork,
    /// A checkpoint shown elsewhere (a peer, a receipt) contradicts the one this
    /// party holds: the log showed two histories to two audiences (a split view).
    Equivocation,
}

impl ConflictKind {
    /// Returns the stable name: `rollback`, `fork`, `equivocation` (alert kinds).
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::Rollback => "rollback",
            ConflictKind::Fork => "fork",
            ConflictKind::Equivocation => "equivocation",
        }
    }
}
