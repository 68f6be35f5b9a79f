//! Tests of checkpoints, cosignatures, witness policies and tlog-proofs against the C2SP
//! examples (tlog-checkpoint, tlog-cosignature, tlog-witness, tlog-policy, tlog-proof),
//! transparency-dev/formats' published cosignature vectors, and known answers computed
//! independently with Python's `cryptography` Ed25519 from fixed seeds
//! (seed = SHA-256("urne-test-log") and SHA-256("urne-test-witness-1")).

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use sha2::{Digest, Sha256};
use tlog_tiles::Hash;
use urne_client::checkpoint::{
    add_cosignatures, open_checkpoint, open_checkpoint_with_policy, Checkpoint, CheckpointError,
    CosignerKey, PolicyMember, TlogProof, WitnessKey, WitnessPolicy, COSIGNATURE_ALG,
};
use urne_client::note::{SignerKey, VerifierKey};

/// The checkpoint text of the C2SP tlog-checkpoint example.
const C2SP_TEXT: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
/// The C2SP tlog-cosignature example (the log's and a witness's lines, keys unpublished).
const C2SP_COSIGNED: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

// Known answers computed with Python `cryptography` (independent of this crate).
const LOG_SKEY: &str =
    "PRIVATE+KEY+example.com/behind-the-sofa+46543cd9+AcYSmA390Wu8RxcanHP60sbv1lKRxD3ahGJ2JX/TGLOS";
const LOG_VKEY: &str =
    "example.com/behind-the-sofa+46543cd9+AZBvdCizDW//Ycfgdl1ldV7D5fpaINASf9AXQSWGFQ1t";
const LOG_SIG: &str = "— example.com/behind-the-sofa RlQ82WD8hR0ZVf/BMqvwQspO9tqVtYhP8rCyyJALBeFZo6vpFbzvf0Q6xS4IqJgKZkQfXtZPE6oc5Gz91iNL47iGGQo=\n";
const W1_SKEY: &str =
    "PRIVATE+KEY+witness.example.com/w1+18494d16+BPnxUtcadWME/Jkk1jO0HgldWYhZS8V9ef8jldNxZiUQ";
const W1_VKEY: &str =
    "witness.example.com/w1+18494d16+BGcDI5sa0FrkfjLV96Dmv5GH269zqjL86/7Te0NMqdko";
/// Cosignature by W1 of `C2SP_TEXT` at 1679315147 (the timestamp of the C2SP example).
const W1_COSIG: &str = "— witness.example.com/w1 GElNFgAAAABkGFDLvzbcsj21NH98WFwH3lYeRvGlUdWztQw5njgCie0KkSWHEBAqW1cVf42N8eEL+4F4P6s44O/qIAp+YpbWNY7eBw==\n";
const W1_TIME: u64 = 1679315147;

fn log_key() -> SignerKey {
    SignerKey::parse(LOG_SKEY).unwrap()
}

fn w1() -> CosignerKey {
    CosignerKey::parse(W1_SKEY).unwrap()
}

fn witness(i: u8) -> CosignerKey {
    CosignerKey::from_seed(&format!("witness{i}.example"), [i; 32]).unwrap()
}

fn hash(s: &[u8]) -> Hash {
    Hash(Sha256::digest(s).into())
}

// ---------------------------------------------------------------------------------------
// Checkpoint text
// ---------------------------------------------------------------------------------------

