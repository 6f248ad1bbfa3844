//! borg's and borgmatic's `--log-json` lines, parsed into one enum.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    fn from_name(name: &str) -> Self {
        match name {
            "DEBUG" => LogLevel::Debug,
            "WARNING" | "WARN" => LogLevel::Warning,
            "ERROR" => LogLevel::Error,
            "CRITICAL" | "FATAL" => LogLevel::Critical,
            _ => LogLevel::Info,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// A log record from borg (`name` starts with `borg.`) or borgmatic.
    Message {
        level: LogLevel,
        message: String,
        msgid: Option<String>,
        logger: Option<String>,
    },
    /// `borg create --progress`: running totals.
    ArchiveProgress {
        original_size: u64,
        compressed_size: u64,
        deduplicated_size: u64,
        nfiles: u64,
        path: String,
        finished: bool,
    },
    /// A phase message such as `cache.begin_transaction`.
    ProgressMessage {
        msgid: Option<String>,
        message: Option<String>,
        finished: bool,
    },
    /// `extract --progress`, `check --progress`: a fraction of a known total.
    ProgressPercent {
        msgid: Option<String>,
        current: u64,
        total: u64,
        message: Option<String>,
        finished: bool,
    },
    /// `--list`: one item's status letter (A, M, U, E, x, -, ...).
    FileStatus { status: String, path: String },
    /// Anything that is not a JSON record (prompts, tracebacks, ssh's own messages).
    Text(String),
}

impl LogLine {
    pub fn msgid(&self) -> Option<&str> {
        match self {
            LogLine::Message { msgid, .. }
            | LogLine::ProgressMessage { msgid, .. }
            | LogLine::ProgressPercent { msgid, .. } => msgid.as_deref(),
            _ => None,
        }
    }

    /// The human text of the line, whatever its kind.
    pub fn text(&self) -> String {
        match self {
            LogLine::Message { message, .. } => message.clone(),
            LogLine::ArchiveProgress { path, .. } => path.clone(),
            LogLine::ProgressMessage { message, .. } | LogLine::ProgressPercent { message, .. } => {
                message.clone().unwrap_or_default()
            }
            LogLine::FileStatus { status, path } => format!("{status} {path}"),
            LogLine::Text(t) => t.clone(),
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self, LogLine::Message { level, .. } if *level >= LogLevel::Error)
    }
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    levelname: Option<String>,
    #[serde(default)]
    msgid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    original_size: u64,
    #[serde(default)]
    compressed_size: u64,
    #[serde(default)]
    deduplicated_size: u64,
    #[serde(default)]
    nfiles: u64,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    finished: bool,
    #[serde(default)]
    current: u64,
    #[serde(default)]
    total: u64,
    #[serde(default)]
    status: Option<String>,
}

/// Parses one line of stderr. Never fails: what is not a record becomes `Text`.
pub fn parse_line(line: &str) -> LogLine {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let Some(raw) = parse_record(trimmed) else {
        return LogLine::Text(trimmed.to_string());
    };
    match raw.kind.as_str() {
        "archive_progress" => LogLine::ArchiveProgress {
            original_size: raw.original_size,
            compressed_size: raw.compressed_size,
            deduplicated_size: raw.deduplicated_size,
            nfiles: raw.nfiles,
            path: raw.path.unwrap_or_default(),
            finished: raw.finished,
        },
        "progress_message" => LogLine::ProgressMessage {
            msgid: raw.msgid,
            message: raw.message,
            finished: raw.finished,
        },
        "progress_percent" => LogLine::ProgressPercent {
            msgid: raw.msgid,
            current: raw.current,
            total: raw.total,
            message: raw.message,
            finished: raw.finished,
        },
        "file_status" => LogLine::FileStatus {
            status: raw.status.unwrap_or_default(),
            path: raw.path.unwrap_or_default(),
        },
        _ => {
            let message = raw.message.unwrap_or_default();
            let level = LogLevel::from_name(raw.levelname.as_deref().unwrap_or("INFO"));
            // borgmatic relays borg's own JSON records as a string in `message`, sometimes after
            // a prompt ("Enter passphrase for key ...: {json}"). Unwrap them so the borg record
            // (and its msgid) is what callers see.
            if raw.msgid.is_none() {
                // borg's own records put "type" anywhere, so try from the first brace.
                if let Some(start) = message.find('{') {
                    if let inner @ LogLine::Message { .. }
                    | inner @ LogLine::ArchiveProgress { .. }
                    | inner @ LogLine::ProgressMessage { .. }
                    | inner @ LogLine::ProgressPercent { .. }
                    | inner @ LogLine::FileStatus { .. } = parse_line(&message[start..])
                    {
                        return inner;
                    }
                }
            }
            LogLine::Message {
                level,
                message,
                msgid: raw.msgid,
                logger: raw.name,
            }
        }
    }
}

fn parse_record(line: &str) -> Option<Raw> {
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borg_error_record_keeps_its_msgid() {
        let line = parse_line(
            r#"{"type": "log_message", "time": 1.0, "message": "Repository /x does not exist.", "levelname": "ERROR", "name": "borg.archiver", "msgid": "Repository.DoesNotExist"}"#,
        );
        assert_eq!(line.msgid(), Some("Repository.DoesNotExist"));
        assert!(line.is_error());
    }

    #[test]
    fn borg_record_nested_in_a_borgmatic_message_after_a_prompt_is_unwrapped() {
        let line = parse_line(
            r#"{"type": "log_message", "time": 1.0, "message": "Enter passphrase for key /r: {\"type\": \"log_message\", \"time\": 1.0, \"message\": \"Cannot acquire a passphrase\", \"levelname\": \"ERROR\", \"name\": \"borg.archiver\", \"msgid\": \"NoPassphraseFailure\"}", "levelname": "ERROR", "name": null}"#,
        );
        assert_eq!(line.msgid(), Some("NoPassphraseFailure"));
        assert_eq!(line.text(), "Cannot acquire a passphrase");
    }

    #[test]
    fn borg_progress_nested_in_a_borgmatic_message_is_unwrapped() {
        let line = parse_line(
            r#"{"type": "log_message", "time": 1.0, "message": "{\"original_size\": 10, \"compressed_size\": 5, \"deduplicated_size\": 2, \"nfiles\": 3, \"path\": \"/a\", \"time\": 1.0, \"type\": \"archive_progress\", \"finished\": false}", "levelname": "ERROR", "name": null}"#,
        );
        assert!(
            matches!(line, LogLine::ArchiveProgress { nfiles: 3, .. }),
            "{line:?}"
        );
    }

    #[test]
    fn progress_and_plain_text_lines_are_typed() {
        let p = parse_line(
            r#"{"type": "archive_progress", "original_size": 10, "compressed_size": 5, "deduplicated_size": 2, "nfiles": 3, "path": "/home/a", "time": 1.0, "finished": false}"#,
        );
        assert!(matches!(
            p,
            LogLine::ArchiveProgress {
                nfiles: 3,
                original_size: 10,
                ..
            }
        ));
        assert_eq!(
            parse_line("ssh: connect to host x port 22: Connection refused"),
            LogLine::Text("ssh: connect to host x port 22: Connection refused".into())
        );
    }
}
