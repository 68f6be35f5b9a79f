//! The log pushes its entries to mirrors (`urne serve --mirror URL=MIRRORKEY`): the
//! client side of C2SP tlog-mirror.
//!
//! Owns: one background task per configured mirror that follows the log's checkpoints
//! and, for each new one, sends the mirror `add-checkpoint` (the witness body: old
//! size, consistency proof, checkpoint), then `add-entries` requests of at most
//! [`MAX_PACKAGES_PER_REQUEST`] packages of 256 entries, each with its subtree
//! consistency proof, resuming where the mirror says it is (its 409 and 202
//! answers), until the mirror answers with its cosignature; the cosignature verified
//! and kept, with each mirror's status, for `/v1/log` (`push_mirrors`) and `/metrics`
//! (`urne_push_mirror_cosigned_size`).
//! Does not own: the wire format and subtree proofs (`urne_client::tlog_mirror`,
//! `urne_client::subtree`), the mirror side ([`crate::mirror_push`]), the sequencer (it
//! never waits for mirrors: these tasks only read committed heads and entries).
//!
//! Which checkpoint is pushed: with witnesses, the latest cosigned one (so the mirror
//! holds and serves the witnesses' cosignatures, and voters reading it check them);
//! without, the log's head. A mirror that is down or refuses is retried with a backoff
//! from [`RETRY_MIN`] to [`RETRY_MAX`]; the others are not delayed (one task each).

use crate::cosign::Cosigning;
use crate::sequencer::SequencerHandle;
use crate::storage::{Store, StoreHashReader};
use anyhow::{bail, Context as _, Result};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use urne_client::api::PushMirrorStatus;
use urne_client::checkpoint::{add_cosignatures, WitnessKey};
use urne_client::tlog_mirror::{self, Header, MirrorInfo, MAX_PACKAGES_PER_REQUEST};
use urne_client::{subtree, tree};

/// How long one request to a mirror may take (an `add-entries` of 32 packages).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The first wait before a failed push is tried again (doubled up to [`RETRY_MAX`]).
pub const RETRY_MIN: Duration = Duration::from_millis(250);
/// The longest wait between two tries.
pub const RETRY_MAX: Duration = Duration::from_secs(8);
/// How often a task looks for a newer checkpoint to push when no head is announced
/// (a cosigned checkpoint is published by the cosigning task, not the sequencer).
const POLL: Duration = Duration::from_millis(500);

/// One configured mirror.
#[derive(Debug, Clone)]
pub struct PushMirror {
    /// Submission prefix: `add-checkpoint` and `add-entries` are appended.
    pub url: String,
    /// Its cosignature key.
    pub key: WitnessKey,
}

/// Parses `URL=MIRRORKEY` (as `--witness`).
///
/// # Errors
/// No `=`, or a malformed key.
pub fn parse_mirror_arg(s: &str) -> Result<PushMirror> {
    let w = crate::cosign::parse_witness_arg(s).with_context(|| format!("mirror {s:?}"))?;
    Ok(PushMirror {
        url: w.url,
        key: w.key,
    })
}

#[derive(Default)]
struct State {
    status: PushMirrorStatus,
    // The size of the mirror's pending checkpoint, as last learnt.
    pending: u64,
    ticket: Vec<u8>,
}

/// The mirrors of a log and what each holds.
#[derive(Default)]
pub struct Pushing {
    mirrors: Vec<PushMirror>,
    state: Vec<Mutex<State>>,
}

impl Pushing {
    /// The state for `mirrors`.
    pub fn new(mirrors: Vec<PushMirror>) -> Self {
        let state = mirrors
            .iter()
            .map(|m| {
                Mutex::new(State {
                    status: PushMirrorStatus {
                        name: m.key.name().to_string(),
                        vkey: m.key.to_string(),
                        url: m.url.clone(),
                        ..Default::default()
                    },
                    ..Default::default()
                })
            })
            .collect();
        Pushing { mirrors, state }
    }

