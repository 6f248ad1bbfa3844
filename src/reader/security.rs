//! The record borg keeps of every repository it has used (borg 1.4 `cache.py`
//! `SecurityManager`), read, checked and updated the way borg does, in borg's own folder: what
//! borg has seen protects Kastell's reader, and what the reader has seen protects borg.
//!
//! A server (or anyone who can write the repository) could otherwise swap in an unencrypted
//! repository under the same id and config, or roll the repository back to an older state, and
//! a reader would believe it. borg refuses both; so does Kastell, before a manifest's archives
//! are trusted. Layout and borg's source references: `../shared/BORG-FORMAT.md`.

use std::path::PathBuf;

use super::key::Mode;

/// Where borg keeps its records, found as borg finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BorgDirs {
    /// `security/`: one folder per repository id.
    pub security: PathBuf,
    /// borg's cache (`<id>/config` holds a second copy of the record).
    pub cache: PathBuf,
    /// Where keyfiles are looked for.
    pub keys: PathBuf,
}

/// Folders borgmatic hands borg as environment variables (`borg_base_directory`, ...): a
/// config's options win over the process environment, as in borgmatic's `make_environment`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirOptions {
    pub base: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub security: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub keys: Option<PathBuf>,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl BorgDirs {
    /// borg's folders for this process's environment with `options` on top
    /// (`helpers/fs.py` `get_base_dir`, `get_config_dir`, `get_security_dir`, `get_cache_dir`).
    pub fn find(options: &DirOptions) -> BorgDirs {
        let base_set = options.base.clone().or_else(|| env_path("BORG_BASE_DIR"));
        let base = base_set.clone().unwrap_or_else(home_dir);
        // XDG folders count only when no base folder was given.
        let xdg = |name: &str, fallback: &str| match &base_set {
            Some(b) => b.join(fallback),
            None => env_path(name).unwrap_or_else(|| base.join(fallback)),
        };
        let config = options
            .config
            .clone()
            .or_else(|| env_path("BORG_CONFIG_DIR"))
            .unwrap_or_else(|| xdg("XDG_CONFIG_HOME", ".config").join("borg"));
        BorgDirs {
            security: options
                .security
                .clone()
                .or_else(|| env_path("BORG_SECURITY_DIR"))
                .unwrap_or_else(|| config.join("security")),
            cache: options
                .cache
                .clone()
                .or_else(|| env_path("BORG_CACHE_DIR"))
                .unwrap_or_else(|| xdg("XDG_CACHE_HOME", ".cache").join("borg")),
            keys: options
                .keys
                .clone()
                .or_else(|| env_path("BORG_KEYS_DIR"))
                .unwrap_or_else(|| config.join("keys")),
        }
    }
}

/// `$HOME`, else the password database's home of this user.
fn home_dir() -> PathBuf {
    env_path("HOME")
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// How a repository is reached, and what the user allowed, for the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    pub dirs: BorgDirs,
    /// borg's canonical location of the repository (`Location.canonical_path()`).
    pub location: String,
    /// `relocated_repo_access_is_ok` / `BORG_RELOCATED_REPO_ACCESS_IS_OK`.
    pub relocated_ok: bool,
    /// `unknown_unencrypted_repo_access_is_ok` / `BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK`.
    pub unknown_unencrypted_ok: bool,
}

impl Trust {
    /// For `location` (as borgmatic hands it to borg) with borg's environment only.
    pub fn from_env(location: &str) -> Trust {
        Trust {
            dirs: BorgDirs::find(&DirOptions::default()),
            location: canonical_location(location),
            relocated_ok: env_says_yes("BORG_RELOCATED_REPO_ACCESS_IS_OK").unwrap_or(false),
            unknown_unencrypted_ok: env_says_yes("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK")
                .unwrap_or(false),
        }
    }

    /// The folder of repository `id`'s record.
    pub fn record_dir(&self, id: &[u8]) -> PathBuf {
        self.dirs.security.join(super::key::hex(id))
    }
}

/// An answer borg would read from `name` (borg's `yes()`): `Some(true)` for yes, y, 1, true.
pub fn env_says_yes(name: &str) -> Option<bool> {
    let value = std::env::var(name).ok()?;
    Some(matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "yes" | "y" | "1" | "true"
    ))
}

/// borg's canonical form of a repository location: a local path normalised (Python's
/// `os.path.normpath`), `ssh://[user@]host[:port]/path` with `/./` and `/~/` kept.
pub fn canonical_location(location: &str) -> String {
    let location = location.trim();
    if let Some(rest) = location.strip_prefix("ssh://") {
        if let Some(slash) = rest.find('/') {
            let (authority, path) = rest.split_at(slash);
            return format!("ssh://{authority}{}", normpath_special(path));
        }
        return location.to_string();
    }
    let path = location.strip_prefix("file://").unwrap_or(location);
    normpath(path)
}

