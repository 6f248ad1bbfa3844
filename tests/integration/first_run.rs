//! The first run and the way back, against real borg, borgmatic, gnome-keyring and the loopback
//! NAS: `kastell setup` makes verified repositories and a config without the passphrase, and
//! `kastell recover` on a fresh HOME with only the exported key and the passphrase brings the
//! files back as they were.

use crate::support::{self, Fixture};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `kastell recover` as on a new machine: a HOME of its own, nothing else.
fn recover(fx: &Fixture, home: &Path, args: &[&str], passphrase: &str) -> Output {
    std::fs::create_dir_all(home).expect("fresh home");
    let file = home.join("passphrase");
    std::fs::write(&file, format!("{passphrase}\n")).expect("passphrase file");
    let borg_dir = fx.borg.parent().expect("borg folder").display().to_string();
    Command::new("bash")
        .arg("-c")
        .arg(r#"exec "$@" 3<"$PASSFILE""#)
        .arg("recover")
        .arg(support::kastell_bin())
        .arg("recover")
        .args(args)
        .args(["--passphrase-fd", "3"])
        .env_clear()
        .env("HOME", home)
        .env("PATH", format!("{borg_dir}:/usr/bin:/bin"))
        .env("KASTELL_BORG", &fx.borg)
        .env("PASSFILE", &file)
        .env("LANG", "C.UTF-8")
        .output()
        .expect("kastell recover")
}

#[test]
fn setup_makes_verified_repositories_and_recover_brings_the_files_back_on_a_fresh_home() {
    let fx = Fixture::new(0);
    let root = fx.dir.path();
    // A tree with what a home holds: modes, times, symlinks, hard links, xattrs, a sparse file.
    let source = root.join("home-to-save");
    let built = support::tree::build(&source);
    let config = fx.home.join(".config/borgmatic/first.yaml");
    let local = root.join("usb/borg");
    let export = root.join("safe-storage");
    let known = root.join("known_hosts");
    let scanned = Command::new("ssh-keyscan")
        .args(["-p", &fx.nas.port.to_string(), "127.0.0.1"])
        .output()
        .expect("ssh-keyscan");
    std::fs::write(&known, &scanned.stdout).expect("known_hosts");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wallet/setup_flow.sh");
    let out = Command::new("dbus-run-session")
        .arg("--")
        .arg("bash")
        .arg(&script)
        .envs(fx.envs())
        .env("XDG_RUNTIME_DIR", fx.runtime_dir())
        .env("KASTELL", support::kastell_bin())
        .env("BORGMATIC", &fx.borgmatic)
        .env("CFG", &config)
        .env("SRC", &source)
        .env("LOCAL", &local)
        .env("NAS_URL", fx.nas.repo_url("first-run"))
        .env("SSH_KEY", &fx.nas.client_key)
        .env("KNOWN", &known)
        .env("EXPORT", &export)
        .env("PASSPHRASE", support::PASSPHRASE)
        .output()
        .expect("dbus-run-session (make setup-test)");
    let text = support::output_text(&out);
    assert!(out.status.success(), "setup flow failed:\n{text}");
    for said in [
        "ok: an unwritable destination is said and leaves nothing half-made",
        "ok: headless borgmatic create works with the wallet open",
        "ok: a locked wallet is said and leaves nothing behind",
        "ok: a config written for an existing repository backs up into it with the imported key",
        "ok: adopt never creates a repository",
    ] {
        assert!(text.contains(said), "{text}");
    }

    // A new machine: only the exported key and the passphrase.
    let archived: PathBuf = source.strip_prefix("/").expect("absolute").to_path_buf();
    let out_local = root.join("restored-usb");
    let done = recover(
        &fx,
        &root.join("new-home"),
        &[
            "--repository",
            local.to_str().expect("path"),
            "--key-file",
            export.join("usb.key").to_str().expect("path"),
            "--to",
            out_local.to_str().expect("path"),
        ],
        support::PASSPHRASE,
    );
    let said = support::output_text(&done);
    assert!(done.status.success(), "{said}");
    assert!(said.contains("restored everything from"), "{said}");
    let differences = support::tree::differences(
        &out_local.join(&archived),
        &source,
        support::tree::Compare {
            acls_and_flags: false,
            blocks: false,
        },
    );
    assert!(
        differences.is_empty(),
        "the recovered files differ from the originals:\n{}",
        differences.join("\n")
    );
    assert_eq!(
        support::tree::features(&out_local.join(&archived), built),
        Vec::<&str>::new(),
        "missing from the recovered files"
    );

    // The NAS, over SSH, only a chosen folder; a wrong passphrase is said as such.
    let out_nas = root.join("restored-nas");
    let only = archived.join("dir2");
    let ssh = format!(
        "ssh -i {} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        fx.nas.client_key.display(),
        known.display()
    );
    let (nas_url, nas_key) = (fx.nas.repo_url("first-run"), export.join("nas.key"));
    let args = [
        "--repository",
        &nas_url,
        "--key-file",
        nas_key.to_str().expect("path"),
        "--ssh-command",
        &ssh,
        "--to",
        out_nas.to_str().expect("path"),
        only.to_str().expect("path"),
    ];
    let wrong = recover(&fx, &root.join("new-home-2"), &args, "not the passphrase");
    assert!(!wrong.status.success());
    assert!(
        support::output_text(&wrong).contains("passphrase"),
        "{}",
        support::output_text(&wrong)
    );
    let done = recover(&fx, &root.join("new-home-2"), &args, support::PASSPHRASE);
    let said = support::output_text(&done);
    assert!(done.status.success(), "{said}");
    let differences = support::tree::differences(
        &out_nas.join(&only),
        &source.join("dir2"),
        support::tree::Compare {
            acls_and_flags: false,
            blocks: false,
        },
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert!(!out_nas.join(&archived).join("file1").exists());

    // The printed forms of the key: borg's paper key and the page with the QR code.
    let paper = export.join("usb.paper.txt");
    let page = std::fs::read_to_string(export.join("usb.print.html")).expect("the page to print");
    assert!(page.contains("BORG_KEY "), "the page holds no key");
    // A paper key typed back in (here: the printout's text) opens the repository alone.
    let out_paper = root.join("restored-paper");
    let paper_args = |paper: &Path, to: &Path| {
        vec![
            "--repository".to_string(),
            local.display().to_string(),
            "--paper-key".to_string(),
            paper.display().to_string(),
            "--to".to_string(),
            to.display().to_string(),
        ]
    };
    let args = paper_args(&paper, &out_paper);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = recover(&fx, &root.join("new-home-3"), &args, support::PASSPHRASE);
    assert!(done.status.success(), "{}", support::output_text(&done));
    assert_eq!(
        std::fs::read(out_paper.join(&archived).join("file1")).expect("restored"),
        std::fs::read(source.join("file1")).expect("original")
    );
    // A typo is named by its line, before borg is asked anything.
    let text = std::fs::read_to_string(&paper).expect("paper key");
    let typo_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("2:"))
        .expect("a second line");
    let typed: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(n, l)| match n == typo_line {
            // One hex digit changed, as a person might mistype it.
            true => {
                let (head, tail) = l.split_at(6);
                let swapped = if tail.starts_with('0') { "1" } else { "0" };
                format!("{head}{swapped}{}", &tail[1..])
            }
            false => l.to_string(),
        })
        .collect();
    let mistyped = root.join("mistyped.txt");
    std::fs::write(&mistyped, typed.join("\n")).expect("mistyped");
    let args = paper_args(&mistyped, &root.join("restored-typo"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let refused = recover(&fx, &root.join("new-home-4"), &args, support::PASSPHRASE);
    assert!(!refused.status.success());
    assert!(
        support::output_text(&refused).contains("line 2 does not match its checksum"),
        "{}",
        support::output_text(&refused)
    );
    assert!(!root.join("restored-typo").exists());

    // A folder with files in it is never restored into (borg would replace them).
    let usb_key = export.join("usb.key");
    let args = [
        "--repository",
        local.to_str().expect("path"),
        "--key-file",
        usb_key.to_str().expect("path"),
        "--to",
        out_local.to_str().expect("path"),
    ];
    let before = support::tree::differences(
        &out_local.join(&archived),
        &source,
        support::tree::Compare {
            acls_and_flags: false,
            blocks: false,
        },
    );
    let refused = recover(&fx, &root.join("new-home"), &args, support::PASSPHRASE);
    assert!(!refused.status.success());
    assert!(
        support::output_text(&refused).contains("is not empty"),
        "{}",
        support::output_text(&refused)
    );
    assert_eq!(before, Vec::<String>::new());
}

fn said(out: &Output) -> String {
    support::output_text(out)
}

#[test]
fn the_connection_test_names_each_thing_that_is_wrong_with_the_server() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new(0);
    let nas = &fx.nas;
    let inside = format!("{}/me", nas.serve_dir.display());
    let location = nas.repo_url("me");
    let test = |location: &str, extra: &[&str]| {
        let mut args = vec!["ssh", "test", "--location", location];
        args.extend_from_slice(extra);
        fx.kastell(&args)
    };

    // The dedicated key, with the guide's permissions, and the server's line for it.
    let line = fx.kastell(&["ssh", "key", "--server-path", &inside]);
    assert!(line.status.success(), "{}", said(&line));
    let line = String::from_utf8_lossy(&line.stdout).trim().to_string();
    assert!(
        line.starts_with(&format!(
            "command=\"borg serve --restrict-to-path {inside}\",restrict ssh-ed25519 "
        )),
        "{line}"
    );
    let borg_folder = fx.home.join(".config/borg");
    let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&borg_folder.join("ssh/id_ed25519")), 0o600);
    for folder in ["keys", "ssh", "security"] {
        assert_eq!(mode(&borg_folder.join(folder)), 0o700, "{folder}");
    }

    // An unknown host key is never accepted silently.
    let first = test(&location, &[]);
    assert!(!first.status.success());
    assert!(
        said(&first).contains("host key is not trusted yet"),
        "{}",
        said(&first)
    );
    let shown = fx.kastell(&["ssh", "host-key", "--location", &location]);
    let fingerprint = String::from_utf8_lossy(&shown.stdout)
        .lines()
        .find(|l| l.starts_with("ED25519 "))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("the ed25519 fingerprint")
        .to_string();
    let wrong = fx.kastell(&[
        "ssh",
        "host-key",
        "--location",
        &location,
        "--trust",
        "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ]);
    assert!(!wrong.status.success());
    assert!(
        said(&wrong).contains("nothing was trusted"),
        "{}",
        said(&wrong)
    );
    let known = borg_folder.join("ssh/known_hosts");
    assert!(!known.exists());
    let trusted = fx.kastell(&[
        "ssh",
        "host-key",
        "--location",
        &location,
        "--trust",
        &fingerprint,
    ]);
    assert!(trusted.status.success(), "{}", said(&trusted));

    // The key is not on the server yet.
    let out = test(&location, &[]);
    assert!(
        said(&out).contains("does not accept Kastell's key"),
        "{}",
        said(&out)
    );

    // The person adds the line on the server (with the server's borg).
    let authorized = fx.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).expect("authorized_keys");
    keys.push('\n');
    keys.push_str(&line.replace("\"borg serve", &format!("\"{} serve", fx.borg.display())));
    keys.push('\n');
    std::fs::write(&authorized, &keys).expect("authorized_keys");
    let out = test(&location, &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("the path is free for a new repository"),
        "{}",
        said(&out)
    );
    let outside = nas.repo_url("../elsewhere");
    let out = test(&outside, &[]);
    assert!(
        said(&out).contains("outside what the server's --restrict-to-path allows"),
        "{}",
        said(&out)
    );

    // A key that logs in to a shell (no forced command).
    let loose = fx.dir.path().join("loose_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&loose)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    keys.push_str(&std::fs::read_to_string(loose.with_extension("pub")).expect("pub"));
    std::fs::write(&authorized, &keys).expect("authorized_keys");
    let loose_ssh = setup_ssh(&loose, &known);
    let out = test(&location, &["--ssh-command", &loose_ssh]);
    assert!(said(&out).contains("logs in to a shell"), "{}", said(&out));

    // The host key changed since it was trusted.
    let other_host = fx.dir.path().join("other_host_key");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_host)
        .status()
        .expect("ssh-keygen");
    assert!(made.success());
    let forged = fx.dir.path().join("forged_known_hosts");
    let public = std::fs::read_to_string(other_host.with_extension("pub")).expect("pub");
    let mut parts = public.split_whitespace();
    std::fs::write(
        &forged,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            nas.port,
            parts.next().expect("type"),
            parts.next().expect("key")
        ),
    )
    .expect("forged known_hosts");
    let out = test(
        &location,
        &[
            "--ssh-command",
            &setup_ssh(&borg_folder.join("ssh/id_ed25519"), &forged),
        ],
    );
    assert!(said(&out).contains("host key CHANGED"), "{}", said(&out));

    // Nothing listens.
    let closed = format!(
        "ssh://root@127.0.0.1:1{}",
        nas.serve_dir.join("me").display()
    );
    let out = test(&closed, &[]);
    assert!(
        said(&out).contains("refused the connection"),
        "{}",
        said(&out)
    );
}

/// The ssh command Kastell writes for `key` and `known_hosts`.
fn setup_ssh(key: &Path, known_hosts: &Path) -> String {
    format!(
        "ssh -i {} -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
        key.display(),
        known_hosts.display()
    )
}
