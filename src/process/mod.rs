//! One process layer for borg and borgmatic: argument building, `--log-json` parsing into
//! typed lines, errors typed by borg's msgid, cancellation, and the passphrase over a pipe.

pub mod archives;
mod command;
mod error;
mod logjson;
mod runner;
mod tools;

pub use command::{BorgCommand, BorgmaticCommand, Invocation};
pub use error::{BorgFailure, FailureKind, ProcessError};
pub use logjson::{parse_line, LogLevel, LogLine};
pub use runner::{run, run_to_end, Completed, CANCEL_GRACE};
pub use tools::{locate, window_program, windowless_program, Tool, ToolInfo, Tools, Version};
