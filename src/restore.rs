//! Restoring files from an archive with the native reader: first a plan of what would change
//! on disk (new, changed, identical, and what exists only on disk), then the restore itself,
//! every file written under a temporary name beside its target and renamed into place when
//! complete, so a failed or cancelled restore never leaves half a file where a good one was.
//! Nothing that exists is replaced without a decision (`Conflict`). Permissions, times,
//! ownership (as root), symlinks and extended attributes are kept.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::index::ArchiveIndex;
use crate::repo::{ArchiveRef, ReadError, Reader};

/// Where the selection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Each item back where it was: `root` joined with its archive path (`/` for real use).
    Original { root: PathBuf },
    /// Each selected item directly into this folder (no recreated `home/me/...` chain).
    Into(PathBuf),
}

/// What restoring an entry would do to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    /// Something is there and differs (type, size or modification time).
    Changed,
    Identical,
    /// On disk inside a restored folder, not in the archive (left alone).
    OnlyOnDisk,
}

/// What to do with a `Changed` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Overwrite,
    Skip,
    /// Restore beside it as `name (restored)` (`name (restored 2)`, ...).
    KeepBoth,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    /// Index entry (`None` for `OnlyOnDisk`).
    pub entry: Option<u32>,
    pub archive_path: Vec<u8>,
    pub target: PathBuf,
    pub change: Change,
    pub is_dir: bool,
    pub size: u64,
}

#[derive(Debug, Clone, Default)]
pub struct RestorePlan {
    pub entries: Vec<PlannedEntry>,
}

impl RestorePlan {
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    /// The entries that need a decision.
    pub fn conflicts(&self) -> impl Iterator<Item = &PlannedEntry> {
        self.entries.iter().filter(|e| e.change == Change::Changed)
    }

