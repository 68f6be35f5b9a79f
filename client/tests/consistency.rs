//! The one consistency decision (`urne_client::consistency::decide`) over the shared
//! cases of `testdata/consistency/`, and the evidence check (`Equivocation::verify`)
//! over those of `testdata/evidence/`, which the web page's tests run too
//! (`web/tests/verify.test.js`: `decideConsistency`, `verifyEquivocation`).
//!
//! The cases are generated here, deterministically (fixed Ed25519 seeds, fixed
//! cosignature times), and compared with the files: a change of the decision or of the
//! generator fails until the files are rewritten with `URNE_WRITE_TESTDATA=1 cargo
//! test -p urne-client --test consistency`, so the Rust and JS sides never drift
//! apart silently.

use serde_json::{json, Value};
use std::path::PathBuf;
use urne_client::checkpoint::{add_cosignatures, Checkpoint, CosignerKey, WitnessPolicy};
use urne_client::consistency::{decide, Decision, Quorum, Shown, TrustPolicy};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::tree::{
    hash_from_base64, hash_to_base64, prove_consistency, tree_hash, Hash, MemoryHashStore,
    EMPTY_HASH,
};

const ORIGIN: &str = "log.example/urne";

fn log_key() -> SignerKey {
    SignerKey::from_seed(ORIGIN, [42; 32]).expect("seed key")
}

fn witness() -> CosignerKey {
    CosignerKey::from_seed("witness.example/w1", [7; 32]).expect("seed key")
}

fn history(n: u64, name: &str) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for i in 0..n {
        s.append(format!("{name} entry {i}").as_bytes());
    }
    s
}

fn signed_root(key: &SignerKey, size: u64, root: Hash) -> String {
    Checkpoint {
        origin: key.name().to_string(),
        size,
        root,
        extensions: vec![],
    }
    .sign(key)
}

/// The log's checkpoint of the first `size` entries of `s`.
fn signed(s: &MemoryHashStore, size: u64) -> String {
    signed_root(
        &log_key(),
        size,
        tree_hash(size, s).expect("size within the store"),
    )
}

/// `note` with the witness's cosignature at a fixed time.
fn cosigned(note: &str) -> String {
    let text = note
        .split_once("\n\n")
        .map(|(t, _)| format!("{t}\n"))
        .expect("a note");
    add_cosignatures(note, &[witness().cosign(&text, 1_700_000_000)]).expect("cosigned")
}

fn proof(s: &MemoryHashStore, old: u64, new: u64) -> Value {
    let p = prove_consistency(old, new, s).expect("proof");
    json!(p.iter().map(hash_to_base64).collect::<Vec<_>>())
}

struct Case {
    name: &'static str,
    description: &'static str,
    witnessed: bool,
    held: Option<String>,
    new: String,
    shown: &'static str,
    proof: Value,
    expected: &'static str,
    verifiable: Option<bool>,
}

