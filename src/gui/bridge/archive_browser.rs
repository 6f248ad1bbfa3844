//! `ArchiveBrowser`: one folder of an archive (or the results of a name search), from the
//! archive index; the preview of the selected file; the folder-size chart. Opening the
//! repository, building a missing index, searching and reading previews happen off the Qt
//! thread; listing a folder of a built index is a memory-mapped lookup, done in place.

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
    }

    #[auto_cxx_name]
    extern "RustQt" {
        #[qobject]
        #[base = QAbstractListModel]
        #[qml_element]
        #[qproperty(bool, busy)]
        /// Share of the index built so far (0–1), or -1 when nothing is being indexed.
        #[qproperty(f64, index_progress)]
        #[qproperty(QString, status_text)]
        #[qproperty(QString, error_text)]
        #[qproperty(QString, config_path)]
        #[qproperty(QString, repository)]
        #[qproperty(QString, archive)]
        /// JSON array of {"name", "time"}, newest first.
        #[qproperty(QString, archives_json)]
        /// The shown folder as borg stores paths ("" is the archive's top level).
        #[qproperty(QString, folder)]
        /// JSON array of {"label", "path"} from the top level down to the folder.
        #[qproperty(QString, breadcrumbs_json)]
        #[qproperty(QString, search_text)]
        #[qproperty(bool, search_all)]
        #[qproperty(QString, sort_key)]
        #[qproperty(bool, sort_descending)]
        /// "", "folder", "text", "image", "binary", "link" or "error".
        #[qproperty(QString, preview_kind)]
        #[qproperty(QString, preview_title)]
        #[qproperty(QString, preview_info)]
        #[qproperty(QString, preview_text)]
        /// A file:// URL of a private read-only copy, for images.
        #[qproperty(QString, preview_image)]
        /// JSON array of {"name", "size", "folder"} of the folder's children, largest first.
        #[qproperty(QString, sizes_json)]
        type ArchiveBrowser = super::ArchiveBrowserRust;

        /// Opens `repository` of the config and shows its latest archive.
        #[qinvokable]
        fn open(self: Pin<&mut ArchiveBrowser>, config_path: &QString, repository: &QString);

        /// Opens the repository again (new archives since), keeping archive and folder.
        #[qinvokable]
        fn reload(self: Pin<&mut ArchiveBrowser>);

        /// Shows archive `name` (`latest` works), indexing it first when needed.
        #[qinvokable]
        fn choose_archive(self: Pin<&mut ArchiveBrowser>, name: &QString);

        /// Shows folder `path` of the current archive (leading slash optional).
        #[qinvokable]
        fn go_to(self: Pin<&mut ArchiveBrowser>, path: &QString);

        #[qinvokable]
        fn go_up(self: Pin<&mut ArchiveBrowser>);

        /// Names containing `text` in this archive, or in every archive with `all`;
        /// an empty text shows the folder again.
        #[qinvokable]
        fn search(self: Pin<&mut ArchiveBrowser>, text: &QString, all: bool);

        /// Sorts by "name", "size" or "mtime"; the same key again reverses.
        #[qinvokable]
        fn sort_by(self: Pin<&mut ArchiveBrowser>, key: &QString);

        /// Opens a folder row, or shows where a search result lives (`revealed` follows).
        #[qinvokable]
        fn activate(self: Pin<&mut ArchiveBrowser>, row: i32);

        /// Shows row `row` in the preview pane.
        #[qinvokable]
        fn preview(self: Pin<&mut ArchiveBrowser>, row: i32);

        /// Opens row `row` with the user's application, through a read-only copy.
        #[qinvokable]
        fn open_with(self: Pin<&mut ArchiveBrowser>, row: i32);

        /// The archive path of row `row` ("" when out of range).
        #[qinvokable]
        fn path_at(self: &ArchiveBrowser, row: i32) -> QString;

        /// The archive name of row `row` (search results can come from other archives).
        #[qinvokable]
        fn archive_at(self: &ArchiveBrowser, row: i32) -> QString;

        /// The row showing `path`, or -1.
        #[qinvokable]
        fn row_of(self: &ArchiveBrowser, path: &QString) -> i32;

        /// A search result was opened: the view shows its folder; `path` is the row to select.
        #[qsignal]
        fn revealed(self: Pin<&mut ArchiveBrowser>, path: QString);
    }

    impl cxx_qt::Threading for ArchiveBrowser {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        #[cxx_name = "beginResetModel"]
        unsafe fn begin_reset_model(self: Pin<&mut ArchiveBrowser>);
        #[inherit]
        #[cxx_name = "endResetModel"]
        unsafe fn end_reset_model(self: Pin<&mut ArchiveBrowser>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ArchiveBrowser, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        #[cxx_name = "roleNames"]
        fn role_names(self: &ArchiveBrowser) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        #[cxx_name = "rowCount"]
        fn row_count(self: &ArchiveBrowser, parent: &QModelIndex) -> i32;
    }
}