#[test]
fn c2sp_example_parses_and_round_trips() {
    let c = Checkpoint::parse_text(C2SP_TEXT).unwrap();
    assert_eq!(c.origin, "example.com/behind-the-sofa");
    assert_eq!(c.size, 20852163);
    assert_eq!(
        BASE64.encode(c.root.0),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(c.extensions.is_empty());
    assert_eq!(c.to_text(), C2SP_TEXT);
    c.validate().unwrap();
}

#[test]
fn extensions_round_trip() {
    let text = format!("{C2SP_TEXT}ext one\nExtendo\n");
    let c = Checkpoint::parse_text(&text).unwrap();
    assert_eq!(
        c.extensions,
        vec!["ext one".to_string(), "Extendo".to_string()]
    );
    assert_eq!(c.to_text(), text);
}

#[test]
fn size_zero_and_max() {
    let root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let c = Checkpoint::parse_text(&format!("o\n0\n{root}\n")).unwrap();
    assert_eq!(c.size, 0);
    let c = Checkpoint::parse_text(&format!("o\n18446744073709551615\n{root}\n")).unwrap();
    assert_eq!(c.size, u64::MAX);
}

#[test]
fn malformed_checkpoints_are_refused() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let root31 = BASE64.encode([7u8; 31]);
    let root33 = BASE64.encode([7u8; 33]);
    let cases: Vec<(String, &str)> = vec![
        (format!("o\n5\n{root}"), "missing final newline"),
        (format!("o\n05\n{root}\n"), "leading zero"),
        (format!("o\n00\n{root}\n"), "zero with leading zero"),
        (format!("o\n+5\n{root}\n"), "plus sign"),
        (format!("o\n-5\n{root}\n"), "minus sign"),
        (format!("o\n 5\n{root}\n"), "space before size"),
        (format!("o\n5 \n{root}\n"), "space after size"),
        (format!("o\n\n{root}\n"), "empty size"),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            "size overflow",
        ),
        (format!("o\n0x5\n{root}\n"), "hex size"),
        ("o\n5\nnot base64!\n".to_string(), "bad base64"),
        (format!("o\n5\n{root31}\n"), "31-byte hash"),
        (format!("o\n5\n{root33}\n"), "33-byte hash"),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".to_string(),
            "hash without padding",
        ),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".to_string(),
            "hash with non-zero trailing bits",
        ),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n".to_string(),
            "URL-safe base64",
        ),
        (format!("\n5\n{root}\n"), "empty origin"),
        (format!("o\r\n5\n{root}\n"), "CR after origin"),
        (format!("o\n5\r\n{root}\n"), "CR after size"),
        (format!("o\n5\n{root}\r\n"), "CR after root"),
        (format!("o\n5\n{root}\n\n"), "empty extension line"),
        (
            format!("o\n5\n{root}\na\n\nb\n"),
            "empty line among extensions",
        ),
        (format!("o\to\n5\n{root}\n"), "tab"),
        (format!("o\x00\n5\n{root}\n"), "NUL"),
        ("o\n5\n".to_string(), "no root"),
        ("o\n".to_string(), "one line"),
        (String::new(), "empty"),
        ("\n".to_string(), "newline only"),
    ];
    for (text, why) in cases {
        assert!(
            matches!(
                Checkpoint::parse_text(&text),
                Err(CheckpointError::Malformed(_))
            ),
            "accepted {why}: {text:?}"
        );
    }
}

#[test]
fn validate_refuses_newline_in_fields() {
    let mut c = Checkpoint::parse_text(C2SP_TEXT).unwrap();
    c.origin = "a\nb".into();
    assert!(c.validate().is_err());
    let mut c = Checkpoint::parse_text(C2SP_TEXT).unwrap();
    c.extensions = vec![String::new()];
    assert!(c.validate().is_err());
}

#[test]
fn sign_matches_independent_known_answer() {
    let c = Checkpoint::parse_text(C2SP_TEXT).unwrap();
    assert_eq!(log_key().verifier().to_string(), LOG_VKEY);
    assert_eq!(c.sign(&log_key()), format!("{C2SP_TEXT}\n{LOG_SIG}"));
}

// ---------------------------------------------------------------------------------------
// Cosignatures
// ---------------------------------------------------------------------------------------

#[test]
fn witness_keys_parse_and_format() {
    let k = WitnessKey::parse(W1_VKEY).unwrap();
    assert_eq!(k.name(), "witness.example.com/w1");
    assert_eq!(k.key_id(), 0x18494d16);
    assert_eq!(k.to_string(), W1_VKEY);
    assert_eq!(w1().verifier(), k);
    assert_eq!(w1().to_signer_string(), W1_SKEY);
    // A live witness key (transparency-dev/formats TestCoSigV1NewVerifier).
    let remora =
        WitnessKey::parse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
            .unwrap();
    assert_eq!(remora.key_id(), 0xda77ade7);
}

#[test]
fn witness_key_of_wrong_type_or_id_is_refused() {
    // Type 0x01 keys are note keys, not cosignature keys (convert explicitly).
    let note_key = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6";
    assert!(WitnessKey::parse(note_key).is_err());
    let converted = WitnessKey::from_note_key(&VerifierKey::parse(note_key).unwrap());
    assert_eq!(converted.name(), "TEST");
    assert_ne!(converted.key_id(), 0x7997405c);
    assert_eq!(
        WitnessKey::parse(&converted.to_string()).unwrap(),
        converted
    );
    for bad in [
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
        "remora.n621.de+00000000+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+DA77ADE7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2A",
        "",
    ] {
        assert!(WitnessKey::parse(bad).is_err(), "{bad}");
    }
}

