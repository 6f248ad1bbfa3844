//! Schedules of a config that are not Kastell's: the guide's anacron job
//! (`~/.anacron/cron.daily/`), a system cron script (`/etc/cron.daily/`), a crontab line, or
//! a borgmatic systemd unit. Found so that a backup never runs twice; moved away only on the
//! person's word, and only where Kastell can undo it.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OtherKind {
    Anacron,
    CronScript,
    Crontab,
    SystemdUnit,
}

/// Another schedule that runs borgmatic with this config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherSchedule {
    pub kind: OtherKind,
    /// The file (for a crontab line: the line itself is in `line`).
    pub location: PathBuf,
    pub line: Option<String>,
    /// Whether Kastell can switch it off (a file of the person's own, renamed so that
    /// run-parts skips it); otherwise the message says what to do.
    pub can_disable: bool,
}

/// The suffix a disabled anacron script gets: run-parts runs only names of letters, digits,
/// `_` and `-`, so a name with a dot is skipped, and renaming it back undoes it.
pub const DISABLED_SUFFIX: &str = ".disabled-by-kastell";

/// Where to look; tests point these at folders of their own.
#[derive(Debug, Clone)]
pub struct Places {
    pub home: PathBuf,
    pub etc: PathBuf,
    /// `crontab -l`'s output, when there is a crontab.
    pub crontab: Option<String>,
}

impl Places {
    pub fn of_this_user() -> Places {
        let crontab = std::process::Command::new("crontab")
            .arg("-l")
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        Places {
            home: dirs::home_dir().unwrap_or_default(),
            etc: PathBuf::from("/etc"),
            crontab,
        }
    }
}

/// Whether a script or line runs borgmatic for `config`: it names borgmatic and either this
/// config (as written, or with `$HOME`/`${HOME}`/`~` for the home folder) or no `--config` at
/// all (borgmatic then runs every config in `~/.config/borgmatic`, this one among them when
/// it lives there).
fn runs_config(text: &str, config: &Path, home: &Path) -> bool {
    if !text.contains("borgmatic") {
        return false;
    }
    let full = config.display().to_string();
    let mut spellings = vec![full.clone()];
    if let Ok(rest) = config.strip_prefix(home) {
        let rest = rest.display();
        spellings.extend([
            format!("$HOME/{rest}"),
            format!("${{HOME}}/{rest}"),
            format!("~/{rest}"),
        ]);
    }
    if spellings.iter().any(|s| text.contains(s.as_str())) {
        return true;
    }
    let in_default_place = config.starts_with(home.join(".config/borgmatic"))
        || config.starts_with(home.join(".config/borgmatic.d"));
    let names_a_config = text.contains("--config") || text.contains(" -c ");
    in_default_place && !names_a_config
}

fn scripts_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains('.'))
        })
        .collect();
    found.sort();
    found
}

/// Every schedule other than Kastell's that runs borgmatic with `config`.
pub fn find(config: &Path, places: &Places) -> Vec<OtherSchedule> {
    let mut found = Vec::new();
    let home = &places.home;
    for (dir, kind, own) in [
        (home.join(".anacron/cron.daily"), OtherKind::Anacron, true),
        (home.join(".anacron/cron.weekly"), OtherKind::Anacron, true),
        (places.etc.join("cron.daily"), OtherKind::CronScript, false),
        (places.etc.join("cron.hourly"), OtherKind::CronScript, false),
    ] {
        for script in scripts_in(&dir) {
            let text = std::fs::read_to_string(&script).unwrap_or_default();
            if runs_config(&text, config, home) {
                found.push(OtherSchedule {
                    kind: kind.clone(),
                    location: script,
                    line: None,
                    can_disable: own,
                });
            }
        }
    }
    if let Some(crontab) = &places.crontab {
        for line in crontab.lines() {
            let active = !line.trim_start().starts_with('#');
            if active && runs_config(line, config, home) {
                found.push(OtherSchedule {
                    kind: OtherKind::Crontab,
                    location: PathBuf::from("crontab"),
                    line: Some(line.to_string()),
                    can_disable: false,
                });
            }
        }
    }
    for dir in [
        home.join(".config/systemd/user"),
        places.etc.join("systemd/system"),
        places.etc.join("systemd/user"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(super::units::PREFIX) || !name.ends_with(".service") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if runs_config(&text, config, home) {
                found.push(OtherSchedule {
                    kind: OtherKind::SystemdUnit,
                    location: entry.path(),
                    line: None,
                    can_disable: false,
                });
            }
        }
    }
    found
}

