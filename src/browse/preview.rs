//! What the preview pane shows for one entry of an archive: the start of a text file, a
//! read-only copy of an image, a link's target, a folder's item count and size. Plain logic
//! the window's `EntryPreview` and tests share; the reading goes through the [`Session`].

use std::path::PathBuf;

use super::{BrowseError, Kind, Listed, Session};
use crate::index::ArchiveIndex;
use crate::reader::listing::filemode;
use crate::reader::ArchiveRef;
use crate::units::format_bytes;

/// How much of a text file the preview reads.
pub const TEXT_PREVIEW_BYTES: usize = 64 * 1024;
/// Images larger than this are not previewed (the copy would take a while).
pub const IMAGE_PREVIEW_LIMIT: u64 = 64 * 1024 * 1024;

/// The content part of a preview.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// A folder: what the info line says is all there is.
    Folder,
    /// The start of a text file ("…" appended when there is more).
    Text(String),
    /// A private read-only copy of an image file.
    Image(PathBuf),
    /// A file with nothing to show (binary, a device, a fifo, an image too big to copy).
    Binary,
    /// A symbolic link: where it points.
    Link(String),
}

/// One entry's preview: its name, a line about it, and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub title: String,
    /// "1.2 MB · file · -rw-r--r-- · modified 2026-…" (a folder's item count and total first).
    pub info: String,
    pub shown: Shown,
}

/// What an entry is and when it changed, known from the listing alone.
pub fn summary(listed: &Listed) -> String {
    let kind = match listed.kind {
        Kind::Folder => "folder",
        Kind::File => "file",
        Kind::Symlink => "link",
        Kind::Other => "other",
    };
    format!(
        "{kind} · {} · modified {}",
        filemode(listed.mode),
        crate::times::local_seconds(i128::from(listed.mtime_ns))
    )
}

/// The preview of entry `entry` of `archive`: reads at most [`TEXT_PREVIEW_BYTES`] of a file
/// (only the chunks that cover them), copies an image, walks a folder for its total size.
pub fn preview(
    session: &Session,
    archive: &ArchiveRef,
    index: &ArchiveIndex,
    entry: u32,
) -> Result<Preview, BrowseError> {
    let listed = super::listed(index, entry);
    let about = summary(&listed);
    let with = |first: String, shown: Shown| Preview {
        title: listed.name.clone(),
        info: format!("{first} · {about}"),
        shown,
    };
    match listed.kind {
        Kind::Symlink => {
            return Ok(Preview {
                title: listed.name.clone(),
                info: about.clone(),
                shown: Shown::Link(listed.target.clone().unwrap_or_default()),
            })
        }
        Kind::Other => {
            return Ok(Preview {
                title: listed.name.clone(),
                info: about.clone(),
                shown: Shown::Binary,
            })
        }
        Kind::Folder => {
            let items = index.entry(entry).child_count;
            let total = format_bytes(super::total_size(index, entry));
            return Ok(with(
                format!("{items} items · {total} in all"),
                Shown::Folder,
            ));
        }
        Kind::File => {}
    }
    let size = format_bytes(listed.size);
    let head = session.head(archive, index, entry, TEXT_PREVIEW_BYTES)?;
    let shown = match super::preview_kind(&head) {
        super::PreviewKind::Text => {
            let mut text = String::from_utf8_lossy(&head).into_owned();
            if listed.size > head.len() as u64 {
                text.push_str("\n…");
            }
            Shown::Text(text)
        }
        super::PreviewKind::Image if listed.size <= IMAGE_PREVIEW_LIMIT => {
            Shown::Image(session.temporary_copy(archive, index, entry)?)
        }
        _ => Shown::Binary,
    };
    Ok(with(size, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_the_kind_the_mode_and_the_modification_time() {
        let listed = Listed {
            entry: 3,
            name: "notes.txt".into(),
            path: "home/me/notes.txt".into(),
            kind: Kind::File,
            mode: 0o100644,
            size: 12,
            mtime_ns: 0,
            target: None,
        };
        let text = summary(&listed);
        assert!(text.starts_with("file · -rw-r--r-- · modified "), "{text}");
        let folder = Listed {
            kind: Kind::Folder,
            mode: 0o040755,
            ..listed
        };
        assert!(summary(&folder).starts_with("folder · drwxr-xr-x · "));
    }
}
