//! The exclude editor's state, without Qt: the config's rules as one ordered list (borgmatic's
//! order: `patterns` lines, then `exclude_patterns`), each with its inline error, the three
//! switches, the presets; written back through the lossless config editor.

use std::path::{Path, PathBuf};

use super::pattern::{split_selector, PatternError, Style};
use super::plan::{entry_rule, ListKind};
use super::presets::{self, Preset, PRESETS};
use crate::config::{save, BorgmaticConfig, ConfigDocument, ConfigError, SaveOutcome, Scalar};

/// One rule as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    /// The list it lives in now.
    pub list: ListKind,
    /// `+`, `-`, `!` (and `R`, `P` for the root and style lines of `patterns`).
    pub kind: char,
    /// An explicit style; `None` is the list's default (fm for excludes, sh for patterns).
    pub style: Option<Style>,
    pub text: String,
    /// The entry exactly as the file has it, while the row is untouched.
    original: Option<String>,
    pub error: Option<PatternError>,
}

impl RuleRow {
    fn from_exclude(entry: &str, home: &Path) -> RuleRow {
        let (style, text) = split_style(entry.trim());
        let mut row = RuleRow {
            list: ListKind::ExcludePatterns,
            kind: '!',
            style,
            text,
            original: Some(entry.to_string()),
            error: None,
        };
        row.check(home);
        row
    }

    fn from_pattern_line(line: &str, home: &Path) -> RuleRow {
        let trimmed = line.trim();
        let (kind, rest) = match trimmed.split_once(' ') {
            Some((k, rest)) if k.chars().count() == 1 => (k.chars().next().unwrap_or('-'), rest),
            _ => ('-', trimmed),
        };
        let (style, text) = if matches!(kind, 'R' | 'P') {
            (None, rest.to_string())
        } else {
            split_style(rest)
        };
        let mut row = RuleRow {
            list: ListKind::Patterns,
            kind,
            style,
            text,
            original: Some(line.to_string()),
            error: None,
        };
        row.check(home);
        row
    }

    /// The entry as it goes into its list.
    pub fn entry(&self) -> String {
        if let Some(original) = &self.original {
            return original.clone();
        }
        let styled = match self.style {
            Some(style) => format!("{}:{}", style.prefix(), self.text),
            None => self.text.clone(),
        };
        match self.list {
            ListKind::ExcludePatterns => styled,
            ListKind::Patterns => format!("{} {styled}", self.kind),
        }
    }

    fn check(&mut self, home: &Path) {
        self.error = entry_rule(self.list, &self.entry(), home).err();
    }

    /// Moves the row to the `patterns` list (for a kind `exclude_patterns` cannot express, or
    /// a position above a pattern line).
    fn move_to_patterns(&mut self) {
        if self.list == ListKind::Patterns {
            return;
        }
        self.list = ListKind::Patterns;
        self.original = None;
        // exclude_patterns default to fm; the patterns list to sh: keep the meaning.
        if self.style.is_none() {
            self.style = Some(Style::Fnmatch);
        }
    }

    /// The style the row really has.
    pub fn effective_style(&self) -> Style {
        self.style.unwrap_or(match self.list {
            ListKind::ExcludePatterns => Style::Fnmatch,
            ListKind::Patterns => Style::Shell,
        })
    }
}

/// borgmatic's style split: a known `xx:` prefix, or none.
fn split_style(text: &str) -> (Option<Style>, String) {
    match split_selector(text, Style::Fnmatch) {
        Ok((style, rest, 3)) => (Some(style), rest.to_string()),
        _ => (None, text.to_string()),
    }
}

/// The editor: the file as loaded plus the user's changes.
pub struct ExcludeEditor {
    path: PathBuf,
    original: String,
    home: PathBuf,
    rows: Vec<RuleRow>,
    pub exclude_caches: bool,
    pub exclude_nobackup: bool,
    pub one_file_system: bool,
    loaded_flags: (bool, bool, bool),
}

fn bool_key(config: &BorgmaticConfig, key: &str) -> bool {
    matches!(config.other.get(key), Some(serde_norway::Value::Bool(true)))
}

pub const MARKER: &str = ".nobackup";

