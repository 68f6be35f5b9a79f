//! `urne witness --config FILE`: the witness's TOML configuration, with the real
//! binary. The file alone starts a witness; a flag wins over the file and `--log`
//! adds to its list; an unknown key (a typo), a file that is not TOML, a missing key
//! or log, or a bad log key in the file each refuse the start with an error naming
//! what is wrong, and nothing is created.

mod common;

use common::process::serving;
use std::path::Path;
use std::process::{Command, Stdio};
use urne_client::checkpoint::CosignerKey;
use urne_client::note::SignerKey;

/// A witness key file in `dir`; returns its path and verifier key text.
fn witness_key(dir: &Path) -> (std::path::PathBuf, String) {
    let key = CosignerKey::from_seed("w.config.test", [5; 32]).unwrap();
    let path = dir.join("witness.key");
    std::fs::write(&path, key.to_signer_string()).unwrap();
    (path, key.verifier().to_string())
}

fn log_key(name: &str, seed: u8) -> String {
    SignerKey::from_seed(name, [seed; 32])
        .unwrap()
        .verifier()
        .to_string()
}

fn witness(config: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_urne"));
    c.arg("witness")
        .arg("--config")
        .arg(config)
        .args(extra)
        .env("RUST_LOG", "warn")
        .env_remove("URNE_WITNESS_DATABASE")
        .stdin(Stdio::null());
    c
}

/// Runs a witness that must refuse to start; returns its standard error.
fn refused(config: &Path, extra: &[&str]) -> String {
    let out = witness(config, extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && !stdout.contains("serving on:"),
        "the witness started: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

/// The file alone starts a witness with its key, its logs and its data directory; a
/// flag given as well wins (`--data`), and `--log` adds a log to the file's.
#[test]
fn the_file_alone_starts_a_witness_and_flags_win() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, verifier) = witness_key(tmp.path());
    let in_file = tmp.path().join("data-from-file");
    let config = tmp.path().join("witness.toml");
    std::fs::write(
        &config,
        format!(
            "data = {}\nlisten = \"127.0.0.1:0\"\nkey = {}\nlogs = [\"{}\"]\npeers = []\n",
            toml_str(&in_file),
            toml_str(&key),
            log_key("a.config.test/log", 1)
        ),
    )
    .unwrap();
    let mut child = witness(&config, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (url, _) = serving(&mut child);
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.is_some(), "the witness did not serve on its file alone");
    assert!(in_file.is_dir(), "the file's data directory was not used");

    // --data wins over the file's; --log adds a second log.
    let on_flag = tmp.path().join("data-from-flag");
    let second = tmp.path().join("second.toml");
    std::fs::write(
        &second,
        format!(
            "data = {}\nlisten = \"127.0.0.1:0\"\nkey = {}\nlogs = [\"{}\"]\n",
            toml_str(&tmp.path().join("never")),
            toml_str(&key),
            log_key("a.config.test/log", 1)
        ),
    )
    .unwrap();
    let b = log_key("b.config.test/log", 2);
    let mut child = witness(&second, &["--data", on_flag.to_str().unwrap(), "--log", &b])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (url, _) = serving(&mut child);
    let url = url.expect("the witness serves");
    // Both logs are witnessed: an add-checkpoint for either is judged (not refused
    // as an unknown log, 404).
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (name, seed) in [("a.config.test/log", 1u8), ("b.config.test/log", 2u8)] {
        let log = SignerKey::from_seed(name, [seed; 32]).unwrap();
        let tree = common::add_checkpoint::tree_of(1, "x");
        let body =
            common::add_checkpoint::body(0, &[], &common::add_checkpoint::signed(&log, &tree));
        let status = rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{url}/add-checkpoint"))
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
        assert_eq!(status, 200, "{name}: the witness does not witness it");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(on_flag.exists(), "--data did not win over the file");
    assert!(
        !tmp.path().join("never").exists(),
        "the file's data was used"
    );
    let _ = verifier;
}

/// A misspelt key is refused, naming it and the keys expected; so is a file that
/// is not TOML, a value of the wrong type, a missing key or log, a bad log key.
#[test]
fn bad_files_are_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, _) = witness_key(tmp.path());
    let log = log_key("c.config.test/log", 3);
    let data = tmp.path().join("data");
    let base = format!("data = {}\nlisten = \"127.0.0.1:0\"\n", toml_str(&data));
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "unknown field `peer`",
            format!(
                "{base}key = {}\nlogs = [\"{log}\"]\npeer = [\"http://127.0.0.1:1\"]\n",
                toml_str(&key)
            ),
            vec!["peers"],
        ),
        (
            "unknown field `witnesses`",
            format!(
                "{base}key = {}\nlogs = [\"{log}\"]\nwitnesses = []\n",
                toml_str(&key)
            ),
            vec![],
        ),
        ("not toml", "logs = [\n".to_string(), vec!["witness.toml"]),
        (
            "wrong type",
            format!("{base}key = {}\nlogs = \"{log}\"\n", toml_str(&key)),
            vec!["logs"],
        ),
        (
            "no log",
            format!("{base}key = {}\n", toml_str(&key)),
            vec!["--log", "logs"],
        ),
        (
            "no key",
            format!("{base}logs = [\"{log}\"]\n"),
            vec!["--key", "key"],
        ),
        (
            "bad log key",
            format!(
                "{base}key = {}\nlogs = [\"c.config.test/log=not-a-key\"]\n",
                toml_str(&key)
            ),
            vec!["not-a-key"],
        ),
    ];
    for (what, text, want) in cases {
        let config = tmp.path().join("witness.toml");
        std::fs::write(&config, &text).unwrap();
        let err = refused(&config, &[]);
        let first = what.strip_prefix("unknown field ").unwrap_or("");
        for w in want
            .iter()
            .chain(std::iter::once(&first))
            .filter(|w| !w.is_empty())
        {
            assert!(err.contains(w), "{what}: {w:?} not in: {err}");
        }
        assert!(
            !data.exists(),
            "{what}: a refused start created its data directory"
        );
    }
    // A file that does not exist is named.
    let err = refused(&tmp.path().join("missing.toml"), &[]);
    assert!(err.contains("missing.toml"), "{err}");
}