fn cases() -> Vec<Case> {
    let honest = history(12, "honest");
    let forked = history(12, "forked");
    let (h5, h8, h12) = (signed(&honest, 5), signed(&honest, 8), signed(&honest, 12));
    let f8 = signed(&forked, 8);
    let f12 = signed(&forked, 12);
    let empty = signed_root(&log_key(), 0, EMPTY_HASH);
    let bogus_empty = signed_root(&log_key(), 0, tree_hash(1, &honest).expect("root"));
    let stranger = SignerKey::from_seed(ORIGIN, [9; 32]).expect("seed key");
    let c = |name,
             description,
             witnessed,
             held: Option<&String>,
             new: &String,
             shown,
             proof,
             expected,
             verifiable| Case {
        name,
        description,
        witnessed,
        held: held.cloned(),
        new: new.clone(),
        shown,
        proof,
        expected,
        verifiable,
    };
    vec![
        c(
            "first_run",
            "nothing held yet: the new checkpoint is held",
            false,
            None,
            &h8,
            "log",
            Value::Null,
            "consistent",
            None,
        ),
        c(
            "same_checkpoint",
            "the same checkpoint again",
            false,
            Some(&h8),
            &h8,
            "log",
            Value::Null,
            "consistent",
            None,
        ),
        c(
            "grows",
            "a larger tree with a valid consistency proof",
            false,
            Some(&h5),
            &h8,
            "log",
            proof(&honest, 5, 8),
            "consistent",
            None,
        ),
        c(
            "grows_cosigned",
            "a larger tree, cosigned by the witness quorum",
            true,
            Some(&cosigned(&h5)),
            &cosigned(&h8),
            "log",
            proof(&honest, 5, 8),
            "consistent",
            None,
        ),
        c(
            "grows_quorum_not_met",
            "a larger consistent tree the witnesses did not cosign: not held, nothing contradicted",
            true,
            Some(&cosigned(&h5)),
            &h8,
            "log",
            proof(&honest, 5, 8),
            "quorum_not_met",
            None,
        ),
        c(
            "same_size_two_roots",
            "two roots for one size: a fork anyone can check",
            false,
            Some(&h8),
            &f8,
            "log",
            Value::Null,
            "fork",
            Some(true),
        ),
        c(
            "same_size_two_roots_uncosigned",
            "a fork the witnesses did not cosign is still the log's fork",
            true,
            Some(&cosigned(&h8)),
            &f8,
            "log",
            Value::Null,
            "fork",
            Some(true),
        ),
        c(
            "not_a_prefix",
            "a larger tree whose proof does not lead from the held root",
            false,
            Some(&h5),
            &f12,
            "log",
            proof(&forked, 5, 12),
            "fork",
            Some(false),
        ),
        c(
            "proof_refused",
            "the log refuses to prove a size it signed",
            false,
            Some(&h5),
            &h8,
            "log",
            Value::Null,
            "fork",
            Some(false),
        ),
        c(
            "rollback",
            "a smaller tree shown by the log: entries were removed",
            false,
            Some(&h12),
            &h8,
            "log",
            Value::Null,
            "rollback",
            Some(false),
        ),
        c(
            "rollback_uncosigned",
            "a rollback the witnesses refused to cosign is a rollback, not a quorum failure",
            true,
            Some(&cosigned(&h12)),
            &f8,
            "log",
            Value::Null,
            "rollback",
            Some(false),
        ),
        c(
            "older_elsewhere",
            "an older checkpoint held by a peer, proved a prefix",
            false,
            Some(&h12),
            &h8,
            "elsewhere",
            proof(&honest, 8, 12),
            "consistent",
            None,
        ),
        c(
            "older_elsewhere_not_prefix",
            "a peer holds an older checkpoint that is not a prefix: a split view",
            false,
            Some(&h12),
            &f8,
            "elsewhere",
            proof(&honest, 8, 12),
            "equivocation",
            Some(false),
        ),
        c(
            "larger_elsewhere_forked",
            "a peer holds a larger tree of another history",
            false,
            Some(&h8),
            &f12,
            "elsewhere",
            proof(&forked, 8, 12),
            "equivocation",
            Some(false),
        ),
        c(
            "size0_held",
            "the empty tree is a prefix of every tree: no proof needed",
            false,
            Some(&empty),
            &h8,
            "log",
            Value::Null,
            "consistent",
            None,
        ),
        c(
            "size0_first_run",
            "the empty tree with its one root",
            false,
            None,
            &empty,
            "log",
            Value::Null,
            "consistent",
            None,
        ),
        c(
            "size0_elsewhere",
            "a peer holds the empty tree: consistent with everything",
            false,
            Some(&h8),
            &empty,
            "elsewhere",
            Value::Null,
            "consistent",
            None,
        ),
        c(
            "size0_by_log",
            "the log shows the empty tree after signing 8 entries: a rollback",
            false,
            Some(&h8),
            &empty,
            "log",
            Value::Null,
            "rollback",
            Some(false),
        ),
        c(
            "size0_bogus_root",
            "a tree of size 0 with another root than the empty tree's: a fork on its own",
            false,
            Some(&h8),
            &bogus_empty,
            "elsewhere",
            Value::Null,
            "equivocation",
            Some(true),
        ),
        c(
            "size0_bogus_root_first_run",
            "nothing held, and the log signs an impossible empty tree",
            false,
            None,
            &bogus_empty,
            "log",
            Value::Null,
            "fork",
            Some(true),
        ),
        c(
            "not_signed",
            "a checkpoint signed by another key says nothing about the log",
            false,
            Some(&h5),
            &signed_root(&stranger, 8, tree_hash(8, &honest).expect("root")),
            "log",
            Value::Null,
            "not_signed",
            None,
        ),
    ]
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/consistency")
}

