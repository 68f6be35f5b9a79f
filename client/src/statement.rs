//! Statements: the typed entries of urne and their strict, canonical text.
//!
//! Owns: every statement type of DESIGN.md as a Rust value, the exact text format
//! (`urne/v1 <type>`, then `<field> <value>` lines in the type's fixed order), the
//! field syntaxes (ids, 32-byte hex tags, RFC 3339 UTC times, free text), the size
//! limit, and signing helpers. A statement is valid iff it parses strictly and
//! re-serialises to the same bytes, so there is no canonicalisation problem: the log
//! entry is exactly the bytes submitted.
//!
//! A statement's **identity** is its signed text ([`SignedStatement::text_hash`]),
//! not its bytes: the same text followed by other signature lines is the same
//! statement, which a log answers as a duplicate and never appends twice.
//! Does not own: which keys may sign what, nor any state (see [`crate::rules`]).

use crate::note::{self, SignerKey, VerifierKey};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Maximum size of a whole signed statement (text, blank line, signatures).
pub const MAX_ENTRY_SIZE: usize = 16 * 1024;
/// Maximum length of free-text values (reason, title, actor, action, authorisation).
pub const MAX_TEXT_LEN: usize = 256;
/// The largest time tolerance an `election` statement can seal (7 days): a log
/// announces its own, lower maximum (`max_time_tolerance_secs` of `/v1/log`).
pub const MAX_TOLERANCE_SECS: u64 = 7 * 86_400;
/// The largest grace period an `election` statement can seal before its automatic
/// seal (7 days; the French rules say 30 minutes, `grace 1800`).
pub const MAX_GRACE_SECS: u64 = 7 * 86_400;
/// The last instant a statement time can spell, 9999-12-31T23:59:59Z (four-digit
/// years; the first is the Unix epoch).
pub const MAX_TIME: i64 = 253_402_300_799;

/// Why a statement's bytes were refused, with a stable [`StatementError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Over [`MAX_ENTRY_SIZE`].
    #[error("statement of {0} bytes exceeds {MAX_ENTRY_SIZE}")]
    TooLarge(usize),
    /// Not a signed note (no blank line, no signature line, bad signature line).
    #[error("malformed signed statement: {0}")]
    Malformed(String),
    /// The first line is not `urne/v1 <known type>`.
    #[error("unknown statement type: {0}")]
    UnknownType(String),
    /// A field is missing or its value has the wrong syntax.
    #[error("bad field: {0}")]
    BadField(String),
    /// Well-formed values but not in canonical form: order, duplicates, unknown
    /// fields, spaces, CR, or a value that would be written differently.
    #[error("not canonical: {0}")]
    NotCanonical(String),
}

impl StatementError {
    /// Returns the stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            StatementError::TooLarge(_) => "too_large",
            StatementError::Malformed(_) => "malformed",
            StatementError::UnknownType(_) => "unknown_type",
            StatementError::BadField(_) => "bad_field",
            StatementError::NotCanonical(_) => "not_canonical",
        }
    }
}

fn bad(msg: impl Into<String>) -> StatementError {
    StatementError::BadField(msg.into())
}

/// A 32-byte tag (voter, credential, receipt, digest), written as 64 lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Tag(pub [u8; 32]);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl FromStr for Tag {
    type Err = StatementError;
    /// Parses exactly 64 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, StatementError> {
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(bad(format!(
                "tag {:?} is not 64 lowercase hex digits",
                s.chars().take(80).collect::<String>()
            )));
        }
        let mut t = [0u8; 32];
        hex::decode_to_slice(s, &mut t).map_err(|e| bad(e.to_string()))?;
        Ok(Tag(t))
    }
}

