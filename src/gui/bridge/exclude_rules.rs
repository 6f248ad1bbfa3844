//! `ExcludeRules`: the exclude editor's rule list (the core's `ExcludeEditor`), one row per
//! rule, with the switches and presets as properties.

#[cxx_qt::bridge]
pub mod qobject {
    unsafe extern "C++" {
        include!(<QtCore/QAbstractListModel>);
        type QAbstractListModel;
        include!("cxx-qt-lib/qhash.h");
        type QHash_i32_QByteArray = cxx_qt_lib::QHash<cxx_qt_lib::QHashPair_i32_QByteArray>;
        include!("cxx-qt-lib/qvariant.h");
        type QVariant = cxx_qt_lib::QVariant;
        include!("cxx-qt-lib/qmodelindex.h");
        type QModelIndex = cxx_qt_lib::QModelIndex;
        include!("cxx-qt-lib/qstring.h");
        type QString = cxx_qt_lib::QString;
        include!("cxx-qt-lib/qlist.h");
        type QList_QVariant = cxx_qt_lib::QList<cxx_qt_lib::QVariant>;
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        #[qproperty(QString, config_path)]
        #[qproperty(bool, exclude_caches)]
        #[qproperty(bool, exclude_nobackup)]
        #[qproperty(bool, one_file_system)]
        /// Maps with `id`, `name`, `description`, `patterns` (one a line) and `enabled`.
        #[qproperty(QList_QVariant, presets)]
        #[qproperty(bool, modified)]
        #[qproperty(bool, has_errors)]
        /// The last load or save result, for people.
        #[qproperty(QString, status_text)]
        /// Bumped on every change, so the preview knows to refresh.
        #[qproperty(i32, revision)]
        type ExcludeRules = super::ExcludeRulesRust;

        #[qinvokable]
        fn load(self: Pin<&mut ExcludeRules>, config_path: &QString);

        /// Adds a rule: kind `!` (leave out), `-` (leave out, look inside), `+` (include);
        /// style "" for the default or `fm`, `sh`, `re`, `pp`, `pf`. Returns its row.
        #[qinvokable]
        fn add_rule(
            self: Pin<&mut ExcludeRules>,
            kind: &QString,
            style: &QString,
            text: &QString,
        ) -> i32;

        #[qinvokable]
        fn remove_rule(self: Pin<&mut ExcludeRules>, row: i32);

        #[qinvokable]
        fn move_rule(self: Pin<&mut ExcludeRules>, from: i32, to: i32);

        #[qinvokable]
        fn set_rule_text(self: Pin<&mut ExcludeRules>, row: i32, text: &QString);

        #[qinvokable]
        fn set_rule_style(self: Pin<&mut ExcludeRules>, row: i32, style: &QString);

        #[qinvokable]
        fn set_rule_kind(self: Pin<&mut ExcludeRules>, row: i32, kind: &QString);

        #[qinvokable]
        fn set_preset(self: Pin<&mut ExcludeRules>, id: &QString, enabled: bool);

        /// `caches`, `nobackup` or `one_file_system`.
        #[qinvokable]
        fn set_switch(self: Pin<&mut ExcludeRules>, name: &QString, on: bool);

        /// The error borg would give for a rule being typed ("" when it is fine).
        #[qinvokable]
        fn check_draft(
            self: &ExcludeRules,
            kind: &QString,
            style: &QString,
            text: &QString,
        ) -> QString;

        /// The config as it would be saved now (the preview reads it).
        #[qinvokable]
        fn edited_text(self: &ExcludeRules) -> QString;

        /// Writes the rules back; returns an error message or "".
        #[qinvokable]
        fn save(self: Pin<&mut ExcludeRules>) -> QString;

        #[qinvokable]
        fn revert(self: Pin<&mut ExcludeRules>);
    }

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut ExcludeRules>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut ExcludeRules>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ExcludeRules, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &ExcludeRules) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &ExcludeRules, parent: &QModelIndex) -> i32;
    }
}

use crate::gui::list_rows::{self, Row};
use crate::patterns::editor::{ExcludeEditor, RuleRow};
use crate::patterns::plan::{entry_rule, ListKind};
use crate::patterns::presets::Preset;
use crate::patterns::Style;
use core::pin::Pin;
use cxx_qt::CxxQtType;
use cxx_qt_lib::{QList, QString, QVariant};
use std::path::PathBuf;

