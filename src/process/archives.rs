//! Repository-level reads through borgmatic, so `ssh_command`, passcommands, credentials and
//! `remote_path` behave exactly as they do in the user's scheduled runs.

use crate::config::{BorgmaticConfig, RepositoryConfig, RepositoryKind, Secret};
use crate::credentials::relay::serve_to_borgmatic;
use crate::events::EventSink;
use crate::process::{run, BorgmaticCommand, Completed, FailureKind, ProcessError, Tools};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// One archive in a repository's listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Archive {
    /// The repository's label, or its path when it has none.
    pub repository: String,
    pub name: String,
    /// borg's ISO time (local, microseconds), as `borg list --json` gives it.
    pub time: String,
    pub id: String,
}

/// What `borg info --json` says about one archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveInfo {
    pub name: String,
    pub id: String,
    pub start: String,
    pub end: String,
    pub duration_seconds: f64,
    pub hostname: String,
    pub username: String,
    pub original_size: u64,
    pub compressed_size: u64,
    pub deduplicated_size: u64,
    pub file_count: u64,
}

#[derive(Deserialize)]
struct RepoListEntry {
    #[serde(default)]
    archives: Vec<RawArchive>,
}

#[derive(Deserialize)]
struct RawArchive {
    name: String,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    start: Option<String>,
    id: String,
}

#[derive(Deserialize)]
struct InfoEntry {
    #[serde(default)]
    archives: Vec<RawInfoArchive>,
}

#[derive(Deserialize)]
struct RawInfoArchive {
    name: String,
    id: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    username: String,
    stats: RawStats,
}

#[derive(Deserialize)]
struct RawStats {
    original_size: u64,
    compressed_size: u64,
    deduplicated_size: u64,
    nfiles: u64,
}

fn parse_json<T: for<'de> Deserialize<'de>>(
    program: &str,
    stdout: &[u8],
) -> Result<T, ProcessError> {
    serde_json::from_slice(stdout).map_err(|e| ProcessError::BadOutput {
        program: program.to_string(),
        detail: e.to_string(),
    })
}

/// Turns a finished run into a result; a closed SSH connection is explained by trying the
/// host's port ourselves, since ssh's own reason ("Connection refused") does not always reach
/// borg's log before borg exits.
pub(crate) async fn checked(
    outcome: Result<Completed, ProcessError>,
    repository: &RepositoryConfig,
) -> Result<Completed, ProcessError> {
    let error = match outcome.and_then(Completed::into_result) {
        Ok(done) => return Ok(done),
        Err(e) => e,
    };
    let (ProcessError::Failed(failure), RepositoryKind::Ssh { host, port, .. }) =
        (&error, repository.kind())
    else {
        return Err(error);
    };
    if failure.kind != FailureKind::ConnectionClosed {
        return Err(error);
    }
    let port = port.unwrap_or(22);
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await;
    let reason = match probe {
        Ok(Ok(_)) => return Err(error),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 seconds".to_string(),
    };
    let mut explained = failure.clone();
    explained.kind = FailureKind::HostUnreachable;
    explained.message = format!("connecting to {host} port {port} failed: {reason}");
    Err(ProcessError::Failed(explained))
}

/// The repository's archives, newest first.
pub async fn list_archives(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<Vec<Archive>, ProcessError> {
    list_archives_with(config, repository, None, sink, cancel).await
}

/// The same, with a passphrase typed for this run (served through the one-run relay).
pub async fn list_archives_with(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    typed_passphrase: Option<&Secret>,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<Vec<Archive>, ProcessError> {
    let tools = Tools::detect().await?;
    let mut command = BorgmaticCommand::new(&config.path, tools.repo_list_action())
        .repository(repository.label.as_deref().unwrap_or(&repository.path))
        .arg("--json");
    let relay = match typed_passphrase {
        Some(secret) => {
            let (relay, passcommand) = serve_to_borgmatic(secret.clone())?;
            command = command.passcommand(passcommand);
            Some(relay)
        }
        None => None,
    };
    let invocation = command.invocation(&tools);
    let done = checked(run(invocation, sink, cancel).await, repository).await;
    drop(relay);
    let done = done?;
    let entries: Vec<RepoListEntry> = parse_json("borgmatic", &done.stdout)?;
    let name = repository.display_name().to_string();
    let mut archives: Vec<Archive> = entries
        .into_iter()
        .flat_map(|e| e.archives)
        .map(|a| Archive {
            repository: name.clone(),
            time: a.time.or(a.start).unwrap_or_default(),
            name: a.name,
            id: a.id,
        })
        .collect();
    // ISO timestamps sort as text; ties fall back to the name so the order is stable.
    archives.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.name.cmp(&a.name)));
    Ok(archives)
}

