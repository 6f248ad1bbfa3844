//! `kastell excludes preview` and `kastell excludes check`: what `borgmatic create` would back up.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use anyhow::Context;

use crate::config::BorgmaticConfig;
use crate::patterns::summary::reason_order;
use crate::patterns::{
    reason_label, walk, CreatePlan, Entry, Matcher, SummaryBuilder, WalkOptions,
};
use crate::units::format_bytes as human_bytes;

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

pub fn check(config: &Path) -> anyhow::Result<ExitCode> {
    let plan = load_plan(config, None)?;
    println!("{}", plan.pattern_lines.join("\n"));
    eprintln!(
        "kastell: {} roots, {} rules: borg accepts them",
        plan.roots.len(),
        plan.rules.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn preview(
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
