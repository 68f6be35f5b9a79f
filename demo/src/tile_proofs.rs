//! The verification storm read from tiles alone (`urne load --tile-proofs N`).
//!
//! Owns: proving random leaves of a log the way a voter's client does with nothing but
//! the signed checkpoint and the C2SP hash tiles (`GET /checkpoint`, `GET /tile/…`),
//! each voter starting with an empty cache, every tile authenticated against the
//! checkpoint's root and every proof verified; proofs and tiles per second.
//! Does not own: tile arithmetic, authentication and proofs (`urne_client::tiles`,
//! `urne_client::tree`), the receipt lookups of the API ([`crate::load`]).
//!
//! Why it exists: a receipt looked up by its code (`GET /v1/receipts/<code>`) needs the
//! log's or a mirror's index, and costs that server CPU for every voter. A voter who
//! kept the index of their ballot (it is in the answer they got when it was appended)
//! needs only tiles, which never change once full (`Cache-Control: immutable`): any
//! HTTP cache in front of the log serves them without the log. Run against the log and
//! then against a cache in front of it, this measures what that buys
//! (`scripts/bench-storm.sh`).

use crate::load::{percentile, sorted_ms};
use anyhow::{anyhow, bail, Context as _, Result};
use futures::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urne_client::checkpoint::{open_checkpoint, WitnessPolicy};
use urne_client::tiles::{TileError, TileFetcher, TileHashVerifier, TileId, MAX_HASH_TILE_BYTES};
use urne_client::tree::{self, Hash};

/// Results of a tile-proof run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TileProofReport {
    /// Leaves proved (each proof verified against the checkpoint).
    pub proofs: usize,
    /// Tiles fetched in all (no voter shares another's).
    pub tiles: u64,
    /// Bytes of tiles fetched.
    pub bytes: u64,
    /// The tree size proved against.
    pub tree_size: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Proofs per second.
    pub per_second: f64,
    /// Tiles per second.
    pub tiles_per_second: f64,
    /// Latency percentiles of one voter's proof (all its tiles), milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// One voter's tile fetcher: the tiles it asks for, over HTTP, counted.
struct VoterTiles {
    http: reqwest::Client,
    base: Arc<str>,
    rt: tokio::runtime::Handle,
    tiles: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl TileFetcher for VoterTiles {
    fn fetch_tiles(&self, tiles: &[TileId]) -> Result<Vec<Vec<u8>>, TileError> {
        self.rt
            .block_on(futures::future::try_join_all(tiles.iter().map(|t| {
                let url = format!("{}/{}", self.base, t.path());
                async move {
                    let fail = |e: String| TileError::Fetch(format!("GET {url}: {e}"));
                    let r = self
                        .http
                        .get(&url)
                        .send()
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    if !r.status().is_success() {
                        return Err(fail(r.status().to_string()));
                    }
                    let body = r.bytes().await.map_err(|e| fail(e.to_string()))?;
                    if body.len() > MAX_HASH_TILE_BYTES {
                        return Err(fail(format!("{} bytes", body.len())));
                    }
                    self.tiles.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    Ok(body.to_vec())
                }
            })))
    }
}

/// Proves `count` random leaves of the log (or mirror, or cache) at `base` from its
/// tiles alone, with `concurrency` voters at once: fetches `/v1/log` for the log key
/// (pass `key` to trust another source, e.g. a cache in front of the log) and
/// `/checkpoint` once, then for each voter authenticates the tiles on its leaf's path
/// and verifies the inclusion proof against the signed root.
///
/// # Errors
/// Network failures, a checkpoint that does not verify, an empty log, a tile that does
/// not hash up to the root, or a proof that does not verify.
pub async fn run_tile_proof_load(
    base: &str,
    key: Option<&str>,
    count: usize,
    concurrency: usize,
) -> Result<TileProofReport> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()?;
    let base: Arc<str> = base.trim_end_matches('/').into();
    let key = match key {
        Some(k) => k.to_string(),
        None => {
            let info: urne_client::api::LogInfo = http
                .get(format!("{base}/v1/log"))
                .send()
                .await?
                .json()
                .await
                .context("GET /v1/log")?;
            info.verifier_key
        }
    };
    let key = urne_client::note::VerifierKey::parse(&key).map_err(|e| anyhow!("log key: {e}"))?;
    let note = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await?
        .bytes()
        .await
        .context("GET /checkpoint")?;
    let signed = open_checkpoint(&note, &key, &WitnessPolicy::none())
        .map_err(|e| anyhow!("checkpoint: {e}"))?;
    let (size, root) = (signed.checkpoint.size, signed.checkpoint.root);
    if size == 0 {
        bail!("the log is empty: nothing to prove");
    }
    let mut rng = rand::rngs::StdRng::from_entropy();
    let leaves: Vec<u64> = (0..count).map(|_| rng.gen_range(0..size)).collect();
    let tiles = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let results: Vec<Result<Duration>> = stream::iter(leaves)
        .map(|leaf| {
            let fetcher = VoterTiles {
                http: http.clone(),
                base: base.clone(),
                rt: tokio::runtime::Handle::current(),
                tiles: tiles.clone(),
                bytes: bytes.clone(),
            };
            async move {
                tokio::task::spawn_blocking(move || prove_one(&fetcher, leaf, size, root))
                    .await
                    .context("proof task")?
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let lat = sorted_ms(results)?;
    let tiles = tiles.load(Ordering::Relaxed);
    Ok(TileProofReport {
        proofs: lat.len(),
        tiles,
        bytes: bytes.load(Ordering::Relaxed),
        tree_size: size,
        seconds,
        per_second: lat.len() as f64 / seconds,
        tiles_per_second: tiles as f64 / seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    })
}

/// One voter: the leaf's hash and its inclusion proof read through authenticated
/// tiles, then the proof checked against the root as any verifier would.
fn prove_one(fetcher: &VoterTiles, leaf: u64, size: u64, root: Hash) -> Result<Duration> {
    let t = Instant::now();
    let verifier = TileHashVerifier::new(size, root, fetcher)
        .map_err(|e| anyhow!("leaf {leaf}: tiles: {e}"))?;
    let leaf_hash = verifier
        .verified_hashes(&[tree::stored_hash_index(0, leaf)])
        .map_err(|e| anyhow!("leaf {leaf}: {e}"))?[0];
    let proof = tree::prove_inclusion(leaf, size, &verifier)
        .map_err(|e| anyhow!("leaf {leaf}: proof from tiles: {e}"))?;
    tree::verify_inclusion(leaf, size, &leaf_hash, &proof, &root)
        .map_err(|e| anyhow!("leaf {leaf}: the proof from tiles does not verify: {e}"))?;
    Ok(t.elapsed())
}
