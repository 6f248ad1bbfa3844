//! Kastell's own repository reader against real borg: every encryption mode borg 1.x makes ×
//! every compression, over a tree with unicode and non-UTF-8 names, spaces, newlines, symlinks,
//! hard links, empty, sparse and multi-chunk files. `kastell ls --recursive --json-lines` must
//! equal `borg list --json-lines` field by field, and `kastell cat` must give the file's bytes.
//! Then corruption: flipped bytes, a truncated segment, a wrong passphrase, a missing keyfile,
//! a stale index.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support;

const MODES: &[&str] = &[
    "none",
    "authenticated",
    "authenticated-blake2",
    "repokey",
    "keyfile",
    "repokey-blake2",
    "keyfile-blake2",
];
const COMPRESSIONS: &[&str] = &[
    "none",
    "lz4",
    "zstd,3",
    "zlib,6",
    "lzma,1",
    "obfuscate,3,zstd,1",
];
const PASSPHRASE: &str = "reader test passphrase";

struct Bed {
    dir: tempfile::TempDir,
    borg: PathBuf,
}

impl Bed {
    fn new() -> Bed {
        Bed::with_borg(support::tool("borg"))
    }

    fn with_borg(borg: PathBuf) -> Bed {
        let bed = Bed {
            borg,
            dir: tempfile::Builder::new()
                .prefix("kastell-reader-")
                .tempdir()
                .unwrap(),
        };
        std::fs::create_dir_all(bed.keys()).unwrap();
        bed.make_tree();
        bed
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn make_tree(&self) {
        let t = self.tree();
        std::fs::create_dir_all(t.join("deep/er/est")).unwrap();
        std::fs::create_dir_all(t.join("empty dir")).unwrap();
        std::fs::write(t.join("hello.txt"), "hello\n").unwrap();
        std::fs::write(t.join("ünïcödé 日本.txt"), "unicode\n").unwrap();
        std::fs::write(t.join("with space"), "").unwrap();
        std::fs::write(t.join("new\nline"), "newline in name").unwrap();
        std::fs::write(t.join(OsStr::from_bytes(b"bad\xffname\xc3")), "not utf-8").unwrap();
        // Several chunks (borg's chunker cuts around 2 MiB), partly compressible.
        let mut big = Vec::with_capacity(9 << 20);
        let mut x: u64 = 0x1234_5678;
        for i in 0..(9u64 << 20) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            big.push(if i % 4096 < 2048 {
                (x & 0xff) as u8
            } else {
                b'a'
            });
        }
        std::fs::write(t.join("deep/er/est/big.bin"), &big).unwrap();
        let sparse = std::fs::File::create(t.join("sparse.img")).unwrap();
        sparse.set_len(5 << 20).unwrap();
        std::os::unix::fs::symlink("hello.txt", t.join("link")).unwrap();
        std::os::unix::fs::symlink("/nowhere/at/all", t.join("dangling")).unwrap();
        std::fs::hard_link(t.join("hello.txt"), t.join("deep/hardlink")).unwrap();
    }

    fn borg(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.borg)
            .args(args)
            .current_dir(self.dir.path())
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .env("BORG_KEYS_DIR", self.keys())
            .env("BORG_CACHE_DIR", self.dir.path().join("cache"))
            .env("BORG_BASE_DIR", self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "borg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn repo(&self, mode: &str) -> PathBuf {
        self.dir.path().join(format!("repo-{mode}"))
    }

    fn config(&self, mode: &str, passphrase: &str) -> PathBuf {
        let path = self.dir.path().join(format!("config-{mode}.yaml"));
        std::fs::write(
            &path,
            format!(
                "source_directories: [{}]\nrepositories:\n    - path: {}\n      label: r\nencryption_passphrase: \"{passphrase}\"\nborg_keys_directory: {}\n",
                self.tree().display(),
                self.repo(mode).display(),
                self.keys().display()
            ),
        )
        .unwrap();
        path
    }

    fn kastell(&self, args: &[&str]) -> Output {
        Command::new(support::kastell_bin())
            .args(args)
            .env("HOME", self.dir.path())
            .env("BORG_BASE_DIR", self.dir.path())
            .env("BORG_KEYS_DIR", self.keys())
            .env_remove("BORG_PASSPHRASE")
            .output()
            .unwrap()
    }
}

