//! The preview walk: borg's `_rec_walk` in a dry run (what it stats, opens, prints and skips),
//! in parallel, cancellable, streaming each folder's entries as they are decided.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::plan::CreatePlan;
use super::rules::Matcher;

/// borg's cache directory signature (CACHEDIR.TAG protocol).
pub const CACHE_TAG_NAME: &str = "CACHEDIR.TAG";
pub const CACHE_TAG_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// Why borg leaves something out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `rules[index]` of the plan.
    Rule(usize),
    /// `exclude_caches`: a valid CACHEDIR.TAG inside.
    CacheTag,
    /// `exclude_if_present`: this marker inside.
    Marker(String),
    /// `exclude_nodump`: the nodump flag.
    NoDump,
}

/// What happens to one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Included,
    Excluded(Reason),
    /// borg cannot read it: a warning and status `E`.
    Unreadable(String),
}

/// One decided path.
#[derive(Debug, Clone)]
pub struct Entry {
    /// As borg prints it.
    pub path: String,
    pub kind: EntryKind,
    /// A file's size; for an excluded folder, everything below it (when measured).
    pub bytes: u64,
    pub fate: Fate,
    /// The status letter borg prints for it with `--list`, if any.
    pub status: Option<char>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WalkOptions {
    /// Also add up what is inside folders borg does not enter, for the size table.
    pub measure_excluded: bool,
}

/// A warning borg would print (and the path it prints `E` for, if any).
#[derive(Debug, Clone)]
pub struct WalkWarning {
    pub message: String,
}

/// Receives the entries of one folder at a time, from several threads.
pub type Sink<'a> = &'a (dyn Fn(Vec<Entry>) + Sync);

struct Walker<'a> {
    plan: &'a CreatePlan,
    matcher: &'a Matcher,
    options: WalkOptions,
    skip: HashSet<(u64, u64)>,
    restrict_dev: Option<u64>,
    cancel: &'a AtomicBool,
    sink: Sink<'a>,
    warnings: &'a std::sync::Mutex<Vec<WalkWarning>>,
}

fn kind_of(meta: &Metadata) -> EntryKind {
    let ft = meta.file_type();
    if ft.is_dir() {
        EntryKind::Directory
    } else if ft.is_file() {
        EntryKind::File
    } else if ft.is_symlink() {
        EntryKind::Symlink
    } else {
        EntryKind::Other
    }
}

fn file_bytes(meta: &Metadata) -> u64 {
    if meta.file_type().is_file() {
        meta.len()
    } else {
        0
    }
}

/// Python's rendering of an OSError: `[Errno 13] Permission denied: 'name'`.
fn os_error_text(error: &io::Error, name: &str) -> String {
    let code = error.raw_os_error().unwrap_or(0);
    let text = nix::errno::Errno::from_raw(code).desc();
    format!("[Errno {code}] {text}: '{name}'")
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Joins as `os.path.normpath(os.path.join(parent, name))` does for a plain name.
fn child_path(parent: &str, name: &str) -> String {
    match parent {
        "." => name.to_string(),
        p if p.ends_with('/') => format!("{p}{name}"),
        p => format!("{p}/{name}"),
    }
}

/// `st_size` of every file below `dir` (for the size table only; borg never goes there).
pub fn folder_bytes(dir: &Path, cancel: &AtomicBool) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += file_bytes(&meta);
            }
        }
    }
    total
}

#[cfg(target_os = "linux")]
fn has_nodump_flag(path: &Path, meta: &Metadata) -> bool {
    use std::os::fd::AsRawFd;
    const FS_NODUMP_FL: nix::libc::c_long = 0x0000_0040;
    let ft = meta.file_type();
    if ft.is_symlink() || !(ft.is_file() || ft.is_dir()) {
        return false;
    }
    let Ok(file) = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(path)
    else {
        return false;
    };
    let mut flags: nix::libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one long through the pointer, which lives for the call.
    let rc = unsafe {
        nix::libc::ioctl(
            file.as_raw_fd(),
            nix::libc::FS_IOC_GETFLAGS as _,
            &mut flags as *mut nix::libc::c_long,
        )
    };
    rc == 0 && flags & FS_NODUMP_FL != 0
}

