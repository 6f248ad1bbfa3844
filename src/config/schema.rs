//! Typed reading of borgmatic's flat schema (1.8+ and 2.x). Only what Kastell acts on is
//! typed; every other key is kept as it is, so unknown and future options are tolerated.

use serde::Deserialize;
use serde_norway::{Mapping, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret string that never shows up in `Debug` output or logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path} uses borgmatic's old sectioned layout ({sections}); borgmatic 1.8 and later \
         use a flat layout. Run `borgmatic config generate` for a template, or move the keys \
         out of their sections."
    )]
    OldSchema { path: PathBuf, sections: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One entry of `repositories:`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RepositoryConfig {
    pub path: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub encryption: Option<String>,
}

/// Where a repository lives, as borg understands its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepositoryKind {
    Local,
    Ssh {
        user: Option<String>,
        host: String,
        port: Option<u16>,
    },
    /// Other remote forms borg accepts (`user@host:path` scp style, or a URL scheme Kastell
    /// does not special-case); borg still handles them.
    Remote,
}

impl RepositoryKind {
    /// A short word for lists and JSON: `local`, `ssh` or `remote`.
    pub fn name(&self) -> &'static str {
        match self {
            RepositoryKind::Local => "local",
            RepositoryKind::Ssh { .. } => "ssh",
            RepositoryKind::Remote => "remote",
        }
    }
}

impl RepositoryConfig {
    /// What the user calls it: the label when there is one, else the path.
    pub fn display_name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.path)
    }

    pub fn kind(&self) -> RepositoryKind {
        if let Some(rest) = self.path.strip_prefix("ssh://") {
            let authority = rest.split('/').next().unwrap_or("");
            let (user, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u.to_string()), h),
                None => (None, authority),
            };
            let (host, port) = split_host_port(hostport);
            return RepositoryKind::Ssh { user, host, port };
        }
        if self.path.contains("://") {
            return RepositoryKind::Remote;
        }
        // scp-style `host:path` (borg 1.x still accepts it); a local path never has ':' before its first '/'.
        if let Some((before, _)) = self.path.split_once(':') {
            if !before.contains('/') && !before.is_empty() {
                return RepositoryKind::Remote;
            }
        }
        RepositoryKind::Local
    }
}

fn split_host_port(hostport: &str) -> (String, Option<u16>) {
    // [ipv6]:port
    if let Some(rest) = hostport.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host.to_string(), port);
        }
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !port.is_empty() => {
            (host.to_string(), port.parse().ok())
        }
        _ => (hostport.to_string(), None),
    }
}

/// The keys Kastell reads. Everything else stays in `other`.
#[derive(Debug, Clone, Default, Deserialize)]
struct FlatSchema {
    #[serde(default)]
    source_directories: Vec<String>,
    #[serde(default)]
    repositories: Vec<RepositoryConfig>,
    #[serde(default)]
    exclude_patterns: Vec<String>,
    #[serde(default)]
    encryption_passphrase: Option<Secret>,
    #[serde(default)]
    encryption_passcommand: Option<String>,
    #[serde(default)]
    ssh_command: Option<String>,
    #[serde(default)]
    archive_name_format: Option<String>,
    #[serde(default)]
    compression: Option<String>,
    #[serde(default)]
    local_path: Option<String>,
    #[serde(default)]
    remote_path: Option<String>,
}

/// A loaded borgmatic config file.
#[derive(Debug, Clone)]
pub struct BorgmaticConfig {
    pub path: PathBuf,
    pub source_directories: Vec<String>,
    pub repositories: Vec<RepositoryConfig>,
    pub exclude_patterns: Vec<String>,
    pub encryption_passphrase: Option<Secret>,
    pub encryption_passcommand: Option<String>,
    pub ssh_command: Option<String>,
    pub archive_name_format: Option<String>,
    pub compression: Option<String>,
    pub local_path: Option<String>,
    pub remote_path: Option<String>,
    /// Keys Kastell does not type (yet): kept so nothing is lost or refused.
    pub other: BTreeMap<String, Value>,
}

/// borgmatic 1.7's section names. A file whose top level holds these as mappings predates the
/// flat schema.
const OLD_SECTIONS: &[&str] = &[
    "location",
    "storage",
    "retention",
    "consistency",
    "hooks",
    "output",
];

