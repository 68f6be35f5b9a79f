//! Shared helpers of the integration tests: a real log (RocksDB in a temporary
//! directory, HTTP on 127.0.0.1 port 0), a test election with real Ed25519 keys, and
//! `check_log`, which re-verifies the whole log from its tiles with the client library
//! and rs_merkle, trusting nothing the server says.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use urne::config::Config;
use urne::demo::{DemoElection, DemoKeys};
use urne::Log;
use urne_client::checkpoint::{open_checkpoint, SignedCheckpoint, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::Time;
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

impl TestLog {
    /// Starts a log on a new temporary directory.
    pub async fn start(keys: &DemoKeys) -> TestLog {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::start_in(dir, config_for(keys)).await
    }

    /// Starts a log on `dir` with `cfg` (its data field is replaced by `dir`).
    pub async fn start_in(dir: Arc<tempfile::TempDir>, mut cfg: Config) -> TestLog {
        cfg.data = dir.path().to_path_buf();
        let log = tokio::task::spawn_blocking(move || Log::open(&cfg))
            .await
            .unwrap()
            .unwrap();
        let key = log.verifier_key().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(urne::run(listener, log, async move {
            let _ = rx.await;
        }));
        TestLog {
            url: format!("http://{addr}"),
            addr,
            key,
            http: reqwest::Client::new(),
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits until its storage is closed.
    pub async fn stop(mut self) -> Arc<tempfile::TempDir> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        // The sequencer thread holds the store until its queue closes; give it a moment.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
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

pub fn config_for(keys: &DemoKeys) -> Config {
    config(Path::new("unused"), keys)
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
    }
}

/// Re-verifies the whole log from its C2SP tiles: every entry bundle and hash tile is
/// downloaded, the root is recomputed with rs_merkle from the entries, and must equal
/// the signed checkpoint's; every level-0 hash tile must hold the entries' leaf hashes.
/// Returns the entries.
pub async fn check_log(log: &TestLog) -> Vec<Vec<u8>> {
    check_log_at(&log.http, &log.url, &log.key).await
}

/// [`check_log`] for any log URL and key.
pub async fn check_log_at(http: &reqwest::Client, url: &str, key: &VerifierKey) -> Vec<Vec<u8>> {
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
    entries
}
