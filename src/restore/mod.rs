//! Restoring files from an archive with the native reader: first a plan of what would change
//! on disk (new, changed, identical, only on disk, refused), then the restore itself.
//!
//! The rules, in order of importance:
//! - Nothing on disk is removed or replaced except the exact paths the person chose
//!   *Overwrite* for, and then only by the archive's own item of that path. Folders the
//!   archive does not hold (the parents of the backed-up folders, made up for browsing) are
//!   created when missing and never changed; a folder with contents is never replaced by a
//!   file. Whatever appears on disk after the plan was made is not replaced either.
//! - Nothing is written outside the target, as `borg extract` guards it: archived paths with
//!   `..` are refused, and no symlink in a parent is ever followed (`target.rs`). Every
//!   refused path is named in the summary; the rest is restored.
//! - Every file is written under a temporary name beside its target and renamed into place
//!   when complete, so a failed or cancelled restore never leaves half a file where a good one
//!   was.
//! - What is restored equals `borg extract`: content, owner, mode, ACLs, extended attributes,
//!   times, flags, symlinks, hard-link groups, fifos, devices (as root), holes (`sparse`).

mod attrs;
pub mod target;

use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use crate::index::ArchiveIndex;
use crate::reader::{ArchiveRef, ItemLookup, ReadError, Reader};
use target::{TargetTree, TreeError};

/// Where the selection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Each item back where it was: `root` joined with its archive path (`/` for real use).
    Original { root: PathBuf },
    /// Each selected item directly into this folder (no recreated `home/me/...` chain).
    Into(PathBuf),
}

impl Destination {
    /// The folder every target is below (the trusted root of the restore).
    pub fn root(&self) -> &Path {
        match self {
            Destination::Original { root } => root,
            Destination::Into(dir) => dir,
        }
    }
}

/// Why an entry is not restored at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A `..` in the archived path: it would lead outside the target (borg refuses it too).
    OutsideTarget,
    /// A parent on disk is a symlink, or not a folder: writing would follow it elsewhere.
    SymlinkParent,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::OutsideTarget => {
                "its archived path contains .., which leads outside the target"
            }
            Refusal::SymlinkParent => "a folder above it is a symlink (or not a folder)",
        }
    }
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
    /// Not restored, for this reason.
    Refused(Refusal),
}

/// What to do with a `Changed` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Overwrite,
    Skip,
    /// Restore beside it as `name (restored)` (`name (restored 2)`, ...).
    KeepBoth,
}

/// Why *Overwrite* is not offered for a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannotOverwrite {
    /// A folder the archive does not hold (only made up above the backed-up paths): there is
    /// no archived item to put in the place of what is on disk.
    MadeUpFolder,
    /// The archive has a file where a folder with contents is: replacing it would delete them.
    FolderWithContents,
}

impl CannotOverwrite {
    pub fn describe(self) -> &'static str {
        match self {
            CannotOverwrite::MadeUpFolder => {
                "the archive holds no folder of its own here (only files below it), so nothing can replace what is on disk"
            }
            CannotOverwrite::FolderWithContents => {
                "a folder with contents is there; replacing it with the archived file would delete them"
            }
        }
    }
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
    /// A folder made up above the backed-up paths (not an archive item).
    pub implicit: bool,
    /// Set on conflicts *Overwrite* cannot resolve (offer *Keep both* or *Skip*).
    pub cannot_overwrite: Option<CannotOverwrite>,
    /// Names of one hard-linked file share a group (the first name's entry): its content is
    /// written once and the other names are linked to it.
    pub link_group: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct RestorePlan {
    pub entries: Vec<PlannedEntry>,
    /// The folder every target is below.
    pub root: PathBuf,
}