use crate::browse::{self, Kind, Listed, PreviewKind, Session};
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::index::ArchiveIndex;
use crate::reader::ArchiveRef;
use crate::units::{format_borg_time, format_bytes};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QString, QVariant};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How much of a text file the preview reads.
const TEXT_PREVIEW_BYTES: usize = 64 * 1024;
/// Images larger than this are not previewed (the copy would take a while).
const IMAGE_PREVIEW_LIMIT: u64 = 64 * 1024 * 1024;
/// Search results shown at most (the count says how many there were).
const SEARCH_ROWS: usize = 5000;

pub struct BrowseRow {
    listed: Listed,
    archive: String,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Folder => "folder",
        Kind::File => "file",
        Kind::Symlink => "link",
        Kind::Other => "other",
    }
}

/// A freedesktop icon name for a listed entry, by type and a few common extensions.
fn icon_for(listed: &Listed) -> &'static str {
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

fn modified_text(mtime_ns: i64) -> String {
    crate::times::local_seconds(i128::from(mtime_ns))
}

impl Row for BrowseRow {
    const ROLES: &'static [&'static str] = &[
        "name",
        "path",
        "kind",
        "iconName",
        "size",
        "sizeText",
        "modified",
        "archiveName",
        "target",
    ];

    fn value(&self, role: usize) -> QVariant {
        let l = &self.listed;
        let text = match role {
            0 => l.name.clone(),
            1 => l.path.clone(),
            2 => kind_name(l.kind).to_string(),
            3 => icon_for(l).to_string(),
            4 => return QVariant::from(&(l.size as f64)),
            5 => match l.kind {
                Kind::Folder => String::new(),
                _ => format_bytes(l.size),
            },
            6 if l.entry == u32::MAX => String::new(),
            6 => modified_text(l.mtime_ns),
            7 => self.archive.clone(),
            _ => l.target.clone().unwrap_or_default(),
        };
        QVariant::from(&QString::from(&text))
    }
}

#[derive(Default)]
pub struct ArchiveBrowserRust {
    busy: bool,
    index_progress: f64,
    status_text: QString,
    error_text: QString,
    config_path: QString,
    repository: QString,
    archive: QString,
    archives_json: QString,
    folder: QString,
    breadcrumbs_json: QString,
    search_text: QString,
    search_all: bool,
    sort_key: QString,
    sort_descending: bool,
    preview_kind: QString,
    preview_title: QString,
    preview_info: QString,
    preview_text: QString,
    preview_image: QString,
    sizes_json: QString,
    session: Option<Arc<Session>>,
    current: Option<(ArchiveRef, Arc<ArchiveIndex>)>,
    rows: Vec<BrowseRow>,
    /// Results of superseded work (another repository, archive or search) are dropped.
    generation: u64,
    preview_generation: u64,
    indexing: Option<Arc<AtomicBool>>,
}

