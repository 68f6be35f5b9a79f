//! Authoring: how an authority writes, co-signs and checks a statement before it
//! reaches a log.
//!
//! Owns: the table of each statement type's fields (name, order, syntax, allowed
//! values) that `urne-client statement new --help` and the statement reference print;
//! building a statement from `field value` pairs in any order; drafts (a statement
//! text with zero or more signature lines, as mailed between board members); adding
//! one key's signature line in the canonical place of the signature block; and the
//! signature report of `statement inspect` (which lines are there, which verify, which
//! are still needed). Does not own: the text format nor its parser
//! ([`crate::statement`], the final judge of every text built here), nor who may sign
//! what and how many (the roles and quorum are [`crate::statement::required_signers`]; the
//! canonical block is [`crate::rules::check_signature_block`]).

use crate::note::{SignerKey, VerifierKey};
use crate::rules::{self, RefusalCode};
use crate::statement::{
    self, Channel, CredentialReason, Role, SignatureLine, SignedStatement, Statement,
    StatementError, StatementType, Time,
};

/// The syntax of a field's value, for help texts and the statement reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// An id: `[a-z0-9][a-z0-9._-]{0,63}`.
    Id,
    /// 64 lowercase hex digits (a 32-byte tag).
    Tag,
    /// Free text: 1 to 256 printable characters.
    Text,
    /// A decimal number without leading zeros.
    Number,
    /// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    Time,
    /// One word of [`Channel::ALL`].
    Channel,
    /// One word of [`CredentialReason::ALL`].
    CredentialReason,
    /// `<role> <verifier key>`, role one of [`Role::ALL`].
    Authority,
    /// `<64 hex digits> <count>`.
    Roll,
    /// `last`: the only value of [`crate::statement::Revote`] written (the default,
    /// one ballot per voter, has no line).
    Revote,
    /// An event type as its protocol writes it, case kept:
    /// `[A-Za-z][A-Za-z0-9_-]{0,63}`.
    EventType,
}

impl Syntax {
    /// Describes the syntax in a few words (with the allowed values of closed lists).
    pub fn describe(&self) -> String {
        let words = |all: &[&str]| all.join("|");
        match self {
            Syntax::Id => "id ([a-z0-9][a-z0-9._-], at most 64)".into(),
            Syntax::Tag => "64 lowercase hex digits".into(),
            Syntax::Text => "text, 1 to 256 printable characters".into(),
            Syntax::Number => "decimal number".into(),
            Syntax::Time => "YYYY-MM-DDTHH:MM:SSZ (UTC)".into(),
            Syntax::Channel => words(&Channel::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()),
            Syntax::CredentialReason => words(
                &CredentialReason::ALL
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>(),
            ),
            Syntax::Authority => format!(
                "<{}> <verifier key name+id+base64>",
                words(&Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>())
            ),
            Syntax::Roll => "<64 hex digits> <voter count>".into(),
            Syntax::Revote => "last".into(),
            Syntax::EventType => "event type, case kept ([A-Za-z][A-Za-z0-9_-], at most 64)".into(),
        }
    }
}

/// One field of a statement type, after `election` and `time`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field name, first word of its line.
    pub name: &'static str,
    /// The value's syntax.
    pub syntax: Syntax,
    /// May be left out.
    pub optional: bool,
    /// One line per value (at least one unless optional).
    pub repeated: bool,
    /// What it says.
    pub help: &'static str,
}

const fn field(name: &'static str, syntax: Syntax, help: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        syntax,
        optional: false,
        repeated: false,
        help,
    }
}

