//! Backups that happen by themselves: one systemd user timer and service per config, written
//! to `$XDG_CONFIG_HOME/systemd/user/` and started through the user instance. No resident
//! scheduler: systemd catches up after the machine was off (`Persistent=true`), and the
//! service runs `kastell backup --trigger schedule`, which checks mains power and a metered
//! network itself so that a skipped run is recorded with its reason.
//!
//! - `units.rs`: unit names, their text, a schedule read back from the files.
//! - `systemd.rs`: `systemctl --user` and `systemd-analyze`.
//! - `conditions.rs`: mains power (UPower, `/sys`) and metered networks (NetworkManager).
//! - `existing.rs`: other schedules of the same config (anacron, cron, borgmatic units).
//! - `drive.rs`: "back up when this drive is plugged in" (a filesystem UUID, its device unit).

pub mod conditions;
pub mod drive;
pub mod existing;
pub mod systemd;
pub mod units;

use crate::errors::ErrorKind;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// When and under which conditions one config is backed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Absolute path of the borgmatic config.
    pub config: PathBuf,
    /// A systemd calendar expression (`*-*-* 12:00:00`, `daily`, `Mon..Fri 18:00`).
    pub calendar: String,
    pub ac_power_only: bool,
    pub skip_metered: bool,
    /// Also back up this repository when its drive is plugged in.
    pub drive: Option<DriveTrigger>,
}

/// A repository on a removable drive, backed up when the drive is plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriveTrigger {
    /// The repository's label (or path) in the config.
    pub repository: String,
    /// The drive's filesystem UUID.
    pub uuid: String,
}

/// The calendar of "every day at `HH:MM`".
pub fn daily_at(time: &str) -> Result<String, ScheduleError> {
    let bad = || ScheduleError::BadTime {
        time: time.to_string(),
    };
    let (hours, minutes) = time.split_once(':').ok_or_else(bad)?;
    let hours: u8 = hours.parse().map_err(|_| bad())?;
    let minutes: u8 = minutes.parse().map_err(|_| bad())?;
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    Ok(format!("*-*-* {hours:02}:{minutes:02}:00"))
}

/// The default: every day at noon, when a laptop is most likely on (a missed run is caught
/// up at the next start anyway).
pub const DEFAULT_CALENDAR: &str = "*-*-* 12:00:00";

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("“{time}” is not a time of day (HH:MM, e.g. 02:30)")]
    BadTime { time: String },
    #[error("systemd does not understand the calendar “{expression}”: {reason}")]
    BadCalendar { expression: String, reason: String },
    #[error("{} does not exist", config.display())]
    NoConfig { config: PathBuf },
    #[error("{} has no schedule", config.display())]
    NotScheduled { config: PathBuf },
    #[error("no folder for systemd user units (is HOME set?)")]
    NoUnitFolder,
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no systemd user instance answers ({reason})")]
    NoUserInstance { reason: String },
    #[error("{command} failed: {message}")]
    Systemctl { command: String, message: String },
    #[error("{command} did not answer within 30 seconds")]
    NoAnswer { command: String },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{} has no repository “{repository}”", config.display())]
    NoRepository { config: PathBuf, repository: String },
    #[error("“{repository}” is not on a drive of this computer ({path})")]
    NotOnDrive { repository: String, path: String },
    #[error(transparent)]
    Drive(#[from] drive::DriveError),
}

impl ScheduleError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ScheduleError::BadTime { .. } | ScheduleError::BadCalendar { .. } => {
                ErrorKind::BadInput
            }
            ScheduleError::NoConfig { .. } => ErrorKind::ConfigInvalid,
            ScheduleError::NoRepository { .. }
            | ScheduleError::NotOnDrive { .. }
            | ScheduleError::Drive(_) => ErrorKind::BadInput,
            ScheduleError::Write { source, .. }
                if source.raw_os_error() == Some(nix::libc::ENOSPC) =>
            {
                ErrorKind::DiskFull
            }
            ScheduleError::NoUserInstance { .. } | ScheduleError::NoAnswer { .. } => {
                ErrorKind::NoScheduler
            }
            _ => ErrorKind::Other,
        }
    }
}

/// A scheduled run that did not start, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub run_id: i64,
    pub reason: conditions::SkipReason,
    /// Whether to say so: only when the run before (of this config, by the schedule) was not
    /// skipped for the same reason, so a week on battery is one notification, not seven.
    pub tell: bool,
}

