//! The backup engine: runs a config's borgmatic actions for each repository in turn, turns the
//! live `--log-json` stream into progress, and records how each repository's part ended.
//!
//! One borgmatic process per repository (`--repository LABEL`): borgmatic's own log records do
//! not say which repository they are about, so this is what gives each repository its own
//! progress, exit status and result. Hooks, retention and check frequencies stay borgmatic's.

use super::lock::{borg_lock_holders, RunLock, RunLockHolder};
use super::progress::{Estimate, Progress, ProgressTracker};
use crate::config::{BorgmaticConfig, ConfigError, RepositoryConfig, RepositoryKind, Secret};
use crate::credentials::relay::serve_to_borgmatic;
use crate::events::{Event, EventSink};
use crate::history::{state_dir, ArchiveStats, History, HistoryError, Outcome, RepositoryEnd};
use crate::process::{
    run, BorgFailure, BorgmaticCommand, FailureKind, LogLine, ProcessError, Tools,
};
use crate::upkeep::stats::repository_totals;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Which of borgmatic's actions a run performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actions {
    /// borgmatic's default set: create, then prune, compact and check (as the config's
    /// retention and check frequencies say).
    Backup,
    Create,
    Prune,
    Compact,
    Check,
    /// `borg check --repair`: only after the person confirmed what it may cost.
    Repair,
}

impl Actions {
    pub fn name(self) -> &'static str {
        match self {
            Actions::Backup => "backup",
            Actions::Create => "create",
            Actions::Prune => "prune",
            Actions::Compact => "compact",
            Actions::Check => "check",
            Actions::Repair => "repair",
        }
    }

    pub fn parse(name: &str) -> Option<Actions> {
        [
            Actions::Backup,
            Actions::Create,
            Actions::Prune,
            Actions::Compact,
            Actions::Check,
            Actions::Repair,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }

    fn borgmatic_actions(self) -> &'static [&'static str] {
        match self {
            Actions::Backup => &["create", "prune", "compact", "check"],
            Actions::Create => &["create"],
            Actions::Prune => &["prune"],
            Actions::Compact => &["compact"],
            Actions::Check | Actions::Repair => &["check"],
        }
    }

    fn creates(self) -> bool {
        matches!(self, Actions::Backup | Actions::Create)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub config: PathBuf,
    /// One repository (label or path); all of them when None.
    pub repository: Option<String>,
    pub actions: Actions,
    /// Who asked, for the history: `window`, `command line`, `schedule`.
    pub trigger: String,
    /// A passphrase typed for this run (served to borgmatic through the one-run relay).
    pub typed_passphrase: Option<Secret>,
    /// Repositories (labels or paths) not backed up this time, e.g. one on a drive that is
    /// not plugged in.
    pub leave_out: Vec<String>,
}

/// Events of a run, in order: `RunStarted`, then per repository `RepositoryStarted`,
/// `Progress`..., `RepositoryFinished`; finally `RunFinished`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BackupEvent {
    RunStarted {
        run_id: i64,
        repositories: Vec<String>,
    },
    RepositoryStarted {
        index: usize,
        repository: String,
        estimate: Option<Estimate>,
    },
    Progress(Progress),
    RepositoryFinished {
        index: usize,
        report: RepositoryReport,
    },
    RunFinished {
        run_id: i64,
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryReport {
    pub repository: String,
    pub outcome: Outcome,
    pub stats: Option<ArchiveStats>,
    /// borg's msgid when it failed with one.
    pub msgid: Option<String>,
    /// What went wrong, in plain words (or borg's warnings).
    pub message: Option<String>,
    /// Only for `LockTimeout`: the lock's holder is gone, so breaking it is safe.
    pub may_break_lock: bool,
    /// Prune and compact: the repository's size on disk before and after.
    pub freed: Option<SpaceFreed>,
}

/// A check that found damage says so plainly, with what to do next. Failures that are not
/// damage (the passphrase, the lock, the connection: each has borg's msgid) keep their words.
fn advise_on_damage(report: &mut RepositoryReport) {
    let damage = report.outcome == Outcome::Error
        && report.msgid.as_deref().is_none_or(|id| {
            id.contains("Integrity") || id.contains("ObjectNotFound") || id.contains("CheckNeeded")
        });
    if !damage {
        return;
    }
    let found = report.message.take().unwrap_or_default();
    report.message = Some(format!(
        "borg found damage in this repository ({found}). What to do: do not prune or compact \
         it for now; back up to another repository if you have one; read the run's log. \
         Repair makes the repository usable again but may delete the data of damaged \
         archives and files, so run it only after that."
    ));
}

/// What a prune or compact did to the repository's size on disk (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpaceFreed {
    pub before: u64,
    pub after: u64,
}

