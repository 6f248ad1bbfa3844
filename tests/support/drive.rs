//! A USB disk for tests: a real ext4 filesystem (with its UUID) on a loop device, mounted.
//! Needs root and loop devices; `plug_in` says None where they are not there.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A real filesystem with a UUID on a loop device, standing in for a USB disk; unmounted and
/// detached when dropped.
pub struct LoopDrive {
    pub device: String,
    pub mount_point: PathBuf,
    mounted: bool,
    attached: bool,
}

impl LoopDrive {
    /// None where loop devices cannot be made (not root, no loop support).
    pub fn plug_in(dir: &std::path::Path) -> Option<LoopDrive> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let image = dir.join("usb-disk.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(64 << 20))
            .ok()?;
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-L", "KASTELLUSB"])
            .arg(&image)
            .status()
            .ok()?;
        if !made.success() {
            return None;
        }
        let attached = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .ok()?;
        if !attached.status.success() {
            return None;
        }
        let device = String::from_utf8_lossy(&attached.stdout).trim().to_string();
        let mount_point = dir.join("media/KASTELLUSB");
        std::fs::create_dir_all(&mount_point).ok()?;
        let mut drive = LoopDrive {
            device,
            mount_point,
            mounted: false,
            attached: true,
        };
        let mounted = Command::new("mount")
            .arg(&drive.device)
            .arg(&drive.mount_point)
            .status()
            .ok()?;
        drive.mounted = mounted.success();
        drive.mounted.then_some(drive)
    }

    pub fn uuid(&self) -> String {
        let out = Command::new("blkid")
            .args(["-s", "UUID", "-o", "value", &self.device])
            .output()
            .expect("blkid");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Unmounted and detached: the drive is gone.
    pub fn unplug(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.mount_point).status();
            self.mounted = false;
        }
        if self.attached {
            let _ = Command::new("losetup").args(["-d", &self.device]).status();
            self.attached = false;
        }
    }

    /// Mounts the drive at `place` (an empty folder) instead, as a desktop might (the window
    /// test does).
    #[cfg_attr(not(feature = "gui"), allow(dead_code))]
    pub fn move_to(&mut self, place: &Path) {
        let unmounted = Command::new("umount")
            .arg(&self.mount_point)
            .status()
            .expect("umount");
        assert!(unmounted.success(), "umount {}", self.mount_point.display());
        let mounted = Command::new("mount")
            .arg(&self.device)
            .arg(place)
            .status()
            .expect("mount");
        assert!(mounted.success(), "mount at {}", place.display());
        self.mount_point = place.to_path_buf();
    }
}

impl Drop for LoopDrive {
    fn drop(&mut self) {
        self.unplug();
    }
}
