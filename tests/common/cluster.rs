//! Several `urne serve` processes on one PostgreSQL database, for the takeover and
//! database failover tests: spawning an instance, finding the leader, posting with
//! retries as a client behind a load balancer would, and checking the whole log
//! against everything it acknowledged and every checkpoint it handed out.
#![allow(dead_code)]

use super::{check_log_full, prefix_roots};
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::test_kit::DemoKeys;
use urne_client::tree::{self, Hash};

pub const ORIGIN: &str = "takeover.urne.localhost/log";
pub const LEASE_MS: u64 = 2000;
/// Generous: a loaded machine may be slow to elect, never wrong.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub struct Instance {
    pub child: Child,
    pub url: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn(dir: &Path, db: &str, keys: &DemoKeys) -> Instance {
    spawn_with(dir, db, keys, &[])
}

/// `urne serve` of an instance, as [`spawn`] starts it, with `extra` arguments.
pub fn serve_command(dir: &Path, db: &str, keys: &DemoKeys, extra: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_urne"));
    c.args(["serve", "--listen", "127.0.0.1:0", "--origin", ORIGIN])
        .args(["--batch-ms", "2", "--lease-ms", &LEASE_MS.to_string()])
        .arg("--data")
        .arg(dir)
        .args(["--database", db])
        .args(["--allow-board", &keys.board[0].verifier().to_string()])
        .args(extra);
    c
}

/// Makes the data directory of another instance of the log whose key is in `from`:
/// `to`, holding a copy of that key.
pub fn instance_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(
        from.join(urne::keys::LOG_KEY_FILE),
        to.join(urne::keys::LOG_KEY_FILE),
    )
    .unwrap();
}

/// Starts `urne serve` on `dir` and database `db`, which it must refuse to serve:
/// it exits with a failure and never says "serving on". Returns its stderr.
pub fn start_refused(dir: &Path, db: &str, keys: &DemoKeys) -> String {
    let out = serve_command(dir, db, keys, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started: {}", dir.display());
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("serving on"),
        "served: {}",
        dir.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Reads the value of the unlabelled metric `name` on `url`'s `/metrics`.
pub async fn metric(http: &reqwest::Client, url: &str, name: &str) -> u64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not in {url}/metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// [`spawn`] with `extra` arguments (witnesses, say).
pub fn spawn_with(dir: &Path, db: &str, keys: &DemoKeys, extra: &[String]) -> Instance {
    let mut child = serve_command(dir, db, keys, extra)
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
pub struct Handed(pub BTreeMap<u64, Hash>);

impl Handed {
    pub fn add(&mut self, cp: &Checkpoint, from: &str) {
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
pub struct Acked {
    pub index: u64,
    pub bytes: String,
}

pub fn open(text: &str, key: &VerifierKey) -> Checkpoint {
    open_checkpoint(text.as_bytes(), key, &WitnessPolicy::none())
        .expect("a checkpoint signed by the log")
        .checkpoint
}

pub fn hashes(v: &serde_json::Value, field: &str) -> Vec<Hash> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| tree::hash_from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Checks an acknowledgement (201 or 200): the checkpoint is the log's and the
/// inclusion proof puts `text` at `index` in it.
pub fn check_ack(v: &serde_json::Value, text: &str, key: &VerifierKey) -> (u64, Checkpoint) {
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
pub async fn try_post(http: &reqwest::Client, url: &str, text: &str) -> Option<serde_json::Value> {
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

pub async fn log_info(http: &reqwest::Client, url: &str) -> Option<serde_json::Value> {
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
pub async fn wait_leader(http: &reqwest::Client, urls: &[String]) -> usize {
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
        assert!(
            leading.len() <= 1,
            "two instances lead at once: {leading:?}"
        );
        assert!(start.elapsed() < PATIENCE, "no leader after {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub struct Cluster {
    pub db: String,
    pub dirs: Vec<PathBuf>,
    pub live: Vec<Option<Instance>>,
    /// Arguments every instance gets besides [`spawn`]'s.
    pub extra: Vec<String>,
}

impl Cluster {
    /// `n` instances of one log on the database `db` (none started yet), their
    /// directories under `dir` holding the same log key. Returns the log's key.
    pub fn new(db: String, n: usize, dir: &Path) -> (Cluster, VerifierKey) {
        let (log_key, _) = urne::keys::load_or_create(dir, ORIGIN).unwrap();
        let dirs = (0..n)
            .map(|i| {
                let d = dir.join(format!("instance-{i}"));
                instance_dir(dir, &d);
                d
            })
            .collect();
        let cluster = Cluster {
            db,
            dirs,
            live: (0..n).map(|_| None).collect(),
            extra: Vec::new(),
        };
        (cluster, log_key.verifier().clone())
    }

    /// Starts again every instance that exited.
    pub fn respawn(&mut self, keys: &DemoKeys) {
        for i in 0..self.live.len() {
            let exited = match &mut self.live[i] {
                Some(inst) => inst.child.try_wait().unwrap().is_some(),
                None => true,
            };
            if exited {
                self.live[i] = None;
                self.live[i] = Some(spawn_with(&self.dirs[i], &self.db, keys, &self.extra));
            }
        }
    }

    pub fn urls(&self) -> Vec<String> {
        self.live.iter().flatten().map(|i| i.url.clone()).collect()
    }
}

pub fn live_slot(c: &Cluster, url: &str) -> usize {
    c.live
        .iter()
        .position(|i| i.as_ref().is_some_and(|i| i.url == url))
        .unwrap()
}

/// Posts `text` to `urls` in turn until one acknowledges it (PATIENCE at most).
pub async fn retry_post(http: &reqwest::Client, urls: &[String], text: &str) -> serde_json::Value {
    let start = Instant::now();
    for attempt in 0.. {
        if let Some(v) = try_post(http, &urls[attempt % urls.len()], text).await {
            return v;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no instance took a statement for {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

/// The checks after a round (see the module documentation).
pub async fn verify(
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
            assert!(
                cp.size <= head.size,
                "{u} serves a tree larger than the head"
            );
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
    let handed: Vec<(u64, Hash)> = handed
        .lock()
        .unwrap()
        .0
        .iter()
        .map(|(s, r)| (*s, *r))
        .collect();
    for (size, _) in &handed {
        assert!(
            *size <= head.size,
            "checkpoint of size {size} handed out, log has {}: rollback",
            head.size
        );
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
                    .unwrap_or_else(|e| {
                        panic!("checkpoint {size} not consistent with {}: {e}", head.size)
                    });
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    }
}