/// Records a skipped scheduled run of `config` in the history.
pub fn record_skip(
    history: &crate::history::History,
    config: &Path,
    actions: &str,
    trigger: &str,
    reason: conditions::SkipReason,
) -> Result<Skipped, crate::history::HistoryError> {
    let said = reason.describe();
    let previous = history
        .runs(Some(config), 20)?
        .into_iter()
        .find(|run| run.trigger == trigger);
    let tell = !previous.is_some_and(|run| {
        run.outcome == crate::history::Outcome::Skipped && run.message.as_deref() == Some(said)
    });
    let run_id = history.record_skipped(config, actions, trigger, said)?;
    Ok(Skipped {
        run_id,
        reason,
        tell,
    })
}

/// `$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`), where the user
/// instance looks for units.
pub fn unit_folder() -> Result<PathBuf, ScheduleError> {
    dirs::config_dir()
        .map(|c| c.join("systemd/user"))
        .ok_or(ScheduleError::NoUnitFolder)
}

/// The two files of one config's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFiles {
    pub name: String,
    pub timer: PathBuf,
    pub service: PathBuf,
    /// The service the drive's device unit wants (only with a drive trigger).
    pub drive_service: PathBuf,
}

impl UnitFiles {
    pub fn of(config: &Path) -> Result<UnitFiles, ScheduleError> {
        let folder = unit_folder()?;
        let name = units::unit_name(config);
        Ok(UnitFiles {
            timer: folder.join(format!("{name}.timer")),
            service: folder.join(format!("{name}.service")),
            drive_service: folder.join(format!("{name}-drive.service")),
            name,
        })
    }

    pub fn timer_unit(&self) -> String {
        format!("{}.timer", self.name)
    }

    pub fn drive_unit(&self) -> String {
        format!("{}-drive.service", self.name)
    }
}

/// What setting a schedule did.
#[derive(Debug)]
pub struct Applied {
    pub files: UnitFiles,
    /// When the first run is due (Unix ms), if systemd said.
    pub next_run: Option<i64>,
    /// Why the timer was written but not started (no user instance), if so.
    pub not_started: Option<ScheduleError>,
    /// What `systemd-analyze --user verify` said about the files, if anything.
    pub verify_notes: Option<String>,
}

/// The config as an absolute path, without following a symlink at its end (the unit names
/// the file the person chose).
fn absolute_config(config: &Path) -> Result<PathBuf, ScheduleError> {
    if !config.is_file() {
        return Err(ScheduleError::NoConfig {
            config: config.to_path_buf(),
        });
    }
    std::path::absolute(config).map_err(|_| ScheduleError::NoConfig {
        config: config.to_path_buf(),
    })
}

/// What the service runs: Kastell without its window (no Qt to load for a backup in the
/// background) and the tools it found.
pub fn run_environment() -> units::RunEnvironment {
    units::RunEnvironment {
        program: crate::process::windowless_program(),
        borg: crate::process::locate(crate::process::Tool::Borg),
        borgmatic: crate::process::locate(crate::process::Tool::Borgmatic),
    }
}

/// Writes `schedule`'s units (atomically, 0644 as systemd expects), reloads the user
/// instance and enables the timer. Without a user instance the files stay written and
/// `not_started` says why nothing will start them.
pub async fn set(mut schedule: Schedule) -> Result<Applied, ScheduleError> {
    schedule.config = absolute_config(&schedule.config)?;
    let analyzed_next = systemd::check_calendar(&schedule.calendar).await?;
    let files = UnitFiles::of(&schedule.config)?;
    let environment = run_environment();
    let folder = files
        .timer
        .parent()
        .ok_or(ScheduleError::NoUnitFolder)?
        .to_path_buf();
    std::fs::create_dir_all(&folder).map_err(|source| ScheduleError::Write {
        path: folder.clone(),
        source,
    })?;
    write_unit(
        &files.service,
        &units::service_text(&schedule, &environment),
    )?;
    write_unit(&files.timer, &units::timer_text(&schedule, &files.name))?;
    let mut written = vec![files.timer.as_path(), files.service.as_path()];
    if let Some(drive) = &schedule.drive {
        write_unit(
            &files.drive_service,
            &units::drive_service_text(&schedule, drive, &environment),
        )?;
        written.push(files.drive_service.as_path());
    }
    let verify_notes = systemd::verify(&written).await?;
    let had_drive_unit = files.drive_service.exists() && schedule.drive.is_none();
    let started = async {
        if had_drive_unit {
            // The drive trigger was switched off: its unit goes.
            systemd::disable(&files.drive_unit()).await?;
        }
        systemd::reload().await?;
        systemd::enable_now(&files.timer_unit()).await?;
        if schedule.drive.is_some() {
            // Enabling links it into the device unit's wants: plugging the drive starts it.
            systemd::enable(&files.drive_unit()).await?;
        }
        systemd::next_elapse(&files.timer_unit()).await
    }
    .await;
    if had_drive_unit {
        remove_unit(&files.drive_service)?;
    }
    let (next_run, not_started) = match started {
        Ok(next) => (next.or(analyzed_next), None),
        Err(e @ ScheduleError::NoUserInstance { .. }) => (analyzed_next, Some(e)),
        Err(e) => return Err(e),
    };
    Ok(Applied {
        files,
        next_run,
        not_started,
        verify_notes,
    })
}

