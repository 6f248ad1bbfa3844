//! A running backup or restore in Plasma's own job list (the notification area's progress, as
//! Dolphin's copies show there): `org.kde.JobViewServerV2.requestView` on the session bus, then
//! `org.kde.JobViewV3.update` with the progress and `terminate` at the end; the job's Cancel
//! (`cancelRequested`) cancels the run. Where no job view server runs, nothing is shown and
//! nothing else changes.

use crate::backup::BackupEvent;
use crate::events::{Event, EventSink, Throttle};
use crate::history::Outcome;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zbus::{OwnedObjectPath, Variant as Value};

const SERVER: &str = "org.kde.JobViewServer";
/// KJob's capabilities: Killable.
const KILLABLE: i32 = 1;
/// Plasma is asked at most this often; a job view does not need borg's every line.
const UPDATE_EVERY: Duration = Duration::from_millis(500);

/// What goes to the job view, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
enum Update {
    Repository(String),
    Progress {
        percent: Option<u32>,
        processed_bytes: u64,
        processed_files: u64,
        speed: u64,
    },
    Finished(Outcome),
}

/// Tells the job view how a run goes (through a task of its own, so nothing waits for D-Bus).
pub struct JobReporter {
    updates: mpsc::UnboundedSender<Update>,
    throttle: Throttle,
}

impl JobReporter {
    /// Shows a job titled `title`; a Cancel from the job list cancels `cancel`. The returned
    /// task ends after [`JobReporter::finished`] (or when the reporter is dropped).
    pub fn start(
        title: String,
        cancel: CancellationToken,
    ) -> (JobReporter, tokio::task::JoinHandle<()>) {
        let (updates, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // No server, or it fails: the run goes on without a job view.
            let _ = show(title, received, cancel).await;
        });
        (
            JobReporter {
                updates,
                throttle: Throttle::new(UPDATE_EVERY),
            },
            task,
        )
    }

    pub fn repository(&self, name: &str) {
        let _ = self.updates.send(Update::Repository(name.to_string()));
    }

    /// Progress (at most twice a second gets through).
    pub fn progress(&self, fraction: Option<f64>, bytes: u64, files: u64, speed: u64) {
        if self.throttle.ready() {
            let _ = self.updates.send(Update::Progress {
                percent: fraction.map(|f| (f * 100.0).round().clamp(0.0, 100.0) as u32),
                processed_bytes: bytes,
                processed_files: files,
                speed,
            });
        }
    }

    pub fn finished(&self, outcome: Outcome) {
        let _ = self.updates.send(Update::Finished(outcome));
    }
}

/// Passes every event on and tells the job view about the backup.
pub struct JobViewSink<'a> {
    inner: &'a dyn EventSink,
    job: JobReporter,
}

impl EventSink for JobViewSink<'_> {
    fn emit(&self, event: Event) {
        if let Event::Backup(backup) = &event {
            match backup {
                BackupEvent::RepositoryStarted { repository, .. } => {
                    self.job.repository(repository)
                }
                BackupEvent::Progress(p) => self.job.progress(
                    p.fraction,
                    p.original_size,
                    p.nfiles,
                    p.bytes_per_second.max(0.0) as u64,
                ),
                BackupEvent::RunFinished { outcome, .. } => self.job.finished(*outcome),
                _ => {}
            }
        }
        self.inner.emit(event);
    }
}

/// Shows a backup of `config_name` in Plasma's job list while `inner` receives the events.
pub fn backup_job<'a>(
    inner: &'a dyn EventSink,
    config_name: &str,
    cancel: CancellationToken,
) -> (JobViewSink<'a>, tokio::task::JoinHandle<()>) {
    let (job, task) = JobReporter::start(format!("Backing up “{config_name}”"), cancel);
    (JobViewSink { inner, job }, task)
}

async fn show(
    title: String,
    mut received: mpsc::UnboundedReceiver<Update>,
    cancel: CancellationToken,
) -> zbus::Result<()> {
    let bus = zbus::Connection::session().await?;
    let server =
        zbus::Proxy::new(&bus, SERVER, "/JobViewServer", "org.kde.JobViewServerV2").await?;
    let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
    hints.insert("title", Value::from(title.as_str()));
    hints.insert("immediate", Value::from(true));
    let path: OwnedObjectPath = server
        .call("requestView", &("org.kde.kastell", KILLABLE, &hints))
        .await?;
    let view = zbus::Proxy::new(&bus, SERVER, path, "org.kde.JobViewV3").await?;
    let mut cancel_requests = view.receive_signal("cancelRequested").await?;
    let mut cancelled = false;
    loop {
        let update = tokio::select! {
            update = received.recv() => update,
            Some(_) = cancel_requests.next() => {
                cancelled = true;
                cancel.cancel();
                continue;
            }
        };
        let Some(update) = update else { break };
        let mut fields: HashMap<&str, Value<'_>> = HashMap::new();
        match &update {
            Update::Repository(repository) => {
                fields.insert("descriptionLabel1", Value::from("Repository"));
                fields.insert("descriptionValue1", Value::from(repository.as_str()));
            }
            Update::Progress {
                percent,
                processed_bytes,
                processed_files,
                speed,
            } => {
                if let Some(percent) = percent {
                    fields.insert("percent", Value::from(*percent));
                }
                fields.insert("processedBytes", Value::from(*processed_bytes));
                fields.insert("processedFiles", Value::from(*processed_files));
                fields.insert("speed", Value::from(*speed));
            }
            Update::Finished(outcome) => {
                let (code, message) = match outcome {
                    Outcome::Success | Outcome::Warning | Outcome::Skipped => (0u32, String::new()),
                    // KIO's ERR_USER_CANCELED: Plasma shows no error for it.
                    Outcome::Cancelled => (1u32, String::new()),
                    _ => (100u32, "It failed; Kastell says why.".into()),
                };
                let code = if cancelled { 1 } else { code };
                let none: HashMap<&str, Value<'_>> = HashMap::new();
                let _: () = view.call("terminate", &(code, message, none)).await?;
                return Ok(());
            }
        }
        let _: () = view.call("update", &(fields,)).await?;
    }
    Ok(())
}
