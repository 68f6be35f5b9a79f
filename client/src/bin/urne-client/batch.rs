//! `urne-client statement batch`: a registrar's or a platform's statements, from JSON
//! lines of fields to verified receipts, resumable after a crash.
//!
//! Owns: reading the input lines, the journal and the receipts file, bounded
//! concurrency, the progress bar and the summary.
//!
//! # Why a journal
//!
//! A statement's time is part of its text, and its identity is its text: signed
//! again after a crash, the same line would be a new statement, appended a second
//! time. So statements are signed in chunks, each chunk appended to the journal and
//! synced to disk *before* any of it is sent; a run that finds a journal re-sends its
//! statements (the log answers those it has as duplicates) and signs only the input
//! lines after the journal's last. The journal is append-only: a crash in the middle
//! of a chunk leaves a last line cut short, which was never sent and is dropped.
//!
//! Chunks keep each statement's time close to its sending: a log refuses a time more
//! than the election's tolerance away from its clock (`time_skew`).

use crate::author::read_signer;
use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use crate::submit::{submit_one, Outcome, TargetLog};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::io::{BufRead as _, BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;
use urne_client::authoring;
use urne_client::statement::{SignedStatement, StatementType, Time};

/// Arguments of `statement batch`.
#[derive(Args, Debug)]
pub struct BatchArgs {
    #[command(flatten)]
    pub log: TargetLog,
    /// The signer key file (the registrar's, or the platform's).
    #[arg(long = "sign-key", value_name = "FILE")]
    pub sign_key: PathBuf,
    /// Input: one JSON object per line, `{"type": "credential", "election": ID,
    /// "voter": …, …}` (fields of `statement new TYPE --help`; `time` optional, default
    /// the signing time; repeated fields as arrays).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The journal of signed statements [default: INPUT.journal]. Keep it until the
    /// batch is done: a run that finds it resumes from it.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// The receipts, one JSON line per input line [default: INPUT.receipts].
    #[arg(long, value_name = "FILE")]
    pub receipts: Option<PathBuf>,
    /// Statements in flight.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Statements signed and journaled at a time.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk: u32,
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// One input line, read.
struct Line {
    ty: StatementType,
    election: String,
    time: Time,
    pairs: Vec<(String, String)>,
}

impl Line {
    /// Builds the statement with the library (which checks every field).
    fn build(&self, n: usize) -> Res<urne_client::statement::Statement> {
        authoring::build(self.ty, &self.election, self.time, &self.pairs)
            .map_err(|e| Fail::new(Kind::Other, format!("input line {n}: {e}")))
    }
}

/// Reads one input line: its type, election, time (now unless given) and fields.
fn fields_of(line: &str, n: usize) -> Res<Line> {
    let bad = |m: String| Fail::new(Kind::Other, format!("input line {n}: {m}"));
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    let ty: StatementType = obj
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| bad("no \"type\"".into()))?
        .parse()
        .map_err(|_| bad("unknown \"type\"".into()))?;
    let election = obj
        .get("election")
        .and_then(|t| t.as_str())
        .ok_or_else(|| bad("no \"election\"".into()))?
        .to_string();
    let time = match obj.get("time") {
        None => Time::now(),
        Some(t) => t
            .as_str()
            .ok_or_else(|| bad("\"time\" is not a string".into()))?
            .parse()
            .map_err(|e| bad(format!("{e}")))?,
    };
    let mut pairs = Vec::new();
    for (k, v) in obj {
        if matches!(k.as_str(), "type" | "election" | "time") {
            continue;
        }
        let one = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            _ => Err(bad(format!("\"{k}\" is not a string or number"))),
        };
        match v {
            serde_json::Value::Array(vs) => {
                for x in vs {
                    pairs.push((k.clone(), one(x)?));
                }
            }
            _ => pairs.push((k.clone(), one(v)?)),
        }
    }
    Ok(Line {
        ty,
        election,
        time,
        pairs,
    })
}

/// A journaled statement: its input line number and its signed bytes.
struct Journaled {
    line: usize,
    statement: String,
}

