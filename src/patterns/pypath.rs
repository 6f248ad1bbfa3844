//! The Python path functions borg and borgmatic apply to patterns and source directories
//! (`posixpath.normpath`, `os.path.expanduser`, `glob.glob`), reproduced so Kastell sees the same
//! paths they do.

use std::path::Path;

use super::glob::{fnmatch_tokens, to_regex, Dialect};

/// `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial_slashes = if path.starts_with("//") && !path.starts_with("///") {
        2
    } else if path.starts_with('/') {
        1
    } else {
        0
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp != ".." || (initial_slashes == 0 && parts.is_empty()) || parts.last() == Some(&"..")
        {
            parts.push(comp);
        } else if !parts.is_empty() {
            parts.pop();
        }
    }
    let joined = parts.join("/");
    let result = format!("{}{joined}", "/".repeat(initial_slashes));
    if result.is_empty() {
        ".".into()
    } else {
        result
    }
}

/// `os.path.expanduser` for the current user (`~` and `~/...`; `~name` through the password
/// database).
pub fn expanduser(path: &str, home: &Path) -> String {
    if !path.starts_with('~') {
        return path.to_string();
    }
    let end = path.find('/').unwrap_or(path.len());
    let user = &path[1..end];
    let base = if user.is_empty() {
        home.to_string_lossy().into_owned()
    } else {
        match nix::unistd::User::from_name(user) {
            Ok(Some(u)) => u.dir.to_string_lossy().into_owned(),
            _ => return path.to_string(),
        }
    };
    let base = if base == "/" {
        String::new()
    } else {
        base.trim_end_matches('/').to_string()
    };
    let joined = format!("{base}{}", &path[end..]);
    if joined.is_empty() {
        "/".into()
    } else {
        joined
    }
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `glob.glob(pattern)` (not recursive): wildcards never match a leading dot unless the
/// pattern's own component starts with one; results in directory order.
pub fn glob(pattern: &str) -> Vec<String> {
    if !has_magic(pattern) {
        return if Path::new(pattern).symlink_metadata().is_ok() || Path::new(pattern).exists() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        };
    }
    let (dirname, basename) = match pattern.rfind('/') {
        Some(at) => (&pattern[..at + 1], &pattern[at + 1..]),
        None => ("", pattern),
    };
    // Python strips trailing slashes off dirname except when it is all slashes.
    let dirname = if dirname.chars().all(|c| c == '/') {
        dirname.to_string()
    } else {
        dirname.trim_end_matches('/').to_string()
    };
    if dirname.is_empty() {
        return glob_in_dir(".", basename, false)
            .into_iter()
            .collect::<Vec<_>>();
    }
    let dirs = if has_magic(&dirname) {
        glob(&dirname)
    } else {
        vec![dirname.clone()]
    };
    let mut out = Vec::new();
    for dir in dirs {
        let names = if has_magic(basename) {
            glob_in_dir(&dir, basename, true)
        } else if basename.is_empty() {
            if Path::new(&dir).is_dir() {
                vec![String::new()]
            } else {
                Vec::new()
            }
        } else if Path::new(&dir).join(basename).symlink_metadata().is_ok() {
            vec![basename.to_string()]
        } else {
            Vec::new()
        };
        for name in names {
            out.push(if dir.ends_with('/') {
                format!("{dir}{name}")
            } else {
                format!("{dir}/{name}")
            });
        }
    }
    out
}

fn glob_in_dir(dir: &str, pattern: &str, _with_dir: bool) -> Vec<String> {
    let Some(source) = to_regex(&fnmatch_tokens(pattern), Dialect::Fnmatch) else {
        return Vec::new();
    };
    let Ok(re) = regex::Regex::new(&source) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let hidden_ok = pattern.starts_with('.');
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| (hidden_ok || !name.starts_with('.')) && re.is_match(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_matches_python() {
        for (input, expected) in [
            ("", "."),
            ("/", "/"),
            ("//", "//"),
            ("///", "/"),
            ("/root/", "/root"),
            ("a/./b/../c", "a/c"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("a/..", "."),
            ("**/.cache", "**/.cache"),
            ("x/*/..", "x"),
        ] {
            assert_eq!(normpath(input), expected, "{input}");
        }
    }

    #[test]
    fn expanduser_expands_tilde_only_at_the_start() {
        let home = Path::new("/home/me");
        assert_eq!(expanduser("~/", home), "/home/me/");
        assert_eq!(expanduser("~", home), "/home/me");
        assert_eq!(expanduser("~/Downloads", home), "/home/me/Downloads");
        assert_eq!(expanduser("a/~/b", home), "a/~/b");
        assert_eq!(expanduser("~root/x", home), "/root/x");
    }

    #[test]
    fn glob_skips_hidden_names_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a1", "a2", ".a3", "b"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let base = dir.path().to_str().unwrap();
        let mut found = glob(&format!("{base}/a*"));
        found.sort();
        assert_eq!(found, vec![format!("{base}/a1"), format!("{base}/a2")]);
        assert_eq!(glob(&format!("{base}/.a*")), vec![format!("{base}/.a3")]);
        assert_eq!(glob(&format!("{base}/")), vec![format!("{base}/")]);
        assert!(glob(&format!("{base}/zz*")).is_empty());
    }
}
