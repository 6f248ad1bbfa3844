//! Kastell's Qt-free core: borgmatic configs, the borg/borgmatic process layer, repository
//! reads and the command line. Nothing here imports Qt; the window lives in `src/gui`.

pub mod cli;
pub mod config;
pub mod events;
pub mod process;
pub mod repository;
pub mod units;
