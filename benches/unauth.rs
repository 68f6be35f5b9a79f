//! The CPU a log spends on a write request from someone without a key, before the
//! request reaches the sequencer: `SignedStatement::parse` then
//! `rules::verify_signatures`, exactly what `POST /v1/statements` runs in its handler
//! (HTTP framing aside). One line per kind of request, in microseconds per request
//! on one core:
//!
//! - `junk`: 16 KiB that is not a signed note;
//! - `foreign_line`: a real credential statement followed by a line by a key nobody
//!   knows (a replay's variant);
//! - `bad_signature`: a credential whose registrar signature has one byte flipped;
//! - `repeated_lines`: a real board statement whose two signature lines are repeated
//!   50 times (100 lines: the most a signed note may carry).
//!
//! Run: `cargo bench --bench unauth` (the same file builds against 716ba0e, so the
//! before/after figures in BENCHMARKS.md come from one method).

use std::time::Instant;
use urne_client::note::VerifierKey;
use urne_client::rules;
use urne_client::statement::{
    Body, Channel, CredentialReason, Role, SignedStatement, Statement, Tag, Time, MAX_ENTRY_SIZE,
};
use urne_client::test_kit::DemoKeys;

fn per_request(name: &str, body: &[u8], auth: &[(Role, VerifierKey)], quorum: u32) {
    // Warm up, and say what the log answers.
    let outcome = match SignedStatement::parse(body) {
        Err(e) => e.code().to_string(),
        Ok(s) => match rules::verify_signatures(&s, auth, quorum) {
            Ok(_) => "signatures ok".to_string(),
            Err(r) => r.code.as_str().to_string(),
        },
    };
    let n = 2_000u32;
    let t = Instant::now();
    for _ in 0..n {
        if let Ok(s) = SignedStatement::parse(std::hint::black_box(body)) {
            let _ = std::hint::black_box(rules::verify_signatures(&s, auth, quorum));
        }
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "{name:16} {:6} bytes  {us:10.1} µs/request  ({outcome})",
        body.len()
    );
}

fn main() {
    let keys = DemoKeys::from_seed("unauth-bench").unwrap();
    let mut auth: Vec<(Role, VerifierKey)> = keys
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    auth.push((Role::Registrar, keys.registrar.verifier().clone()));
    auth.push((Role::Platform, keys.platform.verifier().clone()));
    let st = |body| Statement {
        election: "bench".into(),
        time: Time(1_796_119_203),
        body,
    };
    let credential = st(Body::Credential {
        voter: Tag([1; 32]),
        credential: Tag([2; 32]),
        channel: Channel::Mail,
        reason: CredentialReason::Initial,
    })
    .sign(&[&keys.registrar])
    .unwrap();

    let junk = vec![b'x'; MAX_ENTRY_SIZE];
    per_request("junk", &junk, &auth, 2);

    let foreign = {
        use base64::Engine as _;
        let mut raw = vec![0xde, 0xad, 0xbe, 0xef];
        raw.extend_from_slice(&[7u8; 64]);
        format!(
            "{credential}\u{2014} evil.example {}\n",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    per_request("foreign_line", foreign.as_bytes(), &auth, 2);

    // One byte of the signature flipped (a byte of the base64 text, keeping it valid
    // base64 of the same length).
    let (text, line) = credential.split_once("\n\n").unwrap();
    let mut line = line.to_string();
    let pos = line.len() - 10;
    let c = line.as_bytes()[pos];
    line.replace_range(pos..pos + 1, if c == b'A' { "B" } else { "A" });
    let bad = format!("{text}\n\n{line}");
    per_request("bad_signature", bad.as_bytes(), &auth, 2);

    let open = st(Body::Open)
        .sign(&[&keys.board[0], &keys.board[1]])
        .unwrap();
    let (text, lines) = open.split_once("\n\n").unwrap();
    // As many lines as a signed note may carry (C2SP signed-note readers, Go's and
    // `signed_note`, refuse more than 100 signatures).
    let mut repeated = format!("{text}\n\n");
    for _ in 0..50 {
        repeated.push_str(lines);
    }
    per_request("repeated_lines", repeated.as_bytes(), &auth, 2);
}
