//! Shared helpers of the integration tests: a real log (RocksDB in a temporary
//! directory, HTTP on 127.0.0.1 port 0), a test election with real Ed25519 keys, and
//! `check_log`, which re-verifies the whole log from its tiles with the client library
//! and rs_merkle, trusting nothing the server says.
#![allow(dead_code)]

pub mod add_checkpoint;
pub mod backend;
pub mod cluster;
pub mod faulty;
pub mod postgres;
pub mod process;
pub mod witness;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use urne::config::Config;
use urne::Log;
use urne_client::checkpoint::{open_checkpoint, Checkpoint, SignedCheckpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Channel, CredentialReason, Time};
use urne_client::test_kit::{DemoElection, DemoKeys};
use urne_client::tiles::{decode_entry_bundle, TileId, TileKind};
use urne_client::tree::{self, Rfc6962Hasher};

/// A running log server.
pub struct TestLog {
    pub url: String,
    pub addr: SocketAddr,
    pub key: VerifierKey,
    pub http: reqwest::Client,
    pub dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn config(dir: &Path, keys: &DemoKeys) -> Config {
    Config {
        data: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        origin: "test.urne.localhost/log".into(),
        allow_board: vec![keys.board[0].verifier().to_string()],
        batch_ms: 1,
        ..Config::default()
    }
}

/// A log left running at the end of a test is stopped as `stop` would: its sequencer
/// thread joined and RocksDB closed before the test returns. Otherwise that thread
/// closes RocksDB after the runtime is gone, and if it was the binary's last test the
/// process may exit meanwhile and abort in RocksDB's static destructors.
impl Drop for TestLog {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let Some(task) = self.task.take() else { return };
        if std::thread::panicking() {
            return; // a failing test: its failure is what matters
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            if rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                let _ = tokio::task::block_in_place(|| rt.block_on(task));
            }
        }
    }
}

impl TestLog {
    /// Starts a log on a new temporary directory.
    pub async fn start(keys: &DemoKeys) -> TestLog {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::start_in(dir, config_for(keys)).await
    }

    /// Starts a log on `dir` with `cfg` (its data field is replaced by `dir`).
    pub async fn start_in(dir: Arc<tempfile::TempDir>, mut cfg: Config) -> TestLog {
        cfg.data = dir.path().to_path_buf();
        if backend::postgres() {
            cfg.database = Some(backend::database_for(dir.path()));
        }
        let log = tokio::task::spawn_blocking(move || Log::open(&cfg))
            .await
            .unwrap()
            .unwrap();
        Self::serve(dir, log).await
    }

    /// Starts a log on `dir` over `store` (e.g. a [`faulty::FaultyStore`] around
    /// the RocksDB store in `dir`), with the log key of `dir`.
    pub async fn start_with_store(
        dir: Arc<tempfile::TempDir>,
        mut cfg: Config,
        store: Arc<dyn urne::storage::Store>,
    ) -> TestLog {
        cfg.data = dir.path().to_path_buf();
        let log = tokio::task::spawn_blocking(move || {
            let allow = cfg.validate().unwrap();
            let (key, _) = urne::keys::load_or_create(&cfg.data, &cfg.origin).unwrap();
            Log::with_store(store, key, &cfg, allow)
        })
        .await
        .unwrap()
        .unwrap();
        Self::serve(dir, log).await
    }

    async fn serve(dir: Arc<tempfile::TempDir>, log: Log) -> TestLog {
        let key = log.verifier_key().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(urne::run(listener, log, async move {
            let _ = rx.await;
        }));
        let log = TestLog {
            url: format!("http://{addr}"),
            addr,
            key,
            http: reqwest::Client::new(),
            dir,
            stop: Some(tx),
            task: Some(task),
        };
        log.wait_leading().await;
        log
    }

    /// Waits (up to two minutes) until this instance sequences: at once on RocksDB;
    /// on PostgreSQL once it took the lease (after a kill, when the dead holder's
    /// lease expired).
    pub async fn wait_leading(&self) {
        wait_leading(&self.http, &self.url).await;
    }