/// borg's `normpath_special`: `/./relative` keeps its marker.
fn normpath_special(path: &str) -> String {
    if path.starts_with("/./") {
        format!("/.{}", normpath(path))
    } else {
        normpath(path)
    }
}

/// Python's `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if initial == 0 && (parts.is_empty() || parts.last() == Some(&"..")) => {
                parts.push("..")
            }
            ".." if !parts.is_empty() => {
                parts.pop();
            }
            ".." => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    let out = format!("{}{joined}", "/".repeat(initial));
    if out.is_empty() {
        ".".into()
    } else {
        out
    }
}

/// Why the record refuses a repository (borg's messages in plain words).
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error(
        "the repository's encryption changed since it was last used from this computer (it was \
         {was}, it is now {now}). Kastell refuses to read it, as borg does (\"Repository \
         encryption method changed since last access\"): a server that swapped the repository \
         for another would look exactly like this"
    )]
    EncryptionChanged { was: String, now: String },
    #[error(
        "the repository is older than when it was last used from this computer (its newest \
         state is from {repository}, but {seen} was seen before). Kastell refuses to read it, as \
         borg does: it may have been rolled back or replaced"
    )]
    Replayed { seen: String, repository: String },
    #[error(
        "an unencrypted repository with the id of one used before from this computer, but \
         older (its newest state is from {repository}, {seen} was seen before): two \
         repositories share an id, or this one was rolled back. Kastell refuses to read it, as \
         borg does"
    )]
    IdNotUnique { seen: String, repository: String },
    #[error(
        "borg knew this repository under another address (it is at {now}, it was at {previous}) \
         and Kastell stops rather than guess. If it is the same repository, add \
         `relocated_repo_access_is_ok: true` to the config (or set \
         BORG_RELOCATED_REPO_ACCESS_IS_OK=yes)"
    )]
    Relocated { previous: String, now: String },
    #[error(
        "this repository is not encrypted and was never used from this computer. borg asks \
         before using such a repository; add `unknown_unencrypted_repo_access_is_ok: true` to \
         the config (or set BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes) if you trust it"
    )]
    UnknownUnencrypted,
    #[error("borg's security record {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the repository shows now, for the checks.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub mode: Mode,
    /// Encrypted with a non-empty passphrase (borg's `logically_encrypted`).
    pub logically_encrypted: bool,
    /// The manifest's `timestamp`.
    pub manifest_timestamp: &'a str,
}

/// borg's key `TYPE` number of each mode, as the record stores it (decimal text).
pub fn key_type(mode: Mode) -> u8 {
    match mode {
        Mode::Keyfile => 0x00,
        Mode::None => 0x02,
        Mode::Repokey => 0x03,
        Mode::KeyfileBlake2 => 0x04,
        Mode::RepokeyBlake2 => 0x05,
        Mode::AuthenticatedBlake2 => 0x06,
        Mode::Authenticated => 0x07,
    }
}

fn mode_name_of(key_type: &str) -> String {
    key_type
        .trim()
        .parse::<u8>()
        .ok()
        .and_then(Mode::from_type_byte)
        .map_or_else(|| format!("type {key_type}"), |m| m.name().to_string())
}

/// One repository's record: `location`, `key-type`, `manifest-timestamp`, `tam_required`.
pub struct Record {
    dir: PathBuf,
}

impl Record {
    pub fn new(trust: &Trust, repository_id: &[u8]) -> Record {
        Record {
            dir: trust.record_dir(repository_id),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<Option<String>, SecurityError> {
        let path = self.file(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SecurityError::Io { path, source }),
        }
    }

    /// All three files present (borg's `known()`).
    pub fn known(&self) -> bool {
        ["key-type", "location", "manifest-timestamp"]
            .iter()
            .all(|f| self.file(f).exists())
    }

    /// borg's `tam_required` marker for this repository.
    pub fn tam_required(&self) -> bool {
        self.file("tam_required").is_file()
    }

    /// Creates or removes the `tam_required` marker as a verified manifest says.
    pub fn set_tam_required(&self, required: bool) -> Result<(), SecurityError> {
        let path = self.file("tam_required");
        let io = |source| SecurityError::Io {
            path: path.clone(),
            source,
        };
        match (required, path.is_file()) {
            (true, false) => {
                self.ensure_dir()?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)
                    .map(drop)
                    .map_err(io)
            }
            (false, true) => std::fs::remove_file(&path).map_err(io),
            _ => Ok(()),
        }
    }