/// `borg info --json` for one archive, through borgmatic.
pub async fn archive_info(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    archive: &str,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<ArchiveInfo, ProcessError> {
    let tools = Tools::detect().await?;
    let invocation = BorgmaticCommand::new(&config.path, "info")
        .repository(repository.label.as_deref().unwrap_or(&repository.path))
        .arg("--archive")
        .arg(archive)
        .arg("--json")
        .invocation(&tools);
    let done = checked(run(invocation, sink, cancel).await, repository).await?;
    let entries: Vec<InfoEntry> = parse_json("borgmatic", &done.stdout)?;
    let raw = entries
        .into_iter()
        .flat_map(|e| e.archives)
        .next()
        .ok_or_else(|| ProcessError::BadOutput {
            program: "borgmatic info".into(),
            detail: format!("no archive named {archive} in the answer"),
        })?;
    Ok(ArchiveInfo {
        name: raw.name,
        id: raw.id,
        start: raw.start,
        end: raw.end,
        duration_seconds: raw.duration,
        hostname: raw.hostname,
        username: raw.username,
        original_size: raw.stats.original_size,
        compressed_size: raw.stats.compressed_size,
        deduplicated_size: raw.stats.deduplicated_size,
        file_count: raw.stats.nfiles,
    })
}

/// How a path differs between two archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DiffChange {
    Added,
    Removed,
    Changed,
}

/// One path of `borg diff --json-lines`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffEntry {
    pub path: String,
    pub change: DiffChange,
    /// Size of an added or removed file; for changed content, bytes added.
    pub added_bytes: u64,
    /// For changed content, bytes removed.
    pub removed_bytes: u64,
    /// borg's change types, e.g. `modified`, `mode`, `mtime`.
    pub kinds: Vec<String>,
}

#[derive(Deserialize)]
struct RawDiffLine {
    path: String,
    #[serde(default)]
    changes: Vec<serde_json::Value>,
}

/// Turns borg's `--json-lines` diff (one object a line) into entries; lines that are not
/// JSON objects (never seen, but borg's stdout is not ours) are skipped.
pub fn parse_diff_lines(stdout: &[u8]) -> Vec<DiffEntry> {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .filter_map(|line| serde_json::from_str::<RawDiffLine>(line).ok())
        .map(|raw| {
            let mut entry = DiffEntry {
                path: raw.path,
                change: DiffChange::Changed,
                added_bytes: 0,
                removed_bytes: 0,
                kinds: Vec::new(),
            };
            for change in &raw.changes {
                let kind = change["type"].as_str().unwrap_or_default().to_string();
                let number = |key: &str| change[key].as_u64().unwrap_or(0);
                if kind.starts_with("added") {
                    entry.change = DiffChange::Added;
                    entry.added_bytes = number("size");
                } else if kind.starts_with("removed") {
                    entry.change = DiffChange::Removed;
                    entry.added_bytes = number("size");
                } else if kind == "modified" {
                    entry.added_bytes = number("added");
                    entry.removed_bytes = number("removed");
                }
                entry.kinds.push(kind);
            }
            entry
        })
        .collect()
}

/// What changed from archive `older` to archive `newer` (`borg diff --json-lines`, through
/// borgmatic so the config's passphrase, ssh command and remote path apply).
pub async fn diff_archives(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    older: &str,
    newer: &str,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<Vec<DiffEntry>, ProcessError> {
    let tools = Tools::detect().await?;
    let invocation = BorgmaticCommand::new(&config.path, "borg")
        .repository(repository.label.as_deref().unwrap_or(&repository.path))
        .arg("diff")
        .arg("--json-lines")
        .arg(format!("::{older}"))
        .arg(newer)
        .invocation(&tools);
    let done = checked(run(invocation, sink, cancel).await, repository).await?;
    Ok(parse_diff_lines(&done.stdout))
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn diff_lines_become_added_removed_and_changed_paths() {
        let out = br#"{"path": "home/me/new.txt", "changes": [{"type": "added", "size": 12}]}
{"path": "home/me/old", "changes": [{"type": "removed directory"}]}
{"path": "home/me/notes.md", "changes": [{"type": "modified", "added": 300, "removed": 100}, {"type": "mtime", "old_mtime": "a", "new_mtime": "b"}]}
{"path": "home/me/run.sh", "changes": [{"type": "mode", "old_mode": "-rw-r--r--", "new_mode": "-rwxr-xr-x"}]}
"#;
        let entries = parse_diff_lines(out);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].change, DiffChange::Added);
        assert_eq!(entries[0].added_bytes, 12);
        assert_eq!(entries[1].change, DiffChange::Removed);
        assert_eq!(entries[2].change, DiffChange::Changed);
        assert_eq!(
            (entries[2].added_bytes, entries[2].removed_bytes),
            (300, 100)
        );
        assert_eq!(entries[2].kinds, vec!["modified", "mtime"]);
        assert_eq!(entries[3].kinds, vec!["mode"]);
    }
}
