//! The `kastell` command line. Every main action of the window is also a subcommand here,
//! built on the same core; scheduled runs and the passcommand use it.
//!
//! Each subcommand's arguments are a clap `Args` struct (or, for `excludes`, `config` and
//! `passphrase`, a `Subcommand` enum) in the module of its handler; [`run`] hands them over.

mod archives;
mod backup;
mod browse;
mod configure;
mod excludes;
mod mount;
mod output;
mod reader;
mod restore;
mod schedule;
mod setup;
mod upkeep;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "kastell",
    version,
    about = "Kastell: BorgBackup with borgmatic, safe and pleasant.",
    long_about = "Kastell: BorgBackup with borgmatic, safe and pleasant.\n\n\
                  Without a subcommand, opens the window."
)]
pub struct Cli {
    /// Open the window with this borgmatic config instead of those found in ~/.config.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Open the window on the History tab at this run (the window already open shows it).
    #[arg(long, value_name = "RUN_ID")]
    pub show_run: Option<i64>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

// Every subcommand, in the order `kastell --help` lists them. Each one's arguments and help
// text are defined next to its handler (a `//` comment: a doc comment here would be help text).
#[derive(Debug, Subcommand)]
pub enum Command {
    Configs(archives::ConfigsArgs),
    Archives(archives::ArchivesArgs),
    #[command(subcommand)]
    Excludes(excludes::ExcludesCommand),
    Ls(reader::LsArgs),
    Find(browse::FindArgs),
    Versions(browse::VersionsArgs),
    Diff(browse::DiffArgs),
    Restore(restore::RestoreArgs),
    Mount(mount::MountArgs),
    Umount(mount::UmountArgs),
    Index(browse::IndexArgs),
    Cat(reader::CatArgs),
    #[command(subcommand)]
    Config(configure::ConfigCommand),
    #[command(subcommand)]
    Passphrase(configure::PassphraseCommand),
    Backup(backup::BackupArgs),
    BreakLock(backup::BreakLockArgs),
    Status(backup::StatusArgs),
    History(backup::HistoryArgs),
    Log(backup::LogArgs),
    Info(archives::InfoArgs),
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    Tray(TrayArgs),
    Setup(setup::SetupArgs),
    Recover(setup::RecoverArgs),
    Adopt(setup::AdoptArgs),
    #[command(subcommand)]
    Ssh(setup::SshCommand),
    Prune(upkeep::PruneArgs),
    Compact(upkeep::CompactArgs),
    Check(upkeep::CheckArgs),
    #[command(subcommand)]
    Archive(upkeep::ArchiveCommand),
    Stats(upkeep::StatsArgs),
}

/// Shows the backups' state in the desktop's tray (a StatusNotifierItem) until Quit
#[derive(Debug, clap::Args)]
pub struct TrayArgs {
    /// How often to open the repositories for archives made without Kastell (seconds).
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    check_repositories_every: u64,
    /// Start the tray at login (`on`) or not (`off`), then end.
    #[arg(long, value_name = "on|off", value_parser = ["on", "off"])]
    autostart: Option<String>,
}

/// Runs one subcommand to its end. Ctrl-C cancels the running borg cleanly (for the commands
/// that take `cancel`; the others handle Ctrl-C themselves or end at once).
pub async fn run(command: Command) -> ExitCode {
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let result = match command {
        Command::Configs(args) => archives::configs(args),
        Command::Archives(args) => archives::archives(args, &cancel).await,
        Command::Excludes(command) => excludes::run(command),
        Command::Ls(args) => reader::ls(args).await,
        Command::Find(args) => browse::find(args).await,
        Command::Versions(args) => browse::versions(args).await,
        Command::Diff(args) => browse::diff(args).await,
        Command::Restore(args) => restore::restore(args).await,
        Command::Mount(args) => mount::mount(args).await,
        Command::Umount(args) => mount::umount(args),
        Command::Index(args) => browse::build(args).await,
        Command::Cat(args) => reader::cat(args).await,
        Command::Config(command) => configure::config(command),
        Command::Setup(args) => setup::setup(args).await,
        Command::Recover(args) => setup::recover(args, &cancel).await,
        Command::Adopt(args) => setup::adopt(args).await,
        Command::Ssh(command) => setup::ssh(command).await,
        Command::Passphrase(command) => configure::passphrase(command).await,
        Command::Backup(args) => backup::backup(args, &cancel).await,
        Command::BreakLock(args) => backup::break_lock(args, &cancel).await,
        Command::Status(args) => backup::status(args).await,
        Command::History(args) => backup::history(args),
        Command::Log(args) => backup::log(args),
        Command::Info(args) => archives::info(args, &cancel).await,
        Command::Schedule(command) => schedule::run(command).await,
        Command::Tray(args) => tray(args).await,
        Command::Prune(args) => upkeep::prune(args, &cancel).await,
        Command::Compact(args) => upkeep::compact(args, &cancel).await,
        Command::Check(args) => upkeep::check(args, &cancel).await,
        Command::Archive(command) => upkeep::archive(command).await,
        Command::Stats(args) => upkeep::stats(args, &cancel).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kastell: {}", crate::errors::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn tray(args: TrayArgs) -> anyhow::Result<ExitCode> {
    use crate::desktop::tray;
    if let Some(choice) = args.autostart {
        tray::set_autostart(choice == "on")?;
        let file = tray::autostart_file().unwrap_or_default();
        match choice.as_str() {
            "on" => println!("the tray starts at login ({})", file.display()),
            _ => println!("the tray no longer starts at login"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    // The resident tray runs as the window-less Kastell when it is installed: no Qt libraries
    // mapped for an icon (about 16 MB instead of 37, BENCHMARKS.md).
    let lean = crate::process::windowless_program();
    let this = std::env::current_exe().ok();
    if this.as_deref() != Some(lean.as_path()) {
        use std::os::unix::process::CommandExt;
        let failed = std::process::Command::new(&lean)
            .arg("tray")
            .arg("--check-repositories-every")
            .arg(args.check_repositories_every.to_string())
            .exec();
        eprintln!(
            "kastell: could not start {}: {failed}; the tray runs here",
            lean.display()
        );
    }
    let every = std::time::Duration::from_secs(args.check_repositories_every.max(1));
    tray::run(every).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// clap's own checks of the arguments spread over the modules (names in `conflicts_with`,
    /// defaults among the possible values, …).
    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }
}
