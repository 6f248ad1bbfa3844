//! Items as `borg list --json-lines` prints them, field by field (borg's
//! `helpers/parseformat.py` `ItemFormatter.get_item_data`, `helpers/time.py`).

use serde_json::{json, Map, Value as Json};

use super::archive::Item;

/// Python's `stat.filemode`.
pub fn filemode(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o140000 => 's',
        0o120000 => 'l',
        0o100000 => '-',
        0o060000 => 'b',
        0o040000 => 'd',
        0o020000 => 'c',
        0o010000 => 'p',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(match (mode & 0o100 != 0, mode & 0o4000 != 0) {
        (true, true) => 's',
        (false, true) => 'S',
        (true, false) => 'x',
        (false, false) => '-',
    });
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(match (mode & 0o010 != 0, mode & 0o2000 != 0) {
        (true, true) => 's',
        (false, true) => 'S',
        (true, false) => 'x',
        (false, false) => '-',
    });
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(match (mode & 0o001 != 0, mode & 0o1000 != 0) {
        (true, true) => 't',
        (false, true) => 'T',
        (true, false) => 'x',
        (false, false) => '-',
    });
    s
}

/// Bytes as borg prints a path: UTF-8, each undecodable byte as `?` (Python's
/// surrogateescape followed by borg's `remove_surrogates`).
pub fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                let skip = e.error_len().unwrap_or(bad.len());
                for _ in 0..skip {
                    out.push('?');
                }
                rest = &bad[skip..];
            }
        }
    }
    out
}

pub use crate::times::{iso_time, push_iso_time};

/// `display_bytes` appended to `out` (valid UTF-8, the usual case, is copied as is).
pub fn push_display_bytes(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&display_bytes(bytes)),
    }
}

/// borg's `Item.get_size()`: the stored size; else a symlink's target length (in Python
/// characters); else the sum of the chunks (none for a hard link's later occurrences).
pub fn item_size(item: &Item) -> u64 {
    if let Some(size) = item.size {
        return size;
    }
    if item.mode & 0o170000 == 0o120000 {
        return item
            .source
            .as_deref()
            .map(|s| display_bytes(s).chars().count() as u64)
            .unwrap_or(0);
    }
    item.chunks.iter().map(|(_, s)| s).sum()
}

/// One `borg list --json-lines` object.
pub fn json_line(item: &Item) -> Json {
    let filemode_text = filemode(item.mode);
    let kind = filemode_text.chars().next().unwrap_or('?').to_string();
    let source = item
        .source
        .as_deref()
        .map(display_bytes)
        .unwrap_or_default();
    let mode = if !source.is_empty() && kind != "l" {
        format!("h{}", &filemode_text[1..])
    } else {
        filemode_text
    };
    let name_or_id = |name: &Option<Vec<u8>>, id: i64| match name {
        Some(n) if !n.is_empty() => json!(display_bytes(n)),
        _ => json!(id),
    };
    let mut m = Map::new();
    m.insert("type".into(), json!(kind));
    m.insert("mode".into(), json!(mode));
    m.insert("user".into(), name_or_id(&item.user, item.uid));
    m.insert("group".into(), name_or_id(&item.group, item.gid));
    m.insert("uid".into(), json!(item.uid));
    m.insert("gid".into(), json!(item.gid));
    m.insert("path".into(), json!(display_bytes(&item.path)));
    m.insert("healthy".into(), json!(item.healthy));
    m.insert("source".into(), json!(source));
    m.insert("linktarget".into(), json!(source));
    m.insert("flags".into(), json!(item.bsdflags));
    m.insert("mtime".into(), json!(iso_time(item.mtime)));
    m.insert("size".into(), json!(item_size(item)));
    Json::Object(m)
}

/// A string as Python's `json.dumps` writes it (`ensure_ascii`: everything outside ASCII as
/// `\uXXXX`, surrogate pairs above the BMP).
fn py_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `str(x)` of a JSON value that is a name or else an id.
fn py_name_or_id(out: &mut String, name: &Option<Vec<u8>>, id: i64) {
    use std::fmt::Write as _;
    match name {
        Some(n) if !n.is_empty() => py_string(out, &display_bytes(n)),
        _ => {
            let _ = write!(out, "{id}");
        }
    }
}

/// The line `borg list --json-lines` prints for `item`, byte for byte: its key order, its
/// separators, its escaping.
pub fn python_json_line(item: &Item) -> String {
    let mut out = String::with_capacity(256);
    write_python_json_line(&mut out, item);
    out
}

/// `python_json_line` appended to `out` (no allocation per field).
pub fn write_python_json_line(out: &mut String, item: &Item) {
    use std::fmt::Write as _;
    let filemode_text = filemode(item.mode);
    let is_link = item.mode & 0o170000 == 0o120000;
    let source = item
        .source
        .as_deref()
        .map(display_bytes)
        .unwrap_or_default();
    out.push_str("{\"type\": \"");
    out.push_str(&filemode_text[..1]);
    out.push_str("\", \"mode\": \"");
    if !source.is_empty() && !is_link {
        out.push('h');
        out.push_str(&filemode_text[1..]);
    } else {
        out.push_str(&filemode_text);
    }
    out.push_str("\", \"user\": ");
    py_name_or_id(out, &item.user, item.uid);
    out.push_str(", \"group\": ");
    py_name_or_id(out, &item.group, item.gid);
    let _ = write!(
        out,
        ", \"uid\": {}, \"gid\": {}, \"path\": ",
        item.uid, item.gid
    );
    py_string(out, &display_bytes(&item.path));
    out.push_str(if item.healthy {
        ", \"healthy\": true, \"source\": "
    } else {
        ", \"healthy\": false, \"source\": "
    });
    py_string(out, &source);
    out.push_str(", \"linktarget\": ");
    py_string(out, &source);
    let _ = write!(out, ", \"flags\": {}, \"mtime\": \"", item.bsdflags);
    push_iso_time(out, item.mtime);
    let _ = write!(out, "\", \"size\": {}}}", item_size(item));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filemode_matches_python() {
        assert_eq!(filemode(0o100644), "-rw-r--r--");
        assert_eq!(filemode(0o040755), "drwxr-xr-x");
        assert_eq!(filemode(0o120777), "lrwxrwxrwx");
        assert_eq!(filemode(0o104755), "-rwsr-xr-x");
        assert_eq!(filemode(0o041777), "drwxrwxrwt");
    }

    #[test]
    fn undecodable_bytes_become_question_marks() {
        assert_eq!(display_bytes(b"a\xffb\xc3"), "a?b?");
        assert_eq!(display_bytes("ü".as_bytes()), "ü");
    }
}
