//! From nothing to backed-up repositories with a saved key (the first-run wizard and
//! `kastell setup`), and back after a disaster (`kastell recover`). Everything that writes a
//! repository goes through borgmatic; the passphrase goes into the wallet and the config gets
//! Kastell's passcommand, never the plaintext.
//!
//! - `passphrase.rs`: seven Diceware words from the EFF large list.
//! - `layout.rs`: the config text in the guide's layout.
//! - `keys.rs`: `key export` into the chosen folder, and its verification.
//! - `recover.rs`: an archive back from a repository, a key file and the passphrase alone.
//! - `ssh.rs`: the dedicated key, the server's authorized_keys line, host keys, a connection test.

pub mod keys;
pub mod layout;
pub mod passphrase;
pub mod recover;
pub mod ssh;

use crate::config::Secret;
use crate::credentials::wallet;
use crate::process::{run, BorgmaticCommand, FailureKind, ProcessError, Tools};
use crate::reader::key::Mode;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// borg's encryption modes the first run offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// The guide's choice: the key lives in a file on this computer (and the export).
    KeyfileBlake2,
    /// The key lives in the repository, protected by the passphrase.
    RepokeyBlake2,
}

impl Encryption {
    pub fn name(self) -> &'static str {
        match self {
            Encryption::KeyfileBlake2 => "keyfile-blake2",
            Encryption::RepokeyBlake2 => "repokey-blake2",
        }
    }

    pub fn parse(text: &str) -> Option<Encryption> {
        match text {
            "keyfile-blake2" => Some(Encryption::KeyfileBlake2),
            "repokey-blake2" => Some(Encryption::RepokeyBlake2),
            _ => None,
        }
    }

    fn key_mode(self) -> Mode {
        match self {
            Encryption::KeyfileBlake2 => Mode::KeyfileBlake2,
            Encryption::RepokeyBlake2 => Mode::RepokeyBlake2,
        }
    }
}

/// One place backups go: a label and a borg location (a folder, or `ssh://…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub label: String,
    pub location: String,
}

/// Everything the first run decides.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The config to write (it must not exist).
    pub config: PathBuf,
    pub sources: Vec<PathBuf>,
    pub presets: Vec<&'static str>,
    pub destinations: Vec<Destination>,
    pub encryption: Encryption,
    /// Where every repository's key is exported (made 0700 if missing); None only when the
    /// person chose, knowingly, to skip it.
    pub export_to: Option<PathBuf>,
    pub passphrase: Secret,
    /// The `kastell` the passcommand runs.
    pub kastell: PathBuf,
    /// `ssh_command` for SSH destinations (see `ssh_command`).
    pub ssh_command: Option<String>,
    /// Keys to import before the repositories are opened (label, exported key file): a
    /// keyfile repository made elsewhere, now backed up into from this machine.
    pub import_keys: Vec<(String, PathBuf)>,
    /// Only use repositories that exist (a new machine continuing into its old repository):
    /// none is created.
    pub existing_only: bool,
}

