//! borg's two glob dialects, `fm:` (Python's `fnmatch.translate`) and `sh:` (borg's
//! `shellpattern.translate`), turned into a `regex` with the same meaning.
//!
//! borg builds a Python regular expression and lets `re` interpret it, so the meaning of a
//! bracket expression is decided twice: once by the translator's string handling (which drops
//! reversed ranges in fnmatch, escapes hyphens, ...) and once by Python's own set parser. Both
//! steps are reproduced here on the same text, and the result is emitted with every character
//! escaped, so nothing depends on how Rust's regex syntax differs from Python's.

use std::fmt::Write as _;

/// One element of a translated glob.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Literal(char),
    /// `?`: any one character (fm) or any but `/` (sh).
    AnyChar,
    /// `*`: any run of characters (fm) or of characters other than `/` (sh).
    AnyRun,
    /// sh's `**/`: zero or more whole directory names, each with its `/`.
    AnyDirs,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A set that can match nothing (fnmatch's `[z-a]` once the empty range is dropped).
    Never,
}

/// Which glob dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Fnmatch,
    Shell,
}

/// A glob that Python would refuse to compile (only sh can produce one: a reversed range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    pub message: String,
    /// Character offset in the glob text.
    pub offset: usize,
}

/// Python's `fnmatch.translate` step by step, down to tokens.
pub(super) fn fnmatch_tokens(pattern: &str) -> Vec<Token> {
    let pat: Vec<char> = pattern.chars().collect();
    let n = pat.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = pat[i];
        i += 1;
        match c {
            '*' => {
                if out.last() != Some(&Token::AnyRun) {
                    out.push(Token::AnyRun);
                }
            }
            '?' => out.push(Token::AnyChar),
            '[' => {
                let mut j = i;
                if j < n && pat[j] == '!' {
                    j += 1;
                }
                if j < n && pat[j] == ']' {
                    j += 1;
                }
                while j < n && pat[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push(Token::Literal('['));
                    continue;
                }
                let stuff = fnmatch_set_text(&pat, i, j);
                i = j + 1;
                if stuff.is_empty() {
                    out.push(Token::Never);
                } else if stuff == "!" {
                    out.push(Token::AnyChar);
                } else {
                    let set_text = if let Some(rest) = stuff.strip_prefix('!') {
                        format!("^{rest}")
                    } else if stuff.starts_with('^') || stuff.starts_with('[') {
                        format!("\\{stuff}")
                    } else {
                        stuff
                    };
                    // fnmatch never makes a reversed range, so Python's parser accepts it.
                    match python_set(&set_text) {
                        Ok(token) => out.push(token),
                        Err(_) => out.push(Token::Never),
                    }
                }
            }
            other => out.push(Token::Literal(other)),
        }
    }
    out
}

