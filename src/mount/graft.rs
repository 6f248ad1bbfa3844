//! Folders of the mount served from another mount: a repository Kastell cannot read is mounted
//! privately by borg, and its tree is grafted into Kastell's whole-config layout under the
//! repository's label, so `MOUNT/<label>/...` has every repository of the config.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo};

/// Grafted inodes start here, far above the index's `(slot + 1) << 32 | entry` numbers.
const BASE: u64 = 1 << 62;

/// Every path handed out gets one inode for the mount's lifetime (the kernel asks by inode).
#[derive(Default)]
struct Inodes {
    paths: Vec<PathBuf>,
    by_path: HashMap<PathBuf, u64>,
}

pub struct Grafts {
    /// Label → the private mount's folder.
    roots: Vec<(String, PathBuf)>,
    inodes: Mutex<Inodes>,
}

pub fn is_graft(ino: u64) -> bool {
    ino >= BASE
}

impl Grafts {
    pub fn new(roots: Vec<(String, PathBuf)>) -> Grafts {
        Grafts {
            roots,
            inodes: Mutex::default(),
        }
    }

    fn ino_of(&self, path: &Path) -> u64 {
        let Ok(mut table) = self.inodes.lock() else {
            return 0;
        };
        if let Some(found) = table.by_path.get(path) {
            return *found;
        }
        let ino = BASE + table.paths.len() as u64;
        table.paths.push(path.to_path_buf());
        table.by_path.insert(path.to_path_buf(), ino);
        ino
    }

    fn path_of(&self, ino: u64) -> Result<PathBuf, Errno> {
        let table = self.inodes.lock().map_err(|_| Errno::EIO)?;
        let at = usize::try_from(ino.checked_sub(BASE).ok_or(Errno::ENOENT)?)
            .map_err(|_| Errno::ENOENT)?;
        table.paths.get(at).cloned().ok_or(Errno::ENOENT)
    }

    fn attr_of(&self, path: &Path) -> Result<FileAttr, Errno> {
        let meta = std::fs::symlink_metadata(path)?;
        let mtime = UNIX_EPOCH
            + Duration::new(
                u64::try_from(meta.mtime()).unwrap_or(0),
                u32::try_from(meta.mtime_nsec()).unwrap_or(0),
            );
        Ok(FileAttr {
            ino: INodeNo(self.ino_of(path)),
            size: meta.size(),
            blocks: meta.blocks(),
            atime: mtime,
            mtime,
            ctime: mtime,
            crtime: mtime,
            kind: super::fs::file_type(meta.mode()),
            perm: (meta.mode() & 0o7777) as u16,
            nlink: u32::try_from(meta.nlink()).unwrap_or(1),
            uid: meta.uid(),
            gid: meta.gid(),
            rdev: 0,
            flags: 0,
            blksize: 4096,
        })
    }

    /// The graft named `label` at the top of the mount.
    pub fn root(&self, label: &[u8]) -> Option<Result<FileAttr, Errno>> {
        self.roots
            .iter()
            .find(|(l, _)| l.as_bytes() == label)
            .map(|(_, root)| self.attr_of(root))
    }

    /// The top-level entries: each graft's label and inode.
    pub fn top_entries(&self) -> Vec<(u64, FileType, Vec<u8>)> {
        self.roots
            .iter()
            .map(|(label, root)| {
                (
                    self.ino_of(root),
                    FileType::Directory,
                    label.as_bytes().to_vec(),
                )
            })
            .collect()
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        self.attr_of(&self.path_of(parent)?.join(name))
    }

    pub fn getattr(&self, ino: u64) -> Result<FileAttr, Errno> {
        self.attr_of(&self.path_of(ino)?)
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, Errno> {
        Ok(std::fs::read_link(self.path_of(ino)?)?
            .as_os_str()
            .as_bytes()
            .to_vec())
    }

    pub fn readdir(&self, ino: u64) -> Result<Vec<(u64, FileType, Vec<u8>)>, Errno> {
        let dir = self.path_of(ino)?;
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = match entry.file_type() {
                Ok(t) if t.is_dir() => FileType::Directory,
                Ok(t) if t.is_symlink() => FileType::Symlink,
                _ => FileType::RegularFile,
            };
            entries.push((
                self.ino_of(&entry.path()),
                kind,
                entry.file_name().as_bytes().to_vec(),
            ));
        }
        Ok(entries)
    }

    pub fn open(&self, ino: u64) -> Result<std::fs::File, Errno> {
        Ok(std::fs::File::open(self.path_of(ino)?)?)
    }
}