impl RestorePlan {
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }

    /// Entries refused, with why.
    pub fn refused(&self) -> impl Iterator<Item = (&PlannedEntry, Refusal)> {
        self.entries.iter().filter_map(|e| match e.change {
            Change::Refused(why) => Some((e, why)),
            _ => None,
        })
    }

    /// The entries that need a decision.
    pub fn conflicts(&self) -> impl Iterator<Item = &PlannedEntry> {
        self.entries.iter().filter(|e| e.change == Change::Changed)
    }

    /// Bytes of file content to write (new and changed files; a hard-linked file once).
    pub fn bytes(&self) -> u64 {
        let mut groups = std::collections::HashSet::new();
        self.entries
            .iter()
            .filter(|e| matches!(e.change, Change::New | Change::Changed) && !e.is_dir)
            .filter(|e| e.link_group.is_none_or(|g| groups.insert(g)))
            .map(|e| e.size)
            .sum()
    }

    /// One line of counts, as the command line and the window show it.
    pub fn describe(&self) -> String {
        let refused = self.refused().count();
        format!(
            "{} new, {} changed, {} identical, {} only on disk{} ({} to write)",
            self.count(Change::New),
            self.count(Change::Changed),
            self.count(Change::Identical),
            self.count(Change::OnlyOnDisk),
            if refused > 0 {
                format!(", {refused} refused (unsafe paths in the archive)")
            } else {
                String::new()
            },
            crate::units::format_bytes(self.bytes())
        )
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

/// True for a relative path that would climb out (`..`).
fn climbs_out(rel: &Path) -> bool {
    rel.components().any(|c| c == Component::ParentDir)
}

/// Every existing folder between `root` and `rel`'s parent is a real folder (as
/// `borg extract`'s `_check_safe_parent`); memoised per folder.
fn parents_safe(root: &Path, rel: &Path, checked: &mut HashMap<PathBuf, bool>) -> bool {
    let mut here = PathBuf::new();
    let Some(parent) = rel.parent() else {
        return true;
    };
    for component in parent.components() {
        here.push(component);
        let safe = *checked
            .entry(here.clone())
            .or_insert_with(|| match std::fs::symlink_metadata(root.join(&here)) {
                Ok(m) => m.is_dir(),
                Err(_) => true,
            });
        if !safe {
            return false;
        }
        if !root.join(&here).exists() {
            // Nothing below a missing folder exists yet.
            return true;
        }
    }
    true
}

/// The hard-link group of `entry`: the first name's entry (for the first name itself too).
fn link_group(index: &ArchiveIndex, entry: u32) -> Option<u32> {
    let e = index.entry(entry);
    let hardlinkable = matches!(e.mode & 0o170000, 0o100000 | 0o060000 | 0o020000 | 0o010000);
    if !hardlinkable {
        return None;
    }
    if e.flags & crate::index::FLAG_HARDLINK_MASTER != 0 {
        return Some(entry);
    }
    index
        .target(entry)
        .and_then(|source| index.lookup(source))
        .filter(|first| *first != entry)
}

/// What restoring `selection` to `destination` would do.
pub fn plan(index: &ArchiveIndex, selection: &[u32], destination: &Destination) -> RestorePlan {
    let root = destination.root().to_path_buf();
    let mut plan = RestorePlan {
        entries: Vec::new(),
        root: root.clone(),
    };
    let mut checked = HashMap::new();
    for &top in selection {
        let top_rel = match destination {
            Destination::Original { .. } => PathBuf::from(OsStr::from_bytes(&index.path(top))),
            Destination::Into(_) => PathBuf::from(OsStr::from_bytes(index.name(top))),
        };
        // Breadth first below the selected entry: (entry, relative target, the refusal
        // inherited from a folder above, whether a conflict above decides this one's place).
        let mut queue: Vec<(u32, PathBuf, Option<Refusal>, bool)> =
            vec![(top, top_rel, None, false)];
        let mut next = 0;
        while next < queue.len() {
            let (entry, rel, inherited, under_conflict) = queue[next].clone();
            next += 1;
            let e = index.entry(entry);
            let target = root.join(&rel);
            let refusal = inherited.or_else(|| {
                if climbs_out(&rel) {
                    Some(Refusal::OutsideTarget)
                } else if !under_conflict && !parents_safe(&root, &rel, &mut checked) {
                    Some(Refusal::SymlinkParent)
                } else {
                    None
                }
            });
            let on_disk = if refusal.is_some() || under_conflict {
                None
            } else {
                std::fs::symlink_metadata(&target).ok()
            };
            let change = match (&refusal, &on_disk) {
                (Some(why), _) => Change::Refused(*why),
                (None, None) => Change::New,
                (None, Some(m)) if differs(index, entry, m) => Change::Changed,
                (None, Some(_)) => Change::Identical,
            };
            let cannot_overwrite = match (&on_disk, change) {
                (_, Change::Changed) if e.is_implicit() => Some(CannotOverwrite::MadeUpFolder),
                (Some(m), Change::Changed) if !e.is_dir() && m.is_dir() => {
                    let empty = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_none());
                    (!empty).then_some(CannotOverwrite::FolderWithContents)
                }
                _ => None,
            };
            let group = link_group(index, entry);
            plan.entries.push(PlannedEntry {
                entry: Some(entry),
                archive_path: index.path(entry),
                target: target.clone(),
                change,
                is_dir: e.is_dir(),
                // A later name of a hard link stores no size of its own: the group's.
                size: group.map_or(e.size, |g| index.entry(g).size.max(e.size)),
                implicit: e.is_implicit(),
                cannot_overwrite,
                link_group: group,
            });
            if !e.is_dir() {
                continue;
            }
            let mut in_archive = BTreeSet::new();
            for child in e.children() {
                let name = index.name(child);
                in_archive.insert(name.to_vec());
                queue.push((
                    child,
                    rel.join(OsStr::from_bytes(name)),
                    refusal,
                    under_conflict || change == Change::Changed,
                ));
            }
            if change != Change::Identical {
                continue;
            }
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
                            implicit: false,
                            cannot_overwrite: None,
                            link_group: None,
                        });
                    }
                }
            }
        }
    }
    plan
}