/// Mangle every byte of a valid witness key: always refused.
#[test]
fn witness_key_manglings_are_refused() {
    let b = W1_VKEY.as_bytes();
    let mut m = b.to_vec();
    for i in 0..m.len() {
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(WitnessKey::parse(&s).is_err(), "accepted {s:?}");
        m[i] = m[i].wrapping_sub(1);
    }
    for i in 0..b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            let s = String::from_utf8_lossy(&b[i..j]);
            assert!(WitnessKey::parse(&s).is_err(), "accepted {s:?}");
        }
    }
}

#[test]
fn cosigner_key_manglings_are_refused() {
    let mut m = W1_SKEY.as_bytes().to_vec();
    for i in 0..m.len() {
        m[i] = m[i].wrapping_add(1);
        let s = String::from_utf8_lossy(&m);
        assert!(CosignerKey::parse(&s).is_err(), "accepted {s:?}");
        m[i] = m[i].wrapping_sub(1);
    }
    // A note signer key (type 0x01) is not a cosigner key.
    assert!(CosignerKey::parse(LOG_SKEY).is_err());
}

#[test]
fn cosign_matches_independent_known_answer() {
    assert_eq!(w1().cosign(C2SP_TEXT, W1_TIME), W1_COSIG);
}

fn payload(line: &str) -> Vec<u8> {
    let b64 = line.trim_end().rsplit(' ').next().unwrap();
    BASE64.decode(b64).unwrap()
}

#[test]
fn cosignature_verifies_and_reports_timestamp() {
    let k = w1().verifier();
    let p = payload(W1_COSIG);
    assert_eq!(p.len(), 76);
    assert_eq!(p[..4], 0x18494d16u32.to_be_bytes());
    assert_eq!(k.verify_cosignature(C2SP_TEXT, &p), Some(W1_TIME));
    assert_eq!(k.verify_cosignature(C2SP_TEXT, &p[4..]), Some(W1_TIME));
    // The C2SP example cosignature carries the same timestamp in the same place.
    let ex = payload(C2SP_COSIGNED.lines().last().unwrap());
    assert_eq!(u64::from_be_bytes(ex[4..12].try_into().unwrap()), W1_TIME);
}

#[test]
fn cosignature_fails_on_any_change() {
    let k = w1().verifier();
    let p = payload(W1_COSIG);
    // Every byte of the payload.
    for i in 0..p.len() {
        let mut q = p.clone();
        q[i] ^= 1;
        assert_eq!(
            k.verify_cosignature(C2SP_TEXT, &q),
            None,
            "payload byte {i}"
        );
    }
    // Every byte of the checkpoint text.
    let t = C2SP_TEXT.as_bytes();
    for i in 0..t.len() {
        let mut u = t.to_vec();
        u[i] ^= 1;
        let u = String::from_utf8_lossy(&u);
        assert_eq!(k.verify_cosignature(&u, &p), None, "text byte {i}");
    }
    // A different timestamp.
    let mut q = p.clone();
    q[4..12].copy_from_slice(&(W1_TIME + 1).to_be_bytes());
    assert_eq!(k.verify_cosignature(C2SP_TEXT, &q), None);
    // Another witness key, truncated or extended payloads.
    assert_eq!(
        witness(1).verifier().verify_cosignature(C2SP_TEXT, &p),
        None
    );
    assert_eq!(k.verify_cosignature(C2SP_TEXT, &p[..75]), None);
    assert_eq!(
        k.verify_cosignature(C2SP_TEXT, &[p.clone(), vec![0]].concat()),
        None
    );
    assert_eq!(k.verify_cosignature(C2SP_TEXT, &[]), None);
}

#[test]
fn cosignature_is_not_a_note_signature() {
    // The same Ed25519 key as a plain note signer signs different bytes with a
    // different key ID: domain separation by `cosignature/v1` and the 0x04 type.
    let seed: [u8; 32] = Sha256::digest(b"urne-test-witness-1").into();
    let as_note = SignerKey::from_seed("witness.example.com/w1", seed).unwrap();
    assert_ne!(as_note.verifier().key_id(), w1().verifier().key_id());
    let line = as_note.signature_line(C2SP_TEXT.as_bytes());
    assert_eq!(
        w1().verifier()
            .verify_cosignature(C2SP_TEXT, &payload(&line)),
        None
    );
    assert_eq!(COSIGNATURE_ALG, 0x04);
}

