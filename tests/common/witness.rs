//! A witness for the tests of a log on PostgreSQL: a real `urne::witness` server on
//! 127.0.0.1 (port 0), its RocksDB in a temporary directory, stopped when dropped.
#![allow(dead_code)]

use std::sync::Arc;
use urne::witness::Witness;
use urne_client::checkpoint::{CosignerKey, WitnessKey};
use urne_client::note::VerifierKey;

/// A witness served on 127.0.0.1, stopped when dropped.
pub struct TestWitness {
    pub url: String,
    pub key: WitnessKey,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestWitness {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl TestWitness {
    /// `--witness URL=KEY` for `urne serve`.
    pub fn arg(&self) -> String {
        format!("{}={}", self.url, self.key)
    }
}

/// Starts a witness named `name` (its key from a seed made of the name) of the log
/// `log`.
pub async fn start_witness(name: &str, log: &VerifierKey) -> TestWitness {
    let mut seed = [9u8; 32];
    seed[..name.len().min(32)].copy_from_slice(&name.as_bytes()[..name.len().min(32)]);
    let key = CosignerKey::from_seed(name, seed).unwrap();
    let vkey = key.verifier();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let logs = vec![log.clone()];
    let w = tokio::task::spawn_blocking(move || Witness::open(&path, key, logs))
        .await
        .unwrap()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(urne::witness::run(listener, Arc::new(w), async move {
        let _ = rx.await;
    }));
    TestWitness {
        url,
        key: vkey,
        stop: Some(tx),
        _dir: dir,
    }
}
