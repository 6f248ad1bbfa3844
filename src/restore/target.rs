//! The folder a restore writes into, reached the way `borg extract` guards it: every folder
//! below the chosen root is opened one component at a time with `O_NOFOLLOW`, so a symlink in
//! a parent (one on disk, or one the archive itself just restored) is never followed, and
//! `..` never climbs out. Everything is then written relative to the opened parent
//! (`openat`, `renameat`, ...), so nothing can be swapped between the check and the write.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Why a path below the root cannot be reached safely.
#[derive(Debug)]
pub enum TreeError {
    /// A `..` in the path.
    Outside,
    /// The component at this (relative) path is a symlink or not a folder.
    NotAFolder(PathBuf),
    Io(PathBuf, std::io::Error),
}

/// Folders opened so far are kept (by relative path) while a restore runs.
const KEPT_FOLDERS: usize = 256;

pub struct TargetTree {
    root: PathBuf,
    root_fd: Arc<OwnedFd>,
    folders: HashMap<PathBuf, Arc<OwnedFd>>,
}

fn io_error(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// Opens folder `name` in `parent` without following a symlink (`O_PATH`: no read permission
/// needed to pass through).
fn open_folder(parent: &OwnedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        parent,
        name,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

impl TargetTree {
    /// The tree below `root`, which is trusted as given (the user chose it, or it is `/`).
    pub fn open(root: &Path) -> std::io::Result<TargetTree> {
        let fd = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error)?;
        Ok(TargetTree {
            root: root.to_path_buf(),
            root_fd: Arc::new(fd),
            folders: HashMap::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the root (`None` when it is not below it).
    pub fn relative<'a>(&self, path: &'a Path) -> Option<&'a Path> {
        path.strip_prefix(&self.root).ok()
    }

    /// The folder at `rel`, every component a real folder; missing ones are made (as
    /// `mkdir -p` would, umask applied) when `create`.
    pub fn folder(&mut self, rel: &Path, create: bool) -> Result<Arc<OwnedFd>, TreeError> {
        let mut parts: Vec<&OsStr> = Vec::new();
        for component in rel.components() {
            match component {
                Component::Normal(name) => parts.push(name),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                Component::ParentDir => return Err(TreeError::Outside),
            }
        }
        // Start below the deepest folder already open.
        let mut at = parts.len();
        let mut fd = loop {
            if at == 0 {
                break self.root_fd.clone();
            }
            let prefix: PathBuf = parts[..at].iter().collect();
            if let Some(found) = self.folders.get(&prefix) {
                break found.clone();
            }
            at -= 1;
        };
        if self.folders.len() > KEPT_FOLDERS {
            self.folders.clear();
        }
        for depth in at..parts.len() {
            let name = parts[depth];
            let here: PathBuf = parts[..=depth].iter().collect();
            let opened = match open_folder(&fd, name) {
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&*fd, name, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => open_folder(&fd, name),
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            fd = match opened {
                Ok(opened) => Arc::new(opened),
                Err(Errno::LOOP | Errno::NOTDIR) => return Err(TreeError::NotAFolder(here)),
                Err(e) => return Err(TreeError::Io(self.root.join(&here), io_error(e))),
            };
            self.folders.insert(here, fd.clone());
        }
        Ok(fd)
    }

    /// The parent folder of `rel` and its last component.
    pub fn parent_of<'a>(
        &mut self,
        rel: &'a Path,
        create: bool,
    ) -> Result<(Arc<OwnedFd>, &'a OsStr), TreeError> {
        let name = match rel.components().next_back() {
            Some(Component::Normal(name)) => name,
            Some(Component::ParentDir) => return Err(TreeError::Outside),
            _ => return Err(TreeError::NotAFolder(rel.to_path_buf())),
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        Ok((self.folder(parent, create)?, name))
    }

    /// Forgets an opened folder (it was replaced or removed).
    pub fn forget(&mut self, rel: &Path) {
        self.folders.retain(|k, _| !k.starts_with(rel));
    }
}

/// `renameat` that never replaces what is there (`RENAME_NOREPLACE`; where the filesystem
/// lacks it, `link` + `unlink`, which refuses an existing name just the same). `Ok(false)`
/// when something is at `to`.
pub fn rename_no_replace(
    dir: &OwnedFd,
    from: &OsStr,
    to_dir: &OwnedFd,
    to: &OsStr,
) -> std::io::Result<bool> {
    match rustix::fs::renameat_with(dir, from, to_dir, to, rustix::fs::RenameFlags::NOREPLACE) {
        Ok(()) => Ok(true),
        Err(Errno::EXIST) => Ok(false),
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
            match rustix::fs::linkat(dir, from, to_dir, to, rustix::fs::AtFlags::empty()) {
                Ok(()) => {
                    let _ = rustix::fs::unlinkat(dir, from, rustix::fs::AtFlags::empty());
                    Ok(true)
                }
                Err(Errno::EXIST) => Ok(false),
                Err(e) => Err(io_error(e)),
            }
        }
        Err(e) => Err(io_error(e)),
    }
}

/// What is at `name` in `dir`, without following a symlink.
pub fn stat_at(dir: &OwnedFd, name: &OsStr) -> Option<rustix::fs::Stat> {
    rustix::fs::statat(dir.as_fd(), name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()
}

pub fn errno_io(e: Errno) -> std::io::Error {
    io_error(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_in_a_parent_or_a_dotdot_is_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("d/link")).unwrap();
        let mut tree = TargetTree::open(&root).unwrap();
        assert!(matches!(
            tree.folder(Path::new("d/link/x"), true),
            Err(TreeError::NotAFolder(p)) if p == Path::new("d/link")
        ));
        assert!(matches!(
            tree.folder(Path::new("d/../../outside"), true),
            Err(TreeError::Outside)
        ));
        assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
        // Missing folders are made below the root.
        tree.folder(Path::new("d/new/deeper"), true).unwrap();
        assert!(root.join("d/new/deeper").is_dir());
        let (parent, name) = tree.parent_of(Path::new("d/new/file"), false).unwrap();
        assert_eq!(name, "file");
        assert!(stat_at(&parent, OsStr::new("deeper")).is_some());
    }
}
