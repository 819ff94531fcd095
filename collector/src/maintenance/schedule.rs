//! Recurring maintenance windows: when a `[[maintenance.windows]]`
//! schedule's occurrences start, in its time zone.
//!
//! A schedule is a five-field cron (`minute hour day-of-month month
//! day-of-week`: `*`, lists `a,b`, ranges `a-b`, steps `*/n` and `a-b/n`,
//! names `sun..sat` and `jan..dec`; day of week 0 or 7 is Sunday; when both
//! day fields are restricted a day matching either counts, as in cron) or
//! `days` + `start` (the same as cron `MM HH * * DAYS`). Local times are in
//! an IANA time zone: an occurrence at a local time that does not exist
//! (spring forward) starts at the next valid instant (the end of the gap);
//! an ambiguous one (fall back) starts at the first of the two instants.
//! Pure: times come in and go out as epoch ms.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

/// How far ahead an occurrence is looked for (`0 0 29 2 *` needs up to
/// eight years; a schedule with none in that span never fires).
const HORIZON_DAYS: usize = 8 * 366 + 1;

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A cron's five fields, as the sets of values they match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: BTreeSet<u8>,
    hours: BTreeSet<u8>,
    days: BTreeSet<u8>,
    months: BTreeSet<u8>,
    /// 0 (Sunday) to 6.
    weekdays: BTreeSet<u8>,
    /// Whether the day-of-month / day-of-week field was `*` (or `*/n`).
    any_day: bool,
    any_weekday: bool,
}

/// One field's name, bounds and value names.
struct Field {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
    /// The value of `names[0]`.
    first_named: u8,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        first_named: 0,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        first_named: 0,
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        first_named: 0,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
        first_named: 1,
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: &DAY_NAMES,
        first_named: 0,
    },
];

impl Cron {
    /// Parses five whitespace-separated fields; the error names the field.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "cron {text:?} has {} fields; write five: minute hour day-of-month month day-of-week",
                parts.len()
            ));
        }
        let mut sets = Vec::with_capacity(5);
        for (part, field) in parts.iter().zip(&FIELDS) {
            sets.push(
                parse_field(part, field)
                    .map_err(|reason| format!("cron {} field {part:?}: {reason}", field.name))?,
            );
        }
        let mut weekdays = sets.pop().unwrap_or_default();
        if weekdays.remove(&7) {
            weekdays.insert(0);
        }
        let months = sets.pop().unwrap_or_default();
        let days = sets.pop().unwrap_or_default();
        let hours = sets.pop().unwrap_or_default();
        let minutes = sets.pop().unwrap_or_default();
        Ok(Cron {
            minutes,
            hours,
            days,
            months,
            weekdays,
            any_day: parts[2].starts_with('*'),
            any_weekday: parts[4].starts_with('*'),
        })
    }

    /// `days` (names `sun`..`sat`) at `start` (`HH:MM`): cron `MM HH * * DAYS`.
    pub fn weekly(days: &[String], start: &str) -> Result<Cron, String> {
        if days.is_empty() {
            return Err("days is empty; name at least one of sun..sat".into());
        }
        let mut weekdays = BTreeSet::new();
        for d in days {
            let i = DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d))
                .ok_or_else(|| {
                    format!("days: {d:?} is not a day (sun, mon, tue, wed, thu, fri, sat)")
                })?;
            weekdays.insert(i as u8);
        }
        let bad = || format!("start {start:?} is not a time of day HH:MM (00:00 to 23:59)");
        let (h, m) = start.split_once(':').ok_or_else(bad)?;
        let hour: u8 = h.parse().ok().filter(|h| *h <= 23).ok_or_else(bad)?;
        let minute: u8 = m.parse().ok().filter(|m| *m <= 59).ok_or_else(bad)?;
        Ok(Cron {
            minutes: BTreeSet::from([minute]),
            hours: BTreeSet::from([hour]),
            days: (1..=31).collect(),
            months: (1..=12).collect(),
            weekdays,
            any_day: true,
            any_weekday: false,
        })
    }

    fn matches_date(&self, d: Date) -> bool {
        if !self.months.contains(&(d.month() as u8)) {
            return false;
        }
        let day = self.days.contains(&(d.day() as u8));
        let weekday = self
            .weekdays
            .contains(&(d.weekday().to_sunday_zero_offset() as u8));
        match (self.any_day, self.any_weekday) {
            (false, false) => day || weekday,
            _ => day && weekday,
        }
    }
}

