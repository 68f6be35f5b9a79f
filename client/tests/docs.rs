//! The documentation, run: the statement reference's examples are parsed, their
//! signatures verified and the election rules replayed over them; its table of types
//! must be the library's; its incident sequences run as written against a real
//! `urne serve`; and the integration guide's Python example signs and submits a
//! ballot with nothing but a standard Ed25519 library.

mod support;

use std::path::Path;
use std::process::Command;
use support::Server;
use urne_client::authoring;
use urne_client::rules::{self, Context, MemoryState};
use urne_client::statement::{Body, SignedStatement, StatementType};

fn doc(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

/// The fenced blocks of `md` whose info string is `lang`, in order.
fn blocks(md: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for l in md.lines() {
        match &mut cur {
            None if l.trim_end() == format!("```{lang}") => cur = Some(String::new()),
            Some(b) if l.starts_with("```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(l);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn reference_examples_parse_verify_and_replay() {
    let md = doc("statements.md");
    let seq = blocks(&md, "urne");
    assert!(seq.len() >= 12, "{} examples", seq.len());
    let parsed: Vec<SignedStatement> = seq
        .iter()
        .map(|b| SignedStatement::parse(b.as_bytes()).unwrap_or_else(|e| panic!("{e}:\n{b}")))
        .collect();
    let Body::Election(e) = &parsed[0].statement.body else {
        panic!("the first example is not the election")
    };
    // Every type appears in the reference's examples.
    let mut alt = blocks(&md, "urne-alternative");
    // Protocol events: checked for their form (their example key is not the
    // election's; the Belenios scenario test anchors a real archive).
    let events = blocks(&md, "urne-event");
    assert!(!events.is_empty(), "no event example");
    for b in &events {
        let s = SignedStatement::parse(b.as_bytes()).unwrap_or_else(|err| panic!("{err}:\n{b}"));
        assert_eq!(s.statement.statement_type(), StatementType::Event);
    }
    let alt_events = events.len();
    alt.extend(events);
    let alt: Vec<SignedStatement> = alt
        .iter()
        .map(|b| SignedStatement::parse(b.as_bytes()).unwrap_or_else(|err| panic!("{err}:\n{b}")))
        .collect();
    for t in StatementType::ALL {
        assert!(
            parsed
                .iter()
                .chain(&alt)
                .any(|s| s.statement.statement_type() == *t),
            "no example of {t}"
        );
    }
    // Replayed in order as history (no clock), every example is accepted.
    let mut state = MemoryState::new();
    for (i, s) in parsed.iter().enumerate() {
        let ctx = Context {
            index: i as u64,
            now: None,
            tolerance_secs: rules::DEFAULT_TOLERANCE_SECS,
            max_tolerance_secs: None,
        };
        let fx = rules::check(&state, s, None, &ctx).unwrap_or_else(|r| {
            panic!(
                "example {i} ({}) refused: {r}",
                s.statement.statement_type()
            )
        });
        rules::apply(&mut state, fx.writes);
    }
    // The alternative endings are checked for their signatures.
    for s in &alt[..alt.len() - alt_events] {
        rules::verify_signatures(s, &e.authorities, e.quorum).expect("alternative example");
    }
}

#[test]
fn reference_types_table_is_the_library_table() {
    let md = doc("statements.md");
    let mut seen = 0;
    for l in md.lines() {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let Ok(t) = cells[1].trim_matches('`').parse::<StatementType>() else {
            continue;
        };
        let names: Vec<&str> = cells[2].split('`').skip(1).step_by(2).collect();
        let want: Vec<&str> = authoring::fields(t).iter().map(|f| f.name).collect();
        assert_eq!(names, want, "fields of {t} in docs/statements.md");
        let (roles, quorum) = urne_client::statement::required_roles(t);
        assert_eq!(
            cells[3].starts_with("the board quorum"),
            quorum,
            "signers of {t}"
        );
        for r in roles {
            assert!(quorum || cells[3].contains(r.as_str()), "signers of {t}");
        }
        seen += 1;
    }
    assert_eq!(seen, StatementType::ALL.len());
}

/// Runs `script` with bash in `dir`, `urne-client` first on the PATH.
fn bash(dir: &Path, script: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_urne-client"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("XDG_STATE_HOME", dir.join(".xdg"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    eprintln!(
        "--- script exited {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn incident_sequences_run_as_written() {
    let md = doc("statements.md");
    let section = md
        .split("## Replaying the incidents")
        .nth(1)
        .expect("the incidents section");
    let sh = blocks(section, "sh");
    assert!(sh.len() >= 5, "{} sh blocks", sh.len());
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The keys, then the operator's step (done here), then the rest as one script:
    // shell functions and variables carry from block to block, as in one terminal.
    assert!(bash(d, &sh[0], &[]).status.success());
    let president = std::fs::read_to_string(d.join("president.key.pub")).unwrap();
    let s = Server::start(&d.join("data"), &[president.trim().to_string()]);
    let out = bash(
        d,
        &sh[1..].join("\n"),
        &[("URNE_LOG", &s.url), ("URNE_LOG_KEY", &s.key)],
    );
    assert!(out.status.success(), "the incidents' commands failed");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert!(
        read("alerts-1.txt").contains("reissue-leak"),
        "{}",
        read("alerts-1.txt")
    );
    assert!(read("refused.txt").contains("REFUSED ballot-1.txt: ballot_while_suspended:"));
    let a2 = read("alerts-2.txt");
    assert!(a2.contains("helpdesk") && a2.contains("ballot"), "{a2}");
    // election, open, 3 credentials, intervention, 3 reissues, suspend, resume,
    // ballot, helpdesk reissue, impostor's ballot.
    assert_eq!(s.size(), 14);
}

/// The integration guide's example: Python and `cryptography` alone sign a ballot the
/// log accepts, check the answer, and report a refusal with its code.
#[test]
fn python_example_signs_and_submits_a_ballot() {
    use urne_client::note::SignerKey;
    use urne_client::statement::{
        Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let board = SignerKey::from_seed("board.py.test", [1; 32]).unwrap();
    let registrar = SignerKey::from_seed("registrar.py.test", [2; 32]).unwrap();
    // A generated key, whose base64 may hold '+' or '/': the example splits the key
    // file on the first four '+' only.
    let platform = SignerKey::generate("platform.py.test").unwrap();
    std::fs::write(d.join("platform.key"), platform.to_signer_string() + "\n").unwrap();
    let s = Server::start(&d.join("data"), &[board.verifier().to_string()]);
    let st = |body| Statement {
        election: "py".into(),
        time: Time::now(),
        body,
    };
    let post = |text: String| {
        let mut r = ureq::post(format!("{}/v1/statements", s.url))
            .header("Content-Type", "text/plain")
            .send(text)
            .expect("post");
        assert!(
            r.status().is_success(),
            "{}",
            r.body_mut().read_to_string().unwrap()
        );
    };
    let now = Time::now().0;
    post(
        st(Body::Election(ElectionBody {
            title: "Python".into(),
            scrutins: vec!["s1".into()],
            authorities: vec![
                (Role::Board, board.verifier().clone()),
                (Role::Registrar, registrar.verifier().clone()),
                (Role::Platform, platform.verifier().clone()),
            ],
            quorum: 1,
            tolerance: Some(300),
            grace: None,
            revote: Default::default(),
            opens: Time(now - 60),
            closes: Time(now + 3600),
            roll: None,
        }))
        .sign(&[&board])
        .unwrap(),
    );
    post(st(Body::Open).sign(&[&board]).unwrap());
    post(
        st(Body::Credential {
            voter: Tag([7; 32]),
            credential: Tag([8; 32]),
            channel: Channel::Mail,
            reason: CredentialReason::Initial,
        })
        .sign(&[&registrar])
        .unwrap(),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/submit_ballot.py");
    post(
        st(Body::Credential {
            voter: Tag([12; 32]),
            credential: Tag([13; 32]),
            channel: Channel::Mail,
            reason: CredentialReason::Initial,
        })
        .sign(&[&registrar])
        .unwrap(),
    );
    let run = |log_key: &str, credential: u8, receipt: &str| {
        let out = Command::new("python3")
            .arg(&script)
            .args([
                "--log",
                &s.url,
                "--log-key",
                log_key,
                "--key",
                "platform.key",
            ])
            .args(["--election", "py", "--scrutin", "s1"])
            .args([
                "--credential",
                &Tag([credential; 32]).to_string(),
                "--receipt",
                receipt,
            ])
            .current_dir(d)
            .output()
            .expect("python3 (scripts/setup.sh installs it with python3-cryptography)");
        let r = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        eprintln!("python -> {r:?}");
        r
    };
    let receipt = Tag([9; 32]).to_string();
    let (code, out, _) = run(&s.key, 8, &receipt);
    assert_eq!((code, out.trim()), (0, "APPENDED entry 4"));
    // The voter's check of that receipt, with urne-client.
    let r = support::client(d, &["verify", "--log", &s.url, "--key", &s.key, &receipt]);
    assert_eq!(r.code, 0, "{r:?}");
    // A second ballot of the same voter: refused, with its code.
    let (code, out, _) = run(&s.key, 8, &Tag([10; 32]).to_string());
    assert_eq!(code, 7);
    assert!(out.starts_with("REFUSED already_voted: "), "{out}");
    // Another log's key: the answer is not trusted (the statement was still sent).
    let impostor = SignerKey::from_seed(support::ORIGIN, [3; 32]).unwrap();
    let (code, _, err) = run(
        &impostor.verifier().to_string(),
        13,
        &Tag([11; 32]).to_string(),
    );
    assert_eq!(code, 3, "{err}");
    assert_eq!(s.size(), 6);
}
