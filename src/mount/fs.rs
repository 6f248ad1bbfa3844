//! The read-only FUSE filesystem (`fuser`, pure-Rust mount) over archive indexes: the tree
//! comes from the index, file content from the native reader by chunk list, with a bounded
//! cache of opened chunks and read-ahead. Every write is EROFS; no repository lock is held
//! while mounted, so a scheduled backup never waits for a mount.
//!
//! Layouts, as borg and borgmatic lay them out: one archive with its paths directly under the
//! mount point, a repository with `MOUNT/<archive>/...` and `latest` (a link to the newest), or
//! every repository of a config as `MOUNT/<label>/<archive>/...` (a repository the reader
//! cannot read grafted in from a private borg mount, `graft.rs`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, INodeNo, LockOwner, OpenFlags, ReplyAttr,
    ReplyData, ReplyDirectory, ReplyEntry, ReplyOpen, Request,
};

use super::graft;
use crate::browse::Session;
use crate::events::{Event, EventSink, MountEvent};
use crate::index::ArchiveIndex;
use crate::reader::ArchiveRef;

/// Archives never change: the kernel may cache what it is told for long.
const TTL: Duration = Duration::from_secs(3600);
/// Opened chunks kept for reads that come back to them (sequential reads of 4 KiB–128 KiB
/// pieces of a ~1 MiB chunk).
const CHUNK_CACHE_BYTES: usize = 64 << 20;

/// What is mounted.
pub enum Layout {
    /// One archive, its paths directly under the mount point.
    Archive(ArchiveRef),
    /// Every archive of the repository as a folder, plus `latest`.
    Repository,
}

/// How the top of the mount looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    OneArchive,
    OneRepository,
    /// `MOUNT/<repository label>/<archive>/...`, each repository with its `latest`.
    Config,
}

/// One repository of the mount: its session and its archives' slots.
struct Group {
    label: String,
    session: Arc<Session>,
    slots: std::ops::Range<usize>,
}

/// An archive's slot: its index, built on first access.
struct Slot {
    group: usize,
    archive: ArchiveRef,
    /// When the archive was made: the time of its top folder and of the folders made up
    /// above its paths (as `borg mount` shows them).
    made: SystemTime,
    index: OnceLock<Result<Arc<ArchiveIndex>, String>>,
    /// Hard links: every name of a group → (the group's first name, the number of names).
    links: OnceLock<HashMap<u32, (u32, u32)>>,
}

/// The hard-link groups of an archive: borg stores later names of a file with `source`
/// pointing at the first (one pass over the index, once per archive).
fn link_groups(index: &ArchiveIndex) -> HashMap<u32, (u32, u32)> {
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    for i in 1..index.len() {
        let e = index.entry(i);
        if e.is_dir() || e.is_symlink() {
            continue;
        }
        if let Some(first) = index.target(i).and_then(|t| index.lookup(t)) {
            members.entry(first).or_default().push(i);
        }
    }
    let mut groups = HashMap::new();
    for (first, others) in members {
        let count = others.len() as u32 + 1;
        groups.insert(first, (first, count));
        for other in others {
            groups.insert(other, (first, count));
        }
    }
    groups
}

/// A file opened by a reader: its chunks and where each begins.
struct OpenFile {
    group: usize,
    chunks: Vec<([u8; 32], u64)>,
    starts: Vec<u64>,
    /// A read-ahead batch is being fetched for this file: one at a time, so the chunks
    /// opened ahead stay bounded (a batch opens its chunks on every core already).
    fetching_ahead: Arc<AtomicBool>,
}

#[derive(Default)]
struct ChunkCache {
    /// Chunks being fetched ahead of a sequential reader (not fetched twice).
    ahead: std::collections::HashSet<[u8; 32]>,
    chunks: HashMap<[u8; 32], Arc<Vec<u8>>>,
    order: std::collections::VecDeque<[u8; 32]>,
    bytes: usize,
}

impl ChunkCache {
    fn get(&self, id: &[u8; 32]) -> Option<Arc<Vec<u8>>> {
        self.chunks.get(id).cloned()
    }

    fn put(&mut self, id: [u8; 32], data: Arc<Vec<u8>>) {
        if self.chunks.contains_key(&id) {
            return;
        }
        self.bytes += data.len();
        self.chunks.insert(id, data);
        self.order.push_back(id);
        while self.bytes > CHUNK_CACHE_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.chunks.remove(&old) {
                self.bytes -= gone.len();
            }
        }
    }
}

