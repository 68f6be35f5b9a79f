//! End-to-end tests of the `urne-client` binary against the real log server.
//!
//! Owns: starting `urne serve` as a process on 127.0.0.1 with a temporary data
//! directory, building a small election with real signatures, and running every
//! `urne-client` command for every exit code; and the adversarial logs: a rollback
//! (restarted on an older copy of its data directory), a fork (two data directories
//! with the same log key and different histories) and a ballot appended while the
//! election was suspended (`urne forge-append`, a simulated compromised operator).
//!
//! The server binary is `$URNE_BIN`, else `urne` next to this test's target
//! directory (`cargo build --workspace --bins` first; `scripts/test.sh` does).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use urne_client::checkpoint::{TlogPolicy, WitnessPolicy};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
};

const ORIGIN: &str = "test.urne.example/log";
const ELECTION: &str = "cse-test";
const SCRUTIN: &str = "college-1";

fn urne_bin() -> PathBuf {
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

/// The authorities of the test election (fixed seeds).
struct Keys {
    board: SignerKey,
    registrar: SignerKey,
    platform: SignerKey,
}

impl Keys {
    fn new() -> Self {
        Keys {
            board: SignerKey::from_seed("board.test", [1; 32]).unwrap(),
            registrar: SignerKey::from_seed("registrar.test", [2; 32]).unwrap(),
            platform: SignerKey::from_seed("platform.test", [3; 32]).unwrap(),
        }
    }

    fn stmt(&self, body: Body) -> String {
        let st = Statement {
            election: ELECTION.into(),
            time: Time::now(),
            body,
        };
        let key = match st.statement_type().as_str() {
            "credential" | "revoke" => &self.registrar,
            "ballot" => &self.platform,
            _ => &self.board,
        };
        st.sign(&[key]).unwrap()
    }

    fn seal(&self, title: &str) -> String {
        let now = Time::now().0;
        self.stmt(Body::Election(ElectionBody {
            title: title.into(),
            scrutins: vec![SCRUTIN.into()],
            authorities: vec![
                (Role::Board, self.board.verifier().clone()),
                (Role::Registrar, self.registrar.verifier().clone()),
                (Role::Platform, self.platform.verifier().clone()),
            ],
            quorum: 1,
            opens: Time(now - 600),
            closes: Time(now + 86_400),
            roll: None,
        }))
    }

    fn credential(
        &self,
        voter: Tag,
        credential: Tag,
        channel: Channel,
        reason: CredentialReason,
    ) -> String {
        self.stmt(Body::Credential {
            voter,
            credential,
            channel,
            reason,
        })
    }

    fn ballot(&self, credential: Tag, receipt: Tag) -> String {
        self.stmt(Body::Ballot {
            scrutin: SCRUTIN.into(),
            credential,
            receipt,
        })
    }
}

fn tag(n: u8, kind: u8) -> Tag {
    let mut t = [n; 32];
    t[0] = kind;
    Tag(t)
}

/// A running `urne serve`; stopped (SIGTERM, then wait) on drop.
struct Server {
    child: Child,
    url: String,
    key: String,
}

impl Server {
    fn start(data: &Path, keys: &Keys) -> Server {
        Server::start_with(data, keys, &[])
    }

    /// Starts `urne serve` with more flags (e.g. `--witness`).
    fn start_with(data: &Path, keys: &Keys, extra: &[String]) -> Server {
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

    fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
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
    fn submit(&self, text: &str) -> (u16, serde_json::Value) {
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

    fn ok(&self, text: &str) -> serde_json::Value {
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
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn client(xdg: &Path, args: &[&str]) -> Run {
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

/// Seals and opens the election, issues credentials to voters 1..=n and casts the
/// ballots of voters 1..=ballots; returns the submit answers of the ballots.
fn fill(s: &Server, k: &Keys, title: &str, n: u8, ballots: u8) -> Vec<serde_json::Value> {
    s.ok(&k.seal(title));
    s.ok(&k.stmt(Body::Open));
    for v in 1..=n {
        s.ok(&k.credential(
            tag(v, 0xa0),
            tag(v, 0xc0),
            Channel::Mail,
            CredentialReason::Initial,
        ));
    }
    (1..=ballots)
        .map(|v| s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0))))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn verify_every_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    let answers = fill(&s, &k, "Test election", 3, 2);
    let code = tag(1, 0xe0).to_string();
    let (url, key) = (s.url.as_str(), s.key.as_str());

    // 0: receipt code, sentence and JSON.
    let r = client(&xdg, &["verify", "--log", url, "--key", key, &code]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("OK: your ballot with receipt"),
        "{}",
        r.stdout
    );
    let r = client(
        &xdg,
        &["verify", "--log", url, "--key", key, "--json", &code],
    );
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["index"], answers[0]["index"]);
    assert_eq!(v["previous_tree_size"], v["current_tree_size"]);

    // 0: the receipt file POST returned, and its C2SP tlog-proof.
    let file = tmp.path().join("receipt.json");
    std::fs::write(&file, answers[1].to_string()).unwrap();
    let r = client(
        &xdg,
        &["verify", "--log", url, "--key", key, file.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&tag(2, 0xe0).to_string()));
    let proof = tmp.path().join("receipt.proof");
    std::fs::write(&proof, answers[1]["tlog_proof"].as_str().unwrap()).unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--key",
            key,
            proof.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 0: with a C2SP tlog-policy file instead of --key.
    let pol = tmp.path().join("policy.txt");
    let vk = VerifierKey::parse(key).unwrap();
    std::fs::write(
        &pol,
        TlogPolicy::from_simple(&vk, &WitnessPolicy::none()).to_text(),
    )
    .unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--policy",
            pol.to_str().unwrap(),
            &code,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 2: unknown receipt.
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--key",
            key,
            &tag(9, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("NOT FOUND"));
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--key",
            key,
            "--json",
            &tag(9, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("\"error\":\"not_found\""));

    // 3: another log key, a witness quorum not met, a tampered receipt file.
    let other = SignerKey::from_seed(ORIGIN, [7; 32]).unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--key",
            &other.verifier().to_string(),
            &code,
        ],
    );
    assert_eq!(r.code, 3);
    let w = urne_client::checkpoint::CosignerKey::from_seed("witness.test", [8; 32]).unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            url,
            "--key",
            key,
            "--witness",
            &w.verifier().to_string(),
            "--quorum",
            "1",
            &code,
        ],
    );
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("quorum"), "{}", r.stderr);
    let mut bad = answers[1].clone();
    bad["leaf_hash"] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&file, bad.to_string()).unwrap();
    let r = client(
        &xdg,
        &["verify", "--log", url, "--key", key, file.to_str().unwrap()],
    );
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("PROOF FAILED"));

    // 5: nobody listens; 64: usage; 1: a file that is neither.
    let r = client(
        &xdg,
        &["verify", "--log", "http://127.0.0.1:9", "--key", key, &code],
    );
    assert_eq!(r.code, 5);
    let r = client(&xdg, &["verify", "--log", url]);
    assert_eq!(r.code, 64);
    let r = client(
        &xdg,
        &["verify", "--log", url, "--key", key, "/nonexistent/receipt"],
    );
    assert_eq!(r.code, 1);
    let r = client(&xdg, &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes"));
}

