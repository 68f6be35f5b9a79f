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
//! # Rules versions
//!
//! An election is judged by the rules it was sealed under, so that history never
//! changes meaning. Rules 2 ([`RULES_VERSION`]) is an election whose `election`
//! statement seals its time tolerance (`tolerance <secs>`): its statements are
//! identified by their signed text (a second copy is `duplicate_statement`), carry
//! a canonical signature block (only the election's keys of the roles that may sign,
//! each once, in the order the election lists them, no more lines than needed:
//! `bad_signature_block`, checked before any Ed25519 work), lifecycle statements move
//! forward in time, `suspend`/`resume` need the board quorum, a credential's reason
//! must say what the state says (`initial` iff the voter has none), and a batch
//! reissue must be announced by a board-quorum `intervention` with `reissues <n>`.
//! Rules 1 is an election sealed before that (no `tolerance` line): monitors and
//! mirrors re-check its history with the old rules and the tolerance they are given;
//! a live log appends nothing more to it (`legacy_election`) and seals no new one
//! (`tolerance_missing`).
//!
//! The state holds tags and ids only: no personal data, nothing linking a tag to a
//! person.

use crate::note::VerifierKey;
use crate::statement::{
    required_roles, required_signers, Channel, CredentialReason, Revote, Role, SignedStatement,
    StatementError, StatementType, Tag, Time,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod judge;

pub use judge::check;

/// Default tolerance between a statement's time and the log's clock (seconds).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// How long before the log's clock a statement signed by the board quorum may be
/// dated (24 hours): bureau members co-sign on their own machines, possibly over
/// hours, so the author's time of a co-signed statement is the time it was written,
/// not the time it reached the log. Statements signed by one key (credentials,
/// ballots, single interventions) stay within the election's tolerance of the log's
/// clock. Only the live log applies it (it judges the log's clock, which history
/// re-checks do not have); see `docs/rules.md`, "Author time and log time".
pub const BOARD_SIGNING_WINDOW_SECS: i64 = 86_400;

/// The rules an election sealed today is judged by (see the module documentation).
pub const RULES_VERSION: u32 = 2;

/// The rules of an election sealed before rules were versioned.
pub const LEGACY_RULES: u32 = 1;

fn legacy_rules() -> u32 {
    LEGACY_RULES
}

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
    /// The signature block is not canonical: a line by a key the election does not
    /// name, a key twice, lines out of the election's order, or more lines than the
    /// statement needs. Refused before any signature is verified.
    BadSignatureBlock,
    /// A statement whose signed text is already in the log (its identity): a log
    /// answers it as a duplicate; found appended in a log, it is a replay.
    DuplicateStatement,
    /// A lifecycle statement dated at or before the election's previous one.
    LifecycleOutOfOrder,
    /// A credential whose reason contradicts the state: `initial` for a voter who
    /// has a credential, or a reissue for a voter who has none.
    CredentialReasonMismatch,
    /// A batch reissue (channel `batch` or reason `reissue-leak`) not covered by a
    /// board `intervention` announcing it (`reissues <n>`).
    ReissueNotAnnounced,
    /// An `election` statement without its sealed time tolerance.
    ToleranceMissing,
    /// A sealed time tolerance above the log's announced maximum.
    ToleranceOutOfBounds,
    /// A new statement of an election sealed under rules 1: a log appends nothing
    /// more to it (its history stays readable and is re-checked with rules 1).
    LegacyElection,
    /// The election is sealed (its `close` plus its sealed grace period is past):
    /// only `results` and protocol events are accepted (French rules, R.211-572).
    ElectionSealed,
    /// A `results` statement whose ballot count is not the number of ballots the log
    /// counts for that scrutin.
    ResultsCountMismatch,
    /// A ballot dated before the `open` or `resume` that began the current voting
    /// period: no ballot is backdated into a suspension or before the opening.
    BallotBackdated,
    /// A protocol `event` whose position is not the next one of its protocol's chain
    /// in this election (a gap, a repeat, a reorder).
    EventOutOfOrder,
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
            BadSignatureBlock => "bad_signature_block",
            DuplicateStatement => "duplicate_statement",
            LifecycleOutOfOrder => "lifecycle_out_of_order",
            CredentialReasonMismatch => "credential_reason_mismatch",
            ReissueNotAnnounced => "reissue_not_announced",
            ToleranceMissing => "tolerance_missing",
            ToleranceOutOfBounds => "tolerance_out_of_bounds",
            LegacyElection => "legacy_election",
            ElectionSealed => "election_sealed",
            ResultsCountMismatch => "results_count_mismatch",
            BallotBackdated => "ballot_backdated",
            EventOutOfOrder => "event_out_of_order",
        }
    }

    /// Returns the HTTP status a log answers with: 400 for malformed input, 413 too
    /// large, 403 for signatures, 404 unknown election, 409 for what the election's
    /// state forbids now, 422 for time skew, 503 if the state is unavailable.
    pub fn http_status(&self) -> u16 {
        use RefusalCode::*;
        match self {
            Malformed | NotCanonical | UnknownType | BadField | BadSignatureBlock
            | ToleranceMissing | ToleranceOutOfBounds => 400,
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
    /// The rules the election is judged by: [`RULES_VERSION`], or [`LEGACY_RULES`]
    /// for an election sealed before versions (its stored state has no field).
    #[serde(default = "legacy_rules")]
    pub rules: u32,
    /// The time tolerance sealed in the `election` statement (rules 2).
    #[serde(default)]
    pub tolerance_secs: Option<i64>,
    /// Time of the latest `open`, `suspend`, `resume`, `close`, `void` or `results`:
    /// the next one must be later (rules 2), so an old one cannot come back.
    #[serde(default)]
    pub last_lifecycle_time: Option<Time>,
    /// Batch reissues announced by board interventions (`reissues <n>`), in total.
    #[serde(default)]
    pub batch_reissues_announced: u64,
    /// Batch reissues appended so far (never more than announced).
    #[serde(default)]
    pub batch_reissues_done: u64,
    /// The grace period sealed in the `election` statement (`grace <secs>`): the
    /// election is sealed that long after its `close`'s time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_secs: Option<i64>,
    /// The revoting policy sealed in the `election` statement.
    #[serde(default)]
    pub revote: Revote,
    /// The `close` statement: its leaf index and its (author's) time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
    /// Ballots counted per scrutin (one per voter: a superseded ballot is not
    /// counted), what a `results` statement must state. `None` for an election whose
    /// state predates the count (its results are not checked against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ballots_counted: Option<BTreeMap<String, u64>>,
    /// Ballots superseded by a later ballot of the same voter (`revote last`).
    #[serde(default)]
    pub ballots_superseded: u64,
    /// Protocol events anchored, per protocol: how many (the next one's position).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub protocol_events: BTreeMap<String, u64>,
}

/// Where and when an election was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// Leaf index of the `close` statement.
    pub index: u64,
    /// The time the `close` statement states (its author's time).
    pub time: Time,
}

