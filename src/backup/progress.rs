//! Turns borgmatic's and borg's `--log-json` lines into one repository's progress: the phase,
//! borg's running counters, throughput, and an ETA from the previous run's totals.

use crate::process::{LogLevel, LogLine};
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// borgmatic is starting: reading the config, running hooks, checking source paths.
    Preparing,
    /// borg reads its chunks and files caches before reading any file.
    ReadingCache,
    BackingUp,
    /// borg writes its caches and the archive's metadata.
    SavingCache,
    Pruning,
    Compacting,
    Checking,
    Done,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Preparing => "Preparing",
            Phase::ReadingCache => "Reading the cache",
            Phase::BackingUp => "Backing up",
            Phase::SavingCache => "Saving the cache",
            Phase::Pruning => "Pruning old archives",
            Phase::Compacting => "Compacting",
            Phase::Checking => "Checking",
            Phase::Done => "Done",
        }
    }
}

/// What the next backup will probably read: the previous archive's totals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub original_size: u64,
    pub nfiles: u64,
}

/// One repository's progress, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub repository: String,
    pub phase: Phase,
    pub nfiles: u64,
    pub original_size: u64,
    pub compressed_size: u64,
    pub deduplicated_size: u64,
    pub current_path: String,
    /// Original bytes read per second, over the last few seconds.
    pub bytes_per_second: f64,
    /// 0..=1 when it can be estimated honestly; otherwise the UI shows a busy state.
    pub fraction: Option<f64>,
    pub eta_seconds: Option<u64>,
    pub elapsed_seconds: u64,
    /// A step counter borg gives for compaction and checks (`current` of `total`).
    pub step: Option<(u64, u64)>,
}

/// The window over which throughput is averaged: long enough to smooth borg's ~5 updates a
/// second, short enough to follow a change from small files to big ones.
const THROUGHPUT_WINDOW: Duration = Duration::from_secs(10);
/// A backup that reads more than last time is not done at 100 %.
const MAX_FRACTION_WHILE_RUNNING: f64 = 0.99;

pub struct ProgressTracker {
    progress: Progress,
    estimate: Option<Estimate>,
    started: Instant,
    samples: VecDeque<(Instant, u64)>,
    warnings: Vec<String>,
}