/// How a restore treats files and owners.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOptions {
    /// Runs of zeros (whole chunks) become holes, as `borg extract --sparse`.
    pub sparse: bool,
    /// Owners by stored number only (borgmatic's `numeric_ids`, borg `--numeric-ids`).
    pub numeric_ids: bool,
}

/// How far a restore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreProgress {
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
}

/// Why something on disk was left as it was although the plan had a place for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftAsItWas {
    /// *Overwrite* was chosen where it cannot apply (see [`CannotOverwrite`]).
    CannotOverwrite(CannotOverwrite),
    /// Something appeared there after the plan was made.
    AppearedSincePlan,
}

/// Why an archived entry was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    /// Devices are made by root only (`mknod`), as `borg extract` makes them.
    DeviceNeedsRoot,
    Socket,
}

/// What a restore did. `restored` counts entries made new (folders too), `bytes` the file
/// content written (a hard-linked file once), as [`RestorePlan::bytes`] counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    pub restored: u64,
    pub overwritten: u64,
    pub kept_both: Vec<PathBuf>,
    pub skipped: u64,
    pub identical: u64,
    pub bytes: u64,
    /// Names made as hard links to a name restored before them.
    pub hard_links: u64,
    pub refused: Vec<(PathBuf, Refusal)>,
    pub left_as_it_was: Vec<(PathBuf, LeftAsItWas)>,
    pub left_out: Vec<(PathBuf, LeftOut)>,
    /// What borg would warn about (an xattr or ACL this filesystem refused).
    pub warnings: Vec<(PathBuf, String)>,
}

impl RestoreSummary {
    /// The summary in words: a line of counts, then what needs the reader's attention.
    pub fn lines(&self, limit: usize) -> Vec<String> {
        let mut lines = vec![format!(
            "Restored {} new, overwrote {}, kept both {}, skipped {}, {} already identical ({}).",
            self.restored,
            self.overwritten,
            self.kept_both.len(),
            self.skipped,
            self.identical,
            crate::units::format_bytes(self.bytes)
        )];
        let more = |lines: &mut Vec<String>, items: Vec<String>| {
            let total = items.len();
            lines.extend(items.into_iter().take(limit));
            if total > limit {
                lines.push(format!("  … and {} more", total - limit));
            }
        };
        more(
            &mut lines,
            self.kept_both
                .iter()
                .map(|p| format!("  restored beside the existing one: {}", p.display()))
                .collect(),
        );
        more(
            &mut lines,
            self.refused
                .iter()
                .map(|(p, why)| format!("  refused {}: {}", p.display(), why.describe()))
                .collect(),
        );
        more(
            &mut lines,
            self.left_as_it_was
                .iter()
                .map(|(p, why)| {
                    let why = match why {
                        LeftAsItWas::CannotOverwrite(c) => c.describe(),
                        LeftAsItWas::AppearedSincePlan => "something appeared there since the plan",
                    };
                    format!("  left as it was: {}: {why}", p.display())
                })
                .collect(),
        );
        more(
            &mut lines,
            self.left_out
                .iter()
                .map(|(p, why)| {
                    let why = match why {
                        LeftOut::DeviceNeedsRoot => "a device; only root can make one",
                        LeftOut::Socket => "a socket; it exists only while its program runs",
                    };
                    format!("  left out: {}: {why}", p.display())
                })
                .collect(),
        );
        more(
            &mut lines,
            self.warnings
                .iter()
                .map(|(p, w)| format!("  warning: {}: {w}", p.display()))
                .collect(),
        );
        lines
    }
}

