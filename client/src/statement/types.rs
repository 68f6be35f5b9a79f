//! The statement values: every statement type of urne as a Rust value, and the closed
//! word lists of its fields (type, role, channel, credential reason, revote).
//!
//! Owns the shapes only: their text is `text`, their signatures `signed`/`signing`.

use super::{bad, StatementError, Tag, Time};
use crate::note::VerifierKey;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

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
    /// (`tolerance <secs>`, 0..=[`super::MAX_TOLERANCE_SECS`]). Its presence also marks the
    /// election as sealed under rules 2 (see [`crate::rules::RULES_VERSION`]);
    /// `None` is an election sealed before it existed, judged by rules 1.
    pub tolerance: Option<u64>,
    /// The grace period (seconds) after the `close` statement's time after which the
    /// election is sealed automatically (`grace <secs>`, 0..=[`super::MAX_GRACE_SECS`]; French
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
}
