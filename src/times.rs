//! Times, through one time-zone-aware library (`jiff`): borg's ISO text in local time as
//! `borg list` prints it, borg's UTC archive times read back, local dates for people, and
//! how long ago something was.

use std::sync::OnceLock;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Unit};

/// This computer's time zone, looked up once (a listing converts a million times).
fn local() -> &'static TimeZone {
    static LOCAL: OnceLock<TimeZone> = OnceLock::new();
    LOCAL.get_or_init(TimeZone::system)
}

/// `ns` (since the epoch) as whole seconds and rounded microseconds, as Python's
/// `datetime.fromtimestamp(ns / 1e9)` rounds them (through a float, half to even).
fn python_seconds_and_micros(ns: i128) -> (i64, u32) {
    let t = ns as f64 / 1e9;
    let (mut secs, frac) = (t.trunc(), t.fract());
    let mut us = (frac * 1e6).round_ties_even();
    if us >= 1e6 {
        secs += 1.0;
        us -= 1e6;
    } else if us < 0.0 {
        secs -= 1.0;
        us += 1e6;
    }
    (secs as i64, us as u32)
}

fn local_datetime(seconds: i64) -> Option<DateTime> {
    let at = Timestamp::from_second(seconds).ok()?;
    Some(local().to_datetime(at))
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in (digits.len() - at)..width {
        out.push('0');
    }
    for d in &digits[at..] {
        out.push(*d as char);
    }
}

/// `datetime.fromtimestamp(ns / 1e9).isoformat(timespec="microseconds")` in local time (what
/// `borg list` prints), appended to `out` without formatting machinery: a listing writes a
/// million of these.
pub fn push_iso_time(out: &mut String, ns: i128) {
    let (seconds, micros) = python_seconds_and_micros(ns);
    let Some(t) = local_datetime(seconds) else {
        return;
    };
    push_padded(out, u32::try_from(t.year()).unwrap_or(0), 4);
    out.push('-');
    push_padded(out, t.month() as u32, 2);
    out.push('-');
    push_padded(out, t.day() as u32, 2);
    out.push('T');
    push_padded(out, t.hour() as u32, 2);
    out.push(':');
    push_padded(out, t.minute() as u32, 2);
    out.push(':');
    push_padded(out, t.second() as u32, 2);
    out.push('.');
    push_padded(out, micros, 6);
}

/// `push_iso_time` as a string.
pub fn iso_time(ns: i128) -> String {
    let mut out = String::with_capacity(26);
    push_iso_time(&mut out, ns);
    out
}

/// borg's archive and manifest times (`2026-12-01T21:42:47.123456`, UTC, no zone written) in
/// nanoseconds since the epoch.
pub fn utc_iso_to_ns(text: &str) -> Option<i64> {
    let civil: DateTime = text.trim().parse().ok()?;
    let at = civil.to_zoned(TimeZone::UTC).ok()?.timestamp();
    i64::try_from(at.as_nanosecond()).ok()
}

/// `borg list --json`'s local times (`2026-12-01T22:42:47.123456`, no zone written) as a
/// moment (the earlier one when the clock went back).
pub fn local_iso_to_timestamp(text: &str) -> Option<Timestamp> {
    let civil: DateTime = text.trim().parse().ok()?;
    local()
        .to_ambiguous_zoned(civil)
        .compatible()
        .ok()
        .map(|z| z.timestamp())
}

/// Local date and time to the second (`2026-11-23 19:53:40`) of `ns` since the epoch.
pub fn local_seconds(ns: i128) -> String {
    let (seconds, _) = python_seconds_and_micros(ns);
    local_datetime(seconds)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Local date and time to the minute (`2026-11-23 22:41`) of a unix time in milliseconds.
pub fn local_minutes(ms: i64) -> String {
    local_datetime(ms.div_euclid(1000))
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// How long before `now_ms` the moment `then_ms` was, in the largest whole unit that fits
/// ("just now", "5 minutes ago", "3 hours ago", "2 days ago"); "in the future" for a clock
/// that was ahead.
pub fn ago(then_ms: i64, now_ms: i64) -> String {
    let (Ok(then), Ok(now)) = (
        Timestamp::from_millisecond(then_ms),
        Timestamp::from_millisecond(now_ms),
    ) else {
        return String::new();
    };
    if then > now {
        return "in the future".into();
    }
    let span = now - then;
    let seconds = span.total(Unit::Second).unwrap_or(0.0) as i64;
    let (n, unit) = match seconds {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borgs_utc_times_become_epoch_nanoseconds() {
        assert_eq!(utc_iso_to_ns("1970-01-01T00:00:00"), Some(0));
        assert_eq!(
            utc_iso_to_ns("2026-12-01T21:42:47.123456"),
            Some(1_796_161_367_123_456_000)
        );
        assert_eq!(
            utc_iso_to_ns("2000-02-29T12:00:00.5"),
            Some(951_825_600_500_000_000)
        );
        assert_eq!(utc_iso_to_ns("garbage"), None);
    }

    #[test]
    fn microseconds_round_as_python_rounds_them() {
        // Below and above half a microsecond; 1.9999996 s carries into the next second.
        assert_eq!(python_seconds_and_micros(1_000_000_400), (1, 0));
        assert_eq!(python_seconds_and_micros(1_000_000_600), (1, 1));
        assert_eq!(python_seconds_and_micros(1_999_999_600), (2, 0));
        assert_eq!(python_seconds_and_micros(-1_500_000), (-1, 998_500));
        // The local text always has borg's shape.
        let text = iso_time(1_796_161_367_123_456_000);
        assert_eq!(text.len(), 26, "{text}");
        assert!(text.ends_with(".123456"), "{text}");
    }

    #[test]
    fn how_long_ago_reads_naturally() {
        let now = 1_800_000_000_000;
        assert_eq!(ago(now - 30_000, now), "just now");
        assert_eq!(ago(now - 60_000, now), "1 minute ago");
        assert_eq!(ago(now - 5 * 60_000, now), "5 minutes ago");
        assert_eq!(ago(now - 3 * 3_600_000, now), "3 hours ago");
        assert_eq!(ago(now - 2 * 86_400_000 - 5, now), "2 days ago");
        assert_eq!(ago(now + 1000, now), "in the future");
    }
}
