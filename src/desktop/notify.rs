//! Desktop notifications (freedesktop Notifications over D-Bus, async on tokio): a failed run,
//! a successful one when the user wants that, and "no backup for N days" once per last success.

use crate::backup::RunReport;
use crate::history::{now_ms, History, HistoryError, Outcome};
use crate::preferences::Preferences;
use notify_rust::{Hint, Notification, NotificationHandle, NotificationResponse, Urgency};
use std::path::{Path, PathBuf};

/// The "Show details" action's id.
pub const DETAILS_ACTION: &str = "details";

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub summary: String,
    pub body: String,
    pub urgent: bool,
    /// The run whose details the action opens.
    pub run_id: Option<i64>,
}

fn config_name(config: &Path) -> String {
    config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| config.display().to_string())
}

/// What to tell the user about a finished run, if anything.
pub fn for_run(report: &RunReport, preferences: &Preferences) -> Option<Notice> {
    let name = config_name(&report.config);
    let action = match report.actions.name() {
        "backup" => "Backup",
        other => other,
    };
    let problems: Vec<String> = report
        .repositories
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error | Outcome::Warning))
        .map(|r| {
            format!(
                "{}: {}",
                r.repository,
                r.message.as_deref().unwrap_or(r.outcome.name())
            )
        })
        .collect();
    let body = match (&report.message, problems.is_empty()) {
        (Some(message), _) => message.clone(),
        (None, false) => problems.join("\n"),
        (None, true) => String::new(),
    };
    match report.outcome {
        Outcome::Error => Some(Notice {
            summary: format!("{action} of “{name}” failed"),
            body,
            urgent: true,
            run_id: Some(report.run_id),
        }),
        Outcome::Warning => Some(Notice {
            summary: format!("{action} of “{name}” finished with warnings"),
            body,
            urgent: false,
            run_id: Some(report.run_id),
        }),
        Outcome::Success if preferences.notify_on_success => Some(Notice {
            summary: format!("{action} of “{name}” finished"),
            body: report
                .repositories
                .iter()
                .map(|r| format!("{}: done", r.repository))
                .collect::<Vec<_>>()
                .join("\n"),
            urgent: false,
            run_id: Some(report.run_id),
        }),
        // A cancel is the user's own doing; success is quiet unless asked for.
        _ => None,
    }
}

fn notification(notice: &Notice) -> Notification {
    let mut notification = Notification::new();
    notification
        .appname("Kastell")
        .summary(&notice.summary)
        .body(&notice.body)
        .icon("org.kde.kastell")
        .hint(Hint::DesktopEntry("org.kde.kastell".into()))
        .urgency(if notice.urgent {
            Urgency::Critical
        } else {
            Urgency::Normal
        });
    notification
}

/// Shows `notice`. With `details_action`, the notification offers "Show details" (only
/// useful when the caller waits for the answer, as the window does).
pub async fn send(
    notice: &Notice,
    details_action: bool,
) -> Result<NotificationHandle, notify_rust::error::Error> {
    let mut notification = notification(notice);
    if details_action && notice.run_id.is_some() {
        // A button, and a click on the notification itself ("default") means the same.
        notification
            .action(DETAILS_ACTION, "Show details")
            .action("default", "Show details");
    }
    notification.show_async().await
}

/// Shows `notice` with one action (`id`, shown as `label`), e.g. "Open in Dolphin".
pub async fn send_with_action(
    notice: &Notice,
    id: &str,
    label: &str,
) -> Result<NotificationHandle, notify_rust::error::Error> {
    notification(notice).action(id, label).show_async().await
}

/// Waits until the user answers; true when they asked for the details.
pub async fn wants_details(handle: &NotificationHandle) -> bool {
    answered_with(handle, DETAILS_ACTION).await
}

