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
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            notify_on_success: false,
            stale_after_hours: 48,
            tray_autostart: None,
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
