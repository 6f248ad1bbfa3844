# Convenience targets; the scripts do the work so they also run where make is not installed.
PREFIX ?= $(HOME)/.local
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
BIN ?= $(TARGET_DIR)/release/kastell
# Kastell without the window (no Qt linked): what the tray and the scheduled runs execute, so
# a resident tray stays small. Built into a target folder of its own (other features).
LEAN_BIN ?= $(TARGET_DIR)/lean/release/kastell

.PHONY: run test setup setup-test build install uninstall bench-backup bench-excludes bench-reader bench-index bench-mount bench-tray bench-prune

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

build:
	cargo build --release

# Kastell's backup engine against plain `borgmatic create` (BENCHMARKS.md).
bench-backup: build
	scripts/bench-backup.py --kastell "$(BIN)"

# XDG layout under PREFIX (default ~/.local): binary, launcher, AppStream metainfo, icon.
install:
	@test -x "$(BIN)" || cargo build --release
	install -Dm755 "$(BIN)" "$(DESTDIR)$(PREFIX)/bin/kastell"
	@test -x "$(LEAN_BIN)" || cargo build --release --no-default-features --target-dir "$(TARGET_DIR)/lean"
	install -Dm755 "$(LEAN_BIN)" "$(DESTDIR)$(PREFIX)/libexec/kastell/kastell-cli"
	install -Dm644 desktop/org.kde.kastell.desktop "$(DESTDIR)$(PREFIX)/share/applications/org.kde.kastell.desktop"
	install -Dm644 desktop/org.kde.kastell.metainfo.xml "$(DESTDIR)$(PREFIX)/share/metainfo/org.kde.kastell.metainfo.xml"
	install -Dm644 icons/org.kde.kastell.svg "$(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/org.kde.kastell.svg"
	for state in ok running failed overdue; do \
	  install -Dm644 icons/kastell-$$state.svg "$(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/status/kastell-$$state.svg"; \
	  install -Dm644 icons/kastell-$$state.svg "$(DESTDIR)$(PREFIX)/share/kastell/icons/kastell-$$state.svg"; \
	done

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/kastell" \
	      "$(DESTDIR)$(PREFIX)/libexec/kastell/kastell-cli" \
	      "$(DESTDIR)$(PREFIX)/share/applications/org.kde.kastell.desktop" \
	      "$(DESTDIR)$(PREFIX)/share/metainfo/org.kde.kastell.metainfo.xml" \
	      "$(DESTDIR)$(PREFIX)/share/icons/hicolor/scalable/apps/org.kde.kastell.svg" \
	      "$(DESTDIR)$(PREFIX)"/share/icons/hicolor/scalable/status/kastell-*.svg
	rm -rf "$(DESTDIR)$(PREFIX)/share/kastell/icons"

# The tray's resident memory, next to Kastell's window and Vorta (BENCHMARKS.md).
bench-tray: build
	cargo build --release --example tray_watcher
	cargo build --release --no-default-features --target-dir "$(TARGET_DIR)/lean"
	scripts/bench-tray.py --kastell "$(BIN)" --tray "$(LEAN_BIN)"

bench-excludes: build
	cargo build --release --example pattern_match_rate
	scripts/bench-excludes.py --kastell "$(BIN)"

# Kastell's repository reader against borg list / borg extract, local and over ssh.
bench-reader: build
	scripts/bench-reader.py --kastell "$(BIN)"

# The archive index against borg list / borg mount: build, folders, search, versions.
bench-index: build
	cargo build --release --example index_queries
	scripts/bench-index.py --kastell "$(BIN)" --queries "$(TARGET_DIR)/release/examples/index_queries"

# kastell mount against borg mount: first ls, find cold/warm (folders of 200 and of 40),
# sequential reads (a big file, a file of small chunks), memory (as root).
bench-mount: build
	scripts/bench-mount.py --kastell "$(BIN)"

# The retention preview's first answer against borg's dry run, on 500 archives (BENCHMARKS.md).
bench-prune:
	cargo build --release --no-default-features --target-dir "$(TARGET_DIR)/lean"
	scripts/bench-prune.py --kastell "$(LEAN_BIN)"
