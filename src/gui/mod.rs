//! The window: a thin cxx-qt bridge (one file per QObject in `bridge/`) over the Qt-free core,
//! and the QML in `qml/`.

pub mod bridge;
mod latest;
mod list_rows;
mod runtime;
mod throttle;

use cxx_qt_lib::{QGuiApplication, QQmlApplicationEngine, QQuickStyle, QString, QUrl};
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the Qt event loop on the main thread; async work goes to `runtime`.
pub fn run(
    runtime: tokio::runtime::Runtime,
    config: Option<PathBuf>,
    request: crate::desktop::app_bus::Request,
) -> ExitCode {
    // One window per session: the open one comes to the front (and shows the run asked for).
    // A window for another config (`--config`) is a window of its own.
    if config.is_none()
        && runtime
            .block_on(crate::desktop::app_bus::hand_over(request))
            .unwrap_or(false)
    {
        return ExitCode::SUCCESS;
    }
    bridge::window_requests::set_startup_request(request);
    runtime::install(runtime.handle().clone());
    // (Stale mounts a crashed Kastell left are cleaned by the window's MountManager, which
    // says so.)
    // Terminated (logout, kill): unmount what this window mounted before going.
    runtime.spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = tokio::task::spawn_blocking(unmount_all).await;
        std::process::exit(0);
    });
    bridge::repository_list::set_startup_config(config);

    // Plasma picks its own style (org.kde.desktop) through the platform theme; elsewhere
    // Fusion looks native enough and supports everything the pages use.
    if !on_plasma() && std::env::var_os("QT_QUICK_CONTROLS_STYLE").is_none() {
        QQuickStyle::set_style(&QString::from("Fusion"));
    }

    let mut app = QGuiApplication::new();
    QGuiApplication::set_desktop_file_name(&QString::from("org.kde.kastell"));
    if let Some(mut app) = app.as_mut() {
        app.as_mut().set_application_name(&QString::from("kastell"));
        app.as_mut()
            .set_application_display_name(&QString::from("Kastell"));
    }
    let mut engine = QQmlApplicationEngine::new();
    if let Some(engine) = engine.as_mut() {
        engine.load(&QUrl::from("qrc:/qt/qml/org/kde/kastell/qml/Main.qml"));
    }
    let code = match app.as_mut() {
        Some(app) => app.exec(),
        None => 1,
    };
    unmount_all();
    // Outstanding borg calls are dropped with the runtime; their processes are killed
    // (kill_on_drop) rather than left running.
    drop(engine);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Kastell unmounts what it mounted when it quits (a busy mount is detached).
fn unmount_all() {
    for line in crate::mount::manager::unmount_all() {
        eprintln!("kastell: {line}");
    }
}

/// Running in a Plasma session (XDG_CURRENT_DESKTOP names KDE).
pub(crate) fn on_plasma() -> bool {
    std::env::var("XDG_CURRENT_DESKTOP")
        .map(|d| d.split(':').any(|p| p.eq_ignore_ascii_case("KDE")))
        .unwrap_or(false)
}
