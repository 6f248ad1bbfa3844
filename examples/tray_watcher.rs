//! A StatusNotifierWatcher stand-in for measuring the tray where no Plasma runs: it owns
//! `org.kde.StatusNotifierWatcher` on the session bus, accepts items, says a host is there,
//! and prints each item's bus name on a line. `scripts/bench-tray.py` runs it.

use std::sync::{Arc, Mutex};

struct Watcher(Arc<Mutex<Vec<String>>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        let name = match service.starts_with('/') {
            true => header.sender().map(|s| s.to_string()).unwrap_or_default(),
            false => service.to_string(),
        };
        println!("{name}");
        if let Ok(mut items) = self.0.lock() {
            items.push(name);
        }
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.0.lock().map(|i| i.clone()).unwrap_or_default()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> zbus::Result<()> {
    let _bus = zbus::connection::Builder::session()
        .name("org.kde.StatusNotifierWatcher")
        .serve_at("/StatusNotifierWatcher", Watcher(Arc::default()))
        .build()
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}
