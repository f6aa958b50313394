//! Time: [`Timestamp`], the engine [`Clock`] and the [`Window`] rules.
//!
//! The engine owns no clock. Record times come from the records themselves, and "now" is
//! whatever the host last passed to `advance_time`. The rules, fixed here once:
//!
//! - "last N days" is the half-open interval `(now − N·86400 s, now]`;
//! - "between A and B" is `[A, B)`;
//! - "ever" is `(−∞, now]`; events after `now` count in no window;
//! - "since T" is inclusive: `at ≥ T`;
//! - "days since T" is `floor((now − T) / 86400 s)`.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::error::TimeError;

/// Milliseconds in one day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// A point in time: milliseconds since the Unix epoch, UTC, within years 1..=9999.
///
/// ```
/// use audience::Timestamp;
/// let t = Timestamp::from_secs(1_767_139_200)?;
/// assert_eq!(t.to_string(), "2025-12-31T00:00:00.000Z");
/// assert!(Timestamp::from_millis(i64::MAX).is_err());
/// # Ok::<(), audience::TimeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Timestamp(pub(crate) i64);

impl Timestamp {
    /// The earliest valid time: 0001-01-01T00:00:00.000Z.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000);
    /// The latest valid time: 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// A timestamp from milliseconds since the epoch.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] outside years 1..=9999.
    pub fn from_millis(millis: i64) -> Result<Self, TimeError> {
        if (Self::MIN.0..=Self::MAX.0).contains(&millis) {
            Ok(Timestamp(millis))
        } else {
            Err(TimeError::OutOfRange { millis })
        }
    }

    /// A timestamp from whole seconds since the epoch.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] outside years 1..=9999.
    pub fn from_secs(secs: i64) -> Result<Self, TimeError> {
        let millis = secs
            .checked_mul(1000)
            .ok_or(TimeError::OutOfRange { millis: i64::MAX })?;
        Self::from_millis(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole days since the epoch, rounded towards minus infinity.
    pub const fn day_number(self) -> i64 {
        self.0.div_euclid(MILLIS_PER_DAY)
    }

    /// This time plus a signed number of milliseconds.
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] when the result leaves years 1..=9999.
    pub fn checked_add_millis(self, millis: i64) -> Result<Self, TimeError> {
        let sum = self
            .0
            .checked_add(millis)
            .ok_or(TimeError::OutOfRange { millis: i64::MAX })?;
        Self::from_millis(sum)
    }

    /// This time plus `days` whole days (negative goes back).
    ///
    /// # Errors
    /// [`TimeError::OutOfRange`] when the result leaves years 1..=9999.
    pub fn checked_add_days(self, days: i64) -> Result<Self, TimeError> {
        let millis = days
            .checked_mul(MILLIS_PER_DAY)
            .ok_or(TimeError::OutOfRange { millis: i64::MAX })?;
        self.checked_add_millis(millis)
    }

    /// The same instant as a chrono `DateTime<Utc>`.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every value in range is representable by chrono; the fallback is never taken.
        DateTime::from_timestamp_millis(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = TimeError;
    fn try_from(millis: i64) -> Result<Self, TimeError> {
        Self::from_millis(millis)
    }
}

impl From<Timestamp> for i64 {
    fn from(t: Timestamp) -> i64 {
        t.0
    }
}

impl TryFrom<DateTime<Utc>> for Timestamp {
    type Error = TimeError;
    fn try_from(dt: DateTime<Utc>) -> Result<Self, TimeError> {
        Self::from_millis(dt.timestamp_millis())
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.to_datetime()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        )
    }
}

/// A time window over event times, evaluated against the engine clock.
///
/// ```
/// use audience::{Timestamp, Window};
/// let now = Timestamp::from_secs(10 * 86_400)?;
/// let w = Window::last_days(7)?;
/// assert!(w.contains(Timestamp::from_secs(3 * 86_400 + 1)?, now));
/// assert!(!w.contains(Timestamp::from_secs(3 * 86_400)?, now)); // the far edge is open
/// assert!(w.contains(now, now)); // the near edge is closed
/// # Ok::<(), audience::TimeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// `(now − days·86400 s, now]`; `days` ≥ 1.
    LastDays(u32),
    /// `[from, to)`, also capped at `now`.
    Between {
        /// Inclusive start.
        from: Timestamp,
        /// Exclusive end.
        to: Timestamp,
    },
    /// `(−∞, now]`.
    Ever,
}

