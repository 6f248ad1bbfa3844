//! `RepositorySpace`: a repository's sizes and a bar per archive (its size, and the part only
//! it holds: what deleting it frees), from `upkeep::stats` (cached by archive id, so only
//! archives not measured before cost a borg call).

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
        /// "Measuring archive 3 of 12…" while borg is asked.
        #[qproperty(QString, status_text)]
        /// "12 archives · 41 GB original · 30 GB compressed · 9.1 GB on disk".
        #[qproperty(QString, summary_text)]
        /// Which archive holds the most data no other archive has, and how much.
        #[qproperty(QString, most_unique_text)]
        #[qproperty(QString, error_text)]
        type RepositorySpace = super::RepositorySpaceRust;

        /// Measures `repository` (archives measured before come from the cache; `refresh`
        /// measures them all again).
        #[qinvokable]
        fn measure(
            self: Pin<&mut RepositorySpace>,
            config_path: &QString,
            repository: &QString,
            refresh: bool,
        );

        /// Forgets what is shown (another repository was selected).
        #[qinvokable]
        fn clear(self: Pin<&mut RepositorySpace>);
    }

    impl cxx_qt::Threading for RepositorySpace {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut RepositorySpace>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut RepositorySpace>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &RepositorySpace, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &RepositorySpace) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &RepositorySpace, parent: &QModelIndex) -> i32;
    }
}

use crate::config::BorgmaticConfig;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::units::format_bytes;
use crate::upkeep::stats::{ArchiveSizes, RepositoryStats};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;

/// One archive's bar, oldest on the left.
pub struct SpaceRow {
    sizes: ArchiveSizes,
    /// Its size against the biggest archive's (0..1).
    original_fraction: f64,
    /// The part only it holds, on the same scale.
    unique_fraction: f64,
    most_unique: bool,
}

impl Row for SpaceRow {
    const ROLES: &'static [&'static str] = &[
        "name",
        "time",
        "originalText",
        "uniqueText",
        "originalFraction",
        "uniqueFraction",
        "mostUnique",
    ];

    fn value(&self, role: usize) -> QVariant {
        let text = |t: String| QVariant::from(&QString::from(&t));
        match role {
            0 => text(self.sizes.name.clone()),
            1 => text(crate::units::format_borg_time(&self.sizes.time)),
            2 => text(format_bytes(self.sizes.original_size)),
            3 => text(format_bytes(self.sizes.unique_size)),
            4 => QVariant::from(&self.original_fraction),
            5 => QVariant::from(&self.unique_fraction),
            _ => QVariant::from(&self.most_unique),
        }
    }
}

#[derive(Default)]
pub struct RepositorySpaceRust {
    busy: bool,
    status_text: QString,
    summary_text: QString,
    most_unique_text: QString,
    error_text: QString,
    rows: Vec<SpaceRow>,
    requests: Latest,
}

fn rows_of(stats: &RepositoryStats) -> Vec<SpaceRow> {
    let biggest = stats
        .archives
        .iter()
        .map(|a| a.original_size.max(a.unique_size))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let most = stats.most_unique().map(|a| a.id.clone());
    stats
        .archives
        .iter()
        .rev()
        .map(|a| SpaceRow {
            original_fraction: a.original_size as f64 / biggest,
            unique_fraction: a.unique_size as f64 / biggest,
            most_unique: most.as_deref() == Some(a.id.as_str()),
            sizes: a.clone(),
        })
        .collect()
}

impl qobject::RepositorySpace {
    pub fn measure(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        refresh: bool,
    ) {
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        self.as_mut()
            .set_status_text(QString::from("Asking borg for the repository's size…"));
        let config = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let told_thread = qt_thread.clone();
            let measured = async {
                let loaded = BorgmaticConfig::load(&config).map_err(|e| e.to_string())?;
                let repo = loaded
                    .repository(&repository)
                    .ok_or_else(|| format!("the config has no repository “{repository}”"))?;
                crate::upkeep::stats::repository_stats(
                    &loaded,
                    repo,
                    refresh,
                    &cancel,
                    &mut |done, of| {
                        if done < of {
                            let text = format!("Measuring archive {} of {of}…", done + 1);
                            let _ = told_thread.queue(move |obj| {
                                obj.set_status_text(QString::from(&text));
                            });
                        }
                    },
                )
                .await
                .map_err(|e| crate::errors::report(&e))
            }
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                obj.as_mut().set_status_text(QString::default());
                match measured {
                    Ok(stats) => obj.show(&stats),
                    Err(e) => obj.set_error_text(QString::from(&e)),
                }
            });
        });
    }

    fn show(mut self: Pin<&mut Self>, stats: &RepositoryStats) {
        let summary = format!(
            "{} archives · {} original · {} compressed · {} on disk",
            stats.archives.len(),
            format_bytes(stats.totals.original),
            format_bytes(stats.totals.compressed),
            format_bytes(stats.totals.stored)
        );
        let most = stats
            .most_unique()
            .map(|a| {
                format!(
                    "{} holds the most data no other archive has: {} (what deleting it would free).",
                    a.name,
                    format_bytes(a.unique_size)
                )
            })
            .unwrap_or_default();
        self.as_mut().replace_rows(rows_of(stats));
        self.as_mut().set_summary_text(QString::from(&summary));
        self.set_most_unique_text(QString::from(&most));
    }

    pub fn clear(mut self: Pin<&mut Self>) {
        self.as_mut().rust_mut().requests.stop();
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_busy(false);
        self.as_mut().set_status_text(QString::default());
        self.as_mut().set_summary_text(QString::default());
        self.as_mut().set_most_unique_text(QString::default());
        self.set_error_text(QString::default());
    }
}

list_rows::list_model!(qobject::RepositorySpace, SpaceRow);
