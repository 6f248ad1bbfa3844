//! The guide's disaster recovery: a repository, the exported key file and the passphrase are
//! all it takes. No config, no wallet and no keys folder of the machine's own: borg gets a
//! private temporary keys folder holding only the given key, and the passphrase over a pipe.
//! `borg extract` restores (as it lays things out: `DIR/home/me/...`), then Kastell's own
//! reader checks what was written against the archive: every file's size, and every chunk's
//! content against its id (a keyed MAC the archive keeps), links, folders and hard links.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::config::Secret;
use crate::events::Event;
use crate::process::{run, BorgCommand, LogLine, ProcessError, Tools};
use crate::reader::remote::{serve_command, RemoteStore, SshLocation};
use crate::reader::security::{BorgDirs, DirOptions};
use crate::reader::{Access, ReadError, Reader, Trust};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Request {
    /// A folder, or `ssh://user@host[:port]/path`.
    pub location: String,
    pub key_file: PathBuf,
    /// An archive name, or `latest`.
    pub archive: String,
    pub to: PathBuf,
    /// Archive paths to restore (everything when empty), as `borg extract` takes them.
    pub paths: Vec<String>,
    pub passphrase: Secret,
    /// How to reach an SSH repository (`BORG_RSH`), e.g. with a key of the new machine.
    pub ssh_command: Option<String>,
}

/// What was restored, and what the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub archive: String,
    pub files: u64,
    pub bytes: u64,
    pub folders: u64,
    pub links: u64,
    pub others: u64,
    /// Chunks whose content was compared with the archive's id for it.
    pub chunks_checked: u64,
    /// Differences between the archive and what is on disk (at most `PROBLEMS_KEPT`).
    pub problems: Vec<String>,
    pub problem_count: u64,
}

const PROBLEMS_KEPT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("{} is not a key file: {why}", path.display())]
    KeyFile { path: PathBuf, why: String },
    #[error("cannot prepare {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the repository has no archives")]
    NoArchives,
    #[error("the passphrase does not open this key (or the key is not this repository's)")]
    PassphraseWrong,
    #[error(transparent)]
    Process(ProcessError),
    #[error("checking the restored files: {0}")]
    Check(#[from] ReadError),
}

impl From<ProcessError> for RecoverError {
    /// borg's "check your config" wording means nothing here: there is no config.
    fn from(error: ProcessError) -> Self {
        match &error {
            ProcessError::Failed(f) if f.kind == crate::process::FailureKind::PassphraseWrong => {
                RecoverError::PassphraseWrong
            }
            _ => RecoverError::Process(error),
        }
    }
}

/// A private keys folder holding only the given key.
fn keys_folder(key_file: &Path) -> Result<tempfile::TempDir, RecoverError> {
    let text = std::fs::read_to_string(key_file).map_err(|e| RecoverError::KeyFile {
        path: key_file.to_path_buf(),
        why: e.to_string(),
    })?;
    if !text.starts_with("BORG_KEY ") {
        return Err(RecoverError::KeyFile {
            path: key_file.to_path_buf(),
            why: "it does not start with BORG_KEY (a paper key is typed in with `borg key import --paper`)".into(),
        });
    }
    let folder = tempfile::Builder::new()
        .prefix("kastell-recover-keys-")
        .tempdir()
        .map_err(|source| RecoverError::Folder {
            path: std::env::temp_dir(),
            source,
        })?;
    let copy = folder.path().join("recovered.key");
    let mut file = crate::private::create_new(&copy).map_err(|source| RecoverError::Folder {
        path: copy.clone(),
        source,
    })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|source| {
        RecoverError::Folder {
            path: copy.clone(),
            source,
        }
    })?;
    Ok(folder)
}

fn borg(action: &str, request: &Request, keys: &Path) -> BorgCommand {
    let mut command = BorgCommand::new(action)
        .env("BORG_KEYS_DIR", keys)
        .passphrase(request.passphrase.clone());
    if let Some(rsh) = &request.ssh_command {
        command = command.env("BORG_RSH", rsh);
    }
    command
}

