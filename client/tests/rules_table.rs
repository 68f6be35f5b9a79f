//! The election rules, walked as a table: a whole election with real Ed25519 keys,
//! each step's outcome asserted by its stable code, and every refused step shown to
//! leave the state unchanged. Then conflicts inside one batch.

use urne_client::note::SignerKey;
use urne_client::rules::*;
use urne_client::statement::*;
use urne_client::test_kit::DemoKeys;

struct Election {
    board: Vec<SignerKey>,
    registrar: SignerKey,
    platform: SignerKey,
    t0: i64,
}

impl Election {
    fn new() -> Self {
        let k = DemoKeys::fixed();
        Election {
            board: k.board,
            registrar: k.registrar,
            platform: k.platform,
            t0: 1_796_119_203,
        }
    }

    fn st(&self, dt: i64, body: Body) -> Statement {
        Statement {
            election: "cse".into(),
            time: Time(self.t0 + dt),
            body,
        }
    }

    fn seal(&self, dt: i64) -> String {
        let mut authorities: Vec<_> = self
            .board
            .iter()
            .map(|k| (Role::Board, k.verifier().clone()))
            .collect();
        authorities.push((Role::Registrar, self.registrar.verifier().clone()));
        authorities.push((Role::Platform, self.platform.verifier().clone()));
        let body = ElectionBody {
            title: "CSE".into(),
            scrutins: vec!["s1".into(), "s2".into()],
            authorities,
            quorum: 2,
            opens: Time(self.t0),
            closes: Time(self.t0 + 10_000),
            tolerance: Some(300),
            grace: None,
            revote: Default::default(),
            roll: None,
        };
        self.st(dt, Body::Election(body))
            .sign(&[&self.board[0], &self.board[2]])
            .unwrap()
    }

    fn board(&self, dt: i64, body: Body) -> String {
        self.st(dt, body)
            .sign(&[&self.board[0], &self.board[1]])
            .unwrap()
    }

    fn cred(
        &self,
        dt: i64,
        voter: u8,
        cred: u8,
        channel: Channel,
        reason: CredentialReason,
    ) -> String {
        self.st(
            dt,
            Body::Credential {
                voter: Tag([voter; 32]),
                credential: Tag([cred; 32]),
                channel,
                reason,
            },
        )
        .sign(&[&self.registrar])
        .unwrap()
    }

    fn ballot(&self, dt: i64, scrutin: &str, cred: u8, receipt: u8) -> String {
        self.st(
            dt,
            Body::Ballot {
                scrutin: scrutin.into(),
                credential: Tag([cred; 32]),
                receipt: Tag([receipt; 32]),
            },
        )
        .sign(&[&self.platform])
        .unwrap()
    }
}

struct Log {
    state: MemoryState,
    size: u64,
}

impl Log {
    /// Checks a statement at the log's clock `now` and applies it if accepted.
    fn submit(&mut self, text: &str, now: i64) -> &'static str {
        let stmt = match SignedStatement::parse(text.as_bytes()) {
            Ok(s) => s,
            Err(e) => return e.code(),
        };
        let before = self.state.clone();
        let ctx = Context {
            index: self.size,
            now: Some(Time(now)),
            tolerance_secs: 300,
            max_tolerance_secs: None,
        };
        match check(&self.state, &stmt, None, &ctx) {
            Ok(effects) => {
                apply(&mut self.state, effects.writes);
                self.size += 1;
                "ok"
            }
            Err(r) => {
                assert_eq!(self.state, before, "a refusal changes nothing");
                r.code.as_str()
            }
        }
    }
}

