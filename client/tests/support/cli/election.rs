//! The test election: its origin and ids, its authorities' keys (fixed seeds), the
//! statements they sign, and [`fill`], which seals, opens, issues and votes.

use super::Server;
use urne_client::note::SignerKey;
use urne_client::statement::{
    Body, Channel, CredentialReason, ElectionBody, Role, Statement, Tag, Time,
};

pub const ORIGIN: &str = "test.urne.example/log";
pub const ELECTION: &str = "cse-test";
pub const SCRUTIN: &str = "college-1";

/// The authorities of the test election (fixed seeds).
pub struct Keys {
    pub board: SignerKey,
    pub registrar: SignerKey,
    pub platform: SignerKey,
    /// Time of the last lifecycle statement made: the log refuses one dated at or
    /// before the previous, so the next is dated a second after it at least.
    pub last_lifecycle: std::cell::Cell<i64>,
}

impl Keys {
    pub fn new() -> Self {
        Keys {
            board: SignerKey::from_seed("board.test", [1; 32]).unwrap(),
            registrar: SignerKey::from_seed("registrar.test", [2; 32]).unwrap(),
            platform: SignerKey::from_seed("platform.test", [3; 32]).unwrap(),
            last_lifecycle: std::cell::Cell::new(i64::MIN),
        }
    }

    /// A statement dated now, or at the last lifecycle statement's time if that is
    /// ahead (a ballot is dated in the voting period its `open` began).
    pub fn stmt(&self, body: Body) -> String {
        self.stmt_at(body, Time(Time::now().0.max(self.last_lifecycle.get())))
    }

    /// A statement of the test election at `time`, signed by the right authority.
    pub fn stmt_at(&self, body: Body, time: Time) -> String {
        let time = match body {
            Body::Open
            | Body::Suspend { .. }
            | Body::Resume { .. }
            | Body::Close
            | Body::Void { .. }
            | Body::Results { .. } => {
                let t = time.0.max(self.last_lifecycle.get().saturating_add(1));
                self.last_lifecycle.set(t);
                Time(t)
            }
            _ => time,
        };
        let st = Statement {
            election: ELECTION.into(),
            time,
            body,
        };
        let key = match st.statement_type().as_str() {
            "credential" | "revoke" => &self.registrar,
            "ballot" => &self.platform,
            _ => &self.board,
        };
        st.sign(&[key]).unwrap()
    }

    pub fn seal(&self, title: &str) -> String {
        self.seal_with_tolerance(title, 300)
    }

    /// The `election` statement, sealing `tolerance` seconds of time tolerance.
    pub fn seal_with_tolerance(&self, title: &str, tolerance: u64) -> String {
        let now = Time::now().0;
        self.stmt(Body::Election(ElectionBody {
            title: title.into(),
            scrutins: vec![SCRUTIN.into()],
            authorities: vec![
                (Role::Board, self.board.verifier().clone()),
                (Role::Registrar, self.registrar.verifier().clone()),
                (Role::Platform, self.platform.verifier().clone()),
            ],
            quorum: 1,
            opens: Time(now - 600),
            closes: Time(now + 86_400),
            tolerance: Some(tolerance),
            grace: None,
            revote: Default::default(),
            roll: None,
        }))
    }

    pub fn credential(
        &self,
        voter: Tag,
        credential: Tag,
        channel: Channel,
        reason: CredentialReason,
    ) -> String {
        self.stmt(Body::Credential {
            voter,
            credential,
            channel,
            reason,
        })
    }

    pub fn ballot(&self, credential: Tag, receipt: Tag) -> String {
        self.stmt(Body::Ballot {
            scrutin: SCRUTIN.into(),
            credential,
            receipt,
        })
    }
}

pub fn tag(n: u8, kind: u8) -> Tag {
    let mut t = [n; 32];
    t[0] = kind;
    Tag(t)
}

/// Seals and opens the election, issues credentials to voters 1..=n and casts the
/// ballots of voters 1..=ballots; returns the submit answers of the ballots.
pub fn fill(s: &Server, k: &Keys, title: &str, n: u8, ballots: u8) -> Vec<serde_json::Value> {
    s.ok(&k.seal(title));
    s.ok(&k.stmt(Body::Open));
    for v in 1..=n {
        s.ok(&k.credential(
            tag(v, 0xa0),
            tag(v, 0xc0),
            Channel::Mail,
            CredentialReason::Initial,
        ));
    }
    (1..=ballots)
        .map(|v| s.ok(&k.ballot(tag(v, 0xc0), tag(v, 0xe0))))
        .collect()
}
