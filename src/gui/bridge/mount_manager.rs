//! `MountManager`: the window's mounts. Rows are the mounts this Kastell serves; mounting,
//! unmounting and stale-mount cleaning happen in the core (`mount::manager`), which reports
//! indexing progress as events that become (throttled) property changes here.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!(<QtCore/QAbstractListModel>);
        type QAbstractListModel;
        include!("cxx-qt-lib/qhash.h");
        type QHash_i32_QByteArray = cxx_qt_lib::QHash<cxx_qt_lib::QHashPair_i32_QByteArray>;
        include!("cxx-qt-lib/qvariant.h");
        type QVariant = cxx_qt_lib::QVariant;
        include!("cxx-qt-lib/qmodelindex.h");
        type QModelIndex = cxx_qt_lib::QModelIndex;
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        /// A mount is being set up (opening the repository, indexing the archive).
        #[qproperty(bool, busy)]
        /// What is going on, in words ("Indexing …", "Mounted at …").
        #[qproperty(QString, status_text)]
        /// Indexing progress 0..1, or -1 when there is none to show.
        #[qproperty(f64, progress)]
        #[qproperty(QString, error_text)]
        /// Bumped on every change of the mounts, for bindings that ask `mountpointOf`.
        #[qproperty(i32, revision)]
        /// "Open in Dolphin" on Plasma (or where Dolphin is installed), else "Open in file manager".
        #[qproperty(QString, open_label)]
        type MountManager = super::MountManagerRust;

        /// Mounts, read-only: `archive` of `repository` (`latest` works), every archive of
        /// `repository` when `archive` is empty, every repository of the config when
        /// `repository` is empty too. `folder` is the mount point; empty picks one in the
        /// runtime folder.
        #[qinvokable]
        fn mount(
            self: Pin<&mut MountManager>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
            folder: &QString,
        );

        /// Shows it in the file manager, mounting it first (at the default place) when needed.
        #[qinvokable]
        fn mount_and_open(
            self: Pin<&mut MountManager>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
        );

        /// Unmounts; a busy mount stays, with a message saying why.
        #[qinvokable]
        fn unmount(self: Pin<&mut MountManager>, mountpoint: &QString);

        /// Shows the folder in the file manager (org.freedesktop.FileManager1, else xdg-open).
        #[qinvokable]
        fn open_folder(self: Pin<&mut MountManager>, folder: &QString);

        /// Where this is mounted now, or "" (same arguments as `mount`).
        #[qinvokable]
        fn mountpoint_of(
            self: &MountManager,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
        ) -> QString;

        /// Removes mounts a crashed Kastell left ("Transport endpoint is not connected").
        #[qinvokable]
        fn clean_stale(self: Pin<&mut MountManager>);

        /// Reads the list of mounts again (something else unmounted one, e.g. deleting its
        /// archive).
        #[qinvokable]
        fn reread(self: Pin<&mut MountManager>);
    }

    impl cxx_qt::Threading for MountManager {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut MountManager>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut MountManager>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &MountManager, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &MountManager) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &MountManager, parent: &QModelIndex) -> i32;
    }
}

use crate::desktop::notify::{self, Notice};
use crate::events::{Event, MountEvent};
use crate::gui::bridge::schedule_settings::capitalized;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::mount::manager::{self, MountInfo, Target};
use core::pin::Pin;
use cxx_qt::Threading;
use cxx_qt_lib::{QString, QVariant};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// First-access indexing (a file manager waiting on a folder) this long is worth a notification.
const SLOW_INDEX_SECONDS: f64 = 2.0;

impl Row for MountInfo {
    const ROLES: &'static [&'static str] = &[
        "mountpoint",
        "description",
        "borgReason",
        "leftOut",
        "wholeConfig",
    ];

    fn value(&self, role: usize) -> QVariant {
        if role == 4 {
            // A whole-config mount: borg serves only the repositories Kastell cannot read.
            return QVariant::from(&matches!(self.target, Target::Config));
        }
        let text = match role {
            0 => self.mountpoint.display().to_string(),
            1 => self.description.clone(),
            2 => self.with_borg.clone().unwrap_or_default(),
            _ => self.left_out.join("\n"),
        };
        QVariant::from(&QString::from(&text))
    }
}

pub struct MountManagerRust {
    busy: bool,
    status_text: QString,
    progress: f64,
    error_text: QString,
    revision: i32,
    open_label: QString,
    rows: Vec<MountInfo>,
}

