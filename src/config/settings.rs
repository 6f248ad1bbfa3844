//! The settings a person edits in the window, read from and written to a `ConfigDocument`,
//! with the checks that catch a mistake before borgmatic or borg would.

use super::edit::{ConfigDocument, EditError, Scalar};
use serde_norway::Value;

/// The retention options, in the order people think of them.
pub const RETENTION_KEYS: [&str; 6] = [
    "keep_within",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
];

/// Every value the settings pages show, as text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub source_directories: Vec<String>,
    pub exclude_patterns: Vec<String>,
    /// (label, path) per repository.
    pub repositories: Vec<(String, String)>,
    pub compression: String,
    pub archive_name_format: String,
    pub ssh_command: String,
    /// Values of `RETENTION_KEYS`, in that order ("" when unset).
    pub retention: Vec<String>,
    /// (name, frequency) per entry of `checks:`.
    pub checks: Vec<(String, String)>,
    /// `on_error:` commands (borgmatic's error hook).
    pub on_error: Vec<String>,
    /// "plaintext", "wallet", "passcommand" or "none".
    pub passphrase: &'static str,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

impl Settings {
    pub fn read(doc: &ConfigDocument) -> Result<Settings, super::ConfigError> {
        let cfg = doc.config()?;
        let other = |key: &str| cfg.other.get(key).map(text_of).unwrap_or_default();
        let list_of_maps = |key: &str, a: &str, b: &str| -> Vec<(String, String)> {
            cfg.other
                .get(key)
                .and_then(Value::as_sequence)
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            (
                                i.get(a).map(text_of).unwrap_or_default(),
                                i.get(b).map(text_of).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let passphrase = match (&cfg.encryption_passphrase, &cfg.encryption_passcommand) {
            (Some(_), _) => "plaintext",
            (None, Some(cmd)) if crate::credentials::wallet::is_kastell_passcommand(cmd) => {
                "wallet"
            }
            (None, Some(_)) => "passcommand",
            (None, None) => "none",
        };
        Ok(Settings {
            source_directories: cfg.source_directories.clone(),
            exclude_patterns: cfg.exclude_patterns.clone(),
            repositories: cfg
                .repositories
                .iter()
                .map(|r| (r.label.clone().unwrap_or_default(), r.path.clone()))
                .collect(),
            compression: cfg.compression.clone().unwrap_or_default(),
            archive_name_format: cfg.archive_name_format.clone().unwrap_or_default(),
            ssh_command: cfg.ssh_command.clone().unwrap_or_default(),
            retention: RETENTION_KEYS.iter().map(|k| other(k)).collect(),
            checks: list_of_maps("checks", "name", "frequency"),
            on_error: doc.string_list("on_error"),
            passphrase,
        })
    }
}

/// Checks one scalar setting as typed; Ok(None) means "remove the option".
pub fn check_scalar(key: &str, text: &str) -> Result<Option<Scalar>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match key {
        "keep_within" => {
            let (number, unit) = text.split_at(text.len() - 1);
            if number.parse::<u32>().is_ok_and(|n| n > 0) && "HdwmyMS".contains(unit) {
                Ok(Some(Scalar::Str(text.into())))
            } else {
                Err("a number and a unit: H (hours), d, w, m (months) or y, e.g. 6H or 7d".into())
            }
        }
        k if k.starts_with("keep_") => text
            .parse::<u32>()
            .map(|n| Some(Scalar::Int(i64::from(n))))
            .map_err(|_| "a whole number of archives to keep (0 or more)".into()),
        "compression" => check_compression(text).map(|()| Some(Scalar::Str(text.into()))),
        "archive_name_format" => {
            if ["{now", "{utcnow", "{uuid4}"]
                .iter()
                .any(|p| text.contains(p))
            {
                Ok(Some(Scalar::Str(text.into())))
            } else {
                Err(
                    "include {now} (or {utcnow}, {uuid4}) so every archive gets its own name"
                        .into(),
                )
            }
        }
        "ssh_command" => Ok(Some(Scalar::Str(text.into()))),
        other => Err(format!("“{other}” is not a setting Kastell edits")),
    }
}

/// borg's `--compression` spec: `none`, `lz4`, `zstd[,1-22]`, `zlib[,0-9]`, `lzma[,0-9]`,
/// optionally behind `auto,` or `obfuscate,N,`.
fn check_compression(spec: &str) -> Result<(), String> {
    let mut parts: Vec<&str> = spec.split(',').collect();
    if parts.first() == Some(&"obfuscate") {
        if parts.len() < 3 || parts[1].parse::<u32>().is_err() {
            return Err(
                "obfuscate needs a level and a compression, e.g. obfuscate,110,zstd,3".into(),
            );
        }
        parts.drain(..2);
    }
    if parts.first() == Some(&"auto") {
        parts.remove(0);
    }
    let level_ok = |max: u32, min: u32| match parts.get(1) {
        None => parts.len() == 1,
        Some(l) => parts.len() == 2 && l.parse::<u32>().is_ok_and(|l| (min..=max).contains(&l)),
    };
    let ok = match parts.first().copied() {
        Some("none") | Some("lz4") => parts.len() == 1,
        Some("zstd") => level_ok(22, 1),
        Some("zlib") | Some("lzma") => level_ok(9, 0),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err("one of none, lz4, zstd[,1-22], zlib[,0-9], lzma[,0-9] (optionally auto,…)".into())
    }
}

/// Checks a `checks:` frequency: `always` or `N hours|days|weeks|months|years`.
pub fn check_frequency(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text == "always" {
        return Ok(());
    }
    let mut words = text.split_whitespace();
    let ok = matches!(
        (words.next().map(str::parse::<u32>), words.next(), words.next()),
        (Some(Ok(n)), Some(unit), None) if n > 0 && ["hour", "day", "week", "month", "year"]
            .iter()
            .any(|u| unit == *u || unit == format!("{u}s"))
    );
    if ok {
        Ok(())
    } else {
        Err("“always”, or a number and hours, days, weeks, months or years (e.g. 2 weeks)".into())
    }
}

/// Applies a checked scalar setting.
pub fn apply_scalar(doc: &mut ConfigDocument, key: &str, text: &str) -> Result<(), String> {
    let value = check_scalar(key, text)?;
    let result = match value {
        Some(v) => doc.set_scalar(key, v),
        None if doc.config().is_ok_and(|c| is_set(&c, key)) => doc.remove_key(key),
        None => Ok(()),
    };
    result.map_err(|e: EditError| e.to_string())
}

fn is_set(cfg: &super::BorgmaticConfig, key: &str) -> bool {
    match key {
        "compression" => cfg.compression.is_some(),
        "archive_name_format" => cfg.archive_name_format.is_some(),
        "ssh_command" => cfg.ssh_command.is_some(),
        other => cfg.other.contains_key(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn values_are_checked_as_borg_and_borgmatic_would() {
        assert_eq!(check_scalar("keep_daily", "7"), Ok(Some(Scalar::Int(7))));
        assert!(check_scalar("keep_daily", "seven").is_err());
        assert_eq!(check_scalar("keep_daily", ""), Ok(None));
        assert!(check_scalar("keep_within", "6H").is_ok());
        assert!(check_scalar("keep_within", "6 hours").is_err());
        for good in [
            "zstd",
            "zstd,19",
            "lz4",
            "auto,zlib,6",
            "none",
            "obfuscate,110,zstd,3",
        ] {
            assert!(check_scalar("compression", good).is_ok(), "{good}");
        }
        for bad in ["zstd,40", "gzip", "lz4,3"] {
            assert!(check_scalar("compression", bad).is_err(), "{bad}");
        }
        assert!(check_scalar("archive_name_format", "{hostname}-{now}").is_ok());
        assert!(check_scalar("archive_name_format", "backup").is_err());
        assert!(check_frequency("2 weeks").is_ok());
        assert!(check_frequency("always").is_ok());
        assert!(check_frequency("fortnightly").is_err());
    }

    #[test]
    fn the_seed_reads_into_settings() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-user.yaml"),
        )
        .unwrap();
        let doc = ConfigDocument::parse(Path::new("user.yaml"), &text).unwrap();
        let s = Settings::read(&doc).unwrap();
        assert_eq!(s.repositories[1].0, "remote-nas");
        assert_eq!(s.retention, ["6H", "8", "7", "4", "6", "1"]);
        assert_eq!(
            s.checks,
            [
                ("repository".into(), "2 weeks".into()),
                ("archives".into(), "4 weeks".into())
            ]
        );
        assert_eq!(s.on_error.len(), 1);
        assert_eq!(s.passphrase, "plaintext");
    }
}
