//! The mounts a running Kastell keeps (the window's): an archive, a repository or a whole
//! config mounted in this process, with indexing progress reported as events; a private
//! `borg mount` (through borgmatic, owned by this process) for a repository the native reader
//! cannot read; unmounting one or all (when Kastell quits); cleaning the stale mounts a
//! Kastell that crashed left behind.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ArchiveFs, Layout};
use crate::browse::{self, BrowseError, Session};
use crate::events::{Discard, Event, EventSink, MountEvent};

/// What to mount.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// One archive (`latest` is the newest, as in borgmatic).
    Archive { repository: String, archive: String },
    /// Every archive of a repository.
    Repository { repository: String },
    /// Every repository of the config.
    Config,
}

/// A mount this process serves.
#[derive(Debug, Clone, PartialEq)]
pub struct MountInfo {
    pub mountpoint: PathBuf,
    pub config: PathBuf,
    pub target: Target,
    /// What is mounted, in words.
    pub description: String,
    /// Set when borg serves it (a repository Kastell cannot read): why Kastell cannot.
    pub with_borg: Option<String>,
    /// Repositories of a config mount that are not in it, each with the reason.
    pub left_out: Vec<String>,
}

enum Serving {
    Native(fuser::BackgroundSession),
    Borg {
        stop: CancellationToken,
        ended: Arc<AtomicBool>,
    },
}

impl Serving {
    fn ended(&self) -> bool {
        match self {
            Serving::Native(session) => session.guard.is_finished(),
            Serving::Borg { ended, .. } => ended.load(Ordering::Relaxed),
        }
    }
}

struct Active {
    info: MountInfo,
    serving: Serving,
    /// Private borg mounts grafted into a whole-config mount (unmounted after it).
    private: Vec<PrivateBorgMount>,
}

/// A repository Kastell cannot read, mounted by borg in a private folder (below
/// [`mount_root`]) and grafted into a whole-config mount; unmounted when dropped.
pub struct PrivateBorgMount {
    folder: PathBuf,
    serving: Option<Serving>,
}

impl Drop for PrivateBorgMount {
    fn drop(&mut self) {
        if super::unmount(&self.folder, false).is_err() {
            let _ = super::unmount(&self.folder, true);
        }
        if let Some(Serving::Borg { stop, ended }) = self.serving.take() {
            for _ in 0..100 {
                if ended.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            stop.cancel();
        }
        let _ = std::fs::remove_dir(&self.folder);
    }
}

/// A whole-config mount's parts: the filesystem, the repositories left out (with the reason),
/// those borg serves (with the reason Kastell cannot), and borg's private mounts.
pub struct ConfigMount {
    pub fs: ArchiveFs,
    pub left_out: Vec<String>,
    pub by_borg: Vec<String>,
    pub private: Vec<PrivateBorgMount>,
}

fn active() -> &'static Mutex<Vec<Active>> {
    static ACTIVE: std::sync::OnceLock<Mutex<Vec<Active>>> = std::sync::OnceLock::new();
    ACTIVE.get_or_init(Mutex::default)
}

/// The mounts this process serves now.
pub fn mounts() -> Vec<MountInfo> {
    active()
        .lock()
        .map(|list| list.iter().map(|a| a.info.clone()).collect())
        .unwrap_or_default()
}

/// Where default mount points live: the user's runtime folder (gone at logout, private).
pub fn mount_root() -> PathBuf {
    crate::private::runtime_dir().join("mnt")
}

/// A name usable as one folder name.
fn folder_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    match cleaned.as_str() {
        "" | "." | ".." => "_".to_string(),
        _ => cleaned,
    }
}

