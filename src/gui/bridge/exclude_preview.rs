//! `ExcludePreview`: what the edited config would back up, as a tree (flattened into rows with
//! a depth, folders expand in place), with totals, the size each rule leaves out, and the marks
//! of a pattern being typed. The walk runs off the Qt thread.

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
        #[qproperty(bool, busy)]
        /// Entries decided so far in a running preview.
        #[qproperty(i32, scanned)]
        /// "Backed up: … · Left out: …", or why there is no preview.
        #[qproperty(QString, totals_text)]
        #[qproperty(QString, error_text)]
        /// Per rule, in rule order: maps with `reason`, `entries` and `size` (in words).
        #[qproperty(QList_QVariant, rules)]
        /// What the pattern being typed would match.
        #[qproperty(QString, draft_text)]
        type ExcludePreview = super::ExcludePreviewRust;

        /// Walks the sources of the config text `config_text` (the editor's unsaved state) of
        /// the file `config_path`.
        #[qinvokable]
        fn refresh(self: Pin<&mut ExcludePreview>, config_path: &QString, config_text: &QString);

        #[qinvokable]
        fn cancel(self: Pin<&mut ExcludePreview>);

        /// Opens or closes the folder on `row`.
        #[qinvokable]
        fn toggle(self: Pin<&mut ExcludePreview>, row: i32);

        /// Marks what a rule being typed (kind, style, text as in `ExcludeRules.addRule`)
        /// would match; an empty text clears the marks.
        #[qinvokable]
        fn set_draft(
            self: Pin<&mut ExcludePreview>,
            kind: &QString,
            style: &QString,
            text: &QString,
        );
    }

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut ExcludePreview>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut ExcludePreview>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ExcludePreview, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &ExcludePreview) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &ExcludePreview, parent: &QModelIndex) -> i32;
    }

    impl cxx_qt::Threading for ExcludePreview {}
}

use crate::config::BorgmaticConfig;
use crate::gui::latest::Latest;
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::patterns::plan::{entry_rule, ListKind};
use crate::patterns::preview::{NodeId, PreviewTree};
use crate::patterns::summary::RuleTotal;
use crate::patterns::{CreatePlan, EntryKind, Fate};
use crate::units::format_bytes;
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QHash, QHashPair_i32_QByteArray, QList, QModelIndex, QString, QVariant};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One visible row of the tree.
struct TreeRow {
    node: NodeId,
    depth: i32,
    expanded: bool,
}

struct RowView<'a> {
    tree: &'a PreviewTree,
    row: &'a TreeRow,
    draft: &'a HashSet<NodeId>,
}

const ROLES: &[&str] = &[
    "name",
    "path",
    "depth",
    "isDir",
    "expanded",
    "hasChildren",
    "fate",
    "reason",
    "size",
    "leftOut",
    "draftMatch",
];

impl RowView<'_> {
    fn value(&self, role: usize) -> QVariant {
        let Some(node) = self.tree.node(self.row.node) else {
            return QVariant::default();
        };
        let text = |s: &str| QVariant::from(&QString::from(s));
        match role {
            0 => text(node.name()),
            1 => text(&node.path),
            2 => QVariant::from(&self.row.depth),
            3 => QVariant::from(&(node.kind == EntryKind::Directory)),
            4 => QVariant::from(&self.row.expanded),
            5 => QVariant::from(&!node.children.is_empty()),
            6 => text(match &node.fate {
                Some(Fate::Excluded(_)) => "excluded",
                Some(Fate::Unreadable(_)) => "unreadable",
                _ if node.excluded_bytes > 0
                    || has_excluded_below(self.tree, node.children.as_slice()) =>
                {
                    "partly"
                }
                _ => "included",
            }),
            7 => text(&node.reason),
            8 => text(&format_bytes(node.bytes)),
            9 => text(&if node.excluded_bytes > 0 && !node.is_excluded() {
                format_bytes(node.excluded_bytes)
            } else {
                String::new()
            }),
            10 => QVariant::from(&self.draft.contains(&self.row.node)),
            _ => QVariant::default(),
        }
    }
}

fn has_excluded_below(tree: &PreviewTree, children: &[NodeId]) -> bool {
    children
        .iter()
        .filter_map(|c| tree.node(*c))
        .any(|c| c.is_excluded())
}

/// A stand-in so `list_rows` can name the roles.
struct RoleNames;

impl Row for RoleNames {
    const ROLES: &'static [&'static str] = ROLES;
    fn value(&self, _role: usize) -> QVariant {
        QVariant::default()
    }
}

