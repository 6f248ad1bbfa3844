//! `kastell ls` and `kastell cat`: archives read by Kastell's own repository reader, with the
//! borg process (through borgmatic) as the fallback for what the reader cannot read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use crate::config::{BorgmaticConfig, RepositoryConfig, RepositoryKind};
use crate::passphrase::current_passphrase;
use crate::repo::listing::{display_bytes, json_line, python_json_line};
use crate::repo::{Item, ReadError, Reader};

/// Which reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReaderChoice {
    /// Kastell's own reader, falling back to borg for what it cannot read.
    Native,
    /// The borg process, through borgmatic (for comparison and as the fallback).
    Borg,
}

/// How `ls` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
    JsonLines,
}

fn repository<'a>(cfg: &'a BorgmaticConfig, name: &str) -> anyhow::Result<&'a RepositoryConfig> {
    cfg.repository(name)
        .with_context(|| format!("{} has no repository {name}", cfg.path.display()))
}

/// The reader for a local repository, or why the borg process must answer instead.
async fn open_native(cfg: &BorgmaticConfig, repo: &RepositoryConfig) -> Result<Reader, String> {
    if repo.kind() != RepositoryKind::Local {
        return Err("the native reader reads local repositories so far".into());
    }
    let home = dirs::home_dir().unwrap_or_else(|| "/".into());
    let path = PathBuf::from(crate::patterns::pypath::expanduser(
        repo.path.trim_start_matches("file://"),
        &home,
    ));
    let passphrase = current_passphrase(&cfg.path, cfg)
        .await
        .ok()
        .map(|(s, _)| s);
    let keys_dir = match cfg.other.get("borg_keys_directory") {
        Some(serde_norway::Value::String(d)) => {
            Some(PathBuf::from(crate::patterns::pypath::expanduser(d, &home)))
        }
        _ => None,
    };
    let opened = tokio::task::spawn_blocking(move || {
        Reader::open_local(
            &path,
            passphrase.as_ref().map(|p| p.expose().as_bytes()),
            keys_dir.as_deref(),
        )
    })
    .await
    .map_err(|e| e.to_string())?;
    match opened {
        Ok(reader) => Ok(reader),
        Err(ReadError::Unsupported(why)) => Err(why),
        Err(e) => Err(format!("!{e}")),
    }
}

