//! A native, read-only reader of borg 1.x repositories (Qt-free). Reading is Kastell's;
//! writing stays with borg. Every object is authenticated before use (MAC, id, TAMs); anything
//! not understood is `ReadError::Unsupported`, on which callers fall back to the borg process.
//!
//! This first part reads local repositories (`config`, the newest index plus the segments
//! committed after it, keys, every encryption mode and compression borg 1.x makes, the manifest,
//! archive metadata and the item stream, file content by chunk list).

pub mod archive;
pub mod key;
pub mod listing;
pub mod msgpack;
pub mod store;

use std::path::{Path, PathBuf};

pub use archive::{ArchiveRef, Item};
pub use key::{Key, Mode};

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
}

impl ReadError {
    pub fn corrupt(what: impl Into<String>) -> ReadError {
        ReadError::Corrupt(what.into())
    }
}

/// An open local repository with its unlocked key.
pub struct Reader {
    store: store::LocalStore,
    key: Key,
}

impl Reader {
    /// Opens the repository at `path`. `passphrase` unlocks an encrypted key; `keys_dir` is
    /// borgmatic's `borg_keys_directory`, if set.
    pub fn open_local(
        path: &Path,
        passphrase: Option<&[u8]>,
        keys_dir: Option<&Path>,
    ) -> Result<Reader, ReadError> {
        let store = store::LocalStore::open(path)?;
        let manifest = store.get(&[0u8; 32])?;
        let type_byte = *manifest
            .first()
            .ok_or_else(|| ReadError::corrupt("an empty manifest"))?;
        let mode = Mode::from_type_byte(type_byte)
            .ok_or_else(|| ReadError::Unsupported(format!("key type 0x{type_byte:02x}")))?;
        let key = match mode {
            Mode::None => Key::plaintext(),
            Mode::Keyfile | Mode::KeyfileBlake2 => {
                let file = key::find_keyfile(&store.config.id, keys_dir).ok_or_else(|| {
                    ReadError::KeyfileNotFound(
                        keys_dir
                            .map(|d| d.display().to_string())
                            .unwrap_or_else(|| {
                                "BORG_KEY_FILE, BORG_KEYS_DIR, ~/.config/borg/keys".into()
                            }),
                    )
                })?;
                let text =
                    std::fs::read_to_string(&file).map_err(|e| ReadError::Io(file.clone(), e))?;
                let blob = key::keyfile_blob(&text).ok_or_else(|| {
                    ReadError::corrupt(format!("{} is not a borg keyfile", file.display()))
                })?;
                unlock_with(&blob, passphrase, mode)?
            }
            _ => {
                let text = store.config.key.as_deref().ok_or_else(|| {
                    ReadError::corrupt("a repokey repository without a key in its config")
                })?;
                let blob = key::repokey_blob(text)
                    .ok_or_else(|| ReadError::corrupt("the repository key"))?;
                unlock_with(&blob, passphrase, mode)?
            }
        };
        Ok(Reader { store, key })
    }

    pub fn mode(&self) -> Mode {
        self.key.mode
    }

    /// Archives, oldest first.
    pub fn archives(&self) -> Result<Vec<ArchiveRef>, ReadError> {
        archive::load_manifest(&self.store, &self.key)
    }

    /// An archive by name, or the newest for `latest` (as borgmatic's `--archive latest`).
    pub fn archive(&self, name: &str) -> Result<ArchiveRef, ReadError> {
        let archives = self.archives()?;
        let found = if name == "latest" {
            archives.last().cloned()
        } else {
            archives.into_iter().find(|a| a.name == name)
        };
        found.ok_or_else(|| ReadError::NoSuchArchive(name.to_string()))
    }

    /// Every item of `archive`, in order; `each` returns false to stop.
    pub fn for_each_item(
        &self,
        archive: &ArchiveRef,
        each: impl FnMut(Item) -> bool,
    ) -> Result<(), ReadError> {
        archive::for_each_item(&self.store, &self.key, archive, each)
    }

    /// Writes a file item's content to `out`.
    pub fn read_file(&self, item: &Item, out: &mut dyn std::io::Write) -> Result<(), ReadError> {
        archive::read_file(&self.store, &self.key, item, out)
    }
}

fn unlock_with(blob: &[u8], passphrase: Option<&[u8]>, mode: Mode) -> Result<Key, ReadError> {
    // borg tries the empty passphrase first.
    if let Some(key) = key::unlock(blob, b"", mode)? {
        return Ok(key);
    }
    let passphrase = passphrase.ok_or(ReadError::NoPassphrase)?;
    key::unlock(blob, passphrase, mode)?.ok_or(ReadError::WrongPassphrase)
}