/// The objects of a json-lines text, keyed by path (order and key order are free).
fn objects(text: &[u8]) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            (v["path"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect()
}

#[test]
fn every_mode_and_compression_lists_and_reads_like_borg() {
    let bed = Bed::new();
    for mode in MODES {
        let repo = bed.repo(mode);
        bed.borg(&["init", "-e", mode, repo.to_str().unwrap()]);
        let config = bed.config(mode, PASSPHRASE);
        for (n, compression) in COMPRESSIONS.iter().enumerate() {
            let archive = format!("a{n}");
            bed.borg(&[
                "create",
                "-C",
                compression,
                &format!("{}::{archive}", repo.display()),
                "src",
            ]);
            let theirs = bed.borg(&[
                "list",
                "--json-lines",
                &format!("{}::{archive}", repo.display()),
            ]);
            let ours = bed.kastell(&[
                "ls",
                "--config",
                config.to_str().unwrap(),
                "--repository",
                "r",
                "--archive",
                &archive,
                "--recursive",
                "--json-lines",
            ]);
            assert!(
                ours.status.success(),
                "{mode} {compression}: {}",
                String::from_utf8_lossy(&ours.stderr)
            );
            assert!(
                !String::from_utf8_lossy(&ours.stderr).contains("using borg"),
                "{mode} {compression}: fell back to borg"
            );
            let (a, b) = (objects(&ours.stdout), objects(&theirs.stdout));
            assert_eq!(a.len(), b.len(), "{mode} {compression}");
            for (path, theirs) in &b {
                assert_eq!(a.get(path), Some(theirs), "{mode} {compression}: {path}");
            }
            for file in [
                "src/deep/er/est/big.bin",
                "src/sparse.img",
                "src/deep/hardlink",
                "src/hello.txt",
            ] {
                let ours = bed.kastell(&[
                    "cat",
                    "--config",
                    config.to_str().unwrap(),
                    "--repository",
                    "r",
                    "--archive",
                    &archive,
                    file,
                ]);
                assert!(
                    ours.status.success(),
                    "{mode} {compression} {file}: {}",
                    String::from_utf8_lossy(&ours.stderr)
                );
                let expected = std::fs::read(bed.dir.path().join(file)).unwrap();
                assert!(
                    ours.stdout == expected,
                    "{mode} {compression} {file}: bytes differ"
                );
            }
        }
    }
    // The non-UTF-8 name and `latest`, against borg extract --stdout.
    let config = bed.config("repokey-blake2", PASSPHRASE);
    let ours = bed.kastell(&[
        "cat",
        "--config",
        config.to_str().unwrap(),
        "--repository",
        "r",
        "--archive",
        "latest",
        "src/deep/er/est/big.bin",
    ]);
    let theirs = bed.borg(&[
        "extract",
        "--stdout",
        &format!(
            "{}::a{}",
            bed.repo("repokey-blake2").display(),
            COMPRESSIONS.len() - 1
        ),
        "src/deep/er/est/big.bin",
    ]);
    assert!(ours.stdout == theirs.stdout);
}

/// Flips one byte inside the largest segment file's object data.
fn flip_a_byte(repo: &Path) {
    let mut biggest: Option<(u64, PathBuf)> = None;
    for dir in std::fs::read_dir(repo.join("data")).unwrap().flatten() {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let len = f.metadata().unwrap().len();
            if biggest.as_ref().is_none_or(|(l, _)| len > *l) {
                biggest = Some((len, f.path()));
            }
        }
    }
    let (len, path) = biggest.unwrap();
    let mut data = std::fs::read(&path).unwrap();
    data[(len / 2) as usize] ^= 0x40;
    std::fs::write(&path, data).unwrap();
}

