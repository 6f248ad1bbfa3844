//! `SetupWizard`: the first-run wizard's work, on the core's `setup` (the same steps as
//! `kastell setup` and `kastell ssh`): a Diceware passphrase, the SSH key and the server's
//! authorized_keys line, the host key by fingerprint, the connection test, then the
//! repositories created with the key exported and checked, and the daily schedule.

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
        #[qproperty(bool, busy)]
        /// The config the wizard writes (`~/.config/borgmatic/user.yaml` or a free name).
        #[qproperty(QString, config_path)]
        #[qproperty(QString, home)]
        /// The default local destination.
        #[qproperty(QString, default_local)]
        /// The generated passphrase (shown once).
        #[qproperty(QString, passphrase)]
        #[qproperty(QString, entropy_text)]
        /// The line for the server's `authorized_keys`.
        #[qproperty(QString, authorized_line)]
        /// The server's host key fingerprint (`SHA256:…`) and its kind, to confirm.
        #[qproperty(QString, fingerprint)]
        /// The connection test's words, and whether borg can go on.
        #[qproperty(QString, ssh_status)]
        #[qproperty(bool, ssh_ok)]
        /// The connection test found a repository at the server's path.
        #[qproperty(bool, ssh_existing)]
        /// The exported keys' pages to print (`--qr-html`), once created.
        #[qproperty(QStringList, print_pages)]
        /// What creating did so far, a step a line.
        #[qproperty(QString, log_text)]
        #[qproperty(bool, created)]
        #[qproperty(QString, error_text)]
        /// A `Failure` kind.
        #[qproperty(i32, error_kind)]
        type SetupWizard = super::SetupWizardRust;

        /// A fresh start: a free config name, a new passphrase, nothing created yet.
        #[qinvokable]
        fn reset(self: Pin<&mut SetupWizard>);

        /// Draws a new seven-word passphrase.
        #[qinvokable]
        fn generate_passphrase(self: Pin<&mut SetupWizard>);

        /// Makes the SSH key if missing, the server's line for `path`, and reads the server's
        /// host key.
        #[qinvokable]
        fn prepare_ssh(
            self: Pin<&mut SetupWizard>,
            user: &QString,
            host: &QString,
            port: i32,
            path: &QString,
        );

        /// Trusts the host key the person confirmed.
        #[qinvokable]
        fn trust_host(self: Pin<&mut SetupWizard>, host: &QString, port: i32);

        /// Tries the server as borg will.
        #[qinvokable]
        fn test_ssh(
            self: Pin<&mut SetupWizard>,
            user: &QString,
            host: &QString,
            port: i32,
            path: &QString,
        );

        /// Writes the config, keeps the passphrase in the wallet, imports the keys of existing
        /// repositories (`imports`: `label=key file` each), creates the others
        /// (`destinations`: `label=location` each), exports every key into `key_folder` (""
        /// when the person chose not to save them) and checks it.
        #[qinvokable]
        fn create(
            self: Pin<&mut SetupWizard>,
            imports: &QStringList,
            sources: &QStringList,
            destinations: &QStringList,
            keyfile: bool,
            passphrase: &QString,
            key_folder: &QString,
        );

        /// Whether `folder` holds a borg repository already.
        #[qinvokable]
        fn repository_at(self: &SetupWizard, folder: &QString) -> bool;

        /// The daily backup at noon on mains power, and the tray at login if `tray`.
        #[qinvokable]
        fn schedule_daily(self: Pin<&mut SetupWizard>, tray: bool);

        /// The config text the wizard would write for `source` (a placeholder repository), for
        /// the exclude preview's live totals.
        #[qinvokable]
        fn draft_config(self: &SetupWizard, source: &QString) -> QString;

        /// `ssh://user@host:port/path`.
        #[qinvokable]
        fn ssh_location(
            self: &SetupWizard,
            user: &QString,
            host: &QString,
            port: i32,
            path: &QString,
        ) -> QString;
    }

    impl cxx_qt::Threading for SetupWizard {}
}

