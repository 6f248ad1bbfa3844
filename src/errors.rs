//! Kastell's error rules, the one kind of failure the window decides on, and the report
//! people read.
//!
//! The rules every module follows:
//!
//! 1. A module that can fail has its own error enum (thiserror), named for the module
//!    (`ReadError`, `BrowseError`, `RestoreError`, ...). No `Result<_, String>` crosses a module,
//!    and no meaning is coded into text (no prefixes, no wording a caller tests).
//! 2. A variant keeps the error it came from (`#[source]` or `#[from]`), never its text alone,
//!    so a caller can still tell a wrong passphrase from a damaged repository.
//! 3. A message is a sentence for people and already says its cause's words, so
//!    `to_string()` is what the window shows. The command line prints [`report`], which adds
//!    each cause of the chain once (anyhow's contexts say only their own words).
//! 4. Code decides on kinds, never on wording: [`ErrorKind`] (from `kind()` on each enum) is
//!    what the window's QML sees, as one enum; tests match on variants.
//! 5. `anyhow` lives only in the command line (`cli/`) and `main`; the core returns enums.
//! 6. Nothing a person can reach panics: no `unwrap()` on their input, files or repositories.

use std::error::Error;

use crate::browse::{BrowseError, OpenError};
use crate::config::ConfigError;
use crate::index::IndexError;
use crate::process::{FailureKind, ProcessError};
use crate::reader::ReadError;

/// What went wrong, as much as the window needs to offer the next step (ask for the
/// passphrase, unlock the wallet, wait for the lock, check the network, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// borg or Kastell was given a passphrase that does not open the key.
    PassphraseWrong,
    /// The repository is encrypted and no passphrase was found.
    PassphraseMissing,
    /// Kastell's passcommand could not reach the wallet (locked, or no Secret Service).
    WalletUnavailable,
    /// The keyfile of a keyfile-encrypted repository is not where borg looks.
    KeyMissing,
    RepositoryMissing,
    /// Another borg holds the repository's lock.
    Locked,
    /// ssh or `borg serve` could not be reached, or refused the path.
    Unreachable,
    ArchiveMissing,
    /// The borgmatic config cannot be read, or borgmatic refused it.
    ConfigInvalid,
    /// borg or borgmatic is missing, too old or too new.
    ToolMissing,
    DiskFull,
    /// borg knew the repository under another address.
    Relocated,
    /// borg's security record refuses the repository (swapped, rolled back, unknown).
    Refused,
    /// The repository's data is damaged or gone (a chunk removed by compact, a bad object).
    Damaged,
    /// Kastell's reader cannot read this repository; the borg process can.
    Unsupported,
    /// A path or file is not in the archive.
    NotFound,
    Cancelled,
    /// What the person typed is not valid (a time, a calendar expression).
    BadInput,
    /// No systemd user instance runs to start a schedule.
    NoScheduler,
    Other,
}

/// `error`'s message and each cause below it that the message does not already say, joined
/// by ": " (what the command line prints).
pub fn report(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let said = e.to_string();
        if !said.is_empty() && !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = e.source();
    }
    text
}

impl FailureKind {
    pub fn kind(self) -> ErrorKind {
        match self {
            FailureKind::PassphraseWrong => ErrorKind::PassphraseWrong,
            FailureKind::NoPassphrase => ErrorKind::PassphraseMissing,
            FailureKind::WalletUnavailable => ErrorKind::WalletUnavailable,
            FailureKind::RepositoryDoesNotExist => ErrorKind::RepositoryMissing,
            FailureKind::LockTimeout => ErrorKind::Locked,
            FailureKind::HostUnreachable
            | FailureKind::ConnectionClosed
            | FailureKind::PathNotAllowed => ErrorKind::Unreachable,
            FailureKind::ArchiveDoesNotExist => ErrorKind::ArchiveMissing,
            FailureKind::ConfigInvalid => ErrorKind::ConfigInvalid,
            FailureKind::DiskFull => ErrorKind::DiskFull,
            FailureKind::RepositoryRelocated => ErrorKind::Relocated,
            FailureKind::Other => ErrorKind::Other,
        }
    }
}

