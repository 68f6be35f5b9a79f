//! The checksummed record: how a small side record (a witness's note, a piece of
//! equivocation evidence, a mirror's pending list) is stored by every backend.
//!
//! Owns: the byte layout `0x00 ‖ "u1" ‖ SHA-256(len(key) ‖ key ‖ body) ‖ body` and
//! its check at load. Does not own: what the body means (its owner checks the log's
//! signatures in it once loaded).
//!
//! The checksum makes a damaged record (a flipped bit on disk, a row edited by hand)
//! a clear [`StorageError::Corrupt`] at load rather than a note that is believed, and
//! binding the key makes a record copied under another key (one origin's note under
//! another's) damage too. It is no signature: anyone able to write the store can
//! write a consistent record, which is why the owners also check the log's signature
//! in what they load (a witness its held note, gossip each piece of evidence).

use super::StorageError;
use sha2::{Digest, Sha256};

/// The first bytes of a checksummed record. No note (UTF-8 text starting with an
/// origin) and no JSON starts with a NUL byte, so a record written before records were
/// checksummed is told apart (see [`super::side`]).
pub const MAGIC: &[u8; 3] = b"\0u1";

fn sum(key: &[u8], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((key.len() as u64).to_be_bytes());
    h.update(key);
    h.update(body);
    h.finalize().into()
}

/// Returns `body` framed for storage under `key`.
pub fn seal(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(MAGIC.len() + 32 + body.len());
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&sum(key, body));
    v.extend_from_slice(body);
    v
}

/// Returns the body of a record stored under `key`, checked; `what` names it in the
/// error.
///
/// # Errors
/// [`StorageError::Corrupt`] if the record is not framed, is short, or its checksum
/// does not match (damaged, edited, or stored under another key).
pub fn open(what: &str, key: &[u8], stored: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt = |detail: &str| StorageError::Corrupt {
        what: what.to_string(),
        detail: format!("{detail}: the record was damaged or edited, it is not trusted"),
    };
    let rest = stored
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| corrupt("no record header"))?;
    if rest.len() < 32 {
        return Err(corrupt("shorter than its checksum"));
    }
    let (want, body) = rest.split_at(32);
    if sum(key, body).as_slice() != want {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(body.to_vec())
}

/// [`open`] for a text record.
///
/// # Errors
/// As [`open`], and a body that is not UTF-8.
pub fn open_text(what: &str, key: &[u8], stored: &[u8]) -> Result<String, StorageError> {
    String::from_utf8(open(what, key, stored)?).map_err(|_| StorageError::Corrupt {
        what: what.to_string(),
        detail: "not UTF-8".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every single flipped bit is refused, and so is a record moved to another key.
    #[test]
    fn any_flipped_bit_or_other_key_is_refused() {
        let stored = seal(b"k", b"a note\n");
        assert_eq!(open("r", b"k", &stored).unwrap(), b"a note\n");
        for i in 0..stored.len() * 8 {
            let mut bad = stored.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(open("r", b"k", &bad).is_err(), "bit {i}");
        }
        assert!(open("r", b"other", &stored).is_err());
        assert!(open("r", b"k", b"a note\n").is_err());
    }
}