impl SpaceFreed {
    /// "Freed 1.2 GB (repository: 9.1 GB → 7.9 GB)".
    pub fn summary(&self) -> String {
        use crate::units::format_bytes as human_size;
        format!(
            "Freed {} (repository: {} → {})",
            human_size(self.before.saturating_sub(self.after)),
            human_size(self.before),
            human_size(self.after)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub run_id: i64,
    pub config: PathBuf,
    pub actions: Actions,
    pub outcome: Outcome,
    /// Why nothing ran at all (another run of this config, a config borgmatic cannot read).
    pub message: Option<String>,
    pub repositories: Vec<RepositoryReport>,
    pub log_path: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("cannot write the run's log {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Log lines kept in the history per repository (the whole log is in the run's log file).
const LOG_TAIL_LINES: usize = 40;
/// How long to wait for `borg info` when there is no history to estimate from.
const ESTIMATE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `request` to its end and records it. Per-repository failures are in the report, not
/// errors: only failing to record the run at all is an error.
pub async fn run_backup(
    request: BackupRequest,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<RunReport, BackupError> {
    let history = History::open_default()?;
    let state = state_dir()?;
    let config_path = std::path::absolute(&request.config).unwrap_or(request.config.clone());
    let run_id = history.start_run(&config_path, request.actions.name(), &request.trigger)?;
    let log_path = state.join("logs").join(format!("run-{run_id}.log"));
    let mut report = RunReport {
        run_id,
        config: config_path.clone(),
        actions: request.actions,
        outcome: Outcome::Running,
        message: None,
        repositories: Vec::new(),
        log_path: None,
    };

    let prepared = match prepare(&request, &config_path, &state).await {
        Ok(prepared) => prepared,
        Err(not_started) => {
            return Ok(end_run(
                &history,
                report,
                Outcome::Error,
                Some(not_started.to_string()),
                sink,
            )?);
        }
    };
    let Prepared {
        lock,
        config,
        repositories,
        tools,
        relay,
    } = prepared;
    // Progress also goes into the run lock's file, where the tray reads it.
    let noting = NotingSink::new(sink, &lock);
    let sink: &dyn EventSink = &noting;
    history.close_abandoned(&config_path, run_id)?;

    let log = open_log(&log_path)?;
    history.set_log_path(run_id, &log_path)?;
    report.log_path = Some(log_path);
    sink.emit(Event::Backup(BackupEvent::RunStarted {
        run_id,
        repositories: repositories
            .iter()
            .map(|r| r.display_name().to_string())
            .collect(),
    }));

    for (index, repository) in repositories.iter().enumerate() {
        let name = repository.display_name().to_string();
        let part = history.start_repository(run_id, &name, &repository.path)?;
        let (repository_report, tail) = if cancel.is_cancelled() {
            let report = RepositoryReport {
                repository: name.clone(),
                outcome: Outcome::Cancelled,
                stats: None,
                msgid: None,
                message: Some("Not started: the run was cancelled.".into()),
                may_break_lock: false,
                freed: None,
            };
            (report, String::new())
        } else {
            let estimate = match request.actions.creates() {
                true => match previous_totals(&history, &config, repository) {
                    Some(estimate) => Some(estimate),
                    None => estimate_from_borg(&config, repository, cancel).await,
                },
                false => None,
            };
            sink.emit(Event::Backup(BackupEvent::RepositoryStarted {
                index,
                repository: name.clone(),
                estimate,
            }));
            let part_sink = RepositorySink::new(&name, estimate, sink, &log);
            let passcommand = relay.as_ref().map(|(_, passcommand)| passcommand.as_str());
            // Prune and compact say what they freed: the repository's size before and after.
            let frees = matches!(request.actions, Actions::Prune | Actions::Compact);
            let label = repository.label.as_deref().unwrap_or(&repository.path);
            let before = match frees {
                true => repository_totals(&tools, &config.path, label, passcommand)
                    .await
                    .ok(),
                false => None,
            };
            let result = run_repository(
                &tools,
                &config,
                repository,
                request.actions,
                passcommand,
                &part_sink,
                cancel,
            )
            .await;
            let succeeded = result.is_ok();
            let (mut part_report, tail) = part_sink.conclude(result, repository);
            if request.actions == Actions::Check {
                advise_on_damage(&mut part_report);
            }
            if let (true, Some(before)) = (succeeded, before) {
                if let Ok(after) = repository_totals(&tools, &config.path, label, passcommand).await
                {
                    part_report.freed = Some(SpaceFreed {
                        before: before.stored,
                        after: after.stored,
                    });
                }
            }
            (part_report, tail)
        };
        history.finish_repository(
            part,
            &RepositoryEnd {
                outcome: Some(repository_report.outcome),
                stats: repository_report.stats.clone(),
                msgid: repository_report.msgid.clone(),
                message: repository_report.message.clone(),
                log_tail: tail,
            },
        )?;
        sink.emit(Event::Backup(BackupEvent::RepositoryFinished {
            index,
            report: repository_report.clone(),
        }));
        report.repositories.push(repository_report);
    }
    drop(relay);
    if let Ok(mut log) = log.lock() {
        let _ = log.flush();
    }
    let outcome = Outcome::worst(report.repositories.iter().map(|r| r.outcome));
    Ok(end_run(&history, report, outcome, None, sink)?)
}

/// What a run needs before its first repository; held for the whole run.
struct Prepared {
    /// Released (by the kernel, whatever happens) when the run ends.
    lock: RunLock,
    config: BorgmaticConfig,
    repositories: Vec<RepositoryConfig>,
    tools: Tools,
    /// The typed passphrase (if any), served to every repository of the run.
    relay: Option<(crate::credentials::relay::PassphraseRelay, String)>,
}

/// Why a run did not start: nothing was backed up.
#[derive(Debug, thiserror::Error)]
pub enum NotStarted {
    #[error("Another Kastell run of this config is going on{}. This one did not start; try again when it has finished.",
        holder.pid.map(|pid| format!(" (process {pid}: {})", holder.what)).unwrap_or_default())]
    AnotherRun { holder: RunLockHolder },
    #[error("Kastell cannot take its run lock in {}: {source}", folder.display())]
    RunLock {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("The config cannot be read, so nothing was backed up: {0}")]
    Config(#[source] ConfigError),
    #[error("The config has no repository “{0}”.")]
    NoSuchRepository(String),
    /// borg or borgmatic is missing or unusable, or the one-run passphrase relay failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// Takes the config's run lock, reads the config, picks the repositories, finds borg and
/// borgmatic. Any failure is the run's message: nothing was backed up.
async fn prepare(
    request: &BackupRequest,
    config_path: &Path,
    state: &Path,
) -> Result<Prepared, NotStarted> {
    let what = format!("{} ({})", request.actions.name(), request.trigger);
    let lock = match RunLock::acquire(&state.join("locks"), config_path, &what) {
        Ok(Ok(lock)) => lock,
        Ok(Err(holder)) => return Err(NotStarted::AnotherRun { holder }),
        Err(source) => {
            return Err(NotStarted::RunLock {
                folder: state.to_path_buf(),
                source,
            })
        }
    };
    let config = BorgmaticConfig::load(config_path).map_err(NotStarted::Config)?;
    let mut repositories = match &request.repository {
        Some(wanted) => vec![config
            .repository(wanted)
            .cloned()
            .ok_or_else(|| NotStarted::NoSuchRepository(wanted.clone()))?],
        None => config.repositories.clone(),
    };
    repositories.retain(|r| {
        !request
            .leave_out
            .iter()
            .any(|out| r.label.as_deref() == Some(out.as_str()) || r.path == *out)
    });
    let tools = Tools::detect().await?;
    let relay = match &request.typed_passphrase {
        Some(secret) => Some(serve_to_borgmatic(secret.clone())?),
        None => None,
    };
    Ok(Prepared {
        lock,
        config,
        repositories,
        tools,
        relay,
    })
}

fn end_run(
    history: &History,
    mut report: RunReport,
    outcome: Outcome,
    message: Option<String>,
    sink: &dyn EventSink,
) -> Result<RunReport, HistoryError> {
    history.finish_run(report.run_id, outcome, message.as_deref())?;
    report.outcome = outcome;
    report.message = message;
    sink.emit(Event::Backup(BackupEvent::RunFinished {
        run_id: report.run_id,
        outcome,
    }));
    Ok(report)
}

fn open_log(path: &Path) -> Result<Mutex<BufWriter<File>>, BackupError> {
    let state_error = |source| BackupError::State {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::private::create_dir(dir).map_err(state_error)?;
    }
    let file: File = crate::private::create_file(path).map_err(state_error)?;
    Ok(Mutex::new(BufWriter::new(file)))
}

/// The previous archive's totals as the history has them.
fn previous_totals(
    history: &History,
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
) -> Option<Estimate> {
    let stats = history
        .previous_totals(&config.path, repository.display_name())
        .ok()??;
    Some(Estimate {
        original_size: stats.original_size,
        nfiles: stats.nfiles,
    })
}

/// Without history: `borg info` of the newest archive.
async fn estimate_from_borg(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    cancel: &CancellationToken,
) -> Option<Estimate> {
    let info = tokio::time::timeout(
        ESTIMATE_TIMEOUT,
        crate::process::archives::archive_info(
            config,
            repository,
            "latest",
            &crate::events::Discard,
            cancel,
        ),
    )
    .await
    .ok()?
    .ok()?;
    Some(Estimate {
        original_size: info.original_size,
        nfiles: info.file_count,
    })
}

async fn run_repository(
    tools: &Tools,
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    actions: Actions,
    passcommand: Option<&str>,
    sink: &RepositorySink<'_>,
    cancel: &CancellationToken,
) -> Result<Option<ArchiveStats>, ProcessError> {
    let label = repository.label.as_deref().unwrap_or(&repository.path);
    let names = actions.borgmatic_actions();
    // `--verbosity 1` makes borgmatic log each action's start (the phases); `--progress`
    // makes borg stream its counters. Each action gets `--repository`, as borgmatic 1.8 wants.
    let mut command = BorgmaticCommand::new(&config.path, names[0])
        .global_arg("--verbosity")
        .global_arg("1")
        .stream_stdout()
        .repository(label);
    if let Some(passcommand) = passcommand {
        command = command.passcommand(passcommand.to_string());
    }
    for (i, action) in names.iter().enumerate() {
        if i > 0 {
            command = command.arg(action).arg("--repository").arg(label);
        }
        match *action {
            "create" => command = command.arg("--progress").arg("--json"),
            "compact" => command = command.arg("--progress"),
            // Asked for by the person: now, whatever the config's check frequency says
            // (within a backup the frequency decides, as in headless borgmatic).
            "check" if actions == Actions::Check => {
                command = command.arg("--progress").arg("--force")
            }
            // borg asks for a typed YES before repairing; the window and `kastell check
            // --repair --yes` asked the person already.
            "check" if actions == Actions::Repair => {
                command = command
                    .arg("--repair")
                    .arg("--force")
                    .env("BORG_CHECK_I_KNOW_WHAT_I_AM_DOING", "YES")
            }
            "check" => command = command.arg("--progress"),
            _ => {}
        }
    }
    let invocation = command.invocation(tools);
    let done =
        crate::process::archives::checked(run(invocation, sink, cancel).await, repository).await?;
    Ok(create_stats(&done.stdout))
}

#[derive(Deserialize)]
struct CreateOutput {
    archive: CreateArchive,
    #[serde(default)]
    cache: Option<CreateCache>,
}

#[derive(Deserialize)]
struct CreateArchive {
    name: String,
    #[serde(default)]
    duration: f64,
    stats: CreateStats,
}

#[derive(Deserialize)]
struct CreateStats {
    original_size: u64,
    compressed_size: u64,
    deduplicated_size: u64,
    nfiles: u64,
}

#[derive(Deserialize)]
struct CreateCache {
    stats: CacheStats,
}

#[derive(Deserialize)]
struct CacheStats {
    #[serde(default)]
    total_size: Option<u64>,
    #[serde(default)]
    unique_csize: Option<u64>,
}

/// borgmatic prints `create --json`'s result as a JSON array among its log records, with no
/// newline after it (the next record follows on the same line).
fn create_stats(stdout: &[u8]) -> Option<ArchiveStats> {
    let text = String::from_utf8_lossy(stdout);
    let start = text.find("[{\"archive\"")?;
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Vec<CreateOutput>>()
        .next()?
        .ok()?
        .into_iter()
        .next()
        .map(|out| ArchiveStats {
            archive: out.archive.name,
            nfiles: out.archive.stats.nfiles,
            original_size: out.archive.stats.original_size,
            compressed_size: out.archive.stats.compressed_size,
            deduplicated_size: out.archive.stats.deduplicated_size,
            repository_original_size: out.cache.as_ref().and_then(|c| c.stats.total_size),
            repository_stored_size: out.cache.as_ref().and_then(|c| c.stats.unique_csize),
            duration_seconds: out.archive.duration,
        })
}

/// Receives one repository's process events: tracks progress, writes the run's log, keeps the
/// tail for the history, and passes everything on.
struct RepositorySink<'a> {
    name: String,
    outer: &'a dyn EventSink,
    tracker: Mutex<ProgressTracker>,
    log: &'a Mutex<BufWriter<File>>,
    tail: Mutex<VecDeque<String>>,
}

impl<'a> RepositorySink<'a> {
    fn new(
        name: &str,
        estimate: Option<Estimate>,
        outer: &'a dyn EventSink,
        log: &'a Mutex<BufWriter<File>>,
    ) -> Self {
        if let Ok(mut log) = log.lock() {
            let _ = writeln!(log, "==> {name}");
        }
        RepositorySink {
            name: name.to_string(),
            outer,
            tracker: Mutex::new(ProgressTracker::new(name, estimate, Instant::now())),
            log,
            tail: Mutex::new(VecDeque::with_capacity(LOG_TAIL_LINES)),
        }
    }

    fn keep(&self, text: String) {
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{text}");
        }
        if let Ok(mut tail) = self.tail.lock() {
            if tail.len() == LOG_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text);
        }
    }

    /// Turns the process's result into the repository's report and log tail.
    fn conclude(
        &self,
        result: Result<Option<ArchiveStats>, ProcessError>,
        repository: &RepositoryConfig,
    ) -> (RepositoryReport, String) {
        let totals = result.as_ref().ok().and_then(|stats| stats.as_ref());
        let (last, warnings) = match self.tracker.lock() {
            Ok(mut tracker) => (Some(tracker.finish(totals)), tracker.warnings().to_vec()),
            Err(_) => (None, Vec::new()),
        };
        if let Some(last) = last {
            self.outer.emit(Event::Backup(BackupEvent::Progress(last)));
        }
        let mut report = RepositoryReport {
            repository: self.name.clone(),
            outcome: Outcome::Success,
            stats: None,
            msgid: None,
            message: None,
            may_break_lock: false,
            freed: None,
        };
        match result {
            Ok(stats) => {
                report.stats = stats;
                if !warnings.is_empty() {
                    report.outcome = Outcome::Warning;
                    report.message = Some(format!(
                        "Finished with {} warning{}: {}",
                        warnings.len(),
                        if warnings.len() == 1 { "" } else { "s" },
                        warnings.join("; ")
                    ));
                }
            }
            Err(ProcessError::Cancelled) => {
                report.outcome = Outcome::Cancelled;
                report.message = Some(
                    "Cancelled. borg stopped cleanly (a backup in progress leaves a checkpoint archive that the next run continues from)."
                        .into(),
                );
            }
            Err(ProcessError::Failed(failure)) => {
                report.outcome = Outcome::Error;
                report.msgid = failure.msgid.clone();
                report.message = Some(self.explain(&failure, repository));
                report.may_break_lock =
                    failure.kind == FailureKind::LockTimeout && local_lock_may_break(repository);
            }
            Err(other) => {
                report.outcome = Outcome::Error;
                report.message = Some(other.user_message(Some(&self.name)));
            }
        }
        let tail = self
            .tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        if let Some(message) = &report.message {
            self.keep(format!("{}: {message}", report.outcome.name()));
        }
        (report, tail)
    }

    fn explain(&self, failure: &BorgFailure, repository: &RepositoryConfig) -> String {
        let mut message = failure.user_message(Some(&self.name));
        if failure.kind == FailureKind::LockTimeout {
            if let RepositoryKind::Local = repository.kind() {
                let holders = borg_lock_holders(Path::new(&repository.path));
                if let Some(holder) = holders.first() {
                    message.push_str(&format!(" The lock: {}.", holder.describe()));
                }
            }
        }
        message
    }
}

fn local_lock_may_break(repository: &RepositoryConfig) -> bool {
    matches!(repository.kind(), RepositoryKind::Local)
        && borg_lock_holders(Path::new(&repository.path))
            .iter()
            .all(|h| h.may_break())
}

/// Passes every event on and writes the progress into the run lock's file, at most once a
/// second (a file the tray reads; the run's own window has the events).
struct NotingSink<'a> {
    inner: &'a dyn EventSink,
    lock: &'a RunLock,
    throttle: crate::events::Throttle,
    repository: std::sync::Mutex<String>,
}

impl<'a> NotingSink<'a> {
    fn new(inner: &'a dyn EventSink, lock: &'a RunLock) -> NotingSink<'a> {
        NotingSink {
            inner,
            lock,
            throttle: crate::events::Throttle::new(Duration::from_secs(1)),
            repository: std::sync::Mutex::new(String::new()),
        }
    }
}

