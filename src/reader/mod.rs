//! A native, read-only reader of borg 1.x repositories (Qt-free). Reading is Kastell's;
//! writing stays with borg. Every object is authenticated before use (MAC, id, TAMs); anything
//! not understood is `ReadError::Unsupported`, on which callers fall back to the borg process.
//!
//! This first part reads local repositories (`config`, the newest index plus the segments
//! committed after it, keys, every encryption mode and compression borg 1.x makes, the manifest,
//! archive metadata and the item stream, file content by chunk list).

pub mod archive;
pub mod items;
pub mod key;
pub mod listing;
pub mod lock;
pub mod msgpack;
pub mod remote;
pub mod security;
pub mod store;

use std::path::{Path, PathBuf};

pub use archive::{ArchiveRef, Item};
pub use key::{Key, Mode};
pub use security::{SecurityError, Trust};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} is not a borg repository", .0.display())]
    NotARepository(PathBuf),
    /// Something this reader does not handle (borg 2, a new compression or feature): use borg.
    #[error("not readable by Kastell's reader: {0}")]
    Unsupported(String),
    #[error("the repository is damaged: {0}")]
    Corrupt(String),
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, std::io::Error),
    #[error("the repository has no object {0} (removed by a compact or prune?)")]
    MissingObject(String),
    #[error("the passphrase is wrong")]
    WrongPassphrase,
    #[error("the repository is encrypted and no passphrase was given")]
    NoPassphrase,
    #[error("the keyfile of this repository was not found (looked in {0})")]
    KeyfileNotFound(String),
    #[error("there is no archive {0}")]
    NoSuchArchive(String),
    /// The index pointed at data that is gone (a `borg compact` ran since it was loaded).
    #[error("object {0} moved since the index was loaded")]
    Moved(String),
    /// ssh or `borg serve` failed, or the server refused.
    #[error("{0}")]
    Remote(String),
    #[error("the repository is locked by {0}, probably a backup that is running; try again when it has finished")]
    Locked(String),
    /// borg's security record refuses the repository (swapped, rolled back, moved, unknown
    /// and unencrypted).
    #[error(transparent)]
    Refused(#[from] SecurityError),
}

impl ReadError {
    pub fn corrupt(what: impl Into<String>) -> ReadError {
        ReadError::Corrupt(what.into())
    }
}

/// How to open a repository: its passphrase and what borg's security record needs.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    pub passphrase: Option<&'a [u8]>,
    /// Where borg keeps its records and keys, the repository's location and the user's
    /// answers to borg's questions.
    pub trust: &'a Trust,
}

/// An open repository with its unlocked key and its archives.
pub struct Reader {
    store: Box<dyn store::ObjectStore>,
    key: Key,
    archives: Vec<ArchiveRef>,
    trust: Trust,
    /// The newest manifest timestamp this reader has seen: a refresh never goes back.
    timestamp: String,
    logically_encrypted: bool,
}

/// Item chunks fetched and opened together (about 2 MB of metadata).
const ITEM_BATCH: usize = 16;
/// File chunks fetched and opened together (up to about 8 MB of content in flight per batch).
const CONTENT_BATCH: usize = 4;

impl Reader {
    /// Opens the local repository at `path`. borg's shared lock is held only while the index
    /// and the manifest load.
    pub fn open_local(path: &Path, access: &Access) -> Result<Reader, ReadError> {
        // A folder that is no repository gets no lock files.
        store::read_config(path)?;
        let lock = lock::SharedLock::acquire(path, LOCK_WAIT)?;
        let store = store::LocalStore::open(path)?;
        let manifest = store::ObjectStore::get(&store, &[0u8; 32])?;
        // Unlocking the key (PBKDF2) and everything after need no lock: a backup waiting for
        // it should not wait for a key derivation.
        drop(lock);
        Reader::with_manifest(Box::new(store), &manifest, access)
    }

    /// Opens a repository through any store (the caller holds what lock it needs).
    pub fn open(store: Box<dyn store::ObjectStore>, access: &Access) -> Result<Reader, ReadError> {
        let manifest = store.get(&[0u8; 32])?;
        Reader::with_manifest(store, &manifest, access)
    }