impl ProcessError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProcessError::ToolMissing { .. }
            | ProcessError::ToolTooOld { .. }
            | ProcessError::ToolUnsupported { .. } => ErrorKind::ToolMissing,
            ProcessError::Cancelled => ErrorKind::Cancelled,
            ProcessError::Failed(failure) => failure.kind.kind(),
            ProcessError::Spawn { .. } | ProcessError::BadOutput { .. } => ErrorKind::Other,
        }
    }
}

impl ReadError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ReadError::NotARepository(_) => ErrorKind::RepositoryMissing,
            ReadError::Unsupported(_) => ErrorKind::Unsupported,
            ReadError::Corrupt(_) | ReadError::MissingObject(_) | ReadError::Moved(_) => {
                ErrorKind::Damaged
            }
            ReadError::WrongPassphrase => ErrorKind::PassphraseWrong,
            ReadError::NoPassphrase => ErrorKind::PassphraseMissing,
            ReadError::KeyfileNotFound(_) => ErrorKind::KeyMissing,
            ReadError::NoSuchArchive(_) => ErrorKind::ArchiveMissing,
            ReadError::Remote(_) => ErrorKind::Unreachable,
            ReadError::Locked(_) => ErrorKind::Locked,
            ReadError::Refused(_) => ErrorKind::Refused,
            ReadError::Io(_, e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => {
                ErrorKind::DiskFull
            }
            ReadError::Io(..) => ErrorKind::Other,
        }
    }
}

impl IndexError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            IndexError::Read(e) => e.kind(),
            IndexError::Cancelled => ErrorKind::Cancelled,
            IndexError::Io { source, .. } if source.raw_os_error() == Some(nix::libc::ENOSPC) => {
                ErrorKind::DiskFull
            }
            IndexError::Io { .. } | IndexError::Malformed(_) => ErrorKind::Other,
        }
    }
}

impl ConfigError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::ConfigInvalid
    }
}

impl OpenError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            OpenError::Unsupported(_) => ErrorKind::Unsupported,
            OpenError::Read { source, .. } => source.kind(),
            OpenError::PassphraseFile { .. } => ErrorKind::PassphraseMissing,
            OpenError::Task(_) => ErrorKind::Other,
        }
    }
}

impl BrowseError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            BrowseError::Config(_) | BrowseError::NoSuchRepository { .. } => {
                ErrorKind::ConfigInvalid
            }
            BrowseError::Unsupported(_) => ErrorKind::Unsupported,
            BrowseError::Open(e) => e.kind(),
            BrowseError::Read { source, .. } | BrowseError::Reader(source) => source.kind(),
            BrowseError::Index(e) => e.kind(),
            BrowseError::NotFound(_) => ErrorKind::NotFound,
            BrowseError::Copy(_) | BrowseError::Task(_) => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read /x: {0}")]
    struct Saying(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("opening the config")]
    struct Context(#[source] Saying);

    #[test]
    fn a_report_says_each_cause_once() {
        let io = || std::io::Error::from_raw_os_error(nix::libc::ENOENT);
        let saying = Saying(io());
        assert_eq!(
            report(&saying),
            format!("cannot read /x: {}", io()),
            "a message that already says its cause is not repeated"
        );
        assert_eq!(
            report(&Context(Saying(io()))),
            format!("opening the config: cannot read /x: {}", io())
        );
    }

    #[test]
    fn a_wrong_passphrase_is_told_apart_from_a_damaged_repository() {
        let wrong = BrowseError::Read {
            context: "local: archive a".into(),
            source: ReadError::WrongPassphrase,
        };
        let damaged = BrowseError::Read {
            context: "local: archive a".into(),
            source: ReadError::corrupt("bad object"),
        };
        assert_eq!(wrong.kind(), ErrorKind::PassphraseWrong);
        assert_eq!(damaged.kind(), ErrorKind::Damaged);
        assert_eq!(
            wrong.to_string(),
            "local: archive a: the passphrase is wrong"
        );
    }
}
