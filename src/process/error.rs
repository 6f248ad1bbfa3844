//! Failures of borg and borgmatic, typed by borg's msgid so the UI can say what happened in
//! plain words (and offer the right next step).

use super::logjson::LogLine;
use super::tools::Tool;

/// What went wrong, as far as the user is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    PassphraseWrong,
    NoPassphrase,
    RepositoryDoesNotExist,
    LockTimeout,
    /// ssh could not reach or log in to the host.
    HostUnreachable,
    /// The connection to `borg serve` closed (the remote end failed or was killed).
    ConnectionClosed,
    /// The server's `--restrict-to-path` refused this path.
    PathNotAllowed,
    ArchiveDoesNotExist,
    /// borgmatic refused the configuration.
    ConfigInvalid,
    /// Kastell's passcommand could not reach the wallet (locked, or no Secret Service).
    WalletUnavailable,
    /// The disk holding the repository (or borg's cache) is full.
    DiskFull,
    /// borg knew this repository under another address and asked whether to go on (no one
    /// can answer in a background run, so it aborted).
    RepositoryRelocated,
    Other,
}

/// A borg or borgmatic run that ended in an error.
#[derive(Debug, Clone, PartialEq)]
pub struct BorgFailure {
    pub kind: FailureKind,
    /// borg's msgid when it sent one (`PassphraseWrong`, `LockTimeout`, ...).
    pub msgid: Option<String>,
    /// The most telling line: borg's error record, or ssh's reason.
    pub message: String,
    pub exit_code: Option<i32>,
}

impl BorgFailure {
    /// A sentence for people, naming the repository when one is known.
    pub fn user_message(&self, repository: Option<&str>) -> String {
        let repo = repository
            .map(|r| format!(" for repository “{r}”"))
            .unwrap_or_default();
        let at = repository.map(|r| format!(" “{r}”")).unwrap_or_default();
        match self.kind {
            FailureKind::PassphraseWrong => format!(
                "The passphrase{repo} is wrong. Check encryption_passphrase or encryption_passcommand in the config."
            ),
            FailureKind::NoPassphrase => format!(
                "No passphrase is available{repo}. Add encryption_passphrase or encryption_passcommand to the config."
            ),
            FailureKind::RepositoryDoesNotExist => format!(
                "The repository{at} does not exist (or is not a borg repository): {}",
                self.message
            ),
            FailureKind::LockTimeout => format!(
                "The repository{at} is locked by another borg process (a backup may be running). Try again when it has finished."
            ),
            FailureKind::HostUnreachable => {
                format!("Cannot reach the backup server{repo}: {}", self.message)
            }
            FailureKind::ConnectionClosed => format!(
                "The connection to the backup server{repo} closed unexpectedly. Is borg installed and working on the server? ({})",
                self.message
            ),
            FailureKind::PathNotAllowed => format!(
                "The server refused this repository path{repo}: its SSH key only allows other paths. ({})",
                self.message
            ),
            FailureKind::ArchiveDoesNotExist => {
                format!("The archive does not exist{repo}: {}", self.message)
            }
            FailureKind::ConfigInvalid => format!("borgmatic rejected the configuration: {}", self.message),
            FailureKind::WalletUnavailable => format!(
                "The passphrase{repo} is kept in the wallet, and {}",
                self.message.trim_start_matches("kastell: ")
            ),
            FailureKind::DiskFull => format!(
                "The disk{at} is full: borg could not write. Free some space (or prune old archives), then back up again. ({})",
                self.message
            ),
            FailureKind::RepositoryRelocated => format!(
                "borg knew the repository{at} under another address and stopped rather than guess ({}). If it is the same repository, add `relocated_repo_access_is_ok: true` to the config; borg remembers the new address after that.",
                self.message.trim_start_matches("Warning: ").trim_end_matches("Do you want to continue? [yN] ").trim()
            ),
            FailureKind::Other => self.message.clone(),
        }
    }

