//! Reading what a peer sends, up to a bound, whatever the transfer encoding.
//!
//! Owns: [`read_capped`], the one way the log, its mirrors and its witnesses read a
//! body from another party (gossip answers, tiles and entry bundles, checkpoints, a
//! witness's answer, a log's `/v1/log`), and the bounds of each.
//! Does not own: what the bytes mean (`urne_client`).
//!
//! `reqwest`'s `bytes()`, `text()` and `json()` read a body whole, however long: on
//! main (716ba0e) a fake peer answering `/v1/gossip` with a chunked body of 1 GB took
//! a log to 2.36 GB of memory, and a tile sent chunked skipped the tile size check
//! (which only looked at `Content-Length`). Here a body is read chunk by chunk and the
//! read stops, and the connection is dropped, as soon as it passes its bound.
//! Regression tests: `tests/adversarial_peers.rs` (`hostile_gossip_peer_*`,
//! `chunked_tile_*`).

use anyhow::{bail, Context as _, Result};

/// The largest `/v1/gossip` answer read: one checkpoint per followed origin, and
/// [`urne_client::gossip::MAX_GOSSIP_CHECKPOINTS`] of them at most.
pub const MAX_GOSSIP_BYTES: usize = 1 << 20;
/// The largest signed checkpoint read (`/checkpoint`), cosignatures included.
pub const MAX_CHECKPOINT_BYTES: usize = 64 << 10;
/// The largest witness answer read (cosignature lines, or a size).
pub const MAX_WITNESS_ANSWER_BYTES: usize = 64 << 10;
/// The largest `/v1/log` read.
pub const MAX_LOG_INFO_BYTES: usize = 1 << 20;

/// Reads `r`'s body whole if it holds at most `max` bytes.
///
/// # Errors
/// A declared or actual length over `max` (the rest is not read), or a broken body.
pub async fn read_capped(mut r: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    let url = r.url().to_string();
    if r.content_length().is_some_and(|n| n > max as u64) {
        bail!("{url}: body larger than {max} bytes");
    }
    let mut out = Vec::new();
    while let Some(chunk) = r.chunk().await.with_context(|| format!("reading {url}"))? {
        if out.len() + chunk.len() > max {
            bail!("{url}: body larger than {max} bytes");
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads `r`'s body as JSON of at most `max` bytes.
///
/// # Errors
/// As [`read_capped`], or the body is not that JSON.
pub async fn json_capped<T: serde::de::DeserializeOwned>(
    r: reqwest::Response,
    max: usize,
) -> Result<T> {
    let url = r.url().to_string();
    let b = read_capped(r, max).await?;
    serde_json::from_slice(&b).with_context(|| format!("{url}: JSON"))
}

/// Reads `r`'s body as UTF-8 text of at most `max` bytes.
///
/// # Errors
/// As [`read_capped`], or the body is not UTF-8.
pub async fn text_capped(r: reqwest::Response, max: usize) -> Result<String> {
    let url = r.url().to_string();
    let b = read_capped(r, max).await?;
    String::from_utf8(b).with_context(|| format!("{url}: not UTF-8"))
}
