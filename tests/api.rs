//! Integration tests of the log server: a real server on 127.0.0.1 with RocksDB in a
//! temporary directory. Every endpoint and every refusal code is exercised; every
//! proof received is verified with the client library, never trusted.

mod common;

use common::{check_log, election, TestLog};
use urne::demo::{random_tag, DemoKeys};
use urne_client::checkpoint::{open_checkpoint, WitnessPolicy};
use urne_client::statement::{Body, Channel, CredentialReason, Tag, Time};
use urne_client::tree::{self, hash_from_base64, hash_from_hex};

fn proof(v: &serde_json::Value, field: &str) -> Vec<tree::Hash> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hash_from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Checks a 201 answer: its checkpoint is signed by the log, and the entry is in it.
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
    index
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
    let t = Time::now;

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
    ok(&log, &e.board(t(), Body::Open).unwrap()).await;
    // (One second later: the same bytes again would be answered as a duplicate.)
    refused(
        &log,
        &e.board(Time(t().0 + 1), Body::Open).unwrap(),
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
    refused(&log, &"x".repeat(20_000), 413, "too_large").await;

    // Suspension.
    ok(
        &log,
        &e.board(
            t(),
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
            t(),
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
    ok(&log, &e.board(t(), Body::Close).unwrap()).await;
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
            t(),
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
            t(),
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
    tree::verify_inclusion(
        3,
        cp.size,
        &hash_from_hex(v["leaf_hash"].as_str().unwrap()).unwrap(),
        &proof(&v, "inclusion_proof"),
        &cp.root,
    )
    .unwrap();
    let (s, v) = log
        .get_json(&format!("/v1/proof/inclusion?index={}", cp.size))
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_range")));
    let old = open_checkpoint(
        log.get_json("/v1/proof/consistency?old=5").await.1["old_checkpoint"]
            .as_str()
            .unwrap()
            .as_bytes(),
        &log.key,
        &WitnessPolicy::none(),
    )
    .unwrap()
    .checkpoint;
    assert_eq!(old.size, 5);
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
    let page = log.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("urne"));

    // Tiles: bad paths, beyond the tree, and the whole log re-verified from tiles.
    assert_eq!(log.get("/tile/0/x001").await.status(), 400);
    assert_eq!(log.get("/tile/0/001").await.status(), 404);
    let r = log.get(&format!("/tile/entries/000.p/{}", cp.size)).await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=2");
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
            let text = e
                .credential(
                    Time::now(),
                    random_tag(&mut rand::thread_rng()),
                    random_tag(&mut rand::thread_rng()),
                    Channel::Postal,
                    CredentialReason::Initial,
                )
                .unwrap();
            let http = log.http.clone();
            let url = format!("{}/v1/statements", log.url);
            tokio::spawn(async move {
                http.post(url)
                    .body(text)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for f in futs {
        assert_eq!(f.await.unwrap(), 201);
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
    // Level-1 tile: one hash per full level-0 tile.
    let r = log.get("/tile/1/000.p/1").await;
    assert_eq!(r.status(), 200);
    let before = log.checkpoint().await;
    let entries = check_log(&log).await;

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
            let text = e
                .credential(
                    Time::now(),
                    random_tag(&mut rand::thread_rng()),
                    random_tag(&mut rand::thread_rng()),
                    Channel::Mail,
                    CredentialReason::Initial,
                )
                .unwrap();
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
            201 => appended.push(text),
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
}
