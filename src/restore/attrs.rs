//! What `borg extract` restores besides content, in borg's order (`Archive.restore_attrs`):
//! owner (by name where the name exists here, unless numeric ids are asked for), mode, POSIX
//! ACLs, extended attributes, access and modification times; file flags (`nodump`,
//! `immutable`, `append`) last, after the file is in place. Failures borg only warns about
//! (an xattr this filesystem refuses, an ACL) become warnings in the summary.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Mode, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::reader::Item;

/// Where the metadata goes.
pub enum Node<'a> {
    /// An open file or folder.
    Open(&'a OwnedFd),
    /// A symlink, fifo or device, by name in its (already verified) folder: never opened.
    Named(&'a OwnedFd, &'a OsStr),
}

/// Local ids of users and groups by name, looked up once each.
pub struct Owners {
    numeric: bool,
    users: HashMap<Vec<u8>, Option<u32>>,
    groups: HashMap<Vec<u8>, Option<u32>>,
}

impl Owners {
    pub fn new(numeric: bool) -> Owners {
        Owners {
            numeric,
            users: HashMap::new(),
            groups: HashMap::new(),
        }
    }

    fn uid_of(&mut self, name: &[u8]) -> Option<u32> {
        cached_id(&mut self.users, name, |n| {
            nix::unistd::User::from_name(n)
                .ok()
                .flatten()
                .map(|u| u.uid.as_raw())
        })
    }

    fn gid_of(&mut self, name: &[u8]) -> Option<u32> {
        cached_id(&mut self.groups, name, |n| {
            nix::unistd::Group::from_name(n)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw())
        })
    }

    /// borg's `get_item_uid_gid`: the local id of the stored name, else the stored id.
    pub fn ids(&mut self, item: &Item) -> (u32, u32) {
        let by_name_uid = if self.numeric {
            None
        } else {
            item.user.as_deref().and_then(|u| self.uid_of(u))
        };
        let by_name_gid = if self.numeric {
            None
        } else {
            item.group.as_deref().and_then(|g| self.gid_of(g))
        };
        let id = |stored: i64| u32::try_from(stored).unwrap_or(0);
        (
            by_name_uid.unwrap_or_else(|| id(item.uid)),
            by_name_gid.unwrap_or_else(|| id(item.gid)),
        )
    }
}

/// The local id of `name`, looked up once (borg's `user2uid`/`group2gid`, cached).
fn cached_id(
    cache: &mut HashMap<Vec<u8>, Option<u32>>,
    name: &[u8],
    lookup: impl FnOnce(&str) -> Option<u32>,
) -> Option<u32> {
    if name.is_empty() {
        return None;
    }
    *cache
        .entry(name.to_vec())
        .or_insert_with(|| std::str::from_utf8(name).ok().and_then(lookup))
}

fn timespec(ns: i128) -> Timespec {
    let ns = i64::try_from(ns).unwrap_or(0);
    Timespec {
        tv_sec: ns.div_euclid(1_000_000_000),
        tv_nsec: ns.rem_euclid(1_000_000_000),
    }
}