/// The mounted filesystem.
pub struct ArchiveFs {
    shape: Shape,
    groups: Vec<Group>,
    slots: Vec<Slot>,
    mounted_at: SystemTime,
    uid: u32,
    gid: u32,
    open_files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    next_handle: std::sync::atomic::AtomicU64,
    /// Opened chunks, and a signal for readers waiting on one being fetched ahead.
    cache: Arc<(Mutex<ChunkCache>, std::sync::Condvar)>,
    /// Where indexing progress and read failures are reported (the window), besides stderr.
    events: Option<Arc<dyn EventSink>>,
    /// Repositories served by a private borg mount (whole-config layout only).
    grafts: Option<graft::Grafts>,
    grafted_files: Mutex<HashMap<u64, Arc<std::fs::File>>>,
    /// Extended attributes read so far, by inode (only entries that have any are read).
    xattrs: Mutex<HashMap<u64, Arc<Xattrs>>>,
}

/// An entry's extended attributes, name and value.
type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Inodes whose extended attributes are kept (a file manager asks for each file it shows).
const XATTRS_KEPT: usize = 16_384;

/// Inode numbers: 1 is the mount point; an archive's entry `e` in slot `s` is
/// `(s + 1) << 32 | (e + 1)`. In a one-archive mount the mount point is that archive's root.
fn ino_of(slot: usize, entry: u32) -> u64 {
    ((slot as u64 + 1) << 32) | (u64::from(entry) + 1)
}

fn split_ino(ino: u64) -> Option<(usize, u32)> {
    let slot = (ino >> 32).checked_sub(1)? as usize;
    let entry = ((ino & 0xffff_ffff) as u32).checked_sub(1)?;
    Some((slot, entry))
}

