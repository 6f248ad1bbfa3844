//! borg 1.x's repository lock (locking.py), taken in shared mode while Kastell loads a
//! repository's index and manifest, and released right after: a scheduled `borg create`
//! must never wait for Kastell. Reads after that need no lock (segments are immutable once
//! committed, and an object moved by `borg compact` is found again by reloading the index).
//!
//! The protocol, as borg does it: `lock.exclusive` is a directory created atomically (a
//! temporary directory holding a file named after the holder, renamed into place); under it,
//! `lock.roster` (JSON `{"shared": [[host, pid, thread]], "exclusive": [...]}`) is changed.
//! A writer keeps `lock.exclusive` for its whole run, which is how a running backup shows.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::ReadError;

/// `(host id, pid, thread)` as borg writes it.
type ProcessId = (String, u32, u32);

/// borg's host id: `BORG_HOST_ID`, else `<fqdn>@<node>` as Python computes it
/// (`getaddrinfo(hostname, AI_CANONNAME)` and `uuid.getnode()`, the MAC address of the first
/// interface with an IPv4 address). Matching it lets borg clean a lock Kastell left by crashing.
pub fn borg_host_id() -> String {
    if let Ok(id) = std::env::var("BORG_HOST_ID") {
        if !id.is_empty() {
            return id;
        }
    }
    format!("{}@{}", fqdn(), node_id())
}

fn fqdn() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let Ok(c_host) = std::ffi::CString::new(host.clone()) else {
        return host;
    };
    // SAFETY: plain getaddrinfo/freeaddrinfo use; the hints struct is zeroed as POSIX asks.
    unsafe {
        let mut hints: nix::libc::addrinfo = std::mem::zeroed();
        hints.ai_socktype = nix::libc::SOCK_DGRAM;
        hints.ai_flags = nix::libc::AI_CANONNAME;
        let mut result: *mut nix::libc::addrinfo = std::ptr::null_mut();
        if nix::libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut result) != 0 {
            return host;
        }
        let mut name = host;
        let mut at = result;
        while !at.is_null() {
            if !(*at).ai_canonname.is_null() {
                let canon = std::ffi::CStr::from_ptr((*at).ai_canonname);
                if !canon.to_bytes().is_empty() {
                    name = canon.to_string_lossy().into_owned();
                    break;
                }
            }
            at = (*at).ai_next;
        }
        nix::libc::freeaddrinfo(result);
        name
    }
}

fn node_id() -> u64 {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return 0;
    };
    for interface in addresses {
        let is_ipv4 = interface
            .address
            .as_ref()
            .is_some_and(|a| a.as_sockaddr_in().is_some());
        if !is_ipv4 || interface.interface_name == "lo" {
            continue;
        }
        let path = format!("/sys/class/net/{}/address", interface.interface_name);
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let mac = text.trim().split(':').try_fold(0u64, |acc, h| {
            u8::from_str_radix(h, 16).map(|b| (acc << 8) | u64::from(b))
        });
        // uuid.getnode() skips zero and locally-multicast addresses.
        if let Ok(mac) = mac {
            if mac != 0 && (mac >> 40) & 1 == 0 {
                return mac;
            }
        }
    }
    0
}

fn this_process() -> ProcessId {
    (borg_host_id(), std::process::id(), 0)
}

fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// borg's `process_alive`: a process of another host is assumed alive.
fn holder_alive(holder: &ProcessId, host: &str) -> bool {
    holder.0 != host || holder.2 != 0 || pid_alive(holder.1)
}

/// `host.pid-thread` (the name of the file inside `lock.exclusive`).
fn parse_unique_name(name: &str) -> Option<ProcessId> {
    let (host_pid, thread) = name.rsplit_once('-')?;
    let (host, pid) = host_pid.rsplit_once('.')?;
    Some((
        host.to_string(),
        pid.parse().ok()?,
        u32::from_str_radix(thread, 16).ok()?,
    ))
}

fn describe(holder: &ProcessId, host: &str) -> String {
    if holder.0 == host {
        format!("process {} on this computer", holder.1)
    } else {
        let name = holder.0.split('@').next().unwrap_or(&holder.0);
        format!("process {} on {name}", holder.1)
    }
}

/// The directory lock guarding the roster (borg's `ExclusiveLock` on `lock.exclusive`).
struct DirectoryLock {
    path: PathBuf,
    unique: PathBuf,
}

impl DirectoryLock {
    fn acquire(repo: &Path, me: &ProcessId, timeout: Duration) -> Result<DirectoryLock, Held> {
        let path = repo.join("lock.exclusive");
        let name = format!("{}.{}-{:x}", me.0, me.1, me.2);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let temp = repo.join(format!("lock.exclusive.{}{nanos:x}.tmp", me.1));
        std::fs::create_dir(&temp).map_err(|_| Held::CannotLock)?;
        let remove_temp = || {
            let _ = std::fs::remove_file(temp.join(&name));
            let _ = std::fs::remove_dir(&temp);
        };
        if std::fs::File::create(temp.join(&name)).is_err() {
            remove_temp();
            return Err(Held::CannotLock);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match std::fs::rename(&temp, &path) {
                Ok(()) => {
                    return Ok(DirectoryLock {
                        unique: path.join(&name),
                        path,
                    });
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::ENOTEMPTY | nix::libc::EEXIST)
                    ) =>
                {
                    let holders = kill_stale_directory_lock(&path, &me.0);
                    if Instant::now() >= deadline {
                        remove_temp();
                        return Err(Held::By(holders));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(_) => {
                    remove_temp();
                    return Err(Held::CannotLock);
                }
            }
        }
    }
}

impl Drop for DirectoryLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.unique);
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Removes a `lock.exclusive` whose holders all were processes of this host that are gone
/// (as borg does); returns the holders otherwise.
fn kill_stale_directory_lock(path: &Path, host: &str) -> Vec<ProcessId> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut holders = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        match parse_unique_name(&name) {
            Some(holder) if holder_alive(&holder, host) => holders.push(holder),
            Some(_) => {
                let _ = std::fs::remove_file(entry.path());
            }
            None => holders.push((name, 0, 0)),
        }
    }
    if holders.is_empty() {
        let _ = std::fs::remove_dir(path);
    }
    holders
}

