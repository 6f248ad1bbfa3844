//! `WindowRequests`: what others ask of the open window. The window owns `org.kde.kastell`
//! on the session bus (`desktop::app_bus`); a second `kastell`, the tray's *Open Kastell* and
//! a scheduled run's *Show details* arrive here as signals, as does `--show-run` given to
//! this window itself.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[qml_element]
        type WindowRequests = super::WindowRequestsRust;

        /// Owns the bus name and passes on the window's own `--show-run`. Called once the
        /// window is loaded.
        #[qinvokable]
        fn listen(self: Pin<&mut WindowRequests>);

        /// Come to the front.
        #[qsignal]
        fn activate_requested(self: Pin<&mut WindowRequests>);

        /// Show run `run_id` of the history; `config_path` and `repository` are the config
        /// and first repository it ran for ("" when the history no longer has it).
        #[qsignal]
        fn run_requested(
            self: Pin<&mut WindowRequests>,
            run_id: i32,
            config_path: QString,
            repository: QString,
        );
    }

    impl cxx_qt::Threading for WindowRequests {}
}

use crate::desktop::app_bus::{self, Request};
use crate::gui::runtime;
use crate::history::History;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::QString;
use std::sync::OnceLock;

static STARTUP_REQUEST: OnceLock<Request> = OnceLock::new();

/// What the window was started to show (`--show-run`), handed over once it listens.
pub fn set_startup_request(request: Request) {
    let _ = STARTUP_REQUEST.set(request);
}

#[derive(Default)]
pub struct WindowRequestsRust {
    /// Holds the bus name for the window's life.
    bus: Option<zbus::Connection>,
}

/// The config and first repository of run `run_id`, for selecting them before the run.
fn run_place(run_id: i64) -> (String, String) {
    History::open_default()
        .ok()
        .and_then(|h| h.run(run_id).ok().flatten())
        .map(|run| {
            let repository = run
                .repositories
                .first()
                .map(|r| r.repository.clone())
                .unwrap_or_default();
            (run.config, repository)
        })
        .unwrap_or_default()
}

impl qobject::WindowRequests {
    pub fn listen(mut self: Pin<&mut Self>) {
        if self.bus.is_some() {
            return;
        }
        if let Some(request) = STARTUP_REQUEST.get() {
            self.as_mut().deliver(*request);
        }
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let forward_thread = qt_thread.clone();
            let served = app_bus::serve(move |request| {
                let _ = forward_thread.queue(move |obj| obj.deliver(request));
            })
            .await;
            match served {
                Ok(bus) => {
                    let _ = qt_thread.queue(move |mut obj| obj.as_mut().rust_mut().bus = Some(bus));
                }
                // Another window was started alongside (or there is no session bus): this
                // one still works, it only is not the one others talk to.
                Err(e) => eprintln!("kastell: {e}"),
            }
        });
    }

    fn deliver(self: Pin<&mut Self>, request: Request) {
        match request {
            Request::Activate => self.activate_requested(),
            Request::ShowRun(run_id) => {
                let (config, repository) = run_place(run_id);
                self.run_requested(
                    i32::try_from(run_id).unwrap_or(0),
                    QString::from(&config),
                    QString::from(&repository),
                );
            }
        }
    }
}
