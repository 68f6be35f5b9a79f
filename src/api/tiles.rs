//! The C2SP tlog-tiles read API: `/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]`.
//!
//! Owns: serving checkpoints, hash tiles and entry bundles from the store with the
//! caching headers the spec asks for (full tiles are immutable). Tiles are computed
//! from stored hashes on demand: nothing is kept in memory.

use super::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use urne_client::tiles::{self, TileId, TileKind, TILE_WIDTH};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const SHORT: &str = "public, max-age=2";

/// GET /checkpoint: the latest signed checkpoint (with any cosignatures).
pub async fn checkpoint(State(app): State<AppState>) -> Response {
    let cp = app.served_checkpoint();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        cp,
    )
        .into_response()
}

/// GET /tile/*path: a hash tile or an entry bundle.
pub async fn tile(
    State(app): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    let id = TileId::parse_path(&format!("tile/{path}"))
        .map_err(|e| ApiError::bad_request("bad_tile_path", format!("{path}: {e}")))?;
    let size = app.seq.head().size;
    let body = match id.kind {
        TileKind::Entries => {
            let start = id
                .index
                .checked_mul(TILE_WIDTH)
                .ok_or_else(|| ApiError::not_found("tile beyond the tree"))?;
            let end = start + u64::from(id.width);
            if end > size {
                return Err(ApiError::not_found(format!(
                    "entry bundle {path} is beyond the tree size {size}"
                )));
            }
            let store = app.store.clone();
            let entries = tokio::task::spawn_blocking(move || store.entries(start, end))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))??;
            tiles::encode_entry_bundle(entries.iter().map(Vec::as_slice))
                .map_err(|e| ApiError::internal(e.to_string()))?
        }
        TileKind::Hash { .. } => {
            let store = app.store.clone();
            tokio::task::spawn_blocking(move || {
                tiles::read_hash_tile(id, size, &crate::storage::StoreHashReader(&*store))
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::not_found(format!("tile {path}: {e}")))?
        }
    };
    let cache = if id.is_full() { IMMUTABLE } else { SHORT };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response())
}
