//! "Change passphrase": every repository's key through borgmatic, then the config.

use crate::support::{self, Fixture};
use std::io::Write;
use std::process::{Command, Stdio};

fn change(fx: &Fixture, new: &str) -> std::process::Output {
    let mut child = Command::new(support::kastell_bin())
        .args([
            "passphrase",
            "change",
            "--config",
            &fx.config.to_string_lossy(),
        ])
        .envs(fx.envs())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kastell");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{new}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("kastell")
}

fn opens_with(fx: &Fixture, repo: &str, passphrase: &str) -> bool {
    fx.borg_cmd(&["list", "--short", repo])
        .env("BORG_PASSPHRASE", passphrase)
        .output()
        .expect("borg")
        .status
        .success()
}

#[test]
fn change_passphrase_rekeys_every_repository_and_updates_the_config() {
    let mut fx = Fixture::new(1);
    let local = fx.local_repo.to_string_lossy().to_string();
    let nas = fx.nas_repo_url();
    let new = "a brand new seven word passphrase here";

    // With the NAS off nothing starts: no repository ends up on a different passphrase.
    fx.nas.stop();
    let out = change(&fx, new);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not started") && err.contains("Cannot reach the backup server"),
        "{err}"
    );
    assert!(opens_with(&fx, &local, support::PASSPHRASE));
    fx.nas.resume();

    let before = std::fs::read_to_string(&fx.config).expect("config");
    let out = change(&fx, new);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("local: the key now takes the new passphrase"),
        "{err}"
    );
    assert!(
        err.contains("nas: the key now takes the new passphrase"),
        "{err}"
    );
    for repo in [&local, &nas] {
        assert!(
            opens_with(&fx, repo, new),
            "{repo} opens with the new passphrase"
        );
        assert!(
            !opens_with(&fx, repo, support::PASSPHRASE),
            "{repo} no longer takes the old one"
        );
    }
    let after = std::fs::read_to_string(&fx.config).expect("config");
    assert_eq!(
        after,
        before.replace(support::PASSPHRASE, new),
        "only the passphrase line changed"
    );
    // The passphrase was never on a command line: Kastell's own listing works with the new one.
    let listed = fx.kastell(&[
        "archives",
        "--config",
        &fx.config.to_string_lossy(),
        "--json",
    ]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
}