    /// Stops the server and waits until its storage is closed.
    pub async fn stop(mut self) -> Arc<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        // `urne::run` returns once the sequencer thread is joined and RocksDB closed:
        // the directory can be reopened at once.
        self.dir.clone()
    }

    pub async fn post(&self, text: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/v1/statements", self.url))
            .body(text.to_string())
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.url, path))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.get(path).await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Fetches and verifies the checkpoint with the log key.
    pub async fn checkpoint(&self) -> SignedCheckpoint {
        let text = self.get("/checkpoint").await.text().await.unwrap();
        open_checkpoint(text.as_bytes(), &self.key, &WitnessPolicy::none()).unwrap()
    }

    pub async fn size(&self) -> u64 {
        self.checkpoint().await.checkpoint.size
    }
}

/// Waits (up to two minutes) until the log at `url` says it leads (`/v1/log`).
pub async fn wait_leading(http: &reqwest::Client, url: &str) {
    let mut last = serde_json::Value::Null;
    for _ in 0..1200 {
        if let Ok(r) = http.get(format!("{url}/v1/log")).send().await {
            last = r.json().await.unwrap_or_default();
            if last["leading"] == true {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{url} did not lead within two minutes: {last}");
}

pub fn config_for(keys: &DemoKeys) -> Config {
    config(Path::new("unused"), keys)
}

/// A statement issuing a fresh random credential to a fresh random voter of `e`, now,
/// by `channel` (the filler of the tests that need many distinct acceptable statements).
pub fn new_credential(e: &DemoElection<'_>, channel: Channel) -> String {
    e.credential(
        Time::now(),
        urne_client::test_kit::random_tag(&mut rand::thread_rng()),
        urne_client::test_kit::random_tag(&mut rand::thread_rng()),
        channel,
        CredentialReason::Initial,
    )
    .unwrap()
}

/// Appends `n` platform interventions (`action`, reasons `"{action} 0"`, …) to `e`,
/// one after the other, asserting each is acknowledged with 201.
pub async fn append_interventions(log: &TestLog, e: &DemoElection<'_>, action: &str, n: usize) {
    for i in 0..n {
        let text = e
            .intervention(Time::now(), "ops", action, &format!("{action} {i}"))
            .unwrap();
        let (s, v) = log.post(&text).await;
        assert_eq!(s, 201, "intervention {i}: {v}");
    }
}

/// A test election open from a minute ago for a day.
pub fn election<'k>(keys: &'k DemoKeys, id: &str) -> DemoElection<'k> {
    let now = Time::now().0;
    DemoElection {
        id: id.into(),
        keys,
        scrutins: vec!["s1".into(), "s2".into()],
        opens: Time(now - 60),
        closes: Time(now + 86_400),
        tolerance: urne_client::rules::DEFAULT_TOLERANCE_SECS as u64,
    }
}

/// Re-verifies the whole log from its C2SP tiles: every entry bundle and hash tile is
/// downloaded, the root is recomputed with rs_merkle from the entries, and must equal
/// the signed checkpoint's; every level-0 hash tile must hold the entries' leaf hashes
/// and every hash tile of a higher level the subtree hashes recomputed from them.
/// Returns the entries.
pub async fn check_log(log: &TestLog) -> Vec<Vec<u8>> {
    check_log_at(&log.http, &log.url, &log.key).await
}

/// [`check_log`] for any log URL and key.
pub async fn check_log_at(http: &reqwest::Client, url: &str, key: &VerifierKey) -> Vec<Vec<u8>> {
    check_log_full(http, url, key).await.1
}

/// [`check_log_at`], also returning the checkpoint the log was checked against.
pub async fn check_log_full(
    http: &reqwest::Client,
    url: &str,
    key: &VerifierKey,
) -> (Checkpoint, Vec<Vec<u8>>) {
    let get = |path: String| {
        let http = http.clone();
        let url = url.to_string();
        async move { http.get(format!("{url}{path}")).send().await.unwrap() }
    };
    let text = get("/checkpoint".into()).await.text().await.unwrap();
    let cp = open_checkpoint(text.as_bytes(), key, &WitnessPolicy::none())
        .unwrap()
        .checkpoint;
    let n = cp.size;
    let mut entries = Vec::new();
    let mut k = 0;
    while (k * 256) < n {
        let w = (n - k * 256).min(256) as u16;
        let id = TileId {
            kind: TileKind::Entries,
            index: k,
            width: w,
        };
        let r = get(format!("/{}", id.path())).await;
        assert_eq!(r.status(), 200, "{}", id.path());
        let bundle = decode_entry_bundle(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(bundle.len(), w as usize);
        let hid = TileId {
            kind: TileKind::Hash { level: 0 },
            index: k,
            width: w,
        };
        let tile = get(format!("/{}", hid.path())).await.bytes().await.unwrap();
        assert_eq!(tile.len(), 32 * w as usize);
        for (j, e) in bundle.iter().enumerate() {
            assert_eq!(
                &tile[32 * j..32 * j + 32],
                &tree::record_hash(e).0,
                "leaf hash {} in tile {}",
                k * 256 + j as u64,
                hid.path()
            );
        }
        entries.extend(bundle);
        k += 1;
    }
    assert_eq!(entries.len() as u64, n);
    if n > 0 {
        let leaves: Vec<[u8; 32]> = entries.iter().map(|e| tree::record_hash(e).0).collect();
        let mt = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(&leaves);
        assert_eq!(
            mt.root().unwrap(),
            cp.root.0,
            "root recomputed from the entries differs from the checkpoint"
        );
    } else {
        assert_eq!(cp.root, tree::EMPTY_HASH);
    }

    // Hash tiles of level L >= 1 hold the hashes of the complete subtrees of 256^L
    // leaves (tree level 8L): recompute those levels from the entries.
    let mut level: Vec<tree::Hash> = entries.iter().map(|e| tree::record_hash(e)).collect();
    let mut tile_level = 0u8;
    loop {
        tile_level += 1;
        for _ in 0..8 {
            level = level
                .chunks_exact(2)
                .map(|p| tree::node_hash(&p[0], &p[1]))
                .collect();
        }
        if level.is_empty() {
            break;
        }
        for (k, chunk) in level.chunks(256).enumerate() {
            let id = TileId {
                kind: TileKind::Hash { level: tile_level },
                index: k as u64,
                width: chunk.len() as u16,
            };
            let r = get(format!("/{}", id.path())).await;
            assert_eq!(r.status(), 200, "{}", id.path());
            let tile = r.bytes().await.unwrap();
            let want: Vec<u8> = chunk.iter().flat_map(|h| h.0).collect();
            assert_eq!(
                tile.as_ref(),
                want.as_slice(),
                "hash tile {} differs from the subtree hashes of the entries",
                id.path()
            );
        }
    }
    (cp, entries)
}

/// Roots of the first `s` entries for every `s` in `sizes`, recomputed from the
/// entries with the client's compact range (never asking the log).
pub fn prefix_roots(
    entries: &[Vec<u8>],
    sizes: impl IntoIterator<Item = u64>,
) -> std::collections::BTreeMap<u64, tree::Hash> {
    let mut want: Vec<u64> = sizes.into_iter().collect();
    want.sort_unstable();
    want.dedup();
    let mut out = std::collections::BTreeMap::new();
    let mut range = urne_client::compact::CompactRange::new();
    let mut it = want.into_iter().peekable();
    while let Some(&s) = it.peek() {
        if s == range.size() {
            out.insert(s, range.root());
            it.next();
            continue;
        }
        let Some(e) = entries.get(range.size() as usize) else {
            panic!("size {s} is beyond the {} entries", entries.len());
        };
        range.append(tree::record_hash(e));
    }
    out
}