/// What has been done so far, said as it happens (so a failure leaves nothing unreported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    ConfigWritten(PathBuf),
    PassphraseStored,
    RepositoryCreated {
        label: String,
    },
    /// A repository was already there and opened with the passphrase: it is used.
    RepositoryReused {
        label: String,
    },
    KeyExported {
        label: String,
        path: PathBuf,
    },
    KeyVerified {
        label: String,
    },
    KeyImported {
        label: String,
    },
    /// The key in a form to print (the paper key, or the page with its QR code).
    PrintableKey {
        label: String,
        path: PathBuf,
    },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::ConfigWritten(path) => format!("wrote {} (mode 0600)", path.display()),
            Step::PassphraseStored => "stored the passphrase in the wallet".into(),
            Step::RepositoryCreated { label } => format!("created repository “{label}”"),
            Step::RepositoryReused { label } => {
                format!("“{label}” already holds a repository that opens with this passphrase: using it")
            }
            Step::KeyExported { label, path } => {
                format!("exported the key of “{label}” to {}", path.display())
            }
            Step::KeyVerified { label } => {
                format!("checked the exported key of “{label}”: it opens the repository")
            }
            Step::PrintableKey { label, path } => {
                format!("wrote the key of “{label}” to print: {}", path.display())
            }
            Step::KeyImported { label } => {
                format!("imported the key of “{label}” into ~/.config/borg/keys")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{} already exists; choose another name (Kastell does not overwrite a config)", path.display())]
    ConfigExists { path: PathBuf },
    #[error("{} is not a folder to back up", path.display())]
    NoSource { path: PathBuf },
    #[error("no destination: give at least one repository")]
    NoDestination,
    #[error("two destinations are called “{label}”")]
    DuplicateLabel { label: String },
    #[error("“{label}” is not a usable label (letters, digits, - and _)")]
    BadLabel { label: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("borgmatic does not accept the config it was given: {0}")]
    ConfigRejected(String),
    #[error(transparent)]
    Wallet(#[from] wallet::SecretError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("creating “{label}”: {source}")]
    Create {
        label: String,
        #[source]
        source: ProcessError,
    },
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("“{label}” holds no repository, and this setup only uses existing ones")]
    NotThere { label: String },
    #[error("importing the key of “{label}”: {source}")]
    Import {
        label: String,
        #[source]
        source: ProcessError,
    },
}

