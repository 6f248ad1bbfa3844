//! `ConfigEditor`: the settings pages' view of one borgmatic config. Every edit goes through
//! the lossless editing core; Save writes atomically after borgmatic validates; the file is
//! watched so an outside edit reloads the page (or, with unsaved changes, asks).

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qstringlist.h");
        type QStringList = cxx_qt_lib::QStringList;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(QString, config_path)]
        #[qproperty(bool, loaded)]
        #[qproperty(bool, modified)]
        #[qproperty(bool, busy)]
        #[qproperty(bool, external_change)]
        #[qproperty(QString, error_text)]
        #[qproperty(QString, status_text)]
        #[qproperty(QString, compression)]
        #[qproperty(QString, archive_name_format)]
        #[qproperty(QString, ssh_command)]
        #[qproperty(QStringList, retention)]
        #[qproperty(QStringList, source_directories)]
        #[qproperty(QStringList, exclude_patterns)]
        #[qproperty(QStringList, repository_labels)]
        #[qproperty(QStringList, repository_paths)]
        #[qproperty(QStringList, check_names)]
        #[qproperty(QStringList, check_frequencies)]
        #[qproperty(QStringList, on_error)]
        #[qproperty(QString, passphrase_state)]
        type ConfigEditor = super::ConfigEditorRust;

        /// Opens the config at `path` (and starts watching it).
        #[qinvokable]
        fn load(self: Pin<&mut ConfigEditor>, path: &QString);
        /// Checks a value as typed; an empty string means it is fine.
        #[qinvokable]
        fn check(self: &ConfigEditor, key: &QString, text: &QString) -> QString;
        /// Why a key is shown but not edited ("" when it is editable).
        #[qinvokable]
        fn read_only_reason(self: &ConfigEditor, key: &QString) -> QString;
        /// Sets a scalar option (empty removes it). Returns the error, or "".
        #[qinvokable]
        fn set_value(self: Pin<&mut ConfigEditor>, key: &QString, text: &QString) -> QString;
        #[qinvokable]
        fn add_item(self: Pin<&mut ConfigEditor>, key: &QString, text: &QString) -> QString;
        #[qinvokable]
        fn remove_item(self: Pin<&mut ConfigEditor>, key: &QString, text: &QString) -> QString;
        #[qinvokable]
        fn set_repository(
            self: Pin<&mut ConfigEditor>,
            index: i32,
            label: &QString,
            path: &QString,
        ) -> QString;
        #[qinvokable]
        fn add_repository(self: Pin<&mut ConfigEditor>, label: &QString, path: &QString)
            -> QString;
        #[qinvokable]
        fn remove_repository(self: Pin<&mut ConfigEditor>, index: i32) -> QString;
        #[qinvokable]
        fn set_check_frequency(
            self: Pin<&mut ConfigEditor>,
            name: &QString,
            frequency: &QString,
        ) -> QString;
        /// Writes the file (validated by borgmatic, atomically, keeping FILE.bak).
        #[qinvokable]
        fn save(self: Pin<&mut ConfigEditor>);
        /// Drops unsaved changes.
        #[qinvokable]
        fn revert(self: Pin<&mut ConfigEditor>);
        /// After an outside edit: take the file as it is now, dropping unsaved changes.
        #[qinvokable]
        fn reload_from_disk(self: Pin<&mut ConfigEditor>);
        /// After an outside edit: keep editing; Save will overwrite the outside change.
        #[qinvokable]
        fn keep_mine(self: Pin<&mut ConfigEditor>);
        /// Moves the plaintext passphrase into the wallet (verified with borg).
        #[qinvokable]
        fn move_passphrase_to_wallet(self: Pin<&mut ConfigEditor>);
        /// The reverse: the wallet's passphrase back into the file, in plain text.
        #[qinvokable]
        fn move_passphrase_to_file(self: Pin<&mut ConfigEditor>);
        /// Changes every repository's key passphrase, then stores the new one.
        #[qinvokable]
        fn change_passphrase(self: Pin<&mut ConfigEditor>, passphrase: &QString);
    }

    impl cxx_qt::Threading for ConfigEditor {}
}

use crate::config::{
    apply_scalar, check_frequency, check_scalar, save, ConfigDocument, EditError, Editability,
    Settings,
};
use crate::gui::runtime;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QStringList};
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the file is compared with what the page holds.
const WATCH_INTERVAL: Duration = Duration::from_millis(1500);

