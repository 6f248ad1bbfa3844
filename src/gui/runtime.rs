//! The tokio runtime started in `main`, reachable from bridge objects.

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::Handle;

static HANDLE: OnceLock<Handle> = OnceLock::new();

pub fn install(handle: Handle) {
    let _ = HANDLE.set(handle);
}

/// Spawns core work off the Qt thread. Before `install` (never in practice) it runs on a
/// throwaway thread so nothing is silently dropped.
pub fn spawn<F>(future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match HANDLE.get() {
        Some(handle) => {
            handle.spawn(future);
        }
        None => {
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(future);
                }
            });
        }
    }
}