struct RuleItem {
    kind: String,
    style: String,
    text: String,
    list: String,
    error: String,
    error_offset: i32,
    entry: String,
    fixed: bool,
}

impl Row for RuleItem {
    const ROLES: &'static [&'static str] = &[
        "kind",
        "style",
        "text",
        "list",
        "error",
        "errorOffset",
        "entry",
        "fixed",
    ];

    fn value(&self, role: usize) -> QVariant {
        match role {
            5 => QVariant::from(&self.error_offset),
            7 => QVariant::from(&self.fixed),
            _ => {
                let text = match role {
                    0 => &self.kind,
                    1 => &self.style,
                    2 => &self.text,
                    3 => &self.list,
                    4 => &self.error,
                    _ => &self.entry,
                };
                QVariant::from(&QString::from(text))
            }
        }
    }
}

fn item_of(row: &RuleRow) -> RuleItem {
    RuleItem {
        kind: row.kind.to_string(),
        style: row
            .style
            .map(|s| s.prefix())
            .unwrap_or_default()
            .to_string(),
        text: row.text.clone(),
        list: match row.list {
            ListKind::ExcludePatterns => "exclude_patterns",
            ListKind::Patterns => "patterns",
        }
        .into(),
        error: row
            .error
            .as_ref()
            .map(|e| e.message.clone())
            .unwrap_or_default(),
        error_offset: row
            .error
            .as_ref()
            .and_then(|e| i32::try_from(e.offset).ok())
            .unwrap_or(-1),
        entry: row.entry(),
        fixed: matches!(row.kind, 'R' | 'P'),
    }
}

fn home() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| "/".into())
}

fn style_of(text: &QString) -> Option<Style> {
    Style::from_prefix(&text.to_string())
}

fn index(row: i32) -> usize {
    usize::try_from(row).unwrap_or(usize::MAX)
}

#[derive(Default)]
pub struct ExcludeRulesRust {
    config_path: QString,
    exclude_caches: bool,
    exclude_nobackup: bool,
    one_file_system: bool,
    presets: QList<QVariant>,
    modified: bool,
    has_errors: bool,
    status_text: QString,
    revision: i32,
    editor: Option<ExcludeEditor>,
    rows: Vec<RuleItem>,
}

impl qobject::ExcludeRules {
    pub fn load(mut self: Pin<&mut Self>, config_path: &QString) {
        self.as_mut().set_config_path(config_path.clone());
        let path = PathBuf::from(config_path.to_string());
        match ExcludeEditor::load(&path, &home()) {
            Ok(editor) => {
                self.as_mut().rust_mut().editor = Some(editor);
                self.as_mut().set_status_text(QString::default());
            }
            Err(e) => {
                self.as_mut().rust_mut().editor = None;
                self.as_mut().set_status_text(QString::from(&e.to_string()));
            }
        }
        self.refresh();
    }

    /// Re-reads rows and properties from the editor after a change.
    fn refresh(mut self: Pin<&mut Self>) {
        let (rows, flags, presets, modified, errors) = match &self.editor {
            Some(e) => (
                e.rows().iter().map(item_of).collect(),
                (e.exclude_caches, e.exclude_nobackup, e.one_file_system),
                list_rows::variant_list(&e.presets()),
                e.is_modified(),
                e.has_errors(),
            ),
            None => (
                Vec::new(),
                (false, false, false),
                QList::default(),
                false,
                false,
            ),
        };
        self.as_mut().replace_rows(rows);
        self.as_mut().set_exclude_caches(flags.0);
        self.as_mut().set_exclude_nobackup(flags.1);
        self.as_mut().set_one_file_system(flags.2);
        self.as_mut().set_presets(presets);
        self.as_mut().set_modified(modified);
        self.as_mut().set_has_errors(errors);
        let next = self.revision.wrapping_add(1);
        self.set_revision(next);
    }

    fn edit(mut self: Pin<&mut Self>, change: impl FnOnce(&mut ExcludeEditor)) {
        if let Some(editor) = self.as_mut().rust_mut().editor.as_mut() {
            change(editor);
        }
        self.refresh();
    }