/// A free `name (restored)` / `name (restored N)` in `dir`.
fn beside(dir: &OwnedFd, name: &OsStr, n: u32) -> OsString {
    let name = name.to_string_lossy();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    let mut n = n;
    loop {
        let label = if n == 1 {
            " (restored)".to_string()
        } else {
            format!(" (restored {n})")
        };
        let candidate = OsString::from(format!("{stem}{label}{ext}"));
        if target::stat_at(dir, &candidate).is_none() {
            return candidate;
        }
        n += 1;
    }
}

fn temp_name(serial: u64) -> OsString {
    OsString::from(format!(
        ".kastell-restore-{}-{serial}.part",
        std::process::id()
    ))
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

/// Writes chunks to the file as they come, counts bytes, stops when cancelled, and turns
/// all-zero chunks into holes when asked.
struct ContentWriter<'a> {
    file: std::fs::File,
    sparse: bool,
    written: u64,
    state: &'a mut RestoreProgress,
    progress: &'a mut dyn FnMut(RestoreProgress),
    cancel: &'a AtomicBool,
}

impl Write for ContentWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            // Not ErrorKind::Interrupted: write_all retries those forever.
            return Err(std::io::Error::other(CancelledWrite));
        }
        if self.sparse && buf.iter().all(|b| *b == 0) {
            use std::io::Seek;
            self.file
                .seek(std::io::SeekFrom::Current(buf.len() as i64))?;
        } else {
            self.file.write_all(buf)?;
        }
        self.written += buf.len() as u64;
        self.state.bytes_done += buf.len() as u64;
        (self.progress)(*self.state);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// What happens to entries below a folder whose fate was decided.
#[derive(Clone)]
enum Fate {
    Skipped,
    Refused(Refusal),
    /// Kept both: everything below goes below this (relative) folder instead.
    MovedTo(PathBuf),
}

/// The running restore: the tree it writes into and what it has done so far.
struct Run<'a> {
    reader: &'a Reader,
    index: &'a ArchiveIndex,
    items: ItemLookup<'a>,
    tree: TargetTree,
    options: RestoreOptions,
    owners: attrs::Owners,
    summary: RestoreSummary,
    state: RestoreProgress,
    serial: u64,
    /// Folder fates by relative path.
    fates: HashMap<PathBuf, Fate>,
    /// Folders whose metadata is applied at the end (relative path, entry).
    folders: Vec<(PathBuf, u32)>,
    /// Hard-link group → where its first name was written (relative path).
    linked: HashMap<u32, PathBuf>,
}

/// What to do with one planned entry, once its decision is known.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Nothing was there.
    Create,
    /// Replace what is there (the person chose Overwrite).
    Replace,
    /// Beside what is there.
    Beside,
}

impl<'a> Run<'a> {
    /// The fate of `rel` decided by a folder above it, and `rel` moved below a kept-both one.
    fn fate_of(&self, rel: &Path) -> (Option<Fate>, PathBuf) {
        if self.fates.is_empty() {
            return (None, rel.to_path_buf());
        }
        for ancestor in rel.ancestors().skip(1) {
            match self.fates.get(ancestor) {
                Some(Fate::MovedTo(to)) => {
                    let below = rel.strip_prefix(ancestor).unwrap_or(rel);
                    let (fate, moved) = self.fate_of(&to.join(below));
                    return (fate, moved);
                }
                Some(other) => return (Some(other.clone()), rel.to_path_buf()),
                None => {}
            }
        }
        (None, rel.to_path_buf())
    }