    fn ensure_dir(&self) -> Result<(), SecurityError> {
        crate::private::create_dir(&self.dir).map_err(|source| SecurityError::Io {
            path: self.dir.clone(),
            source,
        })
    }

    /// Writes one file the way borg's `SaveFile` does: a temporary file renamed into place.
    fn save_file(&self, name: &str, text: &str) -> Result<(), SecurityError> {
        self.ensure_dir()?;
        let path = self.file(name);
        crate::private::write_file(&path, text.as_bytes())
            .map_err(|source| SecurityError::Io { path, source })
    }

    /// Remembers the repository as it is now (borg's `save`).
    pub fn save(&self, location: &str, observed: &Observed) -> Result<(), SecurityError> {
        self.save_file("location", location)?;
        self.save_file("key-type", &key_type(observed.mode).to_string())?;
        self.save_file("manifest-timestamp", observed.manifest_timestamp)
    }
}

/// borg's cache keeps a copy of the record (`<cache>/<id>/config`, `[cache]` section), which
/// borg reconciles with the security folder. Read without borg's cache lock: borg writes it
/// atomically, and a backup holds that lock for as long as it runs.
#[derive(Debug, Default, PartialEq, Eq)]
struct CacheRecord {
    previous_location: Option<String>,
    timestamp: Option<String>,
    key_type: Option<String>,
}

fn read_cache_record(dirs: &BorgDirs, repository_id: &[u8]) -> CacheRecord {
    let path = dirs
        .cache
        .join(super::key::hex(repository_id))
        .join("config");
    let Ok(text) = std::fs::read_to_string(path) else {
        return CacheRecord::default();
    };
    let mut record = CacheRecord::default();
    let mut in_cache = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_cache = line == "[cache]";
            continue;
        }
        if !in_cache {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        match key.trim() {
            "previous_location" => record.previous_location = value,
            "timestamp" => record.timestamp = value,
            "key_type" => record.key_type = value,
            _ => {}
        }
    }
    record
}

