//! Locks: one Kastell run per config at a time (a click and the schedule never collide), and a
//! look at borg's own repository lock when borg reports `LockTimeout`.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Held for the length of a run; the kernel releases it when the process ends, however it ends.
/// The file says who holds it and, while a backup runs, how far it is (the tray reads that).
pub struct RunLock {
    lock: std::sync::Mutex<Flock<File>>,
    what: String,
}

/// Who holds a config's run lock.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLockHolder {
    pub pid: Option<i32>,
    /// What the holder wrote: e.g. "backup from the window".
    pub what: String,
}

/// How far a running backup is, as its holder last wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunProgress {
    pub pid: i32,
    pub what: String,
    /// The repository being backed up.
    pub repository: Option<String>,
    /// 0..1, when there is an honest estimate.
    pub fraction: Option<f64>,
    pub eta_seconds: Option<f64>,
}

impl RunLock {
    /// Takes the lock for `config`, or says who has it.
    pub fn acquire(
        locks_dir: &Path,
        config: &Path,
        what: &str,
    ) -> std::io::Result<Result<RunLock, RunLockHolder>> {
        crate::private::create_dir(locks_dir)?;
        let path = locks_dir.join(lock_file_name(config));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                lock.set_len(0)?;
                lock.rewind()?;
                writeln!(lock, "{}\n{}", std::process::id(), what)?;
                lock.flush()?;
                Ok(Ok(RunLock {
                    lock: std::sync::Mutex::new(lock),
                    what: what.to_string(),
                }))
            }
            Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                file.read_to_string(&mut text)?;
                let mut lines = text.lines();
                let pid = lines.next().and_then(|l| l.trim().parse().ok());
                let what = lines.next().unwrap_or("a run").to_string();
                Ok(Err(RunLockHolder { pid, what }))
            }
            Err((_, errno)) => Err(std::io::Error::from(errno)),
        }
    }
}

impl RunLock {
    /// Writes how far the run is into the lock file (a third line: repository, fraction and
    /// seconds left, `-` for unknown). Best effort: a failed write only costs the tray a detail.
    pub fn note_progress(&self, repository: &str, fraction: Option<f64>, eta: Option<f64>) {
        let Ok(mut lock) = self.lock.lock() else {
            return;
        };
        let number = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let text = format!(
            "{}\n{}\n{}\t{}\t{}\n",
            std::process::id(),
            self.what,
            number(fraction),
            number(eta),
            repository.replace(['\n', '\t'], " ")
        );
        let _ = lock
            .set_len(0)
            .and_then(|()| lock.rewind().map(drop))
            .and_then(|()| lock.write_all(text.as_bytes()))
            .and_then(|()| lock.flush());
    }
}

/// The run holding `config`'s lock right now, with its progress; None when no process holds
/// it. Asks the kernel (`/proc/locks`) who holds the file, so a stale file of a dead run and
/// a number reused by another process do not count, and nothing is locked to find out.
pub fn running(locks_dir: &Path, config: &Path) -> Option<RunProgress> {
    use std::os::unix::fs::MetadataExt;
    let path = locks_dir.join(lock_file_name(config));
    let meta = std::fs::metadata(&path).ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let holder = flock_holder(&locks, meta.ino())?;
    let text = std::fs::read_to_string(&path).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    if pid != holder {
        return None;
    }
    let what = lines.next().unwrap_or("a run").to_string();
    let mut progress = lines.next().unwrap_or_default().splitn(3, '\t');
    let number = |v: Option<&str>| v.and_then(|v| v.parse::<f64>().ok());
    let fraction = number(progress.next());
    let eta_seconds = number(progress.next());
    let repository = progress.next().map(String::from).filter(|r| !r.is_empty());
    Some(RunProgress {
        pid,
        what,
        repository,
        fraction,
        eta_seconds,
    })
}

/// The process holding a write flock on the file with inode `ino`, from `/proc/locks` lines
/// such as `3: FLOCK  ADVISORY  WRITE 12345 08:01:1311 0 EOF`. (The device is not compared:
/// on overlay filesystems it differs from what stat says; the caller checks the pid the file
/// names against the holder.)
fn flock_holder(locks: &str, ino: u64) -> Option<i32> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A blocked waiter's line has "->" after the number; skip those.
        if fields.get(1) != Some(&"FLOCK") || fields.get(3) != Some(&"WRITE") {
            return None;
        }
        let pid: i32 = fields.get(4)?.parse().ok()?;
        let file_ino: u64 = fields.get(5)?.rsplit(':').next()?.parse().ok()?;
        (file_ino == ino).then_some(pid)
    })
}

/// One lock file per config path, readable by people (`%` stands for `/`).
fn lock_file_name(config: &Path) -> String {
    let absolute = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    format!("{}.lock", absolute.to_string_lossy().replace('/', "%"))
}

/// Who holds a borg repository's lock, as borg recorded it in `lock.roster`.
#[derive(Debug, Clone, PartialEq)]
pub struct BorgLockHolder {
    pub host: String,
    pub pid: i32,
    /// True when the holder is a process on this machine that is still running.
    pub alive_here: bool,
    /// True when the holder ran on this machine (so liveness could be checked).
    pub on_this_host: bool,
}

impl BorgLockHolder {
    /// Breaking a lock is only safe when no live borg holds it.
    pub fn may_break(&self) -> bool {
        self.on_this_host && !self.alive_here
    }

