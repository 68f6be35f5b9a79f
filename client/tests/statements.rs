//! Statements: every type round-trips byte for byte; every malformed variant is
//! refused with its stable code.

use proptest::prelude::*;
use urne_client::note::SignerKey;
use urne_client::statement::*;

fn key(name: &str) -> SignerKey {
    SignerKey::from_seed(name, [name.len() as u8; 32]).unwrap()
}

fn tag(b: u8) -> Tag {
    Tag([b; 32])
}

fn all_statements() -> Vec<Statement> {
    let t = Time(1_796_119_203); // 2026-12-01T10:00:03Z
    let board = key("board.example");
    let board2 = key("board2.example");
    let election = ElectionBody {
        title: "Élections CSE 2026 — ACME".into(),
        scrutins: vec!["titulaires-college-1".into(), "suppleants-college-1".into()],
        authorities: vec![
            (Role::Board, board.verifier().clone()),
            (Role::Board, board2.verifier().clone()),
            (Role::Registrar, key("registrar.example").verifier().clone()),
            (Role::Platform, key("platform.example").verifier().clone()),
        ],
        quorum: 2,
        opens: Time(t.0 - 3600),
        closes: Time(t.0 + 86_400),
        roll: Some((tag(7), 1234)),
    };
    let bodies = vec![
        Body::Election(election.clone()),
        Body::Election(ElectionBody {
            roll: None,
            ..election
        }),
        Body::Open,
        Body::Suspend {
            reason: "panne de la plateforme".into(),
        },
        Body::Resume {
            reason: "service rétabli".into(),
        },
        Body::Close,
        Body::Credential {
            voter: tag(1),
            credential: tag(2),
            channel: Channel::Helpdesk,
            reason: CredentialReason::ReissueHelpdesk,
        },
        Body::Revoke {
            credential: tag(2),
            reason: "lost".into(),
        },
        Body::Ballot {
            scrutin: "titulaires-college-1".into(),
            credential: tag(3),
            receipt: tag(4),
        },
        Body::Results {
            scrutin: "titulaires-college-1".into(),
            ballots: 0,
            digest: tag(5),
        },
        Body::Intervention {
            actor: "ops".into(),
            action: "restart".into(),
            reason: "memory".into(),
        },
        Body::Void {
            reason: "court order".into(),
            authorisation: "TJ Paris 2026/123".into(),
        },
    ];
    bodies
        .into_iter()
        .map(|body| Statement {
            election: "cse-2026-acme".into(),
            time: t,
            body,
        })
        .collect()
}

#[test]
fn every_type_round_trips_byte_for_byte() {
    let signer = key("board.example");
    let mut seen = std::collections::HashSet::new();
    for st in all_statements() {
        seen.insert(st.statement_type());
        let text = st.to_text();
        assert_eq!(Statement::parse_text(&text).unwrap(), st, "{text}");
        let signed = st.sign(&[&signer]);
        let parsed = SignedStatement::parse(signed.as_bytes()).unwrap();
        assert_eq!(parsed.statement, st);
        assert_eq!(parsed.bytes, signed.as_bytes());
        assert_eq!(parsed.text(), text.as_bytes());
        assert_eq!(parsed.signatures.len(), 1);
        assert_eq!(parsed.signatures[0].name, "board.example");
    }
    assert_eq!(
        seen.len(),
        StatementType::ALL.len(),
        "every statement type is covered"
    );
}

#[test]
fn design_example_ballot_parses() {
    let text = format!(
        "urne/v1 ballot\nelection cse-2026-acme\ntime 2026-12-01T10:00:03Z\nscrutin titulaires-college-1\ncredential {}\nreceipt {}\n",
        "4a".repeat(32),
        "9f".repeat(32)
    );
    let st = Statement::parse_text(&text).unwrap();
    assert_eq!(st.time.to_string(), "2026-12-01T10:00:03Z");
    assert_eq!(st.time, Time(1_796_119_203));
}

