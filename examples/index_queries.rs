//! Times the archive index's queries on index files already built (used by
//! `scripts/bench-index.py`): showing the root and a deep folder, a name search in one
//! archive and across all, and the versions of one path across all (indexes opened once,
//! as the window keeps them).
//!
//!     cargo run --release --example index_queries -- INDEX_DIR DEEP_FOLDER PATTERN PATH
//!
//! Every index file in INDEX_DIR (one repository's) takes part. Prints one JSON object.

use std::path::PathBuf;
use std::time::Instant;

use kastell::index::{name_pattern, ArchiveIndex};

fn best_of<T>(rounds: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("at least one round"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, deep, pattern, path] = args.as_slice() else {
        return Err("usage: index_queries INDEX_DIR DEEP_FOLDER PATTERN PATH".into());
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "kidx"))
        .collect();
    files.sort();
    let first = files.first().ok_or("no index files")?.clone();
    let regex = name_pattern(pattern)?;

    // Showing a folder: open the index and list the children's names, sizes and times.
    let show = |folder: &str| -> Result<usize, Box<dyn std::error::Error>> {
        let index = ArchiveIndex::open(&first)?;
        let at = index.lookup(folder.as_bytes()).ok_or("no such folder")?;
        let mut shown = 0;
        for child in index.entry(at).children() {
            let e = index.entry(child);
            shown += index.name(child).len() + (e.size as usize & 1) + (e.mtime_ns as usize & 1);
        }
        Ok(shown)
    };
    let (root_s, _) = best_of(20, || show(""));
    let (deep_s, _) = best_of(20, || show(deep));
    // The same with the index already open, as the window keeps it.
    let open = ArchiveIndex::open(&first)?;
    let list_open = |folder: &str| -> usize {
        let Some(at) = open.lookup(folder.as_bytes()) else {
            return 0;
        };
        open.entry(at)
            .children()
            .map(|c| open.name(c).len() + (open.entry(c).size as usize & 1))
            .sum()
    };
    let (root_open_s, _) = best_of(20, || list_open(""));
    let (deep_open_s, _) = best_of(20, || list_open(deep));
    let (open_s, _) = best_of(10, || ArchiveIndex::open(&first).map(|i| i.len()));

    let (search_one_s, hits_one) = best_of(5, || -> Result<usize, String> {
        let index = ArchiveIndex::open(&first).map_err(|e| e.to_string())?;
        Ok(index.search(&regex).len())
    });
    // Across archives, as the window does it: every index opened (mapped and checked) once
    // per session, then asked.
    let (open_all_s, opened) = best_of(3, || -> Result<Vec<ArchiveIndex>, String> {
        use rayon::prelude::*;
        files
            .par_iter()
            .map(|f| ArchiveIndex::open(f).map_err(|e| e.to_string()))
            .collect()
    });
    let opened = opened?;
    let (search_all_s, hits_all) = best_of(3, || {
        use rayon::prelude::*;
        opened
            .par_iter()
            .map(|index| index.search(&regex).len())
            .sum::<usize>()
    });
    let (versions_s, found) = best_of(5, || {
        let mut found = 0usize;
        let mut last: Option<(u64, i64)> = None;
        for index in &opened {
            if let Some(i) = index.lookup(path.as_bytes()) {
                let e = index.entry(i);
                if last != Some((e.size, e.mtime_ns)) {
                    found += 1;
                }
                last = Some((e.size, e.mtime_ns));
            }
        }
        found
    });
    let entries = ArchiveIndex::open(&first)?.len();
    let bytes: u64 = std::fs::metadata(&first)?.len();
    println!(
        "{}",
        serde_json::json!({
            "archives": files.len(),
            "entries_per_archive": entries - 1,
            "index_bytes_per_entry": bytes as f64 / f64::from(entries),
            "open_index_ms": open_s * 1e3,
            "show_root_index_open_ms": root_open_s * 1e3,
            "show_deep_folder_index_open_ms": deep_open_s * 1e3,
            "show_root_ms": root_s * 1e3,
            "show_deep_folder_ms": deep_s * 1e3,
            "search_one_archive_ms": search_one_s * 1e3,
            "search_hits_one_archive": hits_one?,
            "open_all_indexes_ms": open_all_s * 1e3,
            "search_all_archives_ms": search_all_s * 1e3,
            "search_hits_all_archives": hits_all,
            "versions_all_archives_ms": versions_s * 1e3,
            "different_versions": found,
        })
    );
    Ok(())
}
