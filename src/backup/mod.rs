//! Backups: the engine that runs borgmatic per repository with live progress, cancellation,
//! locks and a recorded history.

mod engine;
pub mod lock;
mod progress;

pub use engine::{
    run_backup, Actions, BackupError, BackupEvent, BackupRequest, RepositoryReport, RunReport,
};
pub use lock::{
    borg_lock_holders, break_lock, may_break_lock, BorgLockHolder, BreakLockError,
    BreakLockRefused, RunLock, RunLockHolder,
};
pub use progress::{Estimate, Phase, Progress, ProgressTracker};
