//! A test kit: authority keys and builders of signed statements for test and demo
//! elections, behind the cargo feature `test-kit`.
//!
//! Owns: [`DemoKeys`] (a board of three, a registrar, a platform: derived from a seed,
//! or fixed), [`named_key`], [`random_tag`] and [`DemoElection`], which signs every
//! statement type with the right authority. The server's tests and benchmarks, this
//! crate's tests, and `urne demo` / `urne load` (crate `urne-demo`) build their
//! statements here, so that one election is written once.
//! Does not own: any rule ([`crate::rules`]) nor any format ([`crate::statement`]).
//! Never for a real election: the keys follow from a seed or a name anyone can read.

use crate::note::{SignerKey, VerifierKey};
use crate::statement::{Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time};
use anyhow::{Context as _, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The authority keys of a demo election, derived from a seed so that an operator can
/// allow the demo's board key on a log started separately (`urne demo --print-board-key`).
pub struct DemoKeys {
    /// Board keys (president and two union delegates); the election needs 2 of 3.
    pub board: Vec<SignerKey>,
    /// The registrar (credential manager).
    pub registrar: SignerKey,
    /// The voting platform.
    pub platform: SignerKey,
}

fn derive_seed(seed: &str, label: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"urne demo key\n");
    h.update(seed.as_bytes());
    h.update(b"\n");
    h.update(label.as_bytes());
    h.finalize().into()
}

impl DemoKeys {
    /// Derives the keys of a demo from `seed`.
    pub fn from_seed(seed: &str) -> Result<Self> {
        let key = |name: &str| {
            SignerKey::from_seed(name, derive_seed(seed, name)).map_err(|e| anyhow::anyhow!("{e}"))
        };
        Ok(DemoKeys {
            board: vec![
                key("bureau.president.demo")?,
                key("bureau.delegue-cgt.demo")?,
                key("bureau.delegue-cfdt.demo")?,
            ],
            registrar: key("registrar.demo")?,
            platform: key("platform.demo")?,
        })
    }

    /// Fixed keys for unit-style tests: a board of `president`, `delegue-a` and
    /// `delegue-b`, a `registrar` and a `platform`, seeds `[1; 32]` to `[5; 32]`.
    ///
    /// # Panics
    /// Never: the names are valid key names.
    pub fn fixed() -> Self {
        let k = |n: &str, b: u8| SignerKey::from_seed(n, [b; 32]).expect("a valid key name");
        DemoKeys {
            board: vec![k("president", 1), k("delegue-a", 2), k("delegue-b", 3)],
            registrar: k("registrar", 4),
            platform: k("platform", 5),
        }
    }
}

/// A fixed test key named `name` (its seed: the name's length, repeated).
///
/// # Panics
/// If `name` is not a valid key name.
pub fn named_key(name: &str) -> SignerKey {
    SignerKey::from_seed(name, [name.len() as u8; 32]).expect("a valid key name")
}

/// Returns a random 32-byte tag.
pub fn random_tag(rng: &mut impl RngCore) -> Tag {
    let mut t = [0u8; 32];
    rng.fill_bytes(&mut t);
    Tag(t)
}

/// A demo election: its id, keys and schedule, and builders of signed statements.
pub struct DemoElection<'k> {
    /// Election id.
    pub id: String,
    /// Its keys.
    pub keys: &'k DemoKeys,
    /// Its scrutins.
    pub scrutins: Vec<String>,
    /// Opening time.
    pub opens: Time,
    /// Closing time.
    pub closes: Time,
    /// The time tolerance (seconds) sealed in its `election` statement: it judges
    /// every statement time of the election (the log must allow it: its
    /// `--time-tolerance` is the largest it accepts).
    pub tolerance: u64,
}

impl<'k> DemoElection<'k> {
    fn stmt(&self, time: Time, body: Body) -> Statement {
        Statement {
            election: self.id.clone(),
            time,
            body,
        }
    }

    fn board2(&self) -> Vec<&SignerKey> {
        vec![&self.keys.board[0], &self.keys.board[1]]
    }

    /// Signs the sealing `election` statement (2 of 3 board signatures).
    pub fn seal(&self, time: Time, title: &str) -> Result<String> {
        self.seal_with_roll(time, title, None)
    }

    /// Signs the sealing `election` statement with a commitment to the electoral
    /// roll (its hash and voter count: the electorate turnout is measured against).
    pub fn seal_with_roll(
        &self,
        time: Time,
        title: &str,
        roll: Option<(Tag, u64)>,
    ) -> Result<String> {
        let mut authorities: Vec<(Role, VerifierKey)> = self
            .keys
            .board
            .iter()
            .map(|k| (Role::Board, k.verifier().clone()))
            .collect();
        authorities.push((Role::Registrar, self.keys.registrar.verifier().clone()));
        authorities.push((Role::Platform, self.keys.platform.verifier().clone()));
        let body = Body::Election(ElectionBody {
            title: title.to_string(),
            scrutins: self.scrutins.clone(),
            authorities,
            quorum: 2,
            tolerance: Some(self.tolerance),
            grace: None,
            revote: Default::default(),
            opens: self.opens,
            closes: self.closes,
            roll,
        });
        self.stmt(time, body)
            .sign(&self.board2())
            .context("signing the election statement")
    }

    /// Signs a lifecycle or board statement with the board quorum.
    pub fn board(&self, time: Time, body: Body) -> Result<String> {
        let st = self.stmt(time, body);
        st.sign(&self.board2())
            .with_context(|| format!("signing a {} statement", st.statement_type()))
    }

    /// Signs a credential issue.
    pub fn credential(
        &self,
        time: Time,
        voter: Tag,
        credential: Tag,
        channel: Channel,
        reason: CredentialReason,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Credential {
                voter,
                credential,
                channel,
                reason,
            },
        )
        .sign(&[&self.keys.registrar])
        .context("signing a credential statement")
    }

    /// Signs a ballot receipt.
    pub fn ballot(
        &self,
        time: Time,
        scrutin: &str,
        credential: Tag,
        receipt: Tag,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Ballot {
                scrutin: scrutin.to_string(),
                credential,
                receipt,
            },
        )
        .sign(&[&self.keys.platform])
        .context("signing a ballot statement")
    }

    /// Signs an intervention trace by the platform.
    pub fn intervention(
        &self,
        time: Time,
        actor: &str,
        action: &str,
        reason: &str,
    ) -> Result<String> {
        self.stmt(
            time,
            Body::Intervention {
                actor: actor.into(),
                action: action.into(),
                reason: reason.into(),
                reissues: None,
            },
        )
        .sign(&[&self.keys.platform])
        .context("signing an intervention statement")
    }

    /// Signs the board's announcement of a batch reissue of `count` credentials (an
    /// intervention with `reissues <count>`, board quorum): it covers that many
    /// batch reissues (channel `batch` or reason `reissue-leak`).
    pub fn announce_reissues(
        &self,
        time: Time,
        actor: &str,
        action: &str,
        reason: &str,
        count: u64,
    ) -> Result<String> {
        self.board(
            time,
            Body::Intervention {
                actor: actor.into(),
                action: action.into(),
                reason: reason.into(),
                reissues: Some(count),
            },
        )
    }
}