#[test]
fn a_whole_election_step_by_step() {
    let e = Election::new();
    let mut log = Log {
        state: MemoryState::new(),
        size: 0,
    };
    let t = e.t0;
    let other = SignerKey::from_seed("intruder", [9; 32]).unwrap();
    let steps: Vec<(&str, String, i64, &str)> = vec![
        (
            "ballot of an unknown election",
            e.ballot(0, "s1", 10, 100),
            t,
            "unknown_election",
        ),
        ("seal with 2 of 3 board keys", e.seal(-100), t - 100, "ok"),
        ("seal again", e.seal(-99), t - 99, "election_exists"),
        (
            "credential for voter 1",
            e.cred(-90, 1, 10, Channel::Mail, CredentialReason::Initial),
            t - 90,
            "ok",
        ),
        (
            "credential for voter 2",
            e.cred(-90, 2, 20, Channel::Postal, CredentialReason::Initial),
            t - 90,
            "ok",
        ),
        (
            "credential for voter 3",
            e.cred(-90, 3, 30, Channel::Sms, CredentialReason::Initial),
            t - 90,
            "ok",
        ),
        (
            "same credential tag again",
            e.cred(-89, 4, 30, Channel::Sms, CredentialReason::Initial),
            t - 89,
            "credential_exists",
        ),
        (
            "ballot before opening",
            e.ballot(-80, "s1", 10, 100),
            t - 80,
            "ballot_before_open",
        ),
        (
            "open with one board signature",
            e.st(0, Body::Open).sign(&[&e.board[0]]).unwrap(),
            t,
            "quorum_not_met",
        ),
        (
            "open signed by the registrar",
            e.st(0, Body::Open).sign(&[&e.registrar]).unwrap(),
            t,
            "wrong_role",
        ),
        (
            "open signed by a stranger",
            e.st(0, Body::Open).sign(&[&other]).unwrap(),
            t,
            "bad_signature_block",
        ),
        (
            "open signed by three board keys (the quorum is two)",
            e.st(0, Body::Open)
                .sign(&[&e.board[0], &e.board[1], &e.board[2]])
                .unwrap(),
            t,
            "bad_signature_block",
        ),
        (
            "open signed by two board keys out of the election's order",
            e.st(0, Body::Open)
                .sign(&[&e.board[1], &e.board[0]])
                .unwrap(),
            t,
            "bad_signature_block",
        ),
        ("open", e.board(0, Body::Open), t, "ok"),
        (
            "open again",
            e.board(1, Body::Open),
            t + 1,
            "invalid_transition",
        ),
        (
            "resume while open",
            e.board(1, Body::Resume { reason: "x".into() }),
            t + 1,
            "invalid_transition",
        ),
        (
            "ballot, voter 1, s1",
            e.ballot(10, "s1", 10, 100),
            t + 10,
            "ok",
        ),
        (
            "ballot signed by the registrar",
            e.st(
                11,
                Body::Ballot {
                    scrutin: "s1".into(),
                    credential: Tag([20; 32]),
                    receipt: Tag([101; 32]),
                },
            )
            .sign(&[&e.registrar])
            .unwrap(),
            t + 11,
            "wrong_role",
        ),
        (
            "ballot in an unknown scrutin",
            e.ballot(11, "s9", 20, 101),
            t + 11,
            "unknown_scrutin",
        ),
        (
            "ballot with an unknown credential",
            e.ballot(11, "s1", 99, 101),
            t + 11,
            "credential_unknown",
        ),
        (
            "ballot with a reused receipt",
            e.ballot(11, "s2", 20, 100),
            t + 11,
            "duplicate_receipt",
        ),
        (
            "ballot far from the log's clock",
            e.ballot(11, "s1", 20, 101),
            t + 1000,
            "time_skew",
        ),
        (
            "ballot far before the previous entry",
            e.ballot(-400, "s1", 20, 101),
            t - 390,
            "time_skew",
        ),
        (
            "suspend",
            e.board(
                20,
                Body::Suspend {
                    reason: "panne".into(),
                },
            ),
            t + 20,
            "ok",
        ),
        (
            "the same suspend, signed by other board keys (a replay of its text)",
            e.st(
                20,
                Body::Suspend {
                    reason: "panne".into(),
                },
            )
            .sign(&[&e.board[0], &e.board[2]])
            .unwrap(),
            t + 20,
            "duplicate_statement",
        ),
        (
            "ballot while suspended",
            e.ballot(21, "s1", 20, 101),
            t + 21,
            "ballot_while_suspended",
        ),
        (
            "suspend again",
            e.board(
                22,
                Body::Suspend {
                    reason: "encore".into(),
                },
            ),
            t + 22,
            "invalid_transition",
        ),
        (
            "resume by one board member",
            e.st(
                30,
                Body::Resume {
                    reason: "rétabli".into(),
                },
            )
            .sign(&[&e.board[1]])
            .unwrap(),
            t + 30,
            "quorum_not_met",
        ),
        (
            "resume dated before the suspension",
            e.board(
                19,
                Body::Resume {
                    reason: "rétabli".into(),
                },
            ),
            t + 30,
            "lifecycle_out_of_order",
        ),
        (
            "resume",
            e.board(
                30,
                Body::Resume {
                    reason: "rétabli".into(),
                },
            ),
            t + 30,
            "ok",
        ),
        (
            "helpdesk reissue for voter 2",
            e.cred(
                40,
                2,
                21,
                Channel::Helpdesk,
                CredentialReason::ReissueHelpdesk,
            ),
            t + 40,
            "ok",
        ),
        (
            "a second credential for voter 1 labelled initial",
            e.cred(40, 1, 11, Channel::Mail, CredentialReason::Initial),
            t + 40,
            "credential_reason_mismatch",
        ),
        (
            "a reissue for a voter who has no credential",
            e.cred(40, 6, 60, Channel::Mail, CredentialReason::ReissueLost),
            t + 40,
            "credential_reason_mismatch",
        ),
        (
            "a batch reissue no board intervention announced",
            e.cred(40, 3, 31, Channel::Batch, CredentialReason::ReissueOther),
            t + 40,
            "reissue_not_announced",
        ),
        (
            "ballot with voter 2's replaced credential",
            e.ballot(41, "s1", 20, 102),
            t + 41,
            "credential_revoked",
        ),
        (
            "ballot with voter 2's new credential",
            e.ballot(42, "s1", 21, 103),
            t + 42,
            "ok",
        ),
        (
            "second ballot of voter 1 in s1",
            e.ballot(43, "s1", 10, 104),
            t + 43,
            "already_voted",
        ),
        (
            "voter 1 votes in s2",
            e.ballot(44, "s2", 10, 105),
            t + 44,
            "ok",
        ),
        (
            "revoke voter 3's credential",
            e.st(
                50,
                Body::Revoke {
                    credential: Tag([30; 32]),
                    reason: "lost".into(),
                },
            )
            .sign(&[&e.registrar])
            .unwrap(),
            t + 50,
            "ok",
        ),
        (
            "revoke it again",
            e.st(
                51,
                Body::Revoke {
                    credential: Tag([30; 32]),
                    reason: "again".into(),
                },
            )
            .sign(&[&e.registrar])
            .unwrap(),
            t + 51,
            "credential_revoked",
        ),
        (
            "ballot with the revoked credential",
            e.ballot(52, "s1", 30, 106),
            t + 52,
            "credential_revoked",
        ),
        (
            "intervention by the platform",
            e.st(
                53,
                Body::Intervention {
                    actor: "ops".into(),
                    action: "restart".into(),
                    reason: "leak".into(),
                    reissues: None,
                },
            )
            .sign(&[&e.platform])
            .unwrap(),
            t + 53,
            "ok",
        ),
        (
            "results before close",
            e.board(
                55,
                Body::Results {
                    scrutin: "s1".into(),
                    ballots: 2,
                    digest: Tag([1; 32]),
                },
            ),
            t + 55,
            "invalid_transition",
        ),
        ("close", e.board(60, Body::Close), t + 60, "ok"),
        (
            "ballot after close",
            e.ballot(61, "s1", 30, 107),
            t + 61,
            "ballot_after_close",
        ),
        (
            "credential after close",
            e.cred(61, 5, 50, Channel::Mail, CredentialReason::Initial),
            t + 61,
            "invalid_transition",
        ),
        (
            "results s1",
            e.board(
                70,
                Body::Results {
                    scrutin: "s1".into(),
                    ballots: 2,
                    digest: Tag([1; 32]),
                },
            ),
            t + 70,
            "ok",
        ),
        (
            "results s1 again",
            e.board(
                71,
                Body::Results {
                    scrutin: "s1".into(),
                    ballots: 3,
                    digest: Tag([2; 32]),
                },
            ),
            t + 71,
            "results_exists",
        ),
        (
            "void after results",
            e.board(
                72,
                Body::Void {
                    reason: "x".into(),
                    authorisation: "y".into(),
                },
            ),
            t + 72,
            "invalid_transition",
        ),
    ];
    for (what, text, now, want) in steps {
        assert_eq!(log.submit(&text, now), want, "step: {what}");
    }
    assert_eq!(log.size, 15, "the accepted steps");
}

