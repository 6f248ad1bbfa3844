//! `RestoreRunner`: the restore dialog's state. First a plan (what would change on disk), the
//! model's rows being the conflicts, each needing the user's word (overwrite, keep both,
//! skip); then the restore itself through the native reader, with progress and cancel.

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
        include!("cxx-qt-lib/qstringlist.h");
        type QStringList = cxx_qt_lib::QStringList;
    }

    /// Where the dialog is: `Idle` before a plan, then planning, planned, running and how it ended.
    #[qenum(RestoreRunner)]
    enum Stage {
        Idle,
        Planning,
        Planned,
        Running,
        Done,
        Cancelled,
        Failed,
    }

    /// The user's word on one conflict (`Undecided` until given).
    #[qenum(RestoreRunner)]
    enum Decision {
        Undecided,
        Overwrite,
        KeepBoth,
        Skip,
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        #[qproperty(Stage, state)]
        #[qproperty(QString, plan_text)]
        #[qproperty(QString, destination_text)]
        #[qproperty(i32, conflict_count)]
        #[qproperty(i32, undecided_count)]
        #[qproperty(f64, progress)]
        #[qproperty(QString, progress_text)]
        #[qproperty(QString, summary_text)]
        #[qproperty(QString, error_text)]
        type RestoreRunner = super::RestoreRunnerRust;

        /// Plans restoring `paths` (archive paths) from `archive`: into
        /// `into_folder` when it is not empty, otherwise back to their original location.
        #[qinvokable]
        fn prepare(
            self: Pin<&mut RestoreRunner>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
            paths: &QStringList,
            into_folder: &QString,
        );

        /// Forgets the last plan and restore (the dialog opens afresh).
        #[qinvokable]
        fn clear(self: Pin<&mut RestoreRunner>);

        /// The decision (a `Decision`) for conflict `row`.
        #[qinvokable]
        fn decide(self: Pin<&mut RestoreRunner>, row: i32, choice: i32);

        /// The same decision for every conflict.
        #[qinvokable]
        fn decide_all(self: Pin<&mut RestoreRunner>, choice: i32);

        /// Restores as planned and decided.
        #[qinvokable]
        fn start(self: Pin<&mut RestoreRunner>);

        /// Stops after the file being written (which is removed, not left half-written).
        #[qinvokable]
        fn cancel(self: Pin<&mut RestoreRunner>);
    }

    impl cxx_qt::Threading for RestoreRunner {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut RestoreRunner>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut RestoreRunner>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &RestoreRunner, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &RestoreRunner) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &RestoreRunner, parent: &QModelIndex) -> i32;
    }
}

use crate::browse::{self, Session};
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::index::ArchiveIndex;
use crate::reader::ArchiveRef;
use crate::restore::{self, Conflict, Destination, RestoreOptions, RestorePlan};
use crate::units::format_bytes;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QStringList, QVariant};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub struct ConflictRow {
    target: PathBuf,
    size: u64,
    is_dir: bool,
    decision: Option<Conflict>,
    /// Why Overwrite is not offered (a made-up folder, a folder with contents).
    cannot_overwrite: Option<restore::CannotOverwrite>,
    /// Both versions in a few words, so the decision is an informed one.
    archive_text: String,
    disk_text: String,
}

fn local_time(secs: i64) -> String {
    crate::times::local_seconds(i128::from(secs) * 1_000_000_000)
}

fn version_text(size: Option<u64>, mtime_secs: i64, is_dir: bool) -> String {
    match size {
        Some(size) if !is_dir => format!(
            "{}, modified {}",
            format_bytes(size),
            local_time(mtime_secs)
        ),
        _ => format!("folder, modified {}", local_time(mtime_secs)),
    }
}

fn decision_of(decision: Option<Conflict>) -> qobject::Decision {
    match decision {
        Some(Conflict::Overwrite) => qobject::Decision::Overwrite,
        Some(Conflict::KeepBoth) => qobject::Decision::KeepBoth,
        Some(Conflict::Skip) => qobject::Decision::Skip,
        None => qobject::Decision::Undecided,
    }
}

