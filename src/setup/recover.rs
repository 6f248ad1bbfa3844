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

/// Where the repository's key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A key exported to a file (`borg key export`, Kastell's wizard).
    File(PathBuf),
    /// A paper key (`borg key export --paper` or the printable page) typed back in.
    Paper(String),
    /// The key is in the repository (repokey): the passphrase alone opens it.
    InRepository,
}

#[derive(Debug, Clone)]
pub struct Request {
    /// A folder, or `ssh://user@host[:port]/path`.
    pub location: String,
    pub key: KeySource,
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
    /// A typed paper key that does not add up, line by line as borg checks it.
    #[error("the paper key: {0}")]
    PaperKey(String),
    #[error("cannot prepare {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the repository has no archives")]
    NoArchives,
    #[error("{} is not empty: restore into an empty folder (nothing of yours is replaced), then move what you need", .0.display())]
    NotEmpty(PathBuf),
    #[error("the passphrase does not open this key (or the key is not this repository's)")]
    PassphraseWrong,
    #[error(
        "this repository keeps its key in a key file: give the exported key file or the paper key"
    )]
    KeyNeeded,
    #[error(transparent)]
    Process(ProcessError),
    #[error("reading the repository: {0}")]
    Check(#[from] ReadError),
}

impl RecoverError {
    /// What the window says it is (and offers to do about it).
    pub fn kind(&self) -> crate::errors::ErrorKind {
        use crate::errors::ErrorKind;
        match self {
            RecoverError::KeyFile { .. }
            | RecoverError::PaperKey(_)
            | RecoverError::NotEmpty(_) => ErrorKind::BadInput,
            RecoverError::KeyNeeded => ErrorKind::KeyMissing,
            RecoverError::PassphraseWrong => ErrorKind::PassphraseWrong,
            RecoverError::Folder { .. } => ErrorKind::Other,
            RecoverError::NoArchives => ErrorKind::NotFound,
            RecoverError::Process(e) => e.kind(),
            RecoverError::Check(e) => e.kind(),
        }
    }
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

/// A paper key's lines as borg's `key import --paper` takes them (`data-checksum`, the id line
/// first), each checked here first so a typo is named by its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperKey {
    lines: Vec<String>,
}

fn sha256_hex(data: &[u8], digits: usize) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex.truncate(digits);
    hex
}

impl PaperKey {
    /// Reads the typed text: the `id:` line and the numbered lines (spaces, the page's other
    /// lines and the `N:` prefixes do not matter), checked as borg checks them.
    pub fn parse(text: &str) -> Result<PaperKey, RecoverError> {
        let wrong = |why: String| RecoverError::PaperKey(why);
        let mut id: Option<(usize, String, String)> = None;
        let mut body: Vec<(usize, String)> = Vec::new();
        for line in text.lines() {
            let Some((prefix, rest)) = line.split_once(':') else {
                continue;
            };
            let prefix = prefix.trim().to_ascii_lowercase();
            let rest: String = rest
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if prefix == "id" {
                let (data, checksum) = rest
                    .split_once('-')
                    .ok_or_else(|| wrong("the id line needs its “- checksum” at the end".into()))?;
                if sha256_hex(data.as_bytes(), 2) != checksum {
                    return Err(wrong(
                        "the id line does not match its checksum: check it for a typo".into(),
                    ));
                }
                let count = data
                    .split('/')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        wrong("the id line does not start with the number of lines".into())
                    })?;
                let mut parts = data.split('/').skip(1);
                let (Some(repository), Some(overall)) = (parts.next(), parts.next()) else {
                    return Err(wrong(
                        "the id line needs three parts separated by “/”".into(),
                    ));
                };
                id = Some((count, repository.to_string(), overall.to_string()));
            } else if let Ok(number) = prefix.parse::<usize>() {
                body.push((number, rest));
            }
        }
        let (count, repository, overall) =
            id.ok_or_else(|| wrong("there is no “id:” line (it comes first on the page)".into()))?;
        let mut lines = vec![format!(
            "{count}/{repository}/{overall}-{}",
            sha256_hex(format!("{count}/{repository}/{overall}").as_bytes(), 2)
        )];
        let mut binary = Vec::new();
        for expected in 1..=count {
            let Some((_, rest)) = body.iter().find(|(n, _)| *n == expected) else {
                return Err(wrong(format!("line {expected} of {count} is missing")));
            };
            let (data, checksum) = rest.split_once('-').ok_or_else(|| {
                wrong(format!("line {expected} needs its “- checksum” at the end"))
            })?;
            let part = crate::reader::store::parse_hex(data).ok_or_else(|| {
                wrong(format!(
                    "line {expected} holds more than the digits 0–9 and letters a–f"
                ))
            })?;
            let index = u16::try_from(expected)
                .map_err(|_| wrong("more lines than a key has".into()))?
                .to_be_bytes();
            if sha256_hex(&[&index[..], &part].concat(), 2) != checksum {
                return Err(wrong(format!(
                    "line {expected} does not match its checksum: check it for a typo"
                )));
            }
            binary.extend_from_slice(&part);
            lines.push(format!("{data}-{checksum}"));
        }
        if sha256_hex(&binary, 12) != overall {
            return Err(wrong(
                "every line is right but together they are not the key: is a line in the wrong place?"
                    .into(),
            ));
        }
        Ok(PaperKey { lines })
    }

    /// What borg reads on its standard input, a line per prompt.
    fn answers(&self) -> Secret {
        Secret::new(self.lines.join("\n") + "\n")
    }
}

