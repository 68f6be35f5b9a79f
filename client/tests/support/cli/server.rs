//! Processes of the tests: `urne serve` ([`Server`], stopped on drop), other `urne`
//! modes ([`start_urne`]), `urne forge-append`, `urne-client` runs ([`client`]), and
//! small HTTP and file helpers.
//!
//! The server binary is `$URNE_BIN`, else `urne` next to this test's target directory
//! (`cargo build --workspace --bins` first; `scripts/test.sh` does).

use super::{Keys, ORIGIN};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A running `urne serve`; stopped (SIGTERM, then wait) on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub key: String,
}

impl Server {
    pub fn start(data: &Path, keys: &Keys) -> Server {
        Server::start_with(data, keys, &[])
    }

    /// Starts `urne serve` with more flags (e.g. `--witness`).
    pub fn start_with(data: &Path, keys: &Keys, extra: &[String]) -> Server {
        let mut child = Command::new(urne_bin())
            .args(["serve", "--data"])
            .arg(data)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--origin",
                ORIGIN,
                "--allow-board",
            ])
            .arg(keys.board.verifier().to_string())
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start urne serve");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        let (mut url, mut key) = (None, None);
        while url.is_none() {
            let line = lines.next().expect("server exited").expect("read stdout");
            if let Some(k) = line.trim().strip_prefix("verifier key:") {
                key = Some(k.trim().to_string());
            }
            if let Some(rest) = line.trim().strip_prefix("serving on:") {
                url = Some(
                    rest.split_whitespace()
                        .next()
                        .unwrap()
                        .trim_end_matches('/')
                        .to_string(),
                );
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url: url.unwrap(),
            key: key.expect("verifier key line"),
        }
    }

    pub fn stop(mut self) {
        self.stop_inner();
    }

    pub fn stop_inner(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Posts a statement; returns (status, JSON body).
    pub fn submit(&self, text: &str) -> (u16, serde_json::Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(format!("{}/v1/statements", self.url))
            .header("Content-Type", "text/plain")
            .send(text)
            .expect("post");
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_string().expect("body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn ok(&self, text: &str) -> serde_json::Value {
        let (s, v) = self.submit(text);
        assert!(s == 201 || s == 200, "submit refused: {s} {v}");
        v
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop_inner();
        }
    }
}

/// The result of one `urne-client` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn client(xdg: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(args)
        .env("XDG_STATE_HOME", xdg)
        .env_remove("URNE_LOG")
        .env_remove("URNE_LOG_KEY")
        .output()
        .expect("run urne-client");
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "$ urne-client {}\n-> {}\n{}{}",
        args.join(" "),
        r.code,
        r.stdout,
        r.stderr
    );
    r
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &p);
        } else {
            std::fs::copy(e.path(), &p).unwrap();
        }
    }
}

/// Starts another `urne` mode (witness, mirror); returns the child and the base URL
/// of its "serving on:" line.
pub fn start_urne(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(urne_bin())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start urne");
    let out = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let url = loop {
        let line = lines.next().expect("urne exited").expect("read stdout");
        if let Some(rest) = line.trim().strip_prefix("serving on:") {
            let u = rest.split_whitespace().next().unwrap();
            break u
                .trim_end_matches("/add-checkpoint")
                .trim_end_matches('/')
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// The address `urne-client monitor --gossip 127.0.0.1:0` bound, read from the line
/// it prints on its standard error (spawned with `Stdio::piped()`), which is drained
/// afterwards. A port is never picked by the test and handed over: another socket of
/// the machine could take it in between.
pub fn gossip_addr(monitor: &mut std::process::Child) -> String {
    let stderr = monitor.stderr.take().expect("monitor's stderr piped");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            other => panic!("monitor exited before serving gossip: {other:?}"),
        };
        if let Some(rest) = line.split("serving gossip on http://").nth(1) {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    addr
}

/// GET `url` as JSON, `None` if it cannot be had.
pub fn get_json(url: &str) -> Option<serde_json::Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(url).call().ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    serde_json::from_str(&r.body_mut().read_to_string().ok()?).ok()
}

/// Runs `urne forge-append` on a stopped log: `entry` is appended bypassing the rules.
pub fn forge_append(data: &Path, dir: &Path, entry: &str) {
    let f = dir.join("forged.txt");
    std::fs::write(&f, entry).unwrap();
    let out = Command::new(urne_bin())
        .args(["forge-append", "--data"])
        .arg(data)
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
