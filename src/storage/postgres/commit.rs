//! The sequencer's commit in one round trip: `BEGIN`, one statement doing every
//! write of the batch with its fence, and `COMMIT`, sent together (pipelined on the
//! writer's connection) and answered together.
//!
//! Owns: that statement and when it applies ([`one_trip`]: a commit with a head it
//! extends, i.e. every sequencer batch). Other commits (a new log's empty tree, a
//! mirror's staged copy) take the general path of [`super::PgStore`].
//!
//! The statement is made of data-modifying common table expressions: `fence` locks
//! the lease row if it still carries this instance's epoch and the log is not halted
//! (`FOR UPDATE`: a takeover or a halt waits for this transaction, or this one sees
//! the new epoch or the halt, [`super::super::halt`]); `moved` replaces the
//! head only if it still is the head the batch extends and the fence held
//! (compare-and-swap); every insert (entries, hashes, lookups, leaves, rule state,
//! statistics, the checkpoint) happens only if `moved` did, from arrays
//! (`unnest`). It answers whether the fence and the swap held: if not, nothing was
//! written ([`super::super::StorageError::Fenced`]). The checkpoints' primary key
//! still refuses a second checkpoint of a size. The batch is acknowledged only once
//! the `COMMIT` answered, after PostgreSQL flushed it (and, with a synchronous
//! standby, after the standby did): the same durability as before, in one round trip
//! instead of five (begin, lease check, head swap, inserts, commit).

use super::{idx, Commit};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

/// A commit's rows as the column arrays that `unnest` inserts, built once for both
/// write paths (this one and [`super::PgStore`]'s general one): entries (`ei`, `eb`),
/// stored hashes (`hi`, `hh`), lookups (`ls`, `li`), leaves (`fh`, `fi`), rule state
/// (`sk`, `sv`) and statistics (`tk`, `tv`).
pub(super) struct Columns<'c> {
    pub ei: Vec<i64>,
    pub eb: Vec<&'c [u8]>,
    pub hi: Vec<i64>,
    pub hh: Vec<&'c [u8]>,
    pub ls: Vec<&'c [u8]>,
    pub li: Vec<i64>,
    pub fh: Vec<&'c [u8]>,
    pub fi: Vec<i64>,
    pub sk: Vec<&'c [u8]>,
    pub sv: Vec<&'c [u8]>,
    pub tk: Vec<&'c str>,
    pub tv: Vec<&'c [u8]>,
}