/// The `/proc` path of `name` in `dir`, for the calls that have no `*at` form.
fn proc_path(dir: &OwnedFd, name: &OsStr) -> std::path::PathBuf {
    std::path::Path::new(&format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

fn set_xattr(node: &Node, name: &[u8], value: &[u8]) -> Result<(), Errno> {
    let name = OsStr::from_bytes(name);
    match node {
        Node::Open(fd) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
        Node::Named(dir, entry) => {
            rustix::fs::lsetxattr(proc_path(dir, entry), name, value, XattrFlags::empty())
        }
    }
}

/// Applies owner, mode, ACLs, xattrs and times of `item` to `node`. Returns the warnings
/// (what borg would warn about and carry on); an error only when the mode cannot be set.
pub fn apply(node: &Node, item: &Item, owners: &mut Owners) -> std::io::Result<Vec<String>> {
    let mut warnings = Vec::new();
    let kind = item.mode & 0o170000;
    let is_symlink = kind == 0o120000;
    let (uid, gid) = owners.ids(item);
    let (uid, gid) = (
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    );
    // borg ignores a failed chown (not root: the file stays the restorer's).
    let _ = match node {
        Node::Open(fd) => rustix::fs::fchown(fd, uid, gid),
        Node::Named(dir, name) => {
            rustix::fs::chownat(dir, *name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        }
    };
    if !is_symlink {
        let mode = Mode::from_raw_mode(item.mode & 0o7777);
        match node {
            Node::Open(fd) => rustix::fs::fchmod(fd, mode),
            Node::Named(dir, name) => rustix::fs::chmodat(dir, *name, mode, AtFlags::empty()),
        }
        .map_err(super::target::errno_io)?;
        for (attribute, text) in [
            ("system.posix_acl_access", &item.acl_access),
            ("system.posix_acl_default", &item.acl_default),
        ] {
            let Some(text) = text.as_deref().filter(|t| !t.is_empty()) else {
                continue;
            };
            match acl_xattr(text, owners) {
                Some(value) => match set_xattr(node, attribute.as_bytes(), &value) {
                    Ok(()) | Err(Errno::OPNOTSUPP) => {}
                    Err(e) => warnings.push(format!("its ACL was not restored ({e})")),
                },
                None => warnings.push("its ACL could not be read from the archive".into()),
            }
        }
    }
    // After chown: chown clears security.capability.
    for (name, value) in &item.xattrs {
        if let Err(e) = set_xattr(node, name, value) {
            warnings.push(format!(
                "extended attribute {} was not restored ({e})",
                String::from_utf8_lossy(name)
            ));
        }
    }
    let times = Timestamps {
        last_access: timespec(item.atime.unwrap_or(item.mtime)),
        last_modification: timespec(item.mtime),
    };
    // borg ignores a failed utime as well (some systems cannot set a symlink's).
    let _ = match node {
        Node::Open(fd) => rustix::fs::futimens(fd, &times),
        Node::Named(dir, name) => {
            rustix::fs::utimensat(dir, *name, &times, AtFlags::SYMLINK_NOFOLLOW)
        }
    };
    Ok(warnings)
}

/// borg's flags on Linux (`platform/linux.pyx`): BSD's `UF_NODUMP`, `UF_IMMUTABLE`,
/// `UF_APPEND` as `FS_NODUMP_FL`, `FS_IMMUTABLE_FL`, `FS_APPEND_FL`; other flags untouched,
/// failures ignored as borg ignores them (not root, a filesystem without flags).
pub fn set_flags(fd: &OwnedFd, bsdflags: i64) {
    use rustix::fs::IFlags;
    const MAP: [(i64, IFlags); 3] = [
        (1, IFlags::NODUMP),
        (2, IFlags::IMMUTABLE),
        (4, IFlags::APPEND),
    ];
    let mask = IFlags::NODUMP | IFlags::IMMUTABLE | IFlags::APPEND;
    let wanted = MAP
        .iter()
        .filter(|(bsd, _)| bsdflags & bsd != 0)
        .fold(IFlags::empty(), |acc, (_, linux)| acc | *linux);
    if let Ok(current) = rustix::fs::ioctl_getflags(fd) {
        let _ = rustix::fs::ioctl_setflags(fd, (current - mask) | wanted);
    }
}

/// An ACL in borg's text form (`acl_to_text` lines, `user:name:rwx:uid` with the id appended
/// by borg) as the kernel's `system.posix_acl_*` value: version 2, then (tag, perm, id)
/// entries in the order the kernel wants (by tag, then id). Named entries get the local id of
/// the name where it exists (borg's `acl_use_local_uid_gid`), else the stored id.
pub fn acl_xattr(text: &[u8], owners: &mut Owners) -> Option<Vec<u8>> {
    const UNDEFINED: u32 = u32::MAX;
    let text = std::str::from_utf8(text).ok()?;
    let mut entries: Vec<(u16, u16, u32)> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 3 {
            return None;
        }
        let (qualifier, perms) = (fields[1], fields[2]);
        let stored = fields.get(3).and_then(|s| s.trim().parse::<u32>().ok());
        let named =
            |by_name: Option<u32>| by_name.or(stored).or_else(|| qualifier.parse::<u32>().ok());
        let (tag, id) = match (fields[0], qualifier.is_empty()) {
            ("user" | "u", true) => (0x01, UNDEFINED),
            ("user" | "u", false) => {
                let local = (!owners.numeric)
                    .then(|| owners.uid_of(qualifier.as_bytes()))
                    .flatten();
                (0x02, named(local)?)
            }
            ("group" | "g", true) => (0x04, UNDEFINED),
            ("group" | "g", false) => {
                let local = (!owners.numeric)
                    .then(|| owners.gid_of(qualifier.as_bytes()))
                    .flatten();
                (0x08, named(local)?)
            }
            ("mask" | "m", _) => (0x10, UNDEFINED),
            ("other" | "o", _) => (0x20, UNDEFINED),
            _ => return None,
        };
        let mut perm = 0u16;
        for c in perms.trim().chars() {
            perm |= match c {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                '-' => 0,
                _ => return None,
            };
        }
        entries.push((tag, perm, id));
    }
    entries.sort_by_key(|(tag, _, id)| (*tag, *id));
    let mut out = Vec::with_capacity(4 + 8 * entries.len());
    out.extend_from_slice(&2u32.to_le_bytes());
    for (tag, perm, id) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&perm.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borgs_acl_text_becomes_the_kernels_xattr_sorted_with_numeric_ids() {
        // As borg stores it: acl_to_text with the numeric id appended to named entries.
        let text = b"user::rw-\ngroup::r--\ngroup:nogroup-that-does-not-exist:rwx:4242\nuser:nobody-here-either:r--:1234\nmask::rwx\nother::---\n";
        let mut owners = Owners::new(false);
        let value = acl_xattr(text, &mut owners).unwrap();
        let entry = |i: usize| {
            let at = 4 + 8 * i;
            (
                u16::from_le_bytes([value[at], value[at + 1]]),
                u16::from_le_bytes([value[at + 2], value[at + 3]]),
                u32::from_le_bytes([value[at + 4], value[at + 5], value[at + 6], value[at + 7]]),
            )
        };
        assert_eq!(&value[..4], &2u32.to_le_bytes());
        assert_eq!(value.len(), 4 + 8 * 6);
        assert_eq!(entry(0), (0x01, 6, u32::MAX));
        assert_eq!(entry(1), (0x02, 4, 1234));
        assert_eq!(entry(2), (0x04, 4, u32::MAX));
        assert_eq!(entry(3), (0x08, 7, 4242));
        assert_eq!(entry(4), (0x10, 7, u32::MAX));
        assert_eq!(entry(5), (0x20, 0, u32::MAX));
        // A user that exists here is mapped to the local id, unless numeric ids are asked for.
        let root = acl_xattr(b"user::rwx\nuser:root:r--:777\n", &mut owners).unwrap();
        assert_eq!(&root[4 + 8 + 4..4 + 8 + 8], &0u32.to_le_bytes());
        let mut numeric = Owners::new(true);
        let stored = acl_xattr(b"user::rwx\nuser:root:r--:777\n", &mut numeric).unwrap();
        assert_eq!(&stored[4 + 8 + 4..4 + 8 + 8], &777u32.to_le_bytes());
        assert!(acl_xattr(b"user:bob", &mut owners).is_none());
    }
}
