//! How every run ended, per repository, in an embedded SQLite database in the XDG state dir
//! (`~/.local/state/kastell/history.sqlite`). The window, `kastell status` and `kastell history`
//! read it; the backup engine writes it. WAL mode lets a scheduled run write while the window reads.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("cannot open the run history at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the run history could not be read or written: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no state directory (is HOME set?)")]
    NoStateDir,
}

/// How a run (or one repository's part of it) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    /// A scheduled run that did not start because a condition did not hold (battery,
    /// metered network); the run's message says which.
    Skipped,
    Warning,
    Cancelled,
    Error,
    /// Not ended yet (or the process running it died without a word).
    Running,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Skipped => "skipped",
            Outcome::Warning => "warning",
            Outcome::Cancelled => "cancelled",
            Outcome::Error => "error",
            Outcome::Running => "running",
        }
    }

    fn from_name(name: &str) -> Outcome {
        match name {
            "success" => Outcome::Success,
            "skipped" => Outcome::Skipped,
            "warning" => Outcome::Warning,
            "cancelled" => Outcome::Cancelled,
            "error" => Outcome::Error,
            _ => Outcome::Running,
        }
    }

    /// The outcome of several parts: the worst one (error beats cancelled beats warning).
    pub fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        outcomes.into_iter().max().unwrap_or(Outcome::Success)
    }
}

/// borg's statistics for one created archive, and the repository's totals after it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ArchiveStats {
    pub archive: String,
    pub nfiles: u64,
    pub original_size: u64,
    pub compressed_size: u64,
    pub deduplicated_size: u64,
    /// All archives' original size together (borg's cache `total_size`).
    pub repository_original_size: Option<u64>,
    /// What the repository stores (borg's cache `unique_csize`).
    pub repository_stored_size: Option<u64>,
    pub duration_seconds: f64,
}

