//! The election rules, as a pure state machine.
//!
//! Owns: which statements an election accepts, given its state: signatures by the
//! right role (and the board quorum for lifecycle statements), times, lifecycle
//! transitions, credentials and ballots; the state model (typed keys and values
//! behind [`StateView`]) and the effects of an accepted statement; the stable refusal
//! codes. The log server runs this before it appends (state in RocksDB), and every
//! monitor re-runs it over the whole log (state in memory): same code, same verdicts.
//! Does not own: storage, ordering, or anything about the tree.
//!
//! The state holds tags and ids only: no personal data, nothing linking a tag to a
//! person.

use crate::note::VerifierKey;
use crate::statement::{
    Body, Channel, CredentialReason, Role, SignedStatement, StatementError, StatementType, Tag,
    Time,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default tolerance between a statement's time and the log's clock (seconds).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// The stable codes of refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// Not a signed note.
    Malformed,
    /// Not in canonical form.
    NotCanonical,
    /// Over the size limit.
    TooLarge,
    /// Unknown statement type.
    UnknownType,
    /// A field is missing or malformed.
    BadField,
    /// A signature by a key of the election does not verify, or no key of the
    /// election signed.
    BadSignature,
    /// Validly signed, but by a key of a role that may not make this statement.
    WrongRole,
    /// Fewer valid board signatures than the election's quorum.
    QuorumNotMet,
    /// No such election.
    UnknownElection,
    /// An `election` statement for an id that exists.
    ElectionExists,
    /// The election was declared void: nothing more is accepted.
    ElectionVoid,
    /// A lifecycle statement not allowed in the current phase.
    InvalidTransition,
    /// A ballot before the ballot was opened.
    BallotBeforeOpen,
    /// A ballot while the ballot is suspended.
    BallotWhileSuspended,
    /// A ballot after the ballot was closed.
    BallotAfterClose,
    /// A ballot outside the election's schedule.
    BallotOutsideSchedule,
    /// The scrutin is not one of the election's.
    UnknownScrutin,
    /// The credential was never issued in this election.
    CredentialUnknown,
    /// The credential was revoked or replaced.
    CredentialRevoked,
    /// The credential tag was already issued.
    CredentialExists,
    /// The voter already cast a ballot in this scrutin.
    AlreadyVoted,
    /// The receipt code was already used.
    DuplicateReceipt,
    /// Results for this scrutin were already published.
    ResultsExists,
    /// The time is too far from the log's clock, or before the election's previous
    /// entry by more than the tolerance.
    TimeSkew,
    /// The state could not be read.
    StateUnavailable,
}

impl RefusalCode {
    /// Returns the stable code string.
    pub fn as_str(&self) -> &'static str {
        use RefusalCode::*;
        match self {
            Malformed => "malformed",
            NotCanonical => "not_canonical",
            TooLarge => "too_large",
            UnknownType => "unknown_type",
            BadField => "bad_field",
            BadSignature => "bad_signature",
            WrongRole => "wrong_role",
            QuorumNotMet => "quorum_not_met",
            UnknownElection => "unknown_election",
            ElectionExists => "election_exists",
            ElectionVoid => "election_void",
            InvalidTransition => "invalid_transition",
            BallotBeforeOpen => "ballot_before_open",
            BallotWhileSuspended => "ballot_while_suspended",
            BallotAfterClose => "ballot_after_close",
            BallotOutsideSchedule => "ballot_outside_schedule",
            UnknownScrutin => "unknown_scrutin",
            CredentialUnknown => "credential_unknown",
            CredentialRevoked => "credential_revoked",
            CredentialExists => "credential_exists",
            AlreadyVoted => "already_voted",
            DuplicateReceipt => "duplicate_receipt",
            ResultsExists => "results_exists",
            TimeSkew => "time_skew",
            StateUnavailable => "state_unavailable",
        }
    }

    /// Returns the HTTP status a log answers with: 400 for malformed input, 413 too
    /// large, 403 for signatures, 404 unknown election, 409 for what the election's
    /// state forbids now, 422 for time skew, 503 if the state is unavailable.
    pub fn http_status(&self) -> u16 {
        use RefusalCode::*;
        match self {
            Malformed | NotCanonical | UnknownType | BadField => 400,
            TooLarge => 413,
            BadSignature | WrongRole | QuorumNotMet => 403,
            UnknownElection => 404,
            TimeSkew => 422,
            StateUnavailable => 503,
            _ => 409,
        }
    }
}

