//! Finding borg and borgmatic and checking their versions.

use super::error::ProcessError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Borg,
    Borgmatic,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Borg => "borg",
            Tool::Borgmatic => "borgmatic",
        }
    }

    /// The oldest version Kastell works with: borg 1.2 (Debian 12's), borgmatic 1.8 (the
    /// first with the flat schema).
    pub fn minimum(self) -> Version {
        match self {
            Tool::Borg => Version(1, 2, 0),
            Tool::Borgmatic => Version(1, 8, 0),
        }
    }

    fn override_var(self) -> &'static str {
        match self {
            Tool::Borg => "KASTELL_BORG",
            Tool::Borgmatic => "KASTELL_BORGMATIC",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Reads the first `X.Y[.Z]` in a `--version` line (`borg 1.4.5`, `2.1.10`, `2.0.0b25`).
    pub fn parse(text: &str) -> Option<Version> {
        let token = text
            .split_whitespace()
            .find(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
        let mut parts = token.split('.').map(|p| {
            let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Version(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub path: PathBuf,
    pub version: Version,
}

/// The borg and borgmatic Kastell drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    pub borg: ToolInfo,
    pub borgmatic: ToolInfo,
}

/// Successful detections are kept for the life of the process; failures are not, so a user
/// who installs borg while Kastell runs only has to press Refresh.
static DETECTED: Mutex<Option<Tools>> = Mutex::new(None);

impl Tools {
    pub async fn detect() -> Result<Tools, ProcessError> {
        if let Ok(guard) = DETECTED.lock() {
            if let Some(tools) = guard.as_ref() {
                return Ok(tools.clone());
            }
        }
        let borg = detect_one(Tool::Borg).await?;
        let borgmatic = detect_one(Tool::Borgmatic).await?;
        let tools = Tools { borg, borgmatic };
        if let Ok(mut guard) = DETECTED.lock() {
            *guard = Some(tools.clone());
        }
        Ok(tools)
    }

    /// borgmatic 1.9 renamed `rlist` to `repo-list` (the old name stays as an alias).
    pub fn repo_list_action(&self) -> &'static str {
        if self.borgmatic.version >= Version(1, 9, 0) {
            "repo-list"
        } else {
            "rlist"
        }
    }
}

async fn detect_one(tool: Tool) -> Result<ToolInfo, ProcessError> {
    let path = locate(tool).ok_or(ProcessError::ToolMissing { tool })?;
    let version = match version_cache::lookup(&path) {
        Some(version) => version,
        None => {
            let version = ask_version(&path).await?;
            version_cache::store(&path, version);
            version
        }
    };
    if version < tool.minimum() {
        return Err(ProcessError::ToolTooOld {
            tool,
            found: version.to_string(),
        });
    }
    if tool == Tool::Borg && version.0 >= 2 {
        return Err(ProcessError::ToolUnsupported {
            tool,
            found: version.to_string(),
            supported: "1.2 to 1.4",
        });
    }
    Ok(ToolInfo { path, version })
}

/// `TOOL --version`. borgmatic's takes most of a second (Python start-up), once per
/// installed version thanks to the cache below.
async fn ask_version(path: &Path) -> Result<Version, ProcessError> {
    let output = tokio::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| ProcessError::Spawn {
            program: path.display().to_string(),
            source,
        })?;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    Version::parse(&text).ok_or_else(|| ProcessError::BadOutput {
        program: path.display().to_string(),
        detail: format!("no version in `--version` output: {}", text.trim()),
    })
}

/// Tool versions by executable, in `~/.cache/kastell/tool-versions.json`, so that every
/// `kastell` run (a scheduled backup, a passcommand) does not pay for `--version` again. An
/// entry holds while the resolved file's inode, size and modification time stay the same (an
/// upgrade rewrites the file).
mod version_cache {
    use super::Version;
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};

    fn file() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("kastell").join("tool-versions.json"))
    }

    fn key(path: &Path) -> Option<(String, String)> {
        let real = std::fs::canonicalize(path).ok()?;
        let m = std::fs::metadata(&real).ok()?;
        Some((
            real.display().to_string(),
            format!("{}:{}:{}.{}", m.ino(), m.size(), m.mtime(), m.mtime_nsec()),
        ))
    }

    fn read() -> BTreeMap<String, (String, String)> {
        file()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn lookup(path: &Path) -> Option<Version> {
        let (real, stamp) = key(path)?;
        let entries = read();
        let (cached_stamp, version) = entries.get(&real)?;
        (cached_stamp == &stamp)
            .then(|| Version::parse(version))
            .flatten()
    }

    pub fn store(path: &Path, version: Version) {
        let (Some((real, stamp)), Some(file)) = (key(path), file()) else {
            return;
        };
        let mut entries = read();
        entries.insert(real, (stamp, version.to_string()));
        let Some(dir) = file.parent() else { return };
        let temp = dir.join(format!(".tool-versions.{}.tmp", std::process::id()));
        // Best effort: a cache that cannot be written only costs the next run a second.
        let _ = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&temp, serde_json::to_vec(&entries).unwrap_or_default()))
            .and_then(|()| std::fs::rename(&temp, &file));
    }
}

