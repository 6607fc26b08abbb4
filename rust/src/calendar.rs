//! Calendar windows in a board's own time zone (port of `streams/engine/windows.py`).
//!
//! Windows follow local midnights, so a daily window on a DST day lasts 23 or 25 hours and
//! a weekly window starts at local midnight of the configured weekday. The local day of an
//! event is the one of `floor(ts / 1000)` seconds, as Python's `ts // 1000`.
//!
//! A bound is local midnight converted to UTC with Python's `fold=0` rule: the offset in
//! effect *before* a transition applies to local times inside it. So an ambiguous midnight
//! takes the earlier instant, and a midnight inside a DST gap maps to `midnight - offset
//! before`, which is the transition instant when the gap starts at midnight: consecutive
//! windows tile time without holes.
//!
//! Zone data comes from chrono-tz (IANA tzdata compiled in; 0.10.4 carries 2025b). Python's
//! `zoneinfo` reads the system's tzdata, so both agree while the tzdata versions do; the
//! chrono-tz tables end in 2100 (later instants keep the last offset, where `zoneinfo`
//! keeps applying the zone's DST rule).

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};
use std::sync::Arc;

use crate::types::{Kind, WindowRef};

/// Windows remembered per kind (events arrive mostly in order).
const CACHE_SIZE: usize = 4;

/// Seconds beyond which `ts` is clamped (about ±200,000 years, inside chrono's range with
/// room for a week of date arithmetic): such a `ts` gets a window that does not contain it
/// rather than a panic. Python cannot represent those instants at all (year 1..9999).
const MAX_SECS: i64 = 6_311_390_400_000;

struct Cached {
    start: i64,
    end: i64,
    window: Arc<WindowRef>,
}

/// Maps event time to the daily/weekly/all window of one board.
///
/// Each kind keeps the few windows it returned last, most recent first, and answers from
/// them before touching the zone tables; the cache is bounded, not per user.
pub struct Calendar {
    tz: Tz,
    week_start: u32,
    recent: [Vec<Cached>; 2],
    all: Arc<WindowRef>,
}

impl Calendar {
    /// `timezone`: an IANA name (case-sensitive, as `zoneinfo` on Linux);
    /// `week_start`: 0 = monday .. 6 = sunday.
    pub fn new(timezone: &str, week_start: u32) -> Result<Calendar, String> {
        let tz: Tz = timezone.parse().map_err(|_| {
            format!("unknown IANA time zone {timezone:?} (e.g. UTC, Europe/Berlin)")
        })?;
        if week_start > 6 {
            return Err(format!(
                "week_start must be 0 (monday) .. 6 (sunday), not {week_start}"
            ));
        }
        Ok(Calendar {
            tz,
            week_start,
            recent: [
                Vec::with_capacity(CACHE_SIZE + 1),
                Vec::with_capacity(CACHE_SIZE + 1),
            ],
            all: Arc::new(WindowRef::all()),
        })
    }

    pub fn timezone(&self) -> &'static str {
        self.tz.name()
    }

    pub fn week_start(&self) -> u32 {
        self.week_start
    }

    /// The window of `kind` that holds `ts` (epoch ms); `Kind::All` -> [`WindowRef::all`].
    pub fn window(&mut self, kind: Kind, ts: i64) -> WindowRef {
        WindowRef::clone(self.window_ref(kind, ts))
    }

    /// As [`Calendar::window`], shared with the cache: no allocation on a cache hit.
    pub fn window_ref(&mut self, kind: Kind, ts: i64) -> &Arc<WindowRef> {
        let slot = match kind {
            Kind::Daily => 0,
            Kind::Weekly => 1,
            Kind::All => return &self.all,
        };
        if let Some(i) = self.recent[slot]
            .iter()
            .position(|c| c.start <= ts && ts < c.end)
        {
            return &self.recent[slot][i].window;
        }
        let cached = self.compute(kind, ts);
        let recent = &mut self.recent[slot];
        recent.insert(0, cached);
        recent.truncate(CACHE_SIZE);
        &recent[0].window
    }

    fn compute(&self, kind: Kind, ts: i64) -> Cached {
        let secs = ts.div_euclid(1000).clamp(-MAX_SECS, MAX_SECS);
        let utc = DateTime::from_timestamp(secs, 0).expect("clamped into chrono's range");
        let local_day = self.tz.from_utc_datetime(&utc.naive_utc()).date_naive();
        let (first, days) = if kind == Kind::Daily {
            (local_day, 1)
        } else {
            let weekday = local_day.weekday().num_days_from_monday();
            let back = (weekday + 7 - self.week_start) % 7;
            (local_day - Days::new(u64::from(back)), 7)
        };
        let start = self.midnight_ms(first);
        let end = self.midnight_ms(first + Days::new(days));
        Cached {
            start,
            end,
            window: Arc::new(WindowRef {
                kind,
                period: Some(iso_date(first)),
                start: Some(start),
                end: Some(end),
            }),
        }
    }

    /// Local midnight of `day` in UTC epoch ms, with Python's `fold=0` rule.
    fn midnight_ms(&self, day: NaiveDate) -> i64 {
        let local = day.and_time(chrono::NaiveTime::MIN);
        let offset = match self.tz.offset_from_local_datetime(&local) {
            LocalResult::Single(offset) => offset,
            // (before, after) the transition: fold=0 takes the offset before it.
            LocalResult::Ambiguous(before, _) => before,
            LocalResult::None => offset_before_gap(&self.tz, &local)
                .unwrap_or_else(|| self.tz.offset_from_utc_datetime(&local)),
        };
        (local.and_utc().timestamp() - i64::from(offset.fix().local_minus_utc())) * 1000
    }
}

/// In a gap: the offset in effect before it (None when `local` is not in a gap).
fn offset_before_gap(tz: &Tz, local: &chrono::NaiveDateTime) -> Option<chrono_tz::TzOffset> {
    GapInfo::new(local, tz)
        .and_then(|gap| gap.begin)
        .map(|(_, offset)| offset)
}

/// `date.isoformat()`: YYYY-MM-DD, the year zero-padded to 4 digits.
fn iso_date(day: NaiveDate) -> String {
    let (year, month, dom) = (day.year(), day.month(), day.day());
    if !(0..=9999).contains(&year) {
        return format!("{year:04}-{month:02}-{dom:02}");
    }
    let year = year as u32;
    let digits = [
        year / 1000,
        year / 100 % 10,
        year / 10 % 10,
        year % 10,
        10,
        month / 10,
        month % 10,
        10,
        dom / 10,
        dom % 10,
    ];
    digits
        .iter()
        .map(|&d| {
            if d == 10 {
                '-'
            } else {
                char::from(b'0' + d as u8)
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "tests/calendar.rs"]
mod tests;
