//! How much space a repository takes and which archive holds what: the repository's totals
//! (`borgmatic repo-info --json`, one call) and each archive's sizes (`borgmatic info
//! --archive NAME --json`), kept in a cache by archive id so an archive costs one borg call
//! in its life.
//!
//! An archive's unique size (borg's `deduplicated_size`: the data no other archive shares,
//! what deleting it frees) is measured when the archive is first seen. It shrinks when a
//! later archive shares its data and grows when an archive sharing it is deleted; `refresh`
//! measures every archive again.

use super::UpkeepError;
use crate::config::{BorgmaticConfig, RepositoryConfig};
use crate::process::archives::archive_info;
use crate::process::{run_to_end, BorgmaticCommand, ProcessError, Tools};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// A repository's size: everything its archives hold (`original`), compressed, and what it
/// takes on disk after deduplication (`stored`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub original: u64,
    pub compressed: u64,
    pub stored: u64,
}

/// The repository's totals from borg's chunk cache (`borgmatic repo-info --json`).
/// `passcommand` overrides the config's passphrase source (the one-run relay).
pub async fn repository_totals(
    tools: &Tools,
    config: &Path,
    repository: &str,
    passcommand: Option<&str>,
) -> Result<Totals, ProcessError> {
    totals_of(&repo_info(tools, config, repository, passcommand).await?)
}

/// What `borgmatic repo-info --json` says of one repository (the first entry of its list).
async fn repo_info(
    tools: &Tools,
    config: &Path,
    repository: &str,
    passcommand: Option<&str>,
) -> Result<serde_json::Value, ProcessError> {
    let mut command = BorgmaticCommand::new(config, "repo-info")
        .repository(repository)
        .arg("--json");
    if let Some(passcommand) = passcommand {
        command = command.passcommand(passcommand.to_string());
    }
    let done = run_to_end(command.invocation(tools)).await?;
    let mut parsed: serde_json::Value =
        serde_json::from_slice(&done.stdout).map_err(|e| ProcessError::BadOutput {
            program: "borgmatic repo-info".into(),
            detail: e.to_string(),
        })?;
    Ok(parsed[0].take())
}

fn totals_of(info: &serde_json::Value) -> Result<Totals, ProcessError> {
    let stats = &info["cache"]["stats"];
    let field = |name: &str| {
        stats[name].as_u64().ok_or_else(|| ProcessError::BadOutput {
            program: "borgmatic repo-info".into(),
            detail: format!("no cache.stats.{name} in the answer"),
        })
    };
    Ok(Totals {
        original: field("total_size")?,
        compressed: field("total_csize")?,
        stored: field("unique_csize")?,
    })
}

/// One archive's sizes, as borg measured them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSizes {
    pub name: String,
    /// borg's archive id (hex).
    pub id: String,
    /// borg's ISO time.
    pub time: String,
    pub original_size: u64,
    pub compressed_size: u64,
    /// The data only this archive holds (what deleting it frees), when it was measured.
    pub unique_size: u64,
    pub file_count: u64,
}

/// A repository's totals and every archive's sizes (newest first).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryStats {
    pub repository: String,
    pub totals: Totals,
    pub archives: Vec<ArchiveSizes>,
    /// How many archives borg was asked about this time (the rest came from the cache).
    pub measured: usize,
}

impl RepositoryStats {
    /// `kastell stats --json`'s object for this repository.
    pub fn to_json(&self) -> serde_json::Value {
        let unique: serde_json::Map<String, serde_json::Value> = self
            .archives
            .iter()
            .map(|a| (a.name.clone(), a.unique_size.into()))
            .collect();
        serde_json::json!({
            "repository": self.repository,
            "archives": self.archives.len(),
            "original_size": self.totals.original,
            "compressed_size": self.totals.compressed,
            "deduplicated_size": self.totals.stored,
            "unique_size": unique,
            "per_archive": self.archives,
            "measured": self.measured,
        })
    }

