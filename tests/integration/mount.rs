//! `kastell mount` against real borg archives: the mounted tree equals the source (names,
//! types, modes, sizes, mtimes, symlink targets, hard-link counts, bytes), random-offset and
//! concurrent reads, EROFS on writes, a `borgmatic create` while mounted, the repository
//! layout with `latest`, the whole config's layout, a kill -9 leaving a stale mount that the next mount cleans, and the
//! loopback NAS. Needs root here (/dev/fuse is 0600).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bed::{at, Bed};
use crate::support::{self, is_mounted, Fixture};

fn can_mount() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: mounting needs root here (/dev/fuse is 0600)");
    }
    root && Path::new("/dev/fuse").exists()
}

/// Unmounts (lazily) when the test ends, pass or fail, so the temp dir can go.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(&self.0)
            .stderr(Stdio::null())
            .status();
    }
}

fn furnish(source: &Path) {
    std::fs::create_dir_all(source.join("Fotos 2026/leer")).unwrap();
    std::fs::write(source.join("Fotos 2026/ünïcödé 日本.txt"), "unicode\n").unwrap();
    std::fs::write(source.join("empty.txt"), "").unwrap();
    let mut big = Vec::with_capacity(6 << 20);
    let mut x: u32 = 99;
    for _ in 0..(6 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        big.push((x >> 16) as u8);
    }
    std::fs::write(source.join("big.bin"), &big).unwrap();
    let sparse = std::fs::File::create(source.join("sparse.img")).unwrap();
    sparse.set_len(8 << 20).unwrap();
    std::os::unix::fs::symlink("big.bin", source.join("link to big")).unwrap();
    std::fs::hard_link(source.join("notes.txt"), source.join("notes-hardlink.txt")).unwrap();
    std::fs::set_permissions(
        source.join("empty.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
}

fn walk(root: &Path) -> BTreeMap<PathBuf, std::fs::Metadata> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            out.insert(entry.path().strip_prefix(root).unwrap().to_path_buf(), meta);
        }
    }
    out
}

/// Every entry below `source` is in `mounted` with the same type, mode, size, mtime, link
/// target, link count and bytes, and nothing else is.
fn same_tree(source: &Path, mounted: &Path) {
    let theirs = walk(source);
    let ours = walk(mounted);
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    for (rel, a) in &theirs {
        let b = &ours[rel];
        let what = rel.display();
        assert_eq!(a.mode(), b.mode(), "{what}");
        assert_eq!(
            (a.mtime(), a.mtime_nsec()),
            (b.mtime(), b.mtime_nsec()),
            "{what}"
        );
        if a.is_file() {
            assert_eq!(a.len(), b.len(), "{what}");
            assert_eq!(a.nlink(), b.nlink(), "{what}: hard-link count");
            assert!(
                std::fs::read(source.join(rel)).unwrap()
                    == std::fs::read(mounted.join(rel)).unwrap(),
                "{what}: bytes differ"
            );
        } else if a.file_type().is_symlink() {
            assert_eq!(
                std::fs::read_link(source.join(rel)).unwrap(),
                std::fs::read_link(mounted.join(rel)).unwrap(),
                "{what}"
            );
        }
    }
}

/// `kastell mount --config CONFIG ARGS AT` in the foreground, as a child; its output to `out()`.
fn kastell_mount(
    fx: &Fixture,
    config: &Path,
    args: &[&str],
    at: &Path,
    out: fn() -> Stdio,
) -> std::process::Child {
    Command::new(support::kastell_bin())
        .args(["mount", "--config"])
        .arg(config)
        .args(args)
        .arg(at)
        .envs(fx.envs())
        .stdin(Stdio::null())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap()
}

fn mount_background(fx: &Fixture, args: &[&str], at: &Path) -> Mounted {
    // (A stale mount point cannot be looked at until the mount cleans it.)
    let _ = std::fs::create_dir_all(at);
    let config = fx.config.display().to_string();
    let mountpoint = at.display().to_string();
    let mut all = vec!["mount", "--config", &config];
    all.extend_from_slice(args);
    all.extend(["--background", &mountpoint]);
    let out = fx.kastell(&all);
    assert!(out.status.success(), "{}", support::output_text(&out));
    assert!(is_mounted(at));
    Mounted(at.to_path_buf())
}

