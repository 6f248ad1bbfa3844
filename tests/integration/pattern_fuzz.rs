//! Fuzzing the pattern parser and matcher: whatever a user types, Kastell answers with a
//! pattern or an error, never a panic.

use std::path::Path;

use kastell::patterns::plan::{entry_rule, ListKind};
use kastell::patterns::{parse_command, Matcher, Pattern, PatternFile, Style};
use proptest::prelude::*;

const PATHS: &[&str] = &[
    "",
    "a",
    "home/me/.cache/x",
    "a[b]/c*d?",
    "ünï/日本",
    "/abs/path/",
    "x\ny",
];

fn exercise(text: &str) {
    for style in Style::ALL {
        if let Ok(p) = Pattern::parse(text, style) {
            for path in PATHS {
                let _ = p.matches(path, &format!("{path}/"));
            }
        }
    }
    if let Ok(kastell::patterns::Command::Rule(rule)) = parse_command(text, Style::Shell) {
        let m = Matcher::new(vec![rule]);
        for path in PATHS {
            let _ = m.verdict(path);
        }
    }
    if let Ok(file) = PatternFile::parse(text) {
        let m = Matcher::new(file.rules);
        for path in PATHS {
            let _ = m.verdict(path);
        }
    }
    for kind in [ListKind::ExcludePatterns, ListKind::Patterns] {
        if let Err(e) = entry_rule(kind, text, Path::new("/home/me")) {
            // The position points into (or just past) the text.
            assert!(e.offset <= text.chars().count() + 3, "{e:?} for {text:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pattern_metacharacters_never_panic(text in r"[\[\]*?!^\-/\\ac:.(){}|+$#RPpfmshrex ~<>=&,0-9]{0,24}") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in r"\PC{0,40}") {
        exercise(&text);
    }

    #[test]
    fn generated_pattern_files_never_panic(lines in proptest::collection::vec(r"[RP+\-! ]{1,2}(fm:|sh:|re:|pp:|pf:|xx:)?[\[\]*?!^\-/\\a.(){}|]{0,12}", 0..8)) {
        exercise(&lines.join("\n"));
    }
}
