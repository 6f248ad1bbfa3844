//! A test bed for archives made by plain borg (no borgmatic, no NAS unless a test starts one):
//! a private folder that is HOME, `BORG_BASE_DIR` and the runtime folder of every borg and
//! Kastell it runs, borg's cache in `borg-cache/`, keyfiles where borg keeps them by default
//! (`.config/borg/keys`), the tree to back up in `src/` (each area furnishes its own), and
//! configs whose one repository is labelled `r`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{kastell_bin, stderr, tool, PASSPHRASE};

pub struct Bed {
    pub dir: tempfile::TempDir,
    borg: PathBuf,
}

/// `REPO::ARCHIVE`, as borg names an archive.
pub fn at(repo: &Path, archive: &str) -> String {
    format!("{}::{archive}", repo.display())
}

impl Bed {
    /// An empty bed for `area` (the temporary folder's name says whose it is), with the borg
    /// on PATH.
    pub fn new(area: &str) -> Bed {
        Bed::with_borg(area, tool("borg"))
    }

    /// The same with a given borg binary (e.g. apt's 1.2.4).
    pub fn with_borg(area: &str, borg: PathBuf) -> Bed {
        let dir = tempfile::Builder::new()
            .prefix(&format!("kastell-bed-{area}-"))
            .tempdir()
            .expect("temp dir");
        let runtime = dir.path().join("run");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::create_dir_all(dir.path().join("src")).expect("tree dir");
        Bed { dir, borg }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The tree the tests back up (`src/`, empty until an area furnishes it).
    pub fn tree(&self) -> PathBuf {
        self.path().join("src")
    }

    /// borg's cache (`BORG_CACHE_DIR`).
    pub fn borg_cache(&self) -> PathBuf {
        self.path().join("borg-cache")
    }

    /// Where borg keeps keyfiles under this `BORG_BASE_DIR`.
    pub fn keys(&self) -> PathBuf {
        self.path().join(".config/borg/keys")
    }

    /// Kastell's archive indexes (its cache folder under this HOME).
    pub fn index_cache(&self) -> PathBuf {
        self.path().join(".cache/kastell/archives")
    }

    /// borg's record of `repo` (`security/<repository id>`).
    pub fn security_dir(&self, repo: &Path) -> PathBuf {
        self.path()
            .join(".config/borg/security")
            .join(repository_id(repo))
    }

    /// The environment of every process of this bed: HOME, borg's folders, the runtime folder.
    pub fn envs(&self) -> [(&'static str, PathBuf); 4] {
        [
            ("HOME", self.path().to_path_buf()),
            ("BORG_BASE_DIR", self.path().to_path_buf()),
            ("BORG_CACHE_DIR", self.borg_cache()),
            ("XDG_RUNTIME_DIR", self.path().join("run")),
        ]
    }

    /// This bed's borg, run in the bed (relative paths are below it), with the passphrase.
    pub fn borg_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.borg);
        cmd.args(args)
            .current_dir(self.path())
            .envs(self.envs())
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null());
        cmd
    }

    /// This bed's borg, to its end; fails the test if borg fails.
    pub fn borg(&self, args: &[&str]) -> Output {
        let out = self.borg_cmd(args).output().expect("borg runs");
        assert!(out.status.success(), "borg {args:?}: {}", stderr(&out));
        out
    }

    /// A new repository at `repo` in encryption `mode`.
    pub fn init(&self, repo: &Path, mode: &str) {
        self.borg(&["init", "-e", mode, repo.to_str().expect("utf-8 path")]);
    }

    /// A config `NAME.yaml` backing up the tree to repository `r` at `location` (a path or an
    /// ssh:// URL) with the bed's passphrase, and `extra` lines.
    pub fn config(&self, name: &str, location: &str, extra: &str) -> PathBuf {
        let path = self.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!(
                "source_directories: [{}]\nrepositories:\n    - path: {location}\n      label: r\n\
                 encryption_passphrase: \"{PASSPHRASE}\"\n{extra}",
                self.tree().display()
            ),
        )
        .expect("config");
        path
    }

    /// Kastell as the user runs it: this bed's HOME and folders, the passphrase only from the
    /// config.
    pub fn kastell_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kastell_bin());
        cmd.args(args)
            .envs(self.envs())
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("BORG_PASSPHRASE")
            .env_remove("BORG_KEYS_DIR")
            .stdin(Stdio::null());
        cmd
    }

    pub fn kastell(&self, args: &[&str]) -> Output {
        self.kastell_cmd(args).output().expect("kastell runs")
    }

    /// `kastell COMMAND --config CONFIG --repository r ARGS…`.
    pub fn kastell_on(&self, command: &str, config: &Path, args: &[&str]) -> Output {
        let config = config.to_str().expect("utf-8 path");
        let mut all = vec![command, "--config", config, "--repository", "r"];
        all.extend_from_slice(args);
        self.kastell(&all)
    }

    /// Kastell's reader of the local repository `repo`, with this bed's borg folders.
    pub fn reader(&self, repo: &Path) -> kastell::reader::Reader {
        super::open_reader(repo, self.path(), &self.borg_cache(), None, PASSPHRASE)
    }
}

/// The id in a repository's `config` file.
pub fn repository_id(repo: &Path) -> String {
    let config = std::fs::read_to_string(repo.join("config")).expect("repository config");
    config
        .lines()
        .find_map(|l| l.strip_prefix("id = "))
        .expect("id")
        .trim()
        .to_string()
}
