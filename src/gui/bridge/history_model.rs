//! `HistoryModel`: a config's runs, newest first, one row per repository part, with the data
//! for the size chart and each run's full log.

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
        include!("cxx-qt-lib/qlist.h");
        type QList_QVariant = cxx_qt_lib::QList<cxx_qt_lib::QVariant>;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        #[qproperty(QString, config_path)]
        #[qproperty(QString, error_text)]
        /// The size chart, per repository: maps with `repository` and `points`, each point
        /// `[unix ms, original bytes, stored bytes]`.
        #[qproperty(QList_QVariant, chart_series)]
        /// The chart's top: the largest size any point has.
        #[qproperty(f64, chart_max)]
        /// The y axis' labels, in words, at 0, ¼, ½, ¾ and all of `chart_max`.
        #[qproperty(QList_QVariant, chart_ticks)]
        type HistoryModel = super::HistoryModelRust;

        /// Shows the runs of the config at `config_path`.
        #[qinvokable]
        fn load(self: Pin<&mut HistoryModel>, config_path: &QString);

        #[qinvokable]
        fn reload(self: Pin<&mut HistoryModel>);

        /// The run's whole log (borgmatic's and borg's messages, without progress counters).
        #[qinvokable]
        fn log_text(self: &HistoryModel, run_id: i32) -> QString;

        /// The first row of run `run_id`, or -1.
        #[qinvokable]
        fn row_of_run(self: &HistoryModel, run_id: i32) -> i32;
    }

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut HistoryModel>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut HistoryModel>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &HistoryModel, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &HistoryModel) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &HistoryModel, parent: &QModelIndex) -> i32;
    }
}

use crate::gui::list_rows::{self, Row};
use crate::history::{History, Run};
use crate::units::{format_bytes, format_duration};
use core::pin::Pin;
use cxx_qt::CxxQtType;
use cxx_qt_lib::{QList, QString, QVariant};
use std::collections::BTreeMap;
use std::path::Path;

/// One repository's part of a run (or the run itself when it never reached a repository).
pub struct HistoryRow {
    run_id: i64,
    started: String,
    what: String,
    repository: String,
    outcome: String,
    message: String,
    archive: String,
    sizes: String,
    duration: String,
}

impl Row for HistoryRow {
    const ROLES: &'static [&'static str] = &[
        "runId",
        "started",
        "what",
        "repository",
        "outcome",
        "message",
        "archive",
        "sizes",
        "duration",
    ];

    fn value(&self, role: usize) -> QVariant {
        if role == 0 {
            return QVariant::from(&i32::try_from(self.run_id).unwrap_or(0));
        }
        let text = match role {
            1 => &self.started,
            2 => &self.what,
            3 => &self.repository,
            4 => &self.outcome,
            5 => &self.message,
            6 => &self.archive,
            7 => &self.sizes,
            _ => &self.duration,
        };
        QVariant::from(&QString::from(text))
    }
}

#[derive(Default)]
pub struct HistoryModelRust {
    config_path: QString,
    error_text: QString,
    chart_series: QList<QVariant>,
    chart_max: f64,
    chart_ticks: QList<QVariant>,
    rows: Vec<HistoryRow>,
    runs: Vec<Run>,
}

fn rows_of(runs: &[Run]) -> Vec<HistoryRow> {
    let mut rows = Vec::new();
    for run in runs {
        let what = format!("{} · {}", run.actions, run.trigger);
        if run.repositories.is_empty() {
            rows.push(HistoryRow {
                run_id: run.id,
                started: crate::times::local_minutes(run.started),
                what: what.clone(),
                repository: "—".into(),
                outcome: run.outcome.name().into(),
                message: run.message.clone().unwrap_or_default(),
                archive: String::new(),
                sizes: String::new(),
                duration: String::new(),
            });
        }
        for part in &run.repositories {
            let sizes = part.stats.as_ref().map(|s| s.summary()).unwrap_or_default();
            let duration = part
                .ended
                .map(|end| format_duration((end - part.started) as f64 / 1000.0))
                .unwrap_or_default();
            rows.push(HistoryRow {
                run_id: run.id,
                started: crate::times::local_minutes(part.started),
                what: what.clone(),
                repository: part.repository.clone(),
                outcome: part.outcome.name().into(),
                message: part.message.clone().unwrap_or_default(),
                archive: part
                    .stats
                    .as_ref()
                    .map(|s| s.archive.clone())
                    .unwrap_or_default(),
                sizes,
                duration,
            });
        }
    }
    rows
}