/// borg's `assert_secure` for a read: refuses an unknown unencrypted repository unless
/// allowed, a repository met under another location unless allowed, a changed encryption and
/// a manifest older than the newest one seen; remembers a repository seen for the first time.
/// Like borg, a read does not move the remembered timestamp of a known repository forward
/// (borg does that when it writes).
pub fn assert_secure(
    trust: &Trust,
    repository_id: &[u8],
    observed: &Observed,
) -> Result<(), SecurityError> {
    let record = Record::new(trust, repository_id);
    // borg's assert_access_unknown.
    if !observed.logically_encrypted && !record.known() {
        if !trust.unknown_unencrypted_ok {
            return Err(SecurityError::UnknownUnencrypted);
        }
        record.save(&trust.location, observed)?;
    }
    let cache = read_cache_record(&trust.dirs, repository_id);
    // Location.
    let mut previous = record.read("location")?;
    if cache.previous_location.is_some() && previous != cache.previous_location {
        previous = cache.previous_location.clone();
    }
    if let Some(previous) = previous.filter(|p| !p.is_empty() && *p != trust.location) {
        if !trust.relocated_ok {
            return Err(SecurityError::Relocated {
                previous,
                now: trust.location.clone(),
            });
        }
        record.save_file("location", &trust.location)?;
    }
    // Key type.
    let now = key_type(observed.mode).to_string();
    let was = match cache.key_type.clone() {
        Some(cached) if cached != now => Some(cached),
        _ if record.known() => record.read("key-type")?.filter(|t| *t != now),
        _ => None,
    };
    if let Some(was) = was {
        return Err(SecurityError::EncryptionChanged {
            was: mode_name_of(&was),
            now: observed.mode.name().to_string(),
        });
    }
    // Replay: the newest timestamp either copy remembers, compared as text as borg does.
    let remembered = record.read("manifest-timestamp")?.unwrap_or_default();
    let seen = remembered.max(cache.timestamp.unwrap_or_default());
    if !seen.is_empty() && seen.as_str() > observed.manifest_timestamp {
        let repository = observed.manifest_timestamp.to_string();
        return Err(if observed.mode == Mode::None {
            SecurityError::IdNotUnique { seen, repository }
        } else {
            SecurityError::Replayed { seen, repository }
        });
    }
    if !record.known() {
        record.save(&trust.location, observed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn trust(dir: &Path, location: &str) -> Trust {
        Trust {
            dirs: BorgDirs {
                security: dir.join("security"),
                cache: dir.join("cache"),
                keys: dir.join("keys"),
            },
            location: location.into(),
            relocated_ok: false,
            unknown_unencrypted_ok: false,
        }
    }

    fn seen(mode: Mode, timestamp: &str) -> Observed<'_> {
        Observed {
            mode,
            logically_encrypted: mode != Mode::None,
            manifest_timestamp: timestamp,
        }
    }

    #[test]
    fn locations_are_canonical_as_borg_makes_them() {
        assert_eq!(
            canonical_location("/srv//backups/./repo/"),
            "/srv/backups/repo"
        );
        assert_eq!(canonical_location("repo/../other"), "other");
        assert_eq!(canonical_location("file:///srv/repo"), "/srv/repo");
        assert_eq!(
            canonical_location("ssh://me@nas:2222/./backups//home"),
            "ssh://me@nas:2222/./backups/home"
        );
        assert_eq!(canonical_location("ssh://nas/~/repo"), "ssh://nas/~/repo");
        assert_eq!(normpath("//x/y"), "//x/y");
        assert_eq!(normpath("/../a"), "/a");
        assert_eq!(normpath(""), ".");
    }

    #[test]
    fn a_first_visit_is_remembered_and_a_swap_or_rollback_is_refused_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let t = trust(dir.path(), "/srv/repo");
        let id = [7u8; 32];
        let first = seen(Mode::RepokeyBlake2, "2026-12-01T10:00:00.000000");
        assert!(assert_secure(&t, &id, &first).is_ok());
        let record = t.record_dir(&id);
        assert_eq!(
            std::fs::read_to_string(record.join("key-type")).unwrap(),
            "5"
        );
        assert_eq!(
            std::fs::read_to_string(record.join("manifest-timestamp")).unwrap(),
            "2026-12-01T10:00:00.000000"
        );
        // A newer state is fine, and a read does not move the record forward (as borg).
        let newer = seen(Mode::RepokeyBlake2, "2026-12-02T10:00:00.000000");
        assert!(assert_secure(&t, &id, &newer).is_ok());
        assert_eq!(
            std::fs::read_to_string(record.join("manifest-timestamp")).unwrap(),
            "2026-12-01T10:00:00.000000"
        );
        let older = seen(Mode::RepokeyBlake2, "2026-11-30T10:00:00.000000");
        assert!(matches!(
            assert_secure(&t, &id, &older),
            Err(SecurityError::Replayed { .. })
        ));
        let mut swapped = seen(Mode::None, "2026-12-03T10:00:00.000000");
        swapped.logically_encrypted = false;
        assert!(matches!(
            assert_secure(&t, &id, &swapped),
            Err(SecurityError::EncryptionChanged { ref was, ref now }) if was == "repokey-blake2" && now == "none"
        ));
        let moved = trust(dir.path(), "/mnt/repo");
        assert!(matches!(
            assert_secure(&moved, &id, &newer),
            Err(SecurityError::Relocated { .. })
        ));
        let allowed = Trust {
            relocated_ok: true,
            ..moved
        };
        assert!(assert_secure(&allowed, &id, &newer).is_ok());
        assert_eq!(
            std::fs::read_to_string(record.join("location")).unwrap(),
            "/mnt/repo"
        );
    }

    #[test]
    fn an_unknown_unencrypted_repository_needs_permission() {
        let dir = tempfile::tempdir().unwrap();
        let t = trust(dir.path(), "/srv/plain");
        let id = [9u8; 32];
        let plain = seen(Mode::None, "2026-12-01T10:00:00.000000");
        assert!(matches!(
            assert_secure(&t, &id, &plain),
            Err(SecurityError::UnknownUnencrypted)
        ));
        assert!(!t.record_dir(&id).exists());
        let allowed = Trust {
            unknown_unencrypted_ok: true,
            ..t.clone()
        };
        assert!(assert_secure(&allowed, &id, &plain).is_ok());
        // Known now: no permission needed any more.
        assert!(assert_secure(&t, &id, &plain).is_ok());
    }

    #[test]
    fn borgs_cache_copy_of_the_record_counts_too() {
        let dir = tempfile::tempdir().unwrap();
        let t = trust(dir.path(), "/srv/repo");
        let id = [3u8; 32];
        let cache = t.dirs.cache.join(crate::reader::key::hex(&id));
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(
            cache.join("config"),
            "[cache]\nversion = 1\nprevious_location = /srv/repo\ntimestamp = 2026-12-05T00:00:00.000000\nkey_type = 4\n",
        )
        .unwrap();
        assert!(matches!(
            assert_secure(
                &t,
                &id,
                &seen(Mode::KeyfileBlake2, "2026-12-01T00:00:00.000000")
            ),
            Err(SecurityError::Replayed { .. })
        ));
        assert!(matches!(
            assert_secure(
                &t,
                &id,
                &seen(Mode::RepokeyBlake2, "2026-12-06T00:00:00.000000")
            ),
            Err(SecurityError::EncryptionChanged { .. })
        ));
    }
}
