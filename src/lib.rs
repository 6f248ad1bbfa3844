//! Kastell's Qt-free core: borgmatic configs, the borg/borgmatic process layer, repository
//! reads and the command line. Nothing here imports Qt; the window lives in `src/gui`.

pub mod backup;
pub mod browse;
pub mod cli;
pub mod config;
pub mod events;
pub mod file_manager;
pub mod history;
pub mod index;
pub mod mount;
pub mod notify;
pub mod passphrase;
pub mod patterns;
pub mod preferences;
pub mod private;
pub mod process;
pub mod relay;
pub mod repo;
pub mod repository;
pub mod restore;
pub mod secrets;
pub mod units;

/// The window (cxx-qt bridge + QML). It lives in the library so that every target linking
/// the crate also links the Rust side of the C++ glue that cxx-qt-build adds to each link.
#[cfg(feature = "gui")]
pub mod gui;
