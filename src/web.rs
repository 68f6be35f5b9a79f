//! The web page, built into the binary from `web/` (or served from a directory).
//!
//! Owns: mapping `/`, `/index.html`, `/app.js`, … to the page's files with their
//! content types. The page itself (in `web/`) verifies everything in the browser.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

/// The files of the page built into the binary: (path, content type, bytes).
const BUILT_IN: &[(&str, &str, &[u8])] = &[(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../web/index.html"),
)];

/// Where the page comes from.
pub struct Web {
    dir: Option<PathBuf>,
}

impl Web {
    /// Serves the built-in page, or the files of `dir` if given (for development).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Web { dir }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// Serves a file of the page; unknown paths get 404 in the API's JSON error form.
pub async fn serve(State(app): State<crate::api::AppState>, uri: Uri) -> Response {
    let mut path = uri.path().trim_start_matches('/').to_string();
    if path.is_empty() {
        path = "index.html".into();
    }
    if path.contains("..") || path.starts_with("v1/") {
        return crate::api::ApiError::not_found(format!("no such resource /{path}"))
            .into_response();
    }
    if let Some(dir) = &app.web.dir {
        if let Ok(bytes) = tokio::fs::read(dir.join(&path)).await {
            return (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(content_type(&path)),
                )],
                bytes,
            )
                .into_response();
        }
    } else if let Some((_, ct, bytes)) = BUILT_IN.iter().find(|(p, _, _)| *p == path) {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(ct))],
            *bytes,
        )
            .into_response();
    }
    crate::api::ApiError::not_found(format!("no such resource /{path}")).into_response()
}
