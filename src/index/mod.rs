//! The archive index: each archive's tree, built once from the native reader's item stream
//! and kept on disk in the XDG cache, keyed by repository id and archive id (an archive never
//! changes once written, its id is a content hash). Mapped, not loaded: opening costs nothing,
//! a folder's children are one contiguous run of fixed-size records, a path is found by binary
//! search per component, and a name search is one regular expression over the names blob.
//!
//! Layout (little endian):
//! ```text
//! header   128 bytes  magic, counts, section lengths, repository id, archive id
//! entries  48 bytes each, breadth first: a folder's children are contiguous, sorted by name
//!          parent u32 | name offset u32 | mode u32 (st_mode | flags << 16) | owner u32 |
//!          size u64 | mtime ns i64 | item chunk u32 | item offset u32 |
//!          folder: first child u32, child count u32; other: target offset u32, device u32
//! owners   16 bytes each: uid u32 | gid u32 | user offset u32 | group offset u32
//! names    "\0" then every entry's name followed by "\0\0", in entry order
//! strings  length-prefixed (u32) symlink targets, hard-link sources, user and group names
//! ```
//! Where a file's chunks are is where its item begins in the item stream (chunk + offset):
//! one item chunk read gives the chunk list back, so the index stays near 60 bytes per entry.

pub mod build;
pub mod query;

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::reader::items::ItemAt;

pub use build::{build_index, ensure_index, prune_indexes, BuildProgress, TopSoFar};
pub use query::{name_contains, name_pattern, versions, Version};

const MAGIC: &[u8; 8] = b"KASTIDX\x02";
const HEADER: usize = 128;
const ENTRY: usize = 48;
const OWNER: usize = 16;
/// "no string" in an offset field.
const NONE: u32 = u32::MAX;

/// Flags kept in the upper half of an entry's mode word.
pub const FLAG_IMPLICIT: u32 = 1;
pub const FLAG_HARDLINK_MASTER: u32 = 2;
pub const FLAG_UNHEALTHY: u32 = 4;
/// The item has extended attributes (read from the item when asked for).
pub const FLAG_XATTRS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a complete archive index", .0.display())]
    Malformed(PathBuf),
    #[error(transparent)]
    Read(#[from] crate::reader::ReadError),
    #[error("cancelled")]
    Cancelled,
}

/// One entry as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub parent: u32,
    /// st_mode (type and permission bits).
    pub mode: u32,
    pub flags: u32,
    pub owner: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub at: ItemAt,
    pub first_child: u32,
    pub child_count: u32,
    /// A device's number, as the kernel encodes it (`st_rdev`); 0 for anything else.
    pub rdev: u32,
    target: u32,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & 0o170000 == 0o120000
    }

    /// Not in the archive itself: a folder above the backed-up paths, made up for browsing.
    pub fn is_implicit(&self) -> bool {
        self.flags & FLAG_IMPLICIT != 0
    }

    pub fn has_xattrs(&self) -> bool {
        self.flags & FLAG_XATTRS != 0
    }

    pub fn children(&self) -> Range<u32> {
        if self.is_dir() {
            self.first_child..self.first_child + self.child_count
        } else {
            0..0
        }
    }
}

/// Who owns an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner<'a> {
    pub uid: u32,
    pub gid: u32,
    pub user: Option<&'a [u8]>,
    pub group: Option<&'a [u8]>,
}

/// Section bounds, checked once on open.
#[derive(Debug, Clone)]
struct Sections {
    entries: Range<usize>,
    owners: Range<usize>,
    names: Range<usize>,
    strings: Range<usize>,
}

/// An archive's index, mapped from the cache.
pub struct ArchiveIndex {
    map: memmap2::Mmap,
    sections: Sections,
    count: u32,
    pub repository_id: [u8; 32],
    pub archive_id: [u8; 32],
    pub path: PathBuf,
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl ArchiveIndex {
    /// Maps a complete index file; anything malformed is an error (the caller rebuilds).
    pub fn open(path: &Path) -> Result<ArchiveIndex, IndexError> {
        let io = |source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: index files are written to a temporary name and renamed into place, never
        // changed afterwards; pruning unlinks them, which leaves a mapping intact.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let malformed = || IndexError::Malformed(path.to_path_buf());
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(malformed());
        }
        let count = le32(&map, 8);
        let owners = le32(&map, 12) as usize;
        let names_len = le64(&map, 16) as usize;
        let strings_len = le64(&map, 24) as usize;
        let entries_end = HEADER + count as usize * ENTRY;
        let owners_end = entries_end + owners * OWNER;
        let names_end = owners_end + names_len;
        let strings_end = names_end + strings_len;
        if count == 0 || strings_end != map.len() {
            return Err(malformed());
        }
        let mut repository_id = [0u8; 32];
        repository_id.copy_from_slice(&map[32..64]);
        let mut archive_id = [0u8; 32];
        archive_id.copy_from_slice(&map[64..96]);
        let index = ArchiveIndex {
            sections: Sections {
                entries: HEADER..entries_end,
                owners: entries_end..owners_end,
                names: owners_end..names_end,
                strings: names_end..strings_end,
            },
            map,
            count,
            repository_id,
            archive_id,
            path: path.to_path_buf(),
        };
        index.check().then_some(index).ok_or_else(malformed)
    }

    /// Every offset and link in bounds, so later reads need no checks that could fail.
    fn check(&self) -> bool {
        let names = self.sections.names.len() as u32;
        let owners = self.sections.owners.len() / OWNER;
        (0..self.count).all(|i| {
            let e = self.entry(i);
            let name_ok = self.name_offset(i) < names;
            let link_ok = if e.is_dir() {
                u64::from(e.first_child) + u64::from(e.child_count) <= u64::from(self.count)
            } else {
                e.target == NONE || (e.target as usize) < self.sections.strings.len()
            };
            name_ok && link_ok && e.parent < self.count && (e.owner as usize) < owners.max(1)
        })
    }

