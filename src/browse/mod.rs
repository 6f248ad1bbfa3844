//! Browsing archives: a repository opened once with the native reader (kept for the session,
//! so every folder, preview and version after the first is answered from memory-mapped
//! indexes), folder listings, folder sizes, previews and temporary copies for "open with".
//! The window and `kastell ls`/`find`/`versions`/`restore` use this; nothing here knows Qt.

pub mod preview;
pub mod view;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::config::{BorgmaticConfig, RepositoryConfig, RepositoryKind, Secret};
use crate::credentials::passphrase::current_passphrase;
use crate::index::{self, ArchiveIndex, BuildProgress, IndexError};
use crate::reader::listing::display_bytes;
use crate::reader::remote::{serve_command, RemoteStore, SshLocation};
use crate::reader::security::{self, BorgDirs, DirOptions};
use crate::reader::{Access, ArchiveRef, ReadError, Reader, Trust};

/// Why Kastell's own reader did not open a repository.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The native reader cannot read this repository (borg 2, an ssh alias without ssh://,
    /// a credential hook only borgmatic knows, ...): the borg process answers instead.
    #[error("{0}")]
    Unsupported(String),
    #[error("{repository}: {source}")]
    Read {
        repository: String,
        #[source]
        source: ReadError,
    },
    #[error("cannot read the passphrase from {}: {source}", path.display())]
    PassphraseFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The reading thread ended without an answer.
    #[error("{0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Why a repository cannot be browsed.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{} has no repository {name}", config.display())]
    NoSuchRepository { config: PathBuf, name: String },
    /// The native reader cannot read this repository: browsing needs the index it builds.
    #[error("Kastell cannot browse this repository: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Open(OpenError),
    /// Reading an archive failed; `context` names the repository, archive and path.
    #[error("{context}: {source}")]
    Read {
        context: String,
        #[source]
        source: ReadError,
    },
    #[error(transparent)]
    Reader(#[from] ReadError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0} is not in this archive")]
    NotFound(String),
    #[error("making a copy to open: {0}")]
    Copy(#[source] std::io::Error),
    /// A reading thread ended without an answer.
    #[error("{0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The chunk ids of an archive's item stream.
type ItemChunks = Arc<Vec<[u8; 32]>>;

/// An open repository: its reader, and the indexes and item-chunk lists loaded so far.
pub struct Session {
    pub config: BorgmaticConfig,
    pub repository: RepositoryConfig,
    pub reader: Reader,
    cache_root: PathBuf,
    indexes: Mutex<HashMap<[u8; 32], Arc<ArchiveIndex>>>,
    item_chunks: Mutex<HashMap<[u8; 32], ItemChunks>>,
    pruned: usize,
}

type SessionKey = (PathBuf, String);

fn sessions() -> &'static Mutex<HashMap<SessionKey, Arc<Session>>> {
    static SESSIONS: std::sync::OnceLock<Mutex<HashMap<SessionKey, Arc<Session>>>> =
        std::sync::OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

/// The session of `repository` (label or path) in `config`: reused while it lives, opened
/// (key derivation, manifest) otherwise. `fresh` drops a kept one first, to see new archives.
pub async fn open(
    config: &Path,
    repository: &str,
    fresh: bool,
) -> Result<Arc<Session>, BrowseError> {
    let key = (config.to_path_buf(), repository.to_string());
    if let Ok(mut kept) = sessions().lock() {
        if fresh {
            kept.remove(&key);
        } else if let Some(found) = kept.get(&key) {
            return Ok(found.clone());
        }
    }
    let session = Arc::new(open_uncached(config, repository).await?);
    if let Ok(mut kept) = sessions().lock() {
        kept.insert(key, session.clone());
    }
    Ok(session)
}

/// The kept session of `repository` in `config`, if one is open (nothing is opened).
pub fn kept_session(config: &Path, repository: &str) -> Option<Arc<Session>> {
    let key = (config.to_path_buf(), repository.to_string());
    sessions().lock().ok()?.get(&key).cloned()
}

/// Kastell's reader for `repo` (a local path, or ssh:// through `borg serve`), or why not:
/// [`OpenError::Unsupported`] when the borg process must answer instead.
pub async fn open_reader(
    cfg: &BorgmaticConfig,
    repo: &RepositoryConfig,
) -> Result<Reader, OpenError> {
    let home = dirs::home_dir().unwrap_or_else(|| "/".into());
    let remote = match repo.kind() {
        RepositoryKind::Local => None,
        RepositoryKind::Ssh { .. } => {
            let location = SshLocation::parse(&repo.path).ok_or_else(|| {
                OpenError::Unsupported(format!(
                    "a repository location Kastell cannot parse: {}",
                    repo.path
                ))
            })?;
            let command = serve_command(
                &location,
                cfg.ssh_command.as_deref(),
                cfg.remote_path.as_deref(),
            )
            .map_err(|e| OpenError::Unsupported(e.to_string()))?;
            Some((location, command))
        }
        RepositoryKind::Remote => {
            return Err(OpenError::Unsupported(
                "the native reader reads local and ssh:// repositories".into(),
            ))
        }
    };
    let passphrase = match current_passphrase(&cfg.path, cfg).await {
        Ok((secret, _)) => Some(resolve_credential(secret, &home)?),
        Err(_) => None,
    };
    let trust = trust_for(cfg, repo, &home);
    let local_path = PathBuf::from(crate::patterns::pypath::expanduser(
        repo.path.trim_start_matches("file://"),
        &home,
    ));
    let opened = tokio::task::spawn_blocking(move || {
        let access = Access {
            passphrase: passphrase.as_ref().map(|p| p.expose().as_bytes()),
            trust: &trust,
        };
        match remote {
            None => Reader::open_local(&local_path, &access),
            Some((location, command)) => {
                let store = RemoteStore::connect(&command, &location)?;
                Reader::open(Box::new(store), &access)
            }
        }
    })
    .await
    .map_err(OpenError::Task)?;
    match opened {
        Ok(reader) => Ok(reader),
        Err(ReadError::Unsupported(why)) => Err(OpenError::Unsupported(why)),
        Err(source) => Err(OpenError::Read {
            repository: repo.display_name().to_string(),
            source,
        }),
    }
}

/// What borg's security record needs for `repo`: borg's folders as borgmatic hands them to
/// borg (its `borg_*_directory` options over the environment), the location as borgmatic
/// passes it, and the answers to borg's two questions (the environment first, then the
/// config, as borgmatic does).
pub fn trust_for(cfg: &BorgmaticConfig, repo: &RepositoryConfig, home: &Path) -> Trust {
    let folder = |option: &str| match cfg.other.get(option) {
        Some(serde_norway::Value::String(d)) => {
            Some(PathBuf::from(crate::patterns::pypath::expanduser(d, home)))
        }
        _ => None,
    };
    let options = DirOptions {
        base: folder("borg_base_directory"),
        config: folder("borg_config_directory"),
        security: folder("borg_security_directory"),
        cache: folder("borg_cache_directory"),
        keys: folder("borg_keys_directory"),
    };
    let answer = |variable: &str, option: &str| {
        security::env_says_yes(variable).unwrap_or_else(|| {
            matches!(cfg.other.get(option), Some(serde_norway::Value::Bool(true)))
        })
    };
    // borgmatic turns file:// into an absolute path before borg sees it.
    let location = match repo.path.strip_prefix("file://") {
        Some(path) => std::path::absolute(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.to_string()),
        None => repo.path.clone(),
    };
    Trust {
        dirs: BorgDirs::find(&options),
        location: security::canonical_location(&location),
        relocated_ok: answer(
            "BORG_RELOCATED_REPO_ACCESS_IS_OK",
            "relocated_repo_access_is_ok",
        ),
        unknown_unencrypted_ok: answer(
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK",
            "unknown_unencrypted_repo_access_is_ok",
        ),
    }
}

/// borgmatic's `{credential TYPE ARG}` passphrase: `file` is read here (trailing newline
/// dropped, as borgmatic does), `systemd` from `$CREDENTIALS_DIRECTORY`; the others
/// (container, keepassxc) stay with borgmatic, so the borg path answers.
fn resolve_credential(secret: Secret, home: &Path) -> Result<Secret, OpenError> {
    let text = secret.expose().trim();
    let Some(inner) = text
        .strip_prefix("{credential ")
        .and_then(|t| t.strip_suffix('}'))
    else {
        return Ok(secret);
    };
    let (kind, arg) = inner.trim().split_once(' ').unwrap_or((inner, ""));
    let file = match kind {
        "file" => PathBuf::from(crate::patterns::pypath::expanduser(arg.trim(), home)),
        "systemd" => match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) => PathBuf::from(dir).join(arg.trim()),
            None => {
                return Err(OpenError::Unsupported(
                    "the passphrase is a systemd credential outside systemd".into(),
                ))
            }
        },
        other => {
            return Err(OpenError::Unsupported(format!(
                "the passphrase comes from borgmatic's {other} credential hook"
            )))
        }
    };
    let content = std::fs::read_to_string(&file)
        .map_err(|source| OpenError::PassphraseFile { path: file, source })?;
    Ok(Secret::new(content.trim_end_matches(['\n', '\r'])))
}

