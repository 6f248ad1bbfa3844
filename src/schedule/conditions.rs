//! The conditions a scheduled run checks before it starts: mains power (UPower's `OnBattery`
//! on the system bus, else the kernel's power supplies, like `on_ac_power`) and a metered
//! connection (NetworkManager's `Metered`). A service that does not answer never stops a
//! backup: an unknown is not a "no".

use std::path::Path;
use std::time::Duration;

const ASK_WITHIN: Duration = Duration::from_secs(5);

/// Why a scheduled run did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    OnBattery,
    Metered,
    /// The repository's drive is not plugged in.
    DriveAbsent,
    /// The drive is plugged in but nothing mounted it (and udisks2 did not).
    DriveUnmounted,
    /// The drive is mounted, but not where the config's repository path is.
    DriveElsewhere,
}

impl SkipReason {
    /// The words the history and the notification use.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::OnBattery => "skipped: the computer runs on battery",
            SkipReason::Metered => "skipped: the network connection is metered",
            SkipReason::DriveAbsent => "skipped: the backup drive is not plugged in",
            SkipReason::DriveUnmounted => "skipped: the backup drive is plugged in but not mounted",
            SkipReason::DriveElsewhere => {
                "skipped: the backup drive is mounted elsewhere than the config's repository path"
            }
        }
    }
}

/// The first condition of a scheduled run that does not hold, if any.
pub async fn reason_to_skip(ac_power_only: bool, skip_metered: bool) -> Option<SkipReason> {
    if ac_power_only && on_battery().await {
        return Some(SkipReason::OnBattery);
    }
    if skip_metered && metered().await {
        return Some(SkipReason::Metered);
    }
    None
}

async fn property<T>(service: &str, path: &str, interface: &str, name: &str) -> Option<T>
where
    T: serde::de::DeserializeOwned + zbus::zvariant::Type,
{
    let ask = async {
        let bus = zbus::Connection::system().await.ok()?;
        let proxy = zbus::Proxy::new(&bus, service, path, interface)
            .await
            .ok()?;
        proxy.get_property::<T>(name).await.ok()
    };
    tokio::time::timeout(ASK_WITHIN, ask).await.ok().flatten()
}

/// UPower when it answers, else `/sys/class/power_supply`.
pub async fn on_battery() -> bool {
    let upower = property::<bool>(
        "org.freedesktop.UPower",
        "/org/freedesktop/UPower",
        "org.freedesktop.UPower",
        "OnBattery",
    )
    .await;
    match upower {
        Some(on_battery) => on_battery,
        None => supplies_say_battery(Path::new("/sys/class/power_supply")),
    }
}

/// As `on_ac_power` decides: mains online means mains; a battery discharging with no mains
/// online means battery; no supplies at all (a desktop) means mains.
fn supplies_say_battery(root: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(root) else {
        return false;
    };
    let mut battery_discharging = false;
    for entry in entries.flatten() {
        let read = |name: &str| {
            std::fs::read_to_string(entry.path().join(name))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        match read("type").as_str() {
            "Mains" | "USB" if read("online") == "1" => return false,
            "Battery" if read("status") == "Discharging" => battery_discharging = true,
            _ => {}
        }
    }
    battery_discharging
}

/// NetworkManager's `Metered`: 1 (yes) and 3 (guessed yes) are metered.
pub async fn metered() -> bool {
    let metered = property::<u32>(
        "org.freedesktop.NetworkManager",
        "/org/freedesktop/NetworkManager",
        "org.freedesktop.NetworkManager",
        "Metered",
    )
    .await;
    matches!(metered, Some(1 | 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supply(root: &Path, name: &str, files: &[(&str, &str)]) {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, value) in files {
            std::fs::write(dir.join(file), format!("{value}\n")).unwrap();
        }
    }

    #[test]
    fn power_supplies_decide_like_on_ac_power() {
        let root = std::env::temp_dir().join(format!("kastell-supplies-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        assert!(!supplies_say_battery(&root), "a desktop has no supplies");
        supply(
            &root,
            "BAT0",
            &[("type", "Battery"), ("status", "Discharging")],
        );
        supply(&root, "AC", &[("type", "Mains"), ("online", "0")]);
        assert!(supplies_say_battery(&root));
        supply(&root, "AC", &[("type", "Mains"), ("online", "1")]);
        assert!(!supplies_say_battery(&root));
        let _ = std::fs::remove_dir_all(&root);
    }
}