/// The text fnmatch puts between `[` and `]` for `pat[start..end]`, with its empty-range removal
/// and escaping of `\`, `-`, `&`, `~`, `|`.
fn fnmatch_set_text(pat: &[char], start: usize, end: usize) -> String {
    let slice: String = pat[start..end].iter().collect();
    let stuff = if !slice.contains('-') {
        slice.replace('\\', "\\\\")
    } else {
        let mut chunks: Vec<Vec<char>> = Vec::new();
        let mut i = start;
        let mut k = if pat[start] == '!' {
            start + 2
        } else {
            start + 1
        };
        loop {
            let found = (k..end).find(|&p| pat[p] == '-');
            let Some(hyphen) = found else { break };
            chunks.push(pat[i..hyphen].to_vec());
            i = hyphen + 1;
            k = hyphen + 3;
        }
        let last: Vec<char> = if i < end {
            pat[i..end].to_vec()
        } else {
            Vec::new()
        };
        if !last.is_empty() {
            chunks.push(last);
        } else if let Some(previous) = chunks.last_mut() {
            previous.push('-');
        }
        // Remove empty ranges: where a chunk ends above where the next one starts.
        let mut k = chunks.len().saturating_sub(1);
        while k > 0 {
            let (before, after) = (&chunks[k - 1], &chunks[k]);
            if let (Some(&hi), Some(&lo)) = (before.last(), after.first()) {
                if hi > lo {
                    let mut merged = before[..before.len() - 1].to_vec();
                    merged.extend_from_slice(&after[1..]);
                    chunks[k - 1] = merged;
                    chunks.remove(k);
                }
            }
            k -= 1;
        }
        chunks
            .iter()
            .map(|chunk| {
                let s: String = chunk.iter().collect();
                s.replace('\\', "\\\\").replace('-', "\\-")
            })
            .collect::<Vec<_>>()
            .join("-")
    };
    let mut escaped = String::with_capacity(stuff.len());
    for c in stuff.chars() {
        if matches!(c, '&' | '~' | '|') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// borg's `shellpattern.translate`, down to tokens.
pub(super) fn shell_tokens(pattern: &str) -> Result<Vec<Token>, GlobError> {
    let pat: Vec<char> = pattern.chars().collect();
    let n = pat.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = pat[i];
        i += 1;
        match c {
            '*' => {
                if i + 1 < n && pat[i] == '*' && pat[i + 1] == '/' {
                    out.push(Token::AnyDirs);
                    i += 2;
                } else {
                    out.push(Token::AnyRun);
                }
            }
            '?' => out.push(Token::AnyChar),
            '[' => {
                let open = i - 1;
                let mut j = i;
                if j < n && pat[j] == '!' {
                    j += 1;
                }
                if j < n && pat[j] == ']' {
                    j += 1;
                }
                while j < n && pat[j] != ']' {
                    j += 1;
                }
                if j >= n {
                    out.push(Token::Literal('['));
                    continue;
                }
                let raw: String = pat[i..j].iter().collect();
                let stuff = raw.replace('\\', "\\\\");
                i = j + 1;
                let set_text = if let Some(rest) = stuff.strip_prefix('!') {
                    format!("^{rest}")
                } else if stuff.starts_with('^') {
                    format!("\\{stuff}")
                } else {
                    stuff
                };
                let token = python_set(&set_text).map_err(|message| GlobError {
                    message,
                    offset: open,
                })?;
                out.push(token);
            }
            other => out.push(Token::Literal(other)),
        }
    }
    Ok(out)
}

/// Python's `re` parser on the inside of a bracket expression (`text` followed by `]`).
fn python_set(text: &str) -> Result<Token, String> {
    // Each element is one character, or a backslash pair (which the translators only produce
    // before punctuation, so it always stands for that character).
    let mut elems: Vec<(char, bool)> = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let escaped = chars.next().unwrap_or('\\');
            elems.push((escaped, true));
        } else {
            elems.push((c, false));
        }
    }
    elems.push((']', false));
    let mut pos = 0;
    let negated = elems.first() == Some(&('^', false));
    if negated {
        pos += 1;
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut closed = false;
    while pos < elems.len() {
        let (this, this_escaped) = elems[pos];
        pos += 1;
        if this == ']' && !this_escaped && !ranges.is_empty() {
            closed = true;
            break;
        }
        if pos < elems.len() && elems[pos] == ('-', false) {
            let Some(&(that, that_escaped)) = elems.get(pos + 1) else {
                return Err("unterminated character set".into());
            };
            pos += 2;
            if that == ']' && !that_escaped {
                ranges.push((this, this));
                ranges.push(('-', '-'));
                closed = true;
                break;
            }
            if that < this {
                return Err(format!("bad character range {this}-{that}"));
            }
            ranges.push((this, that));
        } else {
            ranges.push((this, this));
        }
    }
    if !closed {
        return Err("unterminated character set".into());
    }
    Ok(Token::Class { negated, ranges })
}

