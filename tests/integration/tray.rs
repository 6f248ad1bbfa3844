//! The tray (`kastell tray`) through D-Bus: a StatusNotifierWatcher of the test's own on a
//! private session bus (no Plasma runs here; the watcher only has to own the name and accept
//! the item), dunst for notifications, and real backups with borgmatic.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::desktop::NotificationServer;
use crate::support::home::Home;
use crate::support::watcher::Watcher;
use crate::support::{artifacts_dir, stderr, tool};

/// What the item says, read fresh each time (no property cache: the SNI signals are not
/// PropertiesChanged).
#[derive(Debug, Clone, PartialEq)]
struct Item {
    status: String,
    icon: String,
    title: String,
    description: String,
}

type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);

async fn read_item(bus: &zbus::Connection, name: &str) -> zbus::Result<Item> {
    let proxy: zbus::Proxy<'_> = zbus::proxy::Builder::new(bus)
        .destination(name.to_string())
        .path("/StatusNotifierItem")
        .interface("org.kde.StatusNotifierItem")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    // The properties are read one call each, so the item can change between two of them: a
    // reading counts once the same one comes twice in a row.
    let mut previous: Option<Item> = None;
    for _ in 0..20 {
        let tip: ToolTip = proxy.get_property("ToolTip").await?;
        let item = Item {
            status: proxy.get_property("Status").await?,
            icon: proxy.get_property("IconName").await?,
            title: tip.2,
            description: tip.3,
        };
        if previous.as_ref() == Some(&item) {
            return Ok(item);
        }
        previous = Some(item);
    }
    previous.ok_or_else(|| zbus::Error::Failure("the item never read".into()))
}

/// Clicks the menu entry labelled `label`, as the tray's host does (dbusmenu `Event`).
async fn click(bus: &zbus::Connection, name: &str, label: &str) -> zbus::Result<()> {
    let menu: zbus::Proxy<'_> = zbus::proxy::Builder::new(bus)
        .destination(name.to_string())
        .path("/MenuBar")
        .interface("com.canonical.dbusmenu")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let ids: Vec<i32> = (1..12).collect();
    let labels: Vec<(i32, HashMap<String, zbus::OwnedVariant>)> = menu
        .call("GetGroupProperties", &(ids, vec!["label"]))
        .await?;
    let id = labels
        .iter()
        .find(|(_, props)| {
            props
                .get("label")
                .and_then(|v| String::try_from(v.clone()).ok())
                .is_some_and(|l| l == label)
        })
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no menu entry {label:?} in {labels:?}"));
    let _: () = menu
        .call("Event", &(id, "clicked", zbus::Variant::from(0i32), 0u32))
        .await?;
    Ok(())
}

/// Kastell's window and the file manager, stood in for on the bus: what they were asked.
#[derive(Clone, Default)]
struct Asked(Arc<Mutex<Vec<String>>>);

