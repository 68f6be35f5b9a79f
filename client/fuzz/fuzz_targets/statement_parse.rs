//! Fuzzes `SignedStatement::parse` (urne statements: strict, canonical signed notes).
//! It must never panic on any bytes, and whatever it accepts must have one spelling:
//! written again from its parsed parts it is the same bytes, its text parses alone to
//! the same statement, and the statement passes `Statement::validate` (so it could
//! have been signed by the library).
#![no_main]

use libfuzzer_sys::fuzz_target;
use urne_client::statement::{SignedStatement, Statement};

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
    }
});
