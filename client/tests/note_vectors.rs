//! Known-answer tests for signed notes: the vectors of Go's reference implementation,
//! golang.org/x/mod/sumdb/note (note_test.go: TestNewVerifier, TestNewSigner, TestSign,
//! TestOpen), byte for byte, run against `urne_client::note`.

use urne_client::note::{self, NoteError, SignerKey, VerifierKey};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

fn peter() -> VerifierKey {
    VerifierKey::parse(PETER_VKEY).expect("Go's PeterNeumann key parses")
}

fn enoch() -> VerifierKey {
    VerifierKey::parse(ENOCH_VKEY).expect("Go's EnochRoot key parses")
}

#[test]
fn verifier_key_parses_and_formats_back() {
    let k = peter();
    assert_eq!(k.name(), "PeterNeumann");
    assert_eq!(k.key_id(), 0xc74f20a3);
    assert_eq!(k.to_string(), PETER_VKEY);
    assert_eq!(enoch().key_id(), 0xaf0cfe78);
}

/// TestNewVerifier: every proper substring and every single-byte increment is refused.
#[test]
fn verifier_key_manglings_are_refused() {
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = String::from_utf8_lossy(&b[i..j]);
            assert!(VerifierKey::parse(&s).is_err(), "accepted substring {s:?}");
        }
    }
    let mut m = b.to_vec();
    for i in 0..m.len() {
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(VerifierKey::parse(&s).is_err(), "accepted mangled {s:?}");
        m[i] = m[i].wrapping_sub(1);
    }
    // Wrong length key, with adjusted key hash.
    assert!(VerifierKey::parse(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    // Unknown algorithm, with adjusted key hash.
    assert!(VerifierKey::parse(
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
}

/// TestNewSigner: the private key parses; every substring and increment is refused.
#[test]
fn signer_key_parses_and_manglings_are_refused() {
    let k = SignerKey::parse(PETER_SKEY).expect("Go's PeterNeumann private key parses");
    assert_eq!(k.verifier().to_string(), PETER_VKEY);
    assert_eq!(k.to_signer_string(), PETER_SKEY);
    let b = PETER_SKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = String::from_utf8_lossy(&b[i..j]);
            assert!(SignerKey::parse(&s).is_err(), "accepted substring {s:?}");
        }
    }
    let mut m = b.to_vec();
    for i in 0..m.len() {
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(SignerKey::parse(&s).is_err(), "accepted mangled {s:?}");
        m[i] = m[i].wrapping_sub(1);
    }
}

/// TestSign: the signed note is byte for byte Go's.
#[test]
fn sign_matches_go_byte_for_byte() {
    let k = SignerKey::parse(PETER_SKEY).unwrap();
    let msg = note::sign(TEXT, &[&k]).unwrap();
    assert_eq!(msg, format!("{TEXT}\n{PETER_SIG}"));
    assert_eq!(k.signature_line(TEXT.as_bytes()), PETER_SIG);
}

/// TestSign "bad inputs": a text without a final newline is malformed.
#[test]
fn sign_refuses_bad_text() {
    let k = SignerKey::parse(PETER_SKEY).unwrap();
    assert_eq!(note::sign("abc", &[&k]), Err(NoteError::Malformed));
    assert_eq!(note::sign("", &[&k]), Err(NoteError::Malformed));
    assert_eq!(note::sign("a\x01b\n", &[&k]), Err(NoteError::Malformed));
}

/// TestGenerateKey / TestFromEd25519: a fresh key signs, verifies, rejects corruption.
#[test]
fn generated_key_is_self_consistent() {
    let k = SignerKey::generate("EnochRoot").unwrap();
    let v = VerifierKey::parse(&k.verifier().to_string()).unwrap();
    assert_eq!(&v, k.verifier());
    assert_eq!(
        SignerKey::parse(&k.to_signer_string()).unwrap().verifier(),
        &v
    );
    let mut msg = b"hi".to_vec();
    let mut sig = k.sign_bytes(&msg);
    assert!(v.verify(&msg, &sig));
    sig[0] = sig[0].wrapping_add(1);
    assert!(!v.verify(&msg, &sig));
    sig[0] = sig[0].wrapping_sub(1);
    msg[0] = msg[0].wrapping_add(1);
    assert!(!v.verify(&msg, &sig));
    assert!(!v.verify(b"hi", &sig[..63]));
}

#[test]
fn bad_names_are_refused() {
    for name in ["", "a b", "a+b", "a\tb", "a\u{2003}b"] {
        assert!(SignerKey::from_seed(name, [7; 32]).is_err(), "{name:?}");
    }
}

#[test]
fn from_public_key_refuses_non_points() {
    // y = 2 is not the y-coordinate of any point of edwards25519.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(VerifierKey::from_public_key("x", not_a_point).is_err());
    assert!(VerifierKey::from_public_key("x", *peter().public_key()).is_ok());
}

/// TestOpen: one known key of two signers.
#[test]
fn open_one_verified_one_not() {
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let n = note::open(msg.as_bytes(), &[peter()]).unwrap();
    assert_eq!(n.text, TEXT);
    assert_eq!(n.verified, vec![peter()]);
    assert_eq!(n.unverified.len(), 1);
    assert_eq!(n.unverified[0].name(), "EnochRoot");
    assert_eq!(n.unverified[0].id(), 0xaf0cfe78);
}

/// TestOpen: both known.
#[test]
fn open_both_verified() {
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let n = note::open(msg.as_bytes(), &[peter(), enoch()]).unwrap();
    assert_eq!(n.verified, vec![peter(), enoch()]);
    assert!(n.unverified.is_empty());
}

/// TestOpen: no known key.
#[test]
fn open_none_known_is_unverified() {
    let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(
        note::open(msg.as_bytes(), &[]).unwrap_err(),
        NoteError::Unverified
    );
}

/// TestOpen "duplicated verifier": Go reports an ambiguous key; urne treats the same
/// key listed twice as one key.
#[test]
fn open_with_duplicated_known_key() {
    let msg = format!("{TEXT}\n{ENOCH_SIG}");
    let n = note::open(msg.as_bytes(), &[enoch(), peter(), enoch()]).unwrap();
    assert_eq!(n.verified, vec![enoch()]);
    let msg = format!("{TEXT}\n{PETER_SIG}");
    assert!(note::open(msg.as_bytes(), &[enoch(), peter(), enoch()]).is_ok());
}

/// TestOpen: more than 100 signature lines is malformed.
#[test]
fn open_too_many_signatures() {
    let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        note::open(msg.as_bytes(), &[peter()]).unwrap_err(),
        NoteError::Malformed
    );
    assert_eq!(
        note::open(msg.as_bytes(), &[]).unwrap_err(),
        NoteError::Malformed
    );
    let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
    assert!(note::open(msg.as_bytes(), &[peter()]).is_ok());
}

