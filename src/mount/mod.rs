//! Mounting archives with FUSE (`fuser`, pure-Rust mount): the tree comes from the archive
//! index, file content from the native reader by chunk list, with a bounded cache of opened
//! chunks. Read-only (every write is EROFS); no repository lock is held while mounted, so a
//! scheduled backup never waits for a mount.
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

use crate::browse::Session;
use crate::events::{Event, EventSink, MountEvent};
use crate::index::ArchiveIndex;
use crate::repo::ArchiveRef;

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
    cache: Arc<Mutex<ChunkCache>>,
    /// Where indexing progress and read failures are reported (the window), besides stderr.
    events: Option<Arc<dyn EventSink>>,
    /// Repositories served by a private borg mount (whole-config layout only).
    grafts: Option<graft::Grafts>,
    grafted_files: Mutex<HashMap<u64, Arc<std::fs::File>>>,
}

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

fn file_type(mode: u32) -> FileType {
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
                if *entry == 0 {
                    // The archive's made-up top level: the archive's own time.
                    return Ok(self.dir_attr(ino, self.mounted_at));
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
                        2
                    } else {
                        nlink
                    },
                    uid: owner.uid,
                    gid: owner.gid,
                    rdev: 0,
                    flags: 0,
                    blksize: 4096,
                })
            }
        }
    }

    fn chunk(&self, group: usize, id: &[u8; 32], size: u64) -> Result<Arc<Vec<u8>>, Errno> {
        // Being fetched ahead: wait for it rather than fetch it a second time.
        for _ in 0..2000 {
            let Ok(cache) = self.cache.lock() else {
                break;
            };
            if let Some(found) = cache.get(id) {
                return Ok(found);
            }
            if !cache.ahead.contains(id) {
                break;
            }
            drop(cache);
            std::thread::sleep(Duration::from_micros(500));
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
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(*id, data.clone());
        }
        Ok(data)
    }

    /// Fetches the chunks after `i` of `file` in the background (on rayon's threads), so a
    /// sequential reader finds them opened: decryption and decompression overlap its reads.
    fn read_ahead(&self, file: &OpenFile, i: usize) {
        const AHEAD: usize = 2;
        for (id, size) in file.chunks.iter().skip(i + 1).take(AHEAD) {
            let Ok(mut cache) = self.cache.lock() else {
                return;
            };
            if cache.chunks.contains_key(id) || !cache.ahead.insert(*id) {
                continue;
            }
            drop(cache);
            let (id, size) = (*id, *size);
            let session = self.groups[file.group].session.clone();
            let cache = self.cache.clone();
            rayon::spawn(move || {
                let fetched = session.reader.object(&id, usize::try_from(size).ok());
                if let Ok(mut cache) = cache.lock() {
                    cache.ahead.remove(&id);
                    if let Ok(data) = fetched {
                        cache.put(id, Arc::new(data));
                    }
                }
            });
        }
    }
}

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
            let archive = &self.slots[slot].archive;
            let group = self.slots[slot].group;
            let item = self.groups[group]
                .session
                .item(archive, &index, entry)
                .map_err(|_| Errno::EIO)?;
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

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let mut entries: Vec<(u64, FileType, Vec<u8>)> = vec![
            (ino.0, FileType::Directory, b".".to_vec()),
            (1, FileType::Directory, b"..".to_vec()),
        ];
        let grafted = self.graft_of(ino.0).map(|grafts| grafts.readdir(ino.0));
        match self.resolve(ino.0) {
            _ if grafted.is_some() => match grafted {
                Some(Ok(found)) => entries.extend(found),
                Some(Err(errno)) => return reply.error(errno),
                None => {}
            },
            Some(Node::Top) => {
                if let Some(grafts) = &self.grafts {
                    entries.extend(grafts.top_entries());
                }
                for (g, group) in self.groups.iter().enumerate() {
                    entries.push((
                        self.repository_ino(g),
                        FileType::Directory,
                        group.label.as_bytes().to_vec(),
                    ));
                }
            }
            Some(Node::Repository(g)) => {
                if self.newest(g).is_some() {
                    entries.push((2 + 2 * g as u64, FileType::Symlink, b"latest".to_vec()));
                }
                for slot in self.groups[g].slots.clone() {
                    entries.push((
                        ino_of(slot, 0),
                        FileType::Directory,
                        self.slots[slot].archive.name.as_bytes().to_vec(),
                    ));
                }
            }
            Some(Node::Entry(slot, entry)) => {
                let index = match self.index(slot) {
                    Ok(i) => i,
                    Err(errno) => return reply.error(errno),
                };
                let e = index.entry(entry);
                if !e.is_dir() {
                    return reply.error(Errno::ENOTDIR);
                }
                for c in e.children() {
                    entries.push((
                        self.ino(slot, c),
                        file_type(index.entry(c).mode),
                        index.name(c).to_vec(),
                    ));
                }
            }
            _ => return reply.error(Errno::ENOENT),
        }
        for (i, (child, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(
                INodeNo(*child),
                (i + 1) as u64,
                *kind,
                OsStr::from_bytes(name),
            ) {
                break;
            }
        }
        reply.ok();
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

mod graft;
pub mod manager;

/// One line of /proc/self/mountinfo: where, what type, from what source.
#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    pub point: std::path::PathBuf,
    pub kind: String,
    pub source: String,
}

impl MountEntry {
    /// One of Kastell's FUSE mounts (type `fuse` or `fuse.kastell`, source `kastell`).
    pub fn is_kastell(&self) -> bool {
        (self.kind == "fuse" || self.kind == "fuse.kastell") && self.source == "kastell"
    }
}

/// The mounts of a mountinfo text.
pub fn mount_table(mountinfo: &str) -> Vec<MountEntry> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut fs = after.split(' ');
            let (kind, source) = (fs.next()?, fs.next()?);
            Some(MountEntry {
                point: std::path::PathBuf::from(unescape_mountinfo(before.split(' ').nth(4)?)),
                kind: kind.to_string(),
                source: source.to_string(),
            })
        })
        .collect()
}

/// Mount points of Kastell's FUSE mounts in a mountinfo text.
pub fn kastell_mounts(mountinfo: &str) -> Vec<std::path::PathBuf> {
    mount_table(mountinfo)
        .into_iter()
        .filter(MountEntry::is_kastell)
        .map(|m| m.point)
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(v) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts `mountpoint` (fusermount3, or umount(2) as root); `lazy` also detaches a stale or
/// busy mount.
pub fn unmount(mountpoint: &std::path::Path, lazy: bool) -> Result<(), String> {
    let mut command = std::process::Command::new("fusermount3");
    command.arg(if lazy { "-uz" } else { "-u" }).arg(mountpoint);
    match command.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if why.contains("busy") {
                Err(format!(
                    "{} is busy: a program (a shell, a file manager) is using it; close it and try again",
                    mountpoint.display()
                ))
            } else {
                Err(why)
            }
        }
        Err(e) => Err(format!("fusermount3: {e}")),
    }
}
