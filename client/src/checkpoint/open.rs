//! Opening a signed checkpoint: the log's signature, the origin, every cosignature by a
//! policy witness, then the policy's quorum.
//!
//! Owns: [`open_checkpoint`], [`open_checkpoint_with_policy`] and their result
//! [`SignedCheckpoint`]. Does not own: the formats it checks (`tlog_checkpoint`,
//! `tlog_cosignature`) nor the quorum rule (`tlog_policy`).

use super::{malformed, Checkpoint, CheckpointError, WitnessKey, WitnessPolicy};
use crate::note::{self, NoteError, VerifierKey};

/// A checkpoint whose log signature and witness quorum verified.
#[derive(Clone, Debug)]
pub struct SignedCheckpoint {
    /// The parsed checkpoint.
    pub checkpoint: Checkpoint,
    /// The whole signed note as received (text, blank line, every signature line).
    pub note: String,
    /// The policy witnesses whose cosignature verified, with their timestamps, in note
    /// order, each once.
    pub cosigners: Vec<(WitnessKey, u64)>,
}

/// Opens a signed checkpoint: the log signature must verify, the origin must equal the
/// log key name, every cosignature line by a policy witness must verify (unknown lines
/// are ignored, C2SP signed-note), and the policy quorum must be met. The policy's own
/// `log` lines, if any, are not consulted: `log_key` is the log.
///
/// # Errors
/// [`CheckpointError::Malformed`], [`CheckpointError::BadLogSignature`],
/// [`CheckpointError::WrongOrigin`], [`CheckpointError::BadCosignature`],
/// [`CheckpointError::QuorumNotMet`].
pub fn open_checkpoint(
    note: &[u8],
    log_key: &VerifierKey,
    policy: &WitnessPolicy,
) -> Result<SignedCheckpoint, CheckpointError> {
    open_inner(
        note,
        std::slice::from_ref(log_key),
        &policy.witness_keys(),
        |c| policy.check(c),
    )
}

/// Opens a signed checkpoint against a C2SP tlog-policy: signed by any listed log whose
/// key name is the origin, cosignatures checked as in [`open_checkpoint`], then the
/// policy's quorum rule evaluated.
///
/// # Errors
/// As [`open_checkpoint`]; [`CheckpointError::WrongOrigin`] if no policy log has the
/// checkpoint's origin as its name.
pub fn open_checkpoint_with_policy(
    note: &[u8],
    policy: &WitnessPolicy,
) -> Result<SignedCheckpoint, CheckpointError> {
    let logs: Vec<VerifierKey> = policy.logs.iter().map(|l| l.key.clone()).collect();
    open_inner(note, &logs, &policy.witness_keys(), |c| policy.check(c))
}

fn open_inner(
    note_bytes: &[u8],
    log_keys: &[VerifierKey],
    witnesses: &[WitnessKey],
    check_quorum: impl Fn(&[WitnessKey]) -> Result<(), CheckpointError>,
) -> Result<SignedCheckpoint, CheckpointError> {
    let note_str = std::str::from_utf8(note_bytes).map_err(|_| malformed("note is not UTF-8"))?;
    // The checkpoint is parsed before any signature is checked, so that garbage is
    // refused as malformed and the origin picks the log key.
    let parsed = signed_note::Note::from_bytes(note_bytes).map_err(|_| malformed("bad note"))?;
    let text = std::str::from_utf8(parsed.text()).map_err(|_| malformed("note is not UTF-8"))?;
    let checkpoint = Checkpoint::parse_text(text)?;
    let log_key: Vec<VerifierKey> = log_keys
        .iter()
        .filter(|k| k.name() == checkpoint.origin)
        .cloned()
        .collect();
    if log_key.is_empty() {
        return Err(CheckpointError::WrongOrigin {
            origin: checkpoint.origin,
            expected: log_keys
                .iter()
                .map(|k| k.name().to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    let opened = note::open(note_bytes, &log_key).map_err(|e| match e {
        NoteError::InvalidSignature(_) | NoteError::Unverified => CheckpointError::BadLogSignature,
        other => malformed(other.to_string()),
    })?;
    let mut cosigners: Vec<(WitnessKey, u64)> = Vec::new();
    for sig in &opened.unverified {
        let Some(w) = witnesses
            .iter()
            .find(|w| w.name() == sig.name() && w.key_id() == sig.id())
        else {
            continue;
        };
        let ts = w
            .verify_cosignature(&opened.text, sig.signature())
            .ok_or_else(|| {
                CheckpointError::BadCosignature(format!("{}+{:08x}", w.name(), w.key_id()))
            })?;
        if !cosigners.iter().any(|(k, _)| k == w) {
            cosigners.push((w.clone(), ts));
        }
    }
    let keys: Vec<WitnessKey> = cosigners.iter().map(|(k, _)| k.clone()).collect();
    check_quorum(&keys)?;
    Ok(SignedCheckpoint {
        checkpoint,
        note: note_str.to_string(),
        cosigners,
    })
}