    fn refuse(&mut self, rel: &Path, is_dir: bool, why: Refusal) {
        self.summary.refused.push((self.tree.root().join(rel), why));
        if is_dir {
            self.fates.insert(rel.to_path_buf(), Fate::Refused(why));
        }
    }

    fn read_error(path: &[u8]) -> impl FnOnce(ReadError) -> RestoreError + '_ {
        move |source| RestoreError::Read {
            path: path.to_vec(),
            source,
        }
    }

    /// A folder: made when missing (or beside / in place of a non-folder, as decided).
    fn folder(
        &mut self,
        planned: &PlannedEntry,
        entry: u32,
        rel: &Path,
        action: Action,
    ) -> Result<(), RestoreError> {
        let (parent, name) = match self.tree.parent_of(rel, true) {
            Ok(found) => found,
            Err(e) => return self.tree_error(rel, true, e),
        };
        let mut made = rel.to_path_buf();
        match action {
            Action::Create => {}
            Action::Replace => {
                // Only a non-folder can be in the way here (the plan said Changed): unlink it.
                if target::stat_at(&parent, name)
                    .is_some_and(|s| !rustix::fs::FileType::from_raw_mode(s.st_mode).is_dir())
                {
                    rustix::fs::unlinkat(&parent, name, AtFlags::empty())
                        .map_err(|e| io_at(&planned.target)(target::errno_io(e)))?;
                }
            }
            Action::Beside => {
                let free = beside(&parent, name, 1);
                made = rel.with_file_name(&free);
                self.summary.kept_both.push(self.tree.root().join(&made));
                self.fates
                    .insert(rel.to_path_buf(), Fate::MovedTo(made.clone()));
            }
        }
        match self.tree.folder(&made, true) {
            Ok(_) => {}
            Err(e) => return self.tree_error(&made, true, e),
        }
        if !planned.implicit {
            self.folders.push((made, entry));
        }
        Ok(())
    }

    fn tree_error(&mut self, rel: &Path, is_dir: bool, e: TreeError) -> Result<(), RestoreError> {
        match e {
            TreeError::Outside => {
                self.refuse(rel, is_dir, Refusal::OutsideTarget);
                Ok(())
            }
            TreeError::NotAFolder(_) => {
                self.refuse(rel, is_dir, Refusal::SymlinkParent);
                Ok(())
            }
            TreeError::Io(path, source) => Err(RestoreError::Io { path, source }),
        }
    }

    /// Anything but a folder: written under a temporary name beside its target, its metadata
    /// applied, then renamed into place (never over something that appeared meanwhile).
    #[allow(clippy::too_many_arguments)]
    fn leaf(
        &mut self,
        planned: &PlannedEntry,
        entry: u32,
        rel: &Path,
        action: Action,
        progress: &mut dyn FnMut(RestoreProgress),
        cancel: &AtomicBool,
    ) -> Result<bool, RestoreError> {
        let (parent, name) = match self.tree.parent_of(rel, true) {
            Ok(found) => found,
            Err(e) => {
                self.tree_error(rel, false, e)?;
                return Ok(false);
            }
        };
        let mut item = self
            .items
            .item(self.index.entry(entry).at)
            .map_err(Self::read_error(&planned.archive_path))?;
        let kind = item.mode & 0o170000;
        if kind == 0o140000 {
            self.summary
                .left_out
                .push((planned.target.clone(), LeftOut::Socket));
            return Ok(false);
        }
        if matches!(kind, 0o060000 | 0o020000) && !nix::unistd::geteuid().is_root() {
            self.summary
                .left_out
                .push((planned.target.clone(), LeftOut::DeviceNeedsRoot));
            return Ok(false);
        }
        self.serial += 1;
        let temp = temp_name(self.serial);
        let linked_to = planned
            .link_group
            .and_then(|g| self.linked.get(&g).cloned());
        let written = match &linked_to {
            Some(first) => self.make_link(first, &parent, &temp),
            None => {
                if kind == 0o100000 && item.chunks.is_empty() {
                    // A later name whose first name is not restored here: the content is
                    // the first name's.
                    if let Some(group) = planned.link_group.filter(|g| *g != entry) {
                        let first = self
                            .items
                            .item(self.index.entry(group).at)
                            .map_err(Self::read_error(&planned.archive_path))?;
                        item.chunks = first.chunks;
                    }
                }
                self.make_leaf(&item, &parent, &temp, progress, cancel)
            }
        };
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&parent, &temp, AtFlags::empty());
            return Err(e.into_restore_error(&planned.target));
        }
        let placed = match self.place(&parent, &temp, name, action) {
            Ok(Some(placed)) => placed,
            Ok(None) => {
                let _ = rustix::fs::unlinkat(&parent, &temp, AtFlags::empty());
                let why = match action {
                    Action::Replace => {
                        LeftAsItWas::CannotOverwrite(CannotOverwrite::FolderWithContents)
                    }
                    _ => LeftAsItWas::AppearedSincePlan,
                };
                self.summary
                    .left_as_it_was
                    .push((planned.target.clone(), why));
                return Ok(false);
            }
            Err(e) => {
                let _ = rustix::fs::unlinkat(&parent, &temp, AtFlags::empty());
                return Err(io_at(&planned.target)(e));
            }
        };
        if action == Action::Beside {
            self.summary
                .kept_both
                .push(planned.target.with_file_name(&placed));
        }
        if action == Action::Replace {
            self.tree.forget(rel);
        }
        let placed_rel = rel.with_file_name(&placed);
        if linked_to.is_some() {
            self.summary.hard_links += 1;
        } else {
            if let Some(group) = planned.link_group {
                self.linked.insert(group, placed_rel.clone());
            }
            if item.bsdflags != 0 && matches!(kind, 0o100000) {
                // Flags last: an immutable or append-only file could not be renamed.
                if let Ok(fd) = rustix::fs::openat(
                    &parent,
                    &placed,
                    OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    attrs::set_flags(&fd, item.bsdflags);
                }
            }
            if kind == 0o100000 {
                self.summary.bytes += item.file_size();
            }
        }
        self.state.files_done += 1;
        progress(self.state);
        Ok(true)
    }

    /// Renames `temp` into place as `action` says; the name it got, or `None` when something
    /// is in the way that may not be replaced (it appeared after the plan; a folder that is
    /// no longer empty).
    fn place(
        &mut self,
        parent: &OwnedFd,
        temp: &OsStr,
        name: &OsStr,
        action: Action,
    ) -> std::io::Result<Option<OsString>> {
        match action {
            Action::Replace => {
                // An empty folder in the way (the plan allowed it) is removed first.
                if target::stat_at(parent, name)
                    .is_some_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode).is_dir())
                {
                    match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
                        Ok(()) => {}
                        Err(Errno::NOTEMPTY | Errno::EXIST) => return Ok(None),
                        Err(e) => return Err(target::errno_io(e)),
                    }
                }
                rustix::fs::renameat(parent, temp, parent, name).map_err(target::errno_io)?;
                Ok(Some(name.to_os_string()))
            }
            Action::Create => {
                Ok(target::rename_no_replace(parent, temp, parent, name)?
                    .then(|| name.to_os_string()))
            }
            Action::Beside => {
                // Another program may take the free name meanwhile: then the next one.
                for n in 1..1000 {
                    let candidate = beside(parent, name, n);
                    if target::rename_no_replace(parent, temp, parent, &candidate)? {
                        return Ok(Some(candidate));
                    }
                }
                Ok(None)
            }
        }
    }

    /// A new name for an already restored file of the same hard-link group.
    fn make_link(&mut self, first: &Path, parent: &OwnedFd, temp: &OsStr) -> Result<(), Failed> {
        let (first_parent, first_name) = self
            .tree
            .parent_of(first, false)
            .map_err(|_| Failed::Io(std::io::Error::other("the first name of a hard link")))?;
        rustix::fs::linkat(&*first_parent, first_name, parent, temp, AtFlags::empty())
            .map_err(|e| Failed::Io(target::errno_io(e)))
    }

    /// Makes `item` (not a folder) at `temp` in `parent`, with its metadata.
    fn make_leaf(
        &mut self,
        item: &crate::reader::Item,
        parent: &OwnedFd,
        temp: &OsStr,
        progress: &mut dyn FnMut(RestoreProgress),
        cancel: &AtomicBool,
    ) -> Result<(), Failed> {
        let io = |e: Errno| Failed::Io(target::errno_io(e));
        let warnings = match item.mode & 0o170000 {
            0o100000 => {
                let fd = rustix::fs::openat(
                    parent,
                    temp,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(io)?;
                let mut out = ContentWriter {
                    file: std::fs::File::from(fd),
                    sparse: self.options.sparse,
                    written: 0,
                    state: &mut self.state,
                    progress,
                    cancel,
                };
                self.reader.read_file(item, &mut out).map_err(|e| match e {
                    ReadError::Io(_, e)
                        if e.get_ref().is_some_and(|e| e.is::<CancelledWrite>()) =>
                    {
                        Failed::Cancelled
                    }
                    other => Failed::Read(other),
                })?;
                let (file, written) = (out.file, out.written);
                if self.options.sparse {
                    // A trailing hole: the size comes from truncating, as borg does.
                    file.set_len(written).map_err(Failed::Io)?;
                }
                file.sync_all().map_err(Failed::Io)?;
                let fd = OwnedFd::from(file);
                attrs::apply(&attrs::Node::Open(&fd), item, &mut self.owners).map_err(Failed::Io)?
            }
            0o120000 => {
                let link_target = item.source.clone().unwrap_or_default();
                rustix::fs::symlinkat(OsStr::from_bytes(&link_target), parent, temp).map_err(io)?;
                attrs::apply(&attrs::Node::Named(parent, temp), item, &mut self.owners)
                    .map_err(Failed::Io)?
            }
            0o010000 => {
                rustix::fs::mkfifoat(parent, temp, Mode::from_raw_mode(0o600)).map_err(io)?;
                attrs::apply(&attrs::Node::Named(parent, temp), item, &mut self.owners)
                    .map_err(Failed::Io)?
            }
            kind @ (0o060000 | 0o020000) => {
                let file_type = if kind == 0o060000 {
                    rustix::fs::FileType::BlockDevice
                } else {
                    rustix::fs::FileType::CharacterDevice
                };
                rustix::fs::mknodat(
                    parent,
                    temp,
                    file_type,
                    Mode::from_raw_mode(0o600),
                    item.rdev,
                )
                .map_err(io)?;
                attrs::apply(&attrs::Node::Named(parent, temp), item, &mut self.owners)
                    .map_err(Failed::Io)?
            }
            other => {
                return Err(Failed::Io(std::io::Error::other(format!(
                    "an archive item of unknown type {other:o}"
                ))))
            }
        };
        let path = PathBuf::from(OsStr::from_bytes(&item.path));
        self.summary
            .warnings
            .extend(warnings.into_iter().map(|w| (path.clone(), w)));
        Ok(())
    }

    /// Folders' metadata last (writing into a folder changes its time), deepest first.
    fn finish_folders(&mut self) -> Result<(), RestoreError> {
        let folders = std::mem::take(&mut self.folders);
        for (rel, entry) in folders.iter().rev() {
            let Ok(fd) = self.tree.folder(rel, false) else {
                continue;
            };
            let target = self.tree.root().join(rel);
            let item = self
                .items
                .item(self.index.entry(*entry).at)
                .map_err(Self::read_error(rel.as_os_str().as_bytes()))?;
            // The O_PATH handle cannot change attributes: reopen the folder itself.
            let opened = rustix::fs::openat(
                &*fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_at(&target)(target::errno_io(e)))?;
            let warnings = attrs::apply(&attrs::Node::Open(&opened), &item, &mut self.owners)
                .map_err(io_at(&target))?;
            self.summary
                .warnings
                .extend(warnings.into_iter().map(|w| (target.clone(), w)));
            if item.bsdflags != 0 {
                attrs::set_flags(&opened, item.bsdflags);
            }
        }
        Ok(())
    }
}

