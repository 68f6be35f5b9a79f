//! Mirrors and gossip: a mirror copies a log through its tiles and serves the same
//! tiles (re-verified from scratch with `check_log_at`), resumes after a restart, and
//! two mirrors of a split-view log (two data directories signed by one key) report the
//! equivocation by gossip within seconds, with evidence checkable with the log key.

mod common;

use common::{check_log_at, election, TestLog};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urne::demo::DemoKeys;
use urne::mirror::{Equivocation, Mirror};
use urne_client::note::VerifierKey;
use urne_client::statement::Time;

struct TestMirror {
    url: String,
    mirror: Arc<Mirror>,
    dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestMirror {
    async fn start(
        listener: tokio::net::TcpListener,
        dir: Arc<tempfile::TempDir>,
        of: &str,
        key: &VerifierKey,
        peers: Vec<String>,
    ) -> Self {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (path, of2, key2) = (dir.path().to_path_buf(), of.to_string(), key.clone());
        let m = tokio::task::spawn_blocking(move || Mirror::open(&path, &of2, key2, peers))
            .await
            .unwrap()
            .unwrap();
        let mirror = Arc::new(m);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(urne::mirror::run(listener, mirror.clone(), async move {
            let _ = rx.await;
        }));
        TestMirror {
            url,
            mirror,
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    async fn stop(mut self) -> Arc<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        let dir = self.dir.clone();
        drop(self);
        // The aborted follower drops its handle on the store asynchronously.
        tokio::time::sleep(Duration::from_millis(300)).await;
        dir
    }

    async fn wait_size(&self, size: u64) {
        let t0 = Instant::now();
        while self.mirror.head().map_or(0, |h| h.size) < size {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "mirror did not reach {size}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirror_copies_verifies_serves_and_resumes() {
    let keys = DemoKeys::from_seed("mirror-test").unwrap();
    let log = TestLog::start(&keys).await;
    let e = election(&keys, "e-m");
    assert_eq!(
        log.post(&e.seal(Time::now(), "mirrored").unwrap()).await.0,
        201
    );
    for i in 0..300 {
        let (s, v) = log
            .post(
                &e.intervention(Time::now(), "ops", "check", &format!("n {i}"))
                    .unwrap(),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let m = TestMirror::start(bind().await, dir, &log.url, &log.key, vec![]).await;
    m.wait_size(301).await;
    let from_mirror = check_log_at(&log.http, &m.url, &log.key).await;
    // The JSON lookups work on the mirror too, from its own re-verified copy.
    for path in ["/v1/elections/e-m", "/v1/proof/consistency?old=10&new=301"] {
        let mut on_log: serde_json::Value = log.get(path).await.json().await.unwrap();
        // The mirror holds only the checkpoints it saw (here 301, not 10).
        if let Some(o) = on_log.as_object_mut() {
            o.remove("old_checkpoint");
        }
        let r = reqwest::get(format!("{}{path}", m.url)).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let mut on_mirror: serde_json::Value = r.json().await.unwrap();
        if let Some(o) = on_mirror.as_object_mut() {
            o.remove("old_checkpoint");
        }
        assert_eq!(on_mirror, on_log, "{path}");
    }
    // It never accepts statements.
    let r = reqwest::Client::new()
        .post(format!("{}/v1/statements", m.url))
        .body(e.intervention(Time::now(), "ops", "x", "y").unwrap())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error() || r.status().is_client_error());
    assert_eq!(
        from_mirror,
        check_log_at(&log.http, &log.url, &log.key).await
    );

    // Restart: resumes from its own store and catches up with what was added meanwhile.
    let dir = m.stop().await;
    for i in 0..10 {
        assert_eq!(
            log.post(
                &e.intervention(Time::now(), "ops", "later", &format!("n {i}"))
                    .unwrap()
            )
            .await
            .0,
            201
        );
    }
    let m = TestMirror::start(bind().await, dir, &log.url, &log.key, vec![]).await;
    assert_eq!(m.mirror.head().unwrap().size, 301, "resumed from disk");
    m.wait_size(311).await;
    check_log_at(&log.http, &m.url, &log.key).await;
    assert!(m.mirror.equivocations().is_empty());
    m.stop().await;
    log.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_view_is_caught_by_gossip() {
    let keys = DemoKeys::from_seed("split-test").unwrap();
    let cfg = common::config_for(&keys);
    // Two data directories, one log key: the log shows each audience its own history.
    let dir_a = Arc::new(tempfile::tempdir().unwrap());
    let dir_b = Arc::new(tempfile::tempdir().unwrap());
    urne::keys::load_or_create(dir_a.path(), &cfg.origin).unwrap();
    std::fs::copy(
        dir_a.path().join(urne::keys::LOG_KEY_FILE),
        dir_b.path().join(urne::keys::LOG_KEY_FILE),
    )
    .unwrap();
    let log_a = TestLog::start_in(dir_a, cfg.clone()).await;
    let log_b = TestLog::start_in(dir_b, cfg).await;
    assert_eq!(log_a.key, log_b.key);
    let e = election(&keys, "e-split");
    assert_eq!(
        log_a.post(&e.seal(Time::now(), "view A").unwrap()).await.0,
        201
    );
    for i in 0..5 {
        let t = e
            .intervention(Time::now(), "ops", "a", &format!("{i}"))
            .unwrap();
        assert_eq!(log_a.post(&t).await.0, 201);
    }
    assert_eq!(
        log_b.post(&e.seal(Time::now(), "view B").unwrap()).await.0,
        201
    );
    assert_eq!(
        log_b
            .post(&e.intervention(Time::now(), "ops", "b", "0").unwrap())
            .await
            .0,
        201
    );

    let (la, lb) = (bind().await, bind().await);
    let (ua, ub) = (
        format!("http://{}", la.local_addr().unwrap()),
        format!("http://{}", lb.local_addr().unwrap()),
    );
    let t0 = Instant::now();
    let ma = TestMirror::start(
        la,
        Arc::new(tempfile::tempdir().unwrap()),
        &log_a.url,
        &log_a.key,
        vec![ub.clone()],
    )
    .await;
    let mb = TestMirror::start(
        lb,
        Arc::new(tempfile::tempdir().unwrap()),
        &log_b.url,
        &log_b.key,
        vec![ua.clone()],
    )
    .await;
    // Mirror A holds 6 entries of view A; B's size-2 checkpoint is not a prefix of it.
    let evidence: Vec<Equivocation> = loop {
        let r: Vec<Equivocation> = reqwest::get(format!("{ua}/v1/gossip/equivocations"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !r.is_empty() {
            break r;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "split view not detected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "split view detected in {:?}: {}",
        t0.elapsed(),
        evidence[0].reason
    );
    for ev in &evidence {
        ev.verify(&log_a.key)
            .expect("evidence verifies with the log key alone");
    }
    // Tampered evidence does not verify.
    let mut bad = evidence[0].clone();
    bad.note_a = bad.note_b.clone();
    assert!(bad.verify(&log_a.key).is_err());

    // Same sizes, two roots: log B catches up to 6 entries of its own view.
    for i in 1..5 {
        let t = e
            .intervention(Time::now(), "ops", "b", &format!("{i}"))
            .unwrap();
        assert_eq!(log_b.post(&t).await.0, 201);
    }
    let t1 = Instant::now();
    loop {
        let found = ma
            .mirror
            .equivocations()
            .iter()
            .chain(mb.mirror.equivocations().iter())
            .any(|e| e.proof.is_empty() && e.reason.contains("two roots"));
        if found {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(10),
            "same-size fork not detected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The evidence is durable: it survives a restart of the mirror.
    let n = ma.mirror.equivocations().len();
    let dir = ma.stop().await;
    let ma = TestMirror::start(bind().await, dir, &log_a.url, &log_a.key, vec![]).await;
    assert_eq!(ma.mirror.equivocations().len(), n);
    ma.stop().await;
    mb.stop().await;
    log_a.stop().await;
    log_b.stop().await;
}
