//! Submitting statements to a log over HTTP, with bounded concurrency.
//!
//! Owns: [`Submitter`] (a POST to `/v1/statements` retried while the log answers 503
//! `overloaded`, GETs of JSON), [`Outcome`] (what the log answered, and when), the
//! progress bars of the demo and the load generator.
//! Does not own: what a statement says (`urne_client::test_kit` builds them) nor
//! whether it is valid (the log decides).

use anyhow::{Context as _, Result};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

/// What the log answered to one submission.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// The JSON body of a refusal; `Null` for an accepted statement, whose answer
    /// (its proofs, a few KiB) no caller reads: a load of millions of statements
    /// would otherwise hold every answer in memory (several GiB at ten million).
    pub body: serde_json::Value,
    /// Time from scheduled send to answer.
    pub latency: Duration,
}

impl Outcome {
    /// The error code of a refusal, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(|v| v.as_str())
    }
}

/// An HTTP submitter.
#[derive(Clone)]
pub struct Submitter {
    http: reqwest::Client,
    base: String,
}

impl Submitter {
    /// Creates a submitter for the log at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Submitter {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// GETs `path` (e.g. `/v1/log`) and returns the status and JSON body (`Null` if
    /// the body is not JSON).
    ///
    /// # Errors
    /// Network failures.
    pub async fn get_json(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {}{path}", self.base))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// Posts one signed statement, retrying on 503 (queue full) with a short pause.
    ///
    /// # Errors
    /// Network failures.
    pub async fn post(&self, text: String) -> Result<Outcome> {
        let start = Instant::now();
        loop {
            let resp = self
                .http
                .post(format!("{}/v1/statements", self.base))
                .header("content-type", "text/plain; charset=utf-8")
                .body(text.clone())
                .send()
                .await
                .with_context(|| format!("POST {}/v1/statements", self.base))?;
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap_or_default();
            let body = if (200..300).contains(&status) {
                serde_json::Value::Null
            } else {
                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
            };
            if status == 503 && body.get("error").and_then(|v| v.as_str()) == Some("overloaded") {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            return Ok(Outcome {
                status,
                body,
                latency: start.elapsed(),
            });
        }
    }

    /// Posts many statements with at most `concurrency` in flight, ticking `bar`.
    ///
    /// # Errors
    /// The first network failure.
    pub async fn post_all(
        &self,
        texts: Vec<String>,
        concurrency: usize,
        bar: &ProgressBar,
    ) -> Result<Vec<Outcome>> {
        let outcomes: Vec<Result<Outcome>> = stream::iter(texts)
            .map(|t| {
                let s = self.clone();
                let bar = bar.clone();
                async move {
                    let o = s.post(t).await;
                    bar.inc(1);
                    o
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        outcomes.into_iter().collect()
    }
}

/// A progress bar of `len` steps named `msg` (hidden unless `progress`).
pub(crate) fn bar(progress: bool, len: usize, msg: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    b.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(msg.to_string());
    b
}