impl OtherSchedule {
    /// What the person is told about it.
    pub fn describe(&self) -> String {
        match self.kind {
            OtherKind::Anacron => format!(
                "the anacron job {} also backs up this config",
                self.location.display()
            ),
            OtherKind::CronScript => format!(
                "the system cron script {} also backs up this config (root can remove it)",
                self.location.display()
            ),
            OtherKind::Crontab => format!(
                "your crontab also backs up this config (`crontab -e`): {}",
                self.line.as_deref().unwrap_or_default()
            ),
            OtherKind::SystemdUnit => format!(
                "the systemd unit {} also backs up this config",
                self.location.display()
            ),
        }
    }

    /// Switches an anacron job of the person's own off by renaming it (the old name with
    /// [`DISABLED_SUFFIX`]); returns the new name.
    pub fn disable(&self) -> std::io::Result<PathBuf> {
        if !self.can_disable {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "Kastell does not change this schedule itself",
            ));
        }
        let mut renamed = self.location.clone().into_os_string();
        renamed.push(DISABLED_SUFFIX);
        let renamed = PathBuf::from(renamed);
        std::fs::rename(&self.location, &renamed)?;
        Ok(renamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide's anacron script, as the seed writes it.
    const GUIDE_SCRIPT: &str = "#!/usr/bin/env bash\n# Daily user data backup via borgmatic\n\n\
        if command -v on_ac_power >/dev/null 2>&1; then\n    on_ac_power || exit 0\nfi\n\n\
        borgmatic create \\\n    --config \"${HOME}/.config/borgmatic/user.yaml\" \\\n    \
        --syslog-verbosity 1 \\\n    --stats\n";

    #[test]
    fn the_guides_anacron_job_and_a_crontab_line_are_found_and_the_job_can_be_moved_away() {
        let home = std::env::temp_dir().join(format!("kastell-existing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let daily = home.join(".anacron/cron.daily");
        std::fs::create_dir_all(&daily).unwrap();
        std::fs::write(daily.join("borgmatic-user"), GUIDE_SCRIPT).unwrap();
        std::fs::write(
            daily.join("other"),
            "#!/bin/sh\nborgmatic -c /elsewhere.yaml\n",
        )
        .unwrap();
        let config = home.join(".config/borgmatic/user.yaml");
        let places = Places {
            home: home.clone(),
            etc: home.join("etc"),
            crontab: Some(
                "# m h dom mon dow command\n0 3 * * * borgmatic --stats\n#0 4 * * * borgmatic\n"
                    .into(),
            ),
        };
        let found = find(&config, &places);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].kind, OtherKind::Anacron);
        assert_eq!(found[0].location, daily.join("borgmatic-user"));
        assert_eq!(found[1].kind, OtherKind::Crontab);
        assert!(!found[1].can_disable);

        let renamed = found[0].disable().unwrap();
        assert!(renamed.exists() && !daily.join("borgmatic-user").exists());
        assert_eq!(
            find(&config, &places).len(),
            1,
            "the renamed job no longer counts"
        );
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn a_script_for_another_config_does_not_count() {
        let home = Path::new("/home/me");
        let config = home.join(".config/borgmatic/user.yaml");
        assert!(!runs_config(
            "borgmatic -c /etc/borgmatic/system.yaml",
            &config,
            home
        ));
        assert!(!runs_config("echo hello", &config, home));
        assert!(runs_config(
            "borgmatic -c ~/.config/borgmatic/user.yaml",
            &config,
            home
        ));
    }
}
