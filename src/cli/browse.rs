//! `kastell ls` (a folder's children), `kastell find`, `kastell versions` and `kastell index`:
//! answered from the archive index (built once per archive with the native reader, then
//! instant).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context};
use serde_json::json;

use super::reader::{write_text_line, ListFormat};
use crate::config::BorgmaticConfig;
use crate::index::{self, ArchiveIndex};
use crate::reader::listing::{display_bytes, iso_time, write_python_json_line};
use crate::reader::{ArchiveRef, Item, Reader};

/// The reader for a repository of `config`, or an error saying why Kastell cannot read it
/// (these commands need the index, which needs the native reader).
pub(crate) async fn reader_for(
    config: &Path,
    repository: &str,
) -> anyhow::Result<(BorgmaticConfig, Reader)> {
    let session = crate::browse::open_uncached(config, repository).await?;
    prune(&session.reader);
    Ok((session.config, session.reader))
}

/// The index of `archive`, built now (with a note on stderr) when it is not cached yet.
pub(crate) fn index_of(reader: &Reader, archive: &ArchiveRef) -> anyhow::Result<ArchiveIndex> {
    let cache = index::default_cache_root();
    let path = index::index_path(&cache, reader.repository_id(), &archive.id);
    if let Ok(found) = ArchiveIndex::open(&path) {
        return Ok(found);
    }
    eprintln!("kastell: indexing archive {} (once)…", archive.name);
    let cancel = AtomicBool::new(false);
    let built = index::ensure_index(reader, archive, &cache, &mut |_| {}, &cancel)
        .with_context(|| format!("indexing archive {}", archive.name))?;
    Ok(built)
}

/// An index entry as an `Item`, for borg's listing formats.
pub(crate) fn item_of(index: &ArchiveIndex, i: u32) -> Item {
    let e = index.entry(i);
    let owner = index.owner(i);
    Item {
        path: index.path(i),
        mode: e.mode,
        uid: i64::from(owner.uid),
        gid: i64::from(owner.gid),
        user: owner.user.map(<[u8]>::to_vec),
        group: owner.group.map(<[u8]>::to_vec),
        mtime: i128::from(e.mtime_ns),
        source: index.target(i).map(<[u8]>::to_vec),
        hardlink_master: e.flags & index::FLAG_HARDLINK_MASTER != 0,
        size: Some(e.size),
        healthy: e.flags & index::FLAG_UNHEALTHY == 0,
        ..Item::default()
    }
}

/// Removes indexes of archives the repository no longer has.
pub(crate) fn prune(reader: &Reader) {
    let pruned = index::prune_indexes(
        &index::default_cache_root(),
        reader.repository_id(),
        reader.archives(),
    );
    if pruned > 0 {
        eprintln!("kastell: removed {pruned} index(es) of archives that are gone");
    }
}

/// `kastell ls` without `--recursive`: PATH's children (or PATH itself when it is no folder).
pub(crate) fn print_children(
    reader: &Reader,
    archive_name: &str,
    path: &str,
    format: ListFormat,
) -> anyhow::Result<ExitCode> {
    prune(reader);
    let archive = reader.archive(archive_name)?;
    let index = index_of(reader, &archive)?;
    let Some(at) = index.lookup(path.as_bytes()) else {
        bail!("/{path} is not in archive {}", archive.name);
    };
    let entry = index.entry(at);
    let shown: Vec<u32> = if entry.is_dir() {
        entry.children().collect()
    } else {
        vec![at]
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut line = String::with_capacity(256);
    if format == ListFormat::Json {
        out.write_all(b"[")?;
    }
    for (n, i) in shown.iter().enumerate() {
        let item = item_of(&index, *i);
        line.clear();
        match format {
            ListFormat::Text => write_text_line(&mut line, &item),
            ListFormat::JsonLines => {
                write_python_json_line(&mut line, &item);
                line.push('\n');
            }
            ListFormat::Json => {
                line.push_str(if n == 0 { "\n" } else { ",\n" });
                write_python_json_line(&mut line, &item);
            }
        }
        if let Err(e) = out.write_all(line.as_bytes()) {
            return quiet_broken_pipe(e);
        }
    }
    if format == ListFormat::Json {
        out.write_all(b"\n]\n")
            .or_else(|e| quiet_broken_pipe(e).map(|_| ()))?;
    }
    if let Err(e) = out.flush() {
        return quiet_broken_pipe(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// `kastell ls | head` is not an error.
fn quiet_broken_pipe(e: std::io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(e.into())
    }
}

fn archives_for(reader: &Reader, archive: Option<&str>) -> anyhow::Result<Vec<ArchiveRef>> {
    Ok(match archive {
        Some(name) => vec![reader.archive(name)?],
        None => reader.archives().to_vec(),
    })
}

/// `kastell find`: entries whose name matches PATTERN, in one archive or all of them.
pub async fn find(
    config: &Path,
    repository: &str,
    archive: Option<&str>,
    pattern: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let regex = index::name_pattern(pattern).map_err(anyhow::Error::msg)?;
    let (_, reader) = reader_for(config, repository).await?;
    let archives = archives_for(&reader, archive)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut found = Vec::new();
    for archive in &archives {
        let index = index_of(&reader, archive)?;
        for i in index.search(&regex) {
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

/// `kastell versions`: PATH in every archive that has it, oldest first.
pub async fn versions(
    config: &Path,
    repository: &str,
    path: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, reader) = reader_for(config, repository).await?;
    let archives = reader.archives().to_vec();
    let mut indexes = Vec::with_capacity(archives.len());
    for archive in &archives {
        indexes.push(index_of(&reader, archive)?);
    }
    let pairs: Vec<(&ArchiveRef, &ArchiveIndex)> = archives.iter().zip(indexes.iter()).collect();
    let wanted = path.trim_matches('/');
    let found = index::versions(&pairs, wanted.as_bytes());
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

/// `kastell index`: builds the missing indexes of a repository's archives (all, or one).
pub async fn build(
    config: &Path,
    repository: &str,
    archive: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (_, reader) = reader_for(config, repository).await?;
    for archive in archives_for(&reader, archive)? {
        let started = std::time::Instant::now();
        let index = index_of(&reader, &archive)?;
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

/// `kastell diff`: paths added, removed or changed from OLDER to NEWER (`borg diff`).
pub async fn diff(
    config: &Path,
    repository: &str,
    older: &str,
    newer: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = BorgmaticConfig::load(config)?;
    let repo = cfg
        .repository(repository)
        .with_context(|| format!("{} has no repository {repository}", cfg.path.display()))?;
    // `latest` is resolved here: borg diff itself knows no such name.
    let (older, newer) = match crate::browse::open_uncached(config, repository).await {
        Ok(session) => (session.archive(older)?.name, session.archive(newer)?.name),
        Err(_) => (older.to_string(), newer.to_string()),
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