#[derive(Default)]
pub struct ExcludePreviewRust {
    busy: bool,
    scanned: i32,
    totals_text: QString,
    error_text: QString,
    rules: QList<QVariant>,
    draft_text: QString,
    tree: Option<Arc<PreviewTree>>,
    rows: Vec<TreeRow>,
    draft: HashSet<NodeId>,
    requests: Latest<Arc<AtomicBool>>,
}

fn home() -> PathBuf {
    dirs::home_dir().unwrap_or_else(|| "/".into())
}

impl qobject::ExcludePreview {
    pub fn refresh(mut self: Pin<&mut Self>, config_path: &QString, config_text: &QString) {
        self.as_mut().rust_mut().requests.stop();
        let path = PathBuf::from(config_path.to_string());
        let plan = BorgmaticConfig::parse(&path, &config_text.to_string())
            .map_err(|e| e.to_string())
            .and_then(|c| CreatePlan::from_config(&c, None, &home()).map_err(|e| e.to_string()));
        let plan = match plan {
            Ok(plan) => plan,
            Err(e) => {
                self.as_mut().set_error_text(QString::from(&e));
                self.as_mut().set_busy(false);
                return;
            }
        };
        self.as_mut().set_error_text(QString::default());
        let (ticket, cancel) = self.as_mut().rust_mut().requests.start();
        self.as_mut().set_busy(true);
        self.as_mut().set_scanned(0);
        let qt_thread = self.qt_thread();
        let scanned = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        runtime::spawn(async move {
            // Progress: the count of decided paths, ten times a second.
            let ticker = {
                let (qt_thread, scanned, done) = (qt_thread.clone(), scanned.clone(), done.clone());
                tokio::spawn(async move {
                    while !done.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let n = i32::try_from(scanned.load(Ordering::Relaxed)).unwrap_or(i32::MAX);
                        let _ = qt_thread.queue(move |mut obj| {
                            if obj.requests.is_current(ticket) {
                                obj.as_mut().set_scanned(n);
                            }
                        });
                    }
                })
            };
            let walked = {
                let (scanned, cancel) = (scanned.clone(), cancel.clone());
                tokio::task::spawn_blocking(move || PreviewTree::build(&plan, &cancel, &scanned))
                    .await
            };
            done.store(true, Ordering::Relaxed);
            let _ = ticker.await;
            let Ok(tree) = walked else { return };
            if tree.cancelled {
                return;
            }
            let tree = Arc::new(tree);
            let _ = qt_thread.queue(move |mut obj| {
                if obj.as_mut().rust_mut().requests.finish(ticket) {
                    obj.as_mut().install(tree);
                }
            });
        });
    }

    fn install(mut self: Pin<&mut Self>, tree: Arc<PreviewTree>) {
        let s = &tree.summary;
        let totals = format!(
            "Backed up: {} files, {} · Left out: {} items, {}{}",
            s.included_files,
            format_bytes(s.included_bytes),
            s.excluded_entries,
            format_bytes(s.excluded_bytes),
            if s.unreadable > 0 {
                format!(" · {} unreadable", s.unreadable)
            } else {
                String::new()
            }
        );
        let rules = list_rows::variant_list(&s.rules);
        self.as_mut().set_totals_text(QString::from(&totals));
        self.as_mut().set_rules(rules);
        self.as_mut()
            .set_scanned(i32::try_from(tree.nodes.len()).unwrap_or(i32::MAX));
        // Keep the folders that were open open.
        let open: HashSet<String> = match &self.tree {
            Some(old) => self
                .rows
                .iter()
                .filter(|r| r.expanded)
                .filter_map(|r| old.node(r.node).map(|n| n.path.clone()))
                .collect(),
            None => HashSet::new(),
        };
        let mut rows = Vec::new();
        let first_open = open.is_empty();
        for &root in &tree.roots {
            push_rows(&tree, root, 0, &open, first_open, &mut rows);
        }
        // SAFETY: begin/end reset always come in pairs here.
        unsafe {
            self.as_mut().begin_reset_model();
            self.as_mut().rust_mut().rows = rows;
            self.as_mut().rust_mut().tree = Some(tree);
            self.as_mut().rust_mut().draft.clear();
            self.as_mut().end_reset_model();
        }
        self.set_busy(false);
    }

    pub fn cancel(mut self: Pin<&mut Self>) {
        self.as_mut().rust_mut().requests.stop();
        self.set_busy(false);
    }

    pub fn toggle(mut self: Pin<&mut Self>, row: i32) {
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let Ok(at) = usize::try_from(row) else { return };
        let Some(current) = self.rows.get(at) else {
            return;
        };
        let (node, depth, expanded) = (current.node, current.depth, current.expanded);
        let mut rows = std::mem::take(&mut self.as_mut().rust_mut().rows);
        if expanded {
            let end = rows[at + 1..]
                .iter()
                .position(|r| r.depth <= depth)
                .map(|p| at + 1 + p)
                .unwrap_or(rows.len());
            rows.drain(at + 1..end);
            rows[at].expanded = false;
        } else {
            let children: Vec<TreeRow> = tree
                .node(node)
                .map(|n| {
                    n.children
                        .iter()
                        .map(|&c| TreeRow {
                            node: c,
                            depth: depth + 1,
                            expanded: false,
                        })
                        .collect()
                })
                .unwrap_or_default();
            rows.splice(at + 1..at + 1, children);
            rows[at].expanded = true;
        }
        // SAFETY: begin/end reset always come in pairs here.
        unsafe {
            self.as_mut().begin_reset_model();
            self.as_mut().rust_mut().rows = rows;
            self.as_mut().end_reset_model();
        }
    }

    pub fn set_draft(mut self: Pin<&mut Self>, kind: &QString, style: &QString, text: &QString) {
        let text = text.to_string();
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let marks: HashSet<NodeId>;
        let summary;
        if text.trim().is_empty() {
            marks = HashSet::new();
            summary = String::new();
        } else {
            let kind = kind.to_string();
            let style = style.to_string();
            let styled = if style.is_empty() {
                text.clone()
            } else {
                format!("{style}:{text}")
            };
            let rule = if kind == "!" {
                entry_rule(ListKind::ExcludePatterns, &styled, &home())
            } else {
                let styled = if style.is_empty() {
                    format!("fm:{text}")
                } else {
                    styled
                };
                entry_rule(ListKind::Patterns, &format!("{kind} {styled}"), &home())
            };
            match rule {
                Ok(Some(rule)) => {
                    let draft = tree.draft(&rule, 3);
                    summary = if draft.entries == 0 {
                        "Matches nothing in the sources".to_string()
                    } else {
                        format!(
                            "Matches {} item{}, {}: {}",
                            draft.entries,
                            if draft.entries == 1 { "" } else { "s" },
                            format_bytes(draft.bytes),
                            draft
                                .sample
                                .iter()
                                .map(|(p, _)| p.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    marks = draft.nodes.into_iter().collect();
                }
                Ok(None) => {
                    marks = HashSet::new();
                    summary = String::new();
                }
                Err(e) => {
                    marks = HashSet::new();
                    summary = e.message;
                }
            }
        }
        self.as_mut().set_draft_text(QString::from(&summary));
        // SAFETY: begin/end reset always come in pairs here.
        unsafe {
            self.as_mut().begin_reset_model();
            self.as_mut().rust_mut().draft = marks;
            self.as_mut().end_reset_model();
        }
    }

    fn data(&self, index: &QModelIndex, role: i32) -> QVariant {
        let (Some(tree), Ok(row)) = (&self.tree, usize::try_from(index.row())) else {
            return QVariant::default();
        };
        let Some(row) = self.rows.get(row) else {
            return QVariant::default();
        };
        let view = RowView {
            tree,
            row,
            draft: &self.draft,
        };
        match usize::try_from(role - 0x0100) {
            Ok(role) if role < ROLES.len() => view.value(role),
            _ => QVariant::default(),
        }
    }

    fn role_names(&self) -> QHash<QHashPair_i32_QByteArray> {
        list_rows::role_names::<RoleNames>()
    }

    fn row_count(&self, _parent: &QModelIndex) -> i32 {
        list_rows::row_count(&self.rows)
    }
}

/// The rows of `node` and, if it is open, of its children (roots start open).
fn push_rows(
    tree: &PreviewTree,
    node: NodeId,
    depth: i32,
    open: &HashSet<String>,
    open_roots: bool,
    rows: &mut Vec<TreeRow>,
) {
    let Some(n) = tree.node(node) else { return };
    let expanded = !n.children.is_empty() && (open.contains(&n.path) || (open_roots && depth == 0));
    rows.push(TreeRow {
        node,
        depth,
        expanded,
    });
    if expanded {
        for &child in &n.children {
            push_rows(tree, child, depth + 1, open, false, rows);
        }
    }
}

impl Row for RuleTotal {
    const ROLES: &'static [&'static str] = &["reason", "entries", "size"];

    fn value(&self, role: usize) -> QVariant {
        match role {
            0 => QVariant::from(&QString::from(&self.reason)),
            1 => QVariant::from(&(self.entries as f64)),
            _ => QVariant::from(&QString::from(&format_bytes(self.bytes))),
        }
    }
}
