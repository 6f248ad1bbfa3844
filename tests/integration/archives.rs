//! `kastell archives` and `kastell info` against real borg, borgmatic and a loopback NAS.

use crate::support::{self, stderr, Fixture};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "kastell failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("kastell prints JSON")
}

/// `borg list --json` of one repository as (name, id, time), newest first.
fn borg_listing(fx: &Fixture, repo: &str) -> Vec<(String, String, String)> {
    let out = fx
        .borg_cmd(&["list", "--json", repo])
        .output()
        .expect("borg");
    assert!(
        out.status.success(),
        "borg list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("borg json");
    let mut list: Vec<_> = v["archives"]
        .as_array()
        .expect("archives")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["id"].as_str().unwrap_or_default().to_string(),
                a["time"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    list.sort_by(|a, b| b.2.cmp(&a.2));
    list
}

fn kastell_listing(v: &Value, repo: &str) -> Vec<(String, String, String)> {
    v.as_array()
        .expect("array")
        .iter()
        .filter(|a| a["repository"] == repo)
        .map(|a| {
            (
                a["name"].as_str().unwrap_or_default().to_string(),
                a["id"].as_str().unwrap_or_default().to_string(),
                a["time"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn archives_of_local_and_ssh_repositories_equal_borg_list_json() {
    let fx = Fixture::new(2);
    let config = fx.config.to_string_lossy().to_string();
    let all = json(&fx.kastell(&["archives", "--config", &config, "--json"]));

    let local = borg_listing(&fx, &fx.local_repo.to_string_lossy());
    let nas = borg_listing(&fx, &fx.nas_repo_url());
    assert_eq!(local.len(), 2);
    assert_eq!(nas.len(), 2);
    assert_eq!(kastell_listing(&all, "local"), local);
    assert_eq!(kastell_listing(&all, "nas"), nas);
    for entry in all.as_array().expect("array") {
        let keys: Vec<&str> = entry
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "name", "repository", "time"]);
    }

    // One repository by label.
    let only_nas = json(&fx.kastell(&[
        "archives",
        "--config",
        &config,
        "--repository",
        "nas",
        "--json",
    ]));
    assert_eq!(kastell_listing(&only_nas, "nas"), nas);
    assert_eq!(only_nas.as_array().map(Vec::len), Some(2));

    // Archive details equal `borg info --json`.
    let newest = &local[0].0;
    let info = json(&fx.kastell(&[
        "info",
        "--config",
        &config,
        "--repository",
        "local",
        "--archive",
        newest,
        "--json",
    ]));
    let out = fx
        .borg_cmd(&[
            "info",
            "--json",
            &format!("{}::{newest}", fx.local_repo.display()),
        ])
        .output()
        .expect("borg info");
    let borg: Value = serde_json::from_slice(&out.stdout).expect("borg info json");
    let stats = &borg["archives"][0]["stats"];
    assert_eq!(info["original_size"], stats["original_size"]);
    assert_eq!(info["compressed_size"], stats["compressed_size"]);
    assert_eq!(info["deduplicated_size"], stats["deduplicated_size"]);
    assert_eq!(info["file_count"], stats["nfiles"]);
    assert_eq!(info["hostname"], borg["archives"][0]["hostname"]);
}

#[test]
fn faults_get_plain_messages_wrong_passphrase_missing_repository_stopped_nas_held_lock() {
    let mut fx = Fixture::new(1);

    // Wrong passphrase.
    let wrong = fx.config_variant("wrong.yaml", support::PASSPHRASE, "not the passphrase");
    let out = fx.kastell(&[
        "archives",
        "--config",
        &wrong.to_string_lossy(),
        "--repository",
        "local",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("The passphrase for repository “local” is wrong"),
        "{}",
        stderr(&out)
    );

    // A repository that does not exist.
    let local = fx.local_repo.to_string_lossy().to_string();
    let missing = fx.config_variant("missing.yaml", &local, &format!("{local}-gone"));
    let out = fx.kastell(&[
        "archives",
        "--config",
        &missing.to_string_lossy(),
        "--repository",
        "local",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));

    // A lock held by another borg process (as during a backup).
    let holder = support::hold_lock(
        fx.borg_cmd(&["with-lock", &local, "sleep", "60"]),
        &fx.local_repo,
    );
    let out = fx.kastell(&[
        "archives",
        "--config",
        &fx.config.to_string_lossy(),
        "--repository",
        "local",
    ]);
    drop(holder);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is locked by another borg process"),
        "{}",
        stderr(&out)
    );

    // The NAS switched off: the other repository still lists, the NAS gets its own message.
    fx.nas.stop();
    let out = fx.kastell(&[
        "archives",
        "--config",
        &fx.config.to_string_lossy(),
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Cannot reach the backup server for repository “nas”"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json even on partial failure");
    assert_eq!(kastell_listing(&listed, "local").len(), 1);
}

#[test]
fn ssh_path_outside_the_forced_restrict_to_path_is_refused_clearly() {
    let fx = Fixture::new(0);
    let outside = fx.config_variant(
        "outside.yaml",
        &fx.nas_repo_url(),
        &fx.nas_repo_url().replace(
            &fx.nas.serve_dir.join("repo").to_string_lossy().to_string(),
            "/tmp/elsewhere",
        ),
    );
    let out = fx.kastell(&[
        "archives",
        "--config",
        &outside.to_string_lossy(),
        "--repository",
        "nas",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused this repository path"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_or_old_tools_and_old_schema_configs_are_named() {
    let fx = Fixture::new(0);
    let config = fx.config.to_string_lossy().to_string();
    let out = std::process::Command::new(support::kastell_bin())
        .args(["archives", "--config", &config])
        .envs(fx.envs())
        .env("KASTELL_BORGMATIC", "/nonexistent/borgmatic")
        .output()
        .expect("kastell");
    assert!(!out.status.success());
    assert!(
        stderr(&out)
            .contains("borgmatic is not installed (Kastell needs borgmatic 1.8.0 or newer)"),
        "{}",
        stderr(&out)
    );

    let fake = fx.dir.path().join("old-borgmatic");
    std::fs::write(&fake, "#!/bin/sh\necho 1.7.7\n").expect("script");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = std::process::Command::new(support::kastell_bin())
        .args(["archives", "--config", &config])
        .envs(fx.envs())
        .env("KASTELL_BORGMATIC", &fake)
        .output()
        .expect("kastell");
    assert!(
        stderr(&out).contains("borgmatic 1.7.7 is too old"),
        "{}",
        stderr(&out)
    );

    let old = fx.dir.path().join("old.yaml");
    std::fs::write(
        &old,
        "location:\n    source_directories: [/home]\n    repositories: [/srv/b]\n",
    )
    .expect("old");
    let out = fx.kastell(&["archives", "--config", &old.to_string_lossy()]);
    assert!(
        stderr(&out).contains("old sectioned layout"),
        "{}",
        stderr(&out)
    );

    let broken = fx.dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "repositories:\n  - path: /srv/x\n    label: [oops\n",
    )
    .expect("broken");
    let out = fx.kastell(&["archives", "--config", &broken.to_string_lossy()]);
    assert!(
        stderr(&out).contains("line 4, column 1"),
        "{}",
        stderr(&out)
    );
}

/// Debian 12 ships borg 1.2.4; Kastell must keep working with it (repositories made, served
/// and read by 1.2.4, with borgmatic 2 on top). Skipped where apt's borg is not installed.
#[test]
fn archives_listing_works_with_debian_borg_1_2() {
    let apt_borg = std::path::PathBuf::from("/usr/bin/borg");
    let version = std::process::Command::new(&apt_borg)
        .arg("--version")
        .output();
    let Ok(version) = version else {
        eprintln!("skipped: /usr/bin/borg (apt's borgbackup) is not installed");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if !version.starts_with("borg 1.2") {
        eprintln!("skipped: /usr/bin/borg is {version}");
        return;
    }
    let fx = Fixture::with_borg(2, apt_borg);
    let all = json(&fx.kastell(&[
        "archives",
        "--config",
        &fx.config.to_string_lossy(),
        "--json",
    ]));
    assert_eq!(
        kastell_listing(&all, "local"),
        borg_listing(&fx, &fx.local_repo.to_string_lossy())
    );
    assert_eq!(
        kastell_listing(&all, "nas"),
        borg_listing(&fx, &fx.nas_repo_url())
    );
    assert_eq!(all.as_array().map(Vec::len), Some(4));
}