/// How making one entry failed.
enum Failed {
    Cancelled,
    Read(ReadError),
    Io(std::io::Error),
}

impl Failed {
    fn into_restore_error(self, target: &Path) -> RestoreError {
        match self {
            Failed::Cancelled => RestoreError::Cancelled,
            Failed::Read(source) => RestoreError::Read {
                path: target.as_os_str().as_bytes().to_vec(),
                source,
            },
            Failed::Io(source) => RestoreError::Io {
                path: target.to_path_buf(),
                source,
            },
        }
    }
}

/// Restores `plan` (made from `index`, the index of `archive`) through the native reader.
/// `decide` is asked once per changed entry. Cancelling stops between chunks; the file being
/// written is removed, the ones finished stay (each whole).
#[allow(clippy::too_many_arguments)]
pub fn restore(
    reader: &Reader,
    archive: &ArchiveRef,
    index: &ArchiveIndex,
    plan: &RestorePlan,
    options: RestoreOptions,
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
    let tree = TargetTree::open(&plan.root).map_err(io_at(&plan.root))?;
    let mut run = Run {
        reader,
        index,
        items: ItemLookup::new(reader, &item_chunks),
        tree,
        options,
        owners: attrs::Owners::new(options.numeric_ids),
        summary: RestoreSummary::default(),
        state: RestoreProgress {
            bytes_total: plan.bytes(),
            ..RestoreProgress::default()
        },
        serial: 0,
        fates: HashMap::new(),
        folders: Vec::new(),
        linked: HashMap::new(),
    };
    for planned in &plan.entries {
        if cancel.load(Ordering::Relaxed) {
            return Err(RestoreError::Cancelled);
        }
        let Some(entry) = planned.entry else {
            continue;
        };
        let Some(planned_rel) = run.tree.relative(&planned.target).map(Path::to_path_buf) else {
            continue;
        };
        let (fate, rel) = run.fate_of(&planned_rel);
        match fate {
            Some(Fate::Skipped) => continue,
            Some(Fate::Refused(why)) => {
                run.refuse(&rel, planned.is_dir, why);
                continue;
            }
            _ => {}
        }
        let action = match planned.change {
            Change::OnlyOnDisk => continue,
            Change::Refused(why) => {
                run.refuse(&rel, planned.is_dir, why);
                continue;
            }
            Change::Identical => {
                run.summary.identical += 1;
                if planned.is_dir && !planned.implicit {
                    run.folders.push((rel, entry));
                }
                continue;
            }
            Change::New => Action::Create,
            Change::Changed => match decide(planned) {
                Conflict::Skip => {
                    run.summary.skipped += 1;
                    if planned.is_dir {
                        run.fates.insert(rel, Fate::Skipped);
                    }
                    continue;
                }
                Conflict::Overwrite => match planned.cannot_overwrite {
                    Some(why) => {
                        run.summary
                            .left_as_it_was
                            .push((planned.target.clone(), LeftAsItWas::CannotOverwrite(why)));
                        if planned.is_dir {
                            run.fates.insert(rel, Fate::Skipped);
                        }
                        continue;
                    }
                    None => Action::Replace,
                },
                Conflict::KeepBoth => Action::Beside,
            },
        };
        if planned.is_dir {
            let refused_before = run.summary.refused.len();
            run.folder(planned, entry, &rel, action)?;
            if run.summary.refused.len() == refused_before {
                match action {
                    Action::Create => run.summary.restored += 1,
                    Action::Replace => run.summary.overwritten += 1,
                    Action::Beside => {}
                }
            }
            continue;
        }
        if run.leaf(planned, entry, &rel, action, progress, cancel)? {
            match action {
                Action::Create => run.summary.restored += 1,
                Action::Replace => run.summary.overwritten += 1,
                Action::Beside => {}
            }
        }
    }
    run.finish_folders()?;
    Ok(run.summary)
}

/// A hard link's later occurrence has no chunks: they are its first occurrence's.
pub fn resolve_hardlink(
    reader: &Reader,
    index: &ArchiveIndex,
    item_chunks: &[[u8; 32]],
    item: &mut crate::reader::Item,
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
