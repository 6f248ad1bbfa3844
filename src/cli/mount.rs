//! `kastell mount` and `kastell umount`: archives as a read-only filesystem (the core's
//! `mount` module), unmounted on Ctrl-C; stale mounts of a killed Kastell are cleaned first.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::browse::BrowseError;
use crate::mount::{self, manager, ArchiveFs, Layout};

/// True when `path` is a mount point of Kastell's, or a borg mount Kastell may have started
/// for a repository it cannot read (per /proc/self/mountinfo).
fn is_kastell_mount(path: &Path) -> bool {
    let Ok(wanted) = std::fs::canonicalize(path) else {
        return false;
    };
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|info| {
            mount::mount_table(&info)
                .iter()
                .any(|m| m.point == wanted && (m.is_kastell() || m.source == "borgfs"))
        })
        .unwrap_or(false)
}

fn clean_stale_mounts() {
    for line in manager::clean_stale() {
        eprintln!("kastell: {line}");
    }
}

/// Mount an archive (or every archive of a repository) read-only, for a file manager.
/// Runs until unmounted or interrupted, unless --background.
#[derive(Debug, clap::Args)]
pub struct MountArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// One repository; without it, every repository of the config as a folder.
    #[arg(long, value_name = "LABEL")]
    repository: Option<String>,
    /// One archive (`latest` works); without it, every archive as a folder plus `latest`.
    #[arg(long, value_name = "NAME")]
    archive: Option<String>,
    /// Return once mounted; the mount keeps running in the background.
    #[arg(long)]
    background: bool,
    mountpoint: PathBuf,
}

pub async fn mount(args: MountArgs) -> anyhow::Result<ExitCode> {
    let MountArgs {
        ref config,
        ref repository,
        ref archive,
        background,
        ref mountpoint,
    } = args;
    let (repository, archive) = (repository.as_deref(), archive.as_deref());
    clean_stale_mounts();
    if !mountpoint.is_dir() {
        bail!("{} is not a folder", mountpoint.display());
    }
    if background {
        return detach(mountpoint);
    }
    let Some(repository) = repository else {
        if archive.is_some() {
            bail!("--archive needs --repository");
        }
        let parts = manager::config_filesystem(config).await?;
        for why in &parts.left_out {
            eprintln!("kastell: leaving out {why}");
        }
        for why in &parts.by_borg {
            eprintln!("kastell: borg mounts {why}");
        }
        let served = serve(parts.fs, mountpoint).await;
        // borg's private mounts go after Kastell's.
        drop(parts.private);
        return served;
    };
    let session = match crate::browse::open_uncached(config, repository).await {
        Ok(session) => Arc::new(session),
        Err(BrowseError::Unsupported(why)) => {
            return serve_with_borg(config, repository, archive, mountpoint, &why).await
        }
        Err(e) => return Err(e.into()),
    };
    let layout = match archive {
        Some(name) => {
            let archive = session.archive(name)?;
            // Indexed before mounting, so the first `ls` answers at once.
            let started = std::time::Instant::now();
            if session.cached_index(&archive).is_none() {
                eprintln!("kastell: indexing archive {} (once)…", archive.name);
            }
            session.index(
                &archive,
                &mut |_| {},
                &std::sync::atomic::AtomicBool::new(false),
            )?;
            if started.elapsed() > Duration::from_millis(500) {
                eprintln!(
                    "kastell: indexed in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Layout::Archive(archive)
        }
        None => Layout::Repository,
    };
    serve(ArchiveFs::new(session, layout), mountpoint).await
}

/// A repository Kastell cannot read: borg mounts it (through borgmatic), until unmounted or
/// Ctrl-C.
async fn serve_with_borg(
    config: &Path,
    repository: &str,
    archive: Option<&str>,
    mountpoint: &Path,
    why: &str,
) -> anyhow::Result<ExitCode> {
    eprintln!("kastell: borg mounts this repository ({why})");
    let stop = tokio_util::sync::CancellationToken::new();
    let interrupted = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupted.cancel();
        }
    });
    println!(
        "Mounting at {} with borg. Unmount with `kastell umount {}` or Ctrl-C.",
        mountpoint.display(),
        mountpoint.display()
    );
    match manager::borg_mount_foreground(config, repository, archive, mountpoint, &stop).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(_) if stop.is_cancelled() => Ok(ExitCode::SUCCESS),
        Err(why) => bail!(why),
    }
}

/// Mounts `fs` and serves it until it is unmounted or Ctrl-C.
async fn serve(fs: ArchiveFs, mountpoint: &Path) -> anyhow::Result<ExitCode> {
    let mut running = fuser::spawn_mount(fs, mountpoint, &mount::config())
        .with_context(|| format!("mounting at {}", mountpoint.display()))?;
    println!(
        "Mounted at {}. Unmount with `kastell umount {}` or Ctrl-C.",
        mountpoint.display(),
        mountpoint.display()
    );
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if running.guard.is_finished() {
                    // Unmounted from outside (kastell umount, fusermount3 -u).
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
    // Ctrl-C: unmount, then wait for the session thread to end.
    if let Err(why) = mount::unmount(mountpoint, false) {
        eprintln!("kastell: {why}; detaching it instead");
        let _ = mount::unmount(mountpoint, true);
    }
    for _ in 0..50 {
        if running.guard.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = &mut running;
    Ok(ExitCode::SUCCESS)
}

/// `--background`: the same command without it, in a new session with no terminal; returns
/// once the mount is there (or the child has failed).
fn detach(mountpoint: &Path) -> anyhow::Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("finding kastell")?;
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--background")
        .collect();
    // In the user's own state folder, made exclusively: never through a planted symlink.
    let logs = crate::private::state_dir().join("logs");
    crate::private::create_dirs_below(&crate::private::state_dir(), &logs)?;
    let log = logs.join(format!("mount-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let log_file =
        crate::private::create_new(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = std::process::Command::new(exe)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
        .context("starting the background mount")?;
    for _ in 0..600 {
        if is_kastell_mount(mountpoint) {
            println!(
                "Mounted at {} (process {}). Unmount with `kastell umount {}`.",
                mountpoint.display(),
                child.id(),
                mountpoint.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!("mounting failed ({status}):\n{}", text.trim());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the mount did not appear within a minute (log: {})",
        log.display()
    )
}

/// Unmount what `kastell mount` mounted.
#[derive(Debug, clap::Args)]
pub struct UmountArgs {
    mountpoint: PathBuf,
}

pub fn umount(args: UmountArgs) -> anyhow::Result<ExitCode> {
    let mountpoint = args.mountpoint.as_path();
    if !is_kastell_mount(mountpoint) {
        // A stale one fails canonicalize; try it anyway.
        if manager::stale_mounts().iter().any(|m| m == mountpoint) {
            mount::unmount(mountpoint, true).map_err(anyhow::Error::msg)?;
            return Ok(ExitCode::SUCCESS);
        }
        bail!("{} is not mounted by Kastell", mountpoint.display());
    }
    mount::unmount(mountpoint, false).map_err(anyhow::Error::msg)?;
    Ok(ExitCode::SUCCESS)
}
