//! The log's high-water mark: the largest checkpoint it signed, kept outside RocksDB,
//! and the halt marker.
//!
//! Owns: the file `signed-checkpoint` in the data directory (the latest checkpoint
//! the sequencer committed, written and `fdatasync`ed after every commit and before
//! anything of the batch is acknowledged or served), the start-up check of the store
//! against it, and the file `HALTED` (written when the log finds proof that it lost
//! signed entries, e.g. a witness holding a larger checkpoint of this log).
//! Does not own: the checkpoint format (`urne_client::checkpoint`), the store.
//!
//! # Why outside the database
//!
//! A damaged or restored RocksDB can open without error and hold *fewer* entries than
//! the log signed (a WAL truncated by point-in-time recovery, a backup copied back).
//! Sequencing from there signs a second root for sizes already signed: a fork every
//! witness and monitor detects, with no way back. A log must never sign a checkpoint
//! smaller than, or inconsistent with, one it signed before (Sunlight and Tessera keep
//! the latest checkpoint in a store apart from the data for the same reason). So the
//! log refuses to start when its store is behind this mark, or disagrees with it at
//! its size, and says what happened and what the operator can do.
//!
//! # Several instances on one PostgreSQL database
//!
//! Each instance of a log on PostgreSQL keeps its own mark in its own data
//! directory, and it records there every head it knows was committed: the heads it
//! commits while it leads, and, while it follows, each newer head it reads from the
//! database and serves (only one signed by the log key). So an instance's mark is
//! the largest tree it saw, whoever signed it; it is never ahead of a database that
//! lost nothing, and an instance that followed while another advanced the head starts
//! as usual. It is checked against the database at start and again when the instance
//! takes the lead: a database restored from an older backup, or a failover to a
//! standby that missed acknowledged commits, is found by every instance whose mark is
//! ahead of it, which refuses to start or to lead, and so never signs over it. An
//! instance whose mark is not ahead (a new one, or one that was down the whole time)
//! cannot tell; the witnesses then refuse the log's smaller checkpoint, and the log
//! halts on their answer ([`crate::cosign`]).
//!
//! # Format
//!
//! Two slots of [`SLOT`] bytes, written in turn, so that a write torn by a power cut
//! leaves the other slot (the previous mark, whose batch was not acknowledged yet)
//! intact. A slot is `MAGIC ‖ length (4, big-endian) ‖ note ‖ SHA-256(MAGIC ‖ length ‖
//! note)`; the note must verify with the log key. The mark is the valid slot of the
//! larger size. Both slots invalid (but the file not empty) is damage: refused.

use crate::storage::{Store, TreeHead};
use anyhow::{bail, Context as _, Result};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::tree::Hash;

/// The file holding the mark, in the data directory.
pub const MARK_FILE: &str = "signed-checkpoint";
/// The file whose presence stops the log from starting, in the data directory.
pub const HALT_FILE: &str = "HALTED";
/// The size of one slot.
pub const SLOT: usize = 4096;
const MAGIC: &[u8; 16] = b"urne-signed-cp/1";

/// What the operator reads when the log refuses to start on damage.
pub const RECOVERY_HINT: &str =
    "Do not delete the data directory and do not restore a backup (either forks the log). \
Keep the directory as it is, restore the disk or the files that were damaged if you can, and \
compare with what your witnesses and mirrors hold; see README \"Storage damage\".";

/// The high-water mark of a log and the file it is kept in.
#[derive(Debug)]
pub struct Watermark {
    dir: PathBuf,
    // The open mark file and the slot written next; a std mutex, held for one write.
    file: Mutex<(File, u64)>,
    // The (size, root) of the mark held: read at open, then each one recorded.
    held: Mutex<Option<(u64, Hash)>>,
}

/// A mark read back: the checkpoint and its signed note.
#[derive(Debug, Clone)]
pub struct Mark {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The signed note as the log signed it.
    pub note: String,
}

fn encode_slot(note: &str) -> Result<Vec<u8>> {
    let n = note.len();
    if MAGIC.len() + 4 + n + 32 > SLOT {
        bail!("checkpoint of {n} bytes does not fit the high-water mark slot");
    }
    let mut v = Vec::with_capacity(SLOT);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&(n as u32).to_be_bytes());
    v.extend_from_slice(note.as_bytes());
    let sum = Sha256::digest(&v);
    v.extend_from_slice(&sum);
    v.resize(SLOT, 0);
    Ok(v)
}

