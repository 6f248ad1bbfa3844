//! One borg pattern: its style, the text it was given, and how it matches a path.

use std::fmt::Write as _;

use super::glob::{self, Dialect};
use super::pypath::normpath;

/// borg's pattern styles and their two-letter selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Style {
    /// `fm:` fnmatch, the default for `--exclude` and borgmatic's `exclude_patterns`.
    Fnmatch,
    /// `sh:` shell glob with `**/`, the default in pattern files (borgmatic's `patterns`).
    Shell,
    /// `re:` Python regular expression, searched anywhere in the path.
    Regex,
    /// `pp:` path prefix.
    PathPrefix,
    /// `pf:` exact path.
    PathFull,
}

impl Style {
    pub const ALL: [Style; 5] = [
        Style::Fnmatch,
        Style::Shell,
        Style::Regex,
        Style::PathPrefix,
        Style::PathFull,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Style::Fnmatch => "fm",
            Style::Shell => "sh",
            Style::Regex => "re",
            Style::PathPrefix => "pp",
            Style::PathFull => "pf",
        }
    }

    pub fn from_prefix(prefix: &str) -> Option<Style> {
        Style::ALL.into_iter().find(|s| s.prefix() == prefix)
    }

    /// What the style means, for people choosing one.
    pub fn description(self) -> &'static str {
        match self {
            Style::Fnmatch => "fnmatch: * crosses folders",
            Style::Shell => "shell: * stays in a folder, **/ spans folders",
            Style::Regex => "regular expression",
            Style::PathPrefix => "path prefix",
            Style::PathFull => "exact path",
        }
    }
}

/// A pattern borg would refuse, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {})", .offset + 1)]
pub struct PatternError {
    pub message: String,
    /// Character offset in the text the user wrote (selector included).
    pub offset: usize,
}

#[derive(Debug, Clone)]
pub(super) enum Compiled {
    /// Matched with `regex` against the path plus a trailing `/`.
    Glob(regex::Regex),
    /// Matched with `regex` (searched) against the path.
    Regex(regex::Regex),
    /// A Python regex only the backtracking engine can run (look-around, back-references).
    FancyRegex(Box<fancy_regex::Regex>),
    /// Matches when `path/` starts with this.
    Prefix(String),
    /// Matches this path exactly (borg looks these up in a hash table before anything else).
    Full(String),
    /// fnmatch's empty set: never matches.
    Never,
}

/// A parsed, compiled borg pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub style: Style,
    /// The pattern text after the selector, as written.
    pub text: String,
    pub(super) compiled: Compiled,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.style == other.style && self.text == other.text
    }
}

/// Python's `str.isalnum` for the selector check (Unicode letters and digits).
fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// Splits borg's optional `xx:` selector off `text`: (style, rest, selector length).
pub fn split_selector(text: &str, fallback: Style) -> Result<(Style, &str, usize), PatternError> {
    let mut chars = text.char_indices();
    if let (Some((_, a)), Some((_, b)), Some((colon_at, ':'))) =
        (chars.next(), chars.next(), chars.next())
    {
        if text.chars().count() > 2 && is_alnum(a) && is_alnum(b) {
            let prefix = &text[..colon_at];
            let rest = &text[colon_at + 1..];
            return match Style::from_prefix(prefix) {
                Some(style) => Ok((style, rest, 3)),
                None => Err(PatternError {
                    message: format!("Unknown pattern style: {prefix}"),
                    offset: 0,
                }),
            };
        }
    }
    Ok((fallback, text, 0))
}

impl Pattern {
    /// borg's `parse_pattern`: a selector, or `fallback`.
    pub fn parse(text: &str, fallback: Style) -> Result<Pattern, PatternError> {
        let (style, rest, skip) = split_selector(text, fallback)?;
        Pattern::with_style(style, rest).map_err(|e| PatternError {
            message: e.message,
            offset: e.offset + skip,
        })
    }

    /// A pattern of a known style (no selector in `text`).
    pub fn with_style(style: Style, text: &str) -> Result<Pattern, PatternError> {
        let compiled = match style {
            Style::PathFull => Compiled::Full(normpath(text).trim_start_matches('/').to_string()),
            Style::PathPrefix => {
                let mut prefix = normpath(text).trim_end_matches('/').to_string();
                prefix.push('/');
                Compiled::Prefix(prefix.trim_start_matches('/').to_string())
            }
            Style::Fnmatch => {
                let glob_text = if text.ends_with('/') {
                    format!("{}/*/", normpath(text).trim_end_matches('/'))
                } else {
                    format!("{}/*", normpath(text))
                };
                let tokens = glob::fnmatch_tokens(glob_text.trim_start_matches('/'));
                compile_glob(glob::to_regex(&tokens, Dialect::Fnmatch))?
            }
            Style::Shell => {
                let glob_text = if text.ends_with('/') {
                    format!("{}/**/*/", normpath(text).trim_end_matches('/'))
                } else {
                    format!("{}/**/*", normpath(text))
                };
                let trimmed = glob_text.trim_start_matches('/');
                let tokens = glob::shell_tokens(trimmed).map_err(|e| PatternError {
                    message: e.message,
                    // Offsets past the user's text (in the appended `/**/*`) cannot carry an
                    // error: only brackets can, and those are the user's.
                    offset: e.offset.min(text.chars().count().saturating_sub(1)),
                })?;
                compile_glob(glob::to_regex(&tokens, Dialect::Shell))?
            }
            Style::Regex => compile_python_regex(text)?,
        };
        Ok(Pattern {
            style,
            text: text.to_string(),
            compiled,
        })
    }