impl From<Tag> for String {
    fn from(t: Tag) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Tag {
    type Error = StatementError;
    fn try_from(s: String) -> Result<Self, StatementError> {
        s.parse()
    }
}

/// A time, in seconds since the Unix epoch, written `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339,
/// UTC, no fraction: one spelling per instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Time(pub i64);

// Days from 1970-01-01 to a civil date, and back (H. Hinnant's algorithms, proleptic
// Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Time {
    /// Returns the current time of the system clock.
    pub fn now() -> Time {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Time(secs)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl FromStr for Time {
    type Err = StatementError;
    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` with a valid date (years 1970–9999).
    fn from_str(s: &str) -> Result<Self, StatementError> {
        let e = || {
            bad(format!(
                "time {:?} is not YYYY-MM-DDTHH:MM:SSZ",
                s.chars().take(40).collect::<String>()
            ))
        };
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(e());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, StatementError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(e());
            }
            part.parse::<i64>().map_err(|_| e())
        };
        let (y, mo, d, h, mi, se) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mdays = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if y < 1970
            || !(1..=12).contains(&mo)
            || d < 1
            || d > mdays[(mo - 1) as usize]
            || h > 23
            || mi > 59
            || se > 59
        {
            return Err(e());
        }
        Ok(Time(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se,
        ))
    }
}

impl From<Time> for String {
    fn from(t: Time) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Time {
    type Error = StatementError;
    fn try_from(s: String) -> Result<Self, StatementError> {
        s.parse()
    }
}

macro_rules! word_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// Returns the word used in statement text.
            pub fn as_str(&self) -> &'static str { match self { $($name::$v => $s),+ } }
        }
        impl FromStr for $name {
            type Err = StatementError;
            fn from_str(s: &str) -> Result<Self, StatementError> {
                match s { $($s => Ok($name::$v),)+ _ => Err(bad(format!(concat!("unknown ", stringify!($name), " {:?}"), s))) }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

word_enum!(
    /// The type of a statement (first line `urne/v1 <type>`).
    StatementType {
        /// Sealing of an election (its genesis).
        Election = "election",
        /// Opening of the ballot.
        Open = "open",
        /// Suspension of the ballot.
        Suspend = "suspend",
        /// Resumption of the ballot.
        Resume = "resume",
        /// Closing of the ballot.
        Close = "close",
        /// A credential issued to a voter (initial or reissue).
        Credential = "credential",
        /// A credential revoked.
        Revoke = "revoke",
        /// A ballot receipt.
        Ballot = "ballot",
        /// Results of a scrutin.
        Results = "results",
        /// A trace of an intervention on the system.
        Intervention = "intervention",
        /// The election stopped and declared void.
        Void = "void",
        /// An event of the voting protocol's own chain (a Belenios archive event).
        Event = "event",
    }
);

word_enum!(
    /// The role of an authority key.
    Role {
        /// The electoral board (bureau de vote électronique).
        Board = "board",
        /// The credential manager.
        Registrar = "registrar",
        /// The voting platform.
        Platform = "platform",
    }
);

word_enum!(
    /// How a credential reached the voter.
    Channel {
        /// E-mail.
        Mail = "mail",
        /// Postal mail.
        Postal = "postal",
        /// Text message.
        Sms = "sms",
        /// The provider's helpdesk (phone): the channel impostors used.
        Helpdesk = "helpdesk",
        /// In person.
        InPerson = "in-person",
        /// A bulk (re)issue.
        Batch = "batch",
    }
);

word_enum!(
    /// Why a credential was issued (a closed list, so monitors can count reissues).
    CredentialReason {
        /// First credential of the voter.
        Initial = "initial",
        /// The voter lost it.
        ReissueLost = "reissue-lost",
        /// Credentials leaked and were reissued.
        ReissueLeak = "reissue-leak",
        /// Reissued on a helpdesk request.
        ReissueHelpdesk = "reissue-helpdesk",
        /// Any other reissue.
        ReissueOther = "reissue-other",
    }
);

word_enum!(
    /// How an election counts a voter's ballots in a scrutin (`revote <policy>` of
    /// the `election` statement, sealed like every parameter that judges history).
    #[derive(Default)]
    Revote {
        /// One ballot per voter: a second is refused (`already_voted`). The default
        /// (no `revote` line): French professional elections.
        #[default]
        Single = "single",
        /// The last ballot counts (Belenios, Helios): a second ballot is accepted and
        /// supersedes the voter's previous one, which stays in the log marked
        /// superseded. Written `revote last`.
        Last = "last",
    }
);

/// The body of an `election` statement: the election's genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionBody {
    /// Title.
    pub title: String,
    /// Ballot ids (at least one).
    pub scrutins: Vec<String>,
    /// Authority keys by role (at least one board key; each public key once).
    pub authorities: Vec<(Role, VerifierKey)>,
    /// Board signatures needed on lifecycle statements (1..=number of board keys).
    pub quorum: u32,
    /// The time tolerance (seconds) that judges every statement of the election,
    /// sealed here so that every party re-checks history with the value in force
    /// (`tolerance <secs>`, 0..=[`MAX_TOLERANCE_SECS`]). Its presence also marks the
    /// election as sealed under rules 2 (see [`crate::rules::RULES_VERSION`]);
    /// `None` is an election sealed before it existed, judged by rules 1.
    pub tolerance: Option<u64>,
    /// The grace period (seconds) after the `close` statement's time after which the
    /// election is sealed automatically (`grace <secs>`, 0..=[`MAX_GRACE_SECS`]; French
    /// rules, CGFP R.211-572: 30 minutes): only `results` and protocol events are
    /// accepted then. `None`: no automatic seal.
    pub grace: Option<u64>,
    /// Revoting: [`Revote::Single`] (no line) or [`Revote::Last`] (`revote last`).
    pub revote: Revote,
    /// Opening of the schedule.
    pub opens: Time,
    /// End of the schedule (after `opens`).
    pub closes: Time,
    /// Optional commitment to the electoral roll: hash and voter count.
    pub roll: Option<(Tag, u64)>,
}

/// What a statement says, beyond its election and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `election`: sealing.
    Election(ElectionBody),
    /// `open`.
    Open,
    /// `suspend`.
    Suspend {
        /// Why.
        reason: String,
    },
    /// `resume`.
    Resume {
        /// Why.
        reason: String,
    },
    /// `close`.
    Close,
    /// `credential`: issue, or reissue replacing the voter's previous credential.
    Credential {
        /// The voter's pseudonymous tag.
        voter: Tag,
        /// The credential's tag.
        credential: Tag,
        /// Delivery channel.
        channel: Channel,
        /// Why.
        reason: CredentialReason,
    },
    /// `revoke`.
    Revoke {
        /// The credential.
        credential: Tag,
        /// Why.
        reason: String,
    },
    /// `ballot`: a receipt of a ballot cast.
    Ballot {
        /// Which ballot.
        scrutin: String,
        /// Credential used.
        credential: Tag,
        /// The receipt code given to the voter.
        receipt: Tag,
    },
    /// `results`.
    Results {
        /// Which ballot.
        scrutin: String,
        /// Ballots counted.
        ballots: u64,
        /// Digest of the published results.
        digest: Tag,
    },
    /// `intervention`.
    Intervention {
        /// Who.
        actor: String,
        /// What.
        action: String,
        /// Why.
        reason: String,
        /// An announced batch reissue: how many batch reissues (channel `batch` or
        /// reason `reissue-leak`) this intervention covers (`reissues <n>`, n >= 1).
        /// Only the board quorum may announce one.
        reissues: Option<u64>,
    },
    /// `void`.
    Void {
        /// Why.
        reason: String,
        /// The decision that authorises it.
        authorisation: String,
    },
    /// `event`: an event of the voting protocol's own hash chain, anchored (a
    /// Belenios archive's `Setup`, `Ballot`, `EndBallots`, `EncryptedTally`,
    /// `PartialDecryption`, `Result`).
    Event {
        /// The protocol, an id (`belenios`).
        protocol: String,
        /// The event type as the protocol writes it, case kept
        /// (`[A-Za-z][A-Za-z0-9_-]{0,63}`: Belenios's types are CamelCase).
        event: String,
        /// The event's hash in the protocol's chain (Belenios: SHA-256 of the event
        /// JSON, the archive's file name), 64 hex digits.
        hash: Tag,
        /// Its position in its own chain (Belenios: `height`), from 0, one more each.
        position: u64,
    },
}

/// A statement: election, time and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Election id.
    pub election: String,
    /// When the authority made the statement.
    pub time: Time,
    /// What it says.
    pub body: Body,
}

fn check_id(what: &str, v: &str) -> Result<(), StatementError> {
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{what} {v:?} is not an id ([a-z0-9][a-z0-9._-]{{0,63}})"
        )))
    }
}

/// An event type as the protocol writes it: case is kept (Belenios's `EndBallots`),
/// so it is not an id; `[A-Za-z][A-Za-z0-9_-]{0,63}`.
fn check_event_type(v: &str) -> Result<(), StatementError> {
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "event {:?} is not an event type ([A-Za-z][A-Za-z0-9_-]{{0,63}})",
            v.chars().take(80).collect::<String>()
        )))
    }
}

fn check_text(what: &str, v: &str) -> Result<(), StatementError> {
    if v.is_empty() || v.chars().count() > MAX_TEXT_LEN || v.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what}: 1 to {MAX_TEXT_LEN} printable characters"
        )));
    }
    Ok(())
}

fn parse_u64(what: &str, v: &str) -> Result<u64, StatementError> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) || (v.len() > 1 && v.starts_with('0'))
    {
        return Err(bad(format!("{what} {v:?} is not a decimal number")));
    }
    v.parse()
        .map_err(|_| bad(format!("{what} {v:?} out of range")))
}

/// A cursor over the `field value` lines of a statement, in their fixed order.
struct Fields<'a> {
    lines: Vec<(&'a str, &'a str)>,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self, name: &str) -> Result<&'a str, StatementError> {
        match self.lines.get(self.pos) {
            Some((n, v)) if *n == name => {
                self.pos += 1;
                Ok(v)
            }
            Some((n, _)) if self.lines[self.pos..].iter().any(|(m, _)| *m == name) => Err(
                StatementError::NotCanonical(format!("field {n:?} before {name:?}")),
            ),
            Some((n, _)) => Err(StatementError::NotCanonical(format!(
                "unexpected field {n:?} where {name:?} belongs"
            ))),
            None => Err(bad(format!("missing field {name:?}"))),
        }
    }

    /// Refuses a field line whose name was already read: a repeated field is not
    /// canonical, even where the parser was looking for a repeatable field (`scrutin`,
    /// `authority`) and would otherwise report that one missing.
    fn not_repeated(&self) -> Result<(), StatementError> {
        match self.lines.get(self.pos) {
            Some((n, _)) if self.lines[..self.pos].iter().any(|(m, _)| m == n) => Err(
                StatementError::NotCanonical(format!("field {n:?} repeated")),
            ),
            _ => Ok(()),
        }
    }

    fn peek(&self, name: &str) -> bool {
        self.lines.get(self.pos).is_some_and(|(n, _)| *n == name)
    }

    fn text(&mut self, name: &str) -> Result<String, StatementError> {
        let v = self.next(name)?;
        check_text(name, v)?;
        Ok(v.to_string())
    }

    fn id(&mut self, name: &str) -> Result<String, StatementError> {
        let v = self.next(name)?;
        check_id(name, v)?;
        Ok(v.to_string())
    }

    fn tag(&mut self, name: &str) -> Result<Tag, StatementError> {
        self.next(name)?.parse()
    }

    fn end(&self) -> Result<(), StatementError> {
        match self.lines.get(self.pos) {
            None => Ok(()),
            Some((n, _)) => Err(StatementError::NotCanonical(format!(
                "unexpected or repeated field {n:?}"
            ))),
        }
    }
}

impl Statement {
    /// Returns the statement's type.
    pub fn statement_type(&self) -> StatementType {
        match &self.body {
            Body::Election(_) => StatementType::Election,
            Body::Open => StatementType::Open,
            Body::Suspend { .. } => StatementType::Suspend,
            Body::Resume { .. } => StatementType::Resume,
            Body::Close => StatementType::Close,
            Body::Credential { .. } => StatementType::Credential,
            Body::Revoke { .. } => StatementType::Revoke,
            Body::Ballot { .. } => StatementType::Ballot,
            Body::Results { .. } => StatementType::Results,
            Body::Intervention { .. } => StatementType::Intervention,
            Body::Void { .. } => StatementType::Void,
            Body::Event { .. } => StatementType::Event,
        }
    }

    /// Formats the statement text (ending in a newline), the canonical form.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "urne/v1 {}\nelection {}\ntime {}\n",
            self.statement_type(),
            self.election,
            self.time
        );
        let mut f = |k: &str, v: &dyn fmt::Display| {
            let _ = writeln!(s, "{k} {v}");
        };
        match &self.body {
            Body::Election(e) => {
                f("title", &e.title);
                for sc in &e.scrutins {
                    f("scrutin", sc);
                }
                for (role, key) in &e.authorities {
                    f("authority", &format!("{role} {key}"));
                }
                f("quorum", &e.quorum);
                if let Some(t) = &e.tolerance {
                    f("tolerance", t);
                }
                if let Some(g) = &e.grace {
                    f("grace", g);
                }
                if e.revote != Revote::Single {
                    f("revote", &e.revote);
                }
                f("opens", &e.opens);
                f("closes", &e.closes);
                if let Some((h, n)) = &e.roll {
                    f("roll", &format!("{h} {n}"));
                }
            }
            Body::Open | Body::Close => {}
            Body::Suspend { reason } | Body::Resume { reason } => f("reason", reason),
            Body::Credential {
                voter,
                credential,
                channel,
                reason,
            } => {
                f("voter", voter);
                f("credential", credential);
                f("channel", channel);
                f("reason", reason);
            }
            Body::Revoke { credential, reason } => {
                f("credential", credential);
                f("reason", reason);
            }
            Body::Ballot {
                scrutin,
                credential,
                receipt,
            } => {
                f("scrutin", scrutin);
                f("credential", credential);
                f("receipt", receipt);
            }
            Body::Results {
                scrutin,
                ballots,
                digest,
            } => {
                f("scrutin", scrutin);
                f("ballots", ballots);
                f("digest", digest);
            }
            Body::Intervention {
                actor,
                action,
                reason,
                reissues,
            } => {
                f("actor", actor);
                f("action", action);
                f("reason", reason);
                if let Some(n) = reissues {
                    f("reissues", n);
                }
            }
            Body::Void {
                reason,
                authorisation,
            } => {
                f("reason", reason);
                f("authorisation", authorisation);
            }
            Body::Event {
                protocol,
                event,
                hash,
                position,
            } => {
                f("protocol", protocol);
                f("event", event);
                f("hash", hash);
                f("position", position);
            }
        }
        s
    }

    /// Parses a statement text strictly: fixed field order, no duplicate or unknown
    /// field, single spaces, LF line ends, final newline, canonical values.
    ///
    /// # Errors
    /// A [`StatementError`] saying what is wrong.
    pub fn parse_text(text: &str) -> Result<Statement, StatementError> {
        if text.contains('\r') {
            return Err(StatementError::NotCanonical(
                "CR in text: lines end with LF only".into(),
            ));
        }
        let body_text = text
            .strip_suffix('\n')
            .ok_or_else(|| StatementError::NotCanonical("text must end with a newline".into()))?;
        if let Some(l) = body_text
            .split('\n')
            .find(|l| l.starts_with(' ') || l.ends_with(' ') || l.ends_with('\t'))
        {
            return Err(StatementError::NotCanonical(format!(
                "extra spaces in line {:?}",
                l.chars().take(60).collect::<String>()
            )));
        }
        let mut lines = body_text.split('\n');
        let first = lines.next().unwrap_or_default();
        let ty = first
            .strip_prefix("urne/v1 ")
            .ok_or_else(|| StatementError::UnknownType(first.chars().take(60).collect()))?;
        let ty: StatementType = ty
            .parse()
            .map_err(|_| StatementError::UnknownType(ty.chars().take(60).collect()))?;
        let mut pairs = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(' ').ok_or_else(|| {
                if line.is_empty() {
                    StatementError::NotCanonical("empty line in statement text".into())
                } else {
                    bad(format!(
                        "line {:?} is not `field value`",
                        line.chars().take(60).collect::<String>()
                    ))
                }
            })?;
            if k.is_empty()
                || v.is_empty()
                || v.starts_with(' ')
                || v.ends_with(' ')
                || v.ends_with('\t')
            {
                return Err(StatementError::NotCanonical(format!(
                    "extra spaces in line {:?}",
                    line.chars().take(60).collect::<String>()
                )));
            }
            pairs.push((k, v));
        }
        let mut f = Fields {
            lines: pairs,
            pos: 0,
        };
        let election = f.id("election")?;
        let time: Time = f.next("time")?.parse()?;
        let body = match ty {
            StatementType::Election => {
                let title = f.text("title")?;
                let mut scrutins = Vec::new();
                while f.peek("scrutin") {
                    let s = f.id("scrutin")?;
                    if scrutins.contains(&s) {
                        return Err(StatementError::NotCanonical(format!("scrutin {s:?} twice")));
                    }
                    scrutins.push(s);
                }
                if scrutins.is_empty() {
                    f.not_repeated()?;
                    return Err(bad("an election needs at least one scrutin"));
                }
                let mut authorities: Vec<(Role, VerifierKey)> = Vec::new();
                while f.peek("authority") {
                    let v = f.next("authority")?;
                    let (role, key) = v
                        .split_once(' ')
                        .ok_or_else(|| bad("authority is `<role> <verifier key>`"))?;
                    let role: Role = role.parse()?;
                    let key =
                        VerifierKey::parse(key).map_err(|e| bad(format!("authority key: {e}")))?;
                    // One public key is one signer, whatever names it is listed
                    // under: listed twice (as two board members, or in two roles) it
                    // would let one key holder count twice towards the quorum.
                    if let Some((_, k)) = authorities
                        .iter()
                        .find(|(_, k)| k.public_key() == key.public_key())
                    {
                        return Err(StatementError::NotCanonical(format!(
                            "authority public key of {} listed twice (also as {})",
                            key.name(),
                            k.name()
                        )));
                    }
                    authorities.push((role, key));
                }
                let boards = authorities
                    .iter()
                    .filter(|(r, _)| *r == Role::Board)
                    .count() as u64;
                if boards == 0 {
                    f.not_repeated()?;
                    return Err(bad("an election needs at least one board key"));
                }
                let quorum = parse_u64("quorum", f.next("quorum")?)?;
                if quorum == 0 || quorum > boards {
                    return Err(bad(format!(
                        "quorum {quorum} must be between 1 and the {boards} board keys"
                    )));
                }
                let tolerance = if f.peek("tolerance") {
                    let t = parse_u64("tolerance", f.next("tolerance")?)?;
                    if t > MAX_TOLERANCE_SECS {
                        return Err(bad(format!(
                            "tolerance {t} exceeds {MAX_TOLERANCE_SECS} seconds"
                        )));
                    }
                    Some(t)
                } else {
                    None
                };
                let grace = if f.peek("grace") {
                    let g = parse_u64("grace", f.next("grace")?)?;
                    if g > MAX_GRACE_SECS {
                        return Err(bad(format!("grace {g} exceeds {MAX_GRACE_SECS} seconds")));
                    }
                    Some(g)
                } else {
                    None
                };
                let revote = if f.peek("revote") {
                    // The default has no line: `revote single` would be a second
                    // spelling of the same election.
                    match f.next("revote")?.parse()? {
                        Revote::Single => {
                            return Err(StatementError::NotCanonical(
                                "`revote single` is the default: write no revote line".into(),
                            ))
                        }
                        r => r,
                    }
                } else {
                    Revote::Single
                };
                let opens: Time = f.next("opens")?.parse()?;
                let closes: Time = f.next("closes")?.parse()?;
                if closes <= opens {
                    return Err(bad("closes must be after opens"));
                }
                let roll = if f.peek("roll") {
                    let v = f.next("roll")?;
                    let (h, n) = v
                        .split_once(' ')
                        .ok_or_else(|| bad("roll is `<hex hash> <count>`"))?;
                    Some((h.parse()?, parse_u64("roll count", n)?))
                } else {
                    None
                };
                Body::Election(ElectionBody {
                    title,
                    scrutins,
                    authorities,
                    quorum: quorum as u32,
                    tolerance,
                    grace,
                    revote,
                    opens,
                    closes,
                    roll,
                })
            }
            StatementType::Open => Body::Open,
            StatementType::Close => Body::Close,
            StatementType::Suspend => Body::Suspend {
                reason: f.text("reason")?,
            },
            StatementType::Resume => Body::Resume {
                reason: f.text("reason")?,
            },
            StatementType::Credential => Body::Credential {
                voter: f.tag("voter")?,
                credential: f.tag("credential")?,
                channel: f.next("channel")?.parse()?,
                reason: f.next("reason")?.parse()?,
            },
            StatementType::Revoke => Body::Revoke {
                credential: f.tag("credential")?,
                reason: f.text("reason")?,
            },
            StatementType::Ballot => Body::Ballot {
                scrutin: f.id("scrutin")?,
                credential: f.tag("credential")?,
                receipt: f.tag("receipt")?,
            },
            StatementType::Results => Body::Results {
                scrutin: f.id("scrutin")?,
                ballots: parse_u64("ballots", f.next("ballots")?)?,
                digest: f.tag("digest")?,
            },
            StatementType::Intervention => Body::Intervention {
                actor: f.text("actor")?,
                action: f.text("action")?,
                reason: f.text("reason")?,
                reissues: if f.peek("reissues") {
                    let n = parse_u64("reissues", f.next("reissues")?)?;
                    if n == 0 {
                        return Err(bad("reissues must be at least 1"));
                    }
                    Some(n)
                } else {
                    None
                },
            },
            StatementType::Void => Body::Void {
                reason: f.text("reason")?,
                authorisation: f.text("authorisation")?,
            },
            StatementType::Event => Body::Event {
                protocol: f.id("protocol")?,
                event: {
                    let v = f.next("event")?;
                    check_event_type(v)?;
                    v.to_string()
                },
                hash: f.tag("hash")?,
                position: parse_u64("position", f.next("position")?)?,
            },
        };
        f.end()?;
        let st = Statement {
            election,
            time,
            body,
        };
        if st.to_text() != text {
            return Err(StatementError::NotCanonical(
                "the text is not written the way urne writes it".into(),
            ));
        }
        Ok(st)
    }

    /// Checks that a statement built by hand is one urne can write and read back:
    /// every id, time and free text has its syntax (no tab, newline or other control
    /// character that would forge or break a line), and the text it writes parses back
    /// to exactly this statement, so every invariant of [`Statement::parse_text`]
    /// (election quorum, distinct keys and scrutins, schedule) holds too.
    ///
    /// # Errors
    /// The [`StatementError`] that parsing the written text would give, or
    /// [`StatementError::BadField`] naming the field whose value cannot be written.
    pub fn validate(&self) -> Result<(), StatementError> {
        // Field by field first, so that the error names the field at fault instead of
        // the line a newline in it would have forged.
        check_id("election", &self.election)?;
        if !(0..=MAX_TIME).contains(&self.time.0) {
            return Err(bad(format!(
                "time {} is outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z",
                self.time.0
            )));
        }
        match &self.body {
            Body::Election(e) => {
                check_text("title", &e.title)?;
                for sc in &e.scrutins {
                    check_id("scrutin", sc)?;
                }
                // Keys, quorum, schedule and roll are typed values: the read-back
                // below checks their invariants with the parser's own code.
            }
            Body::Open | Body::Close | Body::Credential { .. } => {}
            Body::Suspend { reason } | Body::Resume { reason } | Body::Revoke { reason, .. } => {
                check_text("reason", reason)?
            }
            Body::Ballot { scrutin, .. } | Body::Results { scrutin, .. } => {
                check_id("scrutin", scrutin)?
            }
            Body::Intervention {
                actor,
                action,
                reason,
                ..
            } => {
                check_text("actor", actor)?;
                check_text("action", action)?;
                check_text("reason", reason)?;
            }
            Body::Void {
                reason,
                authorisation,
            } => {
                check_text("reason", reason)?;
                check_text("authorisation", authorisation)?;
            }
            Body::Event {
                protocol, event, ..
            } => {
                check_id("protocol", protocol)?;
                check_event_type(event)?;
            }
        }
        // Then the whole: what is signed must be what every verifier will parse.
        let back = Statement::parse_text(&self.to_text())?;
        if &back != self {
            return Err(StatementError::NotCanonical(
                "the statement does not read back as written".into(),
            ));
        }
        Ok(())
    }

    /// Signs the statement with every signer, returning the signed note (the entry).
    ///
    /// # Errors
    /// A [`StatementError`] from [`Statement::validate`]: a hand-built statement that
    /// would not parse back is refused instead of signed; [`StatementError::TooLarge`]
    /// if the signed entry would exceed [`MAX_ENTRY_SIZE`].
    pub fn sign(&self, signers: &[&SignerKey]) -> Result<String, StatementError> {
        self.validate()?;
        let signed = note::sign(&self.to_text(), signers)
            .map_err(|e| StatementError::Malformed(format!("statement text as a note: {e}")))?;
        if signed.len() > MAX_ENTRY_SIZE {
            return Err(StatementError::TooLarge(signed.len()));
        }
        Ok(signed)
    }
}

/// One signature line of a signed statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    /// Key name.
    pub name: String,
    /// Key ID.
    pub key_id: u32,
    /// Signature bytes (64 for Ed25519).
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// Formats the line `— <name> <base64(key ID ‖ signature)>\n` (C2SP signed-note).
    pub fn to_line(&self) -> String {
        use base64::Engine as _;
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!(
            "\u{2014} {} {}\n",
            self.name,
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// A signed statement as submitted: the exact bytes (the log entry), the parsed
/// statement and its signature lines (not yet verified: the keys live in the
/// election's state).
#[derive(Clone, Debug)]
pub struct SignedStatement {
    /// The exact bytes submitted, logged as they are.
    pub bytes: Vec<u8>,
    /// The parsed statement.
    pub statement: Statement,
    /// The signature lines, in order.
    pub signatures: Vec<SignatureLine>,
    /// Length of the signed text (the statement text, up to the blank line).
    text_len: usize,
}

impl SignedStatement {
    /// Parses a signed statement strictly: size limit, signed-note form, at least one
    /// signature line, canonical statement text.
    ///
    /// # Errors
    /// A [`StatementError`] with its stable code.
    pub fn parse(bytes: &[u8]) -> Result<SignedStatement, StatementError> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(StatementError::TooLarge(bytes.len()));
        }
        let s = std::str::from_utf8(bytes)
            .map_err(|_| StatementError::Malformed("not UTF-8".into()))?;
        if s.contains('\r') {
            return Err(StatementError::NotCanonical(
                "CR in statement: lines end with LF only".into(),
            ));
        }
        let n = note::Note::from_bytes(bytes).map_err(|_| {
            StatementError::Malformed(
                "not a signed note (text, blank line, signature lines)".into(),
            )
        })?;
        let text_len = n.text().len();
        // The note text must be exactly the bytes before the blank line: signed_note
        // splits at the last blank line, which a statement text never contains.
        if bytes.get(text_len) != Some(&b'\n') || &bytes[..text_len] != n.text() {
            return Err(StatementError::Malformed("signature block".into()));
        }
        let text = &s[..text_len];
        let statement = Statement::parse_text(text)?;
        let sig_block = &s[text_len + 1..];
        let mut signatures = Vec::new();
        for line in sig_block.split_terminator('\n') {
            let sig = note::Signature::from_bytes(line.as_bytes())
                .map_err(|_| StatementError::Malformed("bad signature line".into()))?;
            signatures.push(SignatureLine {
                name: sig.name().to_string(),
                key_id: sig.id(),
                signature: sig.signature().to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(StatementError::Malformed("no signature line".into()));
        }
        Ok(SignedStatement {
            bytes: bytes.to_vec(),
            statement,
            signatures,
            text_len,
        })
    }

    /// Returns the signed text (the statement text, ending in a newline).
    pub fn text(&self) -> &[u8] {
        &self.bytes[..self.text_len]
    }

    /// Returns the statement's identity: SHA-256 of its signed text. Two entries with
    /// the same text are the same statement whatever signature lines follow it (a
    /// replay with a foreign or repeated line is a duplicate, not a new entry).
    pub fn text_hash(&self) -> Tag {
        use sha2::{Digest, Sha256};
        Tag(Sha256::digest(self.text()).into())
    }

    /// Writes the signed statement again from its parsed parts: the statement's
    /// canonical text, a blank line, then each signature line
    /// `— <name> <base64(key ID ‖ signature)>`. For every statement
    /// [`SignedStatement::parse`] accepts this is exactly [`SignedStatement::bytes`]
    /// (the fuzz target `statement_parse` checks it): one meaning, one spelling.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.statement.to_text().into_bytes();
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(s.to_line().as_bytes());
        }
        out
    }
}

/// An authority's signing key with its role: signs only the statements its role may
/// make, so a registrar's tool cannot produce a ballot by mistake.
#[derive(Debug, Clone)]
pub struct Authority {
    /// The role the election's `authority` line gives this key.
    pub role: Role,
    /// The signing key.
    pub key: SignerKey,
}

impl Authority {
    /// A board key (president or delegate of the bureau de vote électronique).
    pub fn board(key: SignerKey) -> Self {
        Authority {
            role: Role::Board,
            key,
        }
    }

    /// The registrar's key (credential manager).
    pub fn registrar(key: SignerKey) -> Self {
        Authority {
            role: Role::Registrar,
            key,
        }
    }

    /// The voting platform's key.
    pub fn platform(key: SignerKey) -> Self {
        Authority {
            role: Role::Platform,
            key,
        }
    }

    /// Returns the `authority` line value of this key for an `election` statement.
    pub fn authority(&self) -> (Role, VerifierKey) {
        (self.role, self.key.verifier().clone())
    }

    /// Signs `st` alone.
    ///
    /// # Errors
    /// [`StatementError::BadField`] if this role may not make this type of statement;
    /// any error of [`Statement::validate`] if `st` would not parse back.
    pub fn sign(&self, st: &Statement) -> Result<String, StatementError> {
        Self::sign_together(&[self], st)
    }

    /// Signs `st` with several authorities (board quorum), in order.
    ///
    /// # Errors
    /// [`StatementError::BadField`] if one of them may not make this type of statement;
    /// any error of [`Statement::validate`] if `st` would not parse back.
    pub fn sign_together(
        authorities: &[&Authority],
        st: &Statement,
    ) -> Result<String, StatementError> {
        let (roles, _) = crate::rules::required_signers(st);
        if let Some(a) = authorities.iter().find(|a| !roles.contains(&a.role)) {
            return Err(bad(format!(
                "a {} key may not sign a {} statement",
                a.role,
                st.statement_type()
            )));
        }
        let keys: Vec<&SignerKey> = authorities.iter().map(|a| &a.key).collect();
        st.sign(&keys)
    }
}
