//! Lossless edits through the command line and the editing core, on the seed's `user.yaml` and
//! on the reference config that the installed borgmatic generates; atomic saves under kill -9.

use kastell::config::{save, ConfigDocument, Scalar};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;

fn seed_text() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-user.yaml"),
    )
    .expect("seed")
}

fn reference_text(dir: &Path) -> String {
    let path = dir.join("reference.yaml");
    let out = Command::new(support::tool("borgmatic"))
        .args(["config", "generate", "--destination"])
        .arg(&path)
        .output()
        .expect("borgmatic config generate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&path).expect("reference")
}

/// Lines only in `old` and lines only in `new` (an LCS line diff).
fn changed_lines(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            added.push(b[j].to_string());
            j += 1;
        } else {
            removed.push(a[i].to_string());
            i += 1;
        }
    }
    (removed, added)
}

type Edit = (
    &'static str,
    fn(&mut ConfigDocument),
    &'static [&'static str],
);

/// Each editable key: the edit, and words every changed line must contain one of.
fn edits() -> Vec<Edit> {
    vec![
        (
            "compression",
            |d| {
                d.set_scalar("compression", Scalar::Str("lz4".into()))
                    .expect("edit")
            },
            &["compression"],
        ),
        (
            "archive_name_format",
            |d| {
                d.set_scalar(
                    "archive_name_format",
                    Scalar::Str("{hostname}-{now:%Y-%m-%d}".into()),
                )
                .expect("edit")
            },
            &["archive_name_format"],
        ),
        (
            "keep_daily",
            |d| d.set_scalar("keep_daily", Scalar::Int(14)).expect("edit"),
            &["keep_daily"],
        ),
        (
            "keep_within",
            |d| {
                d.set_scalar("keep_within", Scalar::Str("12H".into()))
                    .expect("edit")
            },
            &["keep_within"],
        ),
        (
            "ssh_command",
            |d| {
                d.set_scalar(
                    "ssh_command",
                    Scalar::Str("ssh -i ~/.ssh/other -o BatchMode=yes".into()),
                )
                .expect("edit")
            },
            &["ssh_command"],
        ),
        (
            "source_directories",
            |d| {
                d.list_add("source_directories", "/home/me/Work projects")
                    .expect("edit");
            },
            &["source_directories", "Work projects"],
        ),
        (
            "exclude_patterns add",
            |d| {
                d.list_add("exclude_patterns", "**/.venv").expect("edit");
            },
            &["exclude_patterns", ".venv"],
        ),
        (
            "repositories relabel",
            |d| {
                d.set_repository_field(0, "label", Some("home-nas"))
                    .expect("edit")
            },
            &["label"],
        ),
        (
            "repositories add",
            |d| {
                d.add_repository("/media/usb/borg", Some("usb"))
                    .expect("edit")
            },
            &["repositories", "/media/usb/borg", "usb"],
        ),
        (
            "checks",
            |d| {
                d.set_check_frequency("repository", Some("1 week"))
                    .expect("edit")
            },
            &["checks", "repository", "frequency"],
        ),
    ]
}

fn round_trip(name: &str, text: &str) {
    let dir = tempfile::tempdir().expect("dir");
    for (key, edit, words) in edits() {
        let path: PathBuf = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, text).expect("write");
        let mut doc = ConfigDocument::load(&path).expect("loads");
        edit(&mut doc);
        let outcome = save(&doc).unwrap_or_else(|e| panic!("{name}/{key}: {e}"));
        assert!(
            outcome.validated_by_borgmatic,
            "{name}/{key}: borgmatic validated the result"
        );
        let after = std::fs::read_to_string(&path).expect("read back");
        let (removed, added) = changed_lines(text, &after);
        assert!(!added.is_empty(), "{name}/{key}: something changed");
        for line in removed.iter().chain(added.iter()) {
            assert!(
                words.iter().any(|w| line.contains(w)) || line.trim_start().starts_with("- name:") || line.trim() == "-",
                "{name}/{key}: unrelated line changed: {line:?}\nremoved: {removed:#?}\nadded: {added:#?}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(outcome.backup.expect("backup")).expect("backup"),
            text
        );
        // Every comment line of the original is still there, in order.
        let comments = |t: &str| {
            t.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            comments(text),
            comments(&after),
            "{name}/{key}: comments kept"
        );
    }
}

#[test]
fn every_editable_key_changes_only_its_own_lines_in_the_seed_config() {
    round_trip("seed", &seed_text());
}

#[test]
fn every_editable_key_changes_only_its_own_lines_in_borgmatics_reference_config() {
    let dir = tempfile::tempdir().expect("dir");
    round_trip("reference", &reference_text(dir.path()));
}

