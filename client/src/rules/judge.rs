//! Judging one statement: [`check`], a short dispatcher over one function per
//! statement family.
//!
//! Every statement on an existing election first passes [`admit`] (the election
//! exists, is not void, is judged by rules the log still appends under, the text is
//! new, the signatures verify, the time fits, the automatic seal allows it); then its
//! family decides: the election's genesis ([`seal_election`]), its lifecycle
//! ([`lifecycle`]: `open`, `suspend`, `resume`, `close`, `void`, `results`), protocol
//! events ([`protocol_event`]), interventions ([`intervention`]), credentials
//! ([`credential`], [`revoke`]) and ballots ([`ballot`]). The order of the checks is
//! the order of the refusals a party sees, so it is the same everywhere.
//! Owns no type: the state model, refusal codes and signatures are in [`super`].

use super::{
    get, refuse, rules_of, verify_signatures_under, Closed, Context, CredentialState,
    CredentialStatus, Effects, ElectionState, Phase, Refusal, RefusalCode, StateKey, StateValue,
    StateView, Subject, Verified, VoterState, BOARD_SIGNING_WINDOW_SECS, RULES_VERSION,
};
use crate::statement::{
    required_signers, Body, Channel, CredentialReason, ElectionBody, Revote, SignedStatement,
    Statement, Tag, Time,
};
use std::collections::BTreeMap;

/// Checks a statement against the rules and the current state; returns its effects
/// or a refusal. `verified` is the result of [`super::verify_signatures`] against this
/// election's keys (the statement's own keys for `election`); `None` verifies here.
///
/// # Errors
/// A [`Refusal`] with its stable code.
pub fn check(
    state: &impl StateView,
    stmt: &SignedStatement,
    verified: Option<&Verified>,
    ctx: &Context,
) -> Result<Effects, Refusal> {
    let st = &stmt.statement;
    let ekey = StateKey::Election(st.election.clone());
    let existing = match get(state, &ekey)? {
        Some(StateValue::Election(e)) => Some(*e),
        Some(_) => {
            return Err(refuse(
                RefusalCode::StateUnavailable,
                "election state has the wrong type",
            ))
        }
        None => None,
    };
    if let Body::Election(e) = &st.body {
        return seal_election(stmt, e, existing.is_some(), verified, ctx, ekey);
    }
    let mut a = admit(state, stmt, existing, verified, ctx)?;
    match &st.body {
        Body::Election(_) => unreachable!("handled above"),
        Body::Open
        | Body::Suspend { .. }
        | Body::Resume { .. }
        | Body::Close
        | Body::Void { .. }
        | Body::Results { .. } => lifecycle(&mut a, st, ctx)?,
        Body::Event {
            protocol, position, ..
        } => protocol_event(&mut a.es, protocol, *position)?,
        Body::Intervention { reissues, .. } => intervention(&mut a, *reissues),
        Body::Credential { .. } => credential(state, &mut a, st, ctx)?,
        Body::Revoke { credential, .. } => revoke(state, &mut a, &st.election, credential)?,
        Body::Ballot { .. } => ballot(state, &mut a, st, ctx)?,
    }
    let Admitted {
        mut es,
        mut effects,
        ..
    } = a;
    if st.time > es.last_time {
        es.last_time = st.time;
    }
    effects
        .writes
        .push((ekey, StateValue::Election(Box::new(es))));
    effects
        .subjects
        .push(Subject::Election(st.election.clone()));
    Ok(effects)
}

/// An existing election a statement was admitted to, with the effects so far.
struct Admitted {
    /// The election's state, updated by the statement's family.
    es: ElectionState,
    /// The election is judged by rules 2 ([`RULES_VERSION`]).
    v2: bool,
    /// The effects so far (the statement's identity under rules 2).
    effects: Effects,
}