    /// Classifies a failed run from its parsed stderr and exit code.
    pub fn classify(lines: &[LogLine], exit_code: Option<i32>) -> Self {
        let borg_error = lines.iter().find(|l| l.is_error() && l.msgid().is_some());
        let msgid = borg_error.and_then(|l| l.msgid()).map(str::to_string);
        let mut kind = msgid
            .as_deref()
            .map(kind_from_msgid)
            .unwrap_or(FailureKind::Other);
        if kind == FailureKind::Other {
            // borgmatic reports borg's (modern) exit code in its own message.
            if let Some(code) = lines
                .iter()
                .find_map(|l| borgmatic_reported_exit_code(&l.text()))
            {
                kind = kind_from_exit_code(code);
            }
        }
        // Kastell's own passcommand says why it failed on stderr, which borgmatic passes through.
        if let Some(wallet) = lines
            .iter()
            .map(LogLine::text)
            .find(|t| t.starts_with("kastell: the wallet is locked"))
        {
            return BorgFailure {
                kind: FailureKind::WalletUnavailable,
                msgid,
                message: wallet,
                exit_code,
            };
        }
        // borg's "previously located at" question, answered "no" because nobody can answer.
        if let Some(question) = lines
            .iter()
            .map(LogLine::text)
            .find(|t| t.contains("was previously located at"))
        {
            return BorgFailure {
                kind: FailureKind::RepositoryRelocated,
                msgid,
                message: question,
                exit_code,
            };
        }
        let ssh_reason = lines.iter().map(LogLine::text).find(|t| is_ssh_failure(t));
        if matches!(kind, FailureKind::ConnectionClosed | FailureKind::Other) {
            if let Some(reason) = &ssh_reason {
                return BorgFailure {
                    kind: FailureKind::HostUnreachable,
                    msgid,
                    message: reason
                        .trim_start_matches("Remote: ")
                        .trim_start_matches("ssh: ")
                        .to_string(),
                    exit_code,
                };
            }
        }
        if matches!(kind, FailureKind::Other)
            && lines.iter().any(|l| {
                let t = l.text();
                t.contains("No space left on device") || t.contains("Insufficient free space")
            })
        {
            kind = FailureKind::DiskFull;
        }
        if kind == FailureKind::Other
            && lines.iter().any(|l| {
                let t = l.text();
                t.contains("configuration")
                    && (t.contains("invalid") || t.contains("Error parsing"))
            })
        {
            kind = FailureKind::ConfigInvalid;
        }
        let disk_full_line = (kind == FailureKind::DiskFull)
            .then(|| {
                lines.iter().map(LogLine::text).find(|t| {
                    t.contains("No space left on device") || t.contains("Insufficient free space")
                })
            })
            .flatten();
        let message = disk_full_line
            .or_else(|| borg_error.map(LogLine::text))
            .or_else(|| first_error_text(lines))
            .unwrap_or_else(|| match exit_code {
                Some(c) => format!("exited with code {c}"),
                None => "was stopped by a signal".to_string(),
            });
        BorgFailure {
            kind,
            msgid,
            message,
            exit_code,
        }
    }
}

fn first_error_text(lines: &[LogLine]) -> Option<String> {
    // borgmatic's own summary lines ("An error occurred", "Error running configuration") say
    // nothing; prefer the first error line that does.
    const NOISE: &[&str] = &[
        "An error occurred",
        "Error running actions for repository",
        "Error running configuration",
        "summary:",
        "",
    ];
    lines
        .iter()
        .filter(|l| l.is_error())
        .map(LogLine::text)
        .find(|t| {
            !NOISE.contains(&t.as_str())
                && !t.starts_with("Need some help?")
                && !t.starts_with("Command '")
        })
        .or_else(|| {
            lines
                .iter()
                .rev()
                .filter_map(|l| match l {
                    LogLine::Text(t) if !t.trim().is_empty() => Some(t.clone()),
                    _ => None,
                })
                .next()
        })
}

fn kind_from_msgid(msgid: &str) -> FailureKind {
    match msgid {
        "PassphraseWrong" => FailureKind::PassphraseWrong,
        "NoPassphraseFailure" | "PasscommandFailure" | "PasswordRetriesExceeded" => {
            FailureKind::NoPassphrase
        }
        "Repository.DoesNotExist"
        | "Repository.InvalidRepository"
        | "Repository.ParentPathDoesNotExist" => FailureKind::RepositoryDoesNotExist,
        "LockTimeout" | "LockFailed" | "LockError" => FailureKind::LockTimeout,
        "ConnectionClosed"
        | "ConnectionClosedWithHint"
        | "ConnectionBroken"
        | "ConnectionBrokenWithHint" => FailureKind::ConnectionClosed,
        "PathNotAllowed" => FailureKind::PathNotAllowed,
        "Archive.DoesNotExist" => FailureKind::ArchiveDoesNotExist,
        "Repository.InsufficientFreeSpaceError" => FailureKind::DiskFull,
        _ => FailureKind::Other,
    }
}

/// borg's modern exit codes (`BORG_EXIT_CODES=modern`, which borgmatic 2 sets).
fn kind_from_exit_code(code: i32) -> FailureKind {
    match code {
        52 => FailureKind::PassphraseWrong,
        50 | 51 | 53 => FailureKind::NoPassphrase,
        13 | 15 => FailureKind::RepositoryDoesNotExist,
        70..=75 => FailureKind::LockTimeout,
        80 | 81 | 87 => FailureKind::ConnectionClosed,
        83 => FailureKind::PathNotAllowed,
        31 => FailureKind::ArchiveDoesNotExist,
        _ => FailureKind::Other,
    }
}

fn borgmatic_reported_exit_code(text: &str) -> Option<i32> {
    let rest = text.split("returned non-zero exit status ").nth(1)?;
    rest.trim_end_matches('.').trim().parse().ok()
}

fn is_ssh_failure(text: &str) -> bool {
    const SIGNS: &[&str] = &[
        "ssh: connect to host",
        "ssh: Could not resolve hostname",
        "Connection refused",
        "No route to host",
        "Permission denied (publickey",
        "Host key verification failed",
        "Connection timed out",
        "Network is unreachable",
    ];
    SIGNS.iter().any(|s| text.contains(s))
}