/// Opens without the session cache (the command line: one process, one use).
pub async fn open_uncached(config: &Path, repository: &str) -> Result<Session, BrowseError> {
    let cfg = BorgmaticConfig::load(config)?;
    let repo = cfg
        .repository(repository)
        .ok_or_else(|| BrowseError::NoSuchRepository {
            config: cfg.path.clone(),
            name: repository.to_string(),
        })?
        .clone();
    let reader = match open_reader(&cfg, &repo).await {
        Ok(reader) => reader,
        Err(OpenError::Unsupported(why)) => return Err(BrowseError::Unsupported(why)),
        Err(e) => return Err(BrowseError::Open(e)),
    };
    Ok(Session::new(cfg, repo, reader))
}

/// One archive's entries that a search matched.
pub struct Matches {
    pub archive: ArchiveRef,
    pub index: Arc<ArchiveIndex>,
    pub entries: Vec<u32>,
}

impl Session {
    /// A session over an open reader. The indexes of archives the repository no longer has
    /// are removed now.
    pub fn new(config: BorgmaticConfig, repository: RepositoryConfig, reader: Reader) -> Session {
        let cache_root = index::default_cache_root();
        let pruned = index::prune_indexes(&cache_root, reader.repository_id(), reader.archives());
        Session {
            config,
            repository,
            reader,
            cache_root,
            indexes: Mutex::default(),
            item_chunks: Mutex::default(),
            pruned,
        }
    }