/// The default mount point: `<root>/<repository>/<archive>`, `<root>/<repository>/all-archives`
/// or `<root>/<config>-all-repositories`.
pub fn default_mountpoint(config: &Path, target: &Target) -> PathBuf {
    let root = mount_root();
    match target {
        Target::Archive {
            repository,
            archive,
        } => root
            .join(folder_name(repository))
            .join(folder_name(archive)),
        Target::Repository { repository } => {
            root.join(folder_name(repository)).join("all-archives")
        }
        Target::Config => {
            let stem = config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "config".into());
            root.join(format!("{}-all-repositories", folder_name(&stem)))
        }
    }
}

/// What `target` is, in words ("archive X of local").
pub fn describe(target: &Target) -> String {
    match target {
        Target::Archive {
            repository,
            archive,
        } => format!("archive {archive} of {repository}"),
        Target::Repository { repository } => format!("every archive of {repository}"),
        Target::Config => "every repository of the config".to_string(),
    }
}

/// True when something is mounted exactly at `path`.
pub fn is_mount_point(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|info| super::mount_table(&info).iter().any(|m| m.point == path))
        .unwrap_or(false)
}

/// Mounts `target` of `config` at `mountpoint` (the default one when None) and keeps it
/// served until [`unmount`] or [`unmount_all`]. Indexing progress, and later an unmount from
/// outside, go to `sink`. Mounting what is already mounted there returns it again.
pub async fn mount(
    config: &Path,
    target: Target,
    mountpoint: Option<PathBuf>,
    sink: Arc<dyn EventSink>,
) -> Result<MountInfo, String> {
    // `latest` gets its real name, so the default folder says which archive it is.
    let target = match target {
        Target::Archive {
            repository,
            archive,
        } if archive == "latest" => match browse::open(config, &repository, true).await {
            Ok(session) => Target::Archive {
                archive: session.archive("latest").map_err(|e| e.to_string())?.name,
                repository,
            },
            Err(_) => Target::Archive {
                repository,
                archive,
            },
        },
        other => other,
    };
    let mountpoint = mountpoint.unwrap_or_else(|| default_mountpoint(config, &target));
    if let Some(found) = mounts().into_iter().find(|m| m.mountpoint == mountpoint) {
        return Ok(found);
    }
    clean_stale();
    if mountpoint.starts_with(mount_root()) {
        std::fs::create_dir_all(&mountpoint)
            .map_err(|e| format!("cannot make {}: {e}", mountpoint.display()))?;
    } else if !mountpoint.is_dir() {
        return Err(format!("{} is not a folder", mountpoint.display()));
    }
    if is_mount_point(&mountpoint) {
        return Err(format!(
            "something else is already mounted at {}",
            mountpoint.display()
        ));
    }
    let mut info = MountInfo {
        mountpoint: mountpoint.clone(),
        config: config.to_path_buf(),
        description: describe(&target),
        target: target.clone(),
        with_borg: None,
        left_out: Vec::new(),
    };
    let mut private = Vec::new();
    let native = match &target {
        Target::Config => config_filesystem(config).await.map(|parts| {
            info.left_out = parts.left_out;
            info.with_borg = (!parts.by_borg.is_empty()).then(|| parts.by_borg.join("; "));
            private = parts.private;
            parts.fs
        }),
        Target::Repository { repository } => match browse::open(config, repository, true).await {
            Ok(session) => Ok(ArchiveFs::new(session, Layout::Repository)),
            Err(e) => Err(e),
        },
        Target::Archive {
            repository,
            archive,
        } => archive_filesystem(config, repository, archive, sink.clone()).await,
    };
    let serving = match native {
        Ok(fs) => {
            let fs = fs.with_events(sink.clone());
            let at = mountpoint.clone();
            let session =
                tokio::task::spawn_blocking(move || fuser::spawn_mount(fs, &at, &super::config()))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("mounting at {}: {e}", mountpoint.display()))?;
            Serving::Native(session)
        }
        Err(BrowseError::Unsupported(why)) => {
            let (repository, archive) = match &target {
                Target::Archive {
                    repository,
                    archive,
                } => (repository.clone(), Some(archive.clone())),
                Target::Repository { repository } => (repository.clone(), None),
                Target::Config => return Err(why),
            };
            info.with_borg = Some(why);
            start_borg_mount(config, &repository, archive.as_deref(), &mountpoint).await?
        }
        Err(e) => return Err(e.to_string()),
    };
    if let Ok(mut list) = active().lock() {
        list.push(Active {
            info: info.clone(),
            serving,
            private,
        });
    }
    sink.emit(Event::Mount(MountEvent::Mounted {
        mountpoint: mountpoint.clone(),
    }));
    tokio::spawn(watch(mountpoint, sink));
    Ok(info)
}

