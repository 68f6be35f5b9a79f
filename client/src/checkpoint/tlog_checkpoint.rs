//! The checkpoint note text (C2SP tlog-checkpoint, "Note text"): parsed strictly,
//! formatted, validated and signed by the log.
//!
//! Owns: [`Checkpoint`]. Does not own: cosignatures (`tlog_cosignature`), opening a
//! signed checkpoint against keys and a policy (`open`).

use super::{malformed, parse_decimal, parse_hash, CheckpointError};
use crate::note::SignerKey;
use tlog_tiles::Hash;

/// The largest checkpoint text accepted (checkpoints are three short lines; extension
/// lines are NOT RECOMMENDED by tlog-checkpoint).
pub const MAX_CHECKPOINT_TEXT: usize = 64 * 1024;

/// A checkpoint: the signed tree head of a log (C2SP tlog-checkpoint, "Note text").
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The log identity; urne requires it to equal the log key name.
    pub origin: String,
    /// The number of leaves in the tree.
    pub size: u64,
    /// The RFC 6962 root hash of the tree at `size`.
    pub root: Hash,
    /// Opaque extension lines, each non-empty, without their newline.
    pub extensions: Vec<String>,
}

// `tlog_tiles::Hash` has a total `PartialEq` (byte equality) but does not derive `Eq`.
impl Eq for Checkpoint {}

/// Checks that a note text has no control character but newline (C2SP signed-note).
fn check_text_chars(text: &str) -> Result<(), CheckpointError> {
    if let Some(c) = text.chars().find(|&c| c < ' ' && c != '\n') {
        return Err(malformed(format!("control character {c:?}")));
    }
    Ok(())
}

impl Checkpoint {
    /// Parses a checkpoint note text, strictly (C2SP tlog-checkpoint, "Note text"):
    /// `<origin>\n<size>\n<base64 root>\n` then optional non-empty extension lines, each
    /// ending in a newline. The origin is non-empty; the size is decimal with no leading
    /// zero; the root is canonical base64 of exactly 32 bytes; no control characters
    /// (so no CR) anywhere.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn parse_text(text: &str) -> Result<Self, CheckpointError> {
        if text.len() > MAX_CHECKPOINT_TEXT {
            return Err(malformed("checkpoint too large"));
        }
        check_text_chars(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| malformed("checkpoint does not end with a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(malformed("checkpoint has fewer than three lines"));
        };
        if origin.is_empty() {
            return Err(malformed("empty origin"));
        }
        let size = parse_decimal(size).ok_or_else(|| malformed(format!("bad size {size:?}")))?;
        let root = parse_hash(root).ok_or_else(|| malformed(format!("bad root hash {root:?}")))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(malformed("empty extension line"));
            }
            extensions.push(line.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Formats the checkpoint note text (C2SP tlog-checkpoint), ending in a newline.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for e in &self.extensions {
            out.push_str(e);
            out.push('\n');
        }
        out
    }

    /// Checks that the fields format to a text [`Checkpoint::parse_text`] accepts back
    /// unchanged (no newline or control character in the origin or an extension, no
    /// empty line).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] naming the first problem.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        match Checkpoint::parse_text(&self.to_text()) {
            Ok(back) if back == *self => Ok(()),
            Ok(_) => Err(malformed("a field holds a newline")),
            Err(e) => Err(e),
        }
    }

    /// Signs the checkpoint with the log key, returning the signed note: text, blank
    /// line, the log's signature line (C2SP tlog-checkpoint, "Signatures"; signed-note).
    ///
    /// The caller keeps the fields valid ([`Checkpoint::validate`]) and the key name
    /// equal to the origin; a log signs only checkpoints it built itself.
    pub fn sign(&self, log_key: &SignerKey) -> String {
        debug_assert!(self.validate().is_ok(), "signing an invalid checkpoint");
        let text = self.to_text();
        let mut out = String::with_capacity(text.len() + 120);
        out.push_str(&text);
        out.push('\n');
        out.push_str(&log_key.signature_line(text.as_bytes()));
        out
    }
}
