//! Folders and files only their owner can read: Kastell's cache (every path name of encrypted
//! archives), state (history, logs), runtime folders and borg's security records are 0700
//! folders of 0600 files, as borg keeps its own cache. Files are created exclusively and never
//! through a symlink someone planted.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents as 0700 folders; tightens `dir` itself to 0700 when
/// it already exists with wider permissions. Refuses a `dir` that is a symlink or belongs to
/// someone else (a folder planted in a shared place).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} belongs to another user", dir.display()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `create_dir` for `dir` and every folder between `base` and it (Kastell's own folders
/// below a shared one such as `~/.cache`).
pub fn create_dirs_below(base: &Path, dir: &Path) -> std::io::Result<()> {
    create_dir(base)?;
    let Ok(below) = dir.strip_prefix(base) else {
        return create_dir(dir);
    };
    let mut here = base.to_path_buf();
    for part in below.components() {
        here.push(part);
        create_dir(&here)?;
    }
    Ok(())
}

/// Kastell's cache folder (`$XDG_CACHE_HOME/kastell`), state folder
/// (`$XDG_STATE_HOME/kastell`) and runtime folder (`$XDG_RUNTIME_DIR/kastell`). Without a home
/// (or a runtime folder) they are this user's own folder in the temporary folder, which
/// `create_dir` refuses when someone else made it first.
pub fn cache_dir() -> std::path::PathBuf {
    dirs::cache_dir()
        .map(|d| d.join("kastell"))
        .unwrap_or_else(|| fallback("cache"))
}

pub fn state_dir() -> std::path::PathBuf {
    dirs::state_dir()
        .map(|d| d.join("kastell"))
        .unwrap_or_else(|| fallback("state"))
}

pub fn runtime_dir() -> std::path::PathBuf {
    dirs::runtime_dir()
        .map(|d| d.join("kastell"))
        .unwrap_or_else(|| fallback("run"))
}

fn fallback(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "kastell-{}-{what}",
        nix::unistd::geteuid().as_raw()
    ))
}

/// A new 0600 file at `path`: refused if anything (a file, a symlink) is already there.
pub fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Creates or truncates `path` as a 0600 file; never follows a symlink at `path`.
pub fn create_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` for appending, creating it 0600; never follows a symlink at `path`.
pub fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(path)
}

/// Replaces `path` with `bytes` atomically: a 0600 temporary file beside it, renamed over it.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut serial = 0u32;
    let (temp, mut file) = loop {
        let temp = dir.join(format!(".{name}.{}-{serial}.tmp", std::process::id()));
        match create_new(&temp) {
            Ok(file) => break (temp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && serial < 100 => {
                serial += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_0700_and_files_0600_and_a_planted_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir(&deep).unwrap();
        for d in [dir.path().join("a"), dir.path().join("a/b"), deep.clone()] {
            assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        }
        let wide = dir.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&wide).unwrap();
        assert_eq!(std::fs::metadata(&wide).unwrap().mode() & 0o777, 0o700);

        let file = deep.join("f");
        write_file(&file, b"x").unwrap();
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let planted = deep.join("log");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &planted).unwrap();
        assert!(create_new(&planted).is_err());
        assert!(open_append(&planted).is_err());
        assert!(!dir.path().join("elsewhere").exists());
    }
}