const ELECTION_FIELDS: &[FieldSpec] = &[
    field("title", Syntax::Text, "the election's title"),
    FieldSpec {
        repeated: true,
        ..field("scrutin", Syntax::Id, "one line per ballot of the election")
    },
    FieldSpec {
        repeated: true,
        ..field(
            "authority",
            Syntax::Authority,
            "one line per key: board members, the registrar, the platform; the order of these lines is the order of every signature block",
        )
    },
    field(
        "quorum",
        Syntax::Number,
        "board signatures needed on lifecycle statements (1 to the number of board keys)",
    ),
    field(
        "tolerance",
        Syntax::Number,
        "seconds a statement's time may be from the log's clock (sealed: every party judges the election with it); a live log refuses an election without it",
    ),
    FieldSpec {
        optional: true,
        ..field(
            "grace",
            Syntax::Number,
            "seconds after the close's time when the election is sealed automatically (French rules: 1800); then only results and protocol events are accepted",
        )
    },
    FieldSpec {
        optional: true,
        ..field(
            "revote",
            Syntax::Revote,
            "last: a voter may vote again and the last ballot counts (Belenios, Helios); without the line, one ballot per voter",
        )
    },
    field("opens", Syntax::Time, "start of the voting schedule"),
    field("closes", Syntax::Time, "end of the voting schedule (after opens)"),
    FieldSpec {
        optional: true,
        ..field(
            "roll",
            Syntax::Roll,
            "commitment to the electoral roll: its hash and number of voters",
        )
    },
];
const REASON: &[FieldSpec] = &[field("reason", Syntax::Text, "why")];
const CREDENTIAL_FIELDS: &[FieldSpec] = &[
    field(
        "voter",
        Syntax::Tag,
        "the voter's pseudonymous tag (keyed hash of an identity, never the identity)",
    ),
    field("credential", Syntax::Tag, "the credential's tag (new)"),
    field(
        "channel",
        Syntax::Channel,
        "how the credential reached the voter",
    ),
    field(
        "reason",
        Syntax::CredentialReason,
        "initial for a voter's first credential, a reissue-… reason otherwise",
    ),
];
const REVOKE_FIELDS: &[FieldSpec] = &[
    field("credential", Syntax::Tag, "the credential revoked"),
    field("reason", Syntax::Text, "why"),
];
const BALLOT_FIELDS: &[FieldSpec] = &[
    field("scrutin", Syntax::Id, "the ballot the vote is cast in"),
    field("credential", Syntax::Tag, "the credential used"),
    field(
        "receipt",
        Syntax::Tag,
        "the receipt code the voter was shown (e.g. the hash of the encrypted ballot)",
    ),
];
const RESULTS_FIELDS: &[FieldSpec] = &[
    field("scrutin", Syntax::Id, "the ballot counted"),
    field("ballots", Syntax::Number, "number of ballots counted"),
    field("digest", Syntax::Tag, "SHA-256 of the published results"),
];
const INTERVENTION_FIELDS: &[FieldSpec] = &[
    field("actor", Syntax::Text, "who intervened"),
    field("action", Syntax::Text, "what was done"),
    field("reason", Syntax::Text, "why"),
    FieldSpec {
        optional: true,
        ..field(
            "reissues",
            Syntax::Number,
            "announces that many batch reissues (channel batch or reason reissue-leak); then the board quorum signs",
        )
    },
];
const EVENT_FIELDS: &[FieldSpec] = &[
    field("protocol", Syntax::Id, "the voting protocol (belenios)"),
    field(
        "event",
        Syntax::EventType,
        "the event type as the protocol writes it (Setup, Ballot, EndBallots, EncryptedTally, PartialDecryption, Result)",
    ),
    field(
        "hash",
        Syntax::Tag,
        "the event's hash in the protocol's chain (Belenios: SHA-256 of the event, its archive file name)",
    ),
    field(
        "position",
        Syntax::Number,
        "its position in its own chain (Belenios: height), from 0",
    ),
];
const VOID_FIELDS: &[FieldSpec] = &[
    field("reason", Syntax::Text, "why the election is void"),
    field(
        "authorisation",
        Syntax::Text,
        "the decision that authorises it (court, authority)",
    ),
];

