//! The desktop around the window: notifications (`notify`, the freedesktop notification
//! service) and the file manager (`file_manager`, `org.freedesktop.FileManager1`).

pub mod file_manager;
pub mod notify;
