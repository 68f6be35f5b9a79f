//! The HTTP API of the log.
//!
//! Owns: the routers, the write side of the application state ([`AppState`]), and
//! the write endpoint `POST /v1/statements`. The read endpoints live in [`tiles`]
//! (C2SP tlog-tiles) and [`json`] (convenience JSON lookups, statistics, metrics) and
//! need only the read view ([`view`]): a mirror serves them without any sequencer.
//!
//! Submissions are parsed and their signatures verified here, in the handler, in
//! parallel and without any lock; only rule checks and ordering go through the
//! single-threaded sequencer.

pub mod json;
pub mod tiles;
pub mod view;

pub use crate::http::{body, error, ApiError};
pub use view::ReadView;

use crate::sequencer::{SequencerHandle, StoreStateView};
use crate::storage::StoreHashReader;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use urne_client::api::SubmitAnswer;
use urne_client::checkpoint::TlogProof;
use urne_client::note::VerifierKey;
use urne_client::rules::{self, StateKey, StateValue, StateView, Verified};
use urne_client::statement::{Body, Role, SignedStatement, MAX_ENTRY_SIZE};
use urne_client::tree;

/// The authorities of a sealed election (they never change after sealing, so they
/// are cached forever).
#[derive(Debug)]
pub struct Authorities {
    /// Keys by role.
    pub keys: Vec<(Role, VerifierKey)>,
    /// Board signatures needed by lifecycle statements.
    pub quorum: u32,
    /// The rules the election is judged by (see `urne_client::rules`).
    pub rules: u32,
}

/// The state of a log's router: the read view, and the write side (the sequencer,
/// the operator's board allow-list, the election keys submissions are checked
/// against). It dereferences to its [`ReadView`].
#[derive(Clone)]
pub struct AppState {
    /// What the read endpoints see.
    pub read: ReadView,
    /// The sequencer.
    pub seq: SequencerHandle,
    /// Board keys allowed to seal elections.
    pub allow_board: Arc<Vec<VerifierKey>>,
    /// Cache of sealed elections' authorities.
    pub authorities: Arc<RwLock<HashMap<String, Arc<Authorities>>>>,
}

impl std::ops::Deref for AppState {
    type Target = ReadView;
    fn deref(&self) -> &ReadView {
        &self.read
    }
}

impl axum::extract::FromRef<AppState> for ReadView {
    fn from_ref(app: &AppState) -> ReadView {
        app.read.clone()
    }
}

impl AppState {
    /// Returns the authorities of a sealed election, from cache or store.
    ///
    /// # Errors
    /// 503 `state_unavailable` if the store cannot be read.
    pub fn election_authorities(&self, id: &str) -> Result<Option<Arc<Authorities>>, ApiError> {
        if let Some(a) = self
            .authorities
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return Ok(Some(a.clone()));
        }
        let view = StoreStateView(&*self.store);
        // The same code as the rules give when they cannot read the state: the
        // statement was not judged, the submitter may retry.
        let found = view.get(&StateKey::Election(id.to_string())).map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "state_unavailable",
                format!("reading the keys of election {id:?}: {e}"),
            )
        })?;
        let Some(StateValue::Election(es)) = found else {
            return Ok(None);
        };
        let auth = Arc::new(Authorities {
            keys: es.authorities.clone(),
            quorum: es.quorum,
            rules: es.rules,
        });
        self.authorities
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), auth.clone());
        Ok(Some(auth))
    }
}

/// The JSON lookups and the web page: what the log and its mirrors both serve, on a
/// read view alone.
fn read_routes<S: Clone + Send + Sync + 'static>() -> Router<S>
where
    ReadView: axum::extract::FromRef<S>,
{
    Router::new()
        .route("/v1/log", get(json::log_info))
        .route("/v1/receipts/{code}", get(json::receipt))
        .route("/v1/voters/{tag}", get(json::voter))
        .route("/v1/proof/inclusion", get(json::inclusion))
        .route("/v1/proof/consistency", get(json::consistency))
        .route("/v1/elections", get(json::elections))
        .route("/v1/elections/{id}", get(json::election))
        .route("/v1/stats", get(json::stats))
        .route("/metrics", get(json::metrics))
        .fallback(get(
            |State(view): State<ReadView>, uri: axum::http::Uri| async move {
                crate::web::serve(&view.web, uri).await
            },
        ))
}

