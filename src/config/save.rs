//! Writing a config safely: never a file that does not parse, validated by borgmatic when it
//! is installed, written atomically (temp file in the same folder, fsync, rename) with the
//! original's mode and owner, and the previous version kept as `FILE.bak`.

use super::edit::ConfigDocument;
use super::schema::{BorgmaticConfig, ConfigError};
use crate::process::{locate, Tool};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("not saved: the new text does not parse ({0})")]
    WouldNotParse(ConfigError),
    #[error("not saved: borgmatic rejected the change; the file is unchanged.\n{message}")]
    Rejected { message: String },
    #[error("not saved: {path} changed on disk since it was opened; reload it first")]
    ChangedOnDisk { path: PathBuf },
    #[error("not saved: {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOutcome {
    /// Where the previous version was kept (None for a new file).
    pub backup: Option<PathBuf>,
    /// True when `borgmatic config validate` accepted the new text.
    pub validated_by_borgmatic: bool,
}

/// The path of the previous version's copy.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".bak");
    path.with_file_name(name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SaveError + '_ {
    move |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Saves `doc` over its file. Refuses when the file changed on disk since `doc` was read.
pub fn save(doc: &ConfigDocument) -> Result<SaveOutcome, SaveError> {
    let path = doc.path();
    let on_disk = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(path)(e)),
    };
    if on_disk.as_deref().is_some_and(|t| t != doc.original()) {
        return Err(SaveError::ChangedOnDisk {
            path: path.to_path_buf(),
        });
    }
    write_config(path, &doc.text())
}

/// Writes `text` to `path` with every safety step. Used by `save` and for new files.
pub fn write_config(path: &Path, text: &str) -> Result<SaveOutcome, SaveError> {
    let parsed = BorgmaticConfig::parse(path, text).map_err(SaveError::WouldNotParse)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let old = std::fs::metadata(path).ok();
    // A config usually holds secrets: 0600 unless the existing file says otherwise, and never
    // readable by others while it holds a plaintext passphrase.
    let mut mode = old
        .as_ref()
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    if holds_plaintext_passphrase(&parsed) {
        mode &= 0o700;
    }

    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_stale_temp_files(dir, &name);
    let temp = dir.join(format!(".{name}.kastell-{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let result = (|| {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .map_err(io(&temp))?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io(&temp))?;
        if let Some(old) = &old {
            if nix::unistd::Uid::effective().is_root() {
                let _ = nix::unistd::fchown(
                    &file,
                    Some(nix::unistd::Uid::from_raw(old.uid())),
                    Some(nix::unistd::Gid::from_raw(old.gid())),
                );
            }
        }
        file.write_all(text.as_bytes()).map_err(io(&temp))?;
        file.sync_all().map_err(io(&temp))?;
        drop(file);

        let validated = validate_with_borgmatic(&temp)?;

        let backup = if old.is_some() {
            let backup = backup_path(path);
            keep_previous(path, &backup, old.as_ref())?;
            Some(backup)
        } else {
            None
        };
        std::fs::rename(&temp, path).map_err(io(path))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(SaveOutcome {
            backup,
            validated_by_borgmatic: validated,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Temp files left by a save that was killed (their process is gone).
fn remove_stale_temp_files(dir: &Path, name: &str) {
    let prefix = format!(".{name}.kastell-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let alive = pid
            .parse::<i32>()
            .ok()
            .is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok());
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A plaintext `encryption_passphrase` (not a `{credential ...}` reference).
fn holds_plaintext_passphrase(config: &BorgmaticConfig) -> bool {
    config
        .encryption_passphrase
        .as_ref()
        .is_some_and(|p| !p.expose().trim_start().starts_with("{credential"))
}

/// Replaces `FILE.bak` with a copy of the current file atomically. The copy is 0600 whatever
/// the file's mode: the previous version may hold a passphrase the new one no longer does.
fn keep_previous(
    path: &Path,
    backup: &Path,
    old: Option<&std::fs::Metadata>,
) -> Result<(), SaveError> {
    let staging = backup.with_extension("bak.tmp");
    let _ = std::fs::remove_file(&staging);
    let copied = (|| -> std::io::Result<()> {
        let mut from = File::open(path)?;
        let mut to = crate::private::create_new(&staging)?;
        std::io::copy(&mut from, &mut to)?;
        if let Some(old) = old {
            if nix::unistd::Uid::effective().is_root() {
                let _ = nix::unistd::fchown(
                    &to,
                    Some(nix::unistd::Uid::from_raw(old.uid())),
                    Some(nix::unistd::Gid::from_raw(old.gid())),
                );
            }
        }
        to.sync_all()
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&staging);
        return Err(io(&staging)(e));
    }
    std::fs::rename(&staging, backup).map_err(io(backup))
}

/// `borgmatic config validate` on the candidate file. Ok(false) when borgmatic is not installed.
fn validate_with_borgmatic(candidate: &Path) -> Result<bool, SaveError> {
    let Some(borgmatic) = locate(Tool::Borgmatic) else {
        return Ok(false);
    };
    let out = std::process::Command::new(borgmatic)
        .args(["config", "validate", "--config"])
        .arg(candidate)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(io(candidate))?;
    if out.status.success() {
        return Ok(true);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Name the real file, not the temp file, in borgmatic's message.
    let shown = text.replace(&candidate.display().to_string(), "the config");
    Err(SaveError::Rejected {
        message: shown.trim().to_string(),
    })
}