/// A refusal: a stable code and a human-readable detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", code.as_str())]
pub struct Refusal {
    /// Stable code.
    pub code: RefusalCode,
    /// What exactly was wrong.
    pub detail: String,
}

fn refuse(code: RefusalCode, detail: impl Into<String>) -> Refusal {
    Refusal {
        code,
        detail: detail.into(),
    }
}

impl From<StatementError> for Refusal {
    fn from(e: StatementError) -> Self {
        let code = match e {
            StatementError::TooLarge(_) => RefusalCode::TooLarge,
            StatementError::Malformed(_) => RefusalCode::Malformed,
            StatementError::UnknownType(_) => RefusalCode::UnknownType,
            StatementError::BadField(_) => RefusalCode::BadField,
            StatementError::NotCanonical(_) => RefusalCode::NotCanonical,
        };
        refuse(code, e.to_string())
    }
}

/// A failure of the state backend (not a refusal of the statement).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The backend failed.
    #[error("state backend: {0}")]
    Backend(String),
    /// Stored state does not decode.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

/// The phase of an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sealed, not opened yet.
    Sealed,
    /// Open: ballots accepted.
    Open,
    /// Suspended.
    Suspended,
    /// Closed: results may be published.
    Closed,
    /// Declared void: nothing more accepted.
    Void,
}

/// The state of an election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionState {
    /// Election id.
    pub id: String,
    /// Current phase.
    pub phase: Phase,
    /// Authority keys by role.
    pub authorities: Vec<(Role, VerifierKey)>,
    /// Board quorum of lifecycle statements.
    pub quorum: u32,
    /// Scrutins.
    pub scrutins: Vec<String>,
    /// Schedule.
    pub opens: Time,
    /// Schedule end.
    pub closes: Time,
    /// Latest statement time seen in this election.
    pub last_time: Time,
    /// Scrutins whose results were published.
    pub results_published: Vec<String>,
    /// Leaf index of the `election` statement.
    pub sealed_at_index: u64,
}

/// Status of a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Usable.
    Active,
    /// Revoked by a `revoke` statement.
    Revoked,
    /// Replaced by a newer credential of the same voter.
    Replaced,
}

/// The state of a credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialState {
    /// The voter it was issued to.
    pub voter: Tag,
    /// Status.
    pub status: CredentialStatus,
    /// Leaf index of its issue.
    pub issued_at_index: u64,
    /// Channel of its issue.
    pub channel: Channel,
    /// Reason of its issue.
    pub reason: CredentialReason,
}

/// The state of a voter tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterState {
    /// The voter's current credential.
    pub current_credential: Tag,
    /// Credentials issued to this voter so far.
    pub credentials_issued: u32,
}

/// A key of the rule state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// An election.
    Election(String),
    /// A credential of an election.
    Credential {
        /// Election id.
        election: String,
        /// Credential tag.
        credential: Tag,
    },
    /// A voter of an election.
    Voter {
        /// Election id.
        election: String,
        /// Voter tag.
        voter: Tag,
    },
    /// A voter has voted in a scrutin.
    Voted {
        /// Election id.
        election: String,
        /// Scrutin id.
        scrutin: String,
        /// Voter tag.
        voter: Tag,
    },
    /// A receipt code used in an election.
    Receipt {
        /// Election id.
        election: String,
        /// Receipt code.
        receipt: Tag,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], StateError> {
        if self.0.len() < n {
            return Err(StateError::Corrupt("state key truncated".into()));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn string(&mut self) -> Result<String, StateError> {
        let n = u16::from_be_bytes([self.take(1)?[0], self.take(1)?[0]]) as usize;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| StateError::Corrupt("state key not UTF-8".into()))
    }
    fn tag(&mut self) -> Result<Tag, StateError> {
        let mut t = [0u8; 32];
        t.copy_from_slice(self.take(32)?);
        Ok(Tag(t))
    }
}

