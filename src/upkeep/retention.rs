//! borg's retention, computed here for a live preview: which archives `borg prune` would keep
//! under a set of rules, and the rule that keeps each, exactly as `borg prune --dry-run --list`
//! says it (borg 1.4 `archiver.py::do_prune`, `helpers/misc.py::prune_split`/`prune_within`).
//!
//! - Checkpoints (`NAME.checkpoint`, `NAME.checkpoint.N`) are left out of the rules; the newest
//!   is kept only when no complete archive is newer.
//! - `keep_within` keeps what is newer than now minus the interval (months are 31 days, years
//!   365, as borg counts them), numbered in the order archives come (newest first).
//! - Then each period rule, in borg's order (secondly … yearly), walks the archives newest
//!   first and keeps the first archive of each new period (by the local time's text, so a
//!   repeated hour at the end of summer time is one period) that no earlier rule kept, until it
//!   has its count; if it runs out first, it keeps the oldest archive too (`daily[oldest]`).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// borg's period rules, in the order borg applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    /// `keep_13weekly`: quarters of 13 ISO weeks.
    Quarterly13Weekly,
    /// `keep_3monthly`: calendar quarters.
    Quarterly3Monthly,
    Yearly,
}

impl Period {
    pub const ALL: [Period; 9] = [
        Period::Secondly,
        Period::Minutely,
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Quarterly13Weekly,
        Period::Quarterly3Monthly,
        Period::Yearly,
    ];

    /// The name `borg prune --list` gives the rule.
    pub fn rule_name(self) -> &'static str {
        match self {
            Period::Secondly => "secondly",
            Period::Minutely => "minutely",
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Quarterly13Weekly => "quarterly_13weekly",
            Period::Quarterly3Monthly => "quarterly_3monthly",
            Period::Yearly => "yearly",
        }
    }

    /// The borgmatic option (`keep_daily`, …).
    pub fn option(self) -> &'static str {
        match self {
            Period::Secondly => "keep_secondly",
            Period::Minutely => "keep_minutely",
            Period::Hourly => "keep_hourly",
            Period::Daily => "keep_daily",
            Period::Weekly => "keep_weekly",
            Period::Monthly => "keep_monthly",
            Period::Quarterly13Weekly => "keep_13weekly",
            Period::Quarterly3Monthly => "keep_3monthly",
            Period::Yearly => "keep_yearly",
        }
    }

    /// Which period `at` (local time) falls in; equal keys mean the same period.
    fn key(self, at: DateTime) -> (i32, i32, i32, i32, i32, i32) {
        let (y, mo, d) = (
            i32::from(at.year()),
            i32::from(at.month()),
            i32::from(at.day()),
        );
        let (h, mi, s) = (
            i32::from(at.hour()),
            i32::from(at.minute()),
            i32::from(at.second()),
        );
        let iso = at.date().iso_week_date();
        let (iso_year, iso_week) = (i32::from(iso.year()), i32::from(iso.week()));
        match self {
            Period::Secondly => (y, mo, d, h, mi, s),
            Period::Minutely => (y, mo, d, h, mi, 0),
            Period::Hourly => (y, mo, d, h, 0, 0),
            Period::Daily => (y, mo, d, 0, 0, 0),
            Period::Weekly => (iso_year, iso_week, 0, 0, 0, 0),
            Period::Monthly => (y, mo, 0, 0, 0, 0),
            // borg: weeks 1–13, 14–26, 27–39, the rest, of the ISO year.
            Period::Quarterly13Weekly => (iso_year, (iso_week - 1).min(39) / 13 + 1, 0, 0, 0, 0),
            Period::Quarterly3Monthly => (y, (mo - 1) / 3 + 1, 0, 0, 0, 0),
            Period::Yearly => (y, 0, 0, 0, 0, 0),
        }
    }
}

/// A set of retention rules (what borgmatic passes as `--keep-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `keep_within`, in hours.
    pub within_hours: Option<i64>,
    /// Each period's count, in `Period::ALL` order (None: the rule is not set).
    pub counts: [Option<u32>; 9],
}

impl Rules {
    pub fn set(&mut self, period: Period, count: Option<u32>) {
        if let Some(at) = Period::ALL.iter().position(|p| *p == period) {
            self.counts[at] = count;
        }
    }