/// Seals an election (its `election` statement, the genesis): the id is new, the
/// tolerance is sealed (live log) and within the log's maximum, the statement's own
/// keys sign it, and its time fits.
fn seal_election(
    stmt: &SignedStatement,
    e: &ElectionBody,
    exists: bool,
    verified: Option<&Verified>,
    ctx: &Context,
    ekey: StateKey,
) -> Result<Effects, Refusal> {
    let st = &stmt.statement;
    let id = &st.election;
    let mut effects = Effects::default();
    if exists {
        return Err(refuse(
            RefusalCode::ElectionExists,
            format!("election {id:?} is already sealed in this log"),
        ));
    }
    let rules = rules_of(e);
    if ctx.now.is_some() && rules < RULES_VERSION {
        return Err(refuse(
            RefusalCode::ToleranceMissing,
            "an election seals its time tolerance (`tolerance <secs>` after `quorum`)",
        ));
    }
    // Sealed values are bounded by what the log announces only when it appends:
    // history is judged with what was sealed, whatever the log says today.
    let tolerance = e.tolerance.map(|t| t as i64);
    if let (Some(t), Some(max)) = (tolerance, ctx.max_tolerance_secs) {
        if t > max {
            return Err(refuse(
                RefusalCode::ToleranceOutOfBounds,
                format!("tolerance {t} s exceeds this log's maximum {max} s"),
            ));
        }
    }
    if verified.is_none() {
        verify_signatures_under(stmt, &e.authorities, e.quorum, rules)?;
    }
    check_time(
        st.time,
        None,
        tolerance.unwrap_or(ctx.tolerance_secs),
        ctx,
        rules >= RULES_VERSION,
    )?;
    if rules >= RULES_VERSION {
        effects.writes.push((
            StateKey::Statement(stmt.text_hash()),
            StateValue::Statement { index: ctx.index },
        ));
    }
    let es = ElectionState {
        id: id.clone(),
        phase: Phase::Sealed,
        authorities: e.authorities.clone(),
        quorum: e.quorum,
        scrutins: e.scrutins.clone(),
        opens: e.opens,
        closes: e.closes,
        last_time: st.time,
        results_published: Vec::new(),
        sealed_at_index: ctx.index,
        rules,
        tolerance_secs: tolerance,
        last_lifecycle_time: None,
        batch_reissues_announced: 0,
        batch_reissues_done: 0,
        grace_secs: e.grace.map(|g| g as i64),
        revote: e.revote,
        closed: None,
        ballots_counted: (rules >= RULES_VERSION).then(BTreeMap::new),
        ballots_superseded: 0,
        protocol_events: BTreeMap::new(),
    };
    effects
        .writes
        .push((ekey, StateValue::Election(Box::new(es))));
    effects.subjects.push(Subject::Election(id.clone()));
    Ok(effects)
}

