//! Builds the Qt side (cxx-qt bridges + the QML module) only when the `gui` feature is on,
//! so the core and the command line build on machines without Qt.

fn main() {
    #[cfg(feature = "gui")]
    gui::build();
}

#[cfg(feature = "gui")]
mod gui {
    use cxx_qt_build::{CxxQtBuilder, QmlModule};
    use std::path::{Path, PathBuf};

    /// Every `.qml` file below `qml/`, so a new page or dialog needs no edit here.
    fn qml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                qml_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "qml") {
                out.push(path);
            }
        }
    }

    /// Every bridge file (one per QObject) below `src/gui/bridge/`.
    fn bridge_files() -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir("src/gui/bridge")
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("mod.rs"));
        files.sort();
        files
    }

    pub fn build() {
        let mut qml = Vec::new();
        qml_files(Path::new("qml"), &mut qml);
        println!("cargo:rerun-if-changed=qml");
        println!("cargo:rerun-if-changed=src/gui/bridge");
        let module = QmlModule::new("org.kde.kastell").qml_files(qml);
        CxxQtBuilder::new_qml_module(module)
            .qt_module("Quick")
            .qt_module("QuickControls2")
            .files(bridge_files())
            .build();
    }
}