impl ProgressTracker {
    pub fn new(repository: &str, estimate: Option<Estimate>, now: Instant) -> Self {
        ProgressTracker {
            progress: Progress {
                repository: repository.to_string(),
                phase: Phase::Preparing,
                nfiles: 0,
                original_size: 0,
                compressed_size: 0,
                deduplicated_size: 0,
                current_path: String::new(),
                bytes_per_second: 0.0,
                fraction: None,
                eta_seconds: None,
                elapsed_seconds: 0,
                step: None,
            },
            estimate: estimate.filter(|e| e.original_size > 0),
            started: now,
            samples: VecDeque::new(),
            warnings: Vec::new(),
        }
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// borg's warnings (a file that vanished or could not be read): the run ends "with warnings".
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Takes one line into account; true when what the UI shows changed.
    pub fn observe(&mut self, line: &LogLine, now: Instant) -> bool {
        self.progress.elapsed_seconds = now.duration_since(self.started).as_secs();
        match line {
            LogLine::Message {
                level,
                message,
                logger,
                ..
            } => {
                let logger = logger.as_deref().unwrap_or("");
                if *level == LogLevel::Warning && logger.starts_with("borg.") {
                    self.warnings.push(message.clone());
                }
                match phase_of_borgmatic_action(logger) {
                    Some(phase) => self.enter(phase),
                    None => false,
                }
            }
            LogLine::ProgressMessage {
                msgid, finished, ..
            } => match msgid.as_deref() {
                Some("cache.begin_transaction") if !finished => self.enter(Phase::ReadingCache),
                Some("cache.commit") if !finished => self.enter(Phase::SavingCache),
                _ => false,
            },
            LogLine::ArchiveProgress {
                original_size,
                compressed_size,
                deduplicated_size,
                nfiles,
                path,
                finished,
            } => {
                // borg's closing record carries no counters: keep the last ones.
                if *finished {
                    return false;
                }
                self.enter(Phase::BackingUp);
                let p = &mut self.progress;
                // Counters never go backwards, even if a line arrives out of order.
                p.original_size = p.original_size.max(*original_size);
                p.compressed_size = p.compressed_size.max(*compressed_size);
                p.deduplicated_size = p.deduplicated_size.max(*deduplicated_size);
                p.nfiles = p.nfiles.max(*nfiles);
                if !path.is_empty() {
                    // borg 1.x stores absolute paths without their leading slash.
                    p.current_path = match path.starts_with('/') {
                        true => path.clone(),
                        false => format!("/{path}"),
                    };
                }
                self.sample(now);
                true
            }
            LogLine::ProgressPercent {
                msgid,
                current,
                total,
                finished,
                ..
            } => {
                let phase = match msgid.as_deref() {
                    Some(id) if id.starts_with("repository.compact") => Some(Phase::Compacting),
                    Some(id) if id.contains("check") => Some(Phase::Checking),
                    _ => None,
                };
                if let Some(phase) = phase {
                    self.enter(phase);
                }
                if *finished || *total == 0 {
                    return false;
                }
                self.progress.step = Some((*current, *total));
                self.progress.fraction = Some((*current as f64 / *total as f64).clamp(0.0, 1.0));
                self.progress.eta_seconds = None;
                true
            }
            LogLine::FileStatus { .. } | LogLine::Text(_) => false,
        }
    }

    /// Marks the repository finished (whatever the outcome) and returns what it shows last.
    /// borg's `--json` totals, when there are some, are the final counters (its progress
    /// records come a few times a second and miss the last files).
    pub fn finish(&mut self, totals: Option<&crate::history::ArchiveStats>) -> Progress {
        if let Some(t) = totals {
            let p = &mut self.progress;
            p.nfiles = p.nfiles.max(t.nfiles);
            p.original_size = p.original_size.max(t.original_size);
            p.compressed_size = p.compressed_size.max(t.compressed_size);
            p.deduplicated_size = p.deduplicated_size.max(t.deduplicated_size);
            p.fraction = Some(1.0);
        }
        self.progress.phase = Phase::Done;
        self.progress.eta_seconds = None;
        self.progress.step = None;
        self.progress.clone()
    }

    fn enter(&mut self, phase: Phase) -> bool {
        if self.progress.phase == phase {
            return false;
        }
        self.progress.phase = phase;
        self.progress.step = None;
        self.progress.eta_seconds = None;
        self.progress.fraction = None;
        if phase != Phase::BackingUp {
            self.progress.current_path.clear();
        }
        true
    }

    fn sample(&mut self, now: Instant) {
        let read = self.progress.original_size;
        self.samples.push_back((now, read));
        while let Some((t, _)) = self.samples.front() {
            if now.duration_since(*t) > THROUGHPUT_WINDOW && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
        let p = &mut self.progress;
        if let (Some((t0, b0)), Some((t1, b1))) = (self.samples.front(), self.samples.back()) {
            let seconds = t1.duration_since(*t0).as_secs_f64();
            if seconds >= 0.5 {
                p.bytes_per_second = (b1.saturating_sub(*b0)) as f64 / seconds;
            }
        }
        match self.estimate {
            Some(estimate) => {
                let fraction = read as f64 / estimate.original_size as f64;
                p.fraction = Some(fraction.min(MAX_FRACTION_WHILE_RUNNING));
                p.eta_seconds = (p.bytes_per_second > 0.0).then(|| {
                    (estimate.original_size.saturating_sub(read) as f64 / p.bytes_per_second).ceil()
                        as u64
                });
            }
            None => {
                p.fraction = None;
                p.eta_seconds = None;
            }
        }
    }
}

/// borgmatic logs each action's start under the action's own logger.
fn phase_of_borgmatic_action(logger: &str) -> Option<Phase> {
    match logger {
        "borgmatic.actions.create" => Some(Phase::Preparing),
        "borgmatic.actions.prune" => Some(Phase::Pruning),
        "borgmatic.actions.compact" => Some(Phase::Compacting),
        "borgmatic.actions.check" => Some(Phase::Checking),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::parse_line;

    fn progress_line(original: u64, nfiles: u64) -> LogLine {
        parse_line(&format!(
            r#"{{"type": "archive_progress", "original_size": {original}, "compressed_size": {c}, "deduplicated_size": {d}, "nfiles": {nfiles}, "path": "/home/u/f{nfiles}", "time": 1.0, "finished": false}}"#,
            c = original / 2,
            d = original / 4
        ))
    }

    #[test]
    fn eta_and_fraction_follow_the_previous_totals() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new(
            "nas",
            Some(Estimate {
                original_size: 1000,
                nfiles: 10,
            }),
            t0,
        );
        tracker.observe(&progress_line(100, 1), t0 + Duration::from_secs(1));
        tracker.observe(&progress_line(300, 3), t0 + Duration::from_secs(2));
        let p = tracker.progress();
        assert_eq!(p.phase, Phase::BackingUp);
        assert_eq!(p.fraction, Some(0.3));
        assert_eq!(p.bytes_per_second, 200.0);
        assert_eq!(p.eta_seconds, Some(4));
        assert_eq!(p.current_path, "/home/u/f3");
    }

    #[test]
    fn without_an_estimate_the_progress_is_indeterminate() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new("nas", None, t0);
        tracker.observe(&progress_line(100, 1), t0 + Duration::from_secs(1));
        assert_eq!(tracker.progress().fraction, None);
        assert_eq!(tracker.progress().eta_seconds, None);
    }

    #[test]
    fn borgs_closing_record_does_not_reset_the_counters() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new("nas", None, t0);
        tracker.observe(&progress_line(500, 5), t0);
        let closing = parse_line(r#"{"type": "archive_progress", "time": 2.0, "finished": true}"#);
        assert!(!tracker.observe(&closing, t0));
        assert_eq!(tracker.progress().original_size, 500);
        assert_eq!(tracker.progress().nfiles, 5);
    }

    #[test]
    fn phases_follow_borgmatic_actions_and_borg_steps() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new("local", None, t0);
        let lines = [
            (
                r#"{"type": "log_message", "time": 1.0, "message": "Creating archive", "levelname": "INFO", "name": "borgmatic.actions.create"}"#,
                Phase::Preparing,
            ),
            (
                r#"{"type": "progress_message", "msgid": "cache.begin_transaction", "message": "Initializing cache transaction: Reading files", "operation": 1, "finished": false, "time": 1.0}"#,
                Phase::ReadingCache,
            ),
            (
                r#"{"type": "archive_progress", "original_size": 1, "compressed_size": 1, "deduplicated_size": 1, "nfiles": 1, "path": "/a", "time": 1.0, "finished": false}"#,
                Phase::BackingUp,
            ),
            (
                r#"{"type": "progress_message", "msgid": "cache.commit", "message": "Saving files cache", "operation": 2, "finished": false, "time": 1.0}"#,
                Phase::SavingCache,
            ),
            (
                r#"{"type": "log_message", "time": 1.0, "message": "Pruning archives", "levelname": "INFO", "name": "borgmatic.actions.prune"}"#,
                Phase::Pruning,
            ),
            (
                r#"{"message": "Compacting segments  14%", "current": 2, "total": 7, "info": null, "operation": 1, "msgid": "repository.compact_segments", "type": "progress_percent", "finished": false, "time": 1.0}"#,
                Phase::Compacting,
            ),
            (
                r#"{"message": "Checking segments 33.3%", "current": 2, "total": 3, "info": null, "operation": 1, "msgid": "repository.check", "type": "progress_percent", "finished": false, "time": 1.0}"#,
                Phase::Checking,
            ),
        ];
        for (line, phase) in lines {
            tracker.observe(&parse_line(line), t0);
            assert_eq!(tracker.progress().phase, phase, "after {line}");
        }
        assert_eq!(tracker.progress().step, Some((2, 3)));
    }

    #[test]
    fn borg_warnings_are_kept_and_borgmatic_ones_are_not() {
        let t0 = Instant::now();
        let mut tracker = ProgressTracker::new("local", None, t0);
        tracker.observe(&parse_line(r#"{"type": "log_message", "time": 1.0, "message": "/home/u/gone: [Errno 2] No such file or directory", "levelname": "WARNING", "name": "borg.archiver"}"#), t0);
        tracker.observe(&parse_line(r#"{"type": "log_message", "time": 1.0, "message": "on_error is deprecated", "levelname": "WARNING", "name": "borgmatic.config.normalize"}"#), t0);
        assert_eq!(tracker.warnings().len(), 1);
    }
}
