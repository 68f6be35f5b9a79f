//! The automatic seal of an election (French rules, CGFP R.211-572): which cosigned
//! checkpoint seals it, decided once for the log that records it and for every
//! monitor that re-checks it.
//!
//! Owns: the decision "this opened checkpoint seals this election" and the seal's
//! JSON shape (`seal` of `/v1/elections/<id>`). An election sealing `grace <secs>` is
//! sealed once its `close`'s time plus the grace is past
//! ([`ElectionState::sealed_after`]); its **seal** is a checkpoint of the log,
//! cosigned by the witnesses, that covers the `close` and whose every witness
//! timestamp is at or after that instant: the witnesses attest that the tree the
//! urn froze in existed then. Does not own: opening the checkpoint (signatures and the
//! witness quorum: [`crate::checkpoint`]), the rule that refuses statements after the
//! seal ([`crate::rules`]).

use crate::checkpoint::SignedCheckpoint;
use crate::rules::ElectionState;
use crate::statement::Time;
use serde::{Deserialize, Serialize};

/// One witness's cosignature on the seal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealWitness {
    /// The witness key's name.
    pub name: String,
    /// Its cosignature's timestamp (seconds since the Unix epoch).
    pub timestamp: u64,
    /// The same, written as a statement time.
    pub time: Time,
}

/// An election's seal: the checkpoint, what it covers and who attested when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// The instant the election was sealed: its close's time plus its grace.
    pub sealed_after: Time,
    /// The leaf index of the election's `close`.
    pub close_index: u64,
    /// The sealing checkpoint's tree size (it covers the close).
    pub size: u64,
    /// The sealing checkpoint's root hash, hex (the urn's fingerprint).
    pub root: String,
    /// Every witness cosignature on it, in note order.
    pub witnesses: Vec<SealWitness>,
    /// The signed checkpoint note with its cosignatures.
    pub checkpoint: String,
}

/// Why a checkpoint does not seal an election.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The election seals no grace period, or is not closed.
    #[error("the election is not sealed automatically yet (no grace period, or not closed)")]
    NotSealable,
    /// The checkpoint does not cover the close.
    #[error("the checkpoint of {size} entries does not cover the close (entry {close})")]
    TooSmall {
        /// Checkpoint size.
        size: u64,
        /// Close index.
        close: u64,
    },
    /// No witness cosigned it.
    #[error("the checkpoint carries no witness cosignature: no one attests its time")]
    NoWitness,
    /// A witness cosigned it before the seal instant.
    #[error("witness {name} cosigned it at {at}, before the seal instant {sealed_after}")]
    TooEarly {
        /// The witness.
        name: String,
        /// Its timestamp.
        at: Time,
        /// The seal instant.
        sealed_after: Time,
    },
}

/// Decides whether `cp` (already opened: log signature and witness quorum verified)
/// seals the election whose state is `es`, and returns the seal.
///
/// # Errors
/// A [`SealError`] saying why not.
pub fn check(es: &ElectionState, cp: &SignedCheckpoint) -> Result<Seal, SealError> {
    let (Some(closed), Some(sealed_after)) = (es.closed, es.sealed_after()) else {
        return Err(SealError::NotSealable);
    };
    let size = cp.checkpoint.size;
    if size <= closed.index {
        return Err(SealError::TooSmall {
            size,
            close: closed.index,
        });
    }
    if cp.cosigners.is_empty() {
        return Err(SealError::NoWitness);
    }
    let mut witnesses = Vec::with_capacity(cp.cosigners.len());
    for (k, ts) in &cp.cosigners {
        let at = Time(i64::try_from(*ts).unwrap_or(i64::MAX));
        if at < sealed_after {
            return Err(SealError::TooEarly {
                name: k.name().to_string(),
                at,
                sealed_after,
            });
        }
        witnesses.push(SealWitness {
            name: k.name().to_string(),
            timestamp: *ts,
            time: at,
        });
    }
    Ok(Seal {
        sealed_after,
        close_index: closed.index,
        size,
        root: crate::tree::hash_to_hex(&cp.checkpoint.root),
        witnesses,
        checkpoint: cp.note.clone(),
    })
}