    pub fn add_rule(
        mut self: Pin<&mut Self>,
        kind: &QString,
        style: &QString,
        text: &QString,
    ) -> i32 {
        let kind = kind.to_string().chars().next().unwrap_or('!');
        let (style, text) = (style_of(style), text.to_string());
        let mut at = -1;
        if let Some(editor) = self.as_mut().rust_mut().editor.as_mut() {
            at = i32::try_from(editor.add(kind, style, &text)).unwrap_or(-1);
        }
        self.refresh();
        at
    }

    pub fn remove_rule(self: Pin<&mut Self>, row: i32) {
        self.edit(|e| e.remove(index(row)));
    }

    pub fn move_rule(self: Pin<&mut Self>, from: i32, to: i32) {
        self.edit(|e| e.move_row(index(from), index(to)));
    }

    pub fn set_rule_text(self: Pin<&mut Self>, row: i32, text: &QString) {
        let text = text.to_string();
        self.edit(|e| e.set_text(index(row), &text));
    }

    pub fn set_rule_style(self: Pin<&mut Self>, row: i32, style: &QString) {
        let style = style_of(style);
        self.edit(|e| e.set_style(index(row), style));
    }

    pub fn set_rule_kind(self: Pin<&mut Self>, row: i32, kind: &QString) {
        let kind = kind.to_string().chars().next().unwrap_or('!');
        self.edit(|e| e.set_kind(index(row), kind));
    }

    pub fn set_preset(self: Pin<&mut Self>, id: &QString, enabled: bool) {
        let id = id.to_string();
        self.edit(|e| e.set_preset(&id, enabled));
    }

    pub fn set_switch(self: Pin<&mut Self>, name: &QString, on: bool) {
        let name = name.to_string();
        self.edit(|e| match name.as_str() {
            "caches" => e.exclude_caches = on,
            "nobackup" => e.exclude_nobackup = on,
            "one_file_system" => e.one_file_system = on,
            _ => {}
        });
    }

    pub fn check_draft(&self, kind: &QString, style: &QString, text: &QString) -> QString {
        let text = text.to_string();
        if text.trim().is_empty() {
            return QString::default();
        }
        let kind = kind.to_string();
        let entry = match (kind.as_str(), style_of(style)) {
            ("!", Some(s)) => format!("{}:{text}", s.prefix()),
            ("!", None) => text.clone(),
            (k, Some(s)) => format!("{k} {}:{text}", s.prefix()),
            (k, None) => format!("{k} fm:{text}"),
        };
        let list = if kind == "!" {
            ListKind::ExcludePatterns
        } else {
            ListKind::Patterns
        };
        match entry_rule(list, &entry, &home()) {
            Ok(_) => QString::default(),
            Err(e) => QString::from(&e.message),
        }
    }

    pub fn edited_text(&self) -> QString {
        match self.editor.as_ref().map(|e| e.document()) {
            Some(Ok(doc)) => QString::from(&doc.text()),
            _ => QString::default(),
        }
    }

    pub fn save(mut self: Pin<&mut Self>) -> QString {
        let result = match self.as_mut().rust_mut().editor.as_mut() {
            Some(editor) => editor.save(),
            None => Err("No config is open.".into()),
        };
        let message = match &result {
            Ok(outcome) => format!(
                "Saved{}{}.",
                outcome
                    .backup
                    .as_deref()
                    .map(|b| format!("; the previous version is in {}", b.display()))
                    .unwrap_or_default(),
                if outcome.validated_by_borgmatic {
                    "; borgmatic validated it"
                } else {
                    ""
                }
            ),
            Err(e) => e.clone(),
        };
        self.as_mut().set_status_text(QString::from(&message));
        self.refresh();
        match result {
            Ok(_) => QString::default(),
            Err(e) => QString::from(&e),
        }
    }

    pub fn revert(mut self: Pin<&mut Self>) {
        let path = self.config_path.clone();
        self.as_mut().load(&path);
    }
}

list_rows::list_model!(qobject::ExcludeRules, RuleItem);

/// A preset with whether the rules hold it now.
impl Row for (&'static Preset, bool) {
    const ROLES: &'static [&'static str] = &["id", "name", "description", "patterns", "enabled"];

    fn value(&self, role: usize) -> QVariant {
        let (preset, enabled) = self;
        let text = match role {
            0 => preset.id.to_string(),
            1 => preset.name.to_string(),
            2 => preset.description.to_string(),
            3 => preset.patterns.join("\n"),
            _ => return QVariant::from(enabled),
        };
        QVariant::from(&QString::from(&text))
    }
}
