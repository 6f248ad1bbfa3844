//! The `kastell` command line. Every main action of the window is also a subcommand here,
//! built on the same core; scheduled runs and the passcommand use it.

mod archives;

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

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the borgmatic configs Kastell finds and their repositories.
    Configs {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List archives, newest first, of every repository of a config (or of one).
    Archives {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// A repository label (or path); all repositories when omitted.
        #[arg(long, value_name = "LABEL")]
        repository: Option<String>,
        /// Print a JSON array of {"repository", "name", "time", "id"}.
        #[arg(long)]
        json: bool,
    },
    /// Show one archive's details: sizes, file count, duration, host.
    Info {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// An archive name, or `latest`.
        #[arg(long, value_name = "NAME")]
        archive: String,
        #[arg(long)]
        json: bool,
    },
}

/// Runs one subcommand to its end. Ctrl-C cancels the running borg cleanly.
pub async fn run(command: Command) -> ExitCode {
    let cancel = CancellationToken::new();
    let on_interrupt = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_interrupt.cancel();
        }
    });
    let result = match command {
        Command::Configs { json } => archives::configs(json),
        Command::Archives {
            config,
            repository,
            json,
        } => archives::archives(&config, repository.as_deref(), json, &cancel).await,
        Command::Info {
            config,
            repository,
            archive,
            json,
        } => archives::info(&config, &repository, &archive, json, &cancel).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kastell: {e:#}");
            ExitCode::FAILURE
        }
    }
}
