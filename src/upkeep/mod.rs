//! Keeping repositories healthy, always acted on through borgmatic/borg: retention with a
//! preview (`retention.rs`, borg's rules computed here from the archive list, so the preview
//! answers while the person types), prune and compact.

pub mod retention;
pub mod stats;

use crate::process::{run_to_end, BorgmaticCommand, Tools};
use std::path::Path;

use crate::browse::{open_reader, OpenError};
use crate::config::{BorgmaticConfig, RepositoryConfig};
use crate::process::ProcessError;
use retention::{Archive, Decision, Period, Rules};
use serde_norway::Value;

#[derive(Debug, thiserror::Error)]
pub enum UpkeepError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{option}: “{value}” is not {expected}")]
    BadRule {
        option: String,
        value: String,
        expected: &'static str,
    },
    #[error("the archive filter “{glob}” is not a valid pattern: {message}")]
    BadFilter { glob: String, message: String },
    #[error("no retention is set (keep_daily, keep_weekly, …): borg prunes nothing without one")]
    NoRules,
    #[error("borg's archive time “{0}” cannot be read")]
    BadTime(String),
    #[error("a backup of this config is running: try again when it has finished")]
    Busy,
    #[error("“{name}” cannot be an archive name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("the repository has no archive “{0}”")]
    NoSuchArchive(String),
    #[error("the repository has an archive “{0}” already")]
    NameTaken(String),
}

impl UpkeepError {
    pub fn kind(&self) -> crate::errors::ErrorKind {
        use crate::errors::ErrorKind;
        match self {
            UpkeepError::Open(e) => e.kind(),
            UpkeepError::Process(e) => e.kind(),
            UpkeepError::BadRule { .. } | UpkeepError::BadFilter { .. } | UpkeepError::NoRules => {
                ErrorKind::BadInput
            }
            UpkeepError::Busy => ErrorKind::Locked,
            UpkeepError::Config(e) => e.kind(),
            UpkeepError::BadName { .. }
            | UpkeepError::NoSuchArchive(_)
            | UpkeepError::NameTaken(_) => ErrorKind::BadInput,
            UpkeepError::BadTime(_) => ErrorKind::Damaged,
        }
    }
}

