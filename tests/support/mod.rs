//! Real components for integration tests: a test HOME, a "NAS" (sshd on 127.0.0.1 whose only
//! key is forced to `borg serve --restrict-to-path`), repositories made by real borgmatic
//! ([`Fixture`]) or by plain borg ([`bed::Bed`]).

pub mod bed;
pub mod desktop;
pub mod drive;
pub mod home;
pub mod tree;
pub mod watcher;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const PASSPHRASE: &str = "correct horse battery staple seven words";

/// Every Kastell that mounts cleans every stale Kastell mount it finds (as it should, on a
/// desktop). A test that makes a stale mount on purpose holds this exclusively so that the
/// tests running beside it (the mount and the window tests share one test binary), which hold
/// it shared while they mount or start a window, do not clean it first.
static STALE_MOUNTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn making_stale_mounts() -> std::sync::RwLockWriteGuard<'static, ()> {
    STALE_MOUNTS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn cleaning_stale_mounts() -> std::sync::RwLockReadGuard<'static, ()> {
    STALE_MOUNTS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Finds a tool as Kastell does (PATH, then `make setup`'s cache).
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
        dirs.push(Path::new(&home).join(".cache/kastell-tools/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not installed: run `make setup-test` first"))
}

/// Where tests leave screenshots, logs and D-Bus dumps for people to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

pub fn kastell_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kastell"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// sshd on 127.0.0.1 with a forced `borg serve --restrict-to-path` key: the seed's NAS.
pub struct Nas {
    pub port: u16,
    pub serve_dir: PathBuf,
    pub client_key: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Nas {
    pub fn start(dir: &Path, borg: &Path) -> Nas {
        let serve_dir = dir.join("nas");
        std::fs::create_dir_all(&serve_dir).expect("nas dir");
        let host_key = dir.join("ssh_host_ed25519_key");
        let client_key = dir.join("client_ed25519");
        for key in [&host_key, &client_key] {
            run_ok(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-C", "kastell-test", "-f"])
                    .arg(key),
            );
        }
        let public = std::fs::read_to_string(client_key.with_extension("pub")).expect("pub key");
        let authorized = dir.join("authorized_keys");
        std::fs::write(
            &authorized,
            format!(
                "command=\"{} serve --restrict-to-path {}\",restrict {}",
                borg.display(),
                serve_dir.display(),
                public.trim()
            ),
        )
        .expect("authorized_keys");
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .expect("sshd_config");
        // sshd insists on its privilege separation directory when started as root.
        if nix_is_root() {
            let _ = std::fs::create_dir_all("/run/sshd");
            let _ = std::fs::set_permissions("/run/sshd", std::fs::Permissions::from_mode(0o755));
        }
        let mut nas = Nas {
            port,
            serve_dir,
            client_key,
            config,
            child: None,
        };
        nas.resume();
        nas
    }

    /// Starts sshd (again) on the same port.
    pub fn resume(&mut self) {
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd (install openssh-server: make setup-test)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops sshd, as a NAS that is switched off.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops sshd and kills the `borg serve` sessions it started: a NAS that dies mid-run.
    pub fn kill(&mut self) {
        self.stop();
        let pattern = format!("serve --restrict-to-path {}", self.serve_dir.display());
        let _ = Command::new("pkill")
            .args(["-KILL", "-f"])
            .arg(pattern)
            .status();
    }

    pub fn ssh_command(&self) -> String {
        format!(
            "ssh -i {} -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            self.client_key.display()
        )
    }

    pub fn repo_url(&self, name: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            whoami(),
            self.port,
            self.serve_dir.join(name).display()
        )
    }
}

impl Drop for Nas {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nix_is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn whoami() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "root".into())
}

/// A test HOME with a seed-like config: two repositories, `local` (a path) and `nas`
/// (ssh:// to the loopback NAS), keyfile-blake2 as in the seed, and archives made by borgmatic.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub config: PathBuf,
    pub source: PathBuf,
    pub local_repo: PathBuf,
    pub nas: Nas,
    pub borg: PathBuf,
    pub borgmatic: PathBuf,
}

