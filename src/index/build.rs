//! Building an archive's index from the native reader's item stream, written atomically
//! (a cancelled or failed build leaves nothing behind), and pruning indexes of archives that
//! are gone.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{
    index_path, repository_cache_dir, ArchiveIndex, IndexError, ENTRY, FLAG_HARDLINK_MASTER,
    FLAG_IMPLICIT, FLAG_UNHEALTHY, FLAG_XATTRS, HEADER, MAGIC, NONE, OWNER,
};
use crate::reader::items::ItemAt;
use crate::reader::listing::item_size;
use crate::reader::{ArchiveRef, Item, Reader};

/// How far a build is.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildProgress {
    pub entries: u64,
    /// Item chunks read of all (a fraction the window can show).
    pub chunks_done: u32,
    pub chunks_total: u32,
    /// Now and then, the top of the tree read so far, so it can be shown while the rest streams.
    pub top: Option<TopSoFar>,
}

/// The first folder from the top with more than one entry (`home/me` in a home backup) and
/// the entries read into it so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopSoFar {
    /// As borg stores paths (no leading slash; empty for the archive's top level).
    pub folder: Vec<u8>,
    /// Name, mode (0 for a folder made up above the backed-up paths), size.
    pub entries: Vec<(Vec<u8>, u32, u64)>,
}

/// Entries shown at most in a `TopSoFar`.
const TOP_ENTRIES: usize = 1000;
/// A new `TopSoFar` after this many more entries.
const TOP_EVERY: u64 = 200_000;

struct Node {
    parent: u32,
    /// Range in `Builder::names`.
    name: (u32, u32),
    mode: u32,
    flags: u32,
    owner: u32,
    size: u64,
    mtime: i64,
    at: ItemAt,
    target: u32,
    rdev: u32,
}

#[derive(Default)]
struct Builder {
    nodes: Vec<Node>,
    names: Vec<u8>,
    /// Folder path → node.
    folders: HashMap<Vec<u8>, u32>,
    strings: Vec<u8>,
    string_ids: HashMap<Vec<u8>, u32>,
    owners: Vec<(u32, u32, u32, u32)>,
    owner_ids: HashMap<(u32, u32, u32, u32), u32>,
    /// The last item's folder and owner: consecutive items nearly always share both, which
    /// saves two hash lookups per entry.
    last_folder: Option<(Vec<u8>, u32)>,
    last_owner: Option<LastOwner>,
}

/// The owner of the previous item and its id in the owners table.
struct LastOwner {
    uid: u32,
    gid: u32,
    user: Vec<u8>,
    group: Vec<u8>,
    id: u32,
}

fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (&[], path),
    }
}

impl Builder {
    fn new() -> Builder {
        let mut b = Builder::default();
        // The root: the archive's top level, made up.
        b.nodes.push(Node {
            parent: 0,
            name: (0, 0),
            mode: 0o040755,
            flags: FLAG_IMPLICIT,
            owner: 0,
            size: 0,
            mtime: 0,
            at: ItemAt::default(),
            target: NONE,
            rdev: 0,
        });
        b.folders.insert(Vec::new(), 0);
        b.owners.push((0, 0, NONE, NONE));
        b
    }

    /// The top of the tree built so far (two passes over the nodes: rare, see TOP_EVERY).
    fn top_so_far(&self) -> TopSoFar {
        let mut counts = vec![0u32; self.nodes.len()];
        for node in &self.nodes[1..] {
            counts[node.parent as usize] += 1;
        }
        let mut current = 0u32;
        let mut path: Vec<u8> = Vec::new();
        // Down single-folder chains (home → me), as a file manager would open them.
        while counts[current as usize] == 1 {
            let Some(child) = self.nodes[1..]
                .iter()
                .position(|n| n.parent == current)
                .map(|i| i as u32 + 1)
            else {
                break;
            };
            let node = &self.nodes[child as usize];
            if node.mode & 0o170000 != 0o040000 {
                break;
            }
            if !path.is_empty() {
                path.push(b'/');
            }
            let (start, len) = node.name;
            path.extend_from_slice(&self.names[start as usize..(start + len) as usize]);
            current = child;
        }
        let entries = self.nodes[1..]
            .iter()
            .filter(|n| n.parent == current)
            .take(TOP_ENTRIES)
            .map(|n| {
                let (start, len) = n.name;
                let mode = if n.flags & FLAG_IMPLICIT != 0 {
                    0o040000
                } else {
                    n.mode
                };
                (
                    self.names[start as usize..(start + len) as usize].to_vec(),
                    mode,
                    n.size,
                )
            })
            .collect();
        TopSoFar {
            folder: path,
            entries,
        }
    }