    /// How many indexes of archives that are gone the session removed when it opened.
    pub fn pruned_indexes(&self) -> usize {
        self.pruned
    }

    /// `path` (no leading slash) in every archive that has it, oldest first; each archive
    /// is indexed first when it is not yet (`indexing` is told before each such build).
    pub fn versions(
        &self,
        path: &str,
        indexing: &mut dyn FnMut(&ArchiveRef),
        cancel: &AtomicBool,
    ) -> Result<Vec<index::Version>, BrowseError> {
        let archives = self.archives().to_vec();
        let mut indexes = Vec::with_capacity(archives.len());
        for archive in &archives {
            indexes.push(self.index_telling(archive, indexing, cancel)?);
        }
        let pairs: Vec<_> = archives.iter().zip(indexes.iter().map(|i| &**i)).collect();
        Ok(index::versions(&pairs, path.trim_matches('/').as_bytes()))
    }

    /// The entries whose name `pattern` matches, archive by archive in the order given.
    pub fn search(
        &self,
        archives: &[ArchiveRef],
        pattern: &regex::bytes::Regex,
        indexing: &mut dyn FnMut(&ArchiveRef),
        cancel: &AtomicBool,
    ) -> Result<Vec<Matches>, BrowseError> {
        let mut found = Vec::with_capacity(archives.len());
        for archive in archives {
            let index = self.index_telling(archive, indexing, cancel)?;
            let entries = index.search(pattern);
            found.push(Matches {
                archive: archive.clone(),
                index,
                entries,
            });
        }
        Ok(found)
    }