#[test]
fn timestamps_above_2_pow_63_are_refused() {
    let c = w1();
    let line = c.cosign(C2SP_TEXT, i64::MAX as u64);
    assert_eq!(
        c.verifier().verify_cosignature(C2SP_TEXT, &payload(&line)),
        Some(i64::MAX as u64)
    );
    let line = c.cosign(C2SP_TEXT, 0);
    assert_eq!(
        c.verifier().verify_cosignature(C2SP_TEXT, &payload(&line)),
        Some(0)
    );
}

// ---------------------------------------------------------------------------------------
// Opening signed checkpoints
// ---------------------------------------------------------------------------------------

fn signed_c2sp() -> String {
    format!("{C2SP_TEXT}\n{LOG_SIG}")
}

#[test]
fn open_known_answer_with_one_witness() {
    let note = format!("{}{W1_COSIG}", signed_c2sp());
    let policy = WitnessPolicy::k_of_n(vec![w1().verifier()], 1);
    let vk = log_key().verifier().clone();
    let s = open_checkpoint(note.as_bytes(), &vk, &policy).unwrap();
    assert_eq!(s.checkpoint, Checkpoint::parse_text(C2SP_TEXT).unwrap());
    assert_eq!(s.note, note);
    assert_eq!(s.cosigners, vec![(w1().verifier(), W1_TIME)]);
}

#[test]
fn open_c2sp_cosigned_example_ignores_unknown_witness() {
    // The example's log key is unpublished, so its log line is unknown to our log key:
    // the note has no valid log signature.
    let vk = log_key().verifier().clone();
    assert_eq!(
        open_checkpoint(C2SP_COSIGNED.as_bytes(), &vk, &WitnessPolicy::none()).unwrap_err(),
        CheckpointError::BadLogSignature
    );
    // With our log line added, the unknown witness line of the example is ignored.
    let note = format!("{C2SP_COSIGNED}{LOG_SIG}");
    let s = open_checkpoint(note.as_bytes(), &vk, &WitnessPolicy::none()).unwrap();
    assert!(s.cosigners.is_empty());
}

#[test]
fn open_refusals() {
    let vk = log_key().verifier().clone();
    let none = WitnessPolicy::none();
    // Bad log signature.
    let bad = format!("{C2SP_TEXT}\n{}", LOG_SIG.replace("RlQ82WD8", "RlQ82WD9"));
    assert_eq!(
        open_checkpoint(bad.as_bytes(), &vk, &none).unwrap_err(),
        CheckpointError::BadLogSignature
    );
    // No log signature at all.
    let only_w = format!("{C2SP_TEXT}\n{W1_COSIG}");
    assert_eq!(
        open_checkpoint(only_w.as_bytes(), &vk, &none).unwrap_err(),
        CheckpointError::BadLogSignature
    );
    // Origin differs from the log key name.
    let other = SignerKey::from_seed("other.example/log", [9; 32]).unwrap();
    let note = Checkpoint::parse_text(C2SP_TEXT).unwrap().sign(&other);
    assert!(matches!(
        open_checkpoint(note.as_bytes(), other.verifier(), &none),
        Err(CheckpointError::WrongOrigin { .. })
    ));
    // Not a checkpoint.
    let note = urne_client::note::sign("hello\n", &[&log_key()]).unwrap();
    assert!(matches!(
        open_checkpoint(note.as_bytes(), &vk, &none),
        Err(CheckpointError::Malformed(_))
    ));
    // Not a note.
    assert!(matches!(
        open_checkpoint(C2SP_TEXT.as_bytes(), &vk, &none),
        Err(CheckpointError::Malformed(_))
    ));
}

#[test]
fn open_bad_cosignature_by_policy_witness_is_an_error() {
    let vk = log_key().verifier().clone();
    let policy = WitnessPolicy::k_of_n(vec![w1().verifier()], 0);
    // Valid signature of another time: the timestamp bytes changed.
    let forged = w1().cosign(C2SP_TEXT, W1_TIME + 5);
    let mut p = payload(&forged);
    p[4..12].copy_from_slice(&W1_TIME.to_be_bytes());
    let line = format!("— witness.example.com/w1 {}\n", BASE64.encode(&p));
    let note = format!("{}{line}", signed_c2sp());
    assert!(matches!(
        open_checkpoint(note.as_bytes(), &vk, &policy),
        Err(CheckpointError::BadCosignature(_))
    ));
    // The same line is ignored when the witness is not in the policy.
    assert!(open_checkpoint(note.as_bytes(), &vk, &WitnessPolicy::none()).is_ok());
}

