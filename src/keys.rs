//! The log's signing key: loaded in one place, created on first start, never logged.
//!
//! Owns: the key file `log.key` in the data directory (mode 0600, holding the C2SP
//! signer key string) and the check that a data directory keeps its origin.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;
use urne_client::note::SignerKey;

/// The name of the key file inside the data directory.
pub const LOG_KEY_FILE: &str = "log.key";

/// Loads the log key from `dir`, or generates one named `origin` if the directory has
/// none. Returns the key and whether it was created now.
///
/// # Errors
/// If the file is unreadable or malformed, or holds a key for another origin (a data
/// directory never changes origin: that would be another log).
pub fn load_or_create(dir: &Path, origin: &str) -> Result<(SignerKey, bool)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    let path = dir.join(LOG_KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let key = SignerKey::parse(text.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if key.name() != origin {
            bail!(
                "data directory {} belongs to log {:?}, not {:?}: pass --origin {:?} or use another --data",
                dir.display(),
                key.name(),
                origin,
                key.name()
            );
        }
        return Ok((key, false));
    }
    let key = SignerKey::generate(origin).map_err(|e| anyhow::anyhow!("origin {origin:?}: {e}"))?;
    write_secret(&path, &key.to_signer_string())?;
    Ok((key, true))
}

/// Reads the origin recorded by an existing key file, if any.
pub fn existing_origin(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOG_KEY_FILE)).ok()?;
    SignerKey::parse(text.trim())
        .ok()
        .map(|k| k.name().to_string())
}

/// Writes a secret file with mode 0600, durably, refusing to overwrite.
///
/// # Errors
/// If the file exists or cannot be written.
pub fn write_secret(path: &Path, secret: &str) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok(())
}
