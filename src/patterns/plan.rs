//! What `borgmatic create` hands borg for a config: the patterns file it writes (from
//! `source_directories`, `patterns`, `exclude_patterns`, `patterns_from`, `exclude_from`, in that
//! order, as borgmatic 2.x's `collect_patterns` and `expand_patterns` build it) and the exclude
//! flags (`exclude_caches`, `exclude_if_present`, `keep_exclude_tags`, `exclude_nodump`,
//! `one_file_system`).

use std::path::{Path, PathBuf};

use serde_norway::Value;

use super::pattern::{PatternError, Style};
use super::pypath::{expanduser, glob, normpath};
use super::rules::{parse_command, Command, Rule};
use crate::config::{BorgmaticConfig, RepositoryKind};

/// Where a rule came from, so the window can point at the line the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `patterns[index]`.
    Patterns(usize),
    /// `exclude_patterns[index]`.
    ExcludePatterns(usize),
    /// A line of a `patterns_from` file.
    PatternsFrom {
        file: PathBuf,
        line: usize,
    },
    /// A line of an `exclude_from` file.
    ExcludeFrom {
        file: PathBuf,
        line: usize,
    },
    SourceDirectories(usize),
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Patterns(i) => format!("patterns, entry {}", i + 1),
            Origin::ExcludePatterns(i) => format!("exclude_patterns, entry {}", i + 1),
            Origin::PatternsFrom { file, line } => format!("{}, line {line}", file.display()),
            Origin::ExcludeFrom { file, line } => format!("{}, line {line}", file.display()),
            Origin::SourceDirectories(i) => format!("source_directories, entry {}", i + 1),
        }
    }
}

/// A config whose patterns borgmatic or borg would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{}: {message}", origin.describe())]
    Borgmatic { origin: Origin, message: String },
    #[error("{}: {error}", origin.describe())]
    Pattern {
        origin: Origin,
        /// The user's text.
        text: String,
        error: PatternError,
    },
    #[error("Cannot read patterns_from/exclude_from file: {0}")]
    UnreadableFile(String),
    #[error("Source directories or root pattern paths do not exist: {0}")]
    MissingSources(String),
    #[error("The config has no source_directories and no root (R) patterns: there is nothing to back up")]
    NoRoots,
}

/// Everything borg's dry run depends on.
#[derive(Debug, Clone)]
pub struct CreatePlan {
    /// The patterns file, line by line, as borgmatic writes it.
    pub pattern_lines: Vec<String>,
    pub roots: Vec<String>,
    pub rules: Vec<Rule>,
    /// `origins[i]` is where `rules[i]` came from.
    pub origins: Vec<Origin>,
    pub exclude_caches: bool,
    pub exclude_if_present: Vec<String>,
    pub keep_exclude_tags: bool,
    pub exclude_nodump: bool,
    pub one_file_system: bool,
    /// borgmatic runs borg here; relative roots are relative to it.
    pub working_directory: Option<PathBuf>,
    /// Folders borg never enters, silently: its own cache and the local repository.
    pub skipped_folders: Vec<PathBuf>,
}

/// borgmatic's `Pattern` before it is written out.
struct Entry {
    kind: char,
    style: Option<Style>,
    path: String,
    origin: Origin,
    /// Characters borgmatic added before the user's text in the written line.
    user_text: String,
}

fn as_bool(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
}

fn as_strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// borgmatic's `parse_pattern`: `TYPE REST`, REST with an optional `style:`.
fn parse_borgmatic_line(
    line: &str,
    default_style: Option<Style>,
    origin: Origin,
    user_text: &str,
) -> Result<Entry, PlanError> {
    let Some((kind_text, remainder)) = line.split_once(' ') else {
        return Err(PlanError::Borgmatic {
            origin,
            message: format!("Invalid pattern: {line}"),
        });
    };
    let kind = match kind_text {
        "R" | "P" | "-" | "!" | "+" => kind_text.chars().next().unwrap_or('R'),
        other => {
            return Err(PlanError::Borgmatic {
                origin,
                message: format!("'{other}' is not a valid Pattern_type"),
            })
        }
    };
    let (style, path) = match remainder.split_once(':') {
        Some(("", path)) => (None, path),
        Some((prefix, path)) => match Style::from_prefix(prefix) {
            Some(style) => (Some(style), path),
            None => (default_style, remainder),
        },
        None => (default_style, remainder),
    };
    Ok(Entry {
        kind,
        style,
        path: path.to_string(),
        origin,
        user_text: user_text.to_string(),
    })
}