/// Equivocation evidence, as parties exchange it, and whether it proves a fork with
/// the log key alone (`Equivocation::verify`, `verifyEquivocation` in the page).
fn evidence_cases() -> Vec<(&'static str, &'static str, Value, bool)> {
    let honest = history(12, "honest");
    let forked = history(12, "forked");
    let ev = |a: &str, b: &str, proof: Value, old: Option<Hash>| {
        json!({
            "origin": ORIGIN,
            "reason": "case",
            "note_a": a,
            "note_b": b,
            "proof": proof,
            "old_root_from_proof": old.map(|h| hash_to_base64(&h)),
            "source": "case",
        })
    };
    let (h5, h8) = (signed(&honest, 5), signed(&honest, 8));
    let (f5, f8) = (signed(&forked, 5), signed(&forked, 8));
    let root5 = tree_hash(5, &honest).expect("root");
    let empty = signed_root(&log_key(), 0, EMPTY_HASH);
    let bogus_empty = signed_root(&log_key(), 0, tree_hash(1, &honest).expect("root"));
    let stranger = SignerKey::from_seed(ORIGIN, [9; 32]).expect("seed key");
    let s8 = signed_root(&stranger, 8, tree_hash(8, &forked).expect("root"));
    vec![
        (
            "two_roots_one_size",
            "same size, two roots",
            ev(&h8, &f8, json!([]), None),
            true,
        ),
        (
            "same_checkpoint",
            "same size, same root",
            ev(&h8, &h8, json!([]), None),
            false,
        ),
        (
            "not_a_prefix",
            "the honest proof leads to another root at size 5 than the signed one",
            ev(&f5, &h8, proof(&honest, 5, 8), Some(root5)),
            true,
        ),
        (
            "consistent_pair",
            "the proof leads to note_a's own root",
            ev(&h5, &h8, proof(&honest, 5, 8), Some(root5)),
            false,
        ),
        (
            "proof_to_another_root",
            "a proof that does not lead to note_b's root proves nothing",
            ev(
                &f5,
                &h8,
                proof(&forked, 5, 8),
                Some(tree_hash(5, &forked).expect("root")),
            ),
            false,
        ),
        (
            "larger_first",
            "note_a must be the smaller",
            ev(&h8, &f5, json!([]), None),
            false,
        ),
        (
            "other_key",
            "a note signed by another key is not the log's",
            ev(&h8, &s8, json!([]), None),
            false,
        ),
        (
            "size0_empty_root",
            "the empty tree with its one root is a prefix of every tree",
            ev(&empty, &h8, json!([]), None),
            false,
        ),
        (
            "size0_empty_root_claimed_other",
            "a claimed other root at size 0 proves nothing",
            ev(&empty, &h8, json!([]), Some(root5)),
            false,
        ),
        (
            "size0_bogus_root",
            "a signed tree of size 0 with another root is a fork on its own",
            ev(&bogus_empty, &h8, json!([]), None),
            true,
        ),
        (
            "size0_bogus_root_alone",
            "it needs no other checkpoint",
            ev(&bogus_empty, &bogus_empty, json!([]), None),
            true,
        ),
        (
            "size0_bogus_root_with_proof",
            "a consistency proof from size 0 is empty",
            ev(&bogus_empty, &h8, proof(&honest, 1, 8), None),
            false,
        ),
    ]
}

fn case_json(c: &Case) -> Value {
    json!({
        "name": c.name,
        "description": c.description,
        "log_key": log_key().verifier().to_string(),
        "witnesses": if c.witnessed { vec![witness().verifier().to_string()] } else { vec![] },
        "quorum": usize::from(c.witnessed),
        "held": c.held,
        "new": c.new,
        "shown": c.shown,
        "proof": c.proof,
        "expected": c.expected,
        "evidence_verifiable": c.verifiable,
    })
}

