//! Pattern-file lines (`R`, `P`, `+`, `-`, `!`) and borg's first-match-wins matcher.

use std::collections::HashMap;

use super::pattern::{Pattern, PatternError, Style};

/// What a rule does with the paths its pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// `+`: back it up, even inside an excluded folder.
    Include,
    /// `-`: leave it out, but still look inside (an include below may bring things back).
    Exclude,
    /// `!`: leave it out and do not look inside.
    ExcludeNoRecurse,
}

impl RuleKind {
    pub fn symbol(self) -> char {
        match self {
            RuleKind::Include => '+',
            RuleKind::Exclude => '-',
            RuleKind::ExcludeNoRecurse => '!',
        }
    }

    pub fn from_symbol(c: char) -> Option<RuleKind> {
        match c {
            '+' => Some(RuleKind::Include),
            '-' => Some(RuleKind::Exclude),
            '!' => Some(RuleKind::ExcludeNoRecurse),
            _ => None,
        }
    }

    pub fn recurses(self) -> bool {
        self != RuleKind::ExcludeNoRecurse
    }
}

/// One include/exclude rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub kind: RuleKind,
    pub pattern: Pattern,
}

impl Rule {
    /// The rule as a pattern-file line, e.g. `! fm:home/me/.cache`.
    pub fn line(&self) -> String {
        format!("{} {}", self.kind.symbol(), self.pattern.display())
    }
}

/// A parsed pattern-file line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Root(String),
    Style(Style),
    Rule(Rule),
}

/// borg's `parse_inclexcl_command`: one line of a patterns file (already stripped).
pub fn parse_command(line: &str, fallback: Style) -> Result<Command, PatternError> {
    let mut chars = line.chars();
    let Some(first) = chars.next() else {
        return Err(PatternError {
            message: "A pattern/command must not be empty.".into(),
            offset: 0,
        });
    };
    let rest_raw = chars.as_str();
    let rest = rest_raw.trim_start();
    let rest_offset = 1 + rest_raw.chars().count() - rest.chars().count();
    let needs_value = || PatternError {
        message: "A pattern/command must have a value part.".into(),
        offset: 1,
    };
    match first {
        'R' | 'r' => {
            if rest.is_empty() {
                return Err(needs_value());
            }
            Ok(Command::Root(rest.to_string()))
        }
        'P' | 'p' => {
            if rest.is_empty() {
                return Err(needs_value());
            }
            Style::from_prefix(rest)
                .map(Command::Style)
                .ok_or_else(|| PatternError {
                    message: format!("Invalid pattern style: {rest}"),
                    offset: rest_offset,
                })
        }
        c => {
            let Some(kind) = RuleKind::from_symbol(c) else {
                return Err(PatternError {
                    message: "A pattern/command must start with any of: -, !, +, R, r, P, p".into(),
                    offset: 0,
                });
            };
            if rest.is_empty() {
                return Err(needs_value());
            }
            let pattern = Pattern::parse(rest, fallback).map_err(|e| PatternError {
                message: e.message,
                offset: e.offset + rest_offset,
            })?;
            Ok(Command::Rule(Rule { kind, pattern }))
        }
    }
}

/// A patterns file as borg loads it: roots and rules, `P` lines switching the default style.
#[derive(Debug, Clone, Default)]
pub struct PatternFile {
    pub roots: Vec<String>,
    pub rules: Vec<Rule>,
}

/// A pattern-file line borg refuses, with its line number (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct LineError {
    pub line: usize,
    pub error: PatternError,
}

impl PatternFile {
    /// borg's `load_pattern_file`: lines stripped, blank and `#` lines skipped.
    pub fn parse(text: &str) -> Result<PatternFile, LineError> {
        let mut file = PatternFile::default();
        let mut fallback = Style::Shell;
        for (index, raw) in text.split('\n').enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_command(line, fallback) {
                Ok(Command::Root(root)) => file.roots.push(root),
                Ok(Command::Style(style)) => fallback = style,
                Ok(Command::Rule(rule)) => file.rules.push(rule),
                Err(error) => {
                    return Err(LineError {
                        line: index + 1,
                        error,
                    })
                }
            }
        }
        Ok(file)
    }
}

