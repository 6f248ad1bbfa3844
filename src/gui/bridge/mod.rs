//! One QObject per file. Each holds UI state only; the work happens in the core.

pub mod archive_details;
pub mod archive_list;
pub mod config_editor;
pub mod repository_list;
