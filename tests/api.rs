//! Integration tests of the log server: a real server on 127.0.0.1 with RocksDB in a
//! temporary directory. Every endpoint and every refusal code is exercised; every
//! proof received is verified with the client library, never trusted.

mod common;

use common::faulty::{CommitFault, FaultyStore};
use common::{check_log, election, TestLog};
use urne_client::checkpoint::{open_checkpoint, TlogProof, WitnessPolicy};
use urne_client::note::VerifierKey;
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
};
use urne_client::test_kit::{random_tag, DemoKeys};
use urne_client::tree::{self, hash_from_base64, hash_from_hex};

fn proof(v: &serde_json::Value, field: &str) -> Vec<tree::Hash> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash_from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Checks an acknowledgement (201, or 200 for a duplicate): its checkpoint is signed
/// by the log, the entry is in it (inclusion proof), and its `tlog_proof` receipt
/// proves the same entry offline with the client library.
fn check_ack(log: &TestLog, text: &str, v: &serde_json::Value) -> u64 {
    let cp = open_checkpoint(
        v["checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    let index = v["index"].as_u64().unwrap();
    let leaf = tree::record_hash(text.as_bytes());
    assert_eq!(
        hash_from_hex(v["leaf_hash"].as_str().unwrap()).unwrap(),
        leaf
    );
    assert_eq!(cp.size, v["tree_size"].as_u64().unwrap());
    tree::verify_inclusion(
        index,
        cp.size,
        &leaf,
        &proof(v, "inclusion_proof"),
        &cp.root,
    )
    .expect("inclusion proof of the acknowledgement");
    check_tlog_proof(log, text, index, v);
    index
}

/// Parses the `tlog_proof` field of an answer with the client library and verifies
/// it offline: the log's signature on its checkpoint, and `text` at `index` in it.
fn check_tlog_proof(log: &TestLog, text: &str, index: u64, v: &serde_json::Value) {
    let receipt = TlogProof::parse(v["tlog_proof"].as_str().expect("tlog_proof").as_bytes())
        .expect("tlog_proof parses");
    assert_eq!(receipt.index, index, "{v}");
    // An urne receipt carries its entry, for checks without the log.
    assert_eq!(receipt.entry(), Some(text.as_bytes()), "{v}");
    let signed = receipt
        .verify(
            &tree::record_hash(text.as_bytes()),
            &log.key,
            &WitnessPolicy::none(),
        )
        .expect("the offline receipt verifies");
    assert_eq!(receipt.checkpoint, v["checkpoint"].as_str().unwrap());
    assert_eq!(signed.checkpoint.size, v["tree_size"].as_u64().unwrap());
    // And it is not a receipt for anything else.
    assert!(receipt
        .verify(
            &tree::record_hash(format!("{text} ").as_bytes()),
            &log.key,
            &WitnessPolicy::none(),
        )
        .is_err());
}

async fn ok(log: &TestLog, text: &str) -> u64 {
    let (s, v) = log.post(text).await;
    assert_eq!(s, 201, "{v}");
    check_ack(log, text, &v)
}

async fn refused(log: &TestLog, text: &str, status: u16, code: &str) {
    let before = log.checkpoint().await.checkpoint;
    let (s, v) = log.post(text).await;
    assert_eq!(
        (s, v["error"].as_str().unwrap_or("")),
        (status, code),
        "{v}"
    );
    assert!(
        !v["detail"].as_str().unwrap_or("").is_empty(),
        "a refusal says why: {v}"
    );
    let after = log.checkpoint().await.checkpoint;
    assert_eq!(before, after, "a refused statement changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_election_every_endpoint_and_refusal() {
    let keys = DemoKeys::from_seed("api-test").unwrap();
    let log = TestLog::start(&keys).await;
    let e = election(&keys, "cse-test");
    // Lifecycle statements move forward in time: each is dated one second after the
    // previous one (from the test's start, well within the tolerance), and the other
    // statements are dated no earlier than the latest (a ballot dated before the
    // `open` or `resume` of its voting period is `ballot_backdated`).
    let lifecycle = std::cell::Cell::new(Time::now().0);
    let t = || Time(Time::now().0.max(lifecycle.get()));
    let lt = || {
        lifecycle.set((lifecycle.get() + 1).max(Time::now().0));
        Time(lifecycle.get())
    };

    // A log starts with a signed empty tree.
    assert_eq!(log.size().await, 0);

    // Elections sealed by a board key the operator did not allow are refused.
    let other = DemoKeys::from_seed("someone else").unwrap();
    refused(
        &log,
        &election(&other, "cse-rogue").seal(t(), "rogue").unwrap(),
        403,
        "election_not_authorized",
    )
    .await;
    // The allowed key signing in another role does not admit an election whose
    // board (quorum met by keys the operator never allowed) is someone else's.
    let allowed = &keys.board[0];
    let mut authorities: Vec<(Role, VerifierKey)> = other
        .board
        .iter()
        .map(|k| (Role::Board, k.verifier().clone()))
        .collect();
    authorities.push((Role::Registrar, allowed.verifier().clone()));
    authorities.push((Role::Platform, other.platform.verifier().clone()));
    let borrowed = Statement {
        election: "cse-borrowed".into(),
        time: t(),
        body: Body::Election(ElectionBody {
            title: "borrowed key".into(),
            scrutins: vec!["s1".into()],
            authorities: authorities.clone(),
            quorum: 2,
            opens: e.opens,
            closes: e.closes,
            tolerance: Some(300),
            grace: None,
            revote: Default::default(),
            roll: None,
        }),
    }
    .sign(&[&other.board[0], &other.board[1]])
    .unwrap();
    // (The signatures themselves are valid: the election lacks only the operator's
    // approval.)
    let parsed = urne_client::statement::SignedStatement::parse(borrowed.as_bytes()).unwrap();
    urne_client::rules::verify_signatures(&parsed, &authorities, 2).unwrap();
    refused(&log, &borrowed, 403, "election_not_authorized").await;
    // The allowed key's line added as the election's registrar: a line of a role
    // that may not sign an election, refused before any signature is checked.
    let with_allowed = format!(
        "{borrowed}{}",
        allowed.signature_line(format!("{}\n", borrowed.split_once("\n\n").unwrap().0).as_bytes())
    );
    let parsed = urne_client::statement::SignedStatement::parse(with_allowed.as_bytes()).unwrap();
    assert_eq!(
        urne_client::rules::verify_signatures(&parsed, &authorities, 2)
            .unwrap_err()
            .code
            .as_str(),
        "bad_signature_block"
    );
    refused(&log, &with_allowed, 400, "bad_signature_block").await;
    // Statements of an election that does not exist.
    refused(
        &log,
        &e.board(t(), Body::Open).unwrap(),
        404,
        "unknown_election",
    )
    .await;

    ok(&log, &e.seal(t(), "CSE test").unwrap()).await;
    refused(&log, &e.seal(t(), "again").unwrap(), 409, "election_exists").await;

    // Credentials.
    let voters: Vec<Tag> = (0..4)
        .map(|_| random_tag(&mut rand::thread_rng()))
        .collect();
    let creds: Vec<Tag> = (0..4)
        .map(|_| random_tag(&mut rand::thread_rng()))
        .collect();
    for i in 0..4 {
        ok(
            &log,
            &e.credential(
                t(),
                voters[i],
                creds[i],
                Channel::Mail,
                CredentialReason::Initial,
            )
            .unwrap(),
        )
        .await;
    }
    refused(
        &log,
        &e.credential(
            t(),
            random_tag(&mut rand::thread_rng()),
            creds[0],
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap(),
        409,
        "credential_exists",
    )
    .await;

    // Before opening, ballots are refused.
    let r0 = random_tag(&mut rand::thread_rng());
    refused(
        &log,
        &e.ballot(t(), "s1", creds[0], r0).unwrap(),
        409,
        "ballot_before_open",
    )
    .await;
    ok(&log, &e.board(lt(), Body::Open).unwrap()).await;
    // (Dated later: the same text again would be answered as a duplicate.)
    refused(
        &log,
        &e.board(lt(), Body::Open).unwrap(),
        409,
        "invalid_transition",
    )
    .await;

    // A ballot, then its lookups.
    let b0 = e.ballot(t(), "s1", creds[0], r0).unwrap();
    let i0 = ok(&log, &b0).await;
    // The same bytes again are a duplicate: the earlier index, nothing appended.
    let size = log.size().await;
    let (s, v) = log.post(&b0).await;
    assert_eq!(
        (s, v["index"].as_u64(), v["duplicate"].as_bool()),
        (200, Some(i0), Some(true)),
        "{v}"
    );
    assert_eq!(check_ack(&log, &b0, &v), i0);
    assert_eq!(log.size().await, size);

    refused(
        &log,
        &e.ballot(t(), "s1", creds[0], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "already_voted",
    )
    .await;
    refused(
        &log,
        &e.ballot(t(), "s2", creds[1], r0).unwrap(),
        409,
        "duplicate_receipt",
    )
    .await;
    refused(
        &log,
        &e.ballot(t(), "s9", creds[1], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "unknown_scrutin",
    )
    .await;
    refused(
        &log,
        &e.ballot(
            t(),
            "s1",
            random_tag(&mut rand::thread_rng()),
            random_tag(&mut rand::thread_rng()),
        )
        .unwrap(),
        409,
        "credential_unknown",
    )
    .await;
    refused(
        &log,
        &e.ballot(
            Time(t().0 - 3600),
            "s1",
            creds[1],
            random_tag(&mut rand::thread_rng()),
        )
        .unwrap(),
        422,
        "time_skew",
    )
    .await;

    // Signatures: a ballot signed by the registrar, a mangled signature, quorum.
    let wrong_role = urne_client::statement::Statement {
        election: e.id.clone(),
        time: t(),
        body: Body::Ballot {
            scrutin: "s1".into(),
            credential: creds[1],
            receipt: random_tag(&mut rand::thread_rng()),
        },
    }
    .sign(&[&keys.registrar])
    .unwrap();
    refused(&log, &wrong_role, 403, "wrong_role").await;
    let good = e
        .ballot(t(), "s1", creds[1], random_tag(&mut rand::thread_rng()))
        .unwrap();
    let (text, sig) = good.split_once("\n\n").unwrap();
    let mut sig = sig.as_bytes().to_vec();
    let n = sig.len();
    sig[n - 6] = if sig[n - 6] == b'A' { b'B' } else { b'A' };
    refused(
        &log,
        &format!("{text}\n\n{}", String::from_utf8(sig).unwrap()),
        403,
        "bad_signature",
    )
    .await;
    let one_board = urne_client::statement::Statement {
        election: e.id.clone(),
        time: t(),
        body: Body::Close,
    }
    .sign(&[&keys.board[0]])
    .unwrap();
    refused(&log, &one_board, 403, "quorum_not_met").await;

    // Malformed and non-canonical input.
    refused(
        &log,
        &good.replacen("scrutin s1\n", "scrutin s1 \n", 1),
        400,
        "not_canonical",
    )
    .await;
    refused(&log, "hello\n", 400, "malformed").await;
    refused(
        &log,
        &good.replacen("urne/v1 ballot\n", "urne/v1 referendum\n", 1),
        400,
        "unknown_type",
    )
    .await;
    let receipt_line = good
        .lines()
        .find(|l| l.starts_with("receipt "))
        .unwrap()
        .to_string();
    refused(
        &log,
        &good.replacen(
            &receipt_line,
            &format!(
                "receipt {}",
                receipt_line["receipt ".len()..].to_uppercase()
            ),
            1,
        ),
        400,
        "bad_field",
    )
    .await;
    // Oversize bodies, just over the limit and far over it (the framework stops
    // reading at the limit; the answer is still our JSON), and a statement-shaped one.
    for n in [16 * 1024 + 1, 20_000, 1 << 20] {
        refused(&log, &"x".repeat(n), 413, "too_large").await;
    }

    // Suspension.
    ok(
        &log,
        &e.board(
            lt(),
            Body::Suspend {
                reason: "incident".into(),
            },
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.ballot(t(), "s1", creds[1], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "ballot_while_suspended",
    )
    .await;
    ok(
        &log,
        &e.board(
            lt(),
            Body::Resume {
                reason: "fixed".into(),
            },
        )
        .unwrap(),
    )
    .await;

    // Reissue: the old credential is replaced.
    let new1 = random_tag(&mut rand::thread_rng());
    ok(
        &log,
        &e.credential(
            t(),
            voters[1],
            new1,
            Channel::Helpdesk,
            CredentialReason::ReissueHelpdesk,
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.ballot(t(), "s1", creds[1], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "credential_revoked",
    )
    .await;
    let r1 = random_tag(&mut rand::thread_rng());
    ok(&log, &e.ballot(t(), "s1", new1, r1).unwrap()).await;
    // Revocation.
    let rv = urne_client::statement::Statement {
        election: e.id.clone(),
        time: t(),
        body: Body::Revoke {
            credential: creds[2],
            reason: "lost".into(),
        },
    }
    .sign(&[&keys.registrar])
    .unwrap();
    ok(&log, &rv).await;
    refused(
        &log,
        &e.ballot(t(), "s1", creds[2], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "credential_revoked",
    )
    .await;
    ok(
        &log,
        &e.intervention(t(), "ops", "restart of front end", "memory leak")
            .unwrap(),
    )
    .await;

    // Close, then results.
    ok(&log, &e.board(lt(), Body::Close).unwrap()).await;
    refused(
        &log,
        &e.ballot(t(), "s1", creds[3], random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "ballot_after_close",
    )
    .await;
    let digest = random_tag(&mut rand::thread_rng());
    ok(
        &log,
        &e.board(
            lt(),
            Body::Results {
                scrutin: "s1".into(),
                ballots: 2,
                digest,
            },
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.board(
            lt(),
            Body::Results {
                scrutin: "s1".into(),
                ballots: 3,
                digest,
            },
        )
        .unwrap(),
        409,
        "results_exists",
    )
    .await;

    // A voided election accepts nothing more.
    let e2 = election(&keys, "cse-void");
    ok(&log, &e2.seal(t(), "to be voided").unwrap()).await;
    ok(
        &log,
        &e2.board(
            t(),
            Body::Void {
                reason: "court order".into(),
                authorisation: "TJ Paris 2026-123".into(),
            },
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e2.board(t(), Body::Open).unwrap(),
        409,
        "election_void",
    )
    .await;

    // ---- Read API ----
    let cp = log.checkpoint().await.checkpoint;
    assert_eq!(cp.origin, "test.urne.localhost/log");

    // Receipt lookup, verified.
    let (s, v) = log.get_json(&format!("/v1/receipts/{r1}")).await;
    assert_eq!(s, 200, "{v}");
    let entry = v["entry"].as_str().unwrap();
    assert!(entry.contains(&format!("receipt {r1}")));
    let vcp = open_checkpoint(
        v["checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    tree::verify_inclusion(
        v["index"].as_u64().unwrap(),
        vcp.size,
        &tree::record_hash(entry.as_bytes()),
        &proof(&v, "inclusion_proof"),
        &vcp.root,
    )
    .unwrap();
    assert_eq!(vcp.size, v["tree_size"].as_u64().unwrap());
    check_tlog_proof(&log, entry, v["index"].as_u64().unwrap(), &v);
    let (s, v) = log
        .get_json(&format!(
            "/v1/receipts/{}",
            random_tag(&mut rand::thread_rng())
        ))
        .await;
    assert_eq!((s, v["error"].as_str()), (404, Some("receipt_not_found")));
    let (s, v) = log.get_json("/v1/receipts/NOTHEX").await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_tag")));

    // Voter lookup: initial credential, helpdesk reissue, ballot with the new one.
    let (s, v) = log.get_json(&format!("/v1/voters/{}", voters[1])).await;
    assert_eq!(s, 200, "{v}");
    let kinds: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["credential", "credential", "ballot"], "{v}");
    let vcp = open_checkpoint(
        v["checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    for e in v["entries"].as_array().unwrap() {
        let leaf = tree::record_hash(e["entry"].as_str().unwrap().as_bytes());
        tree::verify_inclusion(
            e["index"].as_u64().unwrap(),
            vcp.size,
            &leaf,
            &proof(e, "inclusion_proof"),
            &vcp.root,
        )
        .unwrap();
    }
    // Revocation is filed under the voter too.
    let (_, v) = log.get_json(&format!("/v1/voters/{}", voters[2])).await;
    let kinds: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["credential", "revoke"]);

    // Proof endpoints.
    let (s, v) = log
        .get_json(&format!("/v1/proof/inclusion?index=3&size={}", cp.size))
        .await;
    assert_eq!(s, 200);
    let entries_now = check_log(&log).await;
    let leaf3 = tree::record_hash(&entries_now[3]);
    assert_eq!(
        hash_from_hex(v["leaf_hash"].as_str().unwrap()).unwrap(),
        leaf3
    );
    tree::verify_inclusion(3, cp.size, &leaf3, &proof(&v, "inclusion_proof"), &cp.root).unwrap();
    // The checkpoint the answer carries is the log's, of that size, and proves it.
    let icp = open_checkpoint(
        v["checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    assert_eq!(icp.size, cp.size);
    tree::verify_inclusion(
        3,
        icp.size,
        &leaf3,
        &proof(&v, "inclusion_proof"),
        &icp.root,
    )
    .unwrap();
    // An older size: proved against the checkpoint the log signed at that size.
    let (s, v) = log.get_json("/v1/proof/inclusion?index=3&size=7").await;
    assert_eq!(s, 200, "{v}");
    let icp = open_checkpoint(
        v["checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    assert_eq!((icp.size, v["tree_size"].as_u64()), (7, Some(7)));
    tree::verify_inclusion(3, 7, &leaf3, &proof(&v, "inclusion_proof"), &icp.root).unwrap();
    let (s, v) = log
        .get_json(&format!("/v1/proof/inclusion?index={}", cp.size))
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_range")));
    let (s, v) = log.get_json("/v1/proof/consistency?old=5").await;
    assert_eq!(s, 200, "{v}");
    let old = open_checkpoint(
        v["old_checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    assert_eq!(old.size, 5);
    // Without `new`, the proof is to the latest checkpoint, which the answer carries.
    let newest = open_checkpoint(
        v["new_checkpoint"].as_str().unwrap().as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    assert_eq!((newest.size, v["new"].as_u64()), (cp.size, Some(cp.size)));
    assert_eq!(newest.root, cp.root);
    tree::verify_consistency(
        5,
        newest.size,
        &old.root,
        &newest.root,
        &proof(&v, "consistency_proof"),
    )
    .unwrap();
    // The old checkpoint is the root of the first five entries, recomputed here.
    assert_eq!(old.root, common::prefix_roots(&entries_now, [5])[&5]);
    let (s, v) = log
        .get_json(&format!("/v1/proof/consistency?old=5&new={}", cp.size))
        .await;
    assert_eq!(s, 200);
    tree::verify_consistency(
        5,
        cp.size,
        &old.root,
        &cp.root,
        &proof(&v, "consistency_proof"),
    )
    .unwrap();
    let (s, _) = log
        .get_json(&format!("/v1/proof/consistency?old={}&new=3", cp.size))
        .await;
    assert_eq!(s, 400);

    // Elections.
    let (s, v) = log.get_json("/v1/elections/cse-test").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stats"]["counts"]["ballot"].as_u64(), Some(2), "{v}");
    let timeline: Vec<&str> = v["stats"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        timeline,
        [
            "election",
            "open",
            "suspend",
            "resume",
            "intervention",
            "close",
            "results"
        ]
    );
    let (s, v) = log.get_json("/v1/elections/nope").await;
    assert_eq!((s, v["error"].as_str()), (404, Some("unknown_election")));
    let (_, v) = log.get_json("/v1/elections").await;
    assert_eq!(v["elections"].as_array().unwrap().len(), 2);

    // Log info, stats, metrics, web page.
    let (_, v) = log.get_json("/v1/log").await;
    assert_eq!(v["verifier_key"].as_str().unwrap(), log.key.to_string());
    let (_, v) = log.get_json("/v1/stats").await;
    assert_eq!(v["tree_size"].as_u64(), Some(cp.size));
    assert!(v["refused"].as_u64().unwrap() >= 10);
    let m = log.get("/metrics").await.text().await.unwrap();
    assert!(m.contains(&format!("urne_tree_size {}", cp.size)), "{m}");
    assert!(m.contains("\nurne_equivocations 0\n"), "{m}");
    assert!(m.contains("\nurne_memory_bytes{use=\"resident\"} "), "{m}");
    let page = log.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("urne"));

    // Tiles: bad paths, beyond the tree, and the whole log re-verified from tiles.
    assert_eq!(log.get("/tile/0/x001").await.status(), 400);
    assert_eq!(log.get("/tile/0/001").await.status(), 404);
    // A partial bundle never changes either (a larger tree is another path).
    let r = log.get(&format!("/tile/entries/000.p/{}", cp.size)).await;
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers()["vary"], "Accept-Encoding");
    assert!(r.headers().get("content-encoding").is_none());
    let plain = r.bytes().await.unwrap();
    // Gzip for a client that takes it (C2SP tlog-tiles), the same bytes inside;
    // refused with q=0, identity it is.
    for (accept, gz) in [
        ("gzip", true),
        ("br, gzip;q=0.5", true),
        ("*", true),
        ("gzip;q=0", false),
        ("identity", false),
        ("br", false),
    ] {
        let r = log
            .http
            .get(format!("{}/tile/entries/000.p/{}", log.url, cp.size))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let enc = r.headers().get("content-encoding").cloned();
        let body = r.bytes().await.unwrap();
        if gz {
            assert_eq!(enc.unwrap(), "gzip", "{accept}");
            let mut d = flate2::read::GzDecoder::new(&body[..]);
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut out).unwrap();
            assert_eq!(out, plain, "{accept}");
            assert!(body.len() < plain.len(), "statements compress");
        } else {
            assert!(enc.is_none(), "{accept}");
            assert_eq!(body, plain, "{accept}");
        }
    }
    // Partial hash tiles too.
    let r = log.get(&format!("/tile/0/000.p/{}", cp.size)).await;
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(r.headers().get("vary").is_none());
    let entries = check_log(&log).await;
    assert_eq!(entries[i0 as usize], b0.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_tiles_are_immutable_and_restart_resumes() {
    let keys = DemoKeys::from_seed("tiles-test").unwrap();
    let log = TestLog::start(&keys).await;
    let e = election(&keys, "cse-tiles");
    ok(&log, &e.seal(Time::now(), "tiles").unwrap()).await;
    // 300 credentials, concurrently: more than one full tile.
    let futs: Vec<_> = (0..300)
        .map(|_| {
            let text = common::new_credential(&e, Channel::Postal);
            let http = log.http.clone();
            let url = format!("{}/v1/statements", log.url);
            tokio::spawn(async move {
                let r = http.post(url).body(text.clone()).send().await.unwrap();
                let s = r.status().as_u16();
                (s, r.json::<serde_json::Value>().await.unwrap(), text)
            })
        })
        .collect();
    let mut indexes = std::collections::BTreeSet::new();
    for f in futs {
        let (s, v, text) = f.await.unwrap();
        assert_eq!(s, 201, "{v}");
        assert!(indexes.insert(check_ack(&log, &text, &v)), "one index each");
    }
    let r = log.get("/tile/0/000").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.bytes().await.unwrap().len(), 256 * 32);
    let r = log.get("/tile/entries/000").await;
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // Level-1 tile: one hash per full level-0 tile, the root of its 256 leaves
    // (check_log checks every hash tile of every level against the entries).
    let r = log.get("/tile/1/000.p/1").await;
    assert_eq!(r.status(), 200);
    let level1 = r.bytes().await.unwrap();
    let before = log.checkpoint().await;
    let entries = check_log(&log).await;
    let first256: Vec<[u8; 32]> = entries[..256]
        .iter()
        .map(|e| tree::record_hash(e).0)
        .collect();
    let mt = rs_merkle::MerkleTree::<tree::Rfc6962Hasher>::from_leaves(&first256);
    assert_eq!(level1.as_ref(), mt.root().unwrap().as_slice());

    // Restart on the same directory: same head, no replay, appends continue.
    let cfg = common::config_for(&keys);
    let dir = log.stop().await;
    let log = TestLog::start_in(dir, cfg).await;
    let after = log.checkpoint().await;
    assert_eq!(before.checkpoint, after.checkpoint);
    ok(&log, &e.board(Time::now(), Body::Open).unwrap()).await;
    let entries2 = check_log(&log).await;
    assert_eq!(&entries2[..entries.len()], &entries[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_and_pushback() {
    let keys = DemoKeys::from_seed("pushback-test").unwrap();
    // A tiny queue and a long batch wait: concurrent submitters must see 503 with
    // Retry-After, and nothing they were told is refused may appear in the log.
    let mut cfg = common::config_for(&keys);
    cfg.queue = 1;
    cfg.batch_ms = 300;
    cfg.batch_max = 1;
    let log = TestLog::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), cfg).await;
    let now = Time::now().0;
    // An election whose schedule ended a minute ago.
    let mut e = election(&keys, "cse-late");
    e.opens = Time(now - 3600);
    e.closes = Time(now - 60);
    ok(&log, &e.seal(Time::now(), "late").unwrap()).await;
    ok(&log, &e.board(Time::now(), Body::Open).unwrap()).await;
    let c = random_tag(&mut rand::thread_rng());
    ok(
        &log,
        &e.credential(
            Time::now(),
            random_tag(&mut rand::thread_rng()),
            c,
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.ballot(Time::now(), "s1", c, random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "ballot_outside_schedule",
    )
    .await;

    let futs: Vec<_> = (0..12)
        .map(|_| {
            let text = common::new_credential(&e, Channel::Mail);
            let http = log.http.clone();
            let url = format!("{}/v1/statements", log.url);
            tokio::spawn(async move {
                let r = http.post(url).body(text.clone()).send().await.unwrap();
                let retry = r.headers().get("retry-after").is_some();
                let s = r.status().as_u16();
                let v: serde_json::Value = r.json().await.unwrap();
                (s, retry, v, text)
            })
        })
        .collect();
    let mut pushed_back = 0;
    let mut appended = Vec::new();
    for f in futs {
        let (s, retry, v, text) = f.await.unwrap();
        match s {
            201 => {
                check_ack(&log, &text, &v);
                appended.push(text)
            }
            503 => {
                assert!(retry, "503 carries Retry-After");
                assert_eq!(v["error"], "overloaded");
                pushed_back += 1;
            }
            _ => panic!("unexpected {s} {v}"),
        }
    }
    assert!(pushed_back > 0, "a full queue answers 503");
    let entries = check_log(&log).await;
    assert_eq!(
        entries.len(),
        3 + appended.len(),
        "exactly the acknowledged statements were appended"
    );
    for text in &appended {
        assert!(entries.iter().any(|e| e == text.as_bytes()));
    }
    // Pushback is counted, and the queue gauge is back to zero.
    let (_, st) = log.get_json("/v1/stats").await;
    assert_eq!(st["pushback"].as_u64(), Some(pushed_back), "{st}");
    assert_eq!(st["queue_depth"].as_u64(), Some(0), "{st}");
}

/// Storage failures over HTTP, with the real RocksDB store behind a wrapper that fails
/// on demand: a state read that fails refuses the statement (`state_unavailable`, 503)
/// and the log goes on; a commit that fails answers `storage_failure` (503) to its
/// submitters, acknowledges nothing, and stops the sequencer until a restart, which
/// resumes from what reached the disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_acknowledge_nothing() {
    let keys = DemoKeys::from_seed("faulty-test").unwrap();
    let cfg = common::config_for(&keys);
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let open = |dir: &tempfile::TempDir| {
        // RocksDB in the directory, or its PostgreSQL database (common::backend).
        std::sync::Arc::new(FaultyStore::new(common::backend::open_store(dir.path())))
    };
    let e = election(&keys, "cse-faulty");
    let credential = || common::new_credential(&e, Channel::Mail);

    let store = open(&dir);
    let log = TestLog::start_with_store(dir.clone(), cfg.clone(), store.clone()).await;
    ok(&log, &e.seal(Time::now(), "faulty").unwrap()).await;
    ok(&log, &credential()).await;

    // The rule state cannot be read: refused, nothing changes, the log goes on.
    store.fail_state_reads(true);
    let c = credential();
    refused(&log, &c, 503, "state_unavailable").await;
    // (An election the handler has not seen yet: its keys cannot be read either.)
    refused(
        &log,
        &election(&keys, "cse-unseen")
            .board(Time::now(), Body::Open)
            .unwrap(),
        503,
        "state_unavailable",
    )
    .await;
    store.fail_state_reads(false);
    let (_, st) = log.get_json("/v1/stats").await;
    assert_eq!(st["sequencer_failed"].as_bool(), Some(false), "{st}");
    ok(&log, &c).await;

    // A commit that writes nothing.
    let before = log.checkpoint().await.checkpoint;
    store.fail_next_commit(CommitFault::Lost);
    let lost = credential();
    let r = log
        .http
        .post(format!("{}/v1/statements", log.url))
        .body(lost.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "storage_failure", "{v}");
    // The sequencer has stopped: everything after is refused the same way (the
    // fault is disarmed: it is the log that stopped, not the disk).
    let later = credential();
    refused(&log, &later, 503, "storage_failure").await;
    assert_eq!(log.checkpoint().await.checkpoint, before);
    let (_, st) = log.get_json("/v1/stats").await;
    assert_eq!(st["sequencer_failed"].as_bool(), Some(true), "{st}");
    assert_eq!(st["queue_depth"].as_u64(), Some(0), "{st}");
    let m = log.get("/metrics").await.text().await.unwrap();
    assert!(m.contains("urne_sequencer_failed 1"), "{m}");
    // Reads still work and show nothing of the failed batch.
    let entries = check_log(&log).await;
    assert_eq!(entries.len() as u64, before.size);
    assert!(!entries.iter().any(|x| x == lost.as_bytes()));

    // Restart on the real store: the same head, and the retries are appended. (The
    // test's handle goes first: the server closes the store when it holds the last one.)
    drop(store);
    let dir = log.stop().await;
    let log = TestLog::start_in(dir, cfg.clone()).await;
    assert_eq!(log.checkpoint().await.checkpoint, before);
    assert_eq!(ok(&log, &lost).await, before.size);
    ok(&log, &later).await;

    // A commit that reached the disk but whose success was not reported: refused
    // too, and found by the retry after the restart (200, the same index).
    let dir = log.stop().await;
    let store = open(&dir);
    let log = TestLog::start_with_store(dir.clone(), cfg.clone(), store.clone()).await;
    let before = log.checkpoint().await.checkpoint;
    store.fail_next_commit(CommitFault::Written);
    let written = credential();
    refused(&log, &written, 503, "storage_failure").await;
    drop(store);
    let dir = log.stop().await;
    let log = TestLog::start_in(dir, cfg).await;
    let after = log.checkpoint().await.checkpoint;
    assert_eq!(after.size, before.size + 1);
    let (s, v) = log.post(&written).await;
    assert_eq!((s, v["duplicate"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(check_ack(&log, &written, &v), before.size);
    let entries = check_log(&log).await;
    assert_eq!(entries[before.size as usize], written.as_bytes());
}

/// Sends `head` then `body` on a fresh connection, raw, and reads the whole answer
/// (the server closes after a refusal of a too-large body).
async fn raw_exchange(log: &TestLog, head: &str, body: &[u8]) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(log.addr).await?;
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(20), s.read_to_end(&mut out))
        .await
        .map_err(|_| std::io::Error::other("no answer in 20 s"))??;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn assert_too_large(answer: &str) {
    let (head, json) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "the connection cannot be reused after a refused body: {head}"
    );
    let v: serde_json::Value = serde_json::from_str(json).expect("a JSON answer");
    assert_eq!(v["error"], "too_large", "{v}");
}

/// A client that sends a too-large body receives the `too_large` answer, not a reset
/// connection (the server reads and discards the excess before answering): whether
/// it declared the length or streamed the body in chunks, each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_bodies_get_their_answer_not_a_reset() {
    let keys = DemoKeys::from_seed("too-large").unwrap();
    let log = TestLog::start(&keys).await;
    let before = log.checkpoint().await.checkpoint;

    // Through an ordinary client, repeatedly: a race lost once would fail here.
    for _ in 0..25 {
        refused(&log, &"x".repeat(1 << 20), 413, "too_large").await;
    }

    // Declared length, written in one go.
    let body = vec![b'x'; 3 << 20];
    let head = format!(
        "POST /v1/statements HTTP/1.1\r\nHost: urne\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    assert_too_large(&raw_exchange(&log, &head, &body).await.unwrap());

    // Streamed without a length (chunked transfer encoding): the limit is enforced on
    // the bytes that arrive.
    let mut chunked = Vec::new();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
        chunked.extend_from_slice(&[b'y'; 1000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = "POST /v1/statements HTTP/1.1\r\nHost: urne\r\nTransfer-Encoding: chunked\r\n\r\n";
    let answer = raw_exchange(&log, head, &chunked).await.unwrap();
    assert_too_large(&answer);
    assert!(answer.contains("exceeds"), "{answer}");

    // A length far past what the server is willing to drain is refused at once,
    // before any of the body is sent.
    let head = "POST /v1/statements HTTP/1.1\r\nHost: urne\r\nContent-Length: 1000000000\r\n\r\n";
    let answer = raw_exchange(&log, head, b"").await.unwrap();
    assert_too_large(&answer);
    assert!(answer.contains("1000000000"), "{answer}");

    // None of it changed the log, which still answers.
    assert_eq!(log.checkpoint().await.checkpoint, before);
}

/// A body that does not arrive within the body deadline is answered `408
/// body_timeout` (and the connection closed), so a slow client holds a connection for
/// a bounded time; nothing is appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_past_its_deadline_is_refused() {
    let keys = DemoKeys::from_seed("body-deadline").unwrap();
    let mut cfg = common::config_for(&keys);
    cfg.body_timeout_secs = 1;
    let log = TestLog::start_in(std::sync::Arc::new(tempfile::tempdir().unwrap()), cfg).await;
    let head = "POST /v1/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    let answer = raw_exchange(&log, head, b"urne/v1 ").await.unwrap();
    let (status, json) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(status.starts_with("HTTP/1.1 408"), "{status}");
    assert!(
        status.to_ascii_lowercase().contains("connection: close"),
        "{status}"
    );
    let v: serde_json::Value = serde_json::from_str(json).expect("a JSON answer");
    assert_eq!(v["error"], "body_timeout", "{v}");
    assert_eq!(log.size().await, 0);
}
