//! A backup in Plasma's job list: a JobViewServer of the test's own (the `org.kde.JobViewServerV2`
//! and `org.kde.JobViewV3` interfaces Plasma serves) on a private session bus sees the job
//! asked for, its repository and progress, and, after it asks to cancel, the run's end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::home::Home;
use crate::support::stderr;

type Log = Arc<Mutex<Vec<String>>>;

fn say(log: &Log, line: String) {
    if let Ok(mut log) = log.lock() {
        log.push(line);
    }
}

fn text(value: Option<&zbus::OwnedVariant>) -> String {
    value
        .and_then(|v| String::try_from(v.clone()).ok())
        .unwrap_or_default()
}

struct Server {
    log: Log,
    views: u32,
}

#[zbus::interface(name = "org.kde.JobViewServerV2")]
impl Server {
    #[zbus(name = "requestView")]
    async fn request_view(
        &mut self,
        desktop_entry: String,
        capabilities: i32,
        hints: HashMap<String, zbus::OwnedVariant>,
        #[zbus(object_server)] objects: &zbus::ObjectServer,
    ) -> zbus::OwnedObjectPath {
        self.views += 1;
        let path = format!("/JobViewServer/JobView_{}", self.views);
        say(
            &self.log,
            format!(
                "requestView {desktop_entry} {capabilities} {}",
                text(hints.get("title"))
            ),
        );
        let view = View {
            log: self.log.clone(),
            asked_to_cancel: false,
        };
        let _ = objects.at(path.as_str(), view).await;
        zbus::OwnedObjectPath::try_from(path).expect("a path")
    }
}

struct View {
    log: Log,
    asked_to_cancel: bool,
}

#[zbus::interface(name = "org.kde.JobViewV3")]
impl View {
    /// The person presses Cancel as soon as the job shows progress.
    #[zbus(name = "update")]
    async fn update(
        &mut self,
        hints: HashMap<String, zbus::OwnedVariant>,
        #[zbus(signal_emitter)] emitter: zbus::object_server::SignalEmitter<'_>,
    ) {
        let mut keys: Vec<&String> = hints.keys().collect();
        keys.sort();
        say(
            &self.log,
            format!("update {keys:?} {}", text(hints.get("descriptionValue1"))),
        );
        if hints.contains_key("processedBytes") && !self.asked_to_cancel {
            self.asked_to_cancel = true;
            say(&self.log, "cancelRequested".into());
            let _ = emitter.cancel_requested().await;
        }
    }

    #[zbus(name = "terminate")]
    fn terminate(
        &self,
        error_code: u32,
        _error_message: String,
        _hints: HashMap<String, zbus::OwnedVariant>,
    ) {
        say(&self.log, format!("terminate {error_code}"));
    }

    #[zbus(signal, name = "cancelRequested")]
    async fn cancel_requested(emitter: &zbus::object_server::SignalEmitter<'_>)
        -> zbus::Result<()>;
}

#[test]
fn a_backup_shows_in_plasmas_job_list_and_its_cancel_there_stops_it() {
    let home = Home::new("job-view");
    home.create_repository();
    // Enough new data that the run is still going when the job list's Cancel arrives.
    let big = home.home().join("Documents/big.bin");
    let random = Command::new("head")
        .args(["-c", "400M", "/dev/urandom"])
        .stdout(std::fs::File::create(&big).expect("big file"))
        .status()
        .expect("head");
    assert!(random.success());

    let mut bus = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dbus-daemon");
    let mut address = String::new();
    BufReader::new(bus.stdout.take().expect("stdout"))
        .read_line(&mut address)
        .expect("bus address");
    let address = address.trim().to_string();
    let log: Log = Arc::default();
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    let _server = runtime.block_on(async {
        zbus::connection::Builder::address(address.as_str())
            .name("org.kde.JobViewServer")
            .serve_at(
                "/JobViewServer",
                Server {
                    log: log.clone(),
                    views: 0,
                },
            )
            .build()
            .await
            .expect("the job view server on the bus")
    });

    let config = home.config().display().to_string();
    let out = home
        .kastell()
        .args(["backup", "--no-notify", "--config", &config])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .output()
        .expect("kastell backup");
    let _ = bus.kill();
    let _ = bus.wait();
    let said = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(out.status.code(), Some(130), "{}\n{said:#?}", stderr(&out));
    assert_eq!(said[0], "requestView org.kde.kastell 1 Backing up “user”");
    assert!(
        said.iter()
            .any(|l| l.contains("descriptionValue1") && l.ends_with(" local")),
        "{said:#?}"
    );
    assert!(said.iter().any(|l| l == "cancelRequested"), "{said:#?}");
    assert_eq!(
        said.last().map(String::as_str),
        Some("terminate 1"),
        "{said:#?}"
    );
    let runs = home.history();
    assert_eq!(runs[0]["outcome"], "cancelled");
}