impl ElectionState {
    /// Returns the instant the election is sealed automatically: its `close`'s time
    /// plus its sealed grace period; `None` before the close or without a grace
    /// period. From then on only `results` and protocol events are accepted.
    pub fn sealed_after(&self) -> Option<Time> {
        match (self.closed, self.grace_secs) {
            (Some(c), Some(g)) => Some(Time(c.time.0.saturating_add(g))),
            _ => None,
        }
    }

    /// Returns the tolerance that judges this election's statement times: the sealed
    /// one (rules 2), else `fallback` (rules 1: the one the party re-checking was
    /// given).
    pub fn tolerance(&self, fallback: i64) -> i64 {
        self.tolerance_secs.unwrap_or(fallback)
    }
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
    /// A statement's identity: SHA-256 of its signed text (rules 2).
    Statement(Tag),
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
            StateKey::Statement(text) => {
                out.push(b'T');
                out.extend_from_slice(&text.0);
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
            b'T' => StateKey::Statement(r.tag()?),
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
    /// The leaf index of the voter's ballot in a scrutin (the last one, under
    /// `revote last`).
    Voted {
        /// Leaf index.
        index: u64,
        /// The ballot's receipt, so that a later ballot can mark it superseded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<Tag>,
    },
    /// The leaf index of the ballot carrying a receipt.
    Receipt {
        /// Leaf index.
        index: u64,
        /// The leaf index of the voter's later ballot that superseded this one
        /// (`revote last`): the ballot stays in the log, no longer counted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        superseded_by: Option<u64>,
    },
    /// The leaf index of the entry holding a statement's signed text.
    Statement {
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
    /// The log's clock when judging a new statement for appending; `None` when
    /// re-checking history (monitors, mirrors): the clock check is skipped, the
    /// ordering check is not, and the live log's own policies (no new statement of a
    /// rules-1 election, the maximum tolerance) do not apply.
    pub now: Option<Time>,
    /// Time tolerance in seconds for elections sealed under rules 1 (which sealed
    /// none); rules-2 elections are judged with their sealed tolerance.
    pub tolerance_secs: i64,
    /// The largest tolerance a new `election` statement may seal (the live log's
    /// announced maximum); `None`: no bound (re-checking history).
    pub max_tolerance_secs: Option<i64>,
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

/// Returns the rules an `election` statement seals its election under: rules 2 when
/// it seals its time tolerance, rules 1 (legacy) otherwise.
pub fn rules_of(e: &crate::statement::ElectionBody) -> u32 {
    if e.tolerance.is_some() {
        RULES_VERSION
    } else {
        LEGACY_RULES
    }
}

/// The roles and quorum of rules 1 (elections sealed before versions): `suspend`,
/// `resume` and every `intervention` needed one signature.
fn legacy_required_roles(t: StatementType) -> (&'static [Role], bool) {
    match t {
        StatementType::Suspend | StatementType::Resume => (&[Role::Board], false),
        _ => required_roles(t),
    }
}

/// Checks that a signature block is canonical (rules 2) without any Ed25519 work,
/// and returns the election key of each line, in order.
///
/// Canonical: every line is by a key the election names (same name and key ID), of
/// a role that may sign this statement; each key once; lines in the order of the
/// election's `authority` lines; exactly as many lines as the statement needs (the
/// board quorum for lifecycle statements and announced reissues, else one).
///
/// # Errors
/// `bad_signature_block` (foreign, repeated or out-of-order line, too many lines),
/// `wrong_role` (a key of the election in a role that may not sign it),
/// `quorum_not_met` (fewer lines than the quorum).
pub fn check_signature_block<'a>(
    stmt: &SignedStatement,
    authorities: &'a [(Role, VerifierKey)],
    quorum: u32,
) -> Result<Vec<&'a (Role, VerifierKey)>, Refusal> {
    let st = &stmt.statement;
    let ty = st.statement_type();
    let (roles, needs_quorum) = required_signers(st);
    let need = if needs_quorum { quorum.max(1) } else { 1 } as usize;
    if stmt.signatures.len() > need {
        return Err(refuse(
            RefusalCode::BadSignatureBlock,
            format!(
                "{} signature lines: a {ty} of this election carries exactly {need}",
                stmt.signatures.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(stmt.signatures.len());
    let mut last: Option<usize> = None;
    for line in &stmt.signatures {
        let Some(pos) = authorities
            .iter()
            .position(|(_, k)| k.name() == line.name && k.key_id() == line.key_id)
        else {
            return Err(refuse(
                RefusalCode::BadSignatureBlock,
                format!(
                    "a signature line by {:?} (key ID {:08x}), which is not a key of the election {:?}",
                    line.name.chars().take(80).collect::<String>(),
                    line.key_id,
                    st.election
                ),
            ));
        };
        if last.is_some_and(|l| pos <= l) {
            return Err(refuse(
                RefusalCode::BadSignatureBlock,
                format!(
                    "the signature by {} is repeated or out of order: lines follow the order of the election's authority lines, each key once",
                    line.name
                ),
            ));
        }
        last = Some(pos);
        let (role, key) = &authorities[pos];
        if !roles.contains(role) {
            return Err(refuse(
                RefusalCode::WrongRole,
                format!(
                    "{ty} must be signed by {}, not by the {role} key {}",
                    roles
                        .iter()
                        .map(Role::as_str)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    key.name()
                ),
            ));
        }
        out.push(&authorities[pos]);
    }
    // Signers are counted by public key, not by name: one key listed under two
    // names (refused when an election is sealed, but the check must not depend on
    // it) is one key holder and counts once towards the quorum.
    let mut distinct: Vec<&[u8; 32]> = Vec::with_capacity(out.len());
    for (_, k) in &out {
        if !distinct.contains(&k.public_key()) {
            distinct.push(k.public_key());
        }
    }
    if distinct.len() < need {
        return Err(refuse(
            RefusalCode::QuorumNotMet,
            format!("{ty} needs {need} board signatures, has {}", distinct.len()),
        ));
    }
    Ok(out)
}

/// Verifies a statement's signatures under the rules its election is judged by:
/// [`verify_signatures`] for rules 2, [`verify_signatures_legacy`] for rules 1.
///
/// # Errors
/// As the function it calls.
pub fn verify_signatures_under(
    stmt: &SignedStatement,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
    rules: u32,
) -> Result<Verified, Refusal> {
    verify_signatures_with(stmt, authorities, quorum, rules, &mut |k, m, s| {
        k.verify(m, s)
    })
}

/// [`verify_signatures_under`] with the Ed25519 check of each signature line left to
/// `verify(key, text, signature)`: the rest (the block, the roles, the quorum) is
/// decided here, once. With `verify` = [`VerifierKey::verify`] this is
/// [`verify_signatures_under`]; a caller that collects the signatures and answers
/// `true` gets the verdict the statement has if they all verify
/// (`signature_batch` checks them together after, and asks again without
/// collecting if one does not).
///
/// # Errors
/// As [`verify_signatures_under`].
pub fn verify_signatures_with<'a>(
    stmt: &'a SignedStatement,
    authorities: &'a [(Role, VerifierKey)],
    quorum: u32,
    rules: u32,
    verify: &mut dyn FnMut(&'a VerifierKey, &'a [u8], &'a [u8]) -> bool,
) -> Result<Verified, Refusal> {
    if rules >= RULES_VERSION {
        verify_current(stmt, authorities, quorum, verify)
    } else {
        verify_legacy(stmt, authorities, quorum, verify)
    }
}

/// Verifies a statement's signatures against an election's authority keys (rules 2):
/// first the canonical block ([`check_signature_block`], no Ed25519 work, so junk
/// costs a parse), then every line's signature. Pure: the log runs it before
/// queueing, without locks.
///
/// # Errors
/// `bad_signature_block`, `wrong_role` or `quorum_not_met` from the block; then
/// `bad_signature` if one line does not verify.
pub fn verify_signatures(
    stmt: &SignedStatement,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
) -> Result<Verified, Refusal> {
    verify_current(stmt, authorities, quorum, &mut |k, m, s| k.verify(m, s))
}

fn verify_current<'a>(
    stmt: &'a SignedStatement,
    authorities: &'a [(Role, VerifierKey)],
    quorum: u32,
    verify: &mut dyn FnMut(&'a VerifierKey, &'a [u8], &'a [u8]) -> bool,
) -> Result<Verified, Refusal> {
    let block = check_signature_block(stmt, authorities, quorum)?;
    let text = stmt.text();
    let mut signers = Vec::with_capacity(block.len());
    for (line, (role, key)) in stmt.signatures.iter().zip(block) {
        if !verify(key, text, &line.signature) {
            return Err(refuse(
                RefusalCode::BadSignature,
                format!("the signature by {} does not verify", line.name),
            ));
        }
        signers.push((*role, key.clone()));
    }
    Ok(Verified { signers })
}

/// Verifies a statement's signatures as rules 1 did (elections sealed before rules
/// were versioned; only to re-check their history): lines by keys that are not the
/// election's are ignored, a line by one of its keys that does not verify is
/// `bad_signature`, the quorum counts distinct public keys, and `suspend`, `resume`
/// and interventions need one signature.
///
/// # Errors
/// `bad_signature`, `wrong_role` or `quorum_not_met`.
pub fn verify_signatures_legacy(
    stmt: &SignedStatement,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
) -> Result<Verified, Refusal> {
    verify_legacy(stmt, authorities, quorum, &mut |k, m, s| k.verify(m, s))
}

fn verify_legacy<'a>(
    stmt: &'a SignedStatement,
    authorities: &'a [(Role, VerifierKey)],
    quorum: u32,
    verify: &mut dyn FnMut(&'a VerifierKey, &'a [u8], &'a [u8]) -> bool,
) -> Result<Verified, Refusal> {
    let text = stmt.text();
    let mut signers: Vec<(Role, VerifierKey)> = Vec::new();
    for line in &stmt.signatures {
        for (role, key) in authorities
            .iter()
            .filter(|(_, k)| k.name() == line.name && k.key_id() == line.key_id)
        {
            if !verify(key, text, &line.signature) {
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
    let (roles, needs_quorum) = legacy_required_roles(ty);
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
    /// The entry is a credential for a voter who already had one in its election: a
    /// reissue, whatever its label says (what every detector counts).
    pub reissue: bool,
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