    /// Number of entries, the made-up root included.
    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count <= 1
    }

    fn record(&self, i: u32) -> &[u8] {
        let at = self.sections.entries.start + i as usize * ENTRY;
        &self.map[at..at + ENTRY]
    }

    fn name_offset(&self, i: u32) -> u32 {
        le32(self.record(i), 4)
    }

    pub fn entry(&self, i: u32) -> Entry {
        let r = self.record(i);
        let mode_word = le32(r, 8);
        let is_dir = mode_word & 0o170000 == 0o040000;
        let (a, b) = (le32(r, 40), le32(r, 44));
        Entry {
            parent: le32(r, 0),
            mode: mode_word & 0xffff,
            flags: mode_word >> 16,
            owner: le32(r, 12),
            size: le64(r, 16),
            mtime_ns: le64(r, 24) as i64,
            at: ItemAt {
                chunk: le32(r, 32),
                offset: le32(r, 36),
            },
            first_child: if is_dir { a } else { 0 },
            child_count: if is_dir { b } else { 0 },
            rdev: if is_dir { 0 } else { b },
            target: if is_dir { NONE } else { a },
        }
    }

    /// The entry's own name (empty for the root).
    pub fn name(&self, i: u32) -> &[u8] {
        let names = &self.map[self.sections.names.clone()];
        let start = (self.name_offset(i) as usize).min(names.len());
        let len = names[start..]
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(names.len() - start);
        &names[start..start + len]
    }

    fn string(&self, offset: u32) -> Option<&[u8]> {
        if offset == NONE {
            return None;
        }
        let strings = &self.map[self.sections.strings.clone()];
        let at = offset as usize;
        let len = strings.get(at..at + 4).map(|b| le32(b, 0) as usize)?;
        strings.get(at + 4..at + 4 + len)
    }

    /// A symlink's target, or a hard link's first path (borg's `source`).
    pub fn target(&self, i: u32) -> Option<&[u8]> {
        self.string(self.entry(i).target)
    }

    pub fn owner(&self, i: u32) -> Owner<'_> {
        let o = self.entry(i).owner as usize;
        let at = self.sections.owners.start + o * OWNER;
        match self.map.get(at..at + OWNER) {
            Some(r) if self.sections.owners.contains(&at) => Owner {
                uid: le32(r, 0),
                gid: le32(r, 4),
                user: self.string(le32(r, 8)),
                group: self.string(le32(r, 12)),
            },
            _ => Owner {
                uid: 0,
                gid: 0,
                user: None,
                group: None,
            },
        }
    }

    /// The entry's path as borg stores it (no leading slash).
    pub fn path(&self, i: u32) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut at = i;
        let mut guard = 0;
        while at != 0 && guard < 4096 {
            parts.push(at);
            at = self.entry(at).parent;
            guard += 1;
        }
        let mut out = Vec::new();
        for (n, part) in parts.iter().rev().enumerate() {
            if n > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(self.name(*part));
        }
        out
    }

    /// The entry at `path` (`a/b/c`, slashes at either end ignored; empty is the root).
    pub fn lookup(&self, path: &[u8]) -> Option<u32> {
        let mut at = 0u32;
        for part in path.split(|b| *b == b'/').filter(|p| !p.is_empty()) {
            let children = self.entry(at).children();
            // The first of equal names: an archive's own item before a made-up folder.
            let (mut lo, mut hi) = (children.start, children.end);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.name(mid) < part {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo >= children.end || self.name(lo) != part {
                return None;
            }
            at = lo;
        }
        Some(at)
    }

    /// Entries whose name `pattern` matches (see `name_pattern`), in index order.
    pub fn search(&self, pattern: &regex::bytes::Regex) -> Vec<u32> {
        let names = &self.map[self.sections.names.clone()];
        let mut hits = Vec::new();
        // Matches come in blob order, which is entry order: each search starts at the last
        // hit and gallops forward, so a pattern matching half the archive stays cheap.
        let mut from = 1u32;
        for found in pattern.find_iter(names) {
            // The match starts at the separator before the name.
            let name_start = (found.start() + 1) as u32;
            let mut step = 1u32;
            let mut lo = from;
            let mut hi = from;
            while hi < self.count && self.name_offset(hi) < name_start {
                lo = hi + 1;
                hi = hi.saturating_add(step).min(self.count);
                step = step.saturating_mul(2);
            }
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.name_offset(mid) < name_start {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if lo < self.count && self.name_offset(lo) == name_start {
                hits.push(lo);
                from = lo + 1;
            } else {
                from = lo;
            }
        }
        hits
    }

    /// Bytes of the index file.
    pub fn file_size(&self) -> usize {
        self.map.len()
    }
}

/// Where the indexes of a repository's archives live:
/// `$XDG_CACHE_HOME/kastell/archives/<repository id>/`.
pub fn repository_cache_dir(cache_root: &Path, repository_id: &[u8]) -> PathBuf {
    cache_root
        .join("archives")
        .join(crate::reader::key::hex(repository_id))
}

/// The index file of one archive.
pub fn index_path(cache_root: &Path, repository_id: &[u8], archive_id: &[u8; 32]) -> PathBuf {
    repository_cache_dir(cache_root, repository_id)
        .join(format!("{}.kidx", crate::reader::key::hex(archive_id)))
}

/// Kastell's cache root (`$XDG_CACHE_HOME/kastell`).
pub fn default_cache_root() -> PathBuf {
    crate::private::cache_dir()
}
