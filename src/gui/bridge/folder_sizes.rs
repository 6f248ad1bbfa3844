//! `FolderSizes`: the Browse tab's chart of what takes the space in the shown folder. Sizes
//! walk everything below the folder, so they are summed off the Qt thread from the browser's
//! built index; a newer folder drops the answer for an older one.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qlist.h");
        type QList_QVariant = cxx_qt_lib::QList<cxx_qt_lib::QVariant>;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        /// The bars, largest first: maps with `name`, `sizeText`, `share` (0–1), `folder` and
        /// `others` (the rest summed).
        #[qproperty(QList_QVariant, bars)]
        /// The folder's total size in words ("" when nothing in it takes space).
        #[qproperty(QString, total)]
        type FolderSizes = super::FolderSizesRust;

        /// Sums folder `folder` of `archive` (in `repository` of the config); nothing is shown
        /// while the archive has no built index.
        #[qinvokable]
        fn show(
            self: Pin<&mut FolderSizes>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
            folder: &QString,
        );
    }

    impl cxx_qt::Threading for FolderSizes {}
}

use crate::browse::{self, view};
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QList, QString, QVariant};
use std::path::PathBuf;

/// Bars the chart shows at most (the rest are summed in one).
const SIZE_BARS: usize = 8;

#[derive(Default)]
pub struct FolderSizesRust {
    bars: QList<QVariant>,
    total: QString,
    requests: Latest,
}

impl Row for view::SizeBar {
    const ROLES: &'static [&'static str] = &["name", "sizeText", "share", "folder", "others"];

    fn value(&self, role: usize) -> QVariant {
        match role {
            0 => QVariant::from(&QString::from(&self.name)),
            1 => QVariant::from(&QString::from(&self.size_text)),
            2 => QVariant::from(&self.share),
            3 => QVariant::from(&self.folder),
            _ => QVariant::from(&self.others),
        }
    }
}

/// The bars and total of `folder`, or nothing when the archive is not indexed yet.
async fn sum_folder(
    config: PathBuf,
    repository: String,
    archive: String,
    folder: String,
) -> (Vec<view::SizeBar>, String) {
    let Some(session) = browse::kept_session(&config, &repository) else {
        return Default::default();
    };
    tokio::task::spawn_blocking(move || {
        let Some(index) = session
            .archive(&archive)
            .ok()
            .and_then(|a| session.cached_index(&a))
        else {
            return Default::default();
        };
        match index.lookup(folder.trim_matches('/').as_bytes()) {
            Some(at) => view::size_bars(&browse::folder_sizes(&index, at), SIZE_BARS),
            None => Default::default(),
        }
    })
    .await
    .unwrap_or_default()
}

impl qobject::FolderSizes {
    pub fn show(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
        folder: &QString,
    ) {
        let ticket = self.as_mut().rust_mut().requests.next();
        self.as_mut().set_bars(QList::default());
        self.as_mut().set_total(QString::default());
        let (config, repository, archive, folder) = (
            PathBuf::from(config_path.to_string()),
            repository.to_string(),
            archive.to_string(),
            folder.to_string(),
        );
        if archive.is_empty() {
            return;
        }
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let (bars, total) = sum_folder(config, repository, archive, folder).await;
            let _ = qt_thread.queue(move |mut obj| {
                if obj.requests.is_current(ticket) {
                    obj.as_mut().set_bars(list_rows::variant_list(&bars));
                    obj.set_total(QString::from(&total));
                }
            });
        });
    }
}
