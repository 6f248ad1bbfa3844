//! Mounting archives read-only for a file manager.
//!
//! - `fs`: the FUSE filesystem itself (one archive, a repository, or every repository of a
//!   config), served from the archive index and the native reader.
//! - `graft`: a repository the reader cannot read, grafted into a whole-config mount from a
//!   private `borg mount`.
//! - `table`: which mounts are Kastell's, and unmounting them.
//! - `manager`: the mounts a running Kastell keeps (the window's), stale ones cleaned at start.

pub mod fs;
mod graft;
pub mod manager;
pub mod table;

pub use fs::{config, ArchiveFs, Layout};
pub use table::{kastell_mounts, mount_table, unmount, MountEntry};
