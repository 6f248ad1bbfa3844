//! Limits how often core events become property changes on the Qt thread (about 10 per
//! second), while always delivering the latest value.

use std::time::Duration;

pub use crate::events::Throttle;

pub const UI_INTERVAL: Duration = Duration::from_millis(100);
