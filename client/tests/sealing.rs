//! The 2026 rules, walked with real Ed25519 keys: the automatic seal after the close
//! (R.211-572), `results` checked against the ballots the log holds, the author's
//! time against the log's time (a board co-signing over an hour, a ballot backdated
//! into a suspension), and revoting (`revote last`). Each step is asserted by its
//! stable code, and a refused step leaves the state unchanged.

use urne_client::note::SignerKey;
use urne_client::rules::*;
use urne_client::statement::*;
use urne_client::test_kit::DemoKeys;

const T0: i64 = 1_796_119_203;

/// The authorities: the test kit's fixed keys.
type Keys = DemoKeys;

fn keys() -> Keys {
    DemoKeys::fixed()
}

struct Log {
    k: Keys,
    quorum: u32,
    state: MemoryState,
    size: u64,
}

impl Log {
    fn new(quorum: u32, grace: Option<u64>, revote: Revote) -> (Log, String) {
        let k = keys();
        let mut authorities: Vec<_> = k
            .board
            .iter()
            .map(|b| (Role::Board, b.verifier().clone()))
            .collect();
        authorities.push((Role::Registrar, k.registrar.verifier().clone()));
        authorities.push((Role::Platform, k.platform.verifier().clone()));
        let st = Statement {
            election: "cse".into(),
            time: Time(T0),
            body: Body::Election(ElectionBody {
                title: "CSE".into(),
                scrutins: vec!["s1".into()],
                authorities,
                quorum,
                tolerance: Some(300),
                grace,
                revote,
                opens: Time(T0),
                closes: Time(T0 + 86_400),
                roll: None,
            }),
        };
        let signers: Vec<&SignerKey> = k.board.iter().take(quorum as usize).collect();
        let seal = st.sign(&signers).unwrap();
        (
            Log {
                k,
                quorum,
                state: MemoryState::new(),
                size: 0,
            },
            seal,
        )
    }

    fn st(dt: i64, body: Body) -> Statement {
        Statement {
            election: "cse".into(),
            time: Time(T0 + dt),
            body,
        }
    }

    fn board(&self, dt: i64, body: Body) -> String {
        let signers: Vec<&SignerKey> = self.k.board.iter().take(self.quorum as usize).collect();
        Self::st(dt, body).sign(&signers).unwrap()
    }

    fn cred(&self, dt: i64, voter: u8, cred: u8) -> String {
        Self::st(
            dt,
            Body::Credential {
                voter: Tag([voter; 32]),
                credential: Tag([cred; 32]),
                channel: Channel::Mail,
                reason: CredentialReason::Initial,
            },
        )
        .sign(&[&self.k.registrar])
        .unwrap()
    }

    fn ballot(&self, dt: i64, cred: u8, receipt: u8) -> String {
        Self::st(
            dt,
            Body::Ballot {
                scrutin: "s1".into(),
                credential: Tag([cred; 32]),
                receipt: Tag([receipt; 32]),
            },
        )
        .sign(&[&self.k.platform])
        .unwrap()
    }

    fn intervention(&self, dt: i64) -> String {
        Self::st(
            dt,
            Body::Intervention {
                actor: "prestataire".into(),
                action: "redemarrage".into(),
                reason: "maintenance".into(),
                reissues: None,
            },
        )
        .sign(&[&self.k.platform])
        .unwrap()
    }

    fn results(&self, dt: i64, ballots: u64) -> String {
        self.board(
            dt,
            Body::Results {
                scrutin: "s1".into(),
                ballots,
                digest: Tag([0xd1; 32]),
            },
        )
    }

    /// Judges a statement: at the log's clock `now` (`Some`), or as a monitor
    /// re-checking history (`None`). Applies it if accepted.
    fn at(&mut self, text: &str, now: Option<i64>) -> &'static str {
        let stmt = match SignedStatement::parse(text.as_bytes()) {
            Ok(s) => s,
            Err(e) => return e.code(),
        };
        let before = self.state.clone();
        let ctx = Context {
            index: self.size,
            now: now.map(|n| Time(T0 + n)),
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

    /// Submitted to the live log at its clock `T0 + now`.
    fn submit(&mut self, text: &str, now: i64) -> &'static str {
        self.at(text, Some(now))
    }