#[test]
fn times_are_strict_rfc3339_utc() {
    for (s, ok) in [
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2000-02-29T23:59:59Z", Some(951_868_799)),
        ("2026-12-01T10:00:03Z", Some(1_796_119_203)),
        ("2100-02-29T00:00:00Z", None),
        ("2026-13-01T00:00:00Z", None),
        ("2026-12-01T24:00:00Z", None),
        ("2026-12-01T10:00:03+00:00", None),
        ("2026-12-01 10:00:03Z", None),
        ("2026-12-01T10:00:03.5Z", None),
        ("2026-12-01t10:00:03z", None),
        ("1969-12-31T23:59:59Z", None),
        ("+026-12-01T10:00:03Z", None),
    ] {
        let got = s.parse::<Time>().ok().map(|t| t.0);
        assert_eq!(got, ok, "{s}");
        if let Some(v) = ok {
            assert_eq!(Time(v).to_string(), s);
        }
    }
}

fn code(bytes: &[u8]) -> &'static str {
    SignedStatement::parse(bytes)
        .map(|_| "ok")
        .unwrap_or_else(|e| e.code())
}

#[test]
fn malformed_variants_are_refused_with_their_code() {
    let signer = key("platform.example");
    let ballot = all_statements()
        .into_iter()
        .find(|s| s.statement_type() == StatementType::Ballot)
        .unwrap();
    let text = ballot.to_text();
    let sign = |t: &str| -> Vec<u8> {
        let mut v = t.as_bytes().to_vec();
        v.push(b'\n');
        v.extend(signer.signature_line(t.as_bytes()).as_bytes());
        v
    };
    assert_eq!(code(&sign(&text)), "ok");
    let lines: Vec<&str> = text.lines().collect();
    // Reordered fields.
    let mut re = lines.clone();
    re.swap(4, 5);
    assert_eq!(code(&sign(&(re.join("\n") + "\n"))), "not_canonical");
    // Duplicate field.
    let mut dup = lines.clone();
    dup.insert(5, lines[5]);
    assert_eq!(code(&sign(&(dup.join("\n") + "\n"))), "not_canonical");
    // Unknown field.
    let mut unk = lines.clone();
    unk.push("comment hello");
    assert_eq!(code(&sign(&(unk.join("\n") + "\n"))), "not_canonical");
    // Trailing space, double space, CRLF, no final newline before the signatures.
    assert_eq!(code(&sign(&text.replacen("\n", " \n", 2))), "not_canonical");
    assert_eq!(
        code(&sign(&text.replacen("scrutin ", "scrutin  ", 1))),
        "not_canonical"
    );
    assert_eq!(code(&sign(&text.replace('\n', "\r\n"))), "not_canonical");
    // Unknown type, unknown version.
    assert_eq!(
        code(&sign(&text.replacen(
            "urne/v1 ballot",
            "urne/v1 bulletin",
            1
        ))),
        "unknown_type"
    );
    assert_eq!(
        code(&sign(&text.replacen("urne/v1 ballot", "urne/v2 ballot", 1))),
        "unknown_type"
    );
    // Bad values: uppercase hex, short tag, bad time, bad id.
    let receipt = "04".repeat(32);
    assert_eq!(
        code(&sign(&text.replacen(&receipt, &"AB".repeat(32), 1))),
        "bad_field"
    );
    assert_eq!(
        code(&sign(&text.replacen(&receipt, &"ab".repeat(31), 1))),
        "bad_field"
    );
    assert_eq!(
        code(&sign(&text.replacen(
            "2026-12-01T10:00:03Z",
            "2026-12-01T10:00:03+01:00",
            1
        ))),
        "bad_field"
    );
    assert_eq!(
        code(&sign(&text.replacen(
            "titulaires-college-1",
            "Titulaires",
            1
        ))),
        "bad_field"
    );
    // Missing field.
    let missing: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with("receipt"))
        .collect();
    assert_eq!(code(&sign(&(missing.join("\n") + "\n"))), "bad_field");
    // No signature, no blank line, garbage signature line.
    assert_eq!(code(text.as_bytes()), "malformed");
    assert_eq!(code(format!("{text}\n").as_bytes()), "malformed");
    assert_eq!(
        code(format!("{text}\n— platform.example notbase64!\n").as_bytes()),
        "malformed"
    );
    // Oversize.
    let mut big = sign(&text);
    big.resize(MAX_ENTRY_SIZE + 1, b'x');
    assert_eq!(code(&big), "too_large");
    // Not UTF-8.
    assert_eq!(code(&[0xff, 0xfe, b'\n']), "malformed");
}