fn archives_json(session: &Session) -> String {
    let list: Vec<serde_json::Value> = session
        .archives()
        .iter()
        .rev()
        .map(|a| serde_json::json!({"name": a.name, "time": format_borg_time(&a.time)}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn breadcrumbs(archive: &str, folder: &str) -> String {
    let mut crumbs = vec![serde_json::json!({"label": archive, "path": ""})];
    let mut path = String::new();
    for part in folder.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        crumbs.push(serde_json::json!({"label": part, "path": path}));
    }
    serde_json::Value::Array(crumbs).to_string()
}

/// Rows for the entries a build has read so far (entry numbers are not known yet).
fn partial_rows(top: &crate::index::TopSoFar, archive: &str) -> Vec<BrowseRow> {
    let folder = crate::reader::listing::display_bytes(&top.folder);
    let mut rows: Vec<BrowseRow> = top
        .entries
        .iter()
        .map(|(name, mode, size)| {
            let name = crate::reader::listing::display_bytes(name);
            let path = if folder.is_empty() {
                name.clone()
            } else {
                format!("{folder}/{name}")
            };
            BrowseRow {
                listed: Listed {
                    entry: u32::MAX,
                    name,
                    path,
                    kind: Kind::of_mode(*mode),
                    mode: *mode,
                    size: *size,
                    mtime_ns: 0,
                    target: None,
                },
                archive: archive.to_string(),
            }
        })
        .collect();
    sort_rows(&mut rows, "name", false);
    rows
}

fn sort_rows(rows: &mut [BrowseRow], key: &str, descending: bool) {
    rows.sort_by(|a, b| {
        let (a, b) = (&a.listed, &b.listed);
        let folders_first = (b.kind == Kind::Folder).cmp(&(a.kind == Kind::Folder));
        let by = match key {
            "size" => a.size.cmp(&b.size),
            "mtime" => a.mtime_ns.cmp(&b.mtime_ns),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        };
        let by = if descending { by.reverse() } else { by };
        folders_first.then(by).then_with(|| a.path.cmp(&b.path))
    });
}

impl qobject::ArchiveBrowser {
    pub fn open(mut self: Pin<&mut Self>, config_path: &QString, repository: &QString) {
        if *config_path == self.config_path
            && *repository == self.repository
            && self.session.is_some()
        {
            return;
        }
        self.as_mut().set_config_path(config_path.clone());
        self.as_mut().set_repository(repository.clone());
        self.as_mut().set_archive(QString::default());
        self.as_mut().set_folder(QString::default());
        self.as_mut().rust_mut().current = None;
        self.connect(false);
    }

    pub fn reload(self: Pin<&mut Self>) {
        self.connect(true);
    }

    fn next_generation(mut self: Pin<&mut Self>) -> u64 {
        if let Some(previous) = self.as_mut().rust_mut().indexing.take() {
            previous.store(true, Ordering::Relaxed);
        }
        let generation = self.generation + 1;
        self.as_mut().rust_mut().generation = generation;
        generation
    }

    fn connect(mut self: Pin<&mut Self>, fresh: bool) {
        let generation = self.as_mut().next_generation();
        self.as_mut().rust_mut().session = None;
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_error_text(QString::default());
        self.as_mut().clear_preview();
        let config = PathBuf::from(self.config_path.to_string());
        let repository = self.repository.to_string();
        if repository.is_empty() {
            return;
        }
        self.as_mut().set_busy(true);
        self.as_mut().set_index_progress(-1.0);
        self.as_mut()
            .set_status_text(QString::from(&format!("Opening {repository}…")));
        let wanted = match self.archive.to_string() {
            a if a.is_empty() => "latest".to_string(),
            a => a,
        };
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let opened = browse::open(&config, &repository, fresh).await;
            let _ = qt_thread.queue(move |mut obj| {
                if obj.generation != generation {
                    return;
                }
                obj.as_mut().set_busy(false);
                obj.as_mut().set_status_text(QString::default());
                match opened {
                    Ok(session) => {
                        let list = archives_json(&session);
                        let empty = session.archives().is_empty();
                        obj.as_mut().rust_mut().session = Some(session);
                        obj.as_mut().set_archives_json(QString::from(&list));
                        if empty {
                            obj.as_mut().set_status_text(QString::from(
                                "This repository has no archives yet.",
                            ));
                        } else {
                            obj.choose_archive(&QString::from(&wanted));
                        }
                    }
                    Err(e) => obj.set_error_text(QString::from(&e.to_string())),
                }
            });
        });
    }

    pub fn choose_archive(mut self: Pin<&mut Self>, name: &QString) {
        let Some(session) = self.session.clone() else {
            return;
        };
        let archive = match session.archive(&name.to_string()) {
            Ok(a) => a,
            Err(e) => {
                self.set_error_text(QString::from(&e.to_string()));
                return;
            }
        };
        let generation = self.as_mut().next_generation();
        self.as_mut().set_error_text(QString::default());
        self.as_mut().set_archive(QString::from(&archive.name));
        if let Some(index) = session.cached_index(&archive) {
            self.as_mut().rust_mut().current = Some((archive, index));
            let folder = self.folder.clone();
            self.show_folder(&folder.to_string());
            return;
        }
        // Not indexed yet: built once, in the background, with progress.
        self.as_mut().rust_mut().current = None;
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_busy(true);
        self.as_mut().set_index_progress(0.0);
        self.as_mut().set_status_text(QString::from(&format!(
            "Indexing archive {} (once)…",
            archive.name
        )));
        let cancel = Arc::new(AtomicBool::new(false));
        self.as_mut().rust_mut().indexing = Some(cancel.clone());
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let progress_thread = qt_thread.clone();
            let built = tokio::task::spawn_blocking(move || {
                let throttle = Throttle::new(UI_INTERVAL);
                let archive_name = archive.name.clone();
                let mut progress = |p: crate::index::BuildProgress| {
                    if let Some(top) = p.top {
                        // The top of the tree read so far, shown (not yet openable) while the
                        // rest streams.
                        let rows = partial_rows(&top, &archive_name);
                        let folder = crate::reader::listing::display_bytes(&top.folder);
                        let crumbs = breadcrumbs(&archive_name, &folder);
                        let _ = progress_thread.queue(move |mut obj| {
                            let here = obj.folder.to_string();
                            if obj.generation == generation
                                && obj.current.is_none()
                                && (here.is_empty() || here == folder)
                            {
                                obj.as_mut().set_folder(QString::from(&folder));
                                obj.as_mut().set_breadcrumbs_json(QString::from(&crumbs));
                                obj.replace_rows(rows);
                            }
                        });
                    }
                    if p.chunks_total > 0 && throttle.ready() {
                        let share = f64::from(p.chunks_done) / f64::from(p.chunks_total);
                        let text = format!("Indexing {} — {} entries…", archive.name, p.entries);
                        let _ = progress_thread.queue(move |mut obj| {
                            if obj.generation == generation {
                                obj.as_mut().set_index_progress(share);
                                obj.set_status_text(QString::from(&text));
                            }
                        });
                    }
                };
                session
                    .index(&archive, &mut progress, &cancel)
                    .map(|index| (archive, index))
            })
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                if obj.generation != generation {
                    return;
                }
                obj.as_mut().rust_mut().indexing = None;
                obj.as_mut().set_busy(false);
                obj.as_mut().set_index_progress(-1.0);
                obj.as_mut().set_status_text(QString::default());
                match built {
                    Ok(Ok(current)) => {
                        obj.as_mut().rust_mut().current = Some(current);
                        let folder = obj.folder.to_string();
                        obj.show_folder(&folder);
                    }
                    Ok(Err(e)) => obj.set_error_text(QString::from(&e.to_string())),
                    Err(e) => obj.set_error_text(QString::from(&e.to_string())),
                }
            });
        });
    }

    pub fn go_to(self: Pin<&mut Self>, path: &QString) {
        self.show_folder(&path.to_string());
    }

    pub fn go_up(self: Pin<&mut Self>) {
        let folder = self.folder.to_string();
        let parent = folder.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        self.show_folder(parent);
    }

    /// Lists `path` (or its nearest folder that exists in this archive).
    fn show_folder(mut self: Pin<&mut Self>, path: &str) {
        let Some((archive, index)) = self.current.clone() else {
            return;
        };
        let generation = self.as_mut().next_generation();
        let mut folder = path.trim_matches('/').to_string();
        let listed = loop {
            if let Some(rows) = browse::list_folder(&index, &folder) {
                break rows;
            }
            match folder.rsplit_once('/') {
                Some((parent, _)) => folder = parent.to_string(),
                None if !folder.is_empty() => folder.clear(),
                None => break Vec::new(),
            }
        };
        let mut rows: Vec<BrowseRow> = listed
            .into_iter()
            .map(|listed| BrowseRow {
                listed,
                archive: archive.name.clone(),
            })
            .collect();
        let key = self.sort_key.to_string();
        sort_rows(&mut rows, &key, self.sort_descending);
        self.as_mut().set_search_text(QString::default());
        self.as_mut().set_folder(QString::from(&folder));
        self.as_mut()
            .set_breadcrumbs_json(QString::from(&breadcrumbs(&archive.name, &folder)));
        self.as_mut().replace_rows(rows);
        self.as_mut().set_status_text(QString::default());
        self.as_mut().set_sizes_json(QString::from("[]"));
        // Folder sizes walk everything below: off the Qt thread.
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let sizes = tokio::task::spawn_blocking(move || {
                let at = index.lookup(folder.as_bytes()).unwrap_or(0);
                let list: Vec<serde_json::Value> = browse::folder_sizes(&index, at)
                    .into_iter()
                    .map(|(name, size, folder)| {
                        serde_json::json!({"name": name, "size": size, "folder": folder})
                    })
                    .collect();
                serde_json::Value::Array(list).to_string()
            })
            .await
            .unwrap_or_default();
            let _ = qt_thread.queue(move |mut obj| {
                if obj.generation == generation {
                    obj.as_mut().set_sizes_json(QString::from(&sizes));
                }
            });
        });
    }

    pub fn search(mut self: Pin<&mut Self>, text: &QString, all: bool) {
        let text = text.to_string();
        self.as_mut().set_search_all(all);
        if text.trim().is_empty() {
            let folder = self.folder.to_string();
            self.show_folder(&folder);
            return;
        }
        let (Some(session), Some((current, _))) = (self.session.clone(), self.current.clone())
        else {
            return;
        };
        let generation = self.as_mut().next_generation();
        self.as_mut().set_search_text(QString::from(&text));
        let regex = match crate::index::name_contains(text.trim()) {
            Ok(r) => r,
            Err(e) => {
                self.set_error_text(QString::from(&e));
                return;
            }
        };
        let archives: Vec<ArchiveRef> = if all {
            session.archives().iter().rev().cloned().collect()
        } else {
            vec![current]
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.as_mut().rust_mut().indexing = Some(cancel.clone());
        self.as_mut().set_busy(true);
        self.as_mut().set_status_text(QString::from(&format!(
            "Searching {} archive(s)…",
            archives.len()
        )));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let found = tokio::task::spawn_blocking(move || {
                let matches = session.search(&archives, &regex, &mut |_| {}, &cancel)?;
                let total = matches.iter().map(|m| m.entries.len()).sum::<usize>();
                let rows: Vec<BrowseRow> = matches
                    .iter()
                    .flat_map(|m| {
                        m.entries.iter().map(|&i| BrowseRow {
                            listed: browse::listed(&m.index, i),
                            archive: m.archive.name.clone(),
                        })
                    })
                    .take(SEARCH_ROWS)
                    .collect();
                Ok::<_, browse::BrowseError>((rows, total, archives.len()))
            })
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                if obj.generation != generation {
                    return;
                }
                obj.as_mut().rust_mut().indexing = None;
                obj.as_mut().set_busy(false);
                match found {
                    Ok(Ok((mut rows, total, archives))) => {
                        let key = obj.sort_key.to_string();
                        let descending = obj.sort_descending;
                        sort_rows(&mut rows, &key, descending);
                        let shown = if total > rows.len() {
                            format!(", the first {} shown", rows.len())
                        } else {
                            String::new()
                        };
                        let text = format!("{total} match(es) in {archives} archive(s){shown}");
                        obj.as_mut().replace_rows(rows);
                        obj.set_status_text(QString::from(&text));
                    }
                    Ok(Err(e)) => obj.set_error_text(QString::from(&e.to_string())),
                    Err(e) => obj.set_error_text(QString::from(&e.to_string())),
                }
            });
        });
    }

    pub fn sort_by(mut self: Pin<&mut Self>, key: &QString) {
        let same = *key == self.sort_key;
        let descending = same && !self.sort_descending;
        self.as_mut().set_sort_key(key.clone());
        self.as_mut().set_sort_descending(descending);
        let mut rows = std::mem::take(&mut self.as_mut().rust_mut().rows);
        sort_rows(&mut rows, &key.to_string(), descending);
        self.replace_rows(rows);
    }

    fn row(&self, row: i32) -> Option<&BrowseRow> {
        usize::try_from(row).ok().and_then(|r| self.rows.get(r))
    }

    pub fn activate(mut self: Pin<&mut Self>, row: i32) {
        let Some(found) = self.row(row).filter(|r| r.listed.entry != u32::MAX) else {
            return;
        };
        let (path, kind, archive) = (
            found.listed.path.clone(),
            found.listed.kind,
            found.archive.clone(),
        );
        let in_search = !self.search_text.is_empty();
        if !in_search {
            if kind == Kind::Folder {
                self.show_folder(&path);
            }
            return;
        }
        // A search result: show the folder it lives in (in its archive), then select it.
        let parent = path
            .rsplit_once('/')
            .map(|(p, _)| p)
            .unwrap_or("")
            .to_string();
        let target = if kind == Kind::Folder {
            path.clone()
        } else {
            parent
        };
        self.as_mut().set_folder(QString::from(&target));
        if archive != self.archive.to_string() {
            self.as_mut().choose_archive(&QString::from(&archive));
        } else {
            self.as_mut().show_folder(&target);
        }
        self.revealed(QString::from(&path));
    }

    fn clear_preview(mut self: Pin<&mut Self>) {
        self.as_mut().set_preview_kind(QString::default());
        self.as_mut().set_preview_title(QString::default());
        self.as_mut().set_preview_info(QString::default());
        self.as_mut().set_preview_text(QString::default());
        self.set_preview_image(QString::default());
    }

    pub fn preview(mut self: Pin<&mut Self>, row: i32) {
        let Some(found) = self.row(row).filter(|r| r.listed.entry != u32::MAX) else {
            self.clear_preview();
            return;
        };
        let listed = found.listed.clone();
        let archive_name = found.archive.clone();
        let Some(session) = self.session.clone() else {
            return;
        };
        let generation = self.preview_generation + 1;
        self.as_mut().rust_mut().preview_generation = generation;
        self.as_mut().clear_preview();
        self.as_mut().set_preview_title(QString::from(&listed.name));
        let info = format!(
            "{} · {} · modified {}",
            kind_name(listed.kind),
            crate::reader::listing::filemode(listed.mode),
            modified_text(listed.mtime_ns)
        );
        match listed.kind {
            Kind::Symlink => {
                self.as_mut().set_preview_kind(QString::from("link"));
                self.as_mut().set_preview_info(QString::from(&info));
                self.set_preview_text(QString::from(&format!(
                    "Link to {}",
                    listed.target.unwrap_or_default()
                )));
                return;
            }
            Kind::Other => {
                self.as_mut().set_preview_kind(QString::from("binary"));
                self.set_preview_info(QString::from(&info));
                return;
            }
            _ => {}
        }
        self.as_mut().set_preview_info(QString::from(&info));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let shown = tokio::task::spawn_blocking(
                move || -> Result<(&'static str, String, String), browse::BrowseError> {
                    let archive = session.archive(&archive_name)?;
                    let index = session.index(&archive, &mut |_| {}, &AtomicBool::new(false))?;
                    if listed.kind == Kind::Folder {
                        let e = index.entry(listed.entry);
                        let total = browse::total_size(&index, listed.entry);
                        return Ok((
                            "folder",
                            format!("{} items · {} in all", e.child_count, format_bytes(total)),
                            String::new(),
                        ));
                    }
                    let head = session.head(&archive, &index, listed.entry, TEXT_PREVIEW_BYTES)?;
                    Ok(match browse::preview_kind(&head) {
                        PreviewKind::Text => {
                            let mut text = String::from_utf8_lossy(&head).into_owned();
                            if listed.size > head.len() as u64 {
                                text.push_str("\n…");
                            }
                            ("text", format_bytes(listed.size), text)
                        }
                        PreviewKind::Image if listed.size <= IMAGE_PREVIEW_LIMIT => {
                            let copy = session.temporary_copy(&archive, &index, listed.entry)?;
                            (
                                "image",
                                format_bytes(listed.size),
                                format!("file://{}", copy.display()),
                            )
                        }
                        _ => ("binary", format_bytes(listed.size), String::new()),
                    })
                },
            )
            .await;
            let _ = qt_thread.queue(move |mut obj| {
                if obj.preview_generation != generation {
                    return;
                }
                match shown {
                    Ok(Ok((kind, size, content))) => {
                        obj.as_mut().set_preview_kind(QString::from(kind));
                        let info = format!("{size} · {}", obj.preview_info);
                        obj.as_mut().set_preview_info(QString::from(&info));
                        if kind == "image" {
                            obj.set_preview_image(QString::from(&content));
                        } else {
                            obj.set_preview_text(QString::from(&content));
                        }
                    }
                    Ok(Err(e)) => {
                        obj.as_mut().set_preview_kind(QString::from("error"));
                        obj.set_preview_text(QString::from(&e.to_string()));
                    }
                    Err(e) => {
                        obj.as_mut().set_preview_kind(QString::from("error"));
                        obj.set_preview_text(QString::from(&e.to_string()));
                    }
                }
            });
        });
    }

    pub fn open_with(mut self: Pin<&mut Self>, row: i32) {
        let Some(found) = self.row(row).filter(|r| r.listed.entry != u32::MAX) else {
            return;
        };
        if found.listed.kind != Kind::File {
            return;
        }
        let (listed, archive_name) = (found.listed.clone(), found.archive.clone());
        let Some(session) = self.session.clone() else {
            return;
        };
        self.as_mut()
            .set_status_text(QString::from(&format!("Opening {} …", listed.name)));
        let qt_thread = self.qt_thread();
        runtime::spawn(async move {
            let copied = tokio::task::spawn_blocking(move || {
                let archive = session.archive(&archive_name)?;
                let index = session.index(&archive, &mut |_| {}, &AtomicBool::new(false))?;
                session.temporary_copy(&archive, &index, listed.entry)
            })
            .await;
            let outcome = match copied {
                Ok(Ok(path)) => std::process::Command::new("xdg-open")
                    .arg(&path)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map(|_| String::new())
                    .map_err(|e| format!("xdg-open could not be started: {e}")),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let _ = qt_thread.queue(move |mut obj| {
                obj.as_mut().set_status_text(QString::default());
                if let Err(e) = outcome {
                    obj.set_error_text(QString::from(&e));
                }
            });
        });
    }

    pub fn path_at(&self, row: i32) -> QString {
        self.row(row)
            .map(|r| QString::from(&r.listed.path))
            .unwrap_or_default()
    }

    pub fn archive_at(&self, row: i32) -> QString {
        self.row(row)
            .map(|r| QString::from(&r.archive))
            .unwrap_or_default()
    }

    pub fn row_of(&self, path: &QString) -> i32 {
        let path = path.to_string();
        self.rows
            .iter()
            .position(|r| r.listed.path == path)
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(-1)
    }
}

list_rows::list_model!(qobject::ArchiveBrowser, BrowseRow);
