//! `Recovery`: *Restore from an existing backup* in the window, on the core's
//! `setup::recover` (the same steps as `kastell recover` and `kastell adopt`): the repository,
//! its key (a key file, a paper key typed in, or none for repokey) and the passphrase; the
//! archives newest first; everything or chosen folders restored and checked; then, if the
//! person wants, a config that goes on backing up into the same repository.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qstringlist.h");
        type QStringList = cxx_qt_lib::QStringList;
        include!("cxx-qt-lib/qlist.h");
        type QList_QVariant = cxx_qt_lib::QList<cxx_qt_lib::QVariant>;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(bool, busy)]
        /// The repository opened with the key and the passphrase.
        #[qproperty(bool, opened)]
        /// The archives, newest first: `{name, time}` (local time).
        #[qproperty(QList_QVariant, archives)]
        /// The chosen archive's top folders: `{path, sizeText}` ("12 files, 3.4 MB").
        #[qproperty(QList_QVariant, folders)]
        /// Restoring: the share done (0–1).
        #[qproperty(f64, progress)]
        #[qproperty(bool, restored)]
        /// What was restored and what the check found.
        #[qproperty(QString, summary_text)]
        /// The folder the home came back into (the home folder by default).
        #[qproperty(QString, default_target)]
        /// The config written by `adopt` ("" until then).
        #[qproperty(QString, adopted_config)]
        #[qproperty(QString, error_text)]
        /// A `Failure` kind.
        #[qproperty(i32, error_kind)]
        type Recovery = super::RecoveryRust;

        /// Opens the repository at `location` with the key file, or the typed paper key, or
        /// (both empty) the repository's own key, and lists its archives.
        #[qinvokable]
        fn open(
            self: Pin<&mut Recovery>,
            location: &QString,
            key_file: &QString,
            paper_key: &QString,
            passphrase: &QString,
        );

        /// Lists what `archive` holds, for choosing folders.
        #[qinvokable]
        fn choose_archive(self: Pin<&mut Recovery>, archive: &QString);

        /// Restores `folders` of `archive` (all of it when empty) under `to`, and checks it.
        #[qinvokable]
        fn restore(
            self: Pin<&mut Recovery>,
            archive: &QString,
            folders: &QStringList,
            to: &QString,
        );

        #[qinvokable]
        fn cancel(self: Pin<&mut Recovery>);

        /// Writes a config that backs the home up into this same repository (its key imported,
        /// the passphrase in the wallet).
        #[qinvokable]
        fn adopt(self: Pin<&mut Recovery>);
    }

    impl cxx_qt::Threading for Recovery {}
}

use crate::config::Secret;
use crate::gui::bridge::failure;
use crate::gui::bridge::schedule_settings::capitalized;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::setup::recover::{
    self, ArchiveChoice, FolderChoice, KeySource, Opened, RecoverError, Summary,
};
use crate::setup::{self, layout, Destination, Encryption, Plan};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QList, QString, QStringList, QVariant};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

pub struct RecoveryRust {
    busy: bool,
    opened: bool,
    archives: QList<QVariant>,
    folders: QList<QVariant>,
    progress: f64,
    restored: bool,
    summary_text: QString,
    default_target: QString,
    adopted_config: QString,
    error_text: QString,
    error_kind: i32,
    repository: Option<Arc<Opened>>,
    cancel: CancellationToken,
}

impl Default for RecoveryRust {
    fn default() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
        RecoveryRust {
            busy: false,
            opened: false,
            archives: QList::default(),
            folders: QList::default(),
            progress: 0.0,
            restored: false,
            summary_text: QString::default(),
            // borg extract lays the archive out as it was (home/me/...): restored under `/`
            // it comes back where it was; the default is a folder beside it, safe to look at.
            default_target: QString::from(&home.join("Restored").display().to_string()),
            adopted_config: QString::default(),
            error_text: QString::default(),
            error_kind: failure::code(None),
            repository: None,
            cancel: CancellationToken::new(),
        }
    }
}

