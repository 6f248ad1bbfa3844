//! "Type the passphrase once for this run": when the wallet is locked, the typed passphrase
//! stays in Kastell's memory and borgmatic fetches it through a one-run passcommand
//! (`kastell passphrase relay --socket PATH`) from a private unix socket. It never goes on a
//! command line, into the environment or into a file.

use crate::config::Secret;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A socket that hands out one passphrase for as long as it lives.
pub struct PassphraseRelay {
    path: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl PassphraseRelay {
    /// Starts serving `passphrase` on a fresh socket in a 0700 folder of the runtime dir.
    /// Must be called inside the tokio runtime.
    pub fn start(passphrase: Secret) -> std::io::Result<PassphraseRelay> {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::private::runtime_dir().join("relay");
        crate::private::create_dirs_below(&crate::private::runtime_dir(), &dir)?;
        let path = dir.join(format!(
            "relay-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let server = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.write_all(passphrase.expose().as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Ok(PassphraseRelay { path, server })
    }

    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// The passcommand borgmatic runs for this one run.
    pub fn passcommand(&self, kastell: &Path) -> String {
        format!(
            "{} passphrase relay --socket {}",
            crate::credentials::wallet::shell_quote(&kastell.display().to_string()),
            crate::credentials::wallet::shell_quote(&self.path.display().to_string())
        )
    }
}

/// Starts a relay and gives borgmatic's passcommand for it (this very program as the client).
pub fn serve_to_borgmatic(
    passphrase: Secret,
) -> Result<(PassphraseRelay, String), crate::process::ProcessError> {
    use crate::process::ProcessError;
    let relay = PassphraseRelay::start(passphrase).map_err(|source| ProcessError::Spawn {
        program: "the passphrase relay".into(),
        source,
    })?;
    let kastell = std::env::current_exe().map_err(|source| ProcessError::Spawn {
        program: "kastell".into(),
        source,
    })?;
    let command = relay.passcommand(&kastell);
    Ok((relay, command))
}

impl Drop for PassphraseRelay {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The client side: what `kastell passphrase relay` prints.
pub fn fetch(socket: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    Ok(text)
}
