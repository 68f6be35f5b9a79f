//! The scenario of `urne demo`: a simulated election against a log.
//!
//! Owns: the story (credentials for every voter, a leak and its announced mass
//! reissue, a suspension and its resumption, helpdesk reissues followed by ballots,
//! results), its schedule over simulated past hours within the log's time tolerance,
//! and the summary a newcomer follows in a browser.
//! Does not own: any rule (the log decides; the demo reports what it said), the keys
//! and statement builders (`urne_client::test_kit`), the HTTP ([`crate::submit`]).

use crate::submit::{bar, Outcome, Submitter};
use anyhow::{bail, Context as _, Result};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use urne_client::statement::{Body, Channel, CredentialReason, Tag, Time};
use urne_client::test_kit::{random_tag, DemoElection, DemoKeys};

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
