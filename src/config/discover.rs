use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The folders and files borgmatic itself reads for a user, in the order Kastell shows them.
/// `$XDG_CONFIG_HOME/borgmatic/config.yaml` and `$XDG_CONFIG_HOME/borgmatic.d/*.yaml` are
/// borgmatic's defaults; other `*.yaml` files in `borgmatic/` are how guides (and the seed)
/// name per-purpose configs such as `user.yaml`.
pub fn default_config_paths(config_home: &Path) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    for dir in [
        config_home.join("borgmatic"),
        config_home.join("borgmatic.d"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if is_yaml && path.is_file() {
                found.insert(path);
            }
        }
    }
    found.into_iter().collect()
}

/// Configs to show: the one given on the command line, or every one found in the user's
/// config home (`$XDG_CONFIG_HOME`, else `~/.config`).
pub fn discover_configs(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    match dirs::config_dir() {
        Some(home) => default_config_paths(&home),
        None => Vec::new(),
    }
}

/// Every discovered config that loads, with its repositories' names (label, or path).
pub fn discovered_repositories() -> Vec<(PathBuf, Vec<String>)> {
    discover_configs(None)
        .into_iter()
        .filter_map(|path| super::BorgmaticConfig::load(&path).ok())
        .map(|config| {
            let names = config
                .repositories
                .iter()
                .map(|r| r.display_name().to_string())
                .collect();
            (config.path, names)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_yaml_files_in_both_borgmatic_folders_sorted_and_ignores_others() {
        let home = tempfile::tempdir().unwrap();
        let a = home.path().join("borgmatic");
        let b = home.path().join("borgmatic.d");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for p in [
            a.join("user.yaml"),
            a.join("config.yaml"),
            b.join("nas.yml"),
        ] {
            std::fs::write(p, "x: 1").unwrap();
        }
        std::fs::write(a.join("notify.sh"), "#!/bin/sh").unwrap();
        let found = default_config_paths(home.path());
        assert_eq!(
            found,
            vec![
                a.join("config.yaml"),
                a.join("user.yaml"),
                b.join("nas.yml")
            ]
        );
    }
}
