//! `kastell backup`, `kastell status`, `kastell history` and `kastell log`: the backup engine and
//! its history in a terminal. The schedule calls `kastell backup`.

use super::configure::typed_passphrase;
use crate::backup::{run_backup, Actions, BackupEvent, BackupRequest, Phase, Progress, RunReport};
use crate::config::{discovered_repositories, BorgmaticConfig};
use crate::desktop::{app_bus, notify};
use crate::events::{Event, EventSink};
use crate::history::{History, Outcome, Run};
use crate::preferences::Preferences;
use crate::schedule::conditions::{reason_to_skip, SkipReason};
use crate::schedule::drive::{self, NotReady};
use crate::schedule::record_skip;
use crate::status;
use crate::units::{format_bytes, format_duration};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Shows the engine's events: a progress bar on a terminal, or JSON lines with `--json`.
struct TerminalSink {
    json: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl TerminalSink {
    fn bar_for(&self, repository: &str) -> ProgressBar {
        let bar = ProgressBar::new(0);
        bar.set_style(spinner_style());
        bar.set_prefix(repository.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }

    fn show(&self, progress: &Progress) {
        let Ok(guard) = self.bar.lock() else { return };
        let Some(bar) = guard.as_ref() else { return };
        let counters = match progress.phase {
            Phase::BackingUp | Phase::SavingCache => format!(
                "{} files, {} read, {} new · {}/s{}",
                progress.nfiles,
                format_bytes(progress.original_size),
                format_bytes(progress.deduplicated_size),
                format_bytes(progress.bytes_per_second as u64),
                progress
                    .eta_seconds
                    .map(|s| format!(" · about {} left", format_duration(s as f64)))
                    .unwrap_or_default()
            ),
            _ => progress
                .step
                .map(|(c, t)| format!("{c} of {t}"))
                .unwrap_or_default(),
        };
        bar.set_message(format!("{} {counters}", progress.phase.describe()));
        match progress.fraction {
            Some(fraction) => {
                bar.set_style(bar_style());
                bar.set_length(1000);
                bar.set_position((fraction * 1000.0) as u64);
            }
            None => bar.set_style(spinner_style()),
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {percent:>3}% {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl EventSink for TerminalSink {
    fn emit(&self, event: Event) {
        let Event::Backup(event) = event else { return };
        if self.json {
            if let Ok(line) = serde_json::to_string(&event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            return;
        }
        match &event {
            BackupEvent::RepositoryStarted { repository, .. } => {
                if let Ok(mut bar) = self.bar.lock() {
                    *bar = Some(self.bar_for(repository));
                }
            }
            BackupEvent::Progress(progress) => self.show(progress),
            BackupEvent::RepositoryFinished { report, .. } => {
                if let Ok(mut bar) = self.bar.lock() {
                    if let Some(bar) = bar.take() {
                        bar.finish_and_clear();
                    }
                }
                let stats = report
                    .stats
                    .as_ref()
                    .map(|s| format!(" — {} ({})", s.summary(), s.archive))
                    .unwrap_or_default();
                println!("{}: {}{stats}", report.repository, report.outcome.name());
                if let Some(message) = &report.message {
                    println!("  {message}");
                }
                if let Some(freed) = &report.freed {
                    println!("  {}", freed.summary());
                }
            }
            _ => {}
        }
    }
}

/// Back up now: borgmatic's actions for each repository in turn, with progress; the run
/// is recorded in the history and a failure notifies. What the schedule runs.
/// The history's name for a run started at a terminal.
const DEFAULT_TRIGGER: &str = "command line";

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// One repository (label or path); all of them when omitted.
    #[arg(long, value_name = "LABEL")]
    repository: Option<String>,
    /// `backup` (create, prune, compact, check as the config says), or one of `create`,
    /// `prune`, `compact`, `check` alone.
    #[arg(long, value_name = "ACTION", default_value = "backup", value_parser = parse_actions)]
    only: Actions,
    /// Print the engine's events as JSON lines instead of a progress bar.
    #[arg(long)]
    json: bool,
    /// Who started the run, for the history (`command line`, `schedule`).
    #[arg(long, value_name = "WHO", default_value = DEFAULT_TRIGGER)]
    trigger: String,
    /// Read the passphrase from standard input and use it for this run only.
    #[arg(long)]
    ask_passphrase: bool,
    /// Do not show desktop notifications.
    #[arg(long)]
    no_notify: bool,
    /// Start only on mains power; on battery the run is recorded as skipped (the schedule's
    /// default).
    #[arg(long)]
    ac_power_only: bool,
    /// Start only when the network connection is not metered (NetworkManager).
    #[arg(long)]
    skip_metered: bool,
    /// `LABEL=UUID`: repository LABEL is on the drive with this filesystem UUID. While the
    /// drive is not there, LABEL is left out (the run is skipped when it is the only one);
    /// with `--trigger drive` the run first waits for the drive to be mounted.
    #[arg(long, value_name = "LABEL=UUID", value_parser = parse_drive)]
    drive: Option<(String, String)>,
}

impl BackupArgs {
    /// One action on one repository from the command line, without notifications (the person
    /// is at the terminal): what `kastell prune`, `compact` and `check` run, so each is in the
    /// history and holds the run lock like any run.
    pub fn one_action(config: PathBuf, repository: String, only: Actions, json: bool) -> Self {
        BackupArgs {
            config,
            repository: Some(repository),
            only,
            json,
            trigger: DEFAULT_TRIGGER.to_string(),
            ask_passphrase: false,
            no_notify: true,
            ac_power_only: false,
            skip_metered: false,
            drive: None,
        }
    }
}

fn parse_drive(text: &str) -> Result<(String, String), String> {
    match text.rsplit_once('=') {
        Some((label, uuid)) if !label.is_empty() && !uuid.is_empty() => {
            Ok((label.to_string(), uuid.to_string()))
        }
        _ => Err(format!("“{text}” is not LABEL=UUID")),
    }
}

/// Whether the repository on a drive can be backed up now; `Err` is why not.
async fn drive_ready(
    config: &std::path::Path,
    label: &str,
    uuid: &str,
    wait: Duration,
) -> anyhow::Result<Result<(), SkipReason>> {
    let cfg = BorgmaticConfig::load(config)?;
    let repository = cfg
        .repository(label)
        .with_context(|| format!("the config has no repository “{label}”"))?;
    let path = std::path::Path::new(&repository.path);
    Ok(match drive::ready(uuid, path, wait).await {
        Ok(_) => Ok(()),
        Err(NotReady::Absent) => Err(SkipReason::DriveAbsent),
        Err(NotReady::Unmounted) => Err(SkipReason::DriveUnmounted),
        Err(NotReady::Elsewhere { mounted }) => {
            let places: Vec<String> = mounted.iter().map(|p| p.display().to_string()).collect();
            eprintln!(
                "kastell: the drive of “{label}” is mounted at {}, but the config's repository is \
                 {}; mount it there, or change the repository's path in Kastell's Settings",
                places.join(", "),
                path.display()
            );
            Err(SkipReason::DriveElsewhere)
        }
    })
}

/// `--only`: an action name as `Actions` knows it.
fn parse_actions(name: &str) -> Result<Actions, String> {
    Actions::parse(name)
        .ok_or_else(|| format!("“{name}” is not one of backup, create, prune, compact, check"))
}

pub async fn backup(args: BackupArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let BackupArgs {
        config,
        repository,
        only,
        json,
        trigger,
        ask_passphrase,
        no_notify,
        ac_power_only,
        skip_metered,
        drive,
    } = args;
    if let Some(reason) = reason_to_skip(ac_power_only, skip_metered).await {
        return skip(&config, only, &trigger, reason, json, no_notify).await;
    }
    let mut leave_out = Vec::new();
    if let Some((label, uuid)) = &drive {
        // Started by the drive: the desktop may still be mounting it.
        let wait = match trigger.as_str() {
            "drive" => drive::MOUNT_WAIT,
            _ => Duration::ZERO,
        };
        if let Err(reason) = drive_ready(&config, label, uuid, wait).await? {
            let repositories = BorgmaticConfig::load(&config)?.repositories.len();
            if repository.as_deref() == Some(label.as_str()) || repositories == 1 {
                return skip(&config, only, &trigger, reason, json, no_notify).await;
            }
            eprintln!("kastell: “{label}” is left out: {}", reason.describe());
            leave_out.push(label.clone());
        }
    }
    let unwatched = trigger != DEFAULT_TRIGGER;
    let typed_passphrase = typed_passphrase(ask_passphrase)?;
    let sink = TerminalSink {
        json,
        bar: Mutex::new(None),
    };
    let request = BackupRequest {
        config,
        repository,
        actions: only,
        trigger,
        typed_passphrase,
        leave_out,
    };
    let name = request
        .config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (job_sink, job_view) = crate::desktop::jobs::backup_job(&sink, &name, cancel.clone());
    let report = run_backup(request, &job_sink, cancel).await;
    drop(job_sink);
    // The job view's last word (terminate) goes out before the process ends.
    let _ = tokio::time::timeout(Duration::from_secs(2), job_view).await;
    let report = report?;
    if !json {
        if let Some(message) = &report.message {
            eprintln!("kastell: {message}");
        }
        println!(
            "{} {}: {} (run {}{})",
            report.actions.name(),
            report.config.display(),
            report.outcome.name(),
            report.run_id,
            report
                .log_path
                .as_ref()
                .map(|p| format!(", log: {}", p.display()))
                .unwrap_or_default()
        );
    }
    if !no_notify {
        // Someone at a terminal reads the outcome there; a run nobody watches (the schedule,
        // the tray) offers to open the run in the window.
        notify_run(&report, unwatched).await;
    }
    Ok(match report.outcome {
        Outcome::Success | Outcome::Warning => ExitCode::SUCCESS,
        Outcome::Cancelled => ExitCode::from(130),
        _ => ExitCode::FAILURE,
    })
}

/// A run whose condition does not hold: recorded as skipped, said once, exit status 0 (a
/// skip is not a failure for systemd either).
async fn skip(
    config: &std::path::Path,
    actions: Actions,
    trigger: &str,
    reason: SkipReason,
    json: bool,
    no_notify: bool,
) -> anyhow::Result<ExitCode> {
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let history = History::open_default()?;
    let skipped = record_skip(&history, &config, actions.name(), trigger, reason)?;
    if json {
        println!(
            "{}",
            json!({"type": "skipped", "run_id": skipped.run_id, "reason": reason.describe()})
        );
    } else {
        println!(
            "{} {}: {} (run {})",
            actions.name(),
            config.display(),
            reason.describe(),
            skipped.run_id
        );
    }
    if skipped.tell && !no_notify {
        let name = config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let notice = notify::Notice {
            summary: format!("Backup of “{name}” skipped"),
            body: format!(
                "{}. Kastell says this once; the backup runs again when it can.",
                reason.describe()
            ),
            urgent: false,
            run_id: Some(skipped.run_id),
        };
        if let Err(e) = notify::send(&notice, false).await {
            eprintln!("kastell: could not show a notification: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How long a run nobody watched waits for "Show details" on its notification before it
/// ends (the notification stays; its button then does nothing).
const DETAILS_WAIT: Duration = Duration::from_secs(15 * 60);

async fn notify_run(report: &RunReport, offer_details: bool) {
    let preferences = Preferences::load();
    if let Some(notice) = notify::for_run(report, &preferences) {
        match notify::send(&notice, offer_details).await {
            Ok(handle) if offer_details => {
                let asked = tokio::time::timeout(DETAILS_WAIT, notify::wants_details(&handle));
                if asked.await.unwrap_or(false) {
                    let shown = app_bus::open_window(app_bus::Request::ShowRun(report.run_id));
                    if let Err(e) = shown.await {
                        eprintln!("kastell: could not open the window: {e}");
                    }
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("kastell: could not show a notification: {e}"),
        }
    }
    // A scheduled run is also when "no backup for days" gets noticed.
    let _ = notify::notify_stale(&discovered_repositories(), &preferences).await;
}

/// Per config and repository: the last run, its outcome, the last success and the newest
/// archive (also one Kastell did not make), and a backup running now.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
    /// Also notify (once) about repositories without a recent successful backup.
    #[arg(long)]
    notify_stale: bool,
    /// Only what Kastell's history says: do not open the repositories for their newest archive.
    #[arg(long)]
    history_only: bool,
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let StatusArgs {
        json,
        notify_stale,
        history_only,
    } = args;
    let configs = status::configs(&History::open_default()?)?;
    let newest = match history_only {
        true => Vec::new(),
        false => status::newest_archives(&configs, Duration::from_secs(20)).await,
    };
    let now = crate::history::now_ms();
    let entries = status::overview(
        &History::open_default()?,
        &configs,
        &Preferences::load(),
        &newest,
        now,
    )?;
    if notify_stale {
        notify::notify_stale(&discovered_repositories(), &Preferences::load()).await?;
    }
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("No borgmatic config found in ~/.config/borgmatic/ or ~/.config/borgmatic.d/.");
    }
    let mut config_shown = None;
    for entry in &entries {
        if config_shown != Some(&entry.config) {
            println!("{}", entry.config.display());
            config_shown = Some(&entry.config);
        }
        println!("  {}", status::describe(entry, now));
        if let Some(archive) = &entry.newest_archive {
            println!(
                "    newest archive: {} ({})",
                archive.name,
                ago(archive.time)
            );
        }
        if let Some(check) = &entry.last_check {
            println!(
                "    last check: {} ({})",
                check.outcome.name(),
                ago(check.ended.unwrap_or(check.started))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn ago(ms: i64) -> String {
    let seconds = (crate::history::now_ms() - ms).max(0) as f64 / 1000.0;
    format!("{} ago", format_duration(seconds))
}

/// The runs of a config, newest first.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

pub fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let HistoryArgs {
        config,
        json,
        limit,
    } = args;
    let history = History::open_default()?;
    let config = std::path::absolute(&config).unwrap_or(config);
    let runs = history.runs(Some(&config), limit)?;
    if json {
        println!("{}", serde_json::to_string(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("No runs of {} yet.", config.display());
    }
    for run in &runs {
        print_run(run);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(run: &Run) {
    println!(
        "run {} · {} ({}) · {} · {}",
        run.id,
        run.actions,
        run.trigger,
        ago(run.started),
        run.outcome.name()
    );
    if let Some(message) = &run.message {
        println!("  {message}");
    }
    for part in &run.repositories {
        let stats = part
            .stats
            .as_ref()
            .map(|s| format!(" · {}", s.summary()))
            .unwrap_or_default();
        println!("  {}: {}{stats}", part.repository, part.outcome.name());
        if let Some(message) = &part.message {
            println!("    {message}");
        }
    }
}

/// Print a run's full log.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[arg(long, value_name = "ID")]
    run: i64,
}

pub fn log(args: LogArgs) -> anyhow::Result<ExitCode> {
    let LogArgs { run: run_id } = args;
    let history = History::open_default()?;
    let run = history
        .run(run_id)?
        .with_context(|| format!("there is no run {run_id}"))?;
    let path = run
        .log_path
        .with_context(|| format!("run {run_id} has no log (it did not start)"))?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read the log {path}"))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Remove a repository's stale lock (`borgmatic break-lock`), only when no live borg
/// process holds it.
#[derive(Debug, clap::Args)]
pub struct BreakLockArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
}

pub async fn break_lock(
    args: BreakLockArgs,
    cancel: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let BreakLockArgs { config, repository } = args;
    let config = BorgmaticConfig::load(&config)?;
    let repo = config
        .repository(&repository)
        .with_context(|| format!("the config has no repository “{repository}”"))?;
    crate::backup::break_lock(&config, repo, cancel).await?;
    println!("The lock of “{repository}” is broken.");
    Ok(ExitCode::SUCCESS)
}
