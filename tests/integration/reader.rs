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

use crate::support::bed::{at, Bed};
use crate::support::{self, stderr, PASSPHRASE};

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

/// A bed with the tree of this file's header: unicode, non-UTF-8, space and newline names, an
/// empty folder, a multi-chunk file, a sparse file, symlinks (one dangling) and a hard link.
fn bed() -> Bed {
    furnished(Bed::new("reader"))
}

fn furnished(bed: Bed) -> Bed {
    let t = bed.tree();
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
    bed
}

fn repo_path(bed: &Bed, mode: &str) -> PathBuf {
    bed.path().join(format!("repo-{mode}"))
}

/// A config for the repository of `mode`, keyfiles named in it.
fn mode_config(bed: &Bed, mode: &str) -> PathBuf {
    config_at(bed, mode, repo_path(bed, mode).to_str().unwrap(), "")
}

/// A config whose repository `r` is `location` (a path or an ssh:// URL), keyfiles named in it.
fn config_at(bed: &Bed, name: &str, location: &str, extra: &str) -> PathBuf {
    bed.config(
        &format!("config-{name}"),
        location,
        &format!("borg_keys_directory: {}\n{extra}", bed.keys().display()),
    )
}

fn ls_json(bed: &Bed, config: &Path, archive: &str) -> Output {
    bed.kastell_on(
        "ls",
        config,
        &["--archive", archive, "--recursive", "--json-lines"],
    )
}