    /// The pattern as borg prints it: selector and text.
    pub fn display(&self) -> String {
        format!("{}:{}", self.style.prefix(), self.text)
    }

    /// Whether the pattern matches `path` (already without its leading slashes).
    /// `with_slash` is the same path followed by `/`.
    pub fn matches(&self, path: &str, with_slash: &str) -> bool {
        match &self.compiled {
            Compiled::Glob(re) => re.is_match(with_slash),
            Compiled::Regex(re) => re.is_match(path),
            Compiled::FancyRegex(re) => re.is_match(path).unwrap_or(false),
            Compiled::Prefix(prefix) => with_slash.starts_with(prefix.as_str()),
            Compiled::Full(full) => path == full,
            Compiled::Never => false,
        }
    }

    /// The regex a set matcher can run for this pattern, and on which haystack.
    pub(super) fn set_source(&self) -> Option<(&str, bool)> {
        match &self.compiled {
            Compiled::Glob(re) => Some((re.as_str(), true)),
            Compiled::Regex(re) => Some((re.as_str(), false)),
            _ => None,
        }
    }

    pub(super) fn full_path(&self) -> Option<&str> {
        match &self.compiled {
            Compiled::Full(full) => Some(full),
            _ => None,
        }
    }
}

fn compile_glob(source: Option<String>) -> Result<Compiled, PatternError> {
    let Some(source) = source else {
        return Ok(Compiled::Never);
    };
    // Every character is escaped by the translator, so this only fails on size limits.
    regex::RegexBuilder::new(&source)
        .size_limit(64 << 20)
        .build()
        .map(Compiled::Glob)
        .map_err(|e| PatternError {
            message: format!("pattern too complex: {e}"),
            offset: 0,
        })
}

/// Python's `re` syntax, where it differs from Rust's, rewritten; then `regex`, or
/// `fancy_regex` for what only a backtracking engine does.
fn compile_python_regex(text: &str) -> Result<Compiled, PatternError> {
    let (source, origin) = python_regex_to_rust(text)?;
    if let Ok(re) = regex::RegexBuilder::new(&source)
        .size_limit(64 << 20)
        .build()
    {
        return Ok(Compiled::Regex(re));
    }
    match fancy_regex::Regex::new(&source) {
        Ok(re) => Ok(Compiled::FancyRegex(Box::new(re))),
        Err(fancy_error) => {
            let syntax_error = regex_syntax::ast::parse::Parser::new().parse(&source).err();
            let offset = syntax_error
                .as_ref()
                .map(|e| e.span().start.offset)
                .map(|byte| origin.get(byte).copied().unwrap_or(text.chars().count()))
                .unwrap_or(0);
            let reason = match &syntax_error {
                Some(e) => e.kind().to_string(),
                None => first_line(&fancy_error),
            };
            Err(PatternError {
                message: format!("invalid regular expression: {reason}"),
                offset: offset + 3,
            })
        }
    }
}

fn first_line(error: &impl std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// What the previous element of a regex was, for Python's repeat rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Start, `(`, `|`: a repeat here is "nothing to repeat".
    Nothing,
    /// `^`, `$`, `\A`, `\b`, ...: cannot be repeated either.
    Anchor,
    Atom,
    /// A repeat: another one right after is "multiple repeat".
    Repeat,
}

/// Python's escapes of ASCII letters (any other letter is "bad escape").
const PYTHON_LETTER_ESCAPES: &str = "abBdDfnrsStvwWxuUNAZ";

