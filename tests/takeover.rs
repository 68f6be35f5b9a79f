//! Takeover test: three `urne serve` (real processes) on one PostgreSQL database
//! started by the test, eight concurrent submitters spread over all three (followers
//! forward to the leader), a `/checkpoint` reader on each, and the leader killed
//! with SIGKILL at a random moment, round after round. An instance that exits (the
//! killed one, or one that lost its lease under load) is started again as a
//! follower, as its supervisor would. After EVERY round:
//! - a follower took over by itself: a statement posted after the kill is
//!   acknowledged (the time from the kill to that acknowledgement is the takeover
//!   time, printed, and gathered in BENCHMARKS.md);
//! - the tree recomputed from all the entries (C2SP tiles) equals the checkpoint, and
//!   every instance converges to that checkpoint;
//! - every acknowledged statement (201, or 200 for a retry that found it) is at its
//!   index with identical bytes;
//! - every checkpoint handed out (acknowledgements and `/checkpoint` reads of every
//!   instance) is a prefix of the log: never two roots for one size, never a rollback;
//!   those of the last round are also checked with the log's own consistency proofs.
//!
//! Then the paused leader: SIGSTOP longer than the lease, a follower takes over and
//! appends, SIGCONT: the former leader cannot append (it exits, status 75, having
//! acknowledged nothing more), and the log is checked again.
//!
//! Rounds: `URNE_TAKEOVER_ROUNDS` (default 20).

mod common;