impl ArchiveStats {
    /// "12 files · 3.4 GB read · 120 MB new".
    pub fn summary(&self) -> String {
        format!(
            "{} files · {} read · {} new",
            self.nfiles,
            crate::units::format_bytes(self.original_size),
            crate::units::format_bytes(self.deduplicated_size)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryRun {
    pub id: i64,
    pub run_id: i64,
    pub repository: String,
    pub path: String,
    /// Unix time in milliseconds.
    pub started: i64,
    pub ended: Option<i64>,
    pub outcome: Outcome,
    pub stats: Option<ArchiveStats>,
    pub msgid: Option<String>,
    pub message: Option<String>,
    pub log_tail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: i64,
    pub config: String,
    /// What ran: `backup` (borgmatic's default actions), `create`, `prune`, `compact`, `check`.
    pub actions: String,
    /// Who started it: `window`, `command line`, `schedule`.
    pub trigger: String,
    pub started: i64,
    pub ended: Option<i64>,
    pub outcome: Outcome,
    /// Why the run as a whole did not go ahead (e.g. another run of the config was going on).
    pub message: Option<String>,
    pub log_path: Option<String>,
    pub repositories: Vec<RepositoryRun>,
}

/// What a finished repository part stores.
#[derive(Debug, Clone, Default)]
pub struct RepositoryEnd {
    pub outcome: Option<Outcome>,
    pub stats: Option<ArchiveStats>,
    pub msgid: Option<String>,
    pub message: Option<String>,
    pub log_tail: String,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `~/.local/state/kastell` (or `$XDG_STATE_HOME/kastell`), a 0700 folder.
pub fn state_dir() -> Result<PathBuf, HistoryError> {
    let dir = crate::private::state_dir();
    crate::private::create_dir(&dir).map_err(|source| HistoryError::Dir {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    config TEXT NOT NULL,
    actions TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER,
    outcome TEXT NOT NULL,
    message TEXT,
    log_path TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_config ON runs(config, started);
CREATE TABLE IF NOT EXISTS repository_runs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    repository TEXT NOT NULL,
    path TEXT NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER,
    outcome TEXT NOT NULL,
    archive TEXT,
    nfiles INTEGER,
    original_size INTEGER,
    compressed_size INTEGER,
    deduplicated_size INTEGER,
    repository_original_size INTEGER,
    repository_stored_size INTEGER,
    duration_seconds REAL,
    msgid TEXT,
    message TEXT,
    log_tail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS repository_runs_by_run ON repository_runs(run_id);
CREATE TABLE IF NOT EXISTS stale_notices (
    config TEXT NOT NULL,
    repository TEXT NOT NULL,
    last_success INTEGER NOT NULL,
    PRIMARY KEY (config, repository)
);
";

pub struct History {
    conn: Connection,
}

impl History {
    /// The user's history database, created on first use.
    pub fn open_default() -> Result<History, HistoryError> {
        let dir = state_dir()?;
        History::open(&dir.join("history.sqlite"))
    }

    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let open_error = |source| HistoryError::Open {
            path: path.to_path_buf(),
            source,
        };
        // Created 0600 before SQLite opens it (its journal files take the same mode); an
        // older, wider file is tightened.
        {
            use std::os::unix::fs::PermissionsExt;
            let io_error = |source| HistoryError::Dir {
                path: path.to_path_buf(),
                source,
            };
            match crate::private::create_new(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                        .map_err(io_error)?;
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        let conn = Connection::open(path).map_err(open_error)?;
        // A scheduled run may write while the window reads: wait for each other instead of failing.
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        conn.execute_batch(SCHEMA).map_err(open_error)?;
        Ok(History { conn })
    }

    pub fn start_run(
        &self,
        config: &Path,
        actions: &str,
        trigger: &str,
    ) -> Result<i64, HistoryError> {
        self.conn.execute(
            "INSERT INTO runs (config, actions, trigger, started, outcome) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![config.to_string_lossy(), actions, trigger, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn set_log_path(&self, run_id: i64, log: &Path) -> Result<(), HistoryError> {
        self.conn.execute(
            "UPDATE runs SET log_path = ?2 WHERE id = ?1",
            params![run_id, log.to_string_lossy()],
        )?;
        Ok(())
    }

    /// Records a run that did not start, with the reason.
    pub fn record_skipped(
        &self,
        config: &Path,
        actions: &str,
        trigger: &str,
        reason: &str,
    ) -> Result<i64, HistoryError> {
        let run_id = self.start_run(config, actions, trigger)?;
        self.finish_run(run_id, Outcome::Skipped, Some(reason))?;
        Ok(run_id)
    }

    pub fn finish_run(
        &self,
        run_id: i64,
        outcome: Outcome,
        message: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.conn.execute(
            "UPDATE runs SET ended = ?2, outcome = ?3, message = ?4 WHERE id = ?1",
            params![run_id, now_ms(), outcome.name(), message],
        )?;
        Ok(())
    }

    pub fn start_repository(
        &self,
        run_id: i64,
        repository: &str,
        path: &str,
    ) -> Result<i64, HistoryError> {
        self.conn.execute(
            "INSERT INTO repository_runs (run_id, repository, path, started, outcome) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![run_id, repository, path, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_repository(&self, id: i64, end: &RepositoryEnd) -> Result<(), HistoryError> {
        let stats = end.stats.as_ref();
        self.conn.execute(
            "UPDATE repository_runs SET ended = ?2, outcome = ?3, archive = ?4, nfiles = ?5,
               original_size = ?6, compressed_size = ?7, deduplicated_size = ?8,
               repository_original_size = ?9, repository_stored_size = ?10, duration_seconds = ?11,
               msgid = ?12, message = ?13, log_tail = ?14
             WHERE id = ?1",
            params![
                id,
                now_ms(),
                end.outcome.unwrap_or(Outcome::Success).name(),
                stats.map(|s| s.archive.clone()),
                stats.map(|s| s.nfiles as i64),
                stats.map(|s| s.original_size as i64),
                stats.map(|s| s.compressed_size as i64),
                stats.map(|s| s.deduplicated_size as i64),
                stats.and_then(|s| s.repository_original_size.map(|v| v as i64)),
                stats.and_then(|s| s.repository_stored_size.map(|v| v as i64)),
                stats.map(|s| s.duration_seconds),
                end.msgid,
                end.message,
                end.log_tail,
            ],
        )?;
        Ok(())
    }

    /// Runs, newest first; of one config when given.
    pub fn runs(&self, config: Option<&Path>, limit: usize) -> Result<Vec<Run>, HistoryError> {
        let config = config.map(|c| c.to_string_lossy().into_owned());
        let mut statement = self.conn.prepare(
            "SELECT id, config, actions, trigger, started, ended, outcome, message, log_path FROM runs
             WHERE ?1 IS NULL OR config = ?1 ORDER BY started DESC, id DESC LIMIT ?2",
        )?;
        let mut runs = statement
            .query_map(params![config, limit as i64], run_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        for run in &mut runs {
            run.repositories = self.repository_runs(run.id)?;
        }
        Ok(runs)
    }

    pub fn run(&self, run_id: i64) -> Result<Option<Run>, HistoryError> {
        let run = self
            .conn
            .query_row(
                "SELECT id, config, actions, trigger, started, ended, outcome, message, log_path FROM runs WHERE id = ?1",
                params![run_id],
                run_from_row,
            )
            .optional()?;
        match run {
            Some(mut run) => {
                run.repositories = self.repository_runs(run.id)?;
                Ok(Some(run))
            }
            None => Ok(None),
        }
    }

    fn repository_runs(&self, run_id: i64) -> Result<Vec<RepositoryRun>, HistoryError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repository_runs r WHERE r.run_id = ?1 ORDER BY r.id"
        ))?;
        let rows = statement
            .query_map(params![run_id], repository_run_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every repository part of a config's runs, oldest first (for charts and per-archive stats).
    pub fn repository_runs_of(&self, config: &Path) -> Result<Vec<RepositoryRun>, HistoryError> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {REPOSITORY_COLUMNS} FROM repository_runs r JOIN runs ON runs.id = r.run_id
             WHERE runs.config = ?1 ORDER BY r.started, r.id"
        ))?;
        let rows = statement
            .query_map(params![config.to_string_lossy()], repository_run_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every config with runs, most recently run first.
    pub fn configs(&self) -> Result<Vec<PathBuf>, HistoryError> {
        let mut statement = self
            .conn
            .prepare("SELECT config FROM runs GROUP BY config ORDER BY MAX(started) DESC")?;
        let configs = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(configs.into_iter().map(PathBuf::from).collect())
    }

    /// The repositories a config's runs went to, in the order first seen.
    pub fn repositories_of(&self, config: &Path) -> Result<Vec<String>, HistoryError> {
        let mut statement = self.conn.prepare(
            "SELECT r.repository FROM repository_runs r JOIN runs ON runs.id = r.run_id
             WHERE runs.config = ?1 GROUP BY r.repository ORDER BY MIN(r.id)",
        )?;
        let repositories = statement
            .query_map(params![config.to_string_lossy()], |row| {
                row.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(repositories)
    }

    /// The newest repository part of this config and repository (any outcome).
    pub fn last_repository_run(
        &self,
        config: &Path,
        repository: &str,
        outcome: Option<Outcome>,
    ) -> Result<Option<RepositoryRun>, HistoryError> {
        self.last_run_of(config, repository, None, outcome)
    }

    /// The same, among runs of `actions` only (`check`; `backup` and `create` for backups).
    pub fn last_run_of(
        &self,
        config: &Path,
        repository: &str,
        actions: Option<&[&str]>,
        outcome: Option<Outcome>,
    ) -> Result<Option<RepositoryRun>, HistoryError> {
        let outcome_filter = match outcome {
            Some(Outcome::Success) => "AND r.outcome IN ('success', 'warning')",
            Some(_) | None => "AND r.outcome != 'running'",
        };
        // The action names are Kastell's own words (never user input), quoted as SQL text.
        let actions_filter = match actions {
            Some(names) => format!(
                "AND runs.actions IN ({})",
                names
                    .iter()
                    .map(|n| format!("'{}'", n.replace('\'', "")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {REPOSITORY_COLUMNS} FROM repository_runs r JOIN runs ON runs.id = r.run_id
                     WHERE runs.config = ?1 AND r.repository = ?2 {outcome_filter} {actions_filter}
                     ORDER BY r.started DESC, r.id DESC LIMIT 1"
                ),
                params![config.to_string_lossy(), repository],
                repository_run_from_row,
            )
            .optional()?;
        Ok(row)
    }

    /// The last created archive's statistics: what the next backup of this repository will
    /// probably read (the ETA's basis).
    pub fn previous_totals(
        &self,
        config: &Path,
        repository: &str,
    ) -> Result<Option<ArchiveStats>, HistoryError> {
        let row = self
            .conn
            .query_row(
                &format!(
                    "SELECT {REPOSITORY_COLUMNS} FROM repository_runs r JOIN runs ON runs.id = r.run_id
                     WHERE runs.config = ?1 AND r.repository = ?2 AND r.archive IS NOT NULL
                     ORDER BY r.started DESC, r.id DESC LIMIT 1"
                ),
                params![config.to_string_lossy(), repository],
                repository_run_from_row,
            )
            .optional()?;
        Ok(row.and_then(|r| r.stats))
    }

    /// Whether the "no backup since ..." notice for this last success was already shown.
    pub fn stale_notice_sent(
        &self,
        config: &Path,
        repository: &str,
        last_success: i64,
    ) -> Result<bool, HistoryError> {
        let sent: Option<i64> = self
            .conn
            .query_row(
                "SELECT last_success FROM stale_notices WHERE config = ?1 AND repository = ?2",
                params![config.to_string_lossy(), repository],
                |row| row.get(0),
            )
            .optional()?;
        Ok(sent == Some(last_success))
    }

    pub fn record_stale_notice(
        &self,
        config: &Path,
        repository: &str,
        last_success: i64,
    ) -> Result<(), HistoryError> {
        self.conn.execute(
            "INSERT INTO stale_notices (config, repository, last_success) VALUES (?1, ?2, ?3)
             ON CONFLICT (config, repository) DO UPDATE SET last_success = excluded.last_success",
            params![config.to_string_lossy(), repository, last_success],
        )?;
        Ok(())
    }

    /// Marks runs of `config` left `running` before `run_id` as errors: a process that died
    /// (power loss, kill -9) never ends them. Called while holding the config's run lock, so
    /// none of them can still be going on.
    pub fn close_abandoned(&self, config: &Path, run_id: i64) -> Result<usize, HistoryError> {
        let message = "Kastell stopped before this run ended (the process was killed or the computer shut down).";
        let config = config.to_string_lossy();
        let parts = self.conn.execute(
            "UPDATE repository_runs SET outcome = 'error', message = ?3, ended = started
             WHERE outcome = 'running'
               AND run_id IN (SELECT id FROM runs WHERE config = ?1 AND id < ?2)",
            params![config, run_id, message],
        )?;
        self.conn.execute(
            "UPDATE runs SET outcome = 'error', message = ?3, ended = started
             WHERE outcome = 'running' AND config = ?1 AND id < ?2",
            params![config, run_id, message],
        )?;
        Ok(parts)
    }
}

const REPOSITORY_COLUMNS: &str =
    "r.id, r.run_id, r.repository, r.path, r.started, r.ended, r.outcome, r.archive, r.nfiles,
    r.original_size, r.compressed_size, r.deduplicated_size, r.repository_original_size,
    r.repository_stored_size, r.duration_seconds, r.msgid, r.message, r.log_tail";

fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        id: row.get(0)?,
        config: row.get(1)?,
        actions: row.get(2)?,
        trigger: row.get(3)?,
        started: row.get(4)?,
        ended: row.get(5)?,
        outcome: Outcome::from_name(&row.get::<_, String>(6)?),
        message: row.get(7)?,
        log_path: row.get(8)?,
        repositories: Vec::new(),
    })
}

fn repository_run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RepositoryRun> {
    let archive: Option<String> = row.get(7)?;
    let number = |i: usize| -> rusqlite::Result<u64> {
        Ok(row.get::<_, Option<i64>>(i)?.unwrap_or(0).max(0) as u64)
    };
    let stats = match archive {
        Some(archive) => Some(ArchiveStats {
            archive,
            nfiles: number(8)?,
            original_size: number(9)?,
            compressed_size: number(10)?,
            deduplicated_size: number(11)?,
            repository_original_size: row.get::<_, Option<i64>>(12)?.map(|v| v.max(0) as u64),
            repository_stored_size: row.get::<_, Option<i64>>(13)?.map(|v| v.max(0) as u64),
            duration_seconds: row.get::<_, Option<f64>>(14)?.unwrap_or(0.0),
        }),
        None => None,
    };
    Ok(RepositoryRun {
        id: row.get(0)?,
        run_id: row.get(1)?,
        repository: row.get(2)?,
        path: row.get(3)?,
        started: row.get(4)?,
        ended: row.get(5)?,
        outcome: Outcome::from_name(&row.get::<_, String>(6)?),
        stats,
        msgid: row.get(15)?,
        message: row.get(16)?,
        log_tail: row.get(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_reads_back_with_its_repositories_and_stats() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("h.sqlite")).unwrap();
        let config = Path::new("/home/u/.config/borgmatic/user.yaml");
        let run = history.start_run(config, "backup", "window").unwrap();
        let local = history.start_repository(run, "local", "/r").unwrap();
        let stats = ArchiveStats {
            archive: "a1".into(),
            nfiles: 3,
            original_size: 300,
            compressed_size: 200,
            deduplicated_size: 100,
            repository_original_size: Some(600),
            repository_stored_size: Some(150),
            duration_seconds: 1.5,
        };
        history
            .finish_repository(
                local,
                &RepositoryEnd {
                    outcome: Some(Outcome::Success),
                    stats: Some(stats.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
        let nas = history.start_repository(run, "nas", "ssh://x/r").unwrap();
        history
            .finish_repository(
                nas,
                &RepositoryEnd {
                    outcome: Some(Outcome::Error),
                    msgid: Some("PassphraseWrong".into()),
                    message: Some("wrong".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        history.finish_run(run, Outcome::Error, None).unwrap();

        let runs = history.runs(Some(config), 10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].outcome, Outcome::Error);
        assert_eq!(runs[0].repositories[0].stats.as_ref(), Some(&stats));
        assert_eq!(
            runs[0].repositories[1].msgid.as_deref(),
            Some("PassphraseWrong")
        );
        assert_eq!(
            history.previous_totals(config, "local").unwrap(),
            Some(stats)
        );
        assert!(history
            .last_repository_run(config, "nas", Some(Outcome::Success))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_stale_notice_is_remembered_per_last_success() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("h.sqlite")).unwrap();
        let config = Path::new("/c.yaml");
        assert!(!history.stale_notice_sent(config, "nas", 5).unwrap());
        history.record_stale_notice(config, "nas", 5).unwrap();
        assert!(history.stale_notice_sent(config, "nas", 5).unwrap());
        assert!(!history.stale_notice_sent(config, "nas", 6).unwrap());
    }

    #[test]
    fn runs_left_running_by_a_dead_process_are_closed_as_errors() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("h.sqlite")).unwrap();
        let config = Path::new("/c.yaml");
        let dead = history.start_run(config, "backup", "schedule").unwrap();
        history.start_repository(dead, "nas", "/r").unwrap();
        let current = history.start_run(config, "backup", "window").unwrap();
        assert_eq!(history.close_abandoned(config, current).unwrap(), 1);
        let dead = history.run(dead).unwrap().unwrap();
        assert_eq!(dead.outcome, Outcome::Error);
        assert_eq!(dead.repositories[0].outcome, Outcome::Error);
        assert_eq!(
            history.run(current).unwrap().unwrap().outcome,
            Outcome::Running
        );
    }

    #[test]
    fn worst_outcome_wins() {
        assert_eq!(
            Outcome::worst([Outcome::Success, Outcome::Warning]),
            Outcome::Warning
        );
        assert_eq!(
            Outcome::worst([Outcome::Cancelled, Outcome::Error, Outcome::Success]),
            Outcome::Error
        );
    }
}