/// `PATH` as the user knows it, as borg stores it (no leading slash).
fn archive_path(path: Option<&str>) -> String {
    path.unwrap_or_default()
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

fn below(item_path: &[u8], prefix: &str, recursive: bool) -> bool {
    let prefix = prefix.as_bytes();
    if prefix.is_empty() {
        return recursive || !item_path.contains(&b'/');
    }
    if !item_path.starts_with(prefix) {
        return false;
    }
    let rest = &item_path[prefix.len()..];
    if rest.is_empty() {
        return recursive;
    }
    rest[0] == b'/' && (recursive || !rest[1..].contains(&b'/'))
}

fn text_line(item: &Item) -> String {
    let j = json_line(item);
    format!(
        "{} {:<8} {:<8} {:>10} {} {}{}",
        j["mode"].as_str().unwrap_or_default(),
        j["user"].to_string().trim_matches('"'),
        j["group"].to_string().trim_matches('"'),
        item.file_size(),
        j["mtime"].as_str().unwrap_or_default(),
        display_bytes(&item.path),
        match (&item.source, item.mode & 0o170000 == 0o120000) {
            (Some(s), true) => format!(" -> {}", display_bytes(s)),
            (Some(s), false) => format!(" link to {}", display_bytes(s)),
            _ => String::new(),
        }
    )
}

/// Runs `borgmatic borg ...` for the fallback, stdout passed through.
fn borg_fallback(
    config: &Path,
    repo: &RepositoryConfig,
    args: &[String],
) -> anyhow::Result<ExitCode> {
    let borgmatic = crate::process::locate(crate::process::Tool::Borgmatic)
        .context("borgmatic is needed for this repository")?;
    let status = std::process::Command::new(borgmatic)
        .arg("--config")
        .arg(config)
        .arg("borg")
        .arg("--repository")
        .arg(repo.label.as_deref().unwrap_or(&repo.path))
        .args(args)
        .status()
        .context("running borgmatic")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[allow(clippy::too_many_arguments)]
pub async fn ls(
    config: &Path,
    repository_name: &str,
    archive_name: &str,
    recursive: bool,
    format: ListFormat,
    path: Option<&str>,
    choice: ReaderChoice,
) -> anyhow::Result<ExitCode> {
    let cfg = BorgmaticConfig::load(config)?;
    let repo = repository(&cfg, repository_name)?;
    let prefix = archive_path(path);
    let native = match choice {
        ReaderChoice::Native => open_native(&cfg, repo).await,
        ReaderChoice::Borg => Err("--reader borg".into()),
    };
    let reader = match native {
        Ok(reader) => reader,
        Err(why) if why.starts_with('!') => bail!("{}", &why[1..]),
        Err(why) => {
            eprintln!("kastell: using borg ({why})");
            let archive = resolve_archive_with_borg(&cfg, repo, archive_name).await?;
            let mut args = vec![
                "list".to_string(),
                "--json-lines".to_string(),
                format!("::{archive}"),
            ];
            if !prefix.is_empty() {
                args.push(prefix.clone());
            }
            return borg_fallback(config, repo, &args);
        }
    };
    let archive = reader.archive(archive_name)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut first = true;
    if format == ListFormat::Json {
        out.write_all(b"[")?;
    }
    let mut write_error: Option<std::io::Error> = None;
    reader.for_each_item(&archive, |item| {
        if item.part || !below(&item.path, &prefix, recursive) {
            return true;
        }
        let result = match format {
            ListFormat::JsonLines => writeln!(out, "{}", python_json_line(&item)),
            ListFormat::Json => {
                let sep = if first { "" } else { "," };
                first = false;
                write!(out, "{sep}\n{}", json_line(&item))
            }
            ListFormat::Text => writeln!(out, "{}", text_line(&item)),
        };
        match result {
            Ok(()) => true,
            Err(e) => {
                write_error = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = write_error {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if format == ListFormat::Json {
        out.write_all(b"\n]\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub async fn cat(
    config: &Path,
    repository_name: &str,
    archive_name: &str,
    path: &str,
    choice: ReaderChoice,
) -> anyhow::Result<ExitCode> {
    let cfg = BorgmaticConfig::load(config)?;
    let repo = repository(&cfg, repository_name)?;
    let wanted = archive_path(Some(path));
    let native = match choice {
        ReaderChoice::Native => open_native(&cfg, repo).await,
        ReaderChoice::Borg => Err("--reader borg".into()),
    };
    let reader = match native {
        Ok(reader) => reader,
        Err(why) if why.starts_with('!') => bail!("{}", &why[1..]),
        Err(why) => {
            eprintln!("kastell: using borg ({why})");
            let archive = resolve_archive_with_borg(&cfg, repo, archive_name).await?;
            let args = vec![
                "extract".to_string(),
                "--stdout".to_string(),
                format!("::{archive}"),
                wanted,
            ];
            return borg_fallback(config, repo, &args);
        }
    };
    let archive = reader.archive(archive_name)?;
    let mut found: Option<Item> = None;
    reader.for_each_item(&archive, |item| {
        if item.path == wanted.as_bytes() && !item.part {
            found = Some(item);
            return false;
        }
        true
    })?;
    let Some(mut item) = found else {
        bail!("{path} is not in archive {}", archive.name);
    };
    match item.mode & 0o170000 {
        0o100000 => {}
        0o040000 => bail!("{path} is a folder"),
        _ => bail!("{path} is not a regular file"),
    }
    // A hard link's later occurrences carry no chunks: they name the first one.
    if item.chunks.is_empty() {
        if let Some(master) = item.source.clone() {
            reader.for_each_item(&archive, |other| {
                if other.path == master {
                    item.chunks = other.chunks;
                    return false;
                }
                true
            })?;
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    reader.read_file(&item, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The archive name for the borg fallback (`latest` is borgmatic's word, not borg's).
async fn resolve_archive_with_borg(
    cfg: &BorgmaticConfig,
    repo: &RepositoryConfig,
    name: &str,
) -> anyhow::Result<String> {
    if name != "latest" {
        return Ok(name.to_string());
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let archives = crate::repository::list_archives(cfg, repo, &|_| {}, &cancel).await?;
    archives
        .first()
        .map(|a| a.name.clone())
        .context("the repository has no archives")
}
