//! A local borg 1.x repository on disk: `config`, the newest `index.N`, and segment entries
//! read by id. Read-only; the shared lock is taken by the caller while it loads.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

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

pub struct LocalStore {
    pub path: PathBuf,
    pub config: RepoConfig,
    index: HashMap<[u8; 32], Location>,
    /// The transaction the index belongs to.
    pub transaction: u32,
}

const TAG_PUT: u8 = 0;
const TAG_DELETE: u8 = 1;
const TAG_COMMIT: u8 = 2;
const SEGMENT_MAGIC: &[u8] = b"BORG_SEG";
const HEADER: usize = 4 + 4 + 1;

fn parse_hex(s: &str) -> Option<Vec<u8>> {
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
        let mut store = LocalStore {
            path: path.to_path_buf(),
            config,
            index: HashMap::new(),
            transaction: 0,
        };
        if let Some(n) = newest_index {
            store.load_index(n)?;
        }
        store.replay_newer_segments()?;
        Ok(store)
    }

    fn segment_path(&self, segment: u32) -> PathBuf {
        let dir = u64::from(segment) / self.config.segments_per_dir;
        self.path
            .join("data")
            .join(dir.to_string())
            .join(segment.to_string())
    }

    fn load_index(&mut self, n: u32) -> Result<(), ReadError> {
        let file = self.path.join(format!("index.{n}"));
        let data = std::fs::read(&file).map_err(|e| ReadError::Io(file.clone(), e))?;
        if data.len() < 18 || &data[..8] != b"BORG_IDX" {
            return Err(ReadError::corrupt(format!(
                "{} is not a borg index",
                file.display()
            )));
        }
        let buckets = le32(&data[12..16]) as usize;
        let (key_size, value_size) = (data[16] as usize, data[17] as usize);
        if key_size != 32 || value_size != 8 || data.len() < 18 + buckets * 40 {
            return Err(ReadError::corrupt(format!(
                "{} has an unexpected layout",
                file.display()
            )));
        }
        let mut index = HashMap::with_capacity(le32(&data[8..12]) as usize);
        for bucket in data[18..18 + buckets * 40].chunks_exact(40) {
            let segment = le32(&bucket[32..36]);
            if segment >= 0xffff_fffe {
                continue; // empty or deleted
            }
            let mut key = [0u8; 32];
            key.copy_from_slice(&bucket[..32]);
            index.insert(
                key,
                Location {
                    segment,
                    offset: le32(&bucket[36..40]),
                },
            );
        }
        self.index = index;
        self.transaction = n;
        Ok(())
    }

    /// Segments committed after the index was written (borg replays these too).
    fn replay_newer_segments(&mut self) -> Result<(), ReadError> {
        let newer: Vec<u32> = segments_on_disk(&self.path)
            .into_iter()
            .filter(|s| *s > self.transaction || self.index.is_empty() && self.transaction == 0)
            .collect();
        // A transaction can span segments: its entries count from its COMMIT on.
        let mut pending: Vec<([u8; 32], Option<Location>)> = Vec::new();
        for segment in newer {
            let data = std::fs::read(self.segment_path(segment))
                .map_err(|e| ReadError::Io(self.segment_path(segment), e))?;
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
                            match location {
                                Some(l) => {
                                    self.index.insert(id, l);
                                }
                                None => {
                                    self.index.remove(&id);
                                }
                            }
                        }
                        self.transaction = segment;
                    }
                    _ => {}
                }
                pos += size;
            }
        }
        // Entries after the last commit are an interrupted transaction: ignored.
        Ok(())
    }

    pub fn contains(&self, id: &[u8; 32]) -> bool {
        self.index.contains_key(id)
    }

    /// The raw envelope stored under `id`.
    pub fn get(&self, id: &[u8; 32]) -> Result<Vec<u8>, ReadError> {
        let location = *self
            .index
            .get(id)
            .ok_or_else(|| ReadError::MissingObject(super::key::hex(id)))?;
        let path = self.segment_path(location.segment);
        let file = File::open(&path).map_err(|e| ReadError::Io(path.clone(), e))?;
        let mut header = [0u8; HEADER + 32];
        file.read_exact_at(&mut header, u64::from(location.offset))
            .map_err(|e| ReadError::Io(path.clone(), e))?;
        let size = le32(&header[4..8]) as usize;
        if header[8] != TAG_PUT || !(HEADER + 32..=super::key::MAX_OBJECT + 4096).contains(&size) {
            return Err(ReadError::corrupt(format!(
                "segment {} offset {}: not an object entry",
                location.segment, location.offset
            )));
        }
        if &header[HEADER..] != id {
            return Err(ReadError::corrupt(format!(
                "segment {} offset {}: another object than the index says",
                location.segment, location.offset
            )));
        }
        let mut entry = vec![0u8; size];
        file.read_exact_at(&mut entry, u64::from(location.offset))
            .map_err(|e| ReadError::Io(path.clone(), e))?;
        if crc32fast::hash(&entry[4..]) != le32(&entry[..4]) {
            return Err(ReadError::corrupt(format!(
                "segment {} offset {}: checksum mismatch",
                location.segment, location.offset
            )));
        }
        Ok(entry[HEADER + 32..].to_vec())
    }
}
