//! Offline receipts (C2SP tlog-proof): an entry index, its inclusion proof and the
//! signed checkpoint it leads to, as one text a voter keeps.
//!
//! Owns: [`TlogProof`], its text format and its offline verification. Does not own:
//! the inclusion-proof math (`tlog_tiles::check_record`, [`crate::tree`]).

use super::{
    malformed, open_checkpoint, parse_decimal, parse_hash, truncate, Checkpoint, CheckpointError,
    SignedCheckpoint, WitnessPolicy,
};
use crate::note::VerifierKey;
use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use tlog_tiles::Hash;

/// The first line of a C2SP tlog-proof ("Format").
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion proof can hold: one per level of a tree of 2^64 leaves.
pub const MAX_PROOF_HASHES: usize = 64;

/// An offline receipt: an entry index, its inclusion proof, and the signed checkpoint
/// the proof leads to (C2SP tlog-proof, "Format").
#[derive(Clone, Debug, PartialEq)]
pub struct TlogProof {
    /// Optional opaque extra data (the `extra` line); never authenticated.
    pub extra: Option<Vec<u8>>,
    /// The zero-based index of the entry.
    pub index: u64,
    /// The RFC 6962 inclusion proof, from the leaf's sibling up to the root's child.
    pub proof: Vec<Hash>,
    /// The signed (and possibly cosigned) checkpoint note, verbatim.
    pub checkpoint: String,
}

// Byte equality of hashes is total; see the same impl for `Checkpoint`.
impl Eq for TlogProof {}

impl TlogProof {
    /// Parses a tlog-proof: `c2sp.org/tlog-proof@v1`, optional `extra <base64>`,
    /// `index <N>`, zero or more base64 hashes, an empty line, then a signed checkpoint
    /// (C2SP tlog-proof, "Format"). The checkpoint must parse and the index must be
    /// below its size; no signature is checked here (see [`TlogProof::verify`]).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let s = std::str::from_utf8(bytes).map_err(|_| malformed("proof is not UTF-8"))?;
        let (head, checkpoint) = s
            .split_once("\n\n")
            .ok_or_else(|| malformed("proof has no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(TLOG_PROOF_HEADER) {
            return Err(malformed("first line is not c2sp.org/tlog-proof@v1"));
        }
        let mut line = lines.next().ok_or_else(|| malformed("no index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            let data = BASE64
                .decode(b64)
                .map_err(|_| malformed("bad base64 in extra line"))?;
            if data.is_empty() {
                return Err(malformed("empty extra line"));
            }
            extra = Some(data);
            line = lines.next().ok_or_else(|| malformed("no index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| malformed(format!("bad index line {:?}", truncate(line))))?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_HASHES {
                return Err(malformed("too many proof hashes"));
            }
            proof.push(parse_hash(l).ok_or_else(|| malformed(format!("bad proof hash {l:?}")))?);
        }
        let note = signed_note::Note::from_bytes(checkpoint.as_bytes())
            .map_err(|_| malformed("bad checkpoint note"))?;
        let text = std::str::from_utf8(note.text()).map_err(|_| malformed("bad checkpoint"))?;
        let cp = Checkpoint::parse_text(text)?;
        if index >= cp.size {
            return Err(malformed("index not below the checkpoint size"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint.to_string(),
        })
    }

    /// An urne receipt: the proof of the entry at `index`, carrying the entry itself
    /// in the `extra` line (its application-specific data), so that the receipt is
    /// checked without the log: the entry's leaf hash must then lead to the signed
    /// root ([`TlogProof::entry`]).
    pub fn with_entry(index: u64, proof: Vec<Hash>, checkpoint: String, entry: Vec<u8>) -> Self {
        TlogProof {
            extra: (!entry.is_empty()).then_some(entry),
            index,
            proof,
            checkpoint,
        }
    }

    /// The entry an urne receipt carries (its `extra` line), unauthenticated until its
    /// leaf hash is proved in the checkpoint ([`TlogProof::verify`] with
    /// [`crate::tree::record_hash`] of it).
    pub fn entry(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// Formats the proof; [`TlogProof::parse`] reads it back to an equal value.
    pub fn to_text(&self) -> String {
        let mut out = String::from(TLOG_PROOF_HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&h.to_string());
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Verifies the receipt offline: opens the checkpoint against the log key and the
    /// witness policy, then checks that the entry with `record_hash` (RFC 6962 leaf hash,
    /// SHA-256(0x00 ‖ entry)) is at `index` in that tree (RFC 9162, 2.1.3.2).
    ///
    /// # Errors
    /// Those of [`open_checkpoint`], and [`CheckpointError::BadProof`].
    pub fn verify(
        &self,
        record_hash: &Hash,
        log_key: &VerifierKey,
        policy: &WitnessPolicy,
    ) -> Result<SignedCheckpoint, CheckpointError> {
        let signed = open_checkpoint(self.checkpoint.as_bytes(), log_key, policy)?;
        let cp = &signed.checkpoint;
        if self.index >= cp.size || self.proof.len() > MAX_PROOF_HASHES {
            return Err(CheckpointError::BadProof(
                "index not below tree size".into(),
            ));
        }
        tlog_tiles::check_record(&self.proof, cp.size, cp.root, self.index, *record_hash)
            .map_err(|e| CheckpointError::BadProof(e.to_string()))?;
        Ok(signed)
    }
}