    /// Each mirror's status, for `/v1/log`.
    pub fn statuses(&self) -> Vec<PushMirrorStatus> {
        self.state
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).status.clone())
            .collect()
    }

    /// The gauges of `/metrics` (nothing without mirrors).
    pub fn metrics_text(&self) -> String {
        if self.mirrors.is_empty() {
            return String::new();
        }
        let mut s = String::from(
            "# HELP urne_push_mirror_cosigned_size The largest tree each mirror cosigned holding.\n# TYPE urne_push_mirror_cosigned_size gauge\n",
        );
        for st in self.statuses() {
            s.push_str(&format!(
                "urne_push_mirror_cosigned_size{{mirror=\"{}\"}} {}\n",
                st.name.replace(['"', '\\', '\n'], "_"),
                st.cosigned_size.unwrap_or(0)
            ));
        }
        s
    }

    fn with<T>(&self, i: usize, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state[i].lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Runs one push task per mirror until the sequencer stops.
pub async fn run(
    p: Arc<Pushing>,
    cos: Arc<Cosigning>,
    seq: SequencerHandle,
    store: Arc<dyn Store>,
) {
    if p.mirrors.is_empty() {
        return;
    }
    let http = match reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("mirror HTTP client: {e}");
            return;
        }
    };
    let tasks: Vec<_> = (0..p.mirrors.len())
        .map(|i| {
            tokio::spawn(follow(
                i,
                p.clone(),
                cos.clone(),
                seq.clone(),
                store.clone(),
                http.clone(),
            ))
        })
        .collect();
    // Stopped with the server: aborting this task drops the guard, which aborts them.
    struct AbortAll(Vec<tokio::task::JoinHandle<()>>);
    impl Drop for AbortAll {
        fn drop(&mut self) {
            for t in &self.0 {
                t.abort();
            }
        }
    }
    let guard = AbortAll(tasks);
    for t in &guard.0 {
        // Each ends only when the sequencer stops.
        while !t.is_finished() {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// The checkpoint to push: the cosigned one with witnesses, else the head.
fn target(cos: &Cosigning, seq: &SequencerHandle) -> Option<(u64, String)> {
    if cos.enabled() {
        cos.served().map(|s| (s.0, s.1.clone()))
    } else {
        let h = seq.head();
        Some((h.size, h.checkpoint.clone()))
    }
}

async fn follow(
    i: usize,
    p: Arc<Pushing>,
    cos: Arc<Cosigning>,
    seq: SequencerHandle,
    store: Arc<dyn Store>,
    http: reqwest::Client,
) {
    let mut rx = seq.subscribe();
    let mut backoff = RETRY_MIN;
    loop {
        if let Some((size, note)) = target(&cos, &seq) {
            let held = p.with(i, |s| s.status.cosigned_size.unwrap_or(0));
            if size > held {
                match push(&http, &p, i, &store, size, &note).await {
                    Ok(()) => {
                        p.with(i, |s| s.status.last_error = None);
                        backoff = RETRY_MIN;
                    }
                    Err(e) => {
                        let msg = format!("{e:#}");
                        tracing::warn!(mirror = %p.mirrors[i].key.name(), "push: {msg}");
                        p.with(i, |s| s.status.last_error = Some(msg));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(RETRY_MAX);
                        continue;
                    }
                }
            }
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Pushes the checkpoint `note` of `size` entries to mirror `i` and every entry it
/// lacks, and keeps its cosignature.
async fn push(
    http: &reqwest::Client,
    p: &Pushing,
    i: usize,
    store: &Arc<dyn Store>,
    size: u64,
    note: &str,
) -> Result<()> {
    let m = &p.mirrors[i];
    let text_end = note.find("\n\n").context("checkpoint has no blank line")?;
    let text = &note[..text_end + 1];
    let origin = text.lines().next().unwrap_or_default().to_string();
    add_checkpoint(http, p, i, store, size, note).await?;
    let mut last: Option<u64> = None;
    loop {
        let start = p.with(i, |s| s.status.next_entry.unwrap_or(0)).min(size);
        if last == Some(start) {
            bail!("the mirror's next entry stays at {start}");
        }
        let ticket = p.with(i, |s| s.ticket.clone());
        let body = {
            let (store, origin) = (store.clone(), origin.clone());
            tokio::task::spawn_blocking(move || entries_body(&*store, origin, start, size, ticket))
                .await
                .context("push task")??
        };
        let r = http
            .post(format!("{}/add-entries", m.url))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {}/add-entries", m.url))?;
        let status = r.status().as_u16();
        let answer = crate::peer_body::text_capped(r, crate::peer_body::MAX_WITNESS_ANSWER_BYTES)
            .await
            .context("reading the mirror's answer")?;
        match status {
            200 => {
                let line = cosignature(&m.key, text, &answer).with_context(|| {
                    format!("no valid cosignature by {} in the answer", m.key.name())
                })?;
                let held = add_cosignatures(note, &[line])
                    .map_err(|e| anyhow::anyhow!("adding the mirror's cosignature: {e}"))?;
                p.with(i, |s| {
                    s.status.next_entry = Some(s.status.next_entry.unwrap_or(0).max(size));
                    s.status.cosigned_size = Some(size);
                    s.status.cosigned_checkpoint = Some(held);
                });
                return Ok(());
            }
            202 | 409 => {
                let info = MirrorInfo::parse(&answer)
                    .with_context(|| format!("the mirror's {status} answer"))?;
                p.with(i, |s| {
                    s.status.next_entry = Some(info.next_entry);
                    s.ticket = info.ticket.clone();
                });
                if status == 409 && info.pending_size != size {
                    // Its pending checkpoint is not the one sent (another client, a
                    // restart): send it again from the size it names.
                    p.with(i, |s| s.pending = info.pending_size);
                    add_checkpoint(http, p, i, store, size, note).await?;
                }
                if status == 409 {
                    last = Some(start);
                } else {
                    last = None;
                }
            }
            _ => bail!("the mirror answered {status}: {}", answer.trim()),
        }
    }
}

/// Sends `add-checkpoint` from the pending size believed, then once more from the size
/// a 409 names.
async fn add_checkpoint(
    http: &reqwest::Client,
    p: &Pushing,
    i: usize,
    store: &Arc<dyn Store>,
    size: u64,
    note: &str,
) -> Result<()> {
    let m = &p.mirrors[i];
    for _ in 0..2 {
        let old = p.with(i, |s| s.pending);
        if old > size {
            bail!("the mirror's pending checkpoint has size {old}, larger than the {size} pushed");
        }
        let proof = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                tree::prove_consistency(old, size, &StoreHashReader(&*store))
            })
            .await
            .context("proof task")?
            .map_err(|e| anyhow::anyhow!("consistency proof {old}→{size}: {e}"))?
        };
        let mut body = format!("old {old}\n");
        for h in &proof {
            body.push_str(&tree::hash_to_base64(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        let r = http
            .post(format!("{}/add-checkpoint", m.url))
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {}/add-checkpoint", m.url))?;
        let status = r.status().as_u16();
        let answer = crate::peer_body::text_capped(r, crate::peer_body::MAX_WITNESS_ANSWER_BYTES)
            .await
            .context("reading the mirror's answer")?;
        match status {
            200 => {
                p.with(i, |s| s.pending = size);
                return Ok(());
            }
            409 => {
                let held: u64 = answer
                    .trim_end_matches('\n')
                    .parse()
                    .with_context(|| format!("409 with a bad size {answer:?}"))?;
                if held == old {
                    bail!("the mirror refuses the checkpoint of size {size} at its own size {held} (fork?)");
                }
                p.with(i, |s| s.pending = held);
            }
            _ => bail!(
                "add-checkpoint: the mirror answered {status}: {}",
                answer.trim()
            ),
        }
    }
    bail!("the mirror's pending size kept changing")
}

/// The first cosignature line of `answer` by `key` that verifies on `text`.
fn cosignature(key: &WitnessKey, text: &str, answer: &str) -> Option<String> {
    answer.lines().find_map(|line| {
        let sig = signed_note::Signature::from_bytes(line.as_bytes()).ok()?;
        (sig.name() == key.name()
            && sig.id() == key.key_id()
            && key.verify_cosignature(text, sig.signature()).is_some())
        .then(|| format!("{line}\n"))
    })
}

/// Builds an `add-entries` body (gzip-compressed) from `start` towards `size`: the
/// header and the first [`MAX_PACKAGES_PER_REQUEST`] packages of the canonical
/// sequence, each with its subtree consistency proof in the tree of `size`.
///
/// # Errors
/// The store fails, or an entry does not fit the wire format.
pub fn entries_body(
    store: &dyn Store,
    origin: String,
    start: u64,
    size: u64,
    ticket: Vec<u8>,
) -> Result<Vec<u8>> {
    let header = Header {
        origin,
        upload_start: start,
        upload_end: size,
        ticket,
    };
    let mut raw = header.encode()?;
    let reader = StoreHashReader(store);
    for pkg in tlog_mirror::packages(start, size).take(MAX_PACKAGES_PER_REQUEST) {
        let entries = store
            .entries(pkg.start, pkg.end)
            .with_context(|| format!("entries {}..{}", pkg.start, pkg.end))?;
        let proof =
            subtree::prove_subtree(pkg.proof_start, pkg.end, size, &reader).map_err(|e| {
                anyhow::anyhow!("subtree proof [{}, {}): {e}", pkg.proof_start, pkg.end)
            })?;
        tlog_mirror::encode_package(&entries, &proof, &mut raw)?;
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).context("compressing")?;
    gz.finish().context("compressing")
}