    fn election(&self) -> ElectionState {
        match self.state.get(&StateKey::Election("cse".into())) {
            Some(StateValue::Election(e)) => (**e).clone(),
            other => panic!("no election state: {other:?}"),
        }
    }

    fn receipt(&self, r: u8) -> StateValue {
        self.state
            .get(&StateKey::Receipt {
                election: "cse".into(),
                receipt: Tag([r; 32]),
            })
            .cloned()
            .expect("receipt in the state")
    }
}

#[test]
fn the_urn_is_sealed_after_close_plus_grace() {
    let (mut log, seal) = Log::new(2, Some(1800), Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    assert_eq!(log.submit(&log.cred(20, 1, 11), 20), "ok");
    assert_eq!(log.submit(&log.cred(21, 2, 12), 21), "ok");
    assert_eq!(log.submit(&log.ballot(30, 11, 101), 30), "ok");
    assert_eq!(log.submit(&log.ballot(31, 12, 102), 31), "ok");
    assert_eq!(log.submit(&log.board(1000, Body::Close), 1000), "ok");
    let es = log.election();
    assert_eq!(
        es.closed,
        Some(Closed {
            index: 6,
            time: Time(T0 + 1000)
        })
    );
    assert_eq!(es.sealed_after(), Some(Time(T0 + 2800)));
    // Within the grace period: an incident is still traced.
    assert_eq!(log.submit(&log.intervention(1500), 1500), "ok");
    // After it, by the statement's time and the log's clock: refused.
    assert_eq!(log.submit(&log.intervention(2801), 2801), "election_sealed");
    let revoke = Log::st(
        2900,
        Body::Revoke {
            credential: Tag([11; 32]),
            reason: "fraude".into(),
        },
    )
    .sign(&[&log.k.registrar])
    .unwrap();
    assert_eq!(log.submit(&revoke, 2900), "election_sealed");
    assert_eq!(
        log.submit(&log.ballot(2900, 12, 103), 2900),
        "election_sealed"
    );
    let void = log.board(
        2950,
        Body::Void {
            reason: "annulation".into(),
            authorisation: "tribunal".into(),
        },
    );
    assert_eq!(log.submit(&void, 2950), "election_sealed");
    // A board intervention dated inside the grace period but reaching the log after
    // the seal: the log's clock refuses it (a monitor sees it appended after the
    // seal checkpoint, see docs/rules.md).
    let late = Log::st(
        2000,
        Body::Intervention {
            actor: "bureau".into(),
            action: "reissue".into(),
            reason: "oubli".into(),
            reissues: Some(1),
        },
    );
    let late = late.sign(&[&log.k.board[0], &log.k.board[1]]).unwrap();
    assert_eq!(log.submit(&late, 3000), "election_sealed");
    // Counting statements go on; their count is checked.
    assert_eq!(
        log.submit(&log.results(3100, 3), 3100),
        "results_count_mismatch"
    );
    assert_eq!(
        log.submit(&log.results(3101, 1), 3101),
        "results_count_mismatch"
    );
    assert_eq!(log.submit(&log.results(3102, 2), 3102), "ok");
    assert_eq!(log.election().results_published, vec!["s1".to_string()]);
}

#[test]
fn monitors_recheck_the_seal_from_the_statements_times() {
    let (mut log, seal) = Log::new(2, Some(600), Revote::Single);
    assert_eq!(log.at(&seal, None), "ok");
    assert_eq!(log.at(&log.board(10, Body::Open), None), "ok");
    assert_eq!(log.at(&log.board(100, Body::Close), None), "ok");
    assert_eq!(log.at(&log.intervention(700), None), "ok");
    // Dated after the seal: what a log should have refused.
    assert_eq!(log.at(&log.intervention(701), None), "election_sealed");
    assert_eq!(log.at(&log.results(800, 0), None), "ok");
}

#[test]
fn an_election_without_grace_is_never_sealed_automatically() {
    let (mut log, seal) = Log::new(2, None, Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    assert_eq!(log.submit(&log.board(20, Body::Close), 20), "ok");
    assert_eq!(log.election().sealed_after(), None);
    assert_eq!(log.submit(&log.intervention(90_000), 90_000), "ok");
}

#[test]
fn a_board_of_three_cosigns_an_open_over_an_hour() {
    let (mut log, seal) = Log::new(3, Some(1800), Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    // The president signs the `open` at T0+100; the two delegates co-sign it on their
    // own machines over the next hour; meanwhile the registrar issues credentials.
    let open = Log::st(100, Body::Open);
    let text = open.to_text();
    let mut draft = String::new();
    for k in &log.k.board {
        let one = urne_client::note::sign(&text, &[k]).unwrap();
        draft.push_str(&one[text.len() + 1..]);
    }
    let signed = format!("{text}\n{draft}");
    assert_eq!(
        signed,
        log.board(100, Body::Open),
        "the co-signed block is canonical"
    );
    assert_eq!(log.submit(&log.cred(1200, 1, 11), 1200), "ok");
    assert_eq!(log.submit(&log.cred(3000, 2, 12), 3000), "ok");
    // It reaches the log an hour after it was written, after later entries: accepted.
    assert_eq!(log.submit(&signed, 3700), "ok");
    assert_eq!(log.election().phase, Phase::Open);
    // Ballots are dated in the period the open began.
    assert_eq!(log.submit(&log.ballot(3710, 11, 101), 3710), "ok");
    // A board statement is never dated after the log's clock beyond the tolerance,
    // nor more than the signing window before it.
    let future = log.board(
        4000 + 301,
        Body::Suspend {
            reason: "panne".into(),
        },
    );
    assert_eq!(log.submit(&future, 4000), "time_skew");
    let stale = log.board(
        3701,
        Body::Suspend {
            reason: "panne".into(),
        },
    );
    assert_eq!(
        log.submit(&stale, 3701 + BOARD_SIGNING_WINDOW_SECS + 1),
        "time_skew"
    );
    // A ballot (one signer) stays within the tolerance of the log's clock.
    assert_eq!(log.submit(&log.ballot(3800, 12, 102), 4200), "time_skew");
}

#[test]
fn a_ballot_backdated_into_a_suspension_is_refused() {
    let (mut log, seal) = Log::new(2, Some(1800), Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.submit(&log.cred(5, 1, 11), 5), "ok");
    assert_eq!(log.submit(&log.cred(6, 2, 12), 6), "ok");
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    let suspend = log.board(
        1000,
        Body::Suspend {
            reason: "panne".into(),
        },
    );
    assert_eq!(log.submit(&suspend, 1000), "ok");
    assert_eq!(
        log.submit(&log.ballot(1100, 11, 101), 1100),
        "ballot_while_suspended"
    );
    let resume = log.board(
        2000,
        Body::Resume {
            reason: "reparee".into(),
        },
    );
    assert_eq!(log.submit(&resume, 2000), "ok");
    // Dated inside the suspension, within the tolerance of the log's clock and of
    // the election's latest entry: the rule on times alone would let it in.
    assert_eq!(
        log.submit(&log.ballot(1950, 11, 101), 2010),
        "ballot_backdated"
    );
    assert_eq!(log.at(&log.ballot(1950, 11, 101), None), "ballot_backdated");
    assert_eq!(log.submit(&log.ballot(2001, 11, 101), 2010), "ok");
    // Before the opening too.
    let (mut log, seal) = Log::new(2, None, Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.submit(&log.cred(5, 1, 11), 5), "ok");
    assert_eq!(log.submit(&log.board(200, Body::Open), 200), "ok");
    assert_eq!(
        log.submit(&log.ballot(150, 11, 101), 210),
        "ballot_backdated"
    );
}

#[test]
fn revote_last_supersedes_and_single_refuses() {
    let (mut log, seal) = Log::new(2, Some(1800), Revote::Last);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.election().revote, Revote::Last);
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    assert_eq!(log.submit(&log.cred(20, 1, 11), 20), "ok");
    assert_eq!(log.submit(&log.cred(21, 2, 12), 21), "ok");
    assert_eq!(log.submit(&log.ballot(30, 11, 101), 30), "ok");
    assert_eq!(log.submit(&log.ballot(31, 12, 102), 31), "ok");
    assert_eq!(log.submit(&log.ballot(40, 11, 103), 40), "ok");
    // A receipt is never reused, even by a revote.
    assert_eq!(
        log.submit(&log.ballot(41, 11, 102), 41),
        "duplicate_receipt"
    );
    assert_eq!(log.submit(&log.ballot(50, 11, 104), 50), "ok");
    assert_eq!(
        log.receipt(101),
        StateValue::Receipt {
            index: 4,
            superseded_by: Some(6)
        }
    );
    assert_eq!(
        log.receipt(103),
        StateValue::Receipt {
            index: 6,
            superseded_by: Some(7)
        }
    );
    assert_eq!(
        log.receipt(104),
        StateValue::Receipt {
            index: 7,
            superseded_by: None
        }
    );
    let es = log.election();
    assert_eq!(es.ballots_superseded, 2);
    assert_eq!(es.ballots_counted.unwrap()["s1"], 2);
    assert_eq!(log.submit(&log.board(100, Body::Close), 100), "ok");
    assert_eq!(
        log.submit(&log.results(110, 4), 110),
        "results_count_mismatch"
    );
    assert_eq!(log.submit(&log.results(111, 2), 111), "ok");

    let (mut log, seal) = Log::new(2, None, Revote::Single);
    assert_eq!(log.submit(&seal, 0), "ok");
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    assert_eq!(log.submit(&log.cred(20, 1, 11), 20), "ok");
    assert_eq!(log.submit(&log.ballot(30, 11, 101), 30), "ok");
    assert_eq!(log.submit(&log.ballot(40, 11, 103), 40), "already_voted");
}

/// The election's new lines, as an attacker writes them.
#[test]
fn grace_and_revote_lines_are_strict() {
    let (log, seal) = Log::new(2, Some(1800), Revote::Last);
    let stmt = SignedStatement::parse(seal.as_bytes()).unwrap();
    let text = String::from_utf8(stmt.text().to_vec()).unwrap();
    assert!(text.contains("\ntolerance 300\ngrace 1800\nrevote last\nopens "));
    let Body::Election(e) = &stmt.statement.body else {
        panic!("an election")
    };
    assert_eq!((e.grace, e.revote), (Some(1800), Revote::Last));
    let variant = |from: &str, to: &str| -> &'static str {
        assert!(text.contains(from), "{from}");
        match Statement::parse_text(&text.replacen(from, to, 1)) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    };
    assert_eq!(variant("grace 1800\n", ""), "ok");
    assert_eq!(variant("revote last\n", ""), "ok");
    assert_eq!(variant("revote last\n", "revote single\n"), "not_canonical");
    assert_eq!(variant("revote last\n", "revote maybe\n"), "bad_field");
    assert_eq!(variant("revote last\n", "revote Last\n"), "bad_field");
    assert_eq!(
        variant("revote last\n", "revote last\nrevote last\n"),
        "not_canonical"
    );
    assert_eq!(
        variant("grace 1800\n", "grace 1800\ngrace 1800\n"),
        "not_canonical"
    );
    assert_eq!(variant("grace 1800\n", "grace 01800\n"), "bad_field");
    assert_eq!(variant("grace 1800\n", "grace -1\n"), "bad_field");
    assert_eq!(variant("grace 1800\n", "grace 604801\n"), "bad_field");
    assert_eq!(variant("grace 1800\n", "grace 604800\n"), "ok");
    assert_eq!(
        variant("grace 1800\nrevote last\n", "revote last\ngrace 1800\n"),
        "not_canonical"
    );
    assert_eq!(
        variant("tolerance 300\ngrace 1800\n", "grace 1800\ntolerance 300\n"),
        "not_canonical"
    );
    // Signed by the platform instead of the board: a new election is the board's.
    let mut forged = stmt.statement.clone();
    forged.time = Time(T0 + 1);
    let by_platform = forged.sign(&[&log.k.platform]).unwrap();
    let mut fresh = Log {
        k: keys(),
        quorum: 2,
        state: MemoryState::new(),
        size: 0,
    };
    assert_eq!(fresh.submit(&by_platform, 1), "wrong_role");
}

/// The `event` statement, as an attacker writes it, and its chain rule.
#[test]
fn event_statements_are_strict_and_chained() {
    let (mut log, seal) = Log::new(2, Some(600), Revote::Last);
    assert_eq!(log.submit(&seal, 0), "ok");
    let ev = |dt: i64, ty: &str, position: u64| {
        Log::st(
            dt,
            Body::Event {
                protocol: "belenios".into(),
                event: ty.into(),
                hash: Tag([0xab; 32]),
                position,
            },
        )
    };
    let setup = ev(1, "Setup", 0);
    let text = setup.to_text();
    assert!(text.ends_with(
        "protocol belenios\nevent Setup\nhash abababababababababababababababababababababababababababababababab\nposition 0\n"
    ));
    let variant = |from: &str, to: &str| -> &'static str {
        assert!(text.contains(from), "{from}");
        match Statement::parse_text(&text.replacen(from, to, 1)) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    };
    assert_eq!(variant("event Setup\n", "event EndBallots\n"), "ok");
    assert_eq!(variant("event Setup\n", "event End Ballots\n"), "bad_field");
    assert_eq!(variant("event Setup\n", "event 1Setup\n"), "bad_field");
    assert_eq!(
        variant("event Setup\n", &format!("event {}\n", "S".repeat(65))),
        "bad_field"
    );
    assert_eq!(
        variant("event Setup\n", "event Setup\nevent Setup\n"),
        "not_canonical"
    );
    assert_eq!(
        variant("protocol belenios\n", "protocol Belenios\n"),
        "bad_field"
    );
    assert_eq!(variant("position 0\n", "position 00\n"), "bad_field");
    assert_eq!(variant("position 0\n", "position -1\n"), "bad_field");
    assert_eq!(variant("position 0\n", ""), "bad_field");
    assert_eq!(variant("hash abab", "hash ABAB"), "bad_field");
    assert_eq!(variant("event Setup\nhash", "hash"), "not_canonical");
    // Signed by the role producing it: Setup by the board, Ballot by the platform.
    let by_platform = setup.sign(&[&log.k.platform]).unwrap();
    assert_eq!(log.submit(&by_platform, 1), "wrong_role");
    let by_board = setup.sign(&[&log.k.board[0]]).unwrap();
    assert_eq!(log.submit(&by_board, 1), "ok");
    // The chain: the next position only.
    let platform = keys().platform;
    let ballot = |pos| ev(2, "Ballot", pos).sign(&[&platform]).unwrap();
    assert_eq!(log.submit(&ballot(0), 2), "event_out_of_order");
    assert_eq!(log.submit(&ballot(2), 2), "event_out_of_order");
    assert_eq!(log.submit(&ballot(1), 2), "ok");
    let by_board = ev(3, "Ballot", 2).sign(&[&log.k.board[0]]).unwrap();
    assert_eq!(log.submit(&by_board, 3), "wrong_role");
    // Another protocol has its own chain, from 0; its events come from either role.
    let other = Log::st(
        4,
        Body::Event {
            protocol: "helios".into(),
            event: "cast".into(),
            hash: Tag([1; 32]),
            position: 0,
        },
    )
    .sign(&[&log.k.platform])
    .unwrap();
    assert_eq!(log.submit(&other, 4), "ok");
    assert_eq!(log.election().protocol_events["belenios"], 2);
    assert_eq!(log.election().protocol_events["helios"], 1);
    // Counting goes on after the seal: events are accepted, interventions are not.
    assert_eq!(log.submit(&log.board(10, Body::Open), 10), "ok");
    assert_eq!(log.submit(&log.board(20, Body::Close), 20), "ok");
    let late = ev(700, "EndBallots", 2).sign(&[&log.k.platform]).unwrap();
    assert_eq!(log.submit(&late, 700), "ok");
    assert_eq!(log.submit(&log.intervention(701), 701), "election_sealed");
}