/// Runs the decision over one case file, as every party does.
fn run(case: &Value) -> (String, Option<bool>) {
    let log = VerifierKey::parse(case["log_key"].as_str().expect("log_key")).expect("log key");
    let witnesses = case["witnesses"]
        .as_array()
        .expect("witnesses")
        .iter()
        .map(|w| w.as_str().expect("key").parse().expect("witness key"))
        .collect();
    let quorum = case["quorum"].as_u64().expect("quorum") as usize;
    let policy = TrustPolicy {
        log_key: log.clone(),
        quorum: Quorum::Simple(WitnessPolicy::k_of_n(witnesses, quorum)),
    };
    let held = case["held"].as_str().map(|n| {
        policy
            .open_log_signed(n)
            .expect("held is signed by the log")
    });
    let shown = match case["shown"].as_str() {
        Some("log") => Shown::ByLog("case"),
        _ => Shown::Elsewhere("case"),
    };
    let served = case["proof"].clone();
    let d = decide(
        &policy,
        held.as_ref(),
        case["new"].as_str().expect("new"),
        shown,
        |_, _| -> Result<Option<Vec<Hash>>, String> {
            Ok(served.as_array().map(|a| {
                a.iter()
                    .map(|h| hash_from_base64(h.as_str().expect("b64")).expect("hash"))
                    .collect()
            }))
        },
    );
    match d {
        Ok(Decision::Consistent { .. }) => ("consistent".into(), None),
        Ok(Decision::QuorumNotMet { .. }) => ("quorum_not_met".into(), None),
        Ok(Decision::Conflict(c)) => {
            // The evidence must say the same to anyone holding the log key alone.
            assert_eq!(c.evidence.verify(&log).is_ok(), c.verifiable);
            (c.kind.as_str().into(), Some(c.verifiable))
        }
        Err(urne_client::consistency::DecideError::NotSigned(_)) => ("not_signed".into(), None),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn shared_cases_are_the_generated_ones_and_decide_as_expected() {
    let write = std::env::var_os("URNE_WRITE_TESTDATA").is_some();
    let dir = dir();
    if write {
        std::fs::create_dir_all(&dir).expect("mkdir testdata");
    }
    let mut names = Vec::new();
    for c in cases() {
        let want = case_json(&c);
        let path = dir.join(format!("{}.json", c.name));
        let text = serde_json::to_string_pretty(&want).expect("json") + "\n";
        if write {
            std::fs::write(&path, &text).expect("write case");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (URNE_WRITE_TESTDATA=1 writes it)", path.display())
        });
        assert_eq!(
            on_disk,
            text,
            "{} is not the generated case",
            path.display()
        );
        let case: Value = serde_json::from_str(&on_disk).expect("case json");
        let (outcome, verifiable) = run(&case);
        assert_eq!(outcome, c.expected, "case {}: {}", c.name, c.description);
        assert_eq!(
            verifiable, c.verifiable,
            "case {}: evidence verifiable",
            c.name
        );
        names.push(format!("{}.json", c.name));
    }
    // No stale case left behind: the JS tests read every file of the directory.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read testdata")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    names.sort();
    assert_eq!(on_disk, names);
}

#[test]
fn shared_evidence_cases_are_the_generated_ones_and_verify_as_expected() {
    use urne_client::gossip::Equivocation;
    let write = std::env::var_os("URNE_WRITE_TESTDATA").is_some();
    let dir = dir().join("../evidence");
    if write {
        std::fs::create_dir_all(&dir).expect("mkdir testdata");
    }
    let log = log_key().verifier().clone();
    let mut names = Vec::new();
    for (name, description, evidence, proves) in evidence_cases() {
        let case = json!({
            "name": name,
            "description": description,
            "log_key": log.to_string(),
            "evidence": evidence,
            "proves_equivocation": proves,
        });
        let path = dir.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&case).expect("json") + "\n";
        if write {
            std::fs::write(&path, &text).expect("write case");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (URNE_WRITE_TESTDATA=1 writes it)", path.display())
        });
        assert_eq!(
            on_disk,
            text,
            "{} is not the generated case",
            path.display()
        );
        let e: Equivocation = serde_json::from_value(evidence).expect("evidence");
        assert_eq!(
            e.verify(&log).is_ok(),
            proves,
            "{name}: {description}: {:?}",
            e.verify(&log)
        );
        names.push(format!("{name}.json"));
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("read testdata")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    on_disk.sort();
    names.sort();
    assert_eq!(on_disk, names);
}

#[test]
fn a_forked_log_is_one_incident_whatever_it_signs_next() {
    // The held checkpoint is the dedup key: every later checkpoint of the fork
    // contradicts the same one.
    let honest = history(12, "honest");
    let forked = history(12, "forked");
    let policy = TrustPolicy::log_only(log_key().verifier().clone());
    let held = policy.open_log_signed(&signed(&honest, 8)).expect("held");
    let keys: Vec<_> = (9..=12)
        .map(|n| {
            let d = decide(
                &policy,
                Some(&held),
                &signed(&forked, n),
                Shown::ByLog("l"),
                |o, n| prove_consistency(o, n, &forked).map(Some),
            )
            .expect("decided");
            match d {
                Decision::Conflict(c) => c.key,
                other => panic!("not a conflict: {other:?}"),
            }
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
}
