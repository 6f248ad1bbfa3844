//! The desktop around the window: notifications (`notify`, the freedesktop notification
//! service), the file manager (`file_manager`, `org.freedesktop.FileManager1`), Plasma's job
//! list (`jobs`, `org.kde.JobViewServer`), the tray icon (`tray`, a StatusNotifierItem) and
//! the one window per session (`app_bus`, `org.freedesktop.Application`).

pub mod app_bus;
pub mod file_manager;
pub mod jobs;
pub mod notify;
pub mod tray;
