//! The shared halt: a log on PostgreSQL halted by one of its instances is halted for
//! all of them, as a fact in the database.
//!
//! Owns: the halt record ([`Halt`]: why, which instance, at what tree size), its
//! checksummed encoding ([`super::frame`], under the key [`HALT_KEY`]), and what the
//! database's halt state means ([`HaltState`]). The SQL is [`super::PgStore`]'s
//! (`postgres_side.rs`: table `urne_halts`, and the flag `halted` of the lease row
//! that the fenced commit checks).
//! Does not own: when a log halts (the sequencer's [`crate::sequencer::SequencerHandle::halt`]
//! decides, on a witness's proof of a rollback or an instance's high-water mark ahead
//! of the database), nor what the instances do about it ([`crate::leader`]).
//!
//! # Why in two places
//!
//! The record (`urne_halts`, append-only, one row per instance that halted) says why,
//! checksummed so that a row edited by hand is refused loudly at load rather than
//! read as another reason or as no halt. The flag on the lease row is what makes the
//! halt exact: the fenced commit locks that row and checks the flag in the same
//! statement (a halt recorded while a commit waits for the row is seen by it), and
//! taking the lease checks it too. Either one set means halted: clearing the flag by
//! hand does not lift a halt whose record is there, and deleting the records does not
//! lift a flag (nor the `HALTED` file each instance that saw the halt keeps in its
//! data directory, see [`crate::watermark`]).

use super::{frame, StorageError};
use serde::{Deserialize, Serialize};

/// The key halt records are checksummed under.
pub const HALT_KEY: &[u8] = b"halt";

/// One instance's record of a halt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Halt {
    /// Why the log halted, as the instance logged it.
    pub reason: String,
    /// The instance that decided it (its id, as in the lease).
    pub instance: String,
    /// The tree size the instance served when it halted.
    pub tree_size: u64,
}

impl Halt {
    /// The record as stored: JSON, framed with its checksum.
    pub fn seal(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        frame::seal(HALT_KEY, &json)
    }

    /// Reads a stored record; `what` names it in the error.
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] if it was damaged or edited, or is not a halt record.
    pub fn open(what: &str, stored: &[u8]) -> Result<Halt, StorageError> {
        let body = frame::open(what, HALT_KEY, stored)?;
        serde_json::from_slice(&body).map_err(|e| StorageError::Corrupt {
            what: what.to_string(),
            detail: format!("not a halt record ({e})"),
        })
    }
}

/// The database's halt state: the records, oldest first, and the lease row's flag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HaltState {
    /// Every instance's record, oldest first (each checked at load).
    pub records: Vec<Halt>,
    /// The lease row's flag.
    pub flag: bool,
}

impl HaltState {
    /// Why the log is halted (`None`: it is not). The first record's reason; a flag
    /// without any record is a halt too (its record was removed: the message says so).
    pub fn reason(&self) -> Option<String> {
        match (self.records.first(), self.flag) {
            (Some(h), _) => Some(format!(
                "{} (halted by instance {} at tree size {})",
                h.reason, h.instance, h.tree_size
            )),
            (None, true) => Some(
                "the database says this log is halted (the lease row's flag), but no halt \
                 record is left: someone removed it; the halt stands"
                    .into(),
            ),
            (None, false) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record reads back; any flipped byte, or a record of another kind, is refused.
    #[test]
    fn a_damaged_record_is_refused() {
        let h = Halt {
            reason: "ROLLBACK: witness".into(),
            instance: "ab12".into(),
            tree_size: 7,
        };
        let stored = h.seal();
        assert_eq!(Halt::open("r", &stored).unwrap(), h);
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x01;
            assert!(Halt::open("r", &bad).is_err(), "byte {i}");
        }
        let other = frame::seal(b"equivocation", &serde_json::to_vec(&h).unwrap());
        assert!(Halt::open("r", &other).is_err());
        assert!(Halt::open("r", &frame::seal(HALT_KEY, b"{}")).is_err());
    }

    #[test]
    fn a_flag_alone_is_a_halt() {
        let s = HaltState {
            records: vec![],
            flag: true,
        };
        assert!(s.reason().unwrap().contains("removed"));
        assert_eq!(HaltState::default().reason(), None);
    }
}
