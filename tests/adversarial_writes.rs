//! Attacks on the write path by a client without keys, a registrar of another
//! election, and an operator who changes flags: one test per attack of issue 12, each
//! run against a real log (HTTP on 127.0.0.1, RocksDB in a temporary directory).
//! Every one of them succeeded on 716ba0e; here each must be refused with a stable
//! code (or answered as a duplicate) and change nothing, and `check_log` re-verifies
//! the whole log at the end.

mod common;

use base64::Engine as _;
use common::{check_log, election, new_credential, TestLog};
use std::sync::Arc;
use urne::mirror::Mirror;
use urne_client::statement::{Body, Channel, CredentialReason, Statement, Tag, Time};
use urne_client::test_kit::{random_tag, DemoElection, DemoKeys};

// ---------------------------------------------------------------------------------
// Helpers: statements a test needs beyond `DemoElection`'s.

/// A test election whose `election` statement seals `secs` of time tolerance.
fn election_with_tolerance<'k>(keys: &'k DemoKeys, id: &str, secs: u64) -> DemoElection<'k> {
    DemoElection {
        tolerance: secs,
        ..election(keys, id)
    }
}

/// The board quorum's intervention announcing `n` batch reissues.
fn announce_reissues(e: &DemoElection<'_>, time: Time, n: u64) -> String {
    e.board(
        time,
        Body::Intervention {
            actor: "bureau de vote".into(),
            action: "reissue of leaked credentials".into(),
            reason: "credentials disclosed to HR managers".into(),
            reissues: Some(n),
        },
    )
    .unwrap()
}

/// `text` with one more signature line `— <name> <base64(key ID ‖ 64 junk bytes)>`:
/// what anyone can add to a published statement without any key.
fn with_foreign_line(text: &str, name: &str) -> String {
    let mut raw = vec![0xde, 0xad, 0xbe, 0xef];
    raw.extend_from_slice(&[7u8; 64]);
    format!(
        "{text}\u{2014} {name} {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// `text` with its last signature line repeated.
fn with_repeated_line(text: &str) -> String {
    let last = text
        .trim_end_matches('\n')
        .rsplit('\n')
        .next()
        .unwrap()
        .to_string();
    format!("{text}{last}\n")
}

/// A statement signed by the first board key alone.
fn one_board_key(e: &DemoElection<'_>, time: Time, body: Body) -> String {
    Statement {
        election: e.id.clone(),
        time,
        body,
    }
    .sign(&[&e.keys.board[0]])
    .unwrap()
}

async fn created(log: &TestLog, text: &str) -> u64 {
    let (s, v) = log.post(text).await;
    assert_eq!(s, 201, "{v}");
    v["index"].as_u64().unwrap()
}

/// Posts `text` and expects it answered as the duplicate of entry `index`, with
/// nothing appended.
async fn duplicate_of(log: &TestLog, text: &str, index: u64) {
    let before = log.size().await;
    let (s, v) = log.post(text).await;
    assert_eq!(
        (s, v["index"].as_u64(), v["duplicate"].as_bool()),
        (200, Some(index), Some(true)),
        "a replay is the earlier entry: {v}"
    );
    assert_eq!(log.size().await, before, "a replay appends nothing");
}

async fn refused(log: &TestLog, text: &str, status: u16, code: &str) {
    let before = log.size().await;
    let (s, v) = log.post(text).await;
    assert_eq!(
        (s, v["error"].as_str().unwrap_or("")),
        (status, code),
        "{v}"
    );
    assert_eq!(
        log.size().await,
        before,
        "a refused statement changes nothing"
    );
}

async fn phase(log: &TestLog, id: &str) -> String {
    let (_, v) = log.get_json(&format!("/v1/elections/{id}")).await;
    v["state"]["phase"].as_str().unwrap_or("").to_string()
}

/// A sealed and opened election, its clock a little in the past so that later
/// lifecycle statements can be dated after it.
async fn open_election<'k>(log: &TestLog, keys: &'k DemoKeys, id: &str) -> DemoElection<'k> {
    let e = election(keys, id);
    let t = Time(Time::now().0 - 100);
    created(log, &e.seal(t, id).unwrap()).await;
    created(log, &e.board(Time(t.0 + 1), Body::Open).unwrap()).await;
    e
}