#[derive(Default)]
pub struct ConfigEditorRust {
    config_path: QString,
    loaded: bool,
    modified: bool,
    busy: bool,
    external_change: bool,
    error_text: QString,
    status_text: QString,
    compression: QString,
    archive_name_format: QString,
    ssh_command: QString,
    retention: QStringList,
    source_directories: QStringList,
    exclude_patterns: QStringList,
    repository_labels: QStringList,
    repository_paths: QStringList,
    check_names: QStringList,
    check_frequencies: QStringList,
    on_error: QStringList,
    passphrase_state: QString,
    /// The text being edited, and the file's text it started from.
    text: String,
    original: String,
    path: PathBuf,
    watcher: Option<CancellationToken>,
}

fn list(items: impl IntoIterator<Item = String>) -> QStringList {
    items.into_iter().map(|s| QString::from(&s)).collect()
}

impl qobject::ConfigEditor {
    fn document(&self) -> Result<ConfigDocument, String> {
        ConfigDocument::parse(&self.path, &self.text).map_err(|e| e.to_string())
    }

    /// Shows `text` (the file's content when `original` is set too).
    fn show(mut self: Pin<&mut Self>, text: String) {
        let path = self.path.clone();
        match ConfigDocument::parse(&path, &text).and_then(|d| Settings::read(&d)) {
            Ok(s) => {
                self.as_mut().set_compression(QString::from(&s.compression));
                self.as_mut()
                    .set_archive_name_format(QString::from(&s.archive_name_format));
                self.as_mut().set_ssh_command(QString::from(&s.ssh_command));
                self.as_mut().set_retention(list(s.retention));
                self.as_mut()
                    .set_source_directories(list(s.source_directories));
                self.as_mut().set_exclude_patterns(list(s.exclude_patterns));
                let (labels, paths): (Vec<_>, Vec<_>) = s.repositories.into_iter().unzip();
                self.as_mut().set_repository_labels(list(labels));
                self.as_mut().set_repository_paths(list(paths));
                let (names, freqs): (Vec<_>, Vec<_>) = s.checks.into_iter().unzip();
                self.as_mut().set_check_names(list(names));
                self.as_mut().set_check_frequencies(list(freqs));
                self.as_mut().set_on_error(list(s.on_error));
                self.as_mut()
                    .set_passphrase_state(QString::from(s.passphrase));
                self.as_mut().rust_mut().text = text;
                let modified = self.text != self.original;
                self.as_mut().set_modified(modified);
                self.as_mut().set_error_text(QString::default());
                self.set_loaded(true);
            }
            Err(e) => {
                self.as_mut().set_error_text(QString::from(&e.to_string()));
                self.set_loaded(false);
            }
        }
    }

    pub fn load(mut self: Pin<&mut Self>, path: &QString) {
        if let Some(w) = self.as_mut().rust_mut().watcher.take() {
            w.cancel();
        }
        let path_buf = PathBuf::from(path.to_string());
        self.as_mut().set_config_path(path.clone());
        self.as_mut().set_external_change(false);
        self.as_mut().set_status_text(QString::default());
        match std::fs::read_to_string(&path_buf) {
            Ok(text) => {
                self.as_mut().rust_mut().path = path_buf.clone();
                self.as_mut().rust_mut().original = text.clone();
                self.as_mut().show(text.clone());
                self.watch(path_buf, text);
            }
            Err(e) => {
                self.as_mut().set_error_text(QString::from(&format!(
                    "cannot read {}: {e}",
                    path_buf.display()
                )));
                self.set_loaded(false);
            }
        }
    }