#[test]
fn alerts_lists_and_follows_a_voter() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    fill(&s, &k, "Test election", 2, 1);
    let voter = tag(1, 0xa0).to_string();
    let (url, key) = (s.url.as_str(), s.key.as_str());
    let r = client(
        &xdg,
        &["alerts", "--log", url, "--key", key, "--voter", &voter],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("issued via mail (initial)"));
    assert!(r.stdout.contains("ballot cast"));
    assert!(r.stdout.contains("2 entries about voter"));
    let r = client(
        &xdg,
        &[
            "alerts", "--log", url, "--key", key, "--json", "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), 2);
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            url,
            "--key",
            key,
            "--voter",
            &tag(9, 0xa0).to_string(),
        ],
    );
    assert_eq!(r.code, 2);

    // --follow: a helpdesk reissue appears, the command is run with it.
    let hits = tmp.path().join("hits");
    let mut follow = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args([
            "alerts",
            "--log",
            url,
            "--key",
            key,
            "--follow",
            "--interval",
            "1",
            "--voter",
            &voter,
            "--exec",
        ])
        .arg(format!("echo \"$URNE_ALERT\" >> {}", hits.display()))
        .env("XDG_STATE_HOME", &xdg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    s.ok(&k.credential(
        tag(1, 0xa0),
        tag(11, 0xc0),
        Channel::Helpdesk,
        CredentialReason::ReissueHelpdesk,
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&hits).unwrap_or_default();
        if !text.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(text.contains("\"channel\":\"helpdesk\""), "{text}");
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn monitor_catches_up_resumes_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    fill(&s, &k, "Test election", 5, 3);
    // A helpdesk reissue followed at once by a ballot, and a suspension.
    s.ok(&k.credential(
        tag(4, 0xa0),
        tag(14, 0xc0),
        Channel::Helpdesk,
        CredentialReason::ReissueHelpdesk,
    ));
    s.ok(&k.ballot(tag(14, 0xc0), tag(14, 0xe0)));
    s.ok(&k.stmt(Body::Suspend {
        reason: "platform down".into(),
    }));
    s.ok(&k.stmt(Body::Resume {
        reason: "platform back".into(),
    }));
    let (url, key) = (s.url.clone(), s.key.clone());
    let (url, key) = (url.as_str(), key.as_str());
    let st = state.to_str().unwrap();
    let r = client(
        &xdg,
        &[
            "monitor", "--log", url, "--key", key, "--state", st, "--once",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("verified entries 0..14"), "{}", r.stderr);
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    for kind in ["reissue_then_vote", "suspension", "resumption"] {
        assert!(
            alerts.contains(&format!("\"kind\":\"{kind}\"")),
            "{kind}: {alerts}"
        );
    }
    assert!(!alerts.contains("rule_violation"));

    // Resume: nothing downloaded again; then only the new entries.
    let r = client(
        &xdg,
        &[
            "monitor", "--log", url, "--key", key, "--state", st, "--once",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(!r.stderr.contains("verified entries"), "{}", r.stderr);
    s.ok(&k.ballot(tag(5, 0xc0), tag(5, 0xe0)));
    let r = client(
        &xdg,
        &[
            "monitor", "--log", url, "--key", key, "--state", st, "--once",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("verified entries 14..15"), "{}", r.stderr);

    // A burst threshold of 0 reissues per hour: the reissue is a burst.
    let st2 = tmp.path().join("mon2");
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            url,
            "--key",
            key,
            "--state",
            st2.to_str().unwrap(),
            "--once",
            "--burst-per-hour",
            "0",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("reissue_burst"));

    let html = tmp.path().join("report.html");
    let r = client(
        &xdg,
        &[
            "monitor",
            "report",
            "--state",
            st,
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "Ballots per hour",
        "reissues per hour",
        "<svg",
        "platform down",
        "reissue_then_vote",
        "ballot",
    ] {
        assert!(page.contains(needle), "report lacks {needle}");
    }
    assert!(
        !page.contains("<script src"),
        "the report must be self-contained"
    );
    let r = client(
        &xdg,
        &[
            "monitor",
            "report",
            "--state",
            tmp.path().join("none").to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    // 5: the log is gone.
    s.stop();
    let r = client(
        &xdg,
        &[
            "monitor", "--log", url, "--key", key, "--state", st, "--once",
        ],
    );
    assert_eq!(r.code, 5);
}

#[test]
fn rollback_is_caught_by_verify_and_monitor() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let (data, old) = (tmp.path().join("data"), tmp.path().join("data-old"));
    let k = Keys::new();
    let s = Server::start(&data, &k);
    fill(&s, &k, "Test election", 4, 1);
    s.stop();
    copy_dir(&data, &old);
    let s = Server::start(&data, &k);
    for v in 2..=4 {
        s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0)));
    }
    let code = tag(1, 0xe0).to_string();
    let r = client(&xdg, &["verify", "--log", &s.url, "--key", &s.key, &code]);
    assert_eq!(r.code, 0);
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 0);
    let key = s.key.clone();
    s.stop();

    // The operator restores an old backup: three ballots vanish.
    let s = Server::start(&old, &k);
    assert_eq!(s.key, key);
    let r = client(&xdg, &["verify", "--log", &s.url, "--key", &key, &code]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("ROLLBACK"));
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s.url,
            "--key",
            &key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 4);
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    assert!(alerts.contains("\"kind\":\"rollback\""), "{alerts}");
    assert!(
        alerts.contains("old_checkpoint"),
        "evidence: both checkpoints"
    );
}

#[test]
fn fork_is_caught_by_verify_and_monitor() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    let k = Keys::new();
    // Two data directories with the same log key and different histories.
    let s = Server::start(&d1, &k);
    s.stop();
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(d1.join("log.key"), d2.join("log.key")).unwrap();

    let s = Server::start(&d1, &k);
    fill(&s, &k, "Election as shown to the voters", 3, 2);
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &s.key,
            &tag(1, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 0);
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 0);
    let key = s.key.clone();
    s.stop();

    let s = Server::start(&d2, &k);
    assert_eq!(s.key, key);
    fill(&s, &k, "Election as shown to the judge", 3, 3);
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &key,
            &tag(1, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("FORK"));
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s.url,
            "--key",
            &key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 4);
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    assert!(alerts.contains("\"kind\":\"fork\""), "{alerts}");
}