#[test]
fn damage_and_wrong_keys_give_clear_errors_never_wrong_bytes() {
    let bed = Bed::new();
    for mode in ["repokey-blake2", "keyfile"] {
        bed.borg(&["init", "-e", mode, bed.repo(mode).to_str().unwrap()]);
        bed.borg(&[
            "create",
            "-C",
            "lz4",
            &format!("{}::a", bed.repo(mode).display()),
            "src",
        ]);
    }
    let ls = |mode: &str, passphrase: &str| {
        let config = bed.config(mode, passphrase);
        bed.kastell(&[
            "ls",
            "--config",
            config.to_str().unwrap(),
            "--repository",
            "r",
            "--archive",
            "a",
            "--recursive",
        ])
    };
    let wrong = ls("repokey-blake2", "not the passphrase");
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("the passphrase is wrong"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // The keyfile moved away.
    let moved = bed.dir.path().join("keys-moved");
    std::fs::rename(bed.keys(), &moved).unwrap();
    std::fs::create_dir_all(bed.keys()).unwrap();
    let missing = ls("keyfile", PASSPHRASE);
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("keyfile of this repository was not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    std::fs::remove_dir_all(bed.keys()).unwrap();
    std::fs::rename(&moved, bed.keys()).unwrap();

    // A flipped byte in the data: the big file no longer reads, and nothing wrong comes out.
    flip_a_byte(&bed.repo("repokey-blake2"));
    let config = bed.config("repokey-blake2", PASSPHRASE);
    let cat = bed.kastell(&[
        "cat",
        "--config",
        config.to_str().unwrap(),
        "--repository",
        "r",
        "--archive",
        "a",
        "src/deep/er/est/big.bin",
    ]);
    let listing = ls("repokey-blake2", PASSPHRASE);
    let err = String::from_utf8_lossy(&cat.stderr).to_string()
        + &String::from_utf8_lossy(&listing.stderr);
    assert!(
        !cat.status.success() || !listing.status.success(),
        "a damaged repository read without an error"
    );
    assert!(err.contains("damaged"), "{err}");
    let expected = std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap();
    assert!(
        cat.stdout.len() < expected.len(),
        "the damaged file came out whole"
    );

    // A stale index: the newest index removed, an older one left; newer segments are replayed.
    let repo = bed.repo("keyfile");
    let expected = objects(
        &bed.borg(&["list", "--json-lines", &format!("{}::a", repo.display())])
            .stdout,
    );
    let old_index: Vec<PathBuf> = std::fs::read_dir(&repo)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("index.")
        })
        .collect();
    let saved = bed.dir.path().join("index.saved");
    std::fs::copy(&old_index[0], &saved).unwrap();
    bed.borg(&["create", &format!("{}::b", repo.display()), "src"]);
    for e in std::fs::read_dir(&repo).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with("index.")
            || name.starts_with("hints.")
            || name.starts_with("integrity.")
        {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    std::fs::copy(&saved, &old_index[0]).unwrap();
    let config = bed.config("keyfile", PASSPHRASE);
    let b = bed.kastell(&[
        "ls",
        "--config",
        config.to_str().unwrap(),
        "--repository",
        "r",
        "--archive",
        "b",
        "--recursive",
        "--json-lines",
    ]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(objects(&b.stdout).len(), expected.len());
}

#[test]
fn repositories_made_by_debian_borg_1_2_read_the_same() {
    let borg = PathBuf::from("/usr/bin/borg");
    if !borg.exists() {
        eprintln!("apt's borg 1.2 is not installed; skipped");
        return;
    }
    let bed = Bed::with_borg(borg);
    for (mode, compression) in [
        ("repokey", "zstd,3"),
        ("keyfile-blake2", "lz4"),
        ("none", "zlib,6"),
    ] {
        let repo = bed.repo(mode);
        bed.borg(&["init", "-e", mode, repo.to_str().unwrap()]);
        bed.borg(&[
            "create",
            "-C",
            compression,
            &format!("{}::old", repo.display()),
            "src",
        ]);
        let config = bed.config(mode, PASSPHRASE);
        let theirs = bed.borg(&["list", "--json-lines", &format!("{}::old", repo.display())]);
        let ours = bed.kastell(&[
            "ls",
            "--config",
            config.to_str().unwrap(),
            "--repository",
            "r",
            "--archive",
            "latest",
            "--recursive",
            "--json-lines",
        ]);
        assert!(
            ours.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert_eq!(objects(&ours.stdout), objects(&theirs.stdout), "{mode}");
        let cat = bed.kastell(&[
            "cat",
            "--config",
            config.to_str().unwrap(),
            "--repository",
            "r",
            "--archive",
            "old",
            "src/deep/er/est/big.bin",
        ]);
        assert!(
            cat.stdout == std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap(),
            "{mode}"
        );
    }
}

impl Bed {
    /// A config whose repository `r` is `location` (a path or an ssh:// URL).
    fn config_at(&self, name: &str, location: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(format!("config-{name}.yaml"));
        std::fs::write(
            &path,
            format!(
                "source_directories: [{}]\nrepositories:\n    - path: {location}\n      label: r\nencryption_passphrase: \"{PASSPHRASE}\"\nborg_keys_directory: {}\n{extra}",
                self.tree().display(),
                self.keys().display()
            ),
        )
        .unwrap();
        path
    }

    fn ls_json(&self, config: &Path, archive: &str) -> Output {
        self.kastell(&[
            "ls",
            "--config",
            config.to_str().unwrap(),
            "--repository",
            "r",
            "--archive",
            archive,
            "--recursive",
            "--json-lines",
        ])
    }

    fn cat(&self, config: &Path, archive: &str, path: &str) -> Output {
        self.kastell(&[
            "cat",
            "--config",
            config.to_str().unwrap(),
            "--repository",
            "r",
            "--archive",
            archive,
            path,
        ])
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn reading_through_the_nas_forced_command_equals_borg() {
    let bed = Bed::new();
    let mut nas = support::Nas::start(bed.dir.path(), &support::tool("borg"));
    for (mode, compression) in [("repokey-blake2", "lz4"), ("keyfile", "zstd,3")] {
        let repo = nas.serve_dir.join(mode);
        bed.borg(&["init", "-e", mode, repo.to_str().unwrap()]);
        bed.borg(&[
            "create",
            "-C",
            compression,
            &format!("{}::a", repo.display()),
            "src",
        ]);
        // Made through the local path, read through ssh: borg's record asks, as borg would.
        let config = bed.config_at(
            mode,
            &nas.repo_url(mode),
            &format!(
                "ssh_command: {}\nrelocated_repo_access_is_ok: true\n",
                nas.ssh_command()
            ),
        );
        let theirs = bed.borg(&["list", "--json-lines", &format!("{}::a", repo.display())]);
        let ours = bed.ls_json(&config, "latest");
        assert!(ours.status.success(), "{mode}: {}", stderr(&ours));
        assert!(!stderr(&ours).contains("using borg"), "{mode}: fell back");
        assert_eq!(objects(&ours.stdout), objects(&theirs.stdout), "{mode}");
        let big = bed.cat(&config, "a", "src/deep/er/est/big.bin");
        assert!(big.status.success(), "{mode}: {}", stderr(&big));
        assert!(
            big.stdout == std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap(),
            "{mode}: bytes differ"
        );
        // borg serve's session ended and its shared lock went with it.
        assert!(!repo.join("lock.roster").exists(), "{mode}: lock left");
    }
    // A path outside --restrict-to-path is refused by the server, and said so.
    let outside = bed.config_at(
        "outside",
        &nas.repo_url("../elsewhere"),
        &format!("ssh_command: {}\n", nas.ssh_command()),
    );
    let refused = bed.ls_json(&outside, "latest");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not allow this path"),
        "{}",
        stderr(&refused)
    );
    // The NAS switched off: ssh's own reason reaches the user.
    nas.stop();
    let config = bed.config_at(
        "off",
        &nas.repo_url("repokey-blake2"),
        &format!("ssh_command: {}\n", nas.ssh_command()),
    );
    let off = bed.ls_json(&config, "latest");
    assert!(!off.status.success());
    assert!(
        stderr(&off).contains("Connection refused"),
        "{}",
        stderr(&off)
    );
}

#[test]
fn a_backup_started_while_kastell_reads_succeeds_and_a_running_backup_is_named() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let bed = Bed::new();
    let repo = bed.repo("repokey-blake2");
    bed.borg(&["init", "-e", "repokey-blake2", repo.to_str().unwrap()]);
    bed.borg(&["create", &format!("{}::first", repo.display()), "src"]);
    let config = bed.config_at("live", repo.to_str().unwrap(), "");
    let expected = objects(
        &bed.borg(&[
            "list",
            "--json-lines",
            &format!("{}::first", repo.display()),
        ])
        .stdout,
    );

    // Kastell lists and reads in a loop while borgmatic makes three archives.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reads = scope.spawn(|| {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                let listed = bed.ls_json(&config, "first");
                assert!(listed.status.success(), "{}", stderr(&listed));
                assert_eq!(objects(&listed.stdout).len(), expected.len());
                let cat = bed.cat(&config, "first", "src/hello.txt");
                assert_eq!(cat.stdout, b"hello\n", "{}", stderr(&cat));
                runs += 1;
            }
            runs
        });
        for n in 0..3 {
            let out = Command::new(support::tool("borgmatic"))
                .args([
                    "--config",
                    config.to_str().unwrap(),
                    "create",
                    "--verbosity",
                    "1",
                ])
                .env("HOME", bed.dir.path())
                .env("BORG_KEYS_DIR", bed.keys())
                .env("BORG_CACHE_DIR", bed.dir.path().join("cache"))
                .env("BORG_BASE_DIR", bed.dir.path())
                .env("XDG_RUNTIME_DIR", bed.dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "borgmatic create {n} failed while Kastell read: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        stop.store(true, Ordering::Relaxed);
        let runs = reads.join().unwrap();
        assert!(
            runs >= 2,
            "Kastell read only {runs} times during the backups"
        );
    });
    assert_eq!(
        String::from_utf8_lossy(
            &bed.borg(&["list", "--short", repo.to_str().unwrap()])
                .stdout
        )
        .lines()
        .count(),
        4
    );

    // A borg holding the exclusive lock (as a running backup does) is named, not waited on.
    let mut holder = Command::new(&bed.borg)
        .args(["with-lock", repo.to_str().unwrap(), "sleep", "60"])
        .env("BORG_PASSPHRASE", PASSPHRASE)
        .env("BORG_BASE_DIR", bed.dir.path())
        .env("BORG_CACHE_DIR", bed.dir.path().join("cache"))
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !repo.join("lock.exclusive").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "borg with-lock did not lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let locked = bed.ls_json(&config, "first");
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!locked.status.success());
    assert!(
        stderr(&locked).contains("locked by borg (process")
            && stderr(&locked).contains("on this computer"),
        "{}",
        stderr(&locked)
    );
}

