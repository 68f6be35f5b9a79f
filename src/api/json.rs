//! Convenience JSON read API: lookups by receipt and voter tag, proofs, elections,
//! statistics, Prometheus metrics.
//!
//! Owns: these endpoints' shapes. Every answer that states something about the log
//! carries what a client needs to check it (entry bytes, inclusion proof, the signed
//! checkpoint): clients verify, they never trust these answers.

use super::{ApiError, ReadView};
use crate::sequencer::SequencerMetrics;
use crate::stats::ElectionStats;
use crate::storage::StoreHashReader;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use urne_client::api::{
    hashes_to_base64, ConsistencyAnswer, InclusionAnswer, LogInfo, ProvedEntry, ReceiptAnswer,
    VoterPage,
};
use urne_client::rules::{StateKey, StateValue, StateView, Subject};
use urne_client::statement::{SignedStatement, Tag};
use urne_client::tree;

/// Most lookup rows a page of `/v1/voters/<tag>` scans (and so the most entries it
/// lists): a client follows `next` for the rest.
pub const VOTER_PAGE: usize = 1000;

fn prove_entry(app: &ReadView, size: u64, index: u64) -> Result<ProvedEntry, ApiError> {
    let bytes = app
        .store
        .entries(index, index + 1)?
        .pop()
        .ok_or_else(|| ApiError::internal(format!("entry {index} missing")))?;
    let proof = tree::prove_inclusion(index, size, &StoreHashReader(&*app.store))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let (kind, time) = match SignedStatement::parse(&bytes) {
        Ok(s) => (
            s.statement.statement_type().as_str().to_string(),
            s.statement.time.to_string(),
        ),
        Err(_) => ("unknown".into(), String::new()),
    };
    Ok(ProvedEntry {
        index,
        kind,
        time,
        leaf_hash: tree::hash_to_hex(&tree::record_hash(&bytes)),
        entry: String::from_utf8_lossy(&bytes).into_owned(),
        inclusion_proof: hashes_to_base64(&proof),
    })
}

fn parse_tag(s: &str) -> Result<Tag, ApiError> {
    s.parse::<Tag>().map_err(|_| {
        ApiError::bad_request("bad_tag", format!("{s:?} is not 64 lowercase hex digits"))
    })
}

/// GET /v1/log: who this log is.
pub async fn log_info(State(app): State<ReadView>) -> Json<LogInfo> {
    let head = app.head();
    let (serving, serving_reason) = app.cosign.serving();
    Json(LogInfo {
        origin: app.log_key.name().to_string(),
        verifier_key: app.log_key.to_string(),
        tree_size: head.size,
        witnesses: app.cosign.statuses(),
        witness_quorum: app.cosign.quorum(),
        // The mirrors it pushes to, each with its latest "I hold it up to N".
        push_mirrors: app.mirrors.statuses(),
        // How often an idle log asks its witnesses again (its check-in rate).
        witness_checkin_secs: app.cosign.checkin().as_secs(),
        // At most this many add-checkpoint requests a day to each witness (`None`:
        // one per new checkpoint): the `qpd` of a witness network's log list.
        witness_requests_per_day: app.cosign.requests_per_day(),
        cosigned: app.cosign.served().is_some(),
        // What `/checkpoint` serves and why (the cosigned head survives restarts).
        serving: serving.to_string(),
        serving_reason,
        cosigned_size: app.cosign.served().map(|s| s.0),
        mirror_of: app.cosign.mirrored_log().map(str::to_string),
        version: env!("CARGO_PKG_VERSION").to_string(),
        max_entry_size: urne_client::statement::MAX_ENTRY_SIZE,
        // How far from the log's clock a statement's time may be (`urne demo --log
        // --hours` reads it to spread an election over past hours).
        time_tolerance_secs: app.time_tolerance_secs(),
        // The largest tolerance an election may seal here. Each election's statements
        // are judged with the tolerance sealed in its `election` statement; the one
        // above only judges elections sealed before tolerances were (rules 1).
        max_time_tolerance_secs: app.time_tolerance_secs(),
        rules_version: urne_client::rules::RULES_VERSION,
        // Several instances on one database: whether this one sequences, and which
        // one does (followers forward writes there). Alone, it always leads.
        leading: app.leading(),
        halted: app
            .sequencer
            .as_ref()
            .and_then(|s| s.halted())
            .map(str::to_string),
        instance: app.role.as_ref().map(|r| urne_client::api::InstanceInfo {
            id: r.instance.clone(),
            url: r.url().map(str::to_string),
            leader_url: r.leader_url(),
            lease_epoch: r.epoch(),
            led_from_size: r.led_from(),
            lease_ms: r.lease.as_millis() as u64,
        }),
    })
}