    /// Length-prefixed, deduplicated (owner names repeat a million times).
    fn string(&mut self, s: &[u8]) -> u32 {
        if let Some(id) = self.string_ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        self.strings
            .extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.strings.extend_from_slice(s);
        if s.len() < 256 {
            self.string_ids.insert(s.to_vec(), id);
        }
        id
    }

    fn owner(&mut self, item: &Item) -> u32 {
        let (uid, gid) = (item.uid as u32, item.gid as u32);
        let user_bytes = item.user.as_deref().unwrap_or_default();
        let group_bytes = item.group.as_deref().unwrap_or_default();
        if let Some(last) = &self.last_owner {
            if last.uid == uid
                && last.gid == gid
                && last.user == user_bytes
                && last.group == group_bytes
            {
                return last.id;
            }
        }
        let id = self.owner_slow(item);
        self.last_owner = Some(LastOwner {
            uid,
            gid,
            user: user_bytes.to_vec(),
            group: group_bytes.to_vec(),
            id,
        });
        id
    }

    fn owner_slow(&mut self, item: &Item) -> u32 {
        let user = match &item.user {
            Some(u) if !u.is_empty() => self.string(u),
            _ => NONE,
        };
        let group = match &item.group {
            Some(g) if !g.is_empty() => self.string(g),
            _ => NONE,
        };
        let key = (item.uid as u32, item.gid as u32, user, group);
        if let Some(id) = self.owner_ids.get(&key) {
            return *id;
        }
        let id = self.owners.len() as u32;
        self.owners.push(key);
        self.owner_ids.insert(key, id);
        id
    }

    fn push_node(&mut self, parent: u32, name: &[u8]) -> u32 {
        let start = self.names.len() as u32;
        self.names.extend_from_slice(name);
        self.nodes.push(Node {
            parent,
            name: (start, name.len() as u32),
            mode: 0o040755,
            flags: FLAG_IMPLICIT,
            owner: 0,
            size: 0,
            mtime: 0,
            at: ItemAt::default(),
            target: NONE,
            rdev: 0,
        });
        (self.nodes.len() - 1) as u32
    }

    /// The folder node for `path`, made up (with its parents) when the archive has none.
    fn folder(&mut self, path: &[u8]) -> u32 {
        if let Some(id) = self.folders.get(path) {
            return *id;
        }
        let (parent_path, name) = split_last(path);
        let parent = self.folder(parent_path);
        let id = self.push_node(parent, name);
        self.folders.insert(path.to_vec(), id);
        id
    }

    fn add(&mut self, item: &Item, at: ItemAt) {
        let path = trim_slashes(&item.path);
        if path.is_empty() {
            return;
        }
        let is_dir = item.mode & 0o170000 == 0o040000;
        let id = if is_dir {
            self.folder(path)
        } else {
            let (parent_path, name) = split_last(path);
            let parent = match &self.last_folder {
                Some((p, id)) if p.as_slice() == parent_path => *id,
                _ => {
                    let id = self.folder(parent_path);
                    self.last_folder = Some((parent_path.to_vec(), id));
                    id
                }
            };
            self.push_node(parent, name)
        };
        let owner = self.owner(item);
        let target = match &item.source {
            Some(s) => self.string(s),
            None => NONE,
        };
        let node = &mut self.nodes[id as usize];
        node.mode = item.mode & 0xffff;
        node.flags = if item.hardlink_master {
            FLAG_HARDLINK_MASTER
        } else {
            0
        } | if item.healthy { 0 } else { FLAG_UNHEALTHY }
            | if item.xattrs.is_empty() {
                0
            } else {
                FLAG_XATTRS
            };
        // dev_t as the kernel encodes it in 32 bits (glibc's encoding agrees below 4096:256).
        node.rdev = u32::try_from(item.rdev).unwrap_or(u32::MAX);
        node.owner = owner;
        node.size = item_size(item);
        node.mtime = i64::try_from(item.mtime).unwrap_or(i64::MAX);
        node.at = at;
        node.target = if is_dir { NONE } else { target };
    }

