//! The `kastell` command line. Every main action of the window is also a subcommand here,
//! built on the same core; scheduled runs and the passcommand use it.

mod archives;
mod backup;
mod browse;
mod configure;
mod excludes;
mod mount;
mod output;
mod reader;
mod restore;

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
        /// Read the passphrase from standard input and use it for this run only (e.g. while
        /// the wallet is locked). It is handed to borgmatic through a private socket.
        #[arg(long)]
        ask_passphrase: bool,
    },
    /// List or edit `exclude_patterns` (comments and layout of the file are kept).
    Excludes {
        #[command(subcommand)]
        action: ExcludesAction,
    },
    /// List an archive's entries, read by Kastell's own repository reader (borg as the
    /// fallback). Without --recursive, the entries directly in PATH (the top level without PATH).
    Ls {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// An archive name, or `latest`.
        #[arg(long, value_name = "NAME")]
        archive: String,
        /// Every entry below PATH, like `borg list`.
        #[arg(long)]
        recursive: bool,
        /// A JSON array of objects with `borg list --json-lines`'s fields.
        #[arg(long, conflicts_with = "json_lines")]
        json: bool,
        /// One object a line, equal to `borg list --json-lines` field by field.
        #[arg(long)]
        json_lines: bool,
        /// `native` (default) or `borg`.
        #[arg(long, value_enum, default_value = "native")]
        reader: reader::ReaderChoice,
        /// A path in the archive (`/home/me/Documents`; the leading slash is optional).
        path: Option<String>,
    },
    /// Find entries by name (shell-style, case-insensitive) in one archive or all of them.
    Find {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// One archive (a name or `latest`); without it, every archive of the repository.
        #[arg(long, value_name = "NAME")]
        archive: Option<String>,
        /// A JSON array of {"archive", "path", "type", "size", "mtime"}.
        #[arg(long)]
        json: bool,
        /// `*.jpg`, `report-202?.odt`, `[Rr]eadme*`.
        pattern: String,
    },
    /// Every archive's version of a path, oldest first.
    Versions {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// A JSON array of {"archive", "time", "size", "mtime", "changed"}.
        #[arg(long)]
        json: bool,
        /// A path as you know it (`/home/me/notes.txt`; the leading slash is optional).
        path: String,
    },
    /// What changed between two archives (added, removed and changed paths, from borg diff).
    Diff {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// A JSON array of {"path", "change", "added_bytes", "removed_bytes", "kinds"}.
        #[arg(long)]
        json: bool,
        /// The older archive (`latest` works).
        older: String,
        /// The newer archive (`latest` works).
        newer: String,
    },
    /// Restore files or folders from an archive: back where they were (showing what would
    /// change first), or directly into a folder with --to.
    Restore {
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
        on_conflict: Option<restore::OnConflict>,
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
    },
    /// Mount an archive (or every archive of a repository) read-only, for a file manager.
    /// Runs until unmounted or interrupted, unless --background.
    Mount {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// One repository; without it, every repository of the config as a folder.
        #[arg(long, value_name = "LABEL")]
        repository: Option<String>,
        /// One archive (`latest` works); without it, every archive as a folder plus `latest`.
        #[arg(long, value_name = "NAME")]
        archive: Option<String>,
        /// Return once mounted; the mount keeps running in the background.
        #[arg(long)]
        background: bool,
        mountpoint: PathBuf,
    },
    /// Unmount what `kastell mount` mounted.
    Umount { mountpoint: PathBuf },
    /// Build the archive indexes that browsing, `find` and `versions` use (once per archive).
    Index {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        /// One archive; without it, every archive of the repository.
        #[arg(long, value_name = "NAME")]
        archive: Option<String>,
    },
    /// Write one file of an archive to standard output.
    Cat {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
        #[arg(long, value_name = "NAME")]
        archive: String,
        #[arg(long, value_enum, default_value = "native")]
        reader: reader::ReaderChoice,
        path: String,
    },
    /// Check a config file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Keep the repository passphrase in the wallet (Secret Service / KWallet).
    Passphrase {
        #[command(subcommand)]
        action: PassphraseAction,
    },
    /// Back up now: borgmatic's actions for each repository in turn, with progress; the run
    /// is recorded in the history and a failure notifies. What the schedule runs.
    Backup {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// One repository (label or path); all of them when omitted.
        #[arg(long, value_name = "LABEL")]
        repository: Option<String>,
        /// `backup` (create, prune, compact, check as the config says), or one of `create`,
        /// `prune`, `compact`, `check` alone.
        #[arg(long, value_name = "ACTION", default_value = "backup", value_parser = parse_actions)]
        only: crate::backup::Actions,
        /// Print the engine's events as JSON lines instead of a progress bar.
        #[arg(long)]
        json: bool,
        /// Who started the run, for the history (`command line`, `schedule`).
        #[arg(long, value_name = "WHO", default_value = "command line")]
        trigger: String,
        /// Read the passphrase from standard input and use it for this run only.
        #[arg(long)]
        ask_passphrase: bool,
        /// Do not show desktop notifications.
        #[arg(long)]
        no_notify: bool,
    },
    /// Remove a repository's stale lock (`borgmatic break-lock`), only when no live borg
    /// process holds it.
    BreakLock {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "LABEL")]
        repository: String,
    },
    /// Per config and repository: the last run, its outcome and the last success.
    Status {
        #[arg(long)]
        json: bool,
        /// Also notify (once) about repositories without a recent successful backup.
        #[arg(long)]
        notify_stale: bool,
    },
    /// The runs of a config, newest first.
    History {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print a run's full log.
    Log {
        #[arg(long, value_name = "ID")]
        run: i64,
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

#[derive(Debug, Subcommand)]
pub enum ExcludesAction {
    /// Print the config's exclude patterns, one a line.
    List {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Add a pattern (borgmatic's `exclude_patterns`, borg's `fm:` style by default).
    Add {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        pattern: String,
    },
    /// Remove a pattern.
    Remove {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        pattern: String,
    },
    /// What `borgmatic create` would back up: for every path the line
    /// `borg create --dry-run --list` prints (`- PATH` backed up, `x PATH` left out, `E PATH`
    /// unreadable), computed by Kastell without running borg.
    Preview {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The repository whose run to preview (its folder is skipped if it is local);
        /// the first one when omitted.
        #[arg(long, value_name = "LABEL")]
        repository: Option<String>,
        /// Print the size table instead of the paths: what is backed up, what each rule
        /// leaves out, the largest left-out folders.
        #[arg(long)]
        summary: bool,
        /// Print the size table as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check every pattern as borgmatic and borg read them; print the patterns file
    /// borgmatic would write.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Parse the config (errors with line and column) and run `borgmatic config validate`.
    Validate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PassphraseAction {
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

/// With `--ask-passphrase`, reads the passphrase for this run from standard input.
fn typed_passphrase(ask: bool) -> Result<Option<crate::config::Secret>, ExitCode> {
    if !ask {
        return Ok(None);
    }
    configure::read_passphrase("Passphrase for this run: ")
        .map(Some)
        .map_err(|e| {
            eprintln!("kastell: {}", crate::errors::report(e.as_ref()));
            ExitCode::FAILURE
        })
}

fn parse_actions(name: &str) -> Result<crate::backup::Actions, String> {
    crate::backup::Actions::parse(name)
        .ok_or_else(|| format!("“{name}” is not one of backup, create, prune, compact, check"))
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
            ask_passphrase,
        } => {
            let typed = match typed_passphrase(ask_passphrase) {
                Ok(typed) => typed,
                Err(code) => return code,
            };
            archives::archives(
                &config,
                repository.as_deref(),
                json,
                typed.as_ref(),
                &cancel,
            )
            .await
        }
        Command::Excludes { action } => match action {
            ExcludesAction::List { config } => configure::excludes_list(&config),
            ExcludesAction::Add { config, pattern } => {
                configure::excludes_edit(&config, &pattern, true)
            }
            ExcludesAction::Remove { config, pattern } => {
                configure::excludes_edit(&config, &pattern, false)
            }
            ExcludesAction::Preview {
                config,
                repository,
                summary,
                json,
            } => excludes::preview(&config, repository.as_deref(), summary, json),
            ExcludesAction::Check { config } => excludes::check(&config),
        },
        Command::Ls {
            config,
            repository,
            archive,
            recursive,
            json,
            json_lines,
            reader,
            path,
        } => {
            let format = if json {
                output::ListFormat::Json
            } else if json_lines {
                output::ListFormat::JsonLines
            } else {
                output::ListFormat::Text
            };
            reader::ls(
                &config,
                &repository,
                &archive,
                recursive,
                format,
                path.as_deref(),
                reader,
            )
            .await
        }
        Command::Cat {
            config,
            repository,
            archive,
            reader,
            path,
        } => reader::cat(&config, &repository, &archive, &path, reader).await,
        Command::Find {
            config,
            repository,
            archive,
            json,
            pattern,
        } => browse::find(&config, &repository, archive.as_deref(), &pattern, json).await,
        Command::Versions {
            config,
            repository,
            json,
            path,
        } => browse::versions(&config, &repository, &path, json).await,
        Command::Diff {
            config,
            repository,
            json,
            older,
            newer,
        } => browse::diff(&config, &repository, &older, &newer, json).await,
        Command::Mount {
            config,
            repository,
            archive,
            background,
            mountpoint,
        } => {
            mount::mount(
                &config,
                repository.as_deref(),
                archive.as_deref(),
                &mountpoint,
                background,
            )
            .await
        }
        Command::Umount { mountpoint } => mount::umount(&mountpoint),
        Command::Index {
            config,
            repository,
            archive,
        } => browse::build(&config, &repository, archive.as_deref()).await,
        Command::Restore {
            config,
            repository,
            archive,
            to,
            on_conflict,
            sparse,
            numeric_ids,
            paths,
        } => {
            restore::restore(
                &config,
                &repository,
                &archive,
                to.as_deref(),
                on_conflict,
                restore::Flags {
                    sparse,
                    numeric_ids,
                },
                &paths,
            )
            .await
        }
        Command::Config {
            action: ConfigAction::Validate { config },
        } => configure::validate(&config),
        Command::Passphrase { action } => match action {
            PassphraseAction::Store { config } => configure::passphrase_store(&config),
            PassphraseAction::Get { config } => configure::passphrase_get(&config),
            PassphraseAction::Forget { config } => configure::passphrase_forget(&config),
            PassphraseAction::Change { config } => configure::passphrase_change(&config).await,
            PassphraseAction::Relay { socket } => configure::passphrase_relay(&socket),
            PassphraseAction::ToWallet { config } => configure::passphrase_to_wallet(&config).await,
            PassphraseAction::FromWallet { config } => {
                configure::passphrase_from_wallet(&config).await
            }
        },
        Command::Info {
            config,
            repository,
            archive,
            json,
        } => archives::info(&config, &repository, &archive, json, &cancel).await,
        Command::Backup {
            config,
            repository,
            only,
            json,
            trigger,
            ask_passphrase,
            no_notify,
        } => {
            let typed = match typed_passphrase(ask_passphrase) {
                Ok(typed) => typed,
                Err(code) => return code,
            };
            backup::backup(
                &config,
                repository.as_deref(),
                only,
                &trigger,
                json,
                typed,
                !no_notify,
                &cancel,
            )
            .await
        }
        Command::Status { json, notify_stale } => backup::status(json, notify_stale).await,
        Command::History {
            config,
            json,
            limit,
        } => backup::history(&config, json, limit),
        Command::Log { run } => backup::log(run),
        Command::BreakLock { config, repository } => {
            backup::break_lock(&config, &repository, &cancel).await
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kastell: {}", crate::errors::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