/// One archive, indexed before mounting so its first `ls` answers at once.
async fn archive_filesystem(
    config: &Path,
    repository: &str,
    archive: &str,
    sink: Arc<dyn EventSink>,
) -> Result<ArchiveFs, BrowseError> {
    let mut session = browse::open(config, repository, false).await?;
    let found = match session.archive(archive) {
        Ok(found) => found,
        Err(_) => {
            // Made after the session was opened: look again.
            session = browse::open(config, repository, true).await?;
            session.archive(archive)?
        }
    };
    if session.cached_index(&found).is_none() {
        let (indexing, name) = (session.clone(), found.clone());
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            indexing.index(
                &name,
                &mut |p| {
                    sink.emit(Event::Mount(MountEvent::Indexing {
                        archive: name.name.clone(),
                        entries: p.entries,
                        fraction: f64::from(p.chunks_done) / f64::from(p.chunks_total.max(1)),
                    }))
                },
                &AtomicBool::new(false),
            )?;
            sink.emit(Event::Mount(MountEvent::Indexed {
                archive: name.name.clone(),
                seconds: started.elapsed().as_secs_f64(),
            }));
            Ok::<_, BrowseError>(())
        })
        .await
        .map_err(BrowseError::Task)??;
    }
    Ok(ArchiveFs::new(session, Layout::Archive(found)))
}

