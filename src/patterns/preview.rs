//! The preview as a tree the window can browse: every path the walk decided, folder sizes
//! added up (what is backed up and what is left out below each folder), and what a pattern
//! being typed would match.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::plan::CreatePlan;
use super::reason_label;
use super::rules::{Matcher, Rule};
use super::summary::{reason_order, Summary, SummaryBuilder};
use super::walk::{walk, Entry, EntryKind, Fate, WalkOptions, WalkWarning};

pub type NodeId = u32;

#[derive(Debug, Clone)]
pub struct Node {
    pub path: String,
    pub parent: Option<NodeId>,
    pub kind: EntryKind,
    /// `None` for a folder the walk passed through without deciding (the parent of a root).
    pub fate: Option<Fate>,
    /// The reason, for people ("! fm:**/.cache").
    pub reason: String,
    /// Everything at or below this path (for a left-out folder borg never enters: measured).
    pub bytes: u64,
    pub included_bytes: u64,
    pub excluded_bytes: u64,
    pub children: Vec<NodeId>,
}

impl Node {
    pub fn name(&self) -> &str {
        if self.parent.is_none() {
            return &self.path;
        }
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn is_excluded(&self) -> bool {
        matches!(self.fate, Some(Fate::Excluded(_)))
    }
}

/// A finished preview.
#[derive(Debug, Default)]
pub struct PreviewTree {
    pub nodes: Vec<Node>,
    pub roots: Vec<NodeId>,
    pub summary: Summary,
    pub warnings: Vec<WalkWarning>,
    pub cancelled: bool,
}

/// What a pattern being typed would match in the last preview.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftMatch {
    /// Paths it matches whose parent it does not match (a matched folder counts once).
    pub entries: u64,
    pub bytes: u64,
    /// The first few, biggest first.
    pub sample: Vec<(String, u64)>,
    /// Every matched node (for marking the tree).
    pub nodes: Vec<NodeId>,
}

impl PreviewTree {
    /// Walks `plan` and builds the tree. `scanned` counts entries as they come.
    pub fn build(plan: &CreatePlan, cancel: &AtomicBool, scanned: &AtomicU64) -> PreviewTree {
        let matcher = Matcher::new(plan.rules.clone());
        let entries: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
        let sink = |batch: Vec<Entry>| {
            scanned.fetch_add(batch.len() as u64, Ordering::Relaxed);
            if let Ok(mut all) = entries.lock() {
                all.extend(batch);
            }
        };
        let warnings = walk(
            plan,
            &matcher,
            WalkOptions {
                measure_excluded: true,
            },
            cancel,
            &sink,
        );
        let entries = entries.into_inner().unwrap_or_default();
        let mut tree = PreviewTree::from_entries(plan, entries);
        tree.warnings = warnings;
        tree.cancelled = cancel.load(Ordering::Relaxed);
        tree
    }

    fn from_entries(plan: &CreatePlan, entries: Vec<Entry>) -> PreviewTree {
        let mut tree = PreviewTree::default();
        let mut by_path: HashMap<String, NodeId> = HashMap::new();
        let roots = plan.walk_roots();
        let mut summary = SummaryBuilder::default();
        for root in &roots {
            tree.node_for(root, &roots, &mut by_path);
        }
        for entry in entries {
            summary.add(&entry);
            let id = tree.node_for(&entry.path, &roots, &mut by_path);
            let node = &mut tree.nodes[id as usize];
            node.kind = entry.kind;
            node.reason = match &entry.fate {
                Fate::Excluded(reason) => reason_label(plan, reason),
                Fate::Unreadable(e) => e.clone(),
                Fate::Included => String::new(),
            };
            // A folder borg excludes but enters (`-`) is listed once as excluded; keep that.
            if !(node.is_excluded() && entry.fate == Fate::Included) {
                node.fate = Some(entry.fate.clone());
            }
            if entry.kind != EntryKind::Directory || node.is_excluded() {
                node.bytes = entry.bytes;
                if node.is_excluded() {
                    node.excluded_bytes = entry.bytes;
                } else if entry.fate == Fate::Included {
                    node.included_bytes = entry.bytes;
                }
            }
        }
        tree.summary = summary.finish(|r| reason_label(plan, r), reason_order);
        // Parents were created before their children: add up from the end.
        for id in (0..tree.nodes.len()).rev() {
            let (bytes, included, excluded, parent) = {
                let n = &tree.nodes[id];
                (n.bytes, n.included_bytes, n.excluded_bytes, n.parent)
            };
            if let Some(parent) = parent {
                let p = &mut tree.nodes[parent as usize];
                p.bytes += bytes;
                p.included_bytes += included;
                p.excluded_bytes += excluded;
            }
        }
        for node in &mut tree.nodes {
            node.children.shrink_to_fit();
        }
        let nodes = &tree.nodes;
        let sort = |ids: &mut Vec<NodeId>| {
            ids.sort_by(|a, b| {
                let (a, b) = (&nodes[*a as usize], &nodes[*b as usize]);
                (b.kind == EntryKind::Directory)
                    .cmp(&(a.kind == EntryKind::Directory))
                    .then_with(|| a.name().to_lowercase().cmp(&b.name().to_lowercase()))
            })
        };
        let mut sorted: Vec<Vec<NodeId>> = tree.nodes.iter().map(|n| n.children.clone()).collect();
        for ids in &mut sorted {
            sort(ids);
        }
        for (node, ids) in tree.nodes.iter_mut().zip(sorted) {
            node.children = ids;
        }
        tree
    }

