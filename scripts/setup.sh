#!/usr/bin/env bash
# Installs what Kastell needs to build, run and test on Debian 12 / Ubuntu 24.04.
# Idempotent: every step checks first, so a second run costs seconds.
#   scripts/setup.sh          build + runtime dependencies
#   scripts/setup.sh --test   also the test tools (sshd, Xvfb, AT-SPI, keyring, dunst, validators)
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Tools built from PyPI live here, outside the clone, so clean clones reuse them.
TOOLS_DIR="${KASTELL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kastell-tools}"
BORG_VERSION="${KASTELL_BORG_VERSION:-1.4.5}"
BORGMATIC_VERSION="${KASTELL_BORGMATIC_VERSION:-2.1.10}"

build_pkgs=(
  build-essential pkg-config lld make curl ca-certificates
  qt6-base-dev qt6-base-dev-tools qt6-declarative-dev qt6-declarative-dev-tools qt6-qpa-plugins
  qml6-module-qtqml qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-templates qml6-module-qtquick-window qml6-module-qtqml-workerscript
  qml6-module-qtqml-models qml6-module-qtcore qml6-module-qt-labs-platform qml6-module-qtquick-dialogs
  qml6-module-qt-labs-settings libgl-dev
  fuse3 libfuse3-dev openssh-client
  python3 python3-venv python3-pip python3-dev
  liblz4-dev libzstd-dev libxxhash-dev libacl1-dev libssl-dev
)
test_pkgs=(
  openssh-server xvfb xauth dbus dbus-x11 at-spi2-core python3-pyatspi imagemagick xdotool x11-utils
  gnome-keyring libsecret-tools dunst libnotify-bin desktop-file-utils appstream borgbackup
  # ACLs for the restore and mount fidelity tests (setfacl/getfacl).
  acl
  fonts-dejavu-core
  # A mounted archive opened in a real file manager (FileManager1 over D-Bus), with icons.
  dolphin breeze-icon-theme libglib2.0-bin
)

pkgs=("${build_pkgs[@]}")
[ $want_test -eq 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Rust toolchain: rusqlite 0.43 needs 1.89 or newer (Debian's rustc is older, so rustup).
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust through rustup"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
rust_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 89 ] && command -v rustup >/dev/null 2>&1; then
  echo "setup: updating Rust (1.89 or newer needed)"
  rustup update stable >/dev/null
fi

# Python for the tool venvs: Debian's own python3 keeps them independent of pyenv shims.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

# borg 1.4.x from PyPI (apt has 1.2.4). Built once into a cached venv.
borg_venv="$TOOLS_DIR/borg-$BORG_VERSION"
if [ ! -x "$borg_venv/bin/borg" ]; then
  echo "setup: building borgbackup $BORG_VERSION from PyPI into $borg_venv (about 2 minutes, once)"
  rm -rf "$borg_venv"
  "$PY" -m venv "$borg_venv"
  "$borg_venv/bin/pip" install -q --upgrade pip wheel
  "$borg_venv/bin/pip" install -q "borgbackup[pyfuse3]==$BORG_VERSION"
fi

# borgmatic 2.x from PyPI (apt's 1.7 predates the flat schema).
bm_venv="$TOOLS_DIR/borgmatic-$BORGMATIC_VERSION"
if [ ! -x "$bm_venv/bin/borgmatic" ]; then
  echo "setup: installing borgmatic $BORGMATIC_VERSION into $bm_venv"
  rm -rf "$bm_venv"
  "$PY" -m venv "$bm_venv"
  "$bm_venv/bin/pip" install -q "borgmatic==$BORGMATIC_VERSION"
fi

# Stable names on PATH: only link where the user has no borg/borgmatic of their own.
bin_dir="$TOOLS_DIR/bin"
mkdir -p "$bin_dir"
ln -sf "$borg_venv/bin/borg" "$bin_dir/borg"
ln -sf "$bm_venv/bin/borgmatic" "$bin_dir/borgmatic"
for exe in borg borgmatic; do
  if ! command -v "$exe" >/dev/null 2>&1 || [ "$(readlink -f "$(command -v "$exe")")" = "$(readlink -f "$bin_dir/$exe")" ]; then
    mkdir -p "$HOME/.local/bin"
    ln -sf "$bin_dir/$exe" "$HOME/.local/bin/$exe"
  fi
done
echo "setup: done (borg: $bin_dir/borg, borgmatic: $bin_dir/borgmatic)"
