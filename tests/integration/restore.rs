//! Restoring through the native reader against archives real borg made: byte-identical files
//! with the same mode, modification time, symlink targets and extended attributes; conflicts
//! at the original location refused without a decision, and each choice doing what it says;
//! a cancelled restore leaves no partial file; the same from the loopback NAS.
//!
//! Trust: folders the archive never stored (the parents of the backed-up folders) are never
//! removed or changed; a folder that became a file comes back whole; crafted archives (a path
//! through a symlink, a path with `..`) write nothing outside the target; a swapped or
//! rolled-back repository is refused as borg refuses it, through borg's own security record;
//! and a restore equals `borg extract` on a tree like borg's own test suite's, in every key and
//! compression mode.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::bed::{at, repository_id, Bed};
use crate::support::tree::{set_mtime, walk, xattrs};
use crate::support::{self, output_text, stderr};

/// A bed with letters, a private file, a 12 MiB file, a script, a symlink, a fifo, an xattr
/// and exact modification times.
fn bed() -> Bed {
    let bed = Bed::new("restore");
    let t = bed.tree();
    std::fs::create_dir_all(t.join("docs/sub")).unwrap();
    std::fs::write(t.join("docs/letter.txt"), "dear reader\n").unwrap();
    std::fs::write(t.join("docs/sub/deep.txt"), "deep\n").unwrap();
    std::fs::write(t.join("docs/private.txt"), "secret").unwrap();
    std::fs::set_permissions(
        t.join("docs/private.txt"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        t.join("docs/big.bin"),
        support::tree::pseudo_random(12 << 20, 7),
    )
    .unwrap();
    std::fs::write(t.join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(t.join("script.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("docs/letter.txt", t.join("link")).unwrap();
    // A fifo: borg archives it, and a restore makes it again.
    nix::unistd::mkfifo(
        &t.join("docs/pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // (A filesystem without user xattrs skips that part of the check.)
    let _ = rustix::fs::lsetxattr(
        t.join("docs/letter.txt"),
        "user.kastell",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    );
    set_mtime(&t.join("docs/letter.txt"), 1_600_000_000, 123_456_789);
    set_mtime(&t.join("link"), 1_500_000_000, 0);
    bed
}

/// The tree backed up as archive `a` of a new repository `name` in `mode`, and a config for
/// it.
fn backed_up_as(bed: &Bed, name: &str, mode: &str) -> (PathBuf, PathBuf) {
    let repo = bed.path().join(name);
    bed.init(&repo, mode);
    bed.borg(&["create", &at(&repo, "a"), bed.tree().to_str().unwrap()]);
    let config = bed.config(name, repo.to_str().unwrap(), "");
    (repo, config)
}

fn backed_up(bed: &Bed, mode: &str) -> (PathBuf, PathBuf) {
    backed_up_as(bed, "repo", mode)
}

/// `kastell restore` from archive `a`.
fn restore_a(bed: &Bed, config: &Path, args: &[&str]) -> Output {
    bed.kastell_on("restore", config, &[&["--archive", "a"], args].concat())
}

fn ls(bed: &Bed, config: &Path, archive: &str) -> Output {
    bed.kastell_on("ls", config, &["--archive", archive])
}

/// `borg list` of the repository (borg reads and updates the same security record).
fn borg_list(bed: &Bed, repo: &Path) -> Output {
    bed.borg_cmd(&["list", repo.to_str().unwrap()])
        .output()
        .unwrap()
}

fn user_xattr(path: &Path) -> Option<Vec<u8>> {
    xattrs(path).remove(&b"user.kastell"[..])
}

fn same_file(restored: &Path, original: &Path) {
    let (a, b) = (
        std::fs::symlink_metadata(restored)
            .unwrap_or_else(|e| panic!("{}: {e}", restored.display())),
        std::fs::symlink_metadata(original).unwrap(),
    );
    assert_eq!(a.mode(), b.mode(), "{}", restored.display());
    assert_eq!(
        (a.mtime(), a.mtime_nsec()),
        (b.mtime(), b.mtime_nsec()),
        "{}",
        restored.display()
    );
    if b.file_type().is_symlink() {
        assert_eq!(
            std::fs::read_link(restored).unwrap(),
            std::fs::read_link(original).unwrap()
        );
    } else if b.is_file() {
        assert!(
            std::fs::read(restored).unwrap() == std::fs::read(original).unwrap(),
            "{}",
            restored.display()
        );
    }
}

fn no_partial_files(dir: &Path) {
    for entry in walk(dir) {
        assert!(
            !entry.to_string_lossy().contains(".kastell-restore-"),
            "a partial file was left: {}",
            entry.display()
        );
    }
}

#[test]
fn restoring_into_a_folder_keeps_bytes_modes_times_links_and_xattrs() {
    let bed = bed();
    let (_, config) = backed_up(&bed, "repokey-blake2");
    let out_dir = bed.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let src = bed.tree();
    let run = restore_a(
        &bed,
        &config,
        &[
            "--to",
            out_dir.to_str().unwrap(),
            src.join("docs").to_str().unwrap(),
            src.join("script.sh").to_str().unwrap(),
            src.join("link").to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("Restored 9 new"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    // The fifo is made, as borg extract makes it (any user may).
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(out_dir.join("docs/pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    for rel in [
        "docs/letter.txt",
        "docs/sub/deep.txt",
        "docs/private.txt",
        "docs/big.bin",
        "script.sh",
        "link",
        "docs",
        "docs/sub",
    ] {
        same_file(&out_dir.join(rel), &src.join(rel));
    }
    if user_xattr(&src.join("docs/letter.txt")).is_some() {
        assert_eq!(
            user_xattr(&out_dir.join("docs/letter.txt")).as_deref(),
            Some(&b"kept"[..])
        );
    }
    // Not a recreated absolute path chain: directly into the folder.
    assert!(!out_dir.join(src.strip_prefix("/").unwrap()).exists());
    no_partial_files(&out_dir);
    // The index (every path name of the archive) is the user's alone, as borg's cache is.
    support::assert_private(&bed.path().join(".cache/kastell"));

    // The same from the loopback NAS through the forced borg serve key.
    let mut nas = support::Nas::start(bed.path(), &support::tool("borg"));
    let nas_repo = nas.serve_dir.join("repo");
    bed.init(&nas_repo, "keyfile-blake2");
    bed.borg(&["create", &at(&nas_repo, "a"), bed.tree().to_str().unwrap()]);
    // Made through the local path, read through ssh: borg's record asks, as borg would.
    let remote = bed.config(
        "remote",
        &nas.repo_url("repo"),
        &format!(
            "ssh_command: {}\nrelocated_repo_access_is_ok: true\n",
            nas.ssh_command()
        ),
    );
    let from_nas = bed.path().join("from-nas");
    std::fs::create_dir_all(&from_nas).unwrap();
    let run = restore_a(
        &bed,
        &remote,
        &[
            "--to",
            from_nas.to_str().unwrap(),
            src.join("docs").to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for rel in ["letter.txt", "sub/deep.txt", "big.bin"] {
        same_file(
            &from_nas.join("docs").join(rel),
            &src.join("docs").join(rel),
        );
    }
    nas.stop();
}

#[test]
fn conflicts_at_the_original_location_need_a_decision_and_each_choice_does_what_it_says() {
    let bed = bed();
    let (_, config) = backed_up(&bed, "repokey");
    let docs = bed.tree().join("docs");
    let letter = docs.join("letter.txt");
    let original = std::fs::read(&letter).unwrap();
    std::fs::write(&letter, "changed since the backup\n").unwrap();
    std::fs::remove_file(docs.join("sub/deep.txt")).unwrap();
    std::fs::write(docs.join("only-here.txt"), "new on disk").unwrap();
    let docs_arg = docs.to_str().unwrap();

    // No terminal, no decision: nothing happens, and the conflict is named.
    let refused = restore_a(&bed, &config, &[docs_arg]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("1 new, 1 changed"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("1 only on disk"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains(letter.to_str().unwrap()),
        "{}",
        stderr(&refused)
    );
    assert!(!docs.join("sub/deep.txt").exists());

    // Skip: the missing file comes back, the changed one stays as it is.
    let skip = restore_a(&bed, &config, &["--on-conflict", "skip", docs_arg]);
    assert!(skip.status.success(), "{}", stderr(&skip));
    assert_eq!(std::fs::read(docs.join("sub/deep.txt")).unwrap(), b"deep\n");
    assert_eq!(
        std::fs::read(&letter).unwrap(),
        b"changed since the backup\n"
    );

    // Keep both: the archive's version beside the current one.
    let both = restore_a(&bed, &config, &["--on-conflict", "keep-both", docs_arg]);
    assert!(both.status.success(), "{}", stderr(&both));
    assert_eq!(
        std::fs::read(docs.join("letter (restored).txt")).unwrap(),
        original
    );
    assert_eq!(
        std::fs::read(&letter).unwrap(),
        b"changed since the backup\n"
    );

    // Overwrite: the archive's version in place; what exists only on disk is left alone.
    let over = restore_a(
        &bed,
        &config,
        &["--on-conflict", "overwrite", letter.to_str().unwrap()],
    );
    assert!(over.status.success(), "{}", stderr(&over));
    assert_eq!(std::fs::read(&letter).unwrap(), original);
    assert_eq!(std::fs::metadata(&letter).unwrap().mtime(), 1_600_000_000);
    assert_eq!(
        std::fs::read(docs.join("only-here.txt")).unwrap(),
        b"new on disk"
    );
    no_partial_files(&docs);
}

#[test]
fn a_cancelled_restore_leaves_no_partial_file_and_the_old_file_intact() {
    use kastell::index::{ensure_index, name_pattern};
    use kastell::restore::{plan, restore, Conflict, Destination, RestoreError, RestoreOptions};
    let _ = name_pattern;
    let bed = bed();
    let repo = bed.path().join("repo");
    bed.init(&repo, "repokey-blake2");
    bed.borg(&["create", &at(&repo, "a"), bed.tree().to_str().unwrap()]);
    let reader = bed.reader(&repo);
    let archive = reader.archive("a").unwrap();
    let index = ensure_index(
        &reader,
        &archive,
        &bed.path().join("cache"),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    let big = bed.tree().join("docs/big.bin");
    std::fs::write(&big, "the current version").unwrap();
    let at = index
        .lookup(big.to_str().unwrap().trim_start_matches('/').as_bytes())
        .unwrap();
    let planned = plan(&index, &[at], &Destination::Original { root: "/".into() });
    assert_eq!(planned.conflicts().count(), 1);
    let cancel = AtomicBool::new(false);
    let result = restore(
        &reader,
        &archive,
        &index,
        &planned,
        RestoreOptions::default(),
        &mut |_| Conflict::Overwrite,
        &mut |p| {
            if p.bytes_done > 0 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(RestoreError::Cancelled)), "{result:?}");
    assert_eq!(std::fs::read(&big).unwrap(), b"the current version");
    no_partial_files(&bed.tree());
}

/// A home backed up as borgmatic 2 backs it up: a config file first, then the home folder; the
/// folders above both exist in the archive only as made-up parents.
struct Home {
    bed: Bed,
    home: PathBuf,
    me: PathBuf,
    config: PathBuf,
}

impl Home {
    fn new() -> Home {
        let bed = bed();
        let root = bed.path();
        let home = root.join("home");
        let me = home.join("me");
        std::fs::create_dir_all(me.join("Documents")).unwrap();
        std::fs::write(me.join("notes.txt"), "the backed-up notes\n").unwrap();
        std::fs::write(me.join("Documents/letter.txt"), "dear reader\n").unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/app.conf"),
            "encryption_passphrase: hunter2\n",
        )
        .unwrap();
        std::fs::set_permissions(
            root.join("etc/app.conf"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o751)).unwrap();
        let repo = root.join("repo");
        bed.init(&repo, "repokey-blake2");
        // The config file first: the archive's first item, where made-up folders point.
        bed.borg(&[
            "create",
            &at(&repo, "a"),
            root.join("etc/app.conf").to_str().unwrap(),
            me.to_str().unwrap(),
        ]);
        // Never backed up: must survive every restore of /home.
        std::fs::create_dir_all(home.join("other")).unwrap();
        std::fs::write(home.join("other/precious.txt"), "never backed up\n").unwrap();
        let config = bed.config("local", repo.to_str().unwrap(), "");
        Home {
            bed,
            home,
            me,
            config,
        }
    }

    fn assert_home_untouched(&self, after: &str) {
        let meta = std::fs::symlink_metadata(&self.home).unwrap();
        assert!(meta.is_dir(), "{after}: home is no longer a folder");
        assert_eq!(meta.mode() & 0o7777, 0o751, "{after}: home's mode changed");
        assert_eq!(
            std::fs::read(self.home.join("other/precious.txt")).unwrap(),
            b"never backed up\n",
            "{after}"
        );
        for entry in walk(&self.home).iter().map(|e| self.home.join(e)) {
            if entry.is_file() {
                assert_ne!(
                    std::fs::read(&entry).unwrap(),
                    b"encryption_passphrase: hunter2\n",
                    "{after}: the config file was written at {}",
                    entry.display()
                );
            }
        }
    }
}

#[test]
fn a_folder_the_archive_never_stored_is_never_removed_or_changed() {
    let h = Home::new();
    let home_arg = h.home.to_str().unwrap();
    std::fs::write(h.me.join("notes.txt"), "changed since\n").unwrap();
    std::fs::remove_file(h.me.join("Documents/letter.txt")).unwrap();

    let skip = restore_a(&h.bed, &h.config, &["--on-conflict", "skip", home_arg]);
    assert!(skip.status.success(), "{}", output_text(&skip));
    h.assert_home_untouched("skip");
    assert_eq!(
        std::fs::read(h.me.join("notes.txt")).unwrap(),
        b"changed since\n"
    );
    assert_eq!(
        std::fs::read(h.me.join("Documents/letter.txt")).unwrap(),
        b"dear reader\n"
    );

    for (choice, file, content) in [
        ("keep-both", "notes (restored).txt", "the backed-up notes\n"),
        ("overwrite", "notes.txt", "the backed-up notes\n"),
    ] {
        let run = restore_a(&h.bed, &h.config, &["--on-conflict", choice, home_arg]);
        assert!(run.status.success(), "{choice}: {}", output_text(&run));
        h.assert_home_untouched(choice);
        assert_eq!(
            std::fs::read_to_string(h.me.join(file)).unwrap(),
            content,
            "{choice}"
        );
    }

    // The whole archive into a folder: the folder and what it held stay; made-up folders are
    // made as mkdir makes them, not with the first item's mode.
    let out = h.bed.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine\n").unwrap();
    let all = restore_a(&h.bed, &h.config, &["--to", out.to_str().unwrap(), "/"]);
    assert!(all.status.success(), "{}", output_text(&all));
    assert!(out.is_dir());
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine\n");
    let inside = out.join(h.me.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(inside.join("notes.txt")).unwrap(),
        b"the backed-up notes\n"
    );
    let umask_mode = 0o777 & !current_umask();
    let made_up = out.join(h.home.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::metadata(&made_up).unwrap().mode() & 0o7777,
        umask_mode,
        "a made-up folder took another item's mode"
    );
    assert_eq!(
        std::fs::read(
            out.join(h.bed.path().strip_prefix("/").unwrap())
                .join("etc/app.conf")
        )
        .unwrap(),
        b"encryption_passphrase: hunter2\n"
    );

    // A file where a made-up folder would go: never replaced, whatever the choice.
    let blocked = h.bed.path().join("blocked");
    std::fs::create_dir_all(&blocked).unwrap();
    std::fs::write(blocked.join("home"), "a file of mine\n").unwrap();
    for (choice, says) in [
        ("overwrite", "left as it was"),
        ("keep-both", "kept both 1"),
    ] {
        let run = restore_a(
            &h.bed,
            &h.config,
            &[
                "--to",
                blocked.to_str().unwrap(),
                "--on-conflict",
                choice,
                home_arg,
            ],
        );
        assert!(run.status.success(), "{choice}: {}", output_text(&run));
        assert!(
            output_text(&run).contains(says),
            "{choice}: {}",
            output_text(&run)
        );
        assert_eq!(
            std::fs::read(blocked.join("home")).unwrap(),
            b"a file of mine\n",
            "{choice}"
        );
    }
    assert_eq!(
        std::fs::read(blocked.join("home (restored)/me/notes.txt")).unwrap(),
        b"the backed-up notes\n"
    );
}

/// The process's umask, read without setting it (setting it would change the files that tests
/// running beside this one create meanwhile).
fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("Umask in /proc/self/status");
    u32::from_str_radix(umask.trim(), 8).unwrap()
}

#[test]
fn a_folder_that_became_a_file_comes_back_whole() {
    let bed = bed();
    let (_, config) = backed_up(&bed, "repokey");
    let docs = bed.tree().join("docs");
    let aside = bed.path().join("docs-as-it-was");
    std::fs::rename(&docs, &aside).unwrap();
    std::fs::write(&docs, "i was a folder\n").unwrap();

    let beside = restore_a(
        &bed,
        &config,
        &["--on-conflict", "keep-both", docs.to_str().unwrap()],
    );
    assert!(beside.status.success(), "{}", output_text(&beside));
    assert_eq!(std::fs::read(&docs).unwrap(), b"i was a folder\n");
    let kept = bed.tree().join("docs (restored)");
    assert_eq!(
        std::fs::read(kept.join("letter.txt")).unwrap(),
        b"dear reader\n"
    );
    assert_eq!(std::fs::read(kept.join("sub/deep.txt")).unwrap(), b"deep\n");

    let over = restore_a(
        &bed,
        &config,
        &["--on-conflict", "overwrite", docs.to_str().unwrap()],
    );
    assert!(over.status.success(), "{}", output_text(&over));
    assert!(
        output_text(&over).contains("overwrote 1"),
        "{}",
        output_text(&over)
    );
    assert!(docs.is_dir());
    for rel in ["letter.txt", "sub/deep.txt", "private.txt", "big.bin"] {
        same_file(&docs.join(rel), &aside.join(rel));
    }
    // What the plan counted is what was written.
    let plan_line = output_text(&over)
        .lines()
        .find(|l| l.contains("to write"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(plan_line.contains("1 changed"), "{plan_line}");
    no_partial_files(&bed.tree());
}

/// `borg create` with a crafted `--stdin-name`: real borg stores the name as given.
fn crafted(bed: &Bed, repo: &Path, archive: &str, stdin_name: &str, paths: &[&str], content: &str) {
    let mut child = bed
        .borg_cmd(&[
            "create",
            "--stdin-name",
            stdin_name,
            &at(repo, archive),
            "-",
        ])
        .args(paths)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(content.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "borg create: {}", stderr(&out));
}

#[test]
fn crafted_archives_write_nothing_outside_the_target() {
    let bed = bed();
    let root = bed.path();
    let repo = root.join("repo");
    bed.init(&repo, "repokey-blake2");
    let outside = root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(root.join("d/ok.txt"), "fine\n").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("d/link")).unwrap();
    // Relative names (borg run in the bed): through the symlink, and up and out with `..`.
    crafted(&bed, &repo, "slip", "d/link/pwned", &["d"], "X\n");
    crafted(&bed, &repo, "dots", "d/../../outside/x", &["d"], "Y\n");
    // Absolute names, for a restore to the original location.
    let d = root.join("d");
    crafted(
        &bed,
        &repo,
        "abs-slip",
        d.join("link/pwned").to_str().unwrap(),
        &[d.to_str().unwrap()],
        "Z\n",
    );
    crafted(
        &bed,
        &repo,
        "abs-dots",
        &format!("{}/../outside/y", d.display()),
        &[d.to_str().unwrap()],
        "W\n",
    );
    let config = bed.config("local", repo.to_str().unwrap(), "");
    let restore = |archive: &str, args: &[&str]| {
        bed.kastell_on(
            "restore",
            &config,
            &[&["--archive", archive], args].concat(),
        )
    };
    let out = root.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for archive in ["slip", "dots"] {
        let run = restore(archive, &["--to", out.to_str().unwrap(), "d"]);
        // Refused paths are a warning (exit 1), as borg extract warns; the rest is restored.
        assert_eq!(
            run.status.code(),
            Some(1),
            "{archive}: {}",
            output_text(&run)
        );
        assert!(
            output_text(&run).contains("refused"),
            "{archive}: {}",
            output_text(&run)
        );
        assert_eq!(std::fs::read(out.join("d/ok.txt")).unwrap(), b"fine\n");
        assert!(std::fs::symlink_metadata(out.join("d/link"))
            .unwrap()
            .file_type()
            .is_symlink());
    }
    assert!(
        output_text(&restore("dots", &["--to", out.to_str().unwrap(), "d"]))
            .contains("leads outside"),
        "the .. path is named with its reason"
    );
    for (archive, choice) in [
        ("abs-slip", "overwrite"),
        ("abs-slip", "skip"),
        ("abs-dots", "overwrite"),
    ] {
        let run = restore(archive, &["--on-conflict", choice, d.to_str().unwrap()]);
        assert!(
            run.status.code() == Some(0) || run.status.code() == Some(1),
            "{archive} {choice}: {}",
            output_text(&run)
        );
    }
    // Keep both puts the made-up folder beside the symlink, inside the target.
    let kept = restore(
        "abs-slip",
        &["--on-conflict", "keep-both", d.to_str().unwrap()],
    );
    assert!(kept.status.success(), "{}", output_text(&kept));
    assert_eq!(
        std::fs::read(d.join("link (restored)/pwned")).unwrap(),
        b"Z\n"
    );
    let escaped: Vec<PathBuf> = walk(&outside);
    assert!(
        escaped.is_empty(),
        "written outside the target: {escaped:?}"
    );
    assert!(!root.join("outside/x").exists() && !root.join("outside/y").exists());
    assert!(!root.parent().unwrap().join("outside").exists());

    // borg extract refuses the `..` path too (the reference).
    let ex = root.join("ex");
    std::fs::create_dir_all(&ex).unwrap();
    let theirs = bed
        .borg_cmd(&["extract", &at(&repo, "dots")])
        .current_dir(&ex)
        .output()
        .unwrap();
    assert!(
        stderr(&theirs).contains("path contains"),
        "{}",
        stderr(&theirs)
    );
}

/// The repository's files other than `config`: what a server swapping in another
/// repository's data would replace.
fn data_files(repo: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(repo)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name == "data"
                || name.starts_with("index.")
                || name.starts_with("hints.")
                || name.starts_with("integrity.")
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Replaces `repo`'s data with `other`'s, keeping `repo`'s config (its id and key).
fn swap_data(repo: &Path, other: &Path) {
    for f in data_files(repo) {
        if f.is_dir() {
            std::fs::remove_dir_all(&f).unwrap();
        } else {
            std::fs::remove_file(&f).unwrap();
        }
    }
    for f in data_files(other) {
        copy_tree(&f, &repo.join(f.file_name().unwrap()));
    }
}

#[test]
fn a_repository_swapped_for_an_unencrypted_one_is_refused_after_kastell_or_borg_saw_it() {
    let bed = bed();
    let root = bed.path();
    let plain = root.join("plain");
    bed.init(&plain, "none");
    bed.borg(&[
        "create",
        &at(&plain, "a"),
        bed.tree().join("docs/letter.txt").to_str().unwrap(),
    ]);
    for seen_by in ["borg", "kastell"] {
        let (repo, config) = backed_up_as(&bed, &format!("genuine-{seen_by}"), "repokey-blake2");
        if seen_by == "kastell" {
            // A repository made elsewhere: Kastell is the first on this computer to see it.
            std::fs::remove_dir_all(bed.security_dir(&repo)).unwrap();
            let first = ls(&bed, &config, "a");
            assert!(first.status.success(), "{}", output_text(&first));
            assert_eq!(
                std::fs::read_to_string(bed.security_dir(&repo).join("key-type")).unwrap(),
                "5",
                "Kastell remembers the key type as borg writes it"
            );
            // A verified manifest that requires TAMs: the marker borg keeps is made too.
            assert!(bed.security_dir(&repo).join("tam_required").is_file());
        } else {
            assert!(borg_list(&bed, &repo).status.success());
        }
        let index_dir = root.join(".cache/kastell/archives");
        let indexes_before = walk(&index_dir).len();
        swap_data(&repo, &plain);
        let ls = ls(&bed, &config, "a");
        assert!(
            !ls.status.success(),
            "{seen_by}: a swapped repository was read"
        );
        assert!(
            output_text(&ls).contains("encryption changed"),
            "{seen_by}: {}",
            output_text(&ls)
        );
        let restore = restore_a(&bed, &config, &["--to", root.to_str().unwrap(), "/"]);
        assert!(!restore.status.success());
        assert!(
            output_text(&restore).contains("encryption changed"),
            "{}",
            output_text(&restore)
        );
        // The genuine archive's index is not dropped.
        assert_eq!(walk(&index_dir).len(), indexes_before);
        // borg refuses it too, from the same record.
        let theirs = borg_list(&bed, &repo);
        assert!(!theirs.status.success());
        assert!(
            stderr(&theirs).contains("encryption method changed"),
            "{}",
            stderr(&theirs)
        );
    }
    // Never seen, and unencrypted: borg asks first; Kastell refuses unless the config says yes.
    // (A repository made elsewhere: no record and no borg cache here.)
    let unknown = root.join("unknown");
    bed.init(&unknown, "none");
    bed.borg(&[
        "create",
        &at(&unknown, "a"),
        bed.tree().join("docs/letter.txt").to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(bed.security_dir(&unknown)).unwrap();
    std::fs::remove_dir_all(root.join("borg-cache").join(repository_id(&unknown))).unwrap();
    let config = bed.config("unknown", unknown.to_str().unwrap(), "");
    let refused = ls(&bed, &config, "a");
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("not encrypted"),
        "{}",
        output_text(&refused)
    );
    let allowed = bed.config(
        "allowed",
        unknown.to_str().unwrap(),
        "unknown_unencrypted_repo_access_is_ok: true\n",
    );
    assert!(ls(&bed, &allowed, "a").status.success());
}

#[test]
fn a_repository_rolled_back_is_refused_and_what_kastell_saw_protects_borg() {
    let bed = bed();
    let root = bed.path();
    for seen_by in ["borg", "kastell"] {
        let (repo, config) = backed_up_as(&bed, &format!("repo-{seen_by}"), "keyfile-blake2");
        let snapshot = root.join(format!("snapshot-{seen_by}"));
        copy_tree(&repo, &snapshot);
        bed.borg(&["create", &at(&repo, "b"), bed.tree().to_str().unwrap()]);
        if seen_by == "kastell" {
            std::fs::remove_dir_all(bed.security_dir(&repo)).unwrap();
            assert!(ls(&bed, &config, "b").status.success());
        }
        // The server goes back to the older state.
        std::fs::remove_dir_all(&repo).unwrap();
        std::fs::rename(&snapshot, &repo).unwrap();
        let ls = ls(&bed, &config, "a");
        assert!(
            !ls.status.success(),
            "{seen_by}: a rolled-back repository was read"
        );
        assert!(
            output_text(&ls).contains("older than when it was last used"),
            "{}",
            output_text(&ls)
        );
        // borg refuses it from the record, whoever wrote it.
        let theirs = borg_list(&bed, &repo);
        assert!(!theirs.status.success(), "{seen_by}: borg read it");
        assert!(
            stderr(&theirs).contains("newer than repository"),
            "{}",
            stderr(&theirs)
        );
    }
}

#[test]
fn a_restore_equals_borg_extract_in_every_key_and_compression_mode() {
    let bed = bed();
    let root = bed.path();
    let input = root.join("input");
    let built = support::tree::build(&input);
    if !built.root {
        eprintln!("devices and foreign owners need root: compared without them");
    }
    let archived = input.strip_prefix("/").unwrap();
    for (n, (mode, compression)) in [
        ("none", "lz4"),
        ("authenticated-blake2", "zstd,3"),
        ("repokey", "zlib,6"),
        ("keyfile-blake2", "lzma,1"),
        ("repokey-blake2", "obfuscate,110,zstd,3"),
    ]
    .into_iter()
    .enumerate()
    {
        let sparse = n % 2 == 0;
        let repo = root.join(format!("repo-{mode}"));
        bed.init(&repo, mode);
        bed.borg(&[
            "create",
            "-C",
            compression,
            &at(&repo, "a"),
            input.to_str().unwrap(),
        ]);
        let theirs = root.join(format!("borg-{mode}"));
        std::fs::create_dir_all(&theirs).unwrap();
        let out = bed
            .borg_cmd(&["extract"])
            .args(sparse.then_some("--sparse"))
            .arg(at(&repo, "a"))
            .current_dir(&theirs)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "borg extract ({mode}): {}",
            stderr(&out)
        );

        let ours = root.join(format!("kastell-{mode}"));
        std::fs::create_dir_all(&ours).unwrap();
        let config = bed.config(mode, repo.to_str().unwrap(), "");
        let mut args = vec!["--to", ours.to_str().unwrap(), input.to_str().unwrap()];
        if sparse {
            args.insert(0, "--sparse");
        }
        let run = restore_a(&bed, &config, &args);
        assert!(run.status.success(), "{mode}: {}", output_text(&run));
        let differences = support::tree::differences(
            &ours.join("input"),
            &theirs.join(archived),
            support::tree::Compare {
                acls_and_flags: true,
                blocks: sparse,
            },
        );
        assert!(
            differences.is_empty(),
            "{mode} ({compression}, sparse {sparse}): Kastell's restore differs from borg extract:\n{}",
            differences.join("\n")
        );
        // And the comparison compared something: the special files are there.
        assert_eq!(
            support::tree::features(&ours.join("input"), built),
            Vec::<&str>::new(),
            "{mode}: missing from the restore"
        );
        if support::tree::nodump(&input.join("flagfile")) {
            assert!(
                support::tree::nodump(&ours.join("input/flagfile")),
                "{mode}: flags"
            );
        }
        // The plan's bytes and the summary's agree, hard links and all.
        let planned = stderr(&run)
            .lines()
            .filter(|l| l.ends_with(" to write)"))
            .find_map(|l| l.rsplit_once('(').map(|(_, b)| b.replace(" to write)", "")))
            .unwrap_or_default();
        let written = String::from_utf8_lossy(&run.stdout)
            .lines()
            .next()
            .and_then(|l| {
                l.rsplit_once('(')
                    .map(|(_, b)| b.trim_end_matches(").").to_string())
            })
            .unwrap_or_default();
        assert_eq!(
            planned, written,
            "{mode}: plan and summary count different bytes"
        );
    }
}
