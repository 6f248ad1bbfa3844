//! `RepositoryListModel`: every config found and its repositories, one row per repository
//! (a config that cannot be read gets one row carrying its error), each with what the tray
//! says of it: the last success, the last failure's reason, the next scheduled run.

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

    /// A repository's state (the `health` role), as the tray shows it.
    #[qenum(RepositoryListModel)]
    enum Health {
        Unknown,
        Ok,
        Running,
        Overdue,
        Failed,
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

        /// Reads the history and the schedules again for the rows shown (after a run, and
        /// every minute for the relative times).
        #[qinvokable]
        fn refresh_status(self: Pin<&mut RepositoryListModel>);
    }

    impl cxx_qt::Threading for RepositoryListModel {}

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
use crate::gui::runtime;
use crate::status::{self, Health};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::{Path, PathBuf};
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
    /// "backed up 3 hours ago", "last backup failed (…): reason; …".
    status_text: String,
    health: Health,
    /// "next backup 2026-12-03 12:04", "schedule paused", or "" without a schedule.
    schedule_text: String,
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
        "statusText",
        "health",
        "scheduleText",
    ];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => &self.config_path,
            1 => &self.config_name,
            2 => &self.config_error,
            3 => &self.label,
            4 => &self.location,
            5 => self.kind,
            6 => &self.host,
            7 => &self.status_text,
            8 => return QVariant::from(&health_code(self.health)),
            _ => &self.schedule_text,
        };
        QVariant::from(&QString::from(text))
    }
}

fn health_code(health: Health) -> i32 {
    let code = match health {
        Health::Unknown => qobject::Health::Unknown,
        Health::Ok => qobject::Health::Ok,
        Health::Running => qobject::Health::Running,
        Health::Overdue => qobject::Health::Overdue,
        Health::Failed => qobject::Health::Failed,
    };
    code.repr
}

#[derive(Default)]
pub struct RepositoryListRust {
    config_count: i32,
    rows: Vec<RepositoryRow>,
    /// Per config: when its schedule runs next, or "paused" (from the last look at systemd).
    schedules: Vec<(PathBuf, String)>,
}

/// Fills each row's status from the history and the run locks (no repository is opened).
fn fill_status(rows: &mut [RepositoryRow], schedules: &[(PathBuf, String)]) {
    let mut configs: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for row in rows.iter().filter(|r| r.config_error.is_empty()) {
        let config = PathBuf::from(&row.config_path);
        match configs.iter_mut().find(|(c, _)| *c == config) {
            Some((_, labels)) => labels.push(row.label.clone()),
            None => configs.push((config, vec![row.label.clone()])),
        }
    }
    let now = crate::history::now_ms();
    let statuses = crate::history::History::open_default()
        .ok()
        .and_then(|history| {
            status::overview(
                &history,
                &configs,
                &crate::preferences::Preferences::load(),
                &[],
                now,
            )
            .ok()
        })
        .unwrap_or_default();
    for row in rows.iter_mut() {
        let config = Path::new(&row.config_path);
        if let Some(found) = statuses
            .iter()
            .find(|s| s.config == config && s.repository == row.label)
        {
            let line = status::describe(found, now);
            let prefix = format!("{}: ", row.label);
            row.status_text = line.strip_prefix(&prefix).unwrap_or(&line).to_string();
            if let Some(check) = status::describe_check(found, now) {
                row.status_text.push_str(" · ");
                row.status_text.push_str(&check);
            }
            row.health = found.health;
        }
        row.schedule_text = schedules
            .iter()
            .find(|(c, _)| c == config)
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
    }
}

/// The schedules in words, per config.
async fn schedule_texts() -> Vec<(PathBuf, String)> {
    crate::schedule::show(None)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            let text = match (s.systemd_answers, s.enabled, s.next_run) {
                (false, _, _) => "scheduled while Kastell is open".to_string(),
                (true, true, Some(next)) => {
                    format!("next backup {}", crate::times::local_minutes(next))
                }
                (true, true, None) => "scheduled".to_string(),
                (true, false, _) => "schedule paused".to_string(),
            };
            (s.config, text)
        })
        .collect()
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
                status_text: String::new(),
                health: Health::Unknown,
                schedule_text: String::new(),
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
                        status_text: String::new(),
                        health: Health::Unknown,
                        schedule_text: String::new(),
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
                status_text: String::new(),
                health: Health::Unknown,
                schedule_text: String::new(),
            }),
        }
    }
    rows
}

impl qobject::RepositoryListModel {
    pub fn reload(mut self: Pin<&mut Self>) {
        let explicit = STARTUP_CONFIG.get().cloned().flatten();
        let paths = discover_configs(explicit.as_deref());
        let mut rows = rows_for(&paths);
        fill_status(&mut rows, &self.schedules);
        self.as_mut().replace_rows(rows);
        self.as_mut()
            .set_config_count(i32::try_from(paths.len()).unwrap_or(i32::MAX));
        self.look_at_schedules();
    }

    pub fn refresh_status(mut self: Pin<&mut Self>) {
        let schedules = self.schedules.clone();
        let mut rows = std::mem::take(&mut self.as_mut().rust_mut().rows);
        fill_status(&mut rows, &schedules);
        self.as_mut().replace_rows(rows);
        self.look_at_schedules();
    }

    /// Asks systemd about the schedules off the Qt thread; the rows follow when it answers.
    fn look_at_schedules(self: Pin<&mut Self>) {
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let schedules = schedule_texts().await;
            let _ = qt_thread.queue(move |mut model| {
                if model.schedules == schedules {
                    return;
                }
                model.as_mut().rust_mut().schedules = schedules.clone();
                let mut rows = std::mem::take(&mut model.as_mut().rust_mut().rows);
                for row in rows.iter_mut() {
                    row.schedule_text = schedules
                        .iter()
                        .find(|(c, _)| c.as_path() == Path::new(&row.config_path))
                        .map(|(_, text)| text.clone())
                        .unwrap_or_default();
                }
                model.replace_rows(rows);
            });
        });
    }
}

list_rows::list_model!(qobject::RepositoryListModel, RepositoryRow);
