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
//! directory (`cargo build --workspace --bins` first; `scripts/test.sh` does). Where
//! the log must lie in transit (tampered proofs and tiles) or change under a follower
//! (a rollback, then a fork, behind one URL), the test puts a [`Proxy`] between them.
//! Also: a forged seal that must not lend its keys to the real election, reissue
//! bursts over a sliding hour, and witnesses with two mirrors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use urne_client::checkpoint::{TlogProof, WitnessPolicy};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
};

#[path = "support/cli/mod.rs"]
mod harness;
use harness::*;

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
    std::fs::write(&pol, WitnessPolicy::none().with_log(&vk).to_text()).unwrap();
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

/// Rewrites a receipt through the library (the attacker's tool is as good as ours).
fn rewrite(text: &str, f: impl FnOnce(&mut TlogProof)) -> String {
    let mut p = TlogProof::parse(text.as_bytes()).unwrap();
    f(&mut p);
    p.to_text()
}

#[test]
fn verify_offline_checks_a_receipt_file_without_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    let ballots = fill(&s, &k, "Test election", 2, 2);
    let key = s.key.clone();
    // The receipt of POST /v1/statements, and the one of GET /v1/receipts/<code> (what
    // the page offers to download); the online verify remembers the log's checkpoint.
    let submitted = ballots[1]["tlog_proof"].as_str().unwrap().to_string();
    let code = tag(2, 0xe0).to_string();
    let fetched = get_json(&format!("{}/v1/receipts/{code}", s.url)).unwrap();
    let fetched = fetched["tlog_proof"].as_str().unwrap().to_string();
    let r = client(&xdg, &["verify", "--log", &s.url, "--key", &key, &code]);
    assert_eq!(r.code, 0);
    let remembered = ballots[1]["tree_size"].as_u64().unwrap();
    let cred = s.ok(&k.credential(
        tag(7, 0xa0),
        tag(7, 0xc0),
        Channel::Mail,
        CredentialReason::Initial,
    ));
    // No log from here on: every check below asks no one.
    let url = s.url.clone();
    s.stop();
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let good = file("good.tlog-proof", &submitted);
    let r = client(&xdg, &["verify", "--offline", "--key", &key, &good]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("OK (offline"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("receipt {}", tag(2, 0xe0))));
    assert!(r.stdout.contains(
        "Not checked without the log: that the log still shows a tree extending this one"
    ));
    // The receipt's tree is the one remembered: compared with it, no proof needed.
    assert!(
        r.stdout.contains(&format!(
            "agrees with the checkpoint of {remembered} entries remembered"
        )),
        "{}",
        r.stdout
    );
    let r = client(
        &xdg,
        &[
            "verify",
            "--offline",
            "--key",
            &key,
            "--json",
            &file("fetched.tlog-proof", &fetched),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["offline"], true);
    assert_eq!(v["receipt"], code);
    assert_eq!(v["remembered_tree_size"], remembered);
    assert_eq!(
        v["not_checked"],
        serde_json::json!([
            "consistency_with_later_checkpoints",
            "authority_signature",
            "election_rules"
        ])
    );
    // A receipt of the remembered size is compared with it, with no proof needed.
    assert_eq!(
        v["consistent_with_remembered"],
        v["tree_size"] == remembered,
        "{v}"
    );
    // Offline means offline: the log is down, yet the check needs no --log.
    assert!(get_json(&format!("{url}/checkpoint")).is_none());

    // The attacker's receipts: each fails with exit 3 and says why.
    let entry_of = |t: &str| TlogProof::parse(t.as_bytes()).unwrap().extra.unwrap();
    assert!(!TlogProof::parse(submitted.as_bytes())
        .unwrap()
        .proof
        .is_empty());
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "flipped proof byte",
            rewrite(&submitted, |p| {
                let mut h = p.proof[0].0;
                h[7] ^= 1;
                p.proof[0] = urne_client::tree::Hash(h);
            }),
            "the receipt was altered",
        ),
        (
            "other receipt code in the entry",
            rewrite(&submitted, |p| {
                let e = String::from_utf8(entry_of(&submitted)).unwrap();
                let e = e.replace(&code, &tag(9, 0xe0).to_string());
                p.extra = Some(e.into_bytes());
            }),
            "the receipt was altered",
        ),
        (
            "truncated proof",
            rewrite(&submitted, |p| {
                p.proof.pop();
            }),
            "the receipt was altered",
        ),
        (
            "another index",
            rewrite(&submitted, |p| p.index -= 1),
            "the receipt was altered",
        ),
        (
            "no entry",
            rewrite(&submitted, |p| p.extra = None),
            "carries no entry",
        ),
        (
            "truncated file",
            submitted[..submitted.len() - 40].to_string(),
            "PROOF FAILED",
        ),
        (
            "not a ballot",
            cred["tlog_proof"].as_str().unwrap().to_string(),
            "not a ballot",
        ),
    ];
    for (what, text, says) in &cases {
        let f = file("bad.tlog-proof", text);
        let r = client(&xdg, &["verify", "--offline", "--key", &key, &f]);
        assert_eq!(r.code, 3, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{what}: {}", r.stderr);
    }
    // A receipt signed by another key than the one given.
    let other = SignerKey::from_seed(ORIGIN, [42; 32]).unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--offline",
            "--key",
            &other.verifier().to_string(),
            &good,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    // A witness policy the receipt's checkpoint does not meet.
    let w = urne_client::checkpoint::CosignerKey::from_seed("witness.test", [8; 32]).unwrap();
    let r = client(
        &xdg,
        &[
            "verify",
            "--offline",
            "--key",
            &key,
            "--witness",
            &w.verifier().to_string(),
            &good,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("NOT WITNESSED"), "{}", r.stderr);
    // Not a tlog-proof, a --peer (which needs the network), no --log without --offline.
    let json = file("receipt.json", "{}");
    let r = client(&xdg, &["verify", "--offline", "--key", &key, &json]);
    assert_eq!(r.code, 1);
    let r = client(
        &xdg,
        &["verify", "--offline", "--key", &key, "--peer", &url, &good],
    );
    assert_eq!(r.code, 1);
    let r = client(&xdg, &["verify", "--key", &key, &good]);
    assert_eq!(r.code, 64);
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
fn alerts_marks_reissues_revocations_and_quick_votes_as_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    fill(&s, &k, "Test election", 2, 0);
    let voter = tag(1, 0xa0);
    let revoke = s.ok(&k.stmt(Body::Revoke {
        credential: tag(1, 0xc0),
        reason: "perdu".into(),
    }));
    let helpdesk = s.ok(&k.credential(
        voter,
        tag(21, 0xc0),
        Channel::Helpdesk,
        CredentialReason::ReissueHelpdesk,
    ));
    let ballot = s.ok(&k.ballot(tag(21, 0xc0), tag(21, 0xe0)));
    s.ok(&k.stmt(Body::Intervention {
        actor: "bureau".into(),
        action: "réémission groupée".into(),
        reason: "fuite".into(),
        reissues: Some(1),
    }));
    let batch = s.ok(&k.credential(
        voter,
        tag(31, 0xc0),
        Channel::Batch,
        CredentialReason::ReissueLeak,
    ));
    // Another voter's plain history: no warning.
    s.ok(&k.ballot(tag(2, 0xc0), tag(2, 0xe0)));
    let (url, key) = (s.url.as_str(), s.key.as_str());
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            url,
            "--key",
            key,
            "--json",
            "--voter",
            &voter.to_string(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "credential_issued",
            "revocation",
            "helpdesk_reissue",
            "reissue_then_vote",
            "batch_reissue"
        ]
    );
    let severities: Vec<&str> = lines
        .iter()
        .map(|l| l["severity"].as_str().unwrap())
        .collect();
    assert_eq!(
        severities,
        ["info", "warning", "warning", "warning", "warning"]
    );
    assert!(lines[0].get("warning").is_none());
    assert_eq!(lines[1]["index"], revoke["index"]);
    assert!(lines[1]["warning"]
        .as_str()
        .unwrap()
        .contains("un identifiant émis à votre nom a été révoqué (motif : perdu)"));
    assert_eq!(lines[2]["index"], helpdesk["index"]);
    assert!(lines[2]["warning"].as_str().unwrap().contains(
        "émis par l'assistance (assistance téléphonique, motif : demande à l'assistance)"
    ));
    assert_eq!(lines[3]["index"], ballot["index"]);
    assert_eq!(lines[3]["after"], helpdesk["index"]);
    assert!(lines[3]["warning"]
        .as_str()
        .unwrap()
        .starts_with("Un bulletin a été déposé"));
    assert_eq!(lines[4]["index"], batch["index"]);
    assert!(lines[4]["warning"]
        .as_str()
        .unwrap()
        .contains("envoi groupé (motif : fuite d'identifiants)"));
    // In sentences: each warning under its entry.
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            url,
            "--key",
            key,
            "--voter",
            &voter.to_string(),
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.matches("  WARNING (").count(), 4, "{}", r.stdout);
    assert!(r
        .stdout
        .contains("  WARNING (reissue_then_vote): Un bulletin"));
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            url,
            "--key",
            key,
            "--voter",
            &tag(2, 0xa0).to_string(),
        ],
    );
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains("WARNING"), "{}", r.stdout);
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
    // French first: the bureau's annex.
    for needle in [
        "<html lang=\"fr\">",
        "Rapport de surveillance du registre",
        "procès-verbal",
        "Bulletins par heure",
        "Réémissions par assistance téléphonique",
        "<svg",
        "platform down",
        "Vote juste après une réémission",
        "data-alert=\"reissue_then_vote\"",
        "Suspension",
        "Reprise",
        "durée 0 min",
        "Dernier point de contrôle vérifié",
    ] {
        assert!(page.contains(needle), "report lacks {needle}");
    }
    assert!(
        !page.contains("<script"),
        "the report must be self-contained, without script"
    );
    // Every alert of the monitor is in it, by kind and entry.
    for line in std::fs::read_to_string(state.join("alerts.jsonl"))
        .unwrap()
        .lines()
    {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        let row = format!(
            "data-alert=\"{}\" data-index=\"{}\"",
            a["kind"].as_str().unwrap(),
            a["index"]
                .as_u64()
                .map(|i| i.to_string())
                .unwrap_or_default()
        );
        assert!(page.contains(&row), "report lacks the alert {line}");
    }
    // English as an option.
    let en = tmp.path().join("report-en.html");
    let r = client(
        &xdg,
        &[
            "monitor",
            "report",
            "--state",
            st,
            "--out",
            en.to_str().unwrap(),
            "--lang",
            "en",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&en).unwrap();
    for needle in [
        "<html lang=\"en\">",
        "Ballots per hour",
        "Reissues by helpdesk (phone)",
        "Vote right after a reissue",
    ] {
        assert!(page.contains(needle), "English report lacks {needle}");
    }
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
        alerts.contains("note_a") && alerts.contains("note_b"),
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
    // The evidence proves the fork to anyone with the log key (issue 14): the root at
    // the smaller size comes from the larger tree's authenticated tiles.
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &key,
            "--json",
            &tag(1, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["evidence"]["kind"], "fork", "{v}");
    assert_eq!(v["evidence"]["verifiable_by_anyone"], true, "{v}");
    let ev: urne_client::gossip::Equivocation =
        serde_json::from_value(v["evidence"]["equivocation"].clone()).unwrap();
    ev.verify(&VerifierKey::parse(&key).unwrap()).unwrap();
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
    forge_append(&data, tmp.path(), &ballot);
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
        let deadline = Instant::now() + Duration::from_secs(120);
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
    // Recorded in DIR as evidence anyone with the log key can check: the peer's
    // tree of 8 entries does not begin with the log's tree of 7 shown here.
    let recorded: Vec<urne_client::gossip::Equivocation> =
        std::fs::read_to_string(state.join("evidence.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    recorded[0]
        .verify(&VerifierKey::parse(&s1.key).unwrap())
        .unwrap();
    assert_eq!(recorded[0].source, s2.url);

    // A union's monitor following the second history serves what it verified at
    // /v1/gossip; a voter shown the first history and pulling the monitor as a peer
    // catches the split view too.
    let mut mon = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["monitor", "--log", &s2.url, "--key", &s2.key, "--state"])
        .arg(tmp.path().join("mon2"))
        .args(["--interval", "1", "--quiet", "--gossip", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let gossip = gossip_addr(&mut mon);
    let url = format!("http://{gossip}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let deadline = Instant::now() + Duration::from_secs(120);
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

#[test]
fn verify_with_witness_quorum_against_log_and_two_mirrors() {
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
    // Two mirrors: one copies the log, the other copies the first mirror.
    let mut mirrors: Vec<String> = Vec::new();
    for i in 0..2 {
        let of = mirrors.last().cloned().unwrap_or_else(|| s.url.clone());
        let mdata = tmp.path().join(format!("mirror{i}"));
        let (c, mirror) = start_urne(&[
            "mirror",
            "--of",
            &of,
            "--key",
            &log_key,
            "--data",
            mdata.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]);
        children.push(c);
        mirrors.push(mirror);
    }
    let verify = |base: &str| {
        let mut args = vec!["verify", "--log", base, "--key", &log_key];
        for w in &witness_keys {
            args.extend(["--witness", w.as_str()]);
        }
        args.extend(["--quorum", "2", "--json", &receipt]);
        client(&xdg, &args)
    };
    // Cosignatures arrive shortly after the append; the mirrors copy shortly after.
    let deadline = Instant::now() + Duration::from_secs(120);
    for base in [&s.url, &mirrors[0], &mirrors[1]] {
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

#[test]
fn alerts_every_failure_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let (data, old) = (tmp.path().join("data"), tmp.path().join("data-old"));
    let k = Keys::new();
    let s = Server::start(&data, &k);
    fill(&s, &k, "Test election", 3, 1);
    let voter = tag(1, 0xa0).to_string();
    let (url, key) = (s.url.clone(), s.key.clone());

    // 64: usage (no --voter; a voter tag that is not one).
    let r = client(&xdg, &["alerts", "--log", &url, "--key", &key]);
    assert_eq!(r.code, 64, "{}", r.stderr);
    let r = client(
        &xdg,
        &["alerts", "--log", &url, "--key", &key, "--voter", "nope"],
    );
    assert_eq!(r.code, 64, "{}", r.stderr);

    // 5: nobody listens.
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            "http://127.0.0.1:9",
            "--key",
            &key,
            "--voter",
            &voter,
        ],
    );
    assert_eq!(r.code, 5, "{}", r.stderr);

    // 3: the voter's ballot reaches the client with another receipt (its inclusion
    // proof no longer matches) …
    let mitm = Proxy::start(
        &url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.starts_with("/v1/voters/") {
                assert!(flip_after(body, b"\\nreceipt "), "no receipt to alter");
            }
        }),
    );
    let r = client(
        &xdg,
        &[
            "alerts", "--log", &mitm.url, "--key", &key, "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("PROOF FAILED"), "{}", r.stderr);
    assert!(r.stderr.contains("inclusion proof"), "{}", r.stderr);
    // … or the checkpoint is not the one the log signed.
    let mitm = Proxy::start(
        &url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path == "/checkpoint" {
                let text = String::from_utf8_lossy(body).into_owned();
                let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
                lines[1] = (lines[1].parse::<u64>().unwrap() - 1).to_string();
                *body = lines.join("\n").into_bytes();
            }
        }),
    );
    let r = client(
        &xdg,
        &[
            "alerts", "--log", &mitm.url, "--key", &key, "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    // … or the log's list does not say whether it is complete (no `next`): a partial
    // history is never shown as complete.
    let mitm = Proxy::start(
        &url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.starts_with("/v1/voters/") {
                let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
                v.as_object_mut().unwrap().remove("next");
                *body = serde_json::to_vec(&v).unwrap();
            }
        }),
    );
    let r = client(
        &xdg,
        &[
            "alerts", "--log", &mitm.url, "--key", &key, "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("INCOMPLETE"), "{}", r.stderr);
    // A history split over two pages is followed to its end.
    let whole = client(
        &xdg,
        &[
            "alerts", "--log", &url, "--key", &key, "--json", "--voter", &voter,
        ],
    );
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let mitm = Proxy::start(
        &url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.starts_with("/v1/voters/") && path.contains("cursor=0") {
                let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
                let entries = v["entries"].as_array_mut().unwrap();
                let second = entries[1]["index"].clone();
                entries.truncate(1);
                v["next"] = second;
                *body = serde_json::to_vec(&v).unwrap();
            }
        }),
    );
    let paged = client(
        &xdg,
        &[
            "alerts", "--log", &mitm.url, "--key", &key, "--json", "--voter", &voter,
        ],
    );
    assert_eq!(paged.code, 0, "{}", paged.stderr);
    assert_eq!(paged.stdout, whole.stdout);
    assert!(whole.stdout.lines().count() >= 2, "{}", whole.stdout);
    let r = client(
        &xdg,
        &[
            "alerts", "--log", &url, "--key", &key, "--json", "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // 4: the voter saw a larger tree; the log is restored from an older backup.
    s.stop();
    copy_dir(&data, &old);
    let s = Server::start(&data, &k);
    for v in 2..=3 {
        s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0)));
    }
    let r = client(
        &xdg,
        &["alerts", "--log", &s.url, "--key", &key, "--voter", &voter],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s_old = Server::start(&old, &k);
    let r = client(
        &xdg,
        &[
            "alerts", "--log", &s_old.url, "--key", &key, "--json", "--voter", &voter,
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["error"], "log_inconsistent");
    assert!(v["message"].as_str().unwrap().contains("ROLLBACK"), "{v}");
    assert!(v["evidence"]["equivocation"]["note_b"].is_string(), "{v}");

    // 4 while following: the log behind the URL is swapped for the old backup.
    let xdg2 = tmp.path().join("xdg2");
    let front = Proxy::honest(&s.url);
    let mut follow = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["alerts", "--log", &front.url, "--key", &key])
        .args(["--follow", "--interval", "1", "--voter", &voter])
        .env("XDG_STATE_HOME", &xdg2)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    front.wait_polls(2);
    front.switch(&s_old.url);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = follow.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            let _ = follow.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut follow.stderr.take().unwrap(), &mut err).unwrap();
    let _ = follow.wait();
    assert_eq!(status.and_then(|s| s.code()), Some(4), "{err}");
    // The switch may fall between the poll's `/checkpoint` (the larger tree) and its
    // voter listing (the smaller tree, proved in the backup's checkpoint): the client
    // then holds two sizes shown at once, a split view, reported as an equivocation.
    // Both are the critical exit 4 with the log's two signed notes.
    assert!(
        err.contains("ROLLBACK") || err.contains("EQUIVOCATION"),
        "{err}"
    );
}

#[test]
fn alerts_follow_posts_each_new_entry_to_a_webhook() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start(&tmp.path().join("data"), &k);
    fill(&s, &k, "Test election", 2, 1);
    let voter = tag(2, 0xa0).to_string();
    let (hook, bodies) = webhook_sink();
    let front = Proxy::honest(&s.url);
    let mut follow = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args(["alerts", "--log", &front.url, "--key", &s.key, "--follow"])
        .args(["--interval", "1", "--voter", &voter, "--webhook", &hook])
        .env("XDG_STATE_HOME", &xdg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first listing to be done, so the new entries are news.
    front.wait_polls(2);
    let reissue = s.ok(&k.credential(
        tag(2, 0xa0),
        tag(12, 0xc0),
        Channel::Helpdesk,
        CredentialReason::ReissueHelpdesk,
    ));
    let ballot = s.ok(&k.ballot(tag(12, 0xc0), tag(12, 0xe0)));
    // Another voter's entry is not posted.
    s.ok(&k.credential(
        tag(3, 0xa0),
        tag(3, 0xc0),
        Channel::Mail,
        CredentialReason::Initial,
    ));
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while got.len() < 2 && Instant::now() < deadline {
        if let Ok(b) = bodies.recv_timeout(Duration::from_millis(200)) {
            got.push(serde_json::from_str::<serde_json::Value>(&b).unwrap());
        }
    }
    // Two more polls: nothing else arrives.
    front.wait_polls(2);
    let extra = bodies.recv_timeout(Duration::from_millis(500)).ok();
    let _ = follow.kill();
    let _ = follow.wait();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(extra.is_none(), "unexpected post: {extra:?}");
    let (a, b) = (&got[0], &got[1]);
    assert_eq!(a["kind"], "helpdesk_reissue");
    assert_eq!(a["severity"], "warning");
    assert_eq!(a["voter"], voter);
    assert_eq!(a["type"], "credential");
    assert_eq!(a["channel"], "helpdesk");
    assert_eq!(a["reason"], "reissue-helpdesk");
    assert_eq!(a["index"], reissue["index"]);
    assert_eq!(b["type"], "ballot");
    assert_eq!(b["kind"], "reissue_then_vote");
    assert_eq!(b["after"], reissue["index"]);
    assert_eq!(b["receipt"], tag(12, 0xe0).to_string());
    assert_eq!(b["index"], ballot["index"]);
}

#[test]
fn monitor_refuses_tiles_that_do_not_match_the_signed_root() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let data = tmp.path().join("data");
    let s = Server::start(&data, &k);
    fill(&s, &k, "Test election", 3, 2);
    let key = s.key.clone();
    let monitor = |url: &str, state: &Path| {
        client(
            &xdg,
            &[
                "monitor",
                "--log",
                url,
                "--key",
                &key,
                "--state",
                state.to_str().unwrap(),
                "--once",
                "--quiet",
            ],
        )
    };

    // A ballot altered in its entry bundle: its leaf hash is not the one the tree
    // (and the signed root) commits to.
    let mitm = Proxy::start(
        &s.url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.starts_with("/tile/entries/") {
                assert!(flip_after(body, b"\nreceipt "), "no receipt to alter");
            }
        }),
    );
    let st = tmp.path().join("mon-entries");
    let r = monitor(&mitm.url, &st);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let a = alerts_of(&st, "bad_tiles");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["severity"], "critical");
    let msg = a[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("entry 5 served by the log is not the one"),
        "{msg}"
    );
    assert!(a[0]["evidence"]["checkpoint"]
        .as_str()
        .unwrap()
        .contains("\n7\n"));
    assert!(alerts_of(&st, "rule_violation").is_empty());

    // A level-0 hash tile altered: it does not hash up to the signed root.
    let mitm = Proxy::start(
        &s.url,
        std::sync::Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.starts_with("/tile/0/") {
                body[40] ^= 1;
            }
        }),
    );
    let st = tmp.path().join("mon-hashes");
    let r = monitor(&mitm.url, &st);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let a = alerts_of(&st, "bad_tiles");
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(
        a[0]["message"]
            .as_str()
            .unwrap()
            .contains("does not verify against the checkpoint of size 7"),
        "{a:?}"
    );

    // Honest tiles, but the operator wrote a statement with a bad signature into
    // storage: the tree is fine (the root matches), the rules are not.
    s.stop();
    let impostor = SignerKey::from_seed("platform.test", [66; 32]).unwrap();
    let forged = Statement {
        election: ELECTION.into(),
        time: Time::now(),
        body: Body::Ballot {
            scrutin: SCRUTIN.into(),
            credential: tag(3, 0xc0),
            receipt: tag(3, 0xe0),
        },
    }
    .sign(&[&impostor])
    .unwrap();
    forge_append(&data, tmp.path(), &forged);
    let s = Server::start(&data, &k);
    let st = tmp.path().join("mon-forged");
    let r = monitor(&s.url, &st);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(alerts_of(&st, "bad_tiles").is_empty());
    let a = alerts_of(&st, "rule_violation");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["index"], 7);
    // Signed by a key the election does not name: refused from the block alone.
    assert_eq!(a[0]["evidence"]["code"], "bad_signature_block");
}