    /// Bytes of file content to write (new and changed files).
    pub fn bytes(&self) -> u64 {
        self.entries
            .iter()
            .filter(|e| matches!(e.change, Change::New | Change::Changed) && !e.is_dir)
            .map(|e| e.size)
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{} is not in the archive", String::from_utf8_lossy(.0))]
    NotInArchive(Vec<u8>),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", String::from_utf8_lossy(path))]
    Read { path: Vec<u8>, source: ReadError },
    #[error("cancelled")]
    Cancelled,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> RestoreError + '_ {
    move |source| RestoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The index entries of `paths` (as the user knows them; leading slash optional).
pub fn select(index: &ArchiveIndex, paths: &[String]) -> Result<Vec<u32>, RestoreError> {
    paths
        .iter()
        .map(|p| {
            let trimmed = p.trim_matches('/');
            index
                .lookup(trimmed.as_bytes())
                .filter(|i| *i != 0 || trimmed.is_empty())
                .ok_or_else(|| RestoreError::NotInArchive(trimmed.as_bytes().to_vec()))
        })
        .collect()
}

fn differs(index: &ArchiveIndex, entry: u32, on_disk: &std::fs::Metadata) -> bool {
    let e = index.entry(entry);
    let kind = |mode: u32| mode & 0o170000;
    if kind(e.mode) != kind(on_disk.mode()) {
        return true;
    }
    if e.is_dir() {
        return false;
    }
    let mtime = on_disk.mtime() as i128 * 1_000_000_000 + i128::from(on_disk.mtime_nsec());
    (!e.is_symlink() && e.size != on_disk.size()) || i128::from(e.mtime_ns) != mtime
}

/// What restoring `selection` to `destination` would do.
pub fn plan(index: &ArchiveIndex, selection: &[u32], destination: &Destination) -> RestorePlan {
    let mut plan = RestorePlan::default();
    for &top in selection {
        let top_path = index.path(top);
        let target_top = match destination {
            Destination::Original { root } => root.join(OsStr::from_bytes(&top_path)),
            Destination::Into(dir) => dir.join(OsStr::from_bytes(index.name(top))),
        };
        // Breadth first below the selected entry.
        let mut queue = vec![(top, target_top)];
        let mut next = 0;
        while next < queue.len() {
            let (entry, target) = queue[next].clone();
            next += 1;
            let e = index.entry(entry);
            let on_disk = std::fs::symlink_metadata(&target).ok();
            let change = match &on_disk {
                None => Change::New,
                Some(m) if differs(index, entry, m) => Change::Changed,
                Some(_) => Change::Identical,
            };
            plan.entries.push(PlannedEntry {
                entry: Some(entry),
                archive_path: index.path(entry),
                target: target.clone(),
                change,
                is_dir: e.is_dir(),
                size: e.size,
            });
            if e.is_dir() && change != Change::Changed {
                let mut in_archive = BTreeSet::new();
                for child in e.children() {
                    let name = index.name(child);
                    in_archive.insert(name.to_vec());
                    queue.push((child, target.join(OsStr::from_bytes(name))));
                }
                if on_disk.is_some() {
                    if let Ok(listing) = std::fs::read_dir(&target) {
                        for found in listing.flatten() {
                            let name = found.file_name();
                            if !in_archive.contains(name.as_bytes()) {
                                plan.entries.push(PlannedEntry {
                                    entry: None,
                                    archive_path: Vec::new(),
                                    target: found.path(),
                                    change: Change::OnlyOnDisk,
                                    is_dir: found.file_type().is_ok_and(|t| t.is_dir()),
                                    size: found.metadata().map_or(0, |m| m.len()),
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    plan
}

/// How far a restore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreProgress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    pub restored: u64,
    pub overwritten: u64,
    pub kept_both: Vec<PathBuf>,
    pub skipped: u64,
    pub identical: u64,
    pub bytes: u64,
    /// Devices, fifos and sockets, left out (making them needs mknod, as `borg extract` does).
    pub special: Vec<PathBuf>,
}

/// A free `name (restored)` / `name (restored N)` beside `target`.
fn beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    for n in 1.. {
        let label = if n == 1 {
            " (restored)".to_string()
        } else {
            format!(" (restored {n})")
        };
        let candidate = target.with_file_name(format!("{stem}{label}{ext}"));
        if std::fs::symlink_metadata(&candidate).is_err() {
            return candidate;
        }
    }
    unreachable!("an unbounded range always yields")
}

fn temp_beside(target: &Path, n: u64) -> PathBuf {
    target.with_file_name(format!(".kastell-restore-{}-{n}.part", std::process::id()))
}

/// Applies what the archive says about an entry to the file at `path`: owner (as root),
/// extended attributes, permissions, modification time.
fn apply_metadata(
    path: &Path,
    item: &crate::repo::Item,
    is_symlink: bool,
) -> Result<(), RestoreError> {
    if nix::unistd::Uid::effective().is_root() {
        std::os::unix::fs::lchown(path, Some(item.uid as u32), Some(item.gid as u32))
            .map_err(io_at(path))?;
    }
    for (name, value) in &item.xattrs {
        set_xattr(path, name, value).map_err(io_at(path))?;
    }
    if !is_symlink {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(item.mode & 0o7777))
            .map_err(io_at(path))?;
    }
    let ns = i64::try_from(item.mtime).unwrap_or(0);
    let time =
        nix::sys::time::TimeSpec::new(ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000));
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| RestoreError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

fn set_xattr(path: &Path, name: &[u8], value: &[u8]) -> std::io::Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let c_name = std::ffi::CString::new(name)?;
    // SAFETY: valid NUL-terminated strings and a buffer with its length.
    let rc = unsafe {
        nix::libc::lsetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        // A filesystem without user xattrs: the data matters more than the attribute.
        if e.raw_os_error() == Some(nix::libc::ENOTSUP) {
            Ok(())
        } else {
            Err(e)
        }
    }
}

/// Restores `plan` (made from `index`, the index of `archive`) through the native reader.
/// `decide` is asked once per changed entry. Cancelling stops between chunks; the file being
/// written is removed, the ones finished stay (each whole).
pub fn restore(
    reader: &Reader,
    archive: &ArchiveRef,
    index: &ArchiveIndex,
    plan: &RestorePlan,
    decide: &mut dyn FnMut(&PlannedEntry) -> Conflict,
    progress: &mut dyn FnMut(RestoreProgress),
    cancel: &AtomicBool,
) -> Result<RestoreSummary, RestoreError> {
    let item_chunks = reader
        .item_chunks(archive)
        .map_err(|source| RestoreError::Read {
            path: Vec::new(),
            source,
        })?;
    let mut summary = RestoreSummary::default();
    let mut state = RestoreProgress {
        bytes_total: plan.bytes(),
        ..RestoreProgress::default()
    };
    // Folders get their times last: writing into them changes their mtime.
    let mut folders: Vec<(PathBuf, crate::repo::Item)> = Vec::new();
    // A changed folder the user skipped: nothing below it is touched.
    let mut skipped_folders: Vec<PathBuf> = Vec::new();
    let mut serial = 0u64;
    for planned in &plan.entries {
        if cancel.load(Ordering::Relaxed) {
            return Err(RestoreError::Cancelled);
        }
        let Some(entry) = planned.entry else {
            continue;
        };
        if skipped_folders
            .iter()
            .any(|f| planned.target.starts_with(f))
        {
            continue;
        }
        let mut target = planned.target.clone();
        if !planned.is_dir
            && planned.change != Change::Identical
            && !matches!(index.entry(entry).mode & 0o170000, 0o100000 | 0o120000)
        {
            summary.special.push(target);
            continue;
        }
        match planned.change {
            Change::Identical => {
                summary.identical += 1;
                if !planned.is_dir {
                    continue;
                }
            }
            Change::Changed => match decide(planned) {
                Conflict::Skip => {
                    summary.skipped += 1;
                    if planned.is_dir {
                        skipped_folders.push(target);
                    }
                    continue;
                }
                Conflict::KeepBoth => {
                    target = beside(&target);
                    summary.kept_both.push(target.clone());
                }
                Conflict::Overwrite => summary.overwritten += 1,
            },
            Change::New => summary.restored += 1,
            Change::OnlyOnDisk => continue,
        }
        let read_error = |source| RestoreError::Read {
            path: planned.archive_path.clone(),
            source,
        };
        let mut item = reader
            .item_at(&item_chunks, index.entry(entry).at)
            .map_err(read_error)?;
        resolve_hardlink(reader, index, &item_chunks, &mut item).map_err(|source| {
            RestoreError::Read {
                path: planned.archive_path.clone(),
                source,
            }
        })?;
        let kind = item.mode & 0o170000;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        if kind == 0o040000 {
            if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                std::fs::remove_file(&target).map_err(io_at(&target))?;
            }
            std::fs::create_dir_all(&target).map_err(io_at(&target))?;
            folders.push((target, item));
            continue;
        }
        serial += 1;
        let temp = temp_beside(&target, serial);
        let written = write_entry(reader, &item, &temp, &mut state, progress, cancel);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        if let Err(e) = apply_metadata(&temp, &item, kind == 0o120000) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            // A folder where the archive has a file: only with the user's word (Overwrite).
            std::fs::remove_dir_all(&target).map_err(io_at(&target))?;
        }
        std::fs::rename(&temp, &target).map_err(io_at(&target))?;
        summary.bytes += item.file_size();
        state.files_done += 1;
        progress(state);
    }
    for (path, item) in folders.iter().rev() {
        apply_metadata(path, item, false)?;
    }
    Ok(summary)
}

/// Writes one non-folder entry at `temp`.
fn write_entry(
    reader: &Reader,
    item: &crate::repo::Item,
    temp: &Path,
    state: &mut RestoreProgress,
    progress: &mut dyn FnMut(RestoreProgress),
    cancel: &AtomicBool,
) -> Result<(), RestoreError> {
    match item.mode & 0o170000 {
        0o120000 => {
            let target = item.source.clone().unwrap_or_default();
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), temp).map_err(io_at(temp))
        }
        0o100000 => {
            let file = std::fs::File::create(temp).map_err(io_at(temp))?;
            let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut sink = ProgressWriter {
                inner: &mut out,
                state,
                progress,
                cancel,
            };
            reader
                .read_file(item, &mut sink)
                .map_err(|source| match source {
                    ReadError::Io(_, e)
                        if e.get_ref().is_some_and(|e| e.is::<CancelledWrite>()) =>
                    {
                        RestoreError::Cancelled
                    }
                    source => RestoreError::Read {
                        path: item.path.clone(),
                        source,
                    },
                })?;
            let file = out.into_inner().map_err(|e| RestoreError::Io {
                path: temp.to_path_buf(),
                source: e.into_error(),
            })?;
            file.sync_all().map_err(io_at(temp))
        }
        _ => {
            // Devices and fifos: borg extract's business (they need mknod).
            Err(RestoreError::Io {
                path: temp.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "special files are restored by borg extract",
                ),
            })
        }
    }
}

/// The error a cancelled write stops `read_file` with.
#[derive(Debug)]
struct CancelledWrite;

impl std::fmt::Display for CancelledWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for CancelledWrite {}

/// Counts bytes as they are written and stops when cancelled.
struct ProgressWriter<'a, W: Write> {
    inner: &'a mut W,
    state: &'a mut RestoreProgress,
    progress: &'a mut dyn FnMut(RestoreProgress),
    cancel: &'a AtomicBool,
}

impl<W: Write> Write for ProgressWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            // Not ErrorKind::Interrupted: write_all retries those forever.
            return Err(std::io::Error::other(CancelledWrite));
        }
        let n = self.inner.write(buf)?;
        self.state.bytes_done += n as u64;
        (self.progress)(*self.state);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A hard link's later occurrence has no chunks: they are its first occurrence's.
pub fn resolve_hardlink(
    reader: &Reader,
    index: &ArchiveIndex,
    item_chunks: &[[u8; 32]],
    item: &mut crate::repo::Item,
) -> Result<(), ReadError> {
    if item.mode & 0o170000 == 0o100000 && item.chunks.is_empty() {
        if let Some(master) = item.source.clone() {
            if let Some(at) = index.lookup(&master) {
                let first = reader.item_at(item_chunks, index.entry(at).at)?;
                item.chunks = first.chunks;
            }
        }
    }
    Ok(())
}