impl Walker<'_> {
    fn fs_path(&self, path: &str) -> PathBuf {
        match &self.plan.working_directory {
            Some(wd) if !path.starts_with('/') => wd.join(path),
            _ => PathBuf::from(path),
        }
    }

    fn warn(&self, message: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(WalkWarning { message });
        }
    }

    /// borg's tag check: CACHEDIR.TAG with the signature, and the markers (followed through
    /// symlinks, like `os.path.exists`).
    fn tags(&self, dir: &Path) -> Vec<(Reason, String)> {
        let mut tags = Vec::new();
        if self.plan.exclude_caches {
            let tag = dir.join(CACHE_TAG_NAME);
            if let Ok(mut file) = fs::File::open(&tag) {
                use std::io::Read;
                let mut head = vec![0u8; CACHE_TAG_SIGNATURE.len()];
                let mut read = 0;
                while read < head.len() {
                    match file.read(&mut head[read..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => read += n,
                    }
                }
                if head[..read] == *CACHE_TAG_SIGNATURE {
                    tags.push((Reason::CacheTag, CACHE_TAG_NAME.to_string()));
                }
            }
        }
        for marker in &self.plan.exclude_if_present {
            if dir.join(marker).exists() {
                tags.push((Reason::Marker(marker.clone()), marker.clone()));
            }
        }
        tags
    }

    /// One path, as `_rec_walk` handles it; directories are walked in `scope`.
    fn visit<'s>(&'s self, scope: &rayon::Scope<'s>, path: String, out: &mut Vec<Entry>) {
        if self.cancel.load(Ordering::Relaxed) {
            return;
        }
        let verdict = self.matcher.verdict(&path);
        let fs_path = self.fs_path(&path);
        let mut recurse_excluded_dir = false;
        let meta = if verdict.included {
            match fs::symlink_metadata(&fs_path) {
                Ok(meta) => meta,
                Err(e) => {
                    self.warn(format!(
                        "{path}: stat: {}",
                        os_error_text(&e, base_name(&path))
                    ));
                    out.push(Entry {
                        path,
                        kind: EntryKind::Other,
                        bytes: 0,
                        fate: Fate::Unreadable(e.to_string()),
                        status: Some('E'),
                    });
                    return;
                }
            }
        } else {
            let reason = Reason::Rule(verdict.rule.unwrap_or(0));
            let meta = fs::symlink_metadata(&fs_path).ok();
            let kind = meta.as_ref().map(kind_of).unwrap_or(EntryKind::Other);
            if !verdict.recurse || kind != EntryKind::Directory {
                let bytes = match (&meta, kind) {
                    (Some(_), EntryKind::Directory) if self.options.measure_excluded => {
                        folder_bytes(&fs_path, self.cancel)
                    }
                    (Some(m), _) => file_bytes(m),
                    _ => 0,
                };
                out.push(Entry {
                    path,
                    kind,
                    bytes,
                    fate: Fate::Excluded(reason),
                    status: Some('x'),
                });
                return;
            }
            // `-` on a folder: printed as excluded, but borg still looks inside.
            out.push(Entry {
                path: path.clone(),
                kind,
                bytes: 0,
                fate: Fate::Excluded(reason),
                status: Some('x'),
            });
            recurse_excluded_dir = true;
            match meta {
                Some(meta) => meta,
                None => return,
            }
        };
        if self.skip.contains(&(meta.ino(), meta.dev())) {
            return;
        }
        let recurse = self.restrict_dev.is_none_or(|dev| meta.dev() == dev);
        if self.plan.exclude_nodump && has_nodump_flag(&fs_path, &meta) {
            out.push(Entry {
                bytes: if meta.is_dir() && self.options.measure_excluded {
                    folder_bytes(&fs_path, self.cancel)
                } else {
                    file_bytes(&meta)
                },
                path,
                kind: kind_of(&meta),
                fate: Fate::Excluded(Reason::NoDump),
                status: Some('x'),
            });
            return;
        }
        if !meta.is_dir() {
            out.push(Entry {
                path,
                kind: kind_of(&meta),
                bytes: file_bytes(&meta),
                fate: Fate::Included,
                status: Some('-'),
            });
            return;
        }
        // borg opens every folder it enters, even in a dry run.
        let opened = fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
            .open(&fs_path);
        if let Err(e) = opened {
            self.warn(format!(
                "{path}: dir_open: {}",
                os_error_text(&e, base_name(&path))
            ));
            if !recurse_excluded_dir {
                out.push(Entry {
                    path,
                    kind: EntryKind::Directory,
                    bytes: 0,
                    fate: Fate::Unreadable(e.to_string()),
                    status: Some('E'),
                });
            }
            return;
        }
        if recurse {
            let tags = self.tags(&fs_path);
            if let Some((reason, _)) = tags.first() {
                if !recurse_excluded_dir {
                    if self.plan.keep_exclude_tags {
                        for (_, name) in &tags {
                            self.visit(scope, child_path(&path, name), out);
                        }
                    }
                    let bytes = if self.options.measure_excluded {
                        folder_bytes(&fs_path, self.cancel)
                    } else {
                        0
                    };
                    out.push(Entry {
                        path,
                        kind: EntryKind::Directory,
                        bytes,
                        fate: Fate::Excluded(reason.clone()),
                        status: Some('x'),
                    });
                }
                return;
            }
        }
        if recurse {
            match fs::read_dir(&fs_path) {
                Ok(entries) => {
                    let names: Vec<String> = entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    let parent = path.clone();
                    scope.spawn(move |scope| {
                        let mut batch = Vec::with_capacity(names.len());
                        for name in names {
                            self.visit(scope, child_path(&parent, &name), &mut batch);
                        }
                        if !batch.is_empty() {
                            (self.sink)(batch);
                        }
                    });
                }
                Err(e) => {
                    self.warn(format!(
                        "{path}: scandir: {}",
                        os_error_text(&e, base_name(&path))
                    ));
                    if !recurse_excluded_dir {
                        out.push(Entry {
                            path,
                            kind: EntryKind::Directory,
                            bytes: 0,
                            fate: Fate::Unreadable(e.to_string()),
                            status: Some('E'),
                        });
                    }
                    return;
                }
            }
        }
        if !recurse_excluded_dir {
            out.push(Entry {
                path,
                kind: EntryKind::Directory,
                bytes: 0,
                fate: Fate::Included,
                status: Some('-'),
            });
        }
    }
}

