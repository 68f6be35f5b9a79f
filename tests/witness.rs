//! Witnesses: the C2SP tlog-witness endpoint (status codes, rollback and fork refusal,
//! durable state across restarts) and a log gathering cosignatures from three
//! witnesses on 127.0.0.1, checked with the client library's witness policy.

mod common;

use common::add_checkpoint::{body, proof, signed, tree_of};
use common::{append_interventions, check_log, election, TestLog};
use std::sync::Arc;
use std::time::{Duration, Instant};
use urne::witness::Witness;
use urne_client::checkpoint::{open_checkpoint, CosignerKey, WitnessKey, WitnessPolicy};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::statement::Time;
use urne_client::test_kit::DemoKeys;

const ORIGIN: &str = "test.urne.localhost/log";

/// A witness served on 127.0.0.1.
struct TestWitness {
    url: String,
    addr: std::net::SocketAddr,
    key: WitnessKey,
    dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

fn witness_key(name: &str) -> CosignerKey {
    let mut seed = [7u8; 32];
    seed[..name.len().min(32)].copy_from_slice(&name.as_bytes()[..name.len().min(32)]);
    CosignerKey::from_seed(name, seed).unwrap()
}

impl TestWitness {
    async fn start(name: &str, dir: Arc<tempfile::TempDir>, logs: Vec<VerifierKey>) -> Self {
        Self::start_with_peers(name, dir, logs, vec![]).await
    }

    async fn start_with_peers(
        name: &str,
        dir: Arc<tempfile::TempDir>,
        logs: Vec<VerifierKey>,
        peers: Vec<String>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener, name, dir, logs, peers).await
    }

    /// Starts the witness on `listener` (a restarted witness keeps its address).
    async fn start_on(
        listener: tokio::net::TcpListener,
        name: &str,
        dir: Arc<tempfile::TempDir>,
        logs: Vec<VerifierKey>,
        peers: Vec<String>,
    ) -> Self {
        let key = witness_key(name);
        let vkey = key.verifier();
        let path = dir.path().to_path_buf();
        let w =
            tokio::task::spawn_blocking(move || Witness::open(&path, key, logs)?.with_peers(peers))
                .await
                .unwrap()
                .unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(urne::witness::run(listener, Arc::new(w), async move {
            let _ = rx.await;
        }));
        TestWitness {
            url,
            addr,
            key: vkey,
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
        self.dir.clone()
    }

    async fn add(&self, body: &str) -> (u16, String, String) {
        let r = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, r.text().await.unwrap())
    }
}

