//! Moving a config's passphrase into the wallet and back, verified with real borg calls.

use crate::config::{save, BorgmaticConfig, ConfigDocument, Scalar, Secret};
use crate::events::Discard;
use crate::process::{run, BorgmaticCommand, ProcessError, Tools};
use crate::secrets::{self, SecretError};
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
        let result = match run(invocation, &Discard, &CancellationToken::new()).await {
            Ok(done) => done.into_result().map(|_| ()),
            Err(e) => Err(e),
        };
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
                Some(cmd) if secrets::is_kastell_passcommand(&cmd) => "the passphrase is already kept in the wallet".into(),
                Some(_) => "this config gets its passphrase from its own encryption_passcommand; nothing to move".into(),
                None => "this config has no encryption_passphrase to move".into(),
            }));
        };
        let command = secrets::passcommand(kastell, config);
        doc.replace_key(
            "encryption_passphrase",
            "encryption_passcommand",
            Scalar::Str(command),
        )?;
        (doc.original().to_string(), doc.text(), passphrase)
    };

    let stored = passphrase.clone();
    let path = config.to_path_buf();
    run_blocking(move || secrets::store(&path, &stored)).await??;
    let checks = verify_each_repository(config, &new_text).await?;
    if !checks.iter().any(|c| c.result.is_ok()) {
        let path = config.to_path_buf();
        let _ = run_blocking(move || secrets::forget(&path)).await;
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
        Some(cmd) if secrets::is_kastell_passcommand(cmd) => {}
        _ => {
            return Err(PassphraseError::Refused(
                "this config does not take its passphrase from Kastell's wallet entry".into(),
            ))
        }
    }
    let path = config.to_path_buf();
    let passphrase: Secret = run_blocking(move || secrets::get(&path)).await??;
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
    run_blocking(move || secrets::forget(&path)).await??;
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
