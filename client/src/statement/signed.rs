//! A signed statement as submitted: the statement text, a blank line and its
//! signature lines (a C2SP signed note), parse beside format. The signatures are not
//! verified here: the keys live in the election's state ([`crate::rules`]).

use super::{Statement, StatementError, Tag, MAX_ENTRY_SIZE};
use crate::note;

/// One signature line of a signed statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// Signature bytes (64 for Ed25519).
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// Formats the line `— <name> <base64(key ID ‖ signature)>\n` (C2SP signed-note).
    pub fn to_line(&self) -> String {
        use base64::Engine as _;
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!(
            "\u{2014} {} {}\n",
            self.name,
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A signed statement as submitted: the exact bytes (the log entry), the parsed
/// statement and its signature lines (not yet verified: the keys live in the
/// election's state).
#[derive(Clone, Debug)]
pub struct SignedStatement {
    /// The exact bytes submitted, logged as they are.
    pub bytes: Vec<u8>,
    /// The parsed statement.
    pub statement: Statement,
    /// The signature lines, in order.
    pub signatures: Vec<SignatureLine>,
    /// Length of the signed text (the statement text, up to the blank line).
    text_len: usize,
}

impl SignedStatement {
    /// Parses a signed statement strictly: size limit, signed-note form, at least one
    /// signature line, canonical statement text.
    ///
    /// # Errors
    /// A [`StatementError`] with its stable code.
    pub fn parse(bytes: &[u8]) -> Result<SignedStatement, StatementError> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(StatementError::TooLarge(bytes.len()));
        }
        let s = std::str::from_utf8(bytes)
            .map_err(|_| StatementError::Malformed("not UTF-8".into()))?;
        if s.contains('\r') {
            return Err(StatementError::NotCanonical(
                "CR in statement: lines end with LF only".into(),
            ));
        }
        let n = note::Note::from_bytes(bytes).map_err(|_| {
            StatementError::Malformed(
                "not a signed note (text, blank line, signature lines)".into(),
            )
        })?;
        let text_len = n.text().len();
        // The note text must be exactly the bytes before the blank line: signed_note
        // splits at the last blank line, which a statement text never contains.
        if bytes.get(text_len) != Some(&b'\n') || &bytes[..text_len] != n.text() {
            return Err(StatementError::Malformed("signature block".into()));
        }
        let text = &s[..text_len];
        let statement = Statement::parse_text(text)?;
        let sig_block = &s[text_len + 1..];
        let mut signatures = Vec::new();
        for line in sig_block.split_terminator('\n') {
            let sig = note::Signature::from_bytes(line.as_bytes())
                .map_err(|_| StatementError::Malformed("bad signature line".into()))?;
            signatures.push(SignatureLine {
                name: sig.name().to_string(),
                key_id: sig.id(),
                signature: sig.signature().to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(StatementError::Malformed("no signature line".into()));
        }
        Ok(SignedStatement {
            bytes: bytes.to_vec(),
            statement,
            signatures,
            text_len,
        })
    }

    /// Returns the signed text (the statement text, ending in a newline).
    pub fn text(&self) -> &[u8] {
        &self.bytes[..self.text_len]
    }

    /// Returns the statement's identity: SHA-256 of its signed text. Two entries with
    /// the same text are the same statement whatever signature lines follow it (a
    /// replay with a foreign or repeated line is a duplicate, not a new entry).
    pub fn text_hash(&self) -> Tag {
        use sha2::{Digest, Sha256};
        Tag(Sha256::digest(self.text()).into())
    }

    /// Writes the signed statement again from its parsed parts: the statement's
    /// canonical text, a blank line, then each signature line
    /// `— <name> <base64(key ID ‖ signature)>`. For every statement
    /// [`SignedStatement::parse`] accepts this is exactly [`SignedStatement::bytes`]
    /// (the fuzz target `statement_parse` checks it): one meaning, one spelling.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.statement.to_text().into_bytes();
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(s.to_line().as_bytes());
        }
        out
    }
}