impl Default for MountManagerRust {
    fn default() -> Self {
        MountManagerRust {
            busy: false,
            status_text: QString::default(),
            progress: -1.0,
            error_text: QString::default(),
            revision: 0,
            open_label: QString::from(open_label()),
            rows: Vec::new(),
        }
    }
}

fn open_label() -> &'static str {
    let dolphin_installed = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("dolphin").is_file()))
        .unwrap_or(false);
    if crate::gui::on_plasma() || dolphin_installed {
        "Open in Dolphin"
    } else {
        "Open in file manager"
    }
}

fn target_of(repository: &str, archive: &str) -> Target {
    match (repository.trim(), archive.trim()) {
        ("", _) => Target::Config,
        (repository, "") => Target::Repository {
            repository: repository.to_string(),
        },
        (repository, archive) => Target::Archive {
            repository: repository.to_string(),
            archive: archive.to_string(),
        },
    }
}

impl qobject::MountManager {
    pub fn mount(
        self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
        folder: &QString,
    ) {
        self.start_mount(config_path, repository, archive, folder, false);
    }

    pub fn mount_and_open(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
    ) {
        let mounted = self.mountpoint_of(config_path, repository, archive);
        if mounted.is_empty() {
            self.start_mount(config_path, repository, archive, &QString::default(), true);
        } else {
            self.as_mut().open_folder(&mounted);
        }
    }

