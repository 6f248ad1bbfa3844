//! `kastell excludes`, `kastell config validate` and `kastell passphrase`: the same editing
//! core as the window's settings pages.

use crate::config::{save, BorgmaticConfig, ConfigDocument, Secret};
use crate::credentials::passphrase::{change, from_wallet, to_wallet};
use crate::credentials::wallet;
use crate::process::{locate, Tool};
use anyhow::{anyhow, bail, Context};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

pub fn excludes_list(config: &Path) -> anyhow::Result<ExitCode> {
    let doc = ConfigDocument::load(config)?;
    for pattern in doc.string_list("exclude_patterns") {
        println!("{pattern}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn excludes_edit(config: &Path, pattern: &str, add: bool) -> anyhow::Result<ExitCode> {
    if pattern.is_empty() {
        bail!("an empty pattern would exclude nothing");
    }
    if add {
        let home = dirs::home_dir().unwrap_or_else(|| "/".into());
        if let Err(error) = crate::patterns::plan::entry_rule(
            crate::patterns::plan::ListKind::ExcludePatterns,
            pattern,
            &home,
        ) {
            bail!(
                "borg would refuse the pattern {pattern:?}: {error}\n  {pattern}\n  {}^",
                " ".repeat(error.offset)
            );
        }
    }
    let mut doc = ConfigDocument::load(config)?;
    let changed = if add {
        doc.list_add("exclude_patterns", pattern)?
    } else {
        doc.list_remove("exclude_patterns", pattern)?
    };
    if !changed {
        eprintln!(
            "kastell: {pattern} is {} exclude_patterns; nothing to do",
            if add { "already in" } else { "not in" }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = save(&doc)?;
    report_save(
        config,
        outcome.backup.as_deref(),
        outcome.validated_by_borgmatic,
    );
    Ok(ExitCode::SUCCESS)
}

fn report_save(config: &Path, backup: Option<&Path>, validated: bool) {
    eprintln!(
        "kastell: saved {}{}{}",
        config.display(),
        backup
            .map(|b| format!(" (previous version: {})", b.display()))
            .unwrap_or_default(),
        if validated {
            "; borgmatic validated it"
        } else {
            ""
        }
    );
}

pub fn validate(config: &Path) -> anyhow::Result<ExitCode> {
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

pub fn passphrase_store(config: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = read_passphrase("Passphrase: ")?;
    wallet::store(config, &passphrase)?;
    eprintln!(
        "kastell: the passphrase for {} is in the wallet",
        config.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints the passphrase for borgmatic's `encryption_passcommand`. Only ever to stdout.
pub fn passphrase_get(config: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = wallet::get(config)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", passphrase.expose())?;
    Ok(ExitCode::SUCCESS)
}

pub fn passphrase_forget(config: &Path) -> anyhow::Result<ExitCode> {
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

pub async fn passphrase_to_wallet(config: &Path) -> anyhow::Result<ExitCode> {
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

pub async fn passphrase_from_wallet(config: &Path) -> anyhow::Result<ExitCode> {
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

pub async fn passphrase_change(config: &Path) -> anyhow::Result<ExitCode> {
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

pub fn passphrase_relay(socket: &Path) -> anyhow::Result<ExitCode> {
    let passphrase = crate::credentials::relay::fetch(socket)
        .with_context(|| format!("no passphrase is being served at {}", socket.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{passphrase}")?;
    Ok(ExitCode::SUCCESS)
}
