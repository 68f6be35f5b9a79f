//! Checkpoints and what vouches for them, one file per C2SP spec.
//!
//! - `tlog_checkpoint`: the checkpoint note text (C2SP tlog-checkpoint): [`Checkpoint`],
//!   parsed strictly, formatted, signed by the log.
//! - `tlog_cosignature`: Ed25519 cosignatures (C2SP tlog-cosignature, `cosignature/v1`,
//!   key type 0x04): [`WitnessKey`], [`CosignerKey`], [`add_cosignatures`].
//! - `tlog_policy`: the one witness policy type, [`WitnessPolicy`] (C2SP tlog-policy
//!   files, and "k of these n witness keys" built with [`WitnessPolicy::k_of_n`]).
//! - `open`: opening a signed checkpoint against a log key and a witness policy
//!   ([`open_checkpoint`], [`open_checkpoint_with_policy`], [`SignedCheckpoint`]).
//! - `tlog_proof`: the offline receipt format (C2SP tlog-proof): [`TlogProof`].
//!
//! This file owns what they share: [`CheckpointError`] and the lexical rules of the
//! specs (canonical decimals and base64 hashes). Every public item is re-exported here,
//! so callers name `urne_client::checkpoint::X` whatever file `X` lives in.
//! Does not own: the signed-note envelope and Ed25519 note keys ([`crate::note`]), Merkle
//! hashing and consistency proofs ([`crate::tree`]), nor any I/O (fetching checkpoints,
//! talking to witnesses).
//!
//! Why hand-written rather than `tlog_tiles::Checkpoint`: that type keeps extensions as
//! one string, accepts a size with a leading `+` sign only by accident of `u64::from_str`
//! then re-checks it, and has no cosignature or policy support; urne needs exact refusal
//! of every malformed variant and typed errors, so the few lines of parsing live here.
//! ML-DSA-44 cosignatures (type 0x06) are not supported: urne's witnesses use Ed25519.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use tlog_tiles::Hash;

mod open;
mod tlog_checkpoint;
mod tlog_cosignature;
mod tlog_policy;
mod tlog_proof;

pub use open::{open_checkpoint, open_checkpoint_with_policy, SignedCheckpoint};
pub use tlog_checkpoint::{Checkpoint, MAX_CHECKPOINT_TEXT};
pub use tlog_cosignature::{
    add_cosignatures, CosignerKey, WitnessKey, COSIGNATURE_ALG, MAX_COSIGNATURE_TIMESTAMP,
};
pub use tlog_policy::{PolicyGroup, PolicyLog, PolicyMember, PolicyWitness, WitnessPolicy};
pub use tlog_proof::{TlogProof, MAX_PROOF_HASHES, TLOG_PROOF_HEADER};

/// Errors about checkpoints, cosignatures, policies and proofs.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CheckpointError {
    /// The input does not follow the format (checkpoint, note, cosignature line, proof).
    #[error("malformed: {0}")]
    Malformed(String),
    /// The note carries no valid signature by the log key.
    #[error("no valid signature by the log key")]
    BadLogSignature,
    /// The checkpoint origin is not the log key's name.
    #[error("checkpoint origin {origin:?} is not the log key name {expected:?}")]
    WrongOrigin {
        /// The origin line of the checkpoint.
        origin: String,
        /// The name of the log key (and of the policy's log).
        expected: String,
    },
    /// A cosignature line by a policy witness does not verify.
    #[error("invalid cosignature by {0}")]
    BadCosignature(String),
    /// Too few policy witnesses cosigned: `have` verified, at least `need` required.
    #[error("witness quorum not met: {have} valid cosignatures, at least {need} needed")]
    QuorumNotMet {
        /// Distinct policy witnesses whose cosignature verified.
        have: usize,
        /// The fewest witnesses that could satisfy the policy.
        need: usize,
    },
    /// A key string (witness verifier key, cosigner signer key) is malformed.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A tlog-policy file is invalid.
    #[error("policy line {line}: {reason}")]
    BadPolicy {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An inclusion proof does not verify against the checkpoint.
    #[error("inclusion proof does not verify: {0}")]
    BadProof(String),
}

fn malformed(what: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(what.into())
}

/// Parses a decimal with no sign and no leading zeros (unless it is `0`), as C2SP
/// tlog-checkpoint ("tree size"), tlog-witness and tlog-proof require.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Parses one base64 hash of exactly 32 bytes, in canonical standard base64.
fn parse_hash(s: &str) -> Option<Hash> {
    let raw = BASE64.decode(s).ok()?;
    let bytes: [u8; 32] = raw.try_into().ok()?;
    // The decoder refuses non-zero trailing bits and bad padding, so the encoding is
    // unique; checked again because a second encoding would be a malleability hole.
    if BASE64.encode(bytes) != s {
        return None;
    }
    Some(Hash(bytes))
}

/// Shortens an echoed input line for an error message.
fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}
