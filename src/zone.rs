//! Time zones from the system's zone database (`/usr/share/zoneinfo`, the tzdata package),
//! as chrono time zones, which the job schedules (croner) are computed in. UTC needs no
//! file.
//!
//! Not chrono-tz: its embedded database is tables of pointers that the loader relocates at
//! every start, a megabyte of memory dirtied whether or not any zone is used.

use std::fmt;

use chrono::{FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime};
use jiff::tz::AmbiguousOffset;

/// An IANA time zone.
#[derive(Clone)]
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_owned(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone called `name` in the system's database, if there is one.
    pub fn named(name: &str) -> Option<Zone> {
        if name == "UTC" {
            return Some(Zone::utc());
        }
        jiff::tz::TimeZone::get(name).ok().map(|tz| Zone {
            name: name.to_owned(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn at(&self, offset: jiff::tz::Offset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            // Every offset a zone database holds is within chrono's ±24 h.
            fixed: FixedOffset::east_opt(offset.seconds())
                .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc)),
        }
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

/// A zone's offset at one instant, carrying its zone (chrono rebuilds the zone from it).
#[derive(Clone, Debug)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl chrono::Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fixed.fmt(f)
    }
}

impl chrono::TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<ZoneOffset> {
        use chrono::{Datelike, Timelike};
        let civil = (|| {
            jiff::civil::DateTime::new(
                i16::try_from(local.year()).ok()?,
                i8::try_from(local.month()).ok()?,
                i8::try_from(local.day()).ok()?,
                i8::try_from(local.hour()).ok()?,
                i8::try_from(local.minute()).ok()?,
                i8::try_from(local.second()).ok()?,
                0,
            )
            .ok()
        })();
        let Some(civil) = civil else {
            return LocalResult::None;
        };
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalResult::Single(self.at(offset)),
            AmbiguousOffset::Gap { .. } => LocalResult::None,
            AmbiguousOffset::Fold { before, after } => {
                LocalResult::Ambiguous(self.at(before), self.at(after))
            }
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        let offset = jiff::Timestamp::from_second(utc.and_utc().timestamp())
            .map_or(jiff::tz::Offset::UTC, |at| self.tz.to_offset(at));
        self.at(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn zones_come_from_the_system_database_with_their_gaps_and_folds() {
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
        assert_eq!(Zone::named("UTC").unwrap().name(), "UTC");
        let new_york = Zone::named("America/New_York").unwrap();
        let local = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        // Clocks jump from 02:00 to 03:00 on 2026-03-08 and fall back at 02:00 on 2026-11-01.
        assert!(matches!(
            new_york.offset_from_local_datetime(&local("2026-03-08 02:30")),
            LocalResult::None
        ));
        assert!(matches!(
            new_york.offset_from_local_datetime(&local("2026-11-01 01:30")),
            LocalResult::Ambiguous(..)
        ));
        let summer = new_york.from_utc_datetime(&local("2026-07-01 12:00"));
        assert_eq!(
            chrono::Offset::fix(summer.offset()).local_minus_utc(),
            -4 * 3600
        );
        let winter = new_york.from_utc_datetime(&local("2026-12-01 12:00"));
        assert_eq!(
            chrono::Offset::fix(winter.offset()).local_minus_utc(),
            -5 * 3600
        );
    }
}
