//! Smoke test of `urne demo`, the real binary: twice on the same data directory (the
//! second run adds a second election), then against a running log with `--log`
//! and `--hours`. The resulting log is re-verified from its tiles and its elections
//! endpoint must tell the demo's story: the leak's mass reissue, the suspension and
//! resumption, the helpdesk reissue, the results matching the ballots in the log.

mod common;

use common::{check_log, TestLog};
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::Arc;
use urne_client::statement::{Body, SignedStatement};
use urne_client::test_kit::DemoKeys;

fn urne(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_urne"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run urne");
    eprintln!(
        "urne {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn demo_in(dir: &std::path::Path, voters: usize, hours: u32) -> String {
    let out = urne(&[
        "demo",
        "--exit",
        "--voters",
        &voters.to_string(),
        "--hours",
        &hours.to_string(),
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "urne demo failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Checks one demo election in the log against what the demo did.
async fn check_election(log: &TestLog, entries: &[Vec<u8>], id: &str, voters: u64, hours: u32) {
    let (s, v) = log.get_json(&format!("/v1/elections/{id}")).await;
    assert_eq!(s, 200, "{v}");
    let stats = &v["stats"];
    let timeline: Vec<&str> = stats["timeline"]
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
            "intervention",
            "suspend",
            "resume",
            "close",
            "results",
            "results"
        ],
        "{v}"
    );
    assert_eq!(v["state"]["phase"].as_str(), Some("closed"), "{v}");

    // Reissues by channel: the leak's batch, then the helpdesk's.
    let mut reissues: BTreeMap<String, u64> = BTreeMap::new();
    for per_channel in stats["reissues_per_hour"].as_object().unwrap().values() {
        for (ch, n) in per_channel.as_object().unwrap() {
            *reissues.entry(ch.clone()).or_default() += n.as_u64().unwrap();
        }
    }
    assert!(reissues.get("batch").copied().unwrap_or(0) > 0, "{v}");
    assert_eq!(reissues.get("helpdesk").copied(), Some(1), "{v}");
    assert_eq!(
        stats["counts"]["credential"].as_u64(),
        Some(voters + reissues.values().sum::<u64>()),
        "{v}"
    );

    // The results state as many ballots as the log holds for each scrutin.
    let mut ballots: BTreeMap<String, u64> = BTreeMap::new();
    let mut results: BTreeMap<String, u64> = BTreeMap::new();
    for e in entries {
        let st = SignedStatement::parse(e).unwrap().statement;
        if st.election != id {
            continue;
        }
        match st.body {
            Body::Ballot { scrutin, .. } => *ballots.entry(scrutin).or_default() += 1,
            Body::Results {
                scrutin,
                ballots: n,
                ..
            } => {
                results.insert(scrutin, n);
            }
            _ => {}
        }
    }
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results, ballots, "results vs ballots in the log");
    assert_eq!(
        stats["counts"]["ballot"].as_u64(),
        Some(ballots.values().sum::<u64>())
    );
    // Spread over past hours: the dashboard's hourly series has several hours.
    // (Ballots are dated from 6 % to 90 % of the span: over 1.6 hours for a span of
    // two hours or more, so at least two clock hours.)
    assert!(hours >= 2);
    let hours_with_ballots = stats["ballots_per_hour"].as_object().unwrap().len();
    assert!(hours_with_ballots >= 2, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_twice_and_against_a_running_log() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let keys = DemoKeys::from_seed("urne-demo").unwrap();

    let first = demo_in(dir.path(), 60, 3);
    assert!(
        first.contains("Demo election cse-2026-acme done"),
        "{first}"
    );
    assert!(first.contains("refused as expected: 1 × ballot_while_suspended"));
    assert!(first.contains("refused as expected: 1 × ballot_after_close"));
    // Same data directory again: a second election in the same log.
    let second = demo_in(dir.path(), 40, 3);
    assert!(
        second.contains("Demo election cse-2026-acme-2 done"),
        "{second}"
    );
    assert!(second.contains("/v1/elections/cse-2026-acme-2"));

    // The resulting log, served again over the same directory.
    let mut cfg = common::config_for(&keys);
    cfg.origin = urne::keys::existing_origin(dir.path()).unwrap();
    cfg.time_tolerance_secs = 2 * 3600 + urne_demo::DEMO_RUN_MARGIN_SECS;
    let log = TestLog::start_in(dir, cfg).await;
    let entries = check_log(&log).await;
    check_election(&log, &entries, "cse-2026-acme", 60, 3).await;
    check_election(&log, &entries, "cse-2026-acme-2", 40, 3).await;
    let (_, v) = log.get_json("/v1/elections").await;
    assert_eq!(v["elections"].as_array().unwrap().len(), 2, "{v}");

    // `--log` with `--hours`: within the log's tolerance (2 h + 10 min) it works...
    let out = urne(&[
        "demo",
        "--log",
        &log.url,
        "--voters",
        "30",
        "--hours",
        "2",
        "--election",
        "remote",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Demo election remote done (2 hour(s) of simulated time)"),
        "{text}"
    );
    // ...beyond it, it stops before sending anything, and says what to do.
    let size = log.size().await;
    let out = urne(&[
        "demo",
        "--log",
        &log.url,
        "--voters",
        "30",
        "--hours",
        "3",
        "--election",
        "remote",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--time-tolerance 11400"), "{err}");
    assert_eq!(log.size().await, size, "nothing sent");
    // Without --hours: as many hours as the log accepts (2), under a free id.
    let out = urne(&[
        "demo",
        "--log",
        &log.url,
        "--voters",
        "30",
        "--election",
        "remote",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Demo election remote-2 done (2 hour(s) of simulated time)"),
        "{text}"
    );
    let entries = check_log(&log).await;
    check_election(&log, &entries, "remote", 30, 2).await;
    check_election(&log, &entries, "remote-2", 30, 2).await;
}