// ---------------------------------------------------------------------------------
// 1. Replays: a statement's identity is its signed text.

/// An intervention re-posted with a signature line by a key nobody knows is the same
/// statement: 200 with the earlier index, nothing appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_with_a_foreign_signature_line_is_a_duplicate() {
    let keys = DemoKeys::from_seed("adv-foreign").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-foreign").await;
    let text = e
        .intervention(Time::now(), "ops", "restart", "memory")
        .unwrap();
    let index = created(&log, &text).await;
    duplicate_of(&log, &with_foreign_line(&text, "evil.example"), index).await;
    // The same with a name of the election's own keys but another key ID.
    duplicate_of(&log, &with_foreign_line(&text, "platform.demo"), index).await;
    check_log(&log).await;
}

/// An intervention re-posted with its own signature line twice is the same statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_with_a_repeated_signature_line_is_a_duplicate() {
    let keys = DemoKeys::from_seed("adv-repeat").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-repeat").await;
    let text = e
        .intervention(Time::now(), "ops", "restart", "memory")
        .unwrap();
    let index = created(&log, &text).await;
    duplicate_of(&log, &with_repeated_line(&text), index).await;
    check_log(&log).await;
}

/// The board's `suspend`, replayed after its `resume`, does not suspend the election
/// again; its `resume`, replayed after a new `suspend`, does not reopen the ballot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_suspend_and_resume_change_nothing() {
    let keys = DemoKeys::from_seed("adv-suspend").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-suspend").await;
    let t = Time::now().0 - 50;
    let suspend = e
        .board(
            Time(t),
            Body::Suspend {
                reason: "incident 1".into(),
            },
        )
        .unwrap();
    let resume = e
        .board(
            Time(t + 1),
            Body::Resume {
                reason: "restored".into(),
            },
        )
        .unwrap();
    let s_index = created(&log, &suspend).await;
    let r_index = created(&log, &resume).await;
    duplicate_of(&log, &with_foreign_line(&suspend, "x"), s_index).await;
    assert_eq!(phase(&log, "e-suspend").await, "open");

    let suspend2 = e
        .board(
            Time(t + 2),
            Body::Suspend {
                reason: "incident 2".into(),
            },
        )
        .unwrap();
    created(&log, &suspend2).await;
    duplicate_of(&log, &with_repeated_line(&resume), r_index).await;
    assert_eq!(phase(&log, "e-suspend").await, "suspended");
    // And the ballot the board suspended is refused.
    let voter = random_tag(&mut rand::thread_rng());
    let cred = random_tag(&mut rand::thread_rng());
    created(
        &log,
        &e.credential(
            Time::now(),
            voter,
            cred,
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.ballot(Time::now(), "s1", cred, random_tag(&mut rand::thread_rng()))
            .unwrap(),
        409,
        "ballot_while_suspended",
    )
    .await;
    check_log(&log).await;
}

/// One public intervention replayed with 300 different foreign lines appends
/// nothing and leaves the election's public record as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervention_flood_appends_nothing() {
    let keys = DemoKeys::from_seed("adv-flood").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-flood").await;
    let text = e
        .intervention(Time::now(), "ops", "restart", "memory")
        .unwrap();
    let index = created(&log, &text).await;
    let (_, before) = log.get_json("/v1/elections/e-flood").await;
    let size = log.size().await;
    let posts = (0..300).map(|i| {
        let variant = with_foreign_line(&text, &format!("flood-{i}.example"));
        let log = &log;
        async move { log.post(&variant).await }
    });
    for (s, v) in futures::future::join_all(posts).await {
        assert_eq!((s, v["index"].as_u64()), (200, Some(index)), "{v}");
    }
    assert_eq!(log.size().await, size);
    let (_, after) = log.get_json("/v1/elections/e-flood").await;
    assert_eq!(before, after, "the election's record did not grow");
    check_log(&log).await;
}

// ---------------------------------------------------------------------------------
// 1b. The signature block is canonical, lifecycle statements move forward.

