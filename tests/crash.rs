//! Crash test: a child `urne serve` under concurrent submitters is killed with SIGKILL
//! at a random moment and restarted on the same data directory, again and again.
//! After EVERY restart:
//! - the tree recomputed from all the entries (downloaded as C2SP tiles) matches the
//!   new signed checkpoint, and every hash tile matches the entries;
//! - every acknowledged statement is at its index with identical bytes (all of them,
//!   not a sample);
//! - the new checkpoint is consistent with every checkpoint handed out before: those
//!   of the 201 answers, the seal's acknowledgement and every `/checkpoint` read taken
//!   during the load. For every one of them, ever, the root of that many first entries
//!   (recomputed here) must equal its root; for those of the round just killed, the
//!   log's own consistency proof to the new checkpoint is verified too.
//!
//! Rounds: `URNE_CRASH_ROUNDS` (default 3; CI keeps it small; run many locally, see
//! README "Durability"). Storage: RocksDB in the directory, or a PostgreSQL database
//! with `URNE_TEST_BACKEND=postgres` (`common::backend`; `scripts/test.sh` runs both).

mod common;

use common::{check_log_full, election, new_credential, prefix_roots};
use futures::stream::{self, StreamExt};
use rand::Rng;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Body, Channel, Time};
use urne_client::test_kit::DemoKeys;
use urne_client::tree::{self, Hash};

struct Child_ {
    child: Child,
    url: String,
    key: VerifierKey,
}

fn spawn(dir: &std::path::Path, keys: &DemoKeys) -> Child_ {
    let mut child = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            "crash.urne.localhost/log",
            "--batch-ms",
            "2",
            "--data",
        ])
        .arg(dir)
        .args(["--allow-board", &keys.board[0].verifier().to_string()])
        // On PostgreSQL (URNE_TEST_BACKEND=postgres), the database of `dir`.
        .args(
            common::backend::postgres()
                .then(|| ["--database".to_string(), common::backend::database_for(dir)])
                .into_iter()
                .flatten(),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn urne serve");
    let (url, key) = common::process::serving(&mut child);
    Child_ {
        child,
        url: url.expect("server printed its address"),
        key: VerifierKey::parse(&key.expect("server printed its key")).unwrap(),
    }
}

/// A statement the log acknowledged (201).
#[derive(Clone)]
struct Acked {
    index: u64,
    bytes: String,
}

/// Every checkpoint the log handed out: size → (root, round it was handed out in).
/// Two different roots for one size would be a fork: checked as they arrive.
#[derive(Default)]
struct Handed(BTreeMap<u64, (Hash, usize)>);

impl Handed {
    fn add(&mut self, cp: &Checkpoint, round: usize, from: &str) {
        if let Some((root, _)) = self.0.get(&cp.size) {
            assert_eq!(
                *root, cp.root,
                "two checkpoints of size {} with different roots ({from})",
                cp.size
            );
            return;
        }
        self.0.insert(cp.size, (cp.root, round));
    }
}

fn open(text: &str, key: &VerifierKey) -> Checkpoint {
    open_checkpoint(text.as_bytes(), key, &WitnessPolicy::none())
        .expect("a checkpoint signed by the log")
        .checkpoint
}

