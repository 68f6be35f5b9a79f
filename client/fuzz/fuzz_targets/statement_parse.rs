//! Fuzzes `SignedStatement::parse` (urne statements: strict, canonical signed notes).
//! It must never panic on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use urne_client::statement::SignedStatement;

fuzz_target!(|data: &[u8]| {
    let _ = SignedStatement::parse(data);
});
