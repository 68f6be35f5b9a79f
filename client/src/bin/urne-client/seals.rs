//! A monitor re-checks the automatic seals of the elections it audits (R.211-572).
//!
//! Owns: for each election the monitor's own rule state says is closed and past its
//! seal instant (close + sealed grace), fetching the seal the log shows
//! (`/v1/elections/<id>`), re-checking it (the checkpoint opens under the monitor's
//! witness policy, `urne_client::seal::check` accepts it against the monitor's own
//! state, and it is consistent with the tree the monitor verified), announcing it once
//! (`seal`, info: "urne scellée le …, empreinte …, témoins …"), and then checking that
//! every later entry of that election is a counting statement, `results` or a
//! protocol `event` (`rule_violation`, code `election_sealed`). A log that shows no seal ten minutes after the instant gets a
//! `seal_missing` warning; a seal that does not check, a `seal_invalid` critical
//! alert. Does not own: the seal decision (library), the rules (library), alert
//! delivery (`monitor.rs`).
//!
//! Seals are re-checked after a restart of the monitor (one request per sealed
//! election), and entries after a seal are fetched a second time (only those).

use crate::engine::{stream_entries, Alert};
use crate::fail::{Fail, Kind, Res};
use crate::http::Log;
use crate::store::RuleState;
use crate::trust::{check_consistent, Trust};
use std::collections::{BTreeMap, HashSet};
use urne_client::checkpoint::SignedCheckpoint;
use urne_client::consistency::Shown;
use urne_client::rules::Phase;
use urne_client::seal::Seal;
use urne_client::statement::{Body, SignedStatement, Time};

/// How long after its seal instant a log may take to show the seal.
const MISSING_AFTER_SECS: i64 = 600;

/// The seals verified so far, and what was already alerted.
#[derive(Default)]
pub struct Seals {
    /// Election id → its verified seal and the size up to which later entries were
    /// checked.
    verified: BTreeMap<String, (Seal, u64)>,
    alerted: HashSet<(String, &'static str)>,
}

impl Seals {
    /// Checks the seals of every closed election of `state` against `current` (the
    /// checkpoint the monitor just verified); returns the alerts to raise.
    ///
    /// # Errors
    /// A network failure while fetching entries.
    pub fn check(
        &mut self,
        log: &Log,
        trust: &Trust,
        state: &RuleState,
        current: &SignedCheckpoint,
    ) -> Res<Vec<Alert>> {
        let now = Time::now();
        let mut alerts = Vec::new();
        let elections = state.elections().map_err(|e| {
            Fail::new(
                Kind::Other,
                format!("reading the elections of the rule state: {e}"),
            )
        })?;
        for es in elections {
            let (Some(deadline), Phase::Closed) = (es.sealed_after(), es.phase) else {
                continue;
            };
            let id = es.id.clone();
            if !self.verified.contains_key(&id) {
                if now < deadline {
                    continue;
                }
                let shown = log
                    .get_json(&format!("v1/elections/{id}"))?
                    .and_then(|j| j.get("seal").filter(|s| !s.is_null()).cloned());
                let Some(shown) = shown else {
                    if now.0 > deadline.0 + MISSING_AFTER_SECS
                        && self.alerted.insert((id.clone(), "seal_missing"))
                    {
                        let mut a = Alert::new(
                            "seal_missing",
                            "warning",
                            format!(
                                "election {id} was to be sealed at {deadline} (close + grace), and the log shows no seal cosigned by its witnesses after it"
                            ),
                        );
                        a.election = Some(id.clone());
                        alerts.push(a);
                    }
                    continue;
                };
                if shown["size"]
                    .as_u64()
                    .is_some_and(|n| n > current.checkpoint.size)
                {
                    continue; // a seal ahead of the tree verified: at the next poll
                }
                match verify(log, trust, &es, &shown, current) {
                    Ok(seal) => {
                        let mut a = Alert::new("seal", "info", describe(&id, &seal));
                        a.election = Some(id.clone());
                        a.index = Some(seal.close_index);
                        a.evidence = Some(shown);
                        alerts.push(a);
                        let from = seal.size;
                        self.verified.insert(id.clone(), (seal, from));
                    }
                    Err(why) => {
                        if self.alerted.insert((id.clone(), "seal_invalid")) {
                            let mut a = Alert::new(
                                "seal_invalid",
                                "critical",
                                format!("the seal the log shows for election {id} does not check: {why}"),
                            );
                            a.election = Some(id.clone());
                            a.evidence = Some(shown);
                            alerts.push(a);
                        }
                        continue;
                    }
                }
            }
            // Every entry of the election after its seal is a counting statement.
            let Some((_, scanned)) = self.verified.get(&id) else {
                continue;
            };
            let (start, end) = (*scanned, current.checkpoint.size);
            if start < end {
                stream_entries(log, &current.checkpoint, start, end, 16, |first, es| {
                    for (i, bytes) in es.iter().enumerate() {
                        let Ok(s) = SignedStatement::parse(bytes) else {
                            continue; // reported by the rules check
                        };
                        let st = &s.statement;
                        let counting = matches!(st.body, Body::Results { .. } | Body::Event { .. });
                        if st.election == id && !counting {
                            let index = first + i as u64;
                            let mut a = Alert::new(
                                "rule_violation",
                                "critical",
                                format!(
                                    "entry {index} ({} of {id}) was appended after the election's seal (the checkpoint of {start} entries): election_sealed; the log should have refused it",
                                    st.statement_type()
                                ),
                            );
                            a.election = Some(id.clone());
                            a.index = Some(index);
                            a.time = Some(st.time.to_string());
                            a.evidence = Some(serde_json::json!({
                                "code": "election_sealed",
                                "entry": String::from_utf8_lossy(bytes),
                            }));
                            alerts.push(a);
                        }
                    }
                    Ok(())
                })?;
                if let Some(v) = self.verified.get_mut(&id) {
                    v.1 = end;
                }
            }
        }
        Ok(alerts)
    }
}

/// Re-checks a seal the log shows, with the monitor's own state of the election.
fn verify(
    log: &Log,
    trust: &Trust,
    es: &urne_client::rules::ElectionState,
    shown: &serde_json::Value,
    current: &SignedCheckpoint,
) -> Result<Seal, String> {
    let note = shown["checkpoint"]
        .as_str()
        .ok_or("the seal has no checkpoint")?;
    let cp = trust.open(note).map_err(|f| f.msg)?;
    let seal = urne_client::seal::check(es, &cp).map_err(|e| e.to_string())?;
    if cp.checkpoint.size > current.checkpoint.size {
        return Err(format!(
            "its checkpoint of {} entries is ahead of the one verified ({}) although its size says otherwise",
            cp.checkpoint.size, current.checkpoint.size
        ));
    }
    check_consistent(log, trust, &cp, current, Shown::Elsewhere("election seal"))
        .map_err(|f| f.msg)?;
    Ok(seal)
}

/// The sentence of a verified seal, in French first (what bureau members read).
pub fn describe(id: &str, seal: &Seal) -> String {
    let witnesses = seal
        .witnesses
        .iter()
        .map(|w| format!("{} le {}", w.name, w.time))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "urne scellée le {} (élection {id}) : empreinte {} (arbre de {} entrées, clôture à l'entrée {}), témoins : {witnesses} — election {id} sealed",
        seal.sealed_after, seal.root, seal.size, seal.close_index
    )
}
