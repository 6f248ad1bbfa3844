//! Runs one borg or borgmatic process: drains stdout and stderr concurrently, parses stderr
//! into events as it arrives, and stops the process cleanly when cancelled.

use super::command::Invocation;
use super::error::{BorgFailure, ProcessError};
use super::logjson::{parse_line, LogLine};
use crate::events::{Event, EventSink};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// How long borg gets after SIGINT to write its checkpoint before SIGTERM (and later SIGKILL).
pub const CANCEL_GRACE: Duration = Duration::from_secs(30);
const TERM_GRACE: Duration = Duration::from_secs(5);
/// stderr lines kept for error classification and the run's log tail.
const KEPT_LINES: usize = 400;

/// A process that ran to its end.
#[derive(Debug)]
pub struct Completed {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The last stderr lines, parsed.
    pub lines: Vec<LogLine>,
}

impl Completed {
    /// borg exits 1 for warnings; borgmatic 0 or 1. Anything above is an error.
    pub fn succeeded(&self) -> bool {
        self.status.success()
    }

    /// Turns a failed run into a typed failure.
    pub fn into_result(self) -> Result<Completed, ProcessError> {
        if self.succeeded() {
            Ok(self)
        } else {
            Err(ProcessError::Failed(BorgFailure::classify(
                &self.lines,
                self.status.code(),
            )))
        }
    }
}

/// Runs `invocation`, reporting every stderr line to `sink`. On cancellation the whole
/// process group gets SIGINT (as Ctrl-C would), then SIGTERM, then SIGKILL.
pub async fn run(
    invocation: Invocation,
    sink: &dyn EventSink,
    cancel: &CancellationToken,
) -> Result<Completed, ProcessError> {
    let mut command = tokio::process::Command::new(&invocation.program);
    command
        .args(&invocation.args)
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .stdin(if invocation.stdin_secret.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a cancel reaches borg under borgmatic too.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &invocation.cwd {
        command.current_dir(cwd);
    }

    // The passphrase travels through a pipe whose read end the child inherits.
    let passphrase_fd: Option<OwnedFd> = match &invocation.passphrase {
        Some(secret) => {
            Some(
                passphrase_pipe(secret.expose()).map_err(|source| ProcessError::Spawn {
                    program: invocation.label.clone(),
                    source,
                })?,
            )
        }
        None => None,
    };
    if let Some(fd) = &passphrase_fd {
        let raw = fd.as_raw_fd();
        command.env("BORG_PASSPHRASE_FD", raw.to_string());
        // SAFETY: fcntl is async-signal-safe; this only clears close-on-exec on our pipe's
        // read end so that borg inherits it.
        unsafe {
            command.pre_exec(move || {
                let flags = nix::libc::fcntl(raw, nix::libc::F_GETFD);
                if flags < 0
                    || nix::libc::fcntl(raw, nix::libc::F_SETFD, flags & !nix::libc::FD_CLOEXEC) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    let mut child = command.spawn().map_err(|source| ProcessError::Spawn {
        program: invocation.program.display().to_string(),
        source,
    })?;
    // The child has its copy; ours must close so borg sees EOF after the passphrase.
    drop(passphrase_fd);
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    if let (Some(mut stdin), Some(answers)) = (child.stdin.take(), invocation.stdin_secret.clone())
    {
        use tokio::io::AsyncWriteExt;
        // Small enough for the pipe buffer; closing stdin tells borg there is no more.
        tokio::spawn(async move {
            let _ = stdin.write_all(answers.expose().as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    sink.emit(Event::ProcessStarted {
        program: invocation
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        action: invocation.label.clone(),
    });

    let mut stdout = child.stdout.take().ok_or_else(|| ProcessError::BadOutput {
        program: invocation.label.clone(),
        detail: "no stdout pipe".into(),
    })?;
    let stderr = child.stderr.take().ok_or_else(|| ProcessError::BadOutput {
        program: invocation.label.clone(),
        detail: "no stderr pipe".into(),
    })?;

    let stream_stdout = invocation.stream_stdout;
    let read_stdout = async {
        let mut buf = Vec::new();
        if !stream_stdout {
            let _ = stdout.read_to_end(&mut buf).await;
            return buf;
        }
        let mut reader = BufReader::new(stdout);
        loop {
            let start = buf.len();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = parse_line(&String::from_utf8_lossy(&buf[start..]));
                    if !matches!(line, LogLine::Text(_)) {
                        sink.emit(Event::Line(line));
                    }
                }
            }
        }
        buf
    };
    let read_stderr = async {
        let mut reader = BufReader::new(stderr);
        let mut kept = VecDeque::with_capacity(KEPT_LINES);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = parse_line(&String::from_utf8_lossy(&raw));
                    if kept.len() == KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line.clone());
                    sink.emit(Event::Line(line));
                }
            }
        }
        kept
    };
    let wait = async {
        tokio::select! {
            status = child.wait() => (status, false),
            _ = cancel.cancelled() => {
                let status = stop_gracefully(&mut child, pid).await;
                (status, true)
            }
        }
    };

    let (stdout_bytes, lines, (status, was_cancelled)) =
        tokio::join!(read_stdout, read_stderr, wait);
    let status = status.map_err(|source| ProcessError::Spawn {
        program: invocation.label.clone(),
        source,
    })?;
    sink.emit(Event::ProcessFinished {
        code: status.code(),
    });
    if was_cancelled {
        return Err(ProcessError::Cancelled);
    }
    Ok(Completed {
        status,
        stdout: stdout_bytes,
        lines: lines.into_iter().collect(),
    })
}

async fn stop_gracefully(
    child: &mut tokio::process::Child,
    pid: Option<Pid>,
) -> std::io::Result<ExitStatus> {
    let Some(pid) = pid else {
        return child.wait().await;
    };
    for (signal, grace) in [
        (Signal::SIGINT, CANCEL_GRACE),
        (Signal::SIGTERM, TERM_GRACE),
    ] {
        let _ = killpg(pid, signal);
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            return status;
        }
    }
    let _ = killpg(pid, Signal::SIGKILL);
    child.wait().await
}

fn passphrase_pipe(passphrase: &str) -> std::io::Result<OwnedFd> {
    use std::io::Write;
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // A passphrase is far below the pipe buffer (64 KiB), so this write cannot block.
    let mut writer = std::fs::File::from(write);
    writer.write_all(passphrase.as_bytes())?;
    writer.write_all(b"\n")?;
    drop(writer);
    Ok(read)
}

/// Runs one borg or borgmatic call to its end (no events, no cancel): its failure typed.
pub async fn run_to_end(invocation: Invocation) -> Result<Completed, ProcessError> {
    run(
        invocation,
        &crate::events::Discard,
        &CancellationToken::new(),
    )
    .await
    .and_then(|c| c.into_result())
}
