//! Per-election statistics kept by the log for its dashboard and `/v1/elections/<id>`.
//!
//! Owns: counts per statement type, ballots per hour and per scrutin, the electorate
//! (the sealed roll's count), credential issues per hour by channel, and the lifecycle timeline (seal, open, suspensions, close, results, void,
//! interventions). Updated by the sequencer in the same commit as the entries they
//! count, so they never disagree with the log. Monitors recompute all of this from the
//! entries: nothing here is trusted by anyone, it is a convenience.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use urne_client::api::EventFacts;
use urne_client::statement::{Body, Statement};

/// One lifecycle event of an election.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TimelineEvent {
    /// Leaf index of the statement.
    pub index: u64,
    /// The statement's time (RFC 3339).
    pub time: String,
    /// Statement type (`election`, `open`, `suspend`, …).
    pub kind: String,
    /// The statement's fields (reason, actor, action, reissues, scrutin, ballots),
    /// flattened into the event's JSON.
    #[serde(flatten)]
    pub facts: EventFacts,
}

/// Statistics of one election.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ElectionStats {
    /// Entries per statement type.
    pub counts: BTreeMap<String, u64>,
    /// Ballots per hour (key: start of the hour, unix seconds).
    pub ballots_per_hour: BTreeMap<i64, u64>,
    /// Credential issues per hour and channel (initial issues included, key `initial`
    /// apart) — reissues are what incidents look like.
    pub credentials_per_hour: BTreeMap<i64, BTreeMap<String, u64>>,
    /// Reissues (a credential for a voter who already had one, whatever its stated
    /// reason) per hour and channel.
    pub reissues_per_hour: BTreeMap<i64, BTreeMap<String, u64>>,
    /// Ballots per scrutin.
    #[serde(default)]
    pub ballots_per_scrutin: BTreeMap<String, u64>,
    /// The electorate: the voter count of the roll the election sealed (`roll`
    /// line), if it sealed one. Turnout is ballots per scrutin over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electorate: Option<u64>,
    /// Lifecycle events in log order.
    pub timeline: Vec<TimelineEvent>,
    /// First and last leaf index of the election.
    pub first_index: u64,
    /// Last leaf index of the election.
    pub last_index: u64,
}

impl ElectionStats {
    /// Accounts for one appended statement at `index`; `reissue` is the rules'
    /// verdict ([`urne_client::rules::Effects::reissue`]: a credential for a voter who
    /// had one), counted whatever the statement's reason says.
    pub fn record(&mut self, index: u64, st: &Statement, reissue: bool) {
        if self.counts.is_empty() {
            self.first_index = index;
        }
        self.last_index = index;
        let kind = st.statement_type().as_str().to_string();
        *self.counts.entry(kind.clone()).or_default() += 1;
        let hour = st.time.0.div_euclid(3600) * 3600;
        let mut ev = TimelineEvent {
            index,
            time: st.time.to_string(),
            kind,
            facts: EventFacts::default(),
        };
        // Fields, never sentences: the page words them in the reader's language.
        match &st.body {
            Body::Ballot { scrutin, .. } => {
                *self.ballots_per_hour.entry(hour).or_default() += 1;
                *self.ballots_per_scrutin.entry(scrutin.clone()).or_default() += 1;
                return;
            }
            Body::Credential { channel, .. } => {
                let ch = channel.as_str().to_string();
                *self
                    .credentials_per_hour
                    .entry(hour)
                    .or_default()
                    .entry(ch.clone())
                    .or_default() += 1;
                if reissue {
                    *self
                        .reissues_per_hour
                        .entry(hour)
                        .or_default()
                        .entry(ch)
                        .or_default() += 1;
                }
                return;
            }
            Body::Revoke { .. } => return,
            // Protocol events are counted by type; only the setup and the result
            // enter the timeline (not one line per anchored ballot).
            Body::Event {
                protocol, event, ..
            } => {
                if !matches!(event.as_str(), "Setup" | "Result") {
                    return;
                }
                ev.facts.reason = Some(format!("{protocol} {event}"));
            }
            Body::Election(e) => {
                self.electorate = e.roll.as_ref().map(|(_, n)| *n);
                ev.facts.reason = Some(e.title.clone());
            }
            Body::Suspend { reason } | Body::Resume { reason } => {
                ev.facts.reason = Some(reason.clone())
            }
            Body::Void { reason, .. } => ev.facts.reason = Some(reason.clone()),
            Body::Intervention {
                actor,
                action,
                reason,
                reissues,
            } => {
                ev.facts.actor = Some(actor.clone());
                ev.facts.action = Some(action.clone());
                ev.facts.reason = Some(reason.clone());
                ev.facts.reissues = *reissues;
            }
            Body::Results {
                scrutin, ballots, ..
            } => {
                ev.facts.scrutin = Some(scrutin.clone());
                ev.facts.ballots = Some(*ballots);
            }
            Body::Open | Body::Close => {}
        }
        self.timeline.push(ev);
    }