impl StateKey {
    /// Encodes the key unambiguously (a type byte, length-prefixed strings, raw tags).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(80);
        match self {
            StateKey::Election(id) => {
                out.push(b'E');
                put_str(&mut out, id);
            }
            StateKey::Credential {
                election,
                credential,
            } => {
                out.push(b'C');
                put_str(&mut out, election);
                out.extend_from_slice(&credential.0);
            }
            StateKey::Voter { election, voter } => {
                out.push(b'V');
                put_str(&mut out, election);
                out.extend_from_slice(&voter.0);
            }
            StateKey::Voted {
                election,
                scrutin,
                voter,
            } => {
                out.push(b'B');
                put_str(&mut out, election);
                put_str(&mut out, scrutin);
                out.extend_from_slice(&voter.0);
            }
            StateKey::Receipt { election, receipt } => {
                out.push(b'R');
                put_str(&mut out, election);
                out.extend_from_slice(&receipt.0);
            }
        }
        out
    }

    /// Decodes a key written by [`StateKey::encode`].
    ///
    /// # Errors
    /// [`StateError::Corrupt`] for anything else.
    pub fn decode(b: &[u8]) -> Result<Self, StateError> {
        let (&ty, rest) = b
            .split_first()
            .ok_or_else(|| StateError::Corrupt("empty state key".into()))?;
        let mut r = Reader(rest);
        let key = match ty {
            b'E' => StateKey::Election(r.string()?),
            b'C' => StateKey::Credential {
                election: r.string()?,
                credential: r.tag()?,
            },
            b'V' => StateKey::Voter {
                election: r.string()?,
                voter: r.tag()?,
            },
            b'B' => StateKey::Voted {
                election: r.string()?,
                scrutin: r.string()?,
                voter: r.tag()?,
            },
            b'R' => StateKey::Receipt {
                election: r.string()?,
                receipt: r.tag()?,
            },
            _ => return Err(StateError::Corrupt(format!("state key type {ty}"))),
        };
        if !r.0.is_empty() {
            return Err(StateError::Corrupt("trailing bytes in state key".into()));
        }
        Ok(key)
    }
}

/// A value of the rule state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateValue {
    /// An election's state (boxed: it is large and rare, and every credential and
    /// voter value would otherwise be as large as it in a monitor's memory).
    Election(Box<ElectionState>),
    /// A credential's state.
    Credential(CredentialState),
    /// A voter's state.
    Voter(VoterState),
    /// The leaf index of the voter's ballot in a scrutin.
    Voted {
        /// Leaf index.
        index: u64,
    },
    /// The leaf index of the ballot carrying a receipt.
    Receipt {
        /// Leaf index.
        index: u64,
    },
}

impl StateValue {
    /// Encodes the value (JSON: readable in a debugger, small enough).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("state values always serialise"))
    }

    /// Decodes a value written by [`StateValue::encode`].
    ///
    /// # Errors
    /// [`StateError::Corrupt`].
    pub fn decode(b: &[u8]) -> Result<Self, StateError> {
        serde_json::from_slice(b).map_err(|e| StateError::Corrupt(e.to_string()))
    }
}

/// Read access to the rule state.
pub trait StateView {
    /// Returns the value at `key`, `None` if absent.
    ///
    /// # Errors
    /// Backend failures only (absence is `Ok(None)`).
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError>;
}

/// An in-memory rule state (monitors, tests).
pub type MemoryState = BTreeMap<StateKey, StateValue>;

impl StateView for BTreeMap<StateKey, StateValue> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// Applies writes to an in-memory state.
pub fn apply(state: &mut MemoryState, writes: Vec<(StateKey, StateValue)>) {
    state.extend(writes);
}