    /// Breadth-first order, each folder's children sorted by name, written to `out`.
    fn write(
        self,
        out: &mut impl Write,
        repository_id: &[u8],
        archive_id: &[u8; 32],
    ) -> std::io::Result<()> {
        let n = self.nodes.len();
        // Children of each node (CSR), then sorted by name.
        let mut counts = vec![0u32; n + 1];
        for node in &self.nodes[1..] {
            counts[node.parent as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut children = vec![0u32; n.saturating_sub(1)];
        for (id, node) in self.nodes.iter().enumerate().skip(1) {
            let slot = &mut fill[node.parent as usize];
            children[*slot as usize] = id as u32;
            *slot += 1;
        }
        let name_of = |id: u32| {
            let (s, l) = self.nodes[id as usize].name;
            &self.names[s as usize..(s + l) as usize]
        };
        // By name; where a hostile archive has two entries of one name (an item, and a folder
        // made up for a path below a symlink or file of that name), the item comes first.
        let made_up = |id: u32| self.nodes[id as usize].flags & FLAG_IMPLICIT != 0;
        for p in 0..n {
            children[counts[p] as usize..counts[p + 1] as usize].sort_by(|a, b| {
                name_of(*a)
                    .cmp(name_of(*b))
                    .then(made_up(*a).cmp(&made_up(*b)))
            });
        }
        // Breadth first from the root: new position of every node.
        let mut order: Vec<u32> = Vec::with_capacity(n);
        order.push(0);
        let mut first_child = vec![0u32; n];
        let mut next = 0;
        while next < order.len() {
            let id = order[next] as usize;
            first_child[id] = order.len() as u32;
            order.extend_from_slice(&children[counts[id] as usize..counts[id + 1] as usize]);
            next += 1;
        }
        let mut position = vec![0u32; n];
        for (pos, id) in order.iter().enumerate() {
            position[*id as usize] = pos as u32;
        }
        // Names blob: "\0" then each name followed by "\0\0".
        let mut names = Vec::with_capacity(self.names.len() + 2 * n + 1);
        names.push(0);
        let mut name_offsets = vec![0u32; n];
        for id in &order {
            name_offsets[*id as usize] = names.len() as u32;
            names.extend_from_slice(name_of(*id));
            names.extend_from_slice(&[0, 0]);
        }
        let mut header = vec![0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        header[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        header[12..16].copy_from_slice(&(self.owners.len() as u32).to_le_bytes());
        header[16..24].copy_from_slice(&(names.len() as u64).to_le_bytes());
        header[24..32].copy_from_slice(&(self.strings.len() as u64).to_le_bytes());
        header[32..64].copy_from_slice(&repository_id[..32.min(repository_id.len())]);
        header[64..96].copy_from_slice(archive_id);
        out.write_all(&header)?;
        let mut record = [0u8; ENTRY];
        for id in &order {
            let node = &self.nodes[*id as usize];
            let is_dir = node.mode & 0o170000 == 0o040000;
            let (a, b) = if is_dir {
                let id = *id as usize;
                (first_child[id], counts[id + 1] - counts[id])
            } else {
                (node.target, node.rdev)
            };
            record[0..4].copy_from_slice(&position[node.parent as usize].to_le_bytes());
            record[4..8].copy_from_slice(&name_offsets[*id as usize].to_le_bytes());
            record[8..12].copy_from_slice(&(node.mode | node.flags << 16).to_le_bytes());
            record[12..16].copy_from_slice(&node.owner.to_le_bytes());
            record[16..24].copy_from_slice(&node.size.to_le_bytes());
            record[24..32].copy_from_slice(&node.mtime.to_le_bytes());
            record[32..36].copy_from_slice(&node.at.chunk.to_le_bytes());
            record[36..40].copy_from_slice(&node.at.offset.to_le_bytes());
            record[40..44].copy_from_slice(&a.to_le_bytes());
            record[44..48].copy_from_slice(&b.to_le_bytes());
            out.write_all(&record)?;
        }
        for (uid, gid, user, group) in &self.owners {
            let mut o = [0u8; OWNER];
            o[0..4].copy_from_slice(&uid.to_le_bytes());
            o[4..8].copy_from_slice(&gid.to_le_bytes());
            o[8..12].copy_from_slice(&user.to_le_bytes());
            o[12..16].copy_from_slice(&group.to_le_bytes());
            out.write_all(&o)?;
        }
        out.write_all(&names)?;
        out.write_all(&self.strings)?;
        Ok(())
    }
}

fn trim_slashes(path: &[u8]) -> &[u8] {
    let start = path.iter().position(|b| *b != b'/').unwrap_or(path.len());
    let end = path
        .iter()
        .rposition(|b| *b != b'/')
        .map_or(start, |e| e + 1);
    &path[start..end.max(start)]
}

/// Builds the index of `archive` into `target` (written to a temporary file beside it and
/// renamed into place only when complete). `progress` is called about every 64 item chunks;
/// `cancel` stops the build (`IndexError::Cancelled`, nothing written).
pub fn build_index(
    reader: &Reader,
    archive: &ArchiveRef,
    target: &Path,
    progress: &mut dyn FnMut(BuildProgress),
    cancel: &AtomicBool,
) -> Result<ArchiveIndex, IndexError> {
    let total = reader.item_chunks(archive)?.len() as u32;
    let mut builder = Builder::new();
    let mut entries = 0u64;
    let mut last_chunk = 0u32;
    let mut next_top = 0u64;
    reader.for_each_item_at(archive, |item, at| {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        if item.part {
            return true;
        }
        builder.add(item, at);
        entries += 1;
        if at.chunk >= last_chunk + 64 {
            last_chunk = at.chunk;
            let top = (entries >= next_top).then(|| {
                next_top = entries + TOP_EVERY;
                builder.top_so_far()
            });
            progress(BuildProgress {
                entries,
                chunks_done: at.chunk,
                chunks_total: total,
                top,
            });
        }
        true
    })?;
    if cancel.load(Ordering::Relaxed) {
        return Err(IndexError::Cancelled);
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    // Every path name of an encrypted archive: folders 0700, files 0600, as borg's cache.
    let kastell_root = dir.parent().and_then(Path::parent).unwrap_or(dir);
    crate::private::create_dirs_below(kastell_root, dir).map_err(io(dir))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let _ = std::fs::remove_file(&temp);
        let file = crate::private::create_new(&temp)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        builder.write(&mut out, reader.repository_id(), &archive.id)?;
        // No fsync: a cache file torn by a crash fails `ArchiveIndex::open`'s checks (every
        // section's length must add up to the file's) and is simply built again.
        out.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&temp, target)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(IndexError::Io {
            path: target.to_path_buf(),
            source,
        });
    }
    progress(BuildProgress {
        entries,
        chunks_done: total,
        chunks_total: total,
        top: None,
    });
    ArchiveIndex::open(target)
}

/// The index of `archive`: the cached one when it is complete, else built now. A complete
/// index is never rebuilt (archives do not change).
pub fn ensure_index(
    reader: &Reader,
    archive: &ArchiveRef,
    cache_root: &Path,
    progress: &mut dyn FnMut(BuildProgress),
    cancel: &AtomicBool,
) -> Result<ArchiveIndex, IndexError> {
    let path = index_path(cache_root, reader.repository_id(), &archive.id);
    match ArchiveIndex::open(&path) {
        Ok(index) if index.archive_id == archive.id => Ok(index),
        _ => build_index(reader, archive, &path, progress, cancel),
    }
}

/// Removes the indexes of archives the repository no longer has (and leftovers of builds
/// that were killed); returns how many files went.
pub fn prune_indexes(cache_root: &Path, repository_id: &[u8], live: &[ArchiveRef]) -> usize {
    let dir = repository_cache_dir(cache_root, repository_id);
    let keep: std::collections::HashSet<String> = live
        .iter()
        .map(|a| format!("{}.kidx", crate::reader::key::hex(&a.id)))
        .collect();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale_temp = name.ends_with(".tmp") && !temp_owner_alive(&name);
        let gone = name.ends_with(".kidx") && !keep.contains(&name);
        if (gone || stale_temp) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// A build's temporary file names its process; it is stale when that process is gone.
fn temp_owner_alive(name: &str) -> bool {
    let pid = name
        .trim_end_matches(".tmp")
        .rsplit('.')
        .next()
        .and_then(|p| p.parse::<i32>().ok());
    match pid {
        Some(pid) => !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(nix::errno::Errno::ESRCH)
        ),
        None => false,
    }
}

/// The index files of a repository, for tests and statistics.
pub fn index_files(cache_root: &Path, repository_id: &[u8]) -> Vec<PathBuf> {
    std::fs::read_dir(repository_cache_dir(cache_root, repository_id))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "kidx"))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, mode: u32, size: u64) -> Item {
        Item {
            path: path.as_bytes().to_vec(),
            mode,
            size: Some(size),
            ..Item::default()
        }
    }

    #[test]
    fn the_top_so_far_skips_single_folder_chains_and_lists_what_was_read() {
        let mut b = Builder::new();
        // As borg stores a home backup: the backed-up folder's parents are not items.
        b.add(&item("home/me", 0o040755, 0), ItemAt::default());
        b.add(&item("home/me/Documents", 0o040755, 0), ItemAt::default());
        b.add(
            &item("home/me/Documents/a.txt", 0o100644, 5),
            ItemAt::default(),
        );
        b.add(&item("home/me/notes.txt", 0o100644, 7), ItemAt::default());
        let top = b.top_so_far();
        assert_eq!(top.folder, b"home/me");
        let names: Vec<&[u8]> = top.entries.iter().map(|e| e.0.as_slice()).collect();
        assert_eq!(names, [&b"Documents"[..], b"notes.txt"]);
        assert_eq!(top.entries[1].2, 7);
        // Only one entry below the top: the chain ends at the first file.
        let mut single = Builder::new();
        single.add(&item("only.txt", 0o100644, 1), ItemAt::default());
        assert_eq!(single.top_so_far().folder, b"");
    }
}