#[test]
fn objects_moved_by_a_compact_are_found_again_and_a_cut_segment_is_reported() {
    let bed = Bed::new();
    let repo = bed.repo("keyfile-blake2");
    bed.borg(&["init", "-e", "keyfile-blake2", repo.to_str().unwrap()]);
    // Archive "gone" holds most of the data; "kept" shares its segments.
    bed.borg(&["create", &format!("{}::gone", repo.display()), "src"]);
    std::fs::write(bed.tree().join("kept.txt"), "kept").unwrap();
    bed.borg(&[
        "create",
        "-C",
        "zstd,3",
        &format!("{}::kept", repo.display()),
        "src/kept.txt",
        "src/hello.txt",
    ]);
    let reader = support::open_reader(
        &repo,
        bed.dir.path(),
        &bed.dir.path().join("cache"),
        Some(&bed.keys()),
        PASSPHRASE,
    );
    let segments = |repo: &Path| -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in std::fs::read_dir(repo.join("data")).unwrap().flatten() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
        out
    };
    let before = segments(&repo);
    bed.borg(&["delete", &format!("{}::gone", repo.display())]);
    bed.borg(&["compact", "--threshold", "0", repo.to_str().unwrap()]);
    assert!(
        before.iter().any(|s| !s.exists()),
        "compact moved nothing; the test proves nothing"
    );
    // The reader loaded its index before the compact: it reloads and reads the right bytes.
    let kept = reader.archive("kept").unwrap();
    let mut found = Vec::new();
    reader
        .for_each_item(&kept, |item| {
            if item.path.ends_with(b"kept.txt") {
                found.push(item.clone());
            }
            true
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    let mut bytes = Vec::new();
    reader.read_file(&found[0], &mut bytes).unwrap();
    assert_eq!(bytes, b"kept");

    // A segment cut short: a clear error, never short data passed off as the file.
    let other = bed.repo("repokey");
    bed.borg(&["init", "-e", "repokey", other.to_str().unwrap()]);
    bed.borg(&["create", &format!("{}::a", other.display()), "src"]);
    let biggest = segments(&other)
        .into_iter()
        .max_by_key(|p| p.metadata().unwrap().len())
        .unwrap();
    let len = biggest.metadata().unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&biggest)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let config = bed.config("repokey", PASSPHRASE);
    let cat = bed.cat(&config, "a", "src/deep/er/est/big.bin");
    let listing = bed.ls_json(&config, "a");
    let said = stderr(&cat) + &stderr(&listing);
    assert!(!cat.status.success() || !listing.status.success());
    assert!(said.contains("cut short"), "{said}");
    let expected = std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap();
    assert!(cat.stdout.len() < expected.len());
}