use crate::config::Secret;
use crate::gui::bridge::failure;
use crate::gui::bridge::schedule_settings::capitalized;
use crate::gui::runtime;
use crate::setup::{self, layout, passphrase, ssh, Destination, Encryption, Plan, Step};
use core::pin::Pin;
use cxx_qt::Threading;
use cxx_qt_lib::{QString, QStringList};
use std::path::PathBuf;

pub struct SetupWizardRust {
    busy: bool,
    config_path: QString,
    home: QString,
    default_local: QString,
    passphrase: QString,
    entropy_text: QString,
    authorized_line: QString,
    fingerprint: QString,
    ssh_status: QString,
    ssh_ok: bool,
    ssh_existing: bool,
    print_pages: QStringList,
    log_text: QString,
    created: bool,
    error_text: QString,
    error_kind: i32,
}

impl Default for SetupWizardRust {
    fn default() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("/"));
        let folder = dirs::config_dir()
            .unwrap_or_else(|| home.join(".config"))
            .join("borgmatic");
        SetupWizardRust {
            busy: false,
            config_path: QString::from(&setup::free_config_path(&folder).display().to_string()),
            home: QString::from(&home.display().to_string()),
            default_local: QString::from(&home.join("Backups/borg").display().to_string()),
            passphrase: QString::default(),
            entropy_text: QString::from(&format!(
                "{} words from a list of {}: about {:.0} bits, as strong as a random 14-character password of letters, digits and symbols.",
                passphrase::DEFAULT_WORDS,
                passphrase::WORDS_IN_LIST,
                passphrase::entropy_bits(passphrase::DEFAULT_WORDS)
            )),
            authorized_line: QString::default(),
            fingerprint: QString::default(),
            ssh_status: QString::default(),
            ssh_ok: false,
            ssh_existing: false,
            print_pages: QStringList::default(),
            log_text: QString::default(),
            created: false,
            error_text: QString::default(),
            error_kind: failure::code(None),
        }
    }
}

fn location(user: &str, host: &str, port: i32, path: &str) -> String {
    let port = match port {
        22 | 0 => String::new(),
        p => format!(":{p}"),
    };
    let user = match user.trim() {
        "" => String::new(),
        u => format!("{u}@"),
    };
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/./{path}")
    };
    format!("ssh://{user}{}{port}{path}", host.trim())
}

fn port_of(port: i32) -> u16 {
    u16::try_from(port).ok().filter(|p| *p > 0).unwrap_or(22)
}

