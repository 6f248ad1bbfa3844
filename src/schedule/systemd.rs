//! The systemd user instance, through `systemctl --user` and `systemd-analyze` (the programs
//! every systemd ships; their output for the few things asked here is stable).

use super::ScheduleError;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// systemctl waits for the manager; a manager that hangs must not hang Kastell.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

struct Answer {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn run(program: &str, args: &[&str]) -> Result<Answer, ScheduleError> {
    let child = Command::new(program)
        .args(args)
        // Times in what systemctl and systemd-analyze print are then in UTC.
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(ANSWER_WITHIN, child)
        .await
        .map_err(|_| ScheduleError::NoAnswer {
            command: format!("{program} {}", args.join(" ")),
        })?
        .map_err(|source| ScheduleError::Spawn {
            program: program.to_string(),
            source,
        })?;
    Ok(Answer {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

/// `systemctl --user ARGS`; a manager that cannot be reached is `NoUserInstance`.
async fn systemctl(args: &[&str]) -> Result<Answer, ScheduleError> {
    let mut all = vec!["--user"];
    all.extend_from_slice(args);
    let answer = run("systemctl", &all).await?;
    if !answer.success && unreachable_manager(&answer.stderr) {
        return Err(ScheduleError::NoUserInstance {
            reason: answer.stderr,
        });
    }
    Ok(answer)
}

/// What systemctl says when no user manager answers (no session bus, no instance, or a
/// session bus whose attempt to start one failed).
fn unreachable_manager(stderr: &str) -> bool {
    stderr.contains("org.freedesktop.systemd1")
        || stderr.contains("Failed to connect to bus")
        || stderr.contains("Failed to connect to user scope bus")
        || stderr.contains("$DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined")
        || stderr.contains("System has not been booted with systemd")
}

async fn checked(args: &[&str]) -> Result<String, ScheduleError> {
    let answer = systemctl(args).await?;
    if answer.success {
        Ok(answer.stdout)
    } else {
        Err(ScheduleError::Systemctl {
            command: format!("systemctl --user {}", args.join(" ")),
            message: answer.stderr,
        })
    }
}

/// Whether a user manager answers (`is-enabled` alone does not tell: it reads the unit files
/// without one).
pub async fn manager_answers() -> bool {
    checked(&["show", "--property=Version"]).await.is_ok()
}

/// Makes the manager read the unit files again.
pub async fn reload() -> Result<(), ScheduleError> {
    checked(&["daemon-reload"]).await.map(drop)
}

/// Enables the timer and starts it now.
pub async fn enable_now(timer: &str) -> Result<(), ScheduleError> {
    checked(&["enable", "--now", timer]).await.map(drop)
}

/// Enables a unit without starting it (a drive's service starts when the drive comes).
pub async fn enable(unit: &str) -> Result<(), ScheduleError> {
    checked(&["enable", unit]).await.map(drop)
}

/// Disables a unit without stopping a run of it that is going on.
pub async fn disable(unit: &str) -> Result<(), ScheduleError> {
    disable_with(&["disable", unit]).await
}

/// Stops and disables the timer.
pub async fn disable_now(timer: &str) -> Result<(), ScheduleError> {
    disable_with(&["disable", "--now", timer]).await
}

/// `systemctl --user ARGS`, where a unit the manager does not know is fine.
async fn disable_with(args: &[&str]) -> Result<(), ScheduleError> {
    let answer = systemctl(args).await?;
    if answer.success || answer.stderr.contains("does not exist") {
        Ok(())
    } else {
        Err(ScheduleError::Systemctl {
            command: format!("systemctl --user {}", args.join(" ")),
            message: answer.stderr,
        })
    }
}

/// Whether the timer is enabled (`is-enabled` says `enabled` on its first line).
pub async fn is_enabled(timer: &str) -> Result<bool, ScheduleError> {
    let answer = systemctl(&["is-enabled", timer]).await?;
    Ok(answer.stdout.lines().next().map(str::trim) == Some("enabled"))
}

/// When the timer elapses next, in Unix milliseconds (None when it is not running).
pub async fn next_elapse(timer: &str) -> Result<Option<i64>, ScheduleError> {
    let out = checked(&["show", timer, "--property=NextElapseUSecRealtime"]).await?;
    Ok(parse_next_elapse(&out))
}

/// `NextElapseUSecRealtime=Thu 2026-12-03 03:23:35 UTC` (systemd 252 prints it so even with
/// `--timestamp=unix`; `TZ=UTC` makes it UTC), or `@1764763200` where `--timestamp=unix`
/// is honoured; empty or `n/a` when nothing is due.
fn parse_next_elapse(out: &str) -> Option<i64> {
    let value = out.lines().find_map(|l| {
        l.trim()
            .strip_prefix("NextElapseUSecRealtime=")
            .map(str::trim)
    })?;
    if let Some(seconds) = value.strip_prefix('@') {
        let seconds: i64 = seconds.parse().ok()?;
        return (seconds > 0).then(|| seconds * 1000);
    }
    utc_text_to_ms(value)
}

/// `Thu 2026-12-03 03:23:35 UTC` to Unix ms.
fn utc_text_to_ms(text: &str) -> Option<i64> {
    let mut words = text.split_whitespace();
    let _weekday = words.next()?;
    let date = words.next()?;
    let time = words.next()?;
    if words.next() != Some("UTC") {
        return None;
    }
    let civil: jiff::civil::DateTime = format!("{date}T{time}").parse().ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// Checks a calendar expression with `systemd-analyze calendar`; returns when it elapses
/// next (Unix ms) if systemd-analyze says. Without systemd-analyze nothing is checked.
pub async fn check_calendar(expression: &str) -> Result<Option<i64>, ScheduleError> {
    let answer = match run("systemd-analyze", &["calendar", expression]).await {
        Ok(answer) => answer,
        Err(ScheduleError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    if !answer.success {
        return Err(ScheduleError::BadCalendar {
            expression: expression.to_string(),
            reason: answer.stderr,
        });
    }
    Ok(parse_analyze_next(&answer.stdout))
}

/// `(in UTC): Thu 2026-12-03 12:00:00 UTC` from `systemd-analyze calendar`.
fn parse_analyze_next(out: &str) -> Option<i64> {
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("(in UTC):"))?;
    utc_text_to_ms(line.trim())
}

/// Runs `systemd-analyze --user verify` on unit files; the complaints, if any (None when the
/// files pass or systemd-analyze is missing).
pub async fn verify(files: &[&std::path::Path]) -> Result<Option<String>, ScheduleError> {
    let mut args = vec!["--user".to_string(), "verify".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run("systemd-analyze", &args).await {
        Ok(answer) if answer.success && answer.stderr.is_empty() => Ok(None),
        Ok(answer) => Ok(Some(answer.stderr)),
        Err(ScheduleError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_elapse_reads_unix_seconds_and_nothing_when_not_due() {
        assert_eq!(
            parse_next_elapse("NextElapseUSecRealtime=@1764763200\n"),
            Some(1_764_763_200_000)
        );
        assert_eq!(
            parse_next_elapse("NextElapseUSecRealtime=Wed 2026-12-02 23:00:00 UTC\n"),
            Some(1_796_252_400_000)
        );
        assert_eq!(parse_next_elapse("NextElapseUSecRealtime=\n"), None);
        assert_eq!(parse_next_elapse("NextElapseUSecRealtime=n/a\n"), None);
    }

    #[test]
    fn analyze_output_gives_the_next_time_in_utc() {
        let out = "  Original form: daily\nNormalized form: *-*-* 00:00:00\n    \
                   Next elapse: Thu 2026-12-03 00:00:00 CET\n       \
                   (in UTC): Wed 2026-12-02 23:00:00 UTC\n       From now: 19h left\n";
        assert_eq!(parse_analyze_next(out), Some(1_796_252_400_000));
    }

    #[test]
    fn a_missing_bus_is_no_user_instance() {
        assert!(unreachable_manager(
            "Failed to connect to bus: $DBUS_SESSION_BUS_ADDRESS and $XDG_RUNTIME_DIR not defined"
        ));
        assert!(unreachable_manager(
            "Reload daemon failed: Process org.freedesktop.systemd1 exited with status 1"
        ));
        assert!(!unreachable_manager("Unit foo.timer not found."));
    }
}
