//! A simulated election, and the load generator built on it.
//!
//! Owns: deterministic demo authority keys, building and signing every statement type
//! for a test election, an HTTP submitter with bounded concurrency, the scenario of
//! `urne demo` (credentials, a leak and its mass reissue, a suspension, helpdesk
//! reissues followed by ballots, results), and `urne load` (pre-signed ballots fired
//! at a target rate, latency percentiles measured from each request's scheduled time,
//! so a slow server cannot hide its queueing: no coordinated omission).
//! Does not own: any rule (the log decides; the demo reports what it said).

use anyhow::{bail, Context as _, Result};
use futures::stream::{self, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use urne_client::note::SignerKey;
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
};

/// The authority keys of a demo election, derived from a seed so that an operator can
/// allow the demo's board key on a log started separately (`urne demo --print-board-key`).
pub struct DemoKeys {
    /// Board keys (president and two union delegates); the election needs 2 of 3.
    pub board: Vec<SignerKey>,
    /// The registrar (credential manager).
    pub registrar: SignerKey,
    /// The voting platform.
    pub platform: SignerKey,
}

fn derive_seed(seed: &str, label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"urne demo key\n");
    h.update(seed.as_bytes());
    h.update(b"\n");
    h.update(label.as_bytes());
    h.finalize().into()
}

impl DemoKeys {
    /// Derives the keys of a demo from `seed`.
    pub fn from_seed(seed: &str) -> Result<Self> {
        let key = |name: &str| {
            SignerKey::from_seed(name, derive_seed(seed, name)).map_err(|e| anyhow::anyhow!("{e}"))
        };
        Ok(DemoKeys {
            board: vec![
                key("bureau.president.demo")?,
                key("bureau.delegue-cgt.demo")?,
                key("bureau.delegue-cfdt.demo")?,
            ],
            registrar: key("registrar.demo")?,
            platform: key("platform.demo")?,
        })
    }
}

/// Returns a random 32-byte tag.
pub fn random_tag(rng: &mut impl RngCore) -> Tag {
    let mut t = [0u8; 32];
    rng.fill_bytes(&mut t);
    Tag(t)
}

/// A demo election: its id, keys and schedule, and builders of signed statements.
pub struct DemoElection<'k> {
    /// Election id.
    pub id: String,
    /// Its keys.
    pub keys: &'k DemoKeys,
    /// Its scrutins.
    pub scrutins: Vec<String>,
    /// Opening time.
    pub opens: Time,
    /// Closing time.
    pub closes: Time,
    /// The time tolerance (seconds) sealed in its `election` statement: it judges
    /// every statement time of the election (the log must allow it: its
    /// `--time-tolerance` is the largest it accepts).
    pub tolerance: u64,
}

impl<'k> DemoElection<'k> {
    fn stmt(&self, time: Time, body: Body) -> Statement {
        Statement {
            election: self.id.clone(),
            time,
            body,
        }
    }

    fn board2(&self) -> Vec<&SignerKey> {
        vec![&self.keys.board[0], &self.keys.board[1]]
    }

    /// Signs the sealing `election` statement (2 of 3 board signatures).
    pub fn seal(&self, time: Time, title: &str) -> Result<String> {
        self.seal_with_roll(time, title, None)
    }

    /// Signs the sealing `election` statement with a commitment to the electoral
    /// roll (its hash and voter count: the electorate turnout is measured against).
    pub fn seal_with_roll(
        &self,
        time: Time,
        title: &str,
        roll: Option<(Tag, u64)>,
    ) -> Result<String> {
        let mut authorities: Vec<(Role, urne_client::note::VerifierKey)> = self
            .keys
            .board
            .iter()
            .map(|k| (Role::Board, k.verifier().clone()))
            .collect();
        authorities.push((Role::Registrar, self.keys.registrar.verifier().clone()));
        authorities.push((Role::Platform, self.keys.platform.verifier().clone()));
        let body = Body::Election(ElectionBody {
            title: title.to_string(),
            scrutins: self.scrutins.clone(),
            authorities,
            quorum: 2,
            tolerance: Some(self.tolerance),
            grace: None,
            revote: Default::default(),
            opens: self.opens,
            closes: self.closes,
            roll,
        });
        self.stmt(time, body)
            .sign(&self.board2())
            .context("signing the election statement")
    }

