//! Scale benchmark: fills a real log (RocksDB on disk, the sequencer, the rules, real
//! Ed25519 signatures verified the way the HTTP handlers do, in parallel) with
//! credential statements, and at each size of `URNE_SCALE_SIZES` measures the log as
//! it runs for real: a child `urne serve` process over the filled directory.
//!
//! At each size it reports:
//! - bytes on disk per entry (`du` of the data directory: allocated blocks, and the
//!   apparent size, divided by the entries);
//! - start time: from spawning `urne serve` to the first successful `/checkpoint`,
//!   once after the in-process filler closed the database and once after the server
//!   itself was killed with SIGKILL (the restart a crash leads to);
//! - resident memory of the server process (`VmRSS`, and the peak `VmHWM`, from
//!   `/proc/<pid>/status`) just after start, and after serving `URNE_SCALE_PROOFS`
//!   inclusion proofs over HTTP (`GET /v1/proof/inclusion` of random leaves, a
//!   sample verified against the signed checkpoint), with the proofs per second;
//! - the in-process fill rate (sign + verify + rules + durable commit).
//!
//! Memory must be flat as the log grows: compare the rows.
//!
//! ```sh
//! # the 10-million-entry figures (fills for about 20 minutes on 2 cores, ~3 GB):
//! URNE_SCALE_SIZES=1000000,5000000,10000000 URNE_SCALE_DIR=/tmp/scale cargo bench --bench scale
//! ```
//!
//! `URNE_SCALE_N=N` alone is `URNE_SCALE_SIZES=N` (default 200,000).
//! `URNE_SCALE_DIR` keeps the data directory (default: a temporary one); a directory
//! already filled is resumed. `URNE_SCALE_PROOFS` (default 20,000) proofs per size.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use urne::config::Config;
use urne::storage::StoreHashReader;
use urne::Log;
use urne_client::rules;
use urne_client::statement::{Body, Channel, CredentialReason, SignedStatement, Time};
use urne_client::test_kit::{random_tag, DemoElection, DemoKeys};
use urne_client::tree;

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// (allocated bytes as `du` counts them, apparent bytes) of a directory tree.
fn du(p: &Path) -> (u64, u64) {
    let mut total = (0, 0);
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                let (a, b) = du(&e.path());
                total = (total.0 + a, total.1 + b);
            } else {
                total = (total.0 + m.blocks() * 512, total.1 + m.len());
            }
        }
    }
    total
}

/// A running `urne serve` child.
struct Server {
    child: Child,
    url: String,
    /// Spawn to first successful `/checkpoint`.
    start: Duration,
}

