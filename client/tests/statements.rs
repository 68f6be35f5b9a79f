//! Statements: every type round-trips byte for byte; every malformed variant of
//! every type is refused with its stable code; the size limit is exact; a hand-built
//! statement that would not parse back is refused, not signed.

use proptest::prelude::*;
use urne_client::note::SignerKey;
use urne_client::statement::*;
use urne_client::test_kit::named_key as key;

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
        tolerance: Some(600),
        grace: None,
        revote: Default::default(),
        roll: Some((tag(7), 1234)),
    };
    let bodies = vec![
        Body::Election(election.clone()),
        Body::Election(ElectionBody {
            roll: None,
            ..election.clone()
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
            reissues: None,
        },
        Body::Void {
            reason: "court order".into(),
            authorisation: "TJ Paris 2026/123".into(),
        },
        // The board announcing a batch reissue (it covers that many).
        Body::Intervention {
            actor: "bureau".into(),
            action: "batch reissue".into(),
            reason: "credentials leaked".into(),
            reissues: Some(1200),
        },
        // An election sealed before tolerances were (rules 1) still reads back.
        Body::Election(ElectionBody {
            tolerance: None,
            ..election.clone()
        }),
        // Sealing its grace period and revoting.
        Body::Election(ElectionBody {
            grace: Some(1800),
            revote: urne_client::statement::Revote::Last,
            ..election
        }),
        // A Belenios event anchored (its type keeps its case).
        Body::Event {
            protocol: "belenios".into(),
            event: "EndBallots".into(),
            hash: tag(6),
            position: 12,
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
        let signed = st.sign(&[&signer]).unwrap();
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
fn malformed_ballot_values_are_refused_with_their_code() {
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

/// The key that may sign `st` in the election of [`all_statements`], and one of a
/// role that may not.
fn right_and_wrong_keys(st: &Statement) -> (SignerKey, SignerKey) {
    if let Body::Intervention {
        reissues: Some(_), ..
    } = st.body
    {
        // Announcing reissues is the board's.
        return (key("board.example"), key("platform.example"));
    }
    match st.statement_type() {
        StatementType::Credential | StatementType::Revoke => {
            (key("registrar.example"), key("platform.example"))
        }
        StatementType::Ballot | StatementType::Intervention | StatementType::Event => {
            (key("platform.example"), key("registrar.example"))
        }
        _ => (key("board.example"), key("registrar.example")),
    }
}

/// Signs a text as it is (valid or not), the way a careless or hostile tool would.
fn sign_raw(t: &str, signer: &SignerKey) -> Vec<u8> {
    let mut v = t.as_bytes().to_vec();
    v.push(b'\n');
    v.extend(signer.signature_line(t.as_bytes()).as_bytes());
    v
}

fn join(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The authority lines of the election of [`all_statements`].
fn election_authorities() -> Vec<(Role, urne_client::note::VerifierKey)> {
    match &all_statements()[0].body {
        Body::Election(e) => e.authorities.clone(),
        _ => unreachable!("the first statement is the election"),
    }
}

#[test]
fn malformed_variants_of_every_type_are_refused_with_their_code() {
    use urne_client::rules::verify_signatures;
    let authorities = election_authorities();
    let mut seen = std::collections::HashSet::new();
    for st in all_statements() {
        let ty = st.statement_type();
        seen.insert(ty);
        let (right, wrong) = right_and_wrong_keys(&st);
        let text = st.to_text();
        let sign = |t: &str| sign_raw(t, &right);
        let good = sign(&text);
        assert_eq!(code(&good), "ok", "{ty}");
        let parsed = SignedStatement::parse(&good).unwrap();
        // Signed by the right role it verifies (quorum 1 here: one board key signs).
        verify_signatures(&parsed, &authorities, 1).unwrap_or_else(|r| panic!("{ty}: {r}"));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 3, "{ty}: header, election, time");

        // Reordered fields: every pair of neighbouring field lines with different
        // names, swapped.
        let mut swaps = 0;
        for i in 1..lines.len() - 1 {
            let name = |l: &str| l.split(' ').next().unwrap_or("").to_string();
            if name(lines[i]) == name(lines[i + 1]) {
                continue;
            }
            let mut re = lines.clone();
            re.swap(i, i + 1);
            assert_eq!(code(&sign(&join(&re))), "not_canonical", "{ty}: swap {i}");
            swaps += 1;
        }
        assert!(swaps >= 1, "{ty}: at least election and time swapped");
        // Duplicate field: each field line written twice.
        for i in 1..lines.len() {
            let mut dup = lines.clone();
            dup.insert(i, lines[i]);
            assert_eq!(
                code(&sign(&join(&dup))),
                "not_canonical",
                "{ty}: line {i} twice"
            );
        }
        // Trailing space on each line; CRLF line ends (alone and throughout); a
        // double space inside a line.
        for i in 0..lines.len() {
            let mut sp = lines.clone();
            let spaced = format!("{} ", lines[i]);
            sp[i] = &spaced;
            assert_eq!(
                code(&sign(&join(&sp))),
                "not_canonical",
                "{ty}: trailing space on line {i}"
            );
            let mut cr = lines.clone();
            let crd = format!("{}\r", lines[i]);
            cr[i] = &crd;
            assert_eq!(
                code(&sign(&join(&cr))),
                "not_canonical",
                "{ty}: CR on line {i}"
            );
        }
        assert_eq!(
            code(&sign(&text.replace('\n', "\r\n"))),
            "not_canonical",
            "{ty}: CRLF"
        );
        assert_eq!(
            code(&sign(&text.replacen("election ", "election  ", 1))),
            "not_canonical",
            "{ty}: double space"
        );
        // Unknown field, at the end and between the header fields.
        let mut unk = lines.clone();
        unk.push("comment hello");
        assert_eq!(code(&sign(&join(&unk))), "not_canonical", "{ty}: unknown");
        let mut unk = lines.clone();
        unk.insert(2, "comment hello");
        assert_eq!(
            code(&sign(&join(&unk))),
            "not_canonical",
            "{ty}: unknown inside"
        );
        // Missing signature: no signature line, or no blank line either.
        assert_eq!(code(format!("{text}\n").as_bytes()), "malformed", "{ty}");
        assert_eq!(code(text.as_bytes()), "malformed", "{ty}");
        // Missing last field (mandatory in every type but `roll` and `reissues`).
        let last = lines.last().unwrap();
        if !last.starts_with("roll ") && !last.starts_with("reissues ") {
            assert_eq!(
                code(&sign(&join(&lines[..lines.len() - 1]))),
                "bad_field",
                "{ty}: last field missing"
            );
        }
        // Signed by a key of another role of the election: the statement parses (the
        // parser knows no roles) and the rules refuse it; the signing helper refuses
        // to make it.
        let by_wrong = SignedStatement::parse(&sign_raw(&text, &wrong)).unwrap();
        assert_eq!(
            verify_signatures(&by_wrong, &authorities, 1)
                .unwrap_err()
                .code
                .as_str(),
            "wrong_role",
            "{ty}: signed by {}",
            wrong.name()
        );
        let wrong_role = match wrong.name() {
            "registrar.example" => Authority::registrar(wrong.clone()),
            _ => Authority::platform(wrong.clone()),
        };
        assert_eq!(
            wrong_role.sign(&st).unwrap_err().code(),
            "bad_field",
            "{ty}"
        );
    }
    assert_eq!(
        seen.len(),
        StatementType::ALL.len(),
        "every type is covered"
    );
}

#[test]
fn size_limit_is_exactly_16_kib() {
    let board = key("board.example");
    let base = match all_statements().remove(1) {
        Statement {
            body: Body::Election(e),
            election,
            time,
        } => (e, election, time),
        _ => unreachable!("the second statement is the election without roll"),
    };
    let (mut body, election, time) = base;
    body.title = "x".into();
    body.scrutins = vec!["s".into()];
    let build = |body: &ElectionBody| {
        Statement {
            election: election.clone(),
            time,
            body: Body::Election(body.clone()),
        }
        .sign(&[&board])
        .unwrap()
    };
    // Fill with 64-character scrutin lines (73 bytes each), then pad with the title.
    let mut i = 0;
    while MAX_ENTRY_SIZE - build(&body).len() >= 73 {
        body.scrutins.push(format!("s{i:063}"));
        i += 1;
    }
    let pad = MAX_ENTRY_SIZE - build(&body).len();
    body.title = "x".repeat(1 + pad);
    let at_limit = build(&body);
    assert_eq!(at_limit.len(), MAX_ENTRY_SIZE);
    let parsed = SignedStatement::parse(at_limit.as_bytes()).unwrap();
    assert_eq!(parsed.bytes, at_limit.as_bytes());
    // The same statement one byte longer, valid in every other way: `sign` refuses
    // to make it, and the parser refuses it signed by hand.
    body.title.push('x');
    let st = Statement {
        election: election.clone(),
        time,
        body: Body::Election(body.clone()),
    };
    st.validate().unwrap();
    assert_eq!(
        st.sign(&[&board]).unwrap_err(),
        StatementError::TooLarge(MAX_ENTRY_SIZE + 1)
    );
    let over = sign_raw(&st.to_text(), &board);
    assert_eq!(over.len(), MAX_ENTRY_SIZE + 1);
    let e = SignedStatement::parse(&over).unwrap_err();
    assert_eq!(e.code(), "too_large");
    assert_eq!(e, StatementError::TooLarge(MAX_ENTRY_SIZE + 1));
}

#[test]
fn one_public_key_under_two_names_is_refused() {
    // Same seed, two names: one key holder posing as two board members (quorum 2).
    let president = SignerKey::from_seed("president", [1; 32]).unwrap();
    let alias = SignerKey::from_seed("president-alias", [1; 32]).unwrap();
    assert_eq!(
        president.verifier().public_key(),
        alias.verifier().public_key()
    );
    let mut st = all_statements().remove(1);
    let Body::Election(e) = &mut st.body else {
        unreachable!("the second statement is the election")
    };
    e.authorities
        .push((Role::Board, president.verifier().clone()));
    e.authorities.push((Role::Board, alias.verifier().clone()));
    let text = st.to_text();
    let signed = sign_raw(&text, &president);
    assert_eq!(code(&signed), "not_canonical");
    // The signing helper refuses to make it.
    assert_eq!(st.sign(&[&president]).unwrap_err().code(), "not_canonical");
    // Also across roles: the board key reused as the platform key.
    let mut st = all_statements().remove(1);
    let Body::Election(e) = &mut st.body else {
        unreachable!("the second statement is the election")
    };
    e.authorities
        .push((Role::Platform, president.verifier().clone()));
    e.authorities.push((Role::Board, alias.verifier().clone()));
    assert_eq!(code(&sign_raw(&st.to_text(), &president)), "not_canonical");
}

#[test]
fn hand_built_fields_that_cannot_be_written_are_refused_not_signed() {
    // Values that would break or forge a line (tab, newline, CR, NUL, DEL, other
    // control characters), and values the parser never accepts: `sign` and
    // `Authority::sign` return the error instead of panicking or signing text that
    // does not parse back.
    let bad_texts = [
        "a\tb",
        "a\nb",
        "line\nscrutin forged",
        "a\rb",
        "a\u{0}b",
        "a\u{7f}b",
        "a\u{85}b",
        "",
        " leading",
        "trailing ",
    ];
    let (b1, b2) = (key("board.example"), key("board2.example"));
    let board = Authority::board(b1.clone());
    for st in all_statements() {
        st.validate().unwrap();
        let ty = st.statement_type();
        let (right, _) = right_and_wrong_keys(&st);
        // Every way to break each free-text and id field of this type.
        let mut variants: Vec<Statement> = Vec::new();
        for v in bad_texts {
            let mut s = st.clone();
            s.election = v.into();
            variants.push(s);
            let mut s = st.clone();
            match &mut s.body {
                Body::Election(e) => {
                    e.title = v.into();
                    variants.push(s.clone());
                    let Body::Election(e) = &mut s.body else {
                        unreachable!()
                    };
                    e.scrutins[0] = v.into();
                }
                Body::Suspend { reason }
                | Body::Resume { reason }
                | Body::Revoke { reason, .. } => *reason = v.into(),
                Body::Ballot { scrutin, .. } | Body::Results { scrutin, .. } => *scrutin = v.into(),
                Body::Intervention {
                    actor,
                    action,
                    reason,
                    ..
                } => {
                    *actor = v.into();
                    let mut s2 = st.clone();
                    if let Body::Intervention { action, .. } = &mut s2.body {
                        *action = v.into();
                    }
                    variants.push(s2);
                    let mut s3 = st.clone();
                    if let Body::Intervention { reason, .. } = &mut s3.body {
                        *reason = v.into();
                    }
                    variants.push(s3);
                    let _ = (action, reason);
                }
                Body::Void {
                    reason,
                    authorisation,
                } => {
                    *reason = v.into();
                    let mut s2 = st.clone();
                    if let Body::Void { authorisation, .. } = &mut s2.body {
                        *authorisation = v.into();
                    }
                    variants.push(s2);
                    let _ = authorisation;
                }
                Body::Event {
                    protocol, event, ..
                } => {
                    *protocol = v.into();
                    let mut s2 = st.clone();
                    if let Body::Event { event, .. } = &mut s2.body {
                        *event = v.into();
                    }
                    variants.push(s2);
                    let _ = event;
                }
                Body::Open | Body::Close | Body::Credential { .. } => continue,
            }
            variants.push(s);
        }
        // Times outside the four-digit years the text can spell.
        for t in [-1, MAX_TIME + 1, i64::MIN, i64::MAX] {
            variants.push(Statement {
                time: Time(t),
                ..st.clone()
            });
        }
        for s in variants {
            let e = s.validate().unwrap_err();
            assert!(
                matches!(e.code(), "bad_field" | "not_canonical"),
                "{ty}: {s:?}: {e}"
            );
            assert_eq!(s.sign(&[&right]).unwrap_err(), e, "{ty}: {s:?}");
            let by = if matches!(ty, StatementType::Credential | StatementType::Revoke) {
                Authority::registrar(right.clone())
            } else if ty == StatementType::Ballot {
                Authority::platform(right.clone())
            } else {
                board.clone()
            };
            assert!(by.sign(&s).is_err(), "{ty}: {s:?}");
        }
    }
    // Election invariants the parser enforces are enforced before signing too.
    let mut st = all_statements().remove(0);
    let Body::Election(e) = &mut st.body else {
        unreachable!()
    };
    e.quorum = 3;
    assert_eq!(st.sign(&[&b1, &b2]).unwrap_err().code(), "bad_field");
    let Body::Election(e) = &mut st.body else {
        unreachable!()
    };
    e.quorum = 2;
    e.closes = e.opens;
    assert_eq!(st.sign(&[&b1, &b2]).unwrap_err().code(), "bad_field");
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
        (
            arb_text(),
            arb_text(),
            arb_text(),
            proptest::option::of(1..=1_000_000u64)
        )
            .prop_map(|(actor, action, reason, reissues)| Body::Intervention {
                actor,
                action,
                reason,
                reissues,
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
        let signed = st.sign(&[&key("p")]).unwrap();
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

/// The seeds of the fuzz target `statement_parse` (`client/fuzz/seeds/statement_parse/`):
/// every statement type, signed by the keys of its role (two board keys where the
/// quorum applies). Deterministic keys and Ed25519 signatures, so the committed files
/// are checked byte for byte; `URNE_WRITE_FUZZ_SEEDS=1` rewrites them.
#[test]
fn fuzz_seeds_hold_every_statement_type() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/statement_parse");
    let write = std::env::var_os("URNE_WRITE_FUZZ_SEEDS").is_some();
    let (b1, b2) = (key("board.example"), key("board2.example"));
    let mut types = std::collections::HashSet::new();
    for (i, st) in all_statements().into_iter().enumerate() {
        let ty = st.statement_type();
        types.insert(ty);
        let (right, _) = right_and_wrong_keys(&st);
        let signers: Vec<&SignerKey> = match urne_client::statement::required_signers(&st) {
            (_, true) => vec![&b1, &b2],
            _ => vec![&right],
        };
        let signed = st.sign(&signers).unwrap();
        let parsed = SignedStatement::parse(signed.as_bytes()).unwrap();
        assert_eq!(parsed.to_bytes(), signed.as_bytes(), "{ty}: re-serialises");
        let path = dir.join(format!("{i:02}-{ty}"));
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &signed).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (URNE_WRITE_FUZZ_SEEDS=1 writes it)",
                path.display()
            )
        });
        assert_eq!(committed, signed.as_bytes(), "{}", path.display());
    }
    assert_eq!(types.len(), StatementType::ALL.len());
}

#[test]
fn signed_statements_re_serialise_from_their_parts() {
    let (b1, b2) = (key("board.example"), key("board2.example"));
    for st in all_statements() {
        let signed = st.sign(&[&b1, &b2]).unwrap();
        let parsed = SignedStatement::parse(signed.as_bytes()).unwrap();
        assert_eq!(parsed.to_bytes(), signed.as_bytes());
        assert_eq!(parsed.signatures.len(), 2);
        assert_eq!(
            parsed.signatures[1].to_line(),
            signed.lines().last().unwrap().to_string() + "\n"
        );
    }
}

#[test]
fn a_second_base64_spelling_of_a_signature_is_refused() {
    // 4 + 64 = 68 bytes: the last base64 quartet holds 2 bytes in 3 characters and
    // `=`, so its third character carries 2 padding bits that must be zero. Setting
    // one gives another spelling of the same bytes: one entry, two spellings, which
    // the round trip (and the fuzz target) forbid.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let st = all_statements().remove(8);
    assert_eq!(st.statement_type(), StatementType::Ballot);
    let signed = st.sign(&[&key("platform.example")]).unwrap();
    assert_eq!(code(signed.as_bytes()), "ok");
    let mut bytes = signed.into_bytes();
    let n = bytes.len();
    assert_eq!(&bytes[n - 2..], b"=\n");
    let third = bytes[n - 3];
    let v = ALPHABET.iter().position(|&c| c == third).unwrap();
    assert_eq!(v & 0b11, 0, "canonical padding bits are zero");
    bytes[n - 3] = ALPHABET[v | 0b01];
    assert_eq!(code(&bytes), "malformed");
}
