//! Matching alone: how many paths a second Kastell's matcher decides for a config's patterns.
//! Used by `scripts/bench-excludes.py`, which runs borg's own `PatternMatcher` on the same
//! paths.
//!
//!     cargo run --release --example pattern_match_rate -- CONFIG PATHS_FILE

use std::path::Path;
use std::time::Instant;

use kastell::config::BorgmaticConfig;
use kastell::patterns::{CreatePlan, Matcher};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(config), Some(paths_file)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: pattern_match_rate CONFIG PATHS_FILE");
    };
    let home = dirs::home_dir().unwrap_or_else(|| "/".into());
    let config = BorgmaticConfig::load(Path::new(config))?;
    let plan = CreatePlan::from_config(&config, None, &home)?;
    let matcher = Matcher::new(plan.rules.clone());
    let text = std::fs::read_to_string(paths_file)?;
    let paths: Vec<&str> = text.lines().collect();
    // Repeat until at least two seconds have been measured.
    let start = Instant::now();
    let mut decided = 0u64;
    let mut excluded = 0u64;
    while start.elapsed().as_secs_f64() < 2.0 {
        for path in &paths {
            if !matcher.verdict(path).included {
                excluded += 1;
            }
        }
        decided += paths.len() as u64;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "paths": paths.len(),
            "decided": decided,
            "excluded": excluded,
            "seconds": seconds,
            "per_second": decided as f64 / seconds,
        })
    );
    Ok(())
}