/// An answer listing entries with proofs to one checkpoint.
#[derive(Serialize, Debug)]
pub struct EntriesAnswer {
    /// Tree size the proofs are for.
    pub tree_size: u64,
    /// The signed checkpoint of that size.
    pub checkpoint: String,
    /// The entries.
    pub entries: Vec<ProvedEntry>,
}

/// `GET /v1/receipts/<code>`: the ballot carrying this receipt code.
pub async fn receipt(
    State(app): State<ReadView>,
    Path(code): Path<String>,
) -> Result<Json<ReceiptAnswer>, ApiError> {
    // A receipt in the voting system's own encoding (a Belenios tracker, `/` escaped
    // as `%2F`) is the same code as its hex.
    let tag = urne_client::receipt::parse(&code)
        .map(|(t, _)| t)
        .map_err(|e| ApiError::bad_request("bad_tag", e.to_string()))?;
    let code = tag.to_string();
    let app2 = app.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        // Only entries the head covers (a mirror stores some ahead of it while copying).
        let size = app2.head().size;
        // The ballot, then (`revote last`) the voter's next ballot, which is filed
        // under the receipt it supersedes.
        let idx =
            app2.store
                .lookup(&crate::sequencer::subject_key(&Subject::Receipt(tag)), 0, 2)?;
        let idx: Vec<u64> = idx.into_iter().filter(|&i| i < size).collect();
        let head = app2.checkpoint_covering(idx.last().copied().unwrap_or(0));
        let next = idx
            .get(1)
            .map(|&i| prove_entry(&app2, head.0, i))
            .transpose()?;
        idx.first()
            .map(|&i| prove_entry(&app2, head.0, i))
            .transpose()
            .map(|e| (e, head, next))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))??;
    match found {
        (Some(e), head, next) => {
            let proof = e
                .inclusion_proof
                .iter()
                .filter_map(|h| tree::hash_from_base64(h).ok())
                .collect();
            let tlog_proof = urne_client::checkpoint::TlogProof::with_entry(
                e.index,
                proof,
                head.1.clone(),
                e.entry.clone().into_bytes(),
            )
            .to_text();
            Ok(Json(ReceiptAnswer {
                receipt: code,
                entry: e,
                tree_size: head.0,
                checkpoint: head.1,
                tlog_proof,
                superseded_by: next,
            }))
        }
        (None, _, _) => Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "receipt_not_found",
            format!("no ballot with receipt {code} in the log"),
        )),
    }
}

/// Query of `/v1/voters/<tag>`.
#[derive(Deserialize, Default)]
pub struct VoterQuery {
    /// Only entries of this election.
    election: Option<String>,
    /// Where the page starts: the `next` of the previous page (a leaf index).
    cursor: Option<u64>,
}