use common::cluster::*;
use common::postgres::Postgres;
use common::{election, new_credential};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use urne_client::note::VerifierKey;
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_follower_takes_over_nothing_lost() {
    let rounds: usize = std::env::var("URNE_TAKEOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let pg = Postgres::start_new();
    let db = pg.create_db("takeover");
    let keys = DemoKeys::from_seed("takeover-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut cluster, key) = Cluster::new(db, 3, tmp.path());
    cluster.respawn(&keys);
    let http = reqwest::Client::new();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let handed: Arc<Mutex<Handed>> = Arc::default();
    let e = election(&keys, "cse-takeover");
    let mut takeovers = Vec::new();

    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    // The seal, through whichever instance: followers forward.
    let seal = e.seal(Time::now(), "takeover").unwrap();
    let v = retry_post(&http, &urls, &seal).await;
    let (index, cp) = check_ack(&v, &seal, &key);
    handed.lock().unwrap().add(&cp, "seal");
    acked.lock().unwrap().push(Acked { index, bytes: seal });

    for round in 0..rounds {
        cluster.respawn(&keys);
        let urls = cluster.urls();
        let leader = wait_leader(&http, &urls).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for s in 0..8 {
            let (http, urls, acked, handed, stop, key) = (
                http.clone(),
                urls.clone(),
                acked.clone(),
                handed.clone(),
                stop.clone(),
                key.clone(),
            );
            let texts: Vec<String> = (0..400)
                .map(|_| new_credential(&e, Channel::Mail))
                .collect();
            tasks.push(tokio::spawn(async move {
                let mut attempt = s;
                'texts: for text in texts {
                    // Until acknowledged (or the round ends): the next instance on
                    // each failure, as a client behind a load balancer would.
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            break 'texts;
                        }
                        let url = &urls[attempt % urls.len()];
                        if let Some(v) = try_post(&http, url, &text).await {
                            let (index, cp) = check_ack(&v, &text, &key);
                            handed.lock().unwrap().add(&cp, "acknowledgement");
                            acked.lock().unwrap().push(Acked { index, bytes: text });
                            break;
                        }
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }));
        }
        for url in urls.clone() {
            let (http, handed, stop, key) =
                (http.clone(), handed.clone(), stop.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = http.get(format!("{url}/checkpoint")).send().await {
                        if let Ok(text) = r.text().await {
                            if text.starts_with(ORIGIN) {
                                handed
                                    .lock()
                                    .unwrap()
                                    .add(&open(&text, &key), "/checkpoint");
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        let delay = rand::thread_rng().gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        let killed_at = Instant::now();
        {
            let slot = live_slot(&cluster, &urls[leader]);
            let inst = cluster.live[slot].as_mut().unwrap();
            inst.child.kill().unwrap(); // SIGKILL
            inst.child.wait().unwrap();
        }
        // Takeover: a new statement, posted to the survivors until acknowledged.
        let survivors: Vec<String> = urls
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != leader)
            .map(|(_, u)| u.clone())
            .collect();
        let probe = new_credential(&e, Channel::Mail);
        let v = retry_post(&http, &survivors, &probe).await;
        let took = killed_at.elapsed();
        takeovers.push(took);
        let (index, cp) = check_ack(&v, &probe, &key);
        handed.lock().unwrap().add(&cp, "probe");
        acked.lock().unwrap().push(Acked {
            index,
            bytes: probe,
        });
        // A little more load under the new leader, then stop.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        cluster.respawn(&keys);
        let urls = cluster.urls();
        let leader = wait_leader(&http, &urls).await;
        verify(
            &http,
            &urls,
            leader,
            &key,
            &acked,
            &handed,
            round + 1 == rounds,
        )
        .await;
        eprintln!(
            "round {round}: leader killed after {delay} ms, takeover (kill to the next acknowledgement) {took:?}; {} acknowledged",
            acked.lock().unwrap().len()
        );
    }
    takeovers.sort();
    let pct = |p: usize| takeovers[(takeovers.len() * p / 100).min(takeovers.len() - 1)];
    eprintln!(
        "takeover over {rounds} rounds: p50 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(99),
        takeovers.last().unwrap()
    );

    paused_leader_cannot_append(&mut cluster, &keys, &http, &key, &acked, &handed, &e).await;
}

/// A leader paused (SIGSTOP) longer than its lease, with statements in flight to it:
/// a follower takes over and appends; resumed (SIGCONT), the former leader
/// acknowledges nothing more and exits with status 75.
#[allow(clippy::too_many_arguments)]
async fn paused_leader_cannot_append(
    cluster: &mut Cluster,
    keys: &DemoKeys,
    http: &reqwest::Client,
    key: &VerifierKey,
    acked: &Arc<Mutex<Vec<Acked>>>,
    handed: &Arc<Mutex<Handed>>,
    e: &urne_client::test_kit::DemoElection<'_>,
) {
    cluster.respawn(keys);
    let urls = cluster.urls();
    let leader = wait_leader(http, &urls).await;
    let slot = live_slot(cluster, &urls[leader]);
    let pid = cluster.live[slot].as_ref().unwrap().child.id() as i32;
    // SAFETY: signals to a process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let stopped_at = Instant::now();
    // Statements sent to the paused leader itself: they wait in its socket buffers.
    let stuck: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, text) = (
                http.clone(),
                urls[leader].clone(),
                new_credential(e, Channel::Mail),
            );
            tokio::spawn(async move {
                let r = http
                    .post(format!("{url}/v1/statements"))
                    .body(text.clone())
                    .send()
                    .await;
                match r {
                    Ok(r) => (
                        r.status().as_u16(),
                        r.text().await.unwrap_or_default(),
                        text,
                    ),
                    Err(e) => (0, e.to_string(), text),
                }
            })
        })
        .collect();
    // A follower takes over and appends.
    let others: Vec<String> = urls
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, u)| u.clone())
        .collect();
    let new_leader = loop {
        let mut found = None;
        for u in &others {
            if let Some(v) = log_info(http, u).await {
                if v["leading"].as_bool() == Some(true) {
                    found = Some(u.clone());
                }
            }
        }
        if let Some(u) = found {
            break u;
        }
        assert!(
            stopped_at.elapsed() < PATIENCE,
            "no takeover of a paused leader"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for _ in 0..20 {
        let text = new_credential(e, Channel::Mail);
        let v = retry_post(http, std::slice::from_ref(&new_leader), &text).await;
        let (index, cp) = check_ack(&v, &text, key);
        handed.lock().unwrap().add(&cp, "new leader");
        acked.lock().unwrap().push(Acked { index, bytes: text });
    }
    // Longer than the lease for sure, then resume the former leader.
    let lease = Duration::from_millis(LEASE_MS);
    if stopped_at.elapsed() < 2 * lease {
        tokio::time::sleep(2 * lease - stopped_at.elapsed()).await;
    }
    unsafe { libc::kill(pid, libc::SIGCONT) };
    // It exits by itself, having lost the lead.
    let start = Instant::now();
    let status = loop {
        if let Some(s) = cluster.live[slot]
            .as_mut()
            .unwrap()
            .child
            .try_wait()
            .unwrap()
        {
            break s;
        }
        assert!(start.elapsed() < PATIENCE, "the former leader did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        status.code(),
        Some(urne::leader::EXIT_LOST_LEAD),
        "{status}"
    );
    for t in stuck {
        let (status, body, text) = t.await.unwrap();
        // Whatever it answered, it is no acknowledgement of an append by the former
        // leader: a 201/200 here must be in the log like any other.
        if status == 201 || status == 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let (index, cp) = check_ack(&v, &text, key);
            handed.lock().unwrap().add(&cp, "paused leader");
            acked.lock().unwrap().push(Acked { index, bytes: text });
        }
        eprintln!(
            "statement sent to the paused leader: {status} {}",
            body.chars().take(160).collect::<String>()
        );
    }
    cluster.respawn(keys);
    let urls = cluster.urls();
    let leader = wait_leader(http, &urls).await;
    verify(http, &urls, leader, key, acked, handed, true).await;
    eprintln!("paused leader: resumed, exited with {status}, appended nothing; the log checks");
}