#[test]
fn forged_seal_does_not_poison_the_keys_of_the_real_election() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let data = tmp.path().join("data");
    let k = Keys::new();
    // An empty log, then a forged seal of the election written into its storage: it
    // names the attacker's keys, and its signature is not by any of them, so the
    // rules refuse it.
    Server::start(&data, &k).stop();
    let evil = Keys {
        board: SignerKey::from_seed("board.test", [41; 32]).unwrap(),
        registrar: SignerKey::from_seed("registrar.test", [42; 32]).unwrap(),
        platform: SignerKey::from_seed("platform.test", [43; 32]).unwrap(),
        last_lifecycle: std::cell::Cell::new(i64::MIN),
    };
    let now = Time::now().0;
    let forged_seal = Statement {
        election: ELECTION.into(),
        time: Time(now),
        body: Body::Election(ElectionBody {
            title: "Forged".into(),
            scrutins: vec![SCRUTIN.into()],
            authorities: vec![
                (Role::Board, evil.board.verifier().clone()),
                (Role::Registrar, evil.registrar.verifier().clone()),
                (Role::Platform, evil.platform.verifier().clone()),
            ],
            quorum: 1,
            opens: Time(now - 600),
            closes: Time(now + 86_400),
            tolerance: Some(300),
            grace: None,
            revote: Default::default(),
            roll: None,
        }),
    }
    .sign(&[&k.board])
    .unwrap();
    forge_append(&data, tmp.path(), &forged_seal);
    // The real election, sealed after it with the same id, and its statements.
    let s = Server::start(&data, &k);
    fill(&s, &k, "Test election", 3, 2);
    s.stop();
    // A ballot signed by the attacker's platform key, for a real credential.
    forge_append(&data, tmp.path(), &evil.ballot(tag(3, 0xc0), tag(3, 0xe0)));
    let s = Server::start(&data, &k);
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
            "--quiet",
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    // Exactly two violations: the forged seal and the attacker's ballot; every
    // statement of the real election verified with the real keys.
    let v = alerts_of(&state, "rule_violation");
    let found: Vec<(u64, String)> = v
        .iter()
        .map(|a| {
            (
                a["index"].as_u64().unwrap(),
                a["evidence"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        // Lines by keys the election (the forged one: its own) does not name.
        vec![
            (0, "bad_signature_block".into()),
            (8, "bad_signature_block".into())
        ],
        "{v:?}"
    );
    let h = monitor_header(&state);
    let counts = &h["reports"][ELECTION]["counts"];
    assert_eq!(counts["election"], 1, "{h}");
    assert_eq!(counts["credential"], 3, "{h}");
    assert_eq!(counts["ballot"], 2, "{h}");
    assert_eq!(h["reports"][ELECTION]["title"], "Test election");
    // The voter's check agrees: the real ballot is proved and allowed; the
    // attacker's is in the log but forbidden.
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
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = client(
        &xdg,
        &[
            "verify",
            "--log",
            &s.url,
            "--key",
            &s.key,
            &tag(3, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("bad_signature"), "{}", r.stderr);
}

#[test]
fn monitor_counts_reissue_bursts_over_a_sliding_hour_and_prunes_the_helpdesk() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let k = Keys::new();
    // The election is replayed over the last hours: the log tolerates old times.
    let s = Server::start_with(
        &tmp.path().join("data"),
        &k,
        &["--time-tolerance".into(), "86400".into()],
    );
    let now = Time::now().0;
    // A calendar hour boundary three to four hours ago.
    let h = (now.div_euclid(3600) - 3) * 3600;
    let min = |m: i64| Time(h + m * 60);
    let seal = Statement {
        election: ELECTION.into(),
        time: min(-90),
        body: Body::Election(ElectionBody {
            title: "Replayed election".into(),
            scrutins: vec![SCRUTIN.into()],
            authorities: vec![
                (Role::Board, k.board.verifier().clone()),
                (Role::Registrar, k.registrar.verifier().clone()),
                (Role::Platform, k.platform.verifier().clone()),
            ],
            quorum: 1,
            opens: Time(now - 2 * 86_400),
            closes: Time(now + 86_400),
            tolerance: Some(86_400),
            grace: None,
            revote: Default::default(),
            roll: None,
        }),
    }
    .sign(&[&k.board])
    .unwrap();
    s.ok(&seal);
    s.ok(&k.stmt_at(Body::Open, min(-90)));
    for v in 1..=7 {
        s.ok(&k.stmt_at(
            Body::Credential {
                voter: tag(v, 0xa0),
                credential: tag(v, 0xc0),
                channel: Channel::Mail,
                reason: CredentialReason::Initial,
            },
            min(-90),
        ));
    }
    let reissue = |v: u8, m: i64, channel: Channel, reason: CredentialReason| {
        s.ok(&k.stmt_at(
            Body::Credential {
                voter: tag(v, 0xa0),
                credential: tag(v + 100, 0xc0),
                channel,
                reason,
            },
            min(m),
        ))
    };
    // Three reissues within 30 minutes, across the calendar hour h: two before it,
    // one after. With at most 2 per hour allowed, the third is a burst; counted per
    // calendar hour (2, then 1) it would not be.
    reissue(1, -20, Channel::Mail, CredentialReason::ReissueLost);
    reissue(2, -10, Channel::Sms, CredentialReason::ReissueLost);
    let third = reissue(3, 10, Channel::Helpdesk, CredentialReason::ReissueHelpdesk);
    // Voter 3 votes 5 minutes after the helpdesk gave a new credential.
    let quick = s.ok(&k.stmt_at(
        Body::Ballot {
            scrutin: SCRUTIN.into(),
            credential: tag(103, 0xc0),
            receipt: tag(3, 0xe0),
        },
        min(15),
    ));
    // Then reissues more than an hour apart: no burst.
    reissue(4, 75, Channel::Helpdesk, CredentialReason::ReissueHelpdesk);
    reissue(5, 140, Channel::Helpdesk, CredentialReason::ReissueHelpdesk);
    // A recent helpdesk reissue, and a ballot now.
    let recent = s.ok(&k.stmt_at(
        Body::Credential {
            voter: tag(6, 0xa0),
            credential: tag(106, 0xc0),
            channel: Channel::Helpdesk,
            reason: CredentialReason::ReissueHelpdesk,
        },
        Time(now - 300),
    ));
    s.ok(&k.stmt_at(
        Body::Ballot {
            scrutin: SCRUTIN.into(),
            credential: tag(7, 0xc0),
            receipt: tag(7, 0xe0),
        },
        Time(now),
    ));
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
            "--quiet",
            "--burst-per-hour",
            "2",
            "--reissue-vote-minutes",
            "30",
            "--tolerance",
            "60",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bursts = alerts_of(&state, "reissue_burst");
    assert_eq!(bursts.len(), 1, "{bursts:?}");
    assert_eq!(bursts[0]["index"], third["index"]);
    assert!(
        bursts[0]["message"]
            .as_str()
            .unwrap()
            .contains("3 credential reissues within one hour"),
        "{bursts:?}"
    );
    let rtv = alerts_of(&state, "reissue_then_vote");
    assert_eq!(rtv.len(), 1, "{rtv:?}");
    assert_eq!(rtv[0]["index"], quick["index"]);
    // Kept: the issues a ballot may still follow within 30 minutes. The election
    // sealed a day of tolerance (its seal is dated hours back), so a ballot may still
    // be dated up to a day before the latest entry: every reissue of the last hours
    // is kept (`--tolerance 60` judges only elections sealed without one), each
    // non-batch reissue whatever its channel or label.
    let header = monitor_header(&state);
    let kept = header["helpdesk"].as_array().unwrap();
    assert_eq!(kept.len(), 6, "{kept:?}");
    assert!(
        kept.iter().any(|h| h["index"] == recent["index"]
            && h["credential"] == tag(106, 0xc0).to_string()),
        "{kept:?}"
    );

    // Resumed on the saved window: two more reissues now, in the hour of the one at
    // now - 300, make a new burst (one alert).
    for v in [2, 4] {
        s.ok(&k.stmt_at(
            Body::Credential {
                voter: tag(v, 0xa0),
                credential: tag(v + 200, 0xc0),
                channel: Channel::Mail,
                reason: CredentialReason::ReissueLost,
            },
            Time(now),
        ));
    }
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
            "--quiet",
            "--burst-per-hour",
            "2",
            "--tolerance",
            "60",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bursts = alerts_of(&state, "reissue_burst");
    assert_eq!(bursts.len(), 2, "{bursts:?}");
}

#[test]
fn monitor_raises_each_rollback_and_fork_once_and_serves_the_evidence() {
    use urne_client::gossip::Equivocation;
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("mon");
    let (d1, old, d2) = (
        tmp.path().join("d1"),
        tmp.path().join("old"),
        tmp.path().join("d2"),
    );
    let k = Keys::new();
    // History 1 (10 entries), an older backup of it (7 entries), and history 2 under
    // the same log key (12 entries).
    let s1 = Server::start(&d1, &k);
    fill(&s1, &k, "Election as shown to the voters", 4, 1);
    s1.stop();
    copy_dir(&d1, &old);
    let s1 = Server::start(&d1, &k);
    for v in 2..=4 {
        s1.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0)));
    }
    std::fs::create_dir_all(&d2).unwrap();
    std::fs::copy(d1.join("log.key"), d2.join("log.key")).unwrap();
    let s2 = Server::start(&d2, &k);
    fill(&s2, &k, "Election as shown to the judge", 5, 5);
    let s_old = Server::start(&old, &k);
    let log_key = VerifierKey::parse(&s1.key).unwrap();
    assert_eq!(s2.key, s1.key);
    assert_eq!(s_old.key, s1.key);

    // A union's monitor follows the log through one URL.
    let front = Proxy::honest(&s1.url);
    let start_monitor = || {
        let mut mon = Command::new(env!("CARGO_BIN_EXE_urne-client"))
            .args(["monitor", "--log", &front.url, "--key", &s1.key, "--state"])
            .arg(&state)
            .args(["--interval", "1", "--quiet", "--gossip", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let gossip = gossip_addr(&mut mon);
        (mon, gossip)
    };
    let (mut mon, gossip) = start_monitor();
    let deadline = Instant::now() + Duration::from_secs(60);
    while get_json(&format!("http://{gossip}/v1/gossip"))
        .is_none_or(|g| g["checkpoints"][0]["size"] != 10)
    {
        assert!(Instant::now() < deadline, "the monitor never verified 10");
        std::thread::sleep(Duration::from_millis(100));
    }
    let equivocations = |addr: &str| -> Vec<Equivocation> {
        serde_json::from_value(get_json(&format!("http://{addr}/v1/gossip/equivocations")).unwrap())
            .unwrap()
    };
    assert!(equivocations(&gossip).is_empty());

    // The backup is put back behind the URL: one rollback alert, however many polls.
    front.switch(&s_old.url);
    let rb = wait_alert(&state, "rollback");
    front.wait_polls(3);
    assert_eq!(alerts_of(&state, "rollback").len(), 1);
    assert!(rb["message"].as_str().unwrap().contains("ROLLBACK"));
    assert_eq!(rb["evidence"]["verifiable_by_anyone"], false, "{rb}");

    // Then the other history: a fork, a new alert, raised once too.
    front.switch(&s2.url);
    let fork = wait_alert(&state, "fork");
    front.wait_polls(3);
    assert_eq!(alerts_of(&state, "fork").len(), 1);
    assert_eq!(alerts_of(&state, "rollback").len(), 1);
    assert_eq!(fork["evidence"]["verifiable_by_anyone"], true, "{fork}");

    // The fork is served as evidence anyone can check with the log key alone; the
    // rollback to a prefix is not (both checkpoints can be true).
    let served = equivocations(&gossip);
    assert_eq!(served.len(), 1, "{served:?}");
    let e = &served[0];
    e.verify(&log_key).unwrap();
    assert_eq!(e.origin, ORIGIN);
    assert!(
        e.note_a.contains("\n10\n") && e.note_b.contains("\n12\n"),
        "{e:?}"
    );
    assert_eq!(
        serde_json::to_value(e).unwrap(),
        fork["evidence"]["equivocation"]
    );
    let _ = mon.kill();
    let _ = mon.wait();

    // Both are recorded in DIR in the library's format.
    let recorded: Vec<Equivocation> = std::fs::read_to_string(state.join("evidence.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(recorded[0].note_a.contains("\n7\n") && recorded[0].note_b.contains("\n10\n"));
    assert!(recorded[0].verify(&log_key).is_err());
    assert_eq!(&recorded[1], e);

    // After a restart: the evidence is served at once, and the same fork is not
    // alerted again.
    let (mut mon, gossip) = start_monitor();
    let deadline = Instant::now() + Duration::from_secs(120);
    let served = loop {
        if let Some(v) = get_json(&format!("http://{gossip}/v1/gossip/equivocations")) {
            break serde_json::from_value::<Vec<Equivocation>>(v).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the restarted monitor serves nothing"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(served, vec![e.clone()]);
    // A voter shown the first history, pulling this monitor as a peer, checks the
    // evidence with the log key and learns the log showed two histories.
    let r = client(
        &tmp.path().join("xdg-voter"),
        &[
            "verify",
            "--log",
            &s1.url,
            "--key",
            &s1.key,
            "--peer",
            &format!("http://{gossip}"),
            &tag(1, 0xe0).to_string(),
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("holds proof"), "{}", r.stderr);
    front.wait_polls(3);
    let _ = mon.kill();
    let _ = mon.wait();
    assert_eq!(alerts_of(&state, "fork").len(), 1);
    // A one-off run still fails with "log inconsistent".
    let r = client(
        &tmp.path().join("xdg"),
        &[
            "monitor",
            "--log",
            &front.url,
            "--key",
            &s1.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert_eq!(alerts_of(&state, "fork").len(), 1);
}

/// The rules are re-run with the time tolerance the election sealed: an entry dated
/// two hours back, which a log allowing `--time-tolerance 86400` accepted for an
/// election that sealed a day, is no violation for `monitor`, neither by default nor
/// for a union that pins 300 s (that only judges elections sealed before tolerances
/// were).
#[test]
fn rules_are_rechecked_with_the_elections_sealed_tolerance() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let k = Keys::new();
    let s = Server::start_with(
        &tmp.path().join("data"),
        &k,
        &["--time-tolerance".into(), "86400".into()],
    );
    s.ok(&k.seal_with_tolerance("tolerant election", 86_400));
    s.ok(&k.stmt(Body::Open));
    let back = Time(Time::now().0 - 2 * 3600);
    s.ok(&k.stmt_at(
        Body::Credential {
            voter: tag(1, 0xa0),
            credential: tag(1, 0xc0),
            channel: Channel::Mail,
            reason: CredentialReason::Initial,
        },
        back,
    ));
    let monitor = |state: &Path, extra: &[&str]| {
        let mut args = vec![
            "monitor",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        client(&xdg, &args)
    };
    let by_default = tmp.path().join("mon-default");
    let r = monitor(&by_default, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(alerts_of(&by_default, "rule_violation").is_empty());

    let pinned = tmp.path().join("mon-pinned");
    let r = monitor(&pinned, &["--tolerance", "300"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(alerts_of(&pinned, "rule_violation").is_empty());
}

/// Issue 14: a rolled-back log the witness refuses to cosign. Every client run with
/// `--witness` must say ROLLBACK with exit 4 (before, `verify` said "quorum not met"
/// with exit 3, the monitor only printed it, `alerts --follow` never ran its hook).
#[test]
fn rollback_behind_a_witness_is_a_rollback_for_verify_monitor_and_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let state = tmp.path().join("mon");
    let (data, old) = (tmp.path().join("data"), tmp.path().join("data-old"));
    let k = Keys::new();
    let s = Server::start(&data, &k);
    let log_key = s.key.clone();
    s.stop();
    let keyfile = tmp.path().join("w.key");
    let out = Command::new(urne_bin())
        .args(["keygen", "--witness", "--name", "witness-r.test", "--out"])
        .arg(&keyfile)
        .output()
        .unwrap();
    assert!(out.status.success());
    let wkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let wdata = tmp.path().join("w");
    let (mut witness, wurl) = start_urne(&[
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
    let flags = [
        "--witness".to_string(),
        format!("{wurl}={wkey}"),
        "--witness-quorum".to_string(),
        "1".to_string(),
    ];
    let s = Server::start_with(&data, &k, &flags);
    fill(&s, &k, "Witnessed election", 4, 1);
    s.stop();
    copy_dir(&data, &old);
    let s = Server::start_with(&data, &k, &flags);
    for v in 2..=4 {
        s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0)));
    }
    let code = tag(1, 0xe0).to_string();
    let st = state.to_str().unwrap().to_string();
    let verify = |url: &str| {
        client(
            &xdg,
            &[
                "verify",
                "--log",
                url,
                "--key",
                &log_key,
                "--witness",
                &wkey,
                "--json",
                &code,
            ],
        )
    };
    let monitor = |url: &str| {
        client(
            &xdg,
            &[
                "monitor",
                "--log",
                url,
                "--key",
                &log_key,
                "--witness",
                &wkey,
                "--state",
                &st,
                "--once",
                "--quiet",
            ],
        )
    };
    // The voter and the monitor see the witnessed tree of 10 entries.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = verify(&s.url);
        if r.code == 0 && r.stdout.contains("\"current_tree_size\":10") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never witnessed at 10: {}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(monitor(&s.url).code, 0);
    s.stop();

    // The operator restores the older copy: the witness holds 10 and refuses 7.
    let s = Server::start_with(&old, &k, &flags);
    let r = verify(&s.url);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["message"].as_str().unwrap().contains("ROLLBACK"), "{v}");
    assert_eq!(v["evidence"]["kind"], "rollback", "{v}");
    let r = monitor(&s.url);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let rb = alerts_of(&state, "rollback");
    assert_eq!(rb.len(), 1, "{}", r.stderr);
    assert_eq!(rb[0]["severity"], "critical");
    assert!(rb[0]["evidence"]["equivocation"]["note_b"]
        .as_str()
        .unwrap()
        .contains("\n10\n"));
    // Polled again: the same incident, not a second alert.
    assert_eq!(monitor(&s.url).code, 4);
    assert_eq!(alerts_of(&state, "rollback").len(), 1);

    // A monitor following the rolled-back log (from the state that verified 10, its
    // alerts aside): the rollback is critical and runs its hook, and while the log
    // goes on answering with it, no `stale_log` however short --stale-after is.
    let followed = tmp.path().join("mon-follow");
    std::fs::create_dir_all(&followed).unwrap();
    std::fs::copy(state.join("monitor.state"), followed.join("monitor.state")).unwrap();
    let hooks = tmp.path().join("monitor-hooks.jsonl");
    let mut mon = Command::new(env!("CARGO_BIN_EXE_urne-client"))
        .args([
            "monitor",
            "--log",
            &s.url,
            "--key",
            &log_key,
            "--witness",
            &wkey,
        ])
        .arg("--state")
        .arg(&followed)
        .args(["--interval", "1", "--stale-after", "1", "--quiet", "--exec"])
        .arg(format!(
            "cat >> {}; echo >> {}",
            hooks.display(),
            hooks.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = mon.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // Each later poll says the rollback is already alerted: three of them, then stop.
    let mut repeats = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while repeats < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("rollback already alerted") => repeats += 1,
            Ok(_) => {}
            Err(e) => {
                let _ = mon.kill();
                let _ = mon.wait();
                panic!("the monitor never repeated the rollback: {e}");
            }
        }
    }
    let _ = mon.kill();
    let _ = mon.wait();
    assert_eq!(alerts_of(&followed, "rollback").len(), 1);
    assert!(alerts_of(&followed, "stale_log").is_empty());
    let hooked = std::fs::read_to_string(&hooks).unwrap();
    assert!(hooked.contains("\"kind\":\"rollback\""), "{hooked}");
    // The union's report counts it as critical.
    let html = tmp.path().join("report.html");
    let r = client(
        &xdg,
        &[
            "monitor",
            "report",
            "--state",
            followed.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<b>1 critique</b>"), "{html}");

    // The voter's watch runs its hook with the rollback, then ends with exit 4.
    let hooked = tmp.path().join("hook.json");
    let exec = format!("cat > {}", hooked.display());
    let voter = tag(1, 0xa0).to_string();
    let r = client(
        &xdg,
        &[
            "alerts",
            "--log",
            &s.url,
            "--key",
            &log_key,
            "--witness",
            &wkey,
            "--voter",
            &voter,
            "--follow",
            "--interval",
            "1",
            "--exec",
            &exec,
        ],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    let hook: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&hooked).unwrap()).unwrap();
    assert_eq!(hook["kind"], "rollback", "{hook}");
    assert_eq!(hook["severity"], "critical");
    s.stop();
    let _ = witness.kill();
    let _ = witness.wait();
}

/// Monitors re-run the same rules as the log: a log that appended a replay of a
/// statement (written here straight into its storage, as a log without the rule
/// would have appended it) is reported as a `rule_violation` — the same text with a
/// line by an unknown key, and the same text signed by another authority.
#[test]
fn monitor_reports_a_replay_the_log_appended() {
    use base64::Engine as _;
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let data = tmp.path().join("data");
    let k = Keys::new();
    let s = Server::start(&data, &k);
    s.ok(&k.seal("replayed"));
    s.ok(&k.stmt(Body::Open));
    let text = k.stmt(Body::Intervention {
        actor: "ops".into(),
        action: "restart".into(),
        reason: "memory".into(),
        reissues: None,
    });
    s.ok(&text);
    s.stop();
    let mut raw = vec![0xde, 0xad, 0xbe, 0xef];
    raw.extend_from_slice(&[7u8; 64]);
    let foreign = format!(
        "{text}\u{2014} evil.example {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    forge_append(&data, tmp.path(), &foreign);
    let by_platform = urne_client::statement::SignedStatement::parse(text.as_bytes())
        .unwrap()
        .statement
        .sign(&[&k.platform])
        .unwrap();
    forge_append(&data, tmp.path(), &by_platform);
    let s = Server::start(&data, &k);
    let state = tmp.path().join("mon");
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
            "--quiet",
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    let found: Vec<(u64, String)> = alerts_of(&state, "rule_violation")
        .iter()
        .map(|a| {
            (
                a["index"].as_u64().unwrap(),
                a["evidence"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (3, "bad_signature_block".to_string()),
            (4, "duplicate_statement".to_string())
        ]
    );
}

/// An election sealing `grace 2` and `revote last`, on a log with a witness that
/// checks in every second: the voter's first ballot, looked up by its Belenios
/// tracker (base64, starting with `/`), verifies and says it was superseded by the
/// second; the second verifies as counted; the log records the seal, which the
/// monitor re-checks and announces ("urne scellée …"); an intervention forged into
/// the log after the seal, dated inside the grace period (so that the statement times
/// alone let it pass), is caught by the monitor from the seal's position.
#[test]
fn sealed_election_revotes_trackers_and_the_monitor() {
    use urne_client::statement::Revote;
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let data = tmp.path().join("log");
    let k = Keys::new();
    let s = Server::start(&data, &k);
    let log_key = s.key.clone();
    s.stop();
    let keyfile = tmp.path().join("w.key");
    let out = Command::new(urne_bin())
        .args(["keygen", "--witness", "--name", "witness.test", "--out"])
        .arg(&keyfile)
        .output()
        .unwrap();
    assert!(out.status.success());
    let wkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let wdata = tmp.path().join("w");
    /// The witness process, killed however the test ends.
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let (witness, wurl) = start_urne(&[
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
    let _witness = Killed(witness);
    let flags: Vec<String> = [
        "--witness",
        &format!("{wurl}={wkey}"),
        "--witness-quorum",
        "1",
        "--witness-checkin",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let s = Server::start_with(&data, &k, &flags);
    let now = Time::now().0;
    s.ok(&k.stmt(Body::Election(ElectionBody {
        title: "Sealed".into(),
        scrutins: vec![SCRUTIN.into()],
        authorities: vec![
            (Role::Board, k.board.verifier().clone()),
            (Role::Registrar, k.registrar.verifier().clone()),
            (Role::Platform, k.platform.verifier().clone()),
        ],
        quorum: 1,
        tolerance: Some(300),
        grace: Some(2),
        revote: Revote::Last,
        opens: Time(now - 600),
        closes: Time(now + 86_400),
        roll: None,
    })));
    s.ok(&k.stmt(Body::Open));
    let cred = tag(1, 0xc0);
    s.ok(&k.credential(tag(1, 0xa0), cred, Channel::Mail, CredentialReason::Initial));
    let first = Tag([0xfc; 32]);
    let a1 = s.ok(&k.ballot(cred, first));
    let a2 = s.ok(&k.ballot(cred, tag(1, 0xe0)));
    let close = k.stmt(Body::Close);
    s.ok(&close);
    let close_time = urne_client::statement::SignedStatement::parse(close.as_bytes())
        .unwrap()
        .statement
        .time;
    let tracker = urne_client::receipt::to_base64(&first);
    assert!(tracker.starts_with('/'), "{tracker}");
    let verify = |code: &str, json: bool| {
        let mut args = vec![
            "verify",
            "--log",
            &s.url,
            "--key",
            &log_key,
            "--witness",
            &wkey,
            "--quorum",
            "1",
        ];
        if json {
            args.push("--json");
        }
        args.push(code);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = client(&xdg, &args);
            if r.code == 0 || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let r = verify(&tracker, true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["index"], a1["index"]);
    assert_eq!(v["superseded_by"]["index"], a2["index"], "{v}");
    assert_eq!(v["superseded_by"]["same_credential"], true);
    let r = verify(&tracker, false);
    assert!(r.stdout.starts_with("SUPERSEDED: "), "{}", r.stdout);
    let r = verify(&tag(1, 0xe0).to_string(), true);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["index"], a2["index"]);
    assert!(v["superseded_by"].is_null(), "{v}");
    // A code that is no receipt in any encoding, nor a file.
    let r = client(
        &xdg,
        &["verify", "--log", &s.url, "--key", &log_key, "/abc"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);

    // The seal: recorded by the log once a cosignature is timestamped after it.
    let deadline = Instant::now() + Duration::from_secs(90);
    let election = loop {
        let j = get_json(&format!("{}/v1/elections/{ELECTION}", s.url)).unwrap();
        if !j["seal"].is_null() {
            break j;
        }
        assert!(Instant::now() < deadline, "no seal: {j}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        election["sealed_after"],
        Time(close_time.0 + 2).to_string(),
        "{election}"
    );
    s.ok(&k.stmt(Body::Results {
        scrutin: SCRUTIN.into(),
        ballots: 1,
        digest: Tag([0xd1; 32]),
    }));
    let state = tmp.path().join("mon");
    let monitor = || {
        client(
            &xdg,
            &[
                "monitor",
                "--log",
                &s.url,
                "--key",
                &log_key,
                "--witness",
                &wkey,
                "--quorum",
                "1",
                "--state",
                state.to_str().unwrap(),
                "--once",
                "--quiet",
            ],
        )
    };
    let r = monitor();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seal = alerts_of(&state, "seal");
    assert_eq!(seal.len(), 1, "{seal:?}");
    assert!(
        seal[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("urne scellée le "),
        "{seal:?}"
    );
    // The monitor's report shows it, with the witness and its time.
    let html = tmp.path().join("report.html");
    let r = client(
        &xdg,
        &[
            "monitor",
            "report",
            "--state",
            state.to_str().unwrap(),
            "--out",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("urne scellée le "), "{html}");
    assert!(html.contains("témoins : witness.test le "), "{html}");
    // A compromised operator appends an intervention after the seal, dated before it.
    s.stop();
    let forged = k.stmt_at(
        Body::Intervention {
            actor: "ops".into(),
            action: "edit".into(),
            reason: "after the seal".into(),
            reissues: None,
        },
        close_time,
    );
    forge_append(&data, tmp.path(), &forged);
    let s = Server::start_with(&data, &k, &flags);
    let size = get_json(&format!("{}/v1/log", s.url)).unwrap()["tree_size"].clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    let r = loop {
        let r = client(
            &xdg,
            &[
                "monitor",
                "--log",
                &s.url,
                "--key",
                &log_key,
                "--witness",
                &wkey,
                "--quorum",
                "1",
                "--state",
                state.to_str().unwrap(),
                "--once",
                "--quiet",
            ],
        );
        if r.code != 0 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(r.code, 6, "{} (tree {size})", r.stderr);
    let v = alerts_of(&state, "rule_violation");
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["evidence"]["code"], "election_sealed", "{v:?}");
}

/// A real Belenios election (Debian's `belenios-tool`: four voters, two of whom vote
/// again, one trustee, tally, decryption, result, verified by Belenios itself),
/// anchored whole in urne as an operator would: every archive event as an `event`
/// statement at its height, signed by the role that produces it, every ballot as a
/// `ballot` whose receipt is its smart ballot tracker, the election sealed with
/// `revote last`. Then every tracker, in Belenios's own base64 form, verifies with
/// `urne-client verify`, the superseded ones saying so; the monitor re-checks the
/// whole log; and the events read back from the log's tiles are exactly the archive's.
#[test]
fn a_belenios_archive_is_anchored_whole() {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    use urne_client::statement::Revote;
    if Command::new("belenios-tool")
        .arg("--help")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("URNE_SKIP_BELENIOS").is_some(),
            "belenios-tool is not installed: run `bash scripts/setup.sh --test` (or set URNE_SKIP_BELENIOS=1)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bel = tmp.path().join("belenios");
    std::fs::create_dir_all(&bel).unwrap();
    // Belenios's own demo (examples/demo.sh of belenios-tool), smaller.
    let script = r#"
set -euo pipefail
export BELENIOS_USE_URANDOM=1
UUID=$(belenios-tool setup generate-token)
printf 'v1@example.com,v1,1\nv2@example.com,v2,1\nv3@example.com,v3,1\nv4@example.com,v4,1\n' > voters.txt
belenios-tool setup generate-credentials --uuid "$UUID" --group BELENIOS-2048 --file voters.txt > /dev/null
mv *.pubcreds public_creds.json; mv *.privcreds private_creds.txt
belenios-tool setup generate-trustee-key --group BELENIOS-2048 > /dev/null
cat *.pubkey > public_keys.jsons
belenios-tool setup make-trustees
rm public_keys.jsons
echo '{"description":"CSE","name":"CSE","questions":[{"answers":["A","B"],"min":0,"max":1,"question":"Q?"}]}' > q.json
belenios-tool setup make-election --uuid "$UUID" --group BELENIOS-2048 --template q.json
belenios-tool archive init
rm -f election.json trustees.json public_creds.json
vote () {
  B="$(belenios-tool election generate-ballot --privcred <(echo "$2") --ballot <(echo "$3"))"
  printf "%s" "$B" | belenios-tool sha256-b64 >> trackers.txt
  echo "$B" | belenios-tool archive add-event --type=Ballot
}
paste private_creds.txt <(printf '[[1,0]]\n[[0,1]]\n[[1,0]]\n[[1,0]]\n') | while read id cred v; do vote "$id" "$cred" "$v"; done
# Voters 1 and 2 vote again; voter 1 a third time.
paste <(head -n 2 private_creds.txt) <(printf '[[0,1]]\n[[1,0]]\n') | while read id cred v; do vote "$id" "$cred" "$v"; done
paste <(head -n 1 private_creds.txt) <(printf '[[1,0]]\n') | while read id cred v; do vote "$id" "$cred" "$v"; done
belenios-tool archive add-event --type=EndBallots < /dev/null
belenios-tool election compute-encrypted-tally | belenios-tool archive add-event --type=EncryptedTally
for u in *.privkey; do belenios-tool election decrypt --privkey "$u" --trustee-id 1 | belenios-tool archive add-event --type=PartialDecryption; done
belenios-tool election compute-result | belenios-tool archive add-event --type=Result
belenios-tool election verify
mkdir archive && tar -xf "$UUID.bel" -C archive
"#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&bel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "belenios-tool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trackers: Vec<String> = std::fs::read_to_string(bel.join("trackers.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(trackers.len(), 7);

    // The archive's events, by height; each file's name is the SHA-256 of its bytes.
    let dir = bel.join("archive");
    let hash_of = |bytes: &[u8]| -> Tag { Tag(Sha256::digest(bytes).into()) };
    let mut events: Vec<(u64, String, Tag, Option<Tag>)> = Vec::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let Some(h) = name.strip_suffix(".event.json") else {
            continue;
        };
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(hash_of(&bytes).to_string(), h, "{name}");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let payload = v["payload"].as_str().map(|p| p.parse::<Tag>().unwrap());
        events.push((
            v["height"].as_u64().unwrap(),
            v["type"].as_str().unwrap().to_string(),
            h.parse().unwrap(),
            payload,
        ));
    }
    events.sort_by_key(|e| e.0);
    let types: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        types,
        [
            "Setup",
            "Ballot",
            "Ballot",
            "Ballot",
            "Ballot",
            "Ballot",
            "Ballot",
            "Ballot",
            "EndBallots",
            "EncryptedTally",
            "PartialDecryption",
            "Result"
        ]
    );
    // Each ballot: its tracker is the base64 of its payload hash; its credential
    // tag is the SHA-256 of its public credential (docs/integration.md).
    let mut ballots = Vec::new();
    for (i, (_, _, _, payload)) in events.iter().filter(|e| e.1 == "Ballot").enumerate() {
        let payload = payload.unwrap();
        let data = std::fs::read(dir.join(format!("{payload}.data.json"))).unwrap();
        assert_eq!(hash_of(&data), payload);
        let tracker = base64::engine::general_purpose::STANDARD_NO_PAD.encode(payload.0);
        assert_eq!(tracker, trackers[i], "Belenios's tracker of ballot {i}");
        let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
        let cred = hash_of(v["credential"].as_str().unwrap().as_bytes());
        ballots.push((payload, cred));
    }

    // urne: the election with `revote last`, then the archive in order.
    let xdg = tmp.path().join("xdg");
    let data = tmp.path().join("log");
    let k = Keys::new();
    let s = Server::start(&data, &k);
    let now = Time::now().0;
    s.ok(&k.stmt(Body::Election(ElectionBody {
        title: "Belenios".into(),
        scrutins: vec![SCRUTIN.into()],
        authorities: vec![
            (Role::Board, k.board.verifier().clone()),
            (Role::Registrar, k.registrar.verifier().clone()),
            (Role::Platform, k.platform.verifier().clone()),
        ],
        quorum: 1,
        tolerance: Some(300),
        grace: Some(1800),
        revote: Revote::Last,
        opens: Time(now - 600),
        closes: Time(now + 86_400),
        roll: None,
    })));
    let event = |ty: &str, hash: Tag, position: u64| {
        let key = match urne_client::statement::belenios_signer(ty) {
            [Role::Platform] => &k.platform,
            _ => &k.board,
        };
        Statement {
            election: ELECTION.into(),
            time: Time::now(),
            body: Body::Event {
                protocol: "belenios".into(),
                event: ty.into(),
                hash,
                position,
            },
        }
        .sign(&[key])
        .unwrap()
    };
    let mut creds: Vec<Tag> = Vec::new();
    for (_, c) in &ballots {
        if !creds.contains(c) {
            creds.push(*c);
        }
    }
    assert_eq!(creds.len(), 4);
    let mut ballot_index = Vec::new();
    let mut next_ballot = 0;
    for (height, ty, hash, payload) in &events {
        match ty.as_str() {
            "Setup" => {
                s.ok(&event(ty, *hash, *height));
                for c in &creds {
                    let voter = hash_of(&[b"voter ".as_slice(), &c.0].concat());
                    s.ok(&k.credential(voter, *c, Channel::Mail, CredentialReason::Initial));
                }
                s.ok(&k.stmt(Body::Open));
            }
            "Ballot" => {
                let (p, c) = ballots[next_ballot];
                assert_eq!(Some(p), *payload);
                next_ballot += 1;
                let a = s.ok(&k.ballot(c, p));
                ballot_index.push(a["index"].as_u64().unwrap());
                s.ok(&event(ty, *hash, *height));
            }
            "EndBallots" => {
                s.ok(&event(ty, *hash, *height));
                s.ok(&k.stmt(Body::Close));
            }
            "Result" => {
                s.ok(&event(ty, *hash, *height));
                s.ok(&k.stmt(Body::Results {
                    scrutin: SCRUTIN.into(),
                    ballots: creds.len() as u64,
                    digest: payload.unwrap(),
                }));
            }
            _ => {
                s.ok(&event(ty, *hash, *height));
            }
        }
    }
    // The chain is checked: a repeat, a gap, the wrong role.
    let (st, v) = s.submit(&event("Result", Tag([9; 32]), 11));
    assert_eq!((st, v["error"].as_str()), (409, Some("event_out_of_order")));
    let (st, v) = s.submit(&event("Result", Tag([9; 32]), 13));
    assert_eq!((st, v["error"].as_str()), (409, Some("event_out_of_order")));
    let by_board = Statement {
        election: ELECTION.into(),
        time: Time::now(),
        body: Body::Event {
            protocol: "belenios".into(),
            event: "Ballot".into(),
            hash: Tag([9; 32]),
            position: 12,
        },
    }
    .sign(&[&k.board])
    .unwrap();
    let (st, v) = s.submit(&by_board);
    assert_eq!((st, v["error"].as_str()), (403, Some("wrong_role")));

    // Every tracker verifies, as Belenios shows it; the superseded ones say so.
    for (i, tracker) in trackers.iter().enumerate() {
        let r = client(
            &xdg,
            &[
                "verify", "--log", &s.url, "--key", &s.key, "--json", tracker,
            ],
        );
        assert_eq!(r.code, 0, "{tracker}: {}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["index"], ballot_index[i]);
        let cred = ballots[i].1;
        let later = (i + 1..ballots.len()).find(|&j| ballots[j].1 == cred);
        match later {
            Some(j) => assert_eq!(v["superseded_by"]["index"], ballot_index[j], "{tracker}"),
            None => assert!(v["superseded_by"].is_null(), "{tracker}: {v}"),
        }
    }
    let state = tmp.path().join("mon");
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
            "--quiet",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The anchored events, read back from the log's tiles, are the archive's.
    let size = get_json(&format!("{}/v1/log", s.url)).unwrap()["tree_size"]
        .as_u64()
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let mut anchored = Vec::new();
    for n in 0..size.div_ceil(256) {
        let width = (size - n * 256).min(256);
        let path = if width == 256 {
            format!("{}/tile/entries/{:03}", s.url, n)
        } else {
            format!("{}/tile/entries/{:03}.p/{width}", s.url, n)
        };
        let body = agent
            .get(&path)
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        for e in urne_client::tiles::decode_entry_bundle(&body).unwrap() {
            let st = urne_client::statement::SignedStatement::parse(&e).unwrap();
            if let Body::Event {
                protocol,
                event,
                hash,
                position,
            } = st.statement.body
            {
                assert_eq!(protocol, "belenios");
                anchored.push((position, event, hash));
            }
        }
    }
    let archive: Vec<(u64, String, Tag)> = events
        .iter()
        .map(|(h, t, hash, _)| (*h, t.clone(), *hash))
        .collect();
    assert_eq!(anchored, archive);
    let election = get_json(&format!("{}/v1/elections/{ELECTION}", s.url)).unwrap();
    assert_eq!(election["state"]["ballots_superseded"], 3);
    assert_eq!(election["state"]["ballots_counted"][SCRUTIN], 4);
    assert_eq!(election["state"]["protocol_events"]["belenios"], 12);
}

/// The monitor checks signatures in batches (`urne_client::signature_batch`): a
/// ballot in the middle of a batch, by the platform's own key (its signature line
/// names the right key, so the block is right) with one bit of its `s` flipped, gets
/// the alert the single verification gives, on exactly that entry, and every other
/// entry of its batch is accepted; `--verify-each` says the same.
#[test]
fn monitor_batch_verification_names_exactly_the_bad_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let data = tmp.path().join("data");
    let k = Keys::new();
    let s = Server::start(&data, &k);
    // Seal, opening, 150 credentials, 60 ballots: entries 0..=211.
    fill(&s, &k, "Test election", 150, 60);
    s.stop();
    let good = k.ballot(tag(61, 0xc0), tag(61, 0xe0));
    let mut st = urne_client::statement::SignedStatement::parse(good.as_bytes()).unwrap();
    st.signatures[0].signature[40] ^= 1;
    let forged = format!(
        "{}\n{}",
        std::str::from_utf8(st.text()).unwrap(),
        st.signatures[0].to_line()
    );
    assert_ne!(forged, good);
    assert!(urne_client::statement::SignedStatement::parse(forged.as_bytes()).is_ok());
    forge_append(&data, tmp.path(), &forged);
    let s = Server::start(&data, &k);
    for v in 62..=150 {
        s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0)));
    }
    let mut seen = Vec::new();
    for (name, flags) in [("batch", &[][..]), ("each", &["--verify-each"][..])] {
        let state = tmp.path().join(name);
        let mut args = vec![
            "monitor",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "--state",
            state.to_str().unwrap(),
            "--once",
            "--quiet",
        ];
        args.extend_from_slice(flags);
        let r = client(&xdg, &args);
        assert_eq!(r.code, 6, "{name}: {}", r.stderr);
        let v = alerts_of(&state, "rule_violation");
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        assert_eq!(v[0]["index"], 212, "{name}: {v:?}");
        assert_eq!(v[0]["evidence"]["code"], "bad_signature", "{name}: {v:?}");
        assert!(
            v[0]["message"]
                .as_str()
                .unwrap()
                .contains("the signature by platform.test does not verify"),
            "{name}: {v:?}"
        );
        let h = monitor_header(&state);
        let counts = &h["reports"][ELECTION]["counts"];
        assert_eq!(counts["credential"], 150, "{name}: {h}");
        assert_eq!(counts["ballot"], 60 + 89, "{name}: {h}");
        assert_eq!(h["reports"][ELECTION]["violations"], 1, "{name}: {h}");
        assert_eq!(h["compact"]["size"], 302, "{name}: {h}");
        seen.push((v[0]["message"].clone(), v[0]["evidence"].clone()));
    }
    assert_eq!(seen[0], seen[1]);
}
