//! The repository key, saved now: `borgmatic key export` into the folder the person picked
//! (one file per repository, named after its label, 0600), and checked: the exported file
//! names the repository's id and opens with the passphrase (Kastell's own key reader), and, for
//! keyfile repositories, borg opens the repository with a keys folder that holds only it.

use crate::config::Secret;
use crate::process::{BorgmaticCommand, ProcessError, Tools};
use crate::reader::key::{self, Mode};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("exporting the key of “{label}”: {source}")]
    Export {
        label: String,
        #[source]
        source: ProcessError,
    },
    #[error("cannot write into {}: {source}", folder.display())]
    Folder {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} already exists; Kastell does not overwrite a saved key", path.display())]
    Exists { path: PathBuf },
    #[error("the exported key {} does not open “{label}”: {why}", path.display())]
    NotVerified {
        label: String,
        path: PathBuf,
        why: String,
    },
}

/// `LABEL.key` in `folder` (the label made safe as one file name).
pub fn export_path(folder: &Path, label: &str) -> PathBuf {
    let safe: String = label
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    folder.join(format!("{safe}.key"))
}

/// How a key is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// The key file (`borg key export`): what `kastell recover --key-file` takes.
    File,
    /// The paper key (`--paper`): lines with checksums, to print and type back in.
    Paper,
    /// A page to print (`--qr-html`): the key as text and as a QR code.
    QrHtml,
}

impl KeyForm {
    /// Where this form of `label`'s key goes in `folder`.
    pub fn path(self, folder: &Path, label: &str) -> PathBuf {
        let file = export_path(folder, label);
        match self {
            KeyForm::File => file,
            KeyForm::Paper => file.with_extension("paper.txt"),
            KeyForm::QrHtml => file.with_extension("print.html"),
        }
    }
}

/// Exports the key of repository `label` of `config` to `path` (which must not exist).
pub async fn export(
    tools: &Tools,
    config: &Path,
    label: &str,
    path: &Path,
    form: KeyForm,
) -> Result<(), KeyError> {
    if path.symlink_metadata().is_ok() {
        return Err(KeyError::Exists {
            path: path.to_path_buf(),
        });
    }
    // borg writes a new file with the process umask: into a private folder first, then
    // copied into place as a new 0600 file.
    let private = tempfile::Builder::new()
        .prefix("kastell-keyexport-")
        .tempdir()
        .map_err(|source| KeyError::Folder {
            folder: std::env::temp_dir(),
            source,
        })?;
    let staged = private.path().join("key");
    let mut command = BorgmaticCommand::new(config, "key")
        .arg("export")
        .arg("--repository")
        .arg(label);
    command = match form {
        KeyForm::File => command,
        KeyForm::Paper => command.arg("--paper"),
        KeyForm::QrHtml => command.arg("--qr-html"),
    };
    let invocation = command.arg("--path").arg(&staged).invocation(tools);
    crate::process::run_to_end(invocation)
        .await
        .map_err(|source| KeyError::Export {
            label: label.to_string(),
            source,
        })?;
    let folder_error = |source| KeyError::Folder {
        folder: path.parent().unwrap_or(path).to_path_buf(),
        source,
    };
    let text = std::fs::read(&staged).map_err(folder_error)?;
    let mut file = crate::private::create_new(path).map_err(folder_error)?;
    std::io::Write::write_all(&mut file, &text)
        .and_then(|()| file.sync_all())
        .map_err(folder_error)?;
    Ok(())
}

/// Checks the exported key at `path` against the repository: it names `repository_id` and
/// opens with `passphrase`.
pub fn check_export(
    path: &Path,
    repository_id: &str,
    passphrase: &Secret,
    mode: Mode,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let first = text.lines().next().unwrap_or_default();
    let id = first
        .strip_prefix("BORG_KEY ")
        .ok_or("it is not a borg key file")?;
    if !id.trim().eq_ignore_ascii_case(repository_id) {
        return Err(format!(
            "it is the key of repository {}, not of {repository_id}",
            id.trim()
        ));
    }
    let blob = key::keyfile_blob(&text).ok_or("its key data is damaged")?;
    match key::unlock(&blob, passphrase.expose().as_bytes(), mode) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the passphrase does not open it".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Opens repository `label` with borg through borgmatic, with `BORG_KEYS_DIR` a fresh private
/// folder that holds only the exported key: proof that the export alone (with the passphrase)
/// is enough for a keyfile repository.
pub async fn open_with_only(
    tools: &Tools,
    config: &Path,
    label: &str,
    exported: &Path,
) -> Result<(), String> {
    let keys = tempfile::Builder::new()
        .prefix("kastell-keycheck-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    std::fs::copy(exported, keys.path().join("exported.key")).map_err(|e| e.to_string())?;
    let invocation = BorgmaticCommand::new(config, "repo-info")
        .repository(label)
        .env("BORG_KEYS_DIR", keys.path())
        .invocation(tools);
    crate::process::run_to_end(invocation)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_named_after_the_label_and_stay_in_the_folder() {
        let folder = Path::new("/media/me/USB");
        assert_eq!(export_path(folder, "nas"), folder.join("nas.key"));
        assert_eq!(
            KeyForm::Paper.path(folder, "nas"),
            folder.join("nas.paper.txt")
        );
        assert_eq!(
            KeyForm::QrHtml.path(folder, "nas"),
            folder.join("nas.print.html")
        );
        assert_eq!(
            export_path(folder, "../../etc/passwd"),
            folder.join(".._.._etc_passwd.key")
        );
    }
}
