//! The passphrase moved into a real Secret Service (gnome-keyring, unlocked inside its own
//! `dbus-run-session`) and used headless by plain borgmatic; a locked wallet is named as such.

use crate::support::{self, Fixture};
use std::path::Path;
use std::process::Command;

#[test]
fn passphrase_moves_to_the_wallet_and_headless_borgmatic_still_backs_up() {
    let fx = Fixture::new(1);
    // The seed's comments, so the test sees that they survive.
    let seeded = format!(
        "# ~/.config/borgmatic/user.yaml\n# User data backup for desktop home directory\n\n{}",
        std::fs::read_to_string(&fx.config).expect("config")
    );
    std::fs::write(&fx.config, seeded).expect("config");
    let runtime_dir = fx.runtime_dir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wallet/wallet_flow.sh");
    let out = Command::new("dbus-run-session")
        .arg("--")
        .arg("bash")
        .arg(&script)
        .envs(fx.envs())
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("KASTELL", support::kastell_bin())
        .env("BORGMATIC", &fx.borgmatic)
        .env("CFG", &fx.config)
        .env("PASSPHRASE", support::PASSPHRASE)
        .output()
        .expect("dbus-run-session (make setup-test)");
    let text = support::output_text(&out);
    assert!(out.status.success(), "wallet flow failed:\n{text}");
    assert!(
        text.contains("ok: a locked wallet gives a clear message"),
        "{text}"
    );
    // borgmatic's create through the passcommand made a second archive in both repositories.
    for repo in [
        fx.local_repo.to_string_lossy().to_string(),
        fx.nas_repo_url(),
    ] {
        let out = fx
            .borg_cmd(&["list", "--short", &repo])
            .output()
            .expect("borg list");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            2,
            "{repo}"
        );
    }
}
