//! The tray icon (`kastell tray`): a small resident process, no Qt and no QML engine, that
//! registers a StatusNotifierItem (the Plasma tray protocol, through `ksni`) whose icon,
//! status and tooltip say how the backups are, and whose menu starts a backup, opens the
//! window, mounts the latest archive and pauses the schedule.
//!
//! It reads the run history and the run locks when they change (and every few seconds while a
//! backup runs, for its progress), and opens the repositories only at start, after a run ends
//! and on a slow timer, for archives made without Kastell.

use crate::history::History;
use crate::preferences::Preferences;
use crate::status::{self, Health, NewestArchive, RepositoryStatus};
use ksni::TrayMethods;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the tray looks at the history's files.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// Relative times ("3 hours ago") are refreshed at least this often.
const REFRESH_EVERY: Duration = Duration::from_secs(60);

/// What the person asked for in the menu.
#[derive(Debug, Clone, PartialEq)]
pub enum TrayAction {
    BackUpNow,
    OpenWindow,
    MountLatest,
    PauseSchedule,
    ResumeSchedule,
    Quit,
}

/// What the tray shows.
#[derive(Debug, Clone, Default)]
pub struct TrayView {
    pub statuses: Vec<RepositoryStatus>,
    pub overall: Option<Health>,
    /// Configs with a schedule, and whether it is on.
    pub schedules: Vec<(PathBuf, bool)>,
    pub now_ms: i64,
    /// The first run's keys not saved ("" when there is nothing to warn about).
    pub keys_warning: String,
}

impl TrayView {
    fn health(&self) -> Health {
        self.overall.unwrap_or(Health::Unknown)
    }

    /// The icon of each state (installed with Kastell; `icons/` in the source tree).
    pub fn icon_name(&self) -> &'static str {
        match self.health() {
            Health::Ok => "kastell-ok",
            Health::Running => "kastell-running",
            Health::Failed => "kastell-failed",
            Health::Overdue => "kastell-overdue",
            Health::Unknown => "org.kde.kastell",
        }
    }

    pub fn title(&self) -> &'static str {
        match self.health() {
            Health::Ok => "Kastell: backups are up to date",
            Health::Running => "Kastell: backing up",
            Health::Failed => "Kastell: a backup failed",
            Health::Overdue => "Kastell: no recent backup",
            Health::Unknown => "Kastell: nothing backed up yet",
        }
    }

    /// One line per repository ("local: backed up 3 hours ago").
    pub fn description(&self) -> String {
        let several_configs = self
            .statuses
            .iter()
            .any(|s| s.config != self.statuses[0].config);
        let mut lines: Vec<String> = self
            .statuses
            .iter()
            .map(|s| {
                let line = status::describe(s, self.now_ms);
                match several_configs {
                    true => format!("{}: {line}", config_name(&s.config)),
                    false => line,
                }
            })
            .collect();
        if !self.keys_warning.is_empty() {
            lines.push(self.keys_warning.clone());
        }
        lines.join("\n")
    }

    fn running(&self) -> bool {
        self.health() == Health::Running
    }

    fn any_schedule_on(&self) -> bool {
        self.schedules.iter().any(|(_, on)| *on)
    }
}

