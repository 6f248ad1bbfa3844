//! SSH for a backup server, as the guide sets it up: a dedicated ed25519 key in
//! `~/.config/borg/ssh/` (folders 0700, key 0600, no passphrase on the key), the line the
//! server's `authorized_keys` needs (a forced `borg serve --restrict-to-path`), the server's host
//! key shown by its fingerprint and trusted only when the person confirms it (into Kastell's own
//! known_hosts, which the config's `ssh_command` names), and a connection test that says what
//! is wrong.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::reader::remote::SshLocation;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed: {message}")]
    Failed {
        program: &'static str,
        message: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("“{0}” is not an ssh://user@host[:port]/path location")]
    BadLocation(String),
    #[error("the host's key is {offered}, not the {expected} you confirmed; nothing was trusted")]
    FingerprintDiffers { offered: String, expected: String },
}

/// `~/.config/borg/ssh`.
pub fn ssh_folder() -> PathBuf {
    dirs::config_dir()
        .unwrap_or_else(|| PathBuf::from(".config"))
        .join("borg/ssh")
}

/// The dedicated key: `~/.config/borg/ssh/id_ed25519`.
pub fn key_path() -> PathBuf {
    ssh_folder().join("id_ed25519")
}

/// Kastell's known_hosts for backup servers: `~/.config/borg/ssh/known_hosts`.
pub fn known_hosts_path() -> PathBuf {
    ssh_folder().join("known_hosts")
}

