//! The C2SP tlog-tiles read API: `/checkpoint`, `/tile/<L>/<N>[.p/<W>]`,
//! `/tile/entries/<N>[.p/<W>]`.
//!
//! Owns: serving checkpoints, hash tiles and entry bundles from the store with the
//! caching headers the spec asks for: every tile and bundle, full or partial, is
//! immutable (a partial tile `.p/W` always holds the same W hashes or entries: a
//! larger tree is another path); entry bundles are gzip-compressed for clients whose
//! `Accept-Encoding` takes gzip (C2SP tlog-tiles recommends it: statements compress
//! well, hashes do not). Tiles are computed from stored hashes on demand: nothing is
//! kept in memory.

use super::{ApiError, ReadView};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use urne_client::tiles::{self, TileId, TileKind, TILE_WIDTH};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Reports whether an `Accept-Encoding` header takes gzip (a `gzip` or `*` coding
/// whose q-value is not 0).
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(body)?;
    e.finish()
}

/// GET /checkpoint: the latest signed checkpoint (with any cosignatures).
pub async fn checkpoint(State(app): State<ReadView>) -> Response {
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
    State(app): State<ReadView>,
    Path(path): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let id = TileId::parse_path(&format!("tile/{path}"))
        .map_err(|e| ApiError::bad_request("bad_tile_path", format!("{path}: {e}")))?;
    let size = app.head().size;
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
    let entries = matches!(id.kind, TileKind::Entries);
    let gzipped = entries && accepts_gzip(&headers);
    let body = if gzipped {
        tokio::task::spawn_blocking(move || gzip(&body))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?
    } else {
        body
    };
    let mut r = (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        body,
    )
        .into_response();
    if entries {
        // One URL, two representations: caches key them on Accept-Encoding.
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if gzipped {
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(r)
}
