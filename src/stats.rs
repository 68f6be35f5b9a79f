//! Per-election statistics kept by the log for its dashboard and `/v1/elections/<id>`.
//!
//! Owns: counts per statement type, ballots per hour, credential issues per hour by
//! channel, and the lifecycle timeline (seal, open, suspensions, close, results, void,
//! interventions). Updated by the sequencer in the same commit as the entries they
//! count, so they never disagree with the log. Monitors recompute all of this from the
//! entries: nothing here is trusted by anyone, it is a convenience.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// Reason or detail given by the statement, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
        let reason = match &st.body {
            Body::Ballot { .. } => {
                *self.ballots_per_hour.entry(hour).or_default() += 1;
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
                Some(format!("{protocol} {event}"))
            }
            Body::Election(e) => Some(e.title.clone()),
            Body::Suspend { reason } | Body::Resume { reason } => Some(reason.clone()),
            Body::Void { reason, .. } => Some(reason.clone()),
            Body::Intervention {
                actor,
                action,
                reason,
                reissues,
            } => Some(match reissues {
                Some(n) => format!("{actor}: {action} ({reason}; announces {n} reissues)"),
                None => format!("{actor}: {action} ({reason})"),
            }),
            Body::Results {
                scrutin, ballots, ..
            } => Some(format!("{scrutin}: {ballots} ballots")),
            Body::Open | Body::Close => None,
        };
        self.timeline.push(TimelineEvent {
            index,
            time: st.time.to_string(),
            kind,
            reason,
        });
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
