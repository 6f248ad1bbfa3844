//! Named groups of exclude patterns a user can switch on as a whole (members from the seed's
//! `user.yaml`, written the way borgmatic users write them).

/// One preset: a name, what it is for, and its `exclude_patterns` entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub patterns: &'static [&'static str],
}

pub const PRESETS: &[Preset] = &[
    Preset {
        id: "caches",
        name: "Caches",
        description: "Application and tool caches that rebuild themselves",
        patterns: &[
            "**/.cache",
            "**/cache",
            "**/__pycache__",
            "**/.mypy_cache",
            "**/.pytest_cache",
            "**/.tox",
        ],
    },
    Preset {
        id: "build",
        name: "Build artefacts",
        description: "Dependencies and build output that a build recreates",
        patterns: &["**/node_modules", "**/target", "**/.gradle", "**/.m2"],
    },
    Preset {
        id: "media",
        name: "Downloads and media",
        description: "Large files that live elsewhere or can be downloaded again, and the trash",
        patterns: &[
            "~/Downloads",
            "~/Music",
            "~/Videos",
            "~/.local/share/Trash",
            "~/.thumbnails",
            "~/.Trash",
        ],
    },
    Preset {
        id: "kde",
        name: "KDE volatile data",
        description: "Search index, PIM cache, wallet files and recent-files lists",
        patterns: &[
            "~/.local/share/baloo",
            "~/.local/share/akonadi",
            "~/.local/share/kwalletd",
            "~/.local/share/recently-used.xbel",
        ],
    },
    Preset {
        id: "vm",
        name: "Virtual machine images",
        description: "Disk images, better backed up separately",
        patterns: &["**/*.vmdk", "**/*.vdi", "**/*.qcow2"],
    },
];

/// Whether every pattern of `preset` is in `excludes`.
pub fn is_enabled(preset: &Preset, excludes: &[String]) -> bool {
    preset
        .patterns
        .iter()
        .all(|p| excludes.iter().any(|e| e.trim() == *p))
}

/// `excludes` with the preset's patterns added at the end (those missing) or removed.
pub fn toggled(preset: &Preset, excludes: &[String], enable: bool) -> Vec<String> {
    if enable {
        let mut out = excludes.to_vec();
        for p in preset.patterns {
            if !out.iter().any(|e| e.trim() == *p) {
                out.push((*p).to_string());
            }
        }
        out
    } else {
        excludes
            .iter()
            .filter(|e| !preset.patterns.contains(&e.trim()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_toggle_their_members_and_keep_the_rest() {
        let current = vec!["**/.cache".to_string(), "~/Private".to_string()];
        let caches = &PRESETS[0];
        assert!(!is_enabled(caches, &current));
        let on = toggled(caches, &current, true);
        assert!(is_enabled(caches, &on));
        assert_eq!(on[1], "~/Private");
        let off = toggled(caches, &on, false);
        assert_eq!(off, vec!["~/Private".to_string()]);
    }

    #[test]
    fn every_preset_pattern_parses() {
        for preset in PRESETS {
            for p in preset.patterns {
                super::super::Pattern::parse(p, super::super::Style::Fnmatch).unwrap();
            }
        }
    }
}
