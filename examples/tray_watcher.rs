//! A StatusNotifierWatcher stand-in for measuring the tray where no Plasma runs: it owns
//! `org.kde.StatusNotifierWatcher` on the session bus and prints each item's bus name on a
//! line. `scripts/bench-tray.py` runs it.

#[path = "../tests/support/watcher.rs"]
mod watcher;

#[tokio::main(flavor = "current_thread")]
async fn main() -> zbus::Result<()> {
    let _bus = zbus::connection::Builder::session()
        .name("org.kde.StatusNotifierWatcher")
        .serve_at(
            "/StatusNotifierWatcher",
            watcher::Watcher(Default::default()),
        )
        .build()
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}