fn conflict_of(choice: i32) -> Option<Conflict> {
    match (qobject::Decision { repr: choice }) {
        qobject::Decision::Overwrite => Some(Conflict::Overwrite),
        qobject::Decision::KeepBoth => Some(Conflict::KeepBoth),
        qobject::Decision::Skip => Some(Conflict::Skip),
        _ => None,
    }
}

impl Row for ConflictRow {
    const ROLES: &'static [&'static str] = &[
        "target",
        "sizeText",
        "decision",
        "isFolder",
        "archiveText",
        "diskText",
        "canOverwrite",
        "whyNoOverwrite",
    ];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => self.target.display().to_string(),
            1 => {
                if self.is_dir {
                    "folder".to_string()
                } else {
                    format_bytes(self.size)
                }
            }
            2 => return QVariant::from(&decision_of(self.decision).repr),
            3 => return QVariant::from(&self.is_dir),
            4 => self.archive_text.clone(),
            5 => self.disk_text.clone(),
            6 => return QVariant::from(&self.cannot_overwrite.is_none()),
            _ => self
                .cannot_overwrite
                .map(|c| c.describe().to_string())
                .unwrap_or_default(),
        };
        QVariant::from(&QString::from(&text))
    }
}

/// What a prepared restore works on.
struct Prepared {
    session: Arc<Session>,
    archive: ArchiveRef,
    index: Arc<ArchiveIndex>,
    plan: RestorePlan,
}

impl Default for qobject::Stage {
    fn default() -> Self {
        qobject::Stage::Idle
    }
}

#[derive(Default)]
pub struct RestoreRunnerRust {
    state: qobject::Stage,
    plan_text: QString,
    destination_text: QString,
    conflict_count: i32,
    undecided_count: i32,
    progress: f64,
    progress_text: QString,
    summary_text: QString,
    error_text: QString,
    rows: Vec<ConflictRow>,
    prepared: Option<Arc<Prepared>>,
    requests: Latest<Arc<AtomicBool>>,
}

fn plan_text(plan: &RestorePlan) -> String {
    plan.describe()
}

