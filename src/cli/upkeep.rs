//! `kastell prune` (with `--dry-run`, the retention preview) and `kastell compact`: repository
//! upkeep through borgmatic, so the config's own retention and hooks apply.

use crate::config::BorgmaticConfig;
use crate::events::Event;
use crate::process::{run, BorgmaticCommand, LogLine, Tools};
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

/// Refused while Kastell backs this config up: borg would wait for the lock, or fail.
fn refuse_while_backing_up(config: &Path) -> anyhow::Result<()> {
    let locks = crate::history::state_dir()?.join("locks");
    if crate::backup::lock::running(&locks, config).is_some() {
        bail!("a backup of this config is running: try again when it has finished");
    }
    Ok(())
}

pub async fn prune(args: PruneArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let config = load(&args.config, &args.repository)?;
    let repository = config
        .repository(&args.repository)
        .context("the repository")?;
    if !args.dry_run {
        refuse_while_backing_up(&config.path)?;
        return run_borgmatic(&config.path, "prune", &args.repository, cancel).await;
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
    refuse_while_backing_up(&config.path)?;
    run_borgmatic(&config.path, "compact", &args.repository, cancel).await
}

/// Runs `borgmatic ACTION --repository LABEL` and prints borg's words as they come.
async fn run_borgmatic(
    config: &Path,
    action: &str,
    repository: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let tools = Tools::detect().await?;
    let mut command = BorgmaticCommand::new(config, action).repository(repository);
    if action == "prune" {
        command = command.arg("--list").arg("--stats");
    } else {
        command = command.arg("--progress");
    }
    let invocation = command.invocation(&tools);
    let print = |event: Event| {
        if let Event::Line(LogLine::Message { message, .. }) = event {
            println!("{message}");
        }
    };
    let done = run(invocation, &print, cancel).await?;
    match done.into_result() {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}
