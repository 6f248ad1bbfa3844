//! The schedule against a real systemd user instance (systemd 252 run as `systemd --user` in a
//! private mount namespace, where `/run/systemd/system` exists only for it), and the
//! conditions of a scheduled run against D-Bus services that answer UPower's and
//! NetworkManager's properties on a private bus.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::desktop::NotificationServer;
use crate::support::drive::LoopDrive;
use crate::support::home::Home;
use crate::support::stderr;

/// `systemd --user` in a mount namespace of its own; commands enter that namespace.
struct UserManager {
    child: Child,
    env: Vec<(String, String)>,
}

impl UserManager {
    fn start(home: &Home) -> UserManager {
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t tmpfs tmpfs /run/systemd && mkdir -p /run/systemd/system \
                 && exec /lib/systemd/systemd --user",
            )
            .env_clear()
            .envs(home.login_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare and systemd (make setup-test)");
        let mut env = home.login_env();
        env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            format!("unix:path={}", home.runtime().join("bus").display()),
        ));
        let manager = UserManager { child, env };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = manager.run(Command::new("systemctl").args(["--user", "is-system-running"]));
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if ["running", "degraded"].contains(&state.as_str()) {
                return manager;
            }
            assert!(
                Instant::now() < deadline,
                "the user manager did not come up: {state} {}",
                stderr(&out)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `command` inside the manager's namespace with the login's environment.
    fn run(&self, command: &Command) -> Output {
        let mut entered = Command::new("nsenter");
        entered
            .arg("--target")
            .arg(self.child.id().to_string())
            .args(["--mount", "--", "env", "-i"]);
        for (key, value) in self.env.iter().chain(
            command
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?)))
                .map(|(k, v)| {
                    (
                        k.to_string_lossy().into_owned(),
                        v.to_string_lossy().into_owned(),
                    )
                })
                .collect::<Vec<_>>()
                .iter(),
        ) {
            entered.arg(format!("{key}={value}"));
        }
        entered.arg(command.get_program()).args(command.get_args());
        entered.output().expect("nsenter")
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        let _ = self.run(Command::new("systemctl").args(["--user", "exit"]));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

/// `kastell schedule set` at 03:15 on any power (plus `extra`) in the manager's namespace:
/// it succeeds and `systemd-analyze verify` has nothing to say.
fn set_daily_at_0315(manager: &UserManager, home: &Home, config: &str, extra: &[&str]) {
    let mut args = vec![
        "schedule",
        "set",
        "--config",
        config,
        "--at",
        "03:15",
        "--any-power",
    ];
    args.extend_from_slice(extra);
    let set = manager.run(&kastell_args(home, &args));
    assert!(set.status.success(), "set: {}", stderr(&set));
    assert!(
        !stderr(&set).contains("verify says"),
        "systemd-analyze verify complained: {}",
        stderr(&set)
    );
}

fn kastell_args(home: &Home, args: &[&str]) -> Command {
    let mut cmd = home.kastell();
    cmd.args(args);
    cmd
}