/// `GET /v1/voters/<tag>[?election=<id>][&cursor=<n>]`: the entries about a voter tag
/// (credentials, revocations, ballots cast with any of its credentials), oldest
/// first, a page at a time: each page scans at most [`VOTER_PAGE`] entries filed
/// under the tag (so another election padding the tag costs pages, never hides
/// anything) and says where the next starts.
pub async fn voter(
    State(app): State<ReadView>,
    Path(tag): Path<String>,
    Query(q): Query<VoterQuery>,
) -> Result<Json<VoterPage>, ApiError> {
    let tag = parse_tag(&tag)?;
    let head = app.head();
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let rows = app2.store.lookup(
            &crate::sequencer::subject_key(&Subject::Voter(tag)),
            q.cursor.unwrap_or(0),
            VOTER_PAGE,
        )?;
        // Only entries the head covers (a mirror stores some ahead of it): the rest
        // belong to a later page, read under a later head.
        let scanned = rows.len();
        let rows: Vec<u64> = rows.into_iter().filter(|i| *i < head.size).collect();
        let next = (scanned == VOTER_PAGE && rows.len() == scanned)
            .then(|| rows.last().map(|i| i + 1))
            .flatten();
        let mut idx = Vec::with_capacity(rows.len());
        for i in rows {
            if let Some(want) = &q.election {
                let bytes = app2
                    .store
                    .entries(i, i + 1)?
                    .pop()
                    .ok_or_else(|| ApiError::internal(format!("entry {i} missing")))?;
                match SignedStatement::parse(&bytes) {
                    Ok(s) if &s.statement.election == want => {}
                    _ => continue,
                }
            }
            idx.push(i);
        }
        // Proved in the witnessed checkpoint when it covers every entry listed.
        let (size, checkpoint) = app2.checkpoint_covering(idx.last().copied().unwrap_or(0));
        let entries = idx
            .into_iter()
            .map(|i| prove_entry(&app2, size, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Json(VoterPage {
            tree_size: size,
            checkpoint,
            election: q.election,
            entries,
            next: Some(next),
        }))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

/// Query of `/v1/proof/inclusion`.
#[derive(Deserialize)]
pub struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

/// GET /v1/proof/inclusion?index=&size=: inclusion proof of leaf `index` in the tree
/// of `size` entries (default: the latest checkpoint).
pub async fn inclusion(
    State(app): State<ReadView>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<InclusionAnswer>, ApiError> {
    let head = app.head();
    let size = q.size.unwrap_or(head.size);
    if size > head.size || q.index >= size {
        return Err(ApiError::bad_request(
            "bad_range",
            format!(
                "need index < size <= {}; got index {} size {size}",
                head.size, q.index
            ),
        ));
    }
    // On RocksDB the reads run on the async worker itself: a proof is a few dozen
    // point reads of stored hashes, whose upper levels stay in the block cache and the
    // rest in the page cache, microseconds each. Handing them to tokio's blocking pool
    // cost more than the reads (same session, back to back, 100,000 proofs with 128 in
    // flight: 8,700–10,400/s through `spawn_blocking`, 12,100–13,500/s in place, p99
    // 24–31 ms vs 19–20 ms; `block_in_place` was worse still). The price: a read that
    // misses the page cache holds its worker for one disk read. On PostgreSQL each
    // read is a round trip: off the workers ([`ReadView::read`]).
    let index = q.index;
    app.read(move |app| -> Result<Json<InclusionAnswer>, ApiError> {
        let store = &*app.store;
        let proof = tree::prove_inclusion(index, size, &StoreHashReader(store))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let leaf = store.read_hashes(&[tree::stored_hash_index(0, index)])?;
        Ok(Json(InclusionAnswer {
            index,
            tree_size: size,
            leaf_hash: leaf.first().map(tree::hash_to_hex),
            inclusion_proof: hashes_to_base64(&proof),
            checkpoint: store.checkpoint_at(size)?,
        }))
    })
    .await?
}

/// Query of `/v1/proof/consistency`.
#[derive(Deserialize)]
pub struct ConsistencyQuery {
    old: u64,
    new: Option<u64>,
}

/// GET /v1/proof/consistency?old=&new=: consistency proof between two tree sizes
/// (default new: the latest checkpoint), with both checkpoints if the log signed them.
pub async fn consistency(
    State(app): State<ReadView>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ConsistencyAnswer>, ApiError> {
    let head = app.head();
    let new = q.new.unwrap_or(head.size);
    if new > head.size || q.old > new {
        return Err(ApiError::bad_request(
            "bad_range",
            format!(
                "need old <= new <= {}; got old {} new {new}",
                head.size, q.old
            ),
        ));
    }
    // Read where it costs least, as the inclusion proofs (see there).
    let old = q.old;
    app.read(move |app| -> Result<Json<ConsistencyAnswer>, ApiError> {
        let store = &*app.store;
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            tree::prove_consistency(old, new, &StoreHashReader(store))
                .map_err(|e| ApiError::internal(e.to_string()))?
        };
        Ok(Json(ConsistencyAnswer {
            old,
            new,
            consistency_proof: hashes_to_base64(&proof),
            old_checkpoint: store.checkpoint_at(old)?,
            new_checkpoint: store.checkpoint_at(new)?,
        }))
    })
    .await?
}

fn election_json(app: &ReadView, id: &str) -> Result<Option<serde_json::Value>, ApiError> {
    let view = crate::sequencer::StoreStateView(&*app.store);
    let Some(StateValue::Election(es)) = view
        .get(&StateKey::Election(id.to_string()))
        .map_err(|e| ApiError::internal(e.to_string()))?
    else {
        return Ok(None);
    };
    let stats = match app.store.stats(id)? {
        Some(b) => ElectionStats::decode(&b).map_err(|e| ApiError::internal(e.to_string()))?,
        None => ElectionStats::default(),
    };
    Ok(Some(serde_json::json!({
        "id": id,
        "sealed_after": es.sealed_after(),
        "seal": app.cosign.seals.get(id),
        "state": es,
        "stats": stats,
    })))
}

/// GET /v1/elections: every election with its state.
pub async fn elections(State(app): State<ReadView>) -> Result<Json<serde_json::Value>, ApiError> {
    app.read(|app| -> Result<Json<serde_json::Value>, ApiError> {
        let mut out = Vec::new();
        for id in app.store.elections()? {
            if let Some(v) = election_json(app, &id)? {
                out.push(v);
            }
        }
        Ok(Json(
            serde_json::json!({ "tree_size": app.head().size, "elections": out }),
        ))
    })
    .await?
}

/// `GET /v1/elections/<id>`: state, counts per type, hourly series and timeline.
pub async fn election(
    State(app): State<ReadView>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = {
        let id = id.clone();
        app.read(move |app| election_json(app, &id)).await??
    };
    found.map(Json).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "unknown_election",
            format!("no election {id:?} in this log"),
        )
    })
}

