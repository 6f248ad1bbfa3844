//! `ArchiveBrowser`: one folder of an archive (or the results of a name search), from the
//! archive index. Opening the repository, building a missing index and searching happen off
//! the Qt thread; listing a folder of a built index is a memory-mapped lookup, done in place.
//! The preview pane (`EntryPreview`) and the folder-size chart (`FolderSizes`) are QObjects
//! of their own that reuse this browser's session and index.

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

    /// What the listing is sorted by.
    #[qenum(ArchiveBrowser)]
    enum SortKey {
        Name,
        Size,
        Modified,
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
        /// The archives, newest first: maps with `name` and `time`.
        #[qproperty(QList_QVariant, archives)]
        /// The shown folder as borg stores paths ("" is the archive's top level).
        #[qproperty(QString, folder)]
        /// From the top level down to the folder: maps with `label` and `path`.
        #[qproperty(QList_QVariant, breadcrumbs)]
        #[qproperty(QString, search_text)]
        #[qproperty(bool, search_all)]
        #[qproperty(SortKey, sort_key)]
        #[qproperty(bool, sort_descending)]
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

        /// Sorts by `key`; the same key again reverses.
        #[qinvokable]
        fn sort_by(self: Pin<&mut ArchiveBrowser>, key: SortKey);

        /// Opens a folder row, or shows where a search result lives (`revealed` follows).
        #[qinvokable]
        fn activate(self: Pin<&mut ArchiveBrowser>, row: i32);

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

        /// Folder `folder` of `archive` is listed (from the built index): the preview and
        /// the size chart follow it.
        #[qsignal]
        fn folder_shown(self: Pin<&mut ArchiveBrowser>, archive: QString, folder: QString);
    }

    impl cxx_qt::Threading for ArchiveBrowser {}

    #[auto_cxx_name]
    unsafe extern "RustQt" {
        #[inherit]
        unsafe fn begin_reset_model(self: Pin<&mut ArchiveBrowser>);
        #[inherit]
        unsafe fn end_reset_model(self: Pin<&mut ArchiveBrowser>);

        #[qinvokable]
        #[cxx_override]
        fn data(self: &ArchiveBrowser, index: &QModelIndex, role: i32) -> QVariant;
        #[qinvokable]
        #[cxx_override]
        fn role_names(self: &ArchiveBrowser) -> QHash_i32_QByteArray;
        #[qinvokable]
        #[cxx_override]
        fn row_count(self: &ArchiveBrowser, parent: &QModelIndex) -> i32;
    }
}

use crate::browse::{self, view, Kind, Listed, Session};
use crate::gui::latest::{Latest, Ticket};
use crate::gui::list_rows::{self, Row};
use crate::gui::runtime;
use crate::gui::throttle::{Throttle, UI_INTERVAL};
use crate::index::ArchiveIndex;
use crate::reader::ArchiveRef;
use crate::units::{format_borg_time, format_bytes};
use core::pin::Pin;
use cxx_qt::{CxxQtType, Threading};
use cxx_qt_lib::{QList, QString, QVariant};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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
            3 => view::icon_name(l).to_string(),
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

impl Default for qobject::SortKey {
    fn default() -> Self {
        qobject::SortKey::Name
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
    archives: QList<QVariant>,
    folder: QString,
    breadcrumbs: QList<QVariant>,
    search_text: QString,
    search_all: bool,
    sort_key: qobject::SortKey,
    sort_descending: bool,
    session: Option<Arc<Session>>,
    current: Option<(ArchiveRef, Arc<ArchiveIndex>)>,
    rows: Vec<BrowseRow>,
    /// Results of superseded work (another repository, archive or search) are dropped.
    requests: Latest<Arc<AtomicBool>>,
}

/// An archive as the archive chooser shows it.
struct ArchiveChoice<'a>(&'a ArchiveRef);

impl Row for ArchiveChoice<'_> {
    const ROLES: &'static [&'static str] = &["name", "time"];

    fn value(&self, role: usize) -> QVariant {
        let text = match role {
            0 => self.0.name.clone(),
            _ => format_borg_time(&self.0.time),
        };
        QVariant::from(&QString::from(&text))
    }
}

