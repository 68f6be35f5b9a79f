//! Shared by the authorities' tests (`authorities.rs`, `docs.rs`): a real `urne serve`
//! on 127.0.0.1 with a temporary RocksDB directory, and `urne-client` runs in a
//! working directory, as an authority would type them.
//!
//! How `urne` is found, started and stopped: `support/urne.rs`, shared with the
//! harness of `cli.rs` and `monitor_crash.rs`.

#![allow(dead_code)]

mod urne;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// The log's origin in every test.
pub const ORIGIN: &str = "authorities.test/log";

/// Returns the `urne-client` binary under test.
pub fn client_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_urne-client"))
}

/// A running `urne serve`; stopped (SIGTERM, then wait) on drop.
pub struct Server {
    child: Child,
    /// Base URL.
    pub url: String,
    /// The log's verifier key.
    pub key: String,
}

impl Server {
    /// Starts `urne serve` on `data`, allowing `allow_board` to seal elections.
    pub fn start(data: &Path, allow_board: &[String]) -> Server {
        let mut flags = vec!["--origin", ORIGIN];
        for k in allow_board {
            flags.extend(["--allow-board", k.as_str()]);
        }
        let (child, url, key) = urne::serve(data, &flags);
        Server { child, url, key }
    }

    /// Returns `/v1/stats` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let mut r = ureq::get(format!("{}/v1/stats", self.url))
            .call()
            .expect("stats");
        serde_json::from_str(&r.body_mut().read_to_string().expect("body")).expect("json")
    }

    /// Returns the log's tree size.
    pub fn size(&self) -> u64 {
        self.stats()["tree_size"].as_u64().expect("tree_size")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !urne::terminate(&mut self.child, Duration::from_secs(20)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The result of one `urne-client` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `urne-client args…` in `dir`.
pub fn client(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(client_bin())
        .args(args)
        .current_dir(dir)
        .env("XDG_STATE_HOME", dir.join(".xdg"))
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

/// Makes a key with `urne-client keygen` in `dir` (`NAME.key`, `NAME.key.pub`);
/// returns the verifier key.
pub fn keygen(dir: &Path, name: &str) -> String {
    std::fs::create_dir_all(dir).expect("key dir");
    let file = format!("{name}.key");
    let r = client(dir, &["keygen", "--name", name, "--out", &file]);
    assert_eq!(r.code, 0, "{r:?}");
    // The secret is readable by its owner only; the verifier key is the one printed.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(&file))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let public = std::fs::read_to_string(dir.join(format!("{file}.pub"))).expect("pub file");
    assert_eq!(public.trim(), r.stdout.trim());
    // Never overwritten.
    assert_eq!(
        client(dir, &["keygen", "--name", name, "--out", &file]).code,
        1
    );
    r.stdout.trim().to_string()
}

/// Formats a time `secs` from now as statement time.
pub fn time_in(secs: i64) -> String {
    urne_client::statement::Time(urne_client::statement::Time::now().0 + secs).to_string()
}