#[test]
fn a_daily_schedule_runs_a_real_backup_under_systemd_and_comes_off_again() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: a private mount namespace for systemd --user needs root here");
        return;
    }
    let home = Home::new("schedule");
    home.create_repository();
    let manager = UserManager::start(&home);
    let config = home.config().display().to_string();

    set_daily_at_0315(&manager, &home, &config, &[]);

    let shown = json_of(&manager.run(&kastell_args(&home, &["schedule", "show", "--json"])));
    let shown = shown.as_array().expect("an array");
    assert_eq!(shown.len(), 1, "{shown:?}");
    let entry = &shown[0];
    assert_eq!(entry["config"], config.as_str());
    assert_eq!(entry["enabled"], true);
    assert_eq!(entry["calendar"], "*-*-* 03:15:00");
    assert_eq!(entry["ac_power_only"], false);
    assert_eq!(entry["skip_metered"], false);
    let timer = PathBuf::from(entry["timer_unit"].as_str().expect("timer path"));
    let service = PathBuf::from(entry["service_unit"].as_str().expect("service path"));
    assert_eq!(timer.parent(), Some(home.unit_folder().as_path()));
    assert!(timer.is_file() && service.is_file());
    // The next run is the next 03:15 (local time) plus at most the randomised delay.
    let next = entry["next_run"].as_i64().expect("next_run in ms");
    let now = jiff::Zoned::now();
    let mut due = now
        .with()
        .hour(3)
        .minute(15)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .expect("03:15 today");
    if due <= now {
        due = due.tomorrow().expect("tomorrow");
    }
    let due_ms = due.timestamp().as_millisecond();
    assert!(
        (due_ms..=due_ms + 10 * 60 * 1000).contains(&next),
        "next run {next}, expected 03:15 = {due_ms}"
    );

    let name = timer
        .file_stem()
        .expect("unit name")
        .to_string_lossy()
        .into_owned();
    let timers = manager.run(Command::new("systemctl").args(["--user", "list-timers", "--all"]));
    assert!(
        String::from_utf8_lossy(&timers.stdout).contains(&format!("{name}.timer")),
        "{}",
        String::from_utf8_lossy(&timers.stdout)
    );

    // Started by hand, the service backs up with systemd's own environment: no borg on its
    // PATH but what the unit carries.
    assert!(home.archives().is_empty());
    let started = manager.run(Command::new("systemctl").args([
        "--user",
        "start",
        &format!("{name}.service"),
    ]));
    let journal = || {
        String::from_utf8_lossy(
            &manager
                .run(Command::new("systemctl").args([
                    "--user",
                    "status",
                    "--no-pager",
                    &format!("{name}.service"),
                ]))
                .stdout,
        )
        .into_owned()
    };
    assert!(
        started.status.success(),
        "{} {}",
        stderr(&started),
        journal()
    );
    assert_eq!(home.archives().len(), 1, "{}", journal());
    let runs = home.history();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["trigger"], "schedule");
    assert_eq!(runs[0]["outcome"], "success");

    let off = manager.run(&kastell_args(
        &home,
        &["schedule", "off", "--config", &config],
    ));
    assert!(off.status.success(), "off: {}", stderr(&off));
    assert!(!timer.exists() && !service.exists());
    let enabled = manager.run(Command::new("systemctl").args([
        "--user",
        "is-enabled",
        &format!("{name}.timer"),
    ]));
    assert!(!enabled.status.success(), "the timer is still known");
    let shown = json_of(&manager.run(&kastell_args(&home, &["schedule", "show", "--json"])));
    assert_eq!(shown, serde_json::json!([]));
    let again = manager.run(&kastell_args(
        &home,
        &["schedule", "off", "--config", &config],
    ));
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("has no schedule"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn without_a_user_instance_the_units_are_written_and_the_message_says_nothing_starts_them() {
    let home = Home::new("schedule-none");
    let config = home.config().display().to_string();
    // No bus in this runtime folder: systemctl --user finds no manager.
    let out = kastell_args(
        &home,
        &[
            "schedule",
            "set",
            "--config",
            &config,
            "--calendar",
            "Mon..Fri 18:00",
        ],
    )
    .output()
    .expect("kastell");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing will start them")
            && stderr(&out).contains("no systemd user instance answers"),
        "{}",
        stderr(&out)
    );
    let shown = json_of(
        &kastell_args(&home, &["schedule", "show", "--json", "--config", &config])
            .output()
            .expect("kastell"),
    );
    assert_eq!(shown[0]["enabled"], false);
    assert_eq!(shown[0]["calendar"], "Mon..Fri 18:00");
    assert_eq!(
        shown[0]["ac_power_only"], true,
        "mains power only is the default"
    );
    assert!(shown[0]["next_run"].is_null());

    let bad = kastell_args(
        &home,
        &["schedule", "set", "--config", &config, "--at", "25:00"],
    )
    .output()
    .expect("kastell");
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("is not a time of day"),
        "{}",
        stderr(&bad)
    );
    let nonsense = kastell_args(
        &home,
        &[
            "schedule",
            "set",
            "--config",
            &config,
            "--calendar",
            "every blue moon",
        ],
    )
    .output()
    .expect("kastell");
    assert!(!nonsense.status.success());
    assert!(
        stderr(&nonsense).contains("systemd does not understand the calendar"),
        "{}",
        stderr(&nonsense)
    );
    // The schedule that was set is untouched by the refused ones.
    let kept = json_of(
        &kastell_args(&home, &["schedule", "show", "--json"])
            .output()
            .expect("kastell"),
    );
    assert_eq!(kept[0]["calendar"], "Mon..Fri 18:00");
}

