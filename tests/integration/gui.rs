//! The real window under Xvfb, driven through AT-SPI inside its own D-Bus session.
#![cfg(feature = "gui")]

use crate::support::{self, is_mounted, Fixture};
use std::path::PathBuf;
use std::process::Command;

fn artifacts() -> PathBuf {
    support::artifacts_dir()
}

/// Runs `tests/gui/drive_window.py` with these steps; returns its output, failing with it.
fn drive(fx: &Fixture, app_args: &[&str], steps: &[(&str, String)], log_name: &str) -> String {
    drive_env(fx, app_args, steps, log_name, &[])
}

fn drive_env(
    fx: &Fixture,
    app_args: &[&str],
    steps: &[(&str, String)],
    log_name: &str,
    extra_env: &[(&str, &str)],
) -> String {
    // A window cleans stale mounts when it starts; the mount test makes one on purpose.
    let _shared = (!MAKING_STALE.with(|m| m.get())).then(support::cleaning_stale_mounts);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gui/drive_window.py");
    let runtime_dir = fx.runtime_dir();
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg("--")
        .arg("/usr/bin/python3")
        .arg(&script)
        .arg("--app")
        .arg(support::kastell_bin());
    for a in app_args {
        cmd.arg(format!("--arg={a}"));
    }
    for (kind, value) in steps {
        cmd.arg(format!("--{kind}")).arg(value);
    }
    // Dolphin (started by D-Bus for FileManager1) refuses to run under sudo.
    cmd.envs(fx.envs())
        .env_remove("SUDO_USER")
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("KASTELL_GUI_LOG", artifacts().join(log_name))
        .envs(extra_env.iter().copied());
    let out = cmd
        .output()
        .expect("dbus-run-session and python3-pyatspi (make setup-test)");
    let text = support::output_text(&out);
    assert!(out.status.success(), "window test failed:\n{text}");
    // QML that refers to something undefined only logs it (and shows the wrong thing).
    let log = std::fs::read_to_string(artifacts().join(log_name)).unwrap_or_default();
    let script_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("ReferenceError") || l.contains("TypeError"))
        .collect();
    assert!(
        script_errors.is_empty(),
        "the window's QML failed: {script_errors:#?}"
    );
    text
}