/// Each repository's total size after each backup: everything it holds (original) and what
/// that takes on disk (stored, after deduplication and compression).
/// One repository's sizes over time.
struct Series {
    repository: String,
    /// Unix ms, original bytes, stored bytes.
    points: Vec<[f64; 3]>,
}

impl Row for Series {
    const ROLES: &'static [&'static str] = &["repository", "points"];

    fn value(&self, role: usize) -> QVariant {
        if role == 0 {
            return QVariant::from(&QString::from(&self.repository));
        }
        let mut points = QList::<QVariant>::default();
        for point in &self.points {
            let mut values = QList::<f64>::default();
            for v in point {
                values.append(*v);
            }
            points.append(QVariant::from(&values));
        }
        QVariant::from(&points)
    }
}

/// The size chart's series, one per repository, from the runs that recorded sizes.
fn chart_series(history: &History, config: &Path) -> Vec<Series> {
    let mut series: BTreeMap<String, Vec<[f64; 3]>> = BTreeMap::new();
    if let Ok(parts) = history.repository_runs_of(config) {
        for part in parts {
            let Some(stats) = part.stats else { continue };
            let (Some(original), Some(stored)) =
                (stats.repository_original_size, stats.repository_stored_size)
            else {
                continue;
            };
            let at = part.ended.unwrap_or(part.started);
            series.entry(part.repository).or_default().push([
                at as f64,
                original as f64,
                stored as f64,
            ]);
        }
    }
    series
        .into_iter()
        .map(|(repository, points)| Series { repository, points })
        .collect()
}

/// The y axis' labels for a chart whose top is `max` bytes.
fn chart_ticks(max: f64) -> QList<QVariant> {
    let mut ticks = QList::<QVariant>::default();
    for quarter in 0..=4u32 {
        let bytes = (max * f64::from(quarter) / 4.0) as u64;
        ticks.append(QVariant::from(&QString::from(&format_bytes(bytes))));
    }
    ticks
}

impl qobject::HistoryModel {
    pub fn load(mut self: Pin<&mut Self>, config_path: &QString) {
        self.as_mut().set_config_path(config_path.clone());
        self.reload();
    }

    pub fn reload(mut self: Pin<&mut Self>) {
        let config = std::path::PathBuf::from(self.config_path.to_string());
        let loaded = History::open_default().and_then(|history| {
            let runs = history.runs(Some(&config), 200)?;
            Ok((runs, chart_series(&history, &config)))
        });
        let (runs, chart, error) = match loaded {
            Ok((runs, chart)) => (runs, chart, String::new()),
            Err(e) => (Vec::new(), Vec::new(), e.to_string()),
        };
        let max = chart
            .iter()
            .flat_map(|s| s.points.iter())
            .fold(0.0f64, |top, p| top.max(p[1]).max(p[2]));
        self.as_mut().set_error_text(QString::from(&error));
        self.as_mut()
            .set_chart_series(list_rows::variant_list(&chart));
        self.as_mut().set_chart_max(max);
        self.as_mut().set_chart_ticks(chart_ticks(max));
        let rows = rows_of(&runs);
        // SAFETY: begin/end reset always come in pairs here.
        unsafe {
            self.as_mut().begin_reset_model();
            self.as_mut().rust_mut().rows = rows;
            self.as_mut().rust_mut().runs = runs;
            self.as_mut().end_reset_model();
        }
    }

    pub fn log_text(&self, run_id: i32) -> QString {
        let run = self.runs.iter().find(|r| r.id == i64::from(run_id));
        let text = match run.and_then(|r| r.log_path.as_ref()) {
            Some(path) => std::fs::read_to_string(path)
                .unwrap_or_else(|e| format!("The log {path} cannot be read: {e}")),
            None => run
                .and_then(|r| r.message.clone())
                .unwrap_or_else(|| "This run has no log.".into()),
        };
        QString::from(&text)
    }

    pub fn row_of_run(&self, run_id: i32) -> i32 {
        self.rows
            .iter()
            .position(|r| r.run_id == i64::from(run_id))
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(-1)
    }
}

list_rows::list_model!(qobject::HistoryModel, HistoryRow);