    /// Signs a lifecycle or board statement with the board quorum.
    pub fn board(&self, time: Time, body: Body) -> Result<String> {
        let st = self.stmt(time, body);
        st.sign(&self.board2())
            .with_context(|| format!("signing a {} statement", st.statement_type()))
    }

    /// Signs a credential issue.
    pub fn credential(
        &self,
        time: Time,
        voter: Tag,
        credential: Tag,
        channel: Channel,
        reason: CredentialReason,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Credential {
                voter,
                credential,
                channel,
                reason,
            },
        )
        .sign(&[&self.keys.registrar])
        .context("signing a credential statement")
    }

    /// Signs a ballot receipt.
    pub fn ballot(
        &self,
        time: Time,
        scrutin: &str,
        credential: Tag,
        receipt: Tag,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Ballot {
                scrutin: scrutin.to_string(),
                credential,
                receipt,
            },
        )
        .sign(&[&self.keys.platform])
        .context("signing a ballot statement")
    }

    /// Signs an intervention trace by the platform.
    pub fn intervention(
        &self,
        time: Time,
        actor: &str,
        action: &str,
        reason: &str,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Intervention {
                actor: actor.into(),
                action: action.into(),
                reason: reason.into(),
                reissues: None,
            },
        )
        .sign(&[&self.keys.platform])
        .context("signing an intervention statement")
    }

    /// Signs the board's announcement of a batch reissue of `count` credentials (an
    /// intervention with `reissues <count>`, board quorum): it covers that many
    /// batch reissues (channel `batch` or reason `reissue-leak`).
    pub fn announce_reissues(
        &self,
        time: Time,
        actor: &str,
        action: &str,
        reason: &str,
        count: u64,
    ) -> Result<String> {
        self.board(
            time,
            Body::Intervention {
                actor: actor.into(),
                action: action.into(),
                reason: reason.into(),
                reissues: Some(count),
            },
        )
    }
}

/// What the log answered to one submission.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: serde_json::Value,
    /// Time from scheduled send to answer.
    pub latency: Duration,
}

impl Outcome {
    /// The error code of a refusal, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body.get("error").and_then(|v| v.as_str())
    }
}

/// An HTTP submitter.
#[derive(Clone)]
pub struct Submitter {
    http: reqwest::Client,
    base: String,
}

