//! `ArchiveHousekeeping`: deleting and renaming archives from the archive list, after the
//! person confirmed in a dialog that names them. The work is the core's
//! (`upkeep::delete_archives`, `upkeep::rename_archive`): refused while a backup of the
//! config runs, mounts of deleted archives end and their indexes go.

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
        #[qproperty(bool, busy)]
        /// What is happening or what happened, in words ("Deleted home-2026-11-01").
        #[qproperty(QString, status_text)]
        #[qproperty(QString, error_text)]
        type ArchiveHousekeeping = super::ArchiveHousekeepingRust;

        /// Deletes `names` from `repository` (their space is freed by the next compact).
        #[qinvokable]
        fn delete_archives(
            self: Pin<&mut ArchiveHousekeeping>,
            config_path: &QString,
            repository: &QString,
            names: &QStringList,
        );

        /// Renames archive `old_name` of `repository` to `new_name`.
        #[qinvokable]
        fn rename_archive(
            self: Pin<&mut ArchiveHousekeeping>,
            config_path: &QString,
            repository: &QString,
            old_name: &QString,
            new_name: &QString,
        );

        /// Why `name` cannot be a new archive name, or nothing (said next to the field).
        #[qinvokable]
        fn name_problem(self: &ArchiveHousekeeping, name: &QString) -> QString;

        /// The archives changed: the list should be read again.
        #[qsignal]
        fn archives_changed(self: Pin<&mut ArchiveHousekeeping>);
    }

    impl cxx_qt::Threading for ArchiveHousekeeping {}
}

use crate::config::BorgmaticConfig;
use crate::gui::runtime;
use crate::upkeep::UpkeepError;
use core::pin::Pin;
use cxx_qt::Threading;
use cxx_qt_lib::{QString, QStringList};
use std::path::PathBuf;

#[derive(Default)]
pub struct ArchiveHousekeepingRust {
    busy: bool,
    status_text: QString,
    error_text: QString,
}

/// The outcome of one piece of housekeeping, in words for the window.
type Said = Result<String, String>;

fn said(result: Result<String, UpkeepError>) -> Said {
    result.map_err(|e| crate::errors::report(&e))
}

impl qobject::ArchiveHousekeeping {
    fn begin(mut self: Pin<&mut Self>, doing: String) -> Option<cxx_qt::CxxQtThread<Self>> {
        if self.busy {
            return None;
        }
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_status_text(QString::from(&doing));
        Some(self.qt_thread())
    }

    fn end(mut self: Pin<&mut Self>, outcome: Said) {
        self.as_mut().set_busy(false);
        match outcome {
            Ok(text) => self.as_mut().set_status_text(QString::from(&text)),
            Err(text) => {
                self.as_mut().set_status_text(QString::default());
                self.as_mut().set_error_text(QString::from(&text));
            }
        }
        // Also after a failure: some archives may be gone before the one that failed.
        self.archives_changed();
    }

    pub fn delete_archives(
        self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        names: &QStringList,
    ) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        if names.is_empty() {
            return;
        }
        let doing = format!("Deleting {}…", names.join(", "));
        let Some(qt_thread) = self.begin(doing) else {
            return;
        };
        let config = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        runtime::spawn(async move {
            let mut deleted = Vec::new();
            let outcome =
                crate::upkeep::delete_archives(&config, &repository, &names, &mut |name| {
                    deleted.push(name.to_string())
                })
                .await
                .map(|notes| {
                    let mut text = match deleted.len() {
                        1 => format!("Deleted {}.", deleted.join(", ")),
                        n => format!("Deleted {n} archives."),
                    };
                    text.push_str(" Compact the repository (or back up) to free their space.");
                    for note in notes {
                        text.push(' ');
                        text.push_str(&note);
                    }
                    text
                });
            let _ = qt_thread.queue(move |obj| obj.end(said(outcome)));
        });
    }

    pub fn rename_archive(
        self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        old_name: &QString,
        new_name: &QString,
    ) {
        let (old, new) = (old_name.to_string(), new_name.to_string());
        let Some(qt_thread) = self.begin(format!("Renaming {old}…")) else {
            return;
        };
        let config = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        runtime::spawn(async move {
            let outcome = async {
                let loaded = BorgmaticConfig::load(&config)?;
                let repo = loaded
                    .repository(&repository)
                    .ok_or_else(|| UpkeepError::NoSuchArchive(old.clone()))?;
                let names = crate::upkeep::archive_names(&loaded, repo).await?;
                crate::upkeep::rename_archive(&config, &repository, &names, &old, &new).await?;
                Ok(format!("Renamed {old} to {new}."))
            }
            .await;
            let _ = qt_thread.queue(move |obj| obj.end(said(outcome)));
        });
    }

    pub fn name_problem(&self, name: &QString) -> QString {
        match crate::upkeep::check_archive_name(&name.to_string()) {
            Ok(()) => QString::default(),
            Err(e) => QString::from(&e.to_string()),
        }
    }
}
