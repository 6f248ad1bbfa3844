//! The archive index against real borg: `kastell ls` of every folder, `find` and `versions`
//! answer exactly what `borg list --json-lines` says, field by field; indexes are built once,
//! rebuilt when damaged, never left half-written by a cancelled build, pruned when their
//! archive is deleted; the same through the loopback NAS.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support;

const PASSPHRASE: &str = "browse test passphrase";

struct Bed {
    dir: tempfile::TempDir,
    borg: PathBuf,
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Bed {
    fn new() -> Bed {
        let bed = Bed {
            borg: support::tool("borg"),
            dir: tempfile::Builder::new()
                .prefix("kastell-browse-")
                .tempdir()
                .unwrap(),
        };
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

    fn tree(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn borg(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.borg)
            .args(args)
            .current_dir(self.dir.path())
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .env("BORG_BASE_DIR", self.dir.path())
            .env("BORG_CACHE_DIR", self.dir.path().join("borg-cache"))
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .output()
            .unwrap();
        assert!(out.status.success(), "borg {args:?}: {}", stderr(&out));
        out
    }

    fn config(&self, location: &str, extra: &str) -> PathBuf {
        let path = self
            .dir
            .path()
            .join(format!("config-{}.yaml", location.len()));
        std::fs::write(
            &path,
            format!(
                "source_directories: [{}]\nrepositories:\n    - path: {location}\n      label: r\nencryption_passphrase: \"{PASSPHRASE}\"\n{extra}",
                self.tree().display()
            ),
        )
        .unwrap();
        path
    }

    fn kastell(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(support::kastell_bin())
            .args([
                args[0],
                "--config",
                config.to_str().unwrap(),
                "--repository",
                "r",
            ])
            .args(&args[1..])
            .env("HOME", self.dir.path())
            .env("BORG_BASE_DIR", self.dir.path())
            .env("BORG_CACHE_DIR", self.dir.path().join("borg-cache"))
            .env_remove("XDG_CACHE_HOME")
            .env_remove("BORG_PASSPHRASE")
            .output()
            .unwrap()
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join(".cache/kastell/archives")
    }

    fn index_files(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        if let Ok(dirs) = std::fs::read_dir(self.cache()) {
            for d in dirs.flatten() {
                for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                    out.insert(f.path());
                }
            }
        }
        out
    }
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
    let bed = Bed::new();
    let repo = bed.repo();
    bed.borg(&["init", "-e", "repokey-blake2", repo.to_str().unwrap()]);
    bed.borg(&["create", &format!("{}::one", repo.display()), "src"]);
    let config = bed.config(repo.to_str().unwrap(), "");
    let theirs = borg_objects(
        &bed.borg(&["list", "--json-lines", &format!("{}::one", repo.display())])
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
        let out = bed.kastell(
            &config,
            &["ls", "--archive", "one", "--json", &format!("/{folder}")],
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
    assert_eq!(bed.index_files().len(), 1);
    let again = bed.kastell(&config, &["ls", "--archive", "latest", "src/docs"]);
    assert!(again.status.success());
    assert!(!stderr(&again).contains("indexing"), "{}", stderr(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Notes.TXT"));
    // A path that is not there is said so.
    let missing = bed.kastell(&config, &["ls", "--archive", "one", "/src/nothing"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("/src/nothing is not in archive one"),
        "{}",
        stderr(&missing)
    );

    // A damaged index file is noticed and built again.
    let file = bed.index_files().into_iter().next().unwrap();
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let rebuilt = bed.kastell(&config, &["ls", "--archive", "one", "--json", "/src/docs"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    assert!(stderr(&rebuilt).contains("indexing"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), len);
}

#[test]
fn find_and_versions_answer_across_archives_and_deleted_archives_lose_their_index() {
    let bed = Bed::new();
    let repo = bed.repo();
    bed.borg(&["init", "-e", "keyfile-blake2", repo.to_str().unwrap()]);
    let report = bed.tree().join("docs/deep/er/report.txt");
    bed.borg(&["create", &format!("{}::a1", repo.display()), "src"]);
    std::fs::write(&report, "report v2, longer\n").unwrap();
    bed.borg(&["create", &format!("{}::a2", repo.display()), "src"]);
    bed.borg(&["create", &format!("{}::a3", repo.display()), "src"]);
    std::fs::remove_file(&report).unwrap();
    bed.borg(&["create", &format!("{}::a4", repo.display()), "src"]);
    let config = bed.config(
        repo.to_str().unwrap(),
        &format!(
            "borg_keys_directory: {}\n",
            bed.dir.path().join(".config/borg/keys").display()
        ),
    );

    let found = bed.kastell(&config, &["find", "*.txt"]);
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
    let a1: BTreeSet<String> = borg_objects(
        &bed.borg(&["list", "--json-lines", &format!("{}::a1", repo.display())])
            .stdout,
    )
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
    let json_a1 = bed.kastell(&config, &["find", "--archive", "a1", "--json", "*.txt"]);
    let json_a1: Value = serde_json::from_slice(&json_a1.stdout).unwrap();
    let ours_a1: BTreeSet<String> = json_a1
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("a1 {}", v["path"].as_str().unwrap()))
        .collect();
    assert_eq!(ours_a1, a1);
    let one = bed.kastell(&config, &["find", "--archive", "a2", "--json", "IMG_*.JPG"]);
    let one: Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(one[0]["path"], "src/photos 2026/IMG_0001.jpg");
    assert_eq!(one[0]["size"], 300_000);
    assert_eq!(one.as_array().unwrap().len(), 1);

    let versions = bed.kastell(
        &config,
        &["versions", "--json", "/src/docs/deep/er/report.txt"],
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
    let diff = bed.kastell(&config, &["diff", "--json", "a1", "a2"]);
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
    let removed = bed.kastell(&config, &["diff", "--json", "a3", "latest"]);
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
    assert_eq!(bed.index_files().len(), 4);
    bed.borg(&["delete", &format!("{}::a2", repo.display())]);
    let after = bed.kastell(&config, &["ls", "--archive", "a1"]);
    assert!(after.status.success(), "{}", stderr(&after));
    assert!(
        stderr(&after).contains("removed 1 index"),
        "{}",
        stderr(&after)
    );
    assert_eq!(bed.index_files().len(), 3);
}

#[test]
fn a_cancelled_build_leaves_nothing_and_the_nas_lists_the_same() {
    use kastell::index::{build_index, index_path, IndexError};
    use std::sync::atomic::AtomicBool;
    let bed = Bed::new();
    let mut nas = support::Nas::start(bed.dir.path(), &support::tool("borg"));
    let repo = nas.serve_dir.join("repo");
    bed.borg(&["init", "-e", "repokey", repo.to_str().unwrap()]);
    bed.borg(&["create", &format!("{}::n", repo.display()), "src"]);

    let reader = support::open_reader(
        &repo,
        bed.dir.path(),
        &bed.dir.path().join("borg-cache"),
        None,
        PASSPHRASE,
    );
    let archive = reader.archive("n").unwrap();
    let target = index_path(&bed.cache(), reader.repository_id(), &archive.id);
    let cancelled = build_index(
        &reader,
        &archive,
        &target,
        &mut |_| {},
        &AtomicBool::new(true),
    );
    assert!(matches!(cancelled, Err(IndexError::Cancelled)));
    assert!(bed.index_files().is_empty(), "{:?}", bed.index_files());

    // The same repository at two addresses: borg's security record asks, as borg does.
    let local = bed.config(
        repo.to_str().unwrap(),
        "relocated_repo_access_is_ok: true\n",
    );
    let remote = bed.config(
        &nas.repo_url("repo"),
        &format!(
            "ssh_command: {}\nrelocated_repo_access_is_ok: true\n",
            nas.ssh_command()
        ),
    );
    for folder in ["", "/src", "/src/docs"] {
        let a = bed.kastell(&local, &["ls", "--archive", "n", "--json", folder]);
        let b = bed.kastell(&remote, &["ls", "--archive", "n", "--json", folder]);
        assert!(b.status.success(), "{}", stderr(&b));
        assert_eq!(
            serde_json::from_slice::<Value>(&a.stdout).unwrap(),
            serde_json::from_slice::<Value>(&b.stdout).unwrap(),
            "{folder}"
        );
    }
    nas.stop();
}
