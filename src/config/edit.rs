//! Lossless edits of a borgmatic config: only the lines of what changed move; comments, key
//! order, quoting, blank lines and indentation elsewhere stay byte for byte (yaml-edit keeps
//! the whole syntax tree, trivia included).

use super::schema::{read_config_text, BorgmaticConfig, ConfigError};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use yaml_edit::{Document, Mapping, ScalarStyle, ScalarValue, Sequence};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("“{key}” is not edited by Kastell: {reason}")]
    NotEditable { key: String, reason: String },
    #[error("“{key}” is not a list in this config")]
    NotAList { key: String },
    #[error("there is no repository number {index}")]
    NoSuchRepository { index: usize },
    #[error("refused: after this edit the config would not parse ({0})")]
    WouldNotParse(ConfigError),
    #[error("{0}")]
    Invalid(String),
}

/// A scalar value to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Scalar {
    /// Sets `key` to this value in `map`, letting yaml-edit choose the quoting.
    fn write_into(&self, map: &Mapping, key: &str) {
        match self {
            Scalar::Str(s) => map.set(key, s.as_str()),
            Scalar::Int(i) => map.set(key, *i),
            Scalar::Bool(b) => map.set(key, *b),
        }
    }
}

/// Why a key is shown but not rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Editability {
    Editable,
    ReadOnly(String),
}

/// A config file held as text plus its lossless syntax tree.
pub struct ConfigDocument {
    path: PathBuf,
    original: String,
    doc: Document,
}

