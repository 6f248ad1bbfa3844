//! `AppPreferences`: Kastell's own preferences (notifications, the tray at login), saved as the
//! user changes them.

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
        #[qproperty(bool, notify_on_success)]
        #[qproperty(i32, stale_after_days)]
        /// The tray icon starts at login (its XDG autostart entry exists).
        #[qproperty(bool, tray_autostart)]
        #[qproperty(QString, error_text)]
        /// A standing warning: keys the first run did not save ("" when none).
        #[qproperty(QString, keys_warning)]
        type AppPreferences = super::AppPreferencesRust;

        /// Reads the preferences again (another part of Kastell changed them).
        #[qinvokable]
        fn reload(self: Pin<&mut AppPreferences>);

        /// Writes the current values to `~/.config/kastell/preferences.json`.
        #[qinvokable]
        fn save(self: Pin<&mut AppPreferences>);

        /// Writes or removes the tray's autostart entry as `trayAutostart` says.
        #[qinvokable]
        fn apply_tray_autostart(self: Pin<&mut AppPreferences>);
    }
}

use crate::preferences::Preferences;
use core::pin::Pin;
use cxx_qt_lib::QString;

pub struct AppPreferencesRust {
    notify_on_success: bool,
    stale_after_days: i32,
    tray_autostart: bool,
    error_text: QString,
    keys_warning: QString,
}

impl Default for AppPreferencesRust {
    fn default() -> Self {
        let p = Preferences::load();
        AppPreferencesRust {
            notify_on_success: p.notify_on_success,
            stale_after_days: i32::try_from(p.stale_after_hours / 24).unwrap_or(2).max(1),
            tray_autostart: crate::desktop::tray::autostart_file().is_some_and(|f| f.exists()),
            error_text: QString::default(),
            keys_warning: QString::from(&crate::preferences::keys_warning(&p)),
        }
    }
}

impl qobject::AppPreferences {
    pub fn reload(self: Pin<&mut Self>) {
        let warning = crate::preferences::keys_warning(&Preferences::load());
        self.set_keys_warning(QString::from(&warning));
    }

    pub fn save(mut self: Pin<&mut Self>) {
        let days = self.stale_after_days.clamp(1, 365);
        let preferences = Preferences {
            notify_on_success: self.notify_on_success,
            stale_after_hours: u32::try_from(days).unwrap_or(2) * 24,
            ..Preferences::load()
        };
        let error = match preferences.save() {
            Ok(()) => String::new(),
            Err(e) => format!("The preferences could not be saved: {e}"),
        };
        self.as_mut().set_error_text(QString::from(&error));
    }

    pub fn apply_tray_autostart(mut self: Pin<&mut Self>) {
        let error = match crate::desktop::tray::set_autostart(self.tray_autostart) {
            Ok(()) => String::new(),
            Err(e) => format!("The tray's start at login could not be changed: {e}"),
        };
        self.as_mut().set_error_text(QString::from(&error));
    }
}
