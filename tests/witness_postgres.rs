//! A witness on PostgreSQL (`urne witness --database`), with a real PostgreSQL started
//! by the test: the `urne` binary cosigns a log's checkpoints, is killed with SIGKILL
//! and restarted on the same database, and still refuses a rollback and a fork with
//! the same status codes as the RocksDB witness (`tests/witness.rs`); a damaged note
//! row makes it refuse to start; an unreachable database is a clear error.

mod common;

use common::add_checkpoint::{body, proof, signed, tree_of};
use common::postgres::Postgres;
use common::process::serving;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use urne_client::checkpoint::{open_checkpoint, CosignerKey, WitnessPolicy};
use urne_client::note::SignerKey;

const ORIGIN: &str = "witness-pg.urne.localhost/log";
const NAME: &str = "w.pg.test";

/// A started `urne witness`, killed (SIGKILL) when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn witness_command(dir: &Path, db: &str, log: &SignerKey) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_urne"));
    c.args(["witness", "--listen", "127.0.0.1:0"])
        .arg("--key")
        .arg(dir.join("witness.key"))
        // The RocksDB directory a witness on PostgreSQL must never create.
        .arg("--data")
        .arg(dir.join("unused"))
        .args(["--log", &log.verifier().to_string()])
        .args(["--database", db])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    c
}

fn start(dir: &Path, db: &str, log: &SignerKey) -> WitnessProcess {
    let mut child = witness_command(dir, db, log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn urne witness");
    let (url, _) = serving(&mut child);
    let url = url.expect("the witness serves");
    WitnessProcess { child, url }
}

/// Runs a witness that must refuse to start: its exit status and standard error.
fn refused(dir: &Path, db: &str, log: &SignerKey) -> String {
    let out = witness_command(dir, db, log)
        .output()
        .expect("run urne witness");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && !stdout.contains("serving on:"),
        "the witness started: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

async fn add(url: &str, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/add-checkpoint"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_on_postgres_keeps_refusing_rollback_and_fork_after_sigkill() {
    let pg = Postgres::start_new();
    let db = pg.create_db("witness_notes");
    let dir = tempfile::tempdir().unwrap();
    let wkey = CosignerKey::from_seed(NAME, [9u8; 32]).unwrap();
    std::fs::write(dir.path().join("witness.key"), wkey.to_signer_string()).unwrap();
    let log = SignerKey::generate(ORIGIN).unwrap();
    let policy = WitnessPolicy::k_of_n(vec![wkey.verifier()], 1);

    let (t5, t8, t12) = (tree_of(5, "a"), tree_of(8, "a"), tree_of(12, "a"));
    let (n5, n8, n12) = (signed(&log, &t5), signed(&log, &t8), signed(&log, &t12));

    // Cosigns the log's checkpoints: first sight, then growth with a proof.
    let w = start(dir.path(), &db, &log);
    let (s, a) = add(&w.url, &body(0, &[], &n5)).await;
    assert_eq!(s, 200, "{a}");
    let (s, a) = add(&w.url, &body(5, &proof(&t8, 5), &n8)).await;
    assert_eq!(s, 200, "{a}");
    open_checkpoint(format!("{n8}{a}").as_bytes(), log.verifier(), &policy)
        .expect("the cosignature verifies");
    // The note is in PostgreSQL (schema migrated by urne), nothing on the local disk.
    assert_eq!(
        pg.psql("witness_notes", "SELECT count(*) FROM urne_witness_notes")
            .trim(),
        "1"
    );
    assert!(!dir.path().join("unused").exists());

    // SIGKILL, then a restart on the same database (another port).
    drop(w);
    let w = start(dir.path(), &db, &log);
    // Rollback: from the held size, old > size: 400; from its own size: 409 with the
    // held size.
    let (s, _) = add(&w.url, &body(8, &[], &n5)).await;
    assert_eq!(s, 400);
    let (s, a) = add(&w.url, &body(5, &[], &n5)).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));
    // Fork at the same size: 409 with the held size; at a larger size: 422.
    let f8 = tree_of(8, "fork");
    let (s, a) = add(&w.url, &body(8, &[], &signed(&log, &f8))).await;
    assert_eq!((s, a.as_str()), (409, "8\n"));
    let f12 = tree_of(12, "fork");
    let (s, _) = add(&w.url, &body(8, &proof(&f12, 8), &signed(&log, &f12))).await;
    assert_eq!(s, 422);
    // The honest log goes on from what the witness held before the kill.
    let (s, a) = add(&w.url, &body(8, &proof(&t12, 8), &n12)).await;
    assert_eq!(s, 200, "{a}");
    let r = reqwest::get(format!("{}/checkpoint/{ORIGIN}", w.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let held = r.text().await.unwrap();
    let cp = open_checkpoint(held.as_bytes(), log.verifier(), &policy).unwrap();
    assert_eq!(cp.checkpoint.size, 12);
    // The fork's evidence is in the database too.
    let evidence = pg.psql("witness_notes", "SELECT count(*) FROM urne_evidence");
    assert_ne!(evidence.trim(), "0");
    drop(w);

    // A damaged note row: one byte of the stored record flipped. The witness refuses
    // to start, saying why, rather than cosign from a size it never cosigned.
    pg.psql(
        "witness_notes",
        "UPDATE urne_witness_notes \
         SET value = set_byte(value, length(value) / 2, get_byte(value, length(value) / 2) # 32)",
    );
    let err = refused(dir.path(), &db, &log);
    assert!(
        err.contains("cannot be trusted") && err.contains(ORIGIN),
        "{err}"
    );
    assert!(!dir.path().join("unused").exists());

    // An unreachable database: a clear error naming it, without the password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("postgres://urne:s3cret@127.0.0.1:{port}/none?connect_timeout=5");
    let err = refused(dir.path(), &gone, &log);
    assert!(
        err.contains("opening the witness's PostgreSQL database")
            && err.contains(&format!("postgres://urne@127.0.0.1:{port}/none"))
            && !err.contains("s3cret"),
        "{err}"
    );
}