/// Waits until the user answers; true when they chose action `id` (or clicked the
/// notification itself, which means the same).
pub async fn answered_with(handle: &NotificationHandle, id: &str) -> bool {
    let mut wanted = false;
    handle
        .wait_for_action_async(|response| {
            wanted = matches!(response, NotificationResponse::Action(a) if a == id)
                || matches!(response, NotificationResponse::Default);
        })
        .await;
    wanted
}

/// A repository whose last success is older than the user's threshold, not yet told about.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleRepository {
    pub config: PathBuf,
    pub repository: String,
    pub last_success: i64,
}

impl StaleRepository {
    pub fn notice(&self) -> Notice {
        let days = (now_ms() - self.last_success) as f64 / 86_400_000.0;
        Notice {
            summary: format!(
                "No backup of “{}” for {:.0} days",
                self.repository,
                days.floor()
            ),
            body: format!(
                "The last successful backup of “{}” ({}) is {:.1} days old.",
                self.repository,
                config_name(&self.config),
                days
            ),
            urgent: true,
            run_id: None,
        }
    }
}

/// Repositories whose last success is older than the threshold and that have not been
/// notified for that same last success (so the notice comes once, not every hour).
pub fn stale_repositories(
    history: &History,
    configs: &[(PathBuf, Vec<String>)],
    preferences: &Preferences,
) -> Result<Vec<StaleRepository>, HistoryError> {
    let threshold = i64::from(preferences.stale_after_hours) * 3_600_000;
    let now = now_ms();
    let mut stale = Vec::new();
    for (config, repositories) in configs {
        for repository in repositories {
            let Some(last) =
                history.last_repository_run(config, repository, Some(Outcome::Success))?
            else {
                continue;
            };
            let last_success = last.ended.unwrap_or(last.started);
            if now - last_success > threshold
                && !history.stale_notice_sent(config, repository, last_success)?
            {
                stale.push(StaleRepository {
                    config: config.clone(),
                    repository: repository.clone(),
                    last_success,
                });
            }
        }
    }
    Ok(stale)
}

/// Sends the stale notices and remembers them. Returns how many were sent. (The history is
/// opened on each side of the D-Bus calls: a connection cannot be held across them.)
pub async fn notify_stale(
    configs: &[(PathBuf, Vec<String>)],
    preferences: &Preferences,
) -> Result<usize, HistoryError> {
    let stale = stale_repositories(&History::open_default()?, configs, preferences)?;
    let mut sent = Vec::new();
    for repository in stale {
        if send(&repository.notice(), false).await.is_ok() {
            sent.push(repository);
        }
    }
    let history = History::open_default()?;
    for repository in &sent {
        history.record_stale_notice(
            &repository.config,
            &repository.repository,
            repository.last_success,
        )?;
    }
    Ok(sent.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{Actions, RepositoryReport};

    fn report(outcome: Outcome) -> RunReport {
        RunReport {
            run_id: 7,
            config: PathBuf::from("/home/u/.config/borgmatic/user.yaml"),
            actions: Actions::Backup,
            outcome,
            message: None,
            repositories: vec![RepositoryReport {
                repository: "nas".into(),
                outcome,
                stats: None,
                msgid: None,
                message: Some("Cannot reach the backup server".into()),
                may_break_lock: false,
                freed: None,
            }],
            log_path: None,
        }
    }

    #[test]
    fn a_failure_always_notifies_and_names_the_repository() {
        let notice = for_run(&report(Outcome::Error), &Preferences::default()).unwrap();
        assert_eq!(notice.summary, "Backup of “user” failed");
        assert!(notice.body.starts_with("nas: Cannot reach"));
        assert!(notice.urgent);
    }

    #[test]
    fn success_is_quiet_unless_asked_for() {
        assert_eq!(
            for_run(&report(Outcome::Success), &Preferences::default()),
            None
        );
        let loud = Preferences {
            notify_on_success: true,
            ..Default::default()
        };
        assert!(for_run(&report(Outcome::Success), &loud).is_some());
        assert_eq!(for_run(&report(Outcome::Cancelled), &loud), None);
    }
}