fn number(option: &str, value: &Value) -> Result<u32, UpkeepError> {
    let bad = || UpkeepError::BadRule {
        option: option.to_string(),
        value: match value {
            Value::String(s) => s.clone(),
            other => serde_norway::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        },
        expected: "a whole number",
    };
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(bad),
        Value::String(s) => s.trim().parse().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// The config's retention, as borgmatic passes it to `borg prune` (`keep_last` is borg's
/// other name for `keep_secondly`).
pub fn rules_of(config: &BorgmaticConfig) -> Result<Rules, UpkeepError> {
    let mut rules = Rules::default();
    for period in Period::ALL {
        if let Some(value) = config.other.get(period.option()) {
            rules.set(period, Some(number(period.option(), value)?));
        }
    }
    if let Some(value) = config.other.get("keep_last") {
        rules.set(Period::Secondly, Some(number("keep_last", value)?));
    }
    if rules.count(Period::Quarterly13Weekly).is_some()
        && rules.count(Period::Quarterly3Monthly).is_some()
    {
        return Err(UpkeepError::BadRule {
            option: "keep_3monthly".into(),
            value: "set together with keep_13weekly".into(),
            expected: "allowed: borg takes one kind of quarter, keep_13weekly or keep_3monthly",
        });
    }
    if let Some(value) = config.other.get("keep_within") {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        rules.within_hours =
            Some(
                retention::parse_within(&text).ok_or_else(|| UpkeepError::BadRule {
                    option: "keep_within".into(),
                    value: text.clone(),
                    expected: "a number and a unit (H, d, w, m or y), e.g. 7d",
                })?,
            );
    }
    Ok(rules)
}

/// borgmatic's archive filter for prune with borg 1.x (`make_prune_flags`): `prefix`, else
/// `match_archives`, else the archive name format with `{now}`, `{utcnow}` and `{pid}` as `*`;
/// None when it matches every archive. borg's own placeholders are filled in as borg does.
pub fn archive_filter(config: &BorgmaticConfig) -> Result<Option<regex::Regex>, UpkeepError> {
    let text = |key: &str| match config.other.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let glob = if let Some(prefix) = text("prefix") {
        format!("{prefix}*")
    } else if let Some(wanted) = text("match_archives") {
        if ["*", "re:.*", "sh:*"].contains(&wanted.as_str()) {
            return Ok(None);
        }
        wanted.strip_prefix("sh:").unwrap_or(&wanted).to_string()
    } else {
        let format = config
            .archive_name_format
            .clone()
            .unwrap_or_else(|| "{hostname}-{now:%Y-%m-%dT%H:%M:%S.%f}".to_string());
        let ephemeral = regex::Regex::new(r"\{(now|utcnow|pid)([:%\w\.-]*)\}").map_err(|e| {
            UpkeepError::BadFilter {
                glob: format.clone(),
                message: e.to_string(),
            }
        })?;
        let derived = ephemeral.replace_all(&format, "*").into_owned();
        if derived == "*" {
            return Ok(None);
        }
        derived
    };
    let filled = fill_placeholders(&glob);
    crate::patterns::archive_glob(&filled)
        .map(Some)
        .map_err(|e| UpkeepError::BadFilter {
            glob,
            message: e.message,
        })
}

/// borg's `replace_placeholders` for what can appear in an archive filter.
fn fill_placeholders(text: &str) -> String {
    let full_host = gethostname::gethostname().to_string_lossy().into_owned();
    let host = std::env::var("BORG_HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| full_host.split('.').next().unwrap_or_default().to_string());
    let user = std::env::var("BORG_USERNAME")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_default();
    text.replace("{{", "\u{0}")
        .replace("}}", "\u{1}")
        .replace("{hostname}", &host)
        .replace("{fqdn}", &full_host)
        .replace("{user}", &user)
        .replace('\u{0}', "{")
        .replace('\u{1}', "}")
}

/// The archives prune would look at, through Kastell's reader (borg's UTC times), or borgmatic's
/// list where the reader cannot read the repository.
async fn archives_of(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
) -> Result<Vec<Archive>, UpkeepError> {
    match open_reader(config, repository).await {
        Ok(reader) => reader
            .archives()
            .iter()
            .map(|a| {
                let ns = crate::times::utc_iso_to_ns(&a.time)
                    .ok_or_else(|| UpkeepError::BadTime(a.time.clone()))?;
                Ok(Archive {
                    name: a.name.clone(),
                    time: jiff::Timestamp::from_nanosecond(i128::from(ns))
                        .map_err(|_| UpkeepError::BadTime(a.time.clone()))?,
                })
            })
            .collect(),
        Err(OpenError::Unsupported(_)) => {
            let listed = crate::process::archives::list_archives_with(
                config,
                repository,
                None,
                &crate::events::Discard,
                &tokio_util::sync::CancellationToken::new(),
            )
            .await?;
            listed
                .into_iter()
                .map(|a| {
                    let time = crate::times::local_iso_to_timestamp(&a.time)
                        .ok_or_else(|| UpkeepError::BadTime(a.time.clone()))?;
                    Ok(Archive { name: a.name, time })
                })
                .collect()
        }
        Err(e) => Err(e.into()),
    }
}

/// The archives `borgmatic prune` looks at in `repository`: those the config's filter matches.
/// Read once; a preview re-decides them for every set of rules typed.
pub async fn prune_candidates(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
) -> Result<Vec<Archive>, UpkeepError> {
    let filter = archive_filter(config)?;
    let mut archives = archives_of(config, repository).await?;
    if let Some(filter) = &filter {
        archives.retain(|a| filter.is_match(&a.name));
    }
    Ok(archives)
}

/// What `rules` decide for `candidates` now, in this computer's time zone, newest first.
pub fn decide_now(candidates: &[Archive], rules: &Rules) -> Result<Vec<Decision>, UpkeepError> {
    if !rules.any() {
        return Err(UpkeepError::NoRules);
    }
    Ok(retention::decide(
        candidates,
        rules,
        jiff::Timestamp::now(),
        &jiff::tz::TimeZone::system(),
    ))
}

/// What `borgmatic prune` with `rules` would do to `repository` now: every archive the
/// config's filter matches, newest first, kept (and by which rule) or pruned.
pub async fn prune_preview(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    rules: &Rules,
) -> Result<Vec<Decision>, UpkeepError> {
    if !rules.any() {
        return Err(UpkeepError::NoRules);
    }
    decide_now(&prune_candidates(config, repository).await?, rules)
}

/// Rules from `option=value` texts as typed (`keep_daily=7`, `keep_within=2w`; empty values
/// unset), for a preview of what is not saved yet.
pub fn rules_from_texts<'a>(
    texts: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Rules, UpkeepError> {
    let mut rules = Rules::default();
    for (option, value) in texts {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if option == "keep_within" {
            rules.within_hours =
                Some(
                    retention::parse_within(value).ok_or_else(|| UpkeepError::BadRule {
                        option: option.into(),
                        value: value.into(),
                        expected: "a number and a unit (H, d, w, m or y), e.g. 7d",
                    })?,
                );
            continue;
        }
        let period = Period::ALL
            .into_iter()
            .find(|p| p.option() == option)
            .ok_or_else(|| UpkeepError::BadRule {
                option: option.into(),
                value: value.into(),
                expected: "a retention option",
            })?;
        rules.set(period, Some(number(option, &Value::String(value.into()))?));
    }
    Ok(rules)
}

/// Refused while Kastell backs this config up: borg would wait for the lock, or fail.
pub fn refuse_while_backing_up(config: &Path) -> Result<(), UpkeepError> {
    let Ok(state) = crate::history::state_dir() else {
        return Ok(());
    };
    match crate::backup::lock::running(&state.join("locks"), config) {
        Some(_) => Err(UpkeepError::Busy),
        None => Ok(()),
    }
}

/// Deletes the archives `names` of `repository` (`borgmatic delete --archive`, one by one;
/// their space is freed by the next compact). `done` hears of each one deleted. Mounts of
/// them end and their indexes go ([`forget_archives`]; what could not be unmounted is
/// returned, in words).
pub async fn delete_archives(
    config: &Path,
    repository: &str,
    names: &[String],
    done: &mut (dyn FnMut(&str) + Send),
) -> Result<Vec<String>, UpkeepError> {
    refuse_while_backing_up(config)?;
    let tools = Tools::detect().await?;
    for name in names {
        let invocation = BorgmaticCommand::new(config, "delete")
            .repository(repository)
            .arg("--archive")
            .arg(name)
            .invocation(&tools);
        run_to_end(invocation).await?;
        done(name);
    }
    Ok(forget_archives(config, repository, names).await)
}

/// Whether `name` can be a new archive name (borg refuses `/` and the empty name; a leading
/// `-` would be read as an option).
pub fn check_archive_name(name: &str) -> Result<(), UpkeepError> {
    let why = if name.trim().is_empty() {
        Some("it is empty")
    } else if name.contains('/') {
        Some("borg does not allow “/” in archive names")
    } else if name.starts_with('-') {
        Some("it starts with “-”")
    } else if name != name.trim() {
        Some("it starts or ends with a space")
    } else if name.chars().any(char::is_control) {
        Some("it holds a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(UpkeepError::BadName {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// Renames archive `old` of `repository` to `new` (`borgmatic borg rename`, which reaches
/// borg with the config's passphrase, ssh command and repository). Refused while a backup
/// of the config runs, when `old` is missing or `new` is taken (from `names`, the
/// repository's archive names as the caller listed them).
pub async fn rename_archive(
    config: &Path,
    repository: &str,
    names: &[String],
    old: &str,
    new: &str,
) -> Result<(), UpkeepError> {
    check_archive_name(new)?;
    if !names.iter().any(|n| n == old) {
        return Err(UpkeepError::NoSuchArchive(old.to_string()));
    }
    if names.iter().any(|n| n == new) {
        return Err(UpkeepError::NameTaken(new.to_string()));
    }
    refuse_while_backing_up(config)?;
    let tools = Tools::detect().await?;
    // borgmatic sets BORG_REPO for its `borg` action, so `::NAME` is the archive there.
    let invocation = BorgmaticCommand::new(config, "borg")
        .repository(repository)
        .arg("rename")
        .arg(format!("::{old}"))
        .arg(new)
        .invocation(&tools);
    run_to_end(invocation).await?;
    forget_archives(config, repository, &[old.to_string()]).await;
    Ok(())
}

/// The repository's archive names as they are now, newest first.
pub async fn archive_names(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
) -> Result<Vec<String>, UpkeepError> {
    let listed = archive_list(config, repository).await?;
    Ok(listed.into_iter().map(|(name, _, _)| name).collect())
}

/// Every archive of the repository (name, hex id, borg's time), newest first: Kastell's
/// reader when it can open the repository (all archives, fast; the session is opened afresh
/// to see changes), borgmatic's list otherwise.
pub(crate) async fn archive_list(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
) -> Result<Vec<(String, String, String)>, UpkeepError> {
    if let Ok(session) = crate::browse::open(&config.path, repository.display_name(), true).await {
        let mut all: Vec<(String, String, String)> = session
            .reader
            .archives()
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    crate::reader::key::hex(&a.id),
                    a.time.clone(),
                )
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| b.0.cmp(&a.0)));
        return Ok(all);
    }
    let listed = crate::process::archives::list_archives(
        config,
        repository,
        &crate::events::Discard,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await?;
    Ok(listed.into_iter().map(|a| (a.name, a.id, a.time)).collect())
}

/// After archives were deleted or renamed: this process's mounts of them are unmounted and
/// the repository's session is opened afresh, which drops the indexes of archives that are
/// gone. Returns what could not be unmounted, in words.
pub async fn forget_archives(config: &Path, repository: &str, gone: &[String]) -> Vec<String> {
    use crate::mount::manager::{mounts, unmount, Target};
    let mut notes = Vec::new();
    for mount in mounts() {
        let Target::Archive {
            repository: mounted_repository,
            archive,
        } = &mount.target
        else {
            continue;
        };
        if mount.config == config && mounted_repository == repository && gone.contains(archive) {
            if let Err(why) = unmount(&mount.mountpoint) {
                notes.push(why);
            }
        }
    }
    // Opening afresh prunes the index cache; a repository Kastell cannot read has none.
    let _ = crate::browse::open(config, repository, true).await;
    notes
}