/// The context of a check.
#[derive(Clone, Debug)]
pub struct Context {
    /// The leaf index the entry would get.
    pub index: u64,
    /// The log's clock; `None` when re-checking history (monitors): the clock check is
    /// skipped, the ordering check is not.
    pub now: Option<Time>,
    /// Time tolerance in seconds.
    pub tolerance_secs: i64,
}

/// The outcome of signature verification: which election keys signed, validly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    signers: Vec<(Role, VerifierKey)>,
}

impl Verified {
    /// Returns the keys whose signatures verified.
    pub fn signers(&self) -> Vec<VerifierKey> {
        self.signers.iter().map(|(_, k)| k.clone()).collect()
    }

    /// Returns the signers with their roles.
    pub fn signers_with_roles(&self) -> &[(Role, VerifierKey)] {
        &self.signers
    }
}

/// Returns the roles allowed to make a statement type, and whether the board quorum
/// is needed.
pub fn required_roles(t: StatementType) -> (&'static [Role], bool) {
    match t {
        StatementType::Election
        | StatementType::Open
        | StatementType::Close
        | StatementType::Void
        | StatementType::Results => (&[Role::Board], true),
        StatementType::Suspend | StatementType::Resume => (&[Role::Board], false),
        StatementType::Credential | StatementType::Revoke => (&[Role::Registrar], false),
        StatementType::Ballot => (&[Role::Platform], false),
        StatementType::Intervention => (&[Role::Board, Role::Platform], false),
    }
}

/// Verifies a statement's signatures against an election's authority keys and checks
/// that they give it the authority it needs: a key of the right role (the board
/// quorum for `election`, `open`, `close`, `results`, `void`). Pure: the log runs it
/// before queueing, without locks.
///
/// Signature lines by keys that are not the election's are ignored; a line by one of
/// its keys that does not verify is `bad_signature`. The quorum counts distinct public
/// keys: one key under two names, or signing twice, is one signer.
///
/// # Errors
/// `bad_signature`, `wrong_role` or `quorum_not_met`.
pub fn verify_signatures(
    stmt: &SignedStatement,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
) -> Result<Verified, Refusal> {
    let text = stmt.text();
    let mut signers: Vec<(Role, VerifierKey)> = Vec::new();
    for line in &stmt.signatures {
        for (role, key) in authorities
            .iter()
            .filter(|(_, k)| k.name() == line.name && k.key_id() == line.key_id)
        {
            if !key.verify(text, &line.signature) {
                return Err(refuse(
                    RefusalCode::BadSignature,
                    format!("the signature by {} does not verify", line.name),
                ));
            }
            if !signers.iter().any(|(_, k)| k == key) {
                signers.push((*role, key.clone()));
            }
        }
    }
    let ty = stmt.statement.statement_type();
    let (roles, needs_quorum) = required_roles(ty);
    // Signers are counted by public key, not by name: one key listed under two
    // names (refused when an election is sealed, but the check must not depend on
    // it) is one key holder and counts once towards the quorum.
    let mut good_keys: Vec<&[u8; 32]> = Vec::new();
    for (_, k) in signers.iter().filter(|(r, _)| roles.contains(r)) {
        if !good_keys.contains(&k.public_key()) {
            good_keys.push(k.public_key());
        }
    }
    let good = good_keys.len();
    if good == 0 {
        if let Some((r, k)) = signers.first() {
            return Err(refuse(
                RefusalCode::WrongRole,
                format!(
                    "{ty} must be signed by {}, not by the {r} key {}",
                    roles
                        .iter()
                        .map(Role::as_str)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    k.name()
                ),
            ));
        }
        return Err(refuse(
            RefusalCode::BadSignature,
            format!(
                "no signature by a key of the election {:?}",
                stmt.statement.election
            ),
        ));
    }
    if needs_quorum && (good as u32) < quorum {
        return Err(refuse(
            RefusalCode::QuorumNotMet,
            format!("{ty} needs {quorum} board signatures, has {good}"),
        ));
    }
    Ok(Verified { signers })
}

