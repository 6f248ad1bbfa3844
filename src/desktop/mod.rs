//! The desktop around the window: notifications (`notify`, the freedesktop notification
//! service), the file manager (`file_manager`, `org.freedesktop.FileManager1`), Plasma's job
//! list (`jobs`, `org.kde.JobViewServer`) and the tray icon (`tray`, a StatusNotifierItem).

pub mod file_manager;
pub mod jobs;
pub mod notify;
pub mod tray;