impl SetupError {
    pub fn kind(&self) -> crate::errors::ErrorKind {
        use crate::errors::ErrorKind;
        match self {
            SetupError::Wallet(_) => ErrorKind::WalletUnavailable,
            SetupError::Process(e) | SetupError::Create { source: e, .. } => e.kind(),
            SetupError::Write { source, .. }
                if source.raw_os_error() == Some(nix::libc::ENOSPC) =>
            {
                ErrorKind::DiskFull
            }
            SetupError::ConfigRejected(_) => ErrorKind::ConfigInvalid,
            _ => ErrorKind::BadInput,
        }
    }
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// The plan's own mistakes, found before anything is written.
pub fn check(plan: &Plan) -> Result<(), SetupError> {
    if plan.config.symlink_metadata().is_ok() {
        return Err(SetupError::ConfigExists {
            path: plan.config.clone(),
        });
    }
    if let Some(missing) = plan.sources.iter().find(|s| !s.is_dir()) {
        return Err(SetupError::NoSource {
            path: missing.clone(),
        });
    }
    if plan.destinations.is_empty() {
        return Err(SetupError::NoDestination);
    }
    let mut seen = Vec::new();
    for destination in &plan.destinations {
        if !valid_label(&destination.label) {
            return Err(SetupError::BadLabel {
                label: destination.label.clone(),
            });
        }
        if seen.contains(&&destination.label) {
            return Err(SetupError::DuplicateLabel {
                label: destination.label.clone(),
            });
        }
        seen.push(&destination.label);
    }
    Ok(())
}

/// The `ssh_command` for a dedicated key and Kastell's own known_hosts: never asks, never
/// accepts an unknown host key.
pub fn ssh_command(key: &Path, known_hosts: &Path) -> String {
    format!(
        "ssh -i {} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        wallet::shell_quote(&key.display().to_string()),
        wallet::shell_quote(&known_hosts.display().to_string())
    )
}

/// The config written as a new 0600 file, all at once: a temporary name first, then linked
/// into place (which fails rather than replace a file that appeared meanwhile).
fn write_new_config(path: &Path, text: &str) -> Result<(), SetupError> {
    use std::io::Write;
    let write_error = |source| SetupError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let temp = path.with_extension(format!("kastell-new-{}", std::process::id()));
    let written = (|| {
        let mut file = crate::private::create_new(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&temp, path)
    })();
    let _ = std::fs::remove_file(&temp);
    written.map_err(write_error)
}

/// `borgmatic config validate` of the written file.
async fn validate(tools: &Tools, config: &Path) -> Result<(), SetupError> {
    let out = tokio::process::Command::new(&tools.borgmatic.path)
        .args(["config", "validate", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| {
            SetupError::Process(ProcessError::Spawn {
                program: tools.borgmatic.path.display().to_string(),
                source,
            })
        })?;
    match out.status.success() {
        true => Ok(()),
        false => Err(SetupError::ConfigRejected(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}

/// What `borgmatic repo-info --json` says of a repository.
#[derive(Debug, Clone)]
pub struct RepositoryInfo {
    pub id: String,
    pub mode: String,
}

/// Whether `folder` holds a borg 1.x repository (its `config` names one): the wizard offers
/// it for use instead of a new one.
pub fn holds_repository(folder: &Path) -> bool {
    let Ok(file) = std::fs::File::open(folder.join("config")) else {
        return false;
    };
    // The repository config is a few hundred bytes; a big file of that name is something else.
    let mut head = String::new();
    let read = std::io::Read::read_to_string(&mut std::io::Read::take(file, 4096), &mut head);
    read.is_ok() && head.lines().any(|l| l.trim() == "[repository]")
}

/// Opens repository `label` (through borgmatic, so with the config's passcommand and
/// ssh_command); `Ok(None)` when there is no repository there.
pub async fn repository_info(
    tools: &Tools,
    config: &Path,
    label: &str,
) -> Result<Option<RepositoryInfo>, ProcessError> {
    let invocation = BorgmaticCommand::new(config, "repo-info")
        .repository(label)
        .arg("--json")
        .invocation(tools);
    let done = run(
        invocation,
        &crate::events::Discard,
        &CancellationToken::new(),
    )
    .await?;
    let done = match done.into_result() {
        Ok(done) => done,
        Err(ProcessError::Failed(f)) if f.kind == FailureKind::RepositoryDoesNotExist => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let parsed: serde_json::Value =
        serde_json::from_slice(&done.stdout).map_err(|e| ProcessError::BadOutput {
            program: "borgmatic repo-info".into(),
            detail: e.to_string(),
        })?;
    let first = &parsed[0];
    Ok(Some(RepositoryInfo {
        id: first["repository"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        mode: first["encryption"]["mode"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }))
}

/// Creates (or reuses) every repository, exports and checks every key. Each change is told
/// to `told` as it happens. Before anything is written the plan is checked; a failure before
/// the first repository exists takes the config and the wallet entry back.
pub async fn run_setup(plan: &Plan, told: &mut (dyn FnMut(Step) + Send)) -> Result<(), SetupError> {
    check(plan)?;
    let tools = Tools::detect().await?;
    let passcommand = wallet::passcommand(&plan.kastell, &plan.config);
    let text = layout::config_text(&layout::Layout {
        config: &plan.config,
        sources: &plan.sources,
        presets: &plan.presets,
        destinations: &plan.destinations,
        passcommand: &passcommand,
        ssh_command: plan
            .destinations
            .iter()
            .any(|d| d.location.starts_with("ssh://"))
            .then_some(plan.ssh_command.as_deref())
            .flatten(),
        continues_existing: plan.existing_only,
    });
    write_new_config(&plan.config, &text)?;
    // The passcommand names the config by its absolute path.
    let config = std::fs::canonicalize(&plan.config).unwrap_or_else(|_| plan.config.clone());
    let undo = |config: &Path| {
        let _ = std::fs::remove_file(config);
        let _ = wallet::forget(config);
    };
    if let Err(e) = validate(&tools, &config).await {
        undo(&config);
        return Err(e);
    }
    told(Step::ConfigWritten(config.clone()));
    let stored = {
        let (path, secret) = (config.clone(), plan.passphrase.clone());
        tokio::task::spawn_blocking(move || wallet::store(&path, &secret))
            .await
            .unwrap_or_else(|e| Err(wallet::SecretError::Other(e.to_string())))
    };
    if let Err(e) = stored {
        undo(&config);
        return Err(e.into());
    }
    told(Step::PassphraseStored);

    for (label, key) in &plan.import_keys {
        let invocation = BorgmaticCommand::new(&config, "key")
            .arg("import")
            .arg("--repository")
            .arg(label)
            .arg("--path")
            .arg(key)
            .invocation(&tools);
        let imported = crate::process::run_to_end(invocation).await;
        if let Err(source) = imported {
            undo(&config);
            return Err(SetupError::Import {
                label: label.clone(),
                source,
            });
        }
        told(Step::KeyImported {
            label: label.clone(),
        });
    }

    let mut made_any = false;
    let mut infos = Vec::new();
    for destination in &plan.destinations {
        let label = destination.label.as_str();
        let existing = match repository_info(&tools, &config, label).await {
            Ok(found) => found,
            Err(e) => {
                if !made_any {
                    undo(&config);
                }
                return Err(SetupError::Create {
                    label: label.to_string(),
                    source: e,
                });
            }
        };
        let info = match existing {
            Some(info) => {
                told(Step::RepositoryReused {
                    label: label.to_string(),
                });
                info
            }
            None if plan.existing_only => {
                if !made_any {
                    undo(&config);
                }
                return Err(SetupError::NotThere {
                    label: label.to_string(),
                });
            }
            None => {
                let invocation = BorgmaticCommand::new(&config, "repo-create")
                    .repository(label)
                    .arg("--encryption")
                    .arg(plan.encryption.name())
                    .arg("--make-parent-dirs")
                    .invocation(&tools);
                let created = crate::process::run_to_end(invocation).await;
                if let Err(source) = created {
                    if !made_any {
                        undo(&config);
                    }
                    return Err(SetupError::Create {
                        label: label.to_string(),
                        source,
                    });
                }
                made_any = true;
                told(Step::RepositoryCreated {
                    label: label.to_string(),
                });
                repository_info(&tools, &config, label)
                    .await
                    .map_err(|source| SetupError::Create {
                        label: label.to_string(),
                        source,
                    })?
                    .ok_or_else(|| SetupError::Create {
                        label: label.to_string(),
                        source: ProcessError::BadOutput {
                            program: "borgmatic repo-create".into(),
                            detail: "the repository is not there after it was created".into(),
                        },
                    })?
            }
        };
        infos.push((destination, info));
    }

    let Some(export_to) = &plan.export_to else {
        return Ok(());
    };
    crate::private::create_dirs_below(export_to, export_to).map_err(|source| {
        SetupError::Write {
            path: export_to.clone(),
            source,
        }
    })?;
    for (destination, info) in infos {
        let label = destination.label.clone();
        let path = keys::KeyForm::File.path(export_to, &label);
        keys::export(&tools, &config, &label, &path, keys::KeyForm::File).await?;
        told(Step::KeyExported {
            label: label.clone(),
            path: path.clone(),
        });
        let mode = match info.mode.as_str() {
            "repokey-blake2" => Mode::RepokeyBlake2,
            "keyfile-blake2" => Mode::KeyfileBlake2,
            _ => plan.encryption.key_mode(),
        };
        let not_verified = |why: String| keys::KeyError::NotVerified {
            label: label.clone(),
            path: path.clone(),
            why,
        };
        keys::check_export(&path, &info.id, &plan.passphrase, mode).map_err(not_verified)?;
        if info.mode.starts_with("keyfile") {
            keys::open_with_only(&tools, &config, &label, &path)
                .await
                .map_err(not_verified)?;
        }
        told(Step::KeyVerified {
            label: label.clone(),
        });
        // The same key to print: borg's paper form, and a page with it as a QR code.
        for form in [keys::KeyForm::Paper, keys::KeyForm::QrHtml] {
            let printable = form.path(export_to, &label);
            keys::export(&tools, &config, &label, &printable, form).await?;
            told(Step::PrintableKey {
                label: label.clone(),
                path: printable,
            });
        }
    }
    Ok(())
}

/// `~/.config/borgmatic/user.yaml`, or `user-2.yaml`, … when that exists (the wizard never
/// overwrites a config).
pub fn free_config_path(folder: &Path) -> PathBuf {
    let first = folder.join("user.yaml");
    if first.symlink_metadata().is_err() {
        return first;
    }
    (2..)
        .map(|n| folder.join(format!("user-{n}.yaml")))
        .find(|p| p.symlink_metadata().is_err())
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_with_a_repository_config_holds_a_repository() {
        let dir = tempfile::tempdir().expect("dir");
        assert!(!holds_repository(dir.path()));
        std::fs::write(dir.path().join("config"), "[repository]\nversion = 1\n").expect("config");
        assert!(holds_repository(dir.path()));
        assert!(!holds_repository(&dir.path().join("missing")));
    }
}
