//! The documentation, run: the statement reference's examples are parsed, their
//! signatures verified and the election rules replayed over them; its table of types
//! must be the library's; its incident sequences run as written against a real
//! `urne serve`; and the integration guide's Python example signs and submits a
//! ballot with nothing but a standard Ed25519 library.

mod support;

use std::path::Path;
use std::process::Command;
use support::Server;
use urne_client::authoring;
use urne_client::rules::{self, Context, MemoryState};
use urne_client::statement::{Body, SignedStatement, StatementType};

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs").join(name))
        .unwrap_or_else(|e| panic!("docs/{name}: {e}"))
}

/// The fenced blocks of `md` whose info string is `lang`, in order.
fn blocks(md: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for l in md.lines() {
        match &mut cur {
            None if l.trim_end() == format!("```{lang}") => cur = Some(String::new()),
            Some(b) if l.starts_with("```") => {
                out.push(std::mem::take(b));
                cur = None;
            }
            Some(b) => {
                b.push_str(l);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn reference_examples_parse_verify_and_replay() {
    let md = doc("statements.md");
    let seq = blocks(&md, "urne");
    assert!(seq.len() >= 12, "{} examples", seq.len());
    let parsed: Vec<SignedStatement> = seq
        .iter()
        .map(|b| SignedStatement::parse(b.as_bytes()).unwrap_or_else(|e| panic!("{e}:\n{b}")))
        .collect();
    let Body::Election(e) = &parsed[0].statement.body else {
        panic!("the first example is not the election")
    };
    // Every type appears in the reference's examples.
    let alt = blocks(&md, "urne-alternative");
    let alt: Vec<SignedStatement> = alt
        .iter()
        .map(|b| SignedStatement::parse(b.as_bytes()).unwrap_or_else(|err| panic!("{err}:\n{b}")))
        .collect();
    for t in StatementType::ALL {
        assert!(
            parsed.iter().chain(&alt).any(|s| s.statement.statement_type() == *t),
            "no example of {t}"
        );
    }
    // Replayed in order as history (no clock), every example is accepted.
    let mut state = MemoryState::new();
    for (i, s) in parsed.iter().enumerate() {
        let ctx = Context {
            index: i as u64,
            now: None,
            tolerance_secs: rules::DEFAULT_TOLERANCE_SECS,
            max_tolerance_secs: None,
        };
        let fx = rules::check(&state, s, None, &ctx)
            .unwrap_or_else(|r| panic!("example {i} ({}) refused: {r}", s.statement.statement_type()));
        rules::apply(&mut state, fx.writes);
    }
    // The alternative endings are checked for their signatures.
    for s in &alt {
        rules::verify_signatures(s, &e.authorities, e.quorum).expect("alternative example");
    }
}

#[test]
fn reference_types_table_is_the_library_table() {
    let md = doc("statements.md");
    let mut seen = 0;
    for l in md.lines() {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        if cells.len() < 5 {
            continue;
        }
        let Ok(t) = cells[1].trim_matches('`').parse::<StatementType>() else {
            continue;
        };
        let names: Vec<&str> = cells[2]
            .split('`')
            .skip(1)
            .step_by(2)
            .collect();
        let want: Vec<&str> = authoring::fields(t).iter().map(|f| f.name).collect();
        assert_eq!(names, want, "fields of {t} in docs/statements.md");
        let (roles, quorum) = rules::required_roles(t);
        assert_eq!(cells[3].starts_with("the board quorum"), quorum, "signers of {t}");
        for r in roles {
            assert!(quorum || cells[3].contains(r.as_str()), "signers of {t}");
        }
        seen += 1;
    }
    assert_eq!(seen, StatementType::ALL.len());
}

/// Runs `script` with bash in `dir`, `urne-client` first on the PATH.
fn bash(dir: &Path, script: &str, env: &[(&str, &str)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_urne-client"))
        .parent()
        .expect("bin dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .env("PATH", path)
        .env("XDG_STATE_HOME", dir.join(".xdg"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    eprintln!(
        "--- script exited {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn incident_sequences_run_as_written() {
    let md = doc("statements.md");
    let section = md
        .split("## Replaying the incidents")
        .nth(1)
        .expect("the incidents section");
    let sh = blocks(section, "sh");
    assert!(sh.len() >= 5, "{} sh blocks", sh.len());
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // The keys, then the operator's step (done here), then the rest as one script:
    // shell functions and variables carry from block to block, as in one terminal.
    assert!(bash(d, &sh[0], &[]).status.success());
    let president = std::fs::read_to_string(d.join("president.key.pub")).unwrap();
    let s = Server::start(&d.join("data"), &[president.trim().to_string()]);
    let out = bash(
        d,
        &sh[1..].join("\n"),
        &[("URNE_LOG", &s.url), ("URNE_LOG_KEY", &s.key)],
    );
    assert!(out.status.success(), "the incidents' commands failed");
    let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
    assert!(read("alerts-1.txt").contains("reissue-leak"), "{}", read("alerts-1.txt"));
    assert!(read("refused.txt").contains("REFUSED ballot-1.txt: ballot_while_suspended:"));
    let a2 = read("alerts-2.txt");
    assert!(a2.contains("helpdesk") && a2.contains("ballot"), "{a2}");
    // election, open, 3 credentials, intervention, 3 reissues, suspend, resume,
    // ballot, helpdesk reissue, impostor's ballot.
    assert_eq!(s.size(), 14);
}
