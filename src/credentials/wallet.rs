//! The repository passphrase in the desktop's Secret Service (KWallet on Plasma, or
//! gnome-keyring), through `keyring`. One entry per config file.

use crate::config::Secret;
use std::path::{Path, PathBuf};

/// The Secret Service attribute `service` of Kastell's entries.
pub const SERVICE: &str = "org.kde.kastell";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the wallet is locked or no wallet service is running, so Kastell cannot reach the \
         passphrase of {config}. Open (unlock) the wallet and try again, or type the \
         passphrase for this run. ({detail})"
    )]
    WalletUnavailable { config: PathBuf, detail: String },
    #[error("the wallet holds no passphrase for {config}")]
    NotStored { config: PathBuf },
    #[error("the wallet failed: {0}")]
    Other(String),
}

/// The entry's account name: the config's absolute path, so two configs never share a secret
/// by accident.
pub fn account(config: &Path) -> String {
    let absolute = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    format!("borgmatic:{}", absolute.display())
}

fn entry(config: &Path) -> Result<keyring::Entry, SecretError> {
    keyring::Entry::new(SERVICE, &account(config)).map_err(|e| classify(config, e))
}

fn classify(config: &Path, error: keyring::Error) -> SecretError {
    match error {
        keyring::Error::NoEntry => SecretError::NotStored {
            config: config.to_path_buf(),
        },
        keyring::Error::NoStorageAccess(e) | keyring::Error::PlatformFailure(e) => {
            SecretError::WalletUnavailable {
                config: config.to_path_buf(),
                detail: e.to_string(),
            }
        }
        keyring::Error::NoDefaultStore => SecretError::WalletUnavailable {
            config: config.to_path_buf(),
            detail: "no credential store".into(),
        },
        other => SecretError::Other(other.to_string()),
    }
}

/// These calls block on D-Bus; call them off the UI thread (`spawn_blocking`).
pub fn store(config: &Path, passphrase: &Secret) -> Result<(), SecretError> {
    entry(config)?
        .set_password(passphrase.expose())
        .map_err(|e| classify(config, e))
}

pub fn get(config: &Path) -> Result<Secret, SecretError> {
    entry(config)?
        .get_password()
        .map(Secret::new)
        .map_err(|e| classify(config, e))
}

/// Removes the entry. Ok(false) when there was none.
pub fn forget(config: &Path) -> Result<bool, SecretError> {
    match entry(config)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(classify(config, e)),
    }
}

/// The `encryption_passcommand` that makes borgmatic ask Kastell (and so the wallet).
pub fn passcommand(kastell: &Path, config: &Path) -> String {
    let config = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
    format!(
        "{} passphrase get --config {}",
        shell_quote(&kastell.display().to_string()),
        shell_quote(&config.display().to_string())
    )
}

/// True when `command` is a passcommand written by `passcommand` (any Kastell binary).
pub fn is_kastell_passcommand(command: &str) -> bool {
    command.contains("kastell") && command.contains(" passphrase get --config ")
}

pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passcommand_quotes_paths_with_spaces_for_the_shell() {
        let cmd = passcommand(
            Path::new("/opt/my apps/kastell"),
            Path::new("/home/me/.config/borgmatic/user.yaml"),
        );
        assert_eq!(
            cmd,
            "'/opt/my apps/kastell' passphrase get --config /home/me/.config/borgmatic/user.yaml"
        );
        assert!(is_kastell_passcommand(&cmd));
        assert!(!is_kastell_passcommand("pass show borg"));
    }
}
