//! `ScheduleSettings`: the Settings page's *Schedule* box for one config: set, pause, resume
//! and turn off its daily backup (systemd user units, through the core's `schedule`), the
//! other schedules of the same config, and, where no systemd user instance runs, the schedule
//! run by the window itself while it is open.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qstringlist.h");
        type QStringList = cxx_qt_lib::QStringList;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(QString, config_path)]
        #[qproperty(bool, busy)]
        /// Kastell's units exist for this config.
        #[qproperty(bool, scheduled)]
        /// The timer is enabled in the user instance (false when paused).
        #[qproperty(bool, enabled)]
        /// A systemd user instance answers (else pausing means nothing: the window runs it).
        #[qproperty(bool, systemd_answers)]
        /// "12:00" for a daily schedule, "" for another calendar.
        #[qproperty(QString, time_text)]
        #[qproperty(QString, calendar)]
        #[qproperty(bool, ac_power_only)]
        #[qproperty(bool, skip_metered)]
        /// Repositories of the config on a drive plugged in now (their labels).
        #[qproperty(QStringList, drive_choices)]
        /// The repository also backed up when its drive is plugged in ("" for none).
        #[qproperty(QString, drive_repository)]
        /// The schedule in words and when it runs next.
        #[qproperty(QString, status_text)]
        /// Other schedules of this config (the guide's anacron job, …), one a line.
        #[qproperty(QString, other_text)]
        #[qproperty(bool, can_disable_other)]
        #[qproperty(QString, error_text)]
        /// A `Failure` kind.
        #[qproperty(i32, error_kind)]
        type ScheduleSettings = super::ScheduleSettingsRust;

        /// Shows `config_path`'s schedule.
        #[qinvokable]
        fn load(self: Pin<&mut ScheduleSettings>, config_path: &QString);

        /// Sets the schedule: daily at `time` (HH:MM), or by `calendar` when it is not empty;
        /// also when the drive of `drive_repository` is plugged in, unless it is "".
        #[qinvokable]
        fn apply(
            self: Pin<&mut ScheduleSettings>,
            time: &QString,
            calendar: &QString,
            ac_power_only: bool,
            skip_metered: bool,
            drive_repository: &QString,
        );

        #[qinvokable]
        fn pause(self: Pin<&mut ScheduleSettings>);

        #[qinvokable]
        fn resume(self: Pin<&mut ScheduleSettings>);

        /// Removes the schedule.
        #[qinvokable]
        fn turn_off(self: Pin<&mut ScheduleSettings>);

        /// Switches off the other schedules Kastell can undo (the person's anacron job).
        #[qinvokable]
        fn disable_other(self: Pin<&mut ScheduleSettings>);
    }

    impl cxx_qt::Threading for ScheduleSettings {}
}

use crate::gui::bridge::failure;
use crate::gui::runtime;
use crate::schedule::{self, existing, Schedule, ScheduleError, Shown};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QStringList};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

pub struct ScheduleSettingsRust {
    config_path: QString,
    busy: bool,
    scheduled: bool,
    enabled: bool,
    systemd_answers: bool,
    time_text: QString,
    calendar: QString,
    ac_power_only: bool,
    skip_metered: bool,
    drive_choices: QStringList,
    drive_repository: QString,
    status_text: QString,
    other_text: QString,
    can_disable_other: bool,
    error_text: QString,
    error_kind: i32,
    /// The schedule the window runs itself (no systemd user instance), stopped on reload.
    window_run: Option<CancellationToken>,
}

impl Default for ScheduleSettingsRust {
    fn default() -> Self {
        ScheduleSettingsRust {
            config_path: QString::default(),
            busy: false,
            scheduled: false,
            enabled: false,
            systemd_answers: true,
            time_text: QString::from(
                &schedule::time_of(schedule::DEFAULT_CALENDAR).unwrap_or_default(),
            ),
            calendar: QString::default(),
            ac_power_only: true,
            skip_metered: false,
            drive_choices: QStringList::default(),
            drive_repository: QString::default(),
            status_text: QString::default(),
            other_text: QString::default(),
            can_disable_other: false,
            error_text: QString::default(),
            error_kind: failure::code(None),
            window_run: None,
        }
    }
}

/// What the box shows after a look at the units and systemd.
struct Looked {
    shown: Option<Shown>,
    others: Vec<existing::OtherSchedule>,
    /// Repositories on a drive plugged in now.
    drives: Vec<String>,
    /// What the last action said besides its result (units written but not started, …).
    note: Option<String>,
}

