//! The mount table and unmounting: Kastell's mounts found in `/proc/self/mountinfo` (by their
//! source name `kastell`), and `fusermount3` to take a mount down (lazily when it is stale or
//! busy).

/// One line of /proc/self/mountinfo: where, what type, from what source.
#[derive(Debug, Clone, PartialEq)]
pub struct MountEntry {
    pub point: std::path::PathBuf,
    pub kind: String,
    pub source: String,
}

impl MountEntry {
    /// One of Kastell's FUSE mounts (type `fuse` or `fuse.kastell`, source `kastell`).
    pub fn is_kastell(&self) -> bool {
        (self.kind == "fuse" || self.kind == "fuse.kastell") && self.source == "kastell"
    }
}

/// The mounts of a mountinfo text.
pub fn mount_table(mountinfo: &str) -> Vec<MountEntry> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mut fs = after.split(' ');
            let (kind, source) = (fs.next()?, fs.next()?);
            Some(MountEntry {
                point: std::path::PathBuf::from(unescape_mountinfo(before.split(' ').nth(4)?)),
                kind: kind.to_string(),
                source: source.to_string(),
            })
        })
        .collect()
}

/// Mount points of Kastell's FUSE mounts in a mountinfo text.
pub fn kastell_mounts(mountinfo: &str) -> Vec<std::path::PathBuf> {
    mount_table(mountinfo)
        .into_iter()
        .filter(MountEntry::is_kastell)
        .map(|m| m.point)
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(v) = u8::from_str_radix(&field[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts `mountpoint` (fusermount3, or umount(2) as root); `lazy` also detaches a stale or
/// busy mount.
pub fn unmount(mountpoint: &std::path::Path, lazy: bool) -> Result<(), String> {
    let mut command = std::process::Command::new("fusermount3");
    command.arg(if lazy { "-uz" } else { "-u" }).arg(mountpoint);
    match command.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if why.contains("busy") {
                Err(format!(
                    "{} is busy: a program (a shell, a file manager) is using it; close it and try again",
                    mountpoint.display()
                ))
            } else {
                Err(why)
            }
        }
        Err(e) => Err(format!("fusermount3: {e}")),
    }
}
