//! `urne-client`: the voter's check and alerts, the union's monitor, and the
//! authorities' statements (keygen, new, sign, inspect, submit, batch).
//!
//! Owns: the command line (clap), printing, and exit codes. Every command trusts
//! nothing the log says that it can verify itself: checkpoints are opened against the
//! log key and the witness policy, entries are proved by inclusion proofs or
//! authenticated tiles, histories by consistency proofs, and the election rules are
//! re-run with the same library the log uses.
//! Does not own: formats, proofs, rules (the `urne_client` library, pure and without
//! I/O); all I/O lives here, in the binary.
//!
//! # Layout
//!
//! - `fail`: failure kinds and exit codes.
//! - `http`: the log's HTTP API (ureq, rustls) and a tile fetcher.
//! - `trust`: log key, witness policy, remembered checkpoints (XDG state dir).
//! - `engine`: authenticated entry download and the audit (signatures, rules, tree).
//! - `verify`, `alerts`, `monitor`, `report`: the commands.
//! - `offline`: `verify --offline`, a receipt file checked with no network.
//! - `author`: `keygen`, `statement new|sign|inspect` (the authorities' side).
//! - `submit`, `batch`: `statement submit` and `statement batch`.
//! - `notify`: `--exec` and `--webhook`.
//! - `seals`: the monitor's re-check of elections' automatic seals (R.211-572).
//! - `peers`: `--peer` gossip checks (split views), and `monitor --gossip`.
//! - `store`: the rule state an audit replays, in memory or in the monitor's
//!   log-structured store (fjall: bounded memory); `absent`: its absence filter (a fixed-size Bloom
//!   filter: most lookups are of keys not there, answered without reading the disk).
//! - `evidence`: the rollbacks, forks and split views a monitor found, in the
//!   library's `Equivocation` format.
//! - `rate`: the monitor's ballot-rate alarm (the library's `ballot_rate` rule).

mod absent;
mod alerts;
mod author;
mod batch;
mod engine;
mod evidence;
mod fail;
mod http;
mod monitor;
mod notify;
mod offline;
mod peers;
mod rate;
mod report;
mod seals;
mod store;
mod submit;
mod trust;
mod verify;

use clap::{Parser, Subcommand};
use fail::{Fail, Kind};
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: everything asked was proved
  1  other error (bad argument value, unreadable file, state directory)
  2  not found: no such receipt, entry or voter in the log
  3  proof failed: a signature, witness quorum, inclusion proof or tile does not
     verify, or the entry does not say what the receipt says
  4  log inconsistent: rollback or fork (the log contradicts a checkpoint it signed)
  5  network: the log cannot be reached or answers an HTTP error
  6  rule violation: the log holds an entry the election rules forbid
  7  refused: the log refused a statement (or, for inspect, would refuse it now);
     the line printed gives the stable code and detail
  8  incomplete: the statement lacks signatures its election needs (inspect)
 64  usage error (bad or missing arguments)";