impl qobject::RestoreRunner {
    pub fn prepare(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
        paths: &QStringList,
        into_folder: &QString,
    ) {
        let ticket = self.as_mut().rust_mut().requests.next();
        self.as_mut().rust_mut().prepared = None;
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_plan_text(QString::default());
        self.as_mut().set_summary_text(QString::default());
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_progress_text(QString::default());
        self.as_mut().set_progress(0.0);
        self.as_mut().set_conflict_count(0);
        self.as_mut().set_undecided_count(0);
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        let folder = into_folder.to_string();
        let destination = if folder.trim().is_empty() {
            Destination::Original {
                root: PathBuf::from("/"),
            }
        } else {
            let dir = PathBuf::from(folder.trim());
            if !dir.is_dir() {
                self.as_mut().set_state(qobject::Stage::Failed);
                self.set_error_text(QString::from(&format!(
                    "{} is not a folder.",
                    dir.display()
                )));
                return;
            }
            Destination::Into(std::path::absolute(&dir).unwrap_or(dir))
        };
        let where_to = match &destination {
            Destination::Original { .. } => "back to where they were".to_string(),
            Destination::Into(dir) => format!("into {}", dir.display()),
        };
        self.as_mut().set_destination_text(QString::from(&format!(
            "{} item(s) from {}, {where_to}",
            paths.len(),
            archive
        )));
        self.as_mut().set_state(qobject::Stage::Planning);
        let config = PathBuf::from(config_path.to_string());
        let (repository, archive_name) = (repository.to_string(), archive.to_string());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let planned = match browse::open(&config, &repository, false).await {
                Ok(session) => tokio::task::spawn_blocking(move || {
                    let archive = session.archive(&archive_name).map_err(|e| e.to_string())?;
                    let index = session
                        .index(&archive, &mut |_| {}, &AtomicBool::new(false))
                        .map_err(|e| e.to_string())?;
                    let selection = restore::select(&index, &paths).map_err(|e| e.to_string())?;
                    let plan = restore::plan(&index, &selection, &destination);
                    Ok::<_, String>(Prepared {
                        session,
                        archive,
                        index,
                        plan,
                    })
                })
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r),
                Err(e) => Err(e.to_string()),
            };
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.requests.is_current(ticket) {
                    return;
                }
                match planned {
                    Ok(prepared) => {
                        let rows: Vec<ConflictRow> = prepared
                            .plan
                            .conflicts()
                            .map(|c| {
                                use std::os::unix::fs::MetadataExt;
                                let mtime_ns = c
                                    .entry
                                    .map(|e| prepared.index.entry(e).mtime_ns)
                                    .unwrap_or_default();
                                let archive_text = version_text(
                                    Some(c.size),
                                    mtime_ns.div_euclid(1_000_000_000),
                                    c.is_dir,
                                );
                                let disk_text = match std::fs::symlink_metadata(&c.target) {
                                    Ok(m) => version_text(Some(m.len()), m.mtime(), m.is_dir()),
                                    Err(e) => e.to_string(),
                                };
                                ConflictRow {
                                    target: c.target.clone(),
                                    size: c.size,
                                    is_dir: c.is_dir,
                                    decision: None,
                                    cannot_overwrite: c.cannot_overwrite,
                                    archive_text,
                                    disk_text,
                                }
                            })
                            .collect();
                        let count = i32::try_from(rows.len()).unwrap_or(i32::MAX);
                        obj.as_mut()
                            .set_plan_text(QString::from(&plan_text(&prepared.plan)));
                        obj.as_mut().rust_mut().prepared = Some(Arc::new(prepared));
                        obj.as_mut().replace_rows(rows);
                        obj.as_mut().set_conflict_count(count);
                        obj.as_mut().set_undecided_count(count);
                        obj.set_state(qobject::Stage::Planned);
                    }
                    Err(e) => {
                        obj.as_mut().set_error_text(QString::from(&e));
                        obj.set_state(qobject::Stage::Failed);
                    }
                }
            });
        });
    }

    pub fn clear(mut self: Pin<&mut Self>) {
        if self.state == qobject::Stage::Running {
            return;
        }
        self.as_mut().rust_mut().requests.stop();
        self.as_mut().rust_mut().prepared = None;
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_plan_text(QString::default());
        self.as_mut().set_summary_text(QString::default());
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_progress_text(QString::default());
        self.as_mut().set_destination_text(QString::default());
        self.as_mut().set_progress(0.0);
        self.as_mut().set_conflict_count(0);
        self.as_mut().set_undecided_count(0);
        self.set_state(qobject::Stage::Idle);
    }

    pub fn decide(mut self: Pin<&mut Self>, row: i32, choice: i32) {
        let Some(r) = usize::try_from(row).ok().filter(|r| *r < self.rows.len()) else {
            return;
        };
        let decision = conflict_of(choice);
        if decision == Some(Conflict::Overwrite) && self.rows[r].cannot_overwrite.is_some() {
            return;
        }
        self.as_mut().rust_mut().rows[r].decision = decision;
        self.refresh_rows();
    }

    pub fn decide_all(mut self: Pin<&mut Self>, choice: i32) {
        let decision = conflict_of(choice);
        // "Overwrite all" leaves the conflicts Overwrite cannot resolve to a choice of their own.
        for row in self.as_mut().rust_mut().rows.iter_mut() {
            if decision != Some(Conflict::Overwrite) || row.cannot_overwrite.is_none() {
                row.decision = decision;
            }
        }
        self.refresh_rows();
    }

    fn refresh_rows(mut self: Pin<&mut Self>) {
        let rows = std::mem::take(&mut self.as_mut().rust_mut().rows);
        let undecided = rows.iter().filter(|r| r.decision.is_none()).count();
        self.as_mut().replace_rows(rows);
        self.set_undecided_count(i32::try_from(undecided).unwrap_or(i32::MAX));
    }

    pub fn start(mut self: Pin<&mut Self>) {
        let Some(prepared) = self.prepared.clone() else {
            return;
        };
        if self.undecided_count > 0 || self.state == qobject::Stage::Running {
            return;
        }
        let decisions: HashMap<PathBuf, Conflict> = self
            .rows
            .iter()
            .filter_map(|r| r.decision.map(|d| (r.target.clone(), d)))
            .collect();
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().set_state(qobject::Stage::Running);
        self.as_mut().set_progress(0.0);
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let progress_thread = qt_thread.clone();
            // Plasma's job list shows the restore; its Cancel stops it like the dialog's.
            let job_cancel = tokio_util::sync::CancellationToken::new();
            let (job, job_view) = crate::desktop::jobs::JobReporter::start(
                format!("Restoring from “{}”", prepared.archive.name),
                job_cancel.clone(),
            );
            let on_job_cancel = cancel.clone();
            let job_over = job_cancel.clone();
            tokio::spawn(async move {
                job_cancel.cancelled().await;
                on_job_cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            let job = std::sync::Arc::new(job);
            let job_in_restore = job.clone();
            let done = tokio::task::spawn_blocking(move || {
                let throttle = Throttle::new(UI_INTERVAL);
                let mut progress = |p: restore::RestoreProgress| {
                    let fraction =
                        (p.bytes_total > 0).then(|| p.bytes_done as f64 / p.bytes_total as f64);
                    job_in_restore.progress(fraction, p.bytes_done, p.files_done, 0);
                    if throttle.ready() {
                        let share = if p.bytes_total == 0 {
                            1.0
                        } else {
                            p.bytes_done as f64 / p.bytes_total as f64
                        };
                        let text = format!(
                            "{} of {} · {} file(s)",
                            format_bytes(p.bytes_done),
                            format_bytes(p.bytes_total),
                            p.files_done
                        );
                        let _ = progress_thread.queue(move |mut obj| {
                            if obj.requests.is_current(ticket) {
                                obj.as_mut().set_progress(share);
                                obj.set_progress_text(QString::from(&text));
                            }
                        });
                    }
                };
                // Only conflicts are asked about, and every one was decided before start.
                let mut decide = |entry: &restore::PlannedEntry| {
                    decisions
                        .get(&entry.target)
                        .copied()
                        .unwrap_or(Conflict::Skip)
                };
                let options = RestoreOptions {
                    sparse: false,
                    numeric_ids: matches!(
                        prepared.session.config.other.get("numeric_ids"),
                        Some(serde_norway::Value::Bool(true))
                    ),
                };
                restore::restore(
                    &prepared.session.reader,
                    &prepared.archive,
                    &prepared.index,
                    &prepared.plan,
                    options,
                    &mut decide,
                    &mut progress,
                    &cancel,
                )
            })
            .await;
            job.finished(match &done {
                Ok(Ok(_)) => crate::history::Outcome::Success,
                Ok(Err(restore::RestoreError::Cancelled)) => crate::history::Outcome::Cancelled,
                _ => crate::history::Outcome::Error,
            });
            drop(job);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), job_view).await;
            // Ends the waiter above (this request's flag no longer matters).
            job_over.cancel();
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                match done {
                    Ok(Ok(summary)) => {
                        let text = summary.lines(10).join("\n");
                        obj.as_mut().set_progress(1.0);
                        obj.as_mut().set_summary_text(QString::from(&text));
                        obj.set_state(qobject::Stage::Done);
                    }
                    Ok(Err(restore::RestoreError::Cancelled)) => {
                        obj.as_mut().set_summary_text(QString::from(
                            "Cancelled. The file being written was removed; files restored before stay, each complete.",
                        ));
                        obj.set_state(qobject::Stage::Cancelled);
                    }
                    Ok(Err(e)) => {
                        obj.as_mut().set_error_text(QString::from(&e.to_string()));
                        obj.set_state(qobject::Stage::Failed);
                    }
                    Err(e) => {
                        obj.as_mut().set_error_text(QString::from(&e.to_string()));
                        obj.set_state(qobject::Stage::Failed);
                    }
                }
            });
        });
    }

    pub fn cancel(self: Pin<&mut Self>) {
        self.requests.cancel();
    }
}

list_rows::list_model!(qobject::RestoreRunner, ConflictRow);