fn check_cosig(w: &TestWitness, log: &VerifierKey, note: &str, answer: &str) {
    let full = format!("{note}{answer}");
    let policy = WitnessPolicy::k_of_n(vec![w.key.clone()], 1);
    open_checkpoint(full.as_bytes(), log, &policy).expect("cosignature verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn witness_codes_rollback_fork_and_restart() {
    let log_key = SignerKey::generate(ORIGIN).unwrap();
    let vk = log_key.verifier().clone();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let w = TestWitness::start("w1.test", dir, vec![vk.clone()]).await;

    let t5 = tree_of(5, "a");
    let t8 = tree_of(8, "a");
    let n5 = signed(&log_key, &t5);
    let n8 = signed(&log_key, &t8);

    // First sight: old 0, empty proof.
    let (s, _, a) = w.add(&body(0, &[], &n5)).await;
    assert_eq!(s, 200, "{a}");
    assert!(a.starts_with("\u{2014} w1.test "));
    check_cosig(&w, &vk, &n5, &a);

    // Wrong old size: 409 with the held size.
    let (s, ct, a) = w.add(&body(0, &[], &n8)).await;
    assert_eq!(
        (s, ct.as_str(), a.as_str()),
        (409, "text/x.tlog.size", "5\n")
    );

    // Growth with a good proof.
    let (s, _, a) = w.add(&body(5, &proof(&t8, 5), &n8)).await;
    assert_eq!(s, 200, "{a}");
    check_cosig(&w, &vk, &n8, &a);
    // The same checkpoint again is cosigned again (idempotent).
    let (s, _, _) = w.add(&body(8, &[], &n8)).await;
    assert_eq!(s, 200);

    // Rollback: a smaller checkpoint. From the held size, old > size: 400; from its own
    // size, old is not the held size: 409.
    let (s, _, _) = w.add(&body(8, &[], &n5)).await;
    assert_eq!(s, 400);
    let (s, _, a) = w.add(&body(5, &[], &n5)).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));

    // Fork at the same size: another root for size 8: 409.
    let f8 = tree_of(8, "fork");
    let (s, _, a) = w.add(&body(8, &[], &signed(&log_key, &f8))).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));
    // Fork at a larger size: the proof (of the forked tree) does not lead to the held root.
    let f12 = tree_of(12, "fork");
    let (s, _, _) = w
        .add(&body(8, &proof(&f12, 8), &signed(&log_key, &f12)))
        .await;
    assert_eq!(s, 422);
    // A proof of the wrong length is also refused as a bad proof.
    let t12 = tree_of(12, "a");
    let (s, _, _) = w.add(&body(8, &[], &signed(&log_key, &t12))).await;
    assert_eq!(s, 422);

    // Another key with the log's name: 403; an unknown origin: 404 (C2SP
    // tlog-witness), with a body naming which. Garbage: 400.
    let impostor = SignerKey::generate(ORIGIN).unwrap();
    let (s, _, a) = w
        .add(&body(8, &proof(&t12, 8), &signed(&impostor, &t12)))
        .await;
    assert_eq!(s, 403);
    assert!(a.contains("no valid signature by the log key"), "{a}");
    let other = SignerKey::generate("other.example/log").unwrap();
    let (s, _, a) = w.add(&body(0, &[], &signed(&other, &t5))).await;
    assert_eq!(s, 404);
    assert!(a.contains("unknown log origin"), "{a}");
    // The monitoring read: the latest checkpoint it cosigned for the log (size 8),
    // with the log's signature and its own cosignature; 404 for other origins.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/checkpoint/{ORIGIN}", w.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let note = r.text().await.unwrap();
    let policy = WitnessPolicy::k_of_n(vec![w.key.clone()], 1);
    let cp = open_checkpoint(note.as_bytes(), log_key.verifier(), &policy).unwrap();
    assert_eq!(cp.checkpoint.size, 8);
    assert_eq!(cp.cosigners.len(), 1);
    for origin in ["other.example/log", "nothing"] {
        let r = http
            .get(format!("{}/checkpoint/{origin}", w.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{origin}");
    }
    for bad in [
        "",
        "old 1\n",
        "old 01\n\n",
        "old x\n\nfoo\n",
        "old 0\nnot-base64\n\n",
        &format!("old 0\n{}", n5),
        &format!("old 0\n\n{}", n5.replace('\u{2014}', "-")),
    ] {
        let (s, _, _) = w.add(bad).await;
        assert_eq!(s, 400, "{bad:?}");
    }
    // A body over the witness's limit is refused with its answer (not a reset), and
    // changes nothing.
    for n in [urne::witness::MAX_BODY + 1, 1 << 20] {
        let (s, _, a) = w.add(&"x".repeat(n)).await;
        assert_eq!(s, 413, "{a}");
    }
    let (s, _, a) = w.add(&body(0, &[], &n5)).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));

    // State survives a restart: the witness still holds size 8 and its root.
    let dir = w.stop().await;
    let w = TestWitness::start("w1.test", dir, vec![vk.clone()]).await;
    let (s, _, a) = w.add(&body(0, &[], &n5)).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));
    let (s, _, _) = w.add(&body(8, &[], &signed(&log_key, &f8))).await;
    assert_eq!(s, 409);
    let (s, _, a) = w
        .add(&body(8, &proof(&t12, 8), &signed(&log_key, &t12)))
        .await;
    assert_eq!(s, 200, "{a}");
    let g: serde_json::Value = reqwest::get(format!("{}/v1/gossip", w.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["checkpoints"][0]["size"], 12);
    w.stop().await;
}

/// Starts three witnesses and a log that asks them (quorum 2); the log and the
/// witnesses gossip with `peers`.
async fn log_with_witnesses(keys: &DemoKeys, peers: Vec<String>) -> (TestLog, Vec<TestWitness>) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (log_key, _) = urne::keys::load_or_create(dir.path(), ORIGIN).unwrap();
    let mut ws = Vec::new();
    for i in 0..3 {
        let d = Arc::new(tempfile::tempdir().unwrap());
        ws.push(
            TestWitness::start_with_peers(
                &format!("w{i}.test"),
                d,
                vec![log_key.verifier().clone()],
                peers.clone(),
            )
            .await,
        );
    }
    let mut cfg = common::config_for(keys);
    cfg.witnesses = ws.iter().map(|w| format!("{}={}", w.url, w.key)).collect();
    cfg.witness_quorum = Some(2);
    cfg.peers = peers;
    (TestLog::start_in(dir, cfg).await, ws)
}