impl<'c> Columns<'c> {
    pub(super) fn of(c: &'c Commit) -> Columns<'c> {
        let (ei, eb): (Vec<i64>, Vec<&[u8]>) = c
            .entries
            .iter()
            .map(|(i, b)| (idx(i.0), b.as_slice()))
            .unzip();
        let (hi, hh): (Vec<i64>, Vec<&[u8]>) = c
            .hashes
            .iter()
            .map(|(i, h)| (idx(i.0), h.0.as_slice()))
            .unzip();
        let (ls, li): (Vec<&[u8]>, Vec<i64>) = c
            .lookups
            .iter()
            .map(|(s, i)| (s.as_slice(), idx(i.0)))
            .unzip();
        let (fh, fi): (Vec<&[u8]>, Vec<i64>) = c
            .leaves
            .iter()
            .map(|(h, i)| (h.0.as_slice(), idx(i.0)))
            .unzip();
        let (sk, sv): (Vec<&[u8]>, Vec<&[u8]>) = c
            .state
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .unzip();
        let (tk, tv): (Vec<&str>, Vec<&[u8]>) = c
            .stats
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .unzip();
        Columns {
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
        }
    }
}

/// The one statement (parameters: fence epoch, new head size, root, checkpoint, the
/// head it extends, then the arrays).
pub(super) const SQL: &str = "\
WITH fence AS (
    SELECT epoch FROM urne_leader
    WHERE one AND $1::bigint <> 0 AND epoch = $1::bigint AND NOT halted FOR UPDATE
), moved AS (
    UPDATE urne_head SET size = $2, root = $3, checkpoint = $4
    WHERE one AND size = $5 AND root = $6
      AND ($1::bigint = 0 OR EXISTS (SELECT 1 FROM fence))
      AND NOT EXISTS (SELECT 1 FROM urne_leader WHERE halted)
    RETURNING 1
), e AS (
    INSERT INTO urne_entries (idx, bytes)
    SELECT * FROM unnest($7::bigint[], $8::bytea[]) WHERE EXISTS (SELECT 1 FROM moved)
), h AS (
    INSERT INTO urne_hashes (idx, hash)
    SELECT * FROM unnest($9::bigint[], $10::bytea[]) WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT (idx) DO UPDATE SET hash = excluded.hash
), l AS (
    INSERT INTO urne_lookups (subject, idx)
    SELECT * FROM unnest($11::bytea[], $12::bigint[]) WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT DO NOTHING
), f AS (
    INSERT INTO urne_leaves (leaf, idx)
    SELECT * FROM unnest($13::bytea[], $14::bigint[]) WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT (leaf) DO UPDATE SET idx = excluded.idx
), s AS (
    INSERT INTO urne_state (key, value)
    SELECT * FROM unnest($15::bytea[], $16::bytea[]) WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value
), t AS (
    INSERT INTO urne_stats (election, value)
    SELECT * FROM unnest($17::text[], $18::bytea[]) WHERE EXISTS (SELECT 1 FROM moved)
    ON CONFLICT (election) DO UPDATE SET value = excluded.value
), c AS (
    INSERT INTO urne_checkpoints (size, note)
    SELECT $2, $4 WHERE EXISTS (SELECT 1 FROM moved)
)
SELECT (SELECT count(*) FROM fence), (SELECT count(*) FROM moved)";

/// Whether `c` takes the one-trip path: a batch extending a head, nothing staged.
pub(super) fn one_trip(c: &Commit) -> bool {
    c.head.is_some() && c.extends.is_some() && c.staged.is_none()
}

/// Applies `c` (for which [`one_trip`] holds) with the prepared [`SQL`]. `Ok(Err)`:
/// fenced, nothing written.
pub(super) async fn apply(
    client: &Client,
    stmt: &Statement,
    c: &Commit,
    fence: u64,
) -> Result<Result<(), String>, tokio_postgres::Error> {
    let (Some(h), Some((old_size, old_root))) = (&c.head, c.extends) else {
        return Ok(Err("not a batch extending a head".into()));
    };
    let Columns {
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
    } = Columns::of(c);
    let (fence_i, size, old) = (idx(fence), idx(h.size), idx(old_size));
    let params: [&(dyn ToSql + Sync); 18] = [
        &fence_i,
        &size,
        &h.root.0.as_slice(),
        &h.checkpoint,
        &old,
        &old_root.0.as_slice(),
        &ei,
        &eb,
        &hi,
        &hh,
        &ls,
        &li,
        &fh,
        &fi,
        &sk,
        &sv,
        &tk,
        &tv,
    ];
    // Sent together: the driver pipelines requests polled together, in order.
    let (begin, rows, commit) = futures::join!(
        client.batch_execute("BEGIN"),
        client.query(stmt, &params),
        client.batch_execute("COMMIT"),
    );
    begin?;
    // A failed statement aborted the transaction: its COMMIT answered ROLLBACK.
    let rows = rows?;
    commit?;
    let row = rows.first();
    let fenced: i64 = row.map_or(0, |r| r.get(0));
    let moved: i64 = row.map_or(0, |r| r.get(1));
    if moved == 1 {
        return Ok(Ok(()));
    }
    if fence != 0 && fenced == 0 {
        return Ok(Err(format!(
            "this instance's lease (epoch {fence}) was taken over: it is no longer the sequencer"
        )));
    }
    Ok(Err(format!(
        "the head moved: this batch extends size {old_size}, which is no longer the head"
    )))
}