    pub fn count(&self, period: Period) -> Option<u32> {
        Period::ALL
            .iter()
            .position(|p| *p == period)
            .and_then(|at| self.counts[at])
    }

    /// Whether any rule keeps something (borg refuses to prune without one; a count of 0
    /// counts as unset, as for borg).
    pub fn any(&self) -> bool {
        self.within_hours.is_some() || self.counts.iter().any(|c| c.is_some_and(|n| n > 0))
    }
}

/// borg's `keep_within` interval ("7d", "12H", "2w", "1m", "1y") in hours.
pub fn parse_within(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let hours_per = match unit {
        'H' => 1,
        'd' => 24,
        'w' => 24 * 7,
        'm' => 24 * 31,
        'y' => 24 * 365,
        _ => return None,
    };
    let number: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    (number > 0).then(|| number * hours_per)
}

/// One archive, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub name: String,
    /// When it was made.
    pub time: Timestamp,
}

/// Why an archive stays, or that it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kept by a rule: its name as borg prints it (`daily`, `daily[oldest]`, `within`) and
    /// how many that rule had kept with it (`#3`).
    Kept {
        rule: String,
        index: u32,
    },
    /// The newest checkpoint, kept because no complete archive is newer.
    KeptCheckpoint,
    Pruned,
}

impl Verdict {
    pub fn keeps(&self) -> bool {
        !matches!(self, Verdict::Pruned)
    }

    /// The verdict in `borg prune --list`'s words, short: `daily #3`, `checkpoint`, `prune`.
    pub fn list_word(&self) -> String {
        match self {
            Verdict::Kept { rule, index } => format!("{rule} #{index}"),
            Verdict::KeptCheckpoint => "checkpoint".into(),
            Verdict::Pruned => "prune".into(),
        }
    }
}

/// An archive and what the rules decide for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub archive: Archive,
    pub verdict: Verdict,
}

