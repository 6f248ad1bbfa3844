//! `make install` lays out the XDG files, and the launcher and metainfo pass their validators.

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `make setup-test`)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn make_install_puts_binary_launcher_metainfo_and_icon_in_xdg_places() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefix = tempfile::tempdir().expect("prefix");
    run(Command::new("make")
        .current_dir(root)
        .arg("install")
        .arg(format!("PREFIX={}", prefix.path().display()))
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_kastell")))
        // The window-less build is the same program without Qt; the test build stands in.
        .arg(format!("LEAN_BIN={}", env!("CARGO_BIN_EXE_kastell"))));
    for file in [
        "bin/kastell",
        "share/applications/org.kde.kastell.desktop",
        "share/metainfo/org.kde.kastell.metainfo.xml",
        "share/icons/hicolor/scalable/apps/org.kde.kastell.svg",
        "share/icons/hicolor/scalable/status/kastell-failed.svg",
        "share/kastell/icons/kastell-running.svg",
        "libexec/kastell/kastell-cli",
    ] {
        assert!(prefix.path().join(file).is_file(), "{file} installed");
    }
    let help = run(Command::new(prefix.path().join("bin/kastell")).arg("--help"));
    assert!(help.contains("archives"), "{help}");
    run(Command::new("desktop-file-validate").arg(
        prefix
            .path()
            .join("share/applications/org.kde.kastell.desktop"),
    ));
    let report = run(Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(
            prefix
                .path()
                .join("share/metainfo/org.kde.kastell.metainfo.xml"),
        ));
    assert!(report.contains("Validation was successful"), "{report}");
}
