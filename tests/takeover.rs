//! Takeover test: three `urne serve` (real processes) on one PostgreSQL database
//! started by the test, eight concurrent submitters spread over all three (followers
//! forward to the leader), a `/checkpoint` reader on each, and the leader killed
//! with SIGKILL at a random moment, round after round. An instance that exits (the
//! killed one, or one that lost its lease under load) is started again as a
//! follower, as its supervisor would. After EVERY round:
//! - a follower took over by itself: a statement posted after the kill is
//!   acknowledged (the time from the kill to that acknowledgement is the takeover
//!   time, printed, and gathered in BENCHMARKS.md);
//! - the tree recomputed from all the entries (C2SP tiles) equals the checkpoint, and
//!   every instance converges to that checkpoint;
//! - every acknowledged statement (201, or 200 for a retry that found it) is at its
//!   index with identical bytes;
//! - every checkpoint handed out (acknowledgements and `/checkpoint` reads of every
//!   instance) is a prefix of the log: never two roots for one size, never a rollback;
//!   those of the last round are also checked with the log's own consistency proofs.
//!
//! Then the paused leader: SIGSTOP longer than the lease, a follower takes over and
//! appends, SIGCONT: the former leader cannot append (it exits, status 75, having
//! acknowledged nothing more), and the log is checked again.
//!
//! Rounds: `URNE_TAKEOVER_ROUNDS` (default 20).

mod common;

use common::postgres::Postgres;
use common::{check_log_full, election, new_credential, prefix_roots};
use futures::stream::{self, StreamExt};
use rand::Rng;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use urne::demo::DemoKeys;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Channel, Time};
use urne_client::tree::{self, Hash};

const ORIGIN: &str = "takeover.urne.localhost/log";
const LEASE_MS: u64 = 2000;
/// Generous: a loaded machine may be slow to elect, never wrong.
const PATIENCE: Duration = Duration::from_secs(120);

