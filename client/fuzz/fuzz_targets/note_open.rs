//! Fuzzes `note::open` (C2SP signed-note) with two known keys, Go's PeterNeumann and
//! EnochRoot: it must never panic, and whatever it accepts must be well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use urne_client::note::{self, VerifierKey};

fn keys() -> &'static [VerifierKey] {
    static KEYS: OnceLock<Vec<VerifierKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
        ]
        .iter()
        .map(|k| VerifierKey::parse(k).expect("fixed key"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = note::open(data, keys()) {
        assert!(n.text.ends_with('\n'));
        assert!(!n.verified.is_empty());
        assert!(data.starts_with(n.text.as_bytes()));
    }
    // Key parsers see the same bytes.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(k) = VerifierKey::parse(s) {
            assert_eq!(k.to_string(), s);
        }
        let _ = note::SignerKey::parse(s);
    }
});