    /// The archive holding the most data no other archive has.
    pub fn most_unique(&self) -> Option<&ArchiveSizes> {
        self.archives
            .iter()
            .filter(|a| a.unique_size > 0)
            .max_by_key(|a| a.unique_size)
    }
}

/// Where the measured sizes of one repository's archives are kept.
fn cache_file(repository_id: &str) -> PathBuf {
    let safe: String = repository_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    crate::private::cache_dir()
        .join("archive-sizes")
        .join(format!("{safe}.json"))
}

#[derive(Default, Serialize, Deserialize)]
struct SizeCache {
    /// By archive id.
    archives: BTreeMap<String, ArchiveSizes>,
}

fn read_cache(path: &Path) -> SizeCache {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn write_cache(path: &Path, cache: &SizeCache) {
    // A cache: failing to keep it costs borg calls next time, nothing else.
    if let Some(dir) = path.parent() {
        let _ = crate::private::create_dirs_below(&crate::private::cache_dir(), dir);
    }
    if let Ok(bytes) = serde_json::to_vec(cache) {
        let _ = crate::private::write_file(path, &bytes);
    }
}

/// The repository's totals and each archive's sizes: archives already measured come from
/// the cache; each new one costs one `borgmatic info` (all of them with `refresh`).
/// `told(done, of)` hears of each archive borg is asked about.
pub async fn repository_stats(
    config: &BorgmaticConfig,
    repository: &RepositoryConfig,
    refresh: bool,
    cancel: &CancellationToken,
    told: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<RepositoryStats, UpkeepError> {
    let tools = Tools::detect().await?;
    let label = repository.display_name();
    let info = repo_info(&tools, &config.path, label, None).await?;
    let totals = totals_of(&info)?;
    let id = info["repository"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = cache_file(&id);
    let mut cache = if refresh || id.is_empty() {
        SizeCache::default()
    } else {
        read_cache(&path)
    };
    let listed = super::archive_list(config, repository).await?;
    let new: Vec<&(String, String, String)> = listed
        .iter()
        .filter(|(_, archive_id, _)| !cache.archives.contains_key(archive_id))
        .collect();
    for (done, (name, archive_id, time)) in new.iter().enumerate() {
        if cancel.is_cancelled() {
            break;
        }
        told(done, new.len());
        let info = archive_info(config, repository, name, &crate::events::Discard, cancel).await?;
        cache.archives.insert(
            archive_id.clone(),
            ArchiveSizes {
                name: name.clone(),
                id: archive_id.clone(),
                time: time.clone(),
                original_size: info.original_size,
                compressed_size: info.compressed_size,
                unique_size: info.deduplicated_size,
                file_count: info.file_count,
            },
        );
    }
    told(new.len(), new.len());
    // Archives gone from the repository leave the cache; a renamed one is a new id.
    cache
        .archives
        .retain(|archive_id, _| listed.iter().any(|(_, id, _)| id == archive_id));
    if !id.is_empty() {
        write_cache(&path, &cache);
    }
    let archives = listed
        .iter()
        .filter_map(|(name, archive_id, _)| {
            cache.archives.get(archive_id).map(|sizes| ArchiveSizes {
                name: name.clone(),
                ..sizes.clone()
            })
        })
        .collect();
    Ok(RepositoryStats {
        repository: label.to_string(),
        totals,
        archives,
        measured: new.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_read_from_borgs_cache_stats() {
        let json = serde_json::json!({"cache": {"stats": {"total_size": 300, "total_csize": 200, "unique_csize": 50, "unique_size": 90}}, "repository": {"id": "ab"}});
        assert_eq!(
            totals_of(&json).expect("totals"),
            Totals {
                original: 300,
                compressed: 200,
                stored: 50
            }
        );
        assert!(totals_of(&serde_json::json!({"repository": {}})).is_err());
    }

    #[test]
    fn the_cache_file_name_is_the_repository_id_and_nothing_else() {
        let file = cache_file("../../zz/ab12");
        assert_eq!(file.file_name().and_then(|n| n.to_str()), Some("ab12.json"));
    }
}