/// Reads a Python regular expression and writes the same expression in the syntax of Rust's
/// `regex`/`fancy_regex`, refusing what Python refuses ("multiple repeat", "nothing to repeat",
/// "bad escape"): a pattern borg would reject must not quietly match something here.
fn python_regex_to_rust(text: &str) -> Result<(String, Vec<usize>), PatternError> {
    let chars: Vec<char> = text.chars().collect();
    let error = |message: String, offset: usize| PatternError {
        message: format!("invalid regular expression: {message} at position {offset}"),
        offset: offset + 3,
    };
    let mut out = String::with_capacity(text.len() + 8);
    let mut last = Last::Nothing;
    // origin[b]: the character of `text` that byte `b` of the output came from.
    let mut origin: Vec<usize> = Vec::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        i += 1;
        origin.resize(out.len(), at.saturating_sub(1));
        match c {
            '\\' => {
                let Some(&n) = chars.get(i) else {
                    return Err(error("bad escape (end of pattern)".into(), at));
                };
                i += 1;
                if n.is_ascii_alphabetic() {
                    if !PYTHON_LETTER_ESCAPES.contains(n) {
                        return Err(error(format!("bad escape \\{n}"), at));
                    }
                    match n {
                        'Z' => out.push_str("\\z"),
                        'A' | 'b' | 'B' => {
                            out.push('\\');
                            out.push(n);
                        }
                        _ => {
                            out.push('\\');
                            out.push(n);
                        }
                    }
                    last = if "AZbB".contains(n) {
                        Last::Anchor
                    } else {
                        Last::Atom
                    };
                } else if n.is_ascii_digit() {
                    out.push('\\');
                    out.push(n);
                    last = Last::Atom;
                } else {
                    push_literal(&mut out, n);
                    last = Last::Atom;
                }
            }
            '[' => {
                i = copy_class(&chars, i, &mut out).map_err(|m| error(m, at))?;
                last = Last::Atom;
            }
            '(' => {
                out.push('(');
                if chars.get(i) == Some(&'?') {
                    if chars[i..].starts_with(&['?', 'P', '=']) {
                        let name_start = i + 3;
                        let Some(len) = chars[name_start..].iter().position(|&x| x == ')') else {
                            return Err(error("missing ), unterminated name".into(), at));
                        };
                        out.pop();
                        let name: String = chars[name_start..name_start + len].iter().collect();
                        out.push_str(&format!("\\k<{name}>"));
                        i = name_start + len + 1;
                        last = Last::Atom;
                        continue;
                    }
                    // Copy the group's `?...` header up to where its body starts.
                    while let Some(&h) = chars.get(i) {
                        out.push(h);
                        i += 1;
                        if matches!(h, ':' | '=' | '!' | '>' | ')')
                            && !(h == '=' && out.ends_with("?P="))
                        {
                            break;
                        }
                    }
                    if out.ends_with(')') {
                        // A flag group like `(?i)` applies and leaves nothing to repeat.
                        last = Last::Nothing;
                        continue;
                    }
                }
                last = Last::Nothing;
            }
            ')' => {
                out.push(')');
                last = Last::Atom;
            }
            '|' => {
                out.push('|');
                last = Last::Nothing;
            }
            '^' | '$' => {
                out.push(c);
                last = Last::Anchor;
            }
            '*' | '+' | '?' | '{' => {
                let mut repeat = c.to_string();
                if c == '{' {
                    let rest: String = chars[i..].iter().take_while(|&&x| x != '}').collect();
                    let closed = chars.len() > i + rest.chars().count();
                    let (min, max) = rest
                        .split_once(',')
                        .unwrap_or((rest.as_str(), rest.as_str()));
                    let digits = |s: &str| s.chars().all(|d| d.is_ascii_digit());
                    if !(closed
                        && digits(min)
                        && digits(max)
                        && !(min.is_empty() && max.is_empty()))
                    {
                        out.push_str("\\{");
                        last = Last::Atom;
                        continue;
                    }
                    repeat = format!("{{{}{}}}", if min.is_empty() { "0" } else { "" }, rest);
                    i += rest.chars().count() + 1;
                }
                match last {
                    Last::Repeat => return Err(error("multiple repeat".into(), at)),
                    Last::Nothing | Last::Anchor => {
                        return Err(error("nothing to repeat".into(), at))
                    }
                    Last::Atom => {}
                }
                out.push_str(&repeat);
                // Lazy `?` or possessive `+` belong to this repeat.
                if let Some(&m) = chars.get(i) {
                    if m == '?' || m == '+' {
                        out.push(m);
                        i += 1;
                    }
                }
                last = Last::Repeat;
            }
            _ => {
                out.push(c);
                last = Last::Atom;
            }
        }
        origin.resize(out.len(), at);
    }
    Ok((out, origin))
}

fn push_literal(out: &mut String, c: char) {
    let _ = write!(out, "\\x{{{:X}}}", c as u32);
}

