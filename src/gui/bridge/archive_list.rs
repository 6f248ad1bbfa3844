//! `ArchiveListModel`: the selected repository's archives, newest first, loaded from borg
//! through borgmatic in the background.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        // Declared as a plain C++ type: a `C++Qt` declaration would emit upcast helpers
        // once per bridge and collide at link time.
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
        #[qproperty(QString, error_text)]
        /// A `Failure` value: what QML offers next (type the passphrase, ...).
        #[qproperty(i32, error_kind)]
        #[qproperty(QString, status_text)]
        #[qproperty(QString, config_path)]
        #[qproperty(QString, repository)]
        type ArchiveListModel = super::ArchiveListRust;

        /// Shows the archives of `repository` (label or path) in the config at `config_path`.
        #[qinvokable]
        fn load(self: Pin<&mut ArchiveListModel>, config_path: &QString, repository: &QString);

        /// Loads the current repository again.
        #[qinvokable]
        fn refresh(self: Pin<&mut ArchiveListModel>);

        /// Loads again with a passphrase typed for this run only (e.g. the wallet is locked).
        #[qinvokable]
        fn retry_with_passphrase(self: Pin<&mut ArchiveListModel>, passphrase: &QString);

        /// The archive name at `row`, or an empty string.
        #[qinvokable]
        fn name_at(self: &ArchiveListModel, row: i32) -> QString;
    }

    impl cxx_qt::Threading for ArchiveListModel {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut ArchiveListModel>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut ArchiveListModel>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ArchiveListModel, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &ArchiveListModel) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &ArchiveListModel, parent: &QModelIndex) -> i32;
    }
}

use crate::config::BorgmaticConfig;
use crate::errors::ErrorKind;
use crate::events::Event;
use crate::gui::bridge::failure;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::process::archives::{list_archives_with, Archive};
use crate::process::LogLine;
use crate::units::format_borg_time;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;

/// An archive, with the stats Kastell recorded when it created it (if it did).
pub struct ArchiveRow {
    archive: Archive,
    sizes: String,
}

impl Row for ArchiveRow {
    const ROLES: &'static [&'static str] = &["name", "time", "isoTime", "archiveId", "sizes"];

    fn value(&self, role: usize) -> QVariant {
        let a = &self.archive;
        let text = match role {
            0 => a.name.clone(),
            1 => format_borg_time(&a.time),
            2 => a.time.clone(),
            3 => a.id.clone(),
            _ => self.sizes.clone(),
        };
        QVariant::from(&QString::from(&text))
    }
}

/// Joins the listing with the history's per-archive stats (original size and new data).
fn with_recorded_stats(config: &std::path::Path, archives: Vec<Archive>) -> Vec<ArchiveRow> {
    let recorded: std::collections::HashMap<String, crate::history::ArchiveStats> =
        crate::history::History::open_default()
            .and_then(|h| h.repository_runs_of(config))
            .map(|parts| {
                parts
                    .into_iter()
                    .filter_map(|p| p.stats)
                    .map(|s| (s.archive.clone(), s))
                    .collect()
            })
            .unwrap_or_default();
    archives
        .into_iter()
        .map(|archive| {
            let sizes = recorded
                .get(&archive.name)
                .map(|s| {
                    format!(
                        "{} · {} new",
                        crate::units::format_bytes(s.original_size),
                        crate::units::format_bytes(s.deduplicated_size)
                    )
                })
                .unwrap_or_default();
            ArchiveRow { archive, sizes }
        })
        .collect()
}

#[derive(Default)]
pub struct ArchiveListRust {
    busy: bool,
    error_text: QString,
    error_kind: i32,
    status_text: QString,
    config_path: QString,
    repository: QString,
    rows: Vec<ArchiveRow>,
    /// A load for another repository cancels the one in flight and drops its results.
    requests: Latest,
}

impl qobject::ArchiveListModel {
    pub fn load(mut self: Pin<&mut Self>, config_path: &QString, repository: &QString) {
        self.as_mut().set_config_path(config_path.clone());
        self.as_mut().set_repository(repository.clone());
        self.refresh();
    }

    pub fn refresh(self: Pin<&mut Self>) {
        self.load_archives(None);
    }

    pub fn retry_with_passphrase(self: Pin<&mut Self>, passphrase: &QString) {
        let typed = passphrase.to_string();
        if !typed.is_empty() {
            self.load_archives(Some(crate::config::Secret::new(typed)));
        }
    }

    fn load_archives(mut self: Pin<&mut Self>, typed: Option<crate::config::Secret>) {
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_error_kind(failure::code(None));
        self.as_mut().set_status_text(QString::default());
        self.as_mut().replace_rows(Vec::new());
        let config_path = PathBuf::from(self.config_path.to_string());
        let repository = self.repository.to_string();
        if repository.is_empty() {
            self.set_busy(false);
            return;
        }
        self.as_mut().set_busy(true);

        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let status_thread = qt_thread.clone();
            let throttle = Throttle::new(UI_INTERVAL);
            // borgmatic's progress lines become the status text, at most ~10 times a second.
            let sink = move |event: Event| {
                if let Event::Line(line @ LogLine::Message { .. }) = event {
                    if throttle.ready() {
                        let text = QString::from(&line.text());
                        let _ = status_thread.queue(move |obj| {
                            if obj.requests.is_current(ticket) {
                                obj.set_status_text(text);
                            }
                        });
                    }
                }
            };
            let result = match BorgmaticConfig::load(&config_path) {
                Ok(cfg) => match cfg.repository(&repository) {
                    Some(repo) => list_archives_with(&cfg, repo, typed.as_ref(), &sink, &cancel)
                        .await
                        .map_err(|e| (e.user_message(Some(repo.display_name())), e.kind())),
                    None => Err((
                        format!("The config has no repository “{repository}”."),
                        ErrorKind::ConfigInvalid,
                    )),
                },
                Err(e) => Err((e.to_string(), e.kind())),
            };
            let result = result.map(|archives| with_recorded_stats(&config_path, archives));
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                match result {
                    Ok(archives) => obj.as_mut().replace_rows(archives),
                    Err((message, kind)) if kind != ErrorKind::Cancelled => {
                        obj.as_mut().set_error_text(QString::from(&message));
                        obj.as_mut().set_error_kind(failure::code(Some(kind)));
                    }
                    Err(_) => {}
                }
                obj.as_mut().set_status_text(QString::default());
                obj.set_busy(false);
            });
        });
    }

    pub fn name_at(&self, row: i32) -> QString {
        usize::try_from(row)
            .ok()
            .and_then(|r| self.rows.get(r))
            .map(|a| QString::from(&a.archive.name))
            .unwrap_or_default()
    }
}

list_rows::list_model!(qobject::ArchiveListModel, ArchiveRow);
