//! A halt shared by the instances of a log on PostgreSQL (`urne::storage::halt`),
//! with real `urne serve` processes on a PostgreSQL started by the test and a real
//! witness:
//! - the log lost its database (its instances start on an empty one, with the same
//!   key): the witness holds a larger checkpoint of the log and answers the leader's
//!   request with a rollback; the leader halts, and so does every follower, without
//!   restart (they read the halt in the database);
//! - the leader is killed with SIGKILL: no follower takes the lead or appends, long
//!   after its lease expired; every instance answers `503 log_halted`, `/v1/log` and
//!   `/metrics` say halted;
//! - the killed instance, started again, stays halted; so does a new instance that
//!   only reads the halt in the database;
//! - the attacker: the halt records deleted and the flag cleared by hand: an instance
//!   that saw the halt (its own `HALTED`) records it again at start; a halt record
//!   with a flipped byte makes a new instance refuse to start, loudly.

mod common;

use common::cluster::*;
use common::postgres::Postgres;
use common::witness::start_witness;
use common::{election, new_credential};
use std::time::{Duration, Instant};
use urne_client::checkpoint::WitnessPolicy;
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;

/// `/v1/log`'s `halted` of the instance at `url` (`None`: not halted or no answer).
async fn halted(http: &reqwest::Client, url: &str) -> Option<String> {
    log_info(http, url).await?["halted"]
        .as_str()
        .map(str::to_string)
}