fn config_name(config: &Path) -> String {
    config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct KastellTray {
    view: TrayView,
    actions: mpsc::UnboundedSender<TrayAction>,
    icons: String,
}

impl KastellTray {
    fn item(&self, label: &str, action: TrayAction, enabled: bool) -> ksni::MenuItem<Self> {
        ksni::menu::StandardItem {
            label: label.into(),
            enabled,
            activate: Box::new(move |tray: &mut Self| {
                let _ = tray.actions.send(action.clone());
            }),
            ..Default::default()
        }
        .into()
    }
}

impl ksni::Tray for KastellTray {
    fn id(&self) -> String {
        "org.kde.kastell".into()
    }

    fn title(&self) -> String {
        "Kastell".into()
    }

    fn category(&self) -> ksni::Category {
        ksni::Category::ApplicationStatus
    }

    fn status(&self) -> ksni::Status {
        match self.view.health() {
            Health::Failed | Health::Overdue => ksni::Status::NeedsAttention,
            _ if !self.view.keys_warning.is_empty() => ksni::Status::NeedsAttention,
            _ => ksni::Status::Active,
        }
    }

    fn icon_name(&self) -> String {
        self.view.icon_name().into()
    }

    fn attention_icon_name(&self) -> String {
        self.view.icon_name().into()
    }

    fn icon_theme_path(&self) -> String {
        self.icons.clone()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip {
            icon_name: self.view.icon_name().into(),
            icon_pixmap: Vec::new(),
            title: self.view.title().into(),
            description: self.view.description(),
        }
    }

    fn activate(&mut self, _x: i32, _y: i32) {
        let _ = self.actions.send(TrayAction::OpenWindow);
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        let mut menu = vec![
            self.item("Back up now", TrayAction::BackUpNow, !self.view.running()),
            self.item("Open Kastell", TrayAction::OpenWindow, true),
            self.item(
                "Mount latest archive",
                TrayAction::MountLatest,
                !self.view.statuses.is_empty(),
            ),
        ];
        if !self.view.schedules.is_empty() {
            menu.push(if self.view.any_schedule_on() {
                self.item("Pause schedule", TrayAction::PauseSchedule, true)
            } else {
                self.item("Resume schedule", TrayAction::ResumeSchedule, true)
            });
        }
        menu.push(ksni::MenuItem::Separator);
        menu.push(self.item("Quit", TrayAction::Quit, true));
        menu
    }
}

/// Where the tray's icons are: next to an installed Kastell (`PREFIX/share/kastell/icons`),
/// else the source tree's `icons/` (a Kastell run from its build folder).
fn icon_folder() -> String {
    let installed = std::env::current_exe().ok().and_then(|exe| {
        let prefix = exe.parent()?.parent()?.to_path_buf();
        let folder = prefix.join("share/kastell/icons");
        folder.is_dir().then_some(folder)
    });
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("icons");
    installed
        .or_else(|| source.is_dir().then_some(source))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Reads the view: history, run locks, the newest archives last read, the schedules.
fn read_view(newest: &[(PathBuf, String, NewestArchive)]) -> TrayView {
    let now_ms = crate::history::now_ms();
    let Ok(history) = History::open_default() else {
        return TrayView {
            now_ms,
            ..TrayView::default()
        };
    };
    let configs = status::configs(&history).unwrap_or_default();
    let preferences = Preferences::load();
    let statuses =
        status::overview(&history, &configs, &preferences, newest, now_ms).unwrap_or_default();
    TrayView {
        overall: Some(status::overall(&statuses)),
        statuses,
        schedules: Vec::new(),
        now_ms,
        keys_warning: crate::preferences::keys_warning(&preferences),
    }
}

/// The configs and repositories the tray reports on (see `status::configs`).
fn known_configs() -> Vec<(PathBuf, Vec<String>)> {
    History::open_default()
        .ok()
        .and_then(|h| status::configs(&h).ok())
        .unwrap_or_default()
}

/// The schedules and whether each is on (asks the systemd user instance; at start and
/// after the menu changed them).
async fn read_schedules() -> Vec<(PathBuf, bool)> {
    crate::schedule::show(None)
        .await
        .map(|shown| shown.into_iter().map(|s| (s.config, s.enabled)).collect())
        .unwrap_or_default()
}

/// The XDG autostart entry that starts the tray at login.
pub fn autostart_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("autostart/org.kde.kastell.tray.desktop"))
}

/// Writes or removes the autostart entry and remembers the choice.
pub fn set_autostart(on: bool) -> std::io::Result<()> {
    let file = autostart_file()
        .ok_or_else(|| std::io::Error::other("no config directory (is HOME set?)"))?;
    if on {
        let program = std::env::current_exe()?;
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let entry = format!(
            "[Desktop Entry]\nType=Application\nName=Kastell tray\n\
             Comment=Shows whether the last backups worked\n\
             Exec=\"{}\" tray\nIcon=org.kde.kastell\nTerminal=false\nNoDisplay=true\n\
             X-KDE-autostart-phase=2\n",
            program.display().to_string().replace('"', "\\\"")
        );
        let temp = file.with_extension("desktop.tmp");
        std::fs::write(&temp, entry)?;
        std::fs::rename(&temp, &file)?;
    } else if let Err(e) = std::fs::remove_file(&file) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(e);
        }
    }
    let mut preferences = Preferences::load();
    preferences.tray_autostart = Some(on);
    preferences.save()
}

/// The first schedule turns the tray's autostart on, unless the person decided already.
pub fn autostart_after_first_schedule() -> std::io::Result<bool> {
    if Preferences::load().tray_autostart.is_some() {
        return Ok(false);
    }
    set_autostart(true).map(|()| true)
}