    /// `index`, telling `indexing` first when the archive has to be read.
    pub fn index_telling(
        &self,
        archive: &ArchiveRef,
        indexing: &mut dyn FnMut(&ArchiveRef),
        cancel: &AtomicBool,
    ) -> Result<Arc<ArchiveIndex>, BrowseError> {
        if let Some(found) = self.cached_index(archive) {
            return Ok(found);
        }
        indexing(archive);
        self.index(archive, &mut |_| {}, cancel)
    }

    /// Archives, oldest first (as the manifest lists them by time).
    pub fn archives(&self) -> &[ArchiveRef] {
        self.reader.archives()
    }

    /// An archive by name; `latest` is the newest, as in borgmatic.
    pub fn archive(&self, name: &str) -> Result<ArchiveRef, BrowseError> {
        Ok(self.reader.archive(name)?)
    }

    /// The index of `archive` when it is already built (no reading of the repository).
    pub fn cached_index(&self, archive: &ArchiveRef) -> Option<Arc<ArchiveIndex>> {
        if let Some(found) = self.indexes.lock().ok()?.get(&archive.id) {
            return Some(found.clone());
        }
        let path = index::index_path(&self.cache_root, self.reader.repository_id(), &archive.id);
        let opened = Arc::new(ArchiveIndex::open(&path).ok()?);
        if let Ok(mut kept) = self.indexes.lock() {
            kept.insert(archive.id, opened.clone());
        }
        Some(opened)
    }

    /// The index of `archive`, built now (once) when missing.
    pub fn index(
        &self,
        archive: &ArchiveRef,
        progress: &mut dyn FnMut(BuildProgress),
        cancel: &AtomicBool,
    ) -> Result<Arc<ArchiveIndex>, BrowseError> {
        if let Some(found) = self.cached_index(archive) {
            return Ok(found);
        }
        let built = Arc::new(index::ensure_index(
            &self.reader,
            archive,
            &self.cache_root,
            progress,
            cancel,
        )?);
        if let Ok(mut kept) = self.indexes.lock() {
            kept.insert(archive.id, built.clone());
        }
        Ok(built)
    }

    /// The chunk ids of `archive`'s item stream (what index positions point into).
    pub fn item_chunks(&self, archive: &ArchiveRef) -> Result<Arc<Vec<[u8; 32]>>, BrowseError> {
        if let Some(found) = self
            .item_chunks
            .lock()
            .ok()
            .and_then(|m| m.get(&archive.id).cloned())
        {
            return Ok(found);
        }
        let chunks = Arc::new(
            self.reader
                .item_chunks(archive)
                .map_err(|e| self.read_error(archive, &[], e))?,
        );
        if let Ok(mut kept) = self.item_chunks.lock() {
            kept.insert(archive.id, chunks.clone());
        }
        Ok(chunks)
    }