/// urne-client: check your ballot receipt, watch your voter tag, audit a urne log;
/// and, for election authorities, write, co-sign and submit statements.
///
/// urne is an append-only, publicly verifiable log of an election (ballot receipts,
/// credentials, suspensions…). This tool trusts nothing the log says that it can
/// check: signed checkpoints, inclusion and consistency proofs, and the election
/// rules re-run with the same code as the log.
#[derive(Parser)]
#[command(version, about, long_about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove that your ballot receipt is in the log.
    ///
    /// Fetches the log's checkpoint and checks its signature and witness cosignatures,
    /// checks it is consistent with the one remembered from your last run (a rollback
    /// or fork shown to you is caught), finds your ballot, checks its inclusion proof
    /// and that it carries your receipt, and re-checks the election rules for every
    /// entry up to it. Prints one sentence saying what was proved or what failed.
    ///
    /// The latest checkpoint of each log is remembered in
    /// $XDG_STATE_HOME/urne-client (default ~/.local/state/urne-client).
    ///
    /// Example: urne-client verify --log https://urne.example --key 'urne.example+1234abcd+AX…' 9f2c…
    #[command(after_help = EXIT_CODES)]
    Verify(verify::VerifyArgs),
    /// List every entry about your voter tag (credentials, revocations, ballots),
    /// each proved in the log; --follow keeps watching.
    #[command(after_help = EXIT_CODES)]
    Alerts(alerts::AlertsArgs),
    /// Audit the whole log: download every entry through the tiles, recompute the tree,
    /// verify every signature, re-run every election rule, then follow the log and
    /// raise alerts (DIR/alerts.jsonl). `monitor report` writes an HTML report.
    ///
    /// Alerts: rollback, fork, equivocation (a --peer was shown another history),
    /// bad_tiles, rule_violation (critical); stale_log, reissue_burst (more than
    /// --burst-per-hour reissues within any 60 minutes), reissue_then_vote (warning);
    /// suspension, resumption (info). Each rollback, fork or split view is alerted
    /// once and kept in DIR/evidence.jsonl (the Equivocation format of mirrors and
    /// witnesses); with --gossip, the ones anyone can check with the log key are
    /// served at /v1/gossip/equivocations.
    /// With --once it catches up and exits: 0 when everything verified (warnings and
    /// informational alerts do not change the exit code), 4 rollback or fork, 6 rule
    /// violation, 3 tiles that do not match the checkpoint, 5 network.
    ///
    /// Report: urne-client monitor report --state DIR --out FILE.html
    #[command(
        after_help = EXIT_CODES,
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true
    )]
    Monitor {
        #[command(subcommand)]
        sub: Option<MonitorSub>,
        #[command(flatten)]
        args: monitor::MonitorArgs,
    },
    /// Write, co-sign, inspect and submit statements (election authorities: board,
    /// registrar, platform).
    #[command(subcommand)]
    Statement(StatementCmd),
    /// Make an authority's Ed25519 key: the secret in FILE (mode 0600, one line
    /// `PRIVATE+KEY+<name>+<key ID>+<base64>`), the verifier key printed and in
    /// FILE.pub (the value of the election's `authority` line).
    Keygen(author::KeygenArgs),
}

/// The authorities' commands: write, co-sign, check and submit statements.
#[derive(Subcommand)]
enum StatementCmd {
    /// Print a statement's canonical text (time now unless --time); with --key,
    /// signed. `statement new --help` lists the types, `statement new TYPE --help`
    /// a type's fields in order and who signs it.
    New(author::NewArgs),
    /// Add your signature line in its canonical place (the order of the election's
    /// authority lines), so board members co-sign one after another, each on their
    /// own machine, the file passed by mail.
    #[command(after_help = EXIT_CODES)]
    Sign(author::SignArgs),
    /// Say what a statement is, which signatures it carries and which are still
    /// needed; with --log, read the sealed election from the log and say whether the
    /// log would accept the statement now. Exit 0 complete (and acceptable), 8
    /// signatures missing, 7 the log would refuse it.
    #[command(after_help = EXIT_CODES)]
    Inspect(author::InspectArgs),
    /// Post signed statements; verify each answer (log signature, inclusion proof);
    /// save each receipt (C2SP tlog-proof) as FILE.proof; one line per statement:
    /// APPENDED, DUPLICATE (its text was already logged: the earlier entry's
    /// receipt), REFUSED <code>: <detail>, FAILED. Exit code: the worst outcome (3
    /// proof failed, 5 network, 7 refused).
    #[command(after_help = EXIT_CODES)]
    Submit(submit::SubmitArgs),
    /// Sign and submit JSON lines of fields with bounded concurrency; a journal of
    /// the signed statements makes a crashed batch resumable (re-sent statements are
    /// duplicates, never second copies); writes one receipt line per input line and
    /// a summary.
    #[command(after_help = EXIT_CODES)]
    Batch(batch::BatchArgs),
}

