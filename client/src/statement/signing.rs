//! Signing statements: [`Statement::sign`] with note keys, and [`Authority`], a key with
//! its role that signs only what its role may (the roles are `roles`).

use super::{bad, required_signers, Role, Statement, StatementError, MAX_ENTRY_SIZE};
use crate::note::{self, SignerKey, VerifierKey};

impl Statement {
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
        let (roles, _) = required_signers(st);
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