/// Reads a journal: every complete line (a cut last line was never sent).
fn read_journal(path: &Path) -> Res<Vec<Journaled>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Fail::new(
                Kind::Other,
                format!("reading {}: {e}", path.display()),
            ))
        }
    };
    let mut out = Vec::new();
    for l in std::io::BufReader::new(f).lines() {
        let l = l.map_err(ctx(Kind::Other, format!("reading {}", path.display())))?;
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) else {
            continue;
        };
        if let (Some(line), Some(s)) = (v["line"].as_u64(), v["statement"].as_str()) {
            out.push(Journaled {
                line: line as usize,
                statement: s.to_string(),
            });
        }
    }
    Ok(out)
}

/// Reads the input lines already answered in a receipts file.
fn read_done(path: &Path) -> Res<HashSet<usize>> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => {
            return Err(Fail::new(
                Kind::Other,
                format!("reading {}: {e}", path.display()),
            ))
        }
    };
    let mut done = HashSet::new();
    for l in std::io::BufReader::new(f).lines() {
        let l = l.map_err(ctx(Kind::Other, format!("reading {}", path.display())))?;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) {
            if let Some(n) = v["line"].as_u64() {
                done.insert(n as usize);
            }
        }
    }
    Ok(done)
}

/// Opens a file for appending, first ending a line a crash cut short, so the next
/// line starts clean.
fn open_append(path: &Path) -> Res<std::fs::File> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(ctx(Kind::Other, format!("opening {}", path.display())))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > 0 {
        let b =
            std::fs::read(path).map_err(ctx(Kind::Other, format!("reading {}", path.display())))?;
        if b.last() != Some(&b'\n') {
            f.write_all(b"\n")
                .map_err(ctx(Kind::Other, format!("writing {}", path.display())))?;
        }
    }
    Ok(f)
}

/// Counts of a batch.
#[derive(Default, Debug)]
struct Tally {
    appended: u64,
    duplicate: u64,
    refused: u64,
}

