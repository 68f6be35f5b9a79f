//! Receipt codes as voters paste them (`testdata/receipts/cases.json`, which the web
//! page's tests read too): hex, Belenios's base64 tracker (it may start with `/`),
//! base64url; and the attacker's near misses, each refused.

use std::path::PathBuf;
use urne_client::receipt::{self, Encoding};

#[test]
fn shared_cases_read_as_in_the_web_page() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/receipts/cases.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let got = receipt::parse(c["input"].as_str().unwrap());
        match c["hex"].as_str() {
            Some(hex) => {
                let (tag, enc) = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(tag.to_string(), hex, "{name}");
                let want = match c["encoding"].as_str().unwrap() {
                    "hex" => Encoding::Hex,
                    "base64" => Encoding::Base64,
                    "base64url" => Encoding::Base64Url,
                    other => panic!("{name}: encoding {other}"),
                };
                assert_eq!(enc, want, "{name}");
            }
            None => {
                let e = got.expect_err(name);
                assert_eq!(e.code(), "bad_field", "{name}");
            }
        }
    }
}

#[test]
fn belenios_form_round_trips() {
    for b in [0u8, 0xfc, 0xfb, 0x3e, 0xff] {
        let t = urne_client::statement::Tag([b; 32]);
        let s = receipt::to_base64(&t);
        assert_eq!(s.len(), 43);
        assert_eq!(receipt::parse(&s).unwrap(), (t, Encoding::Base64));
        assert!(receipt::is_receipt(&s));
    }
    // A statement still writes its receipt one way: hex.
    let t = urne_client::statement::Tag([0xfc; 32]);
    assert!(receipt::to_base64(&t)
        .parse::<urne_client::statement::Tag>()
        .is_err());
}
