//! A local borg 1.x repository on disk: `config`, the newest `index.N`, and segment entries
//! read by id. Read-only; the shared lock is taken by the caller while it loads.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use super::ReadError;

/// What `config` says.
#[derive(Debug, Clone)]
pub struct RepoConfig {
    pub id: Vec<u8>,
    pub segments_per_dir: u64,
    /// The repokey blob (base64 text), when the key lives in the repository.
    pub key: Option<String>,
}

/// Where one object is: segment number and offset of its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub segment: u32,
    pub offset: u32,
}

/// borg's `index.N`, mapped and searched in place as borg's `_hashindex.c` does (bucket
/// `le32(id[0..4]) % buckets`, linear probing): nothing is copied, so opening a repository of
/// a million chunks costs no time and only the pages touched count as memory. Segments
/// committed after the index are replayed into `newer`.
#[derive(Default)]
pub struct ChunkIndex {
    map: Option<memmap2::Mmap>,
    buckets: usize,
    /// Replayed entries: `None` is a deletion.
    newer: HashMap<[u8; 32], Option<Location>>,
}

const INDEX_HEADER: usize = 18;
const BUCKET: usize = 40;
const EMPTY: u32 = 0xffff_ffff;
const DELETED: u32 = 0xffff_fffe;

impl ChunkIndex {
    fn open(file: &Path) -> Result<ChunkIndex, ReadError> {
        let handle = File::open(file).map_err(|e| ReadError::Io(file.to_path_buf(), e))?;
        // SAFETY: borg never rewrites an index file in place (it writes index.tmp, renames
        // it to a new name and deletes the old one); a deleted file stays mapped intact.
        let map = unsafe { memmap2::Mmap::map(&handle) }
            .map_err(|e| ReadError::Io(file.to_path_buf(), e))?;
        if map.len() < INDEX_HEADER || &map[..8] != b"BORG_IDX" {
            return Err(ReadError::corrupt(format!(
                "{} is not a borg index",
                file.display()
            )));
        }
        let buckets = le32(&map[12..16]) as usize;
        let (key_size, value_size) = (map[16] as usize, map[17] as usize);
        if key_size != 32 || value_size != 8 || map.len() < INDEX_HEADER + buckets * BUCKET {
            return Err(ReadError::corrupt(format!(
                "{} has an unexpected layout",
                file.display()
            )));
        }
        Ok(ChunkIndex {
            map: Some(map),
            buckets,
            newer: HashMap::new(),
        })
    }

    fn is_empty(&self) -> bool {
        self.buckets == 0 && self.newer.is_empty()
    }

    fn lookup(&self, id: &[u8; 32]) -> Option<Location> {
        if let Some(replayed) = self.newer.get(id) {
            return *replayed;
        }
        let map = self.map.as_ref()?;
        if self.buckets == 0 {
            return None;
        }
        let start = le32(id) as usize % self.buckets;
        let mut at = start;
        loop {
            let bucket = &map[INDEX_HEADER + at * BUCKET..INDEX_HEADER + (at + 1) * BUCKET];
            let segment = le32(&bucket[32..36]);
            if segment == EMPTY {
                return None;
            }
            if segment != DELETED && &bucket[..32] == id {
                return Some(Location {
                    segment,
                    offset: le32(&bucket[36..40]),
                });
            }
            at = (at + 1) % self.buckets;
            if at == start {
                return None;
            }
        }
    }
}

/// The index in use and the transaction (last committed segment) it stands for.
struct IndexState {
    index: ChunkIndex,
    transaction: u32,
}

pub struct LocalStore {
    pub path: PathBuf,
    pub config: RepoConfig,
    /// Replaced as a whole when a compact moved objects (see `reload`).
    state: RwLock<IndexState>,
}

/// Where objects come from: a local repository or `borg serve`. Every object is raw (still
/// encrypted); the key opens it.
pub trait ObjectStore: Send + Sync {
    /// The repository id (from `config`, or `open`'s answer).
    fn repository_id(&self) -> &[u8];
    /// The repokey blob text, when the key lives in the repository.
    fn repokey(&self) -> Result<Option<String>, ReadError>;
    /// The raw envelope stored under `id`. `ReadError::Moved` means the index pointed at data
    /// that is gone (a compact ran since it was loaded): `reload` and ask again.
    fn get(&self, id: &[u8; 32]) -> Result<Vec<u8>, ReadError>;
    /// Several envelopes, in order: locally in parallel, remotely pipelined.
    fn get_many(&self, ids: &[[u8; 32]]) -> Vec<Result<Vec<u8>, ReadError>> {
        use rayon::prelude::*;
        ids.par_iter().map(|id| self.get(id)).collect()
    }
    /// Loads the newest index again (under `lock_for_loading`, which the caller takes).
    fn reload(&self) -> Result<(), ReadError>;
    /// Takes borg's shared lock for a moment of loading, when the store can (a local one).
    fn lock_for_loading(&self) -> Result<Option<super::lock::SharedLock>, ReadError> {
        Ok(None)
    }
}

