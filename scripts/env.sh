# Sourced by the run and test scripts: where tools and build output live.
# shellcheck shell=bash
KASTELL_TOOLS_DIR="${KASTELL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kastell-tools}"
export KASTELL_TOOLS_DIR
# borg 1.4 and borgmatic 2 from `scripts/setup.sh` come first; cargo from rustup if present.
export PATH="$KASTELL_TOOLS_DIR/bin:$HOME/.cargo/bin:$PATH"