impl Row for ArchiveChoice {
    const ROLES: &'static [&'static str] = &["name", "time"];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => self.name.clone(),
            _ => crate::units::format_borg_time(&self.time),
        };
        QVariant::from(&QString::from(&text))
    }
}

impl Row for FolderChoice {
    const ROLES: &'static [&'static str] = &["path", "sizeText"];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => self.path.clone(),
            _ => format!(
                "{} files, {}",
                crate::units::format_count(self.files),
                crate::units::format_bytes(self.bytes)
            ),
        };
        QVariant::from(&QString::from(&text))
    }
}

/// The summary a person reads after the restore.
fn describe(summary: &Summary, chosen: bool, to: &str) -> String {
    let what = match chosen {
        true => "the chosen folders",
        false => "everything",
    };
    let outcome = match summary.problem_count {
        0 => "",
        _ => ", with problems",
    };
    let mut text = format!(
        "Restored {what} from {}{outcome} into {to}: {} files ({}), {} folders, {} links.\nChecked against the archive: every file's size, and {} chunks of content.",
        summary.archive,
        crate::units::format_count(summary.files),
        crate::units::format_bytes(summary.bytes),
        crate::units::format_count(summary.folders),
        crate::units::format_count(summary.links),
        crate::units::format_count(summary.chunks_checked),
    );
    for problem in &summary.problems {
        text.push_str(&format!("\nProblem: {problem}"));
    }
    if summary.problem_count > summary.problems.len() as u64 {
        text.push_str(&format!(
            "\n… and {} more problems",
            summary.problem_count - summary.problems.len() as u64
        ));
    }
    text
}

impl qobject::Recovery {
    fn fail(mut self: Pin<&mut Self>, error: &RecoverError) {
        self.as_mut().set_busy(false);
        self.as_mut()
            .set_error_text(QString::from(&capitalized(&crate::errors::report(error))));
        self.set_error_kind(failure::code(Some(error.kind())));
    }

    fn start(mut self: Pin<&mut Self>) -> bool {
        if self.busy {
            return false;
        }
        self.as_mut().set_busy(true);
        self.as_mut().set_error_text(QString::default());
        self.set_error_kind(failure::code(None));
        true
    }