impl Row for view::Crumb {
    const ROLES: &'static [&'static str] = &["label", "path"];

    fn value(&self, role: usize) -> QVariant {
        QVariant::from(&QString::from(if role == 0 {
            &self.label
        } else {
            &self.path
        }))
    }
}

/// The archives, newest first, for the chooser.
fn archive_choices(session: &Session) -> QList<QVariant> {
    let choices: Vec<ArchiveChoice> = session.archives().iter().rev().map(ArchiveChoice).collect();
    list_rows::variant_list(&choices)
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
    sort_rows(&mut rows, qobject::SortKey::Name, false);
    rows
}

fn sort_rows(rows: &mut [BrowseRow], key: qobject::SortKey, descending: bool) {
    let key = match key {
        qobject::SortKey::Size => view::SortKey::Size,
        qobject::SortKey::Modified => view::SortKey::Modified,
        _ => view::SortKey::Name,
    };
    view::sort_listed(rows, |r| &r.listed, key, descending);
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

    /// A new listing, archive or search: the one in flight is cancelled, its answer dropped.
    fn next_request(mut self: Pin<&mut Self>) -> (Ticket, Arc<AtomicBool>) {
        self.as_mut().rust_mut().requests.start()
    }

    fn connect(mut self: Pin<&mut Self>, fresh: bool) {
        let ticket = self.as_mut().rust_mut().requests.next();
        self.as_mut().rust_mut().session = None;
        self.as_mut().replace_rows(Vec::new());
        self.as_mut().set_error_text(QString::default());
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
                if !obj.requests.is_current(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                obj.as_mut().set_status_text(QString::default());
                match opened {
                    Ok(session) => {
                        let list = archive_choices(&session);
                        let empty = session.archives().is_empty();
                        obj.as_mut().rust_mut().session = Some(session);
                        obj.as_mut().set_archives(list);
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
        let (ticket, cancel) = self.as_mut().next_request();
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
                        let crumbs = view::breadcrumbs(&archive_name, &folder);
                        let _ = progress_thread.queue(move |mut obj| {
                            let here = obj.folder.to_string();
                            if obj.requests.is_current(ticket)
                                && obj.current.is_none()
                                && (here.is_empty() || here == folder)
                            {
                                obj.as_mut().set_folder(QString::from(&folder));
                                obj.as_mut()
                                    .set_breadcrumbs(list_rows::variant_list(&crumbs));
                                obj.replace_rows(rows);
                            }
                        });
                    }
                    if p.chunks_total > 0 && throttle.ready() {
                        let share = f64::from(p.chunks_done) / f64::from(p.chunks_total);
                        let text = format!("Indexing {} — {} entries…", archive.name, p.entries);
                        let _ = progress_thread.queue(move |mut obj| {
                            if obj.requests.is_current(ticket) {
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
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
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
        // A listing in place: a search still running is dropped.
        self.as_mut().rust_mut().requests.next();
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
        sort_rows(&mut rows, self.sort_key, self.sort_descending);
        self.as_mut().set_search_text(QString::default());
        self.as_mut().set_folder(QString::from(&folder));
        let crumbs = view::breadcrumbs(&archive.name, &folder);
        self.as_mut()
            .set_breadcrumbs(list_rows::variant_list(&crumbs));
        self.as_mut().replace_rows(rows);
        self.as_mut().set_status_text(QString::default());
        self.folder_shown(QString::from(&archive.name), QString::from(&folder));
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
        let (ticket, cancel) = self.as_mut().next_request();
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
                if !obj.as_mut().rust_mut().requests.finish(ticket) {
                    return;
                }
                obj.as_mut().set_busy(false);
                match found {
                    Ok(Ok((mut rows, total, archives))) => {
                        let (key, descending) = (obj.sort_key, obj.sort_descending);
                        sort_rows(&mut rows, key, descending);
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

    pub fn sort_by(mut self: Pin<&mut Self>, key: qobject::SortKey) {
        let same = key == self.sort_key;
        let descending = same && !self.sort_descending;
        self.as_mut().set_sort_key(key);
        self.as_mut().set_sort_descending(descending);
        let mut rows = std::mem::take(&mut self.as_mut().rust_mut().rows);
        sort_rows(&mut rows, key, descending);
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
