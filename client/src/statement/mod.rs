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
//! Who may sign which statement type is a property of the type, so it lives here too
//! (`roles`); the rules only check signatures against it.
//! Does not own: any state, nor whether an election accepts a statement now (see
//! [`crate::rules`]).
//!
//! # Layout
//!
//! - `types`: the values ([`Statement`], [`Body`], [`ElectionBody`], the word enums
//!   such as [`StatementType`] and [`Role`]).
//! - `tag`, `time`: the field syntaxes of 32-byte hex tags and RFC 3339 UTC times, each
//!   parse beside its format; `civil`: the civil-date arithmetic under [`Time`].
//! - `text`: the statement text, [`Statement::to_text`] beside
//!   [`Statement::parse_text`], and [`Statement::validate`].
//! - `signed`: the signed statement as submitted ([`SignedStatement`], its signature
//!   lines), parse beside format.
//! - `roles`: who may sign which statement ([`required_roles`], [`required_signers`],
//!   [`belenios_signer`]).
//! - `signing`: signing a statement ([`Statement::sign`]) and the authorities' keys
//!   with their roles ([`Authority`]).

mod civil;
mod roles;
mod signed;
mod signing;
mod tag;
mod text;
mod time;
mod types;

pub use roles::{belenios_signer, required_roles, required_signers};
pub use signed::{SignatureLine, SignedStatement};
pub use signing::Authority;
pub use tag::Tag;
pub use time::Time;
pub use types::{
    Body, Channel, CredentialReason, ElectionBody, Revote, Role, Statement, StatementType,
};

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