/// Builds the router of the log: the read routes and tiles on its read view, and
/// the write endpoint.
pub fn router(state: AppState) -> Router {
    read_routes()
        // `submit` reads the body itself, up to the entry limit (see [`body`]).
        .route("/v1/statements", post(submit))
        .route("/checkpoint", get(tiles::checkpoint))
        .route("/tile/{*path}", get(tiles::tile))
        .route("/v1/gossip", get(gossip))
        .with_state(state)
}

/// Builds the read-only JSON lookups and web page on a read view (a mirror serves
/// them over its copy): there is no write endpoint, a statement posted there is
/// refused (405).
pub fn read_router(view: ReadView) -> Router {
    read_routes().with_state(view)
}

/// GET /v1/gossip: the checkpoint this log serves (C2SP gossip between mirrors,
/// witnesses and monitors; see [`crate::gossip`]).
pub async fn gossip(State(app): State<ReadView>) -> Json<urne_client::gossip::Gossip> {
    let head = app.head();
    Json(urne_client::gossip::Gossip {
        checkpoints: vec![urne_client::gossip::GossipCheckpoint {
            origin: app.log_key.name().to_string(),
            size: app.cosign.served().map_or(head.size, |s| s.0),
            checkpoint: app.served_checkpoint(),
        }],
        rollback_attempts: None,
    })
}

/// POST /v1/statements: append one signed statement.
pub async fn submit(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let body = body::read_limited(&headers, body, MAX_ENTRY_SIZE)
        .await
        .map_err(body_error)?;
    // A halted instance answers for itself, follower or not: the halt is the log's.
    if let Some(why) = app.seq.halted() {
        return Err(crate::sequencer::SubmitError::Halted(why.to_string()).into());
    }
    // A follower hands the statement to the leader as it came and relays the answer.
    if let Some(role) = app.role.as_ref().filter(|r| !r.is_leader()) {
        return Ok(crate::leader::forward(role, &headers, body).await);
    }
    let stmt = SignedStatement::parse(&body)?;
    // A statement already in the log is answered as such: its identity is its text,
    // so a replay with other signature lines (foreign, repeated) is the earlier entry,
    // not a refusal and not a new entry. The sequencer finds it (it reads every
    // statement's identity with its batch, in one query); only a statement whose
    // signatures do not check here is looked up before it is refused, so that an
    // honest statement costs no read of its own in this handler.
    let verified = match reading(&app, || pre_verify(&app, &stmt)) {
        Ok(v) => v,
        Err(refusal) => {
            let Some((index, head)) = reading(&app, || known_statement(&app, &stmt))? else {
                return Err(refusal);
            };
            let leaf = reading(&app, || {
                app.store.read_hashes(&[tree::stored_hash_index(0, index)])
            })?
            .pop()
            .ok_or_else(|| ApiError::internal(format!("leaf hash {index} missing")))?;
            return reading(&app, || answer(&app, index, leaf, &head, None, None))
                .map(|a| a.into_response());
        }
    };
    let bytes = stmt.bytes.clone();
    let ack = app.seq.submit(stmt, verified).await?;
    // A new entry is the bytes just sent; a duplicate's are read back.
    let appended = (!ack.duplicate).then_some(bytes);
    reading(&app, || {
        answer(
            &app,
            ack.index,
            ack.leaf_hash,
            &ack.head,
            appended,
            ack.inclusion_proof,
        )
    })
    .map(|a| a.into_response())
}

/// Runs `f`, which may read the store synchronously, where that costs least (the
/// same decision as [`ReadView::read`], for a handler that cannot hand `f` to another
/// thread): on PostgreSQL ([`crate::storage::Store::remote`]) a read waits for a round
/// trip, so the worker is handed over (`block_in_place`) and the runtime's other tasks
/// go on meanwhile; on RocksDB `f` runs in place, since handing a worker over costs more
/// than the reads (`json::inclusion`) and `f` is mostly CPU (an Ed25519 verification, a
/// JSON answer). (A single-threaded runtime just runs it.)
fn reading<T>(app: &AppState, f: impl FnOnce() -> T) -> T {
    if !app.store.remote() {
        return f();
    }
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Returns the index of the entry holding this statement's signed text, and the head
/// that covers it, if the log has one.
fn known_statement(
    app: &AppState,
    stmt: &SignedStatement,
) -> Result<Option<(u64, Arc<crate::storage::TreeHead>)>, ApiError> {
    let head = app.head();
    let found = StoreStateView(&*app.store)
        .get(&StateKey::Statement(stmt.text_hash()))
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "state_unavailable",
                format!("reading statement identities: {e}"),
            )
        })?;
    Ok(match found {
        // Committed but not yet published as the head: the sequencer answers it.
        Some(StateValue::Statement { index }) if index < head.size => Some((index, head)),
        _ => None,
    })
}

