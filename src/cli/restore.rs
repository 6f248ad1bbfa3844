//! `kastell restore`: the same core as the window's restore. Without `--to`, items go back to
//! where they were, after a preview of what would change; every conflict is decided by
//! `--on-conflict` or asked on the terminal, and without a terminal `ask` refuses.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::bail;

use super::browse::{index_of, session_for};
use crate::restore::{self, Conflict, Destination, PlannedEntry, RestoreOptions};
use crate::units::format_bytes;

/// `--on-conflict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    Ask,
    Overwrite,
    Skip,
    KeepBoth,
}

/// Restore files or folders from an archive: back where they were (showing what would
/// change first), or directly into a folder with --to.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[arg(long, value_name = "LABEL")]
    repository: String,
    #[arg(long, value_name = "NAME")]
    archive: String,
    /// Put each selected item directly into this folder.
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// What to do with an item that exists and differs (default: ask; without a
    /// terminal, refuse and name the conflicts).
    #[arg(long, value_enum)]
    on_conflict: Option<OnConflict>,
    /// Write runs of zeros as holes (as `borg extract --sparse`).
    #[arg(long)]
    sparse: bool,
    /// Owners by the stored numbers, not by name (the config's `numeric_ids` does the
    /// same).
    #[arg(long)]
    numeric_ids: bool,
    /// Paths as you know them (`/home/me/Documents`; the leading slash is optional).
    #[arg(required = true)]
    paths: Vec<String>,
}

fn ask(entry: &PlannedEntry) -> Conflict {
    let stdin = std::io::stdin();
    loop {
        match entry.cannot_overwrite {
            None => eprint!(
                "{} exists and differs from the archive. [o]verwrite, [k]eep both, [s]kip? ",
                entry.target.display()
            ),
            Some(why) => eprint!(
                "{} exists and differs from the archive ({}). [k]eep both, [s]kip? ",
                entry.target.display(),
                why.describe()
            ),
        }
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer).unwrap_or(0) == 0 {
            return Conflict::Skip;
        }
        match answer.trim().to_lowercase().as_str() {
            "o" | "overwrite" if entry.cannot_overwrite.is_none() => return Conflict::Overwrite,
            "k" | "keep" | "keep both" => return Conflict::KeepBoth,
            "s" | "skip" => return Conflict::Skip,
            _ => {}
        }
    }
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let RestoreArgs {
        config,
        repository,
        archive: archive_name,
        to,
        on_conflict,
        sparse,
        numeric_ids,
        paths,
    } = args;
    let session = session_for(&config, &repository).await?;
    let cfg = &session.config;
    let options = RestoreOptions {
        sparse,
        numeric_ids: numeric_ids
            || matches!(
                cfg.other.get("numeric_ids"),
                Some(serde_norway::Value::Bool(true))
            ),
    };
    let archive = session.archive(&archive_name)?;
    let index = index_of(&session, &archive)?;
    let selection = restore::select(&index, &paths)?;
    let destination = match to {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("{} is not a folder", dir.display());
            }
            Destination::Into(std::path::absolute(dir)?)
        }
        None => Destination::Original {
            root: PathBuf::from("/"),
        },
    };
    let plan = restore::plan(&index, &selection, &destination);
    let interactive = std::io::stdin().is_terminal();
    let policy = on_conflict.unwrap_or(OnConflict::Ask);
    eprintln!("{}", plan.describe());
    let conflicts: Vec<&PlannedEntry> = plan.conflicts().collect();
    if policy == OnConflict::Ask && !interactive && !conflicts.is_empty() {
        let named: Vec<String> = conflicts
            .iter()
            .take(20)
            .map(|c| format!("  {}", c.target.display()))
            .collect();
        bail!(
            "{} item(s) exist and differ from the archive; nothing was restored. Choose with \
             --on-conflict overwrite|skip|keep-both:\n{}{}",
            conflicts.len(),
            named.join("\n"),
            if conflicts.len() > 20 { "\n  ..." } else { "" }
        );
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.store(true, Ordering::Relaxed);
        }
    });
    // Plasma's job list shows the restore; its Cancel stops it like Ctrl-C.
    let job_cancel = tokio_util::sync::CancellationToken::new();
    let (job, job_view) = crate::desktop::jobs::JobReporter::start(
        format!("Restoring from “{}”", archive.name),
        job_cancel.clone(),
    );
    let on_job_cancel = cancel.clone();
    tokio::spawn(async move {
        job_cancel.cancelled().await;
        on_job_cancel.store(true, Ordering::Relaxed);
    });
    let mut decide = |entry: &PlannedEntry| match policy {
        OnConflict::Overwrite => Conflict::Overwrite,
        OnConflict::Skip => Conflict::Skip,
        OnConflict::KeepBoth => Conflict::KeepBoth,
        OnConflict::Ask => ask(entry),
    };
    let mut last_shown = std::time::Instant::now();
    let mut progress = |p: restore::RestoreProgress| {
        let fraction = (p.bytes_total > 0).then(|| p.bytes_done as f64 / p.bytes_total as f64);
        job.progress(fraction, p.bytes_done, p.files_done, 0);
        if interactive && last_shown.elapsed().as_millis() >= 500 && p.bytes_total > 0 {
            last_shown = std::time::Instant::now();
            eprint!(
                "\r{:>3} % ({} of {})",
                p.bytes_done * 100 / p.bytes_total,
                format_bytes(p.bytes_done),
                format_bytes(p.bytes_total)
            );
        }
    };
    let result = restore::restore(
        &session.reader,
        &archive,
        &index,
        &plan,
        options,
        &mut decide,
        &mut progress,
        &cancel,
    );
    if interactive {
        eprintln!();
    }
    job.finished(match &result {
        Ok(_) => crate::history::Outcome::Success,
        Err(restore::RestoreError::Cancelled) => crate::history::Outcome::Cancelled,
        Err(_) => crate::history::Outcome::Error,
    });
    drop(job);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), job_view).await;
    match result {
        Ok(summary) => {
            for line in summary.lines(usize::MAX) {
                println!("{line}");
            }
            // As borg extract: what could not be restored as archived is a warning (exit 1).
            let warned = !summary.refused.is_empty()
                || !summary.left_out.is_empty()
                || !summary.warnings.is_empty();
            Ok(if warned {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(restore::RestoreError::Cancelled) => {
            eprintln!("Cancelled; the file being written was removed, finished ones stay.");
            Ok(ExitCode::from(130))
        }
        Err(e) => Err(e.into()),
    }
}
