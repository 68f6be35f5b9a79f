//! The 32-byte tag field (voter, credential, receipt, digest): 64 lowercase hex
//! digits, parse beside format.

use super::{bad, StatementError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A 32-byte tag (voter, credential, receipt, digest), written as 64 lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Tag(pub [u8; 32]);

/// Lowercase hex digits, by value.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// The value of a lowercase hex digit.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Tag {
    /// On the stack, no allocation: every statement parsed is formatted again to
    /// check it is canonical, and a monitor parses millions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 64];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 15)];
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl FromStr for Tag {
    type Err = StatementError;
    /// Parses exactly 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, StatementError> {
        let refuse = || {
            bad(format!(
                "tag {:?} is not 64 lowercase hex digits",
                s.chars().take(80).collect::<String>()
            ))
        };
        if s.len() != 64 {
            return Err(refuse());
        }
        let mut t = [0u8; 32];
        for (b, pair) in t.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(hi), Some(lo)) => *b = hi << 4 | lo,
                _ => return Err(refuse()),
            }
        }
        Ok(Tag(t))
    }
}

impl From<Tag> for String {
    fn from(t: Tag) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Tag {
    type Error = StatementError;
    fn try_from(s: String) -> Result<Self, StatementError> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::Tag;

    /// Formatting and parsing agree with the `hex` crate, byte for byte, and only
    /// 64 lowercase hex digits parse.
    #[test]
    fn tags_format_and_parse_as_lowercase_hex() {
        for seed in 0..=255u8 {
            let mut t = [0u8; 32];
            for (i, b) in t.iter_mut().enumerate() {
                *b = seed
                    .wrapping_mul(31)
                    .wrapping_add((i as u8).wrapping_mul(seed | 1));
            }
            let s = Tag(t).to_string();
            assert_eq!(s, hex::encode(t));
            assert_eq!(s.parse::<Tag>().unwrap(), Tag(t));
        }
        let ok = "0123456789abcdef".repeat(4);
        assert!(ok.parse::<Tag>().is_ok());
        for bad in [
            ok.to_uppercase(),
            ok[..63].to_string(),
            format!("{ok}0"),
            ok.replacen('f', "g", 1),
            ok.replacen('0', " ", 1),
            ok.replacen("01", "é", 1),
            String::new(),
        ] {
            let e = bad.parse::<Tag>().unwrap_err().to_string();
            assert!(e.contains("is not 64 lowercase hex digits"), "{bad}: {e}");
        }
    }
}
