//! The electorate: the voter count of the `roll <hash> <count>` line of an `election`
//! statement, which turnout (the dashboard, the monitor's report) and the share of the
//! electorate of a reissue burst are measured against. Every malformed count an
//! attacker might write is refused with a stable code; a good one round-trips.

use urne_client::statement::*;
use urne_client::test_kit::named_key as key;

/// A signed `election` statement with the given `roll` line (None: without one).
fn sealed(roll_line: Option<&str>) -> Result<SignedStatement, StatementError> {
    let board = key("board.example");
    let st = Statement {
        election: "cse-2026".into(),
        time: Time(1_796_119_203),
        body: Body::Election(ElectionBody {
            title: "CSE 2026".into(),
            scrutins: vec!["titulaires".into()],
            authorities: vec![
                (Role::Board, board.verifier().clone()),
                (Role::Registrar, key("registrar.example").verifier().clone()),
                (Role::Platform, key("platform.example").verifier().clone()),
            ],
            quorum: 1,
            opens: Time(1_796_119_203),
            closes: Time(1_796_119_203 + 86_400),
            tolerance: Some(600),
            grace: None,
            revote: Default::default(),
            roll: None,
        }),
    };
    let mut text = st.to_text();
    if let Some(line) = roll_line {
        text.push_str(line);
        text.push('\n');
    }
    // A text that is not even a note (a control character) is refused before parsing.
    let signed = urne_client::note::sign(&text, &[&board])
        .map_err(|e| StatementError::Malformed(format!("not a note: {e}")))?;
    SignedStatement::parse(signed.as_bytes())
}

const HASH: &str = "07070707070707070707070707070707070707070707070707070707070707ff";

#[test]
fn a_roll_count_round_trips_and_is_the_electorate() {
    for n in [1u64, 300, 1_000_000, u64::MAX] {
        let s = sealed(Some(&format!("roll {HASH} {n}"))).expect("a good roll");
        let Body::Election(e) = &s.statement.body else {
            panic!("an election")
        };
        assert_eq!(e.roll.as_ref().map(|r| r.1), Some(n));
        assert!(s
            .statement
            .to_text()
            .contains(&format!("\nroll {HASH} {n}\n")));
    }
    let s = sealed(None).expect("no roll");
    let Body::Election(e) = &s.statement.body else {
        panic!("an election")
    };
    assert_eq!(e.roll, None, "no roll: turnout is not computed");
}

#[test]
fn malformed_roll_counts_are_refused_with_a_stable_code() {
    let big = "1".repeat(40);
    let cases = [
        format!("roll {HASH}"),
        format!("roll {HASH} "),
        format!("roll {HASH}  300"),
        format!("roll {HASH} -1"),
        format!("roll {HASH} +300"),
        format!("roll {HASH} 0300"),
        format!("roll {HASH} 3e2"),
        format!("roll {HASH} 300.0"),
        format!("roll {HASH} 3 00"),
        format!("roll {HASH} 300 extra"),
        format!("roll {HASH} {big}"),
        format!("roll {HASH} 18446744073709551616"),
        format!("roll {HASH} ３００"),
        format!("roll {HASH} 0x12c"),
        format!("roll {} 300", HASH.to_uppercase()),
        "roll 0707 300".to_string(),
        "roll 300".to_string(),
        format!("roll  {HASH} 300"),
        format!("roll {HASH} 300\nroll {HASH} 301"),
        format!("roll {HASH}\t300"),
    ];
    for line in &cases {
        match sealed(Some(line)) {
            Ok(s) => panic!("{line:?} accepted: {:?}", s.statement.body),
            Err(e) => assert!(
                ["bad_field", "malformed", "not_canonical"].contains(&e.code()),
                "{line:?}: code {}",
                e.code()
            ),
        }
    }
}
