//! Mirrors and gossip: a mirror copies a log through its tiles and serves the same
//! tiles (re-verified from scratch with `check_log_at`), resumes after a restart,
//! copies in chunks and resumes an interrupted copy without serving anything
//! unverified; and a split-view log (two data directories signed by one key, the two
//! views of different sizes) is reported by gossip within seconds by its mirrors, by
//! each view of the log itself and by a witness, with evidence checkable with the log
//! key alone.

mod common;

use common::{append_interventions, check_log_at, election, TestLog};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urne::gossip::{Evidence, Gossiper, Held, Outcome};
use urne::mirror::{Equivocation, Mirror};
use urne_client::checkpoint::{open_checkpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::Time;
use urne_client::test_kit::DemoKeys;

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
        Self::start_chunked(listener, dir, of, key, peers, urne::mirror::CHUNK_TILES).await
    }

    async fn start_chunked(
        listener: tokio::net::TcpListener,
        dir: Arc<tempfile::TempDir>,
        of: &str,
        key: &VerifierKey,
        peers: Vec<String>,
        chunk_tiles: u64,
    ) -> Self {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (path, of2, key2) = (dir.path().to_path_buf(), of.to_string(), key.clone());
        let m = tokio::task::spawn_blocking(move || {
            Mirror::open(&path, &of2, key2, peers).map(|m| m.with_chunk_tiles(chunk_tiles))
        })
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
                t0.elapsed() < Duration::from_secs(120),
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
    append_interventions(&log, &e, "check", 300).await;
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
    append_interventions(&log, &e, "later", 10).await;
    let m = TestMirror::start(bind().await, dir, &log.url, &log.key, vec![]).await;
    assert_eq!(m.mirror.head().unwrap().size, 301, "resumed from disk");
    m.wait_size(311).await;
    check_log_at(&log.http, &m.url, &log.key).await;
    assert!(m.mirror.equivocations().is_empty());
    m.stop().await;
    log.stop().await;
}

/// A log whose operator allows elections to seal a tolerance of hours (as `urne demo
/// --hours` needs), and an election that seals 3 hours: the mirror re-runs the rules
/// with the tolerance the election sealed, whatever tolerance it is given or the log
/// announces (those judge only elections sealed before tolerances were), so even a
/// mirror told to keep 300 s copies the entry dated 2 hours back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_judges_an_election_by_its_sealed_tolerance() {
    let keys = DemoKeys::from_seed("mirror-tolerance").unwrap();
    let mut cfg = common::config_for(&keys);
    cfg.time_tolerance_secs = 3 * 3600;
    let log = TestLog::start_in(Arc::new(tempfile::tempdir().unwrap()), cfg).await;
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["max_time_tolerance_secs"], 3 * 3600, "{info}");
    let e = urne_client::test_kit::DemoElection {
        tolerance: 3 * 3600,
        ..election(&keys, "e-t")
    };
    let now = Time::now();
    assert_eq!(log.post(&e.seal(now, "tolerant").unwrap()).await.0, 201);
    // Two hours before the seal: within the sealed tolerance, not within 300 s.
    let back = Time(now.0 - 2 * 3600);
    let (s, v) = log
        .post(
            &e.intervention(back, "ops", "late report", "dated back")
                .unwrap(),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    let m = TestMirror::start(
        bind().await,
        Arc::new(tempfile::tempdir().unwrap()),
        &log.url,
        &log.key,
        vec![],
    )
    .await;
    m.wait_size(2).await;
    assert_eq!(check_log_at(&log.http, &m.url, &log.key).await.len(), 2);

    let dir = tempfile::tempdir().unwrap();
    let (path, of, key) = (dir.path().to_path_buf(), log.url.clone(), log.key.clone());
    let strict = tokio::task::spawn_blocking(move || {
        Mirror::open(&path, &of, key, vec![]).map(|m| m.with_time_tolerance(300))
    })
    .await
    .unwrap()
    .unwrap();
    strict
        .sync_once()
        .await
        .expect("the sealed tolerance judges the election, not the mirror's 300 s");
    assert_eq!(strict.head().map(|h| h.size), Some(2));
    m.stop().await;
}