fn parse_field(part: &str, f: &Field) -> Result<BTreeSet<u8>, String> {
    let mut set = BTreeSet::new();
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u8 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("step {s:?} is not a number above 0"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (f.min, if f.name == "day-of-week" { 6 } else { f.max })
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, f)?, value(b, f)?)
        } else {
            let v = value(range, f)?;
            (v, if step > 1 { f.max } else { v })
        };
        if lo > hi {
            return Err(format!("range {range:?} runs backwards"));
        }
        set.extend((lo..=hi).step_by(step as usize));
    }
    Ok(set)
}

fn value(text: &str, f: &Field) -> Result<u8, String> {
    if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(f.first_named + i as u8);
    }
    text.parse::<u8>()
        .ok()
        .filter(|v| (f.min..=f.max).contains(v))
        .ok_or_else(|| {
            let names = if f.names.is_empty() {
                String::new()
            } else {
                format!(" or {}..{}", f.names[0], f.names[f.names.len() - 1])
            };
            format!("{text:?} is not {}..{}{names}", f.min, f.max)
        })
}

/// A recurring window's timing: its cron (or days + start), its length
/// and its time zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cron: Cron,
    pub duration: Duration,
    pub tz: TimeZone,
}

impl Schedule {
    /// The first occurrence starting at or after `from_ms` (epoch ms);
    /// `None` if there is none within eight years.
    pub fn next_start(&self, from_ms: i64) -> Option<i64> {
        let from = Timestamp::from_millisecond(from_ms).ok()?;
        // A day early: the local date of `from` less any offset.
        let mut date = from.to_zoned(self.tz.clone()).date().yesterday().ok()?;
        for _ in 0..HORIZON_DAYS {
            if self.cron.matches_date(date) {
                let first = self.starts_on(date).filter(|ms| *ms >= from_ms).min();
                if let Some(ms) = first {
                    return Some(ms);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The occurrence running at `now_ms`, as (start, end): the latest one
    /// started at or before it that has not ended.
    pub fn running_at(&self, now_ms: i64) -> Option<(i64, i64)> {
        let length = self.duration.as_millis() as i64;
        let start = self.next_start(now_ms - length + 1)?;
        (start <= now_ms).then_some((start, start + length))
    }

    /// The instants of `date`'s occurrences (unordered).
    fn starts_on(&self, date: Date) -> impl Iterator<Item = i64> + '_ {
        self.cron.hours.iter().flat_map(move |h| {
            self.cron
                .minutes
                .iter()
                .filter_map(move |m| self.instant(date.at(*h as i8, *m as i8, 0, 0)))
        })
    }

    /// The instant a local time starts at: a time in a gap at the end of
    /// the gap, one in a fold at the first of its two instants.
    fn instant(&self, dt: DateTime) -> Option<i64> {
        let ambiguous = self.tz.to_ambiguous_timestamp(dt);
        let ts = match ambiguous.offset() {
            AmbiguousOffset::Gap { .. } => {
                // After the gap; the transition just before it is where
                // the gap ends.
                let after = ambiguous.later().ok()?;
                self.tz
                    .preceding(after)
                    .next()
                    .map_or(after, |t| t.timestamp())
            }
            _ => ambiguous.earlier().ok()?,
        };
        Some(ts.as_millisecond())
    }
}

#[cfg(test)]
mod tests;