#[test]
fn forged_ballot_while_suspended_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let data = tmp.path().join("data");
    let k = Keys::new();
    let s = Server::start(&data, &k);
    fill(&s, &k, "Test election", 3, 1);
    s.ok(&k.stmt(Body::Suspend {
        reason: "incident".into(),
    }));
    // The log itself refuses the ballot while suspended…
    let ballot = k.ballot(tag(2, 0xc0), tag(2, 0xe0));
    let (status, v) = s.submit(&ballot);
    assert_eq!(status / 100, 4);
    assert_eq!(v["error"], "ballot_while_suspended");
    s.stop();
    // …so a compromised operator writes it into storage directly.
    let f = tmp.path().join("ballot.txt");
    std::fs::write(&f, &ballot).unwrap();
    let out = Command::new(urne_bin())
        .args(["forge-append", "--data"])
        .arg(&data)
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = Server::start(&data, &k);
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &s.key,
            &tag(2, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("ballot_while_suspended"));
    // The proofs alone are fine: with --no-audit the ballot verifies.
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--no-audit",
            &tag(2, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 0);
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 6);
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    assert!(alerts.contains("\"kind\":\"rule_violation\""));
    assert!(alerts.contains("ballot_while_suspended"), "{alerts}");
}

/// Accepts HTTP POSTs on 127.0.0.1 and collects their bodies (a webhook receiver).
fn webhook_sink() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes of body.
            loop {
                let n = c.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let l = l.to_ascii_lowercase();
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let body =
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                        let _ = c.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                        let _ = tx.send(body);
                        break;
                    }
                }
            }
        }
    });
    (url, rx)
}

