//! `ArchiveDetails`: what `borg info --json` says about the selected archive.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        #[qproperty(bool, busy)]
        #[qproperty(bool, loaded)]
        #[qproperty(QString, error_text)]
        #[qproperty(QString, archive_name)]
        #[qproperty(QString, created)]
        #[qproperty(QString, duration)]
        #[qproperty(QString, hostname)]
        #[qproperty(QString, username)]
        #[qproperty(QString, file_count)]
        #[qproperty(QString, original_size)]
        #[qproperty(QString, compressed_size)]
        #[qproperty(QString, deduplicated_size)]
        type ArchiveDetails = super::ArchiveDetailsRust;

        /// Loads the details of `archive` in `repository` of the config at `config_path`.
        #[qinvokable]
        fn load(
            self: Pin<&mut ArchiveDetails>,
            config_path: &QString,
            repository: &QString,
            archive: &QString,
        );

        /// Forgets the shown archive.
        #[qinvokable]
        fn clear(self: Pin<&mut ArchiveDetails>);
    }

    impl cxx_qt::Threading for ArchiveDetails {}
}

use crate::config::BorgmaticConfig;
use crate::errors::ErrorKind;
use crate::events::Discard;
use crate::gui::latest::Latest;
use crate::gui::runtime;
use crate::process::archives::{archive_info, ArchiveInfo};
use crate::units::{format_borg_time, format_bytes, format_duration};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::QString;
use std::path::PathBuf;

#[derive(Default)]
pub struct ArchiveDetailsRust {
    busy: bool,
    loaded: bool,
    error_text: QString,
    archive_name: QString,
    created: QString,
    duration: QString,
    hostname: QString,
    username: QString,
    file_count: QString,
    original_size: QString,
    compressed_size: QString,
    deduplicated_size: QString,
    requests: Latest,
}

impl qobject::ArchiveDetails {
    pub fn load(
        mut self: Pin<&mut Self>,
        config_path: &QString,
        repository: &QString,
        archive: &QString,
    ) {
        self.as_mut().clear();
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().set_archive_name(archive.clone());
        self.as_mut().set_busy(true);
        let config_path = PathBuf::from(config_path.to_string());
        let repository = repository.to_string();
        let archive = archive.to_string();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let result = match BorgmaticConfig::load(&config_path) {
                Ok(cfg) => match cfg.repository(&repository) {
                    Some(repo) => archive_info(&cfg, repo, &archive, &Discard, &cancel)
                        .await
                        .map_err(|e| (e.kind(), e.user_message(Some(repo.display_name())))),
                    None => Err((
                        ErrorKind::ConfigInvalid,
                        format!("The config has no repository “{repository}”."),
                    )),
                },
                Err(e) => Err((e.kind(), e.to_string())),
            };
            let _ = qt_thread.queue(move |mut obj| {
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                match result {
                    Ok(info) => obj.as_mut().show(&info),
                    Err((ErrorKind::Cancelled, _)) => {}
                    Err((_, message)) => obj.as_mut().set_error_text(QString::from(&message)),
                }
                obj.set_busy(false);
            });
        });
    }

    pub fn clear(mut self: Pin<&mut Self>) {
        self.as_mut().rust_mut().requests.stop();
        self.as_mut().set_loaded(false);
        self.as_mut().set_busy(false);
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_archive_name(QString::default());
    }

    fn show(mut self: Pin<&mut Self>, info: &ArchiveInfo) {
        self.as_mut().set_archive_name(QString::from(&info.name));
        self.as_mut()
            .set_created(QString::from(&format_borg_time(&info.start)));
        self.as_mut()
            .set_duration(QString::from(&format_duration(info.duration_seconds)));
        self.as_mut().set_hostname(QString::from(&info.hostname));
        self.as_mut().set_username(QString::from(&info.username));
        self.as_mut()
            .set_file_count(QString::from(&info.file_count.to_string()));
        self.as_mut()
            .set_original_size(QString::from(&format_bytes(info.original_size)));
        self.as_mut()
            .set_compressed_size(QString::from(&format_bytes(info.compressed_size)));
        self.as_mut()
            .set_deduplicated_size(QString::from(&format_bytes(info.deduplicated_size)));
        self.set_loaded(true);
    }
}