fn decode_slot(slot: &[u8], key: &VerifierKey) -> Option<Mark> {
    let rest = slot.strip_prefix(MAGIC.as_slice())?;
    let n = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let note = rest.get(4..4 + n)?;
    let sum = rest.get(4 + n..4 + n + 32)?;
    if Sha256::digest(&slot[..MAGIC.len() + 4 + n]).as_slice() != sum {
        return None;
    }
    let opened = open_checkpoint(note, key, &WitnessPolicy::none()).ok()?;
    Some(Mark {
        checkpoint: opened.checkpoint,
        note: opened.note,
    })
}

impl Watermark {
    /// Opens the mark of the log in `dir` (signed by `key`) and returns it with the
    /// mark held, if any.
    ///
    /// # Errors
    /// The log is halted ([`HALT_FILE`] exists: its reason is in the error), or the mark
    /// file cannot be read, or it is damaged.
    pub fn open(dir: &Path, key: &VerifierKey) -> Result<(Watermark, Option<Mark>)> {
        // The halt first: a halted log opens nothing, not even its mark.
        if let Ok(reason) = std::fs::read_to_string(dir.join(HALT_FILE)) {
            bail!(
                "CRITICAL: this log was halted and does not start until an operator has dealt with it: {}\n\
                 The reason was recorded in {}. {RECOVERY_HINT} Once the cause is understood and \
                 the data directory holds every entry the log signed, remove that file.",
                reason.trim(),
                dir.join(HALT_FILE).display()
            );
        }
        let (w, mark, _) = Self::open_even_halted(dir, key)?;
        Ok((w, mark))
    }