    /// Encodes for storage.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes from storage.
    ///
    /// # Errors
    /// If the bytes are not statistics written by [`ElectionStats::encode`].
    pub fn decode(b: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use urne_client::statement::{ElectionBody, Tag, Time};

    fn st(time: i64, body: Body) -> Statement {
        Statement {
            election: "e".into(),
            time: Time(time),
            body,
        }
    }

    /// The electorate comes from the sealed roll; ballots are counted per scrutin;
    /// an intervention and results are kept as fields, never as an English sentence.
    #[test]
    fn electorate_scrutins_and_worded_fields() {
        let key = urne_client::note::SignerKey::from_seed("b", [1; 32]).unwrap();
        let mut s = ElectionStats::default();
        let seal = |roll| {
            st(
                0,
                Body::Election(ElectionBody {
                    title: "T".into(),
                    scrutins: vec!["a".into(), "b".into()],
                    authorities: vec![(
                        urne_client::statement::Role::Board,
                        key.verifier().clone(),
                    )],
                    quorum: 1,
                    tolerance: Some(0),
                    opens: Time(0),
                    closes: Time(10),
                    grace: None,
                    revote: Default::default(),
                    roll,
                }),
            )
        };
        s.record(0, &seal(None), false);
        assert_eq!(s.electorate, None);
        s.record(0, &seal(Some((Tag([7; 32]), 300))), false);
        assert_eq!(s.electorate, Some(300));
        for (i, sc) in ["a", "a", "b"].iter().enumerate() {
            let b = Body::Ballot {
                scrutin: sc.to_string(),
                credential: Tag([i as u8; 32]),
                receipt: Tag([9; 32]),
            };
            s.record(1 + i as u64, &st(3700, b), false);
        }
        assert_eq!(s.ballots_per_scrutin.get("a"), Some(&2));
        assert_eq!(s.ballots_per_scrutin.get("b"), Some(&1));
        assert_eq!(s.ballots_per_hour.get(&3600), Some(&3));
        let i = Body::Intervention {
            actor: "ops".into(),
            action: "reissue".into(),
            reason: "leak".into(),
            reissues: Some(12),
        };
        s.record(9, &st(4000, i), false);
        let ev = s.timeline.last().unwrap();
        assert_eq!(
            (
                ev.facts.actor.as_deref(),
                ev.facts.action.as_deref(),
                ev.facts.reason.as_deref(),
                ev.facts.reissues
            ),
            (Some("ops"), Some("reissue"), Some("leak"), Some(12))
        );
        // Stored statistics of an older version (no new fields) still decode.
        let old = br#"{"counts":{},"ballots_per_hour":{},"credentials_per_hour":{},"reissues_per_hour":{},"timeline":[{"index":0,"time":"1970-01-01T00:00:00Z","kind":"open"}],"first_index":0,"last_index":0}"#;
        let d = ElectionStats::decode(old).unwrap();
        assert_eq!((d.electorate, d.ballots_per_scrutin.len()), (None, 0));
    }
}
