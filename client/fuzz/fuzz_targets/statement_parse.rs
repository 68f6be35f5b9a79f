//! Fuzzes `SignedStatement::parse` (urne statements: strict, canonical signed notes).
//! It must never panic on any bytes, and whatever it accepts must have one spelling:
//! written again from its parsed parts it is the same bytes, its text parses alone to
//! the same statement, and the statement passes `Statement::validate` (so it could
//! have been signed by the library). Its signature block then goes through the
//! canonical-block check of the rules (the check that runs before any Ed25519 work),
//! which must not panic either and accepts only a block of the needed size, each key
//! once, in the election's order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::rules;
use urne_client::statement::{Body, Role, SignedStatement, Statement};

/// A fixed election's keys (the seeds' names, other key material): lines by these
/// names reach the checks beyond the "not a key of the election" refusal.
fn authorities() -> &'static Vec<(Role, VerifierKey)> {
    static A: OnceLock<Vec<(Role, VerifierKey)>> = OnceLock::new();
    A.get_or_init(|| {
        let k = |n: &str, b: u8| SignerKey::from_seed(n, [b; 32]).unwrap().verifier().clone();
        vec![
            (Role::Board, k("board.example", 1)),
            (Role::Board, k("board2.example", 2)),
            (Role::Registrar, k("registrar.example", 3)),
            (Role::Platform, k("platform.example", 4)),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SignedStatement::parse(data) {
        assert_eq!(s.to_bytes(), data, "re-serialises to the bytes parsed");
        let text = std::str::from_utf8(s.text()).expect("parsed text is UTF-8");
        assert_eq!(s.statement.to_text(), text, "canonical text");
        assert_eq!(
            Statement::parse_text(text).as_ref(),
            Ok(&s.statement),
            "the text alone parses to the same statement"
        );
        assert!(s.statement.validate().is_ok(), "a parsed statement is valid");
        assert!(!s.signatures.is_empty());
        let (auth, quorum) = match &s.statement.body {
            Body::Election(e) => (&e.authorities, e.quorum),
            _ => (authorities(), 2),
        };
        if let Ok(block) = rules::check_signature_block(&s, auth, quorum) {
            let (_, needs_quorum) = urne_client::statement::required_signers(&s.statement);
            let need = if needs_quorum { quorum as usize } else { 1 };
            assert_eq!(block.len(), need, "exactly the lines needed");
            assert_eq!(block.len(), s.signatures.len());
            let pos: Vec<usize> = block
                .iter()
                .map(|b| auth.iter().position(|a| a == *b).unwrap())
                .collect();
            assert!(pos.windows(2).all(|w| w[0] < w[1]), "each key once, in order");
        }
    }
});
