//! Equivocation evidence found by one instance of a log on PostgreSQL is served by
//! every instance without a restart (`urne::leader`, the lease's tick reads the
//! evidence table), with real `urne serve` processes on a PostgreSQL started by the
//! test:
//! - one instance pulls a peer (`--peer`) that gossips a checkpoint signed with the
//!   log's key for the log's own size with another root (a stolen key): it records
//!   the evidence; the two other instances, which have no peer, serve the same piece
//!   at `/v1/gossip/equivocations` and count it in `/metrics`, checked with the log
//!   key by the client library;
//! - the attacker: a damaged record added to the table by hand is never served as
//!   evidence by the running instances, and a new instance refuses to start on it.

mod common;

use axum::routing::get;
use common::cluster::*;
use common::postgres::Postgres;
use common::{election, new_credential};
use std::time::{Duration, Instant};
use urne_client::checkpoint::Checkpoint;
use urne_client::gossip::{Equivocation, Gossip, GossipCheckpoint};
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;

async fn evidence(http: &reqwest::Client, url: &str) -> Vec<Equivocation> {
    http.get(format!("{url}/v1/gossip/equivocations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_evidence(http: &reqwest::Client, url: &str) -> Vec<Equivocation> {
    let start = Instant::now();
    loop {
        let e = evidence(http, url).await;
        if !e.is_empty() {
            return e;
        }
        assert!(start.elapsed() < PATIENCE, "{url} serves no evidence");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_found_by_one_instance_is_served_by_all() {
    let pg = Postgres::start_new();
    let db = pg.create_db("evidence");
    let keys = DemoKeys::from_seed("evidence-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut cluster, key) = Cluster::new(db.clone(), 3, tmp.path());
    let (signer, _) = urne::keys::load_or_create(tmp.path(), ORIGIN).unwrap();
    let http = reqwest::Client::new();
    cluster.respawn(&keys);
    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    let e = election(&keys, "cse-evidence");
    retry_post(&http, &urls, &e.seal(Time::now(), "evidence").unwrap()).await;
    let mut size = 0;
    for _ in 0..2 {
        let text = new_credential(&e, Channel::Mail);
        let v = retry_post(&http, &urls, &text).await;
        size = size.max(check_ack(&v, &text, &key).1.size);
    }

    // A peer gossiping a checkpoint of the log's size with another root, signed with
    // the log's key (stolen).
    let forged = Checkpoint {
        origin: ORIGIN.to_string(),
        size,
        root: urne_client::tree::Hash([7; 32]),
        extensions: vec![],
    }
    .sign(&signer);
    let body = serde_json::to_string(&Gossip {
        checkpoints: vec![GossipCheckpoint {
            origin: ORIGIN.to_string(),
            size,
            checkpoint: forged,
        }],
        rollback_attempts: None,
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let peer = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/gossip",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    // A fourth instance pulls that peer; the three others do not.
    let dir = tmp.path().join("with-peer");
    instance_dir(tmp.path(), &dir);
    let finder = spawn_with(&dir, &db, &keys, &["--peer".into(), peer]);
    let found = wait_evidence(&http, &finder.url).await;
    assert_eq!(found.len(), 1);
    found[0]
        .verify(&key)
        .expect("the evidence proves the equivocation");
    // Every other instance serves it, without a restart, leader and followers.
    for u in &urls {
        let seen = wait_evidence(&http, u).await;
        assert_eq!(seen.len(), 1, "{u}");
        assert!(seen[0].same_incident(&found[0]), "{u}: another incident");
        seen[0].verify(&key).expect("served evidence verifies");
        assert_eq!(metric(&http, u, "urne_equivocations").await, 1, "{u}");
    }
    drop(finder);

    // The attacker adds a damaged record: never served, and the instances go on
    // answering (several ticks later, still the one piece).
    pg.psql(
        "evidence",
        "INSERT INTO urne_evidence (value) VALUES ('\\x0075310000'::bytea)",
    );
    for _ in 0..(2 * LEASE_MS / 100) {
        for u in &urls {
            assert_eq!(evidence(&http, u).await.len(), 1, "{u}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A new instance refuses to start on it, saying so.
    let fresh = tmp.path().join("fresh");
    instance_dir(tmp.path(), &fresh);
    let err = start_refused(&fresh, &db, &keys);
    assert!(err.contains("equivocation evidence"), "{err}");
}