impl EventSink for NotingSink<'_> {
    fn emit(&self, event: Event) {
        match &event {
            Event::Backup(BackupEvent::RepositoryStarted { repository, .. }) => {
                if let Ok(mut current) = self.repository.lock() {
                    current.clone_from(repository);
                }
                self.lock.note_progress(repository, None, None);
            }
            Event::Backup(BackupEvent::Progress(progress)) if self.throttle.ready() => {
                let repository = self
                    .repository
                    .lock()
                    .map(|r| r.clone())
                    .unwrap_or_default();
                self.lock.note_progress(
                    &repository,
                    progress.fraction,
                    progress.eta_seconds.map(|s| s as f64),
                );
            }
            _ => {}
        }
        self.inner.emit(event);
    }
}

impl EventSink for RepositorySink<'_> {
    fn emit(&self, event: Event) {
        if let Event::Line(line) = &event {
            let changed = match self.tracker.lock() {
                Ok(mut tracker) => tracker
                    .observe(line, Instant::now())
                    .then(|| tracker.progress().clone()),
                Err(_) => None,
            };
            match line {
                // Counters go to the progress, not to the log.
                LogLine::ArchiveProgress { .. } | LogLine::ProgressPercent { .. } => {}
                LogLine::ProgressMessage {
                    message: Some(m), ..
                } => self.keep(m.clone()),
                LogLine::ProgressMessage { .. } => {}
                other => self.keep(other.text()),
            }
            if let Some(progress) = changed {
                self.outer
                    .emit(Event::Backup(BackupEvent::Progress(progress)));
            }
        }
        self.outer.emit(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_stats_are_found_among_borgmatics_log_records() {
        let stdout = br#"{"type": "log_message", "time": 1.0, "message": "Creating archive", "levelname": "INFO", "name": "borgmatic.actions.create"}
[{"archive": {"name": "a1", "duration": 2.5, "stats": {"compressed_size": 20, "deduplicated_size": 10, "nfiles": 3, "original_size": 30}}, "cache": {"stats": {"total_size": 60, "unique_csize": 15}}, "repository": {"id": "x"}}]{"type": "log_message", "time": 2.0, "message": "done", "levelname": "INFO", "name": "borgmatic.commands.borgmatic"}
"#;
        let stats = create_stats(stdout).unwrap();
        assert_eq!(stats.archive, "a1");
        assert_eq!(stats.nfiles, 3);
        assert_eq!(stats.original_size, 30);
        assert_eq!(stats.repository_stored_size, Some(15));
        assert_eq!(stats.duration_seconds, 2.5);
    }

    #[test]
    fn actions_round_trip_through_their_names() {
        for a in ["backup", "create", "prune", "compact", "check"] {
            assert_eq!(Actions::parse(a).map(Actions::name), Some(a));
        }
        assert_eq!(Actions::parse("delete"), None);
    }
}