impl ConfigDocument {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(path, &read_config_text(path)?)
    }

    /// Parses `text`; a syntax error is reported with line and column (from the strict parser,
    /// which also checks what borgmatic would reject as YAML).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        BorgmaticConfig::parse(path, text)?;
        let doc = Document::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("cannot edit this file losslessly: {e}"),
        })?;
        if doc.to_string() != text {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "cannot edit this file losslessly (it does not read back byte for byte)"
                    .into(),
            });
        }
        if doc.as_mapping().is_none() && !text.trim().is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "the top level must be a mapping of option names to values".into(),
            });
        }
        Ok(ConfigDocument {
            path: path.to_path_buf(),
            original: text.to_string(),
            doc,
        })
    }

    /// `current` as edited text whose file held `original` when it was read (so `save` can
    /// tell an outside change from the user's own).
    pub fn edited(path: &Path, original: &str, current: &str) -> Result<Self, ConfigError> {
        let mut doc = Self::parse(path, current)?;
        doc.original = original.to_string();
        Ok(doc)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    pub fn original(&self) -> &str {
        &self.original
    }

    pub fn is_modified(&self) -> bool {
        self.text() != self.original
    }

    /// The config as borgmatic would read it now.
    pub fn config(&self) -> Result<BorgmaticConfig, ConfigError> {
        BorgmaticConfig::parse(&self.path, &self.text())
    }

    fn mapping(&self) -> Result<Mapping, EditError> {
        if let Some(m) = self.doc.as_mapping() {
            return Ok(m);
        }
        Err(EditError::Invalid(
            "the config is empty; start from `borgmatic config generate`".into(),
        ))
    }

    /// Values that come from `!include`, a `<<:` merge or `{constant}` interpolation are shown
    /// but not rewritten: writing them here would silently fork them from their source.
    pub fn editability(&self, key: &str) -> Editability {
        let Ok(map) = self.mapping() else {
            return Editability::Editable;
        };
        let raw = map.get(key).map(|v| v.to_string());
        match raw {
            Some(raw) if raw.trim_start().starts_with("!include") => Editability::ReadOnly(
                "its value comes from an included file (!include); edit that file".into(),
            ),
            Some(raw) => match self.constant_in(&raw) {
                Some(name) => Editability::ReadOnly(format!(
                    "its value uses the constant {{{name}}}; edit `constants:` instead"
                )),
                None => Editability::Editable,
            },
            None if map.get("<<").is_some() => Editability::ReadOnly(
                "this config merges in another file (<<: !include); the value may come from there"
                    .into(),
            ),
            None => Editability::Editable,
        }
    }

    fn constant_in(&self, raw: &str) -> Option<String> {
        let map = self.mapping().ok()?;
        let constants = map.get("constants")?.as_mapping().cloned()?;
        let names: Vec<String> = constants
            .keys()
            .map(|k| k.to_string().trim().to_string())
            .collect();
        names
            .into_iter()
            .find(|name| raw.contains(&format!("{{{name}}}")))
    }

    fn ensure_editable(&self, key: &str) -> Result<(), EditError> {
        match self.editability(key) {
            Editability::Editable => Ok(()),
            Editability::ReadOnly(reason) => Err(EditError::NotEditable {
                key: key.into(),
                reason,
            }),
        }
    }

    /// Runs `edit`, then checks the result still parses; otherwise restores the previous text.
    fn guarded(
        &mut self,
        edit: impl FnOnce(&Self) -> Result<(), EditError>,
    ) -> Result<(), EditError> {
        let before = self.text();
        let outcome = edit(self).and_then(|()| {
            let after = self.text();
            BorgmaticConfig::parse(&self.path, &after).map_err(EditError::WouldNotParse)?;
            // The tree must read back the text it prints, or the next edit could drift.
            match Document::from_str(&after) {
                Ok(doc) if doc.to_string() == after => Ok(()),
                _ => Err(EditError::Invalid(
                    "the edit produced text that does not read back".into(),
                )),
            }
        });
        if outcome.is_err() {
            self.doc = Document::from_str(&before).map_err(|e| {
                EditError::Invalid(format!("cannot restore after a failed edit: {e}"))
            })?;
        }
        outcome
    }

    /// Sets (or adds, at the end) a top-level scalar option.
    pub fn set_scalar(&mut self, key: &str, value: Scalar) -> Result<(), EditError> {
        self.ensure_editable(key)?;
        // Keep the quoting the user chose for this value when it can carry the new one.
        if let Scalar::Str(text) = &value {
            let quote = self
                .mapping()?
                .get(key)
                .and_then(|v| v.to_string().trim_start().chars().next());
            let style = match quote {
                Some('"') => Some(ScalarStyle::DoubleQuoted),
                Some('\'') => Some(ScalarStyle::SingleQuoted),
                _ => None,
            };
            if let Some(style) = style {
                let styled = self.guarded(|this| {
                    this.mapping()?
                        .set(key, ScalarValue::with_style(text.as_str(), style));
                    match this.scalar_text(key) {
                        Some(read) if &read == text => Ok(()),
                        _ => Err(EditError::Invalid("quoting did not keep the value".into())),
                    }
                });
                if styled.is_ok() {
                    return Ok(());
                }
            }
        }
        self.guarded(|this| {
            let map = this.mapping()?;
            value.write_into(&map, key);
            Ok(())
        })
    }

    /// A top-level string value as borgmatic reads it.
    fn scalar_text(&self, key: &str) -> Option<String> {
        let value: serde_norway::Value = serde_norway::from_str(&self.text()).ok()?;
        value.get(key)?.as_str().map(str::to_string)
    }

    /// Puts `new_key: value` where `old_key` stood (same line, same comments around it), or at
    /// the end when `old_key` is absent.
    pub fn replace_key(
        &mut self,
        old_key: &str,
        new_key: &str,
        value: Scalar,
    ) -> Result<(), EditError> {
        self.ensure_editable(old_key)?;
        self.ensure_editable(new_key)?;
        self.guarded(|this| {
            let map = this.mapping()?;
            if map.get(old_key).is_some() {
                map.remove(new_key);
                map.rename_key(old_key, new_key);
            }
            value.write_into(&map, new_key);
            Ok(())
        })
    }

    /// Removes a top-level option (its comment lines above stay).
    pub fn remove_key(&mut self, key: &str) -> Result<(), EditError> {
        self.ensure_editable(key)?;
        self.guarded(|this| {
            this.mapping()?.remove(key);
            Ok(())
        })
    }

    /// A top-level list of strings (e.g. `exclude_patterns`); empty when absent.
    pub fn string_list(&self, key: &str) -> Vec<String> {
        self.config()
            .ok()
            .and_then(|c| match key {
                "exclude_patterns" => Some(c.exclude_patterns),
                "source_directories" => Some(c.source_directories),
                _ => c.other.get(key).and_then(|v| {
                    v.as_sequence().map(|s| {
                        s.iter()
                            .filter_map(|i| i.as_str().map(str::to_string))
                            .collect()
                    })
                }),
            })
            .unwrap_or_default()
    }

    fn sequence(&self, key: &str, create: bool) -> Result<Option<Sequence>, EditError> {
        let map = self.mapping()?;
        match map.get(key) {
            Some(node) => node
                .as_sequence()
                .cloned()
                .map(Some)
                .ok_or_else(|| EditError::NotAList { key: key.into() }),
            None if create => {
                map.set(key, Sequence::new());
                Ok(map.get(key).and_then(|n| n.as_sequence().cloned()))
            }
            None => Ok(None),
        }
    }

    /// Appends `item` to a top-level list unless it is already there. True if added.
    pub fn list_add(&mut self, key: &str, item: &str) -> Result<bool, EditError> {
        self.ensure_editable(key)?;
        if self.string_list(key).iter().any(|i| i == item) {
            return Ok(false);
        }
        self.guarded(|this| {
            if let Some(seq) = this.sequence(key, true)? {
                seq.push(item);
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Removes every occurrence of `item` from a top-level list. True if it was there.
    pub fn list_remove(&mut self, key: &str, item: &str) -> Result<bool, EditError> {
        self.ensure_editable(key)?;
        let items = self.string_list(key);
        if !items.iter().any(|i| i == item) {
            return Ok(false);
        }
        self.guarded(|this| {
            if let Some(seq) = this.sequence(key, false)? {
                for index in (0..items.len()).rev() {
                    if items[index] == item {
                        seq.remove(index);
                    }
                }
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Makes a top-level list equal `items`, touching only the entries that differ (so the
    /// comments between untouched entries stay where they were).
    pub fn set_string_list(&mut self, key: &str, items: &[String]) -> Result<(), EditError> {
        self.ensure_editable(key)?;
        let current = self.string_list(key);
        if current == items {
            return Ok(());
        }
        self.guarded(|this| {
            let Some(seq) = this.sequence(key, true)? else {
                return Ok(());
            };
            let plan = edit_script(&current, items);
            for step in plan {
                match step {
                    ListEdit::Remove(i) => {
                        seq.remove(i);
                    }
                    ListEdit::Insert(i, value) => {
                        if i >= seq.len() {
                            seq.push(value.as_str());
                        } else {
                            seq.insert(i, value.as_str());
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn repository(&self, index: usize) -> Result<Mapping, EditError> {
        self.sequence("repositories", false)?
            .and_then(|s| s.get(index))
            .and_then(|n| n.as_mapping().cloned())
            .ok_or(EditError::NoSuchRepository { index })
    }

    /// Sets `label` or `path` (or removes it with `None`) on repository `index`.
    pub fn set_repository_field(
        &mut self,
        index: usize,
        field: &str,
        value: Option<&str>,
    ) -> Result<(), EditError> {
        self.ensure_editable("repositories")?;
        if !matches!(field, "label" | "path" | "encryption") {
            return Err(EditError::Invalid(format!(
                "a repository has no field “{field}” Kastell edits"
            )));
        }
        if field == "path" && value.is_none_or(str::is_empty) {
            return Err(EditError::Invalid("a repository needs a path".into()));
        }
        self.guarded(|this| {
            let repo = this.repository(index)?;
            match value {
                Some(v) => repo.set(field, v),
                None => {
                    repo.remove(field);
                }
            }
            Ok(())
        })
    }

    pub fn add_repository(&mut self, path: &str, label: Option<&str>) -> Result<(), EditError> {
        self.ensure_editable("repositories")?;
        if path.trim().is_empty() {
            return Err(EditError::Invalid("a repository needs a path".into()));
        }
        self.guarded(|this| {
            let Some(seq) = this.sequence("repositories", true)? else {
                return Ok(());
            };
            let entry = Mapping::new();
            entry.set("path", path);
            if let Some(label) = label.filter(|l| !l.is_empty()) {
                entry.set("label", label);
            }
            seq.push(entry);
            Ok(())
        })
    }

    pub fn remove_repository(&mut self, index: usize) -> Result<(), EditError> {
        self.ensure_editable("repositories")?;
        self.repository(index)?;
        self.guarded(|this| {
            if let Some(seq) = this.sequence("repositories", false)? {
                seq.remove(index);
            }
            Ok(())
        })
    }

    /// Sets the frequency of one entry of `checks:` (by its `name`), adding the entry if needed.
    pub fn set_check_frequency(
        &mut self,
        name: &str,
        frequency: Option<&str>,
    ) -> Result<(), EditError> {
        self.ensure_editable("checks")?;
        self.guarded(|this| {
            let Some(seq) = this.sequence("checks", true)? else {
                return Ok(());
            };
            let existing = (0..seq.len()).find_map(|i| {
                let m = seq.get(i)?.as_mapping().cloned()?;
                let n = m.get("name")?.to_string();
                (n.trim().trim_matches(['\'', '"']) == name).then_some(m)
            });
            let entry = match existing {
                Some(m) => m,
                None => {
                    let m = Mapping::new();
                    m.set("name", name);
                    seq.push(m);
                    (0..seq.len())
                        .rev()
                        .find_map(|i| seq.get(i).and_then(|n| n.as_mapping().cloned()))
                        .ok_or_else(|| EditError::Invalid("could not add the check".into()))?
                }
            };
            match frequency {
                Some(f) => entry.set("frequency", f),
                None => {
                    entry.remove("frequency");
                }
            }
            Ok(())
        })
    }
}

#[derive(Debug, PartialEq)]
enum ListEdit {
    Remove(usize),
    Insert(usize, String),
}

/// A short edit script from `from` to `to` (longest common subsequence), applied in order.
fn edit_script(from: &[String], to: &[String]) -> Vec<ListEdit> {
    let (n, m) = (from.len(), to.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if from[i] == to[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // Walk the table; `pos` is the index in the list as edited so far.
    let (mut i, mut j, mut pos) = (0, 0, 0);
    let mut script = Vec::new();
    while i < n || j < m {
        if i < n && j < m && from[i] == to[j] {
            i += 1;
            j += 1;
            pos += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            script.push(ListEdit::Insert(pos, to[j].clone()));
            j += 1;
            pos += 1;
        } else {
            script.push(ListEdit::Remove(pos));
            i += 1;
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# What to back up\nsource_directories:\n    - ~/\n\nexclude_patterns:\n    # Caches\n    - '**/.cache'\n    - '**/node_modules'  # JS\n\nrepositories:\n    - path: /srv/a\n      label: a\n\ncompression: zstd # fast\n";

    fn doc() -> ConfigDocument {
        ConfigDocument::parse(Path::new("t.yaml"), SAMPLE).expect("parses")
    }

    #[test]
    fn untouched_text_is_byte_identical_and_unmodified() {
        let d = doc();
        assert_eq!(d.text(), SAMPLE);
        assert!(!d.is_modified());
    }

    #[test]
    fn setting_a_scalar_changes_only_its_line_and_keeps_the_trailing_comment() {
        let mut d = doc();
        d.set_scalar("compression", Scalar::Str("lz4".into()))
            .expect("set");
        assert_eq!(
            d.text(),
            SAMPLE.replace("compression: zstd # fast", "compression: lz4 # fast")
        );
    }

    #[test]
    fn a_quoted_value_stays_quoted_the_same_way() {
        let text = "a: \"old\"\nb: 'old'\n";
        let mut d = ConfigDocument::parse(Path::new("t.yaml"), text).expect("parses");
        d.set_scalar("a", Scalar::Str("new \"x\"".into()))
            .expect("set");
        d.set_scalar("b", Scalar::Str("it's".into())).expect("set");
        assert_eq!(d.text(), "a: \"new \\\"x\\\"\"\nb: 'it''s'\n");
    }

    #[test]
    fn list_edits_keep_comments_between_entries() {
        let mut d = doc();
        assert!(d.list_add("exclude_patterns", "**/*.qcow2").expect("add"));
        assert!(!d.list_add("exclude_patterns", "**/*.qcow2").expect("again"));
        assert!(d
            .list_remove("exclude_patterns", "**/.cache")
            .expect("remove"));
        let text = d.text();
        assert!(text.contains("    # Caches\n"), "{text}");
        assert!(text.contains("'**/node_modules'  # JS"), "{text}");
        assert_eq!(
            d.string_list("exclude_patterns"),
            ["**/node_modules", "**/*.qcow2"]
        );
    }

    #[test]
    fn set_string_list_reaches_the_target_with_a_minimal_script() {
        let from: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let to: Vec<String> = ["a", "x", "c", "d", "e"].map(String::from).to_vec();
        let script = edit_script(&from, &to);
        assert_eq!(script.len(), 3, "{script:?}");
        let mut d = doc();
        d.set_string_list("exclude_patterns", &to)
            .expect("set list");
        assert_eq!(d.string_list("exclude_patterns"), to);
    }

    #[test]
    fn repositories_are_relabelled_added_and_removed() {
        let mut d = doc();
        d.set_repository_field(0, "label", Some("home-nas"))
            .expect("relabel");
        d.add_repository("ssh://nas/./b", Some("b")).expect("add");
        let cfg = d.config().expect("config");
        assert_eq!(cfg.repositories.len(), 2);
        assert_eq!(cfg.repositories[0].label.as_deref(), Some("home-nas"));
        d.remove_repository(1).expect("remove");
        assert_eq!(d.config().expect("config").repositories.len(), 1);
        assert!(matches!(
            d.remove_repository(5),
            Err(EditError::NoSuchRepository { .. })
        ));
    }

    #[test]
    fn replacing_a_key_keeps_its_place_and_comments() {
        let text = "# secret\nencryption_passphrase: \"hunter2\" # plain\nkeep_daily: 7\n";
        let mut d = ConfigDocument::parse(Path::new("t.yaml"), text).expect("parses");
        d.replace_key(
            "encryption_passphrase",
            "encryption_passcommand",
            Scalar::Str("/usr/bin/kastell passphrase get --config /x.yaml".into()),
        )
        .expect("replace");
        let out = d.text();
        assert!(
            out.starts_with("# secret\nencryption_passcommand: "),
            "{out}"
        );
        assert!(out.ends_with("keep_daily: 7\n"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
    }

    #[test]
    fn included_and_interpolated_values_are_read_only_with_a_reason() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("sources.yaml"), "- /home\n").expect("include");
        let text = "constants:\n    host: nas\nrepositories:\n    - path: ssh://{host}/./r\nsource_directories: !include sources.yaml\n";
        let mut d = ConfigDocument::parse(&dir.path().join("t.yaml"), text).expect("parses");
        assert!(
            matches!(d.editability("repositories"), Editability::ReadOnly(r) if r.contains("{host}"))
        );
        assert!(
            matches!(d.editability("source_directories"), Editability::ReadOnly(r) if r.contains("!include"))
        );
        assert!(d.list_add("source_directories", "/x").is_err());
        assert_eq!(d.text(), text);
    }
}
