//! `kastell configs`, `kastell archives` and `kastell info`.

use super::configure::typed_passphrase;
use crate::config::{discover_configs, BorgmaticConfig, RepositoryConfig, Secret};
use crate::events::Discard;
use crate::process::archives::{archive_info, list_archives_with, Archive};
use crate::units::{format_borg_time, format_bytes, format_duration};
use anyhow::{anyhow, Context};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

fn load(config: &Path) -> anyhow::Result<BorgmaticConfig> {
    Ok(BorgmaticConfig::load(config)?)
}

fn select<'a>(
    config: &'a BorgmaticConfig,
    repository: Option<&str>,
) -> anyhow::Result<Vec<&'a RepositoryConfig>> {
    match repository {
        Some(name) => config.repository(name).map(|r| vec![r]).ok_or_else(|| {
            let known: Vec<&str> = config
                .repositories
                .iter()
                .map(|r| r.display_name())
                .collect();
            anyhow!(
                "{} has no repository “{name}” (it has: {})",
                config.path.display(),
                known.join(", ")
            )
        }),
        None => Ok(config.repositories.iter().collect()),
    }
}

/// List the borgmatic configs Kastell finds and their repositories.
#[derive(Debug, clap::Args)]
pub struct ConfigsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn configs(args: ConfigsArgs) -> anyhow::Result<ExitCode> {
    let ConfigsArgs { json } = args;
    let paths = discover_configs(None);
    let mut out = Vec::new();
    for path in &paths {
        match BorgmaticConfig::load(path) {
            Ok(cfg) => {
                let repos: Vec<_> = cfg
                    .repositories
                    .iter()
                    .map(|r| json!({"label": r.label, "path": r.path, "kind": r.kind().name()}))
                    .collect();
                out.push(json!({"path": path, "repositories": repos}));
            }
            Err(e) => out.push(json!({"path": path, "error": e.to_string()})),
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(out));
    } else if paths.is_empty() {
        println!("No borgmatic config found in ~/.config/borgmatic/ or ~/.config/borgmatic.d/.");
    } else {
        for entry in out {
            println!("{}", entry["path"].as_str().unwrap_or_default());
            if let Some(err) = entry["error"].as_str() {
                println!("  error: {err}");
            }
            for r in entry["repositories"].as_array().into_iter().flatten() {
                println!(
                    "  {:<16} {:<6} {}",
                    r["label"].as_str().unwrap_or("-"),
                    r["kind"].as_str().unwrap_or_default(),
                    r["path"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// List archives, newest first, of every repository of a config (or of one).
#[derive(Debug, clap::Args)]
pub struct ArchivesArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// A repository label (or path); all repositories when omitted.
    #[arg(long, value_name = "LABEL")]
    repository: Option<String>,
    /// Print a JSON array of {"repository", "name", "time", "id"}.
    #[arg(long)]
    json: bool,
    /// Read the passphrase from standard input and use it for this run only (e.g. while
    /// the wallet is locked). It is handed to borgmatic through a private socket.
    #[arg(long)]
    ask_passphrase: bool,
}

pub async fn archives(args: ArchivesArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let ArchivesArgs {
        config,
        repository,
        json,
        ask_passphrase,
    } = args;
    let typed_passphrase: Option<Secret> = typed_passphrase(ask_passphrase)?;
    let cfg = load(&config)?;
    let mut all: Vec<Archive> = Vec::new();
    let mut failed = false;
    for repo in select(&cfg, repository.as_deref())? {
        match list_archives_with(&cfg, repo, typed_passphrase.as_ref(), &Discard, cancel).await {
            Ok(list) => {
                if !json {
                    println!("{} ({})", repo.display_name(), repo.path);
                    for a in &list {
                        println!("  {}  {}", format_borg_time(&a.time), a.name);
                    }
                    if list.is_empty() {
                        println!("  (no archives)");
                    }
                }
                all.extend(list);
            }
            Err(e) => {
                failed = true;
                eprintln!("kastell: {}", e.user_message(Some(repo.display_name())));
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Show one archive's details: sizes, file count, duration, host.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// An archive name, or `latest`.
    #[arg(long, value_name = "NAME")]
    archive: String,
    #[arg(long)]
    json: bool,
}

pub async fn info(args: InfoArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let InfoArgs {
        config,
        repository,
        archive,
        json,
    } = args;
    let cfg = load(&config)?;
    let repo = select(&cfg, Some(&repository))?[0];
    let info = archive_info(&cfg, repo, &archive, &Discard, cancel)
        .await
        .map_err(|e| anyhow!(e.user_message(Some(repo.display_name()))))
        .context("archive details")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("Archive:       {}", info.name);
        println!("Created:       {}", format_borg_time(&info.start));
        println!("Duration:      {}", format_duration(info.duration_seconds));
        println!("Host:          {} ({})", info.hostname, info.username);
        println!("Files:         {}", info.file_count);
        println!("Original:      {}", format_bytes(info.original_size));
        println!("Compressed:    {}", format_bytes(info.compressed_size));
        println!("Deduplicated:  {}", format_bytes(info.deduplicated_size));
    }
    Ok(ExitCode::SUCCESS)
}