#[test]
fn void_stops_everything() {
    let e = Election::new();
    let mut log = Log {
        state: MemoryState::new(),
        size: 0,
    };
    let t = e.t0;
    assert_eq!(log.submit(&e.seal(0), t), "ok");
    assert_eq!(log.submit(&e.board(1, Body::Open), t + 1), "ok");
    assert_eq!(
        log.submit(
            &e.cred(2, 1, 10, Channel::Mail, CredentialReason::Initial),
            t + 2
        ),
        "ok"
    );
    assert_eq!(
        log.submit(
            &e.board(
                3,
                Body::Void {
                    reason: "fraude".into(),
                    authorisation: "TJ".into()
                }
            ),
            t + 3
        ),
        "ok"
    );
    assert_eq!(
        log.submit(&e.ballot(4, "s1", 10, 100), t + 4),
        "election_void"
    );
    assert_eq!(log.submit(&e.board(5, Body::Close), t + 5), "election_void");
}

#[test]
fn monitors_recheck_history_without_a_clock() {
    // A monitor replays old entries with now = None: no clock check, ordering kept.
    let e = Election::new();
    let mut state = MemoryState::new();
    let ctx = |i| Context {
        index: i,
        now: None,
        tolerance_secs: 300,
        max_tolerance_secs: None,
    };
    for (i, text) in [
        e.seal(0),
        e.board(1, Body::Open),
        e.cred(2, 1, 10, Channel::Mail, CredentialReason::Initial),
    ]
    .iter()
    .enumerate()
    {
        let s = SignedStatement::parse(text.as_bytes()).unwrap();
        let w = check(&state, &s, None, &ctx(i as u64)).unwrap().writes;
        apply(&mut state, w);
    }
    let late = SignedStatement::parse(e.ballot(-1000, "s1", 10, 1).as_bytes()).unwrap();
    assert_eq!(
        check(&state, &late, None, &ctx(3)).unwrap_err().code,
        RefusalCode::TimeSkew
    );
}

