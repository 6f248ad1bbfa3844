//! The backup engine against real borg and borgmatic, a local repository and the loopback NAS
//! (sshd with a forced `borg serve`): progress, stats, history, cancel, faults and notifications
//! observed on a real notification server (dunst) through D-Bus.

use crate::support::desktop::NotificationServer;
use crate::support::{self, kastell_bin, output_text, Fixture};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Files the backup reads: `random_mb` of incompressible data and many small files.
fn fill(dir: &Path, random_mb: usize, small_files: usize) {
    std::fs::create_dir_all(dir.join("small")).unwrap();
    let mut random = vec![0u8; random_mb * 1024 * 1024];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut random)
        .unwrap();
    std::fs::write(dir.join("random.bin"), random).unwrap();
    for i in 0..small_files {
        std::fs::write(
            dir.join("small").join(format!("f{i}.txt")),
            format!("file {i}\n"),
        )
        .unwrap();
    }
}

fn parse_events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn kastell_cmd(fx: &Fixture, args: &[&str], extra_env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(kastell_bin());
    cmd.args(args)
        .envs(fx.envs())
        .envs(extra_env.iter().cloned())
        .stdin(Stdio::null());
    cmd
}

/// `kastell backup --config CONFIG ARGS --json --no-notify`, to its end.
fn quiet_backup(fx: &Fixture, config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["backup", "--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend(["--json", "--no-notify"]);
    fx.kastell(&all)
}

fn history(fx: &Fixture, config: &Path) -> Vec<Value> {
    let out = fx.kastell(&["history", "--config", config.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", output_text(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// A config whose backups are slow (zstd level 19 on incompressible data), so that a run can
/// be caught while borg reads files.
fn slow_config(fx: &Fixture) -> std::path::PathBuf {
    fill(&fx.source.join("slow"), 120, 10);
    fx.config_variant("slow.yaml", "compression: zstd\n", "compression: zstd,19\n")
}

/// A `kastell backup --json` in the background, with its events read as they come.
struct RunningBackup {
    child: Child,
    lines: std::sync::mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl RunningBackup {
    fn start(fx: &Fixture, config: &Path, repository: &str, env: &[(String, String)]) -> Self {
        let mut child = kastell_cmd(
            fx,
            &[
                "backup",
                "--config",
                config.to_str().unwrap(),
                "--repository",
                repository,
                "--json",
            ],
            env,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        RunningBackup {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits for borg to be reading files (a progress event in the backing-up phase).
    fn wait_until_backing_up(&mut self) {
        loop {
            let event = self
                .lines
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("no backing-up progress; events: {:?}", self.seen));
            let backing_up = event["event"] == "progress" && event["phase"] == "backing_up";
            self.seen.push(event);
            if backing_up {
                return;
            }
        }
    }

    fn interrupt(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    fn finish(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        let status = self.child.wait().unwrap();
        self.seen.extend(self.lines.iter());
        (status, self.seen)
    }
}

fn repository_report<'a>(events: &'a [Value], repository: &str) -> &'a Value {
    &events
        .iter()
        .find(|e| e["event"] == "repository_finished" && e["report"]["repository"] == repository)
        .unwrap_or_else(|| panic!("no report for {repository}: {events:?}"))["report"]
}

#[test]
fn a_backup_of_both_repositories_streams_ordered_progress_and_records_borgs_stats() {
    let fx = Fixture::new(0);
    fill(&fx.source.join("data"), 40, 400);
    let out = quiet_backup(&fx, &fx.config, &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let events = parse_events(&out.stdout);

    // Order: run_started, then each repository's start, progress and end, then run_finished.
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    let reports: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "repository_finished")
        .collect();
    assert_eq!(
        events.last().unwrap()["outcome"],
        "success",
        "reports: {reports:?}"
    );
    let mut current: Option<String> = None;
    let mut finished = Vec::new();
    let mut last_counters: std::collections::HashMap<String, [u64; 4]> = Default::default();
    for e in &events[1..events.len() - 1] {
        match e["event"].as_str().unwrap() {
            "repository_started" => {
                assert!(
                    current.is_none(),
                    "a repository started inside another: {e}"
                );
                current = Some(e["repository"].as_str().unwrap().to_string());
            }
            "progress" => {
                let repo = e["repository"].as_str().unwrap().to_string();
                assert_eq!(
                    Some(&repo),
                    current.as_ref(),
                    "progress outside its repository"
                );
                let counters = [
                    "nfiles",
                    "original_size",
                    "compressed_size",
                    "deduplicated_size",
                ]
                .map(|k| e[k].as_u64().unwrap());
                let before = last_counters.entry(repo).or_insert([0; 4]);
                for (now, was) in counters.iter().zip(before.iter()) {
                    assert!(now >= was, "a counter went backwards: {e}");
                }
                *before = counters;
            }
            "repository_finished" => {
                let repo = e["report"]["repository"].as_str().unwrap().to_string();
                assert_eq!(current.take(), Some(repo.clone()));
                finished.push(repo);
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert_eq!(finished, ["local", "nas"]);
    let backing_up = events
        .iter()
        .filter(|e| e["event"] == "progress" && e["phase"] == "backing_up")
        .count();
    assert!(backing_up >= 2, "no live progress while backing up");

    // The final counters are borg's own --json stats, and borg info agrees.
    for (repo, location) in [
        ("local", fx.local_repo.display().to_string()),
        ("nas", fx.nas_repo_url()),
    ] {
        let stats = &repository_report(&events, repo)["stats"];
        let archive = stats["archive"].as_str().unwrap();
        assert_eq!(
            last_counters[repo],
            [
                "nfiles",
                "original_size",
                "compressed_size",
                "deduplicated_size"
            ]
            .map(|k| stats[k].as_u64().unwrap()),
            "{repo}: the last progress differs from the final stats"
        );
        let info = fx
            .borg_cmd(&["info", "--json", &format!("{location}::{archive}")])
            .output()
            .unwrap();
        assert!(info.status.success(), "{}", output_text(&info));
        let info: Value = serde_json::from_slice(&info.stdout).unwrap();
        let borg_stats = &info["archives"][0]["stats"];
        for key in [
            "nfiles",
            "original_size",
            "compressed_size",
            "deduplicated_size",
        ] {
            assert_eq!(stats[key], borg_stats[key], "{repo} {key}");
        }
    }

    // The history has the run with both repositories' stats; status shows the last success.
    let runs = history(&fx, &fx.config);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["outcome"], "success");
    assert_eq!(runs[0]["actions"], "backup");
    let parts = runs[0]["repositories"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0]["stats"],
        repository_report(&events, "local")["stats"]
    );
    let log = fx.kastell(&["log", "--run", &runs[0]["id"].to_string()]);
    assert!(
        output_text(&log).contains("==> nas"),
        "{}",
        output_text(&log)
    );
    let status = fx.kastell(&["status", "--json"]);
    let status: Vec<Value> = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status.len(), 2);
    assert!(status
        .iter()
        .all(|s| s["last_run"]["outcome"] == "success" && s["last_success"].as_i64().is_some()));

    // A second run estimates from the first: a determinate bar with an ETA.
    std::fs::write(fx.source.join("data/new.txt"), "new").unwrap();
    let out = quiet_backup(
        &fx,
        &fx.config,
        &["--only", "create", "--repository", "local"],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let second = parse_events(&out.stdout);
    let started = second
        .iter()
        .find(|e| e["event"] == "repository_started")
        .unwrap();
    assert_eq!(
        started["estimate"]["original_size"],
        repository_report(&events, "local")["stats"]["original_size"]
    );
    assert_eq!(history(&fx, &fx.config)[0]["actions"], "create");
    // The history and the logs (every path borg printed) are the user's alone.
    support::assert_private(&fx.home.join(".local/state/kastell"));
}

#[test]
fn cancelling_a_large_backup_keeps_the_repository_consistent_and_the_next_run_succeeds() {
    let fx = Fixture::new(1);
    let slow = slow_config(&fx);
    let mut run = RunningBackup::start(&fx, &slow, "local", &[]);
    run.wait_until_backing_up();
    run.interrupt();
    let (status, events) = run.finish();
    assert_eq!(status.code(), Some(130), "events: {events:?}");
    assert_eq!(repository_report(&events, "local")["outcome"], "cancelled");
    assert_eq!(history(&fx, &slow)[0]["outcome"], "cancelled");

    let check = fx
        .borg_cmd(&["check", fx.local_repo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "borg check after cancel: {}",
        output_text(&check)
    );

    let out = quiet_backup(&fx, &fx.config, &["--repository", "local"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        repository_report(&parse_events(&out.stdout), "local")["outcome"],
        "success"
    );
}

#[test]
fn a_second_run_of_the_same_config_is_refused_recorded_and_notified() {
    let fx = Fixture::new(1);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    let slow = slow_config(&fx);
    let mut first = RunningBackup::start(&fx, &slow, "local", &[]);
    first.wait_until_backing_up();

    let second = kastell_cmd(
        &fx,
        &["backup", "--config", slow.to_str().unwrap()],
        &server.envs(),
    )
    .output()
    .unwrap();
    assert!(!second.status.success());
    assert!(
        output_text(&second).contains("Another Kastell run of this config is going on"),
        "{}",
        output_text(&second)
    );
    let runs = history(&fx, &slow);
    let refused = runs.iter().find(|r| r["outcome"] == "error").unwrap();
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains(&format!("process {}", first.child.id())));
    let call = server.wait_for("Backup of “slow” failed", Duration::from_secs(20));
    assert!(call.contains("Another Kastell run"), "{call}");

    first.interrupt();
    let (status, _) = first.finish();
    assert_eq!(status.code(), Some(130));
}

/// Runs `kastell backup` on `config` with notifications going to `server`.
fn backup_with_notifications(
    fx: &Fixture,
    server: &NotificationServer,
    config: &Path,
) -> (bool, Vec<Value>) {
    let out = kastell_cmd(
        fx,
        &["backup", "--config", config.to_str().unwrap(), "--json"],
        &server.envs(),
    )
    .output()
    .unwrap();
    (out.status.success(), parse_events(&out.stdout))
}

#[test]
fn a_wrong_passphrase_fails_both_repositories_with_borgs_msgid_and_notifies() {
    let fx = Fixture::new(1);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    let wrong = fx.config_variant(
        "wrong-passphrase.yaml",
        support::PASSPHRASE,
        "not the passphrase",
    );
    let (ok, events) = backup_with_notifications(&fx, &server, &wrong);
    assert!(!ok);
    for repo in ["local", "nas"] {
        let report = repository_report(&events, repo);
        assert_eq!(report["outcome"], "error");
        assert_eq!(report["msgid"], "PassphraseWrong", "{report}");
    }
    let runs = history(&fx, &wrong);
    assert_eq!(runs[0]["outcome"], "error");
    assert_eq!(runs[0]["repositories"][1]["msgid"], "PassphraseWrong");
    let call = server.wait_for(
        "Backup of “wrong-passphrase” failed",
        Duration::from_secs(20),
    );
    assert!(call.contains("passphrase"), "{call}");
}

#[test]
fn a_nas_that_is_off_fails_only_its_repository_and_notifies() {
    let mut fx = Fixture::new(1);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    fx.nas.stop();
    let (ok, events) = backup_with_notifications(&fx, &server, &fx.config);
    assert!(!ok);
    assert_eq!(repository_report(&events, "local")["outcome"], "success");
    let nas = repository_report(&events, "nas");
    assert_eq!(nas["outcome"], "error");
    assert!(
        nas["message"]
            .as_str()
            .unwrap()
            .contains("Cannot reach the backup server"),
        "{nas}"
    );
    let runs = history(&fx, &fx.config);
    assert_eq!(runs[0]["outcome"], "error");
    let call = server.wait_for("Backup of “user” failed", Duration::from_secs(20));
    assert!(call.contains("nas: Cannot reach"), "{call}");
}

#[test]
fn a_nas_killed_during_the_run_is_reported_and_notified() {
    let mut fx = Fixture::new(1);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    let slow = slow_config(&fx);
    let mut run = RunningBackup::start(&fx, &slow, "nas", &server.envs());
    run.wait_until_backing_up();
    fx.nas.kill();
    let (status, events) = run.finish();
    assert!(!status.success());
    let nas = repository_report(&events, "nas");
    assert_eq!(nas["outcome"], "error");
    let message = nas["message"].as_str().unwrap();
    assert!(
        message.contains("Cannot reach the backup server")
            || message.contains("connection to the backup server"),
        "{nas}"
    );
    assert_eq!(
        history(&fx, &slow)[0]["repositories"][0]["outcome"],
        "error"
    );
    server.wait_for("Backup of “slow” failed", Duration::from_secs(20));
}

#[test]
fn a_full_disk_is_reported_as_such_and_notified() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let fx = Fixture::new(0);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    let small = fx.dir.path().join("small-disk");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&small);
    let full = fx.config_variant(
        "full-disk.yaml",
        &fx.local_repo.display().to_string(),
        &small.join("repo").display().to_string(),
    );
    let init = Command::new(support::tool("borgmatic"))
        .args([
            "--config",
            full.to_str().unwrap(),
            "repo-create",
            "--encryption",
            "keyfile-blake2",
            "--repository",
            "local",
        ])
        .envs(fx.envs())
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", output_text(&init));
    fill(&fx.source.join("big"), 40, 0);
    let out = kastell_cmd(
        &fx,
        &[
            "backup",
            "--config",
            full.to_str().unwrap(),
            "--repository",
            "local",
            "--json",
        ],
        &server.envs(),
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let local = repository_report(&parse_events(&out.stdout), "local").clone();
    assert_eq!(local["outcome"], "error");
    assert!(
        local["message"].as_str().unwrap().contains("is full"),
        "{local}"
    );
    let call = server.wait_for("Backup of “full-disk” failed", Duration::from_secs(20));
    assert!(call.contains("full"), "{call}");
}

#[test]
fn a_repository_locked_by_a_live_borg_names_the_holder_and_its_lock_is_not_broken() {
    let fx = Fixture::new(1);
    let local = fx.local_repo.display().to_string();
    let holder = support::hold_lock(
        fx.borg_cmd(&["with-lock", &local, "sleep", "60"]),
        &fx.local_repo,
    );
    let out = quiet_backup(&fx, &fx.config, &["--repository", "local"]);
    assert!(!out.status.success());
    let report = repository_report(&parse_events(&out.stdout), "local").clone();
    assert_eq!(report["msgid"], "LockTimeout", "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("is locked by another borg process") && message.contains("holds it"),
        "{message}"
    );
    assert_eq!(report["may_break_lock"], false);

    let refused = fx.kastell(&[
        "break-lock",
        "--config",
        fx.config.to_str().unwrap(),
        "--repository",
        "local",
    ]);
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("was left alone"),
        "{}",
        output_text(&refused)
    );
    assert!(fx.local_repo.join("lock.exclusive").exists());
    drop(holder);
}

#[test]
fn an_old_last_success_is_notified_once_not_on_every_check() {
    let fx = Fixture::new(0);
    let server = NotificationServer::start(&fx.dir.path().join("desktop"));
    // A threshold of zero hours makes the success that just happened "too old".
    let preferences = fx.home.join(".config/kastell/preferences.json");
    std::fs::create_dir_all(preferences.parent().unwrap()).unwrap();
    std::fs::write(
        &preferences,
        r#"{"notify_on_success": false, "stale_after_hours": 0}"#,
    )
    .unwrap();
    let out = fx.kastell(&[
        "backup",
        "--config",
        fx.config.to_str().unwrap(),
        "--no-notify",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..2 {
        let out = kastell_cmd(&fx, &["status", "--notify-stale"], &server.envs())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
    }
    server.wait_for("No backup of “nas”", Duration::from_secs(20));
    server.wait_for("No backup of “local”", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let calls = server.calls();
    assert_eq!(calls.matches("No backup of “").count(), 2, "{calls}");
    // A success notification only when asked for.
    assert!(!calls.contains("finished"), "{calls}");
}
