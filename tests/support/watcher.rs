//! A StatusNotifierWatcher stand-in (Plasma's tray protocol, as much of it as an item needs to
//! register): owns nothing itself; serve it as `org.kde.StatusNotifierWatcher` at
//! `/StatusNotifierWatcher`. It says a host is there and keeps (and prints) each item's bus name.
//! Used by the tray test and by `examples/tray_watcher.rs` for the benchmark.

use std::sync::{Arc, Mutex};

pub struct Watcher(pub Arc<Mutex<Vec<String>>>);

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        // An item may give its bus name or only its object path (then the sender is the name).
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
