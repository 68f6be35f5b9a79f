//! Processes of the tests: `urne serve` ([`Server`], stopped on drop), other `urne`
//! modes ([`start_urne`]), `urne-client` runs ([`client`]), and
//! small HTTP and file helpers.
//!
//! How `urne` is found, started and stopped: `support/urne.rs`.

use super::urne::{serve, start, terminate};
use super::{Keys, ORIGIN};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

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
        let mut flags = vec![
            "--origin".to_string(),
            ORIGIN.to_string(),
            "--allow-board".to_string(),
            keys.board.verifier().to_string(),
        ];
        flags.extend_from_slice(extra);
        let (child, url, key) = serve(data, &flags);
        Server { child, url, key }
    }

    pub fn stop(mut self) {
        self.stop_inner();
    }

    pub fn stop_inner(&mut self) {
        if !terminate(&mut self.child, Duration::from_secs(20)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
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
    let s = start(args);
    (s.child, s.url)
}

/// The address `urne-client monitor --gossip 127.0.0.1:0` bound, read from the line
/// it prints on its standard error (spawned with `Stdio::piped()`), which is drained
/// afterwards. A port is never picked by the test and handed over: another socket of
/// the machine could take it in between.
pub fn gossip_addr(monitor: &mut Child) -> String {
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
