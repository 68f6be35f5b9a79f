//! The thresholds of urne's pattern alarms, defined once.
//!
//! Owns: how many credential reissues in one hour of one election make a burst, and
//! how soon after a reissue a ballot is flagged. Used by the monitor's detectors
//! (their defaults), by `urne-client alerts` (through [`crate::voter`]) and by the web
//! page, which checks its own copy against `testdata/thresholds.json` (the Rust tests
//! check the same file against these constants). They decide nothing about validity:
//! they only say when a fact of the log is worth a human's look.

/// An election with more credential reissues than this within one hour is flagged
/// (`reissue_burst`).
///
/// 50, not 300: the 2022 incidents were helpdesk reissue waves of a few dozen to a
/// few hundred per hour, and a warning costs a bureau member one look, while a missed
/// wave costs votes. A board-announced batch reissue (after a leak) exceeds it on
/// purpose and is flagged too: its announcement (`intervention … reissues=N`) is what
/// the person looking then finds. Large elections raise it with `monitor
/// --burst-per-hour`.
pub const REISSUE_BURST_PER_HOUR: u64 = 50;

/// A ballot cast this many minutes or less after a reissue of its credential (but a
/// batch one) is flagged (`reissue_then_vote`): the pattern of a credential obtained
/// at the helpdesk by someone else and used at once.
pub const REISSUE_THEN_VOTE_MINUTES: i64 = 30;

#[cfg(test)]
mod tests {
    use super::*;

    /// The web page's copy of the thresholds (`testdata/thresholds.json`, read by the
    /// page's tests) says the same.
    #[test]
    fn testdata_holds_the_same_thresholds() {
        let text = include_str!("../../testdata/thresholds.json");
        let v: serde_json::Value = serde_json::from_str(text).expect("thresholds.json");
        assert_eq!(v["reissue_burst_per_hour"], REISSUE_BURST_PER_HOUR);
        assert_eq!(v["reissue_then_vote_minutes"], REISSUE_THEN_VOTE_MINUTES);
    }
}
