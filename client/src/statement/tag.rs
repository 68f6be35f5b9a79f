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

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
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
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(format!(
                "tag {:?} is not 64 lowercase hex digits",
                s.chars().take(80).collect::<String>()
            )));
        }
        let mut t = [0u8; 32];
        hex::decode_to_slice(s, &mut t).map_err(|e| bad(e.to_string()))?;
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
