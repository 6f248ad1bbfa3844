//! "Back up when this drive is plugged in": a repository on a removable drive is known by its
//! filesystem's UUID. The schedule's drive service is wanted by systemd's device unit of that
//! UUID (`dev-disk-by\x2duuid-….device`), so plugging the drive in starts it; the run then
//! finds where the drive is mounted now (waiting for the desktop's automounter, or asking
//! udisks2 to mount it), and is skipped with its reason when the drive is not there.
//!
//! util-linux's `findmnt` and `blkid` answer for mounts and UUIDs: they read the kernel's
//! mount table and udev's links (or probe devices where udev does not run).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{DriveTrigger, ScheduleError};
use crate::config::{BorgmaticConfig, RepositoryKind};

/// How long a run started by the drive waits for the drive to be mounted.
pub const MOUNT_WAIT: Duration = Duration::from_secs(20);

/// The drive a repository is on: its filesystem's UUID and where it is mounted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveOf {
    pub uuid: String,
    pub mount_point: PathBuf,
    /// The device (`/dev/sdb1`).
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("{} is not on a mounted filesystem Kastell can tell apart", path.display())]
    NotMounted { path: PathBuf },
    #[error(
        "{} is on the system's own filesystem ({mount_point}), not on a drive that is plugged in",
        path.display()
    )]
    NotRemovable { path: PathBuf, mount_point: String },
    #[error("the filesystem of {} has no UUID to recognise it by", path.display())]
    NoUuid { path: PathBuf },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: &'static str,
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
struct FindmntOutput {
    filesystems: Vec<FindmntEntry>,
}

#[derive(Deserialize)]
struct FindmntEntry {
    target: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
}

async fn findmnt(args: &[&str]) -> Result<Vec<FindmntEntry>, DriveError> {
    let out = tokio::process::Command::new("findmnt")
        .arg("--json")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| DriveError::Spawn {
            program: "findmnt",
            source,
        })?;
    // Nothing found is exit status 1 with no output.
    Ok(serde_json::from_slice::<FindmntOutput>(&out.stdout)
        .map(|o| o.filesystems)
        .unwrap_or_default())
}

/// Mount points the system itself lives on: a repository there is not "on a drive".
const SYSTEM_MOUNTS: &[&str] = &["/", "/home", "/usr", "/var"];

/// The drive `path` (a repository folder, which exists) is on.
pub async fn drive_of(path: &Path) -> Result<DriveOf, DriveError> {
    let target = path.display().to_string();
    let found = findmnt(&["--target", &target, "--output", "UUID,TARGET,SOURCE"]).await?;
    let entry = found
        .into_iter()
        .next()
        .ok_or_else(|| DriveError::NotMounted {
            path: path.to_path_buf(),
        })?;
    if SYSTEM_MOUNTS.contains(&entry.target.as_str()) {
        return Err(DriveError::NotRemovable {
            path: path.to_path_buf(),
            mount_point: entry.target,
        });
    }
    let uuid = entry
        .uuid
        .filter(|u| !u.is_empty())
        .ok_or_else(|| DriveError::NoUuid {
            path: path.to_path_buf(),
        })?;
    Ok(DriveOf {
        uuid,
        mount_point: PathBuf::from(entry.target),
        source: entry.source.unwrap_or_default(),
    })
}

/// Whether the drive is there, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Mounted(Vec<PathBuf>),
    /// Plugged in (the device exists) but not mounted.
    Unmounted {
        device: String,
    },
    Absent,
}

pub async fn presence(uuid: &str) -> Result<Presence, DriveError> {
    let source = format!("UUID={uuid}");
    let mounted: Vec<PathBuf> = findmnt(&["--source", &source, "--output", "TARGET"])
        .await?
        .into_iter()
        .map(|e| PathBuf::from(e.target))
        .collect();
    if !mounted.is_empty() {
        return Ok(Presence::Mounted(mounted));
    }
    let out = tokio::process::Command::new("blkid")
        .args(["-U", uuid])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| DriveError::Spawn {
            program: "blkid",
            source,
        })?;
    let device = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(match out.status.success() && !device.is_empty() {
        true => Presence::Unmounted { device },
        false => Presence::Absent,
    })
}