/// The newest archive's name (`borg list --last 1`).
async fn newest_archive(
    tools: &Tools,
    request: &Request,
    keys: &Path,
) -> Result<String, RecoverError> {
    let invocation = borg("list", request, keys)
        .arg("--last")
        .arg("1")
        .arg("--short")
        .arg(&request.location)
        .invocation(tools);
    let done = run(
        invocation,
        &crate::events::Discard,
        &CancellationToken::new(),
    )
    .await?
    .into_result()?;
    String::from_utf8_lossy(&done.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or(RecoverError::NoArchives)
}

/// Restores and checks. `progress` gets the fraction extracted so far (0–1).
pub async fn recover(
    request: &Request,
    progress: &(dyn Fn(f64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<Summary, RecoverError> {
    let tools = Tools::detect().await?;
    let keys = keys_folder(&request.key_file)?;
    let archive = match request.archive.as_str() {
        "latest" => newest_archive(&tools, request, keys.path()).await?,
        name => name.to_string(),
    };
    crate::private::create_dirs_below(&request.to, &request.to).map_err(|source| {
        RecoverError::Folder {
            path: request.to.clone(),
            source,
        }
    })?;
    let mut command = borg("extract", request, keys.path())
        .arg("--progress")
        .arg(format!("{}::{archive}", request.location));
    for path in &request.paths {
        command = command.arg(path.trim_start_matches('/'));
    }
    let mut invocation = command.invocation(&tools);
    invocation.cwd = Some(request.to.clone());
    let sink = |event: Event| {
        if let Event::Line(LogLine::ProgressPercent { current, total, .. }) = event {
            if total > 0 {
                progress(current as f64 / total as f64);
            }
        }
    };
    run(invocation, &sink, cancel).await?.into_result()?;
    progress(1.0);

    let (location, keys_dir, passphrase, ssh, wanted, to) = (
        request.location.clone(),
        keys.path().to_path_buf(),
        request.passphrase.clone(),
        request.ssh_command.clone(),
        request.paths.clone(),
        request.to.clone(),
    );
    let archive_name = archive.clone();
    let checked = tokio::task::spawn_blocking(move || {
        check(
            &location,
            &keys_dir,
            &passphrase,
            ssh.as_deref(),
            &archive_name,
            &wanted,
            &to,
        )
    })
    .await
    .map_err(|e| RecoverError::Check(ReadError::corrupt(e.to_string())))??;
    drop(keys);
    Ok(Summary { archive, ..checked })
}

/// Whether archive path `path` is one of `wanted` or below one (all when `wanted` is empty).
fn selected(path: &[u8], wanted: &[String]) -> bool {
    wanted.is_empty()
        || wanted.iter().any(|w| {
            let w = w.trim_matches('/').as_bytes();
            path == w || (path.starts_with(w) && path.get(w.len()) == Some(&b'/'))
        })
}

/// Where archive path `path` was restored under `to`, or None for a path borg would refuse
/// (`..`) or whose parent leads out of `to` (a symlinked parent): the check never reads
/// outside what was restored.
fn restored_at(to: &Path, root: &Path, path: &[u8]) -> Option<PathBuf> {
    let relative = Path::new(std::ffi::OsStr::from_bytes(path));
    if relative
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let on_disk = to.join(relative);
    let parent = on_disk.parent()?.canonicalize().ok()?;
    parent.starts_with(root).then_some(on_disk)
}

/// Kastell's reader, opened with the temporary keys folder, walks the archive and compares.
fn check(
    location: &str,
    keys: &Path,
    passphrase: &Secret,
    ssh_command: Option<&str>,
    archive: &str,
    wanted: &[String],
    to: &Path,
) -> Result<Summary, RecoverError> {
    let dirs = BorgDirs {
        keys: keys.to_path_buf(),
        ..BorgDirs::find(&DirOptions::default())
    };
    let mut trust = Trust::from_env(location);
    trust.dirs = dirs;
    let access = Access {
        passphrase: Some(passphrase.expose().as_bytes()),
        trust: &trust,
    };
    let reader = match SshLocation::parse(location) {
        Some(ssh) => {
            let command = serve_command(&ssh, ssh_command, None)
                .map_err(|e| ReadError::Unsupported(e.to_string()))?;
            Reader::open(Box::new(RemoteStore::connect(&command, &ssh)?), &access)?
        }
        None => Reader::open_local(Path::new(location.trim_start_matches("file://")), &access)?,
    };
    let found = reader.archive(archive)?;
    let root = to
        .canonicalize()
        .map_err(|e| ReadError::Io(to.to_path_buf(), e))?;
    let mut summary = Summary::default();
    let problem = |summary: &mut Summary, text: String| {
        summary.problem_count += 1;
        if summary.problems.len() < PROBLEMS_KEPT {
            summary.problems.push(text);
        }
    };
    reader.for_each_item(&found, |item| {
        if item.part || !selected(&item.path, wanted) {
            return true;
        }
        let shown = String::from_utf8_lossy(&item.path).into_owned();
        let Some(on_disk) = restored_at(to, &root, &item.path) else {
            problem(
                &mut summary,
                format!("{shown}: not checked (outside the target)"),
            );
            return true;
        };
        let meta = match on_disk.symlink_metadata() {
            Ok(m) => m,
            Err(e) => {
                problem(&mut summary, format!("{shown}: not restored ({e})"));
                return true;
            }
        };
        match item.mode & 0o170000 {
            0o040000 => {
                summary.folders += 1;
                if !meta.is_dir() {
                    problem(&mut summary, format!("{shown}: not a folder"));
                }
            }
            0o120000 => {
                summary.links += 1;
                let target = std::fs::read_link(&on_disk).ok();
                let expected = item.source.as_deref().map(std::ffi::OsStr::from_bytes);
                if target.as_deref().map(Path::as_os_str) != expected {
                    problem(&mut summary, format!("{shown}: the link points elsewhere"));
                }
            }
            0o100000 => {
                summary.files += 1;
                if !meta.is_file() {
                    problem(&mut summary, format!("{shown}: not a file"));
                    return true;
                }
                // A hard link of borg 1.x without chunks of its own: the same inode as its
                // master, which is checked where it stands.
                if item.chunks.is_empty() && item.source.is_some() && !item.hardlink_master {
                    let master = to.join(std::ffi::OsStr::from_bytes(
                        item.source.as_deref().unwrap_or_default(),
                    ));
                    let same = master
                        .symlink_metadata()
                        .is_ok_and(|m| m.ino() == meta.ino() && m.dev() == meta.dev());
                    if !same {
                        problem(
                            &mut summary,
                            format!("{shown}: not a hard link of its master"),
                        );
                    }
                    summary.bytes += meta.len();
                    return true;
                }
                let expected: u64 = item.chunks.iter().map(|(_, size)| size).sum();
                if meta.len() != expected {
                    problem(
                        &mut summary,
                        format!("{shown}: {} bytes, the archive has {expected}", meta.len()),
                    );
                    return true;
                }
                summary.bytes += expected;
                match compare_chunks(&reader, &on_disk, &item.chunks) {
                    Ok(n) => summary.chunks_checked += n,
                    Err(why) => problem(&mut summary, format!("{shown}: {why}")),
                }
            }
            _ => summary.others += 1,
        }
        true
    })?;
    Ok(summary)
}

/// Reads `file` chunk by chunk as the archive cut it and compares each chunk's id.
fn compare_chunks(reader: &Reader, file: &Path, chunks: &[([u8; 32], u64)]) -> Result<u64, String> {
    let mut opened = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let mut buffer = Vec::new();
    for (n, (id, size)) in chunks.iter().enumerate() {
        let size = usize::try_from(*size).map_err(|e| e.to_string())?;
        buffer.resize(size, 0);
        opened.read_exact(&mut buffer).map_err(|e| e.to_string())?;
        if reader.id_hash(&buffer) != *id {
            return Err(format!("chunk {n} differs from the archive"));
        }
    }
    Ok(chunks.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_path_selects_itself_and_what_is_below_it() {
        let wanted = vec!["home/me/Documents".to_string()];
        assert!(selected(b"home/me/Documents", &wanted));
        assert!(selected(b"home/me/Documents/a.txt", &wanted));
        assert!(!selected(b"home/me/Documents2/a.txt", &wanted));
        assert!(!selected(b"home/me", &wanted));
        assert!(selected(b"anything", &[]));
    }

    #[test]
    fn the_check_never_reads_outside_the_restored_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let to = dir.path().join("to");
        std::fs::create_dir_all(to.join("home/me")).expect("folders");
        std::os::unix::fs::symlink("/etc", to.join("home/evil")).expect("symlink");
        let root = to.canonicalize().expect("root");
        assert_eq!(
            restored_at(&to, &root, b"home/me/a.txt"),
            Some(to.join("home/me/a.txt"))
        );
        assert_eq!(restored_at(&to, &root, b"home/../../etc/passwd"), None);
        assert_eq!(restored_at(&to, &root, b"home/evil/passwd"), None);
    }
}
