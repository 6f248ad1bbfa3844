//! What the archive-reading commands (`ls`, `cat`, `find`, `versions`) print, in one place:
//! borg's listing formats, entries of an index as items, a closed pipe that is no error.

use std::process::ExitCode;

use crate::index::{self, ArchiveIndex};
use crate::reader::listing::{filemode, push_display_bytes, push_iso_time};
use crate::reader::Item;

/// How `ls` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Text,
    Json,
    JsonLines,
}

/// `MODE USER GROUP SIZE MTIME PATH[ -> TARGET]`, appended to `out` (by hand: a listing
/// writes a million of these, and `format!` was a fifth of its time).
pub fn write_text_line(out: &mut String, item: &Item) {
    use std::fmt::Write as _;
    fn padded(out: &mut String, text: &str, width: usize, right: bool) {
        let len = text.chars().count();
        if right {
            out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
        }
        out.push_str(text);
        if !right {
            out.extend(std::iter::repeat_n(' ', width.saturating_sub(len)));
        }
    }
    let mut field = String::new();
    let name = |n: &Option<Vec<u8>>, id: i64, field: &mut String, out: &mut String| {
        field.clear();
        match n {
            Some(n) if !n.is_empty() => push_display_bytes(field, n),
            _ => {
                let _ = write!(field, "{id}");
            }
        }
        padded(out, field, 8, false);
    };
    out.push_str(&filemode(item.mode));
    out.push(' ');
    name(&item.user, item.uid, &mut field, out);
    out.push(' ');
    name(&item.group, item.gid, &mut field, out);
    out.push(' ');
    field.clear();
    let _ = write!(field, "{}", item.file_size());
    padded(out, &field, 10, true);
    out.push(' ');
    push_iso_time(out, item.mtime);
    out.push(' ');
    push_display_bytes(out, &item.path);
    match (&item.source, item.mode & 0o170000 == 0o120000) {
        (Some(s), true) => {
            out.push_str(" -> ");
            push_display_bytes(out, s);
        }
        (Some(s), false) => {
            out.push_str(" link to ");
            push_display_bytes(out, s);
        }
        _ => {}
    }
    out.push('\n');
}

/// An index entry as an `Item`, for borg's listing formats.
pub fn item_of(index: &ArchiveIndex, i: u32) -> Item {
    let e = index.entry(i);
    let owner = index.owner(i);
    Item {
        path: index.path(i),
        mode: e.mode,
        uid: i64::from(owner.uid),
        gid: i64::from(owner.gid),
        user: owner.user.map(<[u8]>::to_vec),
        group: owner.group.map(<[u8]>::to_vec),
        mtime: i128::from(e.mtime_ns),
        source: index.target(i).map(<[u8]>::to_vec),
        hardlink_master: e.flags & index::FLAG_HARDLINK_MASTER != 0,
        size: Some(e.size),
        healthy: e.flags & index::FLAG_UNHEALTHY == 0,
        ..Item::default()
    }
}

/// `kastell ls | head` is not an error.
pub fn quiet_broken_pipe(e: std::io::Error) -> anyhow::Result<ExitCode> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(e.into())
    }
}
