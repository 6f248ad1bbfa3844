//! Kastell's own preferences (not borgmatic's): `~/.config/kastell/preferences.json`.
//! Written atomically; a missing or unreadable file means the defaults.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    /// Also notify when a backup succeeds (failures always notify).
    pub notify_on_success: bool,
    /// Notify once when the last successful backup of a repository is older than this.
    pub stale_after_hours: u32,
    /// Start the tray at login; `None` until decided (the first schedule turns it on).
    pub tray_autostart: Option<bool>,
    /// Configs whose repository keys the person chose not to save at the first run: the
    /// window and the tray keep warning until the keys are exported.
    pub keys_not_saved: Vec<PathBuf>,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            notify_on_success: false,
            stale_after_hours: 48,
            tray_autostart: None,
            keys_not_saved: Vec::new(),
        }
    }
}

impl Preferences {
    pub fn path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("kastell").join("preferences.json"))
    }

    pub fn load() -> Preferences {
        Self::path()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save(&self) -> std::io::Result<()> {
        let path = Self::path()
            .ok_or_else(|| std::io::Error::other("no config directory (is HOME set?)"))?;
        let dir = path.parent().unwrap_or(&path).to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let temp = dir.join(".preferences.json.tmp");
        std::fs::write(
            &temp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&temp, &path)
    }
}

/// Remembers that `config`'s keys were not saved (the first run's "I understand" choice).
pub fn remember_keys_not_saved(config: &std::path::Path) -> std::io::Result<()> {
    let mut preferences = Preferences::load();
    if !preferences.keys_not_saved.iter().any(|c| c == config) {
        preferences.keys_not_saved.push(config.to_path_buf());
    }
    preferences.save()
}

/// The warning for configs whose keys were never saved ("" when there are none).
pub fn keys_warning(preferences: &Preferences) -> String {
    match preferences.keys_not_saved.as_slice() {
        [] => String::new(),
        configs => format!(
            "The encryption keys of {} were never saved elsewhere: if this computer is lost, \
             the backups cannot be opened. Export them with `borgmatic key export`.",
            configs
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsaved_keys_are_warned_about_by_config() {
        let mut preferences = Preferences::default();
        assert_eq!(keys_warning(&preferences), "");
        preferences
            .keys_not_saved
            .push(PathBuf::from("/home/me/.config/borgmatic/user.yaml"));
        let said = keys_warning(&preferences);
        assert!(
            said.contains("/home/me/.config/borgmatic/user.yaml") && said.contains("never saved")
        );
    }
}
