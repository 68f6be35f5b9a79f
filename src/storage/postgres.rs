//! PostgreSQL storage: the only module that knows SQL.
//!
//! Owns: the schema (created and migrated by urne, versioned in `urne_schema`), the
//! connections, the one-transaction commit with its fence, and the leader lease that
//! several `urne serve` on one database share (the decision of who leads is
//! [`crate::leader`]'s; this module only keeps the row).
//! Does not own: what is written (see [`super::Commit`]).
//!
//! # Tables (schema versions 1 to 3)
//!
//! - `urne_entries (idx, bytes)`, `urne_hashes (idx, hash)`: the entries and Go tlog's
//!   stored hashes, keyed by index;
//! - `urne_lookups (subject, idx)`, `urne_leaves (leaf, idx)`: the lookup indexes;
//! - `urne_state (key, value)`, `urne_stats (election, value)`: rule state, statistics;
//! - `urne_checkpoints (size, note)`: every checkpoint ever signed. Its primary key is
//!   the size, so a second checkpoint for a size already signed is a constraint
//!   violation that aborts the transaction: the database itself refuses a fork;
//! - `urne_head`: the one row holding the head (size, root, checkpoint);
//! - `urne_meta (name, value)`: the mirror's staged size;
//! - `urne_leader`: the one row of the lease (holder, URL, epoch, expiry).
//!
//! Version 2 adds what lived in a side RocksDB before ([`super::side`]), each record
//! checksummed ([`super::frame`]), read and written by `postgres_side.rs`:
//! - `urne_witness_notes (origin, value)`: a witness's latest cosigned note per log;
//! - `urne_evidence (n, value)`: the equivocation evidence, in the order added, shared
//!   by every instance of the log;
//! - `urne_cosigned`: the one row of the latest checkpoint the witnesses cosigned,
//!   written by the leader, served by every instance.
//!
//! Version 3 adds the shared halt ([`super::halt`]): `urne_halts (n, value, at)`, one
//! checksummed record per instance that halted the log, and the column `halted` of
//! `urne_leader`, set in the same transaction, which the fenced commit and taking the
//! lease check.
//!
//! # Commit and fence
//!
//! One [`Commit`] is one transaction, pipelined on one connection (a sequencer's batch
//! in one round trip: `postgres/commit.rs`'s single statement between `BEGIN` and `COMMIT`,
//! sent together); [`Store::commit`]
//! returns only after PostgreSQL acknowledged the `COMMIT` (with
//! `synchronous_commit = on`, the default, after its WAL flush, and with a
//! synchronous standby, after the standby has it too). In the same transaction:
//! - with a fence set ([`PgStore::set_fence`]), the lease row is locked and must
//!   still carry this instance's epoch: a leader that was paused or cut off while
//!   another took over cannot commit anything;
//! - with [`Commit::extends`], the head row is replaced only if it still is the head
//!   the batch extends (compare-and-swap). Either failure is
//!   [`StorageError::Fenced`], and nothing of the batch is written;
//! - without it, a head is written only into a log that has none (every instance
//!   that starts writes the new log's empty tree; it never overwrites a head).
//!
//! # Connections
//!
//! The driver is `tokio-postgres` (pure Rust). Its connection tasks run on a private
//! two-thread runtime, and the [`Store`] methods, which are synchronous like
//! RocksDB's, wait for their query on the calling thread. Readers share a few
//! connections (queries are pipelined on each, prepared once per connection); the
//! committer has its own; a closed connection (server restarted, standby promoted)
//! is reopened at the next use, from the same connection string, so a multi-host
//! string with `target_session_attrs=read-write` finds the new primary.

mod commit;

use super::{Commit, StorageError, Store, TreeHead};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};
use urne_client::tree::Hash;

/// The schema version this urne writes. A database of a newer version is refused.
pub const SCHEMA_VERSION: i32 = 3;

