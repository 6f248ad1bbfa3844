//! `ArchiveCompare`: what was added, removed and changed between two archives
//! (`borg diff --json-lines`, through borgmatic).

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
        #[qproperty(bool, busy)]
        #[qproperty(QString, summary)]
        #[qproperty(QString, error_text)]
        type ArchiveCompare = super::ArchiveCompareRust;

        /// Compares archive `older` with `newer` in `repository` of the config.
        #[qinvokable]
        fn compare(
            self: Pin<&mut ArchiveCompare>,
            config_path: &QString,
            repository: &QString,
            older: &QString,
            newer: &QString,
        );

        /// Stops a comparison in flight.
        #[qinvokable]
        fn cancel(self: Pin<&mut ArchiveCompare>);
    }

    impl cxx_qt::Threading for ArchiveCompare {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut ArchiveCompare>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut ArchiveCompare>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ArchiveCompare, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &ArchiveCompare) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &ArchiveCompare, parent: &QModelIndex) -> i32;
    }
}

use crate::config::BorgmaticConfig;
use crate::events::Discard;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::process::archives::{diff_archives, DiffChange, DiffEntry};
use crate::units::format_bytes;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;

impl Row for DiffEntry {
    const ROLES: &'static [&'static str] = &["path", "change", "sizeText", "details"];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => format!("/{}", self.path),
            1 => match self.change {
                DiffChange::Added => "added",
                DiffChange::Removed => "removed",
                DiffChange::Changed => "changed",
            }
            .to_string(),
            2 => match self.change {
                DiffChange::Changed if self.added_bytes + self.removed_bytes > 0 => format!(
                    "+{} −{}",
                    format_bytes(self.added_bytes),
                    format_bytes(self.removed_bytes)
                ),
                DiffChange::Changed => String::new(),
                _ => format_bytes(self.added_bytes),
            },
            _ => self.kinds.join(", "),
        };
        QVariant::from(&QString::from(&text))
    }
}

#[derive(Default)]
pub struct ArchiveCompareRust {
    busy: bool,
    summary: QString,
    error_text: QString,
    rows: Vec<DiffEntry>,
    requests: Latest,
}

impl qobject::ArchiveCompare {
    pub fn compare(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        older: &QString,
        newer: &QString,
    ) {
        self.as_mut().cancel();
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_error_text(QString::default());
        self.as_mut()
            .set_summary(QString::from(&format!("Comparing {older} with {newer}…")));
        self.as_mut().set_busy(true);
        let config = PathBuf::from(config_path.to_string());
        let (repository, older, newer) =
            (repository.to_string(), older.to_string(), newer.to_string());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let result = match BorgmaticConfig::load(&config) {
                Ok(cfg) => match cfg.repository(&repository) {
                    Some(repo) => diff_archives(&cfg, repo, &older, &newer, &Discard, &cancel)
                        .await
                        .map_err(|e| e.user_message(Some(repo.display_name()))),
                    None => Err(format!("The config has no repository “{repository}”.")),
                },
                Err(e) => Err(e.to_string()),
            };
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                match result {
                    Ok(entries) => {
                        let count =
                            |c: DiffChange| entries.iter().filter(|e| e.change == c).count();
                        let text = format!(
                            "{} added, {} removed, {} changed from {older} to {newer}",
                            count(DiffChange::Added),
                            count(DiffChange::Removed),
                            count(DiffChange::Changed)
                        );
                        obj.as_mut().replace_rows(entries);
                        obj.set_summary(QString::from(&text));
                    }
                    Err(e) => {
                        obj.as_mut().set_summary(QString::default());
                        obj.set_error_text(QString::from(&e));
                    }
                }
            });
        });
    }

    pub fn cancel(mut self: Pin<&mut Self>) {
        if self.requests.running() {
            self.as_mut().rust_mut().requests.stop();
            self.as_mut().set_busy(false);
            self.set_summary(QString::default());
        }
    }
}

list_rows::list_model!(qobject::ArchiveCompare, DiffEntry);
