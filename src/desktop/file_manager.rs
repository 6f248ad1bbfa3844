//! "Open in Dolphin": asks the desktop's file manager to show a folder through
//! `org.freedesktop.FileManager1` on the session bus (Dolphin, Nautilus and others implement it,
//! and D-Bus starts one when none runs), falling back to `xdg-open`.

use std::path::Path;
use std::time::Duration;

const FILE_MANAGER: &str = "org.freedesktop.FileManager1";

/// A `file://` URI for `path`: every byte but unreserved ones and `/` percent-encoded.
pub fn file_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

/// How the folder was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShownBy {
    FileManager1,
    XdgOpen,
}

/// Shows `folder` in the user's file manager.
pub async fn show_folder(folder: &Path) -> Result<ShownBy, String> {
    let uri = file_uri(folder);
    // Starting Dolphin through D-Bus activation takes a few seconds on a cold start.
    let asked = tokio::time::timeout(Duration::from_secs(30), show_folders(&uri)).await;
    let why = match asked {
        Ok(Ok(())) => return Ok(ShownBy::FileManager1),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 30 seconds".to_string(),
    };
    match tokio::process::Command::new("xdg-open")
        .arg(folder)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => Ok(ShownBy::XdgOpen),
        Err(e) => Err(format!(
            "no file manager answered on D-Bus ({why}), and xdg-open could not start: {e}"
        )),
    }
}

async fn show_folders(uri: &str) -> zbus::Result<()> {
    let bus = zbus::Connection::session().await?;
    bus.call_method(
        Some(FILE_MANAGER),
        "/org/freedesktop/FileManager1",
        Some(FILE_MANAGER),
        "ShowFolders",
        &(vec![uri], ""),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_uris_escape_spaces_colons_and_non_ascii() {
        assert_eq!(
            file_uri(Path::new(
                "/run/user/1000/kastell/mnt/nas/host-2026-11-30T10:00:00"
            )),
            "file:///run/user/1000/kastell/mnt/nas/host-2026-11-30T10%3A00%3A00"
        );
        assert_eq!(
            file_uri(Path::new("/tmp/a b/Bücher")),
            "file:///tmp/a%20b/B%C3%BCcher"
        );
    }
}
