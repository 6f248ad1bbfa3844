//! `kastell prune` (with `--dry-run`, the retention preview), `kastell compact` and `kastell
//! check`: repository upkeep through borgmatic (the backup engine's runs, so each is in the
//! history), so the config's own retention, checks and hooks apply.

use super::backup::BackupArgs;
use crate::backup::Actions;
use crate::config::BorgmaticConfig;
use crate::upkeep::retention::{Period, Verdict};
use anyhow::{bail, Context};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Deletes the archives the config's retention no longer keeps (`borgmatic prune`); with
/// --dry-run, lists what it would keep (and by which rule) and prune, without touching anything
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// Compute what prune would do (Kastell's own computation of borg's rules).
    #[arg(long)]
    dry_run: bool,
    /// Print JSON (with --dry-run): one object per archive, newest first.
    #[arg(long, requires = "dry_run")]
    json: bool,
    /// What-if rules for --dry-run, instead of the config's values (e.g. 7d).
    #[arg(long, value_name = "INTERVAL", requires = "dry_run")]
    keep_within: Option<String>,
    #[arg(long, value_name = "N", requires = "dry_run", alias = "keep-last")]
    keep_secondly: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_minutely: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_hourly: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_daily: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_weekly: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_monthly: Option<u32>,
    #[arg(long = "keep-13weekly", value_name = "N", requires = "dry_run")]
    keep_13weekly: Option<u32>,
    #[arg(
        long = "keep-3monthly",
        value_name = "N",
        requires = "dry_run",
        conflicts_with = "keep_13weekly"
    )]
    keep_3monthly: Option<u32>,
    #[arg(long, value_name = "N", requires = "dry_run")]
    keep_yearly: Option<u32>,
}

/// Frees the space of deleted archives (`borgmatic compact`)
#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
}

fn load(config: &Path, repository: &str) -> anyhow::Result<BorgmaticConfig> {
    let loaded = BorgmaticConfig::load(config)?;
    if loaded.repository(repository).is_none() {
        bail!("{} has no repository “{repository}”", loaded.path.display());
    }
    Ok(loaded)
}

/// Renames or deletes archives (refused while a backup of the config runs)
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Renames one archive
    Rename(RenameArgs),
    /// Deletes the named archives (their space is freed by the next compact)
    Delete(DeleteArgs),
}

#[derive(Debug, clap::Args)]
pub struct RenameArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    old: String,
    new: String,
}

/// Each repository's sizes and each archive's, with the data only it holds (one borg call
/// per archive not measured before)
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Only this repository (default: every repository of the config).
    #[arg(long, value_name = "LABEL")]
    repository: Option<String>,
    /// Measure every archive again (unique sizes change as archives come and go).
    #[arg(long)]
    refresh: bool,
    /// Print a JSON array, one object per repository.
    #[arg(long)]
    json: bool,
}

