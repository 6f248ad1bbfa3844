//! `RetentionPreview`: the Settings page's live preview of retention. The repository's
//! archives (those prune looks at) are read once; every change of a rule re-decides them at
//! once (`upkeep::retention`, borg's rules): each archive kept, with the rule `borg prune
//! --list` would name, or pruned.

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

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        #[qproperty(bool, busy)]
        /// "40 archives: 17 kept, 23 would be pruned".
        #[qproperty(QString, summary_text)]
        #[qproperty(i32, pruned_count)]
        #[qproperty(QString, error_text)]
        type RetentionPreview = super::RetentionPreviewRust;

        /// Reads the archives of `repository` that prune looks at, then decides `rules`.
        #[qinvokable]
        fn load(
            self: Pin<&mut RetentionPreview>,
            config_path: &QString,
            repository: &QString,
            rules: &QStringList,
        );

        /// Decides the archives read last under `rules` (`keep_daily=7`, … as typed).
        #[qinvokable]
        fn decide(self: Pin<&mut RetentionPreview>, rules: &QStringList);
    }

    impl cxx_qt::Threading for RetentionPreview {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut RetentionPreview>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut RetentionPreview>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &RetentionPreview, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &RetentionPreview) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &RetentionPreview, parent: &QModelIndex) -> i32;
    }
}

use crate::config::BorgmaticConfig;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::upkeep::retention::{Archive, Decision, Verdict};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QStringList, QVariant};
use std::path::PathBuf;

/// One archive on the timeline.
pub struct PreviewRow {
    decision: Decision,
    /// Where it sits between the oldest (0) and the newest (1) archive.
    position: f64,
}

impl Row for PreviewRow {
    const ROLES: &'static [&'static str] = &["archive", "time", "keep", "ruleText", "position"];

    fn value(&self, role: usize) -> QVariant {
        let text = |t: String| QVariant::from(&QString::from(&t));
        match role {
            0 => text(self.decision.archive.name.clone()),
            1 => text(crate::times::local_minutes(
                self.decision.archive.time.as_millisecond(),
            )),
            2 => QVariant::from(&self.decision.verdict.keeps()),
            3 => text(match &self.decision.verdict {
                Verdict::Kept { rule, index } => format!("kept: {rule} #{index}"),
                Verdict::KeptCheckpoint => "kept: the newest checkpoint".into(),
                Verdict::Pruned => "would be pruned".into(),
            }),
            _ => QVariant::from(&self.position),
        }
    }
}

#[derive(Default)]
pub struct RetentionPreviewRust {
    busy: bool,
    summary_text: QString,
    pruned_count: i32,
    error_text: QString,
    rows: Vec<PreviewRow>,
    candidates: Vec<Archive>,
    requests: Latest,
}

fn rule_texts(rules: &QStringList) -> Vec<(String, String)> {
    rules
        .iter()
        .filter_map(|r| {
            let text = r.to_string();
            let (option, value) = text.split_once('=')?;
            Some((option.to_string(), value.to_string()))
        })
        .collect()
}

impl qobject::RetentionPreview {
    pub fn load(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        rules: &QStringList,
    ) {
        let ticket = self.as_mut().rust_mut().requests.next();
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        let config = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        let rules = rules.clone();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let read = async {
                let loaded = BorgmaticConfig::load(&config).map_err(|e| e.to_string())?;
                let repo = loaded
                    .repository(&repository)
                    .or_else(|| loaded.repositories.first())
                    .ok_or_else(|| "the config has no repository".to_string())?;
                crate::upkeep::prune_candidates(&loaded, repo)
                    .await
                    .map_err(|e| crate::errors::report(&e))
            }
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                match read {
                    Ok(candidates) => {
                        obj.as_mut().rust_mut().candidates = candidates;
                        obj.decide(&rules);
                    }
                    Err(e) => obj.set_error_text(QString::from(&e)),
                }
            });
        });
    }

    pub fn decide(mut self: Pin<&mut Self>, rules: &QStringList) {
        let texts = rule_texts(rules);
        let decided =
            crate::upkeep::rules_from_texts(texts.iter().map(|(o, v)| (o.as_str(), v.as_str())))
                .and_then(|rules| crate::upkeep::decide_now(&self.candidates, &rules));
        match decided {
            Ok(decisions) => {
                let (oldest, newest) = (
                    decisions.last().map(|d| d.archive.time.as_second()),
                    decisions.first().map(|d| d.archive.time.as_second()),
                );
                let span = match (oldest, newest) {
                    (Some(o), Some(n)) if n > o => (o, (n - o) as f64),
                    _ => (0, 0.0),
                };
                let pruned = decisions.iter().filter(|d| !d.verdict.keeps()).count();
                let summary = format!(
                    "{} archives: {} kept, {pruned} would be pruned",
                    decisions.len(),
                    decisions.len() - pruned
                );
                let rows = decisions
                    .into_iter()
                    .map(|decision| {
                        let position = match span.1 {
                            s if s > 0.0 => (decision.archive.time.as_second() - span.0) as f64 / s,
                            _ => 1.0,
                        };
                        PreviewRow { decision, position }
                    })
                    .collect();
                self.as_mut().replace_rows(rows);
                self.as_mut()
                    .set_pruned_count(i32::try_from(pruned).unwrap_or(i32::MAX));
                self.as_mut().set_error_text(QString::default());
                self.set_summary_text(QString::from(&summary));
            }
            Err(e) => {
                self.as_mut().replace_rows(Vec::new());
                self.as_mut().set_pruned_count(0);
                self.as_mut().set_summary_text(QString::default());
                self.set_error_text(QString::from(&crate::errors::report(&e)));
            }
        }
    }
}

list_rows::list_model!(qobject::RetentionPreview, PreviewRow);
