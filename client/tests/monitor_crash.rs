//! A monitor killed (SIGKILL) in the middle of a large catch-up, once while it
//! delivers the alerts of a batch and once between two batches, resumes and ends
//! with the same rule state, resume point and alert lines as a run never killed.
//!
//! The log is real (`urne serve`, RocksDB), filled over HTTP by `urne load` (three
//! elections of credentials and ballots), with two entries that break the rules
//! forged in between (`urne forge-append`, as a compromised operator would), so that
//! the audit raises alerts before and after the points where it is killed.
//!
//! Size: `URNE_CRASH_AUDIT_BALLOTS` ballots in all (default 12,000: about 24,000
//! entries, a couple of minutes on a loaded 2-core machine in a debug build); one
//! million entries is `URNE_CRASH_AUDIT_BALLOTS=500000` (with `--release`). A log
//! already filled (one too large to fill in a test run, such as the 1,000,002 entries
//! `scripts/bench-monitor.sh 500000` leaves) is checked the same way, killed twice
//! mid-way, with `URNE_CRASH_AUDIT_LOG="URL KEY"` (skipped when unset).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use urne_client::note::SignerKey;
use urne_client::statement::{Body, Statement, Time};

#[path = "support/urne.rs"]
mod urne;
use urne::urne_bin;

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `urne serve` on a data directory, allowing the demo board key (`urne load`).
struct Log {
    child: Guard,
    url: String,
    key: String,
}

fn start_log(data: &Path, board: &[String]) -> Log {
    let flags: Vec<&str> = board
        .iter()
        .flat_map(|k| ["--allow-board", k.as_str()])
        .collect();
    let (child, url, key) = urne::serve(data, &flags);
    Log {
        child: Guard(child),
        url,
        key,
    }
}