/// The log's current checkpoint, its signature checked.
async fn checkpoint(http: &reqwest::Client, url: &str, key: &VerifierKey) -> Checkpoint {
    let text = http
        .get(format!("{url}/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    open(&text, key)
}

fn hashes(v: &serde_json::Value, field: &str) -> Vec<Hash> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| tree::hash_from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Checks an acknowledgement as it arrives: the checkpoint is the log's and the
/// inclusion proof puts `text` at `index` in it.
fn check_201(v: &serde_json::Value, text: &str, key: &VerifierKey) -> (u64, Checkpoint) {
    let cp = open(v["checkpoint"].as_str().unwrap(), key);
    let index = v["index"].as_u64().unwrap();
    tree::verify_inclusion(
        index,
        cp.size,
        &tree::record_hash(text.as_bytes()),
        &hashes(v, "inclusion_proof"),
        &cp.root,
    )
    .expect("inclusion proof of a 201");
    (index, cp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let rounds: usize = std::env::var("URNE_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let keys = DemoKeys::from_seed("crash-test").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let handed: Arc<Mutex<Handed>> = Arc::default();
    let e = election(&keys, "cse-crash");
    let mut log_key: Option<VerifierKey> = None;

    for round in 0..=rounds {
        let mut child = spawn(dir.path(), &keys);
        // On PostgreSQL, once the killed leader's lease expired.
        common::wait_leading(&http, &child.url).await;
        let key = child.key.clone();
        assert_eq!(
            log_key.get_or_insert_with(|| key.clone()),
            &key,
            "same log key after a restart"
        );
        // Everything checked after every restart (round 0: the empty log).
        verify_restart(&http, &child.url, &key, &acked, &handed, round).await;
        if round == rounds {
            // The log also accepts new statements after all those crashes.
            let open_stmt = e.board(Time::now(), Body::Open).unwrap();
            let v = post(&http, &child.url, &open_stmt).await;
            check_201(&v, &open_stmt, &key);
            child.child.kill().unwrap();
            child.child.wait().unwrap();
            let n = acked.lock().unwrap().len();
            assert!(n > 1, "the submitters got acknowledgements ({n})");
            break;
        }
        if round == 0 {
            let seal = e.seal(Time::now(), "crash").unwrap();
            let v = post(&http, &child.url, &seal).await;
            let (index, cp) = check_201(&v, &seal, &key);
            handed.lock().unwrap().add(&cp, round, "seal");
            acked.lock().unwrap().push(Acked { index, bytes: seal });
        }
        // Concurrent submitters and a /checkpoint reader until the kill.
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (http, url, acked, handed, stop, key) = (
                http.clone(),
                child.url.clone(),
                acked.clone(),
                handed.clone(),
                stop.clone(),
                key.clone(),
            );
            let texts: Vec<String> = (0..2000)
                .map(|_| new_credential(&e, Channel::Mail))
                .collect();
            tasks.push(tokio::spawn(async move {
                for text in texts {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(r) = http
                        .post(format!("{url}/v1/statements"))
                        .body(text.clone())
                        .send()
                        .await
                    else {
                        break;
                    };
                    if r.status().as_u16() != 201 {
                        continue;
                    }
                    // A 201 whose body is cut by the kill was never seen by its client.
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        break;
                    };
                    let (index, cp) = check_201(&v, &text, &key);
                    handed.lock().unwrap().add(&cp, round, "201");
                    acked.lock().unwrap().push(Acked { index, bytes: text });
                }
            }));
        }
        {
            let (http, url, handed, stop, key) = (
                http.clone(),
                child.url.clone(),
                handed.clone(),
                stop.clone(),
                key.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(r) = http.get(format!("{url}/checkpoint")).send().await else {
                        break;
                    };
                    let Ok(text) = r.text().await else { break };
                    handed
                        .lock()
                        .unwrap()
                        .add(&open(&text, &key), round, "/checkpoint");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        let delay = rand::thread_rng().gen_range(150..1200);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.child.kill().unwrap(); // SIGKILL
        child.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        eprintln!(
            "round {round}: killed after {delay} ms; {} acknowledged, {} checkpoints handed out so far",
            acked.lock().unwrap().len(),
            handed.lock().unwrap().0.len()
        );
    }
}

async fn post(http: &reqwest::Client, url: &str, text: &str) -> serde_json::Value {
    let r = http
        .post(format!("{url}/v1/statements"))
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    assert_eq!(s, 201, "{v}");
    v
}

/// The checks after a restart (see the module documentation).
async fn verify_restart(
    http: &reqwest::Client,
    url: &str,
    key: &VerifierKey,
    acked: &Mutex<Vec<Acked>>,
    handed: &Mutex<Handed>,
    round: usize,
) {
    let head = checkpoint(http, url, key).await;
    // The whole tree from its tiles: recomputed root = the checkpoint's.
    let (cp, entries) = check_log_full(http, url, key).await;
    assert_eq!(cp, head, "nothing appended between the two reads");

    let acked = acked.lock().unwrap().clone();
    for a in &acked {
        assert!(
            a.index < head.size,
            "acknowledged index {} beyond the restarted tree size {}",
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

    let handed: Vec<(u64, Hash, usize)> = handed
        .lock()
        .unwrap()
        .0
        .iter()
        .map(|(s, (r, n))| (*s, *r, *n))
        .collect();
    for (size, _, _) in &handed {
        assert!(
            *size <= head.size,
            "a checkpoint of size {size} was handed out, the restarted log has {}: rollback",
            head.size
        );
    }
    let roots = prefix_roots(&entries, handed.iter().map(|h| h.0));
    for (size, root, _) in &handed {
        assert_eq!(
            &roots[size], root,
            "the checkpoint of size {size} handed out before is not a prefix of the restarted log"
        );
    }
    // The log's own consistency proofs, for the checkpoints of the round just killed.
    let recent: Vec<(u64, Hash)> = handed
        .iter()
        .filter(|h| round > 0 && h.2 == round - 1)
        .map(|h| (h.0, h.1))
        .collect();
    let checked = recent.len();
    stream::iter(recent)
        .map(|(size, root)| {
            let http = http.clone();
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
                    panic!(
                        "checkpoint of size {size} handed out before the kill is not consistent with {}: {e}",
                        head.size
                    )
                });
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    // Inclusion proofs served by the restarted log, for a sample (every entry's bytes
    // were compared above).
    for a in acked.iter().step_by(97) {
        let v: serde_json::Value = http
            .get(format!(
                "{url}/v1/proof/inclusion?index={}&size={}",
                a.index, head.size
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tree::verify_inclusion(
            a.index,
            head.size,
            &tree::record_hash(a.bytes.as_bytes()),
            &hashes(&v, "inclusion_proof"),
            &head.root,
        )
        .unwrap();
    }
    eprintln!(
        "restart {round}: tree size {}, {} acknowledged statements at their index, {} checkpoints handed out are prefixes ({checked} with the log's consistency proofs)",
        head.size,
        acked.len(),
        handed.len()
    );
}

/// A stop by SIGTERM (what systemd and `docker stop` send) is clean, every time: the
/// process exits with status 0 once the sequencer has finished and RocksDB is closed,
/// and the next start finds every acknowledged statement. A process that returned from
/// `main` while another thread was still closing RocksDB could abort in its C++ static
/// destructors ("pthread lock: Invalid argument", status 134) after its last answer:
/// it did, about once in 30 stops, before `urne::run` joined the sequencer thread.
/// Rounds: `URNE_STOP_ROUNDS` (default 40: a few seconds; the old code failed about one round in 30).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_every_time() {
    let rounds: usize = std::env::var("URNE_STOP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let keys = DemoKeys::from_seed("stop-test").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let e = election(&keys, "cse-stop");
    let mut acked = 0u64;
    for round in 0..=rounds {
        let mut child = spawn(dir.path(), &keys);
        common::wait_leading(&http, &child.url).await;
        let head = checkpoint(&http, &child.url, &child.key).await;
        assert_eq!(
            head.size, acked,
            "round {round}: every statement acknowledged before the stop is there"
        );
        if round == rounds {
            child.child.kill().unwrap();
            child.child.wait().unwrap();
            break;
        }
        if round == 0 {
            post(&http, &child.url, &e.seal(Time::now(), "stop").unwrap()).await;
            acked += 1;
        }
        let texts: Vec<String> = (0..20).map(|_| new_credential(&e, Channel::Mail)).collect();
        // Concurrent, so that batches are still being written close to the stop.
        let url = child.url.clone();
        stream::iter(texts)
            .for_each_concurrent(8, |t| {
                let (http, url) = (&http, &url);
                async move {
                    post(http, url, &t).await;
                }
            })
            .await;
        acked += 20;
        let pid = child.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success(), "kill -TERM {pid}");
        let status = child.child.wait().unwrap();
        assert!(
            status.success(),
            "round {round}: urne serve stopped by SIGTERM exited with {status}"
        );
    }
}