/// The `regex` source for `tokens`, anchored at both ends like Python's `match` with `\Z`.
pub(super) fn to_regex(tokens: &[Token], dialect: Dialect) -> Option<String> {
    if tokens.contains(&Token::Never) {
        return None;
    }
    let mut re = String::from(r"(?s)\A(?:");
    for token in tokens {
        match (token, dialect) {
            (Token::Literal(c), _) => push_char(&mut re, *c),
            (Token::AnyChar, Dialect::Fnmatch) => re.push('.'),
            (Token::AnyChar, Dialect::Shell) => re.push_str("[^/]"),
            (Token::AnyRun, Dialect::Fnmatch) => re.push_str(".*"),
            (Token::AnyRun, Dialect::Shell) => re.push_str("[^/]*"),
            (Token::AnyDirs, _) => re.push_str("(?:[^/]*/)*"),
            (Token::Class { negated, ranges }, _) => {
                re.push('[');
                if *negated {
                    re.push('^');
                }
                for (lo, hi) in ranges {
                    push_char(&mut re, *lo);
                    if lo != hi {
                        re.push('-');
                        push_char(&mut re, *hi);
                    }
                }
                re.push(']');
            }
            (Token::Never, _) => return None,
        }
    }
    re.push_str(r")\z");
    Some(re)
}

/// borg's archive glob (`--glob-archives`), as `borg prune` lists archives: the name, or the
/// name followed by a checkpoint suffix (`.checkpoint`, `.checkpoint.N`).
pub fn archive_glob(pattern: &str) -> Result<regex::Regex, GlobError> {
    let tokens = shell_tokens(pattern)?;
    let never = || GlobError {
        message: "the pattern can match no archive".into(),
        offset: 0,
    };
    let source = to_regex(&tokens, Dialect::Shell).ok_or_else(never)?;
    let body = source.strip_suffix(r")\z").ok_or_else(never)?;
    regex::Regex::new(&format!(r"{body})(?:\.checkpoint(?:\.\d+)?)?\z")).map_err(|e| GlobError {
        message: e.to_string(),
        offset: 0,
    })
}

fn push_char(re: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' {
        re.push(c);
    } else {
        let _ = write!(re, "\\x{{{:X}}}", c as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fm(p: &str) -> regex::Regex {
        regex::Regex::new(&to_regex(&fnmatch_tokens(p), Dialect::Fnmatch).unwrap()).unwrap()
    }

    fn sh(p: &str) -> regex::Regex {
        regex::Regex::new(&to_regex(&shell_tokens(p).unwrap(), Dialect::Shell).unwrap()).unwrap()
    }

    #[test]
    fn an_archive_glob_matches_the_name_and_its_checkpoints_only() {
        let glob = archive_glob("host-*").unwrap();
        assert!(glob.is_match("host-2026-11-30T10:00:00"));
        assert!(glob.is_match("host-a.checkpoint"));
        assert!(glob.is_match("host-a.checkpoint.3"));
        assert!(!glob.is_match("other-host-a"));
        assert!(!archive_glob("host").unwrap().is_match("host-a"));
    }

    #[test]
    fn fnmatch_star_crosses_slashes_and_shell_star_does_not() {
        assert!(fm("a*c").is_match("ab/bc"));
        assert!(!sh("a*c").is_match("ab/bc"));
        assert!(sh("a/**/c").is_match("a/c"));
        assert!(sh("a/**/c").is_match("a/x/y/c"));
    }

    #[test]
    fn fnmatch_drops_reversed_ranges_like_python() {
        // Python: fnmatch.translate('[z-a]') == '(?s:(?!))\\Z'
        assert_eq!(to_regex(&fnmatch_tokens("[z-a]"), Dialect::Fnmatch), None);
        // '[bz-ac]' keeps b and c only.
        let re = fm("[bz-ac]");
        assert!(re.is_match("b") && re.is_match("c") && !re.is_match("m"));
        assert!(fm("[!]").is_match("[!]"));
        assert!(fm("[!]x]").is_match("a"));
        assert!(!fm("[!]x]").is_match("]"));
    }

    #[test]
    fn shell_reversed_range_is_an_error_like_python_re() {
        let error = shell_tokens("ab[z-a]").unwrap_err();
        assert_eq!(error.offset, 2);
        assert!(error.message.contains("bad character range z-a"));
    }

    #[test]
    fn brackets_without_a_close_are_literal() {
        assert!(fm("a[b").is_match("a[b"));
        assert!(sh("a[").is_match("a["));
        assert!(sh("[]a]").is_match("]"));
        assert!(sh("[a-]").is_match("-"));
        assert!(sh("[^a]").is_match("^"));
        assert!(!sh("[^a]").is_match("b"));
    }
}