/// Removes a unit file (one that is not there is fine).
fn remove_unit(file: &Path) -> Result<(), ScheduleError> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ScheduleError::Write {
            path: file.to_path_buf(),
            source,
        }),
    }
}

fn write_unit(path: &Path, text: &str) -> Result<(), ScheduleError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let write_error = |source| ScheduleError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(write_error)
}

/// Stops and removes `config`'s schedule. Without a user instance the files are removed and
/// the error says the instance was not told (it would find them gone at its next start).
pub async fn off(config: &Path) -> Result<Option<ScheduleError>, ScheduleError> {
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let files = UnitFiles::of(&config)?;
    if !files.timer.exists() && !files.service.exists() {
        return Err(ScheduleError::NotScheduled { config });
    }
    let mut told = systemd::disable_now(&files.timer_unit()).await;
    if files.drive_service.exists() && told.is_ok() {
        told = systemd::disable(&files.drive_unit()).await;
    }
    for file in [&files.timer, &files.service, &files.drive_service] {
        remove_unit(file)?;
    }
    match told {
        Ok(()) => {
            systemd::reload().await?;
            Ok(None)
        }
        Err(e @ ScheduleError::NoUserInstance { .. }) => Ok(Some(e)),
        Err(e) => Err(e),
    }
}

/// Stops `config`'s timer and keeps its units (`resume` starts it again).
pub async fn pause(config: &Path) -> Result<(), ScheduleError> {
    let files = scheduled_files(config)?;
    systemd::disable_now(&files.timer_unit()).await
}

/// Enables and starts `config`'s timer again.
pub async fn resume(config: &Path) -> Result<(), ScheduleError> {
    let files = scheduled_files(config)?;
    systemd::reload().await?;
    systemd::enable_now(&files.timer_unit()).await
}

fn scheduled_files(config: &Path) -> Result<UnitFiles, ScheduleError> {
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    let files = UnitFiles::of(&config)?;
    if !files.timer.exists() {
        return Err(ScheduleError::NotScheduled { config });
    }
    Ok(files)
}

/// One config's schedule as `kastell schedule show --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shown {
    pub config: PathBuf,
    /// The timer is enabled in the user instance.
    pub enabled: bool,
    pub calendar: String,
    pub ac_power_only: bool,
    pub skip_metered: bool,
    /// The repository also backed up when its drive is plugged in, or null.
    pub drive: Option<DriveTrigger>,
    pub timer_unit: PathBuf,
    pub service_unit: PathBuf,
    /// Unix ms, or null when unknown.
    pub next_run: Option<i64>,
    /// Other schedules that run borgmatic with this config (anacron, cron, units).
    pub other_schedules: Vec<existing::OtherSchedule>,
    /// Whether a systemd user instance answered (without one, nothing starts the timer and
    /// the window runs the schedule while it is open).
    pub systemd_answers: bool,
}

impl Shown {
    /// The schedule itself, as `set` takes it.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            config: self.config.clone(),
            calendar: self.calendar.clone(),
            ac_power_only: self.ac_power_only,
            skip_metered: self.skip_metered,
            drive: self.drive.clone(),
        }
    }
}

/// The time of day of a daily calendar `*-*-* HH:MM:00` ("12:00"), None for other calendars.
pub fn time_of(calendar: &str) -> Option<String> {
    let time = calendar.strip_prefix("*-*-* ")?.strip_suffix(":00")?;
    daily_at(time).ok().filter(|c| c == calendar)?;
    Some(time.to_string())
}

/// The schedule in words: "every day at 12:00, on mains power only".
pub fn describe(schedule: &Schedule) -> String {
    let when = match time_of(&schedule.calendar) {
        Some(time) => format!("every day at {time}"),
        None => format!("at “{}”", schedule.calendar),
    };
    let mut conditions = Vec::new();
    if schedule.ac_power_only {
        conditions.push("on mains power only");
    }
    if schedule.skip_metered {
        conditions.push("not on metered networks");
    }
    let said = match conditions.is_empty() {
        true => when,
        false => format!("{when}, {}", conditions.join(", ")),
    };
    match &schedule.drive {
        Some(drive) => format!(
            "{said}, and when the drive of “{}” is plugged in",
            drive.repository
        ),
        None => said,
    }
}