/// Returns the fields of a statement type after `election` and `time`, in the order
/// its text lists them.
pub fn fields(t: StatementType) -> &'static [FieldSpec] {
    match t {
        StatementType::Election => ELECTION_FIELDS,
        StatementType::Open | StatementType::Close => &[],
        StatementType::Suspend | StatementType::Resume => REASON,
        StatementType::Credential => CREDENTIAL_FIELDS,
        StatementType::Revoke => REVOKE_FIELDS,
        StatementType::Ballot => BALLOT_FIELDS,
        StatementType::Results => RESULTS_FIELDS,
        StatementType::Intervention => INTERVENTION_FIELDS,
        StatementType::Void => VOID_FIELDS,
        StatementType::Event => EVENT_FIELDS,
    }
}

/// Says who signs a statement type and how many signatures it carries, from
/// [`statement::required_roles`] (so the help cannot drift from the rules).
pub fn signers_sentence(t: StatementType) -> String {
    let (roles, quorum) = statement::required_roles(t);
    let who = roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    let mut s = if quorum {
        format!("signed by the {who} quorum (as many board keys as the election's `quorum`)")
    } else {
        format!("signed by one {who} key")
    };
    if t == StatementType::Intervention {
        s.push_str("; with `reissues <n>`, by the board quorum");
    }
    s
}

/// Why a statement could not be built or co-signed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthoringError {
    /// The text does not parse (the statement's own error and code).
    #[error(transparent)]
    Statement(#[from] StatementError),
    /// A field this type does not have.
    #[error("{ty} has no field {field:?}; its fields are: {allowed}")]
    UnknownField {
        /// The type.
        ty: StatementType,
        /// The field given.
        field: String,
        /// Its fields, in order.
        allowed: String,
    },
    /// A single-valued field given twice.
    #[error("field {0:?} given twice")]
    Repeated(String),
    /// The signing key is not one of the election's authority keys.
    #[error("the key {0} is not one of the election's authority keys")]
    NotAnAuthority(String),
    /// The key's role may not sign this type.
    #[error("{0}")]
    WrongRole(String),
    /// This key already signed.
    #[error("{0} already signed this statement")]
    AlreadySigned(String),
    /// Every needed signature is already there.
    #[error("the statement already carries the {0} signature(s) it needs")]
    Complete(usize),
    /// A signature line already there is foreign, out of place, or does not verify.
    #[error("{code}: {detail}", code = .0.code.as_str(), detail = .0.detail)]
    Block(rules::Refusal),
}

/// Builds a statement from `(field, value)` pairs given in any order (repeated
/// fields in the order given), and checks it with the statement parser.
///
/// # Errors
/// [`AuthoringError::UnknownField`], [`AuthoringError::Repeated`], or the parser's
/// [`StatementError`] (missing field, bad value…).
pub fn build(
    ty: StatementType,
    election: &str,
    time: Time,
    pairs: &[(String, String)],
) -> Result<Statement, AuthoringError> {
    let specs = fields(ty);
    let allowed = || specs.iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    for (i, (name, _)) in pairs.iter().enumerate() {
        let Some(spec) = specs.iter().find(|f| f.name == name) else {
            return Err(AuthoringError::UnknownField {
                ty,
                field: name.chars().take(40).collect(),
                allowed: if specs.is_empty() {
                    "(none)".into()
                } else {
                    allowed()
                },
            });
        };
        if !spec.repeated && pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(AuthoringError::Repeated(name.clone()));
        }
        // A value holding a line end would write another field line of its own
        // (`--voter "X\ncredential Y"`): a different statement than the one asked.
        if pairs[i].1.chars().any(char::is_control) {
            return Err(AuthoringError::Statement(StatementError::BadField(
                format!("{name}: a value holds no control character (line end, tab)"),
            )));
        }
    }
    // `time` goes through its own spelling; the rest in the table's order.
    let mut text = format!("urne/v1 {ty}\nelection {election}\ntime {time}\n");
    for spec in specs {
        for (_, v) in pairs.iter().filter(|(n, _)| n == spec.name) {
            text.push_str(spec.name);
            text.push(' ');
            text.push_str(v);
            text.push('\n');
        }
    }
    Ok(Statement::parse_text(&text)?)
}

