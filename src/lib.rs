//! Kastell's Qt-free core and its command line. Nothing here imports Qt; the window lives in
//! `gui`. The map, one line a folder or file:
//!
//! - `config/`: borgmatic configs: discovery, the typed flat schema, lossless edits, safe saves.
//! - `process/`: borg and borgmatic as processes: command builder, `--log-json`, typed errors,
//!   tool versions; `archives.rs`: archive lists, info and diffs through borgmatic.
//! - `backup/`: the backup engine (one borgmatic per repository, progress, ETA), run lock.
//! - `reader/`: the native read-only borg 1.x reader (store, `borg serve`, keys, objects,
//!   manifest, items) and borg's security record.
//! - `index/`: each archive's tree, built once from the reader and mapped from the cache.
//! - `browse/`: browsing sessions (a reader and its indexes kept open; versions, search,
//!   previews, sizes) for the window and the command line; `view.rs`: sort, icons, breadcrumbs.
//! - `restore/`: restore plans and restores that never write outside their target.
//! - `mount/`: the read-only FUSE filesystem and the mounts a running Kastell keeps.
//! - `patterns/`: borg's pattern rules, the exclude preview and the exclude editor's state.
//! - `schedule/`: daily runs as systemd user units, their conditions (mains power, metered
//!   networks, a drive plugged in), other schedules of the same config.
//! - `setup/`: the first run (passphrase, config, repositories, saved keys, SSH) and recovery.
//! - `credentials/`: the passphrase: where it comes from, the wallet, the one-run relay.
//! - `desktop/`: desktop integration: notifications, the file manager, the tray icon, Plasma's
//!   job list, one window per session.
//! - `errors.rs`: the error rules every module follows and the one `ErrorKind` for the window.
//! - `status.rs`: every repository's state at a glance (history, run locks, newest archive).
//! - `history.rs`, `preferences.rs`, `private.rs`, `events.rs`: the run history, Kastell's
//!   own settings, its private folders, UI-agnostic events.
//! - `times.rs`, `units.rs`: times (borg's text, local time, "3 hours ago"; jiff), sizes and
//!   durations in words.
//! - `upkeep/`: retention and its preview (borg's prune rules), repository upkeep.
//! - `cli/`: the `kastell` subcommands; `gui/`: the window (cxx-qt bridge and QML start-up).

pub mod backup;
pub mod browse;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod desktop;
pub mod errors;
pub mod events;
pub mod history;
pub mod index;
pub mod mount;
pub mod patterns;
pub mod preferences;
pub mod private;
pub mod process;
pub mod reader;
pub mod restore;
pub mod schedule;
pub mod setup;
pub mod status;
pub mod times;
pub mod units;
pub mod upkeep;

/// The window (cxx-qt bridge + QML). It lives in the library so that every target linking
/// the crate also links the Rust side of the C++ glue that cxx-qt-build adds to each link.
#[cfg(feature = "gui")]
pub mod gui;