    fn read_error(&self, archive: &ArchiveRef, path: &[u8], e: ReadError) -> BrowseError {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(", /{}", display_bytes(path))
        };
        BrowseError::Read {
            context: format!(
                "{}: archive {}{at}",
                self.repository.display_name(),
                archive.name
            ),
            source: e,
        }
    }

    /// Entry `entry`'s item with its chunk list (a later hard link's taken from the first).
    pub fn item(
        &self,
        archive: &ArchiveRef,
        index: &ArchiveIndex,
        entry: u32,
    ) -> Result<crate::reader::Item, BrowseError> {
        if index.entry(entry).is_implicit() {
            // A folder made up above the backed-up paths has no item of its own.
            return Err(BrowseError::NotFound(display_bytes(&index.path(entry))));
        }
        let chunks = self.item_chunks(archive)?;
        let read_error = |e| self.read_error(archive, &index.path(entry), e);
        let mut item = self
            .reader
            .item_at(&chunks, index.entry(entry).at)
            .map_err(read_error)?;
        crate::restore::resolve_hardlink(&self.reader, index, &chunks, &mut item)
            .map_err(read_error)?;
        Ok(item)
    }

    /// Up to `limit` bytes from the start of file `entry` (the preview pane), read by chunk
    /// list: only the chunks that cover them are fetched.
    pub fn head(
        &self,
        archive: &ArchiveRef,
        index: &ArchiveIndex,
        entry: u32,
        limit: usize,
    ) -> Result<Vec<u8>, BrowseError> {
        let path = index.path(entry);
        let mut item = self.item(archive, index, entry)?;
        let mut covered = 0u64;
        let keep = item
            .chunks
            .iter()
            .take_while(|(_, size)| {
                let more = covered < limit as u64;
                covered += *size;
                more
            })
            .count();
        item.chunks.truncate(keep);
        let mut out = Vec::with_capacity(limit.min(covered as usize));
        self.reader
            .read_file(&item, &mut out)
            .map_err(|e| self.read_error(archive, &path, e))?;
        out.truncate(limit);
        Ok(out)
    }

    /// A read-only copy of file `entry` in a private temporary folder, for "open with" (the
    /// user's application gets a real file; the copy goes when the folder is cleaned).
    pub fn temporary_copy(
        &self,
        archive: &ArchiveRef,
        index: &ArchiveIndex,
        entry: u32,
    ) -> Result<PathBuf, BrowseError> {
        let path = index.path(entry);
        let io = BrowseError::Copy;
        // Private (0700) and the user's own: never a shared or world-readable place.
        let base = crate::private::runtime_dir().join("open");
        crate::private::create_dirs_below(&crate::private::runtime_dir(), &base).map_err(io)?;
        let folder = base.join(format!(
            "copy-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir(&folder).map_err(io)?;
        let name = std::ffi::OsStr::from_bytes(index.name(entry)).to_os_string();
        let target = folder.join(name);
        let item = self.item(archive, index, entry)?;
        let mut file = crate::private::create_new(&target).map_err(io)?;
        self.reader
            .read_file(&item, &mut file)
            .map_err(|e| self.read_error(archive, &path, e))?;
        drop(file);
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o444)).map_err(io)?;
        Ok(target)
    }
}

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

/// What a listed entry is, for its icon and what double-click does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    File,
    Symlink,
    Other,
}

impl Kind {
    pub fn of_mode(mode: u32) -> Kind {
        match mode & 0o170000 {
            0o040000 => Kind::Folder,
            0o100000 => Kind::File,
            0o120000 => Kind::Symlink,
            _ => Kind::Other,
        }
    }
}

/// One row of a folder listing or a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub entry: u32,
    pub name: String,
    /// The archive path, as borg stores it (no leading slash).
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub target: Option<String>,
}

pub fn listed(index: &ArchiveIndex, i: u32) -> Listed {
    let e = index.entry(i);
    Listed {
        entry: i,
        name: display_bytes(index.name(i)),
        path: display_bytes(&index.path(i)),
        kind: Kind::of_mode(e.mode),
        mode: e.mode,
        size: e.size,
        mtime_ns: e.mtime_ns,
        target: index.target(i).map(display_bytes),
    }
}