async fn wait_halted(http: &reqwest::Client, url: &str) -> String {
    let start = Instant::now();
    loop {
        if let Some(why) = halted(http, url).await {
            return why;
        }
        assert!(start.elapsed() < PATIENCE, "{url} does not say it halted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts a new statement to `url`: it must be refused `503 log_halted`.
async fn refused_halted(http: &reqwest::Client, url: &str, text: &str) {
    let r = http
        .post(format!("{url}/v1/statements"))
        .body(text.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 503, "{url}: {body}");
    assert_eq!(body["error"], "log_halted", "{url}: {body}");
}

fn head_size(pg: &Postgres, db: &str) -> String {
    pg.psql(db, "SELECT size FROM urne_head").trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_is_every_instances_and_survives_them() {
    let pg = Postgres::start_new();
    let first = pg.create_db("first");
    let keys = DemoKeys::from_seed("halt-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();

    // The log as it was: one instance, cosigned by the witness up to 6 entries.
    let (mut before, key) = Cluster::new(first, 1, &tmp.path().join("before"));
    let w = start_witness("w.halt.test", &key).await;
    let policy = WitnessPolicy::k_of_n(vec![w.key.clone()], 1);
    before.extra = vec![
        "--witness".into(),
        w.arg(),
        "--witness-quorum".into(),
        "1".into(),
    ];
    before.respawn(&keys);
    let urls = before.urls();
    wait_leader(&http, &urls).await;
    let e = election(&keys, "cse-halt");
    retry_post(&http, &urls, &e.seal(Time::now(), "halt").unwrap()).await;
    for _ in 0..5 {
        retry_post(&http, &urls, &new_credential(&e, Channel::Mail)).await;
    }
    let start = Instant::now();
    loop {
        let text = http
            .get(format!("{}/checkpoint", urls[0]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let cosigned =
            urne_client::checkpoint::open_checkpoint(text.as_bytes(), &key, &policy).ok();
        if cosigned.is_some_and(|c| c.checkpoint.size >= 6) {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "never cosigned at 6: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(before);

    // Its database lost: three instances with the same key on an empty one.
    let lost = pg.create_db("lost");
    let dir = tmp.path().join("after");
    instance_dir(&tmp.path().join("before"), &dir);
    let (mut cluster, same) = Cluster::new(lost.clone(), 3, &dir);
    assert_eq!(same, key);
    cluster.extra = vec![
        "--witness".into(),
        w.arg(),
        "--witness-quorum".into(),
        "1".into(),
    ];
    cluster.respawn(&keys);
    let urls = cluster.urls();
    let leader = wait_leader(&http, &urls).await;
    // The leader asks the witness, which holds 6: ROLLBACK, the leader halts. A
    // statement may be appended before (it is committed, and the halt keeps it).
    let e2 = election(&keys, "cse-halt-2");
    let _ = try_post(
        &http,
        &urls[leader],
        &e2.seal(Time::now(), "halt-2").unwrap(),
    )
    .await;
    let why = wait_halted(&http, &urls[leader]).await;
    assert!(why.contains("ROLLBACK"), "{why}");
    // Every follower halts too, without restart.
    for u in &urls {
        let why = wait_halted(&http, u).await;
        assert!(why.contains("ROLLBACK"), "{u}: {why}");
        assert_eq!(metric(&http, u, "urne_halted").await, 1, "{u}");
        refused_halted(&http, u, &new_credential(&e2, Channel::Mail)).await;
    }
    let records = pg.psql("lost", "SELECT count(*) FROM urne_halts");
    assert!(records.trim() != "0", "no halt record in the database");
    assert_eq!(
        pg.psql("lost", "SELECT halted FROM urne_leader").trim(),
        "t"
    );
    let size = head_size(&pg, "lost");

    // The leader killed: nobody takes over, nothing is appended, long after its lease
    // expired and the followers' ticks ran many times.
    let slot = live_slot(&cluster, &urls[leader]);
    {
        let inst = cluster.live[slot].as_mut().unwrap();
        inst.child.kill().unwrap();
        inst.child.wait().unwrap();
    }
    let followers: Vec<String> = urls
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, u)| u.clone())
        .collect();
    let start = Instant::now();
    while pg
        .psql(
            "lost",
            "SELECT expires < clock_timestamp() - interval '2 seconds' FROM urne_leader",
        )
        .trim()
        != "t"
    {
        assert!(start.elapsed() < PATIENCE, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several lease lengths more: every follower's tick would have taken the lease.
    for _ in 0..(3 * LEASE_MS / 100) {
        for u in &followers {
            let v = log_info(&http, u).await.expect("a follower answers");
            assert_eq!(v["leading"], false, "{u} took the lead of a halted log");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for u in &followers {
        refused_halted(&http, u, &new_credential(&e2, Channel::Mail)).await;
    }
    assert_eq!(head_size(&pg, "lost"), size, "a halted log appended");

    // The killed instance starts again: halted (its own HALTED and the database).
    cluster.respawn(&keys);
    let restarted = cluster.live[slot].as_ref().unwrap().url.clone();
    assert!(wait_halted(&http, &restarted).await.contains("ROLLBACK"));
    refused_halted(&http, &restarted, &new_credential(&e2, Channel::Mail)).await;
    // A new instance, which never saw the halt but in the database: halted.
    let fresh = dir.join("fresh");
    instance_dir(&dir, &fresh);
    {
        let inst = spawn_with(&fresh, &lost, &keys, &cluster.extra);
        assert!(wait_halted(&http, &inst.url).await.contains("ROLLBACK"));
        refused_halted(&http, &inst.url, &new_credential(&e2, Channel::Mail)).await;
        let v = log_info(&http, &inst.url).await.unwrap();
        assert_eq!(v["leading"], false);
    }

    // The attacker clears the database's halt by hand: an instance that saw it
    // records it again when it starts, and still nobody leads.
    pg.psql(
        "lost",
        "DELETE FROM urne_halts; UPDATE urne_leader SET halted = false",
    );
    let slot = live_slot(&cluster, &restarted);
    {
        let inst = cluster.live[slot].as_mut().unwrap();
        inst.child.kill().unwrap();
        inst.child.wait().unwrap();
    }
    cluster.respawn(&keys);
    let restarted = cluster.live[slot].as_ref().unwrap().url.clone();
    assert!(wait_halted(&http, &restarted).await.contains("ROLLBACK"));
    let start = Instant::now();
    while pg.psql("lost", "SELECT count(*) FROM urne_halts").trim() == "0"
        || pg.psql("lost", "SELECT halted FROM urne_leader").trim() != "t"
    {
        assert!(
            start.elapsed() < PATIENCE,
            "the halt was not recorded again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(head_size(&pg, "lost"), size, "a halted log appended");

    // The attacker flips a byte of the halt record: refused loudly at load.
    pg.psql(
        "lost",
        "UPDATE urne_halts SET value = set_byte(value, 40, get_byte(value, 40) # 1)",
    );
    let fresh = dir.join("fresh-2");
    instance_dir(&dir, &fresh);
    // It exits with a failure, never serving, and says why.
    let err = start_refused(&fresh, &lost, &keys);
    assert!(
        err.contains("halt record") && err.contains("checksum mismatch"),
        "{err}"
    );
    assert_eq!(head_size(&pg, "lost"), size, "a halted log appended");
}