/// Waits until `/checkpoint` at `url` is at least `size` and meets `policy`; returns the
/// time waited and the policy witnesses that cosigned.
async fn wait_cosigned_at(
    http: &reqwest::Client,
    url: &str,
    key: &VerifierKey,
    policy: &WitnessPolicy,
    size: u64,
) -> (Duration, usize) {
    let t0 = Instant::now();
    loop {
        let text = match http.get(format!("{url}/checkpoint")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if let Ok(cp) = open_checkpoint(text.as_bytes(), key, policy) {
            if cp.checkpoint.size >= size {
                return (t0.elapsed(), cp.cosigners.len());
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "{url}: not cosigned at size {size} in 10 s: {text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the log's `/checkpoint` is at least `size` and meets `policy`.
async fn wait_cosigned(log: &TestLog, policy: &WitnessPolicy, size: u64) -> (Duration, usize) {
    wait_cosigned_at(&log.http, &log.url, &log.key, policy, size).await
}

async fn equivocations_at(url: &str) -> Vec<urne::gossip::Equivocation> {
    let r = reqwest::get(format!("{url}/v1/gossip/equivocations"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// One log, three witnesses and two mirrors on 127.0.0.1, all gossiping: the log's
/// checkpoint carries 2 of 3 cosignatures soon after each append, both mirrors serve
/// it with the cosignatures verified by the client library under a 2-of-3 policy and
/// announce the log's witnesses, and nobody reports an equivocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_gathers_cosignatures_from_three_witnesses() {
    let keys = DemoKeys::from_seed("witness-test").unwrap();
    // The mirrors' addresses first: the log and the witnesses gossip with them.
    let mut listeners = Vec::new();
    let mut mirror_urls = Vec::new();
    for _ in 0..2 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        mirror_urls.push(format!("http://{}", l.local_addr().unwrap()));
        listeners.push(l);
    }
    let (log, mut ws) = log_with_witnesses(&keys, mirror_urls.clone()).await;
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.key.clone()).collect(), 2);
    let mut mirrors = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        let (path, url, key) = (d.path().to_path_buf(), log.url.clone(), log.key.clone());
        let peers = vec![mirror_urls[1 - i].clone(), log.url.clone()];
        let m = tokio::task::spawn_blocking(move || {
            urne::mirror::Mirror::open(&path, &url, key, peers)
        })
        .await
        .unwrap()
        .unwrap();
        let m = Arc::new(m);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(urne::mirror::run(l, m.clone(), async move {
            let _ = rx.await;
        }));
        mirrors.push((m, tx, d));
    }

    let e = election(&keys, "e-w");
    let (s, v) = log.post(&e.seal(Time::now(), "witnessed").unwrap()).await;
    assert_eq!(s, 201, "{v}");
    let (took, n) = wait_cosigned(&log, &policy, 1).await;
    assert!(n >= 2);
    eprintln!("first checkpoint cosigned by {n} witnesses in {took:?}");
    for url in &mirror_urls {
        let (took, n) = wait_cosigned_at(&log.http, url, &log.key, &policy, 1).await;
        assert!(n >= 2, "{url}");
        eprintln!("mirror {url} serves size 1 with {n} cosignatures after {took:?}");
    }

    append_interventions(&log, &e, "check", 20).await;
    let (took, n) = wait_cosigned(&log, &policy, 21).await;
    assert!(n >= 2);
    eprintln!("size 21 cosigned by {n} witnesses in {took:?}");
    // All three are up: the third cosignature joins the served checkpoint, if late.
    let all = WitnessPolicy::k_of_n(policy.witness_keys(), 3);
    wait_cosigned(&log, &all, 21).await;
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["cosigned"], true);
    assert_eq!(info["witnesses"].as_array().unwrap().len(), 3);
    assert!(info["mirror_of"].is_null(), "{info}");

    // Both mirrors serve the cosigned checkpoint, and announce the log's witnesses so
    // that a voter (or the web page) reading only the mirror can check it.
    for url in &mirror_urls {
        let (took, n) = wait_cosigned_at(&log.http, url, &log.key, &policy, 21).await;
        assert!(n >= 2, "{url}");
        eprintln!("mirror {url} serves size 21 with {n} cosignatures after {took:?}");
        common::check_log_at(&log.http, url, &log.key).await;
        let info: serde_json::Value = reqwest::get(format!("{url}/v1/log"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["mirror_of"], log.url.as_str(), "{info}");
        assert_eq!(info["witness_quorum"], 2, "{info}");
        assert_eq!(info["cosigned"], true, "{info}");
        assert_eq!(info["origin"], ORIGIN, "{info}");
        let announced: Vec<WitnessKey> = info["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| WitnessKey::parse(w["vkey"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(announced, policy.witness_keys(), "{info}");
        let mirror_policy =
            WitnessPolicy::k_of_n(announced, info["witness_quorum"].as_u64().unwrap() as usize);
        let text = reqwest::get(format!("{url}/checkpoint"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let cp = open_checkpoint(text.as_bytes(), &log.key, &mirror_policy)
            .expect("the mirror's checkpoint meets the policy it announces");
        assert!(cp.cosigners.len() >= 2);
    }

    // Everyone gossiped checkpoints of several sizes; none conflicts.
    assert!(equivocations_at(&log.url).await.is_empty());
    for url in &mirror_urls {
        assert!(equivocations_at(url).await.is_empty(), "{url}");
    }
    for w in &ws {
        assert!(equivocations_at(&w.url).await.is_empty(), "{}", w.url);
    }
    for (m, tx, _d) in mirrors {
        assert!(m.equivocations().is_empty());
        let _ = tx.send(());
    }

    // One witness goes down: the log keeps appending and still gets 2 cosignatures.
    ws.remove(0).stop().await;
    let (s, v) = log
        .post(
            &e.intervention(Time::now(), "ops", "check", "one witness down")
                .unwrap(),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (took, n) = wait_cosigned(&log, &policy, 22).await;
    assert!(n >= 2);
    eprintln!("size 22 cosigned by {n} witnesses in {took:?} with one witness down");
    let (_, info) = log.get_json("/v1/log").await;
    assert!(
        info["witnesses"][0]["last_error"].is_string(),
        "the dead witness's error is reported: {info}"
    );
    assert!(
        info["witnesses"][0]["refused"].is_null(),
        "a witness that does not answer did not refuse: {info}"
    );
    check_log(&log).await;
    for w in ws {
        w.stop().await;
    }
    log.stop().await;
}

/// Two of three witnesses down while entries are appended: the rounds miss the
/// quorum. Once they are back, the latest head gets cosigned though nothing more is
/// appended (the log retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missed_quorum_is_retried_when_witnesses_are_back() {
    let keys = DemoKeys::from_seed("witness-retry").unwrap();
    let (log, mut ws) = log_with_witnesses(&keys, vec![]).await;
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.key.clone()).collect(), 2);
    let e = election(&keys, "e-retry");
    assert_eq!(
        log.post(&e.seal(Time::now(), "retry").unwrap()).await.0,
        201
    );
    wait_cosigned(&log, &policy, 1).await;

    let mut down = Vec::new();
    for _ in 0..2 {
        let w = ws.pop().unwrap();
        let addr = w.addr;
        down.push((addr, w.stop().await));
    }
    // Appends go on with two witnesses down.
    append_interventions(&log, &e, "down", 3).await;
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["tree_size"], 4, "{info}");
    assert_eq!(
        info["cosigned_size"], 1,
        "one witness cannot make the quorum: {info}"
    );
    let served = open_checkpoint(
        log.get("/checkpoint")
            .await
            .text()
            .await
            .unwrap()
            .as_bytes(),
        &log.key,
        &policy,
    )
    .unwrap();
    assert_eq!(served.checkpoint.size, 1, "the last cosigned one is served");

    // The two witnesses come back on their addresses with their state; no append.
    for (i, (addr, dir)) in down.into_iter().enumerate() {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let name = format!("w{}.test", 2 - i);
        ws.push(TestWitness::start_on(listener, &name, dir, vec![log.key.clone()], vec![]).await);
    }
    let (took, n) = wait_cosigned(&log, &policy, 4).await;
    assert!(n >= 2);
    eprintln!("size 4 cosigned by {n} witnesses {took:?} after they came back");
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["cosigned_size"], 4, "{info}");
    for w in ws {
        w.stop().await;
    }
    log.stop().await;
}

/// The log's witnesses are down at first: it serves its bare checkpoint, which a
/// mirror copies. Once they are up the log gets the same checkpoint cosigned, and the
/// mirror serves the cosigned note though the tree did not grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mirror_takes_cosignatures_that_come_after_it_copied() {
    let keys = DemoKeys::from_seed("witness-late").unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (log_key, _) = urne::keys::load_or_create(dir.path(), ORIGIN).unwrap();
    // The witnesses' addresses, nobody listening yet: each port is bound without
    // listening (connections are refused) and kept, so that no other test's socket
    // can take it before the witness listens on it.
    let mut sockets = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        addrs.push(s.local_addr().unwrap());
        sockets.push(s);
    }
    let policy = WitnessPolicy::k_of_n(
        (0..3)
            .map(|i| witness_key(&format!("w{i}.test")).verifier())
            .collect(),
        2,
    );
    let mut cfg = common::config_for(&keys);
    cfg.witnesses = addrs
        .iter()
        .zip(&policy.witness_keys())
        .map(|(a, k)| format!("http://{a}={k}"))
        .collect();
    cfg.witness_quorum = Some(2);
    let log = TestLog::start_in(dir, cfg).await;
    let e = election(&keys, "e-late");
    assert_eq!(log.post(&e.seal(Time::now(), "late").unwrap()).await.0, 201);

    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let murl = format!("http://{}", l.local_addr().unwrap());
    let d = tempfile::tempdir().unwrap();
    let (path, url, key) = (d.path().to_path_buf(), log.url.clone(), log.key.clone());
    let m =
        tokio::task::spawn_blocking(move || urne::mirror::Mirror::open(&path, &url, key, vec![]))
            .await
            .unwrap()
            .unwrap();
    let m = Arc::new(m);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(urne::mirror::run(l, m.clone(), async move {
        let _ = rx.await;
    }));
    let t0 = Instant::now();
    while m.head().map_or(0, |h| h.size) < 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "mirror did not copy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bare = m.head().unwrap().checkpoint;
    assert!(
        open_checkpoint(bare.as_bytes(), &log.key, &policy).is_err(),
        "copied before any cosignature: {bare}"
    );

    let mut ws = Vec::new();
    for (i, socket) in sockets.into_iter().enumerate() {
        let listener = socket.listen(1024).unwrap();
        let d = Arc::new(tempfile::tempdir().unwrap());
        ws.push(
            TestWitness::start_on(
                listener,
                &format!("w{i}.test"),
                d,
                vec![log_key.verifier().clone()],
                vec![],
            )
            .await,
        );
    }
    let (took, n) = wait_cosigned_at(&log.http, &murl, &log.key, &policy, 1).await;
    assert!(n >= 2);
    eprintln!(
        "the mirror serves size 1 with {n} cosignatures {took:?} after the witnesses came up"
    );
    assert_eq!(m.head().unwrap().size, 1, "the tree did not grow");
    let info: serde_json::Value = reqwest::get(format!("{murl}/v1/log"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["cosigned"], true, "{info}");
    assert_eq!(info["cosigned_size"], 1, "{info}");
    let _ = tx.send(());
    for w in ws {
        w.stop().await;
    }
    log.stop().await;
}

/// A "witness" that accepts connections and never answers: the worst kind of down.
async fn blackhole() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    url
}