thread_local! {
    /// This test thread holds the stale-mount lock exclusively (its windows must not wait for
    /// a shared hold).
    static MAKING_STALE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn archive_names(fx: &Fixture, repository: &str) -> Vec<String> {
    let out = fx.kastell(&[
        "archives",
        "--config",
        &fx.config.to_string_lossy(),
        "--repository",
        repository,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v.as_array()
        .expect("array")
        .iter()
        .map(|a| a["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn window_shows_both_repositories_and_their_archives_from_borg() {
    let fx = Fixture::new(2);
    let local = archive_names(&fx, "local");
    let nas = archive_names(&fx, "nas");
    assert_eq!((local.len(), nas.len()), (2, 2));

    let mut steps = vec![
        ("expect", "local".to_string()),
        ("expect", "nas".to_string()),
    ];
    // The first repository is selected on start: its archives show without a click.
    steps.extend(local.iter().map(|n| ("expect", n.clone())));
    steps.push(("press", local[0].clone()));
    steps.push(("expect", "Deduplicated".to_string()));
    steps.push((
        "shot",
        artifacts().join("window-local.png").display().to_string(),
    ));
    steps.push(("press", "nas".to_string()));
    steps.extend(nas.iter().map(|n| ("expect", n.clone())));
    steps.push((
        "shot",
        artifacts().join("window-nas.png").display().to_string(),
    ));
    // Found through the default places (~/.config/borgmatic), no --config needed.
    drive(&fx, &[], &steps, "window.log");
    assert!(artifacts().join("window-nas.png").is_file());
}

#[test]
fn first_run_wizard_sets_up_a_folder_and_the_nas_and_ends_on_a_backed_up_list() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(0);
    std::fs::remove_file(&fx.config).expect("remove config");
    let root = fx.dir.path();
    let local = root.join("usb/borg");
    let safe = root.join("safe-storage");
    let server_path = fx.nas.serve_dir.join("wizard");
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().expect("id").stdout)
        .trim()
        .to_string();
    // What the person does on the server: the wizard's line into authorized_keys (the key is
    // the one the wizard made in this HOME; the server runs its own borg).
    let install = format!(
        "(echo; {kastell} ssh key --server-path {path} | sed 's|\"borg serve|\"{borg} serve|') >> {keys}",
        kastell = support::kastell_bin().display(),
        path = server_path.display(),
        borg = fx.borg.display(),
        keys = root.join("authorized_keys").display(),
    );
    let passphrase = "seven words of my own for this test";
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let shot = |name: &str| ("shot", screenshots.join(name).display().to_string());
    let steps = vec![
        (
            "expect",
            "Set up backups — step 1 of 5: What to back up".to_string(),
        ),
        ("type", format!("Folder to back up={}", fx.source.display())),
        // The live totals of what the guide's excludes leave (the preview's own count).
        ("expect_contains", "Backed up: 2 files".to_string()),
        shot("wizard-1-what.png"),
        ("press", "Next".to_string()),
        ("expect", "Set up backups — step 2 of 5: Where".to_string()),
        ("type", format!("Backup folder={}", local.display())),
        ("press", "A backup server over SSH".to_string()),
        ("type", format!("Server user={user}")),
        ("type", "Server host=127.0.0.1".to_string()),
        (
            "type",
            format!("Path on the server={}", server_path.display()),
        ),
        // A port nothing listens on: said in the window, nothing to trust.
        ("type", "Server port=1".to_string()),
        ("press", "Prepare the key".to_string()),
        ("expect_contains", "127.0.0.1:1 offered no host key".to_string()),
        ("type", format!("Server port={}", fx.nas.port)),
        ("press", "Prepare the key".to_string()),
        (
            "expect_contains",
            "The server's host key is ED25519 SHA256:".to_string(),
        ),
        // Not trusted yet: the test says so, and nothing is accepted silently.
        ("press", "Test the connection".to_string()),
        (
            "expect_contains",
            "The server's host key is not trusted yet".to_string(),
        ),
        ("press", "Trust this server".to_string()),
        (
            "expect_contains",
            "Trusted the server's ED25519 key".to_string(),
        ),
        ("press", "Test the connection".to_string()),
        (
            "expect_contains",
            "Kastell's key: add the authorized_keys line".to_string(),
        ),
        ("run", install),
        ("press", "Test the connection".to_string()),
        (
            "expect_contains",
            "Connected: the server is ready for a new repository".to_string(),
        ),
        shot("wizard-2-where.png"),
        ("press", "Next".to_string()),
        (
            "expect",
            "Set up backups — step 3 of 5: Encryption".to_string(),
        ),
        ("expect", "Generated passphrase".to_string()),
        shot("wizard-3-encryption.png"),
        ("press", "Type my own passphrase".to_string()),
        // Typed where the cursor is: AT-SPI gives a password field no name.
        (
            "run",
            format!("xdotool type --delay 20 '{passphrase}' && xdotool key Tab && xdotool type --delay 20 'something else'"),
        ),
        ("expect", "The two passphrases differ.".to_string()),
        (
            "run",
            format!("xdotool key ctrl+a && xdotool type --delay 20 '{passphrase}' && xdotool key Tab"),
        ),
        ("press", "Next".to_string()),
        (
            "expect",
            "Set up backups — step 4 of 5: Save the key".to_string(),
        ),
        ("type", format!("Folder for the keys={}", safe.display())),
        ("press", "Create the repositories".to_string()),
        (
            "expect_contains",
            "Checked the exported key of “nas”: it opens the repository".to_string(),
        ),
        shot("wizard-4-key.png"),
        ("press", "Next".to_string()),
        ("expect", "Set up backups — step 5 of 5: When".to_string()),
        shot("wizard-5-when.png"),
        ("press", "Finish".to_string()),
        ("expect", "nas".to_string()),
        ("expect_contains", "backed up just now".to_string()),
        // The wizard ends on the archive list, with the first archive in it.
        ("expect_contains", format!("{user}-")),
        shot("wizard-6-first-backup.png"),
    ];
    drive_with_keyring(&fx, &steps, "wizard.log");

    // The config: the guide's layout, 0600, no plaintext passphrase, validated by borgmatic.
    let config = fx.home.join(".config/borgmatic/user.yaml");
    let text = std::fs::read_to_string(&config).expect("the wizard's config");
    assert!(!text.contains(passphrase), "{text}");
    assert!(text.contains("encryption_passcommand:") && text.contains("# What to back up"));
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&config), 0o600);
    let validated = Command::new(&fx.borgmatic)
        .args(["config", "validate", "--config"])
        .arg(&config)
        .envs(fx.envs())
        .output()
        .expect("borgmatic config validate");
    assert!(
        validated.status.success(),
        "{}",
        support::output_text(&validated)
    );
    // The key and folders with the guide's permissions; the exported keys open the repositories.
    assert_eq!(mode(&fx.home.join(".config/borg/ssh/id_ed25519")), 0o600);
    assert_eq!(mode(&fx.home.join(".config/borg/ssh")), 0o700);
    assert_eq!(mode(&safe), 0o700);
    let nas_url = format!(
        "ssh://{user}@127.0.0.1:{}{}",
        fx.nas.port,
        server_path.display()
    );
    for (label, location) in [("local", local.display().to_string()), ("nas", nas_url)] {
        let key = safe.join(format!("{label}.key"));
        assert_eq!(mode(&key), 0o600, "{label}");
        let only_key = root.join(format!("only-{label}"));
        std::fs::create_dir_all(&only_key).expect("keys folder");
        std::fs::copy(&key, only_key.join("key")).expect("copy key");
        let listed = fx
            .borg_cmd(&["list", "--short", &location])
            .env("BORG_KEYS_DIR", &only_key)
            .env("BORG_PASSPHRASE", passphrase)
            .env(
                "BORG_RSH",
                format!(
                    "ssh -i {} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
                    fx.home.join(".config/borg/ssh/id_ed25519").display(),
                    fx.home.join(".config/borg/ssh/known_hosts").display()
                ),
            )
            .output()
            .expect("borg list");
        assert!(
            listed.status.success(),
            "{label}: {}",
            support::output_text(&listed)
        );
        assert_eq!(
            String::from_utf8_lossy(&listed.stdout).lines().count(),
            1,
            "{label}: the first backup made one archive"
        );
    }
}

#[test]
fn window_shows_an_unreachable_nas_in_plain_words() {
    let mut fx = Fixture::new(1);
    fx.nas.stop();
    drive(
        &fx,
        &[],
        &[
            ("expect", "nas".to_string()),
            ("press", "nas".to_string()),
            (
                "expect_contains",
                "Cannot reach the backup server".to_string(),
            ),
            (
                "shot",
                artifacts()
                    .join("window-unreachable.png")
                    .display()
                    .to_string(),
            ),
        ],
        "window-unreachable.log",
    );
}

#[test]
fn window_without_a_passphrase_lists_archives_with_one_typed_for_this_run() {
    let fx = Fixture::new(1);
    let names = archive_names(&fx, "local");
    let yaml = std::fs::read_to_string(&fx.config).expect("config");
    let without: String = yaml
        .lines()
        .filter(|l| !l.starts_with("encryption_passphrase"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&fx.config, without).expect("config without passphrase");
    // The field shows only for the kinds a typed passphrase can fix (`Failure` in QML).
    drive(
        &fx,
        &[],
        &[
            ("expect", "local".to_string()),
            ("expect_contains", "No passphrase is available".to_string()),
            // Typed where the cursor already is (AT-SPI gives a password field no name).
            (
                "run",
                format!(
                    "xdotool type --delay 20 '{}' && xdotool key Return",
                    support::PASSPHRASE
                ),
            ),
            ("expect", names[0].clone()),
        ],
        "window-typed-passphrase.log",
    );
    let kept = std::fs::read_to_string(&fx.config).expect("config");
    assert!(
        !kept.contains(support::PASSPHRASE),
        "a passphrase typed for one run is never written"
    );
}

/// The seed's `user.yaml`, pointed at the fixture's repositories.
fn seed_config(fx: &Fixture) -> String {
    let seed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-user.yaml"),
    )
    .expect("seed");
    let replace = |text: String, from: &str, to: &str| {
        assert!(text.contains(from), "seed has {from:?}");
        text.replace(from, to)
    };
    let mut text = replace(
        seed,
        "    - ~/\n",
        &format!("    - {}\n", fx.source.display()),
    );
    text = replace(
        text,
        "ssh://borg-backup@nas.yourdomain.net/volume1/BorgBackup/{user}-{hostname}",
        &fx.local_repo.display().to_string(),
    );
    text = replace(
        text,
        "ssh://borg-backup@lighthouse-nas.yourdomain.net/volume1/BorgBackup/{user}-{hostname}",
        &fx.nas_repo_url(),
    );
    text = replace(
        text,
        "your seven word diceware passphrase here",
        support::PASSPHRASE,
    );
    let ssh_line = text
        .lines()
        .find(|l| l.starts_with("ssh_command:"))
        .expect("ssh_command")
        .to_string();
    replace(
        text,
        &ssh_line,
        &format!("ssh_command: {}", fx.nas.ssh_command()),
    )
}

fn comment_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_retention_preview_follows_the_rules_as_typed_and_prune_now_keeps_what_it_showed() {
    let fx = Fixture::new(0);
    // Archives over ten days, some days twice, made by borg with their times given.
    let now = jiff::Timestamp::now();
    for (days, hours) in [
        (0, 1),
        (1, 2),
        (1, 7),
        (2, 3),
        (4, 1),
        (5, 2),
        (5, 9),
        (7, 4),
        (9, 1),
        (10, 2),
    ] {
        let at = now - jiff::SignedDuration::from_hours(days * 24 + hours);
        let name = format!("home-{}", at.strftime("%Y-%m-%dT%H:%M:%S"));
        let out = Command::new(&fx.borg)
            .args(["create", "--timestamp"])
            .arg(at.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string())
            .arg(format!("{}::{name}", fx.local_repo.display()))
            .arg(&fx.source)
            .envs(fx.envs())
            .env("BORG_PASSPHRASE", support::PASSPHRASE)
            .output()
            .expect("borg create");
        assert!(out.status.success(), "{}", support::output_text(&out));
    }
    let config = fx.config.display().to_string();
    // What the command line's preview says, for the window to say the same.
    let preview = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec![
            "prune",
            "--config",
            &config,
            "--repository",
            "local",
            "--dry-run",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = fx.kastell(&args);
        assert!(out.status.success(), "{}", support::output_text(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let summary = |rows: &[serde_json::Value]| {
        let pruned = rows.iter().filter(|r| r["keep"] == false).count();
        format!(
            "{} archives: {} kept, {pruned} would be pruned",
            rows.len(),
            rows.len() - pruned
        )
    };
    let saved = preview(&[]);
    let what_if = preview(&["--keep-daily", "3"]);
    assert_ne!(summary(&saved), summary(&what_if));
    let steps = vec![
        ("expect", "local".to_string()),
        ("press", "Settings".to_string()),
        ("expect", "What these rules keep in “local”:".to_string()),
        ("expect", summary(&saved)),
        ("type", "Daily archives=3".to_string()),
        ("expect", summary(&what_if)),
        (
            "shot",
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("docs/screenshots/retention-preview.png")
                .display()
                .to_string(),
        ),
        // Not saved yet: prune applies the saved retention, so it is saved first.
        ("expect", "● Unsaved changes".to_string()),
        ("press", "Save".to_string()),
        ("expect_contains", "Saved.".to_string()),
        ("press", "Prune now".to_string()),
        ("press", "Delete the archives".to_string()),
        ("expect_contains", "local: success".to_string()),
    ];
    drive(&fx, &[], &steps, "retention.log");
    // Exactly what the preview kept remains.
    let mut kept: Vec<String> = what_if
        .iter()
        .filter(|r| r["keep"] == true)
        .map(|r| r["archive"].as_str().unwrap_or_default().to_string())
        .collect();
    kept.sort();
    let mut remaining = archive_names(&fx, "local");
    remaining.sort();
    assert_eq!(remaining, kept);
    let yaml = std::fs::read_to_string(&fx.config).expect("config");
    assert!(yaml.contains("keep_daily: 3"), "{yaml}");
}

#[test]
fn archives_are_deleted_and_renamed_after_confirmations_checked_and_their_space_charted() {
    let fx = Fixture::new(0);
    // Three archives; the newest holds a file no other has (the chart's biggest "only here").
    for (name, extra) in [("home-a", 0usize), ("home-b", 0), ("home-c", 300_000)] {
        if extra > 0 {
            // xorshift bytes: nothing for the compressor to find.
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let noise: Vec<u8> = (0..extra)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            std::fs::write(fx.source.join("only-in-c.bin"), noise).expect("file");
        }
        let out = Command::new(&fx.borg)
            .arg("create")
            .arg(format!("{}::{name}", fx.local_repo.display()))
            .arg(&fx.source)
            .envs(fx.envs())
            .env("BORG_PASSPHRASE", support::PASSPHRASE)
            .output()
            .expect("borg create");
        assert!(out.status.success(), "{}", support::output_text(&out));
    }
    let mountpoint = fx.runtime_dir().join("kastell/mnt/local/home-a");
    let mounted = format!("mountpoint -q '{}'", mountpoint.display());
    let steps = vec![
        ("expect", "local".to_string()),
        ("expect", "home-c".to_string()),
        // A mounted archive that is then deleted: its mount ends with it.
        ("press", "home-a".to_string()),
        ("press", "Mount archive home-a".to_string()),
        ("expect", "Unmount archive home-a".to_string()),
        ("run", mounted.clone()),
        ("press", "Show space use".to_string()),
        ("expect_contains", "3 archives ·".to_string()),
        (
            "expect_contains",
            "home-c holds the most data no other archive has".to_string(),
        ),
        (
            "shot",
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("docs/screenshots/archive-space.png")
                .display()
                .to_string(),
        ),
        ("press", "Choose home-a".to_string()),
        ("press", "Choose home-b".to_string()),
        ("press", "Delete archives".to_string()),
        (
            "expect_contains",
            "These archives will be deleted from “local”".to_string(),
        ),
        ("expect", "• home-b".to_string()),
        ("press", "Delete the archives".to_string()),
        ("expect_contains", "Deleted 2 archives.".to_string()),
        ("run", format!("! {mounted}")),
        ("press", "home-c".to_string()),
        ("press", "Rename archive".to_string()),
        ("type", "New archive name=home/c".to_string()),
        ("expect_contains", "borg does not allow “/”".to_string()),
        ("type", "New archive name=home-renamed".to_string()),
        ("press", "Rename".to_string()),
        (
            "expect_contains",
            "Renamed home-c to home-renamed.".to_string(),
        ),
        ("expect", "home-renamed".to_string()),
        ("press", "Check the repository".to_string()),
        ("expect_contains", "local: success".to_string()),
        ("expect_contains", "checked just now: no damage".to_string()),
    ];
    drive(&fx, &[], &steps, "housekeeping.log");
    assert_eq!(archive_names(&fx, "local"), vec!["home-renamed"]);
}

#[test]
fn settings_page_edits_the_seed_config_losslessly_and_moves_the_passphrase_to_the_wallet() {
    let fx = Fixture::new(1);
    let seed = seed_config(&fx);
    std::fs::write(&fx.config, &seed).expect("config");
    let config = fx.config.display().to_string();
    let steps = vec![
        ("expect", "local-nas".to_string()),
        ("press", "Settings".to_string()),
        ("expect", "Keep the passphrase in KWallet".to_string()),
        ("type", "Daily archives=14".to_string()),
        ("expect", "● Unsaved changes".to_string()),
        ("type", "Compression=zstd,99".to_string()),
        ("expect_contains", "zstd[,1-22]".to_string()),
        ("type", "Compression=zstd,6".to_string()),
        (
            "shot",
            artifacts()
                .join("settings-unsaved.png")
                .display()
                .to_string(),
        ),
        ("press", "Save".to_string()),
        (
            "expect_contains",
            "Saved. The previous version is in".to_string(),
        ),
        ("press", "Keep the passphrase in KWallet".to_string()),
        (
            "expect_contains",
            "The passphrase is now kept in the wallet".to_string(),
        ),
        (
            "shot",
            artifacts().join("settings-saved.png").display().to_string(),
        ),
        ("press", "Change passphrase…".to_string()),
        (
            "shot",
            artifacts()
                .join("settings-change-form.png")
                .display()
                .to_string(),
        ),
        // Headless, plain borgmatic on the same session bus: the passcommand asks the wallet.
        (
            "run",
            format!("{} --config {config} create", fx.borgmatic.display()),
        ),
    ];
    drive_with_keyring(&fx, &steps, "settings.log");

    let after = std::fs::read_to_string(&fx.config).expect("config");
    assert_eq!(
        comment_lines(&seed),
        comment_lines(&after),
        "every comment kept"
    );
    assert!(after.contains("\nkeep_daily: 14\n"), "{after}");
    assert!(after.contains("\ncompression: zstd,6\n"), "{after}");
    assert!(
        !after.contains(support::PASSPHRASE),
        "no plaintext passphrase left"
    );
    assert!(after.contains("encryption_passcommand: "), "{after}");
    for repo in [
        fx.local_repo.to_string_lossy().to_string(),
        fx.nas_repo_url(),
    ] {
        let out = fx
            .borg_cmd(&["list", "--short", &repo])
            .env("BORG_PASSPHRASE", support::PASSPHRASE)
            .output()
            .expect("borg");
        assert!(out.status.success(), "{repo} opens");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            2,
            "the headless backup ran"
        );
    }
}

#[test]
fn restore_from_an_existing_backup_brings_the_chosen_folder_back_and_goes_on_backing_up_into_it() {
    let fx = Fixture::new(0);
    std::fs::remove_file(&fx.config).expect("remove config");
    // Named as the guide's configs name them ({user}-{hostname}-…), from another computer.
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().expect("id").stdout)
        .trim()
        .to_string();
    let (older, newer) = (format!("{user}-oldhost-1"), format!("{user}-oldhost-2"));
    let root = fx.dir.path();
    // The old computer: a key-file repository on a USB disk, two archives, the key saved.
    let old_computer = root.join("old-computer");
    let repo = root.join("usb/borg");
    let key = root.join("usb-stick/local.key");
    std::fs::create_dir_all(key.parent().expect("folder")).expect("stick");
    for (folder, file, text) in [
        ("Documents", "notes.txt", "the thesis, chapter 3\n"),
        ("Pictures", "cat.txt", "a picture of a cat\n"),
    ] {
        let dir = root.join("old-home/me").join(folder);
        std::fs::create_dir_all(&dir).expect("old home");
        std::fs::write(dir.join(file), text).expect("old file");
    }
    let old_borg = |args: &[&str]| {
        let out = Command::new(&fx.borg)
            .args(args)
            .current_dir(root)
            .envs(fx.envs())
            .env("BORG_BASE_DIR", &old_computer)
            .env("BORG_PASSPHRASE", support::PASSPHRASE)
            .output()
            .expect("borg");
        assert!(out.status.success(), "{}", support::output_text(&out));
    };
    let repo_text = repo.display().to_string();
    old_borg(&[
        "init",
        "--encryption",
        "keyfile-blake2",
        "--make-parent-dirs",
        &repo_text,
    ]);
    old_borg(&[
        "create",
        "--timestamp",
        "2026-11-01T10:00:00",
        &format!("{repo_text}::{older}"),
        "old-home/me",
    ]);
    old_borg(&[
        "create",
        "--timestamp",
        "2026-11-30T10:00:00",
        &format!("{repo_text}::{newer}"),
        "old-home/me",
    ]);
    old_borg(&["key", "export", &repo_text, &key.display().to_string()]);
    let occupied = root.join("occupied");
    std::fs::create_dir_all(&occupied).expect("occupied");
    std::fs::write(occupied.join("mine.txt"), "not to be replaced\n").expect("mine");
    let restored = root.join("restored");

    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let shot = |name: &str| ("shot", screenshots.join(name).display().to_string());
    let steps = vec![
        ("press", "Restore from an existing backup".to_string()),
        (
            "expect",
            "Restore from an existing backup — step 1 of 3: The repository".to_string(),
        ),
        ("type", format!("Repository folder={}", repo.display())),
        // Typing the key file ends with Tab, which goes on to the passphrase (AT-SPI gives a
        // password field no name).
        ("type", format!("Key file={}", key.display())),
        (
            "run",
            "xdotool type --delay 20 'not the passphrase'".to_string(),
        ),
        ("press", "Open the backup".to_string()),
        (
            "expect_contains",
            "The passphrase does not open this key".to_string(),
        ),
        ("type", format!("Key file={}", key.display())),
        (
            "run",
            format!(
                "xdotool key ctrl+a && xdotool type --delay 20 '{}'",
                support::PASSPHRASE
            ),
        ),
        ("press", "Open the backup".to_string()),
        (
            "expect_contains",
            "Opened: 2 archives, the newest from 2026-11-30".to_string(),
        ),
        shot("recover-1-repository.png"),
        ("press", "Next".to_string()),
        (
            "expect",
            "Restore from an existing backup — step 2 of 3: The archive".to_string(),
        ),
        ("expect", newer.clone()),
        ("expect", "old-home/me/Pictures".to_string()),
        ("press", "old-home/me/Documents".to_string()),
        shot("recover-2-archive.png"),
        ("press", "Next".to_string()),
        (
            "expect",
            "Restore from an existing backup — step 3 of 3: Restore".to_string(),
        ),
        // A folder with someone's files in it is refused, and left as it was.
        ("type", format!("Restore into={}", occupied.display())),
        ("press", "Restore".to_string()),
        ("expect_contains", "is not empty".to_string()),
        ("type", format!("Restore into={}", restored.display())),
        ("press", "Restore".to_string()),
        (
            "expect_contains",
            format!("Restored the chosen folders from {newer}"),
        ),
        ("expect_contains", "Checked against the archive".to_string()),
        shot("recover-3-restored.png"),
        ("press", "Go on backing up into this repository".to_string()),
        (
            "expect_contains",
            "this computer backs up into the same repository".to_string(),
        ),
        shot("recover-4-adopted.png"),
        ("press", "Done".to_string()),
        ("expect", "local".to_string()),
        ("expect", newer.clone()),
    ];
    drive_with_keyring(&fx, &steps, "recover.log");

    // Only the chosen folder came back, byte for byte; the occupied folder is untouched.
    assert_eq!(
        std::fs::read_to_string(restored.join("old-home/me/Documents/notes.txt"))
            .expect("restored"),
        "the thesis, chapter 3\n"
    );
    assert!(!restored.join("old-home/me/Pictures").exists());
    assert_eq!(
        std::fs::read_dir(&occupied).expect("occupied").count(),
        1,
        "the occupied folder changed"
    );
    // The new computer's config backs up into the old repository with the imported key, and
    // holds no passphrase.
    let config = fx.home.join(".config/borgmatic/user.yaml");
    let text = std::fs::read_to_string(&config).expect("the adopted config");
    assert!(text.contains(&repo_text), "{text}");
    assert!(!text.contains(support::PASSPHRASE), "{text}");
    let imported = std::fs::read_dir(fx.home.join(".config/borg/keys"))
        .expect("keys folder")
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|text| text.starts_with("BORG_KEY "))
        })
        .count();
    assert!(imported >= 1, "the key was not imported");
}