const TAG_PUT: u8 = 0;
const TAG_DELETE: u8 = 1;
const TAG_COMMIT: u8 = 2;
const SEGMENT_MAGIC: &[u8] = b"BORG_SEG";
const HEADER: usize = 4 + 4 + 1;

/// Hex text to bytes (None for an odd length or a non-hex digit).
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// borg's INI `config` (`[repository]` section; `key` continues over indented lines).
pub fn read_config(path: &Path) -> Result<RepoConfig, ReadError> {
    let text = std::fs::read_to_string(path.join("config")).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotARepository(path.to_path_buf())
        } else {
            ReadError::Io(path.join("config"), e)
        }
    })?;
    let mut values: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    let mut in_repository = false;
    for line in text.lines() {
        if line.starts_with('[') {
            in_repository = line.trim() == "[repository]";
            last = None;
            continue;
        }
        if !in_repository || line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(key) = &last {
                if let Some(v) = values.get_mut(key) {
                    v.push_str(line.trim());
                }
            }
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim().to_string();
            values.insert(k.clone(), v.trim().to_string());
            last = Some(k);
        }
    }
    match values.get("version").map(String::as_str) {
        Some("1") => {}
        Some(other) => {
            return Err(ReadError::Unsupported(format!(
                "repository version {other} (borg 2?)"
            )))
        }
        None => return Err(ReadError::NotARepository(path.to_path_buf())),
    }
    let id = values
        .get("id")
        .and_then(|h| parse_hex(h))
        .filter(|id| id.len() == 32)
        .ok_or_else(|| ReadError::corrupt("a repository config without a valid id"))?;
    let segments_per_dir = values
        .get("segments_per_dir")
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1000);
    Ok(RepoConfig {
        id,
        segments_per_dir,
        key: values.get("key").cloned().filter(|k| !k.is_empty()),
    })
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Segment numbers present on disk, ascending.
fn segments_on_disk(path: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(path.join("data")) else {
        return out;
    };
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in files.flatten() {
            if let Some(n) = f.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                out.push(n);
            }
        }
    }
    out.sort_unstable();
    out
}

impl LocalStore {
    pub fn open(path: &Path) -> Result<LocalStore, ReadError> {
        let config = read_config(path)?;
        let state = load_state(path, config.segments_per_dir)?;
        Ok(LocalStore {
            path: path.to_path_buf(),
            config,
            state: RwLock::new(state),
        })
    }

    /// The transaction the loaded index stands for.
    pub fn transaction(&self) -> u32 {
        self.state.read().map_or(0, |s| s.transaction)
    }

    fn segment_path(&self, segment: u32) -> PathBuf {
        segment_path(&self.path, self.config.segments_per_dir, segment)
    }

    fn lookup(&self, id: &[u8; 32]) -> Option<Location> {
        let state = self
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.index.lookup(id)
    }
}

fn segment_path(repo: &Path, segments_per_dir: u64, segment: u32) -> PathBuf {
    let dir = u64::from(segment) / segments_per_dir;
    repo.join("data")
        .join(dir.to_string())
        .join(segment.to_string())
}

/// The newest `index.N`, plus the segments committed after it.
fn load_state(path: &Path, segments_per_dir: u64) -> Result<IndexState, ReadError> {
    let mut newest_index: Option<u32> = None;
    for entry in std::fs::read_dir(path).map_err(|e| ReadError::Io(path.to_path_buf(), e))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|s| s.strip_prefix("index."))
            .and_then(|s| s.parse::<u32>().ok())
        {
            newest_index = Some(newest_index.map_or(n, |m| m.max(n)));
        }
    }
    let mut state = IndexState {
        index: ChunkIndex::default(),
        transaction: 0,
    };
    if let Some(n) = newest_index {
        // borg may have just replaced this index by a newer one: look again once.
        let file = path.join(format!("index.{n}"));
        state.index = match ChunkIndex::open(&file) {
            Err(ReadError::Io(_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return load_state_again(path, segments_per_dir)
            }
            other => other?,
        };
        state.transaction = n;
    }
    replay_newer_segments(path, segments_per_dir, &mut state)?;
    Ok(state)
}

fn load_state_again(path: &Path, segments_per_dir: u64) -> Result<IndexState, ReadError> {
    std::thread::sleep(std::time::Duration::from_millis(50));
    load_state(path, segments_per_dir)
}