/// A statement as it travels between authorities: its text, and the signature lines
/// gathered so far (none for a fresh `statement new`).
#[derive(Clone, Debug)]
pub struct Draft {
    /// The parsed statement.
    pub statement: Statement,
    /// Signature lines, in order.
    pub signatures: Vec<SignatureLine>,
}

impl Draft {
    /// Parses a statement text alone, or a signed statement.
    ///
    /// # Errors
    /// The [`StatementError`] of the text or of the signed note.
    pub fn parse(bytes: &[u8]) -> Result<Draft, StatementError> {
        let s = std::str::from_utf8(bytes)
            .map_err(|_| StatementError::Malformed("not UTF-8".into()))?;
        match s.find("\n\n") {
            // Text, blank line, nothing: a text whose signatures were all removed.
            Some(i) if i + 2 == s.len() => Ok(Draft {
                statement: Statement::parse_text(&s[..i + 1])?,
                signatures: Vec::new(),
            }),
            Some(_) => {
                let signed = SignedStatement::parse(bytes)?;
                Ok(Draft {
                    statement: signed.statement,
                    signatures: signed.signatures,
                })
            }
            None => Ok(Draft {
                statement: Statement::parse_text(s)?,
                signatures: Vec::new(),
            }),
        }
    }

    /// Writes the draft: the text, then (if any) a blank line and the signature lines.
    pub fn to_text(&self) -> String {
        let mut out = self.statement.to_text();
        if !self.signatures.is_empty() {
            out.push('\n');
            for s in &self.signatures {
                out.push_str(&s.to_line());
            }
        }
        out
    }

    /// Returns the signed statement the draft is, once it has a signature line.
    pub fn signed(&self) -> Option<SignedStatement> {
        if self.signatures.is_empty() {
            return None;
        }
        SignedStatement::parse(self.to_text().as_bytes()).ok()
    }
}

/// Returns the keys `st` is judged against: its own authority lines for an `election`
/// statement, else `election_keys` (the sealed election's), with the quorum.
pub fn keys_for<'a>(
    st: &'a Statement,
    election: Option<(&'a [(Role, VerifierKey)], u32)>,
) -> Option<(&'a [(Role, VerifierKey)], u32)> {
    match &st.body {
        crate::statement::Body::Election(e) => Some((&e.authorities, e.quorum)),
        _ => election,
    }
}

/// One signature line of a draft, as `inspect` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentLine {
    /// The key name on the line.
    pub name: String,
    /// The election key it names, with its role; `None` for a foreign line.
    pub key: Option<(Role, VerifierKey)>,
    /// Whether its signature verifies under that key.
    pub verifies: bool,
}

/// The signatures of a draft against its election's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureReport {
    /// Signature lines needed (the quorum, or one).
    pub needed: usize,
    /// Each line there.
    pub present: Vec<PresentLine>,
    /// Keys of the roles that may sign and have not: any `needed - valid` of them.
    pub missing: Vec<(Role, VerifierKey)>,
    /// The block as the log would judge it once complete: `None` if it is complete and
    /// canonical, else the refusal the log would give now.
    pub refusal: Option<rules::Refusal>,
}

/// Reports which signatures a draft carries, which verify, and which keys could still
/// sign, against `authorities` and `quorum`.
pub fn signature_report(
    draft: &Draft,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
) -> SignatureReport {
    let (roles, needs_quorum) = statement::required_signers(&draft.statement);
    let needed = if needs_quorum { quorum.max(1) } else { 1 } as usize;
    let text = draft.statement.to_text();
    let present: Vec<_> = draft
        .signatures
        .iter()
        .map(|l| {
            let key = authorities
                .iter()
                .find(|(_, k)| k.name() == l.name && k.key_id() == l.key_id)
                .cloned();
            let verifies = key
                .as_ref()
                .is_some_and(|(_, k)| k.verify(text.as_bytes(), &l.signature));
            PresentLine {
                name: l.name.clone(),
                key,
                verifies,
            }
        })
        .collect();
    let missing = authorities
        .iter()
        .filter(|(r, k)| {
            roles.contains(r)
                && !draft
                    .signatures
                    .iter()
                    .any(|l| l.name == k.name() && l.key_id == k.key_id())
        })
        .cloned()
        .collect();
    let refusal = match draft.signed() {
        None => Some(rules::Refusal {
            code: RefusalCode::Malformed,
            detail: "no signature line yet".into(),
        }),
        Some(s) => rules::verify_signatures(&s, authorities, quorum).err(),
    };
    SignatureReport {
        needed,
        present,
        missing,
        refusal,
    }
}

