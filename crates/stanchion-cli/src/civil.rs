//! Calendar dates in UTC for the evidence ledger: parsing `YYYY-MM-DD`, today's date, and the
//! day arithmetic a streak needs.
//!
//! A day number (days since 1970-01-01) is all the streak counts with, and the conversion
//! between it and a proleptic Gregorian date is a few lines (Howard Hinnant's
//! `days_from_civil` / `civil_from_days`), so no calendar crate is pulled in for it.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

/// A calendar date (UTC), ordered by day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Date {
    /// Days since 1970-01-01.
    day: i64,
}

/// A moment in UTC: its date and the seconds since midnight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    pub(crate) date: Date,
    pub(crate) seconds_of_day: u32,
    pub(crate) unix_seconds: i64,
}

impl Moment {
    /// The current moment from the system clock.
    pub(crate) fn now() -> Self {
        let unix_seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
            });
        Self {
            date: Date {
                day: unix_seconds.div_euclid(86_400),
            },
            seconds_of_day: u32::try_from(unix_seconds.rem_euclid(86_400)).unwrap_or(0),
            unix_seconds,
        }
    }

    /// `HH:MM:SSZ`.
    pub(crate) fn time_of_day(&self) -> String {
        let s = self.seconds_of_day;
        format!("{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
    }
}

impl Date {
    /// Parses `YYYY-MM-DD` (four-digit year, a day that exists in that month).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("`{text}` is not a date of the form YYYY-MM-DD");
        let bytes = text.as_bytes();
        if bytes.len() != 10
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || !text
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i64 = text[0..4].parse().map_err(|_| invalid())?;
        let month: u32 = text[5..7].parse().map_err(|_| invalid())?;
        let day: u32 = text[8..10].parse().map_err(|_| invalid())?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(format!("`{text}` is not a day of the calendar"));
        }
        Ok(Self {
            day: days_from_civil(year, month, day),
        })
    }

    /// The year and month, `YYYY-MM`, that names the ledger file holding this date.
    pub(crate) fn year_month(self) -> String {
        let (year, month, _) = civil_from_days(self.day);
        format!("{year:04}-{month:02}")
    }

    /// How many days `self` lies after `earlier` (negative when before).
    pub(crate) fn days_after(self, earlier: Self) -> i64 {
        self.day - earlier.day
    }

    /// The day before.
    pub(crate) fn previous(self) -> Self {
        Self { day: self.day - 1 }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.day);
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, March-based years
/// so the leap day is the last day of the year).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A date argument, refused when it lies after today (UTC).
pub(crate) fn date_argument(text: &str, flag: &str, today: Date) -> Result<Date, String> {
    let date = Date::parse(text).map_err(|why| format!("{flag}: {why}"))?;
    if date > today {
        return Err(format!(
            "{flag} {date} is in the future (today is {today} UTC)"
        ));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_across_leap_days_and_centuries() {
        for text in [
            "1970-01-01",
            "2000-02-29",
            "2024-02-29",
            "2026-12-31",
            "2027-01-01",
            "2100-03-01",
        ] {
            assert_eq!(Date::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Date::parse("1970-01-02").unwrap().day, 1);
        assert_eq!(
            Date::parse("2027-01-01").unwrap().previous().to_string(),
            "2026-12-31"
        );
        assert_eq!(
            Date::parse("2024-03-01").unwrap().previous().to_string(),
            "2024-02-29"
        );
    }

    #[test]
    fn impossible_or_malformed_dates_are_refused() {
        for text in [
            "2026-02-29",
            "2100-02-29",
            "2026-13-01",
            "2026-04-31",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "2026-01-00",
            "+026-01-01",
        ] {
            assert!(Date::parse(text).is_err(), "{text} accepted");
        }
    }

    #[test]
    fn now_is_consistent_with_its_parts() {
        let now = Moment::now();
        assert_eq!(
            now.unix_seconds,
            now.date.day * 86_400 + i64::from(now.seconds_of_day)
        );
        assert!(now.date > Date::parse("2020-01-01").unwrap());
    }
}