/// `$KASTELL_BORG`/`$KASTELL_BORGMATIC`, then `PATH`, then the places `make setup` and pipx
/// install to (a desktop session's PATH often lacks `~/.local/bin`).
pub fn locate(tool: Tool) -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os(tool.override_var()) {
        let path = PathBuf::from(explicit);
        return is_executable(&path).then_some(path);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = dirs::home_dir() {
        dirs.push(home.join(".local/bin"));
    }
    if let Some(cache) = dirs::cache_dir() {
        dirs.push(cache.join("kastell-tools/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(tool.name()))
        .find(|p| is_executable(p))
}

/// The Kastell that runs without a window (no Qt linked), for the resident tray and the
/// scheduled runs: `$KASTELL_CLI`, else `../libexec/kastell/kastell-cli` next to an installed
/// Kastell (`make install` puts it there), else this program itself.
pub fn windowless_program() -> PathBuf {
    let this = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kastell"));
    if !cfg!(feature = "gui") {
        return this;
    }
    if let Some(explicit) = std::env::var_os("KASTELL_CLI") {
        let path = PathBuf::from(explicit);
        if is_executable(&path) {
            return path;
        }
    }
    this.parent()
        .and_then(Path::parent)
        .map(|prefix| prefix.join("libexec/kastell/kastell-cli"))
        .filter(|p| is_executable(p))
        .unwrap_or(this)
}

/// The Kastell with the window: this program when it has one, else `$KASTELL_WINDOW`, else
/// `bin/kastell` of the prefix this window-less one was installed into, else `kastell` on PATH.
pub fn window_program() -> PathBuf {
    let this = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kastell"));
    if cfg!(feature = "gui") {
        return this;
    }
    if let Some(explicit) = std::env::var_os("KASTELL_WINDOW") {
        return PathBuf::from(explicit);
    }
    this.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|prefix| prefix.join("bin/kastell"))
        .filter(|p| is_executable(p))
        .unwrap_or_else(|| PathBuf::from("kastell"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_both_tools_output_and_compare() {
        assert_eq!(Version::parse("borg 1.4.5"), Some(Version(1, 4, 5)));
        assert_eq!(Version::parse("2.1.10\n"), Some(Version(2, 1, 10)));
        assert_eq!(Version::parse("borg 2.0.0b25"), Some(Version(2, 0, 0)));
        assert_eq!(Version::parse("borg 1.2"), Some(Version(1, 2, 0)));
        assert!(Version(1, 2, 4) >= Tool::Borg.minimum());
        assert!(Version(1, 7, 7) < Tool::Borgmatic.minimum());
        assert_eq!(Version::parse("no digits"), None);
    }
}