impl Window {
    /// The window "last `days` days".
    ///
    /// # Errors
    /// [`TimeError::EmptyWindow`] for 0 days.
    pub fn last_days(days: u32) -> Result<Self, TimeError> {
        let w = Window::LastDays(days);
        w.validate()?;
        Ok(w)
    }

    /// The window `[from, to)`.
    ///
    /// # Errors
    /// [`TimeError::EmptyWindow`] when `to <= from`.
    pub fn between(from: Timestamp, to: Timestamp) -> Result<Self, TimeError> {
        let w = Window::Between { from, to };
        w.validate()?;
        Ok(w)
    }

    /// Checks a window built directly or deserialized.
    ///
    /// # Errors
    /// [`TimeError::EmptyWindow`] for a window that can hold no instant.
    pub fn validate(&self) -> Result<(), TimeError> {
        match *self {
            Window::LastDays(0) => Err(TimeError::EmptyWindow),
            Window::Between { from, to } if to <= from => Err(TimeError::EmptyWindow),
            _ => Ok(()),
        }
    }

    /// The earliest instant inside the window at clock `now` (`None`: unbounded).
    pub fn start(&self, now: Timestamp) -> Option<Timestamp> {
        match *self {
            Window::LastDays(days) => {
                let span = i64::from(days).saturating_mul(MILLIS_PER_DAY);
                let start = now.0.saturating_sub(span).saturating_add(1);
                Some(Timestamp(start.max(Timestamp::MIN.0)))
            }
            Window::Between { from, .. } => Some(from),
            Window::Ever => None,
        }
    }

    /// Whether an event at `at` counts in this window at clock `now`.
    pub fn contains(&self, at: Timestamp, now: Timestamp) -> bool {
        if at > now {
            return false;
        }
        match *self {
            Window::Between { from, to } => from <= at && at < to,
            _ => self.start(now).is_none_or(|s| at >= s),
        }
    }
}

/// "Since" as the engine defines it: `at` is on or after `mark`.
pub fn is_since(at: Timestamp, mark: Timestamp) -> bool {
    at >= mark
}

/// Whole days from `at` to `now`, rounded down: `floor((now − at) / 86400 s)`.
pub fn days_since(at: Timestamp, now: Timestamp) -> i64 {
    // Both values lie within years 1..=9999, so the difference cannot overflow.
    (now.0 - at.0).div_euclid(MILLIS_PER_DAY)
}

/// The engine clock: unset at start, moved only forwards by the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    now: Option<Timestamp>,
}

impl Clock {
    /// The current time, if the host has set one.
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// The current time, or a typed error for time-relative work with the clock unset.
    ///
    /// # Errors
    /// [`TimeError::ClockUnset`].
    pub fn require(&self) -> Result<Timestamp, TimeError> {
        self.now.ok_or(TimeError::ClockUnset)
    }

    /// Checks that the clock may move to `to` without changing it.
    ///
    /// # Errors
    /// [`TimeError::Backwards`] when `to` is before the current time.
    pub fn check_advance(&self, to: Timestamp) -> Result<(), TimeError> {
        match self.now {
            Some(now) if to < now => Err(TimeError::Backwards { now, to }),
            _ => Ok(()),
        }
    }