    pub fn describe(&self) -> String {
        if self.alive_here {
            format!("borg process {} on this computer holds it", self.pid)
        } else if self.on_this_host {
            format!(
                "it was left by borg process {} on this computer, which is no longer running",
                self.pid
            )
        } else {
            format!(
                "borg process {} on “{}” holds it; Kastell cannot tell whether that process still runs",
                self.pid, self.host
            )
        }
    }
}

/// Reads a local repository's lock roster. Borg 1.x writes `{"exclusive": [[host, pid, thread]],
/// "shared": [...]}` where host is `hostname@node-id`.
pub fn borg_lock_holders(repository: &Path) -> Vec<BorgLockHolder> {
    let Ok(text) = std::fs::read_to_string(repository.join("lock.roster")) else {
        return Vec::new();
    };
    let Ok(roster) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let this_host = gethostname::gethostname().to_string_lossy().into_owned();
    let mut holders = Vec::new();
    for kind in ["exclusive", "shared"] {
        let Some(entries) = roster.get(kind).and_then(|v| v.as_array()) else {
            continue;
        };
        for entry in entries {
            let host = entry.get(0).and_then(|v| v.as_str()).unwrap_or("");
            let Some(pid) = entry.get(1).and_then(|v| v.as_i64()) else {
                continue;
            };
            let on_this_host = host.split('@').next() == Some(this_host.as_str());
            let alive_here = on_this_host && process_alive(pid as i32);
            holders.push(BorgLockHolder {
                host: host.to_string(),
                pid: pid as i32,
                alive_here,
                on_this_host,
            });
        }
    }
    holders
}

fn process_alive(pid: i32) -> bool {
    use nix::sys::signal::kill;
    use nix::unistd::Pid;
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_config_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let config = Path::new("/home/u/.config/borgmatic/user.yaml");
        let first = RunLock::acquire(dir.path(), config, "backup from the window")
            .unwrap()
            .unwrap();
        let holder = RunLock::acquire(dir.path(), config, "scheduled backup")
            .unwrap()
            .err()
            .unwrap();
        assert_eq!(holder.pid, Some(std::process::id() as i32));
        assert_eq!(holder.what, "backup from the window");
        drop(first);
        assert!(RunLock::acquire(dir.path(), config, "scheduled backup")
            .unwrap()
            .is_ok());
    }

    #[test]
    fn a_roster_left_by_a_dead_local_process_may_be_broken() {
        let dir = tempfile::tempdir().unwrap();
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        // PIDs near the kernel's maximum are essentially never in use.
        std::fs::write(
            dir.path().join("lock.roster"),
            format!(
                r#"{{"exclusive": [["{host}@12345", 4194300, 0]], "shared": [["{host}@12345", {me}, 0]]}}"#,
                me = std::process::id()
            ),
        )
        .unwrap();
        let holders = borg_lock_holders(dir.path());
        assert_eq!(holders.len(), 2);
        assert!(holders[0].may_break());
        assert!(!holders[1].may_break());
    }
}

/// Why Kastell will not break a repository's lock.
#[derive(Debug, thiserror::Error)]
pub enum BreakLockRefused {
    #[error("{0}; breaking the lock now could damage the repository. Wait until that process has finished.")]
    HeldByLiveProcess(String),
    #[error("the repository is on another computer, so Kastell cannot see whether a borg process there holds the lock. Make sure no backup runs on it, then run `borgmatic break-lock --repository {0}` yourself.")]
    Remote(String),
    #[error("{0}; Kastell cannot tell whether that process still runs. Make sure it does not, then run `borgmatic break-lock --repository {1}` yourself.")]
    Unverifiable(String, String),
}

/// Checks that breaking `repository`'s lock is safe: a local repository whose lock holders are
/// all processes of this computer that no longer run (or that has no lock at all).
pub fn may_break_lock(
    repository: &crate::config::RepositoryConfig,
) -> Result<(), BreakLockRefused> {
    let label = repository.display_name().to_string();
    if !matches!(repository.kind(), crate::config::RepositoryKind::Local) {
        return Err(BreakLockRefused::Remote(label));
    }
    for holder in borg_lock_holders(Path::new(&repository.path)) {
        if holder.alive_here {
            return Err(BreakLockRefused::HeldByLiveProcess(holder.describe()));
        }
        if !holder.on_this_host {
            return Err(BreakLockRefused::Unverifiable(holder.describe(), label));
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum BreakLockError {
    #[error("the lock of “{repository}” was left alone: {refused}")]
    Refused {
        repository: String,
        refused: BreakLockRefused,
    },
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
}

/// `borgmatic break-lock` for one repository, after [`may_break_lock`] said it is safe.
pub async fn break_lock(
    config: &crate::config::BorgmaticConfig,
    repository: &crate::config::RepositoryConfig,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), BreakLockError> {
    may_break_lock(repository).map_err(|refused| BreakLockError::Refused {
        repository: repository.display_name().to_string(),
        refused,
    })?;
    let tools = crate::process::Tools::detect().await?;
    let invocation = crate::process::BorgmaticCommand::new(&config.path, "break-lock")
        .repository(repository.label.as_deref().unwrap_or(&repository.path))
        .invocation(&tools);
    crate::process::run(invocation, &crate::events::Discard, cancel)
        .await?
        .into_result()?;
    Ok(())
}
