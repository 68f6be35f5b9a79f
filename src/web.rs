//! The web page, built into the binary from `web/` (or served from a directory).
//!
//! Owns: mapping `/`, `/index.html`, `/app.js`, … to the page's files with their
//! content types. The page itself (in `web/`) verifies everything in the browser.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

/// The files of the page built into the binary: (path, content type, bytes).
/// `web_files_are_all_built_in` (below) fails when a file of `web/` is missing here.
const BUILT_IN: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/app.js"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/verify.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/i18n.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/style.css"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/vendor/uPlot.min.css"),
    ),
    (
        "vendor/uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../web/vendor/uPlot.LICENSE"),
    ),
];

/// The page verifies proofs with keys it pins: it must run only its own code, talk
/// only to the server that served it, and never be framed (clickjacking a verdict).
/// Styles may be inline (uPlot sets element styles).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'; form-action 'self'";

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
pub async fn serve(web: &Web, uri: Uri) -> Response {
    let mut path = uri.path().trim_start_matches('/').to_string();
    if path.is_empty() {
        path = "index.html".into();
    }
    if path.contains("..") || path.starts_with("v1/") {
        return crate::http::ApiError::not_found(format!("no such resource /{path}"))
            .into_response();
    }
    let found: Option<(&'static str, Vec<u8>)> = if let Some(dir) = &web.dir {
        tokio::fs::read(dir.join(&path))
            .await
            .ok()
            .map(|b| (content_type(&path), b))
    } else {
        BUILT_IN
            .iter()
            .find(|(p, _, _)| *p == path)
            .map(|(_, ct, b)| (*ct, b.to_vec()))
    };
    if let Some((ct, bytes)) = found {
        return (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                ),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ),
                // Revalidate: a new release of the page must reach voters at once.
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            bytes,
        )
            .into_response();
    }
    crate::http::ApiError::not_found(format!("no such resource /{path}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::BUILT_IN;
    use std::path::Path;

    /// Every file the page needs is built into the binary: everything in `web/` but
    /// the tests and the npm tooling.
    #[test]
    fn web_files_are_all_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut missing = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("web/ is readable") {
                let p = e.expect("directory entry").path();
                let rel = p
                    .strip_prefix(&root)
                    .expect("under web/")
                    .to_string_lossy()
                    .replace('\\', "/");
                if ["tests", "node_modules", "package.json", "package-lock.json"]
                    .contains(&rel.as_str())
                {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else if !BUILT_IN.iter().any(|(path, _, _)| *path == rel) {
                    missing.push(rel);
                }
            }
        }
        assert!(missing.is_empty(), "web files not built in: {missing:?}");
        for (path, _, _) in BUILT_IN {
            assert!(root.join(path).is_file(), "built-in {path} is not in web/");
        }
    }
}
