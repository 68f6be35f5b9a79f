//! Receipt codes in the voting systems' own encodings.
//!
//! Owns: reading a receipt code as a voter holds it. A `ballot` statement writes its
//! receipt one way, 64 lowercase hex digits (the canonical text); voting systems show
//! voters the same 32 bytes in their own form, and a voter pastes what they were
//! shown. Accepted, for 32 bytes:
//!
//! - hex: 64 hex digits, either case (urne, Helios's hex hashes);
//! - base64: 43 characters of the standard alphabet (`A-Z a-z 0-9 + /`), without
//!   padding, or 44 ending in `=` — Belenios's smart ballot tracker, the SHA-256 of
//!   the ballot in base64, which may start with `/` or `+`;
//! - base64url: the same with `-` and `_` (the form that fits in a URL path).
//!
//! Spaces around the code are ignored; nothing else is: no other length, no
//! non-canonical final character (the unused low bits of the last base64 character
//! must be zero, so one code has one spelling per encoding). Does not own: the tag
//! type ([`crate::statement::Tag`]).

use crate::statement::{StatementError, Tag};
use base64::Engine as _;

/// The encoding a receipt code was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// 64 hex digits.
    Hex,
    /// Standard base64 (Belenios's smart ballot tracker), padded or not.
    Base64,
    /// URL-safe base64, padded or not.
    Base64Url,
}

/// Reads a receipt code in any accepted encoding (see the module documentation).
///
/// # Errors
/// [`StatementError::BadField`] naming the encodings accepted.
pub fn parse(s: &str) -> Result<(Tag, Encoding), StatementError> {
    let s = s.trim();
    let bad = || {
        StatementError::BadField(format!(
            "receipt {:?} is neither 64 hex digits nor a 32-byte base64 tracker (43 characters, or 44 ending in =)",
            s.chars().take(80).collect::<String>()
        ))
    };
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut t = [0u8; 32];
        hex::decode_to_slice(s.to_ascii_lowercase(), &mut t).map_err(|_| bad())?;
        return Ok((Tag(t), Encoding::Hex));
    }
    let unpadded = match s.len() {
        43 => s,
        44 => s.strip_suffix('=').ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let (engine, enc) = if unpadded.bytes().any(|b| b == b'-' || b == b'_') {
        (
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            Encoding::Base64Url,
        )
    } else {
        (
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            Encoding::Base64,
        )
    };
    // The engines refuse non-zero trailing bits: one spelling per code.
    let v = engine.decode(unpadded).map_err(|_| bad())?;
    let t: [u8; 32] = v.try_into().map_err(|_| bad())?;
    Ok((Tag(t), enc))
}

/// Writes a receipt the way Belenios shows it: standard base64 without padding.
pub fn to_base64(t: &Tag) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(t.0)
}

/// Reports whether `s` reads as a receipt code: what `urne-client verify` takes as a
/// code rather than a file name (a tracker starting with `/` is a code, not a path).
pub fn is_receipt(s: &str) -> bool {
    parse(s).is_ok()
}