#[test]
fn quorum_k_of_n() {
    let vk = log_key().verifier().clone();
    let ws: Vec<CosignerKey> = (1..=4).map(witness).collect();
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.verifier()).collect(), 3);
    let mut note = signed_c2sp();
    for (i, w) in ws.iter().enumerate() {
        let r = open_checkpoint(note.as_bytes(), &vk, &policy);
        if i < 3 {
            assert_eq!(
                r.unwrap_err(),
                CheckpointError::QuorumNotMet { have: i, need: 3 }
            );
        } else {
            assert_eq!(r.unwrap().cosigners.len(), 3);
        }
        note.push_str(&w.cosign(C2SP_TEXT, 1_700_000_000 + i as u64));
    }
    let s = open_checkpoint(note.as_bytes(), &vk, &policy).unwrap();
    assert_eq!(s.cosigners.len(), 4);
    assert_eq!(s.cosigners[2], (ws[2].verifier(), 1_700_000_002));
    // A witness counted once however many lines it has.
    let dup = format!(
        "{}{}{}",
        signed_c2sp(),
        ws[0].cosign(C2SP_TEXT, 1),
        ws[0].cosign(C2SP_TEXT, 2)
    );
    let p2 = WitnessPolicy::k_of_n(policy.witness_keys(), 2);
    assert_eq!(
        open_checkpoint(dup.as_bytes(), &vk, &p2).unwrap_err(),
        CheckpointError::QuorumNotMet { have: 1, need: 2 }
    );
    assert!(p2.is_satisfied(&[ws[0].verifier(), ws[3].verifier()]));
    assert!(!p2.is_satisfied(&[ws[0].verifier(), ws[0].verifier()]));
}

