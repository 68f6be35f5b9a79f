//! The ballot-rate alarm: ballots falling far below their recent level while an
//! election is open and not suspended (the 2022 organiser "checked three times a day
//! that the urns fill regularly"; this is that check, every hour).
//!
//! Owns: the threshold (one place: the log's dashboard, `web/app.js`, mirrors it and
//! checks itself against `testdata/ballot-rate/`; the monitor's report calls it), the
//! periods an election was open and not suspended, read from its lifecycle, and the
//! per-hour decision. Does not own: counting ballots (the log's statistics, the
//! monitor's engine) or showing the alarm.
//!
//! An hour is judged by its *rate*, ballots per hour of time the election was open and
//! not suspended within it, so that an hour half suspended is not a collapse. An hour
//! with less than [`MIN_ACTIVE_SECS`] of such time is not judged and does not count in
//! the recent level. The recent level is the mean rate of the last
//! [`WINDOW_HOURS`] judged hours before it (at least two of them); below
//! [`MIN_LEVEL_PER_HOUR`] nothing is judged (a small roll votes too irregularly to
//! tell). The alarm is raised when the rate is below the level divided by
//! [`DROP_FACTOR`].

use serde::{Deserialize, Serialize};

/// The rate of an hour is compared with the mean of this many judged hours before it.
pub const WINDOW_HOURS: usize = 3;
/// Alarm when an hour's rate is below the recent level divided by this.
pub const DROP_FACTOR: u64 = 4;
/// No alarm while the recent level is below this many ballots per hour.
pub const MIN_LEVEL_PER_HOUR: u64 = 20;
/// An hour with less open, unsuspended time than this is neither judged nor used for
/// the level (a rate over a few minutes says nothing).
pub const MIN_ACTIVE_SECS: i64 = 1800;

/// A lifecycle event that opens or stops voting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// `open`: voting starts.
    Open,
    /// `suspend`: voting stops until `resume`.
    Suspend,
    /// `resume`: voting starts again.
    Resume,
    /// `close` (or `void`): voting ends.
    Close,
}

impl Lifecycle {
    /// The lifecycle meaning of a statement type name, if it has one (`void` ends
    /// voting as `close` does).
    pub fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "open" => Lifecycle::Open,
            "suspend" => Lifecycle::Suspend,
            "resume" => Lifecycle::Resume,
            "close" | "void" => Lifecycle::Close,
            _ => return None,
        })
    }
}

/// The periods `[from, to)` (Unix seconds) during which voting was open and not
/// suspended, from the lifecycle events in log order; a period still running ends at
/// `now`.
pub fn active_periods(events: &[(i64, Lifecycle)], now: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut since: Option<i64> = None;
    let mut open = false;
    for &(t, e) in events {
        match e {
            Lifecycle::Open | Lifecycle::Resume => {
                if e == Lifecycle::Open {
                    open = true;
                }
                if open && since.is_none() {
                    since = Some(t);
                }
            }
            Lifecycle::Suspend | Lifecycle::Close => {
                if let Some(s) = since.take() {
                    if t > s {
                        out.push((s, t));
                    }
                }
                if e == Lifecycle::Close {
                    open = false;
                }
            }
        }
    }
    if let Some(s) = since {
        if now > s {
            out.push((s, now));
        }
    }
    out
}

/// Seconds of the hour starting at `hour` (Unix seconds, a multiple of 3,600) covered
/// by `periods`.
pub fn active_secs(hour: i64, periods: &[(i64, i64)]) -> i64 {
    let end = hour + 3600;
    periods
        .iter()
        .map(|&(a, b)| (b.min(end) - a.max(hour)).max(0))
        .sum()
}

/// One hour the alarm judged too low.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateDrop {
    /// Start of the hour (Unix seconds).
    pub hour: i64,
    /// Ballots cast in it.
    pub ballots: u64,
    /// Its rate: ballots per hour of open, unsuspended time (rounded down).
    pub rate: u64,
    /// The recent level it fell from: the mean rate of the judged hours before it
    /// (rounded down).
    pub level: u64,
}