    fn node_for(
        &mut self,
        path: &str,
        roots: &[String],
        by_path: &mut HashMap<String, NodeId>,
    ) -> NodeId {
        if let Some(&id) = by_path.get(path) {
            return id;
        }
        let is_root = roots.iter().any(|r| r == path);
        let parent = if is_root {
            None
        } else {
            match path.rfind('/') {
                Some(0) if path.len() > 1 => Some(self.node_for("/", roots, by_path)),
                Some(at) if at > 0 => Some(self.node_for(&path[..at], roots, by_path)),
                _ => None,
            }
        };
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            path: path.to_string(),
            parent,
            kind: EntryKind::Directory,
            fate: None,
            reason: String::new(),
            bytes: 0,
            included_bytes: 0,
            excluded_bytes: 0,
            children: Vec::new(),
        });
        match parent {
            Some(p) => self.nodes[p as usize].children.push(id),
            None => self.roots.push(id),
        }
        by_path.insert(path.to_string(), id);
        id
    }

    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    /// What `rule` would match among the previewed paths.
    pub fn draft(&self, rule: &Rule, sample: usize) -> DraftMatch {
        let matcher = Matcher::new(vec![rule.clone()]);
        let mut matched = vec![false; self.nodes.len()];
        let mut result = DraftMatch::default();
        let mut top: Vec<(u64, NodeId)> = Vec::new();
        for (id, node) in self.nodes.iter().enumerate() {
            let parent_matched = node.parent.is_some_and(|p| matched[p as usize]);
            if parent_matched {
                matched[id] = true;
                result.nodes.push(id as NodeId);
                continue;
            }
            if node.fate.is_none() {
                continue;
            }
            if matcher.verdict(&node.path).rule.is_some() {
                matched[id] = true;
                result.nodes.push(id as NodeId);
                result.entries += 1;
                result.bytes += node.bytes;
                top.push((node.bytes, id as NodeId));
            }
        }
        top.sort_by_key(|t| std::cmp::Reverse(t.0));
        result.sample = top
            .iter()
            .take(sample)
            .map(|(bytes, id)| (self.nodes[*id as usize].path.clone(), *bytes))
            .collect();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BorgmaticConfig;
    use std::path::Path;

    #[test]
    fn folder_sizes_add_up_and_excluded_folders_are_measured() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("me");
        std::fs::create_dir_all(home.join(".cache/deep")).unwrap();
        std::fs::create_dir_all(home.join("docs")).unwrap();
        std::fs::write(home.join(".cache/deep/blob"), vec![0u8; 1000]).unwrap();
        std::fs::write(home.join("docs/a"), vec![0u8; 10]).unwrap();
        std::fs::write(home.join("b"), vec![0u8; 5]).unwrap();
        let yaml = format!(
            "source_directories: [{}]\nexclude_patterns: ['**/.cache']\n",
            home.display()
        );
        let config = BorgmaticConfig::parse(Path::new("/x.yaml"), &yaml).unwrap();
        let plan = CreatePlan::from_config(&config, None, Path::new("/")).unwrap();
        let tree = PreviewTree::build(&plan, &AtomicBool::new(false), &AtomicU64::new(0));
        let root = tree.node(tree.roots[0]).unwrap();
        assert_eq!(root.bytes, 1015);
        assert_eq!(root.included_bytes, 15);
        assert_eq!(root.excluded_bytes, 1000);
        let names: Vec<&str> = root
            .children
            .iter()
            .map(|c| tree.node(*c).unwrap().name())
            .collect();
        assert_eq!(names, vec![".cache", "docs", "b"]);
        let cache = tree.node(root.children[0]).unwrap();
        assert!(cache.is_excluded());
        assert_eq!(cache.reason, "! fm:**/.cache");
        assert_eq!(tree.summary.rules[0].bytes, 1000);

        let rule = crate::patterns::plan::entry_rule(
            crate::patterns::plan::ListKind::ExcludePatterns,
            "**/docs",
            Path::new("/"),
        )
        .unwrap()
        .unwrap();
        let draft = tree.draft(&rule, 5);
        assert_eq!(draft.entries, 1);
        assert_eq!(draft.bytes, 10);
        assert_eq!(
            draft.nodes.len(),
            2,
            "the folder and the file in it are marked"
        );
    }
}