impl Asked {
    fn said(&self) -> Vec<String> {
        self.0.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

struct WindowStandIn(Asked);

#[zbus::interface(name = "org.freedesktop.Application")]
impl WindowStandIn {
    fn activate(&self, _platform_data: HashMap<String, zbus::OwnedVariant>) {
        if let Ok(mut asked) = self.0 .0.lock() {
            asked.push("activate".into());
        }
    }
}

struct FileManagerStandIn(Asked);

#[zbus::interface(name = "org.freedesktop.FileManager1")]
impl FileManagerStandIn {
    fn show_folders(&self, uris: Vec<String>, _startup_id: String) {
        if let Ok(mut asked) = self.0 .0.lock() {
            asked.extend(uris);
        }
    }
}

struct Tray(Child);

impl Drop for Tray {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn resident_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn the_tray_shows_each_state_its_menu_backs_up_and_a_borgmatic_run_from_a_shell_counts() {
    let home = Home::new("tray");
    home.create_repository();
    let config = home.config().display().to_string();
    let desktop = NotificationServer::start(&home.dir.path().join("desktop"));
    let session = desktop
        .envs()
        .into_iter()
        .find(|(k, _)| k == "DBUS_SESSION_BUS_ADDRESS")
        .map(|(_, v)| v)
        .expect("bus address");

    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let registered = Arc::new(Mutex::new(Vec::new()));
    let bus = runtime.block_on(async {
        zbus::connection::Builder::address(session.as_str())
            .name("org.kde.StatusNotifierWatcher")
            .serve_at("/StatusNotifierWatcher", Watcher(registered.clone()))
            .build()
            .await
            .expect("the watcher on the bus")
    });

    let tray = Tray(
        home.kastell()
            .args(["tray", "--check-repositories-every", "2"])
            .envs(desktop.envs())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kastell tray"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let name = loop {
        if let Some(name) = registered.lock().ok().and_then(|r| r.first().cloned()) {
            break name;
        }
        assert!(Instant::now() < deadline, "the tray never registered");
        std::thread::sleep(Duration::from_millis(100));
    };
    let read = || {
        runtime
            .block_on(read_item(&bus, &name))
            .expect("the item's properties")
    };
    let wait_for = |what: &str, ok: &dyn Fn(&Item) -> bool| -> Item {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let item = read();
            if ok(&item) {
                return item;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the item still says {item:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let dumps = artifacts_dir();
    let dump = |state: &str, item: &Item| {
        let _ = std::fs::write(
            dumps.join(format!("tray-{state}.txt")),
            format!(
                "Status: {}\nIconName: {}\nToolTip title: {}\nToolTip description:\n{}\n",
                item.status, item.icon, item.title, item.description
            ),
        );
    };

    let fresh = read();
    assert_eq!(fresh.status, "Active");
    assert_eq!(fresh.icon, "org.kde.kastell");
    assert_eq!(fresh.description, "local: never backed up");

    // The menu's "Back up now" starts a backup: the icon says so while it runs, then ok.
    runtime
        .block_on(click(&bus, &name, "Back up now"))
        .expect("menu click");
    let running = wait_for("a backup from the menu runs", &|i| {
        i.icon == "kastell-running"
    });
    assert!(
        running.description.starts_with("local: backing up"),
        "{running:?}"
    );
    dump("running", &running);
    let ok = wait_for("the backup ends well", &|i| i.icon == "kastell-ok");
    assert_eq!(ok.status, "Active");
    assert_eq!(ok.title, "Kastell: backups are up to date");
    assert_eq!(ok.description, "local: backed up just now");
    dump("ok", &ok);
    let runs = home.history();
    assert_eq!(runs[0]["trigger"], "tray");
    assert_eq!(runs[0]["outcome"], "success");
    assert_eq!(home.archives().len(), 1);

    // "Open Kastell" brings the open window to the front (it owns org.kde.kastell).
    let window = Asked::default();
    let files = Asked::default();
    let _stand_ins = runtime.block_on(async {
        zbus::connection::Builder::address(session.as_str())
            .name("org.kde.kastell")
            .serve_at("/org/kde/kastell", WindowStandIn(window.clone()))
            .name("org.freedesktop.FileManager1")
            .serve_at(
                "/org/freedesktop/FileManager1",
                FileManagerStandIn(files.clone()),
            )
            .build()
            .await
            .expect("the stand-ins on the bus")
    });
    runtime
        .block_on(click(&bus, &name, "Open Kastell"))
        .expect("menu click");
    let deadline = Instant::now() + Duration::from_secs(20);
    while window.said().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(window.said(), vec!["activate".to_string()]);

    // "Mount latest archive" mounts it and shows it in the file manager.
    runtime
        .block_on(click(&bus, &name, "Mount latest archive"))
        .expect("menu click");
    let deadline = Instant::now() + Duration::from_secs(60);
    while files.said().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = files.said();
    if shown.len() != 1 {
        let mut tray = tray;
        let _ = tray.0.kill();
        let mut said = String::new();
        if let Some(mut err) = tray.0.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut err, &mut said);
        }
        panic!("the file manager was asked for {shown:?}; the tray said:\n{said}");
    }
    let mountpoint = std::path::PathBuf::from(
        shown[0]
            .strip_prefix("file://")
            .expect("a file URI")
            .replace("%20", " "),
    );
    assert!(
        crate::support::is_mounted(&mountpoint),
        "{} is not mounted",
        mountpoint.display()
    );
    let archive = home.archives().pop().expect("the archive");
    let listed: Vec<String> = std::fs::read_dir(&mountpoint)
        .expect("the mounted archive lists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!listed.is_empty(), "{archive} mounted empty");
    let unmounted = home
        .kastell()
        .arg("umount")
        .arg(&mountpoint)
        .output()
        .expect("kastell umount");
    assert!(unmounted.status.success(), "{}", stderr(&unmounted));

    // A failing run (the repository is gone): attention, with the reason.
    let moved = home.dir.path().join("repo-away");
    std::fs::rename(home.repo(), &moved).expect("move the repository away");
    let failed_run = home
        .kastell()
        .args(["backup", "--no-notify", "--config", &config])
        .output()
        .expect("kastell backup");
    assert!(!failed_run.status.success());
    let failed = wait_for("the failure shows", &|i| i.icon == "kastell-failed");
    assert_eq!(failed.status, "NeedsAttention");
    assert_eq!(failed.title, "Kastell: a backup failed");
    assert!(
        failed
            .description
            .starts_with("local: last backup failed (just now): ")
            && failed.description.ends_with("; backed up just now"),
        "{failed:?}"
    );
    dump("failed", &failed);

    // borgmatic run from a shell, not by Kastell: the tray finds the new archive in the
    // repository, and the failure is over.
    std::fs::rename(&moved, home.repo()).expect("move the repository back");
    std::thread::sleep(Duration::from_millis(1100));
    let borg_dir = tool("borg").parent().expect("dir").display().to_string();
    let by_hand = Command::new(tool("borgmatic"))
        .arg("--config")
        .arg(home.config())
        .arg("create")
        .env_clear()
        .envs(home.login_env())
        .env("PATH", format!("{borg_dir}:/usr/bin:/bin"))
        .output()
        .expect("borgmatic create");
    assert!(by_hand.status.success(), "{}", stderr(&by_hand));
    let newest = home.archives().last().cloned().expect("an archive");
    let recovered = wait_for("the shell's archive counts", &|i| i.icon == "kastell-ok");
    assert_eq!(recovered.status, "Active");
    assert_eq!(recovered.description, "local: backed up just now");
    let status = home
        .kastell()
        .args(["status", "--json"])
        .output()
        .expect("kastell status");
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(status[0]["newest_archive"]["name"], newest.as_str());
    assert_eq!(status[0]["health"], "ok");
    assert_eq!(
        status[0]["last_run"]["outcome"], "error",
        "Kastell's own last run"
    );

    // Measured, not asserted (a debug build with Qt linked is far from the release one):
    // scripts/bench-tray.py and BENCHMARKS.md have the numbers.
    println!(
        "tray resident memory after the runs: {} kB",
        resident_kb(tray.0.id())
    );
    drop(tray);
}