/// Runs `statement batch`; returns the summary line.
pub fn run(a: &BatchArgs) -> Res<String> {
    let trust = a.log.trust()?;
    let key = read_signer(&a.sign_key)?;
    let log = Log::new(&a.log.log);
    let journal_path = a
        .journal
        .clone()
        .unwrap_or_else(|| with_ext(&a.input, ".journal"));
    let receipts_path = a
        .receipts
        .clone()
        .unwrap_or_else(|| with_ext(&a.input, ".receipts"));
    let input = std::fs::read_to_string(&a.input)
        .map_err(ctx(Kind::Other, format!("reading {}", a.input.display())))?;
    let lines: Vec<(usize, &str)> = input
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    // Every line is checked before anything is sent: a typo on line 9,000 stops the
    // batch before line 1 reaches the log, not halfway.
    for (n, l) in &lines {
        fields_of(l, *n)?.build(*n)?;
    }
    let journaled = read_journal(&journal_path)?;
    let done = read_done(&receipts_path)?;
    let last_journaled = journaled.iter().map(|j| j.line).max().unwrap_or(0);
    let resumed = !journaled.is_empty();
    if resumed {
        eprintln!(
            "resuming: {} statement(s) in the journal {}, {} already answered in {}",
            journaled.len(),
            journal_path.display(),
            done.len(),
            receipts_path.display()
        );
    }
    let total = lines.len() as u64;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} statements, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    bar.set_position(done.len() as u64);
    let mut journal = open_append(&journal_path)?;
    let mut receipts = BufWriter::new(open_append(&receipts_path)?);
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut sign_secs = 0f64;
    let mut sent = 0u64;
    // The journal's statements first (their lines are before any new one), then the
    // input after the journal, a chunk at a time.
    let mut pending: Vec<Journaled> = journaled
        .into_iter()
        .filter(|j| !done.contains(&j.line))
        .collect();
    let mut rest = lines.iter().filter(|(n, _)| *n > last_journaled).peekable();
    loop {
        if pending.is_empty() {
            if rest.peek().is_none() {
                break;
            }
            let t = Instant::now();
            let mut chunk = String::new();
            for (n, l) in rest.by_ref().take(a.chunk as usize) {
                let st = fields_of(l, *n)?.build(*n)?;
                let signed = st
                    .sign(&[&key])
                    .map_err(|e| Fail::new(Kind::Other, format!("input line {n}: {e}")))?;
                chunk.push_str(&serde_json::json!({"line": n, "statement": signed}).to_string());
                chunk.push('\n');
                pending.push(Journaled {
                    line: *n,
                    statement: signed,
                });
            }
            // On disk before any of it is sent (see the module documentation).
            journal
                .write_all(chunk.as_bytes())
                .and_then(|()| journal.sync_data())
                .map_err(ctx(
                    Kind::Other,
                    format!("writing {}", journal_path.display()),
                ))?;
            sign_secs += t.elapsed().as_secs_f64();
        }
        let work = std::mem::take(&mut pending);
        sent += work.len() as u64;
        let fatal = send_all(&log, &trust, &work, a.concurrency as usize, |j, r| {
            let line = match &r {
                Ok(Outcome::Appended(i, p)) => {
                    tally.appended += 1;
                    serde_json::json!({"line": j.line, "status": "appended", "index": i, "tlog_proof": p.to_text()})
                }
                Ok(Outcome::Duplicate(i, p)) => {
                    tally.duplicate += 1;
                    serde_json::json!({"line": j.line, "status": "duplicate", "index": i, "tlog_proof": p.to_text()})
                }
                Ok(Outcome::Refused(status, code, detail)) => {
                    tally.refused += 1;
                    eprintln!(
                        "REFUSED input line {}: {code}: {detail} (HTTP {status})",
                        j.line
                    );
                    serde_json::json!({"line": j.line, "status": "refused", "code": code, "detail": detail})
                }
                Err(_) => return,
            };
            // Each receipt reaches the OS as it comes: a crash loses none that were
            // written, and a resumed run does not send those again.
            let _ = writeln!(receipts, "{line}").and_then(|()| receipts.flush());
            bar.inc(1);
        });
        if let Some(f) = fatal {
            bar.abandon();
            return Err(Fail::new(
                f.kind,
                format!(
                    "{} (batch stopped; run it again to resume from the journal)",
                    f.msg
                ),
            ));
        }
    }
    receipts.flush().map_err(ctx(
        Kind::Other,
        format!("writing {}", receipts_path.display()),
    ))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let acked = tally.appended + tally.duplicate;
    let summary = format!(
        "batch {}: {total} statements ({} answered before this run): {} appended, {} already logged, {} refused; {sent} sent in {secs:.1} s ({:.0} acknowledged/s, signing {:.1} s); receipts in {}",
        a.input.display(),
        done.len(),
        tally.appended,
        tally.duplicate,
        tally.refused,
        if secs > 0.0 { acked as f64 / secs } else { 0.0 },
        sign_secs,
        receipts_path.display()
    );
    if tally.refused > 0 {
        return Err(Fail::new(Kind::Refused, summary));
    }
    Ok(summary)
}

/// Sends `work` with `concurrency` threads; `each` is called on this thread with
/// every verified outcome. Returns the first failure that must stop the batch (an
/// answer that does not verify, or the log out of reach after the retries).
fn send_all(
    log: &Log,
    trust: &crate::trust::Trust,
    work: &[Journaled],
    concurrency: usize,
    mut each: impl FnMut(&Journaled, Res<Outcome>),
) -> Option<Fail> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Res<Outcome>)>();
    let mut fatal = None;
    std::thread::scope(|sc| {
        for _ in 0..concurrency.min(work.len()) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            sc.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(j) = work.get(i) else { return };
                let r = match SignedStatement::parse(j.statement.as_bytes()) {
                    Ok(s) => submit_one(log, trust, &s),
                    Err(e) => Err(Fail::new(
                        Kind::Other,
                        format!("journal line {}: not a signed statement: {e}", j.line),
                    )),
                };
                if tx.send((i, r)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (i, r) in rx {
            if let Err(f) = &r {
                if fatal.is_none() {
                    fatal = Some(Fail::new(
                        f.kind,
                        format!("input line {}: {}", work[i].line, f.msg),
                    ));
                    stop.store(true, Ordering::Relaxed);
                }
            }
            each(&work[i], r);
        }
    });
    fatal
}