/// Every repository of the config by label: those Kastell reads served by it, the others by a
/// private borg mount grafted in (or, when borg cannot mount them either, left out and named).
pub async fn config_filesystem(config: &Path) -> Result<ConfigMount, BrowseError> {
    let cfg = crate::config::BorgmaticConfig::load(config)?;
    let mut opened: Vec<(String, Arc<Session>)> = Vec::new();
    let (mut left_out, mut by_borg, mut private, mut grafts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (n, repo) in cfg.repositories.iter().enumerate() {
        let name = repo.label.clone().unwrap_or_else(|| repo.path.clone());
        // A folder name: a label has no slash; a bare path becomes its last part.
        let folder = folder_name(repo.display_name());
        match browse::open(config, &name, true).await {
            Ok(session) => opened.push((folder, session)),
            Err(BrowseError::Unsupported(why)) => {
                let at = mount_root().join(".borg").join(format!(
                    "{}-{}-{n}",
                    folder,
                    std::process::id()
                ));
                if let Err(e) = std::fs::create_dir_all(&at) {
                    left_out.push(format!("{name}: {why}; {}: {e}", at.display()));
                    continue;
                }
                match start_borg_mount(config, &name, None, &at).await {
                    Ok(serving) => {
                        by_borg.push(format!("{name}: {why}"));
                        grafts.push((folder, at.clone()));
                        private.push(PrivateBorgMount {
                            folder: at,
                            serving: Some(serving),
                        });
                    }
                    Err(e) => {
                        let _ = std::fs::remove_dir(&at);
                        left_out.push(format!(
                            "{name}: {why}; borg could not mount it either: {e}"
                        ));
                    }
                }
            }
            Err(why) => left_out.push(format!("{name}: {why}")),
        }
    }
    if opened.is_empty() && grafts.is_empty() {
        return Err(BrowseError::Unsupported(format!(
            "no repository of {} could be opened ({})",
            config.display(),
            left_out.join("; ")
        )));
    }
    Ok(ConfigMount {
        fs: ArchiveFs::for_config(opened).with_grafts(grafts),
        left_out,
        by_borg,
        private,
    })
}

/// `borgmatic mount --foreground` at `mountpoint`, in the background, until it is unmounted
/// (or `stop`); returns once the mount is there, or borg's error.
async fn start_borg_mount(
    config: &Path,
    repository: &str,
    archive: Option<&str>,
    mountpoint: &Path,
) -> Result<Serving, String> {
    let stop = CancellationToken::new();
    let ended = Arc::new(AtomicBool::new(false));
    let (done_tx, mut done_rx) = tokio::sync::oneshot::channel();
    {
        let (config, repository, archive, mountpoint) = (
            config.to_path_buf(),
            repository.to_string(),
            archive.map(str::to_string),
            mountpoint.to_path_buf(),
        );
        let (stop, ended) = (stop.clone(), ended.clone());
        tokio::spawn(async move {
            let outcome =
                borg_mount_foreground(&config, &repository, archive.as_deref(), &mountpoint, &stop)
                    .await;
            ended.store(true, Ordering::Relaxed);
            let _ = done_tx.send(outcome);
        });
    }
    // borg opens the repository (and indexes the archive's metadata) before it mounts.
    for _ in 0..1200 {
        if is_mount_point(mountpoint) {
            return Ok(Serving::Borg { stop, ended });
        }
        match done_rx.try_recv() {
            Ok(Err(why)) => return Err(why),
            Ok(Ok(())) => return Err("borg mount ended without mounting".into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    stop.cancel();
    Err("borg mount did not mount within two minutes".into())
}

/// Runs `borgmatic mount --foreground` (borg mounts; the config's own passphrase source
/// answers) until the mount is unmounted or `stop` is cancelled.
pub async fn borg_mount_foreground(
    config: &Path,
    repository: &str,
    archive: Option<&str>,
    mountpoint: &Path,
    stop: &CancellationToken,
) -> Result<(), String> {
    let cfg = crate::config::BorgmaticConfig::load(config).map_err(|e| e.to_string())?;
    let repo = cfg
        .repository(repository)
        .ok_or_else(|| format!("{} has no repository {repository}", config.display()))?
        .clone();
    let tools = crate::process::Tools::detect()
        .await
        .map_err(|e| e.user_message(Some(repository)))?;
    let mut command = crate::process::BorgmaticCommand::new(config, "mount").repository(repository);
    if let Some(archive) = archive {
        command = command.arg("--archive").arg(archive);
    }
    let invocation = command
        .arg("--mount-point")
        .arg(mountpoint)
        .arg("--foreground")
        .invocation(&tools);
    let outcome = crate::process::run(invocation, &Discard, stop).await;
    crate::process::archives::checked(outcome, &repo)
        .await
        .map(|_| ())
        .map_err(|e| e.user_message(Some(repo.display_name())))
}

/// Notices a mount that ended from outside (`kastell umount`, fusermount3 -u, borg exiting).
async fn watch(mountpoint: PathBuf, sink: Arc<dyn EventSink>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(mut list) = active().lock() else {
            return;
        };
        let Some(at) = list.iter().position(|a| a.info.mountpoint == mountpoint) else {
            // Unmounted through `unmount`, which tells its caller itself.
            return;
        };
        if list[at].serving.ended() {
            list.remove(at);
            drop(list);
            remove_default_folder(&mountpoint);
            sink.emit(Event::Mount(MountEvent::Unmounted { mountpoint }));
            return;
        }
    }
}

/// A default mount point's folder goes with its mount (an empty folder, never anything else).
fn remove_default_folder(mountpoint: &Path) {
    let root = mount_root();
    if !mountpoint.starts_with(&root) {
        return;
    }
    let mut dir = Some(mountpoint);
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Unmounts what this process mounted at `mountpoint` (or a stale mount of Kastell's there).
/// A busy mount stays mounted, with a message saying so.
pub fn unmount(mountpoint: &Path) -> Result<(), String> {
    let ours = mounts().iter().any(|m| m.mountpoint == mountpoint);
    if !ours {
        if stale_mounts().iter().any(|m| m == mountpoint) {
            super::unmount(mountpoint, true)?;
            remove_default_folder(mountpoint);
            return Ok(());
        }
        return Err(format!(
            "{} is not mounted by Kastell",
            mountpoint.display()
        ));
    }
    super::unmount(mountpoint, false)?;
    finish(mountpoint);
    Ok(())
}

/// Takes an unmounted mount off the list and lets its server end.
fn finish(mountpoint: &Path) {
    let taken = active().lock().ok().and_then(|mut list| {
        let at = list.iter().position(|a| a.info.mountpoint == mountpoint)?;
        Some(list.remove(at))
    });
    if let Some(Active {
        serving, private, ..
    }) = taken
    {
        match serving {
            Serving::Native(session) => {
                // Unmounted already; the session thread ends on its own.
                for _ in 0..50 {
                    if session.guard.is_finished() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                drop(session);
            }
            Serving::Borg { stop, ended } => {
                for _ in 0..100 {
                    if ended.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                stop.cancel();
            }
        }
        drop(private);
    }
    remove_default_folder(mountpoint);
}

/// Unmounts everything this process mounted (Kastell is quitting): a busy mount is detached
/// (lazily unmounted) rather than left behind to go stale.
pub fn unmount_all() -> Vec<String> {
    let mut notes = Vec::new();
    for info in mounts() {
        if let Err(why) = super::unmount(&info.mountpoint, false) {
            notes.push(format!("{why} — detached it instead"));
            if let Err(why) = super::unmount(&info.mountpoint, true) {
                notes.push(why);
            }
        }
        finish(&info.mountpoint);
    }
    notes
}

/// Kastell's stale mounts: its own FUSE mounts (fsname `kastell`) anywhere, and any FUSE mount
/// below [`mount_root`] (a borg mount Kastell started), whose process is gone.
pub fn stale_mounts() -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let root = mount_root();
    super::mount_table(&info)
        .into_iter()
        .filter(|m| m.is_kastell() || (m.kind.starts_with("fuse") && m.point.starts_with(&root)))
        .map(|m| m.point)
        .filter(|p| {
            matches!(std::fs::metadata(p), Err(e) if e.raw_os_error() == Some(nix::libc::ENOTCONN))
        })
        .collect()
}

/// Removes stale mounts; says what it did, a line each.
pub fn clean_stale() -> Vec<String> {
    stale_mounts()
        .into_iter()
        .map(|stale| match super::unmount(&stale, true) {
            Ok(()) => {
                remove_default_folder(&stale);
                format!(
                    "Removed a stale mount at {} (left by a Kastell that ended)",
                    stale.display()
                )
            }
            Err(why) => format!(
                "A stale mount at {} could not be removed: {why}",
                stale.display()
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mount_points_live_in_the_runtime_folder_one_per_target() {
        let config = Path::new("/home/me/.config/borgmatic/user.yaml");
        let archive = default_mountpoint(
            config,
            &Target::Archive {
                repository: "local-nas".into(),
                archive: "host-2026-11-30".into(),
            },
        );
        let repository = default_mountpoint(
            config,
            &Target::Repository {
                repository: "/srv/borg/repo".into(),
            },
        );
        let whole = default_mountpoint(config, &Target::Config);
        assert!(archive.ends_with("local-nas/host-2026-11-30"));
        assert!(repository.ends_with("_srv_borg_repo/all-archives"));
        assert!(whole.ends_with("user-all-repositories"));
        for p in [&archive, &repository, &whole] {
            assert!(p.starts_with(mount_root()), "{}", p.display());
        }
    }
}