fn drive_with_keyring(fx: &Fixture, steps: &[(&str, String)], log: &str) -> String {
    drive_env(fx, &[], steps, log, &[("KASTELL_GUI_KEYRING", "1")])
}

/// Writes `mb` MB of fresh random data to `path` (new content, so borg must read and send it).
fn random_file(path: &std::path::Path, mb: usize) {
    use std::io::Read;
    let mut data = vec![0u8; mb * 1024 * 1024];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut data))
        .expect("random data");
    std::fs::write(path, data).expect("write");
}

#[test]
fn back_up_now_shows_live_progress_and_the_history_keeps_a_success_and_a_failure() {
    let fx = Fixture::new(1);
    let data = fx.source.join("data.bin");
    // A first run gives the history the size that the next run's ETA is estimated from.
    random_file(&data, 60);
    let first = fx.kastell(&[
        "backup",
        "--config",
        &fx.config.to_string_lossy(),
        "--no-notify",
    ]);
    assert!(first.status.success(), "{}", support::output_text(&first));
    // New content of the same size, sent to the NAS at 2.5 MB/s: slow enough to watch.
    random_file(&data, 60);
    let mut yaml = std::fs::read_to_string(&fx.config).expect("config");
    yaml.push_str("upload_rate_limit: 2500\n");
    std::fs::write(&fx.config, yaml).expect("config");

    let kill_nas = format!(
        // `[s]erve` keeps pkill from matching this very command line (and the driver's).
        "pkill -KILL -f '[s]erve --restrict-to-path {dir}'; kill $(cat {pid})",
        dir = fx.nas.serve_dir.display(),
        pid = fx.dir.path().join("sshd.pid").display()
    );
    let out = drive(
        &fx,
        &[],
        &[
            ("press", "nas".to_string()),
            ("press", "Back up now".to_string()),
            ("expect_contains", "“nas” (2 of 2)".to_string()),
            ("expect_contains", "Phase: Backing up".to_string()),
            ("expect_contains", "left".to_string()),
            ("expect_contains", "Read: ".to_string()),
            (
                "shot",
                artifacts()
                    .join("backup-progress.png")
                    .display()
                    .to_string(),
            ),
            ("run", kill_nas),
            ("expect", "Backup failed".to_string()),
            ("expect_contains", "nas: error".to_string()),
            ("press", "History".to_string()),
            ("expect_contains", "nas error".to_string()),
            ("expect_contains", "nas success".to_string()),
            ("expect_contains", "local success".to_string()),
            (
                "shot",
                artifacts().join("history.png").display().to_string(),
            ),
        ],
        "window-backup.log",
    );
    assert!(out.contains("screenshot"), "{out}");
    let history = fx.kastell(&[
        "history",
        "--config",
        &fx.config.to_string_lossy(),
        "--json",
    ]);
    let runs: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    let runs = runs.as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["trigger"], "window");
    assert_eq!(runs[0]["outcome"], "error");
    assert_eq!(runs[1]["outcome"], "success");
}