#[test]
fn a_mounted_archive_is_the_source_tree_and_a_backup_runs_while_it_is_mounted() {
    if !can_mount() {
        return;
    }
    let _shared = support::cleaning_stale_mounts();
    let fx = Fixture::new(0);
    furnish(&fx.source);
    let out = fx.borgmatic_cmd(&["create"]).output().unwrap();
    assert!(out.status.success(), "{}", support::output_text(&out));

    let mnt = fx.dir.path().join("mnt");
    let guard = mount_background(&fx, &["--repository", "local", "--archive", "latest"], &mnt);
    // The archive's paths directly below the mount point, as borg mount lays them out.
    let inside = mnt.join(fx.source.strip_prefix("/").unwrap());
    same_tree(&fx.source, &inside);

    // Random-offset reads.
    let original = std::fs::read(fx.source.join("big.bin")).unwrap();
    let mut file = std::fs::File::open(inside.join("big.bin")).unwrap();
    let mut x: u64 = 7;
    for _ in 0..64 {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let at = (x >> 33) % original.len() as u64;
        let mut piece = vec![0u8; 10_000];
        file.seek(SeekFrom::Start(at)).unwrap();
        let n = file.read(&mut piece).unwrap();
        assert!(n > 0);
        assert_eq!(&piece[..n], &original[at as usize..at as usize + n]);
    }
    // Several readers at once.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                assert!(std::fs::read(inside.join("big.bin")).unwrap() == original);
            });
        }
    });
    // Read-only: every write is refused with EROFS.
    let refused = std::fs::File::create(inside.join("new.txt")).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(30), "{refused}");
    let refused = std::fs::remove_file(inside.join("notes.txt")).unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(30), "{refused}");

    // No repository lock is held: a backup to the same repository succeeds while mounted,
    // and the mount keeps serving.
    std::fs::write(fx.source.join("after.txt"), "written after the mount\n").unwrap();
    let out = fx
        .borgmatic_cmd(&["create", "--repository", "local"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::output_text(&out));
    assert!(std::fs::read(inside.join("big.bin")).unwrap() == original);

    // A file still open keeps the mount busy: said plainly, and nothing is torn down.
    let busy = fx.kastell(&["umount", &mnt.display().to_string()]);
    assert!(!busy.status.success());
    assert!(
        support::output_text(&busy).contains("is busy"),
        "{}",
        support::output_text(&busy)
    );
    assert!(is_mounted(&mnt));
    drop(file);
    let out = fx.kastell(&["umount", &mnt.display().to_string()]);
    assert!(out.status.success(), "{}", support::output_text(&out));
    assert!(!is_mounted(&mnt));
    drop(guard);

    // The repository layout: every archive as a folder, and `latest`.
    let repo_mnt = fx.dir.path().join("repo-mnt");
    let _repo_guard = mount_background(&fx, &["--repository", "local"], &repo_mnt);
    let names: Vec<String> = std::fs::read_dir(&repo_mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let latest = std::fs::read_link(repo_mnt.join("latest")).unwrap();
    let newest = repo_mnt
        .join(&latest)
        .join(fx.source.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(newest.join("after.txt")).unwrap(),
        "written after the mount\n"
    );
    let older: Vec<&String> = names
        .iter()
        .filter(|n| **n != "latest" && **n != *latest.to_string_lossy())
        .collect();
    assert!(!repo_mnt
        .join(older[0])
        .join(fx.source.strip_prefix("/").unwrap())
        .join("after.txt")
        .exists());
}

#[test]
fn a_killed_mount_is_cleaned_up_by_the_next_and_the_nas_mounts_too() {
    if !can_mount() {
        return;
    }
    let _alone = support::making_stale_mounts();
    let fx = Fixture::new(1);
    let mnt = fx.dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let _guard = Mounted(mnt.clone());
    let mut child = kastell_mount(
        &fx,
        &fx.config,
        &["--repository", "local", "--archive", "latest"],
        &mnt,
        Stdio::null,
    );
    let started = Instant::now();
    while !is_mounted(&mnt) {
        assert!(started.elapsed() < Duration::from_secs(60), "never mounted");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // What a crash leaves: "Transport endpoint is not connected".
    let stale = std::fs::metadata(&mnt).unwrap_err();
    assert_eq!(stale.raw_os_error(), Some(107), "{stale}");

    let again = mount_background(&fx, &["--repository", "local", "--archive", "latest"], &mnt);
    let inside = mnt.join(fx.source.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(inside.join("notes.txt")).unwrap(),
        "remember the keyfile\n"
    );
    drop(again);

    // The NAS, through the forced `borg serve` key.
    let nas_mnt = fx.dir.path().join("nas-mnt");
    let _nas = mount_background(
        &fx,
        &["--repository", "nas", "--archive", "latest"],
        &nas_mnt,
    );
    same_tree(
        &fx.source,
        &nas_mnt.join(fx.source.strip_prefix("/").unwrap()),
    );

    // The whole config: a folder per repository label, each with its archives and `latest`.
    let all_mnt = fx.dir.path().join("all-mnt");
    let _all = mount_background(&fx, &[], &all_mnt);
    let mut labels: Vec<String> = std::fs::read_dir(&all_mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    labels.sort();
    assert_eq!(labels, ["local", "nas"]);
    for label in labels {
        let notes = all_mnt
            .join(&label)
            .join("latest")
            .join(fx.source.strip_prefix("/").unwrap())
            .join("notes.txt");
        assert_eq!(
            std::fs::read_to_string(&notes).unwrap(),
            "remember the keyfile\n",
            "{}",
            notes.display()
        );
    }
}

/// The NAS as an scp-style location (`user@host:/path`, port in ssh_command): borg reads it,
/// Kastell's reader does not.
fn scp_style_config(fx: &Fixture, relocated_ok: bool) -> PathBuf {
    let url = fx.nas_repo_url();
    let rest = url.strip_prefix("ssh://").unwrap();
    let (user_host, path) = rest.split_at(rest.find('/').unwrap());
    let (user_host, port) = user_host.rsplit_once(':').unwrap();
    let text = std::fs::read_to_string(&fx.config).unwrap();
    let ssh = fx.nas.ssh_command();
    assert!(text.contains(&url) && text.contains(&ssh));
    let text = text
        .replace(&url, &format!("{user_host}:{path}"))
        .replace(&ssh, &format!("{ssh} -p {port}"));
    // The same repository under a new name: borg asks first, unless told it is fine.
    let text = if relocated_ok {
        text + "relocated_repo_access_is_ok: true\n"
    } else {
        text
    };
    let variant = fx.config.with_file_name("scp.yaml");
    std::fs::write(&variant, text).unwrap();
    variant
}

#[test]
fn a_repository_the_reader_cannot_read_is_mounted_by_borg_with_the_reason_said() {
    if !can_mount() {
        return;
    }
    let _shared = support::cleaning_stale_mounts();
    let fx = Fixture::new(1);
    // First as a user would write it: borg knew the repository under its ssh:// address and
    // will not guess; the message says what to add.
    let asking = scp_style_config(&fx, false);
    let refused = Command::new(support::kastell_bin())
        .args(["mount", "--config"])
        .arg(&asking)
        .args(["--repository", "nas", "--archive", "latest"])
        .arg(fx.dir.path())
        .envs(fx.envs())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = support::output_text(&refused);
    assert!(!refused.status.success(), "{text}");
    assert!(
        text.contains("under another address")
            && text.contains("relocated_repo_access_is_ok: true"),
        "{text}"
    );
    let config = scp_style_config(&fx, true);
    let mnt = fx.dir.path().join("borg-mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let _guard = Mounted(mnt.clone());
    let mut child = kastell_mount(
        &fx,
        &config,
        &["--repository", "nas", "--archive", "latest"],
        &mnt,
        Stdio::piped,
    );
    let started = Instant::now();
    while !is_mounted(&mnt) {
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("borg never mounted:\n{}", support::output_text(&out));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // borg's own layout for one archive: its paths directly below the mount point.
    let inside = mnt.join(fx.source.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(inside.join("notes.txt")).unwrap(),
        "remember the keyfile\n"
    );
    assert_eq!(
        std::fs::read(inside.join("große Datei.bin")).unwrap(),
        vec![7u8; 200_000]
    );
    let out = fx.kastell(&["umount", &mnt.display().to_string()]);
    assert!(out.status.success(), "{}", support::output_text(&out));
    let done = child.wait_with_output().unwrap();
    let text = support::output_text(&done);
    assert!(done.status.success(), "{text}");
    assert!(
        text.contains("borg mounts this repository")
            && text.contains("the native reader reads local and ssh:// repositories"),
        "{text}"
    );
    assert!(!is_mounted(&mnt));

    // The whole config: `local` served by Kastell, `nas` by a private borg mount grafted in.
    let all = fx.dir.path().join("all-mnt");
    std::fs::create_dir_all(&all).unwrap();
    let _all_guard = Mounted(all.clone());
    let out = Command::new(support::kastell_bin())
        .args(["mount", "--config"])
        .arg(&config)
        .arg("--background")
        .arg(&all)
        .envs(fx.envs())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", support::output_text(&out));
    let src = fx.source.strip_prefix("/").unwrap();
    let local = all.join("local/latest").join(src).join("notes.txt");
    assert_eq!(
        std::fs::read_to_string(&local).unwrap(),
        "remember the keyfile\n"
    );
    let nas_archives: Vec<_> = std::fs::read_dir(all.join("nas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(nas_archives.len(), 1, "{nas_archives:?}");
    assert_eq!(
        std::fs::read(nas_archives[0].join(src).join("große Datei.bin")).unwrap(),
        vec![7u8; 200_000]
    );
    let out = fx.kastell(&["umount", &all.display().to_string()]);
    assert!(out.status.success(), "{}", support::output_text(&out));
    // borg's private mount goes with it.
    let private = fx.runtime_dir().join("kastell/mnt/.borg");
    let started = Instant::now();
    while std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&*private.to_string_lossy())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "borg's private mount stayed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_file_whose_chunks_a_compact_removed_reads_as_an_io_error_not_wrong_bytes() {
    if !can_mount() {
        return;
    }
    let _shared = support::cleaning_stale_mounts();
    let fx = Fixture::new(1);
    let mnt = fx.dir.path().join("mnt");
    let _guard = mount_background(&fx, &["--repository", "local", "--archive", "latest"], &mnt);
    let inside = mnt.join(fx.source.strip_prefix("/").unwrap());
    // The only archive goes, and its chunks with it (nothing is read before: no page cache).
    let repo = fx.local_repo.display().to_string();
    for args in [
        vec!["delete", "--glob-archives", "home-*", repo.as_str()],
        vec!["compact", "--threshold", "0", repo.as_str()],
    ] {
        let out = fx.borg_cmd(&args).output().unwrap();
        assert!(out.status.success(), "{}", support::output_text(&out));
    }
    // The tree is still there (the index was built before), but not the content.
    assert!(inside.join("große Datei.bin").exists());
    let failed = std::fs::read(inside.join("große Datei.bin")).unwrap_err();
    assert_eq!(failed.raw_os_error(), Some(5), "{failed}: EIO expected");
}

/// `kastell mount --background` of one archive of the bed's repository `r`; unmounted when the
/// guard goes.
fn mount(bed: &Bed, config: &Path, archive: &str, mountpoint: &Path) -> Mounted {
    std::fs::create_dir_all(mountpoint).unwrap();
    let out = bed.kastell_on(
        "mount",
        config,
        &[
            "--archive",
            archive,
            "--background",
            mountpoint.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", support::output_text(&out));
    assert!(is_mounted(mountpoint));
    Mounted(mountpoint.to_path_buf())
}

#[test]
fn a_mounted_archive_equals_a_borg_extract_tree_in_every_key_and_compression_mode() {
    if !can_mount() {
        return;
    }
    let _shared = support::cleaning_stale_mounts();
    let bed = Bed::new("mount");
    let root = bed.path();
    let input = root.join("input");
    let built = support::tree::build(&input);
    let archived = input.strip_prefix("/").unwrap();
    for (mode, compression) in [
        ("none", "lz4"),
        ("authenticated-blake2", "zstd,3"),
        ("repokey", "zlib,6"),
        ("keyfile-blake2", "lzma,1"),
        ("repokey-blake2", "obfuscate,110,zstd,3"),
    ] {
        let repo = root.join(format!("repo-{mode}"));
        bed.init(&repo, mode);
        bed.borg(&[
            "create",
            "-C",
            compression,
            &at(&repo, "a"),
            input.to_str().unwrap(),
        ]);
        let theirs = root.join(format!("extracted-{mode}"));
        std::fs::create_dir_all(&theirs).unwrap();
        let out = bed
            .borg_cmd(&["extract", &at(&repo, "a")])
            .current_dir(&theirs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", support::output_text(&out));
        let mnt = root.join(format!("mnt-{mode}"));
        let config = bed.config(mode, repo.to_str().unwrap(), "");
        let _mounted = mount(&bed, &config, "a", &mnt);
        let differences = support::tree::differences(
            &mnt.join(archived),
            &theirs.join(archived),
            support::tree::Compare {
                acls_and_flags: false,
                blocks: false,
            },
        );
        assert!(
            differences.is_empty(),
            "{mode} ({compression}): the mount differs from borg extract:\n{}",
            differences.join("\n")
        );
        let mut features = support::tree::features(&mnt.join(archived), built);
        // A FUSE mount shows no ACLs (borg mount shows none either).
        features.retain(|f| !f.contains("ACL"));
        assert!(
            features.is_empty(),
            "{mode}: missing from the mount: {features:?}"
        );
        // The folders made up above the archived paths: the archive's time, the mounting user.
        let made_up = std::fs::metadata(mnt.join(archived.components().next().unwrap())).unwrap();
        let age = std::time::SystemTime::now()
            .duration_since(made_up.modified().unwrap())
            .unwrap_or_default();
        assert!(
            age < Duration::from_secs(3600),
            "{mode}: a made-up folder from {age:?} ago"
        );
        assert_eq!(made_up.uid(), nix::unistd::getuid().as_raw());
    }
}

#[test]
fn a_crafted_archive_is_shown_inside_the_mount() {
    if !can_mount() {
        return;
    }
    let _shared = support::cleaning_stale_mounts();
    let bed = Bed::new("mount");
    let root = bed.path();
    let repo = root.join("repo");
    bed.init(&repo, "repokey-blake2");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::create_dir_all(root.join("outside")).unwrap();
    std::fs::write(root.join("d/ok.txt"), "fine\n").unwrap();
    std::os::unix::fs::symlink(root.join("outside"), root.join("d/link")).unwrap();
    for (archive, name) in [("slip", "d/link/pwned"), ("dots", "d/../../outside/x")] {
        let mut child = bed
            .borg_cmd(&[
                "create",
                "--stdin-name",
                name,
                &at(&repo, archive),
                "-",
                "d",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"X\n").unwrap();
        assert!(child.wait().unwrap().success());
    }
    let config = bed.config("crafted", repo.to_str().unwrap(), "");
    let temp_logs = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("kastell-mount-")
            })
            .count()
    };
    let temp_logs_before = temp_logs();
    for archive in ["slip", "dots"] {
        let mnt = root.join(format!("mnt-{archive}"));
        let _mounted = mount(&bed, &config, archive, &mnt);
        let mut listed: Vec<String> = std::fs::read_dir(mnt.join("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        listed.sort();
        assert_eq!(listed, ["link", "ok.txt"], "{archive}");
        assert!(std::fs::symlink_metadata(mnt.join("d/link"))
            .unwrap()
            .file_type()
            .is_symlink());
        // Every entry the mount shows is inside it.
        for (rel, _) in walk(&mnt) {
            let parent = std::fs::canonicalize(mnt.join(&rel).parent().unwrap()).unwrap();
            assert!(
                parent.starts_with(&mnt),
                "{archive}: {} leaves the mount",
                rel.display()
            );
        }
        assert_eq!(std::fs::read(mnt.join("d/ok.txt")).unwrap(), b"fine\n");
    }
    assert!(std::fs::read_dir(root.join("outside"))
        .unwrap()
        .next()
        .is_none());
    // `--background` logs into the user's own state folder, not a shared temporary one.
    assert_eq!(temp_logs(), temp_logs_before);
    let logs = root.join(".local/state/kastell/logs");
    assert!(
        std::fs::read_dir(&logs)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("mount-")),
        "no mount log in {}",
        logs.display()
    );
    support::assert_private(&root.join(".local/state/kastell"));
}