impl ExcludeEditor {
    pub fn load(path: &Path, home: &Path) -> Result<ExcludeEditor, ConfigError> {
        let original = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let doc = ConfigDocument::parse(path, &original)?;
        let config = doc.config()?;
        let mut rows: Vec<RuleRow> = doc
            .string_list("patterns")
            .iter()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| RuleRow::from_pattern_line(l, home))
            .collect();
        rows.extend(
            config
                .exclude_patterns
                .iter()
                .map(|e| RuleRow::from_exclude(e, home)),
        );
        let flags = (
            bool_key(&config, "exclude_caches"),
            doc.string_list("exclude_if_present")
                .iter()
                .any(|m| m == MARKER),
            bool_key(&config, "one_file_system"),
        );
        Ok(ExcludeEditor {
            path: path.to_path_buf(),
            original,
            home: home.to_path_buf(),
            rows,
            exclude_caches: flags.0,
            exclude_nobackup: flags.1,
            one_file_system: flags.2,
            loaded_flags: flags,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rows(&self) -> &[RuleRow] {
        &self.rows
    }

    pub fn has_errors(&self) -> bool {
        self.rows.iter().any(|r| r.error.is_some())
    }

    /// Adds a rule typed by the user: an exclude (`!`) goes to the end of `exclude_patterns`,
    /// an include or a recursing exclude to the end of `patterns`. Returns its row.
    pub fn add(&mut self, kind: char, style: Option<Style>, text: &str) -> usize {
        let list = if kind == '!' {
            ListKind::ExcludePatterns
        } else {
            ListKind::Patterns
        };
        let mut row = RuleRow {
            list,
            kind,
            style,
            text: text.trim().to_string(),
            original: None,
            error: None,
        };
        if list == ListKind::Patterns && row.style.is_none() {
            row.style = Some(Style::Fnmatch);
        }
        row.check(&self.home);
        let at = match list {
            ListKind::ExcludePatterns => self.rows.len(),
            ListKind::Patterns => self
                .rows
                .iter()
                .position(|r| r.list == ListKind::ExcludePatterns)
                .unwrap_or(self.rows.len()),
        };
        self.rows.insert(at, row);
        self.normalize();
        at
    }

    pub fn remove(&mut self, index: usize) {
        if index < self.rows.len() {
            self.rows.remove(index);
        }
    }

    /// Moves a rule (first match wins, so order is meaning).
    pub fn move_row(&mut self, from: usize, to: usize) {
        if from >= self.rows.len() || to >= self.rows.len() || from == to {
            return;
        }
        let row = self.rows.remove(from);
        self.rows.insert(to, row);
        self.normalize();
    }

    pub fn set_text(&mut self, index: usize, text: &str) {
        if let Some(row) = self.rows.get_mut(index) {
            row.text = text.to_string();
            row.original = None;
            row.check(&self.home);
        }
    }

    pub fn set_style(&mut self, index: usize, style: Option<Style>) {
        if let Some(row) = self.rows.get_mut(index) {
            row.style = style;
            row.original = None;
            row.check(&self.home);
        }
    }

    pub fn set_kind(&mut self, index: usize, kind: char) {
        if let Some(row) = self.rows.get_mut(index) {
            if !matches!(kind, '+' | '-' | '!') || matches!(row.kind, 'R' | 'P') {
                return;
            }
            row.kind = kind;
            row.original = None;
            if kind != '!' {
                row.move_to_patterns();
            }
            row.check(&self.home);
        }
        self.normalize();
    }

    /// Keeps borgmatic's order true: every `exclude_patterns` row below every `patterns` row.
    /// An exclude row above a pattern row becomes a `patterns` line (`! fm:...`), which means
    /// the same at that position.
    fn normalize(&mut self) {
        let last_pattern = self.rows.iter().rposition(|r| r.list == ListKind::Patterns);
        if let Some(last) = last_pattern {
            for row in &mut self.rows[..last] {
                if row.list == ListKind::ExcludePatterns {
                    row.move_to_patterns();
                    row.check(&self.home);
                }
            }
        }
    }

    pub fn presets(&self) -> Vec<(&'static Preset, bool)> {
        let excludes = self.exclude_entries();
        PRESETS
            .iter()
            .map(|p| (p, presets::is_enabled(p, &excludes)))
            .collect()
    }

    fn exclude_entries(&self) -> Vec<String> {
        self.rows
            .iter()
            .filter(|r| r.list == ListKind::ExcludePatterns)
            .map(RuleRow::entry)
            .collect()
    }

    pub fn set_preset(&mut self, id: &str, enable: bool) {
        let Some(preset) = PRESETS.iter().find(|p| p.id == id) else {
            return;
        };
        if enable {
            let have = self.exclude_entries();
            for pattern in preset.patterns {
                if !have.iter().any(|e| e.trim() == *pattern) {
                    self.add('!', None, pattern);
                }
            }
        } else {
            self.rows.retain(|r| {
                !(r.list == ListKind::ExcludePatterns
                    && preset.patterns.contains(&r.entry().trim()))
            });
        }
    }

    /// The config text with the editor's state applied, as a document ready to save.
    pub fn document(&self) -> Result<ConfigDocument, String> {
        let mut doc =
            ConfigDocument::parse(&self.path, &self.original).map_err(|e| e.to_string())?;
        let patterns: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.list == ListKind::Patterns)
            .map(RuleRow::entry)
            .collect();
        let excludes = self.exclude_entries();
        let set_list = |doc: &mut ConfigDocument, key: &str, items: &[String]| {
            if items.is_empty() {
                if !doc.string_list(key).is_empty() {
                    doc.remove_key(key).map_err(|e| e.to_string())?;
                }
                Ok::<(), String>(())
            } else {
                doc.set_string_list(key, items).map_err(|e| e.to_string())
            }
        };
        set_list(&mut doc, "patterns", &patterns)?;
        set_list(&mut doc, "exclude_patterns", &excludes)?;
        let flags = [
            ("exclude_caches", self.exclude_caches, self.loaded_flags.0),
            ("one_file_system", self.one_file_system, self.loaded_flags.2),
        ];
        for (key, now, before) in flags {
            if now != before {
                doc.set_scalar(key, Scalar::Bool(now))
                    .map_err(|e| e.to_string())?;
            }
        }
        if self.exclude_nobackup != self.loaded_flags.1 {
            if self.exclude_nobackup {
                doc.list_add("exclude_if_present", MARKER)
            } else {
                doc.list_remove("exclude_if_present", MARKER)
            }
            .map_err(|e| e.to_string())?;
        }
        Ok(doc)
    }

    /// The edited config, as borgmatic would read it (for the preview).
    pub fn config(&self) -> Result<BorgmaticConfig, String> {
        self.document()?.config().map_err(|e| e.to_string())
    }

    pub fn is_modified(&self) -> bool {
        self.document()
            .map(|d| d.text() != self.original)
            .unwrap_or(true)
    }

    /// Writes the rules back (atomically, previous version kept, validated by borgmatic).
    /// Refuses while a rule has an error: borg would refuse the whole backup.
    pub fn save(&mut self) -> Result<SaveOutcome, String> {
        if let Some((i, row)) = self
            .rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.error.is_some())
        {
            let error = row
                .error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Err(format!(
                "Rule {} ({}) is not valid: {error}",
                i + 1,
                row.entry()
            ));
        }
        let doc = self.document()?;
        let outcome = save(&doc).map_err(|e| e.to_string())?;
        *self = ExcludeEditor::load(&self.path, &self.home).map_err(|e| e.to_string())?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_PART: &str = "source_directories:\n    - ~/\n\nexclude_patterns:\n    # Cache directories\n    - '**/.cache'\n    - '**/cache'\n    # Large media\n    - ~/Downloads\n\nexclude_caches: true\n\nrepositories:\n    - path: /tmp/r\n";

    fn editor(text: &str) -> (tempfile::TempDir, ExcludeEditor) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, text).unwrap();
        let e = ExcludeEditor::load(&path, Path::new("/home/me")).unwrap();
        (dir, e)
    }

    #[test]
    fn untouched_rules_write_back_the_same_text() {
        let (_d, e) = editor(SEED_PART);
        assert_eq!(e.rows().len(), 3);
        assert!(!e.is_modified());
        assert_eq!(e.document().unwrap().text(), SEED_PART);
    }

    #[test]
    fn adding_and_removing_keeps_the_comments() {
        let (_d, mut e) = editor(SEED_PART);
        e.add('!', None, "**/node_modules");
        e.remove(1);
        let text = e.document().unwrap().text();
        assert!(text.contains("# Cache directories"), "{text}");
        assert!(text.contains("# Large media"), "{text}");
        assert!(text.contains("node_modules"), "{text}");
        assert!(!text.contains("'**/cache'"), "{text}");
    }

    #[test]
    fn an_include_becomes_a_patterns_line_above_the_excludes() {
        let (_d, mut e) = editor(SEED_PART);
        let at = e.add('+', None, "~/.cache/keep");
        assert_eq!(at, 0);
        let text = e.document().unwrap().text();
        assert!(text.contains("+ fm:~/.cache/keep"), "{text}");
        let config = e.config().unwrap();
        let plan = crate::patterns::CreatePlan::from_config(&config, None, Path::new("/")).unwrap();
        assert_eq!(plan.pattern_lines[1], "+ fm:/.cache/keep");
    }

    #[test]
    fn moving_an_exclude_above_an_include_keeps_its_meaning() {
        let (_d, mut e) = editor(SEED_PART);
        e.add('+', None, "~/.cache/keep");
        // Move `**/.cache` (row 1) above the include (row 0).
        e.move_row(1, 0);
        assert_eq!(e.rows()[0].list, ListKind::Patterns);
        assert_eq!(e.rows()[0].entry(), "! fm:**/.cache");
    }

    #[test]
    fn a_bad_pattern_is_an_inline_error_and_blocks_saving() {
        let (_d, mut e) = editor(SEED_PART);
        let at = e.add('!', None, "re:(unclosed");
        assert!(e.rows()[at].error.is_some());
        assert!(e.save().is_err());
        e.set_text(at, "re:^closed$");
        e.set_style(at, None);
        assert!(e.rows()[at].error.is_none(), "{:?}", e.rows()[at]);
    }

    #[test]
    fn presets_and_switches_edit_the_file() {
        let (_d, mut e) = editor(SEED_PART);
        e.set_preset("vm", true);
        e.exclude_nobackup = true;
        e.one_file_system = true;
        e.exclude_caches = false;
        let text = e.document().unwrap().text();
        assert!(text.contains("**/*.qcow2"), "{text}");
        assert!(text.contains("exclude_if_present"), "{text}");
        assert!(text.contains("one_file_system: true"), "{text}");
        assert!(text.contains("exclude_caches: false"), "{text}");
        assert!(e.presets().iter().any(|(p, on)| p.id == "vm" && *on));
    }
}
