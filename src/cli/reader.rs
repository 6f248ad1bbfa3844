//! `kastell ls` and `kastell cat`: archives read by Kastell's own repository reader, with the
//! borg process (through borgmatic) as the fallback for what the reader cannot read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::browse::{index_of, say_pruned};
use super::output::{item_of, quiet_broken_pipe, write_text_line, ListFormat};
use crate::browse::{open_reader as open_native, OpenError, Session};
use crate::config::{BorgmaticConfig, RepositoryConfig};
use crate::reader::listing::write_python_json_line;
use crate::reader::{Item, ReadError};

/// Which reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReaderChoice {
    /// Kastell's own reader, falling back to borg for what it cannot read.
    Native,
    /// The borg process, through borgmatic (for comparison and as the fallback).
    Borg,
}

fn repository<'a>(cfg: &'a BorgmaticConfig, name: &str) -> anyhow::Result<&'a RepositoryConfig> {
    cfg.repository(name)
        .with_context(|| format!("{} has no repository {name}", cfg.path.display()))
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

/// `kastell ls` without `--recursive`: PATH's children (or PATH itself when it is no folder).
fn print_children(
    session: &Session,
    archive_name: &str,
    path: &str,
    format: ListFormat,
) -> anyhow::Result<ExitCode> {
    say_pruned(session);
    let archive = session.archive(archive_name)?;
    let index = index_of(session, &archive)?;
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

/// A read error with the repository and archive it happened in.
fn in_repository(repository: &str, archive: &str, e: ReadError) -> anyhow::Error {
    anyhow::anyhow!("{repository}: archive {archive}: {e}")
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

/// List an archive's entries, read by Kastell's own repository reader (borg as the
/// fallback). Without --recursive, the entries directly in PATH (the top level without PATH).
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// An archive name, or `latest`.
    #[arg(long, value_name = "NAME")]
    archive: String,
    /// Every entry below PATH, like `borg list`.
    #[arg(long)]
    recursive: bool,
    /// A JSON array of objects with `borg list --json-lines`'s fields.
    #[arg(long, conflicts_with = "json_lines")]
    json: bool,
    /// One object a line, equal to `borg list --json-lines` field by field.
    #[arg(long)]
    json_lines: bool,
    /// `native` (default) or `borg`.
    #[arg(long, value_enum, default_value = "native")]
    reader: ReaderChoice,
    /// A path in the archive (`/home/me/Documents`; the leading slash is optional).
    path: Option<String>,
}

impl LsArgs {
    /// `--json`, `--json-lines` or text.
    fn format(&self) -> ListFormat {
        if self.json {
            ListFormat::Json
        } else if self.json_lines {
            ListFormat::JsonLines
        } else {
            ListFormat::Text
        }
    }
}

pub async fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let format = args.format();
    let LsArgs {
        ref config,
        repository: ref repository_name,
        archive: ref archive_name,
        recursive,
        reader: choice,
        ref path,
        ..
    } = args;
    let cfg = BorgmaticConfig::load(config)?;
    let repo = repository(&cfg, repository_name)?;
    let prefix = archive_path(path.as_deref());
    let native = match choice {
        ReaderChoice::Native => open_native(&cfg, repo).await,
        ReaderChoice::Borg => Err(OpenError::Unsupported("--reader borg".into())),
    };
    let reader = match native {
        Ok(reader) => reader,
        Err(OpenError::Unsupported(why)) => {
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
        Err(e) => return Err(e.into()),
    };
    if !recursive {
        // A folder's children come from the archive index (built once, then instant).
        let session = Session::new(cfg.clone(), repo.clone(), reader);
        return print_children(&session, archive_name, &prefix, format);
    }
    let archive = reader.archive(archive_name)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut first = true;
    if format == ListFormat::Json {
        out.write_all(b"[")?;
    }
    let mut write_error: Option<std::io::Error> = None;
    let mut line = String::with_capacity(512);
    reader
        .for_each_item(&archive, |item| {
            if item.part || !below(&item.path, &prefix, recursive) {
                return true;
            }
            line.clear();
            match format {
                ListFormat::JsonLines => {
                    write_python_json_line(&mut line, item);
                    line.push('\n');
                }
                ListFormat::Json => {
                    line.push_str(if first { "\n" } else { ",\n" });
                    first = false;
                    write_python_json_line(&mut line, item);
                }
                ListFormat::Text => write_text_line(&mut line, item),
            }
            match out.write_all(line.as_bytes()) {
                Ok(()) => true,
                Err(e) => {
                    write_error = Some(e);
                    false
                }
            }
        })
        .map_err(|e| in_repository(repository_name, &archive.name, e))?;
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

/// Write one file of an archive to standard output.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    #[arg(long, value_name = "NAME")]
    archive: String,
    #[arg(long, value_enum, default_value = "native")]
    reader: ReaderChoice,
    path: String,
}

pub async fn cat(args: CatArgs) -> anyhow::Result<ExitCode> {
    let CatArgs {
        ref config,
        repository: ref repository_name,
        archive: ref archive_name,
        reader: choice,
        ref path,
    } = args;
    let cfg = BorgmaticConfig::load(config)?;
    let repo = repository(&cfg, repository_name)?;
    let wanted = archive_path(Some(path));
    let native = match choice {
        ReaderChoice::Native => open_native(&cfg, repo).await,
        ReaderChoice::Borg => Err(OpenError::Unsupported("--reader borg".into())),
    };
    let reader = match native {
        Ok(reader) => reader,
        Err(OpenError::Unsupported(why)) => {
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
        Err(e) => return Err(e.into()),
    };
    let archive = reader.archive(archive_name)?;
    let mut found: Option<Item> = None;
    reader
        .for_each_item(&archive, |item| {
            if item.path == wanted.as_bytes() && !item.part {
                found = Some(item.clone());
                return false;
            }
            true
        })
        .map_err(|e| in_repository(repository_name, &archive.name, e))?;
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
            reader
                .for_each_item(&archive, |other| {
                    if other.path == master {
                        item.chunks = other.chunks.clone();
                        return false;
                    }
                    true
                })
                .map_err(|e| in_repository(repository_name, &archive.name, e))?;
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    reader
        .read_file(&item, &mut out)
        .map_err(|e| anyhow::anyhow!("{repository_name}: archive {}: {path}: {e}", archive.name))?;
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
    let archives = crate::process::archives::list_archives(cfg, repo, &|_| {}, &cancel).await?;
    archives
        .first()
        .map(|a| a.name.clone())
        .context("the repository has no archives")
}