#[test]
fn a_credential_file_passphrase_is_read_like_borgmatic_and_other_hooks_go_to_borg() {
    let bed = Bed::new();
    let repo = bed.repo("repokey");
    bed.borg(&["init", "-e", "repokey", repo.to_str().unwrap()]);
    bed.borg(&["create", &format!("{}::a", repo.display()), "src/hello.txt"]);
    let secret = bed.dir.path().join("passphrase.txt");
    std::fs::write(&secret, format!("{PASSPHRASE}\n")).unwrap();
    let config = bed.dir.path().join("config-credential.yaml");
    std::fs::write(
        &config,
        format!(
            "source_directories: [{}]\nrepositories:\n    - path: {}\n      label: r\nencryption_passphrase: \"{{credential file {}}}\"\n",
            bed.tree().display(),
            repo.display(),
            secret.display()
        ),
    )
    .unwrap();
    let cat = bed.cat(&config, "a", "src/hello.txt");
    assert_eq!(cat.stdout, b"hello\n", "{}", stderr(&cat));
    assert!(!stderr(&cat).contains("using borg"), "{}", stderr(&cat));
    // A keepassxc credential is borgmatic's business: the borg path answers, and says why.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("{{credential file {}}}", secret.display()),
        "{credential keepassxc db.kdbx entry}",
    );
    std::fs::write(&config, text).unwrap();
    let other = bed.cat(&config, "a", "src/hello.txt");
    assert!(
        stderr(&other).contains(
            "using borg (the passphrase comes from borgmatic's keepassxc credential hook)"
        ),
        "{}",
        stderr(&other)
    );
}