impl Fixture {
    /// Two repositories with `archives` archives each, made by the borg on PATH.
    pub fn new(archives: usize) -> Fixture {
        Fixture::with_borg(archives, tool("borg"))
    }

    /// The same, made and served by a given borg binary (e.g. apt's 1.2.4).
    pub fn with_borg(archives: usize, borg: PathBuf) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("kastell-test-")
            .tempdir()
            .expect("temp dir");
        let borgmatic = tool("borgmatic");
        let home = dir.path().join("home");
        let source = home.join("Documents");
        std::fs::create_dir_all(&source).expect("source dir");
        std::fs::write(source.join("notes.txt"), "remember the keyfile\n").expect("file");
        std::fs::write(source.join("große Datei.bin"), vec![7u8; 200_000]).expect("file");
        std::fs::create_dir_all(home.join(".config/borgmatic")).expect("config dir");
        let nas = Nas::start(dir.path(), &borg);
        let local_repo = dir.path().join("local-repo");
        let config = home.join(".config/borgmatic/user.yaml");
        let yaml = format!(
            "# User data backup (test)\n\
             source_directories:\n    - {source}\n\n\
             repositories:\n    - path: {local}\n      label: local\n    - path: {nas}\n      label: nas\n\n\
             encryption_passphrase: \"{PASSPHRASE}\"\n\
             ssh_command: {ssh}\n\
             archive_name_format: 'home-{{now:%Y-%m-%dT%H:%M:%S.%f}}'\n\
             compression: zstd\n\
             keep_daily: 7\n",
            source = source.display(),
            local = local_repo.display(),
            nas = nas.repo_url("repo"),
            ssh = nas.ssh_command(),
        );
        std::fs::write(&config, yaml).expect("config");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let fixture = Fixture {
            home,
            config,
            source,
            local_repo,
            nas,
            borg,
            borgmatic,
            dir,
        };
        run_ok(&mut fixture.borgmatic_cmd(&["repo-create", "--encryption", "keyfile-blake2"]));
        for _ in 0..archives {
            run_ok(&mut fixture.borgmatic_cmd(&["create"]));
        }
        fixture
    }

    /// Environment for every process of this fixture: its own HOME and caches.
    pub fn envs(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            self.borg
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![
            ("HOME".into(), self.home.display().to_string()),
            (
                "XDG_CONFIG_HOME".into(),
                self.home.join(".config").display().to_string(),
            ),
            (
                "XDG_CACHE_HOME".into(),
                self.home.join(".cache").display().to_string(),
            ),
            (
                "XDG_STATE_HOME".into(),
                self.home.join(".local/state").display().to_string(),
            ),
            // borgmatic keeps its runtime files (the bootstrap manifest) here; without one per
            // fixture, parallel tests share /tmp/borgmatic-*, and borgmatic's clean-up, which
            // globs across them, deletes another run's manifest while borg reads it (a warning).
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime_dir().display().to_string(),
            ),
            ("PATH".into(), path),
            ("KASTELL_BORG".into(), self.borg.display().to_string()),
            (
                "KASTELL_BORGMATIC".into(),
                self.borgmatic.display().to_string(),
            ),
        ]
    }

    pub fn borgmatic_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.borgmatic);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(self.envs())
            .stdin(Stdio::null());
        cmd
    }

    /// Plain borg, as the reference the tests compare Kastell with.
    pub fn borg_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.borg);
        cmd.args(args)
            .envs(self.envs())
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .env("BORG_RSH", self.nas.ssh_command())
            .stdin(Stdio::null());
        cmd
    }

    pub fn kastell(&self, args: &[&str]) -> Output {
        Command::new(kastell_bin())
            .args(args)
            .envs(self.envs())
            .stdin(Stdio::null())
            .output()
            .expect("kastell runs")
    }

    /// A copy of the config with one line replaced, for fault tests.
    pub fn config_variant(&self, name: &str, from: &str, to: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.config).expect("config");
        assert!(text.contains(from), "config has no {from:?}");
        let path = self.config.with_file_name(name);
        std::fs::write(&path, text.replace(from, to)).expect("variant");
        path
    }

    pub fn nas_repo_url(&self) -> String {
        self.nas.repo_url("repo")
    }
}