/// Segments committed after the index was written (borg replays these too).
fn replay_newer_segments(
    path: &Path,
    segments_per_dir: u64,
    state: &mut IndexState,
) -> Result<(), ReadError> {
    let newer: Vec<u32> = segments_on_disk(path)
        .into_iter()
        .filter(|s| *s > state.transaction || state.index.is_empty() && state.transaction == 0)
        .collect();
    // A transaction can span segments: its entries count from its COMMIT on.
    let mut pending: Vec<([u8; 32], Option<Location>)> = Vec::new();
    for segment in newer {
        let file = segment_path(path, segments_per_dir, segment);
        let data = std::fs::read(&file).map_err(|e| ReadError::Io(file.clone(), e))?;
        if !data.starts_with(SEGMENT_MAGIC) {
            continue;
        }
        let mut pos = SEGMENT_MAGIC.len();
        while pos + HEADER <= data.len() {
            let size = le32(&data[pos + 4..pos + 8]) as usize;
            if size < HEADER || pos + size > data.len() {
                break;
            }
            let tag = data[pos + 8];
            if crc32fast::hash(&data[pos + 4..pos + size]) != le32(&data[pos..pos + 4]) {
                break;
            }
            match tag {
                TAG_PUT | TAG_DELETE if size >= HEADER + 32 => {
                    let mut id = [0u8; 32];
                    id.copy_from_slice(&data[pos + HEADER..pos + HEADER + 32]);
                    let location = (tag == TAG_PUT).then_some(Location {
                        segment,
                        offset: pos as u32,
                    });
                    pending.push((id, location));
                }
                TAG_COMMIT => {
                    for (id, location) in pending.drain(..) {
                        state.index.newer.insert(id, location);
                    }
                    state.transaction = segment;
                }
                _ => {}
            }
            pos += size;
        }
    }
    // Entries after the last commit are an interrupted transaction: ignored.
    Ok(())
}

impl LocalStore {
    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.lookup(id).is_some()
    }

    /// The raw envelope stored under `id`.
    fn get_local(&self, id: &[u8; 32]) -> Result<Vec<u8>, ReadError> {
        let location = self
            .lookup(id)
            .ok_or_else(|| ReadError::MissingObject(super::key::hex(id)))?;
        let path = self.segment_path(location.segment);
        let file = File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReadError::Moved(super::key::hex(id))
            } else {
                ReadError::Io(path.clone(), e)
            }
        })?;
        let mut header = [0u8; HEADER + 32];
        let cut_short = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                ReadError::corrupt(format!(
                    "segment {} is cut short before offset {}",
                    location.segment, location.offset
                ))
            } else {
                ReadError::Io(path.clone(), e)
            }
        };
        file.read_exact_at(&mut header, u64::from(location.offset))
            .map_err(cut_short)?;
        let size = le32(&header[4..8]) as usize;
        if header[8] != TAG_PUT || !(HEADER + 32..=super::key::MAX_OBJECT + 4096).contains(&size) {
            return Err(ReadError::Moved(super::key::hex(id)));
        }
        if &header[HEADER..] != id {
            // A compact rewrote this place since the index was loaded.
            return Err(ReadError::Moved(super::key::hex(id)));
        }
        let mut entry = vec![0u8; size];
        file.read_exact_at(&mut entry, u64::from(location.offset))
            .map_err(cut_short)?;
        if crc32fast::hash(&entry[4..]) != le32(&entry[..4]) {
            return Err(ReadError::corrupt(format!(
                "segment {} offset {}: checksum mismatch",
                location.segment, location.offset
            )));
        }
        Ok(entry[HEADER + 32..].to_vec())
    }
}

impl ObjectStore for LocalStore {
    fn repository_id(&self) -> &[u8] {
        &self.config.id
    }

    fn repokey(&self) -> Result<Option<String>, ReadError> {
        Ok(self.config.key.clone())
    }

    fn get(&self, id: &[u8; 32]) -> Result<Vec<u8>, ReadError> {
        self.get_local(id)
    }

    fn reload(&self) -> Result<(), ReadError> {
        let state = load_state(&self.path, self.config.segments_per_dir)?;
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = state;
        Ok(())
    }

    fn lock_for_loading(&self) -> Result<Option<super::lock::SharedLock>, ReadError> {
        super::lock::SharedLock::acquire(&self.path, LOCK_WAIT).map(Some)
    }
}

/// How long opening waits for a writer's lock before saying who holds it (borg's default
/// `--lock-wait` is 1 s; a backup's commit is short, a backup itself is not).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
