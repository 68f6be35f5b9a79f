//! Fuzzes the checkpoint parsers: `Checkpoint::parse_text` (strict, so it must round
//! trip exactly), `TlogProof::parse`, `WitnessPolicy::parse`, `WitnessKey::parse`,
//! `add_cosignatures` and `open_checkpoint`. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use urne_client::checkpoint::{
    add_cosignatures, open_checkpoint, Checkpoint, TlogProof, WitnessKey, WitnessPolicy,
};
use urne_client::note::VerifierKey;

fn log_key() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| {
        VerifierKey::parse(
            "example.com/behind-the-sofa+46543cd9+AZBvdCizDW//Ycfgdl1ldV7D5fpaINASf9AXQSWGFQ1t",
        )
        .expect("fixed key")
    })
}

fn policy() -> &'static WitnessPolicy {
    static POLICY: OnceLock<WitnessPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let w1 = WitnessKey::parse(
            "witness.example.com/w1+18494d16+BGcDI5sa0FrkfjLV96Dmv5GH269zqjL86/7Te0NMqdko",
        )
        .expect("fixed key");
        WitnessPolicy::k_of_n(vec![w1], 1)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse_text(text) {
            assert_eq!(c.to_text(), text, "parse_text must be canonical");
            assert!(c.validate().is_ok());
        }
        if let Ok(p) = WitnessPolicy::parse(text) {
            let again = WitnessPolicy::parse(&p.to_text()).expect("to_text re-parses");
            assert_eq!(again, p);
            let _ = p.is_satisfied(&[]);
        }
        if let Ok(k) = WitnessKey::parse(text) {
            assert_eq!(k.to_string(), text);
        }
        if let Some((note, lines)) = text.split_once("\n\n\n") {
            let _ = add_cosignatures(note, &[lines.to_string()]);
        }
    }
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_text().as_bytes(), data, "tlog-proof must be canonical");
    }
    let _ = open_checkpoint(data, log_key(), policy());
});