/// Adds `key`'s signature line to a draft, in the canonical place: the order of the
/// election's authority lines (so board members can sign one after the other, in any
/// order, each on their own machine). The lines already there must be canonical and
/// verify: a draft tampered with on its way is refused, not signed.
///
/// # Errors
/// [`AuthoringError::NotAnAuthority`], [`AuthoringError::WrongRole`],
/// [`AuthoringError::AlreadySigned`], [`AuthoringError::Complete`],
/// [`AuthoringError::Block`] for a line already there that is not canonical or does
/// not verify.
pub fn add_signature(
    draft: &Draft,
    key: &SignerKey,
    authorities: &[(Role, VerifierKey)],
    quorum: u32,
) -> Result<Draft, AuthoringError> {
    let st = &draft.statement;
    let pos_of = |name: &str, id: u32| {
        authorities
            .iter()
            .position(|(_, k)| k.name() == name && k.key_id() == id)
    };
    let me = key.verifier();
    let Some(pos) = authorities.iter().position(|(_, k)| k == me) else {
        return Err(AuthoringError::NotAnAuthority(me.to_string()));
    };
    let (roles, needs_quorum) = statement::required_signers(st);
    let role = authorities[pos].0;
    if !roles.contains(&role) {
        return Err(AuthoringError::WrongRole(format!(
            "a {} statement is {}; {} is the election's {role} key",
            st.statement_type(),
            signers_sentence(st.statement_type()),
            me.name()
        )));
    }
    if draft
        .signatures
        .iter()
        .any(|l| l.name == me.name() && l.key_id == me.key_id())
    {
        return Err(AuthoringError::AlreadySigned(me.name().to_string()));
    }
    let needed = if needs_quorum { quorum.max(1) } else { 1 } as usize;
    if draft.signatures.len() >= needed {
        return Err(AuthoringError::Complete(needed));
    }
    let text = st.to_text();
    // The lines already there: by the election's keys, verified, each once.
    for l in &draft.signatures {
        let Some(p) = pos_of(&l.name, l.key_id) else {
            return Err(AuthoringError::Block(rules::Refusal {
                code: RefusalCode::BadSignatureBlock,
                detail: format!(
                    "a signature line by {:?}, which is not a key of the election",
                    l.name
                ),
            }));
        };
        if !authorities[p].1.verify(text.as_bytes(), &l.signature) {
            return Err(AuthoringError::Block(rules::Refusal {
                code: RefusalCode::BadSignature,
                detail: format!(
                    "the signature by {} does not verify: the text changed since it was signed",
                    l.name
                ),
            }));
        }
    }
    let mut lines = draft.signatures.clone();
    lines.push(SignatureLine {
        name: me.name().to_string(),
        key_id: me.key_id(),
        signature: key.sign_bytes(text.as_bytes()).to_vec(),
    });
    // Every position is known (checked above): sort by the election's order.
    lines.sort_by_key(|l| pos_of(&l.name, l.key_id).unwrap_or(usize::MAX));
    Ok(Draft {
        statement: st.clone(),
        signatures: lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: u8) -> String {
        hex::encode([b; 32])
    }

    /// Every type's table, filled with a value of each field's syntax, builds a
    /// statement the parser accepts: the table and the parser agree on the order.
    #[test]
    fn tables_agree_with_the_parser() {
        let board = SignerKey::from_seed("b", [1; 32]).unwrap();
        for &ty in StatementType::ALL {
            let pairs: Vec<(String, String)> = fields(ty)
                .iter()
                .map(|f| {
                    let v = match (f.name, f.syntax) {
                        ("opens", _) => "2026-01-01T00:00:00Z".into(),
                        ("closes", _) => "2026-01-02T00:00:00Z".into(),
                        ("quorum", _) | ("reissues", _) => "1".into(),
                        (_, Syntax::Id) => "x".into(),
                        (_, Syntax::Tag) => hex(7),
                        (_, Syntax::Text) => "some text".into(),
                        (_, Syntax::Number) => "5".into(),
                        (_, Syntax::Time) => "2026-01-01T00:00:00Z".into(),
                        (_, Syntax::Channel) => "mail".into(),
                        (_, Syntax::CredentialReason) => "initial".into(),
                        (_, Syntax::Authority) => format!("board {}", board.verifier()),
                        (_, Syntax::Roll) => format!("{} 10", hex(9)),
                        (_, Syntax::Revote) => "last".into(),
                        (_, Syntax::EventType) => "EndBallots".into(),
                    };
                    (f.name.to_string(), v)
                })
                .rev() // any order in, the table's order out
                .collect();
            let st =
                build(ty, "e", Time(1_767_225_600), &pairs).unwrap_or_else(|e| panic!("{ty}: {e}"));
            let text = st.to_text();
            let names: Vec<&str> = text
                .lines()
                .skip(3)
                .map(|l| l.split(' ').next().unwrap())
                .collect();
            let want: Vec<&str> = fields(ty).iter().map(|f| f.name).collect();
            assert_eq!(names, want, "{ty}");
        }
    }

    #[test]
    fn cosigning_in_any_order_gives_the_canonical_block() {
        let keys: Vec<SignerKey> = (1..=3)
            .map(|i| SignerKey::from_seed(&format!("board{i}"), [i; 32]).unwrap())
            .collect();
        let auth: Vec<(Role, VerifierKey)> = keys
            .iter()
            .map(|k| (Role::Board, k.verifier().clone()))
            .collect();
        let d = Draft::parse(b"urne/v1 open\nelection e\ntime 2026-01-01T00:00:00Z\n").unwrap();
        let r = signature_report(&d, &auth, 2);
        assert_eq!((r.needed, r.missing.len()), (2, 3));
        let d1 = add_signature(&d, &keys[2], &auth, 2).unwrap();
        assert_eq!(
            signature_report(&d1, &auth, 2).refusal.unwrap().code,
            RefusalCode::QuorumNotMet
        );
        let d2 = add_signature(&d1, &keys[0], &auth, 2).unwrap();
        assert_eq!(d2.signatures[0].name, "board1");
        assert_eq!(signature_report(&d2, &auth, 2).refusal, None);
        assert_eq!(
            add_signature(&d2, &keys[1], &auth, 2).unwrap_err(),
            AuthoringError::Complete(2)
        );
        assert!(matches!(
            add_signature(&d1, &keys[2], &auth, 2),
            Err(AuthoringError::AlreadySigned(_))
        ));
        // A text changed after the first signature is not co-signed.
        let mut forged = d1.clone();
        forged.statement.time = Time(1_767_225_601);
        assert!(matches!(
            add_signature(&forged, &keys[0], &auth, 2),
            Err(AuthoringError::Block(_))
        ));
        // Round trip through the mailed file.
        let back = Draft::parse(d2.to_text().as_bytes()).unwrap();
        assert_eq!(back.to_text(), d2.to_text());
    }

    #[test]
    fn unknown_and_repeated_fields_are_named() {
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert!(matches!(
            build(StatementType::Suspend, "e", Time(0), &[p("why", "x")]),
            Err(AuthoringError::UnknownField { .. })
        ));
        assert!(matches!(
            build(
                StatementType::Suspend,
                "e",
                Time(0),
                &[p("reason", "x"), p("reason", "y")]
            ),
            Err(AuthoringError::Repeated(_))
        ));
        // A value smuggling a line would build another statement: refused.
        let tag = hex(1);
        assert!(build(
            StatementType::Revoke,
            "e",
            Time(0),
            &[p("credential", &format!("{tag}\nreason r"))]
        )
        .is_err());
    }
}
