//! `BackupRunner`: "Back up now" and its live progress. The engine runs on the tokio runtime;
//! its events become property changes here (progress at most ~10 times a second).

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    /// How a run ended, as QML compares it (`BackupRunner.Success`, …).
    #[qenum(BackupRunner)]
    enum Outcome {
        None,
        Success,
        Skipped,
        Warning,
        Failed,
        Cancelled,
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(bool, running)]
        #[qproperty(bool, cancelling)]
        #[qproperty(QString, config_path)]
        #[qproperty(QString, actions)]
        #[qproperty(QString, repository)]
        #[qproperty(i32, repository_index)]
        #[qproperty(i32, repository_count)]
        #[qproperty(QString, phase)]
        /// 0..1, or -1 when there is no honest estimate (the UI shows a busy bar).
        #[qproperty(f64, fraction)]
        #[qproperty(QString, eta)]
        #[qproperty(QString, files)]
        #[qproperty(QString, original_size)]
        #[qproperty(QString, deduplicated_size)]
        #[qproperty(QString, throughput)]
        #[qproperty(QString, current_path)]
        #[qproperty(QString, elapsed)]
        /// After a run: one line per repository.
        #[qproperty(QString, summary)]
        /// How the last run ended (`None` before the first run).
        #[qproperty(Outcome, last_outcome)]
        #[qproperty(i32, last_run_id)]
        /// A repository of the last run whose lock no live borg holds (breaking it is safe).
        #[qproperty(QString, breakable_lock)]
        type BackupRunner = super::BackupRunnerRust;

        /// Starts `actions` (`backup`, `create`, `prune`, `compact`, `check`) for every
        /// repository of the config, or only `repository` when it is not empty.
        #[qinvokable]
        fn start(
            self: Pin<&mut BackupRunner>,
            config_path: &QString,
            actions: &QString,
            repository: &QString,
        );

        /// Stops the run cleanly (borg gets SIGINT and writes its checkpoint).
        #[qinvokable]
        fn cancel(self: Pin<&mut BackupRunner>);

        /// Breaks the lock named by `breakableLock` (after checking again that it is stale).
        #[qinvokable]
        fn break_lock(self: Pin<&mut BackupRunner>);

        /// Notifies (once per last success) about repositories without a recent backup.
        #[qinvokable]
        fn check_stale(self: Pin<&mut BackupRunner>);

        /// A run ended (its history entry is complete).
        #[qsignal]
        fn run_finished(self: Pin<&mut BackupRunner>, run_id: i32);

        /// The user clicked "Show details" on a notification.
        #[qsignal]
        fn details_requested(self: Pin<&mut BackupRunner>, run_id: i32);
    }

    impl cxx_qt::Threading for BackupRunner {}
}

use crate::backup::{run_backup, Actions, BackupEvent, BackupRequest, Progress, RunReport};
use crate::config::{discovered_repositories, BorgmaticConfig};
use crate::desktop::notify;
use crate::events::Event;
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::preferences::Preferences;
use crate::units::{format_bytes, format_duration};
use core::pin::Pin;
use cxx_qt::{CxxQtThread, CxxQtType, Threading};
use cxx_qt_lib::QString;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

pub struct BackupRunnerRust {
    running: bool,
    cancelling: bool,
    config_path: QString,
    actions: QString,
    repository: QString,
    repository_index: i32,
    repository_count: i32,
    phase: QString,
    fraction: f64,
    eta: QString,
    files: QString,
    original_size: QString,
    deduplicated_size: QString,
    throughput: QString,
    current_path: QString,
    elapsed: QString,
    summary: QString,
    last_outcome: qobject::Outcome,
    last_run_id: i32,
    breakable_lock: QString,
    cancel: Option<CancellationToken>,
}

impl Default for BackupRunnerRust {
    fn default() -> Self {
        BackupRunnerRust {
            running: false,
            cancelling: false,
            config_path: QString::default(),
            actions: QString::default(),
            repository: QString::default(),
            repository_index: 0,
            repository_count: 0,
            phase: QString::default(),
            fraction: -1.0,
            eta: QString::default(),
            files: QString::default(),
            original_size: QString::default(),
            deduplicated_size: QString::default(),
            throughput: QString::default(),
            current_path: QString::default(),
            elapsed: QString::default(),
            summary: QString::default(),
            last_outcome: qobject::Outcome::None,
            last_run_id: 0,
            breakable_lock: QString::default(),
            cancel: None,
        }
    }
}

