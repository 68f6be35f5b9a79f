//! HTTP access to a urne log: the C2SP read API and the JSON lookups.
//!
//! Owns: URLs, timeouts, HTTP status handling, and [`HttpTiles`], a
//! [`TileFetcher`] over HTTP with a cache of the tiles a catch-up asks for again and
//! again (upper levels and partial tiles). Does not own: trusting anything: every
//! answer is checked by the caller with the `urne_client` library.

use crate::fail::{Fail, Kind, Res};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;
use urne_client::tiles::{TileError, TileFetcher, TileId, TileKind};

/// Largest body read from the log (an entry bundle is at most 256 × 16 KiB).
const MAX_BODY: u64 = 8 << 20;

/// A client of one log.
pub struct Log {
    base: String,
    agent: ureq::Agent,
}

/// A raw answer: HTTP status and body.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Log {
    /// Returns a client of the log at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .user_agent(concat!("urne-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Log {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// Returns the log's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Returns the time tolerance the rules are re-run with: `fixed` if the user gave
    /// one, else the one the log announces in its `/v1/log` (`time_tolerance_secs`,
    /// a public parameter of the log: a lax one is there for anyone to see), else the
    /// rules' default. Re-running them with a stricter tolerance than the log's would
    /// report as violations entries the log rightly accepted.
    pub fn rules_tolerance(&self, fixed: Option<i64>) -> i64 {
        fixed.unwrap_or_else(|| {
            self.get_json("/v1/log")
                .ok()
                .flatten()
                .and_then(|v| serde_json::from_value::<urne_client::api::LogInfo>(v).ok())
                .and_then(|i| i.time_tolerance_secs)
                .filter(|t| *t >= 0)
                .unwrap_or(urne_client::rules::DEFAULT_TOLERANCE_SECS)
        })
    }

    /// Fetches `path` (relative to the log) and returns status and body.
    ///
    /// # Errors
    /// [`Kind::Network`] if the log cannot be reached or the body cannot be read.
    pub fn get(&self, path: &str) -> Res<Answer> {
        let url = format!("{}/{}", self.base, path.trim_start_matches('/'));
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| Fail::new(Kind::Network, format!("cannot reach {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| Fail::new(Kind::Network, format!("reading {url}: {e}")))?;
        Ok(Answer { status, body })
    }

    /// Posts one signed statement to `POST /v1/statements`; returns status and body
    /// whatever the status (the caller reads refusals' JSON).
    ///
    /// # Errors
    /// [`Kind::Network`] if the log cannot be reached or the body cannot be read.
    pub fn post_statement(&self, statement: &[u8]) -> Res<Answer> {
        let url = format!("{}/v1/statements", self.base);
        let mut resp = self
            .agent
            .post(&url)
            .header("Content-Type", "text/plain; charset=utf-8")
            .send(statement)
            .map_err(|e| Fail::new(Kind::Network, format!("cannot reach {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| Fail::new(Kind::Network, format!("reading {url}: {e}")))?;
        Ok(Answer { status, body })
    }

    /// Fetches `path` and requires a 200.
    ///
    /// # Errors
    /// [`Kind::Network`] for transport errors and non-200 statuses.
    pub fn get_ok(&self, path: &str) -> Res<Vec<u8>> {
        let a = self.get(path)?;
        if a.status != 200 {
            return Err(Fail::new(
                Kind::Network,
                format!(
                    "{}/{} answered HTTP {}: {}",
                    self.base,
                    path.trim_start_matches('/'),
                    a.status,
                    String::from_utf8_lossy(&a.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            ));
        }
        Ok(a.body)
    }

    /// Fetches `path` as JSON; `Ok(None)` on 404.
    ///
    /// # Errors
    /// [`Kind::Network`] for transport errors, other statuses and bodies that are not
    /// JSON.
    pub fn get_json(&self, path: &str) -> Res<Option<serde_json::Value>> {
        let a = self.get(path)?;
        if a.status == 404 {
            return Ok(None);
        }
        if a.status != 200 {
            return Err(Fail::new(
                Kind::Network,
                format!(
                    "{}/{} answered HTTP {}: {}",
                    self.base,
                    path.trim_start_matches('/'),
                    a.status,
                    String::from_utf8_lossy(&a.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            ));
        }
        serde_json::from_slice(&a.body).map(Some).map_err(|e| {
            Fail::new(
                Kind::Network,
                format!("{}/{} is not JSON: {e}", self.base, path),
            )
        })
    }

    /// Fetches the log's current signed checkpoint (unverified).
    ///
    /// # Errors
    /// [`Kind::Network`].
    pub fn checkpoint(&self) -> Res<String> {
        let b = self.get_ok("checkpoint")?;
        String::from_utf8(b)
            .map_err(|_| Fail::new(Kind::ProofFailed, "the checkpoint is not UTF-8"))
    }

    /// Fetches a tile or entry bundle (unverified).
    ///
    /// # Errors
    /// [`Kind::Network`].
    pub fn tile(&self, t: TileId) -> Res<Vec<u8>> {
        self.get_ok(&t.path())
    }
}

/// Posts `body` as JSON to `url` (webhooks).
///
/// # Errors
/// [`Kind::Network`] on transport errors and non-2xx statuses.
pub fn post_json(url: &str, body: &serde_json::Value) -> Res<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| Fail::new(Kind::Network, format!("webhook {url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(Fail::new(
            Kind::Network,
            format!("webhook {url} answered HTTP {}", resp.status().as_u16()),
        ));
    }
    Ok(())
}

/// Fetches hash tiles over HTTP for [`urne_client::tiles::TileHashVerifier`], caching
/// upper-level and partial tiles (the verifier asks for the tree's border and the
/// parent of every level-0 tile on each read). Cached tiles are only ever used again
/// through the verifier, which checks them against the root every time.
pub struct HttpTiles<'a> {
    log: &'a Log,
    cache: RefCell<HashMap<TileId, Vec<u8>>>,
    /// The last transport failure, so callers can tell network from bad data.
    pub last_error: RefCell<Option<String>>,
}

impl<'a> HttpTiles<'a> {
    /// Returns a fetcher over `log`.
    pub fn new(log: &'a Log) -> Self {
        HttpTiles {
            log,
            cache: RefCell::new(HashMap::new()),
            last_error: RefCell::new(None),
        }
    }
}

impl TileFetcher for HttpTiles<'_> {
    fn fetch_tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, TileError> {
        let mut out = Vec::with_capacity(tiles.len());
        for t in tiles {
            if let Some(b) = self.cache.borrow().get(t) {
                out.push(b.clone());
                continue;
            }
            let b = self.log.tile(*t).map_err(|e| {
                *self.last_error.borrow_mut() = Some(e.msg.clone());
                TileError::Fetch(e.msg)
            })?;
            let keep = !t.is_full() || !matches!(t.kind, TileKind::Hash { level: 0 });
            if keep {
                self.cache.borrow_mut().insert(*t, b.clone());
            }
            out.push(b);
        }
        Ok(out)
    }
}
