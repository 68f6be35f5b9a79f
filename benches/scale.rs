//! Scale benchmark: fills a real log (RocksDB on disk, the sequencer, the rules, real
//! Ed25519 signatures verified the way the HTTP handlers do, in parallel) with
//! `URNE_SCALE_N` statements (default 200,000), then reports appends per second in
//! process, bytes on disk per entry, resident memory while full, restart time, and
//! inclusion proofs per second read from RocksDB at that size.
//!
//! `URNE_SCALE_N=10000000 cargo bench --bench scale` for the 10-million figure in
//! BENCHMARKS.md (about 20 minutes on 2 cores). `URNE_SCALE_DIR` keeps the data
//! directory (default: a temporary one).

use std::sync::Arc;
use std::time::Instant;
use urne::config::Config;
use urne::demo::{random_tag, DemoElection, DemoKeys};
use urne::storage::StoreHashReader;
use urne::Log;
use urne_client::rules;
use urne_client::statement::{Body, Channel, CredentialReason, SignedStatement, Time};
use urne_client::tree;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        dir_size(&e.path())
                    } else {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs us with no arguments:
    // only the real benchmark run does the work.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: u64 = std::env::var("URNE_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
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
    let log = Log::open(&cfg).unwrap();
    let seq = log.state.seq.clone();
    let now = Time::now();
    let e = DemoElection {
        id: "scale".into(),
        keys: &keys,
        scrutins: vec!["s1".into()],
        opens: Time(now.0 - 60),
        closes: Time(now.0 + 86_400),
    };
    let start_size = seq.head().size;
    if start_size == 0 {
        for text in [
            e.seal(now, "scale").unwrap(),
            e.board(now, Body::Open).unwrap(),
        ] {
            let s = SignedStatement::parse(text.as_bytes()).unwrap();
            rt.block_on(seq.submit(s, None)).unwrap();
        }
    }
    let es = log.state.election_authorities("scale").unwrap().unwrap();
    println!("filling {n} credential statements into {}", dir.display());
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
                                let v = rules::verify_signatures(&s, &es.keys, es.quorum).unwrap();
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
                                tokio::time::sleep(std::time::Duration::from_millis(5)).await
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
    }
    bar.finish();
    let fill = t0.elapsed().as_secs_f64();
    let size = seq.head().size;
    let disk = dir_size(&dir);
    println!(
        "filled: tree size {size}; {:.0} appends/s in process (sign+verify+rules+durable commit)",
        n as f64 / fill
    );
    println!(
        "disk: {} bytes = {:.0} bytes per entry",
        disk,
        disk as f64 / size as f64
    );
    println!(
        "resident memory while full: VmRSS {} MiB, VmHWM {} MiB",
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024
    );

    // Proofs from RocksDB at this size.
    let store = log.state.store.clone();
    let t = Instant::now();
    let k = 20_000u64;
    for j in 0..k {
        let i = (j * 2_654_435_761) % size;
        std::hint::black_box(tree::prove_inclusion(i, size, &StoreHashReader(&*store)).unwrap());
    }
    println!(
        "inclusion proofs from RocksDB at size {size}: {:.0}/s (one thread)",
        k as f64 / t.elapsed().as_secs_f64()
    );
    drop(store);
    drop(seq);
    drop(log);
    std::thread::sleep(std::time::Duration::from_millis(500));

    // Restart: open the same directory and serve the first checkpoint.
    let t = Instant::now();
    let log = Log::open(&cfg).unwrap();
    let head = log.state.seq.head();
    let restart = t.elapsed();
    assert_eq!(head.size, size);
    println!(
        "restart: {:.1} ms to open RocksDB and serve the checkpoint of size {}",
        restart.as_secs_f64() * 1000.0,
        head.size
    );
    let _keep: Arc<()> = Arc::new(());
}