impl Submitter {
    /// Creates a submitter for the log at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Submitter {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// GETs `path` (e.g. `/v1/log`) and returns the status and JSON body (`Null` if
    /// the body is not JSON).
    ///
    /// # Errors
    /// Network failures.
    pub async fn get_json(&self, path: &str) -> Result<(u16, serde_json::Value)> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {}{path}", self.base))?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(serde_json::Value::Null)))
    }

    /// Posts one signed statement, retrying on 503 (queue full) with a short pause.
    ///
    /// # Errors
    /// Network failures.
    pub async fn post(&self, text: String) -> Result<Outcome> {
        let start = Instant::now();
        loop {
            let resp = self
                .http
                .post(format!("{}/v1/statements", self.base))
                .header("content-type", "text/plain; charset=utf-8")
                .body(text.clone())
                .send()
                .await
                .with_context(|| format!("POST {}/v1/statements", self.base))?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if status == 503 && body.get("error").and_then(|v| v.as_str()) == Some("overloaded") {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            return Ok(Outcome {
                status,
                body,
                latency: start.elapsed(),
            });
        }
    }

    /// Posts many statements with at most `concurrency` in flight, ticking `bar`.
    ///
    /// # Errors
    /// The first network failure.
    pub async fn post_all(
        &self,
        texts: Vec<String>,
        concurrency: usize,
        bar: &ProgressBar,
    ) -> Result<Vec<Outcome>> {
        let outcomes: Vec<Result<Outcome>> = stream::iter(texts)
            .map(|t| {
                let s = self.clone();
                let bar = bar.clone();
                async move {
                    let o = s.post(t).await;
                    bar.inc(1);
                    o
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        outcomes.into_iter().collect()
    }
}

/// Options of `urne demo`.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Number of voters.
    pub voters: usize,
    /// Submissions in flight.
    pub concurrency: usize,
    /// Seed of the authority keys.
    pub seed: String,
    /// Election id wanted. If the log already has an election of that id (the demo
    /// ran before on the same data), the first free `<id>-2`, `<id>-3`, … is used.
    pub election: String,
    /// Spread statement times over this many past hours (needs a log whose time
    /// tolerance covers it: see [`hours_allowed`]); `None` = now.
    pub simulate_hours: Option<u32>,
    /// Show progress bars.
    pub progress: bool,
}

/// What the demo did, for the newcomer to try.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// The election id used (the wanted one, or the first free `<id>-N`).
    pub election: String,
    /// Hours the election was spread over.
    pub hours: u32,
    /// Entries appended.
    pub appended: usize,
    /// Refusals by code (expected ones: the demo tries a few forbidden things).
    pub refused: std::collections::BTreeMap<String, usize>,
    /// Some receipt codes of ballots in the log.
    pub receipts: Vec<String>,
    /// Some voter tags, including one whose credential was reissued by the helpdesk.
    pub voters: Vec<String>,
    /// A voter tag with a helpdesk reissue followed by a ballot.
    pub helpdesk_voter: Option<String>,
}

fn bar(progress: bool, len: usize, msg: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len as u64);
    b.set_style(
        ProgressStyle::with_template("{msg:32} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(msg.to_string());
    b
}

/// Time the demo may take to run, on top of the simulated hours, within a log's
/// time tolerance (the seal is dated `hours` back and must still be accepted).
pub const DEMO_RUN_MARGIN_SECS: i64 = 600;

/// Returns how many past hours an election may be spread over on a log whose time
/// tolerance is `tolerance_secs`: statements dated up to that far back are accepted,
/// minus [`DEMO_RUN_MARGIN_SECS`] for the demo to run.
pub fn hours_allowed(tolerance_secs: i64) -> u32 {
    u32::try_from((tolerance_secs - DEMO_RUN_MARGIN_SECS).max(0) / 3600).unwrap_or(u32::MAX)
}

/// Returns the log's time tolerance as it states it at `/v1/log` (`None` for a log
/// that does not say, such as a mirror).
///
/// # Errors
/// Network failures or a log that does not answer `/v1/log`.
pub async fn log_time_tolerance(base: &str) -> Result<Option<i64>> {
    let (status, info) = Submitter::new(base)?.get_json("/v1/log").await?;
    if status != 200 {
        bail!("{base}/v1/log answered {status}: is it an urne log?");
    }
    let info: urne_client::api::LogInfo =
        serde_json::from_value(info).context("the log's /v1/log")?;
    Ok(info.time_tolerance_secs)
}

/// Returns `wanted` if the log has no election of that id, else the first free
/// `<wanted>-2`, `<wanted>-3`, …: running the demo again on the same log adds a new
/// election instead of failing on `election_exists`.
///
/// # Errors
/// Network failures, or an id that cannot take a suffix.
pub async fn free_election_id(sub: &Submitter, wanted: &str) -> Result<String> {
    for n in 1..10_000u32 {
        let id = if n == 1 {
            wanted.to_string()
        } else {
            format!("{wanted}-{n}")
        };
        if id.len() > 64 {
            bail!("election id {id:?} is longer than 64 characters: choose a shorter --election");
        }
        match sub.get_json(&format!("/v1/elections/{id}")).await? {
            (404, _) => return Ok(id),
            (200, _) => continue,
            (s, v) => bail!("looking up election {id:?}: {s} {v}"),
        }
    }
    bail!("no free election id of the form {wanted}-N: choose another --election")
}

/// Runs the demo scenario against the log at `base`.
///
/// # Errors
/// Network failures, or the log refusing what a valid election does (which is a bug).
pub async fn run_demo(base: &str, opts: &DemoOptions) -> Result<DemoSummary> {
    let keys = DemoKeys::from_seed(&opts.seed)?;
    let sub = Submitter::new(base)?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let id = free_election_id(&sub, &opts.election).await?;
    let now = Time::now().0;
    let hours = opts.simulate_hours.unwrap_or(0);
    let span = i64::from(hours) * 3600;
    let start = now - span;
    // The simulated clock: progress p in 0..=1 of the election maps to a time.
    let clock = |p: f64| Time(start + (p * span as f64) as i64);
    // Lifecycle statements move forward in time (the log refuses one dated at or
    // before the previous one): without simulated hours every reading of the clock
    // is the same instant, so each is dated at least a second after the previous.
    let last_lifecycle = std::cell::Cell::new(i64::MIN);
    let lifecycle = |p: f64| {
        let t = clock(p).0.max(last_lifecycle.get().saturating_add(1));
        last_lifecycle.set(t);
        Time(t)
    };
    // Nothing is dated before the last lifecycle statement: without simulated hours
    // the lifecycle statements are pushed a second apart past the clock, and a ballot
    // dated before the opening or resumption of its voting period is refused
    // (`ballot_backdated`), as are the results that would count it.
    let at = |p: f64| Time(clock(p).0.max(last_lifecycle.get()));
    let election = DemoElection {
        id: id.clone(),
        keys: &keys,
        scrutins: vec!["titulaires-college-1".into(), "suppleants-college-1".into()],
        opens: Time(start - 600),
        closes: Time(now + 3600),
        // Statements are dated up to `span` back: the sealed tolerance covers it (the
        // default one when the demo runs now).
        tolerance: if span == 0 {
            urne_client::rules::DEFAULT_TOLERANCE_SECS as u64
        } else {
            u64::try_from(span + DEMO_RUN_MARGIN_SECS).unwrap_or(u64::MAX)
        },
    };
    let mut summary = DemoSummary {
        election: id,
        hours,
        ..DemoSummary::default()
    };
    let tally = |outcomes: &[Outcome], summary: &mut DemoSummary| {
        for o in outcomes {
            match o.status {
                200 | 201 => summary.appended += 1,
                _ => {
                    *summary
                        .refused
                        .entry(o.error_code().unwrap_or("?").to_string())
                        .or_default() += 1
                }
            }
        }
    };
    let one = |o: Outcome, what: &str| -> Result<Outcome> {
        if o.status != 201 && o.status != 200 {
            bail!("the log refused the {what}: {} {}", o.status, o.body);
        }
        Ok(o)
    };

    // The roll: every voter's tag, committed to (hash of the sorted tags) with its
    // count, so that turnout is measured against the electorate.
    let voters: Vec<Tag> = (0..opts.voters).map(|_| random_tag(&mut rng)).collect();
    let roll = {
        let mut sorted: Vec<String> = voters.iter().map(|v| v.to_string()).collect();
        sorted.sort();
        let mut h = Sha256::new();
        for v in &sorted {
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        (Tag(h.finalize().into()), opts.voters as u64)
    };
    let o = one(
        sub.post(election.seal_with_roll(
            at(0.0),
            "Élections CSE 2026 — ACME (démonstration)",
            Some(roll),
        )?)
        .await?,
        "election",
    )?;
    tally(&[o], &mut summary);

    // Initial credentials, by mail, post and SMS.
    let mut creds: Vec<Tag> = (0..opts.voters).map(|_| random_tag(&mut rng)).collect();
    let channels = [Channel::Mail, Channel::Postal, Channel::Sms];
    let texts = voters
        .iter()
        .zip(&creds)
        .enumerate()
        .map(|(i, (v, c))| {
            election.credential(at(0.02), *v, *c, channels[i % 3], CredentialReason::Initial)
        })
        .collect::<Result<Vec<_>>>()?;
    let b = bar(opts.progress, opts.voters, "credentials (initial)");
    let out = sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    tally(&out, &mut summary);

    let o = one(
        sub.post(election.board(lifecycle(0.05), Body::Open)?)
            .await?,
        "opening",
    )?;
    tally(&[o], &mut summary);

    // First wave of ballots: 40 % of voters, both scrutins.
    let mut voted = vec![false; opts.voters];
    let mut receipts = Vec::new();
    let mut wave = |from: f64,
                    to: f64,
                    share: f64,
                    creds: &[Tag],
                    voted: &mut Vec<bool>,
                    rng: &mut rand::rngs::StdRng|
     -> Result<Vec<String>> {
        let mut texts = Vec::new();
        let n = creds.len();
        for i in 0..n {
            if voted[i] || rng.gen::<f64>() >= share {
                continue;
            }
            voted[i] = true;
            let t = at(from + (to - from) * (i as f64 / n.max(1) as f64));
            for s in &election.scrutins {
                let r = random_tag(rng);
                if receipts.len() < 5 {
                    receipts.push(r.to_string());
                }
                texts.push(election.ballot(t, s, creds[i], r)?);
            }
        }
        Ok(texts)
    };
    let texts = wave(0.06, 0.35, 0.4, &creds, &mut voted, &mut rng)?;
    let b = bar(opts.progress, texts.len(), "ballots (first wave)");
    let out = sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    tally(&out, &mut summary);

    // The leak: credentials were sent to HR managers; all unused ones are reissued,
    // as the board announces (and the log demands: a batch reissue it did not
    // announce is refused).
    let reissued = voted.iter().filter(|v| !**v).count() as u64;
    if reissued > 0 {
        let o = one(
            sub.post(election.announce_reissues(
                at(0.36),
                "platform support",
                "mass reissue of credentials",
                "credentials disclosed to HR managers",
                reissued,
            )?)
            .await?,
            "intervention",
        )?;
        tally(&[o], &mut summary);
    }
    let mut texts = Vec::new();
    for i in 0..opts.voters {
        if !voted[i] {
            let c = random_tag(&mut rng);
            texts.push(election.credential(
                at(0.37),
                voters[i],
                c,
                Channel::Batch,
                CredentialReason::ReissueLeak,
            )?);
            creds[i] = c;
        }
    }
    let b = bar(opts.progress, texts.len(), "credentials (leak reissue)");
    let out = sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    tally(&out, &mut summary);

    // The platform fails: suspension, a ballot refused while suspended, resumption.
    let o = one(
        sub.post(election.board(
            lifecycle(0.40),
            Body::Suspend {
                reason: "platform unavailable (incident 2026-12-03-01)".into(),
            },
        )?)
        .await?,
        "suspension",
    )?;
    tally(&[o], &mut summary);
    if let Some(i) = voted.iter().position(|v| !v) {
        let o = sub
            .post(election.ballot(
                at(0.41),
                &election.scrutins[0],
                creds[i],
                random_tag(&mut rng),
            )?)
            .await?;
        tally(&[o], &mut summary);
    }
    let o = one(
        sub.post(election.board(
            lifecycle(0.45),
            Body::Resume {
                reason: "platform restored, no data lost".into(),
            },
        )?)
        .await?,
        "resumption",
    )?;
    tally(&[o], &mut summary);

    // Impostors: helpdesk reissues, each followed at once by a ballot.
    let mut texts = Vec::new();
    let mut helpdesk = None;
    let not_voted: Vec<usize> = (0..opts.voters)
        .filter(|i| !voted[*i])
        .take((opts.voters / 100).max(1))
        .collect();
    for (k, i) in not_voted.into_iter().enumerate() {
        let c = random_tag(&mut rng);
        let t = at(0.5 + 0.001 * k as f64);
        texts.push(election.credential(
            t,
            voters[i],
            c,
            Channel::Helpdesk,
            CredentialReason::ReissueHelpdesk,
        )?);
        creds[i] = c;
        voted[i] = true;
        helpdesk.get_or_insert(voters[i].to_string());
        texts.push(election.ballot(t, &election.scrutins[0], c, random_tag(&mut rng))?);
    }
    summary.helpdesk_voter = helpdesk;
    // Sequential: each ballot must follow its credential.
    let b = bar(opts.progress, texts.len(), "helpdesk reissues + ballots");
    let out = sub.post_all(texts, 1, &b).await?;
    b.finish();
    tally(&out, &mut summary);

    // Second wave: most of the rest vote with their current credential.
    let texts = wave(0.55, 0.9, 0.7, &creds, &mut voted, &mut rng)?;
    let b = bar(opts.progress, texts.len(), "ballots (second wave)");
    let out = sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    tally(&out, &mut summary);

    let o = one(
        sub.post(election.board(lifecycle(0.95), Body::Close)?)
            .await?,
        "closing",
    )?;
    tally(&[o], &mut summary);
    // A ballot after closing is refused.
    let o = sub
        .post(election.ballot(
            at(0.96),
            &election.scrutins[0],
            creds[0],
            random_tag(&mut rng),
        )?)
        .await?;
    tally(&[o], &mut summary);

    let per_scrutin = voted.iter().filter(|v| **v).count() as u64;
    for (j, s) in election.scrutins.iter().enumerate() {
        let ballots = if j == 0 {
            per_scrutin
        } else {
            per_scrutin - (opts.voters / 100).max(1) as u64
        };
        let digest = Tag(Sha256::digest(format!("results of {s}").as_bytes()).into());
        let o = one(
            sub.post(election.board(
                lifecycle(1.0),
                Body::Results {
                    scrutin: s.clone(),
                    ballots,
                    digest,
                },
            )?)
            .await?,
            "results",
        )?;
        tally(&[o], &mut summary);
    }
    summary.receipts = receipts;
    summary.voters = voters.iter().take(3).map(|v| v.to_string()).collect();
    Ok(summary)
}

/// Options of `urne load`.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Ballots to send (as many voters get credentials first).
    pub ballots: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// Target rate (statements per second); `None` = as fast as the log answers.
    pub rate: Option<f64>,
    /// Seed of the authority keys (the board key must be allowed by the log).
    pub seed: String,
    /// Show progress bars.
    pub progress: bool,
    /// The election's sealed time tolerance, seconds (the log must allow it): a long
    /// run on a slow machine sends pre-signed statements later than 300 s after they
    /// were signed.
    pub tolerance_secs: u64,
    /// Where to write the receipt codes of the appended ballots (hex, one a line), for
    /// [`run_receipt_load`].
    pub receipts_out: Option<std::path::PathBuf>,
}

/// Results of a load run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// Ballots sent.
    pub sent: usize,
    /// Ballots appended (201).
    pub appended: usize,
    /// Other answers.
    pub failed: usize,
    /// Wall time of the ballot phase, seconds.
    pub seconds: f64,
    /// Appended ballots per second.
    pub per_second: f64,
    /// Latency percentiles in milliseconds, from scheduled send to acknowledgement.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

/// Runs the load generator: seals an election, issues `ballots` credentials, then
/// fires pre-signed ballots (real Ed25519 signatures, each checked by the log with
/// the rules) and measures throughput and latency.
///
/// # Errors
/// Network failures or a setup statement refused.
pub async fn run_load(base: &str, opts: &LoadOptions) -> Result<LoadReport> {
    let keys = DemoKeys::from_seed(&opts.seed)?;
    let sub = Submitter::new(base)?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let now = Time::now();
    let election = DemoElection {
        id: format!("load-{:08x}", rng.gen::<u32>()),
        keys: &keys,
        scrutins: vec!["s1".into()],
        opens: Time(now.0 - 60),
        closes: Time(now.0 + 86_400),
        tolerance: opts.tolerance_secs,
    };
    let o = sub.post(election.seal(now, "load test")?).await?;
    if o.status != 201 {
        bail!("sealing the load election was refused: {} {} (is the demo board key allowed? `urne demo --print-board-key`)", o.status, o.body);
    }
    let creds: Vec<Tag> = (0..opts.ballots).map(|_| random_tag(&mut rng)).collect();
    let texts: Vec<String> = creds
        .iter()
        .map(|c| {
            election.credential(
                Time::now(),
                random_tag(&mut rand::thread_rng()),
                *c,
                Channel::Batch,
                CredentialReason::Initial,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let b = bar(opts.progress, texts.len(), "credentials");
    sub.post_all(texts, opts.concurrency, &b).await?;
    b.finish();
    let o = sub.post(election.board(Time::now(), Body::Open)?).await?;
    if o.status != 201 {
        bail!("opening the load election was refused: {}", o.body);
    }
    // Pre-sign every ballot so the generator measures the log, not its own signing.
    let t = Time::now();
    let receipts: Vec<Tag> = creds.iter().map(|_| random_tag(&mut rng)).collect();
    let ballots: Vec<String> = creds
        .iter()
        .zip(&receipts)
        .map(|(c, r)| election.ballot(t, "s1", *c, *r))
        .collect::<Result<Vec<_>>>()?;
    let b = bar(opts.progress, ballots.len(), "ballots");
    let start = Instant::now();
    let interval = opts.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let results: Vec<Result<(usize, Outcome)>> = stream::iter(ballots.into_iter().enumerate())
        .map(|(i, text)| {
            let s = sub.clone();
            let b = b.clone();
            async move {
                let scheduled = match interval {
                    Some(iv) => start + iv * i as u32,
                    None => Instant::now(),
                };
                tokio::time::sleep_until(scheduled.into()).await;
                let mut o = s.post(text).await?;
                o.latency = scheduled.elapsed();
                b.inc(1);
                Ok((i, o))
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    b.finish();
    let outcomes: Vec<(usize, Outcome)> = results.into_iter().collect::<Result<_>>()?;
    if let Some(path) = &opts.receipts_out {
        let lines: String = outcomes
            .iter()
            .filter(|(_, o)| o.status == 201)
            .map(|(i, _)| format!("{}\n", receipts[*i]))
            .collect();
        std::fs::write(path, lines)
            .with_context(|| format!("writing the receipts to {}", path.display()))?;
    }
    let mut lat: Vec<f64> = outcomes
        .iter()
        .map(|(_, o)| o)
        .filter(|o| o.status == 201)
        .map(|o| o.latency.as_secs_f64() * 1000.0)
        .collect();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lat.is_empty() {
            0.0
        } else {
            lat[((lat.len() - 1) as f64 * p).round() as usize]
        }
    };
    let appended = lat.len();
    Ok(LoadReport {
        sent: outcomes.len(),
        appended,
        failed: outcomes.len() - appended,
        seconds,
        per_second: appended as f64 / seconds,
        p50_ms: pct(0.5),
        p90_ms: pct(0.9),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
    })
}

/// Results of a proof-serving run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProofLoadReport {
    /// Proofs fetched and verified against the log's checkpoint.
    pub proofs: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Proofs per second.
    pub per_second: f64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// Fetches `count` inclusion proofs of random leaves with `concurrency` requests in
/// flight (`GET /v1/proof/inclusion?index=&size=`), checking a sample of them against
/// the signed checkpoint, and measures proofs served per second.
///
/// # Errors
/// Network failures, an empty log, or a proof that does not verify.
pub async fn run_proof_load(
    base: &str,
    count: usize,
    concurrency: usize,
) -> Result<ProofLoadReport> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let base = base.trim_end_matches('/').to_string();
    let info: urne_client::api::LogInfo = http
        .get(format!("{base}/v1/log"))
        .send()
        .await?
        .json()
        .await?;
    let key = urne_client::note::VerifierKey::parse(&info.verifier_key)
        .map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let cp_text = http
        .get(format!("{base}/checkpoint"))
        .send()
        .await?
        .text()
        .await?;
    let cp = urne_client::checkpoint::open_checkpoint(
        cp_text.as_bytes(),
        &key,
        &urne_client::checkpoint::WitnessPolicy::none(),
    )
    .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))?
    .checkpoint;
    if cp.size == 0 {
        bail!("the log is empty");
    }
    let size = cp.size;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let indexes: Vec<u64> = (0..count).map(|_| rng.gen_range(0..size)).collect();
    let start = Instant::now();
    let results: Vec<Result<(Duration, bool)>> = stream::iter(indexes.into_iter().enumerate())
        .map(|(k, i)| {
            let http = http.clone();
            let url = format!("{base}/v1/proof/inclusion?index={i}&size={size}");
            let root = cp.root;
            async move {
                let t = Instant::now();
                let v: urne_client::api::InclusionAnswer =
                    http.get(url).send().await?.json().await?;
                let lat = t.elapsed();
                // Verify one in sixteen so the generator does not become the bottleneck.
                let ok = if k % 16 == 0 {
                    let leaf = v
                        .leaf_hash
                        .as_deref()
                        .and_then(|h| urne_client::tree::hash_from_hex(h).ok());
                    let proof = urne_client::api::hashes_from_base64(&v.inclusion_proof).ok();
                    match (leaf, proof) {
                        (Some(l), Some(p)) => {
                            urne_client::tree::verify_inclusion(i, size, &l, &p, &root).is_ok()
                        }
                        _ => false,
                    }
                } else {
                    true
                };
                Ok((lat, ok))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(results.len());
    for r in results {
        let (l, ok) = r?;
        if !ok {
            bail!("a proof served by the log does not verify");
        }
        lat.push(l.as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    Ok(ProofLoadReport {
        proofs: lat.len(),
        seconds,
        per_second: lat.len() as f64 / seconds,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}

/// The verification storm: fetches `count` receipts (`GET /v1/receipts/<code>`, the
/// ballot found by its receipt code, with its inclusion proof, signed checkpoint and
/// tlog-proof) drawn at random from `codes`, with `concurrency` requests in flight,
/// and measures receipts proved per second. One answer in sixteen is verified as a
/// voter's client does (the checkpoint's signature under the log key, the entry's
/// inclusion proof); every answer must name the receipt asked for.
///
/// # Errors
/// Network failures, no codes, a receipt not found, or a proof that does not verify.
pub async fn run_receipt_load(
    base: &str,
    codes: &[String],
    count: usize,
    concurrency: usize,
) -> Result<ProofLoadReport> {
    if codes.is_empty() {
        bail!("no receipt codes to look up");
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    let base = base.trim_end_matches('/').to_string();
    let info: urne_client::api::LogInfo = http
        .get(format!("{base}/v1/log"))
        .send()
        .await?
        .json()
        .await?;
    let key = urne_client::note::VerifierKey::parse(&info.verifier_key)
        .map_err(|e| anyhow::anyhow!("log key: {e}"))?;
    let mut rng = rand::rngs::StdRng::from_entropy();
    let picks: Vec<&String> = (0..count)
        .map(|_| &codes[rng.gen_range(0..codes.len())])
        .collect();
    let start = Instant::now();
    let results: Vec<Result<Duration>> = stream::iter(picks.into_iter().enumerate())
        .map(|(k, code)| {
            let http = http.clone();
            let url = format!("{base}/v1/receipts/{code}");
            let key = &key;
            async move {
                let t = Instant::now();
                let resp = http.get(url).send().await?;
                if resp.status() != 200 {
                    bail!("receipt {code}: HTTP {}", resp.status());
                }
                let a: urne_client::api::ReceiptAnswer = resp.json().await?;
                let lat = t.elapsed();
                if &a.receipt != code {
                    bail!("asked for receipt {code}, answered {}", a.receipt);
                }
                if k % 16 == 0 {
                    let proof = urne_client::checkpoint::TlogProof::parse(a.tlog_proof.as_bytes())
                        .map_err(|e| anyhow::anyhow!("receipt {code}: tlog-proof: {e}"))?;
                    let record = urne_client::tree::record_hash(a.entry.entry.as_bytes());
                    proof
                        .verify(
                            &record,
                            key,
                            &urne_client::checkpoint::WitnessPolicy::none(),
                        )
                        .map_err(|e| anyhow::anyhow!("receipt {code}: {e}"))?;
                }
                Ok(lat)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = start.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(results.len());
    for r in results {
        lat.push(r?.as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    Ok(ProofLoadReport {
        proofs: lat.len(),
        seconds,
        per_second: lat.len() as f64 / seconds,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
    })
}