/// What an accepted statement changes, and the lookups it is filed under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// State writes, in order.
    pub writes: Vec<(StateKey, StateValue)>,
    /// Lookup subjects of the entry.
    pub subjects: Vec<Subject>,
}

/// A lookup subject: what an entry is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A voter tag.
    Voter(Tag),
    /// A credential tag.
    Credential(Tag),
    /// A receipt code.
    Receipt(Tag),
    /// An election.
    Election(String),
}

fn get(state: &impl StateView, key: &StateKey) -> Result<Option<StateValue>, Refusal> {
    state
        .get(key)
        .map_err(|e| refuse(RefusalCode::StateUnavailable, e.to_string()))
}

fn check_time(time: Time, last: Option<Time>, ctx: &Context) -> Result<(), Refusal> {
    if let Some(now) = ctx.now {
        if (time.0 - now.0).abs() > ctx.tolerance_secs {
            return Err(refuse(
                RefusalCode::TimeSkew,
                format!(
                    "time {time} is more than {} s from the log's clock {now}",
                    ctx.tolerance_secs
                ),
            ));
        }
    }
    if let Some(last) = last {
        if time.0 < last.0 - ctx.tolerance_secs {
            return Err(refuse(
                RefusalCode::TimeSkew,
                format!(
                    "time {time} is more than {} s before the election's previous entry ({last})",
                    ctx.tolerance_secs
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a statement against the rules and the current state; returns its effects
/// or a refusal. `verified` is the result of [`verify_signatures`] against this
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
    let id = &st.election;
    let ekey = StateKey::Election(id.clone());
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
    let mut effects = Effects::default();
    if let Body::Election(e) = &st.body {
        if existing.is_some() {
            return Err(refuse(
                RefusalCode::ElectionExists,
                format!("election {id:?} is already sealed in this log"),
            ));
        }
        if verified.is_none() {
            verify_signatures(stmt, &e.authorities, e.quorum)?;
        }
        check_time(st.time, None, ctx)?;
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
        };
        effects
            .writes
            .push((ekey, StateValue::Election(Box::new(es))));
        effects.subjects.push(Subject::Election(id.clone()));
        return Ok(effects);
    }
    let mut es = existing.ok_or_else(|| {
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
    if verified.is_none() {
        verify_signatures(stmt, &es.authorities, es.quorum)?;
    }
    check_time(st.time, Some(es.last_time), ctx)?;
    let transition = |from: &[Phase], to: Phase, es: &mut ElectionState| -> Result<(), Refusal> {
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
    };
    let scrutin_exists = |es: &ElectionState, s: &str| -> Result<(), Refusal> {
        if es.scrutins.iter().any(|x| x == s) {
            Ok(())
        } else {
            Err(refuse(
                RefusalCode::UnknownScrutin,
                format!("election {id:?} has no scrutin {s:?}"),
            ))
        }
    };
    match &st.body {
        Body::Election(_) => unreachable!("handled above"),
        Body::Open => transition(&[Phase::Sealed], Phase::Open, &mut es)?,
        Body::Suspend { .. } => transition(&[Phase::Open], Phase::Suspended, &mut es)?,
        Body::Resume { .. } => transition(&[Phase::Suspended], Phase::Open, &mut es)?,
        Body::Close => transition(&[Phase::Open, Phase::Suspended], Phase::Closed, &mut es)?,
        Body::Void { .. } => {
            if !es.results_published.is_empty() {
                return Err(refuse(
                    RefusalCode::InvalidTransition,
                    "results were published: the election can no longer be declared void",
                ));
            }
            es.phase = Phase::Void;
        }
        Body::Results { scrutin, .. } => {
            if es.phase != Phase::Closed {
                return Err(refuse(
                    RefusalCode::InvalidTransition,
                    format!(
                        "results are published after closing, the election is {:?}",
                        es.phase
                    ),
                ));
            }
            scrutin_exists(&es, scrutin)?;
            if es.results_published.contains(scrutin) {
                return Err(refuse(
                    RefusalCode::ResultsExists,
                    format!("results of {scrutin:?} were already published"),
                ));
            }
            es.results_published.push(scrutin.clone());
        }
        Body::Intervention { .. } => {}
        Body::Credential {
            voter,
            credential,
            channel,
            reason,
        } => {
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
            let issued = match get(state, &vkey)? {
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
        }
        Body::Revoke { credential, .. } => {
            let ckey = StateKey::Credential {
                election: id.clone(),
                credential: *credential,
            };
            let Some(StateValue::Credential(mut c)) = get(state, &ckey)? else {
                return Err(refuse(
                    RefusalCode::CredentialUnknown,
                    format!("credential {credential} was never issued in {id:?}"),
                ));
            };
            if c.status != CredentialStatus::Active {
                return Err(refuse(
                    RefusalCode::CredentialRevoked,
                    format!("credential {credential} is already {:?}", c.status),
                ));
            }
            c.status = CredentialStatus::Revoked;
            effects
                .subjects
                .extend([Subject::Voter(c.voter), Subject::Credential(*credential)]);
            effects.writes.push((ckey, StateValue::Credential(c)));
        }
        Body::Ballot {
            scrutin,
            credential,
            receipt,
        } => {
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
                Phase::Void => unreachable!("refused above"),
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
            scrutin_exists(&es, scrutin)?;
            let ckey = StateKey::Credential {
                election: id.clone(),
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
                    format!("credential {credential} was {:?}", c.status),
                ));
            }
            let voted = StateKey::Voted {
                election: id.clone(),
                scrutin: scrutin.clone(),
                voter: c.voter,
            };
            if let Some(StateValue::Voted { index }) = get(state, &voted)? {
                return Err(refuse(
                    RefusalCode::AlreadyVoted,
                    format!("this voter already voted in {scrutin:?} (entry {index})"),
                ));
            }
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
            effects
                .writes
                .push((voted, StateValue::Voted { index: ctx.index }));
            effects
                .writes
                .push((rkey, StateValue::Receipt { index: ctx.index }));
            effects.subjects.extend([
                Subject::Receipt(*receipt),
                Subject::Credential(*credential),
                Subject::Voter(c.voter),
            ]);
        }
    }
    if st.time > es.last_time {
        es.last_time = st.time;
    }
    effects
        .writes
        .push((ekey, StateValue::Election(Box::new(es))));
    effects.subjects.push(Subject::Election(id.clone()));
    Ok(effects)
}

/// A batch overlay: later statements of a batch see the effects of earlier ones (two
/// ballots of one voter in one batch: the second is refused); refused statements
/// leave no effect.
pub struct Overlay<'a, S: StateView> {
    base: &'a S,
    pending: BTreeMap<StateKey, StateValue>,
}

impl<'a, S: StateView> Overlay<'a, S> {
    /// Starts an empty overlay over `base`.
    pub fn new(base: &'a S) -> Self {
        Overlay {
            base,
            pending: BTreeMap::new(),
        }
    }

    /// Checks a statement against base + pending effects and, if accepted, applies it.
    ///
    /// # Errors
    /// The refusal; nothing is applied.
    pub fn check_and_apply(
        &mut self,
        stmt: &SignedStatement,
        verified: Option<&Verified>,
        ctx: &Context,
    ) -> Result<Effects, Refusal> {
        let effects = check(&*self, stmt, verified, ctx)?;
        for (k, v) in &effects.writes {
            self.pending.insert(k.clone(), v.clone());
        }
        Ok(effects)
    }

    /// Returns the final value of every key written by the accepted statements.
    pub fn into_writes(self) -> Vec<(StateKey, StateValue)> {
        self.pending.into_iter().collect()
    }
}

impl<S: StateView> StateView for Overlay<'_, S> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, StateError> {
        match self.pending.get(key) {
            Some(v) => Ok(Some(v.clone())),
            None => self.base.get(key),
        }
    }
}
