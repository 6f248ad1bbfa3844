//! The archive index against real borg: `kastell ls` of every folder, `find` and `versions`
//! answer exactly what `borg list --json-lines` says, field by field; indexes are built once,
//! rebuilt when damaged, never left half-written by a cancelled build, pruned when their
//! archive is deleted; the same through the loopback NAS.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde_json::Value;

use crate::support::bed::{at, Bed};
use crate::support::{self, stderr};

/// A bed with a tree of folders (deep, empty, with spaces), odd names (unicode, a newline, a
/// byte that is not UTF-8), an empty, a sparse and a bigger file, a symlink and a hard link.
fn bed() -> Bed {
    let bed = Bed::new("browse");
    let t = bed.tree();
    std::fs::create_dir_all(t.join("docs/deep/er")).unwrap();
    std::fs::create_dir_all(t.join("empty folder")).unwrap();
    std::fs::create_dir_all(t.join("photos 2026")).unwrap();
    std::fs::write(t.join("docs/Notes.TXT"), "notes\n").unwrap();
    std::fs::write(t.join("docs/deep/er/report.txt"), "report v1\n").unwrap();
    std::fs::write(t.join("docs/ünïcödé 日本.txt"), "unicode\n").unwrap();
    std::fs::write(t.join("docs/new\nline.txt"), "newline").unwrap();
    std::fs::write(t.join(OsStr::from_bytes(b"docs/bad\xffname")), "bytes").unwrap();
    std::fs::write(t.join("photos 2026/IMG_0001.jpg"), vec![7u8; 300_000]).unwrap();
    std::fs::write(t.join("empty.txt"), "").unwrap();
    let sparse = std::fs::File::create(t.join("sparse.img")).unwrap();
    sparse.set_len(20 << 20).unwrap();
    std::os::unix::fs::symlink("docs/Notes.TXT", t.join("link")).unwrap();
    std::fs::hard_link(t.join("docs/Notes.TXT"), t.join("hardlink")).unwrap();
    bed
}

/// The index files Kastell keeps for this bed's archives.
fn index_files(bed: &Bed) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    if let Ok(dirs) = std::fs::read_dir(bed.index_cache()) {
        for d in dirs.flatten() {
            for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                out.insert(f.path());
            }
        }
    }
    out
}