#[test]
fn election_body_invariants() {
    let st = all_statements().remove(0);
    let text = st.to_text();
    let refuse = |t: String| Statement::parse_text(&t).unwrap_err().code();
    assert_eq!(
        refuse(text.replacen("quorum 2", "quorum 3", 1)),
        "bad_field"
    );
    assert_eq!(
        refuse(text.replacen("quorum 2", "quorum 0", 1)),
        "bad_field"
    );
    assert_eq!(
        refuse(text.replacen("quorum 2", "quorum 02", 1)),
        "bad_field"
    );
    let no_scrutin: String = text
        .lines()
        .filter(|l| !l.starts_with("scrutin"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(refuse(no_scrutin), "bad_field");
    let dup_scrutin = text.replacen(
        "scrutin suppleants-college-1",
        "scrutin titulaires-college-1",
        1,
    );
    assert_eq!(refuse(dup_scrutin), "not_canonical");
}

fn arb_tag() -> impl Strategy<Value = Tag> {
    any::<[u8; 32]>().prop_map(Tag)
}

fn arb_id() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9._-]{0,20}"
}

fn arb_text() -> impl Strategy<Value = String> {
    "[A-Za-zéà0-9][A-Za-zéà0-9 ,.:/()-]{0,40}[A-Za-z0-9.]".prop_map(|s| s.to_string())
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Open),
        Just(Body::Close),
        arb_text().prop_map(|reason| Body::Suspend { reason }),
        (
            arb_tag(),
            arb_tag(),
            0..Channel::ALL.len(),
            0..CredentialReason::ALL.len()
        )
            .prop_map(|(voter, credential, c, r)| Body::Credential {
                voter,
                credential,
                channel: Channel::ALL[c],
                reason: CredentialReason::ALL[r]
            }),
        (arb_id(), arb_tag(), arb_tag()).prop_map(|(scrutin, credential, receipt)| Body::Ballot {
            scrutin,
            credential,
            receipt
        }),
        (arb_id(), any::<u64>(), arb_tag()).prop_map(|(scrutin, ballots, digest)| Body::Results {
            scrutin,
            ballots,
            digest
        }),
        (arb_text(), arb_text(), arb_text()).prop_map(|(actor, action, reason)| {
            Body::Intervention {
                actor,
                action,
                reason,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn generated_statements_round_trip(election in arb_id(), time in 0i64..253_402_300_799, body in arb_body()) {
        let st = Statement { election, time: Time(time), body };
        let text = st.to_text();
        prop_assert_eq!(Statement::parse_text(&text).unwrap(), st.clone());
        let signed = st.sign(&[&key("p")]);
        prop_assert_eq!(SignedStatement::parse(signed.as_bytes()).unwrap().bytes, signed.as_bytes().to_vec());
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SignedStatement::parse(&bytes);
    }
}

#[test]
fn authorities_sign_only_what_their_role_may() {
    let st = all_statements()
        .into_iter()
        .find(|s| s.statement_type() == StatementType::Ballot)
        .unwrap();
    let platform = Authority::platform(key("platform.example"));
    let registrar = Authority::registrar(key("registrar.example"));
    let signed = platform.sign(&st).unwrap();
    assert_eq!(
        SignedStatement::parse(signed.as_bytes())
            .unwrap()
            .signatures[0]
            .name,
        "platform.example"
    );
    assert_eq!(registrar.sign(&st).unwrap_err().code(), "bad_field");
    let close = Statement {
        body: Body::Close,
        ..st
    };
    let (b1, b2) = (Authority::board(key("b1")), Authority::board(key("b2")));
    let signed = Authority::sign_together(&[&b1, &b2], &close).unwrap();
    assert_eq!(
        SignedStatement::parse(signed.as_bytes())
            .unwrap()
            .signatures
            .len(),
        2
    );
}