/// Copies a Python set starting after its `[`; returns the index after its `]`. Inside, Python
/// reads `[`, `&&`, `~~`, `--` and escaped punctuation literally; Rust does not.
fn copy_class(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let start = i;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ']' if i > start => {
                out.push(']');
                return Ok(i + 1);
            }
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("unterminated character set".into());
                };
                if n.is_ascii_alphabetic() {
                    if !"dDsSwWxuUNabfnrtv".contains(n) {
                        return Err(format!("bad escape \\{n}"));
                    }
                    out.push('\\');
                    out.push(n);
                } else if n.is_ascii_digit() {
                    out.push('\\');
                    out.push(n);
                } else {
                    push_literal(out, n);
                }
                i += 2;
                continue;
            }
            '-' => {
                // A range only between two members; literal at either end.
                let next = chars.get(i + 1);
                if i == start || next == Some(&']') || next.is_none() {
                    push_literal(out, '-');
                } else {
                    out.push('-');
                }
            }
            '[' | '&' | '~' | '|' | ']' => push_literal(out, c),
            _ => out.push(c),
        }
        i += 1;
    }
    Err("unterminated character set".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        let pattern = Pattern::parse(p, Style::Fnmatch).unwrap();
        let path = path.trim_start_matches('/');
        pattern.matches(path, &format!("{path}/"))
    }

    #[test]
    fn manual_fnmatch_examples() {
        // Exclude '/home/user/file.o' but not '/home/user/file.odt'.
        assert!(m("*.o", "/home/user/file.o"));
        assert!(!m("*.o", "/home/user/file.odt"));
        // Exclude '/home/user/junk' and '/home/user/subdir/junk' but not importantjunk or /etc/junk.
        assert!(m("home/*/junk", "/home/user/junk"));
        assert!(m("home/*/junk", "/home/user/subdir/junk"));
        assert!(!m("home/*/junk", "/home/user/importantjunk"));
        assert!(!m("home/*/junk", "/etc/junk"));
        // Exclude the contents of '/home/user/cache' but not the directory itself.
        assert!(!m("home/user/cache/", "/home/user/cache"));
        assert!(m("home/user/cache/", "/home/user/cache/important"));
        // Contents of directories in /home whose names end in .tmp.
        assert!(m(r"re:^home/[^/]+\.tmp/", "/home/x.tmp/file"));
        assert!(!m(r"re:^home/[^/]+\.tmp/", "/home/x.tmp"));
    }

    #[test]
    fn shell_double_star_spans_folders_and_single_star_does_not() {
        assert!(m("sh:home/*/.cache", "home/me/.cache/x"));
        assert!(!m("sh:home/*/.cache", "home/me/sub/.cache"));
        assert!(m("sh:**/.cache", "home/me/sub/.cache"));
        assert!(m("sh:**/.cache", ".cache"));
    }

    #[test]
    fn prefix_and_full_path_styles() {
        assert!(m("pp:root/somedir", "root/somedir"));
        assert!(m("pp:root/somedir", "root/somedir/x"));
        assert!(!m("pp:root/somedir", "root/somedirx"));
        assert!(m("pf:root/file.ext", "/root/file.ext"));
        assert!(!m("pf:root/file.ext", "root/file.ext/x"));
    }

    #[test]
    fn leading_slash_is_removed_except_for_regular_expressions() {
        assert!(m("/home/user/junk", "home/user/junk"));
        assert!(m("sh:/home/*", "home/x"));
        assert!(!m("re:^/home", "/home/x"));
    }

    #[test]
    fn unknown_style_and_bad_regex_are_errors_with_positions() {
        let e = Pattern::parse("xx:foo", Style::Fnmatch).unwrap_err();
        assert_eq!(e.message, "Unknown pattern style: xx");
        let e = Pattern::parse("re:ab(c", Style::Fnmatch).unwrap_err();
        assert!(e.message.contains("invalid regular expression"), "{e}");
        assert!(e.offset >= 3, "{e:?}");
        let e = Pattern::parse("sh:x[b-a]", Style::Fnmatch).unwrap_err();
        assert_eq!(e.offset, 4);
    }

    #[test]
    fn python_only_regex_features_work() {
        assert!(m(r"re:^home/(?!keep)", "home/junk"));
        assert!(!m(r"re:^home/(?!keep)", "home/keep"));
        assert!(m(r"re:(?P<x>ab)(?P=x)\Z", "abab"));
        assert!(m(r"re:[[]", "a[b"));
        assert!(m(r"re:a\<b", "a<b"), "Python reads \\< as a literal");
    }

    #[test]
    fn regexes_python_refuses_are_refused() {
        for bad in [
            r"re:a**",
            r"re:^*",
            r"re:(?i)*",
            r"re:a{2}*",
            r"re:\z",
            r"re:|*",
            r"re:[a",
        ] {
            assert!(Pattern::parse(bad, Style::Fnmatch).is_err(), "{bad}");
        }
        for good in [r"re:a*+", r"re:a*?", r"re:a{,2}", r"re:a{", r"re:x{2}?"] {
            assert!(Pattern::parse(good, Style::Fnmatch).is_ok(), "{good}");
        }
    }
}