#[test]
fn the_guides_anacron_job_is_found_and_switched_off_only_when_asked() {
    let home = Home::new("schedule-anacron");
    let config = home.config().display().to_string();
    let daily = home.home().join(".anacron/cron.daily");
    std::fs::create_dir_all(&daily).expect("anacron folder");
    let job = daily.join("borgmatic-user");
    std::fs::write(
        &job,
        "#!/usr/bin/env bash\nborgmatic create \\\n    --config \"${HOME}/.config/borgmatic/user.yaml\" \\\n    --stats\n",
    )
    .expect("job");
    let set = |extra: &[&str]| {
        let mut args = vec!["schedule", "set", "--config", config.as_str()];
        args.extend_from_slice(extra);
        kastell_args(&home, &args).output().expect("kastell")
    };
    let first = set(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("the anacron job") && stderr(&first).contains("--disable-other"),
        "{}",
        stderr(&first)
    );
    assert!(
        job.exists(),
        "nothing is switched off without the person's word"
    );
    let shown = json_of(
        &kastell_args(&home, &["schedule", "show", "--json"])
            .output()
            .expect("kastell"),
    );
    assert_eq!(shown[0]["other_schedules"][0]["kind"], "anacron");

    let moved = set(&["--disable-other"]);
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert!(!job.exists());
    assert!(daily.join("borgmatic-user.disabled-by-kastell").exists());
}

/// UPower's `OnBattery` and NetworkManager's `Metered`, as the real services answer them.
struct Power(Arc<AtomicBool>);

