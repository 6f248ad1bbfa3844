//! The borgmatic config the first run writes: the guide's `user.yaml` layout and section
//! comments, the exclude presets, the repositories, Kastell's `encryption_passcommand` (never
//! the passphrase), the guide's retention and checks. Plain borgmatic runs it headless.

use super::Destination;
use crate::patterns::presets::PRESETS;
use std::path::{Path, PathBuf};

/// What goes into the config besides the repositories.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub config: &'a Path,
    pub sources: &'a [PathBuf],
    /// Preset ids switched on (the exclude editor's presets).
    pub presets: &'a [&'a str],
    pub destinations: &'a [Destination],
    pub passcommand: &'a str,
    /// `ssh_command` for SSH destinations (the dedicated key, Kastell's known_hosts).
    pub ssh_command: Option<&'a str>,
    /// Going on in a repository that holds archives from before (a new computer): every
    /// archive of this user counts, whatever computer's name it carries, so the window lists
    /// them and retention keeps counting them.
    pub continues_existing: bool,
}

/// The presets on by default: the guide's excludes.
pub const DEFAULT_PRESETS: &[&str] = &["caches", "build", "media", "kde", "vm"];

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

fn section(out: &mut String, title: &str) {
    out.push_str("# ============================================================\n");
    out.push_str(&format!("# {title}\n"));
    out.push_str("# ============================================================\n\n");
}

pub fn config_text(layout: &Layout) -> String {
    let mut out = String::new();
    out.push_str(&format!("# {}\n", layout.config.display()));
    out.push_str(
        "# User data backup, written by Kastell's first-run setup. Plain `borgmatic` runs it;\n",
    );
    out.push_str("# the passphrase is in the wallet (Secret Service), asked for by the passcommand below.\n\n");

    section(&mut out, "What to back up");
    out.push_str("source_directories:\n");
    for source in layout.sources {
        out.push_str(&format!(
            "    - {}\n",
            quoted(&source.display().to_string())
        ));
    }
    let chosen: Vec<_> = PRESETS
        .iter()
        .filter(|p| layout.presets.contains(&p.id))
        .collect();
    if !chosen.is_empty() {
        out.push_str("\nexclude_patterns:\n");
        for preset in chosen {
            out.push_str(&format!("    # {}\n", preset.description));
            for pattern in preset.patterns {
                out.push_str(&format!("    - {}\n", quoted(pattern)));
            }
        }
    }
    out.push_str("\nexclude_caches: true\n\nexclude_if_present:\n    - .nobackup\n\n");

    section(&mut out, "Where to store backups");
    out.push_str("repositories:\n");
    for destination in layout.destinations {
        out.push_str(&format!(
            "    - path: {}\n      label: {}\n",
            quoted(&destination.location),
            quoted(&destination.label)
        ));
    }
    out.push_str(&format!(
        "\nencryption_passcommand: {}\n",
        quoted(layout.passcommand)
    ));
    if let Some(ssh) = layout.ssh_command {
        out.push_str(&format!("\nssh_command: {}\n", quoted(ssh)));
    }
    out.push_str("\narchive_name_format: '{user}-{hostname}-{now}'\n");
    if layout.continues_existing {
        out.push_str(
            "# The archives of every computer this home was backed up from (list, check, prune).\n\
             match_archives: 'sh:{user}-*'\n",
        );
    }
    out.push_str("compression: zstd\n\n");

    section(&mut out, "Retention policy");
    out.push_str(
        "keep_within: 6H\nkeep_hourly: 8\nkeep_daily: 7\nkeep_weekly: 4\nkeep_monthly: 6\nkeep_yearly: 1\n\n",
    );

    section(&mut out, "Consistency checks");
    out.push_str(
        "checks:\n    - name: repository\n      frequency: 2 weeks\n    - name: archives\n      frequency: 4 weeks\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BorgmaticConfig;

    #[test]
    fn the_written_config_reads_back_with_its_repositories_and_no_passphrase() {
        let destinations = vec![
            Destination {
                label: "usb".into(),
                location: "/run/media/me/Backup Disk/borg".into(),
            },
            Destination {
                label: "nas".into(),
                location: "ssh://borg@nas:2222/./me".into(),
            },
        ];
        let sources = vec![PathBuf::from("/home/me")];
        let text = config_text(&Layout {
            config: Path::new("/home/me/.config/borgmatic/user.yaml"),
            sources: &sources,
            presets: DEFAULT_PRESETS,
            destinations: &destinations,
            passcommand: "/usr/bin/kastell passphrase get --config '/home/me/a b.yaml'",
            ssh_command: Some("ssh -i /home/me/.config/borg/ssh/id_ed25519 -o BatchMode=yes"),
            continues_existing: true,
        });
        assert!(text.contains("match_archives: 'sh:{user}-*'"), "{text}");
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("user.yaml");
        std::fs::write(&file, &text).expect("write");
        let cfg = BorgmaticConfig::load(&file).expect("parses");
        assert_eq!(cfg.repositories.len(), 2);
        assert_eq!(cfg.repositories[0].path, "/run/media/me/Backup Disk/borg");
        assert_eq!(cfg.repositories[1].label.as_deref(), Some("nas"));
        assert!(cfg.encryption_passphrase.is_none());
        assert_eq!(
            cfg.encryption_passcommand.as_deref(),
            Some("/usr/bin/kastell passphrase get --config '/home/me/a b.yaml'")
        );
        assert!(text.contains("# What to back up") && text.contains("**/node_modules"));
    }
}