/// The hours whose ballot rate fell far below the recent level. `ballots` gives the
/// ballots per hour start (Unix seconds, multiples of 3,600; missing hours are zero),
/// `periods` the open, unsuspended periods ([`active_periods`]). Hours are judged from
/// the first period's start to the last one's end.
pub fn rate_drops(ballots: &[(i64, u64)], periods: &[(i64, i64)]) -> Vec<RateDrop> {
    let (Some(first), Some(last)) = (
        periods.iter().map(|p| p.0).min(),
        periods.iter().map(|p| p.1).max(),
    ) else {
        return Vec::new();
    };
    let count = |h: i64| {
        ballots
            .iter()
            .filter(|(k, _)| *k == h)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let mut recent: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    let mut hour = first.div_euclid(3600) * 3600;
    while hour < last {
        let active = active_secs(hour, periods);
        if active >= MIN_ACTIVE_SECS {
            let n = count(hour);
            let rate = n.saturating_mul(3600) / active as u64;
            let window = &recent[recent.len().saturating_sub(WINDOW_HOURS)..];
            if window.len() >= 2 {
                let level = window.iter().sum::<u64>() / window.len() as u64;
                if level >= MIN_LEVEL_PER_HOUR && rate.saturating_mul(DROP_FACTOR) < level {
                    out.push(RateDrop {
                        hour,
                        ballots: n,
                        rate,
                        level,
                    });
                }
            }
            recent.push(rate);
        }
        hour += 3600;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Case {
        name: String,
        events: Vec<(i64, String)>,
        now: i64,
        ballots: Vec<(i64, u64)>,
        periods: Vec<(i64, i64)>,
        drops: Vec<RateDrop>,
    }

    /// The cases the web page checks itself against (web/tests/verify.test.js).
    #[test]
    fn shared_cases_decide_as_written() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/ballot-rate");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).expect("testdata/ballot-rate") {
            let p = e.expect("entry").path();
            let c: Case = serde_json::from_slice(&std::fs::read(&p).expect("read"))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let events: Vec<(i64, Lifecycle)> = c
                .events
                .iter()
                .map(|(t, k)| (*t, Lifecycle::from_kind(k).expect("a lifecycle kind")))
                .collect();
            let periods = active_periods(&events, c.now);
            assert_eq!(periods, c.periods, "{}: periods", c.name);
            assert_eq!(rate_drops(&c.ballots, &periods), c.drops, "{}", c.name);
            n += 1;
        }
        assert!(n >= 4, "only {n} cases");
    }

    #[test]
    fn a_steady_election_raises_nothing_and_a_collapse_is_caught() {
        let h = |i: i64| 1_000 * 3600 + i * 3600;
        let periods = active_periods(&[(h(0), Lifecycle::Open), (h(6), Lifecycle::Close)], h(9));
        assert_eq!(periods, vec![(h(0), h(6))]);
        let steady: Vec<_> = (0..6).map(|i| (h(i), 100)).collect();
        assert!(rate_drops(&steady, &periods).is_empty());
        let mut fall = steady.clone();
        fall[4].1 = 24; // 24 × 4 = 96 < 100
        let d = rate_drops(&fall, &periods);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].hour, d[0].rate, d[0].level), (h(4), 24, 100));
        fall[4].1 = 25; // 25 × 4 = 100: not below
        assert!(rate_drops(&fall, &periods).is_empty());
    }

    #[test]
    fn suspended_time_is_not_a_collapse_and_small_rolls_are_not_judged() {
        let h = |i: i64| 2_000 * 3600 + i * 3600;
        // Suspended from 20 minutes into hour 3 to 20 minutes into hour 4: hour 3 (20
        // minutes open) is not judged, hour 4's 60 ballots in 40 minutes are a rate of
        // 90, not a collapse.
        let events = [
            (h(0), Lifecycle::Open),
            (h(3) + 1200, Lifecycle::Suspend),
            (h(4) + 1200, Lifecycle::Resume),
            (h(7), Lifecycle::Close),
        ];
        let periods = active_periods(&events, h(8));
        assert_eq!(active_secs(h(3), &periods), 1200);
        assert_eq!(active_secs(h(4), &periods), 2400);
        let b: Vec<_> = (0..7).map(|i| (h(i), 60)).collect();
        assert!(rate_drops(&b, &periods).is_empty());
        let small: Vec<_> = [(h(0), 10), (h(1), 10), (h(2), 0)].to_vec();
        assert!(rate_drops(&small, &periods).is_empty());
        // A resume without an open, or a second open, does not invent a period.
        assert!(active_periods(&[(h(0), Lifecycle::Resume)], h(1)).is_empty());
        assert_eq!(
            active_periods(&[(h(0), Lifecycle::Open), (h(1), Lifecycle::Open)], h(2)),
            vec![(h(0), h(2))]
        );
    }
}
