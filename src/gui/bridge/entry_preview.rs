//! `EntryPreview`: the preview pane of the Browse tab, for one entry of an archive named by
//! config, repository, archive and path. It reuses the browser's open session and built
//! index (nothing is opened or indexed for a preview); the reading happens off the Qt thread
//! and only the newest selection's answer is shown.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    /// What the preview pane shows.
    #[qenum(EntryPreview)]
    enum Kind {
        Nothing,
        Folder,
        Text,
        Image,
        Binary,
        Link,
        Failed,
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(Kind, kind)]
        /// The entry's name ("" when nothing is selected).
        #[qproperty(QString, title)]
        /// Size, kind, mode and modification time in words.
        #[qproperty(QString, info)]
        /// The start of a text file, a link's target, or why reading failed.
        #[qproperty(QString, text)]
        /// A file:// URL of a private read-only copy, for images.
        #[qproperty(QString, image)]
        type EntryPreview = super::EntryPreviewRust;

        /// Shows `path` of `archive` (in `repository` of the config); an empty archive or an
        /// archive not indexed yet shows nothing.
        #[qinvokable]
        fn show(
            self: Pin<&mut EntryPreview>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
            path: &QString,
        );

        #[qinvokable]
        fn clear(self: Pin<&mut EntryPreview>);
    }

    impl cxx_qt::Threading for EntryPreview {}
}

use crate::browse::preview::{self, Preview, Shown};
use crate::browse::{self, BrowseError};
use crate::gui::latest::Latest;
use crate::gui::runtime;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::QString;
use std::path::PathBuf;

impl Default for qobject::Kind {
    fn default() -> Self {
        qobject::Kind::Nothing
    }
}

#[derive(Default)]
pub struct EntryPreviewRust {
    kind: qobject::Kind,
    title: QString,
    info: QString,
    text: QString,
    image: QString,
    /// A newer selection drops the answer for an older one.
    requests: Latest,
}

/// The preview of `path`, or `None` when the archive has no built index yet (the browser is
/// still indexing it) or the path is not in it.
async fn read_preview(
    config: PathBuf,
    repository: String,
    archive: String,
    path: String,
) -> Result<Option<Preview>, BrowseError> {
    let session = browse::open(&config, &repository, false).await?;
    let found = tokio::task::spawn_blocking(move || {
        let archive = session.archive(&archive)?;
        let Some(index) = session.cached_index(&archive) else {
            return Ok(None);
        };
        let Some(entry) = index.lookup(path.trim_matches('/').as_bytes()) else {
            return Ok(None);
        };
        preview::preview(&session, &archive, &index, entry).map(Some)
    })
    .await;
    found.unwrap_or(Ok(None))
}

impl qobject::EntryPreview {
    pub fn clear(mut self: Pin<&mut Self>) {
        self.as_mut().rust_mut().requests.stop();
        self.as_mut().set_kind(qobject::Kind::Nothing);
        self.as_mut().set_title(QString::default());
        self.as_mut().set_info(QString::default());
        self.as_mut().set_text(QString::default());
        self.set_image(QString::default());
    }

    pub fn show(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
        path: &QString,
    ) {
        self.as_mut().clear();
        let (config, repository, archive, path) = (
            PathBuf::from(config_path.to_string()),
            repository.to_string(),
            archive.to_string(),
            path.to_string(),
        );
        if archive.is_empty() || repository.is_empty() {
            return;
        }
        let ticket = self.as_mut().rust_mut().requests.next();
        // The name at once, so a slow read does not leave the pane blank.
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        self.as_mut().set_title(QString::from(&name));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let read = read_preview(config, repository, archive, path).await;
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.requests.is_current(ticket) {
                    return;
                }
                match read {
                    Ok(Some(found)) => obj.as_mut().apply(found),
                    Ok(None) => obj.as_mut().set_title(QString::default()),
                    Err(e) => {
                        obj.as_mut().set_kind(qobject::Kind::Failed);
                        obj.as_mut().set_text(QString::from(&e.to_string()));
                    }
                }
            });
        });
    }

    fn apply(mut self: Pin<&mut Self>, found: Preview) {
        self.as_mut().set_title(QString::from(&found.title));
        self.as_mut().set_info(QString::from(&found.info));
        let kind = match found.shown {
            Shown::Folder => qobject::Kind::Folder,
            Shown::Binary => qobject::Kind::Binary,
            Shown::Text(text) => {
                self.as_mut().set_text(QString::from(&text));
                qobject::Kind::Text
            }
            Shown::Link(target) => {
                self.as_mut()
                    .set_text(QString::from(&format!("Link to {target}")));
                qobject::Kind::Link
            }
            Shown::Image(copy) => {
                self.as_mut()
                    .set_image(QString::from(&format!("file://{}", copy.display())));
                qobject::Kind::Image
            }
        };
        self.set_kind(kind);
    }
}
