//! How a folder of an archive is shown, as plain logic the window and tests share: the order
//! of its entries, their icons, the breadcrumbs above them and the bars of the folder-size
//! chart (sizes in words by `units`, as everywhere else).

use super::{Kind, Listed};
use crate::units::format_bytes;

/// What a listing is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Size,
    Modified,
}

/// Folders first, then by `key` (names case-insensitively), ties by path.
pub fn sort_listed<T>(
    rows: &mut [T],
    listed: impl Fn(&T) -> &Listed,
    key: SortKey,
    descending: bool,
) {
    rows.sort_by(|a, b| {
        let (a, b) = (listed(a), listed(b));
        let folders_first = (b.kind == Kind::Folder).cmp(&(a.kind == Kind::Folder));
        let by = match key {
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Modified => a.mtime_ns.cmp(&b.mtime_ns),
            SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        };
        let by = if descending { by.reverse() } else { by };
        folders_first.then(by).then_with(|| a.path.cmp(&b.path))
    });
}

/// A freedesktop icon name for a listed entry, by type and a few common extensions.
pub fn icon_name(listed: &Listed) -> &'static str {
    match listed.kind {
        Kind::Folder => "folder",
        Kind::Symlink => "emblem-symbolic-link",
        Kind::Other => "application-x-zerosize",
        Kind::File => {
            let ext = listed
                .name
                .rsplit_once('.')
                .map(|(_, e)| e.to_lowercase())
                .unwrap_or_default();
            match ext.as_str() {
                "png" | "jpg" | "jpeg" | "gif" | "webp" | "svg" | "bmp" => "image-x-generic",
                "txt" | "md" | "log" | "rst" | "csv" => "text-x-generic",
                "pdf" => "application-pdf",
                "mp3" | "flac" | "ogg" | "wav" => "audio-x-generic",
                "mp4" | "mkv" | "webm" | "avi" => "video-x-generic",
                "zip" | "gz" | "xz" | "zst" | "tar" | "7z" => "package-x-generic",
                "sh" | "py" | "rs" | "c" | "js" | "yaml" | "yml" | "toml" | "json" => {
                    "text-x-script"
                }
                _ => "text-x-generic",
            }
        }
    }
}

/// One step of the way to the shown folder: the archive first (path ""), then each folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    pub label: String,
    pub path: String,
}

pub fn breadcrumbs(archive: &str, folder: &str) -> Vec<Crumb> {
    let mut crumbs = vec![Crumb {
        label: archive.to_string(),
        path: String::new(),
    }];
    let mut path = String::new();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        crumbs.push(Crumb {
            label: part.to_string(),
            path: path.clone(),
        });
    }
    crumbs
}

/// One bar of the folder-size chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeBar {
    pub name: String,
    pub size: u64,
    /// The size in words and its share of the folder ("1.2 GB  40 %").
    pub size_text: String,
    /// The bar's length, 0 to 1 of the folder's total.
    pub share: f64,
    pub folder: bool,
    /// The bar that sums the children after the first `shown`.
    pub others: bool,
}

/// The folder-size chart: the largest `shown` children (`sizes` come largest first), the
/// rest summed in one bar, and the folder's total in words ("" when nothing takes space).
pub fn size_bars(sizes: &[(String, u64, bool)], shown: usize) -> (Vec<SizeBar>, String) {
    let total: u64 = sizes.iter().map(|s| s.1).sum();
    let bar = |name: String, size: u64, folder: bool, others: bool| {
        let share = if total > 0 {
            size as f64 / total as f64
        } else {
            0.0
        };
        let size_text = if total > 0 {
            format!("{}  {} %", format_bytes(size), (share * 100.0).round())
        } else {
            format_bytes(size)
        };
        SizeBar {
            name,
            size,
            size_text,
            share,
            folder,
            others,
        }
    };
    let mut bars: Vec<SizeBar> = sizes
        .iter()
        .take(shown)
        .map(|(name, size, folder)| bar(name.clone(), *size, *folder, false))
        .collect();
    let rest: u64 = sizes.iter().skip(shown).map(|s| s.1).sum();
    if rest > 0 {
        let name = format!("{} others", sizes.len() - shown);
        bars.push(bar(name, rest, false, true));
    }
    let total_text = if total > 0 {
        format_bytes(total)
    } else {
        String::new()
    };
    (bars, total_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: Kind, size: u64, mtime_ns: i64) -> Listed {
        Listed {
            entry: 0,
            name: name.into(),
            path: name.into(),
            kind,
            mode: 0,
            size,
            mtime_ns,
            target: None,
        }
    }

    #[test]
    fn folders_come_first_then_the_chosen_order() {
        let mut rows = vec![
            entry("b.txt", Kind::File, 10, 3),
            entry("Zeta", Kind::Folder, 0, 1),
            entry("A.txt", Kind::File, 30, 2),
        ];
        sort_listed(&mut rows, |r| r, SortKey::Name, false);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Zeta", "A.txt", "b.txt"]);
        sort_listed(&mut rows, |r| r, SortKey::Size, true);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Zeta", "A.txt", "b.txt"]);
        sort_listed(&mut rows, |r| r, SortKey::Modified, true);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["Zeta", "b.txt", "A.txt"]);
    }

    #[test]
    fn icons_follow_type_and_extension() {
        assert_eq!(icon_name(&entry("x", Kind::Folder, 0, 0)), "folder");
        assert_eq!(
            icon_name(&entry("p.JPG", Kind::File, 0, 0)),
            "image-x-generic"
        );
        assert_eq!(
            icon_name(&entry("noext", Kind::File, 0, 0)),
            "text-x-generic"
        );
    }

    #[test]
    fn breadcrumbs_lead_from_the_archive_to_the_folder() {
        let crumbs = breadcrumbs("home-1", "/home/me//Documents");
        let paths: Vec<_> = crumbs.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["", "home", "home/me", "home/me/Documents"]);
        assert_eq!(crumbs[0].label, "home-1");
    }

    #[test]
    fn size_bars_show_the_largest_and_sum_the_rest_in_units_words() {
        let sizes: Vec<(String, u64, bool)> = (0..10)
            .map(|i| (format!("f{i}"), 1_000_000 * (10 - i), i == 0))
            .collect();
        let (bars, total) = size_bars(&sizes, 8);
        assert_eq!(bars.len(), 9);
        assert_eq!(total, format_bytes(55_000_000));
        assert!(bars[8].others && bars[8].name == "2 others" && bars[8].size == 3_000_000);
        assert_eq!(
            bars[0].size_text,
            format!("{}  18 %", format_bytes(10_000_000))
        );
        assert!(bars[0].folder);
        let (none, nothing) = size_bars(&[], 8);
        assert!(none.is_empty() && nothing.is_empty());
    }
}
