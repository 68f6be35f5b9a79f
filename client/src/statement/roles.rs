//! Who may sign which statement: the roles of each statement type and whether it needs
//! the board quorum. A property of the statement type, used by the authorities' tools
//! to sign ([`super::Authority`], [`crate::authoring`]) and by the rules to judge
//! ([`crate::rules`], which also keeps the table of rules 1).

use super::{Body, Role, Statement, StatementType};

/// Returns the roles allowed to make a statement type, and whether the board quorum
/// is needed (rules 2: `suspend` and `resume` need it like every lifecycle
/// statement; an `intervention` announcing reissues needs it too, see
/// [`required_signers`]).
pub fn required_roles(t: StatementType) -> (&'static [Role], bool) {
    match t {
        StatementType::Election
        | StatementType::Open
        | StatementType::Suspend
        | StatementType::Resume
        | StatementType::Close
        | StatementType::Void
        | StatementType::Results => (&[Role::Board], true),
        StatementType::Credential | StatementType::Revoke => (&[Role::Registrar], false),
        StatementType::Ballot => (&[Role::Platform], false),
        StatementType::Intervention | StatementType::Event => {
            (&[Role::Board, Role::Platform], false)
        }
    }
}

/// Returns the roles allowed to sign this statement and whether the board quorum is
/// needed (rules 2): [`required_roles`] of its type, except that an `intervention`
/// announcing batch reissues (`reissues <n>`) is the bureau's decision: board quorum.
pub fn required_signers(st: &Statement) -> (&'static [Role], bool) {
    match &st.body {
        Body::Intervention {
            reissues: Some(_), ..
        } => (&[Role::Board], true),
        Body::Event {
            protocol, event, ..
        } if protocol == "belenios" => (belenios_signer(event), false),
        _ => required_roles(st.statement_type()),
    }
}

/// The role that produces each event of a Belenios archive: the voting platform
/// (the Belenios server) records ballots, closes the ballot box and computes the
/// encrypted tally; the board holds the setup it validated, the decryption shares of
/// its trustees and the result it proclaims. An event type Belenios does not define
/// may come from either.
pub fn belenios_signer(event: &str) -> &'static [Role] {
    match event {
        "Ballot" | "EndBallots" | "EncryptedTally" => &[Role::Platform],
        "Setup" | "PartialDecryption" | "Result" => &[Role::Board],
        _ => &[Role::Board, Role::Platform],
    }
}
