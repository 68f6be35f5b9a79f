//! The load generator of `urne load`.
//!
//! Owns: pre-signed ballots fired at a target rate, latency percentiles measured from
//! each request's scheduled time (so a slow server cannot hide its queueing: no
//! coordinated omission); inclusion-proof and receipt lookups per second, each answer
//! checked as a voter's tool would.
//! Does not own: any rule (the log decides), the keys and statement builders
//! (`urne_client::test_kit`), the HTTP ([`crate::submit`]).

use crate::submit::{bar, Outcome, Submitter};
use anyhow::{bail, Context as _, Result};
use futures::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};
use urne_client::statement::{Body, Channel, CredentialReason, Tag, Time};
use urne_client::test_kit::{random_tag, DemoElection, DemoKeys};

/// Options of `urne load`.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Ballots to send (as many voters get credentials first).
    pub ballots: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Target rate (statements per second); `None` = as fast as the log answers.
    pub rate: Option<f64>,
    /// Seed of the authority keys (the board key must be allowed by the log).
    pub seed: String,
    /// Show progress bars.
    pub progress: bool,
    /// The election's sealed time tolerance, seconds (the log must allow it): a long
    /// run on a slow machine sends pre-signed statements later than 300 s after they
    /// were signed.
    pub tolerance_secs: u64,
    /// Where to write the receipt codes of the appended ballots (hex, one a line), for
    /// [`run_receipt_load`].
    pub receipts_out: Option<std::path::PathBuf>,
}

/// Results of a load run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Ballots sent.
    pub sent: usize,
    /// Ballots appended (201).
    pub appended: usize,
    /// Other answers.
    pub failed: usize,
    /// Wall time of the ballot phase, seconds.
    pub seconds: f64,
    /// Appended ballots per second.
    pub per_second: f64,
    /// Latency percentiles in milliseconds, from scheduled send to acknowledgement.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// Runs the load generator: seals an election, issues `ballots` credentials, then
