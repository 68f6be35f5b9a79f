//! Storage: the one interface between the log and its disk.
//!
//! Owns: the [`Store`] contract, the shape of a committed batch ([`Commit`]) and the
//! two kinds of index it holds ([`LeafIndex`], [`StoredHashIndex`]); and, beside the
//! log, the small stores of other records, each behind its own trait with a RocksDB,
//! memory and PostgreSQL implementation: a witness's notes ([`NoteStore`]) and the
//! equivocation evidence ([`EvidenceStore`]), checksummed ([`frame`]) and kept in a
//! side RocksDB ([`SideDb`]) or in the log's PostgreSQL database; and the cosigned head
//! the instances of a log on PostgreSQL share ([`CosignedStore`]), and their shared
//! halt ([`halt`]).
//! Does not own: what is valid (the rules engine of `urne-client`), the order of
//! entries (the sequencer), nor any encoding beyond the key layout described here.
//!
//! # Contract
//!
//! - **Atomicity.** [`Store::commit`] writes a whole [`Commit`] or nothing: entries,
//!   stored hashes, lookup indexes, election state, statistics and the new tree head
//!   become visible together.
//! - **Durability.** When `commit` returns `Ok`, the batch survives `kill -9` and power
//!   loss (RocksDB: one `WriteBatch` with `sync = true`). Only then may the sequencer
//!   acknowledge anything in it.
//! - **Ordering.** Commits are applied in the order they are made; there is exactly one
//!   writer (the sequencer), so no two commits race.
//! - **Fence.** A commit with [`Commit::extends`] applies only if the store's head is
//!   still exactly that (size, root), checked in the same atomic write; otherwise
//!   nothing is written and the answer is [`StorageError::Fenced`]. Several log
//!   instances on one database (PostgreSQL) rely on it, with the lease epoch that
//!   [`PgStore`] checks in the same transaction, so that a paused or cut-off former
//!   leader can never append: the log never signs two trees of one size.
//! - **Concurrency.** Reads may run on any thread at any time, concurrently with a
//!   commit; a reader sees either all or none of a commit. Readers must read the tree
//!   head first and only ask for what it covers.
//! - **Not found** is `Ok(None)` / an empty vector, never an error. Errors are I/O or
//!   corruption.
//! - **Memory.** Nothing proportional to the log size is held in RAM.

#[doc(hidden)]
pub mod contract;
pub mod cosigned;
pub mod evidence;
pub mod frame;
pub mod halt;
pub mod memory;
pub mod notes;
pub mod postgres;
mod postgres_side;
pub mod rocks;
pub mod side;

use urne_client::tree::Hash;

pub use cosigned::{CosignedStore, MemoryCosigned};
pub use evidence::{EvidenceStore, MemoryEvidence};
pub use halt::{Halt, HaltState};
pub use memory::MemoryStore;
pub use notes::{MemoryNotes, NoteStore};
pub use postgres::PgStore;
pub use rocks::RocksStore;
pub use side::SideDb;

/// Errors of the storage layer: I/O or corruption, never "not found".
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The storage engine failed.
    #[error("storage engine: {0}")]
    Engine(String),
    /// Stored bytes do not decode: the data directory is damaged.
    #[error("corrupt data at {what}: {detail}")]
    Corrupt {
        /// Which record.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The commit was refused because the head it extends is no longer the head, or
    /// this instance no longer holds the lease: another sequencer took over.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The commit was refused because the log is halted (an instance of a log on
    /// PostgreSQL recorded the halt in the database, [`halt`]): nothing is written.
    #[error("the log is halted: {0}")]
    Halted(String),
}

/// The signed head of the tree as last committed.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeHead {
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash of those entries.
    pub root: Hash,
    /// The log-signed checkpoint note for (size, root).
    pub checkpoint: String,
}

/// The index of an entry in the log (its leaf): 0 for the first entry, `size - 1` for
/// the last. A distinct type from [`StoredHashIndex`] so that the two `u64`s of a
/// [`Commit`] cannot be swapped (as ct-merkle keeps leaf and node indexes apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafIndex(pub u64);

/// The index of a stored hash in Go's tlog layout (`tlog.StoredHashIndex(level, n)`,
/// `urne_client::tree::stored_hash_index`): every node of the tree, leaves included,
/// numbered in the order the hashes are first computed. Leaf `n`'s own hash sits at
/// `stored_hash_index(0, n)`, not at `n`: see [`LeafIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredHashIndex(pub u64);

/// Everything one sequencer batch writes, applied atomically by [`Store::commit`].
#[derive(Default, Debug)]
pub struct Commit {
    /// New entries: (leaf index, entry bytes), contiguous from the old tree size.
    pub entries: Vec<(LeafIndex, Vec<u8>)>,
    /// New stored hashes: (stored-hash index, hash), as Go's tlog lays them out.
    pub hashes: Vec<(StoredHashIndex, Hash)>,
    /// Lookup index rows: (subject key, leaf index).
    pub lookups: Vec<(Vec<u8>, LeafIndex)>,
    /// Leaf hash → leaf index of each new entry (duplicate detection).
    pub leaves: Vec<(Hash, LeafIndex)>,
    /// Election-rule state: (encoded `StateKey`, encoded `StateValue`).
    pub state: Vec<(Vec<u8>, Vec<u8>)>,
    /// Per-election statistics: (election id, encoded statistics).
    pub stats: Vec<(String, Vec<u8>)>,
    /// The new tree head (size, root, signed checkpoint).
    pub head: Option<TreeHead>,
    /// A mirror copying in chunks: the size up to which entries (with their hashes,
    /// lookups, rule state and statistics) are stored ahead of the head, proven to be
    /// a prefix of a log-signed tree but not covered by a checkpoint served yet. A
    /// restart resumes there rather than applying the election rules twice. A value
    /// not above the head's size means nothing is staged.
    pub staged: Option<u64>,
    /// The head this commit extends, as (size, root): the store applies the commit
    /// only if that still is its head (see "Fence"). `None`: no check (a new log's
    /// empty tree, a mirror's copy, the forge: single writers by construction).
    pub extends: Option<(u64, Hash)>,
}

