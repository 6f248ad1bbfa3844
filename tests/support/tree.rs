//! A tree of every kind of file borg archives, built the way borg's own test suite builds its
//! test files (`testsuite/archiver.py` `create_test_files`: a setuid file owned by 100:200, a
//! `nodump` file, a read-only folder, a hard link, a symlink, xattrs, a fifo, block and
//! character devices, an empty file), plus POSIX ACLs, a sparse file, a hard-link group across
//! folders and non-ASCII names; and a comparison of two trees by everything `stat`, `readlink`,
//! xattrs, ACLs, flags and content show, for differential tests against `borg extract`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("{}: {name}: {e}", path.display()));
}

pub fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect()
}

pub fn set_mtime(path: &Path, secs: i64, nanos: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, nanos);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// What `build` could make here (devices and foreign owners need root, ACLs `setfacl`).
#[derive(Debug, Clone, Copy)]
pub struct Built {
    pub root: bool,
    pub acls: bool,
}

/// Builds the tree in `input` (which must not exist yet).
pub fn build(input: &Path) -> Built {
    let root = nix::unistd::geteuid().is_root();
    std::fs::create_dir_all(input.join("dir2")).unwrap();
    std::fs::write(input.join("file1"), pseudo_random(80 * 1024, 1)).unwrap();
    std::fs::write(input.join("flagfile"), pseudo_random(1024, 2)).unwrap();
    std::fs::write(input.join("dir2/file2"), pseudo_random(80 * 1024, 3)).unwrap();
    std::fs::set_permissions(input.join("file1"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::hard_link(input.join("file1"), input.join("hardlink")).unwrap();
    std::os::unix::fs::symlink("somewhere", input.join("link1")).unwrap();
    std::fs::write(input.join("fusexattr"), "x").unwrap();
    set_xattr(&input.join("fusexattr"), "user.foo", b"bar");
    set_xattr(&input.join("fusexattr"), "user.empty", b"");
    nix::unistd::mkfifo(
        &input.join("fifo1"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // nodump, as borg's tests set UF_NODUMP (ignored where the filesystem has no flags).
    let _ = Command::new("chattr")
        .arg("+d")
        .arg(input.join("flagfile"))
        .status();
    // A hard-link group across folders, and names that are not ASCII.
    std::fs::create_dir_all(input.join("deep/a/b")).unwrap();
    std::fs::create_dir_all(input.join("other")).unwrap();
    std::fs::write(
        input.join("deep/a/b/shared.bin"),
        pseudo_random(300 * 1024, 4),
    )
    .unwrap();
    std::fs::hard_link(
        input.join("deep/a/b/shared.bin"),
        input.join("other/shared-2.bin"),
    )
    .unwrap();
    std::fs::hard_link(
        input.join("deep/a/b/shared.bin"),
        input.join("deep/shared-3.bin"),
    )
    .unwrap();
    std::fs::write(input.join("ünïcödé 日本.txt"), "unicode\n").unwrap();
    std::os::unix::fs::symlink("deep/a", input.join("link to a folder")).unwrap();
    set_xattr(&input.join("deep"), "user.xdg.tags", b"kept");
    // Sparse: 1 MiB of data, an 8 MiB hole, 1 MiB of data, a 2 MiB hole at the end.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::File::create(input.join("sparse.img")).unwrap();
        f.write_all(&pseudo_random(1 << 20, 5)).unwrap();
        f.seek(SeekFrom::Start(9 << 20)).unwrap();
        f.write_all(&pseudo_random(1 << 20, 6)).unwrap();
        f.set_len(12 << 20).unwrap();
    }
    set_mtime(&input.join("ünïcödé 日本.txt"), 1_000_000_000, 123_456_789);
    set_mtime(&input.join("link1"), 1_500_000_000, 5);
    let acls = Command::new("setfacl").arg("--version").output().is_ok();
    if acls {
        std::fs::create_dir_all(input.join("acl")).unwrap();
        std::fs::write(input.join("acl/file"), "acl\n").unwrap();
        run(Command::new("setfacl")
            .args(["-m", "u:nobody:r--,g:nogroup:rw-"])
            .arg(input.join("acl/file")));
        run(Command::new("setfacl")
            .args(["-d", "-m", "u:nobody:r-x"])
            .arg(input.join("acl")));
    }
    if root {
        for (name, kind, major, minor) in [
            ("bdev", nix::sys::stat::SFlag::S_IFBLK, 10, 20),
            ("cdev", nix::sys::stat::SFlag::S_IFCHR, 30, 40),
        ] {
            nix::sys::stat::mknod(
                &input.join(name),
                kind,
                nix::sys::stat::Mode::from_bits_truncate(0o600),
                nix::sys::stat::makedev(major, minor),
            )
            .unwrap();
        }
        nix::unistd::chown(
            &input.join("file1"),
            Some(nix::unistd::Uid::from_raw(100)),
            Some(nix::unistd::Gid::from_raw(200)),
        )
        .unwrap();
        // chown clears setuid: set it again, as borg's test expects it archived.
        std::fs::set_permissions(input.join("file1"), std::fs::Permissions::from_mode(0o4755))
            .unwrap();
    }
    std::fs::write(input.join("empty"), "").unwrap();
    // Read-only folder last (nothing can be added to it afterwards without root).
    std::fs::set_permissions(input.join("dir2"), std::fs::Permissions::from_mode(0o555)).unwrap();
    Built { root, acls }
}

/// What of the tree's special features `tree` (an extracted copy) shows, so a comparison is
/// known to have compared them.
pub fn features(tree: &Path, built: Built) -> Vec<&'static str> {
    let mut missing = Vec::new();
    let meta = |rel: &str| std::fs::symlink_metadata(tree.join(rel));
    if meta("hardlink").map(|m| m.nlink()).unwrap_or(0) != 2 {
        missing.push("hard link");
    }
    if !meta("fifo1").is_ok_and(|m| m.file_type().is_fifo()) {
        missing.push("fifo");
    }
    if !xattrs(&tree.join("fusexattr")).contains_key(&b"user.foo"[..]) {
        missing.push("xattr");
    }
    if built.acls && !xattrs(&tree.join("acl/file")).contains_key(&b"system.posix_acl_access"[..]) {
        missing.push("access ACL");
    }
    if built.acls && !xattrs(&tree.join("acl")).contains_key(&b"system.posix_acl_default"[..]) {
        missing.push("default ACL");
    }
    if built.root && !meta("bdev").is_ok_and(|m| m.file_type().is_block_device()) {
        missing.push("block device");
    }
    if built.root && meta("file1").map(|m| m.uid()).unwrap_or(0) != 100 {
        missing.push("foreign owner");
    }
    if meta("file1").map(|m| m.mode() & 0o7777).unwrap_or(0) != 0o4755 {
        missing.push("setuid");
    }
    missing
}

/// The flags `chattr +d` set (0 where the filesystem has none).
pub fn nodump(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    flags(path, &meta) & rustix::fs::IFlags::NODUMP.bits() != 0
}

/// What to compare.
#[derive(Debug, Clone, Copy)]
pub struct Compare {
    /// POSIX ACLs and file flags (a FUSE mount cannot show them).
    pub acls_and_flags: bool,
    /// Allocated blocks of regular files (sparse restores).
    pub blocks: bool,
}

/// Every extended attribute of `path` (not following a symlink), by name.
pub fn xattrs(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; 1 << 16];
    let n = rustix::fs::llistxattr(path, &mut names[..]).unwrap_or(0);
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 1 << 16];
        let got = rustix::fs::lgetxattr(path, std::ffi::OsStr::from_bytes(name), &mut value[..])
            .unwrap_or(0);
        value.truncate(got);
        out.insert(name.to_vec(), value);
    }
    out
}

