//! Kastell's integration tests against real borg, borgmatic, sshd, FUSE, Xvfb and D-Bus: one
//! test binary with a module per area. (A binary per area linked the whole crate once each;
//! one binary links it once.)
//!
//! The tests of every area run side by side in threads of this one process, so none of them
//! may change what the process shares:
//!
//! - Every test has its own HOME, XDG, runtime and borg folders (`support::Fixture`,
//!   `support::bed::Bed`), its own sshd port, Xvfb display and D-Bus session.
//! - No test sets an environment variable, the umask or a resource limit of this process:
//!   children get their environment on their command, and memory limits are set in a child
//!   (`ulimit -v` in `bash -c`).
//! - Every Kastell that mounts (and every window) cleans every stale Kastell mount on the
//!   machine: a test that makes one on purpose holds `support::making_stale_mounts()`, the
//!   others that mount or start a window hold `support::cleaning_stale_mounts()`.

#[path = "../support/mod.rs"]
mod support;

mod archives;
mod backup;
mod browse;
mod config_edit;
mod config_seed;
mod excludes;
mod first_run;
mod gui;
mod install;
mod job_view;
mod mount;
mod passphrase_change;
mod pattern_fuzz;
mod process;
mod reader;
mod reader_fuzz;
mod restore;
mod schedule;
mod tray;
mod upkeep;
mod wallet;