/// Why a path is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Index of the deciding rule, `None` when no rule matched (the path is included).
    pub rule: Option<usize>,
    pub included: bool,
    /// For an excluded directory: whether borg still walks into it.
    pub recurse: bool,
}

/// borg's `PatternMatcher` with `fallback=True`: `pf:` rules first (a hash lookup, the last one
/// for a path winning), then the other rules in order, the first match deciding.
#[derive(Debug, Clone)]
pub struct Matcher {
    rules: Vec<Rule>,
    full_paths: HashMap<String, usize>,
    /// Rules in order, excluding `pf:`.
    ordered: Vec<usize>,
    /// One automaton for every glob (run on `path/`) and one for regexes (run on `path`);
    /// `set_slot[i]` is the rule's slot in its set.
    glob_set: regex::RegexSet,
    glob_rules: Vec<usize>,
    regex_set: regex::RegexSet,
    regex_rules: Vec<usize>,
    /// Rules no set covers, matched one by one.
    individual: Vec<bool>,
}

impl Matcher {
    pub fn new(rules: Vec<Rule>) -> Matcher {
        let mut full_paths = HashMap::new();
        let mut ordered = Vec::new();
        let (mut glob_sources, mut glob_rules) = (Vec::new(), Vec::new());
        let (mut regex_sources, mut regex_rules) = (Vec::new(), Vec::new());
        for (index, rule) in rules.iter().enumerate() {
            if let Some(full) = rule.pattern.full_path() {
                full_paths.insert(full.to_string(), index);
                continue;
            }
            ordered.push(index);
            match rule.pattern.set_source() {
                Some((source, true)) => {
                    glob_sources.push(source.to_string());
                    glob_rules.push(index);
                }
                Some((source, false)) => {
                    regex_sources.push(source.to_string());
                    regex_rules.push(index);
                }
                None => {}
            }
        }
        let build = |sources: &[String]| {
            regex::RegexSetBuilder::new(sources)
                .size_limit(256 << 20)
                .dfa_size_limit(64 << 20)
                .build()
                .unwrap_or_else(|_| regex::RegexSet::empty())
        };
        let glob_set = build(&glob_sources);
        let regex_set = build(&regex_sources);
        // If a set could not be built (size limits), its rules are matched one by one.
        if glob_set.len() != glob_sources.len() {
            glob_rules.clear();
        }
        if regex_set.len() != regex_sources.len() {
            regex_rules.clear();
        }
        let mut individual = vec![true; rules.len()];
        for &index in glob_rules.iter().chain(&regex_rules) {
            individual[index] = false;
        }
        Matcher {
            individual,
            rules,
            full_paths,
            ordered,
            glob_set,
            glob_rules,
            regex_set,
            regex_rules,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fate of `path` (as borg walks it, leading slash or not).
    pub fn verdict(&self, path: &str) -> Verdict {
        let path = path.trim_start_matches('/');
        if let Some(&index) = self.full_paths.get(path) {
            return self.decide(index);
        }
        if self.ordered.is_empty() {
            return Verdict {
                rule: None,
                included: true,
                recurse: true,
            };
        }
        let mut with_slash = String::with_capacity(path.len() + 1);
        with_slash.push_str(path);
        with_slash.push('/');
        let glob_hits = if self.glob_rules.is_empty() {
            None
        } else {
            Some(self.glob_set.matches(&with_slash))
        };
        let regex_hits = if self.regex_rules.is_empty() {
            None
        } else {
            Some(self.regex_set.matches(path))
        };
        let first_glob = glob_hits
            .as_ref()
            .and_then(|hits| hits.iter().next())
            .map(|slot| self.glob_rules[slot]);
        let first_regex = regex_hits
            .as_ref()
            .and_then(|hits| hits.iter().next())
            .map(|slot| self.regex_rules[slot]);
        let from_sets = match (first_glob, first_regex) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for &index in &self.ordered {
            if Some(index) == from_sets {
                return self.decide(index);
            }
            if self.individual[index] && self.rules[index].pattern.matches(path, &with_slash) {
                return self.decide(index);
            }
        }
        Verdict {
            rule: None,
            included: true,
            recurse: true,
        }
    }

    fn decide(&self, index: usize) -> Verdict {
        let kind = self.rules[index].kind;
        Verdict {
            rule: Some(index),
            included: kind == RuleKind::Include,
            recurse: kind.recurses(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (Vec<String>, Matcher) {
        let parsed = PatternFile::parse(text).unwrap();
        (parsed.roots, Matcher::new(parsed.rules))
    }

    #[test]
    fn manual_patterns_file_example() {
        let (roots, m) = file(
            "# \"sh:\" pattern style is the default\nP sh\nR /\n# can be rebuild\n- home/*/.cache\n\
             - home/*/Downloads\n+ home/susan\n+ pf:home/bobby/specialfile.txt\n- home/*\n! proc\n",
        );
        assert_eq!(roots, vec!["/".to_string()]);
        assert!(!m.verdict("/home/bob/.cache").included);
        assert!(m.verdict("/home/bob/.cache").recurse);
        assert!(!m.verdict("/home/susan/Downloads").included);
        assert!(m.verdict("/home/susan/Documents/a").included);
        assert!(m.verdict("/home/bobby/specialfile.txt").included);
        assert!(!m.verdict("/home/bobby/other").included);
        let proc = m.verdict("/proc");
        assert!(!proc.included && !proc.recurse);
        assert!(m.verdict("/etc/hosts").included);
    }

    #[test]
    fn manual_pics_example_include_before_exclude() {
        let (_, m) = file("+pics/2018/good\n-pics/2018\n");
        assert!(m.verdict("pics/2018/good/a.jpg").included);
        assert!(!m.verdict("pics/2018/bad.jpg").included);
        assert!(m.verdict("pics/2019/a.jpg").included);
    }

    #[test]
    fn style_switch_applies_to_later_lines_only() {
        let (roots, m) = file("P fm\nR /home/bobby\nR /home/susan\n- home/bobby/junk\n");
        assert_eq!(roots.len(), 2);
        assert_eq!(m.rules()[0].pattern.style, Style::Fnmatch);
        assert!(!m.verdict("/home/bobby/junk/x").included);
    }

    #[test]
    fn full_path_rules_win_over_earlier_rules_and_the_last_one_counts() {
        let (_, m) = file("- home\n+ pf:home/keep\n- pf:home/keep2\n+ pf:home/keep2\n");
        assert!(m.verdict("home/keep").included);
        assert!(m.verdict("home/keep2").included);
        assert!(!m.verdict("home/other").included);
    }

    #[test]
    fn first_match_wins_across_glob_and_regex_sets() {
        let (_, m) = file("+ re:^a/keep\n- sh:a\n- re:b\n+ fm:*b*\n");
        assert!(m.verdict("a/keep").included);
        assert_eq!(m.verdict("a/x").rule, Some(1));
        assert_eq!(m.verdict("zb").rule, Some(2));
        assert_eq!(m.verdict("zz").rule, None);
    }

    #[test]
    fn bad_lines_name_the_line_and_position() {
        let error = PatternFile::parse("R /\n- ok\n+ re:(\n").unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.error.offset >= 2, "{error:?}");
        let error = PatternFile::parse("P xx\n").unwrap_err();
        assert_eq!(error.error.message, "Invalid pattern style: xx");
        let error = PatternFile::parse("x foo\n").unwrap_err();
        assert!(error
            .error
            .message
            .starts_with("A pattern/command must start"));
    }
}
