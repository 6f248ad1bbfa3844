//! A home for the schedule and tray tests: HOME, a private runtime folder, a borgmatic config
//! backing up `Documents` to a local repository, and Kastell run as the person runs it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use super::{kastell_bin, stderr, tool, PASSPHRASE};

/// A home with a borgmatic config backing up `Documents` to a local repository.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new(area: &str) -> Home {
        let dir = tempfile::Builder::new()
            .prefix(&format!("kastell-bed-{area}-"))
            .tempdir()
            .expect("temp dir");
        let home = Home { dir };
        for folder in [home.home(), home.runtime()] {
            std::fs::create_dir_all(&folder).expect("folder");
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700))
                .expect("chmod");
        }
        let documents = home.home().join("Documents");
        std::fs::create_dir_all(&documents).expect("documents");
        std::fs::write(documents.join("notes.txt"), "back me up\n").expect("file");
        std::fs::create_dir_all(home.config().parent().expect("parent")).expect("config dir");
        std::fs::write(
            home.config(),
            format!(
                "source_directories:\n    - {}\n\nrepositories:\n    - path: {}\n      label: local\n\n\
                 encryption_passphrase: \"{PASSPHRASE}\"\n\
                 archive_name_format: 'home-{{now:%Y-%m-%dT%H:%M:%S.%f}}'\n\
                 keep_daily: 7\n",
                documents.display(),
                home.repo().display()
            ),
        )
        .expect("config");
        std::fs::set_permissions(home.config(), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        home
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn runtime(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn config(&self) -> PathBuf {
        self.home().join(".config/borgmatic/user.yaml")
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn unit_folder(&self) -> PathBuf {
        self.home().join(".config/systemd/user")
    }

    /// What a login gives a process: HOME, the runtime folder, a plain PATH (no borg on it:
    /// the unit must bring its own).
    pub fn login_env(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home().display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime().display().to_string(),
            ),
            ("USER".into(), "root".into()),
            ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ]
    }

    /// Kastell as the person runs it: it finds borg and borgmatic where setup put them.
    pub fn kastell(&self) -> Command {
        let mut cmd = Command::new(kastell_bin());
        cmd.env_clear()
            .envs(self.login_env())
            .env("KASTELL_BORG", tool("borg"))
            .env("KASTELL_BORGMATIC", tool("borgmatic"));
        cmd
    }

    pub fn create_repository(&self) {
        let borg_dir = tool("borg").parent().expect("dir").display().to_string();
        let out = Command::new(tool("borgmatic"))
            .args(["--config"])
            .arg(self.config())
            .args(["repo-create", "--encryption", "repokey-blake2"])
            .env_clear()
            .envs(self.login_env())
            .env("PATH", format!("{borg_dir}:/usr/bin:/bin"))
            .output()
            .expect("borgmatic");
        assert!(out.status.success(), "repo-create: {}", stderr(&out));
    }

    pub fn archives(&self) -> Vec<String> {
        self.archives_in(&self.repo())
    }

    /// The archives of the repository at `repo` (one the config was pointed elsewhere to).
    pub fn archives_in(&self, repo: &std::path::Path) -> Vec<String> {
        let out = Command::new(tool("borg"))
            .args(["list", "--short"])
            .arg(repo)
            .env_clear()
            .envs(self.login_env())
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .output()
            .expect("borg list");
        assert!(out.status.success(), "borg list: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn history(&self) -> Vec<serde_json::Value> {
        let out = self
            .kastell()
            .args(["history", "--json", "--config"])
            .arg(self.config())
            .output()
            .expect("kastell history");
        assert!(out.status.success(), "history: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("history JSON")
    }
}
