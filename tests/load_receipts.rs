//! `urne load --receipts` (the verification storm's load generator, BENCHMARKS.md
//! and docs/scaling.md): against a real log (`urne serve`, RocksDB, filled by `urne
//! load --receipts-out`) it looks up receipts drawn from the file, counts every
//! answer and checks one in sixteen as a voter's client does; against a log that
//! answers another receipt than the one asked, or an answer whose proof does not
//! hold, or a receipt it never saw, it fails with a sentence instead of counting it.
//! `urne load --tile-proofs` (the same storm read from the tiles alone, as through an
//! HTTP cache) proves leaves of the real log, and fails in the same way behind a cache
//! that changes a tile, sends one too long, or for a checkpoint under another key.
//! Nothing here asserts a speed.

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `urne serve` on `data` (port 0), allowing the demo board (`urne load`
/// seals its election with it); returns the guard and the URL.
fn start_log(data: &Path) -> (Guard, String) {
    let board = run(Command::new(env!("CARGO_BIN_EXE_urne")).args(["demo", "--print-board-key"]));
    assert!(board.status.success());
    let board: Vec<String> = String::from_utf8_lossy(&board.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0"])
        .args(board.iter().flat_map(|k| ["--allow-board", k.as_str()]))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start urne serve");
    let out = child.stdout.take().expect("stdout");
    let guard = Guard(child);
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let line = lines.next().expect("urne serve exited").expect("read");
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            break rest
                .split_whitespace()
                .next()
                .expect("url")
                .trim_end_matches('/')
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (guard, url)
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().expect("run")
}

/// `urne load --receipts N --receipts-from FILE --json` against `url`.
fn receipt_load(url: &str, n: usize, file: &Path) -> std::process::Output {
    run(Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(["load", "--log", url, "--receipts"])
        .arg(n.to_string())
        .arg("--receipts-from")
        .arg(file)
        .args(["--concurrency", "16", "--json"]))
}

/// How the lying log in front of the real one answers `GET /v1/receipts/<code>`.
#[derive(Clone, Copy)]
enum Lie {
    /// The real answer for another receipt of the file.
    Swap,
    /// The real answer, its entry's text changed (the proof no longer holds).
    Tamper,
}

#[derive(Clone)]
struct Proxy {
    real: String,
    lie: Lie,
    other: String,
    http: reqwest::Client,
}

async fn log_info(State(p): State<Proxy>) -> Response {
    let body = p
        .http
        .get(format!("{}/v1/log", p.real))
        .send()
        .await
        .expect("real log")
        .text()
        .await
        .expect("body");
    ([("content-type", "application/json")], body).into_response()
}

async fn receipt(State(p): State<Proxy>, UrlPath(code): UrlPath<String>) -> Response {
    let asked = match p.lie {
        Lie::Swap if code != p.other => p.other.clone(),
        _ => code,
    };
    let mut v: serde_json::Value = p
        .http
        .get(format!("{}/v1/receipts/{asked}", p.real))
        .send()
        .await
        .expect("real log")
        .json()
        .await
        .expect("json");
    if let Lie::Tamper = p.lie {
        let text = format!("{} ", v["entry"].as_str().expect("entry"));
        v["entry"] = text.into();
    }
    (StatusCode::OK, axum::Json(v)).into_response()
}

/// Serves the lie; returns its URL.
fn lying_log(real: &str, lie: Lie, other: &str) -> String {
    let proxy = Proxy {
        real: real.to_string(),
        lie,
        other: other.to_string(),
        http: reqwest::Client::new(),
    };
    serve_on_a_thread(
        Router::new()
            .route("/v1/log", get(log_info))
            .route("/v1/receipts/{code}", get(receipt))
            .with_state(proxy),
    )
}

/// Serves `app` on 127.0.0.1 (port 0) on a thread of its own; returns its URL.
fn serve_on_a_thread(app: Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    format!("http://{}", rx.recv().expect("server address"))
}

#[test]
fn receipt_load_proves_receipts_of_the_log_and_refuses_answers_that_lie() {
    let tmp = tempfile::tempdir().unwrap();
    let (_log, url) = start_log(&tmp.path().join("data"));
    let codes_file = tmp.path().join("receipts.txt");
    let fill = run(Command::new(env!("CARGO_BIN_EXE_urne"))
        .args([
            "load",
            "--log",
            &url,
            "--ballots",
            "40",
            "--concurrency",
            "8",
        ])
        .arg("--receipts-out")
        .arg(&codes_file)
        .arg("--json"));
    assert!(
        fill.status.success(),
        "{}",
        String::from_utf8_lossy(&fill.stderr)
    );
    let filled: serde_json::Value = serde_json::from_slice(&fill.stdout).unwrap();
    assert_eq!(filled["appended"], 40, "{filled}");
    // One code a line, one per ballot appended, all different, each as a voter reads
    // it (64 hex digits).
    let text = std::fs::read_to_string(&codes_file).unwrap();
    let codes: Vec<&str> = text.lines().collect();
    assert_eq!(codes.len(), 40);
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 40);
    assert!(codes
        .iter()
        .all(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit())));

    // The honest log: every lookup answered and counted (more lookups than codes:
    // drawn at random, with repeats).
    let out = receipt_load(&url, 100, &codes_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["proofs"], 100, "{r}");
    assert!(r["per_second"].as_f64().unwrap() > 0.0, "{r}");
    assert!(
        r["p50_ms"].as_f64().unwrap() <= r["p99_ms"].as_f64().unwrap(),
        "{r}"
    );

    // A code the log never saw: the run fails, naming it.
    let unknown = tmp.path().join("unknown.txt");
    let never = "ab".repeat(32);
    std::fs::write(&unknown, format!("{never}\n")).unwrap();
    let out = receipt_load(&url, 3, &unknown);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("receipt {never}: HTTP 404")), "{err}");

    // No code at all.
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n").unwrap();
    let out = receipt_load(&url, 3, &empty);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no receipt codes to look up"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // `--receipts` needs its file.
    let out = run(Command::new(env!("CARGO_BIN_EXE_urne")).args([
        "load",
        "--log",
        &url,
        "--receipts",
        "3",
    ]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--receipts-from"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A log that answers with another voter's ballot: refused, whatever its proof.
    let one = tmp.path().join("one.txt");
    std::fs::write(&one, format!("{}\n", codes[0])).unwrap();
    let liar = lying_log(&url, Lie::Swap, codes[1]);
    let out = receipt_load(&liar, 1, &one);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "asked for receipt {}, answered {}",
            codes[0], codes[1]
        )),
        "{err}"
    );

    // A ballot changed under its proof: the first answer is always checked, and
    // this one does not verify.
    let liar = lying_log(&url, Lie::Tamper, "");
    let out = receipt_load(&liar, 1, &one);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("receipt {}:", codes[0])), "{err}");
}