fn read_lines(
    file: &str,
    working_directory: Option<&Path>,
    home: &Path,
) -> Result<Vec<(PathBuf, String)>, PlanError> {
    expand_directory(file, working_directory, home)
        .into_iter()
        .map(|path| {
            let full = match working_directory {
                Some(wd) => wd.join(&path),
                None => PathBuf::from(&path),
            };
            std::fs::read_to_string(&full)
                .map(|text| (PathBuf::from(path), text))
                .map_err(|_| PlanError::UnreadableFile(full.display().to_string()))
        })
        .collect()
}

/// borgmatic's `expand_directory`: tilde, then glob (relative to the working directory).
fn expand_directory(directory: &str, working_directory: Option<&Path>, home: &Path) -> Vec<String> {
    let expanded = expanduser(directory, home);
    let prefix = working_directory
        .map(|wd| {
            let mut s = wd.to_string_lossy().into_owned();
            if !s.ends_with('/') {
                s.push('/');
            }
            s
        })
        .unwrap_or_default();
    let normalized = if expanded.starts_with('/') {
        expanded.clone()
    } else {
        format!("{prefix}{expanded}")
    };
    let found = glob(&normalized);
    if found.is_empty() {
        return vec![expanded];
    }
    found
        .into_iter()
        .map(|p| {
            if normalized == expanded {
                p
            } else {
                p.strip_prefix(&prefix).map(str::to_string).unwrap_or(p)
            }
        })
        .collect()
}

/// borg's cache folder as `get_cache_dir` finds it with borgmatic's environment.
fn borg_cache_dir(config: &BorgmaticConfig, home: &Path) -> PathBuf {
    let setting = |key: &str, env: &str| {
        match config.other.get(key) {
            Some(Value::String(s)) => Some(expanduser(s, home)),
            _ => None,
        }
        .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
    };
    if let Some(dir) = setting("borg_cache_directory", "BORG_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    match setting("borg_base_directory", "BORG_BASE_DIR") {
        Some(base) => Path::new(&base).join(".cache").join("borg"),
        None => std::env::var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|_| home.join(".cache"))
            .join("borg"),
    }
}

/// Which borgmatic list an entry the user types goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// `exclude_patterns`: `fm:` by default, always `!`.
    ExcludePatterns,
    /// `patterns`: `TYPE [style:]PATTERN`, `sh:` by default.
    Patterns,
}

/// The rule one entry becomes once borgmatic and borg have read it (`None` for `R` and `P`
/// lines), or the error either would give, its offset in `text`.
pub fn entry_rule(kind: ListKind, text: &str, home: &Path) -> Result<Option<Rule>, PatternError> {
    let origin = Origin::Patterns(0);
    let trimmed = text.trim();
    let entry = match kind {
        ListKind::ExcludePatterns => parse_borgmatic_line(
            &format!("! {trimmed}"),
            Some(Style::Fnmatch),
            origin,
            trimmed,
        ),
        ListKind::Patterns => parse_borgmatic_line(trimmed, None, origin, trimmed),
    }
    .map_err(|e| PatternError {
        message: match e {
            PlanError::Borgmatic { message, .. } => message,
            other => other.to_string(),
        },
        offset: 0,
    })?;
    let path = if entry.kind == 'R' {
        entry.path.clone()
    } else {
        expanduser(&entry.path, home)
    };
    let written = match entry.style {
        Some(style) => format!("{} {}:{path}", entry.kind, style.prefix()),
        None => format!("{} {path}", entry.kind),
    };
    let leading = text.chars().count() - text.trim_start().chars().count();
    match parse_command(written.trim(), Style::Shell) {
        Ok(Command::Rule(rule)) => Ok(Some(rule)),
        Ok(_) => Ok(None),
        Err(error) => {
            let added = written
                .trim()
                .chars()
                .count()
                .saturating_sub(trimmed.chars().count());
            Err(PatternError {
                message: error.message,
                offset: error.offset.saturating_sub(added) + leading,
            })
        }
    }
}

