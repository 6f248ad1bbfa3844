//! `kastell setup` (the first-run wizard's steps, for scripts and tests) and `kastell recover`
//! (an archive back from a repository, the exported key and the passphrase alone).

use crate::config::Secret;
use crate::setup::{self, layout, passphrase, recover, Destination, Encryption, Plan};
use anyhow::{anyhow, bail, Context};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Creates the repositories, keeps the passphrase in the wallet, writes the config (with
/// Kastell's passcommand, no plaintext) and exports and checks every key
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The borgmatic config to write (it must not exist yet).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// A folder to back up (repeat for more).
    #[arg(long, value_name = "DIR", required = true)]
    source: Vec<PathBuf>,
    /// `LABEL=LOCATION`: a folder or `ssh://user@host[:port]/path` (repeat for more).
    #[arg(long, value_name = "LABEL=LOCATION", required = true, value_parser = parse_destination)]
    repository: Vec<Destination>,
    #[arg(long, value_name = "MODE", default_value = "keyfile-blake2", value_parser = parse_encryption)]
    encryption: Encryption,
    /// Where every repository's key is exported, one `LABEL.key` each (a USB stick…).
    #[arg(long, value_name = "DIR")]
    export_keys: PathBuf,
    /// Read the passphrase from this file descriptor (one line).
    #[arg(long, value_name = "N", conflicts_with = "generate_passphrase")]
    passphrase_fd: Option<u32>,
    /// Make a seven-word Diceware passphrase and print it once.
    #[arg(long, required_unless_present = "passphrase_fd")]
    generate_passphrase: bool,
    /// The SSH key for `ssh://` repositories (default ~/.config/borg/ssh/id_ed25519).
    #[arg(long, value_name = "FILE")]
    ssh_key: Option<PathBuf>,
    /// Known host keys for them (default ~/.config/borg/ssh/known_hosts); an unknown host is
    /// refused, never accepted silently.
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
}

fn parse_destination(text: &str) -> Result<Destination, String> {
    match text.split_once('=') {
        Some((label, location)) if !label.is_empty() && !location.is_empty() => Ok(Destination {
            label: label.to_string(),
            location: location.to_string(),
        }),
        _ => Err(format!("“{text}” is not LABEL=LOCATION")),
    }
}

fn parse_encryption(text: &str) -> Result<Encryption, String> {
    Encryption::parse(text).ok_or_else(|| format!("“{text}”: keyfile-blake2 or repokey-blake2"))
}

/// One line from file descriptor `fd` (through /proc: no unsafe fd ownership here).
fn read_fd(fd: u32) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(format!("/proc/self/fd/{fd}"))
        .with_context(|| format!("reading the passphrase from file descriptor {fd}"))?;
    let line = text.lines().next().unwrap_or_default().to_string();
    if line.is_empty() {
        bail!("file descriptor {fd} gave an empty passphrase");
    }
    Ok(Secret::new(line))
}

/// The config's `ssh_command`: the given key and known_hosts, else the dedicated ones in
/// `~/.config/borg/ssh/`; none when there is no key (plain ssh).
fn ssh_command_for(key: Option<PathBuf>, known_hosts: Option<PathBuf>) -> Option<String> {
    let key = key.unwrap_or_else(setup::ssh::key_path);
    let known = known_hosts.unwrap_or_else(setup::ssh::known_hosts_path);
    key.is_file().then(|| setup::ssh_command(&key, &known))
}

