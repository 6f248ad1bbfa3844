//! `Failure`: the one kind of error QML decides on (`Failure.WalletUnavailable`): the core's
//! `errors::ErrorKind`, with `None` for "no error". Bridges expose it as an `int` property
//! (`errorKind`), which QML compares with these values.

#[cxx_qt::bridge]
pub mod qobject {
    #[qml_element]
    qnamespace!("Failure");

    /// The core's `ErrorKind`, in the same order, after `None`.
    #[qenum]
    #[namespace = "Failure"]
    enum Kind {
        None,
        PassphraseWrong,
        PassphraseMissing,
        WalletUnavailable,
        KeyMissing,
        RepositoryMissing,
        Locked,
        Unreachable,
        ArchiveMissing,
        ConfigInvalid,
        ToolMissing,
        DiskFull,
        Relocated,
        Refused,
        Damaged,
        Unsupported,
        NotFound,
        Cancelled,
        BadInput,
        NoScheduler,
        Other,
    }
}

use crate::errors::ErrorKind;
use qobject::Kind;

/// The value of an `errorKind` property: `Failure.None` when there is no error.
pub fn code(kind: Option<ErrorKind>) -> i32 {
    let kind = match kind {
        None => Kind::None,
        Some(ErrorKind::PassphraseWrong) => Kind::PassphraseWrong,
        Some(ErrorKind::PassphraseMissing) => Kind::PassphraseMissing,
        Some(ErrorKind::WalletUnavailable) => Kind::WalletUnavailable,
        Some(ErrorKind::KeyMissing) => Kind::KeyMissing,
        Some(ErrorKind::RepositoryMissing) => Kind::RepositoryMissing,
        Some(ErrorKind::Locked) => Kind::Locked,
        Some(ErrorKind::Unreachable) => Kind::Unreachable,
        Some(ErrorKind::ArchiveMissing) => Kind::ArchiveMissing,
        Some(ErrorKind::ConfigInvalid) => Kind::ConfigInvalid,
        Some(ErrorKind::ToolMissing) => Kind::ToolMissing,
        Some(ErrorKind::DiskFull) => Kind::DiskFull,
        Some(ErrorKind::Relocated) => Kind::Relocated,
        Some(ErrorKind::Refused) => Kind::Refused,
        Some(ErrorKind::Damaged) => Kind::Damaged,
        Some(ErrorKind::Unsupported) => Kind::Unsupported,
        Some(ErrorKind::NotFound) => Kind::NotFound,
        Some(ErrorKind::Cancelled) => Kind::Cancelled,
        Some(ErrorKind::BadInput) => Kind::BadInput,
        Some(ErrorKind::NoScheduler) => Kind::NoScheduler,
        Some(ErrorKind::Other) => Kind::Other,
    };
    kind.repr
}
