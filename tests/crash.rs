//! Crash test: a child `urne serve` under concurrent submitters is killed with SIGKILL
//! at a random moment and restarted on the same data directory. Every acknowledged
//! statement must be present at its index with identical bytes, the tree recomputed
//! from the entries must match the new checkpoint, and the new checkpoint must be
//! consistent with every checkpoint handed out before the kill.
//!
//! Rounds: `URNE_CRASH_ROUNDS` (default 3; CI keeps it small, run hundreds locally).

mod common;

use common::{check_log_at, election};
use rand::Rng;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use urne::demo::{random_tag, DemoKeys};
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Body, Channel, CredentialReason, Time};
use urne_client::tree;

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
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn urne serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut key = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(k) = line.trim().strip_prefix("verifier key:") {
            key = Some(VerifierKey::parse(k.trim()).unwrap());
        }
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
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Child_ {
        child,
        url: url.expect("server printed its address"),
        key: key.expect("server printed its key"),
    }
}

#[derive(Clone)]
struct Acked {
    index: u64,
    bytes: String,
    checkpoint: Checkpoint,
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
    let e = election(&keys, "cse-crash");
    let mut sealed = false;

    for round in 0..rounds {
        let mut child = spawn(dir.path(), &keys);
        let key = child.key.clone();
        // After a restart the log answers with a checkpoint consistent with all before.
        let cp_text = http
            .get(format!("{}/checkpoint", child.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let head = open_checkpoint(cp_text.as_bytes(), &key, &WitnessPolicy::none())
            .unwrap()
            .checkpoint;
        let so_far = acked.lock().unwrap().clone();
        verify_against(&http, &child.url, &head, &so_far).await;

        if !sealed {
            let (s, _) = post(&http, &child.url, &e.seal(Time::now(), "crash").unwrap()).await;
            assert_eq!(s, 201);
            sealed = true;
        }
        // Concurrent submitters until the kill.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (http, url, acked, stop) =
                (http.clone(), child.url.clone(), acked.clone(), stop.clone());
            let texts: Vec<String> = (0..2000)
                .map(|_| {
                    e.credential(
                        Time::now(),
                        random_tag(&mut rand::thread_rng()),
                        random_tag(&mut rand::thread_rng()),
                        Channel::Mail,
                        CredentialReason::Initial,
                    )
                    .unwrap()
                })
                .collect();
            let key = key.clone();
            tasks.push(tokio::spawn(async move {
                for text in texts {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
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
                    let Ok(v) = r.json::<serde_json::Value>().await else {
                        break;
                    };
                    let cp = open_checkpoint(
                        v["checkpoint"].as_str().unwrap().as_bytes(),
                        &key,
                        &WitnessPolicy::none(),
                    )
                    .unwrap()
                    .checkpoint;
                    acked.lock().unwrap().push(Acked {
                        index: v["index"].as_u64().unwrap(),
                        bytes: text,
                        checkpoint: cp,
                    });
                }
            }));
        }
        let delay = rand::thread_rng().gen_range(150..1200);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.child.kill().unwrap(); // SIGKILL
        child.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        eprintln!(
            "round {round}: killed after {delay} ms, {} acknowledged so far",
            acked.lock().unwrap().len()
        );
    }
    // A final restart: everything checked once more, and the whole log re-verified.
    let mut child = spawn(dir.path(), &keys);
    let cp_text = http
        .get(format!("{}/checkpoint", child.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let head = open_checkpoint(cp_text.as_bytes(), &child.key, &WitnessPolicy::none())
        .unwrap()
        .checkpoint;
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "the submitters got acknowledgements");
    verify_against(&http, &child.url, &head, &acked).await;
    let entries = check_log_at(&http, &child.url, &child.key).await;
    for a in &acked {
        assert_eq!(
            entries[a.index as usize],
            a.bytes.as_bytes(),
            "acknowledged entry {} lost or changed",
            a.index
        );
    }
    // The log also accepts new statements after all those crashes.
    let (s, _) = post(
        &http,
        &child.url,
        &e.board(Time::now(), Body::Open).unwrap(),
    )
    .await;
    assert_eq!(s, 201);
    child.child.kill().unwrap();
    child.child.wait().unwrap();
}

async fn post(http: &reqwest::Client, url: &str, text: &str) -> (u16, serde_json::Value) {
    let r = http
        .post(format!("{url}/v1/statements"))
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or_default())
}

/// Checks every acknowledged statement against the restarted log's head: present at
/// its index (inclusion proof to `head`), and every checkpoint handed out before is
/// consistent with `head`.
async fn verify_against(http: &reqwest::Client, url: &str, head: &Checkpoint, acked: &[Acked]) {
    let mut sizes = std::collections::BTreeMap::new();
    for a in acked {
        assert!(
            a.index < head.size,
            "acknowledged index {} beyond restarted tree size {}",
            a.index,
            head.size
        );
        sizes.insert(a.checkpoint.size, a.checkpoint.root);
    }
    for (size, root) in sizes {
        let v: serde_json::Value = http
            .get(format!(
                "{url}/v1/proof/consistency?old={size}&new={}",
                head.size
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let proof: Vec<tree::Hash> = v["consistency_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| tree::hash_from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        tree::verify_consistency(size, head.size, &root, &head.root, &proof).unwrap_or_else(|e| panic!("checkpoint of size {size} handed out before the kill is not consistent with {}: {e}", head.size));
    }
    // Sample inclusion proofs (all of them are checked by bytes in check_log at the end).
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
        let proof: Vec<tree::Hash> = v["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| tree::hash_from_base64(h.as_str().unwrap()).unwrap())
            .collect();
        tree::verify_inclusion(
            a.index,
            head.size,
            &tree::record_hash(a.bytes.as_bytes()),
            &proof,
            &head.root,
        )
        .unwrap();
    }
}