/// Lines by unknown keys, a key twice, lines out of the election's order, or more
/// lines than the quorum are refused before any signature is verified; a lifecycle
/// statement dated before the previous one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_canonical_blocks_and_backdated_lifecycle_are_refused() {
    let keys = DemoKeys::from_seed("adv-block").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-block").await;
    let fresh = new_credential(&e, Channel::Mail);
    refused(
        &log,
        &with_foreign_line(&fresh, "evil.example"),
        400,
        "bad_signature_block",
    )
    .await;
    refused(
        &log,
        &with_repeated_line(&fresh),
        400,
        "bad_signature_block",
    )
    .await;
    // Three board signatures where the quorum is two; two in the wrong order.
    let st = Statement {
        election: "e-block".into(),
        time: Time::now(),
        body: Body::Suspend {
            reason: "three".into(),
        },
    };
    let b = &keys.board;
    refused(
        &log,
        &st.sign(&[&b[0], &b[1], &b[2]]).unwrap(),
        400,
        "bad_signature_block",
    )
    .await;
    refused(
        &log,
        &st.sign(&[&b[1], &b[0]]).unwrap(),
        400,
        "bad_signature_block",
    )
    .await;
    // An election statement whose only lines are junk: the allow-list says no first.
    let other = DemoKeys::from_seed("adv-block-other").unwrap();
    let rogue = election(&other, "e-rogue")
        .seal(Time::now(), "rogue")
        .unwrap();
    refused(&log, &rogue, 403, "election_not_authorized").await;
    // Lifecycle statements move forward: a suspend dated before the open.
    let opened_at = Time::now().0 - 99;
    refused(
        &log,
        &e.board(
            Time(opened_at - 1),
            Body::Suspend {
                reason: "backdated".into(),
            },
        )
        .unwrap(),
        409,
        "lifecycle_out_of_order",
    )
    .await;
    check_log(&log).await;
}

// ---------------------------------------------------------------------------------
// 2. Reissue is a fact; batch reissues are announced; the bureau suspends.

/// A second credential labelled `initial` is refused; so is a "reissue" for a voter
/// who has none. The dashboard counts reissues from the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_twice_is_refused() {
    let keys = DemoKeys::from_seed("adv-initial").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-initial").await;
    let voter = random_tag(&mut rand::thread_rng());
    let fresh = || random_tag(&mut rand::thread_rng());
    created(
        &log,
        &e.credential(
            Time::now(),
            voter,
            fresh(),
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &e.credential(
            Time::now(),
            voter,
            fresh(),
            Channel::Helpdesk,
            CredentialReason::Initial,
        )
        .unwrap(),
        409,
        "credential_reason_mismatch",
    )
    .await;
    refused(
        &log,
        &e.credential(
            Time::now(),
            fresh(),
            fresh(),
            Channel::Mail,
            CredentialReason::ReissueLost,
        )
        .unwrap(),
        409,
        "credential_reason_mismatch",
    )
    .await;
    created(
        &log,
        &e.credential(
            Time::now(),
            voter,
            fresh(),
            Channel::Helpdesk,
            CredentialReason::ReissueHelpdesk,
        )
        .unwrap(),
    )
    .await;
    let (_, v) = log.get_json("/v1/elections/e-initial").await;
    let reissues: u64 = v["stats"]["reissues_per_hour"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|h| h.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(reissues, 1, "{v}");
    check_log(&log).await;
}

/// A batch reissue without a board intervention announcing it is refused; a
/// platform cannot announce one; the board quorum's announcement covers exactly the
/// number it announces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reissue_needs_its_board_intervention() {
    let keys = DemoKeys::from_seed("adv-batch").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-batch").await;
    let voters: Vec<Tag> = (0..3)
        .map(|_| random_tag(&mut rand::thread_rng()))
        .collect();
    let fresh = || random_tag(&mut rand::thread_rng());
    for v in &voters {
        created(
            &log,
            &e.credential(
                Time::now(),
                *v,
                fresh(),
                Channel::Batch,
                CredentialReason::Initial,
            )
            .unwrap(),
        )
        .await;
    }
    let reissue = |v: Tag, channel, reason| {
        e.credential(Time::now(), v, fresh(), channel, reason)
            .unwrap()
    };
    refused(
        &log,
        &reissue(voters[0], Channel::Batch, CredentialReason::ReissueOther),
        409,
        "reissue_not_announced",
    )
    .await;
    refused(
        &log,
        &reissue(voters[0], Channel::Mail, CredentialReason::ReissueLeak),
        409,
        "reissue_not_announced",
    )
    .await;
    // The platform alone cannot announce it: it is the bureau's decision.
    let by_platform = Statement {
        election: "e-batch".into(),
        time: Time::now(),
        body: Body::Intervention {
            actor: "platform".into(),
            action: "reissue".into(),
            reason: "leak".into(),
            reissues: Some(2),
        },
    }
    .sign(&[&keys.platform])
    .unwrap();
    refused(&log, &by_platform, 403, "wrong_role").await;
    created(&log, &announce_reissues(&e, Time::now(), 2)).await;
    created(
        &log,
        &reissue(voters[0], Channel::Batch, CredentialReason::ReissueLeak),
    )
    .await;
    created(
        &log,
        &reissue(voters[1], Channel::Mail, CredentialReason::ReissueLeak),
    )
    .await;
    refused(
        &log,
        &reissue(voters[2], Channel::Batch, CredentialReason::ReissueLeak),
        409,
        "reissue_not_announced",
    )
    .await;
    check_log(&log).await;
}