/// borg's objects keyed by path, only the fields the index keeps.
fn borg_objects(text: &[u8]) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if let Value::Object(m) = &mut v {
                m.remove("flags");
            }
            (v["path"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

#[test]
fn every_folder_lists_exactly_what_borg_list_says() {
    let bed = bed();
    let repo = bed.path().join("repo");
    bed.init(&repo, "repokey-blake2");
    bed.borg(&["create", &at(&repo, "one"), "src"]);
    let config = bed.config("local", repo.to_str().unwrap(), "");
    let theirs = borg_objects(
        &bed.borg(&["list", "--json-lines", &at(&repo, "one")])
            .stdout,
    );
    // Every folder of the archive, plus the top level.
    let mut folders: BTreeSet<String> = theirs
        .iter()
        .filter(|(_, v)| v["type"] == "d")
        .map(|(p, _)| p.clone())
        .collect();
    folders.insert(String::new());
    for folder in &folders {
        let out = bed.kastell_on(
            "ls",
            &config,
            &["--archive", "one", "--json", &format!("/{folder}")],
        );
        assert!(out.status.success(), "{folder}: {}", stderr(&out));
        let ours: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{folder}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        let expected: BTreeMap<&String, &Value> = theirs
            .iter()
            .filter(|(p, _)| parent_of(p) == folder.as_str() && !p.is_empty())
            .collect();
        assert_eq!(ours.len(), expected.len(), "{folder}: {ours:?}");
        for mut object in ours {
            if let Value::Object(m) = &mut object {
                m.remove("flags");
            }
            let path = object["path"].as_str().unwrap().to_string();
            assert_eq!(expected.get(&path), Some(&&object), "{path}");
        }
    }
    // The index was built once: a second listing says nothing about indexing.
    assert_eq!(index_files(&bed).len(), 1);
    let again = bed.kastell_on("ls", &config, &["--archive", "latest", "src/docs"]);
    assert!(again.status.success());
    assert!(!stderr(&again).contains("indexing"), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Notes.TXT"));
    // A path that is not there is said so.
    let missing = bed.kastell_on("ls", &config, &["--archive", "one", "/src/nothing"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("/src/nothing is not in archive one"),
        "{}",
        stderr(&missing)
    );

    // A damaged index file is noticed and built again.
    let file = index_files(&bed).into_iter().next().unwrap();
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let rebuilt = bed.kastell_on("ls", &config, &["--archive", "one", "--json", "/src/docs"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert!(stderr(&rebuilt).contains("indexing"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), len);
}

#[test]
fn find_and_versions_answer_across_archives_and_deleted_archives_lose_their_index() {
    let bed = bed();
    let repo = bed.path().join("repo");
    bed.init(&repo, "keyfile-blake2");
    let report = bed.tree().join("docs/deep/er/report.txt");
    bed.borg(&["create", &at(&repo, "a1"), "src"]);
    std::fs::write(&report, "report v2, longer\n").unwrap();
    bed.borg(&["create", &at(&repo, "a2"), "src"]);
    bed.borg(&["create", &at(&repo, "a3"), "src"]);
    std::fs::remove_file(&report).unwrap();
    bed.borg(&["create", &at(&repo, "a4"), "src"]);
    let config = bed.config(
        "local",
        repo.to_str().unwrap(),
        &format!("borg_keys_directory: {}\n", bed.keys().display()),
    );

    let found = bed.kastell_on("find", &config, &["*.txt"]);
    assert!(found.status.success(), "{}", stderr(&found));
    let lines: BTreeSet<String> = String::from_utf8_lossy(&found.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for archive in ["a1", "a2", "a3", "a4"] {
        assert!(
            lines.contains(&format!("{archive} src/docs/Notes.TXT")),
            "{lines:?}"
        );
        assert!(lines.contains(&format!("{archive} src/empty.txt")));
    }
    assert!(lines.contains("a3 src/docs/deep/er/report.txt"));
    assert!(!lines.contains("a4 src/docs/deep/er/report.txt"));
    // borg agrees on what a1 holds that ends in .txt (case-insensitive, names only).
    let a1: BTreeSet<String> =
        borg_objects(&bed.borg(&["list", "--json-lines", &at(&repo, "a1")]).stdout)
            .into_keys()
            .filter(|p| {
                p.rsplit('/')
                    .next()
                    .unwrap()
                    .to_lowercase()
                    .ends_with(".txt")
            })
            .map(|p| format!("a1 {p}"))
            .collect();
    // (Through --json: one name has a newline, which a line per hit cannot show.)
    let json_a1 = bed.kastell_on("find", &config, &["--archive", "a1", "--json", "*.txt"]);
    let json_a1: Value = serde_json::from_slice(&json_a1.stdout).unwrap();
    let ours_a1: BTreeSet<String> = json_a1
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("a1 {}", v["path"].as_str().unwrap()))
        .collect();
    assert_eq!(ours_a1, a1);
    let one = bed.kastell_on("find", &config, &["--archive", "a2", "--json", "IMG_*.JPG"]);
    let one: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one[0]["path"], "src/photos 2026/IMG_0001.jpg");
    assert_eq!(one[0]["size"], 300_000);
    assert_eq!(one.as_array().unwrap().len(), 1);

    let versions = bed.kastell_on(
        "versions",
        &config,
        &["--json", "/src/docs/deep/er/report.txt"],
    );
    assert!(versions.status.success(), "{}", stderr(&versions));
    let versions: Value = serde_json::from_slice(&versions.stdout).unwrap();
    let list = versions.as_array().unwrap();
    assert_eq!(list.len(), 3, "{versions}");
    assert_eq!(list[0]["archive"], "a1");
    assert_eq!(list[0]["size"], 10);
    assert_eq!(list[1]["size"], 18);
    assert_eq!(
        list.iter()
            .map(|v| v["changed"].as_bool().unwrap())
            .collect::<Vec<_>>(),
        [true, true, false]
    );

    // Comparing archives: borg diff's own answer, grouped as added / removed / changed.
    let diff = bed.kastell_on("diff", &config, &["--json", "a1", "a2"]);
    assert!(diff.status.success(), "{}", stderr(&diff));
    let diff: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let changed: Vec<&Value> = diff.as_array().unwrap().iter().collect();
    assert_eq!(changed.len(), 1, "{diff}");
    assert_eq!(changed[0]["path"], "src/docs/deep/er/report.txt");
    assert_eq!(changed[0]["change"], "Changed");
    assert!(changed[0]["kinds"]
        .as_array()
        .unwrap()
        .contains(&Value::from("modified")));
    let removed = bed.kastell_on("diff", &config, &["--json", "a3", "latest"]);
    let removed: Value = serde_json::from_slice(&removed.stdout).unwrap();
    let removed_paths: BTreeSet<(String, String)> = removed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_string(),
                v["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        removed_paths.contains(&("src/docs/deep/er/report.txt".into(), "Removed".into())),
        "{removed}"
    );

    // Deleting an archive removes its index at the next use.
    assert_eq!(index_files(&bed).len(), 4);
    bed.borg(&["delete", &at(&repo, "a2")]);
    let after = bed.kastell_on("ls", &config, &["--archive", "a1"]);
    assert!(after.status.success(), "{}", stderr(&after));
    assert!(
        stderr(&after).contains("removed 1 index"),
        "{}",
        stderr(&after)
    );
    assert_eq!(index_files(&bed).len(), 3);
}

#[test]
fn a_cancelled_build_leaves_nothing_and_the_nas_lists_the_same() {
    use kastell::index::{build_index, index_path, IndexError};
    use std::sync::atomic::AtomicBool;
    let bed = bed();
    let mut nas = support::Nas::start(bed.path(), &support::tool("borg"));
    let repo = nas.serve_dir.join("repo");
    bed.init(&repo, "repokey");
    bed.borg(&["create", &at(&repo, "n"), "src"]);

    let reader = bed.reader(&repo);
    let archive = reader.archive("n").unwrap();
    let target = index_path(&bed.index_cache(), reader.repository_id(), &archive.id);
    let cancelled = build_index(
        &reader,
        &archive,
        &target,
        &mut |_| {},
        &AtomicBool::new(true),
    );
    assert!(matches!(cancelled, Err(IndexError::Cancelled)));
    assert!(index_files(&bed).is_empty(), "{:?}", index_files(&bed));

    // The same repository at two addresses: borg's security record asks, as borg does.
    let local = bed.config(
        "local",
        repo.to_str().unwrap(),
        "relocated_repo_access_is_ok: true\n",
    );
    let remote = bed.config(
        "remote",
        &nas.repo_url("repo"),
        &format!(
            "ssh_command: {}\nrelocated_repo_access_is_ok: true\n",
            nas.ssh_command()
        ),
    );
    for folder in ["", "/src", "/src/docs"] {
        let a = bed.kastell_on("ls", &local, &["--archive", "n", "--json", folder]);
        let b = bed.kastell_on("ls", &remote, &["--archive", "n", "--json", folder]);
        assert!(b.status.success(), "{}", stderr(&b));
        assert_eq!(
            serde_json::from_slice::<Value>(&a.stdout).unwrap(),
            serde_json::from_slice::<Value>(&b.stdout).unwrap(),
            "{folder}"
        );
    }
    nas.stop();
}