fn cat_file(bed: &Bed, config: &Path, archive: &str, path: &str) -> Output {
    bed.kastell_on("cat", config, &["--archive", archive, path])
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
    let bed = bed();
    for mode in MODES {
        let repo = repo_path(&bed, mode);
        bed.init(&repo, mode);
        let config = mode_config(&bed, mode);
        for (n, compression) in COMPRESSIONS.iter().enumerate() {
            let archive = format!("a{n}");
            bed.borg(&["create", "-C", compression, &at(&repo, &archive), "src"]);
            let theirs = bed.borg(&["list", "--json-lines", &at(&repo, &archive)]);
            let ours = bed.kastell_on(
                "ls",
                &config,
                &["--archive", &archive, "--recursive", "--json-lines"],
            );
            assert!(
                ours.status.success(),
                "{mode} {compression}: {}",
                stderr(&ours)
            );
            assert!(
                !stderr(&ours).contains("using borg"),
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
                let ours = bed.kastell_on("cat", &config, &["--archive", &archive, file]);
                assert!(
                    ours.status.success(),
                    "{mode} {compression} {file}: {}",
                    stderr(&ours)
                );
                let expected = std::fs::read(bed.path().join(file)).unwrap();
                assert!(
                    ours.stdout == expected,
                    "{mode} {compression} {file}: bytes differ"
                );
            }
        }
    }
    // The non-UTF-8 name and `latest`, against borg extract --stdout.
    let config = mode_config(&bed, "repokey-blake2");
    let ours = bed.kastell_on(
        "cat",
        &config,
        &["--archive", "latest", "src/deep/er/est/big.bin"],
    );
    let theirs = bed.borg(&[
        "extract",
        "--stdout",
        &format!(
            "{}::a{}",
            repo_path(&bed, "repokey-blake2").display(),
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
    let bed = bed();
    for mode in ["repokey-blake2", "keyfile"] {
        let repo = repo_path(&bed, mode);
        bed.init(&repo, mode);
        bed.borg(&["create", "-C", "lz4", &at(&repo, "a"), "src"]);
    }
    let ls = |config: &Path| bed.kastell_on("ls", config, &["--archive", "a", "--recursive"]);
    let right = mode_config(&bed, "repokey-blake2");
    let wrong = bed.path().join("config-wrong.yaml");
    let text = std::fs::read_to_string(&right).unwrap();
    std::fs::write(&wrong, text.replace(PASSPHRASE, "not the passphrase")).unwrap();
    let wrong = ls(&wrong);
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("the passphrase is wrong"),
        "{}",
        stderr(&wrong)
    );

    // The keyfile moved away.
    let moved = bed.path().join("keys-moved");
    std::fs::rename(bed.keys(), &moved).unwrap();
    std::fs::create_dir_all(bed.keys()).unwrap();
    let missing = ls(&mode_config(&bed, "keyfile"));
    assert!(
        stderr(&missing).contains("keyfile of this repository was not found"),
        "{}",
        stderr(&missing)
    );
    std::fs::remove_dir_all(bed.keys()).unwrap();
    std::fs::rename(&moved, bed.keys()).unwrap();

    // A flipped byte in the data: the big file no longer reads, and nothing wrong comes out.
    flip_a_byte(&repo_path(&bed, "repokey-blake2"));
    let cat = cat_file(&bed, &right, "a", "src/deep/er/est/big.bin");
    let listing = ls(&right);
    let err = stderr(&cat) + &stderr(&listing);
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
    let repo = repo_path(&bed, "keyfile");
    let expected = objects(&bed.borg(&["list", "--json-lines", &at(&repo, "a")]).stdout);
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
    let saved = bed.path().join("index.saved");
    std::fs::copy(&old_index[0], &saved).unwrap();
    bed.borg(&["create", &at(&repo, "b"), "src"]);
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
    let config = mode_config(&bed, "keyfile");
    let b = bed.kastell_on(
        "ls",
        &config,
        &["--archive", "b", "--recursive", "--json-lines"],
    );
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(objects(&b.stdout).len(), expected.len());
}

#[test]
fn repositories_made_by_debian_borg_1_2_read_the_same() {
    let borg = PathBuf::from("/usr/bin/borg");
    if !borg.exists() {
        eprintln!("apt's borg 1.2 is not installed; skipped");
        return;
    }
    let bed = furnished(Bed::with_borg("reader", borg));
    for (mode, compression) in [
        ("repokey", "zstd,3"),
        ("keyfile-blake2", "lz4"),
        ("none", "zlib,6"),
    ] {
        let repo = repo_path(&bed, mode);
        bed.init(&repo, mode);
        bed.borg(&["create", "-C", compression, &at(&repo, "old"), "src"]);
        let config = mode_config(&bed, mode);
        let theirs = bed.borg(&["list", "--json-lines", &at(&repo, "old")]);
        let ours = bed.kastell_on(
            "ls",
            &config,
            &["--archive", "latest", "--recursive", "--json-lines"],
        );
        assert!(ours.status.success(), "{mode}: {}", stderr(&ours));
        assert_eq!(objects(&ours.stdout), objects(&theirs.stdout), "{mode}");
        let cat = bed.kastell_on(
            "cat",
            &config,
            &["--archive", "old", "src/deep/er/est/big.bin"],
        );
        assert!(
            cat.stdout == std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap(),
            "{mode}"
        );
    }
}

#[test]
fn reading_through_the_nas_forced_command_equals_borg() {
    let bed = bed();
    let mut nas = support::Nas::start(bed.path(), &support::tool("borg"));
    for (mode, compression) in [("repokey-blake2", "lz4"), ("keyfile", "zstd,3")] {
        let repo = nas.serve_dir.join(mode);
        bed.init(&repo, mode);
        bed.borg(&["create", "-C", compression, &at(&repo, "a"), "src"]);
        // Made through the local path, read through ssh: borg's record asks, as borg would.
        let config = config_at(
            &bed,
            mode,
            &nas.repo_url(mode),
            &format!(
                "ssh_command: {}\nrelocated_repo_access_is_ok: true\n",
                nas.ssh_command()
            ),
        );
        let theirs = bed.borg(&["list", "--json-lines", &at(&repo, "a")]);
        let ours = ls_json(&bed, &config, "latest");
        assert!(ours.status.success(), "{mode}: {}", stderr(&ours));
        assert!(!stderr(&ours).contains("using borg"), "{mode}: fell back");
        assert_eq!(objects(&ours.stdout), objects(&theirs.stdout), "{mode}");
        let big = cat_file(&bed, &config, "a", "src/deep/er/est/big.bin");
        assert!(big.status.success(), "{mode}: {}", stderr(&big));
        assert!(
            big.stdout == std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap(),
            "{mode}: bytes differ"
        );
        // borg serve's session ended and its shared lock went with it.
        assert!(!repo.join("lock.roster").exists(), "{mode}: lock left");
    }
    // A path outside --restrict-to-path is refused by the server, and said so.
    let outside = config_at(
        &bed,
        "outside",
        &nas.repo_url("../elsewhere"),
        &format!("ssh_command: {}\n", nas.ssh_command()),
    );
    let refused = ls_json(&bed, &outside, "latest");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("does not allow this path"),
        "{}",
        stderr(&refused)
    );
    // The NAS switched off: ssh's own reason reaches the user.
    nas.stop();
    let config = config_at(
        &bed,
        "off",
        &nas.repo_url("repokey-blake2"),
        &format!("ssh_command: {}\n", nas.ssh_command()),
    );
    let off = ls_json(&bed, &config, "latest");
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
    let bed = bed();
    let repo = repo_path(&bed, "repokey-blake2");
    bed.init(&repo, "repokey-blake2");
    bed.borg(&["create", &at(&repo, "first"), "src"]);
    let config = config_at(&bed, "live", repo.to_str().unwrap(), "");
    let expected = objects(
        &bed.borg(&["list", "--json-lines", &at(&repo, "first")])
            .stdout,
    );

    // Kastell lists and reads in a loop while borgmatic makes three archives.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reads = scope.spawn(|| {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                let listed = ls_json(&bed, &config, "first");
                assert!(listed.status.success(), "{}", stderr(&listed));
                assert_eq!(objects(&listed.stdout).len(), expected.len());
                let cat = cat_file(&bed, &config, "first", "src/hello.txt");
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
                .envs(bed.envs())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "borgmatic create {n} failed while Kastell read: {}",
                stderr(&out)
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
    let holder = support::hold_lock(
        bed.borg_cmd(&["with-lock", repo.to_str().unwrap(), "sleep", "60"]),
        &repo,
    );
    let locked = ls_json(&bed, &config, "first");
    drop(holder);
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
    let bed = bed();
    let repo = repo_path(&bed, "keyfile-blake2");
    bed.init(&repo, "keyfile-blake2");
    // Archive "gone" holds most of the data; "kept" shares its segments.
    bed.borg(&["create", &at(&repo, "gone"), "src"]);
    std::fs::write(bed.tree().join("kept.txt"), "kept").unwrap();
    bed.borg(&[
        "create",
        "-C",
        "zstd,3",
        &at(&repo, "kept"),
        "src/kept.txt",
        "src/hello.txt",
    ]);
    let reader = bed.reader(&repo);
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
    bed.borg(&["delete", &at(&repo, "gone")]);
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
    let other = repo_path(&bed, "repokey");
    bed.init(&other, "repokey");
    bed.borg(&["create", &at(&other, "a"), "src"]);
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
    let config = mode_config(&bed, "repokey");
    let cat = cat_file(&bed, &config, "a", "src/deep/er/est/big.bin");
    let listing = ls_json(&bed, &config, "a");
    let said = stderr(&cat) + &stderr(&listing);
    assert!(!cat.status.success() || !listing.status.success());
    assert!(said.contains("cut short"), "{said}");
    let expected = std::fs::read(bed.tree().join("deep/er/est/big.bin")).unwrap();
    assert!(cat.stdout.len() < expected.len());
}

#[test]
fn a_credential_file_passphrase_is_read_like_borgmatic_and_other_hooks_go_to_borg() {
    let bed = bed();
    let repo = repo_path(&bed, "repokey");
    bed.init(&repo, "repokey");
    bed.borg(&["create", &at(&repo, "a"), "src/hello.txt"]);
    let secret = bed.path().join("passphrase.txt");
    std::fs::write(&secret, format!("{PASSPHRASE}\n")).unwrap();
    // The bed's config, the passphrase read from a file instead.
    let config = bed.config("config-credential", repo.to_str().unwrap(), "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("\"{PASSPHRASE}\""),
        &format!("\"{{credential file {}}}\"", secret.display()),
    );
    std::fs::write(&config, text).unwrap();
    let cat = cat_file(&bed, &config, "a", "src/hello.txt");
    assert_eq!(cat.stdout, b"hello\n", "{}", stderr(&cat));
    assert!(!stderr(&cat).contains("using borg"), "{}", stderr(&cat));
    // A keepassxc credential is borgmatic's business: the borg path answers, and says why.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("{{credential file {}}}", secret.display()),
        "{credential keepassxc db.kdbx entry}",
    );
    std::fs::write(&config, text).unwrap();
    let other = cat_file(&bed, &config, "a", "src/hello.txt");
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
    let bed = bed();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hostile_serve.py");
    for (attack, said) in [
        ("nils", "more than"),
        ("budget", "more than"),
        ("bin", "reaching past"),
    ] {
        // The "ssh command" starts the hostile server directly (no ssh needed to be hostile).
        let serve = bed.path().join(format!("serve-{attack}"));
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
        let config = config_at(
            &bed,
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
            .envs(bed.envs())
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
