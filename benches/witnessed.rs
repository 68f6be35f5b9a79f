//! Time from a statement's acknowledgement to a served `/checkpoint` that covers it
//! with the witness quorum: the wait of a voter who wants a witnessed proof.
//!
//! Real processes, started here: `urne serve` (RocksDB in a temporary directory) with
//! three `urne witness` processes and a quorum of two, all on 127.0.0.1. An election is
//! sealed and credentials issued, then pre-signed ballots are sent at a fixed rate
//! (default 1,000/s). For each acknowledged ballot (201 with its index) the instant of
//! the answer is kept; a poller reads `/checkpoint` every `URNE_BENCH_POLL_MS` (5)
//! and, for each new size, opens it with the log key and the witness policy (two of
//! the three keys) and records the instant it was first served cosigned. The figure of
//! a ballot is (first witnessed checkpoint whose size exceeds its index) minus (its
//! acknowledgement): p50, p90, p99, max. The poll period bounds the error (≤ 5 ms).
//!
//!   cargo bench --bench witnessed
//!   URNE_BENCH_RATE=1000 URNE_BENCH_BALLOTS=20000 cargo bench --bench witnessed

use futures::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use urne_client::api::SubmitAnswer;
use urne_client::checkpoint::{open_checkpoint, WitnessKey, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{Body, Channel, CredentialReason, Time};
use urne_client::test_kit::{random_tag, DemoElection, DemoKeys};

/// A child process killed on drop.
#[path = "../tests/common/process.rs"]
mod process;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `urne ARGS`, returns it and the URL and verifier key lines it prints.
fn start(args: &[&str]) -> (Proc, String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(args)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start urne");
    let (url, key) = process::serving(&mut child);
    (Proc(child), url.expect("urne exited"), key)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn serve_args<'a>(data: &'a str, board: &'a [String], extra: &'a [String]) -> Vec<&'a str> {
    let mut a = vec![
        "serve",
        "--data",
        data,
        "--listen",
        "127.0.0.1:0",
        "--origin",
        "bench.urne.localhost/log",
    ];
    for b in board {
        a.extend(["--allow-board", b.as_str()]);
    }
    a.extend(extra.iter().map(String::as_str));
    a
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    let rate: f64 = env_or("URNE_BENCH_RATE", 1000.0);
    let ballots: usize = env_or("URNE_BENCH_BALLOTS", 10_000);
    let poll = Duration::from_millis(env_or("URNE_BENCH_POLL_MS", 5));
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let keys = DemoKeys::from_seed("urne-bench-witnessed").expect("keys");
    let board: Vec<String> = keys
        .board
        .iter()
        .map(|k| k.verifier().to_string())
        .collect();
    let data = dir("log");

    // The log key first (the witnesses must know it), then the witnesses.
    let log_key = {
        let (_p, _, key) = start(&serve_args(&data, &board, &[]));
        key.expect("verifier key line")
    };
    let mut procs = Vec::new();
    let mut flags = Vec::new();
    let mut wkeys = Vec::new();
    for i in 0..3 {
        let keyfile = dir(&format!("w{i}.key"));
        let out = Command::new(env!("CARGO_BIN_EXE_urne"))
            .args(["keygen", "--witness", "--name"])
            .arg(format!("witness-{i}.bench.localhost"))
            .args(["--out", &keyfile])
            .output()
            .expect("keygen");
        assert!(out.status.success(), "keygen");
        let wkey = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string();
        let wdata = dir(&format!("w{i}"));
        let (p, url, _) = start(&[
            "witness",
            "--data",
            &wdata,
            "--listen",
            "127.0.0.1:0",
            "--key",
            &keyfile,
            "--log",
            &log_key,
        ]);
        procs.push(p);
        flags.extend(["--witness".to_string(), format!("{url}={wkey}")]);
        wkeys.push(WitnessKey::parse(&wkey).expect("witness key"));
    }
    flags.extend(["--witness-quorum".to_string(), "2".to_string()]);
    let (log, base, _) = start(&serve_args(&data, &board, &flags));
    procs.push(log);
    let log_key = VerifierKey::parse(&log_key).expect("log key");
    let policy = WitnessPolicy::k_of_n(wkeys, 2);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .build()
            .expect("http");
        let sub = urne_demo::Submitter::new(&base).expect("submitter");
        let mut rng = rand::rngs::StdRng::from_entropy();
        let now = Time::now();
        let election = DemoElection {
            id: format!("witnessed-{:08x}", rng.gen::<u32>()),
            keys: &keys,
            scrutins: vec!["s1".into()],
            opens: Time(now.0 - 60),
            closes: Time(now.0 + 86_400),
            tolerance: 300,
        };
        let o = sub.post(election.seal(now, "bench").unwrap()).await.unwrap();
        assert_eq!(o.status, 201, "{}", o.body);
        let creds: Vec<_> = (0..ballots).map(|_| random_tag(&mut rng)).collect();
        let texts: Vec<String> = creds
            .iter()
            .map(|c| {
                election
                    .credential(
                        Time::now(),
                        random_tag(&mut rand::thread_rng()),
                        *c,
                        Channel::Mail,
                        CredentialReason::Initial,
                    )
                    .unwrap()
            })
            .collect();
        let bar = indicatif::ProgressBar::hidden();
        sub.post_all(texts, 128, &bar).await.unwrap();
        let o = sub
            .post(election.board(Time::now(), Body::Open).unwrap())
            .await
            .unwrap();
        assert_eq!(o.status, 201, "{}", o.body);
        let t = Time::now();
        let texts: Vec<String> = creds
            .iter()
            .map(|c| {
                election
                    .ballot(t, "s1", *c, random_tag(&mut rand::thread_rng()))
                    .unwrap()
            })
            .collect();

        // The poller: (size, first instant served with the quorum), in size order.
        let served: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let poller = {
            let (served, stop, http, base) =
                (served.clone(), stop.clone(), http.clone(), base.clone());
            tokio::spawn(async move {
                let mut last = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(r) = http.get(format!("{base}/checkpoint")).send().await {
                        let at = Instant::now();
                        if let Ok(text) = r.text().await {
                            if let Ok(cp) = open_checkpoint(text.as_bytes(), &log_key, &policy) {
                                if cp.checkpoint.size > last {
                                    last = cp.checkpoint.size;
                                    served.lock().unwrap().push((last, at));
                                }
                            }
                        }
                    }
                    tokio::time::sleep(poll).await;
                }
            })
        };

        // The ballots at a fixed rate; each acknowledgement's instant and index.
        let start = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate);
        let acks: Vec<Option<(u64, Instant)>> = stream::iter(texts.into_iter().enumerate())
            .map(|(i, text)| {
                let sub = sub.clone();
                async move {
                    tokio::time::sleep_until((start + interval * i as u32).into()).await;
                    let o = sub.post(text).await.ok()?;
                    let at = Instant::now();
                    if o.status != 201 {
                        return None;
                    }
                    let a: SubmitAnswer = serde_json::from_value(o.body).ok()?;
                    Some((a.index, at))
                }
            })
            .buffer_unordered(1024)
            .collect()
            .await;
        let sent_secs = start.elapsed().as_secs_f64();
        let acked: Vec<(u64, Instant)> = acks.into_iter().flatten().collect();
        let last = acked.iter().map(|a| a.0).max().unwrap_or(0);
        // Wait (generously) for the last ballot to be covered by a witnessed checkpoint.
        let deadline = Instant::now() + Duration::from_secs(120);
        while served.lock().unwrap().last().is_none_or(|s| s.0 <= last) {
            assert!(Instant::now() < deadline, "no witnessed checkpoint covers {last}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = poller.await;
        let served = served.lock().unwrap().clone();
        let mut lat: Vec<f64> = acked
            .iter()
            .map(|(index, ack)| {
                let i = served.partition_point(|(size, _)| *size <= *index);
                let (_, at) = served[i];
                at.saturating_duration_since(*ack).as_secs_f64() * 1000.0
            })
            .collect();
        lat.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
        println!(
            "witnessed: {} ballots acknowledged of {ballots} sent at {rate}/s ({:.0}/s achieved), 3 witnesses, quorum 2, poll {} ms",
            lat.len(),
            acked.len() as f64 / sent_secs,
            poll.as_millis()
        );
        println!(
            "ack -> served witnessed /checkpoint covering it: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} witnessed sizes served",
            pct(0.5),
            pct(0.9),
            pct(0.99),
            lat.last().copied().unwrap_or(0.0),
            served.len()
        );
    });
    drop(procs);
}