enum Held {
    By(Vec<ProcessId>),
    /// The lock cannot be written at all (a read-only repository, no permission).
    CannotLock,
}

fn load_roster(path: &Path, host: &str) -> serde_json::Map<String, Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return serde_json::Map::new();
    };
    let Ok(Value::Object(mut roster)) = serde_json::from_str::<Value>(&text) else {
        return serde_json::Map::new();
    };
    // Stale entries of this host are dropped, as borg's LockRoster.load does.
    for kind in ["shared", "exclusive"] {
        if let Some(Value::Array(entries)) = roster.get_mut(kind) {
            entries.retain(|e| {
                let holder = (
                    e.get(0).and_then(Value::as_str).unwrap_or("").to_string(),
                    e.get(1).and_then(Value::as_u64).unwrap_or(0) as u32,
                    e.get(2).and_then(Value::as_u64).unwrap_or(0) as u32,
                );
                holder_alive(&holder, host)
            });
        }
    }
    roster
}

fn change_roster(repo: &Path, me: &ProcessId, add: bool) -> std::io::Result<()> {
    let path = repo.join("lock.roster");
    let mut roster = load_roster(&path, &me.0);
    let mine = json!([me.0, me.1, me.2]);
    let shared = roster
        .entry("shared")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(entries) = shared {
        entries.retain(|e| e != &mine);
        if add {
            entries.push(mine);
        }
    }
    let empty = ["shared", "exclusive"].iter().all(|k| {
        roster
            .get(*k)
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    });
    if empty {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    std::fs::write(&path, Value::Object(roster).to_string())
}

/// borg's shared repository lock, released on drop.
pub struct SharedLock {
    repo: PathBuf,
    me: ProcessId,
    held: bool,
}

impl SharedLock {
    /// Takes the shared lock, waiting up to `timeout` for a writer to finish. A lock that
    /// cannot be written at all (read-only repository) is skipped: reading is safe without it.
    pub fn acquire(repo: &Path, timeout: Duration) -> Result<SharedLock, ReadError> {
        let me = this_process();
        let guard = match DirectoryLock::acquire(repo, &me, timeout) {
            Ok(guard) => guard,
            // Nothing can write this repository either, so no writer can interfere.
            Err(Held::CannotLock) => {
                return Ok(SharedLock {
                    repo: repo.to_path_buf(),
                    me,
                    held: false,
                });
            }
            Err(Held::By(holders)) => {
                let who = holders
                    .iter()
                    .map(|h| describe(h, &me.0))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ReadError::Locked(if who.is_empty() {
                    "another borg process".into()
                } else {
                    format!("borg ({who})")
                }));
            }
        };
        change_roster(repo, &me, true).map_err(|e| ReadError::Io(repo.join("lock.roster"), e))?;
        drop(guard);
        Ok(SharedLock {
            repo: repo.to_path_buf(),
            me,
            held: true,
        })
    }
}

impl Drop for SharedLock {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        // Leaving the roster entry behind would make borg wait for a process that has moved on.
        match DirectoryLock::acquire(&self.repo, &self.me, Duration::from_secs(10)) {
            Ok(_guard) => {
                if let Err(e) = change_roster(&self.repo, &self.me, false) {
                    eprintln!(
                        "kastell: could not release borg's lock in {}: {e}",
                        self.repo.display()
                    );
                }
            }
            Err(_) => eprintln!(
                "kastell: could not release borg's shared lock in {}",
                self.repo.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_lock_is_recorded_in_the_roster_and_removed_on_release() {
        let dir = tempfile::tempdir().unwrap();
        let lock = SharedLock::acquire(dir.path(), Duration::from_secs(1)).unwrap();
        let roster: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("lock.roster")).unwrap())
                .unwrap();
        assert_eq!(roster["shared"][0][1], json!(std::process::id()));
        assert!(!dir.path().join("lock.exclusive").exists());
        drop(lock);
        assert!(!dir.path().join("lock.roster").exists());
    }

    #[test]
    fn a_writer_holding_the_lock_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join("lock.exclusive");
        std::fs::create_dir(&held).unwrap();
        // pid 1 is alive: the lock is not stale.
        std::fs::write(held.join(format!("{}.1-0", borg_host_id())), "").unwrap();
        match SharedLock::acquire(dir.path(), Duration::from_millis(300)) {
            Err(ReadError::Locked(who)) => assert!(who.contains("process 1 on this computer")),
            other => panic!("expected Locked, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_lock_left_by_a_dead_process_of_this_host_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join("lock.exclusive");
        std::fs::create_dir(&held).unwrap();
        std::fs::write(held.join(format!("{}.999999999-0", borg_host_id())), "").unwrap();
        let lock = SharedLock::acquire(dir.path(), Duration::from_secs(1)).unwrap();
        drop(lock);
        assert!(!held.exists());
    }
}
