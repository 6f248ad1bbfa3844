//! `kastell ls` (a folder's children), `kastell find`, `kastell versions` and `kastell index`:
//! answered from the archive index (built once per archive with the native reader, then
//! instant).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use serde_json::json;

use crate::browse::Session;
use crate::config::BorgmaticConfig;
use crate::index::{self, ArchiveIndex};
use crate::reader::listing::{display_bytes, iso_time};
use crate::reader::ArchiveRef;

/// The session of a repository of `config`, or why Kastell cannot read it (these commands
/// need the index, which needs the native reader).
pub(crate) async fn session_for(config: &Path, repository: &str) -> anyhow::Result<Session> {
    let session = crate::browse::open_uncached(config, repository).await?;
    say_pruned(&session);
    Ok(session)
}

/// Says on stderr how many indexes of archives that are gone the session removed.
pub(crate) fn say_pruned(session: &Session) {
    let pruned = session.pruned_indexes();
    if pruned > 0 {
        eprintln!("kastell: removed {pruned} index(es) of archives that are gone");
    }
}

/// Says on stderr that `archive` is being indexed (the first time only).
fn say_indexing(archive: &ArchiveRef) {
    eprintln!("kastell: indexing archive {} (once)…", archive.name);
}

/// The index of `archive`, built now (with a note on stderr) when it is not cached yet.
pub(crate) fn index_of(
    session: &Session,
    archive: &ArchiveRef,
) -> anyhow::Result<std::sync::Arc<ArchiveIndex>> {
    session
        .index_telling(archive, &mut say_indexing, &AtomicBool::new(false))
        .with_context(|| format!("indexing archive {}", archive.name))
}

fn archives_for(session: &Session, archive: Option<&str>) -> anyhow::Result<Vec<ArchiveRef>> {
    Ok(match archive {
        Some(name) => vec![session.archive(name)?],
        None => session.archives().to_vec(),
    })
}

/// Find entries by name (shell-style, case-insensitive) in one archive or all of them.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// One archive (a name or `latest`); without it, every archive of the repository.
    #[arg(long, value_name = "NAME")]
    archive: Option<String>,
    /// A JSON array of {"archive", "path", "type", "size", "mtime"}.
    #[arg(long)]
    json: bool,
    /// `*.jpg`, `report-202?.odt`, `[Rr]eadme*`.
    pattern: String,
}

/// `kastell find`: entries whose name matches PATTERN, in one archive or all of them.
pub async fn find(args: FindArgs) -> anyhow::Result<ExitCode> {
    let FindArgs {
        config,
        repository,
        archive,
        json,
        pattern,
    } = args;
    let regex = index::name_pattern(&pattern).map_err(anyhow::Error::msg)?;
    let session = session_for(&config, &repository).await?;
    let archives = archives_for(&session, archive.as_deref())?;
    let matches = session.search(
        &archives,
        &regex,
        &mut say_indexing,
        &AtomicBool::new(false),
    )?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = Vec::new();
    for crate::browse::Matches {
        archive,
        index,
        entries,
    } in &matches
    {
        for &i in entries {
            let path = display_bytes(&index.path(i));
            if json {
                let e = index.entry(i);
                found.push(json!({
                    "archive": archive.name,
                    "path": path,
                    "type": crate::reader::listing::filemode(e.mode)[..1].to_string(),
                    "size": e.size,
                    "mtime": iso_time(i128::from(e.mtime_ns)),
                }));
            } else {
                writeln!(out, "{} {path}", archive.name)?;
            }
        }
    }
    if json {
        serde_json::to_writer_pretty(&mut out, &found)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Every archive's version of a path, oldest first.
#[derive(Debug, clap::Args)]
pub struct VersionsArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// A JSON array of {"archive", "time", "size", "mtime", "changed"}.
    #[arg(long)]
    json: bool,
    /// A path as you know it (`/home/me/notes.txt`; the leading slash is optional).
    path: String,
}

/// `kastell versions`: PATH in every archive that has it, oldest first.
pub async fn versions(args: VersionsArgs) -> anyhow::Result<ExitCode> {
    let VersionsArgs {
        config,
        repository,
        json,
        path,
    } = args;
    let session = session_for(&config, &repository).await?;
    let found = session.versions(&path, &mut say_indexing, &AtomicBool::new(false))?;
    let wanted = path.trim_matches('/');
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        let list: Vec<_> = found
            .iter()
            .map(|v| {
                json!({
                    "archive": v.archive,
                    "time": v.time,
                    "size": v.size,
                    "mtime": iso_time(i128::from(v.mtime_ns)),
                    "changed": v.changed,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else if found.is_empty() {
        bail!("/{wanted} is in no archive of {repository}");
    } else {
        for v in &found {
            writeln!(
                out,
                "{:<40} {:>12} {} {}",
                v.archive,
                v.size,
                iso_time(i128::from(v.mtime_ns)),
                if v.changed { "changed" } else { "same" }
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Build the archive indexes that browsing, `find` and `versions` use (once per archive).
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// One archive; without it, every archive of the repository.
    #[arg(long, value_name = "NAME")]
    archive: Option<String>,
}

/// `kastell index`: builds the missing indexes of a repository's archives (all, or one).
pub async fn build(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let IndexArgs {
        config,
        repository,
        archive,
    } = args;
    let session = session_for(&config, &repository).await?;
    for archive in archives_for(&session, archive.as_deref())? {
        let started = std::time::Instant::now();
        let index = index_of(&session, &archive)?;
        println!(
            "{}: {} entries, {} bytes ({:.1} per entry), {:.2} s",
            archive.name,
            index.len() - 1,
            index.file_size(),
            index.file_size() as f64 / f64::from(index.len().max(1)),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What changed between two archives (added, removed and changed paths, from borg diff).
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// A JSON array of {"path", "change", "added_bytes", "removed_bytes", "kinds"}.
    #[arg(long)]
    json: bool,
    /// The older archive (`latest` works).
    older: String,
    /// The newer archive (`latest` works).
    newer: String,
}

/// `kastell diff`: paths added, removed or changed from OLDER to NEWER (`borg diff`).
pub async fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let DiffArgs {
        config,
        repository,
        json,
        older,
        newer,
    } = args;
    let cfg = BorgmaticConfig::load(&config)?;
    let repo = cfg
        .repository(&repository)
        .with_context(|| format!("{} has no repository {repository}", cfg.path.display()))?;
    // `latest` is resolved here: borg diff itself knows no such name.
    let (older, newer) = match crate::browse::open_uncached(&config, &repository).await {
        Ok(session) => (session.archive(&older)?.name, session.archive(&newer)?.name),
        Err(_) => (older, newer),
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let entries = crate::process::archives::diff_archives(
        &cfg,
        repo,
        &older,
        &newer,
        &crate::events::Discard,
        &cancel,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.user_message(Some(repo.display_name()))))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
    } else {
        for e in &entries {
            let sign = match e.change {
                crate::process::archives::DiffChange::Added => "+",
                crate::process::archives::DiffChange::Removed => "-",
                crate::process::archives::DiffChange::Changed => "~",
            };
            writeln!(out, "{sign} /{} ({})", e.path, e.kinds.join(", "))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