/// Walks every root of `plan` as `borg create --dry-run --list` does, handing each folder's
/// entries to `sink`. Returns borg's warnings.
pub fn walk(
    plan: &CreatePlan,
    matcher: &Matcher,
    options: WalkOptions,
    cancel: &AtomicBool,
    sink: Sink<'_>,
) -> Vec<WalkWarning> {
    let warnings = std::sync::Mutex::new(Vec::new());
    let mut skip: HashSet<(u64, u64)> = plan
        .skipped_folders
        .iter()
        .filter_map(|p| fs::metadata(p).ok())
        .map(|m| (m.ino(), m.dev()))
        .collect();
    for root in plan.walk_roots() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let fs_root = match &plan.working_directory {
            Some(wd) if !root.starts_with('/') => wd.join(&root),
            _ => PathBuf::from(&root),
        };
        let root_meta = match fs::symlink_metadata(&fs_root) {
            Ok(m) => m,
            Err(e) => {
                if let Ok(mut w) = warnings.lock() {
                    w.push(WalkWarning {
                        message: format!("{root}: stat: {}", os_error_text(&e, &root)),
                    });
                }
                continue;
            }
        };
        let walker = Walker {
            plan,
            matcher,
            options,
            skip: skip.clone(),
            restrict_dev: plan.one_file_system.then(|| root_meta.dev()),
            cancel,
            sink,
            warnings: &warnings,
        };
        rayon::scope(|scope| {
            let mut batch = Vec::new();
            walker.visit(scope, root.clone(), &mut batch);
            if !batch.is_empty() {
                sink(batch);
            }
        });
        // borg never enters a root twice.
        skip.insert((root_meta.ino(), root_meta.dev()));
    }
    warnings.into_inner().unwrap_or_default()
}