/// stderr of a finished process, for assertions and failure messages.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout and stderr of a finished process, for assertions and failure messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Fixture {
    /// A private `XDG_RUNTIME_DIR` for session services (D-Bus, keyring, Qt).
    pub fn runtime_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("run");
        std::fs::create_dir_all(&dir).expect("runtime dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        dir
    }
}

/// Whether something is mounted at `path` (this process's mount table).
pub fn is_mounted(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*path.to_string_lossy()))
}

/// A borg holding a repository's exclusive lock, as a running backup holds it; killed when
/// dropped.
pub struct HeldLock(Child);

/// Starts `with_lock` (a `borg with-lock REPO sleep …` command) and waits until it holds the
/// lock of `repo` (a local path).
pub fn hold_lock(mut with_lock: Command, repo: &Path) -> HeldLock {
    let held = HeldLock(with_lock.spawn().expect("borg with-lock"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !repo.join("lock.exclusive").exists() {
        assert!(Instant::now() < deadline, "borg did not take the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    held
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Kastell's reader of the local repository `repo` that a test's borg made with
/// `BORG_BASE_DIR=base`, `BORG_CACHE_DIR=cache` (and keys in `keys`).
pub fn open_reader(
    repo: &Path,
    base: &Path,
    cache: &Path,
    keys: Option<&Path>,
    passphrase: &str,
) -> kastell::reader::Reader {
    let trust = trust(base, cache, keys, repo);
    kastell::reader::Reader::open_local(
        repo,
        &kastell::reader::Access {
            passphrase: Some(passphrase.as_bytes()),
            trust: &trust,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", repo.display()))
}

/// What Kastell's reader needs for borg's security record of a repository that a test's borg
/// made with `BORG_BASE_DIR=base` (and `BORG_CACHE_DIR=cache`, keys in `keys` when given).
pub fn trust(
    base: &Path,
    cache: &Path,
    keys: Option<&Path>,
    location: &Path,
) -> kastell::reader::Trust {
    use kastell::reader::security::{canonical_location, BorgDirs, DirOptions};
    kastell::reader::Trust {
        dirs: BorgDirs::find(&DirOptions {
            base: Some(base.to_path_buf()),
            cache: Some(cache.to_path_buf()),
            keys: keys.map(Path::to_path_buf),
            ..DirOptions::default()
        }),
        location: canonical_location(&location.display().to_string()),
        relocated_ok: false,
        unknown_unencrypted_ok: false,
    }
}

/// Every folder below `dir` (and `dir`) is 0700 and every file 0600: Kastell's cache, state
/// and runtime folders, as borg keeps its cache.
pub fn assert_private(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    assert_eq!(
        meta.mode() & 0o777,
        0o700,
        "{} is not private",
        dir.display()
    );
    let mut files = 0;
    for entry in tree::walk(dir) {
        let path = dir.join(&entry);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
        if meta.is_dir() || meta.is_file() {
            assert_eq!(
                meta.mode() & 0o777,
                wanted,
                "{} is readable by others",
                path.display()
            );
            files += usize::from(meta.is_file());
        }
    }
    assert!(files > 0, "nothing in {} to check", dir.display());
}

/// The Python that runs `borg` (from its script's first line), for helpers that run borg's own
/// code in-process.
pub fn python_of(borg: &Path) -> PathBuf {
    let text = std::fs::read_to_string(borg).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default();
    let interpreter = first
        .trim_start_matches("#!")
        .split_whitespace()
        .next()
        .unwrap_or("python3");
    PathBuf::from(interpreter)
}