/// A home with what the seed's excludes are about: caches, build output, media, VM images, a
/// folder marked `.nobackup` and a cache-tagged one.
fn furnish_home(home: &std::path::Path) {
    let sparse = |rel: &str, len: u64| {
        let path = home.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(len))
            .expect("sparse file");
    };
    sparse("Projects/app/node_modules/left-pad/index.js", 3 << 20);
    sparse("Projects/app/target/debug/app", 40 << 20);
    sparse("Projects/app/src/main.rs", 12_000);
    sparse("VMs/windows.qcow2", 20 << 30);
    sparse("Downloads/distro.iso", 2 << 30);
    sparse("Music/album/track01.flac", 30 << 20);
    sparse("Documents/old-install.iso", 700 << 20);
    sparse("Documents/taxes/2025.pdf", 200_000);
    sparse("Private/.nobackup", 0);
    sparse("Private/diary.txt", 4_000);
    sparse(".local/share/baloo/index", 90 << 20);
    sparse("Games/shader-cache/blob", 300 << 20);
    std::fs::write(
        home.join("Games/shader-cache/CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    )
    .expect("cache tag");
}

#[test]
fn exclude_editor_previews_the_seed_excludes_and_saves_a_new_rule_that_borgmatic_honours() {
    let fx = Fixture::new(0);
    furnish_home(&fx.home);
    // The seed as written: the whole home is the source.
    let seed = seed_config(&fx).replace(&format!("    - {}\n", fx.source.display()), "    - ~/\n");
    std::fs::write(&fx.config, &seed).expect("config");
    let config = fx.config.display().to_string();
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let steps = vec![
        ("expect", "local-nas".to_string()),
        ("press", "Excludes".to_string()),
        ("expect_contains", "Backed up: ".to_string()),
        ("expect_contains", "left out by ! fm:**/.cache".to_string()),
        ("expect_contains", "left out by exclude_if_present (.nobackup)".to_string()),
        ("press", "Projects".to_string()),
        ("press", "app".to_string()),
        ("expect_contains", "left out by ! fm:**/node_modules".to_string()),
        ("press", "Games".to_string()),
        ("expect_contains", "left out by exclude_caches (CACHEDIR.TAG)".to_string()),
        (
            "shot",
            screenshots.join("excludes-seed.png").display().to_string(),
        ),
        ("press", "Documents".to_string()),
        ("type", "New pattern=re:(".to_string()),
        ("expect_contains", "invalid regular expression".to_string()),
        ("type", "New pattern=**/*.iso".to_string()),
        ("expect_contains", "Matches 1 item, 734 MB".to_string()),
        (
            "shot",
            screenshots.join("excludes-draft.png").display().to_string(),
        ),
        ("press", "Add rule".to_string()),
        ("press", "Save exclude rules".to_string()),
        ("expect_contains", "Saved; the previous version is in".to_string()),
        ("expect_contains", "left out by ! fm:**/*.iso".to_string()),
        // Headless, plain borgmatic reads the saved rule.
        (
            "run",
            format!(
                "{} --config {config} create --dry-run --list --repository local-nas > {}/dry-run.txt 2>&1",
                fx.borgmatic.display(),
                fx.dir.path().display()
            ),
        ),
    ];
    drive(&fx, &[], &steps, "excludes.log");

    let after = std::fs::read_to_string(&fx.config).expect("config");
    assert_eq!(
        comment_lines(&seed),
        comment_lines(&after),
        "every comment kept"
    );
    assert!(
        after.contains("    - '**/*.qcow2'\n    - '**/*.iso'\n") || after.contains("**/*.iso"),
        "{after}"
    );
    let listed = std::fs::read_to_string(fx.dir.path().join("dry-run.txt")).expect("dry run");
    let home = fx.home.display().to_string();
    assert!(
        listed.contains(&format!("- {home}/Documents/taxes/2025.pdf")),
        "{listed}"
    );
    for gone in [
        "Documents/old-install.iso",
        "VMs/windows.qcow2",
        "Private/diary.txt",
        "Projects/app/target",
    ] {
        assert!(
            !listed.contains(&format!("{home}/{gone}")),
            "{gone} listed:\n{listed}"
        );
    }
}

/// A real PNG (ImageMagick), so the preview pane shows an image.
fn small_png(path: &std::path::Path) {
    let made = Command::new("convert")
        .args(["-size", "160x100", "gradient:#1e88e5-#43a047"])
        .arg(path)
        .status()
        .expect("ImageMagick convert (make setup-test)");
    assert!(made.success());
}

#[test]
fn browser_shows_a_file_its_versions_and_restores_it_by_point_and_click() {
    let fx = Fixture::new(0);
    let letters = fx.source.join("Letters");
    std::fs::create_dir_all(&letters).expect("dir");
    let letter = letters.join("letter.txt");
    std::fs::write(&letter, "Dear reader,\nthe first draft.\n").expect("letter");
    small_png(&fx.source.join("photo.png"));
    let create = |fx: &Fixture| {
        let out = fx.borgmatic_cmd(&["create"]).output().expect("borgmatic");
        assert!(out.status.success(), "{}", support::output_text(&out));
    };
    create(&fx);
    std::fs::write(&letter, "Dear reader,\nthe second draft, longer.\n").expect("letter");
    create(&fx);
    let archives = archive_names(&fx, "local");
    assert_eq!(archives.len(), 2);
    // Newest first: the older archive has the first draft.
    let older = archives[1].clone();
    let restored_into = fx.dir.path().join("Restored");
    std::fs::create_dir_all(&restored_into).expect("dir");
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let mut steps = vec![
        ("expect", "local".to_string()),
        ("press", "Browse".to_string()),
    ];
    // Down the archive's folders to Documents (the source lives in the test's temp dir).
    for part in fx.source.strip_prefix("/").expect("absolute").components() {
        let name = part.as_os_str().to_string_lossy().into_owned();
        steps.push(("press", name));
    }
    steps.extend([
        ("expect", "photo.png".to_string()),
        ("press", "photo.png".to_string()),
        ("expect", "Preview image".to_string()),
        ("expect_contains", "Space in this folder".to_string()),
        ("shot", screenshots.join("browse.png").display().to_string()),
        ("press", "Letters".to_string()),
        ("press", "letter.txt".to_string()),
        ("expect", "Preview of letter.txt".to_string()),
        ("press", "Versions of the selection".to_string()),
        ("expect_contains", "2 different version(s)".to_string()),
        (
            "shot",
            screenshots.join("versions.png").display().to_string(),
        ),
        ("press", format!("Restore from {older}")),
        ("expect_contains", "1 changed".to_string()),
        ("expect_contains", "exist on disk and differ".to_string()),
        (
            "shot",
            screenshots
                .join("restore-conflict.png")
                .display()
                .to_string(),
        ),
        ("press", format!("Keep both {}", letter.display())),
        ("press", "Start restoring".to_string()),
        ("expect_contains", "kept both 1".to_string()),
        ("press", "Close restore".to_string()),
        // "Restore to…": the selection directly into a chosen folder.
        ("press", "letter.txt".to_string()),
        ("press", "Restore to a folder".to_string()),
        (
            "type",
            format!("Restore into folder={}", restored_into.display()),
        ),
        ("press", "Check what would change".to_string()),
        ("expect_contains", "1 new, 0 changed".to_string()),
        ("press", "Start restoring".to_string()),
        ("expect_contains", "Restored 1 new".to_string()),
        ("press", "Close restore".to_string()),
        // Compare: the latest archive against the one before (borg diff).
        ("press", "Compare two archives".to_string()),
        ("press", "Compare".to_string()),
        ("expect_contains", "changed from".to_string()),
        (
            "expect",
            format!(
                "changed /{}",
                letter.strip_prefix("/").expect("abs").display()
            ),
        ),
        (
            "shot",
            screenshots.join("compare.png").display().to_string(),
        ),
    ]);
    drive(&fx, &[], &steps, "browse.log");

    // Keep both: the older draft beside the current one, which is untouched.
    assert_eq!(
        std::fs::read_to_string(&letter).expect("letter"),
        "Dear reader,\nthe second draft, longer.\n"
    );
    let beside = letters.join("letter (restored).txt");
    assert_eq!(
        std::fs::read_to_string(&beside).expect("kept both"),
        "Dear reader,\nthe first draft.\n"
    );
    // Restore to…: the latest version, directly in the chosen folder, with its mtime.
    let copy = restored_into.join("letter.txt");
    assert_eq!(
        std::fs::read(&copy).expect("restored"),
        std::fs::read(&letter).expect("letter")
    );
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (
        std::fs::metadata(&copy).expect("meta"),
        std::fs::metadata(&letter).expect("meta"),
    );
    assert_eq!((a.mtime(), a.mode()), (b.mtime(), b.mode()));
    assert_eq!(
        std::fs::read_dir(&restored_into).expect("dir").count(),
        1,
        "nothing else, no partial file"
    );
}

/// A mount whose Kastell was killed (kill -9): "Transport endpoint is not connected".
fn stale_mount(fx: &Fixture, at: &std::path::Path) {
    std::fs::create_dir_all(at).expect("dir");
    let mut child = Command::new(support::kastell_bin())
        .args(["mount", "--config"])
        .arg(&fx.config)
        // Every archive, indexed only on access: the window still has one to index.
        .args(["--repository", "local"])
        .arg(at)
        .envs(fx.envs())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kastell mount");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !is_mounted(at) {
        assert!(
            std::time::Instant::now() < deadline,
            "the mount did not appear"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let gone = std::fs::metadata(at).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(107), "{gone}: ENOTCONN expected");
}

#[test]
fn an_archive_mounts_from_the_window_opens_in_the_file_manager_and_is_unmounted_on_quit() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting needs root here (/dev/fuse is 0600)");
        return;
    }
    let _alone = support::making_stale_mounts();
    MAKING_STALE.with(|m| m.set(true));
    let fx = Fixture::new(0);
    small_png(&fx.source.join("photo.png"));
    std::fs::create_dir_all(fx.source.join("Letters")).expect("dir");
    std::fs::write(fx.source.join("Letters/letter.txt"), "Dear reader,\n").expect("letter");
    let out = fx.borgmatic_cmd(&["create"]).output().expect("borgmatic");
    assert!(out.status.success(), "{}", support::output_text(&out));
    let archive = archive_names(&fx, "local")[0].clone();

    // Left by a Kastell that was killed: the window cleans it up when it starts.
    let stale = fx.dir.path().join("stale");
    stale_mount(&fx, &stale);

    // The default mount point, in the runtime folder.
    let mountpoint = fx.runtime_dir().join("kastell/mnt/local").join(&archive);
    let inside = mountpoint.join(fx.source.strip_prefix("/").expect("absolute"));
    let all_archives = fx.runtime_dir().join("kastell/mnt/local/all-archives");
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let notify_log = fx.dir.path().join("notify-calls.txt");
    let dolphin = std::path::Path::new("/usr/bin/dolphin").exists();
    let mut steps = vec![
        ("expect", "local".to_string()),
        ("expect_contains", "Removed a stale mount at".to_string()),
        ("press", archive.clone()),
        ("expect", "Deduplicated".to_string()),
        // One press: mounted (indexed first), then shown in the file manager.
        (
            "press",
            format!("Open archive {archive} in the file manager"),
        ),
        ("expect", format!("Unmount archive {archive}")),
        ("expect_contains", "Mounted: archive".to_string()),
        (
            "run",
            format!(
                "cmp '{}' '{}/Letters/letter.txt' && test -f '{}/photo.png'",
                fx.source.join("Letters/letter.txt").display(),
                inside.display(),
                inside.display()
            ),
        ),
    ];
    if dolphin {
        steps.extend([
            (
                "shot_window",
                format!(
                    "dolphin={}",
                    artifacts().join("mount-dolphin-top.png").display()
                ),
            ),
            // Closed (only on this test's display), then asked over the same D-Bus interface
            // for the backed-up folder itself, to see its files in the screenshot.
            (
                "run",
                "xdotool search --classname dolphin windowkill; sleep 1".to_string(),
            ),
            (
                "run",
                format!(
                    "gdbus call --session --dest org.freedesktop.FileManager1 \
                     --object-path /org/freedesktop/FileManager1 \
                     --method org.freedesktop.FileManager1.ShowFolders \"['file://{}']\" ''",
                    inside.display()
                ),
            ),
            (
                "shot_window",
                format!(
                    "dolphin={}",
                    screenshots.join("mount-dolphin.png").display()
                ),
            ),
            (
                "run",
                "xdotool search --classname dolphin windowkill".to_string(),
            ),
        ]);
    } else {
        eprintln!(
            "note: Dolphin is not installed (make setup-test installs it); xdg-open fallback only"
        );
    }
    steps.extend([
        // The notification's popup would cover part of the window.
        ("run", "dunstctl close-all; sleep 0.5".to_string()),
        ("shot", screenshots.join("mount.png").display().to_string()),
        ("press", format!("Unmount archive {archive}")),
        ("expect", format!("Mount archive {archive}")),
        (
            "run",
            format!(
                "! grep -q ' {} ' /proc/self/mountinfo && test ! -e '{}'",
                mountpoint.display(),
                mountpoint.display()
            ),
        ),
        // Every archive of the repository (More menu): `MOUNT/<archive>/...` and `latest`.
        ("press", "More actions".to_string()),
        ("press", "Mount every archive of “local”".to_string()),
        ("expect_contains", "Mounted: every archive of local".to_string()),
        (
            "run",
            format!(
                "test -L '{all}/latest' && cmp '{src}/Letters/letter.txt' '{all}/{archive}{src}/Letters/letter.txt'",
                all = all_archives.display(),
                src = fx.source.display(),
            ),
        ),
        (
            "run",
            "xdotool search --classname dolphin windowkill; true".to_string(),
        ),
        ("press", format!("Unmount {}", all_archives.display())),
        (
            "run",
            format!(
                "sleep 1; ! grep -q ' {} ' /proc/self/mountinfo",
                all_archives.display()
            ),
        ),
        // Mounted again, and left mounted: quitting unmounts it.
        ("press", format!("Mount archive {archive}")),
        ("expect", format!("Unmount archive {archive}")),
        ("run", format!("test -f '{}/photo.png'", inside.display())),
    ]);
    let log = notify_log.display().to_string();
    drive_env(
        &fx,
        &[],
        &steps,
        "mount.log",
        &[("KASTELL_GUI_NOTIFY_LOG", log.as_str())],
    );

    assert!(!is_mounted(&mountpoint), "unmounted when Kastell quit");
    assert!(!mountpoint.exists(), "its folder went with it");
    assert!(!is_mounted(&stale), "the stale mount was cleaned");
    let calls = std::fs::read_to_string(&notify_log).unwrap_or_default();
    assert!(
        calls.contains(&format!("Archive {archive} of local is mounted")),
        "a notification when the indexed archive was ready; Notify calls:\n{calls}"
    );
}