impl qobject::SetupWizard {
    fn fail(mut self: Pin<&mut Self>, text: String, kind: Option<crate::errors::ErrorKind>) {
        self.as_mut().set_busy(false);
        self.as_mut().set_error_text(QString::from(&text));
        self.set_error_kind(failure::code(kind));
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

    pub fn reset(mut self: Pin<&mut Self>) {
        if self.busy {
            return;
        }
        let fresh = SetupWizardRust::default();
        self.as_mut().set_config_path(fresh.config_path);
        self.as_mut().set_created(false);
        self.as_mut().set_log_text(QString::default());
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_ssh_status(QString::default());
        self.as_mut().set_ssh_ok(false);
        self.as_mut().set_ssh_existing(false);
        self.as_mut().set_print_pages(QStringList::default());
        self.as_mut().set_authorized_line(QString::default());
        self.as_mut().set_fingerprint(QString::default());
        self.generate_passphrase();
    }

    pub fn generate_passphrase(mut self: Pin<&mut Self>) {
        match passphrase::generate(passphrase::DEFAULT_WORDS) {
            Ok(made) => self.set_passphrase(QString::from(made.expose())),
            Err(e) => self.as_mut().fail(e.to_string(), None),
        }
    }

    pub fn draft_config(&self, source: &QString) -> QString {
        let config = PathBuf::from(self.config_path.to_string());
        let sources = [PathBuf::from(source.to_string())];
        let destinations = [Destination {
            label: "draft".into(),
            location: "/nonexistent/kastell-draft".into(),
        }];
        QString::from(&layout::config_text(&layout::Layout {
            config: &config,
            sources: &sources,
            presets: layout::DEFAULT_PRESETS,
            destinations: &destinations,
            passcommand: "true",
            ssh_command: None,
            continues_existing: false,
        }))
    }

    pub fn ssh_location(
        &self,
        user: &QString,
        host: &QString,
        port: i32,
        path: &QString,
    ) -> QString {
        QString::from(&location(
            &user.to_string(),
            &host.to_string(),
            port,
            &path.to_string(),
        ))
    }

    pub fn prepare_ssh(
        mut self: Pin<&mut Self>,
        _user: &QString,
        host: &QString,
        port: i32,
        path: &QString,
    ) {
        if !self.as_mut().start() {
            return;
        }
        let (host, path) = (host.to_string(), path.to_string());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let prepared = async {
                ssh::ensure_borg_folders()?;
                let public = ssh::ensure_key(&ssh::key_path()).await?;
                let keys = ssh::scan_host(host.trim(), port_of(port)).await?;
                let key = keys
                    .iter()
                    .find(|k| k.kind == "ED25519")
                    .or(keys.first())
                    .cloned();
                Ok::<_, ssh::SshError>((ssh::authorized_keys_line(&public, &path), key))
            }
            .await;
            let _ = qt_thread.queue(move |mut obj| match prepared {
                Ok((line, key)) => {
                    obj.as_mut().set_busy(false);
                    obj.as_mut().set_authorized_line(QString::from(&line));
                    let shown = key
                        .map(|k| format!("{} {}", k.kind, k.fingerprint))
                        .unwrap_or_default();
                    obj.set_fingerprint(QString::from(&shown));
                }
                Err(e) => obj.fail(e.to_string(), Some(crate::errors::ErrorKind::Unreachable)),
            });
        });
    }

    pub fn trust_host(mut self: Pin<&mut Self>, host: &QString, port: i32) {
        let shown = self.fingerprint.to_string();
        let Some(fingerprint) = shown.split_whitespace().nth(1).map(str::to_string) else {
            return;
        };
        if !self.as_mut().start() {
            return;
        }
        let host = host.to_string();
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let trusted = ssh::trust(
                &ssh::known_hosts_path(),
                host.trim(),
                port_of(port),
                &fingerprint,
            )
            .await;
            let _ = qt_thread.queue(move |mut obj| match trusted {
                Ok(key) => {
                    obj.as_mut().set_busy(false);
                    obj.set_ssh_status(QString::from(&format!(
                        "Trusted the server's {} key {}.",
                        key.kind, key.fingerprint
                    )));
                }
                Err(e) => obj.fail(e.to_string(), Some(crate::errors::ErrorKind::Refused)),
            });
        });
    }

    pub fn test_ssh(
        mut self: Pin<&mut Self>,
        user: &QString,
        host: &QString,
        port: i32,
        path: &QString,
    ) {
        if !self.as_mut().start() {
            return;
        }
        let at = location(
            &user.to_string(),
            &host.to_string(),
            port,
            &path.to_string(),
        );
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let command = setup::ssh_command(&ssh::key_path(), &ssh::known_hosts_path());
            let tested = async {
                let tools = crate::process::Tools::detect()
                    .await
                    .map_err(|e| e.to_string())?;
                ssh::test_connection(&tools, &command, &at)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                obj.as_mut().set_busy(false);
                let existing = matches!(tested, Ok(ssh::Connection::RepositoryThere));
                let (ok, words) = match tested {
                    Ok(ssh::Connection::ReadyForNew) => {
                        (true, "Connected: the server is ready for a new repository.".to_string())
                    }
                    Ok(ssh::Connection::RepositoryThere) => (
                        true,
                        "Connected: a repository is already there; Kastell uses it if your passphrase opens it."
                            .to_string(),
                    ),
                    Ok(ssh::Connection::Problem(p)) => (false, capitalized(&p.describe())),
                    Err(e) => (false, e),
                };
                obj.as_mut().set_ssh_ok(ok);
                obj.as_mut().set_ssh_existing(existing);
                obj.set_ssh_status(QString::from(&words));
            });
        });
    }

    pub fn repository_at(&self, folder: &QString) -> bool {
        setup::holds_repository(std::path::Path::new(folder.to_string().trim()))
    }

    pub fn create(
        mut self: Pin<&mut Self>,
        imports: &QStringList,
        sources: &QStringList,
        destinations: &QStringList,
        keyfile: bool,
        passphrase: &QString,
        key_folder: &QString,
    ) {
        let import_keys: Vec<(String, PathBuf)> = imports
            .iter()
            .filter_map(|i| {
                let text = i.to_string();
                let (label, key) = text.split_once('=')?;
                (!key.trim().is_empty()).then(|| (label.to_string(), PathBuf::from(key.trim())))
            })
            .collect();
        let destinations: Vec<Destination> = destinations
            .iter()
            .filter_map(|d| {
                let text = d.to_string();
                let (label, location) = text.split_once('=')?;
                (!location.trim().is_empty()).then(|| Destination {
                    label: label.to_string(),
                    location: location.trim().to_string(),
                })
            })
            .collect();
        let key_folder = key_folder.to_string();
        if !self.as_mut().start() {
            return;
        }
        self.as_mut().set_log_text(QString::default());
        let plan = Plan {
            config: PathBuf::from(self.config_path.to_string()),
            sources: sources
                .iter()
                .map(|s| PathBuf::from(s.to_string()))
                .collect(),
            presets: layout::DEFAULT_PRESETS.to_vec(),
            destinations,
            encryption: if keyfile {
                Encryption::KeyfileBlake2
            } else {
                Encryption::RepokeyBlake2
            },
            export_to: (!key_folder.trim().is_empty()).then(|| PathBuf::from(key_folder.trim())),
            passphrase: Secret::new(passphrase.to_string()),
            kastell: crate::process::windowless_program(),
            ssh_command: Some(setup::ssh_command(
                &ssh::key_path(),
                &ssh::known_hosts_path(),
            )),
            import_keys,
            existing_only: false,
        };
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let step_thread = qt_thread.clone();
            let mut told = move |step: Step| {
                let line = step.describe();
                let page = match &step {
                    Step::PrintableKey { path, .. }
                        if path.extension().is_some_and(|e| e == "html") =>
                    {
                        Some(path.display().to_string())
                    }
                    _ => None,
                };
                let _ = step_thread.queue(move |mut obj| {
                    let text = format!("{}{}\n", obj.log_text, capitalized(&line));
                    obj.as_mut().set_log_text(QString::from(&text));
                    if let Some(page) = page {
                        let mut pages = obj.print_pages.clone();
                        pages.append(QString::from(&page));
                        obj.as_mut().set_print_pages(pages);
                    }
                });
            };
            let done = setup::run_setup(&plan, &mut told).await;
            if done.is_ok() && plan.export_to.is_none() {
                let _ = crate::preferences::remember_keys_not_saved(&plan.config);
            }
            let _ = qt_thread.queue(move |mut obj| match done {
                Ok(()) => {
                    obj.as_mut().set_busy(false);
                    obj.set_created(true);
                }
                Err(e) => {
                    let kind = e.kind();
                    obj.fail(crate::errors::report(&e), Some(kind));
                }
            });
        });
    }

    pub fn schedule_daily(mut self: Pin<&mut Self>, tray: bool) {
        if !self.as_mut().start() {
            return;
        }
        let config = PathBuf::from(self.config_path.to_string());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let set = crate::schedule::set(crate::schedule::Schedule {
                config,
                calendar: crate::schedule::DEFAULT_CALENDAR.to_string(),
                ac_power_only: true,
                skip_metered: false,
                drive: None,
            })
            .await;
            let autostart = crate::desktop::tray::set_autostart(tray);
            let _ = qt_thread.queue(move |obj| match (set, autostart) {
                (Ok(_), Ok(())) => obj.set_busy(false),
                (Err(e), _) => {
                    let kind = e.kind();
                    obj.fail(crate::errors::report(&e), Some(kind));
                }
                (_, Err(e)) => obj.fail(e.to_string(), None),
            });
        });
    }
}