    pub fn open(
        mut self: Pin<&mut Self>,
        location: &QString,
        key_file: &QString,
        paper_key: &QString,
        passphrase: &QString,
    ) {
        if !self.as_mut().start() {
            return;
        }
        self.as_mut().rust_mut().repository = None;
        self.as_mut().set_opened(false);
        self.as_mut().set_restored(false);
        self.as_mut().set_archives(QList::default());
        self.as_mut().set_folders(QList::default());
        let location = location.to_string().trim().to_string();
        let key = match (key_file.to_string().trim(), paper_key.to_string()) {
            ("", paper) if paper.trim().is_empty() => KeySource::InRepository,
            ("", paper) => KeySource::Paper(paper),
            (file, _) => KeySource::File(PathBuf::from(file)),
        };
        let passphrase = Secret::new(passphrase.to_string());
        let ssh_command = location
            .starts_with("ssh://")
            .then(|| setup::ssh_command(&setup::ssh::key_path(), &setup::ssh::known_hosts_path()));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let opened = async {
                let opened =
                    recover::open(&location, &key, &passphrase, ssh_command.as_deref()).await?;
                let archives = opened.archives().await?;
                if archives.is_empty() {
                    return Err(RecoverError::NoArchives);
                }
                Ok((opened, archives))
            }
            .await;
            let _ = qt_thread.queue(move |mut obj| match opened {
                Ok((repository, archives)) => {
                    obj.as_mut().rust_mut().repository = Some(Arc::new(repository));
                    obj.as_mut()
                        .set_archives(list_rows::variant_list(&archives));
                    obj.as_mut().set_busy(false);
                    obj.set_opened(true);
                }
                Err(e) => obj.fail(&e),
            });
        });
    }

    pub fn choose_archive(mut self: Pin<&mut Self>, archive: &QString) {
        let Some(repository) = self.repository.clone() else {
            return;
        };
        if !self.as_mut().start() {
            return;
        }
        self.as_mut().set_folders(QList::default());
        let archive = archive.to_string();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let folders = tokio::task::spawn_blocking(move || repository.folders(&archive))
                .await
                .unwrap_or_else(|e| {
                    Err(RecoverError::Check(crate::reader::ReadError::corrupt(
                        e.to_string(),
                    )))
                });
            let _ = qt_thread.queue(move |mut obj| match folders {
                Ok(folders) => {
                    obj.as_mut().set_folders(list_rows::variant_list(&folders));
                    obj.set_busy(false);
                }
                Err(e) => obj.fail(&e),
            });
        });
    }

    pub fn restore(
        mut self: Pin<&mut Self>,
        archive: &QString,
        folders: &QStringList,
        to: &QString,
    ) {
        let Some(repository) = self.repository.clone() else {
            return;
        };
        let to = to.to_string().trim().to_string();
        if to.is_empty() {
            return;
        }
        if !self.as_mut().start() {
            return;
        }
        self.as_mut().set_restored(false);
        self.as_mut().set_progress(0.0);
        self.as_mut().set_summary_text(QString::default());
        let cancel = CancellationToken::new();
        self.as_mut().rust_mut().cancel = cancel.clone();
        let archive = archive.to_string();
        let paths: Vec<String> = folders.iter().map(|f| f.to_string()).collect();
        let chosen = !paths.is_empty();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let progress_thread = qt_thread.clone();
            let throttle = Throttle::new(UI_INTERVAL);
            let progress = move |fraction: f64| {
                if throttle.ready() {
                    let _ = progress_thread.queue(move |obj| obj.set_progress(fraction));
                }
            };
            let target = PathBuf::from(&to);
            let done = repository
                .restore(&archive, &paths, &target, &progress, &cancel)
                .await;
            let _ = qt_thread.queue(move |mut obj| match done {
                Ok(summary) => {
                    obj.as_mut().set_progress(1.0);
                    obj.as_mut()
                        .set_summary_text(QString::from(&describe(&summary, chosen, &to)));
                    obj.as_mut().set_busy(false);
                    obj.set_restored(true);
                }
                Err(e) => obj.fail(&e),
            });
        });
    }

    pub fn cancel(self: Pin<&mut Self>) {
        self.cancel.cancel();
    }

    pub fn adopt(mut self: Pin<&mut Self>) {
        let Some(repository) = self.repository.clone() else {
            return;
        };
        if !self.as_mut().start() {
            return;
        }
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
        let folder = dirs::config_dir()
            .unwrap_or_else(|| home.join(".config"))
            .join("borgmatic");
        let location = repository.location().to_string();
        let label = match location.starts_with("ssh://") {
            true => "nas",
            false => "local",
        }
        .to_string();
        let plan = Plan {
            config: setup::free_config_path(&folder),
            sources: vec![home],
            presets: layout::DEFAULT_PRESETS.to_vec(),
            destinations: vec![Destination {
                label: label.clone(),
                location: location.clone(),
            }],
            encryption: Encryption::KeyfileBlake2,
            export_to: None,
            passphrase: repository.passphrase().clone(),
            kastell: crate::process::windowless_program(),
            ssh_command: location.starts_with("ssh://").then(|| {
                setup::ssh_command(&setup::ssh::key_path(), &setup::ssh::known_hosts_path())
            }),
            import_keys: repository
                .key_file()
                .map(|key| vec![(label, key)])
                .unwrap_or_default(),
            existing_only: true,
        };
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let done = setup::run_setup(&plan, &mut |_| {}).await;
            // The repository stays open in this object until the import above is done.
            drop(repository);
            let _ = qt_thread.queue(move |mut obj| match done {
                Ok(()) => {
                    obj.as_mut().set_busy(false);
                    obj.set_adopted_config(QString::from(&plan.config.display().to_string()));
                }
                Err(e) => {
                    let kind = e.kind();
                    obj.as_mut().set_busy(false);
                    obj.as_mut()
                        .set_error_text(QString::from(&capitalized(&crate::errors::report(&e))));
                    obj.set_error_kind(failure::code(Some(kind)));
                }
            });
        });
    }
}