/// The children of folder `path` (`""` or `/` for the archive's top level), folders first,
/// then by name; `None` when `path` is not a folder of the archive.
pub fn list_folder(index: &ArchiveIndex, path: &str) -> Option<Vec<Listed>> {
    let at = index.lookup(path.trim_matches('/').as_bytes())?;
    let e = index.entry(at);
    if !e.is_dir() {
        return None;
    }
    let mut rows: Vec<Listed> = e.children().map(|i| listed(index, i)).collect();
    rows.sort_by(|a, b| {
        (b.kind == Kind::Folder)
            .cmp(&(a.kind == Kind::Folder))
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Some(rows)
}

/// Total size of what lies below entry `at` (itself for a file). Hard-linked copies count
/// once, as they take space once.
pub fn total_size(index: &ArchiveIndex, at: u32) -> u64 {
    let e = index.entry(at);
    if !e.is_dir() {
        return if counted(index, at) { e.size } else { 0 };
    }
    let mut total = 0u64;
    let mut stack = vec![e.children()];
    while let Some(range) = stack.pop() {
        for i in range {
            let c = index.entry(i);
            if c.is_dir() {
                stack.push(c.children());
            } else if counted(index, i) {
                total += c.size;
            }
        }
    }
    total
}

/// A regular file that is not a second name of a hard link (those point at their first).
fn counted(index: &ArchiveIndex, i: u32) -> bool {
    Kind::of_mode(index.entry(i).mode) == Kind::File && index.target(i).is_none()
}

/// The children of folder `at` with their total sizes, largest first (the size chart).
pub fn folder_sizes(index: &ArchiveIndex, at: u32) -> Vec<(String, u64, bool)> {
    let e = index.entry(at);
    if !e.is_dir() {
        return Vec::new();
    }
    let mut sizes: Vec<(String, u64, bool)> = e
        .children()
        .map(|i| {
            (
                display_bytes(index.name(i)),
                total_size(index, i),
                index.entry(i).is_dir(),
            )
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes
}

/// What the preview pane shows for some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewKind {
    Text,
    Image,
    Binary,
}

/// Text (valid UTF-8, or nearly: a cut at the end is fine, few control bytes), an image by
/// its magic number, otherwise binary.
pub fn preview_kind(bytes: &[u8]) -> PreviewKind {
    const IMAGE_MAGIC: &[&[u8]] = &[
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        b"BM",
        b"RIFF", // WebP (checked further below)
    ];
    if IMAGE_MAGIC.iter().any(|m| bytes.starts_with(m))
        && (!bytes.starts_with(b"RIFF") || bytes.get(8..12) == Some(b"WEBP"))
    {
        return PreviewKind::Image;
    }
    if bytes.starts_with(b"<svg") || bytes.starts_with(b"<?xml") && contains(bytes, b"<svg") {
        return PreviewKind::Image;
    }
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // A multi-byte character cut by the limit is still text.
        Err(e) => e.error_len().is_none(),
    };
    let controls = bytes
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
        .count();
    if valid && controls * 100 <= bytes.len() {
        PreviewKind::Text
    } else {
        PreviewKind::Binary
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_kind_tells_text_images_and_binary_apart() {
        assert_eq!(preview_kind(b"hello\nworld\n"), PreviewKind::Text);
        assert_eq!(preview_kind("grüße".as_bytes()), PreviewKind::Text);
        // A multi-byte character cut at the preview limit.
        assert_eq!(preview_kind(&"ü".as_bytes()[..1]), PreviewKind::Text);
        assert_eq!(preview_kind(b"\x89PNG\r\n\x1a\n...."), PreviewKind::Image);
        assert_eq!(preview_kind(b"\xff\xd8\xff\xe0"), PreviewKind::Image);
        assert_eq!(preview_kind(b"<svg xmlns=''/>"), PreviewKind::Image);
        assert_eq!(preview_kind(b"\x00\x01\x02\x03ELF"), PreviewKind::Binary);
        assert_eq!(
            preview_kind(b"\x7fELF\x02\x01\x01\x00\x00\x00"),
            PreviewKind::Binary
        );
    }
}
