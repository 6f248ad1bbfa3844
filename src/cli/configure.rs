//! `kastell config validate` and `kastell passphrase`: the same core as the window's settings
//! pages. Also the passphrase typed for one run (`--ask-passphrase`).

use crate::config::{BorgmaticConfig, Secret};
use crate::credentials::passphrase::{change, from_wallet, to_wallet};
use crate::credentials::wallet;
use crate::process::{locate, Tool};
use anyhow::{anyhow, bail, Context};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Check a config file.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Parse the config (errors with line and column) and run `borgmatic config validate`.
    Validate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `kastell config ...`.
pub fn config(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Validate { config } => validate(&config),
    }
}

fn validate(config: &Path) -> anyhow::Result<ExitCode> {
    BorgmaticConfig::load(config)?;
    let Some(borgmatic) = locate(Tool::Borgmatic) else {
        println!(
            "{}: readable; borgmatic is not installed, so its own checks did not run",
            config.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let out = std::process::Command::new(borgmatic)
        .args(["config", "validate", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::null())
        .output()
        .context("running borgmatic config validate")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        println!("{}: valid", config.display());
        for line in text.lines().filter(|l| l.contains("deprecated")) {
            println!("  note: {}", line.trim());
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{}: borgmatic rejects it:\n{}",
            config.display(),
            text.trim()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Reads a passphrase from standard input: without echo on a terminal, else one line.
pub(crate) fn read_passphrase(prompt: &str) -> anyhow::Result<Secret> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        eprint!("{prompt}");
        std::io::stderr().flush().ok();
        let saved = tcgetattr(&stdin).context("reading terminal settings")?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("turning echo off")?;
        let read = stdin.lock().read_line(&mut line);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
        eprintln!();
        read?;
    } else {
        stdin.lock().read_line(&mut line)?;
    }
    let passphrase = line.trim_end_matches(['\n', '\r']).to_string();
    if passphrase.is_empty() {
        bail!("no passphrase given");
    }
    Ok(Secret::new(passphrase))
}

/// With `--ask-passphrase`, the passphrase for this run, read from standard input.
pub(crate) fn typed_passphrase(ask: bool) -> anyhow::Result<Option<Secret>> {
    ask.then(|| read_passphrase("Passphrase for this run: "))
        .transpose()
}

/// Keep the repository passphrase in the wallet (Secret Service / KWallet).
#[derive(Debug, clap::Subcommand)]
pub enum PassphraseCommand {
    /// Store a passphrase (read from standard input, never from the command line).
    Store {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the stored passphrase (what `encryption_passcommand` runs).
    Get {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Remove the stored passphrase from the wallet.
    Forget {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Move the config's plaintext encryption_passphrase into the wallet, verified with borg.
    ToWallet {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Change the passphrase of every repository's key (`borg key change-passphrase`), then
    /// store the new one where the old one was (config or wallet). Reads it from stdin.
    Change {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the passphrase served for one run (the passcommand Kastell gives borgmatic when
    /// a passphrase was typed for that run).
    Relay {
        #[arg(long, value_name = "PATH")]
        socket: PathBuf,
    },
    /// The reverse: write the wallet's passphrase back into the config and forget the entry.
    FromWallet {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `kastell passphrase ...`.
pub async fn passphrase(command: PassphraseCommand) -> anyhow::Result<ExitCode> {
    match command {
        PassphraseCommand::Store { config } => passphrase_store(&config),
        PassphraseCommand::Get { config } => passphrase_get(&config),
        PassphraseCommand::Forget { config } => passphrase_forget(&config),
        PassphraseCommand::ToWallet { config } => passphrase_to_wallet(&config).await,
        PassphraseCommand::Change { config } => passphrase_change(&config).await,
        PassphraseCommand::Relay { socket } => passphrase_relay(&socket),
        PassphraseCommand::FromWallet { config } => passphrase_from_wallet(&config).await,
    }
}

fn passphrase_store(config: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = read_passphrase("Passphrase: ")?;
    wallet::store(config, &passphrase)?;
    eprintln!(
        "kastell: the passphrase for {} is in the wallet",
        config.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the passphrase for borgmatic's `encryption_passcommand`. Only ever to stdout.
fn passphrase_get(config: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = wallet::get(config)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", passphrase.expose())?;
    Ok(ExitCode::SUCCESS)
}

fn passphrase_forget(config: &Path) -> anyhow::Result<ExitCode> {
    if wallet::forget(config)? {
        eprintln!(
            "kastell: removed the passphrase for {} from the wallet",
            config.display()
        );
    } else {
        eprintln!(
            "kastell: the wallet held no passphrase for {}",
            config.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn passphrase_to_wallet(config: &Path) -> anyhow::Result<ExitCode> {
    let kastell =
        std::env::current_exe().map_err(|e| anyhow!("cannot find Kastell's own path: {e}"))?;
    let report = to_wallet(config, &kastell).await?;
    for check in &report.checks {
        eprintln!("  {}", check.describe());
    }
    eprintln!(
        "kastell: the passphrase of {} is now in the wallet; the config runs `{} passphrase get`{}",
        config.display(),
        kastell.display(),
        report
            .backup
            .map(|b| format!(" (previous version: {})", b.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

async fn passphrase_from_wallet(config: &Path) -> anyhow::Result<ExitCode> {
    let backup = from_wallet(config).await?;
    eprintln!(
        "kastell: {} holds its passphrase in plaintext again (keep the file private){}",
        config.display(),
        backup
            .map(|b| format!("; previous version: {}", b.display()))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

async fn passphrase_change(config: &Path) -> anyhow::Result<ExitCode> {
    let new = read_passphrase("New passphrase: ")?;
    if std::io::stdin().is_terminal() {
        let again = read_passphrase("The same again: ")?;
        if again != new {
            bail!("the two passphrases differ; nothing was changed");
        }
    }
    let report = change(config, &new).await?;
    eprintln!("{}", report.describe());
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn passphrase_relay(socket: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = crate::credentials::relay::fetch(socket)
        .with_context(|| format!("no passphrase is being served at {}", socket.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{passphrase}")?;
    Ok(ExitCode::SUCCESS)
}