fn flags(path: &Path, meta: &std::fs::Metadata) -> u32 {
    if !(meta.is_file() || meta.is_dir()) {
        return 0;
    }
    let Ok(fd) = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW,
        rustix::fs::Mode::empty(),
    ) else {
        return 0;
    };
    let wanted =
        rustix::fs::IFlags::NODUMP | rustix::fs::IFlags::IMMUTABLE | rustix::fs::IFlags::APPEND;
    rustix::fs::ioctl_getflags(&fd).map_or(0, |f| (f & wanted).bits())
}

/// Every path below `root` (relative), folders included, not following symlinks.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let child = rel.join(e.file_name());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort();
    out
}

/// The differences between the trees below `a` and `b`, in words (empty when equal).
pub fn differences(a: &Path, b: &Path, what: Compare) -> Vec<String> {
    let mut out = Vec::new();
    let (left, right) = (walk(a), walk(b));
    let names: BTreeSet<&PathBuf> = left.iter().chain(right.iter()).collect();
    // Hard-link groups: the set of names per inode, on each side.
    let mut groups_a: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut groups_b: BTreeMap<u64, BTreeSet<PathBuf>> = BTreeMap::new();
    for rel in names {
        let (pa, pb) = (a.join(rel), b.join(rel));
        let (ma, mb) = match (
            std::fs::symlink_metadata(&pa),
            std::fs::symlink_metadata(&pb),
        ) {
            (Ok(ma), Ok(mb)) => (ma, mb),
            (Ok(_), Err(_)) => {
                out.push(format!("{}: only in {}", rel.display(), a.display()));
                continue;
            }
            (Err(_), Ok(_)) => {
                out.push(format!("{}: only in {}", rel.display(), b.display()));
                continue;
            }
            (Err(_), Err(_)) => continue,
        };
        let mut found: Vec<String> = Vec::new();
        let mut differ = |what: &str, x: String, y: String| {
            if x != y {
                found.push(format!("{}: {what} {x} ≠ {y}", rel.display()));
            }
        };
        differ(
            "mode",
            format!("{:o}", ma.mode()),
            format!("{:o}", mb.mode()),
        );
        differ(
            "owner",
            format!("{}:{}", ma.uid(), ma.gid()),
            format!("{}:{}", mb.uid(), mb.gid()),
        );
        differ(
            "mtime",
            format!("{}.{:09}", ma.mtime(), ma.mtime_nsec()),
            format!("{}.{:09}", mb.mtime(), mb.mtime_nsec()),
        );
        differ("nlink", ma.nlink().to_string(), mb.nlink().to_string());
        let ft = ma.file_type();
        if ft.is_block_device() || ft.is_char_device() {
            differ("rdev", ma.rdev().to_string(), mb.rdev().to_string());
        }
        if ft.is_symlink() {
            differ(
                "link target",
                format!("{:?}", std::fs::read_link(&pa).ok()),
                format!("{:?}", std::fs::read_link(&pb).ok()),
            );
        }
        if ft.is_file() {
            differ("size", ma.len().to_string(), mb.len().to_string());
            if std::fs::read(&pa).ok() != std::fs::read(&pb).ok() {
                differ("content", "(a)".into(), "(b)".into());
            }
            if what.blocks {
                differ("blocks", ma.blocks().to_string(), mb.blocks().to_string());
            }
            if ma.nlink() > 1 {
                groups_a.entry(ma.ino()).or_default().insert(rel.clone());
                groups_b.entry(mb.ino()).or_default().insert(rel.clone());
            }
        }
        let keep = |name: &Vec<u8>| what.acls_and_flags || !name.starts_with(b"system.posix_acl_");
        let xa: BTreeMap<_, _> = xattrs(&pa).into_iter().filter(|(n, _)| keep(n)).collect();
        let xb: BTreeMap<_, _> = xattrs(&pb).into_iter().filter(|(n, _)| keep(n)).collect();
        differ("xattrs", format!("{xa:?}"), format!("{xb:?}"));
        if what.acls_and_flags {
            differ(
                "flags",
                flags(&pa, &ma).to_string(),
                flags(&pb, &mb).to_string(),
            );
        }
        out.extend(found);
    }
    let partition = |groups: BTreeMap<u64, BTreeSet<PathBuf>>| -> BTreeSet<BTreeSet<PathBuf>> {
        groups.into_values().collect()
    };
    let (ga, gb) = (partition(groups_a), partition(groups_b));
    if ga != gb {
        out.push(format!("hard-link groups differ: {ga:?} ≠ {gb:?}"));
    }
    out
}