    fn start_mount(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
        folder: &QString,
        open_after: bool,
    ) {
        if self.busy {
            return;
        }
        let config = PathBuf::from(config_path.to_string());
        let target = target_of(&repository.to_string(), &archive.to_string());
        let folder = folder.to_string();
        let mountpoint = (!folder.trim().is_empty()).then(|| PathBuf::from(folder.trim()));
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_progress(-1.0);
        self.as_mut().set_status_text(QString::from(&format!(
            "Mounting {}…",
            manager::describe(&target)
        )));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let events_thread = qt_thread.clone();
            let throttle = Throttle::new(UI_INTERVAL);
            let indexed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let saw_indexing = indexed.clone();
            let sink = move |event: Event| {
                let Event::Mount(event) = event else {
                    return;
                };
                if matches!(event, MountEvent::Indexing { .. }) && !throttle.ready() {
                    return;
                }
                if matches!(event, MountEvent::Indexed { .. }) {
                    saw_indexing.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                let _ = events_thread.queue(move |obj| obj.apply(event));
            };
            let outcome = manager::mount(&config, target, mountpoint, Arc::new(sink)).await;
            if let (Ok(info), true) = (&outcome, open_after) {
                if let Err(why) = crate::desktop::file_manager::show_folder(&info.mountpoint).await
                {
                    let _ = qt_thread.queue(move |mut obj| {
                        obj.as_mut().set_error_text(QString::from(&why));
                    });
                }
            }
            if let Ok(info) = &outcome {
                // A mount that had to index first: tell the user it is ready, with a way in.
                if indexed.load(std::sync::atomic::Ordering::Relaxed) {
                    notify_ready(info, qt_thread.clone());
                }
            }
            let _ = qt_thread.queue(move |mut obj| {
                obj.as_mut().set_busy(false);
                obj.as_mut().set_progress(-1.0);
                match outcome {
                    Ok(info) => {
                        // The mount's row says where; the status only what needs saying.
                        let mut notes = Vec::new();
                        if let Some(why) = &info.with_borg {
                            notes.push(format!(
                                "borg serves this mount: Kastell cannot read the repository itself ({why})"
                            ));
                        }
                        if !info.left_out.is_empty() {
                            notes.push(format!("Left out: {}", info.left_out.join("; ")));
                        }
                        obj.as_mut().set_status_text(QString::from(&notes.join("\n")));
                    }
                    Err(why) => {
                        obj.as_mut().set_status_text(QString::default());
                        obj.as_mut()
                            .set_error_text(QString::from(&format!("Could not mount: {why}")));
                    }
                }
                obj.refresh_rows();
            });
        });
    }

    pub fn unmount(mut self: Pin<&mut Self>, mountpoint: &QString) {
        let mountpoint = PathBuf::from(mountpoint.to_string());
        self.as_mut().set_error_text(QString::default());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let at = mountpoint.clone();
            let outcome = tokio::task::spawn_blocking(move || manager::unmount(&at))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            let _ = qt_thread.queue(move |mut obj| {
                match outcome {
                    Ok(()) => obj.as_mut().set_status_text(QString::from(&format!(
                        "Unmounted {}",
                        mountpoint.display()
                    ))),
                    Err(why) => obj.as_mut().set_error_text(QString::from(&why)),
                }
                obj.refresh_rows();
            });
        });
    }

    pub fn open_folder(self: Pin<&mut Self>, folder: &QString) {
        let folder = PathBuf::from(folder.to_string());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            if let Err(why) = crate::desktop::file_manager::show_folder(&folder).await {
                let _ = qt_thread.queue(move |mut obj| {
                    obj.as_mut().set_error_text(QString::from(&why));
                });
            }
        });
    }

    pub fn mountpoint_of(
        &self,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
    ) -> QString {
        let config = PathBuf::from(config_path.to_string());
        let target = target_of(&repository.to_string(), &archive.to_string());
        let found = self.rows.iter().find(|m| {
            m.config == config
                && (m.target == target
                    || matches!((&m.target, &target),
                        (Target::Archive { repository: a, archive: x }, Target::Archive { repository: b, archive: y })
                            if a == b && y == "latest" && x == &latest_name(&config, b)))
        });
        found
            .map(|m| QString::from(&m.mountpoint.display().to_string()))
            .unwrap_or_default()
    }

    pub fn clean_stale(mut self: Pin<&mut Self>) {
        let cleaned = manager::clean_stale();
        if !cleaned.is_empty() {
            self.as_mut()
                .set_status_text(QString::from(&cleaned.join("\n")));
        }
    }

    fn apply(mut self: Pin<&mut Self>, event: MountEvent) {
        match event {
            MountEvent::Indexing {
                archive,
                entries,
                fraction,
            } => {
                self.as_mut().set_progress(fraction.clamp(0.0, 1.0));
                self.as_mut().set_status_text(QString::from(&format!(
                    "Indexing archive {archive} (once): {} entries read",
                    crate::units::format_count(entries)
                )));
            }
            MountEvent::Indexed { archive, seconds } => {
                self.as_mut().set_progress(-1.0);
                self.as_mut().set_status_text(QString::from(&format!(
                    "Archive {archive} indexed in {seconds:.1} s"
                )));
                // Indexed on first access in a file manager (not during a mount the window
                // waits for): worth telling when it took a while.
                if seconds >= SLOW_INDEX_SECONDS && !self.busy {
                    let notice = Notice {
                        summary: format!("Archive “{archive}” is ready"),
                        body: "Its files can be browsed now.".into(),
                        urgent: false,
                        run_id: None,
                    };
                    runtime::spawn(async move {
                        let _ = notify::send(&notice, false).await;
                    });
                }
            }
            MountEvent::Mounted { .. } => {}
            MountEvent::Unmounted { mountpoint } => {
                self.as_mut().set_status_text(QString::from(&format!(
                    "{} was unmounted",
                    mountpoint.display()
                )));
                self.refresh_rows();
            }
            MountEvent::ReadFailed { message } => {
                self.as_mut().set_error_text(QString::from(&format!(
                    "A read from the mount failed: {message}"
                )));
            }
        }
    }

    pub fn reread(self: Pin<&mut Self>) {
        self.refresh_rows();
    }

    fn refresh_rows(mut self: Pin<&mut Self>) {
        let rows = manager::mounts();
        self.as_mut().replace_rows(rows);
        let revision = self.revision.wrapping_add(1);
        self.set_revision(revision);
    }
}

/// The newest archive's name of a repository whose session is open (for `latest`).
fn latest_name(config: &Path, repository: &str) -> String {
    crate::browse::kept_session(config, repository)
        .and_then(|s| s.archives().last().map(|a| a.name.clone()))
        .unwrap_or_default()
}

/// "Archive … is mounted", with an action that opens it in the file manager.
fn notify_ready(info: &MountInfo, qt_thread: cxx_qt::CxxQtThread<qobject::MountManager>) {
    let notice = Notice {
        summary: format!("{} is mounted", capitalized(&info.description)),
        body: format!("Browse it at {}", info.mountpoint.display()),
        urgent: false,
        run_id: None,
    };
    let folder = info.mountpoint.clone();
    runtime::spawn(async move {
        let Ok(handle) = notify::send_with_action(&notice, "open", open_label()).await else {
            return;
        };
        if notify::answered_with(&handle, "open").await {
            let _ = qt_thread
                .queue(move |obj| obj.open_folder(&QString::from(&folder.display().to_string())));
        }
    });
}

list_rows::list_model!(qobject::MountManager, MountInfo);