type Thread = CxxQtThread<qobject::BackupRunner>;

impl qobject::BackupRunner {
    pub fn start(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        actions: &QString,
        repository: &QString,
    ) {
        if self.running {
            return;
        }
        let Some(actions) = Actions::parse(&actions.to_string()) else {
            self.as_mut()
                .set_summary(QString::from("Unknown action: nothing was started."));
            return;
        };
        let cancel = CancellationToken::new();
        self.as_mut().rust_mut().cancel = Some(cancel.clone());
        self.as_mut().set_config_path(config_path.clone());
        self.as_mut().set_actions(QString::from(actions.name()));
        self.as_mut().set_summary(QString::default());
        self.as_mut().set_last_outcome(qobject::Outcome::None);
        self.as_mut().set_cancelling(false);
        self.as_mut().set_phase(QString::from("Starting"));
        self.as_mut().set_fraction(-1.0);
        self.as_mut().set_running(true);
        let request = BackupRequest {
            leave_out: Vec::new(),
            config: PathBuf::from(config_path.to_string()),
            repository: Some(repository.to_string()).filter(|r| !r.is_empty()),
            actions,
            trigger: "window".into(),
            typed_passphrase: None,
        };
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let events = qt_thread.clone();
            let throttle = Throttle::new(UI_INTERVAL);
            let sink = move |event: Event| {
                let Event::Backup(event) = event else { return };
                // Progress is throttled; the start and end of each part always get through.
                if matches!(event, BackupEvent::Progress(_)) && !throttle.ready() {
                    return;
                }
                let _ = events.queue(move |obj| obj.apply(event));
            };
            let name = request
                .config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (job_sink, job_view) =
                crate::desktop::jobs::backup_job(&sink, &name, cancel.clone());
            let result = run_backup(request, &job_sink, &cancel).await;
            drop(job_sink);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), job_view).await;
            let report = match result {
                Ok(report) => report,
                Err(e) => {
                    let message = QString::from(&e.to_string());
                    let _ = qt_thread.queue(move |mut obj| {
                        obj.as_mut().set_summary(message);
                        obj.as_mut().set_last_outcome(qobject::Outcome::Failed);
                        obj.as_mut().rust_mut().cancel = None;
                        obj.set_running(false);
                    });
                    return;
                }
            };
            let finished = report.clone();
            let _ = qt_thread.queue(move |obj| obj.finish(&finished));
            notify_finished(&report, qt_thread).await;
        });
    }

    pub fn cancel(mut self: Pin<&mut Self>) {
        if let Some(cancel) = &self.cancel {
            cancel.cancel();
            self.as_mut().set_cancelling(true);
            self.set_phase(QString::from("Stopping (borg saves a checkpoint)…"));
        }
    }

    pub fn break_lock(mut self: Pin<&mut Self>) {
        let repository = self.breakable_lock.to_string();
        let config_path = PathBuf::from(self.config_path.to_string());
        if repository.is_empty() || self.running {
            return;
        }
        self.as_mut().set_breakable_lock(QString::default());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let outcome = match BorgmaticConfig::load(&config_path) {
                Ok(config) => match config.repository(&repository) {
                    Some(repo) => {
                        crate::backup::break_lock(&config, repo, &CancellationToken::new())
                            .await
                            .map(|()| {
                                format!("The lock of “{repository}” is broken. Back up again.")
                            })
                            .unwrap_or_else(|e| e.to_string())
                    }
                    None => format!("The config has no repository “{repository}”."),
                },
                Err(e) => e.to_string(),
            };
            let _ = qt_thread.queue(move |obj| obj.set_summary(QString::from(&outcome)));
        });
    }

    pub fn check_stale(self: Pin<&mut Self>) {
        runtime::spawn(async move {
            let configs = discovered_repositories();
            let _ = notify::notify_stale(&configs, &Preferences::load()).await;
        });
    }

    fn apply(mut self: Pin<&mut Self>, event: BackupEvent) {
        match event {
            BackupEvent::RunStarted { repositories, .. } => {
                self.as_mut()
                    .set_repository_count(i32::try_from(repositories.len()).unwrap_or(0));
            }
            BackupEvent::RepositoryStarted {
                index, repository, ..
            } => {
                self.as_mut()
                    .set_repository_index(i32::try_from(index).unwrap_or(0));
                self.as_mut().set_repository(QString::from(&repository));
                self.as_mut().set_fraction(-1.0);
                for setter in [
                    Self::set_eta,
                    Self::set_files,
                    Self::set_original_size,
                    Self::set_deduplicated_size,
                    Self::set_throughput,
                    Self::set_current_path,
                    Self::set_elapsed,
                ] {
                    setter(self.as_mut(), QString::default());
                }
            }
            BackupEvent::Progress(progress) => self.show(&progress),
            BackupEvent::RepositoryFinished { .. } | BackupEvent::RunFinished { .. } => {}
        }
    }

    fn show(mut self: Pin<&mut Self>, p: &Progress) {
        if self.cancelling {
            return;
        }
        self.as_mut().set_phase(QString::from(p.phase.describe()));
        self.as_mut().set_fraction(p.fraction.unwrap_or(-1.0));
        self.as_mut().set_eta(QString::from(
            &p.eta_seconds
                .map(|s| format!("about {}", format_duration(s as f64)))
                .unwrap_or_default(),
        ));
        self.as_mut()
            .set_files(QString::from(&p.nfiles.to_string()));
        self.as_mut()
            .set_original_size(QString::from(&format_bytes(p.original_size)));
        self.as_mut()
            .set_deduplicated_size(QString::from(&format_bytes(p.deduplicated_size)));
        let throughput = match p.bytes_per_second > 0.0 {
            true => format!("{}/s", format_bytes(p.bytes_per_second as u64)),
            false => String::new(),
        };
        self.as_mut().set_throughput(QString::from(&throughput));
        self.as_mut()
            .set_current_path(QString::from(&p.current_path));
        self.set_elapsed(QString::from(&format_duration(p.elapsed_seconds as f64)));
    }

    fn finish(mut self: Pin<&mut Self>, report: &RunReport) {
        let mut lines: Vec<String> = report.message.iter().cloned().collect();
        for r in &report.repositories {
            let detail = match (&r.message, &r.stats, &r.freed) {
                (Some(message), _, _) => message.clone(),
                (None, Some(stats), _) => stats.summary(),
                (None, None, Some(freed)) => freed.summary(),
                (None, None, None) => "done".into(),
            };
            lines.push(format!("{}: {} — {detail}", r.repository, r.outcome.name()));
        }
        let run_id = i32::try_from(report.run_id).unwrap_or(0);
        let breakable = report
            .repositories
            .iter()
            .find(|r| r.may_break_lock)
            .map(|r| r.repository.clone())
            .unwrap_or_default();
        self.as_mut().set_breakable_lock(QString::from(&breakable));
        self.as_mut().set_summary(QString::from(&lines.join("\n")));
        self.as_mut().set_last_outcome(outcome_of(report.outcome));
        self.as_mut().set_last_run_id(run_id);
        self.as_mut().set_cancelling(false);
        self.as_mut().rust_mut().cancel = None;
        self.as_mut().set_running(false);
        self.run_finished(run_id);
    }
}

/// The window's word for how a run ended (a run that never ended counts as failed).
fn outcome_of(outcome: crate::history::Outcome) -> qobject::Outcome {
    use crate::history::Outcome as Ended;
    match outcome {
        Ended::Success => qobject::Outcome::Success,
        Ended::Skipped => qobject::Outcome::Skipped,
        Ended::Warning => qobject::Outcome::Warning,
        Ended::Cancelled => qobject::Outcome::Cancelled,
        Ended::Error | Ended::Running => qobject::Outcome::Failed,
    }
}

/// Notifies about the run and, if the user asks for details, tells the window.
async fn notify_finished(report: &RunReport, qt_thread: Thread) {
    let Some(notice) = notify::for_run(report, &Preferences::load()) else {
        return;
    };
    let Ok(handle) = notify::send(&notice, true).await else {
        return;
    };
    let run_id = i32::try_from(report.run_id).unwrap_or(0);
    if notify::wants_details(&handle).await {
        let _ = qt_thread.queue(move |obj| obj.details_requested(run_id));
    }
}