/// One board member cannot suspend (or resume) the ballot: the bureau's quorum must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_suspend_is_refused() {
    let keys = DemoKeys::from_seed("adv-onekey").unwrap();
    let log = TestLog::start(&keys).await;
    let e = open_election(&log, &keys, "e-onekey").await;
    refused(
        &log,
        &one_board_key(
            &e,
            Time::now(),
            Body::Suspend {
                reason: "one member".into(),
            },
        ),
        403,
        "quorum_not_met",
    )
    .await;
    assert_eq!(phase(&log, "e-onekey").await, "open");
    created(
        &log,
        &e.board(
            Time::now(),
            Body::Suspend {
                reason: "the bureau".into(),
            },
        )
        .unwrap(),
    )
    .await;
    refused(
        &log,
        &one_board_key(
            &e,
            Time(Time::now().0 + 1),
            Body::Resume {
                reason: "one member".into(),
            },
        ),
        403,
        "quorum_not_met",
    )
    .await;
    assert_eq!(phase(&log, "e-onekey").await, "suspended");
    check_log(&log).await;
}

// ---------------------------------------------------------------------------------
// 3. The tolerance is sealed in the election.

/// A log runs with a 2-hour maximum; an election seals 2 hours and takes a statement
/// dated an hour before the previous one. The log restarts with a 300 s maximum: a
/// mirror (learning 300 s from the log) still copies the whole log, the election
/// still takes statements by its sealed tolerance, and a new election cannot seal
/// more than the log's new maximum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerance_change_across_a_restart_keeps_mirrors_copying() {
    let keys = DemoKeys::from_seed("adv-tolerance").unwrap();
    let mut cfg = common::config_for(&keys);
    cfg.time_tolerance_secs = 7200;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let log = TestLog::start_in(dir.clone(), cfg.clone()).await;
    let e = election_with_tolerance(&keys, "e-tol", 7200);
    let now = Time::now();
    created(&log, &e.seal(now, "tolerant").unwrap()).await;
    created(&log, &e.intervention(now, "ops", "a", "now").unwrap()).await;
    let back = Time(now.0 - 3600);
    created(
        &log,
        &e.intervention(back, "ops", "b", "an hour back").unwrap(),
    )
    .await;
    let dir = log.stop().await;

    cfg.time_tolerance_secs = 300;
    let log = TestLog::start_in(dir, cfg).await;
    // The election is judged by what it sealed, not by the log's flag of today.
    created(
        &log,
        &e.intervention(Time(now.0 - 3500), "ops", "c", "still in force")
            .unwrap(),
    )
    .await;
    refused(
        &log,
        &election_with_tolerance(&keys, "e-tol2", 7200)
            .seal(Time::now(), "too tolerant")
            .unwrap(),
        400,
        "tolerance_out_of_bounds",
    )
    .await;

    let mdir = tempfile::tempdir().unwrap();
    let (path, of, key) = (mdir.path().to_path_buf(), log.url.clone(), log.key.clone());
    let mirror = tokio::task::spawn_blocking(move || Mirror::open(&path, &of, key, vec![]))
        .await
        .unwrap()
        .unwrap();
    // Twice: the first pass learns the log's announced (lower) tolerance.
    for _ in 0..2 {
        mirror
            .sync_once()
            .await
            .expect("the mirror copies every entry");
    }
    assert_eq!(mirror.head().map(|h| h.size), Some(log.size().await));
    check_log(&log).await;
}

