//! borg's include/exclude patterns, exactly as borg 1.2+ reads and applies them, and the
//! preview of what `borgmatic create` would back up for a config. Qt-free.

pub mod editor;
mod glob;
pub mod pattern;
pub mod plan;
pub mod presets;
pub mod preview;
pub mod pypath;
pub mod rules;
pub mod summary;
pub mod walk;

pub use glob::{archive_glob, GlobError};
pub use pattern::{Pattern, PatternError, Style};
pub use plan::{CreatePlan, Origin, PlanError};
pub use rules::{parse_command, Command, Matcher, PatternFile, Rule, RuleKind, Verdict};
pub use summary::{Summary, SummaryBuilder};
pub use walk::{walk, Entry, EntryKind, Fate, Reason, WalkOptions, WalkWarning};

/// What a plan's exclusion reason is called, for people.
pub fn reason_label(plan: &CreatePlan, reason: &Reason) -> String {
    match reason {
        Reason::Rule(index) => plan
            .rules
            .get(*index)
            .map(|r| r.line())
            .unwrap_or_else(|| "a rule".into()),
        Reason::CacheTag => "exclude_caches (CACHEDIR.TAG)".into(),
        Reason::Marker(name) => format!("exclude_if_present ({name})"),
        Reason::NoDump => "exclude_nodump".into(),
    }
}