/// The migrations, in order: `MIGRATIONS[v]` takes the schema from version `v` to
/// `v + 1`. Never edit one that shipped: add the next.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE urne_entries (idx bigint PRIMARY KEY, bytes bytea NOT NULL);
CREATE TABLE urne_hashes (idx bigint PRIMARY KEY, hash bytea NOT NULL);
CREATE TABLE urne_lookups (subject bytea NOT NULL, idx bigint NOT NULL, PRIMARY KEY (subject, idx));
CREATE TABLE urne_leaves (leaf bytea PRIMARY KEY, idx bigint NOT NULL);
CREATE TABLE urne_state (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE urne_stats (election text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE urne_checkpoints (size bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE urne_head (one boolean PRIMARY KEY DEFAULT true CHECK (one),
    size bigint NOT NULL, root bytea NOT NULL, checkpoint text NOT NULL);
CREATE TABLE urne_meta (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE urne_leader (one boolean PRIMARY KEY DEFAULT true CHECK (one),
    holder text NOT NULL, url text NOT NULL, epoch bigint NOT NULL,
    expires timestamptz NOT NULL);
"#,
    r#"
CREATE TABLE urne_witness_notes (origin text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE urne_evidence (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE urne_cosigned (one boolean PRIMARY KEY DEFAULT true CHECK (one),
    size bigint NOT NULL, note text NOT NULL);
"#,
    r#"
CREATE TABLE urne_halts (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, value bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
ALTER TABLE urne_leader ADD COLUMN halted boolean NOT NULL DEFAULT false;
"#,
];

/// Why a fenced commit wrote nothing when the lease row says the log is halted.
pub(super) const HALTED: &str = "the log is halted (recorded in the database by an instance)";

/// Set on every connection (see `connect`): milliseconds.
const SESSION_SETTINGS: &str =
    "SET idle_in_transaction_session_timeout = 2000; SET lock_timeout = 5000";

/// Readers' connections: queries are pipelined on each, so a few suffice.
const READERS: usize = 4;

/// Who holds the lease, as the database says.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseRow {
    /// The holder's instance id.
    pub holder: String,
    /// The URL its API is reached at (followers forward writes there).
    pub url: String,
    /// The lease's epoch: it grows by one at every change of holder.
    pub epoch: u64,
    /// Whether the lease has expired (by the database's clock).
    pub expired: bool,
}

/// A readers' connection and the statements prepared on it: each read is then one
/// round trip (bind and execute) rather than two (parse, then bind and execute), and
/// the server plans it once per connection.
struct Reader {
    client: Client,
    prepared: Mutex<std::collections::HashMap<&'static str, tokio_postgres::Statement>>,
}

/// A log stored in PostgreSQL. See the module documentation.
pub struct PgStore {
    config: tokio_postgres::Config,
    rt: Option<tokio::runtime::Runtime>,
    readers: Vec<Mutex<Option<Arc<Reader>>>>,
    next: AtomicUsize,
    writer: Mutex<Option<Client>>,
    // The one-trip commit statement, prepared on the writer's connection (none after
    // a reconnection until the next commit prepares it again).
    one_trip: Mutex<Option<tokio_postgres::Statement>>,
    lease: Mutex<Option<Arc<Client>>>,
    fence: AtomicU64,
}

fn engine(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Engine(format!("PostgreSQL, {what}: {e}"))
}

fn idx(i: u64) -> i64 {
    // Indexes stay far below 2^63: a log of 9.2e18 entries does not fit any disk.
    i as i64
}

fn uidx(what: &str, i: i64) -> Result<u64, StorageError> {
    u64::try_from(i).map_err(|_| StorageError::Corrupt {
        what: what.to_string(),
        detail: format!("negative index {i}"),
    })
}

fn hash_of(what: &str, b: &[u8]) -> Result<Hash, StorageError> {
    let arr: [u8; 32] = b.try_into().map_err(|_| StorageError::Corrupt {
        what: what.to_string(),
        detail: format!("{} bytes, want 32", b.len()),
    })?;
    Ok(Hash(arr))
}

impl PgStore {
    /// Connects to the database at `url` (a libpq connection string or URL, several
    /// hosts allowed), creates or migrates the schema, and returns the store.
    ///
    /// # Errors
    /// An unparseable URL, an unreachable server, a schema newer than this urne.
    pub fn open(url: &str) -> Result<Self, StorageError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| engine("parsing the connection string", e))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        // A dead peer is noticed in seconds rather than the kernel's two hours.
        config.keepalives_idle(Duration::from_secs(5));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| engine("starting the driver's runtime", e))?;
        let store = PgStore {
            config,
            rt: Some(rt),
            readers: (0..READERS).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            writer: Mutex::new(None),
            one_trip: Mutex::new(None),
            lease: Mutex::new(None),
            fence: AtomicU64::new(0),
        };
        store.migrate()?;
        Ok(store)
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime kept until drop")
    }

    /// Waits for `f` on this thread (the driver's tasks run on the private runtime).
    fn wait<F: Future>(&self, f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    fn connect(&self) -> Result<Client, StorageError> {
        let config = self.config.clone();
        let task = self.rt().spawn(async move {
            let (client, conn) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::warn!("PostgreSQL connection closed: {e}");
                }
            });
            // A paused instance (SIGSTOP, a frozen VM) must not hold the lease row's
            // lock, taken by its commit, for longer than this: the server ends its
            // transaction and a follower can take over. Nothing waits on a lock
            // forever either.
            client.batch_execute(SESSION_SETTINGS).await?;
            Ok::<_, tokio_postgres::Error>(client)
        });
        self.wait(task)
            .map_err(|e| engine("connecting", e))?
            .map_err(|e| engine("connecting", e))
    }

    fn shared(&self, slot: &Mutex<Option<Arc<Client>>>) -> Result<Arc<Client>, StorageError> {
        let mut g = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = g.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = Arc::new(self.connect()?);
        *g = Some(c.clone());
        Ok(c)
    }

    fn reader(&self) -> Result<Arc<Reader>, StorageError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut g = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = g.as_ref().filter(|r| !r.client.is_closed()) {
            return Ok(r.clone());
        }
        // A new connection (or a reopened one): nothing prepared on it yet.
        let r = Arc::new(Reader {
            client: self.connect()?,
            prepared: Mutex::default(),
        });
        *g = Some(r.clone());
        Ok(r)
    }

    pub(super) fn query(
        &self,
        what: &str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StorageError> {
        let r = self.reader()?;
        let cached = r
            .prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned();
        let stmt = match cached {
            Some(s) => s,
            None => {
                let s = self
                    .wait(r.client.prepare(sql))
                    .map_err(|e| engine(what, e))?;
                r.prepared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(sql, s.clone());
                s
            }
        };
        self.wait(r.client.query(&stmt, params))
            .map_err(|e| engine(what, e))
    }

    fn migrate(&self) -> Result<(), StorageError> {
        let mut g = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|c| c.is_closed()) {
            *g = Some(self.connect()?);
        }
        let client = g.as_mut().expect("just connected");
        self.wait(async {
            let tx = client.transaction().await?;
            // Several instances starting at once: one migrates, the others wait.
            tx.execute("SELECT pg_advisory_xact_lock(7243019061)", &[])
                .await?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS urne_schema (version integer NOT NULL)")
                .await?;
            let v: Option<i32> = tx
                .query_one("SELECT max(version) FROM urne_schema", &[])
                .await?
                .get(0);
            let v = v.unwrap_or(0);
            if v > SCHEMA_VERSION {
                return Ok(Err(StorageError::Engine(format!(
                    "the database's urne schema is version {v}, newer than this urne's \
                     ({SCHEMA_VERSION}): run the urne that wrote it, or a newer one"
                ))));
            }
            for (from, sql) in MIGRATIONS.iter().enumerate().skip(v.max(0) as usize) {
                tx.batch_execute(sql).await?;
                tx.execute(
                    "INSERT INTO urne_schema (version) VALUES ($1)",
                    &[&(from as i32 + 1)],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Ok(()))
        })
        .map_err(|e: tokio_postgres::Error| engine("creating or migrating the schema", e))?
    }

    /// Returns the schema version of the database.
    ///
    /// # Errors
    /// If the database cannot be read.
    pub fn schema_version(&self) -> Result<i32, StorageError> {
        let rows = self.query(
            "schema version",
            "SELECT max(version) FROM urne_schema",
            &[],
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<_, Option<i32>>(0))
            .unwrap_or(0))
    }

    /// Fences every later commit with the lease epoch `epoch` (0: no fence): a commit
    /// applies only while the lease row still carries it.
    pub fn set_fence(&self, epoch: u64) {
        self.fence.store(epoch, Ordering::SeqCst);
    }

    /// Takes the lease for `holder` (reached at `url`) for `lease`, if it is free or
    /// expired by the database's clock. Returns the new epoch if taken.
    ///
    /// # Errors
    /// If the database cannot be reached.
    pub fn try_lead(
        &self,
        holder: &str,
        url: &str,
        lease: Duration,
    ) -> Result<Option<u64>, StorageError> {
        let c = self.shared(&self.lease)?;
        let ms = lease.as_millis() as f64;
        let rows = self
            .wait(c.query(
                "INSERT INTO urne_leader (one, holder, url, epoch, expires) \
                 VALUES (true, $1, $2, 1, clock_timestamp() + $3::float8 * interval '1 millisecond') \
                 ON CONFLICT (one) DO UPDATE SET holder = excluded.holder, url = excluded.url, \
                   epoch = urne_leader.epoch + 1, expires = excluded.expires \
                 WHERE urne_leader.expires < clock_timestamp() AND NOT urne_leader.halted \
                 RETURNING epoch",
                &[&holder, &url, &ms],
            ))
            .map_err(|e| engine("taking the lease", e))?;
        rows.first()
            .map(|r| uidx("lease epoch", r.get(0)))
            .transpose()
    }

    /// Extends the lease of epoch `epoch` by `lease` from now. Returns `false` if the
    /// lease has another epoch (another instance took over: this one must stop).
    ///
    /// # Errors
    /// If the database cannot be reached.
    pub fn renew_lead(&self, epoch: u64, lease: Duration) -> Result<bool, StorageError> {
        let c = self.shared(&self.lease)?;
        let ms = lease.as_millis() as f64;
        let n = self
            .wait(c.execute(
                "UPDATE urne_leader SET expires = clock_timestamp() + $2::float8 * interval '1 millisecond' \
                 WHERE one AND epoch = $1",
                &[&idx(epoch), &ms],
            ))
            .map_err(|e| engine("renewing the lease", e))?;
        Ok(n == 1)
    }

    /// Lets the lease of epoch `epoch` expire now (a clean stop hands over at once).
    ///
    /// # Errors
    /// If the database cannot be reached.
    pub fn release_lead(&self, epoch: u64) -> Result<(), StorageError> {
        let c = self.shared(&self.lease)?;
        self.wait(c.execute(
            "UPDATE urne_leader SET expires = clock_timestamp() - interval '1 second' \
             WHERE one AND epoch = $1",
            &[&idx(epoch)],
        ))
        .map_err(|e| engine("releasing the lease", e))?;
        Ok(())
    }

    /// Returns the lease row, if any instance ever led.
    ///
    /// # Errors
    /// If the database cannot be reached.
    pub fn leader(&self) -> Result<Option<LeaseRow>, StorageError> {
        let c = self.shared(&self.lease)?;
        let rows = self
            .wait(c.query(
                "SELECT holder, url, epoch, expires < clock_timestamp() FROM urne_leader",
                &[],
            ))
            .map_err(|e| engine("reading the lease", e))?;
        rows.first()
            .map(|r| {
                Ok(LeaseRow {
                    holder: r.get(0),
                    url: r.get(1),
                    epoch: uidx("lease epoch", r.get(2))?,
                    expired: r.get(3),
                })
            })
            .transpose()
    }

    async fn apply(
        client: &mut Client,
        c: &Commit,
        fence: u64,
    ) -> Result<Result<(), String>, tokio_postgres::Error> {
        let tx = client.transaction().await?;
        if fence != 0 {
            // Lock the lease row: a takeover waits for this commit, or this commit
            // sees the new epoch and writes nothing.
            let rows = tx
                .query(
                    "SELECT epoch, halted FROM urne_leader WHERE one FOR UPDATE",
                    &[],
                )
                .await?;
            let now: Option<i64> = rows.first().map(|r| r.get(0));
            if rows.first().is_some_and(|r| r.get::<_, bool>(1)) {
                return Ok(Err(HALTED.into()));
            }
            if now != Some(idx(fence)) {
                return Ok(Err(format!(
                    "this instance's lease (epoch {fence}) was taken over (epoch {now:?}): \
                     it is no longer the sequencer"
                )));
            }
        }
        if let Some(h) = &c.head {
            let n = match c.extends {
                Some((size, root)) => {
                    tx.execute(
                        "UPDATE urne_head SET size = $1, root = $2, checkpoint = $3 \
                         WHERE one AND size = $4 AND root = $5",
                        &[
                            &idx(h.size),
                            &h.root.0.as_slice(),
                            &h.checkpoint,
                            &idx(size),
                            &root.0.as_slice(),
                        ],
                    )
                    .await?
                }
                None => {
                    // Unfenced: only into a new log (its empty tree, written by
                    // every instance that starts; never over a head that moved).
                    tx.execute(
                        "INSERT INTO urne_head (one, size, root, checkpoint) VALUES (true, $1, $2, $3) \
                         ON CONFLICT (one) DO NOTHING",
                        &[&idx(h.size), &h.root.0.as_slice(), &h.checkpoint],
                    )
                    .await?;
                    1
                }
            };
            if n != 1 {
                return Ok(Err(format!(
                    "the head moved: this batch extends size {:?}, which is no longer the head",
                    c.extends.map(|e| e.0)
                )));
            }
        }
        let commit::Columns {
            ei,
            eb,
            hi,
            hh,
            ls,
            li,
            fh,
            fi,
            sk,
            sv,
            tk,
            tv,
        } = commit::Columns::of(c);
        let staged = c.staged.map(idx);
        let head_size = c.head.as_ref().map(|h| idx(h.size));
        type Params<'p> = Vec<&'p (dyn ToSql + Sync)>;
        let mut stmts: Vec<(&str, Params<'_>)> = Vec::new();
        if !ei.is_empty() {
            stmts.push((
                "INSERT INTO urne_entries (idx, bytes) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                vec![&ei, &eb],
            ));
        }
        if !hi.is_empty() {
            stmts.push((
                "INSERT INTO urne_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (idx) DO UPDATE SET hash = excluded.hash",
                vec![&hi, &hh],
            ));
        }
        if !ls.is_empty() {
            stmts.push((
                "INSERT INTO urne_lookups (subject, idx) SELECT * FROM unnest($1::bytea[], $2::bigint[]) \
                 ON CONFLICT DO NOTHING",
                vec![&ls, &li],
            ));
        }
        if !fh.is_empty() {
            stmts.push((
                "INSERT INTO urne_leaves (leaf, idx) SELECT * FROM unnest($1::bytea[], $2::bigint[]) \
                 ON CONFLICT (leaf) DO UPDATE SET idx = excluded.idx",
                vec![&fh, &fi],
            ));
        }
        if !sk.is_empty() {
            stmts.push((
                "INSERT INTO urne_state (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![&sk, &sv],
            ));
        }
        if !tk.is_empty() {
            stmts.push((
                "INSERT INTO urne_stats (election, value) SELECT * FROM unnest($1::text[], $2::bytea[]) \
                 ON CONFLICT (election) DO UPDATE SET value = excluded.value",
                vec![&tk, &tv],
            ));
        }
        if let Some(n) = &staged {
            stmts.push((
                "INSERT INTO urne_meta (name, value) VALUES ('staged', $1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                vec![n],
            ));
        }
        if let (Some(h), Some(size)) = (&c.head, &head_size) {
            // A fenced commit inserts plainly: a second checkpoint for a signed size
            // violates the primary key and aborts the whole batch. An unfenced one
            // (a new log's empty tree) leaves a checkpoint in place.
            stmts.push((
                if c.extends.is_some() {
                    "INSERT INTO urne_checkpoints (size, note) VALUES ($1, $2)"
                } else {
                    "INSERT INTO urne_checkpoints (size, note) VALUES ($1, $2) \
                     ON CONFLICT (size) DO NOTHING"
                },
                vec![size, &h.checkpoint],
            ));
        }
        // All of the batch's writes are sent at once, pipelined on the connection.
        let writes = stmts.iter().map(|(sql, p)| tx.execute(*sql, p.as_slice()));
        futures::future::try_join_all(writes).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime may happen on an async thread: do not block there.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn head(&self) -> Result<Option<TreeHead>, StorageError> {
        let rows = self.query(
            "reading the head",
            "SELECT size, root, checkpoint FROM urne_head",
            &[],
        )?;
        rows.first()
            .map(|r| {
                Ok(TreeHead {
                    size: uidx("tree head size", r.get(0))?,
                    root: hash_of("tree head root", r.get(1))?,
                    checkpoint: r.get(2),
                })
            })
            .transpose()
    }

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StorageError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let want: Vec<i64> = indexes.iter().map(|i| idx(*i)).collect();
        let rows = self.query(
            "reading stored hashes",
            "SELECT idx, hash FROM urne_hashes WHERE idx = ANY($1)",
            &[&want],
        )?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let i: i64 = r.get(0);
            found.insert(i, hash_of(&format!("stored hash {i}"), r.get(1))?);
        }
        indexes
            .iter()
            .map(|i| {
                found
                    .get(&idx(*i))
                    .copied()
                    .ok_or_else(|| StorageError::Corrupt {
                        what: format!("stored hash {i}"),
                        detail: "missing".into(),
                    })
            })
            .collect()
    }

    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        if end <= start {
            return Ok(Vec::new());
        }
        let rows = self.query(
            "reading entries",
            "SELECT idx, bytes FROM urne_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&idx(start), &idx(end)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let i: i64 = r.get(0);
            let want = start + out.len() as u64;
            if uidx("entry index", i)? != want {
                break;
            }
            out.push(r.get::<_, Vec<u8>>(1));
        }
        if (out.len() as u64) < end - start {
            return Err(StorageError::Corrupt {
                what: format!("entry {}", start + out.len() as u64),
                detail: "missing".into(),
            });
        }
        Ok(out)
    }

    fn leaf_index(&self, leaf: &Hash) -> Result<Option<u64>, StorageError> {
        let rows = self.query(
            "reading a leaf index",
            "SELECT idx FROM urne_leaves WHERE leaf = $1",
            &[&leaf.0.as_slice()],
        )?;
        rows.first()
            .map(|r| uidx("leaf index", r.get(0)))
            .transpose()
    }

    fn leaf_indexes(&self, leaves: &[Hash]) -> Result<Vec<Option<u64>>, StorageError> {
        if leaves.is_empty() {
            return Ok(Vec::new());
        }
        let want: Vec<&[u8]> = leaves.iter().map(|l| l.0.as_slice()).collect();
        let rows = self.query(
            "reading leaf indexes",
            "SELECT leaf, idx FROM urne_leaves WHERE leaf = ANY($1)",
            &[&want],
        )?;
        let mut found = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let leaf = hash_of("leaf hash", r.get(0))?;
            found.insert(leaf.0, uidx("leaf index", r.get(1))?);
        }
        Ok(leaves.iter().map(|l| found.get(&l.0).copied()).collect())
    }

    fn states(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let want: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let rows = self.query(
            "reading rule state",
            "SELECT key, value FROM urne_state WHERE key = ANY($1)",
            &[&want],
        )?;
        let mut found: std::collections::HashMap<Vec<u8>, Vec<u8>> =
            std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            found.insert(r.get(0), r.get(1));
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let rows = self.query(
            "reading rule state",
            "SELECT value FROM urne_state WHERE key = $1",
            &[&key],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn lookup(&self, subject: &[u8], from: u64, limit: usize) -> Result<Vec<u64>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "reading a lookup",
            "SELECT idx FROM urne_lookups WHERE subject = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
            &[&subject, &idx(from), &limit],
        )?;
        rows.iter()
            .map(|r| uidx("lookup index", r.get(0)))
            .collect()
    }

    fn stats(&self, election: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let rows = self.query(
            "reading statistics",
            "SELECT value FROM urne_stats WHERE election = $1",
            &[&election],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn elections(&self) -> Result<Vec<String>, StorageError> {
        let rows = self.query(
            "listing elections",
            "SELECT election FROM urne_stats ORDER BY election",
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<String>, StorageError> {
        let rows = self.query(
            "reading a checkpoint",
            "SELECT note FROM urne_checkpoints WHERE size = $1",
            &[&idx(size)],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn staged(&self) -> Result<Option<u64>, StorageError> {
        let rows = self.query(
            "reading the staged size",
            "SELECT value FROM urne_meta WHERE name = 'staged'",
            &[],
        )?;
        rows.first()
            .map(|r| uidx("staged size", r.get(0)))
            .transpose()
    }

    fn commit(&self, c: Commit) -> Result<(), StorageError> {
        let mut g = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut one_trip = self.one_trip.lock().unwrap_or_else(|p| p.into_inner());
        if g.as_ref().is_none_or(|c| c.is_closed()) {
            *g = Some(self.connect()?);
            *one_trip = None;
        }
        let client = g.as_mut().expect("just connected");
        let fence = self.fence.load(Ordering::SeqCst);
        let outcome = if commit::one_trip(&c) {
            // A sequencer batch: one round trip (see `commit`).
            let stmt = match one_trip.as_ref() {
                Some(s) => s.clone(),
                None => {
                    let s = self
                        .wait(client.prepare(commit::SQL))
                        .map_err(|e| engine("preparing the commit", e))?;
                    *one_trip = Some(s.clone());
                    s
                }
            };
            self.wait(commit::apply(client, &stmt, &c, fence))
        } else {
            self.wait(Self::apply(client, &c, fence))
        };
        drop(one_trip);
        drop(g);
        match outcome {
            Ok(Ok(())) => Ok(()),
            // Fenced: by the halt, or by another leader (the halt's reason is read
            // from its record, so that the refusal says why).
            Ok(Err(why)) => match self.halt_state() {
                Ok(h) => match h.reason() {
                    Some(reason) => Err(StorageError::Halted(reason)),
                    None if why == HALTED => Err(StorageError::Halted(why)),
                    None => Err(StorageError::Fenced(why)),
                },
                Err(e) if why == HALTED => Err(StorageError::Halted(format!(
                    "{why}; its records cannot be read: {e}"
                ))),
                Err(_) => Err(StorageError::Fenced(why)),
            },
            // A lost connection leaves the outcome unknown: the caller treats the
            // batch as failed (not acknowledged) and a restart rereads the head.
            Err(e) => Err(engine("committing a batch", e)),
        }
    }

    fn remote(&self) -> bool {
        true
    }

    fn disk_usage(&self) -> u64 {
        self.query(
            "database size",
            "SELECT pg_database_size(current_database())",
            &[],
        )
        .ok()
        .and_then(|r| r.first().map(|r| r.get::<_, i64>(0)))
        .map_or(0, |n| n.max(0) as u64)
    }
}