impl CreatePlan {
    /// The plan for `borgmatic create` of `config` to `repository` (a label or path; the first
    /// repository when `None`). `home` stands for `~`.
    pub fn from_config(
        config: &BorgmaticConfig,
        repository: Option<&str>,
        home: &Path,
    ) -> Result<CreatePlan, PlanError> {
        let other = &config.other;
        let working_directory = match other.get("working_directory") {
            Some(Value::String(s)) => Some(PathBuf::from(expanduser(s, home))),
            _ => None,
        };
        let wd = working_directory.as_deref();
        let mut entries: Vec<Entry> = Vec::new();
        for (i, source) in config.source_directories.iter().enumerate() {
            entries.push(Entry {
                kind: 'R',
                style: None,
                path: source.clone(),
                origin: Origin::SourceDirectories(i),
                user_text: source.clone(),
            });
        }
        for (i, line) in as_strings(other.get("patterns")).iter().enumerate() {
            if line.trim_start().starts_with('#') || line.trim().is_empty() {
                continue;
            }
            entries.push(parse_borgmatic_line(
                line.trim(),
                None,
                Origin::Patterns(i),
                line.trim(),
            )?);
        }
        for (i, line) in config.exclude_patterns.iter().enumerate() {
            entries.push(parse_borgmatic_line(
                &format!("! {}", line.trim()),
                Some(Style::Fnmatch),
                Origin::ExcludePatterns(i),
                line.trim(),
            )?);
        }
        for file in as_strings(other.get("patterns_from")) {
            for (path, text) in read_lines(&file, wd, home)? {
                for (n, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with('#') || line.trim().is_empty() {
                        continue;
                    }
                    let origin = Origin::PatternsFrom {
                        file: path.clone(),
                        line: n + 1,
                    };
                    entries.push(parse_borgmatic_line(
                        line.trim(),
                        None,
                        origin,
                        line.trim(),
                    )?);
                }
            }
        }
        for file in as_strings(other.get("exclude_from")) {
            for (path, text) in read_lines(&file, wd, home)? {
                for (n, line) in text.lines().enumerate() {
                    if line.trim_start().starts_with('#') || line.trim().is_empty() {
                        continue;
                    }
                    let origin = Origin::ExcludeFrom {
                        file: path.clone(),
                        line: n + 1,
                    };
                    entries.push(parse_borgmatic_line(
                        &format!("! {}", line.trim()),
                        Some(Style::Fnmatch),
                        origin,
                        line.trim(),
                    )?);
                }
            }
        }
        // expand_patterns: roots get tilde and glob expansion, everything else just the tilde.
        let mut expanded: Vec<Entry> = Vec::new();
        for entry in entries {
            if entry.kind == 'R' {
                for path in expand_directory(&entry.path, wd, home) {
                    expanded.push(Entry {
                        path,
                        origin: entry.origin.clone(),
                        user_text: entry.user_text.clone(),
                        ..entry
                    });
                }
            } else {
                expanded.push(Entry {
                    path: expanduser(&entry.path, home),
                    ..entry
                });
            }
        }
        if !matches!(
            other.get("source_directories_must_exist"),
            Some(Value::Bool(false))
        ) {
            let missing: Vec<&str> = expanded
                .iter()
                .filter(|e| e.kind == 'R')
                .filter(|e| {
                    let full = match wd {
                        Some(wd) => wd.join(&e.path),
                        None => PathBuf::from(&e.path),
                    };
                    !full.exists()
                })
                .map(|e| e.path.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(PlanError::MissingSources(missing.join(", ")));
            }
        }
        // The file borgmatic writes, then borg's reading of it.
        let mut pattern_lines = Vec::new();
        let mut roots = Vec::new();
        let mut rules = Vec::new();
        let mut origins = Vec::new();
        let mut fallback = Style::Shell;
        for entry in &expanded {
            let written = match entry.style {
                Some(style) => format!("{} {}:{}", entry.kind, style.prefix(), entry.path),
                None => format!("{} {}", entry.kind, entry.path),
            };
            for part in written.split('\n') {
                let line = part.trim();
                pattern_lines.push(part.to_string());
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match parse_command(line, fallback) {
                    Ok(Command::Root(root)) => roots.push(root),
                    Ok(Command::Style(style)) => fallback = style,
                    Ok(Command::Rule(rule)) => {
                        rules.push(rule);
                        origins.push(entry.origin.clone());
                    }
                    Err(error) => {
                        // Point into the user's own text where it is in the line.
                        let added = line
                            .chars()
                            .count()
                            .saturating_sub(entry.user_text.chars().count());
                        let offset = error.offset.saturating_sub(added);
                        return Err(PlanError::Pattern {
                            origin: entry.origin.clone(),
                            text: entry.user_text.clone(),
                            error: PatternError {
                                message: error.message,
                                offset,
                            },
                        });
                    }
                }
            }
        }
        if roots.is_empty() {
            return Err(PlanError::NoRoots);
        }
        let mut skipped_folders = vec![borg_cache_dir(config, home)];
        let repository = match repository {
            Some(name) => config.repository(name),
            None => config.repositories.first(),
        };
        if let Some(repo) = repository {
            if repo.kind() == RepositoryKind::Local {
                let path = repo.path.trim_start_matches("file://");
                skipped_folders.push(PathBuf::from(expanduser(path, home)));
            }
        }
        Ok(CreatePlan {
            pattern_lines,
            roots,
            rules,
            origins,
            exclude_caches: as_bool(other.get("exclude_caches")),
            exclude_if_present: as_strings(other.get("exclude_if_present")),
            keep_exclude_tags: as_bool(other.get("keep_exclude_tags")),
            exclude_nodump: as_bool(other.get("exclude_nodump")),
            one_file_system: as_bool(other.get("one_file_system")),
            working_directory,
            skipped_folders,
        })
    }