#[test]
fn conflicts_inside_one_batch() {
    let e = Election::new();
    let t = e.t0;
    let mut base = MemoryState::new();
    for (i, text) in [e.seal(0), e.board(1, Body::Open)].iter().enumerate() {
        let s = SignedStatement::parse(text.as_bytes()).unwrap();
        let ctx = Context {
            index: i as u64,
            now: Some(Time(t)),
            tolerance_secs: 300,
            max_tolerance_secs: None,
        };
        let w = check(&base, &s, None, &ctx).unwrap().writes;
        apply(&mut base, w);
    }
    let batch = [
        (
            e.cred(2, 1, 10, Channel::Mail, CredentialReason::Initial),
            "ok",
        ),
        // Issued and used in the same batch.
        (e.ballot(3, "s1", 10, 100), "ok"),
        // A second ballot of the same voter in the same batch.
        (e.ballot(3, "s1", 10, 101), "already_voted"),
        // Same receipt twice in the batch.
        (
            e.cred(3, 2, 20, Channel::Mail, CredentialReason::Initial),
            "ok",
        ),
        (e.ballot(4, "s1", 20, 100), "duplicate_receipt"),
        // Reissue in the batch, then the old credential is refused.
        (
            e.cred(
                5,
                2,
                21,
                Channel::Helpdesk,
                CredentialReason::ReissueHelpdesk,
            ),
            "ok",
        ),
        (e.ballot(6, "s1", 20, 102), "credential_revoked"),
        (e.ballot(6, "s1", 21, 103), "ok"),
    ];
    let mut overlay = Overlay::new(&base);
    for (i, (text, want)) in batch.iter().enumerate() {
        let s = SignedStatement::parse(text.as_bytes()).unwrap();
        let ctx = Context {
            index: 2 + i as u64,
            now: Some(Time(t + 6)),
            tolerance_secs: 300,
            max_tolerance_secs: None,
        };
        let got = overlay
            .check_and_apply(&s, None, &ctx)
            .map(|_| "ok")
            .unwrap_or_else(|r| r.code.as_str());
        assert_eq!(got, *want, "batch item {i}");
    }
    let writes = overlay.into_writes();
    assert!(writes
        .iter()
        .any(|(k, _)| matches!(k, StateKey::Voted { .. })));
    // Keys encode and decode.
    for (k, v) in &writes {
        assert_eq!(&StateKey::decode(&k.encode()).unwrap(), k);
        assert_eq!(&StateValue::decode(&v.encode()).unwrap(), v);
    }
}