/// A proxy in front of a log that fails the entry bundles under `/tile/entries/001`
/// while `fail` is set: a copy interrupted after its first chunk.
async fn flaky_proxy(log: String, fail: Arc<AtomicBool>) -> String {
    let l = bind().await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (log, fail, http) = (log.clone(), fail.clone(), http.clone());
        async move {
            if fail.load(Ordering::SeqCst) && uri.path().starts_with("/tile/entries/001") {
                return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
            }
            let r = http.get(format!("{log}{uri}")).send().await.unwrap();
            let status = axum::http::StatusCode::from_u16(r.status().as_u16()).unwrap();
            (status, r.bytes().await.unwrap().to_vec())
        }
    });
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirror_copies_in_chunks_and_resumes_an_interrupted_copy() {
    let keys = DemoKeys::from_seed("mirror-chunks").unwrap();
    let log = TestLog::start(&keys).await;
    let e = election(&keys, "e-c");
    assert_eq!(
        log.post(&e.seal(Time::now(), "chunked").unwrap()).await.0,
        201
    );
    append_interventions(&log, &e, "check", 300).await;
    // One entry bundle per commit; the second bundle fails: only the first chunk is
    // stored (verified against the log's tiles), staged, and nothing is served.
    let fail = Arc::new(AtomicBool::new(true));
    let proxy = flaky_proxy(log.url.clone(), fail.clone()).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let m = TestMirror::start_chunked(bind().await, dir, &proxy, &log.key, vec![], 1).await;
    let t0 = Instant::now();
    while m.mirror.store.staged().unwrap() != Some(256) {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "first chunk not staged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(m.mirror.head().is_none());
    let r = reqwest::get(format!("{}/checkpoint", m.url)).await.unwrap();
    assert_eq!(
        r.status(),
        503,
        "no checkpoint before one is verified in full"
    );
    for tile in ["tile/entries/000", "tile/0/000"] {
        let r = reqwest::get(format!("{}/{tile}", m.url)).await.unwrap();
        assert_eq!(r.status(), 404, "{tile}: staged entries are not served");
    }

    // Restarted with the log reachable: it resumes after the staged chunk (running the
    // election rules over the first 256 entries again would refuse the second seal).
    let dir = m.stop().await;
    fail.store(false, Ordering::SeqCst);
    let m = TestMirror::start_chunked(bind().await, dir, &proxy, &log.key, vec![], 1).await;
    m.wait_size(301).await;
    check_log_at(&log.http, &m.url, &log.key).await;
    let on_log: serde_json::Value = log.get("/v1/elections/e-c").await.json().await.unwrap();
    let on_mirror: serde_json::Value = reqwest::get(format!("{}/v1/elections/e-c", m.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(on_mirror, on_log, "each entry counted once");

    // Tiles are immutable on the mirror as on the log, full and partial (a partial
    // tile `.p/W` never changes: a larger tree is another path; C2SP tlog-tiles).
    let full = reqwest::get(format!("{}/tile/0/000", m.url)).await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(
        full.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let partial = reqwest::get(format!("{}/tile/entries/001.p/45", m.url))
        .await
        .unwrap();
    assert_eq!(partial.status(), 200);
    assert_eq!(
        partial.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    m.stop().await;
    log.stop().await;
}

/// A witness served on 127.0.0.1 that pulls `peers`.
async fn start_witness(
    log_key: &VerifierKey,
    peers: Vec<String>,
) -> (String, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = urne_client::checkpoint::CosignerKey::generate("gossip-witness.test").unwrap();
    let (path, logs) = (dir.path().to_path_buf(), vec![log_key.clone()]);
    let w = tokio::task::spawn_blocking(move || {
        urne::witness::Witness::open(&path, key, logs)?.with_peers(peers)
    })
    .await
    .unwrap()
    .unwrap();
    let l = bind().await;
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(urne::witness::run(l, Arc::new(w), async move {
        let _ = rx.await;
    }));
    (url, tx, dir)
}

async fn equivocations_at(url: &str) -> Vec<Equivocation> {
    let r = reqwest::get(format!("{url}/v1/gossip/equivocations"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// Waits until `url` reports an equivocation matching `pred`; checks every piece of
/// evidence it reports with the log key alone, and returns the match.
async fn wait_evidence(
    url: &str,
    key: &VerifierKey,
    what: &str,
    pred: impl Fn(&Equivocation) -> bool,
) -> Equivocation {
    let t0 = Instant::now();
    loop {
        let found = equivocations_at(url).await;
        for ev in &found {
            ev.verify(key)
                .unwrap_or_else(|e| panic!("{what}: evidence does not verify: {e}: {ev:?}"));
        }
        if let Some(ev) = found.into_iter().find(&pred) {
            eprintln!("{what}: found in {:?}: {}", t0.elapsed(), ev.reason);
            return ev;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "{what}: not found");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn size_of(note: &str, key: &VerifierKey) -> u64 {
    open_checkpoint(note.as_bytes(), key, &WitnessPolicy::none())
        .unwrap()
        .checkpoint
        .size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn split_view_is_caught_by_gossip() {
    let keys = DemoKeys::from_seed("split-test").unwrap();
    // Two data directories, one log key: the log shows each audience its own history.
    let dir_a = Arc::new(tempfile::tempdir().unwrap());
    let dir_b = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = common::config_for(&keys);
    urne::keys::load_or_create(dir_a.path(), &cfg.origin).unwrap();
    std::fs::copy(
        dir_a.path().join(urne::keys::LOG_KEY_FILE),
        dir_b.path().join(urne::keys::LOG_KEY_FILE),
    )
    .unwrap();
    // Each view of the log gossips with the mirror of the other view.
    let (la, lb) = (bind().await, bind().await);
    let (ua, ub) = (
        format!("http://{}", la.local_addr().unwrap()),
        format!("http://{}", lb.local_addr().unwrap()),
    );
    cfg.peers = vec![ub.clone()];
    let log_a = TestLog::start_in(dir_a, cfg.clone()).await;
    cfg.peers = vec![ua.clone()];
    let log_b = TestLog::start_in(dir_b, cfg).await;
    assert_eq!(log_a.key, log_b.key);
    let key = log_a.key.clone();
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
    // Nobody has seen view A yet: the logs' evidence lists are empty, not missing.
    assert!(equivocations_at(&log_a.url).await.is_empty());
    let note_b2 = log_b.get("/checkpoint").await.text().await.unwrap();
    assert_eq!(size_of(&note_b2, &key), 2);

    // A witness was shown view B (size 2) and gossips with the mirror of view A.
    let (wurl, wstop, _wdir) = start_witness(&key, vec![ua.clone()]).await;
    let r = reqwest::Client::new()
        .post(format!("{wurl}/add-checkpoint"))
        .body(format!("old 0\n\n{note_b2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

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
    ma.wait_size(6).await;
    mb.wait_size(2).await;
    let different_sizes = |ev: &Equivocation| {
        size_of(&ev.note_a, &key) == 2 && size_of(&ev.note_b, &key) == 6 && !ev.proof.is_empty()
    };
    // Mirror A holds 6 entries of view A; B's size-2 checkpoint is not a prefix of it
    // (proved from its own tree).
    let evidence = wait_evidence(&ua, &key, "mirror A (larger)", different_sizes).await;
    // Mirror B holds the smaller view: the proof comes from the peer's tiles.
    wait_evidence(&ub, &key, "mirror B (smaller)", different_sizes).await;
    // The log itself, in each view, from what its peer shows.
    wait_evidence(&log_a.url, &key, "log A", different_sizes).await;
    wait_evidence(&log_b.url, &key, "log B", different_sizes).await;
    // Operators see it in their metrics, on the logs and on the mirrors.
    for url in [&log_a.url, &log_b.url, &ua, &ub] {
        let m = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("urne_equivocations "))
            .unwrap_or_else(|| panic!("{url}/metrics has no urne_equivocations:\n{m}"))
            .parse()
            .unwrap();
        assert!(n >= 1, "{url}: {n}");
    }
    // The witness holds no tree: the proof comes from its peer's tiles.
    wait_evidence(&wurl, &key, "witness", different_sizes).await;
    // Tampered evidence does not verify.
    let mut bad = evidence.clone();
    bad.note_a = bad.note_b.clone();
    assert!(bad.verify(&key).is_err());
    let mut bad = evidence.clone();
    bad.old_root_from_proof = Some(urne_client::tree::hash_to_base64(
        &open_checkpoint(bad.note_a.as_bytes(), &key, &WitnessPolicy::none())
            .unwrap()
            .checkpoint
            .root,
    ));
    assert!(bad.verify(&key).is_err());

    // No proof is no evidence: a source that does not answer proves nothing.
    let note_a6 = ma.mirror.head().unwrap().checkpoint;
    let g = Gossiper::new(vec![key.clone()], vec![], vec![], Evidence::memory()).unwrap();
    let held = Held {
        note: note_b2.clone(),
        tree: None,
        signer: false,
    };
    let out = g.check(&held, &note_a6, &wurl).await.unwrap();
    assert!(matches!(out, Outcome::Unknown(_)), "{out:?}");
    assert!(g.equivocations().is_empty());
    // The view-B log itself cannot prove view A's tree (its tiles are another history).
    let out = g.check(&held, &note_a6, &log_b.url).await.unwrap();
    assert!(matches!(out, Outcome::Unknown(_)), "{out:?}");
    // The view-A log can: any source will do, the proof is checked against both roots.
    let out = g.check(&held, &note_a6, &log_a.url).await.unwrap();
    let Outcome::Equivocation(ev) = out else {
        panic!("{out:?}")
    };
    ev.verify(&key).unwrap();
    assert_eq!(g.equivocations().len(), 1);
    // A consistent pair is no evidence.
    let note_a1 = log_a.get("/v1/proof/consistency?old=1&new=6").await;
    let v: serde_json::Value = note_a1.json().await.unwrap();
    let held_a1 = Held {
        note: v["old_checkpoint"].as_str().unwrap().to_string(),
        tree: None,
        signer: false,
    };
    assert_eq!(
        g.check(&held_a1, &note_a6, &log_a.url).await.unwrap(),
        Outcome::Consistent
    );

    // Same sizes, two roots: log B catches up to 6 entries of its own view.
    for i in 1..5 {
        let t = e
            .intervention(Time::now(), "ops", "b", &format!("{i}"))
            .unwrap();
        assert_eq!(log_b.post(&t).await.0, 201);
    }
    let t1 = Instant::now();
    let note_b6 = loop {
        let cp = log_b.checkpoint().await;
        if cp.checkpoint.size == 6 {
            break cp.note;
        }
        assert!(t1.elapsed() < Duration::from_secs(120), "log B never at 6");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let held_a6 = Held {
        note: note_a6.clone(),
        tree: None,
        signer: false,
    };
    let out = g.check(&held_a6, &note_b6, &log_b.url).await.unwrap();
    let Outcome::Equivocation(ev) = out else {
        panic!("same-size fork not detected: {out:?}")
    };
    assert!(
        ev.proof.is_empty() && ev.reason.contains("two roots"),
        "{ev:?}"
    );
    ev.verify(&key).unwrap();
    // The same split view as the evidence already kept (view A's checkpoint of 6 in
    // common): one incident, one record (issue 14: a mirror once kept 42).
    assert_eq!(g.equivocations().len(), 1, "{:?}", g.equivocations());
    // The evidence is durable: it survives a restart of the mirror.
    let n = ma.mirror.equivocations().len();
    let dir = ma.stop().await;
    let ma = TestMirror::start(bind().await, dir, &log_a.url, &log_a.key, vec![]).await;
    assert_eq!(ma.mirror.equivocations().len(), n);
    let _ = wstop.send(());
    ma.stop().await;
    mb.stop().await;
    log_a.stop().await;
    log_b.stop().await;
}

/// Issue 14: the log restored from an older copy of its data directory shows a prefix
/// of what a mirror copied. No fork to prove, but the mirror says ROLLBACK (before, it
/// went on quietly), and keeps serving its copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_says_rollback_when_the_log_shows_a_prefix() {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let p = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &p);
            } else {
                std::fs::copy(e.path(), &p).unwrap();
            }
        }
    }
    let keys = DemoKeys::from_seed("mirror-rollback").unwrap();
    let e = election(&keys, "e-rb");
    let log = TestLog::start(&keys).await;
    assert_eq!(log.post(&e.seal(Time::now(), "rb").unwrap()).await.0, 201);
    let dir = log.stop().await;
    let old = Arc::new(tempfile::tempdir().unwrap());
    copy_dir(dir.path(), old.path());
    let log = TestLog::start_in(dir, common::config_for(&keys)).await;
    append_interventions(&log, &e, "later", 2).await;

    let mdir = tempfile::tempdir().unwrap();
    let key = log.key.clone();
    let open = |of: String| {
        let (path, key) = (mdir.path().to_path_buf(), key.clone());
        tokio::task::spawn_blocking(move || Mirror::open(&path, &of, key, vec![]))
    };
    let m = open(log.url.clone()).await.unwrap().unwrap();
    assert_eq!(m.sync_once().await.unwrap(), 3);
    drop(m);
    log.stop().await;

    let restored = TestLog::start_in(old, common::config_for(&keys)).await;
    assert_eq!(restored.key, key);
    let m = open(restored.url.clone()).await.unwrap().unwrap();
    let err = format!("{:#}", m.sync_once().await.unwrap_err());
    assert!(err.starts_with("ROLLBACK"), "{err}");
    assert!(
        err.contains("shows 1 entries") && err.contains("copied 3"),
        "{err}"
    );
    assert_eq!(m.head().map(|h| h.size), Some(3), "the copy is kept");
    drop(m);
    restored.stop().await;
}

/// A log restored from a backup that goes on appending and re-seals an election the
/// restore erased: the entries break the rules on top of the mirror's copy (the
/// election exists there), which is the sign of another history, not only of a bad
/// entry. The mirror keeps its copy and records the fork's evidence, once, checkable
/// with the log key alone. On main it reported the rule error and recorded nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirror_records_the_fork_of_a_restored_log_that_reuses_an_erased_election() {
    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let p = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &p);
            } else {
                std::fs::copy(e.path(), &p).unwrap();
            }
        }
    }
    let keys = DemoKeys::from_seed("mirror-restored-fork").unwrap();
    let a = election(&keys, "e-a");
    let b = election(&keys, "e-b");
    let log = TestLog::start(&keys).await;
    assert_eq!(log.post(&a.seal(Time::now(), "a").unwrap()).await.0, 201);
    let dir = log.stop().await;
    let old = Arc::new(tempfile::tempdir().unwrap());
    copy_dir(dir.path(), old.path());
    let log = TestLog::start_in(dir, common::config_for(&keys)).await;
    assert_eq!(log.post(&b.seal(Time::now(), "b").unwrap()).await.0, 201);
    append_interventions(&log, &b, "later", 2).await;

    let mdir = tempfile::tempdir().unwrap();
    let key = log.key.clone();
    let open = |of: String| {
        let (path, key) = (mdir.path().to_path_buf(), key.clone());
        tokio::task::spawn_blocking(move || Mirror::open(&path, &of, key, vec![]))
    };
    let m = open(log.url.clone()).await.unwrap().unwrap();
    assert_eq!(m.sync_once().await.unwrap(), 4);
    drop(m);
    log.stop().await;

    // The restore, then appends past the copy: entry 4 re-seals `e-b`, which the
    // mirror's copy holds already.
    let restored = TestLog::start_in(old, common::config_for(&keys)).await;
    append_interventions(&restored, &a, "after restore", 3).await;
    assert_eq!(
        restored
            .post(&b.seal(Time::now(), "b again").unwrap())
            .await
            .0,
        201
    );
    let m = open(restored.url.clone()).await.unwrap().unwrap();
    for _ in 0..2 {
        assert!(m.sync_once().await.is_err(), "the fork is not copied");
    }
    assert_eq!(m.head().map(|h| h.size), Some(4), "the copy is kept");
    let found = m.equivocations();
    assert_eq!(found.len(), 1, "one evidence for the fork: {found:?}");
    found[0].verify(&key).unwrap();
    assert!(found[0].note_b.contains("\n5\n"), "{:?}", found[0]);
    drop(m);
    restored.stop().await;
}
