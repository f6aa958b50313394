//! Time zones for time-of-day habits: IANA names through `chrono-tz` (feature
//! `time-zones`); without the feature only `UTC` is known.

use crate::time::Timestamp;

/// A time zone a habit reads local hours in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Coordinated Universal Time.
    #[default]
    Utc,
    /// An IANA zone.
    #[cfg(feature = "time-zones")]
    Iana(chrono_tz::Tz),
}

impl Zone {
    /// The zone named `name` (`UTC`, or an IANA name such as `Europe/Paris`).
    pub(crate) fn parse(name: &str) -> Option<Zone> {
        if name == "UTC" {
            return Some(Zone::Utc);
        }
        #[cfg(feature = "time-zones")]
        {
            name.parse::<chrono_tz::Tz>().ok().map(Zone::Iana)
        }
        #[cfg(not(feature = "time-zones"))]
        {
            None
        }
    }

    /// The local hour (0..=23) of `at`.
    pub(crate) fn hour(self, at: Timestamp) -> u32 {
        match self {
            Zone::Utc => {
                let hour = at.as_millis().div_euclid(3_600_000).rem_euclid(24);
                u32::try_from(hour).unwrap_or(0)
            }
            #[cfg(feature = "time-zones")]
            Zone::Iana(tz) => {
                use chrono::Timelike;
                at.to_datetime().with_timezone(&tz).hour()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hours() {
        let t = Timestamp::from_secs(1_767_139_200 + 23 * 3600).unwrap(); // 2025-12-31T23:00Z
        assert_eq!(Zone::Utc.hour(t), 23);
        assert_eq!(Zone::parse("Mars/Base"), None);
        #[cfg(feature = "time-zones")]
        {
            assert_eq!(Zone::parse("Europe/Paris").unwrap().hour(t), 0);
            assert_eq!(Zone::parse("America/New_York").unwrap().hour(t), 18);
        }
    }
}