    /// Moves the clock to `to` (the same time is a no-op).
    ///
    /// # Errors
    /// [`TimeError::Backwards`] when `to` is before the current time; the clock is unchanged.
    pub fn advance(&mut self, to: Timestamp) -> Result<(), TimeError> {
        self.check_advance(to)?;
        self.now = Some(to);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    #[test]
    fn range_is_years_1_to_9999() {
        assert!(Timestamp::from_millis(Timestamp::MIN.0).is_ok());
        assert!(Timestamp::from_millis(Timestamp::MAX.0).is_ok());
        assert_eq!(
            Timestamp::from_millis(Timestamp::MIN.0 - 1),
            Err(TimeError::OutOfRange {
                millis: Timestamp::MIN.0 - 1
            })
        );
        assert!(Timestamp::from_millis(Timestamp::MAX.0 + 1).is_err());
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        // Year 10000 starts one millisecond after MAX.
        assert!(Timestamp::from_secs(253_402_300_800).is_err());
        assert!(Timestamp::from_secs(i64::MAX).is_err());
    }

    #[test]
    fn serde_rejects_out_of_range() {
        let json = serde_json::to_string(&t(5)).unwrap();
        assert_eq!(json, "5");
        assert!(serde_json::from_str::<Timestamp>("253402300800000").is_err());
        assert_eq!(serde_json::from_str::<Timestamp>("5").unwrap(), t(5));
    }

    #[test]
    fn last_days_is_half_open() {
        let now = t(10 * MILLIS_PER_DAY);
        let w = Window::last_days(7).unwrap();
        assert!(w.contains(now, now));
        assert!(w.contains(t(3 * MILLIS_PER_DAY + 1), now));
        assert!(!w.contains(t(3 * MILLIS_PER_DAY), now));
        assert!(
            !w.contains(t(now.0 + 1), now),
            "future events count nowhere"
        );
        assert_eq!(w.start(now), Some(t(3 * MILLIS_PER_DAY + 1)));
    }

    #[test]
    fn workload_day_rule_matches() {
        // WORKLOAD.md: "last D days" means day in [731 - D, 730] with now = day 730.
        let day = |d: i64| t(1_704_067_200_000 + d * MILLIS_PER_DAY);
        let now = day(730);
        let w = Window::last_days(7).unwrap();
        assert!(w.contains(day(724), now));
        assert!(!w.contains(day(723), now));
        let w90 = Window::last_days(90).unwrap();
        assert!(w90.contains(day(641), now) && !w90.contains(day(640), now));
    }

    #[test]
    fn between_is_closed_open_and_capped_at_now() {
        let w = Window::between(t(100), t(200)).unwrap();
        assert!(w.contains(t(100), t(1000)));
        assert!(!w.contains(t(200), t(1000)));
        assert!(!w.contains(t(150), t(120)), "after now");
        assert_eq!(Window::between(t(5), t(5)), Err(TimeError::EmptyWindow));
        assert_eq!(Window::last_days(0), Err(TimeError::EmptyWindow));
    }

    #[test]
    fn ever_is_everything_up_to_now() {
        assert!(Window::Ever.contains(Timestamp::MIN, t(0)));
        assert!(!Window::Ever.contains(t(1), t(0)));
    }

    #[test]
    fn since_is_inclusive_and_days_since_floors() {
        assert!(is_since(t(5), t(5)));
        assert!(!is_since(t(4), t(5)));
        assert_eq!(days_since(t(0), t(MILLIS_PER_DAY - 1)), 0);
        assert_eq!(days_since(t(0), t(MILLIS_PER_DAY)), 1);
        assert_eq!(
            days_since(t(MILLIS_PER_DAY), t(0)),
            -1,
            "future is negative"
        );
        assert_eq!(days_since(Timestamp::MIN, Timestamp::MAX), 3_652_058);
    }

    #[test]
    fn clock_starts_unset_and_never_goes_back() {
        let mut c = Clock::default();
        assert_eq!(c.require(), Err(TimeError::ClockUnset));
        c.advance(t(10)).unwrap();
        c.advance(t(10)).unwrap();
        assert_eq!(
            c.advance(t(9)),
            Err(TimeError::Backwards {
                now: t(10),
                to: t(9)
            })
        );
        assert_eq!(c.now(), Some(t(10)));
    }
}
