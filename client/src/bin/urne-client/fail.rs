//! Failures of `urne-client` and their exit codes.
//!
//! Owns: the mapping from what went wrong to the process exit code, so that scripts
//! can tell "not found" from "the log lied". Does not own: the messages' wording (each
//! command writes its own sentence).

use std::fmt;

/// What kind of failure ended a command; each has its own exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Anything else: unreadable file, bad argument value, state directory error (1).
    Other,
    /// The receipt, entry or voter is not in the log (2).
    NotFound,
    /// A signature, witness quorum, inclusion proof or tile does not verify, or the
    /// entry does not say what the receipt says (3).
    ProofFailed,
    /// The log contradicts what was seen before: rollback or fork (4).
    Inconsistent,
    /// The log could not be reached or answered garbage at the HTTP level (5).
    Network,
    /// The log holds an entry the election rules forbid (6).
    RuleViolation,
    /// The log refused a statement submitted (or would refuse it now) (7).
    Refused,
    /// A statement lacks signatures its election needs (8).
    Incomplete,
}

impl Kind {
    /// Returns the process exit code of this kind of failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Other => 1,
            Kind::NotFound => 2,
            Kind::ProofFailed => 3,
            Kind::Inconsistent => 4,
            Kind::Network => 5,
            Kind::RuleViolation => 6,
            Kind::Refused => 7,
            Kind::Incomplete => 8,
        }
    }

    /// Returns the stable name of this kind, used in `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Other => "error",
            Kind::NotFound => "not_found",
            Kind::ProofFailed => "proof_failed",
            Kind::Inconsistent => "log_inconsistent",
            Kind::Network => "network",
            Kind::RuleViolation => "rule_violation",
            Kind::Refused => "refused",
            Kind::Incomplete => "incomplete",
        }
    }
}

/// A failure: its kind and one sentence saying exactly what failed.
#[derive(Debug)]
pub struct Fail {
    /// The kind (exit code).
    pub kind: Kind,
    /// What failed, as a sentence.
    pub msg: String,
    /// Evidence for machines (both checkpoints of a fork, the refused entry…).
    pub evidence: Option<serde_json::Value>,
}

impl Fail {
    /// Builds a failure of `kind`.
    pub fn new(kind: Kind, msg: impl Into<String>) -> Self {
        Fail {
            kind,
            msg: msg.into(),
            evidence: None,
        }
    }

    /// Attaches evidence.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = Some(evidence);
        self
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail::new(Kind::Other, format!("{e:#}"))
    }
}

/// Shorthand for results of commands.
pub type Res<T> = Result<T, Fail>;

/// Builds a `map_err` closure that turns any error into a failure of `kind` with context.
pub fn ctx<E: fmt::Display>(kind: Kind, what: impl Into<String>) -> impl FnOnce(E) -> Fail {
    let what = what.into();
    move |e| Fail::new(kind, format!("{what}: {e}"))
}