async fn look(config: PathBuf, note: Option<String>) -> Looked {
    let shown = schedule::show(Some(&config))
        .await
        .ok()
        .and_then(|mut all| all.pop());
    let others = match &shown {
        Some(s) => s.other_schedules.clone(),
        None => existing::find(&config, &existing::Places::of_this_user()),
    };
    let mut drives: Vec<String> = schedule::drive::candidates(&config)
        .await
        .into_iter()
        .map(|(label, _)| label)
        .collect();
    // A drive trigger whose drive is not plugged in now stays choosable.
    if let Some(drive) = shown.as_ref().and_then(|s| s.drive.as_ref()) {
        if !drives.contains(&drive.repository) {
            drives.push(drive.repository.clone());
        }
    }
    Looked {
        shown,
        others,
        drives,
        note,
    }
}

fn status_of(shown: &Shown) -> String {
    let words = schedule::describe(&shown.schedule());
    let words = format!("Backs up {words}.");
    match (shown.systemd_answers, shown.enabled, shown.next_run) {
        (false, _, _) => format!(
            "{words} No systemd user instance runs, so Kastell runs the schedule itself while \
             its window is open."
        ),
        (true, false, _) => format!("{words} Paused."),
        (true, true, Some(next)) => {
            format!("{words} Next backup {}.", crate::times::local_minutes(next))
        }
        (true, true, None) => words,
    }
}

impl qobject::ScheduleSettings {
    pub fn load(mut self: Pin<&mut Self>, config_path: &QString) {
        self.as_mut().set_config_path(config_path.clone());
        self.refresh(None);
    }

    fn config(&self) -> PathBuf {
        PathBuf::from(self.config_path.to_string())
    }

