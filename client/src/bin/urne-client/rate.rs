//! The monitor's ballot-rate alarm: after each catch-up, every election is judged by
//! the one rule of [`urne_client::ballot_rate`] (the web dashboard applies the same),
//! and each hour that fell far below its recent level is alerted once.
//!
//! Owns: turning the report data of an election (ballots per hour, lifecycle) into
//! the rule's input, and remembering which hours were alerted. Does not own the
//! threshold or the decision.

use crate::engine::{Alert, ElectionReport};
use std::collections::BTreeMap;
use urne_client::ballot_rate::{self, Lifecycle, RateDrop};
use urne_client::statement::Time;

/// The hours of `rep` whose ballot rate collapsed, judged at `now` (Unix seconds): the
/// periods open and not suspended end at `now` while the election is open.
pub fn drops(rep: &ElectionReport, now: i64) -> Vec<RateDrop> {
    let events: Vec<(i64, Lifecycle)> = rep
        .timeline
        .iter()
        .filter_map(|e| Lifecycle::from_kind(&e.kind).map(|l| (e.time, l)))
        .collect();
    let periods = ballot_rate::active_periods(&events, now);
    let ballots: Vec<(i64, u64)> = rep
        .ballots_per_hour
        .iter()
        .map(|(h, n)| (h * 3600, *n))
        .collect();
    ballot_rate::rate_drops(&ballots, &periods)
}

/// The alerts of the hours not alerted before; marks them alerted.
pub fn new_alerts(reports: &mut BTreeMap<String, ElectionReport>, now: i64) -> Vec<Alert> {
    let mut out = Vec::new();
    for (id, rep) in reports.iter_mut() {
        for d in drops(rep, now) {
            if rep.rate_alerted.contains(&d.hour) {
                continue;
            }
            rep.rate_alerted.push(d.hour);
            let mut a = Alert::new(
                "ballot_rate",
                "warning",
                format!(
                    "election {id}: {} ballots per hour of voting from {} to {}, against {} on average in the judged hours before (alarm below 1/{} of it, while open and not suspended)",
                    d.rate,
                    Time(d.hour),
                    Time(d.hour + 3600),
                    d.level,
                    ballot_rate::DROP_FACTOR
                ),
            );
            a.election = Some(id.clone());
            a.time = Some(Time(d.hour).to_string());
            a.evidence = serde_json::to_value(&d).ok();
            out.push(a);
        }
    }
    out
}
