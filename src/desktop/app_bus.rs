//! One window per session: the window owns `org.kde.kastell` on the session bus and answers
//! `org.freedesktop.Application` (the freedesktop/KDE convention for "activate the running
//! instance"). A second `kastell`, the tray's *Open Kastell* and a notification's *Show
//! details* hand their request to it (raise the window, show a run of the history); only when
//! no window runs is a new one started.

use std::collections::HashMap;
use std::path::PathBuf;

use zbus::OwnedVariant as OwnedValue;

pub const BUS_NAME: &str = "org.kde.kastell";
pub const OBJECT_PATH: &str = "/org/kde/kastell";
const INTERFACE: &str = "org.freedesktop.Application";
/// The action name for "show this run of the history"; its parameter is the run id (int64).
pub const SHOW_RUN: &str = "show-run";

/// What a running window is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Come to the front.
    Activate,
    /// Come to the front on the History tab with run `id` open.
    ShowRun(i64),
}

impl Request {
    /// The window's command-line arguments that ask the same of a new window.
    pub fn window_args(self) -> Vec<String> {
        match self {
            Request::Activate => Vec::new(),
            Request::ShowRun(id) => vec!["--show-run".into(), id.to_string()],
        }
    }
}

/// The window's side: `org.freedesktop.Application` forwarding every request.
struct Application<F: Fn(Request) + Send + Sync + 'static> {
    forward: F,
}

#[zbus::interface(name = "org.freedesktop.Application")]
impl<F: Fn(Request) + Send + Sync + 'static> Application<F> {
    fn activate(&self, _platform_data: HashMap<String, OwnedValue>) {
        (self.forward)(Request::Activate);
    }

    /// Kastell opens no files or URLs; being asked to is the same as being activated.
    fn open(&self, _uris: Vec<String>, _platform_data: HashMap<String, OwnedValue>) {
        (self.forward)(Request::Activate);
    }

    fn activate_action(
        &self,
        action_name: String,
        parameter: Vec<OwnedValue>,
        _platform_data: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<()> {
        match action_name.as_str() {
            SHOW_RUN => {
                let id = parameter
                    .first()
                    .and_then(|v| i64::try_from(v).ok())
                    .ok_or_else(|| {
                        zbus::fdo::Error::InvalidArgs("show-run takes the run id (int64)".into())
                    })?;
                (self.forward)(Request::ShowRun(id));
                Ok(())
            }
            other => Err(zbus::fdo::Error::NotSupported(format!(
                "Kastell has no action “{other}”"
            ))),
        }
    }
}

/// Why the window could not become the session's Kastell.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("another Kastell window owns {BUS_NAME}")]
    Taken,
    #[error("the session bus: {0}")]
    Bus(#[from] zbus::Error),
}

/// Owns [`BUS_NAME`] for as long as the returned connection lives; `forward` is called (on
/// the bus's thread) for every request.
pub async fn serve(
    forward: impl Fn(Request) + Send + Sync + 'static,
) -> Result<zbus::Connection, ServeError> {
    let bus = zbus::Connection::session().await?;
    bus.object_server()
        .at(OBJECT_PATH, Application { forward })
        .await?;
    let flags = zbus::fdo::RequestNameFlags::DO_NOT_QUEUE;
    match bus.request_name_with_flags(BUS_NAME, flags).await {
        Ok(zbus::fdo::RequestNameReply::PrimaryOwner)
        | Ok(zbus::fdo::RequestNameReply::AlreadyOwner) => Ok(bus),
        Ok(_) | Err(zbus::Error::NameTaken) => Err(ServeError::Taken),
        Err(e) => Err(e.into()),
    }
}

/// Hands `request` to the window that runs in this session. `Ok(false)` when none runs (or
/// there is no session bus): then the caller opens one.
pub async fn hand_over(request: Request) -> zbus::Result<bool> {
    let bus = zbus::Connection::session().await?;
    let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
    let name = zbus::names::BusName::try_from(BUS_NAME)?;
    if !dbus.name_has_owner(name).await? {
        return Ok(false);
    }
    let app = zbus::Proxy::new(&bus, BUS_NAME, OBJECT_PATH, INTERFACE).await?;
    let none: HashMap<&str, zbus::Variant<'_>> = HashMap::new();
    match request {
        Request::Activate => app.call_method("Activate", &(none,)).await?,
        Request::ShowRun(id) => {
            let parameter = vec![zbus::Variant::from(id)];
            app.call_method("ActivateAction", &(SHOW_RUN, parameter, none))
                .await?
        }
    };
    Ok(true)
}

/// The window shows `request`: the running one, or a new one started detached.
pub async fn open_window(request: Request) -> std::io::Result<()> {
    if hand_over(request).await.unwrap_or(false) {
        return Ok(());
    }
    let program: PathBuf = crate::process::window_program();
    std::process::Command::new(program)
        .args(request.window_args())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}