    fn refresh(mut self: Pin<&mut Self>, note: Option<String>) {
        let config = self.config();
        if config.as_os_str().is_empty() {
            return;
        }
        self.as_mut().set_busy(true);
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let looked = look(config, note).await;
            let _ = qt_thread.queue(move |obj| obj.show(looked));
        });
    }

    fn show(mut self: Pin<&mut Self>, looked: Looked) {
        self.as_mut().set_busy(false);
        if let Some(running) = self.as_mut().rust_mut().window_run.take() {
            running.cancel();
        }
        let Looked {
            shown,
            others,
            drives,
            note,
        } = looked;
        let mut choices = QStringList::default();
        for label in &drives {
            choices.append(QString::from(label));
        }
        self.as_mut().set_drive_choices(choices);
        let others_text = others
            .iter()
            .map(|o| {
                format!(
                    "{}: the backup would run twice.",
                    capitalized(&o.describe())
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.as_mut().set_other_text(QString::from(&others_text));
        self.as_mut()
            .set_can_disable_other(others.iter().any(|o| o.can_disable));
        match shown {
            Some(shown) => {
                self.as_mut().set_scheduled(true);
                self.as_mut().set_enabled(shown.enabled);
                self.as_mut().set_systemd_answers(shown.systemd_answers);
                self.as_mut().set_calendar(QString::from(&shown.calendar));
                self.as_mut().set_time_text(QString::from(
                    &schedule::time_of(&shown.calendar).unwrap_or_default(),
                ));
                self.as_mut().set_ac_power_only(shown.ac_power_only);
                self.as_mut().set_skip_metered(shown.skip_metered);
                let drive = shown.drive.as_ref().map(|d| d.repository.as_str());
                self.as_mut()
                    .set_drive_repository(QString::from(drive.unwrap_or_default()));
                let mut status = status_of(&shown);
                if let Some(note) = note {
                    status = format!("{note} {status}");
                }
                self.as_mut().set_status_text(QString::from(&status));
                if !shown.systemd_answers {
                    let cancel = CancellationToken::new();
                    self.as_mut().rust_mut().window_run = Some(cancel.clone());
                    runtime::spawn(run_in_window(shown.schedule(), cancel));
                }
            }
            None => {
                self.as_mut().set_scheduled(false);
                self.as_mut().set_enabled(false);
                self.as_mut().set_drive_repository(QString::default());
                self.as_mut().set_status_text(QString::from(
                    &note.unwrap_or_else(|| {
                        "Not scheduled: backups run when you start them.".into()
                    }),
                ));
            }
        }
    }

    fn fail(mut self: Pin<&mut Self>, error: &ScheduleError) {
        self.as_mut().set_busy(false);
        self.as_mut()
            .set_error_text(QString::from(&crate::errors::report(error)));
        self.set_error_kind(failure::code(Some(error.kind())));
    }

    fn clear_error(mut self: Pin<&mut Self>) {
        self.as_mut().set_error_text(QString::default());
        self.set_error_kind(failure::code(None));
    }

    /// Runs `action` off the Qt thread, then shows the result (or the error).
    fn act<F, Fut>(mut self: Pin<&mut Self>, action: F)
    where
        F: FnOnce(PathBuf) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Option<String>, ScheduleError>> + Send,
    {
        let config = self.config();
        if config.as_os_str().is_empty() || self.busy {
            return;
        }
        self.as_mut().clear_error();
        self.as_mut().set_busy(true);
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            match action(config.clone()).await {
                Ok(note) => {
                    let looked = look(config, note).await;
                    let _ = qt_thread.queue(move |obj| obj.show(looked));
                }
                Err(e) => {
                    let _ = qt_thread.queue(move |obj| obj.fail(&e));
                }
            }
        });
    }

    pub fn apply(
        self: Pin<&mut Self>,
        time: &QString,
        calendar: &QString,
        ac_power_only: bool,
        skip_metered: bool,
        drive_repository: &QString,
    ) {
        let time = time.to_string();
        let calendar = calendar.to_string();
        let drive_repository = drive_repository.to_string();
        self.act(move |config| async move {
            let calendar = match calendar.trim() {
                "" => schedule::daily_at(time.trim())?,
                custom => custom.to_string(),
            };
            let drive = match drive_repository.as_str() {
                "" => None,
                label => Some(schedule::drive::trigger_for(&config, label).await?),
            };
            let applied = schedule::set(Schedule {
                config,
                calendar,
                ac_power_only,
                skip_metered,
                drive,
            })
            .await?;
            let _ = crate::desktop::tray::autostart_after_first_schedule();
            Ok(applied
                .not_started
                .map(|why| format!("The units are written, but nothing will start them: {why}.")))
        });
    }

    pub fn pause(self: Pin<&mut Self>) {
        self.act(|config| async move { schedule::pause(&config).await.map(|()| None) });
    }

    pub fn resume(self: Pin<&mut Self>) {
        self.act(|config| async move { schedule::resume(&config).await.map(|()| None) });
    }

    pub fn turn_off(self: Pin<&mut Self>) {
        self.act(|config| async move {
            schedule::off(&config).await.map(|not_told| {
                not_told
                    .map(|why| format!("The schedule is removed (systemd was not told: {why})."))
            })
        });
    }

    pub fn disable_other(self: Pin<&mut Self>) {
        self.act(|config| async move {
            let mut said = Vec::new();
            for other in existing::find(&config, &existing::Places::of_this_user()) {
                if !other.can_disable {
                    continue;
                }
                match other.disable() {
                    Ok(renamed) => said.push(format!(
                        "{} is switched off (renamed to {}).",
                        other.location.display(),
                        renamed.display()
                    )),
                    Err(e) => said.push(format!("{}: {e}", other.location.display())),
                }
            }
            Ok(Some(said.join(" ")))
        });
    }
}

/// `text` with its first letter upper case (core messages start lower case, lines in the
/// window upper case).
pub(crate) fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The schedule run by the window (no systemd user instance): sleeps until the calendar's
/// next time and starts `kastell backup --trigger schedule` as the unit would, until stopped.
async fn run_in_window(schedule: Schedule, cancel: CancellationToken) {
    loop {
        let Ok(Some(next)) = schedule::systemd::check_calendar(&schedule.calendar).await else {
            return;
        };
        let wait = (next - crate::history::now_ms()).max(1000);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
        }
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kastell"));
        let mut command = tokio::process::Command::new(program);
        command
            .arg("backup")
            .arg("--config")
            .arg(&schedule.config)
            .args(["--trigger", "schedule"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if schedule.ac_power_only {
            command.arg("--ac-power-only");
        }
        if schedule.skip_metered {
            command.arg("--skip-metered");
        }
        if let Some(drive) = &schedule.drive {
            command
                .arg("--drive")
                .arg(format!("{}={}", drive.repository, drive.uuid));
        }
        let _ = command.status().await;
    }
}