    /// The roots as borg walks them (normalised, as it prints them).
    pub fn walk_roots(&self) -> Vec<String> {
        self.roots.iter().map(|r| normpath(r)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> Result<CreatePlan, PlanError> {
        let config = BorgmaticConfig::parse(Path::new("/tmp/c.yaml"), yaml).unwrap();
        CreatePlan::from_config(&config, None, Path::new("/"))
    }

    #[test]
    fn borgmatic_writes_excludes_as_no_recurse_fnmatch_after_the_patterns() {
        let p = plan(
            "source_directories: [/tmp]\npatterns: ['+ tmp/keep', '# c', '- sh:tmp/*']\n\
             exclude_patterns: ['**/.cache', 're:x$', ':odd']\nrepositories: [{path: /nowhere}]\n",
        )
        .unwrap();
        assert_eq!(
            p.pattern_lines,
            vec![
                "R /tmp",
                "+ tmp/keep",
                "- sh:tmp/*",
                "! fm:**/.cache",
                "! re:x$",
                "! odd"
            ]
        );
        assert_eq!(p.rules[0].pattern.style, Style::Shell);
        assert_eq!(
            p.rules[4].pattern.style,
            Style::Shell,
            "':odd' loses its style"
        );
        assert_eq!(p.origins[2], Origin::ExcludePatterns(0));
        assert!(p.skipped_folders.contains(&PathBuf::from("/nowhere")));
    }

    #[test]
    fn tilde_is_expanded_in_excludes_and_roots() {
        let p = plan("source_directories: ['~/']\nexclude_patterns: ['~/Downloads']\n").unwrap();
        assert_eq!(p.pattern_lines, vec!["R /", "! fm:/Downloads"]);
        assert_eq!(p.walk_roots(), vec!["/"]);
    }

    #[test]
    fn errors_name_the_entry_and_position() {
        let e =
            plan("source_directories: [/tmp]\nexclude_patterns: ['ok', 're:a(b']\n").unwrap_err();
        match e {
            PlanError::Pattern { origin, error, .. } => {
                assert_eq!(origin, Origin::ExcludePatterns(1));
                assert!(error.offset >= 3, "{error:?}");
            }
            other => panic!("{other:?}"),
        }
        let e = plan("source_directories: [/tmp]\npatterns: ['+foo']\n").unwrap_err();
        assert_eq!(e.to_string(), "patterns, entry 1: Invalid pattern: +foo");
        let e = plan("source_directories: [/does/not/exist]\n").unwrap_err();
        assert!(matches!(e, PlanError::MissingSources(_)));
    }
}
