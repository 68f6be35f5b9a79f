//! The `urne` server binary as every client test runs it, written once: where it is
//! ([`urne_bin`]), a mode started on 127.0.0.1 and read until it says where it serves
//! ([`start`]), stopped with SIGTERM ([`terminate`]), and `urne forge-append`
//! ([`forge_append`]).
//!
//! Included by the authorities' harness (`support/mod.rs`), the harness of `cli.rs`
//! (`support/cli/mod.rs`) and `monitor_crash.rs`.
//!
//! The server binary is `$URNE_BIN`, else `urne` next to this test's target directory
//! (`cargo build --workspace --bins` first; `scripts/test.sh` does).

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Returns the `urne` server binary.
pub fn urne_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("URNE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    for dir in exe.ancestors() {
        let cand = dir.join(if cfg!(windows) { "urne.exe" } else { "urne" });
        if cand.is_file() {
            return cand;
        }
    }
    panic!("the server binary `urne` was not found: run `cargo build --workspace --bins` or set URNE_BIN");
}

/// A started `urne` mode: the process, the base URL of its "serving on:" line and,
/// for a log, the verifier key of its "verifier key:" line.
pub struct Started {
    /// The process (the caller stops it).
    pub child: Child,
    /// Base URL, without a trailing `/` (nor a witness's `/add-checkpoint`).
    pub url: String,
    /// The log's verifier key, if the mode printed one before its address.
    pub key: Option<String>,
}

/// Starts `urne args…` (`RUST_LOG=warn`, standard error discarded) and reads its
/// standard output until the "serving on:" line; then keeps draining it in a thread
/// so that the process never blocks on a full pipe.
///
/// # Panics
/// If the process cannot start or exits before it serves.
pub fn start<I, S>(args: I) -> Started
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(urne_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start urne");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let mut key = None;
    let url = loop {
        let line = lines.next().expect("urne exited").expect("read stdout");
        if let Some(k) = line.trim().strip_prefix("verifier key:") {
            key = Some(k.trim().to_string());
        }
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            let u = rest.split_whitespace().next().expect("url");
            break u
                .trim_end_matches("/add-checkpoint")
                .trim_end_matches('/')
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Started { child, url, key }
}

/// Starts `urne serve --data <data> --listen 127.0.0.1:0` with `flags`; returns the
/// process, its base URL and the log's verifier key.
///
/// # Panics
/// If the log cannot start or does not print its verifier key.
pub fn serve<S: AsRef<OsStr>>(data: &Path, flags: &[S]) -> (Child, String, String) {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("serve"),
        OsStr::new("--data"),
        data.as_os_str(),
        OsStr::new("--listen"),
        OsStr::new("127.0.0.1:0"),
    ];
    args.extend(flags.iter().map(AsRef::as_ref));
    let s = start(args);
    (s.child, s.url, s.key.expect("verifier key line"))
}

/// Sends SIGTERM (a clean shutdown) and waits up to `within` for the process to
/// exit; returns whether it did.
pub fn terminate(child: &mut Child, within: Duration) -> bool {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs `urne forge-append` on a stopped log: `entry` (written to `dir/forged.txt`)
/// is appended bypassing the rules, as a compromised operator would.
///
/// # Panics
/// If `urne forge-append` fails.
pub fn forge_append(data: &Path, dir: &Path, entry: &str) {
    let f = dir.join("forged.txt");
    std::fs::write(&f, entry).expect("write the forged entry");
    let out = Command::new(urne_bin())
        .args(["forge-append", "--data"])
        .arg(data)
        .arg(&f)
        .output()
        .expect("run urne forge-append");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