fn private_folder() -> Result<tempfile::TempDir, RecoverError> {
    tempfile::Builder::new()
        .prefix("kastell-recover-keys-")
        .tempdir()
        .map_err(|source| RecoverError::Folder {
            path: std::env::temp_dir(),
            source,
        })
}

/// A private keys folder holding only the given key file.
fn keys_folder_with(key_file: &Path) -> Result<tempfile::TempDir, RecoverError> {
    let text = std::fs::read_to_string(key_file).map_err(|e| RecoverError::KeyFile {
        path: key_file.to_path_buf(),
        why: e.to_string(),
    })?;
    if !text.starts_with("BORG_KEY ") {
        return Err(RecoverError::KeyFile {
            path: key_file.to_path_buf(),
            why: "it does not start with BORG_KEY (a paper key is typed in, not opened as a file)"
                .into(),
        });
    }
    let folder = private_folder()?;
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

fn borg(action: &str, keys: &Path, passphrase: &Secret, ssh_command: Option<&str>) -> BorgCommand {
    let mut command = BorgCommand::new(action)
        .env("BORG_KEYS_DIR", keys)
        .passphrase(passphrase.clone());
    if let Some(rsh) = ssh_command {
        command = command.env("BORG_RSH", rsh);
    }
    command
}

/// A repository opened for a recovery: its key in a private folder of its own (nothing goes
/// into the machine's `~/.config/borg/keys`), the passphrase and how to reach it.
pub struct Opened {
    location: String,
    keys: tempfile::TempDir,
    passphrase: Secret,
    ssh_command: Option<String>,
}

/// One archive to choose from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveChoice {
    pub name: String,
    /// borg's ISO time.
    pub time: String,
}

/// A folder to restore on its own: the archive's top folders below the folder that holds
/// everything (`home/me/Documents`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderChoice {
    pub path: String,
    pub files: u64,
    pub bytes: u64,
}

/// Prepares the key and opens the repository with it: a wrong passphrase, a key of another
/// repository or a typo in a paper key is said here, before anything is restored.
pub async fn open(
    location: &str,
    key: &KeySource,
    passphrase: &Secret,
    ssh_command: Option<&str>,
) -> Result<Opened, RecoverError> {
    let keys = match key {
        KeySource::File(path) => keys_folder_with(path)?,
        KeySource::InRepository => private_folder()?,
        KeySource::Paper(text) => {
            let paper = PaperKey::parse(text)?;
            let folder = private_folder()?;
            let tools = Tools::detect().await?;
            let mut invocation = borg("key", folder.path(), passphrase, ssh_command)
                .arg("import")
                .arg("--paper")
                .arg(location)
                .invocation(&tools);
            invocation.stdin_secret = Some(paper.answers());
            run(
                invocation,
                &crate::events::Discard,
                &CancellationToken::new(),
            )
            .await?
            .into_result()?;
            let written = std::fs::read_dir(folder.path())
                .map(|entries| entries.count())
                .unwrap_or(0);
            if written == 0 {
                return Err(RecoverError::PaperKey(
                    "borg did not take it (is it this repository's key?)".into(),
                ));
            }
            folder
        }
    };
    let opened = Opened {
        location: location.to_string(),
        keys,
        passphrase: passphrase.clone(),
        ssh_command: ssh_command.map(str::to_string),
    };
    let reader = opened.reader_blocking().await?;
    drop(reader);
    Ok(opened)
}

impl Opened {
    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn passphrase(&self) -> &Secret {
        &self.passphrase
    }

