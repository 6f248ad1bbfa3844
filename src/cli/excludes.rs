//! `kastell excludes`: list, add and remove `exclude_patterns` (the same editing core as the
//! window's settings page), and `preview` and `check`: what `borgmatic create` would back up.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use anyhow::{bail, Context};

use crate::config::{save, BorgmaticConfig, ConfigDocument};
use crate::patterns::summary::reason_order;
use crate::patterns::{
    reason_label, walk, CreatePlan, Entry, Matcher, SummaryBuilder, WalkOptions,
};
use crate::units::format_bytes as human_bytes;

/// List or edit `exclude_patterns` (comments and layout of the file are kept).
#[derive(Debug, clap::Subcommand)]
pub enum ExcludesCommand {
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

/// `kastell excludes ...`.
pub fn run(command: ExcludesCommand) -> anyhow::Result<ExitCode> {
    match command {
        ExcludesCommand::List { config } => list(&config),
        ExcludesCommand::Add { config, pattern } => edit(&config, &pattern, true),
        ExcludesCommand::Remove { config, pattern } => edit(&config, &pattern, false),
        ExcludesCommand::Preview {
            config,
            repository,
            summary,
            json,
        } => preview(&config, repository.as_deref(), summary, json),
        ExcludesCommand::Check { config } => check(&config),
    }
}

fn list(config: &Path) -> anyhow::Result<ExitCode> {
    let doc = ConfigDocument::load(config)?;
    for pattern in doc.string_list("exclude_patterns") {
        println!("{pattern}");
    }
    Ok(ExitCode::SUCCESS)
}

fn edit(config: &Path, pattern: &str, add: bool) -> anyhow::Result<ExitCode> {
    if pattern.is_empty() {
        bail!("an empty pattern would exclude nothing");
    }
    if add {
        if let Err(error) = crate::patterns::plan::entry_rule(
            crate::patterns::plan::ListKind::ExcludePatterns,
            pattern,
            &home(),
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

fn home() -> std::path::PathBuf {
    dirs::home_dir().unwrap_or_else(|| "/".into())
}

/// The plan for `config` (and `repository`), or the error that names the bad entry.
pub fn load_plan(config: &Path, repository: Option<&str>) -> anyhow::Result<CreatePlan> {
    let cfg = BorgmaticConfig::load(config)?;
    if let Some(name) = repository {
        if cfg.repository(name).is_none() {
            anyhow::bail!("{} has no repository {name}", config.display());
        }
    }
    CreatePlan::from_config(&cfg, repository, &home())
        .with_context(|| format!("the patterns of {}", config.display()))
}

fn check(config: &Path) -> anyhow::Result<ExitCode> {
    let plan = load_plan(config, None)?;
    println!("{}", plan.pattern_lines.join("\n"));
    eprintln!(
        "kastell: {} roots, {} rules: borg accepts them",
        plan.roots.len(),
        plan.rules.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn preview(
    config: &Path,
    repository: Option<&str>,
    summary: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let plan = load_plan(config, repository)?;
    let matcher = Matcher::new(plan.rules.clone());
    let cancel = AtomicBool::new(false);
    let out = Mutex::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    let totals = Mutex::new(SummaryBuilder::default());
    let list = !(summary || json);
    let sink = |batch: Vec<Entry>| {
        if list {
            if let Ok(mut out) = out.lock() {
                for entry in &batch {
                    if let Some(status) = entry.status {
                        let _ = writeln!(out, "{status} {}", entry.path);
                    }
                }
            }
        }
        if let Ok(mut totals) = totals.lock() {
            for entry in &batch {
                totals.add(entry);
            }
        }
    };
    let warnings = walk(
        &plan,
        &matcher,
        WalkOptions {
            measure_excluded: summary || json,
        },
        &cancel,
        &sink,
    );
    let mut out = out.into_inner().unwrap_or_else(|e| e.into_inner());
    out.flush()?;
    for warning in &warnings {
        eprintln!("{}", warning.message);
    }
    let totals = totals
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .finish(|r| reason_label(&plan, r), reason_order);
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&totals)?)?;
    } else if summary {
        writeln!(
            out,
            "Backed up: {} files, {} folders, {}",
            totals.included_files,
            totals.included_dirs,
            human_bytes(totals.included_bytes)
        )?;
        writeln!(
            out,
            "Left out:  {} paths, {}{}",
            totals.excluded_entries,
            human_bytes(totals.excluded_bytes),
            if totals.unreadable > 0 {
                format!("; {} unreadable", totals.unreadable)
            } else {
                String::new()
            }
        )?;
        writeln!(out, "\n{:>12}  {:>9}  Rule", "Left out", "Paths")?;
        for rule in &totals.rules {
            writeln!(
                out,
                "{:>12}  {:>9}  {}",
                human_bytes(rule.bytes),
                rule.entries,
                rule.reason
            )?;
        }
        if !totals.largest_excluded.is_empty() {
            writeln!(out, "\nLargest left out:")?;
            for item in totals.largest_excluded.iter().take(10) {
                writeln!(
                    out,
                    "{:>12}  {}{}  ({})",
                    human_bytes(item.bytes),
                    item.path,
                    if item.is_dir { "/" } else { "" },
                    item.reason
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        // borg exits 1 on warnings.
        ExitCode::from(1)
    })
}