/// How the lying cache in front of the real log changes its level-0 hash tiles.
#[derive(Clone, Copy)]
enum TileLie {
    /// One bit of the tile flipped.
    Flip,
    /// The tile with 8 KiB more after it (longer than any tile).
    Oversized,
}

#[derive(Clone)]
struct TileCache {
    real: String,
    lie: TileLie,
    http: reqwest::Client,
}

/// Passes every request to the real log, the level-0 hash tiles changed by the lie.
async fn cached(State(c): State<TileCache>, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    let resp = c
        .http
        .get(format!("{}{path}", c.real))
        .send()
        .await
        .expect("real log");
    let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
    let mut body = resp.bytes().await.expect("body").to_vec();
    if path.starts_with("/tile/0/") && status.is_success() {
        match c.lie {
            TileLie::Flip => body[7] ^= 1,
            TileLie::Oversized => body.extend_from_slice(&[0; 8192]),
        }
    }
    (status, body).into_response()
}

/// Serves the lying cache; returns its URL.
fn lying_cache(real: &str, lie: TileLie) -> String {
    let cache = TileCache {
        real: real.to_string(),
        lie,
        http: reqwest::Client::new(),
    };
    serve_on_a_thread(Router::new().fallback(cached).with_state(cache))
}

/// `urne load --tile-proofs N --json` against `url` (with `--key` if given).
fn tile_load(url: &str, n: usize, key: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_urne"));
    cmd.args(["load", "--log", url, "--tile-proofs"])
        .arg(n.to_string())
        .args(["--concurrency", "8", "--json"]);
    if let Some(k) = key {
        cmd.args(["--key", k]);
    }
    run(&mut cmd)
}

#[test]
fn tile_proofs_prove_leaves_of_the_log_and_refuse_tiles_that_lie() {
    let tmp = tempfile::tempdir().unwrap();
    let (_log, url) = start_log(&tmp.path().join("data"));
    // 140 credentials, the opening, 140 ballots and the seal: 282 entries, so one
    // full tile and one partial at level 0, and a partial tile at level 1.
    let fill = run(Command::new(env!("CARGO_BIN_EXE_urne")).args([
        "load",
        "--log",
        &url,
        "--ballots",
        "140",
        "--concurrency",
        "8",
        "--json",
    ]));
    assert!(
        fill.status.success(),
        "{}",
        String::from_utf8_lossy(&fill.stderr)
    );
    // The honest log: every leaf drawn proved, from tiles it fetched itself (at least
    // the leaf's tile and the level-1 tile above it).
    let out = tile_load(&url, 60, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["proofs"], 60, "{r}");
    assert_eq!(r["tree_size"], 282, "{r}");
    assert!(r["tiles"].as_u64().unwrap() >= 120, "{r}");
    assert!(r["bytes"].as_u64().unwrap() >= 120 * 32, "{r}");

    // A cache that flips a bit of a tile: the tile does not hash up to the signed
    // root, and the run fails naming the leaf.
    let out = tile_load(&lying_cache(&url, TileLie::Flip), 5, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("leaf "), "{err}");

    // A cache that sends a tile longer than any tile: refused before it is hashed.
    let out = tile_load(&lying_cache(&url, TileLie::Oversized), 5, None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("bytes"), "{err}");

    // The log's checkpoint checked under another log's key: refused.
    let other = run(Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(["keygen", "--name", "other.example", "--out"])
        .arg(tmp.path().join("other.key")));
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let key = String::from_utf8_lossy(&other.stdout).trim().to_string();
    assert!(key.starts_with("other.example+"), "{key}");
    let out = tile_load(&url, 5, Some(&key));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("checkpoint: "), "{err}");
}
