//! Reading a request body of bounded size, and refusing a larger one so the client
//! actually receives the refusal.
//!
//! Owns: the read of `POST /v1/statements` bodies up to the entry limit, and what
//! happens past it. HTTP/1.1 cannot stop a sender mid-body: a server that answers 413
//! and closes while the client is still writing leaves unread bytes in its socket, the
//! kernel resets the connection, and the client sees a broken pipe instead of the
//! answer (or the answer, depending on timing). So, like nginx's lingering close, the
//! excess is read and discarded up to [`DRAIN_LIMIT`] bytes and for at most
//! [`DRAIN_TIME`], then the refusal leaves with `Connection: close`. A body declared
//! larger than the drain limit is refused at once: past that point reading it costs
//! more than a client that sends it deserves.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use futures::StreamExt;
use std::time::Duration;

/// The most bytes read (and discarded) from a body known to be too large.
pub const DRAIN_LIMIT: usize = 4 << 20;
/// The longest a too-large body is drained before the connection is dropped.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Over the limit: the declared length if the client sent one, else at least
    /// `seen` bytes arrived.
    TooLarge {
        /// The `Content-Length` header, when present and numeric.
        declared: Option<u64>,
        /// Bytes seen before giving up.
        seen: usize,
    },
    /// The upload broke off or was not a valid HTTP body.
    Broken(String),
}

/// Reads `body` whole if it holds at most `max` bytes.
pub async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if let Some(n) = declared {
        if n > DRAIN_LIMIT as u64 {
            return Err(BodyError::TooLarge { declared, seen: 0 });
        }
    }
    let mut buf = Vec::with_capacity(declared.map_or(4096, |n| (n as usize).min(max)));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
        if buf.len() + chunk.len() > max {
            let seen = buf.len() + chunk.len();
            drop(buf);
            return Err(BodyError::TooLarge {
                declared,
                seen: drain(&mut stream, seen).await,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Discards the rest of a too-large body, within the drain bounds; returns the bytes
/// seen in all.
async fn drain(stream: &mut axum::body::BodyDataStream, mut seen: usize) -> usize {
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while seen <= DRAIN_LIMIT {
            match stream.next().await {
                Some(Ok(chunk)) => seen += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
    seen
}