#[derive(Debug, thiserror::Error)]
pub enum TrayError {
    #[error("no tray to show an icon in (no StatusNotifierWatcher on the session bus): {0}")]
    NoTray(#[source] ksni::Error),
}

/// Runs the tray until Quit, SIGINT or SIGTERM. `check_repositories_every` is the slow timer
/// for archives made without Kastell.
pub async fn run(check_repositories_every: Duration) -> Result<(), TrayError> {
    let (actions, mut asked) = mpsc::unbounded_channel();
    // The icon shows at once from the history; the repositories (which may take a while to
    // answer, or not at all) are read right after.
    let mut view = read_view(&[]);
    view.schedules = read_schedules().await;
    let tray = KastellTray {
        view: view.clone(),
        actions,
        icons: icon_folder(),
    };
    let handle = tray.spawn().await.map_err(TrayError::NoTray)?;
    let configs = known_configs();
    let mut newest = status::newest_archives(&configs, Duration::from_secs(20)).await;
    view.statuses = read_view(&newest).statuses;
    view.overall = Some(status::overall(&view.statuses));
    let shown = view.clone();
    handle.update(move |tray| tray.view = shown).await;

    let files = status::history_files();
    let mut fingerprint = status::history_fingerprint(&files);
    let mut refreshed = Instant::now();
    let mut repositories_read = Instant::now();
    let mut look = tokio::time::interval(LOOK_EVERY);
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            _ = look.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
            _ = async {
                match terminate.as_mut() {
                    Some(signal) => { signal.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => break,
            action = asked.recv() => {
                let Some(action) = action else { break };
                if action == TrayAction::Quit {
                    break;
                }
                perform(&action, &view).await;
                if matches!(action, TrayAction::PauseSchedule | TrayAction::ResumeSchedule) {
                    view.schedules = read_schedules().await;
                    let schedules = view.schedules.clone();
                    handle.update(move |tray| tray.view.schedules = schedules).await;
                }
                continue;
            }
        }
        let now_fingerprint = status::history_fingerprint(&files);
        let changed = now_fingerprint != fingerprint;
        let due = refreshed.elapsed() >= REFRESH_EVERY;
        let repositories_due = repositories_read.elapsed() >= check_repositories_every;
        if !(changed || due || repositories_due || view.running()) {
            continue;
        }
        fingerprint = now_fingerprint;
        refreshed = Instant::now();
        let was_running = view.running();
        let mut next = read_view(&newest);
        let run_ended = was_running && !next.running();
        if run_ended || repositories_due {
            let configs = known_configs();
            newest = status::newest_archives(&configs, Duration::from_secs(20)).await;
            repositories_read = Instant::now();
            next = read_view(&newest);
        }
        next.schedules = view.schedules.clone();
        view = next;
        let shown = view.clone();
        handle.update(move |tray| tray.view = shown).await;
    }
    handle.shutdown().await;
    Ok(())
}

/// Starts what the menu asked for as `kastell` subcommands (detached: the tray stays small
/// and a backup outlives it).
async fn perform(action: &TrayAction, view: &TrayView) {
    let program = crate::process::windowless_program();
    let mut configs: Vec<&PathBuf> = view.statuses.iter().map(|s| &s.config).collect();
    configs.dedup();
    let spawn = |args: Vec<String>| {
        let _ = std::process::Command::new(&program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    };
    match action {
        TrayAction::BackUpNow => {
            for config in configs {
                spawn(vec![
                    "backup".into(),
                    "--config".into(),
                    config.display().to_string(),
                    "--trigger".into(),
                    "tray".into(),
                ]);
            }
        }
        TrayAction::OpenWindow => {
            let _ =
                crate::desktop::app_bus::open_window(crate::desktop::app_bus::Request::Activate)
                    .await;
        }
        TrayAction::MountLatest => {
            let Some(first) = view.statuses.first() else {
                return;
            };
            let target = crate::mount::manager::Target::Archive {
                repository: first.repository.clone(),
                archive: "latest".into(),
            };
            let mountpoint = crate::mount::manager::default_mountpoint(&first.config, &target);
            // Mounted by an earlier click (its process serves it): shown again.
            if crate::mount::manager::is_mount_point(&mountpoint) {
                let _ = crate::desktop::file_manager::show_folder(&mountpoint).await;
                return;
            }
            // `kastell mount` wants the folder; it is made in the private runtime folder.
            let runtime = crate::private::runtime_dir();
            if crate::private::create_dirs_below(&runtime, &mountpoint).is_err() {
                return;
            }
            let mounted = tokio::process::Command::new(&program)
                .arg("mount")
                .arg("--config")
                .arg(&first.config)
                .args(["--repository", &first.repository, "--archive", "latest"])
                .arg("--background")
                .arg(&mountpoint)
                .stdin(std::process::Stdio::null())
                .status()
                .await;
            if mounted.is_ok_and(|s| s.success()) {
                let _ = crate::desktop::file_manager::show_folder(&mountpoint).await;
            }
        }
        TrayAction::PauseSchedule | TrayAction::ResumeSchedule => {
            let pause = *action == TrayAction::PauseSchedule;
            for (config, _) in &view.schedules {
                let _ = if pause {
                    crate::schedule::pause(config).await
                } else {
                    crate::schedule::resume(config).await
                };
            }
        }
        TrayAction::Quit => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use crate::status::LastRun;

    fn status(repository: &str, health: Health) -> RepositoryStatus {
        RepositoryStatus {
            config: PathBuf::from("/home/me/.config/borgmatic/user.yaml"),
            repository: repository.into(),
            last_run: Some(LastRun {
                run_id: 1,
                started: 0,
                ended: Some(1000),
                outcome: Outcome::Success,
                message: None,
                msgid: None,
            }),
            last_success: Some(1000),
            last_check: None,
            newest_archive: None,
            running: None,
            health,
        }
    }

    #[test]
    fn the_icon_title_and_lines_follow_the_worst_repository() {
        let statuses = vec![status("local", Health::Ok), status("nas", Health::Failed)];
        let view = TrayView {
            overall: Some(status::overall(&statuses)),
            statuses,
            schedules: Vec::new(),
            now_ms: 3 * 3_600_000 + 1000,
            keys_warning: String::new(),
        };
        assert_eq!(view.icon_name(), "kastell-failed");
        assert_eq!(view.title(), "Kastell: a backup failed");
        assert_eq!(
            view.description().lines().next(),
            Some("local: backed up 3 hours ago")
        );
    }
}
