//! The sequencer judges a batch with its rule state fetched a level at a time
//! (`sequencer::BatchView`: speculative rounds, then an exact one). This checks it
//! against the rules applied one statement at a time on an in-memory state, the
//! reference, for a batch an attacker would build: a credential issued twice, a
//! reissue then a ballot with the replaced credential, a double vote, a receipt
//! reused by another voter, an exact replay inside the batch, and the same statements
//! again in a later batch (everything then read from the store). Every statement must
//! get the same verdict (appended at the same index, duplicate of the same index, or
//! refused with the same code), and the state must be the reference's.

use std::sync::Arc;
use std::time::Duration;
use urne::sequencer::{init_log, start, SequencerConfig, SubmitError};
use urne::storage::{MemoryStore, Store};
use urne_client::note::SignerKey;
use urne_client::rules::{Context, MemoryState, Overlay, StateKey, StateValue, StateView};
use urne_client::statement::{Body, Channel, CredentialReason, SignedStatement, Time};
use urne_client::test_kit::{random_tag, DemoKeys};

mod common;

/// What happened to one statement.
#[derive(Debug, PartialEq)]
enum Verdict {
    Appended(u64),
    Duplicate(u64),
    Refused(&'static str),
}

/// The rules one statement at a time on `state`, from index `next`.
fn reference(state: &mut MemoryState, next: &mut u64, texts: &[String]) -> Vec<Verdict> {
    texts
        .iter()
        .map(|t| {
            let stmt = SignedStatement::parse(t.as_bytes()).unwrap();
            let known = StateView::get(&*state, &StateKey::Statement(stmt.text_hash())).unwrap();
            if let Some(StateValue::Statement { index }) = known {
                return Verdict::Duplicate(index);
            }
            let ctx = Context {
                index: *next,
                now: Some(Time::now()),
                tolerance_secs: 300,
                max_tolerance_secs: Some(300),
            };
            let mut overlay = Overlay::new(&*state);
            match overlay.check_and_apply(&stmt, None, &ctx) {
                Ok(_) => {
                    let writes = overlay.into_writes();
                    urne_client::rules::apply(state, writes);
                    *next += 1;
                    Verdict::Appended(*next - 1)
                }
                Err(r) => Verdict::Refused(r.code.as_str()),
            }
        })
        .collect()
}

/// The same statements through the sequencer, all queued before its batch starts.
async fn sequenced(seq: &urne::sequencer::SequencerHandle, texts: &[String]) -> Vec<Verdict> {
    // `join_all` polls the submissions in order at its first poll: each queues its
    // statement then, so the batch holds them in this order.
    let futs = texts.iter().map(|t| {
        let stmt = SignedStatement::parse(t.as_bytes()).unwrap();
        seq.submit(stmt, None)
    });
    futures::future::join_all(futs)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(a) if a.duplicate => Verdict::Duplicate(a.index),
            Ok(a) => Verdict::Appended(a.index),
            Err(SubmitError::Refused(r)) => Verdict::Refused(r.code.as_str()),
            Err(e) => panic!("unexpected {e:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_reads_judge_as_the_rules_one_at_a_time() {
    let keys = DemoKeys::from_seed("batch-judging").unwrap();
    let e = common::election(&keys, "cse-batch");
    let log_key = SignerKey::from_seed("batch.test/log", [9; 32]).unwrap();
    let store = Arc::new(MemoryStore::new());
    init_log(&*store, &log_key).unwrap();
    let seq = start(
        store.clone(),
        log_key,
        SequencerConfig {
            batch_max: 1000,
            // Long enough for every submission of a round to join one batch.
            batch_timeout: Duration::from_millis(500),
            queue: 1000,
            time_tolerance_secs: 300,
        },
    )
    .unwrap();
    let now = Time::now();
    let mut rng = rand::thread_rng();
    let (va, vb) = (random_tag(&mut rng), random_tag(&mut rng));
    let (c1, c2, c3) = (
        random_tag(&mut rng),
        random_tag(&mut rng),
        random_tag(&mut rng),
    );
    let (r1, r2, r3) = (
        random_tag(&mut rng),
        random_tag(&mut rng),
        random_tag(&mut rng),
    );
    let cred = |v, c, reason| e.credential(now, v, c, Channel::Mail, reason).unwrap();
    let ballot = |s: &str, c, r| e.ballot(now, s, c, r).unwrap();
    let voted = ballot("s1", c2, r1);
    let texts = vec![
        e.seal(now, "batch").unwrap(),
        e.board(now, Body::Open).unwrap(),
        cred(va, c1, CredentialReason::Initial),
        // The same credential to another voter.
        cred(vb, c1, CredentialReason::Initial),
        // A reissue: c1 is replaced by c2.
        cred(va, c2, CredentialReason::ReissueLost),
        // The replaced credential votes.
        ballot("s1", c1, r1),
        voted.clone(),
        // A second ballot of the same voter in the same scrutin.
        ballot("s1", c2, r2),
        cred(vb, c3, CredentialReason::Initial),
        // Another voter reuses the receipt.
        ballot("s1", c3, r1),
        ballot("s2", c3, r3),
        // An exact replay inside the batch.
        voted.clone(),
        // A first credential said to be a reissue.
        cred(
            random_tag(&mut rng),
            random_tag(&mut rng),
            CredentialReason::ReissueLost,
        ),
    ];

    let mut state = MemoryState::new();
    let mut next = 0;
    let want = reference(&mut state, &mut next, &texts);
    let got = sequenced(&seq, &texts).await;
    assert_eq!(got, want);
    // The batch is not trivial: appends, refusals and a duplicate.
    assert!(want.iter().any(|v| matches!(v, Verdict::Refused(_))));
    assert!(want.iter().any(|v| matches!(v, Verdict::Duplicate(_))));
    assert_eq!(store.head().unwrap().unwrap().size, next);

    // Again, in a later batch: everything is now read from the store.
    let mut again = texts.clone();
    again.push(ballot("s2", c2, r2));
    again.push(ballot("s2", c2, random_tag(&mut rng)));
    let want = reference(&mut state, &mut next, &again);
    let got = sequenced(&seq, &again).await;
    assert_eq!(got, want);
    assert_eq!(store.head().unwrap().unwrap().size, next);

    // The stored rule state is the reference's, key by key.
    for (k, v) in &state {
        let stored = store
            .state(&k.encode())
            .unwrap()
            .map(|b| StateValue::decode(&b).unwrap());
        assert_eq!(stored.as_ref(), Some(v), "{k:?}");
    }
}