impl Log {
    /// Stops the log (SIGTERM: a clean shutdown) and waits for it.
    fn stop(mut self) {
        if !urne::terminate(&mut self.child.0, Duration::from_secs(60)) {
            panic!("urne serve did not stop");
        }
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `urne-client monitor --once` on `state`; `hook`: its `--exec`.
fn monitor(log: &Log, state: &Path, hook: &str) -> Guard {
    Guard(
        Command::new(env!("CARGO_BIN_EXE_urne-client"))
            .args(["monitor", "--log", &log.url, "--key", &log.key, "--state"])
            .arg(state)
            .args(["--once", "--quiet", "--exec", hook])
            .env("XDG_STATE_HOME", state.with_extension("xdg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start monitor"),
    )
}

/// Waits for a process to exit (generous: a loaded machine); returns its code.
fn wait(mut g: Guard) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        if let Some(s) = g.0.try_wait().expect("wait") {
            return s.code();
        }
        assert!(Instant::now() < deadline, "the monitor did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tree size of the resume point in `DIR/monitor.state` (0 if not yet written).
fn resumed_size(state: &Path) -> u64 {
    let Ok(b) = std::fs::read(state.join("monitor.state")) else {
        return 0;
    };
    let Some(n) = b
        .get(..8)
        .map(|l| u64::from_be_bytes(l.try_into().unwrap()) as usize)
    else {
        return 0;
    };
    b.get(8..8 + n)
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(h).ok())
        .and_then(|h| h["compact"]["size"].as_u64())
        .unwrap_or(0)
}

/// Everything a monitor keeps: the rule state (key → value), the resume point
/// (without `last_change`, the wall-clock time of the last catch-up) and the alert
/// lines (without `detected`, the wall-clock time each was raised).
struct Kept {
    rules: BTreeMap<Vec<u8>, Vec<u8>>,
    header: serde_json::Value,
    alerts: Vec<serde_json::Value>,
}

/// The monitor's store (`monitor.lsm/`, fjall): its rule state partition and its
/// own records, read after the monitor exited.
type Records<K> = BTreeMap<K, Vec<u8>>;

fn store(state: &Path) -> (Records<Vec<u8>>, Records<String>) {
    let ks = fjall::Config::new(state.join("monitor.lsm"))
        .open()
        .expect("open monitor.lsm");
    let all = |name: &str| -> Vec<(Vec<u8>, Vec<u8>)> {
        ks.open_partition(name, Default::default())
            .unwrap()
            .iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    };
    let rules = all("rule_state").into_iter().collect();
    let meta = all("meta")
        .into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
        .collect();
    (rules, meta)
}

fn kept(state: &Path) -> Kept {
    let (rules, meta) = store(state);
    assert!(!meta.contains_key("outbox"), "every alert delivered");
    let mut header: serde_json::Value = serde_json::from_slice(&meta["header"]).unwrap();
    header["last_change"] = serde_json::Value::Null;
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("one JSON alert a line");
            v["detected"] = serde_json::Value::Null;
            v
        })
        .collect();
    Kept {
        rules,
        header,
        alerts,
    }
}

/// A statement of an election the log never sealed (`unknown_election`).
fn forged(n: u8) -> String {
    let key = SignerKey::from_seed("board.forger", [n; 32]).unwrap();
    Statement {
        election: format!("never-sealed-{n}"),
        time: Time::now(),
        body: Body::Open,
    }
    .sign(&[&key])
    .unwrap()
}

#[test]
fn monitor_killed_during_catch_up_ends_as_if_never_killed() {
    let ballots: usize = std::env::var("URNE_CRASH_AUDIT_BALLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12_000);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // The demo's board keys, one a line.
    let board: Vec<String> = run_ok(Command::new(urne_bin()).args(["demo", "--print-board-key"]))
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    // Three elections loaded over HTTP, a forged entry after each of the first two.
    let third = ballots / 3;
    let mut log = start_log(&data, &board);
    for round in 0..3u8 {
        run_ok(
            Command::new(urne_bin())
                .args(["load", "--log", &log.url, "--ballots"])
                .arg(third.max(1).to_string())
                .args(["--concurrency", "64", "--json"]),
        );
        if round < 2 {
            log.stop();
            urne::forge_append(&data, tmp.path(), &forged(round + 1));
            log = start_log(&data, &board);
        }
    }
    let total = {
        let mut r = ureq::get(format!("{}/checkpoint", log.url)).call().unwrap();
        let cp = r.body_mut().read_to_string().unwrap();
        cp.lines().nth(1).unwrap().parse::<u64>().unwrap()
    };
    assert!(total >= 6 * third as u64, "{total} entries");

    // The reference: one run, never killed. Its hook passes at once.
    let go = tmp.path().join("go");
    let mark = tmp.path().join("mark");
    let hook = format!(
        "touch {m}; while [ ! -e {g} ]; do sleep 0.05; done",
        m = mark.display(),
        g = go.display()
    );
    std::fs::write(&go, "").unwrap();
    let reference = tmp.path().join("reference");
    assert_eq!(
        wait(monitor(&log, &reference, &hook)),
        Some(6),
        "rule violations found"
    );
    let want = kept(&reference);
    let codes: Vec<&str> = want
        .alerts
        .iter()
        .map(|a| a["evidence"]["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        ["unknown_election", "unknown_election"],
        "{:?}",
        want.alerts
    );
    assert_eq!(want.header["compact"]["size"], total);

    // Kill 1: while the first alert's hook runs (the batch is committed, its alert
    // line written, its delivery not recorded). Kill 2: between two batches, past
    // the middle of what is left. Tried again from scratch if the monitor was
    // faster than this test's polling and ended before the second kill.
    let crashed = tmp.path().join("crashed");
    let mut killed_mid_way = false;
    for _attempt in 0..3 {
        let _ = std::fs::remove_dir_all(&crashed);
        std::fs::remove_file(&go).unwrap();
        let _ = std::fs::remove_file(&mark);
        let mut m = monitor(&log, &crashed, &hook);
        let deadline = Instant::now() + Duration::from_secs(1800);
        while !mark.exists() {
            assert!(Instant::now() < deadline, "the first alert never came");
            assert!(m.0.try_wait().unwrap().is_none(), "the monitor ended early");
            std::thread::sleep(Duration::from_millis(10));
        }
        m.0.kill().unwrap();
        m.0.wait().unwrap();
        std::fs::write(&go, "").unwrap();
        let at_kill1 = resumed_size(&crashed);
        assert!(
            at_kill1 < total,
            "killed before the end ({at_kill1} of {total})"
        );
        assert_eq!(
            std::fs::read_to_string(crashed.join("alerts.jsonl"))
                .unwrap()
                .lines()
                .count(),
            1,
            "the alert line was written before the kill"
        );
        let mut m = monitor(&log, &crashed, &hook);
        let target = at_kill1 + (total - at_kill1) / 2;
        loop {
            if m.0.try_wait().unwrap().is_some() {
                break;
            }
            if resumed_size(&crashed) >= target {
                m.0.kill().unwrap();
                m.0.wait().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let at = resumed_size(&crashed);
        if at < total {
            eprintln!(
                "killed at {at_kill1} (delivering an alert), then at {at} of {total} entries"
            );
            killed_mid_way = true;
            break;
        }
        eprintln!("the monitor ended before its second kill; trying again");
    }
    assert!(killed_mid_way, "the monitor was never killed mid-way");

    // Resumed to the end: the same as the run never killed.
    let code = wait(monitor(&log, &crashed, &hook));
    assert!(
        code == Some(0) || code == Some(6),
        "exit code {code:?} (6 if a violation was after the last kill)"
    );
    let got = kept(&crashed);
    assert_eq!(got.header, want.header, "resume point and report data");
    assert_eq!(got.alerts, want.alerts, "alert lines, each once");
    assert_eq!(got.rules.len(), want.rules.len(), "rule state records");
    assert!(got.rules == want.rules, "rule state");
    log.stop();
}

/// Rewrites a state directory of format 3 as format 1 (before the store: the header
/// with `version: 1`, then every rule state record as length-prefixed pairs).
fn downgrade(state: &Path) -> Vec<u8> {
    let k = kept(state);
    let head = {
        let mut h: serde_json::Value = serde_json::from_slice(&store(state).1["header"]).unwrap();
        h["version"] = 1.into();
        serde_json::to_vec(&h).unwrap()
    };
    let mut out = (head.len() as u64).to_be_bytes().to_vec();
    out.extend_from_slice(&head);
    for (key, v) in &k.rules {
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
    std::fs::remove_dir_all(state.join("monitor.lsm")).unwrap();
    std::fs::write(state.join("monitor.state"), &out).unwrap();
    out
}

/// Runs `monitor --once` on `state` and returns (exit code, stderr).
fn monitor_once(log: &Log, state: &Path) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["monitor", "--log", &log.url, "--key", &log.key, "--state"])
        .arg(state)
        .args(["--once", "--quiet"])
        .env("XDG_STATE_HOME", state.with_extension("xdg"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_state_file_of_format_1_is_migrated_and_a_damaged_or_unknown_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let board: Vec<String> = run_ok(Command::new(urne_bin()).args(["demo", "--print-board-key"]))
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let log = start_log(&data, &board);
    run_ok(
        Command::new(urne_bin())
            .args(["load", "--log", &log.url, "--ballots", "300", "--json"])
            .args(["--concurrency", "32"]),
    );
    let state = tmp.path().join("mon");
    assert_eq!(monitor_once(&log, &state).0, Some(0));
    let want = kept(&state);
    assert!(want.rules.len() > 600, "{} records", want.rules.len());
    let v1 = downgrade(&state);

    // Damaged: the file cut in the middle of its rule state, then a header of a
    // version this client does not know. Each refused (exit 1) with a sentence,
    // nothing written beside it.
    for (bytes, says) in [
        (v1[..v1.len() - 7].to_vec(), "is damaged: truncated state"),
        (
            {
                let mut h: serde_json::Value = serde_json::from_slice(
                    &v1[8..8 + u64::from_be_bytes(v1[..8].try_into().unwrap()) as usize],
                )
                .unwrap();
                h["version"] = 99.into();
                let h = serde_json::to_vec(&h).unwrap();
                let mut b = (h.len() as u64).to_be_bytes().to_vec();
                b.extend_from_slice(&h);
                b
            },
            "is a monitor state of version 99",
        ),
        (
            b"\x00\x00\x00\x00\x00\x00\x00\x05{\"ver".to_vec(),
            "is damaged",
        ),
    ] {
        std::fs::write(state.join("monitor.state"), &bytes).unwrap();
        let (code, err) = monitor_once(&log, &state);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(says), "{says:?} in {err}");
        assert!(!state.join("monitor.lsm").exists(), "{err}");
        assert!(!state.join("monitor.lsm.tmp").exists(), "{err}");
        assert_eq!(std::fs::read(state.join("monitor.state")).unwrap(), bytes);
    }

    // Intact: migrated, and the monitor goes on from it (nothing new to audit).
    std::fs::write(state.join("monitor.state"), &v1).unwrap();
    let (code, err) = monitor_once(&log, &state);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("migrated to"), "{err}");
    let got = kept(&state);
    assert!(got.rules == want.rules, "rule state migrated");
    let mut h = got.header.clone();
    h["version"] = want.header["version"].clone();
    assert_eq!(h, want.header);
    assert_eq!(got.header["version"], 3);
    // The header copy is of format 3 now: the rule state is no longer in it.
    let copy = std::fs::read(state.join("monitor.state")).unwrap();
    assert_eq!(
        copy.len(),
        8 + u64::from_be_bytes(copy[..8].try_into().unwrap()) as usize
    );

    // A directory of format 2 (the rule state in `monitor.redb`, the B-tree store of
    // earlier releases): audited again from entry 0 into the new store, the same
    // state as before; the old file removed.
    let mut h2: serde_json::Value = serde_json::from_slice(&store(&state).1["header"]).unwrap();
    h2["version"] = 2.into();
    let h2 = serde_json::to_vec(&h2).unwrap();
    let mut v2 = (h2.len() as u64).to_be_bytes().to_vec();
    v2.extend_from_slice(&h2);
    std::fs::remove_dir_all(state.join("monitor.lsm")).unwrap();
    std::fs::write(state.join("monitor.state"), &v2).unwrap();
    std::fs::write(state.join("monitor.redb"), b"an earlier store").unwrap();
    let (code, err) = monitor_once(&log, &state);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("audited again from entry 0"), "{err}");
    assert!(!state.join("monitor.redb").exists(), "{err}");
    let again = kept(&state);
    assert!(again.rules == want.rules, "rule state rebuilt");
    assert_eq!(again.header, got.header);
    log.stop();
}

#[test]
fn a_second_monitor_on_the_same_state_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let board: Vec<String> = run_ok(Command::new(urne_bin()).args(["demo", "--print-board-key"]))
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let log = start_log(&data, &board);
    run_ok(
        Command::new(urne_bin())
            .args(["load", "--log", &log.url, "--ballots", "50", "--json"])
            .args(["--concurrency", "8"]),
    );
    let state = tmp.path().join("mon");
    // The first one follows the log (it never ends by itself).
    let mut first = Guard(
        Command::new(env!("CARGO_BIN_EXE_urne-client"))
            .args(["monitor", "--log", &log.url, "--key", &log.key, "--state"])
            .arg(&state)
            .args(["--quiet", "--interval", "1"])
            .env("XDG_STATE_HOME", state.with_extension("xdg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while resumed_size(&state) < 102 {
        assert!(
            Instant::now() < deadline,
            "the first monitor never caught up"
        );
        assert!(
            first.0.try_wait().unwrap().is_none(),
            "the first monitor ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, err) = monitor_once(&log, &state);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("is in use by another monitor (one monitor per state directory)"),
        "{err}"
    );
    // The first one goes on, untouched.
    assert!(first.0.try_wait().unwrap().is_none());
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // Once it is gone, the directory is usable again.
    let (code, err) = monitor_once(&log, &state);
    assert_eq!(code, Some(0), "{err}");
    log.stop();
}

/// Compares two monitors' stores record by record, without holding either in
/// memory (a million-entry state is millions of records); returns how many.
fn same_store(a: &Path, b: &Path) -> u64 {
    let open = |p: &Path| {
        fjall::Config::new(p.join("monitor.lsm"))
            .open()
            .expect("open monitor.lsm")
    };
    let (ka, kb) = (open(a), open(b));
    let mut n = 0;
    for name in ["rule_state", "meta"] {
        let pa = ka.open_partition(name, Default::default()).unwrap();
        let pb = kb.open_partition(name, Default::default()).unwrap();
        let (mut ia, mut ib) = (pa.iter(), pb.iter());
        loop {
            match (ia.next(), ib.next()) {
                (None, None) => break,
                (Some(x), Some(y)) => {
                    let (x, y) = (x.unwrap(), y.unwrap());
                    assert_eq!(x.0, y.0, "the same key in {name} (record {n})");
                    if &*x.0 == b"header" {
                        let mut hx: serde_json::Value = serde_json::from_slice(&x.1).unwrap();
                        let mut hy: serde_json::Value = serde_json::from_slice(&y.1).unwrap();
                        hx["last_change"] = serde_json::Value::Null;
                        hy["last_change"] = serde_json::Value::Null;
                        assert_eq!(hx, hy, "resume point and report data");
                    } else {
                        assert!(x.1 == y.1, "the same value in {name} (record {n})");
                    }
                    n += 1;
                }
                _ => panic!("one store has more records in {name} than the other ({n})"),
            }
        }
    }
    n
}

#[test]
fn monitor_killed_twice_during_the_catch_up_of_a_given_log() {
    let Ok(spec) = std::env::var("URNE_CRASH_AUDIT_LOG") else {
        eprintln!("skipped: URNE_CRASH_AUDIT_LOG=\"URL KEY\" names no log");
        return;
    };
    let (url, key) = spec
        .trim()
        .split_once(' ')
        .expect("URNE_CRASH_AUDIT_LOG=\"URL KEY\"");
    let start = |state: &Path| {
        Guard(
            Command::new(env!("CARGO_BIN_EXE_urne-client"))
                .args(["monitor", "--log", url, "--key", key.trim(), "--state"])
                .arg(state)
                .args(["--once", "--quiet"])
                .env("XDG_STATE_HOME", state.with_extension("xdg"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start monitor"),
        )
    };
    let total = {
        let mut r = ureq::get(format!("{url}/checkpoint")).call().unwrap();
        let cp = r.body_mut().read_to_string().unwrap();
        cp.lines().nth(1).unwrap().parse::<u64>().unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    // The run never killed: this one, or one made before of the same log with the
    // same build (`URNE_CRASH_AUDIT_REFERENCE=DIR`, its state directory and exit code
    // `CODE`: `DIR CODE`), to save a full catch-up.
    let (reference, want_code) = match std::env::var("URNE_CRASH_AUDIT_REFERENCE") {
        Ok(r) => {
            let (dir, code) = r.trim().rsplit_once(' ').expect("DIR CODE");
            (Path::new(dir).to_path_buf(), code.parse().ok())
        }
        Err(_) => {
            let began = Instant::now();
            let reference = tmp.path().join("reference");
            let code = wait(start(&reference));
            eprintln!(
                "reference: {total} entries audited in {:.0} s, exit {code:?}",
                began.elapsed().as_secs_f64()
            );
            (reference, code)
        }
    };
    assert_eq!(resumed_size(&reference), total);

    let began = Instant::now();
    let crashed = tmp.path().join("crashed");
    let mut at = Vec::new();
    for third in [1, 2] {
        let target = total * third / 3;
        let mut m = start(&crashed);
        let deadline = Instant::now() + Duration::from_secs(1800);
        while resumed_size(&crashed) < target {
            assert!(Instant::now() < deadline, "the monitor never got there");
            assert!(
                m.0.try_wait().unwrap().is_none(),
                "the monitor ended before its kill at {target} of {total}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        m.0.kill().unwrap();
        m.0.wait().unwrap();
        at.push(resumed_size(&crashed));
    }
    let code = wait(start(&crashed));
    eprintln!(
        "killed (SIGKILL) at {at:?} of {total} entries, resumed: {:.0} s in all, exit {code:?}",
        began.elapsed().as_secs_f64()
    );
    assert!(at.iter().all(|&a| a < total), "{at:?}");
    assert_eq!(code, want_code, "the same exit code");
    let read = |d: &Path| std::fs::read_to_string(d.join("alerts.jsonl")).unwrap_or_default();
    let alerts = |d: &Path| -> Vec<serde_json::Value> {
        read(d)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["detected"] = serde_json::Value::Null;
                v
            })
            .collect()
    };
    assert_eq!(
        alerts(&crashed),
        alerts(&reference),
        "alert lines, each once"
    );
    let n = same_store(&reference, &crashed);
    eprintln!("the same {n} records in both stores");
}