/// Every schedule Kastell wrote (or only `config`'s), with what the user instance says.
pub async fn show(config: Option<&Path>) -> Result<Vec<Shown>, ScheduleError> {
    let folder = unit_folder()?;
    let wanted = config.map(|c| std::path::absolute(c).unwrap_or_else(|_| c.to_path_buf()));
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(units::PREFIX))
                .filter_map(|n| n.strip_suffix(".timer").map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let places = existing::Places::of_this_user();
    let manager = !names.is_empty() && systemd::manager_answers().await;
    let mut shown = Vec::new();
    for name in names {
        let timer = folder.join(format!("{name}.timer"));
        let service = folder.join(format!("{name}.service"));
        let (Ok(timer_text), Ok(service_text)) = (
            std::fs::read_to_string(&timer),
            std::fs::read_to_string(&service),
        ) else {
            continue;
        };
        let Some(schedule) = units::parse(&timer_text, &service_text) else {
            continue;
        };
        if wanted.as_ref().is_some_and(|w| *w != schedule.config) {
            continue;
        }
        let unit = format!("{name}.timer");
        let (enabled, next_run, systemd_answers) = match manager {
            // No instance: nothing starts it, so nothing is due.
            false => (false, None, false),
            true => match systemd::is_enabled(&unit).await {
                Ok(true) => (true, systemd::next_elapse(&unit).await.ok().flatten(), true),
                Ok(false) | Err(_) => (false, None, true),
            },
        };
        shown.push(Shown {
            other_schedules: existing::find(&schedule.config, &places),
            config: schedule.config,
            enabled,
            calendar: schedule.calendar,
            ac_power_only: schedule.ac_power_only,
            skip_metered: schedule.skip_metered,
            drive: schedule.drive,
            timer_unit: timer,
            service_unit: service,
            next_run,
            systemd_answers,
        });
    }
    Ok(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_told_once_until_the_reason_changes_or_a_run_happens() {
        let dir = std::env::temp_dir().join(format!("kastell-skip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let history = crate::history::History::open(&dir.join("h.sqlite")).unwrap();
        let config = Path::new("/home/me/user.yaml");
        let skip = |reason| record_skip(&history, config, "backup", "schedule", reason).unwrap();
        assert!(skip(conditions::SkipReason::OnBattery).tell);
        assert!(!skip(conditions::SkipReason::OnBattery).tell);
        assert!(skip(conditions::SkipReason::Metered).tell);
        // A run by hand in between does not count: the schedule's own runs decide.
        let by_hand = history.start_run(config, "backup", "window").unwrap();
        history
            .finish_run(by_hand, crate::history::Outcome::Success, None)
            .unwrap();
        assert!(!skip(conditions::SkipReason::Metered).tell);
        let scheduled = history.start_run(config, "backup", "schedule").unwrap();
        history
            .finish_run(scheduled, crate::history::Outcome::Success, None)
            .unwrap();
        let again = skip(conditions::SkipReason::Metered);
        assert!(again.tell);
        let run = history.run(again.run_id).unwrap().unwrap();
        assert_eq!(run.outcome, crate::history::Outcome::Skipped);
        assert_eq!(
            run.message.as_deref(),
            Some("skipped: the network connection is metered")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn daily_calendars_read_back_as_a_time_and_in_words() {
        assert_eq!(time_of("*-*-* 02:30:00").as_deref(), Some("02:30"));
        assert_eq!(time_of("Mon..Fri 18:00"), None);
        let schedule = Schedule {
            config: PathBuf::from("/c.yaml"),
            calendar: "*-*-* 02:30:00".into(),
            ac_power_only: true,
            skip_metered: true,
            drive: None,
        };
        assert_eq!(
            describe(&schedule),
            "every day at 02:30, on mains power only, not on metered networks"
        );
    }

    #[test]
    fn times_of_day_become_daily_calendars_and_nonsense_is_refused() {
        assert_eq!(daily_at("2:30").unwrap(), "*-*-* 02:30:00");
        assert_eq!(daily_at("23:59").unwrap(), "*-*-* 23:59:00");
        for bad in ["24:00", "12", "12:60", "noon", "-1:00"] {
            assert!(
                matches!(daily_at(bad), Err(ScheduleError::BadTime { .. })),
                "{bad}"
            );
        }
    }
}