fn serve(dir: &Path, rt: &tokio::runtime::Runtime, http: &reqwest::Client) -> Server {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn urne serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.expect("server stdout");
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            url = rest
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches('/').to_string());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let url = url.expect("urne serve printed its address");
    rt.block_on(async {
        loop {
            if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    Server {
        child,
        url,
        start: t0.elapsed(),
    }
}

/// Waits until nothing holds the RocksDB lock of `dir` any more.
fn wait_closed(dir: &Path) {
    for _ in 0..500 {
        if urne::storage::RocksStore::open(&dir.join("db"), 1 << 20).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the database in {} stays locked", dir.display());
}

struct Row {
    size: u64,
    fill_per_sec: f64,
    disk: (u64, u64),
    first_start: Duration,
    rss_start: (f64, f64),
    proofs_per_sec: f64,
    rss_proofs: (f64, f64),
    restart: Duration,
    rss_restart: (f64, f64),
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us with no arguments:
    // only the real benchmark run does the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let env_u64 = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let mut sizes: Vec<u64> = match std::env::var("URNE_SCALE_SIZES") {
        Ok(v) => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("URNE_SCALE_SIZES: comma-separated sizes")
            })
            .collect(),
        Err(_) => vec![env_u64("URNE_SCALE_N").unwrap_or(200_000)],
    };
    sizes.sort_unstable();
    let proofs = env_u64("URNE_SCALE_PROOFS").unwrap_or(20_000) as usize;
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("URNE_SCALE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    let keys = DemoKeys::from_seed("scale").unwrap();
    let cfg = Config {
        data: dir.clone(),
        origin: "scale.urne.localhost/log".into(),
        allow_board: vec![keys.board[0].verifier().to_string()],
        time_tolerance_secs: 86_400,
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.to_string())
        })
        .unwrap_or_default();
    println!(
        "{cpu}; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let now = Time::now();
    let e = DemoElection {
        id: "scale".into(),
        keys: &keys,
        scrutins: vec!["s1".into()],
        opens: Time(now.0 - 60),
        closes: Time(now.0 + 86_400),
        tolerance: 86_400,
    };
    let mut rows = Vec::new();
    for &target in &sizes {
        let log = Log::open(&cfg).unwrap();
        let seq = log.state.seq.clone();
        if seq.head().size == 0 {
            for text in [e.seal(now, "scale"), e.board(now, Body::Open)] {
                let text = text.unwrap();
                let s = SignedStatement::parse(text.as_bytes()).unwrap();
                rt.block_on(seq.submit(s, None)).unwrap();
            }
        }
        let es = log.state.election_authorities("scale").unwrap().unwrap();
        let start_size = seq.head().size;
        let n = target.saturating_sub(start_size);
        println!(
            "filling {n} credential statements into {} (tree size {start_size} -> {target})",
            dir.display()
        );
        let t0 = Instant::now();
        let chunk = 20_000u64;
        let mut done = 0u64;
        let bar = indicatif::ProgressBar::new(n);
        while done < n {
            let m = chunk.min(n - done);
            // Sign and verify in parallel (the HTTP handlers' share of the work), then
            // queue everything for the sequencer.
            let halves: Vec<Vec<(SignedStatement, rules::Verified)>> = std::thread::scope(|sc| {
                let hs: Vec<_> = (0..2)
                    .map(|_| {
                        let e = &e;
                        let es = es.clone();
                        sc.spawn(move || {
                            let mut rng = rand::thread_rng();
                            (0..m / 2 + 1)
                                .map(|_| {
                                    let text = e
                                        .credential(
                                            Time::now(),
                                            random_tag(&mut rng),
                                            random_tag(&mut rng),
                                            Channel::Batch,
                                            CredentialReason::Initial,
                                        )
                                        .unwrap();
                                    let s = SignedStatement::parse(text.as_bytes()).unwrap();
                                    let v = rules::verify_signatures_under(
                                        &s, &es.keys, es.quorum, es.rules,
                                    )
                                    .unwrap();
                                    (s, v)
                                })
                                .collect()
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let items: Vec<_> = halves.into_iter().flatten().take(m as usize).collect();
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for (s, v) in items {
                    let seq = seq.clone();
                    set.spawn(async move {
                        loop {
                            match seq.submit(s.clone(), Some(v.clone())).await {
                                Err(urne::sequencer::SubmitError::Pushback) => {
                                    tokio::time::sleep(Duration::from_millis(5)).await
                                }
                                r => return r.map(|_| ()),
                            }
                        }
                    });
                }
                while let Some(r) = set.join_next().await {
                    r.unwrap().unwrap();
                }
            });
            done += m;
            bar.set_position(done);
            // The bar is hidden when stdout is not a terminal: a line per million.
            if !std::io::IsTerminal::is_terminal(&std::io::stderr())
                && (start_size + done) / 1_000_000 != (start_size + done - m) / 1_000_000
            {
                println!(
                    "  {} entries, {:.0} appends/s so far",
                    start_size + done,
                    done as f64 / t0.elapsed().as_secs_f64()
                );
            }
        }
        bar.finish();
        let fill_per_sec = n as f64 / t0.elapsed().as_secs_f64();
        let size = seq.head().size;
        println!("filled: tree size {size}; {fill_per_sec:.0} appends/s in process (sign+verify+rules+durable commit)");

        // In-process proofs from RocksDB at this size (no HTTP).
        let store = log.state.store.clone();
        let t = Instant::now();
        let k = 20_000u64;
        for j in 0..k {
            let i = (j * 2_654_435_761) % size;
            std::hint::black_box(
                tree::prove_inclusion(i, size, &StoreHashReader(&*store)).unwrap(),
            );
        }
        println!(
            "inclusion proofs from RocksDB at size {size}: {:.0}/s (in process, one thread)",
            k as f64 / t.elapsed().as_secs_f64()
        );
        drop((store, seq, es, log));
        wait_closed(&dir);
        let disk = du(&dir);

        // The real server over the filled directory.
        let mut server = serve(&dir, &rt, &http);
        let pid = server.child.id();
        let rss_start = rss_mib(pid);
        let report = rt
            .block_on(urne_demo::run_proof_load(&server.url, proofs, 64))
            .expect("proof load");
        let rss_proofs = rss_mib(pid);
        // A crash, then the restart it leads to.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        let mut again = serve(&dir, &rt, &http);
        let rss_restart = rss_mib(again.child.id());
        let head: serde_json::Value = rt.block_on(async {
            http.get(format!("{}/v1/log", again.url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        assert_eq!(
            head["tree_size"].as_u64(),
            Some(size),
            "the restart lost entries"
        );
        again.child.kill().unwrap();
        again.child.wait().unwrap();
        wait_closed(&dir);
        let row = Row {
            size,
            fill_per_sec,
            disk,
            first_start: server.start,
            rss_start,
            proofs_per_sec: report.per_second,
            rss_proofs,
            restart: again.start,
            rss_restart,
        };
        print_row(&row);
        rows.push(row);
    }
    println!();
    println!("| entries | disk (du) | bytes/entry (du / apparent) | start after fill | restart after kill -9 | VmRSS after start | after {proofs} proofs (VmRSS / VmHWM) | after restart | proofs/s over HTTP | fill/s in process |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.0} MiB | {:.0} / {:.0} | {:.0} ms | {:.0} ms | {:.0} MiB | {:.0} / {:.0} MiB | {:.0} MiB | {:.0} | {:.0} |",
            r.size,
            r.disk.0 as f64 / 1048576.0,
            r.disk.0 as f64 / r.size as f64,
            r.disk.1 as f64 / r.size as f64,
            r.first_start.as_secs_f64() * 1000.0,
            r.restart.as_secs_f64() * 1000.0,
            r.rss_start.0,
            r.rss_proofs.0,
            r.rss_proofs.1,
            r.rss_restart.0,
            r.proofs_per_sec,
            r.fill_per_sec,
        );
    }
}

fn print_row(r: &Row) {
    println!(
        "size {}: disk {} bytes ({:.0} bytes/entry, apparent {:.0}); start {:.0} ms after the fill, {:.0} ms after kill -9; \
         VmRSS/VmHWM after start {:.0}/{:.0} MiB, after proofs {:.0}/{:.0} MiB, after restart {:.0}/{:.0} MiB; {:.0} proofs/s over HTTP",
        r.size,
        r.disk.0,
        r.disk.0 as f64 / r.size as f64,
        r.disk.1 as f64 / r.size as f64,
        r.first_start.as_secs_f64() * 1000.0,
        r.restart.as_secs_f64() * 1000.0,
        r.rss_start.0,
        r.rss_start.1,
        r.rss_proofs.0,
        r.rss_proofs.1,
        r.rss_restart.0,
        r.rss_restart.1,
        r.proofs_per_sec,
    );
}