    /// The key file this recovery opened the repository with (none for a repokey repository):
    /// what `borgmatic key import` takes to go on backing up into it.
    pub fn key_file(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.keys.path())
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_file())
    }

    fn reader(&self) -> Result<Reader, RecoverError> {
        open_reader(
            &self.location,
            self.keys.path(),
            &self.passphrase,
            self.ssh_command.as_deref(),
        )
    }

    async fn reader_blocking(&self) -> Result<Reader, RecoverError> {
        let (location, keys, passphrase, ssh) = (
            self.location.clone(),
            self.keys.path().to_path_buf(),
            self.passphrase.clone(),
            self.ssh_command.clone(),
        );
        tokio::task::spawn_blocking(move || {
            open_reader(&location, &keys, &passphrase, ssh.as_deref())
        })
        .await
        .map_err(|e| RecoverError::Check(ReadError::corrupt(e.to_string())))?
    }

    /// The archives, newest first.
    pub async fn archives(&self) -> Result<Vec<ArchiveChoice>, RecoverError> {
        let reader = self.reader_blocking().await?;
        let mut all: Vec<ArchiveChoice> = reader
            .archives()
            .iter()
            .map(|a| ArchiveChoice {
                name: a.name.clone(),
                time: a.time.clone(),
            })
            .collect();
        all.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
        Ok(all)
    }

    /// The folders of `archive` one can restore on their own.
    pub fn folders(&self, archive: &str) -> Result<Vec<FolderChoice>, RecoverError> {
        let reader = self.reader()?;
        let found = reader.archive(archive)?;
        let mut paths: Vec<(Vec<u8>, bool, u64)> = Vec::new();
        reader.for_each_item(&found, |item| {
            if !item.part {
                let size = item.chunks.iter().map(|(_, s)| s).sum();
                paths.push((item.path.clone(), item.mode & 0o170000 == 0o040000, size));
            }
            true
        })?;
        Ok(top_folders(&paths))
    }

    /// Restores `paths` of `archive` (everything when empty) under `to` and checks them.
    pub async fn restore(
        &self,
        archive: &str,
        paths: &[String],
        to: &Path,
        progress: &(dyn Fn(f64) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Summary, RecoverError> {
        let tools = Tools::detect().await?;
        // borg extract replaces what is in its way: only an empty (or new) folder is used.
        if std::fs::read_dir(to).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(RecoverError::NotEmpty(to.to_path_buf()));
        }
        crate::private::create_dirs_below(to, to).map_err(|source| RecoverError::Folder {
            path: to.to_path_buf(),
            source,
        })?;
        let mut command = borg(
            "extract",
            self.keys.path(),
            &self.passphrase,
            self.ssh_command.as_deref(),
        )
        .arg("--progress")
        .arg(format!("{}::{archive}", self.location));
        for path in paths {
            command = command.arg(path.trim_start_matches('/'));
        }
        let mut invocation = command.invocation(&tools);
        invocation.cwd = Some(to.to_path_buf());
        let sink = |event: Event| {
            if let Event::Line(LogLine::ProgressPercent { current, total, .. }) = event {
                if total > 0 {
                    progress(current as f64 / total as f64);
                }
            }
        };
        run(invocation, &sink, cancel).await?.into_result()?;
        progress(1.0);

        let (location, keys_dir, passphrase, ssh, wanted, to_owned, name) = (
            self.location.clone(),
            self.keys.path().to_path_buf(),
            self.passphrase.clone(),
            self.ssh_command.clone(),
            paths.to_vec(),
            to.to_path_buf(),
            archive.to_string(),
        );
        let checked = tokio::task::spawn_blocking(move || {
            let reader = open_reader(&location, &keys_dir, &passphrase, ssh.as_deref())?;
            check(&reader, &name, &wanted, &to_owned)
        })
        .await
        .map_err(|e| RecoverError::Check(ReadError::corrupt(e.to_string())))??;
        Ok(Summary {
            archive: archive.to_string(),
            ..checked
        })
    }
}