#[test]
fn add_cosignatures_appends_and_dedups() {
    let vk = log_key().verifier().clone();
    let ws: Vec<CosignerKey> = (1..=3).map(witness).collect();
    let signed = signed_c2sp();
    // A witness response body holds several lines.
    let body = format!(
        "{}{}",
        ws[0].cosign(C2SP_TEXT, 10),
        ws[1].cosign(C2SP_TEXT, 11)
    );
    let out = add_cosignatures(
        &signed,
        &[
            body,
            ws[0].cosign(C2SP_TEXT, 99),
            ws[2].cosign(C2SP_TEXT, 12).trim_end().to_string(),
            // A line pretending to be the log's: dropped, the existing one is kept.
            LOG_SIG.replace("RlQ82WD8", "RlQ82WD9"),
        ],
    )
    .unwrap();
    assert_eq!(out.matches('\u{2014}').count(), 4);
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.verifier()).collect(), 3);
    let s = open_checkpoint(out.as_bytes(), &vk, &policy).unwrap();
    let times: Vec<u64> = s.cosigners.iter().map(|(_, t)| *t).collect();
    assert_eq!(times, vec![10, 11, 12]);
    // A new witness is appended; a witness already present is not added again.
    assert_eq!(
        add_cosignatures(&out, &[W1_COSIG.to_string()])
            .unwrap()
            .len(),
        out.len() + W1_COSIG.len()
    );
    assert_eq!(
        add_cosignatures(&out, &[ws[0].cosign(C2SP_TEXT, 5)]).unwrap(),
        out
    );
    // Refusals.
    for bad in ["not a line", "— name", "\n", "— a b\n\n— c d"] {
        assert!(
            add_cosignatures(&signed, &[bad.to_string()]).is_err(),
            "{bad:?}"
        );
    }
    assert!(add_cosignatures(C2SP_TEXT, &[]).is_err());
    let many: Vec<String> = (0..100u8)
        .map(|i| {
            CosignerKey::from_seed(&format!("w{i}"), [i; 32])
                .unwrap()
                .cosign(C2SP_TEXT, 1)
        })
        .collect();
    assert!(matches!(
        add_cosignatures(&signed, &many),
        Err(CheckpointError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------------------
// tlog-policy
// ---------------------------------------------------------------------------------------

fn policy_text(ws: &[CosignerKey]) -> String {
    // The C2SP tlog-policy example: 2 of X1..X3 and any of Y1..Y3.
    format!(
        "# example policy\n\
         log {LOG_VKEY}\n\
         \n\
         witness X1 {}\n\
         witness X2 {} https://x2.example/\n\
         \twitness X3 {}   \n\
         group X-witnesses 2 X1 X2 X3\n\
         \n\
         witness Y1 {}\n\
         witness Y2 {}\n\
         witness Y3 {}\n\
         group Y-witnesses any Y1 Y2 Y3\n\
         \n\
         group X-and-Y all X-witnesses Y-witnesses\n\
         quorum X-and-Y\n",
        ws[0].verifier(),
        ws[1].verifier(),
        ws[2].verifier(),
        ws[3].verifier(),
        ws[4].verifier(),
        ws[5].verifier(),
    )
}

#[test]
fn c2sp_policy_example_parses_and_evaluates() {
    let ws: Vec<CosignerKey> = (1..=6).map(witness).collect();
    let p = WitnessPolicy::parse(&policy_text(&ws)).unwrap();
    assert_eq!(p.logs.len(), 1);
    assert_eq!(p.witnesses.len(), 6);
    assert_eq!(p.witnesses[1].url.as_deref(), Some("https://x2.example/"));
    assert_eq!(p.groups.len(), 3);
    assert_eq!(p.groups[0].threshold, 2);
    assert_eq!(p.groups[1].threshold, 1);
    assert_eq!(p.groups[2].threshold, 2);
    assert_eq!(p.quorum, Some(PolicyMember::Group(2)));
    assert_eq!(WitnessPolicy::parse(&p.to_text()).unwrap(), p);

    let k = |i: usize| ws[i].verifier();
    assert!(!p.is_satisfied(&[]));
    assert!(!p.is_satisfied(&[k(0), k(1)]));
    assert!(!p.is_satisfied(&[k(0), k(3), k(4), k(5)]));
    assert!(p.is_satisfied(&[k(0), k(1), k(3)]));
    assert!(p.is_satisfied(&[k(2), k(1), k(5)]));

    // Through open_checkpoint_with_policy, with the quorum error reporting the minimum.
    let mut note = signed_c2sp();
    note.push_str(&ws[0].cosign(C2SP_TEXT, 1));
    note.push_str(&ws[3].cosign(C2SP_TEXT, 1));
    assert_eq!(
        open_checkpoint_with_policy(note.as_bytes(), &p).unwrap_err(),
        CheckpointError::QuorumNotMet { have: 2, need: 3 }
    );
    note.push_str(&ws[2].cosign(C2SP_TEXT, 1));
    let s = open_checkpoint_with_policy(note.as_bytes(), &p).unwrap();
    assert_eq!(s.cosigners.len(), 3);
}

#[test]
fn policy_quorum_none_and_single_witness() {
    let p = WitnessPolicy::parse(&format!("log {LOG_VKEY}\nquorum none\n")).unwrap();
    assert_eq!(p.quorum, None);
    assert!(p.is_satisfied(&[]));
    assert!(open_checkpoint_with_policy(signed_c2sp().as_bytes(), &p).is_ok());
    let p =
        WitnessPolicy::parse(&format!("log {LOG_VKEY}\nwitness w {W1_VKEY}\nquorum w\n")).unwrap();
    assert!(!p.is_satisfied(&[]));
    let note = format!("{}{W1_COSIG}", signed_c2sp());
    assert!(open_checkpoint_with_policy(note.as_bytes(), &p).is_ok());
    // A log the policy does not list.
    let p = WitnessPolicy::parse(&format!(
        "log {}\nquorum none\n",
        SignerKey::from_seed("other", [1; 32]).unwrap().verifier()
    ))
    .unwrap();
    assert!(matches!(
        open_checkpoint_with_policy(note.as_bytes(), &p),
        Err(CheckpointError::WrongOrigin { .. })
    ));
}

#[test]
fn simple_policy_converts() {
    let ws: Vec<CosignerKey> = (1..=3).map(witness).collect();
    let simple = WitnessPolicy::k_of_n(ws.iter().map(|w| w.verifier()).collect(), 2);
    let p = simple.clone().with_log(log_key().verifier());
    let back = WitnessPolicy::parse(&p.to_text()).unwrap();
    assert_eq!(back, p);
    assert!(p.is_satisfied(&[ws[0].verifier(), ws[2].verifier()]));
    assert!(!p.is_satisfied(&[ws[0].verifier()]));
    let none = WitnessPolicy::none().with_log(log_key().verifier());
    assert_eq!(none.quorum, None);
}

#[test]
fn bad_policies_are_refused() {
    let w = |i: u8| witness(i).verifier().to_string();
    let cases: Vec<(String, &str)> = vec![
        (format!("log {LOG_VKEY}\n"), "no quorum"),
        (
            format!("witness a {}\nquorum a\nquorum a\n", w(1)),
            "two quorum lines",
        ),
        ("quorum b\n".into(), "undefined quorum name"),
        (
            format!("witness a {}\nwitness a {}\nquorum a\n", w(1), w(2)),
            "name twice",
        ),
        (
            format!("witness a {}\nwitness b {}\nquorum a\n", w(1), w(1)),
            "duplicate key",
        ),
        (
            format!("log {LOG_VKEY}\nlog {LOG_VKEY}\nquorum none\n"),
            "duplicate log",
        ),
        (
            format!("witness none {}\nquorum none\n", w(1)),
            "reserved name",
        ),
        (
            format!("witness a {}\ngroup g 2 a\nquorum g\n", w(1)),
            "k > n",
        ),
        (
            format!("witness a {}\ngroup g 0 a\nquorum g\n", w(1)),
            "k = 0",
        ),
        (
            format!("witness a {}\ngroup g -1 a\nquorum g\n", w(1)),
            "negative k",
        ),
        (
            format!("witness a {}\ngroup g some a\nquorum g\n", w(1)),
            "bad k word",
        ),
        (
            format!("witness a {}\ngroup g any\nquorum g\n", w(1)),
            "no members",
        ),
        (
            format!("witness a {}\ngroup g any b\nquorum g\n", w(1)),
            "undefined member",
        ),
        (
            format!("group g any a\nwitness a {}\nquorum g\n", w(1)),
            "member defined later",
        ),
        (
            format!("witness a {}\ngroup g any a a\nquorum g\n", w(1)),
            "member twice",
        ),
        (
            format!(
                "witness a {}\ngroup g any a\ngroup h any a\nquorum h\n",
                w(1)
            ),
            "member of two groups",
        ),
        (
            format!("witness a {}\ngroup g any g\nquorum g\n", w(1)),
            "self reference",
        ),
        (
            format!("witness a {LOG_VKEY}\nquorum a\n"),
            "0x01 key as witness",
        ),
        (format!("log {}\nquorum none\n", w(1)), "0x04 key as log"),
        (format!("witness a {}\r\nquorum a\n", w(1)), "CR"),
        (format!("witness a {}\nquorum a\x0c\n", w(1)), "form feed"),
        ("quorum none extra\n".into(), "extra word"),
        ("frobnicate x\nquorum none\n".into(), "unknown keyword"),
        (
            format!("witness a {} url extra\nquorum a\n", w(1)),
            "too many words",
        ),
        ("log\nquorum none\n".into(), "log without key"),
    ];
    for (text, why) in cases {
        assert!(
            matches!(
                WitnessPolicy::parse(&text),
                Err(CheckpointError::BadPolicy { .. })
            ),
            "accepted {why}: {text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// tlog-proof
// ---------------------------------------------------------------------------------------

/// Builds an RFC 6962 tree over `n` entries and returns (leaf hashes, root, proof of i).
fn tree(n: u64, i: u64) -> (Vec<Hash>, Hash, Vec<Hash>) {
    fn node(l: Hash, r: Hash) -> Hash {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(l.0);
        h.update(r.0);
        Hash(h.finalize().into())
    }
    fn root(leaves: &[Hash]) -> Hash {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node(root(&leaves[..k]), root(&leaves[k..]))
    }
    fn path(leaves: &[Hash], i: usize) -> Vec<Hash> {
        if leaves.len() == 1 {
            return vec![];
        }
        let k = leaves.len().next_power_of_two() / 2;
        if i < k {
            let mut p = path(&leaves[..k], i);
            p.push(root(&leaves[k..]));
            p
        } else {
            let mut p = path(&leaves[k..], i - k);
            p.push(root(&leaves[..k]));
            p
        }
    }
    let leaves: Vec<Hash> = (0..n)
        .map(|j| hash(&[&[0u8][..], format!("entry {j}").as_bytes()].concat()))
        .collect();
    let r = root(&leaves);
    let p = path(&leaves, i as usize);
    (leaves, r, p)
}

fn proof_for(n: u64, i: u64, ws: &[CosignerKey]) -> (TlogProof, Hash) {
    let (leaves, root, proof) = tree(n, i);
    let c = Checkpoint {
        origin: "example.com/behind-the-sofa".into(),
        size: n,
        root,
        extensions: vec![],
    };
    let mut note = c.sign(&log_key());
    for w in ws {
        note.push_str(&w.cosign(&c.to_text(), 1_700_000_000));
    }
    (
        TlogProof {
            extra: None,
            index: i,
            proof,
            checkpoint: note,
        },
        leaves[i as usize],
    )
}

#[test]
fn tlog_proof_round_trips_and_verifies() {
    let ws: Vec<CosignerKey> = (1..=2).map(witness).collect();
    let policy = WitnessPolicy::k_of_n(ws.iter().map(|w| w.verifier()).collect(), 2);
    let vk = log_key().verifier().clone();
    for (n, i) in [(1, 0), (2, 1), (7, 3), (8, 7), (100, 42), (1000, 999)] {
        let (mut p, leaf) = proof_for(n, i, &ws);
        let text = p.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex "));
        assert_eq!(TlogProof::parse(text.as_bytes()).unwrap(), p);
        let s = p.verify(&leaf, &vk, &policy).unwrap();
        assert_eq!(s.checkpoint.size, n);
        // Wrong leaf, wrong index, tampered proof.
        assert!(matches!(
            p.verify(&hash(b"other"), &vk, &policy),
            Err(CheckpointError::BadProof(_))
        ));
        if n > 1 {
            p.index = (i + 1) % n;
            assert!(p.verify(&leaf, &vk, &policy).is_err());
            p.index = i;
            p.proof[0].0[0] ^= 1;
            assert!(p.verify(&leaf, &vk, &policy).is_err());
        }
        p.extra = Some(b"age-v1.2.1-darwin-arm64.tar.gz".to_vec());
        let text = p.to_text();
        assert!(text.contains("\nextra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6\nindex "));
        assert_eq!(TlogProof::parse(text.as_bytes()).unwrap(), p);
    }
    // The quorum applies to receipts too.
    let (p, leaf) = proof_for(5, 2, &ws[..1]);
    assert!(matches!(
        p.verify(&leaf, &vk, &policy),
        Err(CheckpointError::QuorumNotMet { have: 1, need: 2 })
    ));
}

#[test]
fn c2sp_proof_example_shape_parses() {
    // The C2SP tlog-proof example with its elided signatures replaced by real ones.
    let head = "c2sp.org/tlog-proof@v1\n\
                extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
                index 73894\n\
                gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
                B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
                EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
                RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
                AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\n";
    let text = format!("{head}{}", signed_c2sp());
    let p = TlogProof::parse(text.as_bytes()).unwrap();
    assert_eq!(p.index, 73894);
    assert_eq!(p.proof.len(), 5);
    assert!(p.extra.is_some());
    assert_eq!(p.to_text(), text);
}

#[test]
fn malformed_proofs_are_refused() {
    let cp = signed_c2sp();
    let h = "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("c2sp.org/tlog-proof@v2\nindex 1\n\n{cp}"),
            "wrong header",
        ),
        (format!("index 1\n\n{cp}"), "no header"),
        (format!("c2sp.org/tlog-proof@v1\n\n{cp}"), "no index"),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}"),
            "leading zero",
        ),
        (format!("c2sp.org/tlog-proof@v1\nindex +1\n\n{cp}"), "plus"),
        (
            format!("c2sp.org/tlog-proof@v1\nindex  1\n\n{cp}"),
            "two spaces",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 20852163\n\n{cp}"),
            "index = size",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}x\n\n{cp}"),
            "bad hash",
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{cp}",
                BASE64.encode([1u8; 31])
            ),
            "31-byte hash",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n"),
            "no checkpoint",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n\n{C2SP_TEXT}"),
            "unsigned checkpoint",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{cp}"),
            "bad extra",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n{cp}"),
            "empty extra",
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\nextra AAAA\n\n{cp}"),
            "extra after index",
        ),
        (format!("c2sp.org/tlog-proof@v1\r\nindex 1\n\n{cp}"), "CR"),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
                format!("{h}\n").repeat(65)
            ),
            "65 hashes",
        ),
    ];
    for (text, why) in cases {
        assert!(
            matches!(
                TlogProof::parse(text.as_bytes()),
                Err(CheckpointError::Malformed(_))
            ),
            "accepted {why}"
        );
    }
    assert!(TlogProof::parse(&[0xff, 0xfe]).is_err());
}

#[test]
fn generated_cosigner_round_trips() {
    let c = CosignerKey::generate("witness.example/gen").unwrap();
    let back = CosignerKey::parse(&c.to_signer_string()).unwrap();
    assert_eq!(back.verifier(), c.verifier());
    assert_eq!(
        WitnessKey::parse(&c.verifier().to_string()).unwrap(),
        c.verifier()
    );
    assert!(CosignerKey::generate("bad name").is_err());
    assert!(!format!("{c:?}").contains(&c.to_signer_string()[20..]));
}
