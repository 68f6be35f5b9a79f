//! The HTTP error type: every failure leaves as `{"error": "<stable code>", "detail": "…"}`.
//!
//! Owns: the mapping from library and sequencer errors to HTTP status codes and
//! stable error codes. Codes are part of the API: never rename one.

use crate::sequencer::SubmitError;
use crate::storage::StorageError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use urne_client::rules::Refusal;
use urne_client::statement::StatementError;

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl ApiError {
    /// Builds an error.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 500 `internal` for storage failures.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = StatusCode::from_u16(r.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError {
            status,
            code: r.code.as_str(),
            detail: r.detail,
        }
    }
}

impl From<StatementError> for ApiError {
    fn from(e: StatementError) -> Self {
        let status = if e.code() == "too_large" {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError {
            status,
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        tracing::error!(error = %e, "storage error while answering a request");
        match e {
            // The engine cannot answer now (a PostgreSQL primary failing over, a lost
            // connection, a disk error): the same request is answered once it is
            // back, and a statement that was appended is then answered 200 with its
            // index. A 500 would tell clients not to retry.
            StorageError::Engine(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_failure",
                e.to_string(),
            ),
            // The same answer as the sequencer's own halt: one code for a halted log.
            StorageError::Halted(d) => SubmitError::Halted(d).into(),
            StorageError::Corrupt { .. } | StorageError::Fenced(_) => {
                ApiError::internal(e.to_string())
            }
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Refused(r) => r.into(),
            SubmitError::Pushback => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the sequencer queue is full; retry after a second",
            ),
            SubmitError::Storage(d) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_failure", d)
            }
            SubmitError::Halted(d) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "log_halted",
                format!("the log halted and appends nothing until an operator intervenes: {d}"),
            ),
            SubmitError::NotLeader => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_leader",
                "this instance is a follower and no leader could take the statement: retry",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = urne_client::api::ErrorBody {
            error: self.code.to_string(),
            detail: self.detail,
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        // The rest of a too-large body may still be on its way (see `http::body`): the
        // connection cannot be reused, and saying so lets the client read this answer.
        if self.status == StatusCode::PAYLOAD_TOO_LARGE
            || self.status == StatusCode::REQUEST_TIMEOUT
        {
            resp.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod storage_error_tests {
    use super::*;

    /// An engine that cannot answer (the database failing over) is "retry later";
    /// damaged data is not. The database failover test met a 500 here.
    #[test]
    fn an_unreachable_engine_is_retry_later() {
        let e = ApiError::from(StorageError::Engine("connecting: refused".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code, "storage_failure");
        let resp = e.into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let e = ApiError::from(StorageError::Corrupt {
            what: "leaf 3".into(),
            detail: "short".into(),
        });
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
