//! A real notification server for tests: a private D-Bus session bus, Xvfb, dunst owning
//! `org.freedesktop.Notifications`, and dbus-monitor recording every `Notify` call.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NotificationServer {
    pub bus_address: String,
    pub display: String,
    monitor_log: PathBuf,
    children: Vec<Child>,
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run `make setup-test`)"))
}

impl NotificationServer {
    pub fn start(dir: &Path) -> NotificationServer {
        std::fs::create_dir_all(dir).expect("dir");
        let mut children = Vec::new();

        // Xvfb picks a free display and writes its number to the fd we give it (stdout).
        let mut xvfb = spawn(
            Command::new("Xvfb")
                .args([
                    "-displayfd",
                    "1",
                    "-screen",
                    "0",
                    "800x600x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().expect("xvfb stdout"))
            .read_line(&mut line)
            .expect("Xvfb display number");
        let display = format!(":{}", line.trim());
        children.push(xvfb);

        let mut bus = spawn(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let mut address = String::new();
        BufReader::new(bus.stdout.take().expect("bus stdout"))
            .read_line(&mut address)
            .expect("bus address");
        let bus_address = address.trim().to_string();
        children.push(bus);

        let monitor_log = dir.join("notify-calls.txt");
        let log = std::fs::File::create(&monitor_log).expect("monitor log");
        children.push(spawn(
            Command::new("dbus-monitor")
                .arg("--address")
                .arg(&bus_address)
                .arg("interface='org.freedesktop.Notifications',member='Notify'")
                .stdout(log)
                .stderr(Stdio::null()),
        ));

        let dunstrc = dir.join("dunstrc");
        std::fs::write(&dunstrc, "[global]\n    font = Monospace 8\n").expect("dunstrc");
        children.push(spawn(
            Command::new("dunst")
                .arg("-config")
                .arg(&dunstrc)
                .env("DISPLAY", &display)
                .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ));
        let server = NotificationServer {
            bus_address,
            display,
            monitor_log,
            children,
        };
        server.wait_for_name("org.freedesktop.Notifications");
        server
    }

    fn wait_for_name(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("dbus-send")
                .arg(format!("--bus={}", self.bus_address))
                .args([
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{name}"))
                .output()
                .expect("dbus-send");
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not appear on the bus"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Environment that sends a process's notifications here.
    pub fn envs(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".into(), self.bus_address.clone()),
            ("DISPLAY".into(), self.display.clone()),
        ]
    }

    /// Everything dbus-monitor saw of `Notify` calls so far.
    pub fn calls(&self) -> String {
        std::fs::read_to_string(&self.monitor_log).unwrap_or_default()
    }

    /// Waits until a `Notify` call containing `text` was made; returns the call's text.
    pub fn wait_for(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls();
            if let Some(call) = calls.split("method call").find(|call| call.contains(text)) {
                return call.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no notification containing {text:?}; Notify calls seen:\n{calls}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