pub async fn setup(args: SetupArgs) -> anyhow::Result<ExitCode> {
    let secret = match args.passphrase_fd {
        Some(fd) => read_fd(fd)?,
        None => {
            let made = passphrase::generate(passphrase::DEFAULT_WORDS)?;
            println!(
                "Your passphrase ({:.0} bits; Kastell shows it this once, write it down and keep it \
                 apart from the key):\n\n    {}\n",
                passphrase::entropy_bits(passphrase::DEFAULT_WORDS),
                made.expose()
            );
            made
        }
    };
    let ssh_command = ssh_command_for(args.ssh_key, args.known_hosts);
    let kastell =
        std::env::current_exe().map_err(|e| anyhow!("cannot find Kastell's own path: {e}"))?;
    let plan = Plan {
        config: std::path::absolute(&args.config).unwrap_or(args.config),
        sources: args
            .source
            .iter()
            .map(|s| std::path::absolute(s).unwrap_or_else(|_| s.clone()))
            .collect(),
        presets: layout::DEFAULT_PRESETS.to_vec(),
        destinations: args.repository,
        encryption: args.encryption,
        export_to: Some(std::path::absolute(&args.export_keys).unwrap_or(args.export_keys)),
        passphrase: secret,
        kastell,
        ssh_command,
        import_keys: Vec::new(),
        existing_only: false,
    };
    let result = setup::run_setup(&plan, &mut |step| println!("{}", step.describe())).await;
    match result {
        Ok(()) => {
            println!(
                "done: {} backs up to {} repositories; their keys are in {}",
                plan.config.display(),
                plan.destinations.len(),
                plan.export_to
                    .as_deref()
                    .unwrap_or(Path::new("?"))
                    .display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kastell: {}", crate::errors::report(&e));
            eprintln!("kastell: what is listed above was done; nothing else was changed");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Restores an archive from a repository with only the exported key and the passphrase (no
/// config, no wallet), then checks every restored file against the archive
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// A folder, or `ssh://user@host[:port]/path`.
    #[arg(long, value_name = "LOCATION")]
    repository: String,
    /// The key exported by `kastell setup` or `borg key export` (without it and without
    /// --paper-key, the key is the repository's own: repokey).
    #[arg(long, value_name = "FILE", conflicts_with = "paper_key")]
    key_file: Option<PathBuf>,
    /// A text file with the paper key's lines as typed from the printout (`id:` and the
    /// numbered lines).
    #[arg(long, value_name = "FILE")]
    paper_key: Option<PathBuf>,
    #[arg(long, value_name = "NAME", default_value = "latest")]
    archive: String,
    /// Restored under this folder as `borg extract` lays it out (DIR/home/me/...).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// Read the passphrase from this file descriptor (one line).
    #[arg(long, value_name = "N")]
    passphrase_fd: u32,
    /// How to reach an SSH repository, e.g. `ssh -i KEY` (borg's BORG_RSH).
    #[arg(long, value_name = "COMMAND")]
    ssh_command: Option<String>,
    /// Only these archive paths (and what is below them).
    paths: Vec<String>,
}

pub async fn recover(args: RecoverArgs, cancel: &CancellationToken) -> anyhow::Result<ExitCode> {
    let request = recover::Request {
        location: args.repository,
        key: match (args.key_file, args.paper_key) {
            (Some(file), _) => recover::KeySource::File(file),
            (None, Some(paper)) => recover::KeySource::Paper(
                std::fs::read_to_string(&paper)
                    .with_context(|| format!("reading the paper key {}", paper.display()))?,
            ),
            (None, None) => recover::KeySource::InRepository,
        },
        archive: args.archive,
        to: std::path::absolute(&args.to).unwrap_or(args.to),
        paths: args.paths,
        passphrase: read_fd(args.passphrase_fd)?,
        ssh_command: args.ssh_command,
    };
    let bar = indicatif::ProgressBar::new(1000);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3} % restored ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let shown = bar.clone();
    let summary = recover::recover(
        &request,
        &move |fraction| shown.set_position((fraction * 1000.0) as u64),
        cancel,
    )
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    print_summary(&summary, &request.to, !request.paths.is_empty());
    Ok(match summary.problem_count {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    })
}

fn print_summary(summary: &recover::Summary, to: &Path, chosen_paths: bool) {
    println!(
        "restored {} from {} into {}: {} files ({}), {} folders, {} links, {} other entries",
        match (summary.problem_count, chosen_paths) {
            (0, false) => "everything",
            (0, true) => "the chosen folders",
            _ => "with problems",
        },
        summary.archive,
        to.display(),
        summary.files,
        crate::units::format_bytes(summary.bytes),
        summary.folders,
        summary.links,
        summary.others
    );
    println!(
        "checked against the archive: every file's size, and {} chunks of content against their ids",
        summary.chunks_checked
    );
    for problem in &summary.problems {
        println!("  problem: {problem}");
    }
    if summary.problem_count > summary.problems.len() as u64 {
        println!(
            "  … and {} more",
            summary.problem_count - summary.problems.len() as u64
        );
    }
}

/// The backup server over SSH: the dedicated key, the server's host key, a connection test
#[derive(Debug, clap::Subcommand)]
pub enum SshCommand {
    /// Makes the dedicated key (~/.config/borg/ssh/id_ed25519) if missing and prints its public
    /// half, or the server's authorized_keys line with --server-path
    Key(SshKeyArgs),
    /// Shows the server's host key fingerprints; --trust FINGERPRINT adds the confirmed one to
    /// Kastell's known_hosts
    HostKey(SshHostArgs),
    /// Says whether borg can reach the location with Kastell's key, and if not, why
    Test(SshTestArgs),
}

#[derive(Debug, Args)]
pub struct SshKeyArgs {
    /// The path the server restricts the key to (`borg serve --restrict-to-path`).
    #[arg(long, value_name = "PATH")]
    server_path: Option<String>,
}

#[derive(Debug, Args)]
pub struct SshHostArgs {
    /// `ssh://user@host[:port]/path`.
    #[arg(long, value_name = "LOCATION")]
    location: String,
    /// The fingerprint (SHA256:…) you checked with the server's owner.
    #[arg(long, value_name = "FINGERPRINT")]
    trust: Option<String>,
}

#[derive(Debug, Args)]
pub struct SshTestArgs {
    #[arg(long, value_name = "LOCATION")]
    location: String,
    /// Instead of Kastell's key and known_hosts.
    #[arg(long, value_name = "COMMAND")]
    ssh_command: Option<String>,
}

fn host_and_port(location: &str) -> anyhow::Result<(String, u16)> {
    let parsed = crate::reader::remote::SshLocation::parse(location)
        .ok_or_else(|| anyhow!("“{location}” is not an ssh://user@host[:port]/path location"))?;
    Ok((parsed.host, parsed.port.unwrap_or(22)))
}

pub async fn ssh(command: SshCommand) -> anyhow::Result<ExitCode> {
    use crate::setup::ssh;
    match command {
        SshCommand::Key(args) => {
            ssh::ensure_borg_folders()?;
            let public = ssh::ensure_key(&ssh::key_path()).await?;
            match args.server_path {
                Some(path) => println!("{}", ssh::authorized_keys_line(&public, &path)),
                None => println!("{public}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        SshCommand::HostKey(args) => {
            let (host, port) = host_and_port(&args.location)?;
            match args.trust {
                Some(fingerprint) => {
                    let key =
                        ssh::trust(&ssh::known_hosts_path(), &host, port, &fingerprint).await?;
                    println!(
                        "trusted {} {} in {}",
                        key.kind,
                        key.fingerprint,
                        ssh::known_hosts_path().display()
                    );
                }
                None => {
                    for key in ssh::scan_host(&host, port).await? {
                        println!("{} {}", key.kind, key.fingerprint);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SshCommand::Test(args) => {
            let command = args
                .ssh_command
                .unwrap_or_else(|| setup::ssh_command(&ssh::key_path(), &ssh::known_hosts_path()));
            let tools = crate::process::Tools::detect().await?;
            match ssh::test_connection(&tools, &command, &args.location).await? {
                ssh::Connection::RepositoryThere => {
                    println!("ok: a borg repository is there");
                    Ok(ExitCode::SUCCESS)
                }
                ssh::Connection::ReadyForNew => {
                    println!("ok: borg answers, and the path is free for a new repository");
                    Ok(ExitCode::SUCCESS)
                }
                ssh::Connection::Problem(problem) => {
                    println!("problem: {}", problem.describe());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// Writes a config that goes on backing up into an existing repository (after a recovery on a
/// new machine): imports its key, keeps the passphrase in the wallet; nothing is created
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The borgmatic config to write (it must not exist yet).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// `LABEL=LOCATION` of the existing repository.
    #[arg(long, value_name = "LABEL=LOCATION", value_parser = parse_destination)]
    repository: Destination,
    /// Its exported key (for a keyfile repository).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// A folder to back up (default: your home folder).
    #[arg(long, value_name = "DIR")]
    source: Vec<PathBuf>,
    /// Read the passphrase from this file descriptor (one line).
    #[arg(long, value_name = "N")]
    passphrase_fd: u32,
    #[arg(long, value_name = "FILE")]
    ssh_key: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    known_hosts: Option<PathBuf>,
}

pub async fn adopt(args: AdoptArgs) -> anyhow::Result<ExitCode> {
    let home = dirs::home_dir().ok_or_else(|| anyhow!("HOME is not set"))?;
    let sources = match args.source.is_empty() {
        true => vec![home],
        false => args
            .source
            .iter()
            .map(|s| std::path::absolute(s).unwrap_or_else(|_| s.clone()))
            .collect(),
    };
    let label = args.repository.label.clone();
    let plan = Plan {
        config: std::path::absolute(&args.config).unwrap_or(args.config),
        sources,
        presets: layout::DEFAULT_PRESETS.to_vec(),
        destinations: vec![args.repository],
        encryption: Encryption::KeyfileBlake2,
        export_to: None,
        passphrase: read_fd(args.passphrase_fd)?,
        kastell: std::env::current_exe()
            .map_err(|e| anyhow!("cannot find Kastell's own path: {e}"))?,
        ssh_command: ssh_command_for(args.ssh_key, args.known_hosts),
        import_keys: args
            .key_file
            .map(|k| vec![(label, std::path::absolute(&k).unwrap_or(k))])
            .unwrap_or_default(),
        existing_only: true,
    };
    match setup::run_setup(&plan, &mut |step| println!("{}", step.describe())).await {
        Ok(()) => {
            println!(
                "done: {} backs up into the existing repository",
                plan.config.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("kastell: {}", crate::errors::report(&e));
            Ok(ExitCode::FAILURE)
        }
    }
}