/// Replaces signature line `line` of a signed note by one whose signature byte `at`
/// (0..64, after the 4-byte key ID) is flipped, re-encoded in canonical base64: the
/// note stays well-formed, only the signature is wrong.
fn flip_signature_byte(signed: &str, line: usize, at: usize) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (text, sigs) = signed.split_once("\n\n").unwrap();
    let mut lines: Vec<String> = sigs.lines().map(str::to_string).collect();
    let (prefix, enc) = lines[line].rsplit_once(' ').unwrap();
    let mut raw = b64.decode(enc).unwrap();
    assert_eq!(raw.len(), 4 + 64, "key ID and Ed25519 signature");
    raw[4 + at] ^= 0x01;
    lines[line] = format!("{prefix} {}", b64.encode(&raw));
    format!("{text}\n\n{}\n", lines.join("\n"))
}

#[test]
fn verify_signatures_rejects_a_bad_signature_by_a_known_key() {
    let e = Election::new();
    let text = e.board(0, Body::Open);
    let auth: Vec<_> = e
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    let good = SignedStatement::parse(text.as_bytes()).unwrap();
    verify_signatures(&good, &auth, 2).unwrap();
    for line in 0..2 {
        for at in [0, 31, 32, 63] {
            let bad = flip_signature_byte(&text, line, at);
            assert_ne!(bad, text);
            // Still a well-formed signed statement: the refusal is the signature's.
            let s = SignedStatement::parse(bad.as_bytes()).unwrap();
            assert_eq!(s.statement, good.statement);
            assert_eq!(s.signatures[line].name, good.signatures[line].name);
            assert_ne!(
                s.signatures[line].signature,
                good.signatures[line].signature
            );
            let r = verify_signatures(&s, &auth, 2).unwrap_err();
            assert_eq!(
                r.code,
                RefusalCode::BadSignature,
                "line {line} byte {at}: {r}"
            );
            // With a quorum of 1, the second line is one too many: refused before
            // any signature is checked.
            assert_eq!(
                verify_signatures(&s, &auth, 1).unwrap_err().code,
                RefusalCode::BadSignatureBlock
            );
        }
    }
    // And through the rules, in a log that holds the election.
    let mut log = Log {
        state: MemoryState::new(),
        size: 0,
    };
    assert_eq!(log.submit(&e.seal(-1), e.t0 - 1), "ok");
    assert_eq!(
        log.submit(&flip_signature_byte(&text, 1, 7), e.t0),
        "bad_signature"
    );
    assert_eq!(log.submit(&text, e.t0), "ok");
}

