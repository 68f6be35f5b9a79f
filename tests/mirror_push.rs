//! C2SP tlog-mirror push mode, against the spec text (C2SP/C2SP `tlog-mirror.md`):
//! a log of 10,000 entries pushed to a real `urne mirror --push-key` process in
//! packages of 256, the upload cut mid-package and the mirror killed mid-package, then
//! resumed where the mirror says it is, until the mirror cosigns "I hold it up to N";
//! and the attacker's variants of `add-checkpoint` and `add-entries`, each answered
//! with the spec's status and a stable code, and changing nothing.

mod common;

use common::{check_log_at, election, TestLog};
use futures::StreamExt as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use urne::mirror::Mirror;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, CosignerKey, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::Time;
use urne_client::subtree;
use urne_client::test_kit::{DemoElection, DemoKeys};
use urne_client::tlog_mirror::{self, Header, MirrorInfo};
use urne_client::tree::{self, Hash, MemoryHashStore};

/// Appends `n` interventions, 32 in flight.
async fn fill(log: &TestLog, e: &DemoElection<'_>, n: usize) {
    let texts: Vec<String> = (0..n)
        .map(|i| {
            e.intervention(Time::now(), "ops", "push", &format!("push {i}"))
                .unwrap()
        })
        .collect();
    futures::stream::iter(texts)
        .map(|t| async move { log.post(&t).await.0 })
        .buffer_unordered(32)
        .for_each(|s| async move { assert_eq!(s, 201) })
        .await;
}

/// A log of `n` entries: an election and `n - 1` interventions.
async fn log_of(keys: &DemoKeys, n: usize) -> TestLog {
    let log = TestLog::start(keys).await;
    let e = election(keys, "e-push");
    assert_eq!(log.post(&e.seal(Time::now(), "push").unwrap()).await.0, 201);
    fill(&log, &e, n - 1).await;
    log
}

/// The log's checkpoint note (bare: the test logs have no witnesses).
async fn note_of(log: &TestLog) -> String {
    log.get("/checkpoint").await.text().await.unwrap()
}

fn add_checkpoint_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&tree::hash_to_base64(h));
        b.push('\n');
    }
    b.push('\n');
    b.push_str(note);
    b
}

/// The raw (uncompressed) add-entries body of the packages `[start, end)` of the tree
/// of `entries` (a prefix of the log of `tree_size` entries).
fn raw_body(origin: &str, entries: &[Vec<u8>], start: u64, end: u64, packages: usize) -> Vec<u8> {
    let store = MemoryHashStore::from_entries(entries.iter().map(Vec::as_slice));
    let mut out = Header {
        origin: origin.into(),
        upload_start: start,
        upload_end: end,
        ticket: Vec::new(),
    }
    .encode()
    .unwrap();
    for p in tlog_mirror::packages(start, end).take(packages) {
        let proof = subtree::prove_subtree(p.proof_start, p.end, end, &store).unwrap();
        tlog_mirror::encode_package(&entries[p.start as usize..p.end as usize], &proof, &mut out)
            .unwrap();
    }
    out
}

struct MirrorProcess {
    child: std::process::Child,
    url: String,
}

