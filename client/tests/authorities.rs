//! The authorities' commands against a real `urne serve`: a board of three co-signing
//! on three "machines" (three directories, three key files, the statement passed as
//! a file), a registrar's batch killed with SIGKILL halfway and resumed, every refusal
//! code's line and exit code, and answers that must not count (a log key that does
//! not match, a log out of reach).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{client, keygen, time_in, Server};
use urne_client::checkpoint::{TlogProof, WitnessPolicy};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::rules::RefusalCode;
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, SignedStatement, Statement, Tag, Time,
};

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy (the mail between machines)");
}

/// A board of three with quorum 2 seals and opens an election: each member on their
/// own machine, the statement file mailed from one to the next; `inspect` names the
/// missing signature before the second one and is satisfied after it.
#[test]
fn board_of_three_cosigns_on_three_machines() {
    let tmp = tempfile::tempdir().unwrap();
    let m: Vec<_> = ["president", "delegate1", "delegate2", "registrar"]
        .iter()
        .map(|n| tmp.path().join(n))
        .collect();
    let keys: Vec<String> = [
        "president.cse",
        "delegate1.cse",
        "delegate2.cse",
        "registrar.cse",
    ]
    .iter()
    .zip(&m)
    .map(|(n, d)| keygen(d, n))
    .collect();
    let s = Server::start(&tmp.path().join("data"), &[keys[0].clone()]);
    let (url, lk) = (s.url.as_str(), s.key.as_str());
    // The president writes the election and signs it.
    let (opens, closes) = (time_in(-60), time_in(86_400));
    let auth: Vec<String> = (0..3)
        .map(|i| format!("board {}", keys[i]))
        .chain([format!("registrar {}", keys[3])])
        .collect();
    let mut args = vec![
        "statement",
        "new",
        "election",
        "--election",
        "cse-2026",
        "--title",
        "CSE 2026",
        "--scrutin",
        "titulaires",
        "--quorum",
        "2",
        "--tolerance",
        "300",
        "--opens",
        &opens,
        "--closes",
        &closes,
        "--key",
        "president.cse.key",
        "--out",
        "election.txt",
    ];
    for a in &auth {
        args.extend(["--authority", a.as_str()]);
    }
    assert_eq!(client(&m[0], &args).code, 0);
    // Before the second signature: incomplete (8), naming who may still sign.
    let r = client(
        &m[0],
        &[
            "statement",
            "inspect",
            "election.txt",
            "--log",
            url,
            "--key",
            lk,
        ],
    );
    assert_eq!(r.code, 8, "{r:?}");
    assert!(
        r.stdout.contains("signatures: 1 valid of the 2 needed"),
        "{r:?}"
    );
    assert!(r.stdout.contains("missing: 1 more signature(s)"), "{r:?}");
    assert!(r.stdout.contains("delegate2.cse (board)"), "{r:?}");
    assert!(
        !r.stdout.contains("president.cse (board) president"),
        "{r:?}"
    );
    // Mailed to delegate 2, who signs: their line goes after the president's? No:
    // in the election's order (president, delegate1, delegate2).
    copy(&m[0].join("election.txt"), &m[2].join("election.txt"));
    let r = client(
        &m[2],
        &[
            "statement",
            "sign",
            "--key",
            "delegate2.cse.key",
            "election.txt",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = client(
        &m[2],
        &[
            "statement",
            "inspect",
            "election.txt",
            "--log",
            url,
            "--key",
            lk,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("signature block: complete and canonical"),
        "{r:?}"
    );
    assert!(r.stdout.contains("log: would accept it now"), "{r:?}");
    // A third signature is one too many: refused before it is written.
    copy(&m[2].join("election.txt"), &m[1].join("election.txt"));
    let r = client(
        &m[1],
        &[
            "statement",
            "sign",
            "--key",
            "delegate1.cse.key",
            "election.txt",
        ],
    );
    assert_eq!(r.code, 7, "{r:?}");
    let r = client(
        &m[2],
        &[
            "statement",
            "submit",
            "--log",
            url,
            "--key",
            lk,
            "election.txt",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("APPENDED election.txt: entry 0"),
        "{r:?}"
    );
    // The receipt is a C2SP tlog-proof that verifies offline with the library.
    let entry = std::fs::read(m[2].join("election.txt")).unwrap();
    let proof = TlogProof::parse(&std::fs::read(m[2].join("election.txt.proof")).unwrap()).unwrap();
    proof
        .verify(
            &urne_client::tree::record_hash(&entry),
            &VerifierKey::parse(lk).unwrap(),
            &WitnessPolicy::none(),
        )
        .expect("receipt verifies");

    // `open`: delegate 1 writes and signs it with the keys read from the log.
    let r = client(
        &m[1],
        &[
            "statement",
            "new",
            "open",
            "--election",
            "cse-2026",
            "--key",
            "delegate1.cse.key",
            "--log",
            url,
            "--log-key",
            lk,
            "--out",
            "open.txt",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = client(
        &m[1],
        &[
            "statement",
            "inspect",
            "open.txt",
            "--log",
            url,
            "--key",
            lk,
        ],
    );
    assert_eq!(r.code, 8, "{r:?}");
    assert!(r.stdout.contains("missing: 1 more signature(s)"), "{r:?}");
    assert!(r.stdout.contains("quorum_not_met"), "{r:?}");
    // Submitted anyway, the log says the same.
    let r = client(
        &m[1],
        &["statement", "submit", "--log", url, "--key", lk, "open.txt"],
    );
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stdout.contains("REFUSED open.txt: quorum_not_met:"),
        "{r:?}"
    );
    // The president co-signs on their machine: the line goes first.
    copy(&m[1].join("open.txt"), &m[0].join("open.txt"));
    let r = client(
        &m[0],
        &[
            "statement",
            "sign",
            "--key",
            "president.cse.key",
            "--election-file",
            "election.txt",
            "open.txt",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let signed = SignedStatement::parse(&std::fs::read(m[0].join("open.txt")).unwrap()).unwrap();
    let names: Vec<&str> = signed.signatures.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["president.cse", "delegate1.cse"]);
    let r = client(
        &m[0],
        &[
            "statement",
            "inspect",
            "open.txt",
            "--log",
            url,
            "--key",
            lk,
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    let r = client(
        &m[0],
        &["statement", "submit", "--log", url, "--key", lk, "open.txt"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("APPENDED open.txt: entry 1"), "{r:?}");
    // Sent again, with the other pair of signatures: the same statement.
    copy(&m[1].join("open.txt"), &m[2].join("open.txt"));
    client(
        &m[2],
        &[
            "statement",
            "sign",
            "--key",
            "delegate2.cse.key",
            "--log",
            url,
            "--log-key",
            lk,
            "open.txt",
        ],
    );
    let r = client(
        &m[2],
        &["statement", "submit", "--log", url, "--key", lk, "open.txt"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("DUPLICATE open.txt: entry 1"), "{r:?}");
    assert_eq!(s.size(), 2);
    // Now open, inspect says so for a second `open`.
    let r = client(
        &m[0],
        &[
            "statement",
            "new",
            "open",
            "--election",
            "cse-2026",
            "--time",
            &time_in(5),
            "--key",
            "president.cse.key",
        ],
    );
    std::fs::write(m[0].join("open2.txt"), r.stdout).unwrap();
    client(
        &m[0],
        &[
            "statement",
            "sign",
            "--key",
            "../delegate1/delegate1.cse.key",
            "--election-file",
            "election.txt",
            "open2.txt",
        ],
    );
    let r = client(
        &m[0],
        &[
            "statement",
            "inspect",
            "open2.txt",
            "--log",
            url,
            "--key",
            lk,
        ],
    );
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stdout
            .contains("log: would refuse it now: invalid_transition"),
        "{r:?}"
    );
}

/// Writes the registrar's input: `n` first credentials.
fn credentials_input(path: &Path, election: &str, n: usize) {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(n * 200);
    for i in 0..n {
        let v = Tag(sha(&format!("voter {i}")));
        let c = Tag(sha(&format!("credential {i}")));
        let _ = writeln!(
            s,
            r#"{{"type":"credential","election":"{election}","voter":"{v}","credential":"{c}","channel":"mail","reason":"initial"}}"#
        );
    }
    std::fs::write(path, s).unwrap();
}

fn sha(s: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).into()
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// 10,000 credentials, the client killed with SIGKILL halfway, then resumed: exactly
/// 10,000 entries, each input line answered once with a receipt.
#[test]
fn registrar_batch_killed_halfway_and_resumed() {
    const N: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let board = keygen(d, "board.cse");
    let registrar = keygen(d, "registrar.cse");
    let s = Server::start(&d.join("data"), std::slice::from_ref(&board));
    let (url, lk) = (s.url.as_str(), s.key.as_str());
    let (opens, closes) = (time_in(-60), time_in(86_400));
    let (ab, ar) = (format!("board {board}"), format!("registrar {registrar}"));
    let r = client(
        d,
        &[
            "statement",
            "new",
            "election",
            "--election",
            "cse-big",
            "--title",
            "Big",
            "--scrutin",
            "s1",
            "--authority",
            &ab,
            "--authority",
            &ar,
            "--quorum",
            "1",
            "--tolerance",
            "300",
            "--opens",
            &opens,
            "--closes",
            &closes,
            "--key",
            "board.cse.key",
            "--out",
            "election.txt",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(
        client(
            d,
            &[
                "statement",
                "submit",
                "--log",
                url,
                "--key",
                lk,
                "election.txt"
            ]
        )
        .code,
        0
    );
    credentials_input(&d.join("creds.jsonl"), "cse-big", N);
    let args = [
        "statement",
        "batch",
        "--log",
        url,
        "--key",
        lk,
        "--sign-key",
        "registrar.cse.key",
        "--input",
        "creds.jsonl",
        "--chunk",
        "1000",
        "--concurrency",
        "32",
    ];
    let started = Instant::now();
    let mut child = Command::new(support::client_bin())
        .args(args)
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill -9 once half the receipts are written (in the middle of a chunk of 1,000,
    // with statements in flight).
    let receipts = d.join("creds.jsonl.receipts");
    let deadline = Instant::now() + Duration::from_secs(300);
    while lines(&receipts) < N / 2 + 437 {
        assert!(Instant::now() < deadline, "batch too slow");
        assert!(
            child.try_wait().unwrap().is_none(),
            "batch ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = s.size();
    eprintln!(
        "killed after {:?} with {at_kill} entries in the log",
        started.elapsed()
    );
    assert!(
        at_kill < 1 + N as u64,
        "the kill came too late to test a resume"
    );
    // Lose the last 100 receipts too (a power cut before they reached the disk): the
    // resumed run sends those statements again, and the log must answer them as
    // duplicates, not append second copies.
    let kept: Vec<String> = std::fs::read_to_string(&receipts)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let keep = kept.len().saturating_sub(100);
    std::fs::write(&receipts, kept[..keep].join("\n") + "\n").unwrap();
    let r = client(d, &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("resuming"), "{r:?}");
    let dups: u64 = r
        .stdout
        .split(" appended, ")
        .nth(1)
        .and_then(|x| x.split(' ').next())
        .and_then(|x| x.parse().ok())
        .expect("summary");
    assert!(dups >= 100, "{r:?}");
    eprintln!("whole batch with the kill: {:?}", started.elapsed());
    // Exactly N credentials: nothing lost, nothing twice.
    assert_eq!(s.size(), 1 + N as u64);
    let text = std::fs::read_to_string(&receipts).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut indexes = std::collections::HashSet::new();
    for l in text.lines().filter(|l| !l.is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(l) else {
            continue; // the line the kill cut short
        };
        let st = v["status"].as_str().unwrap();
        assert!(st == "appended" || st == "duplicate", "{l}");
        let line = v["line"].as_u64().unwrap();
        let index = v["index"].as_u64().unwrap();
        if seen.insert(line) {
            assert!(indexes.insert(index), "two input lines at entry {index}");
        }
        TlogProof::parse(v["tlog_proof"].as_str().unwrap().as_bytes()).unwrap();
    }
    assert_eq!(seen.len(), N);
    // A third run has nothing left to do.
    let r = client(d, &args);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("0 sent"), "{r:?}");
    assert_eq!(s.size(), 1 + N as u64);
}

/// The authorities of the refusal test, with key files in `dir`.
struct Auth {
    b: Vec<SignerKey>,
    r: SignerKey,
    p: SignerKey,
}

impl Auth {
    fn election(&self, id: &str, tolerance: Option<u64>, opens: i64) -> Statement {
        Statement {
            election: id.into(),
            time: Time::now(),
            body: Body::Election(ElectionBody {
                title: "Refusals".into(),
                scrutins: vec!["s1".into()],
                authorities: self
                    .b
                    .iter()
                    .map(|k| (Role::Board, k.verifier().clone()))
                    .chain([
                        (Role::Registrar, self.r.verifier().clone()),
                        (Role::Platform, self.p.verifier().clone()),
                    ])
                    .collect(),
                quorum: 2,
                tolerance,
                grace: None,
                revote: Default::default(),
                opens: Time(Time::now().0 + opens),
                closes: Time(Time::now().0 + 86_400),
                roll: None,
            }),
        }
    }
}

fn st(id: &str, dt: i64, body: Body) -> Statement {
    Statement {
        election: id.into(),
        time: Time(Time::now().0 + dt),
        body,
    }
}

fn t(n: u8) -> Tag {
    Tag([n; 32])
}

fn cred(v: u8, c: u8, channel: Channel, reason: CredentialReason) -> Body {
    Body::Credential {
        voter: t(v),
        credential: t(c),
        channel,
        reason,
    }
}

fn ballot(c: u8, receipt: u8, scrutin: &str) -> Body {
    Body::Ballot {
        scrutin: scrutin.into(),
        credential: t(c),
        receipt: t(receipt),
    }
}

/// Every refusal code a client can meet, each with its line and exit code 7 (the
/// local ones are refused before sending, with the same code the log would give);
/// the accepted steps between them with exit 0.
#[test]
fn each_refusal_code_has_its_line_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let a = Auth {
        b: (1..=3)
            .map(|i| SignerKey::from_seed(&format!("board{i}.test"), [i; 32]).unwrap())
            .collect(),
        r: SignerKey::from_seed("registrar.test", [4; 32]).unwrap(),
        p: SignerKey::from_seed("platform.test", [5; 32]).unwrap(),
    };
    let stranger = SignerKey::from_seed("stranger.test", [6; 32]).unwrap();
    let s = Server::start(&d.join("data"), &[a.b[0].verifier().to_string()]);
    let (url, lk) = (s.url.clone(), s.key.clone());
    let quorum = |x: &Statement| x.sign(&[&a.b[0], &a.b[1]]).unwrap();
    let mut n = 0;
    let mut step = |bytes: &[u8], want: Option<&str>| {
        n += 1;
        let f = format!("s{n:02}.txt");
        std::fs::write(d.join(&f), bytes).unwrap();
        let r = client(d, &["statement", "submit", "--log", &url, "--key", &lk, &f]);
        match want {
            None => {
                assert_eq!(r.code, 0, "step {n}: {r:?}");
                assert!(
                    r.stdout.starts_with(&format!("APPENDED {f}: entry ")),
                    "{r:?}"
                );
            }
            Some(code) => {
                assert_eq!(r.code, 7, "step {n} ({code}): {r:?}");
                assert!(
                    r.stdout.starts_with(&format!("REFUSED {f}: {code}: ")),
                    "step {n} ({code}): {r:?}"
                );
            }
        }
    };
    let e = "cse-r";
    let mut codes = Vec::new();
    let mut want = |c: RefusalCode| {
        codes.push(c);
        Some(c.as_str())
    };
    // Refused by the client itself, with the log's code.
    step(b"hello", want(RefusalCode::Malformed));
    step(
        b"urne/v1 party\nelection e\ntime 2026-01-01T00:00:00Z\n\n\xe2\x80\x94 x AAAA\n",
        want(RefusalCode::Malformed),
    );
    let mut unknown = quorum(&st(e, 0, Body::Open));
    unknown = unknown.replacen("urne/v1 open", "urne/v1 party", 1);
    step(unknown.as_bytes(), want(RefusalCode::UnknownType));
    let bad_field = quorum(&st(e, 0, Body::Open)).replacen("time ", "time x", 1);
    step(bad_field.as_bytes(), want(RefusalCode::BadField));
    let spaced = quorum(&st(e, 0, Body::Open)).replacen("election cse-r", "election  cse-r", 1);
    step(spaced.as_bytes(), want(RefusalCode::NotCanonical));
    step(&vec![b'a'; 17 * 1024], want(RefusalCode::TooLarge));
    // Elections.
    step(
        quorum(&a.election(e, None, -60)).as_bytes(),
        want(RefusalCode::ToleranceMissing),
    );
    step(
        quorum(&a.election(e, Some(3600), -60)).as_bytes(),
        want(RefusalCode::ToleranceOutOfBounds),
    );
    let other = Statement {
        body: match a.election(e, Some(300), -60).body {
            Body::Election(mut b) => {
                b.authorities[0] = (Role::Board, stranger.verifier().clone());
                Body::Election(b)
            }
            _ => unreachable!(),
        },
        ..a.election(e, Some(300), -60)
    };
    let r = other.sign(&[&stranger, &a.b[1]]).unwrap();
    std::fs::write(d.join("foreign.txt"), &r).unwrap();
    let out = client(
        d,
        &[
            "statement",
            "submit",
            "--log",
            &url,
            "--key",
            &lk,
            "foreign.txt",
        ],
    );
    assert_eq!(out.code, 7, "{out:?}");
    assert!(
        out.stdout
            .starts_with("REFUSED foreign.txt: election_not_authorized: "),
        "{out:?}"
    );
    step(quorum(&a.election(e, Some(300), -60)).as_bytes(), None);
    let mut again = a.election(e, Some(300), -60);
    again.time = Time(again.time.0 + 1);
    step(quorum(&again).as_bytes(), want(RefusalCode::ElectionExists));
    step(
        quorum(&st("nope", 0, Body::Open)).as_bytes(),
        want(RefusalCode::UnknownElection),
    );
    // Signature blocks.
    step(
        st(e, 0, Body::Open).sign(&[&a.b[0]]).unwrap().as_bytes(),
        want(RefusalCode::QuorumNotMet),
    );
    step(
        st(e, 0, Body::Open)
            .sign(&[&a.b[0], &stranger])
            .unwrap()
            .as_bytes(),
        want(RefusalCode::BadSignatureBlock),
    );
    step(
        st(e, 0, Body::Open)
            .sign(&[&a.b[1], &a.b[0]])
            .unwrap()
            .as_bytes(),
        want(RefusalCode::BadSignatureBlock),
    );
    step(
        st(e, 0, Body::Open)
            .sign(&[&a.b[0], &a.r])
            .unwrap()
            .as_bytes(),
        want(RefusalCode::WrongRole),
    );
    let open = st(e, 0, Body::Open);
    let forged = {
        let good = quorum(&open);
        let other = quorum(&st(e, 1, Body::Open));
        let last = |s: &str| s.lines().last().unwrap().to_string();
        good.replace(&last(&good), &last(&other))
    };
    step(forged.as_bytes(), want(RefusalCode::BadSignature));
    // Credentials before the opening.
    let reg = |x: &Statement| x.sign(&[&a.r]).unwrap();
    let plat = |x: &Statement| x.sign(&[&a.p]).unwrap();
    step(
        reg(&st(
            e,
            -3600,
            cred(1, 11, Channel::Mail, CredentialReason::Initial),
        ))
        .as_bytes(),
        want(RefusalCode::TimeSkew),
    );
    step(
        reg(&st(
            e,
            0,
            cred(1, 11, Channel::Mail, CredentialReason::Initial),
        ))
        .as_bytes(),
        None,
    );
    step(
        reg(&st(
            e,
            0,
            cred(2, 12, Channel::Mail, CredentialReason::ReissueLost),
        ))
        .as_bytes(),
        want(RefusalCode::CredentialReasonMismatch),
    );
    step(
        reg(&st(
            e,
            0,
            cred(3, 11, Channel::Mail, CredentialReason::Initial),
        ))
        .as_bytes(),
        want(RefusalCode::CredentialExists),
    );
    step(
        reg(&st(
            e,
            0,
            cred(1, 13, Channel::Batch, CredentialReason::ReissueLeak),
        ))
        .as_bytes(),
        want(RefusalCode::ReissueNotAnnounced),
    );
    step(
        plat(&st(e, 0, ballot(11, 21, "s1"))).as_bytes(),
        want(RefusalCode::BallotBeforeOpen),
    );
    // Open, then ballots.
    step(quorum(&st(e, 0, Body::Open)).as_bytes(), None);
    step(
        quorum(&st(e, 1, Body::Resume { reason: "r".into() })).as_bytes(),
        want(RefusalCode::InvalidTransition),
    );
    step(
        quorum(&st(e, -10, Body::Suspend { reason: "r".into() })).as_bytes(),
        want(RefusalCode::LifecycleOutOfOrder),
    );
    step(
        plat(&st(e, 0, ballot(11, 21, "nope"))).as_bytes(),
        want(RefusalCode::UnknownScrutin),
    );
    step(
        plat(&st(e, 0, ballot(99, 21, "s1"))).as_bytes(),
        want(RefusalCode::CredentialUnknown),
    );
    // Dated before the open of the current voting period (within the tolerance).
    step(
        plat(&st(e, -200, ballot(11, 21, "s1"))).as_bytes(),
        want(RefusalCode::BallotBackdated),
    );
    step(plat(&st(e, 0, ballot(11, 21, "s1"))).as_bytes(), None);
    step(
        plat(&st(e, 0, ballot(11, 22, "s1"))).as_bytes(),
        want(RefusalCode::AlreadyVoted),
    );
    step(
        reg(&st(
            e,
            0,
            cred(3, 13, Channel::Mail, CredentialReason::Initial),
        ))
        .as_bytes(),
        None,
    );
    step(
        plat(&st(e, 0, ballot(13, 21, "s1"))).as_bytes(),
        want(RefusalCode::DuplicateReceipt),
    );
    step(
        reg(&st(
            e,
            0,
            Body::Revoke {
                credential: t(13),
                reason: "lost".into(),
            },
        ))
        .as_bytes(),
        None,
    );
    step(
        plat(&st(e, 0, ballot(13, 23, "s1"))).as_bytes(),
        want(RefusalCode::CredentialRevoked),
    );
    step(
        quorum(&st(
            e,
            2,
            Body::Suspend {
                reason: "outage".into(),
            },
        ))
        .as_bytes(),
        None,
    );
    step(
        plat(&st(e, 3, ballot(11, 24, "s1"))).as_bytes(),
        want(RefusalCode::BallotWhileSuspended),
    );
    step(quorum(&st(e, 4, Body::Close)).as_bytes(), None);
    step(
        plat(&st(e, 5, ballot(11, 24, "s1"))).as_bytes(),
        want(RefusalCode::BallotAfterClose),
    );
    let results = |dt, digest| {
        st(
            e,
            dt,
            Body::Results {
                scrutin: "s1".into(),
                ballots: 1,
                digest: t(digest),
            },
        )
    };
    let miscounted = st(
        e,
        6,
        Body::Results {
            scrutin: "s1".into(),
            ballots: 2,
            digest: t(1),
        },
    );
    step(
        quorum(&miscounted).as_bytes(),
        want(RefusalCode::ResultsCountMismatch),
    );
    step(quorum(&results(6, 1)).as_bytes(), None);
    step(
        quorum(&results(7, 2)).as_bytes(),
        want(RefusalCode::ResultsExists),
    );
    // An election sealed at its close (`grace 0`): only counting goes on; a protocol
    // event out of its chain's order.
    let e3 = "cse-r3";
    let sealed = Statement {
        body: match a.election(e3, Some(300), -60).body {
            Body::Election(mut b) => {
                b.grace = Some(0);
                Body::Election(b)
            }
            _ => unreachable!(),
        },
        ..a.election(e3, Some(300), -60)
    };
    step(quorum(&sealed).as_bytes(), None);
    let st3 = |dt, body| Statement {
        election: e3.into(),
        time: Time(Time::now().0 + dt),
        body,
    };
    step(quorum(&st3(0, Body::Open)).as_bytes(), None);
    step(quorum(&st3(1, Body::Close)).as_bytes(), None);
    step(
        plat(&st3(
            2,
            Body::Intervention {
                actor: "ops".into(),
                action: "restart".into(),
                reason: "after the seal".into(),
                reissues: None,
            },
        ))
        .as_bytes(),
        want(RefusalCode::ElectionSealed),
    );
    step(
        plat(&st3(
            2,
            Body::Event {
                protocol: "belenios".into(),
                event: "Ballot".into(),
                hash: t(50),
                position: 1,
            },
        ))
        .as_bytes(),
        want(RefusalCode::EventOutOfOrder),
    );
    // A second election: schedule and void.
    let e2 = "cse-r2";
    step(quorum(&a.election(e2, Some(300), 3600)).as_bytes(), None);
    let st2 = |dt, body| Statement {
        election: e2.into(),
        time: Time(Time::now().0 + dt),
        body,
    };
    step(quorum(&st2(0, Body::Open)).as_bytes(), None);
    step(
        reg(&st2(
            0,
            cred(1, 31, Channel::Mail, CredentialReason::Initial),
        ))
        .as_bytes(),
        None,
    );
    step(
        plat(&st2(0, ballot(31, 41, "s1"))).as_bytes(),
        want(RefusalCode::BallotOutsideSchedule),
    );
    step(
        quorum(&st2(
            1,
            Body::Void {
                reason: "court".into(),
                authorisation: "TJ 2026-1".into(),
            },
        ))
        .as_bytes(),
        None,
    );
    step(
        quorum(&st2(2, Body::Close)).as_bytes(),
        want(RefusalCode::ElectionVoid),
    );
    // Codes a client cannot meet on a live log: `duplicate_statement` (a replay is
    // answered as the earlier entry, see the board test), `legacy_election` (no
    // live log seals a rules-1 election), `state_unavailable` (a storage failure).
    let unreachable = [
        RefusalCode::DuplicateStatement,
        RefusalCode::LegacyElection,
        RefusalCode::StateUnavailable,
    ];
    let all = docs_codes();
    for c in all {
        assert!(
            codes.contains(&c) || unreachable.contains(&c),
            "refusal code {} has no step in this test",
            c.as_str()
        );
    }
}

/// Every refusal code, parsed from the statement reference (docs/statements.md), so
/// a code added to the rules and left out of the reference fails here.
fn docs_codes() -> Vec<RefusalCode> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/statements.md"
    ))
    .expect("docs/statements.md");
    let mut out = Vec::new();
    for l in doc.lines() {
        if let Some(rest) = l.strip_prefix("| `") {
            let code = rest.split('`').next().unwrap_or_default();
            if let Ok(c) = serde_json::from_value::<RefusalCode>(serde_json::json!(code)) {
                out.push(c);
            }
        }
    }
    assert!(out.len() >= 30, "the reference lists {} codes", out.len());
    out
}

/// An answer that does not verify under the given log key is a failure (3), not a
/// success; a log out of reach is 5; nothing is written as a receipt.
#[test]
fn answers_that_do_not_verify_and_logs_out_of_reach() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let board = keygen(d, "board.cse");
    let s = Server::start(&d.join("data"), std::slice::from_ref(&board));
    let ab = format!("board {board}");
    let (opens, closes) = (time_in(-60), time_in(86_400));
    client(
        d,
        &[
            "statement",
            "new",
            "election",
            "--election",
            "cse-x",
            "--title",
            "X",
            "--scrutin",
            "s1",
            "--authority",
            &ab,
            "--quorum",
            "1",
            "--tolerance",
            "300",
            "--opens",
            &opens,
            "--closes",
            &closes,
            "--key",
            "board.cse.key",
            "--out",
            "e.txt",
        ],
    );
    // Another log's key, same origin: the checkpoint signature does not verify.
    let impostor = SignerKey::from_seed(support::ORIGIN, [9; 32]).unwrap();
    let r = client(
        d,
        &[
            "statement",
            "submit",
            "--log",
            &s.url,
            "--key",
            &impostor.verifier().to_string(),
            "e.txt",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.starts_with("FAILED e.txt: PROOF FAILED"), "{r:?}");
    assert!(!d.join("e.txt.proof").exists());
    // Out of reach.
    let r = client(
        d,
        &[
            "statement",
            "submit",
            "--log",
            "http://127.0.0.1:9",
            "--key",
            &s.key,
            "e.txt",
        ],
    );
    assert_eq!(r.code, 5, "{r:?}");
    // A junk key file and a junk statement: errors naming the file, no secret quoted.
    std::fs::write(d.join("junk.key"), "PRIVATE+KEY+x+00000000+AAAA\n").unwrap();
    let r = client(d, &["statement", "sign", "--key", "junk.key", "e.txt"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("junk.key is not a signer key file") && !r.stderr.contains("AAAA"),
        "{r:?}"
    );
    std::fs::write(d.join("junk.txt"), "urne/v1 open\nelection x\n").unwrap();
    let r = client(d, &["statement", "inspect", "junk.txt"]);
    assert_eq!(r.code, 7, "{r:?}");
    // The same statement over a good key: appended.
    let r = client(
        d,
        &[
            "statement",
            "submit",
            "--log",
            &s.url,
            "--key",
            &s.key,
            "e.txt",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
}

/// A batch checks every input line before sending any (a typo on a late line stops it
/// with nothing sent), and records a refusal in its receipts with the stable code.
#[test]
fn batch_checks_every_line_first_and_records_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let board = keygen(d, "board.cse");
    let registrar = keygen(d, "registrar.cse");
    let s = Server::start(&d.join("data"), std::slice::from_ref(&board));
    let (url, lk) = (s.url.as_str(), s.key.as_str());
    let (opens, closes) = (time_in(-60), time_in(86_400));
    let (ab, ar) = (format!("board {board}"), format!("registrar {registrar}"));
    client(
        d,
        &[
            "statement",
            "new",
            "election",
            "--election",
            "cse-b",
            "--title",
            "B",
            "--scrutin",
            "s1",
            "--authority",
            &ab,
            "--authority",
            &ar,
            "--quorum",
            "1",
            "--tolerance",
            "300",
            "--opens",
            &opens,
            "--closes",
            &closes,
            "--key",
            "board.cse.key",
            "--out",
            "e.txt",
        ],
    );
    assert_eq!(
        client(
            d,
            &["statement", "submit", "--log", url, "--key", lk, "e.txt"]
        )
        .code,
        0
    );
    let line = |v: u8, c: u8, channel: &str| {
        format!(
            r#"{{"type":"credential","election":"cse-b","voter":"{}","credential":"{}","channel":"{channel}","reason":"initial"}}"#,
            Tag([v; 32]),
            Tag([c; 32])
        )
    };
    let args = [
        "statement",
        "batch",
        "--log",
        url,
        "--key",
        lk,
        "--sign-key",
        "registrar.cse.key",
        "--input",
        "in.jsonl",
        "--concurrency",
        "1", // in order: line 2 is the one refused
    ];
    // Line 3 names a channel that does not exist: nothing is sent.
    let bad = [line(1, 11, "mail"), line(2, 12, "mail"), line(3, 13, "fax")].join("\n");
    std::fs::write(d.join("in.jsonl"), bad).unwrap();
    let r = client(d, &args);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("input line 3"), "{r:?}");
    assert_eq!(s.size(), 1);
    assert!(!d.join("in.jsonl.journal").exists() || lines(&d.join("in.jsonl.journal")) == 0);
    // Line 2 reuses line 1's credential tag: refused, recorded, exit 7.
    let good = [
        line(1, 11, "mail"),
        line(2, 11, "mail"),
        line(3, 13, "postal"),
    ]
    .join("\n");
    std::fs::write(d.join("in.jsonl"), good).unwrap();
    let r = client(d, &args);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stdout.contains("2 appended, 0 already logged, 1 refused"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("REFUSED input line 2: credential_exists:"),
        "{r:?}"
    );
    let receipts = std::fs::read_to_string(d.join("in.jsonl.receipts")).unwrap();
    let refused: Vec<serde_json::Value> = receipts
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["status"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0]["line"].as_u64(), refused[0]["code"].as_str()),
        (Some(2), Some("credential_exists"))
    );
    assert_eq!(s.size(), 3);
}