#[test]
fn one_key_under_two_names_counts_once_towards_the_quorum() {
    // The president's key listed again under another name: an election statement
    // that does so is refused at sealing, and even in a state that holds such a list
    // (written by an older version, or built by hand) the key counts once.
    let e = Election::new();
    let alias = SignerKey::from_seed("president-alias", [1; 32]).unwrap();
    assert_eq!(
        alias.verifier().public_key(),
        e.board[0].verifier().public_key()
    );
    let mut auth: Vec<_> = e
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    auth.push((Role::Board, alias.verifier().clone()));
    let alone = e.st(0, Body::Open).sign(&[&e.board[0], &alias]).unwrap();
    let s = SignedStatement::parse(alone.as_bytes()).unwrap();
    assert_eq!(s.signatures.len(), 2);
    let r = verify_signatures(&s, &auth, 2).unwrap_err();
    assert_eq!(r.code, RefusalCode::QuorumNotMet, "{r}");
    // Two holders of two keys meet it.
    // (In the order of the election's authority lines, where the alias comes last.)
    let two = e.st(0, Body::Open).sign(&[&e.board[1], &alias]).unwrap();
    let s2 = SignedStatement::parse(two.as_bytes()).unwrap();
    verify_signatures(&s2, &auth, 2).unwrap();
    // The same key signing twice under its own name counts once too.
    let twice = e
        .st(0, Body::Open)
        .sign(&[&e.board[0], &e.board[0]])
        .unwrap();
    let s3 = SignedStatement::parse(twice.as_bytes()).unwrap();
    assert_eq!(
        verify_signatures(&s3, &auth, 2).unwrap_err().code,
        RefusalCode::BadSignatureBlock,
        "a key signs once"
    );

    // In the rules: the state holds the aliased list; an `open` signed by the
    // president under both names is refused and changes nothing.
    let mut log = Log {
        state: MemoryState::new(),
        size: 0,
    };
    assert_eq!(log.submit(&e.seal(-1), e.t0 - 1), "ok");
    let ekey = StateKey::Election("cse".into());
    let Some(StateValue::Election(mut es)) = log.state.get(&ekey).cloned() else {
        panic!("sealed election state")
    };
    es.authorities.push((Role::Board, alias.verifier().clone()));
    log.state.insert(ekey, StateValue::Election(es));
    assert_eq!(log.submit(&alone, e.t0), "quorum_not_met");
    assert_eq!(log.submit(&two, e.t0), "ok");
}