#[test]
fn settings_schedule_the_config_move_the_anacron_job_away_and_the_list_says_how_backups_went() {
    let fx = Fixture::new(0);
    let config = fx.config.display().to_string();
    // The local repository lives on a USB disk (a loop device), where loop devices can be made.
    let drive = support::drive::LoopDrive::plug_in(fx.dir.path()).map(|mut drive| {
        let _ = std::fs::remove_dir(drive.mount_point.join("lost+found"));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", fx.local_repo.display()))
            .arg(&drive.mount_point)
            .status()
            .expect("cp");
        assert!(copied.success());
        std::fs::remove_dir_all(&fx.local_repo).expect("the repository's old place");
        std::fs::create_dir(&fx.local_repo).expect("an empty folder");
        drive.move_to(&fx.local_repo);
        drive
    });
    let backed_up = fx.kastell(&["backup", "--config", &config, "--no-notify"]);
    assert!(
        backed_up.status.success(),
        "{}",
        support::output_text(&backed_up)
    );
    let said = String::from_utf8_lossy(&backed_up.stdout).into_owned();
    let run_id = said
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split([',', ')']).next())
        .expect("the run's id")
        .to_string();
    // The guide's anacron job for this config.
    let daily = fx.home.join(".anacron/cron.daily");
    std::fs::create_dir_all(&daily).expect("anacron folder");
    let job = daily.join("borgmatic-user");
    std::fs::write(
        &job,
        "#!/usr/bin/env bash\nborgmatic create --config \"${HOME}/.config/borgmatic/user.yaml\"\n",
    )
    .expect("anacron job");
    let screenshots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    let mut steps = vec![
        ("expect", "local".to_string()),
        ("expect_contains", "backed up just now".to_string()),
        ("press", "Schedule".to_string()),
        ("expect_contains", "Not scheduled".to_string()),
        ("expect_contains", "The anacron job".to_string()),
        ("type", "Time of the daily backup=03:15".to_string()),
    ];
    if drive.is_some() {
        steps.push((
            "press",
            "Also back up when the drive is plugged in".to_string(),
        ));
    }
    steps.extend([
        ("press", "Back up every day".to_string()),
        (
            "expect_contains",
            "Backs up every day at 03:15, on mains power only".to_string(),
        ),
        (
            "expect_contains",
            "Kastell runs the schedule itself while its window is open".to_string(),
        ),
    ]);
    if drive.is_some() {
        steps.push((
            "expect_contains",
            "and when the drive of “local” is plugged in".to_string(),
        ));
    }
    steps.extend([
        (
            "shot",
            screenshots.join("schedule.png").display().to_string(),
        ),
        ("press", "Switch the other schedule off".to_string()),
        ("expect_contains", "is switched off".to_string()),
        // A second `kastell` (as a notification's "Show details" starts one) hands the run to
        // this window and ends at once; the window shows the run on its History tab.
        (
            "run",
            format!(
                "timeout 20 {} --show-run {run_id}",
                support::kastell_bin().display()
            ),
        ),
        ("expect_contains", format!("Run {run_id} · backup")),
        ("press", "Archives".to_string()),
        (
            "expect_contains",
            "scheduled while Kastell is open".to_string(),
        ),
        (
            "shot",
            artifacts()
                .join("repositories-status.png")
                .display()
                .to_string(),
        ),
    ]);
    self::drive(&fx, &[], &steps, "schedule.log");
    assert!(!job.exists() && daily.join("borgmatic-user.disabled-by-kastell").exists());
    let shown = fx.kastell(&["schedule", "show", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown[0]["calendar"], "*-*-* 03:15:00");
    assert_eq!(shown[0]["ac_power_only"], true);
    assert_eq!(shown[0]["systemd_answers"], false);
    if let Some(drive) = &drive {
        assert_eq!(shown[0]["drive"]["repository"], "local");
        assert_eq!(shown[0]["drive"]["uuid"], drive.uuid().as_str());
    }
}
