//! Totals of a preview: what is backed up, what each rule leaves out, the biggest left-out folders.

use std::collections::HashMap;

use serde::Serialize;

use super::walk::{Entry, EntryKind, Fate, Reason};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RuleTotal {
    /// What excluded them, for people (`! fm:**/.cache`, `exclude_caches (CACHEDIR.TAG)`).
    pub reason: String,
    /// Paths it decided (each excluded folder counts once).
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ExcludedItem {
    pub path: String,
    pub reason: String,
    pub bytes: u64,
    pub is_dir: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    pub included_files: u64,
    pub included_dirs: u64,
    pub included_bytes: u64,
    pub excluded_entries: u64,
    pub excluded_bytes: u64,
    pub unreadable: u64,
    /// Per rule, in the order of the rules (rules that matched nothing are left out).
    pub rules: Vec<RuleTotal>,
    /// The largest excluded paths, biggest first.
    pub largest_excluded: Vec<ExcludedItem>,
}

/// Adds up entries as they stream in.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    summary: Summary,
    by_reason: HashMap<Reason, (u64, u64)>,
    largest: Vec<(u64, String, Reason, bool)>,
}

const LARGEST: usize = 20;

impl SummaryBuilder {
    pub fn add(&mut self, entry: &Entry) {
        let s = &mut self.summary;
        match &entry.fate {
            Fate::Included => {
                if entry.kind == EntryKind::Directory {
                    s.included_dirs += 1;
                } else {
                    s.included_files += 1;
                    s.included_bytes += entry.bytes;
                }
            }
            Fate::Unreadable(_) => s.unreadable += 1,
            Fate::Excluded(reason) => {
                s.excluded_entries += 1;
                s.excluded_bytes += entry.bytes;
                let slot = self.by_reason.entry(reason.clone()).or_default();
                slot.0 += 1;
                slot.1 += entry.bytes;
                if entry.bytes > 0 {
                    self.largest.push((
                        entry.bytes,
                        entry.path.clone(),
                        reason.clone(),
                        entry.kind == EntryKind::Directory,
                    ));
                    if self.largest.len() > LARGEST * 8 {
                        self.trim();
                    }
                }
            }
        }
    }

    fn trim(&mut self) {
        self.largest
            .sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.largest.truncate(LARGEST);
    }

    /// The totals, with reasons named by `label`.
    pub fn finish(
        mut self,
        label: impl Fn(&Reason) -> String,
        order: impl Fn(&Reason) -> usize,
    ) -> Summary {
        self.trim();
        let mut reasons: Vec<(Reason, (u64, u64))> = self.by_reason.into_iter().collect();
        reasons.sort_by_key(|(r, _)| order(r));
        self.summary.rules = reasons
            .iter()
            .map(|(reason, (entries, bytes))| RuleTotal {
                reason: label(reason),
                entries: *entries,
                bytes: *bytes,
            })
            .collect();
        self.summary.largest_excluded = self
            .largest
            .iter()
            .map(|(bytes, path, reason, is_dir)| ExcludedItem {
                path: path.clone(),
                reason: label(reason),
                bytes: *bytes,
                is_dir: *is_dir,
            })
            .collect();
        self.summary
    }
}

/// Sort key putting rules in their order, then the tag reasons.
pub fn reason_order(reason: &Reason) -> usize {
    match reason {
        Reason::Rule(i) => *i,
        Reason::CacheTag => usize::MAX - 2,
        Reason::Marker(_) => usize::MAX - 1,
        Reason::NoDump => usize::MAX,
    }
}