/// The guide's folders: `~/.config/borg/{keys,ssh,security}`, each 0700.
pub fn ensure_borg_folders() -> Result<(), SshError> {
    let base = ssh_folder()
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(ssh_folder);
    for folder in ["keys", "ssh", "security"] {
        let path = base.join(folder);
        crate::private::create_dirs_below(&base, &path).map_err(|source| SshError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

async fn output(
    program: &'static str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<std::process::Output, SshError> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| SshError::Spawn { program, source })?;
    if let (Some(mut pipe), Some(data)) = (child.stdin.take(), stdin) {
        let _ = pipe.write_all(data).await;
    }
    child
        .wait_with_output()
        .await
        .map_err(|source| SshError::Spawn { program, source })
}

/// The dedicated key at `path`, made with `ssh-keygen` when missing (an existing one is kept:
/// its public half may be on servers already). Returns the public key line.
pub async fn ensure_key(path: &Path) -> Result<String, SshError> {
    if !path.exists() {
        if let Some(folder) = path.parent() {
            crate::private::create_dirs_below(folder, folder).map_err(|source| {
                SshError::Write {
                    path: folder.to_path_buf(),
                    source,
                }
            })?;
        }
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let comment = format!("BorgBackup-user@{host}");
        let file = path.display().to_string();
        let made = output(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-C", &comment, "-f", &file, "-N", ""],
            None,
        )
        .await?;
        if !made.status.success() {
            return Err(SshError::Failed {
                program: "ssh-keygen",
                message: String::from_utf8_lossy(&made.stderr).trim().to_string(),
            });
        }
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        SshError::Write {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let public = path.with_extension("pub");
    std::fs::read_to_string(&public)
        .map(|t| t.trim().to_string())
        .map_err(|source| SshError::Write {
            path: public,
            source,
        })
}

/// The server's `authorized_keys` line for `public`: borg serve only, only below `path`.
pub fn authorized_keys_line(public: &str, path: &str) -> String {
    format!(
        "command=\"borg serve --restrict-to-path {}\",restrict {}",
        path.replace('"', "\\\""),
        public.trim()
    )
}

/// One host key a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKey {
    /// The known_hosts line (`[host]:port ssh-ed25519 AAAA…`).
    pub line: String,
    /// `SHA256:…`, as `ssh` shows it.
    pub fingerprint: String,
    /// `ED25519`, `ECDSA`, `RSA`.
    pub kind: String,
}

/// What `ssh-keyscan` hears from `host`:`port`, with fingerprints (`ssh-keygen -lf -`).
pub async fn scan_host(host: &str, port: u16) -> Result<Vec<HostKey>, SshError> {
    let port_text = port.to_string();
    let scanned = output(
        "ssh-keyscan",
        &[
            "-T",
            "10",
            "-p",
            &port_text,
            "-t",
            "ed25519,ecdsa,rsa",
            host,
        ],
        None,
    )
    .await?;
    let mut keys = Vec::new();
    for line in String::from_utf8_lossy(&scanned.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let printed = output("ssh-keygen", &["-lf", "-"], Some(line.as_bytes())).await?;
        let text = String::from_utf8_lossy(&printed.stdout);
        // "256 SHA256:abc… host (ED25519)"
        let mut parts = text.split_whitespace();
        let fingerprint = parts.nth(1).unwrap_or_default().to_string();
        let kind = text
            .rsplit_once('(')
            .map(|(_, k)| k.trim_end_matches([')', '\n', ' ']).to_string())
            .unwrap_or_default();
        if !fingerprint.is_empty() {
            keys.push(HostKey {
                line: line.to_string(),
                fingerprint,
                kind,
            });
        }
    }
    if keys.is_empty() {
        return Err(SshError::Failed {
            program: "ssh-keyscan",
            message: format!(
                "{host}:{port} offered no host key ({})",
                String::from_utf8_lossy(&scanned.stderr).trim()
            ),
        });
    }
    Ok(keys)
}

/// Trusts the host key with `fingerprint` (the one the person confirmed) by adding it to
/// `known_hosts` (0600). A server offering another key is refused.
pub async fn trust(
    known_hosts: &Path,
    host: &str,
    port: u16,
    fingerprint: &str,
) -> Result<HostKey, SshError> {
    let offered = scan_host(host, port).await?;
    let Some(key) = offered
        .iter()
        .find(|k| k.fingerprint == fingerprint)
        .cloned()
    else {
        return Err(SshError::FingerprintDiffers {
            offered: offered
                .iter()
                .map(|k| k.fingerprint.clone())
                .collect::<Vec<_>>()
                .join(", "),
            expected: fingerprint.to_string(),
        });
    };
    let write_error = |source| SshError::Write {
        path: known_hosts.to_path_buf(),
        source,
    };
    if let Some(folder) = known_hosts.parent() {
        crate::private::create_dirs_below(folder, folder).map_err(write_error)?;
    }
    let mut file = crate::private::open_append(known_hosts).map_err(write_error)?;
    std::io::Write::write_all(&mut file, format!("{}\n", key.line).as_bytes())
        .map_err(write_error)?;
    Ok(key)
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// borg answers there and a repository exists.
    RepositoryThere,
    /// borg answers there and the path is free for a new repository.
    ReadyForNew,
    Problem(Problem),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing listens on the port (sshd not running, a wrong port, a firewall).
    Refused,
    /// The name does not resolve or the host does not answer.
    Unreachable(String),
    /// The server's host key is not in Kastell's known_hosts: confirm its fingerprint first.
    HostKeyUnknown,
    /// The server's host key differs from the one trusted: someone may be in between.
    HostKeyChanged,
    /// The server does not accept the key (its public half is not in `authorized_keys`).
    KeyNotInstalled,
    /// The key logs in to a shell: `authorized_keys` lacks the forced `borg serve` command.
    ForcedCommandMissing,
    /// The forced command's `--restrict-to-path` does not cover the path.
    PathOutsideRestriction,
    /// Something else, in ssh's or borg's words.
    Other(String),
}

impl Problem {
    pub fn describe(&self) -> String {
        match self {
            Problem::Refused => "the server refused the connection: is sshd running, and is the port right?".into(),
            Problem::Unreachable(why) => format!("the server cannot be reached: {why}"),
            Problem::HostKeyUnknown => "the server's host key is not trusted yet: check its fingerprint and confirm it".into(),
            Problem::HostKeyChanged => "the server's host key CHANGED since you trusted it: someone may be in between; ask the server's owner before going on".into(),
            Problem::KeyNotInstalled => "the server does not accept Kastell's key: add the authorized_keys line to the server".into(),
            Problem::ForcedCommandMissing => "the key logs in to a shell: put the forced command (command=\"borg serve --restrict-to-path …\") before it in authorized_keys".into(),
            Problem::PathOutsideRestriction => "the path is outside what the server's --restrict-to-path allows".into(),
            Problem::Other(why) => why.clone(),
        }
    }
}

fn classify(stderr: &str) -> Option<Problem> {
    let text = stderr.to_ascii_lowercase();
    if text.contains("remote host identification has changed") {
        Some(Problem::HostKeyChanged)
    } else if text.contains("host key verification failed")
        || text.contains("no ed25519 host key is known")
        || text.contains("no ecdsa host key is known")
        || text.contains("no rsa host key is known")
    {
        Some(Problem::HostKeyUnknown)
    } else if text.contains("connection refused") {
        Some(Problem::Refused)
    } else if text.contains("could not resolve hostname")
        || text.contains("no route to host")
        || text.contains("connection timed out")
        || text.contains("network is unreachable")
    {
        Some(Problem::Unreachable(
            stderr.lines().next().unwrap_or_default().trim().to_string(),
        ))
    } else if text.contains("permission denied (publickey") {
        Some(Problem::KeyNotInstalled)
    } else if text.contains("pathnotallowed") || text.contains("is not allowed") {
        Some(Problem::PathOutsideRestriction)
    } else {
        None
    }
}

/// The ssh arguments of `ssh_command` (split as a shell would, as borg splits `BORG_RSH`).
fn ssh_words(ssh_command: &str) -> Vec<String> {
    shlex::split(ssh_command).unwrap_or_default()
}

/// Tries `location` with `ssh_command` the way borg will reach it: first a plain ssh login
/// (a forced command swallows what is asked; a shell answers it), then `borg info`.
pub async fn test_connection(
    tools: &crate::process::Tools,
    ssh_command: &str,
    location: &str,
) -> Result<Connection, SshError> {
    let parsed =
        SshLocation::parse(location).ok_or_else(|| SshError::BadLocation(location.to_string()))?;
    let mut words = ssh_words(ssh_command);
    if words.is_empty() {
        words.push("ssh".into());
    }
    let probe = "kastell-forced-command-check";
    let mut ssh = tokio::process::Command::new(&words[0]);
    ssh.args(&words[1..]);
    if let Some(port) = parsed.port {
        ssh.args(["-p", &port.to_string()]);
    }
    let target = match &parsed.user {
        Some(user) => format!("{user}@{}", parsed.host),
        None => parsed.host.clone(),
    };
    let login = ssh
        .args(["-o", "ConnectTimeout=10", &target, "echo", probe])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let login = tokio::time::timeout(std::time::Duration::from_secs(30), login)
        .await
        .map_err(|_| SshError::Failed {
            program: "ssh",
            message: "no answer within 30 seconds".into(),
        })?
        .map_err(|source| SshError::Spawn {
            program: "ssh",
            source,
        })?;
    let stderr = String::from_utf8_lossy(&login.stderr);
    if let Some(problem) = classify(&stderr) {
        return Ok(Connection::Problem(problem));
    }
    if String::from_utf8_lossy(&login.stdout).contains(probe) {
        return Ok(Connection::Problem(Problem::ForcedCommandMissing));
    }
    // borg itself: is the path allowed, and is there a repository?
    let invocation = crate::process::BorgCommand::new("info")
        .env("BORG_RSH", ssh_command)
        .env("BORG_PASSPHRASE", "")
        .arg(location)
        .invocation(tools);
    let done = crate::process::run(
        invocation,
        &crate::events::Discard,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .map_err(|e| SshError::Failed {
        program: "borg",
        message: e.to_string(),
    })?;
    if done.succeeded() {
        return Ok(Connection::RepositoryThere);
    }
    let failure = crate::process::BorgFailure::classify(&done.lines, done.status.code());
    use crate::process::FailureKind;
    Ok(match failure.kind {
        FailureKind::RepositoryDoesNotExist => Connection::ReadyForNew,
        // It opened far enough to want the passphrase: a repository is there.
        FailureKind::PassphraseWrong | FailureKind::NoPassphrase => Connection::RepositoryThere,
        FailureKind::PathNotAllowed => Connection::Problem(Problem::PathOutsideRestriction),
        _ => Connection::Problem(
            classify(&failure.message).unwrap_or(Problem::Other(failure.message)),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorized_keys_line_forces_borg_serve_below_the_path() {
        assert_eq!(
            authorized_keys_line("ssh-ed25519 AAAAC3Nza me@pc\n", "/volume1/borg/me"),
            "command=\"borg serve --restrict-to-path /volume1/borg/me\",restrict ssh-ed25519 AAAAC3Nza me@pc"
        );
    }

    #[test]
    fn ssh_complaints_are_told_apart() {
        assert_eq!(
            classify("ssh: connect to host 127.0.0.1 port 1: Connection refused"),
            Some(Problem::Refused)
        );
        assert_eq!(
            classify("@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@"),
            Some(Problem::HostKeyChanged)
        );
        assert_eq!(
            classify("No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed."),
            Some(Problem::HostKeyUnknown)
        );
        assert_eq!(
            classify("me@nas: Permission denied (publickey)."),
            Some(Problem::KeyNotInstalled)
        );
    }
}