/// Asks udisks2 to mount `device` as the desktop would (in `/run/media/USER/…` or
/// `/media/USER/…`); false when udisks2 is not there or refuses.
async fn mount_with_udisks(device: &str) -> bool {
    tokio::process::Command::new("udisksctl")
        .args(["mount", "--no-user-interaction", "--block-device", device])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Why the drive's repository cannot be backed up now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    Absent,
    Unmounted,
    /// Mounted, but not where the config's repository path is.
    Elsewhere {
        mounted: Vec<PathBuf>,
    },
}

/// Waits (up to `wait`) until the drive `uuid` is mounted where `repository` lives; asks
/// udisks2 to mount it when it is plugged in but not mounted.
pub async fn ready(uuid: &str, repository: &Path, wait: Duration) -> Result<PathBuf, NotReady> {
    let deadline = Instant::now() + wait;
    let mut asked_udisks = false;
    loop {
        let now = presence(uuid).await.unwrap_or(Presence::Absent);
        let outcome = match now {
            Presence::Mounted(points) => {
                match points.iter().find(|p| repository.starts_with(p)).cloned() {
                    Some(point) => return Ok(point),
                    None => NotReady::Elsewhere { mounted: points },
                }
            }
            Presence::Unmounted { device } => {
                if !asked_udisks {
                    asked_udisks = true;
                    if mount_with_udisks(&device).await {
                        continue;
                    }
                }
                NotReady::Unmounted
            }
            // Not plugged in: the device unit that starts a drive run exists only while it
            // is, so there is nothing to wait for.
            Presence::Absent => return Err(NotReady::Absent),
        };
        if Instant::now() >= deadline {
            return Err(outcome);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The drive trigger for repository `label` of `config`, from where its drive is mounted now.
pub async fn trigger_for(config: &Path, label: &str) -> Result<DriveTrigger, ScheduleError> {
    let cfg = BorgmaticConfig::load(config).map_err(|_| ScheduleError::NoConfig {
        config: config.to_path_buf(),
    })?;
    let repository = cfg
        .repository(label)
        .ok_or_else(|| ScheduleError::NoRepository {
            config: config.to_path_buf(),
            repository: label.to_string(),
        })?;
    if repository.kind() != RepositoryKind::Local {
        return Err(ScheduleError::NotOnDrive {
            repository: label.to_string(),
            path: repository.path.clone(),
        });
    }
    let found = drive_of(Path::new(&repository.path)).await?;
    Ok(DriveTrigger {
        repository: label.to_string(),
        uuid: found.uuid,
    })
}

/// The repositories of `config` that are on a drive plugged in now (label, drive).
pub async fn candidates(config: &Path) -> Vec<(String, DriveOf)> {
    let Ok(cfg) = BorgmaticConfig::load(config) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for repository in &cfg.repositories {
        if repository.kind() != RepositoryKind::Local {
            continue;
        }
        if let Ok(drive) = drive_of(Path::new(&repository.path)).await {
            found.push((repository.display_name().to_string(), drive));
        }
    }
    found
}

/// systemd's device unit for the filesystem `uuid` (`systemd-escape --path
/// /dev/disk/by-uuid/UUID` + `.device`).
pub fn device_unit(uuid: &str) -> String {
    let mut escaped = String::from("dev-disk-by\\x2duuid-");
    for c in uuid.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || c == '_' => escaped.push(c),
            '.' if !escaped.ends_with('-') => escaped.push(c),
            c => escaped.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
        }
    }
    escaped.push_str(".device");
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_unit_is_named_as_systemd_escape_names_it() {
        assert_eq!(
            device_unit("116c1957-e38b-45ef-8357-5d59a38731fe"),
            "dev-disk-by\\x2duuid-116c1957\\x2de38b\\x2d45ef\\x2d8357\\x2d5d59a38731fe.device"
        );
        // FAT and NTFS "UUIDs" are short and upper case.
        assert_eq!(
            device_unit("2C4E-1A7B"),
            "dev-disk-by\\x2duuid-2C4E\\x2d1A7B.device"
        );
    }
}