#[test]
fn ballots_outside_the_schedule_are_refused_while_open() {
    // The board may open before `opens` and close after `closes`; ballots count only
    // inside the schedule, whatever the phase says.
    let e = Election::new();
    let (opens, closes) = (e.t0, e.t0 + 10_000);
    let mut log = Log {
        state: MemoryState::new(),
        size: 0,
    };
    assert_eq!(log.submit(&e.seal(-200), opens - 200), "ok");
    assert_eq!(
        log.submit(
            &e.cred(-190, 1, 10, Channel::Mail, CredentialReason::Initial),
            opens - 190
        ),
        "ok"
    );
    assert_eq!(
        log.submit(
            &e.cred(-190, 2, 20, Channel::Mail, CredentialReason::Initial),
            opens - 190
        ),
        "ok"
    );
    assert_eq!(log.submit(&e.board(-100, Body::Open), opens - 100), "ok");
    let steps: Vec<(&str, String, i64, &str)> = vec![
        (
            "open, before `opens`",
            e.ballot(-50, "s1", 10, 100),
            opens - 50,
            "ballot_outside_schedule",
        ),
        (
            "one second before `opens`",
            e.ballot(-1, "s1", 10, 100),
            opens - 1,
            "ballot_outside_schedule",
        ),
        ("at `opens`", e.ballot(0, "s1", 10, 100), opens, "ok"),
        (
            "at `closes`, still open",
            e.ballot(10_000, "s2", 10, 101),
            closes,
            "ok",
        ),
        (
            "after `closes`, still open",
            e.ballot(10_001, "s1", 20, 102),
            closes + 1,
            "ballot_outside_schedule",
        ),
        (
            "long after `closes`, still open",
            e.ballot(10_250, "s2", 20, 103),
            closes + 250,
            "ballot_outside_schedule",
        ),
    ];
    for (what, text, now, want) in steps {
        assert_eq!(log.submit(&text, now), want, "ballot {what}");
    }
    assert_eq!(log.size, 6);
}

/// An election sealed before tolerances were (no `tolerance` line: rules 1) is
/// re-checked by monitors and mirrors with the rules it was appended under, so an old
/// log keeps its verdicts; a live log seals no such election and appends nothing more
/// to one.
#[test]
fn elections_sealed_under_rules_1_are_judged_by_rules_1() {
    let e = Election::new();
    let t = e.t0;
    let mut authorities: Vec<_> = e
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    authorities.push((Role::Registrar, e.registrar.verifier().clone()));
    authorities.push((Role::Platform, e.platform.verifier().clone()));
    let legacy = e
        .st(
            0,
            Body::Election(ElectionBody {
                title: "CSE".into(),
                scrutins: vec!["s1".into()],
                authorities,
                quorum: 2,
                opens: Time(t),
                closes: Time(t + 10_000),
                tolerance: None,
                grace: None,
                revote: Default::default(),
                roll: None,
            }),
        )
        .sign(&[&e.board[0], &e.board[1]])
        .unwrap();
    // A live log refuses to seal it.
    let mut live = Log {
        state: MemoryState::new(),
        size: 0,
    };
    assert_eq!(live.submit(&legacy, t), "tolerance_missing");

    // History: what an older log appended is re-checked with rules 1.
    let history = [
        legacy.clone(),
        e.board(1, Body::Open),
        // One board key suspends (rules 1 needed one).
        e.st(
            2,
            Body::Suspend {
                reason: "panne".into(),
            },
        )
        .sign(&[&e.board[0]])
        .unwrap(),
        // A second "initial" credential for voter 1 (labels were taken as given).
        e.cred(3, 1, 10, Channel::Mail, CredentialReason::Initial),
        e.cred(4, 1, 11, Channel::Batch, CredentialReason::Initial),
    ];
    let mut state = MemoryState::new();
    for (i, text) in history.iter().enumerate() {
        let s = SignedStatement::parse(text.as_bytes()).unwrap();
        let ctx = Context {
            index: i as u64,
            now: None,
            tolerance_secs: 300,
            max_tolerance_secs: None,
        };
        let effects = check(&state, &s, None, &ctx).unwrap_or_else(|r| panic!("entry {i}: {r}"));
        // The reissue is still a fact for the detectors, whatever its label.
        assert_eq!(effects.reissue, i == 4, "entry {i}");
        apply(&mut state, effects.writes);
    }
    let Some(StateValue::Election(es)) = state.get(&StateKey::Election("cse".into())) else {
        panic!("election state")
    };
    assert_eq!(es.rules, LEGACY_RULES);
    // A live log appends nothing more to it.
    let mut live = Log { state, size: 5 };
    assert_eq!(
        live.submit(&e.board(5, Body::Resume { reason: "x".into() }), t + 5),
        "legacy_election"
    );
}
