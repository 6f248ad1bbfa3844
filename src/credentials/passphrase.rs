//! Moving a config's passphrase into the wallet and back, verified with real borg calls.

use crate::config::{save, BorgmaticConfig, ConfigDocument, Scalar, Secret};
use crate::credentials::wallet::{self, SecretError};
use crate::events::Discard;
use crate::process::{run, BorgmaticCommand, ProcessError, Tools};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Edit(#[from] crate::config::EditError),
    #[error("{0}")]
    Save(#[from] crate::config::SaveError),
    #[error("{0}")]
    Wallet(#[from] SecretError),
    #[error("{0}")]
    Process(#[from] ProcessError),
    #[error("{0}")]
    Refused(String),
}

/// How one repository answered the verification call.
#[derive(Debug)]
pub struct RepositoryCheck {
    pub repository: String,
    pub result: Result<(), ProcessError>,
}

impl RepositoryCheck {
    pub fn describe(&self) -> String {
        match &self.result {
            Ok(()) => format!("{}: the passphrase opens it", self.repository),
            Err(e) => format!(
                "{}: {}",
                self.repository,
                e.user_message(Some(&self.repository))
            ),
        }
    }
}

/// Runs a real borg call (`repo-list` through borgmatic) against every repository of the
/// config text `text`, written next to `original` so relative includes still resolve.
pub async fn verify_each_repository(
    original: &Path,
    text: &str,
) -> Result<Vec<RepositoryCheck>, PassphraseError> {
    let cfg = BorgmaticConfig::parse(original, text)?;
    let tools = Tools::detect().await?;
    let candidate = candidate_path(original);
    write_private(&candidate, text).map_err(|e| {
        PassphraseError::Refused(format!("cannot write {}: {e}", candidate.display()))
    })?;
    let mut checks = Vec::new();
    for repo in &cfg.repositories {
        let invocation = BorgmaticCommand::new(&candidate, tools.repo_list_action())
            .repository(repo.label.as_deref().unwrap_or(&repo.path))
            .arg("--json")
            .invocation(&tools);
        let result = crate::process::archives::checked(
            run(invocation, &Discard, &CancellationToken::new()).await,
            repo,
        )
        .await
        .map(|_| ());
        checks.push(RepositoryCheck {
            repository: repo.display_name().to_string(),
            result,
        });
    }
    let _ = std::fs::remove_file(&candidate);
    Ok(checks)
}

fn candidate_path(original: &Path) -> PathBuf {
    let name = original
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    original.with_file_name(format!(
        ".{name}.kastell-verify-{}.yaml",
        std::process::id()
    ))
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// What `to_wallet` did.
#[derive(Debug)]
pub struct MoveReport {
    pub checks: Vec<RepositoryCheck>,
    pub backup: Option<PathBuf>,
}

/// Stores the config's plaintext `encryption_passphrase` in the wallet and replaces it with
/// an `encryption_passcommand` that runs `kastell passphrase get`. Saved only when at least one
/// repository opens with the new config; otherwise the file is untouched and the wallet entry
/// removed again.
pub async fn to_wallet(config: &Path, kastell: &Path) -> Result<MoveReport, PassphraseError> {
    // The syntax tree is not Send: build the new text first, keeping none of it across awaits.
    let (original, new_text, passphrase) = {
        let mut doc = ConfigDocument::load(config)?;
        let cfg = doc.config()?;
        let Some(passphrase) = cfg.encryption_passphrase.clone() else {
            return Err(PassphraseError::Refused(match cfg.encryption_passcommand {
                Some(cmd) if wallet::is_kastell_passcommand(&cmd) => "the passphrase is already kept in the wallet".into(),
                Some(_) => "this config gets its passphrase from its own encryption_passcommand; nothing to move".into(),
                None => "this config has no encryption_passphrase to move".into(),
            }));
        };
        let command = wallet::passcommand(kastell, config);
        doc.replace_key(
            "encryption_passphrase",
            "encryption_passcommand",
            Scalar::Str(command),
        )?;
        (doc.original().to_string(), doc.text(), passphrase)
    };

    let stored = passphrase.clone();
    let path = config.to_path_buf();
    run_blocking(move || wallet::store(&path, &stored)).await??;
    let checks = verify_each_repository(config, &new_text).await?;
    if !checks.iter().any(|c| c.result.is_ok()) {
        let path = config.to_path_buf();
        let _ = run_blocking(move || wallet::forget(&path)).await;
        let details: Vec<String> = checks.iter().map(RepositoryCheck::describe).collect();
        return Err(PassphraseError::Refused(format!(
            "not changed: no repository could be opened with the passphrase from the wallet, so the config keeps its plaintext passphrase.\n{}",
            details.join("\n")
        )));
    }
    let outcome = save(&ConfigDocument::edited(config, &original, &new_text)?)?;
    Ok(MoveReport {
        checks,
        backup: outcome.backup,
    })
}

/// The reverse: writes the wallet's passphrase back as `encryption_passphrase` (plaintext, as
/// the user asked) and removes the wallet entry.
pub async fn from_wallet(config: &Path) -> Result<Option<PathBuf>, PassphraseError> {
    let cfg = ConfigDocument::load(config)?.config()?;
    match &cfg.encryption_passcommand {
        Some(cmd) if wallet::is_kastell_passcommand(cmd) => {}
        _ => {
            return Err(PassphraseError::Refused(
                "this config does not take its passphrase from Kastell's wallet entry".into(),
            ))
        }
    }
    let path = config.to_path_buf();
    let passphrase: Secret = run_blocking(move || wallet::get(&path)).await??;
    let outcome = {
        let mut doc = ConfigDocument::load(config)?;
        doc.replace_key(
            "encryption_passcommand",
            "encryption_passphrase",
            Scalar::Str(passphrase.expose().to_string()),
        )?;
        save(&doc)?
    };
    let path = config.to_path_buf();
    run_blocking(move || wallet::forget(&path)).await??;
    Ok(outcome.backup)
}

/// Secret Service calls block on D-Bus: keep them off the async workers.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PassphraseError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PassphraseError::Refused(format!("the wallet call did not finish: {e}")))
}

/// How one repository's key change went.
#[derive(Debug)]
pub struct ChangeReport {
    pub changed: Vec<String>,
    pub failed: Vec<RepositoryCheck>,
    /// Where the new passphrase was put: "config", "wallet", or "" when the user must update
    /// their own passcommand's store.
    pub stored_in: &'static str,
}

impl ChangeReport {
    pub fn describe(&self) -> String {
        let mut lines: Vec<String> = self
            .changed
            .iter()
            .map(|r| format!("{r}: the key now takes the new passphrase"))
            .collect();
        lines.extend(
            self.failed
                .iter()
                .map(|c| format!("{} (still takes the OLD passphrase)", c.describe())),
        );
        lines.push(match self.stored_in {
            "config" => "The config's encryption_passphrase holds the new passphrase.".into(),
            "wallet" => "The wallet holds the new passphrase.".into(),
            _ => "Update the store your encryption_passcommand reads: it still prints the old passphrase.".into(),
        });
        lines.join("\n")
    }
}

/// The passphrase borgmatic would use now: plaintext, Kastell's wallet entry, or the config's
/// own passcommand.
pub async fn current_passphrase(
    config: &Path,
    cfg: &BorgmaticConfig,
) -> Result<(Secret, &'static str), PassphraseError> {
    if let Some(p) = &cfg.encryption_passphrase {
        return Ok((p.clone(), "config"));
    }
    match &cfg.encryption_passcommand {
        Some(cmd) if wallet::is_kastell_passcommand(cmd) => {
            let path = config.to_path_buf();
            Ok((run_blocking(move || wallet::get(&path)).await??, "wallet"))
        }
        Some(cmd) => {
            let out = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .map_err(|e| {
                    PassphraseError::Refused(format!("cannot run encryption_passcommand: {e}"))
                })?;
            if !out.status.success() {
                return Err(PassphraseError::Refused(
                    "encryption_passcommand failed".into(),
                ));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            Ok((Secret::new(text.trim_end_matches(['\n', '\r'])), ""))
        }
        None => Err(PassphraseError::Refused(
            "this config has no passphrase (an unencrypted repository has none to change)".into(),
        )),
    }
}

/// Changes the key passphrase of every repository of the config (`borgmatic key
/// change-passphrase`, the answers over stdin), then stores the new one where the old was.
/// Nothing starts unless every repository first opens with the current passphrase.
pub async fn change(config: &Path, new: &Secret) -> Result<ChangeReport, PassphraseError> {
    let (text, cfg) = {
        let doc = ConfigDocument::load(config)?;
        (doc.text(), doc.config()?)
    };
    let (old, stored_in) = current_passphrase(config, &cfg).await?;
    let checks = verify_each_repository(config, &text).await?;
    let unreachable: Vec<String> = checks
        .iter()
        .filter(|c| c.result.is_err())
        .map(RepositoryCheck::describe)
        .collect();
    if !unreachable.is_empty() {
        return Err(PassphraseError::Refused(format!(
            "not started: every repository must open first, so none ends up with a different passphrase.\n{}",
            unreachable.join("\n")
        )));
    }
    let tools = Tools::detect().await?;
    let answers = Secret::new(format!(
        "{}\n{}\n{}\n",
        old.expose(),
        new.expose(),
        new.expose()
    ));
    let (mut changed, mut failed) = (Vec::new(), Vec::new());
    for repo in &cfg.repositories {
        let invocation = BorgmaticCommand::new(config, "key")
            .arg("change-passphrase")
            .repository(repo.label.as_deref().unwrap_or(&repo.path))
            .env("BORG_DISPLAY_PASSPHRASE", "no")
            .stdin_secret(answers.clone())
            .invocation(&tools);
        let result = match run(invocation, &Discard, &CancellationToken::new()).await {
            Ok(done) => done.into_result().map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => changed.push(repo.display_name().to_string()),
            Err(e) => failed.push(RepositoryCheck {
                repository: repo.display_name().to_string(),
                result: Err(e),
            }),
        }
    }
    if changed.is_empty() {
        let details: Vec<String> = failed.iter().map(RepositoryCheck::describe).collect();
        return Err(PassphraseError::Refused(format!(
            "no repository's passphrase was changed:\n{}",
            details.join("\n")
        )));
    }
    match stored_in {
        "config" => {
            let mut doc = ConfigDocument::load(config)?;
            doc.set_scalar(
                "encryption_passphrase",
                Scalar::Str(new.expose().to_string()),
            )?;
            save(&doc)?;
        }
        "wallet" => {
            let (path, secret) = (config.to_path_buf(), new.clone());
            run_blocking(move || wallet::store(&path, &secret)).await??;
        }
        _ => {}
    }
    Ok(ChangeReport {
        changed,
        failed,
        stored_in,
    })
}