/// `urne-client monitor report …`, parsed on its own (see `main`).
#[derive(Parser)]
#[command(name = "urne-client monitor report", after_help = EXIT_CODES)]
struct ReportCli {
    #[command(flatten)]
    args: report::ReportArgs,
}

#[derive(Subcommand)]
enum MonitorSub {
    /// Write a self-contained HTML report of a monitor's state directory.
    Report(report::ReportArgs),
}

fn fail_out(f: &Fail, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({
                "ok": false,
                "error": f.kind.as_str(),
                "message": f.msg,
                "evidence": f.evidence,
            })
        );
    } else {
        eprintln!("urne-client: {}", f.msg);
        if let Some(ev) = &f.evidence {
            eprintln!(
                "evidence: {}",
                serde_json::to_string_pretty(ev).unwrap_or_default()
            );
        }
    }
    ExitCode::from(f.kind.exit_code())
}

fn main() -> ExitCode {
    // `monitor report` is parsed apart: clap's derive cannot leave the monitor's own
    // required flags unset when its subcommand is used.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "monitor") && argv.get(2).is_some_and(|a| a == "report") {
        let r = match ReportCli::try_parse_from(argv.iter().skip(2)) {
            Ok(r) => r,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(64)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        return match report::run(&r.args) {
            Ok(m) => {
                println!("{m}");
                ExitCode::SUCCESS
            }
            Err(f) => fail_out(&f, false),
        };
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(64)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // `--log` is required by every command that reads a log, but `verify --offline`.
    let log_args = match &cli.command {
        Command::Verify(a) if !a.offline => Some(&a.log),
        Command::Alerts(a) => Some(&a.log),
        Command::Monitor { sub: None, args } => Some(&args.log),
        _ => None,
    };
    if log_args.is_some_and(|l| l.log.is_none()) {
        let _ = clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "the following required argument was not provided: --log <URL>\n",
        )
        .print();
        return ExitCode::from(64);
    }
    match cli.command {
        Command::Verify(a) => match verify::run(&a) {
            Ok((sentence, json)) => {
                if a.json {
                    println!("{json}");
                } else {
                    println!("{sentence}");
                }
                ExitCode::SUCCESS
            }
            Err(f) => fail_out(&f, a.json),
        },
        Command::Alerts(a) => match alerts::run(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => fail_out(&f, a.json),
        },
        Command::Monitor { sub: Some(_), .. } => fail_out(
            &Fail::new(
                Kind::Other,
                "usage: urne-client monitor report --state DIR --out FILE.html",
            ),
            false,
        ),
        Command::Keygen(a) => match author::keygen(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => fail_out(&f, false),
        },
        Command::Statement(cmd) => {
            let r = match cmd {
                StatementCmd::New(a) => author::new(&a).map(|()| None),
                StatementCmd::Sign(a) => author::sign(&a).map(|()| None),
                StatementCmd::Inspect(a) => author::inspect(&a).map(Some),
                StatementCmd::Submit(a) => submit::submit(&a).map(|()| None),
                StatementCmd::Batch(a) => batch::run(&a).map(Some),
            };
            match r {
                Ok(out) => {
                    if let Some(o) = out {
                        println!("{}", o.trim_end());
                    }
                    ExitCode::SUCCESS
                }
                // Reports that end in a failure (inspect, batch) go to standard
                // output like their success; submit printed its lines already.
                Err(f)
                    if matches!(f.kind, Kind::Refused | Kind::Incomplete) || f.msg.is_empty() =>
                {
                    if !f.msg.is_empty() {
                        println!("{}", f.msg);
                    }
                    ExitCode::from(f.kind.exit_code())
                }
                Err(f) => fail_out(&f, false),
            }
        }
        Command::Monitor { args, .. } => match monitor::run(&args) {
            Ok(m) => {
                println!("{m}");
                ExitCode::SUCCESS
            }
            Err(f) => fail_out(&f, false),
        },
    }
}