/// A config file's text, or the error that names it.
pub(super) fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl BorgmaticConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(path, &read_config_text(path)?)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_norway::from_str(text).map_err(|e| syntax_error(path, &e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let value = resolve_includes(value, base, 0).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        let value = interpolate_constants(value);
        let mapping = match value {
            Value::Mapping(m) => m,
            Value::Null => Mapping::new(),
            _ => {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: "the top level must be a mapping of option names to values".into(),
                })
            }
        };
        let old: Vec<&str> = OLD_SECTIONS
            .iter()
            .copied()
            .filter(|s| matches!(mapping.get(*s), Some(Value::Mapping(_))))
            .collect();
        if !old.is_empty() {
            return Err(ConfigError::OldSchema {
                path: path.to_path_buf(),
                sections: old.join(", "),
            });
        }
        let flat: FlatSchema =
            serde_norway::from_value(Value::Mapping(mapping.clone())).map_err(|e| {
                ConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                }
            })?;
        let typed = [
            "source_directories",
            "repositories",
            "exclude_patterns",
            "encryption_passphrase",
            "encryption_passcommand",
            "ssh_command",
            "archive_name_format",
            "compression",
            "local_path",
            "remote_path",
        ];
        let other = mapping
            .into_iter()
            .filter_map(|(k, v)| match k {
                Value::String(k) if !typed.contains(&k.as_str()) => Some((k, v)),
                _ => None,
            })
            .collect();
        Ok(BorgmaticConfig {
            path: path.to_path_buf(),
            source_directories: flat.source_directories,
            repositories: flat.repositories,
            exclude_patterns: flat.exclude_patterns,
            encryption_passphrase: flat.encryption_passphrase,
            encryption_passcommand: flat.encryption_passcommand,
            ssh_command: flat.ssh_command,
            archive_name_format: flat.archive_name_format,
            compression: flat.compression,
            local_path: flat.local_path,
            remote_path: flat.remote_path,
            other,
        })
    }

    /// The repository a user named by label or by path.
    pub fn repository(&self, label_or_path: &str) -> Option<&RepositoryConfig> {
        self.repositories
            .iter()
            .find(|r| r.label.as_deref() == Some(label_or_path))
            .or_else(|| self.repositories.iter().find(|r| r.path == label_or_path))
    }

    /// A short name for the file: its stem (`user` for `user.yaml`).
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// How deep `!include` may nest before Kastell assumes a loop.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Resolves borgmatic's `!include FILE` (relative to the including file) and `<<:` merges, so
/// Kastell reads the same values borgmatic does. Other tags are dropped, keeping their value.
fn resolve_includes(value: Value, base: &Path, depth: usize) -> Result<Value, String> {
    match value {
        Value::Tagged(tagged) => {
            let tagged = *tagged;
            if tagged.tag == "!include" || tagged.tag == "include" {
                let Value::String(file) = &tagged.value else {
                    return Err("!include needs a file name".into());
                };
                if depth >= MAX_INCLUDE_DEPTH {
                    return Err(format!("!include {file}: includes nest too deep (a loop?)"));
                }
                let path = base.join(expand_tilde(file));
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("!include {}: {e}", path.display()))?;
                let included: Value = serde_norway::from_str(&text)
                    .map_err(|e| format!("!include {}: {e}", path.display()))?;
                resolve_includes(included, path.parent().unwrap_or(base), depth + 1)
            } else {
                resolve_includes(tagged.value, base, depth)
            }
        }
        Value::Sequence(items) => items
            .into_iter()
            .map(|v| resolve_includes(v, base, depth))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Sequence),
        Value::Mapping(map) => {
            let mut own = Mapping::new();
            let mut merged: Vec<Value> = Vec::new();
            for (key, value) in map {
                let value = resolve_includes(value, base, depth)?;
                if key.as_str() == Some("<<") {
                    match value {
                        Value::Sequence(list) => merged.extend(list),
                        other => merged.push(other),
                    }
                } else {
                    own.insert(key, value);
                }
            }
            // Keys written in this file win over merged ones, as in borgmatic.
            for source in merged {
                if let Value::Mapping(source) = source {
                    for (k, v) in source {
                        if !own.contains_key(&k) {
                            own.insert(k, v);
                        }
                    }
                }
            }
            Ok(Value::Mapping(own))
        }
        other => Ok(other),
    }
}

fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// borgmatic replaces `{name}` in string values with `constants: {name: ...}`.
fn interpolate_constants(value: Value) -> Value {
    let Value::Mapping(map) = &value else {
        return value;
    };
    let Some(Value::Mapping(constants)) = map.get("constants") else {
        return value;
    };
    let pairs: Vec<(String, String)> = constants
        .iter()
        .filter_map(|(k, v)| {
            let k = k.as_str()?.to_string();
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((k, v))
        })
        .collect();
    fn apply(value: Value, pairs: &[(String, String)]) -> Value {
        match value {
            Value::String(mut s) => {
                for (k, v) in pairs {
                    s = s.replace(&format!("{{{k}}}"), v);
                }
                Value::String(s)
            }
            Value::Sequence(items) => {
                Value::Sequence(items.into_iter().map(|v| apply(v, pairs)).collect())
            }
            Value::Mapping(map) => Value::Mapping(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = if k.as_str() == Some("constants") {
                            v
                        } else {
                            apply(v, pairs)
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            other => other,
        }
    }
    apply(value, &pairs)
}

fn syntax_error(path: &Path, e: &serde_norway::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    // serde_norway appends " at line L column C" itself; keep the message plain.
    let message = e.to_string();
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    ConfigError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_kinds_are_recognised_from_borg_locations() {
        let repo = |p: &str| RepositoryConfig {
            path: p.into(),
            label: None,
            encryption: None,
        };
        assert_eq!(repo("/srv/borg").kind(), RepositoryKind::Local);
        assert_eq!(repo("~/borg").kind(), RepositoryKind::Local);
        assert_eq!(
            repo("ssh://borg-backup@nas.example.net/volume1/x").kind(),
            RepositoryKind::Ssh {
                user: Some("borg-backup".into()),
                host: "nas.example.net".into(),
                port: None
            }
        );
        assert_eq!(
            repo("ssh://127.0.0.1:2222/./repo").kind(),
            RepositoryKind::Ssh {
                user: None,
                host: "127.0.0.1".into(),
                port: Some(2222)
            }
        );
        assert_eq!(repo("nas:backups/x").kind(), RepositoryKind::Remote);
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let err =
            BorgmaticConfig::parse(Path::new("c.yaml"), "a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        match err {
            ConfigError::Syntax { line, column, .. } => {
                assert!(line >= 2, "line {line}");
                assert!(column >= 1, "column {column}");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn old_sectioned_schema_is_named_as_such() {
        let err = BorgmaticConfig::parse(
            Path::new("old.yaml"),
            "location:\n  source_directories: [/home]\n  repositories: [/srv/x]\nstorage:\n  encryption_passphrase: x\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::OldSchema { .. }));
        assert!(text.contains("location, storage"), "{text}");
    }

    #[test]
    fn includes_merges_and_constants_resolve_as_borgmatic_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("common.yaml"),
            "compression: lz4\nkeep_daily: 3\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("sources.yaml"), "- /home/a\n- /home/b\n").unwrap();
        let path = dir.path().join("main.yaml");
        std::fs::write(
            &path,
            "<<: !include common.yaml\nconstants:\n    host: nas\ncompression: zstd\nsource_directories: !include sources.yaml\nrepositories:\n    - path: ssh://{host}/./r\n      label: '{host}'\n",
        )
        .unwrap();
        let cfg = BorgmaticConfig::load(&path).unwrap();
        assert_eq!(
            cfg.compression.as_deref(),
            Some("zstd"),
            "own keys win over merged ones"
        );
        assert!(cfg.other.contains_key("keep_daily"));
        assert_eq!(cfg.source_directories, ["/home/a", "/home/b"]);
        assert_eq!(cfg.repositories[0].path, "ssh://nas/./r");
        assert_eq!(cfg.repositories[0].label.as_deref(), Some("nas"));
    }

    #[test]
    fn unknown_keys_are_kept_and_passphrase_is_redacted_in_debug() {
        let cfg = BorgmaticConfig::parse(
            Path::new("u.yaml"),
            "repositories:\n  - path: /srv/a\n    label: a\nencryption_passphrase: hunter2\nfuture_option: {x: 1}\n",
        )
        .unwrap();
        assert!(cfg.other.contains_key("future_option"));
        assert_eq!(cfg.repository("a").map(|r| r.path.as_str()), Some("/srv/a"));
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