#[test]
fn excludes_commands_edit_the_file_losslessly_and_keep_its_mode() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("user.yaml");
    std::fs::write(&path, seed_text()).expect("write");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let kastell = |args: &[&str]| {
        let out = Command::new(support::kastell_bin())
            .args(args)
            .output()
            .expect("kastell");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let p = path.to_string_lossy().to_string();
    kastell(&["excludes", "add", "--config", &p, "**/.venv"]);
    kastell(&["excludes", "remove", "--config", &p, "~/Music"]);
    let listed = kastell(&["excludes", "list", "--config", &p]);
    assert!(listed.lines().any(|l| l == "**/.venv"));
    assert!(!listed.lines().any(|l| l == "~/Music"));
    assert_eq!(listed.lines().count(), 23);
    let after = std::fs::read_to_string(&path).expect("read");
    let (removed, added) = changed_lines(&seed_text(), &after);
    assert_eq!(removed, ["    - ~/Music"]);
    assert_eq!(added, ["    - '**/.venv'"]);
    let mode = std::fs::metadata(&path).expect("meta").permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(kastell(&["config", "validate", "--config", &p]).contains("valid"));
}

#[test]
fn malformed_yaml_is_refused_with_line_and_column_and_left_untouched() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("broken.yaml");
    let text = "source_directories:\n    - /home\nexclude_patterns: [\n";
    std::fs::write(&path, text).expect("write");
    let out = Command::new(support::kastell_bin())
        .args(["excludes", "add", "--config", &path.to_string_lossy(), "x"])
        .output()
        .expect("kastell");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4, column 1"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

/// Saves over and over while being killed at random moments: the file is always one
/// complete version, never a mix or a stub.
#[test]
fn kill_9_during_saves_leaves_the_old_or_the_new_file_whole() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("user.yaml");
    std::fs::write(&path, seed_text()).expect("write");
    let p = path.to_string_lossy().to_string();
    let mut rng_state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    // How long one whole save takes on this machine right now (borgmatic validates each
    // save, and a loaded CI runner is several times slower than a desk): the kills below
    // land before, during and after a save whatever the speed.
    let started = std::time::Instant::now();
    let timing = Command::new(support::kastell_bin())
        .args(["excludes", "add", "--config", &p, "**/timing-save"])
        .output()
        .expect("kastell");
    assert!(timing.status.success());
    let save_micros = (started.elapsed().as_micros() as u64).max(1_000);
    let mut seen_versions = std::collections::HashSet::new();
    for round in 0..40 {
        let pattern = format!("**/kill-test-{round}");
        let mut child = Command::new(support::kastell_bin())
            .args(["excludes", "add", "--config", &p, &pattern])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("kastell");
        std::thread::sleep(std::time::Duration::from_micros(next() % (2 * save_micros)));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
        let text = std::fs::read_to_string(&path).expect("config still there");
        let doc = ConfigDocument::parse(&path, &text)
            .unwrap_or_else(|e| panic!("round {round}: a torn file: {e}"));
        let excludes = doc.string_list("exclude_patterns");
        // Exactly the original patterns plus kill-test entries: a whole version.
        assert!(excludes.len() >= 23, "round {round}");
        assert!(
            text.starts_with("# ~/.config/borgmatic/user.yaml"),
            "round {round}"
        );
        seen_versions.insert(excludes.len());
    }
    assert!(
        seen_versions.len() > 1,
        "some saves completed between kills"
    );
    // Temp files of killed saves are never mistaken for configs, and the next save clears them.
    let out = Command::new(support::kastell_bin())
        .args(["excludes", "add", "--config", &p, "**/after-the-kills"])
        .output()
        .expect("kastell");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["user.yaml", "user.yaml.bak"], "{names:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Any string through any editing entry point: no panic, and whatever is accepted still
    /// parses and reads back exactly.
    #[test]
    fn editing_entry_points_never_panic_or_leave_unparsable_text(
        value in "\\PC{0,40}|[\\x00-\\x7f]{0,20}",
        key in prop::sample::select(vec!["compression", "archive_name_format", "ssh_command", "keep_within", "new_key", "exclude_patterns", "repositories", "checks"]),
        op in 0u8..6,
    ) {
        let path = Path::new("fuzz.yaml");
        let mut doc = ConfigDocument::parse(path, &seed_text()).expect("seed");
        let result = match op {
            0 => doc.set_scalar(key, Scalar::Str(value.clone())).map(|_| ()),
            1 => doc.list_add(key, &value).map(|_| ()),
            2 => doc.list_remove(key, &value).map(|_| ()),
            3 => doc.set_repository_field(0, "label", Some(&value)),
            4 => doc.add_repository(&value, Some(&value)),
            _ => doc.set_check_frequency(&value, Some(&value)),
        };
        let text = doc.text();
        let reparsed = ConfigDocument::parse(path, &text);
        prop_assert!(reparsed.is_ok(), "unparsable after {op}/{key}: {text}");
        if result.is_ok() && op == 0 {
            let cfg = doc.config().expect("config");
            let read = match key {
                "compression" => cfg.compression.clone(),
                "archive_name_format" => cfg.archive_name_format.clone(),
                "ssh_command" => cfg.ssh_command.clone(),
                _ => cfg.other.get(key).and_then(|v| v.as_str().map(str::to_string)),
            };
            prop_assert_eq!(read, Some(value.clone()));
        }
        if result.is_err() {
            prop_assert_eq!(text, seed_text());
        }
    }
}