    /// Polls the file; an outside change reloads a clean page, or raises `externalChange`.
    fn watch(mut self: Pin<&mut Self>, path: PathBuf, mut last_seen: String) {
        let token = CancellationToken::new();
        self.as_mut().rust_mut().watcher = Some(token.clone());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(WATCH_INTERVAL) => {}
                }
                let Ok(now) = tokio::fs::read_to_string(&path).await else {
                    continue;
                };
                if now == last_seen {
                    continue;
                }
                last_seen = now.clone();
                let watched = path.clone();
                let delivered = qt_thread.queue(move |mut obj| {
                    if obj.path != watched || now == obj.original {
                        return;
                    }
                    if obj.modified {
                        obj.as_mut().set_external_change(true);
                    } else {
                        obj.as_mut().rust_mut().original = now.clone();
                        obj.as_mut().show(now);
                        obj.set_status_text(QString::from(
                            "Reloaded: the file was changed outside Kastell.",
                        ));
                    }
                });
                if delivered.is_err() {
                    return; // the page is gone
                }
            }
        });
    }

    pub fn check(&self, key: &QString, text: &QString) -> QString {
        let key = key.to_string();
        let text = text.to_string();
        let result = if key == "frequency" {
            check_frequency(&text)
        } else {
            check_scalar(&key, &text).map(|_| ())
        };
        QString::from(&result.err().unwrap_or_default())
    }

    pub fn read_only_reason(&self, key: &QString) -> QString {
        match self.document().map(|d| d.editability(&key.to_string())) {
            Ok(Editability::ReadOnly(reason)) => QString::from(&reason),
            _ => QString::default(),
        }
    }

    /// Runs one edit on the document and shows the result; returns the error text.
    fn edit(
        mut self: Pin<&mut Self>,
        f: impl FnOnce(&mut ConfigDocument) -> Result<(), String>,
    ) -> QString {
        let mut doc = match self.document() {
            Ok(d) => d,
            Err(e) => return QString::from(&e),
        };
        match f(&mut doc) {
            Ok(()) => {
                self.as_mut().set_status_text(QString::default());
                self.show(doc.text());
                QString::default()
            }
            Err(e) => QString::from(&e),
        }
    }

    pub fn set_value(self: Pin<&mut Self>, key: &QString, text: &QString) -> QString {
        let (key, text) = (key.to_string(), text.to_string());
        self.edit(|d| apply_scalar(d, &key, &text))
    }

    pub fn add_item(self: Pin<&mut Self>, key: &QString, text: &QString) -> QString {
        let (key, text) = (key.to_string(), text.to_string().trim().to_string());
        if text.is_empty() {
            return QString::from("type something first");
        }
        self.edit(|d| {
            d.list_add(&key, &text)
                .map(|_| ())
                .map_err(|e: EditError| e.to_string())
        })
    }

    pub fn remove_item(self: Pin<&mut Self>, key: &QString, text: &QString) -> QString {
        let (key, text) = (key.to_string(), text.to_string());
        self.edit(|d| {
            d.list_remove(&key, &text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    pub fn set_repository(
        self: Pin<&mut Self>,
        index: i32,
        label: &QString,
        path: &QString,
    ) -> QString {
        let (label, path) = (label.to_string(), path.to_string());
        let Ok(index) = usize::try_from(index) else {
            return QString::from("no such repository");
        };
        self.edit(|d| {
            let label = label.trim();
            let others = d.config().map_err(|e| e.to_string())?;
            if !label.is_empty()
                && others
                    .repositories
                    .iter()
                    .enumerate()
                    .any(|(i, r)| i != index && r.label.as_deref() == Some(label))
            {
                return Err(format!("another repository is already labelled “{label}”"));
            }
            d.set_repository_field(index, "path", Some(path.trim()))
                .map_err(|e| e.to_string())?;
            let label = (!label.is_empty()).then_some(label);
            d.set_repository_field(index, "label", label)
                .map_err(|e| e.to_string())
        })
    }

    pub fn add_repository(self: Pin<&mut Self>, label: &QString, path: &QString) -> QString {
        let (label, path) = (label.to_string(), path.to_string());
        self.edit(|d| {
            let label = label.trim();
            d.add_repository(path.trim(), (!label.is_empty()).then_some(label))
                .map_err(|e| e.to_string())
        })
    }

    pub fn remove_repository(self: Pin<&mut Self>, index: i32) -> QString {
        let Ok(index) = usize::try_from(index) else {
            return QString::from("no such repository");
        };
        self.edit(|d| d.remove_repository(index).map_err(|e| e.to_string()))
    }

    pub fn set_check_frequency(
        self: Pin<&mut Self>,
        name: &QString,
        frequency: &QString,
    ) -> QString {
        let (name, frequency) = (name.to_string(), frequency.to_string().trim().to_string());
        self.edit(|d| {
            if frequency.is_empty() {
                return d
                    .set_check_frequency(&name, None)
                    .map_err(|e| e.to_string());
            }
            check_frequency(&frequency)?;
            d.set_check_frequency(&name, Some(&frequency))
                .map_err(|e| e.to_string())
        })
    }

    pub fn save(mut self: Pin<&mut Self>) {
        let doc_text = self.text.clone();
        let original = self.original.clone();
        let path = self.path.clone();
        self.as_mut().set_busy(true);
        self.as_mut().set_status_text(QString::from("Saving…"));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let saving = doc_text.clone();
            // Save against the text the page started from, so an unseen outside edit is refused.
            let result = tokio::task::spawn_blocking(move || {
                let doc =
                    ConfigDocument::edited(&path, &original, &saving).map_err(|e| e.to_string())?;
                save(&doc).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            let _ = qt_thread.queue(move |mut obj| {
                obj.as_mut().set_busy(false);
                match result {
                    Ok(outcome) => {
                        obj.as_mut().rust_mut().original = doc_text.clone();
                        obj.as_mut().show(doc_text);
                        let note = match outcome.backup {
                            Some(b) => {
                                format!("Saved. The previous version is in {}.", b.display())
                            }
                            None => "Saved.".into(),
                        };
                        obj.as_mut().set_external_change(false);
                        obj.set_status_text(QString::from(&note));
                    }
                    Err(e) => {
                        obj.as_mut().set_status_text(QString::default());
                        obj.set_error_text(QString::from(&e));
                    }
                }
            });
        });
    }

    pub fn revert(mut self: Pin<&mut Self>) {
        let original = self.original.clone();
        self.as_mut()
            .set_status_text(QString::from("Unsaved changes dropped."));
        self.show(original);
    }

    pub fn reload_from_disk(mut self: Pin<&mut Self>) {
        let path = QString::from(&self.path.display().to_string());
        self.as_mut().load(&path);
        self.set_status_text(QString::from(
            "Reloaded from disk; your unsaved changes were dropped.",
        ));
    }

    pub fn keep_mine(mut self: Pin<&mut Self>) {
        if let Ok(now) = std::fs::read_to_string(&self.path) {
            self.as_mut().rust_mut().original = now;
        }
        self.as_mut().set_external_change(false);
        self.set_status_text(QString::from(
            "Keeping your changes: Save will replace the outside edit.",
        ));
    }

    /// Runs a passphrase operation in the background, then reloads the page and reports.
    fn passphrase_job<F>(mut self: Pin<&mut Self>, working: &str, job: F)
    where
        F: std::future::Future<Output = Result<String, String>> + Send + 'static,
    {
        if self.modified {
            self.set_error_text(QString::from("Save or revert your changes first."));
            return;
        }
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_status_text(QString::from(working));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let result = job.await;
            let _ = qt_thread.queue(move |mut obj| {
                obj.as_mut().set_busy(false);
                let p = QString::from(&obj.path.display().to_string());
                obj.as_mut().load(&p);
                match result {
                    Ok(report) => obj.set_status_text(QString::from(&report)),
                    Err(e) => {
                        obj.as_mut().set_status_text(QString::default());
                        obj.set_error_text(QString::from(&e));
                    }
                }
            });
        });
    }

    pub fn move_passphrase_to_wallet(self: Pin<&mut Self>) {
        let path = self.path.clone();
        self.passphrase_job(
            "Moving the passphrase into the wallet and checking it with borg…",
            async move {
                let kastell = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kastell"));
                let report = crate::credentials::passphrase::to_wallet(&path, &kastell)
                    .await
                    .map_err(|e| e.to_string())?;
                let checks: Vec<String> = report.checks.iter().map(|c| c.describe()).collect();
                Ok(format!(
                    "The passphrase is now kept in the wallet. {}",
                    checks.join("; ")
                ))
            },
        );
    }

    pub fn move_passphrase_to_file(self: Pin<&mut Self>) {
        let path = self.path.clone();
        self.passphrase_job("Writing the passphrase back into the file…", async move {
            crate::credentials::passphrase::from_wallet(&path)
                .await
                .map_err(|e| e.to_string())?;
            Ok(
                "The passphrase is in the file again (plain text); the wallet entry is gone."
                    .into(),
            )
        });
    }

    pub fn change_passphrase(self: Pin<&mut Self>, passphrase: &QString) {
        let path = self.path.clone();
        let new = crate::config::Secret::new(passphrase.to_string());
        if new.expose().is_empty() {
            return;
        }
        self.passphrase_job("Changing the passphrase of every repository…", async move {
            let report = crate::credentials::passphrase::change(&path, &new)
                .await
                .map_err(|e| e.to_string())?;
            Ok(report.describe().replace('\n', " "))
        });
    }
}