/// TestOpen: an invalid signature by a known key is an error naming the key.
#[test]
fn open_invalid_signature() {
    let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    let msg = format!("{TEXT}\n{bad}");
    assert_eq!(
        note::open(msg.as_bytes(), &[peter()]).unwrap_err(),
        NoteError::InvalidSignature("PeterNeumann+c74f20a3".into())
    );
}

/// TestOpen: duplicated verified and unverified signatures are reported once.
#[test]
fn open_duplicated_signatures() {
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
    let n = note::open(msg.as_bytes(), &[peter()]).unwrap();
    assert_eq!(n.verified, vec![peter()]);
    assert_eq!(n.unverified.len(), 2);
    assert_eq!(n.unverified[0].name(), "EnochRoot");
    assert_eq!(n.unverified[1].name(), "EnochRoot");
    assert_ne!(n.unverified[0].signature(), n.unverified[1].signature());
}

/// TestOpen: invalid encoded message syntax.
#[test]
fn open_malformed_messages() {
    let bad_msgs = [
        TEXT.to_string(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in &bad_msgs {
        assert_eq!(
            note::open(msg.as_bytes(), &[peter()]).unwrap_err(),
            NoteError::Malformed,
            "{msg:?}"
        );
    }
    // "\xff" + text: not UTF-8.
    let mut raw = vec![0xff];
    raw.extend_from_slice(format!("{TEXT}\n{PETER_SIG}").as_bytes());
    assert_eq!(
        note::open(&raw, &[peter()]).unwrap_err(),
        NoteError::Malformed
    );
}

/// Every single-byte change of a valid signed note is refused or loses Peter's
/// signature (never verifies a different text).
#[test]
fn open_mangle_every_byte_of_signed_note() {
    let msg = format!("{TEXT}\n{PETER_SIG}").into_bytes();
    for i in 0..msg.len() {
        let mut m = msg.clone();
        m[i] = m[i].wrapping_add(1);
        if let Ok(n) = note::open(&m, &[peter()]) {
            // Only a change in the signature's base64 padding-free tail can survive
            // if it decodes to the same bytes; the text must be unchanged.
            assert_eq!(n.text, TEXT, "byte {i} changed the verified text");
        }
    }
}