// ---------------------------------------------------------------------------------
// 4. Lookups are complete or say they are not.

/// A registrar of another election pads a voter's tag with 1,001 entries; the
/// voter's helpdesk reissue and ballot in their own election are still found: by
/// following the pages, or by filtering by election.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn padded_voter_history_is_paginated_and_filtered() {
    let keys = DemoKeys::from_seed("adv-pad").unwrap();
    let log = TestLog::start(&keys).await;
    let mine = open_election(&log, &keys, "e-mine").await;
    let padder = open_election(&log, &keys, "e-pad").await;
    let voter = random_tag(&mut rand::thread_rng());
    let fresh = || random_tag(&mut rand::thread_rng());
    let first = mine
        .credential(
            Time::now(),
            voter,
            fresh(),
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap();
    created(&log, &first).await;
    // 1,001 entries about the voter in the other election (an initial credential,
    // then reissues), 16 in flight.
    let mut pad = vec![padder
        .credential(
            Time::now(),
            voter,
            fresh(),
            Channel::Mail,
            CredentialReason::Initial,
        )
        .unwrap()];
    created(&log, &pad.remove(0)).await;
    let texts: Vec<String> = (0..1000)
        .map(|_| {
            padder
                .credential(
                    Time::now(),
                    voter,
                    fresh(),
                    Channel::Helpdesk,
                    CredentialReason::ReissueLost,
                )
                .unwrap()
        })
        .collect();
    for chunk in texts.chunks(16) {
        for (s, v) in futures::future::join_all(chunk.iter().map(|t| log.post(t))).await {
            assert_eq!(s, 201, "{v}");
        }
    }
    // The voter's own helpdesk reissue and ballot, after the padding.
    let cred = fresh();
    created(
        &log,
        &mine
            .credential(
                Time::now(),
                voter,
                cred,
                Channel::Helpdesk,
                CredentialReason::ReissueHelpdesk,
            )
            .unwrap(),
    )
    .await;
    created(
        &log,
        &mine.ballot(Time::now(), "s1", cred, fresh()).unwrap(),
    )
    .await;

    // Unfiltered: the first page says there is more; following `next` finds all.
    let mut all = Vec::new();
    let mut cursor = 0u64;
    let mut pages = 0;
    loop {
        let (s, v) = log
            .get_json(&format!("/v1/voters/{voter}?cursor={cursor}"))
            .await;
        assert_eq!(s, 200, "{v}");
        pages += 1;
        for e in v["entries"].as_array().unwrap() {
            all.push(e["index"].as_u64().unwrap());
        }
        match v["next"].as_u64() {
            Some(n) => cursor = n,
            None => {
                assert!(v["next"].is_null(), "a page says where the list ends: {v}");
                break;
            }
        }
    }
    assert!(pages >= 2, "1,004 entries do not fit one page");
    assert_eq!(all.len(), 1 + 1001 + 2);
    // Filtered by the voter's election: exactly the three entries of it.
    let mut mine_entries = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (_, v) = log
            .get_json(&format!(
                "/v1/voters/{voter}?election=e-mine&cursor={cursor}"
            ))
            .await;
        for e in v["entries"].as_array().unwrap() {
            mine_entries.push(e["type"].as_str().unwrap().to_string());
        }
        match v["next"].as_u64() {
            Some(n) => cursor = n,
            None => break,
        }
    }
    assert_eq!(mine_entries, ["credential", "credential", "ballot"]);
    check_log(&log).await;
}
