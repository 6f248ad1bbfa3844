//! `VersionList`: one path's versions across every archive of a repository (oldest first),
//! from the archive indexes, with the ones that differ from the version before marked.

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
        #[qproperty(QString, path)]
        #[qproperty(QString, status_text)]
        #[qproperty(QString, error_text)]
        type VersionList = super::VersionListRust;

        /// Loads the versions of `path` (an archive path) in `repository` of the config.
        #[qinvokable]
        fn load(
            self: Pin<&mut VersionList>,
            config_path: &QString,
            repository: &QString,
            path: &QString,
        );

        /// The archive name of row `row`.
        #[qinvokable]
        fn archive_at(self: &VersionList, row: i32) -> QString;
    }

    impl cxx_qt::Threading for VersionList {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut VersionList>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut VersionList>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &VersionList, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &VersionList) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &VersionList, parent: &QModelIndex) -> i32;
    }
}

use crate::browse;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::index::Version;
use crate::units::{format_borg_time, format_bytes};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

impl Row for Version {
    const ROLES: &'static [&'static str] = &["archive", "time", "sizeText", "modified", "changed"];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => self.archive.clone(),
            1 => format_borg_time(&self.time),
            2 => {
                if self.mode & 0o170000 == 0o040000 {
                    "folder".to_string()
                } else {
                    format_bytes(self.size)
                }
            }
            3 => crate::times::local_seconds(i128::from(self.mtime_ns)),
            _ => return QVariant::from(&self.changed),
        };
        QVariant::from(&QString::from(&text))
    }
}

#[derive(Default)]
pub struct VersionListRust {
    busy: bool,
    path: QString,
    status_text: QString,
    error_text: QString,
    rows: Vec<Version>,
    requests: Latest,
}

impl qobject::VersionList {
    pub fn load(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        path: &QString,
    ) {
        let ticket = self.as_mut().rust_mut().requests.next();
        self.as_mut().set_path(path.clone());
        self.as_mut().set_error_text(QString::default());
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_busy(true);
        self.as_mut()
            .set_status_text(QString::from("Looking through every archive…"));
        let config = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        let wanted = path.to_string().trim_matches('/').to_string();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let found = match browse::open(&config, &repository, false).await {
                Ok(session) => tokio::task::spawn_blocking(move || {
                    session.versions(&wanted, &mut |_| {}, &AtomicBool::new(false))
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
                Err(e) => Err(e.to_string()),
            };
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.requests.is_current(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                match found {
                    Ok(versions) => {
                        let changed = versions.iter().filter(|v| v.changed).count();
                        let text = format!(
                            "In {} archive(s); {} different version(s)",
                            versions.len(),
                            changed
                        );
                        obj.as_mut().replace_rows(versions);
                        obj.set_status_text(QString::from(&text));
                    }
                    Err(e) => {
                        obj.as_mut().set_status_text(QString::default());
                        obj.set_error_text(QString::from(&e));
                    }
                }
            });
        });
    }

    pub fn archive_at(&self, row: i32) -> QString {
        usize::try_from(row)
            .ok()
            .and_then(|r| self.rows.get(r))
            .map(|v| QString::from(&v.archive))
            .unwrap_or_default()
    }
}

list_rows::list_model!(qobject::VersionList, Version);