/// Everything that can stop a borg or borgmatic call.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{tool} is not installed (Kastell needs {tool} {needed} or newer). Run `make setup`, or install it with your package manager.", tool = tool.name(), needed = tool.minimum())]
    ToolMissing { tool: Tool },
    #[error("{tool} {found} is too old: Kastell needs {tool} {needed} or newer.", tool = tool.name(), needed = tool.minimum())]
    ToolTooOld { tool: Tool, found: String },
    #[error("{tool} {found} is not supported: Kastell works with {tool} {supported}.", tool = tool.name())]
    ToolUnsupported {
        tool: Tool,
        found: String,
        supported: &'static str,
    },
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{}", .0.user_message(None))]
    Failed(BorgFailure),
    #[error("cancelled")]
    Cancelled,
    #[error("unexpected output from {program}: {detail}")]
    BadOutput { program: String, detail: String },
}

impl ProcessError {
    /// The message for people, naming the repository the call was about.
    pub fn user_message(&self, repository: Option<&str>) -> String {
        match self {
            ProcessError::Failed(f) => f.user_message(repository),
            other => other.to_string(),
        }
    }

    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            ProcessError::Failed(f) => Some(f.kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::logjson::parse_line;
    use super::*;

    fn lines(raw: &[&str]) -> Vec<LogLine> {
        raw.iter().map(|l| parse_line(l)).collect()
    }

    #[test]
    fn a_repository_borg_knew_elsewhere_says_how_to_accept_the_new_address() {
        // What borg 1.4.5 printed under borgmatic for an scp-style location of a repository
        // first used as ssh://host:port/path.
        let f = BorgFailure::classify(
            &lines(&[
                r#"{"type": "question_prompt", "msgid": "BORG_RELOCATED_REPO_ACCESS_IS_OK", "message": "Warning: The repository at location ssh://me@nas/srv/repo was previously located at ssh://me@nas:2222/srv/repo\nDo you want to continue? [yN] "}"#,
                r#"{"type": "question_accepted_false", "msgid": "BORG_RELOCATED_REPO_ACCESS_IS_OK", "message": "Aborting."}"#,
                "Repository access aborted",
            ]),
            Some(62),
        );
        assert_eq!(f.kind, FailureKind::RepositoryRelocated);
        let text = f.user_message(Some("nas"));
        assert!(text.contains("relocated_repo_access_is_ok: true"), "{text}");
        assert!(text.contains("ssh://me@nas:2222/srv/repo"), "{text}");
    }

    #[test]
    fn unreachable_ssh_host_is_told_apart_from_a_closed_connection() {
        let f = BorgFailure::classify(
            &lines(&[
                r#"{"type": "log_message", "message": "Remote: ssh: connect to host 127.0.0.1 port 2999: Connection refused", "levelname": "WARNING", "name": "root"}"#,
                r#"{"type": "log_message", "message": "Connection closed by remote host. Is borg working on the server?", "levelname": "ERROR", "name": "borg.archiver", "msgid": "ConnectionClosedWithHint"}"#,
            ]),
            Some(1),
        );
        assert_eq!(f.kind, FailureKind::HostUnreachable);
        assert!(f.message.contains("Connection refused"), "{}", f.message);
    }

    #[test]
    fn exit_code_in_borgmatic_summary_classifies_when_no_msgid_came_through() {
        let f = BorgFailure::classify(
            &lines(&[
                r#"{"type": "log_message", "message": "Command 'borg list --json /r' returned non-zero exit status 73.", "levelname": "CRITICAL", "name": "borgmatic.commands.borgmatic"}"#,
            ]),
            Some(1),
        );
        assert_eq!(f.kind, FailureKind::LockTimeout);
    }

    #[test]
    fn a_locked_wallet_is_not_reported_as_a_wrong_passphrase() {
        let f = BorgFailure::classify(
            &lines(&[
                "kastell: the wallet is locked or no wallet service is running, so Kastell cannot reach the passphrase of /c.yaml. Open (unlock) the wallet and try again, or type the passphrase for this run. (SS error: prompt dismissed)",
                r#"{"type": "log_message", "message": "/c.yaml: Error getting local Borg version", "levelname": "CRITICAL", "name": "borgmatic.commands.borgmatic"}"#,
            ]),
            Some(1),
        );
        assert_eq!(f.kind, FailureKind::WalletUnavailable);
        let text = f.user_message(Some("nas"));
        assert!(
            text.contains("kept in the wallet") && text.contains("the wallet is locked"),
            "{text}"
        );
        assert!(!text.contains("wrong"), "{text}");
    }

    #[test]
    fn wrong_passphrase_message_names_the_repository() {
        let f = BorgFailure::classify(
            &lines(&[
                r#"{"type": "log_message", "message": "Passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND, or via BORG_PASSPHRASE_FD is incorrect.", "levelname": "ERROR", "name": "borg.archiver", "msgid": "PassphraseWrong"}"#,
            ]),
            Some(1),
        );
        assert_eq!(f.kind, FailureKind::PassphraseWrong);
        assert!(f.user_message(Some("local-nas")).contains("“local-nas”"));
    }
}
