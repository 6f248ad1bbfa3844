//! The real window under Xvfb, driven through AT-SPI inside its own D-Bus session.
#![cfg(feature = "gui")]

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::Fixture;

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Runs `tests/gui/drive_window.py` with these steps; returns its output, failing with it.
fn drive(fx: &Fixture, app_args: &[&str], steps: &[(&str, String)], log_name: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/gui/drive_window.py");
    let runtime_dir = fx.dir.path().join("run");
    std::fs::create_dir_all(&runtime_dir).expect("runtime dir");
    std::fs::set_permissions(
        &runtime_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
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
    cmd.envs(fx.envs())
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("KASTELL_GUI_LOG", artifacts().join(log_name));
    let out = cmd
        .output()
        .expect("dbus-run-session and python3-pyatspi (make setup-test)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "window test failed:\n{text}");
    text
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
fn window_without_a_config_explains_how_to_start() {
    let fx = Fixture::new(0);
    std::fs::remove_file(&fx.config).expect("remove config");
    drive(
        &fx,
        &[],
        &[
            ("expect", "No backup is set up yet".to_string()),
            (
                "shot",
                artifacts().join("window-empty.png").display().to_string(),
            ),
        ],
        "window-empty.log",
    );
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
