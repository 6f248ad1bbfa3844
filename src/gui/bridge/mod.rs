//! One QObject per file. Each holds UI state only; the work happens in the core.

pub mod app_preferences;
pub mod archive_browser;
pub mod archive_compare;
pub mod archive_details;
pub mod archive_housekeeping;
pub mod archive_list;
pub mod backup_runner;
pub mod config_editor;
pub mod entry_preview;
pub mod exclude_preview;
pub mod exclude_rules;
pub mod failure;
pub mod folder_sizes;
pub mod history_model;
pub mod mount_manager;
pub mod recovery;
pub mod repository_list;
pub mod repository_space;
pub mod restore_runner;
pub mod retention_preview;
pub mod schedule_settings;
pub mod setup_wizard;
pub mod version_list;
pub mod window_requests;
