//! Restoring through the native reader against archives real borg made: byte-identical files
//! with the same mode, modification time, symlink targets and extended attributes; conflicts
//! at the original location refused without a decision, and each choice doing what it says;
//! a cancelled restore leaves no partial file; the same from the loopback NAS.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

const PASSPHRASE: &str = "restore test passphrase";

struct Bed {
    dir: tempfile::TempDir,
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn set_mtime(path: &Path, secs: i64, nanos: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, nanos);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

fn c(s: &[u8]) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap()
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid strings and a buffer with its length.
    let n = unsafe {
        nix::libc::lgetxattr(
            c(path.as_os_str().as_bytes()).as_ptr(),
            c(name.as_bytes()).as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| {
        buf.truncate(n as usize);
        buf
    })
}

fn set_xattr(path: &Path, name: &str, value: &[u8]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: valid strings and a buffer with its length.
    unsafe {
        nix::libc::lsetxattr(
            c(path.as_os_str().as_bytes()).as_ptr(),
            c(name.as_bytes()).as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

impl Bed {
    fn new() -> Bed {
        let bed = Bed {
            dir: tempfile::Builder::new()
                .prefix("kastell-restore-")
                .tempdir()
                .unwrap(),
        };
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
        let mut big = Vec::with_capacity(12 << 20);
        let mut x: u32 = 7;
        for _ in 0..(12 << 20) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            big.push((x >> 16) as u8);
        }
        std::fs::write(t.join("docs/big.bin"), &big).unwrap();
        std::fs::write(t.join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(t.join("script.sh"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        std::os::unix::fs::symlink("docs/letter.txt", t.join("link")).unwrap();
        // A fifo: borg archives it; the native restore leaves it out and says so.
        let fifo = Command::new("mkfifo")
            .arg(t.join("docs/pipe"))
            .status()
            .unwrap();
        assert!(fifo.success());
        // (A filesystem without user xattrs skips that part of the check.)
        set_xattr(&t.join("docs/letter.txt"), "user.kastell", b"kept");
        set_mtime(&t.join("docs/letter.txt"), 1_600_000_000, 123_456_789);
        set_mtime(&t.join("link"), 1_500_000_000, 0);
        bed
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    fn borg(&self, args: &[&str]) -> Output {
        let out = Command::new(support::tool("borg"))
            .args(args)
            .env("BORG_PASSPHRASE", PASSPHRASE)
            .env("BORG_BASE_DIR", self.dir.path())
            .env("BORG_CACHE_DIR", self.dir.path().join("borg-cache"))
            .output()
            .unwrap();
        assert!(out.status.success(), "borg {args:?}: {}", stderr(&out));
        out
    }

    fn config(&self, name: &str, location: &str, extra: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.yaml"));
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

    fn restore(&self, config: &Path, args: &[&str]) -> Output {
        Command::new(support::kastell_bin())
            .args([
                "restore",
                "--config",
                config.to_str().unwrap(),
                "--repository",
                "r",
                "--archive",
                "a",
            ])
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("XDG_CACHE_HOME")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
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

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

#[test]
fn restoring_into_a_folder_keeps_bytes_modes_times_links_and_xattrs() {
    let bed = Bed::new();
    let repo = bed.dir.path().join("repo");
    bed.borg(&["init", "-e", "repokey-blake2", repo.to_str().unwrap()]);
    bed.borg(&[
        "create",
        &format!("{}::a", repo.display()),
        bed.tree().to_str().unwrap(),
    ]);
    let config = bed.config("local", repo.to_str().unwrap(), "");
    let out_dir = bed.dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let src = bed.tree();
    let run = bed.restore(
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
        String::from_utf8_lossy(&run.stdout).contains("Restored 8 new"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("left out (a device, fifo or socket"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    assert!(std::fs::symlink_metadata(out_dir.join("docs/pipe")).is_err());
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
    if xattr(&src.join("docs/letter.txt"), "user.kastell").is_some() {
        assert_eq!(
            xattr(&out_dir.join("docs/letter.txt"), "user.kastell").as_deref(),
            Some(&b"kept"[..])
        );
    }
    // Not a recreated absolute path chain: directly into the folder.
    assert!(!out_dir.join(src.strip_prefix("/").unwrap()).exists());
    no_partial_files(&out_dir);

    // The same from the loopback NAS through the forced borg serve key.
    let mut nas = support::Nas::start(bed.dir.path(), &support::tool("borg"));
    let nas_repo = nas.serve_dir.join("repo");
    bed.borg(&["init", "-e", "keyfile-blake2", nas_repo.to_str().unwrap()]);
    bed.borg(&[
        "create",
        &format!("{}::a", nas_repo.display()),
        bed.tree().to_str().unwrap(),
    ]);
    let remote = bed.config(
        "remote",
        &nas.repo_url("repo"),
        &format!("ssh_command: {}\n", nas.ssh_command()),
    );
    let from_nas = bed.dir.path().join("from-nas");
    std::fs::create_dir_all(&from_nas).unwrap();
    let run = bed.restore(
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
    let bed = Bed::new();
    let repo = bed.dir.path().join("repo");
    bed.borg(&["init", "-e", "repokey", repo.to_str().unwrap()]);
    bed.borg(&[
        "create",
        &format!("{}::a", repo.display()),
        bed.tree().to_str().unwrap(),
    ]);
    let config = bed.config("local", repo.to_str().unwrap(), "");
    let docs = bed.tree().join("docs");
    let letter = docs.join("letter.txt");
    let original = std::fs::read(&letter).unwrap();
    std::fs::write(&letter, "changed since the backup\n").unwrap();
    std::fs::remove_file(docs.join("sub/deep.txt")).unwrap();
    std::fs::write(docs.join("only-here.txt"), "new on disk").unwrap();
    let docs_arg = docs.to_str().unwrap();

    // No terminal, no decision: nothing happens, and the conflict is named.
    let refused = bed.restore(&config, &[docs_arg]);
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
    let skip = bed.restore(&config, &["--on-conflict", "skip", docs_arg]);
    assert!(skip.status.success(), "{}", stderr(&skip));
    assert_eq!(std::fs::read(docs.join("sub/deep.txt")).unwrap(), b"deep\n");
    assert_eq!(
        std::fs::read(&letter).unwrap(),
        b"changed since the backup\n"
    );

    // Keep both: the archive's version beside the current one.
    let both = bed.restore(&config, &["--on-conflict", "keep-both", docs_arg]);
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
    let over = bed.restore(
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
    use kastell::repo::Reader;
    use kastell::restore::{plan, restore, Conflict, Destination, RestoreError};
    let _ = name_pattern;
    let bed = Bed::new();
    let repo = bed.dir.path().join("repo");
    bed.borg(&["init", "-e", "repokey-blake2", repo.to_str().unwrap()]);
    bed.borg(&[
        "create",
        &format!("{}::a", repo.display()),
        bed.tree().to_str().unwrap(),
    ]);
    let reader = Reader::open_local(&repo, Some(PASSPHRASE.as_bytes()), None).unwrap();
    let archive = reader.archive("a").unwrap();
    let index = ensure_index(
        &reader,
        &archive,
        &bed.dir.path().join("cache"),
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