/// The children of the deepest folder that holds every path (what a home backup's archive
/// shows as `home/me/…`), with their files and bytes.
fn top_folders(paths: &[(Vec<u8>, bool, u64)]) -> Vec<FolderChoice> {
    let split =
        |p: &[u8]| -> Vec<Vec<u8>> { p.split(|b| *b == b'/').map(<[u8]>::to_vec).collect() };
    let shared = |a: &[Vec<u8>], b: &[Vec<u8>]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
    // The common folder: where every file is (their parents' shared part), then narrowed by
    // folders beside it; folders above it (`home`, `home/me`) are its own ancestors.
    let mut common: Option<Vec<Vec<u8>>> = None;
    for (path, is_folder, _) in paths {
        if *is_folder {
            continue;
        }
        let mut parent = split(path);
        parent.pop();
        common = Some(match common {
            None => parent,
            Some(mut c) => {
                c.truncate(shared(&c, &parent));
                c
            }
        });
    }
    let mut common = common.unwrap_or_default();
    for (path, is_folder, _) in paths {
        let parts = split(path);
        if *is_folder && !common.starts_with(&parts) {
            common.truncate(shared(&common, &parts));
        }
    }
    let mut found: Vec<FolderChoice> = Vec::new();
    for (path, _, size) in paths {
        let parts = split(path);
        if parts.len() <= common.len() {
            continue;
        }
        let top = String::from_utf8_lossy(&parts[..=common.len()].join(&b'/')).into_owned();
        let is_entry_itself = parts.len() == common.len() + 1;
        match found.iter_mut().find(|f| f.path == top) {
            Some(folder) => {
                folder.files += u64::from(!is_entry_itself);
                folder.bytes += size;
            }
            None => found.push(FolderChoice {
                path: top,
                files: u64::from(!is_entry_itself),
                bytes: *size,
            }),
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Restores and checks, in one go (`kastell recover`).
pub async fn recover(
    request: &Request,
    progress: &(dyn Fn(f64) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<Summary, RecoverError> {
    let opened = open(
        &request.location,
        &request.key,
        &request.passphrase,
        request.ssh_command.as_deref(),
    )
    .await?;
    let archive = match request.archive.as_str() {
        "latest" => {
            opened
                .archives()
                .await?
                .into_iter()
                .next()
                .ok_or(RecoverError::NoArchives)?
                .name
        }
        name => name.to_string(),
    };
    opened
        .restore(&archive, &request.paths, &request.to, progress, cancel)
        .await
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

/// Kastell's reader with the recovery's own keys folder.
fn open_reader(
    location: &str,
    keys: &Path,
    passphrase: &Secret,
    ssh_command: Option<&str>,
) -> Result<Reader, RecoverError> {
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
    let opened = match SshLocation::parse(location) {
        Some(ssh) => {
            let command = serve_command(&ssh, ssh_command, None)
                .map_err(|e| ReadError::Unsupported(e.to_string()))?;
            Reader::open(Box::new(RemoteStore::connect(&command, &ssh)?), &access)
        }
        None => Reader::open_local(Path::new(location.trim_start_matches("file://")), &access),
    };
    opened.map_err(|e| match e {
        ReadError::WrongPassphrase => RecoverError::PassphraseWrong,
        ReadError::KeyfileNotFound(_) => RecoverError::KeyNeeded,
        other => RecoverError::Check(other),
    })
}

/// Walks the archive with Kastell's reader and compares what was restored under `to`.
fn check(
    reader: &Reader,
    archive: &str,
    wanted: &[String],
    to: &Path,
) -> Result<Summary, RecoverError> {
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
                match compare_chunks(reader, &on_disk, &item.chunks) {
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
    fn the_folders_to_choose_are_the_children_of_the_folder_that_holds_everything() {
        let item = |p: &str, folder: bool, size: u64| (p.as_bytes().to_vec(), folder, size);
        let paths = vec![
            item("home", true, 0),
            item("home/me", true, 0),
            item("home/me/Documents", true, 0),
            item("home/me/Documents/a.txt", false, 10),
            item("home/me/Documents/b.txt", false, 5),
            item("home/me/Pictures", true, 0),
            item("home/me/Pictures/c.jpg", false, 100),
            item("home/me/.bashrc", false, 1),
        ];
        let found = top_folders(&paths);
        let shown: Vec<(&str, u64, u64)> = found
            .iter()
            .map(|f| (f.path.as_str(), f.files, f.bytes))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("home/me/.bashrc", 0, 1),
                ("home/me/Documents", 2, 15),
                ("home/me/Pictures", 1, 100)
            ]
        );
    }

    #[test]
    fn a_paper_key_without_its_id_line_or_with_a_bad_checksum_is_refused_by_line() {
        let missing = PaperKey::parse(" 1: 86a961 6c676f - 13\n").expect_err("no id line");
        assert!(missing.to_string().contains("no “id:” line"), "{missing}");
        let id = "1/0123456789abcdef01/0123456789ab";
        let good_id = format!("id: {id} - {}", sha256_hex(id.as_bytes(), 2));
        let wrong = PaperKey::parse(&format!("{good_id}\n 1: 86a961 - zz\n")).expect_err("typo");
        assert!(
            wrong
                .to_string()
                .contains("line 1 does not match its checksum"),
            "{wrong}"
        );
        let short = PaperKey::parse(&good_id).expect_err("no lines");
        assert!(
            short.to_string().contains("line 1 of 1 is missing"),
            "{short}"
        );
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