/// Appends `n` interventions one after the other; returns sorted latencies in ms.
async fn append_latencies(
    log: &TestLog,
    e: &urne_client::test_kit::DemoElection<'_>,
    n: usize,
    tag: &str,
) -> Vec<f64> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let text = e
            .intervention(Time::now(), "bench", tag, &format!("append {i}"))
            .unwrap();
        let t0 = Instant::now();
        let (s, v) = log.post(&text).await;
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(s, 201, "{v}");
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    lat
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Measures append latency with no witness, three witnesses up, and one of three
/// witnesses down (a blackhole that never answers). Run with
/// `cargo test --release --test witness -- --ignored --nocapture witness_latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn witness_latency() {
    let n: usize = std::env::var("URNE_BENCH_APPENDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let keys = DemoKeys::from_seed("witness-bench").unwrap();
    for setup in ["no witness", "3 witnesses up", "1 of 3 witnesses down"] {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let (log_key, _) = urne::keys::load_or_create(dir.path(), ORIGIN).unwrap();
        let mut ws = Vec::new();
        let mut cfg = common::config_for(&keys);
        if setup != "no witness" {
            let up = if setup == "3 witnesses up" { 3 } else { 2 };
            for i in 0..up {
                let d = Arc::new(tempfile::tempdir().unwrap());
                let w =
                    TestWitness::start(&format!("w{i}.test"), d, vec![log_key.verifier().clone()])
                        .await;
                cfg.witnesses.push(format!("{}={}", w.url, w.key));
                ws.push(w);
            }
            if up == 2 {
                let dead = witness_key("w2.test").verifier();
                cfg.witnesses
                    .push(format!("{}={}", blackhole().await, dead));
            }
            cfg.witness_quorum = Some(2);
        }
        let log = TestLog::start_in(dir, cfg).await;
        let e = election(&keys, "e-bench");
        let (s, v) = log.post(&e.seal(Time::now(), "bench").unwrap()).await;
        assert_eq!(s, 201, "{v}");
        // Warm up, then measure.
        append_latencies(&log, &e, 20, "warmup").await;
        let t0 = Instant::now();
        let lat = append_latencies(&log, &e, n, "measure").await;
        let secs = t0.elapsed().as_secs_f64();
        let mean = lat.iter().sum::<f64>() / lat.len() as f64;
        let (_, info) = log.get_json("/v1/log").await;
        println!(
            "| {setup} | {n} | {:.0} | {mean:.2} | {:.2} | {:.2} | {:.2} | {} |",
            n as f64 / secs,
            pct(&lat, 0.5),
            pct(&lat, 0.9),
            pct(&lat, 0.99),
            info["cosigned_size"]
        );
        for w in ws {
            w.stop().await;
        }
        log.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn witness_gossip_finds_a_same_size_fork() {
    let log_key = SignerKey::generate(ORIGIN).unwrap();
    let vk = log_key.verifier().clone();
    let (t8, f8) = (tree_of(8, "a"), tree_of(8, "fork"));
    // Witness 2 was shown one history, witness 1 (its gossip peer) another.
    let w2 = TestWitness::start(
        "w2.test",
        Arc::new(tempfile::tempdir().unwrap()),
        vec![vk.clone()],
    )
    .await;
    assert_eq!(w2.add(&body(0, &[], &signed(&log_key, &f8))).await.0, 200);
    let dir1 = Arc::new(tempfile::tempdir().unwrap());
    let w1 = TestWitness::start_with_peers("w1.test", dir1, vec![vk.clone()], vec![w2.url.clone()])
        .await;
    assert_eq!(w1.add(&body(0, &[], &signed(&log_key, &t8))).await.0, 200);
    let t0 = Instant::now();
    let ev: Vec<urne::gossip::Equivocation> = loop {
        let r: Vec<urne::gossip::Equivocation> =
            reqwest::get(format!("{}/v1/gossip/equivocations", w1.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        if !r.is_empty() {
            break r;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "fork not found by gossip"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("witness gossip found the fork in {:?}", t0.elapsed());
    ev[0]
        .verify(&vk)
        .expect("evidence verifies with the log key");
    // Durable: still there after a restart.
    let dir1 = w1.stop().await;
    let w1 = TestWitness::start_with_peers("w1.test", dir1, vec![vk.clone()], vec![]).await;
    let r: Vec<urne::gossip::Equivocation> =
        reqwest::get(format!("{}/v1/gossip/equivocations", w1.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(r, ev);
    w1.stop().await;
    w2.stop().await;
}

/// Issue 14: a plain restart of the log while its witnesses are down still serves the
/// last cosigned checkpoint (kept in the data directory), never the bare head that
/// every witness-checking client refuses; `/v1/log` says what it serves and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_witnesses_down_serves_the_cosigned_head() {
    let keys = DemoKeys::from_seed("witness-restart").unwrap();
    let (log, mut ws) = log_with_witnesses(&keys, vec![]).await;
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.key.clone()).collect(), 2);
    let e = election(&keys, "e-restart");
    assert_eq!(
        log.post(&e.seal(Time::now(), "restart").unwrap()).await.0,
        201
    );
    append_interventions(&log, &e, "before", 2).await;
    wait_cosigned(&log, &policy, 3).await;
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["serving"], "cosigned", "{info}");

    // Two witnesses go down, the log restarts on its data directory.
    let mut down = Vec::new();
    for _ in 0..2 {
        down.push(ws.pop().unwrap().stop().await);
    }
    let cfg = {
        let mut c = common::config_for(&keys);
        c.witnesses = log_witness_flags(&log).await;
        c.witness_quorum = Some(2);
        c
    };
    let dir = log.stop().await;
    let log = TestLog::start_in(dir, cfg).await;
    let text = log.get("/checkpoint").await.text().await.unwrap();
    let served = open_checkpoint(text.as_bytes(), &log.key, &policy).unwrap_or_else(|err| {
        panic!("the restarted log serves an uncosigned head ({err}): {text}")
    });
    assert_eq!(served.checkpoint.size, 3);
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["serving"], "cosigned", "{info}");
    assert_eq!(info["cosigned_size"], 3, "{info}");
    assert!(
        info["serving_reason"].as_str().unwrap().contains("size 3"),
        "{info}"
    );
    for w in ws {
        w.stop().await;
    }
    drop(down);
    log.stop().await;
}

/// The `--witness URL=KEY` flags of a running log, as its `/v1/log` announces them.
async fn log_witness_flags(log: &TestLog) -> Vec<String> {
    let (_, info) = log.get_json("/v1/log").await;
    info["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{}={}",
                w["url"].as_str().unwrap(),
                w["vkey"].as_str().unwrap()
            )
        })
        .collect()
}

/// Issue 14: a witness keeps what the log's misbehaviour leaves. Two roots for one size:
/// both log-signed notes are kept (once, however often the log retries), served at
/// `/v1/gossip/equivocations` and counted in `/metrics`, across a restart. A smaller
/// tree than held (a restored backup): counted, and its checkpoint shown in
/// `/v1/gossip`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn witness_keeps_fork_evidence_and_counts_rollbacks() {
    let log_key = SignerKey::generate(ORIGIN).unwrap();
    let vk = log_key.verifier().clone();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let w = TestWitness::start("w1.test", dir, vec![vk.clone()]).await;
    let t8 = tree_of(8, "a");
    let (s, _, _) = w.add(&body(0, &[], &signed(&log_key, &t8))).await;
    assert_eq!(s, 200);
    let metric = |text: &str, name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    let metrics = |url: String| async move {
        reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };

    // Two roots for size 8, asked three times: one piece of evidence.
    let f8 = signed(&log_key, &tree_of(8, "fork"));
    for _ in 0..3 {
        let (s, _, a) = w.add(&body(8, &[], &f8)).await;
        assert_eq!((s, a.as_str()), (409, "8\n"));
    }
    let ev = equivocations_at(&w.url).await;
    assert_eq!(ev.len(), 1, "{ev:?}");
    ev[0].verify(&vk).unwrap();
    assert!(ev[0].note_a.contains("\n8\n") && ev[0].note_b.contains("\n8\n"));
    assert_eq!(
        metric(&metrics(w.url.clone()).await, "urne_equivocations"),
        1
    );

    // A restored backup asks to cosign 5 entries, from 0 and then from the size the
    // 409 told it: both are rollback attempts.
    let n5 = signed(&log_key, &tree_of(5, "a"));
    let (s, _, _) = w.add(&body(0, &[], &n5)).await;
    assert_eq!(s, 409);
    let (s, _, _) = w.add(&body(8, &[], &n5)).await;
    assert_eq!(s, 400);
    let m = metrics(w.url.clone()).await;
    assert_eq!(metric(&m, "urne_witness_rollback_attempts"), 2, "{m}");
    let g: serde_json::Value = reqwest::get(format!("{}/v1/gossip", w.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = &g["rollback_attempts"][0];
    assert_eq!(
        (r["held_size"].as_u64(), r["shown_size"].as_u64()),
        (Some(8), Some(5)),
        "{g}"
    );
    assert_eq!(r["checkpoint"], n5);

    // The evidence survives a restart.
    let dir = w.stop().await;
    let w = TestWitness::start("w1.test", dir, vec![vk.clone()]).await;
    assert_eq!(equivocations_at(&w.url).await.len(), 1);
    w.stop().await;
}

/// The automatic seal (R.211-572) on a live log with three witnesses: an election
/// sealing `grace 2` and `revote last` is closed; a `results` with a wrong count is
/// refused; once the grace is past an intervention is refused `election_sealed` while
/// the right `results` is appended; the election's JSON then shows its seal, the first
/// cosigned checkpoint covering the close whose witnesses' timestamps are all past the
/// seal instant (found by the log's check-in even with nothing appended), and the
/// client library's own decision accepts it. The superseded ballot's receipt, looked
/// up in Belenios's base64 form (starting with `/`), names the ballot that supersedes
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_election_is_sealed_after_close_and_grace() {
    use urne_client::rules::{ElectionState, Phase};
    use urne_client::statement::{
        Body, Channel, CredentialReason, ElectionBody, Revote, Role, Tag,
    };
    let keys = DemoKeys::from_seed("seal-test").unwrap();
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let (log_key, _) = urne::keys::load_or_create(dir.path(), ORIGIN).unwrap();
    let mut ws = Vec::new();
    for i in 0..3 {
        let d = Arc::new(tempfile::tempdir().unwrap());
        ws.push(
            TestWitness::start(&format!("w{i}.test"), d, vec![log_key.verifier().clone()]).await,
        );
    }
    let mut cfg = common::config_for(&keys);
    cfg.witnesses = ws.iter().map(|w| format!("{}={}", w.url, w.key)).collect();
    cfg.witness_quorum = Some(2);
    cfg.witness_checkin_secs = 1;
    let log = TestLog::start_in(dir, cfg).await;
    let (_, info) = log.get_json("/v1/log").await;
    assert_eq!(info["witness_checkin_secs"], 1, "{info}");
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.key.clone()).collect(), 2);

    let e = election(&keys, "sealed-2026");
    let now = Time::now().0;
    let mut authorities: Vec<(Role, VerifierKey)> = keys
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    authorities.push((Role::Registrar, keys.registrar.verifier().clone()));
    authorities.push((Role::Platform, keys.platform.verifier().clone()));
    let genesis = urne_client::statement::Statement {
        election: e.id.clone(),
        time: Time(now - 20),
        body: Body::Election(ElectionBody {
            title: "Sealed".into(),
            scrutins: e.scrutins.clone(),
            authorities,
            quorum: 2,
            tolerance: Some(300),
            grace: Some(2),
            revote: Revote::Last,
            opens: e.opens,
            closes: e.closes,
            roll: None,
        }),
    }
    .sign(&[&keys.board[0], &keys.board[1]])
    .unwrap();
    let post = |text: String| {
        let log = &log;
        async move { log.post(&text).await }
    };
    assert_eq!(post(genesis).await.0, 201);
    assert_eq!(
        post(e.board(Time(now - 10), Body::Open).unwrap()).await.0,
        201
    );
    let cred = Tag([0x11; 32]);
    let c = e
        .credential(
            Time(now),
            Tag([0x22; 32]),
            cred,
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap();
    assert_eq!(post(c).await.0, 201);
    // 0xfc… in base64 starts with `/`: Belenios's tracker of this receipt.
    let first = Tag([0xfc; 32]);
    let (s, _) = post(e.ballot(Time(now), "s1", cred, first).unwrap()).await;
    assert_eq!(s, 201);
    let (s, v) = post(e.ballot(Time(now), "s1", cred, Tag([0x33; 32])).unwrap()).await;
    assert_eq!(s, 201, "revote last: the second ballot is accepted: {v}");
    let revote_index = v["index"].as_u64().unwrap();
    let (s, v) = post(e.board(Time(now), Body::Close).unwrap()).await;
    assert_eq!(s, 201, "{v}");
    let close_index = v["index"].as_u64().unwrap();
    let results = |n: u64, dt: i64| {
        e.board(
            Time(now + dt),
            Body::Results {
                scrutin: "s1".into(),
                ballots: n,
                digest: Tag([0xd1; 32]),
            },
        )
        .unwrap()
    };
    let (s, v) = post(results(2, 1)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("results_count_mismatch")),
        "{v}"
    );

    let tracker = urne_client::receipt::to_base64(&first);
    assert!(tracker.starts_with('/'), "{tracker}");
    let (s, r) = log
        .get_json(&format!(
            "/v1/receipts/{}",
            tracker.replace('/', "%2F").replace('+', "%2B")
        ))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["receipt"], first.to_string());
    assert_eq!(r["superseded_by"]["index"], revote_index, "{r}");

    // Past the grace: only counting statements.
    let deadline = now + 2;
    while Time::now().0 <= deadline + 1 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let late = e
        .intervention(Time::now(), "ops", "restart", "after the seal")
        .unwrap();
    let (s, v) = post(late).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (409, Some("election_sealed")),
        "{v}"
    );
    let (s, v) = post(results(1, 2)).await;
    assert_eq!(s, 201, "{v}");

    // The seal, shown and re-checked with the client library's decision.
    let t0 = Instant::now();
    let j = loop {
        let (s, j) = log.get_json("/v1/elections/sealed-2026").await;
        assert_eq!(s, 200);
        if !j["seal"].is_null() {
            break j;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no seal recorded: {j}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let es: ElectionState = serde_json::from_value(j["state"].clone()).unwrap();
    assert_eq!(es.phase, Phase::Closed);
    assert_eq!(es.ballots_superseded, 1);
    assert_eq!(j["sealed_after"], Time(deadline).to_string());
    let seal: urne_client::seal::Seal = serde_json::from_value(j["seal"].clone()).unwrap();
    assert_eq!(seal.close_index, close_index);
    assert!(seal.size > close_index);
    assert!(seal.witnesses.len() >= 2, "{j}");
    for w in &seal.witnesses {
        assert!(w.time >= Time(deadline), "{w:?}");
    }
    let cp = open_checkpoint(seal.checkpoint.as_bytes(), &log.key, &policy).unwrap();
    assert_eq!(urne_client::seal::check(&es, &cp).unwrap(), seal);
    // A mirror copying the log finds a seal too (a cosigned checkpoint it copied, after
    // the seal instant), checked with the same decision.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let murl = format!("http://{}", l.local_addr().unwrap());
    let md = tempfile::tempdir().unwrap();
    let (path, url, key) = (md.path().to_path_buf(), log.url.clone(), log.key.clone());
    let m =
        tokio::task::spawn_blocking(move || urne::mirror::Mirror::open(&path, &url, key, vec![]))
            .await
            .unwrap()
            .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mtask = tokio::spawn(urne::mirror::run(l, Arc::new(m), async move {
        let _ = rx.await;
    }));
    let t0 = Instant::now();
    let mj = loop {
        let j: serde_json::Value =
            match reqwest::get(format!("{murl}/v1/elections/sealed-2026")).await {
                Ok(r) if r.status() == 200 => r.json().await.unwrap_or_default(),
                _ => serde_json::Value::Null,
            };
        if !j["seal"].is_null() {
            break j;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no seal on the mirror: {j}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mseal: urne_client::seal::Seal = serde_json::from_value(mj["seal"].clone()).unwrap();
    let mcp = open_checkpoint(mseal.checkpoint.as_bytes(), &log.key, &policy).unwrap();
    assert_eq!(urne_client::seal::check(&es, &mcp).unwrap(), mseal);
    let _ = tx.send(());
    let _ = mtask.await;
    // A checkpoint cosigned before the seal instant is not a seal.
    let mut early = cp.clone();
    early.cosigners[0].1 = (deadline - 1) as u64;
    assert!(matches!(
        urne_client::seal::check(&es, &early),
        Err(urne_client::seal::SealError::TooEarly { .. })
    ));
    drop(ws);
}