    /// [`Self::open`] for an instance of a log on PostgreSQL, which starts halted
    /// rather than not at all (it serves reads and refuses writes, as every instance
    /// does once one halted): also returns the reason in [`HALT_FILE`], if any.
    ///
    /// # Errors
    /// The mark file cannot be read, or it is damaged.
    pub fn open_even_halted(
        dir: &Path,
        key: &VerifierKey,
    ) -> Result<(Watermark, Option<Mark>, Option<String>)> {
        let halted = std::fs::read_to_string(dir.join(HALT_FILE))
            .ok()
            .map(|r| r.trim().to_string());
        let path = dir.join(MARK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut best: Option<(u64, Mark)> = None;
        for slot in 0..2u64 {
            let mut buf = vec![0u8; SLOT];
            let Ok(n) = file.read_at(&mut buf, slot * SLOT as u64) else {
                continue;
            };
            if let Some(m) = decode_slot(&buf[..n], key) {
                if best
                    .as_ref()
                    .is_none_or(|(_, b)| b.checkpoint.size < m.checkpoint.size)
                {
                    best = Some((slot, m));
                }
            }
        }
        if best.is_none() && len > 0 {
            bail!(
                "CRITICAL: the high-water mark {} is damaged (no valid checkpoint signed by this log in it). \
                 It records the largest checkpoint the log signed; without it the log cannot tell whether \
                 its database lost entries. {RECOVERY_HINT} If you have checked that the database holds every \
                 entry your witnesses and mirrors have seen, remove the file to start again.",
                path.display()
            );
        }
        // Write next into the slot not holding the mark.
        let next = best.as_ref().map_or(0, |(s, _)| 1 - s);
        let held = best
            .as_ref()
            .map(|(_, m)| (m.checkpoint.size, m.checkpoint.root));
        Ok((
            Watermark {
                dir: dir.to_path_buf(),
                file: Mutex::new((file, next)),
                held: Mutex::new(held),
            },
            best.map(|(_, m)| m),
            halted,
        ))
    }

    /// Records `head` as the mark, durably (`fdatasync`), before it is served.
    ///
    /// # Errors
    /// If the write or the sync fails: the caller must not acknowledge the batch.
    pub fn record(&self, head: &TreeHead) -> Result<()> {
        let slot = encode_slot(&head.checkpoint)?;
        let mut g = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let (file, next) = &mut *g;
        file.write_all_at(&slot, *next * SLOT as u64)
            .context("writing the high-water mark")?;
        file.sync_data().context("syncing the high-water mark")?;
        *next = 1 - *next;
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some((head.size, head.root));
        Ok(())
    }

    /// Returns the (size, root) of the mark held: the one read at open, or the last
    /// one recorded since.
    pub fn held(&self) -> Option<(u64, Hash)> {
        *self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes the halt marker with `reason` (synced), so that the log does not start
    /// again until an operator removes it.
    ///
    /// # Errors
    /// If the file cannot be written.
    pub fn halt(&self, reason: &str) -> Result<()> {
        let path = self.dir.join(HALT_FILE);
        let mut f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        writeln!(f, "{reason}").context("writing the halt marker")?;
        f.sync_all().context("syncing the halt marker")?;
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Checks that `store` holds everything `mark` says the log signed: a tree at least
/// as large, and the same root at the mark's size.
///
/// # Errors
/// The store is behind the mark or disagrees with it (the message says what happened
/// and what the operator can do), or it cannot be read.
pub fn check_store(mark: &Mark, store: &dyn Store) -> Result<()> {
    check_head(mark.checkpoint.size, &mark.checkpoint.root, store)
}

/// [`check_store`] for a mark of `size` entries and root `root`.
///
/// # Errors
/// As [`check_store`].
pub fn check_head(want_size: u64, want_root: &Hash, store: &dyn Store) -> Result<()> {
    let head = store.head().context("reading the tree head")?;
    let size = head.as_ref().map_or(0, |h| h.size);
    if size < want_size {
        bail!(
            "CRITICAL: storage damage: the database holds {size} entries, but this log signed a checkpoint \
             of size {want_size} (high-water mark in {MARK_FILE}). Entries the log acknowledged are missing; \
             sequencing from here would sign other roots for sizes already signed (a fork). The log \
             refuses to start. {RECOVERY_HINT}"
        );
    }
    let at = store
        .checkpoint_at(want_size)
        .context("reading the checkpoint at the high-water mark")?;
    let root = at
        .as_deref()
        .and_then(|n| n.split('\n').nth(2).map(str::to_string));
    let want_root = urne_client::tree::hash_to_base64(want_root);
    if root.as_deref() != Some(want_root.as_str()) {
        bail!(
            "CRITICAL: storage damage: the database's checkpoint of size {want_size} does not have the root this \
             log signed for that size (high-water mark in {MARK_FILE}): the database holds another \
             history. The log refuses to start. {RECOVERY_HINT}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use urne_client::note::SignerKey;

    fn head(key: &SignerKey, size: u64, root: u8) -> TreeHead {
        let root = urne_client::tree::Hash([root; 32]);
        TreeHead {
            size,
            root,
            checkpoint: Checkpoint {
                origin: key.name().into(),
                size,
                root,
                extensions: vec![],
            }
            .sign(key),
        }
    }

    /// The larger valid slot wins; a torn slot falls back to the other one; both
    /// slots damaged is refused, never read as "no mark".
    #[test]
    fn slots_survive_a_torn_write() {
        let key = SignerKey::from_seed("mark.test/log", [3; 32]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (w, m) = Watermark::open(dir.path(), key.verifier()).unwrap();
        assert!(m.is_none());
        w.record(&head(&key, 5, 1)).unwrap();
        w.record(&head(&key, 9, 2)).unwrap();
        drop(w);
        let (_, m) = Watermark::open(dir.path(), key.verifier()).unwrap();
        assert_eq!(m.unwrap().checkpoint.size, 9);
        // Tear the slot holding size 9 (slot 1): size 5 is read back.
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join(MARK_FILE))
            .unwrap();
        f.write_all_at(b"garbage", SLOT as u64 + 40).unwrap();
        let (w, m) = Watermark::open(dir.path(), key.verifier()).unwrap();
        assert_eq!(m.unwrap().checkpoint.size, 5);
        drop(w);
        f.write_all_at(b"garbage", 40).unwrap();
        let err = Watermark::open(dir.path(), key.verifier()).unwrap_err();
        assert!(format!("{err:#}").contains("damaged"), "{err:#}");
        // A mark signed by another key is no mark of this log.
        let other = SignerKey::from_seed("mark.test/log", [4; 32]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (w, _) = Watermark::open(dir.path(), other.verifier()).unwrap();
        w.record(&head(&other, 3, 1)).unwrap();
        assert!(Watermark::open(dir.path(), key.verifier()).is_err());
    }
}
