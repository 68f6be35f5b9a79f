//! `urne forge-append`: a test-only tool that simulates a compromised operator. A
//! module of the `urne` binary, not of the server's library: it uses only the
//! library's public append path and storage.
//!
//! Owns: appending one entry to a stopped log's RocksDB store **bypassing every
//! election rule**, with correct stored hashes, lookups and a checkpoint signed by the
//! log key of the data directory, so that the tampered log looks perfectly consistent
//! to anyone who only checks proofs. It exists so that tests can show that monitors
//! and voters still catch such an entry by re-running the rules (e.g. a ballot
//! appended while the election was suspended).
//! Does not own: anything a real log does. Never use it on a real log; the server
//! must be stopped while it runs (RocksDB allows one process per directory).

use anyhow::{anyhow, bail, Context as _, Result};
use std::path::Path;
use urne::append::Appender;
use urne::keys;
use urne::sequencer::StoreStateView;
use urne::storage::{RocksStore, Store, TreeHead};
use urne_client::checkpoint::Checkpoint;
use urne_client::rules::{StateKey, StateValue, StateView, Subject};
use urne_client::statement::{Body, SignedStatement};
use urne_client::tree;

/// Appends the signed statement in `entry_file` to the log in `data` without checking
/// any rule, and signs a new checkpoint with the data directory's log key. Returns the
/// index of the forged entry.
///
/// # Errors
/// If the log is running or unreadable, the key file is missing, or the file is not
/// a parseable signed statement (the forgery must look like a real entry).
pub fn forge_append(data: &Path, entry_file: &Path) -> Result<u64> {
    let origin = keys::existing_origin(data)
        .ok_or_else(|| anyhow!("{} holds no log key", data.display()))?;
    let (key, created) = keys::load_or_create(data, &origin)?;
    if created {
        bail!("{} had no log key", data.display());
    }
    let bytes =
        std::fs::read(entry_file).with_context(|| format!("reading {}", entry_file.display()))?;
    let stmt = SignedStatement::parse(&bytes)
        .map_err(|e| anyhow!("{} is not a signed statement: {e}", entry_file.display()))?;
    let db_dir = data.join("db");
    let store = RocksStore::open(&db_dir, 8 << 20)
        .with_context(|| format!("opening {} (is the log stopped?)", db_dir.display()))?;
    let head = store
        .head()?
        .ok_or_else(|| anyhow!("log in {} is not initialised", data.display()))?;
    let index = head.size;
    // File the entry under the lookups a real one would have, so that the voter's
    // and receipt lookups find it.
    let election = stmt.statement.election.clone();
    let mut subjects = Vec::new();
    match &stmt.statement.body {
        Body::Ballot {
            credential,
            receipt,
            ..
        } => {
            subjects.push(Subject::Receipt(*receipt));
            subjects.push(Subject::Credential(*credential));
            let ck = StateKey::Credential {
                election,
                credential: *credential,
            };
            if let Ok(Some(StateValue::Credential(c))) = StoreStateView(&store).get(&ck) {
                subjects.push(Subject::Voter(c.voter));
            }
        }
        Body::Credential {
            voter, credential, ..
        } => {
            subjects.push(Subject::Voter(*voter));
            subjects.push(Subject::Credential(*credential));
        }
        _ => {}
    }
    // The log's own append path (urne::append), without its rules.
    let mut appender = Appender::new(&store, index);
    appender.push(
        bytes.clone(),
        tree::record_hash(&bytes),
        &stmt.statement,
        &subjects,
        false,
    )?;
    let size = appender.size();
    let root = appender.root()?;
    let mut commit = appender.into_commit(Vec::new());
    let checkpoint = Checkpoint {
        origin: key.name().to_string(),
        size,
        root,
        extensions: vec![],
    }
    .sign(&key);
    commit.head = Some(TreeHead {
        size,
        root,
        checkpoint,
    });
    store.commit(commit)?;
    Ok(index)
}
