//! `RepositoryListModel`: every config found and its repositories, one row per repository
//! (a config that cannot be read gets one row carrying its error).

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
        #[qproperty(i32, config_count)]
        type RepositoryListModel = super::RepositoryListRust;

        /// Finds and reads the configs again.
        #[qinvokable]
        fn reload(self: Pin<&mut RepositoryListModel>);
    }

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut RepositoryListModel>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut RepositoryListModel>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &RepositoryListModel, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &RepositoryListModel) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &RepositoryListModel, parent: &QModelIndex) -> i32;
    }
}

use crate::config::{discover_configs, BorgmaticConfig, RepositoryKind};
use crate::gui::list_rows::{self, Row};
use core::pin::Pin;
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;
use std::sync::OnceLock;

static STARTUP_CONFIG: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The config given with `kastell --config FILE`, shown instead of the discovered ones.
pub fn set_startup_config(config: Option<PathBuf>) {
    let _ = STARTUP_CONFIG.set(config);
}

pub struct RepositoryRow {
    config_path: String,
    config_name: String,
    config_error: String,
    label: String,
    location: String,
    kind: &'static str,
    host: String,
}

impl Row for RepositoryRow {
    const ROLES: &'static [&'static str] = &[
        "configPath",
        "configName",
        "configError",
        "label",
        "location",
        "kind",
        "host",
    ];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => &self.config_path,
            1 => &self.config_name,
            2 => &self.config_error,
            3 => &self.label,
            4 => &self.location,
            5 => self.kind,
            _ => &self.host,
        };
        QVariant::from(&QString::from(text))
    }
}

#[derive(Default)]
pub struct RepositoryListRust {
    config_count: i32,
    rows: Vec<RepositoryRow>,
}

/// Reads every config into rows. Plain Rust, so it is testable without Qt.
fn rows_for(paths: &[PathBuf]) -> Vec<RepositoryRow> {
    let mut rows = Vec::new();
    for path in paths {
        let config_path = path.display().to_string();
        let config_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| config_path.clone());
        match BorgmaticConfig::load(path) {
            Ok(cfg) if cfg.repositories.is_empty() => rows.push(RepositoryRow {
                config_path,
                config_name,
                config_error: "This config lists no repositories.".into(),
                label: String::new(),
                location: String::new(),
                kind: "",
                host: String::new(),
            }),
            Ok(cfg) => {
                for repo in &cfg.repositories {
                    let kind = repo.kind();
                    let host = match &kind {
                        RepositoryKind::Ssh { host, .. } => host.clone(),
                        _ => String::new(),
                    };
                    let kind = kind.name();
                    rows.push(RepositoryRow {
                        config_path: config_path.clone(),
                        config_name: config_name.clone(),
                        config_error: String::new(),
                        label: repo.display_name().to_string(),
                        location: repo.path.clone(),
                        kind,
                        host,
                    });
                }
            }
            Err(e) => rows.push(RepositoryRow {
                config_path,
                config_name,
                config_error: e.to_string(),
                label: String::new(),
                location: String::new(),
                kind: "",
                host: String::new(),
            }),
        }
    }
    rows
}

impl qobject::RepositoryListModel {
    pub fn reload(mut self: Pin<&mut Self>) {
        let explicit = STARTUP_CONFIG.get().cloned().flatten();
        let paths = discover_configs(explicit.as_deref());
        let rows = rows_for(&paths);
        self.as_mut().replace_rows(rows);
        self.set_config_count(i32::try_from(paths.len()).unwrap_or(i32::MAX));
    }
}

list_rows::list_model!(qobject::RepositoryListModel, RepositoryRow);
