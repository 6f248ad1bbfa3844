//! What the core reports while it works, independent of any UI. The command line prints these;
//! the window's bridge turns them into (throttled) property changes on the Qt thread.

use crate::process::LogLine;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A borg or borgmatic process started (program name and action, never arguments that
    /// could hold a secret).
    ProcessStarted { program: String, action: String },
    /// One parsed line of borg's or borgmatic's `--log-json` output.
    Line(LogLine),
    /// The process ended with this exit code (None when killed by a signal).
    ProcessFinished { code: Option<i32> },
    /// The backup engine's view of a run: repositories, phases, counters, outcomes.
    Backup(crate::backup::BackupEvent),
    /// A mount's life: indexing an archive on first access, mounted, unmounted, read failures.
    Mount(MountEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountEvent {
    /// An archive not yet indexed is being indexed (for a mount, on first access).
    Indexing {
        archive: String,
        entries: u64,
        /// Of the archive's item chunks read, 0..1.
        fraction: f64,
    },
    /// Its index is ready; it took `seconds`.
    Indexed { archive: String, seconds: f64 },
    /// Mounted and serving at `mountpoint`.
    Mounted { mountpoint: std::path::PathBuf },
    /// No longer mounted (by Kastell, or from outside: `kastell umount`, fusermount3 -u).
    Unmounted { mountpoint: std::path::PathBuf },
    /// A read the mount answered with an I/O error (e.g. a chunk `borg compact` removed).
    ReadFailed { message: String },
}

/// Receives events. Implementations must be cheap and must not block: the process layer calls
/// them from the task that drains the process's output.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// A sink that drops everything, for callers that only want the result.
pub struct Discard;

impl EventSink for Discard {
    fn emit(&self, _event: Event) {}
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}

/// Lets an update through at most once per interval (the window's property changes, the
/// progress a run writes for the tray).
pub struct Throttle {
    last: Mutex<Option<Instant>>,
    interval: Duration,
}

impl Throttle {
    pub fn new(interval: Duration) -> Self {
        Throttle {
            last: Mutex::new(None),
            interval,
        }
    }

    /// True when enough time has passed since the last accepted update.
    pub fn ready(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return true;
        };
        let now = Instant::now();
        match *last {
            Some(t) if now.duration_since(t) < self.interval => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}