struct Instance {
    child: Child,
    url: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, db: &str, keys: &DemoKeys) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(["serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .args(["--batch-ms", "2", "--lease-ms", &LEASE_MS.to_string()])
        .arg("--data")
        .arg(dir)
        .args(["--database", db])
        .args(["--allow-board", &keys.board[0].verifier().to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn urne serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            url = Some(
                rest.split_whitespace()
                    .next()
                    .unwrap()
                    .trim_end_matches('/')
                    .to_string(),
            );
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Instance {
        child,
        url: url.expect("urne serve printed its address"),
    }
}

/// Every checkpoint handed out: size → root. Two roots for one size fail at once.
#[derive(Default)]
struct Handed(BTreeMap<u64, Hash>);

impl Handed {
    fn add(&mut self, cp: &Checkpoint, from: &str) {
        if let Some(root) = self.0.get(&cp.size) {
            assert_eq!(
                *root, cp.root,
                "two checkpoints of size {} with different roots ({from})",
                cp.size
            );
        }
        self.0.insert(cp.size, cp.root);
    }
}

#[derive(Clone)]
struct Acked {
    index: u64,
    bytes: String,
}

fn open(text: &str, key: &VerifierKey) -> Checkpoint {
    open_checkpoint(text.as_bytes(), key, &WitnessPolicy::none())
        .expect("a checkpoint signed by the log")
        .checkpoint
}

fn hashes(v: &serde_json::Value, field: &str) -> Vec<Hash> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| tree::hash_from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Checks an acknowledgement (201 or 200): the checkpoint is the log's and the
/// inclusion proof puts `text` at `index` in it.
fn check_ack(v: &serde_json::Value, text: &str, key: &VerifierKey) -> (u64, Checkpoint) {
    let cp = open(v["checkpoint"].as_str().unwrap(), key);
    let index = v["index"].as_u64().unwrap();
    tree::verify_inclusion(
        index,
        cp.size,
        &tree::record_hash(text.as_bytes()),
        &hashes(v, "inclusion_proof"),
        &cp.root,
    )
    .expect("inclusion proof of an acknowledgement");
    (index, cp)
}

/// Posts `text` to one instance: `Some(answer)` if acknowledged, `None` if it should
/// be retried (no leader yet, leader gone: 503 or a connection error). Any other
/// answer fails the test.
async fn try_post(http: &reqwest::Client, url: &str, text: &str) -> Option<serde_json::Value> {
    let r = http
        .post(format!("{url}/v1/statements"))
        .body(text.to_string())
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    let body = r.bytes().await.ok()?;
    match status {
        200 | 201 => serde_json::from_slice(&body).ok(),
        503 | 502 => None,
        _ => panic!(
            "unexpected answer {status}: {}",
            String::from_utf8_lossy(&body)
        ),
    }
}

async fn log_info(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
    http.get(format!("{url}/v1/log"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Waits until exactly one live instance leads; returns its position.
async fn wait_leader(http: &reqwest::Client, urls: &[String]) -> usize {
    let start = Instant::now();
    loop {
        let mut leading = Vec::new();
        for (i, u) in urls.iter().enumerate() {
            if let Some(v) = log_info(http, u).await {
                if v["leading"].as_bool() == Some(true) {
                    leading.push(i);
                }
            }
        }
        if leading.len() == 1 {
            return leading[0];
        }
        assert!(leading.len() <= 1, "two instances lead at once: {leading:?}");
        assert!(start.elapsed() < PATIENCE, "no leader after {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Cluster {
    db: String,
    dirs: Vec<PathBuf>,
    live: Vec<Option<Instance>>,
}

impl Cluster {
    /// Starts again every instance that exited.
    fn respawn(&mut self, keys: &DemoKeys) {
        for i in 0..self.live.len() {
            let exited = match &mut self.live[i] {
                Some(inst) => inst.child.try_wait().unwrap().is_some(),
                None => true,
            };
            if exited {
                self.live[i] = None;
                self.live[i] = Some(spawn(&self.dirs[i], &self.db, keys));
            }
        }
    }

    fn urls(&self) -> Vec<String> {
        self.live.iter().flatten().map(|i| i.url.clone()).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_follower_takes_over_nothing_lost() {
    let rounds: usize = std::env::var("URNE_TAKEOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let pg = Postgres::start_new();
    let db = pg.create_db("takeover");
    let keys = DemoKeys::from_seed("takeover-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // One log key, copied to each instance's directory (as an operator does).
    let (log_key, _) = urne::keys::load_or_create(tmp.path(), ORIGIN).unwrap();
    let key = log_key.verifier().clone();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| {
            let d = tmp.path().join(format!("instance-{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::copy(
                tmp.path().join(urne::keys::LOG_KEY_FILE),
                d.join(urne::keys::LOG_KEY_FILE),
            )
            .unwrap();
            d
        })
        .collect();
    let mut cluster = Cluster {
        db,
        dirs,
        live: (0..3).map(|_| None).collect(),
    };
    cluster.respawn(&keys);
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let handed: Arc<Mutex<Handed>> = Arc::default();
    let e = election(&keys, "cse-takeover");
    let mut takeovers = Vec::new();

    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    // The seal, through whichever instance: followers forward.
    let seal = e.seal(Time::now(), "takeover").unwrap();
    let v = retry_post(&http, &urls, &seal).await;
    let (index, cp) = check_ack(&v, &seal, &key);
    handed.lock().unwrap().add(&cp, "seal");
    acked.lock().unwrap().push(Acked { index, bytes: seal });

    for round in 0..rounds {
        cluster.respawn(&keys);
        let urls = cluster.urls();
        let leader = wait_leader(&http, &urls).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for s in 0..8 {
            let (http, urls, acked, handed, stop, key) = (
                http.clone(),
                urls.clone(),
                acked.clone(),
                handed.clone(),
                stop.clone(),
                key.clone(),
            );
            let texts: Vec<String> = (0..400).map(|_| new_credential(&e, Channel::Mail)).collect();
            tasks.push(tokio::spawn(async move {
                let mut attempt = s;
                'texts: for text in texts {
                    // Until acknowledged (or the round ends): the next instance on
                    // each failure, as a client behind a load balancer would.
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break 'texts;
                        }
                        let url = &urls[attempt % urls.len()];
                        if let Some(v) = try_post(&http, url, &text).await {
                            let (index, cp) = check_ack(&v, &text, &key);
                            handed.lock().unwrap().add(&cp, "acknowledgement");
                            acked.lock().unwrap().push(Acked { index, bytes: text });
                            break;
                        }
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        for url in urls.clone() {
            let (http, handed, stop, key) =
                (http.clone(), handed.clone(), stop.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await {
                        if let Ok(text) = r.text().await {
                            if text.starts_with(ORIGIN) {
                                handed.lock().unwrap().add(&open(&text, &key), "/checkpoint");
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        let delay = rand::thread_rng().gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let killed_at = Instant::now();
        {
            let slot = live_slot(&cluster, &urls[leader]);
            let inst = cluster.live[slot]
                .as_mut()
                .unwrap();
            inst.child.kill().unwrap(); // SIGKILL
            inst.child.wait().unwrap();
        }
        // Takeover: a new statement, posted to the survivors until acknowledged.
        let survivors: Vec<String> = urls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != leader)
            .map(|(_, u)| u.clone())
            .collect();
        let probe = new_credential(&e, Channel::Mail);
        let v = retry_post(&http, &survivors, &probe).await;
        let took = killed_at.elapsed();
        takeovers.push(took);
        let (index, cp) = check_ack(&v, &probe, &key);
        handed.lock().unwrap().add(&cp, "probe");
        acked.lock().unwrap().push(Acked {
            index,
            bytes: probe,
        });
        // A little more load under the new leader, then stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        cluster.respawn(&keys);
        let urls = cluster.urls();
        let leader = wait_leader(&http, &urls).await;
        verify(&http, &urls, leader, &key, &acked, &handed, round + 1 == rounds).await;
        eprintln!(
            "round {round}: leader killed after {delay} ms, takeover (kill to the next acknowledgement) {took:?}; {} acknowledged",
            acked.lock().unwrap().len()
        );
    }
    takeovers.sort();
    let pct = |p: usize| takeovers[(takeovers.len() * p / 100).min(takeovers.len() - 1)];
    eprintln!(
        "takeover over {rounds} rounds: p50 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(99),
        takeovers.last().unwrap()
    );

    paused_leader_cannot_append(&mut cluster, &keys, &http, &key, &acked, &handed, &e).await;
}

fn live_slot(c: &Cluster, url: &str) -> usize {
    c.live
        .iter()
        .position(|i| i.as_ref().is_some_and(|i| i.url == url))
        .unwrap()
}

/// Posts `text` to `urls` in turn until one acknowledges it (PATIENCE at most).
async fn retry_post(http: &reqwest::Client, urls: &[String], text: &str) -> serde_json::Value {
    let start = Instant::now();
    for attempt in 0.. {
        if let Some(v) = try_post(http, &urls[attempt % urls.len()], text).await {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "no instance took a statement for {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

/// The checks after a round (see the module documentation).
async fn verify(
    http: &reqwest::Client,
    urls: &[String],
    leader: usize,
    key: &VerifierKey,
    acked: &Mutex<Vec<Acked>>,
    handed: &Mutex<Handed>,
    consistency: bool,
) {
    let url = &urls[leader];
    let (head, entries) = check_log_full(http, url, key).await;
    // Every instance serves that head (followers follow the database).
    for u in urls {
        let start = Instant::now();
        loop {
            let text = http
                .get(format!("{u}/checkpoint"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let cp = open(&text, key);
            assert!(cp.size <= head.size, "{u} serves a tree larger than the head");
            if cp.size == head.size {
                assert_eq!(cp.root, head.root, "{u}: another root for size {}", cp.size);
                break;
            }
            assert!(start.elapsed() < PATIENCE, "{u} stays at size {}", cp.size);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let acked = acked.lock().unwrap().clone();
    for a in &acked {
        assert!(
            a.index < head.size,
            "acknowledged index {} beyond the tree size {}",
            a.index,
            head.size
        );
        assert_eq!(
            entries[a.index as usize],
            a.bytes.as_bytes(),
            "acknowledged entry {} lost or changed",
            a.index
        );
    }
    let handed: Vec<(u64, Hash)> = handed.lock().unwrap().0.iter().map(|(s, r)| (*s, *r)).collect();
    for (size, _) in &handed {
        assert!(*size <= head.size, "checkpoint of size {size} handed out, log has {}: rollback", head.size);
    }
    let roots = prefix_roots(&entries, handed.iter().map(|h| h.0));
    for (size, root) in &handed {
        assert_eq!(
            &roots[size], root,
            "the checkpoint of size {size} handed out is not a prefix of the log"
        );
    }
    if consistency {
        stream::iter(handed)
            .map(|(size, root)| {
                let url = format!("{url}/v1/proof/consistency?old={size}&new={}", head.size);
                async move {
                    let v: serde_json::Value =
                        http.get(url).send().await.unwrap().json().await.unwrap();
                    tree::verify_consistency(
                        size,
                        head.size,
                        &root,
                        &head.root,
                        &hashes(&v, "consistency_proof"),
                    )
                    .unwrap_or_else(|e| panic!("checkpoint {size} not consistent with {}: {e}", head.size));
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }
}

/// A leader paused (SIGSTOP) longer than its lease, with statements in flight to it:
/// a follower takes over and appends; resumed (SIGCONT), the former leader
/// acknowledges nothing more and exits with status 75.
#[allow(clippy::too_many_arguments)]
async fn paused_leader_cannot_append(
    cluster: &mut Cluster,
    keys: &DemoKeys,
    http: &reqwest::Client,
    key: &VerifierKey,
    acked: &Arc<Mutex<Vec<Acked>>>,
    handed: &Arc<Mutex<Handed>>,
    e: &urne::demo::DemoElection<'_>,
) {
    cluster.respawn(keys);
    let urls = cluster.urls();
    let leader = wait_leader(http, &urls).await;
    let slot = live_slot(cluster, &urls[leader]);
    let pid = cluster.live[slot].as_ref().unwrap().child.id() as i32;
    // SAFETY: signals to a process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let stopped_at = Instant::now();
    // Statements sent to the paused leader itself: they wait in its socket buffers.
    let stuck: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, text) = (http.clone(), urls[leader].clone(), new_credential(e, Channel::Mail));
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/v1/statements"))
                    .body(text.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default(), text),
                    Err(e) => (0, e.to_string(), text),
                }
            })
        })
        .collect();
    // A follower takes over and appends.
    let others: Vec<String> = urls
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, u)| u.clone())
        .collect();
    let new_leader = loop {
        let mut found = None;
        for u in &others {
            if let Some(v) = log_info(http, u).await {
                if v["leading"].as_bool() == Some(true) {
                    found = Some(u.clone());
                }
            }
        }
        if let Some(u) = found {
            break u;
        }
        assert!(stopped_at.elapsed() < PATIENCE, "no takeover of a paused leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for _ in 0..20 {
        let text = new_credential(e, Channel::Mail);
        let v = retry_post(http, std::slice::from_ref(&new_leader), &text).await;
        let (index, cp) = check_ack(&v, &text, key);
        handed.lock().unwrap().add(&cp, "new leader");
        acked.lock().unwrap().push(Acked { index, bytes: text });
    }
    // Longer than the lease for sure, then resume the former leader.
    let lease = Duration::from_millis(LEASE_MS);
    if stopped_at.elapsed() < 2 * lease {
        tokio::time::sleep(2 * lease - stopped_at.elapsed()).await;
    }
    unsafe { libc::kill(pid, libc::SIGCONT) };
    // It exits by itself, having lost the lead.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = cluster.live[slot].as_mut().unwrap().child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "the former leader did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(urne::leader::EXIT_LOST_LEAD), "{status}");
    for t in stuck {
        let (status, body, text) = t.await.unwrap();
        // Whatever it answered, it is no acknowledgement of an append by the former
        // leader: a 201/200 here must be in the log like any other.
        if status == 201 || status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let (index, cp) = check_ack(&v, &text, key);
            handed.lock().unwrap().add(&cp, "paused leader");
            acked.lock().unwrap().push(Acked { index, bytes: text });
        }
        eprintln!("statement sent to the paused leader: {status} {}", body.chars().take(160).collect::<String>());
    }
    cluster.respawn(keys);
    let urls = cluster.urls();
    let leader = wait_leader(http, &urls).await;
    verify(http, &urls, leader, key, acked, handed, true).await;
    eprintln!("paused leader: resumed, exited with {status}, appended nothing; the log checks");
}