/// fires pre-signed ballots (real Ed25519 signatures, each checked by the log with
/// the rules) and measures throughput and latency.
///
/// # Errors
/// Network failures or a setup statement refused.
pub async fn run_load(base: &str, opts: &LoadOptions) -> Result<LoadReport> {
    let keys = DemoKeys::from_seed(&opts.seed)?;
    let sub = Submitter::new(base)?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let now = Time::now();
    let election = DemoElection {
        id: format!("load-{:08x}", rng.gen::<u32>()),
        keys: &keys,
        scrutins: vec!["s1".into()],
        opens: Time(now.0 - 60),
        closes: Time(now.0 + 86_400),
        tolerance: opts.tolerance_secs,
    };
    let o = sub.post(election.seal(now, "load test")?).await?;
    if o.status != 201 {
        bail!("sealing the load election was refused: {} {} (is the demo board key allowed? `urne demo --print-board-key`)", o.status, o.body);
    }
    let creds: Vec<Tag> = (0..opts.ballots).map(|_| random_tag(&mut rng)).collect();
    let texts: Vec<String> = creds
        .iter()
        .map(|c| {
            election.credential(
                Time::now(),
                random_tag(&mut rand::thread_rng()),
                *c,
                Channel::Batch,
                CredentialReason::Initial,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let b = bar(opts.progress, texts.len(), "credentials");
    sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    let o = sub.post(election.board(Time::now(), Body::Open)?).await?;
    if o.status != 201 {
        bail!("opening the load election was refused: {}", o.body);
    }
    // Pre-sign every ballot so the generator measures the log, not its own signing.
    let t = Time::now();
    let receipts: Vec<Tag> = creds.iter().map(|_| random_tag(&mut rng)).collect();
    let ballots: Vec<String> = creds
        .iter()
        .zip(&receipts)
        .map(|(c, r)| election.ballot(t, "s1", *c, *r))
        .collect::<Result<Vec<_>>>()?;
    let b = bar(opts.progress, ballots.len(), "ballots");
    let start = Instant::now();
    let interval = opts.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let results: Vec<Result<(usize, Outcome)>> = stream::iter(ballots.into_iter().enumerate())
        .map(|(i, text)| {
            let s = sub.clone();
            let b = b.clone();
            async move {
                let scheduled = match interval {
                    Some(iv) => start + iv * i as u32,
                    None => Instant::now(),
                };
                tokio::time::sleep_until(scheduled.into()).await;
                let mut o = s.post(text).await?;
                o.latency = scheduled.elapsed();
                b.inc(1);
                Ok((i, o))
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    b.finish();
    let outcomes: Vec<(usize, Outcome)> = results.into_iter().collect::<Result<_>>()?;
    if let Some(path) = &opts.receipts_out {
        let lines: String = outcomes
            .iter()
            .filter(|(_, o)| o.status == 201)
            .map(|(i, _)| format!("{}\n", receipts[*i]))
            .collect();
        std::fs::write(path, lines)
            .with_context(|| format!("writing the receipts to {}", path.display()))?;
    }
    let mut lat: Vec<f64> = outcomes
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o.status == 201)
        .map(|o| o.latency.as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * p).round() as usize]
        }
    };
    let appended = lat.len();
    Ok(LoadReport {
        sent: outcomes.len(),
        appended,
        failed: outcomes.len() - appended,
        seconds,
        per_second: appended as f64 / seconds,
        p50_ms: pct(0.5),
        p90_ms: pct(0.9),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
    })
}

/// Results of a proof-serving run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProofLoadReport {
    /// Proofs fetched and verified against the log's checkpoint.
    pub proofs: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Proofs per second.
    pub per_second: f64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// Fetches `count` inclusion proofs of random leaves with `concurrency` requests in
/// flight (`GET /v1/proof/inclusion?index=&size=`), checking a sample of them against
/// the signed checkpoint, and measures proofs served per second.
///
/// # Errors
/// Network failures, an empty log, or a proof that does not verify.
pub async fn run_proof_load(
    base: &str,
    count: usize,
    concurrency: usize,
) -> Result<ProofLoadReport> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let base = base.trim_end_matches('/').to_string();
    let info: urne_client::api::LogInfo = http
        .get(format!("{base}/v1/log"))
        .send()
        .await?
        .json()
        .await?;
    let key = urne_client::note::VerifierKey::parse(&info.verifier_key)
        .map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let cp_text = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await?
        .text()
        .await?;
    let cp = urne_client::checkpoint::open_checkpoint(
        cp_text.as_bytes(),
        &key,
        &urne_client::checkpoint::WitnessPolicy::none(),
    )
    .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))?
    .checkpoint;
    if cp.size == 0 {
        bail!("the log is empty");
    }
    let size = cp.size;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let indexes: Vec<u64> = (0..count).map(|_| rng.gen_range(0..size)).collect();
    let start = Instant::now();
    let results: Vec<Result<(Duration, bool)>> = stream::iter(indexes.into_iter().enumerate())
        .map(|(k, i)| {
            let http = http.clone();
            let url = format!("{base}/v1/proof/inclusion?index={i}&size={size}");
            let root = cp.root;
            async move {
                let t = Instant::now();
                let v: urne_client::api::InclusionAnswer =
                    http.get(url).send().await?.json().await?;
                let lat = t.elapsed();
                // Verify one in sixteen so the generator does not become the bottleneck.
                let ok = if k % 16 == 0 {
                    let leaf = v
                        .leaf_hash
                        .as_deref()
                        .and_then(|h| urne_client::tree::hash_from_hex(h).ok());
                    let proof = urne_client::api::hashes_from_base64(&v.inclusion_proof).ok();
                    match (leaf, proof) {
                        (Some(l), Some(p)) => {
                            urne_client::tree::verify_inclusion(i, size, &l, &p, &root).is_ok()
                        }
                        _ => false,
                    }
                } else {
                    true
                };
                Ok((lat, ok))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let lat = sorted_ms(
        results
            .into_iter()
            .map(|r| match r? {
                (l, true) => Ok(l),
                (_, false) => bail!("a proof served by the log does not verify"),
            })
            .collect(),
    )?;
    Ok(ProofLoadReport {
        proofs: lat.len(),
        seconds,
        per_second: lat.len() as f64 / seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    })
}

/// The verification storm: fetches `count` receipts (`GET /v1/receipts/<code>`, the
/// ballot found by its receipt code, with its inclusion proof, signed checkpoint and
/// tlog-proof) drawn at random from `codes`, with `concurrency` requests in flight,
/// and measures receipts proved per second. One answer in sixteen is verified as a
/// voter's client does (the checkpoint's signature under the log key, the entry's
/// inclusion proof); every answer must name the receipt asked for.
///
/// # Errors
/// Network failures, no codes, a receipt not found, or a proof that does not verify.
pub async fn run_receipt_load(
    base: &str,
    codes: &[String],
    count: usize,
    concurrency: usize,
) -> Result<ProofLoadReport> {
    if codes.is_empty() {
        bail!("no receipt codes to look up");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let base = base.trim_end_matches('/').to_string();
    let info: urne_client::api::LogInfo = http
        .get(format!("{base}/v1/log"))
        .send()
        .await?
        .json()
        .await?;
    let key = urne_client::note::VerifierKey::parse(&info.verifier_key)
        .map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let picks: Vec<&String> = (0..count)
        .map(|_| &codes[rng.gen_range(0..codes.len())])
        .collect();
    let start = Instant::now();
    let results: Vec<Result<Duration>> = stream::iter(picks.into_iter().enumerate())
        .map(|(k, code)| {
            let http = http.clone();
            let url = format!("{base}/v1/receipts/{code}");
            let key = &key;
            async move {
                let t = Instant::now();
                let resp = http.get(url).send().await?;
                if resp.status() != 200 {
                    bail!("receipt {code}: HTTP {}", resp.status());
                }
                let a: urne_client::api::ReceiptAnswer = resp.json().await?;
                let lat = t.elapsed();
                if &a.receipt != code {
                    bail!("asked for receipt {code}, answered {}", a.receipt);
                }
                if k % 16 == 0 {
                    let proof = urne_client::checkpoint::TlogProof::parse(a.tlog_proof.as_bytes())
                        .map_err(|e| anyhow::anyhow!("receipt {code}: tlog-proof: {e}"))?;
                    let record = urne_client::tree::record_hash(a.entry.entry.as_bytes());
                    proof
                        .verify(
                            &record,
                            key,
                            &urne_client::checkpoint::WitnessPolicy::none(),
                        )
                        .map_err(|e| anyhow::anyhow!("receipt {code}: {e}"))?;
                }
                Ok(lat)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let lat = sorted_ms(results)?;
    Ok(ProofLoadReport {
        proofs: lat.len(),
        seconds,
        per_second: lat.len() as f64 / seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    })
}

/// The latencies of a run's requests in milliseconds, sorted; the first failed
/// request is the run's error.
pub(crate) fn sorted_ms(results: Vec<Result<Duration>>) -> Result<Vec<f64>> {
    let mut lat = Vec::with_capacity(results.len());
    for r in results {
        lat.push(r?.as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(lat)
}

/// The `p` quantile (0 to 1) of latencies sorted by [`sorted_ms`]; 0 when there are
/// none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
