//! Limits how often core events become property changes on the Qt thread (about 10 per
//! second), while always delivering the latest value.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const UI_INTERVAL: Duration = Duration::from_millis(100);

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