impl Drop for MirrorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `urne mirror --push-key` (push only) on port 0, and reads its address.
fn spawn_mirror(
    dir: &std::path::Path,
    key_file: &std::path::Path,
    log_key: &VerifierKey,
) -> MirrorProcess {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_urne"))
        .args([
            "mirror",
            "--key",
            &log_key.to_string(),
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--push-key")
        .arg(key_file)
        .arg("--data")
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = common::process::serving(&mut child)
        .0
        .expect("the mirror said where it serves");
    MirrorProcess { child, url }
}

/// What the mirror says it holds: a request with `upload_start = upload_end = 0`
/// (the spec's way to ask) answers 409 with its pending size and next entry.
async fn where_is(http: &reqwest::Client, url: &str, origin: &str) -> MirrorInfo {
    let body = Header {
        origin: origin.into(),
        upload_start: 0,
        upload_end: 0,
        ticket: Vec::new(),
    }
    .encode()
    .unwrap();
    let r = http
        .post(format!("{url}/add-entries"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.headers()["content-type"],
        tlog_mirror::MIRROR_INFO_TYPE,
        "409 carries text/x.tlog.mirror-info"
    );
    MirrorInfo::parse(&r.text().await.unwrap()).unwrap()
}

/// Sends `bytes` as an add-entries request over a raw socket with chunked transfer
/// encoding (no length), then leaves the connection open (returned) or cuts it.
fn raw_chunked(url: &str, bytes: &[u8]) -> std::net::TcpStream {
    let addr = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /add-entries HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    write!(s, "{:x}\r\n", bytes.len()).unwrap();
    s.write_all(bytes).unwrap();
    s.write_all(b"\r\n").unwrap();
    s.flush().unwrap();
    s
}

async fn wait_until<F: Fn(&MirrorInfo) -> bool>(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    f: F,
) -> MirrorInfo {
    let t0 = Instant::now();
    loop {
        let i = where_is(http, url, origin).await;
        if f(&i) {
            return i;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "mirror stuck at {i:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The mirror's cosignature on the log's checkpoint of `size`, as the log shows it in
/// `/v1/log`, verified with the log key and the mirror key alone.
async fn wait_cosigned(
    log: &TestLog,
    mirror: &urne_client::checkpoint::WitnessKey,
    size: u64,
) -> String {
    let t0 = Instant::now();
    loop {
        let (_, v) = log.get_json("/v1/log").await;
        let m = &v["push_mirrors"][0];
        if m["cosigned_size"].as_u64() == Some(size) {
            let note = m["cosigned_checkpoint"].as_str().unwrap().to_string();
            let policy = WitnessPolicy::k_of_n(vec![mirror.clone()], 1);
            let c = open_checkpoint(note.as_bytes(), &log.key, &policy)
                .expect("cosigned by the mirror");
            assert_eq!(c.checkpoint.size, size);
            return note;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "the mirror did not cosign {size}: {m}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_mirror_receives_10000_entries_interrupted_resumed_and_cosigns() {
    let keys = DemoKeys::from_seed("mirror-push").unwrap();
    let log = log_of(&keys, 10_000).await;
    let origin = log.key.name().to_string();
    let http = reqwest::Client::new();
    let entries = check_log_at(&http, &log.url, &log.key).await;
    assert_eq!(entries.len(), 10_000);
    let note = note_of(&log).await;

    let dir = tempfile::tempdir().unwrap();
    let mirror_key = CosignerKey::generate("mirror.union.localhost/m1").unwrap();
    let key_file = dir.path().join("mirror.key");
    std::fs::write(&key_file, mirror_key.to_signer_string()).unwrap();
    let data = dir.path().join("data");
    let m = spawn_mirror(&data, &key_file, &log.key);

    // A new mirror knows nothing: pending size 0, next entry 0.
    let i = where_is(&http, &m.url, &origin).await;
    assert_eq!((i.pending_size, i.next_entry), (0, 0));
    // add-checkpoint: the witness body from size 0, answered 200 with an empty body
    // (the mirror signs nothing before it holds the entries).
    let r = http
        .post(format!("{}/add-checkpoint", m.url))
        .body(add_checkpoint_body(0, &[], &note))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    assert_eq!(where_is(&http, &m.url, &origin).await.pending_size, 10_000);

    // The connection cut in the middle of the third package: the two whole packages
    // are kept, the partial bytes discarded.
    let full = raw_body(&origin, &entries, 0, 10_000, 3);
    let two = raw_body(&origin, &entries, 0, 10_000, 2).len();
    let s = raw_chunked(&m.url, &full[..two + (full.len() - two) / 2]);
    drop(s);
    let i = wait_until(&http, &m.url, &origin, |i| i.next_entry == 512).await;
    assert_eq!(i.pending_size, 10_000);

    // The mirror killed while a package is half received (the request still open).
    let cut = raw_body(&origin, &entries, 512, 10_000, 1);
    let s = raw_chunked(&m.url, &cut[..cut.len() - 100]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(m);
    drop(s);
    let m = spawn_mirror(&data, &key_file, &log.key);
    let i = where_is(&http, &m.url, &origin).await;
    assert_eq!(
        (i.pending_size, i.next_entry),
        (10_000, 512),
        "after the kill the mirror says where it is: its pending checkpoint and next entry"
    );
    // Nothing is served before the mirror holds the whole tree.
    assert_eq!(
        http.get(format!("{}/checkpoint", m.url))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );

    // The log, configured with this mirror, resumes where the mirror is and gets its
    // cosignature (gzip bodies of at most 32 packages, 202 between them).
    let dir_log = log.stop().await;
    let mut cfg = common::config_for(&keys);
    cfg.mirrors = vec![format!("{}={}", m.url, mirror_key.verifier())];
    let log = TestLog::start_in(dir_log, cfg).await;
    let cosigned = wait_cosigned(&log, &mirror_key.verifier(), 10_000).await;
    assert!(
        cosigned.starts_with(&note),
        "the log's note, the mirror's cosignature added"
    );

    // The mirror serves the copy with its own cosignature, at its root and under the
    // SHA-256 of the origin (tlog-mirror's monitoring prefix); the whole tree checks
    // from its tiles against the log key.
    let served = http
        .get(format!("{}/checkpoint", m.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let policy = WitnessPolicy::k_of_n(vec![mirror_key.verifier()], 1);
    assert_eq!(
        open_checkpoint(served.as_bytes(), &log.key, &policy)
            .unwrap()
            .checkpoint
            .size,
        10_000
    );
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(origin.as_bytes()));
    let prefixed = format!("{}/{hash}", m.url);
    assert_eq!(check_log_at(&http, &prefixed, &log.key).await, entries);
    assert_eq!(check_log_at(&http, &m.url, &log.key).await, entries);
    let metrics = log.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains("urne_push_mirror_cosigned_size{mirror=\"mirror.union.localhost/m1\"} 10000"),
        "{metrics}"
    );

    // The log grows: the mirror gets the new entries (the first package starts inside
    // a bundle it half holds) and cosigns again, never blocking the sequencer.
    let e = election(&keys, "e-push");
    fill(&log, &e, 300).await;
    wait_cosigned(&log, &mirror_key.verifier(), 10_300).await;
    assert_eq!(check_log_at(&http, &m.url, &log.key).await.len(), 10_300);
    drop(m);
    log.stop().await;
}

/// A push mirror in this process (its state inspected directly), on port 0.
struct Running {
    url: String,
    mirror: Arc<Mirror>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    async fn start(dir: &std::path::Path, key: &VerifierKey, mkey: CosignerKey) -> Running {
        let (path, key) = (dir.to_path_buf(), key.clone());
        let m = tokio::task::spawn_blocking(move || {
            Mirror::open(&path, "", key, vec![])
                .unwrap()
                .with_push(mkey)
                .unwrap()
                .with_push_idle(Duration::from_secs(2))
        })
        .await
        .unwrap();
        let mirror = Arc::new(m);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(urne::mirror::run(l, mirror.clone(), async move {
            let _ = rx.await;
        }));
        Running {
            url,
            mirror,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// (head size, next entry): the whole state a refused request must leave alone.
    fn state(&self) -> (Option<u64>, u64) {
        let head = self.mirror.head().map(|h| h.size);
        let staged = self.mirror.store.staged().unwrap().unwrap_or(0);
        (head, staged.max(head.unwrap_or(0)))
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, String) {
    let r = http.post(url).body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn push_mirror_refuses_the_attackers_variants_and_changes_nothing() {
    let keys = DemoKeys::from_seed("mirror-push-attacks").unwrap();
    let log = log_of(&keys, 700).await;
    let origin = log.key.name().to_string();
    let http = reqwest::Client::new();
    let entries = check_log_at(&http, &log.url, &log.key).await;
    let note = note_of(&log).await;
    let dir = tempfile::tempdir().unwrap();
    let mkey = CosignerKey::generate("mirror.union.localhost/m2").unwrap();
    let m = Running::start(dir.path(), &log.key, mkey.clone()).await;
    let (cp_url, ae_url) = (
        format!("{}/add-checkpoint", m.url),
        format!("{}/add-entries", m.url),
    );

    // --- add-checkpoint ---
    // Another origin: 404 (a log this mirror does not copy).
    let other = DemoKeys::from_seed("another-log").unwrap();
    let other_log = TestLog::start_in(
        Arc::new(tempfile::tempdir().unwrap()),
        urne::config::Config {
            origin: "other.urne.localhost/log".into(),
            ..common::config_for(&other)
        },
    )
    .await;
    let other_note = note_of(&other_log).await;
    let (s, b) = post(
        &http,
        &cp_url,
        add_checkpoint_body(0, &[], &other_note).into_bytes(),
    )
    .await;
    assert_eq!(
        (s, b.split(':').next().unwrap()),
        (404, "unknown_origin"),
        "{b}"
    );
    // The right origin signed by another key: 403.
    let impostor = TestLog::start(&other).await;
    let (s, b) = post(
        &http,
        &cp_url,
        add_checkpoint_body(0, &[], &note_of(&impostor).await).into_bytes(),
    )
    .await;
    assert_eq!(
        (s, b.split(':').next().unwrap()),
        (403, "bad_signature"),
        "{b}"
    );
    // Malformed: 400.
    let (s, _) = post(&http, &cp_url, b"old x\n\n".to_vec()).await;
    assert_eq!(s, 400);
    assert_eq!(m.state(), (None, 0));

    // The pending checkpoint at 300, then 700 with a wrong proof (422) and with the
    // right one (200).
    let store = MemoryHashStore::from_entries(entries.iter().map(Vec::as_slice));
    let signer = urne::keys::load_or_create(log.dir.path(), &origin)
        .unwrap()
        .0;
    let at = |n: u64| {
        let part = MemoryHashStore::from_entries(entries[..n as usize].iter().map(Vec::as_slice));
        Checkpoint {
            origin: origin.clone(),
            size: n,
            root: part.root(),
            extensions: Vec::new(),
        }
        .sign(&signer)
    };
    let (s, b) = post(
        &http,
        &cp_url,
        add_checkpoint_body(0, &[], &at(300)).into_bytes(),
    )
    .await;
    assert_eq!((s, b.as_str()), (200, ""));
    let proof = tree::prove_consistency(300, 700, &store).unwrap();
    let mut wrong = proof.clone();
    wrong[0].0[0] ^= 1;
    let (s, b) = post(
        &http,
        &cp_url,
        add_checkpoint_body(300, &wrong, &note).into_bytes(),
    )
    .await;
    assert_eq!(
        (s, b.split(':').next().unwrap()),
        (422, "inconsistent"),
        "{b}"
    );
    // Stale old size: 409 with the pending size (text/x.tlog.size).
    let r = http
        .post(&cp_url)
        .body(add_checkpoint_body(0, &[], &note))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(r.text().await.unwrap(), "300\n");
    // A checkpoint of the held size with another root, signed by the log key (a log
    // that signs two trees): 409, the pending one kept.
    let forked = Checkpoint {
        origin: origin.clone(),
        size: 300,
        root: Hash([7; 32]),
        extensions: Vec::new(),
    }
    .sign(&signer);
    let (s, _) = post(
        &http,
        &cp_url,
        add_checkpoint_body(300, &[], &forked).into_bytes(),
    )
    .await;
    assert_eq!(s, 409);
    assert_eq!(where_is(&http, &m.url, &origin).await.pending_size, 300);
    let (s, _) = post(
        &http,
        &cp_url,
        add_checkpoint_body(300, &proof, &note).into_bytes(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(where_is(&http, &m.url, &origin).await.pending_size, 700);
    assert_eq!(m.state(), (None, 0));

    // --- add-entries: each refusal with its status, the state unchanged ---
    let good = raw_body(&origin, &entries, 0, 700, 1);
    let hlen = Header {
        origin: origin.clone(),
        upload_start: 0,
        upload_end: 700,
        ticket: Vec::new(),
    }
    .encode()
    .unwrap()
    .len();
    let refuse = |body: Vec<u8>, want: u16, code: &'static str| {
        let (http, ae_url) = (http.clone(), ae_url.clone());
        async move {
            let (s, b) = post(&http, &ae_url, body).await;
            assert_eq!(s, want, "{code}: {b}");
            if !code.is_empty() {
                assert!(b.starts_with(code), "want {code}, got {b}");
            }
        }
    };
    // Unknown origin: 404.
    let b = raw_body("other.urne.localhost/log", &entries, 0, 700, 1);
    refuse(b, 404, "unknown_origin").await;
    // An entry flipped: 422.
    let mut b = good.clone();
    b[hlen + 2 + 10] ^= 1;
    refuse(b, 422, "proof_mismatch").await;
    // A proof hash flipped: 422.
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    refuse(b, 422, "proof_mismatch").await;
    // Missing proof (no hashes): 422.
    let mut b = good.clone();
    let nh = {
        // The package's proof: the hash count byte sits before its hashes.
        let proof = subtree::prove_subtree(0, 256, 700, &store).unwrap();
        proof.len()
    };
    let count_at = b.len() - 1 - 32 * nh;
    assert_eq!(usize::from(b[count_at]), nh);
    b.truncate(count_at);
    b.push(0);
    refuse(b, 422, "proof_mismatch").await;
    // More than 63 hashes: 400.
    let mut b = good[..count_at].to_vec();
    b.push(64);
    b.extend_from_slice(&[0; 64 * 32]);
    refuse(b, 400, "malformed").await;
    // A package not aligned to 256: its first 100 entries and their own proof (the
    // mirror reads the proof's bytes as more entries): refused, 400 or 422 as the
    // bytes fall.
    let mut b = good[..hlen].to_vec();
    let p100 = subtree::prove_subtree(0, 100, 700, &store).unwrap();
    tlog_mirror::encode_package(&entries[..100], &p100, &mut b).unwrap();
    let (s, body) = post(&http, &ae_url, b).await;
    assert!(s == 400 || s == 422, "{s} {body}");
    // A too large package: an entry declared longer than a statement can be: 400.
    let mut b = good[..hlen].to_vec();
    b.extend_from_slice(&0xffffu16.to_be_bytes());
    b.extend_from_slice(&vec![b'x'; 0xffff]);
    refuse(b.clone(), 400, "entry_too_large").await;
    // The same refusal decided early in a long body: the mirror reads the rest (up to
    // its bound) before answering, so the client gets the 400 and its code rather
    // than a connection reset under the answer.
    b.extend_from_slice(&vec![b'x'; 512 * 1024]);
    refuse(b, 400, "entry_too_large").await;
    // Truncated before any whole package: 400.
    refuse(good[..good.len() - 5].to_vec(), 400, "truncated").await;
    // upload_end that is not a pending checkpoint: 409 with mirror-info.
    let (s, b) = post(&http, &ae_url, raw_body(&origin, &entries, 0, 650, 1)).await;
    assert_eq!(s, 409);
    assert_eq!(
        MirrorInfo::parse(&b).unwrap(),
        MirrorInfo {
            pending_size: 700,
            next_entry: 0,
            ticket: vec![]
        }
    );
    // upload_start past the next entry: 409.
    let (s, _) = post(&http, &ae_url, raw_body(&origin, &entries, 256, 700, 1)).await;
    assert_eq!(s, 409);
    // An unsupported encoding: 415.
    let r = http
        .post(&ae_url)
        .header("content-encoding", "br")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(m.state(), (None, 0), "no refused request changed anything");

    // A body without length that stops after one whole package and never ends: the
    // mirror keeps the package and answers 202 with its next entry once the body has
    // paused longer than its bound.
    let first = raw_body(&origin, &entries, 0, 700, 1);
    let url = m.url.clone();
    let (status, ctype, body) = tokio::task::spawn_blocking(move || {
        let mut s = raw_chunked(&url, &first);
        read_response(&mut s)
    })
    .await
    .unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(ctype, tlog_mirror::MIRROR_INFO_TYPE);
    let info = MirrorInfo::parse(&body).unwrap();
    assert_eq!((info.pending_size, info.next_entry), (700, 256));
    assert_eq!(m.state(), (None, 256));

    // A replayed old request (from 0 again, before the bundle holding the next
    // entry): 409, nothing stored twice.
    let (s, b) = post(&http, &ae_url, raw_body(&origin, &entries, 0, 700, 3)).await;
    assert_eq!(s, 409);
    assert_eq!(MirrorInfo::parse(&b).unwrap().next_entry, 256);
    assert_eq!(m.state(), (None, 256));

    // The rest, gzip-compressed: 200 with the mirror's cosignature on the checkpoint.
    let rest = raw_body(&origin, &entries, 256, 700, 32);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&rest).unwrap();
    let r = http
        .post(&ae_url)
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let line = r.text().await.unwrap();
    let cosigned = urne_client::checkpoint::add_cosignatures(&note, &[line]).unwrap();
    let policy = WitnessPolicy::k_of_n(vec![mkey.verifier()], 1);
    open_checkpoint(cosigned.as_bytes(), &log.key, &policy)
        .expect("the mirror's cosignature verifies");
    assert_eq!(m.state(), (Some(700), 700));
    // Replaying the last package once everything is held: it is in the bundle the
    // mirror holds the end of, so the spec has it verified and skipped ("MUST skip
    // saving that entry"): the same cosignature again, nothing stored twice.
    let (s, b) = post(&http, &ae_url, raw_body(&origin, &entries, 512, 700, 1)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(m.state(), (Some(700), 700));
    // An older pending checkpoint (300) is below the mirror's: 409.
    let (s, _) = post(&http, &ae_url, raw_body(&origin, &entries, 300, 300, 0)).await;
    assert_eq!(s, 409);
    check_log_at(&http, &m.url, &log.key).await;
    m.stop().await;
    other_log.stop().await;
    impostor.stop().await;
    log.stop().await;
}

/// Reads one HTTP/1.1 response (status, content type, body of `Content-Length`
/// bytes) from a raw socket, waiting up to a minute.
fn read_response(s: &mut std::net::TcpStream) -> (u16, String, String) {
    use std::io::Read as _;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).unwrap();
        assert_eq!(n, 1, "the connection closed before a response");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let len: usize = field("content-length").parse().unwrap();
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (
        status,
        field("content-type"),
        String::from_utf8(body).unwrap(),
    )
}