    /// The key as borg's `key_factory` finds it, the manifest authenticated, then borg's
    /// `assert_secure` before any archive is trusted.
    fn with_manifest(
        store: Box<dyn store::ObjectStore>,
        manifest: &[u8],
        access: &Access,
    ) -> Result<Reader, ReadError> {
        let type_byte = *manifest
            .first()
            .ok_or_else(|| ReadError::corrupt("an empty manifest"))?;
        let mode = Mode::from_type_byte(type_byte)
            .ok_or_else(|| ReadError::Unsupported(format!("key type 0x{type_byte:02x}")))?;
        let keys_dir = &access.trust.dirs.keys;
        let (mut key, logically_encrypted) = match mode {
            Mode::None => (Key::plaintext(), false),
            Mode::Keyfile | Mode::KeyfileBlake2 => {
                let file = key::find_keyfile(store.repository_id(), keys_dir).ok_or_else(|| {
                    ReadError::KeyfileNotFound(format!("BORG_KEY_FILE, {}", keys_dir.display()))
                })?;
                let text =
                    std::fs::read_to_string(&file).map_err(|e| ReadError::Io(file.clone(), e))?;
                let blob = key::keyfile_blob(&text).ok_or_else(|| {
                    ReadError::corrupt(format!("{} is not a borg keyfile", file.display()))
                })?;
                unlock_with(&blob, access.passphrase, mode)?
            }
            _ => {
                let text = store.repokey()?.ok_or_else(|| {
                    ReadError::corrupt("a repokey repository without a key in its config")
                })?;
                let blob = key::repokey_blob(&text)
                    .ok_or_else(|| ReadError::corrupt("the repository key"))?;
                unlock_with(&blob, access.passphrase, mode)?
            }
        };
        let record = security::Record::new(access.trust, store.repository_id());
        key.tam_required = key
            .tam_required_in_key
            .unwrap_or_else(|| record.tam_required());
        let parsed = archive::parse_manifest(&key, manifest)?;
        let mut reader = Reader {
            store,
            key,
            archives: Vec::new(),
            trust: access.trust.clone(),
            timestamp: String::new(),
            logically_encrypted,
        };
        match reader.accept(parsed) {
            // borg checks under its lock; this reader let go of it before the check, so a
            // backup may have committed (and moved the record forward) in between. The
            // repository as it is now decides: a real rollback is still older.
            Err(ReadError::Refused(
                SecurityError::Replayed { .. } | SecurityError::IdNotUnique { .. },
            )) => reader.refresh()?,
            other => other?,
        }
        Ok(reader)
    }

    /// borg's checks of a newly read manifest, then its archives are used.
    fn accept(&mut self, manifest: archive::Manifest) -> Result<(), ReadError> {
        if manifest.timestamp < self.timestamp {
            return Err(SecurityError::Replayed {
                seen: self.timestamp.clone(),
                repository: manifest.timestamp,
            }
            .into());
        }
        security::assert_secure(
            &self.trust,
            self.store.repository_id(),
            &security::Observed {
                mode: self.key.mode,
                logically_encrypted: self.logically_encrypted,
                manifest_timestamp: &manifest.timestamp,
            },
        )?;
        if manifest.tam_verified {
            // borg keeps the marker in step with what a verified manifest says.
            security::Record::new(&self.trust, self.store.repository_id())
                .set_tam_required(manifest.tam_required)?;
        }
        self.timestamp = manifest.timestamp;
        self.archives = manifest.archives;
        Ok(())
    }

    pub fn mode(&self) -> Mode {
        self.key.mode
    }

    /// The id borg gives a chunk of plaintext `data` (a keyed MAC): what a restored file's
    /// content is checked against.
    pub fn id_hash(&self, data: &[u8]) -> [u8; 32] {
        self.key.id_hash(data)
    }

    /// The repository's id (indexes are kept under it).
    pub fn repository_id(&self) -> &[u8] {
        self.store.repository_id()
    }

    /// Loads the index and the manifest again (new archives, a compact), under borg's lock.
    pub fn refresh(&mut self) -> Result<(), ReadError> {
        let lock = self.store.lock_for_loading()?;
        self.store.reload()?;
        let manifest = self.store.get(&[0u8; 32])?;
        let parsed = archive::parse_manifest(&self.key, &manifest)?;
        let accepted = self.accept(parsed);
        drop(lock);
        accepted
    }