/// borg's checkpoint names: `….checkpoint` or `….checkpoint.N`.
pub fn is_checkpoint(name: &str) -> bool {
    let Some(at) = name.rfind(".checkpoint") else {
        return false;
    };
    let rest = &name[at + ".checkpoint".len()..];
    rest.is_empty()
        || rest
            .strip_prefix('.')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What `borg prune` with `rules` decides for `archives` (the ones its archive filter
/// matched), at `now` in time zone `zone`: every archive once, newest first.
pub fn decide(
    archives: &[Archive],
    rules: &Rules,
    now: Timestamp,
    zone: &TimeZone,
) -> Vec<Decision> {
    // Newest first; a stable sort, as Python's `sorted(…, reverse=True)`.
    let mut all: Vec<&Archive> = archives.iter().collect();
    all.sort_by_key(|a| std::cmp::Reverse(a.time));
    let newest_is_checkpoint = all.first().is_some_and(|a| is_checkpoint(&a.name));
    let complete: Vec<usize> = (0..all.len())
        .filter(|i| !is_checkpoint(&all[*i].name))
        .collect();
    let mut kept: Vec<Option<(String, u32)>> = vec![None; all.len()];

    if let Some(hours) = rules.within_hours {
        let since = now
            .checked_sub(jiff::SignedDuration::from_hours(hours))
            .unwrap_or(Timestamp::MIN);
        let mut counter = 0;
        for &i in &complete {
            if all[i].time > since {
                counter += 1;
                kept[i] = Some(("within".into(), counter));
            }
        }
    }
    for period in Period::ALL {
        let Some(wanted) = rules.count(period) else {
            continue;
        };
        if wanted == 0 {
            continue;
        }
        let mut last = None;
        let mut count = 0;
        let mut walked_to = None;
        for &i in &complete {
            walked_to = Some(i);
            let key = period.key(zone.to_datetime(all[i].time));
            if last != Some(key) {
                last = Some(key);
                if kept[i].is_none() {
                    count += 1;
                    kept[i] = Some((period.rule_name().to_string(), count));
                    if count == wanted {
                        break;
                    }
                }
            }
        }
        // The oldest is kept too when the rule ran out before its count.
        if let Some(i) = walked_to {
            if count < wanted && kept[i].is_none() {
                count += 1;
                kept[i] = Some((format!("{}[oldest]", period.rule_name()), count));
            }
        }
    }

    all.iter()
        .enumerate()
        .map(|(i, archive)| {
            let verdict = match (&kept[i], is_checkpoint(&archive.name)) {
                (_, true) if i == 0 && newest_is_checkpoint => Verdict::KeptCheckpoint,
                (_, true) => Verdict::Pruned,
                (Some((rule, index)), false) => Verdict::Kept {
                    rule: rule.clone(),
                    index: *index,
                },
                (None, false) => Verdict::Pruned,
            };
            Decision {
                archive: (*archive).clone(),
                verdict,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        let civil: DateTime = text.parse().expect("time");
        civil.to_zoned(TimeZone::UTC).expect("utc").timestamp()
    }

    fn archives(times: &[(&str, &str)]) -> Vec<Archive> {
        times
            .iter()
            .map(|(name, time)| Archive {
                name: name.to_string(),
                time: at(time),
            })
            .collect()
    }

    fn verdicts(decisions: &[Decision]) -> Vec<(String, String)> {
        decisions
            .iter()
            .map(|d| (d.archive.name.clone(), d.verdict.list_word()))
            .collect()
    }

    #[test]
    fn daily_keeps_the_newest_of_each_day_and_the_oldest_when_days_run_out() {
        let list = archives(&[
            ("a", "2026-11-01T09:00:00"),
            ("b", "2026-11-01T18:00:00"),
            ("c", "2026-11-02T09:00:00"),
            ("d", "2026-11-03T09:00:00"),
            ("e", "2026-11-03T20:00:00"),
        ]);
        let mut rules = Rules::default();
        rules.set(Period::Daily, Some(5));
        let decided = decide(&list, &rules, at("2026-11-04T00:00:00"), &TimeZone::UTC);
        assert_eq!(
            verdicts(&decided),
            vec![
                ("e".into(), "daily #1".into()),
                ("d".into(), "prune".into()),
                ("c".into(), "daily #2".into()),
                ("b".into(), "daily #3".into()),
                ("a".into(), "daily[oldest] #4".into()),
            ]
        );
    }

    #[test]
    fn a_later_rule_skips_what_an_earlier_one_kept_and_within_comes_first() {
        let list = archives(&[
            ("w1", "2026-10-05T09:00:00"),
            ("w2", "2026-10-12T09:00:00"),
            ("d1", "2026-10-13T09:00:00"),
            ("d2", "2026-10-14T09:00:00"),
        ]);
        let mut rules = Rules {
            within_hours: Some(12),
            ..Rules::default()
        };
        rules.set(Period::Daily, Some(1));
        rules.set(Period::Weekly, Some(2));
        let decided = decide(&list, &rules, at("2026-10-14T12:00:00"), &TimeZone::UTC);
        assert_eq!(
            verdicts(&decided),
            vec![
                ("d2".into(), "within #1".into()),
                ("d1".into(), "daily #1".into()),
                // d1's ISO week is w2's: weekly's first period is already kept by daily.
                ("w2".into(), "prune".into()),
                ("w1".into(), "weekly #1".into()),
            ]
        );
    }

    #[test]
    fn the_newest_checkpoint_stays_only_without_a_newer_complete_archive() {
        let list = archives(&[
            ("a", "2026-11-01T09:00:00"),
            ("a.checkpoint", "2026-11-02T09:00:00"),
            ("b.checkpoint.1", "2026-11-03T09:00:00"),
        ]);
        let mut rules = Rules::default();
        rules.set(Period::Daily, Some(7));
        let decided = decide(&list, &rules, at("2026-11-04T00:00:00"), &TimeZone::UTC);
        assert_eq!(
            verdicts(&decided),
            vec![
                ("b.checkpoint.1".into(), "checkpoint".into()),
                ("a.checkpoint".into(), "prune".into()),
                ("a".into(), "daily #1".into()),
            ]
        );
        assert!(is_checkpoint("x.checkpoint.12"));
        assert!(!is_checkpoint("x.checkpoint.") && !is_checkpoint("x.checkpointy"));
    }

    #[test]
    fn keep_within_takes_borgs_units() {
        assert_eq!(parse_within("7d"), Some(168));
        assert_eq!(parse_within("1m"), Some(744));
        assert_eq!(parse_within("2y"), Some(2 * 8760));
        assert_eq!(parse_within("0d"), None);
        assert_eq!(parse_within("7"), None);
    }
}