/// The storage of a log. See the module documentation for the contract.
pub trait Store: Send + Sync + 'static {
    /// Returns the last committed tree head, or `None` for a new log.
    fn head(&self) -> Result<Option<TreeHead>, StorageError>;
    /// Returns the stored hashes at `indexes`, in order; a missing one is corruption.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError>;
    /// Returns entries `start..end`; a missing one is corruption.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError>;
    /// Returns the index of the entry whose leaf hash is `leaf`, if any.
    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError>;
    /// Returns the leaf index of each of `leaves`, in order (`None`: not in the log):
    /// [`Store::leaf_index`] for a whole batch at once (one query on PostgreSQL).
    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError>;
    /// Returns the election-rule state value under an encoded `StateKey`.
    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Returns the rule state value under each of `keys`, in order: [`Store::state`]
    /// for a whole batch at once (one query on PostgreSQL). A key may repeat.
    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError>;
    /// Returns up to `limit` leaf indexes at or above `from` filed under `subject`, in
    /// increasing order (a page: the next one starts after the last index returned).
    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError>;
    /// Returns an election's statistics as last committed.
    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Lists every election id with statistics.
    fn elections(&self) -> Result<Vec<String>, StorageError>;
    /// Returns the checkpoint the log signed when its tree had exactly `size` entries.
    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError>;
    /// Returns the last [`Commit::staged`] size written, if any.
    fn staged(&self) -> Result<Option<u64>, StorageError>;
    /// Applies `commit` atomically and durably (see the contract).
    fn commit(&self, commit: Commit) -> Result<(), StorageError>;
    /// Whether each read waits for a round trip to another process (PostgreSQL), so
    /// that callers on an async runtime run reads off its workers
    /// ([`crate::api::ReadView::read`]). False for stores in this process.
    fn remote(&self) -> bool {
        false
    }
    /// Approximate bytes used on disk (for `/v1/stats` and benchmarks).
    fn disk_usage(&self) -> u64 {
        0
    }
    /// Bytes of memory the engine holds, by use (for `/metrics`): what its bounded
    /// caches and buffers hold now. Empty for engines that keep nothing in process.
    fn memory(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// Checks [`Commit::extends`] against `head` for the stores that keep one writer per
/// process (RocksDB, memory): the same refusal as PostgreSQL's compare-and-swap.
pub(crate) fn check_extends(c: &Commit, head: Option<&TreeHead>) -> Result<(), StorageError> {
    match (c.extends, head) {
        (None, _) => Ok(()),
        (Some((size, root)), Some(h)) if h.size == size && h.root == root => Ok(()),
        (Some((size, _)), h) => Err(StorageError::Fenced(format!(
            "the head moved: this batch extends size {size}, the head is {:?}",
            h.map(|h| h.size)
        ))),
    }
}

/// Lets `urne_client`'s proof functions read stored hashes from a [`Store`].
pub struct StoreHashReader<'a>(pub &'a dyn Store);

impl urne_client::tree::HashReader for StoreHashReader<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0
            .read_hashes(indexes)
            .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))
    }
}

/// Encodes a u64 as 8 big-endian bytes, so that keys sort by number.
pub(crate) fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Decodes 8 big-endian bytes.
pub(crate) fn from_be(what: &str, b: &[u8]) -> Result<u64, StorageError> {
    let arr: [u8; 8] = b.try_into().map_err(|_| StorageError::Corrupt {
        what: what.to_string(),
        detail: format!("{} bytes, want 8", b.len()),
    })?;
    Ok(u64::from_be_bytes(arr))
}

/// Encodes a tree head as `size(8) ‖ root(32) ‖ checkpoint`.
pub(crate) fn encode_head(h: &TreeHead) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + h.checkpoint.len());
    v.extend_from_slice(&be(h.size));
    v.extend_from_slice(&h.root.0);
    v.extend_from_slice(h.checkpoint.as_bytes());
    v
}

/// Decodes a tree head written by [`encode_head`].
pub(crate) fn decode_head(b: &[u8]) -> Result<TreeHead, StorageError> {
    let corrupt = |d: &str| StorageError::Corrupt {
        what: "tree head".into(),
        detail: d.into(),
    };
    if b.len() < 40 {
        return Err(corrupt("short"));
    }
    let size = from_be("tree head size", &b[..8])?;
    let mut root = [0u8; 32];
    root.copy_from_slice(&b[8..40]);
    let checkpoint =
        String::from_utf8(b[40..].to_vec()).map_err(|_| corrupt("checkpoint not UTF-8"))?;
    Ok(TreeHead {
        size,
        root: Hash(root),
        checkpoint,
    })
}