#[test]
fn monitor_follows_raises_stale_and_posts_webhooks() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("mon");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    fill(&s, &k, "Test election", 3, 1);
    let (hook, bodies) = webhook_sink();
    let mut mon = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["monitor", "--log", &s.url, "--key", &s.key, "--state"])
        .arg(&state)
        .args([
            "--interval",
            "1",
            "--stale-after",
            "2",
            "--webhook",
            &hook,
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |kind: &str| -> Option<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(b) = bodies.recv_timeout(Duration::from_millis(200)) {
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                if v["kind"] == kind {
                    return Some(v);
                }
            }
        }
        None
    };
    // The election is open and nothing new is signed: stale.
    let stale = wait_for("stale_log");
    // New entries while following: verified, and a suspension is reported.
    s.ok(&k.stmt(Body::Suspend {
        reason: "maintenance".into(),
    }));
    let susp = wait_for("suspension");
    let _ = mon.kill();
    let _ = mon.wait();
    assert!(stale.is_some(), "no stale_log alert");
    assert!(susp.is_some(), "no suspension alert");
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    assert!(alerts.contains("stale_log") && alerts.contains("suspension"));
}

#[test]
fn split_view_is_caught_through_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    let k = Keys::new();
    let s = Server::start(&d1, &k);
    s.stop();
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(d1.join("log.key"), d2.join("log.key")).unwrap();
    // One key, two histories, served at the same time: each party sees one of them.
    let s1 = Server::start(&d1, &k);
    let s2 = Server::start(&d2, &k);
    assert_eq!(s1.key, s2.key);
    fill(&s1, &k, "Election as shown to the voters", 3, 2);
    fill(&s2, &k, "Election as shown to the judge", 3, 3);
    let receipt = tag(1, 0xe0).to_string();
    let base = ["verify", "--log", &s1.url, "--key", &s1.key];

    // A peer that saw the same history (here the log itself) agrees.
    let mut args = base.to_vec();
    args.extend(["--peer", &s1.url, "--json", &receipt]);
    let r = client(&xdg, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["peers"][0]["sizes"][0], 7, "{v}");

    // A peer that cannot be reached proves nothing and is said so, not fatal.
    let mut args = base.to_vec();
    args.extend(["--peer", "http://127.0.0.1:9", &receipt]);
    let r = client(&xdg, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("0 of 1 peer(s)"), "{}", r.stdout);
    assert!(r.stdout.contains("could not be checked"), "{}", r.stdout);

    // A peer shown the other history: the split view is caught.
    let mut args = base.to_vec();
    args.extend(["--peer", &s2.url, &receipt]);
    let r = client(&xdg, &args);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("EQUIVOCATION"), "{}", r.stderr);
    assert!(r.stderr.contains(&s2.url), "{}", r.stderr);

    // And by the monitor, as a critical alert with both checkpoints.
    let r = client(
        &xdg,
        &[
            "monitor",
            "--log",
            &s1.url,
            "--key",
            &s1.key,
            "--peer",
            &s2.url,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let alerts = std::fs::read_to_string(state.join("alerts.jsonl")).unwrap();
    let a: serde_json::Value = serde_json::from_str(
        alerts
            .lines()
            .find(|l| l.contains("\"equivocation\""))
            .expect("equivocation alert"),
    )
    .unwrap();
    assert_eq!(a["severity"], "critical");
    assert!(a["evidence"]["peer_checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n8\n"));
    assert!(a["evidence"]["log_checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n7\n"));

    // A union's monitor following the second history serves what it verified at
    // /v1/gossip; a voter shown the first history and pulling the monitor as a peer
    // catches the split view too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gossip = format!("127.0.0.1:{port}");
    let mut mon = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["monitor", "--log", &s2.url, "--key", &s2.key, "--state"])
        .arg(tmp.path().join("mon2"))
        .args(["--interval", "1", "--quiet", "--gossip", &gossip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{gossip}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let g = agent
            .get(format!("{url}/v1/gossip"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok());
        if let Some(g) = g.filter(|g| g["checkpoints"][0]["size"] == 8) {
            break g;
        }
        assert!(Instant::now() < deadline, "the monitor never served gossip");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(held["checkpoints"][0]["origin"], ORIGIN);
    let mut args = base.to_vec();
    args.extend(["--peer", &url, &receipt]);
    let r = client(&xdg, &args);
    let _ = mon.kill();
    let _ = mon.wait();
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("EQUIVOCATION"), "{}", r.stderr);
}

/// Starts another `urne` mode (witness, mirror); returns the child and the base URL
/// of its "serving on:" line.
fn start_urne(args: &[&str]) -> (Child, String) {
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

#[test]
fn verify_with_witness_quorum_against_log_and_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let data = tmp.path().join("log");
    let k = Keys::new();
    // The log key first: the witnesses must know it.
    let s = Server::start(&data, &k);
    let log_key = s.key.clone();
    s.stop();
    let mut children = Vec::new();
    let mut witness_flags = Vec::new();
    let mut witness_keys = Vec::new();
    for i in 0..3 {
        let keyfile = tmp.path().join(format!("w{i}.key"));
        let out = Command::new(urne_bin())
            .args([
                "keygen",
                "--witness",
                "--name",
                &format!("witness-{i}.test"),
            ])
            .arg("--out")
            .arg(&keyfile)
            .output()
            .unwrap();
        assert!(out.status.success());
        let wkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let wdata = tmp.path().join(format!("w{i}"));
        let (c, url) = start_urne(&[
            "witness",
            "--data",
            wdata.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--key",
            keyfile.to_str().unwrap(),
            "--log",
            &log_key,
        ]);
        children.push(c);
        witness_flags.extend(["--witness".to_string(), format!("{url}={wkey}")]);
        witness_keys.push(wkey);
    }
    witness_flags.extend(["--witness-quorum".to_string(), "2".to_string()]);
    let s = Server::start_with(&data, &k, &witness_flags);
    assert_eq!(s.key, log_key);
    let answers = fill(&s, &k, "Witnessed election", 3, 2);
    let receipt = tag(2, 0xe0).to_string();
    let mdata = tmp.path().join("mirror");
    let (c, mirror) = start_urne(&[
        "mirror",
        "--of",
        &s.url,
        "--key",
        &log_key,
        "--data",
        mdata.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    children.push(c);
    let verify = |base: &str| {
        let mut args = vec!["verify", "--log", base, "--key", &log_key];
        for w in &witness_keys {
            args.extend(["--witness", w.as_str()]);
        }
        args.extend(["--quorum", "2", "--json", &receipt]);
        client(&xdg, &args)
    };
    // Cosignatures arrive shortly after the append; the mirror copies shortly after.
    let deadline = Instant::now() + Duration::from_secs(20);
    for base in [&s.url, &mirror] {
        let r = loop {
            let r = verify(base);
            if r.code == 0 || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(r.code, 0, "{base}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert!(v["cosignatures"].as_u64().unwrap() >= 2, "{v}");
        assert_eq!(v["index"], answers[1]["index"]);
    }
    // The receipt file handed out at submission carries a checkpoint signed before
    // the witnesses cosigned: the ballot is then proved in the witnessed checkpoint.
    let file = tmp.path().join("receipt.json");
    std::fs::write(&file, answers[1].to_string()).unwrap();
    let mut args = vec!["verify", "--log", &s.url, "--key", &log_key];
    for w in &witness_keys {
        args.extend(["--witness", w.as_str()]);
    }
    args.extend(["--quorum", "2", "--json", file.to_str().unwrap()]);
    let r = client(&xdg, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["cosignatures"].as_u64().unwrap() >= 2, "{v}");
    assert!(!answers[1]["checkpoint"]
        .as_str()
        .unwrap()
        .contains("witness-"));

    // A policy the log cannot meet (3 of 3 with one witness unknown to it) fails as
    // a proof failure, not a success.
    let stranger = Command::new(urne_bin())
        .args(["keygen", "--witness", "--name", "stranger.test", "--out"])
        .arg(tmp.path().join("stranger.key"))
        .output()
        .unwrap();
    let stranger = String::from_utf8(stranger.stdout)
        .unwrap()
        .trim()
        .to_string();
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &log_key,
            "--witness",
            &stranger,
            "--quorum",
            "1",
            &receipt,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}