/// GET /v1/stats: the log's counters.
pub async fn stats(State(app): State<ReadView>) -> Json<serde_json::Value> {
    // A mirror has no sequencer: its counters are zero and it never failed.
    let none = SequencerMetrics::default();
    let m = app.sequencer.as_ref().map_or(&none, |s| s.metrics());
    let head = app.head();
    Json(serde_json::json!({
        "tree_size": head.size,
        "appended": m.appended.load(Ordering::Relaxed),
        "refused": m.refused.load(Ordering::Relaxed),
        "pushback": m.pushback.load(Ordering::Relaxed),
        "batches": m.batches.load(Ordering::Relaxed),
        "queue_depth": m.queue_depth.load(Ordering::Relaxed),
        "uptime_secs": app.started.elapsed().as_secs(),
        "sequencer_failed": app.sequencer.as_ref().is_some_and(|s| s.failed()),
        "halted": app.sequencer.as_ref().and_then(|s| s.halted()),
    }))
}

/// GET /metrics: Prometheus text exposition.
pub async fn metrics(State(app): State<ReadView>) -> Response {
    let none = SequencerMetrics::default();
    let m = app.sequencer.as_ref().map_or(&none, |s| s.metrics());
    let head = app.head();
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
        s.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    };
    metric("urne_tree_size", "gauge", "Entries in the log.", head.size);
    metric(
        "urne_leader",
        "gauge",
        "1 if this instance is the sequencer (always, for a log alone on RocksDB).",
        u64::from(app.leading()),
    );
    if let Some(r) = &app.role {
        metric(
            "urne_lease_epoch",
            "gauge",
            "The lease epoch this instance holds (0 while it follows).",
            r.epoch(),
        );
    }
    metric(
        "urne_appended_total",
        "counter",
        "Statements appended since start.",
        m.appended.load(Ordering::Relaxed),
    );
    metric(
        "urne_refused_total",
        "counter",
        "Statements refused by the election rules since start.",
        m.refused.load(Ordering::Relaxed),
    );
    metric(
        "urne_pushback_total",
        "counter",
        "Statements refused with 503 (queue full) since start.",
        m.pushback.load(Ordering::Relaxed),
    );
    metric(
        "urne_batches_total",
        "counter",
        "Batches committed since start.",
        m.batches.load(Ordering::Relaxed),
    );
    metric(
        "urne_queue_depth",
        "gauge",
        "Statements waiting for the sequencer.",
        m.queue_depth.load(Ordering::Relaxed) as u64,
    );
    metric(
        "urne_commit_microseconds_total",
        "counter",
        "Time spent in durable commits.",
        m.commit_micros.load(Ordering::Relaxed),
    );
    metric(
        "urne_sequencer_failed",
        "gauge",
        "1 if the sequencer stopped after a storage failure.",
        u64::from(app.sequencer.as_ref().is_some_and(|s| s.failed())),
    );
    metric(
        "urne_halted",
        "gauge",
        "1 if the log halted on proof that it lost signed entries (critical).",
        u64::from(app.sequencer.as_ref().is_some_and(|s| s.halted().is_some())),
    );
    // Where the resident memory goes: the engine's bounded caches, the allocator's
    // view (what is in use, what it holds free), the resident set itself.
    s.push_str(
        "# HELP urne_memory_bytes Memory of the process by use (storage engine caches, \
         allocator, resident set).\n# TYPE urne_memory_bytes gauge\n",
    );
    let engine = app.store.memory();
    let engine = engine.iter().map(|(n, v)| (format!("rocksdb_{n}"), *v));
    let process = crate::memory::resident()
        .into_iter()
        .chain(crate::memory::heap())
        .map(|(n, v)| (n.to_string(), v));
    for (name, v) in engine.chain(process) {
        s.push_str(&format!("urne_memory_bytes{{use=\"{name}\"}} {v}\n"));
    }
    // Evidence that the log was seen signing two histories (found by gossip with
    // `--peer`): the number an operator's alerting watches first.
    s.push_str(&app.gossip.metrics_text());
    s.push_str(&app.mirrors.metrics_text());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        s,
    )
        .into_response()
}
