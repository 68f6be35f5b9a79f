//! A takeover with witnesses: three `urne serve` processes on one PostgreSQL
//! database started by the test, asking two witnesses (real `urne::witness` servers
//! on 127.0.0.1, quorum 2). The leader is killed with SIGKILL, round after round;
//! after each takeover:
//! - the new leader's next checkpoints are cosigned by both witnesses (checked with
//!   the client library's witness policy), and each cosigned checkpoint handed out is
//!   consistent with the one before (the log's consistency proof, verified here; the
//!   witnesses checked it too before cosigning);
//! - every instance, followers included, serves the cosigned checkpoint (followers
//!   read it from the database, they never ask the witnesses);
//! - the witnesses saw no rollback attempt and hold no equivocation evidence.

mod common;

use common::cluster::*;
use common::postgres::Postgres;
use common::witness::start_witness;
use common::{election, new_credential};
use std::time::{Duration, Instant};
use urne_client::checkpoint::{open_checkpoint, Checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;
use urne_client::tree;

/// Waits until the instance at `url` serves a checkpoint of at least `size` entries
/// cosigned under `policy`; returns it (its note and parsed checkpoint).
async fn cosigned_at_least(
    http: &reqwest::Client,
    url: &str,
    key: &VerifierKey,
    policy: &WitnessPolicy,
    size: u64,
) -> (String, Checkpoint) {
    let start = Instant::now();
    let mut last = String::new();
    loop {
        if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await {
            if let Ok(text) = r.text().await {
                if let Ok(cp) = open_checkpoint(text.as_bytes(), key, policy) {
                    if cp.checkpoint.size >= size {
                        return (text, cp.checkpoint);
                    }
                }
                last = text;
            }
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{url} serves no checkpoint of size >= {size} cosigned by the witnesses; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks with the log's own proof, served by `url`, that `new` extends `old`.
async fn consistent(http: &reqwest::Client, url: &str, old: &Checkpoint, new: &Checkpoint) {
    assert!(
        new.size >= old.size,
        "cosigned checkpoint went back: {} then {}",
        old.size,
        new.size
    );
    let v: serde_json::Value = http
        .get(format!(
            "{url}/v1/proof/consistency?old={}&new={}",
            old.size, new.size
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let proof = hashes(&v, "consistency_proof");
    if old.size == new.size {
        assert_eq!(old.root, new.root, "two roots for size {}", old.size);
    } else if old.size > 0 {
        tree::verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
            .expect("each cosigned checkpoint is consistent with the one before");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_takeover_the_witnesses_keep_cosigning() {
    let rounds: usize = std::env::var("URNE_TAKEOVER_WITNESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let pg = Postgres::start_new();
    let db = pg.create_db("takeover_witnesses");
    let keys = DemoKeys::from_seed("takeover-witness-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut cluster, key) = Cluster::new(db, 3, tmp.path());
    let ws = vec![
        start_witness("w1.takeover.test", &key).await,
        start_witness("w2.takeover.test", &key).await,
    ];
    for w in &ws {
        cluster.extra.push("--witness".into());
        cluster.extra.push(format!("{}={}", w.url, w.key));
    }
    cluster
        .extra
        .extend(["--witness-quorum".into(), "2".into()]);
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.key.clone()).collect(), 2);
    cluster.respawn(&keys);
    let http = reqwest::Client::new();
    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    let e = election(&keys, "cse-takeover-witnesses");
    let seal = e.seal(Time::now(), "takeover-witnesses").unwrap();
    retry_post(&http, &urls, &seal).await;
    let mut size = 1;
    for _ in 0..5 {
        let text = new_credential(&e, Channel::Mail);
        let v = retry_post(&http, &urls, &text).await;
        size = size.max(check_ack(&v, &text, &key).1.size);
    }
    let leader = wait_leader(&http, &urls).await;
    let (_, mut last) = cosigned_at_least(&http, &urls[leader], &key, &policy, size).await;

    for round in 0..rounds {
        let urls = cluster.urls();
        let leader = wait_leader(&http, &urls).await;
        let slot = live_slot(&cluster, &urls[leader]);
        let killed_at = Instant::now();
        {
            let inst = cluster.live[slot].as_mut().unwrap();
            inst.child.kill().unwrap(); // SIGKILL
            inst.child.wait().unwrap();
        }
        let survivors: Vec<String> = urls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != leader)
            .map(|(_, u)| u.clone())
            .collect();
        for _ in 0..5 {
            let text = new_credential(&e, Channel::Mail);
            let v = retry_post(&http, &survivors, &text).await;
            size = size.max(check_ack(&v, &text, &key).1.size);
        }
        // The new leader's checkpoints: cosigned by both witnesses, consistent with
        // the last cosigned one; every survivor serves one as large.
        let new_leader = survivors[wait_leader(&http, &survivors).await].clone();
        let (_, cp) = cosigned_at_least(&http, &new_leader, &key, &policy, size).await;
        consistent(&http, &new_leader, &last, &cp).await;
        for u in &survivors {
            let (_, seen) = cosigned_at_least(&http, u, &key, &policy, size).await;
            consistent(&http, &new_leader, &last, &seen).await;
        }
        eprintln!(
            "round {round}: leader killed, checkpoint of {} entries cosigned by both witnesses {:?} after the kill",
            cp.size,
            killed_at.elapsed()
        );
        last = cp;
        cluster.respawn(&keys);
    }
    // The witnesses hold the last cosigned size (or more), saw no rollback and no
    // equivocation.
    for w in &ws {
        let text = http
            .get(format!("{}/checkpoint/{ORIGIN}", w.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let held = open_checkpoint(text.as_bytes(), &key, &WitnessPolicy::none())
            .unwrap()
            .checkpoint;
        assert!(held.size >= last.size, "{} holds {}", w.url, held.size);
        assert_eq!(
            metric(&http, &w.url, "urne_witness_rollback_attempts").await,
            0
        );
        assert_eq!(metric(&http, &w.url, "urne_equivocations").await, 0);
    }
}