#[zbus::interface(name = "org.freedesktop.UPower")]
impl Power {
    #[zbus(property)]
    fn on_battery(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

struct Network(Arc<AtomicU32>);

#[zbus::interface(name = "org.freedesktop.NetworkManager")]
impl Network {
    #[zbus(property)]
    fn metered(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

#[test]
fn a_scheduled_run_on_battery_or_a_metered_network_is_skipped_recorded_and_said_once() {
    let home = Home::new("schedule-skip");
    home.create_repository();
    let config = home.config().display().to_string();
    let notifications = NotificationServer::start(&home.dir.path().join("desktop"));

    // A private bus in the place of the system bus, with UPower and NetworkManager on it.
    let mut system_bus = KillOnDrop(
        Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon"),
    );
    let mut address = String::new();
    BufReader::new(system_bus.0.stdout.take().expect("stdout"))
        .read_line(&mut address)
        .expect("bus address");
    let address = address.trim().to_string();
    let on_battery = Arc::new(AtomicBool::new(true));
    let metered = Arc::new(AtomicU32::new(1));
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let _services = runtime.block_on(async {
        let upower = zbus::connection::Builder::address(address.as_str())
            .name("org.freedesktop.UPower")
            .serve_at("/org/freedesktop/UPower", Power(on_battery.clone()))
            .build()
            .await
            .expect("UPower on the bus");
        let network = zbus::connection::Builder::address(address.as_str())
            .name("org.freedesktop.NetworkManager")
            .serve_at("/org/freedesktop/NetworkManager", Network(metered.clone()))
            .build()
            .await
            .expect("NetworkManager on the bus");
        (upower, network)
    });

    let scheduled_run = || {
        let mut cmd = kastell_args(
            &home,
            &[
                "backup",
                "--config",
                &config,
                "--trigger",
                "schedule",
                "--ac-power-only",
                "--skip-metered",
            ],
        );
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .envs(notifications.envs());
        cmd.output().expect("kastell backup")
    };

    let first = scheduled_run();
    assert!(
        first.status.success(),
        "a skip is not a failure: {}",
        stderr(&first)
    );
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("skipped: the computer runs on battery"),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let second = scheduled_run();
    assert!(second.status.success());
    on_battery.store(false, Ordering::SeqCst);
    let third = scheduled_run();
    assert!(
        String::from_utf8_lossy(&third.stdout).contains("the network connection is metered"),
        "{}",
        String::from_utf8_lossy(&third.stdout)
    );
    assert!(home.archives().is_empty(), "nothing was backed up");

    metered.store(2, Ordering::SeqCst);
    let fourth = scheduled_run();
    assert!(
        fourth.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&fourth.stdout),
        stderr(&fourth)
    );
    assert_eq!(
        home.archives().len(),
        1,
        "on mains power and unmetered, it backs up"
    );

    let runs = home.history();
    let outcomes: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap_or_default(),
                r["message"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("success", ""),
            ("skipped", "skipped: the network connection is metered"),
            ("skipped", "skipped: the computer runs on battery"),
            ("skipped", "skipped: the computer runs on battery"),
        ]
    );
    // Said once per reason: two notifications for three skips (the success is quiet).
    notifications.wait_for("network connection is metered", Duration::from_secs(10));
    let calls = notifications.calls();
    let skipped = calls
        .split("method call")
        .filter(|call| call.contains("skipped"))
        .count();
    assert_eq!(skipped, 2, "{calls}");
}

/// A helper process that goes when the test does, pass or fail.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A window in the place of Kastell's: owns `org.kde.kastell` and records the actions asked.
/// An action and its integer parameters, as the window was asked.
type ActionCall = (String, Vec<i64>);

struct WindowStandIn(Arc<std::sync::Mutex<Vec<ActionCall>>>);

#[zbus::interface(name = "org.freedesktop.Application")]
impl WindowStandIn {
    fn activate_action(
        &self,
        name: String,
        parameter: Vec<zbus::OwnedVariant>,
        _platform_data: std::collections::HashMap<String, zbus::OwnedVariant>,
    ) {
        let numbers = parameter
            .iter()
            .filter_map(|v| i64::try_from(v).ok())
            .collect();
        self.0.lock().expect("calls").push((name, numbers));
    }
}

#[test]
fn a_failed_scheduled_run_notifies_and_its_show_details_opens_the_run_in_the_window() {
    // No repository was created: the run fails.
    let home = Home::new("schedule-failure");
    let config = home.config().display().to_string();
    let notifications = NotificationServer::start(&home.dir.path().join("desktop"));
    let session = notifications
        .envs()
        .into_iter()
        .find(|(k, _)| k == "DBUS_SESSION_BUS_ADDRESS")
        .map(|(_, v)| v)
        .expect("bus address");
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let _window = runtime.block_on(async {
        zbus::connection::Builder::address(session.as_str())
            .name("org.kde.kastell")
            .serve_at("/org/kde/kastell", WindowStandIn(asked.clone()))
            .build()
            .await
            .expect("the stand-in window on the bus")
    });

    let run = home
        .kastell()
        .args(["backup", "--config", &config, "--trigger", "schedule"])
        .envs(notifications.envs())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kastell backup");
    let call = notifications.wait_for("failed", Duration::from_secs(120));
    assert!(call.contains("Show details"), "{call}");
    // The run waits for the answer; the person clicks the notification.
    let clicked = Command::new("dunstctl")
        .args(["action", "0"])
        .envs(notifications.envs())
        .output()
        .expect("dunstctl");
    assert!(clicked.status.success(), "{}", stderr(&clicked));
    let out = run.wait_with_output().expect("kastell backup ends");
    assert!(!out.status.success(), "the run failed");
    let runs = home.history();
    let run_id = runs[0]["id"].as_i64().expect("the run's id");
    assert_eq!(runs[0]["outcome"], "error");
    assert_eq!(
        *asked.lock().expect("calls"),
        vec![("show-run".to_string(), vec![run_id])],
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_repository_on_a_drive_is_backed_up_when_the_drive_comes_and_skipped_while_it_is_gone() {
    let home = Home::new("schedule-drive");
    let Some(mut drive) = LoopDrive::plug_in(home.dir.path()) else {
        eprintln!("skipped: loop devices (root) are needed to stand in for a USB disk");
        return;
    };
    // The repository lives on the drive.
    let on_drive = drive.mount_point.join("borg");
    let text = std::fs::read_to_string(home.config()).expect("config");
    let text = text.replace(
        &home.repo().display().to_string(),
        &on_drive.display().to_string(),
    );
    std::fs::write(home.config(), text).expect("config");
    home.create_repository();
    let uuid = drive.uuid();
    assert!(!uuid.is_empty());
    let config = home.config().display().to_string();

    let manager = UserManager::start(&home);
    set_daily_at_0315(&manager, &home, &config, &["--when-plugged-in", "local"]);
    let shown = json_of(&manager.run(&kastell_args(&home, &["schedule", "show", "--json"])));
    assert_eq!(shown[0]["drive"]["uuid"], uuid.as_str(), "{shown}");
    assert_eq!(shown[0]["drive"]["repository"], "local");
    let timer = PathBuf::from(shown[0]["timer_unit"].as_str().expect("timer"));
    let name = timer
        .file_stem()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let drive_unit = format!("{name}-drive.service");
    let device_unit = format!("dev-disk-by\\x2duuid-{}.device", uuid.replace('-', "\\x2d"));
    // Enabled into the device unit's wants: systemd starts it when the drive appears.
    let wants = home
        .unit_folder()
        .join(format!("{device_unit}.wants"))
        .join(&drive_unit);
    assert!(wants.exists(), "{} is missing", wants.display());
    let enabled =
        manager.run(Command::new("systemctl").args(["--user", "is-enabled", &drive_unit]));
    assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "enabled");

    // What the device unit starts, started by hand: the drive's repository is backed up.
    let started = manager.run(Command::new("systemctl").args(["--user", "start", &drive_unit]));
    assert!(started.status.success(), "{}", stderr(&started));
    assert_eq!(home.archives_in(&on_drive).len(), 1);
    let runs = home.history();
    assert_eq!(runs[0]["trigger"], "drive", "{runs:?}");
    assert_eq!(runs[0]["outcome"], "success", "{runs:?}");

    let off = manager.run(&kastell_args(
        &home,
        &["schedule", "off", "--config", &config],
    ));
    assert!(off.status.success(), "off: {}", stderr(&off));
    assert!(!wants.exists() && !home.unit_folder().join(&drive_unit).exists());
    drop(manager);

    // The drive unplugged: the daily run is skipped with its reason, not failed.
    drive.unplug();
    let daily = kastell_args(
        &home,
        &[
            "backup",
            "--config",
            &config,
            "--trigger",
            "schedule",
            "--no-notify",
            "--drive",
            &format!("local={uuid}"),
        ],
    )
    .output()
    .expect("kastell backup");
    assert!(daily.status.success(), "{}", stderr(&daily));
    assert!(
        String::from_utf8_lossy(&daily.stdout).contains("the backup drive is not plugged in"),
        "{}",
        String::from_utf8_lossy(&daily.stdout)
    );
    assert_eq!(home.history()[0]["outcome"], "skipped");
}
