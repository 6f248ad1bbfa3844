//! `kastell schedule set|off|show`: the daily backup as systemd user units.

use crate::schedule::{self, drive, existing, Schedule};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// When a config is backed up by itself (systemd user timer and service).
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Backs the config up every day (or by a systemd calendar expression): writes a timer and
    /// a service to ~/.config/systemd/user and starts the timer
    Set(SetArgs),
    /// Stops the config's schedule and removes its units
    Off(OffArgs),
    /// Stops the config's timer for now, keeping its units (resume starts it again)
    Pause(OffArgs),
    /// Starts a paused timer again
    Resume(OffArgs),
    /// The schedules Kastell wrote, whether they are enabled, and when they run next
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Every day at this time (HH:MM); the default is 12:00.
    #[arg(long, value_name = "HH:MM", conflicts_with = "calendar")]
    at: Option<String>,
    /// Any systemd calendar expression instead (`daily`, `Mon..Fri 18:00`, …).
    #[arg(long, value_name = "EXPR")]
    calendar: Option<String>,
    /// Run only on mains power (the default).
    #[arg(long, conflicts_with = "any_power")]
    ac_power_only: bool,
    /// Run on battery too.
    #[arg(long)]
    any_power: bool,
    /// Do not run on a metered network connection.
    #[arg(long)]
    skip_metered: bool,
    /// Switch off other schedules of this config Kastell can undo (the guide's anacron job is
    /// renamed so that anacron skips it), so the backup does not run twice.
    #[arg(long)]
    disable_other: bool,
    /// Also back up repository LABEL whenever its drive (a removable disk, mounted now) is
    /// plugged in; the daily run leaves it out while the drive is not there.
    #[arg(long, value_name = "LABEL")]
    when_plugged_in: Option<String>,
}

#[derive(Debug, Args)]
pub struct OffArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Only this config's schedule.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A JSON array: config, enabled, calendar, ac_power_only, skip_metered, timer_unit,
    /// service_unit, next_run (Unix ms or null), other_schedules.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    match command {
        ScheduleCommand::Set(args) => set(args).await,
        ScheduleCommand::Off(args) => off(args).await,
        ScheduleCommand::Pause(args) => {
            schedule::pause(&args.config).await?;
            println!("schedule of {} paused", args.config.display());
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Resume(args) => {
            schedule::resume(&args.config).await?;
            println!("schedule of {} resumed", args.config.display());
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Show(args) => show(args).await,
    }
}

fn local_time(unix_ms: i64) -> String {
    crate::times::local_seconds(i128::from(unix_ms) * 1_000_000)
}

async fn set(args: SetArgs) -> anyhow::Result<ExitCode> {
    let calendar = match (&args.at, args.calendar) {
        (Some(at), _) => schedule::daily_at(at)?,
        (None, Some(calendar)) => calendar,
        (None, None) => schedule::DEFAULT_CALENDAR.to_string(),
    };
    let wanted = Schedule {
        config: args.config.clone(),
        calendar,
        ac_power_only: !args.any_power,
        skip_metered: args.skip_metered,
        drive: match &args.when_plugged_in {
            Some(label) => Some(drive::trigger_for(&args.config, label).await?),
            None => None,
        },
    };
    let applied = schedule::set(wanted).await?;
    println!(
        "scheduled: {} ({})",
        applied.files.timer.display(),
        applied.files.service.display()
    );
    if applied.files.drive_service.exists() {
        println!(
            "and when the drive is plugged in: {}",
            applied.files.drive_service.display()
        );
    }
    if let Some(next) = applied.next_run {
        println!("next run: {}", local_time(next));
    }
    if let Some(notes) = &applied.verify_notes {
        eprintln!("kastell: systemd-analyze verify says: {notes}");
    }
    if let Some(why) = &applied.not_started {
        eprintln!(
            "kastell: the units are written, but nothing will start them: {why}. \
             Kastell's window runs the schedule itself while it is open."
        );
    }
    match crate::desktop::tray::autostart_after_first_schedule() {
        Ok(true) => println!("the tray icon now starts at login (`kastell tray --autostart off`)"),
        Ok(false) => {}
        Err(e) => eprintln!("kastell: could not set the tray to start at login: {e}"),
    }
    let config = std::path::absolute(&args.config).unwrap_or(args.config);
    for other in existing::find(&config, &existing::Places::of_this_user()) {
        if args.disable_other && other.can_disable {
            let renamed = other.disable()?;
            println!(
                "switched off {} (renamed to {}; rename it back to undo)",
                other.location.display(),
                renamed.display()
            );
        } else {
            eprintln!("kastell: {} — the backup would run twice", other.describe());
            if other.can_disable {
                eprintln!("kastell: --disable-other switches it off");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn off(args: OffArgs) -> anyhow::Result<ExitCode> {
    let not_told = schedule::off(&args.config).await?;
    println!("schedule of {} removed", args.config.display());
    if let Some(why) = not_told {
        eprintln!("kastell: the files are gone, but the user instance was not told: {why}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let shown = schedule::show(args.config.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(ExitCode::SUCCESS);
    }
    if shown.is_empty() {
        println!("no schedules");
    }
    for s in &shown {
        let state = if s.enabled { "on" } else { "not started" };
        let conditions = [
            s.ac_power_only.then_some("mains power only"),
            s.skip_metered.then_some("not on metered networks"),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        println!("{}: {} ({state})", s.config.display(), s.calendar);
        if !conditions.is_empty() {
            println!("  {conditions}");
        }
        if let Some(next) = s.next_run {
            println!("  next run: {}", local_time(next));
        }
        for other in &s.other_schedules {
            println!("  also: {}", other.describe());
        }
    }
    Ok(ExitCode::SUCCESS)
}
