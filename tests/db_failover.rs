//! Database failover test: the log's PostgreSQL is a primary with a synchronous
//! standby (`synchronous_standby_names = '*'`, so a commit, hence an acknowledgement,
//! waits until the standby has flushed it). Two `urne serve` use a multi-host
//! connection string with `target_session_attrs=read-write`. Under load from four
//! submitters, the primary is killed with SIGKILL (its machine is gone) and the
//! standby promoted (`pg_ctl promote`, what an operator or Patroni does): the
//! instances reconnect by themselves (one that was leading when its commit failed
//! exits and is started again as a follower, as its supervisor would), the log goes
//! on, and 0 acknowledged statements are missing: every one at its index with
//! identical bytes, every checkpoint handed out a prefix of the log.

mod common;

use common::cluster::*;
use common::postgres::Postgres;
use common::{election, new_credential};
use rand::Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_standby_promoted_nothing_lost() {
    let mut primary = Postgres::start_new();
    primary.create_db("failover");
    let standby = primary.standby();
    // Synchronous from now on: the standby is connected.
    primary.append_conf("synchronous_standby_names = '*'");
    primary.reload();
    let db = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/failover?target_session_attrs=read-write&connect_timeout=5",
        primary.port, standby.port
    );
    let keys = DemoKeys::from_seed("failover-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut cluster, key) = Cluster::new(db, 2, tmp.path());
    cluster.respawn(&keys);
    let http = reqwest::Client::new();
    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    let e = election(&keys, "cse-failover");
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let handed: Arc<Mutex<Handed>> = Arc::default();
    let seal = e.seal(Time::now(), "failover").unwrap();
    let v = retry_post(&http, &urls, &seal).await;
    let (index, cp) = check_ack(&v, &seal, &key);
    handed.lock().unwrap().add(&cp, "seal");
    acked.lock().unwrap().push(Acked { index, bytes: seal });

    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for s in 0..4 {
        let (http, urls, acked, handed, stop, key) = (
            http.clone(),
            urls.clone(),
            acked.clone(),
            handed.clone(),
            stop.clone(),
            key.clone(),
        );
        let texts: Vec<String> = (0..1500)
            .map(|_| new_credential(&e, Channel::Mail))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut attempt = s;
            'texts: for text in texts {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break 'texts;
                    }
                    if let Some(v) = try_post(&http, &urls[attempt % urls.len()], &text).await {
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
    let delay = rand::thread_rng().gen_range(500..2000);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let before = acked.lock().unwrap().len();
    primary.kill();
    let killed_at = Instant::now();
    standby.promote();
    // The log goes on: new acknowledgements after the promotion. Instances that
    // exited (a leader whose commit failed with the primary) are restarted.
    let mut urls = urls;
    loop {
        let n = acked.lock().unwrap().len();
        if n > before + 50 {
            break;
        }
        cluster.respawn(&keys);
        let now = cluster.urls();
        if now != urls {
            // The submitters keep their list; a probe on the new one keeps going.
            urls = now;
            let probe = new_credential(&e, Channel::Mail);
            let v = retry_post(&http, &urls, &probe).await;
            let (index, cp) = check_ack(&v, &probe, &key);
            handed.lock().unwrap().add(&cp, "probe");
            acked.lock().unwrap().push(Acked {
                index,
                bytes: probe,
            });
        }
        assert!(
            killed_at.elapsed() < PATIENCE,
            "the log did not go on after the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = killed_at.elapsed();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    cluster.respawn(&keys);
    let urls = cluster.urls();
    let leader = wait_leader(&http, &urls).await;
    verify(&http, &urls, leader, &key, &acked, &handed, true).await;
    eprintln!(
        "database failover: primary killed after {delay} ms ({before} acknowledged), standby promoted; \
         the log went on within {recovered:?}; {} acknowledged, 0 missing",
        acked.lock().unwrap().len()
    );
}
