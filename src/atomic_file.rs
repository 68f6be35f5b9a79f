//! Writing a small file atomically (the cosigned checkpoint, the elections' seals):
//! after a crash the file holds the old bytes or the new ones, never a mix.
//!
//! Owns: [`write_atomic`]. Does not own: what is written, nor the log's own state
//! (storage, and [`crate::watermark`] for the largest signed checkpoint).

use anyhow::{Context as _, Result};

/// Writes `bytes` to `path` atomically: a temporary file, fsynced, renamed over it,
/// then the directory fsynced, so a crash leaves the old note or the new one.
///
/// # Errors
/// If the temporary file cannot be created, written, synced or renamed.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes).context("writing")?;
    f.sync_all().context("syncing")?;
    std::fs::rename(&tmp, path).context("renaming")?;
    if let Some(d) = path.parent() {
        if let Ok(d) = std::fs::File::open(d) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