/// The Python of the venv borg runs from (it has msgpack), for a hostile `borg serve`.
fn borgs_python() -> PathBuf {
    let borg = std::fs::canonicalize(support::tool("borg")).unwrap();
    borg.parent().unwrap().join("python3")
}

#[test]
fn a_hostile_borg_serve_gets_a_clear_error_not_an_abort_under_a_memory_limit() {
    let bed = Bed::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hostile_serve.py");
    for (attack, said) in [
        ("nils", "more than"),
        ("budget", "more than"),
        ("bin", "reaching past"),
    ] {
        // The "ssh command" starts the hostile server directly (no ssh needed to be hostile).
        let serve = bed.dir.path().join(format!("serve-{attack}"));
        std::fs::write(
            &serve,
            format!(
                "#!/bin/sh\nexec {} {} {attack}\n",
                borgs_python().display(),
                script.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&serve, std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = bed.config_at(
            attack,
            "ssh://backup@nas.example/srv/repo",
            &format!("ssh_command: {}\n", serve.display()),
        );
        // 1 GiB of address space: enough for Kastell, far below what a trusting decoder takes.
        let out = Command::new("bash")
            .arg("-c")
            .arg("ulimit -v 1048576; exec \"$@\"")
            .arg("kastell")
            .arg(support::kastell_bin())
            .args(["ls", "--config", config.to_str().unwrap()])
            .args(["--repository", "r", "--archive", "latest"])
            .env("HOME", bed.dir.path())
            .env("BORG_BASE_DIR", bed.dir.path())
            .output()
            .unwrap();
        let text = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{attack}: {:?} {text}",
            out.status
        );
        assert!(!text.contains("memory allocation"), "{attack}: {text}");
        assert!(text.contains(said), "{attack}: {text}");
    }
}