pub(super) fn file_type(mode: u32) -> FileType {
    match mode & 0o170000 {
        0o040000 => FileType::Directory,
        0o120000 => FileType::Symlink,
        0o060000 => FileType::BlockDevice,
        0o020000 => FileType::CharDevice,
        0o010000 => FileType::NamedPipe,
        0o140000 => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

/// A folder's link count as a real filesystem gives it: 2, plus one per subfolder.
fn folder_links(index: &ArchiveIndex, entry: u32) -> u32 {
    let subfolders = index
        .entry(entry)
        .children()
        .filter(|c| index.entry(*c).is_dir())
        .count();
    2u32.saturating_add(u32::try_from(subfolders).unwrap_or(u32::MAX))
}

/// Names a listing never shows: the kernel's own `.` and `..` (a hostile archive can hold
/// entries so named), and a made-up folder that shares its name with the archive item before
/// it (a path stored below a symlink or file of that name). None of them can be reached.
fn hidden(index: &ArchiveIndex, child: u32, previous: Option<u32>) -> bool {
    let name = index.name(child);
    name.is_empty()
        || name == b"."
        || name == b".."
        || (index.entry(child).is_implicit() && previous.is_some_and(|p| index.name(p) == name))
}

fn time_of(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

impl ArchiveFs {
    /// One archive, or one repository's archives.
    pub fn new(session: Arc<Session>, layout: Layout) -> ArchiveFs {
        let (archives, shape) = match layout {
            Layout::Archive(archive) => (vec![archive], Shape::OneArchive),
            Layout::Repository => (session.archives().to_vec(), Shape::OneRepository),
        };
        let label = session.repository.display_name().to_string();
        Self::with_groups(shape, vec![(label, session, archives)])
    }

    /// Every repository of a config, by label.
    pub fn for_config(repositories: Vec<(String, Arc<Session>)>) -> ArchiveFs {
        let groups = repositories
            .into_iter()
            .map(|(label, session)| {
                let archives = session.archives().to_vec();
                (label, session, archives)
            })
            .collect();
        Self::with_groups(Shape::Config, groups)
    }

    fn with_groups(
        shape: Shape,
        groups: Vec<(String, Arc<Session>, Vec<ArchiveRef>)>,
    ) -> ArchiveFs {
        let mut slots = Vec::new();
        let mut made = Vec::new();
        for (g, (label, session, archives)) in groups.into_iter().enumerate() {
            let start = slots.len();
            slots.extend(archives.into_iter().map(|archive| Slot {
                group: g,
                made: crate::times::utc_iso_to_ns(&archive.time).map_or(UNIX_EPOCH, time_of),
                archive,
                index: OnceLock::new(),
                links: OnceLock::new(),
            }));
            made.push(Group {
                label,
                session,
                slots: start..slots.len(),
            });
        }
        ArchiveFs {
            shape,
            groups: made,
            slots,
            mounted_at: SystemTime::now(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            open_files: Mutex::default(),
            next_handle: std::sync::atomic::AtomicU64::new(1),
            cache: Arc::default(),
            events: None,
            grafts: None,
            grafted_files: Mutex::default(),
            xattrs: Mutex::default(),
        }
    }

    /// Adds folders served from other mounts (label → folder) to a whole-config mount.
    pub fn with_grafts(mut self, roots: Vec<(String, std::path::PathBuf)>) -> ArchiveFs {
        if self.shape == Shape::Config && !roots.is_empty() {
            self.grafts = Some(graft::Grafts::new(roots));
        }
        self
    }

    /// A new file handle for `file`, kept in `open` until released.
    fn keep_open<T>(&self, open: &Mutex<HashMap<u64, Arc<T>>>, file: T) -> FileHandle {
        let fh = self
            .next_handle
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut open) = open.lock() {
            open.insert(fh, Arc::new(file));
        }
        FileHandle(fh)
    }

    /// The grafts, when `ino` is a grafted inode.
    fn graft_of(&self, ino: u64) -> Option<&graft::Grafts> {
        self.grafts.as_ref().filter(|_| graft::is_graft(ino))
    }

    /// Reports indexing on first access and read failures to `sink` as [`MountEvent`]s.
    pub fn with_events(mut self, sink: Arc<dyn EventSink>) -> ArchiveFs {
        self.events = Some(sink);
        self
    }

    fn report(&self, event: MountEvent) {
        if let Some(sink) = &self.events {
            sink.emit(Event::Mount(event));
        }
    }

    /// The index of slot `slot`, built on first access (a not yet indexed archive).
    fn index(&self, slot: usize) -> Result<Arc<ArchiveIndex>, Errno> {
        let slot_ref = self.slots.get(slot).ok_or(Errno::ENOENT)?;
        let found = slot_ref.index.get_or_init(|| {
            let session = &self.groups[slot_ref.group].session;
            let archive = &slot_ref.archive;
            if let Some(found) = session.cached_index(archive) {
                return Ok(found);
            }
            let started = std::time::Instant::now();
            let built = session
                .index(
                    archive,
                    &mut |p| {
                        self.report(MountEvent::Indexing {
                            archive: archive.name.clone(),
                            entries: p.entries,
                            fraction: f64::from(p.chunks_done) / f64::from(p.chunks_total.max(1)),
                        })
                    },
                    &AtomicBool::new(false),
                )
                .map_err(|e| e.to_string());
            if built.is_ok() {
                self.report(MountEvent::Indexed {
                    archive: archive.name.clone(),
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            built
        });
        match found {
            Ok(index) => Ok(index.clone()),
            Err(why) => {
                let message = format!("{}: {why}", slot_ref.archive.name);
                eprintln!("kastell mount: {message}");
                self.report(MountEvent::ReadFailed { message });
                Err(Errno::EIO)
            }
        }
    }

    /// What an inode is: the mount's top, a repository's folder or `latest`, or an entry.
    /// Inodes below 2^32: 1 the top, `2 + 2g` repository g's `latest`, `3 + 2g` its folder
    /// (a one-repository mount's folder is the top).
    fn resolve(&self, ino: u64) -> Option<Node> {
        if graft::is_graft(ino) {
            return None;
        }
        if ino == 1 {
            return Some(match self.shape {
                Shape::OneArchive => Node::Entry(0, 0),
                Shape::OneRepository => Node::Repository(0),
                Shape::Config => Node::Top,
            });
        }
        if ino < 1 << 32 {
            let g = ((ino - 2) / 2) as usize;
            if g >= self.groups.len() || self.shape == Shape::OneArchive {
                return None;
            }
            return match (ino - 2) % 2 {
                0 => Some(Node::Latest(g)),
                _ if self.shape == Shape::Config => Some(Node::Repository(g)),
                _ => None,
            };
        }
        split_ino(ino).map(|(s, e)| Node::Entry(s, e))
    }

    fn ino(&self, slot: usize, entry: u32) -> u64 {
        if self.shape == Shape::OneArchive && entry == 0 {
            1
        } else {
            ino_of(slot, entry)
        }
    }

    fn repository_ino(&self, g: usize) -> u64 {
        if self.shape == Shape::Config {
            3 + 2 * g as u64
        } else {
            1
        }
    }

    /// The newest archive of repository `g`.
    fn newest(&self, g: usize) -> Option<&ArchiveRef> {
        self.groups
            .get(g)
            .and_then(|group| self.slots[group.slots.clone()].last())
            .map(|s| &s.archive)
    }

    fn dir_attr(&self, ino: u64, mtime: SystemTime) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: mtime,
            mtime,
            ctime: mtime,
            crtime: mtime,
            kind: FileType::Directory,
            perm: 0o755,
            nlink: 2,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            flags: 0,
            blksize: 512,
        }
    }

    fn attr(&self, node: &Node) -> Result<FileAttr, Errno> {
        match node {
            Node::Top => Ok(self.dir_attr(1, self.mounted_at)),
            Node::Repository(g) => Ok(self.dir_attr(self.repository_ino(*g), self.mounted_at)),
            Node::Latest(g) => {
                let newest = self.newest(*g).ok_or(Errno::ENOENT)?;
                let mut attr = self.dir_attr(2 + 2 * *g as u64, self.mounted_at);
                attr.kind = FileType::Symlink;
                attr.perm = 0o777;
                attr.nlink = 1;
                attr.size = newest.name.len() as u64;
                Ok(attr)
            }
            Node::Entry(slot, entry) => {
                let index = self.index(*slot)?;
                if *entry >= index.len() {
                    return Err(Errno::ENOENT);
                }
                let e = index.entry(*entry);
                let ino = self.ino(*slot, *entry);
                if *entry == 0 || e.is_implicit() {
                    // The archive's top level and the folders made up above its paths: the
                    // archive's own time, the mounting user's, as borg mount shows them.
                    let mut attr = self.dir_attr(ino, self.slots[*slot].made);
                    attr.nlink = folder_links(&index, *entry);
                    return Ok(attr);
                }
                let owner = index.owner(*entry);
                let mtime = time_of(e.mtime_ns);
                let kind = file_type(e.mode);
                // Every name of a hard-linked file is the same inode, with the group's count.
                let (ino, nlink) = match self.slots[*slot]
                    .links
                    .get_or_init(|| link_groups(&index))
                    .get(entry)
                {
                    Some((first, count)) => (self.ino(*slot, *first), *count),
                    None => (ino, 1),
                };
                let size = match kind {
                    FileType::Symlink => index.target(*entry).map_or(0, |t| t.len() as u64),
                    FileType::Directory => 0,
                    // A later name of a hard link has no size of its own: the first name's.
                    _ if nlink > 1 => split_ino(ino)
                        .map_or(e.size, |(_, first)| index.entry(first).size.max(e.size)),
                    _ => e.size,
                };
                Ok(FileAttr {
                    ino: INodeNo(ino),
                    size,
                    blocks: size.div_ceil(512),
                    atime: mtime,
                    mtime,
                    ctime: mtime,
                    crtime: mtime,
                    kind,
                    perm: (e.mode & 0o7777) as u16,
                    nlink: if kind == FileType::Directory {
                        folder_links(&index, *entry)
                    } else {
                        nlink
                    },
                    uid: owner.uid,
                    gid: owner.gid,
                    rdev: e.rdev,
                    flags: 0,
                    blksize: 4096,
                })
            }
        }
    }

    fn chunk(&self, group: usize, id: &[u8; 32], size: u64) -> Result<Arc<Vec<u8>>, Errno> {
        // Being fetched ahead: wait for it rather than fetch it a second time.
        let (lock, fetched) = &*self.cache;
        if let Ok(mut cache) = lock.lock() {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(found) = cache.get(id) {
                    return Ok(found);
                }
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if !cache.ahead.contains(id) || left.is_zero() {
                    break;
                }
                cache = match fetched.wait_timeout(cache, left) {
                    Ok((cache, _)) => cache,
                    Err(_) => break,
                };
            }
        }
        let data = self.groups[group]
            .session
            .reader
            .object(id, usize::try_from(size).ok())
            .map_err(|e| {
                // A chunk a compact or prune removed: an I/O error, never wrong bytes.
                let message = format!("reading a chunk failed: {e}");
                eprintln!("kastell mount: {message}");
                self.report(MountEvent::ReadFailed { message });
                Errno::EIO
            })?;
        let data = Arc::new(data);
        if let Ok(mut cache) = lock.lock() {
            cache.put(*id, data.clone());
        }
        Ok(data)
    }

    /// Fetches the chunks after `i` of `file` in the background, about `AHEAD_BYTES` of them
    /// (at least two), in one batch opened on every core, so a sequential reader finds them
    /// opened: decryption and decompression overlap its reads, and small chunks cost one
    /// task per batch instead of one each.
    fn read_ahead(&self, file: &OpenFile, i: usize) {
        const AHEAD_BYTES: u64 = 2 << 20;
        const AHEAD_CHUNKS: usize = 256;
        let Ok(mut cache) = self.cache.0.lock() else {
            return;
        };
        let mut window = 0usize;
        let mut bytes = 0u64;
        let mut wanted: Vec<([u8; 32], Option<usize>)> = Vec::new();
        let mut next_missing = false;
        for (n, (id, size)) in file.chunks.iter().enumerate().skip(i + 1) {
            if window >= 2 && (bytes >= AHEAD_BYTES || window >= AHEAD_CHUNKS) {
                break;
            }
            window += 1;
            bytes += size;
            if cache.chunks.contains_key(id) || cache.ahead.contains(id) {
                continue;
            }
            next_missing |= n == i + 1;
            wanted.push((*id, usize::try_from(*size).ok()));
        }
        // Refill in bulk: when the next chunk is missing or half the window is.
        if wanted.is_empty() || (!next_missing && wanted.len() * 2 < window) {
            return;
        }
        if file
            .fetching_ahead
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let fetching = file.fetching_ahead.clone();
        for (id, _) in &wanted {
            cache.ahead.insert(*id);
        }
        drop(cache);
        let session = self.groups[file.group].session.clone();
        let shared = self.cache.clone();
        // A thread of its own, not rayon's: `objects` waits on a channel for work it runs on
        // rayon's threads, and waiting on one of them could take the last one it needs.
        let fetch = std::thread::Builder::new().name("kastell-ahead".into());
        let spawned = fetch.spawn(move || {
            let (lock, fetched) = &*shared;
            let mut at = 0usize;
            let result = session.reader.objects(&wanted, 8, &mut |data| {
                if let Ok(mut cache) = lock.lock() {
                    let id = wanted[at].0;
                    cache.ahead.remove(&id);
                    cache.put(id, Arc::new(data));
                }
                fetched.notify_all();
                at += 1;
                Ok(true)
            });
            // A failed batch: the readers fetch (and report) the rest themselves.
            if result.is_err() {
                if let Ok(mut cache) = lock.lock() {
                    for (id, _) in &wanted[at..] {
                        cache.ahead.remove(id);
                    }
                }
                fetched.notify_all();
            }
            fetching.store(false, std::sync::atomic::Ordering::Release);
        });
        if spawned.is_err() {
            // No thread: nothing is fetched ahead, the readers fetch for themselves.
            if let Ok(mut cache) = self.cache.0.lock() {
                cache.ahead.clear();
            }
            self.cache.1.notify_all();
            file.fetching_ahead
                .store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

#[derive(Clone, Copy)]
enum Node {
    Top,
    Repository(usize),
    Latest(usize),
    Entry(usize, u32),
}

impl Filesystem for ArchiveFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let grafted = match (self.graft_of(parent.0), &self.grafts) {
            (Some(grafts), _) => Some(grafts.lookup(parent.0, name)),
            (None, Some(grafts)) if parent.0 == 1 => grafts.root(name.as_bytes()),
            _ => None,
        };
        if let Some(found) = grafted {
            return match found {
                Ok(attr) => reply.entry(&TTL, &attr, fuser::Generation(0)),
                Err(errno) => reply.error(errno),
            };
        }
        let found = match self.resolve(parent.0) {
            Some(Node::Top) => self
                .groups
                .iter()
                .position(|g| g.label.as_bytes() == name.as_bytes())
                .map(Node::Repository),
            Some(Node::Repository(g)) => {
                if name == "latest" && self.newest(g).is_some() {
                    Some(Node::Latest(g))
                } else {
                    let range = self.groups[g].slots.clone();
                    self.slots[range.clone()]
                        .iter()
                        .position(|s| s.archive.name.as_bytes() == name.as_bytes())
                        .map(|i| Node::Entry(range.start + i, 0))
                }
            }
            Some(Node::Entry(slot, entry)) => match self.index(slot) {
                Ok(index) => {
                    let e = index.entry(entry);
                    e.children()
                        .find(|c| index.name(*c) == name.as_bytes())
                        .map(|c| Node::Entry(slot, c))
                }
                Err(errno) => return reply.error(errno),
            },
            _ => None,
        };
        match found.map(|n| self.attr(&n)) {
            Some(Ok(attr)) => reply.entry(&TTL, &attr, fuser::Generation(0)),
            Some(Err(errno)) => reply.error(errno),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        if let Some(grafts) = self.graft_of(ino.0) {
            return match grafts.getattr(ino.0) {
                Ok(attr) => reply.attr(&TTL, &attr),
                Err(errno) => reply.error(errno),
            };
        }
        match self.resolve(ino.0).map(|n| self.attr(&n)) {
            Some(Ok(attr)) => reply.attr(&TTL, &attr),
            Some(Err(errno)) => reply.error(errno),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        if let Some(grafts) = self.graft_of(ino.0) {
            return match grafts.readlink(ino.0) {
                Ok(target) => reply.data(&target),
                Err(errno) => reply.error(errno),
            };
        }
        match self.resolve(ino.0) {
            Some(Node::Latest(g)) => match self.newest(g) {
                Some(newest) => reply.data(newest.name.as_bytes()),
                None => reply.error(Errno::ENOENT),
            },
            Some(Node::Entry(slot, entry)) => match self.index(slot) {
                Ok(index) => match index.target(entry) {
                    Some(target) if index.entry(entry).is_symlink() => reply.data(target),
                    _ => reply.error(Errno::EINVAL),
                },
                Err(errno) => reply.error(errno),
            },
            _ => reply.error(Errno::EINVAL),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & nix::libc::O_ACCMODE != nix::libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        if let Some(grafts) = self.graft_of(ino.0) {
            return match grafts.open(ino.0) {
                Ok(file) => reply.opened(
                    self.keep_open(&self.grafted_files, file),
                    fuser::FopenFlags::empty(),
                ),
                Err(errno) => reply.error(errno),
            };
        }
        let Some(Node::Entry(slot, entry)) = self.resolve(ino.0) else {
            return reply.error(Errno::EISDIR);
        };
        let opened = (|| -> Result<OpenFile, Errno> {
            let index = self.index(slot)?;
            let group = self.slots[slot].group;
            let item = self.item(slot, &index, entry)?;
            let mut starts = Vec::with_capacity(item.chunks.len());
            let mut at = 0u64;
            for (_, size) in &item.chunks {
                starts.push(at);
                at += size;
            }
            Ok(OpenFile {
                group,
                chunks: item.chunks,
                starts,
                fetching_ahead: Arc::default(),
            })
        })();
        match opened {
            Ok(file) => reply.opened(
                self.keep_open(&self.open_files, file),
                fuser::FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(errno) => reply.error(errno),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let grafted = self
            .grafted_files
            .lock()
            .ok()
            .and_then(|o| o.get(&fh.0).cloned());
        if let Some(file) = grafted {
            use std::os::unix::fs::FileExt;
            let mut out = vec![0u8; size as usize];
            let mut filled = 0;
            // read_at may return less than asked before the end: read until full or EOF.
            while filled < out.len() {
                match file.read_at(&mut out[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return reply.error(e.into()),
                }
            }
            return reply.data(&out[..filled]);
        }
        let Some(file) = self
            .open_files
            .lock()
            .ok()
            .and_then(|o| o.get(&fh.0).cloned())
        else {
            return reply.error(Errno::EBADF);
        };
        let end = offset.saturating_add(u64::from(size));
        let mut out = Vec::with_capacity(size as usize);
        // The first chunk that holds `offset`.
        let mut i = file
            .starts
            .partition_point(|s| *s <= offset)
            .saturating_sub(1);
        while i < file.chunks.len() && file.starts[i] < end {
            let (id, chunk_size) = file.chunks[i];
            let data = match self.chunk(file.group, &id, chunk_size) {
                Ok(d) => d,
                Err(errno) => return reply.error(errno),
            };
            if i + 1 == file.chunks.len() || file.starts[i + 1] >= end {
                // The last chunk this read needs: start on the next ones.
                self.read_ahead(&file, i);
            }
            let start = file.starts[i];
            let from = offset.saturating_sub(start) as usize;
            let to = ((end - start) as usize).min(data.len());
            if from < to {
                out.extend_from_slice(&data[from..to]);
            }
            i += 1;
        }
        reply.data(&out);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: fuser::ReplyEmpty,
    ) {
        if let Ok(mut open) = self.open_files.lock() {
            open.remove(&fh.0);
        }
        if let Ok(mut open) = self.grafted_files.lock() {
            open.remove(&fh.0);
        }
        reply.ok();
    }

    fn opendir(&self, _req: &Request, _ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        // No folder needs a handle: ENOSYS (with FUSE_NO_OPENDIR_SUPPORT) makes the kernel stop
        // asking, keep listings cached for good (an archive never changes) and spare a walk
        // two round trips per folder.
        reply.error(Errno::ENOSYS);
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listed = self.list(ino.0, offset, &mut |next, entry| {
            reply.add(
                INodeNo(entry.ino),
                next,
                entry.kind,
                OsStr::from_bytes(&entry.name),
            )
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(errno) => reply.error(errno),
        }
    }

    fn getxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        size: u32,
        reply: fuser::ReplyXattr,
    ) {
        let found = self.xattrs_of(ino.0).and_then(|all| {
            all.iter()
                .find(|(n, _)| n.as_slice() == name.as_bytes())
                .map(|(_, v)| v.clone())
                .ok_or(Errno::NO_XATTR)
        });
        match found {
            Ok(value) => reply_xattr(reply, size, &value),
            Err(errno) => reply.error(errno),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: fuser::ReplyXattr) {
        match self.xattrs_of(ino.0) {
            Ok(all) => {
                let mut names = Vec::new();
                for (name, _) in all.iter() {
                    names.extend_from_slice(name);
                    names.push(0);
                }
                reply_xattr(reply, size, &names);
            }
            Err(errno) => reply.error(errno),
        }
    }

    fn init(&mut self, _req: &Request, config: &mut fuser::KernelConfig) -> std::io::Result<()> {
        use fuser::InitFlags;
        // Folders opened without a round trip and their listings cached, symlink targets
        // cached, lookups in parallel; reads ahead as far as the kernel allows. (Not
        // readdirplus: it makes the kernel build an inode for every entry of a listing, which
        // made a first `find` over a million entries ten times slower.)
        for wanted in [
            InitFlags::FUSE_NO_OPENDIR_SUPPORT,
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_PARALLEL_DIROPS,
        ] {
            let _ = config.add_capabilities(wanted);
        }
        let _ = config.set_max_readahead(READ_AHEAD_MAX);
        Ok(())
    }
}

/// What the kernel may read ahead of a reader (it caps this at what it supports).
const READ_AHEAD_MAX: u32 = 1 << 20;

/// An xattr value or name list, or its size when the caller asks for that (`size` 0).
fn reply_xattr(reply: fuser::ReplyXattr, size: u32, data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    if size == 0 {
        reply.size(len);
    } else if len > size {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(data);
    }
}

/// One entry of a listing.
struct Listed {
    ino: u64,
    kind: FileType,
    name: Vec<u8>,
}

impl ArchiveFs {
    /// The folder `ino`'s entries from position `from` on (0 is `.`, 1 is `..`); `each` gets
    /// the position after the entry and returns true when the reply is full.
    fn list(
        &self,
        ino: u64,
        from: u64,
        each: &mut dyn FnMut(u64, Listed) -> bool,
    ) -> Result<(), Errno> {
        let dots = [
            Listed {
                ino,
                kind: FileType::Directory,
                name: b".".to_vec(),
            },
            Listed {
                ino: 1,
                kind: FileType::Directory,
                name: b"..".to_vec(),
            },
        ];
        let mut rest: Vec<Listed> = Vec::new();
        let grafted = self.graft_of(ino).map(|grafts| grafts.readdir(ino));
        match self.resolve(ino) {
            _ if grafted.is_some() => {
                if let Some(found) = grafted {
                    rest.extend(found?.into_iter().map(|(ino, kind, name)| Listed {
                        ino,
                        kind,
                        name,
                    }));
                }
            }
            Some(Node::Top) => {
                if let Some(grafts) = &self.grafts {
                    rest.extend(
                        grafts
                            .top_entries()
                            .into_iter()
                            .map(|(ino, kind, name)| Listed { ino, kind, name }),
                    );
                }
                for (g, group) in self.groups.iter().enumerate() {
                    rest.push(Listed {
                        ino: self.repository_ino(g),
                        kind: FileType::Directory,
                        name: group.label.as_bytes().to_vec(),
                    });
                }
            }
            Some(Node::Repository(g)) => {
                if self.newest(g).is_some() {
                    rest.push(Listed {
                        ino: 2 + 2 * g as u64,
                        kind: FileType::Symlink,
                        name: b"latest".to_vec(),
                    });
                }
                for slot in self.groups[g].slots.clone() {
                    rest.push(Listed {
                        ino: ino_of(slot, 0),
                        kind: FileType::Directory,
                        name: self.slots[slot].archive.name.as_bytes().to_vec(),
                    });
                }
            }
            Some(Node::Entry(slot, entry)) => {
                // Straight from the index, starting at `from`: listing a large folder in many
                // replies stays linear.
                let index = self.index(slot)?;
                let e = index.entry(entry);
                if !e.is_dir() {
                    return Err(Errno::ENOTDIR);
                }
                for (i, dot) in dots.into_iter().enumerate().skip(from as usize) {
                    if each(i as u64 + 1, dot) {
                        return Ok(());
                    }
                }
                let children = e.children();
                let skip = from.saturating_sub(2);
                let mut previous = None;
                for (i, c) in children.clone().enumerate() {
                    let shown = !hidden(&index, c, previous);
                    previous = Some(c);
                    if (i as u64) < skip || !shown {
                        continue;
                    }
                    let listed = Listed {
                        ino: self.ino(slot, c),
                        kind: file_type(index.entry(c).mode),
                        name: index.name(c).to_vec(),
                    };
                    if each(i as u64 + 3, listed) {
                        return Ok(());
                    }
                }
                return Ok(());
            }
            _ => return Err(Errno::ENOENT),
        }
        for (i, listed) in dots.into_iter().chain(rest).enumerate().skip(from as usize) {
            if each(i as u64 + 1, listed) {
                break;
            }
        }
        Ok(())
    }

    /// Entry `entry`'s item in slot `slot` (its chunk list, xattrs, ...).
    fn item(
        &self,
        slot: usize,
        index: &ArchiveIndex,
        entry: u32,
    ) -> Result<crate::reader::Item, Errno> {
        let group = self.slots[slot].group;
        self.groups[group]
            .session
            .item(&self.slots[slot].archive, index, entry)
            .map_err(|_| Errno::EIO)
    }

    /// The extended attributes of `ino` (read from its item, once, when the index says it
    /// has any).
    fn xattrs_of(&self, ino: u64) -> Result<Arc<Xattrs>, Errno> {
        let Some(Node::Entry(slot, entry)) = self.resolve(ino) else {
            return Ok(Arc::default());
        };
        if let Some(found) = self.xattrs.lock().ok().and_then(|m| m.get(&ino).cloned()) {
            return Ok(found);
        }
        let index = self.index(slot)?;
        if entry >= index.len() {
            return Err(Errno::ENOENT);
        }
        if !index.entry(entry).has_xattrs() {
            return Ok(Arc::default());
        }
        let found = Arc::new(self.item(slot, &index, entry)?.xattrs);
        if let Ok(mut kept) = self.xattrs.lock() {
            if kept.len() >= XATTRS_KEPT {
                kept.clear();
            }
            kept.insert(ino, found.clone());
        }
        Ok(found)
    }
}

/// Mount options: read-only, named so stale mounts of Kastell's can be found again.
pub fn config() -> fuser::Config {
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::RO,
        fuser::MountOption::FSName("kastell".to_string()),
        fuser::MountOption::Subtype("kastell".to_string()),
        fuser::MountOption::DefaultPermissions,
    ];
    config.n_threads = Some(4);
    config
}