pub async fn stats(args: StatsArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    use crate::units::format_bytes;
    let config = match &args.repository {
        Some(label) => load(&args.config, label)?,
        None => BorgmaticConfig::load(&args.config)?,
    };
    let mut all = Vec::new();
    for repository in &config.repositories {
        let name = repository.display_name();
        if args
            .repository
            .as_deref()
            .is_some_and(|wanted| wanted != name)
        {
            continue;
        }
        let json = args.json;
        let stats = crate::upkeep::stats::repository_stats(
            &config,
            repository,
            args.refresh,
            cancel,
            &mut |done, of| {
                if !json && of > 0 && done < of {
                    eprintln!("{name}: measuring archive {} of {of}", done + 1);
                }
            },
        )
        .await
        .with_context(|| name.to_string())?;
        if !args.json {
            println!(
                "{name}: {} archives, {} original, {} compressed, {} on disk",
                stats.archives.len(),
                format_bytes(stats.totals.original),
                format_bytes(stats.totals.compressed),
                format_bytes(stats.totals.stored)
            );
            for archive in &stats.archives {
                println!(
                    "  {:<40} {:>10} original {:>10} only here",
                    archive.name,
                    format_bytes(archive.original_size),
                    format_bytes(archive.unique_size)
                );
            }
            if let Some(most) = stats.most_unique() {
                println!(
                    "  deleting {} would free the most: {}",
                    most.name,
                    format_bytes(most.unique_size)
                );
            }
        }
        all.push(stats.to_json());
    }
    if args.json {
        println!("{}", serde_json::Value::Array(all));
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// Delete without asking (required: there is no undo).
    #[arg(long)]
    yes: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

pub async fn archive(command: ArchiveCommand) -> anyhow::Result<ExitCode> {
    match command {
        ArchiveCommand::Rename(args) => {
            let config = load(&args.config, &args.repository)?;
            let repository = config
                .repository(&args.repository)
                .context("the repository")?;
            let names = crate::upkeep::archive_names(&config, repository).await?;
            crate::upkeep::rename_archive(
                &config.path,
                &args.repository,
                &names,
                &args.old,
                &args.new,
            )
            .await?;
            println!("renamed {} to {}", args.old, args.new);
        }
        ArchiveCommand::Delete(args) => {
            if !args.yes {
                bail!(
                    "deleting {} cannot be undone: add --yes to delete",
                    args.names.join(", ")
                );
            }
            let config = load(&args.config, &args.repository)?;
            let notes = crate::upkeep::delete_archives(
                &config.path,
                &args.repository,
                &args.names,
                &mut |name| println!("deleted {name}"),
            )
            .await?;
            for note in notes {
                eprintln!("kastell: {note}");
            }
            println!("run `kastell compact` (or the next backup) to free their space");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn prune(args: PruneArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let config = load(&args.config, &args.repository)?;
    let repository = config
        .repository(&args.repository)
        .context("the repository")?;
    if !args.dry_run {
        crate::upkeep::refuse_while_backing_up(&config.path)?;
        let run = BackupArgs::one_action(config.path, args.repository, Actions::Prune, false);
        return super::backup::backup(run, cancel).await;
    }
    let mut rules = crate::upkeep::rules_of(&config)?;
    let overrides = [
        (Period::Secondly, args.keep_secondly),
        (Period::Minutely, args.keep_minutely),
        (Period::Hourly, args.keep_hourly),
        (Period::Daily, args.keep_daily),
        (Period::Weekly, args.keep_weekly),
        (Period::Monthly, args.keep_monthly),
        (Period::Quarterly13Weekly, args.keep_13weekly),
        (Period::Quarterly3Monthly, args.keep_3monthly),
        (Period::Yearly, args.keep_yearly),
    ];
    if let Some(within) = &args.keep_within {
        rules.within_hours = Some(
            crate::upkeep::retention::parse_within(within)
                .with_context(|| format!("--keep-within {within}: a number and H, d, w, m or y"))?,
        );
    }
    for (period, count) in overrides {
        if count.is_some() {
            rules.set(period, count);
        }
    }
    let decided = crate::upkeep::prune_preview(&config, repository, &rules).await?;
    if args.json {
        let rows: Vec<serde_json::Value> = decided
            .iter()
            .map(|d| {
                let (rule, index) = match &d.verdict {
                    Verdict::Kept { rule, index } => (json!(rule), json!(index)),
                    Verdict::KeptCheckpoint => (json!("checkpoint"), json!(null)),
                    Verdict::Pruned => (json!(null), json!(null)),
                };
                json!({
                    "archive": d.archive.name,
                    "time": d.archive.time.to_string(),
                    "keep": d.verdict.keeps(),
                    "rule": rule,
                    "rule_index": index,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    for d in &decided {
        let said = match &d.verdict {
            Verdict::Kept { rule, index } => format!("Keeping archive (rule: {rule} #{index}):"),
            Verdict::KeptCheckpoint => "Keeping checkpoint archive:".to_string(),
            Verdict::Pruned => "Would prune:".to_string(),
        };
        println!("{said:<40} {}", d.archive.name);
    }
    let pruned = decided.iter().filter(|d| !d.verdict.keeps()).count();
    println!(
        "{} archives: keeping {}, pruning {pruned}",
        decided.len(),
        decided.len() - pruned
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn compact(args: CompactArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let config = load(&args.config, &args.repository)?;
    crate::upkeep::refuse_while_backing_up(&config.path)?;
    let run = BackupArgs::one_action(config.path, args.repository, Actions::Compact, false);
    super::backup::backup(run, cancel).await
}

/// Checks a repository's consistency (`borgmatic check`, the config's checks); exit status 1
/// when damage was found
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    /// Print the run's events as JSON lines.
    #[arg(long)]
    json: bool,
    /// Repair what the check finds (`borg check --repair`): damaged archives and files may
    /// lose data. Needs --yes.
    #[arg(long)]
    repair: bool,
    /// Confirms --repair.
    #[arg(long, requires = "repair")]
    yes: bool,
}

pub async fn check(args: CheckArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let config = load(&args.config, &args.repository)?;
    if args.repair && !args.yes {
        bail!(
            "a repair may delete the data of damaged archives and files to make the repository \
             usable again; back up to another repository first, then add --yes"
        );
    }
    crate::upkeep::refuse_while_backing_up(&config.path)?;
    let action = match args.repair {
        true => Actions::Repair,
        false => Actions::Check,
    };
    let run = BackupArgs::one_action(config.path, args.repository, action, args.json);
    super::backup::backup(run, cancel).await
}
