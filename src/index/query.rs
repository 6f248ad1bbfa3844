//! Questions asked of archive indexes: names matching a shell-style pattern, and the versions
//! of one path across a repository's archives.

use super::ArchiveIndex;

/// A shell-style name pattern (`*`, `?`, `[...]`, case-insensitive, matching the whole name)
/// as a regular expression over an index's names blob, where every name stands between NUL
/// bytes.
pub fn name_pattern(pattern: &str) -> Result<regex::bytes::Regex, String> {
    name_regex(pattern, false)
}

/// Names containing `text` (search as you type), case-insensitive, no wildcards.
pub fn name_contains(text: &str) -> Result<regex::bytes::Regex, String> {
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '*' | '?' | '[' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect();
    name_regex(&escaped, true)
}

fn name_regex(pattern: &str, contains: bool) -> Result<regex::bytes::Regex, String> {
    let mut re = String::from("(?i)\\x00");
    if contains {
        re.push_str("(?-u:[^\\x00])*");
    }
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str("(?-u:[^\\x00])*"),
            '?' => re.push_str("(?:[^\\x00]|(?-u:[\\x80-\\xff]))"),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                if chars.peek() == Some(&'!') || chars.peek() == Some(&'^') {
                    chars.next();
                    class.push('^');
                }
                let mut first = true;
                for c in chars.by_ref() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if c == '-' {
                        class.push('-');
                    } else {
                        class.push_str(&regex::escape(&c.to_string()));
                    }
                }
                if !closed {
                    return Err(format!("the pattern {pattern:?} has a [ without ]"));
                }
                re.push('[');
                re.push_str(&class);
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    if contains {
        re.push_str("(?-u:[^\\x00])*");
    }
    re.push_str("\\x00");
    regex::bytes::Regex::new(&re).map_err(|e| format!("the pattern {pattern:?}: {e}"))
}

/// One archive's version of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub archive: String,
    /// borg's ISO time of the archive.
    pub time: String,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
    /// Differs from the previous archive's version (size, mtime or type); true for the first.
    pub changed: bool,
}

/// The versions of `path` in `indexes` (oldest archive first; archives without it left out).
pub fn versions(
    indexes: &[(&crate::reader::ArchiveRef, &ArchiveIndex)],
    path: &[u8],
) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for (archive, index) in indexes {
        let Some(i) = index.lookup(path) else {
            continue;
        };
        let e = index.entry(i);
        let changed = out.last().is_none_or(|prev| {
            prev.size != e.size || prev.mtime_ns != e.mtime_ns || prev.mode != e.mode
        });
        out.push(Version {
            archive: archive.name.clone(),
            time: archive.time.clone(),
            size: e.size,
            mtime_ns: e.mtime_ns,
            mode: e.mode,
            changed,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<u8> {
        let mut blob = vec![0u8];
        for n in list {
            blob.extend_from_slice(n.as_bytes());
            blob.extend_from_slice(&[0, 0]);
        }
        blob
    }

    fn hits(pattern: &str, list: &[&str]) -> Vec<String> {
        hits_of(name_pattern(pattern).unwrap(), list)
    }

    fn hits_of(re: regex::bytes::Regex, list: &[&str]) -> Vec<String> {
        let blob = names(list);
        re.find_iter(&blob)
            .map(|m| String::from_utf8_lossy(&blob[m.start() + 1..m.end() - 1]).into_owned())
            .collect()
    }

    #[test]
    fn shell_patterns_match_whole_names_case_insensitively() {
        let list = [
            "IMG_001.JPG",
            "img_002.jpg",
            "notes.txt",
            "a.jpg.bak",
            "Ünïcode.jpg",
        ];
        assert_eq!(
            hits("*.jpg", &list),
            ["IMG_001.JPG", "img_002.jpg", "Ünïcode.jpg"]
        );
        assert_eq!(hits("img_00?.jpg", &list), ["IMG_001.JPG", "img_002.jpg"]);
        assert_eq!(hits("[n]otes.*", &list), ["notes.txt"]);
        assert_eq!(hits("ünï*", &list), ["Ünïcode.jpg"]);
    }

    #[test]
    fn typed_text_finds_names_containing_it_and_a_plain_pattern_only_the_name() {
        let list = ["Q3 report.odt", "reports", "report", "a*b"];
        assert_eq!(
            hits_of(name_contains("REPORT").unwrap(), &list),
            ["Q3 report.odt", "reports", "report"]
        );
        assert_eq!(hits("report", &list), ["report"]);
        assert_eq!(hits_of(name_contains("*").unwrap(), &list), ["a*b"]);
    }

    #[test]
    fn an_unclosed_bracket_is_a_clear_error() {
        assert!(name_pattern("a[b").unwrap_err().contains("[ without ]"));
    }
}
