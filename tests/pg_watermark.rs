//! The high-water mark of a log on PostgreSQL served by several instances
//! (`urne::watermark`, "Several instances"), with real `urne serve` processes on a
//! PostgreSQL started by the test:
//! - a follower records the heads it serves: when the leader is killed it takes over
//!   (its mark is behind the database, never ahead), and the killed leader, started
//!   again, follows as usual: instances whose mark another advanced past start fine;
//! - the database is then replaced by a backup taken earlier (`pg_dump`, restored
//!   with `pg_restore` under the running instances): no instance acknowledges
//!   anything on it, each exits, and each refuses to start again, saying the database
//!   is behind its high-water mark. Nothing is signed over the restored tree.

mod common;

use common::cluster::*;
use common::postgres::Postgres;
use common::{election, new_credential};
use std::process::Stdio;
use std::time::{Duration, Instant};
use urne_client::statement::{Channel, Time};
use urne_client::test_kit::DemoKeys;

/// The size every live instance serves at `/checkpoint`, once they all agree.
async fn converged(
    http: &reqwest::Client,
    urls: &[String],
    key: &urne_client::note::VerifierKey,
    want: u64,
) {
    let start = Instant::now();
    loop {
        let mut sizes = Vec::new();
        for u in urls {
            if let Ok(r) = http.get(format!("{u}/checkpoint")).send().await {
                if let Ok(t) = r.text().await {
                    if t.starts_with(ORIGIN) {
                        sizes.push(open(&t, key).size);
                    }
                }
            }
        }
        if sizes.len() == urls.len() && sizes.iter().all(|s| *s == want) {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "the instances serve {sizes:?}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_backup_is_refused_by_instances_that_saw_more() {
    let pg = Postgres::start_new();
    let db = pg.create_db("wm");
    let keys = DemoKeys::from_seed("watermark-test").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (mut cluster, key) = Cluster::new(db.clone(), 2, tmp.path());
    cluster.respawn(&keys);
    let http = reqwest::Client::new();
    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    let e = election(&keys, "cse-watermark");
    let seal = e.seal(Time::now(), "watermark").unwrap();
    retry_post(&http, &urls, &seal).await;
    for _ in 0..4 {
        retry_post(&http, &urls, &new_credential(&e, Channel::Mail)).await;
    }
    // The operator's backup, at 5 entries.
    pg.dump("wm", "wm.backup");
    for _ in 0..5 {
        retry_post(&http, &urls, &new_credential(&e, Channel::Mail)).await;
    }
    converged(&http, &urls, &key, 10).await;

    // The leader killed: the follower, whose mark followed the leader's commits, is
    // not ahead of the database and takes over.
    let leader = wait_leader(&http, &urls).await;
    let slot = live_slot(&cluster, &urls[leader]);
    {
        let inst = cluster.live[slot].as_mut().unwrap();
        inst.child.kill().unwrap();
        inst.child.wait().unwrap();
    }
    let survivor = urls[1 - leader].clone();
    let probe = new_credential(&e, Channel::Mail);
    let v = retry_post(&http, std::slice::from_ref(&survivor), &probe).await;
    let (index, _) = check_ack(&v, &probe, &key);
    assert_eq!(index, 10);
    // The killed leader starts again (its mark at 10, the database at 11) and follows.
    cluster.respawn(&keys);
    let urls = cluster.urls();
    wait_leader(&http, &urls).await;
    converged(&http, &urls, &key, 11).await;

    // The database goes back to the backup under the running instances.
    pg.restore("wm", "wm.backup");
    assert_eq!(pg.psql("wm", "SELECT size FROM urne_head").trim(), "5");
    // Nothing is acknowledged on it, and every instance stops (the leader at its next
    // commit, which is fenced or fails; the follower when it would lead).
    let start = Instant::now();
    loop {
        for u in cluster.urls() {
            let text = new_credential(&e, Channel::Mail);
            if let Ok(r) = http
                .post(format!("{u}/v1/statements"))
                .body(text)
                .timeout(Duration::from_secs(10))
                .send()
                .await
            {
                let status = r.status().as_u16();
                assert!(
                    status != 200 && status != 201,
                    "an instance acknowledged a statement over a restored database: {status} {}",
                    r.text().await.unwrap_or_default()
                );
            }
        }
        let mut running = 0;
        for inst in cluster.live.iter_mut().flatten() {
            if inst.child.try_wait().unwrap().is_none() {
                running += 1;
            }
        }
        if running == 0 {
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{running} instance(s) still serve a restored database"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pg.psql("wm", "SELECT size FROM urne_head").trim(), "5");
    // Each refuses to start again, and says why.
    for dir in &cluster.dirs {
        let out = serve_command(dir, &db, &keys, &[])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "started over a restored database");
        assert!(
            err.contains("high-water mark") && err.contains("holds 5 entries"),
            "{err}"
        );
    }
    assert_eq!(pg.psql("wm", "SELECT size FROM urne_head").trim(), "5");
    assert_eq!(
        pg.psql("wm", "SELECT count(*) FROM urne_checkpoints WHERE size > 5")
            .trim(),
        "0"
    );
}