/// Admits a statement to its existing election: what every statement but `election`
/// passes, in this order (the order of the refusals): the election exists and is not
/// void, a live log appends only to rules 2 elections, the signed text is new (rules
/// 2), the signatures verify, the time fits, and the automatic seal lets it in.
fn admit(
    state: &impl StateView,
    stmt: &SignedStatement,
    existing: Option<ElectionState>,
    verified: Option<&Verified>,
    ctx: &Context,
) -> Result<Admitted, Refusal> {
    let st = &stmt.statement;
    let id = &st.election;
    let mut effects = Effects::default();
    let es = existing.ok_or_else(|| {
        refuse(
            RefusalCode::UnknownElection,
            format!("no election {id:?} in this log"),
        )
    })?;
    if es.phase == Phase::Void {
        return Err(refuse(
            RefusalCode::ElectionVoid,
            format!("election {id:?} was declared void: nothing more is accepted"),
        ));
    }
    let v2 = es.rules >= RULES_VERSION;
    if ctx.now.is_some() && !v2 {
        return Err(refuse(
            RefusalCode::LegacyElection,
            format!(
                "election {id:?} was sealed under rules {}: this log appends nothing more to it (its history stays readable)",
                es.rules
            ),
        ));
    }
    if v2 {
        // Identity is the signed text: the same text again is the same statement.
        let tkey = StateKey::Statement(stmt.text_hash());
        if let Some(StateValue::Statement { index }) = get(state, &tkey)? {
            return Err(refuse(
                RefusalCode::DuplicateStatement,
                format!("this statement's text is already entry {index}"),
            ));
        }
        effects
            .writes
            .push((tkey, StateValue::Statement { index: ctx.index }));
    }
    if verified.is_none() {
        verify_signatures_under(stmt, &es.authorities, es.quorum, es.rules)?;
    }
    // Author time and log time: a statement co-signed by the board quorum says when
    // the board wrote it, possibly hours before it reaches the log; the others are
    // dated within the tolerance of the log's clock and of the election's latest
    // entry.
    let board = v2 && required_signers(st).1;
    check_time(
        st.time,
        (!board).then_some(es.last_time),
        es.tolerance(ctx.tolerance_secs),
        ctx,
        board,
    )?;
    // The automatic seal (R.211-572): once the close's time plus the sealed grace is
    // past — by the statement's own time, or by the log's clock when it appends —
    // the urn is frozen: only counting statements are accepted.
    if let (true, Some(deadline)) = (v2, es.sealed_after()) {
        let counting = matches!(st.body, Body::Results { .. } | Body::Event { .. });
        let past = st.time > deadline || ctx.now.is_some_and(|now| now > deadline);
        if !counting && past {
            return Err(refuse(
                RefusalCode::ElectionSealed,
                format!(
                    "election {id:?} was sealed at {deadline} (its close plus {} s): only results and protocol events are accepted",
                    es.grace_secs.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(Admitted { es, v2, effects })
}

/// Judges a lifecycle statement (`open`, `suspend`, `resume`, `close`, `void`,
/// `results`): dated after the previous one (rules 2), then the phase transition.
fn lifecycle(a: &mut Admitted, st: &Statement, ctx: &Context) -> Result<(), Refusal> {
    let es = &mut a.es;
    if a.v2 {
        if let Some(prev) = es.last_lifecycle_time {
            if st.time <= prev {
                return Err(refuse(
                    RefusalCode::LifecycleOutOfOrder,
                    format!(
                        "{} dated {} is not after the election's previous lifecycle statement ({prev})",
                        st.statement_type(),
                        st.time
                    ),
                ));
            }
        }
        es.last_lifecycle_time = Some(st.time);
    }
    match &st.body {
        Body::Open => transition(st, &[Phase::Sealed], Phase::Open, es),
        Body::Suspend { .. } => transition(st, &[Phase::Open], Phase::Suspended, es),
        Body::Resume { .. } => transition(st, &[Phase::Suspended], Phase::Open, es),
        Body::Close => {
            transition(st, &[Phase::Open, Phase::Suspended], Phase::Closed, es)?;
            es.closed = Some(Closed {
                index: ctx.index,
                time: st.time,
            });
            Ok(())
        }
        Body::Void { .. } => {
            if !es.results_published.is_empty() {
                return Err(refuse(
                    RefusalCode::InvalidTransition,
                    "results were published: the election can no longer be declared void",
                ));
            }
            es.phase = Phase::Void;
            Ok(())
        }
        Body::Results {
            scrutin, ballots, ..
        } => results(es, &st.election, scrutin, *ballots),
        _ => unreachable!("lifecycle is called for lifecycle statements only"),
    }
}

/// Moves the election from one of the phases `from` to `to`.
fn transition(
    st: &Statement,
    from: &[Phase],
    to: Phase,
    es: &mut ElectionState,
) -> Result<(), Refusal> {
    if !from.contains(&es.phase) {
        return Err(refuse(
            RefusalCode::InvalidTransition,
            format!(
                "{} is not allowed while the election is {:?}",
                st.statement_type(),
                es.phase
            ),
        ));
    }
    es.phase = to;
    Ok(())
}

/// Checks that the election has the scrutin `s`.
fn scrutin_exists(es: &ElectionState, id: &str, s: &str) -> Result<(), Refusal> {
    if es.scrutins.iter().any(|x| x == s) {
        Ok(())
    } else {
        Err(refuse(
            RefusalCode::UnknownScrutin,
            format!("election {id:?} has no scrutin {s:?}"),
        ))
    }
}

/// Judges `results`: after closing, once per scrutin, stating the ballots the log
/// counted (rules 2).
fn results(es: &mut ElectionState, id: &str, scrutin: &str, ballots: u64) -> Result<(), Refusal> {
    if es.phase != Phase::Closed {
        return Err(refuse(
            RefusalCode::InvalidTransition,
            format!(
                "results are published after closing, the election is {:?}",
                es.phase
            ),
        ));
    }
    scrutin_exists(es, id, scrutin)?;
    if es.results_published.iter().any(|s| s == scrutin) {
        return Err(refuse(
            RefusalCode::ResultsExists,
            format!("results of {scrutin:?} were already published"),
        ));
    }
    if let Some(counted) = &es.ballots_counted {
        let n = counted.get(scrutin).copied().unwrap_or(0);
        if ballots != n {
            return Err(refuse(
                RefusalCode::ResultsCountMismatch,
                format!(
                    "results of {scrutin:?} state {ballots} ballots, the log holds {n} counted ballots for it"
                ),
            ));
        }
    }
    es.results_published.push(scrutin.to_string());
    Ok(())
}

/// Judges a protocol `event`: the next position of its protocol's chain.
fn protocol_event(es: &mut ElectionState, protocol: &str, position: u64) -> Result<(), Refusal> {
    let next = es.protocol_events.get(protocol).copied().unwrap_or(0);
    if position != next {
        return Err(refuse(
            RefusalCode::EventOutOfOrder,
            format!(
                "{protocol} event at position {position}: the next one of this election's {protocol} chain is {next}"
            ),
        ));
    }
    es.protocol_events.insert(protocol.to_string(), next + 1);
    Ok(())
}

/// Records an `intervention`; one announcing batch reissues (rules 2) raises the
/// number of batch reissues allowed.
fn intervention(a: &mut Admitted, reissues: Option<u64>) {
    if let (true, Some(n)) = (a.v2, reissues) {
        a.es.batch_reissues_announced = a.es.batch_reissues_announced.saturating_add(n);
    }
}

/// Returns the credential `credential` of election `id` if it is active: refused as
/// `credential_unknown` if never issued there, `credential_revoked` otherwise
/// (`status_verb` words the status in the refusal: "is already" or "was").
fn active_credential(
    state: &impl StateView,
    id: &str,
    credential: &Tag,
    status_verb: &str,
) -> Result<(StateKey, CredentialState), Refusal> {
    let ckey = StateKey::Credential {
        election: id.to_string(),
        credential: *credential,
    };
    let Some(StateValue::Credential(c)) = get(state, &ckey)? else {
        return Err(refuse(
            RefusalCode::CredentialUnknown,
            format!("credential {credential} was never issued in {id:?}"),
        ));
    };
    if c.status != CredentialStatus::Active {
        return Err(refuse(
            RefusalCode::CredentialRevoked,
            format!("credential {credential} {status_verb} {:?}", c.status),
        ));
    }
    Ok((ckey, c))
}

/// Judges a `credential` (issue or reissue): before closing, a new credential tag, a
/// reason that says what the state says (rules 2), an announced batch reissue (rules
/// 2); the voter's previous credential is replaced.
fn credential(
    state: &impl StateView,
    a: &mut Admitted,
    st: &Statement,
    ctx: &Context,
) -> Result<(), Refusal> {
    let Body::Credential {
        voter,
        credential,
        channel,
        reason,
    } = &st.body
    else {
        unreachable!("credential is called for credential statements only")
    };
    let (id, es, v2, effects) = (&st.election, &mut a.es, a.v2, &mut a.effects);
    if es.phase == Phase::Closed {
        return Err(refuse(
            RefusalCode::InvalidTransition,
            "no credential is issued after the ballot closed",
        ));
    }
    let ckey = StateKey::Credential {
        election: id.clone(),
        credential: *credential,
    };
    if get(state, &ckey)?.is_some() {
        return Err(refuse(
            RefusalCode::CredentialExists,
            format!("credential {credential} was already issued"),
        ));
    }
    let vkey = StateKey::Voter {
        election: id.clone(),
        voter: *voter,
    };
    let previous = get(state, &vkey)?;
    let reissue = matches!(previous, Some(StateValue::Voter(_)));
    if v2 && reissue == (*reason == CredentialReason::Initial) {
        return Err(refuse(
            RefusalCode::CredentialReasonMismatch,
            if reissue {
                format!("voter {voter} already has a credential in {id:?}: this is a reissue, not `initial`")
            } else {
                format!("voter {voter} has no credential in {id:?}: the first one is `initial`, not {reason}")
            },
        ));
    }
    if v2 && reissue && (*channel == Channel::Batch || *reason == CredentialReason::ReissueLeak) {
        if es.batch_reissues_done >= es.batch_reissues_announced {
            return Err(refuse(
                RefusalCode::ReissueNotAnnounced,
                format!(
                    "a batch reissue needs a board intervention announcing it (`reissues <n>`): {} announced, {} done",
                    es.batch_reissues_announced, es.batch_reissues_done
                ),
            ));
        }
        es.batch_reissues_done += 1;
    }
    effects.reissue = reissue;
    let issued = match previous {
        Some(StateValue::Voter(v)) => {
            // A new credential replaces the voter's current one.
            let old = StateKey::Credential {
                election: id.clone(),
                credential: v.current_credential,
            };
            if let Some(StateValue::Credential(mut c)) = get(state, &old)? {
                if c.status == CredentialStatus::Active {
                    c.status = CredentialStatus::Replaced;
                    effects.writes.push((old, StateValue::Credential(c)));
                }
            }
            v.credentials_issued + 1
        }
        _ => 1,
    };
    effects.writes.push((
        ckey,
        StateValue::Credential(CredentialState {
            voter: *voter,
            status: CredentialStatus::Active,
            issued_at_index: ctx.index,
            channel: *channel,
            reason: *reason,
        }),
    ));
    effects.writes.push((
        vkey,
        StateValue::Voter(VoterState {
            current_credential: *credential,
            credentials_issued: issued,
        }),
    ));
    effects
        .subjects
        .extend([Subject::Voter(*voter), Subject::Credential(*credential)]);
    Ok(())
}

/// Judges a `revoke`: the credential is active.
fn revoke(
    state: &impl StateView,
    a: &mut Admitted,
    id: &str,
    credential: &Tag,
) -> Result<(), Refusal> {
    let (ckey, mut c) = active_credential(state, id, credential, "is already")?;
    c.status = CredentialStatus::Revoked;
    a.effects
        .subjects
        .extend([Subject::Voter(c.voter), Subject::Credential(*credential)]);
    a.effects.writes.push((ckey, StateValue::Credential(c)));
    Ok(())
}

/// Judges a `ballot`: the ballot is open, the ballot is dated in the current voting
/// period (rules 2) and the schedule, the scrutin exists, the credential is active,
/// the voter has not voted (unless `revote last`), the receipt is new.
fn ballot(
    state: &impl StateView,
    a: &mut Admitted,
    st: &Statement,
    ctx: &Context,
) -> Result<(), Refusal> {
    let Body::Ballot {
        scrutin,
        credential,
        receipt,
    } = &st.body
    else {
        unreachable!("ballot is called for ballot statements only")
    };
    let (id, es, v2, effects) = (&st.election, &mut a.es, a.v2, &mut a.effects);
    match es.phase {
        Phase::Open => {}
        Phase::Sealed => {
            return Err(refuse(
                RefusalCode::BallotBeforeOpen,
                "the ballot is not open yet",
            ))
        }
        Phase::Suspended => {
            return Err(refuse(
                RefusalCode::BallotWhileSuspended,
                "the ballot is suspended",
            ))
        }
        Phase::Closed => {
            return Err(refuse(
                RefusalCode::BallotAfterClose,
                "the ballot is closed",
            ))
        }
        Phase::Void => unreachable!("refused by admit"),
    }
    // A ballot is dated inside the voting period it is appended in: after the
    // `open` or `resume` that began it (the phase says which period the log
    // is in when it appends; the time says the ballot was cast in it).
    if let (true, Some(began)) = (v2, es.last_lifecycle_time) {
        if st.time < began {
            return Err(refuse(
                RefusalCode::BallotBackdated,
                format!(
                    "ballot dated {} is before the open or resume of the current voting period ({began})",
                    st.time
                ),
            ));
        }
    }
    if st.time < es.opens || st.time > es.closes {
        return Err(refuse(
            RefusalCode::BallotOutsideSchedule,
            format!(
                "{} is outside the schedule {}..{}",
                st.time, es.opens, es.closes
            ),
        ));
    }
    scrutin_exists(es, id, scrutin)?;
    let (_, c) = active_credential(state, id, credential, "was")?;
    let voted = StateKey::Voted {
        election: id.clone(),
        scrutin: scrutin.clone(),
        voter: c.voter,
    };
    let previous = match get(state, &voted)? {
        Some(StateValue::Voted {
            index,
            receipt: prev,
        }) => {
            if !v2 || es.revote != Revote::Last {
                return Err(refuse(
                    RefusalCode::AlreadyVoted,
                    format!("this voter already voted in {scrutin:?} (entry {index})"),
                ));
            }
            Some(prev)
        }
        _ => None,
    };
    let rkey = StateKey::Receipt {
        election: id.clone(),
        receipt: *receipt,
    };
    if get(state, &rkey)?.is_some() {
        return Err(refuse(
            RefusalCode::DuplicateReceipt,
            format!("receipt {receipt} was already used"),
        ));
    }
    match previous {
        // `revote last`: the voter's previous ballot stays in the log, marked
        // superseded by this one, and is no longer counted.
        Some(prev) => {
            es.ballots_superseded += 1;
            if let Some(prev) = prev {
                let pkey = StateKey::Receipt {
                    election: id.clone(),
                    receipt: prev,
                };
                if let Some(StateValue::Receipt { index, .. }) = get(state, &pkey)? {
                    effects.writes.push((
                        pkey,
                        StateValue::Receipt {
                            index,
                            superseded_by: Some(ctx.index),
                        },
                    ));
                }
                effects.subjects.push(Subject::Receipt(prev));
            }
        }
        None => {
            if let Some(counted) = es.ballots_counted.as_mut() {
                *counted.entry(scrutin.clone()).or_insert(0) += 1;
            }
        }
    }
    effects.writes.push((
        voted,
        StateValue::Voted {
            index: ctx.index,
            receipt: Some(*receipt),
        },
    ));
    effects.writes.push((
        rkey,
        StateValue::Receipt {
            index: ctx.index,
            superseded_by: None,
        },
    ));
    effects.subjects.extend([
        Subject::Receipt(*receipt),
        Subject::Credential(*credential),
        Subject::Voter(c.voter),
    ]);
    Ok(())
}

/// Checks a statement's (author's) time against the log's clock and the election's
/// previous entry. `board` is a statement the board quorum co-signs under rules 2:
/// it may be dated up to [`BOARD_SIGNING_WINDOW_SECS`] before the log's clock (its
/// members sign over hours), never after it by more than the tolerance, and it is
/// not held to the election's latest entry (lifecycle statements are ordered among
/// themselves instead: `lifecycle_out_of_order`).
fn check_time(
    time: Time,
    last: Option<Time>,
    tolerance: i64,
    ctx: &Context,
    board: bool,
) -> Result<(), Refusal> {
    if let (Some(now), true) = (ctx.now, board) {
        let window = BOARD_SIGNING_WINDOW_SECS.max(tolerance);
        if time.0 > now.0.saturating_add(tolerance) || time.0 < now.0.saturating_sub(window) {
            return Err(refuse(
                RefusalCode::TimeSkew,
                format!(
                    "time {time} of a statement co-signed by the board must be at most {window} s before and {tolerance} s after the log's clock {now}"
                ),
            ));
        }
        return Ok(());
    }
    if let Some(now) = ctx.now {
        if (time.0 - now.0).abs() > tolerance {
            return Err(refuse(
                RefusalCode::TimeSkew,
                format!("time {time} is more than {tolerance} s from the log's clock {now}"),
            ));
        }
    }
    if let Some(last) = last {
        if time.0 < last.0 - tolerance {
            return Err(refuse(
                RefusalCode::TimeSkew,
                format!(
                    "time {time} is more than {tolerance} s before the election's previous entry ({last})"
                ),
            ));
        }
    }
    Ok(())
}
