//! The time field: seconds since the Unix epoch written `YYYY-MM-DDTHH:MM:SSZ`
//! (RFC 3339, UTC, no fraction), parse beside format.

use super::civil::{civil_from_days, days_from_civil};
use super::{bad, StatementError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A time, in seconds since the Unix epoch, written `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339,
/// UTC, no fraction: one spelling per instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Time(pub i64);

impl Time {
    /// Returns the current time of the system clock.
    pub fn now() -> Time {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Time(secs)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl FromStr for Time {
    type Err = StatementError;
    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ` with a valid date (years 1970–9999).
    fn from_str(s: &str) -> Result<Self, StatementError> {
        let e = || {
            bad(format!(
                "time {:?} is not YYYY-MM-DDTHH:MM:SSZ",
                s.chars().take(40).collect::<String>()
            ))
        };
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(e());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, StatementError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(e());
            }
            part.parse::<i64>().map_err(|_| e())
        };
        let (y, mo, d, h, mi, se) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mdays = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        if y < 1970
            || !(1..=12).contains(&mo)
            || d < 1
            || d > mdays[(mo - 1) as usize]
            || h > 23
            || mi > 59
            || se > 59
        {
            return Err(e());
        }
        Ok(Time(
            days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se,
        ))
    }
}

impl From<Time> for String {
    fn from(t: Time) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Time {
    type Error = StatementError;
    fn try_from(s: String) -> Result<Self, StatementError> {
        s.parse()
    }
}