/// The answer to an appended (201, `appended` holds the entry's bytes) or already
/// logged (200, `appended` is `None`) statement at `index`, with its inclusion proof
/// in `head` (`proof`, from the sequencer, or read here).
fn answer(
    app: &AppState,
    index: u64,
    leaf_hash: tree::Hash,
    head: &crate::storage::TreeHead,
    appended: Option<Vec<u8>>,
    proof: Option<Vec<tree::Hash>>,
) -> Result<(StatusCode, Json<SubmitAnswer>), ApiError> {
    let duplicate = appended.is_none();
    let proof = match proof {
        Some(p) => Ok(p),
        None => tree::prove_inclusion(index, head.size, &StoreHashReader(&*app.store)),
    }
    // Reading the stored hashes is what fails here (the database failing over):
    // retry later, and the statement, appended, is then answered 200.
    .map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_failure",
            format!("inclusion proof: {e}"),
        )
    })?;
    // The entry as stored (a duplicate's may carry other signature lines than the
    // body just sent): the receipt carries it, so it is checkable without the log.
    // A new entry's bytes are those the sequencer appended (no read back).
    let entry = match appended {
        Some(bytes) => bytes,
        None => app
            .store
            .entries(index, index + 1)?
            .pop()
            .ok_or_else(|| ApiError::internal(format!("entry {index} missing")))?,
    };
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(SubmitAnswer {
            index,
            leaf_hash: tree::hash_to_hex(&leaf_hash),
            tree_size: head.size,
            checkpoint: head.checkpoint.clone(),
            inclusion_proof: urne_client::api::hashes_to_base64(&proof),
            duplicate,
            tlog_proof: TlogProof::with_entry(index, proof, head.checkpoint.clone(), entry)
                .to_text(),
        }),
    ))
}

/// Maps a body that was not read to our JSON error: over the limit is `too_large`
/// (413) whether the client sent a Content-Length or streamed it; a broken upload is
/// `malformed`.
fn body_error(e: body::BodyError) -> ApiError {
    match e {
        body::BodyError::TooLarge {
            declared: Some(n), ..
        } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("statement of {n} bytes exceeds {MAX_ENTRY_SIZE}"),
        ),
        body::BodyError::TooLarge { declared: None, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("statement exceeds {MAX_ENTRY_SIZE} bytes"),
        ),
        body::BodyError::Broken(why) => {
            ApiError::bad_request("malformed", format!("reading the request body: {why}"))
        }
        body::BodyError::TimedOut(why) => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", why)
        }
    }
}

/// Verifies a statement's signatures before it is queued, and applies the
/// operator's board allow-list to new elections. Returns `None` when the election is
/// not known yet (the sequencer then verifies against the state it sees).
///
/// Cheap refusals come first, so that a client without a key costs a parse and
/// never an Ed25519 verification: the canonical signature block (only the
/// election's keys, each once, in order, no extra line), then for an `election`
/// statement the operator's allow-list, and only then the signatures.
fn pre_verify(app: &AppState, stmt: &SignedStatement) -> Result<Option<Verified>, ApiError> {
    if let Body::Election(e) = &stmt.statement.body {
        let block = rules::check_signature_block(stmt, &e.authorities, e.quorum)?;
        // Only a line in the Board role admits an election: an allowed key that the
        // election lists as its registrar or platform does not vouch for a board made of
        // keys the operator never allowed (that board alone meets the quorum). The
        // block holds board lines only (the roles that may sign an election).
        let allowed = block
            .iter()
            .any(|(role, k)| *role == Role::Board && app.allow_board.contains(k));
        if !allowed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "election_not_authorized",
                "no board key allowed by this log's operator signed this election as a board member (see --allow-board)",
            ));
        }
        return Ok(Some(rules::verify_signatures(
            stmt,
            &e.authorities,
            e.quorum,
        )?));
    }
    match app.election_authorities(&stmt.statement.election)? {
        // A rules-1 election takes nothing more: the sequencer says so
        // (`legacy_election`) without any signature work here.
        Some(a) if a.rules < rules::RULES_VERSION => Ok(None),
        Some(a) => Ok(Some(rules::verify_signatures(stmt, &a.keys, a.quorum)?)),
        None => Ok(None),
    }
}
