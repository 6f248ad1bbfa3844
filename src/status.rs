//! The state of every backup at a glance, per config and repository: the last run and the last
//! success from the history, a run going on now (from its run lock), and the newest archive
//! in the repository itself, which also shows backups Kastell did not start (a `borgmatic
//! create` from cron or a terminal). `kastell status`, the tray and the window read it.

use crate::backup::lock::{self, RunProgress};
use crate::config::BorgmaticConfig;
use crate::history::{History, HistoryError, Outcome, RepositoryRun};
use crate::preferences::Preferences;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// One word for a repository's state; the tray's icon and the window's badge follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Never backed up (that Kastell knows of).
    Unknown,
    /// The last run worked and the last backup is recent.
    Ok,
    /// A backup of it runs now.
    Running,
    /// The last backup is older than the threshold in the preferences.
    Overdue,
    /// The last run failed.
    Failed,
}

/// The newest archive of a repository, as the repository itself says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewestArchive {
    pub name: String,
    /// Unix ms.
    pub time: i64,
}

/// A run going on now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Running {
    pub pid: i32,
    pub what: String,
    pub repository: Option<String>,
    pub fraction: Option<f64>,
    pub eta_seconds: Option<f64>,
}

impl From<RunProgress> for Running {
    fn from(p: RunProgress) -> Running {
        Running {
            pid: p.pid,
            what: p.what,
            repository: p.repository,
            fraction: p.fraction,
            eta_seconds: p.eta_seconds,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastRun {
    pub run_id: i64,
    pub started: i64,
    pub ended: Option<i64>,
    pub outcome: Outcome,
    pub message: Option<String>,
    pub msgid: Option<String>,
}

impl From<&RepositoryRun> for LastRun {
    fn from(r: &RepositoryRun) -> LastRun {
        LastRun {
            run_id: r.run_id,
            started: r.started,
            ended: r.ended,
            outcome: r.outcome,
            message: r.message.clone(),
            msgid: r.msgid.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryStatus {
    pub config: PathBuf,
    pub repository: String,
    pub last_run: Option<LastRun>,
    /// Unix ms of the last successful backup: Kastell's own, or a newer archive in the
    /// repository made by anyone.
    pub last_success: Option<i64>,
    pub newest_archive: Option<NewestArchive>,
    pub running: Option<Running>,
    pub health: Health,
    /// The last `kastell check` of this repository (any outcome): when and what it found.
    pub last_check: Option<LastRun>,
}

/// The configs to report on: those found in the usual places and every config with runs in
/// the history (one opened with `--config` from elsewhere too), each with its repositories
/// (from the file, or from the history when the file is gone).
pub fn configs(history: &History) -> Result<Vec<(PathBuf, Vec<String>)>, HistoryError> {
    let mut all = crate::config::discovered_repositories();
    for config in history.configs()? {
        if all.iter().any(|(known, _)| *known == config) {
            continue;
        }
        let repositories = match BorgmaticConfig::load(&config) {
            Ok(loaded) => loaded
                .repositories
                .iter()
                .map(|r| r.display_name().to_string())
                .collect(),
            Err(_) => history.repositories_of(&config)?,
        };
        all.push((config, repositories));
    }
    Ok(all)
}

/// The state of every repository of `configs` from the history and the run locks (fast: no
/// repository is opened). `newest` adds what the repositories say (see [`newest_archives`]).
pub fn overview(
    history: &History,
    configs: &[(PathBuf, Vec<String>)],
    preferences: &Preferences,
    newest: &[(PathBuf, String, NewestArchive)],
    now_ms: i64,
) -> Result<Vec<RepositoryStatus>, HistoryError> {
    let locks = crate::history::state_dir()?.join("locks");
    let stale_after = i64::from(preferences.stale_after_hours) * 3_600_000;
    let mut all = Vec::new();
    for (config, repositories) in configs {
        let running = lock::running(&locks, config);
        for repository in repositories {
            let last = history.last_repository_run(config, repository, None)?;
            // A successful prune or check is not a backup: only backups count as success.
            let success = history.last_run_of(
                config,
                repository,
                Some(&["backup", "create"]),
                Some(Outcome::Success),
            )?;
            let last_check = history
                .last_run_of(config, repository, Some(&["check", "repair"]), None)?
                .as_ref()
                .map(LastRun::from);
            let newest_archive = newest
                .iter()
                .find(|(c, r, _)| c == config && r == repository)
                .map(|(_, _, a)| a.clone());
            let last_success = success
                .as_ref()
                .map(|r| r.ended.unwrap_or(r.started))
                .into_iter()
                .chain(newest_archive.as_ref().map(|a| a.time))
                .max();
            let running_here = running.as_ref().filter(|r| {
                r.repository.is_none() || r.repository.as_deref() == Some(repository.as_str())
            });
            let last_run = last.as_ref().map(LastRun::from);
            let health = health_of(
                last_run.as_ref(),
                last_success,
                running_here.is_some(),
                now_ms,
                stale_after,
            );
            all.push(RepositoryStatus {
                config: config.clone(),
                repository: repository.clone(),
                last_run,
                last_success,
                newest_archive,
                running: running_here.cloned().map(Running::from),
                health,
                last_check,
            });
        }
    }
    Ok(all)
}

/// A failure counts until a later success (Kastell's, or an archive made since by anyone).
fn health_of(
    last_run: Option<&LastRun>,
    last_success: Option<i64>,
    running: bool,
    now_ms: i64,
    stale_after_ms: i64,
) -> Health {
    if running {
        return Health::Running;
    }
    let failed_at = last_run
        .filter(|r| r.outcome == Outcome::Error)
        .map(|r| r.ended.unwrap_or(r.started));
    match (failed_at, last_success) {
        (Some(failed), Some(success)) if failed > success => Health::Failed,
        (Some(_), None) => Health::Failed,
        (_, Some(success)) if now_ms - success > stale_after_ms => Health::Overdue,
        (_, Some(_)) => Health::Ok,
        (None, None) => Health::Unknown,
    }
}

/// The state of them all together: running beats failed beats overdue beats ok.
pub fn overall(statuses: &[RepositoryStatus]) -> Health {
    if statuses.iter().any(|s| s.health == Health::Running) {
        return Health::Running;
    }
    statuses
        .iter()
        .map(|s| s.health)
        .max()
        .unwrap_or(Health::Unknown)
}

/// Reads the newest archive of every repository with Kastell's reader (the manifest only:
/// no archive is opened), each within `timeout`; a repository that cannot be read now (the
/// NAS is off, the wallet is locked) is left out.
pub async fn newest_archives(
    configs: &[(PathBuf, Vec<String>)],
    timeout: Duration,
) -> Vec<(PathBuf, String, NewestArchive)> {
    let mut found = Vec::new();
    for (config, repositories) in configs {
        let Ok(loaded) = BorgmaticConfig::load(config) else {
            continue;
        };
        for name in repositories {
            let Some(repository) = loaded.repository(name) else {
                continue;
            };
            let opened =
                tokio::time::timeout(timeout, crate::browse::open_reader(&loaded, repository))
                    .await;
            let Ok(Ok(reader)) = opened else { continue };
            let newest = reader
                .archives()
                .iter()
                .filter_map(|a| Some((crate::times::utc_iso_to_ns(&a.time)? / 1_000_000, a)))
                .max_by_key(|(time, _)| *time);
            if let Some((time, archive)) = newest {
                found.push((
                    config.clone(),
                    name.clone(),
                    NewestArchive {
                        name: archive.name.clone(),
                        time,
                    },
                ));
            }
        }
    }
    found
}

/// "backed up 3 hours ago", "never backed up", "failed: <reason>", "backing up: 42 %, about
/// 5 minutes left": one repository in a line, for the tray's tooltip and notifications.
pub fn describe(status: &RepositoryStatus, now_ms: i64) -> String {
    let ago = |ms: i64| crate::times::ago(ms, now_ms);
    let name = &status.repository;
    if let Some(running) = &status.running {
        let mut line = format!("{name}: backing up");
        if let Some(fraction) = running.fraction {
            line.push_str(&format!(", {:.0} %", fraction * 100.0));
        }
        if let Some(eta) = running.eta_seconds {
            line.push_str(&format!(
                ", about {} left",
                crate::units::format_duration(eta)
            ));
        }
        return line;
    }
    let success = match status.last_success {
        Some(ms) => format!("backed up {}", ago(ms)),
        None => "never backed up".to_string(),
    };
    match (&status.health, &status.last_run) {
        (Health::Failed, Some(run)) => format!(
            "{name}: last backup failed ({}): {}; {success}",
            ago(run.ended.unwrap_or(run.started)),
            run.message.as_deref().unwrap_or("see the run's log")
        ),
        _ => format!("{name}: {success}"),
    }
}

/// "checked 2 days ago: no damage", "check 1 hour ago found a problem": the last check of
/// one repository in words (nothing when it was never checked from Kastell).
pub fn describe_check(status: &RepositoryStatus, now_ms: i64) -> Option<String> {
    let check = status.last_check.as_ref()?;
    let when = crate::times::ago(check.ended.unwrap_or(check.started), now_ms);
    Some(match check.outcome {
        Outcome::Success | Outcome::Warning => format!("checked {when}: no damage"),
        Outcome::Cancelled | Outcome::Skipped => format!("check {when} did not finish"),
        _ => format!("check {when} found a problem"),
    })
}

/// The run history's files: the database and its write-ahead log. Their change times say
/// when something may have changed (a run started, ended or was recorded).
pub fn history_files() -> Vec<PathBuf> {
    crate::history::state_dir()
        .map(|dir| {
            vec![
                dir.join("history.sqlite"),
                dir.join("history.sqlite-wal"),
                dir.join("locks"),
            ]
        })
        .unwrap_or_default()
}

/// A fingerprint of [`history_files`]'s modification times and sizes: when it changes, the
/// status is read again.
pub fn history_fingerprint(files: &[PathBuf]) -> Vec<(i64, u64)> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .map(|m| (m.mtime_nsec() + m.mtime() * 1_000_000_000, m.size()))
                .unwrap_or((0, 0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn run(outcome: Outcome, at: i64, message: Option<&str>) -> LastRun {
        LastRun {
            run_id: 1,
            started: at - 1000,
            ended: Some(at),
            outcome,
            message: message.map(String::from),
            msgid: None,
        }
    }

    #[test]
    fn health_follows_the_last_run_the_last_success_and_the_threshold() {
        let now = 1_000 * HOUR;
        let stale = 48 * HOUR;
        assert_eq!(health_of(None, None, false, now, stale), Health::Unknown);
        let ok = run(Outcome::Success, now - HOUR, None);
        assert_eq!(
            health_of(Some(&ok), Some(now - HOUR), false, now, stale),
            Health::Ok
        );
        assert_eq!(
            health_of(Some(&ok), Some(now - 50 * HOUR), false, now, stale),
            Health::Overdue
        );
        let failed = run(Outcome::Error, now - HOUR, Some("Connection closed"));
        assert_eq!(
            health_of(Some(&failed), Some(now - 2 * HOUR), false, now, stale),
            Health::Failed
        );
        // An archive made after the failure (by cron, say) ends it.
        assert_eq!(
            health_of(Some(&failed), Some(now - HOUR / 2), false, now, stale),
            Health::Ok
        );
        assert_eq!(
            health_of(Some(&failed), None, true, now, stale),
            Health::Running
        );
    }

    #[test]
    fn a_line_per_repository_says_when_and_why() {
        let now = 1_000 * HOUR;
        let mut status = RepositoryStatus {
            config: PathBuf::from("/c.yaml"),
            repository: "local".into(),
            last_run: Some(run(Outcome::Success, now - 3 * HOUR, None)),
            last_success: Some(now - 3 * HOUR),
            newest_archive: None,
            running: None,
            health: Health::Ok,
            last_check: None,
        };
        assert_eq!(describe(&status, now), "local: backed up 3 hours ago");
        assert_eq!(describe_check(&status, now), None);
        status.last_check = Some(run(Outcome::Success, now - 2 * HOUR, None));
        assert_eq!(
            describe_check(&status, now).as_deref(),
            Some("checked 2 hours ago: no damage")
        );
        status.last_check = Some(run(Outcome::Error, now - 2 * HOUR, Some("damage")));
        assert_eq!(
            describe_check(&status, now).as_deref(),
            Some("check 2 hours ago found a problem")
        );
        status.last_check = None;
        status.last_run = Some(run(Outcome::Error, now - HOUR, Some("Connection closed")));
        status.health = Health::Failed;
        assert_eq!(
            describe(&status, now),
            "local: last backup failed (1 hour ago): Connection closed; backed up 3 hours ago"
        );
        status.running = Some(Running {
            pid: 1,
            what: "backup".into(),
            repository: Some("local".into()),
            fraction: Some(0.42),
            eta_seconds: Some(300.0),
        });
        assert!(describe(&status, now).starts_with("local: backing up, 42 %, about 5"));
    }
}