    /// Archives, oldest first.
    pub fn archives(&self) -> &[ArchiveRef] {
        &self.archives
    }

    /// An archive by name, or the newest for `latest` (as borgmatic's `--archive latest`).
    pub fn archive(&self, name: &str) -> Result<ArchiveRef, ReadError> {
        let found = if name == "latest" {
            self.archives.last()
        } else {
            self.archives.iter().find(|a| a.name == name)
        };
        found
            .cloned()
            .ok_or_else(|| ReadError::NoSuchArchive(name.to_string()))
    }

    /// One object, opened and checked; a location a compact made stale is looked up again
    /// in a reloaded index.
    pub(crate) fn object(&self, id: &[u8; 32], size: Option<usize>) -> Result<Vec<u8>, ReadError> {
        let envelope = match self.store.get(id) {
            Err(ReadError::Moved(_)) => {
                let lock = self.store.lock_for_loading()?;
                self.store.reload()?;
                drop(lock);
                self.store.get(id).map_err(still_moved)?
            }
            other => other?,
        };
        self.key.open_checked(id, &envelope, size)
    }

    /// Objects in order, fetched and opened `batch` at a time on every core while `each`
    /// consumes the previous batch; `each` returns false to stop.
    pub(crate) fn objects(
        &self,
        ids: &[([u8; 32], Option<usize>)],
        batch: usize,
        each: &mut dyn FnMut(Vec<u8>) -> Result<bool, ReadError>,
    ) -> Result<(), ReadError> {
        use rayon::prelude::*;
        let (sender, receiver) =
            std::sync::mpsc::sync_channel::<Vec<Result<Vec<u8>, ReadError>>>(1);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                for group in ids.chunks(batch.max(1)) {
                    let wanted: Vec<[u8; 32]> = group.iter().map(|(id, _)| *id).collect();
                    let envelopes = self.store.get_many(&wanted);
                    let opened: Vec<Result<Vec<u8>, ReadError>> = envelopes
                        .into_par_iter()
                        .zip(group.par_iter())
                        .map(|(envelope, (id, size))| match envelope {
                            Err(ReadError::Moved(_)) => self.object(id, *size),
                            other => self.key.open_checked(id, &other?, *size),
                        })
                        .collect();
                    let failed = opened.iter().any(Result::is_err);
                    if sender.send(opened).is_err() || failed {
                        return;
                    }
                }
            });
            for opened in receiver {
                for object in opened {
                    if !each(object?)? {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }

    /// Every item of `archive`, in order, decoded as one stream across its chunks; `each`
    /// gets a borrowed item (copy what you keep) and returns false to stop.
    pub fn for_each_item(
        &self,
        archive: &ArchiveRef,
        mut each: impl FnMut(&Item) -> bool,
    ) -> Result<(), ReadError> {
        self.for_each_item_at(archive, |item, _| each(item))
    }

    /// The item-stream chunk ids of `archive` (its metadata object, authenticated).
    pub fn item_chunks(&self, archive: &ArchiveRef) -> Result<Vec<[u8; 32]>, ReadError> {
        archive::load_archive(self, archive)
    }

    /// One item again, from where `for_each_item_at` said it begins (`item_chunks` of its
    /// archive). Reads one item chunk, or two when the item continues into the next.
    pub fn item_at(&self, item_chunks: &[[u8; 32]], at: items::ItemAt) -> Result<Item, ReadError> {
        ItemLookup::new(self, item_chunks).item(at)
    }

    /// `for_each_item` that also says where each item begins (for `item_at`).
    pub fn for_each_item_at(
        &self,
        archive: &ArchiveRef,
        mut each: impl FnMut(&Item, items::ItemAt) -> bool,
    ) -> Result<(), ReadError> {
        let chunk_ids = archive::load_archive(self, archive)?;
        let ids: Vec<([u8; 32], Option<usize>)> =
            chunk_ids.into_iter().map(|id| (id, None)).collect();
        let mut decoder = items::ItemDecoder::default();
        let mut item = Item::default();
        let mut stopped = false;
        let bad = |e: msgpack::DecodeError| {
            ReadError::corrupt(format!("archive {}: item metadata: {e}", archive.name))
        };
        self.objects(&ids, ITEM_BATCH, &mut |piece| {
            decoder.feed(&piece);
            while decoder.next_into(&mut item).map_err(bad)? {
                if !each(&item, decoder.last_position()) {
                    stopped = true;
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        if !stopped && decoder.leftover() != 0 {
            return Err(ReadError::corrupt(format!(
                "archive {}: the item metadata is cut short",
                archive.name
            )));
        }
        Ok(())
    }

    /// Writes a file item's content to `out`, every chunk verified.
    pub fn read_file(&self, item: &Item, out: &mut dyn std::io::Write) -> Result<(), ReadError> {
        let ids: Vec<([u8; 32], Option<usize>)> = item
            .chunks
            .iter()
            .map(|(id, size)| (*id, usize::try_from(*size).ok()))
            .collect();
        self.objects(&ids, CONTENT_BATCH, &mut |data| {
            out.write_all(&data)
                .map_err(|e| ReadError::Io(PathBuf::from("<output>"), e))?;
            Ok(true)
        })
    }
}

/// Items looked up by position one after another (a restore, a folder's files): the last few
/// item chunks stay opened, so neighbours cost no second read and decryption.
pub struct ItemLookup<'r> {
    reader: &'r Reader,
    chunks: &'r [[u8; 32]],
    recent: std::collections::VecDeque<(usize, std::sync::Arc<Vec<u8>>)>,
}

/// Item chunks an `ItemLookup` keeps opened (about 128 KiB each).
const RECENT_ITEM_CHUNKS: usize = 4;

impl<'r> ItemLookup<'r> {
    pub fn new(reader: &'r Reader, chunks: &'r [[u8; 32]]) -> ItemLookup<'r> {
        ItemLookup {
            reader,
            chunks,
            recent: std::collections::VecDeque::new(),
        }
    }

    fn chunk(&mut self, n: usize) -> Result<std::sync::Arc<Vec<u8>>, ReadError> {
        if let Some((_, found)) = self.recent.iter().find(|(i, _)| *i == n) {
            return Ok(found.clone());
        }
        let id = self
            .chunks
            .get(n)
            .ok_or_else(|| ReadError::corrupt("an item position past the archive's end"))?;
        let opened = std::sync::Arc::new(self.reader.object(id, None)?);
        if self.recent.len() == RECENT_ITEM_CHUNKS {
            self.recent.pop_front();
        }
        self.recent.push_back((n, opened.clone()));
        Ok(opened)
    }

    /// The item that begins at `at`.
    pub fn item(&mut self, at: items::ItemAt) -> Result<Item, ReadError> {
        let mut decoder = items::ItemDecoder::default();
        let mut item = Item::default();
        let mut n = at.chunk as usize;
        let mut skip = at.offset as usize;
        loop {
            let piece = self.chunk(n)?;
            decoder.feed(piece.get(skip..).unwrap_or_default());
            skip = 0;
            if decoder
                .next_into(&mut item)
                .map_err(|e| ReadError::corrupt(format!("item metadata: {e}")))?
            {
                return Ok(item);
            }
            n += 1;
        }
    }
}

/// How long opening waits for a writer's lock before saying who holds it.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn still_moved(e: ReadError) -> ReadError {
    match e {
        ReadError::Moved(id) => ReadError::corrupt(format!(
            "the index points at object {id}, but the segment holds something else there (run borg check)"
        )),
        other => other,
    }
}

/// The unlocked key, and whether it is encrypted in earnest (borg's `logically_encrypted`:
/// an empty passphrase, which borg tries first, protects nothing; authenticated modes never are).
fn unlock_with(
    blob: &[u8],
    passphrase: Option<&[u8]>,
    mode: Mode,
) -> Result<(Key, bool), ReadError> {
    let secret = !matches!(mode, Mode::Authenticated | Mode::AuthenticatedBlake2);
    if let Some(key) = key::unlock(blob, b"", mode)? {
        return Ok((key, false));
    }
    let passphrase = passphrase.ok_or(ReadError::NoPassphrase)?;
    let key = key::unlock(blob, passphrase, mode)?.ok_or(ReadError::WrongPassphrase)?;
    Ok((key, secret))
}
